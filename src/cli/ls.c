/* SPDX-License-Identifier: MIT */
/*
 * ls.c — `framebus ls`: the live shm buses of this user, each asked about
 * itself over its control socket (format, frame rate, subscribers); with
 * --nats URI, the cameras publishing through a NATS server, from what
 * every publisher and subscriber there says of itself.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "framebus.h"

#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The bus's worker groups: a line each under it, or "groups":[...] to
 * end its JSON object. */
static void
list_groups(const char *uri, int json)
{
	struct fbus_group_info g[16];
	int n = fbus_bus_groups(uri, g, 16);

	if (json)
		printf(",\"groups\":[");
	for (int i = 0; i < n && i < 16; i++) {
		if (json) {
			printf("%s{\"group\":", i ? "," : "");
			cli_json_string(stdout, g[i].name);
			printf(",\"mode\":\"%s\",\"members\":%u,"
			       "\"frames\":%llu,\"skipped\":%llu}",
			       g[i].mode == FBUS_MODE_EVERY ? "every" : "latest",
			       g[i].members,
			       (unsigned long long)g[i].frames,
			       (unsigned long long)g[i].skipped);
		} else {
			printf("  group %-16s %-6s %u member%s, %llu frames "
			       "taken, %llu %s\n", g[i].name,
			       g[i].mode == FBUS_MODE_EVERY ? "every" : "latest",
			       g[i].members, g[i].members == 1 ? "" : "s",
			       (unsigned long long)g[i].frames,
			       (unsigned long long)g[i].skipped,
			       g[i].mode == FBUS_MODE_EVERY
			               ? "dropped (queues full)"
			               : "taken by none");
		}
	}
	if (json)
		printf("]}\n");
}

/* ---- ls --nats -------------------------------------------------------- */

#define MAX_PEERS 4096

struct peers {
	struct fbus_peer_info *p;
	size_t n;
};

static void
add_peer(void *user, const struct fbus_peer_info *pi)
{
	struct peers *ps = user;

	if (ps->n < MAX_PEERS)
		ps->p[ps->n++] = *pi;
}

static int
cmp_peer(const void *a, const void *b)
{
	const struct fbus_peer_info *x = a, *y = b;
	int c = strcmp(x->subject, y->subject);

	if (c)
		return c;
	if (x->publisher != y->publisher)
		return x->publisher ? -1 : 1;
	return strcmp(x->group, y->group);
}

/* one camera: its publisher, its plain subscribers, its groups */
static void
print_subject(const struct fbus_peer_info *p, size_t n, int json)
{
	const struct fbus_peer_info *pub = p[0].publisher ? &p[0] : NULL;
	unsigned plain = 0;
	char size[32] = "-";

	for (size_t i = 0; i < n; i++)
		if (!p[i].publisher && !p[i].group[0])
			plain++;
	if (pub && pub->fmt.width)
		snprintf(size, sizeof size, "%ux%u", pub->fmt.width,
		         pub->fmt.height);
	if (json) {
		printf("{\"subject\":");
		cli_json_string(stdout, p[0].subject);
		if (pub) {
			printf(",\"host\":");
			cli_json_string(stdout, pub->host);
			printf(",\"pid\":%d,\"format\":\"%s\",\"width\":%u,"
			       "\"height\":%u,\"codec\":\"%s\",\"fps\":%.2f,"
			       "\"frames\":%llu,\"dropped\":%llu,"
			       "\"subscribers\":%u",
			       pub->pid,
			       fbus_pixfmt_name(pub->fmt.pixfmt)
			               ? fbus_pixfmt_name(pub->fmt.pixfmt)
			               : "none",
			       pub->fmt.width, pub->fmt.height,
			       pub->jpeg ? "jpeg" : "raw", pub->fps,
			       (unsigned long long)pub->frames,
			       (unsigned long long)pub->dropped,
			       pub->subscribers);
		}
		printf(",\"plain_subscribers\":%u,\"groups\":[", plain);
	} else {
		printf("%-20s %-16.16s %-6s %-11s %5s %6.1f %5u %9llu\n",
		       p[0].subject, pub ? pub->host : "(no publisher)",
		       pub && pub->fmt.pixfmt
		                      ? fbus_pixfmt_name(pub->fmt.pixfmt)
		                      : "-",
		       size, pub ? (pub->jpeg ? "jpeg" : "raw") : "-",
		       pub ? pub->fps : 0.0, pub ? pub->subscribers : 0,
		       pub ? (unsigned long long)pub->frames : 0ULL);
		if (pub)
			printf("  publisher pid %d, %llu frames dropped between "
			       "servers\n", pub->pid,
			       (unsigned long long)pub->dropped);
		if (plain)
			printf("  %u plain subscriber%s\n", plain,
			       plain == 1 ? "" : "s");
	}
	for (size_t i = 0, g = 0; i < n;) {
		size_t k = i;
		uint64_t frames = 0, skipped = 0;
		unsigned members = 0;

		if (p[i].publisher || !p[i].group[0]) {
			i++;
			continue;
		}
		for (; k < n && !strcmp(p[k].group, p[i].group) &&
		       !p[k].publisher; k++) {
			members++;
			frames += p[k].frames;
			/* each member knows the group's skips since it came:
			 * the longest-serving one knows the most */
			if (p[k].group_skipped > skipped)
				skipped = p[k].group_skipped;
		}
		if (json) {
			printf("%s{\"group\":", g++ ? "," : "");
			cli_json_string(stdout, p[i].group);
			printf(",\"members\":%u,\"frames\":%llu,"
			       "\"skipped\":%llu}", members,
			       (unsigned long long)frames,
			       (unsigned long long)skipped);
		} else {
			printf("  group %-16s %u member%s, %llu frames taken, "
			       "%llu taken by none\n", p[i].group, members,
			       members == 1 ? "" : "s",
			       (unsigned long long)frames,
			       (unsigned long long)skipped);
		}
		i = k;
	}
	if (json)
		printf("]}\n");
}

static int
ls_nats(const char *uri, int json)
{
	struct peers ps = { calloc(MAX_PEERS, sizeof *ps.p), 0 };
	char full[1024];
	int rc;

	if (!ps.p)
		cli_die(1, "out of memory");
	/* HOST:PORT alone means a NATS server */
	snprintf(full, sizeof full, "%s%s", strstr(uri, "://") ? "" : "nats://",
	         uri);
	rc = fbus_nats_discover(full, 500, add_peer, &ps);
	if (rc < 0)
		cli_die(1, "%s", fbus_open_error());
	qsort(ps.p, ps.n, sizeof *ps.p, cmp_peer);
	if (!json)
		printf("%-20s %-16s %-6s %-11s %5s %6s %5s %9s\n",
		       "SUBJECT", "HOST", "FORMAT", "SIZE", "CODEC", "FPS",
		       "SUBS", "FRAMES");
	for (size_t i = 0; i < ps.n;) {
		size_t k = i;

		while (k < ps.n && !strcmp(ps.p[k].subject, ps.p[i].subject))
			k++;
		print_subject(&ps.p[i], k - i, json);
		i = k;
	}
	if (!json && !ps.n)
		printf("(no framebus publisher or subscriber answers through "
		       "%s)\n", full);
	free(ps.p);
	return 0;
}

static void
said_removed(void *user, const char *name)
{
	(void)user;
	printf("removed stale bus %s (its producer is gone)\n", name);
}

int
cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, 0, 'j' },
		{ "nats", required_argument, 0, 'n' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	char dir[256], *names[1024];
	const char *nats = NULL;
	int n = 0, json = 0, o, live = 0, rc;
	struct dirent *e;
	DIR *d;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (o == 'j') {
			json = 1;
		} else if (o == 'n') {
			nats = optarg;
		} else if (o == 'h') {
			printf("usage: framebus ls [--json] [--nats nats://HOST[:PORT]]\n"
			       "  lists live shm: buses: name, producer pid, "
			       "format, size, frame rate, subscribers, and\n"
			       "  under each its worker groups: members, frames "
			       "taken, frames none took.\n"
			       "  --nats: the cameras publishing through that "
			       "NATS server instead (subjects, rate,\n"
			       "  subscribers, group members, skipped)\n");
			return 0;
		} else {
			return 2;
		}
	}
	cli_no_more_args(argc, argv);
	if (nats)
		return ls_nats(nats, json);
	if (fbus_runtime_dir(dir, sizeof dir))
		cli_die(1, "runtime directory path too long");
	/* what producers killed with -9 left: gone before we list */
	rc = fbus_runtime_sweep(json ? NULL : said_removed, NULL);
	if (rc == FBUS_EACCES)
		cli_die(1, "%s", fbus_open_error());
	if (rc < 0)
		cli_warn("cannot sweep %s: %s", dir, fbus_strerror(rc));
	d = opendir(dir);
	while (d && (e = readdir(d)) && n < 1024) {
		size_t len = strlen(e->d_name);
		if (len > 5 && !strcmp(e->d_name + len - 5, ".sock"))
			names[n++] = strndup(e->d_name, len - 5);
	}
	if (d)
		closedir(d);
	qsort(names, (size_t)n, sizeof *names, cmp_str);
	if (!json)
		printf("%-24s %8s %-8s %-11s %8s %5s %10s\n", "BUS", "PID",
		       "FORMAT", "SIZE", "FPS", "SUBS", "FRAMES");
	for (int i = 0; i < n; i++) {
		struct fbus_bus_info info;
		char uri[96], size[32];
		const char *fmt;

		snprintf(uri, sizeof uri, "shm:%s", names[i]);
		rc = fbus_bus_query(uri, &info);
		if (rc) {
			/* a socket nobody listens on: a producer died; the
			 * next producer of that name reclaims it */
			if (!json)
				printf("%-24s %8s (%s)\n", names[i], "-",
				       rc == FBUS_ECONNREFUSED
				               ? "stale: producer died"
				               : fbus_strerror(rc));
			free(names[i]);
			continue;
		}
		live++;
		fmt = fbus_pixfmt_name(info.fmt.pixfmt);
		snprintf(size, sizeof size, "%ux%u", info.fmt.width,
		         info.fmt.height);
		if (json)
			printf("{\"bus\":\"%s\",\"uri\":\"%s\",\"pid\":%d,"
			       "\"format\":\"%s\",\"width\":%u,\"height\":%u,"
			       "\"fps\":%.2f,\"subscribers\":%u,\"frames\":%llu",
			       info.name, uri, info.pid, fmt ? fmt : "none",
			       info.fmt.width, info.fmt.height, info.fps,
			       info.subscribers,
			       (unsigned long long)info.frames);
		else
			printf("%-24s %8d %-8s %-11s %8.1f %5u %10llu\n",
			       info.name, info.pid, fmt ? fmt : "-",
			       info.fmt.width ? size : "-", info.fps,
			       info.subscribers,
			       (unsigned long long)info.frames);
		list_groups(uri, json);
		free(names[i]);
	}
	if (!json && live == 0)
		printf("(no live buses in %s)\n", dir);
	return 0;
}

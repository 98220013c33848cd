/* SPDX-License-Identifier: MIT */
/*
 * ls.c — `framebus ls`: the live shm buses of this user, each asked about
 * itself over its control socket (format, frame rate, subscribers).
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
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	char dir[256], *names[1024];
	int n = 0, json = 0, o, live = 0, rc;
	struct dirent *e;
	DIR *d;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (o == 'j') {
			json = 1;
		} else if (o == 'h') {
			printf("usage: framebus ls [--json]\n"
			       "  lists live shm: buses: name, producer pid, "
			       "format, size, frame rate, subscribers, and\n"
			       "  under each its worker groups: members, frames "
			       "taken, frames none took\n");
			return 0;
		} else {
			return 2;
		}
	}
	cli_no_more_args(argc, argv);
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

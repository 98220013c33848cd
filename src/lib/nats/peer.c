/* SPDX-License-Identifier: MIT */
/*
 * nats/peer.c — a discover answer (flat JSON) into fbus_peer_info, bounded
 * and checked (peer.h).
 */
#define _GNU_SOURCE
#include "nats/peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value after "key": in a flat object, or NULL. */
static const char *
find(const char *j, const char *key)
{
	char pat[40];
	const char *p;

	snprintf(pat, sizeof pat, "\"%s\":", key);
	p = strstr(j, pat);
	return p ? p + strlen(pat) : NULL;
}

static void
get_str(const char *j, const char *key, char *out, size_t cap)
{
	const char *p = find(j, key), *end;
	size_t n;

	out[0] = '\0';
	if (!p || *p != '"')
		return;
	p++;
	end = strchr(p, '"');
	if (!end || memchr(p, '\\', (size_t)(end - p)))
		return; /* unterminated, or escapes we do not take */
	n = (size_t)(end - p);
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* A number under `max`, else 0 (absent, negative, NaN, too large): no
 * out-of-range conversion ever happens. */
static double
get_num(const char *j, const char *key, double max)
{
	const char *p = find(j, key);
	double v;

	if (!p)
		return 0;
	v = strtod(p, NULL);
	return v == v && v >= 0 && v <= max ? v : 0;
}

int
fbusi_peer_parse(const char *j, size_t len, struct fbus_peer_info *pi)
{
	char role[16], s[32];

	memset(pi, 0, sizeof *pi);
	if (len > FBUSI_PEER_JSON_MAX || j[len] != '\0' || strlen(j) != len)
		return -1;
	get_str(j, "role", role, sizeof role);
	if (strcmp(role, "publisher") && strcmp(role, "subscriber"))
		return -1;
	pi->publisher = role[0] == 'p';
	get_str(j, "subject", pi->subject, sizeof pi->subject);
	if (!fbusi_nats_subject_ok(pi->subject))
		return -1;
	get_str(j, "host", pi->host, sizeof pi->host);
	get_str(j, "group", pi->group, sizeof pi->group);
	if (pi->group[0] && !fbusi_group_name_valid(pi->group))
		pi->group[0] = '\0';
	pi->pid = (int32_t)get_num(j, "pid", 2147483647.0);
	get_str(j, "mode", s, sizeof s);
	pi->mode = strcmp(s, "every") ? FBUS_MODE_LATEST : FBUS_MODE_EVERY;
	pi->subscribers = (uint32_t)get_num(j, "subscribers", 4294967295.0);
	pi->frames = (uint64_t)get_num(j, "frames", 1e19);
	pi->skipped = (uint64_t)get_num(j, "skipped", 1e19);
	pi->dropped = (uint64_t)get_num(j, "dropped", 1e19);
	pi->group_skipped = (uint64_t)get_num(j, "group_skipped", 1e19);
	pi->fps = get_num(j, "fps", 1e9);
	pi->fmt.width = (uint32_t)get_num(j, "width", 65535.0);
	pi->fmt.height = (uint32_t)get_num(j, "height", 65535.0);
	get_str(j, "format", s, sizeof s);
	pi->fmt.pixfmt = fbus_pixfmt_parse(s);
	get_str(j, "codec", s, sizeof s);
	pi->jpeg = !strcmp(s, "jpeg");
	return 0;
}

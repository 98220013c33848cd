/* SPDX-License-Identifier: MIT */
/*
 * nats/discover.c — fbus_nats_discover(): one request on _FBUS.discover,
 * every publisher and subscriber on the server(s) answers with a flat JSON
 * object (pub.c, sub.c), collected for wait_ms.  The answers come from
 * other processes, so each is length-bounded, parsed for known keys only
 * (no escapes in strings), and copied into fixed fields.
 */
#define _GNU_SOURCE
#include "nats/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANSWER_MAX 2048

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

static double
get_num(const char *j, const char *key)
{
	const char *p = find(j, key);
	double v;

	if (!p)
		return 0;
	v = strtod(p, NULL);
	return v == v && v >= 0 && v < 1.8e19 ? v : 0; /* NaN, <0: none */
}

static int
parse(const char *j, struct fbus_peer_info *pi)
{
	char role[16], s[32];

	memset(pi, 0, sizeof *pi);
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
	pi->pid = (int32_t)get_num(j, "pid");
	get_str(j, "mode", s, sizeof s);
	pi->mode = strcmp(s, "every") ? FBUS_MODE_LATEST : FBUS_MODE_EVERY;
	pi->subscribers = (uint32_t)get_num(j, "subscribers");
	pi->frames = (uint64_t)get_num(j, "frames");
	pi->skipped = (uint64_t)get_num(j, "skipped");
	pi->dropped = (uint64_t)get_num(j, "dropped");
	pi->group_skipped = (uint64_t)get_num(j, "group_skipped");
	pi->fps = get_num(j, "fps");
	pi->fmt.width = (uint32_t)get_num(j, "width");
	pi->fmt.height = (uint32_t)get_num(j, "height");
	get_str(j, "format", s, sizeof s);
	pi->fmt.pixfmt = fbus_pixfmt_parse(s);
	get_str(j, "codec", s, sizeof s);
	pi->jpeg = !strcmp(s, "jpeg");
	return 0;
}

int
fbus_nats_discover(const char *text, int wait_ms, fbus_peer_fn *cb,
                   void *user)
{
	struct fbusi_nats_api *N = &fbusi_nats;
	char buf[1100], inbox_s[128];
	struct fbusi_err err = { { 0 } };
	struct fbusi_uri u;
	natsConnection *nc = NULL;
	natsSubscription *sub = NULL;
	natsInbox *inbox = NULL;
	natsStatus st;
	int64_t until;
	const char *q, *after;
	int rc, n = 0;

	fbusi_clear_open_error();
	if (!text || !cb || wait_ms < 0)
		return FBUS_EINVAL;
	/* the subject is not needed: give the parser one */
	after = strncmp(text, "nats://", 7) ? NULL : text + 7;
	q = strchr(text, '?');
	if (after && !memchr(after, '/', q ? (size_t)(q - after) : strlen(after)))
		snprintf(buf, sizeof buf, "%.*s/_%s",
		         (int)(q ? q - text : (ptrdiff_t)strlen(text)), text,
		         q ? q : "");
	else
		snprintf(buf, sizeof buf, "%s", text);
	rc = fbusi_uri_parse(buf, &u, &err);
	if (rc == 0 && u.scheme != FBUSI_SCHEME_NATS)
		rc = fbusi_fail(&err, FBUS_ENOTSUP, "discovery is for nats:// "
		                "servers (framebus ls lists shm: buses)");
	if (rc == 0)
		rc = fbusi_nats_connect(&u, false, NULL, &nc, &err);
	if (rc) {
		fbusi_set_open_error(text, rc, &err);
		return rc;
	}
	st = N->natsInbox_Create(&inbox);
	if (st == NATS_OK) {
		snprintf(inbox_s, sizeof inbox_s, "%s", (const char *)inbox);
		st = N->natsConnection_SubscribeSync(&sub, nc, inbox_s);
	}
	if (st == NATS_OK)
		st = N->natsConnection_PublishRequest(nc, FBUSI_NATS_DISCOVER,
		                                      inbox_s, NULL, 0);
	if (st != NATS_OK) {
		rc = fbusi_nats_fail(&err, st, "discovery");
		fbusi_set_open_error(text, rc, &err);
		n = rc;
		goto out;
	}
	until = fbus_now_mono_ns() / 1000000 + wait_ms;
	for (;;) {
		int64_t left = until - fbus_now_mono_ns() / 1000000;
		natsMsg *m = NULL;
		struct fbus_peer_info pi;
		char j[ANSWER_MAX + 1];
		int len;

		if (left <= 0 ||
		    N->natsSubscription_NextMsg(&m, sub, left) != NATS_OK)
			break;
		len = N->natsMsg_GetDataLength(m);
		if (len > 0 && len <= ANSWER_MAX) {
			memcpy(j, N->natsMsg_GetData(m), (size_t)len);
			j[len] = '\0';
			if (!memchr(j, '\0', (size_t)len) && parse(j, &pi) == 0) {
				cb(user, &pi);
				n++;
			}
		}
		N->natsMsg_Destroy(m);
	}
out:
	if (sub)
		N->natsSubscription_Destroy(sub);
	if (inbox)
		N->natsInbox_Destroy(inbox);
	N->natsConnection_Close(nc);
	N->natsConnection_Destroy(nc);
	return n;
}

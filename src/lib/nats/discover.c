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
#include "nats/peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		char j[FBUSI_PEER_JSON_MAX + 1];
		int len;

		if (left <= 0 ||
		    N->natsSubscription_NextMsg(&m, sub, left) != NATS_OK)
			break;
		len = N->natsMsg_GetDataLength(m);
		if (len > 0 && len <= FBUSI_PEER_JSON_MAX) {
			memcpy(j, N->natsMsg_GetData(m), (size_t)len);
			j[len] = '\0';
			if (fbusi_peer_parse(j, (size_t)len, &pi) == 0) {
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

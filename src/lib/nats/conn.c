/* SPDX-License-Identifier: MIT */
/*
 * nats/conn.c — a NATS connection from a nats:// URI, the server's and the
 * client's words turned into FBUS_E* codes, and the names derived from a
 * subject (see conn.h).
 */
#define _GNU_SOURCE
#include "nats/conn.h"
#include "stream/wire.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The client's last error text holds the server's reason ("Authorization
 * Violation", "maximum payload exceeded"); say it, with our code. */
int
fbusi_nats_fail(struct fbusi_err *err, natsStatus s, const char *what)
{
	const char *txt = fbusi_nats.nats_GetLastError(NULL);
	const char *st = fbusi_nats.natsStatus_GetText(s);
	int code;

	/* the client prefixes its words with "(conn.c:802): " */
	if (txt && txt[0] == '(') {
		const char *e = strstr(txt, "): ");

		if (e && e - txt < 40)
			txt = e + 3;
	}

	switch (s) {
	case NATS_NO_SERVER: code = FBUS_ECONNREFUSED; break;
	case NATS_CONNECTION_AUTH_FAILED:
	case NATS_NOT_PERMITTED: code = FBUS_EACCES; break;
	case NATS_SECURE_CONNECTION_REQUIRED:
	case NATS_PROTOCOL_ERROR: code = FBUS_EPROTO; break;
	case NATS_TIMEOUT: code = FBUS_ETIMEDOUT; break;
	case NATS_MAX_PAYLOAD: code = FBUS_EMSGSIZE; break;
	case NATS_NO_RESPONDERS:
	case NATS_NOT_FOUND: code = FBUS_ENOENT; break;
	case NATS_CONNECTION_CLOSED: code = FBUS_EDISCONNECTED; break;
	case NATS_NO_MEMORY: code = FBUS_ENOMEM; break;
	default: code = FBUS_EIO; break;
	}
	if (s == NATS_PROTOCOL_ERROR && strstr(what, "connecting"))
		return fbusi_fail(err, code, "%s: not a NATS server (%s)", what,
		                  txt && *txt ? txt : st);
	if (s == NATS_NO_SERVER)
		return fbusi_fail(err, code, "%s: no NATS server answers there",
		                  what);
	if (txt && *txt && (!st || strcmp(txt, st)))
		return fbusi_fail(err, code, "%s: %s (%s)", what, txt,
		                  st ? st : "?");
	return fbusi_fail(err, code, "%s: %s", what, st ? st : "?");
}

int
fbusi_nats_ctl_subject(const char *prefix, const char *subject, char *buf,
                       size_t n)
{
	int len = snprintf(buf, n, "%s%s", prefix, subject);

	return len < 0 || (size_t)len >= n ? FBUS_ENAMETOOLONG : 0;
}

static int
escape_name(const char *prefix, const char *s, char *buf, size_t n)
{
	size_t o = strlen(prefix);

	if (o >= n)
		return FBUS_ENAMETOOLONG;
	memcpy(buf, prefix, o);
	for (; *s; s++) {
		if (o + 3 > n)
			return FBUS_ENAMETOOLONG;
		if (*s == '-' || *s == '.') {
			buf[o++] = '-';
			buf[o++] = *s == '-' ? 'm' : 'd';
		} else {
			buf[o++] = *s;
		}
	}
	buf[o] = '\0';
	return 0;
}

int
fbusi_nats_stream_name(const char *subject, char *buf, size_t n)
{
	return escape_name("FBUS_", subject, buf, n);
}

int
fbusi_nats_consumer_name(const char *group, char *buf, size_t n)
{
	return escape_name("", group, buf, n);
}

int
fbusi_nats_hello(natsConnection *nc, const char *subject, int wait_ms,
                 char sign, uint64_t id, uint64_t *next_seq,
                 struct fbusi_err *err)
{
	char hs[300], body[20];
	natsMsg *reply = NULL;
	natsStatus s;
	struct fbusi_wire_welcome w;
	int rc, blen = 0;

	if (fbusi_nats_ctl_subject(FBUSI_NATS_HELLO_PREFIX, subject, hs, sizeof hs))
		return fbusi_fail(err, FBUS_ENAMETOOLONG, "subject too long");
	if (id)
		blen = snprintf(body, sizeof body, "%c%016" PRIx64, sign, id);
	if (sign == '-') {
		s = fbusi_nats.natsConnection_Publish(nc, hs, body, blen);
		return s == NATS_OK ? 0 : fbusi_nats_fail(err, s, "goodbye");
	}
	s = fbusi_nats.natsConnection_Request(&reply, nc, hs, body, blen,
	                                      wait_ms);
	if (s == NATS_NO_RESPONDERS)
		return fbusi_fail(err, FBUS_ENOENT, "nobody publishes on '%s'",
		                  subject);
	if (s == NATS_TIMEOUT)
		return fbusi_fail(err, FBUS_ETIMEDOUT, "the publisher of '%s' "
		                  "did not answer within %d ms", subject,
		                  wait_ms);
	if (s != NATS_OK)
		return fbusi_nats_fail(err, s, "asking for the publisher");
	if (fbusi_nats.natsMsg_GetDataLength(reply) != FBUSI_WIRE_WELCOME_LEN) {
		fbusi_nats.natsMsg_Destroy(reply);
		return fbusi_fail(err, FBUS_EPROTO, "'%s' is answered by "
		                  "something that is not a framebus publisher",
		                  hs);
	}
	rc = fbusi_wire_welcome_parse(
		(const uint8_t *)fbusi_nats.natsMsg_GetData(reply), &w, err);
	fbusi_nats.natsMsg_Destroy(reply);
	if (rc)
		return rc;
	if (w.status == (-ENOSPC))
		return fbusi_fail(err, w.status, "the publisher of '%s' is at "
		                  "its subscriber limit", subject);
	if (w.status)
		return fbusi_fail(err, w.status, "the publisher refuses: %s",
		                  fbus_strerror(w.status));
	*next_seq = w.next_seq;
	return 0;
}

void
fbusi_nats_answer(natsConnection *nc, natsMsg *m, const char *role,
                  const char *subject, const char *rest)
{
	const char *reply = fbusi_nats.natsMsg_GetReply(m);
	char host[64] = "?", out[800];
	int len;

	gethostname(host, sizeof host - 1);
	len = snprintf(out, sizeof out,
	               "{\"role\":\"%s\",\"subject\":\"%s\",\"host\":\"%s\","
	               "\"pid\":%d%s",
	               role, subject, host, (int)getpid(), rest);
	if (reply && *reply && len > 0 && (size_t)len < sizeof out)
		fbusi_nats.natsConnection_Publish(nc, reply, out, len);
	fbusi_nats.natsMsg_Destroy(m);
}

/* "nats://user:pass@h1:p1,h2:p2": the userinfo applies to every server */
static int
server_list(const struct fbusi_uri *u, char urls[][300], const char **ptrs,
            int max, struct fbusi_err *err)
{
	char list[sizeof u->servers];
	char *save = NULL;
	int n = 0;

	snprintf(list, sizeof list, "%s", u->servers);
	for (char *h = strtok_r(list, ",", &save); h;
	     h = strtok_r(NULL, ",", &save)) {
		int len;

		if (n == max)
			return fbusi_fail(err, FBUS_EINVAL, "more than %d "
			                  "servers", max);
		len = snprintf(urls[n], 300, "nats://%s%s%s", u->userinfo,
		               u->userinfo[0] ? "@" : "", h);
		if (len < 0 || len >= 300)
			return fbusi_fail(err, FBUS_ENAMETOOLONG,
			                  "server address too long");
		ptrs[n] = urls[n];
		n++;
	}
	return n;
}

int
fbusi_nats_connect(const struct fbusi_uri *u, bool forever,
                   const struct fbusi_nats_cbs *cbs, natsConnection **nc,
                   struct fbusi_err *err)
{
	struct fbusi_nats_api *N = &fbusi_nats;
	char urls[8][300];
	const char *ptrs[8];
	natsOptions *o = NULL;
	natsStatus s;
	int n, rc = fbusi_nats_load(err);

	if (rc)
		return rc;
	n = server_list(u, urls, ptrs, 8, err);
	if (n < 0)
		return n;
	if (N->natsOptions_Create(&o) != NATS_OK)
		return fbusi_fail(err, FBUS_ENOMEM, "out of memory");
	s = N->natsOptions_SetServers(o, ptrs, n);
	if (s == NATS_OK)
		s = N->natsOptions_SetTimeout(o, 2000);
	if (s == NATS_OK)
		s = N->natsOptions_SetName(o, "framebus");
	/* frames are latency-bound: no batching in the client */
	if (s == NATS_OK)
		s = N->natsOptions_SetSendAsap(o, true);
	/* a lost server is noticed within a few seconds, then the next one
	 * is tried: 250 ms apart, for ever or for about 5 s */
	if (s == NATS_OK)
		s = N->natsOptions_SetPingInterval(o, 1000);
	if (s == NATS_OK)
		s = N->natsOptions_SetMaxPingsOut(o, 2);
	if (s == NATS_OK)
		s = N->natsOptions_SetReconnectWait(o, 250);
	if (s == NATS_OK)
		s = N->natsOptions_SetMaxReconnect(o, forever ? -1 : 20);
	/* frames published while no server is there are not kept for it:
	 * they would be stale when it comes back */
	if (s == NATS_OK)
		s = N->natsOptions_SetReconnectBufSize(o, 64 * 1024);
	if (s == NATS_OK && u->creds[0])
		s = N->natsOptions_SetUserCredentialsFromFiles(o, u->creds,
		                                               NULL);
	if (s == NATS_OK && (u->tls || u->tls_ca[0] || u->tls_cert[0]))
		s = N->natsOptions_SetSecure(o, true);
	if (s == NATS_OK && u->tls_ca[0])
		s = N->natsOptions_LoadCATrustedCertificates(o, u->tls_ca);
	if (s == NATS_OK && u->tls_cert[0])
		s = N->natsOptions_LoadCertificatesChain(
			o, u->tls_cert, u->tls_key[0] ? u->tls_key : u->tls_cert);
	if (s == NATS_OK && cbs) {
		if (cbs->disconnected)
			s = N->natsOptions_SetDisconnectedCB(o, cbs->disconnected,
			                                     cbs->closure);
		if (s == NATS_OK && cbs->reconnected)
			s = N->natsOptions_SetReconnectedCB(o, cbs->reconnected,
			                                    cbs->closure);
		if (s == NATS_OK && cbs->closed)
			s = N->natsOptions_SetClosedCB(o, cbs->closed,
			                               cbs->closure);
	}
	if (s != NATS_OK) {
		rc = fbusi_nats_fail(err, s, u->creds[0] || u->tls_ca[0] ||
		                             u->tls_cert[0]
		                             ? "reading the credentials or "
		                               "certificates"
		                             : "NATS options");
		N->natsOptions_Destroy(o);
		return rc;
	}
	s = N->natsConnection_Connect(nc, o);
	N->natsOptions_Destroy(o);
	if (s != NATS_OK) {
		char what[600];

		snprintf(what, sizeof what, "connecting to %s", u->servers);
		return fbusi_nats_fail(err, s, what);
	}
	return 0;
}

struct unsub_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void
unsub_done(void *arg)
{
	struct unsub_wait *w = arg;

	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void
fbusi_nats_unsubscribe(natsSubscription **sub)
{
	const struct fbusi_nats_api *N = &fbusi_nats;
	struct unsub_wait *w;
	struct timespec until;
	bool done = true;

	if (!*sub)
		return;
	w = calloc(1, sizeof *w);
	if (w) {
		pthread_mutex_init(&w->lock, NULL);
		pthread_cond_init(&w->cond, NULL);
	}
	/* refused for a subscription without a handler or already closed:
	 * then there is nothing to wait for */
	if (w && N->natsSubscription_SetOnCompleteCB(*sub, unsub_done, w) !=
	                 NATS_OK) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		free(w);
		w = NULL;
	}
	N->natsSubscription_Unsubscribe(*sub);
	if (w) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 10;
		pthread_mutex_lock(&w->lock);
		while (!w->done &&
		       pthread_cond_timedwait(&w->cond, &w->lock, &until) == 0)
			;
		done = w->done;
		pthread_mutex_unlock(&w->lock);
	}
	N->natsSubscription_Destroy(*sub);
	*sub = NULL;
	/* not called back in 10 s: it may be yet, so w stays */
	if (w && done) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		free(w);
	}
}

void
fbusi_nats_bye_encode(uint8_t out[FBUSI_NATS_BYE_LEN], uint64_t last_seq)
{
	for (int i = 0; i < 4; i++)
		out[i] = (uint8_t)(FBUSI_NATS_MAGIC_BYE >> (8 * i));
	for (int i = 0; i < 8; i++)
		out[4 + i] = (uint8_t)(last_seq >> (8 * i));
}

uint64_t
fbusi_nats_bye_seq(const uint8_t *data, int len)
{
	uint64_t seq = 0;

	if (len != FBUSI_NATS_BYE_LEN)
		return 0;
	for (int i = 0; i < 4; i++)
		if (data[i] != (uint8_t)(FBUSI_NATS_MAGIC_BYE >> (8 * i)))
			return 0;
	for (int i = 0; i < 8; i++)
		seq |= (uint64_t)data[4 + i] << (8 * i);
	return seq;
}

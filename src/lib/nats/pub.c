/* SPDX-License-Identifier: MIT */
/*
 * nats/pub.c — the publisher of nats:// buses.  Each commit is one NATS
 * message on the camera's subject: the stream transports' frame header,
 * the metadata, the payload (raw, or JPEG-encoded once).  A raw payload is
 * written by the caller where it will be sent, right after the header and
 * the metadata, so the only copy is the client's into its socket buffer.
 * A frame larger than the server's max_payload is refused at commit; a
 * frame published while the client is between servers is dropped and
 * counted (it would be stale when a server takes it).  The publisher
 * answers the hello and discover requests of conn.h.
 */
#define _GNU_SOURCE
#include "jpeg_codec.h"
#include "nats/conn.h"
#include "stream/wire.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the metadata sits just before the payload: its room comes first */
#define META_ROOM FBUS_META_MAX
#define PAYLOAD_OFF (FBUSI_WIRE_HDR_LEN + META_ROOM)

struct nats_pub {
	struct fbus_pub base;
	struct fbusi_uri uri;
	natsConnection *nc;
	natsSubscription *hello, *discover;
	int64_t max_payload;
	struct fbusi_jpeg *jpeg;

	uint8_t *msg; /* header room | metadata room | payload */
	size_t msg_cap;
	uint8_t *raw; /* jpeg: the loaned frame, encoded into msg */
	size_t raw_cap;
	uint8_t meta[FBUS_META_MAX];
	bool loaned;
	int64_t t_loan_mono, t_loan_real;

	pthread_mutex_t lock; /* seq and what discover reports */
	uint64_t seq;
	uint64_t frames, dropped;
	int64_t last_ns;
	double period_ns; /* smoothed frame period */
	struct fbus_format last_fmt;
	bool open; /* said hello: owes the subject its goodbye */

	/* subscribers: a lease per id, taken and renewed by their hellos,
	 * given back on close, lapsed after FBUSI_NATS_LEASE_MS (kill -9) */
	struct lease {
		uint64_t id;
		int64_t until_ms;
	} *leases;
	uint32_t nleases, lease_cap;
	uint32_t max_subscribers;
	uint64_t peer_errors;
	struct fbusi_err peer_err;
	bool peer_err_new;
};

static struct nats_pub *
to_pub(struct fbus_pub *b)
{
	return (struct nats_pub *)b;
}

static int
grow(uint8_t **p, size_t *cap, size_t want)
{
	uint8_t *n;

	if (*cap >= want)
		return 0;
	n = realloc(*p, want);
	if (!n)
		return FBUS_ENOMEM;
	*p = n;
	*cap = want;
	return 0;
}

static int
pub_loan(struct fbus_pub *base, const struct fbus_format *fmt,
         struct fbus_slot *slot)
{
	struct nats_pub *p = to_pub(base);
	struct fbus_format f = *fmt;
	bool jpeg;
	size_t body;

	if (p->loaned)
		return fbusi_fail(&base->err, FBUS_EBUSY,
		                  "a slot is already on loan");
	if (fbus_format_layout(&f))
		return fbusi_fail(&base->err, FBUS_EINVAL,
		                  "invalid frame format");
	jpeg = p->uri.codec == FBUSI_CODEC_JPEG &&
	       f.pixfmt != FBUS_PIXFMT_ENCODED;
	body = f.size;
	if (jpeg) {
		if (!fbusi_jpeg_can_encode(f.pixfmt))
			return fbusi_fail(&base->err, FBUS_ENOTSUP,
			                  "codec=jpeg takes bgr24, rgb24 or gray8 "
			                  "frames, not %s",
			                  fbus_pixfmt_name(f.pixfmt));
		body = fbusi_jpeg_bound(&f);
		if (!body)
			return fbusi_fail(&base->err, FBUS_EINVAL,
			                  "cannot size a jpeg for %ux%u",
			                  f.width, f.height);
		if (grow(&p->raw, &p->raw_cap, f.size))
			return fbusi_fail(&base->err, FBUS_ENOMEM,
			                  "out of memory");
	}
	if (grow(&p->msg, &p->msg_cap, PAYLOAD_OFF + body))
		return fbusi_fail(&base->err, FBUS_ENOMEM, "out of memory for "
		                  "a %zu byte frame", body);
	p->t_loan_mono = fbus_now_mono_ns();
	p->t_loan_real = fbus_now_real_ns();
	memset(slot, 0, sizeof *slot);
	slot->data = jpeg ? p->raw : p->msg + PAYLOAD_OFF;
	slot->capacity = f.size;
	slot->fmt = f;
	slot->meta = p->meta;
	slot->_priv[1] = (uint64_t)(uintptr_t)p;
	p->loaned = true;
	return 0;
}

static void
pub_abort(struct fbus_pub *base, struct fbus_slot *slot)
{
	struct nats_pub *p = to_pub(base);

	if (p->loaned && slot->_priv[1] == (uint64_t)(uintptr_t)p) {
		p->loaned = false;
		slot->_priv[1] = 0;
	}
}

static int64_t
pub_commit(struct fbus_pub *base, struct fbus_slot *slot)
{
	struct nats_pub *p = to_pub(base);
	struct fbusi_wire_hdr h;
	struct fbus_format f;
	uint8_t *start;
	size_t total;
	natsStatus s;
	int rc;

	if (!p->loaned || slot->_priv[1] != (uint64_t)(uintptr_t)p)
		return fbusi_fail(&base->err, FBUS_EINVAL,
		                  "commit of a slot that is not on loan");
	rc = fbusi_commit_check(slot, &base->err);
	if (rc)
		goto out;
	f = slot->fmt;
	memset(&h, 0, sizeof h);
	if (f.pixfmt == FBUS_PIXFMT_ENCODED)
		f.size = slot->payload_bytes;
	if (p->uri.codec == FBUSI_CODEC_JPEG &&
	    f.pixfmt != FBUS_PIXFMT_ENCODED) {
		uint32_t len;

		rc = fbusi_jpeg_encode(p->jpeg, &f, p->raw,
		                       p->uri.quality ? p->uri.quality : 90,
		                       p->msg + PAYLOAD_OFF,
		                       p->msg_cap - PAYLOAD_OFF, &len,
		                       &base->err);
		if (rc)
			goto out;
		h.codec = FBUSI_CODEC_JPEG;
		h.payload_len = len;
	} else {
		h.codec = FBUSI_CODEC_RAW;
		for (int i = 0; i < FBUS_MAX_PLANES; i++)
			h.stride[i] = f.stride[i];
		h.payload_len = f.size;
	}
	h.t_mono_ns = slot->t_mono_ns ? slot->t_mono_ns : p->t_loan_mono;
	h.t_real_ns = slot->t_real_ns ? slot->t_real_ns : p->t_loan_real;
	h.pixfmt = f.pixfmt;
	h.width = f.width;
	h.height = f.height;
	h.meta_len = slot->meta_bytes;
	total = FBUSI_WIRE_HDR_LEN + h.meta_len + h.payload_len;
	if ((int64_t)total > p->max_payload) {
		rc = fbusi_fail(&base->err, FBUS_EMSGSIZE,
		                "a %" PRIu32 "x%" PRIu32 " %s frame is %zu bytes "
		                "as a NATS message, over the server's "
		                "max_payload of %" PRId64 " bytes: publish with "
		                "?codec=jpeg, or raise max_payload in the "
		                "nats-server configuration",
		                f.width, f.height,
		                h.codec == FBUSI_CODEC_JPEG ? "jpeg"
		                                            : fbus_pixfmt_name(f.pixfmt),
		                total, p->max_payload);
		goto out;
	}
	/* header and metadata right before the payload */
	start = p->msg + PAYLOAD_OFF - h.meta_len - FBUSI_WIRE_HDR_LEN;
	memcpy(start + FBUSI_WIRE_HDR_LEN, p->meta, h.meta_len);

	pthread_mutex_lock(&p->lock);
	/* seq under the lock: a welcome's next_seq must not race it */
	h.seq = ++p->seq;
	fbusi_wire_hdr_encode(start, &h);
	s = fbusi_nats.natsConnection_Publish(p->nc, p->uri.subject, start,
	                                      (int)total);
	if (s == NATS_OK) {
		int64_t now = fbus_now_mono_ns();

		if (p->last_ns)
			p->period_ns = p->period_ns
			                       ? 0.9 * p->period_ns +
			                                 0.1 * (double)(now - p->last_ns)
			                       : (double)(now - p->last_ns);
		p->last_ns = now;
		p->frames++;
		p->last_fmt = f;
	} else if (s != NATS_CONNECTION_CLOSED) {
		/* between servers: the frame would be stale when one
		 * takes it */
		p->dropped++;
		fbusi_nats_fail(&base->err, s, "frame dropped");
		s = NATS_OK;
	}
	pthread_mutex_unlock(&p->lock);
	if (s != NATS_OK)
		rc = fbusi_nats_fail(&base->err, s, "publishing");
	else
		rc = 0;
out:
	pub_abort(base, slot); /* the slot is back either way */
	return rc ? rc : (int64_t)h.seq;
}

/* Under the lock: drop the leases that lapsed; the live count. */
static uint32_t
live_leases(struct nats_pub *p)
{
	int64_t now = fbus_now_mono_ns() / 1000000;
	uint32_t k = 0;

	for (uint32_t i = 0; i < p->nleases; i++)
		if (p->leases[i].until_ms > now)
			p->leases[k++] = p->leases[i];
	p->nleases = k;
	return k;
}

static int
pub_stats(struct fbus_pub *base, struct fbus_pub_stats *st)
{
	struct nats_pub *p = to_pub(base);

	memset(st, 0, sizeof *st);
	pthread_mutex_lock(&p->lock);
	st->frames = p->frames;
	st->dropped = p->dropped;
	st->subscribers = live_leases(p);
	st->peer_errors = p->peer_errors;
	if (p->peer_err_new) {
		base->err = p->peer_err;
		p->peer_err_new = false;
	}
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/* Under the lock: a subscriber's hello ("+" id: take or renew its lease,
 * "-" id: give it back).  Returns the welcome's status. */
static int32_t
lease(struct nats_pub *p, const char *d, int len)
{
	int64_t now = fbus_now_mono_ns() / 1000000;
	uint64_t id;
	uint32_t i;
	char buf[20];

	if (len != 17 || (d[0] != '+' && d[0] != '-'))
		return 0; /* a question only (ls, another publisher) */
	memcpy(buf, d + 1, 16);
	buf[16] = '\0';
	id = strtoull(buf, NULL, 16);
	live_leases(p);
	for (i = 0; i < p->nleases && p->leases[i].id != id; i++)
		;
	if (d[0] == '-') {
		if (i < p->nleases)
			p->leases[i] = p->leases[--p->nleases];
		return 0;
	}
	if (i == p->nleases) {
		if (p->nleases >= p->max_subscribers) {
			p->peer_errors++;
			fbusi_fail(&p->peer_err, (-ENOSPC), "a subscriber was "
			           "refused: %u subscribers, the most this "
			           "publisher takes", p->max_subscribers);
			p->peer_err_new = true;
			return (-ENOSPC);
		}
		if (p->nleases == p->lease_cap) {
			uint32_t cap = p->lease_cap ? 2 * p->lease_cap : 8;
			struct lease *n = realloc(p->leases, cap * sizeof *n);

			if (!n)
				return FBUS_ENOMEM;
			p->leases = n;
			p->lease_cap = cap;
		}
		p->leases[p->nleases++].id = id;
	}
	p->leases[i].until_ms = now + FBUSI_NATS_LEASE_MS;
	return 0;
}

/* libnats' thread: a subscriber asks for our next seq */
static void
on_hello(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *cl)
{
	struct nats_pub *p = cl;
	const char *reply = fbusi_nats.natsMsg_GetReply(m);
	struct fbusi_wire_welcome w = { 0 };
	uint8_t out[FBUSI_WIRE_WELCOME_LEN];

	(void)sub;
	pthread_mutex_lock(&p->lock);
	w.status = lease(p, fbusi_nats.natsMsg_GetData(m),
	                 fbusi_nats.natsMsg_GetDataLength(m));
	w.next_seq = p->seq + 1;
	pthread_mutex_unlock(&p->lock);
	if (reply && *reply) {
		fbusi_wire_welcome_encode(out, &w);
		fbusi_nats.natsConnection_Publish(nc, reply, out, sizeof out);
	}
	fbusi_nats.natsMsg_Destroy(m);
}

static void
on_discover(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *cl)
{
	struct nats_pub *p = cl;
	char rest[400];
	bool live;

	(void)sub;
	pthread_mutex_lock(&p->lock);
	/* a rate only while frames come */
	live = p->period_ns > 0 && fbus_now_mono_ns() - p->last_ns <
	                                   (int64_t)(4 * p->period_ns) + 1000000000;
	snprintf(rest, sizeof rest,
	         ",\"subscribers\":%u,\"frames\":%" PRIu64 ",\"dropped\":%" PRIu64
	         ",\"fps\":%.2f,\"width\":%u,\"height\":%u,\"format\":\"%s\","
	         "\"codec\":\"%s\"}",
	         live_leases(p), p->frames, p->dropped,
	         live ? 1e9 / p->period_ns : 0.0, p->last_fmt.width,
	         p->last_fmt.height,
	         p->frames ? fbus_pixfmt_name(p->last_fmt.pixfmt) : "none",
	         p->uri.codec == FBUSI_CODEC_JPEG ? "jpeg" : "raw");
	pthread_mutex_unlock(&p->lock);
	fbusi_nats_answer(nc, m, "publisher", p->uri.subject, rest);
}

static void
pub_close(struct fbus_pub *base)
{
	struct nats_pub *p = to_pub(base);
	uint8_t bye[FBUSI_NATS_BYE_LEN];

	/* silent first: a hello answered after the goodbye would make a
	 * subscriber take us for a new publisher */
	fbusi_nats_unsubscribe(&p->hello);
	fbusi_nats_unsubscribe(&p->discover);
	if (p->nc && p->open) {
		char bs[300];

		pthread_mutex_lock(&p->lock);
		fbusi_nats_bye_encode(bye, p->seq);
		pthread_mutex_unlock(&p->lock);

		/* after the last frame, from the same connection: subscribers
		 * drain what came before, then see the publisher gone */
		if (!fbusi_nats_ctl_subject(FBUSI_NATS_BYE_PREFIX, p->uri.subject, bs,
		                            sizeof bs))
			fbusi_nats.natsConnection_Publish(p->nc, bs, bye,
			                                  sizeof bye);
		fbusi_nats.natsConnection_FlushTimeout(p->nc, 1000);
	}
	if (p->nc) {
		fbusi_nats.natsConnection_Close(p->nc);
		fbusi_nats.natsConnection_Destroy(p->nc);
	}
	fbusi_jpeg_close(p->jpeg);
	pthread_mutex_destroy(&p->lock);
	free(p->leases);
	free(p->msg);
	free(p->raw);
	free(p);
}

static const struct fbusi_pub_ops nats_pub_ops = {
	.loan = pub_loan,
	.commit = pub_commit,
	.abort = pub_abort,
	.stats = pub_stats,
	.close = pub_close,
};

int
fbusi_nats_pub_open(struct fbus_pub **out, const struct fbusi_uri *uri,
                    const struct fbus_pub_opts *opts, struct fbusi_err *err)
{
	struct nats_pub *p;
	char hs[300];
	uint64_t next;
	natsStatus s;
	int rc;

	if (uri->group[0])
		return fbusi_fail(err, FBUS_EINVAL, "group= is a subscriber "
		                  "option");
	if (opts->n_allow_uids)
		return fbusi_fail(err, FBUS_ENOTSUP, "allow_uids on nats://: "
		                  "the NATS server decides who may subscribe "
		                  "(its users and permissions), not uids");
	p = calloc(1, sizeof *p);
	if (!p)
		return fbusi_fail(err, FBUS_ENOMEM, "out of memory");
	p->base.ops = &nats_pub_ops;
	p->uri = *uri;
	p->max_subscribers = opts->max_subscribers;
	pthread_mutex_init(&p->lock, NULL);
	if (uri->codec == FBUSI_CODEC_JPEG) {
		rc = fbusi_jpeg_open(&p->jpeg, 1, err);
		if (rc)
			goto fail;
		fbusi_jpeg_set_threads(p->jpeg, uri->threads);
	}
	rc = fbusi_nats_connect(uri, true, NULL, &p->nc, err);
	if (rc)
		goto fail;
	p->max_payload = fbusi_nats.natsConnection_GetMaxPayload(p->nc);
	/* one publisher per subject, as one producer per shm bus */
	rc = fbusi_nats_hello(p->nc, uri->subject, 500, 0, 0, &next, err);
	if (rc == 0) {
		rc = fbusi_fail(err, FBUS_EADDRINUSE, "another framebus "
		                "publisher publishes on '%s'", uri->subject);
		goto fail;
	}
	if (rc != FBUS_ENOENT && rc != FBUS_ETIMEDOUT)
		goto fail;
	fbusi_nats_ctl_subject(FBUSI_NATS_HELLO_PREFIX, uri->subject, hs, sizeof hs);
	s = fbusi_nats.natsConnection_Subscribe(&p->hello, p->nc, hs,
	                                        on_hello, p);
	if (s == NATS_OK)
		s = fbusi_nats.natsConnection_Subscribe(&p->discover, p->nc,
		                                        FBUSI_NATS_DISCOVER,
		                                        on_discover, p);
	/* the subscriptions are in place at the server before we say we
	 * are open: a subscriber's hello right after finds us */
	if (s == NATS_OK)
		s = fbusi_nats.natsConnection_FlushTimeout(p->nc, 2000);
	if (s != NATS_OK) {
		rc = fbusi_nats_fail(err, s, "subscribing");
		goto fail;
	}
	p->open = true;
	*out = &p->base;
	return 0;
fail:
	pub_close(&p->base);
	return rc;
}

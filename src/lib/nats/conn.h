/* SPDX-License-Identifier: MIT */
/*
 * nats/conn.h — what the publisher and the subscriber of nats:// share:
 * the connection made from a URI (servers, auth, TLS, reconnects), the
 * server's reasons turned into FBUS_E* codes with sentences, and the names
 * derived from a camera's subject.
 *
 * Subjects: frames travel on SUBJECT itself (the frame-wire header, the
 * metadata and the payload in one message, as on the stream transports).
 * A publisher answers requests on _FBUS.hello.SUBJECT with a welcome (its
 * next seq) — a subscriber asks at open, and again whenever no frame came
 * for a while, so a publisher that died without a word is noticed (NATS
 * answers "no responders" at once).  On close it sends "FBSB" and its last
 * seq (8 bytes, little-endian) on _FBUS.bye.SUBJECT after its last frame
 * (not on SUBJECT: the groups' stream keeps one message per subject, and
 * a goodbye there would replace the last frame); one connection's messages
 * reach a subscriber in order, but the stream may store the last frame
 * after the goodbye is delivered: a group member that fetched an older
 * one fetches again.  Everyone answers _FBUS.discover with one
 * JSON object (framebus ls --nats).  Worker groups read a JetStream memory
 * stream FBUS_<subject> that keeps the newest frame of SUBJECT, through one
 * pull consumer per group (docs/ARCHITECTURE.md, "nats://").
 */
#ifndef FBUS_NATS_CONN_H
#define FBUS_NATS_CONN_H

#include "nats/api.h"

#define FBUSI_NATS_HELLO_PREFIX "_FBUS.hello."
#define FBUSI_NATS_BYE_PREFIX "_FBUS.bye."
#define FBUSI_NATS_DISCOVER "_FBUS.discover"
#define FBUSI_NATS_MAGIC_BYE 0x42534246u /* "FBSB" */
#define FBUSI_NATS_BYE_LEN 12
/* a subscriber that saw nothing for this long asks whether the publisher
 * is still there; it asks at least this often anyway, to renew its lease
 * (the publisher counts a subscriber for FBUSI_NATS_LEASE_MS after) */
#define FBUSI_NATS_IDLE_PROBE_MS 50
#define FBUSI_NATS_RENEW_MS 1000
#define FBUSI_NATS_LEASE_MS 3000
/* a probe not answered in time is asked again at once (a timeout is
 * not death: only "no responders" is) */
#define FBUSI_NATS_PROBE_WAIT_MS 100

/* Connect as the URI says.  forever: reconnect without end (a RECONNECT
 * subscriber, a publisher); otherwise give up after a few seconds without
 * any server.  cb_closure is passed to the connection callbacks. */
struct fbusi_nats_cbs {
	natsConnectionHandler disconnected, reconnected, closed;
	void *closure;
};
int fbusi_nats_connect(const struct fbusi_uri *u, bool forever,
                       const struct fbusi_nats_cbs *cbs, natsConnection **nc,
                       struct fbusi_err *err);

/* A failed call: the code for s and "what: the client's/server's words". */
int fbusi_nats_fail(struct fbusi_err *err, natsStatus s, const char *what);

/* prefix + subject ("_FBUS.hello.<subject>", "_FBUS.bye.<subject>") */
int fbusi_nats_ctl_subject(const char *prefix, const char *subject, char *buf,
                           size_t n);
/* JetStream names may hold no '.': '-' becomes "-m", '.' becomes "-d"
 * (one-to-one).  FBUS_<subject> and the group's consumer name. */
int fbusi_nats_stream_name(const char *subject, char *buf, size_t n);
int fbusi_nats_consumer_name(const char *group, char *buf, size_t n);

/* Answer a _FBUS.discover request: "{\"role\":..., \"subject\":...,
 * \"host\":..., \"pid\":..." followed by `rest` (the rest of the JSON
 * object, from a comma to the closing brace); m is destroyed. */
void fbusi_nats_answer(natsConnection *nc, natsMsg *m, const char *role,
                       const char *subject, const char *rest);

/* Ask the publisher of subject for its welcome within wait_ms: 0 with
 * *next_seq, FBUS_ENOENT (nobody publishes it), FBUS_ETIMEDOUT, FBUS_EPROTO
 * (someone answered, not a framebus publisher), or the publisher's refusal
 * (FBUS_ENOSPC: its subscriber limit).  id: a subscriber's, which takes or
 * renews its lease ('+') or gives it back ('-', no answer awaited); 0 asks
 * only. */
int fbusi_nats_hello(natsConnection *nc, const char *subject, int wait_ms,
                     char sign, uint64_t id, uint64_t *next_seq,
                     struct fbusi_err *err);

/* The goodbye: FBUSI_NATS_MAGIC_BYE's bytes and the last seq.  Its seq,
 * or 0 for any other message (an older publisher's 4-byte one). */
void fbusi_nats_bye_encode(uint8_t out[FBUSI_NATS_BYE_LEN], uint64_t last_seq);
uint64_t fbusi_nats_bye_seq(const uint8_t *data, int len);

/* Unsubscribe and destroy *sub (may be NULL; set to NULL).  An
 * asynchronous one's handler may be running on libnats' thread: wait (10 s
 * at most) until it has returned, so that what it uses can be freed. */
void fbusi_nats_unsubscribe(natsSubscription **sub);

#endif

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
 * answers "no responders" at once).  On close it sends a 4-byte "FBSB" on
 * SUBJECT after its last frame.  Everyone answers _FBUS.discover with one
 * JSON object (framebus ls --nats).  Worker groups read a JetStream memory
 * stream FBUS_<subject> that keeps the newest frame of SUBJECT, through one
 * pull consumer per group (docs/ARCHITECTURE.md, "nats://").
 */
#ifndef FBUS_NATS_CONN_H
#define FBUS_NATS_CONN_H

#include "nats/api.h"

#define FBUSI_NATS_HELLO_PREFIX "_FBUS.hello."
#define FBUSI_NATS_DISCOVER "_FBUS.discover"
#define FBUSI_NATS_MAGIC_BYE 0x42534246u /* "FBSB" */
/* a subscriber that saw nothing for this long asks whether the publisher
 * is still there */
#define FBUSI_NATS_IDLE_PROBE_MS 300
#define FBUSI_NATS_PROBE_WAIT_MS 500

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

/* "_FBUS.hello.<subject>" */
int fbusi_nats_hello_subject(const char *subject, char *buf, size_t n);
/* JetStream names may hold no '.': '-' becomes "-m", '.' becomes "-d"
 * (one-to-one).  FBUS_<subject> and the group's consumer name. */
int fbusi_nats_stream_name(const char *subject, char *buf, size_t n);
int fbusi_nats_consumer_name(const char *group, char *buf, size_t n);

/* Ask the publisher of subject for its welcome within wait_ms: 0 with
 * *next_seq, FBUS_ENOENT (nobody publishes it), FBUS_ETIMEDOUT, or
 * FBUS_EPROTO (someone answered, not a framebus publisher). */
int fbusi_nats_hello(natsConnection *nc, const char *subject, int wait_ms,
                     uint64_t *next_seq, struct fbusi_err *err);

/* Is this message the publisher's goodbye? */
bool fbusi_nats_is_bye(const void *data, int len);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * private.h — what the files of src/lib share and never install: the transport
 * interface behind the public handles, the parsed URI, error helpers.
 * A transport embeds struct fbus_pub / struct fbus_sub as its first member
 * and fills in an ops table; pub.c and sub.c dispatch through it.
 */
#ifndef FBUS_PRIVATE_H
#define FBUS_PRIVATE_H

#include "framebus.h"

#include <stdarg.h>
#include <stdbool.h>

#define FBUSI_ERRLEN 256

/* The detail of a failure, for *_last_error() and fbus_open_error().  A
 * struct, not a bare char *, so that every writer knows its size. */
struct fbusi_err {
	char msg[FBUSI_ERRLEN];
};

#if defined(__GNUC__)
#define FBUSI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FBUSI_PRINTF(a, b)
#endif

/* ---- URIs ---------------------------------------------------------------- */

enum fbusi_scheme {
	FBUSI_SCHEME_SHM = 1,
	FBUSI_SCHEME_UNIX,
	FBUSI_SCHEME_TCP,
	FBUSI_SCHEME_NATS,
};
enum fbusi_codec { FBUSI_CODEC_RAW = 0, FBUSI_CODEC_JPEG = 1 };

#define FBUSI_NAME_MAX 63

/* fbus_frame._priv[0]: the transport's index of a held frame in bits
 * 0-27, log2 of a JPEG's decode scale (?fit=) in bits 28-29, and for a
 * multi-bus subscriber the bus from bit 32 on (many.c) */
#define FBUSI_PRIV_INDEX(v) ((v) & 0x0fffffffu)
#define FBUSI_PRIV_SCALE_SHIFT 28

struct fbusi_uri {
	int scheme;                  /* enum fbusi_scheme */
	char name[FBUSI_NAME_MAX + 1]; /* shm: bus name ([A-Za-z0-9._-]) */
	char path[108];              /* unix: socket path (fits sun_path) */
	char host[256];              /* tcp: host name or address */
	char port[8];                /* tcp: port, decimal */
	/* query options; zero = not given */
	int codec;                   /* enum fbusi_codec */
	int quality;                 /* jpeg quality 1..100; 0 = 90 */
	uint32_t pixfmt;             /* subscriber: decode jpeg into this */
	uint64_t max_bytes;          /* subscriber: largest accepted frame */
	uint32_t hold;               /* subscriber: frames held at once */
	char bind[64];               /* tcp publisher: bind address */
	char dir[80];                /* shm: directory of the socket; "" =
	                                the per-uid runtime directory */
	char group[32];              /* subscriber: worker group; "" none */
	int wake;                    /* shm subscriber: 1 sleep, 2 predict */
	uint32_t threads;            /* jpeg: threads a frame is coded by
	                                (1..4); 0 = 1 */
	uint32_t fit_w, fit_h;       /* subscriber, jpeg: decode no bigger
	                                than needed to fill fit_w x fit_h */
	/* nats:// */
	char servers[512];           /* "h1:p1,h2:p2" */
	char userinfo[256];          /* "user:pass" or "token"; "" none */
	char subject[256];           /* one camera: literal, no wildcard */
	char creds[256];             /* creds=FILE (user JWT + NKey seed) */
	int tls;                     /* tls=1: require TLS */
	char tls_ca[256];            /* tls_ca=FILE: trusted CAs */
	char tls_cert[256];          /* tls_cert=FILE: our certificate */
	char tls_key[256];           /* tls_key=FILE: its key */
	uint32_t replicas;           /* groups: JetStream replicas; 0 = 1 */
};

/* A literal NATS subject for one camera: tokens of [A-Za-z0-9_-] joined by
 * '.', at most 200 bytes, no wildcard. */
bool fbusi_nats_subject_ok(const char *s);

/* A worker group name: [A-Za-z0-9._-], 1..31 bytes. */
bool fbusi_group_name_valid(const char *s);

/* Parse `text`; on failure returns FBUS_EINVAL/FBUS_ENAMETOOLONG and writes
 * a sentence saying why into err. */
int fbusi_uri_parse(const char *text, struct fbusi_uri *uri,
                    struct fbusi_err *err);

/* ---- errors and logging ---------------------------------------------------- */

/* The one formatter: write the sentence into err (NULL: nowhere) and
 * return code, so that a failure is `return fbusi_fail(err, code, ...)`. */
int fbusi_fail(struct fbusi_err *err, int code, const char *fmt, ...)
	FBUSI_PRINTF(3, 4);
int fbusi_vfail(struct fbusi_err *err, int code, const char *fmt, va_list ap);
/* Put "prefix: " before what err says already. */
void fbusi_err_prefix(struct fbusi_err *err, const char *prefix);
/* Record why an open/query failed, for fbus_open_error(): "uri: detail",
 * or "uri: strerror(rc)" when the detail is empty. */
void fbusi_set_open_error(const char *uri, int rc,
                          const struct fbusi_err *detail);
void fbusi_clear_open_error(void);

/* Whether a failure to reach a producer is final: retrying cannot help
 * (refused for our uid, another protocol, a bad address).  Anything else
 * (nobody there yet, subscriber limit, a dropped connection) is worth
 * retrying for a RECONNECT subscriber.  One rule for every transport. */
bool fbusi_connect_error_is_final(int rc);

/* ---- handles --------------------------------------------------------------- */

struct fbusi_pub_ops {
	int (*loan)(struct fbus_pub *, const struct fbus_format *,
	            struct fbus_slot *);
	int64_t (*commit)(struct fbus_pub *, struct fbus_slot *);
	void (*abort)(struct fbus_pub *, struct fbus_slot *);
	int (*stats)(struct fbus_pub *, struct fbus_pub_stats *);
	void (*close)(struct fbus_pub *);
};

struct fbus_pub {
	const struct fbusi_pub_ops *ops;
	struct fbusi_err err;
};

struct fbusi_sub_ops {
	int (*next)(struct fbus_sub *, struct fbus_frame *, int timeout_ms);
	/* 1 if frame was held and is released now, 0 if it was not held
	 * (released already, never delivered, another handle's) */
	int (*release)(struct fbus_sub *, struct fbus_frame *);
	int (*fd)(struct fbus_sub *);
	int (*stats)(struct fbus_sub *, struct fbus_sub_stats *);
	void (*close)(struct fbus_sub *);
};

/* Transports hold up to max_held frames until each is released; with
 * max_held 1, handle.c releases the frame in hand before the next. */
struct fbus_sub {
	const struct fbusi_sub_ops *ops;
	struct fbusi_err err;
	uint32_t max_held;
	uint32_t held;
	struct fbus_frame last; /* max_held 1: the frame in hand */
};

/* opts.c: options with defaults applied (in may be NULL, or an older,
 * smaller version of the struct). */
void fbusi_pub_opts_defaults(struct fbus_pub_opts *out,
                             const struct fbus_pub_opts *in);
void fbusi_sub_opts_defaults(struct fbus_sub_opts *out,
                             const struct fbus_sub_opts *in);

/* error.c: log through the callback in opts, if any.  Never prints. */
void fbusi_log(const struct fbus_pub_opts *opts, int level, const char *fmt,
               ...) FBUSI_PRINTF(3, 4);

/* Checks every transport's commit makes before it publishes a loaned slot:
 * metadata at most FBUS_META_MAX (FBUS_EMSGSIZE); ENCODED payload_bytes in
 * 1..fmt.size, the size loaned (FBUS_EINVAL for 0, FBUS_EMSGSIZE above);
 * raw formats get payload_bytes = fmt.size. */
int fbusi_commit_check(struct fbus_slot *slot, struct fbusi_err *err);

/* Transport constructors: they return the embedded base on success. */
int fbusi_shm_pub_open(struct fbus_pub **pub, const struct fbusi_uri *uri,
                       const struct fbus_pub_opts *opts, struct fbusi_err *err);
int fbusi_shm_sub_open(struct fbus_sub **sub, const struct fbusi_uri *uri,
                       const struct fbus_sub_opts *opts, struct fbusi_err *err);
int fbusi_stream_pub_open(struct fbus_pub **pub, const struct fbusi_uri *uri,
                          const struct fbus_pub_opts *opts, struct fbusi_err *err);
int fbusi_stream_sub_open(struct fbus_sub **sub, const struct fbusi_uri *uri,
                          const struct fbus_sub_opts *opts, struct fbusi_err *err);
int fbusi_nats_pub_open(struct fbus_pub **pub, const struct fbusi_uri *uri,
                        const struct fbus_pub_opts *opts, struct fbusi_err *err);
int fbusi_nats_sub_open(struct fbus_sub **sub, const struct fbusi_uri *uri,
                        const struct fbus_sub_opts *opts, struct fbusi_err *err);

#endif /* FBUS_PRIVATE_H */

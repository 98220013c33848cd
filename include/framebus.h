/* SPDX-License-Identifier: MIT */
/*
 * framebus.h — the only public header of libframebus: move live video frames
 * from one producer process to any number of subscribers.  The transport is
 * chosen by a URI; the API is the same for all of them:
 *
 *   shm:NAME             zero-copy shared memory (memfd ring + control socket)
 *   unix:/path/to.sock   frames streamed over a Unix socket
 *   tcp://HOST:PORT      frames streamed over TCP
 *
 * Stream URIs take options after '?': codec=raw|jpeg, quality=1..100,
 * format=bgr24|... (subscriber: decode JPEG into this format), max=BYTES
 * (subscriber: largest frame accepted), bind=ADDR (tcp publisher).
 *
 * Conventions: functions return 0 (or a count) on success and a negative
 * FBUS_E* code on failure; FBUS_E* codes equal -errno where an errno fits.
 * The library never prints and never exits; a human-readable detail of the
 * last failure is kept on the handle (fbus_pub_last_error, fbus_sub_last_error).
 * Only plain structs with fixed-width fields cross this API, so that a ctypes
 * binding needs no C shim.
 */
#ifndef FRAMEBUS_H
#define FRAMEBUS_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define FBUS_API __attribute__((visibility("default")))
#else
#define FBUS_API
#endif

#define FBUS_VERSION_MAJOR 0
#define FBUS_VERSION_MINOR 1
#define FBUS_VERSION_PATCH 0

/* Runtime version: (major << 16) | (minor << 8) | patch. */
FBUS_API uint32_t fbus_version(void);

/* ---- errors ------------------------------------------------------------ */

enum {
	FBUS_OK = 0,
	FBUS_EINVAL = -EINVAL,             /* bad argument, URI or format */
	FBUS_ENOMEM = -ENOMEM,             /* out of memory */
	FBUS_EAGAIN = -EAGAIN,             /* nothing now; try again */
	FBUS_ETIMEDOUT = -ETIMEDOUT,       /* no frame within the timeout */
	FBUS_ENOENT = -ENOENT,             /* no producer on that bus */
	FBUS_EADDRINUSE = -EADDRINUSE,     /* the bus already has a producer */
	FBUS_EACCES = -EACCES,             /* peer's uid/gid not allowed */
	FBUS_EPROTO = -EPROTO,             /* malformed message from the peer */
	FBUS_EPROTONOSUPPORT = -EPROTONOSUPPORT, /* peer speaks another version */
	FBUS_EDISCONNECTED = -ENOTCONN,    /* the producer went away */
	FBUS_EMSGSIZE = -EMSGSIZE,         /* frame larger than allowed */
	FBUS_ENOTSUP = -ENOTSUP,           /* feature not available here */
	FBUS_EBUSY = -EBUSY,               /* no free slot / already loaned */
	FBUS_ENAMETOOLONG = -ENAMETOOLONG, /* path does not fit sun_path */
	FBUS_EIO = -EIO,                   /* I/O or system failure */
	FBUS_ECONNREFUSED = -ECONNREFUSED, /* nobody listens there */
};

/* A static string for any FBUS_E* code (or -errno).  Never NULL. */
FBUS_API const char *fbus_strerror(int err);

/* Detail of the last failed fbus_pub_open/fbus_sub_open/fbus_bus_query in
 * the calling thread ("shm:cam0: the bus already has a producer (pid 42)").
 * Owned by the library; valid until the next open in this thread. */
FBUS_API const char *fbus_open_error(void);

/* ---- pixel formats ----------------------------------------------------- */

enum fbus_pixfmt {
	FBUS_PIXFMT_NONE = 0,
	FBUS_PIXFMT_BGR24 = 1, /* default: what OpenCV/YOLO users expect */
	FBUS_PIXFMT_RGB24 = 2,
	FBUS_PIXFMT_BGRA = 3,
	FBUS_PIXFMT_GRAY8 = 4,
	FBUS_PIXFMT_NV12 = 5,  /* Y plane, then interleaved UV at half size */
	FBUS_PIXFMT_I420 = 6,  /* Y, U, V planes; U and V at half size */
	FBUS_PIXFMT_YUYV = 7,  /* packed 4:2:2 */
	FBUS_PIXFMT_ENCODED = 8, /* opaque bytes (e.g. JPEG); size = payload */
	_FBUS_PIXFMT_COUNT       /* not part of the ABI */
};

#define FBUS_MAX_PLANES 3
#define FBUS_MAX_DIM 16384u
#define FBUS_MAX_FRAME_BYTES (1024u * 1024u * 1024u)
/* Every frame can carry this much user metadata (ground truth, tags...). */
#define FBUS_META_MAX 8192u

/*
 * The layout of one frame.  The caller fills pixfmt, width, height and
 * optionally strides (0 = tightly packed); fbus_format_layout() fills in the
 * rest.  For FBUS_PIXFMT_ENCODED, `size` is the (maximum) payload size and
 * width/height are informational.
 */
struct fbus_format {
	uint32_t pixfmt; /* enum fbus_pixfmt */
	uint32_t width;
	uint32_t height;
	uint32_t nplanes;
	uint32_t stride[FBUS_MAX_PLANES]; /* bytes per row of each plane */
	uint32_t offset[FBUS_MAX_PLANES]; /* byte offset of each plane */
	uint32_t size;                    /* total payload bytes */
};

/*
 * Validate fmt and fill nplanes, default strides, offsets and size.
 * Returns 0, or FBUS_EINVAL for a zero/absurd size (> FBUS_MAX_DIM per side,
 * > FBUS_MAX_FRAME_BYTES in all), an unknown format, odd sizes for
 * subsampled formats, or strides too small for the width.
 * Never blocks. Never allocates.
 */
FBUS_API int fbus_format_layout(struct fbus_format *fmt);

/* "bgr24", "nv12", ... ; NULL for an unknown value. */
FBUS_API const char *fbus_pixfmt_name(uint32_t pixfmt);
/* Inverse of fbus_pixfmt_name (case-insensitive); FBUS_PIXFMT_NONE if unknown. */
FBUS_API uint32_t fbus_pixfmt_parse(const char *name);

/* ---- producer ---------------------------------------------------------- */

struct fbus_pub;

typedef void fbus_log_fn(void *user, int level, const char *msg);

enum fbus_log_level { FBUS_LOG_ERROR = 0, FBUS_LOG_WARN = 1, FBUS_LOG_INFO = 2 };

/* Zero means "default" in every field; pass NULL for all defaults. */
struct fbus_pub_opts {
	uint32_t size;            /* sizeof(struct fbus_pub_opts), or 0 */
	uint32_t slots;           /* shm: frames in the ring; 0 = 32 */
	uint32_t max_subscribers; /* 0 = 16 */
	uint32_t max_block_ms;    /* cap on an every-subscriber's block; 0 = 2000 */
	uint64_t max_frame_bytes; /* initial slot capacity; 0 = first frame's size.
	                             A larger frame later re-sizes the ring. */
	const uint32_t *allow_uids; /* peers allowed besides the producer's uid */
	uint32_t n_allow_uids;
	uint32_t n_allow_gids;
	const uint32_t *allow_gids; /* peers whose primary gid is listed */
	fbus_log_fn *log;           /* optional: why a peer was dropped, etc. */
	void *log_user;
};

/*
 * Open a producer on `uri`.  shm: and unix: refuse with FBUS_EADDRINUSE when
 * another live producer holds the name; a stale socket left by a dead
 * producer is reclaimed.  On success *pub owns a background thread serving
 * the control plane.  May block briefly. Allocates.
 */
FBUS_API int fbus_pub_open(struct fbus_pub **pub, const char *uri,
                           const struct fbus_pub_opts *opts);

/* A writable frame on loan from the producer. */
struct fbus_slot {
	uint8_t *data;                 /* payload; planes at fmt.offset[] */
	uint32_t capacity;             /* bytes writable at data */
	uint32_t payload_bytes;        /* ENCODED: set to the bytes written */
	struct fbus_format fmt;        /* layout (filled in by loan) */
	void *meta;                    /* FBUS_META_MAX bytes of user metadata */
	uint32_t meta_bytes;           /* set to the metadata bytes written */
	uint32_t _reserved;
	int64_t t_mono_ns;             /* capture time; 0 = time of loan */
	int64_t t_real_ns;             /* wall clock; 0 = time of loan */
	uint64_t _priv[2];             /* not part of the ABI */
};

/*
 * Loan a writable slot for a frame of format `fmt`.  The slot belongs to the
 * caller until fbus_pub_commit() or fbus_pub_abort().  At most one loan is
 * outstanding per producer (FBUS_EBUSY otherwise).  In latest mode the loan
 * never waits for subscribers; if every slot is held (more readers than the
 * ring was sized for) it returns FBUS_EBUSY.  A format larger than the
 * current slots re-sizes the ring; subscribers follow without reconnecting.
 * Never blocks. Allocates only when re-sizing.
 */
FBUS_API int fbus_pub_loan(struct fbus_pub *pub, const struct fbus_format *fmt,
                           struct fbus_slot *slot);

/*
 * Publish a loaned slot.  Wakes waiting subscribers (one futex syscall, and
 * none when nobody waits).  For every-mode subscribers with a full queue the
 * policy they chose applies: drop-and-count, or block up to their timeout.
 * Returns the frame's sequence number (> 0) or a negative code.
 */
FBUS_API int64_t fbus_pub_commit(struct fbus_pub *pub, struct fbus_slot *slot);

/* Give a loaned slot back unpublished. */
FBUS_API void fbus_pub_abort(struct fbus_pub *pub, struct fbus_slot *slot);

/*
 * Copying convenience: loan, copy `size` bytes of `data` (planes laid out as
 * fbus_format_layout() says), copy the metadata, commit.  Returns the seq.
 */
FBUS_API int64_t fbus_pub_send(struct fbus_pub *pub,
                               const struct fbus_format *fmt,
                               const void *data, size_t size,
                               const void *meta, size_t meta_bytes);

struct fbus_pub_stats {
	uint64_t frames;        /* committed */
	uint64_t dropped;       /* every-mode frames dropped for a full queue */
	uint64_t peer_errors;   /* peers dropped for protocol/permission errors */
	uint32_t subscribers;   /* connected now */
	uint32_t _reserved;
};

FBUS_API int fbus_pub_stats(struct fbus_pub *pub, struct fbus_pub_stats *st);

/* Detail of the last failure or dropped peer.  Owned by the handle; valid
 * until the next call on it. */
FBUS_API const char *fbus_pub_last_error(struct fbus_pub *pub);

/* Stop serving, tell subscribers, remove every file it made. NULL is a no-op. */
FBUS_API void fbus_pub_close(struct fbus_pub *pub);

/* ---- subscriber -------------------------------------------------------- */

struct fbus_sub;

enum fbus_mode {
	FBUS_MODE_LATEST = 0, /* always the newest frame; skipped ones counted */
	FBUS_MODE_EVERY = 1,  /* lossless bounded queue, in order */
};

enum fbus_full_policy {
	FBUS_FULL_DROP = 0,  /* producer drops the frame for us and counts it */
	FBUS_FULL_BLOCK = 1, /* producer waits up to block_ms for room */
};

enum fbus_sub_flags {
	/* Keep trying when no producer exists or it goes away. */
	FBUS_SUB_RECONNECT = 1u << 0,
};

struct fbus_sub_opts {
	uint32_t size;        /* sizeof(struct fbus_sub_opts), or 0 */
	uint32_t mode;        /* enum fbus_mode */
	uint32_t depth;       /* every: queue length; 0 = 4 */
	uint32_t full_policy; /* every: enum fbus_full_policy */
	uint32_t block_ms;    /* every + block: longest wait; 0 = 1000 */
	uint32_t flags;       /* enum fbus_sub_flags */
	uint32_t pixfmt;      /* stream+jpeg: decode into this; 0 = as sent */
	uint32_t _reserved;
	uint64_t max_frame_bytes; /* stream: refuse larger; 0 = format's max */
};

/*
 * Subscribe to `uri`.  Without FBUS_SUB_RECONNECT, FBUS_ENOENT or
 * FBUS_ECONNREFUSED when no producer is there; with it, opening succeeds and
 * frames flow once a producer appears.  May block briefly. Allocates.
 */
FBUS_API int fbus_sub_open(struct fbus_sub **sub, const char *uri,
                           const struct fbus_sub_opts *opts);

/* A received frame: a read-only view, valid until fbus_sub_release(). */
struct fbus_frame {
	uint64_t seq;
	int64_t t_mono_ns;       /* capture time, CLOCK_MONOTONIC */
	int64_t t_real_ns;       /* capture time, CLOCK_REALTIME */
	struct fbus_format fmt;
	const uint8_t *data;     /* payload; planes at fmt.offset[] */
	uint32_t payload_bytes;
	uint32_t meta_bytes;
	const void *meta;
	uint64_t skipped;        /* frames published but not seen since the last */
	uint64_t _priv[2];       /* not part of the ABI */
};

/*
 * Wait up to timeout_ms (-1 = forever, 0 = poll) for the next frame (latest
 * mode: the newest; every mode: the next in order).  The frame belongs to the
 * caller until fbus_sub_release(); a subscriber holds one frame at a time, so
 * calling next again first releases the previous frame.  Returns 0,
 * FBUS_ETIMEDOUT, or FBUS_EDISCONNECTED when the producer is gone (reported
 * within 100 ms).  What it published before going stays deliverable: every
 * mode hands out its whole queue, latest mode the newest unseen frame, and
 * only then reports the disconnect.  With FBUS_SUB_RECONNECT later calls
 * wait for a new producer and carry on (while none has appeared yet, a call
 * returns FBUS_EDISCONNECTED after timeout_ms); without it the handle stays
 * disconnected.
 * Blocks (futex) up to timeout_ms. Never allocates on the shm path.
 */
FBUS_API int fbus_sub_next(struct fbus_sub *sub, struct fbus_frame *frame,
                           int timeout_ms);

/* Hand the frame back; its slot may be reused.  Idempotent. */
FBUS_API void fbus_sub_release(struct fbus_sub *sub, struct fbus_frame *frame);

/*
 * A file descriptor that becomes readable when fbus_sub_next() has something
 * to say (a frame or a disconnect), for poll/epoll loops.  Owned by the
 * handle.  The fd may change after a reconnect: fetch it again after
 * FBUS_EDISCONNECTED.
 */
FBUS_API int fbus_sub_fd(struct fbus_sub *sub);

struct fbus_sub_stats {
	uint64_t frames;     /* delivered by fbus_sub_next */
	uint64_t skipped;    /* latest mode: never seen */
	uint64_t dropped;    /* every mode: dropped by the producer (full queue) */
	uint32_t reconnects;
	uint32_t connected;  /* 1 while a producer is attached */
};

FBUS_API int fbus_sub_stats(struct fbus_sub *sub, struct fbus_sub_stats *st);
FBUS_API const char *fbus_sub_last_error(struct fbus_sub *sub);
FBUS_API void fbus_sub_close(struct fbus_sub *sub);

/* ---- discovery (framebus ls) ------------------------------------------- */

struct fbus_bus_info {
	char name[64];           /* shm bus name */
	int32_t pid;             /* producer */
	uint32_t subscribers;
	uint64_t frames;
	double fps;              /* recent commit rate */
	struct fbus_format fmt;  /* last committed frame's layout */
};

/*
 * The directory holding shm: control sockets: $XDG_RUNTIME_DIR/framebus, or
 * /tmp/framebus-$UID.  Writes at most n bytes; returns 0 or FBUS_ENAMETOOLONG.
 */
FBUS_API int fbus_runtime_dir(char *buf, size_t n);

/*
 * Remove what producers killed with -9 left in the runtime directory: the
 * socket and lock files of every shm: bus whose producer is gone (its lock
 * is free), and socket files nobody listens on.  Race-free against live
 * producers and producers starting at the same time (flock-guarded).  Every
 * producer start runs it; `framebus ls` runs it and says what went.  Calls
 * removed(user, name) per bus removed (may be NULL).  Returns the count or
 * a negative code.  Never blocks for long.
 */
typedef void fbus_sweep_fn(void *user, const char *name);
FBUS_API int fbus_runtime_sweep(fbus_sweep_fn *removed, void *user);

/* Ask the producer of shm:NAME (uri) about itself. */
FBUS_API int fbus_bus_query(const char *uri, struct fbus_bus_info *info);

/* Time helpers: the clocks framebus stamps frames with, in ns. */
FBUS_API int64_t fbus_now_mono_ns(void);
FBUS_API int64_t fbus_now_real_ns(void);

#ifdef __cplusplus
}
#endif

#endif /* FRAMEBUS_H */

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
 * (subscriber: largest frame accepted, received or decoded; by default
 * FBUS_MAX_DECODED_BYTES decoded), bind=ADDR (tcp publisher).  Every
 * scheme's subscribers take hold=N (fbus_sub_opts.max_held).  shm:
 * takes dir=/path (the directory of the bus's socket, for buses other uids
 * reach through an allow-list).  An option a scheme does not take is an
 * error (FBUS_EINVAL), never ignored.
 *
 * Conventions: functions return 0 (or a count) on success and a negative
 * FBUS_E* code on failure; FBUS_E* codes equal -errno where an errno fits,
 * and a call may also return the -errno of a failed system call (-EMFILE,
 * -EPERM...; fbus_strerror gives the OS's text for those).  The library
 * never prints and never exits; a human-readable detail of the last
 * failure is kept on the handle (fbus_pub_last_error, fbus_sub_last_error).
 * Only plain structs with fixed-width fields cross this API, so that a ctypes
 * binding needs no C shim; structs the library fills have reserved room to
 * grow without breaking callers.
 *
 * The same calls behave the same on every transport: tests/conformance/
 * checks each promise below on shm:, unix: and tcp://.
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

/* A static string for any FBUS_E* code; for any other -errno the OS's own
 * text ("Operation not permitted").  Never NULL, thread-safe. */
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
/* What a stream subscriber decodes a JPEG into unless max_frame_bytes or
 * ?max= says otherwise: an 8K UHD (7680x4320) BGRA frame.  A JPEG header
 * is 200 bytes whatever size it claims; this is what bounds the cost. */
#define FBUS_MAX_DECODED_BYTES (7680u * 4320u * 4u)
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
	const uint32_t *allow_gids; /* peers whose primary gid is listed.
	                               shm: needs ?dir= in the URI, a
	                               directory the listed users reach */
	fbus_log_fn *log;           /* optional: why a peer was dropped, etc. */
	void *log_user;
};

/*
 * Open a producer on `uri`.  Returns 0, or FBUS_EINVAL (bad URI or option,
 * an allow-list on shm: without dir=), FBUS_ENAMETOOLONG, FBUS_EADDRINUSE
 * (shm:/unix: another live producer holds the name; tcp: the port is
 * taken), FBUS_EACCES (the directory is not ours, or writable by others),
 * FBUS_ENOTSUP (codec=jpeg without libturbojpeg), FBUS_ENOMEM, or an
 * -errno; fbus_open_error() says why.  Stale files of dead producers are
 * removed first (fbus_runtime_sweep).  On success *pub owns a background
 * thread serving the control plane.  May block briefly. Allocates.
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
 * Loan a writable slot for a frame of format `fmt` (for ENCODED, fmt.size is
 * the most bytes the frame may have).  The slot belongs to the caller until
 * fbus_pub_commit() or fbus_pub_abort().  Returns 0, FBUS_EINVAL (bad
 * format), FBUS_EBUSY (a loan is outstanding: at most one per producer; or
 * shm: every slot is held by readers), FBUS_ENOTSUP (codec=jpeg and a
 * format it cannot encode), FBUS_ENOMEM or an -errno.  The loan never
 * waits for subscribers.  A format larger than the current slots re-sizes
 * the ring; subscribers follow without reconnecting.
 * Never blocks. Allocates only when re-sizing.
 */
FBUS_API int fbus_pub_loan(struct fbus_pub *pub, const struct fbus_format *fmt,
                           struct fbus_slot *slot);

/*
 * Publish a loaned slot.  Wakes waiting subscribers (one futex syscall, and
 * none when nobody waits).  For every-mode subscribers with a full queue the
 * policy they chose applies: drop-and-count, or block up to their timeout.
 * Returns the frame's sequence number (> 0: 1, 2, 3... from the open), or
 * FBUS_EINVAL (slot not on loan; ENCODED with payload_bytes 0),
 * FBUS_EMSGSIZE (meta_bytes > FBUS_META_MAX; ENCODED payload_bytes above
 * the size loaned), or a codec error (FBUS_EINVAL, FBUS_ENOMEM).  A failed
 * commit publishes nothing and gives the slot back as fbus_pub_abort()
 * does: the caller loans again.  For raw formats payload_bytes is set to
 * fmt.size.  May block only for an every+block subscriber (bounded by
 * max_block_ms).  A subscriber that lets FBUS_BLOCK_STRIKES waits in a row
 * time out is demoted: its full queue drops (counted, logged, in
 * fbus_pub_stats.demoted) until it has emptied it, so a stalled reader
 * costs the others at most FBUS_BLOCK_STRIKES * its block time.
 */
FBUS_API int64_t fbus_pub_commit(struct fbus_pub *pub, struct fbus_slot *slot);

/* Give a loaned slot back unpublished.  A slot not on loan: no-op. */
FBUS_API void fbus_pub_abort(struct fbus_pub *pub, struct fbus_slot *slot);

/*
 * Copying convenience: loan, copy `size` bytes of `data` (planes laid out as
 * fbus_format_layout() says; for ENCODED, size is the payload), copy the
 * metadata, commit.  Returns the seq, or what loan and commit return, or
 * FBUS_EINVAL when size does not match the format.
 */
FBUS_API int64_t fbus_pub_send(struct fbus_pub *pub,
                               const struct fbus_format *fmt,
                               const void *data, size_t size,
                               const void *meta, size_t meta_bytes);

struct fbus_pub_stats {
	uint64_t frames;        /* committed */
	uint64_t dropped;       /* every-mode frames dropped for a full queue */
	uint64_t peer_errors;   /* peers refused or dropped: not allowed, over
	                           the subscriber limit, protocol errors */
	uint32_t subscribers;   /* admitted and connected now */
	uint32_t _reserved;
	uint64_t demoted;       /* every+block subscribers whose full queue
	                           timed out FBUS_BLOCK_STRIKES times in a row:
	                           their full queue drops until they empty it */
	uint64_t _reserved2[5]; /* room to grow; zero */
};

/* Returns 0 or FBUS_EINVAL.  Never blocks. */
FBUS_API int fbus_pub_stats(struct fbus_pub *pub, struct fbus_pub_stats *st);

/* Detail of the last failure of a call on this handle, or of the last
 * peer refused or dropped (as counted in peer_errors; brought up to date
 * by fbus_pub_commit and fbus_pub_stats), whichever came last.  "" before
 * either.  Owned by the handle; valid until the next call on it. */
FBUS_API const char *fbus_pub_last_error(struct fbus_pub *pub);

/* Stop serving, tell subscribers, remove every file it made. NULL is a no-op. */
FBUS_API void fbus_pub_close(struct fbus_pub *pub);

/* ---- subscriber -------------------------------------------------------- */

struct fbus_sub;

enum fbus_mode {
	FBUS_MODE_LATEST = 0, /* always the newest frame; skipped ones counted */
	FBUS_MODE_EVERY = 1,  /* lossless bounded queue, in order */
};

/* most frames a subscriber may hold at once (fbus_sub_opts.max_held) */
#define FBUS_MAX_HELD 64

/* consecutive timed-out blocks before an every+block subscriber is
 * demoted to drop (see fbus_pub_commit) */
#define FBUS_BLOCK_STRIKES 3

enum fbus_full_policy {
	FBUS_FULL_DROP = 0,  /* producer drops the frame for us and counts it */
	FBUS_FULL_BLOCK = 1, /* producer waits up to block_ms for room */
};

enum fbus_sub_flags {
	/* Keep trying when no producer exists or it goes away. */
	FBUS_SUB_RECONNECT = 1u << 0,
	/* shm: learn the producer's frame period and, while it is steady,
	 * sleep until just before the next frame is due and spin for it
	 * (at most 1% of the period), so a camera-paced frame is handed
	 * over without a futex wake-up.  An early, late or missing frame
	 * falls back to the futex.  ?wake=predict in the URI sets it.  No
	 * effect on the stream transports (they wait in the socket). */
	FBUS_SUB_PREDICT = 1u << 1,
};

struct fbus_sub_opts {
	uint32_t size;        /* sizeof(struct fbus_sub_opts), or 0 */
	uint32_t mode;        /* enum fbus_mode */
	uint32_t depth;       /* every: queue length; 0 = 4 */
	uint32_t full_policy; /* every: enum fbus_full_policy */
	uint32_t block_ms;    /* every + block: longest wait; 0 = 1000 */
	uint32_t flags;       /* enum fbus_sub_flags */
	uint32_t pixfmt;      /* stream+jpeg: decode into this; 0 = as sent */
	uint32_t max_held;    /* frames the caller may hold unreleased at
	                         once, 1..FBUS_MAX_HELD; 0 = 1.  ?hold=N in
	                         the URI overrides it.  See fbus_sub_next. */
	uint64_t max_frame_bytes; /* stream: refuse larger frames, received or
	                             decoded; 0 = FBUS_MAX_FRAME_BYTES
	                             received, FBUS_MAX_DECODED_BYTES decoded */
	const char *group;    /* worker group ([A-Za-z0-9._-], 1..31); NULL or
	                         "" = none; ?group=NAME in the URI wins.  Each
	                         frame goes to at most one member: latest
	                         mode, a free member gets the newest frame no
	                         member took (frames replaced before any
	                         member took them count as skipped); every
	                         mode, a shared work queue: each frame to
	                         exactly one member, in order per member.
	                         A group is of one mode.  All transports. */
	uint32_t fit_width;   /* stream transports, jpeg: decode at the
	                         smallest of libjpeg's scales (1/8, 1/4,
	                         1/2, 1) at which the picture still fills a
	                         fit_width x fit_height box when fitted in
	                         it (a letterbox without enlarging); 0 =
	                         full size.  ?fit=WxH in the URI wins.
	                         fbus_frame_scale() says by how much.  The
	                         box goes to the producer, which codes its
	                         JPEGs at the scale every subscriber's box
	                         allows (none if one has no box): so with
	                         FBUS_PIXFMT_ENCODED the JPEG may already be
	                         smaller, its size in the frame's format.
	                         Worker group members scale their own. */
	uint32_t fit_height;
};

/*
 * Subscribe to `uri`.  Returns 0, or FBUS_EINVAL / FBUS_ENAMETOOLONG (bad
 * URI or options), and when the producer cannot be reached: FBUS_ENOENT or
 * FBUS_ECONNREFUSED (nobody there), FBUS_EACCES (our uid is not allowed;
 * or we do not trust the producer: on shm: and unix: its socket must be in
 * a real directory that nobody but its owner may change (the per-uid
 * runtime dir: ours alone), and the producer must run as us, as root or
 * as that directory's owner), -ENOSPC (the producer is at its subscriber limit, or has no slots to
 * spare), FBUS_EPROTO / FBUS_EPROTONOSUPPORT (not a framebus producer of
 * this version), FBUS_ETIMEDOUT (no answer in 2 s), or an -errno;
 * fbus_open_error() says why.  With FBUS_SUB_RECONNECT the open succeeds
 * unless the refusal is final (EACCES, EPROTO, EPROTONOSUPPORT, EINVAL):
 * nobody there, a full producer, a timeout are retried by next(), and
 * frames flow once a producer takes us.  May block up to 2 s. Allocates.
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
 * caller until fbus_sub_release(); its memory stays valid and unchanged
 * until then, whatever the producer does (even if it dies).  With
 * max_held = 1 (the default) calling next again first releases the
 * previous frame.  With max_held = N > 1 frames are released only by
 * fbus_sub_release(), in any order, and up to N may be held at once: the
 * producer reserves room for all of them (shm: N slots per latest reader;
 * every mode: a queue of depth + N - 1, as depth counts the one frame in
 * hand of max_held 1), so frames held beyond the first never cost the
 * queue its depth.  Returns:
 *  0                   a frame.
 *  FBUS_EBUSY          max_held > 1 and max_held frames are held: release
 *                      one first (returned at once, nothing is lost).
 *  FBUS_ETIMEDOUT      connected, but no frame within timeout_ms.
 *  FBUS_EDISCONNECTED  no producer: it went away (reported within 100 ms of
 *                      its death, kill -9 included), or with RECONNECT none
 *                      is there yet (after timeout_ms).  What a producer
 *                      published before going stays deliverable: every mode
 *                      hands out its whole queue, latest mode the newest
 *                      unseen frame, and only then reports the loss, once.
 *                      With FBUS_SUB_RECONNECT later calls wait for a new
 *                      producer and carry on (start order does not matter);
 *                      without it every later call says EDISCONNECTED.
 *  FBUS_EACCES, FBUS_EPROTONOSUPPORT  (RECONNECT) a new producer refused us
 *                      or speaks another version; the next call tries again.
 *  FBUS_EPROTO         the producer sent something malformed (a bad frame
 *                      header, a bad JPEG); the connection is dropped, and
 *                      with RECONNECT retried by the next call.
 *  FBUS_EMSGSIZE       a frame larger than max_frame_bytes; likewise.
 *  FBUS_ENOTSUP        a JPEG frame but libturbojpeg is not installed.
 *  FBUS_ENOMEM, FBUS_EINVAL (a NULL argument).
 * fbus_sub_last_error() says why for every code but 0 and ETIMEDOUT.
 * Blocks (futex or poll) up to timeout_ms. Never allocates on the shm path.
 */
FBUS_API int fbus_sub_next(struct fbus_sub *sub, struct fbus_frame *frame,
                           int timeout_ms);

/* Hand the frame back; its slot may be reused.  Idempotent: a frame
 * already released (or never delivered) is a no-op.  Frames of an earlier
 * connection stay readable until released, then their memory goes. */
FBUS_API void fbus_sub_release(struct fbus_sub *sub, struct fbus_frame *frame);

/*
 * A file descriptor that becomes readable when fbus_sub_next() has something
 * to say (a frame, a disconnect, and with RECONNECT a moment to retry), for
 * poll/epoll loops; level-triggered: it stays readable while next(0) would
 * return something other than FBUS_ETIMEDOUT.  Owned by the handle.  The fd
 * may change after a reconnect: fetch it again after FBUS_EDISCONNECTED.
 * Returns the fd or a negative code.
 */
FBUS_API int fbus_sub_fd(struct fbus_sub *sub);

struct fbus_sub_stats {
	uint64_t frames;     /* delivered by fbus_sub_next */
	uint64_t skipped;    /* latest mode: published after we joined, never
	                        seen (sum of fbus_frame.skipped) */
	uint64_t dropped;    /* every mode: dropped by the producer (full queue) */
	uint32_t reconnects; /* connections after the first one */
	uint32_t connected;  /* 1 while a producer is attached */
	uint64_t group_frames;  /* worker group: frames its members took
	                           (shm:; 0 on the streams) */
	uint64_t group_skipped; /* ... frames none of them took (latest) or
	                           dropped, all queues full (every); on the
	                           streams, what this member was told of */
	uint64_t _reserved[4]; /* room to grow; zero */
};

/* Returns 0 or FBUS_EINVAL.  Never blocks.  fbus_sub_last_error: the
 * detail of the last code next() or open returned ("" before any). */

FBUS_API int fbus_sub_stats(struct fbus_sub *sub, struct fbus_sub_stats *st);
FBUS_API const char *fbus_sub_last_error(struct fbus_sub *sub);
FBUS_API void fbus_sub_close(struct fbus_sub *sub);

/* ---- several buses, one subscriber -------------------------------------- */

/* most buses one subscriber may read (fbus_sub_open_many) */
#define FBUS_MAX_BUSES 64

/*
 * Subscribe to n buses (1..FBUS_MAX_BUSES, no URI twice) as one subscriber:
 * many cameras into one detector.  Each URI is opened as fbus_sub_open()
 * would, with the same opts (a URI's own options apply to it); any open
 * failing fails the whole, and fbus_open_error() names the URI and why.
 * The handle is an ordinary subscriber: next, release, fd, stats, close.
 *
 * Fairness: when several buses have a frame ready, next() hands out one of
 * the bus whose last frame was handed out longest ago (buses never served
 * first, then by their order in uris): a bus with a frame ready is served
 * within n calls, whatever the other buses' rates.  Latest mode: that
 * bus's newest frame.  fbus_frame_bus() says which bus a frame is from.
 * A bus's failure (a producer gone: FBUS_EDISCONNECTED) is returned by
 * next() with last_error naming the URI; the other buses go on, and with
 * FBUS_SUB_RECONNECT that bus comes back by itself.  max_held counts the
 * frames held of all buses together, up to the largest any bus may hold
 * (opts.max_held, or a URI's ?hold=).  fbus_sub_stats() sums the buses
 * (`connected`: how many are); fbus_sub_bus_stats() gives one.
 */
FBUS_API int fbus_sub_open_many(struct fbus_sub **sub, const char *const *uris,
                                size_t n, const struct fbus_sub_opts *opts);

/* The index in uris of the bus a frame came from (0 for a subscriber of
 * one bus). */
FBUS_API uint32_t fbus_frame_bus(const struct fbus_frame *frame);

/* A JPEG frame at a reduced scale (fit_width/?fit=: decoded so, or coded
 * so by the producer): N for 1/N, so a frame pixel (x, y) is camera pixel
 * (x * N, y * N); 1 for every other frame. */
FBUS_API uint32_t fbus_frame_scale(const struct fbus_frame *frame);

/* How many buses a subscriber reads (1 unless fbus_sub_open_many); the
 * URI of bus i (NULL if not a fbus_sub_open_many subscriber or out of
 * range); bus i's stats (FBUS_EINVAL out of range). */
FBUS_API uint32_t fbus_sub_bus_count(struct fbus_sub *sub);
FBUS_API const char *fbus_sub_bus_uri(struct fbus_sub *sub, uint32_t i);
FBUS_API int fbus_sub_bus_stats(struct fbus_sub *sub, uint32_t i,
                                struct fbus_sub_stats *st);

/* ---- discovery (framebus ls) ------------------------------------------- */

struct fbus_bus_info {
	char name[64];           /* shm bus name */
	int32_t pid;             /* producer */
	uint32_t subscribers;
	uint64_t frames;
	double fps;              /* recent commit rate */
	struct fbus_format fmt;  /* last committed frame's layout */
	uint64_t _reserved[6];   /* room to grow; zero */
};

/*
 * The directory holding shm: control sockets: $XDG_RUNTIME_DIR/framebus, or
 * /tmp/framebus-$UID.  Writes at most n bytes; returns 0 or FBUS_ENAMETOOLONG.
 */
FBUS_API int fbus_runtime_dir(char *buf, size_t n);

/*
 * Remove what producers killed with -9 left in the runtime directory: the
 * socket and lock files of every shm: bus whose producer is gone (its lock
 * is free), socket files nobody listens on, and worker-group files whose
 * members all died (not counted, not reported).  Race-free against live
 * producers and producers starting at the same time (flock-guarded).  Every
 * producer start runs it; `framebus ls` runs it and says what went.  Calls
 * removed(user, name) per bus removed (may be NULL).  Returns the count or
 * a negative code: FBUS_EACCES when the runtime directory is not ours alone
 * (a symlink, another owner, writable by others), and then
 * fbus_open_error() says why.  Never blocks for long.
 */
typedef void fbus_sweep_fn(void *user, const char *name);
FBUS_API int fbus_runtime_sweep(fbus_sweep_fn *removed, void *user);

/* A worker group of an shm: bus, as its members' shared file says. */
struct fbus_group_info {
	char name[32];
	uint32_t members;        /* subscribers in it now */
	uint32_t mode;           /* FBUS_MODE_LATEST or FBUS_MODE_EVERY */
	uint64_t frames;         /* taken by its members */
	uint64_t skipped;        /* latest: replaced before any member took
	                            them; every: dropped (queues full) */
	uint64_t _reserved[4];   /* room to grow; zero */
};

/* The worker groups of shm bus `uri` (this user's): up to n of them into
 * groups, sorted by name.  Returns how many there are (may exceed n), or
 * FBUS_EINVAL / FBUS_ENOTSUP (not shm:).  Never blocks. */
FBUS_API int fbus_bus_groups(const char *uri, struct fbus_group_info *groups,
                             size_t n);

/* Ask the producer of shm:NAME (uri) about itself.  Returns 0, FBUS_ENOTSUP
 * for other schemes, or what fbus_sub_open() returns when it cannot reach
 * the producer; fbus_open_error() says why.  Blocks up to 1 s. */
FBUS_API int fbus_bus_query(const char *uri, struct fbus_bus_info *info);

/* A publisher or subscriber on a nats:// server, as it describes itself
 * (fbus_nats_discover). */
struct fbus_peer_info {
	char subject[256];       /* its camera */
	char host[64];           /* host name */
	int32_t pid;
	uint32_t publisher;      /* 1 publisher, 0 subscriber */
	uint32_t mode;           /* subscriber: FBUS_MODE_* */
	uint32_t subscribers;    /* publisher: subscribers it counts now */
	char group[32];          /* subscriber: worker group, "" none */
	uint64_t frames;         /* published, or delivered */
	uint64_t skipped;        /* subscriber: as in fbus_sub_stats */
	uint64_t dropped;        /* publisher: lost between servers;
	                            subscriber: as in fbus_sub_stats */
	uint64_t group_skipped;  /* subscriber in a group */
	double fps;              /* publisher: recent rate, 0 when idle */
	struct fbus_format fmt;  /* publisher: its last frame (width, height,
	                            pixfmt; zero before the first) */
	uint32_t jpeg;           /* publisher: 1 if it sends codec=jpeg */
	uint32_t _reserved0;
	uint64_t _reserved[4];   /* room to grow; zero */
};

typedef void fbus_peer_fn(void *user, const struct fbus_peer_info *peer);

/*
 * Ask every framebus publisher and subscriber reachable through the NATS
 * server(s) of uri (nats://HOST[:PORT][/...], the subject is ignored) to
 * describe itself; calls cb once per answer received within wait_ms.
 * Answers are other processes' words: checked and bounded, never
 * trusted.  Returns how many answered, or FBUS_EINVAL, FBUS_ENOTSUP (not
 * nats://, or no libnats), or what fbus_sub_open() returns when the server
 * cannot be reached; fbus_open_error() says why.  Blocks wait_ms.
 */
FBUS_API int fbus_nats_discover(const char *uri, int wait_ms, fbus_peer_fn *cb,
                                void *user);

/* Time helpers: the clocks framebus stamps frames with, in ns. */
FBUS_API int64_t fbus_now_mono_ns(void);
FBUS_API int64_t fbus_now_real_ns(void);

#ifdef __cplusplus
}
#endif

#endif /* FRAMEBUS_H */

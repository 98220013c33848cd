/* SPDX-License-Identifier: MIT */
/*
 * stream/pub.h — what the stream publisher's two halves share: the handle
 * (pub.c: loan, commit, queues) and its I/O thread (io.c: accept, hello,
 * non-blocking writes).  Locking is described at struct stream_pub.
 */
#ifndef FBUS_STREAM_PUB_H
#define FBUS_STREAM_PUB_H

#include "jpeg_codec.h"
#include "stream/stream.h"
#include "stream/wire.h"

#include <poll.h>
#include <pthread.h>
#include <sys/types.h>
#include <time.h>

#define FREE_BLOBS_KEPT 4
#define MAX_LOGS 8
#define LOG_BURST 10 /* log lines per second */

struct blob {
	struct blob *next_free;
	int refs; /* under pub->lock */
	uint8_t hdr[FBUSI_WIRE_HDR_LEN];
	uint32_t meta_len;
	uint32_t body_len;
	const uint8_t *body; /* payload, or enc for jpeg */
	size_t total;        /* header + meta + body */
	uint8_t *payload;    /* raw pixels (what the slot exposes) */
	size_t cap;
	uint8_t *enc; /* jpeg output */
	size_t enc_cap;
	uint32_t shift; /* jpeg: coded at 1/2^shift */
	int64_t t_loan_mono, t_loan_real;
	uint8_t meta[FBUS_META_MAX];
};

enum peer_state { PEER_HELLO, PEER_READY };

/* A worker group of the bus's subscribers (group.c): frames wait here,
 * not in the members' queues, until a member sends a credit.  Under
 * pub->lock. */
struct sgroup {
	char name[FBUSI_WIRE_GROUP_LEN];
	uint32_t mode, policy, block_ms; /* its first member's */
	struct blob **q;                 /* latest: 1; every: depth */
	uint32_t qcap, qhead, qlen;
	uint64_t frames, skipped;        /* handed out; replaced/dropped */
	uint32_t untold;                 /* skips no member was told of yet */
	uint32_t strikes;                /* every+block, as for a peer */
	bool demoted;
	uint32_t turn;                   /* where the next hand-out looks first */
};

struct peer {
	uint64_t id;
	int fd;
	int state;
	int64_t born; /* ms, accepted at */
	int64_t hello_deadline;
	uint8_t hello[FBUSI_WIRE_HELLO_MAX];
	size_t hello_got;
	uint32_t fit_w, fit_h; /* its ?fit= box; 0 none or a group member */
	struct sgroup *grp; /* its worker group, or NULL */
	uint32_t credit;    /* frames it asked for (group members) */
	uint8_t cbuf[4];    /* a credit being received */
	uint32_t cgot;
	uint32_t grp_skips; /* the group's skips its next frame tells of */
	uint8_t ghdr[FBUSI_WIRE_HDR_LEN]; /* I/O thread: cur's header, so
	                                     marked (the blob's is shared) */
	struct fbusi_wire_hello h;
	bool dead;
	bool blocked; /* last send hit EAGAIN: wait for POLLOUT */
	uint8_t pre[FBUSI_WIRE_WELCOME_LEN]; /* welcome, before any frame */
	size_t pre_len, pre_off;
	/* I/O thread only */
	struct blob *cur;
	size_t off;
	int64_t cur_deadline;
	/* under lock: pending frames, oldest first */
	struct blob **q;
	uint32_t qcap, qhead, qlen;
	uint64_t sent, replaced, dropped;
	uint32_t strikes; /* every+block: waits in a row that timed out */
	bool demoted;     /* ... FBUS_BLOCK_STRIKES of them: drop until empty */
	char name[80];
};

struct stream_pub {
	struct fbus_pub base;
	struct fbusi_uri uri;
	struct fbus_pub_opts opts;
	char where[300];
	int lfd;
	int efd;
	dev_t dev;
	ino_t ino;
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t lock;
	pthread_cond_t room; /* a queue got shorter or a peer left */
	bool stop;             /* closing: flush, then end the I/O thread */
	int64_t stop_deadline; /* ms: give up flushing then */
	struct peer **peers;
	uint32_t npeers;
	uint64_t next_id;
	struct blob *free_blobs;
	uint32_t nfree;
	uint64_t frames, dropped, peer_errors, demoted;
	uint64_t seq; /* last committed; a welcome says seq + 1 comes next */
	/* a JPEG being coded for seq + 1 at 1/2^coding_shift of
	 * coding_w x coding_h (0: none): a subscriber joining meanwhile
	 * whose box wants it bigger is not sent it */
	uint32_t coding_shift, coding_w, coding_h;
	struct sgroup **groups; /* worker groups, kept until close */
	uint32_t ngroups;
	struct fbusi_err peer_err; /* last dropped-peer reason */
	bool peer_err_new;

	/* committing thread only */
	bool loaned;
	uint64_t *ids;
	struct fbusi_jpeg *jpeg;
	int quality;
	uint8_t *small; /* a frame shrunk for coding at a scale */
	size_t small_cap;
	uint8_t *acc; /* the shrink's column sums (uint16_t) */
	size_t acc_cap;

	/* I/O thread only */
	int64_t accept_paused; /* out of fds, or a full waiting room:
	                          accept again after this (ms) */
	/* messages for the log callback, sent after unlocking */
	int64_t log_window; /* ms; rate limit of the log */
	uint32_t log_lines;
	struct fbusi_err logs[MAX_LOGS];
	int logl[MAX_LOGS];
	int nlogs;
	struct pollfd *pfds;
};

/* pub.c: drop one reference; the last one parks the blob for reuse.
 * Called locked. */
void fbusi_stream_blob_unref(struct stream_pub *p, struct blob *b);

/* pub.c: ms from now as a deadline for pthread_cond_timedwait on
 * p->room (CLOCK_MONOTONIC). */
void fbusi_stream_deadline_ts(struct timespec *ts, int ms);

/* group.c, all called locked.  Join peer to group `name` (its hello is
 * parsed): 0, or FBUS_EINVAL / FBUS_ENOMEM with why. */
int fbusi_sgroup_join(struct stream_pub *p, struct peer *peer,
                      const char *name, struct fbusi_err *why);
/* Committed frame b: into the queue of each group with a member (may
 * wait for room, unlocking, under a block policy), then handed out. */
void fbusi_sgroup_commit(struct stream_pub *p, struct blob *b, bool *woke);
/* Hand g's frames to members that asked for one. */
void fbusi_sgroup_feed(struct stream_pub *p, struct sgroup *g);
/* peer is going: frames queued to it and not yet begun go back to its
 * group (every mode), to the front. */
void fbusi_sgroup_leave(struct stream_pub *p, struct peer *peer);
/* A group still has frames waiting while a member is there to take them.
 * Closing (p->stop), hands them to any member with room first. */
bool fbusi_sgroup_pending(struct stream_pub *p);
void fbusi_sgroup_free_all(struct stream_pub *p);

/* io.c */
void *fbusi_stream_io_thread(void *arg);
void fbusi_stream_wake_io(struct stream_pub *p);
void fbusi_stream_peer_destroy(struct stream_pub *p, struct peer *peer);
/* An every+block peer stopped reading: count and log its demotion to
 * drop.  Locked; the I/O thread logs it at its next wake. */
void fbusi_stream_peer_demoted(struct stream_pub *p, struct peer *peer);

/* pub.c: may peer be sent a w x h frame's JPEG coded at 1/2^shift --
 * no smaller than its ?fit= box allows? */
bool fbusi_stream_peer_fits(const struct peer *peer, uint32_t shift,
                            uint32_t w, uint32_t h);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * shm/pub.h — what the three halves of the shm: producer share: the data
 * path (pub.c), the ring it writes (ring.c) and the control thread that
 * admits subscribers (admit.c).  Who may touch which field, and under which
 * lock or atomic, is said at each field.
 */
#ifndef FBUS_SHM_PUB_H
#define FBUS_SHM_PUB_H

#include "private.h"
#include "shm/layout.h"
#include "shm/proto.h"

#include <pthread.h>
#include <sys/types.h>

enum ent_state { ENT_FREE = 0, ENT_ACTIVE = 1, ENT_DEAD = 2 };

/* connections that have not said HELLO yet: how many, and for how long
 * (an honest subscriber sends it as it connects) */
#define MAX_PENDING 16
#define LOG_BURST 10 /* peer-error log lines per second */
#define HELLO_TIMEOUT_NS (500LL * 1000000LL)
#define PENDING_GRACE_NS (50LL * 1000000LL)

/* One admitted subscriber.  The control thread fills it and publishes it
 * with a release store of state = ACTIVE; the data path reads it after an
 * acquire load.  Teardown: the control thread closes `sock` and stores
 * DEAD (under lock); the data path unmaps and frees, then stores FREE. */
struct ent {
	_Atomic int state;
	int sock;
	int efd;
	struct fbusi_page *page;
	size_t page_size;
	uint32_t mode, depth, policy, block_ms;
	uint64_t *mirror; /* every: our own copy of the queue; never trust the page */
	uint32_t head;
	uint64_t dropped;
	uint32_t strikes; /* every+block: waits in a row that timed out */
	bool demoted;     /* ... FBUS_BLOCK_STRIKES of them: drop until empty */
	bool spin;        /* every+block: its last wait was short, so the
	                     next is spun for before sleeping (shm/spin.h) */
	char group[32];   /* its worker group ("": none), from HELLO */
	uint64_t served;  /* data path: the group's frame of this seq was
	                     queued at this entry */
	uint64_t given;   /* group: seq of the last frame queued or rung
	                     here, so equal members take turns */
	bool passing;     /* DEAD group member: its queue is being passed on */
	uint32_t pass_pos; /* ... from this entry on */
	pid_t pid;
	uid_t uid;
	/* sock, and the newest ring sent on it, under sock_lock: the control
	 * thread holds it across one non-blocking send or a close, the data
	 * path across a RING send at a format change */
	pthread_mutex_t sock_lock;
	uint32_t ring_gen;
	_Atomic int kick;   /* data path: "drop this one" (it corrupted its
	                       queue); the control thread closes the socket */
};

/* One ring: its memfd (read-only, what subscribers get) and our
 * writable mapping; the data path's.  The geometry is kept here: the
 * producer never reads it back from shared memory. */
struct ring {
	struct fbusi_ring_hdr *hdr;
	size_t size;
	uint64_t slot_size;
	int fd;
	uint32_t gen;
};

struct pending {
	int fd;
	int64_t born; /* accepted at */
	int64_t deadline;
	pid_t pid;
	uid_t uid;
	int refused; /* uid not allowed: refuse once its HELLO is read */
};

struct shm_pub {
	struct fbus_pub base;
	struct fbus_pub_opts opts;
	char name[FBUSI_NAME_MAX + 1];
	char sock_path[108];
	char lock_path[120];
	bool shared; /* allow-list: socket reachable by other uids */
	dev_t sock_dev; /* our socket file, to remove only our own */
	ino_t sock_ino;
	int lock_fd, listen_fd;
	int wake_fd;           /* eventfd: wakes the control thread */
	_Atomic int stopping;  /* close: the control thread ends */
	pthread_t thread;
	int thread_started;
	pthread_mutex_t lock;  /* only the INFO figures (last_fmt, rate) */

	/* the ring being written: stored only by the data path, read by
	 * admissions (see fbusi_shm_ring_switch) */
	_Atomic(struct ring *) cur;
	struct fbusi_ring_hdr *hdr; /* cur->hdr, NULL before the first */
	uint32_t gen;
	uint32_t slot_count;
	uint64_t slot_size;

	/* data path */
	uint64_t seq;
	uint64_t latest; /* what we stored in the ring's `latest` */
	int loaned;
	uint32_t loan_slot;
	int64_t loan_mono, loan_real; /* for a commit that leaves them 0 */
	struct ent *ents;
	uint32_t n_ents;
	_Atomic int dead_pending; /* an entry is DEAD: reclaim it */
	_Atomic uint32_t n_active;

	/* stats/info: written by the data path, read by the control thread
	 * under lock (see info_update) */
	_Atomic uint64_t frames;
	_Atomic uint64_t dropped;
	_Atomic uint64_t peer_errors;
	_Atomic uint64_t demoted;
	/* why the last peer was dropped: written by whoever drops it, under
	 * err_lock; copied into base.err by commit and stats */
	pthread_mutex_t err_lock;
	struct fbusi_err peer_err;
	_Atomic int peer_err_new;
	/* the log's rate limit, under err_lock too */
	int64_t log_window;
	uint32_t log_lines;
	uint64_t log_quiet;
	struct fbus_format last_fmt;
	double avg_dt; /* seconds between commits, moving average */
	int64_t last_commit_ns;

	struct pending pend[MAX_PENDING];
	int64_t accept_resume; /* control thread: accept again from then */
};

static inline struct fbusi_slot_hdr *
slot_hdr(struct fbusi_ring_hdr *r, uint64_t slot_size, uint32_t i)
{
	return (struct fbusi_slot_hdr *)((uint8_t *)r + FBUSI_RING_SLOTS_OFF +
	                                 (uint64_t)i * slot_size);
}

/* ring.c, data path: start writing into a new ring whose slots hold
 * `payload` bytes; every subscriber gets it before the old one retires. */
int fbusi_shm_ring_switch(struct shm_pub *p, uint64_t payload,
                          struct fbusi_err *err);
/* ring.c: send ring r to e unless it has it; e->sock_lock held. */
void fbusi_shm_ring_send(struct ent *e, const struct ring *r);
/* ring.c, at close (control thread stopped): mark the ring CLOSED, wake
 * its readers, free it. */
void fbusi_shm_ring_close_all(struct shm_pub *p);
/* ring.c: wake the control thread. */
void fbusi_shm_wake_ctl(struct shm_pub *p);

/* admit.c: count a dropped peer and keep why, for fbus_pub_last_error()
 * and the log callback.  Any thread. */
void fbusi_shm_peer_dropped(struct shm_pub *p, const char *fmt, ...)
	FBUSI_PRINTF(2, 3);
/* admit.c: the same for a subscriber demoted from block to drop: counted
 * in `demoted`, not as a peer error (it stays connected). */
void fbusi_shm_peer_demoted(struct shm_pub *p, const char *fmt, ...)
	FBUSI_PRINTF(2, 3);

/* admit.c: the control thread's body. */
void *fbusi_shm_ctl_thread(void *arg);

#endif

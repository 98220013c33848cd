/* SPDX-License-Identifier: MIT */
/*
 * shm/sub.c — the shm: subscriber.  Frames are read in place from the
 * producer's ring, mapped read-only after its seals and size were checked.
 * Waiting is a FUTEX_WAIT on the ring's seq word in slices of at most
 * SLICE_MS, between which the control socket is polled: that is how a
 * producer's death (even kill -9) is seen within 100 ms without any cost
 * on the producer side.  The handshake is in attach.c; layout and lease
 * protocol: shm/layout.h.
 */
#define _GNU_SOURCE
#include "os.h"
#include "runtime.h"
#include "shm/attach.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "shm/group.h"
#include "shm/predict.h"
#include "shm/spin.h"

#define SLICE_MS 40
/* a group member waiting for the take mutex looks this often whether the
 * waiter left a frame untaken (it is stopped) */
#define GROUP_SLICE_MS 10
#define RING_WAIT_MS 2000
#define RETRY_MS 50
/* more format changes than this within one queue lose the oldest frames */
#define OLD_RINGS 8

/* One connection to a producer.  It outlives its disconnect while the
 * caller still holds frames of it: the socket stays open (a live producer
 * keeps our leases and queue, so nothing we hold is rewritten) and every
 * ring stays mapped, until the last of those frames is released. */
struct conn {
	struct conn *next; /* zombies: disconnected, frames still held */
	/* socket, eventfd, page, depth (leases or queue length, as we asked
	 * at attach: never read back from the page), the current ring */
	struct fbusi_shm_conn a;
	/* retired rings, newest first: queued every-mode entries may still
	 * point into them (a ring per format change) */
	struct fbusi_ringmap old[OLD_RINGS];
	/* rings pushed out of old[] while frames were held in them */
	struct fbusi_ringmap *yard;
	uint32_t nyard;
	uint32_t held;  /* frames of this connection in the caller's hands */
	uint32_t tail;  /* every: entries released (page->tail mirror) */
	uint32_t taken; /* every: entries handed out */
	uint64_t done;  /* every: bit k set = entry tail + k released */
};

struct held {
	uint64_t cookie; /* 0: free; else fbus_frame._priv[1] */
	struct conn *c;
	uint32_t pos;    /* every: queue position */
};

struct shm_sub {
	struct fbus_sub base;
	struct fbus_sub_opts opts;
	char name[FBUSI_NAME_MAX + 1];
	struct fbusi_uri uri;
	struct conn *c;       /* NULL while disconnected */
	struct conn *zombies;
	struct held *held;    /* opts.max_held entries; index = lease word */
	uint64_t cookies;
	uint64_t last_seq;
	uint64_t join_seq; /* latest: frames before this were not ours to see */
	int disconnect_reported;
	int gone; /* producer gone, every-mode frames still queued for us */
	int ever_connected;
	int epfd, tfd; /* fbus_sub_fd(), created on first use */
	uint64_t frames, skipped;
	uint64_t ring_lost; /* every: entries of a ring no longer mapped */
	uint32_t reconnects;
	struct fbusi_group grp; /* fd -1: no worker group */
	bool spin; /* the last wait for a frame was short: spin before the
	              next sleep (shm/spin.h) */
	uint64_t grp_seen;      /* the group's claim at the last slice end */
	struct fbusi_predict pred; /* FBUS_SUB_PREDICT: the frame period */
	int64_t seen_commit;    /* commit time of the frame just filled */
	uint32_t seen_cpu;      /* ... and the producer's CPU + 1, 0 unknown */
};

static void
fd_watch(struct shm_sub *s, int fd, int add)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	if (s->epfd >= 0 && fd >= 0)
		epoll_ctl(s->epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, fd,
		          &ev);
}

static void
retry_timer(struct shm_sub *s, int on)
{
	struct itimerspec its = { 0 };

	if (s->tfd < 0)
		return;
	if (on) {
		its.it_value.tv_nsec = 100 * 1000000L;
		its.it_interval.tv_nsec = 100 * 1000000L;
	}
	timerfd_settime(s->tfd, 0, &its, NULL);
}

static void
empty_yard(struct conn *c)
{
	for (uint32_t i = 0; i < c->nyard; i++)
		fbusi_shm_unmap_ring(&c->yard[i]);
	free(c->yard);
	c->yard = NULL;
	c->nyard = 0;
}

/* Unmap a ring of c, unless frames of c are held: then it may be one of
 * theirs, and it waits in the yard until they are released. */
static void
drop_ring(struct conn *c, struct fbusi_ringmap *r)
{
	struct fbusi_ringmap *y;

	if (!r->hdr)
		return;
	if (c->held) {
		y = realloc(c->yard, sizeof *y * (c->nyard + 1));
		if (y) {
			c->yard = y;
			c->yard[c->nyard++] = *r;
			memset(r, 0, sizeof *r);
			return;
		}
		/* no memory to keep it: the held frame is lost rather
		 * than the mapping leaked forever */
	}
	fbusi_shm_unmap_ring(r);
}

static void
conn_destroy(struct conn *c)
{
	fbusi_shm_detach(&c->a);
	for (int i = 0; i < OLD_RINGS; i++)
		fbusi_shm_unmap_ring(&c->old[i]);
	empty_yard(c);
	free(c);
}

/* every mode: entry pos is done with; the producer may reuse what
 * precedes the first entry still held */
static void
entry_done(struct conn *c, uint32_t pos)
{
	uint32_t before = c->tail;

	c->done |= 1ull << (pos - c->tail);
	while (c->done & 1) {
		c->done >>= 1;
		c->tail++;
	}
	if (c->tail == before)
		return;
	/* seq_cst store, then seq_cst load of prod_waiting: pairs with
	 * wait_for_room() in shm/pub.c (flag, then tail) */
	atomic_store(&c->a.page->tail, c->tail);
	if (atomic_load(&c->a.page->prod_waiting))
		fbusi_futex_wake((const uint32_t *)&c->a.page->tail, 1);
}

static void
release_one(struct shm_sub *s, uint32_t i)
{
	struct held *h = &s->held[i];
	struct conn *c = h->c;

	if (s->opts.mode == FBUS_MODE_EVERY) {
		entry_done(c, h->pos);
	} else {
		/* release: our reads of the slot happen-before the
		 * producer's seq_cst lease load that frees it */
		atomic_store_explicit(&c->a.page->entries[i], 0,
		                      memory_order_release);
	}
	h->cookie = 0;
	h->c = NULL;
	if (--c->held)
		return;
	empty_yard(c);
	if (c == s->c)
		return;
	for (struct conn **z = &s->zombies; *z; z = &(*z)->next)
		if (*z == c) {
			*z = c->next;
			break;
		}
	conn_destroy(c);
}

static void
disconnect(struct shm_sub *s)
{
	struct conn *c = s->c;

	if (!c)
		return;
	fd_watch(s, c->a.sock, 0);
	fd_watch(s, c->a.efd, 0);
	s->c = NULL;
	if (c->held) {
		c->next = s->zombies;
		s->zombies = c;
	} else {
		conn_destroy(c);
	}
	s->disconnect_reported = 0;
	s->gone = 0;
	if (s->opts.flags & FBUS_SUB_RECONNECT)
		retry_timer(s, 1);
}

static int available(struct shm_sub *s);
static void want_frames(struct shm_sub *s);

/* The producer is gone (HUP, CLOSED, a broken message).  What it
 * published before stays readable in our own mappings: every mode hands
 * out its whole queue (lossless), latest mode the newest frame it has not
 * seen; then the disconnect is reported. */
static void
lost(struct shm_sub *s)
{
	if (s->c && available(s)) {
		s->gone = 1;
		return;
	}
	disconnect(s);
}

static int
connect_bus(struct shm_sub *s)
{
	struct conn *c = calloc(1, sizeof *c);
	int rc;

	if (!c)
		return fbusi_fail(&s->base.err, FBUS_ENOMEM, "out of memory");
	rc = fbusi_shm_attach(&s->uri, &s->opts, &c->a, &s->base.err);
	if (rc) {
		free(c);
		s->disconnect_reported = 1; /* nothing to report: never was up */
		return rc;
	}
	s->c = c;
	s->last_seq = 0;
	s->grp.dropped_seen = 0; /* a new page counts from 0 */
	/* the newest frame at attach is still ours to take; what came
	 * before it was never ours to miss */
	s->join_seq = c->a.ring.hdr
	                      ? atomic_load(&c->a.ring.hdr->latest) >> 16
	                      : 0;
	if (s->join_seq)
		s->join_seq--;
	if (s->ever_connected)
		s->reconnects++;
	s->ever_connected = 1;
	s->disconnect_reported = 0;
	if (s->epfd >= 0) {
		/* seq_cst: the producer reads `armed` in commit */
		atomic_store(&c->a.page->armed, 1);
		fd_watch(s, c->a.sock, 1);
		fd_watch(s, c->a.efd, 1);
		retry_timer(s, 0);
		want_frames(s);
	}
	return 0;
}

/* A message or HUP on the control socket.  Returns 1 if a message was
 * handled, 0 if none came within wait_ms, FBUS_EDISCONNECTED if gone. */
static int
on_socket(struct shm_sub *s, int wait_ms)
{
	struct conn *c = s->c;
	union fbusi_ctl m;
	int fds[FBUSI_MAX_FDS], nfds, t, rc;

	t = fbusi_shm_ctl_recv(c->a.sock, &m, fds, &nfds, wait_ms, &s->base.err);
	if (t == FBUS_ETIMEDOUT)
		return 0;
	if (t == FBUSI_CTL_RING) {
		if (m.ring.generation <= c->a.ring.gen) {
			close(fds[0]);
			fbusi_fail(&s->base.err, 0, "producer sent an old ring");
			disconnect(s);
			return FBUS_EDISCONNECTED;
		}
		/* keep older rings: every-mode entries may still point
		 * into them */
		drop_ring(c, &c->old[OLD_RINGS - 1]);
		memmove(&c->old[1], &c->old[0],
		        sizeof c->old[0] * (OLD_RINGS - 1));
		c->old[0] = c->a.ring;
		memset(&c->a.ring, 0, sizeof c->a.ring);
		rc = fbusi_shm_map_ring(fds[0], m.ring.ring_size,
		                        m.ring.generation, &c->a.ring, &s->base.err);
		if (rc) {
			disconnect(s);
			return FBUS_EDISCONNECTED;
		}
		return 1;
	}
	if (t >= 0) {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		fbusi_fail(&s->base.err, 0, "unexpected control message type %d",
		           t);
	}
	/* t < 0: the error text is in base.err already */
	lost(s);
	return FBUS_EDISCONNECTED;
}

/* Bring the ring up to date.  0: a live ring is mapped; 1: something
 * changed, look again; FBUS_EAGAIN: no ring yet and none came in wait_ms;
 * FBUS_EDISCONNECTED. */
static int
check_ring(struct shm_sub *s, int wait_ms)
{
	int rc;

	if (!s->c->a.ring.hdr) {
		rc = on_socket(s, wait_ms);
		return rc == 0 ? FBUS_EAGAIN : rc;
	}
	/* seq_cst: pairs with the producer's state store before its wake */
	switch (atomic_load(&s->c->a.ring.hdr->state)) {
	case FBUSI_RING_LIVE:
		return 0;
	case FBUSI_RING_RETIRED:
		/* the RING message was queued before RETIRED was set */
		rc = on_socket(s, RING_WAIT_MS);
		if (rc == 0) {
			fbusi_fail(&s->base.err, 0, "producer retired its ring "
			                          "but sent no new one");
			disconnect(s);
			return FBUS_EDISCONNECTED;
		}
		return rc;
	default:
		fbusi_fail(&s->base.err, 0, "producer closed the bus");
		lost(s);
		return FBUS_EDISCONNECTED;
	}
}

/* Copy and validate the slot header into frame.  The producer is trusted
 * with the pixels, never with the geometry we would index with. */
static int
fill_frame(struct shm_sub *s, const struct fbusi_ringmap *r, uint32_t slot,
           uint64_t seq, struct fbus_frame *f)
{
	const struct fbusi_slot_hdr *h = fbusi_ringmap_slot(r, slot);
	struct fbus_format fmt = { 0 };
	uint64_t cap = r->slot_size - FBUSI_SLOT_DATA_OFF;
	uint32_t payload = h->payload_bytes, meta = h->meta_bytes;

	fmt.pixfmt = h->pixfmt;
	fmt.width = h->width;
	fmt.height = h->height;
	for (int i = 0; i < FBUS_MAX_PLANES; i++)
		fmt.stride[i] = h->stride[i];
	if (fmt.pixfmt == FBUS_PIXFMT_ENCODED)
		fmt.size = payload;
	if (fbus_format_layout(&fmt) || fmt.size > cap ||
	    (fmt.pixfmt != FBUS_PIXFMT_ENCODED && payload != fmt.size) ||
	    meta > FBUS_META_MAX)
		return fbusi_fail(&s->base.err, FBUS_EPROTO,
		                  "producer wrote an invalid frame header "
		                  "(seq %llu)",
		                  (unsigned long long)seq);
	memset(f, 0, sizeof *f);
	f->seq = seq;
	f->t_mono_ns = h->t_mono_ns;
	f->t_real_ns = h->t_real_ns;
	s->seen_commit = h->t_commit_ns;
	s->seen_cpu = h->commit_cpu;
	f->fmt = fmt;
	f->data = (const uint8_t *)h + FBUSI_SLOT_DATA_OFF;
	f->payload_bytes = payload;
	f->meta = (const uint8_t *)h + FBUSI_SLOT_META_OFF;
	f->meta_bytes = meta;
	return 0;
}

/* Frame f is the caller's now, in held entry i. */
static void
hold(struct shm_sub *s, uint32_t i, uint32_t pos, struct fbus_frame *f)
{
	s->held[i].cookie = ++s->cookies;
	s->held[i].c = s->c;
	s->held[i].pos = pos;
	s->c->held++;
	f->_priv[0] = i;
	f->_priv[1] = s->held[i].cookie;
}

static int
take_latest(struct shm_sub *s, uint32_t i, struct fbus_frame *f)
{
	struct conn *c = s->c;
	_Atomic uint64_t *lease = &c->a.page->entries[i];

	for (int tries = 0; tries < 64; tries++) {
		/* acquire: pairs with the release store of latest in
		 * commit, so the slot header below is the committed one */
		uint64_t l = atomic_load_explicit(&c->a.ring.hdr->latest,
		                                  memory_order_acquire);
		uint64_t seq = l >> 16;
		uint32_t slot = (uint32_t)(l & 0xffff);
		int rc;

		uint64_t claimed = 0;

		if (s->grp.fd >= 0) {
			claimed = atomic_load(&s->grp.pg->claimed);
			/* a newer producer counts from 1 again */
			if (seq && seq < claimed &&
			    atomic_compare_exchange_strong(&s->grp.pg->claimed,
			                                   &claimed, 0))
				claimed = 0;
		}
		if (seq == 0 || seq <= s->last_seq || seq <= claimed)
			return FBUS_EAGAIN;
		if (slot >= c->a.ring.slot_count)
			return fbusi_fail(&s->base.err, FBUS_EPROTO,
			                  "producer published slot %u of %u",
			                  slot, c->a.ring.slot_count);
		/* seq_cst lease store, then seq_cst re-check of the slot's
		 * seq: the Dekker pair with loan() in shm/pub.c */
		atomic_store(lease, ((c->a.ring.gen & 0xffff) << 16) | (slot + 1));
		if (atomic_load(&fbusi_ringmap_slot(&c->a.ring, slot)->seq) != seq) {
			atomic_store_explicit(lease, 0, memory_order_relaxed);
			continue; /* being rewritten: a newer frame follows */
		}
		/* the group's: ours only if no member took it (or a newer
		 * one) meanwhile */
		if (s->grp.fd >= 0 &&
		    !atomic_compare_exchange_strong(&s->grp.pg->claimed,
		                                    &claimed, seq)) {
			atomic_store(lease, 0);
			continue;
		}
		rc = fill_frame(s, &c->a.ring, slot, seq, f);
		if (rc) {
			atomic_store(lease, 0);
			return rc;
		}
		{
			/* skipped since our last frame; in a group, what no
			 * member took since the group's last (the group's
			 * first: since this member joined) */
			uint64_t base = s->grp.fd >= 0 ? claimed : s->last_seq;

			if (!base)
				base = s->join_seq;
			f->skipped = seq > base + 1 ? seq - base - 1 : 0;
		}
		if (s->grp.fd >= 0) {
			atomic_fetch_add(&s->grp.pg->frames, 1);
			atomic_fetch_add(&s->grp.pg->skipped, f->skipped);
		}
		s->skipped += f->skipped;
		s->last_seq = seq;
		hold(s, i, 0, f);
		return 0;
	}
	return FBUS_EAGAIN;
}

/* The mapped ring of generation gen8 (low 8 bits), or NULL. */
static const struct fbusi_ringmap *
ring_of(const struct conn *c, uint32_t gen8)
{
	if (c->a.ring.hdr && (c->a.ring.gen & 0xff) == gen8)
		return &c->a.ring;
	for (int i = 0; i < OLD_RINGS; i++)
		if (c->old[i].hdr && (c->old[i].gen & 0xff) == gen8)
			return &c->old[i];
	/* newest pushed out last */
	for (uint32_t i = c->nyard; i-- > 0;)
		if ((c->yard[i].gen & 0xff) == gen8)
			return &c->yard[i];
	return NULL;
}

/* Every-mode group: what the producer dropped from our queue (all the
 * group's queues were full) is the group's loss; added once. */
static void
group_count_drops(struct shm_sub *s)
{
	uint64_t d = s->c ? atomic_load_explicit(&s->c->a.page->dropped,
	                                         memory_order_relaxed)
	                  : 0;

	if (d > s->grp.dropped_seen) {
		atomic_fetch_add(&s->grp.pg->skipped, d - s->grp.dropped_seen);
		s->grp.dropped_seen = d;
	}
}

static int
take_entry(struct shm_sub *s, uint32_t i, struct fbus_frame *f)
{
	for (;;) {
		struct conn *c = s->c;
		/* acquire: pairs with the release store of head in commit */
		uint32_t head = atomic_load_explicit(&c->a.page->head,
		                                     memory_order_acquire);
		uint64_t en, seq;
		uint32_t gen8, slot;
		const struct fbusi_ringmap *r;
		int rc;

		if (head == c->taken)
			return FBUS_EAGAIN;
		if (head - c->tail > c->a.depth || head - c->taken > c->a.depth)
			return fbusi_fail(&s->base.err, FBUS_EPROTO,
			                  "producer's queue head is corrupt");
		en = atomic_load_explicit(&c->a.page->entries[c->taken % c->a.depth],
		                          memory_order_relaxed);
		seq = en >> 24;
		gen8 = (uint32_t)(en >> 16) & 0xff;
		slot = (uint32_t)en & 0xffff;
		r = ring_of(c, gen8);
		if (!r && c->a.ring.hdr &&
		    (uint8_t)(gen8 - (c->a.ring.gen & 0xff)) - 1u < 127u) {
			/* A newer ring: the producer wrote into it before
			 * its control thread sent us the RING message, which
			 * is on its way. */
			rc = on_socket(s, RING_WAIT_MS);
			if (rc == 1)
				continue;
			if (rc == 0)
				return fbusi_fail(&s->base.err, FBUS_EPROTO,
				                  "queued frame %llu is in ring "
				                  "%u, which never came",
				                  (unsigned long long)seq, gen8);
			return rc;
		}
		if (!r) {
			/* A ring we no longer map (OLD_RINGS switches
			 * ago): the frame is gone; count it as dropped. */
			entry_done(c, c->taken++);
			s->ring_lost++;
			continue;
		}
		if (slot >= r->slot_count ||
		    (atomic_load_explicit(&fbusi_ringmap_slot(r, slot)->seq,
		                          memory_order_acquire) &
		     ((1ull << 40) - 1)) != seq)
			return fbusi_fail(&s->base.err, FBUS_EPROTO,
			                  "queued frame %llu is not in its slot",
			                  (unsigned long long)seq);
		rc = fill_frame(s, r, slot,
		                atomic_load(&fbusi_ringmap_slot(r, slot)->seq), f);
		if (rc)
			return rc;
		s->last_seq = f->seq;
		hold(s, i, c->taken++, f);
		if (s->grp.fd >= 0) {
			atomic_fetch_add(&s->grp.pg->frames, 1);
			group_count_drops(s);
		}
		return 0;
	}
}

static int
available(struct shm_sub *s)
{
	if (s->opts.mode == FBUS_MODE_EVERY)
		return atomic_load(&s->c->a.page->head) != s->c->taken;
	if (!s->c->a.ring.hdr)
		return 0;
	{
		uint64_t seq = atomic_load(&s->c->a.ring.hdr->latest) >> 16;

		return seq > s->last_seq &&
		       (s->grp.fd < 0 || seq != atomic_load(&s->grp.pg->claimed));
	}
}

static void
drain_fd(int fd)
{
	uint64_t v;

	if (fd >= 0 && read(fd, &v, sizeof v) < 0) {
		/* EAGAIN: nothing pending */
	}
}

/* A latest-mode group member polling its fd says whether it is free to
 * take a frame (`want`: it holds fewer than it may), and each commit
 * rings one free member of the group.  Having said so, it looks: a frame
 * committed before that rang nobody, so it rings itself.  Called
 * whenever what it holds changes or next() found nothing. */
static void
want_frames(struct shm_sub *s)
{
	uint32_t held = 0;
	bool free_;

	if (s->grp.fd < 0 || s->opts.mode != FBUS_MODE_LATEST ||
	    s->epfd < 0 || !s->c)
		return;
	for (uint32_t i = 0; i < s->opts.max_held; i++)
		held += s->held[i].cookie != 0;
	free_ = held < s->opts.max_held;
	/* seq_cst, then the seq_cst loads in available(): pairs with
	 * commit's seq_word store and exchange of `want` */
	atomic_store(&s->c->a.page->want, free_);
	if (free_ && available(s))
		fbusi_page_ring(s->c->a.page, s->c->a.efd);
}

/* The futex word to sleep on: the ring's, which every commit wakes; an
 * every-mode group member's own head, which the producer wakes only
 * when it queues a frame to this member (one member woken a frame). */
static const _Atomic uint32_t *
word_of(struct shm_sub *s)
{
	return s->opts.mode == FBUS_MODE_EVERY && s->grp.fd >= 0
	               ? &s->c->a.page->head
	               : &s->c->a.ring.hdr->seq_word;
}

static int
take(struct shm_sub *s, uint32_t i, struct fbus_frame *f)
{
	return s->opts.mode == FBUS_MODE_EVERY ? take_entry(s, i, f)
	                                       : take_latest(s, i, f);
}

static int next_frame(struct shm_sub *s, struct fbus_frame *f,
                      int timeout_ms);

/* A group member waits for a frame only as the group's one waiter (the
 * take mutex); the others wait for the mutex.  So each frame wakes one
 * member, and unlocking hands the wait to the next free one. */
static int
shm_next(struct fbus_sub *base, struct fbus_frame *f, int timeout_ms)
{
	struct shm_sub *s = (struct shm_sub *)base;
	int64_t deadline = timeout_ms < 0 ? INT64_MAX
	                                  : fbus_now_mono_ns() +
	                                            (int64_t)timeout_ms * 1000000;
	int rc;

	/* every: the producer hands each frame to one member's queue */
	if (s->grp.fd < 0 || s->opts.mode == FBUS_MODE_EVERY)
		return next_frame(s, f, timeout_ms);
	for (;;) {
		int64_t now = fbus_now_mono_ns();
		int64_t slice = now + GROUP_SLICE_MS * 1000000LL;

		if (fbusi_group_lock(&s->grp, slice < deadline ? slice
		                                              : deadline) == 0) {
			/* what is left of the caller's timeout; past it, a
			 * look (0), never -1 (forever) */
			int64_t left = (deadline - fbus_now_mono_ns()) / 1000000;

			rc = next_frame(s, f, deadline == INT64_MAX ? -1
			                      : left > 0 ? (int)left : 0);
			fbusi_group_unlock(&s->grp);
			want_frames(s);
			return rc;
		}
		/* The group took nothing for a whole slice while a frame
		 * stands untaken: the waiter is stopped (SIGSTOP, a
		 * debugger).  Take it without the mutex: the claim is what
		 * makes it ours alone. */
		{
			uint64_t claimed = atomic_load(&s->grp.pg->claimed);

			if (s->c && s->c->a.ring.hdr && available(s) &&
			    claimed == s->grp_seen) {
				rc = next_frame(s, f, 0);
				if (rc != FBUS_ETIMEDOUT) {
					want_frames(s);
					return rc;
				}
			}
			s->grp_seen = claimed;
		}
		if (fbus_now_mono_ns() >= deadline) {
			want_frames(s);
			return FBUS_ETIMEDOUT;
		}
	}
}

static bool
frame_ready(void *arg)
{
	struct shm_sub *s = arg;

	return available(s) ||
	       atomic_load(&s->c->a.ring.hdr->state) != FBUSI_RING_LIVE;
}

/* Sleep on our futex word (word_of) up to timeout_ns.  waiting=1
 * (seq_cst), then read the word, then look once more: with commit's
 * seq_word store + waiting load this is a Dekker pair, so a frame is
 * never slept through.  Timed out: a look at the control socket (HUP, or
 * a RING). */
static void
sleep_for_frame(struct shm_sub *s, int64_t timeout_ns)
{
	uint32_t v;

	atomic_store(&s->c->a.page->waiting, 1);
	v = atomic_load(word_of(s));
	if (!available(s) &&
	    atomic_load(&s->c->a.ring.hdr->state) == FBUSI_RING_LIVE &&
	    fbusi_futex_wait_ns((const uint32_t *)word_of(s), v, timeout_ns) ==
	            FBUS_ETIMEDOUT &&
	    fbusi_poll1(s->c->a.sock, POLLIN, 0) != 0)
		on_socket(s, 0);
	if (s->c)
		atomic_store_explicit(&s->c->a.page->waiting, 0,
		                      memory_order_relaxed);
}

/* A predicting reader that naps on the CPU the producer commits on
 * would spin there, so the producer's timer wakes it behind us and the
 * frame waits until it sleeps again (13-15 µs instead of 4-5 on two
 * cores).  Move off that CPU for the nap, then give the thread its own
 * CPU mask back (which does not move it again).  True if moved; *orig is
 * the mask to restore. */
static bool
dodge_producer(const struct shm_sub *s, cpu_set_t *orig)
{
	cpu_set_t set;
	int prod = (int)s->seen_cpu - 1;

	if (prod < 0 || prod >= CPU_SETSIZE || sched_getcpu() != prod ||
	    fbusi_online_cpus() < 2 || sched_getaffinity(0, sizeof *orig, orig))
		return false;
	set = *orig;
	CPU_CLR(prod, &set);
	return CPU_COUNT(&set) > 0 && sched_setaffinity(0, sizeof set, &set) == 0;
}

/* FBUS_SUB_PREDICT, nothing to take yet.  Before the window in which
 * the next frame is due: sleep on the futex (an early frame wakes us as
 * always) until WAKE_EARLY_NS before it -- the timer's slack and a VM's
 * wake-up lie in between -- and return 1 to look again.  In the window:
 * spin to its end (1: a frame).  0: no window, or the frame missed it. */
#define WAKE_EARLY_NS 100000
static int
predictive_wait(struct shm_sub *s, int64_t deadline, int slice_ms)
{
	int64_t now = fbus_now_mono_ns(), w0, w1, nap;

	if (!fbusi_predict_window(&s->pred, now, &w0, &w1))
		return 0;
	nap = w0 - WAKE_EARLY_NS - now;
	if (nap > 0) {
		if (nap > (int64_t)slice_ms * 1000000)
			nap = (int64_t)slice_ms * 1000000;
		if (now + nap > deadline)
			return 0;
		{
			cpu_set_t orig;
			bool moved = dodge_producer(s, &orig);

			sleep_for_frame(s, nap);
			if (moved)
				(void)sched_setaffinity(0, sizeof orig, &orig);
		}
		return 1;
	}
	return fbusi_spin_until(frame_ready, s, w1 < deadline ? w1 : deadline);
}

static int
next_frame(struct shm_sub *s, struct fbus_frame *f, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? INT64_MAX
	                                  : fbus_now_mono_ns() +
	                                            (int64_t)timeout_ms * 1000000;
	int64_t wait_start = 0; /* when we first found nothing */
	bool spun = false, predicted = false;
	uint32_t i = 0;
	int rc;

	/* handle.c keeps count: a free entry exists */
	while (i < s->opts.max_held && s->held[i].cookie)
		i++;
	if (i == s->opts.max_held)
		return fbusi_fail(&s->base.err, FBUS_EBUSY, "all %u frames held",
		                  s->opts.max_held);
	drain_fd(s->tfd);
	for (;;) {
		int64_t now = fbus_now_mono_ns();
		int left_ms = deadline == INT64_MAX
		                      ? SLICE_MS
		                      : (int)((deadline - now + 999999) / 1000000);
		int slice;

		if (left_ms < 0)
			left_ms = 0;
		slice = left_ms < SLICE_MS ? left_ms : SLICE_MS;
		if (!s->c) {
			if (!s->disconnect_reported) {
				s->disconnect_reported = 1;
				return FBUS_EDISCONNECTED;
			}
			if (!(s->opts.flags & FBUS_SUB_RECONNECT))
				return FBUS_EDISCONNECTED;
			rc = connect_bus(s);
			if (rc == 0)
				continue;
			if (fbusi_connect_error_is_final(rc))
				return rc;
			if (left_ms == 0)
				return FBUS_EDISCONNECTED;
			fbusi_poll1(-1, 0, left_ms < RETRY_MS ? left_ms : RETRY_MS);
			continue;
		}
		if (s->gone) {
			rc = take(s, i, f);
			if (rc == 0) {
				s->frames++;
				return 0;
			}
			disconnect(s); /* queue drained: now report */
			continue;
		}
		if (s->epfd >= 0) {
			/* seq_cst: pairs with the exchange in commit; clear
			 * before looking, so a frame after our look rings */
			atomic_store(&s->c->a.page->efd_pending, 0);
			drain_fd(s->c->a.efd);
		}
		rc = check_ring(s, slice);
		if (rc == FBUS_EDISCONNECTED || rc == 1)
			continue; /* reported (or retried) at the loop top */
		if (rc == FBUS_EAGAIN) {
			if (left_ms == 0)
				return FBUS_ETIMEDOUT;
			continue;
		}
		rc = take(s, i, f);
		if (rc == 0) {
			s->frames++;
			/* frames come back to back: spin for the next one */
			s->spin = fbusi_spin_useful(atomic_load_explicit(
			                  &s->c->a.ring.hdr->readers,
			                  memory_order_relaxed)) &&
			          (!wait_start || fbus_now_mono_ns() - wait_start <
			                                  FBUSI_SPIN_ADAPT_NS);
			if (s->opts.flags & FBUS_SUB_PREDICT)
				fbusi_predict_learn(&s->pred, f->seq,
				                    s->seen_commit);
			/* level-triggered fd: more queued means readable */
			if (s->epfd >= 0 && available(s))
				fbusi_page_ring(s->c->a.page, s->c->a.efd);
			return 0;
		}
		if (rc != FBUS_EAGAIN) {
			disconnect(s);
			s->disconnect_reported = 1;
			return rc;
		}
		if (left_ms == 0) {
			/* before saying "no frame", make sure the producer
			 * is still there (a poll loop calls us with 0) */
			if (fbusi_poll1(s->c->a.sock, POLLIN, 0) != 0 &&
			    on_socket(s, 0) != 0)
				continue;
			return FBUS_ETIMEDOUT;
		}

		if (!wait_start)
			wait_start = now;
		if (s->spin && !spun) {
			spun = true;
			if (fbus_now_mono_ns() < deadline &&
			    fbusi_spin(frame_ready, s))
				continue;
		}
		if ((s->opts.flags & FBUS_SUB_PREDICT) && !predicted) {
			rc = predictive_wait(s, deadline, slice);
			if (rc == 1)
				continue; /* a frame, or slept up to the window */
			predicted = true; /* missed: the futex, as always */
		}
		sleep_for_frame(s, (int64_t)slice * 1000000);
	}
}

static int
shm_release(struct fbus_sub *base, struct fbus_frame *f)
{
	struct shm_sub *s = (struct shm_sub *)base;
	uint64_t i = f->_priv[0];

	if (f->_priv[1] == 0 || i >= s->opts.max_held ||
	    s->held[i].cookie != f->_priv[1])
		return 0;
	release_one(s, (uint32_t)i);
	f->_priv[1] = 0;
	want_frames(s);
	return 1;
}

static int
shm_fd(struct fbus_sub *base)
{
	struct shm_sub *s = (struct shm_sub *)base;

	if (s->epfd >= 0)
		return s->epfd;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->epfd < 0 || s->tfd < 0) {
		int e = -errno;
		fbusi_close(s->epfd);
		fbusi_close(s->tfd);
		s->epfd = s->tfd = -1;
		return fbusi_fail(&base->err, e, "epoll/timerfd: %s",
		                  fbus_strerror(e));
	}
	fd_watch(s, s->tfd, 1);
	if (s->c) {
		atomic_store(&s->c->a.page->armed, 1);
		fd_watch(s, s->c->a.sock, 1);
		fd_watch(s, s->c->a.efd, 1);
		/* a frame may be waiting already */
		if (available(s))
			fbusi_page_ring(s->c->a.page, s->c->a.efd);
	} else if (s->opts.flags & FBUS_SUB_RECONNECT) {
		retry_timer(s, 1);
	}
	want_frames(s);
	return s->epfd;
}

static int
shm_stats(struct fbus_sub *base, struct fbus_sub_stats *st)
{
	struct shm_sub *s = (struct shm_sub *)base;

	memset(st, 0, sizeof *st);
	st->frames = s->frames;
	st->skipped = s->skipped;
	st->dropped = s->c ? atomic_load_explicit(&s->c->a.page->dropped,
	                                          memory_order_relaxed)
	                   : 0;
	st->dropped += s->ring_lost;
	st->reconnects = s->reconnects;
	st->connected = s->c != NULL;
	if (s->grp.fd >= 0) {
		if (s->opts.mode == FBUS_MODE_EVERY)
			group_count_drops(s);
		st->group_frames = atomic_load(&s->grp.pg->frames);
		st->group_skipped = atomic_load(&s->grp.pg->skipped);
	}
	return 0;
}

static void
shm_sub_close(struct fbus_sub *base)
{
	struct shm_sub *s = (struct shm_sub *)base;

	/* frames still held die with the handle */
	for (uint32_t i = 0; i < s->opts.max_held; i++)
		if (s->held[i].cookie)
			release_one(s, i);
	disconnect(s);
	fbusi_close(s->epfd);
	fbusi_close(s->tfd);
	fbusi_group_leave(&s->grp);
	free(s->held);
	free(s);
}

static const struct fbusi_sub_ops shm_sub_ops = {
	.next = shm_next,
	.release = shm_release,
	.fd = shm_fd,
	.stats = shm_stats,
	.close = shm_sub_close,
};

int
fbusi_shm_sub_open(struct fbus_sub **out, const struct fbusi_uri *uri,
                   const struct fbus_sub_opts *opts, struct fbusi_err *err)
{
	struct shm_sub *s;
	int rc;

	if (opts->mode == FBUS_MODE_EVERY &&
	    (opts->depth == 0 ||
	     opts->depth + opts->max_held - 1 > FBUSI_MAX_DEPTH))
		return fbusi_fail(err, FBUS_EINVAL,
		                  "depth + held frames must be at most %u",
		                  FBUSI_MAX_DEPTH + 1);
	s = calloc(1, sizeof *s);
	if (!s || !(s->held = calloc(opts->max_held, sizeof *s->held))) {
		free(s);
		return FBUS_ENOMEM;
	}
	s->base.ops = &shm_sub_ops;
	s->opts = *opts;
	s->opts.group = NULL; /* the caller's string: not ours to keep */
	s->epfd = s->tfd = -1;
	s->grp.fd = -1;
	strcpy(s->name, uri->name);
	s->uri = *uri;
	if (opts->group) {
		rc = fbusi_group_join(&s->grp, uri, opts->group, opts->mode,
		                      err);
		if (rc) {
			free(s->held);
			free(s);
			return rc;
		}
		s->opts.group = s->grp.name; /* every: HELLO names it */
	}
	rc = connect_bus(s);
	if (rc && (!(opts->flags & FBUS_SUB_RECONNECT) ||
	           fbusi_connect_error_is_final(rc))) {
		*err = s->base.err;
		fbusi_group_leave(&s->grp);
		free(s->held);
		free(s);
		return rc;
	}
	*out = &s->base;
	return 0;
}

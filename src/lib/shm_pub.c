/* SPDX-License-Identifier: MIT */
/*
 * shm_pub.c — the shm: producer.  The data path (loan/commit) touches only
 * shared memory and atomics: no lock, and no syscall unless a subscriber
 * sleeps.  A control thread owns the listening socket: it admits
 * subscribers (SO_PEERCRED check, HELLO, WELCOME with fds), answers
 * `framebus ls` queries, and notices peers that die (socket HUP) so their
 * slots are freed at once.  Layout and lease protocol: shm_layout.h.
 */
#define _GNU_SOURCE
#include "ctl.h"
#include "os.h"
#include "private.h"
#include "runtime.h"
#include "shm_layout.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

enum ent_state { ENT_FREE = 0, ENT_ACTIVE = 1, ENT_DEAD = 2 };

#define MAX_PENDING 16
#define HELLO_TIMEOUT_NS (2000LL * 1000000LL)

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
	pid_t pid;
	uid_t uid;
};

struct pending {
	int fd;
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
	int lock_fd, listen_fd, wake_fd;
	pthread_t thread;
	int thread_started;
	pthread_mutex_t lock; /* control plane vs ring switch / reclaim */

	/* ring; replaced only by the data path, under lock */
	int ring_fd;
	struct fbusi_ring_hdr *ring;
	size_t ring_size;
	uint32_t gen;
	uint32_t slot_count;
	uint64_t slot_size;

	/* data path */
	uint64_t seq;
	int loaned;
	uint32_t loan_slot;
	struct ent *ents;
	uint32_t n_ents;
	_Atomic int dead_pending;
	_Atomic uint32_t n_active;

	/* stats/info: written by the data path, read by the control thread
	 * under lock (see info_update) */
	_Atomic uint64_t frames;
	_Atomic uint64_t dropped;
	_Atomic uint64_t peer_errors;
	struct fbus_format last_fmt;
	double avg_dt; /* seconds between commits, moving average */
	int64_t last_commit_ns;

	struct pending pend[MAX_PENDING];
};

static struct fbusi_slot_hdr *
slot_hdr(struct fbusi_ring_hdr *r, uint64_t slot_size, uint32_t i)
{
	return (struct fbusi_slot_hdr *)((uint8_t *)r + r->slots_offset +
	                                 (uint64_t)i * slot_size);
}

/* ---- ring ------------------------------------------------------------- */

static int
ring_create(struct shm_pub *p, uint64_t payload, char *err)
{
	uint64_t slot_size, total;
	char memname[160];
	struct fbusi_ring_hdr *r;
	int fd;

	slot_size = (FBUSI_SLOT_DATA_OFF + payload + 4095) & ~(uint64_t)4095;
	total = FBUSI_RING_SLOTS_OFF + slot_size * p->opts.slots;
	snprintf(memname, sizeof memname,
	         "framebus-ring:%s,gen=%u,slots=%u,slot=%llu", p->name,
	         p->gen + 1, p->opts.slots, (unsigned long long)slot_size);
	/* ftruncate on a memfd is sparse: pages are only allocated when a
	 * slot is first written, and we reuse the lowest free slot first. */
	fd = fbusi_memfd_sealed(memname, total);
	if (fd < 0)
		return fbusi_fail(err, fd, "memfd of %llu bytes: %s",
		                  (unsigned long long)total, fbus_strerror(fd));
	r = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r == MAP_FAILED) {
		int e = -errno;
		close(fd);
		return fbusi_fail(err, e, "mmap ring: %s", fbus_strerror(e));
	}
	r->magic = FBUSI_RING_MAGIC;
	r->version = FBUSI_SHM_VERSION;
	r->hdr_size = sizeof *r;
	r->slot_count = p->opts.slots;
	r->generation = p->gen + 1;
	r->slot_size = slot_size;
	r->slots_offset = FBUSI_RING_SLOTS_OFF;
	r->total_size = total;
	atomic_init(&r->seq_word, (uint32_t)p->seq);
	atomic_init(&r->state, FBUSI_RING_LIVE);
	atomic_init(&r->latest, 0);

	p->gen++;
	p->ring_fd = fd;
	p->ring = r;
	p->ring_size = total;
	p->slot_size = slot_size;
	p->slot_count = p->opts.slots;
	return 0;
}

static void
wake_all(struct shm_pub *p, struct fbusi_ring_hdr *r)
{
	fbusi_futex_wake((const uint32_t *)&r->seq_word, INT_MAX);
	for (uint32_t i = 0; i < p->n_ents; i++) {
		struct ent *e = &p->ents[i];
		uint64_t one = 1;

		if (atomic_load_explicit(&e->state, memory_order_acquire) ==
		        ENT_ACTIVE &&
		    write(e->efd, &one, sizeof one) < 0) {
			/* eventfd counter full: the subscriber is woken
			 * already, nothing to do */
		}
	}
}

static void
send_ring(struct shm_pub *p, struct ent *e)
{
	struct fbusi_ctl_ring m;

	fbusi_ctl_init((union fbusi_ctl *)&m, FBUSI_CTL_RING);
	m.generation = p->gen;
	m.ring_size = p->ring_size;
	/* MSG_DONTWAIT: a subscriber whose socket buffer is full of our
	 * messages is hopelessly behind; it will see a HUP instead. */
	if (fbusi_send_fds(e->sock, &m, sizeof m, &p->ring_fd, 1,
	                   MSG_DONTWAIT) < 0)
		shutdown(e->sock, SHUT_RDWR);
}

/* Replace the ring by a bigger one (or create the first).  Subscribers get
 * the new memfd over their socket before the old ring says RETIRED, so
 * whoever sees RETIRED finds the RING message already queued. */
static int
ring_switch(struct shm_pub *p, uint64_t payload, char *err)
{
	struct fbusi_ring_hdr *old = p->ring;
	size_t old_size = p->ring_size;
	int old_fd = p->ring_fd;
	int rc;

	pthread_mutex_lock(&p->lock);
	rc = ring_create(p, payload, err);
	if (rc) {
		pthread_mutex_unlock(&p->lock);
		return rc;
	}
	for (uint32_t i = 0; i < p->n_ents; i++)
		if (atomic_load_explicit(&p->ents[i].state,
		                         memory_order_acquire) == ENT_ACTIVE)
			send_ring(p, &p->ents[i]);
	pthread_mutex_unlock(&p->lock);

	if (old) {
		/* seq_cst store, then wake: pairs with the subscriber's
		 * state load after it returns from FUTEX_WAIT. */
		atomic_store(&old->state, FBUSI_RING_RETIRED);
		atomic_fetch_add(&old->seq_word, 1);
		wake_all(p, old);
		/* Queued every-mode entries of the old ring stay readable:
		 * subscribers keep their own mapping of it, and slot_in_use
		 * ignores entries of another generation. */
		munmap(old, old_size);
		close(old_fd);
	}
	return 0;
}

/* ---- subscriber table -------------------------------------------------- */

static void
reclaim_dead(struct shm_pub *p)
{
	pthread_mutex_lock(&p->lock);
	for (uint32_t i = 0; i < p->n_ents; i++) {
		struct ent *e = &p->ents[i];

		if (atomic_load_explicit(&e->state, memory_order_acquire) !=
		    ENT_DEAD)
			continue;
		munmap(e->page, e->page_size);
		fbusi_close(e->efd);
		free(e->mirror);
		e->page = NULL;
		e->mirror = NULL;
		e->efd = -1;
		/* release: the control thread may reuse the entry after its
		 * acquire load sees FREE */
		atomic_store_explicit(&e->state, ENT_FREE,
		                      memory_order_release);
	}
	atomic_store(&p->dead_pending, 0);
	pthread_mutex_unlock(&p->lock);
}

/* Called with p->lock held, by the control thread. */
static void
ent_kill(struct shm_pub *p, struct ent *e)
{
	fbusi_close(e->sock);
	e->sock = -1;
	atomic_fetch_sub(&p->n_active, 1);
	atomic_store_explicit(&e->state, ENT_DEAD, memory_order_release);
	atomic_store(&p->dead_pending, 1);
}

static int
slot_in_use(struct shm_pub *p, uint32_t s, uint64_t latest)
{
	uint32_t lease_want = ((p->gen & 0xffff) << 16) | (s + 1);

	if (latest && (latest & 0xffff) == s)
		return 1;
	for (uint32_t i = 0; i < p->n_ents; i++) {
		struct ent *e = &p->ents[i];

		if (atomic_load_explicit(&e->state, memory_order_acquire) !=
		    ENT_ACTIVE)
			continue;
		if (e->mode == FBUS_MODE_LATEST) {
			/* seq_cst: pairs with the subscriber's seq_cst lease
			 * store before it re-checks the slot seq */
			if (atomic_load(&e->page->lease) == lease_want)
				return 1;
		} else {
			/* acquire: pairs with the release store of tail in
			 * sub release(); after it, the slot is no longer
			 * read */
			uint32_t tail = atomic_load_explicit(
				&e->page->tail, memory_order_acquire);
			uint32_t used = e->head - tail;

			if (used > e->depth)
				continue; /* garbage tail: dropped in commit */
			for (uint32_t k = tail; k != e->head; k++) {
				uint64_t en = e->mirror[k % e->depth];
				if ((en & 0xffff) == s &&
				    ((en >> 16) & 0xff) == (p->gen & 0xff))
					return 1;
			}
		}
	}
	return 0;
}

/* ---- data path ----------------------------------------------------------- */

static int
shm_loan(struct fbus_pub *base, const struct fbus_format *fmt_in,
         struct fbus_slot *slot)
{
	struct shm_pub *p = (struct shm_pub *)base;
	struct fbus_format fmt = *fmt_in;
	struct fbusi_slot_hdr *h;
	uint64_t latest;
	int64_t now;
	int rc;

	if (p->loaned)
		return fbusi_fail(base->err, FBUS_EBUSY,
		                  "a slot is already on loan; commit or abort "
		                  "it first");
	rc = fbus_format_layout(&fmt);
	if (rc)
		return fbusi_fail(base->err, rc,
		                  "invalid format %s %ux%u (size %u)",
		                  fbus_pixfmt_name(fmt.pixfmt)
		                          ? fbus_pixfmt_name(fmt.pixfmt)
		                          : "?",
		                  fmt.width, fmt.height, fmt.size);
	if (atomic_load_explicit(&p->dead_pending, memory_order_relaxed))
		reclaim_dead(p);
	if (!p->ring || FBUSI_SLOT_DATA_OFF + (uint64_t)fmt.size > p->slot_size) {
		uint64_t want = fmt.size;
		if (p->opts.max_frame_bytes > want)
			want = p->opts.max_frame_bytes;
		rc = ring_switch(p, want, base->err);
		if (rc)
			return rc;
	}

	latest = atomic_load_explicit(&p->ring->latest, memory_order_relaxed);
	for (uint32_t s = 0; s < p->slot_count; s++) {
		uint64_t old_seq;

		if (slot_in_use(p, s, latest))
			continue;
		h = slot_hdr(p->ring, p->slot_size, s);
		old_seq = atomic_load_explicit(&h->seq, memory_order_relaxed);
		/* seq_cst mark, then seq_cst re-check of the leases: pairs
		 * with the subscriber's lease store + seq re-check
		 * (shm_layout.h).  If a lease appeared, that reader may have
		 * validated the old seq: give the slot back untouched. */
		atomic_store(&h->seq, 0);
		if (slot_in_use(p, s, latest)) {
			atomic_store(&h->seq, old_seq);
			continue;
		}
		now = fbus_now_mono_ns();
		memset(slot, 0, sizeof *slot);
		slot->data = (uint8_t *)h + FBUSI_SLOT_DATA_OFF;
		slot->capacity = (uint32_t)(p->slot_size - FBUSI_SLOT_DATA_OFF);
		slot->fmt = fmt;
		slot->payload_bytes = fmt.size;
		slot->meta = (uint8_t *)h + FBUSI_SLOT_META_OFF;
		slot->t_mono_ns = now;
		slot->t_real_ns = fbus_now_real_ns();
		slot->_priv[0] = s;
		slot->_priv[1] = p->gen;
		p->loaned = 1;
		p->loan_slot = s;
		return 0;
	}
	return fbusi_fail(base->err, FBUS_EBUSY,
	                  "all %u slots are held by subscribers", p->slot_count);
}

static void
shm_abort(struct fbus_pub *base, struct fbus_slot *slot)
{
	struct shm_pub *p = (struct shm_pub *)base;

	/* The slot keeps seq 0: it holds no frame anyone may read, and is
	 * free for the next loan. */
	if (p->loaned && slot->_priv[0] == p->loan_slot &&
	    slot->_priv[1] == p->gen)
		p->loaned = 0;
}

/* Every mode: wait for room in e's queue up to its block_ms. */
static int
wait_for_room(struct shm_pub *p, struct ent *e)
{
	int64_t deadline;
	uint32_t ms = e->block_ms < p->opts.max_block_ms ? e->block_ms
	                                                 : p->opts.max_block_ms;

	deadline = fbus_now_mono_ns() + (int64_t)ms * 1000000;
	for (;;) {
		uint32_t tail;
		int64_t left;

		/* seq_cst flag, then seq_cst tail re-check: pairs with
		 * the subscriber's tail store + prod_waiting load */
		atomic_store(&e->page->prod_waiting, 1);
		tail = atomic_load(&e->page->tail);
		if (e->head - tail < e->depth ||
		    atomic_load_explicit(&e->state, memory_order_acquire) !=
		            ENT_ACTIVE)
			break;
		left = (deadline - fbus_now_mono_ns()) / 1000000;
		if (left <= 0)
			break;
		fbusi_futex_wait((const uint32_t *)&e->page->tail, tail,
		                 left > 50 ? 50 : (int)left);
	}
	atomic_store(&e->page->prod_waiting, 0);
	return e->head - atomic_load(&e->page->tail) < e->depth;
}

static void
info_update(struct shm_pub *p, const struct fbus_format *fmt, int64_t now)
{
	/* Only the data path writes these; the control thread reads them
	 * under the same lock for INFO.  trylock: while the control thread
	 * admits a subscriber, skipping one rate sample beats waiting. */
	if (pthread_mutex_trylock(&p->lock) != 0)
		return;
	p->last_fmt = *fmt;
	/* Average the intervals, not the rates: a producer catching up in
	 * a burst has dt near 0, and 1/dt would dominate a mean of rates. */
	if (p->last_commit_ns && now > p->last_commit_ns) {
		double dt = (double)(now - p->last_commit_ns) / 1e9;
		p->avg_dt = p->avg_dt > 0 ? p->avg_dt * 0.95 + dt * 0.05 : dt;
	}
	p->last_commit_ns = now;
	pthread_mutex_unlock(&p->lock);
}

static int64_t
shm_commit(struct fbus_pub *base, struct fbus_slot *slot)
{
	struct shm_pub *p = (struct shm_pub *)base;
	struct fbusi_slot_hdr *h;
	uint32_t s = (uint32_t)slot->_priv[0];
	uint64_t seq;
	int any_waiting = 0;

	if (!p->loaned || s != p->loan_slot || slot->_priv[1] != p->gen)
		return fbusi_fail(base->err, FBUS_EINVAL,
		                  "commit of a slot that is not on loan");
	if (slot->meta_bytes > FBUS_META_MAX)
		return fbusi_fail(base->err, FBUS_EMSGSIZE,
		                  "metadata of %u bytes exceeds %u",
		                  slot->meta_bytes, FBUS_META_MAX);
	if (slot->fmt.pixfmt == FBUS_PIXFMT_ENCODED) {
		if (slot->payload_bytes == 0 ||
		    slot->payload_bytes > slot->fmt.size)
			return fbusi_fail(base->err, FBUS_EMSGSIZE,
			                  "encoded payload of %u bytes (loaned "
			                  "for %u)",
			                  slot->payload_bytes, slot->fmt.size);
	} else {
		slot->payload_bytes = slot->fmt.size;
	}

	h = slot_hdr(p->ring, p->slot_size, s);
	h->t_mono_ns = slot->t_mono_ns;
	h->t_real_ns = slot->t_real_ns;
	h->pixfmt = slot->fmt.pixfmt;
	h->width = slot->fmt.width;
	h->height = slot->fmt.height;
	h->nplanes = slot->fmt.nplanes;
	for (int i = 0; i < FBUS_MAX_PLANES; i++) {
		h->stride[i] = slot->fmt.stride[i];
		h->offset[i] = slot->fmt.offset[i];
	}
	h->payload_bytes = slot->payload_bytes;
	h->meta_bytes = slot->meta_bytes;
	seq = ++p->seq;
	/* release: publishes header + pixels; pairs with the subscriber's
	 * seq_cst re-check after taking its lease / its entry */
	atomic_store_explicit(&h->seq, seq, memory_order_release);
	p->loaned = 0;

	for (uint32_t i = 0; i < p->n_ents; i++) {
		struct ent *e = &p->ents[i];
		uint64_t en;
		uint32_t tail;

		if (atomic_load_explicit(&e->state, memory_order_acquire) !=
		            ENT_ACTIVE ||
		    e->mode != FBUS_MODE_EVERY)
			continue;
		tail = atomic_load_explicit(&e->page->tail,
		                            memory_order_acquire);
		if (e->head - tail > e->depth) {
			/* The subscriber scribbled on its queue.  It only
			 * hurts itself; stop serving it. */
			fbusi_pub_log(base, FBUS_LOG_WARN,
			              "subscriber pid %d corrupted its queue; "
			              "dropping it",
			              (int)e->pid);
			shutdown(e->sock, SHUT_RDWR);
			continue;
		}
		if (e->head - tail == e->depth &&
		    (e->policy != FBUS_FULL_BLOCK || !wait_for_room(p, e))) {
			e->dropped++;
			atomic_fetch_add(&p->dropped, 1);
			/* relaxed: a statistic the subscriber reads */
			atomic_store_explicit(&e->page->dropped, e->dropped,
			                      memory_order_relaxed);
			continue;
		}
		en = fbusi_entry_pack(seq, p->gen, s);
		e->mirror[e->head % e->depth] = en;
		atomic_store_explicit(&e->page->entries[e->head % e->depth],
		                      en, memory_order_relaxed);
		e->head++;
		/* release: publishes the entry; pairs with the acquire load
		 * of head in sub next() */
		atomic_store_explicit(&e->page->head, e->head,
		                      memory_order_release);
	}

	/* release: latest subscribers may read the slot after an acquire
	 * load of latest */
	atomic_store_explicit(&p->ring->latest, (seq << 16) | s,
	                      memory_order_release);
	/* seq_cst store, then seq_cst loads of `waiting`: pairs with the
	 * subscriber's seq_cst waiting=1 store and seq_word re-check before
	 * FUTEX_WAIT, so a sleeper is never missed and nobody sleeping
	 * means no syscall. */
	atomic_store(&p->ring->seq_word, (uint32_t)seq);
	for (uint32_t i = 0; i < p->n_ents; i++) {
		struct ent *e = &p->ents[i];

		if (atomic_load_explicit(&e->state, memory_order_acquire) !=
		    ENT_ACTIVE)
			continue;
		if (atomic_load(&e->page->waiting))
			any_waiting = 1;
		/* seq_cst exchange pairs with the subscriber clearing
		 * efd_pending before it looks for frames */
		if (atomic_load_explicit(&e->page->armed,
		                         memory_order_relaxed) &&
		    atomic_exchange(&e->page->efd_pending, 1) == 0) {
			uint64_t one = 1;
			if (write(e->efd, &one, sizeof one) < 0) {
				/* counter saturated: already readable */
			}
		}
	}
	if (any_waiting)
		fbusi_futex_wake((const uint32_t *)&p->ring->seq_word,
		                 INT_MAX);

	atomic_fetch_add_explicit(&p->frames, 1, memory_order_relaxed);
	/* the commit time, not the capture stamp the caller may have set */
	info_update(p, &slot->fmt, fbus_now_mono_ns());
	return (int64_t)seq;
}

static int
shm_stats(struct fbus_pub *base, struct fbus_pub_stats *st)
{
	struct shm_pub *p = (struct shm_pub *)base;

	memset(st, 0, sizeof *st);
	st->frames = atomic_load(&p->frames);
	st->dropped = atomic_load(&p->dropped);
	st->peer_errors = atomic_load(&p->peer_errors);
	st->subscribers = atomic_load(&p->n_active);
	return 0;
}

/* ---- control thread ------------------------------------------------------ */

static void
peer_error(struct shm_pub *p, int fd, int code, const char *fmt, ...)
	FBUSI_PRINTF(4, 5);

/* Record why a peer was refused, tell it if it still listens, close it. */
static void
peer_error(struct shm_pub *p, int fd, int code, const char *fmt, ...)
{
	struct fbusi_ctl_refuse m;
	va_list ap;

	char sink[FBUSI_CTL_MAX];
	int nfds, fds[FBUSI_MAX_FDS];

	fbusi_ctl_init((union fbusi_ctl *)&m, FBUSI_CTL_REFUSE);
	m.code = code;
	va_start(ap, fmt);
	vsnprintf(m.text, sizeof m.text, fmt, ap);
	va_end(ap);
	fbusi_send_fds(fd, &m, sizeof m, NULL, 0, MSG_DONTWAIT);
	/* Closing with unread input makes Linux report ECONNRESET to the
	 * peer ahead of our REFUSE: drain what is queued first. */
	for (int i = 0; i < 16 && fbusi_recv_fds(fd, sink, sizeof sink, fds, 0,
	                                         &nfds, MSG_DONTWAIT) > 0;
	     i++)
		;
	close(fd);
	atomic_fetch_add(&p->peer_errors, 1);
	fbusi_pub_log(&p->base, FBUS_LOG_WARN, "%s", m.text);
}

static int
uid_allowed(struct shm_pub *p, uid_t uid, gid_t gid)
{
	if (uid == getuid())
		return 1;
	for (uint32_t i = 0; i < p->opts.n_allow_uids; i++)
		if (p->opts.allow_uids[i] == uid)
			return 1;
	for (uint32_t i = 0; i < p->opts.n_allow_gids; i++)
		if (p->opts.allow_gids[i] == gid)
			return 1;
	return 0;
}

static void
do_accept(struct shm_pub *p)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	int fd = accept4(p->listen_fd, NULL, NULL,
	                 SOCK_CLOEXEC | SOCK_NONBLOCK);
	int k;

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		peer_error(p, fd, FBUS_EACCES, "no peer credentials");
		return;
	}
	for (k = 0; k < MAX_PENDING && p->pend[k].fd >= 0; k++)
		;
	if (k == MAX_PENDING) {
		peer_error(p, fd, FBUS_EAGAIN,
		           "too many connections waiting for HELLO");
		return;
	}
	p->pend[k].fd = fd;
	p->pend[k].pid = cred.pid;
	p->pend[k].uid = cred.uid;
	/* refuse after its HELLO is read, so the REFUSE reaches it */
	p->pend[k].refused = !uid_allowed(p, cred.uid, cred.gid);
	p->pend[k].deadline = fbus_now_mono_ns() + HELLO_TIMEOUT_NS;
}

/* Called with p->lock held. */
static void
send_info(struct shm_pub *p, int fd)
{
	struct fbusi_ctl_info m;

	fbusi_ctl_init((union fbusi_ctl *)&m, FBUSI_CTL_INFO);
	m.pid = getpid();
	m.subscribers = atomic_load(&p->n_active);
	m.frames = atomic_load(&p->frames);
	/* p->lock is held by our caller: last_fmt/fps are consistent */
	/* a rate from frames long ago is not "the" rate: decay to 0 */
	m.fps = fbus_now_mono_ns() - p->last_commit_ns < 3000000000LL &&
	                p->avg_dt > 0
	        ? 1.0 / p->avg_dt
	        : 0.0;
	m.fmt = p->last_fmt;
	fbusi_send_fds(fd, &m, sizeof m, NULL, 0, MSG_DONTWAIT);
}

static uint32_t
slots_reserved(struct shm_pub *p)
{
	uint32_t n = 2; /* the newest frame, and the one being written */

	for (uint32_t i = 0; i < p->n_ents; i++)
		if (atomic_load_explicit(&p->ents[i].state,
		                         memory_order_acquire) == ENT_ACTIVE)
			n += p->ents[i].mode == FBUS_MODE_EVERY
			             ? p->ents[i].depth
			             : 1;
	return n;
}

/* Admit a subscriber after a valid HELLO; called with p->lock held. */
static void
admit(struct shm_pub *p, struct pending *pd, const struct fbusi_ctl_hello *hi)
{
	struct fbusi_ctl_welcome w;
	struct ent *e = NULL;
	uint32_t need = hi->mode == FBUS_MODE_EVERY ? hi->depth : 1;
	size_t page_size;
	char memname[160];
	int fds[3], nfds = 2, rc, page_fd;

	for (uint32_t i = 0; i < p->n_ents; i++)
		if (atomic_load_explicit(&p->ents[i].state,
		                         memory_order_acquire) == ENT_FREE) {
			e = &p->ents[i];
			break;
		}
	if (!e) {
		peer_error(p, pd->fd, -ENOSPC,
		           "bus '%s' has its maximum of %u subscribers",
		           p->name, p->opts.max_subscribers);
		return;
	}
	if (slots_reserved(p) + need > p->opts.slots) {
		peer_error(p, pd->fd, -ENOSPC,
		           "bus '%s': %u more slots needed, the ring has %u "
		           "and %u are reserved (lower the depth or open the "
		           "producer with more slots)",
		           p->name, need, p->opts.slots, slots_reserved(p));
		return;
	}
	page_size = (FBUSI_PAGE_ENTRIES_OFF + hi->depth * sizeof(uint64_t) +
	             4095) & ~(size_t)4095;
	snprintf(memname, sizeof memname, "framebus-page:%s,pid=%d",
	         p->name, (int)pd->pid);
	page_fd = fbusi_memfd_sealed(memname, page_size);
	if (page_fd < 0) {
		peer_error(p, pd->fd, page_fd, "memfd: %s",
		           fbus_strerror(page_fd));
		return;
	}
	e->page = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	               page_fd, 0);
	e->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	e->mirror = calloc(hi->depth, sizeof(uint64_t));
	if (e->page == MAP_FAILED || e->efd < 0 || !e->mirror) {
		if (e->page != MAP_FAILED)
			munmap(e->page, page_size);
		fbusi_close(e->efd);
		free(e->mirror);
		close(page_fd);
		e->page = NULL, e->efd = -1, e->mirror = NULL;
		peer_error(p, pd->fd, FBUS_ENOMEM, "out of resources");
		return;
	}
	e->page->magic = FBUSI_PAGE_MAGIC;
	e->page->version = FBUSI_SHM_VERSION;
	e->page->hdr_size = FBUSI_PAGE_ENTRIES_OFF;
	e->page->depth = hi->depth;
	e->page->mode = hi->mode;
	e->page_size = page_size;
	e->mode = hi->mode;
	e->depth = hi->depth;
	e->policy = hi->policy;
	e->block_ms = hi->block_ms;
	e->head = 0;
	e->dropped = 0;
	e->pid = pd->pid;
	e->uid = pd->uid;
	e->sock = pd->fd;

	fbusi_ctl_init((union fbusi_ctl *)&w, FBUSI_CTL_WELCOME);
	w.version = FBUSI_CTL_VERSION;
	w.page_size = page_size;
	fds[0] = page_fd;
	fds[1] = e->efd;
	if (p->ring) {
		w.generation = p->gen;
		w.ring_size = p->ring_size;
		fds[2] = p->ring_fd;
		nfds = 3;
	}
	rc = fbusi_send_fds(pd->fd, &w, sizeof w, fds, nfds, MSG_DONTWAIT);
	close(page_fd); /* the mapping keeps the memory */
	if (rc < 0) {
		munmap(e->page, page_size);
		close(e->efd);
		free(e->mirror);
		e->page = NULL, e->efd = -1, e->mirror = NULL;
		close(pd->fd);
		return;
	}
	atomic_fetch_add(&p->n_active, 1);
	/* release: publishes the entry to the data path's acquire loads */
	atomic_store_explicit(&e->state, ENT_ACTIVE, memory_order_release);
}

static void
on_pending(struct shm_pub *p, struct pending *pd)
{
	char buf[FBUSI_CTL_MAX + 1], err[FBUSI_ERRLEN];
	union fbusi_ctl m;
	int fds[FBUSI_MAX_FDS], nfds = 0, t;
	long n;

	n = fbusi_recv_fds(pd->fd, buf, sizeof buf, fds, 0, &nfds,
	                   MSG_DONTWAIT);
	if (n == -EAGAIN)
		return;
	if (n <= 0) {
		if (n < 0 && n != -ECONNRESET)
			peer_error(p, pd->fd, FBUS_EPROTO,
			           "bus '%s': bad message from pid %d: %s",
			           p->name, (int)pd->pid, fbus_strerror((int)n));
		else
			close(pd->fd);
		pd->fd = -1;
		return;
	}
	/* max_fds 0: any fd a peer sends is closed and the message is an
	 * error, so nothing to close here */
	t = fbusi_ctl_parse(buf, n, nfds, &m, err);
	if (pd->refused) {
		peer_error(p, pd->fd, FBUS_EACCES,
		           "bus '%s': uid %u (pid %d) is not allowed", p->name,
		           (unsigned)pd->uid, (int)pd->pid);
	} else if (t == FBUSI_CTL_HELLO) {
		admit(p, pd, &m.hello);
	} else if (t == FBUSI_CTL_QUERY) {
		send_info(p, pd->fd);
		close(pd->fd);
	} else {
		peer_error(p, pd->fd, t < 0 ? t : FBUS_EPROTO,
		           "bus '%s': pid %d: %s", p->name, (int)pd->pid,
		           t < 0 ? err : "unexpected message type");
	}
	pd->fd = -1;
}

static void *
ctl_thread(void *arg)
{
	struct shm_pub *p = arg;
	struct pollfd *pfd;
	int *map; /* pfd index -> ent index, or -(pending index) - 1 */
	size_t cap = 2 + MAX_PENDING + p->n_ents;

	pfd = calloc(cap, sizeof *pfd);
	map = calloc(cap, sizeof *map);
	if (!pfd || !map) {
		free(pfd);
		free(map);
		return NULL;
	}
	for (;;) {
		size_t n = 0;
		int64_t now;

		pfd[n++] = (struct pollfd){ p->wake_fd, POLLIN, 0 };
		pfd[n++] = (struct pollfd){ p->listen_fd, POLLIN, 0 };
		for (int k = 0; k < MAX_PENDING; k++)
			if (p->pend[k].fd >= 0) {
				map[n] = -k - 1;
				pfd[n++] = (struct pollfd){ p->pend[k].fd,
					                    POLLIN, 0 };
			}
		pthread_mutex_lock(&p->lock);
		for (uint32_t i = 0; i < p->n_ents; i++)
			if (atomic_load(&p->ents[i].state) == ENT_ACTIVE) {
				map[n] = (int)i;
				pfd[n++] = (struct pollfd){ p->ents[i].sock,
					                    POLLIN, 0 };
			}
		pthread_mutex_unlock(&p->lock);

		if (poll(pfd, n, 250) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		if (pfd[1].revents & POLLIN)
			do_accept(p);
		pthread_mutex_lock(&p->lock);
		for (size_t i = 2; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (map[i] < 0) {
				on_pending(p, &p->pend[-map[i] - 1]);
			} else {
				struct ent *e = &p->ents[map[i]];
				char c;

				/* A subscriber sends nothing after HELLO;
				 * data here is a protocol error, HUP a
				 * normal leave (or a kill -9). */
				if ((pfd[i].revents & POLLIN) &&
				    recv(e->sock, &c, 1, MSG_DONTWAIT |
				                             MSG_PEEK) > 0) {
					atomic_fetch_add(&p->peer_errors, 1);
					fbusi_pub_log(&p->base, FBUS_LOG_WARN,
					              "bus '%s': subscriber pid "
					              "%d sent data after HELLO; "
					              "dropped",
					              p->name, (int)e->pid);
				}
				ent_kill(p, e);
			}
		}
		now = fbus_now_mono_ns();
		for (int k = 0; k < MAX_PENDING; k++)
			if (p->pend[k].fd >= 0 && now > p->pend[k].deadline) {
				peer_error(p, p->pend[k].fd, FBUS_ETIMEDOUT,
				           "bus '%s': pid %d sent no HELLO in "
				           "time",
				           p->name, (int)p->pend[k].pid);
				p->pend[k].fd = -1;
			}
		pthread_mutex_unlock(&p->lock);
	}
	free(pfd);
	free(map);
	return NULL;
}

/* ---- open / close --------------------------------------------------------- */

static void shm_pub_close(struct fbus_pub *base);

static const struct fbusi_pub_ops shm_pub_ops = {
	.loan = shm_loan,
	.commit = shm_commit,
	.abort = shm_abort,
	.stats = shm_stats,
	.close = shm_pub_close,
};

/* Take the name: flock on NAME.lock is authoritative (two producers racing
 * cannot both win); a socket file without a lock holder is stale. */
static int
claim_name(struct shm_pub *p, char *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t len = sizeof cred;
	int rc, probe;

	p->lock_fd = open(p->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (p->lock_fd < 0)
		return fbusi_fail(err, -errno, "cannot open %s: %s",
		                  p->lock_path, fbus_strerror(-errno));
	if (flock(p->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int pid = 0;

		if (fbusi_unix_connect(p->sock_path, &probe, NULL) == 0) {
			if (getsockopt(probe, SOL_SOCKET, SO_PEERCRED, &cred,
			               &len) == 0)
				pid = cred.pid;
			close(probe);
		}
		close(p->lock_fd);
		p->lock_fd = -1;
		return fbusi_fail(err, FBUS_EADDRINUSE,
		                  "bus '%s' already has a producer (pid %d)",
		                  p->name, pid);
	}
	/* We hold the lock: any socket file is a leftover of a producer
	 * that died; make sure nobody listens, then reclaim it. */
	rc = fbusi_unix_connect(p->sock_path, &probe, NULL);
	if (rc == 0) {
		close(probe);
		return fbusi_fail(err, FBUS_EADDRINUSE,
		                  "bus '%s': %s is served by a process that "
		                  "does not hold %s",
		                  p->name, p->sock_path, p->lock_path);
	}
	if (rc == FBUS_ECONNREFUSED)
		unlink(p->sock_path);

	p->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC |
	                                        SOCK_NONBLOCK,
	                      0);
	if (p->listen_fd < 0)
		return fbusi_fail(err, -errno, "socket: %s",
		                  fbus_strerror(-errno));
	strcpy(sa.sun_path, p->sock_path);
	if (bind(p->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return fbusi_fail(err, -errno, "bind %s: %s", p->sock_path,
		                  fbus_strerror(-errno));
	/* the directory is 0700 already; this is defence in depth */
	chmod(p->sock_path, 0600);
	if (listen(p->listen_fd, 64) < 0)
		return fbusi_fail(err, -errno, "listen: %s",
		                  fbus_strerror(-errno));
	return 0;
}

int
fbusi_shm_pub_open(struct fbus_pub **out, const struct fbusi_uri *uri,
                   const struct fbus_pub_opts *opts, char *err)
{
	struct shm_pub *p;
	int rc;

	if (opts->slots < 3 || opts->slots > 0xffff)
		return fbusi_fail(err, FBUS_EINVAL, "slots must be 3..65535");
	if (opts->max_frame_bytes > FBUS_MAX_FRAME_BYTES)
		return fbusi_fail(err, FBUS_EINVAL,
		                  "max_frame_bytes above %u",
		                  FBUS_MAX_FRAME_BYTES);
	p = calloc(1, sizeof *p);
	if (!p)
		return FBUS_ENOMEM;
	p->base.ops = &shm_pub_ops;
	p->opts = *opts;
	p->lock_fd = p->listen_fd = p->wake_fd = p->ring_fd = -1;
	for (int k = 0; k < MAX_PENDING; k++)
		p->pend[k].fd = -1;
	strcpy(p->name, uri->name);
	pthread_mutex_init(&p->lock, NULL);
	p->n_ents = opts->max_subscribers;
	p->ents = calloc(p->n_ents, sizeof *p->ents);
	if (!p->ents) {
		rc = FBUS_ENOMEM;
		goto err;
	}
	for (uint32_t i = 0; i < p->n_ents; i++) {
		p->ents[i].sock = p->ents[i].efd = -1;
		atomic_init(&p->ents[i].state, ENT_FREE);
	}
	rc = fbusi_runtime_dir_ensure(err);
	if (!rc)
		rc = fbusi_runtime_path(p->name, ".sock", p->sock_path,
		                        sizeof p->sock_path, err);
	if (!rc)
		rc = fbusi_runtime_path(p->name, ".lock", p->lock_path,
		                        sizeof p->lock_path, err);
	if (!rc)
		rc = claim_name(p, err);
	if (rc)
		goto err;
	p->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (p->wake_fd < 0) {
		rc = fbusi_fail(err, -errno, "eventfd: %s",
		                fbus_strerror(-errno));
		goto err;
	}
	if (opts->max_frame_bytes) {
		rc = ring_create(p, opts->max_frame_bytes, err);
		if (rc)
			goto err;
	}
	rc = pthread_create(&p->thread, NULL, ctl_thread, p);
	if (rc) {
		rc = fbusi_fail(err, -rc, "cannot start control thread");
		goto err;
	}
	p->thread_started = 1;
	*out = &p->base;
	return 0;
err:
	shm_pub_close(&p->base);
	return rc;
}

static void
shm_pub_close(struct fbus_pub *base)
{
	struct shm_pub *p = (struct shm_pub *)base;

	if (p->thread_started) {
		uint64_t one = 1;
		if (write(p->wake_fd, &one, sizeof one) < 0) {
			/* cannot fail for a fresh eventfd */
		}
		pthread_join(p->thread, NULL);
	}
	if (p->ring) {
		/* seq_cst: subscribers re-check state after every wake */
		atomic_store(&p->ring->state, FBUSI_RING_CLOSED);
		atomic_fetch_add(&p->ring->seq_word, 1);
		wake_all(p, p->ring);
	}
	/* unlink before closing the listener: from here on a new producer
	 * may take the name */
	if (p->listen_fd >= 0) {
		unlink(p->sock_path);
		close(p->listen_fd);
	}
	for (int k = 0; k < MAX_PENDING; k++)
		fbusi_close(p->pend[k].fd);
	for (uint32_t i = 0; p->ents && i < p->n_ents; i++) {
		struct ent *e = &p->ents[i];
		int st = atomic_load(&e->state);

		if (st == ENT_ACTIVE)
			fbusi_close(e->sock);
		if (st != ENT_FREE) {
			munmap(e->page, e->page_size);
			fbusi_close(e->efd);
			free(e->mirror);
		}
	}
	if (p->ring)
		munmap(p->ring, p->ring_size);
	fbusi_close(p->ring_fd);
	fbusi_close(p->wake_fd);
	if (p->lock_fd >= 0) {
		unlink(p->lock_path);
		close(p->lock_fd);
	}
	pthread_mutex_destroy(&p->lock);
	free(p->ents);
	free(p);
}

/* SPDX-License-Identifier: MIT */
/*
 * shm/pub.c — the shm: producer's data path (loan/commit) and its open and
 * close.  The data path touches only shared memory and atomics, and no
 * syscall unless a subscriber sleeps; the ring lives in ring.c and the
 * control thread that admits subscribers in admit.c.  Layout and lease
 * protocol: shm/layout.h.
 */
#define _GNU_SOURCE
#include "os.h"
#include "runtime.h"
#include "shm/pub.h"
#include "shm/spin.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
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
#include <time.h>
#include <unistd.h>

/* ---- subscriber table -------------------------------------------------- */

static bool redeliver(struct shm_pub *p, struct ent *dead);

/* Free what the control thread's DEAD entries held.  No lock: an entry
 * is the control thread's while FREE or ACTIVE and ours while DEAD. */
static void
reclaim_dead(struct shm_pub *p)
{
	/* cleared first: an entry killed during the scan sets it again */
	atomic_store(&p->dead_pending, 0);
	for (uint32_t i = 0; i < p->n_ents; i++) {
		struct ent *e = &p->ents[i];

		if (atomic_load_explicit(&e->state, memory_order_acquire) !=
		    ENT_DEAD)
			continue;
		if (e->mode == FBUS_MODE_EVERY && e->group[0] &&
		    !redeliver(p, e)) {
			/* the rest when the group has room: look again at
			 * the next loan */
			atomic_store(&p->dead_pending, 1);
			continue;
		}
		e->passing = false;
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
}


static int
slot_in_use(struct shm_pub *p, uint32_t s, uint64_t latest)
{
	uint32_t lease_want = ((p->gen & 0xffff) << 16) | (s + 1);

	if (latest && (latest & 0xffff) == s)
		return 1;
	for (uint32_t i = 0; i < p->n_ents; i++) {
		struct ent *e = &p->ents[i];

		/* a DEAD one's frames stay its own until reclaim_dead has
		 * passed them on (every groups: redeliver) */
		if (atomic_load_explicit(&e->state, memory_order_acquire) ==
		    ENT_FREE)
			continue;
		if (e->mode == FBUS_MODE_LATEST) {
			/* seq_cst: pairs with the subscriber's seq_cst lease
			 * store before it re-checks the slot seq; e->depth is
			 * ours (from HELLO), never read back from the page */
			for (uint32_t k = 0; k < e->depth; k++)
				if (atomic_load(&e->page->entries[k]) ==
				    lease_want)
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
		return fbusi_fail(&base->err, FBUS_EBUSY,
		                  "a slot is already on loan; commit or abort "
		                  "it first");
	rc = fbus_format_layout(&fmt);
	if (rc)
		return fbusi_fail(&base->err, rc,
		                  "invalid format %s %ux%u (size %u)",
		                  fbus_pixfmt_name(fmt.pixfmt)
		                          ? fbus_pixfmt_name(fmt.pixfmt)
		                          : "?",
		                  fmt.width, fmt.height, fmt.size);
	if (atomic_load_explicit(&p->dead_pending, memory_order_relaxed))
		reclaim_dead(p);
	if (!p->hdr || FBUSI_SLOT_DATA_OFF + (uint64_t)fmt.size > p->slot_size) {
		uint64_t want = fmt.size;
		if (p->opts.max_frame_bytes > want)
			want = p->opts.max_frame_bytes;
		rc = fbusi_shm_ring_switch(p, want, &base->err);
		if (rc)
			return rc;
	}

	latest = p->latest;
	for (uint32_t s = 0; s < p->slot_count; s++) {
		uint64_t old_seq;

		if (slot_in_use(p, s, latest))
			continue;
		h = slot_hdr(p->hdr, p->slot_size, s);
		old_seq = atomic_load_explicit(&h->seq, memory_order_relaxed);
		/* seq_cst mark, then seq_cst re-check of the leases: pairs
		 * with the subscriber's lease store + seq re-check
		 * (shm/layout.h).  If a lease appeared, that reader may have
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
		slot->t_mono_ns = p->loan_mono = now;
		slot->t_real_ns = p->loan_real = fbus_now_real_ns();
		slot->_priv[0] = s;
		slot->_priv[1] = p->gen;
		p->loaned = 1;
		p->loan_slot = s;
		return 0;
	}
	return fbusi_fail(&base->err, FBUS_EBUSY,
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

static bool
room_ready(void *arg)
{
	struct ent *e = arg;

	return e->head - atomic_load(&e->page->tail) < e->depth ||
	       atomic_load_explicit(&e->state, memory_order_acquire) !=
	               ENT_ACTIVE;
}

/* Every mode: wait for room in e's queue up to its block_ms.  A reader
 * that made room quickly last time is spun for first (shm/spin.h): then
 * neither side makes a syscall. */
static int
wait_for_room(struct shm_pub *p, struct ent *e)
{
	int64_t t0 = fbus_now_mono_ns(), deadline;
	uint32_t ms = e->block_ms < p->opts.max_block_ms ? e->block_ms
	                                                 : p->opts.max_block_ms;

	if (e->spin && fbusi_spin(room_ready, e))
		return e->head - atomic_load(&e->page->tail) < e->depth;
	deadline = t0 + (int64_t)ms * 1000000;
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
	e->spin = fbusi_spin_useful(atomic_load_explicit(
	                  &p->n_active, memory_order_relaxed)) &&
	          fbus_now_mono_ns() - t0 < FBUSI_SPIN_ADAPT_NS;
	return e->head - atomic_load(&e->page->tail) < e->depth;
}

/* A full every queue: true when its block policy made room.  A reader
 * that lets FBUS_BLOCK_STRIKES waits in a row time out has stopped, not
 * slowed down: it is demoted to drop until it has emptied its queue, so
 * the producer's rate for everyone else recovers at once. */
static bool
room_after_block(struct shm_pub *p, struct ent *e)
{
	if (e->policy != FBUS_FULL_BLOCK || e->demoted)
		return false;
	if (wait_for_room(p, e)) {
		e->strikes = 0;
		return true;
	}
	if (++e->strikes >= FBUS_BLOCK_STRIKES) {
		e->demoted = true;
		e->strikes = 0;
		fbusi_shm_peer_demoted(
			p,
			"bus '%s': subscriber pid %d read nothing for %u "
			"blocks in a row; its full queue drops frames until "
			"it has emptied it",
			p->name, (int)e->pid, FBUS_BLOCK_STRIKES);
	}
	return false;
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

/* Bring base.err up to date with the last dropped peer.  trylock: the
 * data path never waits for the control thread. */
static void
take_peer_err(struct shm_pub *p)
{
	/* acquire: pairs with the release store in fbusi_shm_peer_dropped */
	if (!atomic_load_explicit(&p->peer_err_new, memory_order_acquire) ||
	    pthread_mutex_trylock(&p->err_lock) != 0)
		return;
	p->base.err = p->peer_err;
	atomic_store_explicit(&p->peer_err_new, 0, memory_order_relaxed);
	pthread_mutex_unlock(&p->err_lock);
}

/* Every mode: e's frames queued or held, or UINT32_MAX when the
 * subscriber scribbled on its tail.  seq_cst: the producer's side of the
 * prod_waiting / tail pair (see wait_for_room). */
static uint32_t
queued(struct ent *e)
{
	uint32_t used = e->head - atomic_load(&e->page->tail);

	return used > e->depth ? UINT32_MAX : used;
}

/* The subscriber scribbled on its queue.  It only hurts itself; stop
 * serving it.  The socket is the control thread's: ask it to hang up
 * (closing it here could hit a reused fd). */
static void
kick_corrupt(struct shm_pub *p, struct ent *e)
{
	if (!atomic_exchange(&e->kick, 1)) {
		fbusi_shm_peer_dropped(p,
		                       "bus '%s': subscriber pid %d corrupted "
		                       "its queue; dropped",
		                       p->name, (int)e->pid);
		fbusi_shm_wake_ctl(p);
	}
}

static void
push_entry(struct ent *e, uint64_t en)
{
	e->mirror[e->head % e->depth] = en;
	atomic_store_explicit(&e->page->entries[e->head % e->depth], en,
	                      memory_order_relaxed);
	e->head++;
	e->given = en >> 24; /* a group's equal members take turns */
	/* seq_cst: publishes the entry (pairs with the acquire load of head
	 * in sub next()) and comes before wake_member's load of `waiting` */
	atomic_store(&e->page->head, e->head);
}

static bool
own_wake(const struct ent *e)
{
	return e->mode == FBUS_MODE_EVERY && e->group[0];
}

/* An every-mode group member sleeps on its own page's head word, not on
 * the ring's: a frame queued to it wakes it alone, and the rest of the
 * group sleeps on (no herd).  The seq_cst head store above, then this
 * load of `waiting`: pairs with the member's waiting=1 store and head
 * re-check before FUTEX_WAIT. */
static void
wake_member(struct ent *e)
{
	if (atomic_load(&e->page->waiting))
		fbusi_futex_wake((const uint32_t *)&e->page->head, 1);
	if (atomic_load_explicit(&e->page->armed, memory_order_relaxed))
		fbusi_page_ring(e->page, e->efd);
}

static void
count_drop(struct shm_pub *p, struct ent *e)
{
	e->dropped++;
	atomic_fetch_add(&p->dropped, 1);
	/* relaxed: a statistic the subscriber reads */
	atomic_store_explicit(&e->page->dropped, e->dropped,
	                      memory_order_relaxed);
}

static bool
active_member(const struct ent *m, const char *group)
{
	return atomic_load_explicit(&m->state, memory_order_acquire) ==
	               ENT_ACTIVE &&
	       m->mode == FBUS_MODE_EVERY && !strcmp(m->group, group);
}

/* Frame seq of entry i's every-mode group was queued already, at an
 * earlier member -- which may have died since (DEAD until reclaim_dead,
 * which only this thread runs), so membership now cannot tell. */
static bool
group_served(struct shm_pub *p, uint32_t i, uint64_t seq)
{
	for (uint32_t j = 0; j < i; j++) {
		const struct ent *m = &p->ents[j];

		if (atomic_load_explicit(&m->state, memory_order_acquire) !=
		            ENT_FREE &&
		    m->mode == FBUS_MODE_EVERY && m->served == seq &&
		    !strcmp(m->group, p->ents[i].group))
			return true;
	}
	return false;
}

/* The member of `group` the next frame goes to: one with room before one
 * without, then the fewest frames queued or held -- join the shortest
 * queue: a free member has none, so it gets the frame.  Ties go to the
 * member given a frame longest ago, so equal members take turns.  NULL:
 * no member left. */
static struct ent *
group_pick(struct shm_pub *p, const char *group)
{
	struct ent *best = NULL;
	uint64_t best_key = UINT64_MAX;

	for (uint32_t k = 0; k < p->n_ents; k++) {
		struct ent *m = &p->ents[k];
		uint32_t used;
		uint64_t key;

		if (!active_member(m, group))
			continue;
		used = queued(m);
		if (used == UINT32_MAX) {
			kick_corrupt(p, m);
			continue;
		}
		if (used == 0)
			m->demoted = false; /* emptied: it reads again */
		key = ((uint64_t)(used >= m->depth) << 32) | used;
		if (key < best_key ||
		    (key == best_key && m->given < best->given)) {
			best = m;
			best_key = key;
		}
	}
	return best;
}

/* prod_waiting on every member's page: their tail stores wake us. */
static void
group_waiting(struct shm_pub *p, const char *group, uint32_t on)
{
	for (uint32_t k = 0; k < p->n_ents; k++)
		if (active_member(&p->ents[k], group))
			atomic_store(&p->ents[k].page->prod_waiting, on);
}

/* Every-mode group g (its first member): the member to queue the next
 * frame to, or NULL to drop it (charged to *charge).  All queues full and the
 * block policy: wait until any member has room.  Each member wakes only
 * the futex on its own tail, so the wait looks at all of them every
 * millisecond -- it only happens when the whole group is behind. */
static struct ent *
group_member_for(struct shm_pub *p, struct ent *g, struct ent **charge)
{
	struct ent *m = group_pick(p, g->group);
	uint32_t ms;
	int64_t deadline;
	bool room = false;

	*charge = m;
	if (!m || queued(m) < m->depth)
		return m;
	if (m->policy != FBUS_FULL_BLOCK || m->demoted)
		return NULL;
	ms = m->block_ms < p->opts.max_block_ms ? m->block_ms
	                                         : p->opts.max_block_ms;
	deadline = fbus_now_mono_ns() + (int64_t)ms * 1000000;
	for (;;) {
		uint32_t tail;
		int64_t left;

		/* seq_cst flags, then seq_cst tail loads in group_pick:
		 * pairs with the subscriber's tail store + flag load */
		group_waiting(p, g->group, 1);
		m = group_pick(p, g->group);
		if (!m || (room = queued(m) < m->depth))
			break;
		tail = atomic_load(&m->page->tail);
		left = (deadline - fbus_now_mono_ns()) / 1000000;
		if (left <= 0 || m->head - tail < m->depth)
			break;
		fbusi_futex_wait((const uint32_t *)&m->page->tail, tail, 1);
	}
	group_waiting(p, g->group, 0);
	*charge = m;
	if (!m)
		return NULL;
	if (room || queued(m) < m->depth) {
		for (uint32_t k = 0; k < p->n_ents; k++)
			if (active_member(&p->ents[k], g->group))
				p->ents[k].strikes = 0;
		return m;
	}
	/* as for one reader: FBUS_BLOCK_STRIKES waits in a row that time
	 * out mean the whole group stopped; it drops until a member has
	 * emptied its queue */
	if (++m->strikes >= FBUS_BLOCK_STRIKES) {
		for (uint32_t k = 0; k < p->n_ents; k++)
			if (active_member(&p->ents[k], g->group)) {
				p->ents[k].demoted = true;
				p->ents[k].strikes = 0;
			}
		fbusi_shm_peer_demoted(
			p,
			"bus '%s': worker group '%s' read nothing for %u "
			"blocks in a row; its full queues drop frames until "
			"a member has emptied its own",
			p->name, g->group, FBUS_BLOCK_STRIKES);
	}
	return NULL;
}

/* A member of an every-mode group died: what was queued to it, taken or
 * not, goes to the other members, so no frame of the group's queue is
 * lost with it -- at least once, then: one it was working on when it died
 * is worked on again.  Its slots stay reserved while it is DEAD
 * (slot_in_use), so each entry still names its frame.  Never waits: what
 * finds no room waits in the dead entry for the next loan, ahead of the
 * frames committed after it.  True when all is passed on. */
static bool
redeliver(struct shm_pub *p, struct ent *dead)
{
	bool done = true;

	if (!dead->passing) {
		uint32_t tail = atomic_load(&dead->page->tail);

		dead->passing = true;
		/* it scribbled on its tail: nothing to trust */
		dead->pass_pos = dead->head - tail > dead->depth ? dead->head
		                                                 : tail;
	}
	for (; dead->pass_pos != dead->head; dead->pass_pos++) {
		uint64_t en = dead->mirror[dead->pass_pos % dead->depth];
		struct ent *m;

		if (((en >> 16) & 0xff) != (p->gen & 0xff)) {
			/* a retired ring's frame: nobody maps it for sure */
			atomic_fetch_add(&p->dropped, 1);
			continue;
		}
		m = group_pick(p, dead->group);
		if (!m) {
			/* the group is gone */
			atomic_fetch_add(&p->dropped, 1);
			continue;
		}
		if (queued(m) >= m->depth) {
			done = false;
			break;
		}
		push_entry(m, en);
		wake_member(m);
	}
	return done;
}

static bool
latest_member(const struct ent *e)
{
	return atomic_load_explicit(&e->state, memory_order_acquire) ==
	               ENT_ACTIVE &&
	       e->mode == FBUS_MODE_LATEST && e->group[0];
}

/* Latest-mode group members polling their fd: a commit rings one of them
 * a group, not all (no herd) -- one that says it is free (`want`), the
 * one rung longest ago.  Exchanging `want` to 0 means a stopped member
 * costs its group one frame, not every later one: the next commit rings
 * another.  (Members waiting in next() are woken by the group's take
 * mutex instead: one waiter sleeps on the ring word.) */
static void
ring_latest_groups(struct shm_pub *p, uint64_t seq)
{
	for (uint32_t i = 0; i < p->n_ents; i++) {
		struct ent *g = &p->ents[i];
		bool first = true;

		if (!latest_member(g))
			continue;
		for (uint32_t j = 0; j < i && first; j++)
			first = !latest_member(&p->ents[j]) ||
			        strcmp(p->ents[j].group, g->group);
		if (!first)
			continue; /* its group was rung at its first member */
		for (uint32_t tries = 0; tries < p->n_ents; tries++) {
			struct ent *best = NULL;

			for (uint32_t j = i; j < p->n_ents; j++) {
				struct ent *m = &p->ents[j];

				if (latest_member(m) &&
				    !strcmp(m->group, g->group) &&
				    atomic_load_explicit(&m->page->armed,
				                         memory_order_relaxed) &&
				    atomic_load(&m->page->want) &&
				    (!best || m->given < best->given))
					best = m;
			}
			if (!best)
				break;
			/* 0 already: it took itself off since; the next */
			if (atomic_exchange(&best->page->want, 0) != 1)
				continue;
			best->given = seq;
			fbusi_page_ring(best->page, best->efd);
			break;
		}
	}
}

/* Wake whoever waits for a frame: seq_cst loads of `waiting` after the
 * caller's seq_cst store of seq_word pair with the subscriber's seq_cst
 * waiting=1 store and seq_word re-check before FUTEX_WAIT, so a sleeper
 * is never missed and nobody sleeping means no syscall. */
static void
wake_readers(struct shm_pub *p)
{
	int any_waiting = 0, any_group = 0;

	for (uint32_t i = 0; i < p->n_ents; i++) {
		struct ent *e = &p->ents[i];

		if (atomic_load_explicit(&e->state, memory_order_acquire) !=
		            ENT_ACTIVE ||
		    own_wake(e))
			continue;
		if (atomic_load(&e->page->waiting))
			any_waiting = 1;
		if (e->group[0]) {
			any_group = 1;
			continue; /* its fd is rung by ring_latest_groups */
		}
		if (atomic_load_explicit(&e->page->armed,
		                         memory_order_relaxed))
			fbusi_page_ring(e->page, e->efd);
	}
	if (any_waiting)
		fbusi_futex_wake((const uint32_t *)&p->hdr->seq_word,
		                 INT_MAX);
	if (any_group)
		ring_latest_groups(p, p->seq);
}

static int64_t
shm_commit(struct fbus_pub *base, struct fbus_slot *slot)
{
	struct shm_pub *p = (struct shm_pub *)base;
	struct fbusi_slot_hdr *h;
	uint32_t s = (uint32_t)slot->_priv[0];
	uint64_t seq;
	int64_t now;
	int rc;

	if (!p->loaned || s != p->loan_slot || slot->_priv[1] != p->gen)
		return fbusi_fail(&base->err, FBUS_EINVAL,
		                  "commit of a slot that is not on loan");
	rc = fbusi_commit_check(slot, &base->err);
	if (rc) {
		/* a failed commit gives the slot back, as on every transport:
		 * it keeps seq 0 and is free for the next loan */
		p->loaned = 0;
		return rc;
	}

	h = slot_hdr(p->hdr, p->slot_size, s);
	/* 0 = time of loan, as on every transport */
	h->t_mono_ns = slot->t_mono_ns ? slot->t_mono_ns : p->loan_mono;
	h->t_real_ns = slot->t_real_ns ? slot->t_real_ns : p->loan_real;
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
	now = fbus_now_mono_ns();
	h->t_commit_ns = now;
	{
		int cpu = sched_getcpu(); /* vDSO, no syscall */

		h->commit_cpu = cpu >= 0 ? (uint32_t)cpu + 1 : 0;
	}
	seq = ++p->seq;
	/* release: publishes header + pixels; pairs with the subscriber's
	 * seq_cst re-check after taking its lease / its entry */
	atomic_store_explicit(&h->seq, seq, memory_order_release);
	p->loaned = 0;

	for (uint32_t i = 0; i < p->n_ents; i++) {
		struct ent *e = &p->ents[i], *to, *charge = e;

		if (atomic_load_explicit(&e->state, memory_order_acquire) !=
		            ENT_ACTIVE ||
		    e->mode != FBUS_MODE_EVERY)
			continue;
		if (e->group[0]) {
			/* a group's frame is queued once, at its first member */
			if (group_served(p, i, seq))
				continue;
			e->served = seq;
			to = group_member_for(p, e, &charge);
		} else {
			uint32_t used = queued(e);

			if (used == UINT32_MAX) {
				kick_corrupt(p, e);
				continue;
			}
			if (used == 0)
				e->demoted = false; /* emptied: it reads again */
			to = used < e->depth || room_after_block(p, e) ? e
			                                               : NULL;
		}
		if (to) {
			push_entry(to, fbusi_entry_pack(seq, p->gen, s));
			if (own_wake(to))
				wake_member(to);
		} else if (charge)
			count_drop(p, charge);
	}

	/* release: latest subscribers may read the slot after an acquire
	 * load of latest */
	p->latest = (seq << 16) | s;
	atomic_store_explicit(&p->hdr->latest, p->latest,
	                      memory_order_release);
	atomic_store_explicit(&p->hdr->readers,
	                      atomic_load_explicit(&p->n_active,
	                                           memory_order_relaxed),
	                      memory_order_relaxed);
	/* seq_cst: wake_readers' loads of `waiting` come after it */
	atomic_store(&p->hdr->seq_word, (uint32_t)seq);
	wake_readers(p);

	atomic_fetch_add_explicit(&p->frames, 1, memory_order_relaxed);
	take_peer_err(p);
	/* the commit time, not the capture stamp the caller may have set */
	info_update(p, &slot->fmt, now);
	return (int64_t)seq;
}

static int
shm_stats(struct fbus_pub *base, struct fbus_pub_stats *st)
{
	struct shm_pub *p = (struct shm_pub *)base;

	take_peer_err(p);
	memset(st, 0, sizeof *st);
	st->frames = atomic_load(&p->frames);
	st->dropped = atomic_load(&p->dropped);
	st->peer_errors = atomic_load(&p->peer_errors);
	st->demoted = atomic_load(&p->demoted);
	st->subscribers = atomic_load(&p->n_active);
	return 0;
}

/* ---- control thread ------------------------------------------------------ */
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
 * cannot both win); a socket file without a lock holder is stale.  The lock
 * counts only if the path still names the file we locked: a closing
 * producer unlinks it while holding the lock, and whoever opened the old
 * file before that must not think it owns the name. */
static int
claim_name(struct shm_pub *p, struct fbusi_err *err)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	struct stat a, b;
	int probe;

	for (int tries = 0;; tries++) {
		p->lock_fd = open(p->lock_path,
		                  O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		                  0600);
		if (p->lock_fd < 0)
			return fbusi_fail(err, -errno, "cannot open %s: %s",
			                  p->lock_path, fbus_strerror(-errno));
		if (flock(p->lock_fd, LOCK_EX | LOCK_NB) < 0) {
			/* Held.  A live producer listens; one that does not
			 * (yet) is starting, closing or being swept: its
			 * lock is about to go, so look again shortly. */
			int rc = fbusi_unix_connect(p->sock_path,
			                            SOCK_SEQPACKET, 200,
			                            &probe, NULL);
			if (rc == 0)
				close(probe);
			if (rc == 0 || tries >= 30)
				break;
			close(p->lock_fd);
			p->lock_fd = -1;
			nanosleep(&(struct timespec){ 0, 10000000L }, NULL);
			continue;
		}
		if (fstat(p->lock_fd, &a) == 0 && lstat(p->lock_path, &b) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			goto locked;
		close(p->lock_fd);
		p->lock_fd = -1;
		if (tries >= 30)
			return fbusi_fail(err, FBUS_EADDRINUSE,
			                  "bus '%s': %s keeps changing", p->name,
			                  p->lock_path);
	}
	{
		int pid = 0;

		if (fbusi_unix_connect(p->sock_path, SOCK_SEQPACKET, 200, &probe,
		                       NULL) == 0) {
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
locked:
	/* We hold the lock: any socket file is a leftover of a producer
	 * that died; fbusi_unix_listen makes sure nobody listens, then
	 * reclaims it.  0600 (in a 0700 directory) unless an allow-list
	 * lets other uids connect: then SO_PEERCRED is the gate. */
	return fbusi_unix_listen(p->sock_path, SOCK_SEQPACKET,
	                         p->shared ? 0666 : 0600,
	                         &p->listen_fd, &p->sock_dev, &p->sock_ino,
	                         err);
}

int
fbusi_shm_pub_open(struct fbus_pub **out, const struct fbusi_uri *uri,
                   const struct fbus_pub_opts *opts, struct fbusi_err *err)
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
	p->lock_fd = p->listen_fd = p->wake_fd = -1;
	for (int k = 0; k < MAX_PENDING; k++)
		p->pend[k].fd = -1;
	strcpy(p->name, uri->name);
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->err_lock, NULL);
	p->n_ents = opts->max_subscribers;
	p->ents = calloc(p->n_ents, sizeof *p->ents);
	if (!p->ents) {
		rc = FBUS_ENOMEM;
		goto err;
	}
	for (uint32_t i = 0; i < p->n_ents; i++) {
		p->ents[i].sock = p->ents[i].efd = -1;
		atomic_init(&p->ents[i].state, ENT_FREE);
		pthread_mutex_init(&p->ents[i].sock_lock, NULL);
	}
	p->shared = opts->n_allow_uids || opts->n_allow_gids;
	rc = fbusi_bus_dir_ensure(uri, p->shared, err);
	if (!rc)
		rc = fbusi_bus_path(uri, ".sock", p->sock_path,
		                        sizeof p->sock_path, err);
	if (!rc)
		rc = fbusi_bus_path(uri, ".lock", p->lock_path,
		                        sizeof p->lock_path, err);
	if (!rc) {
		/* what producers killed with -9 left goes first */
		(void)fbusi_bus_sweep(uri);
		rc = claim_name(p, err);
	}
	if (rc)
		goto err;
	p->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (p->wake_fd < 0) {
		rc = fbusi_fail(err, -errno, "eventfd: %s",
		                fbus_strerror(-errno));
		goto err;
	}
	if (opts->max_frame_bytes) {
		rc = fbusi_shm_ring_switch(p, opts->max_frame_bytes, err);
		if (rc)
			goto err;
	}
	rc = pthread_create(&p->thread, NULL, fbusi_shm_ctl_thread, p);
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
		atomic_store(&p->stopping, 1);
		fbusi_shm_wake_ctl(p);
		pthread_join(p->thread, NULL);
	}
	fbusi_shm_ring_close_all(p);
	/* unlink before closing the listener: from here on a new producer
	 * may take the name */
	if (p->listen_fd >= 0) {
		fbusi_unix_unlink(p->sock_path, p->sock_dev, p->sock_ino);
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
		pthread_mutex_destroy(&e->sock_lock);
	}
	fbusi_close(p->wake_fd);
	if (p->lock_fd >= 0) {
		unlink(p->lock_path);
		close(p->lock_fd);
	}
	pthread_mutex_destroy(&p->lock);
	pthread_mutex_destroy(&p->err_lock);
	free(p->ents);
	free(p);
}

/* SPDX-License-Identifier: MIT */
/*
 * shm/ring.c — the producer's frame rings.  A larger frame needs a new
 * ring: the data path makes it, sends its memfd to every subscriber, and
 * only then marks the old ring RETIRED (so whoever sees RETIRED finds the
 * RING message queued, even if the producer is killed right after).  It
 * never waits for an admission: a subscriber's socket is guarded by its
 * own small lock, held by the control thread only across one non-blocking
 * send or a close, never across memfd_create or mmap.
 */
#define _GNU_SOURCE
#include "os.h"
#include "shm/pub.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

static int
ring_new(struct shm_pub *p, uint64_t payload, struct ring **out,
         struct fbusi_err *err)
{
	uint64_t slot_size, total;
	char memname[160];
	struct fbusi_ring_hdr *r;
	struct ring *ring;
	void *map;
	int fd;

	slot_size = (FBUSI_SLOT_DATA_OFF + payload + 4095) & ~(uint64_t)4095;
	total = FBUSI_RING_SLOTS_OFF + slot_size * p->opts.slots;
	snprintf(memname, sizeof memname,
	         "framebus-ring:%s,gen=%u,slots=%u,slot=%llu", p->name,
	         p->gen + 1, p->opts.slots, (unsigned long long)slot_size);
	ring = calloc(1, sizeof *ring);
	if (!ring)
		return fbusi_fail(err, FBUS_ENOMEM, "out of memory");
	/* ftruncate on a memfd is sparse: pages are only allocated when a
	 * slot is first written, and we reuse the lowest free slot first.
	 * Subscribers get a file they cannot write through (issue: a
	 * subscriber that wrote the ring tore other readers' frames). */
	fd = fbusi_memfd_writer_only(memname, total, &map);
	if (fd < 0) {
		free(ring);
		return fbusi_fail(err, fd, "memfd of %llu bytes: %s",
		                  (unsigned long long)total, fbus_strerror(fd));
	}
	r = map;
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
	ring->hdr = r;
	ring->size = total;
	ring->fd = fd;
	ring->gen = p->gen + 1;
	ring->slot_size = slot_size;
	*out = ring;
	return 0;
}

static void
ring_free(struct ring *r)
{
	munmap(r->hdr, r->size);
	close(r->fd);
	free(r);
}

void
fbusi_shm_wake_ctl(struct shm_pub *p)
{
	uint64_t one = 1;

	if (write(p->wake_fd, &one, sizeof one) < 0) {
		/* counter saturated: the thread is woken already */
	}
}

/* seq_cst state store, then the wake: pairs with the subscriber's state
 * load after it returns from FUTEX_WAIT (or reads its eventfd). */
static void
ring_end(struct shm_pub *p, struct fbusi_ring_hdr *r, uint32_t state)
{
	atomic_store(&r->state, state);
	atomic_fetch_add(&r->seq_word, 1);
	fbusi_futex_wake((const uint32_t *)&r->seq_word, INT_MAX);
	for (uint32_t i = 0; i < p->n_ents; i++) {
		struct ent *e = &p->ents[i];
		uint64_t one = 1;

		if (atomic_load_explicit(&e->state, memory_order_acquire) !=
		    ENT_ACTIVE)
			continue;
		/* an every-mode group member sleeps on its own head word */
		if (e->mode == FBUS_MODE_EVERY)
			fbusi_futex_wake((const uint32_t *)&e->page->head, 1);
		if (write(e->efd, &one, sizeof one) < 0) {
			/* eventfd counter full: the subscriber is woken
			 * already, nothing to do */
		}
	}
}

/* Send ring r to e unless it has it.  Called with e->sock_lock held. */
void
fbusi_shm_ring_send(struct ent *e, const struct ring *r)
{
	struct fbusi_ctl_ring m;

	if (e->sock < 0 || e->ring_gen >= r->gen)
		return;
	fbusi_ctl_init((union fbusi_ctl *)&m, FBUSI_CTL_RING);
	m.generation = r->gen;
	m.ring_size = r->size;
	e->ring_gen = r->gen;
	/* MSG_DONTWAIT: a subscriber whose socket buffer is full of our
	 * messages is hopelessly behind; it will see a HUP instead. */
	if (fbusi_send_fds(e->sock, &m, sizeof m, &r->fd, 1, MSG_DONTWAIT) <
	    0)
		shutdown(e->sock, SHUT_RDWR);
}

int
fbusi_shm_ring_switch(struct shm_pub *p, uint64_t payload,
                      struct fbusi_err *err)
{
	/* relaxed: only the data path stores it */
	struct ring *r = NULL,
	            *old = atomic_load_explicit(&p->cur, memory_order_relaxed);
	int rc = ring_new(p, payload, &r, err);

	if (rc)
		return rc;
	p->gen = r->gen;
	p->hdr = r->hdr;
	p->latest = 0;
	/* geometry from our own memory, never read back from the ring */
	p->slot_size = r->slot_size;
	p->slot_count = p->opts.slots;
	/* seq_cst store, then seq_cst state loads: pairs with admit(),
	 * which stores ACTIVE and then loads the ring.  Either we see the
	 * entry ACTIVE and send it the ring (after its WELCOME: its lock),
	 * or its WELCOME carries this ring already. */
	atomic_store(&p->cur, r);
	for (uint32_t i = 0; i < p->n_ents; i++) {
		struct ent *e = &p->ents[i];

		if (atomic_load(&e->state) != ENT_ACTIVE)
			continue;
		pthread_mutex_lock(&e->sock_lock);
		fbusi_shm_ring_send(e, r);
		pthread_mutex_unlock(&e->sock_lock);
	}
	if (old) {
		/* Queued every-mode entries of the old ring stay readable:
		 * subscribers keep their own mapping, and slot_in_use
		 * ignores other generations.  No admission holds it: one
		 * that read it is ACTIVE, and we took its lock above. */
		ring_end(p, old->hdr, FBUSI_RING_RETIRED);
		ring_free(old);
	}
	return 0;
}

void
fbusi_shm_ring_close_all(struct shm_pub *p)
{
	struct ring *r = atomic_exchange(&p->cur, NULL);

	if (r) {
		ring_end(p, r->hdr, FBUSI_RING_CLOSED);
		ring_free(r);
	}
	p->hdr = NULL;
}

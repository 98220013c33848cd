/* SPDX-License-Identifier: MIT */
/*
 * shm/ring.c — the producer's frame ring: create a sealed memfd of slots,
 * and replace it by a bigger one when a larger frame comes, handing the new
 * memfd to every subscriber before the old ring says RETIRED.
 */
#define _GNU_SOURCE
#include "os.h"
#include "shm/pub.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

int
fbusi_shm_ring_create(struct shm_pub *p, uint64_t payload, struct fbusi_err *err)
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

/* seq_cst state store, then the wake: pairs with the subscriber's state
 * load after it returns from FUTEX_WAIT (or reads its eventfd). */
void
fbusi_shm_ring_end(struct shm_pub *p, struct fbusi_ring_hdr *r,
                   uint32_t state)
{
	atomic_store(&r->state, state);
	atomic_fetch_add(&r->seq_word, 1);
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
int
fbusi_shm_ring_switch(struct shm_pub *p, uint64_t payload, struct fbusi_err *err)
{
	struct fbusi_ring_hdr *old = p->ring;
	size_t old_size = p->ring_size;
	int old_fd = p->ring_fd;
	int rc;

	pthread_mutex_lock(&p->lock);
	rc = fbusi_shm_ring_create(p, payload, err);
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
		fbusi_shm_ring_end(p, old, FBUSI_RING_RETIRED);
		/* Queued every-mode entries of the old ring stay readable:
		 * subscribers keep their own mapping of it, and slot_in_use
		 * ignores entries of another generation. */
		munmap(old, old_size);
		close(old_fd);
	}
	return 0;
}

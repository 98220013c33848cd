/* SPDX-License-Identifier: MIT */
/*
 * shm/layout.h — the shared-memory ABI between a producer and its
 * subscribers.  Fixed-width types only; magic/version/size first; offsets
 * pinned with _Static_assert.  Two kinds of memfd:
 *
 *  ring (one per producer; producer RW, subscribers map PROT_READ):
 *   +--------------------+ 0
 *   | fbusi_ring_hdr     |  magic, geometry, futex seq word, latest
 *   +--------------------+ slots_offset (4096)
 *   | slot 0: hdr | meta | payload ...            (slot_size bytes)
 *   | slot 1: ...                                  |
 *   +--------------------+ slots_offset + slot_count * slot_size
 *
 *  page (one per subscriber; both map RW; the producer trusts nothing in it
 *  and only ever compares or bounds-checks what the subscriber writes):
 *   +--------------------+ 0
 *   | fbusi_page         |  waiting, tail (subscriber) |
 *   |                    |  head, dropped (producer)    |
 *   +--------------------+ 128
 *   | entries[depth]     |  every mode: queued frames (producer);
 *   |                    |  latest mode: one lease per frame the
 *   |                    |  subscriber may hold (subscriber)
 *   +--------------------+
 *
 * Latest mode is a lease protocol: a subscriber reads `latest`, stores a
 * lease on that slot (in a free one of its `depth` lease words), then re-checks the slot's seq; the producer marks a
 * slot it wants to reuse (seq = 0), then re-checks every lease.  Both pairs
 * are seq_cst, so at least one side sees the other (Dekker) and a frame is
 * never rewritten while a subscriber reads it.
 */
#ifndef FBUS_SHM_LAYOUT_H
#define FBUS_SHM_LAYOUT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "framebus.h"

/* host byte order throughout: shared memory never leaves the machine
 * (the bytes spell "FBR1" / "FBP1" on little-endian hosts) */
#define FBUSI_RING_MAGIC 0x31524246u
#define FBUSI_PAGE_MAGIC 0x31504246u /* "FBP1" */
#define FBUSI_SHM_VERSION 2u

enum fbusi_ring_state {
	FBUSI_RING_LIVE = 0,
	FBUSI_RING_RETIRED = 1, /* a bigger ring replaced it: read RING */
	FBUSI_RING_CLOSED = 2,  /* the producer closed the bus */
};

struct fbusi_ring_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t hdr_size;
	uint32_t slot_count;
	uint32_t generation;
	uint64_t slot_size;    /* bytes per slot, multiple of 4096 */
	uint64_t slots_offset; /* offset of slot 0 */
	uint64_t total_size;
	/* futex word: low 32 bits of the newest seq.  Stored (seq_cst) by
	 * commit after `latest`; subscribers FUTEX_WAIT on it. */
	_Atomic uint32_t seq_word;
	_Atomic uint32_t state; /* enum fbusi_ring_state */
	/* (seq << 16) | slot of the newest frame; 0 = none yet.  Release
	 * store in commit pairs with the acquire load in sub next(). */
	_Atomic uint64_t latest;
	/* subscribers connected, as of the last commit: a hint for their
	 * spinning (shm/spin.h), nothing more */
	_Atomic uint32_t readers;
	uint32_t _pad;
};

/* Per-slot header, at the start of each slot. */
struct fbusi_slot_hdr {
	/* seq of the frame held; 0 while being (re)written.  Release store
	 * in commit pairs with the acquire/seq_cst load in sub next(). */
	_Atomic uint64_t seq;
	int64_t t_mono_ns;
	int64_t t_real_ns;
	uint32_t pixfmt;
	uint32_t width;
	uint32_t height;
	uint32_t nplanes;
	uint32_t stride[FBUS_MAX_PLANES];
	uint32_t offset[FBUS_MAX_PLANES];
	uint32_t payload_bytes;
	uint32_t meta_bytes;
	/* CLOCK_MONOTONIC at commit: subscribers learn the frame period
	 * from it (FBUS_SUB_PREDICT); a hint, never trusted further */
	int64_t t_commit_ns;
	/* the CPU the producer committed on, + 1 (0: unknown): a
	 * predicting subscriber keeps off it (a hint, like t_commit_ns) */
	uint32_t commit_cpu;
	uint8_t _pad[128 - 84];
};

#define FBUSI_SLOT_META_OFF 128u
#define FBUSI_SLOT_DATA_OFF (FBUSI_SLOT_META_OFF + FBUS_META_MAX)

struct fbusi_page {
	uint32_t magic;
	uint16_t version;
	uint16_t hdr_size;
	uint32_t depth;
	uint32_t mode;
	/* written by the subscriber */
	_Atomic uint32_t want;    /* latest group member polling its fd: 1
	                             while it is free to take a frame */
	_Atomic uint32_t waiting; /* 1 while sleeping on ring seq_word */
	_Atomic uint32_t tail;    /* every: entries consumed */
	_Atomic uint32_t armed;   /* 1: signal my eventfd on commit */
	uint8_t _pad1[64 - 32];
	/* written by the producer */
	_Atomic uint32_t head;         /* every: entries queued */
	_Atomic uint32_t prod_waiting; /* producer sleeps on `tail` */
	_Atomic uint32_t efd_pending;  /* eventfd written, not yet drained */
	uint32_t _pad2;
	_Atomic uint64_t dropped;      /* every: frames dropped (full queue) */
	uint8_t _pad3[128 - 88];
	/* every: (seq << 24) | (gen8 << 16) | slot, at index n % depth.
	 * latest: leases, (gen16 << 16) | (slot + 1), 0 = free */
	_Atomic uint64_t entries[];
};

#define FBUSI_PAGE_ENTRIES_OFF 128u

/* Make the subscriber's eventfd readable, unless written and not yet
 * drained: the producer at commit, or the subscriber itself when a frame
 * stands untaken.  The seq_cst exchange pairs with the subscriber
 * clearing efd_pending before it looks for frames. */
static inline void
fbusi_page_ring(struct fbusi_page *pg, int efd)
{
	uint64_t one = 1;

	if (atomic_exchange(&pg->efd_pending, 1) == 0 &&
	    write(efd, &one, sizeof one) < 0) {
		/* counter saturated: already readable */
	}
}

static inline uint64_t
fbusi_entry_pack(uint64_t seq, uint32_t gen, uint32_t slot)
{
	return (seq << 24) | ((uint64_t)(gen & 0xff) << 16) | (slot & 0xffff);
}

_Static_assert(sizeof(struct fbusi_ring_hdr) == 64, "ring header ABI");
_Static_assert(offsetof(struct fbusi_ring_hdr, seq_word) == 40, "ring ABI");
_Static_assert(offsetof(struct fbusi_ring_hdr, latest) == 48, "ring ABI");
_Static_assert(sizeof(struct fbusi_slot_hdr) == FBUSI_SLOT_META_OFF,
               "slot header ABI");
_Static_assert(offsetof(struct fbusi_page, head) == 64, "page ABI");
_Static_assert(offsetof(struct fbusi_page, entries) == FBUSI_PAGE_ENTRIES_OFF,
               "page ABI");
_Static_assert(FBUSI_SLOT_DATA_OFF % 64 == 0, "payload cache-line aligned");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "need lock-free 64-bit atomics");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "need lock-free 32-bit atomics");

#define FBUSI_RING_SLOTS_OFF 4096u
#define FBUSI_MAX_DEPTH 1024u

#endif

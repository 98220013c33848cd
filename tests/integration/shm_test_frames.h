/* SPDX-License-Identifier: MIT */
/*
 * shm_test_frames.h — checksummed test frames shared by the shm tests: the
 * producer fills a payload from a PRNG seeded by seq and puts {seq, hash} in
 * the metadata; a subscriber recomputes the hash over what it reads, so a
 * torn or stale frame cannot pass.
 */
#ifndef SHM_TEST_FRAMES_H
#define SHM_TEST_FRAMES_H

#include <stdint.h>
#include <string.h>

#include "framebus.h"

struct test_meta {
	uint64_t seq;
	uint64_t hash;
	uint32_t size;
	uint32_t magic;
};
#define TEST_META_MAGIC 0x54534d46u

static inline uint64_t
test_hash(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static inline void
test_fill(struct fbus_slot *s, uint64_t seq)
{
	uint64_t x = seq * 0x9E3779B97F4A7C15ull + 1;
	struct test_meta m;
	uint32_t n = s->fmt.size;

	for (uint32_t i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		s->data[i] = (uint8_t)x;
	}
	m.seq = seq;
	m.hash = test_hash(s->data, n);
	m.size = n;
	m.magic = TEST_META_MAGIC;
	memcpy(s->meta, &m, sizeof m);
	s->meta_bytes = sizeof m;
}

/* 0 if the frame is intact and consistent with its seq */
static inline int
test_verify(const struct fbus_frame *f)
{
	struct test_meta m;

	if (f->meta_bytes != sizeof m)
		return -1;
	memcpy(&m, f->meta, sizeof m);
	if (m.magic != TEST_META_MAGIC || m.size != f->payload_bytes)
		return -2;
	if (m.hash != test_hash(f->data, f->payload_bytes))
		return -3;
	return 0;
}

/* loan + fill + commit; returns the seq or a negative code */
static inline int64_t
test_publish(struct fbus_pub *p, const struct fbus_format *fmt, uint64_t seq)
{
	struct fbus_slot s;
	int rc = fbus_pub_loan(p, fmt, &s);

	if (rc)
		return rc;
	test_fill(&s, seq);
	return fbus_pub_commit(p, &s);
}

#endif

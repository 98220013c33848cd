/* SPDX-License-Identifier: MIT */
/*
 * shm/attach.h — the subscriber's side of the shm: handshake: connect to a
 * producer's control socket, say HELLO, and map what its WELCOME hands over
 * (the subscriber's page, its eventfd, the frame ring) after checking each.
 */
#ifndef FBUS_SHM_ATTACH_H
#define FBUS_SHM_ATTACH_H

#include "private.h"
#include "shm/layout.h"
#include "shm/proto.h"

#include <stddef.h>
#include <stdint.h>

/* A ring mapped read-only.  Geometry is copied once at map time: the
 * producer could rewrite the header later, and we never re-read it. */
struct fbusi_ringmap {
	const struct fbusi_ring_hdr *hdr; /* NULL: none */
	size_t size;
	uint32_t gen;
	uint32_t slot_count;
	uint64_t slot_size;
	uint64_t slots_offset;
};

static inline const struct fbusi_slot_hdr *
fbusi_ringmap_slot(const struct fbusi_ringmap *r, uint32_t i)
{
	return (const struct fbusi_slot_hdr *)((const uint8_t *)r->hdr +
	                                       r->slots_offset +
	                                       (uint64_t)i * r->slot_size);
}

/* Map a ring memfd read-only after checking that it cannot SIGBUS us and
 * that its header is sane.  Takes ownership of fd (always closed: the
 * mapping keeps the memory). */
int fbusi_shm_map_ring(int fd, uint64_t size, uint32_t gen,
                       struct fbusi_ringmap *out, struct fbusi_err *err);
void fbusi_shm_unmap_ring(struct fbusi_ringmap *r);

/* One live attachment to a producer. */
struct fbusi_shm_conn {
	int sock;                /* control socket; HUP = producer gone */
	int efd;                 /* signalled on commit while armed */
	struct fbusi_page *page; /* ours, shared with the producer */
	size_t page_size;
	uint32_t depth;          /* as we asked and the WELCOME confirmed */
	struct fbusi_ringmap ring; /* hdr NULL until the first frame */
};

/* Connect to the producer of bus u and complete the handshake within
 * HANDSHAKE_MS.  On failure nothing is left open and err says why: the
 * producer's REFUSE text, FBUS_ENOENT / FBUS_ECONNREFUSED when nobody is
 * there, FBUS_EPROTO for anything malformed. */
int fbusi_shm_attach(const struct fbusi_uri *u, const struct fbus_sub_opts *opts,
                     struct fbusi_shm_conn *out, struct fbusi_err *err);
/* Close and unmap everything of c (the ring too); c becomes empty. */
void fbusi_shm_detach(struct fbusi_shm_conn *c);

/* Receive and validate one control message within timeout_ms; returns its
 * type.  On error no received fd is left open. */
int fbusi_shm_ctl_recv(int fd, union fbusi_ctl *msg, int *fds, int *nfds,
                       int timeout_ms, struct fbusi_err *err);

#endif

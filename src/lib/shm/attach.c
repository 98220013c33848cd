/* SPDX-License-Identifier: MIT */
/*
 * shm/attach.c — connect, HELLO, WELCOME: everything a subscriber receives
 * from a producer is checked here before it is used (seals and size before
 * mmap, page contents against our HELLO, ring geometry against its size).
 */
#define _GNU_SOURCE
#include "os.h"
#include "runtime.h"
#include "shm/attach.h"
#include "shm/proto.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HANDSHAKE_MS 2000

void
fbusi_shm_unmap_ring(struct fbusi_ringmap *r)
{
	if (r->hdr)
		munmap((void *)r->hdr, r->size);
	memset(r, 0, sizeof *r);
}

int
fbusi_shm_map_ring(int fd, uint64_t size, uint32_t gen,
                   struct fbusi_ringmap *out, struct fbusi_err *err)
{
	int64_t real = fbusi_memfd_check(fd, size);
	const struct fbusi_ring_hdr *h;
	struct fbusi_ringmap r = { 0 };

	if (real < 0) {
		close(fd);
		return fbusi_fail(err, FBUS_EPROTO,
		                  "producer sent a ring that is not a sealed "
		                  "memfd of %llu bytes",
		                  (unsigned long long)size);
	}
	h = mmap(NULL, (size_t)real, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (h == MAP_FAILED)
		return fbusi_fail(err, -errno, "mmap ring: %s",
		                  fbus_strerror(-errno));
	r.hdr = h;
	r.size = (size_t)real;
	r.gen = gen;
	r.slot_count = h->slot_count;
	r.slot_size = h->slot_size;
	r.slots_offset = h->slots_offset;
	if (h->magic != FBUSI_RING_MAGIC || h->version != FBUSI_SHM_VERSION ||
	    h->hdr_size != sizeof *h || h->generation != gen ||
	    r.slot_count == 0 || r.slot_count > 0xffff ||
	    r.slot_size < FBUSI_SLOT_DATA_OFF || r.slot_size % 4096 ||
	    r.slots_offset < sizeof *h ||
	    r.slot_size > (UINT64_MAX - r.slots_offset) / r.slot_count ||
	    r.slots_offset + r.slot_size * r.slot_count > (uint64_t)real) {
		fbusi_shm_unmap_ring(&r);
		return fbusi_fail(err, FBUS_EPROTO,
		                  "producer's ring header is inconsistent");
	}
	*out = r;
	return 0;
}

void
fbusi_shm_detach(struct fbusi_shm_conn *c)
{
	fbusi_close(c->sock);
	fbusi_close(c->efd);
	if (c->page)
		munmap(c->page, c->page_size);
	fbusi_shm_unmap_ring(&c->ring);
	memset(c, 0, sizeof *c);
	c->sock = c->efd = -1;
}

static void
close_fds(const int *fds, int nfds)
{
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
}

int
fbusi_shm_attach(const struct fbusi_uri *u, const struct fbus_sub_opts *opts,
                 struct fbusi_shm_conn *c, struct fbusi_err *err)
{
	struct fbusi_ctl_hello hi;
	union fbusi_ctl m;
	int fds[FBUSI_MAX_FDS], nfds = 0, rc, t;
	int64_t psize;
	void *page;

	memset(c, 0, sizeof *c);
	c->sock = c->efd = -1;
	rc = fbusi_bus_connect(u, HANDSHAKE_MS, &c->sock, err);
	if (rc) {
		c->sock = -1;
		return rc;
	}
	fbusi_ctl_init((union fbusi_ctl *)&hi, FBUSI_CTL_HELLO);
	hi.version = FBUSI_CTL_VERSION;
	hi.mode = opts->mode;
	/* every: the queue, with room for the frames we may hold besides
	 * the depth we wait on; latest: one lease per frame we may hold */
	hi.depth = opts->mode == FBUS_MODE_EVERY
	                   ? opts->depth + opts->max_held - 1
	                   : opts->max_held;
	hi.policy = opts->full_policy;
	hi.block_ms = opts->block_ms;
	/* the producer fills an every group's queue; a latest group's
	 * members share a claim among themselves, and the producer only
	 * rings one of those that poll their fd a frame */
	if (opts->group)
		snprintf(hi.group, sizeof hi.group, "%s", opts->group);
	rc = fbusi_send_fds(c->sock, &hi, sizeof hi, NULL, 0, 0);
	if (rc && rc != -EPIPE && rc != -ECONNRESET) {
		rc = fbusi_fail(err, rc, "send HELLO: %s", fbus_strerror(rc));
		goto fail;
	}
	/* A producer that refuses us at accept (uid check) sends REFUSE and
	 * hangs up before our HELLO lands: read the reason even then. */
	t = fbusi_shm_ctl_recv(c->sock, &m, fds, &nfds, rc ? 100 : HANDSHAKE_MS,
	                   err);
	if (t == FBUSI_CTL_REFUSE) {
		rc = fbusi_fail(err, m.refuse.code, "refused: %s",
		                m.refuse.text);
		goto fail;
	}
	if (t < 0) {
		rc = t;
		goto fail;
	}
	if (t != FBUSI_CTL_WELCOME) {
		close_fds(fds, nfds);
		rc = fbusi_fail(err, FBUS_EPROTO,
		                "expected WELCOME, got message type %d", t);
		goto fail;
	}
	c->efd = fds[1];
	/* we read it without a timeout: a pipe or a blocking fd from a
	 * hostile producer would hang fbus_sub_next() and every poll loop */
	if (!fbusi_fd_is_eventfd(c->efd)) {
		close_fds(fds, 1);
		close_fds(fds + 2, nfds - 2);
		rc = fbusi_fail(err, FBUS_EPROTO,
		                "producer sent a wake-up fd that is not a "
		                "non-blocking eventfd");
		goto fail;
	}
	psize = fbusi_memfd_check(fds[0], m.welcome.page_size);
	page = psize < 0 ? MAP_FAILED
	                 : mmap(NULL, (size_t)psize, PROT_READ | PROT_WRITE,
	                        MAP_SHARED, fds[0], 0);
	close(fds[0]);
	if (page == MAP_FAILED) {
		close_fds(fds + 2, nfds - 2);
		rc = fbusi_fail(err, FBUS_EPROTO,
		                "producer sent an unusable subscriber page");
		goto fail;
	}
	c->page = page;
	c->page_size = (size_t)psize;
	c->depth = hi.depth;
	if (c->page->magic != FBUSI_PAGE_MAGIC ||
	    c->page->depth != hi.depth || c->page->mode != hi.mode ||
	    FBUSI_PAGE_ENTRIES_OFF + (uint64_t)hi.depth * 8 > c->page_size) {
		close_fds(fds + 2, nfds - 2);
		rc = fbusi_fail(err, FBUS_EPROTO,
		                "subscriber page does not match our HELLO");
		goto fail;
	}
	if (nfds == 3) {
		rc = fbusi_shm_map_ring(fds[2], m.welcome.ring_size,
		                        m.welcome.generation, &c->ring, err);
		if (rc)
			goto fail;
	}
	return 0;
fail:
	fbusi_shm_detach(c);
	return rc;
}

/* Receive one control message within timeout_ms. */
int
fbusi_shm_ctl_recv(int fd, union fbusi_ctl *msg, int *fds, int *nfds,
               int timeout_ms, struct fbusi_err *err)
{
	char buf[FBUSI_CTL_MAX];
	long n;
	int r;

	*nfds = 0;
	r = fbusi_poll1(fd, POLLIN, timeout_ms);
	if (r < 0)
		return fbusi_fail(err, r, "poll: %s", fbus_strerror(r));
	if (r == 0)
		return fbusi_fail(err, FBUS_ETIMEDOUT,
		                  "producer did not answer in %d ms",
		                  timeout_ms);
	n = fbusi_recv_fds(fd, buf, sizeof buf, fds, FBUSI_MAX_FDS, nfds,
	                   MSG_DONTWAIT);
	if (n == 0 || n == -ECONNRESET)
		return fbusi_fail(err, FBUS_EDISCONNECTED,
		                  "producer closed the connection");
	if (n < 0)
		return fbusi_fail(err, (int)n, "receive: %s",
		                  fbus_strerror((int)n));
	r = fbusi_ctl_parse(buf, n, *nfds, msg, err);
	if (r < 0) {
		for (int i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
	}
	return r;
}

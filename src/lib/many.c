/* SPDX-License-Identifier: MIT */
/*
 * many.c — one subscriber over several buses (fbus_sub_open_many): the NVR
 * shape, many cameras into one detector.  Each bus is an ordinary
 * subscriber of its own transport; next() serves, among the buses with a
 * frame ready, the one whose last frame was handed out longest ago, so a
 * fast camera cannot starve a slow one.  The pollable fd is an epoll set of
 * the buses' fds.
 */
#define _GNU_SOURCE /* strdup */
#include "private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

struct bus {
	struct fbus_sub *sub;
	char *uri;
	int fd;           /* as registered in the epoll set; -1: none */
	uint64_t served;  /* tick of its last frame handed out; 0: never */
	int down;         /* its failure was said; 1 until it first answers */
	int rc;           /* that failure */
};

struct many_sub {
	struct fbus_sub base;
	int epfd;
	uint32_t n;
	uint64_t tick;
	struct bus *bus;
};

/* fbus_frame._priv[0] carries the bus (+1) above the transport's own
 * value, which is a held-frame index (< FBUS_MAX_HELD). */
#define BUS_SHIFT 32

static const struct fbusi_sub_ops many_ops;

static int64_t
mono_ms(void)
{
	return fbus_now_mono_ns() / 1000000;
}

/* Keep the epoll set on the bus's current fd (a stream subscriber's
 * changes when it reconnects). */
static void
watch(struct many_sub *m, uint32_t i)
{
	struct bus *b = &m->bus[i];
	int fd = fbus_sub_fd(b->sub);
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

	if (fd == b->fd)
		return;
	if (b->fd >= 0)
		epoll_ctl(m->epfd, EPOLL_CTL_DEL, b->fd, NULL);
	b->fd = -1;
	if (fd >= 0 && epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
		b->fd = fd;
}

/* Buses in the order they are served: least recently served first (never
 * served before all), then by index. */
static void
serve_order(const struct many_sub *m, uint32_t *order)
{
	for (uint32_t i = 0; i < m->n; i++) {
		uint32_t j = i;

		while (j > 0 && m->bus[order[j - 1]].served > m->bus[i].served) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
}

/* A bus that fails (its producer gone) is said at once, once; while it
 * stays down the others are served, and a next() that gets no frame in
 * its timeout returns a down bus's failure rather than ETIMEDOUT, as a
 * subscriber of that one bus would. */
static int
many_next(struct fbus_sub *base, struct fbus_frame *f, int timeout_ms)
{
	struct many_sub *m = (struct many_sub *)base;
	int64_t until = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
	uint32_t order[FBUS_MAX_BUSES];

	for (;;) {
		struct epoll_event ev[8];
		struct bus *down = NULL;
		int wait_ms, rc;

		serve_order(m, order);
		for (uint32_t k = 0; k < m->n; k++) {
			struct bus *b = &m->bus[order[k]];

			rc = fbus_sub_next(b->sub, f, 0);
			watch(m, order[k]);
			if (rc == 0) {
				b->down = 0;
				b->served = ++m->tick;
				f->_priv[0] |= (uint64_t)(order[k] + 1) << BUS_SHIFT;
				return 0;
			}
			if (rc == FBUS_ETIMEDOUT || rc == FBUS_EBUSY) {
				b->down = 0; /* nothing, or it holds its most */
				continue;
			}
			b->rc = rc;
			if (b->down) {
				down = down ? down : b;
				continue;
			}
			b->down = 1;
			return fbusi_fail(&base->err, rc, "%s: %s", b->uri,
			                  fbus_sub_last_error(b->sub));
		}
		if (until < 0)
			wait_ms = -1;
		else if ((wait_ms = (int)(until - mono_ms())) <= 0)
			return down ? fbusi_fail(&base->err, down->rc, "%s: %s",
			                         down->uri,
			                         fbus_sub_last_error(down->sub))
			            : FBUS_ETIMEDOUT;
		rc = epoll_wait(m->epfd, ev, 8, wait_ms);
		if (rc < 0 && errno != EINTR)
			return fbusi_fail(&base->err, -errno, "epoll_wait: %s",
			                  fbus_strerror(-errno));
	}
}

static int
many_release(struct fbus_sub *base, struct fbus_frame *f)
{
	struct many_sub *m = (struct many_sub *)base;
	uint64_t i = f->_priv[0] >> BUS_SHIFT;
	struct fbus_frame own;
	struct fbus_sub *s;
	int r;

	if (i == 0 || i > m->n)
		return 0;
	s = m->bus[i - 1].sub;
	own = *f;
	own._priv[0] &= ((uint64_t)1 << BUS_SHIFT) - 1;
	r = s->ops->release(s, &own);
	if (r > 0) {
		s->held--;
		/* released for good: a second release is a no-op */
		f->_priv[0] = own._priv[0];
		f->_priv[1] = own._priv[1];
	}
	return r;
}

static int
many_fd(struct fbus_sub *base)
{
	struct many_sub *m = (struct many_sub *)base;

	for (uint32_t i = 0; i < m->n; i++)
		watch(m, i);
	return m->epfd;
}

static void
add_stats(struct fbus_sub_stats *t, const struct fbus_sub_stats *s)
{
	t->frames += s->frames;
	t->skipped += s->skipped;
	t->dropped += s->dropped;
	t->reconnects += s->reconnects;
	t->connected += s->connected;
	t->group_frames += s->group_frames;
	t->group_skipped += s->group_skipped;
}

static int
many_stats(struct fbus_sub *base, struct fbus_sub_stats *st)
{
	struct many_sub *m = (struct many_sub *)base;

	memset(st, 0, sizeof *st);
	for (uint32_t i = 0; i < m->n; i++) {
		struct fbus_sub_stats s;

		if (fbus_sub_stats(m->bus[i].sub, &s) == 0)
			add_stats(st, &s);
	}
	return 0;
}

static void
many_close(struct fbus_sub *base)
{
	struct many_sub *m = (struct many_sub *)base;

	for (uint32_t i = 0; i < m->n; i++) {
		fbus_sub_close(m->bus[i].sub);
		free(m->bus[i].uri);
	}
	if (m->epfd >= 0)
		close(m->epfd);
	free(m->bus);
	free(m);
}

static const struct fbusi_sub_ops many_ops = {
	.next = many_next,
	.release = many_release,
	.fd = many_fd,
	.stats = many_stats,
	.close = many_close,
};

int
fbus_sub_open_many(struct fbus_sub **sub, const char *const *uris, size_t n,
                   const struct fbus_sub_opts *in)
{
	struct fbus_sub_opts opts;
	struct fbusi_err err = { "" };
	struct many_sub *m;
	int rc;

	if (!sub)
		return FBUS_EINVAL;
	*sub = NULL;
	fbusi_clear_open_error();
	if (!uris || n == 0 || n > FBUS_MAX_BUSES) {
		fbusi_fail(&err, FBUS_EINVAL, "1 to %u buses", FBUS_MAX_BUSES);
		fbusi_set_open_error("open_many", FBUS_EINVAL, &err);
		return FBUS_EINVAL;
	}
	fbusi_sub_opts_defaults(&opts, in);
	m = calloc(1, sizeof *m);
	if (m)
		m->bus = calloc(n, sizeof *m->bus);
	if (!m || !m->bus ||
	    (m->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		rc = m && m->bus ? -errno : FBUS_ENOMEM;
		if (m)
			free(m->bus);
		free(m);
		fbusi_fail(&err, rc, "%s", fbus_strerror(rc));
		fbusi_set_open_error("open_many", rc, &err);
		return rc;
	}
	m->base.ops = &many_ops;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j <= i; j++)
			if (!uris[i] || (j < i && !strcmp(uris[i], uris[j]))) {
				fbusi_fail(&err, FBUS_EINVAL, "%s", uris[i] ?
				           "given twice" : "no URI");
				fbusi_set_open_error(uris[i] ? uris[i] : "(null)",
				                     FBUS_EINVAL, &err);
				many_close(&m->base);
				return FBUS_EINVAL;
			}
	for (size_t i = 0; i < n; i++) {
		/* the bus's own open says why it fails (fbus_open_error) */
		rc = fbus_sub_open(&m->bus[m->n].sub, uris[i], &opts);
		if (rc == 0 && !(m->bus[m->n].uri = strdup(uris[i]))) {
			fbus_sub_close(m->bus[m->n].sub);
			rc = FBUS_ENOMEM;
			fbusi_set_open_error(uris[i], rc, &err);
		}
		if (rc) {
			many_close(&m->base);
			return rc;
		}
		/* a URI's ?hold= wins, as for one bus: the whole may hold
		 * what its most generous bus may */
		if (m->bus[m->n].sub->max_held > m->base.max_held)
			m->base.max_held = m->bus[m->n].sub->max_held;
		m->bus[m->n].fd = -1;
		m->bus[m->n].down = 1;
		m->n++;
		/* in the epoll set from the start: next() sleeps in it */
		watch(m, m->n - 1);
	}
	*sub = &m->base;
	return 0;
}

uint32_t
fbus_frame_bus(const struct fbus_frame *frame)
{
	uint64_t i = frame ? frame->_priv[0] >> BUS_SHIFT : 0;

	return i ? (uint32_t)(i - 1) : 0;
}

uint32_t
fbus_sub_bus_count(struct fbus_sub *sub)
{
	if (!sub)
		return 0;
	return sub->ops == &many_ops ? ((struct many_sub *)sub)->n : 1;
}

const char *
fbus_sub_bus_uri(struct fbus_sub *sub, uint32_t i)
{
	if (!sub || sub->ops != &many_ops || i >= ((struct many_sub *)sub)->n)
		return NULL;
	return ((struct many_sub *)sub)->bus[i].uri;
}

int
fbus_sub_bus_stats(struct fbus_sub *sub, uint32_t i, struct fbus_sub_stats *st)
{
	if (!sub || !st || i >= fbus_sub_bus_count(sub))
		return FBUS_EINVAL;
	if (sub->ops != &many_ops)
		return fbus_sub_stats(sub, st);
	return fbus_sub_stats(((struct many_sub *)sub)->bus[i].sub, st);
}

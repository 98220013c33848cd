/* SPDX-License-Identifier: MIT */
/*
 * stream/sub.c — the subscriber side of unix: and tcp:// buses.  No thread:
 * fbus_sub_next() reads the non-blocking socket through a small state
 * machine (header, then metadata + payload with readv), validating each
 * header with wire.c BEFORE it allocates anything, so a peer can never
 * make us allocate more than the configured maximum.  max_held + 1 receive
 * buffers: `ready` (the newest complete frame), `rx` (being filled) and the
 * ones the caller holds, each with its own decoded copy; next() runs with
 * at most max_held - 1 held, so a free one is always there.  In latest mode
 * every frame already in the socket is read and the newest one wins, in
 * every mode frames are delivered one by one in order.  JPEG frames are
 * decoded only when delivered, never when skipped.
 */
#define _GNU_SOURCE
#include "jpeg_codec.h"
#include "stream/rxframe.h"
#include "stream/stream.h"
#include "stream/wire.h"

#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>

/* frames read per fbus_sub_next at most in latest mode, so a producer
 * faster than we read cannot keep us in the loop forever */
#define MAX_DRAIN 64
/* latest mode, a frame ready and a newer one half here: wait this long
 * for more of it, CATCHUP_TOTAL_MS in all per read (a reader that was
 * stalled has the kernel's buffers of older frames to get through) */
#define CATCHUP_MS 2
#define CATCHUP_TOTAL_MS 20

struct rxbuf {
	uint8_t *data;
	size_t cap;
	struct fbusi_wire_hdr h;
	struct fbus_format fmt; /* raw frames: the payload's layout */
	uint8_t *dec;           /* jpeg: the frame decoded */
	size_t dec_cap;
	uint64_t cookie;        /* held by the caller: fbus_frame._priv[1] */
	uint8_t meta[FBUS_META_MAX];
};

struct stream_sub {
	struct fbus_sub base;
	struct fbusi_uri uri;
	struct fbus_sub_opts opts;
	char where[300];
	struct fbusi_rx_limits lim;
	int fd;               /* -1 while disconnected */
	int tfd;              /* timerfd: pollable while disconnected */
	int broken;           /* sticky error without FBUS_SUB_RECONNECT */
	bool ever_connected;  /* the first connection is not a reconnect */
	int pending;          /* error to report after the frame in hand */
	int64_t next_try_ms;

	/* receive state */
	bool opening; /* pump stops after the welcome */
	bool welcomed;
	uint8_t hdr[FBUSI_WIRE_HDR_LEN];
	size_t hdr_got;
	bool in_body;
	size_t body_got;
	int64_t msg_deadline; /* 0 = between messages */
	struct rxbuf *bufs; /* max_held + 1 */
	uint32_t nbufs;
	struct rxbuf *rx, *ready;
	bool have_ready;

	/* worker group ("": none): a credit asks the producer for one frame;
	 * one is out while we are free and have none coming */
	char group[FBUSI_WIRE_GROUP_LEN];
	bool credit_out;
	uint32_t unseen; /* frames of ours replaced here before delivery */

	/* delivery */
	uint64_t cookies;
	struct fbusi_jpeg *jpeg;
	uint64_t last_seq;
	struct fbus_sub_stats st;
};

static struct stream_sub *
to_sub(struct fbus_sub *b)
{
	return (struct stream_sub *)b;
}

/* Put "unix:/path: " before a message written by a helper that does not
 * know the address (wire.c, jpeg_codec.c). */
static int
where_err(struct stream_sub *s, int rc)
{
	fbusi_err_prefix(&s->base.err, s->where);
	return rc;
}

/* While disconnected, fbus_sub_fd() is a timerfd: periodic when we retry,
 * readable for good once the handle is broken, so a poll loop calls
 * fbus_sub_next() and learns either way. */
static void
arm_timer(struct stream_sub *s, bool periodic)
{
	struct itimerspec it = { .it_value = { 0, 1000000 } };

	if (periodic)
		it.it_interval.tv_nsec = FBUSI_STREAM_RETRY_MS * 1000000L;
	(void)timerfd_settime(s->tfd, 0, &it, NULL);
}

static void
reset_rx(struct stream_sub *s)
{
	s->hdr_got = 0;
	s->in_body = false;
	s->body_got = 0;
	s->msg_deadline = 0;
}

static void
disconnect(struct stream_sub *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	reset_rx(s);
	s->have_ready = false;
	s->st.connected = 0;
	s->next_try_ms = fbusi_stream_now_ms() + FBUSI_STREAM_RETRY_MS;
	arm_timer(s, s->opts.flags & FBUS_SUB_RECONNECT);
}

static int
send_hello(struct stream_sub *s)
{
	struct fbusi_wire_hello h = {
		.mode = s->opts.mode,
		.full_policy = s->opts.full_policy,
		.depth = s->opts.depth,
		.block_ms = s->opts.block_ms,
		.flags = s->group[0] ? FBUSI_WIRE_HELLO_GROUP : 0,
	};
	uint8_t buf[FBUSI_WIRE_HELLO_MAX];
	size_t len = FBUSI_WIRE_HELLO_LEN;
	ssize_t n;

	/* our box lets a JPEG producer code at a scale (a group member's is
	 * not sent: the group's frames go to any member) */
	if (s->lim.fit_w && !s->group[0])
		h.flags |= FBUSI_WIRE_HELLO_FIT;
	fbusi_wire_hello_encode(buf, &h);
	if (s->group[0]) {
		memcpy(buf + len, s->group, FBUSI_WIRE_GROUP_LEN);
		len += FBUSI_WIRE_GROUP_LEN;
	}
	if (h.flags & FBUSI_WIRE_HELLO_FIT) {
		fbusi_wire_fit_encode(buf + len, s->lim.fit_w, s->lim.fit_h);
		len += FBUSI_WIRE_FIT_LEN;
	}
	/* a fresh socket's buffer is empty: 64 bytes always fit */
	do
		n = send(s->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	/* a producer that refused us may have hung up already; its welcome
	 * (saying why) is still waiting in our receive buffer */
	if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
		return 0;
	if (n != (ssize_t)len)
		return fbusi_fail(&s->base.err, FBUS_EIO, "%s: send hello: %s",
		                  s->where,
		                  n < 0 ? strerror(errno) : "short write");
	return 0;
}

static int pump(struct stream_sub *s);

/* A group member is free: ask for a frame, unless one is coming or here.
 * A failed send shows as a lost connection when we next read. */
static void
want_frame(struct stream_sub *s)
{
	static const uint8_t credit[4] = { 'F', 'B', 'S', 'C' };
	ssize_t n;

	if (!s->group[0] || s->fd < 0 || !s->welcomed || s->credit_out ||
	    s->have_ready)
		return;
	do
		n = send(s->fd, credit, sizeof credit,
		         MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	/* 4 bytes into a socket we send nothing else on: whole or not */
	s->credit_out = n == (ssize_t)sizeof credit;
}

/* Wait for the producer's welcome: a refusal (allow-list, subscriber limit)
 * or a peer that is no framebus producer shows up here, at open. */
static int
await_welcome(struct stream_sub *s, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		int left, rc;

		/* frames (and their errors) are next()'s business */
		s->opening = true;
		rc = pump(s);
		s->opening = false;
		if (rc)
			return rc;
		if (s->welcomed)
			return 0;
		left = (int)(deadline - fbusi_stream_now_ms());
		if (left <= 0)
			return fbusi_fail(&s->base.err, FBUS_ETIMEDOUT,
			                  "%s: no welcome from the producer "
			                  "(is it a framebus stream?)",
			                  s->where);
		if (poll(&p, 1, left) < 0 && errno != EINTR)
			return fbusi_fail(&s->base.err, -errno, "poll: %s",
			                  strerror(errno));
	}
}

static int
try_connect(struct stream_sub *s, int timeout_ms, int welcome_ms, struct fbusi_err *err)
{
	int rc;

	rc = fbusi_stream_connect(&s->uri, timeout_ms, &s->fd, err);
	if (rc) {
		s->fd = -1;
		return rc;
	}
	reset_rx(s);
	s->welcomed = false;
	s->have_ready = false;
	s->last_seq = 0;
	rc = send_hello(s);
	if (rc == 0)
		rc = await_welcome(s, fbusi_stream_now_ms() + welcome_ms);
	if (rc) {
		if (err != &s->base.err)
			*err = s->base.err;
		close(s->fd);
		s->fd = -1;
		return rc;
	}
	s->st.connected = 1;
	s->credit_out = false;
	want_frame(s);
	/* disarm: the socket is the pollable fd now */
	(void)timerfd_settime(s->tfd, 0, &(struct itimerspec){ 0 }, NULL);
	return 0;
}

/* A frame was fully received into rx: make it the ready one. */
static void
complete(struct stream_sub *s)
{
	struct rxbuf *t = s->ready;

	/* a frame already ready is replaced unseen; deliver() counts it
	 * from the gap in seq, like the ones the producer replaced (in a
	 * group, from this count: there seq gaps are other members', and
	 * the skips the producer told us in its header would go with it) */
	if (s->have_ready && s->group[0]) {
		s->unseen++;
		if (t->h.group_skips & FBUSI_WIRE_FLAG_GROUP)
			s->unseen += t->h.group_skips &
			             FBUSI_WIRE_GROUP_SKIPS_MAX;
	}
	s->ready = s->rx;
	for (uint32_t i = 0; t->cookie && i < s->nbufs; i++)
		if (!s->bufs[i].cookie && &s->bufs[i] != s->ready)
			t = &s->bufs[i];
	s->rx = t;
	s->have_ready = true;
	s->credit_out = false; /* the one we asked for */
	reset_rx(s);
}

/*
 * Read what the socket has.  Returns 0 (nothing more now), or a negative
 * code for EOF (FBUS_EDISCONNECTED) and framing errors, with text in err.
 */
static int
pump(struct stream_sub *s)
{
	int frames = 0;
	int64_t catchup_end = 0;

	for (;;) {
		ssize_t n;

		if (s->have_ready && (s->opts.mode == FBUS_MODE_EVERY ||
		                      frames >= MAX_DRAIN))
			return 0;
		if (!s->welcomed) {
			n = recv(s->fd, s->hdr + s->hdr_got,
			         FBUSI_WIRE_WELCOME_LEN - s->hdr_got,
			         MSG_DONTWAIT);
		} else if (!s->in_body) {
			n = recv(s->fd, s->hdr + s->hdr_got,
			         sizeof s->hdr - s->hdr_got, MSG_DONTWAIT);
		} else {
			struct rxbuf *b = s->rx;
			size_t meta = b->h.meta_len, got = s->body_got;
			struct iovec iov[2];
			int k = 0;
			if (got < meta) {
				iov[k].iov_base = b->meta + got;
				iov[k++].iov_len = meta - got;
				got = 0;
			} else {
				got -= meta;
			}
			iov[k].iov_base = b->data + got;
			iov[k++].iov_len = b->h.payload_len - got;
			n = readv(s->fd, iov, k);
		}
		if (n < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			if ((e == EAGAIN || e == EWOULDBLOCK) &&
			    s->have_ready && (s->hdr_got || s->in_body)) {
				/* latest mode: the newer frame, not the
				 * ready one, if it comes soon */
				struct pollfd pfd = { .fd = s->fd,
					              .events = POLLIN };
				int64_t now = fbusi_stream_now_ms();

				if (!catchup_end)
					catchup_end = now + CATCHUP_TOTAL_MS;
				if (now < catchup_end &&
				    poll(&pfd, 1, CATCHUP_MS) == 1)
					continue;
			}
			if (e == EAGAIN || e == EWOULDBLOCK)
				return 0;
			return fbusi_fail(&s->base.err, FBUS_EDISCONNECTED,
			                  "%s: connection lost: %s", s->where,
			                  strerror(e));
		}
		if (n == 0) {
			/* the producer is gone either way (a closing
			 * producer drops the frame it was writing) */
			if (s->hdr_got || s->in_body)
				return fbusi_fail(&s->base.err,
				                  FBUS_EDISCONNECTED,
				                  "%s: producer closed the "
				                  "connection mid-frame (truncated "
				                  "frame)",
				                  s->where);
			return fbusi_fail(&s->base.err, FBUS_EDISCONNECTED,
			                  "%s: producer closed the connection",
			                  s->where);
		}
		if (!s->msg_deadline)
			s->msg_deadline =
				fbusi_stream_now_ms() + FBUSI_STREAM_STALL_MS;
		if (!s->welcomed) {
			struct fbusi_wire_welcome w;
			int rc;

			s->hdr_got += (size_t)n;
			rc = fbusi_wire_check_prefix(s->hdr, s->hdr_got,
			                             FBUSI_WIRE_MAGIC_WELCOME,
			                             FBUSI_WIRE_WELCOME_LEN,
			                             &s->base.err);
			if (rc == 0 && s->hdr_got == FBUSI_WIRE_WELCOME_LEN)
				rc = fbusi_wire_welcome_parse(s->hdr, &w,
				                              &s->base.err);
			if (rc)
				return where_err(s, rc);
			if (s->hdr_got < FBUSI_WIRE_WELCOME_LEN)
				continue;
			if (w.status == FBUS_EACCES)
				return fbusi_fail(&s->base.err, w.status,
				                  "%s: the producer refused this "
				                  "subscriber: our uid %u is not "
				                  "allowed",
				                  s->where, (unsigned)geteuid());
			if (w.status)
				return fbusi_fail(&s->base.err, w.status,
				                  "%s: the producer refused this "
				                  "subscriber: %s",
				                  s->where,
				                  fbus_strerror(w.status));
			/* frames before next_seq are not ours to miss */
			s->last_seq = w.next_seq - 1;
			s->welcomed = true;
			reset_rx(s);
			if (s->opening)
				return 0;
			continue;
		}
		if (!s->in_body) {
			struct rxbuf *b = s->rx;
			int rc;

			s->hdr_got += (size_t)n;
			rc = fbusi_wire_check_prefix(s->hdr, s->hdr_got,
			                             FBUSI_WIRE_MAGIC_FRAME,
			                             FBUSI_WIRE_HDR_LEN,
			                             &s->base.err);
			if (rc == 0 && s->hdr_got == sizeof s->hdr)
				rc = fbusi_wire_hdr_parse(s->hdr, s->lim.max_bytes,
				                          &b->h, &b->fmt,
				                          &s->base.err);
			if (rc)
				return where_err(s, rc);
			if (s->hdr_got < sizeof s->hdr)
				continue;
			/* validated against max_bytes above: only now
			 * allocate */
			if (fbusi_stream_grow(&b->data, &b->cap, b->h.payload_len))
				return fbusi_fail(&s->base.err, FBUS_ENOMEM,
				                  "out of memory for a %" PRIu32
				                  " byte frame",
				                  b->h.payload_len);
			s->in_body = true;
			s->body_got = 0;
			s->msg_deadline +=
				(int64_t)(b->h.payload_len >> 20) * 1000;
		} else {
			s->body_got += (size_t)n;
		}
		if (s->in_body && s->body_got == s->rx->h.meta_len +
		                                     (size_t)s->rx->h.payload_len) {
			complete(s);
			frames++;
		}
	}
}

/* Turn the ready buffer into the caller's frame (decoding JPEG). */
static int
deliver(struct stream_sub *s, struct fbus_frame *fr)
{
	struct rxbuf *b = s->ready;
	/* one frame held at most: one decoded copy does for every buffer */
	struct rxbuf *d = s->nbufs == 2 ? &s->bufs[0] : b;
	struct fbusi_wire_hdr *h = &b->h;
	int rc = fbusi_rx_frame(&s->lim, &s->jpeg, h, &b->fmt, b->meta, b->data,
	                        &d->dec, &d->dec_cap, s->where, fr,
	                        &s->base.err);

	if (rc)
		return rc;
	/* in a group, the frames between ours went to the other members;
	 * the producer says what the group skipped */
	if (s->group[0] && (h->group_skips & FBUSI_WIRE_FLAG_GROUP)) {
		uint32_t n = (h->group_skips & FBUSI_WIRE_GROUP_SKIPS_MAX) +
		             s->unseen;

		s->unseen = 0;
		if (s->opts.mode == FBUS_MODE_EVERY)
			s->st.dropped += n;
		else
			fr->skipped = n;
		s->st.skipped += fr->skipped;
		s->st.group_skipped += n;
	} else if (h->seq > s->last_seq + 1 && !s->group[0]) {
		uint64_t gap = h->seq - s->last_seq - 1;
		/* every mode: only the producer drops (full queue);
		 * latest mode: whatever we never saw */
		if (s->opts.mode == FBUS_MODE_EVERY)
			s->st.dropped += gap;
		else
			fr->skipped = gap;
		s->st.skipped += fr->skipped;
	}
	s->last_seq = h->seq;
	s->have_ready = false;
	s->st.frames++;
	b->cookie = ++s->cookies;
	fr->_priv[0] |= (uint64_t)(b - s->bufs);
	fr->_priv[1] = b->cookie;
	return 0;
}

/* Our own copy: nothing to hand back to the producer, the buffer just
 * becomes free for the frames to come. */
static int
sub_release(struct fbus_sub *base, struct fbus_frame *fr)
{
	struct stream_sub *s = to_sub(base);
	uint64_t i = FBUSI_PRIV_INDEX(fr->_priv[0]);

	if (!fr->_priv[1] || i >= s->nbufs ||
	    s->bufs[i].cookie != fr->_priv[1])
		return 0;
	s->bufs[i].cookie = 0;
	fr->_priv[1] = 0;
	fr->data = NULL;
	/* holding nothing now: free for the next one (a caller that polls
	 * our fd gets it without calling next first) */
	for (i = 0; i < s->nbufs && !s->bufs[i].cookie; i++)
		;
	if (i == s->nbufs)
		want_frame(s);
	return 1;
}

/* A connection-level failure: report it, then keep the handle broken or
 * reconnect later. */
static int
fail_conn(struct stream_sub *s, int rc)
{
	disconnect(s);
	if (!(s->opts.flags & FBUS_SUB_RECONNECT))
		s->broken = rc;
	return rc;
}

static int
sub_next(struct fbus_sub *base, struct fbus_frame *fr, int timeout_ms)
{
	struct stream_sub *s = to_sub(base);
	int64_t deadline =
		fbusi_stream_now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
	int rc;

	if (s->broken)
		return s->broken;
	if (s->pending) {
		rc = s->pending;
		s->pending = 0;
		return fail_conn(s, rc);
	}
	for (;;) {
		int64_t now = fbusi_stream_now_ms();
		int wait;

		if (s->fd < 0) {
			uint64_t junk;
			(void)!read(s->tfd, &junk, sizeof junk);
			if (now >= s->next_try_ms) {
				int left = timeout_ms < 0 ? 1000
				                          : (int)(deadline - now);
				if (left < 1)
					left = 1;
				/* the welcome follows at once from a live
				 * producer; don't give up on it too soon */
				rc = try_connect(s, left, left > 500 ? left : 500,
				                 &s->base.err);
				if (rc == 0) {
					if (s->ever_connected)
						s->st.reconnects++;
					s->ever_connected = true;
					continue;
				}
				s->next_try_ms = fbusi_stream_now_ms() +
				                 FBUSI_STREAM_RETRY_MS;
				/* retrying cannot cure a refusal: say it now
				 * (the next call tries again) */
				if (fbusi_connect_error_is_final(rc))
					return rc;
			}
			wait = (int)(s->next_try_ms - fbusi_stream_now_ms());
		} else {
			want_frame(s);
			rc = pump(s);
			if (rc && s->have_ready) {
				/* the frame in hand is good: hand it out,
				 * report the end or the error next time */
				s->pending = rc;
				rc = 0;
			}
			if (rc == 0 && s->have_ready) {
				rc = deliver(s, fr);
				if (rc == 0)
					return 0;
				s->pending = 0;
			}
			if (rc)
				return fail_conn(s, rc);
			if (s->msg_deadline && now >= s->msg_deadline)
				return fail_conn(
					s, fbusi_fail(&s->base.err, FBUS_EPROTO,
				                      "%s: producer stalled: "
				                      "message incomplete past "
				                      "its deadline (%d ms + 1 s "
				                      "per MiB; %zu header + %zu "
				                      "body bytes came)",
				                      s->where,
				                      FBUSI_STREAM_STALL_MS,
				                      s->hdr_got, s->body_got));
			wait = -1;
		}
		if (timeout_ms >= 0) {
			int left = (int)(deadline - fbusi_stream_now_ms());
			/* no producer within the timeout is "disconnected",
			 * as on every transport; a producer but no frame is
			 * a timeout */
			if (left <= 0)
				return s->fd < 0 ? FBUS_EDISCONNECTED
				                 : FBUS_ETIMEDOUT;
			if (wait < 0 || wait > left)
				wait = left;
		}
		if (s->msg_deadline) {
			int left =
				(int)(s->msg_deadline - fbusi_stream_now_ms());
			if (left < 0)
				left = 0;
			if (wait < 0 || wait > left)
				wait = left;
		}
		if (s->fd >= 0) {
			struct pollfd p = { .fd = s->fd, .events = POLLIN };
			if (poll(&p, 1, wait) < 0 && errno != EINTR)
				return fbusi_fail(&s->base.err, -errno,
				                  "poll: %s", strerror(errno));
		} else if (wait > 0) {
			struct pollfd p = { .fd = s->tfd, .events = POLLIN };
			(void)poll(&p, 1, wait);
		}
	}
}

static int
sub_fd(struct fbus_sub *base)
{
	struct stream_sub *s = to_sub(base);

	return s->fd >= 0 ? s->fd : s->tfd;
}

static int
sub_stats(struct fbus_sub *base, struct fbus_sub_stats *st)
{
	*st = to_sub(base)->st;
	return 0;
}

static void
sub_close(struct fbus_sub *base)
{
	struct stream_sub *s = to_sub(base);

	if (s->fd >= 0)
		close(s->fd);
	if (s->tfd >= 0)
		close(s->tfd);
	for (uint32_t i = 0; s->bufs && i < s->nbufs; i++) {
		free(s->bufs[i].data);
		free(s->bufs[i].dec);
	}
	free(s->bufs);
	fbusi_jpeg_close(s->jpeg);
	free(s);
}

static const struct fbusi_sub_ops stream_sub_ops = {
	.next = sub_next,
	.release = sub_release,
	.fd = sub_fd,
	.stats = sub_stats,
	.close = sub_close,
};

int
fbusi_stream_sub_open(struct fbus_sub **out, const struct fbusi_uri *uri,
                      const struct fbus_sub_opts *opts, struct fbusi_err *err)
{
	struct stream_sub *s;
	int rc;

	if (opts->depth > FBUSI_WIRE_MAX_DEPTH ||
	    opts->block_ms > FBUSI_WIRE_MAX_BLOCK_MS)
		return fbusi_fail(err, FBUS_EINVAL,
		                  "depth at most %u, block_ms at most %u",
		                  FBUSI_WIRE_MAX_DEPTH, FBUSI_WIRE_MAX_BLOCK_MS);
	s = calloc(1, sizeof *s);
	if (s) {
		s->nbufs = opts->max_held + 1;
		s->bufs = calloc(s->nbufs, sizeof *s->bufs);
	}
	if (!s || !s->bufs) {
		free(s);
		return fbusi_fail(err, FBUS_ENOMEM, "out of memory");
	}
	s->base.ops = &stream_sub_ops;
	s->uri = *uri;
	s->opts = *opts;
	s->fd = -1;
	s->tfd = -1;
	s->rx = &s->bufs[0];
	s->ready = &s->bufs[1];
	if (opts->group)
		snprintf(s->group, sizeof s->group, "%s", opts->group);
	s->opts.group = NULL; /* the caller's string: not ours to keep */
	fbusi_stream_describe(uri, s->where, sizeof s->where);
	rc = fbusi_rx_limits(opts, uri, &s->lim, err);
	if (rc)
		goto err;
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->tfd < 0) {
		rc = fbusi_fail(err, -errno, "timerfd: %s", strerror(errno));
		goto err;
	}
	rc = try_connect(s, 2000, FBUSI_STREAM_HELLO_MS, err);
	if (rc == 0)
		s->ever_connected = true;
	if (rc) {
		if (!(opts->flags & FBUS_SUB_RECONNECT) ||
		    fbusi_connect_error_is_final(rc))
			goto err;
		/* start order does not matter: frames flow once a
		 * producer appears */
		s->base.err = *err;
		disconnect(s);
	}
	*out = &s->base;
	return 0;

err:
	sub_close(&s->base);
	return rc;
}

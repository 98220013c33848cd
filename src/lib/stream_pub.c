/* SPDX-License-Identifier: MIT */
/*
 * stream_pub.c — the producer side of unix: and tcp:// buses.  Frames are
 * built once (header + metadata + payload, JPEG-encoded once if asked) into
 * reference-counted blobs and queued per subscriber; one I/O thread accepts
 * connections, reads each subscriber's hello, and writes with non-blocking
 * sends, keeping a partial-write offset per subscriber.  So loan/commit never
 * wait for a subscriber in latest mode: a latest subscriber holds at most the
 * frame being written plus the newest pending one (older pending frames are
 * replaced, the subscriber sees the gap in seq), an every subscriber holds a
 * bounded queue whose full policy (drop or block) it chose in its hello.
 *
 * Locking: pub->lock guards the peer list, queues, blob refcounts and the
 * free list.  A peer's `cur` and `off` (the frame being written) belong to
 * the I/O thread alone, which sends without the lock held so that a commit
 * never waits behind a kernel copy of a large frame.
 */
#define _GNU_SOURCE
#include "frame_wire.h"
#include "jpeg_codec.h"
#include "stream_int.h"

#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define FREE_BLOBS_KEPT 4
#define MAX_LOGS 8

struct blob {
	struct blob *next_free;
	int refs; /* under pub->lock */
	uint8_t hdr[FBUSI_WIRE_HDR_LEN];
	uint32_t meta_len;
	uint32_t body_len;
	const uint8_t *body; /* payload, or enc for jpeg */
	size_t total;        /* header + meta + body */
	uint8_t *payload;    /* raw pixels (what the slot exposes) */
	size_t cap;
	uint8_t *enc; /* jpeg output */
	size_t enc_cap;
	int64_t t_loan_mono, t_loan_real;
	uint8_t meta[FBUS_META_MAX];
};

enum peer_state { PEER_HELLO, PEER_READY };

struct peer {
	uint64_t id;
	int fd;
	int state;
	int64_t hello_deadline;
	uint8_t hello[FBUSI_WIRE_HELLO_LEN];
	size_t hello_got;
	struct fbusi_wire_hello h;
	bool dead;
	bool blocked; /* last send hit EAGAIN: wait for POLLOUT */
	uint8_t pre[FBUSI_WIRE_WELCOME_LEN]; /* welcome, before any frame */
	size_t pre_len, pre_off;
	/* I/O thread only */
	struct blob *cur;
	size_t off;
	int64_t cur_deadline;
	/* under lock: pending frames, oldest first */
	struct blob **q;
	uint32_t qcap, qhead, qlen;
	uint64_t sent, replaced, dropped;
	char name[80];
};

struct stream_pub {
	struct fbus_pub base;
	struct fbusi_uri uri;
	struct fbus_pub_opts opts;
	char where[300];
	int lfd;
	int efd;
	dev_t dev;
	ino_t ino;
	pthread_t thread;
	bool thread_started;

	pthread_mutex_t lock;
	pthread_cond_t room; /* a queue got shorter or a peer left */
	bool stop;
	struct peer **peers;
	uint32_t npeers;
	uint64_t next_id;
	struct blob *free_blobs;
	uint32_t nfree;
	uint64_t frames, dropped, peer_errors;
	uint64_t seq; /* last committed; a welcome says seq + 1 comes next */
	char peer_err[FBUSI_ERRLEN]; /* last dropped-peer reason */
	bool peer_err_new;

	/* committing thread only */
	bool loaned;
	uint64_t *ids;
	struct fbusi_jpeg *jpeg;
	int quality;

	/* I/O thread only */
	int64_t accept_paused; /* out of fds: retry accept after this */
	/* messages for the log callback, sent after unlocking */
	char logs[MAX_LOGS][FBUSI_ERRLEN];
	int logl[MAX_LOGS];
	int nlogs;
	struct pollfd *pfds;
};

static struct stream_pub *
to_pub(struct fbus_pub *b)
{
	return (struct stream_pub *)b;
}

/* ---- blobs -------------------------------------------------------------- */

static void
blob_free(struct blob *b)
{
	free(b->payload);
	free(b->enc);
	free(b);
}

/* Drop one reference; the last one parks the blob for reuse.  Locked. */
static void
blob_unref(struct stream_pub *p, struct blob *b)
{
	if (--b->refs > 0)
		return;
	if (p->nfree >= FREE_BLOBS_KEPT) {
		blob_free(b);
		return;
	}
	b->next_free = p->free_blobs;
	p->free_blobs = b;
	p->nfree++;
}

static int
grow(uint8_t **buf, size_t *cap, size_t need)
{
	uint8_t *n;

	if (*cap >= need)
		return 0;
	/* 64-byte aligned: users run SIMD over the pixels */
	n = aligned_alloc(64, (need + 63) & ~(size_t)63);
	if (!n)
		return FBUS_ENOMEM;
	free(*buf);
	*buf = n;
	*cap = need;
	return 0;
}

/* ---- log and peer errors (I/O thread, locked) --------------------------- */

static void FBUSI_PRINTF(3, 4)
queue_log(struct stream_pub *p, int level, const char *fmt, ...)
{
	va_list ap;

	if (!p->opts.log || p->nlogs >= MAX_LOGS)
		return;
	va_start(ap, fmt);
	vsnprintf(p->logs[p->nlogs], FBUSI_ERRLEN, fmt, ap);
	va_end(ap);
	p->logl[p->nlogs++] = level;
}

static void
flush_logs(struct stream_pub *p)
{
	for (int i = 0; i < p->nlogs; i++)
		p->opts.log(p->opts.log_user, p->logl[i], p->logs[i]);
	p->nlogs = 0;
}

/* Best effort: a refused subscriber learns why instead of seeing a bare
 * hang-up.  The socket is fresh, so 32 bytes fit its buffer. */
static void
send_refusal(struct peer *peer, int status)
{
	struct fbusi_wire_welcome w = { .status = status, .next_seq = 1 };
	uint8_t buf[FBUSI_WIRE_WELCOME_LEN];

	fbusi_wire_welcome_encode(buf, &w);
	(void)!send(peer->fd, buf, sizeof buf, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* A peer broke the protocol or is not allowed: count it, tell it (status,
 * while it waits for its welcome), say why. */
static void FBUSI_PRINTF(4, 5)
peer_fail(struct stream_pub *p, struct peer *peer, int status,
          const char *fmt, ...)
{
	char why[FBUSI_ERRLEN];
	va_list ap;

	if (status && peer->state == PEER_HELLO && !peer->dead)
		send_refusal(peer, status);
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	fbusi_errorf(p->peer_err, "%s: dropped %s: %s", p->where, peer->name,
	             why);
	p->peer_err_new = true;
	p->peer_errors++;
	peer->dead = true;
	queue_log(p, FBUS_LOG_WARN, "%s", p->peer_err);
}

/* ---- peers -------------------------------------------------------------- */

static void
peer_destroy(struct stream_pub *p, struct peer *peer)
{
	if (peer->cur)
		blob_unref(p, peer->cur);
	for (uint32_t i = 0; i < peer->qlen; i++)
		blob_unref(p, peer->q[(peer->qhead + i) % peer->qcap]);
	free(peer->q);
	close(peer->fd);
	free(peer);
}

static bool
peer_allowed(struct stream_pub *p, int fd, struct peer *peer)
{
	struct ucred cred;
	socklen_t len = sizeof cred;

	if (p->uri.scheme != FBUSI_SCHEME_UNIX)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		peer_fail(p, peer, FBUS_EACCES, "SO_PEERCRED: %s",
		          strerror(errno));
		return false;
	}
	snprintf(peer->name, sizeof peer->name, "peer pid %d uid %u",
	         (int)cred.pid, (unsigned)cred.uid);
	if (cred.uid == geteuid())
		return true;
	for (uint32_t i = 0; i < p->opts.n_allow_uids; i++)
		if (p->opts.allow_uids[i] == cred.uid)
			return true;
	for (uint32_t i = 0; i < p->opts.n_allow_gids; i++)
		if (p->opts.allow_gids[i] == cred.gid)
			return true;
	peer_fail(p, peer, FBUS_EACCES, "uid %u / gid %u not allowed",
	          (unsigned)cred.uid, (unsigned)cred.gid);
	return false;
}

static void
accept_peers(struct stream_pub *p)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		struct peer *peer;
		int fd;

		fd = accept4(p->lfd, (struct sockaddr *)&ss, &len,
		             SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* the connection stays queued and the listen
				 * fd readable: pause instead of spinning */
				p->accept_paused = fbusi_stream_now_ms() + 100;
				queue_log(p, FBUS_LOG_ERROR,
				          "%s: accept: %s (pausing)", p->where,
				          strerror(errno));
			} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
				queue_log(p, FBUS_LOG_ERROR, "%s: accept: %s",
				          p->where, strerror(errno));
			}
			return;
		}
		peer = calloc(1, sizeof *peer);
		if (!peer) {
			close(fd);
			continue;
		}
		peer->fd = fd;
		peer->id = ++p->next_id;
		peer->state = PEER_HELLO;
		peer->hello_deadline =
			fbusi_stream_now_ms() + FBUSI_STREAM_HELLO_MS;
		snprintf(peer->name, sizeof peer->name, "peer #%" PRIu64,
		         peer->id);
		if (p->uri.scheme == FBUSI_SCHEME_TCP) {
			char host[64] = "?", port[8] = "?";
			(void)getnameinfo((struct sockaddr *)&ss, len, host,
			                  sizeof host, port, sizeof port,
			                  NI_NUMERICHOST | NI_NUMERICSERV);
			snprintf(peer->name, sizeof peer->name, "peer %s:%s",
			         host, port);
			fbusi_stream_tune(fd, FBUSI_SCHEME_TCP);
		}
		if (!peer_allowed(p, fd, peer)) {
			peer_destroy(p, peer);
			continue;
		}
		if (p->npeers >= p->opts.max_subscribers) {
			peer_fail(p, peer, -ENOSPC,
			          "subscriber limit of %" PRIu32 " reached",
			          p->opts.max_subscribers);
			peer_destroy(p, peer);
			continue;
		}
		p->peers[p->npeers++] = peer;
	}
}

static void
read_hello(struct stream_pub *p, struct peer *peer)
{
	char why[FBUSI_ERRLEN];
	ssize_t n;
	int rc;

	do
		n = recv(peer->fd, peer->hello + peer->hello_got,
		         sizeof peer->hello - peer->hello_got, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			peer->dead = true;
		return;
	}
	if (n == 0) {
		/* left before saying hello (e.g. a stale-socket probe) */
		if (peer->hello_got)
			peer_fail(p, peer, 0,
			          "hello truncated after %zu of %d bytes",
			          peer->hello_got, FBUSI_WIRE_HELLO_LEN);
		peer->dead = true;
		return;
	}
	peer->hello_got += (size_t)n;
	/* refuse garbage at its first bytes rather than at the deadline */
	rc = fbusi_wire_check_prefix(peer->hello, peer->hello_got,
	                             FBUSI_WIRE_MAGIC_HELLO,
	                             FBUSI_WIRE_HELLO_LEN, why);
	if (rc == 0 && peer->hello_got == sizeof peer->hello)
		rc = fbusi_wire_hello_parse(peer->hello, &peer->h, why);
	if (rc) {
		peer_fail(p, peer, rc, "%s", why);
		return;
	}
	if (peer->hello_got < sizeof peer->hello)
		return;
	peer->qcap = peer->h.mode == FBUS_MODE_EVERY ? peer->h.depth : 1;
	peer->q = calloc(peer->qcap, sizeof *peer->q);
	if (!peer->q) {
		peer_fail(p, peer, FBUS_ENOMEM, "out of memory");
		return;
	}
	/* frames up to p->seq were published before it joined */
	{
		struct fbusi_wire_welcome w = { .next_seq = p->seq + 1 };
		fbusi_wire_welcome_encode(peer->pre, &w);
		peer->pre_len = sizeof peer->pre;
	}
	peer->state = PEER_READY;
	queue_log(p, FBUS_LOG_INFO, "%s: %s subscribed (%s mode)", p->where,
	          peer->name,
	          peer->h.mode == FBUS_MODE_EVERY ? "every" : "latest");
}

/* A ready subscriber sends nothing after its hello: read only to notice
 * that it hung up. */
static void
read_ready(struct stream_pub *p, struct peer *peer)
{
	uint8_t b;
	ssize_t n;

	do
		n = recv(peer->fd, &b, 1, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
		peer->dead = true;
	else if (n > 0)
		peer_fail(p, peer, 0, "sent data after its hello");
}

/*
 * Write as much as the socket takes.  Called locked; unlocks around the
 * send itself.  Only this thread touches cur/off, and only this thread frees
 * peers, so `peer` stays valid while unlocked.
 */
static void
flush_peer(struct stream_pub *p, struct peer *peer)
{
	while (!peer->dead && !peer->blocked && peer->pre_off < peer->pre_len) {
		ssize_t n = send(peer->fd, peer->pre + peer->pre_off,
		                 peer->pre_len - peer->pre_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			peer->blocked = true;
		else if (n < 0)
			peer->dead = true;
		else
			peer->pre_off += (size_t)n;
	}
	while (!peer->dead && !peer->blocked) {
		struct iovec iov[3];
		struct msghdr msg;
		struct blob *b;
		size_t off;
		int n_iov = 0;
		ssize_t n;

		if (!peer->cur) {
			if (!peer->qlen)
				return;
			peer->cur = peer->q[peer->qhead];
			peer->qhead = (peer->qhead + 1) % peer->qcap;
			peer->qlen--;
			peer->off = 0;
			peer->cur_deadline = 0;
			pthread_cond_broadcast(&p->room);
		}
		b = peer->cur;
		off = peer->off;
		if (off < sizeof b->hdr) {
			iov[n_iov].iov_base = b->hdr + off;
			iov[n_iov++].iov_len = sizeof b->hdr - off;
			off = 0;
		} else {
			off -= sizeof b->hdr;
		}
		if (off < b->meta_len) {
			iov[n_iov].iov_base = b->meta + off;
			iov[n_iov++].iov_len = b->meta_len - off;
			off = 0;
		} else {
			off -= b->meta_len;
		}
		iov[n_iov].iov_base = (void *)(b->body + off);
		iov[n_iov++].iov_len = b->body_len - off;
		memset(&msg, 0, sizeof msg);
		msg.msg_iov = iov;
		msg.msg_iovlen = (size_t)n_iov;

		pthread_mutex_unlock(&p->lock);
		do
			n = sendmsg(peer->fd, &msg,
			            MSG_NOSIGNAL | MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
		pthread_mutex_lock(&p->lock);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				peer->blocked = true;
				if (!peer->cur_deadline)
					peer->cur_deadline =
						fbusi_stream_now_ms() + 10000 +
						(int64_t)(b->total >> 20) *
							1000;
			} else {
				peer->dead = true;
			}
			return;
		}
		peer->off += (size_t)n;
		if (peer->off == b->total) {
			peer->sent++;
			peer->cur = NULL;
			blob_unref(p, b);
		}
	}
}

static void
reap_dead(struct stream_pub *p)
{
	uint32_t j = 0;

	for (uint32_t i = 0; i < p->npeers; i++) {
		struct peer *peer = p->peers[i];
		if (!peer->dead) {
			p->peers[j++] = peer;
			continue;
		}
		if (peer->state == PEER_READY)
			queue_log(p, FBUS_LOG_INFO,
			          "%s: %s left (%" PRIu64 " frames sent, %" PRIu64
			          " replaced by newer, %" PRIu64 " dropped)",
			          p->where, peer->name, peer->sent,
			          peer->replaced, peer->dropped);
		peer_destroy(p, peer);
	}
	if (j != p->npeers)
		pthread_cond_broadcast(&p->room);
	p->npeers = j;
}

static void *
io_thread(void *arg)
{
	struct stream_pub *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		int64_t now = fbusi_stream_now_ms();
		int timeout = 1000, n, rc;
		uint64_t junk;

		for (uint32_t i = 0; i < p->npeers; i++)
			flush_peer(p, p->peers[i]);
		reap_dead(p);

		p->pfds[0] = (struct pollfd){ .fd = p->efd, .events = POLLIN };
		/* a negative fd is ignored by poll (man 2 poll) */
		p->pfds[1] = (struct pollfd){
			.fd = now < p->accept_paused ? -1 : p->lfd,
			.events = POLLIN
		};
		if (now < p->accept_paused &&
		    p->accept_paused - now < timeout)
			timeout = (int)(p->accept_paused - now);
		n = 2;
		for (uint32_t i = 0; i < p->npeers; i++) {
			struct peer *peer = p->peers[i];
			int64_t dl = peer->state == PEER_HELLO
			                     ? peer->hello_deadline
			                     : peer->blocked ? peer->cur_deadline
			                                     : 0;
			p->pfds[n].fd = peer->fd;
			p->pfds[n].events = POLLIN;
			if (peer->blocked)
				p->pfds[n].events |= POLLOUT;
			p->pfds[n++].revents = 0;
			if (dl && dl - now < timeout)
				timeout = dl > now ? (int)(dl - now) : 0;
		}
		pthread_mutex_unlock(&p->lock);
		flush_logs(p);
		rc = poll(p->pfds, (nfds_t)n, timeout);
		if (rc < 0)
			rc = -errno;
		pthread_mutex_lock(&p->lock);
		if (rc == -ENOMEM) {
			/* the kernel's poll table: wait and try again */
			pthread_mutex_unlock(&p->lock);
			nanosleep(&(struct timespec){ 0, 10000000L }, NULL);
			pthread_mutex_lock(&p->lock);
		}
		if (rc <= 0)
			goto deadlines;
		if (p->pfds[0].revents & POLLIN)
			(void)!read(p->efd, &junk, sizeof junk);
		/* peers first: accept may append to the array that the
		 * pollfds 2.. mirror */
		for (int i = 2; i < n; i++) {
			struct peer *peer = p->peers[i - 2];
			short re = p->pfds[i].revents;
			if (!re)
				continue;
			if (re & POLLOUT)
				peer->blocked = false;
			if (re & (POLLIN | POLLHUP | POLLERR)) {
				if (peer->state == PEER_HELLO)
					read_hello(p, peer);
				else
					read_ready(p, peer);
				if (re & POLLERR)
					peer->dead = true;
			}
		}
		if (p->pfds[1].revents & POLLIN)
			accept_peers(p);
	deadlines:
		now = fbusi_stream_now_ms();
		for (uint32_t i = 0; i < p->npeers; i++) {
			struct peer *peer = p->peers[i];
			if (peer->dead)
				continue;
			if (peer->state == PEER_HELLO &&
			    now >= peer->hello_deadline)
				peer_fail(p, peer, FBUS_ETIMEDOUT,
				          "no complete hello within %d ms (%zu of "
				          "%d bytes)",
				          FBUSI_STREAM_HELLO_MS, peer->hello_got,
				          FBUSI_WIRE_HELLO_LEN);
			else if (peer->blocked && peer->cur_deadline &&
			         now >= peer->cur_deadline)
				peer_fail(p, peer, 0,
				          "stopped reading: one frame pending "
				          "for too long");
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void
wake_io(struct stream_pub *p)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is already non-zero: awake anyway */
	(void)!write(p->efd, &one, sizeof one);
}

/* ---- the handle --------------------------------------------------------- */

static int
pub_loan(struct fbus_pub *base, const struct fbus_format *fmt,
         struct fbus_slot *slot)
{
	struct stream_pub *p = to_pub(base);
	struct fbus_format f = *fmt;
	struct blob *b, **pp;
	size_t bound = 0;
	int rc;

	if (p->loaned)
		return fbusi_fail(base->err, FBUS_EBUSY,
		                  "a slot is already on loan");
	if (fbus_format_layout(&f))
		return fbusi_fail(base->err, FBUS_EINVAL,
		                  "invalid frame format");
	if (p->uri.codec == FBUSI_CODEC_JPEG &&
	    f.pixfmt != FBUS_PIXFMT_ENCODED) {
		if (!fbusi_jpeg_can_encode(f.pixfmt))
			return fbusi_fail(base->err, FBUS_ENOTSUP,
			                  "codec=jpeg takes bgr24, rgb24 or gray8 "
			                  "frames, not %s",
			                  fbus_pixfmt_name(f.pixfmt));
		bound = fbusi_jpeg_bound(&f);
		if (!bound)
			return fbusi_fail(base->err, FBUS_EINVAL,
			                  "cannot size a jpeg for %ux%u",
			                  f.width, f.height);
	}

	pthread_mutex_lock(&p->lock);
	/* prefer a parked blob that is already big enough */
	for (pp = &p->free_blobs; *pp; pp = &(*pp)->next_free)
		if ((*pp)->cap >= f.size && (*pp)->enc_cap >= bound)
			break;
	if (!*pp)
		pp = &p->free_blobs;
	b = *pp;
	if (b) {
		*pp = b->next_free;
		p->nfree--;
	}
	pthread_mutex_unlock(&p->lock);
	if (!b) {
		b = calloc(1, sizeof *b);
		if (!b)
			return fbusi_fail(base->err, FBUS_ENOMEM,
			                  "out of memory");
	}
	rc = grow(&b->payload, &b->cap, f.size);
	if (rc == 0 && bound)
		rc = grow(&b->enc, &b->enc_cap, bound);
	if (rc) {
		blob_free(b);
		return fbusi_fail(base->err, rc, "out of memory for a %u byte "
		                  "frame", f.size);
	}
	b->refs = 1;
	b->t_loan_mono = fbus_now_mono_ns();
	b->t_loan_real = fbus_now_real_ns();

	memset(slot, 0, sizeof *slot);
	slot->data = b->payload;
	slot->capacity = (uint32_t)b->cap;
	slot->fmt = f;
	slot->meta = b->meta;
	slot->_priv[0] = (uint64_t)(uintptr_t)b;
	slot->_priv[1] = (uint64_t)(uintptr_t)p;
	p->loaned = true;
	return 0;
}

static struct blob *
slot_blob(struct stream_pub *p, struct fbus_slot *slot)
{
	if (!p->loaned || slot->_priv[1] != (uint64_t)(uintptr_t)p ||
	    !slot->_priv[0])
		return NULL;
	return (struct blob *)(uintptr_t)slot->_priv[0];
}

static void
pub_abort(struct fbus_pub *base, struct fbus_slot *slot)
{
	struct stream_pub *p = to_pub(base);
	struct blob *b = slot_blob(p, slot);

	if (!b)
		return;
	pthread_mutex_lock(&p->lock);
	blob_unref(p, b);
	pthread_mutex_unlock(&p->lock);
	p->loaned = false;
	slot->_priv[0] = 0;
}

static struct peer *
find_peer(struct stream_pub *p, uint64_t id)
{
	for (uint32_t i = 0; i < p->npeers; i++)
		if (p->peers[i]->id == id)
			return p->peers[i];
	return NULL;
}

static void
deadline_ts(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Queue b for one peer, applying its mode and full policy.  Locked; may
 * wait on p->room for an every+block subscriber (the lock is released
 * while waiting). */
static void
enqueue(struct stream_pub *p, uint64_t id, struct blob *b, bool *woke)
{
	struct peer *peer = find_peer(p, id);
	struct timespec until;

	if (!peer || peer->dead || peer->state != PEER_READY)
		return;
	if (peer->qlen == peer->qcap && peer->h.mode == FBUS_MODE_LATEST) {
		/* latest: the pending frame is stale now, replace it */
		blob_unref(p, peer->q[peer->qhead]);
		peer->qlen = 0;
		peer->replaced++;
	}
	if (peer->qlen == peer->qcap &&
	    peer->h.full_policy == FBUS_FULL_BLOCK) {
		uint32_t ms = peer->h.block_ms ? peer->h.block_ms : 1000;
		bool timed_out = false;

		if (ms > p->opts.max_block_ms)
			ms = p->opts.max_block_ms;
		if (!*woke) {
			wake_io(p);
			*woke = true;
		}
		deadline_ts(&until, (int)ms);
		for (;;) {
			if (pthread_cond_timedwait(&p->room, &p->lock,
			                           &until) == ETIMEDOUT)
				timed_out = true;
			/* the I/O thread may have reaped (freed) it while we
			 * slept: look it up again, never touch the old one */
			peer = find_peer(p, id);
			if (!peer || peer->dead || p->stop)
				return;
			if (peer->qlen < peer->qcap || timed_out)
				break;
		}
	}
	if (peer->qlen == peer->qcap) {
		peer->dropped++;
		p->dropped++;
		return;
	}
	peer->q[(peer->qhead + peer->qlen) % peer->qcap] = b;
	peer->qlen++;
	b->refs++;
}

static bool
ready_peers(struct stream_pub *p)
{
	bool any = false;

	pthread_mutex_lock(&p->lock);
	for (uint32_t i = 0; i < p->npeers && !any; i++)
		any = p->peers[i]->state == PEER_READY && !p->peers[i]->dead;
	pthread_mutex_unlock(&p->lock);
	return any;
}

static int64_t
pub_commit(struct fbus_pub *base, struct fbus_slot *slot)
{
	struct stream_pub *p = to_pub(base);
	struct blob *b = slot_blob(p, slot);
	struct fbusi_wire_hdr h;
	struct fbus_format f;
	uint32_t nids = 0;
	bool woke = false, skip = false;
	int rc;

	if (!b)
		return fbusi_fail(base->err, FBUS_EINVAL,
		                  "commit of a slot that is not on loan");
	f = slot->fmt;
	if (slot->meta_bytes > FBUS_META_MAX) {
		rc = fbusi_fail(base->err, FBUS_EMSGSIZE,
		                "metadata of %u bytes exceeds %u",
		                slot->meta_bytes, FBUS_META_MAX);
		goto err_abort;
	}
	memset(&h, 0, sizeof h);
	if (f.pixfmt == FBUS_PIXFMT_ENCODED) {
		if (slot->payload_bytes == 0 ||
		    slot->payload_bytes > slot->capacity) {
			rc = fbusi_fail(base->err, FBUS_EINVAL,
			                "encoded frame: payload_bytes %u not in "
			                "1..%u",
			                slot->payload_bytes, slot->capacity);
			goto err_abort;
		}
		f.size = slot->payload_bytes;
	}
	if (p->uri.codec == FBUSI_CODEC_JPEG &&
	    f.pixfmt != FBUS_PIXFMT_ENCODED && !ready_peers(p)) {
		/* nobody to send it to: don't spend ~ms encoding it (a
		 * subscriber joining meanwhile counts it as skipped) */
		skip = true;
	} else if (p->uri.codec == FBUSI_CODEC_JPEG &&
	           f.pixfmt != FBUS_PIXFMT_ENCODED) {
		rc = fbusi_jpeg_encode(p->jpeg, &f, b->payload, p->quality,
		                       b->enc, b->enc_cap, &b->body_len,
		                       base->err);
		if (rc)
			goto err_abort;
		b->body = b->enc;
		h.codec = FBUSI_CODEC_JPEG;
	} else {
		b->body = b->payload;
		b->body_len = f.size;
		h.codec = FBUSI_CODEC_RAW;
		for (int i = 0; i < FBUS_MAX_PLANES; i++)
			h.stride[i] = f.stride[i];
	}
	h.t_mono_ns = slot->t_mono_ns ? slot->t_mono_ns : b->t_loan_mono;
	h.t_real_ns = slot->t_real_ns ? slot->t_real_ns : b->t_loan_real;
	h.pixfmt = f.pixfmt;
	h.width = f.width;
	h.height = f.height;
	h.meta_len = slot->meta_bytes;
	h.payload_len = b->body_len;
	b->meta_len = h.meta_len;
	b->total = sizeof b->hdr + b->meta_len + b->body_len;
	p->loaned = false;
	slot->_priv[0] = 0;

	pthread_mutex_lock(&p->lock);
	/* seq under the lock: a welcome's next_seq (read by the I/O thread)
	 * must not race the frame that follows it */
	h.seq = ++p->seq;
	fbusi_wire_hdr_encode(b->hdr, &h);
	if (p->peer_err_new) {
		memcpy(base->err, p->peer_err, sizeof base->err);
		p->peer_err_new = false;
	}
	/* ids, not pointers: enqueue may sleep, and peers come and go */
	for (uint32_t i = 0; i < p->npeers && !skip; i++)
		if (p->peers[i]->state == PEER_READY && !p->peers[i]->dead)
			p->ids[nids++] = p->peers[i]->id;
	for (uint32_t i = 0; i < nids; i++)
		enqueue(p, p->ids[i], b, &woke);
	p->frames++;
	blob_unref(p, b);
	pthread_mutex_unlock(&p->lock);
	if (nids)
		wake_io(p);
	return (int64_t)h.seq;

err_abort:
	pub_abort(base, slot);
	return rc;
}

static int
pub_stats(struct fbus_pub *base, struct fbus_pub_stats *st)
{
	struct stream_pub *p = to_pub(base);

	memset(st, 0, sizeof *st);
	pthread_mutex_lock(&p->lock);
	st->frames = p->frames;
	st->dropped = p->dropped;
	st->peer_errors = p->peer_errors;
	for (uint32_t i = 0; i < p->npeers; i++)
		if (p->peers[i]->state == PEER_READY && !p->peers[i]->dead)
			st->subscribers++;
	if (p->peer_err_new) {
		memcpy(base->err, p->peer_err, sizeof base->err);
		p->peer_err_new = false;
	}
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static void
pub_close(struct fbus_pub *base)
{
	struct stream_pub *p = to_pub(base);
	struct stat st;

	if (p->thread_started) {
		pthread_mutex_lock(&p->lock);
		p->stop = true;
		pthread_cond_broadcast(&p->room);
		pthread_mutex_unlock(&p->lock);
		wake_io(p);
		pthread_join(p->thread, NULL);
	}
	for (uint32_t i = 0; i < p->npeers; i++)
		peer_destroy(p, p->peers[i]);
	while (p->free_blobs) {
		struct blob *b = p->free_blobs;
		p->free_blobs = b->next_free;
		blob_free(b);
	}
	if (p->lfd >= 0) {
		/* remove the socket file only if it is still ours: a new
		 * producer may have reclaimed the path meanwhile */
		if (p->uri.scheme == FBUSI_SCHEME_UNIX &&
		    stat(p->uri.path, &st) == 0 && st.st_dev == p->dev &&
		    st.st_ino == p->ino)
			(void)unlink(p->uri.path);
		close(p->lfd);
	}
	if (p->efd >= 0)
		close(p->efd);
	fbusi_jpeg_close(p->jpeg);
	pthread_cond_destroy(&p->room);
	pthread_mutex_destroy(&p->lock);
	free(p->peers);
	free(p->ids);
	free(p->pfds);
	free(p);
}

static const struct fbusi_pub_ops stream_pub_ops = {
	.loan = pub_loan,
	.commit = pub_commit,
	.abort = pub_abort,
	.stats = pub_stats,
	.close = pub_close,
};

int
fbusi_stream_pub_open(struct fbus_pub **out, const struct fbusi_uri *uri,
                      const struct fbus_pub_opts *opts, char *err)
{
	struct stream_pub *p;
	pthread_condattr_t ca;
	uint32_t max = opts->max_subscribers;
	int rc;

	p = calloc(1, sizeof *p);
	if (!p)
		return fbusi_fail(err, FBUS_ENOMEM, "out of memory");
	p->base.ops = &stream_pub_ops;
	p->uri = *uri;
	p->opts = *opts;
	p->lfd = p->efd = -1;
	p->quality = uri->quality ? uri->quality : 90;
	fbusi_stream_describe(uri, p->where, sizeof p->where);
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->room, &ca);
	pthread_condattr_destroy(&ca);

	p->peers = calloc(max, sizeof *p->peers);
	p->ids = calloc(max, sizeof *p->ids);
	p->pfds = calloc(max + 2, sizeof *p->pfds);
	if (!p->peers || !p->ids || !p->pfds) {
		rc = fbusi_fail(err, FBUS_ENOMEM, "out of memory");
		goto err;
	}
	if (uri->codec == FBUSI_CODEC_JPEG) {
		rc = fbusi_jpeg_open(&p->jpeg, 1, err);
		if (rc)
			goto err;
	}
	p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->efd < 0) {
		rc = fbusi_fail(err, -errno, "eventfd: %s", strerror(errno));
		goto err;
	}
	rc = fbusi_stream_listen(uri, opts->n_allow_uids || opts->n_allow_gids,
	                         &p->lfd, &p->dev, &p->ino, err);
	if (rc)
		goto err;
	rc = pthread_create(&p->thread, NULL, io_thread, p);
	if (rc) {
		rc = fbusi_fail(err, -rc, "cannot start the I/O thread: %s",
		                strerror(rc));
		goto err;
	}
	p->thread_started = true;
	*out = &p->base;
	return 0;

err:
	pub_close(&p->base);
	return rc;
}

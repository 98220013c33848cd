/* SPDX-License-Identifier: MIT */
/*
 * stream/io.c — the stream publisher's I/O thread: it accepts connections,
 * checks the peer (SO_PEERCRED on unix:), reads each subscriber's hello,
 * and writes queued frames with non-blocking sends, keeping a partial-write
 * offset per subscriber, so that commit never waits for a socket.  It
 * drops peers that break the protocol or stop reading, saying why.
 */
#define _GNU_SOURCE
#include "os.h"
#include "stream/pub.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* ---- log and peer errors (I/O thread, locked) --------------------------- */

static void FBUSI_PRINTF(3, 4)
queue_log(struct stream_pub *p, int level, const char *fmt, ...)
{
	va_list ap;
	int64_t now;

	if (!p->opts.log || p->nlogs >= MAX_LOGS)
		return;
	/* a flood of bad peers must not become a flood of log lines */
	now = fbusi_stream_now_ms();
	if (now - p->log_window >= 1000) {
		p->log_window = now;
		p->log_lines = 0;
	}
	if (p->log_lines++ >= LOG_BURST)
		return;
	va_start(ap, fmt);
	fbusi_vfail(&p->logs[p->nlogs], 0, fmt, ap);
	va_end(ap);
	p->logl[p->nlogs++] = level;
}

static void
flush_logs(struct stream_pub *p)
{
	for (int i = 0; i < p->nlogs; i++)
		p->opts.log(p->opts.log_user, p->logl[i], p->logs[i].msg);
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
	struct fbusi_err why;
	va_list ap;

	if (status && peer->state == PEER_HELLO && !peer->dead)
		send_refusal(peer, status);
	va_start(ap, fmt);
	fbusi_vfail(&why, 0, fmt, ap);
	va_end(ap);
	fbusi_fail(&p->peer_err, 0, "%s: dropped %s: %s", p->where,
	           peer->name, why.msg);
	p->peer_err_new = true;
	p->peer_errors++;
	peer->dead = true;
	queue_log(p, FBUS_LOG_WARN, "%s", p->peer_err.msg);
}

void
fbusi_stream_peer_demoted(struct stream_pub *p, struct peer *peer)
{
	fbusi_fail(&p->peer_err, 0,
	           "%s: %s read nothing for %u blocks in a row; its full "
	           "queue drops frames until it has emptied it",
	           p->where, peer->name, FBUS_BLOCK_STRIKES);
	p->peer_err_new = true;
	p->demoted++;
	queue_log(p, FBUS_LOG_WARN, "%s", p->peer_err.msg);
}

/* ---- peers -------------------------------------------------------------- */

void
fbusi_stream_peer_destroy(struct stream_pub *p, struct peer *peer)
{
	if (peer->cur)
		fbusi_stream_blob_unref(p, peer->cur);
	for (uint32_t i = 0; i < peer->qlen; i++)
		fbusi_stream_blob_unref(p, peer->q[(peer->qhead + i) % peer->qcap]);
	free(peer->q);
	close(peer->fd);
	free(peer);
}

static bool
peer_allowed(struct stream_pub *p, int fd, struct peer *peer)
{
	struct ucred cred;
	bool ok;

	if (p->uri.scheme != FBUSI_SCHEME_UNIX)
		return true;
	ok = fbusi_peer_allowed(fd, &p->opts, &cred);

	if (cred.pid)
		snprintf(peer->name, sizeof peer->name, "peer pid %d uid %u",
		         (int)cred.pid, (unsigned)cred.uid);
	if (ok)
		return true;
	if (!cred.pid)
		peer_fail(p, peer, FBUS_EACCES, "SO_PEERCRED: %s",
		          strerror(errno));
	else
		peer_fail(p, peer, FBUS_EACCES, "uid %u / gid %u not allowed",
		          (unsigned)cred.uid, (unsigned)cred.gid);
	return false;
}

static void reap_dead(struct stream_pub *p);
static void read_hello(struct stream_pub *p, struct peer *peer);

/* Connections still in their hello may not keep anyone out, and never
 * count against max_subscribers.  Whether one more may be accepted now:
 * below FBUSI_STREAM_MAX_HELLO, yes; at it, first serve the hellos that
 * came meanwhile, then the oldest silent one goes if it has been silent
 * FBUSI_STREAM_HELLO_GRACE_MS (an honest subscriber sends its hello as it
 * connects); else newcomers wait in the backlog until it may go. */
static bool
room_for_hello(struct stream_pub *p, int64_t now)
{
	struct peer *oldest = NULL;
	uint32_t n = 0;

	for (int pass = 0; pass < 2; pass++) {
		n = 0;
		oldest = NULL;
		for (uint32_t i = 0; i < p->npeers; i++) {
			struct peer *peer = p->peers[i];

			if (peer->dead || peer->state != PEER_HELLO)
				continue;
			if (pass)
				read_hello(p, peer);
			if (peer->dead || peer->state != PEER_HELLO)
				continue;
			n++;
			if (!oldest || peer->born < oldest->born)
				oldest = peer;
		}
		if (n < FBUSI_STREAM_MAX_HELLO)
			break;
	}
	if (n >= FBUSI_STREAM_MAX_HELLO) {
		if (now - oldest->born < FBUSI_STREAM_HELLO_GRACE_MS) {
			p->accept_paused =
				oldest->born + FBUSI_STREAM_HELLO_GRACE_MS;
			return false;
		}
		peer_fail(p, oldest, FBUS_EAGAIN,
		          "no hello while %d newer connections waited; closed",
		          FBUSI_STREAM_MAX_HELLO);
	}
	if (p->npeers == p->opts.max_subscribers + FBUSI_STREAM_MAX_HELLO)
		reap_dead(p);
	return true;
}

static uint32_t
ready_peers(const struct stream_pub *p)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < p->npeers; i++)
		n += p->peers[i]->state == PEER_READY && !p->peers[i]->dead;
	return n;
}

static void
accept_peers(struct stream_pub *p)
{
	/* a bounded batch per wake-up: a flood must not starve the peers */
	for (int batch = 0; batch < 4 * FBUSI_STREAM_MAX_HELLO; batch++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		struct peer *peer;
		int64_t now = fbusi_stream_now_ms();
		int fd;

		if (!room_for_hello(p, now))
			return;

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
		peer->born = now;
		peer->hello_deadline = now + FBUSI_STREAM_HELLO_MS;
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
			fbusi_stream_peer_destroy(p, peer);
			continue;
		}
		p->peers[p->npeers++] = peer;
		read_hello(p, peer); /* often here already */
	}
}

static void
read_hello(struct stream_pub *p, struct peer *peer)
{
	struct fbusi_err why;
	/* the hello, then what its flags say follows (group name, fit) */
	size_t want = peer->hello_got >= FBUSI_WIRE_HELLO_LEN
	                      ? FBUSI_WIRE_HELLO_LEN +
	                                fbusi_wire_hello_extra(peer->h.flags)
	                      : FBUSI_WIRE_HELLO_LEN;
	const uint8_t *extra = peer->hello + FBUSI_WIRE_HELLO_LEN;
	ssize_t n;
	int rc = 0;

	do
		n = recv(peer->fd, peer->hello + peer->hello_got,
		         want - peer->hello_got, MSG_DONTWAIT);
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
			          "hello truncated after %zu of %zu bytes",
			          peer->hello_got, want);
		peer->dead = true;
		return;
	}
	peer->hello_got += (size_t)n;
	if (want == FBUSI_WIRE_HELLO_LEN) {
		/* refuse garbage at its first bytes rather than at the
		 * deadline */
		rc = fbusi_wire_check_prefix(peer->hello, peer->hello_got,
		                             FBUSI_WIRE_MAGIC_HELLO,
		                             FBUSI_WIRE_HELLO_LEN, &why);
		if (rc == 0 && peer->hello_got == FBUSI_WIRE_HELLO_LEN)
			rc = fbusi_wire_hello_parse(peer->hello, &peer->h,
			                            &why);
		if (rc == 0 && peer->hello_got == FBUSI_WIRE_HELLO_LEN &&
		    fbusi_wire_hello_extra(peer->h.flags)) {
			read_hello(p, peer); /* the rest, if here already */
			return;
		}
	} else if (peer->hello_got == want) {
		if (peer->h.flags & FBUSI_WIRE_HELLO_GROUP) {
			const char *name = (const char *)extra;

			if (!memchr(name, '\0', FBUSI_WIRE_GROUP_LEN) ||
			    !fbusi_group_name_valid(name))
				rc = fbusi_fail(&why, FBUS_EPROTO,
				                "hello with an invalid group "
				                "name");
			extra += FBUSI_WIRE_GROUP_LEN;
		}
		if (rc == 0 && (peer->h.flags & FBUSI_WIRE_HELLO_FIT))
			rc = fbusi_wire_fit_parse(extra, &peer->fit_w,
			                          &peer->fit_h, &why);
		/* a group's frames go to whichever member is free: coded
		 * at full size, each member scales its own */
		if (peer->h.flags & FBUSI_WIRE_HELLO_GROUP)
			peer->fit_w = peer->fit_h = 0;
	}
	if (rc) {
		peer_fail(p, peer, rc, "%s", why.msg);
		return;
	}
	if (peer->hello_got < want)
		return;
	if (ready_peers(p) >= p->opts.max_subscribers) {
		peer_fail(p, peer, -ENOSPC,
		          "subscriber limit of %" PRIu32 " reached",
		          p->opts.max_subscribers);
		return;
	}
	peer->qcap = peer->h.mode == FBUS_MODE_EVERY ? peer->h.depth : 1;
	peer->q = calloc(peer->qcap, sizeof *peer->q);
	if (!peer->q) {
		peer_fail(p, peer, FBUS_ENOMEM, "out of memory");
		return;
	}
	if (peer->h.flags & FBUSI_WIRE_HELLO_GROUP) {
		rc = fbusi_sgroup_join(p, peer,
		                       (const char *)peer->hello +
		                               FBUSI_WIRE_HELLO_LEN,
		                       &why);
		if (rc) {
			peer_fail(p, peer, rc, "%s", why.msg);
			return;
		}
	}
	/* frames up to p->seq were published before it joined, and so is
	 * one being coded smaller than its box allows: it is not sent it */
	{
		struct fbusi_wire_welcome w = { .next_seq = p->seq + 1 };

		if (!fbusi_stream_peer_fits(peer, p->coding_shift, p->coding_w,
		                            p->coding_h))
			w.next_seq++;
		fbusi_wire_welcome_encode(peer->pre, &w);
		peer->pre_len = sizeof peer->pre;
	}
	peer->state = PEER_READY;
	if (peer->grp)
		queue_log(p, FBUS_LOG_INFO,
		          "%s: %s subscribed (%s mode, worker group '%s')",
		          p->where, peer->name,
		          peer->h.mode == FBUS_MODE_EVERY ? "every" : "latest",
		          peer->grp->name);
	else
		queue_log(p, FBUS_LOG_INFO, "%s: %s subscribed (%s mode)",
		          p->where, peer->name,
		          peer->h.mode == FBUS_MODE_EVERY ? "every" : "latest");
}

/* A ready subscriber sends nothing after its hello but credits, if it is
 * a worker group's member: read to count them and to notice that it hung
 * up. */
static void
read_ready(struct stream_pub *p, struct peer *peer)
{
	uint8_t buf[64];
	ssize_t n;

	do
		n = recv(peer->fd, buf, peer->grp ? sizeof buf : 1,
		         MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
		peer->dead = true;
		return;
	}
	if (n < 0)
		return;
	if (!peer->grp) {
		peer_fail(p, peer, 0, "sent data after its hello");
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		uint32_t magic = FBUSI_WIRE_MAGIC_CREDIT;

		peer->cbuf[peer->cgot++] = buf[i];
		if (peer->cgot < sizeof peer->cbuf)
			continue;
		peer->cgot = 0;
		/* host order is little-endian on every host we build for;
		 * compare the bytes the wire defines */
		if (peer->cbuf[0] != (uint8_t)magic ||
		    peer->cbuf[1] != (uint8_t)(magic >> 8) ||
		    peer->cbuf[2] != (uint8_t)(magic >> 16) ||
		    peer->cbuf[3] != (uint8_t)(magic >> 24)) {
			peer_fail(p, peer, 0, "sent something else than a "
			          "credit after its hello");
			return;
		}
		/* one a frame it is free for: more than its queue holds
		 * is a peer flooding us */
		if (++peer->credit > peer->qcap + 1) {
			peer_fail(p, peer, 0, "sent %u credits for a queue "
			          "of %u", peer->credit, peer->qcap);
			return;
		}
	}
	fbusi_sgroup_feed(p, peer->grp);
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
			if (peer->grp) {
				uint32_t told = peer->grp_skips;

				if (told > FBUSI_WIRE_GROUP_SKIPS_MAX)
					told = FBUSI_WIRE_GROUP_SKIPS_MAX;
				memcpy(peer->ghdr, peer->cur->hdr,
				       sizeof peer->ghdr);
				fbusi_wire_hdr_set_group(peer->ghdr, told);
				peer->grp_skips -= told;
			}
			pthread_cond_broadcast(&p->room);
		}
		b = peer->cur;
		off = peer->off;
		if (off < sizeof b->hdr) {
			iov[n_iov].iov_base = (peer->grp ? peer->ghdr : b->hdr) +
			                      off;
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
			fbusi_stream_blob_unref(p, b);
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
		/* its frames not begun go to another member */
		fbusi_sgroup_leave(p, peer);
		if (peer->state == PEER_READY)
			queue_log(p, FBUS_LOG_INFO,
			          "%s: %s left (%" PRIu64 " frames sent, %" PRIu64
			          " replaced by newer, %" PRIu64 " dropped)",
			          p->where, peer->name, peer->sent,
			          peer->replaced, peer->dropped);
		fbusi_stream_peer_destroy(p, peer);
	}
	if (j != p->npeers)
		pthread_cond_broadcast(&p->room);
	p->npeers = j;
}

static bool
all_sent(struct stream_pub *p)
{
	if (fbusi_sgroup_pending(p))
		return false;
	for (uint32_t i = 0; i < p->npeers; i++) {
		struct peer *peer = p->peers[i];

		if (peer->state == PEER_READY &&
		    (peer->cur || peer->qlen || peer->pre_off < peer->pre_len))
			return false;
	}
	return true;
}

void *
fbusi_stream_io_thread(void *arg)
{
	struct stream_pub *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		int64_t now = fbusi_stream_now_ms();
		int timeout = 1000, n, rc;
		uint64_t junk;

		for (uint32_t i = 0; i < p->npeers; i++)
			flush_peer(p, p->peers[i]);
		reap_dead(p);
		/* closing: what was committed goes out first (every mode is
		 * lossless up to the close), for at most CLOSE_FLUSH_MS */
		if (p->stop && (all_sent(p) || now >= p->stop_deadline))
			break;
		if (p->stop)
			timeout = 10;

		p->pfds[0] = (struct pollfd){ .fd = p->efd, .events = POLLIN };
		/* a negative fd is ignored by poll (man 2 poll) */
		p->pfds[1] = (struct pollfd){
			.fd = now < p->accept_paused || p->stop ? -1 : p->lfd,
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

void
fbusi_stream_wake_io(struct stream_pub *p)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is already non-zero: awake anyway */
	(void)!write(p->efd, &one, sizeof one);
}

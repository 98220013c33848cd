/* SPDX-License-Identifier: MIT */
/*
 * stream/sock.c — plumbing shared by the stream publisher and subscriber
 * (unix: and tcp:// URIs): listen, connect with a timeout, TCP tuning,
 * receive buffers.  Unix sockets go through os.c (the one connect and
 * stale-socket reclaim); frames are laid out by wire.c; the handles are in
 * pub.c and sub.c.
 */
#define _GNU_SOURCE
#include "os.h"
#include "trust.h"
#include "stream/stream.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int64_t
fbusi_stream_now_ms(void)
{
	return fbus_now_mono_ns() / 1000000;
}

void
fbusi_stream_describe(const struct fbusi_uri *uri, char *buf, size_t n)
{
	if (uri->scheme == FBUSI_SCHEME_UNIX)
		snprintf(buf, n, "unix:%s", uri->path);
	else
		snprintf(buf, n, "tcp://%s:%s", uri->host, uri->port);
}

void
fbusi_stream_tune(int fd, int scheme)
{
	int one = 1;
	/* dead peer noticed in ~11 s even when no frame is in flight */
	int idle = 5, intvl = 2, cnt = 3;
	/* unacknowledged data for 10 s: the peer is gone */
	unsigned timeout_ms = 10000;

	if (scheme != FBUSI_SCHEME_TCP)
		return;
	/* failures only cost latency or detection time; not worth failing
	 * the connection for */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout_ms,
	                 sizeof timeout_ms);
}

int
fbusi_stream_grow(uint8_t **buf, size_t *cap, size_t need)
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

static int
resolve(const struct fbusi_uri *uri, const char *host, int passive,
        struct addrinfo **res, struct fbusi_err *err)
{
	struct addrinfo hints;
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = passive ? AI_PASSIVE : 0;
	rc = getaddrinfo(host, uri->port, &hints, res);
	if (rc)
		return fbusi_fail(err, FBUS_EINVAL, "resolve %s:%s: %s",
		                  host ? host : "*", uri->port,
		                  gai_strerror(rc));
	return 0;
}

static int
listen_tcp(const struct fbusi_uri *uri, int *out, struct fbusi_err *err)
{
	const char *host = uri->bind[0] ? uri->bind : uri->host;
	struct addrinfo *res, *ai;
	int fd = -1, rc, one = 1;

	if (strcmp(host, "*") == 0)
		host = NULL;
	rc = resolve(uri, host, 1, &res, err);
	if (rc)
		return rc;
	rc = fbusi_fail(err, -EADDRNOTAVAIL, "no address to bind");
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		            ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		            ai->ai_protocol);
		if (fd < 0) {
			rc = fbusi_fail(err, -errno, "socket: %s",
			                strerror(errno));
			continue;
		}
		/* a restarted producer must not wait out TIME_WAIT */
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		                 sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, SOMAXCONN) == 0)
			break;
		rc = fbusi_fail(err, -errno, "bind tcp://%s:%s: %s",
		                host ? host : "*", uri->port, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return rc;
	*out = fd;
	return 0;
}

int
fbusi_stream_listen(const struct fbusi_uri *uri, bool open_mode, int *fd,
                    dev_t *dev, ino_t *ino, struct fbusi_err *err)
{
	*dev = 0;
	*ino = 0;
	/* 0600: only our uid may connect.  With an allow-list the file must
	 * let others reach connect(); SO_PEERCRED then decides per peer. */
	if (uri->scheme == FBUSI_SCHEME_UNIX)
		return fbusi_unix_listen(uri->path, SOCK_STREAM,
		                         open_mode ? 0666 : 0600, fd, dev, ino,
		                         err);
	return listen_tcp(uri, fd, err);
}

int
fbusi_stream_connect(const struct fbusi_uri *uri, int timeout_ms, int *fd,
                     struct fbusi_err *err)
{
	int rc;

	if (uri->scheme == FBUSI_SCHEME_UNIX) {
		char dir[sizeof uri->path];
		char *slash;
		uid_t owner;

		/* the socket's directory is the trust anchor, as on shm: */
		snprintf(dir, sizeof dir, "%s", uri->path);
		slash = strrchr(dir, '/');
		if (!slash)
			snprintf(dir, sizeof dir, ".");
		else
			slash[slash == dir] = '\0';
		rc = fbusi_dir_trusted(dir, false, &owner, err);
		if (rc == 0)
			rc = fbusi_unix_connect(uri->path, SOCK_STREAM,
			                        timeout_ms, fd, err);
		if (rc == 0) {
			rc = fbusi_peer_trusted(*fd, owner, "the socket", err);
			if (rc) {
				close(*fd);
				*fd = -1;
			}
		}
		if (rc)
			return rc;
	} else {
		struct addrinfo *res, *ai;
		rc = resolve(uri, uri->host, 0, &res, err);
		if (rc)
			return rc;
		rc = FBUS_ECONNREFUSED;
		for (ai = res; ai; ai = ai->ai_next) {
			rc = fbusi_sock_connect(ai->ai_family, ai->ai_socktype,
			                        ai->ai_protocol, ai->ai_addr,
			                        ai->ai_addrlen, timeout_ms, fd);
			if (rc == 0)
				break;
		}
		freeaddrinfo(res);
	}
	if (rc == 0) {
		fbusi_stream_tune(*fd, uri->scheme);
		return 0;
	}
	/* the open error puts the URI in front of this: not again */
	if (rc == -ECONNREFUSED)
		return fbusi_fail(err, FBUS_ECONNREFUSED,
		                  "connection refused (no producer listens)");
	return fbusi_fail(err, rc, "connect: %s", strerror(-rc));
}

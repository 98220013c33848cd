/* SPDX-License-Identifier: MIT */
/*
 * stream.c — socket plumbing shared by the stream publisher and subscriber
 * (unix: and tcp:// URIs): listen with stale-socket reclaim, connect with a
 * timeout, TCP tuning.  Frames are laid out by frame_wire.c; the handles are
 * in stream_pub.c and stream_sub.c.
 */
#define _GNU_SOURCE
#include "stream_int.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
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

static int
unix_addr(const char *path, struct sockaddr_un *sa, char *err)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa->sun_path)
		return fbusi_fail(err, FBUS_ENAMETOOLONG,
		                  "unix socket path longer than %zu bytes",
		                  sizeof sa->sun_path - 1);
	strcpy(sa->sun_path, path);
	return 0;
}

/* Is somebody listening on the unix socket at sa?  0 = no (stale). */
static int
unix_probe(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0)
		return 1; /* can't tell: don't touch the file */
	do
		rc = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
	while (rc < 0 && errno == EINTR);
	rc = rc == 0 || errno != ECONNREFUSED;
	close(fd);
	return rc;
}

static int
listen_unix(const struct fbusi_uri *uri, bool open_mode, int *out, dev_t *dev,
            ino_t *ino, char *err)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, rc;

	rc = unix_addr(uri->path, &sa, err);
	if (rc)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return fbusi_fail(err, -errno, "socket: %s", strerror(errno));
	for (int attempt = 0;; attempt++) {
		if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
			break;
		rc = -errno;
		if (rc != -EADDRINUSE || attempt > 0) {
			fbusi_fail(err, rc == -EADDRINUSE ? FBUS_EADDRINUSE : rc,
			           "bind unix:%s: %s", uri->path, strerror(-rc));
			goto err_close;
		}
		/* ECONNREFUSED from a connect means nobody listens: a dead
		 * producer's file, safe to replace (never a non-socket) */
		if (lstat(uri->path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			rc = fbusi_fail(err, FBUS_EADDRINUSE,
			                "unix:%s exists and is not a socket",
			                uri->path);
			goto err_close;
		}
		if (unix_probe(&sa)) {
			rc = fbusi_fail(err, FBUS_EADDRINUSE,
			                "unix:%s: another producer listens there",
			                uri->path);
			goto err_close;
		}
		(void)unlink(uri->path);
	}
	/* 0600: only our uid may connect.  With an allow-list the file must
	 * let others reach connect(); SO_PEERCRED then decides per peer (it
	 * also closes the window between bind and chmod) */
	if (chmod(uri->path, open_mode ? 0666 : 0600) < 0 ||
	    stat(uri->path, &st) < 0) {
		rc = fbusi_fail(err, -errno, "chmod unix:%s: %s", uri->path,
		                strerror(errno));
		goto err_unlink;
	}
	*dev = st.st_dev;
	*ino = st.st_ino;
	if (listen(fd, 64) < 0) {
		rc = fbusi_fail(err, -errno, "listen unix:%s: %s", uri->path,
		                strerror(errno));
		goto err_unlink;
	}
	*out = fd;
	return 0;

err_unlink:
	(void)unlink(uri->path);
err_close:
	close(fd);
	return rc;
}

static int
resolve(const struct fbusi_uri *uri, const char *host, int passive,
        struct addrinfo **res, char *err)
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
listen_tcp(const struct fbusi_uri *uri, int *out, char *err)
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
		    listen(fd, 64) == 0)
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
                    dev_t *dev, ino_t *ino, char *err)
{
	*dev = 0;
	*ino = 0;
	if (uri->scheme == FBUSI_SCHEME_UNIX)
		return listen_unix(uri, open_mode, fd, dev, ino, err);
	return listen_tcp(uri, fd, err);
}

/* Wait for a non-blocking connect to finish. */
static int
finish_connect(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int64_t deadline = fbusi_stream_now_ms() + timeout_ms;
	socklen_t len = sizeof(int);
	int rc, soerr = 0;

	for (;;) {
		int left = (int)(deadline - fbusi_stream_now_ms());
		if (left < 0)
			left = 0;
		rc = poll(&p, 1, left);
		if (rc > 0)
			break;
		if (rc == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return -errno;
	return -soerr;
}

static int
connect_one(int family, int type, int proto, const struct sockaddr *sa,
            socklen_t len, int timeout_ms, int *out)
{
	int fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, proto);
	int rc;

	if (fd < 0)
		return -errno;
	do
		rc = connect(fd, sa, len);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		rc = (errno == EINPROGRESS || errno == EAGAIN)
		             ? finish_connect(fd, timeout_ms)
		             : -errno;
	if (rc) {
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

int
fbusi_stream_connect(const struct fbusi_uri *uri, int timeout_ms, int *fd,
                     char *err)
{
	char what[300];
	int rc;

	fbusi_stream_describe(uri, what, sizeof what);
	if (uri->scheme == FBUSI_SCHEME_UNIX) {
		struct sockaddr_un sa;
		rc = unix_addr(uri->path, &sa, err);
		if (rc)
			return rc;
		rc = connect_one(AF_UNIX, SOCK_STREAM, 0,
		                 (struct sockaddr *)&sa, sizeof sa, timeout_ms,
		                 fd);
	} else {
		struct addrinfo *res, *ai;
		rc = resolve(uri, uri->host, 0, &res, err);
		if (rc)
			return rc;
		rc = FBUS_ECONNREFUSED;
		for (ai = res; ai; ai = ai->ai_next) {
			rc = connect_one(ai->ai_family, ai->ai_socktype,
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
	if (rc == -ENOENT)
		return fbusi_fail(err, FBUS_ENOENT,
		                  "connect %s: no producer (no such socket)",
		                  what);
	if (rc == -ECONNREFUSED)
		return fbusi_fail(err, FBUS_ECONNREFUSED,
		                  "connect %s: connection refused (no producer "
		                  "listens)",
		                  what);
	return fbusi_fail(err, rc, "connect %s: %s", what, strerror(-rc));
}

/* SPDX-License-Identifier: MIT */
/*
 * os.c — Linux syscall wrappers for every transport.  Every fd is
 * close-on-exec from birth (SOCK_CLOEXEC, MFD_CLOEXEC, MSG_CMSG_CLOEXEC);
 * sends use MSG_NOSIGNAL so a dead peer is an error code, not a SIGPIPE.
 */
#define _GNU_SOURCE
#include "os.h"
#include "private.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int
fbusi_send_fds(int sock, const void *buf, size_t len, const int *fds,
               int nfds, int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * FBUSI_MAX_FDS)];
		struct cmsghdr align;
	} cmsg;
	struct iovec iov = { (void *)buf, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	/* man 7 unix: ancillary data needs at least one byte of real data;
	 * every control message has a header, so len > 0 always holds. */
	if (len == 0 || nfds < 0 || nfds > FBUSI_MAX_FDS)
		return -EINVAL;
	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&cmsg, 0, sizeof cmsg);
		msg.msg_control = cmsg.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EPROTO;
}

long
fbusi_recv_fds(int sock, void *buf, size_t len, int *fds, int max_fds,
               int *nfds, int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * FBUSI_MAX_FDS)];
		struct cmsghdr align;
	} cmsg;
	struct iovec iov = { buf, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
		              .msg_control = cmsg.buf,
		              .msg_controllen = sizeof cmsg.buf };
	ssize_t n;
	int got = 0, bad = 0;

	*nfds = 0;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* Take ownership of every fd that arrived, even ones we refuse,
	 * so none leaks into this process. */
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c;
	     c = CMSG_NXTHDR(&msg, c)) {
		int k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			bad = 1;
			continue;
		}
		k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			if (got < max_fds && got < FBUSI_MAX_FDS)
				fds[got++] = fd;
			else {
				close(fd);
				bad = 1;
			}
		}
	}
	if (bad || (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) {
		for (int i = 0; i < got; i++)
			close(fds[i]);
		return -EPROTO;
	}
	*nfds = got;
	return (long)n;
}

int
fbusi_memfd_sealed(const char *name, uint64_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS,
	          F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

int
fbusi_memfd_writer_only(const char *name, uint64_t size, void **map)
{
	char path[64];
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING), ro, e;
	void *m;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0)
		goto fail;
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		goto fail;
	/* FUTURE_WRITE: our mapping above stays writable; every later
	 * writable mapping, write() and hole punch fails with EPERM for
	 * whoever holds the file, even one who reopens it read-write. */
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK |
	                               F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0) {
		e = -errno;
		munmap(m, size);
		close(fd);
		return e;
	}
	/* A read-only description on top: a peer cannot even ask.  Without
	 * /proc the seal alone enforces it. */
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	if (ro >= 0) {
		close(fd);
		fd = ro;
	}
	*map = m;
	return fd;
fail:
	e = -errno;
	close(fd);
	return e;
}

int64_t
fbusi_memfd_check(int fd, uint64_t min_size)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);

	/* Without SHRINK sealed, the peer could truncate and make our
	 * accesses SIGBUS (wayland-shm.c "sigbus_is_impossible"). */
	if (seals < 0)
		return -EPROTO;
	if ((seals & (F_SEAL_SHRINK | F_SEAL_GROW)) !=
	    (F_SEAL_SHRINK | F_SEAL_GROW))
		return -EPROTO;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < min_size)
		return -EPROTO;
	return st.st_size;
}

int
fbusi_futex_wait_ns(const uint32_t *addr, uint32_t val, int64_t timeout_ns)
{
	struct timespec ts, *tp = NULL;
	long r;

	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tp = &ts;
	}
	/* man 2 futex: FUTEX_WAIT (not _PRIVATE) works across processes
	 * sharing the page, also on a PROT_READ mapping. Relative timeout. */
	r = syscall(SYS_futex, addr, FUTEX_WAIT, val, tp, NULL, 0);
	if (r < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return 0;
}

int
fbusi_futex_wait(const uint32_t *addr, uint32_t val, int timeout_ms)
{
	return fbusi_futex_wait_ns(addr, val,
	                           timeout_ms < 0 ? -1
	                                          : timeout_ms * 1000000LL);
}

long
fbusi_online_cpus(void)
{
	static _Atomic long cpus; /* set once, the same for every thread */
	long n = atomic_load_explicit(&cpus, memory_order_relaxed);

	if (!n) {
		n = sysconf(_SC_NPROCESSORS_ONLN);
		if (n < 1)
			n = 1;
		atomic_store_explicit(&cpus, n, memory_order_relaxed);
	}
	return n;
}

int
fbusi_futex_wake(const uint32_t *addr, int n)
{
	long r = syscall(SYS_futex, addr, FUTEX_WAKE, n, NULL, NULL, 0);
	return r < 0 ? -errno : (int)r;
}

int
fbusi_poll1(int fd, short events, int timeout_ms)
{
	struct pollfd p = { fd, events, 0 };
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r ? p.revents : 0;
}

void
fbusi_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

static int
unix_addr(const char *path, struct sockaddr_un *sa, struct fbusi_err *err)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa->sun_path)
		return fbusi_fail(err, FBUS_ENAMETOOLONG,
		                  "socket path longer than %zu bytes: %s",
		                  sizeof sa->sun_path - 1, path);
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

/* Wait for a non-blocking connect in progress to finish. */
static int
finish_connect(int fd, int64_t deadline_ns)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int rc, soerr = 0;

	for (;;) {
		int64_t left = (deadline_ns - fbus_now_mono_ns()) / 1000000;

		rc = poll(&p, 1, left < 0 ? 0 : (int)left);
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

int
fbusi_sock_connect(int family, int type, int proto, const struct sockaddr *sa,
                   socklen_t len, int timeout_ms, int *out)
{
	int64_t deadline = fbus_now_mono_ns() + (int64_t)timeout_ms * 1000000;
	int fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, proto);
	int rc;

	if (fd < 0)
		return -errno;
	for (;;) {
		rc = connect(fd, sa, len) < 0 ? -errno : 0;
		if (rc == -EINTR)
			continue;
		/* A Unix listener with a full backlog says EAGAIN and the
		 * connect is NOT in progress (man 7 unix): try again. */
		if (rc == -EAGAIN && family == AF_UNIX &&
		    fbus_now_mono_ns() < deadline) {
			nanosleep(&(struct timespec){ 0, 5000000L }, NULL);
			continue;
		}
		break;
	}
	if (rc == -EINPROGRESS)
		rc = finish_connect(fd, deadline);
	if (rc == -EAGAIN)
		rc = -ETIMEDOUT;
	if (rc) {
		close(fd);
		return rc;
	}
	*out = fd;
	return 0;
}

int
fbusi_unix_connect(const char *path, int type, int timeout_ms, int *out,
                   struct fbusi_err *err)
{
	struct sockaddr_un sa;
	int rc = unix_addr(path, &sa, err);

	if (rc)
		return rc;
	rc = fbusi_sock_connect(AF_UNIX, type, 0, (struct sockaddr *)&sa,
	                        sizeof sa, timeout_ms, out);
	switch (rc) {
	case 0:
		return 0;
	case -ENOENT:
		return fbusi_fail(err, FBUS_ENOENT,
		                  "no producer (%s: no such socket)", path);
	case -ECONNREFUSED:
		return fbusi_fail(err, FBUS_ECONNREFUSED,
		                  "no producer (%s: nobody listens)", path);
	case -EACCES:
		/* the file system said no, not the producer's allow-list */
		return fbusi_fail(err, FBUS_EACCES,
		                  "connect %s: the socket or its directory is "
		                  "not open to uid %u",
		                  path, (unsigned)geteuid());
	default:
		return fbusi_fail(err, rc, "connect %s: %s", path,
		                  fbus_strerror(rc));
	}
}

void
fbusi_unix_unlink(const char *path, dev_t dev, ino_t ino)
{
	struct stat st;

	if (lstat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino)
		(void)unlink(path);
}

int
fbusi_unix_listen(const char *path, int type, unsigned mode, int *out,
                  dev_t *dev, ino_t *ino, struct fbusi_err *err)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, rc, probe;

	rc = unix_addr(path, &sa, err);
	if (rc)
		return rc;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return fbusi_fail(err, -errno, "socket: %s",
		                  fbus_strerror(-errno));
	for (int attempt = 0;; attempt++) {
		if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
			break;
		rc = -errno;
		if (rc != -EADDRINUSE || attempt > 0) {
			fbusi_fail(err, rc, "bind %s: %s", path,
			           fbus_strerror(rc));
			goto err_close;
		}
		/* never unlink what is not a socket */
		if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			rc = fbusi_fail(err, FBUS_EADDRINUSE,
			                "%s exists and is not a socket", path);
			goto err_close;
		}
		/* ECONNREFUSED: nobody listens, a dead producer's file */
		rc = fbusi_unix_connect(path, type, 100, &probe, NULL);
		if (rc != FBUS_ECONNREFUSED) {
			if (rc == 0)
				close(probe);
			rc = fbusi_fail(err, FBUS_EADDRINUSE,
			                "%s: another producer listens there",
			                path);
			goto err_close;
		}
		(void)unlink(path);
	}
	/* bind() made the file with mode & ~umask; set exactly what was
	 * asked.  fchmod on a socket fd does not reach the file. */
	if (chmod(path, mode) < 0 || lstat(path, &st) < 0) {
		rc = fbusi_fail(err, -errno, "chmod %s: %s", path,
		                fbus_strerror(-errno));
		goto err_unlink;
	}
	/* a deep backlog: newcomers wait there while a flood is dealt with */
	if (listen(fd, SOMAXCONN) < 0) {
		rc = fbusi_fail(err, -errno, "listen %s: %s", path,
		                fbus_strerror(-errno));
		goto err_unlink;
	}
	*dev = st.st_dev;
	*ino = st.st_ino;
	*out = fd;
	return 0;

err_unlink:
	(void)unlink(path);
err_close:
	close(fd);
	return rc;
}

bool
fbusi_peer_allowed(int fd, const struct fbus_pub_opts *opts,
                   struct ucred *cred)
{
	socklen_t len = sizeof *cred;

	memset(cred, 0, sizeof *cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) < 0) {
		memset(cred, 0, sizeof *cred);
		return false;
	}
	/* effective ids: those the kernel checked when it let the peer
	 * connect, and those this process created the socket with */
	if (cred->uid == geteuid())
		return true;
	for (uint32_t i = 0; i < opts->n_allow_uids; i++)
		if (opts->allow_uids[i] == cred->uid)
			return true;
	for (uint32_t i = 0; i < opts->n_allow_gids; i++)
		if (opts->allow_gids[i] == cred->gid)
			return true;
	return false;
}

bool
fbusi_fd_is_eventfd(int fd)
{
	char link[32], target[64];
	int flags = fcntl(fd, F_GETFL);
	ssize_t n;

	if (flags < 0 || !(flags & O_NONBLOCK))
		return false;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof target - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	return strcmp(target, "anon_inode:[eventfd]") == 0;
}

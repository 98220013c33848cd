/* SPDX-License-Identifier: MIT */
/*
 * os.c — Linux syscall wrappers for the shm transport.  Every fd is
 * close-on-exec from birth (MFD_CLOEXEC, MSG_CMSG_CLOEXEC); sends use
 * MSG_NOSIGNAL so a dead peer is an error code, not a SIGPIPE.
 */
#define _GNU_SOURCE
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
fbusi_futex_wait(const uint32_t *addr, uint32_t val, int timeout_ms)
{
	struct timespec ts, *tp = NULL;
	long r;

	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
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

/* SPDX-License-Identifier: MIT */
/*
 * os.h — the one place that knows Linux syscall quirks: close-on-exec from
 * birth, EINTR loops, fd passing, sealed memfds, shared futexes.
 */
#ifndef FBUS_OS_H
#define FBUS_OS_H

#include <stddef.h>
#include <stdint.h>

#define FBUSI_MAX_FDS 4

/* sendmsg of buf with up to FBUSI_MAX_FDS fds (MSG_NOSIGNAL, EINTR loop).
 * Returns 0 or -errno.  A message is never sent partially (SEQPACKET). */
int fbusi_send_fds(int sock, const void *buf, size_t len, const int *fds,
                   int nfds, int flags);

/* recvmsg into buf; received fds (close-on-exec) go to fds[], their count to
 * *nfds.  Fds beyond max_fds, or with a truncated control message, are
 * closed and -EPROTO returned.  Returns bytes read (0 = peer closed) or
 * -errno. */
long fbusi_recv_fds(int sock, void *buf, size_t len, int *fds, int max_fds,
                    int *nfds, int flags);

/* Sealed memfd of `size` bytes: grow/shrink/seal sealed.  -errno on error. */
int fbusi_memfd_sealed(const char *name, uint64_t size);

/* Check that fd is a memfd sealed against shrinking and at least min_size
 * big, so that mapping it can never SIGBUS.  Returns its size or -errno. */
int64_t fbusi_memfd_check(int fd, uint64_t min_size);

/* Shared (not PRIVATE) futex ops — the words live in memory shared between
 * processes.  wait returns 0, -EAGAIN (value changed), -ETIMEDOUT, -EINTR. */
int fbusi_futex_wait(const uint32_t *addr, uint32_t val, int timeout_ms);
int fbusi_futex_wake(const uint32_t *addr, int n);

int fbusi_poll1(int fd, short events, int timeout_ms);
void fbusi_close(int fd);

#endif

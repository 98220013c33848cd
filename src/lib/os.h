/* SPDX-License-Identifier: MIT */
/*
 * os.h — the one place that knows Linux syscall quirks: close-on-exec from
 * birth, EINTR loops, fd passing, sealed memfds, shared futexes, and the
 * one Unix-socket connect, listen (with stale-socket reclaim) and
 * peer-credentials check that every transport uses.
 */
#ifndef FBUS_OS_H
#define FBUS_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "framebus.h"

struct fbusi_err;

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
/* A memfd of `size` bytes that only this mapping may write: *map is our
 * read-write mapping; the fd returned (read-only where /proc allows) is
 * sealed against growing, shrinking and any later writer.  -errno on
 * error. */
int fbusi_memfd_writer_only(const char *name, uint64_t size, void **map);

/* Check that fd is a memfd sealed against shrinking and at least min_size
 * big, so that mapping it can never SIGBUS.  Returns its size or -errno. */
int64_t fbusi_memfd_check(int fd, uint64_t min_size);

/* Shared (not PRIVATE) futex ops — the words live in memory shared between
 * processes.  wait returns 0, -EAGAIN (value changed), -ETIMEDOUT, -EINTR. */
int fbusi_futex_wait(const uint32_t *addr, uint32_t val, int timeout_ms);
/* ... with a timeout in nanoseconds (negative: none) */
int fbusi_futex_wait_ns(const uint32_t *addr, uint32_t val, int64_t timeout_ns);
int fbusi_futex_wake(const uint32_t *addr, int n);

/* CPUs online, read once per process (at least 1). */
long fbusi_online_cpus(void);

/* Non-blocking, close-on-exec socket connected to sa within timeout_ms.
 * Returns 0 or -errno (-ETIMEDOUT). */
int fbusi_sock_connect(int family, int type, int proto,
                       const struct sockaddr *sa, socklen_t len,
                       int timeout_ms, int *fd);

/* Connect to the Unix socket at path (type SOCK_STREAM or SOCK_SEQPACKET)
 * within timeout_ms; the fd is non-blocking and close-on-exec.  Returns 0,
 * FBUS_ENOENT (no socket file), FBUS_ECONNREFUSED (nobody listens),
 * FBUS_ENAMETOOLONG, FBUS_ETIMEDOUT or another -errno, with err saying
 * which (err may be NULL). */
int fbusi_unix_connect(const char *path, int type, int timeout_ms, int *fd,
                       struct fbusi_err *err);

/* Listen on a Unix socket at path with the given file mode.  A socket file
 * nobody listens on (connect says ECONNREFUSED) is a dead producer's and is
 * replaced; a live one gives FBUS_EADDRINUSE, and so does a file that is
 * not a socket.  dev/ino identify the file, so that its owner removes only
 * its own (fbusi_unix_unlink). */
int fbusi_unix_listen(const char *path, int type, unsigned mode, int *fd,
                      dev_t *dev, ino_t *ino, struct fbusi_err *err);
/* Remove path if it is still the socket file dev/ino. */
void fbusi_unix_unlink(const char *path, dev_t dev, ino_t ino);

/* Whether the peer on a connected Unix socket may subscribe: the
 * producer's own effective uid, or a uid or primary gid in the allow-lists
 * of opts.  Fills *cred for messages; false also when SO_PEERCRED fails
 * (then cred->pid is 0). */
struct ucred;
bool fbusi_peer_allowed(int fd, const struct fbus_pub_opts *opts,
                        struct ucred *cred);

/* Whether fd is an eventfd opened O_NONBLOCK (checked on what a peer sent:
 * its /proc/self/fd link names the anon inode, its flags are ours to read). */
bool fbusi_fd_is_eventfd(int fd);

int fbusi_poll1(int fd, short events, int timeout_ms);
void fbusi_close(int fd);

#endif

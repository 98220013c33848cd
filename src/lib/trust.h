/* SPDX-License-Identifier: MIT */
/* trust.h — what a subscriber checks before it believes a producer: the
 * directory the socket lives in, and the uid of the process behind it. */
#ifndef FBUS_TRUST_H
#define FBUS_TRUST_H

#include <stdbool.h>
#include <sys/types.h>

struct fbusi_err;

/* Check the directory a producer's socket is in.  A private one (the
 * per-uid runtime dir) must be a real directory owned by us and writable
 * by nobody else.  Any other must be a real directory that only its owner
 * may change (or sticky, like /tmp: nobody may replace another's file).
 * *owner gets its owner, whose producers we trust there.  FBUS_ENOENT when
 * it does not exist (nobody there yet), FBUS_EACCES with why otherwise. */
int fbusi_dir_trusted(const char *dir, bool private_dir, uid_t *owner,
                      struct fbusi_err *err);

/* The process at the other end of the connected unix socket fd runs as
 * us, as root, or as dir_owner; FBUS_EACCES saying who it is otherwise.
 * `what` names the bus in the message. */
int fbusi_peer_trusted(int fd, uid_t dir_owner, const char *what,
                       struct fbusi_err *err);

#endif

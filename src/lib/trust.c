/* SPDX-License-Identifier: MIT */
/* trust.c — a subscriber's checks of the producer's directory and uid (see
 * trust.h); the producer's checks of its peers are fbusi_peer_allowed. */
#define _GNU_SOURCE
#include "private.h"
#include "trust.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

int
fbusi_dir_trusted(const char *dir, bool private_dir, uid_t *owner,
                  struct fbusi_err *err)
{
	struct stat st;

	/* lstat: a symlink planted in /tmp would point us at sockets of
	 * whoever planted it */
	if (lstat(dir, &st) < 0) {
		int e = errno;
		if (e == ENOENT)
			return fbusi_fail(err, FBUS_ENOENT,
			                  "no producer (%s does not exist)", dir);
		return fbusi_fail(err, -e, "cannot stat %s: %s", dir,
		                  strerror(e));
	}
	if (!S_ISDIR(st.st_mode))
		return fbusi_fail(err, FBUS_EACCES,
		                  "refusing %s: not a directory (a symlink?); "
		                  "someone may have planted it",
		                  dir);
	if (private_dir && st.st_uid != geteuid())
		return fbusi_fail(err, FBUS_EACCES,
		                  "refusing %s: owned by uid %u, not by us (%u); "
		                  "another user may have planted it",
		                  dir, (unsigned)st.st_uid, (unsigned)geteuid());
	if ((st.st_mode & 022) && !(st.st_mode & S_ISVTX))
		return fbusi_fail(err, FBUS_EACCES,
		                  "refusing %s: writable by others (mode %o), "
		                  "so anyone could replace the bus socket",
		                  dir, (unsigned)(st.st_mode & 07777));
	*owner = st.st_uid;
	return 0;
}

int
fbusi_peer_trusted(int fd, uid_t dir_owner, const char *what,
                   struct fbusi_err *err)
{
	struct ucred cred;
	socklen_t len = sizeof cred;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return fbusi_fail(err, -errno, "%s: SO_PEERCRED: %s", what,
		                  strerror(errno));
	/* root can read our memory anyway; the directory's owner decides
	 * what its sockets are */
	if (cred.uid == geteuid() || cred.uid == 0 || cred.uid == dir_owner)
		return 0;
	return fbusi_fail(err, FBUS_EACCES,
	                  "refusing %s: its producer (pid %d) runs as uid %u, "
	                  "neither us (%u) nor the owner of its directory (%u)",
	                  what, (int)cred.pid, (unsigned)cred.uid,
	                  (unsigned)geteuid(), (unsigned)dir_owner);
}

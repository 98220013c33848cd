/* SPDX-License-Identifier: MIT */
/*
 * runtime.c — where shm: control sockets live ($XDG_RUNTIME_DIR/framebus,
 * else /tmp/framebus-$UID, mode 0700, owned by us).
 */
#define _GNU_SOURCE
#include "private.h"
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int
fbus_runtime_dir(char *buf, size_t n)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	int len;

	if (xdg && *xdg == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode))
		len = snprintf(buf, n, "%s/framebus", xdg);
	else
		len = snprintf(buf, n, "/tmp/framebus-%u", (unsigned)getuid());
	return len < 0 || (size_t)len >= n ? FBUS_ENAMETOOLONG : 0;
}

int
fbusi_runtime_path(const char *name, const char *suffix, char *buf, size_t n,
                   struct fbusi_err *err)
{
	char dir[200];
	int len;

	if (fbus_runtime_dir(dir, sizeof dir))
		return fbusi_fail(err, FBUS_ENAMETOOLONG,
		                  "runtime directory path too long");
	len = snprintf(buf, n, "%s/%s%s", dir, name, suffix);
	if (len < 0 || (size_t)len >= n)
		return fbusi_fail(err, FBUS_ENAMETOOLONG,
		                  "socket path %s/%s%s exceeds %zu bytes", dir,
		                  name, suffix, n - 1);
	return 0;
}

int
fbusi_runtime_dir_ensure(struct fbusi_err *err)
{
	char dir[200];
	struct stat st;

	if (fbus_runtime_dir(dir, sizeof dir))
		return fbusi_fail(err, FBUS_ENAMETOOLONG,
		                  "runtime directory path too long");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return fbusi_fail(err, -errno, "cannot create %s: %s", dir,
		                  fbus_strerror(-errno));
	/* lstat: a symlink planted in /tmp must not redirect our sockets. */
	if (lstat(dir, &st) < 0)
		return fbusi_fail(err, -errno, "cannot stat %s", dir);
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid())
		return fbusi_fail(err, FBUS_EACCES,
		                  "%s is not a directory owned by uid %u", dir,
		                  (unsigned)getuid());
	if (st.st_mode & 077) {
		if (chmod(dir, 0700) < 0)
			return fbusi_fail(err, FBUS_EACCES,
			                  "%s has mode %o and cannot be made 0700",
			                  dir, st.st_mode & 0777);
	}
	return 0;
}

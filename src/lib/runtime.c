/* SPDX-License-Identifier: MIT */
/*
 * runtime.c — where shm: control sockets live ($XDG_RUNTIME_DIR/framebus,
 * else /tmp/framebus-$UID, mode 0700, owned by us; or a dir= of the URI),
 * and the sweep that removes what dead producers left there.
 */
#define _GNU_SOURCE
#include "private.h"
#include "os.h"
#include "runtime.h"
#include "trust.h"

#include <dirent.h>
#include <stdbool.h>
#include <sys/file.h>

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

/* The directory of the bus: dir= from the URI, or the runtime dir. */
static int
bus_dir(const struct fbusi_uri *u, char *dir, size_t n, struct fbusi_err *err)
{
	int len;

	if (!u->dir[0])
		return fbus_runtime_dir(dir, n)
		               ? fbusi_fail(err, FBUS_ENAMETOOLONG,
		                            "runtime directory path too long")
		               : 0;
	len = snprintf(dir, n, "%s", u->dir);
	return len < 0 || (size_t)len >= n
	               ? fbusi_fail(err, FBUS_ENAMETOOLONG, "dir too long")
	               : 0;
}

int
fbusi_bus_path(const struct fbusi_uri *u, const char *suffix, char *buf,
               size_t n, struct fbusi_err *err)
{
	char dir[200];
	int len, rc = bus_dir(u, dir, sizeof dir, err);

	if (rc)
		return rc;
	len = snprintf(buf, n, "%s/%s%s", dir, u->name, suffix);
	if (len < 0 || (size_t)len >= n)
		return fbusi_fail(err, FBUS_ENAMETOOLONG,
		                  "socket path %s/%s%s exceeds %zu bytes", dir,
		                  u->name, suffix, n - 1);
	return 0;
}

int
fbusi_bus_connect(const struct fbusi_uri *u, int timeout_ms, int *fd,
                  struct fbusi_err *err)
{
	char dir[200], path[108], what[FBUSI_NAME_MAX + 16];
	uid_t owner;
	int rc = bus_dir(u, dir, sizeof dir, err);

	if (rc == 0)
		rc = fbusi_dir_trusted(dir, !u->dir[0], &owner, err);
	if (rc == 0)
		rc = fbusi_bus_path(u, ".sock", path, sizeof path, err);
	if (rc == 0)
		rc = fbusi_unix_connect(path, SOCK_SEQPACKET, timeout_ms, fd,
		                        err);
	if (rc)
		return rc;
	snprintf(what, sizeof what, "bus '%s'", u->name);
	rc = fbusi_peer_trusted(*fd, owner, what, err);
	if (rc) {
		close(*fd);
		*fd = -1;
	}
	return rc;
}

int
fbusi_bus_dir_ensure(const struct fbusi_uri *u, bool shared,
                     struct fbusi_err *err)
{
	unsigned mode = shared ? 0755 : 0700;
	char dir[200];
	struct stat st;
	uid_t owner;
	int rc = bus_dir(u, dir, sizeof dir, err), fd;
	bool made;

	if (rc)
		return rc;
	if (shared && !u->dir[0])
		return fbusi_fail(err, FBUS_EINVAL,
		                  "an allow-list needs a directory other users "
		                  "can reach: add ?dir=/some/path to the shm: "
		                  "URI (the per-user %s is private)",
		                  dir);
	made = mkdir(dir, mode) == 0;
	if (!made && errno != EEXIST)
		return fbusi_fail(err, -errno, "cannot create %s: %s", dir,
		                  fbus_strerror(-errno));
	/* what a subscriber will check before it believes our socket */
	rc = fbusi_dir_trusted(dir, !u->dir[0], &owner, err);
	if (rc)
		return rc;
	/* A dir= directory: ours or root's (others' producers there are
	 * trusted by subscribers as its owner's) */
	if (u->dir[0] && owner != geteuid() && owner != 0)
		return fbusi_fail(err, FBUS_EACCES,
		                  "%s is owned by uid %u: use a directory of "
		                  "yours or root's",
		                  dir, (unsigned)owner);
	/* O_NOFOLLOW and fchmod: the directory we checked, not whatever a
	 * symlink swapped in since */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = fbusi_fail(err, -errno, "cannot open %s: %s", dir,
		                fbus_strerror(-errno));
		fbusi_close(fd);
		return rc;
	}
	if (!u->dir[0] || made) {
		/* the runtime dir is ours alone, whatever made it; a dir= we
		 * made gets the mode its subscribers need */
		if ((st.st_mode & 0777) != mode && fchmod(fd, mode) < 0)
			rc = fbusi_fail(err, FBUS_EACCES,
			                "%s has mode %o and cannot be made %o",
			                dir, (unsigned)(st.st_mode & 0777),
			                mode);
	} else if (shared && (st.st_mode & 0011) != 0011) {
		rc = fbusi_fail(err, FBUS_EACCES,
		                "%s (mode %o) does not let other users reach "
		                "the bus: chmod a+x it",
		                dir, (unsigned)(st.st_mode & 0777));
	}
	close(fd);
	return rc;
}

/* Remove NAME.sock and NAME.lock of one bus if its producer is dead: we
 * can take the lock (a live producer holds it from open to close), and
 * the path still names the file we locked.  Unlinking happens while we
 * hold the lock, so a producer starting meanwhile waits for us (see
 * claim_name in shm/pub.c) instead of binding beside a file we remove. */
static int
sweep_one(int dfd, const char *name)
{
	char lock[FBUSI_NAME_MAX + 8], sock[FBUSI_NAME_MAX + 8];
	struct stat a, b;
	int fd, removed = 0;

	snprintf(lock, sizeof lock, "%.*s.lock", FBUSI_NAME_MAX, name);
	snprintf(sock, sizeof sock, "%.*s.sock", FBUSI_NAME_MAX, name);
	fd = openat(dfd, lock, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0;
	if (fstat(fd, &a) == 0 && S_ISREG(a.st_mode) &&
	    a.st_uid == geteuid() && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
	    fstatat(dfd, lock, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		if (fstatat(dfd, sock, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISSOCK(b.st_mode))
			(void)unlinkat(dfd, sock, 0);
		(void)unlinkat(dfd, lock, 0);
		removed = 1;
	}
	close(fd);
	return removed;
}

/* A socket file with no lock file beside it: a leftover if nobody
 * listens on it. */
static int
sweep_orphan(const char *dir, int dfd, const char *name)
{
	char lock[FBUSI_NAME_MAX + 8], path[300];
	struct stat st;
	int fd;

	snprintf(lock, sizeof lock, "%.*s.lock", FBUSI_NAME_MAX, name);
	if (fstatat(dfd, lock, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	snprintf(path, sizeof path, "%.199s/%.*s.sock", dir, FBUSI_NAME_MAX,
	         name);
	if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    st.st_uid != geteuid())
		return 0;
	if (fbusi_unix_connect(path, SOCK_SEQPACKET, 100, &fd, NULL) !=
	    FBUS_ECONNREFUSED) {
		fbusi_close(fd);
		return 0;
	}
	fbusi_unix_unlink(path, st.st_dev, st.st_ino);
	return 1;
}

/* A worker group's file whose members all died (kill -9: nobody left to
 * remove it): no member holds its shared flock.  Removed under our
 * exclusive one; a member joining meanwhile finds it unlinked after its
 * own flock and makes a new one (shm/group.c). */
static void
sweep_group(int dfd, const char *name)
{
	struct stat a, b;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	                                  O_NONBLOCK);

	if (fd < 0)
		return;
	if (fstat(fd, &a) == 0 && S_ISREG(a.st_mode) &&
	    a.st_uid == geteuid() && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
	    fstatat(dfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		(void)unlinkat(dfd, name, 0);
	close(fd);
}

typedef char bus_name[FBUSI_NAME_MAX + 1];

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(const bus_name *)a, *(const bus_name *)b);
}

/* Append the first len bytes of name to *list (n entries, room for
 * *cap); FBUS_ENOMEM when it cannot grow. */
static int
push_name(bus_name **list, size_t *n, size_t *cap, const char *name,
          size_t len)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		bus_name *grown = realloc(*list, c * sizeof **list);

		if (!grown)
			return FBUS_ENOMEM;
		*list = grown;
		*cap = c;
	}
	memcpy((*list)[*n], name, len);
	(*list)[*n][len] = '\0';
	(*n)++;
	return 0;
}

static int
sweep_dir(const char *dir, fbus_sweep_fn *removed, void *user)
{
	bus_name *names = NULL, *groups = NULL;
	size_t n = 0, cap = 0, n_groups = 0, cap_groups = 0;
	struct dirent *e;
	int dfd, count = 0;
	DIR *d;

	/* O_NOFOLLOW: a planted symlink must not make us remove files
	 * elsewhere; an unreadable or missing dir has nothing of ours */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	/* every name first: unlinking while readdir walks the directory may
	 * skip entries */
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (strstr(e->d_name, ".group-") && len <= FBUSI_NAME_MAX) {
			count = push_name(&groups, &n_groups, &cap_groups,
			                  e->d_name, len);
			if (count)
				goto out;
			continue;
		}
		if (len <= 5 || len - 5 > FBUSI_NAME_MAX ||
		    (strcmp(e->d_name + len - 5, ".lock") &&
		     strcmp(e->d_name + len - 5, ".sock")))
			continue;
		count = push_name(&names, &n, &cap, e->d_name, len - 5);
		if (count)
			goto out;
	}
	/* NAME.lock and NAME.sock give the name twice: once is enough */
	if (n) /* qsort wants a non-NULL array even for none */
		qsort(names, n, sizeof *names, cmp_name);
	for (size_t i = 0; i < n; i++) {
		if (i && !strcmp(names[i], names[i - 1]))
			continue;
		if (!sweep_one(dfd, names[i]) &&
		    !sweep_orphan(dir, dfd, names[i]))
			continue;
		count++;
		if (removed)
			removed(user, names[i]);
	}
	for (size_t i = 0; i < n_groups; i++)
		sweep_group(dfd, groups[i]);
out:
	free(groups);
	free(names);
	closedir(d);
	return count;
}

int
fbus_runtime_sweep(fbus_sweep_fn *removed, void *user)
{
	struct fbusi_err err = { "" };
	char dir[200];
	uid_t owner;
	int rc;

	if (fbus_runtime_dir(dir, sizeof dir))
		return FBUS_ENAMETOOLONG;
	rc = fbusi_dir_trusted(dir, true, &owner, &err);
	if (rc == FBUS_ENOENT)
		return 0;
	if (rc) {
		fbusi_set_open_error("runtime directory", rc, &err);
		return rc;
	}
	return sweep_dir(dir, removed, user);
}

int
fbusi_bus_sweep(const struct fbusi_uri *u)
{
	char dir[200];
	int rc = bus_dir(u, dir, sizeof dir, NULL);

	return rc ? rc : sweep_dir(dir, NULL, NULL);
}

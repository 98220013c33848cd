/* SPDX-License-Identifier: MIT */
/*
 * runtime.c — where shm: control sockets live ($XDG_RUNTIME_DIR/framebus,
 * else /tmp/framebus-$UID, mode 0700, owned by us) and how a client
 * connects to one.  Also fbus_bus_query(), used by `framebus ls`.
 */
#define _GNU_SOURCE
#include "ctl.h"
#include "os.h"
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
                   char *err)
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
fbusi_runtime_dir_ensure(char *err)
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

int
fbusi_unix_connect(const char *path, int *out, char *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(path) >= sizeof sa.sun_path)
		return fbusi_fail(err, FBUS_ENAMETOOLONG, "path too long: %s",
		                  path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fbusi_fail(err, -errno, "socket: %s",
		                  fbus_strerror(-errno));
	do
		r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		int e = errno;
		close(fd);
		if (e == ENOENT || e == ECONNREFUSED)
			return fbusi_fail(err, e == ENOENT ? FBUS_ENOENT
			                                   : FBUS_ECONNREFUSED,
			                  "no producer (%s: %s)", path,
			                  e == ENOENT ? "no socket"
			                              : "nobody listens");
		return fbusi_fail(err, -e, "connect %s: %s", path,
		                  fbus_strerror(-e));
	}
	*out = fd;
	return 0;
}

/* Receive one control message within timeout_ms. */
int
fbusi_ctl_recv(int fd, union fbusi_ctl *msg, int *fds, int *nfds,
               int timeout_ms, char *err)
{
	char buf[FBUSI_CTL_MAX];
	long n;
	int r;

	*nfds = 0;
	r = fbusi_poll1(fd, POLLIN, timeout_ms);
	if (r < 0)
		return fbusi_fail(err, r, "poll: %s", fbus_strerror(r));
	if (r == 0)
		return fbusi_fail(err, FBUS_ETIMEDOUT,
		                  "producer did not answer in %d ms",
		                  timeout_ms);
	n = fbusi_recv_fds(fd, buf, sizeof buf, fds, FBUSI_MAX_FDS, nfds,
	                   MSG_DONTWAIT);
	if (n == 0 || n == -ECONNRESET)
		return fbusi_fail(err, FBUS_EDISCONNECTED,
		                  "producer closed the connection");
	if (n < 0)
		return fbusi_fail(err, (int)n, "receive: %s",
		                  fbus_strerror((int)n));
	r = fbusi_ctl_parse(buf, n, *nfds, msg, err);
	if (r < 0) {
		for (int i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
	}
	return r;
}

int
fbus_bus_query(const char *text, struct fbus_bus_info *info)
{
	struct fbusi_uri uri;
	union fbusi_ctl msg;
	char err[FBUSI_ERRLEN] = "", path[108];
	int fd = -1, fds[FBUSI_MAX_FDS], nfds, r;

	if (!info)
		return FBUS_EINVAL;
	memset(info, 0, sizeof *info);
	r = fbusi_uri_parse(text, &uri, err, sizeof err);
	if (r == 0 && uri.scheme != FBUSI_SCHEME_SHM)
		r = fbusi_fail(err, FBUS_ENOTSUP,
		               "only shm: buses can be queried");
	if (r == 0)
		r = fbusi_runtime_path(uri.name, ".sock", path, sizeof path,
		                       err);
	if (r == 0)
		r = fbusi_unix_connect(path, &fd, err);
	if (r == 0) {
		fbusi_ctl_init(&msg, FBUSI_CTL_QUERY);
		msg.query.version = FBUSI_CTL_VERSION;
		r = fbusi_send_fds(fd, &msg, msg.h.size, NULL, 0, 0);
		if (r)
			fbusi_errorf(err, "send: %s", fbus_strerror(r));
	}
	if (r == 0) {
		r = fbusi_ctl_recv(fd, &msg, fds, &nfds, 1000, err);
		if (r == FBUSI_CTL_REFUSE)
			r = fbusi_fail(err, msg.refuse.code, "%s",
			               msg.refuse.text);
		else if (r > 0 && r != FBUSI_CTL_INFO)
			r = fbusi_fail(err, FBUS_EPROTO,
			               "unexpected answer type %d", r);
	}
	fbusi_close(fd);
	if (r < 0) {
		fbusi_set_open_error(text, r, err);
		return r;
	}
	snprintf(info->name, sizeof info->name, "%s", uri.name);
	info->pid = msg.info.pid;
	info->subscribers = msg.info.subscribers;
	info->frames = msg.info.frames;
	info->fps = msg.info.fps;
	info->fmt = msg.info.fmt;
	return 0;
}

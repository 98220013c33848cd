/* SPDX-License-Identifier: MIT */
/* shm/query.c — fbus_bus_query(): ask a running shm: producer about itself,
 * and fbus_bus_groups(): its worker groups (framebus ls). */
#define _GNU_SOURCE
#include "os.h"
#include "runtime.h"
#include "shm/attach.h"
#include "shm/group.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int
fbus_bus_query(const char *text, struct fbus_bus_info *info)
{
	struct fbusi_uri uri;
	union fbusi_ctl msg;
	struct fbusi_err err = { "" };
	int fd = -1, fds[FBUSI_MAX_FDS], nfds, r;

	if (!info)
		return FBUS_EINVAL;
	memset(info, 0, sizeof *info);
	r = fbusi_uri_parse(text, &uri, &err);
	if (r == 0 && uri.scheme != FBUSI_SCHEME_SHM)
		r = fbusi_fail(&err, FBUS_ENOTSUP,
		               "only shm: buses can be queried");
	if (r == 0)
		r = fbusi_bus_connect(&uri, 1000, &fd, &err);
	if (r == 0) {
		fbusi_ctl_init(&msg, FBUSI_CTL_QUERY);
		msg.query.version = FBUSI_CTL_VERSION;
		r = fbusi_send_fds(fd, &msg, msg.h.size, NULL, 0, 0);
		if (r)
			fbusi_fail(&err, r, "send: %s", fbus_strerror(r));
	}
	if (r == 0) {
		r = fbusi_shm_ctl_recv(fd, &msg, fds, &nfds, 1000, &err);
		if (r == FBUSI_CTL_REFUSE)
			r = fbusi_fail(&err, msg.refuse.code, "%s",
			               msg.refuse.text);
		else if (r > 0 && r != FBUSI_CTL_INFO)
			r = fbusi_fail(&err, FBUS_EPROTO,
			               "unexpected answer type %d", r);
	}
	fbusi_close(fd);
	if (r < 0) {
		fbusi_set_open_error(text, r, &err);
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

int
fbus_bus_groups(const char *text, struct fbus_group_info *groups, size_t n)
{
	struct fbusi_uri uri;
	struct fbusi_err err = { "" };
	int r;

	if (!text || (n && !groups))
		return FBUS_EINVAL;
	r = fbusi_uri_parse(text, &uri, &err);
	if (r == 0 && uri.scheme != FBUSI_SCHEME_SHM)
		r = fbusi_fail(&err, FBUS_ENOTSUP,
		               "worker groups are on shm: buses only");
	if (r == 0)
		r = fbusi_group_list(&uri, groups, n, &err);
	if (r < 0)
		fbusi_set_open_error(text, r, &err);
	return r;
}

/* SPDX-License-Identifier: MIT */
/* stream.c — TEMPORARY scaffolding until the stream transports land. */
#include "private.h"

int
fbusi_stream_pub_open(struct fbus_pub **pub, const struct fbusi_uri *uri,
                      const struct fbus_pub_opts *opts, char *err)
{
	(void)pub, (void)uri, (void)opts;
	return fbusi_fail(err, FBUS_ENOTSUP, "stream transports not built yet");
}

int
fbusi_stream_sub_open(struct fbus_sub **sub, const struct fbusi_uri *uri,
                      const struct fbus_sub_opts *opts, char *err)
{
	(void)sub, (void)uri, (void)opts;
	return fbusi_fail(err, FBUS_ENOTSUP, "stream transports not built yet");
}

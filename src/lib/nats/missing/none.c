/* SPDX-License-Identifier: MIT */
/* nats/missing/none.c — nats:// in a build made without nats.h. */
#include "private.h"

static int
missing(struct fbusi_err *err)
{
	return fbusi_fail(err, FBUS_ENOTSUP, "this libframebus was built "
	                  "without NATS support: install libnats-dev and "
	                  "rebuild");
}

int
fbusi_nats_pub_open(struct fbus_pub **pub, const struct fbusi_uri *uri,
                    const struct fbus_pub_opts *opts, struct fbusi_err *err)
{
	(void)pub, (void)uri, (void)opts;
	return missing(err);
}

int
fbusi_nats_sub_open(struct fbus_sub **sub, const struct fbusi_uri *uri,
                    const struct fbus_sub_opts *opts, struct fbusi_err *err)
{
	(void)sub, (void)uri, (void)opts;
	return missing(err);
}

int
fbus_nats_discover(const char *uri, int wait_ms, fbus_peer_fn *cb, void *user)
{
	struct fbusi_err err;

	(void)wait_ms, (void)cb, (void)user;
	fbusi_set_open_error(uri, missing(&err), &err);
	return FBUS_ENOTSUP;
}

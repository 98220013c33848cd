/* SPDX-License-Identifier: MIT */
/*
 * handle.c — the public fbus_pub_* / fbus_sub_* entry points: parse the URI,
 * pick the transport from the scheme table, then dispatch through the
 * handle's ops.  fbus_pub_send() lives here because it is loan+copy+commit
 * for every transport.
 */
#include "private.h"

#include <stdio.h>
#include <string.h>

struct scheme {
	int scheme;
	int (*pub_open)(struct fbus_pub **, const struct fbusi_uri *,
	                const struct fbus_pub_opts *, struct fbusi_err *);
	int (*sub_open)(struct fbus_sub **, const struct fbusi_uri *,
	                const struct fbus_sub_opts *, struct fbusi_err *);
};

static const struct scheme schemes[] = {
	{ FBUSI_SCHEME_SHM, fbusi_shm_pub_open, fbusi_shm_sub_open },
	{ FBUSI_SCHEME_UNIX, fbusi_stream_pub_open, fbusi_stream_sub_open },
	{ FBUSI_SCHEME_TCP, fbusi_stream_pub_open, fbusi_stream_sub_open },
	{ FBUSI_SCHEME_NATS, fbusi_nats_pub_open, fbusi_nats_sub_open },
};

static const struct scheme *
find_scheme(int s)
{
	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
		if (schemes[i].scheme == s)
			return &schemes[i];
	return NULL;
}

int
fbus_pub_open(struct fbus_pub **pub, const char *text,
              const struct fbus_pub_opts *in)
{
	struct fbus_pub_opts opts;
	struct fbusi_uri uri;
	const struct scheme *s;
	struct fbusi_err err;
	int rc;

	if (!pub)
		return FBUS_EINVAL;
	*pub = NULL;
	fbusi_clear_open_error();
	fbusi_pub_opts_defaults(&opts, in);
	err.msg[0] = '\0';
	rc = fbusi_uri_parse(text, &uri, &err);
	if (rc == 0 && (uri.hold || uri.group[0] || uri.wake || uri.fit_w))
		rc = fbusi_fail(&err, FBUS_EINVAL, "%s= is a subscriber option",
		                uri.hold     ? "hold"
		                : uri.wake   ? "wake"
		                : uri.fit_w  ? "fit"
		                             : "group");
	if (rc == 0) {
		s = find_scheme(uri.scheme);
		rc = s->pub_open(pub, &uri, &opts, &err);
	}
	if (rc)
		fbusi_set_open_error(text, rc, &err);
	return rc;
}

int
fbus_pub_loan(struct fbus_pub *pub, const struct fbus_format *fmt,
              struct fbus_slot *slot)
{
	if (!pub || !fmt || !slot)
		return FBUS_EINVAL;
	return pub->ops->loan(pub, fmt, slot);
}

int64_t
fbus_pub_commit(struct fbus_pub *pub, struct fbus_slot *slot)
{
	if (!pub || !slot)
		return FBUS_EINVAL;
	return pub->ops->commit(pub, slot);
}

void
fbus_pub_abort(struct fbus_pub *pub, struct fbus_slot *slot)
{
	if (pub && slot)
		pub->ops->abort(pub, slot);
}

int64_t
fbus_pub_send(struct fbus_pub *pub, const struct fbus_format *fmt,
              const void *data, size_t size, const void *meta,
              size_t meta_bytes)
{
	struct fbus_format f;
	struct fbus_slot slot;
	int rc;

	if (!pub || !fmt || (!data && size) || (!meta && meta_bytes))
		return FBUS_EINVAL;
	if (meta_bytes > FBUS_META_MAX)
		return fbusi_fail(&pub->err, FBUS_EMSGSIZE,
		                  "metadata of %zu bytes exceeds %u", meta_bytes,
		                  FBUS_META_MAX);
	f = *fmt;
	if (f.pixfmt == FBUS_PIXFMT_ENCODED)
		f.size = (uint32_t)size;
	rc = fbus_format_layout(&f);
	if (rc)
		return fbusi_fail(&pub->err, rc, "invalid frame format");
	if (size != f.size)
		return fbusi_fail(&pub->err, FBUS_EINVAL,
		                  "send: %zu bytes given, format needs %u", size,
		                  f.size);
	rc = pub->ops->loan(pub, &f, &slot);
	if (rc)
		return rc;
	memcpy(slot.data, data, size);
	if (meta_bytes)
		memcpy(slot.meta, meta, meta_bytes);
	slot.meta_bytes = (uint32_t)meta_bytes;
	slot.payload_bytes = (uint32_t)size;
	return pub->ops->commit(pub, &slot);
}

int
fbus_pub_stats(struct fbus_pub *pub, struct fbus_pub_stats *st)
{
	if (!pub || !st)
		return FBUS_EINVAL;
	return pub->ops->stats(pub, st);
}

const char *
fbus_pub_last_error(struct fbus_pub *pub)
{
	return pub ? pub->err.msg : "no handle";
}

void
fbus_pub_close(struct fbus_pub *pub)
{
	if (pub)
		pub->ops->close(pub);
}

int
fbus_sub_open(struct fbus_sub **sub, const char *text,
              const struct fbus_sub_opts *in)
{
	struct fbus_sub_opts opts;
	struct fbusi_uri uri;
	const struct scheme *s;
	struct fbusi_err err;
	int rc;

	if (!sub)
		return FBUS_EINVAL;
	*sub = NULL;
	fbusi_clear_open_error();
	fbusi_sub_opts_defaults(&opts, in);
	err.msg[0] = '\0';
	if (opts.mode > FBUS_MODE_EVERY || opts.full_policy > FBUS_FULL_BLOCK)
		rc = fbusi_fail(&err, FBUS_EINVAL, "unknown mode or full policy");
	else
		rc = fbusi_uri_parse(text, &uri, &err);
	if (rc == 0 && uri.hold)
		opts.max_held = uri.hold;
	if (rc == 0 && uri.group[0])
		opts.group = uri.group;
	if (rc == 0 && uri.wake)
		opts.flags = uri.wake == 2 ? opts.flags | FBUS_SUB_PREDICT
		                           : opts.flags & ~FBUS_SUB_PREDICT;
	if (rc == 0 && opts.group && !opts.group[0])
		opts.group = NULL;
	if (rc == 0 && opts.group && !fbusi_group_name_valid(opts.group))
		rc = fbusi_fail(&err, FBUS_EINVAL, "group must be 1..31 of "
		                "[A-Za-z0-9._-]");
	if (rc == 0 && opts.max_held > FBUS_MAX_HELD)
		rc = fbusi_fail(&err, FBUS_EINVAL, "max_held must be 1..%u",
		                FBUS_MAX_HELD);
	if (rc == 0) {
		s = find_scheme(uri.scheme);
		rc = s->sub_open(sub, &uri, &opts, &err);
	}
	if (rc == 0)
		(*sub)->max_held = opts.max_held;
	if (rc)
		fbusi_set_open_error(text, rc, &err);
	return rc;
}

int
fbus_sub_next(struct fbus_sub *sub, struct fbus_frame *frame, int timeout_ms)
{
	int rc;

	if (!sub || !frame)
		return FBUS_EINVAL;
	if (sub->max_held == 1 && sub->held)
		fbus_sub_release(sub, &sub->last);
	if (sub->held >= sub->max_held)
		return fbusi_fail(&sub->err, FBUS_EBUSY,
		                  "%u frames held, the most this subscriber may "
		                  "hold (max_held / ?hold=): release one first",
		                  sub->held);
	rc = sub->ops->next(sub, frame, timeout_ms);
	if (rc == 0) {
		sub->held++;
		if (sub->max_held == 1)
			sub->last = *frame;
	}
	return rc;
}

void
fbus_sub_release(struct fbus_sub *sub, struct fbus_frame *frame)
{
	if (sub && frame && sub->ops->release(sub, frame) > 0)
		sub->held--;
}

int
fbus_sub_fd(struct fbus_sub *sub)
{
	return sub ? sub->ops->fd(sub) : FBUS_EINVAL;
}

int
fbus_sub_stats(struct fbus_sub *sub, struct fbus_sub_stats *st)
{
	if (!sub || !st)
		return FBUS_EINVAL;
	return sub->ops->stats(sub, st);
}

const char *
fbus_sub_last_error(struct fbus_sub *sub)
{
	return sub ? sub->err.msg : "no handle";
}

void
fbus_sub_close(struct fbus_sub *sub)
{
	if (sub)
		sub->ops->close(sub);
}

uint32_t
fbus_frame_scale(const struct fbus_frame *frame)
{
	return frame ? 1u << ((frame->_priv[0] >> FBUSI_PRIV_SCALE_SHIFT) & 3)
	             : 1;
}

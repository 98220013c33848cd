/* SPDX-License-Identifier: MIT */
/*
 * opts.c — option structs with defaults applied.  Callers built against an
 * older, smaller struct pass its size in the first field; only those bytes
 * are read.
 */
#include "private.h"

#include <stddef.h>
#include <string.h>

/* Copy only the bytes of opts the caller's version of the struct has. */
static void
copy_sized(void *out, size_t out_size, const void *in)
{
	uint32_t in_size;

	memset(out, 0, out_size);
	if (!in)
		return;
	memcpy(&in_size, in, sizeof in_size);
	if (in_size == 0 || in_size > out_size)
		in_size = (uint32_t)out_size;
	memcpy(out, in, in_size);
}

void
fbusi_pub_opts_defaults(struct fbus_pub_opts *o, const struct fbus_pub_opts *in)
{
	copy_sized(o, sizeof *o, in);
	o->size = sizeof *o;
	if (!o->slots)
		o->slots = 32;
	if (!o->max_subscribers)
		o->max_subscribers = 16;
	if (!o->max_block_ms)
		o->max_block_ms = 2000;
}

void
fbusi_sub_opts_defaults(struct fbus_sub_opts *o, const struct fbus_sub_opts *in)
{
	struct fbus_sub_opts zero_sized;

	/* size 0 means the struct as it was before `group`: a caller built
	 * then has no such field to read */
	if (in && in->size == 0) {
		memset(&zero_sized, 0, sizeof zero_sized);
		memcpy(&zero_sized, in, offsetof(struct fbus_sub_opts, group));
		zero_sized.size = offsetof(struct fbus_sub_opts, group);
		in = &zero_sized;
	}
	copy_sized(o, sizeof *o, in);
	o->size = sizeof *o;
	if (!o->depth)
		o->depth = 4;
	if (!o->block_ms)
		o->block_ms = 1000;
	if (!o->max_held)
		o->max_held = 1;
}

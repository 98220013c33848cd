/* SPDX-License-Identifier: MIT */
/*
 * format.c — pixel format names, plane layout, and the size checks a commit
 * makes on a loaned slot.  The one place that knows
 * how many planes a format has and how big each is; every transport and tool
 * asks here instead of computing sizes itself.
 */
#include "private.h"

#include <strings.h>

static const char *const names[_FBUS_PIXFMT_COUNT] = {
	[FBUS_PIXFMT_BGR24] = "bgr24", [FBUS_PIXFMT_RGB24] = "rgb24",
	[FBUS_PIXFMT_BGRA] = "bgra",   [FBUS_PIXFMT_GRAY8] = "gray8",
	[FBUS_PIXFMT_NV12] = "nv12",   [FBUS_PIXFMT_I420] = "i420",
	[FBUS_PIXFMT_YUYV] = "yuyv",   [FBUS_PIXFMT_ENCODED] = "encoded",
};

const char *
fbus_pixfmt_name(uint32_t pixfmt)
{
	if (pixfmt == FBUS_PIXFMT_NONE || pixfmt >= _FBUS_PIXFMT_COUNT)
		return NULL;
	return names[pixfmt];
}

uint32_t
fbus_pixfmt_parse(const char *name)
{
	if (!name)
		return FBUS_PIXFMT_NONE;
	for (uint32_t i = 1; i < _FBUS_PIXFMT_COUNT; i++)
		if (strcasecmp(name, names[i]) == 0)
			return i;
	if (strcasecmp(name, "gray") == 0)
		return FBUS_PIXFMT_GRAY8;
	if (strcasecmp(name, "yuv420p") == 0)
		return FBUS_PIXFMT_I420;
	if (strcasecmp(name, "jpeg") == 0)
		return FBUS_PIXFMT_ENCODED;
	return FBUS_PIXFMT_NONE;
}

int
fbus_format_layout(struct fbus_format *f)
{
	/* per plane: bytes per pixel-row unit, and subsampling */
	uint32_t bpp[FBUS_MAX_PLANES] = { 0 };
	uint32_t rows[FBUS_MAX_PLANES] = { 0 };
	uint32_t n = 0;
	uint64_t total = 0;

	if (!f)
		return FBUS_EINVAL;
	if (f->pixfmt == FBUS_PIXFMT_ENCODED) {
		if (f->size == 0 || f->size > FBUS_MAX_FRAME_BYTES ||
		    f->width > FBUS_MAX_DIM || f->height > FBUS_MAX_DIM)
			return FBUS_EINVAL;
		f->nplanes = 1;
		f->stride[0] = 0;
		f->offset[0] = 0;
		for (int i = 1; i < FBUS_MAX_PLANES; i++)
			f->stride[i] = f->offset[i] = 0;
		return 0;
	}
	if (f->width == 0 || f->height == 0 || f->width > FBUS_MAX_DIM ||
	    f->height > FBUS_MAX_DIM)
		return FBUS_EINVAL;

	switch (f->pixfmt) {
	case FBUS_PIXFMT_BGR24:
	case FBUS_PIXFMT_RGB24:
		n = 1, bpp[0] = f->width * 3, rows[0] = f->height;
		break;
	case FBUS_PIXFMT_BGRA:
		n = 1, bpp[0] = f->width * 4, rows[0] = f->height;
		break;
	case FBUS_PIXFMT_GRAY8:
		n = 1, bpp[0] = f->width, rows[0] = f->height;
		break;
	case FBUS_PIXFMT_YUYV:
		if (f->width % 2)
			return FBUS_EINVAL;
		n = 1, bpp[0] = f->width * 2, rows[0] = f->height;
		break;
	case FBUS_PIXFMT_NV12:
		if (f->width % 2 || f->height % 2)
			return FBUS_EINVAL;
		n = 2;
		bpp[0] = f->width, rows[0] = f->height;
		bpp[1] = f->width, rows[1] = f->height / 2;
		break;
	case FBUS_PIXFMT_I420:
		if (f->width % 2 || f->height % 2)
			return FBUS_EINVAL;
		n = 3;
		bpp[0] = f->width, rows[0] = f->height;
		bpp[1] = bpp[2] = f->width / 2;
		rows[1] = rows[2] = f->height / 2;
		break;
	default:
		return FBUS_EINVAL;
	}

	for (uint32_t i = 0; i < FBUS_MAX_PLANES; i++) {
		if (i >= n) {
			f->stride[i] = f->offset[i] = 0;
			continue;
		}
		if (f->stride[i] == 0)
			f->stride[i] = bpp[i];
		/* a stride past 4x the row is surely a mistake, not padding */
		if (f->stride[i] < bpp[i] || f->stride[i] > 4 * bpp[i] + 4096)
			return FBUS_EINVAL;
		f->offset[i] = (uint32_t)total;
		total += (uint64_t)f->stride[i] * rows[i];
		if (total > FBUS_MAX_FRAME_BYTES)
			return FBUS_EINVAL;
	}
	f->nplanes = n;
	f->size = (uint32_t)total;
	return 0;
}

int
fbusi_commit_check(struct fbus_slot *slot, struct fbusi_err *err)
{
	if (slot->meta_bytes > FBUS_META_MAX)
		return fbusi_fail(err, FBUS_EMSGSIZE,
		                  "metadata of %u bytes exceeds %u",
		                  slot->meta_bytes, FBUS_META_MAX);
	if (slot->fmt.pixfmt != FBUS_PIXFMT_ENCODED) {
		slot->payload_bytes = slot->fmt.size;
		return 0;
	}
	if (slot->payload_bytes == 0)
		return fbusi_fail(err, FBUS_EINVAL,
		                  "encoded frame: payload_bytes is 0");
	if (slot->payload_bytes > slot->fmt.size)
		return fbusi_fail(err, FBUS_EMSGSIZE,
		                  "encoded frame: payload_bytes %u exceeds the "
		                  "%u bytes loaned",
		                  slot->payload_bytes, slot->fmt.size);
	return 0;
}

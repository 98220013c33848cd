/* SPDX-License-Identifier: MIT */
/*
 * groundtruth.h — the ground-truth boxes the synthetic source puts in each
 * frame's metadata blob, and inline helpers to encode and (defensively)
 * decode them.  Header-only so that any consumer (infer's mAP, tests, a
 * third-party tool) can parse the blob without linking the media module.
 *
 * Layout: little-endian, fixed-width, no padding, version 1.
 *
 *   offset  size  field
 *   0       4     magic "FBGT"
 *   4       2     version (1)
 *   6       2     header_bytes (24; a newer writer may append fields)
 *   8       2     box_bytes (12; a newer writer may append fields)
 *   10      2     count: number of boxes that follow
 *   12      2     width  } the frame size the boxes refer to, in source
 *   14      2     height } pixels (FBUS_MAX_DIM fits in 16 bits)
 *   16      8     frame index (the synthetic scene's frame number)
 *   24      count * box_bytes: boxes, each
 *             +0  2  class id (enum gt_class)
 *             +2  2  x      } top-left corner and size in pixels, clipped
 *             +4  2  y      } to the frame: x + w <= width,
 *             +6  2  w      }               y + h <= height, w, h >= 1
 *             +8  2  h      }
 *             +10 2  visible: share of the object's pixels that can be
 *                    seen (not off-frame, not hidden by a nearer object),
 *                    in 1/1000
 *
 * A reader must accept larger header_bytes/box_bytes (skip what it does not
 * know) and must never trust the bytes: gt_decode() checks every
 * length and every box against the frame before returning anything.
 */
#ifndef FBUS_GROUNDTRUTH_H
#define FBUS_GROUNDTRUTH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FBUS_GT_MAGIC "FBGT"
#define FBUS_GT_VERSION 1u
#define FBUS_GT_HEADER_BYTES 24u
#define FBUS_GT_BOX_BYTES 12u
/* 24 + 256 * 12 = 3096 bytes: well inside FBUS_META_MAX (8192). */
#define FBUS_GT_MAX_BOXES 256u

enum gt_class {
	FBUS_GT_CIRCLE = 0,
	FBUS_GT_SQUARE = 1,
	FBUS_GT_TRIANGLE = 2,
	FBUS_GT_CROSS = 3,
	FBUS_GT_NCLASSES = 4
};

struct gt_box {
	uint16_t cls;     /* enum gt_class */
	uint16_t x, y, w, h;
	uint16_t visible; /* 0..1000 */
};

struct gt {
	uint32_t width, height;
	uint64_t frame;
	uint32_t count;
	struct gt_box box[FBUS_GT_MAX_BOXES];
};

/* "circle", "square", "triangle", "cross"; NULL for an unknown id. */
static inline const char *
gt_class_name(unsigned cls)
{
	switch (cls) {
	case FBUS_GT_CIRCLE: return "circle";
	case FBUS_GT_SQUARE: return "square";
	case FBUS_GT_TRIANGLE: return "triangle";
	case FBUS_GT_CROSS: return "cross";
	default: return NULL;
	}
}

static inline void
gt_put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline uint32_t
gt_get16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

/* A box is valid when it is non-empty and lies inside the frame. */
static inline int
gt_box_ok(const struct gt_box *b, uint32_t width, uint32_t height)
{
	return b->w > 0 && b->h > 0 && (uint32_t)b->x + b->w <= width &&
	       (uint32_t)b->y + b->h <= height && b->visible <= 1000;
}

/*
 * Encode gt into buf (cap bytes).  Returns the number of bytes written, or
 * -1 when gt is inconsistent (too many boxes, a box outside the frame, a
 * size beyond 16 bits) or buf is too small.
 */
static inline int
gt_encode(const struct gt *gt, void *buf, size_t cap)
{
	uint8_t *p = (uint8_t *)buf;
	size_t need;

	if (!gt || !buf || gt->count > FBUS_GT_MAX_BOXES || gt->width == 0 ||
	    gt->height == 0 || gt->width > 0xffff || gt->height > 0xffff)
		return -1;
	need = FBUS_GT_HEADER_BYTES + (size_t)gt->count * FBUS_GT_BOX_BYTES;
	if (cap < need)
		return -1;
	memcpy(p, FBUS_GT_MAGIC, 4);
	gt_put16(p + 4, FBUS_GT_VERSION);
	gt_put16(p + 6, FBUS_GT_HEADER_BYTES);
	gt_put16(p + 8, FBUS_GT_BOX_BYTES);
	gt_put16(p + 10, gt->count);
	gt_put16(p + 12, gt->width);
	gt_put16(p + 14, gt->height);
	for (int i = 0; i < 8; i++)
		p[16 + i] = (uint8_t)(gt->frame >> (8 * i));
	for (uint32_t i = 0; i < gt->count; i++) {
		const struct gt_box *b = &gt->box[i];
		uint8_t *q = p + FBUS_GT_HEADER_BYTES + i * FBUS_GT_BOX_BYTES;

		if (!gt_box_ok(b, gt->width, gt->height))
			return -1;
		gt_put16(q + 0, b->cls);
		gt_put16(q + 2, b->x);
		gt_put16(q + 4, b->y);
		gt_put16(q + 6, b->w);
		gt_put16(q + 8, b->h);
		gt_put16(q + 10, b->visible);
	}
	return (int)need;
}

/*
 * Decode len bytes at buf into gt.  Returns 0, or -1 when the blob is not
 * ground truth (wrong magic), is of an unknown major version, is shorter than
 * its own header says, holds more than FBUS_GT_MAX_BOXES boxes, or has a box
 * that is empty or outside the frame.  On -1, gt->count is 0.
 */
static inline int
gt_decode(const void *buf, size_t len, struct gt *gt)
{
	const uint8_t *p = (const uint8_t *)buf;
	uint32_t hdr, boxb, count;

	if (!gt)
		return -1;
	gt->count = 0;
	if (!buf || len < FBUS_GT_HEADER_BYTES || memcmp(p, FBUS_GT_MAGIC, 4))
		return -1;
	if (gt_get16(p + 4) != FBUS_GT_VERSION)
		return -1;
	hdr = gt_get16(p + 6);
	boxb = gt_get16(p + 8);
	count = gt_get16(p + 10);
	if (hdr < FBUS_GT_HEADER_BYTES || boxb < FBUS_GT_BOX_BYTES ||
	    count > FBUS_GT_MAX_BOXES ||
	    (uint64_t)hdr + (uint64_t)count * boxb > len)
		return -1;
	gt->width = gt_get16(p + 12);
	gt->height = gt_get16(p + 14);
	if (gt->width == 0 || gt->height == 0)
		return -1;
	gt->frame = 0;
	for (int i = 0; i < 8; i++)
		gt->frame |= (uint64_t)p[16 + i] << (8 * i);
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *q = p + hdr + (size_t)i * boxb;
		struct gt_box *b = &gt->box[i];

		b->cls = (uint16_t)gt_get16(q + 0);
		b->x = (uint16_t)gt_get16(q + 2);
		b->y = (uint16_t)gt_get16(q + 4);
		b->w = (uint16_t)gt_get16(q + 6);
		b->h = (uint16_t)gt_get16(q + 8);
		b->visible = (uint16_t)gt_get16(q + 10);
		if (!gt_box_ok(b, gt->width, gt->height))
			return -1;
	}
	gt->count = count;
	return 0;
}

#endif /* FBUS_GROUNDTRUTH_H */

/* SPDX-License-Identifier: MIT */
/*
 * letterbox.h — YOLO pre-processing straight from a frame's planes into the
 * network's float NCHW blob: resize, pad, normalise and convert to RGB in
 * one pass, so a shared-memory frame is never copied whole first.
 */
#ifndef FBUS_LETTERBOX_H
#define FBUS_LETTERBOX_H

#include "framebus.h"
#include "yolo_post.h"

#include <stdint.h>

/* Per-column sampling tables, reused from frame to frame. */
struct letterbox_ws {
	void *taps;
	size_t cap; /* taps allocated */
};

/* Can letterbox_fill read this pixel format? */
int letterbox_supported(uint32_t pixfmt);

/*
 * Fill blob: 3 planes (R, G, B) of lb->dst_h x lb->dst_w floats in 0..1,
 * the frame bilinearly resized into the lb->new_w x lb->new_h window at
 * (pad_x, pad_y) and `pad` everywhere else.  YUV input is BT.601 limited
 * range.  lb must have been made for fmt's width and height.  Returns 0,
 * FBUS_ENOTSUP for a format it cannot read, FBUS_EINVAL when the frame's
 * size does not match lb, or FBUS_ENOMEM.  Allocates only when ws grows.
 */
int letterbox_fill(const struct letterbox *lb, const struct fbus_format *fmt,
                   const uint8_t *data, float pad, float *blob,
                   struct letterbox_ws *ws);

void letterbox_ws_free(struct letterbox_ws *ws);

#endif /* FBUS_LETTERBOX_H */

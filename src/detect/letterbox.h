/* SPDX-License-Identifier: MIT */
/*
 * letterbox.h — the letterbox, whole: its geometry, the pre-processing
 * straight from a frame's planes into the network's float NCHW blob
 * (resize, pad, normalise and convert to RGB in one pass, so a
 * shared-memory frame is never copied whole first), and the way back from
 * network to source pixels.
 */
#ifndef FBUS_LETTERBOX_H
#define FBUS_LETTERBOX_H

#include "framebus.h"
#include "detector.h"

#include <stdint.h>

/*
 * Letterbox: the source scaled by one factor to fit the network input,
 * centred, the rest padded, the odd pixel of padding on the right/bottom.
 * The scaled size is rounded as the model's own tools round it: Darknet
 * truncates (letterbox_image), Ultralytics rounds half to even (Python's
 * round() in LetterBox) — 773x512 into 640 is 640x423 for one and 640x424
 * for the other, and a model sees the difference.
 */
enum letterbox_round {
	LETTERBOX_DARKNET = 0,
	LETTERBOX_ULTRALYTICS,
};

struct letterbox {
	int src_w, src_h; /* source frame */
	int dst_w, dst_h; /* network input */
	int new_w, new_h; /* scaled source inside the input */
	int pad_x, pad_y; /* where it starts */
};

void letterbox_geometry(struct letterbox *lb, int src_w, int src_h,
                        int dst_w, int dst_h, enum letterbox_round round);

/* Map boxes from network-input pixels to source pixels, clipped to the
 * frame.  Boxes left with no area get w = h = 0. */
void letterbox_unmap(const struct letterbox *lb, struct det_box *b,
                     size_t n);

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

/* SPDX-License-Identifier: MIT */
/*
 * synthetic.h — the synthetic scene of `framebus source synthetic`: shapes of
 * four classes moving over a textured, scrolling background, with mild noise
 * and exact ground-truth boxes.  Needs no FFmpeg; renders straight into the
 * caller's buffer (the loaned slot).
 */
#ifndef FBUS_SYNTHETIC_H
#define FBUS_SYNTHETIC_H

#include "framebus.h"
#include "groundtruth.h"

#include <stdint.h>

struct synth;

/* Rendering switches, for tests and diagnostics; 0 = the full scene. */
enum synth_flags {
	SYNTH_NO_OBJECTS = 1u << 0, /* background and noise only */
	SYNTH_NO_NOISE = 1u << 1,
};

/*
 * A scene of w x h pixels (1..FBUS_MAX_DIM) for `seed`.  Returns NULL when
 * out of memory or the size is out of range.  Allocates (a texture and a
 * w x h byte map).
 */
struct synth *synth_create(uint64_t seed, uint32_t w, uint32_t h);
void synth_destroy(struct synth *s);

void synth_set_flags(struct synth *s, uint32_t flags);
/* Boxes less visible than this (1/1000; default 300) are left out of gt. */
void synth_set_min_visible(struct synth *s, uint32_t permille);

/* Pixel formats synth_render() draws directly (no conversion). */
int synth_supports(uint32_t pixfmt);

/*
 * Render frame `index` into dst, laid out as fmt says (fmt->width/height
 * must equal the scene's; strides are honoured), and write its ground truth
 * to gt when gt is not NULL.  The frame depends only on (seed, index, size):
 * frames can be rendered in any order.  Returns 0, or FBUS_EINVAL for a
 * format synth_supports() refuses or a size mismatch.
 * Never allocates.  Not thread-safe for one scene (uses a scratch map).
 */
int synth_render(struct synth *s, uint64_t index,
                 const struct fbus_format *fmt, uint8_t *dst,
                 struct gt *gt);

#endif /* FBUS_SYNTHETIC_H */

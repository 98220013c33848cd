/* SPDX-License-Identifier: MIT */
/*
 * overlay.h — the annotated picture shared by the window and the recorder:
 * a frame converted to BGR24 with boxes, labels and status text drawn on it
 * by a tiny built-in 5x7 bitmap font (SDL2 has no font renderer, and the
 * recording must show the same picture as the window).
 */
#ifndef FBUS_OVERLAY_H
#define FBUS_OVERLAY_H

#include "detector.h"
#include "framebus.h"

#include <stddef.h>
#include <stdint.h>

struct overlay_img {
	uint8_t *bgr;   /* w * h * 3 bytes, tightly packed */
	int w, h;
	size_t cap;     /* bytes allocated */
};

/* Glyph cell of the font at scale 1, spacing included. */
#define OVERLAY_GLYPH_W 6
#define OVERLAY_GLYPH_H 8

/*
 * Convert a frame (any raw format of framebus.h) into img, growing it as
 * needed.  YUV is BT.601 limited range.  Returns 0, FBUS_ENOTSUP or
 * FBUS_ENOMEM.
 */
int overlay_from_frame(struct overlay_img *img, const struct fbus_format *fmt,
                       const uint8_t *data);
void overlay_free(struct overlay_img *img);

/* The colour (B, G, R) boxes of class cls are drawn in. */
void overlay_class_color(int cls, uint8_t bgr[3]);

void overlay_fill(struct overlay_img *img, int x, int y, int w, int h,
                  const uint8_t bgr[3]);
/* Rectangle outline, `t` pixels thick, inside (x, y, w, h). */
void overlay_rect(struct overlay_img *img, int x, int y, int w, int h, int t,
                  const uint8_t bgr[3]);
/* Text at (x, y) top-left, glyphs scaled by `scale`; bg NULL = none.
 * Returns the width drawn. */
int overlay_text(struct overlay_img *img, int x, int y, int scale,
                 const char *s, const uint8_t fg[3], const uint8_t *bg);

/* Boxes (highest score drawn last, on top) with "name 0.87" labels. */
void overlay_detections(struct overlay_img *img, const struct det_box *b,
                        size_t n, const struct detector *d);

/* Scale of text for a picture this size (1 up to 640 wide, then more). */
int overlay_text_scale(const struct overlay_img *img);

#endif /* FBUS_OVERLAY_H */

/* SPDX-License-Identifier: MIT */
/*
 * shrink.h — the scale a subscriber's ?fit= box asks for, and the box
 * filter a JPEG producer uses to code a frame at that scale instead of
 * letting every subscriber throw most of a full-size decode away.
 */
#ifndef FBUS_SHRINK_H
#define FBUS_SHRINK_H

#include "private.h"

/* log2 of the largest 1/N (N = 1, 2, 4, 8) at which a w x h picture still
 * fills a fit_w x fit_h box when fitted in it; 0 without a box. */
uint32_t fbusi_fit_shift(uint32_t fit_w, uint32_t fit_h, uint32_t w,
                         uint32_t h);

/* A side of v pixels at 1/2^shift: what the box filter and libjpeg's
 * scaled decode both make of it (a partial block counts). */
static inline uint32_t
fbusi_scaled(uint32_t v, uint32_t shift)
{
	return (uint32_t)(((uint64_t)v + (1u << shift) - 1) >> shift);
}

/* Average each 2^shift x 2^shift block of src (w x h pixels of bpp bytes,
 * rows stride apart) into one pixel of dst: ceil(w/2^shift) x
 * ceil(h/2^shift) pixels, rows dst_stride apart.  Blocks at the right and
 * bottom edge average the pixels they have.  shift 1..3, bpp 1..4; acc
 * is scratch room for w * bpp sums. */
void fbusi_shrink(const uint8_t *src, uint32_t stride, uint32_t w, uint32_t h,
                  uint32_t bpp, uint32_t shift, uint8_t *dst,
                  uint32_t dst_stride, uint16_t *acc);

#endif

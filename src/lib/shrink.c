/* SPDX-License-Identifier: MIT */
/*
 * shrink.c — fit scale selection and the box filter behind a JPEG
 * producer's scaled coding (shrink.h).
 */
#include "shrink.h"

#include <string.h>

uint32_t
fbusi_fit_shift(uint32_t fit_w, uint32_t fit_h, uint32_t w, uint32_t h)
{
	uint32_t shift = 0;

	/* one more halving while the box still fits inside the smaller
	 * picture in one of the two directions (it is then filled when
	 * the picture is fitted in it) */
	while (fit_w && fit_h && shift < 3 &&
	       ((uint64_t)fit_w << (shift + 1) <= w ||
	        (uint64_t)fit_h << (shift + 1) <= h))
		shift++;
	return shift;
}

/* acc[i] += in[i]: in blocks of 16 the compiler turns into vector adds
 * even at -O2 (which vectorizes only loops it needs no scalar tail for). */
static void
add_row(uint16_t *restrict acc, const uint8_t *restrict in, uint32_t n)
{
	uint32_t i = 0;

	for (; i + 16 <= n; i += 16)
		for (uint32_t j = 0; j < 16; j++)
			acc[i + j] = (uint16_t)(acc[i + j] + in[i + j]);
	for (; i < n; i++)
		acc[i] = (uint16_t)(acc[i] + in[i]);
}

/* One output row from the column sums: cols-wide blocks of cnt pixels
 * each, the last block of the row maybe narrower. */
static void
sum_across(const uint16_t *acc, uint32_t w, uint32_t bpp, uint32_t shift,
           uint32_t rows, uint8_t *out)
{
	const uint32_t n = 1u << shift, full = w >> shift;
	const uint32_t cnt = n * rows;
	const uint32_t lg = shift + (rows == n ? shift : 0);

	if (bpp == 3) {
		for (uint32_t ox = 0; ox < full; ox++) {
			const uint16_t *a = acc + (size_t)ox * n * 3;
			uint32_t s0 = 0, s1 = 0, s2 = 0;

			for (uint32_t k = 0; k < n; k++) {
				s0 += a[3 * k];
				s1 += a[3 * k + 1];
				s2 += a[3 * k + 2];
			}
			/* whole rows of blocks divide by a shift */
			out[3 * ox] = (uint8_t)(rows == n ? (s0 + cnt / 2) >> lg
			                                  : (s0 + cnt / 2) / cnt);
			out[3 * ox + 1] = (uint8_t)(rows == n ? (s1 + cnt / 2) >> lg
			                                      : (s1 + cnt / 2) / cnt);
			out[3 * ox + 2] = (uint8_t)(rows == n ? (s2 + cnt / 2) >> lg
			                                      : (s2 + cnt / 2) / cnt);
		}
	} else {
		for (uint32_t ox = 0; ox < full; ox++)
			for (uint32_t c = 0; c < bpp; c++) {
				const uint16_t *a = acc + (size_t)ox * n * bpp + c;
				uint32_t sum = 0;

				for (uint32_t k = 0; k < n; k++)
					sum += a[k * bpp];
				out[ox * bpp + c] =
				        (uint8_t)(rows == n ? (sum + cnt / 2) >> lg
				                            : (sum + cnt / 2) / cnt);
			}
	}
	if (full << shift < w) {
		const uint32_t x0 = full << shift, cols = w - x0;
		const uint32_t c2 = cols * rows;

		for (uint32_t c = 0; c < bpp; c++) {
			uint32_t sum = 0;

			for (uint32_t k = 0; k < cols; k++)
				sum += acc[(size_t)(x0 + k) * bpp + c];
			out[full * bpp + c] = (uint8_t)((sum + c2 / 2) / c2);
		}
	}
}

void
fbusi_shrink(const uint8_t *src, uint32_t stride, uint32_t w, uint32_t h,
             uint32_t bpp, uint32_t shift, uint8_t *dst, uint32_t dst_stride,
             uint16_t *acc)
{
	const uint32_t n = 1u << shift, row = w * bpp;
	const uint32_t oh = (h + n - 1) >> shift;

	/* acc: one row of column sums (8 rows of 255 fit 16 bits), down the
	 * rows first -- plain adds over whole rows -- then across blocks */
	for (uint32_t oy = 0; oy < oh; oy++) {
		const uint32_t y0 = oy << shift;
		const uint32_t rows = h - y0 < n ? h - y0 : n;

		for (uint32_t i = 0; i < row; i++)
			acc[i] = src[(size_t)y0 * stride + i];
		for (uint32_t r = 1; r < rows; r++)
			add_row(acc, src + (size_t)(y0 + r) * stride, row);
		sum_across(acc, w, bpp, shift, rows,
		           dst + (size_t)oy * dst_stride);
	}
}

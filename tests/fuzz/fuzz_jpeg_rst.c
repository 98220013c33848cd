/* SPDX-License-Identifier: MIT */
/*
 * fuzz_jpeg_rst.c — libFuzzer target for the restart-marker surgery
 * (jpeg_rst.c), which reads JPEGs a peer sent: byte 0 picks how many parts
 * to ask for, the rest is the JPEG.  Besides "no crash, no UB": parts
 * cover the picture top to bottom, each within the input, and each built
 * part is exactly as long as said.  The same bytes, cut in two, are also
 * fed to the stitcher as strips.
 *
 * fuzz-sources: jpeg_rst.c
 */
#include <stdlib.h>
#include <string.h>

#include "jpeg_rst.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fbusi_jpeg_parts p;
	const uint8_t *jpg = data + 1;
	size_t n = size ? size - 1 : 0;
	int want;

	if (size < 2)
		return 0;
	want = 2 + data[0] % (FBUSI_JPEG_MAX_PARTS - 1);
	fbusi_jpeg_split(jpg, n, want, &p);
	if (p.n) {
		if (p.n < 2 || p.n > want || p.row[0] != 0 ||
		    p.row[p.n] != p.height || p.hdr_len > n)
			abort();
		for (int k = 0; k < p.n; k++) {
			size_t len = fbusi_jpeg_part_size(&p, k);
			uint8_t *out;

			if (p.row[k] >= p.row[k + 1] || p.seg[k] > p.seg_end[k] ||
			    p.seg_end[k] > n || p.seg[k] < p.hdr_len)
				abort();
			out = malloc(len);
			if (!out)
				return 0;
			if (fbusi_jpeg_part_build(jpg, &p, k, out) != len)
				abort();
			free(out);
		}
	}
	{
		size_t cut = n / 2, len[2] = { cut, n - cut }, cap = n + 64;
		const uint8_t *strip[2] = { jpg, jpg + cut };
		uint8_t *out = malloc(cap);
		uint32_t ri = (uint32_t)data[0] << 4 | 1;

		if (!out)
			return 0;
		if (fbusi_jpeg_stitch(strip, len, 2, 0xFFFF, ri, out, cap) > cap)
			abort();
		free(out);
	}
	return 0;
}

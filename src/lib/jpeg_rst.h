/* SPDX-License-Identifier: MIT */
/*
 * jpeg_rst.h — one JPEG, coded or decoded by several threads, through
 * restart markers.  Strips of a picture encoded apart (each a JPEG whose
 * height is a multiple of the MCU's) are stitched into one standard
 * baseline JPEG with a restart marker between them, which any decoder
 * reads; a JPEG whose restart intervals are whole MCU rows (ours, or a
 * camera's) is split back into standalone JPEGs of a few intervals each,
 * which decode side by side.  Byte surgery only: no codec, no threads, no
 * allocation, every length checked (the split reads what a peer sent).
 */
#ifndef FBUS_JPEG_RST_H
#define FBUS_JPEG_RST_H

#include <stddef.h>
#include <stdint.h>

#define FBUSI_JPEG_MAX_PARTS 8

/*
 * Join n strip JPEGs (same width, same tables, each but the last `ri`
 * MCUs long, top to bottom) into out: strip 0's headers with the whole
 * `height` and a restart interval of `ri` MCUs, then each strip's scan,
 * a restart marker between two.  Returns the length, or 0 when the strips
 * do not fit together (other tables, no baseline scan) or cap is short.
 */
size_t fbusi_jpeg_stitch(const uint8_t *const strip[], const size_t len[],
                         int n, uint32_t height, uint32_t ri, uint8_t *out,
                         size_t cap);

/* A JPEG cut into parts of whole restart intervals. */
struct fbusi_jpeg_parts {
	int n;                   /* parts; 0 = cannot be split */
	uint32_t width, height;  /* of the whole picture */
	uint32_t row[FBUSI_JPEG_MAX_PARTS + 1]; /* part k: rows row[k]..row[k+1] */
	/* internal: where things are in the JPEG */
	size_t sof_y;            /* offset of the SOF's height field */
	size_t hdr_len;          /* SOI .. the end of the SOS header */
	size_t seg[FBUSI_JPEG_MAX_PARTS + 1]; /* part k's scan: seg[k] .. */
	size_t seg_end[FBUSI_JPEG_MAX_PARTS]; /* ... seg_end[k] (exclusive) */
};

/*
 * Plan at most `want` parts (2..FBUSI_JPEG_MAX_PARTS) of jpg: a baseline
 * (or extended sequential) single-scan JPEG with a restart interval of
 * whole MCU rows.  Anything else -- or anything odd -- gives p->n == 0,
 * and the caller decodes it whole (the decoder then says what is wrong).
 */
void fbusi_jpeg_split(const uint8_t *jpg, size_t n, int want,
                      struct fbusi_jpeg_parts *p);

/* Bytes part k takes as a standalone JPEG (an upper bound for build). */
size_t fbusi_jpeg_part_size(const struct fbusi_jpeg_parts *p, int k);

/* Write part k of jpg as a standalone JPEG into out (at least
 * fbusi_jpeg_part_size() bytes): the headers with the part's height, its
 * scan with the restart markers renumbered from 0, an EOI.  Returns the
 * length. */
size_t fbusi_jpeg_part_build(const uint8_t *jpg, const struct fbusi_jpeg_parts *p,
                             int k, uint8_t *out);

#endif

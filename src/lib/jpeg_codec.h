/* SPDX-License-Identifier: MIT */
/*
 * jpeg_codec.h — JPEG for the stream transports' ?codec=jpeg, through
 * libturbojpeg loaded at run time (dlopen), so that libframebus itself
 * depends on nothing beyond libc/pthread/libdl.
 */
#ifndef FBUS_JPEG_CODEC_H
#define FBUS_JPEG_CODEC_H

#include "private.h"

struct fbusi_jpeg;

/* Load libturbojpeg once per process.  Returns 0, or FBUS_ENOTSUP with a
 * sentence naming the Debian package in err.  Thread-safe. */
int fbusi_jpeg_load(struct fbusi_err *err);

/* A compressor (compress != 0) or decompressor.  Allocates. */
int fbusi_jpeg_open(struct fbusi_jpeg **j, int compress, struct fbusi_err *err);
void fbusi_jpeg_close(struct fbusi_jpeg *j);

/* Code big frames (1280x720 and up) in up to n parts, one thread each
 * (1..4; 1, the default, = one thread).  Encoding in parts makes a JPEG
 * with restart markers between the parts, which any decoder reads;
 * decoding in parts needs restart intervals of whole MCU rows. */
void fbusi_jpeg_set_threads(struct fbusi_jpeg *j, uint32_t n);

/* Encode colour at full resolution (4:4:4) instead of 4:2:0, in one
 * piece.  For a frame the producer shrank (?fit=): its chroma at 4:2:0
 * would be a quarter of an already small picture, and a detector reading
 * it lost 7 points of mAP@0.5 (0.926 -> 0.855); at 4:4:4, 0.919.  The
 * JPEG of a frame shrunk to 1/2 or less still fits fbusi_jpeg_bound() of
 * the full frame. */
void fbusi_jpeg_set_full_chroma(struct fbusi_jpeg *j, bool on);

/* True for the formats the encoder takes: BGR24, RGB24, GRAY8. */
bool fbusi_jpeg_can_encode(uint32_t pixfmt);
/* True for the formats the decoder produces: BGR24, RGB24, BGRA, GRAY8. */
bool fbusi_jpeg_can_decode(uint32_t pixfmt);

/* Worst-case size of the JPEG of a frame; 0 if it cannot be encoded. */
size_t fbusi_jpeg_bound(const struct fbus_format *fmt);

/* Encode the frame at pixels (layout fmt) into out (cap bytes, at least
 * fbusi_jpeg_bound()).  Never allocates. */
int fbusi_jpeg_encode(struct fbusi_jpeg *j, const struct fbus_format *fmt,
                      const uint8_t *pixels, int quality, uint8_t *out,
                      size_t cap, uint32_t *out_len, struct fbusi_err *err);

/* Read the image size from a JPEG header; FBUS_EPROTO if it is no JPEG,
 * or if n bytes of Huffman-coded data cannot hold that many pixels (a
 * bomb; arithmetic-coded JPEGs, which no camera sends, may be refused). */
int fbusi_jpeg_size(struct fbusi_jpeg *j, const uint8_t *jpg, size_t n,
                    uint32_t *w, uint32_t *h, struct fbusi_err *err);

/* Decode into out, laid out as fmt (whose size must match the JPEG). */
int fbusi_jpeg_decode(struct fbusi_jpeg *j, const uint8_t *jpg, size_t n,
                      const struct fbus_format *fmt, uint8_t *out, struct fbusi_err *err);

/* Tests only: load this soname instead, before the first fbusi_jpeg_load. */
void fbusi_jpeg_set_soname(const char *soname);

#endif

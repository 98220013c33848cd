/* SPDX-License-Identifier: MIT */
/*
 * stream/wire.h — the byte layout of the stream transports (unix:, tcp://):
 * the frame header the producer sends before each frame and the hello a
 * subscriber sends once after connecting.  Pure functions only (no I/O, no
 * allocation), so the fuzzer can drive them directly.
 *
 * Frame on the wire, all integers little-endian:
 *
 *   off size field
 *     0    4 magic "FBSF"
 *     4    2 version (1)
 *     6    2 header length (72)
 *     8    8 seq
 *    16    8 capture time, CLOCK_MONOTONIC ns
 *    24    8 capture time, CLOCK_REALTIME ns
 *    32    4 pixfmt (raw: the payload's; jpeg: the frame it was made from)
 *    36    2 codec (0 raw, 1 jpeg)
 *    38    2 flags: 0, or for a worker group's frame bit 15 set and in
 *              bits 0-14 the frames the group skipped (latest: replaced
 *              before a member took them; every: dropped) since the one
 *              before this member's previous frame, at most 0x7fff
 *    40    4 width
 *    44    4 height
 *    48   12 stride[3] (raw; 0 for encoded; jpeg: stride[0] is the
 *              log2 N (0-3) of the 1/N scale the producer coded the
 *              frame at -- the JPEG is ceil(width/N) x ceil(height/N) --
 *              never more than every receiver's ?fit= box allows, the
 *              others 0)
 *    60    4 metadata length (<= FBUS_META_MAX)
 *    64    4 payload length
 *    68    4 CRC-32C of bytes 0..67
 *    72      metadata, then payload
 *
 * Hello (subscriber -> producer, once): magic "FBSH", version, length (24),
 * mode u8, full policy u8, flags u16 (bit 0: a worker group's name
 * follows; bit 1: a fit box follows), depth u32, block_ms u32, CRC-32C.
 * With flag 0 set, 32 bytes follow: the group name, NUL-padded.  Then with
 * flag 1 set, 8 bytes: the subscriber's ?fit= box, width u32 and height
 * u32 (1..65535): a JPEG producer may code its frames at 1/2, 1/4 or 1/8
 * when every receiver's box allows it.
 *
 * Credit (worker group member -> producer, any time after its hello):
 * magic "FBSC", 4 bytes: "send me one frame".  A member sends one when it
 * is free and has none coming, so the producer hands each frame of the
 * group to one free member.
 *
 * Welcome (producer -> subscriber, once, before any frame): magic "FBSW",
 * version, length (32), status i32 (0, or the FBUS_E* code of a refusal
 * after which the producer hangs up), 4 reserved, next_seq u64 (frames
 * before it were published before this subscriber joined, so they are not
 * "skipped"), 4 reserved, CRC-32C.
 */
#ifndef FBUS_FRAME_WIRE_H
#define FBUS_FRAME_WIRE_H

#include "private.h"

#define FBUSI_WIRE_MAGIC_FRAME 0x46534246u /* "FBSF" */
#define FBUSI_WIRE_MAGIC_HELLO 0x48534246u /* "FBSH" */
#define FBUSI_WIRE_VERSION 1
#define FBUSI_WIRE_HDR_LEN 72
#define FBUSI_WIRE_HELLO_LEN 24
#define FBUSI_WIRE_MAGIC_WELCOME 0x57534246u /* "FBSW" */
#define FBUSI_WIRE_MAGIC_CREDIT 0x43534246u  /* "FBSC" */
#define FBUSI_WIRE_HELLO_GROUP 1u            /* hello flag */
#define FBUSI_WIRE_HELLO_FIT 2u              /* hello flag */
#define FBUSI_WIRE_GROUP_LEN 32
#define FBUSI_WIRE_FIT_LEN 8
#define FBUSI_WIRE_FIT_MAX 65535u
#define FBUSI_WIRE_HELLO_MAX \
	(FBUSI_WIRE_HELLO_LEN + FBUSI_WIRE_GROUP_LEN + FBUSI_WIRE_FIT_LEN)
#define FBUSI_WIRE_FLAG_GROUP 0x8000u
#define FBUSI_WIRE_GROUP_SKIPS_MAX 0x7fffu
#define FBUSI_WIRE_WELCOME_LEN 32
#define FBUSI_WIRE_MAX_DEPTH 1024
#define FBUSI_WIRE_MAX_BLOCK_MS 60000

struct fbusi_wire_hdr {
	uint64_t seq;
	int64_t t_mono_ns;
	int64_t t_real_ns;
	uint32_t pixfmt;
	uint32_t codec; /* enum fbusi_codec */
	uint32_t width;
	uint32_t height;
	uint32_t stride[FBUS_MAX_PLANES];
	uint32_t meta_len;
	uint32_t payload_len;
	uint32_t group_skips; /* the flags: 0 or FBUSI_WIRE_FLAG_GROUP | n */
};

struct fbusi_wire_hello {
	uint32_t mode;        /* enum fbus_mode */
	uint32_t full_policy; /* enum fbus_full_policy */
	uint32_t depth;
	uint32_t block_ms;
	uint32_t flags; /* FBUSI_WIRE_HELLO_GROUP, _FIT */
};

void fbusi_wire_hdr_encode(uint8_t out[FBUSI_WIRE_HDR_LEN],
                           const struct fbusi_wire_hdr *h);

/* Mark an encoded header as a worker group's frame that follows `skips`
 * frames the group skipped (capped at FBUSI_WIRE_GROUP_SKIPS_MAX); the
 * CRC is redone. */
void fbusi_wire_hdr_set_group(uint8_t hdr[FBUSI_WIRE_HDR_LEN], uint32_t skips);

/*
 * Check the first n bytes (n may be less than a whole header) of a message
 * whose magic and length are expected: lets a receiver refuse garbage as soon
 * as the first bytes arrive instead of waiting for a full header.  Returns 0,
 * FBUS_EPROTO (magic, length) or FBUS_EPROTONOSUPPORT (version), with a
 * sentence in err (FBUSI_ERRLEN bytes, may be NULL).
 */
int fbusi_wire_check_prefix(const uint8_t *buf, size_t n, uint32_t magic,
                            unsigned len, struct fbusi_err *err);

/*
 * Parse and validate a whole frame header: prefix, CRC (-EBADMSG), flags,
 * codec, metadata length, payload length against max_bytes (FBUS_EMSGSIZE;
 * checked before anyone allocates), and for raw frames that the payload
 * length equals what fbus_format_layout() says for the format and strides.
 * On success fills *h and, for raw frames, *fmt (may be NULL).
 */
int fbusi_wire_hdr_parse(const uint8_t in[FBUSI_WIRE_HDR_LEN],
                         uint64_t max_bytes, struct fbusi_wire_hdr *h,
                         struct fbus_format *fmt, struct fbusi_err *err);

void fbusi_wire_hello_encode(uint8_t out[FBUSI_WIRE_HELLO_LEN],
                             const struct fbusi_wire_hello *h);
int fbusi_wire_hello_parse(const uint8_t in[FBUSI_WIRE_HELLO_LEN],
                           struct fbusi_wire_hello *h, struct fbusi_err *err);
/* Bytes that follow a hello with these flags (group name, fit box). */
size_t fbusi_wire_hello_extra(uint32_t flags);
void fbusi_wire_fit_encode(uint8_t out[FBUSI_WIRE_FIT_LEN], uint32_t w,
                           uint32_t h);
/* FBUS_EPROTO unless both sides are 1..FBUSI_WIRE_FIT_MAX. */
int fbusi_wire_fit_parse(const uint8_t in[FBUSI_WIRE_FIT_LEN], uint32_t *w,
                         uint32_t *h, struct fbusi_err *err);

struct fbusi_wire_welcome {
	int32_t status;
	uint64_t next_seq;
};

void fbusi_wire_welcome_encode(uint8_t out[FBUSI_WIRE_WELCOME_LEN],
                               const struct fbusi_wire_welcome *w);
/* Status codes are checked to be negative errno-sized values. */
int fbusi_wire_welcome_parse(const uint8_t in[FBUSI_WIRE_WELCOME_LEN],
                             struct fbusi_wire_welcome *w, struct fbusi_err *err);

#endif

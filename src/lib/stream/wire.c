/* SPDX-License-Identifier: MIT */
/*
 * stream/wire.c — encode and validate stream frame headers and hellos
 * (layout in stream/wire.h).  Everything the peer sends is checked here before the
 * transport trusts a single length: this is where the user's original
 * "read 4 bytes, allocate whatever they say" is fixed.
 */
#include "stream/wire.h"

#include "crc32c.h"

#include <inttypes.h>
#include <string.h>

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
	       ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32);
}

void
fbusi_wire_hdr_encode(uint8_t out[FBUSI_WIRE_HDR_LEN],
                      const struct fbusi_wire_hdr *h)
{
	put32(out + 0, FBUSI_WIRE_MAGIC_FRAME);
	put16(out + 4, FBUSI_WIRE_VERSION);
	put16(out + 6, FBUSI_WIRE_HDR_LEN);
	put64(out + 8, h->seq);
	put64(out + 16, (uint64_t)h->t_mono_ns);
	put64(out + 24, (uint64_t)h->t_real_ns);
	put32(out + 32, h->pixfmt);
	put16(out + 36, (uint16_t)h->codec);
	put16(out + 38, (uint16_t)h->group_skips);
	put32(out + 40, h->width);
	put32(out + 44, h->height);
	for (int i = 0; i < FBUS_MAX_PLANES; i++)
		put32(out + 48 + 4 * i, h->stride[i]);
	put32(out + 60, h->meta_len);
	put32(out + 64, h->payload_len);
	put32(out + 68, fbusi_crc32c(0, out, 68));
}

void
fbusi_wire_hdr_set_group(uint8_t hdr[FBUSI_WIRE_HDR_LEN], uint32_t skips)
{
	put16(hdr + 38, (uint16_t)(FBUSI_WIRE_FLAG_GROUP |
	                           (skips < FBUSI_WIRE_GROUP_SKIPS_MAX
	                                    ? skips
	                                    : FBUSI_WIRE_GROUP_SKIPS_MAX)));
	put32(hdr + 68, fbusi_crc32c(0, hdr, 68));
}

int
fbusi_wire_check_prefix(const uint8_t *buf, size_t n, uint32_t magic,
                        unsigned len, struct fbusi_err *err)
{
	const char *what = magic == FBUSI_WIRE_MAGIC_FRAME   ? "frame"
	                   : magic == FBUSI_WIRE_MAGIC_HELLO ? "hello"
	                                                     : "welcome";

	if (n >= 4 && get32(buf) != magic)
		return fbusi_fail(err, FBUS_EPROTO,
		                  "bad magic 0x%08" PRIx32
		                  " in %s header: not a framebus stream peer",
		                  get32(buf), what);
	if (n >= 6 && get16(buf + 4) != FBUSI_WIRE_VERSION)
		return fbusi_fail(err, FBUS_EPROTONOSUPPORT,
		                  "peer speaks stream protocol version %u, this "
		                  "library speaks %u",
		                  get16(buf + 4), FBUSI_WIRE_VERSION);
	if (n >= 8 && get16(buf + 6) != len)
		return fbusi_fail(err, FBUS_EPROTO,
		                  "%s header length %u, protocol version %u "
		                  "has %u",
		                  what, get16(buf + 6), FBUSI_WIRE_VERSION, len);
	return 0;
}

static int
check_crc(const uint8_t *in, size_t len, const char *what, struct fbusi_err *err)
{
	uint32_t want = get32(in + len - 4);
	uint32_t got = fbusi_crc32c(0, in, len - 4);

	if (want != got)
		return fbusi_fail(err, -EBADMSG,
		                  "%s header checksum mismatch (crc32c 0x%08" PRIx32
		                  ", header says 0x%08" PRIx32 ")",
		                  what, got, want);
	return 0;
}

int
fbusi_wire_hdr_parse(const uint8_t in[FBUSI_WIRE_HDR_LEN], uint64_t max_bytes,
                     struct fbusi_wire_hdr *h, struct fbus_format *fmt,
                     struct fbusi_err *err)
{
	struct fbus_format f;
	const char *name;
	int rc;

	rc = fbusi_wire_check_prefix(in, FBUSI_WIRE_HDR_LEN,
	                             FBUSI_WIRE_MAGIC_FRAME, FBUSI_WIRE_HDR_LEN,
	                             err);
	if (rc)
		return rc;
	rc = check_crc(in, FBUSI_WIRE_HDR_LEN, "frame", err);
	if (rc)
		return rc;
	h->seq = get64(in + 8);
	h->t_mono_ns = (int64_t)get64(in + 16);
	h->t_real_ns = (int64_t)get64(in + 24);
	h->pixfmt = get32(in + 32);
	h->codec = get16(in + 36);
	h->width = get32(in + 40);
	h->height = get32(in + 44);
	for (int i = 0; i < FBUS_MAX_PLANES; i++)
		h->stride[i] = get32(in + 48 + 4 * i);
	h->meta_len = get32(in + 60);
	h->payload_len = get32(in + 64);

	h->group_skips = get16(in + 38);
	if (h->group_skips && !(h->group_skips & FBUSI_WIRE_FLAG_GROUP))
		return fbusi_fail(err, FBUS_EPROTO, "unknown frame flags 0x%x",
		                  get16(in + 38));
	if (h->meta_len > FBUS_META_MAX)
		return fbusi_fail(err, FBUS_EMSGSIZE,
		                  "frame metadata of %" PRIu32
		                  " bytes exceeds the limit of %u",
		                  h->meta_len, FBUS_META_MAX);
	if (h->payload_len > max_bytes)
		return fbusi_fail(err, FBUS_EMSGSIZE,
		                  "frame of %" PRIu32
		                  " bytes exceeds the limit of %" PRIu64
		                  " bytes (raise it with ?max=)",
		                  h->payload_len, max_bytes);
	if (h->payload_len == 0)
		return fbusi_fail(err, FBUS_EPROTO, "frame with empty payload");
	if (h->seq == 0)
		return fbusi_fail(err, FBUS_EPROTO, "frame with sequence 0");
	name = fbus_pixfmt_name(h->pixfmt);

	memset(&f, 0, sizeof f);
	f.pixfmt = h->pixfmt;
	f.width = h->width;
	f.height = h->height;
	switch (h->codec) {
	case FBUSI_CODEC_RAW:
		if (!name)
			return fbusi_fail(err, FBUS_EPROTO,
			                  "unknown pixel format %" PRIu32,
			                  h->pixfmt);
		if (h->pixfmt == FBUS_PIXFMT_ENCODED)
			f.size = h->payload_len;
		else
			for (int i = 0; i < FBUS_MAX_PLANES; i++)
				f.stride[i] = h->stride[i];
		if (fbus_format_layout(&f))
			return fbusi_fail(err, FBUS_EPROTO,
			                  "invalid %s frame %" PRIu32 "x%" PRIu32
			                  " in header",
			                  name, h->width, h->height);
		if (f.size != h->payload_len)
			return fbusi_fail(err, FBUS_EPROTO,
			                  "%s %" PRIu32 "x%" PRIu32
			                  " frame needs %" PRIu32
			                  " bytes, header says %" PRIu32,
			                  name, h->width, h->height, f.size,
			                  h->payload_len);
		break;
	case FBUSI_CODEC_JPEG:
		if (h->pixfmt != FBUS_PIXFMT_BGR24 &&
		    h->pixfmt != FBUS_PIXFMT_RGB24 &&
		    h->pixfmt != FBUS_PIXFMT_GRAY8)
			return fbusi_fail(err, FBUS_EPROTO,
			                  "jpeg frame from unsupported pixel "
			                  "format %" PRIu32,
			                  h->pixfmt);
		if (h->width == 0 || h->height == 0 ||
		    h->width > FBUS_MAX_DIM || h->height > FBUS_MAX_DIM)
			return fbusi_fail(err, FBUS_EPROTO,
			                  "jpeg frame of invalid size %" PRIu32
			                  "x%" PRIu32,
			                  h->width, h->height);
		if (h->stride[0] > 3 || h->stride[1] || h->stride[2])
			return fbusi_fail(err, FBUS_EPROTO,
			                  "jpeg frame coded at scale 1/2^%" PRIu32
			                  " (strides %" PRIu32 ", %" PRIu32 ")",
			                  h->stride[0], h->stride[1], h->stride[2]);
		/* the layout of the frame it was made from: bounds the
		 * decoder's output before anyone allocates it */
		if (fbus_format_layout(&f))
			return fbusi_fail(err, FBUS_EPROTO,
			                  "jpeg frame of invalid size %" PRIu32
			                  "x%" PRIu32,
			                  h->width, h->height);
		break;
	default:
		return fbusi_fail(err, FBUS_EPROTO, "unknown codec %" PRIu32,
		                  h->codec);
	}
	if (fmt)
		*fmt = f;
	return 0;
}

void
fbusi_wire_hello_encode(uint8_t out[FBUSI_WIRE_HELLO_LEN],
                        const struct fbusi_wire_hello *h)
{
	put32(out + 0, FBUSI_WIRE_MAGIC_HELLO);
	put16(out + 4, FBUSI_WIRE_VERSION);
	put16(out + 6, FBUSI_WIRE_HELLO_LEN);
	out[8] = (uint8_t)h->mode;
	out[9] = (uint8_t)h->full_policy;
	put16(out + 10, (uint16_t)h->flags);
	put32(out + 12, h->depth);
	put32(out + 16, h->block_ms);
	put32(out + 20, fbusi_crc32c(0, out, 20));
}

int
fbusi_wire_hello_parse(const uint8_t in[FBUSI_WIRE_HELLO_LEN],
                       struct fbusi_wire_hello *h, struct fbusi_err *err)
{
	int rc;

	rc = fbusi_wire_check_prefix(in, FBUSI_WIRE_HELLO_LEN,
	                             FBUSI_WIRE_MAGIC_HELLO,
	                             FBUSI_WIRE_HELLO_LEN, err);
	if (rc)
		return rc;
	rc = check_crc(in, FBUSI_WIRE_HELLO_LEN, "hello", err);
	if (rc)
		return rc;
	h->mode = in[8];
	h->full_policy = in[9];
	h->depth = get32(in + 12);
	h->block_ms = get32(in + 16);
	h->flags = get16(in + 10);
	if (h->mode > FBUS_MODE_EVERY || h->full_policy > FBUS_FULL_BLOCK ||
	    (h->flags & ~(FBUSI_WIRE_HELLO_GROUP | FBUSI_WIRE_HELLO_FIT)))
		return fbusi_fail(err, FBUS_EPROTO,
		                  "hello with unknown mode %u / policy %u / "
		                  "flags 0x%x",
		                  in[8], in[9], (unsigned)h->flags);
	if (h->depth == 0 || h->depth > FBUSI_WIRE_MAX_DEPTH ||
	    h->block_ms > FBUSI_WIRE_MAX_BLOCK_MS)
		return fbusi_fail(err, FBUS_EPROTO,
		                  "hello asks for depth %" PRIu32
		                  " / block %" PRIu32 " ms (limits %u / %u)",
		                  h->depth, h->block_ms, FBUSI_WIRE_MAX_DEPTH,
		                  FBUSI_WIRE_MAX_BLOCK_MS);
	return 0;
}

size_t
fbusi_wire_hello_extra(uint32_t flags)
{
	return (flags & FBUSI_WIRE_HELLO_GROUP ? FBUSI_WIRE_GROUP_LEN : 0) +
	       (flags & FBUSI_WIRE_HELLO_FIT ? FBUSI_WIRE_FIT_LEN : 0);
}

void
fbusi_wire_fit_encode(uint8_t out[FBUSI_WIRE_FIT_LEN], uint32_t w, uint32_t h)
{
	put32(out, w);
	put32(out + 4, h);
}

int
fbusi_wire_fit_parse(const uint8_t in[FBUSI_WIRE_FIT_LEN], uint32_t *w,
                     uint32_t *h, struct fbusi_err *err)
{
	*w = get32(in);
	*h = get32(in + 4);
	if (*w == 0 || *h == 0 || *w > FBUSI_WIRE_FIT_MAX ||
	    *h > FBUSI_WIRE_FIT_MAX)
		return fbusi_fail(err, FBUS_EPROTO,
		                  "hello with a fit box of %" PRIu32 "x%" PRIu32,
		                  *w, *h);
	return 0;
}

void
fbusi_wire_welcome_encode(uint8_t out[FBUSI_WIRE_WELCOME_LEN],
                          const struct fbusi_wire_welcome *w)
{
	memset(out, 0, FBUSI_WIRE_WELCOME_LEN);
	put32(out + 0, FBUSI_WIRE_MAGIC_WELCOME);
	put16(out + 4, FBUSI_WIRE_VERSION);
	put16(out + 6, FBUSI_WIRE_WELCOME_LEN);
	put32(out + 8, (uint32_t)w->status);
	put64(out + 16, w->next_seq);
	put32(out + 28, fbusi_crc32c(0, out, 28));
}

int
fbusi_wire_welcome_parse(const uint8_t in[FBUSI_WIRE_WELCOME_LEN],
                         struct fbusi_wire_welcome *w, struct fbusi_err *err)
{
	int rc;

	rc = fbusi_wire_check_prefix(in, FBUSI_WIRE_WELCOME_LEN,
	                             FBUSI_WIRE_MAGIC_WELCOME,
	                             FBUSI_WIRE_WELCOME_LEN, err);
	if (rc)
		return rc;
	rc = check_crc(in, FBUSI_WIRE_WELCOME_LEN, "welcome", err);
	if (rc)
		return rc;
	w->status = (int32_t)get32(in + 8);
	w->next_seq = get64(in + 16);
	if (w->status > 0 || w->status < -4095 || w->next_seq == 0 ||
	    get32(in + 12) != 0 || get32(in + 24) != 0)
		return fbusi_fail(err, FBUS_EPROTO,
		                  "welcome with status %" PRId32
		                  " / next seq %" PRIu64,
		                  w->status, w->next_seq);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * test-frame-wire.c — the stream frame header and hello codec: round trips,
 * and every way a peer's header can be wrong gets its own error code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "crc32c.h"
#include "stream/wire.h"

static struct fbusi_wire_hdr
raw_hdr(void)
{
	struct fbusi_wire_hdr h = {
		.seq = 7,
		.t_mono_ns = 123456789,
		.t_real_ns = -5,
		.pixfmt = FBUS_PIXFMT_BGR24,
		.codec = FBUSI_CODEC_RAW,
		.width = 64,
		.height = 48,
		.stride = { 64 * 3 },
		.meta_len = 10,
		.payload_len = 64 * 3 * 48,
	};
	return h;
}

/* Field by field: the struct has padding that memcmp would read. */
static void
assert_hdr_equal(const struct fbusi_wire_hdr *a, const struct fbusi_wire_hdr *b)
{
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->t_mono_ns, b->t_mono_ns);
	assert_int_equal(a->t_real_ns, b->t_real_ns);
	assert_int_equal(a->pixfmt, b->pixfmt);
	assert_int_equal(a->codec, b->codec);
	assert_int_equal(a->width, b->width);
	assert_int_equal(a->height, b->height);
	for (int i = 0; i < FBUS_MAX_PLANES; i++)
		assert_int_equal(a->stride[i], b->stride[i]);
	assert_int_equal(a->meta_len, b->meta_len);
	assert_int_equal(a->payload_len, b->payload_len);
}

/* Rewrite a field and fix the CRC so only the field's check can fire. */
static void
patch32(uint8_t *buf, int off, uint32_t v)
{
	uint32_t crc;

	for (int i = 0; i < 4; i++)
		buf[off + i] = (uint8_t)(v >> (8 * i));
	crc = fbusi_crc32c(0, buf, FBUSI_WIRE_HDR_LEN - 4);
	for (int i = 0; i < 4; i++)
		buf[68 + i] = (uint8_t)(crc >> (8 * i));
}

static void
test_crc32c_vectors(void **state)
{
	(void)state;
	assert_int_equal(fbusi_crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(fbusi_crc32c(0, "", 0), 0);
	/* incremental == one shot */
	assert_int_equal(fbusi_crc32c(fbusi_crc32c(0, "1234", 4), "56789", 5),
	                 0xe3069283u);
}

static void
test_hdr_roundtrip(void **state)
{
	struct fbusi_wire_hdr h = raw_hdr(), out;
	struct fbus_format f;
	uint8_t buf[FBUSI_WIRE_HDR_LEN];
	struct fbusi_err err;

	(void)state;
	fbusi_wire_hdr_encode(buf, &h);
	assert_memory_equal(buf, "FBSF", 4);
	assert_int_equal(fbusi_wire_hdr_parse(buf, 1u << 20, &out, &f, &err), 0);
	assert_hdr_equal(&h, &out);
	assert_int_equal(f.size, 64 * 3 * 48);
	assert_int_equal(f.nplanes, 1);

	/* every pixel format's layout survives the header */
	for (uint32_t pf = FBUS_PIXFMT_BGR24; pf < _FBUS_PIXFMT_COUNT; pf++) {
		struct fbus_format want = { .pixfmt = pf, .width = 32,
			                    .height = 16 };
		if (pf == FBUS_PIXFMT_ENCODED)
			want.size = 999;
		assert_int_equal(fbus_format_layout(&want), 0);
		h.pixfmt = pf;
		h.width = 32;
		h.height = 16;
		memcpy(h.stride, want.stride, sizeof h.stride);
		h.payload_len = want.size;
		fbusi_wire_hdr_encode(buf, &h);
		if (fbusi_wire_hdr_parse(buf, 1u << 20, &out, &f, &err))
			fail_msg("%s: %s", fbus_pixfmt_name(pf), err);
		assert_memory_equal(&f, &want, sizeof f);
	}
}

static void
test_hdr_errors(void **state)
{
	struct fbusi_wire_hdr h = raw_hdr(), out;
	uint8_t good[FBUSI_WIRE_HDR_LEN], buf[FBUSI_WIRE_HDR_LEN];
	struct fbusi_err err;

	(void)state;
	fbusi_wire_hdr_encode(good, &h);

	memcpy(buf, good, sizeof buf);
	buf[0] = 'X';
	assert_int_equal(fbusi_wire_hdr_parse(buf, 1u << 20, &out, NULL, &err),
	                 FBUS_EPROTO);
	assert_non_null(strstr(err.msg, "bad magic"));
	/* the prefix check refuses it from the first 4 bytes */
	assert_int_equal(fbusi_wire_check_prefix(buf, 4, FBUSI_WIRE_MAGIC_FRAME,
	                                         FBUSI_WIRE_HDR_LEN, &err),
	                 FBUS_EPROTO);
	assert_int_equal(fbusi_wire_check_prefix(buf, 3, FBUSI_WIRE_MAGIC_FRAME,
	                                         FBUSI_WIRE_HDR_LEN, &err),
	                 0);

	memcpy(buf, good, sizeof buf);
	buf[4] = 2;
	assert_int_equal(fbusi_wire_hdr_parse(buf, 1u << 20, &out, NULL, &err),
	                 FBUS_EPROTONOSUPPORT);
	assert_non_null(strstr(err.msg, "version 2"));

	memcpy(buf, good, sizeof buf);
	buf[6] = 200;
	assert_int_equal(fbusi_wire_hdr_parse(buf, 1u << 20, &out, NULL, &err),
	                 FBUS_EPROTO);
	assert_non_null(strstr(err.msg, "header length 200"));

	memcpy(buf, good, sizeof buf);
	buf[20] ^= 1; /* a capture time bit: only the CRC notices */
	assert_int_equal(fbusi_wire_hdr_parse(buf, 1u << 20, &out, NULL, &err),
	                 -EBADMSG);
	assert_non_null(strstr(err.msg, "checksum"));

	/* oversized payload: refused against the limit, before allocation */
	memcpy(buf, good, sizeof buf);
	patch32(buf, 64, 0xfffffff0u);
	assert_int_equal(fbusi_wire_hdr_parse(buf, 1u << 20, &out, NULL, &err),
	                 FBUS_EMSGSIZE);
	assert_non_null(strstr(err.msg, "exceeds the limit"));
	/* a limit below the honest frame refuses it too */
	assert_int_equal(fbusi_wire_hdr_parse(good, 1000, &out, NULL, &err),
	                 FBUS_EMSGSIZE);

	memcpy(buf, good, sizeof buf);
	patch32(buf, 60, FBUS_META_MAX + 1);
	assert_int_equal(fbusi_wire_hdr_parse(buf, 1u << 20, &out, NULL, &err),
	                 FBUS_EMSGSIZE);

	/* payload length disagreeing with the format */
	memcpy(buf, good, sizeof buf);
	patch32(buf, 64, 64 * 3 * 48 - 1);
	assert_int_equal(fbusi_wire_hdr_parse(buf, 1u << 20, &out, NULL, &err),
	                 FBUS_EPROTO);
	assert_non_null(strstr(err.msg, "needs 9216 bytes"));

	memcpy(buf, good, sizeof buf);
	patch32(buf, 32, 99); /* unknown pixfmt */
	assert_int_equal(fbusi_wire_hdr_parse(buf, 1u << 20, &out, NULL, &err),
	                 FBUS_EPROTO);

	memcpy(buf, good, sizeof buf);
	patch32(buf, 36, 7); /* codec 7, flags 0 */
	assert_int_equal(fbusi_wire_hdr_parse(buf, 1u << 20, &out, NULL, &err),
	                 FBUS_EPROTO);
	assert_non_null(strstr(err.msg, "codec"));

	memcpy(buf, good, sizeof buf);
	patch32(buf, 36, 1u << 16); /* flags */
	assert_int_equal(fbusi_wire_hdr_parse(buf, 1u << 20, &out, NULL, &err),
	                 FBUS_EPROTO);

	memcpy(buf, good, sizeof buf);
	patch32(buf, 40, 0); /* width 0 */
	assert_int_equal(fbusi_wire_hdr_parse(buf, 1u << 20, &out, NULL, &err),
	                 FBUS_EPROTO);
}

static void
test_jpeg_hdr(void **state)
{
	struct fbusi_wire_hdr h = raw_hdr(), out;
	uint8_t buf[FBUSI_WIRE_HDR_LEN];
	struct fbusi_err err;

	(void)state;
	h.codec = FBUSI_CODEC_JPEG;
	h.payload_len = 500;
	memset(h.stride, 0, sizeof h.stride);
	fbusi_wire_hdr_encode(buf, &h);
	assert_int_equal(fbusi_wire_hdr_parse(buf, 1u << 20, &out, NULL, &err), 0);
	h.pixfmt = FBUS_PIXFMT_NV12; /* the encoder never makes these */
	fbusi_wire_hdr_encode(buf, &h);
	assert_int_equal(fbusi_wire_hdr_parse(buf, 1u << 20, &out, NULL, &err),
	                 FBUS_EPROTO);
	h.pixfmt = FBUS_PIXFMT_GRAY8;
	h.width = FBUS_MAX_DIM + 1;
	fbusi_wire_hdr_encode(buf, &h);
	assert_int_equal(fbusi_wire_hdr_parse(buf, 1u << 20, &out, NULL, &err),
	                 FBUS_EPROTO);
}

static void
test_hello(void **state)
{
	struct fbusi_wire_hello h = { FBUS_MODE_EVERY, FBUS_FULL_BLOCK, 8, 500, 0 };
	struct fbusi_wire_hello out;
	uint8_t buf[FBUSI_WIRE_HELLO_LEN], bad[FBUSI_WIRE_HELLO_LEN];
	struct fbusi_err err;

	(void)state;
	fbusi_wire_hello_encode(buf, &h);
	assert_int_equal(fbusi_wire_hello_parse(buf, &out, &err), 0);
	assert_memory_equal(&h, &out, sizeof h);

	memcpy(bad, buf, sizeof bad);
	bad[1] = 'X';
	assert_int_equal(fbusi_wire_hello_parse(bad, &out, &err), FBUS_EPROTO);
	memcpy(bad, buf, sizeof bad);
	bad[5] = 1;
	assert_int_equal(fbusi_wire_hello_parse(bad, &out, &err),
	                 FBUS_EPROTONOSUPPORT);
	memcpy(bad, buf, sizeof bad);
	bad[13] ^= 0x40;
	assert_int_equal(fbusi_wire_hello_parse(bad, &out, &err), -EBADMSG);

	h.depth = 0;
	fbusi_wire_hello_encode(buf, &h);
	assert_int_equal(fbusi_wire_hello_parse(buf, &out, &err), FBUS_EPROTO);
	h.depth = 4;
	h.mode = 3;
	fbusi_wire_hello_encode(buf, &h);
	assert_int_equal(fbusi_wire_hello_parse(buf, &out, &err), FBUS_EPROTO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_vectors),
		cmocka_unit_test(test_hdr_roundtrip),
		cmocka_unit_test(test_hdr_errors),
		cmocka_unit_test(test_jpeg_hdr),
		cmocka_unit_test(test_hello),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

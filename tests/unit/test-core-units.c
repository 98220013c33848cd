/* SPDX-License-Identifier: MIT */
/*
 * test-core-units.c — cmocka unit tests of libframebus's pure parts: format
 * layout, URI parsing, control-message validation, error strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "shm/proto.h"
#include "private.h"
#include "shm/layout.h"
#include "shm/predict.h"
#include "shrink.h"

static void
test_layout_packed(void **state)
{
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_BGR24, .width = 640,
		                 .height = 480 };
	(void)state;
	assert_int_equal(fbus_format_layout(&f), 0);
	assert_int_equal(f.nplanes, 1);
	assert_int_equal(f.stride[0], 1920);
	assert_int_equal(f.size, 640 * 480 * 3);
}

static void
test_layout_planar(void **state)
{
	struct fbus_format i420 = { .pixfmt = FBUS_PIXFMT_I420, .width = 64,
		                    .height = 32 };
	struct fbus_format nv12 = { .pixfmt = FBUS_PIXFMT_NV12, .width = 64,
		                    .height = 32, .stride = { 128, 128 } };
	(void)state;
	assert_int_equal(fbus_format_layout(&i420), 0);
	assert_int_equal(i420.nplanes, 3);
	assert_int_equal(i420.offset[1], 64 * 32);
	assert_int_equal(i420.offset[2], 64 * 32 + 32 * 16);
	assert_int_equal(i420.size, 64 * 32 * 3 / 2);
	assert_int_equal(fbus_format_layout(&nv12), 0);
	assert_int_equal(nv12.offset[1], 128 * 32);
	assert_int_equal(nv12.size, 128 * 32 + 128 * 16);
}

static void
test_layout_rejects(void **state)
{
	struct fbus_format bad[] = {
		{ .pixfmt = FBUS_PIXFMT_BGR24, .width = 0, .height = 480 },
		{ .pixfmt = FBUS_PIXFMT_BGR24, .width = 640, .height = 0 },
		{ .pixfmt = FBUS_PIXFMT_BGR24, .width = 100000, .height = 4 },
		{ .pixfmt = FBUS_PIXFMT_BGRA, .width = 16384, .height = 16384,
		  .stride = { 16384 * 4 + 64 } }, /* > FBUS_MAX_FRAME_BYTES */
		{ .pixfmt = FBUS_PIXFMT_NV12, .width = 63, .height = 32 },
		{ .pixfmt = 99, .width = 64, .height = 64 },
		{ .pixfmt = FBUS_PIXFMT_GRAY8, .width = 64, .height = 64,
		  .stride = { 10 } },
		{ .pixfmt = FBUS_PIXFMT_ENCODED, .size = 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(fbus_format_layout(&bad[i]), FBUS_EINVAL);
}

static void
test_pixfmt_names(void **state)
{
	(void)state;
	for (uint32_t i = 1; i < _FBUS_PIXFMT_COUNT; i++)
		assert_int_equal(fbus_pixfmt_parse(fbus_pixfmt_name(i)), i);
	assert_int_equal(fbus_pixfmt_parse("BGR24"), FBUS_PIXFMT_BGR24);
	assert_int_equal(fbus_pixfmt_parse("nope"), FBUS_PIXFMT_NONE);
	assert_null(fbus_pixfmt_name(0));
	assert_null(fbus_pixfmt_name(1000));
}

static void
test_uri(void **state)
{
	struct fbusi_uri u;
	struct fbusi_err err;
	char longpath[200];
	(void)state;

	assert_int_equal(fbusi_uri_parse("shm:cam0", &u, &err), 0);
	assert_int_equal(u.scheme, FBUSI_SCHEME_SHM);
	assert_string_equal(u.name, "cam0");
	assert_int_equal(fbusi_uri_parse("unix:/tmp/x.sock?codec=jpeg&quality=80",
	                                 &u, &err),
	                 0);
	assert_int_equal(u.scheme, FBUSI_SCHEME_UNIX);
	assert_string_equal(u.path, "/tmp/x.sock");
	assert_int_equal(u.codec, FBUSI_CODEC_JPEG);
	assert_int_equal(u.quality, 80);
	assert_int_equal(fbusi_uri_parse("tcp://[::1]:7000?format=gray8", &u,
	                                 &err),
	                 0);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.port, "7000");
	assert_int_equal(u.pixfmt, FBUS_PIXFMT_GRAY8);
	assert_int_equal(fbusi_uri_parse("shm:cam0?wake=predict", &u, &err), 0);
	assert_int_equal(u.wake, 2);
	assert_int_equal(fbusi_uri_parse("shm:cam0?wake=sleep", &u, &err), 0);
	assert_int_equal(u.wake, 1);
	assert_int_equal(fbusi_uri_parse("shm:cam0?wake=spin", &u, &err),
	                 FBUS_EINVAL);
	assert_non_null(strstr(err.msg, "sleep or predict"));
	assert_int_equal(fbusi_uri_parse("tcp://h:1?wake=predict", &u, &err),
	                 FBUS_EINVAL);

	assert_int_equal(fbusi_uri_parse("shm:", &u, &err),
	                 FBUS_EINVAL);
	assert_int_equal(fbusi_uri_parse("shm:../etc", &u, &err),
	                 FBUS_EINVAL);
	assert_int_equal(fbusi_uri_parse("shm:a/b", &u, &err),
	                 FBUS_EINVAL);
	assert_int_equal(fbusi_uri_parse("http://x", &u, &err),
	                 FBUS_EINVAL);
	assert_non_null(strstr(err.msg, "unknown transport"));
	assert_int_equal(fbusi_uri_parse("tcp://host", &u, &err),
	                 FBUS_EINVAL);
	assert_int_equal(fbusi_uri_parse("tcp://h:70000", &u, &err),
	                 FBUS_EINVAL);
	assert_int_equal(fbusi_uri_parse("unix:/x?quality=0", &u, &err),
	                 FBUS_EINVAL);
	assert_int_equal(fbusi_uri_parse("unix:/x?bogus=1", &u, &err),
	                 FBUS_EINVAL);
	memset(longpath, 'a', sizeof longpath);
	memcpy(longpath, "unix:/", 6);
	longpath[sizeof longpath - 1] = '\0';
	assert_int_equal(fbusi_uri_parse(longpath, &u, &err),
	                 FBUS_ENAMETOOLONG);
}

static void
test_ctl_parse(void **state)
{
	union fbusi_ctl m, out;
	struct fbusi_err err;
	(void)state;

	fbusi_ctl_init(&m, FBUSI_CTL_HELLO);
	m.hello.version = FBUSI_CTL_VERSION;
	m.hello.depth = 4;
	assert_int_equal(fbusi_ctl_parse(&m, sizeof m.hello, 0, &out, &err),
	                 FBUSI_CTL_HELLO);
	/* truncated, oversized, with fds, bad magic, bad version, bad type */
	assert_int_equal(fbusi_ctl_parse(&m, 3, 0, &out, &err), FBUS_EPROTO);
	assert_int_equal(fbusi_ctl_parse(&m, sizeof m.hello - 1, 0, &out, &err),
	                 FBUS_EPROTO);
	assert_int_equal(fbusi_ctl_parse(&m, sizeof m.hello + 4, 0, &out, &err),
	                 FBUS_EPROTO);
	assert_int_equal(fbusi_ctl_parse(&m, sizeof m.hello, 1, &out, &err),
	                 FBUS_EPROTO);
	m.hello.depth = 0;
	assert_int_equal(fbusi_ctl_parse(&m, sizeof m.hello, 0, &out, &err),
	                 FBUS_EPROTO);
	m.hello.depth = 4;
	m.hello.version = 99;
	assert_int_equal(fbusi_ctl_parse(&m, sizeof m.hello, 0, &out, &err),
	                 FBUS_EPROTONOSUPPORT);
	m.h.magic = 0xdeadbeef;
	assert_int_equal(fbusi_ctl_parse(&m, sizeof m.hello, 0, &out, &err),
	                 FBUS_EPROTO);
	fbusi_ctl_init(&m, FBUSI_CTL_HELLO);
	m.h.type = 77;
	assert_int_equal(fbusi_ctl_parse(&m, sizeof m.hello, 0, &out, &err),
	                 FBUS_EPROTO);

	/* WELCOME: fd count must match "ring present" */
	fbusi_ctl_init(&m, FBUSI_CTL_WELCOME);
	m.welcome.version = FBUSI_CTL_VERSION;
	m.welcome.page_size = 4096;
	assert_int_equal(fbusi_ctl_parse(&m, sizeof m.welcome, 2, &out, &err),
	                 FBUSI_CTL_WELCOME);
	assert_int_equal(fbusi_ctl_parse(&m, sizeof m.welcome, 3, &out, &err),
	                 FBUS_EPROTO);

	/* REFUSE text is always terminated and the code negative */
	fbusi_ctl_init(&m, FBUSI_CTL_REFUSE);
	memset(m.refuse.text, 'x', sizeof m.refuse.text);
	m.refuse.code = 5;
	assert_int_equal(fbusi_ctl_parse(&m, sizeof m.refuse, 0, &out, &err),
	                 FBUSI_CTL_REFUSE);
	assert_int_equal(strlen(out.refuse.text), sizeof m.refuse.text - 1);
	assert_true(out.refuse.code < 0);
}

static void
test_strerror(void **state)
{
	(void)state;
	assert_string_equal(fbus_strerror(0), "success");
	assert_non_null(strstr(fbus_strerror(FBUS_EDISCONNECTED), "producer"));
	assert_non_null(fbus_strerror(-12345));
	assert_int_equal(FBUS_ETIMEDOUT, -ETIMEDOUT);
}

static void
test_entry_pack(void **state)
{
	uint64_t e = fbusi_entry_pack(123456789, 0x1ff, 65535);
	(void)state;
	assert_int_equal(e >> 24, 123456789);
	assert_int_equal((e >> 16) & 0xff, 0xff);
	assert_int_equal(e & 0xffff, 65535);
}

/* FBUS_SUB_PREDICT's learner: a steady 10 Hz source gives a window around
 * the next commit of at most 1% of the period; a jittery one, a rate
 * change or a restarted producer gives none until it is learned again. */
static void
test_predict(void **state)
{
	const int64_t P = 100000000, t0 = 5000000000;
	struct fbusi_predict p = { 0 };
	int64_t a, b, jit[] = { 40000, -30000, 10000, -50000, 20000, 0 };

	(void)state;
	assert_false(fbusi_predict_window(&p, t0, &a, &b));
	for (int i = 0; i <= 8; i++) {
		assert_false(fbusi_predict_window(&p, t0 + i * P, &a, &b));
		fbusi_predict_learn(&p, 10 + i, t0 + i * P + jit[i % 6]);
	}
	/* due at t0 + 9P: the window holds it, within 1% of P */
	assert_true(fbusi_predict_window(&p, t0 + 8 * P + P / 2, &a, &b));
	assert_true(a < t0 + 9 * P && b > t0 + 9 * P);
	assert_true(b - a <= P / 100);
	/* past that window already: the one after it (latest mode skips) */
	assert_true(fbusi_predict_window(&p, t0 + 9 * P + P / 10, &a, &b));
	assert_true(a < t0 + 10 * P && b > t0 + 10 * P);
	/* a frame skipped: the interval per frame is still P */
	fbusi_predict_learn(&p, 20, t0 + 10 * P);
	assert_true(fbusi_predict_window(&p, t0 + 10 * P + 1000, &a, &b));
	assert_true(a < t0 + 11 * P && b > t0 + 11 * P);
	/* the rate halves: no window until the new one is learned */
	fbusi_predict_learn(&p, 21, t0 + 10 * P + P / 3);
	assert_false(fbusi_predict_window(&p, t0 + 10 * P + P / 2, &a, &b));
	/* a restarted producer (seq from 1): learned afresh */
	fbusi_predict_learn(&p, 1, t0 + 20 * P);
	assert_false(fbusi_predict_window(&p, t0 + 20 * P + 1000, &a, &b));
	/* jitter of a third of the period: never steady enough */
	p = (struct fbusi_predict){ 0 };
	for (int i = 0; i < 40; i++)
		fbusi_predict_learn(&p, 1 + i, t0 + i * P + (i % 2) * P / 3);
	assert_false(fbusi_predict_window(&p, t0 + 40 * P, &a, &b));
	/* too fast to predict (10 kHz): the adaptive spin's job */
	p = (struct fbusi_predict){ 0 };
	for (int i = 0; i < 40; i++)
		fbusi_predict_learn(&p, 1 + i, t0 + i * 100000);
	assert_false(fbusi_predict_window(&p, t0 + 40 * 100000, &a, &b));
}

/* The fit scale is the largest 1/N whose picture still fills the box;
 * the shrink averages N x N blocks, edge blocks over what they have, and
 * agrees with the plain sum for every shift and pixel size. */
static void
test_shrink(void **state)
{
	enum { W = 21, H = 13, S = W * 4 + 5 };
	uint8_t src[H * S], dst[H * S];
	uint16_t acc[W * 4];

	(void)state;
	assert_int_equal(fbusi_fit_shift(0, 0, 1920, 1080), 0);
	assert_int_equal(fbusi_fit_shift(416, 416, 1920, 1080), 2);
	assert_int_equal(fbusi_fit_shift(100, 100, 1920, 1080), 3);
	assert_int_equal(fbusi_fit_shift(1920, 1080, 1920, 1080), 0);
	assert_int_equal(fbusi_fit_shift(960, 2000, 1920, 1080), 1);
	assert_int_equal(fbusi_fit_shift(16, 16, 32, 32), 1);
	for (size_t i = 0; i < sizeof src; i++)
		src[i] = (uint8_t)(i * 37 + (i >> 3));
	for (uint32_t bpp = 1; bpp <= 4; bpp++)
		for (uint32_t shift = 1; shift <= 3; shift++) {
			uint32_t n = 1u << shift, ow = (W + n - 1) / n,
			         oh = (H + n - 1) / n;

			memset(dst, 0, sizeof dst);
			fbusi_shrink(src, S, W, H, bpp, shift, dst, S, acc);
			for (uint32_t y = 0; y < oh; y++)
				for (uint32_t x = 0; x < ow; x++)
					for (uint32_t c = 0; c < bpp; c++) {
						uint32_t sum = 0, cnt = 0;

						for (uint32_t yy = y * n; yy < H && yy < y * n + n; yy++)
							for (uint32_t xx = x * n; xx < W && xx < x * n + n; xx++, cnt++)
								sum += src[yy * S + xx * bpp + c];
						assert_int_equal(dst[y * S + x * bpp + c],
						                 (sum + cnt / 2) / cnt);
					}
			/* nothing written past each row */
			for (uint32_t y = 0; y < oh; y++)
				for (uint32_t i = ow * bpp; i < S; i++)
					assert_int_equal(dst[y * S + i], 0);
		}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_packed),
		cmocka_unit_test(test_layout_planar),
		cmocka_unit_test(test_layout_rejects),
		cmocka_unit_test(test_pixfmt_names),
		cmocka_unit_test(test_uri),
		cmocka_unit_test(test_ctl_parse),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_entry_pack),
		cmocka_unit_test(test_predict),
		cmocka_unit_test(test_shrink),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

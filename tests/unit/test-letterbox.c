/* SPDX-License-Identifier: MIT */
/*
 * test-letterbox.c — pre-processing from frame planes into the NCHW blob
 * against hand-computed values: identity copies with the channel order of
 * each packed format, padding placement, a 2x bilinear downscale, row
 * strides, the YUV formats' colour conversion, and the error cases.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "letterbox.h"

#define NEARF(a, b, tol) assert_true(fabsf((float)(a) - (float)(b)) <= (tol))

struct fixture {
	struct fbus_format fmt;
	uint8_t *data;
	float *blob;
	struct letterbox lb;
	struct letterbox_ws ws;
};

static void
setup(struct fixture *f, uint32_t pixfmt, int w, int h, uint32_t stride0,
      int dw, int dh)
{
	memset(f, 0, sizeof *f);
	f->fmt.pixfmt = pixfmt;
	f->fmt.width = (uint32_t)w;
	f->fmt.height = (uint32_t)h;
	f->fmt.stride[0] = stride0;
	assert_int_equal(fbus_format_layout(&f->fmt), 0);
	f->data = calloc(1, f->fmt.size);
	f->blob = calloc((size_t)3 * dw * dh, sizeof(float));
	assert_non_null(f->data);
	assert_non_null(f->blob);
	letterbox_geometry(&f->lb, w, h, dw, dh, LETTERBOX_DARKNET);
}

static void
teardown(struct fixture *f)
{
	free(f->data);
	free(f->blob);
	letterbox_ws_free(&f->ws);
}

/* blob value of channel c (0 R, 1 G, 2 B) at (x, y) */
static float
at(const struct fixture *f, int c, int x, int y)
{
	size_t plane = (size_t)f->lb.dst_w * f->lb.dst_h;

	return f->blob[c * plane + (size_t)y * f->lb.dst_w + x];
}

static void
check_identity(uint32_t pixfmt, int bpp, int ro, int go, int bo)
{
	struct fixture f;

	setup(&f, pixfmt, 32, 32, 0, 32, 32);
	for (uint32_t i = 0; i < f.fmt.size; i++)
		f.data[i] = (uint8_t)(i * 31 + 7);
	assert_int_equal(letterbox_fill(&f.lb, &f.fmt, f.data, 0.5f, f.blob,
	                                &f.ws), 0);
	for (int y = 0; y < 32; y++) {
		for (int x = 0; x < 32; x++) {
			const uint8_t *p = f.data + y * f.fmt.stride[0] + x * bpp;

			NEARF(at(&f, 0, x, y), p[ro] / 255.0f, 1e-6f);
			NEARF(at(&f, 1, x, y), p[go] / 255.0f, 1e-6f);
			NEARF(at(&f, 2, x, y), p[bo] / 255.0f, 1e-6f);
		}
	}
	teardown(&f);
}

static void
test_identity_packed(void **state)
{
	(void)state;
	check_identity(FBUS_PIXFMT_BGR24, 3, 2, 1, 0);
	check_identity(FBUS_PIXFMT_RGB24, 3, 0, 1, 2);
	check_identity(FBUS_PIXFMT_BGRA, 4, 2, 1, 0);
	check_identity(FBUS_PIXFMT_GRAY8, 1, 0, 0, 0);
}

static void
test_padding(void **state)
{
	struct fixture f;

	(void)state;
	/* 64x32 grey 100 into 64x64: 16 rows of padding above and below. */
	setup(&f, FBUS_PIXFMT_GRAY8, 64, 32, 0, 64, 64);
	memset(f.data, 100, f.fmt.size);
	assert_int_equal(f.lb.pad_y, 16);
	assert_int_equal(letterbox_fill(&f.lb, &f.fmt, f.data, 0.25f, f.blob,
	                                &f.ws), 0);
	for (int y = 0; y < 64; y++) {
		float want = (y < 16 || y >= 48) ? 0.25f : 100 / 255.0f;

		for (int c = 0; c < 3; c++) {
			NEARF(at(&f, c, 0, y), want, 1e-6f);
			NEARF(at(&f, c, 63, y), want, 1e-6f);
		}
	}
	teardown(&f);

	/* Tall: 16x64 into 64x64 → 16 wide, 24 columns each side. */
	setup(&f, FBUS_PIXFMT_GRAY8, 16, 64, 0, 64, 64);
	memset(f.data, 200, f.fmt.size);
	assert_int_equal(letterbox_fill(&f.lb, &f.fmt, f.data, 0.5f, f.blob,
	                                &f.ws), 0);
	NEARF(at(&f, 0, 23, 10), 0.5f, 1e-6f);
	NEARF(at(&f, 0, 24, 10), 200 / 255.0f, 1e-6f);
	NEARF(at(&f, 0, 39, 10), 200 / 255.0f, 1e-6f);
	NEARF(at(&f, 0, 40, 10), 0.5f, 1e-6f);
	teardown(&f);
}

static void
test_downscale_2x(void **state)
{
	struct fixture f;
	/* 4x4 grey; a 2x2 output samples at 0.5 and 2.5: the mean of each
	 * 2x2 block. */
	static const uint8_t px[16] = {
		0, 10, 20, 30,
		40, 50, 60, 70,
		80, 90, 100, 110,
		120, 130, 140, 150,
	};

	(void)state;
	setup(&f, FBUS_PIXFMT_GRAY8, 4, 4, 0, 2, 2);
	memcpy(f.data, px, 16);
	assert_int_equal(letterbox_fill(&f.lb, &f.fmt, f.data, 0, f.blob,
	                                &f.ws), 0);
	NEARF(at(&f, 0, 0, 0), 25 / 255.0f, 1e-5f);  /* 0 10 40 50 */
	NEARF(at(&f, 0, 1, 0), 45 / 255.0f, 1e-5f);  /* 20 30 60 70 */
	NEARF(at(&f, 0, 0, 1), 105 / 255.0f, 1e-5f); /* 80 90 120 130 */
	NEARF(at(&f, 0, 1, 1), 125 / 255.0f, 1e-5f);
	teardown(&f);
}

static void
test_upscale_edges(void **state)
{
	struct fixture f;

	(void)state;
	/* 2x1 → 4x2: samples at -0.25 (clamped to 0), 0.25, 0.75, 1.25
	 * (clamped to 1) of a ramp 0 → 200. */
	setup(&f, FBUS_PIXFMT_GRAY8, 2, 1, 0, 4, 2);
	f.data[0] = 0;
	f.data[1] = 200;
	assert_int_equal(letterbox_fill(&f.lb, &f.fmt, f.data, 0, f.blob,
	                                &f.ws), 0);
	NEARF(at(&f, 1, 0, 0), 0, 1e-5f);
	NEARF(at(&f, 1, 1, 0), 50 / 255.0f, 1e-5f);
	NEARF(at(&f, 1, 2, 0), 150 / 255.0f, 1e-5f);
	NEARF(at(&f, 1, 3, 1), 200 / 255.0f, 1e-5f);
	teardown(&f);
}

static void
test_stride(void **state)
{
	struct fixture f;

	(void)state;
	/* BGR24 8x4 with 40-byte rows (16 bytes of junk at each end). */
	setup(&f, FBUS_PIXFMT_BGR24, 8, 4, 40, 8, 4);
	memset(f.data, 0xEE, f.fmt.size);
	for (int y = 0; y < 4; y++)
		for (int x = 0; x < 8; x++) {
			uint8_t *p = f.data + y * 40 + x * 3;

			p[0] = (uint8_t)(x * 10);     /* B */
			p[1] = (uint8_t)(y * 20);     /* G */
			p[2] = (uint8_t)(x + y * 8);  /* R */
		}
	assert_int_equal(letterbox_fill(&f.lb, &f.fmt, f.data, 0, f.blob,
	                                &f.ws), 0);
	for (int y = 0; y < 4; y++)
		for (int x = 0; x < 8; x++) {
			NEARF(at(&f, 0, x, y), (x + y * 8) / 255.0f, 1e-6f);
			NEARF(at(&f, 1, x, y), (y * 20) / 255.0f, 1e-6f);
			NEARF(at(&f, 2, x, y), (x * 10) / 255.0f, 1e-6f);
		}
	teardown(&f);
}

/* Fill a YUV frame with one colour. */
static void
fill_yuv(struct fixture *f, uint8_t y, uint8_t u, uint8_t v)
{
	const struct fbus_format *m = &f->fmt;
	int w = (int)m->width, h = (int)m->height;

	for (int r = 0; r < h; r++) {
		uint8_t *row = f->data + m->offset[0] + r * m->stride[0];

		if (m->pixfmt == FBUS_PIXFMT_YUYV) {
			for (int x = 0; x < w; x += 2) {
				row[2 * x] = y;
				row[2 * x + 1] = u;
				row[2 * x + 2] = y;
				row[2 * x + 3] = v;
			}
		} else {
			memset(row, y, (size_t)w);
		}
	}
	for (int r = 0; r < h / 2; r++) {
		if (m->pixfmt == FBUS_PIXFMT_NV12) {
			uint8_t *row = f->data + m->offset[1] + r * m->stride[1];

			for (int x = 0; x < w / 2; x++)
				row[2 * x] = u, row[2 * x + 1] = v;
		} else if (m->pixfmt == FBUS_PIXFMT_I420) {
			memset(f->data + m->offset[1] + r * m->stride[1], u,
			       (size_t)w / 2);
			memset(f->data + m->offset[2] + r * m->stride[2], v,
			       (size_t)w / 2);
		}
	}
}

static void
check_colour(uint32_t pixfmt, uint8_t y, uint8_t u, uint8_t v, float r,
             float g, float b)
{
	struct fixture f;

	/* 32x16 into 16x16: scaled, padded and converted at once. */
	setup(&f, pixfmt, 32, 16, 0, 16, 16);
	fill_yuv(&f, y, u, v);
	assert_int_equal(letterbox_fill(&f.lb, &f.fmt, f.data, 0.5f, f.blob,
	                                &f.ws), 0);
	NEARF(at(&f, 0, 5, 3), 0.5f, 1e-6f); /* padding rows 0..3 */
	for (int yy = 4; yy < 12; yy++)
		for (int x = 0; x < 16; x++) {
			NEARF(at(&f, 0, x, yy), r, 0.01f);
			NEARF(at(&f, 1, x, yy), g, 0.01f);
			NEARF(at(&f, 2, x, yy), b, 0.01f);
		}
	teardown(&f);
}

static void
test_yuv(void **state)
{
	static const uint32_t fmts[] = { FBUS_PIXFMT_NV12, FBUS_PIXFMT_I420,
		                         FBUS_PIXFMT_YUYV };

	(void)state;
	for (int i = 0; i < 3; i++) {
		/* BT.601 limited range: black, white, and
		 * Y=81 U=90 V=240 ≈ pure red (255, 0, 0). */
		check_colour(fmts[i], 16, 128, 128, 0, 0, 0);
		check_colour(fmts[i], 235, 128, 128, 1, 1, 1);
		check_colour(fmts[i], 81, 90, 240, 1.0f, 0.0f, 0.0f);
		/* Y=145 U=54 V=34 ≈ green (0, 255, 0), within rounding. */
		check_colour(fmts[i], 145, 54, 34, 0.0f, 1.0f, 0.0f);
	}
}

static void
test_chroma_sampling(void **state)
{
	struct fixture f;

	(void)state;
	/* I420 8x2 where the left half is red and the right half blue in
	 * chroma; at 1:1 the outermost columns take their block's colour. */
	setup(&f, FBUS_PIXFMT_I420, 8, 2, 0, 8, 2);
	fill_yuv(&f, 81, 90, 240);
	f.data[f.fmt.offset[1] + 2] = 240; /* U, blue-ish on the right */
	f.data[f.fmt.offset[1] + 3] = 240;
	f.data[f.fmt.offset[2] + 2] = 110;
	f.data[f.fmt.offset[2] + 3] = 110;
	assert_int_equal(letterbox_fill(&f.lb, &f.fmt, f.data, 0, f.blob,
	                                &f.ws), 0);
	assert_true(at(&f, 0, 0, 0) > 0.9f); /* red on the left */
	assert_true(at(&f, 2, 7, 0) > 0.9f); /* blue on the right */
	assert_true(at(&f, 2, 0, 0) < 0.1f);
	teardown(&f);
}

static void
test_errors(void **state)
{
	struct fixture f;

	(void)state;
	setup(&f, FBUS_PIXFMT_BGR24, 8, 8, 0, 8, 8);
	assert_true(letterbox_supported(FBUS_PIXFMT_NV12));
	assert_false(letterbox_supported(FBUS_PIXFMT_ENCODED));
	assert_false(letterbox_supported(0));
	f.fmt.pixfmt = FBUS_PIXFMT_ENCODED;
	assert_int_equal(letterbox_fill(&f.lb, &f.fmt, f.data, 0, f.blob,
	                                &f.ws), FBUS_ENOTSUP);
	f.fmt.pixfmt = FBUS_PIXFMT_BGR24;
	f.fmt.width = 6; /* geometry made for 8 */
	assert_int_equal(letterbox_fill(&f.lb, &f.fmt, f.data, 0, f.blob,
	                                &f.ws), FBUS_EINVAL);
	teardown(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_packed),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_downscale_2x),
		cmocka_unit_test(test_upscale_edges),
		cmocka_unit_test(test_stride),
		cmocka_unit_test(test_yuv),
		cmocka_unit_test(test_chroma_sampling),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

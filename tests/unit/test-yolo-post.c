/* SPDX-License-Identifier: MIT */
/*
 * test-yolo-post.c — YOLO post-processing against hand-computed cases:
 * output-layout detection, box decoding for the Darknet, YOLOv5 and
 * YOLOv8 layouts, IoU and NMS, letterbox geometry and the mapping back to
 * source pixels; plus the cfg weight counter and the names file reader.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "darknet_cfg.h"
#include "names.h"
#include "letterbox.h"
#include "yolo_post.h"

#define NEAR(a, b) assert_true(fabsf((float)(a) - (float)(b)) < 1e-3f)

static struct det_tensor
tensor(const float *data, int nd, int d0, int d1, int d2)
{
	struct det_tensor t = { .data = data, .ndims = nd };

	t.dims[0] = d0;
	t.dims[1] = d1;
	t.dims[2] = d2;
	return t;
}

static void
test_layout_detection(void **state)
{
	struct det_tensor o[2];
	char err[256];
	int layout, nc;

	(void)state;
	/* YOLOv3: two yolo layers of 13x13x3 and 26x26x3 rows, 85 wide. */
	o[0] = tensor(NULL, 2, 507, 85, 0);
	o[1] = tensor(NULL, 2, 2028, 85, 0);
	assert_int_equal(yolo_detect_layout(o, 2, 1, &layout, &nc, err,
	                                    sizeof err), 0);
	assert_int_equal(layout, YOLO_LAYOUT_DARKNET);
	assert_int_equal(nc, 80);
	assert_int_equal(yolo_rows(layout, &o[1]), 2028);

	o[0] = tensor(NULL, 3, 1, 25200, 85);
	assert_int_equal(yolo_detect_layout(o, 1, 0, &layout, &nc, err,
	                                    sizeof err), 0);
	assert_int_equal(layout, YOLO_LAYOUT_V5);
	assert_int_equal(nc, 80);
	assert_int_equal(yolo_rows(layout, &o[0]), 25200);

	o[0] = tensor(NULL, 3, 1, 84, 8400);
	assert_int_equal(yolo_detect_layout(o, 1, 0, &layout, &nc, err,
	                                    sizeof err), 0);
	assert_int_equal(layout, YOLO_LAYOUT_V8);
	assert_int_equal(nc, 80);
	assert_int_equal(yolo_rows(layout, &o[0]), 8400);

	/* A 4-D feature map (a cfg without yolo layers) is refused, and
	 * the message names the shape. */
	o[0] = tensor(NULL, 4, 1, 255, 13);
	o[0].dims[3] = 13;
	assert_int_equal(yolo_detect_layout(o, 1, 1, &layout, &nc, err,
	                                    sizeof err), FBUS_ENOTSUP);
	assert_non_null(strstr(err, "1x255x13x13"));
	assert_non_null(strstr(err, "unsupported output layout"));
	assert_int_equal(yolo_detect_layout(o, 1, 0, &layout, &nc, err,
	                                    sizeof err), FBUS_ENOTSUP);

	/* Segmentation exports: box rows end with 32 mask coefficients,
	 * the prototypes are a 4-D second output; the classes are 80. */
	o[0] = tensor(NULL, 3, 1, 116, 8400);
	o[1] = tensor(NULL, 4, 1, 32, 160);
	o[1].dims[3] = 160;
	assert_int_equal(yolo_detect_layout(o, 2, 0, &layout, &nc, err,
	                                    sizeof err), 0);
	assert_int_equal(layout, YOLO_LAYOUT_V8);
	assert_int_equal(nc, 80);
	o[0] = tensor(NULL, 3, 1, 25200, 117);
	assert_int_equal(yolo_detect_layout(o, 2, 0, &layout, &nc, err,
	                                    sizeof err), 0);
	assert_int_equal(layout, YOLO_LAYOUT_V5);
	assert_int_equal(nc, 80);

	/* Two box outputs: which one is meant is not a guess to make. */
	o[0] = tensor(NULL, 3, 1, 84, 8400);
	o[1] = tensor(NULL, 3, 1, 84, 2100);
	assert_int_equal(yolo_detect_layout(o, 2, 0, &layout, &nc, err,
	                                    sizeof err), FBUS_ENOTSUP);
	assert_non_null(strstr(err, "two box outputs (1x84x8400 and 1x84x2100)"));

	/* Darknet heads that disagree on the class count. */
	o[0] = tensor(NULL, 2, 507, 85, 0);
	o[1] = tensor(NULL, 2, 2028, 25, 0);
	assert_int_equal(yolo_detect_layout(o, 2, 1, &layout, &nc, err,
	                                    sizeof err), FBUS_ENOTSUP);
	assert_int_equal(yolo_detect_layout(o, 0, 0, &layout, &nc, err,
	                                    sizeof err), FBUS_ENOTSUP);
}

static void
test_decode_darknet(void **state)
{
	/* C = 2: cx cy w h obj c0 c1 (OpenCV folded obj into c0, c1). */
	static const float rows[] = {
		0.5f, 0.5f, 0.25f, 0.5f, 0.9f, 0.1f, 0.8f,
		0.1f, 0.1f, 0.1f, 0.1f, 0.3f, 0.2f, 0.1f, /* below conf */
		0.25f, 0.75f, 0.5f, 0.25f, 0.7f, 0.6f, 0.0f,
	};
	struct det_tensor t = tensor(rows, 2, 3, 7, 0);
	struct det_box b[4];
	size_t n;

	(void)state;
	n = yolo_decode(YOLO_LAYOUT_DARKNET, &t, 2, 416, 320, 0.5f, b, 4);
	assert_int_equal(n, 2);
	/* cx 208, cy 160, w 104, h 160 in a 416x320 input. */
	NEAR(b[0].x, 156);
	NEAR(b[0].y, 80);
	NEAR(b[0].w, 104);
	NEAR(b[0].h, 160);
	NEAR(b[0].score, 0.8f);
	assert_int_equal(b[0].cls, 1);
	/* cx 104, cy 240, w 208, h 80. */
	NEAR(b[1].x, 0);
	NEAR(b[1].y, 200);
	NEAR(b[1].w, 208);
	NEAR(b[1].h, 80);
	NEAR(b[1].score, 0.6f);
	assert_int_equal(b[1].cls, 0);

	/* The capacity is respected. */
	assert_int_equal(yolo_decode(YOLO_LAYOUT_DARKNET, &t, 2, 416, 320,
	                             0.5f, b, 1), 1);
}

static void
test_decode_v5(void **state)
{
	/* [1, 2, 7]: pixels, objectness, raw class probabilities. */
	static const float rows[] = {
		320, 240, 100, 50, 0.8f, 0.5f, 0.9f,
		100, 100, 20, 20, 0.4f, 0.9f, 0.1f, /* 0.36 < 0.4 */
	};
	struct det_tensor t = tensor(rows, 3, 1, 2, 7);
	struct det_box b[2];

	(void)state;
	assert_int_equal(yolo_decode(YOLO_LAYOUT_V5, &t, 2, 640, 640, 0.4f,
	                             b, 2), 1);
	NEAR(b[0].x, 270);
	NEAR(b[0].y, 215);
	NEAR(b[0].w, 100);
	NEAR(b[0].h, 50);
	NEAR(b[0].score, 0.72f);
	assert_int_equal(b[0].cls, 1);
	assert_int_equal(yolo_decode(YOLO_LAYOUT_V5, &t, 2, 640, 640, 0.3f,
	                             b, 2), 2);
	NEAR(b[1].score, 0.36f);
	assert_int_equal(b[1].cls, 0);
}

static void
test_decode_v5_seg(void **state)
{
	/* [1, 2, 5 + 2 + 3]: a segmentation export's rows carry 3 mask
	 * coefficients after the 2 classes; the second row must be read
	 * at its own start, not 7 floats in. */
	static const float rows[] = {
		320, 240, 100, 50, 0.8f, 0.5f, 0.9f, 9, 9, 9,
		100, 100, 20, 20, 0.9f, 0.9f, 0.1f, 9, 9, 9,
	};
	struct det_tensor t = tensor(rows, 3, 1, 2, 10);
	struct det_box b[2];

	(void)state;
	assert_int_equal(yolo_decode(YOLO_LAYOUT_V5, &t, 2, 640, 640, 0.5f,
	                             b, 2), 2);
	NEAR(b[0].score, 0.72f);
	assert_int_equal(b[0].cls, 1);
	NEAR(b[1].x, 90);
	NEAR(b[1].score, 0.81f);
	assert_int_equal(b[1].cls, 0);
}

static void
test_decode_v8(void **state)
{
	/* [1, 4+2, 3]: one column per box. */
	static const float cols[] = {
		50, 200, 300,     /* cx */
		60, 100, 400,     /* cy */
		20, 40, 10,       /* w */
		30, 80, 10,       /* h */
		0.9f, 0.1f, 0.2f, /* class 0 */
		0.3f, 0.7f, 0.1f, /* class 1 */
	};
	struct det_tensor t = tensor(cols, 3, 1, 6, 3);
	struct det_box b[3];

	(void)state;
	assert_int_equal(yolo_decode(YOLO_LAYOUT_V8, &t, 2, 640, 640, 0.5f,
	                             b, 3), 2);
	NEAR(b[0].x, 40);
	NEAR(b[0].y, 45);
	NEAR(b[0].w, 20);
	NEAR(b[0].h, 30);
	NEAR(b[0].score, 0.9f);
	assert_int_equal(b[0].cls, 0);
	NEAR(b[1].x, 180);
	NEAR(b[1].y, 60);
	NEAR(b[1].score, 0.7f);
	assert_int_equal(b[1].cls, 1);
}

/* YOLOv8/11 cut before the decode: [1, 64+C, N], 16 bins per side, the
 * boxes of the stride 8, 16, 32 grids in order. */
static void
test_decode_v8_dfl(void **state)
{
	enum { IN = 64, C = 2, N = 8 * 8 + 4 * 4 + 2 * 2, CH = 64 + C };
	static float p[CH * N];
	struct det_tensor t = tensor(p, 3, 1, CH, N);
	struct det_box b[4];
	/* a bin made certain: its logit far above the rest */
#define BIN(side, bin, row) (p[((side) * 16 + (bin)) * N + (row)] = 50.0f)

	(void)state;
	assert_int_equal(yolo_dfl_rows(IN, IN), N);
	for (size_t i = 64 * N; i < (size_t)CH * N; i++)
		p[i] = -10.0f; /* class logits: nothing */
	/* stride 8, cell (1, 1): anchor (12, 12); left 2, top 1, right 3,
	 * bottom 0 cells */
	BIN(0, 2, 9);
	BIN(1, 1, 9);
	BIN(2, 3, 9);
	BIN(3, 0, 9);
	p[(64 + 1) * N + 9] = 2.0f; /* class 1, sigmoid 0.881 */
	/* stride 16, cell (3, 2): anchor (56, 40); 1 cell each side */
	for (int side = 0; side < 4; side++)
		BIN(side, 1, 64 + 2 * 4 + 3);
	p[64 * N + 64 + 2 * 4 + 3] = 1.0f; /* class 0, sigmoid 0.731 */
#undef BIN
	assert_int_equal(yolo_decode(YOLO_LAYOUT_V8_DFL, &t, C, IN, IN, 0.5f,
	                             b, 4), 2);
	NEAR(b[0].x, -4);
	NEAR(b[0].y, 4);
	NEAR(b[0].w, 40);
	NEAR(b[0].h, 8);
	NEAR(b[0].score, 0.8808f);
	assert_int_equal(b[0].cls, 1);
	NEAR(b[1].x, 40);
	NEAR(b[1].y, 24);
	NEAR(b[1].w, 32);
	NEAR(b[1].h, 32);
	NEAR(b[1].score, 0.7311f);
	assert_int_equal(b[1].cls, 0);
	/* the threshold is the score's: 0.75 keeps only the first */
	assert_int_equal(yolo_decode(YOLO_LAYOUT_V8_DFL, &t, C, IN, IN, 0.75f,
	                             b, 4), 1);
}

static void
test_iou(void **state)
{
	struct det_box a = { 0, 0, 10, 10, 1, 0 };
	struct det_box b = { 5, 5, 10, 10, 1, 0 };
	struct det_box c = { 10, 0, 10, 10, 1, 0 };
	struct det_box e = { 3, 3, 0, 0, 1, 0 };

	(void)state;
	/* 25 / (100 + 100 - 25) */
	NEAR(det_box_iou(&a, &b), 25.0f / 175.0f);
	NEAR(det_box_iou(&a, &a), 1.0f);
	NEAR(det_box_iou(&a, &c), 0.0f); /* touching edges */
	NEAR(det_box_iou(&a, &e), 0.0f);
}

static void
test_nms(void **state)
{
	struct det_box b[] = {
		{ 0, 0, 10, 10, 0.9f, 0 },   /* A */
		{ 1, 1, 10, 10, 0.8f, 0 },   /* B: IoU(A) = 81/119 */
		{ 1, 1, 10, 10, 0.7f, 1 },   /* C: other class, kept */
		{ 20, 20, 10, 10, 0.95f, 0 },/* D: far away, kept */
		{ 5, 0, 10, 10, 0.85f, 0 },  /* E: IoU(A) = 50/150 */
	};
	size_t n;

	(void)state;
	n = yolo_nms(b, 5, 0.45f);
	assert_int_equal(n, 4);
	NEAR(b[0].score, 0.95f); /* D */
	NEAR(b[1].score, 0.9f);  /* A */
	NEAR(b[2].score, 0.85f); /* E survives 0.45 */
	NEAR(b[3].score, 0.7f);  /* C */

	/* A lower threshold also removes E. */
	struct det_box b2[] = {
		{ 0, 0, 10, 10, 0.9f, 0 },
		{ 5, 0, 10, 10, 0.85f, 0 },
	};
	assert_int_equal(yolo_nms(b2, 2, 0.3f), 1);
	assert_int_equal(yolo_nms(b2, 0, 0.3f), 0);

	/* Equal scores keep their input order. */
	struct det_box b3[] = {
		{ 0, 0, 1, 1, 0.5f, 3 },
		{ 50, 0, 1, 1, 0.5f, 4 },
	};
	assert_int_equal(yolo_nms(b3, 2, 0.5f), 2);
	assert_int_equal(b3[0].cls, 3);
	assert_int_equal(b3[1].cls, 4);
}

/* The per-class chains keep exactly what comparing every kept box would:
 * random boxes of 3 classes, ties in score, some NaN or empty, against a
 * plain greedy NMS over det_box_iou. */
static void
test_nms_matches_plain(void **state)
{
	enum { N = 600 };
	static struct det_box in[N], got[N], want[N];
	uint32_t x = 12345;

	(void)state;
	for (int round = 0; round < 20; round++) {
		size_t kept = 0, n;

		for (int i = 0; i < N; i++) {
			x = x * 1664525u + 1013904223u;
			in[i] = (struct det_box){
				.x = (float)(x % 400), .y = (float)((x >> 9) % 300),
				.w = (float)(1 + (x >> 3) % 90),
				.h = (float)(1 + (x >> 13) % 90),
				.score = (float)((x >> 20) % 50) / 50.0f,
				.cls = (int)((x >> 27) % 3),
			};
			if (i % 97 == 0)
				in[i].w = NAN;
			if (i % 89 == 0)
				in[i].h = 0;
		}
		/* the plain greedy NMS: best score first, input order on ties */
		{
			static bool used[N];

			memset(used, 0, sizeof used);
			for (;;) {
				int best = -1, drop = 0;

				for (int i = 0; i < N; i++)
					if (!used[i] && (best < 0 || in[i].score > in[best].score))
						best = i;
				if (best < 0)
					break;
				used[best] = true;
				for (size_t k = 0; k < kept && !drop; k++)
					drop = want[k].cls == in[best].cls &&
					       det_box_iou(&want[k], &in[best]) > 0.45;
				if (!drop)
					want[kept++] = in[best];
			}
		}
		memcpy(got, in, sizeof in);
		n = yolo_nms(got, N, 0.45f);
		assert_int_equal(n, kept);
		assert_memory_equal(got, want, n * sizeof *got);
	}
}

static void
test_letterbox_geometry(void **state)
{
	struct letterbox lb;

	(void)state;
	/* 1920x1080 into 416: 416 x 1080*416/1920 = 234, 91 rows above. */
	letterbox_geometry(&lb, 1920, 1080, 416, 416, LETTERBOX_DARKNET);
	assert_int_equal(lb.new_w, 416);
	assert_int_equal(lb.new_h, 234);
	assert_int_equal(lb.pad_x, 0);
	assert_int_equal(lb.pad_y, 91);

	letterbox_geometry(&lb, 480, 640, 416, 416, LETTERBOX_DARKNET);
	assert_int_equal(lb.new_w, 312);
	assert_int_equal(lb.new_h, 416);
	assert_int_equal(lb.pad_x, 52);
	assert_int_equal(lb.pad_y, 0);

	/* Same size: identity. */
	letterbox_geometry(&lb, 416, 416, 416, 416, LETTERBOX_DARKNET);
	assert_int_equal(lb.new_w, 416);
	assert_int_equal(lb.pad_x, 0);
	assert_int_equal(lb.pad_y, 0);

	/* Upscaling a small frame, non-square input. */
	letterbox_geometry(&lb, 160, 120, 640, 320, LETTERBOX_DARKNET);
	assert_int_equal(lb.new_w, 426); /* 160 * 320 / 120 = 426.67 */
	assert_int_equal(lb.new_h, 320);
	assert_int_equal(lb.pad_x, 107);

	/* Ultralytics rounds where Darknet truncates: 512 * 640/773 =
	 * 423.9; 422.5 rounds to even (Python's round). */
	letterbox_geometry(&lb, 773, 512, 640, 640, LETTERBOX_DARKNET);
	assert_int_equal(lb.new_h, 423);
	assert_int_equal(lb.pad_y, 108);
	letterbox_geometry(&lb, 773, 512, 640, 640, LETTERBOX_ULTRALYTICS);
	assert_int_equal(lb.new_w, 640);
	assert_int_equal(lb.new_h, 424);
	assert_int_equal(lb.pad_y, 108);
	letterbox_geometry(&lb, 1280, 845, 640, 640, LETTERBOX_ULTRALYTICS);
	assert_int_equal(lb.new_h, 422);
	letterbox_geometry(&lb, 1280, 847, 640, 640, LETTERBOX_ULTRALYTICS);
	assert_int_equal(lb.new_h, 424);
}

static void
test_letterbox_unmap(void **state)
{
	struct letterbox lb;
	struct det_box b[3] = {
		/* The whole picture area of the input. */
		{ 0, 91, 416, 234, 1, 0 },
		/* Net (104, 117)+(52, 58.5) → source (480, 120)+(240, 270):
		 * scale 1920/416 = 4.615..., y offset 91. */
		{ 104, 117, 52, 58.5f, 1, 0 },
		/* Entirely in the padding rows: no height left. */
		{ 10, 10, 50, 40, 1, 0 },
	};

	(void)state;
	letterbox_geometry(&lb, 1920, 1080, 416, 416, LETTERBOX_DARKNET);
	letterbox_unmap(&lb, b, 3);
	NEAR(b[0].x, 0);
	NEAR(b[0].y, 0);
	NEAR(b[0].w, 1920);
	NEAR(b[0].h, 1080);
	NEAR(b[1].x, 480);
	NEAR(b[1].y, 120);
	NEAR(b[1].w, 240);
	NEAR(b[1].h, 270);
	NEAR(b[2].y, 0);
	NEAR(b[2].h, 0);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char tmpdir[512];

static void
test_names(void **state)
{
	char path[600], err[256], **names;
	int n;

	(void)state;
	snprintf(path, sizeof path, "%s/names-ok.txt", tmpdir);
	write_file(path, "circle\n  square \r\ntriangle\n\n");
	assert_int_equal(names_load(path, &names, &n, err, sizeof err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(names[1], "square");
	assert_string_equal(names[2], "triangle");
	names_free(names, n);

	snprintf(path, sizeof path, "%s/names-gap.txt", tmpdir);
	write_file(path, "a\n\nb\n");
	assert_int_equal(names_load(path, &names, &n, err, sizeof err),
	                 FBUS_EINVAL);
	assert_non_null(strstr(err, "blank line 2"));

	snprintf(path, sizeof path, "%s/names-empty.txt", tmpdir);
	write_file(path, "\n \n");
	assert_int_equal(names_load(path, &names, &n, err, sizeof err),
	                 FBUS_EINVAL);

	snprintf(path, sizeof path, "%s/does-not-exist.txt", tmpdir);
	assert_int_equal(names_load(path, &names, &n, err, sizeof err),
	                 -ENOENT);
	assert_non_null(strstr(err, "No such file"));
	assert_string_equal(names_coco[0], "person");
	assert_string_equal(names_coco[79], "toothbrush");
}

static void
test_cfg_count(void **state)
{
	static struct darknet_cfg cfg;
	char path[600], err[256];
	unsigned char v1[12] = { 0 }, v2[12] = { 0 };

	(void)state;
	/* conv 3→8 3x3 bn: 8*(1+3) + 8*27 = 248; maxpool; conv 8→4 1x1 no
	 * bn: 4 + 32 = 36; route -1,-3 = 4 + 8 = 12 channels; conv 12→2
	 * 3x3 groups=2: 2 + 2*6*9 = 110; reorg stride 2 → 8 channels;
	 * conv 8→1 1x1: 1 + 8 = 9.  Total 403. */
	snprintf(path, sizeof path, "%s/t.cfg", tmpdir);
	write_file(path, "[net]\nwidth=64\nheight=32\n\n"
	                 "[convolutional]\nbatch_normalize=1\nfilters=8\n"
	                 "size=3\n[maxpool]\nsize=2\nstride=2\n"
	                 "[convolutional]\nfilters=4\nsize=1\n"
	                 "[route]\nlayers = -1, -3\n"
	                 "[convolutional]\nfilters=2\nsize=3\ngroups=2\n"
	                 "[reorg]\nstride=2\n"
	                 "[convolutional]\nfilters=1\nsize=1\n");
	assert_int_equal(darknet_cfg_parse(path, &cfg, err, sizeof err), 0);
	assert_int_equal(cfg.width, 64);
	assert_int_equal(cfg.height, 32);
	assert_int_equal(cfg.nconv, 4);
	assert_true(cfg.sized);
	assert_int_equal(cfg.nfloats, 403);

	write_file(path, "[net]\nwidth=64\nheight=64\n[route]\nlayers=-5\n");
	assert_int_equal(darknet_cfg_parse(path, &cfg, err, sizeof err),
	                 FBUS_EINVAL);
	write_file(path, "[convolutional]\nfilters=1\n");
	assert_int_equal(darknet_cfg_parse(path, &cfg, err, sizeof err),
	                 FBUS_EINVAL);
	assert_non_null(strstr(err, "not a Darknet cfg"));

	/* Version 0.2 headers carry a 64-bit "seen", older ones 32-bit. */
	v2[4] = 2;
	v1[4] = 1;
	assert_int_equal(darknet_weights_header_bytes(v2), 20);
	assert_int_equal(darknet_weights_header_bytes(v1), 16);
	v1[3] = 0x80; /* negative major */
	assert_int_equal(darknet_weights_header_bytes(v1), 0);
}

int
main(void)
{
	const char *t = getenv("FBUS_TEST_TMP");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_detection),
		cmocka_unit_test(test_decode_darknet),
		cmocka_unit_test(test_decode_v5),
		cmocka_unit_test(test_decode_v5_seg),
		cmocka_unit_test(test_decode_v8),
		cmocka_unit_test(test_decode_v8_dfl),
		cmocka_unit_test(test_iou),
		cmocka_unit_test(test_nms),
		cmocka_unit_test(test_nms_matches_plain),
		cmocka_unit_test(test_letterbox_geometry),
		cmocka_unit_test(test_letterbox_unmap),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_cfg_count),
	};

	snprintf(tmpdir, sizeof tmpdir, "%s", t && *t ? t : "/tmp");
	return cmocka_run_group_tests(tests, NULL, NULL);
}

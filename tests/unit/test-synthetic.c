/* SPDX-License-Identifier: MIT */
/*
 * test-synthetic.c — the synthetic scene (issue #3): deterministic per
 * (seed, frame), ground truth that matches the pixels drawn, shapes that
 * look like their class, and a ground-truth codec that never trusts bytes.
 *
 * The pixel checks compare a frame with the same frame rendered without
 * objects: noise depends only on position and frame, so the difference is
 * exactly the set of object pixels, whatever the background.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "groundtruth.h"
#include "synthetic.h"

#define W 640
#define H 360

static struct fbus_format
bgr_format(uint32_t w, uint32_t h)
{
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_BGR24, .width = w,
	                         .height = h };

	assert_int_equal(fbus_format_layout(&f), 0);
	return f;
}

static uint8_t *
render(struct synth *s, uint64_t k, uint32_t flags, struct gt *gt)
{
	struct fbus_format f = bgr_format(W, H);
	uint8_t *buf = malloc(f.size);

	assert_non_null(buf);
	synth_set_flags(s, flags);
	assert_int_equal(synth_render(s, k, &f, buf, gt), 0);
	synth_set_flags(s, 0);
	return buf;
}

/* 1 where the frame differs from its object-free twin. */
static uint8_t *
object_mask(struct synth *s, uint64_t k, struct gt *gt)
{
	uint8_t *full = render(s, k, 0, gt);
	uint8_t *bg = render(s, k, SYNTH_NO_OBJECTS, NULL);
	uint8_t *mask = malloc((size_t)W * H);

	assert_non_null(mask);
	for (size_t i = 0; i < (size_t)W * H; i++)
		mask[i] = memcmp(full + 3 * i, bg + 3 * i, 3) != 0;
	free(full);
	free(bg);
	return mask;
}

static int
in_box(const struct gt_box *b, uint32_t x, uint32_t y)
{
	return x >= b->x && x < (uint32_t)b->x + b->w && y >= b->y &&
	       y < (uint32_t)b->y + b->h;
}

static void
test_deterministic(void **state)
{
	struct synth *a = synth_create(42, W, H);
	struct synth *b = synth_create(42, W, H);
	struct synth *c = synth_create(43, W, H);
	struct gt ga, gb;
	uint8_t *fa, *fb, *fc, *f0, *f1;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	/* b renders other frames first: frame 137 must not depend on them */
	free(render(b, 3, 0, NULL));
	free(render(b, 500, 0, NULL));
	fa = render(a, 137, 0, &ga);
	fb = render(b, 137, 0, &gb);
	fc = render(c, 137, 0, NULL);
	assert_memory_equal(fa, fb, (size_t)W * H * 3);
	assert_int_equal(ga.count, gb.count);
	assert_memory_equal(ga.box, gb.box, ga.count * sizeof ga.box[0]);
	assert_memory_not_equal(fa, fc, (size_t)W * H * 3);
	/* consecutive frames differ (moving scene) */
	f0 = render(a, 1000, 0, NULL);
	f1 = render(a, 1001, 0, NULL);
	assert_memory_not_equal(f0, f1, (size_t)W * H * 3);
	free(fa), free(fb), free(fc), free(f0), free(f1);
	/* the background alone moves too */
	f0 = render(a, 10, SYNTH_NO_OBJECTS | SYNTH_NO_NOISE, NULL);
	f1 = render(a, 11, SYNTH_NO_OBJECTS | SYNTH_NO_NOISE, NULL);
	assert_memory_not_equal(f0, f1, (size_t)W * H * 3);
	free(f0), free(f1);
	synth_destroy(a);
	synth_destroy(b);
	synth_destroy(c);
}

/*
 * With every drawn object reported (min visible 0): each object pixel is in
 * some box, and each box is tight — every one of its four edges holds an
 * object pixel (its own, or a nearer object's where that one covers it).
 * Then, at the default threshold, exactly the boxes at least 30 % visible
 * remain.
 */
static void
test_gt_matches_pixels(void **state)
{
	static const uint64_t frames[] = { 0, 45, 137, 600, 2999, 123456789 };
	int clipped = 0, total = 0, dropped = 0;

	(void)state;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		struct synth *s = synth_create(seed, W, H);

		assert_non_null(s);
		for (size_t fi = 0; fi < sizeof frames / sizeof frames[0]; fi++) {
			struct gt all, kept;
			uint8_t *mask;
			uint32_t j = 0;

			synth_set_min_visible(s, 0);
			mask = object_mask(s, frames[fi], &all);
			assert_int_equal(all.frame, frames[fi]);
			assert_int_equal(all.width, W);
			assert_int_equal(all.height, H);
			for (uint32_t y = 0; y < H; y++)
				for (uint32_t x = 0; x < W; x++) {
					int hit = 0;

					if (!mask[y * W + x])
						continue;
					for (uint32_t i = 0; i < all.count; i++)
						hit |= in_box(&all.box[i], x, y);
					if (!hit)
						fail_msg("seed %d frame %d: object pixel "
						         "(%u,%u) outside every box",
						         (int)seed, (int)frames[fi], x, y);
				}
			for (uint32_t i = 0; i < all.count; i++) {
				const struct gt_box *b = &all.box[i];
				int top = 0, bottom = 0, left = 0, right = 0;

				assert_true(gt_box_ok(b, W, H));
				for (uint32_t x = b->x; x < (uint32_t)b->x + b->w; x++) {
					top |= mask[b->y * W + x];
					bottom |= mask[(b->y + b->h - 1) * W + x];
				}
				for (uint32_t y = b->y; y < (uint32_t)b->y + b->h; y++) {
					left |= mask[y * W + b->x];
					right |= mask[y * W + b->x + b->w - 1];
				}
				if (!(top && bottom && left && right))
					fail_msg("box %u of frame %d is not tight", i,
					         (int)frames[fi]);
				total++;
				clipped += b->x == 0 || b->y == 0 ||
				           b->x + b->w == W || b->y + b->h == H;
			}
			free(mask);

			synth_set_min_visible(s, 300);
			free(render(s, frames[fi], 0, &kept));
			for (uint32_t i = 0; i < all.count; i++) {
				if (all.box[i].visible < 300) {
					dropped++;
					continue;
				}
				assert_true(j < kept.count);
				assert_memory_equal(&all.box[i], &kept.box[j],
				                    sizeof kept.box[0]);
				j++;
			}
			assert_int_equal(j, kept.count);
		}
		synth_destroy(s);
	}
	/* the sample covers the interesting cases */
	assert_true(total > 40);
	assert_true(clipped > 0);
	(void)dropped;
}

/* Boxes of every other object, to find objects nobody overlaps. */
static int
overlaps_other(const struct gt *gt, uint32_t i)
{
	const struct gt_box *a = &gt->box[i];

	for (uint32_t j = 0; j < gt->count; j++) {
		const struct gt_box *b = &gt->box[j];

		if (j == i)
			continue;
		if (a->x < b->x + b->w && b->x < a->x + a->w &&
		    a->y < b->y + b->h && b->y < a->y + a->h)
			return 1;
	}
	return 0;
}

/*
 * Each class looks like itself: the share of its box it fills and its
 * aspect ratio, measured on whole, unoccluded objects.  Sizes stay within
 * 3 %..20 % of the frame height; all classes, clipped boxes and dropped
 * (mostly hidden or off-frame) objects occur over a run.
 */
static void
test_classes_and_sizes(void **state)
{
	struct synth *s = synth_create(7, W, H);
	int seen[FBUS_GT_NCLASSES] = { 0 };
	int counts_differ = 0, last_count = -1, edge = 0;

	(void)state;
	assert_non_null(s);
	synth_set_min_visible(s, 0);
	for (uint64_t k = 0; k < 1800; k += 60) {
		struct gt gt;
		uint8_t *mask = object_mask(s, k, &gt);

		if (last_count >= 0 && (int)gt.count != last_count)
			counts_differ = 1;
		last_count = (int)gt.count;
		for (uint32_t i = 0; i < gt.count; i++) {
			const struct gt_box *b = &gt.box[i];
			double fill, aspect;
			uint32_t n = 0;

			if (b->x == 0 || b->y == 0 || b->x + b->w == W ||
			    b->y + b->h == H) {
				edge++;
				continue;
			}
			if (b->visible != 1000 || overlaps_other(&gt, i))
				continue;
			for (uint32_t y = b->y; y < (uint32_t)b->y + b->h; y++)
				for (uint32_t x = b->x; x < (uint32_t)b->x + b->w; x++)
					n += mask[y * W + x];
			fill = (double)n / ((double)b->w * b->h);
			aspect = (double)b->h / b->w;
			assert_true(b->w >= 0.03 * H - 2 && b->w <= 0.2 * H + 2);
			switch (b->cls) {
			case FBUS_GT_CIRCLE:
				assert_true(fill > 0.70 && fill < 0.88);
				assert_true(aspect > 0.9 && aspect < 1.1);
				break;
			case FBUS_GT_SQUARE:
				assert_true(fill > 0.97);
				assert_true(aspect > 0.9 && aspect < 1.1);
				break;
			case FBUS_GT_TRIANGLE:
				assert_true(fill > 0.40 && fill < 0.60);
				assert_true(aspect > 0.75 && aspect < 0.95);
				break;
			case FBUS_GT_CROSS:
				assert_true(fill > 0.48 && fill < 0.70);
				assert_true(aspect > 0.9 && aspect < 1.1);
				break;
			default:
				fail_msg("unknown class %u", b->cls);
			}
			seen[b->cls]++;
		}
		free(mask);
	}
	for (int c = 0; c < FBUS_GT_NCLASSES; c++)
		if (seen[c] == 0)
			fail_msg("class %s never seen whole", gt_class_name(c));
	assert_true(counts_differ);
	assert_true(edge > 0);
	synth_destroy(s);
}

static void
test_formats_and_noise(void **state)
{
	struct synth *s = synth_create(9, W, H);
	struct fbus_format rgb = { .pixfmt = FBUS_PIXFMT_RGB24, .width = W,
	                           .height = H };
	struct fbus_format bgra = { .pixfmt = FBUS_PIXFMT_BGRA, .width = W,
	                            .height = H };
	struct fbus_format padded = { .pixfmt = FBUS_PIXFMT_BGR24, .width = W,
	                              .height = H, .stride = { W * 3 + 64 } };
	struct fbus_format gray = { .pixfmt = FBUS_PIXFMT_GRAY8, .width = W,
	                            .height = H };
	struct fbus_format small = bgr_format(W / 2, H);
	uint8_t *a, *b, *p, *clean;
	long diff = 0;
	int maxd = 0;

	(void)state;
	assert_non_null(s);
	assert_int_equal(fbus_format_layout(&rgb), 0);
	assert_int_equal(fbus_format_layout(&bgra), 0);
	assert_int_equal(fbus_format_layout(&padded), 0);
	assert_int_equal(fbus_format_layout(&gray), 0);
	a = render(s, 77, 0, NULL);
	b = malloc(bgra.size);
	p = malloc(padded.size);
	assert_non_null(b);
	assert_non_null(p);

	assert_int_equal(synth_render(s, 77, &rgb, b, NULL), 0);
	for (size_t i = 0; i < (size_t)W * H; i++)
		assert_true(b[3 * i] == a[3 * i + 2] && b[3 * i + 2] == a[3 * i]);
	assert_int_equal(synth_render(s, 77, &bgra, b, NULL), 0);
	for (size_t i = 0; i < (size_t)W * H; i++) {
		assert_memory_equal(b + 4 * i, a + 3 * i, 3);
		assert_int_equal(b[4 * i + 3], 255);
	}
	/* strides are honoured and padding is left alone */
	memset(p, 0xA5, padded.size);
	assert_int_equal(synth_render(s, 77, &padded, p, NULL), 0);
	for (uint32_t y = 0; y < H; y++) {
		assert_memory_equal(p + y * padded.stride[0], a + y * W * 3, W * 3);
		for (uint32_t x = W * 3; x < padded.stride[0]; x++)
			assert_int_equal(p[y * padded.stride[0] + x], 0xA5);
	}
	assert_int_equal(synth_render(s, 77, &gray, b, NULL), FBUS_EINVAL);
	assert_int_equal(synth_render(s, 77, &small, b, NULL), FBUS_EINVAL);
	assert_false(synth_supports(FBUS_PIXFMT_NV12));
	assert_true(synth_supports(FBUS_PIXFMT_BGR24));

	/* noise is mild but present */
	clean = render(s, 77, SYNTH_NO_NOISE, NULL);
	for (size_t i = 0; i < (size_t)W * H * 3; i++) {
		int d = abs((int)a[i] - (int)clean[i]);

		diff += d;
		maxd = d > maxd ? d : maxd;
	}
	assert_true(maxd <= 3);
	assert_true((double)diff / ((double)W * H * 3) > 0.5);

	assert_null(synth_create(1, 0, 10));
	assert_null(synth_create(1, FBUS_MAX_DIM + 1, 10));
	free(a), free(b), free(p), free(clean);
	synth_destroy(s);
}

/* Tiny and odd sizes still give valid boxes. */
static void
test_small_frames(void **state)
{
	static const uint32_t sizes[][2] = { { 1, 1 }, { 17, 9 }, { 64, 48 },
	                                     { 33, 200 } };

	(void)state;
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		struct synth *s = synth_create(5, sizes[i][0], sizes[i][1]);
		struct fbus_format f = bgr_format(sizes[i][0], sizes[i][1]);
		uint8_t *buf = malloc(f.size);
		struct gt gt;
		uint8_t meta[FBUS_META_MAX];

		assert_non_null(s);
		assert_non_null(buf);
		for (uint64_t k = 0; k < 300; k += 13) {
			assert_int_equal(synth_render(s, k, &f, buf, &gt), 0);
			for (uint32_t j = 0; j < gt.count; j++)
				assert_true(gt_box_ok(&gt.box[j], f.width,
				                           f.height));
			assert_true(gt_encode(&gt, meta, sizeof meta) > 0);
		}
		free(buf);
		synth_destroy(s);
	}
}

static void
test_gt_codec(void **state)
{
	struct gt gt = { .width = 1280, .height = 720, .frame = 0x1122334455667788ull,
	                      .count = 2 };
	struct gt out;
	uint8_t buf[FBUS_META_MAX], big[FBUS_META_MAX];
	int n;

	(void)state;
	gt.box[0] = (struct gt_box){ FBUS_GT_SQUARE, 10, 20, 30, 40, 1000 };
	gt.box[1] = (struct gt_box){ FBUS_GT_CROSS, 1250, 700, 30, 20, 412 };
	n = gt_encode(&gt, buf, sizeof buf);
	assert_int_equal(n, FBUS_GT_HEADER_BYTES + 2 * FBUS_GT_BOX_BYTES);
	/* the documented layout, byte for byte */
	assert_memory_equal(buf, "FBGT\x01\x00\x18\x00\x0c\x00\x02\x00", 12);
	assert_int_equal(buf[12] | buf[13] << 8, 1280);
	assert_int_equal(buf[16], 0x88);
	assert_int_equal(buf[24 + 12], FBUS_GT_CROSS);
	assert_int_equal(buf[24 + 12 + 10] | buf[24 + 12 + 11] << 8, 412);
	assert_int_equal(gt_decode(buf, (size_t)n, &out), 0);
	assert_int_equal(out.count, 2);
	assert_int_equal(out.frame, gt.frame);
	assert_memory_equal(out.box, gt.box, 2 * sizeof gt.box[0]);

	/* every truncation is refused */
	for (int len = 0; len < n; len++)
		assert_int_equal(gt_decode(buf, (size_t)len, &out), -1);
	assert_int_equal(out.count, 0);
	/* bad magic, version, count, box outside the frame, empty box */
	buf[0] = 'X';
	assert_int_equal(gt_decode(buf, (size_t)n, &out), -1);
	buf[0] = 'F';
	buf[4] = 2;
	assert_int_equal(gt_decode(buf, (size_t)n, &out), -1);
	buf[4] = 1;
	buf[10] = 0xff, buf[11] = 0xff;
	assert_int_equal(gt_decode(buf, sizeof buf, &out), -1);
	buf[10] = 2, buf[11] = 0;
	buf[24 + 12 + 2] = 0xff; /* x = 1279 + w 30 > 1280 */
	assert_int_equal(gt_decode(buf, (size_t)n, &out), -1);
	n = gt_encode(&gt, buf, sizeof buf);
	buf[24 + 6] = 0, buf[24 + 7] = 0; /* w = 0 */
	assert_int_equal(gt_decode(buf, (size_t)n, &out), -1);
	assert_int_equal(gt_decode(NULL, 100, &out), -1);

	/* the encoder refuses what the decoder would refuse */
	gt.box[1].x = 1260;
	assert_int_equal(gt_encode(&gt, buf, sizeof buf), -1);
	gt.box[1].x = 1250;
	assert_int_equal(gt_encode(&gt, buf, 30), -1);
	gt.count = FBUS_GT_MAX_BOXES + 1;
	assert_int_equal(gt_encode(&gt, buf, sizeof buf), -1);
	gt.count = FBUS_GT_MAX_BOXES;
	for (uint32_t i = 0; i < gt.count; i++)
		gt.box[i] = gt.box[0];
	n = gt_encode(&gt, buf, sizeof buf);
	assert_true(n > 0 && n <= (int)FBUS_META_MAX);

	/* a newer writer's larger header and boxes are skipped over */
	gt.count = 2;
	gt.box[1] = (struct gt_box){ FBUS_GT_CIRCLE, 5, 6, 7, 8, 900 };
	n = gt_encode(&gt, buf, sizeof buf);
	memset(big, 0xEE, sizeof big);
	memcpy(big, buf, 24);
	big[6] = 32, big[8] = 16;
	memcpy(big + 32, buf + 24, 12);
	memcpy(big + 48, buf + 36, 12);
	assert_int_equal(gt_decode(big, 32 + 2 * 16, &out), 0);
	assert_memory_equal(out.box, gt.box, 2 * sizeof gt.box[0]);
	assert_int_equal(gt_decode(big, 32 + 2 * 16 - 1, &out), -1);

	/* random bytes with the right magic: never a crash, never a bad box */
	srand(1);
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = (size_t)(rand() % 200);

		for (size_t i = 0; i < len; i++)
			big[i] = (uint8_t)rand();
		if (len >= 8 && iter % 2) {
			memcpy(big, "FBGT\x01\x00", 6);
			big[6] = (uint8_t)(24 + rand() % 3);
			big[7] = 0;
		}
		if (gt_decode(big, len, &out) == 0)
			for (uint32_t i = 0; i < out.count; i++)
				assert_true(gt_box_ok(&out.box[i], out.width,
				                           out.height));
	}
	assert_string_equal(gt_class_name(FBUS_GT_TRIANGLE), "triangle");
	assert_null(gt_class_name(FBUS_GT_NCLASSES));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gt_codec),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_gt_matches_pixels),
		cmocka_unit_test(test_classes_and_sizes),
		cmocka_unit_test(test_formats_and_noise),
		cmocka_unit_test(test_small_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * test-eval.c — the accuracy accounting of `framebus infer` (src/detect/
 * eval.c) against hand-computed cases: IoU, the 0.5 threshold, greedy
 * matching by score, each truth box matched once, VOC all-point AP,
 * precision/recall, the mean over classes present, accumulation over
 * frames, score ties, and input it must ignore.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "eval.h"
#include "yolo_post.h"

#define NEAR(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-9)

static struct det_box
box(int cls, float x, float y, float w, float h, float score)
{
	struct det_box b = { x, y, w, h, score, cls };

	return b;
}

static struct eval *
new_eval(int nclasses)
{
	struct eval *ev = NULL;

	assert_int_equal(eval_create(&ev, nclasses), 0);
	assert_non_null(ev);
	return ev;
}

static void
test_create_args(void **state)
{
	struct eval *ev = (struct eval *)&ev;
	struct eval_class c;

	(void)state;
	assert_int_equal(eval_create(&ev, 0), FBUS_EINVAL);
	assert_null(ev);
	assert_int_equal(eval_create(&ev, 1025), FBUS_EINVAL);
	assert_int_equal(eval_create(NULL, 4), FBUS_EINVAL);
	ev = new_eval(4);
	assert_int_equal(eval_num_classes(ev), 4);
	assert_int_equal(eval_class(ev, 4, &c), FBUS_EINVAL);
	assert_int_equal(eval_class(ev, -1, &c), FBUS_EINVAL);
	assert_int_equal(eval_class(ev, 3, &c), 0);
	assert_true(c.ap < 0); /* no truth: no AP */
	eval_destroy(ev);
	eval_destroy(NULL);
}

static void
test_iou(void **state)
{
	struct det_box a = box(0, 0, 0, 10, 10, 1);
	struct det_box b;

	(void)state;
	NEAR(det_box_iou(&a, &a), 1);
	b = box(0, 10, 0, 10, 10, 1); /* touching edges: no overlap */
	NEAR(det_box_iou(&a, &b), 0);
	b = box(0, 5, 0, 10, 10, 1); /* 50 / 150 */
	NEAR(det_box_iou(&a, &b), 1.0 / 3.0);
	b = box(0, 5, 5, 10, 10, 1); /* 25 / 175 */
	NEAR(det_box_iou(&a, &b), 1.0 / 7.0);
	b = box(0, 2, 2, 4, 4, 1); /* inside: 16 / 100 */
	NEAR(det_box_iou(&a, &b), 0.16);
	b = box(0, 0, 0, 0, 10, 1); /* empty */
	NEAR(det_box_iou(&a, &b), 0);
	b = box(0, NAN, 0, 10, 10, 1);
	NEAR(det_box_iou(&a, &b), 0);
}

static void
test_perfect(void **state)
{
	struct eval *ev = new_eval(4);
	struct eval_result r;
	struct det_box gt[3] = {
		box(0, 10, 10, 20, 20, 0),
		box(1, 100, 50, 30, 40, 0),
		box(3, 300, 200, 25, 25, 0),
	};
	struct det_box det[3];

	(void)state;
	for (int i = 0; i < 3; i++) {
		det[i] = gt[2 - i];
		det[i].score = 0.9f - 0.1f * (float)i;
	}
	assert_int_equal(eval_add(ev, gt, 3, det, 3), 0);
	assert_int_equal(eval_add(ev, gt, 3, det, 3), 0);
	eval_result(ev, &r);
	assert_int_equal(r.frames, 2);
	assert_int_equal(r.n_gt, 6);
	assert_int_equal(r.tp, 6);
	assert_int_equal(r.fp, 0);
	assert_int_equal(r.classes_present, 3); /* class 2 absent */
	NEAR(r.precision, 1);
	NEAR(r.recall, 1);
	NEAR(r.map, 1);
	eval_destroy(ev);
}

/*
 * The textbook case, one class, 5 truth boxes over two frames:
 *   score 0.9 TP, 0.8 FP, 0.7 TP, 0.6 FP, 0.5 TP
 *   precision 1, 1/2, 2/3, 1/2, 3/5 at recall .2, .2, .4, .4, .6
 *   interpolated: 1 at .2, 2/3 at .4, 3/5 at .6
 *   AP = .2 * 1 + .2 * 2/3 + .2 * 3/5 = 0.45333...
 */
static void
test_voc_example(void **state)
{
	struct eval *ev = new_eval(1);
	struct eval_result r;
	struct eval_class c;
	struct det_box gt_a[2] = {
		box(0, 0, 0, 10, 10, 0),
		box(0, 100, 0, 10, 10, 0),
	};
	struct det_box gt_b[3] = {
		box(0, 0, 0, 10, 10, 0),
		box(0, 100, 0, 10, 10, 0),
		box(0, 200, 0, 10, 10, 0),
	};
	struct det_box det_a[2] = {
		box(0, 0, 0, 10, 10, 0.9f),   /* TP */
		box(0, 50, 50, 10, 10, 0.6f), /* FP: nothing there */
	};
	struct det_box det_b[3] = {
		box(0, 300, 0, 10, 10, 0.8f), /* FP */
		box(0, 101, 0, 10, 10, 0.7f), /* TP: IoU 90/110 */
		box(0, 200, 1, 10, 10, 0.5f), /* TP: IoU 90/110 */
	};

	(void)state;
	assert_int_equal(eval_add(ev, gt_a, 2, det_a, 2), 0);
	assert_int_equal(eval_add(ev, gt_b, 3, det_b, 3), 0);
	eval_result(ev, &r);
	assert_int_equal(r.n_gt, 5);
	assert_int_equal(r.tp, 3);
	assert_int_equal(r.fp, 2);
	NEAR(r.precision, 0.6);
	NEAR(r.recall, 0.6);
	NEAR(r.map, 0.2 + 0.2 * 2.0 / 3.0 + 0.2 * 0.6);
	assert_int_equal(eval_class(ev, 0, &c), 0);
	NEAR(c.ap, r.map);
	assert_int_equal(c.n_gt, 5);
	eval_destroy(ev);
}

/* IoU exactly 0.5 counts; just below does not. */
static void
test_threshold(void **state)
{
	struct eval *ev = new_eval(1);
	struct eval_result r;
	struct det_box gt = box(0, 0, 0, 10, 10, 0);
	struct det_box at = box(0, 0, 0, 20, 10, 0.9f);     /* 100/200 */
	struct det_box below = box(0, 0, 0, 20.5f, 10, 0.9f); /* 100/205 */

	(void)state;
	assert_int_equal(eval_add(ev, &gt, 1, &at, 1), 0);
	eval_result(ev, &r);
	assert_int_equal(r.tp, 1);
	assert_int_equal(eval_add(ev, &gt, 1, &below, 1), 0);
	eval_result(ev, &r);
	assert_int_equal(r.tp, 1);
	assert_int_equal(r.fp, 1);
	assert_int_equal(r.n_gt, 2);
	/* 0.9 bin: 1 TP + 1 FP -> one point, P 1/2 at R 1/2 */
	NEAR(r.map, 0.25);
	eval_destroy(ev);
}

/* A truth box is matched once: a duplicate detection is a false positive. */
static void
test_duplicate(void **state)
{
	struct eval *ev = new_eval(1);
	struct eval_result r;
	struct det_box gt = box(0, 0, 0, 10, 10, 0);
	struct det_box det[2] = {
		box(0, 0, 0, 10, 10, 0.8f),
		box(0, 1, 0, 10, 10, 0.4f),
	};

	(void)state;
	assert_int_equal(eval_add(ev, &gt, 1, det, 2), 0);
	eval_result(ev, &r);
	assert_int_equal(r.tp, 1);
	assert_int_equal(r.fp, 1);
	NEAR(r.precision, 0.5);
	NEAR(r.recall, 1);
	/* TP at 0.8 reaches recall 1 with precision 1 first. */
	NEAR(r.map, 1);
	eval_destroy(ev);
}

/*
 * Greedy by score, not by array order: the lower-scored detection lies
 * exactly on the truth box, but the higher-scored one (IoU 80/120) takes
 * it.  By score: TP at 0.9, FP at 0.6 -> AP 1, precision 1/2.  Array order
 * would give FP at 0.9, TP at 0.6 -> AP 1/2.
 */
static void
test_greedy_by_score(void **state)
{
	struct eval *ev = new_eval(1);
	struct eval_result r;
	struct det_box gt = box(0, 0, 0, 10, 10, 0);
	struct det_box det[2] = {
		box(0, 0, 0, 10, 10, 0.6f),
		box(0, 2, 0, 10, 10, 0.9f),
	};

	(void)state;
	assert_int_equal(eval_add(ev, &gt, 1, det, 2), 0);
	eval_result(ev, &r);
	NEAR(r.map, 1);
	NEAR(r.precision, 0.5);
	eval_destroy(ev);
}

/*
 * Each detection takes the best-overlapping truth box still unmatched: the
 * second detection overlaps the taken B most (95/105) but A enough
 * (85/115), so it is a true positive on A.
 */
static void
test_best_unmatched(void **state)
{
	struct eval *ev = new_eval(1);
	struct eval_result r;
	struct det_box gt[2] = {
		box(0, 0, 0, 10, 10, 0), /* A */
		box(0, 2, 0, 10, 10, 0), /* B */
	};
	struct det_box det[2] = {
		box(0, 1.5f, 0, 10, 10, 0.8f),
		box(0, 2, 0, 10, 10, 0.9f), /* B exactly: takes it first */
	};

	(void)state;
	assert_int_equal(eval_add(ev, gt, 2, det, 2), 0);
	eval_result(ev, &r);
	assert_int_equal(r.tp, 2);
	assert_int_equal(r.fp, 0);
	NEAR(r.map, 1);
	eval_destroy(ev);
}

/*
 * Classes are matched separately and the mean is over classes present in
 * the truth: class 0 AP 1, class 1 AP 1/2 (FP at 0.9 then TP at 0.7:
 * P 1/2 at R 1), class 2 has no truth (its detection counts against
 * precision only), class 3 absent altogether.
 */
static void
test_classes(void **state)
{
	struct eval *ev = new_eval(4);
	struct eval_result r;
	struct eval_class c;
	struct det_box gt[2] = {
		box(0, 0, 0, 10, 10, 0),
		box(1, 50, 50, 10, 10, 0),
	};
	struct det_box det[4] = {
		box(0, 0, 0, 10, 10, 0.8f),
		box(1, 0, 0, 10, 10, 0.9f),   /* right place, wrong class */
		box(1, 50, 50, 10, 10, 0.7f),
		box(2, 50, 50, 10, 10, 0.95f),
	};

	(void)state;
	assert_int_equal(eval_add(ev, gt, 2, det, 4), 0);
	eval_result(ev, &r);
	assert_int_equal(r.classes_present, 2);
	assert_int_equal(r.n_gt, 2);
	assert_int_equal(r.tp, 2);
	assert_int_equal(r.fp, 2);
	NEAR(r.precision, 0.5);
	NEAR(r.recall, 1);
	NEAR(r.map, 0.75);
	assert_int_equal(eval_class(ev, 1, &c), 0);
	NEAR(c.ap, 0.5);
	assert_int_equal(c.tp, 1);
	assert_int_equal(c.fp, 1);
	assert_int_equal(eval_class(ev, 2, &c), 0);
	assert_true(c.ap < 0);
	assert_int_equal(c.fp, 1);
	eval_destroy(ev);
}

/* Missed truth boxes lower recall and AP; no detections at all is AP 0. */
static void
test_misses(void **state)
{
	struct eval *ev = new_eval(1);
	struct eval_result r;
	struct det_box gt[4] = {
		box(0, 0, 0, 10, 10, 0),
		box(0, 20, 0, 10, 10, 0),
		box(0, 40, 0, 10, 10, 0),
		box(0, 60, 0, 10, 10, 0),
	};

	(void)state;
	assert_int_equal(eval_add(ev, gt, 4, NULL, 0), 0);
	eval_result(ev, &r);
	NEAR(r.map, 0);
	NEAR(r.precision, 0);
	NEAR(r.recall, 0);
	/* a second frame: 1 of 4 found -> overall recall 1/8, AP 1/8 */
	assert_int_equal(eval_add(ev, gt, 4, gt, 1), 0);
	eval_result(ev, &r);
	NEAR(r.recall, 0.125);
	NEAR(r.precision, 1);
	NEAR(r.map, 0.125);
	eval_destroy(ev);
}

/*
 * Scores in one 1/1000 bin are one step of the curve, whatever their order:
 * TP and FP at 0.5001 / 0.5004 give P 1/2 at R 1 -> AP 1/2 both ways.
 */
static void
test_ties(void **state)
{
	struct det_box gt = box(0, 0, 0, 10, 10, 0);
	struct det_box det[2][2] = {
		{ box(0, 0, 0, 10, 10, 0.5001f), box(0, 80, 0, 10, 10, 0.5004f) },
		{ box(0, 0, 0, 10, 10, 0.5004f), box(0, 80, 0, 10, 10, 0.5001f) },
	};

	(void)state;
	for (int k = 0; k < 2; k++) {
		struct eval *ev = new_eval(1);
		struct eval_result r;

		assert_int_equal(eval_add(ev, &gt, 1, det[k], 2), 0);
		eval_result(ev, &r);
		NEAR(r.map, 0.5);
		eval_destroy(ev);
	}
}

/* Out-of-range classes, empty and non-finite boxes are not counted. */
static void
test_ignored(void **state)
{
	struct eval *ev = new_eval(2);
	struct eval_result r;
	struct det_box gt[4] = {
		box(0, 0, 0, 10, 10, 0),
		box(5, 0, 0, 10, 10, 0),
		box(-1, 0, 0, 10, 10, 0),
		box(1, 0, 0, 0, 10, 0),
	};
	struct det_box det[5] = {
		box(0, 0, 0, 10, 10, 0.9f),
		box(7, 0, 0, 10, 10, 0.9f),
		box(0, NAN, 0, 10, 10, 0.9f),
		box(0, 0, 0, 10, 10, NAN),
		box(1, 0, 0, 10, -3, 0.9f),
	};

	(void)state;
	assert_int_equal(eval_add(ev, gt, 4, det, 5), 0);
	eval_result(ev, &r);
	assert_int_equal(r.n_gt, 1);
	assert_int_equal(r.tp, 1);
	assert_int_equal(r.fp, 0);
	assert_int_equal(r.classes_present, 1);
	NEAR(r.map, 1);
	eval_destroy(ev);
}

/* Frames larger than the scratch's first size grow it. */
static void
test_large_frame(void **state)
{
	enum { N = 700 };
	struct eval *ev = new_eval(3);
	struct eval_result r;
	struct det_box *gt = calloc(N, sizeof *gt);
	struct det_box *det = calloc(2 * N, sizeof *det);

	(void)state;
	assert_non_null(gt);
	assert_non_null(det);
	for (int i = 0; i < N; i++) {
		gt[i] = box(i % 3, (float)(i % 30) * 20, (float)(i / 30) * 20,
		            10, 10, 0);
		det[i] = gt[i];
		det[i].score = 0.99f;
		/* a second, far-off detection of each: all FP at 0.3 */
		det[N + i] = gt[i];
		det[N + i].x += 5000;
		det[N + i].score = 0.3f;
	}
	assert_int_equal(eval_add(ev, gt, N, det, 2 * N), 0);
	eval_result(ev, &r);
	assert_int_equal(r.tp, N);
	assert_int_equal(r.fp, N);
	NEAR(r.map, 1);
	NEAR(r.precision, 0.5);
	free(gt);
	free(det);
	eval_destroy(ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_args),
		cmocka_unit_test(test_iou),
		cmocka_unit_test(test_perfect),
		cmocka_unit_test(test_voc_example),
		cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_duplicate),
		cmocka_unit_test(test_greedy_by_score),
		cmocka_unit_test(test_best_unmatched),
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_misses),
		cmocka_unit_test(test_ties),
		cmocka_unit_test(test_ignored),
		cmocka_unit_test(test_large_frame),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* score.h — infer's accuracy against ground truth carried in frame metadata. */
#ifndef FBUS_SCORE_H
#define FBUS_SCORE_H

#include "detector.h"
#include "eval.h"
#include "framebus.h"
#include "groundtruth.h"

#include <stdio.h>

struct score {
	const struct detector *det;
	int quiet;
	/* detector class -> ground-truth class (-1: none) */
	int *cls_map;
	int cls_mapped;     /* detector classes with a GT counterpart */
	struct eval *eval;  /* created at the first frame with GT */
	int eval_failed;
	struct gt gt;
	struct det_box truth[FBUS_GT_MAX_BOXES]; /* the last frame's, scaled */
	struct det_box *mapped;
	size_t mapped_cap;
};

/* Map det's class names to the ground-truth classes.  0, or -1 (memory). */
int score_init(struct score *sc, const struct detector *det, int quiet);
/* Score detections b[0..n) of frame fr.  Returns the number of truth boxes
 * (in sc->truth, in frame coordinates), or -1 if fr carries none. */
int score_frame(struct score *sc, const struct fbus_frame *fr,
                const struct det_box *b, size_t n);
/* The human summary (nothing without ground truth), and the JSON object
 * ("null" without ground truth). */
void score_print_summary(const struct score *sc, double conf, FILE *f);
void score_print_json(const struct score *sc, double conf, FILE *f);
/* mAP@0.5 so far; -1 before any frame with ground truth. */
double score_map(const struct score *sc);
void score_free(struct score *sc);

#endif

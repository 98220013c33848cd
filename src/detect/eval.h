/* SPDX-License-Identifier: MIT */
/*
 * eval.h — detection accuracy over a run: match each frame's detections to
 * its ground truth (per class, IoU >= 0.5, greedy by score, each truth box
 * matched once), accumulate, and report precision, recall and mAP@0.5
 * (VOC all-point interpolated AP per class, mean over the classes present
 * in the ground truth).  Plain C, no dependency besides detector.h's box.
 */
#ifndef FBUS_EVAL_H
#define FBUS_EVAL_H

#include "detector.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FBUS_EVAL_IOU 0.5
/* Scores are accumulated in bins of 1/FBUS_EVAL_BINS so that memory stays
 * fixed however long the run; detections of one bin form one step of the
 * precision/recall curve (scores closer than that are treated as tied). */
#define FBUS_EVAL_BINS 1000

struct eval;

/* Per-class totals. ap is -1 when the class has no ground truth. */
struct eval_class {
	uint64_t n_gt; /* truth boxes seen */
	uint64_t tp;   /* detections matched to a truth box */
	uint64_t fp;   /* detections matched to none */
	double ap;     /* average precision at IoU 0.5, 0..1 */
};

struct eval_result {
	uint64_t frames; /* frames added */
	uint64_t n_gt, tp, fp;
	double precision; /* tp / (tp + fp); 0 without detections */
	double recall;    /* tp / n_gt; 0 without ground truth */
	double map;       /* mean AP over classes_present; 0 if none */
	int classes_present; /* classes with at least one truth box */
};

/*
 * A run's accumulator for classes 0..nclasses-1.  Returns 0, FBUS_EINVAL
 * for nclasses outside 1..1024, or FBUS_ENOMEM.  Allocates.
 */
int eval_create(struct eval **out, int nclasses);

/*
 * Add one frame: its truth boxes (score ignored) and the detections made on
 * it, both in the same pixel coordinates.  Boxes whose class lies outside
 * 0..nclasses-1 are ignored, as are empty or non-finite boxes.  Returns 0 or
 * FBUS_ENOMEM (the frame is then not counted).  Allocates only when a frame
 * has more boxes than any before it.
 */
int eval_add(struct eval *ev, const struct det_box *gt,
                  size_t ngt, const struct det_box *det, size_t ndet);

/* Totals and mAP so far.  Never allocates; cheap enough to call per frame. */
void eval_result(const struct eval *ev, struct eval_result *r);

/* One class's totals; FBUS_EINVAL for a class out of range. */
int eval_class(const struct eval *ev, int cls,
                    struct eval_class *c);

int eval_num_classes(const struct eval *ev);

/* NULL is a no-op. */
void eval_destroy(struct eval *ev);

#ifdef __cplusplus
}
#endif

#endif /* FBUS_EVAL_H */

/* SPDX-License-Identifier: MIT */
/*
 * eval.c — precision, recall and mAP@0.5 of a detector over a run, from
 * per-frame ground truth.  Matching follows PASCAL VOC: per frame and
 * class, detections in descending score order each take the unmatched
 * truth box they overlap most, if that IoU is >= 0.5 (true positive), else
 * they are false positives; a truth box is matched at most once.  AP is the
 * VOC 2010+ "all-point" interpolation: the area under the precision/recall
 * curve after making precision monotonically non-increasing in recall.
 *
 * Outcomes are not kept per detection but counted per score bin, so an
 * `infer` running for days uses the same memory as one running a second.
 */
#include "eval.h"
#include "yolo_post.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct bins {
	uint64_t tp[FBUS_EVAL_BINS];
	uint64_t fp[FBUS_EVAL_BINS];
	uint64_t n_gt;
};

struct scored {
	float score;
	uint32_t idx;
};

struct eval {
	int nclasses;
	uint64_t frames;
	struct bins *cls;

	/* per-frame scratch, grown to the largest frame seen */
	struct scored *order;
	size_t order_cap;
	uint8_t *matched;
	size_t matched_cap;
};

int
eval_create(struct eval **out, int nclasses)
{
	struct eval *ev;

	if (!out)
		return FBUS_EINVAL;
	*out = NULL;
	if (nclasses < 1 || nclasses > 1024)
		return FBUS_EINVAL;
	ev = calloc(1, sizeof *ev);
	if (!ev)
		return FBUS_ENOMEM;
	ev->cls = calloc((size_t)nclasses, sizeof *ev->cls);
	if (!ev->cls) {
		free(ev);
		return FBUS_ENOMEM;
	}
	ev->nclasses = nclasses;
	*out = ev;
	return 0;
}

void
eval_destroy(struct eval *ev)
{
	if (!ev)
		return;
	free(ev->cls);
	free(ev->order);
	free(ev->matched);
	free(ev);
}

int
eval_num_classes(const struct eval *ev)
{
	return ev->nclasses;
}

static int
box_ok(const struct det_box *b)
{
	return isfinite(b->x) && isfinite(b->y) && isfinite(b->w) &&
	       isfinite(b->h) && b->w > 0 && b->h > 0;
}


static int
grow(void **p, size_t *cap, size_t n, size_t elem)
{
	void *q;
	size_t c = *cap ? *cap : 64;

	if (n <= *cap)
		return 0;
	while (c < n)
		c *= 2;
	q = realloc(*p, c * elem);
	if (!q)
		return FBUS_ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

/* Descending score; equal scores keep the detector's order (stable). */
static int
cmp_scored(const void *pa, const void *pb)
{
	const struct scored *a = pa, *b = pb;

	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int
score_bin(float score)
{
	double s = score;
	int b;

	if (!(s > 0))
		return 0;
	b = (int)(s * FBUS_EVAL_BINS);
	return b >= FBUS_EVAL_BINS ? FBUS_EVAL_BINS - 1 : b;
}

int
eval_add(struct eval *ev, const struct det_box *gt,
              size_t ngt, const struct det_box *det, size_t ndet)
{
	size_t nd = 0;

	if (grow((void **)&ev->order, &ev->order_cap, ndet,
	         sizeof *ev->order) ||
	    grow((void **)&ev->matched, &ev->matched_cap, ngt,
	         sizeof *ev->matched))
		return FBUS_ENOMEM;

	for (size_t i = 0; i < ndet; i++) {
		if (det[i].cls < 0 || det[i].cls >= ev->nclasses ||
		    !box_ok(&det[i]) || !isfinite(det[i].score))
			continue;
		ev->order[nd].score = det[i].score;
		ev->order[nd].idx = (uint32_t)i;
		nd++;
	}
	if (nd > 1)
		qsort(ev->order, nd, sizeof *ev->order, cmp_scored);

	for (size_t j = 0; j < ngt; j++) {
		ev->matched[j] = 0;
		if (gt[j].cls >= 0 && gt[j].cls < ev->nclasses &&
		    box_ok(&gt[j]))
			ev->cls[gt[j].cls].n_gt++;
		else
			ev->matched[j] = 1; /* not a truth box: never matches */
	}

	/* Greedy by score: the whole frame's detections in score order, each
	 * restricted to truth boxes of its own class, is the same as doing it
	 * class by class. */
	for (size_t k = 0; k < nd; k++) {
		const struct det_box *d = &det[ev->order[k].idx];
		struct bins *b = &ev->cls[d->cls];
		double best = 0;
		size_t bj = 0;
		int found = 0;

		for (size_t j = 0; j < ngt; j++) {
			double iou;

			if (ev->matched[j] || gt[j].cls != d->cls)
				continue;
			iou = det_box_iou(d, &gt[j]);
			if (iou >= FBUS_EVAL_IOU && (!found || iou > best)) {
				best = iou;
				bj = j;
				found = 1;
			}
		}
		if (found) {
			ev->matched[bj] = 1;
			b->tp[score_bin(d->score)]++;
		} else {
			b->fp[score_bin(d->score)]++;
		}
	}
	ev->frames++;
	return 0;
}

/*
 * All-point interpolated AP, walking the precision/recall curve from its
 * low-score end: there the running maximum of precision is exactly the
 * interpolated precision max_{r' >= r} p(r') that VOC applies, so one pass
 * suffices.  Each non-empty bin is one point of the curve; the area it adds
 * is (its recall - the recall of the point before it) * that maximum.
 */
static double
class_ap(const struct bins *b, uint64_t *tp_out, uint64_t *fp_out)
{
	uint64_t tp = 0, fp = 0, ctp, cfp;
	double ap = 0, pmax = 0, n = (double)b->n_gt;

	for (int i = 0; i < FBUS_EVAL_BINS; i++) {
		tp += b->tp[i];
		fp += b->fp[i];
	}
	*tp_out = tp;
	*fp_out = fp;
	if (!b->n_gt)
		return -1;
	/* ctp/cfp: detections scoring at or above bin i */
	ctp = tp;
	cfp = fp;
	for (int i = 0; i < FBUS_EVAL_BINS; i++) {
		double p;

		if (!b->tp[i] && !b->fp[i])
			continue;
		p = (double)ctp / (double)(ctp + cfp);
		if (p > pmax)
			pmax = p;
		ap += ((double)ctp - (double)(ctp - b->tp[i])) / n * pmax;
		ctp -= b->tp[i];
		cfp -= b->fp[i];
	}
	return ap;
}

int
eval_class(const struct eval *ev, int cls, struct eval_class *c)
{
	if (cls < 0 || cls >= ev->nclasses)
		return FBUS_EINVAL;
	c->n_gt = ev->cls[cls].n_gt;
	c->ap = class_ap(&ev->cls[cls], &c->tp, &c->fp);
	return 0;
}

void
eval_result(const struct eval *ev, struct eval_result *r)
{
	double sum = 0;

	memset(r, 0, sizeof *r);
	r->frames = ev->frames;
	for (int i = 0; i < ev->nclasses; i++) {
		struct eval_class c;

		eval_class(ev, i, &c);
		r->n_gt += c.n_gt;
		r->tp += c.tp;
		r->fp += c.fp;
		if (c.n_gt) {
			sum += c.ap;
			r->classes_present++;
		}
	}
	r->precision = r->tp + r->fp ? (double)r->tp / (double)(r->tp + r->fp)
	                             : 0;
	r->recall = r->n_gt ? (double)r->tp / (double)r->n_gt : 0;
	r->map = r->classes_present ? sum / r->classes_present : 0;
}

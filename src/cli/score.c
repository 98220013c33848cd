/* SPDX-License-Identifier: MIT */
/*
 * score.c — infer's accuracy bookkeeping: frames whose metadata carries
 * ground truth (the synthetic source's) are matched against the detections
 * (eval.c: greedy IoU >= 0.5, VOC all-point AP), through a map from the
 * model's class names to the ground-truth classes.  Never on the path that
 * produces a result: infer scores after the detections are out.
 */
#include "score.h"
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int
score_init(struct score *sc, const struct detector *det, int quiet)
{
	int nc = detector_num_classes(det);

	memset(sc, 0, sizeof *sc);
	sc->det = det;
	sc->quiet = quiet;

	sc->cls_map = calloc(nc > 0 ? (size_t)nc : 1, sizeof *sc->cls_map);
	if (!sc->cls_map)
		return -1;
	for (int i = 0; i < nc; i++) {
		const char *name = detector_class_name(det, i);

		sc->cls_map[i] = -1;
		for (unsigned k = 0; k < FBUS_GT_NCLASSES; k++) {
			if (!strcasecmp(name, gt_class_name(k))) {
				sc->cls_map[i] = (int)k;
				sc->cls_mapped++;
				break;
			}
		}
	}
	return 0;
}

/*
 * Decode the frame's ground truth, if it has any, into sc->truth (scaled to
 * the frame's pixels, should the source have resized after drawing), and
 * score the detections against it.  Returns the number of truth boxes, or
 * -1 when the frame carries none.  Must run before the frame is released.
 */

int
score_frame(struct score *sc, const struct fbus_frame *fr,
            const struct det_box *b, size_t n)
{
	double sx, sy;
	size_t nm = 0;
	int nc = detector_num_classes(sc->det);

	if (!fr->meta || !fr->meta_bytes ||
	    gt_decode(fr->meta, fr->meta_bytes, &sc->gt) != 0)
		return -1;
	sx = fr->fmt.width ? (double)fr->fmt.width / sc->gt.width : 1;
	sy = fr->fmt.height ? (double)fr->fmt.height / sc->gt.height : 1;
	for (uint32_t i = 0; i < sc->gt.count; i++) {
		const struct gt_box *g = &sc->gt.box[i];

		sc->truth[i].x = (float)(g->x * sx);
		sc->truth[i].y = (float)(g->y * sy);
		sc->truth[i].w = (float)(g->w * sx);
		sc->truth[i].h = (float)(g->h * sy);
		sc->truth[i].score = 0;
		sc->truth[i].cls = g->cls;
	}
	if (sc->eval_failed)
		return (int)sc->gt.count;
	if (!sc->cls_mapped) {
		if (!sc->quiet)
			cli_warn("frames carry ground truth, but the model has "
			         "none of its classes (circle, square, "
			         "triangle, cross): no accuracy figures");
		sc->eval_failed = 1;
		return (int)sc->gt.count;
	}
	if (!sc->eval && eval_create(&sc->eval, FBUS_GT_NCLASSES)) {
		cli_warn("no accuracy figures: out of memory");
		sc->eval_failed = 1;
		return (int)sc->gt.count;
	}
	if (n > sc->mapped_cap) {
		struct det_box *p = realloc(sc->mapped, n * sizeof *p);

		if (!p) {
			cli_warn("no accuracy figures: out of memory");
			sc->eval_failed = 1;
			return (int)sc->gt.count;
		}
		sc->mapped = p;
		sc->mapped_cap = n;
	}
	for (size_t i = 0; i < n; i++) {
		if (b[i].cls < 0 || b[i].cls >= nc || sc->cls_map[b[i].cls] < 0)
			continue;
		sc->mapped[nm] = b[i];
		sc->mapped[nm].cls = sc->cls_map[b[i].cls];
		nm++;
	}
	if (eval_add(sc->eval, sc->truth, sc->gt.count, sc->mapped, nm)) {
		cli_warn("no accuracy figures: out of memory");
		sc->eval_failed = 1;
	}
	return (int)sc->gt.count;
}

void
score_print_summary(const struct score *sc, double conf, FILE *f)
{
	struct eval_result r;

	if (!sc->eval)
		return;
	eval_result(sc->eval, &r);
	fprintf(f,
	        "  accuracy over %llu frames with ground truth (IoU 0.5, "
	        "conf %.2f):\n"
	        "    mAP@0.5 %.3f  precision %.3f  recall %.3f  "
	        "(%llu true / %llu false positives, %llu truth boxes)\n"
	        "    AP@0.5 ",
	        (unsigned long long)r.frames, conf, r.map,
	        r.precision, r.recall, (unsigned long long)r.tp,
	        (unsigned long long)r.fp, (unsigned long long)r.n_gt);
	for (int k = 0; k < FBUS_GT_NCLASSES; k++) {
		struct eval_class c;

		eval_class(sc->eval, k, &c);
		if (c.ap >= 0)
			fprintf(f, " %s %.3f",
			        gt_class_name((unsigned)k), c.ap);
		else
			fprintf(f, " %s -",
			        gt_class_name((unsigned)k));
	}
	fputc('\n', f);
}

void
score_print_json(const struct score *sc, double conf, FILE *f)
{
	if (!sc->eval) {
		fprintf(f, "null");
	} else {
		struct eval_result r;

		eval_result(sc->eval, &r);
		fprintf(f, "{\"frames\":%llu,\"iou\":%.2f,\"conf\":%.4f,"
		       "\"map50\":%.6f,\"precision\":%.6f,\"recall\":%.6f,"
		       "\"truth\":%llu,\"tp\":%llu,\"fp\":%llu,\"classes\":{",
		       (unsigned long long)r.frames, FBUS_EVAL_IOU,
		       conf, r.map, r.precision, r.recall,
		       (unsigned long long)r.n_gt, (unsigned long long)r.tp,
		       (unsigned long long)r.fp);
		for (int k = 0; k < FBUS_GT_NCLASSES; k++) {
			struct eval_class c;

			eval_class(sc->eval, k, &c);
			fprintf(f, "%s\"%s\":{\"ap50\":", k ? "," : "",
			       gt_class_name((unsigned)k));
			if (c.ap >= 0)
				fprintf(f, "%.6f", c.ap);
			else
				fprintf(f, "null");
			fprintf(f, ",\"truth\":%llu,\"tp\":%llu,\"fp\":%llu}",
			       (unsigned long long)c.n_gt,
			       (unsigned long long)c.tp,
			       (unsigned long long)c.fp);
		}
		fprintf(f, "}}");
	}
}

double
score_map(const struct score *sc)
{
	struct eval_result r;

	if (!sc->eval)
		return -1;
	eval_result(sc->eval, &r);
	return r.map;
}

void
score_free(struct score *sc)
{
	eval_destroy(sc->eval);
	free(sc->cls_map);
	free(sc->mapped);
	memset(sc, 0, sizeof *sc);
}

/* SPDX-License-Identifier: MIT */
/*
 * yolo_post.c — layout detection, box decoding and NMS
 * for YOLO outputs (see yolo_post.h for the three layouts understood).
 */
#include "yolo_post.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
shape_str(const struct det_tensor *t, char *buf, size_t n)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < t->ndims && off < n; i++)
		off += (size_t)snprintf(buf + off, n - off, "%s%d",
		                        i ? "x" : "", t->dims[i]);
}

int
yolo_detect_layout(const struct det_tensor *outs, int nouts,
                   int from_darknet, int *layout, int *nclasses, char *err,
                   size_t errlen)
{
	char shape[64] = "none";

	*layout = YOLO_LAYOUT_NONE;
	*nclasses = 0;
	if (nouts > 0)
		shape_str(&outs[0], shape, sizeof shape);

	if (from_darknet) {
		/* Every yolo/region output has the same width 5+C. */
		int cols = 0;

		for (int i = 0; i < nouts; i++) {
			const struct det_tensor *t = &outs[i];

			if (t->ndims != 2 || t->dims[1] < 6 ||
			    (cols && t->dims[1] != cols)) {
				shape_str(t, shape, sizeof shape);
				goto unsupported;
			}
			cols = t->dims[1];
		}
		if (!cols)
			goto unsupported;
		*layout = YOLO_LAYOUT_DARKNET;
		*nclasses = cols - 5;
		return 0;
	}

	/*
	 * ONNX: one 3-D output holds the boxes.  N (boxes) is in the
	 * thousands, 4+C or 5+C is small, so the longer axis is the box
	 * axis.  A 4-D 1 x M x h x w output beside it is a segmentation
	 * model's mask prototypes: the box rows then end with M mask
	 * coefficients, which are not classes.  Higher-rank outputs (old
	 * YOLOv5 exports add their raw head maps) are ignored.
	 */
	{
		const struct det_tensor *box = NULL;
		int masks = 0, k = 0;

		for (int i = 0; i < nouts; i++) {
			const struct det_tensor *t = &outs[i];

			if (t->ndims == 3 && t->dims[0] == 1) {
				if (box) {
					char s2[64];

					shape_str(box, shape, sizeof shape);
					shape_str(t, s2, sizeof s2);
					snprintf(err, errlen,
					         "the model has two box outputs "
					         "(%s and %s): infer reads one, with "
					         "the detection heads concatenated (as "
					         "YOLOv5 and ultralytics export them)",
					         shape, s2);
					return FBUS_ENOTSUP;
				}
				box = t;
			} else if (t->ndims == 4 && t->dims[0] == 1) {
				masks = t->dims[1];
			}
		}
		if (!box)
			goto unsupported;
		shape_str(box, shape, sizeof shape);
		if (box->dims[1] > box->dims[2]) {
			*layout = YOLO_LAYOUT_V5;
			k = box->dims[2] - 5 - masks;
		} else {
			*layout = YOLO_LAYOUT_V8;
			k = box->dims[1] - 4 - masks;
		}
		if (k >= 1) {
			*nclasses = k;
			return 0;
		}
		*layout = YOLO_LAYOUT_NONE;
	}

unsupported:
	snprintf(err, errlen,
	         "unsupported output layout %s: expected Darknet yolo/region "
	         "outputs (rows x 5+C), YOLOv5 (1 x N x 5+C) or YOLOv8/11 "
	         "(1 x 4+C x N); models exported with NMS built in are not "
	         "supported",
	         shape);
	return FBUS_ENOTSUP;
}

const char *
yolo_layout_name(int layout)
{
	switch (layout) {
	case YOLO_LAYOUT_DARKNET: return "darknet";
	case YOLO_LAYOUT_V5: return "yolov5";
	case YOLO_LAYOUT_V8: return "yolov8";
	case YOLO_LAYOUT_V8_DFL: return "yolov8 (box decode in framebus)";
	default: return "none";
	}
}

size_t
yolo_rows(int layout, const struct det_tensor *t)
{
	switch (layout) {
	case YOLO_LAYOUT_DARKNET: return (size_t)t->dims[0];
	case YOLO_LAYOUT_V5: return (size_t)t->dims[1];
	case YOLO_LAYOUT_V8:
	case YOLO_LAYOUT_V8_DFL: return (size_t)t->dims[2];
	default: return 0;
	}
}

static int
push(struct det_box *out, size_t *n, size_t cap, float cx, float cy,
     float w, float h, float score, int cls)
{
	if (*n >= cap)
		return -1;
	out[*n] = (struct det_box){
		.x = cx - w / 2, .y = cy - h / 2, .w = w, .h = h,
		.score = score, .cls = cls,
	};
	(*n)++;
	return 0;
}

/* Expected distance of one side: the softmax-weighted mean of the bin
 * indices (the DFL integral the exporters put in the graph). */
static float
dfl_side(const float *p, size_t rows, size_t r)
{
	float mx = p[r], sum = 0, acc = 0;

	for (int b = 1; b < YOLO_DFL_BINS; b++)
		if (p[(size_t)b * rows + r] > mx)
			mx = p[(size_t)b * rows + r];
	for (int b = 0; b < YOLO_DFL_BINS; b++) {
		float e = expf(p[(size_t)b * rows + r] - mx);

		sum += e;
		acc += e * (float)b;
	}
	return acc / sum;
}

/* The DFL layout: anchors are the cell centres of the stride 8, 16, 32
 * grids, level by level, row by row (the exporters' make_anchors). */
static size_t
decode_dfl(const struct det_tensor *t, int nclasses, int in_w, int in_h,
           float conf, struct det_box *out, size_t cap)
{
	const float *p = t->data;
	size_t rows = (size_t)t->dims[2], r = 0, n = 0;
	/* sigmoid(x) >= conf  <=>  x >= logit(conf): one exp a kept box */
	float thresh = conf <= 0 ? -INFINITY
	               : conf >= 1 ? INFINITY
	                           : logf(conf / (1 - conf));

	for (int s = 8; s <= 32 && r < rows; s *= 2) {
		int gw = in_w / s, gh = in_h / s;

		for (int gy = 0; gy < gh && r < rows; gy++)
			for (int gx = 0; gx < gw && r < rows; gx++, r++) {
				const float *cls = p + (size_t)4 * YOLO_DFL_BINS * rows;
				int best = 0;
				float logit = cls[r], l, tp, rt, b, ax, ay;

				for (int c = 1; c < nclasses; c++)
					if (cls[(size_t)c * rows + r] > logit) {
						logit = cls[(size_t)c * rows + r];
						best = c;
					}
				if (!(logit >= thresh))
					continue;
				l = dfl_side(p, rows, r);
				tp = dfl_side(p + (size_t)YOLO_DFL_BINS * rows, rows, r);
				rt = dfl_side(p + (size_t)2 * YOLO_DFL_BINS * rows, rows, r);
				b = dfl_side(p + (size_t)3 * YOLO_DFL_BINS * rows, rows, r);
				ax = (float)gx + 0.5f;
				ay = (float)gy + 0.5f;
				if (push(out, &n, cap, (ax + (rt - l) / 2) * (float)s,
				         (ay + (b - tp) / 2) * (float)s,
				         (l + rt) * (float)s, (tp + b) * (float)s,
				         1.0f / (1.0f + expf(-logit)), best))
					return n;
			}
	}
	return n;
}

/* Boxes the DFL layout has for an input of in_w x in_h. */
size_t
yolo_dfl_rows(int in_w, int in_h)
{
	size_t n = 0;

	for (int s = 8; s <= 32; s *= 2)
		n += (size_t)(in_w / s) * (size_t)(in_h / s);
	return n;
}

size_t
yolo_decode(int layout, const struct det_tensor *t, int nclasses,
            int in_w, int in_h, float conf, struct det_box *out,
            size_t cap)
{
	size_t n = 0, rows = yolo_rows(layout, t);

	if (layout == YOLO_LAYOUT_V8_DFL)
		return decode_dfl(t, nclasses, in_w, in_h, conf, out, cap);
	if (layout == YOLO_LAYOUT_DARKNET || layout == YOLO_LAYOUT_V5) {
		/* the tensor's row length, not 5 + C: a segmentation
		 * model's rows end with mask coefficients */
		size_t stride = (size_t)t->dims[t->ndims - 1];

		for (size_t r = 0; r < rows; r++) {
			const float *p = t->data + r * stride;
			int best = 0;
			float score;

			for (int c = 1; c < nclasses; c++)
				if (p[5 + c] > p[5 + best])
					best = c;
			/* OpenCV already folded the objectness into
			 * Darknet's class scores; v5 leaves it to us. */
			score = p[5 + best];
			if (layout == YOLO_LAYOUT_V5)
				score *= p[4];
			if (!(score >= conf))
				continue;
			if (layout == YOLO_LAYOUT_DARKNET) {
				if (push(out, &n, cap, p[0] * (float)in_w,
				         p[1] * (float)in_h, p[2] * (float)in_w,
				         p[3] * (float)in_h, score, best))
					break;
			} else if (push(out, &n, cap, p[0], p[1], p[2], p[3],
			                score, best)) {
				break;
			}
		}
	} else if (layout == YOLO_LAYOUT_V8) {
		const float *p = t->data;

		for (size_t r = 0; r < rows; r++) {
			int best = 0;
			float score = p[4 * rows + r];

			for (int c = 1; c < nclasses; c++) {
				float s = p[(size_t)(4 + c) * rows + r];

				if (s > score) {
					score = s;
					best = c;
				}
			}
			if (!(score >= conf))
				continue;
			if (push(out, &n, cap, p[r], p[rows + r], p[2 * rows + r],
			         p[3 * rows + r], score, best))
				break;
		}
	}
	return n;
}

/* A box's edges and area as doubles, and whether it can overlap anything
 * (finite, not empty): computed once a kept box in NMS. */
struct edges {
	double x0, y0, x1, y1, area;
	bool valid;
};

static struct edges
edges_of(const struct det_box *b)
{
	struct edges e = {
		.x0 = b->x, .y0 = b->y,
		.x1 = (double)b->x + b->w, .y1 = (double)b->y + b->h,
		.area = (double)b->w * b->h,
		.valid = b->w > 0 && b->h > 0 && isfinite(b->x + b->y + b->w + b->h),
	};
	return e;
}

static double
edges_iou(const struct edges *a, const struct edges *b)
{
	double ix0 = fmax(a->x0, b->x0), iy0 = fmax(a->y0, b->y0);
	double ix1 = fmin(a->x1, b->x1), iy1 = fmin(a->y1, b->y1);
	double inter, uni;

	/* NaN, infinite or empty boxes overlap nothing */
	if (!a->valid || !b->valid || ix1 <= ix0 || iy1 <= iy0)
		return 0;
	inter = (ix1 - ix0) * (iy1 - iy0);
	uni = a->area + b->area - inter;
	return uni > 0 ? inter / uni : 0;
}

double
det_box_iou(const struct det_box *a, const struct det_box *b)
{
	struct edges ea = edges_of(a), eb = edges_of(b);

	return edges_iou(&ea, &eb);
}

struct ranked {
	struct det_box box;
	size_t index;
};

static int
by_score(const void *pa, const void *pb)
{
	const struct ranked *a = pa, *b = pb;

	if (a->box.score != b->box.score)
		return a->box.score > b->box.score ? -1 : 1;
	/* qsort is not stable; the index keeps equal scores in input
	 * order so results do not depend on the libc. */
	return a->index < b->index ? -1 : a->index > b->index;
}

size_t
yolo_nms(struct det_box *boxes, size_t n, float iou)
{
	struct ranked *r;
	size_t kept = 0, *head, *next;
	struct edges *ke;
	int maxcls = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (boxes[i].cls > maxcls)
			maxcls = boxes[i].cls;
	r = malloc(n * sizeof *r);
	/* the kept boxes of each class, chained: a box is compared only
	 * with its own class's (an untrained net's thousands of candidates
	 * over 80 classes: 1/80 of the pairs) */
	head = malloc(((size_t)maxcls + 1) * sizeof *head);
	next = malloc(n * sizeof *next);
	ke = malloc(n * sizeof *ke);
	if (!r || !head || !next || !ke) {
		/* Without memory for sorting, keep the input unfiltered
		 * rather than dropping detections. */
		free(r);
		free(head);
		free(next);
		free(ke);
		return n;
	}
	for (int c = 0; c <= maxcls; c++)
		head[c] = SIZE_MAX;
	for (size_t i = 0; i < n; i++)
		r[i] = (struct ranked){ .box = boxes[i], .index = i };
	qsort(r, n, sizeof *r, by_score);
	for (size_t i = 0; i < n; i++) {
		int cls = r[i].box.cls < 0 ? 0 : r[i].box.cls, drop = 0;
		struct edges e = edges_of(&r[i].box);

		for (size_t k = head[cls]; k != SIZE_MAX; k = next[k]) {
			if (boxes[k].cls == r[i].box.cls &&
			    edges_iou(&ke[k], &e) > iou) {
				drop = 1;
				break;
			}
		}
		if (drop)
			continue;
		boxes[kept] = r[i].box;
		ke[kept] = e;
		next[kept] = head[cls];
		head[cls] = kept++;
	}
	free(r);
	free(head);
	free(next);
	free(ke);
	return kept;
}

/* SPDX-License-Identifier: MIT */
/*
 * infer_darknet_check.c — cross-check of the detector against an
 * implementation no one here wrote: Debian's libdarknet (pjreddie's
 * darknet, which ships cfgs but no weights).  Random weights are generated
 * for the cfg (infer-mkweights), then one synthetic picture at the
 * network's size goes through libdarknet and through our pipeline
 * (letterbox.c → OpenCV DNN → yolo_post.c), and we compare
 *   1. the raw yolo-layer tensors: box, objectness and class scores of
 *      every anchor of every cell;
 *   2. the final boxes after thresholding and per-class NMS (darknet's
 *      get_network_boxes + do_nms_sort with only the best class kept, which
 *      is the NMS we implement).
 *
 *   infer-darknet-check CFG TMPDIR MKWEIGHTS
 */
#define _POSIX_C_SOURCE 200809L
#include "darknet.h"
#include "detector.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Float noise between two implementations of 20-odd layers. */
#define TOL_RAW 2e-3f
#define TOL_PX 0.5f
#define CONF 0.25f
#define NMS 0.45f
/* OpenCV's Darknet importer zeroes class scores at or below this. */
#define OCV_THRESH 0.2f

static int failures;

static void
fill_picture(uint8_t *bgr, int w, int h)
{
	/* Gradients plus a few solid blocks: structure for the random
	 * filters to respond to, the same bytes for both pipelines. */
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			uint8_t *p = bgr + 3 * (y * w + x);

			p[0] = (uint8_t)(x * 255 / w);
			p[1] = (uint8_t)(y * 255 / h);
			p[2] = (uint8_t)((x + y) * 127 / (w + h) + 64);
			if ((x / 64 + y / 48) % 3 == 0)
				p[0] = 230, p[1] = 30, p[2] = 30;
		}
}

static float
clampf(float v, float lo, float hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static int
compare_raw(network *net, const struct det_tensor *outs, int nouts)
{
	int k = 0;
	double maxdiff = 0;
	long compared = 0;

	for (int li = 0; li < net->n; li++) {
		layer *l = &net->layers[li];
		const struct det_tensor *t;
		int C = l->classes, stride = l->w * l->h;

		if (l->type != YOLO)
			continue;
		if (k >= nouts) {
			fprintf(stderr, "FAIL: darknet has more yolo layers than "
			                "OpenCV outputs (%d)\n", nouts);
			return -1;
		}
		t = &outs[k++];
		if (t->ndims != 2 || t->dims[0] != l->w * l->h * l->n ||
		    t->dims[1] != 5 + C) {
			fprintf(stderr, "FAIL: yolo layer %d: darknet %dx%dx%d "
			                "anchors, ours %dx%d\n",
			        li, l->w, l->h, l->n, t->dims[0], t->dims[1]);
			return -1;
		}
		for (int row = 0; row < l->h; row++)
			for (int col = 0; col < l->w; col++)
				for (int a = 0; a < l->n; a++) {
					/* darknet: [anchor][entry][cell] */
					const float *o = l->output +
					                 a * (5 + C) * stride +
					                 row * l->w + col;
					/* OpenCV: [cell][anchor][entry] */
					const float *r =
						t->data +
						((size_t)(row * l->w + col) * l->n + a) *
							(5 + C);
					float want[4], obj = o[4 * stride];

					want[0] = (col + o[0]) / l->w;
					want[1] = (row + o[stride]) / l->h;
					want[2] = expf(o[2 * stride]) *
					          l->biases[2 * l->mask[a]] / net->w;
					want[3] = expf(o[3 * stride]) *
					          l->biases[2 * l->mask[a] + 1] /
					          net->h;
					for (int e = 0; e < 5 + C; e++) {
						float w = e < 4 ? want[e]
						          : e == 4
						                  ? obj
						                  : obj * o[e * stride];
						float g = r[e];
						float d;

						if (e >= 5 && w <= OCV_THRESH - TOL_RAW)
							w = 0;
						else if (e >= 5 &&
						         fabsf(w - OCV_THRESH) < TOL_RAW)
							continue; /* either side */
						d = fabsf(w - g);
						if (d > maxdiff)
							maxdiff = d;
						compared++;
						if (d > TOL_RAW && failures++ < 10)
							fprintf(stderr,
							        "FAIL: layer %d cell "
							        "(%d,%d) anchor %d "
							        "entry %d: darknet "
							        "%.5f ours %.5f\n",
							        li, col, row, a, e,
							        (double)w,
							        (double)g);
					}
				}
	}
	printf("raw tensors: %ld values compared over %d yolo layers, max "
	       "|diff| %.6f (tolerance %.4f)\n",
	       compared, k, maxdiff, (double)TOL_RAW);
	return k == nouts ? 0 : -1;
}

struct ref_box {
	float x, y, w, h, score;
	int cls;
	int matched;
};

static int
compare_boxes(network *net, const struct det_box *ours, size_t n_ours)
{
	int nd = 0, nref = 0, matched = 0;
	detection *dets = get_network_boxes(net, net->w, net->h, CONF, 0.5f,
	                                    NULL, 1, &nd);
	struct ref_box *ref = calloc((size_t)nd + 1, sizeof *ref);

	/* Keep only each detection's best class, as our decoder does;
	 * darknet's per-class NMS is then the same greedy NMS as ours. */
	for (int i = 0; i < nd; i++) {
		int best = 0;

		for (int c = 1; c < dets[i].classes; c++)
			if (dets[i].prob[c] > dets[i].prob[best])
				best = c;
		for (int c = 0; c < dets[i].classes; c++)
			if (c != best)
				dets[i].prob[c] = 0;
	}
	do_nms_sort(dets, nd, dets[0].classes, NMS);
	for (int i = 0; i < nd; i++) {
		for (int c = 0; c < dets[i].classes; c++) {
			box b = dets[i].bbox;
			float x0, y0, x1, y1;

			if (dets[i].prob[c] < CONF)
				continue;
			x0 = clampf((b.x - b.w / 2) * net->w, 0, net->w);
			x1 = clampf((b.x + b.w / 2) * net->w, 0, net->w);
			y0 = clampf((b.y - b.h / 2) * net->h, 0, net->h);
			y1 = clampf((b.y + b.h / 2) * net->h, 0, net->h);
			if (x1 <= x0 || y1 <= y0)
				continue;
			ref[nref++] = (struct ref_box){ x0, y0, x1 - x0, y1 - y0,
				                        dets[i].prob[c], c, 0 };
		}
	}
	free_detections(dets, nd);

	for (size_t i = 0; i < n_ours; i++) {
		int hit = -1;

		for (int j = 0; j < nref && hit < 0; j++) {
			if (ref[j].matched || ref[j].cls != ours[i].cls)
				continue;
			if (fabsf(ref[j].x - ours[i].x) < TOL_PX &&
			    fabsf(ref[j].y - ours[i].y) < TOL_PX &&
			    fabsf(ref[j].w - ours[i].w) < TOL_PX &&
			    fabsf(ref[j].h - ours[i].h) < TOL_PX &&
			    fabsf(ref[j].score - ours[i].score) < TOL_RAW)
				hit = j;
		}
		if (hit >= 0) {
			ref[hit].matched = 1;
			matched++;
		} else if (failures++ < 20) {
			fprintf(stderr, "FAIL: our box %zu (class %d %.4f at "
			                "%.1f,%.1f %.1fx%.1f) not in darknet's\n",
			        i, ours[i].cls, (double)ours[i].score,
			        (double)ours[i].x, (double)ours[i].y,
			        (double)ours[i].w, (double)ours[i].h);
		}
	}
	for (int j = 0; j < nref; j++)
		if (!ref[j].matched && failures++ < 20)
			fprintf(stderr, "FAIL: darknet box (class %d %.4f at "
			                "%.1f,%.1f %.1fx%.1f) not in ours\n",
			        ref[j].cls, (double)ref[j].score, (double)ref[j].x,
			        (double)ref[j].y, (double)ref[j].w,
			        (double)ref[j].h);
	printf("boxes after conf %.2f + NMS %.2f: darknet %d, ours %zu, "
	       "matched %d\n",
	       (double)CONF, (double)NMS, nref, n_ours, matched);
	free(ref);
	return (matched == nref && (size_t)matched == n_ours && nref > 0) ? 0
	                                                                   : -1;
}

int
main(int argc, char **argv)
{
	char weights[1024], cmd[4096], err[512];
	struct detector *det;
	struct detector_opts o = { .conf = CONF, .nms = NMS,
		                        .threads = 1 };
	struct fbus_format fmt = { .pixfmt = FBUS_PIXFMT_BGR24 };
	const struct det_box *boxes;
	const struct det_tensor *outs;
	size_t nboxes;
	network *net;
	uint8_t *bgr;
	float *X;
	int nouts, rc;

	if (argc != 4) {
		fprintf(stderr, "usage: %s CFG TMPDIR MKWEIGHTS\n", argv[0]);
		return 2;
	}
	mkdir(argv[2], 0700);
	snprintf(weights, sizeof weights, "%s/random.weights", argv[2]);
	snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' 7", argv[3], argv[1],
	         weights);
	if (system(cmd) != 0) {
		fprintf(stderr, "FAIL: %s\n", cmd);
		return 1;
	}

	o.model = argv[1];
	o.weights = weights;
	if (detector_open(&det, &o, err, sizeof err) != 0) {
		fprintf(stderr, "FAIL: our detector: %s\n", err);
		return 1;
	}
	net = load_network(argv[1], weights, 0);
	if (!net) {
		fprintf(stderr, "FAIL: libdarknet could not load %s\n", argv[1]);
		return 1;
	}
	set_batch_network(net, 1);

	fmt.width = (uint32_t)net->w;
	fmt.height = (uint32_t)net->h;
	fbus_format_layout(&fmt);
	bgr = malloc(fmt.size);
	X = malloc(sizeof(float) * 3 * net->w * net->h);
	fill_picture(bgr, net->w, net->h);
	/* darknet's image: planar RGB in 0..1, the same bytes. */
	for (int c = 0; c < 3; c++)
		for (int i = 0; i < net->w * net->h; i++)
			X[c * net->w * net->h + i] = bgr[3 * i + 2 - c] / 255.0f;
	network_predict(net, X);

	rc = detector_run(det, &fmt, bgr, &boxes, &nboxes, NULL);
	if (rc) {
		fprintf(stderr, "FAIL: run: %s\n", detector_error(det));
		return 1;
	}
	nouts = detector_outputs(det, &outs);
	if (compare_raw(net, outs, nouts) != 0 || failures)
		rc = 1;
	if (compare_boxes(net, boxes, nboxes) != 0)
		rc = 1;
	free_network(net);
	detector_close(det);
	free(bgr);
	free(X);
	if (rc || failures) {
		fprintf(stderr, "darknet cross-check FAILED\n");
		return 1;
	}
	printf("darknet cross-check passed\n");
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * yolo_post.h — YOLO post-processing in plain C: which output layout a
 * network has, decoding its rows into boxes, per-class NMS, IoU (the
 * letterbox geometry is in letterbox.h).
 * Everything here is pure computation, unit-tested by test-yolo-post.c.
 */
#ifndef FBUS_YOLO_POST_H
#define FBUS_YOLO_POST_H

#include "detector.h"

#include <stddef.h>

enum yolo_layout {
	YOLO_LAYOUT_NONE = 0,
	/* OpenCV's Darknet region/yolo layers: one [rows, 5+C] matrix per
	 * output, cx cy w h normalised to the network input, objectness,
	 * then class scores already multiplied by the objectness. */
	YOLO_LAYOUT_DARKNET,
	/* YOLOv5 exports: [1, N, 5+C], cx cy w h in input pixels,
	 * objectness, raw class probabilities. */
	YOLO_LAYOUT_V5,
	/* YOLOv8/YOLO11 exports: [1, 4+C, N] (column per box), cx cy w h in
	 * input pixels, class scores, no objectness. */
	YOLO_LAYOUT_V8,
	/* YOLOv8/YOLO11 exports cut before their box decode (onnx_cut.h):
	 * [1, 64+C, N], per box 4 x 16 distance bins (left, top, right,
	 * bottom; DFL) then C class logits; boxes on the stride 8, 16, 32
	 * grids of the input, in that order.  Never guessed from a shape:
	 * the detector knows when it cut. */
	YOLO_LAYOUT_V8_DFL,
};

#define YOLO_DFL_BINS 16

/*
 * Work out the layout and class count from the network's outputs.
 * from_darknet says the model came from a .cfg (its outputs are
 * normalised).  Returns 0, or FBUS_ENOTSUP with a sentence in err naming
 * the shapes seen and the ones understood.
 */
int yolo_detect_layout(const struct det_tensor *outs, int nouts,
                       int from_darknet, int *layout, int *nclasses,
                       char *err, size_t errlen);

const char *yolo_layout_name(int layout);

/* Boxes YOLO_LAYOUT_V8_DFL has for an in_w x in_h input. */
size_t yolo_dfl_rows(int in_w, int in_h);

/* Rows (candidate boxes) a tensor of that layout holds. */
size_t yolo_rows(int layout, const struct det_tensor *t);

/*
 * Append the rows of t scoring at least conf to out (at most cap), as boxes
 * in network-input pixels (top-left x, y, w, h).  Returns how many were
 * appended.
 */
size_t yolo_decode(int layout, const struct det_tensor *t, int nclasses,
                   int in_w, int in_h, float conf, struct det_box *out,
                   size_t cap);

/* Intersection over union of two boxes (x, y, w, h): the one definition,
 * for NMS and for scoring; 0 if either is empty or not finite. */
double det_box_iou(const struct det_box *a, const struct det_box *b);

/*
 * Per-class greedy non-maximum suppression: sort by score (highest first,
 * ties by original order), drop every box whose IoU with a kept box of the
 * same class exceeds iou.  Compacts boxes in place; returns the count kept.
 */
size_t yolo_nms(struct det_box *boxes, size_t n, float iou);

#endif /* FBUS_YOLO_POST_H */

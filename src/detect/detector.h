/* SPDX-License-Identifier: MIT */
/*
 * detector.h — the YOLO detector used by `framebus infer`, as a small C API
 * over an opaque handle.  The network runs in the OpenCV DNN backend (the
 * only C++ file, detector_opencv.cpp); pre-processing (letterbox.c) and
 * post-processing (yolo_post.c) are plain C and work straight from a
 * frame's planes, so a shared-memory frame is never copied whole.
 */
#ifndef FBUS_DETECTOR_H
#define FBUS_DETECTOR_H

#include "framebus.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct detector;

/* Zero/NULL means "default" in every field. */
struct detector_opts {
	const char *model;   /* .onnx, or a Darknet .cfg (needs weights) */
	const char *weights; /* Darknet .weights */
	const char *names;   /* class names, one a line; NULL = COCO if 80 */
	float conf;          /* score threshold; 0 = 0.25 */
	float nms;           /* IoU threshold of NMS; 0 = 0.45 */
	uint32_t input_w;    /* network input; 0 = the cfg's, or what the
	                        ONNX file declares (640 if dynamic) */
	uint32_t input_h;
	int threads;         /* OpenCV threads; 0 = OpenCV's default */
};

/* One detection, in source-frame pixels: top-left corner and size. */
struct det_box {
	float x, y, w, h;
	float score;
	int32_t cls;
};

/* Milliseconds spent in each stage of the last detector_run(). */
struct det_timing {
	double pre_ms;   /* letterbox + normalise into the blob */
	double infer_ms; /* the network's forward pass */
	double post_ms;  /* decode + NMS + mapping back to the source */
};

/* A raw output tensor of the network, as the backend returned it. */
struct det_tensor {
	const float *data;
	int ndims;
	int dims[4];
};

/*
 * Load a model.  On failure returns a negative FBUS_E* code and writes a
 * sentence saying why into err (model missing or unreadable, cfg/weights
 * mismatch, unsupported output layout, names file with the wrong class
 * count, or a build without OpenCV).  Runs one forward pass on a blank
 * input to learn the output layout.  Blocks (loads files). Allocates.
 */
int detector_open(struct detector **out,
                       const struct detector_opts *opts, char *err,
                       size_t errlen);

/*
 * Detect objects in one frame (BGR24, RGB24, BGRA, GRAY8, NV12, I420 or
 * YUYV), reading the pixels in place.  On success *boxes points to *n boxes
 * sorted by score, owned by the detector and valid until the next run or
 * close.  Returns 0, FBUS_ENOTSUP for a pixel format it cannot read, or
 * FBUS_EIO when the backend fails (detail in detector_error()).
 */
int detector_run(struct detector *d, const struct fbus_format *fmt,
                      const uint8_t *data, const struct det_box **boxes,
                      size_t *n, struct det_timing *timing);

/* The class name of index cls ("class 7" past the list). Never NULL. */
const char *detector_class_name(const struct detector *d, int cls);
int detector_num_classes(const struct detector *d);
/* "darknet", "yolov5" or "yolov8" */
const char *detector_layout_name(const struct detector *d);
void detector_input_size(const struct detector *d, uint32_t *w,
                              uint32_t *h);
/* The raw outputs of the last run; valid until the next run or close. */
int detector_outputs(const struct detector *d,
                          const struct det_tensor **t);
/* Detail of the last failure; owned by the handle. */
const char *detector_error(const struct detector *d);
/* NULL is a no-op. */
void detector_close(struct detector *d);

#ifdef __cplusplus
}
#endif

#endif /* FBUS_DETECTOR_H */

/* SPDX-License-Identifier: MIT */
/*
 * dnn_backend.h — the seam between the C detector and the C++ OpenCV DNN
 * backend (detector_opencv.cpp): load a network, run it on a blob made in
 * C, hand back the raw output tensors.  No OpenCV type crosses it.
 */
#ifndef FBUS_DNN_BACKEND_H
#define FBUS_DNN_BACKEND_H

#include "detector.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dnn_net;

#define DNN_MAX_OUTPUTS 8

/*
 * Load `model` (.onnx) or `model` + `weights` (Darknet), or, when onnx is
 * not NULL, the ONNX model in those onnx_len bytes (a rewritten graph).
 * threads > 0 sets OpenCV's thread count.  Returns 0 or FBUS_EINVAL with
 * OpenCV's reason in err.
 */
int dnn_open(struct dnn_net **out, const char *model, const char *weights,
             const void *onnx, size_t onnx_len, int threads, char *err,
             size_t errlen);

/*
 * Forward the 1x3xHxW blob.  On success fills outs[0..n) (data owned by
 * the net, valid until the next forward) and returns n; FBUS_EIO with the
 * reason in err otherwise.
 */
int dnn_forward(struct dnn_net *net, const float *blob, int h, int w,
                struct det_tensor *outs, int max_outs, char *err,
                size_t errlen);

void dnn_close(struct dnn_net *net);

#ifdef __cplusplus
}
#endif

#endif /* FBUS_DNN_BACKEND_H */

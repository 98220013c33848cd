/* SPDX-License-Identifier: MIT */
/* model_file.h — the bundled demo model's whereabouts and an ONNX file's input size. */
#ifndef FBUS_MODEL_FILE_H
#define FBUS_MODEL_FILE_H

#include <stddef.h>
#include <stdint.h>

/* Find the bundled demo model.  On success (1) model, weights ("" for
 * ONNX) and names hold paths; on failure (0) `looked` says where it
 * looked.  All buffers are n (looked: looked_n) bytes. */
int detector_find_bundled(char *model, char *weights, char *names, size_t n,
                          char *looked, size_t looked_n);

/* The W x H of the first input an ONNX file declares (1x3xHxW); 1 if
 * found, 0 if the file has none fixed (dynamic axes) or is no ONNX. */
int onnx_input_size(const char *path, uint32_t *w, uint32_t *h);

#endif

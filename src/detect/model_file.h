/* SPDX-License-Identifier: MIT */
/* model_file.h — the bundled demo model's whereabouts and what an ONNX
 * file says about itself (input size; inputs, outputs, opset). */
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

#define ONNX_MAX_DIMS 8
#define ONNX_MAX_IO 8

/* A graph input or output as the file declares it; dim[k] -1 with
 * dim_param[k] "" when neither a size nor a name is given. */
struct onnx_tensor {
	char name[128];
	int elem_type;         /* TensorProto.DataType; 1 = float32 */
	int has_shape;
	int ndims;             /* may exceed ONNX_MAX_DIMS (then cut) */
	int64_t dim[ONNX_MAX_DIMS];       /* -1: not fixed */
	char dim_param[ONNX_MAX_DIMS][32]; /* a symbolic (dynamic) size */
};

struct onnx_info {
	int64_t ir_version;
	int64_t opset;         /* of the default domain; 0 if absent */
	char producer[64], producer_version[32];
	int ninputs, noutputs; /* may exceed ONNX_MAX_IO (then cut) */
	struct onnx_tensor input[ONNX_MAX_IO];  /* initializers left out */
	struct onnx_tensor output[ONNX_MAX_IO];
	int nodes;
};

/* Read path's ModelProto header and graph signature (no ONNX library:
 * the protobuf wire format).  0, or -1 if unreadable or not ONNX. */
int onnx_describe(const char *path, struct onnx_info *info);
const char *onnx_elem_type_name(int elem_type);

/* Why OpenCV refused a graph, in words, when its message `why` (or our
 * own sentence made from it) is a known refusal, and in *fix what to do;
 * NULL otherwise. */
const char *onnx_known_refusal(const char *why, const char **fix);

#endif

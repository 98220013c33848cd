/* SPDX-License-Identifier: MIT */
/*
 * fuzz_onnx.c — libFuzzer target for the ONNX head cut (onnx_cut.c) and
 * the protobuf reader under it: model files come from users.  Whatever the
 * bytes, no crash, no read outside them; a cut model is itself a model
 * whose head is gone (cutting it again finds nothing).
 * fuzz-sources: ../detect/onnx_cut.c ../detect/onnx_pb.c
 */
#include "../detect/onnx_cut.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *out = NULL, *again = NULL;
	size_t n = 0, m = 0;
	int rc = onnx_cut_dfl(data, size, &out, &n);

	if (rc == 1) {
		if (!out || !n)
			abort();
		if (onnx_cut_dfl(out, n, &again, &m) == 1)
			abort();
		free(again);
		free(out);
	} else if (out) {
		abort(); /* nothing allocated unless cut */
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * model_file.c — what the detector learns from model files before OpenCV
 * sees them: where the bundled demo model is, and the input size an ONNX
 * file declares (read from its protobuf, no ONNX library needed).
 */
#define _GNU_SOURCE
#include "model_file.h"
#include "onnx_pb.h"

#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUNDLED_NAME "framebus-shapes"

static int
readable(const char *path)
{
	return access(path, R_OK) == 0;
}

/*
 * The demo model: in $FBUS_MODELS_DIR if set (and only there), else in
 * share/framebus/models beside the executable's directory: <prefix>/bin/
 * ../share/... once installed, <build>/share/... in a build tree (CMake
 * copies it there), so nothing depends on where the sources were.  ONNX first;
 * a Darknet .cfg + .weights pair of the same name also works.  On success
 * model (and weights, "" for ONNX) and names are set; on failure `looked`
 * says where it looked.
 */
int
detector_find_bundled(char *model, char *weights, char *names, size_t n,
             char *looked, size_t looked_n)
{
	char exe[PATH_MAX], dirs[2][PATH_MAX + 64];
	const char *env = getenv("FBUS_MODELS_DIR");
	ssize_t len;

	dirs[0][0] = dirs[1][0] = '\0';
	if (env && *env) {
		snprintf(dirs[0], sizeof dirs[0], "%s", env);
	} else {
		len = readlink("/proc/self/exe", exe, sizeof exe - 1);
		if (len > 0) {
			char *d;

			exe[len] = '\0';
			d = dirname(exe);
			snprintf(dirs[0], sizeof dirs[0],
			         "%s/../share/framebus/models", d);
			snprintf(dirs[1], sizeof dirs[1],
			         "%s/share/framebus/models", d);
		}
	}
	snprintf(looked, looked_n, "%s/" BUNDLED_NAME ".onnx%s%s", dirs[0],
	         dirs[1][0] ? " and " : "", dirs[1]);
	for (int i = 0; i < 2; i++) {
		if (!dirs[i][0])
			continue;
		if (snprintf(names, n, "%s/" BUNDLED_NAME ".names", dirs[i]) >=
		    (int)n)
			continue;
		weights[0] = '\0';
		if (snprintf(model, n, "%s/" BUNDLED_NAME ".onnx", dirs[i]) <
		            (int)n &&
		    readable(model))
			return 1;
		if (snprintf(model, n, "%s/" BUNDLED_NAME ".cfg", dirs[i]) <
		            (int)n &&
		    snprintf(weights, n, "%s/" BUNDLED_NAME ".weights",
		             dirs[i]) < (int)n &&
		    readable(model) && readable(weights))
			return 1;
	}
	return 0;
}

/* ---- the input shape an ONNX model declares ----------------------------- */

/*
 * OpenCV 4.6 has no API for the input shape an ONNX file declares, and
 * running a fixed-shape export (the bundled model is 1x3xHxW with a
 * non-square H x W) at any other size fails in its Reshape nodes.  So read
 * it from the file: ModelProto.graph (7) -> GraphProto.input (11, the first
 * is the image) -> ValueInfoProto.type (2) -> TypeProto.tensor_type (1) ->
 * .shape (2) -> TensorShapeProto.dim (1, repeated) -> .dim_value (1).
 * Field numbers from onnx/onnx.proto3; the wire format in onnx_pb.h.
 */
/* W x H of the model's first input if it is a fixed 1x{1,3}xHxW; else 0. */
int
onnx_input_size(const char *path, uint32_t *w, uint32_t *h)
{
	struct pb b, g, in, ty, tt, shape, dim;
	struct stat st;
	int64_t d[4];
	int nd = 0, fd, ok = 0;
	void *map;
	uint32_t f;
	uint64_t v;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) != 0 || st.st_size < 16 ||
	    (map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd,
	                0)) == MAP_FAILED) {
		close(fd);
		return 0;
	}
	close(fd);
	b.p = map;
	b.end = b.p + st.st_size;
	if (pb_find(b, 7, &g) && pb_find(g, 11, &in) && pb_find(in, 2, &ty) &&
	    pb_find(ty, 1, &tt) && pb_find(tt, 2, &shape)) {
		struct pb sub;

		while (pb_next(&shape, &f, &v, &sub) == 1) {
			if (f != 1 || !sub.p)
				continue;
			if (nd == 4) {
				nd = 5;
				break;
			}
			d[nd] = -1;
			dim = sub;
			while (pb_next(&dim, &f, &v, &sub) == 1)
				if (f == 1 && !sub.p && v <= 65536)
					d[nd] = (int64_t)v;
			nd++;
		}
		if (nd == 4 && (d[0] == 1 || d[0] == -1) &&
		    (d[1] == 3 || d[1] == 1) && d[2] >= 32 && d[2] <= 4096 &&
		    d[3] >= 32 && d[3] <= 4096) {
			*h = (uint32_t)d[2];
			*w = (uint32_t)d[3];
			ok = 1;
		}
	}
	munmap(map, (size_t)st.st_size);
	return ok;
}

/* ---- what an ONNX file says about itself (framebus model-info) ---------- */

/* ValueInfoProto: name (1), type (2) -> tensor_type (1) -> elem_type (1),
 * shape (2) -> dim (1): dim_value (1) or dim_param (2). */
static void
value_info(struct pb vi, struct onnx_tensor *t)
{
	struct pb ty, tt, shape, sub;
	uint32_t f;
	uint64_t v;

	memset(t, 0, sizeof *t);
	{
		struct pb b = vi;

		while (pb_next(&b, &f, &v, &sub) == 1)
			if (f == 1 && sub.p)
				pb_string(&sub, t->name, sizeof t->name);
	}
	if (!pb_find(vi, 2, &ty) || !pb_find(ty, 1, &tt))
		return;
	{
		struct pb b = tt;

		while (pb_next(&b, &f, &v, &sub) == 1)
			if (f == 1 && !sub.p)
				t->elem_type = (int)v;
	}
	if (!pb_find(tt, 2, &shape))
		return;
	t->has_shape = 1;
	while (pb_next(&shape, &f, &v, &sub) == 1) {
		struct pb dim = sub, ds;
		int k = t->ndims;

		if (f != 1 || !sub.p)
			continue;
		if (k == ONNX_MAX_DIMS) {
			t->ndims++; /* said as "more than" */
			continue;
		}
		t->dim[k] = -1;
		while (pb_next(&dim, &f, &v, &ds) == 1) {
			if (f == 1 && !ds.p)
				t->dim[k] = (int64_t)v;
			else if (f == 2 && ds.p)
				pb_string(&ds, t->dim_param[k],
				          sizeof t->dim_param[k]);
		}
		t->ndims++;
	}
}

/* Whether `name` is one of the graph's initializers (TensorProto field 8):
 * older exporters list the weights as inputs too. */
static int
is_initializer(struct pb g, const char *name)
{
	struct pb sub, ts, ns;
	uint32_t f, f2;
	uint64_t v;

	while (pb_next(&g, &f, &v, &sub) == 1) {
		char buf[sizeof ((struct onnx_tensor *)0)->name];

		if (f != 5 || !sub.p)
			continue;
		ts = sub;
		while (pb_next(&ts, &f2, &v, &ns) == 1)
			if (f2 == 8 && ns.p) {
				pb_string(&ns, buf, sizeof buf);
				if (!strcmp(buf, name))
					return 1;
			}
	}
	return 0;
}

int
onnx_describe(const char *path, struct onnx_info *info)
{
	struct pb b, g, sub;
	struct stat st;
	uint32_t f;
	uint64_t v;
	void *map;
	int fd, rc = 0;

	memset(info, 0, sizeof *info);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || st.st_size < 16 ||
	    (map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd,
	                0)) == MAP_FAILED) {
		close(fd);
		return -1;
	}
	close(fd);
	b.p = map;
	b.end = b.p + st.st_size;
	/* ModelProto: ir_version 1, producer_name 2, producer_version 3,
	 * graph 7, opset_import 8 (OperatorSetIdProto: domain 1, version 2) */
	while ((rc = pb_next(&b, &f, &v, &sub)) == 1) {
		if (f == 1 && !sub.p) {
			info->ir_version = (int64_t)v;
		} else if (f == 2 && sub.p) {
			pb_string(&sub, info->producer, sizeof info->producer);
		} else if (f == 3 && sub.p) {
			pb_string(&sub, info->producer_version,
			          sizeof info->producer_version);
		} else if (f == 8 && sub.p) {
			struct pb os = sub, s2;
			char domain[64] = "";
			int64_t ver = 0;
			uint32_t f2;

			while (pb_next(&os, &f2, &v, &s2) == 1) {
				if (f2 == 1 && s2.p)
					pb_string(&s2, domain, sizeof domain);
				else if (f2 == 2 && !s2.p)
					ver = (int64_t)v;
			}
			if (!domain[0] || !strcmp(domain, "ai.onnx"))
				info->opset = ver;
		}
	}
	if (rc < 0 || !pb_find((struct pb){ map, (const uint8_t *)map +
	                                   st.st_size }, 7, &g)) {
		munmap(map, (size_t)st.st_size);
		return -1;
	}
	/* GraphProto: node 1, initializer 5, input 11, output 12 */
	b = g;
	while (pb_next(&b, &f, &v, &sub) == 1) {
		struct onnx_tensor t;

		if ((f != 11 && f != 12) || !sub.p)
			continue;
		value_info(sub, &t);
		if (f == 11) {
			if (is_initializer(g, t.name))
				continue;
			if (info->ninputs < ONNX_MAX_IO)
				info->input[info->ninputs] = t;
			info->ninputs++;
		} else {
			if (info->noutputs < ONNX_MAX_IO)
				info->output[info->noutputs] = t;
			info->noutputs++;
		}
	}
	b = g;
	while (pb_next(&b, &f, &v, &sub) == 1)
		if (f == 1)
			info->nodes++;
	munmap(map, (size_t)st.st_size);
	return 0;
}

const char *
onnx_elem_type_name(int t)
{
	/* TensorProto.DataType */
	static const char *const names[] = {
		"undefined", "float32", "uint8", "int8", "uint16", "int16",
		"int32", "int64", "string", "bool", "float16", "float64",
		"uint32", "uint64", "complex64", "complex128", "bfloat16",
	};

	return t >= 0 && t < (int)(sizeof names / sizeof *names) ? names[t]
	                                                         : "?";
}

const char *
onnx_known_refusal(const char *why, const char **fix)
{
	/* OpenCV 4.6's importer folds an Add/Sub of two constants and
	 * asserts their sizes equal by comparing pointers (opencv#22399,
	 * gone in 4.7): the anchor arithmetic of the YOLOv8/YOLO11 Detect
	 * head trips it whatever the opset (ultralytics#1277, #1836). */
	if ((strstr(why, "parseBias") &&
	     strstr(why, "blob_0.size == blob_1.size")) ||
	    strstr(why, "opencv/opencv#22399")) {
		*fix = "use a YOLOv5 export (python export.py --include onnx "
		       "--opset 12) or a Darknet model with this OpenCV, or "
		       "OpenCV 4.7 or newer";
		return "OpenCV 4.6 (Debian 12's) cannot import the box decode "
		       "at the end of YOLOv8/YOLO11 exports (an importer bug "
		       "fixed in OpenCV 4.7, opencv/opencv#22399)";
	}
	/* opset 13+ Split takes its sizes as an input, which 4.6 cannot
	 * do for unequal parts (YOLO11's attention) */
	if ((strstr(why, "Split") && strstr(why, "splits > 0")) ||
	    strstr(why, "unequal parts")) {
		*fix = "re-export with opset=12 (ultralytics: yolo export "
		       "model=yolo11n.pt format=onnx opset=12 imgsz=640)";
		return "OpenCV 4.6 cannot split into unequal parts as opset "
		       "13 and later write it";
	}
	return NULL;
}

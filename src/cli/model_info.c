/* SPDX-License-Identifier: MIT */
/*
 * model_info.c — `framebus model-info FILE`: what infer sees in a model
 * file (inputs, outputs, opset, the layout, classes and input size it
 * would use) and whether OpenCV runs it — the first thing to run when a
 * model misbehaves.  Reads the ONNX header itself, then loads the model
 * exactly as infer does.
 */
#include "cli.h"
#include "darknet_cfg.h"
#include "detector.h"
#include "model_file.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: framebus model-info MODEL [options]\n"
	        "\n"
	        "What framebus infer sees in a model file and whether OpenCV\n"
	        "can run it: inputs, outputs, opset (ONNX), the layout,\n"
	        "classes and input size infer would use.\n"
	        "\n"
	        "  --weights PATH   Darknet .weights for a .cfg model\n"
	        "  --names PATH     class names, one a line\n"
	        "  --json           one JSON object on stdout\n"
	        "  -h, --help       this text\n"
	        "\n"
	        "Exit status: 0 infer can run it, 1 it cannot (the reason and\n"
	        "what to do are said), 2 usage error.\n");
}

static int
is_onnx(const char *path)
{
	size_t n = strlen(path);

	return n > 5 && !strcasecmp(path + n - 5, ".onnx");
}

/* "1x3x640x640", dynamic sizes by name ("batchx3xheightxwidth") or "?" */
static void
shape_text(const struct onnx_tensor *t, char *buf, size_t n)
{
	size_t len = 0;

	buf[0] = '\0';
	if (!t->has_shape) {
		snprintf(buf, n, "(no shape)");
		return;
	}
	for (int k = 0; k < t->ndims && k < ONNX_MAX_DIMS && len < n; k++) {
		if (t->dim[k] >= 0)
			len += (size_t)snprintf(buf + len, n - len, "%s%lld",
			                        k ? "x" : "", (long long)t->dim[k]);
		else
			len += (size_t)snprintf(buf + len, n - len, "%s%s",
			                        k ? "x" : "", t->dim_param[k][0] ?
			                        t->dim_param[k] : "?");
	}
	if (t->ndims > ONNX_MAX_DIMS && len < n)
		snprintf(buf + len, n - len, "x...");
}

static int
dynamic(const struct onnx_tensor *t)
{
	if (!t->has_shape)
		return 1;
	for (int k = 0; k < t->ndims && k < ONNX_MAX_DIMS; k++)
		if (t->dim[k] < 0)
			return 1;
	return 0;
}

static void
json_tensors(const char *key, const struct onnx_tensor *t, int n)
{
	printf(",\"%s\":[", key);
	for (int i = 0; i < n && i < ONNX_MAX_IO; i++) {
		printf("%s{\"name\":", i ? "," : "");
		cli_json_string(stdout, t[i].name);
		printf(",\"type\":\"%s\",\"shape\":[",
		       onnx_elem_type_name(t[i].elem_type));
		for (int k = 0; k < t[i].ndims && k < ONNX_MAX_DIMS; k++) {
			if (k)
				printf(",");
			if (t[i].dim[k] >= 0)
				printf("%lld", (long long)t[i].dim[k]);
			else
				cli_json_string(stdout, t[i].dim_param[k][0] ?
				                t[i].dim_param[k] : "?");
		}
		printf("]}");
	}
	printf("]");
}

/* What to do when OpenCV refuses a graph, from what the file says. */
static const char *
advice(const struct onnx_info *oi, int have_onnx, const char *err)
{
	const char *fix;

	if (have_onnx && onnx_known_refusal(err, &fix))
		return fix;
	if (!have_onnx)
		return "check the .cfg and .weights are a pair (same network)";
	if (oi->ninputs != 1)
		return "export a graph with one image input";
	if (dynamic(&oi->input[0]))
		return "re-export with a fixed input size (ultralytics: "
		       "imgsz=640, dynamic=False) and opset=12";
	if (oi->opset > 12)
		return "re-export with opset=12 (YOLOv5: python export.py "
		       "--include onnx --opset 12; ultralytics: yolo export "
		       "format=onnx opset=12 imgsz=640); OpenCV 4.6 reads "
		       "opset 12 graphs best";
	if (oi->noutputs >= 1 && oi->output[0].has_shape &&
	    oi->output[0].ndims == 2)
		return "a 2-D output (1 x N) is a classifier's: infer needs a "
		       "detection model (YOLOv5, YOLOv8/11 or Darknet YOLO)";
	if (oi->noutputs != 1)
		return "export a graph with one output (the detection head "
		       "concatenated: ultralytics and YOLOv5 exports do this)";
	return "see the reason above; README, \"A real COCO model\"";
}

/* What infer does with a file that runs but is not quite what it reads. */
static void
print_notes(const struct onnx_info *oi, uint32_t w, uint32_t h)
{
	if (oi->ninputs >= 1 && dynamic(&oi->input[0]))
		printf("note     the file leaves the input size open: infer "
		       "uses %ux%u (--input-size WxH for another)\n", w, h);
	for (int i = 1; i < oi->noutputs && i < ONNX_MAX_IO; i++)
		if (oi->output[i].has_shape && oi->output[i].ndims == 4)
			printf("note     a segmentation model: infer uses its "
			       "boxes; the masks (%s) are not used\n",
			       oi->output[i].name);
}

int
cmd_model_info(int argc, char **argv)
{
	enum { O_WEIGHTS = 256, O_NAMES, O_JSON };
	static const struct option longopts[] = {
		{ "weights", required_argument, NULL, O_WEIGHTS },
		{ "names", required_argument, NULL, O_NAMES },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct detector_opts dopts = { .threads = 1 };
	struct onnx_info oi;
	struct detector *det = NULL;
	char err[512] = "", shape[160];
	int c, json = 0, have_onnx = 0, rc;
	uint32_t w = 0, h = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case O_WEIGHTS: dopts.weights = optarg; break;
		case O_NAMES: dopts.names = optarg; break;
		case O_JSON: json = 1; break;
		case 'h': usage(stdout); return 0;
		default: cli_getopt_error(c, argv);
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	dopts.model = argv[optind];
	if (is_onnx(dopts.model)) {
		if (onnx_describe(dopts.model, &oi) != 0)
			cli_die(1, "%s: not an ONNX model (unreadable, or not "
			           "a ModelProto with a graph)", dopts.model);
		have_onnx = 1;
	} else if (!dopts.weights) {
		cli_die(2, "%s: a Darknet .cfg needs --weights (or give an "
		           ".onnx file)", dopts.model);
	}
	rc = detector_open(&det, &dopts, err, sizeof err);
	if (!rc)
		detector_input_size(det, &w, &h);

	if (json) {
		printf("{\"model\":");
		cli_json_string(stdout, dopts.model);
		printf(",\"format\":\"%s\"", have_onnx ? "onnx" : "darknet");
		if (have_onnx) {
			printf(",\"ir_version\":%lld,\"opset\":%lld,\"producer\":",
			       (long long)oi.ir_version, (long long)oi.opset);
			cli_json_string(stdout, oi.producer);
			printf(",\"producer_version\":");
			cli_json_string(stdout, oi.producer_version);
			printf(",\"nodes\":%d", oi.nodes);
			json_tensors("inputs", oi.input, oi.ninputs);
			json_tensors("outputs", oi.output, oi.noutputs);
		}
		printf(",\"runs\":%s", rc ? "false" : "true");
		if (rc) {
			printf(",\"error\":");
			cli_json_string(stdout, err);
			printf(",\"advice\":");
			cli_json_string(stdout, advice(&oi, have_onnx, err));
		} else {
			printf(",\"layout\":\"%s\",\"classes\":%d,"
			       "\"input_size\":[%u,%u]",
			       detector_layout_name(det), detector_num_classes(det),
			       w, h);
		}
		printf("}\n");
	} else {
		printf("model    %s (%s)\n", dopts.model,
		       have_onnx ? "ONNX" : "Darknet");
		if (have_onnx) {
			printf("format   ir_version %lld, opset %lld, %d nodes%s%s"
			       "%s%s\n", (long long)oi.ir_version,
			       (long long)oi.opset, oi.nodes,
			       oi.producer[0] ? ", exported by " : "",
			       oi.producer, oi.producer_version[0] ? " " : "",
			       oi.producer_version);
			for (int i = 0; i < oi.ninputs && i < ONNX_MAX_IO; i++) {
				shape_text(&oi.input[i], shape, sizeof shape);
				printf("input    %s %s %s%s\n", oi.input[i].name,
				       onnx_elem_type_name(oi.input[i].elem_type),
				       shape, dynamic(&oi.input[i]) ?
				       " (dynamic)" : "");
			}
			for (int i = 0; i < oi.noutputs && i < ONNX_MAX_IO; i++) {
				shape_text(&oi.output[i], shape, sizeof shape);
				printf("output   %s %s %s\n", oi.output[i].name,
				       onnx_elem_type_name(oi.output[i].elem_type),
				       shape);
			}
		}
		if (rc)
			printf("infer    cannot run it: %s\nfix      %s\n", err,
			       advice(&oi, have_onnx, err));
		else
			printf("infer    runs it: %s layout, %d classes, input "
			       "%ux%u\n", detector_layout_name(det),
			       detector_num_classes(det), w, h);
		if (!rc && have_onnx)
			print_notes(&oi, w, h);
	}
	detector_close(det);
	return rc ? 1 : 0;
}

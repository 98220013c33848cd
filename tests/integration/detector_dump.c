/* SPDX-License-Identifier: MIT */
/*
 * detector_dump.c — test helper: runs pictures through the detector infer
 * uses (letterbox.c → OpenCV DNN → yolo_post.c) and writes what it saw,
 * so a reference implementation (PyTorch, yolo_compare.py) can
 * check the network's raw outputs and the decoded boxes independently.
 *
 *   detector-dump MODEL WEIGHTS|- CONF NMS OUTDIR PICTURE.bgr:WxH...
 *
 * Pictures are packed BGR (bgr24).  For picture k, output tensor j goes to
 * OUTDIR/k-j.f32 (float32, C order); stdout gets one JSON line per
 * picture: {"outputs":[[dims...]...],"boxes":[[x,y,w,h,score,class]...]}.
 */
#define _POSIX_C_SOURCE 200809L
#include "detector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *
read_all(const char *path, size_t want)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = malloc(want + 1);
	size_t got = 0;

	if (!f || !buf) {
		if (f)
			fclose(f);
		free(buf);
		return NULL;
	}
	got = fread(buf, 1, want + 1, f);
	fclose(f);
	if (got != want) {
		fprintf(stderr, "detector-dump: %s: %zu bytes, want %zu\n",
		        path, got, want);
		free(buf);
		return NULL;
	}
	return buf;
}

static int
dump_outputs(struct detector *det, const char *dir, int k)
{
	const struct det_tensor *t;
	int n = detector_outputs(det, &t);

	printf("{\"outputs\":[");
	for (int j = 0; j < n; j++) {
		char path[4096];
		size_t count = 1;
		FILE *f;

		printf("%s[", j ? "," : "");
		for (int d = 0; d < t[j].ndims; d++) {
			printf("%s%d", d ? "," : "", t[j].dims[d]);
			count *= (size_t)t[j].dims[d];
		}
		printf("]");
		snprintf(path, sizeof path, "%s/%d-%d.f32", dir, k, j);
		f = fopen(path, "wb");
		if (!f || fwrite(t[j].data, sizeof(float), count, f) != count) {
			fprintf(stderr, "detector-dump: cannot write %s\n", path);
			if (f)
				fclose(f);
			return -1;
		}
		fclose(f);
	}
	printf("],");
	return 0;
}

int
main(int argc, char **argv)
{
	struct detector_opts o = { 0 };
	struct detector *det;
	char err[512];
	int rc = 0;

	if (argc < 7) {
		fprintf(stderr, "usage: detector-dump MODEL WEIGHTS|- CONF NMS "
		        "OUTDIR PICTURE.bgr:WxH...\n");
		return 2;
	}
	o.model = argv[1];
	o.weights = strcmp(argv[2], "-") ? argv[2] : NULL;
	o.conf = strtof(argv[3], NULL);
	o.nms = strtof(argv[4], NULL);
	if (detector_open(&det, &o, err, sizeof err) != 0) {
		fprintf(stderr, "detector-dump: %s\n", err);
		return 1;
	}
	for (int k = 0; 6 + k < argc && !rc; k++) {
		struct fbus_format fmt = { .pixfmt = FBUS_PIXFMT_BGR24 };
		const struct det_box *b;
		char path[4096], *colon;
		unsigned w, h;
		uint8_t *bgr;
		size_t n;

		snprintf(path, sizeof path, "%s", argv[6 + k]);
		colon = strrchr(path, ':');
		if (!colon || sscanf(colon + 1, "%ux%u", &w, &h) != 2) {
			fprintf(stderr, "detector-dump: %s: want FILE:WxH\n", path);
			rc = 2;
			break;
		}
		*colon = '\0';
		fmt.width = w;
		fmt.height = h;
		fbus_format_layout(&fmt);
		bgr = read_all(path, fmt.size);
		if (!bgr) {
			rc = 1;
			break;
		}
		if (detector_run(det, &fmt, bgr, &b, &n, NULL) != 0) {
			fprintf(stderr, "detector-dump: %s: %s\n", path,
			        detector_error(det));
			free(bgr);
			rc = 1;
			break;
		}
		free(bgr);
		if (dump_outputs(det, argv[5], k) != 0) {
			rc = 1;
			break;
		}
		printf("\"boxes\":[");
		for (size_t i = 0; i < n; i++)
			printf("%s[%.3f,%.3f,%.3f,%.3f,%.5f,%d]", i ? "," : "",
			       b[i].x, b[i].y, b[i].w, b[i].h, b[i].score,
			       b[i].cls);
		printf("]}\n");
	}
	detector_close(det);
	return rc;
}

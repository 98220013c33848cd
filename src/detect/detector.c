/* SPDX-License-Identifier: MIT */
/*
 * detector.c — the detector behind detector.h: checks the model files
 * before OpenCV sees them (so a missing file or a cfg/weights mismatch is
 * named as such), learns the output layout from one blank forward pass,
 * then per frame: letterbox.c → the DNN backend → yolo_post.c.
 */
#define _POSIX_C_SOURCE 200809L
#include "detector.h"
#include "model_file.h"
#include "onnx_cut.h"

#include "darknet_cfg.h"
#include "dnn_backend.h"
#include "letterbox.h"
#include "names.h"
#include "yolo_post.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define DEFAULT_CONF 0.25f
#define DEFAULT_NMS 0.45f
#define DEFAULT_ONNX_SIZE 640

struct detector {
	struct dnn_net *net;
	int from_darknet;
	int layout, nclasses;
	uint8_t *cut;   /* while loading: the ONNX graph cut (onnx_cut.h) */
	size_t cut_len; /* non-zero: the model was cut */
	int in_w, in_h;
	float conf, nms;
	float pad; /* letterbox fill, 0..1 */
	enum letterbox_round round; /* the model's tools' rounding */
	char **names;
	int nnames;
	struct det_tensor outs[DNN_MAX_OUTPUTS];
	int nouts;
	float *blob;
	struct letterbox lb;
	struct letterbox_ws ws;
	struct det_box *cand;
	size_t cand_cap;
	char err[512];
};

#ifdef FBUS_HAVE_OPENCV
static int
fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* Readable regular file?  Returns 0 and its size, or an error. */
static int
check_file(const char *what, const char *path, off_t *size, char *err,
           size_t errlen)
{
	struct stat st;
	FILE *f;

	if (stat(path, &st) != 0)
		return fail(err, errlen, -errno, "%s %s: %s", what, path,
		            strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(err, errlen, FBUS_EINVAL, "%s %s: not a file",
		            what, path);
	f = fopen(path, "rb");
	if (!f)
		return fail(err, errlen, -errno, "%s %s: %s", what, path,
		            strerror(errno));
	fclose(f);
	if (st.st_size == 0)
		return fail(err, errlen, FBUS_EINVAL, "%s %s: empty file", what,
		            path);
	if (size)
		*size = st.st_size;
	return 0;
}

/* The weights file must hold exactly what the cfg asks for. */
static int
check_weights(const char *cfgpath, const struct darknet_cfg *cfg,
              const char *path, off_t size, char *err, size_t errlen)
{
	unsigned char hdr[12];
	size_t hbytes;
	uint64_t want;
	FILE *f = fopen(path, "rb");

	if (!f)
		return fail(err, errlen, -errno, "weights %s: %s", path,
		            strerror(errno));
	if (fread(hdr, 1, sizeof hdr, f) != sizeof hdr) {
		fclose(f);
		return fail(err, errlen, FBUS_EINVAL,
		            "weights %s: too short for a Darknet weights file",
		            path);
	}
	fclose(f);
	hbytes = darknet_weights_header_bytes(hdr);
	if (!hbytes)
		return fail(err, errlen, FBUS_EINVAL,
		            "weights %s: not a Darknet weights file (bad "
		            "version header)",
		            path);
	if (!cfg->sized)
		return 0;
	want = hbytes + cfg->nfloats * 4;
	if ((uint64_t)size != want)
		return fail(err, errlen, FBUS_EINVAL,
		            "cfg/weights mismatch: %s needs %llu weights "
		            "(%llu bytes) but %s has %lld bytes%s",
		            cfgpath, (unsigned long long)cfg->nfloats,
		            (unsigned long long)want, path, (long long)size,
		            (uint64_t)size < want ? " (too few)"
		                                  : " (too many)");
	return 0;
}

static int
load_names(struct detector *d, const char *path, char *err,
           size_t errlen)
{
	int rc;

	if (path) {
		rc = names_load(path, &d->names, &d->nnames, err, errlen);
		if (rc)
			return rc;
		if (d->nnames != d->nclasses)
			return fail(err, errlen, FBUS_EINVAL,
			            "names file %s has %d class names but the "
			            "model outputs %d classes",
			            path, d->nnames, d->nclasses);
		return 0;
	}
	/* Without a names file: COCO's for a COCO-sized head, numbers
	 * otherwise, so every index has a printable name. */
	d->names = calloc((size_t)d->nclasses, sizeof *d->names);
	if (!d->names)
		return fail(err, errlen, FBUS_ENOMEM, "out of memory");
	d->nnames = d->nclasses;
	for (int i = 0; i < d->nclasses; i++) {
		char buf[32];

		if (d->nclasses == NAMES_COCO_COUNT)
			d->names[i] = strdup(names_coco[i]);
		else {
			snprintf(buf, sizeof buf, "class%d", i);
			d->names[i] = strdup(buf);
		}
		if (!d->names[i])
			return fail(err, errlen, FBUS_ENOMEM, "out of memory");
	}
	return 0;
}

static int
forward(struct detector *d, char *err, size_t errlen)
{
	int n = dnn_forward(d->net, d->blob, d->in_h, d->in_w, d->outs,
	                    DNN_MAX_OUTPUTS, err, errlen);

	if (n < 0)
		return n;
	d->nouts = n;
	return 0;
}

/* The ONNX file, cut before a YOLOv8-style box decode if it has one
 * (d->cut, d->cut_len; none: both stay 0). */
static int
read_cut(struct detector *d, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n = -1;
	int rc;

	if (f && fseek(f, 0, SEEK_END) == 0)
		n = ftell(f);
	if (n > 0 && n <= (1L << 30) && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n)) && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (f)
		fclose(f);
	if (!buf) /* OpenCV reads it itself and says what is wrong */
		return 0;
	rc = onnx_cut_dfl(buf, (size_t)n, &d->cut, &d->cut_len);
	free(buf);
	if (rc < 0)
		return fail(err, errlen, FBUS_ENOMEM, "%s: out of memory "
		            "while reading its graph", path);
	return 0;
}

/* A cut graph's one output: 1 x (64 + C) x N, N the boxes of the three
 * grids at our input size. */
static int
dfl_layout(struct detector *d, const char *path, char *err, size_t errlen)
{
	const struct det_tensor *t = &d->outs[0];

	if (d->nouts != 1 || t->ndims != 3 || t->dims[0] != 1 ||
	    t->dims[1] <= 4 * YOLO_DFL_BINS ||
	    (size_t)t->dims[2] != yolo_dfl_rows(d->in_w, d->in_h))
		return fail(err, errlen, FBUS_ENOTSUP,
		            "%s: its head before the box decode is not 1 x "
		            "(64 + classes) x %zu at %dx%d", path,
		            yolo_dfl_rows(d->in_w, d->in_h), d->in_w, d->in_h);
	d->layout = YOLO_LAYOUT_V8_DFL;
	d->nclasses = t->dims[1] - 4 * YOLO_DFL_BINS;
	return 0;
}
#endif /* FBUS_HAVE_OPENCV */

int
detector_open(struct detector **out,
                   const struct detector_opts *opts, char *err,
                   size_t errlen)
{
	*out = NULL;
#ifndef FBUS_HAVE_OPENCV
	(void)opts;
	snprintf(err, errlen,
	         "built without OpenCV: install libopencv-dev (or run "
	         "scripts/deps.sh) and rebuild to run detection");
	return FBUS_ENOTSUP;
#else
	struct detector *d;
	struct darknet_cfg *cfg = NULL;
	off_t wsize = 0;
	int rc;

	if (!opts || !opts->model)
		return fail(err, errlen, FBUS_EINVAL, "no model given");
	d = calloc(1, sizeof *d);
	if (!d)
		return fail(err, errlen, FBUS_ENOMEM, "out of memory");
	d->conf = opts->conf > 0 ? opts->conf : DEFAULT_CONF;
	d->nms = opts->nms > 0 ? opts->nms : DEFAULT_NMS;

	rc = check_file("model", opts->model, NULL, err, errlen);
	if (rc)
		goto fail;
	if (ends_with(opts->model, ".cfg")) {
		d->from_darknet = 1;
		if (!opts->weights) {
			rc = fail(err, errlen, FBUS_EINVAL,
			          "Darknet model %s needs its weights: "
			          "--weights PATH",
			          opts->model);
			goto fail;
		}
		rc = check_file("weights", opts->weights, &wsize, err, errlen);
		if (rc)
			goto fail;
		cfg = malloc(sizeof *cfg);
		if (!cfg) {
			rc = fail(err, errlen, FBUS_ENOMEM, "out of memory");
			goto fail;
		}
		rc = darknet_cfg_parse(opts->model, cfg, err, errlen);
		if (rc)
			goto fail;
		rc = check_weights(opts->model, cfg, opts->weights, wsize, err,
		                   errlen);
		if (rc)
			goto fail;
		d->in_w = cfg->width;
		d->in_h = cfg->height;
		/* Darknet letterboxes with mid grey 0.5. */
		d->pad = 0.5f;
		d->round = LETTERBOX_DARKNET;
	} else if (ends_with(opts->model, ".onnx")) {
		if (opts->weights) {
			rc = fail(err, errlen, FBUS_EINVAL,
			          "--weights is only for Darknet .cfg models; "
			          "%s holds its own weights",
			          opts->model);
			goto fail;
		}
		/* the size the file declares: a fixed-shape export fails in
		 * its Reshape nodes at any other */
		{
			uint32_t w, h;

			if (onnx_input_size(opts->model, &w, &h)) {
				d->in_w = (int)w;
				d->in_h = (int)h;
			} else {
				d->in_w = d->in_h = DEFAULT_ONNX_SIZE;
			}
		}
		/* Ultralytics letterboxes with 114/255. */
		d->pad = 114.0f / 255.0f;
		d->round = LETTERBOX_ULTRALYTICS;
	} else if (ends_with(opts->model, ".weights")) {
		rc = fail(err, errlen, FBUS_EINVAL,
		          "%s is a weights file: pass the .cfg as --model and "
		          "this file as --weights",
		          opts->model);
		goto fail;
	} else {
		rc = fail(err, errlen, FBUS_EINVAL,
		          "model %s: unknown type (expected .onnx, or a "
		          "Darknet .cfg with --weights)",
		          opts->model);
		goto fail;
	}
	if (opts->input_w)
		d->in_w = (int)opts->input_w;
	if (opts->input_h)
		d->in_h = (int)opts->input_h;
	if (d->in_w < 32 || d->in_h < 32 || d->in_w % 32 || d->in_h % 32 ||
	    d->in_w > 4096 || d->in_h > 4096) {
		rc = fail(err, errlen, FBUS_EINVAL,
		          "input size %dx%d: YOLO needs multiples of 32 "
		          "between 32 and 4096",
		          d->in_w, d->in_h);
		goto fail;
	}

	/* YOLOv8/YOLO11: without the box decode this OpenCV cannot read
	 * (onnx_cut.h); we decode the bins */
	if (!d->from_darknet) {
		rc = read_cut(d, opts->model, err, errlen);
		if (rc)
			goto fail;
	}
	rc = dnn_open(&d->net, opts->model,
	              d->from_darknet ? opts->weights : NULL, d->cut,
	              d->cut_len, opts->threads, err, errlen);
	free(d->cut);
	d->cut = NULL;
	if (rc) {
		char why[256];

		const char *known, *fix;

		snprintf(why, sizeof why, "%s", err);
		known = d->from_darknet ? NULL : onnx_known_refusal(why, &fix);
		if (known)
			rc = fail(err, errlen, rc, "cannot load %s: %s; %s",
			          opts->model, known, fix);
		else
			rc = fail(err, errlen, rc, "cannot load %s: %s",
			          opts->model, why);
		goto fail;
	}
	d->blob = malloc((size_t)3 * d->in_w * d->in_h * sizeof(float));
	if (!d->blob) {
		rc = fail(err, errlen, FBUS_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < (size_t)3 * d->in_w * d->in_h; i++)
		d->blob[i] = d->pad;
	rc = forward(d, err, errlen);
	if (rc) {
		char why[256];

		snprintf(why, sizeof why, "%s", err);
		rc = fail(err, errlen, FBUS_EINVAL,
		          "%s does not run at %dx%d: %s", opts->model, d->in_w,
		          d->in_h, why);
		goto fail;
	}
	if (d->cut_len)
		rc = dfl_layout(d, opts->model, err, errlen);
	else
		rc = yolo_detect_layout(d->outs, d->nouts, d->from_darknet,
		                        &d->layout, &d->nclasses, err, errlen);
	if (rc)
		goto fail;
	rc = load_names(d, opts->names, err, errlen);
	if (rc)
		goto fail;
	for (int i = 0; i < d->nouts; i++)
		d->cand_cap += yolo_rows(d->layout, &d->outs[i]);
	d->cand = malloc((d->cand_cap ? d->cand_cap : 1) * sizeof *d->cand);
	if (!d->cand) {
		rc = fail(err, errlen, FBUS_ENOMEM, "out of memory");
		goto fail;
	}
	free(cfg);
	*out = d;
	return 0;

fail:
	free(cfg);
	detector_close(d);
	return rc;
#endif
}

int
detector_run(struct detector *d, const struct fbus_format *fmt,
                  const uint8_t *data, const struct det_box **boxes,
                  size_t *n, struct det_timing *timing)
{
#ifndef FBUS_HAVE_OPENCV
	(void)d, (void)fmt, (void)data, (void)boxes, (void)n, (void)timing;
	return FBUS_ENOTSUP;
#else
	double t0, t1, t2, t3;
	size_t cnt = 0, kept = 0;
	int rc;

	*boxes = NULL;
	*n = 0;
	if (!letterbox_supported(fmt->pixfmt)) {
		const char *name = fbus_pixfmt_name(fmt->pixfmt);

		fail(d->err, sizeof d->err, 0,
		     "cannot detect on %s frames%s", name ? name : "unknown",
		     fmt->pixfmt == FBUS_PIXFMT_ENCODED
		             ? " (subscribe with ?format=bgr24 to decode)"
		             : "");
		return FBUS_ENOTSUP;
	}
	t0 = now_ms();
	if (d->lb.src_w != (int)fmt->width || d->lb.src_h != (int)fmt->height)
		letterbox_geometry(&d->lb, (int)fmt->width, (int)fmt->height,
		                   d->in_w, d->in_h, d->round);
	rc = letterbox_fill(&d->lb, fmt, data, d->pad, d->blob, &d->ws);
	if (rc) {
		fail(d->err, sizeof d->err, 0, "pre-processing failed: %s",
		     fbus_strerror(rc));
		return rc;
	}
	t1 = now_ms();
	rc = forward(d, d->err, sizeof d->err);
	if (rc)
		return FBUS_EIO;
	t2 = now_ms();
	for (int i = 0; i < d->nouts; i++) {
		/* A network whose layout changed between calls (it cannot,
		 * but the tensors come from outside) is refused. */
		if (yolo_rows(d->layout, &d->outs[i]) > d->cand_cap - cnt)
			break;
		cnt += yolo_decode(d->layout, &d->outs[i], d->nclasses,
		                   d->in_w, d->in_h, d->conf, d->cand + cnt,
		                   d->cand_cap - cnt);
		if (d->layout != YOLO_LAYOUT_DARKNET)
			break;
	}
	cnt = yolo_nms(d->cand, cnt, d->nms);
	letterbox_unmap(&d->lb, d->cand, cnt);
	for (size_t i = 0; i < cnt; i++)
		if (d->cand[i].w > 0 && d->cand[i].h > 0)
			d->cand[kept++] = d->cand[i];
	t3 = now_ms();
	*boxes = d->cand;
	*n = kept;
	if (timing) {
		timing->pre_ms = t1 - t0;
		timing->infer_ms = t2 - t1;
		timing->post_ms = t3 - t2;
	}
	return 0;
#endif
}

const char *
detector_class_name(const struct detector *d, int cls)
{
	if (!d || cls < 0 || cls >= d->nnames)
		return "?";
	return d->names[cls];
}

int
detector_num_classes(const struct detector *d)
{
	return d->nclasses;
}

const char *
detector_layout_name(const struct detector *d)
{
	return yolo_layout_name(d->layout);
}

void
detector_input_size(const struct detector *d, uint32_t *w,
                         uint32_t *h)
{
	*w = (uint32_t)d->in_w;
	*h = (uint32_t)d->in_h;
}

int
detector_outputs(const struct detector *d,
                      const struct det_tensor **t)
{
	*t = d->outs;
	return d->nouts;
}

const char *
detector_error(const struct detector *d)
{
	return d->err;
}

void
detector_close(struct detector *d)
{
	if (!d)
		return;
#ifdef FBUS_HAVE_OPENCV
	dnn_close(d->net);
#endif
	names_free(d->names, d->nnames);
	letterbox_ws_free(&d->ws);
	free(d->blob);
	free(d->cand);
	free(d);
}

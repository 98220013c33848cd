/* SPDX-License-Identifier: MIT */
/*
 * infer.c — `framebus infer`, program B: subscribe to a bus, run YOLO on
 * each frame in place (no copy of the frame before pre-processing), and
 * report: a window, JSON lines on stdout, a recorded video, and a latency
 * summary per stage at exit.  It survives the producer going away: it says
 * "waiting for source" and carries on when a producer comes back.  Frames
 * that carry ground truth (the synthetic source's metadata, groundtruth.h)
 * are also scored: precision, recall and mAP@0.5 over the run (eval.c).
 */
#define _GNU_SOURCE
#include "cli.h"
#include "framebus.h"

#include "detector.h"
#include "display_sdl.h"
#include "eval.h"
#include "groundtruth.h"
#include "model_file.h"
#include "overlay.h"
#include "record.h"
#include "score.h"

#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>


static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: framebus infer [options]\n"
	        "\n"
	        "Run YOLO object detection on the frames of a bus.\n"
	        "\n"
	        "input:\n"
	        "  --from URI          bus to read (default shm:cam0); also\n"
	        "                      unix:/path.sock, tcp://host:port;\n"
	        "                      again for more buses (cameras): the\n"
	        "                      one that waited longest is served\n"
	        "                      first, frames and stats per bus\n"
	        "  --group NAME        one worker of group NAME: each frame\n"
	        "                      goes to one worker of the group, the\n"
	        "                      newest to the first free one\n"
	        "  --every             every frame in order (default: always\n"
	        "                      the newest, skipped frames counted)\n"
	        "  --frames N          stop after N processed frames\n"
	        "  --duration S        stop after S seconds\n"
	        "model:\n"
	        "  --model PATH        .onnx (YOLOv5/v8/11 export) or Darknet\n"
	        "                      .cfg; default: the bundled demo model\n"
	        "                      (share/framebus/models/framebus-shapes\n"
	        "                      .onnx beside bin/; $FBUS_MODELS_DIR\n"
	        "                      sets the directory)\n"
	        "  --weights PATH      Darknet .weights for a .cfg model\n"
	        "  --names PATH        class names, one a line (default: COCO\n"
	        "                      for 80-class models)\n"
	        "  --conf X            score threshold (default 0.25)\n"
	        "  --nms X             NMS IoU threshold (default 0.45)\n"
	        "  --input-size N|WxH  network input (default: the cfg's, the\n"
	        "                      ONNX file's fixed input shape, or 640)\n"
	        "  --threads N         OpenCV threads (default: all cores)\n"
	        "output:\n"
	        "  --json              one JSON object per frame on stdout\n"
	        "  --record FILE.mp4   write the annotated video\n"
	        "  --headless          no window even if a display exists\n"
	        "  --stats             live status line on a TTY\n"
	        "  --quiet             no summary at exit\n"
	        "  -h, --help          this text\n"
	        "\n"
	        "Frames carrying ground truth (framebus source synthetic)\n"
	        "are scored: precision, recall and mAP@0.5 over the run, in\n"
	        "the summary and, with --json, in a last line\n"
	        "{\"summary\": ...}.\n"
	        "\n"
	        "Exit status: 0 done, 1 runtime error, 2 usage error.\n");
}

/* ---- latency statistics ------------------------------------------------ */

/* ST_AGE is how old the frame already was when we got it (in latest mode
 * with a network slower than the camera, up to one frame interval): it is
 * part of capture->result but no work of ours. */
enum stage { ST_WAIT, ST_AGE, ST_PRE, ST_INFER, ST_POST, ST_DISPLAY, ST_E2E,
	     ST_N };

static const char *const stage_names[ST_N] = {
	"transport wait", "capture->pickup", "pre-process", "inference",
	"post-process", "display/record", "capture->result",
};

struct series {
	double *v;
	size_t n, cap;
};

static void
series_add(struct series *s, double x)
{
	if (isnan(x))
		return; /* not measured (a frame without capture time) */
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		double *p = realloc(s->v, cap * sizeof *p);

		if (!p)
			return; /* statistics are best effort */
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = x;
}

/* ---- output ------------------------------------------------------------ */

/* A frame age we believe: within an hour (either way: another machine's
 * wall clock may be a little ahead of ours). */
static int
plausible_ms(double ms)
{
	return ms > -3.6e6 && ms < 3.6e6;
}

struct infer;
static void clear_status(struct infer *in);

static void
print_json(const char *bus, const struct fbus_frame *fr, const double *lat,
           const struct det_box *b, size_t n,
           const struct detector *det, const struct det_box *truth,
           size_t ntruth)
{
	static const char *const keys[ST_N] = { "wait", "age", "pre", "infer",
		                                "post", "display", "e2e" };
	/* a JPEG decoded at 1/N (?fit=): boxes and sizes in the camera's
	 * pixels all the same */
	double k = fbus_frame_scale(fr);

	printf("{\"bus\":");
	cli_json_string(stdout, bus);
	printf(",\"seq\":%llu,\"t_capture_mono_ns\":%lld,"
	       "\"t_capture_real_ns\":%lld,\"width\":%u,\"height\":%u,"
	       "\"format\":\"%s\",\"skipped\":%llu,\"latency_ms\":{",
	       (unsigned long long)fr->seq, (long long)fr->t_mono_ns,
	       (long long)fr->t_real_ns, fr->fmt.width * (uint32_t)k,
	       fr->fmt.height * (uint32_t)k,
	       fbus_pixfmt_name(fr->fmt.pixfmt) ? fbus_pixfmt_name(fr->fmt.pixfmt)
	                                        : "unknown",
	       (unsigned long long)fr->skipped);
	/* null: not measured (no capture time on the frame) */
	for (int s = 0; s < ST_N; s++)
		if (isnan(lat[s]))
			printf("%s\"%s\":null", s ? "," : "", keys[s]);
		else
			printf("%s\"%s\":%.3f", s ? "," : "", keys[s], lat[s]);
	printf("},\"boxes\":[");
	for (size_t i = 0; i < n; i++) {
		printf("%s{\"class\":", i ? "," : "");
		cli_json_string(stdout, detector_class_name(det, b[i].cls));
		/* %.9g: the exact float, so a reader can redo the score
		 * binning of the accuracy summary bit for bit. */
		printf(",\"class_id\":%d,\"score\":%.9g,\"x\":%.1f,\"y\":%.1f,"
		       "\"w\":%.1f,\"h\":%.1f}",
		       b[i].cls, (double)b[i].score, k * b[i].x, k * b[i].y,
		       k * b[i].w, k * b[i].h);
	}
	printf("]");
	if (k > 1)
		printf(",\"decode_scale\":%d", (int)k);
	if (truth) {
		/* Ground truth in the same frame pixels, classes by name. */
		printf(",\"truth\":[");
		for (size_t i = 0; i < ntruth; i++)
			printf("%s{\"class\":\"%s\",\"class_id\":%d,\"x\":%.1f,"
			       "\"y\":%.1f,\"w\":%.1f,\"h\":%.1f}",
			       i ? "," : "",
			       gt_class_name((unsigned)truth[i].cls),
			       truth[i].cls, k * truth[i].x, k * truth[i].y,
			       k * truth[i].w, k * truth[i].h);
		printf("]");
	}
	printf("}\n");
	fflush(stdout);
}

static void
status_text(struct overlay_img *img, const char *line1, const char *line2)
{
	static const uint8_t white[3] = { 255, 255, 255 };
	static const uint8_t shade[3] = { 32, 32, 32 };
	int s = overlay_text_scale(img);
	int y = img->h - 2 * OVERLAY_GLYPH_H * s - 2;

	if (line1)
		overlay_text(img, 0, y, s, line1, white, shade);
	if (line2)
		overlay_text(img, 0, y + OVERLAY_GLYPH_H * s + 1, s, line2,
		             white, shade);
}

/* ---- main loop --------------------------------------------------------- */

/* What infer keeps of each bus it reads (--from, once or more). */
struct bus_state {
	unsigned long long frames;
	struct series age;  /* capture -> pickup [ms] */
	int waiting;        /* its absence was said */
	char why[256];      /* the last reason said for it */
};

struct infer {
	const char *from;   /* the first bus, or the only one */
	const char *froms[FBUS_MAX_BUSES];
	const char *group;  /* --group: a worker of that group */
	uint32_t nfrom;
	struct bus_state bus[FBUS_MAX_BUSES];
	int every, json, headless, quiet, stats;
	long long max_frames;
	double duration;
	const char *record_path;
	struct detector_opts dopts;

	struct detector *det;
	struct fbus_sub *sub;
	struct display *win;
	int win_failed;
	struct recorder *rec;
	int rec_failed;
	struct overlay_img img; /* last annotated picture */
	int have_img;

	struct series lat[ST_N];
	unsigned long long frames, skipped;
	double fps;
	int64_t last_done_ns;

	struct score score; /* accuracy against ground truth */
	double last_e2e_ms;
	int64_t last_status_ns;
	int status_shown;        /* a live status line is on the terminal */
	int warned_stamp;        /* said once: frames without capture times */
};

static const char *
bus_name(const struct infer *in, uint32_t i)
{
	return i < in->nfrom ? in->froms[i] : in->from;
}

static void
show(struct infer *in, const char *status)
{
	char err[256];

	if (!in->have_img || in->headless)
		return;
	if (!in->win && !in->win_failed) {
		if (display_open(&in->win, "framebus infer", in->img.w,
		                      in->img.h, err, sizeof err) != 0) {
			cli_warn("no window: %s", err);
			in->win_failed = 1;
			return;
		}
	}
	if (!in->win)
		return;
	if (status) {
		/* Draw on a copy so the next frame's picture stays clean. */
		struct overlay_img tmp = { 0 };

		tmp.bgr = malloc(in->img.cap);
		if (!tmp.bgr)
			return;
		memcpy(tmp.bgr, in->img.bgr, (size_t)in->img.w * in->img.h * 3);
		tmp.w = in->img.w;
		tmp.h = in->img.h;
		tmp.cap = in->img.cap;
		status_text(&tmp, status, NULL);
		display_show(in->win, tmp.bgr, tmp.w, tmp.h);
		overlay_free(&tmp);
	} else {
		display_show(in->win, in->img.bgr, in->img.w, in->img.h);
	}
}

/* Picture, boxes and overlay; then window and recording. */
static void
output_picture(struct infer *in, const struct fbus_frame *fr,
               const struct det_box *b, size_t n, const double *lat)
{
	char line1[128], line2[128], err[256];

	overlay_detections(&in->img, b, n, in->det);
	if (isnan(lat[ST_E2E]))
		snprintf(line1, sizeof line1, "%.1f fps", in->fps);
	else
		snprintf(line1, sizeof line1, "%.1f fps  latency %.1f ms",
		         in->fps, lat[ST_E2E]);
	if (score_map(&in->score) >= 0) {
		snprintf(line2, sizeof line2,
		         "%s%sseq %llu  skipped %llu  mAP %.2f",
		         in->nfrom > 1 ? bus_name(in, fbus_frame_bus(fr)) : "",
		         in->nfrom > 1 ? "  " : "",
		         (unsigned long long)fr->seq, in->skipped,
		         score_map(&in->score));
	} else {
		snprintf(line2, sizeof line2, "%s%sseq %llu  skipped %llu",
		         in->nfrom > 1 ? bus_name(in, fbus_frame_bus(fr)) : "",
		         in->nfrom > 1 ? "  " : "",
		         (unsigned long long)fr->seq, in->skipped);
	}
	status_text(&in->img, line1, line2);
	in->have_img = 1;
	show(in, NULL);
	if (in->record_path && !in->rec && !in->rec_failed) {
		const char *codec = "?";

		if (record_open(&in->rec, in->record_path, in->img.w,
		                     in->img.h, &codec, err, sizeof err) != 0) {
			cli_warn("cannot record to %s: %s", in->record_path,
			         err);
			in->rec_failed = 1;
		} else if (!in->quiet) {
			cli_warn("recording to %s (%s)", in->record_path, codec);
		}
	}
	if (in->rec && record_frame(in->rec, in->img.bgr, in->img.w,
	                                 in->img.h, fr->t_mono_ns, err,
	                                 sizeof err) != 0) {
		cli_warn("recording stopped: %s", err);
		record_close(in->rec, err, sizeof err);
		in->rec = NULL;
		in->rec_failed = 1;
	}
}

static double
ms_since(int64_t t0)
{
	return (double)(fbus_now_mono_ns() - t0) / 1e6;
}

/* Which detector classes are ground-truth classes, matched by name, so a
 * model whose names file orders them differently is still scored right. */
/* The one place a frame goes back to the bus: after it, nothing may read
 * fr's pixels or metadata (info in process() keeps the fields). */
static void
release_frame(struct infer *in, struct fbus_frame *fr)
{
	fbus_sub_release(in->sub, fr);
	fr->data = NULL;
	fr->meta = NULL;
}

/* Process one frame; returns 0, or 1 if the frame could not be used. */
static int
process(struct infer *in, struct fbus_frame *fr, double wait_ms,
        int64_t t_pick)
{
	const struct det_box *boxes;
	struct det_timing t;
	double lat[ST_N] = { 0 };
	size_t n;
	int64_t t_out;
	int rc, ntruth, picture;
	struct fbus_frame info = *fr; /* fields kept past the release */

	rc = detector_run(in->det, &fr->fmt, fr->data, &boxes, &n, &t);
	if (rc) {
		release_frame(in, fr);
		cli_warn("frame %llu: %s", (unsigned long long)info.seq,
		         detector_error(in->det));
		return 1;
	}
	lat[ST_WAIT] = wait_ms;
	lat[ST_AGE] = (double)(t_pick - fr->t_mono_ns) / 1e6;
	lat[ST_PRE] = t.pre_ms;
	lat[ST_INFER] = t.infer_ms;
	lat[ST_POST] = t.post_ms;
	/* Capture → result on the shared monotonic clock; a producer on
	 * another machine (tcp) has its own, so fall back to wall clocks. */
	lat[ST_E2E] = (double)(fbus_now_mono_ns() - fr->t_mono_ns) / 1e6;
	if (fr->t_mono_ns <= 0 || !plausible_ms(lat[ST_E2E])) {
		double shift = lat[ST_E2E];

		lat[ST_E2E] = (double)(fbus_now_real_ns() - fr->t_real_ns) /
		              1e6;
		lat[ST_AGE] += lat[ST_E2E] - shift;
	}
	/* A producer that stamps 0 (or nonsense) on both clocks: the
	 * frame's age is unknown, not 56 years. */
	if (!plausible_ms(lat[ST_E2E]) || !plausible_ms(lat[ST_AGE])) {
		lat[ST_E2E] = lat[ST_AGE] = NAN;
		if (!in->warned_stamp) {
			clear_status(in);
			cli_warn("frames from %s carry no usable capture time "
			         "(t_mono_ns %lld, t_real_ns %lld): their age "
			         "and latency are not measured",
			         in->from, (long long)fr->t_mono_ns,
			         (long long)fr->t_real_ns);
			in->warned_stamp = 1;
		}
	}
	in->frames++;
	in->skipped += fr->skipped;
	{
		struct bus_state *bs = &in->bus[fbus_frame_bus(fr)];

		bs->frames++;
		if (!isnan(lat[ST_AGE]))
			series_add(&bs->age, lat[ST_AGE]);
	}
	in->last_e2e_ms = lat[ST_E2E];
	/* Scoring is bookkeeping, not part of the result's latency. */
	ntruth = score_frame(&in->score, fr, boxes, n);

	t_out = fbus_now_mono_ns();
	if (in->last_done_ns) {
		double dt = (double)(t_out - in->last_done_ns) / 1e9;

		if (dt > 0)
			in->fps = in->fps ? 0.9 * in->fps + 0.1 / dt : 1 / dt;
	}
	in->last_done_ns = t_out;

	picture = (!in->headless && !in->win_failed) ||
	          (in->record_path && !in->rec_failed);
	/* the last read of the frame's pixels: the picture to show */
	rc = picture ? overlay_from_frame(&in->img, &fr->fmt, fr->data) : -1;
	release_frame(in, fr);
	if (picture) {
		if (rc == 0)
			output_picture(in, &info, boxes, n, lat);
		lat[ST_DISPLAY] = ms_since(t_out);
		series_add(&in->lat[ST_DISPLAY], lat[ST_DISPLAY]);
	}
	for (int s = 0; s < ST_N; s++)
		if (s != ST_DISPLAY)
			series_add(&in->lat[s], lat[s]);
	if (in->json)
		print_json(bus_name(in, fbus_frame_bus(&info)), &info, lat, boxes,
		           n, in->det,
		           ntruth >= 0 ? in->score.truth : NULL,
		           ntruth >= 0 ? (size_t)ntruth : 0);
	return 0;
}

/* The score threshold the detector applies (detector.h: 0 = 0.25). */
static double
conf_threshold(const struct infer *in)
{
	return in->dopts.conf > 0 ? in->dopts.conf : 0.25;
}

/* Before a message: wipe the live status line so they do not mix. */
static void
clear_status(struct infer *in)
{
	if (in->status_shown)
		fprintf(stderr, "\r\033[K");
	in->status_shown = 0;
	in->last_status_ns = 0;
}

/* One line, rewritten in place, on a terminal (--stats). */
static void
live_status(struct infer *in)
{
	int64_t now = fbus_now_mono_ns();
	char acc[64] = "";

	if (!in->stats || now - in->last_status_ns < 500000000)
		return;
	in->last_status_ns = now;
	if (score_map(&in->score) >= 0)
		snprintf(acc, sizeof acc, "  mAP@0.5 %.3f",
		         score_map(&in->score));
	if (isnan(in->last_e2e_ms))
		fprintf(stderr, "\r%llu frames  %.1f fps  skipped %llu%s\033[K",
		        in->frames, in->fps, in->skipped, acc);
	else
		fprintf(stderr, "\r%llu frames  %.1f fps  latency %.1f ms  "
		        "skipped %llu%s\033[K",
		        in->frames, in->fps, in->last_e2e_ms, in->skipped, acc);
	in->status_shown = 1;
}

/* The summary as one JSON line on stdout (--json), after the frames'. */
static void
summary_json(const struct infer *in, const struct fbus_sub_stats *st,
             double elapsed_s)
{
	static const char *const keys[ST_N] = {
		"wait", "age", "pre", "infer", "post", "display", "e2e",
	};
	int first = 1;

	printf("{\"summary\":{\"frames\":%llu,\"skipped\":%llu,"
	       "\"dropped\":%llu,\"reconnects\":%u,\"elapsed_s\":%.3f,"
	       "\"fps\":%.3f,\"latency_ms\":{",
	       in->frames, (unsigned long long)st->skipped,
	       (unsigned long long)st->dropped, st->reconnects, elapsed_s,
	       elapsed_s > 0 ? (double)in->frames / elapsed_s : 0.0);
	for (int s = 0; s < ST_N; s++) {
		const struct series *v = &in->lat[s];

		if (!v->n)
			continue;
		printf("%s\"%s\":{\"p50\":%.3f,\"p95\":%.3f,\"p99\":%.3f,"
		       "\"max\":%.3f}",
		       first ? "" : ",", keys[s], cli_percentile(v->v, v->n, 50), cli_percentile(v->v, v->n, 95),
		       cli_percentile(v->v, v->n, 99), v->v[v->n - 1]);
		first = 0;
	}
	if (in->group) {
		printf("},\"group\":{\"name\":");
		cli_json_string(stdout, in->group);
		printf(",\"frames\":%llu,\"skipped\":%llu",
		       (unsigned long long)st->group_frames,
		       (unsigned long long)st->group_skipped);
	}
	printf("},\"buses\":[");
	for (uint32_t i = 0; i < in->nfrom; i++) {
		const struct series *v = &in->bus[i].age;
		struct fbus_sub_stats bs = { 0 };

		fbus_sub_bus_stats(in->sub, i, &bs);
		printf("%s{\"bus\":", i ? "," : "");
		cli_json_string(stdout, bus_name(in, i));
		printf(",\"frames\":%llu,\"skipped\":%llu,\"dropped\":%llu,"
		       "\"reconnects\":%u", in->bus[i].frames,
		       (unsigned long long)bs.skipped,
		       (unsigned long long)bs.dropped, bs.reconnects);
		if (v->n)
			printf(",\"age_ms\":{\"p50\":%.3f,\"p99\":%.3f}",
			       cli_percentile(v->v, v->n, 50),
			       cli_percentile(v->v, v->n, 99));
		printf("}");
	}
	printf("],\"accuracy\":");
	score_print_json(&in->score, conf_threshold(in), stdout);
	printf("}}\n");
	fflush(stdout);
}

static void
summary(struct infer *in, double elapsed_s)
{
	struct fbus_sub_stats st = { 0 };

	fbus_sub_stats(in->sub, &st);
	for (int s = 0; s < ST_N; s++)
		if (in->lat[s].n)
			cli_sort_doubles(in->lat[s].v, in->lat[s].n);
	for (uint32_t i = 0; i < in->nfrom; i++)
		if (in->bus[i].age.n)
			cli_sort_doubles(in->bus[i].age.v, in->bus[i].age.n);
	clear_status(in);
	if (in->json)
		summary_json(in, &st, elapsed_s);
	if (in->quiet)
		return;
	fprintf(stderr,
	        "framebus infer: %llu frames processed, %llu skipped, "
	        "%llu dropped, %u reconnects in %.1f s (%.1f fps)\n",
	        in->frames, (unsigned long long)st.skipped,
	        (unsigned long long)st.dropped, st.reconnects, elapsed_s,
	        elapsed_s > 0 ? (double)in->frames / elapsed_s : 0.0);
	if (!in->frames)
		return;
	fprintf(stderr, "  %-16s %9s %9s %9s %9s\n", "latency [ms]", "p50",
	        "p95", "p99", "max");
	for (int s = 0; s < ST_N; s++) {
		struct series *v = &in->lat[s];

		if (!v->n)
			continue;
		fprintf(stderr, "  %-16s %9.3f %9.3f %9.3f %9.3f\n",
		        stage_names[s], cli_percentile(v->v, v->n, 50), cli_percentile(v->v, v->n, 95), cli_percentile(v->v, v->n, 99),
		        v->v[v->n - 1]);
	}
	if (in->group)
		fprintf(stderr, "  group %s: %llu frames taken by its workers, "
		        "%llu taken by none\n", in->group,
		        (unsigned long long)st.group_frames,
		        (unsigned long long)st.group_skipped);
	if (in->nfrom > 1) {
		fprintf(stderr, "  %-24s %9s %9s %13s %13s\n", "bus", "frames",
		        "skipped", "age p50 [ms]", "age p99 [ms]");
		for (uint32_t i = 0; i < in->nfrom; i++) {
			const struct series *v = &in->bus[i].age;
			struct fbus_sub_stats bs = { 0 };

			fbus_sub_bus_stats(in->sub, i, &bs);
			fprintf(stderr, "  %-24s %9llu %9llu %13.3f %13.3f\n",
			        bus_name(in, i), in->bus[i].frames,
			        (unsigned long long)bs.skipped,
			        v->n ? cli_percentile(v->v, v->n, 50) : NAN,
			        v->n ? cli_percentile(v->v, v->n, 99) : NAN);
		}
	}
	score_print_summary(&in->score, conf_threshold(in), stderr);
}

/* EDISCONNECTED: no producer now on some bus, on every transport — none
 * yet (start order does not matter), or it went away.  Said once a bus,
 * and not for a producer that comes within 0.5 s of the start; a producer
 * that is there but refuses us (a bad ring, a uid we do not trust...) is
 * said once per reason. */
static void
say_absent(struct infer *in, int late)
{
	const char *err = fbus_sub_last_error(in->sub);

	for (uint32_t i = 0; i < in->nfrom; i++) {
		struct bus_state *bs = &in->bus[i];
		struct fbus_sub_stats st = { 0 };
		const char *name = bus_name(in, i);
		size_t nl = strlen(name);

		fbus_sub_bus_stats(in->sub, i, &st);
		if (st.connected)
			continue;
		/* a multi-bus subscriber says "URI: why" */
		if (in->nfrom > 1 && (strncmp(err, name, nl) || err[nl] != ':'))
			continue;
		if (in->nfrom > 1)
			err += nl + 2;
		if (!bs->waiting && (bs->frames || late)) {
			clear_status(in);
			if (bs->frames)
				cli_warn("source %s went away (%s); waiting "
				         "for source", name, err);
			else
				cli_warn("waiting for source %s (%s)", name, err);
			snprintf(bs->why, sizeof bs->why, "%s", err);
			bs->waiting = 1;
		} else if (bs->waiting && strcmp(bs->why, err) &&
		           strncmp(err, "no producer", 11)) {
			snprintf(bs->why, sizeof bs->why, "%s", err);
			clear_status(in);
			cli_warn("source %s: %s", name, bs->why);
		}
		return;
	}
}

static int
any_waiting(const struct infer *in)
{
	for (uint32_t i = 0; i < in->nfrom; i++)
		if (in->bus[i].waiting)
			return 1;
	return 0;
}

static void
parse_input_size(const char *s, uint32_t *w, uint32_t *h)
{
	if (strchr(s, 'x') || strchr(s, 'X')) {
		cli_parse_size(s, w, h);
	} else {
		*w = *h = (uint32_t)cli_parse_int("--input-size", s, 32, 4096);
	}
	if (*w % 32 || *h % 32 || *w < 32 || *h < 32 || *w > 4096 ||
	    *h > 4096)
		cli_die(2, "--input-size %s: width and height must be "
		           "multiples of 32 between 32 and 4096",
		        s);
}

int
cmd_infer(int argc, char **argv)
{
	enum { O_EVERY = 256, O_MODEL, O_WEIGHTS, O_NAMES, O_FRAMES,
	       O_DURATION, O_CONF, O_NMS, O_INSIZE, O_THREADS, O_HEADLESS,
	       O_JSON, O_RECORD, O_FROM, O_QUIET, O_STATS, O_GROUP };
	static const struct option longopts[] = {
		{ "from", required_argument, NULL, O_FROM },
		{ "group", required_argument, NULL, O_GROUP },
		{ "every", no_argument, NULL, O_EVERY },
		{ "model", required_argument, NULL, O_MODEL },
		{ "weights", required_argument, NULL, O_WEIGHTS },
		{ "names", required_argument, NULL, O_NAMES },
		{ "frames", required_argument, NULL, O_FRAMES },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "conf", required_argument, NULL, O_CONF },
		{ "nms", required_argument, NULL, O_NMS },
		{ "input-size", required_argument, NULL, O_INSIZE },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "headless", no_argument, NULL, O_HEADLESS },
		{ "json", no_argument, NULL, O_JSON },
		{ "record", required_argument, NULL, O_RECORD },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "stats", no_argument, NULL, O_STATS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static char model[PATH_MAX + 128], weights[PATH_MAX + 128],
		names[PATH_MAX + 128], looked[2 * PATH_MAX + 256];
	struct infer in = { .from = "shm:cam0" };
	struct fbus_sub_opts sopts = { .size = sizeof sopts };
	char err[512];
	int c, rc, status = 0;
	int64_t t_start, t_wait0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case O_FROM:
			if (in.nfrom == FBUS_MAX_BUSES)
				cli_die(2, "--from: at most %d buses",
				        FBUS_MAX_BUSES);
			in.froms[in.nfrom++] = optarg;
			break;
		case O_EVERY: in.every = 1; break;
		case O_GROUP: in.group = optarg; break;
		case O_MODEL: in.dopts.model = optarg; break;
		case O_WEIGHTS: in.dopts.weights = optarg; break;
		case O_NAMES: in.dopts.names = optarg; break;
		case O_FRAMES:
			in.max_frames = cli_parse_int("--frames", optarg, 1,
			                              LLONG_MAX);
			break;
		case O_DURATION:
			in.duration = cli_parse_double("--duration", optarg,
			                               0.001, 1e9);
			break;
		case O_CONF:
			in.dopts.conf = (float)cli_parse_double("--conf", optarg,
			                                        0.0001, 1);
			break;
		case O_NMS:
			in.dopts.nms = (float)cli_parse_double("--nms", optarg,
			                                       0.0001, 1);
			break;
		case O_INSIZE:
			parse_input_size(optarg, &in.dopts.input_w,
			                 &in.dopts.input_h);
			break;
		case O_THREADS:
			in.dopts.threads = (int)cli_parse_int("--threads",
			                                      optarg, 1, 1024);
			break;
		case O_HEADLESS: in.headless = 1; break;
		case O_JSON: in.json = 1; break;
		case O_RECORD: in.record_path = optarg; break;
		case O_QUIET: in.quiet = 1; break;
		case O_STATS: in.stats = 1; break;
		case 'h': usage(stdout); return 0;
		default:
			cli_getopt_error(c, argv);
		}
	}
	cli_no_more_args(argc, argv);
	if (in.dopts.weights && !in.dopts.model)
		cli_die(2, "--weights needs --model (the Darknet .cfg)");

	if (!in.dopts.model) {
		if (!detector_find_bundled(model, weights, names, sizeof model, looked,
		                  sizeof looked))
			cli_die(1, "no model given and the bundled demo model "
			           "is missing: looked for %s.  It ships in "
			           "models/ of the source tree (models/README.md "
			           "says how to retrain it); or pass --model "
			           "yolo.onnx, or --model yolo.cfg --weights "
			           "yolo.weights",
			        looked);
		in.dopts.model = model;
		in.dopts.weights = weights[0] ? weights : NULL;
		if (!in.dopts.names && access(names, R_OK) == 0)
			in.dopts.names = names;
	}
	if (!in.headless && !display_available())
		in.headless = 1;
	in.stats = in.stats && !in.quiet && isatty(STDERR_FILENO);

	rc = detector_open(&in.det, &in.dopts, err, sizeof err);
	if (rc)
		cli_die(1, "%s", err);
	if (score_init(&in.score, in.det, in.quiet) != 0) {
		detector_close(in.det);
		cli_die(1, "out of memory");
	}
	if (!in.quiet) {
		uint32_t w, h;

		detector_input_size(in.det, &w, &h);
		cli_warn("model %s: %s layout, %d classes, input %ux%u",
		         in.dopts.model, detector_layout_name(in.det),
		         detector_num_classes(in.det), w, h);
	}

	sopts.mode = in.every ? FBUS_MODE_EVERY : FBUS_MODE_LATEST;
	sopts.flags = FBUS_SUB_RECONNECT;
	/* JPEG streams are decoded by the library into what YOLO eats. */
	sopts.pixfmt = FBUS_PIXFMT_BGR24;
	sopts.group = in.group;
	if (in.nfrom)
		in.from = in.froms[0];
	else
		in.froms[in.nfrom++] = in.from;
	rc = in.nfrom == 1 ? fbus_sub_open(&in.sub, in.from, &sopts)
	                   : fbus_sub_open_many(&in.sub, in.froms, in.nfrom,
	                                        &sopts);
	if (rc) {
		detector_close(in.det);
		cli_die(rc == FBUS_EINVAL || rc == FBUS_ENAMETOOLONG ? 2 : 1,
		        "%s", fbus_open_error());
	}

	/* a line a write: workers of a group may share one stdout */
	if (in.json)
		setvbuf(stdout, NULL, _IOLBF, 0);
	cli_install_stop_handlers();
	t_start = fbus_now_mono_ns();
	t_wait0 = t_start;
	while (!cli_stop) {
		struct fbus_frame fr;

		if (in.max_frames && (long long)in.frames >= in.max_frames)
			break;
		if (in.duration > 0 && ms_since(t_start) >= in.duration * 1e3)
			break;
		if (in.win && display_poll(in.win))
			break;

		rc = fbus_sub_next(in.sub, &fr, 100);
		if (rc == FBUS_EDISCONNECTED)
			say_absent(&in, ms_since(t_start) > 500);
		if (rc == FBUS_EDISCONNECTED || rc == FBUS_ETIMEDOUT) {
			if (any_waiting(&in))
				show(&in, "waiting for source");
			continue;
		}
		if (rc < 0) {
			cli_warn("%s: %s", in.from,
			         fbus_sub_last_error(in.sub)[0]
			                 ? fbus_sub_last_error(in.sub)
			                 : fbus_strerror(rc));
			status = 1;
			break;
		}
		{
			struct bus_state *bs = &in.bus[fbus_frame_bus(&fr)];

			if (bs->waiting) {
				clear_status(&in);
				cli_warn("source %s is %s",
				         bus_name(&in, fbus_frame_bus(&fr)),
				         bs->frames ? "back" : "up");
				bs->waiting = 0;
			}
		}
		process(&in, &fr, ms_since(t_wait0), fbus_now_mono_ns());
		t_wait0 = fbus_now_mono_ns();
		live_status(&in);
	}

	summary(&in, ms_since(t_start) / 1e3);
	if (in.rec && record_close(in.rec, err, sizeof err) != 0) {
		cli_warn("recording %s: %s", in.record_path, err);
		status = 1;
	}
	display_close(in.win);
	overlay_free(&in.img);
	fbus_sub_close(in.sub);
	detector_close(in.det);
	score_free(&in.score);
	for (int s = 0; s < ST_N; s++)
		free(in.lat[s].v);
	for (uint32_t i = 0; i < in.nfrom; i++)
		free(in.bus[i].age.v);
	return status;
}

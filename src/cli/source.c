/* SPDX-License-Identifier: MIT */
/*
 * source.c — `framebus source`, program A: read frames from the synthetic
 * scene, a file, a camera, a network stream or images, and publish them on
 * a bus at a steady rate.  Frames are rendered or converted straight into
 * the loaned slot; pacing sleeps to absolute deadlines so the rate never
 * drifts.  docs/ARCHITECTURE.md ("source") describes the copies per path.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "framebus.h"
#include "groundtruth.h"
#include "input.h"
#include "synthetic.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NS 1000000000ll

static void
usage(FILE *f)
{
	fprintf(f,
"usage: framebus source [INPUT] [options]\n"
"\n"
"Publish frames on a framebus bus (program A).\n"
"\n"
"INPUT (default: synthetic)\n"
"  synthetic            moving shapes with ground-truth boxes in the metadata\n"
"  FILE                 a video file (mp4, mkv, avi, mov, ...; any FFmpeg codec)\n"
"  /dev/videoN          a V4L2 camera (--size, --fps, --input-format go to it)\n"
"  rtsp://... http(s)://... udp://...\n"
"                       a network stream; reconnects when it drops\n"
"  IMAGE | DIR          a jpg/png, or a directory of them, cycled\n"
"\n"
"options\n"
"  --to URI             bus to publish on (default shm:cam0); 'null' decodes\n"
"                       and discards, to measure an input\n"
"  --fps N|native|max   frame rate (default 10); live inputs drop frames to\n"
"                       meet N; native = the input's own rate; max = no pacing\n"
"  --size WxH           output size (synthetic default 1280x720; else the input's)\n"
"  --format FMT         bgr24 (default), rgb24, bgra, gray8, nv12, i420, yuyv;\n"
"                       frames already in FMT are copied without conversion\n"
"  --frames N           stop after N frames\n"
"  --duration S         stop after S seconds\n"
"  --loop               files: start over at the end (images always cycle)\n"
"  --seed N             synthetic scene seed (default 1)\n"
"  --stats              live status line on a TTY, summary line at exit\n"
"  --wait-subscribers N hold the first frame until N subscribers are connected\n"
"  --input-format F     camera: format asked from the device (mjpeg, yuyv422)\n"
"  --input-opt K=V      extra FFmpeg demuxer/protocol/device option (repeatable)\n"
"  --timeout S          live inputs: no data for S seconds = dropped (default 5)\n"
"  -q, --quiet          no status messages (errors still go to stderr)\n"
"  -h, --help           this text\n"
"\n"
"Exit status: 0 done, 1 runtime error (including corrupt data skipped in a\n"
"file), 2 usage error.  Ctrl-C/SIGTERM finish the current frame and close\n"
"the bus cleanly.\n");
}

enum { FPS_NUMBER, FPS_NATIVE, FPS_MAX };

struct opts {
	const char *input;
	const char *to;
	int fps_mode;
	double fps;
	uint32_t width, height;
	uint32_t pixfmt;
	long long frames;  /* 0 = unlimited */
	double duration;   /* 0 = unlimited */
	int loop;
	uint64_t seed;
	int stats;
	int quiet;
	long long wait_subs;
	const char *input_format;
	char **av_opts;
	int n_av_opts;
	double timeout;
};

/* Running numbers for --stats. */
struct meter {
	int64_t t0;
	uint64_t frames;
	uint64_t late;        /* deadlines missed by more than a period */
	uint64_t busy;        /* loans refused: every slot held by readers */
	uint64_t rate_drops;  /* live frames dropped to keep --fps */
	double lat_sum_us;    /* commit time - deadline */
	double lat_max_us;
	int64_t last_print;
	uint64_t last_frames;
	double cur_fps;
	int tty;
	int line_shown;
	uint32_t subs;
};

static void
on_status(void *user, const char *msg)
{
	struct opts *o = user;

	if (!o->quiet)
		fprintf(stderr, "\nframebus source: %s\n", msg);
}

static void
parse_fps(struct opts *o, const char *s)
{
	if (!strcmp(s, "native")) {
		o->fps_mode = FPS_NATIVE;
	} else if (!strcmp(s, "max")) {
		o->fps_mode = FPS_MAX;
	} else {
		o->fps_mode = FPS_NUMBER;
		o->fps = cli_parse_double("--fps", s, 0.001, 10000);
	}
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_TO = 256, O_FPS, O_SIZE, O_FORMAT, O_FRAMES, O_DURATION,
	       O_LOOP, O_SEED, O_STATS, O_WAIT, O_INFMT, O_INOPT, O_TIMEOUT };
	static const struct option lo[] = {
		{ "to", required_argument, NULL, O_TO },
		{ "fps", required_argument, NULL, O_FPS },
		{ "size", required_argument, NULL, O_SIZE },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "frames", required_argument, NULL, O_FRAMES },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "loop", no_argument, NULL, O_LOOP },
		{ "seed", required_argument, NULL, O_SEED },
		{ "stats", no_argument, NULL, O_STATS },
		{ "wait-subscribers", required_argument, NULL, O_WAIT },
		{ "input-format", required_argument, NULL, O_INFMT },
		{ "input-opt", required_argument, NULL, O_INOPT },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->input = "synthetic";
	o->to = "shm:cam0";
	o->fps_mode = FPS_NUMBER;
	o->fps = 10;
	o->pixfmt = FBUS_PIXFMT_BGR24;
	o->seed = 1;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "qh", lo, NULL)) != -1) {
		switch (c) {
		case O_TO: o->to = optarg; break;
		case O_FPS: parse_fps(o, optarg); break;
		case O_SIZE: cli_parse_size(optarg, &o->width, &o->height); break;
		case O_FORMAT:
			o->pixfmt = fbus_pixfmt_parse(optarg);
			if (o->pixfmt == FBUS_PIXFMT_NONE)
				cli_die(2, "--format: unknown pixel format '%s' "
				        "(bgr24, rgb24, bgra, gray8, nv12, i420, "
				        "yuyv)", optarg);
			if (o->pixfmt == FBUS_PIXFMT_ENCODED)
				cli_die(2, "--format %s: source publishes raw "
				        "pixels; for JPEG on the wire use a stream "
				        "URI with ?codec=jpeg", optarg);
			break;
		case O_FRAMES:
			o->frames = cli_parse_int("--frames", optarg, 1,
			                          (long long)1 << 62);
			break;
		case O_DURATION:
			o->duration = cli_parse_double("--duration", optarg,
			                               0.001, 1e9);
			break;
		case O_LOOP: o->loop = 1; break;
		case O_SEED:
			o->seed = (uint64_t)cli_parse_int("--seed", optarg, 0,
			                                  (long long)1 << 62);
			break;
		case O_STATS: o->stats = 1; break;
		case O_WAIT:
			o->wait_subs = cli_parse_int("--wait-subscribers",
			                             optarg, 0, 1024);
			break;
		case O_INFMT: o->input_format = optarg; break;
		case O_INOPT:
			o->av_opts = realloc(o->av_opts, (size_t)(o->n_av_opts + 1) *
			                                         sizeof *o->av_opts);
			if (!o->av_opts)
				cli_die(1, "out of memory");
			o->av_opts[o->n_av_opts++] = optarg;
			if (!strchr(optarg, '=') || optarg[0] == '=')
				cli_die(2, "--input-opt '%s': expected KEY=VALUE",
				        optarg);
			break;
		case O_TIMEOUT:
			o->timeout = cli_parse_double("--timeout", optarg, 0.1,
			                              3600);
			break;
		case 'q': o->quiet = 1; break;
		case 'h': usage(stdout); exit(0);
		default:
			if (optopt && optopt < 256)
				cli_die(2, "unknown option '-%c' (see --help)",
				        optopt);
			cli_die(2, "unknown or incomplete option '%s' (see --help)",
			        argv[optind - 1]);
		}
	}
	if (optind < argc)
		o->input = argv[optind++];
	if (optind < argc)
		cli_die(2, "unexpected argument '%s' (one INPUT only; see --help)",
		        argv[optind]);
	if (o->width) {
		struct fbus_format f = { .pixfmt = o->pixfmt, .width = o->width,
		                         .height = o->height };

		if (fbus_format_layout(&f) < 0)
			cli_die(2, "--size %ux%u is not valid for %s (nv12/i420 "
			        "need an even width and height, yuyv an even "
			        "width)", o->width, o->height,
			        fbus_pixfmt_name(o->pixfmt));
	}
}

/* ---- the sink: a bus, or nothing (--to null) --------------------------- */

struct sink {
	struct fbus_pub *pub;
	uint8_t *buf;  /* --to null: the "slot" */
	size_t cap;
	uint8_t meta[FBUS_META_MAX];
};

static int
sink_loan(struct sink *k, const struct fbus_format *fmt, struct fbus_slot *s)
{
	if (k->pub)
		return fbus_pub_loan(k->pub, fmt, s);
	if (fmt->size > k->cap) {
		free(k->buf);
		k->buf = malloc(fmt->size);
		k->cap = k->buf ? fmt->size : 0;
		if (!k->buf)
			return FBUS_ENOMEM;
	}
	memset(s, 0, sizeof *s);
	s->data = k->buf;
	s->capacity = (uint32_t)k->cap;
	s->fmt = *fmt;
	s->meta = k->meta;
	return 0;
}

static int64_t
sink_commit(struct sink *k, struct fbus_slot *s)
{
	static int64_t seq;

	if (k->pub)
		return fbus_pub_commit(k->pub, s);
	return ++seq;
}

static void
sink_abort(struct sink *k, struct fbus_slot *s)
{
	if (k->pub)
		fbus_pub_abort(k->pub, s);
}

static uint32_t
sink_subscribers(struct sink *k)
{
	struct fbus_pub_stats st;

	if (!k->pub || fbus_pub_stats(k->pub, &st) < 0)
		return 0;
	return st.subscribers;
}

/* ---- status line --------------------------------------------------------- */

static void
meter_tick(struct meter *m, struct sink *k, struct input *in, int force)
{
	int64_t now = fbus_now_mono_ns();
	struct input_stats ist = { 0 };

	if (!force && now - m->last_print < NS)
		return;
	m->cur_fps = (double)(m->frames - m->last_frames) * 1e9 /
	             (double)(now - m->last_print);
	m->last_frames = m->frames;
	m->last_print = now;
	m->subs = sink_subscribers(k);
	if (!m->tty)
		return;
	if (in)
		input_get_stats(in, &ist);
	fprintf(stderr, "\r\033[Kframebus source: %llu frames  %.2f fps  jitter "
	        "%.2f ms avg %.2f max  %u subscribers%s%s",
	        (unsigned long long)m->frames, m->cur_fps,
	        m->frames ? m->lat_sum_us / 1000.0 / (double)m->frames : 0.0,
	        m->lat_max_us / 1000.0, m->subs,
	        ist.corrupt ? "  corrupt!" : "",
	        in && !ist.connected ? "  RECONNECTING" : "");
	m->line_shown = 1;
}

static void
meter_summary(struct meter *m, struct sink *k, struct input *in)
{
	int64_t now = fbus_now_mono_ns();
	double secs = (double)(now - m->t0) / 1e9;
	struct input_stats ist = { 0 };

	if (in)
		input_get_stats(in, &ist);
	if (m->line_shown)
		fputc('\n', stderr);
	printf("frames=%llu seconds=%.3f fps=%.3f jitter_avg_ms=%.3f "
	       "jitter_max_ms=%.3f late=%llu busy=%llu rate_drops=%llu "
	       "subscribers=%u corrupt=%llu reconnects=%llu loops=%llu "
	       "passthrough=%llu\n",
	       (unsigned long long)m->frames, secs,
	       secs > 0 && m->frames > 1 ? (double)(m->frames - 1) / secs : 0.0,
	       m->frames ? m->lat_sum_us / 1000.0 / (double)m->frames : 0.0,
	       m->lat_max_us / 1000.0, (unsigned long long)m->late,
	       (unsigned long long)m->busy,
	       (unsigned long long)m->rate_drops, sink_subscribers(k),
	       (unsigned long long)ist.corrupt,
	       (unsigned long long)ist.reconnects,
	       (unsigned long long)ist.loops,
	       (unsigned long long)ist.passthrough);
	fflush(stdout);
}

/* ---- main loop ------------------------------------------------------------ */

struct producer {
	struct opts *o;
	struct sink sink;
	struct synth *synth;
	struct conv *conv;   /* synthetic in a format it cannot draw */
	uint8_t *scratch;         /* ...drawn here first, in BGR24 */
	struct fbus_format scratch_fmt;
	struct input *in;
	struct input_info info;
	uint64_t index;
};

/* Fill a loaned slot with frame p->index. */
static int
fill_slot(struct producer *p, struct fbus_slot *s, char *err, size_t errlen)
{
	if (p->in)
		return input_frame_write(p->in, &s->fmt, s->data, err, errlen);

	{
		struct gt gt;
		int rc, n;

		if (!p->conv) {
			rc = synth_render(p->synth, p->index, &s->fmt, s->data, &gt);
		} else {
			rc = synth_render(p->synth, p->index, &p->scratch_fmt,
			                  p->scratch, &gt);
			if (rc == 0)
				rc = conv_run(p->conv, &p->scratch_fmt, p->scratch,
				              &s->fmt, s->data);
		}
		if (rc < 0) {
			snprintf(err, errlen, "rendering frame %llu: %s",
			         (unsigned long long)p->index, fbus_strerror(rc));
			return rc;
		}
		n = gt_encode(&gt, s->meta, FBUS_META_MAX);
		s->meta_bytes = n > 0 ? (uint32_t)n : 0;
	}
	return 0;
}

static void
open_input(struct producer *p)
{
	struct opts *o = p->o;
	struct input_opts io = { 0 };
	char err[512], size[32] = "", rate[32] = "";
	int rc;

	if (!strcmp(o->input, "synthetic")) {
		uint32_t w = o->width ? o->width : 1280;
		uint32_t h = o->height ? o->height : 720;

		p->synth = synth_create(o->seed, w, h);
		if (!p->synth)
			cli_die(1, "out of memory for a %ux%u scene", w, h);
		if (!synth_supports(o->pixfmt)) {
			p->scratch_fmt = (struct fbus_format){
				.pixfmt = FBUS_PIXFMT_BGR24, .width = w, .height = h };
			fbus_format_layout(&p->scratch_fmt);
			p->scratch = malloc(p->scratch_fmt.size);
			if (!p->scratch)
				cli_die(1, "out of memory");
			if (conv_create(&p->conv, err, sizeof err) < 0)
				cli_die(1, "synthetic in %s: %s",
				        fbus_pixfmt_name(o->pixfmt), err);
		}
		p->info.fps = 30;
		p->info.width = w;
		p->info.height = h;
		return;
	}
	if (!input_available()) {
		input_open(&p->in, &io, err, sizeof err);
		cli_die(1, "%s: %s", o->input, err);
	}
	io.spec = o->input;
	io.width = o->width;
	io.height = o->height;
	io.pixfmt = o->pixfmt;
	io.loop = o->loop;
	if (input_kind_of(o->input) == INPUT_CAMERA) {
		if (o->width) {
			snprintf(size, sizeof size, "%ux%u", o->width, o->height);
			io.video_size = size;
		}
		if (o->fps_mode == FPS_NUMBER) {
			snprintf(rate, sizeof rate, "%g", o->fps);
			io.framerate = rate;
		}
		io.input_format = o->input_format;
	} else if (o->input_format) {
		cli_die(2, "--input-format is for cameras (/dev/videoN)");
	}
	io.av_opts = o->av_opts;
	io.n_av_opts = o->n_av_opts;
	io.io_timeout_s = o->timeout;
	io.stop = &cli_stop;
	io.status = on_status;
	io.user = o;
	rc = input_open(&p->in, &io, err, sizeof err);
	if (rc < 0) {
		if (cli_stop)
			exit(1);
		cli_die(1, "%s", err);
	}
	input_get_info(p->in, &p->info);
	if (!o->quiet && o->stats)
		fprintf(stderr, "framebus source: %s %s: %s %ux%u %s%s%.3g fps\n",
		        input_kind_name(p->info.kind), o->input, p->info.codec,
		        p->info.width, p->info.height, p->info.src_pixfmt,
		        p->info.fps > 0 ? ", " : "", p->info.fps);
}

static void
open_sink(struct producer *p)
{
	struct opts *o = p->o;
	struct fbus_pub_opts po = { .size = sizeof po };
	int rc;

	if (!strcmp(o->to, "null"))
		return;
	rc = fbus_pub_open(&p->sink.pub, o->to, &po);
	if (rc == FBUS_EADDRINUSE)
		cli_die(1, "%s (pick another name with --to)", fbus_open_error());
	if (rc == FBUS_EINVAL || rc == FBUS_ENAMETOOLONG)
		cli_die(2, "--to: %s", fbus_open_error());
	if (rc < 0)
		cli_die(1, "%s", fbus_open_error());
}

/*
 * A paced input's frame is prepared (decoded, rendered, converted) just
 * before its deadline rather than right after the previous commit: that
 * is when a subscriber starts its own work on the frame just published
 * (infer's forward pass), and on a machine of few cores the two would
 * share them (measured: forward 68.9 ms against 62.2 alone, next to a
 * 1080p synthetic source's 9.7 ms a frame).  The lead is 1.5x the
 * slowest of the last JIT_WINDOW preparations plus 1 ms, so a frame still
 * comes out on time when its cost varies (a video's key frames).
 */
#define JIT_WINDOW 32

struct jit {
	int64_t cost[JIT_WINDOW]; /* ns, the last preparations */
	uint32_t n;
};

static int64_t
jit_lead(const struct jit *j, int64_t period)
{
	int64_t worst = 0, lead;

	for (uint32_t i = 0; i < j->n && i < JIT_WINDOW; i++)
		if (j->cost[i] > worst)
			worst = j->cost[i];
	lead = worst + worst / 2 + 1000000;
	return lead < period ? lead : period;
}

static void
jit_record(struct jit *j, int64_t cost)
{
	j->cost[j->n++ % JIT_WINDOW] = cost;
}

static void
wait_subscribers(struct producer *p)
{
	while (!cli_stop && p->o->wait_subs > 0 &&
	       sink_subscribers(&p->sink) < (uint32_t)p->o->wait_subs) {
		struct timespec ts = { 0, 10000000 };

		nanosleep(&ts, NULL);
	}
}

int
cmd_source(int argc, char **argv)
{
	struct opts o = { 0 };
	struct producer p = { .o = &o };
	struct meter m = { 0 };
	struct input_stats ist;
	struct jit jit = { 0 };
	char err[512];
	int64_t period = 0, deadline, t_end = 0, t_prep = 0;
	int status = 0, live;

	parse_args(argc, argv, &o);
	cli_install_stop_handlers();
	open_input(&p);
	open_sink(&p);
	live = p.in && p.info.live;

	switch (o.fps_mode) {
	case FPS_NUMBER: period = (int64_t)llround(1e9 / o.fps); break;
	case FPS_NATIVE:
		period = live ? 0 : (int64_t)llround(1e9 / (p.info.fps > 0
		                                            ? p.info.fps : 25));
		break;
	case FPS_MAX: period = 0; break;
	}

	wait_subscribers(&p);
	m.tty = o.stats && isatty(STDERR_FILENO) && !o.quiet;
	m.t0 = m.last_print = fbus_now_mono_ns();
	deadline = m.t0;
	if (o.duration > 0)
		t_end = m.t0 + (int64_t)(o.duration * 1e9);

	while (!cli_stop) {
		struct fbus_format fmt;
		struct fbus_slot slot;
		int64_t now, seq;
		int rc;

		if (o.frames && (long long)m.frames >= o.frames)
			break;
		if (t_end && fbus_now_mono_ns() >= t_end)
			break;
		if (!live && period && m.frames) {
			cli_sleep_until(deadline - jit_lead(&jit, period));
			if (cli_stop)
				break;
		}
		t_prep = fbus_now_mono_ns();
		if (p.in) {
			rc = input_next(p.in, err, sizeof err);
			if (rc == 0)
				break;
			if (rc < 0) {
				cli_warn("error: %s", err);
				status = 1;
				break;
			}
			/* a live source runs at its own pace: keep every
			 * frame that reaches the next deadline, drop the rest */
			if (live && period) {
				now = fbus_now_mono_ns();
				if (now < deadline - period / 4) {
					m.rate_drops++;
					continue;
				}
			}
			input_frame_format(p.in, &fmt);
		} else {
			fmt = (struct fbus_format){ .pixfmt = o.pixfmt,
			                            .width = p.info.width,
			                            .height = p.info.height };
			fbus_format_layout(&fmt);
		}

		rc = sink_loan(&p.sink, &fmt, &slot);
		if (rc == FBUS_EBUSY) {
			m.busy++;
			p.index++;
			cli_sleep_until(deadline += period);
			continue;
		}
		if (rc < 0) {
			cli_warn("error: cannot get a slot for a %ux%u %s frame: %s",
			         fmt.width, fmt.height, fbus_pixfmt_name(fmt.pixfmt),
			         fbus_strerror(rc));
			status = 1;
			break;
		}
		if (fill_slot(&p, &slot, err, sizeof err) < 0) {
			sink_abort(&p.sink, &slot);
			cli_warn("error: %s", err);
			status = 1;
			break;
		}

		/* paced inputs: the frame is ready, publish it on its deadline */
		if (!live && period) {
			jit_record(&jit, fbus_now_mono_ns() - t_prep);
			/* the grid starts when the first frame is ready, so the
			 * first render does not count as lateness */
			if (m.frames == 0)
				deadline = fbus_now_mono_ns();
			cli_sleep_until(deadline);
		}
		now = fbus_now_mono_ns();
		slot.t_mono_ns = now;
		slot.t_real_ns = fbus_now_real_ns();
		seq = sink_commit(&p.sink, &slot);
		if (seq < 0) {
			cli_warn("error: publishing: %s",
			         p.sink.pub && fbus_pub_last_error(p.sink.pub)[0]
			                 ? fbus_pub_last_error(p.sink.pub)
			                 : fbus_strerror((int)seq));
			status = 1;
			break;
		}
		m.frames++;
		p.index++;
		if (period) {
			double lat = (double)(now - deadline) / 1e3;

			if (lat > 0 && !live) {
				m.lat_sum_us += lat;
				if (lat > m.lat_max_us)
					m.lat_max_us = lat;
			}
			deadline += period;
			if (now > deadline) {
				/* more than a period behind: skip the deadlines
				 * already missed instead of bursting to catch up */
				m.late++;
				deadline += ((now - deadline) / period + 1) * period;
			}
		}
		if (m.tty)
			meter_tick(&m, &p.sink, p.in, 0);
	}

	if (o.stats)
		meter_summary(&m, &p.sink, p.in);
	if (p.in) {
		input_get_stats(p.in, &ist);
		if (ist.corrupt && live && !o.quiet)
			cli_warn("%llu corrupt packets or frames skipped in %s",
			         (unsigned long long)ist.corrupt, o.input);
		if (ist.corrupt && !live && status == 0) {
			cli_warn("error: %s is damaged (%llu corrupt packets or "
			         "frames)", o.input, (unsigned long long)ist.corrupt);
			status = 1;
		}
	}
	fbus_pub_close(p.sink.pub);
	input_close(p.in);
	synth_destroy(p.synth);
	conv_destroy(p.conv);
	free(p.scratch);
	free(p.sink.buf);
	free(o.av_opts);
	return status;
}

/* SPDX-License-Identifier: MIT */
/*
 * bench.c — framebus-gst-bench: framebussink -> framebussrc against
 * GStreamer's own shmsink -> shmsrc, side by side in one run, producer and
 * consumer in separate processes (this program run again with --role).
 * Latency: from the buffer's PTS (its time on the producer's monotonic
 * clock) and from its entry into the sink element, to the consumer's
 * fakesink render; CPU per frame on each side; frames/s back to back.
 */
#include <gst/gst.h>
#include <gst/video/video.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define STAMP_MAGIC 0x46425354414d5031ull /* "FBSTAMP1" */
#define WARMUP 10 /* frames left out of the latency figures */

struct cfg {
	const char *role; /* NULL (the driver), "producer", "consumer" */
	const char *transport; /* "framebus" or "shm" */
	int w, h, fps; /* fps 0: back to back */
	int frames;
	const char *name; /* bus name or socket path */
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t
cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
	       ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "framebus-gst-bench: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static GstElement *
parse(const char *desc)
{
	GError *err = NULL;
	GstElement *p = gst_parse_launch(desc, &err);

	if (!p || err)
		die("%s: %s", desc, err ? err->message : "cannot build");
	return p;
}

/* Wait for EOS or an error on a pipeline's bus; FALSE on error. */
static gboolean
run_to_eos(GstElement *p, GstClockTime timeout)
{
	GstBus *bus = gst_element_get_bus(p);
	GstMessage *m = gst_bus_timed_pop_filtered(bus, timeout,
		GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
	gboolean ok = m && GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS;

	if (m && !ok) {
		GError *e;
		gchar *dbg;

		gst_message_parse_error(m, &e, &dbg);
		fprintf(stderr, "framebus-gst-bench: %s (%s)\n", e->message,
		        dbg ? dbg : "");
		g_error_free(e);
		g_free(dbg);
	}
	if (m)
		gst_message_unref(m);
	gst_object_unref(bus);
	return ok;
}

/* ---- producer ------------------------------------------------------- */

/* Each buffer carries, in its first 24 bytes, a magic, its PTS as a
 * monotonic time and the time it entered the sink element: the bytes are
 * what both transports move, so both are measured the same way. */
static GstPadProbeReturn
stamp_probe(GstPad *pad, GstPadProbeInfo *pi, gpointer user)
{
	GstElement *sink = user;
	GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(pi);
	GstClockTime pts = GST_BUFFER_PTS(buf);
	uint64_t st[3] = { STAMP_MAGIC, 0, 0 };
	GstMapInfo mi;

	(void)pad;
	if (GST_CLOCK_TIME_IS_VALID(pts))
		st[1] = pts + gst_element_get_base_time(sink);
	st[2] = (uint64_t)now_ns();
	if (gst_buffer_map(buf, &mi, GST_MAP_WRITE)) {
		if (mi.size >= sizeof st)
			memcpy(mi.data, st, sizeof st);
		gst_buffer_unmap(buf, &mi);
	}
	return GST_PAD_PROBE_OK;
}

static guint
sink_subscribers(GstElement *sink)
{
	GstStructure *st = NULL;
	guint n = 0;

	g_object_get(sink, "stats", &st, NULL);
	if (st) {
		gst_structure_get_uint(st, "subscribers", &n);
		gst_structure_free(st);
	}
	return n;
}

static int
producer(const struct cfg *c)
{
	char desc[1024], sinkdesc[512];
	GstElement *p, *sink;
	GstPad *pad;
	int64_t t0, c0, t1, c1;
	size_t frame = (size_t)c->w * c->h * 4;

	if (!strcmp(c->transport, "framebus"))
		snprintf(sinkdesc, sizeof sinkdesc,
		         "framebussink name=s uri=shm:%s", c->name);
	else
		snprintf(sinkdesc, sizeof sinkdesc,
		         "shmsink name=s socket-path=%s shm-size=%zu "
		         "wait-for-connection=true sync=false", c->name,
		         frame * 16 + (1 << 20));
	snprintf(desc, sizeof desc,
	         "videotestsrc is-live=%s pattern=ball num-buffers=%d ! "
	         "video/x-raw,format=BGRx,width=%d,height=%d,framerate=%d/1 ! %s",
	         c->fps ? "true" : "false", c->frames, c->w, c->h,
	         c->fps ? c->fps : 30, sinkdesc);
	p = parse(desc);
	sink = gst_bin_get_by_name(GST_BIN(p), "s");
	pad = gst_element_get_static_pad(sink, "sink");
	gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, stamp_probe, sink,
	                  NULL);
	gst_object_unref(pad);
	/* framebus: the consumer subscribes before the first frame (shmsink
	 * waits for its connection itself) */
	if (gst_element_set_state(p, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE)
		die("producer pipeline: cannot start");
	gst_element_get_state(p, NULL, NULL, 10 * GST_SECOND);
	if (!strcmp(c->transport, "framebus")) {
		int i;

		for (i = 0; i < 1000 && !sink_subscribers(sink); i++)
			g_usleep(10000);
		if (!sink_subscribers(sink))
			die("no subscriber came in 10 s");
	}
	t0 = now_ns();
	c0 = cpu_ns();
	gst_element_set_state(p, GST_STATE_PLAYING);
	if (!run_to_eos(p, 600 * GST_SECOND))
		die("producer pipeline failed");
	t1 = now_ns();
	c1 = cpu_ns();
	{
		/* framebussink: how many frames upstream drew in place */
		GstStructure *st = NULL;
		guint64 zc = 0;

		if (!strcmp(c->transport, "framebus"))
			g_object_get(sink, "stats", &st, NULL);
		if (st) {
			gst_structure_get_uint64(st, "zero-copy", &zc);
			gst_structure_free(st);
		}
		printf("frames=%d elapsed_ns=%" PRId64 " cpu_ns=%" PRId64
		       " zero_copy=%" G_GUINT64_FORMAT "\n", c->frames, t1 - t0,
		       c1 - c0, zc);
	}
	fflush(stdout);
	/* the consumer may still be reading the last frames */
	g_usleep(300000);
	gst_element_set_state(p, GST_STATE_NULL);
	gst_object_unref(sink);
	gst_object_unref(p);
	return 0;
}

/* ---- consumer ------------------------------------------------------- */

struct recv {
	int want;
	int n, stamped;
	int64_t first_t, last_t, first_cpu, last_cpu;
	double *lat_pts, *lat_in; /* µs */
	int nlat;
	GMainLoop *loop;
};

static void
on_handoff(GstElement *fs, GstBuffer *buf, GstPad *pad, gpointer user)
{
	struct recv *r = user;
	int64_t t = now_ns();
	GstMapInfo mi;

	(void)fs;
	(void)pad;
	if (r->n == 0) {
		r->first_t = t;
		r->first_cpu = cpu_ns();
	}
	if (gst_buffer_map(buf, &mi, GST_MAP_READ)) {
		uint64_t st[3];

		if (mi.size >= sizeof st) {
			memcpy(st, mi.data, sizeof st);
			if (st[0] == STAMP_MAGIC) {
				r->stamped++;
				if (r->n >= WARMUP && r->nlat < r->want) {
					r->lat_pts[r->nlat] = st[1] ?
						(double)(t - (int64_t)st[1]) / 1e3 :
						NAN;
					r->lat_in[r->nlat] =
						(double)(t - (int64_t)st[2]) / 1e3;
					r->nlat++;
				}
			}
		}
		gst_buffer_unmap(buf, &mi);
	}
	r->n++;
	r->last_t = t;
	r->last_cpu = cpu_ns();
	if (r->n >= r->want)
		g_main_loop_quit(r->loop);
}

static gboolean
idle_check(gpointer user)
{
	struct recv *r = user;

	/* the producer is done: nothing for 3 s after the last frame */
	if (r->n > 0 && now_ns() - r->last_t > 3000000000LL)
		g_main_loop_quit(r->loop);
	if (r->n == 0 && now_ns() - r->first_t > 30000000000LL)
		g_main_loop_quit(r->loop); /* none came at all */
	return G_SOURCE_CONTINUE;
}

/* an error (the producer gone from under shmsrc) or EOS ends it too */
static gboolean
on_bus(GstBus *bus, GstMessage *m, gpointer user)
{
	struct recv *r = user;

	(void)bus;
	if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
		GError *e;
		gchar *dbg;

		gst_message_parse_error(m, &e, &dbg);
		fprintf(stderr, "framebus-gst-bench: consumer: %s (%s)\n",
		        e->message, dbg ? dbg : "");
		g_error_free(e);
		g_free(dbg);
	}
	if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR ||
	    GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS)
		g_main_loop_quit(r->loop);
	return G_SOURCE_CONTINUE;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
pct(double *v, int n, double p)
{
	if (n == 0 || isnan(v[0]))
		return NAN;
	qsort(v, (size_t)n, sizeof *v, cmp_d);
	return v[(int)fmin(n - 1, floor(p * n))];
}

static int
consumer(const struct cfg *c)
{
	char desc[1024], srcdesc[512];
	struct recv r = { .want = c->frames };
	GstElement *p, *fs;
	GstBus *bus;

	r.lat_pts = g_new0(double, c->frames);
	r.lat_in = g_new0(double, c->frames);
	r.loop = g_main_loop_new(NULL, FALSE);
	r.first_t = now_ns();
	/* both lossless: framebus every + block, as shmsink blocks */
	if (!strcmp(c->transport, "framebus"))
		snprintf(srcdesc, sizeof srcdesc,
		         "framebussrc uri=shm:%s mode=every depth=4 "
		         "full-policy=block", c->name);
	else
		snprintf(srcdesc, sizeof srcdesc,
		         "shmsrc socket-path=%s ! "
		         "video/x-raw,format=BGRx,width=%d,height=%d,"
		         "framerate=0/1", c->name, c->w, c->h);
	snprintf(desc, sizeof desc,
	         "%s ! fakesink name=f sync=false signal-handoffs=true", srcdesc);
	p = parse(desc);
	fs = gst_bin_get_by_name(GST_BIN(p), "f");
	g_signal_connect(fs, "handoff", G_CALLBACK(on_handoff), &r);
	bus = gst_element_get_bus(p);
	if (gst_element_set_state(p, GST_STATE_PLAYING) ==
	    GST_STATE_CHANGE_FAILURE)
		die("consumer pipeline: cannot start");
	g_timeout_add(200, idle_check, &r);
	gst_bus_add_watch(bus, on_bus, &r);
	g_main_loop_run(r.loop);
	gst_element_set_state(p, GST_STATE_NULL);
	{
		double p50 = pct(r.lat_in, r.nlat, 0.5),
		       p99 = pct(r.lat_in, r.nlat, 0.99);
		double q50 = pct(r.lat_pts, r.nlat, 0.5),
		       q99 = pct(r.lat_pts, r.nlat, 0.99);
		int64_t span = r.last_t - r.first_t;

		printf("frames=%d stamped=%d in_p50=%.1f in_p99=%.1f "
		       "pts_p50=%.1f pts_p99=%.1f span_ns=%" PRId64
		       " cpu_ns=%" PRId64 "\n", r.n, r.stamped, p50, p99, q50,
		       q99, span, r.last_cpu - r.first_cpu);
	}
	gst_object_unref(bus);
	gst_object_unref(fs);
	gst_object_unref(p);
	g_main_loop_unref(r.loop);
	g_free(r.lat_pts);
	g_free(r.lat_in);
	return 0;
}

/* ---- driver --------------------------------------------------------- */

static pid_t
spawn_role(const char *self, const struct cfg *c, const char *role, int *out)
{
	char size[32], fps[16], frames[16];
	char *argv[] = { (char *)self, "--role", (char *)role, "--transport",
		         (char *)c->transport, "--size", size, "--fps", fps,
		         "--frames", frames, "--name", (char *)c->name, NULL };
	posix_spawn_file_actions_t fa;
	int pfd[2];
	pid_t pid;

	snprintf(size, sizeof size, "%dx%d", c->w, c->h);
	snprintf(fps, sizeof fps, "%d", c->fps);
	snprintf(frames, sizeof frames, "%d", c->frames);
	if (pipe(pfd))
		die("pipe");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_addclose(&fa, pfd[0]);
	if (posix_spawn(&pid, self, &fa, NULL, argv, environ))
		die("cannot run %s", self);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	*out = pfd[0];
	return pid;
}

/* Both sides' exit statuses; one left alone 10 s after the other ended
 * (shmsink waits for ever for a consumer that went) is killed. */
static void
wait_both(pid_t a, int *as, pid_t b, int *bs)
{
	gboolean ad = FALSE, bd = FALSE;
	int64_t first = 0;

	while (!ad || !bd) {
		if (!ad && waitpid(a, as, WNOHANG) == a)
			ad = TRUE;
		if (!bd && waitpid(b, bs, WNOHANG) == b)
			bd = TRUE;
		if ((ad || bd) && !first)
			first = now_ns();
		if (first && now_ns() - first > 10000000000LL) {
			fprintf(stderr, "framebus-gst-bench: the %s did not end "
			        "after the %s: killed\n", ad ? "consumer" :
			        "producer", ad ? "producer" : "consumer");
			kill(ad ? b : a, SIGKILL);
			first = now_ns() - 9000000000LL; /* reaped next */
		}
		g_usleep(20000);
	}
}

static void
read_all(int fd, char *buf, size_t n)
{
	size_t got = 0;
	ssize_t k;

	while (got + 1 < n && (k = read(fd, buf + got, n - 1 - got)) > 0)
		got += (size_t)k;
	buf[got] = 0;
	close(fd);
}

/* A number for JSON: "null" when it is none (nan, inf). */
static const char *
jnum(char buf[32], double x, int decimals)
{
	if (!isfinite(x))
		return "null";
	snprintf(buf, 32, "%.*f", decimals, x);
	return buf;
}

static double
field(const char *line, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof pat, "%s=", key);
	p = strstr(line, pat);
	return p ? strtod(p + strlen(pat), NULL) : NAN;
}

/* PTS latency means something only when the producer is live (paced):
 * back to back, PTS run ahead of the clock. */
static const char *
us(int fps, double v, char *buf)
{
	if (!fps || isnan(v))
		return "—";
	snprintf(buf, 32, "%.0f", v);
	return buf;
}

static int
run_case(const char *self, struct cfg *c, gboolean json)
{
	char pout[512], cout[512], name[128];
	int pfd, cfd, pst, cst;
	gboolean stalled;
	pid_t pp, cp;

	if (!strcmp(c->transport, "framebus"))
		snprintf(name, sizeof name, "gstbench%d", (int)getpid());
	else
		snprintf(name, sizeof name, "/tmp/gstbench%d.sock", (int)getpid());
	c->name = name;
	unlink(name);
	if (!strcmp(c->transport, "framebus")) {
		cp = spawn_role(self, c, "consumer", &cfd);
		pp = spawn_role(self, c, "producer", &pfd);
	} else {
		/* shmsrc needs shmsink's socket to be there */
		pp = spawn_role(self, c, "producer", &pfd);
		for (int i = 0; i < 500 && access(name, F_OK); i++)
			g_usleep(10000);
		cp = spawn_role(self, c, "consumer", &cfd);
	}
	wait_both(pp, &pst, cp, &cst);
	read_all(pfd, pout, sizeof pout);
	read_all(cfd, cout, sizeof cout);
	unlink(name);
	if (!WIFEXITED(cst) || WEXITSTATUS(cst) || !strstr(cout, "frames=")) {
		fprintf(stderr, "framebus-gst-bench: %s %dx%d: the consumer "
		        "failed\n", c->transport, c->w, c->h);
		return 1;
	}
	/* the producer stuck with frames unsent: the row says so (shmsink
	 * can wait for ever for space its consumer already gave back) */
	stalled = !WIFEXITED(pst) || WEXITSTATUS(pst) || !strstr(pout, "frames=");
	{
		double pf = stalled ? c->frames : field(pout, "frames");
		double el = field(pout, "elapsed_ns");
		double pc = field(pout, "cpu_ns"), cf = field(cout, "frames");
		double span = field(cout, "span_ns"), cc = field(cout, "cpu_ns");
		double st = field(cout, "stamped");
		char mode[32], a[32], b[32];

		if (c->fps)
			snprintf(mode, sizeof mode, "%d fps", c->fps);
		else
			snprintf(mode, sizeof mode, "back to back");
		if (json) {
			/* a stalled producer reports no numbers: null, not
			 * nan, keeps the line JSON */
			char v[12][32];

			printf("{\"transport\":\"%s\",\"size\":\"%dx%d\","
			       "\"fps\":%d,\"sent\":%s,\"received\":%s,"
			       "\"stamped\":%s,\"in_p50_us\":%s,"
			       "\"in_p99_us\":%s,\"pts_p50_us\":%s,"
			       "\"pts_p99_us\":%s,\"sent_fps\":%s,"
			       "\"received_fps\":%s,\"producer_cpu_us\":%s,"
			       "\"consumer_cpu_us\":%s,\"stalled\":%s,"
			       "\"zero_copy\":%s}\n",
			       c->transport, c->w, c->h, c->fps,
			       jnum(v[0], pf, 0), jnum(v[1], cf, 0),
			       jnum(v[2], st, 0),
			       jnum(v[3], field(cout, "in_p50"), 1),
			       jnum(v[4], field(cout, "in_p99"), 1),
			       jnum(v[5], field(cout, "pts_p50"), 1),
			       jnum(v[6], field(cout, "pts_p99"), 1),
			       jnum(v[7], pf / (el / 1e9), 1),
			       jnum(v[8], (cf - 1) / (span / 1e9), 1),
			       jnum(v[9], pc / pf / 1e3, 1),
			       jnum(v[10], cc / (cf - 1) / 1e3, 1),
			       stalled ? "true" : "false",
			       jnum(v[11], field(pout, "zero_copy"), 0));
		} else {
			printf("| %dx%d | %s | %s | %.0f/%.0f%s | %s | %s | %.0f | "
			       "%.0f | %.1f | %.1f | %.0f | %.0f |\n",
			       c->w, c->h, mode, !strcmp(c->transport, "shm") ?
			       "shmsink → shmsrc" : "framebussink → framebussrc",
			       cf, pf, stalled ? " (producer stalled)" : "",
			       us(c->fps, field(cout, "pts_p50"), a),
			       us(c->fps, field(cout, "pts_p99"), b),
			       field(cout, "in_p50"), field(cout, "in_p99"),
			       pf / (el / 1e9), (cf - 1) / (span / 1e9),
			       pc / pf / 1e3, cc / (cf - 1) / 1e3);
		}
		if (stalled)
			fprintf(stderr, "framebus-gst-bench: %s %dx%d: the "
			        "producer stalled after %.0f of %d frames\n",
			        c->transport, c->w, c->h, cf, c->frames);
		if (st < cf)
			fprintf(stderr, "framebus-gst-bench: %s %dx%d: %.0f of "
			        "%.0f frames carried no stamp (a buffer the "
			        "producer could not write)\n", c->transport,
			        c->w, c->h, cf - st, cf);
		fflush(stdout);
	}
	/* the baseline's stall is a finding; ours would be a bug */
	return stalled && !strcmp(c->transport, "framebus");
}

static void
usage(void)
{
	fprintf(stderr,
	        "usage: framebus-gst-bench [--size WxH]... [--frames N] "
	        "[--fps N] [--transport framebus|shm]... [--json]\n"
	        "  framebussink -> framebussrc vs shmsink -> shmsrc, BGRx, "
	        "producer and consumer in separate processes.\n"
	        "  defaults: --size 1920x1080 --size 3840x2160 --frames 300, "
	        "each paced at --fps 30 and back to back; both transports\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct cfg c = { .frames = 300, .fps = -1 };
	int sizes[8][2], nsizes = 0, fail = 0;
	const char *transports[2];
	int ntr = 0;
	gboolean json = FALSE;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--json")) {
			json = TRUE;
			continue;
		}
		if (!v || a[0] != '-')
			usage();
		i++;
		if (!strcmp(a, "--role"))
			c.role = v;
		else if (!strcmp(a, "--name"))
			c.name = v;
		else if (!strcmp(a, "--frames") && (c.frames = atoi(v)) > WARMUP)
			;
		else if (!strcmp(a, "--fps") && (c.fps = atoi(v)) >= 0)
			;
		else if (!strcmp(a, "--size") && nsizes < 8 &&
		         sscanf(v, "%dx%d", &sizes[nsizes][0],
		                &sizes[nsizes][1]) == 2 &&
		         sizes[nsizes][0] > 0 && sizes[nsizes][1] > 0)
			nsizes++;
		else if (!strcmp(a, "--transport") && ntr < 2 &&
		         (!strcmp(v, "framebus") || !strcmp(v, "shm")))
			transports[ntr++] = v;
		else
			usage();
	}
	gst_init(&argc, &argv);
	if (c.role) {
		if (!nsizes || !ntr || !c.name || c.fps < 0)
			usage();
		c.w = sizes[0][0];
		c.h = sizes[0][1];
		c.transport = transports[0];
		return !strcmp(c.role, "producer") ? producer(&c) : consumer(&c);
	}
	if (!gst_element_factory_find("framebussink"))
		die("the framebus plugin is not found: build it and set "
		    "GST_PLUGIN_PATH=build/gst (or make install)");
	if (!gst_element_factory_find("shmsink"))
		die("shmsink is missing: apt-get install gstreamer1.0-plugins-bad");
	if (!nsizes) {
		sizes[0][0] = 1920, sizes[0][1] = 1080;
		sizes[1][0] = 3840, sizes[1][1] = 2160;
		nsizes = 2;
	}
	if (!ntr) {
		transports[0] = "framebus";
		transports[1] = "shm";
		ntr = 2;
	}
	if (!json)
		printf("| size | pace | path | received/sent | PTS→render p50 "
		       "[µs] | p99 [µs] | sink→render p50 [µs] | p99 [µs] | "
		       "sent [frames/s] | received [frames/s] | producer CPU "
		       "[µs/frame] | consumer CPU [µs/frame] |\n"
		       "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
		       "---:|\n");
	for (int s = 0; s < nsizes; s++) {
		int paces[2] = { c.fps < 0 ? 30 : c.fps, 0 };
		int np = c.fps < 0 ? 2 : 1;

		for (int k = 0; k < np; k++)
			for (int t = 0; t < ntr; t++) {
				struct cfg cc = c;

				cc.w = sizes[s][0];
				cc.h = sizes[s][1];
				cc.fps = paces[k];
				cc.transport = transports[t];
				fail |= run_case("/proc/self/exe", &cc, json);
			}
	}
	return fail;
}

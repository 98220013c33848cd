/* SPDX-License-Identifier: MIT */
/*
 * bench.c — `framebus bench`: measure a transport with a real producer and
 * a real subscriber process.  Per case (transport x size x variant):
 *  - latency: 1 ms of quiet between frames so the subscriber sleeps;
 *    commit -> subscriber awake with a pointer, from the frame's capture
 *    stamp (CLOCK_MONOTONIC is system-wide) to the return of next();
 *  - CPU per frame on each side over that paced phase (getrusage);
 *  - frames/s: the same frames back to back: `fps` is what the producer
 *    commits, `delivered_fps` what the (latest-mode) subscriber receives
 *    — for streams the second is the one that matters;
 *  - stream JPEG latency includes the encode (it happens in commit);
 *  - fill variant: the producer writes every pixel (memcpy of a source
 *    frame into the slot), compared to a plain memcpy of the same frame;
 *  - --fps N paces the latency phase at N Hz instead (a camera's rate);
 *  - nats: through the nats-server given with --nats HOST:PORT.
 * The subscriber is this program exec'd afresh (`bench --sub ...`): a
 * child forked from a process that ran a client library's threads
 * (libnats) could not use that library.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "framebus.h"
#include "input.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct bench_case {
	const char *transport; /* shm, unix, tcp */
	const char *codec;     /* raw, jpeg */
	uint32_t w, h;
	int fill;
	int frames;
};

struct sub_report {
	uint64_t frames;     /* paced frames seen */
	uint64_t total;      /* all frames seen */
	double delivered_fps; /* throughput phase, as the subscriber saw it */
	double p50, p99, max; /* us */
	double cpu_us;       /* over the paced phase */
	double b2b_p50, b2b_p99; /* us, throughput phase: back to back */
	int rc;
};

struct bench_meta {
	uint32_t phase; /* 1 = paced, 2 = throughput */
	uint32_t pad;
};

static double
cpu_now_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* --nats HOST:PORT, --fps N, --subscribers N, --every */
static const char *bench_nats;
static double bench_fps;
static int bench_subs = 1;
static int bench_every; /* 2: with the block policy */
static int bench_predict; /* --wake predict: shm subscribers' ?wake= */
static int bench_pin;     /* --pin: producer on CPU 0, subscribers after */
static const char *bench_fit; /* --fit WxH: the subscribers' ?fit= */
static int bench_threads;     /* --threads N: ?threads= on both ends */

/* --pin: this process on CPU k of the online ones (mod their count) */
static void
pin_to(int k)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	if (!bench_pin || n < 1)
		return;
	CPU_ZERO(&set);
	CPU_SET((int)(k % n), &set);
	if (sched_setaffinity(0, sizeof set, &set))
		cli_die(1, "--pin: sched_setaffinity: %s", strerror(errno));
}
/* --image FILE: the frames' pixels (a photo: JPEG costs what it costs on
 * real content), scaled to each --size */
static const char *bench_image;

/* The picture at the case's size, as BGR, into src. */
static void
load_image(const struct fbus_format *fmt, uint8_t *src)
{
	struct input_opts io = { .spec = bench_image, .width = fmt->width,
		                 .height = fmt->height,
		                 .pixfmt = FBUS_PIXFMT_BGR24 };
	struct fbus_format f;
	struct input *in;
	char err[256];

	if (input_open(&in, &io, err, sizeof err))
		cli_die(1, "--image %s: %s", bench_image, err);
	if (input_frame_format(in, &f) || f.size != fmt->size ||
	    input_frame_write(in, &f, src, err, sizeof err)) {
		input_close(in);
		cli_die(1, "--image %s: cannot make a %ux%u bgr24 frame of it",
		        bench_image, fmt->width, fmt->height);
	}
	input_close(in);
}

#define MAX_BENCH_SUBS 64

static void
make_uri_base(char *buf, size_t n, const struct bench_case *c);

static void
make_uri(char *buf, size_t n, const struct bench_case *c)
{
	size_t len;

	make_uri_base(buf, n, c);
	len = strlen(buf);
	if (bench_threads && len < n)
		snprintf(buf + len, n - len, "&threads=%d", bench_threads);
}

static void
make_uri_base(char *buf, size_t n, const struct bench_case *c)
{
	if (!strcmp(c->transport, "nats"))
		snprintf(buf, n, "nats://%s/bench-%d?codec=%s", bench_nats,
		         (int)getpid(), c->codec);
	else if (!strcmp(c->transport, "shm"))
		snprintf(buf, n, "shm:bench-%d", (int)getpid());
	else if (!strcmp(c->transport, "unix"))
		snprintf(buf, n, "unix:/tmp/framebus-bench-%d.sock?codec=%s",
		         (int)getpid(), c->codec);
	else
		snprintf(buf, n, "tcp://127.0.0.1:%d?codec=%s",
		         20000 + (int)(getpid() % 20000), c->codec);
}

/* --group: the subscriber is a worker group member (the take's cost) */
static const char *bench_group;

/* The subscriber process: reads until the producer goes away, reports. */
static void
run_subscriber(const char *uri, int frames, int out_fd)
{
	struct fbus_sub_opts o = { .size = sizeof o,
		                   .flags = FBUS_SUB_RECONNECT,
		                   .group = bench_group,
		                   .mode = bench_every ? FBUS_MODE_EVERY
		                                       : FBUS_MODE_LATEST,
		                   .full_policy = bench_every == 2
		                                          ? FBUS_FULL_BLOCK
		                                          : FBUS_FULL_DROP,
		                   .depth = 4 };
	struct sub_report rep = { 0 };
	struct fbus_frame f;
	struct fbus_sub *s;
	double *lat = calloc((size_t)frames + 1, sizeof *lat);
	/* back to back: the first B2B_MAX frames' latencies */
	enum { B2B_MAX = 1 << 20 };
	double *lat2 = calloc(B2B_MAX, sizeof *lat2);
	double cpu0 = -1, cpu1 = 0;
	int64_t t2_first = 0, t2_last = 0;
	uint64_t n2 = 0;
	int rc, seen_any = 0;

	if (!lat || !lat2 || fbus_sub_open(&s, uri, &o) != 0)
		_exit(3);
	for (;;) {
		rc = fbus_sub_next(s, &f, 5000);
		if (rc == FBUS_EDISCONNECTED && !seen_any)
			continue; /* producer not up yet */
		if (rc == FBUS_ETIMEDOUT)
			continue; /* a pause (memcpy baseline); the close ends us */
		if (rc)
			break;
		int64_t now = fbus_now_mono_ns();
		struct bench_meta m = { 0 };

		seen_any = 1;
		if (f.meta_bytes == sizeof m)
			memcpy(&m, f.meta, sizeof m);
		/* CPU is sampled only at the phase edges: a getrusage per
		 * frame would be a syscall inside what we measure */
		if (m.phase == 1) {
			if (cpu0 < 0)
				cpu0 = cpu_now_us();
			if (rep.frames < (uint64_t)frames)
				lat[rep.frames++] =
					(double)(now - f.t_mono_ns) / 1e3;
		} else if (m.phase == 2) {
			if (cpu0 >= 0 && cpu1 == 0)
				cpu1 = cpu_now_us();
			if (n2 < B2B_MAX)
				lat2[n2] = (double)(now - f.t_mono_ns) / 1e3;
			if (!n2++)
				t2_first = now;
			t2_last = now;
		}
		rep.total++;
		fbus_sub_release(s, &f);
	}
	rep.rc = rc;
	if (n2 > 1 && t2_last > t2_first)
		rep.delivered_fps = (double)(n2 - 1) /
		                    ((double)(t2_last - t2_first) / 1e9);
	if (cpu0 >= 0 && cpu1 == 0)
		cpu1 = cpu_now_us();
	fbus_sub_close(s);
	if (rep.frames) {
		cli_sort_doubles(lat, rep.frames);
		rep.p50 = cli_percentile(lat, rep.frames, 50);
		rep.p99 = cli_percentile(lat, rep.frames, 99);
		rep.max = lat[rep.frames - 1];
		/* cpu0 was taken after frame 1 of the paced phase, cpu1 at
		 * the first throughput frame: frames-1 paced frames and one
		 * wake-up for the throughput frame lie between */
		rep.cpu_us = rep.frames > 1 ? (cpu1 - cpu0) / (double)rep.frames
		                            : 0;
	}
	if (n2) {
		size_t m = n2 < B2B_MAX ? (size_t)n2 : B2B_MAX;

		cli_sort_doubles(lat2, m);
		rep.b2b_p50 = cli_percentile(lat2, m, 50);
		rep.b2b_p99 = cli_percentile(lat2, m, 99);
	}
	if (write(out_fd, &rep, sizeof rep) != sizeof rep)
		_exit(4);
	_exit(0);
}

static double
thread_cpu_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* CPU of copies that are not the case's own work: the pixels of a
 * hand-off case that encodes or was given --image (they must be in the
 * slot, or a JPEG of them is a JPEG of nothing) */
static double uncounted_us;

/* fill: 1 the case copies the frame in; 2 copied in, uncounted */
static int64_t
publish(struct fbus_pub *p, const struct fbus_format *fmt, const uint8_t *src,
        int fill, uint32_t phase)
{
	struct bench_meta m = { phase, 0 };
	struct fbus_slot s;
	int rc = fbus_pub_loan(p, fmt, &s);

	if (rc)
		return rc;
	if (fill == 1) {
		memcpy(s.data, src, s.fmt.size);
	} else if (fill == 2) {
		double t0 = thread_cpu_us();

		memcpy(s.data, src, s.fmt.size);
		uncounted_us += thread_cpu_us() - t0;
	}
	memcpy(s.meta, &m, sizeof m);
	s.meta_bytes = sizeof m;
	/* stamp right before commit: we measure the hand-off, not the fill */
	s.t_mono_ns = fbus_now_mono_ns();
	return fbus_pub_commit(p, &s);
}

static double
memcpy_fps(const uint8_t *src, size_t size, int frames)
{
	uint8_t *dst = malloc(size);
	int64_t t0;
	double dt;
	int n;

	if (!dst)
		return 0;
	memcpy(dst, src, size); /* fault the pages in first */
	t0 = fbus_now_mono_ns();
	/* `frames` copies, but at most ~2 s of them (4K takes ms each) */
	for (n = 0; n < frames && fbus_now_mono_ns() - t0 < 2000000000; n++) {
		memcpy(dst, src, size);
		/* keep the copy from being optimised away */
		__asm__ volatile("" : : "r"(dst) : "memory");
	}
	dt = (double)(fbus_now_mono_ns() - t0) / 1e9;
	free(dst);
	return dt > 0 ? n / dt : 0;
}

static void
kill_all(const pid_t *child, int n)
{
	for (int k = 0; k < n; k++) {
		kill(child[k], SIGKILL);
		waitpid(child[k], NULL, 0);
	}
}

static int
run_case(const struct bench_case *c, int json)
{
	struct fbus_format fmt = { .pixfmt = FBUS_PIXFMT_BGR24, .width = c->w,
		                   .height = c->h };
	struct fbus_pub_opts po = { .size = sizeof po };
	struct fbus_pub_stats st;
	struct sub_report rep, reps[MAX_BENCH_SUBS];
	struct fbus_pub *p;
	char uri[160];
	uint8_t *src;
	int pfd[MAX_BENCH_SUBS], status, rc, ns = bench_subs;
	int64_t t0;
	double pub_cpu, fps, mfps = 0;
	pid_t child[MAX_BENCH_SUBS];
	int warm = 20, n;
	int64_t t_paced;
	/* see publish() */
	int fill = c->fill                                ? 1
	           : bench_image || !strcmp(c->codec, "jpeg") ? 2
	                                                      : 0;

	if (fbus_format_layout(&fmt))
		cli_die(2, "bad size %ux%u", c->w, c->h);
	src = malloc(fmt.size);
	if (!src)
		cli_die(1, "out of memory");
	if (bench_image)
		load_image(&fmt, src);
	else
		for (uint32_t i = 0; i < fmt.size; i++)
			src[i] = (uint8_t)(i * 31 + (i >> 11));
	make_uri(uri, sizeof uri, c);
	for (int k = 0; k < ns; k++) {
		int fds[2];

		if (pipe(fds))
			cli_die(1, "pipe failed");
		child[k] = fork();
		if (child[k] == 0) {
			char frames[16], fd[16], suburi[200];

			close(fds[0]);
			pin_to(1 + k);
			snprintf(frames, sizeof frames, "%d", c->frames);
			snprintf(fd, sizeof fd, "%d", fds[1]);
			snprintf(suburi, sizeof suburi, "%s%s%s%s", uri,
			         bench_predict ? "?wake=predict" : "",
			         bench_fit ? "&fit=" : "",
			         bench_fit ? bench_fit : "");
			execl("/proc/self/exe", "framebus", "bench", "--sub", suburi,
			      frames, fd, bench_group ? bench_group : "",
			      bench_every == 2 ? "every-block"
			      : bench_every  ? "every"
			                     : "latest",
			      (char *)NULL);
			_exit(5);
		}
		close(fds[1]);
		pfd[k] = fds[0];
	}
	pin_to(0);
	/* shm: room for every subscriber's queue (every mode reserves its
	 * depth) and a latest reader's frame each, over the default ring */
	po.slots = ns > 4 ? (uint32_t)(8 + 5 * ns) : 0;
	po.max_subscribers = ns > 16 ? (uint32_t)ns : 0;
	rc = fbus_pub_open(&p, uri, &po);
	if (rc) {
		kill_all(child, ns);
		cli_die(1, "%s", fbus_open_error());
	}
	for (int i = 0; i < 1000; i++) {
		fbus_pub_stats(p, &st);
		if (st.subscribers >= (uint32_t)ns)
			break;
		usleep(10000);
	}
	if (st.subscribers < (uint32_t)ns) {
		fbus_pub_close(p);
		kill_all(child, ns);
		cli_die(1, "%s: %u of %d subscribers connected", uri,
		        st.subscribers, ns);
	}
	/* warm-up: fault in slots and caches */
	for (int i = 0; i < warm; i++) {
		publish(p, &fmt, src, fill, 0);
		usleep(1000);
	}
	/* paced phase: latency and CPU per frame.  Producer CPU is this
	 * thread's CPU clock around loan/fill/commit only, so the pacing
	 * sleeps are not counted (the clock reads add ~0.2 us). */
	pub_cpu = 0;
	uncounted_us = 0;
	t_paced = fbus_now_mono_ns();
	for (int i = 0; i < c->frames; i++) {
		struct timespec a, b;

		/* 1 ms of quiet after each frame, however long its fill took,
		 * so the subscriber is asleep when the next one lands; or a
		 * camera's rate */
		if (bench_fps > 0)
			cli_sleep_until(t_paced + (int64_t)((double)i * 1e9 /
			                                    bench_fps));
		else
			cli_sleep_until(fbus_now_mono_ns() + 1000000);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
		if ((rc = (int)publish(p, &fmt, src, fill, 1)) < 0)
			cli_die(1, "publish: %s", fbus_pub_last_error(p));
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
		pub_cpu += (double)(b.tv_sec - a.tv_sec) * 1e6 +
		           (double)(b.tv_nsec - a.tv_nsec) / 1e3;
	}
	pub_cpu = (pub_cpu - uncounted_us) / c->frames;
	usleep(20000);
	/* the memcpy baseline right before the fill phase, under the same
	 * conditions (same moment, subscriber alive and asleep) */
	if (c->fill)
		mfps = memcpy_fps(src, fmt.size, c->frames);
	/* throughput phase: at least `frames` frames and 0.5 s, so that the
	 * subscriber's delivered rate is measured over a real interval */
	t0 = fbus_now_mono_ns();
	n = 0;
	do {
		if ((rc = (int)publish(p, &fmt, src, fill, 2)) < 0)
			cli_die(1, "publish: %s", fbus_pub_last_error(p));
		n++;
	} while (n < c->frames || fbus_now_mono_ns() - t0 < 500000000);
	fps = n / ((double)(fbus_now_mono_ns() - t0) / 1e9);
	fbus_pub_close(p);
	/* rep: the subscriber that fared worst (highest p50) */
	for (int k = 0; k < ns; k++) {
		if (read(pfd[k], &reps[k], sizeof reps[k]) != sizeof reps[k])
			memset(&reps[k], 0, sizeof reps[k]);
		close(pfd[k]);
		waitpid(child[k], &status, 0);
	}
	rep = reps[0];
	for (int k = 1; k < ns; k++)
		if (reps[k].p50 > rep.p50 || !reps[k].frames)
			rep = reps[k];
	free(src);

	if (json) {
		printf("{\"transport\":\"%s\",\"codec\":\"%s\",\"width\":%u,"
		       "\"height\":%u,\"format\":\"bgr24\",\"variant\":\"%s\","
		       "\"frames\":%d,\"received\":%llu,\"p50_us\":%.2f,"
		       "\"p99_us\":%.2f,\"max_us\":%.2f,\"fps\":%.1f,"
		       "\"delivered_fps\":%.1f,"
		       "\"b2b_p50_us\":%.2f,\"b2b_p99_us\":%.2f,"
		       "\"pub_cpu_us_per_frame\":%.2f,"
		       "\"sub_cpu_us_per_frame\":%.2f",
		       c->transport, c->codec, c->w, c->h,
		       c->fill ? "fill" : "handoff", c->frames,
		       (unsigned long long)rep.frames, rep.p50, rep.p99,
		       rep.max, fps, rep.delivered_fps, rep.b2b_p50, rep.b2b_p99,
		       pub_cpu, rep.cpu_us);
		if (c->fill)
			printf(",\"memcpy_fps\":%.1f", mfps);
		printf(",\"mode\":\"%s\",\"subscribers\":%d",
		       bench_every == 2 ? "every-block"
		       : bench_every    ? "every"
		                        : "latest",
		       ns);
		if (ns > 1) {
			printf(",\"each_p50_us\":[");
			for (int k = 0; k < ns; k++)
				printf("%s%.2f", k ? "," : "", reps[k].p50);
			printf("],\"each_p99_us\":[");
			for (int k = 0; k < ns; k++)
				printf("%s%.2f", k ? "," : "", reps[k].p99);
			printf("]");
		}
		printf("}\n");
	} else {
		printf("%-5s %-4s %5ux%-5u %-7s frames %d (seen %llu)",
		       c->transport, c->codec, c->w, c->h,
		       c->fill ? "fill" : "handoff", c->frames,
		       (unsigned long long)rep.frames);
		if (ns > 1)
			printf("  %d %s subscribers (latency: the worst)", ns,
			       bench_every ? "every" : "latest");
		printf("\n");
		printf("  latency p50 %.1f [us]  p99 %.1f [us]  max %.1f [us]\n",
		       rep.p50, rep.p99, rep.max);
		printf("  throughput %.0f [frames/s] committed, %.0f [frames/s] "
		       "delivered",
		       fps, rep.delivered_fps);
		if (c->fill)
			printf("  (plain memcpy %.0f [frames/s], ratio %.2f)",
			       mfps, fps > 0 ? mfps / fps : 0);
		printf("\n  back to back: latency p50 %.1f [us]  p99 %.1f [us]",
		       rep.b2b_p50, rep.b2b_p99);
		printf("\n  cpu pub %.2f [us/frame]  sub %.2f [us/frame]\n",
		       pub_cpu, rep.cpu_us);
	}
	fflush(stdout);
	/* latest mode may skip a frame when the machine is busy; none seen
	 * at all means the transport is broken */
	for (int k = 0; k < ns; k++)
		if (!reps[k].frames)
			return 1;
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: framebus bench [options]\n"
	        "  --transport shm|unix|tcp|nats|all  (default shm; all: nats\n"
	        "                                 too with --nats)\n"
	        "  --codec raw|jpeg|all           stream transports (default raw)\n"
	        "  --size WxH                     repeatable; default 640x480,\n"
	        "                                 1280x720, 1920x1080, 3840x2160\n"
	        "  --variant handoff|fill|all     (default all)\n"
	        "  --frames N                     per phase (default 1000)\n"
	        "  --nats HOST:PORT               the nats-server for nats\n"
	        "  --subscribers N                N subscriber processes (1..64);\n"
	        "                                 latency: the worst one's\n"
	        "  --every                        every-mode subscribers (drop)\n"
	        "  --block                        every-mode subscribers, block\n"
	        "                                 policy (the producer waits)\n"
	        "  --image FILE                   the frames' pixels: a picture\n"
	        "                                 scaled to each size (default:\n"
	        "                                 a synthetic pattern); hand-off\n"
	        "                                 cases with it or with jpeg copy\n"
	        "                                 the pixels in too, uncounted\n"
	        "  --fps N                        latency phase at N Hz (default:\n"
	        "                                 1 ms of quiet between frames)\n"
	        "  --wake sleep|predict           shm subscribers: predictive\n"
	        "                                 wake (?wake=predict)\n"
	        "  --fit WxH                      jpeg: subscribers decode scaled\n"
	        "                                 down to fill WxH (?fit=)\n"
	        "  --threads N                    jpeg: code in N threads (1..4)\n"
	        "  --pin                          producer on CPU 0, subscriber\n"
	        "                                 k on CPU k+1 (mod CPUs)\n"
	        "  --group NAME                   the subscribers are members\n"
	        "                                 of one worker group\n"
	        "  --json                         one JSON object per case\n");
}

int
cmd_bench(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "transport", required_argument, 0, 't' },
		{ "codec", required_argument, 0, 'c' },
		{ "size", required_argument, 0, 's' },
		{ "variant", required_argument, 0, 'v' },
		{ "frames", required_argument, 0, 'n' },
		{ "json", no_argument, 0, 'j' },
		{ "group", required_argument, 0, 'g' },
		{ "nats", required_argument, 0, 'N' },
		{ "fps", required_argument, 0, 'f' },
		{ "sub", no_argument, 0, 'S' },
		{ "subscribers", required_argument, 0, 'k' },
		{ "every", no_argument, 0, 'e' },
		{ "block", no_argument, 0, 'b' },
		{ "wake", required_argument, 0, 'w' },
		{ "pin", no_argument, 0, 'P' },
		{ "fit", required_argument, 0, 'F' },
		{ "threads", required_argument, 0, 'T' },
		{ "image", required_argument, 0, 'i' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	const char *transports[4] = { "shm" }, *codecs[2] = { "raw" };
	int nt = 1, nc = 1, variants = 3, frames = 1000, json = 0, failed = 0;
	uint32_t sizes[8][2] = { { 640, 480 }, { 1280, 720 }, { 1920, 1080 },
		                 { 3840, 2160 } };
	int ns = 4, user_sizes = 0, o;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 't':
			if (!strcmp(optarg, "all")) {
				transports[0] = "shm", transports[1] = "unix",
				transports[2] = "tcp", nt = 3;
				transports[3] = "nats"; /* with --nats */
			} else if (!strcmp(optarg, "shm") ||
			           !strcmp(optarg, "unix") ||
			           !strcmp(optarg, "tcp") ||
			           !strcmp(optarg, "nats")) {
				transports[0] = optarg, nt = 1;
			} else {
				cli_die(2, "unknown transport '%s' (shm, unix, "
				           "tcp, nats, all)",
				        optarg);
			}
			break;
		case 'c':
			if (!strcmp(optarg, "all"))
				codecs[0] = "raw", codecs[1] = "jpeg", nc = 2;
			else if (!strcmp(optarg, "raw") ||
			         !strcmp(optarg, "jpeg"))
				codecs[0] = optarg, nc = 1;
			else
				cli_die(2, "unknown codec '%s' (raw, jpeg, all)",
				        optarg);
			break;
		case 's':
			if (!user_sizes)
				ns = 0, user_sizes = 1;
			if (ns == 8)
				cli_die(2, "at most 8 --size options");
			cli_parse_size(optarg, &sizes[ns][0], &sizes[ns][1]);
			ns++;
			break;
		case 'v':
			if (!strcmp(optarg, "handoff"))
				variants = 1;
			else if (!strcmp(optarg, "fill"))
				variants = 2;
			else if (!strcmp(optarg, "all"))
				variants = 3;
			else
				cli_die(2, "unknown variant '%s' (handoff, "
				           "fill, all)",
				        optarg);
			break;
		case 'n':
			frames = (int)cli_parse_int("--frames", optarg, 10,
			                            10000000);
			break;
		case 'j':
			json = 1;
			break;
		case 'g':
			bench_group = optarg;
			break;
		case 'N':
			bench_nats = optarg;
			break;
		case 'f':
			bench_fps = cli_parse_double("--fps", optarg, 0, 100000);
			break;
		case 'k':
			bench_subs = (int)cli_parse_int("--subscribers", optarg,
			                                1, MAX_BENCH_SUBS);
			break;
		case 'e':
			if (!bench_every)
				bench_every = 1;
			break;
		case 'b':
			bench_every = 2;
			break;
		case 'P':
			bench_pin = 1;
			break;
		case 'F': {
			uint32_t fw, fh;

			cli_parse_size(optarg, &fw, &fh);
			bench_fit = optarg;
			break;
		}
		case 'T':
			bench_threads = (int)cli_parse_int("--threads", optarg,
			                                   1, 4);
			break;
		case 'w':
			if (strcmp(optarg, "sleep") && strcmp(optarg, "predict"))
				cli_die(2, "--wake: sleep or predict, not '%s'",
				        optarg);
			bench_predict = optarg[0] == 'p';
			break;
		case 'i':
			bench_image = optarg;
			break;
		case 'S':
			/* bench --sub URI FRAMES FD GROUP MODE: a subscriber */
			if (argc - optind != 5)
				return 2;
			if (argv[optind + 3][0])
				bench_group = argv[optind + 3];
			bench_every = !strcmp(argv[optind + 4], "every-block")
			                      ? 2
			              : !strcmp(argv[optind + 4], "every") ? 1
			                                                   : 0;
			run_subscriber(argv[optind], atoi(argv[optind + 1]),
			               atoi(argv[optind + 2]));
			return 1; /* not reached */
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	cli_no_more_args(argc, argv);
	if (nt == 3 && bench_nats)
		nt = 4;
	if ((bench_fit || bench_threads) &&
	    (nt != 1 || !strcmp(transports[0], "shm") || nc != 1 ||
	     strcmp(codecs[0], "jpeg")))
		cli_die(2, "--fit and --threads: one stream transport, --codec "
		           "jpeg");
	if (bench_predict && (nt != 1 || strcmp(transports[0], "shm")))
		cli_die(2, "--wake predict: shm: only (the stream transports "
		           "wait in the socket)");
	for (int t = 0; t < nt; t++)
		if (!strcmp(transports[t], "nats") && !bench_nats)
			cli_die(2, "--transport nats needs --nats HOST:PORT (a "
			           "running nats-server)");
	signal(SIGPIPE, SIG_IGN);

	for (int t = 0; t < nt; t++)
		for (int k = 0; k < (strcmp(transports[t], "shm") ? nc : 1); k++)
			for (int s = 0; s < ns; s++)
				for (int v = 0; v < 2; v++) {
					struct bench_case c = {
						.transport = transports[t],
						.codec = strcmp(transports[t], "shm")
						                 ? codecs[k]
						                 : "raw",
						.w = sizes[s][0],
						.h = sizes[s][1],
						.fill = v,
						.frames = frames,
					};
					if (!(variants & (1 << v)))
						continue;
					failed |= run_case(&c, json);
				}
	return failed;
}

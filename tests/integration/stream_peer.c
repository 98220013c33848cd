/* SPDX-License-Identifier: MIT */
/*
 * stream_peer.c — a small producer/subscriber for the stream transports,
 * used by the network-namespace test (one end per namespace) and for the
 * measurements in docs/PERFORMANCE-stream.md:
 *
 *   stream_peer pub URI N [WxH]    wait for a subscriber, send N frames
 *   stream_peer sub URI N          receive N frames in order, check them
 *   stream_peer bench URI N WxH    both in one process: latency, rate
 *
 * Exit 0 on success, 1 on failure (with the reason on stderr), 2 on usage.
 */
#define _GNU_SOURCE
#include "framebus.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Frame n: the seq in the first 4 bytes, then a pattern derived from n. */
static void
fill(uint8_t *p, size_t size, uint32_t n)
{
	memcpy(p, &n, sizeof n);
	for (size_t i = sizeof n; i < size; i++)
		p[i] = (uint8_t)((i * 31 + n * 7) >> 3);
}

static int
check(const uint8_t *p, size_t size, uint32_t n)
{
	uint32_t got;

	memcpy(&got, p, sizeof got);
	if (got != n)
		return -1;
	for (size_t i = sizeof n; i < size; i++)
		if (p[i] != (uint8_t)((i * 31 + n * 7) >> 3))
			return -1;
	return 0;
}

static int
parse_size(const char *s, uint32_t *w, uint32_t *h)
{
	return sscanf(s, "%ux%u", w, h) == 2 && *w && *h ? 0 : -1;
}

static int
run_pub(const char *uri, int n, uint32_t w, uint32_t h)
{
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_BGR24, .width = w,
		                 .height = h };
	struct fbus_pub_stats st;
	struct fbus_pub *pub;
	uint8_t *img;
	int rc, i;

	if (fbus_format_layout(&f))
		return 2;
	rc = fbus_pub_open(&pub, uri, NULL);
	if (rc) {
		fprintf(stderr, "stream_peer pub: %s\n", fbus_open_error());
		return 1;
	}
	for (i = 0; i < 2000; i++) {
		fbus_pub_stats(pub, &st);
		if (st.subscribers)
			break;
		sleep_ms(10);
	}
	if (!st.subscribers) {
		fprintf(stderr, "stream_peer pub: no subscriber came\n");
		fbus_pub_close(pub);
		return 1;
	}
	img = malloc(f.size);
	for (i = 1; i <= n; i++) {
		int64_t seq;
		fill(img, f.size, (uint32_t)i);
		seq = fbus_pub_send(pub, &f, img, f.size, &i, sizeof i);
		if (seq != i) {
			fprintf(stderr, "stream_peer pub: send: %s\n",
			        fbus_pub_last_error(pub));
			break;
		}
		sleep_ms(10);
	}
	/* let the subscriber read everything and leave first */
	for (int k = 0; k < 1000; k++) {
		fbus_pub_stats(pub, &st);
		if (!st.subscribers)
			break;
		sleep_ms(10);
	}
	fbus_pub_close(pub);
	free(img);
	return i > n ? 0 : 1;
}

static int
run_sub(const char *uri, int n)
{
	struct fbus_sub_opts so = { .size = sizeof so, .mode = FBUS_MODE_EVERY,
		                    .depth = 64, .full_policy = FBUS_FULL_BLOCK,
		                    .block_ms = 5000,
		                    .flags = FBUS_SUB_RECONNECT };
	struct fbus_sub *sub;
	int rc, i;

	rc = fbus_sub_open(&sub, uri, &so);
	if (rc) {
		fprintf(stderr, "stream_peer sub: %s\n", fbus_open_error());
		return 1;
	}
	for (i = 1; i <= n; i++) {
		struct fbus_frame fr;
		rc = fbus_sub_next(sub, &fr, 20000);
		if (rc) {
			fprintf(stderr, "stream_peer sub: frame %d: %s (%s)\n",
			        i, fbus_strerror(rc), fbus_sub_last_error(sub));
			break;
		}
		if (fr.seq != (uint64_t)i || fr.meta_bytes != sizeof(int) ||
		    *(const int *)fr.meta != i ||
		    (fr.fmt.pixfmt == FBUS_PIXFMT_BGR24 &&
		     strstr(uri, "codec=jpeg") == NULL &&
		     check(fr.data, fr.payload_bytes, (uint32_t)i))) {
			fprintf(stderr, "stream_peer sub: frame %d is wrong "
			        "(seq %" PRIu64 ")\n", i, fr.seq);
			break;
		}
	}
	fbus_sub_close(sub);
	if (i > n)
		printf("stream_peer sub: %d frames from %s ok\n", n, uri);
	return i > n ? 0 : 1;
}

/* ---- bench ---------------------------------------------------------------- */

struct bench {
	const char *uri;
	struct fbus_format f;
	int n;
	int64_t *lat;
	int got;
	int err;
};

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static double
cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
	       ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
}

/*
 * Latency: one frame in flight at a time (send, wait until it is out of
 * fbus_sub_next), so it is the hand-off cost without queueing.  Rate: the
 * same frames pipelined to an every+block subscriber.
 */
static int
run_bench(const char *uri, int n, uint32_t w, uint32_t h)
{
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_BGR24, .width = w,
		                 .height = h };
	struct fbus_sub_opts so = { .size = sizeof so, .mode = FBUS_MODE_EVERY,
		                    .depth = 8, .full_policy = FBUS_FULL_BLOCK,
		                    .block_ms = 5000 };
	struct fbus_pub_stats st;
	struct fbus_pub *pub;
	struct fbus_sub *sub;
	struct fbus_frame fr;
	int64_t *lat, t0;
	uint8_t *img;
	double c0, cpu;
	int rc;

	if (fbus_format_layout(&f))
		return 2;
	if (fbus_pub_open(&pub, uri, NULL) ||
	    fbus_sub_open(&sub, uri, &so)) {
		fprintf(stderr, "stream_peer bench: %s\n", fbus_open_error());
		return 1;
	}
	do
		fbus_pub_stats(pub, &st);
	while (!st.subscribers);
	img = malloc(f.size);
	lat = calloc((size_t)n, sizeof *lat);
	for (int i = 0; i < n; i++) {
		fill(img, f.size, (uint32_t)i);
		t0 = fbus_now_mono_ns();
		fbus_pub_send(pub, &f, img, f.size, NULL, 0);
		rc = fbus_sub_next(sub, &fr, 10000);
		lat[i] = fbus_now_mono_ns() - t0;
		if (rc) {
			fprintf(stderr, "bench: %s\n", fbus_sub_last_error(sub));
			return 1;
		}
	}
	qsort(lat, (size_t)n, sizeof *lat, cmp64);
	printf("uri: %s\n", uri);
	printf("frame: %ux%u bgr24, %u bytes\n", w, h, f.size);
	printf("latency p50: %.1f [us]\n", lat[n / 2] / 1e3);
	printf("latency p99: %.1f [us]\n", lat[n * 99 / 100] / 1e3);
	if (strstr(uri, "codec=jpeg")) {
		/* what travels: ask for the JPEG itself once */
		struct fbus_sub_opts eo = so;
		struct fbus_sub *enc;
		eo.pixfmt = FBUS_PIXFMT_ENCODED;
		if (fbus_sub_open(&enc, uri, &eo) == 0) {
			do
				fbus_pub_stats(pub, &st);
			while (st.subscribers < 2);
			fbus_pub_send(pub, &f, img, f.size, NULL, 0);
			if (fbus_sub_next(enc, &fr, 10000) == 0)
				printf("wire bytes per frame: %u (jpeg)\n",
				       fr.payload_bytes);
			fbus_sub_close(enc);
			(void)fbus_sub_next(sub, &fr, 10000);
		}
	} else {
		printf("wire bytes per frame: %u\n", fr.payload_bytes);
	}

	/* pipelined: a producer thread would be fairer, but one thread
	 * sending with the every-mode queue of 8 keeps both ends busy */
	c0 = cpu_ms();
	t0 = fbus_now_mono_ns();
	{
		int sent = 0, recvd = 0;
		while (recvd < n) {
			while (sent < n && sent - recvd < 4) {
				fbus_pub_send(pub, &f, img, f.size, NULL, 0);
				sent++;
			}
			if (fbus_sub_next(sub, &fr, 10000))
				return 1;
			recvd++;
		}
	}
	cpu = cpu_ms() - c0;
	printf("rate: %.1f [frames/s]\n",
	       n / ((fbus_now_mono_ns() - t0) / 1e9));
	printf("cpu per frame: %.3f [ms]\n", cpu / n);
	fbus_sub_close(sub);
	fbus_pub_close(pub);
	free(img);
	free(lat);
	return 0;
}

int
main(int argc, char **argv)
{
	uint32_t w = 640, h = 480;

	if (argc >= 4 && strcmp(argv[1], "pub") == 0) {
		if (argc > 4 && parse_size(argv[4], &w, &h))
			return 2;
		return run_pub(argv[2], atoi(argv[3]), w, h);
	}
	if (argc == 4 && strcmp(argv[1], "sub") == 0)
		return run_sub(argv[2], atoi(argv[3]));
	if (argc == 5 && strcmp(argv[1], "bench") == 0) {
		if (parse_size(argv[4], &w, &h) || atoi(argv[3]) < 2)
			return 2;
		return run_bench(argv[2], atoi(argv[3]), w, h);
	}
	fprintf(stderr, "usage: stream_peer pub URI N [WxH] | sub URI N | "
	                "bench URI N WxH\n");
	return 2;
}

/* SPDX-License-Identifier: MIT */
/*
 * bus_helper.c — a minimal producer for CLI tests: `bus_helper NAME FPS
 * SECONDS` publishes 320x240 BGR24 frames on shm:NAME for SECONDS or until
 * SIGTERM/SIGINT, then closes the bus cleanly.
 */
#define _GNU_SOURCE
#include "framebus.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int
main(int argc, char **argv)
{
	struct fbus_format fmt = { .pixfmt = FBUS_PIXFMT_BGR24, .width = 320,
		                   .height = 240 };
	struct fbus_pub *p;
	struct sigaction sa;
	char uri[128];
	int fps, n;
	int64_t t;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	if (argc != 4)
		return 2;
	snprintf(uri, sizeof uri, "shm:%s", argv[1]);
	fps = atoi(argv[2]);
	n = fps * atoi(argv[3]);
	if (fbus_pub_open(&p, uri, NULL)) {
		fprintf(stderr, "%s\n", fbus_open_error());
		return 1;
	}
	t = fbus_now_mono_ns();
	for (int i = 0; i < n && !stop; i++) {
		struct fbus_slot s;
		struct timespec ts;

		if (fbus_pub_loan(p, &fmt, &s))
			return 1;
		s.data[0] = (uint8_t)i;
		if (fbus_pub_commit(p, &s) < 0)
			return 1;
		t += 1000000000LL / fps;
		ts.tv_sec = t / 1000000000;
		ts.tv_nsec = t % 1000000000;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	fbus_pub_close(p);
	return 0;
}

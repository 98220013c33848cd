/* SPDX-License-Identifier: MIT */
/*
 * bus_watch.c — test helper: subscribe to any bus for a while and say what
 * arrived, for the scripts that check transports from outside (nats).
 *
 *   bus_watch URI SECONDS [latest|every] [GROUP] [WORK_MS]
 *       prints "seq N" per frame (holding each WORK_MS, as a worker busy
 *       on an accelerator would), then
 *       "summary frames=N skipped=N dropped=N group_skipped=N"
 *       and exits 0 (1 if the subscription could not be opened).
 */
#define _GNU_SOURCE
#include "framebus.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int
main(int argc, char **argv)
{
	struct fbus_sub_opts o = { .size = sizeof o, .depth = 16,
		                   .flags = FBUS_SUB_RECONNECT };
	struct fbus_sub_stats st;
	struct fbus_sub *s;
	struct fbus_frame fr;
	int64_t until;
	int work_ms = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: bus_watch URI SECONDS [latest|every] "
		                "[GROUP] [WORK_MS]\n");
		return 2;
	}
	signal(SIGTERM, on_term);
	if (argc > 3 && !strcmp(argv[3], "every"))
		o.mode = FBUS_MODE_EVERY;
	if (argc > 4 && argv[4][0])
		o.group = argv[4];
	if (argc > 5)
		work_ms = atoi(argv[5]);
	if (fbus_sub_open(&s, argv[1], &o)) {
		fprintf(stderr, "bus_watch: %s\n", fbus_open_error());
		return 1;
	}
	until = fbus_now_mono_ns() + (int64_t)(atof(argv[2]) * 1e9);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (!stop && fbus_now_mono_ns() < until) {
		int rc = fbus_sub_next(s, &fr, 100);

		if (rc == 0) {
			printf("seq %llu\n", (unsigned long long)fr.seq);
			if (work_ms > 0)
				usleep((useconds_t)work_ms * 1000);
			fbus_sub_release(s, &fr);
		}
	}
	fbus_sub_stats(s, &st);
	printf("summary frames=%llu skipped=%llu dropped=%llu "
	       "group_skipped=%llu\n",
	       (unsigned long long)st.frames, (unsigned long long)st.skipped,
	       (unsigned long long)st.dropped,
	       (unsigned long long)st.group_skipped);
	fbus_sub_close(s);
	return 0;
}

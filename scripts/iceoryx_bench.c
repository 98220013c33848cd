/* SPDX-License-Identifier: MIT */
/*
 * iceoryx_bench.c — the iceoryx 2 anchor beside `framebus bench --block`
 * (scripts/bench_iceoryx.sh builds and runs it): a publisher process and
 * a subscriber process (C binding, WaitSet: a blocking wait, as
 * fbus_sub_next), queue 4, BLOCK_PRODUCER / WAIT_FOR_CONSUMER, a 64-byte
 * chunk carrying the stamp (a header-only hand-off).  Phase 1: N frames
 * 1 ms apart; phase 2: N back to back.  Prints one JSON line.
 */
#define _GNU_SOURCE
#include "iceoryx_binding_c/enums.h"
#include "iceoryx_binding_c/publisher.h"
#include "iceoryx_binding_c/runtime.h"
#include "iceoryx_binding_c/subscriber.h"
#include "iceoryx_binding_c/wait_set.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct msg {
	int64_t t;
	uint32_t phase;
	uint32_t last;
};

static int64_t
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
subscriber(int n)
{
	iox_sub_options_t so;
	iox_sub_storage_t ss;
	iox_ws_storage_t wss;
	iox_sub_t sub;
	iox_ws_t ws;
	double *l1 = calloc((size_t)n, sizeof *l1);
	double *l2 = calloc((size_t)n, sizeof *l2);
	int n1 = 0, n2 = 0, done = 0;
	int64_t t2a = 0, t2b = 0;

	if (!l1 || !l2)
		return 1;
	iox_runtime_init("fbus-bench-sub");
	iox_sub_options_init(&so);
	so.queueCapacity = 4;
	so.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
	sub = iox_sub_init(&ss, "fbus", "bench", "frames", &so);
	ws = iox_ws_init(&wss);
	iox_ws_attach_subscriber_state(ws, sub, SubscriberState_HAS_DATA, 0,
	                               NULL);
	while (!done) {
		iox_notification_info_t info[2];
		uint64_t missed;
		const void *c;

		iox_ws_wait(ws, info, 2, &missed);
		while (iox_sub_take_chunk(sub, &c) == ChunkReceiveResult_SUCCESS) {
			const struct msg *m = c;
			int64_t t = now();

			if (m->phase == 1 && n1 < n)
				l1[n1++] = (double)(t - m->t) / 1e3;
			if (m->phase == 2 && n2 < n) {
				if (!n2)
					t2a = t;
				t2b = t;
				l2[n2++] = (double)(t - m->t) / 1e3;
			}
			done = (int)m->last;
			iox_sub_release_chunk(sub, c);
		}
	}
	qsort(l1, (size_t)n1, sizeof *l1, cmp);
	qsort(l2, (size_t)n2, sizeof *l2, cmp);
	printf("{\"anchor\":\"iceoryx\",\"paced_1ms_p50_us\":%.2f,"
	       "\"paced_1ms_p99_us\":%.2f,\"b2b_p50_us\":%.2f,"
	       "\"b2b_p99_us\":%.2f,\"b2b_frames_per_s\":%.0f}\n",
	       l1[n1 / 2], l1[n1 * 99 / 100], l2[n2 / 2], l2[n2 * 99 / 100],
	       (n2 - 1) / ((double)(t2b - t2a) / 1e9));
	iox_ws_deinit(ws);
	iox_sub_deinit(sub);
	return 0;
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	iox_pub_options_t po;
	iox_pub_storage_t ps;
	iox_pub_t pub;
	pid_t pid;

	if (n < 100)
		n = 100;
	pid = fork();
	if (pid == 0)
		return subscriber(n);
	iox_runtime_init("fbus-bench-pub");
	iox_pub_options_init(&po);
	po.historyCapacity = 0;
	po.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
	pub = iox_pub_init(&ps, "fbus", "bench", "frames", &po);
	while (!iox_pub_has_subscribers(pub))
		usleep(10000);
	usleep(200000);
	for (int ph = 1; ph <= 2; ph++)
		for (int i = 0; i < n; i++) {
			void *c;
			struct msg *m;

			if (ph == 1) {
				struct timespec d = { 0, 1000000 };
				nanosleep(&d, NULL);
			}
			while (iox_pub_loan_chunk(pub, &c, sizeof *m) !=
			       AllocationResult_SUCCESS)
				;
			m = c;
			m->phase = (uint32_t)ph;
			m->last = ph == 2 && i == n - 1;
			m->t = now();
			iox_pub_publish_chunk(pub, c);
		}
	waitpid(pid, NULL, 0);
	iox_pub_deinit(pub);
	return 0;
}

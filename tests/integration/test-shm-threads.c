/* SPDX-License-Identifier: MIT */
/*
 * test-shm-threads.c — producer and subscribers as threads of one process,
 * so that ThreadSanitizer sees both sides of every shared-memory access
 * (across processes it cannot).  Same checks as the stress test, smaller.
 */
#define _GNU_SOURCE
#include "shm_test_frames.h"
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>

#define FRAMES 20000

static char uri[96];

struct result {
	int every;
	uint64_t got, bad, order, last;
	int rc;
};

static void *
reader(void *arg)
{
	struct result *r = arg;
	struct fbus_sub_opts o = { .mode = r->every ? FBUS_MODE_EVERY
		                                    : FBUS_MODE_LATEST,
		                   .depth = 8,
		                   .full_policy = FBUS_FULL_BLOCK,
		                   .block_ms = 10000 };
	struct fbus_sub *s;
	struct fbus_frame f;

	T_PASS(fbus_sub_open(&s, uri, &o));
	if (!r->every)
		T_PASS(fbus_sub_fd(s)); /* exercise the eventfd path too */
	while ((r->rc = fbus_sub_next(s, &f, 10000)) == 0) {
		if (test_verify(&f))
			r->bad++;
		if (r->every ? f.seq != r->last + 1 : f.seq <= r->last)
			r->order++;
		r->last = f.seq;
		r->got++;
	}
	fbus_sub_close(s);
	return NULL;
}

int
main(void)
{
	struct fbus_format fmt = { .pixfmt = FBUS_PIXFMT_GRAY8, .width = 40,
		                   .height = 30 };
	struct result res[3] = { { .every = 1 }, { .every = 0 }, { .every = 1 } };
	pthread_t th[3];
	struct fbus_pub_stats st;
	struct fbus_pub *p;

	t_watchdog(170);
	snprintf(uri, sizeof uri, "shm:%s", t_unique_name("threads"));
	T_PASS(fbus_pub_open(&p, uri, NULL));
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, reader, &res[i]);
	do {
		T_PASS(fbus_pub_stats(p, &st));
		t_sleep_ms(5);
	} while (st.subscribers < 3);
	for (uint64_t seq = 1; seq <= FRAMES; seq++)
		T_ASSERT(test_publish(p, &fmt, seq) == (int64_t)seq);
	/* one bigger frame: the ring is replaced under the readers */
	fmt.width = 1280, fmt.height = 720;
	T_ASSERT(test_publish(p, &fmt, FRAMES + 1) == FRAMES + 1);
	fbus_pub_close(p);
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		printf("%s: %llu frames, %llu bad, %llu out of order, last "
		       "%llu, %s\n",
		       res[i].every ? "every" : "latest",
		       (unsigned long long)res[i].got,
		       (unsigned long long)res[i].bad,
		       (unsigned long long)res[i].order,
		       (unsigned long long)res[i].last,
		       fbus_strerror(res[i].rc));
		T_ASSERT(res[i].rc == FBUS_EDISCONNECTED);
		T_ASSERT(res[i].bad == 0 && res[i].order == 0);
		T_ASSERT(res[i].last == FRAMES + 1);
		if (res[i].every)
			T_ASSERT(res[i].got == FRAMES + 1);
	}
	printf("ok\n");
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * test-shm-threads.c — producer and subscribers as threads of one process,
 * so that ThreadSanitizer sees both sides of every shared-memory access
 * (across processes it cannot).  Same checks as the stress test, smaller;
 * then subscribers coming and going while the ring is replaced again and
 * again (admission against format change), and the data path going on
 * while every lock the control thread takes is held by someone else.
 */
#define _GNU_SOURCE
#include "shm/pub.h"
#include "shm_test_frames.h"
#include "check.h"
#include "testutil.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>
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

	CHECK(fbus_sub_open(&s, uri, &o));
	if (!r->every)
		CHECK(fbus_sub_fd(s)); /* exercise the eventfd path too */
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

static _Atomic int churn_stop;

/* Subscribe, read a frame or two, leave; again and again. */
static void *
churner(void *arg)
{
	struct fbus_sub_opts o = { .mode = (int)(intptr_t)arg, .depth = 4 };
	uint64_t *rounds = calloc(1, sizeof *rounds);

	while (!atomic_load(&churn_stop)) {
		struct fbus_sub *s;
		struct fbus_frame f;

		if (fbus_sub_open(&s, uri, &o) != 0)
			continue;
		for (int i = 0; i < 2; i++)
			if (fbus_sub_next(s, &f, 200) == 0)
				CHECK_TRUE(test_verify(&f) == 0);
		fbus_sub_close(s);
		(*rounds)++;
	}
	return rounds;
}

static void
test_churn_during_format_changes(void **state)
{
	struct fbus_format fmt = { .pixfmt = FBUS_PIXFMT_GRAY8 };
	pthread_t th[2];
	struct fbus_pub *p;
	uint64_t *n[2];

	(void)state;
	snprintf(uri, sizeof uri, "shm:%s", t_unique_name("threads"));
	CHECK(fbus_pub_open(&p, uri, NULL));
	atomic_store(&churn_stop, 0);
	pthread_create(&th[0], NULL, churner, (void *)(intptr_t)FBUS_MODE_LATEST);
	pthread_create(&th[1], NULL, churner, (void *)(intptr_t)FBUS_MODE_EVERY);
	/* 80 sizes, each larger than the last: 80 new rings */
	for (uint64_t seq = 1; seq <= 4000; seq++) {
		fmt.width = 16 + (uint32_t)((seq - 1) / 50) * 16;
		fmt.height = 16;
		assert_true(test_publish(p, &fmt, seq) == (int64_t)seq);
		if (seq % 10 == 0)
			t_sleep_ms(1);
	}
	atomic_store(&churn_stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], (void **)&n[i]);
	print_message("churn: %llu latest and %llu every subscribers came and went "
	       "over 80 ring switches\n",
	       (unsigned long long)*n[0], (unsigned long long)*n[1]);
	assert_true(*n[0] > 0 && *n[1] > 0);
	free(n[0]);
	free(n[1]);
	fbus_pub_close(p);
}

/* Hold every lock the control thread can take (a control thread stuck in
 * an admission could hold no more than these): loans, commits and format
 * changes still go through.  The watchdog fails the test if one waits. */
static void
test_data_path_never_waits(void **state)
{
	struct fbus_format fmt = { .pixfmt = FBUS_PIXFMT_GRAY8, .height = 16 };
	struct fbus_sub_opts o = { .mode = FBUS_MODE_EVERY, .depth = 4 };
	struct fbus_pub *p;
	struct fbus_sub *s;
	struct shm_pub *sp;

	(void)state;
	snprintf(uri, sizeof uri, "shm:%s", t_unique_name("threads"));
	CHECK(fbus_pub_open(&p, uri, NULL));
	CHECK(fbus_sub_open(&s, uri, &o));
	sp = (struct shm_pub *)p;
	pthread_mutex_lock(&sp->lock);
	pthread_mutex_lock(&sp->err_lock);
	for (uint64_t seq = 1; seq <= 200; seq++) {
		fmt.width = 16 + (uint32_t)(seq / 20) * 16;
		assert_true(test_publish(p, &fmt, seq) == (int64_t)seq);
	}
	pthread_mutex_unlock(&sp->err_lock);
	pthread_mutex_unlock(&sp->lock);
	print_message("data path: 200 commits and 10 ring switches with the control "
	       "thread's locks held elsewhere\n");
	fbus_sub_close(s);
	fbus_pub_close(p);
}

/* Three readers (2 every, 1 latest) in threads of one process, 20k frames
 * and a ring switch: nothing torn, lost or out of order. */
static void
test_readers_in_threads(void **state)
{
	struct fbus_format fmt = { .pixfmt = FBUS_PIXFMT_GRAY8, .width = 40,
		                   .height = 30 };
	struct result res[3] = { { .every = 1 }, { .every = 0 }, { .every = 1 } };
	pthread_t th[3];
	struct fbus_pub_stats st;
	struct fbus_pub *p;

	(void)state;
	snprintf(uri, sizeof uri, "shm:%s", t_unique_name("threads"));
	CHECK(fbus_pub_open(&p, uri, NULL));
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, reader, &res[i]);
	do {
		CHECK(fbus_pub_stats(p, &st));
		t_sleep_ms(5);
	} while (st.subscribers < 3);
	for (uint64_t seq = 1; seq <= FRAMES; seq++)
		assert_true(test_publish(p, &fmt, seq) == (int64_t)seq);
	/* one bigger frame: the ring is replaced under the readers */
	fmt.width = 1280, fmt.height = 720;
	assert_true(test_publish(p, &fmt, FRAMES + 1) == FRAMES + 1);
	fbus_pub_close(p);
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		print_message("%s: %llu frames, %llu bad, %llu out of order, "
		              "last %llu, %s\n",
		              res[i].every ? "every" : "latest",
		              (unsigned long long)res[i].got,
		              (unsigned long long)res[i].bad,
		              (unsigned long long)res[i].order,
		              (unsigned long long)res[i].last,
		              fbus_strerror(res[i].rc));
		assert_int_equal(res[i].rc, FBUS_EDISCONNECTED);
		assert_int_equal(res[i].bad, 0);
		assert_int_equal(res[i].order, 0);
		assert_int_equal(res[i].last, FRAMES + 1);
		if (res[i].every)
			assert_int_equal(res[i].got, FRAMES + 1);
	}
}

struct paced {
	struct fbus_pub *p;
	int frames;
	pid_t reader;           /* the reader thread's id */
	_Atomic int done;
	_Atomic int dodges;     /* samples of its mask without CPU 0 */
};

/* Publish frames 20 ms apart from CPU 0. */
static void *
paced_producer(void *arg)
{
	struct paced *pc = arg;
	struct fbus_format fmt = { .pixfmt = FBUS_PIXFMT_GRAY8, .width = 64,
		                   .height = 48 };
	cpu_set_t zero;

	CPU_ZERO(&zero);
	CPU_SET(0, &zero);
	assert_int_equal(sched_setaffinity(0, sizeof zero, &zero), 0);
	for (int i = 1; i <= pc->frames; i++) {
		t_sleep_ms(20);
		assert_true(test_publish(pc->p, &fmt, (uint64_t)i) == i);
	}
	return NULL;
}

/* Look at the reader's CPU mask every half millisecond. */
static void *
mask_watcher(void *arg)
{
	struct paced *pc = arg;

	while (!atomic_load(&pc->done)) {
		cpu_set_t m;

		if (sched_getaffinity(pc->reader, sizeof m, &m) == 0 &&
		    !CPU_ISSET(0, &m))
			atomic_fetch_add(&pc->dodges, 1);
		usleep(500);
	}
	return NULL;
}

/* A predicting reader that finds itself on the producer's CPU naps with
 * that CPU out of its mask, and always gets its own mask back: the
 * producer thread on CPU 0 at 50 Hz, the reader started on CPU 0 with
 * every CPU allowed.  (Where it then runs is the scheduler's: under load
 * it may be pulled back, so that is printed, not checked.) */
static void
test_predict_keeps_off_producer_cpu(void **state)
{
	struct fbus_sub_opts o = { .size = sizeof o, .flags = FBUS_SUB_PREDICT };
	struct paced pc = { .frames = 60, .reader = gettid() };
	cpu_set_t all, zero, mask;
	struct fbus_sub *s;
	struct fbus_frame f;
	pthread_t th, watch;
	int got = 0, off = 0;

	(void)state;
	if (sched_getaffinity(0, sizeof all, &all) || CPU_COUNT(&all) < 2 ||
	    !CPU_ISSET(0, &all))
		skip();
	CPU_ZERO(&zero);
	CPU_SET(0, &zero);
	snprintf(uri, sizeof uri, "shm:%s", t_unique_name("dodge"));
	CHECK(fbus_pub_open(&pc.p, uri, NULL));
	CHECK(fbus_sub_open(&s, uri, &o));
	/* this thread reads: onto CPU 0, then every CPU allowed again (it
	 * stays on 0 until something moves it) */
	assert_int_equal(sched_setaffinity(0, sizeof zero, &zero), 0);
	assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
	pthread_create(&th, NULL, paced_producer, &pc);
	pthread_create(&watch, NULL, mask_watcher, &pc);
	while (got < pc.frames && fbus_sub_next(s, &f, 2000) == 0) {
		assert_int_equal(test_verify(&f), 0);
		got++;
		off += sched_getcpu() != 0;
		fbus_sub_release(s, &f);
		/* the mask is ours again after every frame */
		assert_int_equal(sched_getaffinity(0, sizeof mask, &mask), 0);
		assert_true(CPU_EQUAL(&mask, &all));
		/* once it predicts, put it back on CPU 0 now and then */
		if (got % 15 == 0) {
			assert_int_equal(sched_setaffinity(0, sizeof zero, &zero), 0);
			assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
		}
	}
	pthread_join(th, NULL);
	atomic_store(&pc.done, 1);
	pthread_join(watch, NULL);
	print_message("predict: %d frames, %d taken off the producer's CPU; "
	              "%d looks at the mask found CPU 0 out\n",
	              got, off, atomic_load(&pc.dodges));
	assert_int_equal(got, pc.frames);
	assert_true(atomic_load(&pc.dodges) > 0);
	fbus_sub_close(s);
	fbus_pub_close(pc.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readers_in_threads),
		cmocka_unit_test(test_churn_during_format_changes),
		cmocka_unit_test(test_data_path_never_waits),
		cmocka_unit_test(test_predict_keeps_off_producer_cpu),
	};

	t_watchdog(170);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

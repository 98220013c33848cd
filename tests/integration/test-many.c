/* SPDX-License-Identifier: MIT */
/*
 * test-many.c — one subscriber over several buses (fbus_sub_open_many):
 * frames say which bus they come from, held frames of several buses are
 * released to the right one, the fd wakes for any bus, a bus that goes
 * away is said once while the others go on, and fairness: three buses at
 * 10, 10 and 30 Hz into a subscriber that takes 50 ms a frame all get
 * served, none starves.  Mixed transports (shm and unix) in one set.
 */
#define _GNU_SOURCE /* clock_nanosleep */
#include "check.h"
#include "testutil.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define W 64
#define H 48

static struct fbus_format
gray(void)
{
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_GRAY8, .width = W,
		                 .height = H };
	return f;
}

/* every byte of bus i's frames is i + 1 */
static void
send_from(struct fbus_pub *p, int i)
{
	uint8_t buf[W * H];
	struct fbus_format f = gray();

	memset(buf, i + 1, sizeof buf);
	assert_true(fbus_pub_send(p, &f, buf, sizeof buf, NULL, 0) >= 0);
}

static void
check_from(const struct fbus_frame *fr, uint32_t bus)
{
	assert_int_equal(fbus_frame_bus(fr), bus);
	for (size_t k = 0; k < fr->payload_bytes; k++)
		if (fr->data[k] != bus + 1)
			fail_msg("bus %u frame: byte %zu is %u", bus, k,
			         fr->data[k]);
}

struct buses {
	int n;
	char uri[4][256];
	struct fbus_pub *pub[4];
};

static void
open_buses(struct buses *b, int n, int with_unix)
{
	const char *tmp = getenv("FBUS_TEST_TMP");

	b->n = n;
	for (int i = 0; i < n; i++) {
		if (with_unix && i == n - 1)
			snprintf(b->uri[i], sizeof b->uri[i], "unix:%s/%s.sock",
			         tmp ? tmp : "/tmp", t_unique_name("many"));
		else
			snprintf(b->uri[i], sizeof b->uri[i], "shm:%s",
			         t_unique_name("many"));
		CHECK(fbus_pub_open(&b->pub[i], b->uri[i], NULL));
	}
}

static struct fbus_sub *
open_sub(struct buses *b, uint32_t mode, uint32_t max_held, uint32_t flags)
{
	const char *u[4];
	struct fbus_sub_opts o = { .size = sizeof o, .mode = mode, .depth = 8,
		                   .max_held = max_held, .flags = flags };
	struct fbus_sub *s;

	for (int i = 0; i < b->n; i++)
		u[i] = b->uri[i];
	CHECK(fbus_sub_open_many(&s, u, (size_t)b->n, &o));
	return s;
}

/* Wait until every bus has our subscriber (streams connect on next()). */
static void
wait_joined(struct buses *b, struct fbus_sub *s)
{
	for (int t = 0; t < 300; t++) {
		int all = 1;
		struct fbus_frame fr;

		for (int i = 0; i < b->n; i++) {
			struct fbus_pub_stats st;

			CHECK(fbus_pub_stats(b->pub[i], &st));
			all &= st.subscribers == 1;
		}
		if (all)
			return;
		assert_int_equal(fbus_sub_next(s, &fr, 10), FBUS_ETIMEDOUT);
	}
	FAIL("not every bus took the subscriber");
}

static void
close_buses(struct buses *b)
{
	for (int i = 0; i < b->n; i++)
		fbus_pub_close(b->pub[i]);
}

/* frames of every bus, tagged with it, held across buses and released
 * to the right one; every mode keeps each bus's order */
static void
test_tags_and_holds(void **state)
{
	struct buses b;
	struct fbus_sub *s;
	struct fbus_frame fr[6];
	int per[3] = { 0 };

	(void)state;
	open_buses(&b, 3, 1);
	s = open_sub(&b, FBUS_MODE_EVERY, 6, 0);
	assert_int_equal(fbus_sub_bus_count(s), 3);
	for (uint32_t i = 0; i < 3; i++)
		assert_string_equal(fbus_sub_bus_uri(s, i), b.uri[i]);
	assert_null(fbus_sub_bus_uri(s, 3));
	wait_joined(&b, s);
	for (int i = 0; i < 3; i++) {
		send_from(b.pub[i], i);
		send_from(b.pub[i], i);
	}
	t_sleep_ms(200); /* the unix bus's frames are on their way */
	for (int k = 0; k < 6; k++) {
		CHECK(fbus_sub_next(s, &fr[k], 2000));
		check_from(&fr[k], fbus_frame_bus(&fr[k]));
		per[fbus_frame_bus(&fr[k])]++;
	}
	/* fair: one of each before the second of any */
	for (int k = 0; k < 3; k++)
		for (int j = 0; j < k; j++)
			assert_int_not_equal(fbus_frame_bus(&fr[k]),
			                     fbus_frame_bus(&fr[j]));
	assert_int_equal(per[0], 2);
	assert_int_equal(per[1], 2);
	assert_int_equal(per[2], 2);
	assert_int_equal(fbus_sub_next(s, &fr[0], 0), FBUS_EBUSY);
	for (int k = 5; k >= 0; k--) {
		fbus_sub_release(s, &fr[k]);
		fbus_sub_release(s, &fr[k]); /* twice: a no-op */
	}
	{
		struct fbus_sub_stats st, one;

		CHECK(fbus_sub_stats(s, &st));
		assert_int_equal(st.frames, 6);
		assert_int_equal(st.connected, 3);
		CHECK(fbus_sub_bus_stats(s, 2, &one));
		assert_int_equal(one.frames, 2);
		assert_int_equal(fbus_sub_bus_stats(s, 3, &one), FBUS_EINVAL);
	}
	fbus_sub_close(s);
	close_buses(&b);
}

/* the fd wakes for a frame on any bus */
static void
test_fd(void **state)
{
	struct buses b;
	struct fbus_sub *s;
	struct fbus_frame fr;
	struct pollfd pfd;

	(void)state;
	open_buses(&b, 3, 1);
	s = open_sub(&b, FBUS_MODE_LATEST, 1, 0);
	wait_joined(&b, s);
	pfd.fd = fbus_sub_fd(s);
	pfd.events = POLLIN;
	assert_true(pfd.fd >= 0);
	for (int i = 2; i >= 0; i--) {
		assert_int_equal(poll(&pfd, 1, 50), 0);
		send_from(b.pub[i], i);
		assert_int_equal(poll(&pfd, 1, 2000), 1);
		CHECK(fbus_sub_next(s, &fr, 0));
		check_from(&fr, (uint32_t)i);
		fbus_sub_release(s, &fr);
	}
	fbus_sub_close(s);
	close_buses(&b);
}

/* a producer that goes is said once, naming its bus; the others go on;
 * with RECONNECT its successor is served */
static void
test_one_goes(void **state)
{
	struct buses b;
	struct fbus_sub *s;
	struct fbus_frame fr;
	int rc;

	(void)state;
	open_buses(&b, 3, 0);
	s = open_sub(&b, FBUS_MODE_LATEST, 1, FBUS_SUB_RECONNECT);
	wait_joined(&b, s);
	fbus_pub_close(b.pub[1]);
	rc = fbus_sub_next(s, &fr, 2000);
	assert_int_equal(rc, FBUS_EDISCONNECTED);
	assert_non_null(strstr(fbus_sub_last_error(s), b.uri[1]));
	for (int k = 0; k < 5; k++) {
		send_from(b.pub[0], 0);
		send_from(b.pub[2], 2);
		CHECK(fbus_sub_next(s, &fr, 2000));
		assert_int_not_equal(fbus_frame_bus(&fr), 1);
		check_from(&fr, fbus_frame_bus(&fr));
		CHECK(fbus_sub_next(s, &fr, 2000));
		check_from(&fr, fbus_frame_bus(&fr));
	}
	CHECK(fbus_pub_open(&b.pub[1], b.uri[1], NULL));
	for (int k = 0; k < 300; k++) {
		send_from(b.pub[1], 1);
		rc = fbus_sub_next(s, &fr, 10);
		if (rc == 0 && fbus_frame_bus(&fr) == 1)
			break;
		assert_true(rc == 0 || rc == FBUS_ETIMEDOUT ||
		            rc == FBUS_EDISCONNECTED);
	}
	assert_int_equal(rc, 0);
	check_from(&fr, 1);
	fbus_sub_close(s);
	close_buses(&b);
}

/* ---- fairness ----------------------------------------------------------- */

struct pacer {
	struct fbus_pub *pub;
	int bus, hz;
	atomic_int *stop;
	pthread_t th;
};

static void *
pace(void *arg)
{
	struct pacer *p = arg;
	int64_t next = fbus_now_mono_ns();

	while (!atomic_load(p->stop)) {
		struct timespec ts;

		send_from(p->pub, p->bus);
		next += 1000000000LL / p->hz;
		ts.tv_sec = next / 1000000000LL;
		ts.tv_nsec = next % 1000000000LL;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	return NULL;
}

static void
test_fairness(void **state)
{
	const int hz[3] = { 10, 10, 30 };
	struct buses b;
	struct pacer pc[3];
	struct fbus_sub *s;
	atomic_int stop = 0;
	int got[3] = { 0 }, total = 0;
	int64_t end;

	(void)state;
	open_buses(&b, 3, 1);
	s = open_sub(&b, FBUS_MODE_LATEST, 1, 0);
	wait_joined(&b, s);
	for (int i = 0; i < 3; i++) {
		pc[i] = (struct pacer){ .pub = b.pub[i], .bus = i, .hz = hz[i],
			                .stop = &stop };
		assert_int_equal(pthread_create(&pc[i].th, NULL, pace, &pc[i]), 0);
	}
	end = fbus_now_mono_ns() + 4000000000LL;
	while (fbus_now_mono_ns() < end) {
		struct fbus_frame fr;

		CHECK(fbus_sub_next(s, &fr, 2000));
		check_from(&fr, fbus_frame_bus(&fr));
		got[fbus_frame_bus(&fr)]++;
		total++;
		t_sleep_ms(50); /* the detector's forward pass */
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < 3; i++)
		pthread_join(pc[i].th, NULL);
	printf("fairness: %d frames: %d %d %d (10, 10, 30 Hz)\n", total, got[0],
	       got[1], got[2]);
	/* 50 frames/s offered, ~20 taken: each bus gets about a third; the
	 * 30 Hz one must not take the lion's share, none may starve */
	for (int i = 0; i < 3; i++)
		if (got[i] * 4 < total || got[i] * 2 > total)
			fail_msg("bus %d (%d Hz): %d of %d frames", i, hz[i],
			         got[i], total);
	fbus_sub_close(s);
	close_buses(&b);
}

/* bad input: said, nothing leaks */
static void
test_bad_input(void **state)
{
	struct fbus_sub *s = (struct fbus_sub *)1;
	const char *u[2] = { "shm:dup", "shm:dup" };
	const char *bad[2] = { "shm:ok-but-absent", "bogus:x" };
	int fds = t_count_fds();

	(void)state;
	assert_int_equal(fbus_sub_open_many(&s, u, 0, NULL), FBUS_EINVAL);
	assert_null(s);
	assert_int_equal(fbus_sub_open_many(&s, u, FBUS_MAX_BUSES + 1, NULL),
	                 FBUS_EINVAL);
	assert_int_equal(fbus_sub_open_many(&s, u, 2, NULL), FBUS_EINVAL);
	assert_non_null(strstr(fbus_open_error(), "given twice"));
	{
		struct fbus_sub_opts o = { .flags = FBUS_SUB_RECONNECT };

		assert_int_equal(fbus_sub_open_many(&s, bad, 2, &o), FBUS_EINVAL);
		assert_non_null(strstr(fbus_open_error(), "bogus:x"));
	}
	assert_null(s);
	assert_int_equal(fbus_frame_bus(NULL), 0);
	assert_int_equal(fbus_sub_bus_count(NULL), 0);
	assert_int_equal(t_count_fds(), fds);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tags_and_holds),
		cmocka_unit_test(test_fd),
		cmocka_unit_test(test_one_goes),
		cmocka_unit_test(test_fairness),
		cmocka_unit_test(test_bad_input),
	};

	t_watchdog(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

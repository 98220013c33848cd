/* SPDX-License-Identifier: MIT */
/*
 * test-shm-stress.c — 8 subscriber processes (4 every, 4 latest) read
 * 100k frames from one producer.  Each verifies every frame's content
 * against the checksum in its metadata: zero torn or mismatched frames;
 * every-mode subscribers see every frame, in order; latest-mode ones see
 * strictly increasing seqs.  FBUS_STRESS_FRAMES overrides the count.
 */
#define _GNU_SOURCE
#include "shm_test_frames.h"
#include "check.h"
#include "testutil.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define NSUB 8

static int
subscriber(const char *uri, int every, uint64_t nframes)
{
	struct fbus_sub_opts o = { .mode = every ? FBUS_MODE_EVERY
		                                 : FBUS_MODE_LATEST,
		                   .depth = 16,
		                   .full_policy = FBUS_FULL_BLOCK,
		                   .block_ms = 10000 };
	struct fbus_sub *s;
	struct fbus_frame f;
	uint64_t got = 0, last = 0, bad = 0, order = 0;
	int rc;

	rc = fbus_sub_open(&s, uri, &o);
	if (rc) {
		fprintf(stderr, "sub open: %s\n", fbus_open_error());
		return 10;
	}
	while ((rc = fbus_sub_next(s, &f, 10000)) == 0) {
		if (test_verify(&f))
			bad++;
		if (every ? f.seq != last + 1 : f.seq <= last)
			order++;
		last = f.seq;
		got++;
		fbus_sub_release(s, &f);
	}
	fbus_sub_close(s);
	printf("%s sub: %llu frames, last %llu, %llu bad, %llu out of "
	       "order (%s)\n",
	       every ? "every " : "latest", (unsigned long long)got,
	       (unsigned long long)last, (unsigned long long)bad,
	       (unsigned long long)order, fbus_strerror(rc));
	fflush(stdout);
	if (rc != FBUS_EDISCONNECTED || bad || order)
		return 1;
	if (every && got != nframes)
		return 2;
	if (!every && (got == 0 || last != nframes))
		return 3;
	return 0;
}

static void
test_stress(void **state)
{
	const char *env = getenv("FBUS_STRESS_FRAMES");
	uint64_t n = env ? strtoull(env, NULL, 10) : 100000;
	struct fbus_format fmt = { .pixfmt = FBUS_PIXFMT_BGR24, .width = 32,
		                   .height = 24 };
	struct fbus_pub_opts po = { .max_subscribers = NSUB, .slots = 80 };
	struct fbus_pub_stats st;
	struct fbus_pub *p;
	char uri[96];
	pid_t pids[NSUB];
	int failed = 0;

	(void)state;
	snprintf(uri, sizeof uri, "shm:%s", t_unique_name("stress"));
	CHECK(fbus_pub_open(&p, uri, &po));
	for (int i = 0; i < NSUB; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			_exit(subscriber(uri, i % 2 == 0, n));
	}
	/* every-mode readers must be attached before frame 1 */
	for (int i = 0; i < 1000; i++) {
		CHECK(fbus_pub_stats(p, &st));
		if (st.subscribers == NSUB)
			break;
		t_sleep_ms(10);
	}
	assert_int_equal(st.subscribers, NSUB);
	for (uint64_t seq = 1; seq <= n; seq++) {
		int64_t r = test_publish(p, &fmt, seq);
		if (r != (int64_t)seq) {
			fail_msg("publish %llu: %lld (%s)",
			         (unsigned long long)seq, (long long)r,
			         fbus_pub_last_error(p));
		}
	}
	CHECK(fbus_pub_stats(p, &st));
	assert_int_equal(st.dropped, 0);
	fbus_pub_close(p);
	for (int i = 0; i < NSUB; i++) {
		int status;
		waitpid(pids[i], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			print_error("subscriber %d failed (status %d)\n", i,
			            status);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
	assert_int_equal(t_runtime_files(uri + 4), 0);
	print_message("%llu frames to %d subscribers\n",
	              (unsigned long long)n, NSUB);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stress),
	};

	t_watchdog(280);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * futex_floor.c — the platform's floor for a cross-process wake-up, with no
 * framebus code: a parent stamps the time, bumps a word in shared memory
 * and FUTEX_WAKEs a child asleep on it; the child notes when it is back.
 * `framebus bench` hand-off latency can be no lower than this; comparing
 * the two shows what the transport itself adds.
 * Usage: futex_floor [N [TIMEOUT]]; TIMEOUT=1 waits in 40 ms slices.
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct shared {
	_Atomic uint32_t word;
	_Atomic uint32_t waiting;
	_Atomic int64_t stamp;
	double lat[];
};

static int64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	/* argv[2] = 1: wait with a 40 ms timeout, as fbus_sub_next does */
	struct timespec slice = { 0, 40 * 1000000L };
	const struct timespec *tsp = argc > 2 && atoi(argv[2]) ? &slice : NULL;
	struct shared *sh;
	pid_t child;

	if (n < 10)
		n = 10;
	sh = mmap(NULL, sizeof *sh + sizeof(double) * (size_t)n,
	          PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 1;
	child = fork();
	if (child == 0) {
		for (int i = 0; i < n; i++) {
			/* announce "asleep on v"; the parent consumes the
			 * flag, so each round is exactly one bump */
			uint32_t v = atomic_load(&sh->word);
			atomic_store(&sh->waiting, 1);
			while (atomic_load(&sh->word) == v)
				syscall(SYS_futex, &sh->word, FUTEX_WAIT, v,
				        tsp, NULL, 0);
			sh->lat[i] = (double)(now_ns() - atomic_load(&sh->stamp)) /
			             1e3;
		}
		_exit(0);
	}
	for (int i = 0; i < n; i++) {
		struct timespec ts = { 0, 1000000 };
		while (!atomic_exchange(&sh->waiting, 0))
			;
		nanosleep(&ts, NULL); /* let the child really sleep */
		atomic_store(&sh->stamp, now_ns());
		atomic_fetch_add(&sh->word, 1);
		syscall(SYS_futex, &sh->word, FUTEX_WAKE, 1, NULL, NULL, 0);
	}
	waitpid(child, NULL, 0);
	qsort(sh->lat, (size_t)n, sizeof(double), cmp);
	printf("futex wake -> awake, %d rounds: p50 %.1f [us]  p99 %.1f [us]  "
	       "max %.1f [us]\n",
	       n, sh->lat[n / 2], sh->lat[n * 99 / 100], sh->lat[n - 1]);
	return 0;
}

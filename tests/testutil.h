/* SPDX-License-Identifier: MIT */
/*
 * testutil.h — small helpers shared by the C tests: check macros that print
 * the expression and fbus_strerror(), unique bus names so `ctest -j` works,
 * fd-leak counting, and a watchdog so no test can hang.
 */
#ifndef FBUS_TESTUTIL_H
#define FBUS_TESTUTIL_H

#include "framebus.h"

#include <stdio.h>
#include <stdlib.h>

#define T_SKIP 77

#define T_ASSERT(cond)                                                        \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: assertion failed: %s\n",      \
			        __FILE__, __LINE__, #cond);                   \
			abort();                                              \
		}                                                             \
	} while (0)

/* expr must return 0 (or >= 0) */
#define T_PASS(expr)                                                          \
	do {                                                                  \
		long long t_rc_ = (long long)(expr);                          \
		if (t_rc_ < 0) {                                              \
			fprintf(stderr, "%s:%d: %s failed: %lld (%s)\n",      \
			        __FILE__, __LINE__, #expr, t_rc_,             \
			        fbus_strerror((int)t_rc_));                   \
			abort();                                              \
		}                                                             \
	} while (0)

/* expr must return exactly code */
#define T_FAIL(expr, code)                                                    \
	do {                                                                  \
		long long t_rc_ = (long long)(expr);                          \
		if (t_rc_ != (code)) {                                        \
			fprintf(stderr,                                       \
			        "%s:%d: %s returned %lld (%s), want %s\n",    \
			        __FILE__, __LINE__, #expr, t_rc_,             \
			        fbus_strerror((int)t_rc_), #code);            \
			abort();                                              \
		}                                                             \
	} while (0)

/* "prefix-<pid>-<counter>": unique per process and call. */
const char *t_unique_name(const char *prefix);
/* Number of open fds of this process. */
int t_count_fds(void);
/* Kill the process with a message after `seconds` (alarm-based). */
void t_watchdog(unsigned seconds);
/* Sleep for ms milliseconds. */
void t_sleep_ms(int ms);
/* Files in the framebus runtime dir whose name starts with prefix. */
int t_runtime_files(const char *prefix);
/* Names of /dev/shm entries (count) — framebus must leave none. */
int t_devshm_count(void);

#endif

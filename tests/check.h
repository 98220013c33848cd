/* SPDX-License-Identifier: MIT */
/*
 * check.h — the one assertion style of the C tests: cmocka (this header
 * includes it).
 *
 * In the thread that runs a test: cmocka's assert_*(), plus, for framebus
 * calls, CHECK(expr) (must not return a negative code) and
 * CHECK_RC(expr, code) (must return exactly code), whose message names the
 * expression, the code, fbus_strerror() and fbus_open_error().
 *
 * cmocka ends a failed test with longjmp, which is only defined in the thread
 * that runs it.  In a forked child or a helper thread use CHECK, CHECK_RC,
 * CHECK_TRUE and FAIL only (never assert_*()): there they print the same
 * message and _exit(T_HELPER_FAILED), which fails the child's wait status
 * (the parent asserts it) or the whole test process.
 */
#ifndef FBUS_CHECK_H
#define FBUS_CHECK_H

#include "framebus.h"

/* cmocka.h needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define T_HELPER_FAILED 99

/* 1 in the process and thread that started main(), 0 in a forked child or
 * another thread. */
int t_in_test_thread(void);
/* Print "file:line: message" and _exit(T_HELPER_FAILED). */
_Noreturn void t_helper_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define FAIL(...)                                                             \
	do {                                                                  \
		if (t_in_test_thread())                                       \
			fail_msg(__VA_ARGS__);                                \
		else                                                          \
			t_helper_fail(__FILE__, __LINE__, __VA_ARGS__);       \
	} while (0)

#define CHECK_TRUE(cond)                                                      \
	do {                                                                  \
		if (!(cond))                                                  \
			FAIL("%s", #cond);                                    \
	} while (0)

#define CHECK(expr)                                                           \
	do {                                                                  \
		long long rc_ = (long long)(expr);                            \
		if (rc_ < 0)                                                  \
			FAIL("%s: %lld (%s) %s", #expr, rc_,                  \
			     fbus_strerror((int)rc_), fbus_open_error());     \
	} while (0)

#define CHECK_RC(expr, code)                                                  \
	do {                                                                  \
		long long rc_ = (long long)(expr);                            \
		if (rc_ != (long long)(code))                                 \
			FAIL("%s returned %lld (%s), want %s %s", #expr, rc_, \
			     fbus_strerror((int)rc_), #code,                  \
			     fbus_open_error());                              \
	} while (0)

#endif

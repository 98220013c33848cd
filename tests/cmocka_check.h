/* SPDX-License-Identifier: MIT */
/*
 * cmocka_check.h — CHECK(expr) for cmocka tests of libframebus: fails the
 * test with the expression, the code, fbus_strerror() and fbus_open_error()
 * when expr is negative.  Include after <cmocka.h>.
 */
#ifndef FBUS_CMOCKA_CHECK_H
#define FBUS_CMOCKA_CHECK_H

#include "framebus.h"

#define CHECK(expr)                                                           \
	do {                                                                  \
		long long rc_ = (long long)(expr);                            \
		if (rc_ < 0)                                                  \
			fail_msg("%s: %lld (%s) %s", #expr, rc_,              \
			         fbus_strerror((int)rc_), fbus_open_error()); \
	} while (0)

#endif

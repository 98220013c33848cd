/* SPDX-License-Identifier: MIT */
/* clock.c — the library's version and the clocks frames are stamped with. */
#define _GNU_SOURCE
#include "private.h"

#include <time.h>

uint32_t
fbus_version(void)
{
	return (FBUS_VERSION_MAJOR << 16) | (FBUS_VERSION_MINOR << 8) |
	       FBUS_VERSION_PATCH;
}

static int64_t
now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
fbus_now_mono_ns(void)
{
	return now_ns(CLOCK_MONOTONIC);
}

int64_t
fbus_now_real_ns(void)
{
	return now_ns(CLOCK_REALTIME);
}

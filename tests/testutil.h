/* SPDX-License-Identifier: MIT */
/*
 * testutil.h — small helpers shared by the C tests: unique bus names so
 * `ctest -j` works, fd-leak counting, and a watchdog so no test can hang.
 * Assertions are in check.h.
 */
#ifndef FBUS_TESTUTIL_H
#define FBUS_TESTUTIL_H

#include "framebus.h"

#include <stdio.h>
#include <stdlib.h>

#define T_SKIP 77

/* "prefix-<pid>-<counter>": unique per process and call. */
const char *t_unique_name(const char *prefix);
/* A raw connection to the control socket of shm bus `name` in the runtime
 * dir (for tests that speak the protocol themselves). */
int t_bus_connect(const char *name);
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

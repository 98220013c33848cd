/* SPDX-License-Identifier: MIT */
/*
 * leftovers.c — run last by ctest: once fbus_runtime_sweep() has removed
 * what producers killed with -9 left, the runtime dir holds no file of a
 * test's bus (that would be a producer still running: a leaked process)
 * and /dev/shm no framebus entry.  Only names the tests use are looked at,
 * so a bus of someone else's on this machine does not fail the suite.
 */
#define _GNU_SOURCE
#include "framebus.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const prefixes[] = {
	"conf-", "lv-", "demo-", "infer", "src-", "bench-", "stress-",
	"threads-", "st-", "bp-", "fbus-allow", "cam", "ls-", "clitest-",
};

static int
ours(const char *name)
{
	for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
		if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
			return 1;
	return 0;
}

static void
said(void *user, const char *name)
{
	(void)user;
	printf("swept %s (its producer was killed)\n", name);
}

int
main(void)
{
	char dir[256];
	struct dirent *e;
	int bad = 0, n;
	DIR *d;

	if (fbus_runtime_dir(dir, sizeof dir))
		return 1;
	n = fbus_runtime_sweep(said, NULL);
	if (n < 0) {
		fprintf(stderr, "sweep %s: %s\n", dir, fbus_strerror(n));
		return 1;
	}
	if ((d = opendir(dir))) {
		while ((e = readdir(d)))
			if (ours(e->d_name)) {
				printf("left in %s: %s\n", dir, e->d_name);
				bad = 1;
			}
		closedir(d);
	}
	if ((d = opendir("/dev/shm"))) {
		while ((e = readdir(d)))
			if (strcasestr(e->d_name, "framebus")) {
				printf("left in /dev/shm: %s\n", e->d_name);
				bad = 1;
			}
		closedir(d);
	}
	if (!bad)
		printf("nothing left in %s or /dev/shm\n", dir);
	return bad;
}

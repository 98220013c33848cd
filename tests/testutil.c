/* SPDX-License-Identifier: MIT */
/* testutil.c — see testutil.h. */
#define _GNU_SOURCE
#include "testutil.h"

#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *
t_unique_name(const char *prefix)
{
	static char buf[8][64];
	static unsigned n;
	char *b = buf[n % 8];

	snprintf(b, 64, "%s-%d-%u", prefix, (int)getpid(), n++);
	return b;
}

static int
count_dir(const char *path, const char *prefix)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' &&
		    (!prefix || strncmp(e->d_name, prefix, strlen(prefix)) == 0))
			n++;
	closedir(d);
	return n;
}

int
t_count_fds(void)
{
	return count_dir("/proc/self/fd", NULL) - 1; /* minus opendir's own */
}

static void
on_alarm(int sig)
{
	static const char msg[] = "test watchdog: timed out\n";
	(void)sig;
	if (write(2, msg, sizeof msg - 1) < 0)
		_exit(99);
	_exit(98);
}

void
t_watchdog(unsigned seconds)
{
	signal(SIGALRM, on_alarm);
	alarm(seconds);
}

void
t_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

int
t_runtime_files(const char *prefix)
{
	char dir[256];

	if (fbus_runtime_dir(dir, sizeof dir))
		return -1;
	return count_dir(dir, prefix);
}

int
t_devshm_count(void)
{
	return count_dir("/dev/shm", NULL);
}

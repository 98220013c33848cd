/* SPDX-License-Identifier: MIT */
/* testutil.c — see testutil.h and check.h. */
#define _GNU_SOURCE
#include "testutil.h"
#include "check.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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
t_bus_connect(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[200], path[300];
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	CHECK(fbus_runtime_dir(dir, sizeof dir));
	snprintf(path, sizeof path, "%s/%s.sock", dir, name);
	CHECK_TRUE(strlen(path) < sizeof sa.sun_path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa));
	return fd;
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

static pid_t test_pid;
static pthread_t test_thread;

/* Before main(): the process and thread in which cmocka may fail a test. */
__attribute__((constructor)) static void
record_test_thread(void)
{
	test_pid = getpid();
	test_thread = pthread_self();
}

int
t_in_test_thread(void)
{
	return getpid() == test_pid && pthread_equal(pthread_self(), test_thread);
}

void
t_helper_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: [pid %d, helper] ", file, line, (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(T_HELPER_FAILED);
}

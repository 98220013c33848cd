/* SPDX-License-Identifier: MIT */
/*
 * util.c — message, argument and signal helpers shared by the subcommands.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "framebus.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *cli_cmd_name = "framebus";
volatile int cli_stop;

static void
vsay(const char *what, const char *fmt, va_list ap)
{
	fprintf(stderr, "framebus %s: %s", cli_cmd_name, what);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
cli_die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("error: ", fmt, ap);
	va_end(ap);
	exit(status);
}

void
cli_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("", fmt, ap);
	va_end(ap);
}

void
cli_no_more_args(int argc, char **argv)
{
	if (optind < argc)
		cli_die(2, "unexpected argument '%s' (see --help)",
		        argv[optind]);
}

void
cli_getopt_error(int opt, char **argv)
{
	extern int optind;

	if (opt == ':')
		cli_die(2, "option %s needs a value (see --help)",
		        argv[optind - 1]);
	cli_die(2, "unknown option %s (see --help)", argv[optind - 1]);
}

void
cli_parse_size(const char *s, uint32_t *w, uint32_t *h)
{
	const char *p;
	unsigned long a, b;
	char *end;

	errno = 0;
	a = strtoul(s, &end, 10);
	if (end == s || (*end != 'x' && *end != 'X'))
		goto bad;
	p = end + 1;
	b = strtoul(p, &end, 10);
	if (end == p || *end || errno || a == 0 || b == 0 || a > 16384 ||
	    b > 16384)
		goto bad;
	*w = (uint32_t)a;
	*h = (uint32_t)b;
	return;
bad:
	cli_die(2, "bad size '%s': expected WxH, e.g. 1280x720 (1..16384)", s);
}

double
cli_parse_double(const char *opt, const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !(v >= lo && v <= hi))
		cli_die(2, "%s: '%s' is not a number in %g..%g", opt, s, lo,
		        hi);
	return v;
}

long long
cli_parse_int(const char *opt, const char *s, long long lo, long long hi)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end || errno || v < lo || v > hi)
		cli_die(2, "%s: '%s' is not an integer in %lld..%lld", opt, s,
		        lo, hi);
	return v;
}

static void
on_stop(int sig)
{
	(void)sig;
	cli_stop = 1;
}

void
cli_install_stop_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

void
cli_sort_doubles(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
}

double
cli_percentile(const double *sorted, size_t n, double p)
{
	size_t k;

	if (!n)
		return 0;
	k = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return sorted[k - 1];
}

void
cli_sleep_until(int64_t t)
{
	for (;;) {
		int64_t now = fbus_now_mono_ns(), step = t - now;
		struct timespec ts;

		if (step <= 0 || cli_stop)
			return;
		if (step > 100000000)
			step = 100000000;
		step += now;
		ts.tv_sec = step / 1000000000;
		ts.tv_nsec = step % 1000000000;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
}

void
cli_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* SPDX-License-Identifier: MIT */
/*
 * cli.h — what the `framebus` subcommands share: their entry points and the
 * small message/argument helpers every tool needs (exit 2 on usage errors).
 */
#ifndef FBUS_CLI_H
#define FBUS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__GNUC__)
#define CLI_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define CLI_NORETURN __attribute__((noreturn))
#else
#define CLI_PRINTF(a, b)
#define CLI_NORETURN
#endif

/* Subcommands: argv[0] is the subcommand name. Return the exit status. */
int cmd_source(int argc, char **argv);
int cmd_infer(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_model_info(int argc, char **argv);

/* "framebus <cmd>: error: ..." on stderr, then exit(status). */
void cli_die(int status, const char *fmt, ...) CLI_PRINTF(2, 3) CLI_NORETURN;
void cli_warn(const char *fmt, ...) CLI_PRINTF(1, 2);
/* s as a JSON string literal, quotes included. */
void cli_json_string(FILE *f, const char *s);
/* Sort ascending; the nearest-rank percentile p (0..100) of a sorted
 * series: the one definition every tool reports (0 for none). */
void cli_sort_doubles(double *v, size_t n);
double cli_percentile(const double *sorted, size_t n, double p);
/* Sleep until the absolute CLOCK_MONOTONIC time t (fbus_now_mono_ns), in
 * steps of at most 100 ms so a caught signal (cli_stop) ends it soon; a
 * paced loop computes each deadline from the first, never from "now". */
void cli_sleep_until(int64_t t);

/* Exit 2 with a message if getopt left an argument (optind < argc). */
void cli_no_more_args(int argc, char **argv);
/* Set by main(): the subcommand's name, used as the message prefix. */
extern const char *cli_cmd_name;

/* Argument parsing helpers; each dies with exit 2 and a clear message. */
/* For getopt_long's ':' (missing value) and '?' returns, with optstring
 * starting with ':'.  Names the offending option. */
void cli_getopt_error(int opt, char **argv) CLI_NORETURN;
void cli_parse_size(const char *s, uint32_t *w, uint32_t *h); /* "WxH" */
double cli_parse_double(const char *opt, const char *s, double lo, double hi);
long long cli_parse_int(const char *opt, const char *s, long long lo,
                        long long hi);

/* Set by SIGINT/SIGTERM once cli_install_stop_handlers() ran. */
extern volatile int cli_stop;
void cli_install_stop_handlers(void);

#endif /* FBUS_CLI_H */

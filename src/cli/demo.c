/* SPDX-License-Identifier: MIT */
/*
 * demo.c — `framebus demo`: the whole system on one machine, out of the
 * box.  Runs this same binary twice, as program A (`source synthetic`) and
 * program B (`infer`, bundled model), two processes over shm:demo-PID, and
 * stops both cleanly on Ctrl-C, after --duration, or when the window is
 * closed.  The children do the work and the talking (window or live status
 * line, summary with fps, latency percentiles and mAP); this file only
 * starts, watches and stops them.
 */
#define _GNU_SOURCE
#include "cli.h"
#include "display_sdl.h"
#include "framebus.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* After --duration, how long infer may take beyond it (model loading,
 * the last frame, its summary) before we stop it ourselves. */
#define STOP_GRACE_S 60.0
/* How long a child gets to exit after being asked to. */
#define EXIT_WAIT_MS 10000

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: framebus demo [options]\n"
	        "\n"
	        "Program A and program B together: `framebus source` (the\n"
	        "synthetic scene) and `framebus infer` (the bundled model) as\n"
	        "two processes over shared memory.  A window when a display\n"
	        "exists; otherwise headless, with a live status line on a\n"
	        "terminal.  At the end: fps, latency percentiles and the\n"
	        "detector's precision, recall and mAP@0.5 against the scene's\n"
	        "ground truth.\n"
	        "\n"
	        "  --duration S    stop after S seconds (default: at Ctrl-C\n"
	        "                  or when the window is closed)\n"
	        "  --headless      no window even if a display exists\n"
	        "  --json          infer's JSON lines on stdout, summary last\n"
	        "  --every         infer every frame (default: the newest)\n"
	        "  --seed N        scene seed (default 1)\n"
	        "  --fps N|max     scene frame rate (default 10)\n"
	        "  --size WxH      scene size (default 1280x720)\n"
	        "  -q, --quiet     no status messages, summary only\n"
	        "  -h, --help      this text\n"
	        "\n"
	        "Exit status: 0 done, 1 source or infer failed, 2 usage\n"
	        "error.\n");
}

struct child {
	const char *name;
	pid_t pid;    /* 0 once reaped */
	int status;   /* wait status once reaped */
	int asked;    /* we asked it to stop */
};

static double
now_s(void)
{
	return (double)fbus_now_mono_ns() / 1e9;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL); /* EINTR: a signal; the caller re-checks */
}

/*
 * fork + exec /proc/self/exe with argv.  The child gets its own process
 * group so that a terminal's Ctrl-C reaches only us and we stop the two in
 * the right order (infer first: it prints the summary; then the source, so
 * infer never reports the source as gone).  PR_SET_PDEATHSIG makes it go
 * when we die without cleaning up (kill -9).
 */
static pid_t
spawn(char **argv)
{
	pid_t parent = getpid(), pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		cli_die(1, "fork: %s", strerror(errno));
	if (pid == 0) {
		setpgid(0, 0);
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 ||
		    getppid() != parent)
			_exit(1);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		execv("/proc/self/exe", argv);
		fprintf(stderr, "framebus demo: exec /proc/self/exe: %s\n",
		        strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid); /* also here: whichever runs first wins the race */
	return pid;
}

/* Reap whatever has exited; returns how many children are still running. */
static int
reap(struct child *c, int n)
{
	int running = 0;

	for (int i = 0; i < n; i++) {
		int st;
		pid_t r;

		if (!c[i].pid)
			continue;
		r = waitpid(c[i].pid, &st, WNOHANG);
		if (r == c[i].pid) {
			c[i].status = st;
			c[i].pid = 0;
		} else {
			running++;
		}
	}
	return running;
}

/* Ask a child to stop with sig; after EXIT_WAIT_MS, kill it. */
static void
stop_child(struct child *c, int sig)
{
	double t0 = now_s();

	if (!c->pid)
		return;
	c->asked = 1;
	kill(c->pid, sig);
	while (reap(c, 1) && now_s() - t0 < EXIT_WAIT_MS / 1e3)
		sleep_ms(20);
	if (c->pid) {
		cli_warn("%s did not stop within %d s; killing it", c->name,
		         EXIT_WAIT_MS / 1000);
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, &c->status, 0) < 0 && errno == EINTR)
			;
		c->pid = 0;
	}
}

/* 0 if the child ended well: exit 0, or (asked to stop) by that signal. */
static int
child_failed(const struct child *c)
{
	if (WIFEXITED(c->status)) {
		if (WEXITSTATUS(c->status) == 0)
			return 0;
		cli_warn("%s failed (exit status %d)", c->name,
		         WEXITSTATUS(c->status));
		return 1;
	}
	if (WIFSIGNALED(c->status)) {
		int sig = WTERMSIG(c->status);

		if (c->asked && (sig == SIGINT || sig == SIGTERM))
			return 0;
		cli_warn("%s was killed by signal %d (%s)", c->name, sig,
		         strsignal(sig));
	}
	return 1;
}

int
cmd_demo(int argc, char **argv)
{
	enum { O_DURATION = 256, O_HEADLESS, O_JSON, O_EVERY, O_SEED, O_FPS,
	       O_SIZE };
	static const struct option longopts[] = {
		{ "duration", required_argument, NULL, O_DURATION },
		{ "headless", no_argument, NULL, O_HEADLESS },
		{ "json", no_argument, NULL, O_JSON },
		{ "every", no_argument, NULL, O_EVERY },
		{ "seed", required_argument, NULL, O_SEED },
		{ "fps", required_argument, NULL, O_FPS },
		{ "size", required_argument, NULL, O_SIZE },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char bus[64], duration[32] = "", seed[32] = "1", fps[32] = "10",
		size[32] = "1280x720";
	char *src_argv[16], *inf_argv[16];
	struct child kids[2] = { { .name = "infer" }, { .name = "source" } };
	int c, n, headless = 0, json = 0, every = 0, quiet = 0, status = 0;
	double dur = 0, t_start;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hq", longopts, NULL)) != -1) {
		switch (c) {
		case O_DURATION:
			dur = cli_parse_double("--duration", optarg, 0.001,
			                       1e9);
			snprintf(duration, sizeof duration, "%.3f", dur);
			break;
		case O_HEADLESS: headless = 1; break;
		case O_JSON: json = 1; break;
		case O_EVERY: every = 1; break;
		case O_SEED:
			snprintf(seed, sizeof seed, "%lld",
			         cli_parse_int("--seed", optarg, 0,
			                       UINT32_MAX));
			break;
		case O_FPS:
			if (strcmp(optarg, "max") == 0)
				snprintf(fps, sizeof fps, "max");
			else
				snprintf(fps, sizeof fps, "%g",
				         cli_parse_double("--fps", optarg, 0.01,
				                          1000));
			break;
		case O_SIZE: {
			uint32_t w, h;

			cli_parse_size(optarg, &w, &h);
			snprintf(size, sizeof size, "%ux%u", w, h);
			break;
		}
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return 0;
		default:
			cli_getopt_error(c, argv);
		}
	}
	cli_no_more_args(argc, argv);
	if (!headless && !display_available())
		headless = 1;

	snprintf(bus, sizeof bus, "shm:demo-%d", (int)getpid());
	n = 0;
	inf_argv[n++] = "framebus";
	inf_argv[n++] = "infer";
	inf_argv[n++] = "--from";
	inf_argv[n++] = bus;
	inf_argv[n++] = "--stats";
	if (headless)
		inf_argv[n++] = "--headless";
	if (json)
		inf_argv[n++] = "--json";
	if (every)
		inf_argv[n++] = "--every";
	if (dur > 0) {
		inf_argv[n++] = "--duration";
		inf_argv[n++] = duration;
	}
	inf_argv[n] = NULL;
	n = 0;
	src_argv[n++] = "framebus";
	src_argv[n++] = "source";
	src_argv[n++] = "synthetic";
	src_argv[n++] = "--to";
	src_argv[n++] = bus;
	src_argv[n++] = "--seed";
	src_argv[n++] = seed;
	src_argv[n++] = "--fps";
	src_argv[n++] = fps;
	src_argv[n++] = "--size";
	src_argv[n++] = size;
	src_argv[n++] = "--quiet";
	src_argv[n] = NULL;

	if (!quiet)
		fprintf(stderr,
		        "framebus demo: synthetic scene %s at %s fps -> %s -> "
		        "infer (bundled model), %s; %s\n",
		        size, fps, bus,
		        headless ? "headless" : "in a window",
		        dur > 0 ? "stops by itself (or Ctrl-C)"
		                : "Ctrl-C stops it");

	cli_install_stop_handlers();
	/* infer first: its model loads while the source starts. */
	kids[0].pid = spawn(inf_argv);
	kids[1].pid = spawn(src_argv);
	t_start = now_s();

	/* Until infer ends (its --duration, its window closed, or an error),
	 * the source dies, or we are told to stop. */
	while (!cli_stop && reap(kids, 2) == 2) {
		if (dur > 0 && now_s() - t_start > dur + STOP_GRACE_S) {
			cli_warn("infer did not stop %.0f s after --duration",
			         STOP_GRACE_S);
			status = 1;
			break;
		}
		sleep_ms(50);
	}
	if (!kids[1].pid && !kids[0].pid) {
		/* both gone at once: judged below */
	} else if (!kids[1].pid) {
		cli_warn("source stopped unexpectedly; stopping infer");
		status = 1;
	}
	stop_child(&kids[0], SIGINT);
	stop_child(&kids[1], SIGTERM);
	if (child_failed(&kids[0]))
		status = 1;
	/* A source that exited by itself (not asked) failed even with 0. */
	if (child_failed(&kids[1]))
		status = 1;
	return status;
}

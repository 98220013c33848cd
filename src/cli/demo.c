/* SPDX-License-Identifier: MIT */
/*
 * demo.c — `framebus demo`: the whole system on one machine, out of the
 * box.  Runs this same binary as program A (`source synthetic`, once a
 * camera) and program B (`infer`, bundled model) over shm:demo-PID[-i], and
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
/* --cameras, --workers: each is a process of its own */
#define MAX_CAMERAS 8
#define MAX_WORKERS 8

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
	        "  --cameras N     N synthetic cameras (scenes with seeds\n"
	        "                  seed..seed+N-1), all into one infer\n"
	        "                  (default 1, at most %d)\n"
	        "  --workers M     M infer processes in one worker group:\n"
	        "                  each frame to one of them, the newest to\n"
	        "                  the first free one (default 1, at most %d)\n"
	        "  -q, --quiet     no status messages, summary only\n"
	        "  -h, --help      this text\n"
	        "\n"
	        "Exit status: 0 done, 1 source or infer failed, 2 usage\n"
	        "error.\n", MAX_CAMERAS, MAX_WORKERS);
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
	       O_SIZE, O_CAMERAS, O_WORKERS };
	static const struct option longopts[] = {
		{ "duration", required_argument, NULL, O_DURATION },
		{ "headless", no_argument, NULL, O_HEADLESS },
		{ "json", no_argument, NULL, O_JSON },
		{ "every", no_argument, NULL, O_EVERY },
		{ "seed", required_argument, NULL, O_SEED },
		{ "fps", required_argument, NULL, O_FPS },
		{ "size", required_argument, NULL, O_SIZE },
		{ "cameras", required_argument, NULL, O_CAMERAS },
		{ "workers", required_argument, NULL, O_WORKERS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char bus[MAX_CAMERAS][64], seeds[MAX_CAMERAS][32], names[MAX_CAMERAS][32];
	char duration[32] = "", fps[32] = "10", size[32] = "1280x720";
	char *src_argv[MAX_CAMERAS][16], *inf_argv[20 + 2 * MAX_CAMERAS];
	char wnames[MAX_WORKERS][32];
	struct child kids[MAX_WORKERS + MAX_CAMERAS] = { { .name = "infer" } };
	int c, n, headless = 0, json = 0, every = 0, quiet = 0, status = 0;
	int cameras = 1, workers = 1, running;
	long long seed = 1;
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
			seed = cli_parse_int("--seed", optarg, 0,
			                     UINT32_MAX - MAX_CAMERAS);
			break;
		case O_CAMERAS:
			cameras = (int)cli_parse_int("--cameras", optarg, 1,
			                             MAX_CAMERAS);
			break;
		case O_WORKERS:
			workers = (int)cli_parse_int("--workers", optarg, 1,
			                             MAX_WORKERS);
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

	for (int i = 0; i < cameras; i++) {
		if (cameras == 1)
			snprintf(bus[i], sizeof bus[i], "shm:demo-%d",
			         (int)getpid());
		else
			snprintf(bus[i], sizeof bus[i], "shm:demo-%d-%d",
			         (int)getpid(), i + 1);
		snprintf(seeds[i], sizeof seeds[i], "%lld", seed + i);
		snprintf(names[i], sizeof names[i], cameras == 1 ? "source" :
		         "source %d", i + 1);
	}
	n = 0;
	inf_argv[n++] = "framebus";
	inf_argv[n++] = "infer";
	for (int i = 0; i < cameras; i++) {
		inf_argv[n++] = "--from";
		inf_argv[n++] = bus[i];
	}
	if (workers > 1) {
		inf_argv[n++] = "--group";
		inf_argv[n++] = "demo";
		/* the workers share the cores instead of each taking all */
		inf_argv[n++] = "--threads";
		inf_argv[n++] = "1";
	}
	if (workers == 1)
		inf_argv[n++] = "--stats"; /* one status line a terminal */
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
	for (int i = 0; i < cameras; i++) {
		char **a = src_argv[i];

		n = 0;
		a[n++] = "framebus";
		a[n++] = "source";
		a[n++] = "synthetic";
		a[n++] = "--to";
		a[n++] = bus[i];
		a[n++] = "--seed";
		a[n++] = seeds[i];
		a[n++] = "--fps";
		a[n++] = fps;
		a[n++] = "--size";
		a[n++] = size;
		a[n++] = "--quiet";
		a[n] = NULL;
		kids[workers + i].name = names[i];
	}
	for (int i = 0; i < workers; i++) {
		snprintf(wnames[i], sizeof wnames[i], workers == 1 ? "infer" :
		         "infer worker %d", i + 1);
		kids[i].name = wnames[i];
	}

	if (!quiet && cameras == 1)
		fprintf(stderr,
		        "framebus demo: synthetic scene %s at %s fps -> %s -> "
		        "infer (bundled model), %s; %s\n",
		        size, fps, bus[0],
		        headless ? "headless" : "in a window",
		        dur > 0 ? "stops by itself (or Ctrl-C)"
		                : "Ctrl-C stops it");
	if (!quiet && workers > 1)
		fprintf(stderr, "framebus demo: %d infer workers in group "
		        "'demo': each frame to one of them\n", workers);
	if (!quiet && cameras > 1)
		fprintf(stderr,
		        "framebus demo: %d synthetic cameras %s at %s fps -> "
		        "%s .. %s -> infer (bundled model, the camera "
		        "that waited longest first), %s; %s\n",
		        cameras, size, fps, bus[0], bus[cameras - 1],
		        headless ? "headless" : "in a window",
		        dur > 0 ? "stops by itself (or Ctrl-C)"
		                : "Ctrl-C stops it");

	cli_install_stop_handlers();
	/* infer first: its model loads while the sources start. */
	for (int i = 0; i < workers; i++)
		kids[i].pid = spawn(inf_argv);
	for (int i = 0; i < cameras; i++)
		kids[workers + i].pid = spawn(src_argv[i]);
	t_start = now_s();

	/* Until an infer ends (its --duration, its window closed, or an
	 * error), a source dies, or we are told to stop. */
	running = workers + cameras;
	while (!cli_stop && reap(kids, running) == running) {
		if (dur > 0 && now_s() - t_start > dur + STOP_GRACE_S) {
			cli_warn("infer did not stop %.0f s after --duration",
			         STOP_GRACE_S);
			status = 1;
			break;
		}
		sleep_ms(50);
	}
	for (int i = 0; i < cameras; i++) {
		int any_infer = 0;

		for (int w = 0; w < workers; w++)
			any_infer |= kids[w].pid != 0;
		if (any_infer && !kids[workers + i].pid) {
			cli_warn("%s stopped unexpectedly; stopping infer",
			         kids[workers + i].name);
			status = 1;
			break;
		}
	}
	/* the workers' --duration ends them together: give them a moment
	 * to print their summaries before asking */
	if (dur > 0)
		for (int t = 0; t < 100 && reap(kids, workers); t++)
			sleep_ms(50);
	for (int w = 0; w < workers; w++)
		stop_child(&kids[w], SIGINT);
	for (int i = 0; i < cameras; i++)
		stop_child(&kids[workers + i], SIGTERM);
	for (int w = 0; w < workers; w++)
		if (child_failed(&kids[w]))
			status = 1;
	/* A source that exited by itself (not asked) failed even with 0. */
	for (int i = 0; i < cameras; i++)
		if (child_failed(&kids[workers + i]))
			status = 1;
	return status;
}

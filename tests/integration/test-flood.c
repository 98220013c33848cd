/* SPDX-License-Identifier: MIT */
/*
 * test-flood.c — a flood of connections that never say hello, against a
 * producer on shm:, unix: and tcp://: a child keeps 64 of them open and
 * replaces each one the producer closes, while an honest subscriber opens
 * 20 times.  Every open is admitted within 1 s (the bound; the
 * handshake alone gives up at 2 s), plain and with RECONNECT, and the
 * producer counts the connections it closed.
 */
#define _GNU_SOURCE
#include "check.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define IDLE 64
#define ROUNDS 20

static const char *transport;
static pid_t flooder;

struct target {
	int family, type;
	struct sockaddr_storage sa;
	socklen_t len;
};

/* The flooder: IDLE silent connections, each replaced as soon as the
 * producer closes it, until killed. */
static void
flood(const struct target *t)
{
	struct pollfd pfd[IDLE];

	for (int i = 0; i < IDLE; i++)
		pfd[i] = (struct pollfd){ -1, POLLIN, 0 };
	for (;;) {
		for (int i = 0; i < IDLE; i++) {
			if (pfd[i].fd >= 0)
				continue;
			pfd[i].fd = socket(t->family, t->type | SOCK_CLOEXEC,
			                   0);
			if (pfd[i].fd >= 0 &&
			    connect(pfd[i].fd, (const struct sockaddr *)&t->sa,
			            t->len) < 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
			}
		}
		if (poll(pfd, IDLE, 5) > 0)
			for (int i = 0; i < IDLE; i++)
				if (pfd[i].revents) {
					close(pfd[i].fd);
					pfd[i].fd = -1;
				}
	}
}

static void
test_honest_gets_in(void **state)
{
	struct fbus_pub_opts po = { .max_subscribers = 4 };
	struct fbus_pub_stats st;
	struct target t = { 0 };
	struct fbus_pub *p;
	char uri[300];
	int64_t worst = 0;
	pid_t pid;

	(void)state;
	if (!strcmp(transport, "shm")) {
		struct sockaddr_un *un = (struct sockaddr_un *)&t.sa;
		char dir[200], name[64];

		snprintf(name, sizeof name, "%s", t_unique_name("flood"));
		snprintf(uri, sizeof uri, "shm:%s", name);
		CHECK(fbus_runtime_dir(dir, sizeof dir));
		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof un->sun_path, "%.60s/%.40s.sock",
		         dir, name);
		t.family = AF_UNIX, t.type = SOCK_SEQPACKET;
		t.len = sizeof *un;
	} else if (!strcmp(transport, "unix")) {
		struct sockaddr_un *un = (struct sockaddr_un *)&t.sa;
		const char *tmp = getenv("FBUS_TEST_TMP");

		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof un->sun_path, "%.60s/%.40s.sock",
		         tmp ? tmp : "/tmp", t_unique_name("flood"));
		snprintf(uri, sizeof uri, "unix:%s", un->sun_path);
		t.family = AF_UNIX, t.type = SOCK_STREAM;
		t.len = sizeof *un;
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&t.sa;
		socklen_t len = sizeof *in;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(fd, (struct sockaddr *)in, len), 0);
		assert_int_equal(getsockname(fd, (struct sockaddr *)in, &len),
		                 0);
		close(fd);
		snprintf(uri, sizeof uri, "tcp://127.0.0.1:%u",
		         (unsigned)ntohs(in->sin_port));
		t.family = AF_INET, t.type = SOCK_STREAM;
		t.len = sizeof *in;
	}
	CHECK(fbus_pub_open(&p, uri, &po));
	pid = flooder = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		flood(&t);
	}
	t_sleep_ms(300); /* the flood is in full swing */
	for (int i = 0; i < ROUNDS; i++) {
		struct fbus_sub_opts o = {
			.flags = i % 2 ? FBUS_SUB_RECONNECT : 0
		};
		struct fbus_sub *s = NULL;
		int64_t t0 = fbus_now_mono_ns(), dt;
		int rc = fbus_sub_open(&s, uri, &o);

		dt = (fbus_now_mono_ns() - t0) / 1000000;
		if (rc)
			fail_msg("open %d: %s", i, fbus_open_error());
		if (o.flags) {
			/* RECONNECT: admitted means a frame gets through */
			struct fbus_frame f;
			struct fbus_format fmt = { .pixfmt = FBUS_PIXFMT_GRAY8,
				                   .width = 16, .height = 16 };
			struct fbus_sub_stats ss;
			uint8_t px[16 * 16] = { 0 };

			CHECK(fbus_sub_stats(s, &ss));
			if (!ss.connected)
				fail_msg("open %d: not connected: %s", i,
				         fbus_sub_last_error(s));
			CHECK(fbus_pub_send(p, &fmt, px, sizeof px, NULL, 0));
			CHECK(fbus_sub_next(s, &f, 1000));
			fbus_sub_release(s, &f);
		}
		fbus_sub_close(s);
		if (dt > worst)
			worst = dt;
		if (dt > 1000)
			fail_msg("open %d took %lld ms", i, (long long)dt);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	flooder = 0;
	CHECK(fbus_pub_stats(p, &st));
	print_message("%s: %d opens during the flood, slowest %lld ms; the "
	              "producer closed %llu idle connections\n",
	              transport, ROUNDS, (long long)worst,
	              (unsigned long long)st.peer_errors);
	/* the flood was real: it filled the waiting room again and again */
	assert_true(st.peer_errors >= 16);
	fbus_pub_close(p);
}

/* a failed case must not leave the flood running */
static int
teardown(void **state)
{
	(void)state;
	if (flooder > 0) {
		kill(flooder, SIGKILL);
		waitpid(flooder, NULL, 0);
		flooder = 0;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_honest_gets_in, teardown),
	};

	if (argc != 2 || (strcmp(argv[1], "shm") && strcmp(argv[1], "unix") &&
	                  strcmp(argv[1], "tcp"))) {
		fprintf(stderr, "usage: test-flood shm|unix|tcp\n");
		return 2;
	}
	transport = argv[1];
	t_watchdog(100);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name(transport, tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * test-shm-fake-producer.c — a producer that speaks the shm control
 * protocol but lies, written against shm/proto.h: each lie is refused at
 * fbus_sub_open() with a clear message, within the handshake's time, and
 * leaves no fd behind.  Today's lie: a pipe (blocking, not an eventfd)
 * where the WELCOME carries the wake-up eventfd; a subscriber that kept it
 * would hang in every poll loop (seen for 510 s before the check).
 */
#define _GNU_SOURCE
#include "os.h"
#include "shm/layout.h"
#include "shm/proto.h"
#include "check.h"
#include "testutil.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct fake {
	int lfd;
	int wake; /* 0: a pipe, 1: an eventfd without O_NONBLOCK */
};

/* Accept one subscriber, read its HELLO, answer with a WELCOME whose
 * page is real and whose wake-up fd is the lie. */
static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	struct fbusi_ctl_welcome w;
	char buf[FBUSI_CTL_MAX];
	int fds[FBUSI_MAX_FDS], nfds, pfd[2] = { -1, -1 }, s, page;
	struct pollfd p = { .fd = f->lfd, .events = POLLIN };

	CHECK_TRUE(poll(&p, 1, 5000) == 1);
	s = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	CHECK_TRUE(s >= 0);
	p.fd = s;
	CHECK_TRUE(poll(&p, 1, 5000) == 1);
	CHECK_TRUE(fbusi_recv_fds(s, buf, sizeof buf, fds, 0, &nfds, 0) > 0);
	page = fbusi_memfd_sealed("fake-page", 4096);
	CHECK_TRUE(page >= 0);
	if (f->wake == 0)
		CHECK_TRUE(pipe2(pfd, O_CLOEXEC) == 0);
	else
		CHECK_TRUE((pfd[0] = eventfd(0, EFD_CLOEXEC)) >= 0);
	fbusi_ctl_init((union fbusi_ctl *)&w, FBUSI_CTL_WELCOME);
	w.version = FBUSI_CTL_VERSION;
	w.page_size = 4096;
	fds[0] = page;
	fds[1] = pfd[0];
	CHECK(fbusi_send_fds(s, &w, sizeof w, fds, 2, 0));
	close(page);
	fbusi_close(pfd[0]);
	fbusi_close(pfd[1]);
	/* stay until the subscriber hangs up */
	p.fd = s;
	(void)poll(&p, 1, 5000);
	close(s);
	return NULL;
}

static void
lie(int wake)
{
	char name[64], dir[200], path[300];
	struct fake f = { .wake = wake };
	struct fbus_sub *s = NULL;
	dev_t dev;
	ino_t ino;
	pthread_t th;
	int64_t t0;
	int fds, rc;

	snprintf(name, sizeof name, "%s", t_unique_name("fakeprod"));
	CHECK(fbus_runtime_dir(dir, sizeof dir));
	(void)mkdir(dir, 0700);
	snprintf(path, sizeof path, "%s/%s.sock", dir, name);
	CHECK(fbusi_unix_listen(path, SOCK_SEQPACKET, 0600, &f.lfd, &dev,
	                         &ino, NULL));
	fds = t_count_fds();
	assert_true(pthread_create(&th, NULL, fake_main, &f) == 0);
	snprintf(path, sizeof path, "shm:%s", name);
	t0 = fbus_now_mono_ns();
	rc = fbus_sub_open(&s, path, NULL);
	print_message("%s: %d after %lld ms: %s\n",
	              wake ? "blocking eventfd" : "pipe for the eventfd", rc,
	              (long long)((fbus_now_mono_ns() - t0) / 1000000),
	              fbus_open_error());
	CHECK_RC(rc, FBUS_EPROTO);
	assert_null(s);
	assert_non_null(strstr(fbus_open_error(), "not a non-blocking eventfd"));
	assert_true(fbus_now_mono_ns() - t0 < 2500000000LL);
	pthread_join(th, NULL);
	assert_int_equal(t_count_fds(), fds);
	snprintf(path, sizeof path, "%s/%s.sock", dir, name);
	fbusi_unix_unlink(path, dev, ino);
	close(f.lfd);
}

static void
test_pipe_for_eventfd(void **state)
{
	(void)state;
	lie(0);
}

static void
test_blocking_eventfd(void **state)
{
	(void)state;
	lie(1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipe_for_eventfd),
		cmocka_unit_test(test_blocking_eventfd),
	};

	t_watchdog(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

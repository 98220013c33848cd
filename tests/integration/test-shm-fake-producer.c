/* SPDX-License-Identifier: MIT */
/*
 * test-shm-fake-producer.c — producers a subscriber must not believe,
 * written against shm/proto.h and shm/layout.h: a pipe or a blocking
 * eventfd where the wake-up eventfd goes (a subscriber that kept it hung
 * in every poll loop, 510 s seen), a queue depth grown after the handshake
 * (read past the page: SIGSEGV), a producer of another uid in a shared
 * directory, and planted runtime directories (a symlink, another owner,
 * writable by others).  Each is refused with a clear message, within the
 * handshake's time, without a crash or a leaked fd.
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
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define OTHER_UID 12345

enum lie {
	LIE_PIPE,           /* a pipe for the eventfd */
	LIE_BLOCKING_EFD,   /* an eventfd without O_NONBLOCK */
	LIE_DEPTH_GROWS,    /* honest handshake, then depth and head grow */
	LIE_BAD_RING,       /* honest handshake, then a RING that is no ring */
};

struct fake {
	int lfd;
	enum lie lie;
	int ready; /* pipe: the fake says "lied" once it corrupted the page */
	int serve; /* serving infer: a client that hangs up is not a failure */
};

/* A ring with a valid header and 2 slots. */
static int
fake_ring(uint64_t *size)
{
	uint64_t slot = (FBUSI_SLOT_DATA_OFF + 4096 + 4095) & ~4095ull;
	uint64_t total = FBUSI_RING_SLOTS_OFF + 2 * slot;
	int fd = fbusi_memfd_sealed("fake-ring", total);
	struct fbusi_ring_hdr *r;

	CHECK_TRUE(fd >= 0);
	r = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK_TRUE(r != MAP_FAILED);
	r->magic = FBUSI_RING_MAGIC;
	r->version = FBUSI_SHM_VERSION;
	r->hdr_size = sizeof *r;
	r->slot_count = 2;
	r->generation = 1;
	r->slot_size = slot;
	r->slots_offset = FBUSI_RING_SLOTS_OFF;
	r->total_size = total;
	munmap(r, total);
	*size = total;
	return fd;
}

/* Accept one subscriber, read its HELLO, answer with the lie. */
static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	struct fbusi_ctl_welcome w;
	struct fbusi_ctl_hello hi;
	char buf[FBUSI_CTL_MAX];
	int fds[FBUSI_MAX_FDS], nfds, pfd[2] = { -1, -1 }, s, page, ring = -1;
	struct pollfd p = { .fd = f->lfd, .events = POLLIN };
	struct fbusi_page *pg;

	/* `framebus ls` and the sweeps of producers in other tests probe
	 * every socket in the runtime dir and hang up without a HELLO:
	 * wait for the subscriber that says one */
	for (;;) {
		p.fd = f->lfd;
		CHECK_TRUE(poll(&p, 1, 5000) == 1);
		s = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
		CHECK_TRUE(s >= 0);
		p.fd = s;
		CHECK_TRUE(poll(&p, 1, 5000) == 1);
		if (fbusi_recv_fds(s, buf, sizeof buf, fds, 0, &nfds, 0) ==
		    sizeof hi)
			break;
		close(s);
		if (f->serve)
			return NULL;
	}
	memcpy(&hi, buf, sizeof hi);
	page = fbusi_memfd_sealed("fake-page", 4096);
	CHECK_TRUE(page >= 0);
	pg = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, page, 0);
	CHECK_TRUE(pg != MAP_FAILED);
	pg->magic = FBUSI_PAGE_MAGIC;
	pg->version = FBUSI_SHM_VERSION;
	pg->hdr_size = FBUSI_PAGE_ENTRIES_OFF;
	pg->depth = hi.depth;
	pg->mode = hi.mode;
	if (f->lie == LIE_PIPE)
		CHECK_TRUE(pipe2(pfd, O_CLOEXEC) == 0);
	else if (f->lie == LIE_BLOCKING_EFD)
		CHECK_TRUE((pfd[0] = eventfd(0, EFD_CLOEXEC)) >= 0);
	else
		CHECK_TRUE((pfd[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) >=
		           0);
	fbusi_ctl_init((union fbusi_ctl *)&w, FBUSI_CTL_WELCOME);
	w.version = FBUSI_CTL_VERSION;
	w.page_size = 4096;
	fds[0] = page;
	fds[1] = pfd[0];
	nfds = 2;
	if (f->lie == LIE_DEPTH_GROWS || f->lie == LIE_BAD_RING) {
		fds[2] = ring = fake_ring(&w.ring_size);
		w.generation = 1;
		nfds = 3;
	}
	CHECK(fbusi_send_fds(s, &w, sizeof w, fds, nfds, 0));
	close(page);
	fbusi_close(ring);
	if (f->lie == LIE_DEPTH_GROWS) {
		uint64_t one = 1;

		/* wait for the test to say the subscriber is up, then grow
		 * the queue far past the page, and ring */
		CHECK_TRUE(read(f->ready, buf, 1) == 1);
		pg->depth = 1u << 20;
		atomic_store(&pg->head, 600);
		CHECK_TRUE(write(pfd[0], &one, sizeof one) == sizeof one);
	}
	if (f->lie == LIE_BAD_RING) {
		struct fbusi_ctl_ring rm;
		int bad = memfd_create("bad-ring", MFD_CLOEXEC);

		/* the size it claims, but unsealed: we could still shrink it
		 * under the subscriber's mapping */
		CHECK_TRUE(bad >= 0 && ftruncate(bad, (off_t)w.ring_size) == 0);
		fbusi_ctl_init((union fbusi_ctl *)&rm, FBUSI_CTL_RING);
		rm.generation = 2;
		rm.ring_size = w.ring_size;
		CHECK(fbusi_send_fds(s, &rm, sizeof rm, &bad, 1, 0));
		close(bad);
	}
	munmap(pg, 4096);
	fbusi_close(pfd[0]);
	fbusi_close(pfd[1]);
	/* stay until the subscriber hangs up */
	p.fd = s;
	(void)poll(&p, 1, 5000);
	close(s);
	return NULL;
}

struct fake_bus {
	char name[64], dir[200], path[300];
	dev_t dev;
	ino_t ino;
	int lfd;
};

static void
fake_listen(struct fake_bus *b, const char *dir)
{
	snprintf(b->name, sizeof b->name, "%s", t_unique_name("fakeprod"));
	snprintf(b->dir, sizeof b->dir, "%s", dir);
	snprintf(b->path, sizeof b->path, "%s/%s.sock", dir, b->name);
	CHECK(fbusi_unix_listen(b->path, SOCK_SEQPACKET, 0600, &b->lfd,
	                        &b->dev, &b->ino, NULL));
}

static void
fake_unlisten(struct fake_bus *b)
{
	fbusi_unix_unlink(b->path, b->dev, b->ino);
	close(b->lfd);
}

static void
runtime_listen(struct fake_bus *b)
{
	char dir[200];

	CHECK(fbus_runtime_dir(dir, sizeof dir));
	(void)mkdir(dir, 0700);
	fake_listen(b, dir);
}

/* The handshake lies: refused at open within the handshake's time. */
static void
lie_at_open(enum lie lie)
{
	struct fake f = { .lie = lie };
	struct fbus_sub *s = NULL;
	struct fake_bus b;
	char uri[96];
	pthread_t th;
	int64_t t0;
	int fds, rc;

	runtime_listen(&b);
	f.lfd = b.lfd;
	fds = t_count_fds();
	assert_int_equal(pthread_create(&th, NULL, fake_main, &f), 0);
	snprintf(uri, sizeof uri, "shm:%s", b.name);
	t0 = fbus_now_mono_ns();
	rc = fbus_sub_open(&s, uri, NULL);
	print_message("%d after %lld ms: %s\n", rc,
	              (long long)((fbus_now_mono_ns() - t0) / 1000000),
	              fbus_open_error());
	CHECK_RC(rc, FBUS_EPROTO);
	assert_null(s);
	assert_non_null(strstr(fbus_open_error(), "not a non-blocking eventfd"));
	assert_true(fbus_now_mono_ns() - t0 < 2500000000LL);
	pthread_join(th, NULL);
	assert_int_equal(t_count_fds(), fds);
	fake_unlisten(&b);
}

static void
test_pipe_for_eventfd(void **state)
{
	(void)state;
	lie_at_open(LIE_PIPE);
}

static void
test_blocking_eventfd(void **state)
{
	(void)state;
	lie_at_open(LIE_BLOCKING_EFD);
}

/* The depth is ours, fixed at attach: a producer growing it in the page
 * gets a protocol error, not a read past the page. */
static void
test_depth_grows(void **state)
{
	struct fbus_sub_opts o = { .mode = FBUS_MODE_EVERY, .depth = 4 };
	struct fake f = { .lie = LIE_DEPTH_GROWS };
	struct fbus_sub *s = NULL;
	struct fbus_frame fr;
	struct fake_bus b;
	char uri[96];
	int ready[2], fds, rc;
	pthread_t th;

	(void)state;
	runtime_listen(&b);
	CHECK(pipe2(ready, O_CLOEXEC));
	f.lfd = b.lfd;
	f.ready = ready[0];
	fds = t_count_fds();
	assert_int_equal(pthread_create(&th, NULL, fake_main, &f), 0);
	snprintf(uri, sizeof uri, "shm:%s", b.name);
	CHECK(fbus_sub_open(&s, uri, &o));
	assert_int_equal(write(ready[1], "g", 1), 1);
	rc = fbus_sub_next(s, &fr, 2000);
	print_message("next: %d: %s\n", rc, fbus_sub_last_error(s));
	CHECK_RC(rc, FBUS_EPROTO);
	assert_non_null(strstr(fbus_sub_last_error(s), "queue head is corrupt"));
	fbus_sub_close(s);
	pthread_join(th, NULL);
	assert_int_equal(t_count_fds(), fds);
	close(ready[0]);
	close(ready[1]);
	fake_unlisten(&b);
}

/* A format change whose new ring is not what the producer must send:
 * the subscriber says why and counts it as the producer gone. */
static void
test_bad_ring(void **state)
{
	struct fake f = { .lie = LIE_BAD_RING };
	struct fbus_sub *s = NULL;
	struct fbus_frame fr;
	struct fake_bus b;
	char uri[96];
	pthread_t th;
	int fds, rc;

	(void)state;
	runtime_listen(&b);
	f.lfd = b.lfd;
	fds = t_count_fds();
	assert_int_equal(pthread_create(&th, NULL, fake_main, &f), 0);
	snprintf(uri, sizeof uri, "shm:%s", b.name);
	CHECK(fbus_sub_open(&s, uri, NULL));
	rc = fbus_sub_next(s, &fr, 2000);
	print_message("next: %d: %s\n", rc, fbus_sub_last_error(s));
	CHECK_RC(rc, FBUS_EDISCONNECTED);
	assert_non_null(strstr(fbus_sub_last_error(s), "not a sealed memfd"));
	fbus_sub_close(s);
	pthread_join(th, NULL);
	assert_int_equal(t_count_fds(), fds);
	fake_unlisten(&b);
}

/* In a sticky shared directory (like /tmp) another uid may create the
 * bus's socket before the real producer: the subscriber asks the kernel
 * who listens and refuses, shm: and unix: alike. */
static void
test_producer_of_another_uid(void **state)
{
	char dir[] = "/tmp/fbus-fake-XXXXXX", name[64], path[300], uri[400];
	struct fbus_sub *s = NULL;
	int ready[2], fds;
	pid_t pid;
	char c;

	(void)state;
	if (geteuid() != 0) {
		print_message("needs root to become uid %d\n", OTHER_UID);
		skip();
	}
	assert_non_null(mkdtemp(dir));
	CHECK(chmod(dir, 01777));
	snprintf(name, sizeof name, "%s", t_unique_name("squat"));
	CHECK(pipe2(ready, O_CLOEXEC));
	pid = fork();
	if (pid == 0) {
		int l1, l2;
		dev_t dev;
		ino_t ino;

		CHECK(setgid(OTHER_UID) | setuid(OTHER_UID));
		snprintf(path, sizeof path, "%s/%s.sock", dir, name);
		CHECK(fbusi_unix_listen(path, SOCK_SEQPACKET, 0666, &l1, &dev,
		                        &ino, NULL));
		snprintf(path, sizeof path, "%s/%s-stream.sock", dir, name);
		CHECK(fbusi_unix_listen(path, SOCK_STREAM, 0666, &l2, &dev,
		                        &ino, NULL));
		CHECK_TRUE(write(ready[1], "l", 1) == 1);
		pause();
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	fds = t_count_fds();

	snprintf(uri, sizeof uri, "shm:%s?dir=%s", name, dir);
	CHECK_RC(fbus_sub_open(&s, uri, NULL), FBUS_EACCES);
	print_message("%s\n", fbus_open_error());
	assert_non_null(strstr(fbus_open_error(), "runs as uid 12345"));
	/* final: RECONNECT does not retry it either */
	{
		struct fbus_sub_opts o = { .flags = FBUS_SUB_RECONNECT };
		CHECK_RC(fbus_sub_open(&s, uri, &o), FBUS_EACCES);
	}
	snprintf(uri, sizeof uri, "unix:%s/%s-stream.sock", dir, name);
	CHECK_RC(fbus_sub_open(&s, uri, NULL), FBUS_EACCES);
	print_message("%s\n", fbus_open_error());
	assert_non_null(strstr(fbus_open_error(), "runs as uid 12345"));
	assert_int_equal(t_count_fds(), fds);

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(ready[0]);
	close(ready[1]);
	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

/* XDG_RUNTIME_DIR/framebus planted by someone else: refused by
 * subscribers, by fbus_bus_query and by the sweep (so `framebus ls` says
 * why), with a producer listening behind it so that only the directory
 * check can be what refuses. */
static void
planted(const char *how, const char *want)
{
	char xdg[] = "/tmp/fbus-xdg-XXXXXX", rt[256], real[300], cmd[700];
	struct fbus_bus_info info;
	struct fbus_sub *s = NULL;
	struct fake_bus b;
	char uri[96];

	assert_non_null(mkdtemp(xdg));
	snprintf(rt, sizeof rt, "%s/framebus", xdg);
	snprintf(real, sizeof real, "%s/elsewhere", xdg);
	CHECK(mkdir(real, 0700));
	if (!strcmp(how, "symlink")) {
		CHECK(symlink(real, rt));
	} else {
		CHECK(mkdir(rt, 0700));
		if (!strcmp(how, "owner"))
			CHECK(chown(rt, OTHER_UID, OTHER_UID));
		else
			CHECK(chmod(rt, 0777));
		snprintf(real, sizeof real, "%s", rt);
	}
	fake_listen(&b, real);
	CHECK(setenv("XDG_RUNTIME_DIR", xdg, 1));

	snprintf(uri, sizeof uri, "shm:%s", b.name);
	CHECK_RC(fbus_sub_open(&s, uri, NULL), FBUS_EACCES);
	print_message("%s: %s\n", how, fbus_open_error());
	assert_non_null(strstr(fbus_open_error(), want));
	CHECK_RC(fbus_bus_query(uri, &info), FBUS_EACCES);
	CHECK_RC(fbus_runtime_sweep(NULL, NULL), FBUS_EACCES);
	assert_non_null(strstr(fbus_open_error(), want));
	/* the CLI says it and fails */
	if (getenv("FBUS_CLI")) {
		snprintf(cmd, sizeof cmd,
		         "'%s' ls 2>&1 | grep -q '%s' && ! '%s' ls 2>/dev/null",
		         getenv("FBUS_CLI"), want, getenv("FBUS_CLI"));
		assert_int_equal(system(cmd), 0);
	}

	CHECK(unsetenv("XDG_RUNTIME_DIR"));
	fake_unlisten(&b);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", xdg);
	assert_int_equal(system(cmd), 0);
}

static void
test_planted_symlink(void **state)
{
	(void)state;
	planted("symlink", "not a directory");
}

static void
test_planted_other_owner(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip(); /* only root can give a directory away */
	planted("owner", "owned by uid 12345");
}

static void
test_planted_writable(void **state)
{
	(void)state;
	planted("writable", "writable by others");
}

/* For the infer tests: `test-shm-fake-producer serve-bad-ring NAME S`
 * serves one subscriber after another with LIE_BAD_RING for S seconds. */
static int
serve_bad_ring(const char *name, double seconds)
{
	int64_t end = fbus_now_mono_ns() + (int64_t)(seconds * 1e9);
	struct fake_bus b;
	char dir[200];

	CHECK(fbus_runtime_dir(dir, sizeof dir));
	(void)mkdir(dir, 0700);
	snprintf(b.name, sizeof b.name, "%s", name);
	snprintf(b.path, sizeof b.path, "%s/%s.sock", dir, name);
	CHECK(fbusi_unix_listen(b.path, SOCK_SEQPACKET, 0600, &b.lfd, &b.dev,
	                        &b.ino, NULL));
	while (fbus_now_mono_ns() < end) {
		struct fake f = { .lie = LIE_BAD_RING, .lfd = b.lfd,
		                  .serve = 1 };
		struct pollfd p = { .fd = b.lfd, .events = POLLIN };

		if (poll(&p, 1, 100) == 1)
			fake_main(&f);
	}
	fake_unlisten(&b);
	return 0;
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipe_for_eventfd),
		cmocka_unit_test(test_blocking_eventfd),
		cmocka_unit_test(test_depth_grows),
		cmocka_unit_test(test_bad_ring),
		cmocka_unit_test(test_producer_of_another_uid),
		cmocka_unit_test(test_planted_symlink),
		cmocka_unit_test(test_planted_other_owner),
		cmocka_unit_test(test_planted_writable),
	};

	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && !strcmp(argv[1], "serve-bad-ring"))
		return serve_bad_ring(argv[2], atof(argv[3]));
	if (argc != 1) {
		fprintf(stderr, "usage: %s [serve-bad-ring NAME SECONDS]\n",
		        argv[0]);
		return 2;
	}
	t_watchdog(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

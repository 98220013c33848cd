/* SPDX-License-Identifier: MIT */
/*
 * test-shm-hostile.c — an admitted subscriber that attacks, written against
 * shm/proto.h and shm/layout.h: it tries every way to write the ring (a
 * writable mapping, mprotect, write, hole punching, truncation, a reopened
 * /proc/self/fd, MADV_REMOVE), then scribbles its own page.  The kernel
 * refuses each write, two honest subscribers verifying every frame's
 * checksum see nothing torn and lose nothing, and the producer drops the
 * scribbler and counts it.
 */
#define _GNU_SOURCE
#include "os.h"
#include "private.h"
#include "shm/layout.h"
#include "shm/proto.h"
#include "check.h"
#include "shm_test_frames.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define FRAMES 3000

static const struct fbus_format fmt = { .pixfmt = FBUS_PIXFMT_BGR24,
	                                .width = 160, .height = 120 };

/* An honest subscriber process: reads until the producer leaves; exits
 * with the number of torn frames (every mode: 100 + missing if any). */
static pid_t
honest(const char *uri, uint32_t mode)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct fbus_sub_opts o = { .mode = mode, .depth = 8,
			                   .full_policy = FBUS_FULL_BLOCK,
			                   .block_ms = 5000 };
		struct fbus_sub *s;
		struct fbus_frame f;
		uint64_t got = 0, torn = 0, last = 0;
		int rc;

		CHECK(fbus_sub_open(&s, uri, &o));
		while ((rc = fbus_sub_next(s, &f, 5000)) == 0) {
			if (test_verify(&f))
				torn++;
			CHECK_TRUE(f.seq > last);
			last = f.seq;
			got++;
			fbus_sub_release(s, &f);
		}
		CHECK_RC(rc, FBUS_EDISCONNECTED);
		fbus_sub_close(s);
		if (torn)
			_exit(torn > 99 ? 99 : (int)torn);
		if (mode == FBUS_MODE_EVERY && got != FRAMES)
			t_helper_fail(__FILE__, __LINE__,
			              "every: %llu of %d frames",
			              (unsigned long long)got, FRAMES);
		_exit(0);
	}
	return pid;
}

/* Every way to write through the ring fd, each refused by the kernel. */
static void
attack_ring(int ring, size_t size)
{
	char path[64], byte = 'x';
	void *m;
	int rw;

	CHECK_TRUE(mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, ring,
	                0) == MAP_FAILED);
	m = mmap(NULL, size, PROT_READ, MAP_SHARED, ring, 0);
	CHECK_TRUE(m != MAP_FAILED);
	CHECK_TRUE(mprotect(m, size, PROT_READ | PROT_WRITE) != 0);
	CHECK_TRUE(madvise(m, size, MADV_REMOVE) != 0);
	CHECK_TRUE(pwrite(ring, &byte, 1, 0) < 0);
	CHECK_TRUE(pwrite(ring, &byte, 1, FBUSI_RING_SLOTS_OFF + 200) < 0);
	CHECK_TRUE(fallocate(ring, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	                     0, (off_t)size) != 0);
	CHECK_TRUE(ftruncate(ring, 4096) != 0);
	CHECK_TRUE(fcntl(ring, F_ADD_SEALS, F_SEAL_WRITE) != 0);
	munmap(m, size);

	/* the same memfd opened again, read-write: still no writer */
	snprintf(path, sizeof path, "/proc/self/fd/%d", ring);
	rw = open(path, O_RDWR | O_CLOEXEC);
	if (rw >= 0) {
		CHECK_TRUE(mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		                rw, 0) == MAP_FAILED);
		CHECK_TRUE(errno == EPERM);
		CHECK_TRUE(pwrite(rw, &byte, 1, FBUSI_RING_SLOTS_OFF + 200) < 0);
		CHECK_TRUE(fallocate(rw,
		                     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		                     0, (off_t)size) != 0);
		CHECK_TRUE(ftruncate(rw, 4096) != 0);
		close(rw);
	}
}

/* The hostile subscriber: join in every mode, attack, scribble the page
 * until the producer hangs up (at most 10 s).  Exit 0 when every write
 * to the ring was refused and the producer dropped us. */
static pid_t
hostile(const char *name, int ready_fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		union fbusi_ctl hello, msg;
		struct fbusi_err err;
		char buf[FBUSI_CTL_MAX];
		int fds[FBUSI_MAX_FDS], nfds = 0, s, ring = -1;
		struct fbusi_page *page;
		size_t ring_size = 0;
		struct pollfd pfd;
		long n;

		s = t_bus_connect(name);
		fbusi_ctl_init(&hello, FBUSI_CTL_HELLO);
		hello.hello.version = FBUSI_CTL_VERSION;
		hello.hello.mode = FBUS_MODE_EVERY;
		hello.hello.depth = 4;
		CHECK_TRUE(send(s, &hello, sizeof hello.hello, 0) > 0);
		pfd = (struct pollfd){ s, POLLIN, 0 };
		CHECK_TRUE(poll(&pfd, 1, 5000) == 1);
		n = fbusi_recv_fds(s, buf, sizeof buf, fds, FBUSI_MAX_FDS,
		                   &nfds, 0);
		CHECK_TRUE(fbusi_ctl_parse(buf, n, nfds, &msg, &err) ==
		           FBUSI_CTL_WELCOME);
		CHECK_TRUE(msg.welcome.generation != 0 && nfds == 3);
		ring = fds[2];
		ring_size = msg.welcome.ring_size;
		page = mmap(NULL, msg.welcome.page_size, PROT_READ | PROT_WRITE,
		            MAP_SHARED, fds[0], 0);
		CHECK_TRUE(page != MAP_FAILED);
		attack_ring(ring, ring_size);
		if (write(ready_fd, "a", 1) != 1)
			_exit(98);
		/* the page is ours to write: scribble everything in it */
		for (int i = 0; i < 10000; i++) {
			uint32_t junk = (uint32_t)i * 2654435761u;

			atomic_store(&page->entries[0], junk);
			atomic_store(&page->waiting, junk & 1);
			atomic_store(&page->armed, junk & 1);
			atomic_store(&page->head, junk);
			atomic_store(&page->dropped, junk);
			for (uint32_t k = 0; k < 4; k++)
				atomic_store(&page->entries[k], junk * k);
			atomic_store(&page->tail, junk);
			pfd.revents = 0;
			if (poll(&pfd, 1, 1) == 1 &&
			    recv(s, buf, sizeof buf, MSG_DONTWAIT) <= 0)
				_exit(0); /* hung up on: dropped */
		}
		t_helper_fail(__FILE__, __LINE__, "never dropped");
	}
	return pid;
}

static int
reap(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void
test_hostile_subscriber(void **state)
{
	struct fbus_pub_opts po = { .slots = 24 };
	struct fbus_pub_stats st;
	struct fbus_pub *p;
	char uri[96], c;
	const char *name;
	pid_t every, latest, bad = -1;
	int pfd[2], attacked = 0;

	(void)state;
	name = t_unique_name("hostile");
	snprintf(uri, sizeof uri, "shm:%s", name);
	CHECK(fbus_pub_open(&p, uri, &po));
	every = honest(uri, FBUS_MODE_EVERY);
	latest = honest(uri, FBUS_MODE_LATEST);
	do {
		CHECK(fbus_pub_stats(p, &st));
		t_sleep_ms(5);
	} while (st.subscribers < 2);
	CHECK(pipe2(pfd, O_CLOEXEC | O_NONBLOCK));
	for (uint64_t seq = 1; seq <= FRAMES; seq++) {
		assert_int_equal(test_publish(p, &fmt, seq), (int64_t)seq);
		if (seq == 10)
			bad = hostile(name, pfd[1]);
		if (!attacked && read(pfd[0], &c, 1) == 1)
			attacked = 1;
		if (seq % 4 == 0)
			t_sleep_ms(1);
	}
	assert_int_equal(reap(bad), 0);
	assert_true(attacked);
	CHECK(fbus_pub_stats(p, &st));
	print_message("%llu peer errors; last: %s\n",
	              (unsigned long long)st.peer_errors,
	              fbus_pub_last_error(p));
	assert_int_equal(st.peer_errors, 1);
	assert_non_null(strstr(fbus_pub_last_error(p), "corrupted its queue"));
	assert_int_equal(st.subscribers, 2);
	fbus_pub_close(p);
	assert_int_equal(reap(every), 0);
	assert_int_equal(reap(latest), 0);
	close(pfd[0]);
	close(pfd[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_subscriber),
	};

	t_watchdog(100);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

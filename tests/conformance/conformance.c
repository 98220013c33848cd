/* SPDX-License-Identifier: MIT */
/*
 * conformance.c — the contract of framebus.h, checked the same way on every
 * transport: `conformance shm|unix|tcp`.  A transport (or a binding) is
 * done when it passes this suite; a new one adds one line to transports[].
 * Producers that must die for real are forked children; everything else
 * runs in one process, the producer's own threads serving it.
 */
#define _GNU_SOURCE
#include "check.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- transports ----------------------------------------------------------- */

/* what a transport can promise beyond the common contract */
enum {
	CAP_BLOCK = 1,       /* every + block: the producer waits for room */
	CAP_EVERY_GROUP = 2, /* every-mode worker groups */
	CAP_BROKER = 4,      /* frames pass a server: a burst arrives over
	                        a while, not at once */
};

struct transport {
	const char *name;
	unsigned caps;
	/* a URI for a bus nobody uses yet */
	void (*uri)(char *buf, size_t n);
	/* one that other uids can reach, in directory dir; NULL if the
	 * producer cannot know a peer's uid (no allow-lists) */
	void (*shared_uri)(char *buf, size_t n, const char *dir);
};

static const struct transport *T;

static void
uri_shm(char *buf, size_t n)
{
	snprintf(buf, n, "shm:%s", t_unique_name("conf"));
}

static void
shared_shm(char *buf, size_t n, const char *dir)
{
	snprintf(buf, n, "shm:%s?dir=%s", t_unique_name("conf"), dir);
}

/* `conformance TRANSPORT many`: every subscriber is a multi-bus one of a
 * single bus (fbus_sub_open_many); `conformance TRANSPORT group`: every
 * subscriber is a worker group of one (latest ones in one group, every
 * ones in another: a group is of one mode); `conformance shm predict`:
 * every subscriber learns the frame period and spins for the next frame
 * (FBUS_SUB_PREDICT).  All keep the same contract. */
static int many, group, predict;

static int
c_sub_open(struct fbus_sub **s, const char *uri, const struct fbus_sub_opts *o)
{
	struct fbus_sub_opts g = { .size = sizeof g };

	if (many)
		return fbus_sub_open_many(s, &uri, 1, o);
	if (!group && !predict)
		return fbus_sub_open(s, uri, o);
	if (o)
		g = *o;
	g.size = sizeof g;
	if (group) {
		g.group = g.mode == FBUS_MODE_EVERY ? "conf-every" : "conf";
		if (g.mode == FBUS_MODE_EVERY && !(T->caps & CAP_EVERY_GROUP))
			g.group = NULL;
	}
	if (predict)
		g.flags |= FBUS_SUB_PREDICT;
	return fbus_sub_open(s, uri, &g);
}

static void
shared_unix(char *buf, size_t n, const char *dir)
{
	snprintf(buf, n, "unix:%s/%s.sock", dir, t_unique_name("conf"));
}

static void
uri_unix(char *buf, size_t n)
{
	const char *tmp = getenv("FBUS_TEST_TMP");

	snprintf(buf, n, "unix:%s/%s.sock", tmp ? tmp : "/tmp",
	         t_unique_name("conf"));
}

/* A port the kernel just handed out and nobody listens on. */
static void
uri_tcp(char *buf, size_t n)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_TRUE(fd >= 0);
	CHECK_TRUE(bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
	CHECK_TRUE(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	close(fd);
	snprintf(buf, n, "tcp://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
}

/* a subject nobody uses yet on the nats-server that nats_run.sh started */
static void
uri_nats(char *buf, size_t n)
{
	const char *url = getenv("FBUS_NATS_URL");

	if (!url) {
		fprintf(stderr, "conformance nats: run it through "
		                "nats_run.sh (FBUS_NATS_URL)\n");
		exit(2);
	}
	snprintf(buf, n, "nats://%s/%s", url, t_unique_name("conf"));
}

#define CAP_ALL (CAP_BLOCK | CAP_EVERY_GROUP)
static const struct transport transports[] = {
	{ "shm", CAP_ALL, uri_shm, shared_shm },
	{ "unix", CAP_ALL, uri_unix, shared_unix },
	{ "tcp", CAP_ALL, uri_tcp, NULL },
	/* never slows its publisher; groups are latest-mode */
	{ "nats", CAP_BROKER, uri_nats, NULL },
};

/* ---- helpers -------------------------------------------------------------- */

#define W 64
#define H 48

static struct fbus_format
fmt_of(uint32_t pixfmt, uint32_t w, uint32_t h)
{
	struct fbus_format f = { .pixfmt = pixfmt, .width = w, .height = h };

	CHECK(fbus_format_layout(&f));
	return f;
}

static uint8_t
pattern(uint64_t tag, size_t i)
{
	return (uint8_t)(i * 7u + tag * 31u + (i >> 9));
}

static int64_t
send_tagged(struct fbus_pub *p, const struct fbus_format *f, uint64_t tag)
{
	uint8_t *buf = malloc(f->size);
	int64_t rc;

	CHECK_TRUE(buf);
	for (size_t i = 0; i < f->size; i++)
		buf[i] = pattern(tag, i);
	rc = fbus_pub_send(p, f, buf, f->size, &tag, sizeof tag);
	free(buf);
	return rc;
}

/* The frame carries tag in its metadata and pattern(tag) as its pixels. */
static uint64_t
check_tagged(const struct fbus_frame *fr, const struct fbus_format *want)
{
	uint64_t tag;

	assert_int_equal(fr->meta_bytes, sizeof tag);
	memcpy(&tag, fr->meta, sizeof tag);
	if (want) {
		assert_int_equal(fr->fmt.pixfmt, want->pixfmt);
		assert_int_equal(fr->fmt.width, want->width);
		assert_int_equal(fr->fmt.height, want->height);
		assert_int_equal(fr->payload_bytes, want->size);
	}
	for (size_t i = 0; i < fr->payload_bytes; i++)
		if (fr->data[i] != pattern(tag, i))
			fail_msg("frame tag %llu: byte %zu is %u, want %u",
			         (unsigned long long)tag, i, fr->data[i],
			         pattern(tag, i));
	return tag;
}

static struct fbus_pub *
pub_open(const char *uri, const struct fbus_pub_opts *o)
{
	struct fbus_pub *p = NULL;

	CHECK(fbus_pub_open(&p, uri, o));
	return p;
}

static struct fbus_sub *
sub_open(const char *uri, uint32_t mode, uint32_t flags)
{
	struct fbus_sub_opts o = { .mode = mode, .depth = 8, .flags = flags };
	struct fbus_sub *s = NULL;

	CHECK(c_sub_open(&s, uri, &o));
	return s;
}

/* Send a frame every 20 ms until the subscriber has one (at most 5 s). */
static void
pump_until_frame(struct fbus_pub *p, struct fbus_sub *s, struct fbus_frame *fr)
{
	struct fbus_format f = fmt_of(FBUS_PIXFMT_BGR24, W, H);

	for (int i = 0; i < 250; i++) {
		int rc;

		CHECK(send_tagged(p, &f, 1000 + (uint64_t)i));
		rc = fbus_sub_next(s, fr, 20);
		if (rc == 0) {
			check_tagged(fr, &f);
			return;
		}
		if (rc != FBUS_ETIMEDOUT && rc != FBUS_EDISCONNECTED)
			fail_msg("next: %d (%s): %s", rc, fbus_strerror(rc),
			         fbus_sub_last_error(s));
	}
	fail_msg("no frame reached the subscriber in 5 s: %s",
	         fbus_sub_last_error(s));
}

static struct fbus_sub_stats
sub_stats(struct fbus_sub *s)
{
	struct fbus_sub_stats st;

	CHECK(fbus_sub_stats(s, &st));
	return st;
}

static struct fbus_pub_stats
pub_stats(struct fbus_pub *p)
{
	struct fbus_pub_stats st;

	CHECK(fbus_pub_stats(p, &st));
	return st;
}

static int64_t
ms_since(int64_t t0)
{
	return (fbus_now_mono_ns() - t0) / 1000000;
}

/* Children still running; teardown kills them, so a failed test cannot
 * leave a producer behind (holding ctest's output pipe open). */
static pid_t children[8];

static void
child_add(pid_t pid)
{
	for (size_t i = 0; i < sizeof children / sizeof *children; i++)
		if (!children[i]) {
			children[i] = pid;
			return;
		}
	FAIL("too many children");
}

static void
child_forget(pid_t pid)
{
	for (size_t i = 0; i < sizeof children / sizeof *children; i++)
		if (children[i] == pid)
			children[i] = 0;
}

static int
reap(pid_t pid)
{
	int st;

	CHECK_TRUE(waitpid(pid, &st, 0) == pid);
	child_forget(pid);
	return st;
}


static void
kill_children(void)
{
	for (size_t i = 0; i < sizeof children / sizeof *children; i++)
		if (children[i]) {
			kill(children[i], SIGKILL);
			reap(children[i]);
		}
}

/* The producer's body: publishes `frames` frames (0: one every 10 ms
 * forever), says so on fd once they are out (the first one, for 0), then
 * waits to be killed. */
static void
producer_main(const char *uri, int frames, int fd)
{
	struct fbus_format f = fmt_of(FBUS_PIXFMT_BGR24, W, H);
	struct fbus_pub *p;

	if (fbus_pub_open(&p, uri, NULL))
		_exit(3);
	for (uint64_t i = 1; frames == 0 || i <= (uint64_t)frames; i++) {
		if (send_tagged(p, &f, i) < 0)
			_exit(5);
		if ((i == 1 && frames == 0) || i == (uint64_t)frames)
			if (write(fd, "r", 1) != 1)
				_exit(4);
		if (frames == 0)
			t_sleep_ms(10);
	}
	for (;;)
		pause();
}

/* A producer in a child process (producer_main).  The child execs this
 * program afresh: a client library with threads of its own (libnats) is
 * not usable in a child forked from a process that runs them. */
static pid_t
spawn_producer(const char *uri, int frames)
{
	char nframes[16], nfd[16], c;
	int pfd[2];
	pid_t pid;

	CHECK_TRUE(pipe2(pfd, O_CLOEXEC) == 0);
	snprintf(nframes, sizeof nframes, "%d", frames);
	snprintf(nfd, sizeof nfd, "%d", pfd[1]);
	pid = fork();
	CHECK_TRUE(pid >= 0);
	if (pid == 0) {
		if (fcntl(pfd[1], F_SETFD, 0) < 0)
			_exit(6);
		execl("/proc/self/exe", "conformance", "--producer", uri,
		      nframes, nfd, (char *)NULL);
		_exit(7);
	}
	child_add(pid);
	close(pfd[1]);
	CHECK_TRUE(read(pfd[0], &c, 1) == 1);
	close(pfd[0]);
	return pid;
}

struct killer {
	pid_t pid;
	int delay_ms;
	int64_t t_kill;
};

static void *
killer_main(void *arg)
{
	struct killer *k = arg;

	t_sleep_ms(k->delay_ms);
	k->t_kill = fbus_now_mono_ns();
	kill(k->pid, SIGKILL);
	return NULL;
}

/* ---- the contract --------------------------------------------------------- */

static int fds_before;

static int
setup(void **state)
{
	(void)state;
	fds_before = t_count_fds();
	return 0;
}

/* every test leaves no fd behind; which one it left is printed */
static int
teardown(void **state)
{
	(void)state;
	kill_children();
	if (t_count_fds() != fds_before) {
		fflush(stdout);
		(void)!system("ls -l /proc/$PPID/fd >&2");
		fail_msg("%d fds open, %d before the test", t_count_fds(),
		         fds_before);
	}
	return 0;
}

/* Without RECONNECT, nobody there is an error at open, with a reason. */
static void
test_no_producer(void **state)
{
	struct fbus_sub *s = NULL;
	char uri[256];
	int rc;

	(void)state;
	T->uri(uri, sizeof uri);
	rc = c_sub_open(&s, uri, NULL);
	assert_null(s);
	if (rc != FBUS_ENOENT && rc != FBUS_ECONNREFUSED)
		fail_msg("open without a producer: %d (%s)", rc,
		         fbus_strerror(rc));
	assert_non_null(strstr(fbus_open_error(), uri));
}

/* With RECONNECT: open succeeds, next() says EDISCONNECTED after its
 * timeout while no producer exists, then frames flow once one appears. */
static void
test_open_before_producer(void **state)
{
	struct fbus_sub *s;
	struct fbus_pub *p;
	struct fbus_frame fr;
	struct fbus_sub_stats st;
	char uri[256];
	int64_t t0;

	(void)state;
	T->uri(uri, sizeof uri);
	s = sub_open(uri, FBUS_MODE_LATEST, FBUS_SUB_RECONNECT);
	assert_true(fbus_sub_fd(s) >= 0);
	t0 = fbus_now_mono_ns();
	assert_int_equal(fbus_sub_next(s, &fr, 150), FBUS_EDISCONNECTED);
	assert_true(ms_since(t0) >= 140);
	assert_int_equal(fbus_sub_next(s, &fr, 0), FBUS_EDISCONNECTED);
	st = sub_stats(s);
	assert_int_equal(st.connected, 0);
	assert_int_equal(st.reconnects, 0);
	assert_int_equal(st.frames, 0);

	p = pub_open(uri, NULL);
	pump_until_frame(p, s, &fr);
	fbus_sub_release(s, &fr);
	st = sub_stats(s);
	assert_int_equal(st.connected, 1);
	assert_int_equal(st.reconnects, 0); /* a first connection */
	assert_int_equal(st.frames, 1);
	assert_int_equal(pub_stats(p).subscribers, 1);
	fbus_sub_close(s);
	fbus_pub_close(p);
}

/* kill -9 of the producer reaches a blocked next() within 250 ms. */
static void
test_producer_killed_next(void **state)
{
	struct killer k = { .delay_ms = 100 };
	struct fbus_frame fr;
	struct fbus_sub *s;
	pthread_t th;
	char uri[256];
	int rc;

	(void)state;
	T->uri(uri, sizeof uri);
	k.pid = spawn_producer(uri, 0);
	s = sub_open(uri, FBUS_MODE_LATEST, 0);
	CHECK(fbus_sub_next(s, &fr, 2000));
	check_tagged(&fr, NULL);
	assert_true(pthread_create(&th, NULL, killer_main, &k) == 0);
	do
		rc = fbus_sub_next(s, &fr, 3000);
	while (rc == 0);
	assert_int_equal(rc, FBUS_EDISCONNECTED);
	pthread_join(th, NULL);
	if (ms_since(k.t_kill) > 250)
		fail_msg("death seen after %lld ms", (long long)ms_since(k.t_kill));
	assert_true(fbus_sub_last_error(s)[0] != '\0');
	assert_int_equal(sub_stats(s).connected, 0);
	/* without RECONNECT the handle stays disconnected */
	assert_int_equal(fbus_sub_next(s, &fr, 50), FBUS_EDISCONNECTED);
	reap(k.pid);
	fbus_sub_close(s);
}

/* ... and through the pollable fd, which is quiet while nothing happens. */
static void
test_producer_killed_fd(void **state)
{
	struct killer k = { .delay_ms = 0 };
	struct fbus_frame fr;
	struct fbus_sub *s;
	struct pollfd pfd;
	char uri[256];
	int got = 0, rc;

	(void)state;
	T->uri(uri, sizeof uri);
	k.pid = spawn_producer(uri, 3);
	s = sub_open(uri, FBUS_MODE_EVERY, 0);
	pfd.fd = fbus_sub_fd(s);
	pfd.events = POLLIN;
	assert_true(pfd.fd >= 0);
	/* the producer published before we joined: nothing for us */
	while ((rc = fbus_sub_next(s, &fr, 0)) == 0)
		got++;
	assert_int_equal(rc, FBUS_ETIMEDOUT);
	assert_int_equal(poll(&pfd, 1, 100), 0);
	killer_main(&k);
	assert_int_equal(poll(&pfd, 1, 2000), 1);
	if (ms_since(k.t_kill) > 250)
		fail_msg("fd readable %lld ms after the kill",
		         (long long)ms_since(k.t_kill));
	assert_int_equal(fbus_sub_next(s, &fr, 0), FBUS_EDISCONNECTED);
	(void)got;
	reap(k.pid);
	fbus_sub_close(s);
}

/* Producer gone (closed, then killed) and back: the subscriber follows
 * each time, and stats count each return as a reconnect. */
static void
test_reconnect(void **state)
{
	struct fbus_frame fr;
	struct fbus_sub *s;
	struct fbus_pub *p;
	char uri[256];
	pid_t pid;
	int rc;

	(void)state;
	T->uri(uri, sizeof uri);
	p = pub_open(uri, NULL);
	s = sub_open(uri, FBUS_MODE_LATEST, FBUS_SUB_RECONNECT);
	pump_until_frame(p, s, &fr);
	fbus_pub_close(p);
	do
		rc = fbus_sub_next(s, &fr, 2000);
	while (rc == 0);
	assert_int_equal(rc, FBUS_EDISCONNECTED);
	assert_int_equal(sub_stats(s).connected, 0);
	assert_int_equal(fbus_sub_next(s, &fr, 100), FBUS_EDISCONNECTED);

	pid = spawn_producer(uri, 0);
	do
		rc = fbus_sub_next(s, &fr, 3000);
	while (rc == FBUS_EDISCONNECTED);
	CHECK(rc);
	check_tagged(&fr, NULL);
	assert_int_equal(sub_stats(s).reconnects, 1);
	kill(pid, SIGKILL);
	reap(pid);
	do
		rc = fbus_sub_next(s, &fr, 2000);
	while (rc == 0);
	assert_int_equal(rc, FBUS_EDISCONNECTED);

	/* a new producer takes the name a killed one left */
	p = pub_open(uri, NULL);
	pump_until_frame(p, s, &fr);
	assert_int_equal(sub_stats(s).reconnects, 2);
	assert_int_equal(sub_stats(s).connected, 1);
	fbus_sub_close(s);
	fbus_pub_close(p);
}

/* What a closing producer published stays deliverable: every mode gets
 * its whole queue in order, latest mode the newest frame; then the end. */
static void
test_drain_after_close(void **state)
{
	struct fbus_format f = fmt_of(FBUS_PIXFMT_BGR24, W, H);
	struct fbus_sub *every, *latest;
	struct fbus_frame fr;
	struct fbus_pub *p;
	char uri[256];

	(void)state;
	T->uri(uri, sizeof uri);
	p = pub_open(uri, NULL);
	every = sub_open(uri, FBUS_MODE_EVERY, 0);
	latest = sub_open(uri, FBUS_MODE_LATEST, 0);
	for (uint64_t i = 1; i <= 5; i++)
		CHECK(send_tagged(p, &f, i));
	fbus_pub_close(p);
	for (uint64_t i = 1; i <= 5; i++) {
		CHECK(fbus_sub_next(every, &fr, 2000));
		assert_int_equal(check_tagged(&fr, &f), i);
		assert_int_equal(fr.seq, i);
	}
	assert_int_equal(fbus_sub_next(every, &fr, 2000), FBUS_EDISCONNECTED);
	if (T->caps & CAP_BROKER) {
		/* through a server the frames reach each subscriber over a
		 * while: newer ones only, ending with the last */
		uint64_t tag = 0;
		int rc;

		while ((rc = fbus_sub_next(latest, &fr, 2000)) == 0) {
			uint64_t t = check_tagged(&fr, &f);

			assert_true(t > tag);
			tag = t;
		}
		assert_int_equal(rc, FBUS_EDISCONNECTED);
		assert_int_equal(tag, 5);
		assert_int_equal(sub_stats(latest).frames +
		                         sub_stats(latest).skipped, 5);
	} else {
		CHECK(fbus_sub_next(latest, &fr, 2000));
		assert_int_equal(check_tagged(&fr, &f), 5);
		assert_int_equal(fbus_sub_next(latest, &fr, 2000),
		                 FBUS_EDISCONNECTED);
		assert_int_equal(sub_stats(latest).frames, 1);
		assert_int_equal(sub_stats(latest).skipped, 4);
	}
	assert_int_equal(sub_stats(every).frames, 5);
	assert_int_equal(sub_stats(every).dropped, 0);
	fbus_sub_close(every);
	fbus_sub_close(latest);
}

/* A failed commit gives the slot back: the next loan works, nothing was
 * published, and the reason is in last_error. */
static void
test_failed_commit(void **state)
{
	struct fbus_format f = fmt_of(FBUS_PIXFMT_BGR24, W, H);
	struct fbus_slot slot, again;
	struct fbus_frame fr;
	struct fbus_pub *p;
	struct fbus_sub *s;
	char uri[256];
	uint64_t tag = 7;

	(void)state;
	T->uri(uri, sizeof uri);
	p = pub_open(uri, NULL);
	s = sub_open(uri, FBUS_MODE_EVERY, 0);
	CHECK(fbus_pub_loan(p, &f, &slot));
	assert_int_equal(fbus_pub_loan(p, &f, &again), FBUS_EBUSY);
	slot.meta_bytes = FBUS_META_MAX + 1;
	assert_int_equal(fbus_pub_commit(p, &slot), FBUS_EMSGSIZE);
	assert_non_null(strstr(fbus_pub_last_error(p), "metadata"));
	/* the slot is no longer ours */
	assert_int_equal(fbus_pub_commit(p, &slot), FBUS_EINVAL);
	fbus_pub_abort(p, &slot); /* a no-op now */
	assert_int_equal(pub_stats(p).frames, 0);

	CHECK(fbus_pub_loan(p, &f, &slot));
	for (size_t i = 0; i < f.size; i++)
		slot.data[i] = pattern(tag, i);
	memcpy(slot.meta, &tag, sizeof tag);
	slot.meta_bytes = sizeof tag;
	assert_int_equal(fbus_pub_commit(p, &slot), 1);
	assert_int_equal(pub_stats(p).frames, 1);
	CHECK(fbus_sub_next(s, &fr, 2000));
	assert_int_equal(check_tagged(&fr, &f), tag);
	assert_int_equal(fr.seq, 1);
	/* abort gives a loan back too */
	CHECK(fbus_pub_loan(p, &f, &slot));
	fbus_pub_abort(p, &slot);
	CHECK(fbus_pub_loan(p, &f, &slot));
	fbus_pub_abort(p, &slot);
	assert_int_equal(pub_stats(p).frames, 1);
	fbus_sub_close(s);
	fbus_pub_close(p);
}

/* ENCODED payloads: 1..the size loaned; metadata up to FBUS_META_MAX. */
static void
test_encoded_bounds(void **state)
{
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_ENCODED, .width = 640,
		                 .height = 480, .size = 1000 };
	static uint8_t meta[FBUS_META_MAX + 1];
	struct fbus_slot slot;
	struct fbus_frame fr;
	struct fbus_pub *p;
	struct fbus_sub *s;
	char uri[256];

	(void)state;
	T->uri(uri, sizeof uri);
	p = pub_open(uri, NULL);
	s = sub_open(uri, FBUS_MODE_EVERY, 0);
	CHECK(fbus_pub_loan(p, &f, &slot));
	assert_true(slot.capacity >= 1000);
	slot.payload_bytes = 0;
	assert_int_equal(fbus_pub_commit(p, &slot), FBUS_EINVAL);
	CHECK(fbus_pub_loan(p, &f, &slot));
	slot.payload_bytes = 1001;
	assert_int_equal(fbus_pub_commit(p, &slot), FBUS_EMSGSIZE);
	CHECK(fbus_pub_loan(p, &f, &slot));
	for (size_t i = 0; i < 999; i++)
		slot.data[i] = pattern(3, i);
	for (size_t i = 0; i < FBUS_META_MAX; i++)
		meta[i] = (uint8_t)(i * 13u);
	memcpy(slot.meta, meta, FBUS_META_MAX);
	slot.meta_bytes = FBUS_META_MAX;
	slot.payload_bytes = 999;
	assert_int_equal(fbus_pub_commit(p, &slot), 1);
	assert_int_equal(fbus_pub_send(p, &f, meta, 10, meta, FBUS_META_MAX + 1),
	                 FBUS_EMSGSIZE);
	assert_int_equal(pub_stats(p).frames, 1);

	CHECK(fbus_sub_next(s, &fr, 2000));
	assert_int_equal(fr.fmt.pixfmt, FBUS_PIXFMT_ENCODED);
	assert_int_equal(fr.payload_bytes, 999);
	assert_int_equal(fr.meta_bytes, FBUS_META_MAX);
	assert_memory_equal(fr.meta, meta, FBUS_META_MAX);
	for (size_t i = 0; i < 999; i++)
		assert_int_equal(fr.data[i], pattern(3, i));
	fbus_sub_close(s);
	fbus_pub_close(p);
}

/* Size and format change mid-stream reach the subscriber without a
 * reconnect, in order, intact. */
static void
test_format_change(void **state)
{
	const struct fbus_format fmts[] = {
		fmt_of(FBUS_PIXFMT_BGR24, 320, 240),
		fmt_of(FBUS_PIXFMT_BGR24, 1280, 720),
		fmt_of(FBUS_PIXFMT_GRAY8, 640, 480),
		fmt_of(FBUS_PIXFMT_NV12, 64, 64),
		fmt_of(FBUS_PIXFMT_BGR24, 1920, 1080),
	};
	struct fbus_frame fr;
	struct fbus_pub *p;
	struct fbus_sub *s;
	char uri[256];

	(void)state;
	T->uri(uri, sizeof uri);
	p = pub_open(uri, NULL);
	s = sub_open(uri, FBUS_MODE_EVERY, 0);
	for (uint64_t i = 0; i < 5; i++)
		CHECK(send_tagged(p, &fmts[i], i));
	for (uint64_t i = 0; i < 5; i++) {
		CHECK(fbus_sub_next(s, &fr, 2000));
		assert_int_equal(check_tagged(&fr, &fmts[i]), i);
	}
	assert_int_equal(sub_stats(s).reconnects, 0);
	assert_int_equal(sub_stats(s).frames, 5);
	fbus_sub_close(s);
	fbus_pub_close(p);
}

/* A producer that refuses (subscriber limit): without RECONNECT the open
 * fails and says why; with it the subscriber waits and gets in when there
 * is room.  The producer counts the refusal and says why too. */
static void
test_refused_limit(void **state)
{
	struct fbus_pub_opts po = { .max_subscribers = 1 };
	struct fbus_sub *first, *second = NULL;
	struct fbus_frame fr;
	struct fbus_pub *p;
	char uri[256];
	int rc;

	(void)state;
	T->uri(uri, sizeof uri);
	p = pub_open(uri, &po);
	first = sub_open(uri, FBUS_MODE_LATEST, 0);
	rc = c_sub_open(&second, uri, NULL);
	assert_int_equal(rc, -ENOSPC);
	assert_null(second);
	assert_non_null(strstr(fbus_open_error(), uri));
	assert_true(strlen(fbus_open_error()) > strlen(uri) + 2);
	assert_int_equal(pub_stats(p).peer_errors, 1);
	assert_true(fbus_pub_last_error(p)[0] != '\0');

	second = sub_open(uri, FBUS_MODE_LATEST, FBUS_SUB_RECONNECT);
	assert_int_equal(sub_stats(second).connected, 0);
	assert_int_equal(fbus_sub_next(second, &fr, 100), FBUS_EDISCONNECTED);
	pump_until_frame(p, first, &fr);
	fbus_sub_close(first);
	pump_until_frame(p, second, &fr);
	assert_int_equal(sub_stats(second).connected, 1);
	assert_int_equal(sub_stats(second).reconnects, 0);
	assert_int_equal(pub_stats(p).subscribers, 1);
	fbus_sub_close(second);
	fbus_pub_close(p);
}

/* A uid the producer does not allow is refused with EACCES and a reason,
 * with and without RECONNECT (retrying cannot help); a listed uid gets in.
 * Needs root (to become another uid in a child). */
static int
child_subscribe(const char *uri, uid_t uid, uint32_t flags, char *why,
                size_t n)
{
	int pfd[2], st, rc = 0;
	pid_t pid;

	CHECK_TRUE(pipe2(pfd, O_CLOEXEC) == 0);
	pid = fork();
	CHECK_TRUE(pid >= 0);
	if (pid == 0) {
		struct fbus_sub_opts o = { .flags = flags };
		struct fbus_frame fr;
		struct fbus_sub *s;
		char msg[512];

		close(pfd[0]);
		if (setgid(uid) || setuid(uid))
			_exit(90);
		rc = c_sub_open(&s, uri, &o);
		if (rc == 0) {
			rc = fbus_sub_next(s, &fr, 3000);
			while (rc == FBUS_EDISCONNECTED)
				rc = fbus_sub_next(s, &fr, 3000);
		}
		snprintf(msg, sizeof msg, "%d %s", rc,
		         rc && !s ? fbus_open_error() : "");
		if (write(pfd[1], msg, strlen(msg)) < 0)
			_exit(91);
		_exit(0);
	}
	child_add(pid);
	close(pfd[1]);
	memset(why, 0, n);
	CHECK_TRUE(read(pfd[0], why, n - 1) > 0);
	close(pfd[0]);
	st = reap(pid);
	CHECK_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	sscanf(why, "%d", &rc);
	return rc;
}

static char shared_dir[64];

static void
test_refused_uid(void **state)
{
	const uint32_t nobody = 65534, other = 12345;
	struct fbus_pub_opts allow_other = { .allow_uids = &other,
		                             .n_allow_uids = 1 };
	struct fbus_pub_opts allow = { .allow_uids = &nobody, .n_allow_uids = 1 };
	struct fbus_format f = fmt_of(FBUS_PIXFMT_BGR24, W, H);
	struct fbus_pub *p;
	char uri[256], why[512];
	int rc;

	(void)state;
	if (!T->shared_uri)
		skip(); /* tcp: the producer cannot know a remote uid */
	if (geteuid() != 0) {
		print_message("needs root to become uid %u\n", nobody);
		skip();
	}
	/* no allow-list: only our uid; the kernel refuses the others */
	T->shared_uri(uri, sizeof uri, shared_dir);
	p = pub_open(uri, NULL);
	rc = child_subscribe(uri, nobody, 0, why, sizeof why);
	if (rc != FBUS_EACCES)
		fail_msg("uid %u, no allow-list: %s", nobody, why);
	fbus_pub_close(p);

	/* an allow-list without it: SO_PEERCRED refuses, with and without
	 * RECONNECT (retrying cannot help) */
	T->shared_uri(uri, sizeof uri, shared_dir);
	p = pub_open(uri, &allow_other);
	rc = child_subscribe(uri, nobody, 0, why, sizeof why);
	if (rc != FBUS_EACCES || !strstr(why, "not allowed"))
		fail_msg("uid %u without RECONNECT: %s", nobody, why);
	rc = child_subscribe(uri, nobody, FBUS_SUB_RECONNECT, why, sizeof why);
	if (rc != FBUS_EACCES)
		fail_msg("uid %u with RECONNECT: %s", nobody, why);
	assert_int_equal(pub_stats(p).peer_errors, 2);
	assert_non_null(strstr(fbus_pub_last_error(p), "not allowed"));
	fbus_pub_close(p);

	/* listed: admitted, and it reads a frame we send */
	T->shared_uri(uri, sizeof uri, shared_dir);
	p = pub_open(uri, &allow);
	{
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			char w[512];
			rc = child_subscribe(uri, nobody, 0, w, sizeof w);
			if (rc)
				fprintf(stderr, "listed uid: %s\n", w);
			_exit(rc == 0 ? 0 : 1);
		}
		child_add(pid);
		for (int i = 0; i < 200 && pid; i++) {
			int st;
			CHECK(send_tagged(p, &f, (uint64_t)i));
			t_sleep_ms(20);
			if (waitpid(pid, &st, WNOHANG) == pid) {
				child_forget(pid);
				assert_true(WIFEXITED(st));
				assert_int_equal(WEXITSTATUS(st), 0);
				pid = 0;
			}
		}
		assert_int_equal(pid, 0);
	}
	fbus_pub_close(p);
}

/* Capture times: what the producer stamps arrives as is; 0 means "the
 * time of loan". */
static void
test_capture_time(void **state)
{
	struct fbus_format f = fmt_of(FBUS_PIXFMT_GRAY8, W, H);
	struct fbus_sub *s;
	struct fbus_pub *p;
	struct fbus_slot sl;
	struct fbus_frame fr;
	char uri[256];
	int64_t m0, r0;

	(void)state;
	T->uri(uri, sizeof uri);
	p = pub_open(uri, NULL);
	s = sub_open(uri, FBUS_MODE_EVERY, 0);
	pump_until_frame(p, s, &fr);
	fbus_sub_release(s, &fr);
	for (int i = 0; i < 2; i++) {
		m0 = fbus_now_mono_ns();
		r0 = fbus_now_real_ns();
		CHECK(fbus_pub_loan(p, &f, &sl));
		memset(sl.data, 7, f.size);
		sl.t_mono_ns = i ? 123456789 : 0;
		sl.t_real_ns = i ? 987654321 : 0;
		CHECK(fbus_pub_commit(p, &sl));
		CHECK(fbus_sub_next(s, &fr, 2000));
		if (i) {
			assert_int_equal(fr.t_mono_ns, 123456789);
			assert_int_equal(fr.t_real_ns, 987654321);
		} else {
			assert_true(fr.t_mono_ns >= m0 &&
			            fr.t_mono_ns <= fbus_now_mono_ns());
			assert_true(fr.t_real_ns >= r0 &&
			            fr.t_real_ns <= fbus_now_real_ns());
		}
		fbus_sub_release(s, &fr);
	}
	fbus_sub_close(s);
	fbus_pub_close(p);
}

/* ---- every + block: slow readers are waited for, stopped ones demoted ---- */

#define BIG_W 640
#define BIG_H 480
#define BLOCK_MS 200

struct slow_producer {
	struct fbus_pub *p;
	int frames;
};

static void *
slow_producer_main(void *arg)
{
	struct slow_producer *sp = arg;
	struct fbus_format f = fmt_of(FBUS_PIXFMT_BGR24, BIG_W, BIG_H);

	for (int i = 1; i <= sp->frames; i++)
		CHECK(send_tagged(sp->p, &f, (uint64_t)i));
	return NULL;
}

/* A transport that never slows its producer refuses the block policy,
 * saying so, instead of quietly dropping. */
static bool
block_refused_here(void)
{
	struct fbus_sub_opts o = { .mode = FBUS_MODE_EVERY,
		                   .full_policy = FBUS_FULL_BLOCK };
	struct fbus_sub *s = NULL;
	struct fbus_pub *p;
	char uri[256];

	if (T->caps & CAP_BLOCK)
		return false;
	T->uri(uri, sizeof uri);
	p = pub_open(uri, NULL);
	assert_int_equal(c_sub_open(&s, uri, &o), FBUS_ENOTSUP);
	assert_null(s);
	assert_non_null(strstr(fbus_open_error(), "drop"));
	fbus_pub_close(p);
	return true;
}

/* A reader slower than the producer, but reading: block paces the
 * producer to it and loses nothing. */
static void
test_block_slow_reader(void **state)
{
	struct fbus_sub_opts o = { .mode = FBUS_MODE_EVERY, .depth = 2,
		                   .full_policy = FBUS_FULL_BLOCK,
		                   .block_ms = 1000 };
	struct fbus_format f = fmt_of(FBUS_PIXFMT_BGR24, BIG_W, BIG_H);
	struct slow_producer sp = { .frames = 20 };
	struct fbus_sub *s = NULL;
	struct fbus_frame fr;
	pthread_t th;
	char uri[256];
	uint64_t want = 1;

	(void)state;
	if (block_refused_here())
		return;
	T->uri(uri, sizeof uri);
	sp.p = pub_open(uri, NULL);
	CHECK(c_sub_open(&s, uri, &o));
	pump_until_frame(sp.p, s, &fr);
	fbus_sub_release(s, &fr);
	assert_int_equal(pthread_create(&th, NULL, slow_producer_main, &sp),
	                 0);
	while (want <= (uint64_t)sp.frames) {
		uint64_t tag;

		CHECK(fbus_sub_next(s, &fr, 5000));
		tag = check_tagged(&fr, NULL);
		fbus_sub_release(s, &fr);
		if (tag >= 1000)
			continue; /* pump_until_frame's, still queued */
		assert_int_equal(fr.fmt.width, f.width);
		assert_int_equal(tag, want);
		want++;
		t_sleep_ms(30);
	}
	pthread_join(th, NULL);
	assert_int_equal(sub_stats(s).dropped, 0);
	assert_int_equal(pub_stats(sp.p).dropped, 0);
	assert_int_equal(pub_stats(sp.p).demoted, 0);
	fbus_sub_close(s);
	fbus_pub_close(sp.p);
}

/* Commit until FBUS_BLOCK_STRIKES commits have waited out BLOCK_MS, then
 * 10 more; returns how many waited.  A stopped reader costs the producer
 * FBUS_BLOCK_STRIKES * BLOCK_MS, and nothing after that. */
static int
commit_past_stall(struct fbus_pub *p, uint64_t tag0)
{
	struct fbus_format f = fmt_of(FBUS_PIXFMT_BGR24, BIG_W, BIG_H);
	int slow = 0, after = 0;

	/* the stream transports' socket buffers hold a few MB first */
	for (uint64_t i = 0; i < 200 && after < 10; i++) {
		int64_t t0 = fbus_now_mono_ns();

		CHECK(send_tagged(p, &f, tag0 + i));
		if (ms_since(t0) >= BLOCK_MS * 3 / 4)
			slow++;
		else if (slow >= FBUS_BLOCK_STRIKES)
			after++;
	}
	assert_int_equal(after, 10);
	return slow;
}

static void
test_block_stopped_reader(void **state)
{
	struct fbus_sub_opts o = { .mode = FBUS_MODE_EVERY, .depth = 4,
		                   .full_policy = FBUS_FULL_BLOCK,
		                   .block_ms = BLOCK_MS };
	struct fbus_format f = fmt_of(FBUS_PIXFMT_BGR24, BIG_W, BIG_H);
	struct fbus_sub *s = NULL;
	struct fbus_pub *p;
	struct fbus_frame fr;
	char uri[256];
	int rc, got = 0;

	(void)state;
	if (block_refused_here())
		return;
	T->uri(uri, sizeof uri);
	p = pub_open(uri, NULL);
	CHECK(c_sub_open(&s, uri, &o));
	pump_until_frame(p, s, &fr);
	fbus_sub_release(s, &fr);

	/* it stops reading: three waits, then the producer runs free */
	assert_int_equal(commit_past_stall(p, 1), FBUS_BLOCK_STRIKES);
	assert_int_equal(pub_stats(p).demoted, 1);
	assert_non_null(strstr(fbus_pub_last_error(p), "in a row"));

	/* it reads again, all it has: what it got is whole, and the frames
	 * it missed are counted (on the streams, once the next one is in) */
	while ((rc = fbus_sub_next(s, &fr, 300)) == 0) {
		check_tagged(&fr, NULL);
		fbus_sub_release(s, &fr);
		got++;
	}
	assert_int_equal(rc, FBUS_ETIMEDOUT);
	assert_true(got >= 4);
	CHECK(send_tagged(p, &f, 999999));
	CHECK(fbus_sub_next(s, &fr, 2000));
	assert_int_equal(check_tagged(&fr, &f), 999999);
	fbus_sub_release(s, &fr);
	assert_true(sub_stats(s).dropped > 0);

	/* having emptied its queue it is waited for again, and stopping
	 * again costs the same, no more */
	assert_int_equal(commit_past_stall(p, 1000000), FBUS_BLOCK_STRIKES);
	assert_int_equal(pub_stats(p).demoted, 2);
	fbus_sub_close(s);
	fbus_pub_close(p);
}

/* ---- holding several frames (max_held) ------------------------------------ */

#define HOLD 4

static struct fbus_sub *
sub_open_held(const char *uri, uint32_t mode, uint32_t depth, uint32_t held)
{
	/* block: the streams' publisher queue is depth frames deep too,
	 * and its I/O thread may not have caught up with a burst */
	struct fbus_sub_opts o = { .mode = mode, .depth = depth,
		                   .max_held = held,
		                   .full_policy = FBUS_FULL_BLOCK,
		                   .block_ms = 2000 };
	struct fbus_sub *s = NULL;

	if (!(T->caps & CAP_BLOCK)) {
		/* no producer waits for us: the queue must take the bursts
		 * the tests send ahead of reading (HOLD at most) */
		o.full_policy = FBUS_FULL_DROP;
		o.depth += HOLD;
	}

	CHECK(c_sub_open(&s, uri, &o));
	return s;
}

/* Latest mode: HOLD frames stay pinned and unchanged while the producer
 * publishes on; the limit is EBUSY at once; release in any order. */
static void
test_hold_latest(void **state)
{
	struct fbus_format f = fmt_of(FBUS_PIXFMT_BGR24, W, H);
	struct fbus_frame fr[HOLD + 1];
	uint64_t tags[HOLD];
	struct fbus_sub *s;
	struct fbus_pub *p;
	char uri[256];
	int64_t t0;

	(void)state;
	T->uri(uri, sizeof uri);
	p = pub_open(uri, NULL);
	s = sub_open_held(uri, FBUS_MODE_LATEST, 0, HOLD);
	pump_until_frame(p, s, &fr[0]);
	tags[0] = check_tagged(&fr[0], &f);
	for (int i = 1; i < HOLD; i++) {
		CHECK(send_tagged(p, &f, (uint64_t)i));
		CHECK(fbus_sub_next(s, &fr[i], 2000));
		tags[i] = check_tagged(&fr[i], &f);
		assert_true(fr[i].seq > fr[i - 1].seq);
	}
	/* the producer runs on; what we hold is not rewritten, and its
	 * loans never fail for it */
	for (int i = 0; i < 200; i++)
		CHECK(send_tagged(p, &f, 100 + (uint64_t)i));
	for (int i = 0; i < HOLD; i++)
		assert_int_equal(check_tagged(&fr[i], &f), tags[i]);
	t0 = fbus_now_mono_ns();
	assert_int_equal(fbus_sub_next(s, &fr[HOLD], 2000), FBUS_EBUSY);
	assert_true(ms_since(t0) < 1000);
	assert_non_null(strstr(fbus_sub_last_error(s), "release one"));

	/* out of order; twice is a no-op and does not free another */
	fbus_sub_release(s, &fr[1]);
	fbus_sub_release(s, &fr[1]);
	/* newer frames only, up to the newest (the streams read a bounded
	 * batch of what is in the socket per call; through a broker the
	 * burst is still arriving) */
	for (int k = 0, prev = 99;; k++) {
		uint64_t tag;

		assert_true(k < (T->caps & CAP_BROKER ? 200 : 10));
		CHECK(fbus_sub_next(s, &fr[1], 2000));
		tag = check_tagged(&fr[1], &f);
		assert_true(tag > (uint64_t)prev && tag <= 299);
		prev = (int)tag;
		if (tag == 299)
			break;
		fbus_sub_release(s, &fr[1]);
	}
	assert_int_equal(fbus_sub_next(s, &fr[HOLD], 0), FBUS_EBUSY);
	for (int i = 0; i < HOLD; i++)
		if (i != 1)
			assert_int_equal(check_tagged(&fr[i], &f), tags[i]);
	for (int i = HOLD - 1; i >= 0; i--)
		fbus_sub_release(s, &fr[i]);
	CHECK(send_tagged(p, &f, 7777));
	CHECK(fbus_sub_next(s, &fr[0], 2000));
	assert_int_equal(check_tagged(&fr[0], &f), 7777);
	fbus_sub_release(s, &fr[0]);
	fbus_sub_close(s);
	fbus_pub_close(p);
}

/* Every mode: frames held beyond the first do not cost the queue its
 * depth (which counts one frame in hand, as with max_held 1); delivery
 * stays in order and lossless whatever order frames are released in. */
static void
test_hold_every(void **state)
{
	struct fbus_format f = fmt_of(FBUS_PIXFMT_BGR24, W, H);
	struct fbus_frame fr[HOLD];
	struct fbus_sub *s;
	struct fbus_pub *p;
	char uri[256];
	uint64_t want;

	(void)state;
	T->uri(uri, sizeof uri);
	p = pub_open(uri, NULL);
	s = sub_open_held(uri, FBUS_MODE_EVERY, 3, HOLD);
	pump_until_frame(p, s, &fr[0]);
	fbus_sub_release(s, &fr[0]);
	while (fbus_sub_next(s, &fr[0], 100) == 0)
		fbus_sub_release(s, &fr[0]); /* pump_until_frame's leftovers */

	for (uint64_t i = 1; i <= HOLD; i++)
		CHECK(send_tagged(p, &f, i));
	for (int i = 0; i < HOLD; i++) {
		CHECK(fbus_sub_next(s, &fr[i], 2000));
		assert_int_equal(check_tagged(&fr[i], &f), (uint64_t)i + 1);
	}
	/* all HOLD held, and depth - 1 more still fit */
	CHECK(send_tagged(p, &f, HOLD + 1));
	CHECK(send_tagged(p, &f, HOLD + 2));
	assert_int_equal(fbus_sub_next(s, &fr[0], 0), FBUS_EBUSY);
	for (int i = 0; i < HOLD; i++)
		assert_int_equal(check_tagged(&fr[i], &f), (uint64_t)i + 1);
	/* release the newest first: nothing is skipped or repeated */
	fbus_sub_release(s, &fr[HOLD - 1]);
	fbus_sub_release(s, &fr[1]);
	want = HOLD + 1;
	for (int k = 0; k < 2; k++) {
		int slot = k ? HOLD - 1 : 1;
		CHECK(fbus_sub_next(s, &fr[slot], 2000));
		assert_int_equal(check_tagged(&fr[slot], &f), want++);
	}
	for (int i = 0; i < HOLD; i++)
		fbus_sub_release(s, &fr[i]);
	for (uint64_t i = 0; i < 3; i++)
		CHECK(send_tagged(p, &f, want + i));
	for (uint64_t i = 0; i < 3; i++) {
		CHECK(fbus_sub_next(s, &fr[0], 2000));
		assert_int_equal(check_tagged(&fr[0], &f), want + i);
		fbus_sub_release(s, &fr[0]);
	}
	assert_int_equal(sub_stats(s).dropped, 0);
	assert_int_equal(pub_stats(p).dropped, 0);
	fbus_sub_close(s);
	fbus_pub_close(p);
}

/* The producer dies (kill -9) while frames are held: they stay readable
 * and unchanged until released, a new producer's frames come meanwhile,
 * and nothing of the old connection is left once they are released. */
static void
test_hold_producer_killed(void **state)
{
	struct fbus_sub_opts o = { .mode = FBUS_MODE_EVERY, .depth = 4,
		                   .max_held = 3, .flags = FBUS_SUB_RECONNECT };
	struct fbus_format f = fmt_of(FBUS_PIXFMT_BGR24, W, H);
	struct fbus_frame fr[2], nf;
	uint64_t tags[2];
	struct fbus_sub *s = NULL;
	struct fbus_pub *p;
	char uri[256];
	pid_t pid;
	int rc;

	(void)state;
	T->uri(uri, sizeof uri);
	pid = spawn_producer(uri, 0);
	CHECK(c_sub_open(&s, uri, &o));
	for (int i = 0; i < 2; i++) {
		CHECK(fbus_sub_next(s, &fr[i], 2000));
		tags[i] = check_tagged(&fr[i], &f);
	}
	kill(pid, SIGKILL);
	reap(pid);
	/* what it had queued comes, then the loss is said */
	while ((rc = fbus_sub_next(s, &nf, 2000)) == 0) {
		check_tagged(&nf, &f);
		fbus_sub_release(s, &nf);
	}
	assert_int_equal(rc, FBUS_EDISCONNECTED);
	for (int i = 0; i < 2; i++)
		assert_int_equal(check_tagged(&fr[i], &f), tags[i]);

	/* a new producer's frames come while the dead one's are held */
	p = pub_open(uri, NULL);
	pump_until_frame(p, s, &nf);
	for (int i = 0; i < 2; i++)
		assert_int_equal(check_tagged(&fr[i], &f), tags[i]);
	assert_int_equal(fbus_sub_next(s, &nf, 0), FBUS_EBUSY);
	fbus_sub_release(s, &fr[1]);
	fbus_sub_release(s, &fr[0]);
	fbus_sub_release(s, &nf);
	CHECK(send_tagged(p, &f, 4242));
	do
		CHECK(fbus_sub_next(s, &nf, 2000));
	while (check_tagged(&nf, &f) != 4242 && (fbus_sub_release(s, &nf), 1));
	fbus_sub_release(s, &nf);
	fbus_sub_close(s);
	fbus_pub_close(p);
}

/* hold= in the URI, its bounds, and that it is a subscriber option */
static void
test_hold_options(void **state)
{
	struct fbus_format f = fmt_of(FBUS_PIXFMT_BGR24, W, H);
	struct fbus_frame fr[3];
	struct fbus_sub *s = NULL;
	struct fbus_pub *p = NULL;
	char uri[256], u2[300];

	(void)state;
	T->uri(uri, sizeof uri);
	p = pub_open(uri, NULL);
	snprintf(u2, sizeof u2, "%s?hold=65", uri);
	assert_int_equal(c_sub_open(&s, u2, NULL), FBUS_EINVAL);
	assert_non_null(strstr(fbus_open_error(), "hold must be 1..64"));
	snprintf(u2, sizeof u2, "%s?hold=2", uri);
	{
		struct fbus_pub *p2 = NULL;
		assert_int_equal(fbus_pub_open(&p2, u2, NULL), FBUS_EINVAL);
		assert_non_null(strstr(fbus_open_error(), "subscriber option"));
	}
	/* the URI wins over the struct */
	{
		struct fbus_sub_opts o = { .max_held = 5 };
		CHECK(c_sub_open(&s, u2, &o));
	}
	pump_until_frame(p, s, &fr[0]);
	CHECK(send_tagged(p, &f, 1));
	CHECK(fbus_sub_next(s, &fr[1], 2000));
	CHECK(send_tagged(p, &f, 2));
	assert_int_equal(fbus_sub_next(s, &fr[2], 100), FBUS_EBUSY);
	fbus_sub_release(s, &fr[0]);
	fbus_sub_release(s, &fr[1]);
	fbus_sub_close(s);
	fbus_pub_close(p);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_producer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_before_producer, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_producer_killed_next, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_producer_killed_fd, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_after_close, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_failed_commit, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_encoded_bounds, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_format_change, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_refused_limit, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_refused_uid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capture_time, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_block_slow_reader, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_hold_latest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_every, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold_producer_killed, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_hold_options, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_block_stopped_reader, setup,
		                                teardown),
	};
	char gname[64];
	int rc;

	if (argc == 5 && !strcmp(argv[1], "--producer")) {
		signal(SIGPIPE, SIG_IGN);
		producer_main(argv[2], atoi(argv[3]), atoi(argv[4]));
	}
	for (size_t i = 0; (argc == 2 || argc == 3) &&
	     i < sizeof transports / sizeof *transports; i++)
		if (!strcmp(argv[1], transports[i].name))
			T = &transports[i];
	if (argc == 3 && !strcmp(argv[2], "many"))
		many = 1;
	else if (argc == 3 && !strcmp(argv[2], "group"))
		group = 1;
	else if (argc == 3 && !strcmp(argv[2], "predict"))
		predict = 1;
	else if (argc == 3)
		T = NULL;
	if (!T) {
		fprintf(stderr, "usage: %s shm|unix|tcp|nats "
		                "[many|group|predict]\n",
		        argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	t_watchdog(240);
	if (!(T->caps & CAP_BLOCK)) {
		/* the client library's own threads and fds come with its
		 * first use: before the first test counts fds */
		struct fbus_sub *s = NULL;
		char uri[256];

		T->uri(uri, sizeof uri);
		(void)fbus_sub_open(&s, uri, NULL);
		fbus_sub_close(s);
	}
	/* where another uid can reach a bus: in /tmp, not under the build
	 * tree, whose parents need not be traversable */
	snprintf(shared_dir, sizeof shared_dir, "/tmp/fbus-conf-XXXXXX");
	assert_true(mkdtemp(shared_dir) && chmod(shared_dir, 0755) == 0);
	snprintf(gname, sizeof gname, "conformance-%s%s", T->name,
	         many ? "-many" : group ? "-group" : predict ? "-predict" : "");
	rc = _cmocka_run_group_tests(gname, tests, sizeof tests / sizeof *tests,
	                             NULL, NULL);
	if (rmdir(shared_dir) < 0)
		fprintf(stderr, "conformance: %s not empty: a bus left files\n",
		        shared_dir);
	return rc;
}

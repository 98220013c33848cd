/* SPDX-License-Identifier: MIT */
/*
 * test-group.c — worker groups on shm: (?group=NAME): member processes
 * take frames of a producer running back to back; every frame is taken by
 * at most one member, whole (content checked), and the group's counters
 * add up; a member killed with -9 or stopped with SIGSTOP at random
 * points leaves the others taking at once; a group of one is a plain
 * subscriber; groups where they are not built say so.
 */
#define _GNU_SOURCE
#include "check.h"
#include "shm/group.h"
#include "testutil.h"

#include <stddef.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FW 64
#define FH 64 /* gray8: 4 KiB frames */

static void
fill(uint8_t *p, uint64_t seq)
{
	memcpy(p, &seq, sizeof seq);
	for (size_t i = sizeof seq; i < FW * FH; i++)
		p[i] = (uint8_t)(seq * 31 + i);
}

static int
intact(const struct fbus_frame *fr)
{
	uint64_t seq;

	if (fr->payload_bytes != FW * FH)
		return 0;
	memcpy(&seq, fr->data, sizeof seq);
	if (seq != fr->seq)
		return 0;
	for (size_t i = sizeof seq; i < FW * FH; i++)
		if (fr->data[i] != (uint8_t)(seq * 31 + i))
			return 0;
	return 1;
}

struct take {
	uint64_t seq;
	int64_t t;
};

/* A member: takes frames until the producer goes, each recorded (seq and
 * time) in its file; `work_us` of work a frame; latest mode, or every
 * mode (block policy, depth 8) if `every`.  Exit 0, or 1 if a frame was
 * torn, 2 if it could not join. */
static pid_t
member_of(const char *uri, const char *file, int work_us, int every)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct fbus_sub_opts o = { .size = sizeof o };

		if (every) {
			o.mode = FBUS_MODE_EVERY;
			o.depth = 8;
			o.full_policy = FBUS_FULL_BLOCK;
			o.block_ms = 5000;
		}
		struct fbus_sub *s;
		int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int rc;

		if (fd < 0 || fbus_sub_open(&s, uri, &o) != 0)
			_exit(2);
		for (;;) {
			struct fbus_frame fr;
			struct take t;

			rc = fbus_sub_next(s, &fr, 3000);
			if (rc == FBUS_ETIMEDOUT)
				continue;
			if (rc)
				break;
			if (!intact(&fr))
				_exit(1);
			t.seq = fr.seq;
			t.t = fbus_now_mono_ns();
			if (write(fd, &t, sizeof t) != sizeof t)
				_exit(3);
			fbus_sub_release(s, &fr);
			if (work_us)
				usleep((useconds_t)work_us);
		}
		{
			struct fbus_sub_stats st;

			fbus_sub_stats(s, &st);
			dprintf(fd, "%c", 0); /* odd byte: the end marker */
		}
		fbus_sub_close(s);
		close(fd);
		_exit(0);
	}
	return pid;
}

static pid_t
member(const char *uri, const char *file, int work_us)
{
	return member_of(uri, file, work_us, 0);
}

static size_t
read_takes(const char *file, struct take **out)
{
	FILE *f = fopen(file, "rb");
	size_t n = 0, cap = 1024;
	struct take *t = malloc(cap * sizeof *t);

	assert_non_null(f);
	while (fread(&t[n], sizeof *t, 1, f) == 1)
		if (++n == cap)
			t = realloc(t, (cap *= 2) * sizeof *t);
	fclose(f);
	*out = t;
	return n;
}

/* Append a member's takes (in increasing seq, as a member takes) to *all;
 * the file goes.  Returns how many. */
static size_t
collect_takes(const char *file, uint64_t **all, uint64_t *total)
{
	struct take *t;
	size_t n = read_takes(file, &t);

	unlink(file);
	*all = realloc(*all, (*total + n) * sizeof **all);
	for (size_t k = 0; k < n; k++) {
		assert_true(k == 0 || t[k].seq > t[k - 1].seq);
		(*all)[*total + k] = t[k].seq;
	}
	*total += n;
	free(t);
	return n;
}

static void
wait_members(struct fbus_pub *p, unsigned n)
{
	struct fbus_pub_stats st = { 0 };

	for (int i = 0; i < 500 && st.subscribers < n; i++) {
		t_sleep_ms(10);
		CHECK(fbus_pub_stats(p, &st));
	}
	assert_int_equal(st.subscribers, n);
}

/* n more frames; *seq: the last one published by p (0 for a new one) */
static void
publish(struct fbus_pub *p, uint64_t *seq, uint64_t n, int gap_us)
{
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_GRAY8, .width = FW,
		                 .height = FH };

	for (uint64_t k = *seq + 1; k <= *seq + n; k++) {
		struct fbus_slot sl;
		int rc;

		while ((rc = fbus_pub_loan(p, &f, &sl)) == FBUS_EBUSY)
			;
		CHECK(rc);
		fill(sl.data, k);
		assert_int_equal(fbus_pub_commit(p, &sl), (int64_t)k);
		if (gap_us)
			usleep((useconds_t)gap_us);
	}
	*seq += n;
}

/* The member holding group `g`'s take mutex: a robust futex word holds
 * its owner's thread id (the members are single-threaded: their pid). */
static pid_t
waiter(const char *base_uri, const char *g)
{
	char dir[256], path[400];
	uint32_t word;
	FILE *f;

	assert_int_equal(fbus_runtime_dir(dir, sizeof dir), 0);
	snprintf(path, sizeof path, "%s/%s.group-%s", dir,
	         base_uri + strlen("shm:"), g);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, (long)offsetof(struct fbusi_group_page, take),
	                       SEEK_SET), 0);
	assert_int_equal(fread(&word, sizeof word, 1, f), 1);
	fclose(f);
	return (pid_t)(word & 0x3fffffff); /* FUTEX_TID_MASK */
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* 4 members, 100k frames back to back: none taken twice, none torn */
static void
test_each_frame_once(void **state)
{
	enum { M = 4 };
	const uint64_t N = 100000;
	const char *tmp = getenv("FBUS_TEST_TMP") ? getenv("FBUS_TEST_TMP")
	                                          : "/tmp";
	char uri[128], file[M][256];
	struct fbus_pub *p;
	struct fbus_sub *probe;
	struct fbus_sub_opts po = { .size = sizeof po, .group = "w" };
	struct fbus_sub_stats gst;
	pid_t pid[M];
	uint64_t *all = NULL, total = 0, per[M], seq = 0;

	(void)state;
	snprintf(uri, sizeof uri, "shm:%s?group=w", t_unique_name("grp"));
	{
		char base[128];

		snprintf(base, sizeof base, "%s", uri);
		*strchr(base, '?') = '\0';
		CHECK(fbus_pub_open(&p, base, NULL));
	}
	for (int i = 0; i < M; i++) {
		snprintf(file[i], sizeof file[i], "%s/%s.takes", tmp,
		         t_unique_name("grp"));
		pid[i] = member(uri, file[i], i * 20);
	}
	wait_members(p, M);
	publish(p, &seq, N, 0);
	/* a group member of ours reads the group's counters */
	{
		char base[128];

		snprintf(base, sizeof base, "%s", uri);
		*strchr(base, '?') = '\0';
		CHECK(fbus_sub_open(&probe, base, &po));
		CHECK(fbus_sub_stats(probe, &gst));
	}
	fbus_pub_close(p);
	for (int i = 0; i < M; i++) {
		int st;

		assert_int_equal(waitpid(pid[i], &st, 0), pid[i]);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			fail_msg("member %d: status %d (1: a torn frame)", i, st);
	}
	for (int i = 0; i < M; i++)
		per[i] = collect_takes(file[i], &all, &total);
	qsort(all, total, sizeof *all, cmp_u64);
	for (uint64_t k = 1; k < total; k++)
		if (all[k] == all[k - 1])
			fail_msg("frame %llu taken twice",
			         (unsigned long long)all[k]);
	printf("group: %llu of %llu frames taken (%llu %llu %llu %llu), group "
	       "counters %llu taken %llu skipped\n",
	       (unsigned long long)total, (unsigned long long)N,
	       (unsigned long long)per[0], (unsigned long long)per[1],
	       (unsigned long long)per[2], (unsigned long long)per[3],
	       (unsigned long long)gst.group_frames,
	       (unsigned long long)gst.group_skipped);
	assert_true(total > 0 && all[total - 1] <= N);
	for (int i = 0; i < M; i++)
		assert_true(per[i] > 0);
	/* the counters, read before the end, cannot exceed the end */
	assert_true(gst.group_frames <= total);
	assert_true(gst.group_frames + gst.group_skipped <= N);
	fbus_sub_close(probe);
	free(all);
}

/* kill -9 and SIGSTOP of members at random points: the others go on
 * taking at once (no gap of a second in the takes), nothing stays held */
static void
test_kill_and_stop(void **state)
{
	enum { M = 3 };
	const char *tmp = getenv("FBUS_TEST_TMP") ? getenv("FBUS_TEST_TMP")
	                                          : "/tmp";
	char uri[160], base[128], file[M][256];
	struct fbus_pub *p;
	pid_t pid[M];

	(void)state;
	snprintf(base, sizeof base, "shm:%s", t_unique_name("grk"));
	snprintf(uri, sizeof uri, "%s?group=k", base);
	CHECK(fbus_pub_open(&p, base, NULL));
	for (int round = 0; round < 3; round++) {
		int64_t t_ev;
		struct take *t[M];
		size_t n[M];
		int victim = round % M;
		uint64_t seq;

		for (int i = 0; i < M; i++) {
			snprintf(file[i], sizeof file[i], "%s/%s.takes", tmp,
			         t_unique_name("grk"));
			pid[i] = member(uri, file[i], 2000);
		}
		wait_members(p, M);
		seq = 0;
		publish(p, &seq, 100 + (uint64_t)(rand() % 100), 1000);
		if (round == 1) {
			/* all idle: one of them is the group's waiter, the
			 * holder of the take mutex; stop exactly that one */
			pid_t w;

			t_sleep_ms(100);
			w = waiter(base, "k");
			victim = -1;
			for (int i = 0; i < M; i++)
				if (pid[i] == w)
					victim = i;
			if (victim < 0)
				fail_msg("the mutex holder %d is no member", (int)w);
			kill(pid[victim], SIGSTOP);
		} else {
			kill(pid[victim], SIGKILL);
		}
		t_ev = fbus_now_mono_ns();
		publish(p, &seq, 400, 1000);
		if (round == 1)
			kill(pid[victim], SIGCONT);
		/* a fresh producer each round: members go when it does */
		fbus_pub_close(p);
		for (int i = 0; i < M; i++)
			waitpid(pid[i], NULL, 0);
		for (int i = 0; i < M; i++) {
			n[i] = read_takes(file[i], &t[i]);
			unlink(file[i]);
		}
		/* after the event, the others' takes: the first within a
		 * fraction of a second, then no long gap */
		{
			int64_t last = t_ev, first = 0;
			size_t after = 0;

			for (int i = 0; i < M; i++) {
				if (i == victim)
					continue;
				for (size_t k = 0; k < n[i]; k++)
					if (t[i][k].t > t_ev) {
						after++;
						if (!first || t[i][k].t < first)
							first = t[i][k].t;
					}
			}
			printf("round %d (%s): %zu frames taken by the others "
			       "after it, the first %.1f ms after\n", round,
			       round == 1 ? "SIGSTOP" : "kill -9", after,
			       first ? (first - t_ev) / 1e6 : -1.0);
			/* a stopped waiter is passed once a 10 ms slice (at
			 * most 100 frames/s); a dead one hands on at once */
			assert_true(after > (round == 1 ? 25 : 100));
			assert_true(first && first - t_ev < 500000000LL);
			(void)last;
		}
		for (int i = 0; i < M; i++)
			free(t[i]);
		CHECK(fbus_pub_open(&p, base, NULL));
	}
	fbus_pub_close(p);
}

/* Every mode, M members with work[i] µs a frame, n frames back to back
 * (block policy: the producer waits for the group); `event` at frame
 * n/3: 0 none, 1 kill -9 of member 0, 2 SIGSTOP of member 0 until the
 * end.  Each frame is taken; by one member only, except those the killed
 * one had when it died (passed on: at least once); in order per member
 * but for those. */
/* A bus nobody uses yet: shm:, unix: or tcp:// (a port the kernel just
 * handed out). */
static void
new_bus(char *buf, size_t len, const char *scheme)
{
	const char *tmp = getenv("FBUS_TEST_TMP") ? getenv("FBUS_TEST_TMP")
	                                          : "/tmp";

	if (!strcmp(scheme, "shm")) {
		snprintf(buf, len, "shm:%s", t_unique_name("gre"));
	} else if (!strcmp(scheme, "unix")) {
		snprintf(buf, len, "unix:%s/%s.sock", tmp, t_unique_name("gre"));
	} else {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		socklen_t sl = sizeof sa;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_true(fd >= 0);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
		assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
		close(fd);
		snprintf(buf, len, "tcp://127.0.0.1:%u",
		         (unsigned)ntohs(sa.sin_port));
	}
}

static void
every_group(const char *scheme, int M, const int *work, uint64_t n,
            int event)
{
	const char *tmp = getenv("FBUS_TEST_TMP") ? getenv("FBUS_TEST_TMP")
	                                          : "/tmp";
	char uri[160], base[128], file[8][256];
	/* each member's queue reserves its 8 slots of the ring */
	struct fbus_pub_opts po = { .size = sizeof po, .slots = 64 };
	struct fbus_pub *p;
	struct fbus_pub_stats pst;
	pid_t pid[8];
	uint8_t *by = calloc(n + 1, 1); /* bit i: member i took it */
	uint64_t seq = 0, per[8] = { 0 }, again = 0, redelivered = 0, late = 0;
	int64_t t_ev = 0, first_after = 0;

	bool shm = !strcmp(scheme, "shm");
	/* streams: a member killed loses the frame on its way to it */
	uint64_t lost = 0, may_lose = !shm && event == 1 ? 1 : 0;

	new_bus(base, sizeof base, scheme);
	snprintf(uri, sizeof uri, "%s?group=e", base);
	CHECK(fbus_pub_open(&p, base, &po));
	for (int i = 0; i < M; i++) {
		snprintf(file[i], sizeof file[i], "%s/%s.takes", tmp,
		         t_unique_name("gre"));
		pid[i] = member_of(uri, file[i], work[i], 1);
	}
	wait_members(p, (unsigned)M);
	publish(p, &seq, n / 3, 0);
	if (event) {
		kill(pid[0], event == 1 ? SIGKILL : SIGSTOP);
		t_ev = fbus_now_mono_ns();
	}
	publish(p, &seq, n - n / 3, 0);
	CHECK(fbus_pub_stats(p, &pst));
	if (event == 2)
		kill(pid[0], SIGCONT);
	fbus_pub_close(p);
	for (int i = 0; i < M; i++) {
		int st;

		assert_int_equal(waitpid(pid[i], &st, 0), pid[i]);
		if (!(event == 1 && i == 0) && (!WIFEXITED(st) || WEXITSTATUS(st)))
			fail_msg("member %d: status %d (1: a torn frame)", i, st);
	}
	for (int i = 0; i < M; i++) {
		struct take *t;
		size_t k, got = read_takes(file[i], &t);
		uint64_t newest = 0;

		for (k = 0; k < got; k++) {
			uint64_t q = t[k].seq;

			assert_true(q >= 1 && q <= n);
			if (by[q])
				again++;
			/* the dead member's queue comes late, after newer
			 * frames: only it may be out of order */
			if (q < newest) {
				late++;
				if (event != 1)
					fail_msg("member %d took %llu after "
					         "%llu", i, (unsigned long long)q,
					         (unsigned long long)newest);
			}
			newest = q > newest ? q : newest;
			if (event == 1 && i && (by[q] & 1))
				redelivered++;
			by[q] |= (uint8_t)(1u << i);
			if (t_ev && i && t[k].t > t_ev &&
			    (!first_after || t[k].t < first_after))
				first_after = t[k].t;
		}
		per[i] = got;
		free(t);
		unlink(file[i]);
	}
	for (uint64_t q = 1; q <= n; q++)
		if (!by[q] && ++lost > may_lose)
			fail_msg("frame %llu was taken by no member",
			         (unsigned long long)q);
	printf("%s: every group of %d, %llu frames%s: taken %llu %llu %llu %llu, "
	       "twice %llu (passed on from the dead one %llu), late %llu, producer "
	       "dropped %llu%s%.1f ms\n",
	       scheme, M, (unsigned long long)n,
	       event == 1 ? ", member 0 killed" : event == 2 ? ", member 0 "
	       "stopped" : "", (unsigned long long)per[0],
	       (unsigned long long)per[1], (unsigned long long)per[2],
	       (unsigned long long)per[3], (unsigned long long)again,
	       (unsigned long long)redelivered, (unsigned long long)late,
	       (unsigned long long)pst.dropped,
	       t_ev ? ", the others' first take after it " : "",
	       t_ev ? (first_after - t_ev) / 1e6 : 0.0);
	assert_int_equal(pst.dropped, 0);
	/* twice only where the dead member had it (shm: its queue is
	 * passed on); late only what was queued to it (its depth) */
	assert_int_equal(again, redelivered);
	if (!shm)
		assert_int_equal(again, 0);
	assert_true(late <= 8);
	for (int i = 1; i < M; i++)
		assert_true(per[i] > 0);
	if (t_ev)
		assert_true(first_after && first_after - t_ev < 500000000LL);
	free(by);
	/* nothing stays held: the group file went with its last member */
	if (shm)
		assert_int_equal(t_runtime_files("gre"), 0);
}

/* 4 every members, 100k frames: each exactly once, in order per member */
static void
test_every_each_once(void **state)
{
	static const int work[4] = { 0, 10, 20, 40 };

	(void)state;
	every_group("shm", 4, work, 100000, 0);
}

static void
test_every_kill_and_stop(void **state)
{
	static const int work[3] = { 300, 300, 300 };

	(void)state;
	every_group("shm", 3, work, 3000, 1);
	every_group("shm", 3, work, 3000, 2);
}

/* The same on the streams: the producer hands each frame to a member
 * that sent a credit */
static void
test_stream_every(void **state)
{
	static const int work[4] = { 0, 10, 20, 40 };
	static const int slow[3] = { 300, 300, 300 };

	(void)state;
	every_group("unix", 4, work, 20000, 0);
	every_group("tcp", 4, work, 20000, 0);
	every_group("unix", 3, slow, 3000, 1);
	every_group("tcp", 3, slow, 3000, 2);
}

/* Latest mode on the streams: 3 members of a group, frames back to back:
 * none taken twice, all members served, the group's skips told */
static void
test_stream_latest(void **state)
{
	const char *tmp = getenv("FBUS_TEST_TMP") ? getenv("FBUS_TEST_TMP")
	                                          : "/tmp";
	const char *schemes[2] = { "unix", "tcp" };

	(void)state;
	for (int k = 0; k < 2; k++) {
		char base[128], uri[160], file[3][256];
		struct fbus_pub *p;
		pid_t pid[3];
		uint64_t seq = 0, total = 0, *all = NULL;

		new_bus(base, sizeof base, schemes[k]);
		snprintf(uri, sizeof uri, "%s?group=l", base);
		CHECK(fbus_pub_open(&p, base, NULL));
		for (int i = 0; i < 3; i++) {
			snprintf(file[i], sizeof file[i], "%s/%s.takes", tmp,
			         t_unique_name("grl"));
			pid[i] = member(uri, file[i], 1000 * (i + 1));
		}
		wait_members(p, 3);
		publish(p, &seq, 5000, 50);
		fbus_pub_close(p);
		for (int i = 0; i < 3; i++) {
			int st;

			assert_int_equal(waitpid(pid[i], &st, 0), pid[i]);
			assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
			assert_true(collect_takes(file[i], &all, &total) > 0);
		}
		qsort(all, total, sizeof *all, cmp_u64);
		for (uint64_t j = 1; j < total; j++)
			if (all[j] == all[j - 1])
				fail_msg("%s: frame %llu taken twice",
				         schemes[k], (unsigned long long)all[j]);
		printf("%s: latest group of 3: %llu of 5000 frames taken\n",
		       schemes[k], (unsigned long long)total);
		free(all);
	}
}

/* a group of one is a subscriber; groups elsewhere say so */
static void
test_one_and_refusals(void **state)
{
	char base[128], uri[160];
	struct fbus_pub *p;
	struct fbus_sub *s;
	struct fbus_frame fr;
	struct fbus_sub_opts o = { .size = sizeof o, .group = "bad name" };
	uint64_t seq = 0;

	(void)state;
	snprintf(base, sizeof base, "shm:%s", t_unique_name("gr1"));
	snprintf(uri, sizeof uri, "%s?group=solo", base);
	CHECK(fbus_pub_open(&p, base, NULL));
	CHECK(fbus_sub_open(&s, uri, NULL));
	publish(p, &seq, 3, 0);
	CHECK(fbus_sub_next(s, &fr, 1000));
	assert_true(intact(&fr));
	assert_int_equal(fr.seq, 3);
	fbus_sub_release(s, &fr);
	assert_int_equal(fbus_sub_next(s, &fr, 50), FBUS_ETIMEDOUT);
	fbus_sub_close(s);
	assert_int_equal(fbus_sub_open(&s, base, &o), FBUS_EINVAL);
	snprintf(uri, sizeof uri, "%s?group=", base);
	assert_int_equal(fbus_sub_open(&s, uri, NULL), FBUS_EINVAL);
	{
		struct fbus_pub *p2;

		assert_int_equal(fbus_pub_open(&p2, "shm:x?group=g", NULL),
		                 FBUS_EINVAL);
	}
	assert_non_null(strstr(fbus_open_error(), "subscriber option"));
	/* a group is of one mode */
	o.group = "g";
	CHECK(fbus_sub_open(&s, base, &o));
	o.mode = FBUS_MODE_EVERY;
	{
		struct fbus_sub *s2;

		assert_int_equal(fbus_sub_open(&s2, base, &o), FBUS_EINVAL);
		assert_non_null(strstr(fbus_open_error(), "latest-mode group"));
	}
	fbus_sub_close(s);
	/* the last member killed leaves its group file behind; a new member
	 * of the name starts a new group (of its own mode) in it */
	{
		pid_t pid = fork();
		struct fbus_sub *s2;
		int st;

		assert_true(pid >= 0);
		if (pid == 0) {
			struct fbus_sub_opts lo = { .size = sizeof lo,
				                    .group = "g" };

			if (fbus_sub_open(&s, base, &lo))
				_exit(2);
			raise(SIGKILL);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFSIGNALED(st));
		{
			struct fbus_group_info gi[4];

			assert_int_equal(fbus_bus_groups(base, gi, 4), 1);
			assert_int_equal(gi[0].members, 0);
			assert_int_equal(gi[0].mode, FBUS_MODE_LATEST);
			CHECK(fbus_sub_open(&s2, base, &o));
			assert_int_equal(fbus_bus_groups(base, gi, 4), 1);
			assert_int_equal(gi[0].members, 1);
			assert_int_equal(gi[0].mode, FBUS_MODE_EVERY);
			fbus_sub_close(s2);
		}
		/* killed again: the runtime sweep removes the file, since
		 * no member holds its lock */
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			if (fbus_sub_open(&s, base, &o))
				_exit(2);
			raise(SIGKILL);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFSIGNALED(st));
		assert_int_equal(fbus_bus_groups(base, NULL, 0), 1);
		assert_true(fbus_runtime_sweep(NULL, NULL) >= 0);
		assert_int_equal(fbus_bus_groups(base, NULL, 0), 0);
	}
	fbus_pub_close(p);
	/* the last member took its group file with it */
	assert_int_equal(t_runtime_files("gr1"), 0);
}

/* Members polling their fd are rung one a frame, not all: after k commits
 * k members' fds are readable (each a different one), however many are
 * armed -- in latest mode while they are free, in every mode where the
 * frame was queued.  A member that took a frame and let it go is free
 * again and rung again. */
static void
test_fd_rings_one(void **state)
{
	for (int mode = FBUS_MODE_LATEST; mode <= FBUS_MODE_EVERY; mode++) {
		char base[128];
		struct fbus_pub *p;
		struct fbus_sub *s[4];
		struct pollfd pfd[4];
		struct fbus_frame fr;
		struct fbus_sub_opts o = { .size = sizeof o, .mode = mode,
			                   .group = "fdg" };
		uint64_t seq = 0;
		int taken = 0;

		(void)state;
		snprintf(base, sizeof base, "shm:%s", t_unique_name("grfd"));
		CHECK(fbus_pub_open(&p, base, NULL));
		/* the ring exists before anyone polls: its RING message on
		 * the control socket would make every fd readable */
		publish(p, &seq, 1, 0);
		for (int i = 0; i < 4; i++) {
			CHECK(fbus_sub_open(&s[i], base, &o));
			pfd[i].fd = fbus_sub_fd(s[i]);
			pfd[i].events = POLLIN;
			assert_true(pfd[i].fd >= 0);
		}
		/* latest: frame 1 stands untaken, so one may take it; then
		 * the group is quiet */
		for (int i = 0; i < 4; i++)
			if (fbus_sub_next(s[i], &fr, 0) == 0) {
				taken++;
				fbus_sub_release(s[i], &fr);
			}
		assert_int_equal(taken, mode == FBUS_MODE_LATEST);
		assert_int_equal(poll(pfd, 4, 0), 0);
		for (int k = 1; k <= 4; k++) {
			publish(p, &seq, 1, 0);
			assert_int_equal(poll(pfd, 4, 0), k);
		}
		/* every mode: each of the four holds one frame; latest: one
		 * takes the newest, the others find nothing */
		taken = 0;
		for (int i = 0; i < 4; i++)
			if (fbus_sub_next(s[i], &fr, 0) == 0) {
				taken++;
				assert_true(intact(&fr));
				fbus_sub_release(s[i], &fr);
			}
		assert_int_equal(taken, mode == FBUS_MODE_LATEST ? 1 : 4);
		assert_int_equal(poll(pfd, 4, 0), 0);
		publish(p, &seq, 1, 0);
		assert_int_equal(poll(pfd, 4, 0), 1);
		for (int i = 0; i < 4; i++)
			fbus_sub_close(s[i]);
		fbus_pub_close(p);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_and_refusals),
		cmocka_unit_test(test_each_frame_once),
		cmocka_unit_test(test_kill_and_stop),
		cmocka_unit_test(test_every_each_once),
		cmocka_unit_test(test_every_kill_and_stop),
		cmocka_unit_test(test_stream_every),
		cmocka_unit_test(test_stream_latest),
		cmocka_unit_test(test_fd_rings_one),
	};

	signal(SIGPIPE, SIG_IGN);
	t_watchdog(240);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

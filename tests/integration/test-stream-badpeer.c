/* SPDX-License-Identifier: MIT */
/*
 * test-stream-badpeer.c — hostile peers on the stream transports (issue #6).
 * Raw socket clients send a publisher a wrong magic, a wrong version, an
 * oversized length, a truncated hello, a bad CRC, one byte per second: each
 * is dropped with a clear reason while a good subscriber keeps receiving and
 * commits keep flowing.  A fake producer sends a subscriber the same kinds
 * of broken frames: each is refused with its own error, before any
 * allocation, and the connection is dropped.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "stream/wire.h"
#include "jpeg_codec.h"
#include "testutil.h"
#include "check.h"

static void
make_path(char *buf, size_t n)
{
	const char *d = getenv("FBUS_TEST_TMP");

	snprintf(buf, n, "%s/%s.sock", d && *d ? d : "/tmp",
	         t_unique_name("bp"));
}

static int
connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

static void
send_all(int fd, const void *buf, size_t n)
{
	assert_int_equal(send(fd, buf, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* ---- a publisher under attack ------------------------------------------- */

struct rig {
	struct fbus_pub *pub;
	struct fbus_sub *good;
	char path[300];
	char uri[320];
	pthread_t committer, reader;
	atomic_int stop;
	atomic_llong commits, received, worst_commit_ns;
	atomic_int warnings; /* from the log callback (the I/O thread) */
};

static void
on_log(void *user, int level, const char *msg)
{
	struct rig *r = user;

	if (level == FBUS_LOG_WARN && strstr(msg, "dropped"))
		atomic_fetch_add(&r->warnings, 1);
}

static void *
committer_main(void *arg)
{
	struct rig *r = arg;
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_GRAY8, .width = 320,
		                 .height = 240 };
	static uint8_t img[320 * 240];

	(void)fbus_format_layout(&f);
	while (!atomic_load(&r->stop)) {
		int64_t t0 = fbus_now_mono_ns(), dt;
		if (fbus_pub_send(r->pub, &f, img, sizeof img, NULL, 0) < 0)
			break;
		dt = fbus_now_mono_ns() - t0;
		if (dt > atomic_load(&r->worst_commit_ns))
			atomic_store(&r->worst_commit_ns, dt);
		atomic_fetch_add(&r->commits, 1);
		t_sleep_ms(5);
	}
	return NULL;
}

static void *
reader_main(void *arg)
{
	struct rig *r = arg;

	while (!atomic_load(&r->stop)) {
		struct fbus_frame fr;
		int rc = fbus_sub_next(r->good, &fr, 100);
		if (rc == 0)
			atomic_fetch_add(&r->received, 1);
		else if (rc != FBUS_ETIMEDOUT)
			break;
	}
	return NULL;
}

static int
rig_setup(void **state)
{
	struct rig *r = calloc(1, sizeof *r);
	struct fbus_pub_opts po = { .size = sizeof po, .log = on_log,
		                    .log_user = r };
	struct fbus_pub_stats st;

	make_path(r->path, sizeof r->path);
	snprintf(r->uri, sizeof r->uri, "unix:%s", r->path);
	CHECK(fbus_pub_open(&r->pub, r->uri, &po));
	CHECK(fbus_sub_open(&r->good, r->uri, NULL));
	for (int i = 0; i < 1000; i++) {
		CHECK(fbus_pub_stats(r->pub, &st));
		if (st.subscribers == 1)
			break;
		t_sleep_ms(5);
	}
	assert_int_equal(pthread_create(&r->committer, NULL, committer_main, r),
	                 0);
	assert_int_equal(pthread_create(&r->reader, NULL, reader_main, r), 0);
	*state = r;
	return 0;
}

static int
rig_teardown(void **state)
{
	struct rig *r = *state;

	atomic_store(&r->stop, 1);
	pthread_join(r->committer, NULL);
	pthread_join(r->reader, NULL);
	/* the good subscriber was never disturbed, nor the producer */
	assert_true(atomic_load(&r->received) > 0);
	if (atomic_load(&r->worst_commit_ns) > 1000000000LL)
		fail_msg("a commit took %lld ms",
		         atomic_load(&r->worst_commit_ns) / 1000000);
	fbus_sub_close(r->good);
	fbus_pub_close(r->pub);
	free(r);
	return 0;
}

/*
 * Send `bytes` (one per `gap_ms` if gap_ms > 0), then wait for the
 * publisher to hang up.  Returns the refusal status it sent first (0 when
 * it just closed).  Meanwhile the good subscriber must keep receiving.
 */
static int
attack(struct rig *r, const void *bytes, size_t n, int gap_ms, bool shut)
{
	const uint8_t *b = bytes;
	long long before = atomic_load(&r->received);
	uint8_t in[64];
	size_t got = 0;
	int fd = connect_unix(r->path), status = 0;
	int64_t deadline = fbus_now_mono_ns() + 8000000000LL;
	struct fbus_pub_stats st0, st;

	CHECK(fbus_pub_stats(r->pub, &st0));
	for (size_t i = 0; i < n; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (gap_ms <= 0) {
			send_all(fd, b, n);
			break;
		}
		if (send(fd, b + i, 1, MSG_NOSIGNAL) != 1)
			break; /* already dropped */
		if (poll(&p, 1, gap_ms) == 1)
			break;
	}
	if (shut)
		shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t k;
		if (fbus_now_mono_ns() > deadline)
			fail_msg("publisher did not drop the bad peer");
		if (poll(&p, 1, 100) != 1)
			continue;
		k = recv(fd, in + got, sizeof in - got, 0);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	if (got >= FBUSI_WIRE_WELCOME_LEN) {
		struct fbusi_wire_welcome w;
		assert_int_equal(fbusi_wire_welcome_parse(in, &w, NULL), 0);
		status = w.status;
	}
	for (int i = 0; i < 200; i++) {
		CHECK(fbus_pub_stats(r->pub, &st));
		if (st.peer_errors > st0.peer_errors)
			break;
		t_sleep_ms(10);
	}
	assert_int_equal(st.peer_errors, st0.peer_errors + 1);
	assert_int_equal(st.subscribers, 1);
	/* and the log callback heard about it */
	for (int i = 0; i < 200 && atomic_load(&r->warnings) <
	                                  (int)st.peer_errors; i++)
		t_sleep_ms(10);
	assert_int_equal(atomic_load(&r->warnings), (int)st.peer_errors);
	/* frames kept flowing to the good subscriber meanwhile */
	for (int i = 0; i < 300 && atomic_load(&r->received) <= before; i++)
		t_sleep_ms(10);
	assert_true(atomic_load(&r->received) > before);
	print_message("  dropped: %s\n", fbus_pub_last_error(r->pub));
	return status;
}

static void
good_hello(uint8_t buf[FBUSI_WIRE_HELLO_LEN])
{
	struct fbusi_wire_hello h = { FBUS_MODE_LATEST, FBUS_FULL_DROP, 4, 0, 0 };
	fbusi_wire_hello_encode(buf, &h);
}

static void
expect_error(struct rig *r, const char *text)
{
	if (!strstr(fbus_pub_last_error(r->pub), text))
		fail_msg("last error '%s' lacks '%s'",
		         fbus_pub_last_error(r->pub), text);
}

static void
test_pub_wrong_magic(void **state)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct rig *r = *state;

	assert_int_equal(attack(r, http, sizeof http - 1, 0, false),
	                 FBUS_EPROTO);
	expect_error(r, "bad magic");
}

static void
test_pub_wrong_version(void **state)
{
	struct rig *r = *state;
	uint8_t h[FBUSI_WIRE_HELLO_LEN];

	good_hello(h);
	h[4] = 9;
	assert_int_equal(attack(r, h, sizeof h, 0, false),
	                 FBUS_EPROTONOSUPPORT);
	expect_error(r, "version 9");
}

static void
test_pub_oversized_length(void **state)
{
	struct rig *r = *state;
	uint8_t h[FBUSI_WIRE_HELLO_LEN];

	good_hello(h);
	h[6] = 0xff, h[7] = 0xff;
	assert_int_equal(attack(r, h, sizeof h, 0, false), FBUS_EPROTO);
	expect_error(r, "length 65535");
}

static void
test_pub_truncated(void **state)
{
	struct rig *r = *state;
	uint8_t h[FBUSI_WIRE_HELLO_LEN];

	good_hello(h);
	(void)attack(r, h, 10, 0, true);
	expect_error(r, "truncated after 10 of 24");
}

static void
test_pub_crc_mismatch(void **state)
{
	struct rig *r = *state;
	uint8_t h[FBUSI_WIRE_HELLO_LEN];

	good_hello(h);
	h[12] ^= 2; /* depth 4 -> 6: valid, but not what was checksummed */
	assert_int_equal(attack(r, h, sizeof h, 0, false), -EBADMSG);
	expect_error(r, "checksum");
}

static void
test_pub_slowloris(void **state)
{
	struct rig *r = *state;
	uint8_t h[FBUSI_WIRE_HELLO_LEN];
	int64_t t0 = fbus_now_mono_ns();

	good_hello(h);
	assert_int_equal(attack(r, h, sizeof h, 1000, false), FBUS_ETIMEDOUT);
	expect_error(r, "no complete hello within");
	/* dropped at its deadline, long before the 24 s it wanted */
	assert_true(fbus_now_mono_ns() - t0 < 10000000000LL);
}

static void
test_pub_data_after_hello(void **state)
{
	struct rig *r = *state;
	uint8_t h[FBUSI_WIRE_HELLO_LEN + 5];

	good_hello(h);
	memcpy(h + FBUSI_WIRE_HELLO_LEN, "extra", 5);
	(void)attack(r, h, sizeof h, 0, false);
	expect_error(r, "sent data after its hello");
}

/* A fit box of 0x0 (or over 65535) would mean "code at 1/8" to a naive
 * producer: refused, and the honest subscriber is not disturbed. */
static void
test_pub_bad_fit(void **state)
{
	struct rig *r = *state;
	struct fbusi_wire_hello hh = { FBUS_MODE_LATEST, FBUS_FULL_DROP, 4, 0,
		                       FBUSI_WIRE_HELLO_FIT };
	uint8_t h[FBUSI_WIRE_HELLO_LEN + FBUSI_WIRE_FIT_LEN];

	fbusi_wire_hello_encode(h, &hh);
	fbusi_wire_fit_encode(h + FBUSI_WIRE_HELLO_LEN, 0, 0);
	assert_int_equal(attack(r, h, sizeof h, 0, false), FBUS_EPROTO);
	expect_error(r, "fit box of 0x0");
	fbusi_wire_fit_encode(h + FBUSI_WIRE_HELLO_LEN, 416, 70000);
	assert_int_equal(attack(r, h, sizeof h, 0, false), FBUS_EPROTO);
	expect_error(r, "fit box of 416x70000");
}

/* ---- a subscriber fed by a fake producer -------------------------------- */

struct fake {
	char path[300];
	int lfd;
	pthread_t th;
	const uint8_t *script;
	size_t len;
	int gap_ms;   /* > 0: one byte per gap */
	bool welcome; /* send a valid welcome first */
	bool hold;    /* keep the connection open after the script */
	atomic_int done;
};

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	uint8_t hello[FBUSI_WIRE_HELLO_LEN], w[FBUSI_WIRE_WELCOME_LEN];
	struct fbusi_wire_welcome wel = { 0, 1 };
	size_t got = 0;
	int fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return NULL;
	while (got < sizeof hello) {
		ssize_t n = recv(fd, hello + got, sizeof hello - got, 0);
		if (n <= 0)
			goto out;
		got += (size_t)n;
	}
	if (f->welcome) {
		fbusi_wire_welcome_encode(w, &wel);
		(void)!send(fd, w, sizeof w, MSG_NOSIGNAL);
	}
	for (size_t i = 0; i < f->len; i++) {
		if (f->gap_ms <= 0) {
			(void)!send(fd, f->script, f->len, MSG_NOSIGNAL);
			break;
		}
		if (send(fd, f->script + i, 1, MSG_NOSIGNAL) != 1)
			break;
		t_sleep_ms(f->gap_ms);
		if (atomic_load(&f->done))
			break;
	}
	/* hold: the subscriber must give up by itself */
	while (f->hold && !atomic_load(&f->done))
		t_sleep_ms(10);
out:
	close(fd);
	return NULL;
}

static void
fake_start(struct fake *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	make_path(f->path, sizeof f->path);
	strcpy(sa.sun_path, f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(f->lfd, 4), 0);
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void
fake_stop(struct fake *f)
{
	atomic_store(&f->done, 1);
	/* unblock accept if nobody came */
	shutdown(f->lfd, SHUT_RDWR);
	pthread_join(f->th, NULL);
	close(f->lfd);
	unlink(f->path);
}

static struct fbusi_wire_hdr
valid_hdr(void)
{
	struct fbusi_wire_hdr h = { .seq = 1, .pixfmt = FBUS_PIXFMT_GRAY8,
		                    .codec = FBUSI_CODEC_RAW, .width = 100,
		                    .height = 100, .stride = { 100 },
		                    .payload_len = 10000 };
	return h;
}

/* Run `script` against a fresh subscriber; expect next() to fail with
 * `want` and text, twice (the error sticks). */
static void
sub_case(const uint8_t *script, size_t len, int gap_ms, bool hold, int want,
         const char *text, const char *uri_opts)
{
	struct fake f = { .script = script, .len = len, .gap_ms = gap_ms,
		          .welcome = true, .hold = hold };
	struct fbus_sub *sub;
	struct fbus_frame fr;
	char uri[360];
	int rc;

	fake_start(&f);
	snprintf(uri, sizeof uri, "unix:%s%s", f.path, uri_opts ? uri_opts : "");
	CHECK(fbus_sub_open(&sub, uri, NULL));
	rc = fbus_sub_next(sub, &fr, 20000);
	if (rc != want)
		fail_msg("next: %d (%s), want %d; %s", rc, fbus_strerror(rc),
		         want, fbus_sub_last_error(sub));
	if (!strstr(fbus_sub_last_error(sub), text))
		fail_msg("error '%s' lacks '%s'", fbus_sub_last_error(sub),
		         text);
	print_message("  refused: %s\n", fbus_sub_last_error(sub));
	assert_int_equal(fbus_sub_next(sub, &fr, 0), want);
	fbus_sub_close(sub);
	fake_stop(&f);
}

static void
test_sub_wrong_magic(void **state)
{
	uint8_t b[FBUSI_WIRE_HDR_LEN];
	struct fbusi_wire_hdr h = valid_hdr();

	(void)state;
	fbusi_wire_hdr_encode(b, &h);
	memcpy(b, "\x80\x04\x95\x00", 4); /* what a pickle starts with */
	sub_case(b, sizeof b, 0, true, FBUS_EPROTO, "bad magic", NULL);
}

static void
test_sub_wrong_version(void **state)
{
	uint8_t b[FBUSI_WIRE_HDR_LEN];
	struct fbusi_wire_hdr h = valid_hdr();

	(void)state;
	fbusi_wire_hdr_encode(b, &h);
	b[4] = 3;
	sub_case(b, sizeof b, 0, true, FBUS_EPROTONOSUPPORT, "version 3", NULL);
}

static void
test_sub_oversized(void **state)
{
	uint8_t b[FBUSI_WIRE_HDR_LEN];
	struct fbusi_wire_hdr h = valid_hdr();

	(void)state;
	/* 3.75 GiB: the user's original would have tried to allocate it */
	h.payload_len = 0xf0000000u;
	fbusi_wire_hdr_encode(b, &h);
	sub_case(b, sizeof b, 0, true, FBUS_EMSGSIZE, "exceeds the limit",
	         NULL);
	/* an honest frame over the subscriber's own limit */
	h = valid_hdr();
	fbusi_wire_hdr_encode(b, &h);
	sub_case(b, sizeof b, 0, true, FBUS_EMSGSIZE, "of 9999 bytes",
	         "?max=9999");
}

static void
test_sub_truncated(void **state)
{
	uint8_t b[FBUSI_WIRE_HDR_LEN + 5000] = { 0 };
	struct fbusi_wire_hdr h = valid_hdr();

	(void)state;
	fbusi_wire_hdr_encode(b, &h);
	/* half the payload, then the producer closes */
	sub_case(b, sizeof b, 0, false, FBUS_EDISCONNECTED, "truncated",
	         NULL);
}

static void
test_sub_crc_mismatch(void **state)
{
	uint8_t b[FBUSI_WIRE_HDR_LEN];
	struct fbusi_wire_hdr h = valid_hdr();

	(void)state;
	fbusi_wire_hdr_encode(b, &h);
	b[64] ^= 0x10; /* payload length changed in flight */
	sub_case(b, sizeof b, 0, true, -EBADMSG, "checksum", NULL);
}

static void
test_sub_slowloris(void **state)
{
	uint8_t b[FBUSI_WIRE_HDR_LEN];
	struct fbusi_wire_hdr h = valid_hdr();
	int64_t t0 = fbus_now_mono_ns();

	(void)state;
	fbusi_wire_hdr_encode(b, &h);
	/* one byte every 300 ms: the header alone would take 21 s */
	sub_case(b, sizeof b, 300, true, FBUS_EPROTO, "stalled", NULL);
	assert_true(fbus_now_mono_ns() - t0 < 10000000000LL);
}

static void
test_sub_bad_welcome(void **state)
{
	struct fake f = { .welcome = false, .hold = true };
	static const uint8_t junk[40] = "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n";
	struct fbus_sub *sub;
	char uri[360];

	(void)state;
	f.script = junk;
	f.len = sizeof junk;
	fake_start(&f);
	snprintf(uri, sizeof uri, "unix:%s", f.path);
	assert_int_equal(fbus_sub_open(&sub, uri, NULL), FBUS_EPROTO);
	assert_non_null(strstr(fbus_open_error(), "bad magic"));
	fake_stop(&f);
}

static void
test_sub_bad_jpeg(void **state)
{
	uint8_t b[FBUSI_WIRE_HDR_LEN + 300];
	struct fbusi_wire_hdr h = valid_hdr();

	(void)state;
	if (fbusi_jpeg_load(NULL))
		skip();
	h.codec = FBUSI_CODEC_JPEG;
	h.stride[0] = 0;
	h.payload_len = 300;
	fbusi_wire_hdr_encode(b, &h);
	memset(b + FBUSI_WIRE_HDR_LEN, 0x5a, 300);
	sub_case(b, sizeof b, 0, true, FBUS_EPROTO, "jpeg", NULL);
}

/* A real JPEG of a 16x16 grey frame, its size fields (SOF) claiming
 * claim_w x claim_h, behind a frame header that agrees with them. */
static size_t
jpeg_script(uint8_t *b, size_t cap, uint32_t claim_w, uint32_t claim_h,
            uint32_t pixfmt)
{
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_GRAY8, .width = 16,
		                 .height = 16 };
	struct fbusi_wire_hdr h = valid_hdr();
	struct fbusi_jpeg *j;
	uint8_t px[16 * 16], *jpg = b + FBUSI_WIRE_HDR_LEN;
	uint32_t n = 0;
	size_t i;

	CHECK(fbus_format_layout(&f));
	memset(px, 0x80, sizeof px);
	CHECK(fbusi_jpeg_open(&j, 1, NULL));
	assert_true(FBUSI_WIRE_HDR_LEN + fbusi_jpeg_bound(&f) <= cap);
	CHECK(fbusi_jpeg_encode(j, &f, px, 90, jpg, cap - FBUSI_WIRE_HDR_LEN,
	                        &n, NULL));
	fbusi_jpeg_close(j);
	for (i = 2; i + 9 < n; i++)
		if (jpg[i] == 0xff && (jpg[i + 1] == 0xc0 || jpg[i + 1] == 0xc2))
			break;
	assert_true(i + 9 < n); /* SOF: ff c0, length, precision, h, w */
	jpg[i + 5] = (uint8_t)(claim_h >> 8), jpg[i + 6] = (uint8_t)claim_h;
	jpg[i + 7] = (uint8_t)(claim_w >> 8), jpg[i + 8] = (uint8_t)claim_w;
	h.codec = FBUSI_CODEC_JPEG;
	h.pixfmt = pixfmt;
	h.width = claim_w;
	h.height = claim_h;
	h.stride[0] = 0;
	h.payload_len = n;
	fbusi_wire_hdr_encode(b, &h);
	return FBUSI_WIRE_HDR_LEN + n;
}

static long
max_rss_mb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024;
}

/* A JPEG bomb: a few hundred bytes that claim 16384x16384 (805 MB as
 * BGR).  Refused before anything is allocated or decoded: by the default
 * ceiling, and with the ceiling raised by what so few bytes can hold. */
static void
test_sub_jpeg_bomb(void **state)
{
	static uint8_t b[FBUSI_WIRE_HDR_LEN + 65536];
	struct fake f = { .welcome = true, .hold = true };
	struct fbus_sub *sub;
	struct fbus_frame fr;
	char uri[360];
	long rss0;
	size_t n;

	(void)state;
	if (fbusi_jpeg_load(NULL))
		skip();
	/* the same bytes, telling the truth, are a frame */
	f.script = b;
	f.len = jpeg_script(b, sizeof b, 16, 16, FBUS_PIXFMT_GRAY8);
	fake_start(&f);
	snprintf(uri, sizeof uri, "unix:%s", f.path);
	CHECK(fbus_sub_open(&sub, uri, NULL));
	CHECK(fbus_sub_next(sub, &fr, 5000));
	assert_int_equal(fr.fmt.width, 16);
	assert_int_equal(fr.fmt.pixfmt, FBUS_PIXFMT_GRAY8);
	assert_true(fr.data[0] >= 0x7c && fr.data[0] <= 0x84);
	fbus_sub_release(sub, &fr);
	fbus_sub_close(sub);
	fake_stop(&f);

	rss0 = max_rss_mb();
	n = jpeg_script(b, sizeof b, 16384, 16384, FBUS_PIXFMT_BGR24);
	print_message("  a %zu-byte jpeg that claims 16384x16384\n",
	              n - FBUSI_WIRE_HDR_LEN);
	sub_case(b, n, 0, true, FBUS_EMSGSIZE, "raise it with ?max=", NULL);
	sub_case(b, n, 0, true, FBUS_EPROTO, "decompression bomb",
	         "?max=1073741824");
	/* under the ceiling (16 MB), still far more than the bytes hold */
	n = jpeg_script(b, sizeof b, 4096, 4096, FBUS_PIXFMT_GRAY8);
	sub_case(b, n, 0, true, FBUS_EPROTO, "decompression bomb", NULL);
	/* nothing near the claimed sizes was ever touched */
	print_message("  peak RSS %ld MB before, %ld MB after\n", rss0,
	              max_rss_mb());
	assert_true(max_rss_mb() - rss0 < 64);
}

/* A producer may code a JPEG at 1/2^n only as far as the subscriber's
 * box allows, and the JPEG must be that size: a 16x16 JPEG stands for a
 * 32x32 frame coded at 1/2. */
static void
test_sub_scaled_jpeg(void **state)
{
	static uint8_t b[FBUSI_WIRE_HDR_LEN + 4096];
	struct fbusi_wire_hdr h;
	struct fake f = { .welcome = true, .hold = true };
	struct fbus_sub *sub;
	struct fbus_frame fr;
	char uri[360];
	size_t n;

	(void)state;
	if (fbusi_jpeg_load(NULL))
		skip();
	n = jpeg_script(b, sizeof b, 16, 16, FBUS_PIXFMT_GRAY8);
	CHECK(fbusi_wire_hdr_parse(b, sizeof b, &h, NULL, NULL));
	h.width = h.height = 32;
	h.stride[0] = 1;
	fbusi_wire_hdr_encode(b, &h);
	/* asked for no box: a smaller frame is not what it subscribed to */
	sub_case(b, n, 0, true, FBUS_EPROTO, "smaller than our ?fit= box", NULL);
	/* a 32x32 box needs the whole frame */
	sub_case(b, n, 0, true, FBUS_EPROTO, "smaller than our ?fit= box",
	         "?fit=32x32");
	/* a 16x16 box takes it, and is told the scale */
	f.script = b;
	f.len = n;
	fake_start(&f);
	snprintf(uri, sizeof uri, "unix:%s?fit=16x16", f.path);
	CHECK(fbus_sub_open(&sub, uri, NULL));
	CHECK(fbus_sub_next(sub, &fr, 5000));
	assert_int_equal(fr.fmt.width, 16);
	assert_int_equal(fbus_frame_scale(&fr), 2);
	fbus_sub_release(sub, &fr);
	fbus_sub_close(sub);
	fake_stop(&f);
	/* the header's size at that scale must be the JPEG's */
	h.width = 40;
	fbusi_wire_hdr_encode(b, &h);
	sub_case(b, n, 0, true, FBUS_EPROTO, "header says 40x32 at 1/2",
	         "?fit=16x16");
	/* no scale past 1/8 */
	h.width = 32;
	h.stride[0] = 4;
	fbusi_wire_hdr_encode(b, &h);
	sub_case(b, n, 0, true, FBUS_EPROTO, "coded at scale 1/2^4", "?fit=1x1");
}

/* A group member that replaces a frame it never delivered still counts
 * what the producer told it in that frame's header: seq 2 (after one
 * skip), 4 (after one), 5, read at once, deliver 5 with 4 skipped; read
 * one by one, the same 5 in all. */
static void
test_sub_group_skips_replaced(void **state)
{
	static const uint64_t seqs[] = { 2, 4, 5 };
	static const uint32_t told[] = { 1, 1, 0 };
	static uint8_t b[3 * (FBUSI_WIRE_HDR_LEN + 16)];
	struct fake f = { .script = b, .len = sizeof b, .welcome = true,
		          .hold = true };
	struct fbus_sub *sub;
	struct fbus_frame fr;
	struct fbus_sub_stats st;
	uint64_t total = 0, last = 0;
	char uri[360];

	(void)state;
	for (int i = 0; i < 3; i++) {
		uint8_t *m = b + (size_t)i * (FBUSI_WIRE_HDR_LEN + 16);
		struct fbusi_wire_hdr h = valid_hdr();

		h.seq = seqs[i];
		h.width = h.height = h.stride[0] = 4;
		h.payload_len = 16;
		fbusi_wire_hdr_encode(m, &h);
		fbusi_wire_hdr_set_group(m, told[i]);
		memset(m + FBUSI_WIRE_HDR_LEN, (int)seqs[i], 16);
	}
	fake_start(&f);
	snprintf(uri, sizeof uri, "unix:%s?group=g", f.path);
	CHECK(fbus_sub_open(&sub, uri, NULL));
	t_sleep_ms(200); /* let all three arrive before the first read */
	while (last < 5) {
		CHECK(fbus_sub_next(sub, &fr, 5000));
		assert_true(fr.seq > last);
		last = fr.seq;
		total += 1 + fr.skipped;
		fbus_sub_release(sub, &fr);
	}
	assert_int_equal(total, 5);
	CHECK(fbus_sub_stats(sub, &st));
	assert_int_equal(st.frames + st.skipped, 5);
	fbus_sub_close(sub);
	fake_stop(&f);
}

#define R(f) cmocka_unit_test_setup_teardown(f, rig_setup, rig_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		R(test_pub_wrong_magic),
		R(test_pub_wrong_version),
		R(test_pub_oversized_length),
		R(test_pub_truncated),
		R(test_pub_crc_mismatch),
		R(test_pub_slowloris),
		R(test_pub_bad_fit),
		R(test_pub_data_after_hello),
		cmocka_unit_test(test_sub_wrong_magic),
		cmocka_unit_test(test_sub_wrong_version),
		cmocka_unit_test(test_sub_oversized),
		cmocka_unit_test(test_sub_truncated),
		cmocka_unit_test(test_sub_crc_mismatch),
		cmocka_unit_test(test_sub_slowloris),
		cmocka_unit_test(test_sub_bad_welcome),
		cmocka_unit_test(test_sub_bad_jpeg),
		cmocka_unit_test(test_sub_jpeg_bomb),
		cmocka_unit_test(test_sub_scaled_jpeg),
		cmocka_unit_test(test_sub_group_skips_replaced),
	};
	if (getenv("T_FILTER"))
		cmocka_set_test_filter(getenv("T_FILTER"));
	t_watchdog(55);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

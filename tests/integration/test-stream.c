/* SPDX-License-Identifier: MIT */
/*
 * test-stream.c — the unix: and tcp:// transports end to end in one process
 * (the publisher's I/O thread plus subscribers, also run under TSan): round
 * trips of every pixel format raw and JPEG (PSNR), several subscribers,
 * latest mode with a subscriber that stopped reading, every mode with drop
 * and block, open errors, limits and the allow-list (issue #6); the life
 * cycle every transport shares is in tests/conformance/.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jpeg_codec.h"
#include "testutil.h"
#include "check.h"

enum { UNIX, TCP };

static int
free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
		                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static const char *
tmpdir(void)
{
	const char *d = getenv("FBUS_TEST_TMP");
	return d && *d ? d : "/tmp";
}

/* A fresh URI; opts is appended after '?' when non-empty. */
static char *
make_uri(char *buf, size_t n, int scheme, const char *opts)
{
	const char *q = opts && *opts ? "?" : "";

	if (scheme == UNIX)
		snprintf(buf, n, "unix:%s/%s.sock%s%s", tmpdir(),
		         t_unique_name("st"), q, opts ? opts : "");
	else
		snprintf(buf, n, "tcp://127.0.0.1:%d%s%s", free_port(), q,
		         opts ? opts : "");
	return buf;
}

static void
wait_subscribers(struct fbus_pub *pub, uint32_t n)
{
	struct fbus_pub_stats st;

	for (int i = 0; i < 1000; i++) {
		CHECK(fbus_pub_stats(pub, &st));
		if (st.subscribers == n)
			return;
		t_sleep_ms(5);
	}
	fail_msg("publisher has %u subscribers, want %u", st.subscribers, n);
}

static struct fbus_sub_opts
sub_opts(uint32_t mode)
{
	struct fbus_sub_opts o = { .size = sizeof o, .mode = mode };
	return o;
}

static void
fill_noise(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < n; i++) {
		x = x * 1664525u + 1013904223u;
		p[i] = (uint8_t)(x >> 24);
	}
}

/* ---- raw round trips ------------------------------------------------------ */

static void
roundtrip_raw(int scheme)
{
	for (uint32_t pf = FBUS_PIXFMT_BGR24; pf < _FBUS_PIXFMT_COUNT; pf++) {
		struct fbus_format f = { .pixfmt = pf, .width = 96, .height = 64 };
		struct fbus_sub_opts so = sub_opts(FBUS_MODE_EVERY);
		struct fbus_pub *pub;
		struct fbus_sub *sub;
		struct fbus_frame fr;
		struct fbus_slot slot;
		uint8_t meta[100];
		char uri[300];
		int64_t seq;

		if (pf == FBUS_PIXFMT_ENCODED)
			f.size = 12345;
		if (pf == FBUS_PIXFMT_BGRA)
			f.stride[0] = 96 * 4 + 64; /* padded rows travel too */
		assert_int_equal(fbus_format_layout(&f), 0);
		make_uri(uri, sizeof uri, scheme, NULL);
		CHECK(fbus_pub_open(&pub, uri, NULL));
		CHECK(fbus_sub_open(&sub, uri, &so));
		wait_subscribers(pub, 1);

		/* zero-copy style: loan, write, commit */
		CHECK(fbus_pub_loan(pub, &f, &slot));
		assert_true(slot.capacity >= f.size);
		fill_noise(slot.data, f.size, pf);
		fill_noise(meta, sizeof meta, 1000 + pf);
		memcpy(slot.meta, meta, sizeof meta);
		slot.meta_bytes = sizeof meta;
		slot.payload_bytes = f.size;
		slot.t_mono_ns = 111;
		slot.t_real_ns = 222;
		seq = fbus_pub_commit(pub, &slot);
		assert_int_equal(seq, 1);

		CHECK(fbus_sub_next(sub, &fr, 5000));
		assert_int_equal(fr.seq, 1);
		assert_int_equal(fr.t_mono_ns, 111);
		assert_int_equal(fr.t_real_ns, 222);
		assert_memory_equal(&fr.fmt, &f, sizeof f);
		assert_int_equal(fr.payload_bytes, f.size);
		assert_int_equal(fr.meta_bytes, sizeof meta);
		assert_memory_equal(fr.meta, meta, sizeof meta);
		{
			uint8_t *want = malloc(f.size);
			fill_noise(want, f.size, pf);
			assert_memory_equal(fr.data, want, f.size);
			free(want);
		}
		fbus_sub_release(sub, &fr);

		/* the copying path, no metadata */
		{
			uint8_t *buf = malloc(f.size);
			fill_noise(buf, f.size, 77);
			assert_int_equal(fbus_pub_send(pub, &f, buf, f.size,
			                               NULL, 0),
			                 2);
			CHECK(fbus_sub_next(sub, &fr, 5000));
			assert_int_equal(fr.seq, 2);
			assert_int_equal(fr.meta_bytes, 0);
			assert_int_equal(fr.skipped, 0);
			assert_memory_equal(fr.data, buf, f.size);
			free(buf);
		}
		fbus_sub_close(sub);
		fbus_pub_close(pub);
	}
}

static void
test_raw_roundtrip_unix(void **state)
{
	(void)state;
	roundtrip_raw(UNIX);
}

static void
test_raw_roundtrip_tcp(void **state)
{
	(void)state;
	roundtrip_raw(TCP);
}

/* ---- JPEG round trips ----------------------------------------------------- */

/* A smooth test image: JPEG's home ground, so PSNR is a fair gate. */
static void
fill_smooth(const struct fbus_format *f, uint8_t *p)
{
	for (uint32_t y = 0; y < f->height; y++)
		for (uint32_t x = 0; x < f->width; x++) {
			uint8_t r = (uint8_t)(x * 255 / f->width);
			uint8_t g = (uint8_t)(y * 255 / f->height);
			uint8_t b = (uint8_t)(128 + 100 * sin(x * 0.05) *
			                                    cos(y * 0.07));
			uint8_t *q = p + (size_t)y * f->stride[0];
			switch (f->pixfmt) {
			case FBUS_PIXFMT_BGR24:
				q[3 * x] = b, q[3 * x + 1] = g, q[3 * x + 2] = r;
				break;
			case FBUS_PIXFMT_RGB24:
				q[3 * x] = r, q[3 * x + 1] = g, q[3 * x + 2] = b;
				break;
			default:
				q[x] = (uint8_t)((r + g + b) / 3);
			}
		}
}

static void
pixel_rgb(const struct fbus_format *f, const uint8_t *p, uint32_t x,
          uint32_t y, double rgb[3])
{
	const uint8_t *q = p + (size_t)y * f->stride[0];

	switch (f->pixfmt) {
	case FBUS_PIXFMT_BGR24:
		rgb[0] = q[3 * x + 2], rgb[1] = q[3 * x + 1], rgb[2] = q[3 * x];
		break;
	case FBUS_PIXFMT_RGB24:
		rgb[0] = q[3 * x], rgb[1] = q[3 * x + 1], rgb[2] = q[3 * x + 2];
		break;
	case FBUS_PIXFMT_BGRA:
		rgb[0] = q[4 * x + 2], rgb[1] = q[4 * x + 1], rgb[2] = q[4 * x];
		break;
	default:
		rgb[0] = rgb[1] = rgb[2] = q[x];
	}
}

/* PSNR of got against ref; a gray image is compared by luma. */
static double
psnr(const struct fbus_format *rf, const uint8_t *ref,
     const struct fbus_format *gf, const uint8_t *got)
{
	double se = 0;
	size_t n = 0;

	for (uint32_t y = 0; y < rf->height; y++)
		for (uint32_t x = 0; x < rf->width; x++) {
			double a[3], b[3];
			pixel_rgb(rf, ref, x, y, a);
			pixel_rgb(gf, got, x, y, b);
			if (gf->pixfmt == FBUS_PIXFMT_GRAY8 &&
			    rf->pixfmt != FBUS_PIXFMT_GRAY8) {
				double l = 0.299 * a[0] + 0.587 * a[1] +
				           0.114 * a[2];
				se += (l - b[0]) * (l - b[0]);
				n++;
				continue;
			}
			for (int c = 0; c < 3; c++)
				se += (a[c] - b[c]) * (a[c] - b[c]);
			n += 3;
		}
	if (se == 0)
		return 99;
	return 10 * log10(255.0 * 255.0 / (se / (double)n));
}

static void
roundtrip_jpeg(int scheme)
{
	static const uint32_t in[] = { FBUS_PIXFMT_BGR24, FBUS_PIXFMT_RGB24,
		                       FBUS_PIXFMT_GRAY8 };
	static const uint32_t out[] = { 0, FBUS_PIXFMT_BGR24, FBUS_PIXFMT_RGB24,
		                        FBUS_PIXFMT_BGRA, FBUS_PIXFMT_GRAY8,
		                        FBUS_PIXFMT_ENCODED };
	struct fbusi_err err;

	if (fbusi_jpeg_load(&err)) {
		print_message("skipping jpeg: %s\n", err.msg);
		skip();
	}
	for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
		struct fbus_format f = { .pixfmt = in[i], .width = 320,
			                 .height = 240 };
		struct fbus_sub *subs[6];
		struct fbus_pub *pub;
		uint8_t *img;
		char uri[300];

		assert_int_equal(fbus_format_layout(&f), 0);
		img = malloc(f.size);
		fill_smooth(&f, img);
		make_uri(uri, sizeof uri, scheme, "codec=jpeg&quality=90");
		CHECK(fbus_pub_open(&pub, uri, NULL));
		for (size_t o = 0; o < 6; o++) {
			struct fbus_sub_opts so = sub_opts(FBUS_MODE_EVERY);
			so.pixfmt = out[o];
			CHECK(fbus_sub_open(&subs[o], uri, &so));
		}
		wait_subscribers(pub, 6);
		assert_int_equal(fbus_pub_send(pub, &f, img, f.size, "m", 1), 1);
		for (size_t o = 0; o < 6; o++) {
			struct fbus_frame fr;
			uint32_t want = out[o] ? out[o] : in[i];

			CHECK(fbus_sub_next(subs[o], &fr, 5000));
			assert_int_equal(fr.seq, 1);
			assert_int_equal(fr.meta_bytes, 1);
			assert_int_equal(fr.fmt.pixfmt, want);
			assert_int_equal(fr.fmt.width, 320);
			assert_int_equal(fr.fmt.height, 240);
			if (want == FBUS_PIXFMT_ENCODED) {
				/* the JPEG itself, far smaller than raw */
				assert_true(fr.payload_bytes < f.size / 3);
				assert_int_equal(fr.data[0], 0xff);
				assert_int_equal(fr.data[1], 0xd8);
			} else {
				double db = psnr(&f, img, &fr.fmt, fr.data);
				if (db < 30)
					fail_msg("%s -> %s: PSNR %.1f dB < 30",
					         fbus_pixfmt_name(in[i]),
					         fbus_pixfmt_name(want), db);
				if (want == FBUS_PIXFMT_BGRA)
					assert_int_equal(fr.data[3], 255);
			}
			fbus_sub_close(subs[o]);
		}
		fbus_pub_close(pub);
		free(img);
	}
}

/* A smooth picture of layout f for the JPEG tests (skipped without
 * libturbojpeg). */
static uint8_t *
jpeg_test_frame(struct fbus_format *f)
{
	uint8_t *img;

	if (fbusi_jpeg_load(NULL))
		skip();
	assert_int_equal(fbus_format_layout(f), 0);
	img = malloc(f->size);
	assert_non_null(img);
	fill_smooth(f, img);
	return img;
}

/* Mean error, in levels, of a frame decoded at 1/n against the BGR
 * picture img (layout f) averaged over n x n blocks. */
static double
box_error(const struct fbus_format *f, const uint8_t *img,
          const struct fbus_frame *q, uint32_t n)
{
	double err = 0;

	for (uint32_t y = 0; y < q->fmt.height; y++)
		for (uint32_t x = 0; x < q->fmt.width; x++)
			for (uint32_t c = 0; c < 3; c++) {
				uint32_t sum = 0;

				for (uint32_t dy = 0; dy < n; dy++)
					for (uint32_t dx = 0; dx < n; dx++)
						sum += img[(size_t)(n * y + dy) * f->stride[0] +
						           (n * x + dx) * 3 + c];
				err += abs((int)(sum / (n * n)) -
				           (int)q->data[(size_t)y * q->fmt.stride[0] +
				                        x * 3 + c]);
			}
	return err / ((double)q->fmt.width * q->fmt.height * 3);
}

/* ?threads=2: a 1080p frame is encoded in strips stitched with restart
 * markers -- the same coefficients as one encode, so any decoder gives
 * the same pixels -- and a subscriber with threads=2 decodes it in parts
 * (only the chroma filter's rows at a part's edge may differ).  ?fit=WxH:
 * decoded at 1/N, N from fbus_frame_scale(), close to the full picture
 * scaled down. */
static void
test_jpeg_threads_and_fit(void **state)
{
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_BGR24, .width = 1920,
		                 .height = 1080 };
	static const char *subq[] = { "&threads=1", "&threads=2", "&fit=416x416",
		                      "&fit=100x100", "&format=encoded",
		                      "&fit=1920x1080" };
	enum { N_SUB = sizeof subq / sizeof subq[0] };
	struct fbus_pub *pub[2];
	struct fbus_sub *sub[2][N_SUB];
	struct fbus_frame fr[2][N_SUB];
	char base[2][300], uri[700];
	uint8_t *img;

	(void)state;
	img = jpeg_test_frame(&f);
	/* pub 0 encodes in one piece, pub 1 in strips */
	for (int p = 0; p < 2; p++) {
		make_uri(base[p], sizeof base[p], UNIX,
		         p ? "codec=jpeg&threads=2" : "codec=jpeg");
		CHECK(fbus_pub_open(&pub[p], base[p], NULL));
		for (int k = 0; k < N_SUB; k++) {
			struct fbus_sub_opts so = sub_opts(FBUS_MODE_EVERY);

			snprintf(uri, sizeof uri, "%s%s", base[p], subq[k]);
			CHECK(fbus_sub_open(&sub[p][k], uri, &so));
		}
		wait_subscribers(pub[p], N_SUB);
		assert_int_equal(fbus_pub_send(pub[p], &f, img, f.size, NULL, 0),
		                 1);
		for (int k = 0; k < N_SUB; k++)
			CHECK(fbus_sub_next(sub[p][k], &fr[p][k], 5000));
	}
	/* the strips' JPEG: restart markers; the plain one: none */
	assert_int_equal(fr[0][4].fmt.pixfmt, FBUS_PIXFMT_ENCODED);
	assert_null(memmem(fr[0][4].data, fr[0][4].payload_bytes, "\xff\xdd", 2));
	assert_non_null(memmem(fr[1][4].data, fr[1][4].payload_bytes, "\xff\xdd", 2));
	assert_non_null(memmem(fr[1][4].data, fr[1][4].payload_bytes, "\xff\xd0", 2));
	/* decoded whole, both JPEGs are the same picture, pixel for pixel */
	assert_memory_equal(fr[0][0].data, fr[1][0].data, f.size);
	assert_true(psnr(&f, img, &fr[0][0].fmt, fr[0][0].data) > 30);
	/* decoded in parts: the same but for rows at a part's edge */
	for (int p = 0; p < 2; p++) {
		const uint8_t *a = fr[p][0].data, *b = fr[p][1].data;
		uint32_t rows_off = 0;

		for (uint32_t y = 0; y < f.height; y++) {
			const uint8_t *ra = a + (size_t)y * f.stride[0];
			const uint8_t *rb = b + (size_t)y * f.stride[0];

			if (memcmp(ra, rb, (size_t)f.width * 3) == 0)
				continue;
			rows_off++;
			for (uint32_t x = 0; x < f.width * 3; x++)
				if (abs((int)ra[x] - (int)rb[x]) > 8)
					fail_msg("pub %d: parts decode differs by "
					         "%d at row %u", p,
					         abs((int)ra[x] - (int)rb[x]), y);
		}
		/* a part's edge touches a row or two each side */
		assert_true(rows_off <= (p ? 4u * 3 : 0u));
	}
	/* fit: 1/4 for a 416x416 box (480x270 still fills it), 1/8 at
	 * most, 1 when the box is the picture */
	for (int p = 0; p < 2; p++) {
		static const uint32_t want_scale[] = { 1, 1, 4, 8, 1, 1 };

		for (int k = 0; k < N_SUB; k++) {
			if (k == 4)
				continue;
			assert_int_equal(fbus_frame_scale(&fr[p][k]), want_scale[k]);
			assert_int_equal(fr[p][k].fmt.width,
			                 (1920 + want_scale[k] - 1) / want_scale[k]);
			assert_int_equal(fr[p][k].fmt.height,
			                 (1080 + want_scale[k] - 1) / want_scale[k]);
		}
		/* the 480x270 picture is the full one, averaged 4x4 */
		assert_true(box_error(&f, img, &fr[p][2], 4) <= 6);
		for (int k = 0; k < N_SUB; k++) {
			fbus_sub_release(sub[p][k], &fr[p][k]);
			fbus_sub_close(sub[p][k]);
		}
		fbus_pub_close(pub[p]);
	}
	/* bad values are refused, and fit is a subscriber's */
	make_uri(uri, sizeof uri, UNIX, "codec=jpeg&threads=5");
	assert_int_equal(fbus_pub_open(&pub[0], uri, NULL), FBUS_EINVAL);
	make_uri(uri, sizeof uri, UNIX, "fit=416");
	assert_int_equal(fbus_sub_open(&sub[0][0], uri, NULL), FBUS_EINVAL);
	assert_non_null(strstr(fbus_open_error(), "WxH"));
	make_uri(uri, sizeof uri, UNIX, "fit=416x416");
	assert_int_equal(fbus_pub_open(&pub[0], uri, NULL), FBUS_EINVAL);
	assert_non_null(strstr(fbus_open_error(), "subscriber option"));
	assert_int_equal(fbus_sub_open(&sub[0][0], "shm:x?fit=4x4", NULL),
	                 FBUS_EINVAL);
	free(img);
}

/* When every subscriber has a ?fit= box, the producer codes the JPEG at
 * the largest scale they all allow, shrinking the frame first: 1/16 of
 * the pixels through the codec for a 416x416 box on 1080p.  A subscriber
 * with a smaller box scales the rest itself; one without a box brings the
 * next frames back to full size, and every subscriber still gets what it
 * asked for. */
static void
test_jpeg_coded_at_fit(void **state)
{
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_BGR24, .width = 1920,
		                 .height = 1080 };
	static const char *subq[] = { "&format=encoded&fit=416x416",
		                      "&fit=100x100", "&fit=416x416", "" };
	static const uint32_t scale[2][4] = { { 4, 8, 4, 1 }, { 1, 8, 4, 1 } };
	struct fbus_sub *sub[4];
	struct fbus_frame fr[4];
	struct fbus_pub *pub;
	char base[300], uri[700];
	uint32_t small_bytes = 0;
	uint8_t *img;

	(void)state;
	img = jpeg_test_frame(&f);
	make_uri(base, sizeof base, UNIX, "codec=jpeg");
	CHECK(fbus_pub_open(&pub, base, NULL));
	/* round 0: three subscribers with boxes; round 1: one without */
	for (int round = 0; round < 2; round++) {
		int nsub = round ? 4 : 3;

		for (int k = round ? 3 : 0; k < nsub; k++) {
			struct fbus_sub_opts so = sub_opts(FBUS_MODE_EVERY);

			snprintf(uri, sizeof uri, "%s%s", base, subq[k]);
			CHECK(fbus_sub_open(&sub[k], uri, &so));
		}
		wait_subscribers(pub, (uint32_t)nsub);
		assert_int_equal(fbus_pub_send(pub, &f, img, f.size, NULL, 0),
		                 round + 1);
		for (int k = 0; k < nsub; k++) {
			uint32_t n = scale[round][k];

			CHECK(fbus_sub_next(sub[k], &fr[k], 5000));
			assert_int_equal(fbus_frame_scale(&fr[k]), n);
			assert_int_equal(fr[k].fmt.width, (1920 + n - 1) / n);
			assert_int_equal(fr[k].fmt.height, (1080 + n - 1) / n);
			if (k > 0)
				assert_true(box_error(&f, img, &fr[k], n) <= 6);
		}
		/* the JPEG as sent: 480x270 coded with colour at full
		 * resolution (luma sampling 1x1, 4:4:4), then 1920x1080 at
		 * 4:2:0 (2x2) */
		{
			const uint8_t *sof = memmem(fr[0].data, fr[0].payload_bytes,
			                            "\xff\xc0", 2);

			assert_non_null(sof);
			assert_int_equal(sof[9], 3);  /* components */
			assert_int_equal(sof[11], round ? 0x22 : 0x11);
		}
		print_message("  round %d: the jpeg as sent is %u bytes\n", round,
		              fr[0].payload_bytes);
		assert_int_equal(fr[0].fmt.pixfmt, FBUS_PIXFMT_ENCODED);
		if (round == 0)
			small_bytes = fr[0].payload_bytes;
		else
			assert_true(fr[0].payload_bytes > 3 * small_bytes);
		for (int k = 0; k < nsub; k++)
			fbus_sub_release(sub[k], &fr[k]);
	}
	for (int k = 0; k < 4; k++)
		fbus_sub_close(sub[k]);
	fbus_pub_close(pub);
	free(img);
}

static void
test_jpeg_roundtrip_unix(void **state)
{
	(void)state;
	roundtrip_jpeg(UNIX);
}

static void
test_jpeg_roundtrip_tcp(void **state)
{
	(void)state;
	roundtrip_jpeg(TCP);
}

/* format= in the subscriber's URI does what opts.pixfmt does */
static void
test_jpeg_format_option(void **state)
{
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_BGR24, .width = 64,
		                 .height = 32 };
	struct fbus_pub *pub;
	struct fbus_sub *sub;
	struct fbus_frame fr;
	char uri[300], suri[320];
	uint8_t *img;

	(void)state;
	img = jpeg_test_frame(&f);
	make_uri(uri, sizeof uri, UNIX, "codec=jpeg");
	snprintf(suri, sizeof suri, "%s&format=gray8", uri);
	CHECK(fbus_pub_open(&pub, uri, NULL));
	CHECK(fbus_sub_open(&sub, suri, NULL));
	wait_subscribers(pub, 1);
	CHECK(fbus_pub_send(pub, &f, img, f.size, NULL, 0));
	CHECK(fbus_sub_next(sub, &fr, 5000));
	assert_int_equal(fr.fmt.pixfmt, FBUS_PIXFMT_GRAY8);
	assert_int_equal(fr.payload_bytes, 64 * 32);
	fbus_sub_close(sub);

	/* a format JPEG cannot be decoded into is refused at open */
	snprintf(suri, sizeof suri, "%s&format=nv12", uri);
	assert_int_equal(fbus_sub_open(&sub, suri, NULL), FBUS_EINVAL);
	assert_non_null(strstr(fbus_open_error(), "jpeg decodes only"));

	/* already-encoded bytes travel as they are, never re-encoded */
	{
		struct fbus_format e = { .pixfmt = FBUS_PIXFMT_ENCODED,
			                 .width = 64, .height = 32 };
		static const uint8_t blob[] = "opaque bytes";
		struct fbus_sub *raw;
		CHECK(fbus_sub_open(&raw, uri, NULL));
		wait_subscribers(pub, 1);
		CHECK(fbus_pub_send(pub, &e, blob, sizeof blob, NULL, 0));
		CHECK(fbus_sub_next(raw, &fr, 5000));
		assert_int_equal(fr.fmt.pixfmt, FBUS_PIXFMT_ENCODED);
		assert_int_equal(fr.payload_bytes, sizeof blob);
		assert_memory_equal(fr.data, blob, sizeof blob);
		fbus_sub_close(raw);
	}

	/* and the encoder takes only what JPEG can hold */
	{
		struct fbus_format nv = { .pixfmt = FBUS_PIXFMT_NV12,
			                  .width = 64, .height = 32 };
		struct fbus_slot slot;
		assert_int_equal(fbus_pub_loan(pub, &nv, &slot), FBUS_ENOTSUP);
		assert_non_null(strstr(fbus_pub_last_error(pub), "nv12"));
	}
	fbus_pub_close(pub);
	free(img);
}

/* Runs in a fresh process (the library is loaded once per process). */
static int
jpeg_missing_child(void)
{
	struct fbus_pub *pub;
	char uri[300];
	int rc;

	fbusi_jpeg_set_soname("libturbojpeg-framebus-missing.so.0");
	make_uri(uri, sizeof uri, UNIX, "codec=jpeg");
	rc = fbus_pub_open(&pub, uri, NULL);
	if (rc != FBUS_ENOTSUP || !strstr(fbus_open_error(), "libturbojpeg0")) {
		fprintf(stderr, "rc %d: %s\n", rc, fbus_open_error());
		return 1;
	}
	return 0;
}

/* Without libturbojpeg, codec=jpeg fails clearly. */
static void
test_jpeg_missing_library(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/proc/self/exe", "test-stream", "--jpeg-missing",
		      (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- several subscribers, modes ------------------------------------------ */

static void
test_many_subscribers(void **state)
{
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_GRAY8, .width = 64,
		                 .height = 64 };
	struct fbus_sub *subs[5];
	struct fbus_pub *pub;
	char uri[300];
	uint8_t img[64 * 64];

	(void)state;
	assert_int_equal(fbus_format_layout(&f), 0);
	make_uri(uri, sizeof uri, TCP, NULL);
	CHECK(fbus_pub_open(&pub, uri, NULL));
	for (int i = 0; i < 5; i++) {
		struct fbus_sub_opts so = sub_opts(FBUS_MODE_EVERY);
		so.depth = 32;
		CHECK(fbus_sub_open(&subs[i], uri, &so));
	}
	wait_subscribers(pub, 5);
	for (int n = 1; n <= 20; n++) {
		memset(img, n, sizeof img);
		assert_int_equal(fbus_pub_send(pub, &f, img, sizeof img, &n,
		                               sizeof n),
		                 n);
	}
	for (int i = 0; i < 5; i++)
		for (int n = 1; n <= 20; n++) {
			struct fbus_frame fr;
			CHECK(fbus_sub_next(subs[i], &fr, 5000));
			assert_int_equal(fr.seq, n);
			assert_int_equal(fr.data[100], n);
			assert_int_equal(*(const int *)fr.meta, n);
		}
	for (int i = 0; i < 5; i++) {
		struct fbus_sub_stats st;
		CHECK(fbus_sub_stats(subs[i], &st));
		assert_int_equal(st.frames, 20);
		assert_int_equal(st.dropped, 0);
		fbus_sub_close(subs[i]);
	}
	fbus_pub_close(pub);
}

/*
 * Latest mode: a subscriber that stops reading does not slow the publisher,
 * and when it reads again it gets the newest frame, not a backlog.
 */
static void
latest_stalled(int scheme)
{
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_BGR24, .width = 640,
		                 .height = 480 };
	struct fbus_sub *stalled, *reader;
	struct fbus_pub *pub;
	struct fbus_frame fr;
	struct fbus_sub_stats st;
	int64_t worst = 0, last = 0;
	uint8_t *img;
	char uri[300];
	const int N = 150;
	int got = 0;

	assert_int_equal(fbus_format_layout(&f), 0);
	img = calloc(1, f.size);
	make_uri(uri, sizeof uri, scheme, NULL);
	CHECK(fbus_pub_open(&pub, uri, NULL));
	CHECK(fbus_sub_open(&stalled, uri, NULL));
	CHECK(fbus_sub_open(&reader, uri, NULL));
	wait_subscribers(pub, 2);
	for (int n = 1; n <= N; n++) {
		int64_t t0 = fbus_now_mono_ns(), dt;
		memcpy(img, &n, sizeof n);
		assert_int_equal(fbus_pub_send(pub, &f, img, f.size, NULL, 0),
		                 n);
		dt = fbus_now_mono_ns() - t0;
		if (dt > worst)
			worst = dt;
		/* the reader keeps up as well as it can */
		if (fbus_sub_next(reader, &fr, 0) == 0) {
			assert_true((int64_t)fr.seq > last);
			last = (int64_t)fr.seq;
			got++;
		}
	}
	/* a commit is a copy and a wake-up, never a wait for the stalled
	 * reader; 1 s is only a "did not block" gate, not a benchmark */
	if (worst > 1000000000)
		fail_msg("a commit took %lld ms", (long long)(worst / 1000000));
	while (last < N) {
		CHECK(fbus_sub_next(reader, &fr, 5000));
		assert_true((int64_t)fr.seq > last);
		last = (int64_t)fr.seq;
		got++;
	}
	/* the stalled subscriber now wakes up: within a frame or two it is at
	 * the newest frame, the rest were skipped and counted */
	last = 0;
	for (int i = 0; i < 3 && last < N; i++) {
		CHECK(fbus_sub_next(stalled, &fr, 5000));
		last = (int64_t)fr.seq;
		assert_int_equal(*(const int *)fr.data, last);
		print_message("  stalled reader, read %d: frame %lld\n", i + 1,
		              (long long)last);
	}
	assert_int_equal(last, N);
	CHECK(fbus_sub_stats(stalled, &st));
	assert_true(st.frames <= 3);
	assert_int_equal(st.frames + st.skipped, N);
	fbus_sub_close(stalled);
	fbus_sub_close(reader);
	fbus_pub_close(pub);
	free(img);
	(void)got;
}

static void
test_latest_stalled_unix(void **state)
{
	(void)state;
	latest_stalled(UNIX);
}

static void
test_latest_stalled_tcp(void **state)
{
	(void)state;
	latest_stalled(TCP);
}

/* every + drop: a full queue drops and counts, the order stays intact */
static void
test_every_drop(void **state)
{
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_BGR24, .width = 640,
		                 .height = 480 };
	struct fbus_sub_opts so = sub_opts(FBUS_MODE_EVERY);
	struct fbus_pub_stats ps;
	struct fbus_sub_stats ss;
	struct fbus_pub *pub;
	struct fbus_sub *sub;
	struct fbus_frame fr;
	uint8_t *img;
	char uri[300];
	uint64_t last = 0, frames = 0;

	(void)state;
	assert_int_equal(fbus_format_layout(&f), 0);
	img = calloc(1, f.size);
	so.depth = 2;
	so.full_policy = FBUS_FULL_DROP;
	make_uri(uri, sizeof uri, UNIX, NULL);
	CHECK(fbus_pub_open(&pub, uri, NULL));
	CHECK(fbus_sub_open(&sub, uri, &so));
	wait_subscribers(pub, 1);
	for (int n = 1; n <= 40; n++)
		CHECK(fbus_pub_send(pub, &f, img, f.size, NULL, 0));
	CHECK(fbus_pub_stats(pub, &ps));
	assert_true(ps.dropped > 0);
	assert_int_equal(ps.frames, 40);
	while (fbus_sub_next(sub, &fr, 500) == 0) {
		assert_true(fr.seq > last);
		last = fr.seq;
		frames++;
	}
	/* everything is accounted for: seen, or dropped by the producer */
	assert_int_equal(frames + ps.dropped, 40);
	/* the drops were the newest frames: the subscriber sees them as a
	 * gap once the next frame arrives */
	CHECK(fbus_pub_send(pub, &f, img, f.size, NULL, 0));
	CHECK(fbus_sub_next(sub, &fr, 5000));
	assert_int_equal(fr.seq, 41);
	CHECK(fbus_sub_stats(sub, &ss));
	assert_int_equal(ss.frames, frames + 1);
	assert_int_equal(ss.dropped, ps.dropped);
	fbus_sub_close(sub);
	fbus_pub_close(pub);
	free(img);
}

struct slow_reader {
	struct fbus_sub *sub;
	int n;
	int ok;
};

static void *
slow_reader_main(void *arg)
{
	struct slow_reader *r = arg;

	for (int n = 1; n <= r->n; n++) {
		struct fbus_frame fr;
		if (fbus_sub_next(r->sub, &fr, 10000) != 0 ||
		    fr.seq != (uint64_t)n || *(const int *)fr.data != n)
			return NULL;
		t_sleep_ms(10);
	}
	r->ok = 1;
	return NULL;
}

/* every + block: a slow reader gets every frame, the producer waits */
static void
test_every_block_lossless(void **state)
{
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_BGR24, .width = 640,
		                 .height = 480 };
	struct fbus_sub_opts so = sub_opts(FBUS_MODE_EVERY);
	struct slow_reader r = { .n = 30 };
	struct fbus_pub_stats ps;
	struct fbus_pub *pub;
	pthread_t th;
	uint8_t *img;
	char uri[300];

	(void)state;
	assert_int_equal(fbus_format_layout(&f), 0);
	img = calloc(1, f.size);
	so.depth = 2;
	so.full_policy = FBUS_FULL_BLOCK;
	so.block_ms = 10000;
	make_uri(uri, sizeof uri, TCP, NULL);
	CHECK(fbus_pub_open(&pub, uri, NULL));
	CHECK(fbus_sub_open(&r.sub, uri, &so));
	wait_subscribers(pub, 1);
	assert_int_equal(pthread_create(&th, NULL, slow_reader_main, &r), 0);
	for (int n = 1; n <= r.n; n++) {
		memcpy(img, &n, sizeof n);
		CHECK(fbus_pub_send(pub, &f, img, f.size, NULL, 0));
	}
	pthread_join(th, NULL);
	assert_int_equal(r.ok, 1);
	CHECK(fbus_pub_stats(pub, &ps));
	assert_int_equal(ps.dropped, 0);
	fbus_sub_close(r.sub);
	fbus_pub_close(pub);
	free(img);
}

/* every + block with a reader that never reads: commit waits block_ms,
 * then drops — bounded, never forever */
static void
test_every_block_times_out(void **state)
{
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_BGR24, .width = 640,
		                 .height = 480 };
	struct fbus_sub_opts so = sub_opts(FBUS_MODE_EVERY);
	struct fbus_pub_stats ps;
	struct fbus_pub *pub;
	struct fbus_sub *sub;
	uint8_t *img;
	char uri[300];
	int64_t t0;

	(void)state;
	assert_int_equal(fbus_format_layout(&f), 0);
	img = calloc(1, f.size);
	so.depth = 1;
	so.full_policy = FBUS_FULL_BLOCK;
	so.block_ms = 100;
	make_uri(uri, sizeof uri, UNIX, NULL);
	CHECK(fbus_pub_open(&pub, uri, NULL));
	CHECK(fbus_sub_open(&sub, uri, &so));
	wait_subscribers(pub, 1);
	t0 = fbus_now_mono_ns();
	for (int n = 1; n <= 8; n++)
		CHECK(fbus_pub_send(pub, &f, img, f.size, NULL, 0));
	CHECK(fbus_pub_stats(pub, &ps));
	assert_true(ps.dropped >= 1);
	/* each drop waited its 100 ms first, until FBUS_BLOCK_STRIKES in a
	 * row demoted the reader that does not read */
	assert_true(fbus_now_mono_ns() - t0 >=
	            (int64_t)(ps.dropped < FBUS_BLOCK_STRIKES
	                              ? ps.dropped
	                              : FBUS_BLOCK_STRIKES) *
	                    90000000);
	assert_int_equal(ps.demoted, ps.dropped >= FBUS_BLOCK_STRIKES);
	fbus_sub_close(sub);
	fbus_pub_close(pub);
	free(img);
}

/* ---- connection life cycle ------------------------------------------------- */

/* Without FBUS_SUB_RECONNECT a disconnect is final, and said every time. */
static void
test_disconnect_sticky(void **state)
{
	struct fbus_pub *pub;
	struct fbus_sub *sub;
	struct fbus_frame fr;
	char uri[300];

	(void)state;
	make_uri(uri, sizeof uri, UNIX, NULL);
	CHECK(fbus_pub_open(&pub, uri, NULL));
	CHECK(fbus_sub_open(&sub, uri, NULL));
	wait_subscribers(pub, 1);
	fbus_pub_close(pub);
	assert_int_equal(fbus_sub_next(sub, &fr, 5000), FBUS_EDISCONNECTED);
	assert_int_equal(fbus_sub_next(sub, &fr, 0), FBUS_EDISCONNECTED);
	assert_non_null(strstr(fbus_sub_last_error(sub), "closed"));
	/* the fd stays pollable and says "call next" */
	{
		struct pollfd p = { .fd = fbus_sub_fd(sub), .events = POLLIN };
		assert_int_equal(poll(&p, 1, 1000), 1);
	}
	fbus_sub_close(sub);
}

static void
test_open_errors(void **state)
{
	struct fbus_pub *pub, *pub2;
	struct fbus_sub *sub;
	char uri[300], path[300];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	(void)state;
	make_uri(uri, sizeof uri, UNIX, NULL);
	assert_int_equal(fbus_sub_open(&sub, uri, NULL), FBUS_ENOENT);
	assert_non_null(strstr(fbus_open_error(), "no producer"));
	make_uri(uri, sizeof uri, TCP, NULL);
	assert_int_equal(fbus_sub_open(&sub, uri, NULL), FBUS_ECONNREFUSED);

	/* one producer per address */
	CHECK(fbus_pub_open(&pub, uri, NULL));
	assert_int_equal(fbus_pub_open(&pub2, uri, NULL), FBUS_EADDRINUSE);
	fbus_pub_close(pub);
	make_uri(uri, sizeof uri, UNIX, NULL);
	CHECK(fbus_pub_open(&pub, uri, NULL));
	assert_int_equal(fbus_pub_open(&pub2, uri, NULL), FBUS_EADDRINUSE);
	assert_non_null(strstr(fbus_open_error(), "another producer"));
	/* only the owner may connect */
	assert_int_equal(stat(uri + 5, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	fbus_pub_close(pub);
	/* close removed the socket file */
	assert_int_equal(stat(uri + 5, &st), -1);

	/* a dead producer's socket file is reclaimed */
	snprintf(path, sizeof path, "%s", uri + 5);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	close(fd);
	assert_int_equal(stat(path, &st), 0);
	CHECK(fbus_pub_open(&pub, uri, NULL));
	fbus_pub_close(pub);

	/* but never a file that is not a socket */
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(fbus_pub_open(&pub, uri, NULL), FBUS_EADDRINUSE);
	assert_non_null(strstr(fbus_open_error(), "not a socket"));
	assert_int_equal(stat(path, &st), 0);
	unlink(path);

	/* bad options */
	assert_int_equal(fbus_pub_open(&pub, "tcp://127.0.0.1:1?codec=png",
	                               NULL),
	                 FBUS_EINVAL);
	assert_int_equal(fbus_pub_open(&pub, "tcp://127.0.0.1:99999", NULL),
	                 FBUS_EINVAL);
}

/* A subscriber's limit is applied before it allocates: the producer sends
 * a bigger frame, the subscriber refuses it and drops the connection. */
static void
test_max_frame_bytes(void **state)
{
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_BGR24, .width = 64,
		                 .height = 64 };
	struct fbus_pub *pub;
	struct fbus_sub *sub, *big;
	struct fbus_frame fr;
	char uri[300], suri[330];
	uint8_t img[64 * 64 * 3] = { 0 };

	(void)state;
	assert_int_equal(fbus_format_layout(&f), 0);
	make_uri(uri, sizeof uri, UNIX, NULL);
	snprintf(suri, sizeof suri, "%s?max=10000", uri);
	CHECK(fbus_pub_open(&pub, uri, NULL));
	CHECK(fbus_sub_open(&sub, suri, NULL));
	CHECK(fbus_sub_open(&big, uri, NULL));
	wait_subscribers(pub, 2);
	CHECK(fbus_pub_send(pub, &f, img, sizeof img, NULL, 0));
	assert_int_equal(fbus_sub_next(sub, &fr, 5000), FBUS_EMSGSIZE);
	assert_non_null(strstr(fbus_sub_last_error(sub), "exceeds the limit"));
	assert_int_equal(fbus_sub_next(sub, &fr, 0), FBUS_EMSGSIZE);
	/* the other subscriber is unaffected */
	CHECK(fbus_sub_next(big, &fr, 5000));
	assert_int_equal(fr.payload_bytes, sizeof img);
	fbus_sub_close(sub);
	fbus_sub_close(big);
	fbus_pub_close(pub);
}

/* Size and format change from frame to frame, no reconnect needed. */
static void
test_format_changes(void **state)
{
	static const struct {
		uint32_t pixfmt, w, h;
	} seq[] = { { FBUS_PIXFMT_GRAY8, 64, 64 },
		    { FBUS_PIXFMT_BGR24, 320, 240 },
		    { FBUS_PIXFMT_NV12, 640, 360 },
		    { FBUS_PIXFMT_GRAY8, 8, 2 } };
	struct fbus_sub_opts so = sub_opts(FBUS_MODE_EVERY);
	struct fbus_pub *pub;
	struct fbus_sub *sub;
	char uri[300];

	(void)state;
	make_uri(uri, sizeof uri, UNIX, NULL);
	CHECK(fbus_pub_open(&pub, uri, NULL));
	CHECK(fbus_sub_open(&sub, uri, &so));
	wait_subscribers(pub, 1);
	for (size_t i = 0; i < 4; i++) {
		struct fbus_format f = { .pixfmt = seq[i].pixfmt,
			                 .width = seq[i].w,
			                 .height = seq[i].h };
		struct fbus_frame fr;
		uint8_t *img;

		assert_int_equal(fbus_format_layout(&f), 0);
		img = malloc(f.size);
		fill_noise(img, f.size, (uint32_t)i);
		CHECK(fbus_pub_send(pub, &f, img, f.size, NULL, 0));
		CHECK(fbus_sub_next(sub, &fr, 5000));
		assert_memory_equal(&fr.fmt, &f, sizeof f);
		assert_memory_equal(fr.data, img, f.size);
		free(img);
	}
	fbus_sub_close(sub);
	fbus_pub_close(pub);
}

/* ?bind= picks the producer's listening address apart from the host the
 * subscribers dial (127.0.0.0/8 is all loopback on Linux). */
static void
test_tcp_bind(void **state)
{
	struct fbus_pub *pub;
	struct fbus_sub *sub, *other;
	char puri[300], suri[300], wrong[300];
	int port = free_port();

	(void)state;
	snprintf(puri, sizeof puri, "tcp://framebus.invalid:%d?bind=127.0.0.2",
	         port);
	snprintf(suri, sizeof suri, "tcp://127.0.0.2:%d", port);
	snprintf(wrong, sizeof wrong, "tcp://127.0.0.1:%d", port);
	CHECK(fbus_pub_open(&pub, puri, NULL));
	CHECK(fbus_sub_open(&sub, suri, NULL));
	assert_int_equal(fbus_sub_open(&other, wrong, NULL), FBUS_ECONNREFUSED);
	fbus_sub_close(sub);
	fbus_pub_close(pub);
	/* without bind= the host is the address: 192.0.2.1 (TEST-NET-1) is
	 * not ours, refused locally without any traffic */
	snprintf(puri, sizeof puri, "tcp://192.0.2.1:%d", port);
	assert_int_equal(fbus_pub_open(&pub, puri, NULL), -EADDRNOTAVAIL);
	assert_non_null(strstr(fbus_open_error(), "bind tcp://192.0.2.1"));
}

/* fbus_sub_fd is readable when a frame arrives */
static void
test_pollable_fd(void **state)
{
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_GRAY8, .width = 8,
		                 .height = 8 };
	struct fbus_pub *pub;
	struct fbus_sub *sub;
	struct fbus_frame fr;
	struct pollfd p;
	char uri[300];
	uint8_t img[64] = { 0 };

	(void)state;
	assert_int_equal(fbus_format_layout(&f), 0);
	make_uri(uri, sizeof uri, TCP, NULL);
	CHECK(fbus_pub_open(&pub, uri, NULL));
	CHECK(fbus_sub_open(&sub, uri, NULL));
	wait_subscribers(pub, 1);
	p = (struct pollfd){ .fd = fbus_sub_fd(sub), .events = POLLIN };
	assert_int_equal(poll(&p, 1, 50), 0);
	CHECK(fbus_pub_send(pub, &f, img, sizeof img, NULL, 0));
	assert_int_equal(poll(&p, 1, 5000), 1);
	CHECK(fbus_sub_next(sub, &fr, 0));
	fbus_sub_close(sub);
	fbus_pub_close(pub);
}

/* More subscribers than max_subscribers: the extra one is dropped. */
static void
test_subscriber_limit(void **state)
{
	struct fbus_pub_opts po = { .size = sizeof po, .max_subscribers = 1 };
	struct fbus_pub_stats st;
	struct fbus_pub *pub;
	struct fbus_sub *a, *b;
	char uri[300];

	(void)state;
	make_uri(uri, sizeof uri, UNIX, NULL);
	CHECK(fbus_pub_open(&pub, uri, &po));
	CHECK(fbus_sub_open(&a, uri, NULL));
	wait_subscribers(pub, 1);
	/* refused at open with a reason, not a bare hang-up */
	assert_int_equal(fbus_sub_open(&b, uri, NULL), -ENOSPC);
	assert_non_null(strstr(fbus_open_error(), "refused"));
	CHECK(fbus_pub_stats(pub, &st));
	assert_int_equal(st.peer_errors, 1);
	assert_non_null(strstr(fbus_pub_last_error(pub), "limit"));
	fbus_sub_close(a);
	fbus_pub_close(pub);
}

/* The allow-list: a listed uid receives frames, another is dropped by
 * SO_PEERCRED.  Needs root to switch uids in children. */
static void
test_allow_uids(void **state)
{
	static const uint32_t allowed[] = { 65534 };
	struct fbus_pub_opts po = { .size = sizeof po, .allow_uids = allowed,
		                    .n_allow_uids = 1 };
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_GRAY8, .width = 8,
		                 .height = 8 };
	struct fbus_pub_stats st;
	struct fbus_pub *pub;
	char uri[300];
	uint8_t img[64] = { 0 };
	pid_t kids[2];
	uid_t uids[2] = { 65534, 65533 };

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(fbus_format_layout(&f), 0);
	/* /tmp: the other uids must be able to reach the socket's directory,
	 * which the build tree need not allow */
	snprintf(uri, sizeof uri, "unix:/tmp/%s.sock",
	         t_unique_name("fbus-allow"));
	CHECK(fbus_pub_open(&pub, uri, &po));
	for (int i = 0; i < 2; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			struct fbus_sub *sub;
			struct fbus_frame fr;
			int rc;
			if (setgid(uids[i]) || setuid(uids[i]))
				_exit(3);
			rc = fbus_sub_open(&sub, uri, NULL);
			if (rc)
				_exit(rc == FBUS_EACCES ? 1 : 4);
			rc = fbus_sub_next(sub, &fr, 10000);
			_exit(rc == 0 ? 0 : 2);
		}
	}
	/* wait until the allowed one is in and the other one is out */
	for (int i = 0; i < 1000; i++) {
		CHECK(fbus_pub_stats(pub, &st));
		if (st.subscribers == 1 && st.peer_errors == 1)
			break;
		t_sleep_ms(5);
	}
	assert_int_equal(st.subscribers, 1);
	assert_int_equal(st.peer_errors, 1);
	assert_non_null(strstr(fbus_pub_last_error(pub), "not allowed"));
	CHECK(fbus_pub_send(pub, &f, img, sizeof img, NULL, 0));
	for (int i = 0; i < 2; i++) {
		int status;
		assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), i == 0 ? 0 : 1);
	}
	fbus_pub_close(pub);
}

static int
setup(void **state)
{
	(void)state;
	*state = (void *)(intptr_t)t_count_fds();
	return 0;
}

static int
teardown(void **state)
{
	/* every test closes what it opened: no fd leaks */
	assert_int_equal(t_count_fds(), (int)(intptr_t)*state);
	return 0;
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		T(test_raw_roundtrip_unix),
		T(test_raw_roundtrip_tcp),
		T(test_jpeg_roundtrip_unix),
		T(test_jpeg_roundtrip_tcp),
		T(test_jpeg_threads_and_fit),
		T(test_jpeg_coded_at_fit),
		T(test_jpeg_format_option),
		T(test_jpeg_missing_library),
		T(test_many_subscribers),
		T(test_latest_stalled_unix),
		T(test_latest_stalled_tcp),
		T(test_every_drop),
		T(test_every_block_lossless),
		T(test_every_block_times_out),
		T(test_disconnect_sticky),
		T(test_open_errors),
		T(test_max_frame_bytes),
		T(test_pollable_fd),
		T(test_format_changes),
		T(test_tcp_bind),
		T(test_subscriber_limit),
		T(test_allow_uids),
	};
	if (argc > 1 && strcmp(argv[1], "--jpeg-missing") == 0)
		return jpeg_missing_child();
	if (getenv("T_FILTER"))
		cmocka_set_test_filter(getenv("T_FILTER"));
	t_watchdog(80);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

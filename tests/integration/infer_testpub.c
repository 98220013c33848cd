/* SPDX-License-Identifier: MIT */
/*
 * infer_testpub.c — test fixture for the infer tests: publish a moving
 * synthetic scene (grey background, coloured rectangles) on any URI in any
 * raw pixel format, so the tests do not depend on `framebus source`.
 *
 *   infer-testpub URI FORMAT WxH SECONDS FPS [still] [bogus-time]
 *
 * "still" publishes the same picture every time (for tests comparing
 * detections across frames); "bogus-time" stamps every frame as captured
 * 1 ns after the clocks' epochs, as a broken producer would.  Exit 77 when the transport is not available
 * in this build, 1 on other errors.
 */
#define _POSIX_C_SOURCE 200809L
#include "framebus.h"
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
rgb_to_yuv(const uint8_t *bgr, uint8_t *y, uint8_t *u, uint8_t *v)
{
	int b = bgr[0], g = bgr[1], r = bgr[2];

	*y = (uint8_t)((66 * r + 129 * g + 25 * b + 128) / 256 + 16);
	*u = (uint8_t)((-38 * r - 74 * g + 112 * b + 128) / 256 + 128);
	*v = (uint8_t)((112 * r - 94 * g - 18 * b + 128) / 256 + 128);
}

static void
draw(uint8_t *bgr, int w, int h, int t, int still)
{
	static const uint8_t colours[3][3] = {
		{ 40, 40, 220 }, { 40, 200, 40 }, { 220, 120, 20 },
	};

	for (int i = 0; i < w * h; i++)
		bgr[3 * i] = bgr[3 * i + 1] = bgr[3 * i + 2] = 110;
	for (int k = 0; k < 3; k++) {
		int rw = w / 4, rh = h / 3;
		int x0 = (still ? 0 : t * (k + 1) * 3) % (w - rw);
		int y0 = (h / 8 + k * h / 4) % (h - rh);

		x0 = (x0 + k * w / 3) % (w - rw);
		for (int y = y0; y < y0 + rh; y++)
			for (int x = x0; x < x0 + rw; x++)
				memcpy(bgr + 3 * (y * w + x), colours[k], 3);
	}
}

static void
convert(const uint8_t *bgr, const struct fbus_format *f, uint8_t *out)
{
	int w = (int)f->width, h = (int)f->height;

	for (int y = 0; y < h; y++) {
		uint8_t *row = out + f->offset[0] + (size_t)y * f->stride[0];

		for (int x = 0; x < w; x++) {
			const uint8_t *p = bgr + 3 * (y * w + x);
			uint8_t Y, U, V;

			rgb_to_yuv(p, &Y, &U, &V);
			switch (f->pixfmt) {
			case FBUS_PIXFMT_BGR24: memcpy(row + 3 * x, p, 3); break;
			case FBUS_PIXFMT_RGB24:
				row[3 * x] = p[2], row[3 * x + 1] = p[1],
				row[3 * x + 2] = p[0];
				break;
			case FBUS_PIXFMT_BGRA:
				memcpy(row + 4 * x, p, 3);
				row[4 * x + 3] = 255;
				break;
			case FBUS_PIXFMT_GRAY8: row[x] = Y; break;
			case FBUS_PIXFMT_YUYV:
				row[2 * x] = Y;
				row[2 * x + 1] = x % 2 ? V : U;
				break;
			case FBUS_PIXFMT_NV12:
			case FBUS_PIXFMT_I420:
				row[x] = Y;
				if (x % 2 || y % 2)
					break;
				if (f->pixfmt == FBUS_PIXFMT_NV12) {
					uint8_t *uv = out + f->offset[1] +
					              (size_t)(y / 2) * f->stride[1];

					uv[x] = U;
					uv[x + 1] = V;
				} else {
					out[f->offset[1] +
					    (size_t)(y / 2) * f->stride[1] + x / 2] = U;
					out[f->offset[2] +
					    (size_t)(y / 2) * f->stride[2] + x / 2] = V;
				}
				break;
			}
		}
	}
}

int
main(int argc, char **argv)
{
	struct fbus_format fmt = { 0 };
	struct fbus_pub *pub;
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned w, h;
	double seconds, fps;
	uint8_t *bgr, *buf;
	int64_t t0, next;
	int rc, still = 0, bogus = 0;

	if (argc < 6) {
		fprintf(stderr, "usage: %s URI FORMAT WxH SECONDS FPS [still] "
		        "[bogus-time]\n", argv[0]);
		return 2;
	}
	fmt.pixfmt = fbus_pixfmt_parse(argv[2]);
	if (sscanf(argv[3], "%ux%u", &w, &h) != 2)
		return 2;
	fmt.width = w;
	fmt.height = h;
	seconds = atof(argv[4]);
	fps = atof(argv[5]);
	for (int i = 6; i < argc; i++) {
		if (!strcmp(argv[i], "still"))
			still = 1;
		else if (!strcmp(argv[i], "bogus-time"))
			bogus = 1;
		else
			return 2;
	}
	if (fbus_format_layout(&fmt) != 0 || fps <= 0) {
		fprintf(stderr, "bad format or rate\n");
		return 2;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	rc = fbus_pub_open(&pub, argv[1], NULL);
	if (rc) {
		fprintf(stderr, "infer-testpub: %s\n", fbus_open_error());
		return rc == FBUS_ENOTSUP || rc == FBUS_EPROTONOSUPPORT ? 77 : 1;
	}
	bgr = malloc((size_t)w * h * 3);
	buf = calloc(1, fmt.size);
	if (!bgr || !buf)
		return 1;
	t0 = fbus_now_mono_ns();
	next = t0;
	for (int t = 0; !stop; t++) {
		if (seconds > 0 && (double)(fbus_now_mono_ns() - t0) / 1e9 >= seconds)
			break;
		draw(bgr, (int)w, (int)h, t, still);
		convert(bgr, &fmt, buf);
		if (bogus) {
			struct fbus_slot sl;

			rc = fbus_pub_loan(pub, &fmt, &sl);
			if (rc == 0) {
				memcpy(sl.data, buf, fmt.size);
				sl.t_mono_ns = sl.t_real_ns = 1;
				rc = fbus_pub_commit(pub, &sl) < 0 ? -1 : 0;
			}
		} else {
			rc = fbus_pub_send(pub, &fmt, buf, fmt.size, NULL, 0) <
			     0 ? -1 : 0;
		}
		if (rc < 0) {
			fprintf(stderr, "infer-testpub: send: %s\n",
			        fbus_pub_last_error(pub));
			break;
		}
		next += (int64_t)(1e9 / fps);
		while (!stop && fbus_now_mono_ns() < next)
			t_sleep_ms(1);
	}
	fbus_pub_close(pub);
	free(bgr);
	free(buf);
	return 0;
}

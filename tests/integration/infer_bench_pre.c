/* SPDX-License-Identifier: MIT */
/*
 * infer_bench_pre.c — benchmark (not a test): the letterbox pre-process
 * alone, 1920x1080 in each pixel format into a 416x416 blob, so its cost
 * can be read without the noise of a network running next to it.
 *
 *   infer-bench-pre [ITERATIONS]
 */
#define _POSIX_C_SOURCE 200809L
#include "letterbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	static const uint32_t fmts[] = { FBUS_PIXFMT_BGR24, FBUS_PIXFMT_RGB24,
		                         FBUS_PIXFMT_GRAY8, FBUS_PIXFMT_NV12,
		                         FBUS_PIXFMT_I420 };
	int iters = argc > 1 ? atoi(argv[1]) : 200;
	float *blob = malloc(sizeof(float) * 3 * 416 * 416);
	double *t = malloc(sizeof(double) * (size_t)(iters > 0 ? iters : 1));

	if (iters <= 0 || !blob || !t)
		return 2;
	for (size_t k = 0; k < sizeof fmts / sizeof fmts[0]; k++) {
		struct fbus_format f = { .pixfmt = fmts[k], .width = 1920,
			                 .height = 1080 };
		struct letterbox lb;
		struct letterbox_ws ws = { 0 };
		uint8_t *data;

		fbus_format_layout(&f);
		data = malloc(f.size);
		for (uint32_t i = 0; i < f.size; i++)
			data[i] = (uint8_t)(i * 2654435761u >> 24);
		letterbox_geometry(&lb, 1920, 1080, 416, 416, LETTERBOX_DARKNET);
		for (int i = 0; i < iters; i++) {
			double t0 = now_ms();

			letterbox_fill(&lb, &f, data, 0.5f, blob, &ws);
			t[i] = now_ms() - t0;
		}
		qsort(t, (size_t)iters, sizeof *t, cmp);
		printf("letterbox 1920x1080 %-5s -> 416x416: p50 %.3f [ms] "
		       "p95 %.3f [ms] min %.3f [ms]\n",
		       fbus_pixfmt_name(fmts[k]), t[iters / 2],
		       t[iters * 95 / 100], t[0]);
		letterbox_ws_free(&ws);
		free(data);
	}
	free(blob);
	free(t);
	return 0;
}

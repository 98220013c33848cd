/* SPDX-License-Identifier: MIT */
/*
 * infer_mkweights.c — test fixture: write a Darknet .weights file with
 * seeded random values for any cfg of convolutional nets, since no real
 * weights can be downloaded here.  Kernels are He-uniform and batch-norm
 * statistics neutral, so activations stay O(1) through the net and the
 * detector sees plausible, reproducible scores.
 *
 *   infer-mkweights CFG OUT.weights [SEED] [OBJ_BIAS]
 *
 * OBJ_BIAS is added to the bias of every objectness channel of the last
 * convolution before each yolo layer (5+C channels per anchor), so a test
 * can ask for more or fewer detections.
 */
#include "darknet_cfg.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static float
uniform(float lo, float hi)
{
	/* xorshift64*: reproducible on every libc. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return lo + (hi - lo) * (float)((rng * 2685821657736338717ull) >> 40) /
	                    (float)(1u << 24);
}

static int
put(FILE *f, float v)
{
	return fwrite(&v, sizeof v, 1, f) == 1 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static struct darknet_cfg cfg;
	char err[512];
	FILE *f;
	int32_t ver[3] = { 0, 2, 5 };
	uint64_t seen = 0;
	float obj_bias = 0;

	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: %s CFG OUT.weights [SEED] [OBJ_BIAS]\n",
		        argv[0]);
		return 2;
	}
	if (argc > 3)
		rng ^= strtoull(argv[3], NULL, 0) * 0x100000001B3ull;
	if (argc > 4)
		obj_bias = strtof(argv[4], NULL);
	if (darknet_cfg_parse(argv[1], &cfg, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (!cfg.sized) {
		fprintf(stderr, "%s: has layers this generator cannot size\n",
		        argv[1]);
		return 1;
	}
	f = fopen(argv[2], "wb");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	if (fwrite(ver, sizeof ver, 1, f) != 1 ||
	    fwrite(&seen, sizeof seen, 1, f) != 1)
		goto fail;
	for (int l = 0; l < cfg.nconv; l++) {
		const struct darknet_conv *c = &cfg.conv[l];
		float a = sqrtf(6.0f / (float)c->fan_in);
		/* A head (no batch norm, feeding a detection layer) gets the
		 * objectness bias: channel 4 of every 5+C group. */
		int head = !c->batch_norm;

		/* Darknet's order: biases, [scales, mean, variance],
		 * kernels (parser.c load_convolutional_weights). */
		for (int i = 0; i < c->filters; i++) {
			float b = uniform(-0.1f, 0.1f);

			if (head && obj_bias != 0 && c->filters % 3 == 0) {
				int per = c->filters / 3;

				if (per >= 6 && i % per == 4)
					b += obj_bias;
			}
			if (put(f, b))
				goto fail;
		}
		if (c->batch_norm) {
			for (int i = 0; i < c->filters; i++)
				if (put(f, uniform(0.8f, 1.2f)))
					goto fail;
			for (int i = 0; i < c->filters; i++)
				if (put(f, uniform(-0.05f, 0.05f)))
					goto fail;
			for (int i = 0; i < c->filters; i++)
				if (put(f, uniform(0.8f, 1.2f)))
					goto fail;
		}
		for (long long i = 0; i < (long long)c->filters * c->fan_in; i++)
			if (put(f, uniform(-a, a)))
				goto fail;
	}
	if (fclose(f) != 0) {
		perror(argv[2]);
		return 1;
	}
	return 0;
fail:
	perror(argv[2]);
	fclose(f);
	return 1;
}

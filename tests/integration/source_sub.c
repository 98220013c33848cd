/* SPDX-License-Identifier: MIT */
/*
 * source_sub.c — test helper for the `framebus source` scripts: subscribe to
 * a bus in every mode (lossless) and print one line per frame, or hash a raw
 * video stream from stdin the same way, so that published frames can be
 * compared with what the ffmpeg CLI decodes.
 *
 *   source_sub URI [-n N] [-t TIMEOUT_MS] [-g]
 *       "frame SEQ W H FMT HASH T_MONO_NS META_BYTES GT"  per frame, where
 *       HASH is FNV-1a 64 over the tightly packed planes and GT is the
 *       number of ground-truth boxes (-1: none, -2: invalid blob).
 *       With -g, every frame must carry valid ground truth (exit 1 if not).
 *       Ends after N frames, or when the producer goes away after at least
 *       one frame (exit 0), or after TIMEOUT_MS without a frame (exit 1).
 *   source_sub --raw W H FMT
 *       reads frames of W x H FMT from stdin and prints "HASH" per frame.
 */
#define _GNU_SOURCE
#include "framebus.h"
#include "groundtruth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t
fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Hash the visible bytes of each plane, skipping any stride padding. */
static uint64_t
hash_frame(const struct fbus_format *f, const uint8_t *data)
{
	struct fbus_format tight = *f;
	uint64_t h = 0xcbf29ce484222325ull;

	for (int i = 0; i < FBUS_MAX_PLANES; i++)
		tight.stride[i] = 0;
	if (fbus_format_layout(&tight) < 0)
		return 0;
	for (uint32_t i = 0; i < tight.nplanes; i++) {
		uint32_t end = i + 1 < tight.nplanes ? tight.offset[i + 1]
		                                     : tight.size;
		uint32_t rows = (end - tight.offset[i]) / tight.stride[i];

		for (uint32_t y = 0; y < rows; y++)
			h = fnv(h, data + f->offset[i] + (size_t)y * f->stride[i],
			        tight.stride[i]);
	}
	return h;
}

static int
raw_mode(int argc, char **argv)
{
	struct fbus_format f = { 0 };
	uint8_t *buf;

	if (argc != 5)
		return 2;
	f.width = (uint32_t)atoi(argv[2]);
	f.height = (uint32_t)atoi(argv[3]);
	f.pixfmt = fbus_pixfmt_parse(argv[4]);
	if (fbus_format_layout(&f) < 0) {
		fprintf(stderr, "source_sub: bad raw format\n");
		return 2;
	}
	buf = malloc(f.size);
	if (!buf)
		return 1;
	while (fread(buf, 1, f.size, stdin) == f.size)
		printf("%016llx\n", (unsigned long long)hash_frame(&f, buf));
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	struct fbus_sub_opts so = { .size = sizeof so, .mode = FBUS_MODE_EVERY,
	                            .depth = 16, .full_policy = FBUS_FULL_BLOCK,
	                            .block_ms = 5000,
	                            .flags = FBUS_SUB_RECONNECT };
	struct fbus_sub *sub;
	long n = -1, got = 0, timeout = 10000;
	int need_gt = 0, rc;

	if (argc >= 2 && !strcmp(argv[1], "--raw"))
		return raw_mode(argc, argv);
	if (argc < 2) {
		fprintf(stderr, "usage: source_sub URI [-n N] [-t MS] [-g] | "
		        "--raw W H FMT\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc)
			n = atol(argv[++i]);
		else if (!strcmp(argv[i], "-t") && i + 1 < argc)
			timeout = atol(argv[++i]);
		else if (!strcmp(argv[i], "-g"))
			need_gt = 1;
		else
			return 2;
	}
	rc = fbus_sub_open(&sub, argv[1], &so);
	if (rc < 0) {
		fprintf(stderr, "source_sub: %s\n", fbus_open_error());
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (n < 0 || got < n) {
		struct fbus_frame fr;
		struct gt gt;
		int ngt = -1;

		rc = fbus_sub_next(sub, &fr, (int)timeout);
		if (rc == FBUS_EDISCONNECTED && got > 0)
			break;
		if (rc == FBUS_EDISCONNECTED)
			continue;
		if (rc < 0) {
			fprintf(stderr, "source_sub: after %ld frames: %s\n", got,
			        fbus_strerror(rc));
			fbus_sub_close(sub);
			return 1;
		}
		if (fr.meta_bytes)
			ngt = gt_decode(fr.meta, fr.meta_bytes, &gt) == 0
			              ? (int)gt.count : -2;
		if (need_gt && (ngt < 0 || gt.width != fr.fmt.width ||
		                gt.height != fr.fmt.height)) {
			fprintf(stderr, "source_sub: frame %llu: no valid ground "
			        "truth\n", (unsigned long long)fr.seq);
			fbus_sub_close(sub);
			return 1;
		}
		printf("frame %llu %u %u %s %016llx %lld %u %d\n",
		       (unsigned long long)fr.seq, fr.fmt.width, fr.fmt.height,
		       fbus_pixfmt_name(fr.fmt.pixfmt),
		       (unsigned long long)hash_frame(&fr.fmt, fr.data),
		       (long long)fr.t_mono_ns, fr.meta_bytes, ngt);
		fbus_sub_release(sub, &fr);
		got++;
	}
	fbus_sub_close(sub);
	return 0;
}

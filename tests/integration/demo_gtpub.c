/* SPDX-License-Identifier: MIT */
/*
 * demo_gtpub.c — test fixture for the accuracy tests: publish the same
 * BGR24 picture over and over with ground truth of our choosing in each
 * frame's metadata (groundtruth.h), so a test knows exactly what `framebus
 * infer` must score.
 *
 *   demo-gtpub URI WxH GTFILE FRAMES
 *
 * GTFILE has one line per ground-truth variant: "GW GH [CLS X Y W H]...",
 * the frame size the boxes refer to, then the boxes; frame k carries line
 * k % lines ("-" alone: no metadata).  Waits for a subscriber, then
 * publishes FRAMES frames 20 ms apart.  Exit 1 on errors.
 */
#define _POSIX_C_SOURCE 200809L
#include "framebus.h"
#include "groundtruth.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINES 16

struct variant {
	uint8_t blob[FBUS_META_MAX];
	int bytes; /* 0: no metadata */
};

static int
load(const char *path, struct variant *v, int *n)
{
	static struct gt gt;
	char line[8192];
	FILE *f = fopen(path, "r");

	if (!f) {
		perror(path);
		return -1;
	}
	*n = 0;
	while (*n < MAX_LINES && fgets(line, sizeof line, f)) {
		char *p = line, *end;
		unsigned vals[2 + 5 * FBUS_GT_MAX_BOXES];
		int k = 0;

		if (line[0] == '-') {
			v[(*n)++].bytes = 0;
			continue;
		}
		while (k < (int)(sizeof vals / sizeof vals[0])) {
			unsigned long x = strtoul(p, &end, 10);

			if (end == p)
				break;
			vals[k++] = (unsigned)x;
			p = end;
		}
		if (k < 2 || (k - 2) % 5) {
			fprintf(stderr, "%s: bad line: %s", path, line);
			fclose(f);
			return -1;
		}
		memset(&gt, 0, sizeof gt);
		gt.width = vals[0];
		gt.height = vals[1];
		gt.count = (uint32_t)(k - 2) / 5;
		for (uint32_t i = 0; i < gt.count; i++) {
			const unsigned *b = vals + 2 + 5 * i;

			gt.box[i].cls = (uint16_t)b[0];
			gt.box[i].x = (uint16_t)b[1];
			gt.box[i].y = (uint16_t)b[2];
			gt.box[i].w = (uint16_t)b[3];
			gt.box[i].h = (uint16_t)b[4];
			gt.box[i].visible = 1000;
		}
		gt.frame = (uint64_t)*n;
		v[*n].bytes = gt_encode(&gt, v[*n].blob, sizeof v[*n].blob);
		if (v[*n].bytes < 0) {
			fprintf(stderr, "%s: box outside the frame: %s", path,
			        line);
			fclose(f);
			return -1;
		}
		(*n)++;
	}
	fclose(f);
	return *n ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static struct variant v[MAX_LINES];
	struct fbus_format fmt = { .pixfmt = FBUS_PIXFMT_BGR24 };
	struct fbus_pub *pub;
	struct fbus_pub_stats st;
	uint8_t *img;
	int n, frames;

	if (argc != 5 || sscanf(argv[2], "%ux%u", &fmt.width, &fmt.height) != 2 ||
	    (frames = atoi(argv[4])) <= 0) {
		fprintf(stderr, "usage: demo-gtpub URI WxH GTFILE FRAMES\n");
		return 2;
	}
	t_watchdog(60);
	if (load(argv[3], v, &n) || fbus_format_layout(&fmt))
		return 1;
	img = malloc(fmt.size);
	if (!img)
		return 1;
	/* 16x16 blocks of hashed colours: the same picture, hence the same
	 * detections, in every frame and every run. */
	for (uint32_t y = 0; y < fmt.height; y++)
		for (uint32_t x = 0; x < fmt.width; x++) {
			uint32_t h = (x / 16) * 73856093u ^ (y / 16) * 19349663u;

			h = h * 1103515245u + 12345u;
			for (int c = 0; c < 3; c++)
				img[(size_t)y * fmt.stride[0] + x * 3 + (size_t)c] =
					(uint8_t)(h >> (8 + 5 * c));
		}
	if (fbus_pub_open(&pub, argv[1], NULL)) {
		fprintf(stderr, "%s\n", fbus_open_error());
		return 1;
	}
	while (fbus_pub_stats(pub, &st) == 0 && st.subscribers == 0)
		t_sleep_ms(10);
	for (int k = 0; k < frames; k++) {
		const struct variant *cur = &v[k % n];
		int64_t seq = fbus_pub_send(pub, &fmt, img, fmt.size,
		                            cur->bytes ? cur->blob : NULL,
		                            (size_t)cur->bytes);

		if (seq < 0) {
			fprintf(stderr, "send: %s\n", fbus_strerror((int)seq));
			return 1;
		}
		t_sleep_ms(20);
	}
	/* Leave the last frame up until the subscriber is done with it. */
	while (fbus_pub_stats(pub, &st) == 0 && st.subscribers > 0)
		t_sleep_ms(10);
	fbus_pub_close(pub);
	free(img);
	return 0;
}

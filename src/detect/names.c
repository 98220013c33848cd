/* SPDX-License-Identifier: MIT */
/*
 * names.c — class names: loading a names file and COCO's 80 defaults.
 */
#define _POSIX_C_SOURCE 200809L
#include "names.h"

#include "framebus.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const names_coco[NAMES_COCO_COUNT] = {
	"person", "bicycle", "car", "motorbike", "aeroplane", "bus", "train",
	"truck", "boat", "traffic light", "fire hydrant", "stop sign",
	"parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
	"elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
	"handbag", "tie", "suitcase", "frisbee", "skis", "snowboard",
	"sports ball", "kite", "baseball bat", "baseball glove", "skateboard",
	"surfboard", "tennis racket", "bottle", "wine glass", "cup", "fork",
	"knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
	"broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
	"sofa", "pottedplant", "bed", "diningtable", "toilet", "tvmonitor",
	"laptop", "mouse", "remote", "keyboard", "cell phone", "microwave",
	"oven", "toaster", "sink", "refrigerator", "book", "clock", "vase",
	"scissors", "teddy bear", "hair drier", "toothbrush",
};

void
names_free(char **names, int n)
{
	if (!names)
		return;
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int
names_load(const char *path, char ***out, int *nout, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, **v = NULL;
	size_t cap = 0;
	int n = 0, vcap = 0, blank_at = 0, lineno = 0, rc = 0;
	ssize_t len;

	*out = NULL;
	*nout = 0;
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "names file %s: %s", path, strerror(errno));
		return rc;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *s = line, *e = line + len;

		lineno++;
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = '\0';
		while (isspace((unsigned char)*s))
			s++;
		if (!*s) {
			if (!blank_at)
				blank_at = lineno;
			continue;
		}
		if (blank_at) {
			snprintf(err, errlen,
			         "names file %s: blank line %d inside the list "
			         "(it would shift every class after it)",
			         path, blank_at);
			rc = FBUS_EINVAL;
			goto fail;
		}
		if (n == vcap) {
			int nc = vcap ? vcap * 2 : 64;
			char **p = realloc(v, (size_t)nc * sizeof *p);

			if (!p)
				goto nomem;
			v = p;
			vcap = nc;
		}
		v[n] = strdup(s);
		if (!v[n])
			goto nomem;
		n++;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "names file %s: read error", path);
		rc = FBUS_EIO;
		goto fail;
	}
	if (n == 0) {
		snprintf(err, errlen, "names file %s: no class names in it",
		         path);
		rc = FBUS_EINVAL;
		goto fail;
	}
	free(line);
	fclose(f);
	*out = v;
	*nout = n;
	return 0;

nomem:
	snprintf(err, errlen, "names file %s: out of memory", path);
	rc = FBUS_ENOMEM;
fail:
	free(line);
	fclose(f);
	names_free(v, n);
	return rc;
}

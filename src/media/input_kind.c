/* SPDX-License-Identifier: MIT */
/* input_kind.c — what kind of input a `framebus source` argument names, and the error text helper the input files share. */
#define _GNU_SOURCE
#include "input.h"
#include "input_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

int
input_has_image_ext(const char *name)
{
	const char *dot = strrchr(name, '.');

	return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") ||
	               !strcasecmp(dot, ".png"));
}

int
input_kind_of(const char *spec)
{
	struct stat st;

	if (!strncmp(spec, "/dev/video", 10) || !strncmp(spec, "v4l2:", 5))
		return INPUT_CAMERA;
	if (strstr(spec, "://") && strncmp(spec, "file://", 7))
		return INPUT_NETWORK;
	if (stat(spec, &st) == 0 && S_ISDIR(st.st_mode))
		return INPUT_IMAGE_DIR;
	if (input_has_image_ext(spec))
		return INPUT_IMAGE;
	return INPUT_FILE;
}

const char *
input_kind_name(int kind)
{
	switch (kind) {
	case INPUT_FILE: return "file";
	case INPUT_CAMERA: return "camera";
	case INPUT_NETWORK: return "network stream";
	case INPUT_IMAGE: return "image";
	case INPUT_IMAGE_DIR: return "image directory";
	default: return "?";
	}
}

void
input_errf(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (!err || !n)
		return;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
}

/* SPDX-License-Identifier: MIT */
/*
 * input_none.c — the input and conversion API when the build found no
 * FFmpeg (CMake picks this file instead of input_ffmpeg.c): every call
 * says exactly which packages to install.
 */
#include "input.h"
#include "input_int.h"

#include <stdlib.h>
#include <string.h>

#define NO_FFMPEG                                                             \
	"built without FFmpeg: install libavformat-dev libavcodec-dev "       \
	"libavutil-dev libswscale-dev libavdevice-dev (scripts/deps.sh) "     \
	"and rebuild"

int
input_available(void)
{
	return 0;
}

int
input_open(struct input **out, const struct input_opts *opts, char *err,
           size_t errlen)
{
	(void)opts;
	*out = NULL;
	input_errf(err, errlen, "%s", NO_FFMPEG);
	return FBUS_ENOTSUP;
}

int
input_next(struct input *in, char *err, size_t errlen)
{
	(void)in;
	input_errf(err, errlen, "%s", NO_FFMPEG);
	return FBUS_ENOTSUP;
}

int
input_frame_format(struct input *in, struct fbus_format *fmt)
{
	(void)in, (void)fmt;
	return FBUS_ENOTSUP;
}

int
input_frame_write(struct input *in, const struct fbus_format *fmt,
                  uint8_t *dst, char *err, size_t errlen)
{
	(void)in, (void)fmt, (void)dst;
	input_errf(err, errlen, "%s", NO_FFMPEG);
	return FBUS_ENOTSUP;
}

void
input_get_info(struct input *in, struct input_info *info)
{
	(void)in;
	memset(info, 0, sizeof *info);
}

void
input_get_stats(struct input *in, struct input_stats *st)
{
	(void)in;
	memset(st, 0, sizeof *st);
}

void
input_close(struct input *in)
{
	(void)in;
}

int
conv_create(struct conv **out, char *err, size_t errlen)
{
	*out = NULL;
	input_errf(err, errlen, "pixel format conversion needs FFmpeg's libswscale; %s",
	     NO_FFMPEG);
	return FBUS_ENOTSUP;
}

int
conv_run(struct conv *c, const struct fbus_format *sf, const uint8_t *src,
         const struct fbus_format *df, uint8_t *dst)
{
	(void)c, (void)sf, (void)src, (void)df, (void)dst;
	return FBUS_ENOTSUP;
}

void
conv_destroy(struct conv *c)
{
	(void)c;
}

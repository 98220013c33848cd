/* SPDX-License-Identifier: MIT */
/*
 * convert_sws.c — pixel format conversion and scaling with libswscale:
 * framebus formats in FFmpeg's words, plane pointers of a laid-out frame,
 * and the frame-to-frame converter (struct conv) of `framebus source`.
 */
#include "convert_sws.h"
#include "input.h"
#include "input_int.h"

#include <stdlib.h>

struct conv {
	struct SwsContext *sws;
};

enum AVPixelFormat
sws_pixfmt(uint32_t pixfmt)
{
	switch (pixfmt) {
	case FBUS_PIXFMT_BGR24: return AV_PIX_FMT_BGR24;
	case FBUS_PIXFMT_RGB24: return AV_PIX_FMT_RGB24;
	case FBUS_PIXFMT_BGRA: return AV_PIX_FMT_BGRA;
	case FBUS_PIXFMT_GRAY8: return AV_PIX_FMT_GRAY8;
	case FBUS_PIXFMT_NV12: return AV_PIX_FMT_NV12;
	case FBUS_PIXFMT_I420: return AV_PIX_FMT_YUV420P;
	case FBUS_PIXFMT_YUYV: return AV_PIX_FMT_YUYV422;
	default: return AV_PIX_FMT_NONE;
	}
}

void
sws_planes(const struct fbus_format *fmt, uint8_t *dst, uint8_t *p[4], int ls[4])
{
	for (int i = 0; i < 4; i++) {
		p[i] = NULL;
		ls[i] = 0;
	}
	for (uint32_t i = 0; i < fmt->nplanes && i < FBUS_MAX_PLANES; i++) {
		p[i] = dst + fmt->offset[i];
		ls[i] = (int)fmt->stride[i];
	}
}

int
conv_create(struct conv **out, char *err, size_t errlen)
{
	*out = calloc(1, sizeof **out);
	if (!*out) {
		input_errf(err, errlen, "out of memory");
		return FBUS_ENOMEM;
	}
	return 0;
}

int
conv_run(struct conv *c, const struct fbus_format *sf, const uint8_t *src,
         const struct fbus_format *df, uint8_t *dst)
{
	enum AVPixelFormat s = sws_pixfmt(sf->pixfmt), d = sws_pixfmt(df->pixfmt);
	uint8_t *sp[4], *dp[4];
	int sl[4], dl[4];

	if (s == AV_PIX_FMT_NONE || d == AV_PIX_FMT_NONE)
		return FBUS_EINVAL;
	c->sws = sws_getCachedContext(c->sws, (int)sf->width, (int)sf->height, s,
	                              (int)df->width, (int)df->height, d,
	                              FBUS_SWS_FLAGS, NULL, NULL, NULL);
	if (!c->sws)
		return FBUS_ENOTSUP;
	sws_planes(sf, (uint8_t *)src, sp, sl);
	sws_planes(df, dst, dp, dl);
	sws_scale(c->sws, (const uint8_t *const *)sp, sl, 0, (int)sf->height,
	          dp, dl);
	return 0;
}

void
conv_destroy(struct conv *c)
{
	if (!c)
		return;
	sws_freeContext(c->sws);
	free(c);
}

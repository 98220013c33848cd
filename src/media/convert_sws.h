/* SPDX-License-Identifier: MIT */
/* convert_sws.h — libswscale helpers shared by the FFmpeg input and the converter. */
#ifndef FBUS_CONVERT_SWS_H
#define FBUS_CONVERT_SWS_H

#include "framebus.h"

#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>
#include <stdint.h>

#define FBUS_SWS_FLAGS SWS_BICUBIC /* the ffmpeg CLI's default, so results match */

/* The FFmpeg name of a framebus pixel format; AV_PIX_FMT_NONE if none. */
enum AVPixelFormat sws_pixfmt(uint32_t pixfmt);
/* Plane pointers and line sizes of a frame laid out as fmt at dst. */
void sws_planes(const struct fbus_format *fmt, uint8_t *dst, uint8_t *p[4],
                int ls[4]);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * gstframebus.h — what the two elements of the GStreamer plugin share:
 * the caps <-> framebus format mapping and the capture-time mapping.
 */
#ifndef GST_FRAMEBUS_H
#define GST_FRAMEBUS_H

#include <framebus.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#define FBUS_GST_RAW_FORMATS "{ BGR, RGB, BGRx, BGRA, GRAY8, NV12, I420, YUY2 }"
#define FBUS_GST_CAPS                                                      \
	"video/x-raw, format = (string) " FBUS_GST_RAW_FORMATS ", "            \
	"width = (int) [ 1, 16384 ], height = (int) [ 1, 16384 ], "            \
	"framerate = (fraction) [ 0/1, MAX ]; "                                \
	"image/jpeg, width = (int) [ 1, 16384 ], height = (int) [ 1, 16384 ], " \
	"framerate = (fraction) [ 0/1, MAX ]"

/* GStreamer video format -> enum fbus_pixfmt, 0 if not carried. */
uint32_t fbus_gst_pixfmt(GstVideoFormat f);
/* enum fbus_pixfmt -> GStreamer format (BGRA for bgra), UNKNOWN if none. */
GstVideoFormat fbus_gst_video_format(uint32_t pixfmt);

GType gst_framebus_sink_get_type(void);
GType gst_framebus_src_get_type(void);

#endif

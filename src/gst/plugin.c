/* SPDX-License-Identifier: MIT */
/*
 * plugin.c — the `framebus` GStreamer plugin: registers framebussink and
 * framebussrc, and the format mapping both use.
 */
#include "gstframebus.h"

uint32_t
fbus_gst_pixfmt(GstVideoFormat f)
{
	switch (f) {
	case GST_VIDEO_FORMAT_BGR: return FBUS_PIXFMT_BGR24;
	case GST_VIDEO_FORMAT_RGB: return FBUS_PIXFMT_RGB24;
	/* framebus bgra: 4 bytes, B G R then one more; x or alpha alike */
	case GST_VIDEO_FORMAT_BGRx:
	case GST_VIDEO_FORMAT_BGRA: return FBUS_PIXFMT_BGRA;
	case GST_VIDEO_FORMAT_GRAY8: return FBUS_PIXFMT_GRAY8;
	case GST_VIDEO_FORMAT_NV12: return FBUS_PIXFMT_NV12;
	case GST_VIDEO_FORMAT_I420: return FBUS_PIXFMT_I420;
	case GST_VIDEO_FORMAT_YUY2: return FBUS_PIXFMT_YUYV;
	default: return 0;
	}
}

GstVideoFormat
fbus_gst_video_format(uint32_t pixfmt)
{
	switch (pixfmt) {
	case FBUS_PIXFMT_BGR24: return GST_VIDEO_FORMAT_BGR;
	case FBUS_PIXFMT_RGB24: return GST_VIDEO_FORMAT_RGB;
	case FBUS_PIXFMT_BGRA: return GST_VIDEO_FORMAT_BGRA;
	case FBUS_PIXFMT_GRAY8: return GST_VIDEO_FORMAT_GRAY8;
	case FBUS_PIXFMT_NV12: return GST_VIDEO_FORMAT_NV12;
	case FBUS_PIXFMT_I420: return GST_VIDEO_FORMAT_I420;
	case FBUS_PIXFMT_YUYV: return GST_VIDEO_FORMAT_YUY2;
	default: return GST_VIDEO_FORMAT_UNKNOWN;
	}
}

static gboolean
plugin_init(GstPlugin *plugin)
{
	fbus_gst_meta_register();
	return gst_element_register(plugin, "framebussink", GST_RANK_NONE,
	                            gst_framebus_sink_get_type()) &&
	       gst_element_register(plugin, "framebussrc", GST_RANK_NONE,
	                            gst_framebus_src_get_type());
}

#define PACKAGE "framebus"
GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, framebus,
                  "Zero-copy frames between processes over framebus buses",
                  plugin_init, "0.1.0", "MIT", "framebus",
                  "framebus source tree (README.md)")

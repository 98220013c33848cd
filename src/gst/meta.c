/* SPDX-License-Identifier: MIT */
/*
 * meta.c — a frame's metadata blob on the GStreamer side.  framebussrc
 * attaches the blob as a "FramebusMeta" custom meta, so that
 * framebussrc ! videoconvert ! framebussink passes ground truth through
 * unchanged; otherwise framebussink writes the stream's tags and the
 * buffer's time code as text:
 *
 *   FBGS 1\n
 *   tags=<gst_tag_list_to_string>\n
 *   timecode=<gst_video_time_code_to_string>\n
 *
 * (each line optional, nothing when there is neither).  The bytes come
 * from another process: the reader takes only what parses.
 */
#include "gstframebus.h"

#include <string.h>

#define FBGS_MAGIC "FBGS 1\n"

const GstMetaInfo *
fbus_gst_meta_register(void)
{
	static const gchar *tags[] = { NULL };
	static const GstMetaInfo *info;

	if (g_once_init_enter(&info)) {
		const GstMetaInfo *i = gst_meta_get_info(FBUS_GST_META_NAME);

		if (!i)
			i = gst_meta_register_custom(FBUS_GST_META_NAME, tags, NULL,
			                             NULL, NULL);
		g_once_init_leave(&info, i);
	}
	return info;
}

static gsize
put_line(gchar *dst, gsize at, gsize max, const gchar *key, const gchar *val)
{
	gsize need = strlen(key) + 1 + strlen(val) + 1;

	/* a value with a newline would end its line early: leave it out */
	if (strchr(val, '\n') || at + need > max)
		return at;
	g_snprintf(dst + at, max - at, "%s=%s\n", key, val);
	return at + need;
}

gsize
fbus_gst_meta_write(GstBuffer *buf, const GstTagList *tags, void *dst,
                    gsize max)
{
	GstCustomMeta *cm = gst_buffer_get_custom_meta(buf, FBUS_GST_META_NAME);
	GstVideoTimeCodeMeta *tc = gst_buffer_get_video_time_code_meta(buf);
	gchar *out = dst;
	gsize at;

	if (cm) {
		GstStructure *st = gst_custom_meta_get_structure(cm);
		const GValue *v = gst_structure_get_value(st, "data");
		GBytes *b = v && G_VALUE_HOLDS(v, G_TYPE_BYTES) ?
		            g_value_get_boxed(v) : NULL;
		gsize n = 0;
		const void *p = b ? g_bytes_get_data(b, &n) : NULL;

		if (p && n <= max) {
			memcpy(dst, p, n);
			return n;
		}
	}
	if ((!tags || gst_tag_list_is_empty(tags)) && !tc)
		return 0;
	if (max <= strlen(FBGS_MAGIC))
		return 0;
	memcpy(out, FBGS_MAGIC, strlen(FBGS_MAGIC));
	at = strlen(FBGS_MAGIC);
	if (tags && !gst_tag_list_is_empty(tags)) {
		gchar *t = gst_tag_list_to_string(tags);

		at = put_line(out, at, max, "tags", t);
		g_free(t);
	}
	if (tc) {
		gchar *t = gst_video_time_code_to_string(&tc->tc);

		at = put_line(out, at, max, "timecode", t);
		g_free(t);
	}
	return at;
}

/* The line's value, copied, or NULL. */
static gchar *
get_line(const gchar *text, const gchar *key)
{
	gsize kl = strlen(key);

	for (const gchar *l = text; l && *l;) {
		const gchar *nl = strchr(l, '\n');

		if (!strncmp(l, key, kl) && l[kl] == '=')
			return g_strndup(l + kl + 1,
			                 nl ? (gsize)(nl - l - kl - 1) : strlen(l + kl + 1));
		l = nl ? nl + 1 : NULL;
	}
	return NULL;
}

void
fbus_gst_meta_read(GstBuffer *buf, const void *meta, gsize len,
                   GstTagList **tags)
{
	GstCustomMeta *cm;
	gchar *text, *v;

	*tags = NULL;
	if (!meta || len == 0)
		return;
	cm = gst_buffer_add_custom_meta(buf, FBUS_GST_META_NAME);
	if (cm) {
		GValue gv = G_VALUE_INIT;

		g_value_init(&gv, G_TYPE_BYTES);
		g_value_take_boxed(&gv, g_bytes_new(meta, len));
		gst_structure_take_value(gst_custom_meta_get_structure(cm), "data",
		                         &gv);
	}
	if (len < strlen(FBGS_MAGIC) || memcmp(meta, FBGS_MAGIC,
	                                       strlen(FBGS_MAGIC)))
		return;
	text = g_strndup((const gchar *)meta + strlen(FBGS_MAGIC),
	                 len - strlen(FBGS_MAGIC));
	v = get_line(text, "tags");
	if (v) {
		*tags = gst_tag_list_new_from_string(v);
		g_free(v);
	}
	v = get_line(text, "timecode");
	if (v) {
		GstVideoTimeCode *tc = gst_video_time_code_new_from_string(v);

		if (tc) {
			gst_buffer_add_video_time_code_meta(buf, tc);
			gst_video_time_code_free(tc);
		}
		g_free(v);
	}
	g_free(text);
}

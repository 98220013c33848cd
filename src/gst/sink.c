/* SPDX-License-Identifier: MIT */
/*
 * sink.c — framebussink: publishes each buffer as a frame of a framebus
 * bus.  Raw video is copied once into a loaned slot, plane by plane with
 * GStreamer's strides; image/jpeg goes as ENCODED.  A caps change is a
 * format change of the bus (subscribers follow without reconnecting).
 * Capture time: the buffer's running time on a monotonic pipeline clock.
 */
#include "gstframebus.h"

#include <string.h>

GST_DEBUG_CATEGORY_STATIC(fbus_sink_debug);
#define GST_CAT_DEFAULT fbus_sink_debug

typedef struct {
	GstBaseSink parent;
	gchar *uri;
	guint slots, max_subscribers;
	struct fbus_pub *pub;
	gboolean jpeg;
	GstVideoInfo info;
	guint width, height;
} GstFramebusSink;

typedef struct {
	GstBaseSinkClass parent_class;
} GstFramebusSinkClass;

G_DEFINE_TYPE(GstFramebusSink, gst_framebus_sink, GST_TYPE_BASE_SINK)

enum { PROP_0, PROP_URI, PROP_SLOTS, PROP_MAX_SUBSCRIBERS };

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
	"sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(FBUS_GST_CAPS));

static void
set_property(GObject *o, guint id, const GValue *v, GParamSpec *ps)
{
	GstFramebusSink *s = (GstFramebusSink *)o;

	switch (id) {
	case PROP_URI:
		g_free(s->uri);
		s->uri = g_value_dup_string(v);
		break;
	case PROP_SLOTS: s->slots = g_value_get_uint(v); break;
	case PROP_MAX_SUBSCRIBERS: s->max_subscribers = g_value_get_uint(v); break;
	default: G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
	}
}

static void
get_property(GObject *o, guint id, GValue *v, GParamSpec *ps)
{
	GstFramebusSink *s = (GstFramebusSink *)o;

	switch (id) {
	case PROP_URI: g_value_set_string(v, s->uri); break;
	case PROP_SLOTS: g_value_set_uint(v, s->slots); break;
	case PROP_MAX_SUBSCRIBERS: g_value_set_uint(v, s->max_subscribers); break;
	default: G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
	}
}

static gboolean
sink_start(GstBaseSink *bs)
{
	GstFramebusSink *s = (GstFramebusSink *)bs;
	struct fbus_pub_opts o = { .size = sizeof o, .slots = s->slots,
		                   .max_subscribers = s->max_subscribers };
	int rc;

	if (!s->uri || !s->uri[0]) {
		GST_ELEMENT_ERROR(s, RESOURCE, SETTINGS, ("no uri set"),
		                  ("set uri=shm:NAME (or unix:, tcp://)"));
		return FALSE;
	}
	rc = fbus_pub_open(&s->pub, s->uri, &o);
	if (rc) {
		GST_ELEMENT_ERROR(s, RESOURCE, OPEN_WRITE,
		                  ("cannot publish on %s", s->uri), ("%s",
		                  fbus_open_error()));
		return FALSE;
	}
	return TRUE;
}

static gboolean
sink_stop(GstBaseSink *bs)
{
	GstFramebusSink *s = (GstFramebusSink *)bs;

	fbus_pub_close(s->pub);
	s->pub = NULL;
	return TRUE;
}

static gboolean
sink_set_caps(GstBaseSink *bs, GstCaps *caps)
{
	GstFramebusSink *s = (GstFramebusSink *)bs;
	GstStructure *st = gst_caps_get_structure(caps, 0);
	gint w = 0, h = 0;

	if (gst_structure_has_name(st, "image/jpeg")) {
		gst_structure_get_int(st, "width", &w);
		gst_structure_get_int(st, "height", &h);
		s->jpeg = TRUE;
		s->width = (guint)w;
		s->height = (guint)h;
		return TRUE;
	}
	if (!gst_video_info_from_caps(&s->info, caps) ||
	    !fbus_gst_pixfmt(GST_VIDEO_INFO_FORMAT(&s->info))) {
		GST_ELEMENT_ERROR(s, STREAM, FORMAT, ("unsupported caps"),
		                  ("%" GST_PTR_FORMAT, (void *)caps));
		return FALSE;
	}
	s->jpeg = FALSE;
	return TRUE;
}

/* Running time + base time is the clock's time; on the system clock
 * (monotonic, GStreamer's default) that is CLOCK_MONOTONIC. */
static int64_t
capture_mono(GstFramebusSink *s, GstBuffer *buf)
{
	GstClock *clock = GST_ELEMENT_CLOCK(s);
	GstClockTime pts = GST_BUFFER_PTS(buf), rt;
	GstClockType type = GST_CLOCK_TYPE_REALTIME;

	if (!clock || !GST_CLOCK_TIME_IS_VALID(pts) || !GST_IS_SYSTEM_CLOCK(clock))
		return 0;
	g_object_get(clock, "clock-type", &type, NULL);
	if (type != GST_CLOCK_TYPE_MONOTONIC)
		return 0;
	rt = gst_segment_to_running_time(&GST_BASE_SINK_CAST(s)->segment,
	                                 GST_FORMAT_TIME, pts);
	if (!GST_CLOCK_TIME_IS_VALID(rt))
		return 0;
	return (int64_t)(rt + GST_ELEMENT_CAST(s)->base_time);
}

static GstFlowReturn
sink_render(GstBaseSink *bs, GstBuffer *buf)
{
	GstFramebusSink *s = (GstFramebusSink *)bs;
	struct fbus_format fmt = { 0 };
	struct fbus_slot slot;
	int64_t seq;
	int rc;

	if (s->jpeg) {
		GstMapInfo m;

		if (!gst_buffer_map(buf, &m, GST_MAP_READ))
			return GST_FLOW_ERROR;
		fmt.pixfmt = FBUS_PIXFMT_ENCODED;
		fmt.width = s->width ? s->width : 1;
		fmt.height = s->height ? s->height : 1;
		fmt.size = (uint32_t)m.size;
		rc = fbus_pub_loan(s->pub, &fmt, &slot);
		if (rc == 0) {
			memcpy(slot.data, m.data, m.size);
			slot.payload_bytes = (uint32_t)m.size;
		}
		gst_buffer_unmap(buf, &m);
	} else {
		GstVideoFrame vf;

		fmt.pixfmt = fbus_gst_pixfmt(GST_VIDEO_INFO_FORMAT(&s->info));
		fmt.width = GST_VIDEO_INFO_WIDTH(&s->info);
		fmt.height = GST_VIDEO_INFO_HEIGHT(&s->info);
		rc = fbus_pub_loan(s->pub, &fmt, &slot);
		if (rc == 0) {
			if (!gst_video_frame_map(&vf, &s->info, buf, GST_MAP_READ)) {
				fbus_pub_abort(s->pub, &slot);
				return GST_FLOW_ERROR;
			}
			/* the one copy: GStreamer's strides to the slot's */
			for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES(&vf); p++) {
				const guint8 *src = GST_VIDEO_FRAME_PLANE_DATA(&vf, p);
				guint8 *dst = slot.data + slot.fmt.offset[p];
				gint sstride = GST_VIDEO_FRAME_PLANE_STRIDE(&vf, p);
				guint rows = GST_VIDEO_FRAME_COMP_HEIGHT(&vf, p);
				/* component p starts plane p in every format
				 * we take (NV12: U, interleaved with V) */
				guint bytes = GST_VIDEO_FRAME_COMP_WIDTH(&vf, p) *
				              GST_VIDEO_FRAME_COMP_PSTRIDE(&vf, p);

				for (guint y = 0; y < rows; y++)
					memcpy(dst + (size_t)y * slot.fmt.stride[p],
					       src + (size_t)y * sstride, bytes);
			}
			gst_video_frame_unmap(&vf);
		}
	}
	if (rc) {
		GST_ELEMENT_ERROR(s, RESOURCE, WRITE, ("loan failed on %s",
		                  s->uri), ("%s", fbus_pub_last_error(s->pub)));
		return GST_FLOW_ERROR;
	}
	slot.t_mono_ns = capture_mono(s, buf);
	slot.meta_bytes = 0;
	seq = fbus_pub_commit(s->pub, &slot);
	if (seq < 0) {
		GST_ELEMENT_ERROR(s, RESOURCE, WRITE, ("commit failed on %s",
		                  s->uri), ("%s", fbus_pub_last_error(s->pub)));
		return GST_FLOW_ERROR;
	}
	return GST_FLOW_OK;
}

static void
sink_finalize(GObject *o)
{
	GstFramebusSink *s = (GstFramebusSink *)o;

	g_free(s->uri);
	G_OBJECT_CLASS(gst_framebus_sink_parent_class)->finalize(o);
}

static void
gst_framebus_sink_class_init(GstFramebusSinkClass *k)
{
	GObjectClass *oc = G_OBJECT_CLASS(k);
	GstElementClass *ec = GST_ELEMENT_CLASS(k);
	GstBaseSinkClass *bc = GST_BASE_SINK_CLASS(k);

	GST_DEBUG_CATEGORY_INIT(fbus_sink_debug, "framebussink", 0,
	                        "framebus sink");
	oc->set_property = set_property;
	oc->get_property = get_property;
	oc->finalize = sink_finalize;
	g_object_class_install_property(oc, PROP_URI,
		g_param_spec_string("uri", "URI",
		                    "bus to publish on: shm:NAME, "
		                    "unix:/path.sock[?codec=jpeg], tcp://HOST:PORT",
		                    NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
	g_object_class_install_property(oc, PROP_SLOTS,
		g_param_spec_uint("slots", "Slots",
		                  "shm: frames in the ring (0 = 32)", 0, 4096, 0,
		                  G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
	g_object_class_install_property(oc, PROP_MAX_SUBSCRIBERS,
		g_param_spec_uint("max-subscribers", "Max subscribers",
		                  "subscribers at once (0 = 16)", 0, 4096, 0,
		                  G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
	gst_element_class_add_static_pad_template(ec, &sink_template);
	gst_element_class_set_static_metadata(ec, "framebus sink",
		"Sink/Video", "Publishes video frames on a framebus bus "
		"(shared memory, Unix socket or TCP)", "framebus");
	bc->start = sink_start;
	bc->stop = sink_stop;
	bc->set_caps = sink_set_caps;
	bc->render = sink_render;
}

static void
gst_framebus_sink_init(GstFramebusSink *s)
{
	/* a live bus: frames go when they come, not on the clock */
	gst_base_sink_set_sync(GST_BASE_SINK(s), FALSE);
}

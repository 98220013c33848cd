/* SPDX-License-Identifier: MIT */
/*
 * src.c — framebussrc: a live source of the frames of a bus.  Each frame
 * becomes a read-only GstBuffer over the subscriber's mapping, without a
 * copy, handed back to the bus when GStreamer frees the buffer (the
 * subscriber holds up to `hold` frames at once).  Caps follow the frame
 * format; a change renegotiates.  With reconnect (default) a producer that
 * goes away leaves the pipeline waiting for the next one.
 */
#include "gstframebus.h"

#include <gst/base/gstpushsrc.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC(fbus_src_debug);
#define GST_CAT_DEFAULT fbus_src_debug

/* The subscriber outlives the element's stop while buffers downstream
 * still point into it: each buffer holds a reference. */
typedef struct {
	gint refs;
	GMutex mu; /* fbus_sub_* calls from streaming and freeing threads */
	struct fbus_sub *sub;
} SubRef;

typedef struct {
	SubRef *ref;
	struct fbus_frame fr;
} Held;

typedef struct {
	GstPushSrc parent;
	gchar *uri;
	gint mode;
	gint policy;
	guint depth;
	gboolean reconnect;
	guint hold;
	SubRef *ref;
	gboolean flushing;
	struct fbus_format cur; /* the caps now negotiated */
	gboolean have_caps;
	GstClockTime last_pts, last_dur;
	int64_t t0;            /* the first frame's capture time: PTS 0 */
	GstClockTime latency;  /* reported; under the object lock */
	GstTagList *tags;   /* the last tags a frame carried (pushed) */
} GstFramebusSrc;

typedef struct {
	GstPushSrcClass parent_class;
} GstFramebusSrcClass;

G_DEFINE_TYPE(GstFramebusSrc, gst_framebus_src, GST_TYPE_PUSH_SRC)

enum { PROP_0, PROP_URI, PROP_MODE, PROP_RECONNECT, PROP_HOLD, PROP_DEPTH,
       PROP_POLICY };

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
	"src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(FBUS_GST_CAPS));

static void
subref_unref(SubRef *r)
{
	if (!g_atomic_int_dec_and_test(&r->refs))
		return;
	fbus_sub_close(r->sub);
	g_mutex_clear(&r->mu);
	g_free(r);
}

static void
held_free(gpointer p)
{
	Held *h = p;

	g_mutex_lock(&h->ref->mu);
	fbus_sub_release(h->ref->sub, &h->fr);
	g_mutex_unlock(&h->ref->mu);
	subref_unref(h->ref);
	g_free(h);
}

static void
set_property(GObject *o, guint id, const GValue *v, GParamSpec *ps)
{
	GstFramebusSrc *s = (GstFramebusSrc *)o;

	switch (id) {
	case PROP_URI:
		g_free(s->uri);
		s->uri = g_value_dup_string(v);
		break;
	case PROP_MODE: s->mode = g_value_get_enum(v); break;
	case PROP_RECONNECT: s->reconnect = g_value_get_boolean(v); break;
	case PROP_HOLD: s->hold = g_value_get_uint(v); break;
	case PROP_DEPTH: s->depth = g_value_get_uint(v); break;
	case PROP_POLICY: s->policy = g_value_get_enum(v); break;
	default: G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
	}
}

static void
get_property(GObject *o, guint id, GValue *v, GParamSpec *ps)
{
	GstFramebusSrc *s = (GstFramebusSrc *)o;

	switch (id) {
	case PROP_URI: g_value_set_string(v, s->uri); break;
	case PROP_MODE: g_value_set_enum(v, s->mode); break;
	case PROP_RECONNECT: g_value_set_boolean(v, s->reconnect); break;
	case PROP_HOLD: g_value_set_uint(v, s->hold); break;
	case PROP_DEPTH: g_value_set_uint(v, s->depth); break;
	case PROP_POLICY: g_value_set_enum(v, s->policy); break;
	default: G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
	}
}

static GType
mode_get_type(void)
{
	static GType t;
	static const GEnumValue values[] = {
		{ FBUS_MODE_LATEST, "always the newest frame", "latest" },
		{ FBUS_MODE_EVERY, "every frame, in order", "every" },
		{ 0, NULL, NULL },
	};

	if (!t)
		t = g_enum_register_static("GstFramebusSrcMode", values);
	return t;
}

static GType
policy_get_type(void)
{
	static GType t;
	static const GEnumValue values[] = {
		{ FBUS_FULL_DROP, "the producer drops frames for a full queue",
		  "drop" },
		{ FBUS_FULL_BLOCK, "the producer waits for room (lossless)",
		  "block" },
		{ 0, NULL, NULL },
	};

	if (!t)
		t = g_enum_register_static("GstFramebusSrcPolicy", values);
	return t;
}

static gboolean
src_start(GstBaseSrc *bs)
{
	GstFramebusSrc *s = (GstFramebusSrc *)bs;
	struct fbus_sub_opts o = { .size = sizeof o, .mode = (uint32_t)s->mode,
		                   .depth = s->depth,
		                   .full_policy = (uint32_t)s->policy,
		                   .max_held = s->hold,
		                   .flags = s->reconnect ? FBUS_SUB_RECONNECT : 0 };
	struct fbus_sub *sub = NULL;
	int rc;

	if (!s->uri || !s->uri[0]) {
		GST_ELEMENT_ERROR(s, RESOURCE, SETTINGS, ("no uri set"),
		                  ("set uri=shm:NAME (or unix:, tcp://)"));
		return FALSE;
	}
	rc = fbus_sub_open(&sub, s->uri, &o);
	if (rc) {
		GST_ELEMENT_ERROR(s, RESOURCE, OPEN_READ,
		                  ("cannot subscribe to %s", s->uri), ("%s",
		                  fbus_open_error()));
		return FALSE;
	}
	s->ref = g_new0(SubRef, 1);
	s->ref->refs = 1;
	g_mutex_init(&s->ref->mu);
	s->ref->sub = sub;
	s->have_caps = FALSE;
	s->flushing = FALSE;
	s->last_pts = s->last_dur = GST_CLOCK_TIME_NONE;
	s->t0 = 0;
	s->latency = 0;
	gst_clear_tag_list(&s->tags);
	return TRUE;
}

static gboolean
src_stop(GstBaseSrc *bs)
{
	GstFramebusSrc *s = (GstFramebusSrc *)bs;

	if (s->ref)
		subref_unref(s->ref);
	s->ref = NULL;
	gst_clear_tag_list(&s->tags);
	return TRUE;
}

static gboolean
src_unlock(GstBaseSrc *bs)
{
	g_atomic_int_set(&((GstFramebusSrc *)bs)->flushing, TRUE);
	return TRUE;
}

static gboolean
src_unlock_stop(GstBaseSrc *bs)
{
	g_atomic_int_set(&((GstFramebusSrc *)bs)->flushing, FALSE);
	return TRUE;
}

static gboolean
same_format(const struct fbus_format *a, const struct fbus_format *b)
{
	return a->pixfmt == b->pixfmt && a->width == b->width &&
	       a->height == b->height &&
	       !memcmp(a->stride, b->stride, sizeof a->stride) &&
	       !memcmp(a->offset, b->offset, sizeof a->offset);
}

static gboolean
negotiate(GstFramebusSrc *s, const struct fbus_format *f)
{
	GstCaps *caps;
	gboolean ok;

	if (f->pixfmt == FBUS_PIXFMT_ENCODED) {
		caps = gst_caps_new_simple("image/jpeg", "width", G_TYPE_INT,
		                           (gint)f->width, "height", G_TYPE_INT,
		                           (gint)f->height, "framerate",
		                           GST_TYPE_FRACTION, 0, 1, NULL);
	} else {
		GstVideoInfo info;
		gst_video_info_set_format(&info, fbus_gst_video_format(f->pixfmt),
		                          f->width, f->height);
		info.fps_n = 0;
		info.fps_d = 1;
		caps = gst_video_info_to_caps(&info);
	}
	ok = gst_base_src_set_caps(GST_BASE_SRC(s), caps);
	gst_caps_unref(caps);
	if (ok) {
		s->cur = *f;
		s->have_caps = TRUE;
	}
	return ok;
}

/* Caps come from frames, not from a query: before the first frame there
 * is nothing to offer (basesrc's default would fixate the template to a
 * 1x1 frame downstream then rejects); after it, a reconfigure downstream
 * asks for gets the current format again. */
static gboolean
src_negotiate(GstBaseSrc *bs)
{
	GstFramebusSrc *s = (GstFramebusSrc *)bs;

	if (!s->have_caps)
		return TRUE;
	return negotiate(s, &s->cur);
}

/* PTS: the frame's capture time as running time, moved so that the first
 * frame is at 0, when the pipeline runs on a monotonic system clock
 * (GStreamer's default); else the arrival time.  The intervals between
 * frames stay the capture intervals.  A first frame captured after the
 * pipeline started moves the timeline earlier by that much: that is our
 * latency (reported, so sinks that sync render on time, not late).  Muxers
 * want the timeline at 0 too: x264enc ! mp4mux with a variable frame rate
 * starting at some odd offset can hide the first frame behind the edit
 * list.  Duration: the last interval between frames, so that muxers give
 * the last frame a length too. */
static void
stamp(GstFramebusSrc *s, GstBuffer *buf, const struct fbus_frame *fr)
{
	GstClock *clock = gst_element_get_clock(GST_ELEMENT(s));
	GstClockTime base = gst_element_get_base_time(GST_ELEMENT(s));
	GstClockTime now, pts = GST_CLOCK_TIME_NONE;
	GstClockType type = GST_CLOCK_TYPE_REALTIME;

	if (!clock)
		return;
	now = gst_clock_get_time(clock);
	if (GST_IS_SYSTEM_CLOCK(clock))
		g_object_get(clock, "clock-type", &type, NULL);
	gst_object_unref(clock);
	if (type == GST_CLOCK_TYPE_MONOTONIC && fr->t_mono_ns > 0 &&
	    (GstClockTime)fr->t_mono_ns <= now) {
		if (!GST_CLOCK_TIME_IS_VALID(s->last_pts)) {
			GstClockTime lat = 0;

			s->t0 = fr->t_mono_ns;
			if ((GstClockTime)s->t0 > base)
				lat = (GstClockTime)s->t0 - base;
			GST_OBJECT_LOCK(s);
			s->latency = lat;
			GST_OBJECT_UNLOCK(s);
			gst_element_post_message(GST_ELEMENT(s),
				gst_message_new_latency(GST_OBJECT(s)));
		}
		if (fr->t_mono_ns >= s->t0)
			pts = (GstClockTime)(fr->t_mono_ns - s->t0);
	}
	if (!GST_CLOCK_TIME_IS_VALID(pts) && now >= base)
		pts = now - base;
	if (!GST_CLOCK_TIME_IS_VALID(pts))
		return;
	if (GST_CLOCK_TIME_IS_VALID(s->last_pts) && pts <= s->last_pts)
		pts = s->last_pts + 1; /* never backwards */
	if (GST_CLOCK_TIME_IS_VALID(s->last_pts))
		s->last_dur = pts - s->last_pts;
	GST_BUFFER_PTS(buf) = pts;
	GST_BUFFER_DTS(buf) = pts;
	GST_BUFFER_DURATION(buf) = s->last_dur;
	s->last_pts = pts;
}

/* Live: our latency is how much later than the pipeline's start the
 * first frame was captured (see stamp). */
static gboolean
src_query(GstBaseSrc *bs, GstQuery *q)
{
	GstFramebusSrc *s = (GstFramebusSrc *)bs;

	if (GST_QUERY_TYPE(q) == GST_QUERY_LATENCY) {
		GstClockTime lat;

		GST_OBJECT_LOCK(s);
		lat = s->latency;
		GST_OBJECT_UNLOCK(s);
		gst_query_set_latency(q, TRUE, lat, GST_CLOCK_TIME_NONE);
		return TRUE;
	}
	return GST_BASE_SRC_CLASS(gst_framebus_src_parent_class)->query(bs, q);
}

static GstFlowReturn
src_create(GstPushSrc *ps, GstBuffer **out)
{
	GstFramebusSrc *s = (GstFramebusSrc *)ps;
	struct fbus_frame fr;
	GstBuffer *buf;
	Held *h;
	int rc;

	for (;;) {
		if (g_atomic_int_get(&s->flushing))
			return GST_FLOW_FLUSHING;
		g_mutex_lock(&s->ref->mu);
		rc = fbus_sub_next(s->ref->sub, &fr, 100);
		g_mutex_unlock(&s->ref->mu);
		if (rc == 0)
			break;
		if (rc == FBUS_ETIMEDOUT || rc == FBUS_EBUSY)
			continue; /* EBUSY: downstream holds `hold` frames */
		if (rc == FBUS_EDISCONNECTED && s->reconnect) {
			GST_INFO_OBJECT(s, "%s: waiting for a producer (%s)", s->uri,
			                fbus_sub_last_error(s->ref->sub));
			continue;
		}
		if (rc == FBUS_EDISCONNECTED) {
			GST_ELEMENT_ERROR(s, RESOURCE, READ,
			                  ("the producer of %s went away", s->uri),
			                  ("%s", fbus_sub_last_error(s->ref->sub)));
			return GST_FLOW_ERROR;
		}
		if (s->reconnect && (rc == FBUS_EPROTO || rc == FBUS_EMSGSIZE))
			continue;
		GST_ELEMENT_ERROR(s, RESOURCE, READ, ("reading %s failed", s->uri),
		                  ("%s", fbus_sub_last_error(s->ref->sub)));
		return GST_FLOW_ERROR;
	}
	if (fr.fmt.pixfmt != FBUS_PIXFMT_ENCODED &&
	    fbus_gst_video_format(fr.fmt.pixfmt) == GST_VIDEO_FORMAT_UNKNOWN)
		goto refuse;
	if (!s->have_caps || !same_format(&s->cur, &fr.fmt)) {
		if (!negotiate(s, &fr.fmt))
			goto refuse;
	}
	h = g_new0(Held, 1);
	h->fr = fr;
	h->ref = s->ref;
	g_atomic_int_inc(&s->ref->refs);
	buf = gst_buffer_new_wrapped_full(GST_MEMORY_FLAG_READONLY,
	                                  (gpointer)fr.data, fr.payload_bytes, 0,
	                                  fr.payload_bytes, h, held_free);
	if (fr.fmt.pixfmt != FBUS_PIXFMT_ENCODED) {
		gsize offs[GST_VIDEO_MAX_PLANES] = { 0 };
		gint strides[GST_VIDEO_MAX_PLANES] = { 0 };
		for (guint p = 0; p < fr.fmt.nplanes; p++) {
			offs[p] = fr.fmt.offset[p];
			strides[p] = (gint)fr.fmt.stride[p];
		}
		gst_buffer_add_video_meta_full(buf, GST_VIDEO_FRAME_FLAG_NONE,
		                               fbus_gst_video_format(fr.fmt.pixfmt),
		                               fr.fmt.width, fr.fmt.height,
		                               fr.fmt.nplanes, offs, strides);
	}
	GST_BUFFER_OFFSET(buf) = fr.seq;
	stamp(s, buf, &fr);
	{
		GstTagList *tags;

		fbus_gst_meta_read(buf, fr.meta, fr.meta_bytes, &tags);
		if (tags && (!s->tags || !gst_tag_list_is_equal(tags, s->tags))) {
			gst_tag_list_set_scope(tags, GST_TAG_SCOPE_STREAM);
			gst_clear_tag_list(&s->tags);
			s->tags = gst_tag_list_ref(tags);
			gst_pad_push_event(GST_BASE_SRC_PAD(s),
			                   gst_event_new_tag(tags));
		} else if (tags) {
			gst_tag_list_unref(tags);
		}
	}
	*out = buf;
	return GST_FLOW_OK;

refuse:
	g_mutex_lock(&s->ref->mu);
	fbus_sub_release(s->ref->sub, &fr);
	g_mutex_unlock(&s->ref->mu);
	GST_ELEMENT_ERROR(s, STREAM, FORMAT, ("cannot negotiate %s %ux%u",
	                  fbus_pixfmt_name(fr.fmt.pixfmt), fr.fmt.width,
	                  fr.fmt.height), (NULL));
	return GST_FLOW_NOT_NEGOTIATED;
}

static void
src_finalize(GObject *o)
{
	GstFramebusSrc *s = (GstFramebusSrc *)o;

	g_free(s->uri);
	G_OBJECT_CLASS(gst_framebus_src_parent_class)->finalize(o);
}

static void
gst_framebus_src_class_init(GstFramebusSrcClass *k)
{
	GObjectClass *oc = G_OBJECT_CLASS(k);
	GstElementClass *ec = GST_ELEMENT_CLASS(k);
	GstBaseSrcClass *bc = GST_BASE_SRC_CLASS(k);
	GstPushSrcClass *pc = GST_PUSH_SRC_CLASS(k);

	GST_DEBUG_CATEGORY_INIT(fbus_src_debug, "framebussrc", 0,
	                        "framebus source");
	oc->set_property = set_property;
	oc->get_property = get_property;
	oc->finalize = src_finalize;
	g_object_class_install_property(oc, PROP_URI,
		g_param_spec_string("uri", "URI",
		                    "bus to read: shm:NAME, unix:/path.sock, "
		                    "tcp://HOST:PORT", NULL,
		                    G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
	g_object_class_install_property(oc, PROP_MODE,
		g_param_spec_enum("mode", "Mode", "latest or every",
		                  mode_get_type(), FBUS_MODE_LATEST,
		                  G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
	g_object_class_install_property(oc, PROP_RECONNECT,
		g_param_spec_boolean("reconnect", "Reconnect",
		                     "wait for the producer (and a new one after "
		                     "it goes) instead of posting an error", TRUE,
		                     G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
	g_object_class_install_property(oc, PROP_HOLD,
		g_param_spec_uint("hold", "Hold",
		                  "frames downstream may hold at once (queues)",
		                  1, FBUS_MAX_HELD, 4,
		                  G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
	g_object_class_install_property(oc, PROP_DEPTH,
		g_param_spec_uint("depth", "Depth",
		                  "mode=every: frames queued for us (0 = 4)", 0,
		                  4096, 0,
		                  G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
	g_object_class_install_property(oc, PROP_POLICY,
		g_param_spec_enum("full-policy", "Full policy",
		                  "mode=every: what the producer does when our "
		                  "queue is full", policy_get_type(),
		                  FBUS_FULL_DROP,
		                  G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
	gst_element_class_add_static_pad_template(ec, &src_template);
	gst_element_class_set_static_metadata(ec, "framebus source",
		"Source/Video", "Frames of a framebus bus, without a copy",
		"framebus");
	bc->start = src_start;
	bc->stop = src_stop;
	bc->unlock = src_unlock;
	bc->negotiate = src_negotiate;
	bc->query = src_query;
	bc->unlock_stop = src_unlock_stop;
	pc->create = src_create;
}

static void
gst_framebus_src_init(GstFramebusSrc *s)
{
	s->reconnect = TRUE;
	s->hold = 4;
	gst_base_src_set_live(GST_BASE_SRC(s), TRUE);
	gst_base_src_set_format(GST_BASE_SRC(s), GST_FORMAT_TIME);

}

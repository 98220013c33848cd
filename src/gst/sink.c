/* SPDX-License-Identifier: MIT */
/*
 * sink.c — framebussink: publishes each buffer as a frame of a framebus
 * bus.  Raw video upstream wrote into our pool (pool.c) is committed in
 * place; other raw buffers are copied once into a loaned slot, plane by
 * plane with GStreamer's strides; image/jpeg goes as ENCODED.  A caps change is a
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
	gboolean use_pool;
	FbusPubRef *ref;
	GstTagList *tags; /* the stream's, for the frame metadata */
	guint64 frames, zero_copy, copied;
	gboolean jpeg;
	GstVideoInfo info;
	guint width, height;
	GstCaps *refused; /* said once: upstream re-sends sticky caps */
} GstFramebusSink;

typedef struct {
	GstBaseSinkClass parent_class;
} GstFramebusSinkClass;

G_DEFINE_TYPE(GstFramebusSink, gst_framebus_sink, GST_TYPE_BASE_SINK)

enum { PROP_0, PROP_URI, PROP_SLOTS, PROP_MAX_SUBSCRIBERS, PROP_POOL,
       PROP_STATS };

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
	case PROP_POOL: s->use_pool = g_value_get_boolean(v); break;
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
	case PROP_POOL: g_value_set_boolean(v, s->use_pool); break;
	case PROP_STATS: {
		struct fbus_pub_stats st = { 0 };
		FbusPubRef *r;

		GST_OBJECT_LOCK(s);
		r = s->ref ? fbus_pub_ref_ref(s->ref) : NULL;
		g_value_take_boxed(v, gst_structure_new("framebussink-stats",
			"frames", G_TYPE_UINT64, s->frames,
			"zero-copy", G_TYPE_UINT64, s->zero_copy,
			"copied", G_TYPE_UINT64, s->copied, NULL));
		GST_OBJECT_UNLOCK(s);
		if (r) {
			g_mutex_lock(&r->mu);
			fbus_pub_stats(r->pub, &st);
			g_mutex_unlock(&r->mu);
			fbus_pub_ref_unref(r);
		}
		gst_structure_set((GstStructure *)g_value_get_boxed(v),
		                  "subscribers", G_TYPE_UINT, st.subscribers,
		                  "dropped", G_TYPE_UINT64, st.dropped, NULL);
		break;
	}
	default: G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
	}
}

static gboolean
sink_start(GstBaseSink *bs)
{
	GstFramebusSink *s = (GstFramebusSink *)bs;
	struct fbus_pub_opts o = { .size = sizeof o, .slots = s->slots,
		                   .max_subscribers = s->max_subscribers };
	struct fbus_pub *pub;
	int rc;

	if (!s->uri || !s->uri[0]) {
		GST_ELEMENT_ERROR(s, RESOURCE, SETTINGS, ("no uri set"),
		                  ("set uri=shm:NAME (or unix:, tcp://)"));
		return FALSE;
	}
	rc = fbus_pub_open(&pub, s->uri, &o);
	if (rc) {
		GST_ELEMENT_ERROR(s, RESOURCE, OPEN_WRITE,
		                  ("cannot publish on %s", s->uri), ("%s",
		                  fbus_open_error()));
		return FALSE;
	}
	GST_OBJECT_LOCK(s);
	s->ref = fbus_pub_ref_new(pub);
	s->frames = s->zero_copy = s->copied = 0;
	GST_OBJECT_UNLOCK(s);
	return TRUE;
}

static gboolean
sink_stop(GstBaseSink *bs)
{
	GstFramebusSink *s = (GstFramebusSink *)bs;
	FbusPubRef *r = s->ref;

	if (!r)
		return TRUE;
	/* a pool buffer still upstream keeps the publisher (and the
	 * mapping it writes into) until it is freed; its loan is void */
	g_mutex_lock(&r->mu);
	fbus_pub_ref_abort_loan(r);
	g_mutex_unlock(&r->mu);
	GST_INFO_OBJECT(s, "%" G_GUINT64_FORMAT " frames: %" G_GUINT64_FORMAT
	                " zero-copy, %" G_GUINT64_FORMAT " copied", s->frames,
	                s->zero_copy, s->copied);
	GST_OBJECT_LOCK(s);
	s->ref = NULL;
	GST_OBJECT_UNLOCK(s);
	fbus_pub_ref_unref(r);
	gst_clear_tag_list(&s->tags);
	gst_caps_replace(&s->refused, NULL);
	return TRUE;
}

static gboolean
sink_unlock(GstBaseSink *bs)
{
	GstFramebusSink *s = (GstFramebusSink *)bs;

	if (s->ref) {
		g_mutex_lock(&s->ref->mu);
		s->ref->flushing = TRUE;
		g_cond_broadcast(&s->ref->back);
		g_mutex_unlock(&s->ref->mu);
	}
	return TRUE;
}

static gboolean
sink_unlock_stop(GstBaseSink *bs)
{
	GstFramebusSink *s = (GstFramebusSink *)bs;

	if (s->ref) {
		g_mutex_lock(&s->ref->mu);
		s->ref->flushing = FALSE;
		g_mutex_unlock(&s->ref->mu);
	}
	return TRUE;
}

/* Upstream may write into our slots: a pool for raw caps whose GStreamer
 * layout is a framebus layout, and video meta for anything else. */
static gboolean
sink_propose_allocation(GstBaseSink *bs, GstQuery *q)
{
	GstFramebusSink *s = (GstFramebusSink *)bs;
	GstCaps *caps = NULL;
	GstBufferPool *pool;
	gboolean need_pool;

	gst_query_parse_allocation(q, &caps, &need_pool);
	gst_query_add_allocation_meta(q, GST_VIDEO_META_API_TYPE, NULL);
	if (!caps || !s->ref || !s->use_pool ||
	    !gst_structure_has_name(gst_caps_get_structure(caps, 0),
	                            "video/x-raw"))
		return TRUE;
	pool = fbus_gst_pool_new(s->ref, GST_ELEMENT(s), caps);
	if (pool) {
		GstStructure *cfg = gst_buffer_pool_get_config(pool);
		guint size;

		gst_buffer_pool_config_get_params(cfg, NULL, &size, NULL, NULL);
		gst_structure_free(cfg);
		gst_query_add_allocation_pool(q, pool, size, 0, 2);
		gst_object_unref(pool);
	}
	return TRUE;
}

static gboolean
sink_event(GstBaseSink *bs, GstEvent *ev)
{
	GstFramebusSink *s = (GstFramebusSink *)bs;

	if (GST_EVENT_TYPE(ev) == GST_EVENT_TAG) {
		GstTagList *t;

		gst_event_parse_tag(ev, &t);
		if (gst_tag_list_get_scope(t) == GST_TAG_SCOPE_STREAM) {
			GstTagList *m = gst_tag_list_merge(s->tags, t,
			                                   GST_TAG_MERGE_REPLACE);
			gst_clear_tag_list(&s->tags);
			s->tags = m;
		}
	} else if (GST_EVENT_TYPE(ev) == GST_EVENT_STREAM_START) {
		gst_clear_tag_list(&s->tags);
	}
	return GST_BASE_SINK_CLASS(gst_framebus_sink_parent_class)->event(bs, ev);
}

static gboolean
sink_set_caps(GstBaseSink *bs, GstCaps *caps)
{
	GstFramebusSink *s = (GstFramebusSink *)bs;
	GstStructure *st = gst_caps_get_structure(caps, 0);
	struct fbus_format f = { 0 };
	GstVideoInfo info;
	gint w = 0, h = 0;

	if (gst_structure_has_name(st, "image/jpeg")) {
		gst_structure_get_int(st, "width", &w);
		gst_structure_get_int(st, "height", &h);
		s->jpeg = TRUE;
		s->width = (guint)w;
		s->height = (guint)h;
		gst_caps_replace(&s->refused, NULL);
		return TRUE;
	}
	if (s->refused && gst_caps_is_equal(caps, s->refused))
		return FALSE;
	gst_caps_replace(&s->refused, caps);
	if (!gst_video_info_from_caps(&info, caps) ||
	    !(f.pixfmt = fbus_gst_pixfmt(GST_VIDEO_INFO_FORMAT(&info)))) {
		GST_ELEMENT_ERROR(s, STREAM, FORMAT, ("unsupported caps"),
		                  ("%" GST_PTR_FORMAT, (void *)caps));
		return FALSE;
	}
	f.width = GST_VIDEO_INFO_WIDTH(&info);
	f.height = GST_VIDEO_INFO_HEIGHT(&info);
	if (fbus_format_layout(&f)) {
		GST_ELEMENT_ERROR(s, STREAM, FORMAT,
		                  ("a framebus frame cannot be %s %ux%u",
		                   gst_video_format_to_string(
		                           GST_VIDEO_INFO_FORMAT(&info)),
		                   f.width, f.height),
		                  ("NV12, I420 and YUY2 need an even width (and "
		                   "NV12, I420 an even height); frames at most "
		                   "%u bytes", (unsigned)FBUS_MAX_FRAME_BYTES));
		return FALSE;
	}
	s->info = info;
	s->jpeg = FALSE;
	gst_caps_replace(&s->refused, NULL);
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

/* The one copy, for a buffer that is not the pool's: GStreamer's
 * strides to the slot's (the same, as we loan them: one memcpy a plane). */
static int
copy_raw(GstFramebusSink *s, GstBuffer *buf, struct fbus_slot *slot)
{
	struct fbus_format fmt = { 0 };
	GstVideoFrame vf;
	int rc;

	fmt.pixfmt = fbus_gst_pixfmt(GST_VIDEO_INFO_FORMAT(&s->info));
	fmt.width = GST_VIDEO_INFO_WIDTH(&s->info);
	fmt.height = GST_VIDEO_INFO_HEIGHT(&s->info);
	for (guint p = 0; p < GST_VIDEO_INFO_N_PLANES(&s->info) &&
	                  p < FBUS_MAX_PLANES; p++)
		fmt.stride[p] = (uint32_t)GST_VIDEO_INFO_PLANE_STRIDE(&s->info, p);
	rc = fbus_pub_loan(s->ref->pub, &fmt, slot);
	if (rc)
		return rc;
	if (!gst_video_frame_map(&vf, &s->info, buf, GST_MAP_READ)) {
		fbus_pub_abort(s->ref->pub, slot);
		return FBUS_EINVAL;
	}
	for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES(&vf); p++) {
		const guint8 *src = GST_VIDEO_FRAME_PLANE_DATA(&vf, p);
		guint8 *dst = slot->data + slot->fmt.offset[p];
		size_t sstride = (size_t)GST_VIDEO_FRAME_PLANE_STRIDE(&vf, p);
		size_t dstride = slot->fmt.stride[p];
		guint rows = GST_VIDEO_FRAME_COMP_HEIGHT(&vf, p);
		/* component p starts plane p in every format we take
		 * (NV12: U, interleaved with V) */
		size_t bytes = (size_t)GST_VIDEO_FRAME_COMP_WIDTH(&vf, p) *
		               GST_VIDEO_FRAME_COMP_PSTRIDE(&vf, p);

		if (sstride == dstride) {
			memcpy(dst, src, dstride * (rows - 1) + bytes);
			continue;
		}
		for (guint y = 0; y < rows; y++)
			memcpy(dst + y * dstride, src + y * sstride, bytes);
	}
	gst_video_frame_unmap(&vf);
	return 0;
}

static int
copy_jpeg(GstFramebusSink *s, GstBuffer *buf, struct fbus_slot *slot)
{
	struct fbus_format fmt = { .pixfmt = FBUS_PIXFMT_ENCODED };
	GstMapInfo m;
	int rc;

	if (!gst_buffer_map(buf, &m, GST_MAP_READ))
		return FBUS_EINVAL;
	fmt.width = s->width ? s->width : 1;
	fmt.height = s->height ? s->height : 1;
	fmt.size = (uint32_t)m.size;
	rc = fbus_pub_loan(s->ref->pub, &fmt, slot);
	if (rc == 0) {
		memcpy(slot->data, m.data, m.size);
		slot->payload_bytes = (uint32_t)m.size;
	}
	gst_buffer_unmap(buf, &m);
	return rc;
}

static GstFlowReturn
sink_render(GstBaseSink *bs, GstBuffer *buf)
{
	GstFramebusSink *s = (GstFramebusSink *)bs;
	FbusPubRef *r = s->ref;
	struct fbus_slot own, *slot;
	gboolean pooled;
	int64_t seq;
	int rc = 0;

	g_mutex_lock(&r->mu);
	slot = fbus_pub_ref_pool_slot(r, buf);
	pooled = slot != NULL;
	if (!pooled) {
		/* a publisher lends one slot: the pool's must come back */
		if (!fbus_pub_ref_wait_free(r)) {
			gboolean flushing = r->flushing;

			g_mutex_unlock(&r->mu);
			if (flushing)
				return GST_FLOW_FLUSHING;
			GST_ELEMENT_ERROR(s, RESOURCE, WRITE,
			                  ("the pool's buffer was not given back"),
			                  ("a buffer of framebussink's pool is held "
			                   "upstream while other buffers arrive"));
			return GST_FLOW_ERROR;
		}
		slot = &own;
		rc = s->jpeg ? copy_jpeg(s, buf, slot) : copy_raw(s, buf, slot);
		if (rc) {
			g_mutex_unlock(&r->mu);
			GST_ELEMENT_ERROR(s, RESOURCE, WRITE, ("loan failed on %s",
			                  s->uri), ("%s", rc == FBUS_EINVAL &&
			                  !fbus_pub_last_error(r->pub)[0] ?
			                  "cannot map the buffer" :
			                  fbus_pub_last_error(r->pub)));
			return GST_FLOW_ERROR;
		}
	}
	slot->t_mono_ns = capture_mono(s, buf);
	slot->meta_bytes = (uint32_t)fbus_gst_meta_write(buf, s->tags, slot->meta,
	                                                 FBUS_META_MAX);
	seq = fbus_pub_commit(r->pub, slot);
	if (pooled)
		fbus_pub_ref_loan_done(r);
	g_mutex_unlock(&r->mu);
	if (seq < 0) {
		GST_ELEMENT_ERROR(s, RESOURCE, WRITE, ("commit failed on %s",
		                  s->uri), ("%s", fbus_pub_last_error(r->pub)));
		return GST_FLOW_ERROR;
	}
	GST_OBJECT_LOCK(s);
	s->frames++;
	if (pooled)
		s->zero_copy++;
	else
		s->copied++;
	GST_OBJECT_UNLOCK(s);
	return GST_FLOW_OK;
}

static void
sink_finalize(GObject *o)
{
	GstFramebusSink *s = (GstFramebusSink *)o;

	g_free(s->uri);
	gst_clear_tag_list(&s->tags);
	gst_caps_replace(&s->refused, NULL);
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
	g_object_class_install_property(oc, PROP_POOL,
		g_param_spec_boolean("pool", "Pool",
		                     "offer upstream a pool of framebus slots to "
		                     "write into (no copy in the sink)", TRUE,
		                     G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
	g_object_class_install_property(oc, PROP_STATS,
		g_param_spec_boxed("stats", "Statistics",
		                   "frames published, of which zero-copy (the "
		                   "pool's) and copied once; subscribers now; "
		                   "frames dropped for full every-mode queues",
		                   GST_TYPE_STRUCTURE,
		                   G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
	gst_element_class_add_static_pad_template(ec, &sink_template);
	gst_element_class_set_static_metadata(ec, "framebus sink",
		"Sink/Video", "Publishes video frames on a framebus bus "
		"(shared memory, Unix socket or TCP)", "framebus");
	bc->start = sink_start;
	bc->stop = sink_stop;
	bc->set_caps = sink_set_caps;
	bc->render = sink_render;
	bc->unlock = sink_unlock;
	bc->unlock_stop = sink_unlock_stop;
	bc->propose_allocation = sink_propose_allocation;
	bc->event = sink_event;
}

static void
gst_framebus_sink_init(GstFramebusSink *s)
{
	/* a live bus: frames go when they come, not on the clock */
	gst_base_sink_set_sync(GST_BASE_SINK(s), FALSE);
	s->use_pool = TRUE;
}

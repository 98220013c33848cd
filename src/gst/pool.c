/* SPDX-License-Identifier: MIT */
/*
 * pool.c — the buffer pool framebussink proposes upstream.  Each buffer is
 * a framebus loan: videoconvert, videoscale or videotestsrc write straight
 * into the slot subscribers will read, and the sink commits it without a
 * copy.  A publisher lends one slot at a time: the pool has two buffers
 * (the sink's last sample may keep a committed one); a buffer acquired
 * while the other still holds the loan is plain memory, copied once.
 */
#include "gstframebus.h"

GST_DEBUG_CATEGORY_STATIC(fbus_pool_debug);
#define GST_CAT_DEFAULT fbus_pool_debug

typedef struct FbusLoan {
	FbusPubRef *ref;
	struct fbus_slot slot;
} FbusLoan;

FbusPubRef *
fbus_pub_ref_new(struct fbus_pub *pub)
{
	FbusPubRef *r = g_new0(FbusPubRef, 1);

	r->refs = 1;
	g_mutex_init(&r->mu);
	g_cond_init(&r->back);
	r->pub = pub;
	return r;
}

FbusPubRef *
fbus_pub_ref_ref(FbusPubRef *r)
{
	g_atomic_int_inc(&r->refs);
	return r;
}

void
fbus_pub_ref_unref(FbusPubRef *r)
{
	if (!g_atomic_int_dec_and_test(&r->refs))
		return;
	fbus_pub_close(r->pub);
	g_cond_clear(&r->back);
	g_mutex_clear(&r->mu);
	g_free(r);
}

gboolean
fbus_pub_ref_wait_free(FbusPubRef *r)
{
	gint64 until = g_get_monotonic_time() + 2 * G_TIME_SPAN_SECOND;

	while (r->loan && !r->flushing)
		if (!g_cond_wait_until(&r->back, &r->mu, until))
			break;
	return !r->loan && !r->flushing;
}

struct fbus_slot *
fbus_pub_ref_pool_slot(FbusPubRef *r, GstBuffer *buf)
{
	if (!r->loan || gst_buffer_n_memory(buf) != 1 ||
	    gst_buffer_peek_memory(buf, 0) != r->loan_mem ||
	    gst_buffer_get_size(buf) != r->loan->slot.fmt.size)
		return NULL;
	return &r->loan->slot;
}

void
fbus_pub_ref_loan_done(FbusPubRef *r)
{
	r->loan = NULL;
	r->loan_mem = NULL;
	g_cond_broadcast(&r->back);
}

void
fbus_pub_ref_abort_loan(FbusPubRef *r)
{
	if (!r->loan)
		return;
	fbus_pub_abort(r->pub, &r->loan->slot);
	fbus_pub_ref_loan_done(r);
}

/* The memory is gone (every buffer that shared it freed): a loan that was
 * never committed goes back to the publisher. */
static void
loan_free(gpointer p)
{
	FbusLoan *l = p;
	FbusPubRef *r = l->ref;

	g_mutex_lock(&r->mu);
	if (r->loan == l)
		fbus_pub_ref_abort_loan(r);
	g_mutex_unlock(&r->mu);
	fbus_pub_ref_unref(r);
	g_free(l);
}

typedef struct {
	GstBufferPool parent;
	FbusPubRef *ref;
	GstElement *sink; /* for element errors */
	GstVideoInfo info;
	gboolean video_meta;
	gboolean flushing; /* under ref->mu */
} GstFramebusPool;

typedef struct {
	GstBufferPoolClass parent_class;
} GstFramebusPoolClass;

GType gst_framebus_pool_get_type(void);
G_DEFINE_TYPE(GstFramebusPool, gst_framebus_pool, GST_TYPE_BUFFER_POOL)

/* The slot layout for GStreamer's layout of these caps: its strides, and
 * FALSE when its plane offsets are not the ones framebus would use. */
static gboolean
slot_format(const GstVideoInfo *info, struct fbus_format *f)
{
	*f = (struct fbus_format){
		.pixfmt = fbus_gst_pixfmt(GST_VIDEO_INFO_FORMAT(info)),
		.width = GST_VIDEO_INFO_WIDTH(info),
		.height = GST_VIDEO_INFO_HEIGHT(info),
	};
	if (!f->pixfmt || GST_VIDEO_INFO_N_PLANES(info) > FBUS_MAX_PLANES)
		return FALSE;
	for (guint p = 0; p < GST_VIDEO_INFO_N_PLANES(info); p++)
		f->stride[p] = (uint32_t)GST_VIDEO_INFO_PLANE_STRIDE(info, p);
	if (fbus_format_layout(f))
		return FALSE;
	for (guint p = 0; p < f->nplanes; p++)
		if (f->offset[p] != GST_VIDEO_INFO_PLANE_OFFSET(info, p))
			return FALSE;
	return f->size == GST_VIDEO_INFO_SIZE(info);
}

static const gchar **
pool_get_options(GstBufferPool *bp)
{
	static const gchar *options[] = { GST_BUFFER_POOL_OPTION_VIDEO_META,
		                          NULL };
	(void)bp;
	return options;
}

static gboolean
pool_set_config(GstBufferPool *bp, GstStructure *cfg)
{
	GstFramebusPool *p = (GstFramebusPool *)bp;
	GstCaps *caps = NULL;
	guint size, min, max;
	struct fbus_format f;
	gboolean ok = TRUE;

	if (!gst_buffer_pool_config_get_params(cfg, &caps, &size, &min, &max) ||
	    !caps || !gst_video_info_from_caps(&p->info, caps) ||
	    !slot_format(&p->info, &f))
		return FALSE;
	/* loans are made when a buffer is acquired, not in advance: an
	 * element that needs more buffers at once falls back to its own pool */
	if (min > 1 || max == 0 || max > 2 || size != f.size) {
		gst_buffer_pool_config_set_params(cfg, caps, f.size, 0, 2);
		ok = FALSE;
	} else if (min != 0) {
		gst_buffer_pool_config_set_params(cfg, caps, f.size, 0, max);
	}
	p->video_meta = gst_buffer_pool_config_has_option(
		cfg, GST_BUFFER_POOL_OPTION_VIDEO_META);
	return GST_BUFFER_POOL_CLASS(gst_framebus_pool_parent_class)
	               ->set_config(bp, cfg) && ok;
}

static void
add_video_meta(GstFramebusPool *p, GstBuffer *buf, const struct fbus_format *f)
{
	gsize offs[GST_VIDEO_MAX_PLANES] = { 0 };
	gint strides[GST_VIDEO_MAX_PLANES] = { 0 };

	if (!p->video_meta)
		return;
	for (guint i = 0; i < f->nplanes; i++) {
		offs[i] = f->offset[i];
		strides[i] = (gint)f->stride[i];
	}
	gst_buffer_add_video_meta_full(buf, GST_VIDEO_FRAME_FLAG_NONE,
	                               GST_VIDEO_INFO_FORMAT(&p->info), f->width,
	                               f->height, f->nplanes, offs, strides);
}

static GstFlowReturn
pool_alloc(GstBufferPool *bp, GstBuffer **out, GstBufferPoolAcquireParams *pa)
{
	GstFramebusPool *p = (GstFramebusPool *)bp;
	FbusPubRef *r = p->ref;
	FbusLoan *l = g_new0(FbusLoan, 1);
	struct fbus_format f;
	GstMemory *mem;
	GstBuffer *buf;
	int rc;

	(void)pa;
	slot_format(&p->info, &f);
	g_mutex_lock(&r->mu);
	/* the other buffer is on its way to the sink, or it is the input of
	 * the element asking (videoscale turning from passthrough to
	 * scaling): wait a moment, then hand out plain memory, which the
	 * sink copies once */
	{
		gint64 until = g_get_monotonic_time() + 2 * G_TIME_SPAN_MILLISECOND;

		while (r->loan && !r->flushing && !p->flushing)
			if (!g_cond_wait_until(&r->back, &r->mu, until))
				break;
	}
	if (r->flushing || p->flushing) {
		g_mutex_unlock(&r->mu);
		g_free(l);
		return GST_FLOW_FLUSHING;
	}
	if (r->loan) {
		g_mutex_unlock(&r->mu);
		g_free(l);
		buf = gst_buffer_new_allocate(NULL, f.size, NULL);
		if (!buf)
			return GST_FLOW_ERROR;
		add_video_meta(p, buf, &f);
		*out = buf;
		return GST_FLOW_OK;
	}
	rc = fbus_pub_loan(r->pub, &f, &l->slot);
	if (rc) {
		GST_ELEMENT_ERROR(p->sink, RESOURCE, WRITE, ("loan failed"),
		                  ("%s", fbus_pub_last_error(r->pub)));
		g_mutex_unlock(&r->mu);
		g_free(l);
		return GST_FLOW_ERROR;
	}
	l->ref = fbus_pub_ref_ref(r);
	mem = gst_memory_new_wrapped(0, l->slot.data, l->slot.fmt.size, 0,
	                             l->slot.fmt.size, l, loan_free);
	r->loan = l;
	r->loan_mem = mem;
	g_mutex_unlock(&r->mu);

	buf = gst_buffer_new();
	gst_buffer_append_memory(buf, mem);
	add_video_meta(p, buf, &l->slot.fmt);
	*out = buf;
	return GST_FLOW_OK;
}

static void
pool_flush(GstFramebusPool *p, gboolean on)
{
	g_mutex_lock(&p->ref->mu);
	p->flushing = on;
	g_cond_broadcast(&p->ref->back);
	g_mutex_unlock(&p->ref->mu);
}

static void
pool_flush_start(GstBufferPool *bp)
{
	pool_flush((GstFramebusPool *)bp, TRUE);
}

static void
pool_flush_stop(GstBufferPool *bp)
{
	pool_flush((GstFramebusPool *)bp, FALSE);
}

/* A buffer back from downstream points at a slot that is published (or
 * given back): never hand it out again, loan afresh on the next acquire. */
static void
pool_reset(GstBufferPool *bp, GstBuffer *buf)
{
	GST_BUFFER_POOL_CLASS(gst_framebus_pool_parent_class)->reset_buffer(bp,
	                                                                    buf);
	GST_BUFFER_FLAG_SET(buf, GST_BUFFER_FLAG_TAG_MEMORY);
}

static void
pool_finalize(GObject *o)
{
	GstFramebusPool *p = (GstFramebusPool *)o;

	fbus_pub_ref_unref(p->ref);
	gst_object_unref(p->sink);
	G_OBJECT_CLASS(gst_framebus_pool_parent_class)->finalize(o);
}

static void
gst_framebus_pool_class_init(GstFramebusPoolClass *k)
{
	GstBufferPoolClass *bc = GST_BUFFER_POOL_CLASS(k);

	GST_DEBUG_CATEGORY_INIT(fbus_pool_debug, "framebuspool", 0,
	                        "framebus loan pool");
	G_OBJECT_CLASS(k)->finalize = pool_finalize;
	bc->get_options = pool_get_options;
	bc->set_config = pool_set_config;
	bc->alloc_buffer = pool_alloc;
	bc->reset_buffer = pool_reset;
	bc->flush_start = pool_flush_start;
	bc->flush_stop = pool_flush_stop;
}

static void
gst_framebus_pool_init(GstFramebusPool *p)
{
	(void)p;
}

GstBufferPool *
fbus_gst_pool_new(FbusPubRef *ref, GstElement *sink, GstCaps *caps)
{
	GstFramebusPool *p;
	GstStructure *cfg;
	GstVideoInfo info;
	struct fbus_format f;

	if (!gst_video_info_from_caps(&info, caps) || !slot_format(&info, &f))
		return NULL;
	p = g_object_new(gst_framebus_pool_get_type(), NULL);
	gst_object_ref_sink(p);
	p->ref = fbus_pub_ref_ref(ref);
	p->sink = gst_object_ref(sink);
	p->info = info;
	cfg = gst_buffer_pool_get_config(GST_BUFFER_POOL(p));
	gst_buffer_pool_config_set_params(cfg, caps, f.size, 0, 2);
	if (!gst_buffer_pool_set_config(GST_BUFFER_POOL(p), cfg)) {
		gst_object_unref(p);
		return NULL;
	}
	GST_DEBUG("pool for %" GST_PTR_FORMAT ": %u bytes", (void *)caps, f.size);
	return GST_BUFFER_POOL(p);
}

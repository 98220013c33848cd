/* SPDX-License-Identifier: MIT */
/*
 * test-gst-sink.c — framebussink from the inside: for every caps format,
 * the bytes videotestsrc wrote (seen by a probe on the sink's pad) are the
 * bytes a framebus subscriber reads, written straight into the bus's slot
 * (the sink's pool: no copy, counted by its "stats") or copied once
 * (pool=false); caps changes mid-stream, bigger and smaller, reach both a
 * C subscriber and a framebussrc pipeline; tags travel as metadata;
 * framebussrc's timestamps are the capture intervals from 0.
 * Runs the plugin uninstalled (GST_PLUGIN_PATH).
 */
#define _GNU_SOURCE /* memmem */
#include "check.h"
#include "crc32c.h"
#include "testutil.h"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MAXF 64 /* frames a probe records: MAXF * 16 */

/* CRC of a frame's visible bytes, plane by plane, whatever the strides. */
static uint32_t
visible_crc(const GstVideoInfo *info, const uint8_t *const *plane,
            const size_t *stride)
{
	uint32_t crc = 0;

	for (guint p = 0; p < GST_VIDEO_INFO_N_PLANES(info); p++) {
		size_t bytes = (size_t)GST_VIDEO_INFO_COMP_WIDTH(info, p) *
		               GST_VIDEO_INFO_COMP_PSTRIDE(info, p);

		for (gint y = 0; y < GST_VIDEO_INFO_COMP_HEIGHT(info, p); y++)
			crc = fbusi_crc32c(crc, plane[p] + y * stride[p], bytes);
	}
	return crc;
}

static uint32_t
buffer_crc(GstBuffer *buf, GstCaps *caps)
{
	const uint8_t *plane[GST_VIDEO_MAX_PLANES];
	size_t stride[GST_VIDEO_MAX_PLANES];
	GstVideoInfo info;
	GstVideoFrame vf;
	uint32_t crc;

	if (!gst_video_info_from_caps(&info, caps) ||
	    !gst_video_frame_map(&vf, &info, buf, GST_MAP_READ))
		FAIL("cannot map a buffer");
	for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES(&vf); p++) {
		plane[p] = GST_VIDEO_FRAME_PLANE_DATA(&vf, p);
		stride[p] = (size_t)GST_VIDEO_FRAME_PLANE_STRIDE(&vf, p);
	}
	crc = visible_crc(&info, plane, stride);
	gst_video_frame_unmap(&vf);
	return crc;
}

static GstVideoFormat
gst_format_of(uint32_t pixfmt)
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

static uint32_t
frame_crc(const struct fbus_frame *fr)
{
	const uint8_t *plane[GST_VIDEO_MAX_PLANES];
	size_t stride[GST_VIDEO_MAX_PLANES];
	GstVideoInfo info;

	gst_video_info_set_format(&info, gst_format_of(fr->fmt.pixfmt),
	                          fr->fmt.width, fr->fmt.height);
	for (uint32_t p = 0; p < fr->fmt.nplanes; p++) {
		plane[p] = fr->data + fr->fmt.offset[p];
		stride[p] = fr->fmt.stride[p];
	}
	return visible_crc(&info, plane, stride);
}

/* What the probe saw go into the sink. */
struct seen {
	GMutex mu;
	guint n;
	uint32_t crc[MAXF * 16];
	guint w[MAXF * 16];
};

static GstPadProbeReturn
on_buffer(GstPad *pad, GstPadProbeInfo *pi, gpointer user)
{
	struct seen *s = user;
	GstCaps *caps = gst_pad_get_current_caps(pad);
	GstVideoInfo info;

	gst_video_info_from_caps(&info, caps);
	g_mutex_lock(&s->mu);
	if (s->n < G_N_ELEMENTS(s->crc)) {
		s->crc[s->n] = buffer_crc(GST_PAD_PROBE_INFO_BUFFER(pi), caps);
		s->w[s->n] = (guint)GST_VIDEO_INFO_WIDTH(&info);
		s->n++;
	}
	g_mutex_unlock(&s->mu);
	gst_caps_unref(caps);
	return GST_PAD_PROBE_OK;
}

/* The subscriber connected (it polls for a producer every 100 ms): from
 * now on it sees every frame committed. */
static void
wait_connected(struct fbus_sub *sub)
{
	for (int i = 0; i < 150; i++) {
		struct fbus_sub_stats st;
		struct fbus_frame fr;
		int rc = fbus_sub_next(sub, &fr, 100);

		if (rc != FBUS_ETIMEDOUT)
			fail_msg("before the first frame: %s", fbus_strerror(rc));
		CHECK(fbus_sub_stats(sub, &st));
		if (st.connected)
			return;
	}
	FAIL("the subscriber never connected");
}

/* Start a pipeline; with `sub`, only once that subscriber of its
 * framebussink is connected (PAUSED opens the bus and commits nothing),
 * so it cannot miss the first frames on a busy machine. */
static GstElement *
launch(const char *desc, struct seen *seen, struct fbus_sub *sub)
{
	GError *err = NULL;
	GstElement *p = gst_parse_launch(desc, &err);

	if (!p)
		fail_msg("%s: %s", desc, err ? err->message : "?");
	if (seen) {
		GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "s");
		GstPad *pad = gst_element_get_static_pad(sink, "sink");

		gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, seen,
		                  NULL);
		gst_object_unref(pad);
		gst_object_unref(sink);
	}
	if (sub) {
		assert_int_not_equal(gst_element_set_state(p, GST_STATE_PAUSED),
		                     GST_STATE_CHANGE_FAILURE);
		assert_int_not_equal(gst_element_get_state(p, NULL, NULL,
		                     10 * GST_SECOND), GST_STATE_CHANGE_FAILURE);
		wait_connected(sub);
	}
	assert_int_not_equal(gst_element_set_state(p, GST_STATE_PLAYING),
	                     GST_STATE_CHANGE_FAILURE);
	return p;
}

/* Wait for EOS (or an error: the test fails with its message). */
static void
wait_eos(GstElement *p)
{
	GstBus *bus = gst_element_get_bus(p);
	GstMessage *m = gst_bus_timed_pop_filtered(bus, 20 * GST_SECOND,
		GST_MESSAGE_EOS | GST_MESSAGE_ERROR);

	assert_non_null(m);
	if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
		GError *e;
		gchar *dbg;

		gst_message_parse_error(m, &e, &dbg);
		fail_msg("pipeline error: %s (%s)", e->message, dbg);
	}
	gst_message_unref(m);
	gst_object_unref(bus);
}

static GstStructure *
sink_stats(GstElement *p)
{
	GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "s");
	GstStructure *st = NULL;

	g_object_get(sink, "stats", &st, NULL);
	gst_object_unref(sink);
	return st;
}

static guint64
stat(const GstStructure *st, const char *key)
{
	guint64 v = 0;

	assert_true(gst_structure_get_uint64(st, key, &v));
	return v;
}

/* every raw format, pool and copy: the probe's bytes are the frames' */
static void
formats(gboolean pool)
{
	static const char *fmts[] = { "BGR", "RGB", "BGRx", "BGRA", "GRAY8",
		                      "NV12", "I420", "YUY2" };
	const guint n = 12;

	for (size_t i = 0; i < G_N_ELEMENTS(fmts); i++) {
		struct seen seen = { 0 };
		struct fbus_sub *sub;
		struct fbus_sub_opts so = { .size = sizeof so,
			.mode = FBUS_MODE_EVERY, .depth = n + 4,
			.flags = FBUS_SUB_RECONNECT };
		const char *bus = t_unique_name("gsk");
		/* odd row lengths for the packed formats: strides != width */
		int w = strchr("BRG", fmts[i][0]) && strcmp(fmts[i], "BGRx") &&
		                strcmp(fmts[i], "BGRA") ? 318 : 320;
		char uri[128], desc[512];
		uint32_t got[n];
		GstElement *p;
		GstStructure *st;

		g_mutex_init(&seen.mu);
		snprintf(uri, sizeof uri, "shm:%s", bus);
		CHECK(fbus_sub_open(&sub, uri, &so));
		snprintf(desc, sizeof desc,
		         "videotestsrc num-buffers=%u pattern=ball ! "
		         "video/x-raw,format=%s,width=%d,height=240,"
		         "framerate=30/1 ! framebussink name=s uri=%s pool=%s",
		         n, fmts[i], w, uri, pool ? "true" : "false");
		p = launch(desc, &seen, sub);
		for (guint k = 0; k < n; k++) {
			struct fbus_frame fr;

			CHECK(fbus_sub_next(sub, &fr, 10000));
			assert_int_equal(fr.fmt.width, (unsigned)w);
			got[k] = frame_crc(&fr);
			fbus_sub_release(sub, &fr);
		}
		wait_eos(p);
		st = sink_stats(p);
		assert_int_equal(seen.n, n);
		for (guint k = 0; k < n; k++)
			if (got[k] != seen.crc[k])
				fail_msg("%s pool=%d frame %u: crc %08x, upstream "
				         "wrote %08x", fmts[i], pool, k, got[k],
				         seen.crc[k]);
		/* the distinct frames of the moving ball prove it is not
		 * one frame over and over */
		assert_int_not_equal(got[0], got[n - 1]);
		assert_int_equal(stat(st, "frames"), n);
		assert_int_equal(stat(st, "zero-copy"), pool ? n : 0);
		assert_int_equal(stat(st, "copied"), pool ? 0 : n);
		gst_structure_free(st);
		gst_element_set_state(p, GST_STATE_NULL);
		gst_object_unref(p);
		fbus_sub_close(sub);
		g_mutex_clear(&seen.mu);
	}
}

static void
test_formats_pool(void **state)
{
	(void)state;
	formats(TRUE);
}

static void
test_formats_copy(void **state)
{
	(void)state;
	formats(FALSE);
}

static const int sizes[][2] = { { 320, 240 }, { 640, 480 },
	                        { 160, 120 }, { 320, 240 } };

/* framebussrc's side of test_caps_change, in its own thread: its
 * buffers, pulled as they come (each one out counts against its `hold`),
 * must be frames the sink took, in order, through every size */
struct src_side {
	GstAppSink *as;
	struct seen *seen;
	guint want, pulled, pos;
};

static gpointer
pull_src(gpointer user)
{
	struct src_side *ss = user;
	struct seen *seen = ss->seen;
	GstSample *smp;

	while (ss->want < G_N_ELEMENTS(sizes) &&
	       (smp = gst_app_sink_try_pull_sample(ss->as, 15 * GST_SECOND))) {
		GstVideoInfo info;
		uint32_t crc;

		gst_video_info_from_caps(&info, gst_sample_get_caps(smp));
		crc = buffer_crc(gst_sample_get_buffer(smp),
		                 gst_sample_get_caps(smp));
		g_mutex_lock(&seen->mu);
		while (ss->pos < seen->n && seen->crc[ss->pos] != crc)
			ss->pos++;
		if (ss->pos == seen->n)
			FAIL("framebussrc buffer %u (%dx%d) is no frame the "
			     "sink took, or out of order", ss->pulled,
			     GST_VIDEO_INFO_WIDTH(&info),
			     GST_VIDEO_INFO_HEIGHT(&info));
		g_mutex_unlock(&seen->mu);
		if (GST_VIDEO_INFO_WIDTH(&info) == sizes[ss->want][0] &&
		    GST_VIDEO_INFO_HEIGHT(&info) == sizes[ss->want][1])
			ss->want++;
		ss->pulled++;
		gst_sample_unref(smp);
	}
	return NULL;
}

/* caps change mid-stream, bigger then smaller: a C subscriber and a
 * framebussrc pipeline follow, every frame the bytes that went in */
static void
test_caps_change(void **state)
{
	const guint per = 6;
	struct seen seen = { 0 };
	struct fbus_sub *sub;
	struct fbus_sub_opts so = { .size = sizeof so, .mode = FBUS_MODE_EVERY,
		                    .depth = 16, .flags = FBUS_SUB_RECONNECT };
	const char *bus = t_unique_name("gsc");
	char uri[128], desc[512];
	GstElement *p, *q, *cf;
	struct src_side ss = { .seen = &seen };
	GThread *th;
	guint k = 0;

	(void)state;
	g_mutex_init(&seen.mu);
	snprintf(uri, sizeof uri, "shm:%s", bus);
	CHECK(fbus_sub_open(&sub, uri, &so));
	snprintf(desc, sizeof desc, "framebussrc uri=%s mode=every ! "
	         "appsink name=a sync=false", uri);
	q = launch(desc, NULL, NULL);
	ss.as = GST_APP_SINK(gst_bin_get_by_name(GST_BIN(q), "a"));
	th = g_thread_new("pull", pull_src, &ss);
	snprintf(desc, sizeof desc,
	         "videotestsrc is-live=true pattern=ball ! "
	         "video/x-raw,format=BGR,width=640,height=480,framerate=30/1 ! "
	         "videoscale ! capsfilter name=cf caps=video/x-raw,width=320,"
	         "height=240 ! framebussink name=s uri=%s", uri);
	p = launch(desc, &seen, sub);
	cf = gst_bin_get_by_name(GST_BIN(p), "cf");
	for (size_t si = 0; si < G_N_ELEMENTS(sizes); si++) {
		GstCaps *c = gst_caps_new_simple("video/x-raw", "width",
			G_TYPE_INT, sizes[si][0], "height", G_TYPE_INT,
			sizes[si][1], NULL);

		g_object_set(cf, "caps", c, NULL);
		gst_caps_unref(c);
		/* frames of the old size still in flight, then the new */
		for (guint got = 0; got < per;) {
			struct fbus_frame fr;
			uint32_t crc;
			int rc = fbus_sub_next(sub, &fr, 10000);

			if (rc)
				fail_msg("frame %u: %s", k, fbus_strerror(rc));
			crc = frame_crc(&fr);
			g_mutex_lock(&seen.mu);
			assert_true(k < seen.n);
			if (crc != seen.crc[k])
				fail_msg("frame %u (%ux%u): crc %08x, upstream wrote "
				         "%08x", k, fr.fmt.width, fr.fmt.height, crc,
				         seen.crc[k]);
			assert_int_equal(fr.fmt.width, seen.w[k]);
			g_mutex_unlock(&seen.mu);
			if (fr.fmt.width == (unsigned)sizes[si][0] &&
			    fr.fmt.height == (unsigned)sizes[si][1])
				got++;
			fbus_sub_release(sub, &fr);
			k++;
			assert_true(k < G_N_ELEMENTS(seen.crc));
		}
	}
	g_thread_join(th);
	if (ss.want < G_N_ELEMENTS(sizes))
		fail_msg("framebussrc: %u buffers, sizes seen in order: %u of %zu",
		         ss.pulled, ss.want, G_N_ELEMENTS(sizes));
	gst_element_set_state(p, GST_STATE_NULL);
	gst_element_set_state(q, GST_STATE_NULL);
	gst_object_unref(cf);
	gst_object_unref(ss.as);
	gst_object_unref(p);
	gst_object_unref(q);
	fbus_sub_close(sub);
	g_mutex_clear(&seen.mu);
}

/* stream tags go out as metadata and come back as a tag event */
static void
test_tags(void **state)
{
	struct fbus_sub *sub;
	struct fbus_sub_opts so = { .size = sizeof so, .mode = FBUS_MODE_EVERY,
		                    .depth = 8, .flags = FBUS_SUB_RECONNECT };
	const char *bus = t_unique_name("gst");
	char uri[128], desc[512];
	struct fbus_frame fr;
	GstElement *p, *q;
	GstBus *gbus;
	gchar *title = NULL;

	(void)state;
	snprintf(uri, sizeof uri, "shm:%s", bus);
	CHECK(fbus_sub_open(&sub, uri, &so));
	snprintf(desc, sizeof desc, "framebussrc uri=%s ! fakesink", uri);
	q = launch(desc, NULL, NULL);
	snprintf(desc, sizeof desc,
	         "videotestsrc is-live=true num-buffers=20 ! "
	         "video/x-raw,width=64,height=48,framerate=30/1 ! "
	         "taginject tags=title=gate3 ! framebussink uri=%s", uri);
	p = launch(desc, NULL, NULL);
	CHECK(fbus_sub_next(sub, &fr, 10000));
	assert_true(fr.meta_bytes > 7);
	assert_memory_equal(fr.meta, "FBGS 1\n", 7);
	assert_non_null(memmem(fr.meta, fr.meta_bytes, "gate3", 5));
	fbus_sub_release(sub, &fr);
	gbus = gst_element_get_bus(q);
	while (!title) {
		GstMessage *m = gst_bus_timed_pop_filtered(gbus, 10 * GST_SECOND,
			GST_MESSAGE_TAG | GST_MESSAGE_ERROR);
		GstTagList *t;

		assert_non_null(m);
		assert_int_equal(GST_MESSAGE_TYPE(m), GST_MESSAGE_TAG);
		gst_message_parse_tag(m, &t);
		gst_tag_list_get_string(t, GST_TAG_TITLE, &title);
		gst_tag_list_unref(t);
		gst_message_unref(m);
	}
	assert_string_equal(title, "gate3");
	g_free(title);
	gst_object_unref(gbus);
	gst_element_set_state(p, GST_STATE_NULL);
	gst_element_set_state(q, GST_STATE_NULL);
	gst_object_unref(p);
	gst_object_unref(q);
	fbus_sub_close(sub);
}

/* framebussrc's timeline: the first frame at 0, then the capture
 * intervals exactly; a live source that reports its latency */
static void
test_timestamps(void **state)
{
	const int64_t step = 40000000;
	const char *bus = t_unique_name("gts");
	struct fbus_pub_opts po = { .size = sizeof po };
	struct fbus_format f = { .pixfmt = FBUS_PIXFMT_GRAY8, .width = 64,
		                 .height = 48 };
	struct fbus_pub_stats pst = { 0 };
	struct fbus_pub *pub;
	char uri[128], desc[256];
	GstElement *q, *src;
	GstAppSink *as;
	GstQuery *lq;
	gboolean live = FALSE;
	int64_t t;

	(void)state;
	snprintf(uri, sizeof uri, "shm:%s", bus);
	CHECK(fbus_pub_open(&pub, uri, &po));
	snprintf(desc, sizeof desc, "framebussrc name=src uri=%s mode=every ! "
	         "appsink name=a sync=false", uri);
	q = launch(desc, NULL, NULL);
	for (int i = 0; i < 200 && !pst.subscribers; i++) {
		g_usleep(20000);
		CHECK(fbus_pub_stats(pub, &pst));
	}
	assert_int_equal(pst.subscribers, 1);
	/* captured in the past: every stamp is before it arrives */
	t = fbus_now_mono_ns() - 10 * step;
	for (int k = 0; k < 5; k++) {
		struct fbus_slot sl;

		CHECK(fbus_pub_loan(pub, &f, &sl));
		memset(sl.data, k, sl.capacity);
		sl.t_mono_ns = t + k * step;
		assert_true(fbus_pub_commit(pub, &sl) >= 0);
	}
	as = GST_APP_SINK(gst_bin_get_by_name(GST_BIN(q), "a"));
	for (int k = 0; k < 5; k++) {
		GstSample *smp = gst_app_sink_try_pull_sample(as, 10 * GST_SECOND);
		GstBuffer *b;

		assert_non_null(smp);
		b = gst_sample_get_buffer(smp);
		if (GST_BUFFER_PTS(b) != (GstClockTime)(k * step))
			fail_msg("frame %d: pts %" GST_TIME_FORMAT ", want %"
			         GST_TIME_FORMAT, k,
			         GST_TIME_ARGS(GST_BUFFER_PTS(b)),
			         GST_TIME_ARGS((GstClockTime)(k * step)));
		if (k > 0)
			assert_int_equal(GST_BUFFER_DURATION(b), step);
		gst_sample_unref(smp);
	}
	src = gst_bin_get_by_name(GST_BIN(q), "src");
	lq = gst_query_new_latency();
	assert_true(gst_element_query(src, lq));
	gst_query_parse_latency(lq, &live, NULL, NULL);
	assert_true(live);
	gst_query_unref(lq);
	gst_object_unref(src);
	gst_object_unref(as);
	gst_element_set_state(q, GST_STATE_NULL);
	gst_object_unref(q);
	fbus_pub_close(pub);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_formats_pool),
		cmocka_unit_test(test_formats_copy),
		cmocka_unit_test(test_caps_change),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_timestamps),
	};

	if (!getenv("GST_PLUGIN_PATH")) {
		fprintf(stderr, "GST_PLUGIN_PATH not set\n");
		return 77;
	}
	gst_init(&argc, &argv);
	if (!gst_element_factory_find("framebussink")) {
		fprintf(stderr, "framebussink not found in %s\n",
		        getenv("GST_PLUGIN_PATH"));
		return 1;
	}
	t_watchdog(150);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

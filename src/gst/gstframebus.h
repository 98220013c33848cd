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

/*
 * framebussink's publisher, shared with the buffers of its pool: it
 * outlives the element's stop while a pool buffer upstream still points
 * into one of its slots.  A publisher has at most one loan out; while the
 * pool's buffer holds it, a copying render waits for it to come back.
 */
typedef struct FbusPubRef {
	gint refs;
	GMutex mu; /* fbus_pub_* from the sink's and upstream's threads */
	GCond back; /* the pool's loan was committed or given back */
	struct fbus_pub *pub;
	gboolean flushing;
	struct FbusLoan *loan; /* the pool buffer's loan, NULL if none */
	GstMemory *loan_mem;   /* the memory that wraps it */
} FbusPubRef;

FbusPubRef *fbus_pub_ref_new(struct fbus_pub *pub);
FbusPubRef *fbus_pub_ref_ref(FbusPubRef *r);
void fbus_pub_ref_unref(FbusPubRef *r);
/* With mu held: wait until no pool loan is out.  FALSE when flushing or
 * after two seconds (a pool buffer held upstream for good). */
gboolean fbus_pub_ref_wait_free(FbusPubRef *r);
/* With mu held: the pool loan's slot if `buf` is exactly that buffer's
 * memory, untouched; the caller commits it and calls loan_done. */
struct fbus_slot *fbus_pub_ref_pool_slot(FbusPubRef *r, GstBuffer *buf);
void fbus_pub_ref_loan_done(FbusPubRef *r);
/* With mu held: give the pool loan back unpublished (none: no-op). */
void fbus_pub_ref_abort_loan(FbusPubRef *r);

/* The pool framebussink proposes upstream; NULL when the caps' layout
 * cannot be a framebus slot's. */
GstBufferPool *fbus_gst_pool_new(FbusPubRef *ref, GstElement *sink,
                                 GstCaps *caps);

/* Frame metadata <-> GStreamer.  A blob from the bus rides along as a
 * "FramebusMeta" custom meta (field "data", GBytes) so that a pipeline
 * passes ground truth through; tags and time codes are written as an
 * "FBGS 1" text blob (lines key=value) when no blob came with the buffer. */
#define FBUS_GST_META_NAME "FramebusMeta"
const GstMetaInfo *fbus_gst_meta_register(void);
/* the blob for this buffer: returns its length (0: none), at most max */
gsize fbus_gst_meta_write(GstBuffer *buf, const GstTagList *tags,
                          void *dst, gsize max);
/* attach the frame's blob to buf; *tags gets new tags from an FBGS blob
 * (caller unrefs), NULL if none */
void fbus_gst_meta_read(GstBuffer *buf, const void *meta, gsize len,
                        GstTagList **tags);

GType gst_framebus_sink_get_type(void);
GType gst_framebus_src_get_type(void);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * record.c — annotated video through libavcodec/libavformat: swscale turns
 * each BGR24 picture into YUV 4:2:0, the encoder is libx264 if this FFmpeg
 * has it (Debian's does) and the built-in mpeg4 otherwise, and pts are the
 * capture times in milliseconds so the file plays at the real rate.
 */
#include "record.h"

#include "framebus.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef FBUS_HAVE_FFMPEG
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

struct recorder {
	AVFormatContext *fmt;
	AVCodecContext *enc;
	AVStream *st;
	AVFrame *frame;
	AVPacket *pkt;
	struct SwsContext *sws;
	int sw, sh; /* size of the last input, for the scaler */
	int64_t t0, last_pts;
	int64_t frame_dur; /* last pts step, for packets without duration */
	int header_written;
};

static int
averr(char *err, size_t errlen, const char *what, int rc)
{
	char buf[AV_ERROR_MAX_STRING_SIZE] = "";

	av_strerror(rc, buf, sizeof buf);
	snprintf(err, errlen, "%s: %s", what, buf);
	return FBUS_EIO;
}

/* Send a frame (NULL = flush) and write every packet that comes out. */
static int
encode(struct recorder *r, AVFrame *f, char *err, size_t errlen)
{
	int rc = avcodec_send_frame(r->enc, f);

	if (rc < 0)
		return averr(err, errlen, "encoding", rc);
	for (;;) {
		rc = avcodec_receive_packet(r->enc, r->pkt);
		if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
			return 0;
		if (rc < 0)
			return averr(err, errlen, "encoding", rc);
		/* Without a duration mp4's edit list ends at the last
		 * frame's start, and players drop that frame. */
		if (r->pkt->duration <= 0)
			r->pkt->duration = r->frame_dur;
		av_packet_rescale_ts(r->pkt, r->enc->time_base,
		                     r->st->time_base);
		r->pkt->stream_index = r->st->index;
		rc = av_interleaved_write_frame(r->fmt, r->pkt);
		av_packet_unref(r->pkt);
		if (rc < 0)
			return averr(err, errlen, "writing", rc);
	}
}

static void
destroy(struct recorder *r)
{
	if (r->fmt && r->fmt->pb && !(r->fmt->oformat->flags & AVFMT_NOFILE))
		avio_closep(&r->fmt->pb);
	avformat_free_context(r->fmt);
	avcodec_free_context(&r->enc);
	av_frame_free(&r->frame);
	av_packet_free(&r->pkt);
	sws_freeContext(r->sws);
	free(r);
}

int
record_open(struct recorder **out, const char *path, int w, int h,
                 const char **codec, char *err, size_t errlen)
{
	struct recorder *r;
	const AVCodec *c;
	int rc;

	*out = NULL;
	w &= ~1;
	h &= ~1;
	if (w < 2 || h < 2) {
		snprintf(err, errlen, "cannot record %dx%d pictures", w, h);
		return FBUS_EINVAL;
	}
	r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return FBUS_ENOMEM;
	}
	r->last_pts = -1;
	/* libx264 prints its settings and statistics at INFO level; the
	 * tool's own summary is what the user asked for. */
	if (av_log_get_level() > AV_LOG_WARNING)
		av_log_set_level(AV_LOG_WARNING);
	rc = avformat_alloc_output_context2(&r->fmt, NULL, NULL, path);
	if (rc < 0 || !r->fmt) {
		/* Unknown extension: mp4 is what the option promises. */
		rc = avformat_alloc_output_context2(&r->fmt, NULL, "mp4", path);
		if (rc < 0) {
			averr(err, errlen, path, rc);
			goto fail;
		}
	}
	c = avcodec_find_encoder_by_name("libx264");
	if (!c)
		c = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
	if (!c) {
		snprintf(err, errlen,
		         "this FFmpeg has neither the libx264 nor the mpeg4 "
		         "encoder");
		goto fail;
	}
	r->st = avformat_new_stream(r->fmt, NULL);
	r->enc = avcodec_alloc_context3(c);
	r->frame = av_frame_alloc();
	r->pkt = av_packet_alloc();
	if (!r->st || !r->enc || !r->frame || !r->pkt) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	r->enc->width = w;
	r->enc->height = h;
	r->enc->pix_fmt = AV_PIX_FMT_YUV420P;
	/* Capture times in ms; mpeg4 needs the denominator < 65536. */
	r->enc->time_base = (AVRational){ 1, 1000 };
	r->enc->framerate = (AVRational){ 10, 1 };
	r->enc->gop_size = 50;
	if (c->id == AV_CODEC_ID_H264) {
		av_opt_set(r->enc->priv_data, "preset", "veryfast", 0);
		av_opt_set(r->enc->priv_data, "crf", "23", 0);
	} else {
		r->enc->flags |= AV_CODEC_FLAG_QSCALE;
		r->enc->global_quality = FF_QP2LAMBDA * 4;
	}
	if (r->fmt->oformat->flags & AVFMT_GLOBALHEADER)
		r->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
	rc = avcodec_open2(r->enc, c, NULL);
	if (rc < 0) {
		averr(err, errlen, c->name, rc);
		goto fail;
	}
	rc = avcodec_parameters_from_context(r->st->codecpar, r->enc);
	if (rc < 0) {
		averr(err, errlen, "stream parameters", rc);
		goto fail;
	}
	r->st->time_base = r->enc->time_base;
	r->frame->format = AV_PIX_FMT_YUV420P;
	r->frame->width = w;
	r->frame->height = h;
	rc = av_frame_get_buffer(r->frame, 0);
	if (rc < 0) {
		averr(err, errlen, "frame buffer", rc);
		goto fail;
	}
	if (!(r->fmt->oformat->flags & AVFMT_NOFILE)) {
		rc = avio_open(&r->fmt->pb, path, AVIO_FLAG_WRITE);
		if (rc < 0) {
			averr(err, errlen, path, rc);
			goto fail;
		}
	}
	rc = avformat_write_header(r->fmt, NULL);
	if (rc < 0) {
		averr(err, errlen, path, rc);
		goto fail;
	}
	r->header_written = 1;
	if (codec)
		*codec = c->name;
	*out = r;
	return 0;

fail:
	destroy(r);
	return FBUS_EIO;
}

int
record_frame(struct recorder *r, const uint8_t *bgr, int w, int h,
                  int64_t t_ns, char *err, size_t errlen)
{
	const uint8_t *src[1] = { bgr };
	int stride[1] = { w * 3 };
	int64_t pts;
	int rc;

	if (!r->sws || r->sw != w || r->sh != h) {
		sws_freeContext(r->sws);
		r->sws = sws_getContext(w, h, AV_PIX_FMT_BGR24, r->enc->width,
		                        r->enc->height, AV_PIX_FMT_YUV420P,
		                        SWS_BILINEAR, NULL, NULL, NULL);
		if (!r->sws) {
			snprintf(err, errlen, "no scaler for %dx%d", w, h);
			return FBUS_EIO;
		}
		r->sw = w;
		r->sh = h;
	}
	rc = av_frame_make_writable(r->frame);
	if (rc < 0)
		return averr(err, errlen, "frame buffer", rc);
	sws_scale(r->sws, src, stride, 0, h, r->frame->data,
	          r->frame->linesize);
	if (r->last_pts < 0)
		r->t0 = t_ns;
	pts = (t_ns - r->t0) / 1000000;
	/* Encoders refuse pts that do not increase (two frames in one ms,
	 * or a producer restart with an older clock). */
	if (pts <= r->last_pts)
		pts = r->last_pts + 1;
	r->frame_dur = r->last_pts >= 0 ? pts - r->last_pts : 100;
	r->last_pts = pts;
	r->frame->pts = pts;
	return encode(r, r->frame, err, errlen);
}

int
record_close(struct recorder *r, char *err, size_t errlen)
{
	int rc = 0;

	if (!r)
		return 0;
	if (r->header_written) {
		rc = encode(r, NULL, err, errlen);
		if (av_write_trailer(r->fmt) < 0 && rc == 0) {
			snprintf(err, errlen, "writing the trailer failed");
			rc = FBUS_EIO;
		}
	}
	destroy(r);
	return rc;
}

#else /* !FBUS_HAVE_FFMPEG */

struct recorder {
	int unused;
};

int
record_open(struct recorder **out, const char *path, int w, int h,
                 const char **codec, char *err, size_t errlen)
{
	(void)path, (void)w, (void)h, (void)codec;
	*out = NULL;
	snprintf(err, errlen,
	         "built without FFmpeg: install libavcodec-dev, "
	         "libavformat-dev and libswscale-dev and rebuild to record");
	return FBUS_ENOTSUP;
}

int
record_frame(struct recorder *r, const uint8_t *bgr, int w, int h,
                  int64_t t_ns, char *err, size_t errlen)
{
	(void)r, (void)bgr, (void)w, (void)h, (void)t_ns, (void)err,
		(void)errlen;
	return FBUS_ENOTSUP;
}

int
record_close(struct recorder *r, char *err, size_t errlen)
{
	(void)r, (void)err, (void)errlen;
	return 0;
}

#endif /* FBUS_HAVE_FFMPEG */

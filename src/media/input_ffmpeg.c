/* SPDX-License-Identifier: MIT */
/*
 * input_ffmpeg.c — every non-synthetic input of `framebus source` through
 * FFmpeg: files (libavformat + libavcodec), V4L2 cameras (libavdevice's
 * "video4linux2"), network streams (with reconnect) and images (one file
 * repeated, or a directory cycled), plus the libswscale pass that lands the
 * decoded frame in the loaned slot (helpers in convert_sws.c).  Built only
 * when FFmpeg is found; input_none.c stands in otherwise.
 *
 * Copies: the decoder writes into its own reference-counted frame pool (it
 * must keep reference frames for inter prediction for longer than one slot
 * loan lasts), and exactly one pass — a plane copy when the decoder already
 * produced the requested format and size, else one sws_scale() — writes the
 * slot.  No intermediate frame buffer exists on this path.
 */
#define _GNU_SOURCE
#include "convert_sws.h"
#include "input.h"
#include "input_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

/* Bad packets in a row, with no picture decoded, before we call the input
 * unreadable rather than damaged. */
#define MAX_BAD_RUN 200

struct input {
	struct input_opts o;
	char *spec;
	int kind;
	int live;

	AVFormatContext *fmt;
	AVCodecContext *dec;
	int vidx;
	AVPacket *pkt;
	AVFrame *frame;     /* current frame */
	int have_frame;
	int draining;
	uint64_t pass_frames; /* frames decoded since the last (re)start */
	uint64_t bad_run;

	/* image directory */
	char **files;
	size_t nfiles, next_file;

	int64_t io_deadline_ns; /* the interrupt callback's limit */
	int64_t io_timeout_ns;

	struct SwsContext *sws;
	struct input_stats st;
	struct input_info info;
	int first_pending; /* the frame decoded by open is not handed out yet */
};

int
input_available(void)
{
	return 1;
}

static const char *
av_err(int rc, char *buf, size_t n)
{
	av_strerror(rc, buf, n);
	return buf;
}

/* FFmpeg polls this during blocking I/O: stop on Ctrl-C, and call a read
 * that takes longer than the I/O timeout a lost stream. */
static int
interrupt_cb(void *opaque)
{
	struct input *in = opaque;

	if (in->o.stop && *in->o.stop)
		return 1;
	return in->io_deadline_ns && fbus_now_mono_ns() > in->io_deadline_ns;
}

static void
arm_deadline(struct input *in, int64_t ns)
{
	in->io_deadline_ns = in->live ? fbus_now_mono_ns() + ns : 0;
}

static void
status(struct input *in, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!in->o.status)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	in->o.status(in->o.user, msg);
}

static void
close_stream(struct input *in)
{
	avcodec_free_context(&in->dec);
	avformat_close_input(&in->fmt);
	in->have_frame = 0;
	in->draining = 0;
}

/* Add "key=value" to a dictionary; 0 or an error sentence. */
static int
add_opt(AVDictionary **d, const char *kv, char *err, size_t errlen)
{
	const char *eq = strchr(kv, '=');
	char key[128];

	if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof key) {
		input_errf(err, errlen, "bad input option '%s': expected KEY=VALUE", kv);
		return FBUS_EINVAL;
	}
	memcpy(key, kv, (size_t)(eq - kv));
	key[eq - kv] = 0;
	av_dict_set(d, key, eq + 1, 0);
	return 0;
}

/* Explain why a path cannot be opened, before FFmpeg says it vaguely. */
static int
check_path(const char *path, int kind, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		if (errno == ENOENT && kind == INPUT_CAMERA)
			input_errf(err, errlen, "%s: no such camera (is it plugged in? "
			     "see v4l2-ctl --list-devices)", path);
		else
			input_errf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (kind != INPUT_CAMERA && S_ISDIR(st.st_mode)) {
		input_errf(err, errlen, "%s: is a directory", path);
		return FBUS_EINVAL;
	}
	if (access(path, R_OK) != 0) {
		int e = errno;

		input_errf(err, errlen, "%s: cannot read: %s%s", path, strerror(e),
		     kind == INPUT_CAMERA ? " (is the user in group 'video'?)" : "");
		return -e;
	}
	if (kind == INPUT_CAMERA && !S_ISCHR(st.st_mode)) {
		input_errf(err, errlen, "%s: not a camera device", path);
		return FBUS_EINVAL;
	}
	return 0;
}

/* Open `url` and its best video stream's decoder. */
static int
open_stream(struct input *in, const char *url, char *err, size_t errlen)
{
	const AVInputFormat *ifmt = NULL;
	const AVCodec *codec = NULL;
	AVDictionary *d = NULL;
	AVStream *st;
	char eb[128];
	int rc;

	if (in->kind == INPUT_CAMERA) {
		ifmt = av_find_input_format("video4linux2");
		if (!ifmt) {
			input_errf(err, errlen, "this FFmpeg has no video4linux2 input "
			     "(libavdevice without V4L2 support)");
			return FBUS_ENOTSUP;
		}
		if (in->o.video_size)
			av_dict_set(&d, "video_size", in->o.video_size, 0);
		if (in->o.framerate)
			av_dict_set(&d, "framerate", in->o.framerate, 0);
		if (in->o.input_format)
			av_dict_set(&d, "input_format", in->o.input_format, 0);
	}
	for (int i = 0; i < in->o.n_av_opts; i++) {
		rc = add_opt(&d, in->o.av_opts[i], err, errlen);
		if (rc < 0)
			goto fail_dict;
	}

	in->fmt = avformat_alloc_context();
	if (!in->fmt) {
		rc = FBUS_ENOMEM;
		input_errf(err, errlen, "out of memory");
		goto fail_dict;
	}
	in->fmt->interrupt_callback.callback = interrupt_cb;
	in->fmt->interrupt_callback.opaque = in;
	arm_deadline(in, 2 * in->io_timeout_ns);
	rc = avformat_open_input(&in->fmt, url, ifmt, &d);
	if (rc < 0) {
		/* avformat_open_input frees the context on failure */
		if (in->kind == INPUT_CAMERA && rc == AVERROR(EBUSY))
			input_errf(err, errlen, "%s: camera busy (another program is "
			     "using it)", url);
		else if (in->kind == INPUT_CAMERA && rc == AVERROR(ENOENT))
			input_errf(err, errlen, "%s: no such camera", url);
		else if (in->kind == INPUT_CAMERA &&
		         (rc == AVERROR(EINVAL) || rc == AVERROR(ENOTTY)))
			input_errf(err, errlen, "%s: not a usable V4L2 capture device, "
			     "or it refuses the size/format/rate asked (%s)", url,
			     av_err(rc, eb, sizeof eb));
		else if (rc == AVERROR_INVALIDDATA)
			input_errf(err, errlen, "%s: not a video or image FFmpeg can "
			     "read (%s)", url, av_err(rc, eb, sizeof eb));
		else if (rc == AVERROR_EXIT)
			input_errf(err, errlen, "%s: no answer within %.1f s", url,
			     2 * (double)in->io_timeout_ns / 1e9);
		else
			input_errf(err, errlen, "%s: %s", url, av_err(rc, eb, sizeof eb));
		goto fail_dict;
	}
	{
		const AVDictionaryEntry *e = av_dict_get(d, "", NULL,
		                                         AV_DICT_IGNORE_SUFFIX);

		if (e) {
			input_errf(err, errlen, "%s: unknown input option '%s'", url,
			     e->key);
			rc = FBUS_EINVAL;
			goto fail_fmt;
		}
	}
	rc = avformat_find_stream_info(in->fmt, NULL);
	if (rc < 0) {
		input_errf(err, errlen, "%s: cannot read stream info: %s", url,
		     av_err(rc, eb, sizeof eb));
		goto fail_fmt;
	}
	rc = av_find_best_stream(in->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
	if (rc == AVERROR_STREAM_NOT_FOUND) {
		/* random bytes can probe as an audio format: say what FFmpeg
		 * saw, so "not a video" reads right for both */
		input_errf(err, errlen, "%s: not a video: no video stream in it "
		     "(FFmpeg reads it as '%s')", url, in->fmt->iformat->name);
		rc = FBUS_EINVAL;
		goto fail_fmt;
	}
	if (rc < 0 || !codec) {
		AVCodecParameters *par = NULL;
		char tag[AV_FOURCC_MAX_STRING_SIZE] = "";

		for (unsigned i = 0; i < in->fmt->nb_streams; i++)
			if (in->fmt->streams[i]->codecpar->codec_type ==
			    AVMEDIA_TYPE_VIDEO)
				par = in->fmt->streams[i]->codecpar;
		if (par && par->codec_tag)
			av_fourcc_make_string(tag, par->codec_tag);
		input_errf(err, errlen, "%s: unsupported codec '%s'%s%s%s (no decoder "
		     "in this FFmpeg build)", url,
		     !par || par->codec_id == AV_CODEC_ID_NONE
		             ? "unknown" : avcodec_get_name(par->codec_id),
		     *tag ? " (fourcc " : "", tag, *tag ? ")" : "");
		rc = FBUS_ENOTSUP;
		goto fail_fmt;
	}
	in->vidx = rc;
	st = in->fmt->streams[in->vidx];
	in->dec = avcodec_alloc_context3(codec);
	if (!in->dec) {
		rc = FBUS_ENOMEM;
		input_errf(err, errlen, "out of memory");
		goto fail_fmt;
	}
	rc = avcodec_parameters_to_context(in->dec, st->codecpar);
	if (rc >= 0) {
		/* Frame threads add a frame of latency per thread: fine for
		 * files, not for live sources. */
		in->dec->thread_count = 0;
		in->dec->thread_type = in->live ? FF_THREAD_SLICE
		                                : FF_THREAD_FRAME | FF_THREAD_SLICE;
		rc = avcodec_open2(in->dec, codec, NULL);
	}
	if (rc < 0) {
		input_errf(err, errlen, "%s: cannot open the %s decoder: %s", url,
		     codec->name, av_err(rc, eb, sizeof eb));
		goto fail_dec;
	}
	{
		AVRational r = av_guess_frame_rate(in->fmt, st, NULL);

		in->info.fps = r.num > 0 && r.den > 0 ? av_q2d(r) : 0;
	}
	snprintf(in->info.codec, sizeof in->info.codec, "%s", codec->name);
	in->draining = 0;
	in->have_frame = 0;
	in->pass_frames = 0;
	in->bad_run = 0;
	av_dict_free(&d);
	return 0;

fail_dec:
	avcodec_free_context(&in->dec);
fail_fmt:
	avformat_close_input(&in->fmt);
fail_dict:
	av_dict_free(&d);
	return rc < 0 ? rc : FBUS_EIO;
}

static int
frame_is_corrupt(const AVFrame *f)
{
	return (f->flags & AV_FRAME_FLAG_CORRUPT) || f->decode_error_flags;
}

/*
 * Decode until a frame is ready (1), the stream ends (0), or reading fails
 * (negative: FFmpeg error code).  Bad packets are counted and skipped.
 */
static int
decode_step(struct input *in, char *err, size_t errlen)
{
	char eb[128];
	int rc;

	for (;;) {
		rc = avcodec_receive_frame(in->dec, in->frame);
		if (rc == 0) {
			if (frame_is_corrupt(in->frame))
				in->st.corrupt++;
			in->bad_run = 0;
			in->pass_frames++;
			return 1;
		}
		if (rc == AVERROR_EOF)
			return 0;
		if (rc != AVERROR(EAGAIN)) {
			in->st.corrupt++;
			if (++in->bad_run > MAX_BAD_RUN && !in->pass_frames)
				goto unreadable;
			continue;
		}
		if (in->draining)
			return 0;

		arm_deadline(in, in->io_timeout_ns);
		rc = av_read_frame(in->fmt, in->pkt);
		if (rc == AVERROR_EOF || (rc < 0 && !in->live &&
		                          avio_feof(in->fmt->pb))) {
			in->draining = 1;
			avcodec_send_packet(in->dec, NULL);
			continue;
		}
		if (rc == AVERROR(EAGAIN)) {
			struct timespec ts = { 0, 2000000 };

			nanosleep(&ts, NULL);
			continue;
		}
		if (rc < 0) {
			if (in->o.stop && *in->o.stop)
				return 0;
			if (rc == AVERROR_INVALIDDATA && !in->live) {
				in->st.corrupt++;
				if (++in->bad_run > MAX_BAD_RUN)
					goto unreadable;
				continue;
			}
			input_errf(err, errlen, "%s: read error: %s", in->spec,
			     rc == AVERROR_EXIT ? "no data within the I/O timeout"
			                        : av_err(rc, eb, sizeof eb));
			return rc;
		}
		if (in->pkt->stream_index != in->vidx) {
			av_packet_unref(in->pkt);
			continue;
		}
		rc = avcodec_send_packet(in->dec, in->pkt);
		av_packet_unref(in->pkt);
		if (rc < 0 && rc != AVERROR(EAGAIN)) {
			in->st.corrupt++;
			if (++in->bad_run > MAX_BAD_RUN && !in->pass_frames)
				goto unreadable;
		}
	}
unreadable:
	input_errf(err, errlen, "%s: %llu bad packets in a row and no picture: the "
	     "stream is corrupt or not what it claims to be", in->spec,
	     (unsigned long long)in->bad_run);
	return AVERROR_INVALIDDATA;
}

/* Image directory: the sorted list of jpg/png files in it. */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
scan_dir(struct input *in, char *err, size_t errlen)
{
	DIR *dir = opendir(in->spec);
	struct dirent *e;
	size_t cap = 0;

	if (!dir) {
		input_errf(err, errlen, "%s: %s", in->spec, strerror(errno));
		return -errno;
	}
	while ((e = readdir(dir))) {
		char *path;

		if (e->d_name[0] == '.' || !input_has_image_ext(e->d_name))
			continue;
		if (in->nfiles == cap) {
			char **n = realloc(in->files, (cap = cap ? 2 * cap : 64) *
			                                      sizeof *n);
			if (!n)
				goto oom;
			in->files = n;
		}
		if (asprintf(&path, "%s/%s", in->spec, e->d_name) < 0)
			goto oom;
		in->files[in->nfiles++] = path;
	}
	closedir(dir);
	if (!in->nfiles) {
		input_errf(err, errlen, "%s: no .jpg, .jpeg or .png files in this "
		     "directory", in->spec);
		return FBUS_ENOENT;
	}
	qsort(in->files, in->nfiles, sizeof *in->files, cmp_str);
	return 0;
oom:
	closedir(dir);
	input_errf(err, errlen, "out of memory");
	return FBUS_ENOMEM;
}

/* Decode the one picture of an image file into in->frame. */
static int
load_image(struct input *in, const char *path, char *err, size_t errlen)
{
	int rc;

	close_stream(in);
	rc = check_path(path, INPUT_IMAGE, err, errlen);
	if (rc == 0)
		rc = open_stream(in, path, err, errlen);
	if (rc < 0)
		return rc;
	rc = decode_step(in, err, errlen);
	close_stream(in);
	if (rc == 0) {
		input_errf(err, errlen, "%s: no picture could be decoded", path);
		return AVERROR_INVALIDDATA;
	}
	if (rc < 0)
		return rc;
	in->have_frame = 1;
	return 0;
}

/* Next image of the directory; skips (and counts) files that fail, and
 * gives up only when a whole round fails. */
static int
next_dir_image(struct input *in, char *err, size_t errlen)
{
	char e2[256];

	for (size_t tries = 0; tries < in->nfiles; tries++) {
		const char *path = in->files[in->next_file];

		in->next_file = (in->next_file + 1) % in->nfiles;
		if (in->next_file == 0)
			in->st.loops++;
		if (load_image(in, path, e2, sizeof e2) == 0)
			return 1;
		in->st.corrupt++;
		status(in, "skipping %s", e2);
	}
	input_errf(err, errlen, "%s: none of its %zu images can be decoded", in->spec,
	     in->nfiles);
	return AVERROR_INVALIDDATA;
}

/* Live source dropped: close, then try again with back-off until it is
 * back or *stop is set.  Returns 0 when reconnected, 1 when stopped. */
static int
reconnect(struct input *in, const char *why)
{
	int64_t t0 = fbus_now_mono_ns();
	double wait = 0.5;
	char err[512];

	close_stream(in);
	in->st.connected = 0;
	status(in, "stream lost (%s); reconnecting", why);
	for (unsigned attempt = 1;; attempt++) {
		int64_t until = fbus_now_mono_ns() + (int64_t)(wait * 1e9);

		while (fbus_now_mono_ns() < until) {
			struct timespec ts = { 0, 20000000 };

			if (in->o.stop && *in->o.stop)
				return 1;
			nanosleep(&ts, NULL);
		}
		if (open_stream(in, in->spec, err, sizeof err) == 0) {
			in->st.connected = 1;
			in->st.reconnects++;
			status(in, "%s back after %.1f s", in->spec,
			       (double)(fbus_now_mono_ns() - t0) / 1e9);
			return 0;
		}
		if (in->o.stop && *in->o.stop)
			return 1;
		status(in, "still down (attempt %u: %s); next try in %.1f s",
		       attempt, err, wait < 5 ? wait * 2 : 5.0);
		wait = wait < 5 ? wait * 2 : 5.0;
		if (wait > 5)
			wait = 5;
	}
}

int
input_next(struct input *in, char *err, size_t errlen)
{
	char eb[256];
	int rc;

	if (in->first_pending) {
		in->first_pending = 0;
		in->st.frames++;
		return 1;
	}
	if (in->o.stop && *in->o.stop)
		return 0;
	switch (in->kind) {
	case INPUT_IMAGE:
		/* one picture, repeated: it stays decoded in in->frame */
		in->st.frames++;
		return 1;
	case INPUT_IMAGE_DIR:
		rc = next_dir_image(in, err, errlen);
		if (rc == 1)
			in->st.frames++;
		return rc;
	default:
		break;
	}
	for (;;) {
		rc = decode_step(in, eb, sizeof eb);
		if (rc == 1) {
			in->have_frame = 1;
			in->st.frames++;
			return 1;
		}
		if (in->o.stop && *in->o.stop)
			return 0;
		if (in->live) {
			/* end of a live stream is a drop too */
			if (reconnect(in, rc == 0 ? "end of stream" : eb))
				return 0;
			continue;
		}
		if (rc < 0) {
			input_errf(err, errlen, "%s", eb);
			return rc;
		}
		if (!in->o.loop)
			return 0;
		if (!in->pass_frames) {
			input_errf(err, errlen, "%s: no frame to loop over", in->spec);
			return AVERROR_INVALIDDATA;
		}
		{
			AVStream *st = in->fmt->streams[in->vidx];
			int64_t ts = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;

			rc = av_seek_frame(in->fmt, in->vidx, ts, AVSEEK_FLAG_BACKWARD);
			if (rc < 0) {
				input_errf(err, errlen, "%s: cannot seek back to loop: %s",
				     in->spec, av_err(rc, eb, sizeof eb));
				return rc;
			}
		}
		avcodec_flush_buffers(in->dec);
		in->draining = 0;
		in->pass_frames = 0;
		in->st.loops++;
	}
}

int
input_open(struct input **out, const struct input_opts *opts, char *err,
           size_t errlen)
{
	struct input *in;
	const char *url;
	char eb[256];
	int rc;

	*out = NULL;
	in = calloc(1, sizeof *in);
	if (!in || !(in->spec = strdup(opts->spec))) {
		free(in);
		input_errf(err, errlen, "out of memory");
		return FBUS_ENOMEM;
	}
	in->o = *opts;
	in->o.spec = in->spec;
	in->kind = input_kind_of(opts->spec);
	in->live = in->kind == INPUT_CAMERA || in->kind == INPUT_NETWORK;
	in->io_timeout_ns = (int64_t)((opts->io_timeout_s > 0 ? opts->io_timeout_s
	                                                      : 5.0) * 1e9);
	in->info.kind = in->kind;
	in->info.live = in->live;
	in->pkt = av_packet_alloc();
	in->frame = av_frame_alloc();
	if (!in->pkt || !in->frame) {
		input_errf(err, errlen, "out of memory");
		rc = FBUS_ENOMEM;
		goto fail;
	}
	/* FFmpeg's own log would interleave with our status line; our
	 * messages carry its error text instead. */
	av_log_set_level(AV_LOG_FATAL);
	avdevice_register_all();

	url = in->spec;
	if (in->kind == INPUT_CAMERA && !strncmp(url, "v4l2:", 5))
		url += 5;
	switch (in->kind) {
	case INPUT_IMAGE_DIR:
		rc = scan_dir(in, err, errlen);
		if (rc == 0)
			rc = next_dir_image(in, err, errlen) == 1 ? 0 : FBUS_EINVAL;
		break;
	case INPUT_IMAGE:
		rc = load_image(in, url, err, errlen);
		break;
	default:
		rc = 0;
		if (in->kind != INPUT_NETWORK)
			rc = check_path(url, in->kind, err, errlen);
		if (rc == 0)
			rc = open_stream(in, url, err, errlen);
		if (rc == 0) {
			/* decode the first frame now: a corrupt or empty file
			 * fails here, with its reason */
			rc = decode_step(in, eb, sizeof eb);
			if (rc == 0) {
				input_errf(err, errlen, "%s: no video frame could be "
				     "decoded", url);
				rc = AVERROR_INVALIDDATA;
			} else if (rc < 0) {
				input_errf(err, errlen, "%s", eb);
			} else {
				in->have_frame = 1;
				rc = 0;
			}
		}
		break;
	}
	if (rc < 0)
		goto fail;
	if (in->kind == INPUT_IMAGE || in->kind == INPUT_IMAGE_DIR)
		snprintf(in->info.codec, sizeof in->info.codec, "image");
	in->first_pending = 1;
	in->st.connected = 1;
	in->info.width = (uint32_t)in->frame->width;
	in->info.height = (uint32_t)in->frame->height;
	snprintf(in->info.src_pixfmt, sizeof in->info.src_pixfmt, "%s",
	         av_get_pix_fmt_name(in->frame->format)
	                 ? av_get_pix_fmt_name(in->frame->format) : "?");
	*out = in;
	return 0;
fail:
	input_close(in);
	return rc < 0 ? (rc >= -4095 ? rc : FBUS_EIO) : FBUS_EIO;
}

int
input_frame_format(struct input *in, struct fbus_format *fmt)
{
	const AVFrame *f = in->frame;

	memset(fmt, 0, sizeof *fmt);
	fmt->pixfmt = in->o.pixfmt;
	fmt->width = in->o.width ? in->o.width : (uint32_t)f->width;
	fmt->height = in->o.height ? in->o.height : (uint32_t)f->height;
	/* subsampled formats need even sizes: round an odd source down */
	if (fmt->pixfmt == FBUS_PIXFMT_NV12 || fmt->pixfmt == FBUS_PIXFMT_I420 ||
	    fmt->pixfmt == FBUS_PIXFMT_YUYV) {
		if (!in->o.width && fmt->width > 1)
			fmt->width &= ~1u;
		if (!in->o.height && fmt->height > 1 &&
		    fmt->pixfmt != FBUS_PIXFMT_YUYV)
			fmt->height &= ~1u;
	}
	return fbus_format_layout(fmt);
}


int
input_frame_write(struct input *in, const struct fbus_format *fmt,
                  uint8_t *dst, char *err, size_t errlen)
{
	const AVFrame *f = in->frame;
	enum AVPixelFormat want = sws_pixfmt(fmt->pixfmt);
	uint8_t *p[4];
	int ls[4];

	if (want == AV_PIX_FMT_NONE) {
		input_errf(err, errlen, "format %s cannot be produced from decoded "
		     "video", fbus_pixfmt_name(fmt->pixfmt));
		return FBUS_EINVAL;
	}
	sws_planes(fmt, dst, p, ls);
	if (f->format == want && (uint32_t)f->width == fmt->width &&
	    (uint32_t)f->height == fmt->height) {
		/* pass-through: the decoder's bytes, one plane copy each */
		av_image_copy(p, ls, (const uint8_t **)f->data, f->linesize, want,
		              f->width, f->height);
		in->st.passthrough++;
		return 0;
	}
	in->sws = sws_getCachedContext(in->sws, f->width, f->height, f->format,
	                               (int)fmt->width, (int)fmt->height, want,
	                               FBUS_SWS_FLAGS, NULL, NULL, NULL);
	if (!in->sws) {
		input_errf(err, errlen, "cannot convert %s %dx%d to %s %ux%u",
		     av_get_pix_fmt_name(f->format) ? av_get_pix_fmt_name(f->format) : "?",
		     f->width, f->height, fbus_pixfmt_name(fmt->pixfmt),
		     fmt->width, fmt->height);
		return FBUS_ENOTSUP;
	}
	sws_scale(in->sws, (const uint8_t *const *)f->data, f->linesize, 0,
	          f->height, p, ls);
	return 0;
}

void
input_get_info(struct input *in, struct input_info *info)
{
	*info = in->info;
}

void
input_get_stats(struct input *in, struct input_stats *st)
{
	*st = in->st;
}

void
input_close(struct input *in)
{
	if (!in)
		return;
	close_stream(in);
	av_packet_free(&in->pkt);
	av_frame_free(&in->frame);
	sws_freeContext(in->sws);
	for (size_t i = 0; i < in->nfiles; i++)
		free(in->files[i]);
	free(in->files);
	free(in->spec);
	free(in);
}

/* SPDX-License-Identifier: MIT */
/*
 * input.h — frame sources for `framebus source` other than the synthetic
 * scene: video files, V4L2 cameras, network streams, images and image
 * directories, all decoded through FFmpeg's libraries, and the libswscale
 * conversion that writes a decoded frame straight into a loaned slot.
 * Without FFmpeg at build time every call fails with a message naming the
 * packages to install.
 */
#ifndef FBUS_INPUT_H
#define FBUS_INPUT_H

#include "framebus.h"

#include <stddef.h>
#include <stdint.h>

enum input_kind {
	INPUT_FILE = 1,  /* a video file */
	INPUT_CAMERA,    /* /dev/videoN (V4L2) */
	INPUT_NETWORK,   /* rtsp://, http(s)://, udp://, ... */
	INPUT_IMAGE,     /* one jpg/png, repeated */
	INPUT_IMAGE_DIR, /* a directory of jpg/png, cycled in name order */
};

/* What `spec` names (looks at the string and, for paths, the file type). */
int input_kind_of(const char *spec);
const char *input_kind_name(int kind);

/* 1 when built with FFmpeg. */
int input_available(void);

struct input_opts {
	const char *spec;       /* path, /dev/videoN or URL */
	uint32_t width, height; /* output size; 0 = the source's own */
	uint32_t pixfmt;        /* output format (enum fbus_pixfmt) */
	int loop;               /* files: start over at the end */
	/* camera: passed to the device as V4L2 options; NULL = its default */
	const char *video_size;   /* "1280x720" */
	const char *framerate;    /* "30" */
	const char *input_format; /* "mjpeg", "yuyv422", ... */
	/* extra "key=value" options for the demuxer/protocol/device */
	char *const *av_opts;
	int n_av_opts;
	double io_timeout_s;      /* network/camera: a read this slow = lost; 0 = 5 */
	volatile int *stop;       /* when *stop becomes non-zero, blocking I/O ends */
	/* network/camera: "lost ..., reconnecting", "back after ..." */
	void (*status)(void *user, const char *msg);
	void *user;
};

struct input_info {
	int kind;            /* enum input_kind */
	int live;            /* camera or network: frames come at their own pace */
	double fps;          /* the source's frame rate; 0 = unknown */
	uint32_t width, height; /* of the first frame */
	char codec[32];      /* decoder name */
	char src_pixfmt[32]; /* the decoder's pixel format name */
};

struct input_stats {
	uint64_t frames;     /* decoded and handed out */
	uint64_t corrupt;    /* packets or frames that failed to decode */
	uint64_t reconnects; /* live sources: successful reconnections */
	uint64_t loops;      /* files: times it started over */
	uint64_t passthrough; /* frames copied without conversion */
	int connected;       /* live sources: 0 while reconnecting */
};

struct input;

/*
 * Open and probe the source and decode its first frame (so that errors such
 * as an unsupported codec show up here, not later).  Returns 0 or a negative
 * code with a sentence in err.  May block (network: up to the I/O timeout).
 */
int input_open(struct input **out, const struct input_opts *opts,
               char *err, size_t errlen);

/*
 * Make the next frame current.  Returns 1 when there is one, 0 at the end
 * (file without loop, or *stop set), or a negative code with err filled.
 * Live sources reconnect inside this call when the stream drops, reporting
 * through opts->status; corrupt packets are counted and skipped.
 */
int input_next(struct input *in, char *err, size_t errlen);

/* Layout of the current frame as it will be written (output size/format). */
int input_frame_format(struct input *in, struct fbus_format *fmt);

/* Write the current frame into dst laid out as fmt (from
 * input_frame_format, strides may be larger): a plain plane copy when the
 * decoder already produced that format and size, else one swscale pass. */
int input_frame_write(struct input *in, const struct fbus_format *fmt,
                      uint8_t *dst, char *err, size_t errlen);

void input_get_info(struct input *in, struct input_info *info);
void input_get_stats(struct input *in, struct input_stats *st);
void input_close(struct input *in);

/*
 * Convert a frame between fbus pixel formats and sizes with libswscale
 * (for the synthetic scene in formats it does not draw itself).
 */
struct conv;
int conv_create(struct conv **out, char *err, size_t errlen);
int conv_run(struct conv *c, const struct fbus_format *sf,
             const uint8_t *src, const struct fbus_format *df, uint8_t *dst);
void conv_destroy(struct conv *c);

#endif /* FBUS_INPUT_H */

/* SPDX-License-Identifier: MIT */
/*
 * jpeg_codec.c — libturbojpeg via dlopen.  The few prototypes and constants
 * are declared here (they are the stable TurboJPEG 1.x/2.x API, see
 * turbojpeg.h) so the library builds without the -dev package; only
 * ?codec=jpeg needs the runtime package (libturbojpeg0).
 */
#define _GNU_SOURCE
#include "jpeg_codec.h"
#include "jpeg_rst.h"
#include "os.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef void *tjhandle;

/* values from turbojpeg.h */
enum { TJSAMP_444 = 0, TJSAMP_420 = 2, TJSAMP_GRAY = 3 };
enum { TJPF_RGB = 0, TJPF_BGR = 1, TJPF_GRAY = 6, TJPF_BGRA = 8 };
#define TJFLAG_NOREALLOC 1024
#define TJFLAG_FASTDCT 2048

static struct {
	tjhandle (*init_compress)(void);
	tjhandle (*init_decompress)(void);
	int (*destroy)(tjhandle);
	unsigned long (*buf_size)(int, int, int);
	int (*compress2)(tjhandle, const unsigned char *, int, int, int, int,
	                 unsigned char **, unsigned long *, int, int, int);
	int (*decompress_header3)(tjhandle, const unsigned char *,
	                          unsigned long, int *, int *, int *, int *);
	int (*decompress2)(tjhandle, const unsigned char *, unsigned long,
	                   unsigned char *, int, int, int, int, int);
	char *(*error_str2)(tjhandle);
	char *(*error_str)(void);
} tj;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc;
static struct fbusi_err load_err;
static const char *soname = "libturbojpeg.so.0";

/* A picture this big is coded in parts, one thread each: a 1080p frame
 * takes 5-6 ms to encode or decode here, a thread's start some 50 µs. */
#define PAR_MIN_PIXELS (1280u * 720u)
#define PAR_MAX 4

struct fbusi_jpeg {
	tjhandle h;
	int compress;
	int threads; /* fbusi_jpeg_set_threads; 0/1 = one */
	bool full_chroma; /* fbusi_jpeg_set_full_chroma */
	/* parts 1.. of a parallel encode/decode: a handle and a buffer each
	 * (part 0 runs on h, in the caller's thread) */
	tjhandle more[PAR_MAX - 1];
	uint8_t *buf[FBUSI_JPEG_MAX_PARTS];
	size_t cap[FBUSI_JPEG_MAX_PARTS];
};

void
fbusi_jpeg_set_soname(const char *name)
{
	soname = name;
}

static void
load(void)
{
	/* never dlclose: other handles may still use it at exit */
	void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

	if (!lib) {
		load_rc = fbusi_fail(&load_err, FBUS_ENOTSUP,
		                     "codec=jpeg needs %s (install the Debian "
		                     "package libturbojpeg0): %s",
		                     soname, dlerror());
		return;
	}
#define SYM(field, name) *(void **)&tj.field = dlsym(lib, name)
	SYM(init_compress, "tjInitCompress");
	SYM(init_decompress, "tjInitDecompress");
	SYM(destroy, "tjDestroy");
	SYM(buf_size, "tjBufSize");
	SYM(compress2, "tjCompress2");
	SYM(decompress_header3, "tjDecompressHeader3");
	SYM(decompress2, "tjDecompress2");
	SYM(error_str2, "tjGetErrorStr2");
	SYM(error_str, "tjGetErrorStr");
#undef SYM
	if (!tj.init_compress || !tj.init_decompress || !tj.destroy ||
	    !tj.buf_size || !tj.compress2 || !tj.decompress_header3 ||
	    !tj.decompress2 || (!tj.error_str2 && !tj.error_str)) {
		load_rc = fbusi_fail(&load_err, FBUS_ENOTSUP,
		                     "%s lacks the TurboJPEG 1.4+ API (install "
		                     "libturbojpeg0)",
		                     soname);
		return;
	}
	load_rc = 0;
}

int
fbusi_jpeg_load(struct fbusi_err *err)
{
	pthread_once(&load_once, load);
	if (load_rc && err)
		*err = load_err;
	return load_rc;
}

static const char *
tj_error(struct fbusi_jpeg *j)
{
	const char *s = tj.error_str2 ? tj.error_str2(j->h) : tj.error_str();
	return s ? s : "unknown turbojpeg error";
}

int
fbusi_jpeg_open(struct fbusi_jpeg **out, int compress, struct fbusi_err *err)
{
	struct fbusi_jpeg *j;
	int rc = fbusi_jpeg_load(err);

	if (rc)
		return rc;
	j = calloc(1, sizeof *j);
	if (!j)
		return fbusi_fail(err, FBUS_ENOMEM, "out of memory");
	j->h = compress ? tj.init_compress() : tj.init_decompress();
	if (!j->h) {
		free(j);
		return fbusi_fail(err, FBUS_ENOMEM,
		                  "turbojpeg: cannot create a %s",
		                  compress ? "compressor" : "decompressor");
	}
	j->compress = compress;
	*out = j;
	return 0;
}

void
fbusi_jpeg_close(struct fbusi_jpeg *j)
{
	if (!j)
		return;
	tj.destroy(j->h);
	for (int i = 0; i < PAR_MAX - 1; i++)
		if (j->more[i])
			tj.destroy(j->more[i]);
	for (int i = 0; i < FBUSI_JPEG_MAX_PARTS; i++)
		free(j->buf[i]);
	free(j);
}

void
fbusi_jpeg_set_threads(struct fbusi_jpeg *j, uint32_t n)
{
	j->threads = n > PAR_MAX ? PAR_MAX : (int)n;
}

void
fbusi_jpeg_set_full_chroma(struct fbusi_jpeg *j, bool on)
{
	j->full_chroma = on;
}

/* Threads to code a big picture on: as many as asked and CPUs there
 * are.  One by default: on this project's 2-vCPU VM an idle vCPU took
 * 0.03-4 ms to start its part of a 10 Hz frame, and a producer and a
 * subscriber coding at once share the two (docs/PERFORMANCE.md). */
static int
par_threads(const struct fbusi_jpeg *j)
{
	long n = fbusi_online_cpus();

	if (j->threads < 2)
		return 1;
	return n < j->threads ? (int)n : j->threads;
}

/* Thread t's handle (0: the caller's, j->h). */
static tjhandle
par_handle(struct fbusi_jpeg *j, int t)
{
	if (t && !j->more[t - 1])
		j->more[t - 1] = j->compress ? tj.init_compress()
		                             : tj.init_decompress();
	return t ? j->more[t - 1] : j->h;
}

/* Part k's buffer, at least `size` bytes. */
static uint8_t *
par_buf(struct fbusi_jpeg *j, int k, size_t size)
{
	if (j->cap[k] < size) {
		uint8_t *b = realloc(j->buf[k], size);

		if (!b)
			return NULL;
		j->buf[k] = b;
		j->cap[k] = size;
	}
	return j->buf[k];
}

struct par_job {
	tjhandle h; /* set by par_run: its thread's */
	const uint8_t *in;
	unsigned long in_len; /* decode: the part's JPEG */
	uint8_t *out;
	unsigned long out_len; /* encode: its capacity, then its length */
	int width, stride, height, pf, subsamp, quality;
	int rc;
};

static void *
par_encode(void *arg)
{
	struct par_job *b = arg;
	unsigned char *o = b->out;

	b->rc = tj.compress2(b->h, b->in, b->width, b->stride, b->height,
	                     b->pf, &o, &b->out_len, b->subsamp, b->quality,
	                     TJFLAG_NOREALLOC | TJFLAG_FASTDCT);
	if (o != b->out)
		b->rc = -1;
	return NULL;
}

static void *
par_decode(void *arg)
{
	struct par_job *b = arg;

	b->rc = tj.decompress2(b->h, b->in, b->in_len, b->out, b->width,
	                       b->stride, b->height, b->pf, TJFLAG_FASTDCT);
	return NULL;
}

struct par_lane {
	struct par_job *job;
	int first, n, step;
	void *(*fn)(void *);
};

static void *
par_lane(void *arg)
{
	struct par_lane *l = arg;

	for (int k = l->first; k < l->n; k += l->step)
		l->fn(&l->job[k]);
	return NULL;
}

/* n jobs on `threads` lanes, lane t taking jobs t, t + threads, ...
 * (interleaved: a picture's busy rows are spread over them); lane 0 in
 * this thread.  0: all done well. */
static int
par_run(struct fbusi_jpeg *j, struct par_job *job, int n, int threads,
        void *(*fn)(void *))
{
	struct par_lane lane[PAR_MAX];
	pthread_t t[PAR_MAX];
	bool started[PAR_MAX] = { false };
	int rc = 0;

	if (threads > n)
		threads = n;
	for (int i = 0; i < threads; i++) {
		tjhandle h = par_handle(j, i);

		if (!h)
			return -1;
		for (int k = i; k < n; k += threads)
			job[k].h = h;
		lane[i] = (struct par_lane){ job, i, n, threads, fn };
	}
	for (int i = 1; i < threads; i++)
		started[i] = pthread_create(&t[i], NULL, par_lane, &lane[i]) == 0;
	for (int i = 1; i < threads; i++)
		if (!started[i])
			par_lane(&lane[i]); /* no thread to be had: here */
	par_lane(&lane[0]);
	for (int i = 1; i < threads; i++)
		if (started[i])
			pthread_join(t[i], NULL);
	for (int k = 0; k < n; k++)
		rc |= job[k].rc;
	return rc;
}

static int
tj_pixfmt(uint32_t pixfmt)
{
	switch (pixfmt) {
	case FBUS_PIXFMT_RGB24: return TJPF_RGB;
	case FBUS_PIXFMT_BGR24: return TJPF_BGR;
	case FBUS_PIXFMT_GRAY8: return TJPF_GRAY;
	case FBUS_PIXFMT_BGRA: return TJPF_BGRA;
	default: return -1;
	}
}

bool
fbusi_jpeg_can_encode(uint32_t pixfmt)
{
	return pixfmt == FBUS_PIXFMT_BGR24 || pixfmt == FBUS_PIXFMT_RGB24 ||
	       pixfmt == FBUS_PIXFMT_GRAY8;
}

bool
fbusi_jpeg_can_decode(uint32_t pixfmt)
{
	return tj_pixfmt(pixfmt) >= 0;
}

static int
subsamp(uint32_t pixfmt)
{
	/* 4:2:0 like every camera and cv::imencode; gray has no chroma */
	return pixfmt == FBUS_PIXFMT_GRAY8 ? TJSAMP_GRAY : TJSAMP_420;
}

size_t
fbusi_jpeg_bound(const struct fbus_format *fmt)
{
	unsigned long n;

	if (!fbusi_jpeg_can_encode(fmt->pixfmt) || fbusi_jpeg_load(NULL))
		return 0;
	n = tj.buf_size((int)fmt->width, (int)fmt->height,
	                subsamp(fmt->pixfmt));
	return n == (unsigned long)-1 ? 0 : (size_t)n;
}

/* A big picture in strips, one thread each, each strip a JPEG of whole
 * MCU rows, stitched into one JPEG with a restart marker between strips
 * (jpeg_rst.c): any decoder reads it, and ours decodes it in parts again.
 * The coefficients are those of one encode, so the pixels are too.
 * Nonzero: do it the plain way. */
static int
encode_parts(struct fbusi_jpeg *j, const struct fbus_format *fmt,
             const uint8_t *pixels, int quality, uint8_t *out, size_t cap,
             uint32_t *out_len)
{
	struct par_job job[FBUSI_JPEG_MAX_PARTS];
	const uint8_t *strip[FBUSI_JPEG_MAX_PARTS];
	size_t len[FBUSI_JPEG_MAX_PARTS], n_out;
	int threads = (uint64_t)fmt->width * fmt->height < PAR_MIN_PIXELS
	                      ? 1
	                      : par_threads(j);
	int n = FBUSI_JPEG_MAX_PARTS;
	uint32_t mcu = fmt->pixfmt == FBUS_PIXFMT_GRAY8 ? 8 : 16;
	uint32_t rows, per_row = (fmt->width + mcu - 1) / mcu, ri;

	if (threads < 2)
		return -1;
	/* FBUSI_JPEG_MAX_PARTS strips of whole MCU rows, the last one the
	 * rest: restart intervals enough for a decoder to share the work
	 * by the byte (jpeg_rst.c) */
	rows = (fmt->height + (uint32_t)n - 1) / (uint32_t)n;
	rows = (rows + mcu - 1) / mcu * mcu;
	n = (int)((fmt->height + rows - 1) / rows);
	ri = per_row * (rows / mcu);
	if (n < 2 || ri > 0xFFFF)
		return -1;
	for (int k = 0; k < n; k++) {
		uint32_t y = (uint32_t)k * rows;
		uint32_t h = k == n - 1 ? fmt->height - y : rows;
		unsigned long bound = tj.buf_size((int)fmt->width, (int)h,
		                                  subsamp(fmt->pixfmt));

		if (bound == (unsigned long)-1 || !par_buf(j, k, bound))
			return -1;
		job[k] = (struct par_job){
			.in = pixels + (size_t)y * fmt->stride[0],
			.out = j->buf[k],
			.out_len = bound,
			.width = (int)fmt->width,
			.stride = (int)fmt->stride[0],
			.height = (int)h,
			.pf = tj_pixfmt(fmt->pixfmt),
			.subsamp = subsamp(fmt->pixfmt),
			.quality = quality,
		};
	}
	if (par_run(j, job, n, threads, par_encode))
		return -1;
	for (int k = 0; k < n; k++) {
		strip[k] = job[k].out;
		len[k] = job[k].out_len;
	}
	n_out = fbusi_jpeg_stitch(strip, len, n, fmt->height, ri, out, cap);
	if (!n_out || n_out > UINT32_MAX)
		return -1;
	*out_len = (uint32_t)n_out;
	return 0;
}

int
fbusi_jpeg_encode(struct fbusi_jpeg *j, const struct fbus_format *fmt,
                  const uint8_t *pixels, int quality, uint8_t *out, size_t cap,
                  uint32_t *out_len, struct fbusi_err *err)
{
	unsigned char *buf = out;
	unsigned long size = cap;
	bool full = j->full_chroma && fmt->pixfmt != FBUS_PIXFMT_GRAY8;
	int ss = full ? TJSAMP_444 : subsamp(fmt->pixfmt);

	if (!fbusi_jpeg_can_encode(fmt->pixfmt))
		return fbusi_fail(err, FBUS_ENOTSUP,
		                  "codec=jpeg takes bgr24, rgb24 or gray8 frames, "
		                  "not %s",
		                  fbus_pixfmt_name(fmt->pixfmt));
	if (full && tj.buf_size((int)fmt->width, (int)fmt->height, ss) > cap)
		return fbusi_fail(err, FBUS_EIO, "no room for a 4:4:4 jpeg");
	/* parts are cut at 4:2:0's 16-row MCUs */
	if (!full &&
	    encode_parts(j, fmt, pixels, quality, out, cap, out_len) == 0)
		return 0;
	/* NOREALLOC: out is sized by fbusi_jpeg_bound(), so turbojpeg never
	 * needs to grow it (and must not free our buffer) */
	if (tj.compress2(j->h, pixels, (int)fmt->width, (int)fmt->stride[0],
	                 (int)fmt->height, tj_pixfmt(fmt->pixfmt), &buf, &size,
	                 ss, quality, TJFLAG_NOREALLOC | TJFLAG_FASTDCT) != 0)
		return fbusi_fail(err, FBUS_EIO, "jpeg encode: %s",
		                  tj_error(j));
	if (buf != out || size > cap || size > UINT32_MAX)
		return fbusi_fail(err, FBUS_EIO, "jpeg encode overflowed");
	*out_len = (uint32_t)size;
	return 0;
}

int
fbusi_jpeg_size(struct fbusi_jpeg *j, const uint8_t *jpg, size_t n,
                uint32_t *w, uint32_t *h, struct fbusi_err *err)
{
	int iw, ih, ss, cs;

	if (tj.decompress_header3(j->h, jpg, n, &iw, &ih, &ss, &cs) != 0)
		return fbusi_fail(err, FBUS_EPROTO, "bad jpeg payload: %s",
		                  tj_error(j));
	if (iw <= 0 || ih <= 0)
		return fbusi_fail(err, FBUS_EPROTO, "bad jpeg payload size");
	/* Huffman coding spends at least one bit on every 8x8 block's DC
	 * coefficient (baseline or progressive), so n bytes hold at most
	 * 512 * n pixels: a bigger claim is truncated or a bomb, and
	 * decoding it would cost the full frame for nothing. */
	if ((uint64_t)iw * (uint64_t)ih > (uint64_t)n * 512)
		return fbusi_fail(err, FBUS_EPROTO,
		                  "a jpeg of %zu bytes cannot hold %dx%d pixels "
		                  "(truncated, or a decompression bomb)",
		                  n, iw, ih);
	*w = (uint32_t)iw;
	*h = (uint32_t)ih;
	return 0;
}

/* A big JPEG with restart intervals of whole MCU rows (ours, or a
 * camera's) is decoded in parts, one thread each.  fmt may be the
 * picture at 1/2, 1/4 or 1/8 (libjpeg's scaled decode): each part is
 * scaled alike, its rows a multiple of 8 but for the last.  0: decoded;
 * else decode it whole (a part that failed: the whole decode says why). */
static int
decode_parts(struct fbusi_jpeg *j, const uint8_t *jpg, size_t n,
             const struct fbus_format *fmt, uint8_t *out, int pf)
{
	struct fbusi_jpeg_parts parts;
	struct par_job job[FBUSI_JPEG_MAX_PARTS];
	uint32_t scale = 0;
	int want = par_threads(j);

	if (want < 2)
		return -1;
	fbusi_jpeg_split(jpg, n, want, &parts);
	if (parts.n < 2 ||
	    (uint64_t)parts.width * parts.height < PAR_MIN_PIXELS)
		return -1;
	for (uint32_t s = 1; s <= 8; s *= 2)
		if ((parts.width + s - 1) / s == fmt->width &&
		    (parts.height + s - 1) / s == fmt->height)
			scale = s;
	if (!scale)
		return -1;
	for (int k = 0; k < parts.n; k++) {
		size_t size = fbusi_jpeg_part_size(&parts, k);
		uint32_t rows = parts.row[k + 1] - parts.row[k];

		if (!par_buf(j, k, size) || parts.row[k] % scale)
			return -1;
		job[k] = (struct par_job){
			.in = j->buf[k],
			.in_len = fbusi_jpeg_part_build(jpg, &parts, k, j->buf[k]),
			.out = out + (size_t)(parts.row[k] / scale) * fmt->stride[0],
			.width = (int)fmt->width,
			.stride = (int)fmt->stride[0],
			.height = (int)((rows + scale - 1) / scale),
			.pf = pf,
		};
	}
	return par_run(j, job, parts.n, parts.n, par_decode) ? -1 : 0;
}

int
fbusi_jpeg_decode(struct fbusi_jpeg *j, const uint8_t *jpg, size_t n,
                  const struct fbus_format *fmt, uint8_t *out, struct fbusi_err *err)
{
	int pf = tj_pixfmt(fmt->pixfmt);

	if (pf < 0)
		return fbusi_fail(err, FBUS_ENOTSUP,
		                  "cannot decode jpeg into %s (bgr24, rgb24, "
		                  "bgra, gray8)",
		                  fbus_pixfmt_name(fmt->pixfmt));
	if (decode_parts(j, jpg, n, fmt, out, pf) == 0)
		return 0;
	if (tj.decompress2(j->h, jpg, n, out, (int)fmt->width,
	                   (int)fmt->stride[0], (int)fmt->height, pf,
	                   TJFLAG_FASTDCT) != 0)
		return fbusi_fail(err, FBUS_EPROTO, "jpeg decode: %s",
		                  tj_error(j));
	return 0;
}

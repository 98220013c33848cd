/* SPDX-License-Identifier: MIT */
/*
 * jpeg_codec.c — libturbojpeg via dlopen.  The few prototypes and constants
 * are declared here (they are the stable TurboJPEG 1.x/2.x API, see
 * turbojpeg.h) so the library builds without the -dev package; only
 * ?codec=jpeg needs the runtime package (libturbojpeg0).
 */
#define _GNU_SOURCE
#include "jpeg_codec.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef void *tjhandle;

/* values from turbojpeg.h */
enum { TJSAMP_420 = 2, TJSAMP_GRAY = 3 };
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

struct fbusi_jpeg {
	tjhandle h;
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
	*out = j;
	return 0;
}

void
fbusi_jpeg_close(struct fbusi_jpeg *j)
{
	if (!j)
		return;
	tj.destroy(j->h);
	free(j);
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

int
fbusi_jpeg_encode(struct fbusi_jpeg *j, const struct fbus_format *fmt,
                  const uint8_t *pixels, int quality, uint8_t *out, size_t cap,
                  uint32_t *out_len, struct fbusi_err *err)
{
	unsigned char *buf = out;
	unsigned long size = cap;

	if (!fbusi_jpeg_can_encode(fmt->pixfmt))
		return fbusi_fail(err, FBUS_ENOTSUP,
		                  "codec=jpeg takes bgr24, rgb24 or gray8 frames, "
		                  "not %s",
		                  fbus_pixfmt_name(fmt->pixfmt));
	/* NOREALLOC: out is sized by fbusi_jpeg_bound(), so turbojpeg never
	 * needs to grow it (and must not free our buffer) */
	if (tj.compress2(j->h, pixels, (int)fmt->width, (int)fmt->stride[0],
	                 (int)fmt->height, tj_pixfmt(fmt->pixfmt), &buf, &size,
	                 subsamp(fmt->pixfmt), quality,
	                 TJFLAG_NOREALLOC | TJFLAG_FASTDCT) != 0)
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
	if (tj.decompress2(j->h, jpg, n, out, (int)fmt->width,
	                   (int)fmt->stride[0], (int)fmt->height, pf,
	                   TJFLAG_FASTDCT) != 0)
		return fbusi_fail(err, FBUS_EPROTO, "jpeg decode: %s",
		                  tj_error(j));
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * letterbox.c — one pass from a frame's planes (packed RGB, grey or YUV) to
 * the network's normalised RGB planes.  Bilinear sampling with pixel
 * centres aligned (as OpenCV's INTER_LINEAR), so a frame already at the
 * network's size passes through unchanged.  Column taps are computed once
 * per frame; rows are sampled straight from the source planes.
 */
#include "letterbox.h"
#include "bt601.h"

#include <math.h>
#include <stdlib.h>

/* One horizontal tap: byte offsets of the two neighbours and the weight
 * of the second. */
struct tap {
	int32_t i0, i1;
	float f;
};

static const float k_norm = 1.0f / 255.0f;

int
letterbox_supported(uint32_t pixfmt)
{
	switch (pixfmt) {
	case FBUS_PIXFMT_BGR24:
	case FBUS_PIXFMT_RGB24:
	case FBUS_PIXFMT_BGRA:
	case FBUS_PIXFMT_GRAY8:
	case FBUS_PIXFMT_NV12:
	case FBUS_PIXFMT_I420:
	case FBUS_PIXFMT_YUYV:
		return 1;
	default:
		return 0;
	}
}

/*
 * Source position of output sample o when n_src samples are shown as
 * n_dst: centre-aligned, clamped to the edges.
 */
static struct tap
make_tap(int o, int n_dst, int n_src, int step, int base)
{
	float s = ((float)o + 0.5f) * (float)n_src / (float)n_dst - 0.5f;
	struct tap t;
	int i;

	if (s < 0)
		s = 0;
	i = (int)s;
	if (i > n_src - 1)
		i = n_src - 1;
	t.f = s - (float)i;
	t.i0 = base + i * step;
	t.i1 = base + (i + 1 < n_src ? i + 1 : i) * step;
	if (i + 1 >= n_src)
		t.f = 0;
	return t;
}

/* Chroma of 4:2:x sits between two luma samples: its own centre-aligned
 * mapping at half the width. */
static struct tap
make_chroma_tap(int o, int n_dst, int n_src_luma, int step, int base)
{
	return make_tap(o, n_dst, n_src_luma / 2, step, base);
}

static inline float
lerp2(const uint8_t *r0, const uint8_t *r1, const struct tap *t, float fy)
{
	float a = (float)r0[t->i0] + ((float)r0[t->i1] - (float)r0[t->i0]) * t->f;
	float b = (float)r1[t->i0] + ((float)r1[t->i1] - (float)r1[t->i0]) * t->f;

	return a + (b - a) * fy;
}

/* Packed RGB-like rows: the taps point at the pixel, ro/go/bo at the
 * channel inside it. */
static void
row_packed(const uint8_t *r0, const uint8_t *r1, float fy,
           const struct tap *xt, int n, int ro, int go, int bo, float *R,
           float *G, float *B)
{
	for (int i = 0; i < n; i++) {
		R[i] = lerp2(r0 + ro, r1 + ro, &xt[i], fy) * k_norm;
		G[i] = lerp2(r0 + go, r1 + go, &xt[i], fy) * k_norm;
		B[i] = lerp2(r0 + bo, r1 + bo, &xt[i], fy) * k_norm;
	}
}

static void
row_gray(const uint8_t *r0, const uint8_t *r1, float fy, const struct tap *xt,
         int n, float *R, float *G, float *B)
{
	for (int i = 0; i < n; i++)
		R[i] = G[i] = B[i] = lerp2(r0, r1, &xt[i], fy) * k_norm;
}

static void
row_yuv(const uint8_t *y0, const uint8_t *y1, float fy, const struct tap *xt,
        const uint8_t *u0, const uint8_t *u1, const uint8_t *v0,
        const uint8_t *v1, float fc, const struct tap *xc, int n, float *R,
        float *G, float *B)
{
	for (int i = 0; i < n; i++) {
		float r, g, b;

		bt601_rgb(lerp2(y0, y1, &xt[i], fy),
		          lerp2(u0, u1, &xc[i], fc),
		          lerp2(v0, v1, &xc[i], fc), &r, &g, &b);
		R[i] = r * k_norm;
		G[i] = g * k_norm;
		B[i] = b * k_norm;
	}
}

static void
fill_pad(float *p, size_t n, float v)
{
	for (size_t i = 0; i < n; i++)
		p[i] = v;
}

/* Vertical tap of output row oy: source rows and weight. */
static void
row_tap(int oy, int n_dst, int n_src, int *r0, int *r1, float *f)
{
	struct tap t = make_tap(oy, n_dst, n_src, 1, 0);

	*r0 = t.i0;
	*r1 = t.i1;
	*f = t.f;
}

int
letterbox_fill(const struct letterbox *lb, const struct fbus_format *fmt,
               const uint8_t *data, float pad, float *blob,
               struct letterbox_ws *ws)
{
	const int W = lb->dst_w, H = lb->dst_h, nw = lb->new_w, nh = lb->new_h;
	const int sw = (int)fmt->width, sh = (int)fmt->height;
	const size_t plane = (size_t)W * (size_t)H;
	float *Rp = blob, *Gp = blob + plane, *Bp = blob + 2 * plane;
	struct tap *xt, *xc;
	int ro = 0, go = 0, bo = 0, bpp = 0, yuv = 0;

	if (!letterbox_supported(fmt->pixfmt))
		return FBUS_ENOTSUP;
	if (sw != lb->src_w || sh != lb->src_h)
		return FBUS_EINVAL;
	if (ws->cap < (size_t)nw * 2) {
		void *p = realloc(ws->taps, (size_t)nw * 2 * sizeof(struct tap));

		if (!p)
			return FBUS_ENOMEM;
		ws->taps = p;
		ws->cap = (size_t)nw * 2;
	}
	xt = ws->taps;
	xc = xt + nw;

	switch (fmt->pixfmt) {
	case FBUS_PIXFMT_BGR24: bpp = 3, ro = 2, go = 1, bo = 0; break;
	case FBUS_PIXFMT_RGB24: bpp = 3, ro = 0, go = 1, bo = 2; break;
	case FBUS_PIXFMT_BGRA: bpp = 4, ro = 2, go = 1, bo = 0; break;
	case FBUS_PIXFMT_GRAY8: bpp = 1; break;
	case FBUS_PIXFMT_NV12:
	case FBUS_PIXFMT_I420:
	case FBUS_PIXFMT_YUYV: yuv = 1; break;
	}
	for (int i = 0; i < nw; i++) {
		if (!yuv) {
			xt[i] = make_tap(i, nw, sw, bpp, 0);
		} else if (fmt->pixfmt == FBUS_PIXFMT_YUYV) {
			/* Y0 U Y1 V: luma every 2 bytes, chroma pairs
			 * every 4 (U at +1, V at +3 of the pair). */
			xt[i] = make_tap(i, nw, sw, 2, 0);
			xc[i] = make_chroma_tap(i, nw, sw, 4, 0);
		} else {
			xt[i] = make_tap(i, nw, sw, 1, 0);
			xc[i] = make_chroma_tap(i, nw, sw,
			                        fmt->pixfmt == FBUS_PIXFMT_NV12 ? 2
			                                                        : 1,
			                        0);
		}
	}

	/* Rows above and below the picture. */
	fill_pad(Rp, (size_t)lb->pad_y * W, pad);
	fill_pad(Gp, (size_t)lb->pad_y * W, pad);
	fill_pad(Bp, (size_t)lb->pad_y * W, pad);
	{
		size_t from = (size_t)(lb->pad_y + nh) * W;

		fill_pad(Rp + from, plane - from, pad);
		fill_pad(Gp + from, plane - from, pad);
		fill_pad(Bp + from, plane - from, pad);
	}

	for (int oy = 0; oy < nh; oy++) {
		size_t o = (size_t)(lb->pad_y + oy) * W;
		float *R = Rp + o, *G = Gp + o, *B = Bp + o;
		int y0, y1;
		float fy;

		fill_pad(R, (size_t)lb->pad_x, pad);
		fill_pad(G, (size_t)lb->pad_x, pad);
		fill_pad(B, (size_t)lb->pad_x, pad);
		fill_pad(R + lb->pad_x + nw, (size_t)(W - lb->pad_x - nw), pad);
		fill_pad(G + lb->pad_x + nw, (size_t)(W - lb->pad_x - nw), pad);
		fill_pad(B + lb->pad_x + nw, (size_t)(W - lb->pad_x - nw), pad);
		R += lb->pad_x, G += lb->pad_x, B += lb->pad_x;

		row_tap(oy, nh, sh, &y0, &y1, &fy);
		const uint8_t *p0 = data + fmt->offset[0] +
		                    (size_t)y0 * fmt->stride[0];
		const uint8_t *p1 = data + fmt->offset[0] +
		                    (size_t)y1 * fmt->stride[0];

		switch (fmt->pixfmt) {
		case FBUS_PIXFMT_GRAY8:
			row_gray(p0, p1, fy, xt, nw, R, G, B);
			break;
		case FBUS_PIXFMT_YUYV:
			row_yuv(p0, p1, fy, xt, p0 + 1, p1 + 1, p0 + 3, p1 + 3,
			        fy, xc, nw, R, G, B);
			break;
		case FBUS_PIXFMT_NV12:
		case FBUS_PIXFMT_I420: {
			int c0, c1;
			float fc;
			const uint8_t *u0, *u1, *v0, *v1;

			row_tap(oy, nh, sh / 2, &c0, &c1, &fc);
			u0 = data + fmt->offset[1] + (size_t)c0 * fmt->stride[1];
			u1 = data + fmt->offset[1] + (size_t)c1 * fmt->stride[1];
			if (fmt->pixfmt == FBUS_PIXFMT_NV12) {
				v0 = u0 + 1;
				v1 = u1 + 1;
			} else {
				v0 = data + fmt->offset[2] +
				     (size_t)c0 * fmt->stride[2];
				v1 = data + fmt->offset[2] +
				     (size_t)c1 * fmt->stride[2];
			}
			row_yuv(p0, p1, fy, xt, u0, u1, v0, v1, fc, xc, nw, R,
			        G, B);
			break;
		}
		default:
			row_packed(p0, p1, fy, xt, nw, ro, go, bo, R, G, B);
			break;
		}
	}
	return 0;
}

void
letterbox_ws_free(struct letterbox_ws *ws)
{
	free(ws->taps);
	ws->taps = NULL;
	ws->cap = 0;
}

/* ---- geometry, and back from network to source pixels ----------------- */

void
letterbox_geometry(struct letterbox *lb, int src_w, int src_h, int dst_w,
                   int dst_h, enum letterbox_round round)
{
	int width_limits = (long long)dst_w * src_h < (long long)dst_h * src_w;

	lb->src_w = src_w;
	lb->src_h = src_h;
	lb->dst_w = dst_w;
	lb->dst_h = dst_h;
	if (round == LETTERBOX_ULTRALYTICS) {
		/* int(round(src * r)) with r = min(dst_w/src_w, dst_h/src_h)
		 * in doubles; nearbyint rounds half to even as Python does */
		double r = width_limits ? (double)dst_w / src_w
		                        : (double)dst_h / src_h;

		lb->new_w = (int)nearbyint(src_w * r);
		lb->new_h = (int)nearbyint(src_h * r);
	} else if (width_limits) {
		/* dst_w/src_w < dst_h/src_h, in integers */
		lb->new_w = dst_w;
		lb->new_h = (int)((long long)src_h * dst_w / src_w);
	} else {
		lb->new_h = dst_h;
		lb->new_w = (int)((long long)src_w * dst_h / src_h);
	}
	if (lb->new_w < 1)
		lb->new_w = 1;
	if (lb->new_h < 1)
		lb->new_h = 1;
	lb->pad_x = (dst_w - lb->new_w) / 2;
	lb->pad_y = (dst_h - lb->new_h) / 2;
}

static float
clampf(float v, float lo, float hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

void
letterbox_unmap(const struct letterbox *lb, struct det_box *b, size_t n)
{
	float sx = (float)lb->src_w / (float)lb->new_w;
	float sy = (float)lb->src_h / (float)lb->new_h;

	for (size_t i = 0; i < n; i++) {
		float x0 = (b[i].x - (float)lb->pad_x) * sx;
		float y0 = (b[i].y - (float)lb->pad_y) * sy;
		float x1 = (b[i].x + b[i].w - (float)lb->pad_x) * sx;
		float y1 = (b[i].y + b[i].h - (float)lb->pad_y) * sy;

		x0 = clampf(x0, 0, (float)lb->src_w);
		x1 = clampf(x1, 0, (float)lb->src_w);
		y0 = clampf(y0, 0, (float)lb->src_h);
		y1 = clampf(y1, 0, (float)lb->src_h);
		b[i].x = x0;
		b[i].y = y0;
		b[i].w = x1 > x0 ? x1 - x0 : 0;
		b[i].h = y1 > y0 ? y1 - y0 : 0;
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * synthetic.c — the deterministic scene behind `framebus source synthetic`.
 *
 * Every quantity is a pure function of (seed, frame index): an object's
 * class, colour, size and straight path come from hashing (seed, slot,
 * generation), so frame k is rendered without rendering frames 0..k-1 and
 * two runs with one seed publish identical bytes.  The scene is also the
 * training set of the bundled detector, hence the care for distinct
 * classes, saturated object colours over a desaturated background, and
 * exact (pixel-tight, clipped) ground-truth boxes.
 *
 * Rendering is two passes over the frame: the objects are rasterised
 * back-to-front into a byte map of owners (which also counts each object's
 * visible pixels, for the "drop when < 30 % visible" rule), then one pass
 * composes owner colour or background texture plus noise straight into the
 * destination.  Each destination byte is written once.
 */
#include "synthetic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Objects alive at once; each slot runs a sequence of "generations", one
 * object crossing the frame per generation. */
#define NSLOTS 10
#define TEX 512 /* background tile, power of two */
#define NOISE_AMP 3 /* +-3 of 255: mild */
#define PI 3.14159265358979323846

struct object {
	int cls;        /* enum gt_class, -1 = slot empty */
	double cx, cy;  /* centre */
	double size;    /* circle diameter, square/triangle side, cross span */
	uint8_t bgr[3];
};

struct synth {
	uint64_t seed;
	uint32_t w, h;
	uint32_t flags;
	uint32_t min_visible;
	int vx, vy;        /* background scroll, pixels per frame */
	uint8_t *tex;      /* TEX x TEX BGR, tileable */
	uint8_t *owner;    /* w x h: 0 = background, else slot + 1 */
};

static uint64_t
mix64(uint64_t x)
{
	/* splitmix64's finaliser: every input bit reaches every output bit */
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t
hash3(uint64_t a, uint64_t b, uint64_t c)
{
	return mix64(a ^ mix64(b ^ mix64(c)));
}

/* A small stream of random numbers from one hash. */
struct rng {
	uint64_t state;
};

static uint64_t
rng_next(struct rng *r)
{
	r->state += 0x9e3779b97f4a7c15ull;
	return mix64(r->state);
}

static double
rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static uint32_t
lowbias32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return x;
}

static void
hsv_to_bgr(double hue, double s, double v, uint8_t bgr[3])
{
	double c = v * s, hp = fmod(hue, 360.0) / 60.0;
	double x = c * (1.0 - fabs(fmod(hp, 2.0) - 1.0)), m = v - c;
	double r = 0, g = 0, b = 0;

	if (hp < 1)
		r = c, g = x;
	else if (hp < 2)
		r = x, g = c;
	else if (hp < 3)
		g = c, b = x;
	else if (hp < 4)
		g = x, b = c;
	else if (hp < 5)
		r = x, b = c;
	else
		r = c, b = x;
	bgr[0] = (uint8_t)lround((b + m) * 255.0);
	bgr[1] = (uint8_t)lround((g + m) * 255.0);
	bgr[2] = (uint8_t)lround((r + m) * 255.0);
}

/* Tileable value noise: random values on a lattice of `period` cells
 * (wrapping at TEX), smoothly interpolated. */
static double
value_noise(uint64_t seed, int octave, int x, int y, int cell)
{
	int n = TEX / cell;
	int gx = x / cell, gy = y / cell;
	double fx = (double)(x % cell) / cell, fy = (double)(y % cell) / cell;
	double v[4];

	for (int i = 0; i < 4; i++) {
		int lx = (gx + (i & 1)) % n, ly = (gy + (i >> 1)) % n;
		v[i] = (double)(hash3(seed, (uint64_t)octave,
		                      (uint64_t)(ly * n + lx)) >> 11) *
		       0x1.0p-53;
	}
	fx = fx * fx * (3 - 2 * fx);
	fy = fy * fy * (3 - 2 * fy);
	return (v[0] * (1 - fx) + v[1] * fx) * (1 - fy) +
	       (v[2] * (1 - fx) + v[3] * fx) * fy;
}

static void
make_texture(struct synth *s)
{
	static const int cells[4] = { 128, 64, 16, 4 };
	static const double weights[4] = { 0.45, 0.3, 0.15, 0.1 };
	struct rng r = { hash3(s->seed, 0x7e47, 0) };
	uint8_t base[3];
	double hue = rng_unit(&r) * 360.0;

	/* Desaturated and mid-dark, so saturated objects stand out whatever
	 * their hue. */
	hsv_to_bgr(hue, 0.08 + 0.12 * rng_unit(&r), 0.35 + 0.2 * rng_unit(&r),
	           base);
	for (int y = 0; y < TEX; y++) {
		for (int x = 0; x < TEX; x++) {
			double v = 0;
			uint8_t *p = s->tex + ((size_t)y * TEX + x) * 3;

			for (int o = 0; o < 4; o++)
				v += weights[o] *
				     value_noise(s->seed, o, x, y, cells[o]);
			/* faint stripes give the scroll a visible direction */
			v += 0.08 * sin((x + 2 * y) * (2 * PI / 64.0));
			for (int c = 0; c < 3; c++) {
				double f = base[c] * (0.55 + 0.9 * v);
				p[c] = (uint8_t)(f < 0 ? 0 : f > 255 ? 255 : f);
			}
		}
	}
}

struct synth *
synth_create(uint64_t seed, uint32_t w, uint32_t h)
{
	struct synth *s;
	struct rng r = { hash3(seed, 0x5c0, 1) };

	if (w == 0 || h == 0 || w > FBUS_MAX_DIM || h > FBUS_MAX_DIM)
		return NULL;
	s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->seed = seed;
	s->w = w;
	s->h = h;
	s->min_visible = 300;
	s->vx = (int)(rng_next(&r) % 7) - 3;
	s->vy = (int)(rng_next(&r) % 5) - 2;
	if (s->vx == 0 && s->vy == 0)
		s->vx = 2;
	s->tex = malloc((size_t)TEX * TEX * 3);
	s->owner = malloc((size_t)w * h);
	if (!s->tex || !s->owner) {
		synth_destroy(s);
		return NULL;
	}
	make_texture(s);
	return s;
}

void
synth_destroy(struct synth *s)
{
	if (!s)
		return;
	free(s->tex);
	free(s->owner);
	free(s);
}

void
synth_set_flags(struct synth *s, uint32_t flags)
{
	s->flags = flags;
}

void
synth_set_min_visible(struct synth *s, uint32_t permille)
{
	s->min_visible = permille > 1000 ? 1000 : permille;
}

int
synth_supports(uint32_t pixfmt)
{
	return pixfmt == FBUS_PIXFMT_BGR24 || pixfmt == FBUS_PIXFMT_RGB24 ||
	       pixfmt == FBUS_PIXFMT_BGRA;
}

/* A point on the border of the frame grown by `m` on every side. */
static void
border_point(struct rng *r, int edge, double w, double h, double m,
             double *x, double *y)
{
	double u = rng_unit(r);

	switch (edge) {
	case 0: *x = -m, *y = u * h; break;
	case 1: *x = u * w, *y = -m; break;
	case 2: *x = w + m, *y = u * h; break;
	default: *x = u * w, *y = h + m; break;
	}
}

/*
 * The object of `slot` at frame `index`.  A slot's generations all last
 * `period` frames (per slot, 90..239) and are offset by a per-slot phase,
 * so the generation and the position within it are a division away.
 */
static void
object_at(const struct synth *s, int slot, uint64_t index,
          struct object *o)
{
	struct rng r = { hash3(s->seed, 0x5107, (uint64_t)slot) };
	uint64_t period = 90 + rng_next(&r) % 150;
	uint64_t phase = rng_next(&r) % period;
	uint64_t gen = (index + phase) / period;
	double t = (double)((index + phase) % period) / (double)(period - 1);
	double w = s->w, h = s->h, ax, ay, bx, by, m;
	int e0, e1;

	r.state = hash3(s->seed, (uint64_t)slot + 1000, gen);
	if (rng_unit(&r) < 0.12) {
		o->cls = -1; /* a pause between objects varies the count */
		return;
	}
	o->cls = (int)(rng_next(&r) % FBUS_GT_NCLASSES);
	o->size = h * (0.03 + 0.17 * rng_unit(&r));
	if (o->size < 3)
		o->size = 3;
	{
		double hue = rng_unit(&r) * 360.0;
		double sat = 0.65 + 0.35 * rng_unit(&r);
		double val = 0.6 + 0.4 * rng_unit(&r);

		hsv_to_bgr(hue, sat, val, o->bgr);
	}
	/* enter through one side, leave through another */
	m = o->size * 0.75 + 2;
	e0 = (int)(rng_next(&r) % 4);
	e1 = (e0 + 1 + (int)(rng_next(&r) % 3)) % 4;
	border_point(&r, e0, w, h, m, &ax, &ay);
	border_point(&r, e1, w, h, m, &bx, &by);
	o->cx = ax + (bx - ax) * t;
	o->cy = ay + (by - ay) * t;
}

static int
inside(const struct object *o, double px, double py)
{
	double dx = px - o->cx, dy = py - o->cy, half = o->size / 2;

	switch (o->cls) {
	case FBUS_GT_CIRCLE:
		return dx * dx + dy * dy <= half * half;
	case FBUS_GT_SQUARE:
		return fabs(dx) <= half && fabs(dy) <= half;
	case FBUS_GT_TRIANGLE: {
		/* equilateral, apex up */
		double th = o->size * 0.8660254037844386;
		double top = o->cy - th / 2;

		if (py < top || py > top + th)
			return 0;
		return fabs(dx) <= (py - top) / th * half;
	}
	case FBUS_GT_CROSS: {
		double arm = o->size * 0.18; /* half the arm thickness */

		return fabs(dx) <= half && fabs(dy) <= half &&
		       (fabs(dx) <= arm || fabs(dy) <= arm);
	}
	default:
		return 0;
	}
}

struct raster {
	uint64_t full;     /* pixels of the whole shape, on or off frame */
	uint64_t visible;  /* pixels it owns after nearer objects drew */
	int32_t x0, y0, x1, y1; /* in-frame extent, inclusive; x0 > x1: none */
};

/* Rasterise object `id` (1-based) into the owner map, keeping every
 * object's visible-pixel count current. */
static void
rasterise(struct synth *s, const struct object *o, int id,
          struct raster *ras)
{
	struct raster *me = &ras[id - 1];
	double half = o->size / 2 + 1;
	int64_t x0 = (int64_t)floor(o->cx - half), x1 = (int64_t)ceil(o->cx + half);
	int64_t y0 = (int64_t)floor(o->cy - half), y1 = (int64_t)ceil(o->cy + half);

	for (int64_t y = y0; y <= y1; y++) {
		int row_in = y >= 0 && y < (int64_t)s->h;

		for (int64_t x = x0; x <= x1; x++) {
			uint8_t *own;

			if (!inside(o, (double)x + 0.5, (double)y + 0.5))
				continue;
			me->full++;
			if (!row_in || x < 0 || x >= (int64_t)s->w)
				continue;
			own = &s->owner[(size_t)y * s->w + (size_t)x];
			if (*own)
				ras[*own - 1].visible--;
			*own = (uint8_t)id;
			me->visible++;
			if (x < me->x0)
				me->x0 = (int32_t)x;
			if (x > me->x1)
				me->x1 = (int32_t)x;
			if (y < me->y0)
				me->y0 = (int32_t)y;
			if (y > me->y1)
				me->y1 = (int32_t)y;
		}
	}
}

int
synth_render(struct synth *s, uint64_t index,
             const struct fbus_format *fmt, uint8_t *dst, struct gt *gt)
{
	struct object obj[NSLOTS];
	struct raster ras[NSLOTS];
	uint8_t col[NSLOTS + 1][3];
	int bpp, ib, ig, ir;
	uint32_t ox, oy, fseed;

	if (!s || !fmt || !dst || fmt->width != s->w || fmt->height != s->h)
		return FBUS_EINVAL;
	switch (fmt->pixfmt) {
	case FBUS_PIXFMT_BGR24: bpp = 3, ib = 0, ig = 1, ir = 2; break;
	case FBUS_PIXFMT_RGB24: bpp = 3, ib = 2, ig = 1, ir = 0; break;
	case FBUS_PIXFMT_BGRA: bpp = 4, ib = 0, ig = 1, ir = 2; break;
	default: return FBUS_EINVAL;
	}
	if (fmt->stride[0] < (uint64_t)s->w * bpp)
		return FBUS_EINVAL;

	memset(s->owner, 0, (size_t)s->w * s->h);
	for (int i = 0; i < NSLOTS; i++) {
		ras[i] = (struct raster){ 0, 0, INT32_MAX, INT32_MAX, -1, -1 };
		obj[i].cls = -1;
		if (!(s->flags & SYNTH_NO_OBJECTS))
			object_at(s, i, index, &obj[i]);
		if (obj[i].cls >= 0) {
			rasterise(s, &obj[i], i + 1, ras);
			memcpy(col[i + 1], obj[i].bgr, 3);
		}
	}

	/* Scroll offsets modulo TEX; the products are taken modulo first so
	 * that huge frame indexes do not overflow. */
	ox = (uint32_t)(((index % TEX) * (uint64_t)(s->vx + TEX)) % TEX);
	oy = (uint32_t)(((index % TEX) * (uint64_t)(s->vy + TEX)) % TEX);
	fseed = (uint32_t)hash3(s->seed, 0x0153, index);
	for (uint32_t y = 0; y < s->h; y++) {
		uint8_t *d = dst + (size_t)y * fmt->stride[0];
		const uint8_t *own = s->owner + (size_t)y * s->w;
		const uint8_t *trow = s->tex + (size_t)((y + oy) % TEX) * TEX * 3;
		uint32_t ymix = y * 0x85ebca77u ^ fseed;

		for (uint32_t x = 0; x < s->w; x++, d += bpp) {
			const uint8_t *c = own[x] ? col[own[x]]
			                          : trow + ((x + ox) % TEX) * 3;
			int b = c[0], g = c[1], r = c[2];

			if (!(s->flags & SYNTH_NO_NOISE)) {
				uint32_t n = lowbias32(x * 0x9e3779b1u ^ ymix);

				b += (int)((n & 0xff) * (2 * NOISE_AMP + 1) >> 8) - NOISE_AMP;
				g += (int)((n >> 8 & 0xff) * (2 * NOISE_AMP + 1) >> 8) - NOISE_AMP;
				r += (int)((n >> 16 & 0xff) * (2 * NOISE_AMP + 1) >> 8) - NOISE_AMP;
				b = b < 0 ? 0 : b > 255 ? 255 : b;
				g = g < 0 ? 0 : g > 255 ? 255 : g;
				r = r < 0 ? 0 : r > 255 ? 255 : r;
			}
			d[ib] = (uint8_t)b;
			d[ig] = (uint8_t)g;
			d[ir] = (uint8_t)r;
			if (bpp == 4)
				d[3] = 255;
		}
	}

	if (!gt)
		return 0;
	gt->width = s->w;
	gt->height = s->h;
	gt->frame = index;
	gt->count = 0;
	for (int i = 0; i < NSLOTS; i++) {
		struct gt_box *b = &gt->box[gt->count];
		uint64_t vis;

		if (obj[i].cls < 0 || ras[i].full == 0 || ras[i].visible == 0)
			continue;
		vis = ras[i].visible * 1000 / ras[i].full;
		if (vis < s->min_visible)
			continue;
		b->cls = (uint16_t)obj[i].cls;
		b->x = (uint16_t)ras[i].x0;
		b->y = (uint16_t)ras[i].y0;
		b->w = (uint16_t)(ras[i].x1 - ras[i].x0 + 1);
		b->h = (uint16_t)(ras[i].y1 - ras[i].y0 + 1);
		b->visible = (uint16_t)(vis > 1000 ? 1000 : vis);
		gt->count++;
	}
	return 0;
}

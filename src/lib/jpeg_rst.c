/* SPDX-License-Identifier: MIT */
/*
 * jpeg_rst.c — stitching strips into one JPEG with restart markers, and
 * splitting such a JPEG into parts that decode apart (jpeg_rst.h).  The
 * markers are ITU T.81's: SOI FFD8, SOF0/1 FFC0/FFC1, DRI FFDD, SOS FFDA,
 * RSTm FFD0-FFD7, EOI FFD9; in scan data an FF byte is followed by 00
 * (stuffing), another FF (fill) or a marker.
 */
#include "jpeg_rst.h"

#include <string.h>

struct hdr {
	size_t sof_y;   /* offset of the SOF's 16-bit height */
	size_t sos;     /* offset of the SOS marker */
	size_t hdr_len; /* up to the first byte of scan data */
	uint32_t width, height;
	uint32_t mcu_w, mcu_h;
	uint32_t ri;    /* restart interval in MCUs, 0 = none */
};

static uint32_t
be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

/* SOI, then marker segments up to and including SOS.  0: a baseline or
 * extended sequential, 8-bit, single-scan (interleaved) picture. */
static int
parse_hdr(const uint8_t *j, size_t n, struct hdr *h)
{
	size_t pos = 2;
	uint32_t nf = 0, hmax = 1, vmax = 1;

	memset(h, 0, sizeof *h);
	if (n < 4 || j[0] != 0xFF || j[1] != 0xD8)
		return -1;
	for (;;) {
		uint32_t m, len;

		if (pos + 4 > n || j[pos] != 0xFF)
			return -1;
		while (pos + 4 <= n && j[pos + 1] == 0xFF)
			pos++; /* fill bytes before a marker */
		if (pos + 4 > n)
			return -1;
		m = j[pos + 1];
		len = be16(j + pos + 2);
		if (len < 2 || pos + 2 + len > n)
			return -1;
		if (m == 0xC0 || m == 0xC1) {
			const uint8_t *s = j + pos + 4;

			if (h->sof_y || len < 8 || s[0] != 8)
				return -1;
			h->sof_y = pos + 5;
			h->height = be16(s + 1);
			h->width = be16(s + 3);
			nf = s[5];
			if (!h->height || !h->width || nf < 1 || nf > 4 ||
			    len != 8 + 3 * nf)
				return -1;
			for (uint32_t c = 0; c < nf; c++) {
				uint32_t hs = s[7 + 3 * c] >> 4;
				uint32_t vs = s[7 + 3 * c] & 15;

				if (hs < 1 || hs > 4 || vs < 1 || vs > 4)
					return -1;
				hmax = hs > hmax ? hs : hmax;
				vmax = vs > vmax ? vs : vmax;
			}
		} else if ((m >= 0xC2 && m <= 0xCF && m != 0xC4 && m != 0xC8 &&
		            m != 0xCC) ||
		           m == 0xDC || m == 0xD8 || (m >= 0xD0 && m <= 0xD7) ||
		           m == 0x01 || m == 0xD9) {
			return -1; /* progressive, lossless, arithmetic, DNL... */
		} else if (m == 0xDD) {
			if (len != 4)
				return -1;
			h->ri = be16(j + pos + 4);
		} else if (m == 0xDA) {
			const uint8_t *s = j + pos + 4;

			if (!h->sof_y || len < 6 || s[0] != nf ||
			    len != 6 + 2 * nf)
				return -1;
			/* Ss 0, Se 63, Ah/Al 0: the one sequential scan */
			if (s[1 + 2 * nf] != 0 || s[2 + 2 * nf] != 63 ||
			    s[3 + 2 * nf] != 0)
				return -1;
			h->sos = pos;
			h->hdr_len = pos + 2 + len;
			break;
		}
		pos += 2 + len;
	}
	/* one component: its MCU is one 8x8 block, whatever it declares */
	h->mcu_w = nf == 1 ? 8 : 8 * hmax;
	h->mcu_h = nf == 1 ? 8 : 8 * vmax;
	return 0;
}

size_t
fbusi_jpeg_stitch(const uint8_t *const strip[], const size_t len[], int n,
                  uint32_t height, uint32_t ri, uint8_t *out, size_t cap)
{
	struct hdr h0, h;
	size_t o, need;
	uint32_t rows = 0;

	if (n < 2 || n > FBUSI_JPEG_MAX_PARTS || ri == 0 || ri > 0xFFFF ||
	    height > 0xFFFF || parse_hdr(strip[0], len[0], &h0) || h0.ri)
		return 0;
	need = h0.hdr_len + 6 + 2;
	for (int k = 0; k < n; k++) {
		if (parse_hdr(strip[k], len[k], &h) || h.ri ||
		    h.hdr_len != h0.hdr_len || len[k] < h.hdr_len + 2 ||
		    strip[k][len[k] - 2] != 0xFF || strip[k][len[k] - 1] != 0xD9)
			return 0;
		/* the same tables and components: all but the height */
		if (memcmp(strip[k], strip[0], h.sof_y) ||
		    memcmp(strip[k] + h.sof_y + 2, strip[0] + h.sof_y + 2,
		           h.hdr_len - h.sof_y - 2))
			return 0;
		/* every strip but the last is exactly one restart interval */
		if (k < n - 1 &&
		    (h.height % h.mcu_h ||
		     (h.width + h.mcu_w - 1) / h.mcu_w * (h.height / h.mcu_h) !=
		             ri))
			return 0;
		rows += h.height;
		need += len[k] - h.hdr_len - 2 + 2;
	}
	if (rows != height || need > cap)
		return 0;
	memcpy(out, strip[0], h0.sos);
	out[h0.sof_y] = (uint8_t)(height >> 8);
	out[h0.sof_y + 1] = (uint8_t)height;
	o = h0.sos;
	out[o++] = 0xFF, out[o++] = 0xDD, out[o++] = 0, out[o++] = 4;
	out[o++] = (uint8_t)(ri >> 8), out[o++] = (uint8_t)ri;
	memcpy(out + o, strip[0] + h0.sos, h0.hdr_len - h0.sos);
	o += h0.hdr_len - h0.sos;
	for (int k = 0; k < n; k++) {
		size_t d = len[k] - h0.hdr_len - 2;

		if (k) {
			out[o++] = 0xFF;
			out[o++] = (uint8_t)(0xD0 + ((k - 1) & 7));
		}
		memcpy(out + o, strip[k] + h0.hdr_len, d);
		o += d;
	}
	out[o++] = 0xFF, out[o++] = 0xD9;
	return o;
}

/* The restart markers of scan data j[from..n): calls fn for each (its
 * offset, its number) until EOI.  Returns the count, or -1 when the scan
 * holds another marker, a marker out of sequence, or no EOI (*eoi: its
 * offset). */
static long
each_rst(const uint8_t *j, size_t n, size_t from, size_t *eoi,
         void (*fn)(void *, size_t, uint32_t), void *arg)
{
	uint32_t seen = 0;

	for (size_t pos = from; pos + 1 < n; pos++) {
		const uint8_t *ff = memchr(j + pos, 0xFF, n - 1 - pos);
		uint8_t m;

		if (!ff)
			return -1; /* no EOI */
		pos = (size_t)(ff - j);
		m = j[pos + 1];
		if (m == 0x00 || m == 0xFF)
			continue; /* stuffing; fill before a marker */
		if (m == 0xD9) {
			*eoi = pos;
			return seen;
		}
		if (m < 0xD0 || m > 0xD7 || (m & 7) != (seen & 7))
			return -1;
		if (fn)
			fn(arg, pos, seen);
		seen++;
		pos++;
	}
	return -1;
}

struct cut {
	struct fbusi_jpeg_parts *p;
	size_t from, total; /* scan bytes */
	uint32_t rows_per;  /* pixel rows an interval */
	int k;              /* parts cut so far */
	int have_prev;      /* the marker before, not cut at */
	size_t prev_pos;
	uint32_t prev_i;
};

static void
make_cut(struct cut *c, size_t pos, uint32_t i)
{
	struct fbusi_jpeg_parts *p = c->p;

	p->seg_end[c->k] = pos;
	c->k++;
	p->seg[c->k] = pos + 2;
	p->row[c->k] = (i + 1) * c->rows_per;
}

/* The marker ending interval i: part k+1 starts at the marker nearest to
 * k+1 shares of the scan bytes (entropy decoding costs by the byte, and
 * a picture's busy half may hold most of them). */
static void
cut_at(void *arg, size_t pos, uint32_t i)
{
	struct cut *c = arg;

	while (c->k + 1 < c->p->n) {
		size_t target = c->from + c->total * (size_t)(c->k + 1) /
		                                  (size_t)c->p->n;

		if (pos < target)
			break;
		if (c->have_prev && target - c->prev_pos < pos - target) {
			make_cut(c, c->prev_pos, c->prev_i);
			c->have_prev = 0;
			continue; /* this one may serve the next share */
		}
		make_cut(c, pos, i);
		c->have_prev = 0;
		return;
	}
	c->have_prev = 1;
	c->prev_pos = pos;
	c->prev_i = i;
}

void
fbusi_jpeg_split(const uint8_t *j, size_t n, int want,
                 struct fbusi_jpeg_parts *p)
{
	struct hdr h;
	struct cut c;
	uint32_t per_row, mcu_rows, rows_per, total;
	size_t eoi = 0;
	long count;

	memset(p, 0, sizeof *p);
	if (want < 2 || want > FBUSI_JPEG_MAX_PARTS || parse_hdr(j, n, &h) ||
	    !h.ri)
		return;
	per_row = (h.width + h.mcu_w - 1) / h.mcu_w;
	mcu_rows = (h.height + h.mcu_h - 1) / h.mcu_h;
	if (h.ri % per_row)
		return; /* intervals that end mid-row: no clean cut */
	rows_per = h.ri / per_row;
	total = (mcu_rows + rows_per - 1) / rows_per;
	/* first the markers: as many as the header says, then EOI */
	count = each_rst(j, n, h.hdr_len, &eoi, NULL, NULL);
	if (total < 2 || count != (long)total - 1)
		return;
	p->n = (int)(total < (uint32_t)want ? total : (uint32_t)want);
	p->width = h.width;
	p->height = h.height;
	p->sof_y = h.sof_y;
	p->hdr_len = h.hdr_len;
	p->seg[0] = h.hdr_len;
	c = (struct cut){ .p = p, .from = h.hdr_len, .total = eoi - h.hdr_len,
		          .rows_per = rows_per * h.mcu_h };
	(void)each_rst(j, n, h.hdr_len, &eoi, cut_at, &c);
	if (c.k + 1 < p->n && c.have_prev)
		make_cut(&c, c.prev_pos, c.prev_i);
	p->n = c.k + 1;
	if (p->n < 2) {
		p->n = 0;
		return;
	}
	p->seg_end[c.k] = eoi;
	p->row[p->n] = h.height;
}

size_t
fbusi_jpeg_part_size(const struct fbusi_jpeg_parts *p, int k)
{
	return p->hdr_len + (p->seg_end[k] - p->seg[k]) + 2;
}

size_t
fbusi_jpeg_part_build(const uint8_t *j, const struct fbusi_jpeg_parts *p,
                      int k, uint8_t *out)
{
	uint32_t rows = p->row[k + 1] - p->row[k], rst = 0;
	size_t o = p->hdr_len, i = p->seg[k], end = p->seg_end[k];

	memcpy(out, j, p->hdr_len);
	out[p->sof_y] = (uint8_t)(rows >> 8);
	out[p->sof_y + 1] = (uint8_t)rows;
	while (i < end) {
		uint8_t b = j[i++];

		out[o++] = b;
		if (b == 0xFF && i < end && j[i] >= 0xD0 && j[i] <= 0xD7) {
			/* a decoder wants RST0 first in every part */
			out[o++] = (uint8_t)(0xD0 + (rst++ & 7));
			i++;
		} else if (b == 0xFF && i < end && j[i] == 0x00) {
			out[o++] = j[i++];
		}
	}
	out[o++] = 0xFF, out[o++] = 0xD9;
	return o;
}

/* SPDX-License-Identifier: MIT */
/*
 * stream/rxframe.c — a received frame-wire frame into the caller's
 * fbus_frame, for stream/sub.c and nats/sub.c (rxframe.h).
 */
#define _GNU_SOURCE
#include "shrink.h"
#include "stream/rxframe.h"
#include "stream/stream.h"

#include <inttypes.h>
#include <string.h>

int
fbusi_rx_limits(const struct fbus_sub_opts *opts, const struct fbusi_uri *uri,
                struct fbusi_rx_limits *lim, struct fbusi_err *err)
{
	lim->max_bytes = opts->max_frame_bytes ? opts->max_frame_bytes
	                 : uri->max_bytes      ? uri->max_bytes
	                                       : FBUS_MAX_FRAME_BYTES;
	/* a raw frame costs its sender what it costs us; a JPEG does not */
	lim->max_decoded = opts->max_frame_bytes || uri->max_bytes
	                           ? lim->max_bytes
	                           : FBUS_MAX_DECODED_BYTES;
	lim->want_pixfmt = opts->pixfmt ? opts->pixfmt : uri->pixfmt;
	lim->threads = uri->threads;
	lim->fit_w = uri->fit_w ? uri->fit_w : opts->fit_width;
	lim->fit_h = uri->fit_w ? uri->fit_h : opts->fit_height;
	if (!lim->fit_w != !lim->fit_h)
		return fbusi_fail(err, FBUS_EINVAL, "fit_width and fit_height "
		                  "go together");
	if (lim->want_pixfmt && lim->want_pixfmt != FBUS_PIXFMT_ENCODED &&
	    !fbusi_jpeg_can_decode(lim->want_pixfmt))
		return fbusi_fail(err, FBUS_EINVAL,
		                  "format=%s: jpeg decodes only into bgr24, "
		                  "rgb24, bgra, gray8 (or encoded)",
		                  fbus_pixfmt_name(lim->want_pixfmt)
		                          ? fbus_pixfmt_name(lim->want_pixfmt)
		                          : "?");
	return 0;
}

int
fbusi_rx_frame(const struct fbusi_rx_limits *lim, struct fbusi_jpeg **jpeg,
               const struct fbusi_wire_hdr *h, const struct fbus_format *fmt,
               const uint8_t *meta, const uint8_t *payload, uint8_t **dec,
               size_t *dec_cap, const char *where, struct fbus_frame *fr,
               struct fbusi_err *err)
{
	uint32_t want = lim->want_pixfmt ? lim->want_pixfmt : h->pixfmt;
	struct fbus_format f = { .pixfmt = want, .width = h->width,
		                 .height = h->height };
	/* the producer codes at 1/2^coded when every receiver's box allows
	 * it; we decode at 1/2^shift, what our box asks for */
	uint32_t w, hh, coded = h->codec == FBUSI_CODEC_JPEG ? h->stride[0] : 0;
	uint32_t shift = fbusi_fit_shift(lim->fit_w, lim->fit_h, h->width,
	                                 h->height);
	uint32_t jw = fbusi_scaled(h->width, coded);
	uint32_t jh = fbusi_scaled(h->height, coded);
	int rc;

	memset(fr, 0, sizeof *fr);
	fr->seq = h->seq;
	fr->t_mono_ns = h->t_mono_ns;
	fr->t_real_ns = h->t_real_ns;
	fr->meta = meta;
	fr->meta_bytes = h->meta_len;
	if (h->codec == FBUSI_CODEC_RAW) {
		fr->fmt = *fmt;
		fr->data = payload;
		fr->payload_bytes = h->payload_len;
		return 0;
	}
	if (coded > shift)
		return fbusi_fail(err, FBUS_EPROTO,
		                  "%s: jpeg coded at 1/%u, smaller than our "
		                  "?fit= box allows (1/%u)",
		                  where, 1u << coded, 1u << shift);
	if (want == FBUS_PIXFMT_ENCODED) {
		fr->fmt.pixfmt = FBUS_PIXFMT_ENCODED;
		fr->fmt.width = jw;
		fr->fmt.height = jh;
		fr->fmt.size = h->payload_len;
		(void)fbus_format_layout(&fr->fmt);
		fr->data = payload;
		fr->payload_bytes = h->payload_len;
		fr->_priv[0] = (uint64_t)coded << FBUSI_PRIV_SCALE_SHIFT;
		return 0;
	}
	if (!*jpeg) {
		rc = fbusi_jpeg_open(jpeg, 0, err);
		if (rc) {
			fbusi_err_prefix(err, where);
			return rc;
		}
		fbusi_jpeg_set_threads(*jpeg, lim->threads);
	}
	/* ?fit=WxH: what the producer did not scale is scaled inside the
	 * IDCT, which skips most of the work */
	f.width = fbusi_scaled(h->width, shift);
	f.height = fbusi_scaled(h->height, shift);
	if (fbus_format_layout(&f))
		return fbusi_fail(err, FBUS_EPROTO,
		                  "%s: cannot decode a %" PRIu32 "x%" PRIu32
		                  " jpeg into %s",
		                  where, h->width, h->height,
		                  fbus_pixfmt_name(want));
	if (f.size > lim->max_decoded)
		return fbusi_fail(err, FBUS_EMSGSIZE,
		                  "%s: a %" PRIu32 "x%" PRIu32 " jpeg decodes to "
		                  "%" PRIu32 " bytes, over the limit of %" PRIu64
		                  " (raise it with ?max=BYTES)",
		                  where, h->width, h->height, f.size,
		                  lim->max_decoded);
	rc = fbusi_jpeg_size(*jpeg, payload, h->payload_len, &w, &hh, err);
	if (rc == 0 && (w != jw || hh != jh))
		rc = fbusi_fail(err, FBUS_EPROTO,
		                "jpeg is %" PRIu32 "x%" PRIu32 ", header says "
		                "%" PRIu32 "x%" PRIu32 " at 1/%u",
		                w, hh, h->width, h->height, 1u << coded);
	if (rc == 0 && fbusi_stream_grow(dec, dec_cap, f.size))
		rc = fbusi_fail(err, FBUS_ENOMEM, "out of memory");
	if (rc == 0)
		rc = fbusi_jpeg_decode(*jpeg, payload, h->payload_len, &f, *dec,
		                       err);
	if (rc == FBUS_EPROTO || rc == FBUS_ENOTSUP)
		fbusi_err_prefix(err, where);
	if (rc)
		return rc;
	fr->fmt = f;
	fr->data = *dec;
	fr->payload_bytes = f.size;
	fr->_priv[0] = (uint64_t)shift << FBUSI_PRIV_SCALE_SHIFT;
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * stream/rxframe.h — the receiving end of a frame-wire frame, shared by
 * every transport that carries them (unix:, tcp://, nats://): the limits a
 * subscriber applies, and a validated header + payload turned into the
 * caller's fbus_frame (a view of raw pixels, the JPEG as sent, or the
 * JPEG decoded, after the bomb checks).
 */
#ifndef FBUS_STREAM_RXFRAME_H
#define FBUS_STREAM_RXFRAME_H

#include "jpeg_codec.h"
#include "stream/wire.h"

struct fbusi_rx_limits {
	uint64_t max_bytes;   /* a frame as received */
	uint64_t max_decoded; /* a JPEG decoded: refused before allocating */
	uint32_t want_pixfmt; /* jpeg: decode into this; 0 = as sent */
	uint32_t threads;     /* jpeg: decode in up to this many parts */
	uint32_t fit_w, fit_h; /* jpeg: decode scaled down to fill this */
};

/* From the options and the URI; FBUS_EINVAL for a format JPEG cannot be
 * decoded into. */
int fbusi_rx_limits(const struct fbus_sub_opts *opts,
                    const struct fbusi_uri *uri, struct fbusi_rx_limits *lim,
                    struct fbusi_err *err);

/* Fill fr (zeroed first) from a parsed header h, the raw layout fmt, the
 * metadata and the payload.  A JPEG is decoded into *dec (grown as
 * needed) unless encoded is asked, scaled down when fit asks (the scale
 * in fr->_priv[0]: the caller ORs its index in); *jpeg is opened on
 * first use.  Errors name `where`. */
int fbusi_rx_frame(const struct fbusi_rx_limits *lim, struct fbusi_jpeg **jpeg,
                   const struct fbusi_wire_hdr *h, const struct fbus_format *fmt,
                   const uint8_t *meta, const uint8_t *payload, uint8_t **dec,
                   size_t *dec_cap, const char *where, struct fbus_frame *fr,
                   struct fbusi_err *err);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * bt601.h — the one YUV -> RGB conversion of the detector and the overlay:
 * BT.601 limited range, the default of FFmpeg's swscale and of cameras, so
 * the window shows exactly the colours the network was fed.
 */
#ifndef FBUS_BT601_H
#define FBUS_BT601_H

static inline float
bt601_clamp(float v)
{
	return v < 0.0f ? 0.0f : v > 255.0f ? 255.0f : v;
}

/* y, u, v as stored (0..255, u and v centred on 128) -> r, g, b 0..255. */
static inline void
bt601_rgb(float y, float u, float v, float *r, float *g, float *b)
{
	y = (y - 16.0f) * 1.164383f; /* 255 / 219 */
	u -= 128.0f;
	v -= 128.0f;
	*r = bt601_clamp(y + 1.596027f * v);
	*g = bt601_clamp(y - 0.391762f * u - 0.812968f * v);
	*b = bt601_clamp(y + 2.017232f * u);
}

#endif

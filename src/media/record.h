/* SPDX-License-Identifier: MIT */
/*
 * record.h — `framebus infer --record out.mp4`: encode the annotated BGR24
 * pictures with FFmpeg (H.264 through libx264 when the FFmpeg build has it,
 * MPEG-4 part 2 otherwise), timed by the frames' capture times.
 */
#ifndef FBUS_RECORD_H
#define FBUS_RECORD_H

#include <stddef.h>
#include <stdint.h>

struct recorder;

/*
 * Create `path` for pictures of w x h (odd sizes are trimmed by one pixel;
 * later pictures of another size are scaled to it).  On success *codec
 * names the encoder used.  Returns 0, or FBUS_ENOTSUP (built without
 * FFmpeg) / FBUS_EIO with a sentence in err.  Allocates.
 */
int record_open(struct recorder **out, const char *path, int w,
                     int h, const char **codec, char *err, size_t errlen);

/* Encode one picture captured at t_ns (CLOCK_MONOTONIC). Returns 0 or
 * FBUS_EIO with the reason in err. */
int record_frame(struct recorder *r, const uint8_t *bgr, int w,
                      int h, int64_t t_ns, char *err, size_t errlen);

/* Flush, write the trailer, close.  Returns 0 or FBUS_EIO. NULL is a
 * no-op returning 0. */
int record_close(struct recorder *r, char *err, size_t errlen);

#endif /* FBUS_RECORD_H */

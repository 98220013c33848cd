/* SPDX-License-Identifier: MIT */
/* input_int.h — what the input files (input_kind.c, input_ffmpeg.c, input_none.c, convert_sws.c) share. */
#ifndef FBUS_INPUT_INT_H
#define FBUS_INPUT_INT_H

#include <stddef.h>

#if defined(__GNUC__)
#define INPUT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define INPUT_PRINTF(a, b)
#endif

/* A file name with an image extension (.jpg, .png...). */
int input_has_image_ext(const char *name);
/* printf into err (n bytes; err may be NULL). */
void input_errf(char *err, size_t n, const char *fmt, ...) INPUT_PRINTF(3, 4);

#endif

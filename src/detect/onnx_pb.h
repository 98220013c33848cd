/* SPDX-License-Identifier: MIT */
/*
 * onnx_pb.h — just enough of protobuf's wire format to read and rewrite
 * ONNX files without an ONNX or protobuf library
 * (https://protobuf.dev/programming-guides/encoding/).  Every read is
 * bounds-checked: model files come from users.
 */
#ifndef FBUS_ONNX_PB_H
#define FBUS_ONNX_PB_H

#include <stddef.h>
#include <stdint.h>

struct pb {
	const uint8_t *p, *end;
};

int pb_varint(struct pb *b, uint64_t *v);
/* Next field of b: 1 and its number (and value or sub-message), 0 at the
 * end, -1 when malformed. */
int pb_next(struct pb *b, uint32_t *field, uint64_t *val, struct pb *sub);
/* The first sub-message numbered `want` in b, as *out; 1 found, else 0. */
int pb_find(struct pb b, uint32_t want, struct pb *out);
/* A string field into buf (cut to fit, NUL-terminated). */
void pb_string(const struct pb *s, char *buf, size_t n);
/* A string field equals str. */
int pb_streq(const struct pb *s, const char *str);

#endif

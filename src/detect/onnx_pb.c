/* SPDX-License-Identifier: MIT */
/*
 * onnx_pb.c — the protobuf wire-format reader of onnx_pb.h.
 */
#include "onnx_pb.h"

#include <string.h>

int
pb_varint(struct pb *b, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64 && b->p < b->end; shift += 7) {
		uint8_t c = *b->p++;

		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return 0;
	}
	return -1;
}

int
pb_next(struct pb *b, uint32_t *field, uint64_t *val, struct pb *sub)
{
	uint64_t key, len;

	if (b->p >= b->end)
		return 0;
	if (pb_varint(b, &key) || key >> 3 == 0 || key >> 3 > UINT32_MAX)
		return -1;
	*field = (uint32_t)(key >> 3);
	*val = 0;
	sub->p = sub->end = NULL;
	switch (key & 7) {
	case 0:
		return pb_varint(b, val) ? -1 : 1;
	case 1:
		len = 8;
		break;
	case 5:
		len = 4;
		break;
	case 2:
		if (pb_varint(b, &len))
			return -1;
		sub->p = b->p;
		sub->end = b->p + (len <= (uint64_t)(b->end - b->p) ? len : 0);
		break;
	default: /* groups (3, 4) are not in ONNX */
		return -1;
	}
	if (len > (uint64_t)(b->end - b->p))
		return -1;
	b->p += len;
	return 1;
}

int
pb_find(struct pb b, uint32_t want, struct pb *out)
{
	uint32_t f;
	uint64_t v;
	struct pb sub;
	int rc;

	while ((rc = pb_next(&b, &f, &v, &sub)) == 1) {
		if (f == want && sub.p) {
			*out = sub;
			return 1;
		}
	}
	return 0;
}

void
pb_string(const struct pb *s, char *buf, size_t n)
{
	size_t len = (size_t)(s->end - s->p);

	if (len >= n)
		len = n - 1;
	memcpy(buf, s->p, len);
	buf[len] = '\0';
}

int
pb_streq(const struct pb *s, const char *str)
{
	size_t len = strlen(str);

	return (size_t)(s->end - s->p) == len && memcmp(s->p, str, len) == 0;
}

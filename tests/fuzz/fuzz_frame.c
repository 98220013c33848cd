/* SPDX-License-Identifier: MIT */
/*
 * fuzz_frame.c — libFuzzer target for the stream wire parser (stream/wire.c):
 * the input is byte 0 (bits 0-4 pick the subscriber's size limit; bit 7 says
 * "fix up each CRC first", so mutations reach the field checks behind the
 * checksum) followed by what a producer would send — a welcome, then frames — walked the way
 * stream/sub.c walks it.  Besides "no crash, no UB", it checks that whatever
 * parses re-encodes to the same bytes, and that the prefix check never
 * refuses a prefix of a message the full parser accepts.
 *
 * fuzz-sources: stream/wire.c crc32c.c format.c error.c
 */
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "stream/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_prefixes(const uint8_t *msg, size_t len, uint32_t magic)
{
	for (size_t n = 0; n <= len; n++)
		if (fbusi_wire_check_prefix(msg, n, magic, (unsigned)len,
		                            NULL))
			abort();
}

/* A private copy of one message, its CRC recomputed when asked. */
static const uint8_t *
message(const uint8_t *in, size_t len, int fix, uint8_t *buf)
{
	uint32_t crc;

	if (!fix)
		return in;
	memcpy(buf, in, len);
	crc = fbusi_crc32c(0, buf, len - 4);
	for (int i = 0; i < 4; i++)
		buf[len - 4 + i] = (uint8_t)(crc >> (8 * i));
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t buf[FBUSI_WIRE_HDR_LEN];
	struct fbusi_err err;
	uint64_t max;
	size_t off = 1;
	int fix;

	if (size < 1)
		return 0;
	max = (uint64_t)1 << ((data[0] & 0x1f) % 31);
	fix = data[0] & 0x80;

	/* the same bytes as a hello, as the producer would see them */
	if (size >= 1 + FBUSI_WIRE_HELLO_LEN) {
		struct fbusi_wire_hello h;
		uint8_t again[FBUSI_WIRE_HELLO_LEN];
		const uint8_t *m = message(data + 1, sizeof again, fix, buf);
		if (fbusi_wire_hello_parse(m, &h, &err) == 0) {
			fbusi_wire_hello_encode(again, &h);
			if (memcmp(again, m, sizeof again))
				abort();
			check_prefixes(m, sizeof again,
			               FBUSI_WIRE_MAGIC_HELLO);
		}
	}
	/* ... and the next bytes as a hello's fit box */
	if (size >= 1 + FBUSI_WIRE_HELLO_LEN + FBUSI_WIRE_FIT_LEN) {
		uint32_t w, h;
		uint8_t again[FBUSI_WIRE_FIT_LEN];
		const uint8_t *m = data + 1 + FBUSI_WIRE_HELLO_LEN;

		if (fbusi_wire_fit_parse(m, &w, &h, &err) == 0) {
			if (!w || !h || w > FBUSI_WIRE_FIT_MAX ||
			    h > FBUSI_WIRE_FIT_MAX)
				abort();
			fbusi_wire_fit_encode(again, w, h);
			if (memcmp(again, m, sizeof again))
				abort();
		}
	}

	if (size - off < FBUSI_WIRE_WELCOME_LEN)
		return 0;
	{
		struct fbusi_wire_welcome w;
		uint8_t again[FBUSI_WIRE_WELCOME_LEN];
		const uint8_t *m = message(data + off, sizeof again, fix, buf);
		if (fbusi_wire_welcome_parse(m, &w, &err))
			return 0;
		fbusi_wire_welcome_encode(again, &w);
		if (memcmp(again, m, sizeof again))
			abort();
		check_prefixes(m, sizeof again, FBUSI_WIRE_MAGIC_WELCOME);
		off += FBUSI_WIRE_WELCOME_LEN;
	}

	while (size - off >= FBUSI_WIRE_HDR_LEN) {
		struct fbusi_wire_hdr h;
		struct fbus_format f;
		uint8_t again[FBUSI_WIRE_HDR_LEN];
		const uint8_t *m = message(data + off, sizeof again, fix, buf);
		size_t body;

		if (fbusi_wire_hdr_parse(m, max, &h, &f, &err))
			return 0;
		/* what the subscriber relies on before it allocates */
		if (h.payload_len > max || h.meta_len > FBUS_META_MAX ||
		    h.payload_len == 0)
			abort();
		if (h.codec == FBUSI_CODEC_RAW && f.size != h.payload_len)
			abort();
		fbusi_wire_hdr_encode(again, &h);
		if (memcmp(again, m, sizeof again))
			abort();
		check_prefixes(m, sizeof again, FBUSI_WIRE_MAGIC_FRAME);
		off += FBUSI_WIRE_HDR_LEN;
		body = (size_t)h.meta_len + h.payload_len;
		if (size - off < body)
			return 0; /* truncated frame */
		off += body;
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ctl.c — libFuzzer target for the shm control-message parser
 * (shm/proto.c), which sees everything a raw client or a hostile producer can
 * send.  Byte 0 (low 3 bits) is the number of fds "received" with the
 * message; the rest is the datagram.  Besides "no crash, no UB": whatever
 * parses must have the exact size of its type, a known type, and a
 * NUL-terminated text; and the parse must not depend on bytes past n.
 *
 * fuzz-sources: shm/proto.c uri.c format.c error.c
 */
#include <stdlib.h>
#include <string.h>

#include "shm/proto.h"
#include "private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	union fbusi_ctl out, out2;
	struct fbusi_err err;
	uint8_t *copy;
	int nfds, t, t2;

	if (size < 1 || size > FBUSI_CTL_MAX + 64)
		return 0;
	nfds = data[0] & 7;
	data++, size--;
	/* exact-size heap copy so ASan catches any read past the datagram */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	t = fbusi_ctl_parse(copy, (long)size, nfds, &out, &err);
	if (t > 0) {
		if (t < FBUSI_CTL_HELLO || t > FBUSI_CTL_REFUSE)
			abort();
		if (out.h.size != size || out.h.magic != FBUSI_CTL_MAGIC)
			abort();
		if (t == FBUSI_CTL_REFUSE &&
		    (memchr(out.refuse.text, 0, sizeof out.refuse.text) ==
		             NULL ||
		     out.refuse.code >= 0))
			abort();
		/* a parsed message parses again the same way */
		t2 = fbusi_ctl_parse(&out, (long)size, nfds, &out2, &err);
		if (t == FBUSI_CTL_REFUSE || t == FBUSI_CTL_INFO) {
			if (t2 != t)
				abort();
		} else if (t2 != t || memcmp(&out, &out2, size) != 0) {
			abort();
		}
	} else if (t != FBUS_EPROTO && t != FBUS_EPROTONOSUPPORT) {
		abort();
	} else if (strlen(err.msg) == 0) {
		abort(); /* every refusal says why */
	}
	free(copy);
	return 0;
}

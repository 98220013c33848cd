/* SPDX-License-Identifier: MIT */
/*
 * fuzz_peer.c — libFuzzer target for the reader of discover answers
 * (framebus ls --nats): any process on a NATS server can answer, so
 * whatever the bytes, no crash, no read outside them, and what is
 * accepted has a valid subject and bounded fields.
 * fuzz-sources: nats/peer.c uri.c format.c error.c
 */
#include "../../src/lib/nats/peer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fbus_peer_info pi;
	char *j;

	if (size > FBUSI_PEER_JSON_MAX)
		return 0;
	j = malloc(size + 1);
	if (!j)
		return 0;
	memcpy(j, data, size);
	j[size] = '\0';
	if (fbusi_peer_parse(j, size, &pi) == 0) {
		if (!fbusi_nats_subject_ok(pi.subject) ||
		    pi.subject[sizeof pi.subject - 1] ||
		    pi.host[sizeof pi.host - 1] || pi.group[sizeof pi.group - 1] ||
		    pi.fmt.width > 65535 || !(pi.fps >= 0))
			abort();
	}
	free(j);
	return 0;
}

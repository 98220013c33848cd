/* SPDX-License-Identifier: MIT */
/*
 * nats/peer.h — what a framebus publisher or subscriber says of itself on
 * _FBUS.discover (a flat JSON object), read back into fbus_peer_info.  Pure:
 * the answers are other processes' words, so the reader is fuzzed
 * (tests/fuzz/fuzz_peer.c).
 */
#ifndef FBUS_NATS_PEER_H
#define FBUS_NATS_PEER_H

#include "private.h"

#include <stddef.h>

#define FBUSI_PEER_JSON_MAX 2048

/* j: len bytes and a NUL after them.  Only known keys are read, strings
 * without escapes, numbers bounded, subject and group names checked.
 * Returns 0, or -1 for an answer that is not one. */
int fbusi_peer_parse(const char *j, size_t len, struct fbus_peer_info *pi);

#endif

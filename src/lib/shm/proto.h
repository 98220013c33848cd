/* SPDX-License-Identifier: MIT */
/*
 * shm/proto.h — messages on the shm control socket (SOCK_SEQPACKET: one message
 * per datagram, so a message is whole or absent).  Fixed host-order
 * layout (a Unix socket never leaves the host), parsed by fbusi_ctl_parse()
 * which trusts nothing.
 *
 *   sub -> pub  HELLO   {version, mode, depth, policy, block_ms, group}
 *   any -> pub  QUERY   {version}                     (framebus ls)
 *   pub -> sub  WELCOME {version, generation, ring_size, page_size} + fds
 *                       [page, eventfd, ring?]  (ring absent before frame 1)
 *   pub -> sub  RING    {generation, ring_size} + fd [ring]
 *   pub -> any  INFO    {pid, subscribers, frames, fps, format}
 *   pub -> any  REFUSE  {code, text}
 * A subscriber sends nothing after HELLO: anything more is a protocol error.
 */
#ifndef FBUS_CTL_H
#define FBUS_CTL_H

#include <stdint.h>

#include "framebus.h"

struct fbusi_err;

#define FBUSI_CTL_MAGIC 0x31434246u /* "FBC1" */
#define FBUSI_CTL_VERSION 3u /* 2: several leases per latest reader;
                                3: HELLO names the worker group */
#define FBUSI_CTL_MAX 512u

enum fbusi_ctl_type {
	FBUSI_CTL_HELLO = 1,
	FBUSI_CTL_QUERY = 2,
	FBUSI_CTL_WELCOME = 3,
	FBUSI_CTL_RING = 4,
	FBUSI_CTL_INFO = 5,
	FBUSI_CTL_REFUSE = 6,
};

struct fbusi_ctl_hdr {
	uint32_t magic;
	uint16_t type;
	uint16_t size; /* whole message, header included */
};

struct fbusi_ctl_hello {
	struct fbusi_ctl_hdr h;
	uint32_t version;
	uint32_t mode;
	uint32_t depth;
	uint32_t policy;
	uint32_t block_ms;
	uint32_t _reserved;
	/* the worker group, NUL-terminated; "" for none.  Every mode: the
	 * producer queues each frame to one of its members; latest: it
	 * rings one free member's eventfd a frame. */
	char group[32];
};

struct fbusi_ctl_query {
	struct fbusi_ctl_hdr h;
	uint32_t version;
	uint32_t _reserved;
};

struct fbusi_ctl_welcome {
	struct fbusi_ctl_hdr h;
	uint32_t version;
	uint32_t generation; /* 0: no ring yet, a RING message follows */
	uint64_t ring_size;
	uint64_t page_size;
};

struct fbusi_ctl_ring {
	struct fbusi_ctl_hdr h;
	uint32_t generation;
	uint32_t _reserved;
	uint64_t ring_size;
};

struct fbusi_ctl_info {
	struct fbusi_ctl_hdr h;
	int32_t pid;
	uint32_t subscribers;
	uint64_t frames;
	double fps;
	struct fbus_format fmt;
};

struct fbusi_ctl_refuse {
	struct fbusi_ctl_hdr h;
	int32_t code; /* FBUS_E* */
	char text[196];
};

union fbusi_ctl {
	struct fbusi_ctl_hdr h;
	struct fbusi_ctl_hello hello;
	struct fbusi_ctl_query query;
	struct fbusi_ctl_welcome welcome;
	struct fbusi_ctl_ring ring;
	struct fbusi_ctl_info info;
	struct fbusi_ctl_refuse refuse;
};

_Static_assert(sizeof(union fbusi_ctl) <= FBUSI_CTL_MAX, "ctl size");
_Static_assert(sizeof(struct fbusi_ctl_hello) == 64, "ctl ABI");
_Static_assert(sizeof(struct fbusi_ctl_welcome) == 32, "ctl ABI");

/* Zero the sizeof-`type` bytes at msg and fill in the header; msg may be
 * the concrete struct of that type, not a whole union. */
void fbusi_ctl_init(union fbusi_ctl *msg, int type);

/*
 * Validate n bytes received with nfds fds: magic, a known type, exact size,
 * the number of fds that type carries, and every field in range (text
 * NUL-terminated).  Copies into *out.  Returns the type, or FBUS_EPROTO /
 * FBUS_EPROTONOSUPPORT with a reason in err (FBUSI_ERRLEN bytes).
 */
int fbusi_ctl_parse(const void *buf, long n, int nfds, union fbusi_ctl *out,
                    struct fbusi_err *err);

#endif

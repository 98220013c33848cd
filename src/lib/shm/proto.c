/* SPDX-License-Identifier: MIT */
/*
 * shm/proto.c — build and validate shm control messages (see proto.h).  The parser
 * is a pure function so the fuzzer (tests/fuzz/fuzz_ctl.c) can drive it.
 */
#include "shm/proto.h"
#include "private.h"
#include "shm/layout.h"

#include <string.h>

static const struct {
	uint16_t size;
	int8_t min_fds, max_fds;
} spec[] = {
	[FBUSI_CTL_HELLO] = { sizeof(struct fbusi_ctl_hello), 0, 0 },
	[FBUSI_CTL_QUERY] = { sizeof(struct fbusi_ctl_query), 0, 0 },
	[FBUSI_CTL_WELCOME] = { sizeof(struct fbusi_ctl_welcome), 2, 3 },
	[FBUSI_CTL_RING] = { sizeof(struct fbusi_ctl_ring), 1, 1 },
	[FBUSI_CTL_INFO] = { sizeof(struct fbusi_ctl_info), 0, 0 },
	[FBUSI_CTL_REFUSE] = { sizeof(struct fbusi_ctl_refuse), 0, 0 },
};

void
fbusi_ctl_init(union fbusi_ctl *m, int type)
{
	/* callers pass the concrete struct: clear only its bytes */
	memset(m, 0, spec[type].size);
	m->h.magic = FBUSI_CTL_MAGIC;
	m->h.type = (uint16_t)type;
	m->h.size = spec[type].size;
}

int
fbusi_ctl_parse(const void *buf, long n, int nfds, union fbusi_ctl *out,
                struct fbusi_err *err)
{
	struct fbusi_ctl_hdr h;
	int t;

	if (n < (long)sizeof h)
		return fbusi_fail(err, FBUS_EPROTO,
		                  "control message truncated (%ld bytes)", n);
	memcpy(&h, buf, sizeof h);
	if (h.magic != FBUSI_CTL_MAGIC)
		return fbusi_fail(err, FBUS_EPROTO,
		                  "control message with bad magic 0x%08x",
		                  h.magic);
	t = h.type;
	if (t < FBUSI_CTL_HELLO || t > FBUSI_CTL_REFUSE)
		return fbusi_fail(err, FBUS_EPROTO,
		                  "unknown control message type %d", t);
	if (h.size != spec[t].size || n != (long)spec[t].size)
		return fbusi_fail(err, FBUS_EPROTO,
		                  "control message type %d: %ld bytes, "
		                  "expected %u",
		                  t, n, spec[t].size);
	if (nfds < spec[t].min_fds || nfds > spec[t].max_fds)
		return fbusi_fail(err, FBUS_EPROTO,
		                  "control message type %d carried %d fds", t,
		                  nfds);
	memset(out, 0, sizeof *out);
	memcpy(out, buf, (size_t)n);

	switch (t) {
	case FBUSI_CTL_HELLO:
		if (out->hello.version != FBUSI_CTL_VERSION)
			return fbusi_fail(err, FBUS_EPROTONOSUPPORT,
			                  "subscriber speaks protocol %u, we "
			                  "speak %u",
			                  out->hello.version, FBUSI_CTL_VERSION);
		if (out->hello.mode > FBUS_MODE_EVERY ||
		    out->hello.policy > FBUS_FULL_BLOCK ||
		    out->hello.depth == 0 ||
		    out->hello.depth > FBUSI_MAX_DEPTH ||
		    (out->hello.mode == FBUS_MODE_LATEST &&
		     out->hello.depth > FBUS_MAX_HELD) ||
		    out->hello.block_ms > 600000 ||
		    (out->hello.group[0] &&
		     (memchr(out->hello.group, '\0', sizeof out->hello.group) ==
		              NULL ||
		      !fbusi_group_name_valid(out->hello.group))))
			return fbusi_fail(err, FBUS_EPROTO,
			                  "HELLO with out-of-range fields");
		break;
	case FBUSI_CTL_QUERY:
		if (out->query.version != FBUSI_CTL_VERSION)
			return fbusi_fail(err, FBUS_EPROTONOSUPPORT,
			                  "query for protocol %u",
			                  out->query.version);
		break;
	case FBUSI_CTL_WELCOME:
		if (out->welcome.version != FBUSI_CTL_VERSION)
			return fbusi_fail(err, FBUS_EPROTONOSUPPORT,
			                  "producer speaks protocol %u, we "
			                  "speak %u",
			                  out->welcome.version,
			                  FBUSI_CTL_VERSION);
		if ((out->welcome.generation == 0) != (nfds == 2) ||
		    out->welcome.page_size < FBUSI_PAGE_ENTRIES_OFF ||
		    out->welcome.page_size > (1u << 20) ||
		    (out->welcome.generation &&
		     out->welcome.ring_size < FBUSI_RING_SLOTS_OFF))
			return fbusi_fail(err, FBUS_EPROTO,
			                  "WELCOME with inconsistent fields");
		break;
	case FBUSI_CTL_RING:
		if (out->ring.generation == 0 ||
		    out->ring.ring_size < FBUSI_RING_SLOTS_OFF)
			return fbusi_fail(err, FBUS_EPROTO,
			                  "RING with inconsistent fields");
		break;
	case FBUSI_CTL_INFO:
		out->info.fmt.pixfmt = out->info.fmt.pixfmt < _FBUS_PIXFMT_COUNT
		                               ? out->info.fmt.pixfmt
		                               : FBUS_PIXFMT_NONE;
		break;
	case FBUSI_CTL_REFUSE:
		out->refuse.text[sizeof out->refuse.text - 1] = '\0';
		if (out->refuse.code >= 0)
			out->refuse.code = FBUS_EPROTO;
		break;
	}
	return t;
}

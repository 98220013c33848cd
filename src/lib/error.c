/* SPDX-License-Identifier: MIT */
/*
 * error.c — fbus_strerror(), the per-handle error text helpers, version and
 * clock helpers.  Nothing here prints: text goes into the handle's buffer.
 */
#define _GNU_SOURCE
#include "private.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

uint32_t
fbus_version(void)
{
	return (FBUS_VERSION_MAJOR << 16) | (FBUS_VERSION_MINOR << 8) |
	       FBUS_VERSION_PATCH;
}

const char *
fbus_strerror(int err)
{
	switch (err) {
	case FBUS_OK: return "success";
	case FBUS_EINVAL: return "invalid argument, URI or format";
	case FBUS_ENOMEM: return "out of memory";
	case FBUS_EAGAIN: return "nothing available now, try again";
	case FBUS_ETIMEDOUT: return "timed out waiting for a frame";
	case FBUS_ENOENT: return "no producer on this bus";
	case FBUS_EADDRINUSE: return "the bus already has a producer";
	case FBUS_EACCES: return "permission denied (peer uid not allowed)";
	case FBUS_EPROTO: return "protocol error: malformed message from peer";
	case FBUS_EPROTONOSUPPORT: return "peer speaks another protocol version";
	case FBUS_EDISCONNECTED: return "producer disconnected";
	case FBUS_EMSGSIZE: return "frame or message larger than allowed";
	case FBUS_ENOTSUP: return "not supported here";
	case FBUS_EBUSY: return "busy: no free slot or a loan is outstanding";
	case FBUS_ENAMETOOLONG: return "name or path too long";
	case FBUS_EIO: return "input/output error";
	case FBUS_ECONNREFUSED: return "connection refused: nobody listens";
	case -EPIPE: return "broken pipe: peer closed the connection";
	case -ECONNRESET: return "connection reset by peer";
	case -EBADMSG: return "bad message (checksum mismatch)";
	case -EMFILE: return "too many open files";
	case -ENOSPC: return "no space left (subscriber limit reached)";
	case -EHOSTUNREACH: return "host unreachable";
	case -EADDRNOTAVAIL: return "address not available";
	default: return err < 0 ? "system error" : "unknown error";
	}
}

void
fbusi_errorf(char *buf, const char *fmt, ...)
{
	va_list ap;

	if (!buf)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, FBUSI_ERRLEN, fmt, ap);
	va_end(ap);
}

int
fbusi_fail(char *buf, int code, const char *fmt, ...)
{
	va_list ap;

	if (buf) {
		va_start(ap, fmt);
		vsnprintf(buf, FBUSI_ERRLEN, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int64_t
now_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
fbus_now_mono_ns(void)
{
	return now_ns(CLOCK_MONOTONIC);
}

int64_t
fbus_now_real_ns(void)
{
	return now_ns(CLOCK_REALTIME);
}

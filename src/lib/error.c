/* SPDX-License-Identifier: MIT */
/*
 * error.c — fbus_strerror(), the one error formatter, the thread-local
 * detail of a failed open, and the log hook.  Nothing here prints: text
 * goes into the caller's buffer or the user's log callback.
 */
#define _GNU_SOURCE
#include "private.h"

#include <stdio.h>
#include <string.h>

/* Codes whose meaning in framebus is narrower than the OS's words for
 * them.  Any other errno keeps the OS's own text (EPERM, EROFS, EMFILE...). */
static const char *
framebus_text(int err)
{
	switch (err) {
	case FBUS_OK: return "success";
	case FBUS_EINVAL: return "invalid argument, URI or format";
	case FBUS_EAGAIN: return "nothing available now, try again";
	case FBUS_ETIMEDOUT: return "timed out";
	case FBUS_ENOENT: return "no producer on this bus";
	case FBUS_EADDRINUSE: return "the bus already has a producer";
	case FBUS_EACCES: return "permission denied";
	case FBUS_EPROTO: return "protocol error: malformed message from peer";
	case FBUS_EPROTONOSUPPORT: return "peer speaks another protocol version";
	case FBUS_EDISCONNECTED: return "producer disconnected";
	case FBUS_EMSGSIZE: return "frame or message larger than allowed";
	case FBUS_ENOTSUP: return "not supported here";
	case FBUS_EBUSY: return "busy: no free slot, a loan outstanding, or all frames held";
	case FBUS_ECONNREFUSED: return "connection refused: nobody listens";
	case -EPIPE: return "broken pipe: peer closed the connection";
	case -EBADMSG: return "bad message (checksum mismatch)";
	case -ENOSPC: return "no room (subscriber or slot limit reached)";
	default: return NULL;
	}
}

const char *
fbus_strerror(int err)
{
	const char *t = framebus_text(err);

	if (t)
		return t;
	if (err > 0)
		return "unknown error (not a negative FBUS_E* code)";
	/* glibc's strerrordesc_np: a static string, thread-safe, NULL for
	 * an unknown errno (strerror would format into a shared buffer). */
	t = strerrordesc_np(-err);
	return t ? t : "unknown system error";
}

int
fbusi_vfail(struct fbusi_err *err, int code, const char *fmt, va_list ap)
{
	if (err)
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	return code;
}

int
fbusi_fail(struct fbusi_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fbusi_vfail(err, code, fmt, ap);
	va_end(ap);
	return code;
}

void
fbusi_err_prefix(struct fbusi_err *err, const char *prefix)
{
	struct fbusi_err tmp = *err;

	fbusi_fail(err, 0, "%s: %s", prefix, tmp.msg);
}

bool
fbusi_connect_error_is_final(int rc)
{
	switch (rc) {
	case FBUS_EACCES:
	case -EPERM:
	case FBUS_EPROTO:
	case FBUS_EPROTONOSUPPORT:
	case FBUS_EINVAL:
	case FBUS_ENAMETOOLONG:
	case FBUS_ENOTSUP:
	case FBUS_ENOMEM:
		return true;
	default:
		return false;
	}
}

static _Thread_local struct fbusi_err open_err;

const char *
fbus_open_error(void)
{
	return open_err.msg;
}

void
fbusi_clear_open_error(void)
{
	open_err.msg[0] = '\0';
}

void
fbusi_set_open_error(const char *uri, int rc, const struct fbusi_err *detail)
{
	const char *d = detail && detail->msg[0] ? detail->msg
	                                         : fbus_strerror(rc);
	size_t n = uri ? strlen(uri) : 0;
	char shown[FBUSI_ERRLEN];
	const char *at, *colon, *slash;

	/* nats://user:password@host: the password stays out of messages */
	if (uri && (colon = strstr(uri, "://")) && (at = strchr(colon, '@')) &&
	    (!(slash = strchr(colon + 3, '/')) || at < slash) &&
	    (colon = memchr(colon + 3, ':', (size_t)(at - colon - 3)))) {
		snprintf(shown, sizeof shown, "%.*s:***%s",
		         (int)(colon - uri), uri, at);
		uri = shown;
		n = 0; /* the detail never starts with the redacted form */
	}

	/* a detail that names the URI already (a stream's "where") is not
	 * given it twice */
	if (uri && n && strncmp(d, uri, n) == 0 && d[n] == ':')
		fbusi_fail(&open_err, rc, "%s", d);
	else
		fbusi_fail(&open_err, rc, "%s: %s", uri ? uri : "?", d);
}

void
fbusi_log(const struct fbus_pub_opts *opts, int level, const char *fmt, ...)
{
	struct fbusi_err msg;
	va_list ap;

	if (!opts->log)
		return;
	va_start(ap, fmt);
	fbusi_vfail(&msg, 0, fmt, ap);
	va_end(ap);
	opts->log(opts->log_user, level, msg.msg);
}

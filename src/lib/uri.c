/* SPDX-License-Identifier: MIT */
/*
 * uri.c — parse a bus URI once into struct fbusi_uri; a scheme table in
 * pub.c/sub.c then picks the transport.  Grammar:
 *   shm:NAME              NAME = [A-Za-z0-9._-]{1,63}, not "." or ".."
 *   unix:/path[?opts]     path must fit sun_path
 *   tcp://HOST:PORT[?opts]  HOST may be [v6]
 *   opts: codec=raw|jpeg, quality=N, format=PIXFMT, max=BYTES, bind=ADDR
 *   nats://[USER:PASS@|TOKEN@]HOST[:PORT][,HOST[:PORT]...]/SUBJECT[?opts]
 *     opts as tcp:// (no bind=), and creds=FILE, tls=1, tls_ca=FILE,
 *     tls_cert=FILE, tls_key=FILE, replicas=N
 *   every scheme: hold=N (subscriber); shm: only hold= and dir=
 */
#define _GNU_SOURCE
#include "private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-')
		return -1;
	v = strtoull(s, &end, 10);
	if (*end)
		return -1;
	*out = v;
	return 0;
}

/* Options each scheme takes; any other is an error naming it. */
static bool
option_allowed(int scheme, const char *key)
{
	if (strcmp(key, "hold") == 0 || strcmp(key, "group") == 0)
		return true;
	if (scheme == FBUSI_SCHEME_SHM)
		return strcmp(key, "dir") == 0 || strcmp(key, "wake") == 0;
	if (strcmp(key, "dir") == 0 || strcmp(key, "wake") == 0)
		return false;
	if (strcmp(key, "bind") == 0)
		return scheme == FBUSI_SCHEME_TCP;
	if (!strcmp(key, "creds") || !strcmp(key, "tls") ||
	    !strcmp(key, "tls_ca") || !strcmp(key, "tls_cert") ||
	    !strcmp(key, "tls_key") || !strcmp(key, "replicas"))
		return scheme == FBUSI_SCHEME_NATS;
	return true;
}

static int
parse_query(char *q, struct fbusi_uri *u, struct fbusi_err *err)
{
	char *save = NULL;

	for (char *kv = strtok_r(q, "&", &save); kv;
	     kv = strtok_r(NULL, "&", &save)) {
		char *val = strchr(kv, '=');
		uint64_t n;

		if (!val) {
			fbusi_fail(err, 0, "option '%s' has no value", kv);
			return FBUS_EINVAL;
		}
		*val++ = '\0';
		if (!option_allowed(u->scheme, kv)) {
			fbusi_fail(err, 0, "%s URIs take no option '%s'",
			           u->scheme == FBUSI_SCHEME_SHM    ? "shm:"
			           : u->scheme == FBUSI_SCHEME_UNIX ? "unix:"
			           : u->scheme == FBUSI_SCHEME_NATS ? "nats://"
			                                            : "tcp://",
			           kv);
			return FBUS_EINVAL;
		}
		if (strcmp(kv, "codec") == 0) {
			if (strcmp(val, "raw") == 0)
				u->codec = FBUSI_CODEC_RAW;
			else if (strcmp(val, "jpeg") == 0)
				u->codec = FBUSI_CODEC_JPEG;
			else {
				fbusi_fail(err, 0, "unknown codec '%s' (raw, jpeg)", val);
				return FBUS_EINVAL;
			}
		} else if (strcmp(kv, "quality") == 0) {
			if (parse_u64(val, &n) || n < 1 || n > 100) {
				fbusi_fail(err, 0, "quality must be 1..100, not '%s'", val);
				return FBUS_EINVAL;
			}
			u->quality = (int)n;
		} else if (strcmp(kv, "format") == 0) {
			u->pixfmt = fbus_pixfmt_parse(val);
			if (u->pixfmt == FBUS_PIXFMT_NONE) {
				fbusi_fail(err, 0, "unknown format '%s'", val);
				return FBUS_EINVAL;
			}
		} else if (strcmp(kv, "max") == 0) {
			if (parse_u64(val, &n) || n == 0 ||
			    n > FBUS_MAX_FRAME_BYTES) {
				fbusi_fail(err, 0, "max must be 1..%u bytes",
				         FBUS_MAX_FRAME_BYTES);
				return FBUS_EINVAL;
			}
			u->max_bytes = n;
		} else if (strcmp(kv, "hold") == 0) {
			if (parse_u64(val, &n) || n == 0 || n > FBUS_MAX_HELD) {
				fbusi_fail(err, 0, "hold must be 1..%u frames",
				           FBUS_MAX_HELD);
				return FBUS_EINVAL;
			}
			u->hold = (uint32_t)n;
		} else if (strcmp(kv, "dir") == 0) {
			/* absolute and plain: the directory is a trust anchor,
			 * so no relative lookups and no ".." games */
			if (val[0] != '/' || strstr(val, "/../") ||
			    strcmp(val + strlen(val) - (strlen(val) >= 3 ? 3 : 0),
			           "/..") == 0) {
				fbusi_fail(err, 0,
				           "dir must be an absolute path without "
				           "'..', not '%s'",
				           val);
				return FBUS_EINVAL;
			}
			if (strlen(val) >= sizeof u->dir) {
				fbusi_fail(err, 0, "dir longer than %zu bytes",
				           sizeof u->dir - 1);
				return FBUS_ENAMETOOLONG;
			}
			strcpy(u->dir, val);
		} else if (strcmp(kv, "threads") == 0) {
			if (parse_u64(val, &n) || n < 1 || n > 4) {
				fbusi_fail(err, 0, "threads must be 1..4, not "
				           "'%s'", val);
				return FBUS_EINVAL;
			}
			u->threads = (uint32_t)n;
		} else if (strcmp(kv, "fit") == 0) {
			char *x = strchr(val, 'x');
			uint64_t fw, fh;

			if (!x || (*x = '\0', parse_u64(val, &fw)) ||
			    parse_u64(x + 1, &fh) || fw < 1 || fh < 1 ||
			    fw > 65535 || fh > 65535) {
				if (x)
					*x = 'x';
				fbusi_fail(err, 0, "fit must be WxH (1..65535 "
				           "each), not '%s'", val);
				return FBUS_EINVAL;
			}
			u->fit_w = (uint32_t)fw;
			u->fit_h = (uint32_t)fh;
		} else if (strcmp(kv, "wake") == 0) {
			if (strcmp(val, "sleep") && strcmp(val, "predict")) {
				fbusi_fail(err, 0, "wake must be sleep or "
				           "predict, not '%s'", val);
				return FBUS_EINVAL;
			}
			u->wake = val[0] == 's' ? 1 : 2;
		} else if (strcmp(kv, "group") == 0) {
			if (!fbusi_group_name_valid(val)) {
				fbusi_fail(err, 0, "group must be 1..31 of "
				           "[A-Za-z0-9._-], not '%s'", val);
				return FBUS_EINVAL;
			}
			strcpy(u->group, val);
		} else if (!strcmp(kv, "creds") || !strcmp(kv, "tls_ca") ||
		           !strcmp(kv, "tls_cert") || !strcmp(kv, "tls_key")) {
			char *dst = !strcmp(kv, "creds")    ? u->creds
			            : !strcmp(kv, "tls_ca") ? u->tls_ca
			            : !strcmp(kv, "tls_cert") ? u->tls_cert
			                                      : u->tls_key;

			if (!*val || strlen(val) >= sizeof u->creds) {
				fbusi_fail(err, 0, "%s must be a file name of "
				           "1..%zu bytes", kv, sizeof u->creds - 1);
				return FBUS_EINVAL;
			}
			strcpy(dst, val);
		} else if (strcmp(kv, "tls") == 0) {
			if (strcmp(val, "0") && strcmp(val, "1")) {
				fbusi_fail(err, 0, "tls must be 0 or 1, not '%s'",
				           val);
				return FBUS_EINVAL;
			}
			u->tls = val[0] == '1';
		} else if (strcmp(kv, "replicas") == 0) {
			if (parse_u64(val, &n) || n < 1 || n > 5) {
				fbusi_fail(err, 0, "replicas must be 1..5, not '%s'",
				           val);
				return FBUS_EINVAL;
			}
			u->replicas = (uint32_t)n;
		} else if (strcmp(kv, "bind") == 0) {
			if (strlen(val) >= sizeof u->bind) {
				fbusi_fail(err, 0, "bind address too long");
				return FBUS_ENAMETOOLONG;
			}
			strcpy(u->bind, val);
		} else {
			fbusi_fail(err, 0, "unknown option '%s'", kv);
			return FBUS_EINVAL;
		}
	}
	return 0;
}

bool
fbusi_nats_subject_ok(const char *s)
{
	size_t tok = 0, n = 0;

	for (; *s; s++, n++) {
		if (*s == '.') {
			if (!tok)
				return false;
			tok = 0;
			continue;
		}
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
		tok++;
	}
	return tok > 0 && n <= 200;
}

bool
fbusi_group_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 31)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		            "0123456789._-", s[i]))
			return false;
	return true;
}

static int
valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > FBUSI_NAME_MAX || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' ||
		      *s == '-'))
			return 0;
	return 1;
}

static int
parse_hostport(char *hp, struct fbusi_uri *u, struct fbusi_err *err)
{
	char *port;
	uint64_t n;

	if (*hp == '[') {
		char *close = strchr(hp, ']');
		if (!close || close[1] != ':') {
			fbusi_fail(err, 0, "bad [v6]:port in tcp URI");
			return FBUS_EINVAL;
		}
		*close = '\0';
		port = close + 2;
		hp++;
	} else {
		port = strrchr(hp, ':');
		if (!port) {
			fbusi_fail(err, 0, "tcp URI needs HOST:PORT");
			return FBUS_EINVAL;
		}
		*port++ = '\0';
	}
	if (!*hp || strlen(hp) >= sizeof u->host) {
		fbusi_fail(err, 0, "tcp URI: empty or too long host");
		return FBUS_EINVAL;
	}
	if (parse_u64(port, &n) || n > 65535) {
		fbusi_fail(err, 0, "tcp URI: bad port '%s'", port);
		return FBUS_EINVAL;
	}
	strcpy(u->host, hp);
	snprintf(u->port, sizeof u->port, "%u", (unsigned)n);
	return 0;
}

/* nats://[userinfo@]host[:port][,host[:port]...]/subject */
static int
parse_nats(char *rest, struct fbusi_uri *u, struct fbusi_err *err)
{
	char *slash = strchr(rest, '/'), *at, *save = NULL;
	size_t off = 0;

	if (!slash || !slash[1]) {
		fbusi_fail(err, 0, "nats URI needs a subject: "
		           "nats://HOST:PORT/SUBJECT");
		return FBUS_EINVAL;
	}
	*slash = '\0';
	if (!fbusi_nats_subject_ok(slash + 1)) {
		fbusi_fail(err, 0, "nats subject '%s': one camera per subject, "
		           "tokens of [A-Za-z0-9_-] joined by '.', no "
		           "wildcards ('*', '>')", slash + 1);
		return FBUS_EINVAL;
	}
	strcpy(u->subject, slash + 1);
	at = strrchr(rest, '@');
	if (at) {
		*at = '\0';
		if (!*rest || strlen(rest) >= sizeof u->userinfo) {
			fbusi_fail(err, 0, "nats URI: empty or too long "
			           "user:password@ or token@");
			return FBUS_EINVAL;
		}
		strcpy(u->userinfo, rest);
		rest = at + 1;
	}
	for (char *h = strtok_r(rest, ",", &save); h;
	     h = strtok_r(NULL, ",", &save)) {
		char *port = h[0] == '[' ? strstr(h, "]:") : strrchr(h, ':');
		uint64_t n = 4222;
		int len;

		if (port) {
			port += h[0] == '[' ? 1 : 0;
			*port++ = '\0';
			if (parse_u64(port, &n) || n == 0 || n > 65535) {
				fbusi_fail(err, 0, "nats URI: bad port '%s'",
				           port);
				return FBUS_EINVAL;
			}
		}
		if (!*h) {
			fbusi_fail(err, 0, "nats URI: empty host");
			return FBUS_EINVAL;
		}
		len = snprintf(u->servers + off, sizeof u->servers - off,
		               "%s%s:%u", off ? "," : "", h, (unsigned)n);
		if (len < 0 || (size_t)len >= sizeof u->servers - off) {
			fbusi_fail(err, 0, "nats URI: server list too long");
			return FBUS_ENAMETOOLONG;
		}
		off += (size_t)len;
	}
	if (!off) {
		fbusi_fail(err, 0, "nats URI needs HOST[:PORT]");
		return FBUS_EINVAL;
	}
	return 0;
}

int
fbusi_uri_parse(const char *text, struct fbusi_uri *u,
                struct fbusi_err *err)
{
	char buf[1024];
	char *q;
	int rc;

	memset(u, 0, sizeof *u);
	if (!text || !*text) {
		fbusi_fail(err, 0, "empty URI");
		return FBUS_EINVAL;
	}
	if (strlen(text) >= sizeof buf) {
		fbusi_fail(err, 0, "URI too long");
		return FBUS_ENAMETOOLONG;
	}
	strcpy(buf, text);
	q = strchr(buf, '?');
	if (q)
		*q++ = '\0';

	if (strncmp(buf, "shm:", 4) == 0) {
		const char *name = buf + 4;
		if (strncmp(name, "//", 2) == 0)
			name += 2;
		if (!valid_name(name)) {
			fbusi_fail(err, 0, "bad shm bus name '%s': use 1-%d of "
			         "[A-Za-z0-9._-]",
			         name, FBUSI_NAME_MAX);
			return FBUS_EINVAL;
		}
		u->scheme = FBUSI_SCHEME_SHM;
		strcpy(u->name, name);
		return q ? parse_query(q, u, err) : 0;
	}
	if (strncmp(buf, "unix:", 5) == 0) {
		const char *path = buf + 5;
		if (strncmp(path, "//", 2) == 0)
			path += 2;
		if (!*path) {
			fbusi_fail(err, 0, "unix: URI needs a socket path");
			return FBUS_EINVAL;
		}
		if (strlen(path) >= sizeof u->path) {
			fbusi_fail(err, 0, "unix socket path longer than %zu bytes",
			         sizeof u->path - 1);
			return FBUS_ENAMETOOLONG;
		}
		u->scheme = FBUSI_SCHEME_UNIX;
		strcpy(u->path, path);
	} else if (strncmp(buf, "tcp://", 6) == 0) {
		u->scheme = FBUSI_SCHEME_TCP;
		rc = parse_hostport(buf + 6, u, err);
		if (rc)
			return rc;
	} else if (strncmp(buf, "nats://", 7) == 0) {
		u->scheme = FBUSI_SCHEME_NATS;
		rc = parse_nats(buf + 7, u, err);
		if (rc)
			return rc;
	} else {
		fbusi_fail(err, 0, "unknown transport in '%s' (shm:NAME, unix:/path, "
		         "tcp://HOST:PORT, nats://HOST:PORT/SUBJECT)",
		         text);
		return FBUS_EINVAL;
	}
	return q ? parse_query(q, u, err) : 0;
}

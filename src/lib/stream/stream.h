/* SPDX-License-Identifier: MIT */
/*
 * stream/stream.h — what the stream transport files share: socket set-up
 * for unix: and tcp://, receive buffers and a time helper.  The byte layout
 * lives in stream/wire.h.
 */
#ifndef FBUS_STREAM_INT_H
#define FBUS_STREAM_INT_H

#include "private.h"

#include <sys/types.h>

/* A peer that started a message must finish it within this much time plus
 * one second per MiB of payload: a slowloris peer is dropped, a slow but
 * honest link is not. */
#define FBUSI_STREAM_STALL_MS 3000
/* A subscriber must send its hello within this time after connecting. */
#define FBUSI_STREAM_HELLO_MS 2000
/* connections in their hello at once; the oldest goes for a newcomer */
#define FBUSI_STREAM_MAX_HELLO 16
/* ... and how long one may stay silent before a newcomer takes its place */
#define FBUSI_STREAM_HELLO_GRACE_MS 50
/* A closing publisher sends what it committed for at most this long. */
#define FBUSI_STREAM_CLOSE_MS 1000
/* Reconnect attempts are spaced by this much. */
#define FBUSI_STREAM_RETRY_MS 100

/* Listening socket for uri (non-blocking, close-on-exec).  For unix: see
 * fbusi_unix_listen(); the file is 0600, or 0666 with open_mode (an
 * allow-list is checked per peer). */
int fbusi_stream_listen(const struct fbusi_uri *uri, bool open_mode, int *fd,
                        dev_t *dev, ino_t *ino, struct fbusi_err *err);

/* Connect to uri within timeout_ms; returns a non-blocking, close-on-exec
 * socket in *fd, or FBUS_ENOENT / FBUS_ECONNREFUSED / FBUS_ETIMEDOUT. */
int fbusi_stream_connect(const struct fbusi_uri *uri, int timeout_ms, int *fd,
                         struct fbusi_err *err);

/* TCP_NODELAY and keep-alive on a tcp socket; nothing for unix. */
void fbusi_stream_tune(int fd, int scheme);

/* "unix:/path" / "tcp://host:port" for messages. */
void fbusi_stream_describe(const struct fbusi_uri *uri, char *buf, size_t n);

int64_t fbusi_stream_now_ms(void);

/* Make *buf (64-byte aligned, contents not kept) hold need bytes. */
int fbusi_stream_grow(uint8_t **buf, size_t *cap, size_t need);

#endif

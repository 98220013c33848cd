/* SPDX-License-Identifier: MIT */
/* runtime.h — runtime directory, socket paths and control-socket client helpers. */
#ifndef FBUS_RUNTIME_H
#define FBUS_RUNTIME_H

#include <poll.h>
#include <stddef.h>

#include "ctl.h"

/* "<runtime dir>/<name><suffix>" into buf. */
int fbusi_runtime_path(const char *name, const char *suffix, char *buf,
                       size_t n, char *err);
/* Create the runtime dir 0700 if needed and check we own it. */
int fbusi_runtime_dir_ensure(char *err);
/* Connect a SEQPACKET socket to path: FBUS_ENOENT / FBUS_ECONNREFUSED when
 * no producer is there. */
int fbusi_unix_connect(const char *path, int *fd, char *err);
/* Receive and validate one control message within timeout_ms; returns its
 * type.  On error no fd is left open. */
int fbusi_ctl_recv(int fd, union fbusi_ctl *msg, int *fds, int *nfds,
                   int timeout_ms, char *err);

#endif

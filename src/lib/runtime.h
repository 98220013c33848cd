/* SPDX-License-Identifier: MIT */
/* runtime.h — the runtime directory of shm: buses and the paths in it. */
#ifndef FBUS_RUNTIME_H
#define FBUS_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>


struct fbusi_uri;
struct fbusi_err;

/* "<dir>/<name><suffix>" into buf, dir being the URI's dir= or the
 * per-uid runtime directory. */
int fbusi_bus_path(const struct fbusi_uri *u, const char *suffix, char *buf,
                   size_t n, struct fbusi_err *err);
/* Producer: make the bus directory usable.  The runtime dir is created
 * 0700 and must be ours.  A dir= directory is created (0700, or 0755 when
 * shared with other uids) or must be ours or root's and not writable by
 * others unless sticky.  shared without dir= is an error saying so. */
int fbusi_bus_dir_ensure(const struct fbusi_uri *u, bool shared,
                         struct fbusi_err *err);

/* Subscriber: connect to the socket of u's bus within timeout_ms, after
 * checking its directory and before believing anything it says: the
 * producer must run as us, root or the directory's owner (trust.h). */
int fbusi_bus_connect(const struct fbusi_uri *u, int timeout_ms, int *fd,
                      struct fbusi_err *err);

/* fbus_runtime_sweep() over the directory of u's bus. */
int fbusi_bus_sweep(const struct fbusi_uri *u);

#endif

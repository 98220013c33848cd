/* SPDX-License-Identifier: MIT */
/* runtime.h — the runtime directory of shm: buses and the paths in it. */
#ifndef FBUS_RUNTIME_H
#define FBUS_RUNTIME_H

#include <stddef.h>


/* "<runtime dir>/<name><suffix>" into buf. */
int fbusi_runtime_path(const char *name, const char *suffix, char *buf,
                       size_t n, struct fbusi_err *err);
/* Create the runtime dir 0700 if needed and check we own it. */
int fbusi_runtime_dir_ensure(struct fbusi_err *err);
#endif

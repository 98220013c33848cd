/* SPDX-License-Identifier: MIT */
/*
 * shm/group.h — worker groups on an shm: bus (?group=NAME): each frame is
 * taken by at most one member.  The members of a group share a small file
 * in the per-uid runtime dir (only our uid can touch it) holding the seq of the newest frame a member took and a robust,
 * process-shared mutex.  (A dir= bus's directory may be another uid's:
 * the file is in our own runtime dir then, named with the dir's hash.)  The member holding the mutex is the one that
 * waits for the next frame (on the ring, as any subscriber does) and takes
 * it; unlocking hands the wait to the next free member.  So the producer
 * wakes one member a frame, no herd, and nothing changes on its side; a
 * member killed while holding the mutex hands it on at once (the kernel
 * wakes the next waiter with EOWNERDEAD).
 */
#ifndef FBUS_SHM_GROUP_H
#define FBUS_SHM_GROUP_H

#include "private.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define FBUSI_GROUP_MAGIC 0x31504746u /* "FGP1" */
#define FBUSI_GROUP_NAME_MAX 31

struct fbusi_group_page {
	uint32_t magic;
	uint32_t size;            /* sizeof(struct fbusi_group_page) */
	uint32_t mode;            /* FBUS_MODE_*: the first member's */
	uint32_t _pad;
	pthread_mutex_t take;     /* robust, process-shared */
	_Atomic uint64_t claimed; /* newest seq a member took; 0: none */
	_Atomic uint64_t frames;  /* taken by the group */
	_Atomic uint64_t skipped; /* replaced before any member took them */
};

struct fbusi_group {
	int fd; /* -1: not a member */
	struct fbusi_group_page *pg;
	char name[FBUSI_GROUP_NAME_MAX + 1];
	uint64_t dropped_seen; /* every: our page's drops already counted */
	char path[160];
};

/* Join group `name` of u's bus as a `mode` member: create or open its
 * file (flock-guarded against a last member removing it meanwhile), map
 * it, check it.  A group is of one mode: the latest members share a claim,
 * the every members a queue the producer fills. */
int fbusi_group_join(struct fbusi_group *g, const struct fbusi_uri *u,
                     const char *name, uint32_t mode, struct fbusi_err *err);
/* Leave; the last member removes the file. */
void fbusi_group_leave(struct fbusi_group *g);
/* Become the member that waits for the next frame, before deadline (ns,
 * CLOCK_MONOTONIC; INT64_MAX: forever).  0 or FBUS_ETIMEDOUT. */
int fbusi_group_lock(struct fbusi_group *g, int64_t deadline);
/* The groups of u's bus (fbus_bus_groups). */
int fbusi_group_list(const struct fbusi_uri *u, struct fbus_group_info *out,
                     size_t n, struct fbusi_err *err);
void fbusi_group_unlock(struct fbusi_group *g);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * shm/predict.h — when the next frame is due (FBUS_SUB_PREDICT): the
 * producer's commit times, learned frame by frame, give a period and its
 * jitter; while they are steady, a window around the next commit in which
 * the subscriber spins instead of sleeping.  Pure arithmetic, no clock.
 */
#ifndef FBUS_SHM_PREDICT_H
#define FBUS_SHM_PREDICT_H

#include <stdbool.h>
#include <stdint.h>

struct fbusi_predict {
	int64_t last_commit; /* commit time of the newest frame seen */
	uint64_t last_seq;
	int64_t period;      /* smoothed commit interval, ns */
	int64_t dev;         /* smoothed |interval - period|, ns */
	uint32_t n;          /* intervals learned */
};

/* A frame taken: its seq and its commit time (the producer's word). */
void fbusi_predict_learn(struct fbusi_predict *p, uint64_t seq,
                         int64_t t_commit);

/* The window [*start, *end) around the next commit after `now`, or false
 * while the period is not known or not steady.  The window is at most 1%
 * of the period, so spinning in it costs at most 1% of a CPU. */
bool fbusi_predict_window(const struct fbusi_predict *p, int64_t now,
                          int64_t *start, int64_t *end);

#endif

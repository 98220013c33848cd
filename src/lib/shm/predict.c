/* SPDX-License-Identifier: MIT */
/*
 * shm/predict.c — the frame-period learner behind FBUS_SUB_PREDICT (see
 * predict.h).
 */
#include "shm/predict.h"

/* intervals before a window is offered */
#define LEARN_MIN 8
/* shortest period worth predicting: faster sources keep a reader busy,
 * and the adaptive spin (shm/spin.h) serves them */
#define PERIOD_MIN_NS 200000
/* jitter within a window: this many deviations each side, and a floor
 * for the timer's own error */
#define DEV_SPAN 4
#define HALF_MIN_NS 30000

void
fbusi_predict_learn(struct fbusi_predict *p, uint64_t seq, int64_t t_commit)
{
	if (p->n == 0 && p->last_seq == 0) {
		p->last_seq = seq, p->last_commit = t_commit;
		return;
	}
	if (seq <= p->last_seq || t_commit <= p->last_commit ||
	    seq - p->last_seq > 1000) {
		/* a restarted producer, a clock we cannot read: start over */
		*p = (struct fbusi_predict){ .last_seq = seq,
			                     .last_commit = t_commit };
		return;
	}
	{
		int64_t iv = (t_commit - p->last_commit) /
		             (int64_t)(seq - p->last_seq);
		int64_t d;

		if (p->n == 0 || iv > p->period * 2 || iv * 2 < p->period) {
			/* first, or the rate changed: learn it afresh */
			p->period = iv;
			p->dev = iv / 16;
			p->n = 0;
		} else {
			d = iv > p->period ? iv - p->period : p->period - iv;
			/* 1/8 steps: a rate change is followed within a
			 * second at 10 Hz, one late frame barely moves it */
			p->period += (iv - p->period) / 8;
			p->dev += (d - p->dev) / 8;
		}
		if (p->n < UINT32_MAX)
			p->n++;
	}
	p->last_seq = seq;
	p->last_commit = t_commit;
}

bool
fbusi_predict_window(const struct fbusi_predict *p, int64_t now,
                     int64_t *start, int64_t *end)
{
	int64_t half, next, k, x;

	if (p->n < LEARN_MIN || p->period < PERIOD_MIN_NS ||
	    p->dev * 8 > p->period)
		return false; /* unknown, too fast, or not steady */
	half = p->dev * DEV_SPAN + HALF_MIN_NS;
	if (half > p->period / 200)
		half = p->period / 200; /* 1% of the period in all */
	/* the first commit due whose window has not closed yet (latest
	 * mode may have skipped some) */
	x = now - half - p->last_commit;
	k = x >= 0 ? x / p->period + 1 : 1;
	next = p->last_commit + k * p->period;
	*start = next - half;
	*end = next + half;
	return true;
}

/* SPDX-License-Identifier: MIT */
/*
 * shm/spin.h — adaptive spinning before a futex sleep.  When the other
 * side answered within microseconds last time, it likely will again: a
 * short spin then beats a sleep (tens of µs to wake on a VM), and since the
 * spinner never said it waits, the other side skips its FUTEX_WAKE too.
 * Only after short waits, so a reader paced by a camera still sleeps at
 * once and costs no CPU.
 */
#ifndef FBUS_SHM_SPIN_H
#define FBUS_SHM_SPIN_H

#include <stdbool.h>
#include <stdint.h>
#include <sched.h>

#include "framebus.h"
#include "os.h"

/* spin at most this long ... */
#define FBUSI_SPIN_NS 20000
/* ... and only when the previous wait was shorter than this */
#define FBUSI_SPIN_ADAPT_NS 100000

static inline void
fbusi_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

/* Spinning pays only while every party has a CPU of its own: the
 * producer and its `readers` subscribers.  More, and a spinner takes the
 * CPU the one it waits for needs (measured: 2 block-policy readers on 2
 * cores went from 94k to 83k frames/s with spinning, 16 from 25k to 13k). */
static inline bool
fbusi_spin_useful(uint32_t readers)
{
	return (long)readers + 1 <= fbusi_online_cpus();
}

/* Spin until ready(arg) or CLOCK_MONOTONIC reaches end.  True: ready. */
static inline bool
fbusi_spin_until(bool (*ready)(void *), void *arg, int64_t end)
{
	for (;;) {
		for (int i = 0; i < 32; i++) {
			if (ready(arg))
				return true;
			fbusi_cpu_relax();
		}
		if (fbus_now_mono_ns() >= end)
			return false;
		/* the one we wait for may be queued behind us on this CPU
		 * (yielding every 4th or 16th time instead changed nothing
		 * but the back-to-back p99: 9 µs against 5) */
		sched_yield();
	}
}

/* ... for at most FBUSI_SPIN_NS */
static inline bool
fbusi_spin(bool (*ready)(void *), void *arg)
{
	return fbusi_spin_until(ready, arg, fbus_now_mono_ns() + FBUSI_SPIN_NS);
}

#endif

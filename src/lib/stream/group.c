/* SPDX-License-Identifier: MIT */
/*
 * stream/group.c — worker groups on unix: and tcp:// buses, the producer's
 * side.  A group's frames wait in one queue of its own (latest: the newest
 * frame only; every: a bounded FIFO with the full policy of the first
 * member); a member that is free says so with a credit, and the frame goes
 * to one member that asked.  So no frame is sent twice, and a member busy
 * with a frame is never sent another behind it while another member idles.
 * All under pub->lock.
 */
#include "stream/pub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
member_of(const struct peer *peer, const struct sgroup *g)
{
	return peer->grp == g && peer->state == PEER_READY && !peer->dead;
}

static uint32_t
members(struct stream_pub *p, const struct sgroup *g)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < p->npeers; i++)
		n += member_of(p->peers[i], g);
	return n;
}

static struct sgroup *
find_group(struct stream_pub *p, const char *name)
{
	for (uint32_t i = 0; i < p->ngroups; i++)
		if (!strcmp(p->groups[i]->name, name))
			return p->groups[i];
	return NULL;
}

int
fbusi_sgroup_join(struct stream_pub *p, struct peer *peer, const char *name,
                  struct fbusi_err *why)
{
	struct sgroup *g = find_group(p, name), **grown;

	if (g && g->mode != peer->h.mode && members(p, g))
		return fbusi_fail(why, FBUS_EINVAL,
		                  "group '%s' is a %s-mode group; a %s-mode "
		                  "subscriber cannot join it",
		                  name,
		                  g->mode == FBUS_MODE_EVERY ? "every" : "latest",
		                  peer->h.mode == FBUS_MODE_EVERY ? "every"
		                                                   : "latest");
	if (g && !members(p, g) && (!g->qlen || g->mode != peer->h.mode)) {
		/* unmanned, and nothing a member of its mode could take:
		 * the newcomer sets it up again */
		for (uint32_t k = 0; k < g->qlen; k++)
			fbusi_stream_blob_unref(p, g->q[(g->qhead + k) % g->qcap]);
		free(g->q);
		g->q = NULL;
	} else if (g) {
		peer->grp = g;
		return 0;
	}
	if (!g) {
		grown = realloc(p->groups, (p->ngroups + 1) * sizeof *grown);
		if (!grown || !(g = calloc(1, sizeof *g)))
			return fbusi_fail(why, FBUS_ENOMEM, "out of memory");
		p->groups = grown;
		p->groups[p->ngroups++] = g;
		snprintf(g->name, sizeof g->name, "%s", name);
	}
	g->mode = peer->h.mode;
	g->policy = peer->h.full_policy;
	g->block_ms = peer->h.block_ms ? peer->h.block_ms : 1000;
	g->qcap = g->mode == FBUS_MODE_EVERY ? peer->h.depth : 1;
	g->qhead = g->qlen = 0;
	g->strikes = 0;
	g->demoted = false;
	g->q = calloc(g->qcap, sizeof *g->q);
	if (!g->q)
		return fbusi_fail(why, FBUS_ENOMEM, "out of memory");
	peer->grp = g;
	return 0;
}

void
fbusi_sgroup_feed(struct stream_pub *p, struct sgroup *g)
{
	bool gave = false;

	while (g->qlen) {
		struct peer *to = NULL;
		struct blob *b;

		for (uint32_t k = 0; k < p->npeers && !to; k++) {
			struct peer *m = p->peers[(g->turn + k) % p->npeers];

			/* a credit comes only from a member with nothing
			 * on its way, so its queue has room.  Closing, no
			 * frame comes after these: they go to any member
			 * with room, so that what was committed is still
			 * delivered after the close, as on every bus. */
			if (member_of(m, g) && (m->credit || p->stop) &&
			    m->qlen < m->qcap)
				to = m;
		}
		if (!to)
			break;
		g->turn++;
		/* every: the oldest first (in order); latest: the one */
		b = g->q[g->qhead];
		g->qhead = (g->qhead + 1) % g->qcap;
		g->qlen--;
		to->q[(to->qhead + to->qlen) % to->qcap] = b; /* its ref */
		to->qlen++;
		to->grp_skips += g->untold;
		g->untold = 0;
		if (to->credit)
			to->credit--;
		g->frames++;
		gave = true;
	}
	if (gave)
		pthread_cond_broadcast(&p->room);
}

/* Room in every group g, or false to drop: the block policy waits for a
 * member to take a frame (FBUS_BLOCK_STRIKES timeouts in a row: the
 * group stopped; it drops until its queue has emptied). */
static bool
room_in(struct stream_pub *p, const char *name, bool *woke)
{
	struct sgroup *g = find_group(p, name);
	struct timespec until;
	uint32_t ms;
	bool timed_out = false;

	if (g->qlen == 0)
		g->demoted = false;
	if (g->qlen < g->qcap)
		return true;
	if (g->policy != FBUS_FULL_BLOCK || g->demoted)
		return false;
	ms = g->block_ms < p->opts.max_block_ms ? g->block_ms
	                                        : p->opts.max_block_ms;
	if (!*woke) {
		fbusi_stream_wake_io(p);
		*woke = true;
	}
	fbusi_stream_deadline_ts(&until, (int)ms);
	for (;;) {
		if (pthread_cond_timedwait(&p->room, &p->lock, &until) ==
		    ETIMEDOUT)
			timed_out = true;
		/* groups live until close; its members may all be gone */
		if (p->stop || !members(p, g))
			return false;
		if (g->qlen < g->qcap || timed_out)
			break;
	}
	if (g->qlen < g->qcap) {
		g->strikes = 0;
		return true;
	}
	if (++g->strikes >= FBUS_BLOCK_STRIKES) {
		g->strikes = 0;
		g->demoted = true;
		fbusi_fail(&p->peer_err, 0,
		           "%s: worker group '%s' took nothing for %u blocks "
		           "in a row; its full queue drops frames until it has "
		           "emptied it",
		           p->where, g->name, FBUS_BLOCK_STRIKES);
		p->peer_err_new = true;
		p->demoted++;
	}
	return false;
}

void
fbusi_sgroup_commit(struct stream_pub *p, struct blob *b, bool *woke)
{
	for (uint32_t i = 0; i < p->ngroups; i++) {
		struct sgroup *g = p->groups[i];
		char name[FBUSI_WIRE_GROUP_LEN];

		if (!members(p, g))
			continue;
		if (g->mode == FBUS_MODE_LATEST && g->qlen) {
			/* nobody took the pending one: the group skipped it */
			fbusi_stream_blob_unref(p, g->q[g->qhead]);
			g->qlen = 0;
			g->skipped++;
			g->untold++;
		}
		/* room_in may sleep: the group array may grow meanwhile,
		 * so find the group again by name */
		memcpy(name, g->name, sizeof name);
		if (!room_in(p, name, woke)) {
			g = find_group(p, name);
			g->skipped++;
			g->untold++;
			p->dropped++;
			continue;
		}
		g = find_group(p, name);
		g->q[(g->qhead + g->qlen) % g->qcap] = b;
		g->qlen++;
		b->refs++;
		fbusi_sgroup_feed(p, g);
	}
}

void
fbusi_sgroup_leave(struct stream_pub *p, struct peer *peer)
{
	struct sgroup *g = peer->grp;

	if (!g)
		return;
	peer->grp = NULL;
	/* never begun: they go to another member, the oldest first (at the
	 * front of the group's queue, in their order) */
	while (peer->qlen) {
		uint32_t last = (peer->qhead + peer->qlen - 1) % peer->qcap;
		struct blob *b = peer->q[last];

		peer->qlen--;
		if (g->mode == FBUS_MODE_EVERY && g->qlen < g->qcap) {
			g->qhead = (g->qhead + g->qcap - 1) % g->qcap;
			g->q[g->qhead] = b;
			g->qlen++;
			g->frames--;
		} else {
			fbusi_stream_blob_unref(p, b);
		}
	}
	fbusi_sgroup_feed(p, g);
}

bool
fbusi_sgroup_pending(struct stream_pub *p)
{
	for (uint32_t i = 0; i < p->ngroups; i++)
		if (p->stop)
			fbusi_sgroup_feed(p, p->groups[i]);
	for (uint32_t i = 0; i < p->ngroups; i++)
		if (p->groups[i]->qlen && members(p, p->groups[i]))
			return true;
	return false;
}

void
fbusi_sgroup_free_all(struct stream_pub *p)
{
	for (uint32_t i = 0; i < p->ngroups; i++) {
		struct sgroup *g = p->groups[i];

		for (uint32_t k = 0; k < g->qlen; k++)
			fbusi_stream_blob_unref(p, g->q[(g->qhead + k) % g->qcap]);
		free(g->q);
		free(g);
	}
	free(p->groups);
	p->groups = NULL;
	p->ngroups = 0;
}

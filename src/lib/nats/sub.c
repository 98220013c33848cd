/* SPDX-License-Identifier: MIT */
/*
 * nats/sub.c — the subscriber side of nats:// buses.
 *
 * Broadcast (no group): a core NATS subscription on the camera's subject;
 * the client's thread hands each message to a small queue here (latest
 * mode: the newest one replaces the one waiting; every mode: up to depth,
 * the rest dropped and counted), so the client's own pending queue stays
 * empty and a slow subscriber never slows the publisher.  Messages are
 * kept, not copied: a raw frame is read where the client received it.
 *
 * Worker group (latest mode): a pull consumer named after the group on the
 * JetStream memory stream FBUS_<subject> that keeps only the newest frame
 * (conn.h).  A member fetches one frame when it is free (after open, when
 * next() finds nothing, on releasing its last frame), so each frame goes
 * to one member that is free, the newest nobody took; frames the stream
 * replaced before anyone fetched them are the group's skips: stream
 * sequence minus consumer sequence, from each message's metadata.
 *
 * A thread per subscriber fetches (groups) and asks the publisher's hello
 * whenever nothing came for FBUSI_NATS_IDLE_PROBE_MS: "no responders"
 * means it is gone (killed included), seen within a few hundred ms.  Its
 * goodbye on close arrives after its last frame.  A publisher whose seq
 * starts again is a new one.  The eventfd is readable while next(0) has
 * something to say.
 */
#define _GNU_SOURCE
#include "nats/conn.h"
#include "stream/rxframe.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* LIVE: the publisher took our lease, frames are ours; GONE: none there
 * (or it went); REFUSED: it is at its subscriber limit.  Frames that
 * arrive while not LIVE are dropped and a hello is sent at once. */
enum pub_state { PUB_UNKNOWN, PUB_LIVE, PUB_GONE, PUB_REFUSED };

struct held {
	natsMsg *m;
	uint8_t *dec; /* jpeg: the frame decoded */
	size_t dec_cap;
	uint64_t cookie;
	uint8_t meta[FBUS_META_MAX];
};

struct nats_sub {
	struct fbus_sub base;
	struct fbusi_uri uri;
	struct fbus_sub_opts opts;
	char where[200];
	struct fbusi_rx_limits lim;
	struct fbusi_jpeg *jpeg;

	natsConnection *nc;
	natsSubscription *sub; /* broadcast: core; group: pull */
	natsSubscription *discover, *byesub;
	jsCtx *js;
	char group[32];
	char stream[300], consumer[80];

	int efd;
	bool efd_set;
	pthread_t thr;
	bool thr_started;

	pthread_mutex_t lock; /* everything below; never held across I/O */
	pthread_cond_t cond;
	bool stop;
	natsMsg **q; /* ring */
	uint32_t qcap, qhead, qlen;
	bool bye;           /* the publisher said goodbye after the queue */
	bool bye_fetch;     /* group: what the stream still has comes first */
	uint64_t fetch_gen, bye_gen; /* a fetch begun after the goodbye */
	uint64_t bye_seq;   /* the goodbye's last seq (0: not said) */
	uint64_t fetched_seq; /* group: the seq of the last frame fetched */
	int state;          /* enum pub_state */
	bool report_gone;   /* EDISCONNECTED owed to the caller */
	int broken;         /* sticky error without FBUS_SUB_RECONNECT */
	bool conn_closed;   /* the client gave up on every server */
	int64_t last_rx_ms; /* a frame or a hello answer */
	/* on_msg calls so far: the client counts a message delivered
	 * before it calls on_msg, so more delivered than this is one on
	 * its way to the queue (atomic: read without the lock) */
	atomic_int_fast64_t handed;
	bool want;          /* group: free, fetch one */
	bool fd_used;       /* group: the caller polls our fd, so a free
	                       member fetches before next() asks */
	bool probe_now;     /* a frame came while not LIVE: ask at once */
	uint64_t gone_gen;  /* counts goodbyes and gones: a probe answered
	                       across one is the old publisher's */
	bool opening;       /* open's hello in flight: frames wait here */
	uint64_t id;        /* our lease at the publisher */
	uint64_t next_seq;  /* from the welcome: frames before it are old */
	bool have_seq;
	uint64_t last_seq;
	bool seq_reset; /* next frame starts a publisher's run afresh */
	bool ever_live;
	char gone_why[200];

	/* group skips: stream seq - consumer seq, at the first fetch and now */
	bool grp_base_set;
	uint64_t grp_base, grp_last;

	struct held *held;
	uint32_t nheld;
	uint64_t cookies;
	struct fbus_sub_stats st;
};

static struct nats_sub *
to_sub(struct fbus_sub *b)
{
	return (struct nats_sub *)b;
}

static int64_t
now_ms(void)
{
	return fbus_now_mono_ns() / 1000000;
}

/* Under the lock: readable while next(0) would return something. */
static void
update_efd(struct nats_sub *s)
{
	/* a group's gone publisher is news once the stream is drained */
	bool want = s->qlen || ((s->bye || s->report_gone) && !s->bye_fetch) ||
	            s->broken || s->conn_closed;
	uint64_t v = 1;

	if (want && !s->efd_set) {
		if (write(s->efd, &v, sizeof v) == sizeof v)
			s->efd_set = true;
	} else if (!want && s->efd_set) {
		if (read(s->efd, &v, sizeof v) == sizeof v)
			s->efd_set = false;
	}
}

/* Under the lock: the oldest queued frame goes, unread. */
static void
drop_oldest(struct nats_sub *s)
{
	fbusi_nats.natsMsg_Destroy(s->q[s->qhead]);
	s->qhead = (s->qhead + 1) % s->qcap;
	s->qlen--;
}

/* Under the lock: a message from the publisher (a frame or its bye). */
static void
push(struct nats_sub *s, natsMsg *m)
{
	s->last_rx_ms = now_ms();
	/* a publisher seen gone still delivers what it sent before, until
	 * we have said it is gone (its goodbye can overtake its frames) */
	if (s->state != PUB_LIVE && !s->opening && !s->report_gone &&
	    !s->bye_fetch) {
		/* not admitted (yet): a new publisher, or a full one */
		fbusi_nats.natsMsg_Destroy(m);
		s->probe_now = true;
		pthread_cond_broadcast(&s->cond);
		return;
	}
	if (s->qlen == s->qcap) {
		if (s->opts.mode == FBUS_MODE_LATEST) {
			/* replaced: the seq gap counts it as skipped */
			drop_oldest(s);
		} else {
			/* every mode, queue full: dropped (the seq gap
			 * counts it) */
			fbusi_nats.natsMsg_Destroy(m);
			return;
		}
	}
	s->q[(s->qhead + s->qlen) % s->qcap] = m;
	s->qlen++;
	update_efd(s);
}

/* libnats' thread: a frame of a broadcast subscription */
static void
on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *cl)
{
	struct nats_sub *s = cl;

	(void)nc;
	(void)sub;
	pthread_mutex_lock(&s->lock);
	push(s, m);
	atomic_fetch_add(&s->handed, 1);
	pthread_mutex_unlock(&s->lock);
}

/* libnats' thread: the publisher's goodbye, after its last frame */
static void
on_bye(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *cl)
{
	struct nats_sub *s = cl;
	uint64_t last = fbusi_nats_bye_seq(
		(const uint8_t *)fbusi_nats.natsMsg_GetData(m),
		fbusi_nats.natsMsg_GetDataLength(m));

	(void)nc;
	(void)sub;
	fbusi_nats.natsMsg_Destroy(m);
	pthread_mutex_lock(&s->lock);
	if (s->state == PUB_LIVE || s->report_gone) {
		s->gone_gen++;
		s->bye = true;
		s->bye_seq = last;
		s->bye_fetch = s->group[0] != 0;
		s->bye_gen = ++s->fetch_gen;
		update_efd(s);
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
}

static void
on_discover(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *cl)
{
	struct nats_sub *s = cl;
	char rest[400];

	(void)sub;
	pthread_mutex_lock(&s->lock);
	snprintf(rest, sizeof rest,
	         ",\"group\":\"%s\",\"mode\":\"%s\",\"frames\":%" PRIu64
	         ",\"skipped\":%" PRIu64 ",\"dropped\":%" PRIu64
	         ",\"group_skipped\":%" PRIu64 "}",
	         s->group, s->opts.mode == FBUS_MODE_EVERY ? "every" : "latest",
	         s->st.frames, s->st.skipped, s->st.dropped, s->st.group_skipped);
	pthread_mutex_unlock(&s->lock);
	fbusi_nats_answer(nc, m, "subscriber", s->uri.subject, rest);
}

/* Under the lock: the publisher is gone (probe or goodbye). */
static void
mark_gone(struct nats_sub *s, const char *why)
{
	if (s->state == PUB_GONE)
		return;
	s->state = PUB_GONE;
	s->gone_gen++;
	s->report_gone = true; /* seq starts afresh once it is said */
	snprintf(s->gone_why, sizeof s->gone_why, "%s", why);
	/* a group: what it published before may still be in the stream
	 * (it stops answering hellos before it says goodbye) */
	if (s->group[0]) {
		s->bye_fetch = true;
		s->bye_seq = 0;
		s->bye_gen = ++s->fetch_gen;
	}
	update_efd(s);
}

/* Under the lock: the publisher answered, or sent a frame. */
static void
mark_live(struct nats_sub *s)
{
	if (s->state == PUB_LIVE)
		return;
	if (s->ever_live)
		s->st.reconnects++;
	s->ever_live = true;
	s->state = PUB_LIVE;
	s->report_gone = false;
}

/* Group: one frame for a free member, or nothing within wait_ms.
 * Returns whether one came. */
static bool
fetch_one(struct nats_sub *s, int wait_ms)
{
	natsMsgList list = { 0 };
	jsErrCode jerr = 0;
	natsStatus st;

	st = fbusi_nats.natsSubscription_Fetch(&list, s->sub, 1, wait_ms,
	                                       &jerr);
	if (st != NATS_OK || list.Count < 1)
		return false;
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < list.Count; i++) {
		jsMsgMetaData *md = NULL;
		struct fbusi_wire_hdr h;

		/* only a hint for the goodbye (deliver checks it all); the
		 * stream gives newer frames only, or a new publisher's */
		if (fbusi_nats.natsMsg_GetDataLength(list.Msgs[i]) >=
		            FBUSI_WIRE_HDR_LEN &&
		    fbusi_wire_hdr_parse((const uint8_t *)fbusi_nats.natsMsg_GetData(
		                                 list.Msgs[i]),
		                         UINT64_MAX, &h, NULL, NULL) == 0)
			s->fetched_seq = h.seq;

		if (fbusi_nats.natsMsg_GetMetaData(&md, list.Msgs[i]) ==
		            NATS_OK &&
		    md) {
			uint64_t lag = md->Sequence.Stream - md->Sequence.Consumer;

			if (!s->grp_base_set) {
				s->grp_base = s->grp_last = lag;
				s->grp_base_set = true;
			}
			if (lag > s->grp_last)
				s->grp_last = lag;
			fbusi_nats.jsMsgMetaData_Destroy(md);
		}
		push(s, list.Msgs[i]);
		list.Msgs[i] = NULL;
	}
	s->want = false;
	pthread_mutex_unlock(&s->lock);
	fbusi_nats.natsMsgList_Destroy(&list);
	return true;
}

static void *
watch_main(void *arg)
{
	struct nats_sub *s = arg;
	int64_t last_probe = 0;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		int64_t now = now_ms();
		bool fetch, probe;

		if (!s->conn_closed &&
		    fbusi_nats.natsConnection_Status(s->nc) ==
		            NATS_CONN_STATUS_CLOSED) {
			/* the client gave up on every server */
			s->conn_closed = true;
			update_efd(s);
		}
		fetch = s->group[0] && (s->want || s->bye_fetch) &&
		        s->qlen == 0 && (s->state == PUB_LIVE || s->bye_fetch) &&
		        !s->broken && !s->conn_closed;
		probe = !s->broken && !s->conn_closed &&
		             (s->probe_now ||
		              now - last_probe >= FBUSI_NATS_RENEW_MS ||
		              (now - s->last_rx_ms >= FBUSI_NATS_IDLE_PROBE_MS &&
		               now - last_probe >= FBUSI_NATS_IDLE_PROBE_MS));

		if (probe) {
			uint64_t next, gen = s->gone_gen;
			struct fbusi_err e;
			int rc;

			s->probe_now = false;
			pthread_mutex_unlock(&s->lock);
			rc = fbusi_nats_hello(s->nc, s->uri.subject,
			                      FBUSI_NATS_PROBE_WAIT_MS, '+', s->id,
			                      &next, &e);
			pthread_mutex_lock(&s->lock);
			last_probe = now_ms();
			if (gen != s->gone_gen) {
				/* a closing publisher may have answered just
				 * before its goodbye: ask again */
				s->probe_now = true;
			} else if (rc == 0) {
				if (s->state != PUB_LIVE) {
					s->next_seq = next;
					s->seq_reset = true;
				}
				mark_live(s);
				s->last_rx_ms = last_probe;
			} else if (rc == FBUS_ENOENT && s->state == PUB_LIVE &&
			           !s->bye) {
				mark_gone(s, "the publisher is gone (no answer "
				             "on its hello subject)");
			} else if (rc == -ENOSPC && s->state != PUB_REFUSED) {
				s->state = PUB_REFUSED;
			} else if (rc == FBUS_ETIMEDOUT) {
				s->probe_now = true;
			}
			continue;
		}
		if (fetch) {
			uint64_t gen = ++s->fetch_gen;
			bool got;

			pthread_mutex_unlock(&s->lock);
			got = fetch_one(s, 100);
			pthread_mutex_lock(&s->lock);
			/* drained: nothing more, or the last frame (the stream
			 * may have stored it after the goodbye came) */
			if (s->bye_fetch && gen > s->bye_gen &&
			    (!got || s->fetched_seq >= s->bye_seq)) {
				s->bye_fetch = false;
				update_efd(s);
			}
			continue;
		}
		{
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 20 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&s->cond, &s->lock, &ts);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Turn the message at the head of the queue into the caller's frame;
 * 1: a frame published before our hello was answered, not ours. */
static int
deliver(struct nats_sub *s, natsMsg *m, struct held *hd, struct fbus_frame *fr)
{
	const uint8_t *d = (const uint8_t *)fbusi_nats.natsMsg_GetData(m);
	int len = fbusi_nats.natsMsg_GetDataLength(m);
	struct fbusi_wire_hdr h;
	struct fbus_format fmt;
	int rc;

	if (len < FBUSI_WIRE_HDR_LEN)
		return fbusi_fail(&s->base.err, FBUS_EPROTO, "%s: a %d byte "
		                  "message is no frame", s->where, len);
	rc = fbusi_wire_hdr_parse(d, s->lim.max_bytes, &h, &fmt, &s->base.err);
	if (rc) {
		fbusi_err_prefix(&s->base.err, s->where);
		return rc;
	}
	if ((uint64_t)len != FBUSI_WIRE_HDR_LEN + (uint64_t)h.meta_len +
	                             h.payload_len)
		return fbusi_fail(&s->base.err, FBUS_EPROTO, "%s: frame of %d "
		                  "bytes, its header says %u + %u + %u", s->where,
		                  len, FBUSI_WIRE_HDR_LEN, h.meta_len,
		                  h.payload_len);
	pthread_mutex_lock(&s->lock);
	rc = !s->have_seq && h.seq < s->next_seq;
	pthread_mutex_unlock(&s->lock);
	if (rc)
		return 1;
	/* the metadata copied: the caller may keep it aligned as it likes */
	memcpy(hd->meta, d + FBUSI_WIRE_HDR_LEN, h.meta_len);
	rc = fbusi_rx_frame(&s->lim, &s->jpeg, &h, &fmt, hd->meta,
	                    d + FBUSI_WIRE_HDR_LEN + h.meta_len, &hd->dec,
	                    &hd->dec_cap, s->where, fr, &s->base.err);
	if (rc)
		return rc;

	/* the count of what we missed */
	pthread_mutex_lock(&s->lock);
	if (s->seq_reset || !s->have_seq || h.seq <= s->last_seq) {
		/* a publisher's first frame for us: what it published
		 * before we (re)joined is not ours */
		if (s->have_seq && !s->seq_reset && h.seq <= s->last_seq)
			mark_live(s); /* restarted behind our back */
		if (s->next_seq && h.seq > s->next_seq && !s->group[0])
			fr->skipped = h.seq - s->next_seq;
		s->seq_reset = false;
		s->have_seq = true;
	} else if (!s->group[0] && h.seq > s->last_seq + 1) {
		uint64_t gap = h.seq - s->last_seq - 1;

		if (s->opts.mode == FBUS_MODE_EVERY)
			s->st.dropped += gap;
		else
			fr->skipped = gap;
	}
	if (s->group[0] && s->grp_base_set) {
		/* the group's skips since this member's previous frame */
		fr->skipped = s->grp_last - s->grp_base - s->st.group_skipped;
		s->st.group_skipped = s->grp_last - s->grp_base;
	}
	if (s->opts.mode == FBUS_MODE_EVERY && fr->skipped) {
		s->st.dropped += fr->skipped;
		fr->skipped = 0;
	}
	s->st.skipped += fr->skipped;
	s->last_seq = h.seq;
	s->st.frames++;
	/* not a gone publisher's last frames, delivered after */
	if (!s->report_gone)
		mark_live(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* Frames the client received for us and has not handed to on_msg. */
static bool
frames_pending(struct nats_sub *s)
{
	int n = 0, bytes;
	int64_t delivered = 0;

	if (fbusi_nats.natsSubscription_GetPending(s->sub, &n, &bytes) !=
	    NATS_OK)
		return false;
	/* none waiting in the client; one it took but has not handed to
	 * on_msg yet is pending too (a goodbye on its own subscription can
	 * overtake it) */
	return n > 0 ||
	       (fbusi_nats.natsSubscription_GetDelivered(s->sub, &delivered) ==
	                NATS_OK &&
	        delivered > atomic_load(&s->handed));
}

static bool
holds_none(const struct nats_sub *s)
{
	for (uint32_t i = 0; i < s->nheld; i++)
		if (s->held[i].cookie)
			return false;
	return true;
}

static struct held *
free_held(struct nats_sub *s)
{
	for (uint32_t i = 0; i < s->nheld; i++)
		if (!s->held[i].cookie)
			return &s->held[i];
	return NULL;
}

static int
sub_next(struct fbus_sub *base, struct fbus_frame *fr, int timeout_ms)
{
	struct nats_sub *s = to_sub(base);
	int64_t deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);

	for (;;) {
		natsMsg *m = NULL;
		struct held *hd;
		struct pollfd pfd;
		int rc, left;

		/* latest mode: frames the client has received but not yet
		 * handed to on_msg are newer than the one waiting here; let
		 * it hand them over (microseconds each), within reason */
		if (s->opts.mode == FBUS_MODE_LATEST && !s->group[0])
			for (int i = 0; i < 100 && frames_pending(s); i++)
				usleep(50);
		pthread_mutex_lock(&s->lock);
		if (s->bye_fetch && !s->qlen && !s->broken && !s->conn_closed) {
			/* a group: the last frame may still be in the stream;
			 * the watch thread fetches once more before the
			 * goodbye counts */
			pthread_cond_broadcast(&s->cond);
			pthread_mutex_unlock(&s->lock);
			usleep(1000);
			if (now_ms() >= deadline)
				return FBUS_ETIMEDOUT;
			continue;
		}
		if (s->broken) {
			rc = s->broken;
			pthread_mutex_unlock(&s->lock);
			return fbusi_fail(&base->err, rc, "%s: %s", s->where,
			                  s->gone_why[0] ? s->gone_why
			                                 : fbus_strerror(rc));
		}
		if (s->qlen) {
			m = s->q[s->qhead];
			s->qhead = (s->qhead + 1) % s->qcap;
			s->qlen--;
			update_efd(s);
		} else if ((s->bye || s->report_gone) && !s->group[0] &&
		           frames_pending(s)) {
			/* the goodbye came on its own subscription, or the
			 * hello went unanswered: frames received before may
			 * not have reached on_msg */
			pthread_mutex_unlock(&s->lock);
			usleep(100);
			continue;
		} else if (s->bye || s->report_gone || s->conn_closed) {
			s->seq_reset = true;
			if (s->bye) {
				s->bye = false;
				s->state = PUB_GONE;
				snprintf(s->gone_why, sizeof s->gone_why,
				         "the publisher closed");
			}
			if (s->conn_closed)
				snprintf(s->gone_why, sizeof s->gone_why,
				         "no NATS server is reachable any more");
			s->report_gone = false;
			if (!(s->opts.flags & FBUS_SUB_RECONNECT) ||
			    s->conn_closed)
				s->broken = FBUS_EDISCONNECTED;
			update_efd(s);
			pthread_mutex_unlock(&s->lock);
			return fbusi_fail(&base->err, FBUS_EDISCONNECTED,
			                  "%s: %s", s->where, s->gone_why);
		} else if (s->group[0] && !s->want) {
			/* free and nothing coming: ask for one */
			s->want = true;
			pthread_cond_broadcast(&s->cond);
		}
		pthread_mutex_unlock(&s->lock);

		if (m) {
			hd = free_held(s);
			rc = hd ? deliver(s, m, hd, fr) : FBUS_EBUSY;
			if (rc == 1) {
				fbusi_nats.natsMsg_Destroy(m);
				continue;
			}
			if (rc) {
				fbusi_nats.natsMsg_Destroy(m);
				return rc;
			}
			hd->m = m;
			hd->cookie = ++s->cookies;
			fr->_priv[0] |= (uint64_t)(hd - s->held);
			fr->_priv[1] = hd->cookie;
			return 0;
		}
		left = (int)(deadline - now_ms());
		if (left <= 0) {
			int st;

			pthread_mutex_lock(&s->lock);
			st = s->state;
			pthread_mutex_unlock(&s->lock);
			/* RECONNECT with nobody there: say so, not "no frame" */
			if (st != PUB_LIVE)
				return fbusi_fail(&base->err, FBUS_EDISCONNECTED,
				                  "%s: no publisher", s->where);
			return FBUS_ETIMEDOUT;
		}
		pfd.fd = s->efd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, left) < 0 && errno != EINTR)
			return fbusi_fail(&base->err, -errno, "poll: %s",
			                  strerror(errno));
	}
}

static int
sub_release(struct fbus_sub *base, struct fbus_frame *fr)
{
	struct nats_sub *s = to_sub(base);
	uint64_t i = FBUSI_PRIV_INDEX(fr->_priv[0]);

	if (!fr->_priv[1] || i >= s->nheld ||
	    s->held[i].cookie != fr->_priv[1])
		return 0;
	fbusi_nats.natsMsg_Destroy(s->held[i].m);
	s->held[i].m = NULL;
	s->held[i].cookie = 0;
	fr->_priv[1] = 0;
	fr->data = NULL;
	if (s->group[0] && s->fd_used && holds_none(s)) {
		/* free again: the next frame may come to us (a caller
		 * that blocks in next() asks there: it gets the newest) */
		pthread_mutex_lock(&s->lock);
		s->want = true;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
	}
	return 1;
}

static int
sub_fd(struct fbus_sub *base)
{
	struct nats_sub *s = to_sub(base);
	bool none = holds_none(s);

	pthread_mutex_lock(&s->lock);
	if (s->group[0] && !s->fd_used) {
		/* it will wait for the fd, not in next(): fetch when free */
		s->fd_used = true;
		s->want = s->want || none;
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	return s->efd;
}

static int
sub_stats(struct fbus_sub *base, struct fbus_sub_stats *st)
{
	struct nats_sub *s = to_sub(base);

	pthread_mutex_lock(&s->lock);
	*st = s->st;
	st->connected = s->state == PUB_LIVE;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static void
sub_close(struct fbus_sub *base)
{
	struct nats_sub *s = to_sub(base);

	if (s->thr_started) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thr, NULL);
	}
	if (s->nc && s->state == PUB_LIVE) {
		struct fbusi_err e;
		uint64_t next;

		/* our lease back: the publisher counts us out now */
		fbusi_nats_hello(s->nc, s->uri.subject, 0, '-', s->id, &next,
		                 &e);
		fbusi_nats.natsConnection_FlushTimeout(s->nc, 500);
	}
	if (s->sub && s->group[0]) {
		/* the group's pull consumer stays for the other members */
		fbusi_nats.natsSubscription_Destroy(s->sub);
		s->sub = NULL;
	}
	fbusi_nats_unsubscribe(&s->sub);
	fbusi_nats_unsubscribe(&s->discover);
	fbusi_nats_unsubscribe(&s->byesub);
	if (s->js)
		fbusi_nats.jsCtx_Destroy(s->js);
	if (s->nc) {
		fbusi_nats.natsConnection_Close(s->nc);
		fbusi_nats.natsConnection_Destroy(s->nc);
	}
	while (s->qlen)
		drop_oldest(s);
	for (uint32_t i = 0; s->held && i < s->nheld; i++) {
		if (s->held[i].m)
			fbusi_nats.natsMsg_Destroy(s->held[i].m);
		free(s->held[i].dec);
	}
	free(s->held);
	free(s->q);
	fbusi_jpeg_close(s->jpeg);
	if (s->efd >= 0)
		close(s->efd);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct fbusi_sub_ops nats_sub_ops = {
	.next = sub_next,
	.release = sub_release,
	.fd = sub_fd,
	.stats = sub_stats,
	.close = sub_close,
};

/* A JetStream failure, with what to do when JetStream is off. */
static int
js_fail(struct fbusi_err *err, natsStatus st, jsErrCode jerr, const char *what)
{
	if (jerr == JSNotEnabledErr || jerr == JSNotEnabledForAccountErr ||
	    st == NATS_NO_RESPONDERS)
		return fbusi_fail(err, FBUS_ENOTSUP,
		                  "worker groups on nats:// need JetStream, "
		                  "which this server does not offer: start "
		                  "nats-server with -js (or 'jetstream {}' in "
		                  "its configuration)");
	return fbusi_nats_fail(err, st, what);
}

/* The stream that keeps each camera's newest frame, and the group's pull
 * consumer on it: made by whichever member comes first. */
static int
join_group(struct nats_sub *s, struct fbusi_err *err)
{
	struct fbusi_nats_api *N = &fbusi_nats;
	jsStreamInfo *si = NULL;
	jsConsumerInfo *ci = NULL;
	jsStreamConfig sc;
	jsConsumerConfig cc;
	jsSubOptions so;
	jsErrCode jerr = 0;
	const char *subj[1] = { s->uri.subject };
	natsStatus st;

	if (fbusi_nats_stream_name(s->uri.subject, s->stream,
	                           sizeof s->stream) ||
	    fbusi_nats_consumer_name(s->group, s->consumer, sizeof s->consumer))
		return fbusi_fail(err, FBUS_ENAMETOOLONG, "subject or group "
		                  "name too long");
	st = N->natsConnection_JetStream(&s->js, s->nc, NULL);
	if (st != NATS_OK)
		return fbusi_nats_fail(err, st, "JetStream");
	st = N->js_GetStreamInfo(&si, s->js, s->stream, NULL, &jerr);
	if (st == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
		N->jsStreamConfig_Init(&sc);
		sc.Name = s->stream;
		sc.Subjects = subj;
		sc.SubjectsLen = 1;
		sc.Storage = js_MemoryStorage;
		sc.Retention = js_LimitsPolicy;
		sc.MaxMsgsPerSubject = 1; /* the newest frame only */
		sc.Discard = js_DiscardOld;
		/* a camera that stopped: its last frame goes stale */
		sc.MaxAge = (int64_t)60 * 1000000000;
		sc.Replicas = s->uri.replicas ? s->uri.replicas : 1;
		jerr = 0;
		st = N->js_AddStream(&si, s->js, &sc, NULL, &jerr);
		if (st != NATS_OK && jerr == JSStreamNameExistErr)
			st = NATS_OK; /* another member was first */
	}
	if (si)
		N->jsStreamInfo_Destroy(si);
	if (st != NATS_OK)
		return js_fail(err, st, jerr, "the group's JetStream stream");
	jerr = 0;
	st = N->js_GetConsumerInfo(&ci, s->js, s->stream, s->consumer, NULL,
	                           &jerr);
	if (st == NATS_NOT_FOUND || jerr == JSConsumerNotFoundErr) {
		N->jsConsumerConfig_Init(&cc);
		cc.Durable = s->consumer;
		cc.AckPolicy = js_AckNone; /* a frame is taken once */
		cc.DeliverPolicy = js_DeliverNew;
		cc.MaxWaiting = 512;
		/* a group nobody reads for a minute goes away */
		cc.InactiveThreshold = (int64_t)60 * 1000000000;
		jerr = 0;
		st = N->js_AddConsumer(&ci, s->js, s->stream, &cc, NULL, &jerr);
	}
	if (ci) {
		/* the group's skips so far (stream seq minus consumer seq
		 * of the last delivery) are not ours to report */
		s->grp_base = s->grp_last =
			ci->Delivered.Stream - ci->Delivered.Consumer;
		s->grp_base_set = true;
		N->jsConsumerInfo_Destroy(ci);
	}
	if (st != NATS_OK)
		return js_fail(err, st, jerr, "the group's JetStream consumer");
	N->jsSubOptions_Init(&so);
	so.Stream = s->stream;
	so.Consumer = s->consumer;
	jerr = 0;
	st = N->js_PullSubscribe(&s->sub, s->js, s->uri.subject, s->consumer,
	                         NULL, &so, &jerr);
	if (st != NATS_OK)
		return js_fail(err, st, jerr, "joining the group");
	return 0;
}

int
fbusi_nats_sub_open(struct fbus_sub **out, const struct fbusi_uri *uri,
                    const struct fbus_sub_opts *opts, struct fbusi_err *err)
{
	struct nats_sub *s;
	uint64_t next = 0;
	natsStatus st;
	int rc;

	if (opts->group && opts->mode == FBUS_MODE_EVERY)
		return fbusi_fail(err, FBUS_ENOTSUP,
		                  "worker groups on nats:// are latest-mode (a "
		                  "JetStream stream keeps each camera's newest "
		                  "frame for the group): use latest mode, or "
		                  "every mode without a group");
	if (opts->mode == FBUS_MODE_EVERY &&
	    opts->full_policy == FBUS_FULL_BLOCK)
		return fbusi_fail(err, FBUS_ENOTSUP,
		                  "nats:// never slows the publisher for a "
		                  "subscriber: every mode keeps up to depth "
		                  "frames and drops the rest, counted "
		                  "(full_policy drop)");
	if (opts->depth > FBUSI_WIRE_MAX_DEPTH)
		return fbusi_fail(err, FBUS_EINVAL, "depth at most %u",
		                  FBUSI_WIRE_MAX_DEPTH);
	s = calloc(1, sizeof *s);
	if (!s)
		return fbusi_fail(err, FBUS_ENOMEM, "out of memory");
	s->base.ops = &nats_sub_ops;
	s->uri = *uri;
	s->opts = *opts;
	s->efd = -1;
	s->opening = true;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if (opts->group)
		snprintf(s->group, sizeof s->group, "%s", opts->group);
	s->opts.group = NULL; /* the caller's string: not ours to keep */
	snprintf(s->where, sizeof s->where, "nats %.180s", uri->subject);
	rc = fbusi_rx_limits(opts, uri, &s->lim, err);
	if (rc)
		goto fail;
	s->qcap = opts->mode == FBUS_MODE_EVERY ? (opts->depth ? opts->depth : 4)
	                                        : 1;
	s->nheld = opts->max_held ? opts->max_held : 1;
	s->q = calloc(s->qcap, sizeof *s->q);
	s->held = calloc(s->nheld, sizeof *s->held);
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!s->q || !s->held || s->efd < 0) {
		rc = fbusi_fail(err, FBUS_ENOMEM, "out of memory");
		goto fail;
	}
	/* no connection callbacks: libnats may run them after the handle
	 * is gone; the watch thread asks the connection's status instead */
	rc = fbusi_nats_connect(uri, opts->flags & FBUS_SUB_RECONNECT, NULL,
	                        &s->nc, err);
	if (rc)
		goto fail;
	if (s->group[0]) {
		rc = join_group(s, err);
		if (rc)
			goto fail;
	} else {
		st = fbusi_nats.natsConnection_Subscribe(&s->sub, s->nc,
		                                         uri->subject, on_msg, s);
		/* the client never drops for us: we keep its queue empty */
		if (st == NATS_OK)
			st = fbusi_nats.natsSubscription_SetPendingLimits(
				s->sub, -1, -1);
		if (st == NATS_OK)
			st = fbusi_nats.natsConnection_FlushTimeout(s->nc, 2000);
		if (st != NATS_OK) {
			rc = fbusi_nats_fail(err, st, "subscribing");
			goto fail;
		}
	}
	st = fbusi_nats.natsConnection_Subscribe(&s->discover, s->nc,
	                                         FBUSI_NATS_DISCOVER,
	                                         on_discover, s);
	if (st == NATS_OK) {
		char bs[300];

		fbusi_nats_ctl_subject(FBUSI_NATS_BYE_PREFIX, uri->subject, bs,
		                       sizeof bs);
		st = fbusi_nats.natsConnection_Subscribe(&s->byesub, s->nc, bs,
		                                         on_bye, s);
	}
	if (st != NATS_OK) {
		rc = fbusi_nats_fail(err, st, "subscribing");
		goto fail;
	}
	/* subscribed first, then asked: no frame falls between */
	while (!s->id && getrandom(&s->id, sizeof s->id, 0) != sizeof s->id)
		;
	rc = fbusi_nats_hello(s->nc, uri->subject, 2000, '+', s->id, &next,
	                      err);
	if (rc && (!(opts->flags & FBUS_SUB_RECONNECT) ||
	           fbusi_connect_error_is_final(rc)))
		goto fail;
	/* libnats' threads may be in push() already */
	pthread_mutex_lock(&s->lock);
	s->opening = false;
	if (rc == 0) {
		/* what came meanwhile stays: a frame published right after
		 * the answer may have overtaken us (deliver drops the older) */
		s->next_seq = next;
		s->state = PUB_LIVE;
		s->ever_live = true;
	} else {
		err->msg[0] = '\0';
		s->state = rc == -ENOSPC ? PUB_REFUSED : PUB_GONE;
		s->seq_reset = true;
		while (s->qlen)
			drop_oldest(s);
		update_efd(s);
	}
	s->last_rx_ms = now_ms();
	pthread_mutex_unlock(&s->lock);
	if (pthread_create(&s->thr, NULL, watch_main, s)) {
		rc = fbusi_fail(err, FBUS_ENOMEM, "cannot start a thread");
		goto fail;
	}
	s->thr_started = true;
	*out = &s->base;
	return 0;
fail:
	sub_close(&s->base);
	return rc;
}

/* SPDX-License-Identifier: MIT */
/*
 * stream/pub.c — the producer side of unix: and tcp:// buses.  Frames are
 * built once (header + metadata + payload, JPEG-encoded once if asked) into
 * reference-counted blobs and queued per subscriber; one I/O thread accepts
 * connections, reads each subscriber's hello, and writes with non-blocking
 * sends, keeping a partial-write offset per subscriber.  So loan/commit never
 * wait for a subscriber in latest mode: a latest subscriber holds at most the
 * frame being written plus the newest pending one (older pending frames are
 * replaced, the subscriber sees the gap in seq), an every subscriber holds a
 * bounded queue whose full policy (drop or block) it chose in its hello.
 * The I/O thread is in io.c.
 *
 * Locking: pub->lock guards the peer list, queues, blob refcounts and the
 * free list.  A peer's `cur` and `off` (the frame being written) belong to
 * the I/O thread alone, which sends without the lock held so that a commit
 * never waits behind a kernel copy of a large frame.
 */
#define _GNU_SOURCE
#include "os.h"
#include "shrink.h"
#include "stream/pub.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct stream_pub *
to_pub(struct fbus_pub *b)
{
	return (struct stream_pub *)b;
}

/* ---- blobs -------------------------------------------------------------- */

static void
blob_free(struct blob *b)
{
	free(b->payload);
	free(b->enc);
	free(b);
}

void
fbusi_stream_blob_unref(struct stream_pub *p, struct blob *b)
{
	if (--b->refs > 0)
		return;
	if (p->nfree >= FREE_BLOBS_KEPT) {
		blob_free(b);
		return;
	}
	b->next_free = p->free_blobs;
	p->free_blobs = b;
	p->nfree++;
}

/* ---- the handle --------------------------------------------------------- */

static int
pub_loan(struct fbus_pub *base, const struct fbus_format *fmt,
         struct fbus_slot *slot)
{
	struct stream_pub *p = to_pub(base);
	struct fbus_format f = *fmt;
	struct blob *b, **pp;
	size_t bound = 0;
	int rc;

	if (p->loaned)
		return fbusi_fail(&base->err, FBUS_EBUSY,
		                  "a slot is already on loan");
	if (fbus_format_layout(&f))
		return fbusi_fail(&base->err, FBUS_EINVAL,
		                  "invalid frame format");
	if (p->uri.codec == FBUSI_CODEC_JPEG &&
	    f.pixfmt != FBUS_PIXFMT_ENCODED) {
		if (!fbusi_jpeg_can_encode(f.pixfmt))
			return fbusi_fail(&base->err, FBUS_ENOTSUP,
			                  "codec=jpeg takes bgr24, rgb24 or gray8 "
			                  "frames, not %s",
			                  fbus_pixfmt_name(f.pixfmt));
		bound = fbusi_jpeg_bound(&f);
		if (!bound)
			return fbusi_fail(&base->err, FBUS_EINVAL,
			                  "cannot size a jpeg for %ux%u",
			                  f.width, f.height);
	}

	pthread_mutex_lock(&p->lock);
	/* prefer a parked blob that is already big enough */
	for (pp = &p->free_blobs; *pp; pp = &(*pp)->next_free)
		if ((*pp)->cap >= f.size && (*pp)->enc_cap >= bound)
			break;
	if (!*pp)
		pp = &p->free_blobs;
	b = *pp;
	if (b) {
		*pp = b->next_free;
		p->nfree--;
	}
	pthread_mutex_unlock(&p->lock);
	if (!b) {
		b = calloc(1, sizeof *b);
		if (!b)
			return fbusi_fail(&base->err, FBUS_ENOMEM,
			                  "out of memory");
	}
	rc = fbusi_stream_grow(&b->payload, &b->cap, f.size);
	if (rc == 0 && bound)
		rc = fbusi_stream_grow(&b->enc, &b->enc_cap, bound);
	if (rc) {
		blob_free(b);
		return fbusi_fail(&base->err, rc, "out of memory for a %u byte "
		                  "frame", f.size);
	}
	b->refs = 1;
	b->t_loan_mono = fbus_now_mono_ns();
	b->t_loan_real = fbus_now_real_ns();

	memset(slot, 0, sizeof *slot);
	slot->data = b->payload;
	slot->capacity = (uint32_t)b->cap;
	slot->fmt = f;
	slot->meta = b->meta;
	slot->_priv[0] = (uint64_t)(uintptr_t)b;
	slot->_priv[1] = (uint64_t)(uintptr_t)p;
	p->loaned = true;
	return 0;
}

static struct blob *
slot_blob(struct stream_pub *p, struct fbus_slot *slot)
{
	if (!p->loaned || slot->_priv[1] != (uint64_t)(uintptr_t)p ||
	    !slot->_priv[0])
		return NULL;
	return (struct blob *)(uintptr_t)slot->_priv[0];
}

static void
pub_abort(struct fbus_pub *base, struct fbus_slot *slot)
{
	struct stream_pub *p = to_pub(base);
	struct blob *b = slot_blob(p, slot);

	if (!b)
		return;
	pthread_mutex_lock(&p->lock);
	fbusi_stream_blob_unref(p, b);
	pthread_mutex_unlock(&p->lock);
	p->loaned = false;
	slot->_priv[0] = 0;
}

static struct peer *
find_peer(struct stream_pub *p, uint64_t id)
{
	for (uint32_t i = 0; i < p->npeers; i++)
		if (p->peers[i]->id == id)
			return p->peers[i];
	return NULL;
}

void
fbusi_stream_deadline_ts(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Queue b for one peer, applying its mode and full policy.  Locked; may
 * wait on p->room for an every+block subscriber (the lock is released
 * while waiting). */
static void
enqueue(struct stream_pub *p, uint64_t id, struct blob *b, bool *woke)
{
	struct peer *peer = find_peer(p, id);
	struct timespec until;

	if (!peer || peer->dead || peer->state != PEER_READY)
		return;
	if (peer->qlen == peer->qcap && peer->h.mode == FBUS_MODE_LATEST) {
		/* latest: the pending frame is stale now, replace it */
		fbusi_stream_blob_unref(p, peer->q[peer->qhead]);
		peer->qlen = 0;
		peer->replaced++;
	}
	if (peer->qlen == 0)
		peer->demoted = false; /* emptied: it reads again */
	if (peer->qlen == peer->qcap &&
	    peer->h.full_policy == FBUS_FULL_BLOCK && !peer->demoted) {
		uint32_t ms = peer->h.block_ms ? peer->h.block_ms : 1000;
		bool timed_out = false;

		if (ms > p->opts.max_block_ms)
			ms = p->opts.max_block_ms;
		if (!*woke) {
			fbusi_stream_wake_io(p);
			*woke = true;
		}
		fbusi_stream_deadline_ts(&until, (int)ms);
		for (;;) {
			if (pthread_cond_timedwait(&p->room, &p->lock,
			                           &until) == ETIMEDOUT)
				timed_out = true;
			/* the I/O thread may have reaped (freed) it while we
			 * slept: look it up again, never touch the old one */
			peer = find_peer(p, id);
			if (!peer || peer->dead || p->stop)
				return;
			if (peer->qlen < peer->qcap || timed_out)
				break;
		}
		/* FBUS_BLOCK_STRIKES timeouts in a row: it stopped, not
		 * slowed down; the others get the producer's rate back */
		if (peer->qlen < peer->qcap)
			peer->strikes = 0;
		else if (++peer->strikes >= FBUS_BLOCK_STRIKES) {
			peer->strikes = 0;
			peer->demoted = true;
			fbusi_stream_peer_demoted(p, peer);
		}
	}
	if (peer->qlen == peer->qcap) {
		peer->dropped++;
		p->dropped++;
		return;
	}
	peer->q[(peer->qhead + peer->qlen) % peer->qcap] = b;
	peer->qlen++;
	b->refs++;
}

/* The scale a JPEG of a w x h frame is coded at: the largest every ready
 * subscriber's ?fit= box allows (0, full size, if any has none), or -1 if
 * nobody is ready.  Remembered for the I/O thread until the commit's
 * seq is out, so that a subscriber joining meanwhile with a bigger box is
 * told the frame is not its to miss. */
static int
plan_coding(struct stream_pub *p, uint32_t w, uint32_t h)
{
	int shift = -1;

	pthread_mutex_lock(&p->lock);
	for (uint32_t i = 0; i < p->npeers && shift != 0; i++) {
		const struct peer *peer = p->peers[i];
		int s;

		if (peer->state != PEER_READY || peer->dead)
			continue;
		s = (int)fbusi_fit_shift(peer->fit_w, peer->fit_h, w, h);
		if (shift < 0 || s < shift)
			shift = s;
	}
	p->coding_shift = shift > 0 ? (uint32_t)shift : 0;
	p->coding_w = w;
	p->coding_h = h;
	pthread_mutex_unlock(&p->lock);
	return shift;
}

/* Encode the loaned frame at 1/2^shift: shrunk first, so that the codec
 * works on 1/4, 1/16 or 1/64 of the pixels. */
static int
encode_blob(struct stream_pub *p, struct blob *b, const struct fbus_format *f,
            uint32_t shift, struct fbusi_err *err)
{
	struct fbus_format sf = { .pixfmt = f->pixfmt };
	uint32_t bpp = f->pixfmt == FBUS_PIXFMT_GRAY8 ? 1 : 3;
	int rc;

	b->shift = shift;
	if (!shift)
		return fbusi_jpeg_encode(p->jpeg, f, b->payload, p->quality,
		                         b->enc, b->enc_cap, &b->body_len, err);
	sf.width = fbusi_scaled(f->width, shift);
	sf.height = fbusi_scaled(f->height, shift);
	if (fbus_format_layout(&sf))
		return fbusi_fail(err, FBUS_EINVAL, "cannot shrink a %ux%u frame",
		                  f->width, f->height);
	if (fbusi_stream_grow(&p->small, &p->small_cap, sf.size) ||
	    fbusi_stream_grow(&p->acc, &p->acc_cap,
	                      (size_t)f->width * bpp * sizeof(uint16_t)))
		return fbusi_fail(err, FBUS_ENOMEM, "out of memory");
	fbusi_shrink(b->payload, f->stride[0], f->width, f->height, bpp, shift,
	             p->small, sf.stride[0], (uint16_t *)(void *)p->acc);
	/* the shrunk picture's colour at full resolution (jpeg_codec.h) */
	fbusi_jpeg_set_full_chroma(p->jpeg, true);
	rc = fbusi_jpeg_encode(p->jpeg, &sf, p->small, p->quality, b->enc,
	                       b->enc_cap, &b->body_len, err);
	fbusi_jpeg_set_full_chroma(p->jpeg, false);
	return rc;
}

bool
fbusi_stream_peer_fits(const struct peer *peer, uint32_t shift, uint32_t w,
                       uint32_t h)
{
	return !shift || fbusi_fit_shift(peer->fit_w, peer->fit_h, w, h) >= shift;
}

static int64_t
pub_commit(struct fbus_pub *base, struct fbus_slot *slot)
{
	struct stream_pub *p = to_pub(base);
	struct blob *b = slot_blob(p, slot);
	struct fbusi_wire_hdr h;
	struct fbus_format f;
	uint32_t nids = 0;
	bool woke = false, skip = false;
	int rc, shift;

	if (!b)
		return fbusi_fail(&base->err, FBUS_EINVAL,
		                  "commit of a slot that is not on loan");
	rc = fbusi_commit_check(slot, &base->err);
	if (rc)
		goto err_abort;
	f = slot->fmt;
	memset(&h, 0, sizeof h);
	if (f.pixfmt == FBUS_PIXFMT_ENCODED)
		f.size = slot->payload_bytes;
	b->shift = 0;
	if (p->uri.codec == FBUSI_CODEC_JPEG &&
	    f.pixfmt != FBUS_PIXFMT_ENCODED &&
	    (shift = plan_coding(p, f.width, f.height)) < 0) {
		/* nobody to send it to: don't spend ~ms encoding it (a
		 * subscriber joining meanwhile counts it as skipped) */
		skip = true;
	} else if (p->uri.codec == FBUSI_CODEC_JPEG &&
	           f.pixfmt != FBUS_PIXFMT_ENCODED) {
		rc = encode_blob(p, b, &f, (uint32_t)shift, &base->err);
		if (rc) {
			/* no frame comes: newcomers expect the next seq */
			pthread_mutex_lock(&p->lock);
			p->coding_shift = 0;
			pthread_mutex_unlock(&p->lock);
			goto err_abort;
		}
		b->body = b->enc;
		h.codec = FBUSI_CODEC_JPEG;
		h.stride[0] = b->shift;
	} else {
		b->body = b->payload;
		b->body_len = f.size;
		h.codec = FBUSI_CODEC_RAW;
		for (int i = 0; i < FBUS_MAX_PLANES; i++)
			h.stride[i] = f.stride[i];
	}
	h.t_mono_ns = slot->t_mono_ns ? slot->t_mono_ns : b->t_loan_mono;
	h.t_real_ns = slot->t_real_ns ? slot->t_real_ns : b->t_loan_real;
	h.pixfmt = f.pixfmt;
	h.width = f.width;
	h.height = f.height;
	h.meta_len = slot->meta_bytes;
	h.payload_len = b->body_len;
	b->meta_len = h.meta_len;
	b->total = sizeof b->hdr + b->meta_len + b->body_len;
	p->loaned = false;
	slot->_priv[0] = 0;

	pthread_mutex_lock(&p->lock);
	/* seq under the lock: a welcome's next_seq (read by the I/O thread)
	 * must not race the frame that follows it */
	h.seq = ++p->seq;
	p->coding_shift = 0;
	fbusi_wire_hdr_encode(b->hdr, &h);
	if (p->peer_err_new) {
		base->err = p->peer_err;
		p->peer_err_new = false;
	}
	/* ids, not pointers: enqueue may sleep, and peers come and go */
	/* group members take frames from their group's queue */
	for (uint32_t i = 0; i < p->npeers && !skip; i++)
		if (p->peers[i]->state == PEER_READY && !p->peers[i]->dead &&
		    !p->peers[i]->grp &&
		    fbusi_stream_peer_fits(p->peers[i], b->shift, f.width,
		                           f.height))
			p->ids[nids++] = p->peers[i]->id;
	for (uint32_t i = 0; i < nids; i++)
		enqueue(p, p->ids[i], b, &woke);
	/* a group's members take full-size frames: one coded smaller was
	 * planned while the group had none */
	if (!skip && p->ngroups && !b->shift) {
		fbusi_sgroup_commit(p, b, &woke);
		nids++; /* wake the I/O thread */
	}
	p->frames++;
	fbusi_stream_blob_unref(p, b);
	pthread_mutex_unlock(&p->lock);
	if (nids)
		fbusi_stream_wake_io(p);
	return (int64_t)h.seq;

err_abort:
	pub_abort(base, slot);
	return rc;
}

static int
pub_stats(struct fbus_pub *base, struct fbus_pub_stats *st)
{
	struct stream_pub *p = to_pub(base);

	memset(st, 0, sizeof *st);
	pthread_mutex_lock(&p->lock);
	st->frames = p->frames;
	st->dropped = p->dropped;
	st->peer_errors = p->peer_errors;
	st->demoted = p->demoted;
	for (uint32_t i = 0; i < p->npeers; i++)
		if (p->peers[i]->state == PEER_READY && !p->peers[i]->dead)
			st->subscribers++;
	if (p->peer_err_new) {
		base->err = p->peer_err;
		p->peer_err_new = false;
	}
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static void
pub_close(struct fbus_pub *base)
{
	struct stream_pub *p = to_pub(base);
	if (p->thread_started) {
		pthread_mutex_lock(&p->lock);
		p->stop = true;
		p->stop_deadline = fbusi_stream_now_ms() + FBUSI_STREAM_CLOSE_MS;
		pthread_cond_broadcast(&p->room);
		pthread_mutex_unlock(&p->lock);
		fbusi_stream_wake_io(p);
		pthread_join(p->thread, NULL);
	}
	for (uint32_t i = 0; i < p->npeers; i++)
		fbusi_stream_peer_destroy(p, p->peers[i]);
	fbusi_sgroup_free_all(p);
	while (p->free_blobs) {
		struct blob *b = p->free_blobs;
		p->free_blobs = b->next_free;
		blob_free(b);
	}
	if (p->lfd >= 0) {
		/* remove the socket file only if it is still ours: a new
		 * producer may have reclaimed the path meanwhile */
		if (p->uri.scheme == FBUSI_SCHEME_UNIX)
			fbusi_unix_unlink(p->uri.path, p->dev, p->ino);
		close(p->lfd);
	}
	if (p->efd >= 0)
		close(p->efd);
	fbusi_jpeg_close(p->jpeg);
	free(p->small);
	free(p->acc);
	pthread_cond_destroy(&p->room);
	pthread_mutex_destroy(&p->lock);
	free(p->peers);
	free(p->ids);
	free(p->pfds);
	free(p);
}

static const struct fbusi_pub_ops stream_pub_ops = {
	.loan = pub_loan,
	.commit = pub_commit,
	.abort = pub_abort,
	.stats = pub_stats,
	.close = pub_close,
};

int
fbusi_stream_pub_open(struct fbus_pub **out, const struct fbusi_uri *uri,
                      const struct fbus_pub_opts *opts, struct fbusi_err *err)
{
	struct stream_pub *p;
	pthread_condattr_t ca;
	/* room for the subscribers and for the connections in their hello */
	uint32_t max = opts->max_subscribers + FBUSI_STREAM_MAX_HELLO;
	int rc;

	p = calloc(1, sizeof *p);
	if (!p)
		return fbusi_fail(err, FBUS_ENOMEM, "out of memory");
	p->base.ops = &stream_pub_ops;
	p->uri = *uri;
	p->opts = *opts;
	p->lfd = p->efd = -1;
	p->quality = uri->quality ? uri->quality : 90;
	fbusi_stream_describe(uri, p->where, sizeof p->where);
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->room, &ca);
	pthread_condattr_destroy(&ca);

	p->peers = calloc(max, sizeof *p->peers);
	p->ids = calloc(max, sizeof *p->ids);
	p->pfds = calloc(max + 2, sizeof *p->pfds);
	if (!p->peers || !p->ids || !p->pfds) {
		rc = fbusi_fail(err, FBUS_ENOMEM, "out of memory");
		goto err;
	}
	if (uri->codec == FBUSI_CODEC_JPEG) {
		rc = fbusi_jpeg_open(&p->jpeg, 1, err);
		if (rc)
			goto err;
		fbusi_jpeg_set_threads(p->jpeg, uri->threads);
	}
	p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->efd < 0) {
		rc = fbusi_fail(err, -errno, "eventfd: %s", strerror(errno));
		goto err;
	}
	rc = fbusi_stream_listen(uri, opts->n_allow_uids || opts->n_allow_gids,
	                         &p->lfd, &p->dev, &p->ino, err);
	if (rc)
		goto err;
	rc = pthread_create(&p->thread, NULL, fbusi_stream_io_thread, p);
	if (rc) {
		rc = fbusi_fail(err, -rc, "cannot start the I/O thread: %s",
		                strerror(rc));
		goto err;
	}
	p->thread_started = true;
	*out = &p->base;
	return 0;

err:
	pub_close(&p->base);
	return rc;
}

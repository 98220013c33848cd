/* SPDX-License-Identifier: MIT */
/*
 * shm/admit.c — the producer's control thread: it owns the listening
 * socket, admits subscribers (SO_PEERCRED check, HELLO, WELCOME with their
 * page, eventfd and ring), answers `framebus ls` queries, and notices peers
 * that leave or die (socket HUP) so the data path frees their slots.
 */
#define _GNU_SOURCE
#include "os.h"
#include "shm/pub.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/* Control thread: the data path frees the rest (reclaim_dead). */
static void
ent_kill(struct shm_pub *p, struct ent *e)
{
	/* once: a kicked entry may also show up as HUP in the same poll */
	if (atomic_load(&e->state) != ENT_ACTIVE)
		return;
	/* under its lock: the data path may be sending it a RING */
	pthread_mutex_lock(&e->sock_lock);
	fbusi_close(e->sock);
	e->sock = -1;
	pthread_mutex_unlock(&e->sock_lock);
	atomic_fetch_sub(&p->n_active, 1);
	atomic_store_explicit(&e->state, ENT_DEAD, memory_order_release);
	atomic_store(&p->dead_pending, 1);
}

static void
peer_error(struct shm_pub *p, int fd, int code, const char *fmt, ...)
	FBUSI_PRINTF(4, 5);

/* Record why a peer was refused, tell it if it still listens, close it. */
static void
peer_error(struct shm_pub *p, int fd, int code, const char *fmt, ...)
{
	struct fbusi_ctl_refuse m;
	char sink[FBUSI_CTL_MAX];
	int nfds, fds[FBUSI_MAX_FDS];
	va_list ap;

	fbusi_ctl_init((union fbusi_ctl *)&m, FBUSI_CTL_REFUSE);
	m.code = code;
	va_start(ap, fmt);
	vsnprintf(m.text, sizeof m.text, fmt, ap);
	va_end(ap);
	/* counted before the peer hears of it: whoever it tells finds the
	 * refusal in our stats already */
	fbusi_shm_peer_dropped(p, "%s", m.text);
	fbusi_send_fds(fd, &m, sizeof m, NULL, 0, MSG_DONTWAIT);
	/* Closing with unread input makes Linux report ECONNRESET to the
	 * peer ahead of our REFUSE: drain what is queued first. */
	for (int i = 0; i < 16 && fbusi_recv_fds(fd, sink, sizeof sink, fds, 0,
	                                         &nfds, MSG_DONTWAIT) > 0;
	     i++)
		;
	close(fd);
}

/* Keep why, for fbus_pub_last_error(), and log it: LOG_BURST lines a
 * second, then one saying how many were not logged -- a flood must not
 * become a flood of log lines. */
static void
peer_note(struct shm_pub *p, const char *fmt, va_list ap)
{
	struct fbusi_err why;
	int64_t now;

	fbusi_vfail(&why, 0, fmt, ap);
	pthread_mutex_lock(&p->err_lock);
	p->peer_err = why;
	/* release: the text above is complete when the flag is seen */
	atomic_store_explicit(&p->peer_err_new, 1, memory_order_release);
	now = fbus_now_mono_ns();
	if (now - p->log_window >= 1000000000LL) {
		p->log_window = now;
		p->log_lines = 0;
	}
	if (p->log_lines++ < LOG_BURST) {
		unsigned long long quiet = p->log_quiet;

		p->log_quiet = 0;
		pthread_mutex_unlock(&p->err_lock);
		if (quiet)
			fbusi_log(&p->opts, FBUS_LOG_WARN,
			          "%s (and %llu more peer errors not logged)",
			          why.msg, quiet);
		else
			fbusi_log(&p->opts, FBUS_LOG_WARN, "%s", why.msg);
		return;
	}
	p->log_quiet++;
	pthread_mutex_unlock(&p->err_lock);
}

void
fbusi_shm_peer_dropped(struct shm_pub *p, const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&p->peer_errors, 1);
	va_start(ap, fmt);
	peer_note(p, fmt, ap);
	va_end(ap);
}

void
fbusi_shm_peer_demoted(struct shm_pub *p, const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&p->demoted, 1);
	va_start(ap, fmt);
	peer_note(p, fmt, ap);
	va_end(ap);
}

static void on_pending(struct shm_pub *p, struct pending *pd);

/* A place in the table of connections that sent no HELLO yet, or -1:
 * wait.  First serve those whose HELLO came meanwhile; then the oldest
 * silent one goes, but only after PENDING_GRACE_NS: an honest subscriber
 * sends HELLO as it connects, so one silent that long is the likeliest to
 * be idle on purpose, and a flood of idle connections cannot push out a
 * subscriber between its connect and its HELLO.  Meanwhile newcomers wait
 * in the kernel's backlog, not refused. */
static int
pending_slot(struct shm_pub *p, int64_t now)
{
	int k, old = 0;

	for (k = 0; k < MAX_PENDING; k++)
		if (p->pend[k].fd < 0)
			return k;
	for (k = 0; k < MAX_PENDING; k++)
		on_pending(p, &p->pend[k]);
	for (k = 0; k < MAX_PENDING; k++)
		if (p->pend[k].fd < 0)
			return k;
	for (k = 1; k < MAX_PENDING; k++)
		if (p->pend[k].born < p->pend[old].born)
			old = k;
	if (now - p->pend[old].born < PENDING_GRACE_NS) {
		p->accept_resume = p->pend[old].born + PENDING_GRACE_NS;
		return -1;
	}
	peer_error(p, p->pend[old].fd, FBUS_EAGAIN,
	           "bus '%s': pid %d sent no HELLO while %d newer connections "
	           "waited; closed",
	           p->name, (int)p->pend[old].pid, MAX_PENDING);
	p->pend[old].fd = -1;
	return old;
}

/* Accept what the backlog holds (a bounded batch per wake-up, so that a
 * flood cannot starve the subscribers' sockets). */
static void
do_accept(struct shm_pub *p)
{
	for (int batch = 0; batch < 4 * MAX_PENDING; batch++) {
		int64_t now = fbus_now_mono_ns();
		int k = pending_slot(p, now);
		struct ucred cred;
		bool allowed;
		int fd;

		if (k < 0)
			return;
		fd = accept4(p->listen_fd, NULL, NULL,
		             SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		allowed = fbusi_peer_allowed(fd, &p->opts, &cred);
		if (!allowed && !cred.pid) {
			peer_error(p, fd, FBUS_EACCES, "no peer credentials");
			continue;
		}
		p->pend[k].fd = fd;
		p->pend[k].pid = cred.pid;
		p->pend[k].uid = cred.uid;
		/* refuse after its HELLO is read, so the REFUSE reaches it */
		p->pend[k].refused = !allowed;
		p->pend[k].born = now;
		p->pend[k].deadline = now + HELLO_TIMEOUT_NS;
		/* its HELLO is often here already */
		on_pending(p, &p->pend[k]);
	}
}

/* The INFO answer for `framebus ls`. */
static void
send_info(struct shm_pub *p, int fd)
{
	struct fbusi_ctl_info m;

	fbusi_ctl_init((union fbusi_ctl *)&m, FBUSI_CTL_INFO);
	m.pid = getpid();
	m.subscribers = atomic_load(&p->n_active);
	m.frames = atomic_load(&p->frames);
	/* under the lock info_update takes (trylock) to write them */
	pthread_mutex_lock(&p->lock);
	/* a rate from frames long ago is not "the" rate: decay to 0 */
	m.fps = fbus_now_mono_ns() - p->last_commit_ns < 3000000000LL &&
	                p->avg_dt > 0
	        ? 1.0 / p->avg_dt
	        : 0.0;
	m.fmt = p->last_fmt;
	pthread_mutex_unlock(&p->lock);
	fbusi_send_fds(fd, &m, sizeof m, NULL, 0, MSG_DONTWAIT);
}

static uint32_t
slots_reserved(struct shm_pub *p)
{
	uint32_t n = 2; /* the newest frame, and the one being written */

	for (uint32_t i = 0; i < p->n_ents; i++)
		if (atomic_load_explicit(&p->ents[i].state,
		                         memory_order_acquire) == ENT_ACTIVE)
			n += p->ents[i].depth;
	return n;
}

/* Admit a subscriber after a valid HELLO. */
static void
admit(struct shm_pub *p, struct pending *pd, const struct fbusi_ctl_hello *hi)
{
	struct fbusi_ctl_welcome w;
	struct ent *e = NULL;
	const struct ring *r;
	/* every: its queue; latest: one slot per frame it may hold */
	uint32_t need = hi->depth;
	size_t page_size;
	char memname[160];
	int fds[3], nfds = 2, rc, page_fd;

	for (uint32_t i = 0; i < p->n_ents; i++)
		if (atomic_load_explicit(&p->ents[i].state,
		                         memory_order_acquire) == ENT_FREE) {
			e = &p->ents[i];
			break;
		}
	if (!e) {
		peer_error(p, pd->fd, -ENOSPC,
		           "bus '%s' has its maximum of %u subscribers",
		           p->name, p->opts.max_subscribers);
		return;
	}
	if (slots_reserved(p) + need > p->opts.slots) {
		peer_error(p, pd->fd, -ENOSPC,
		           "bus '%s': %u more slots needed, the ring has %u "
		           "and %u are reserved (lower the depth or hold, or open the "
		           "producer with more slots)",
		           p->name, need, p->opts.slots, slots_reserved(p));
		return;
	}
	page_size = (FBUSI_PAGE_ENTRIES_OFF + hi->depth * sizeof(uint64_t) +
	             4095) & ~(size_t)4095;
	snprintf(memname, sizeof memname, "framebus-page:%s,pid=%d",
	         p->name, (int)pd->pid);
	page_fd = fbusi_memfd_sealed(memname, page_size);
	if (page_fd < 0) {
		peer_error(p, pd->fd, page_fd, "memfd: %s",
		           fbus_strerror(page_fd));
		return;
	}
	e->page = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED,
	               page_fd, 0);
	e->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	e->mirror = calloc(hi->depth, sizeof(uint64_t));
	if (e->page == MAP_FAILED || e->efd < 0 || !e->mirror) {
		if (e->page != MAP_FAILED)
			munmap(e->page, page_size);
		fbusi_close(e->efd);
		free(e->mirror);
		close(page_fd);
		e->page = NULL, e->efd = -1, e->mirror = NULL;
		peer_error(p, pd->fd, FBUS_ENOMEM, "out of resources");
		return;
	}
	e->page->magic = FBUSI_PAGE_MAGIC;
	e->page->version = FBUSI_SHM_VERSION;
	e->page->hdr_size = FBUSI_PAGE_ENTRIES_OFF;
	e->page->depth = hi->depth;
	e->page->mode = hi->mode;
	e->page_size = page_size;
	e->mode = hi->mode;
	e->depth = hi->depth;
	e->policy = hi->policy;
	e->block_ms = hi->block_ms;
	e->head = 0;
	e->dropped = 0;
	e->strikes = 0;
	e->demoted = false;
	e->spin = false;
	snprintf(e->group, sizeof e->group, "%s", hi->group);
	e->given = 0;
	e->served = 0;
	e->passing = false;
	e->pid = pd->pid;
	e->uid = pd->uid;
	atomic_store(&e->kick, 0);

	fbusi_ctl_init((union fbusi_ctl *)&w, FBUSI_CTL_WELCOME);
	w.version = FBUSI_CTL_VERSION;
	w.page_size = page_size;
	fds[0] = page_fd;
	fds[1] = e->efd;
	/* Everything slow is done; from here to the WELCOME the data path
	 * may wait for this lock, so only a non-blocking send happens. */
	pthread_mutex_lock(&e->sock_lock);
	e->sock = pd->fd;
	e->ring_gen = 0;
	/* Active before the WELCOME goes out: by the time the subscriber
	 * can read a frame, commit serves it and stats count it. */
	atomic_fetch_add(&p->n_active, 1);
	/* seq_cst ACTIVE, then seq_cst load of the ring: pairs with
	 * fbusi_shm_ring_switch (ring store, then state loads) */
	atomic_store(&e->state, ENT_ACTIVE);
	r = atomic_load(&p->cur);
	if (r) {
		w.generation = r->gen;
		w.ring_size = r->size;
		fds[2] = r->fd;
		e->ring_gen = r->gen;
		nfds = 3;
	}
	rc = fbusi_send_fds(pd->fd, &w, sizeof w, fds, nfds, MSG_DONTWAIT);
	pthread_mutex_unlock(&e->sock_lock);
	close(page_fd); /* the mapping keeps the memory */
	if (rc < 0)
		ent_kill(p, e); /* the data path frees the rest */
}

static void
on_pending(struct shm_pub *p, struct pending *pd)
{
	char buf[FBUSI_CTL_MAX + 1];
	struct fbusi_err err;
	union fbusi_ctl m;
	int fds[FBUSI_MAX_FDS], nfds = 0, t;
	long n;

	n = fbusi_recv_fds(pd->fd, buf, sizeof buf, fds, 0, &nfds,
	                   MSG_DONTWAIT);
	if (n == -EAGAIN)
		return;
	if (n <= 0) {
		if (n < 0 && n != -ECONNRESET)
			peer_error(p, pd->fd, FBUS_EPROTO,
			           "bus '%s': bad message from pid %d: %s",
			           p->name, (int)pd->pid, fbus_strerror((int)n));
		else
			close(pd->fd);
		pd->fd = -1;
		return;
	}
	/* max_fds 0: any fd a peer sends is closed and the message is an
	 * error, so nothing to close here */
	t = fbusi_ctl_parse(buf, n, nfds, &m, &err);
	if (pd->refused) {
		peer_error(p, pd->fd, FBUS_EACCES,
		           "bus '%s': uid %u (pid %d) is not allowed", p->name,
		           (unsigned)pd->uid, (int)pd->pid);
	} else if (t == FBUSI_CTL_HELLO) {
		admit(p, pd, &m.hello);
	} else if (t == FBUSI_CTL_QUERY) {
		send_info(p, pd->fd);
		close(pd->fd);
	} else {
		peer_error(p, pd->fd, t < 0 ? t : FBUS_EPROTO,
		           "bus '%s': pid %d: %s", p->name, (int)pd->pid,
		           t < 0 ? err.msg : "unexpected message type");
	}
	pd->fd = -1;
}

/* Hang up on the subscribers the data path asked us to drop. */
static void
kicked(struct shm_pub *p)
{
	for (uint32_t i = 0; i < p->n_ents; i++) {
		struct ent *e = &p->ents[i];

		if (atomic_load_explicit(&e->state, memory_order_acquire) ==
		        ENT_ACTIVE &&
		    atomic_load(&e->kick))
			ent_kill(p, e);
	}
}

void *
fbusi_shm_ctl_thread(void *arg)
{
	struct shm_pub *p = arg;
	struct pollfd *pfd;
	int *map; /* pfd index -> ent index, or -(pending index) - 1 */
	size_t cap = 2 + MAX_PENDING + p->n_ents;

	pfd = calloc(cap, sizeof *pfd);
	map = calloc(cap, sizeof *map);
	if (!pfd || !map) {
		free(pfd);
		free(map);
		return NULL;
	}
	for (;;) {
		size_t n = 0;
		int64_t now;

		int timeout = 250;

		now = fbus_now_mono_ns();
		pfd[n++] = (struct pollfd){ p->wake_fd, POLLIN, 0 };
		/* a full waiting room: leave newcomers in the backlog until
		 * the oldest silent connection may go */
		pfd[n++] = (struct pollfd){ now < p->accept_resume
			                            ? -1
			                            : p->listen_fd,
			                    POLLIN, 0 };
		if (now < p->accept_resume)
			timeout = (int)((p->accept_resume - now) / 1000000) + 1;
		for (int k = 0; k < MAX_PENDING; k++)
			if (p->pend[k].fd >= 0) {
				map[n] = -k - 1;
				pfd[n++] = (struct pollfd){ p->pend[k].fd,
					                    POLLIN, 0 };
			}
		/* entries are ours while FREE or ACTIVE: no lock, and
		 * nothing here makes the data path wait */
		for (uint32_t i = 0; i < p->n_ents; i++)
			if (atomic_load(&p->ents[i].state) == ENT_ACTIVE) {
				map[n] = (int)i;
				pfd[n++] = (struct pollfd){ p->ents[i].sock,
					                    POLLIN, 0 };
			}

		if (poll(pfd, n, timeout) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents) {
			uint64_t v;

			if (read(p->wake_fd, &v, sizeof v) < 0) {
				/* EAGAIN: another reader drained it */
			}
			if (atomic_load(&p->stopping))
				break;
			kicked(p);
		}
		/* HELLOs that arrived first: accepting may evict a pending
		 * connection, never one whose HELLO is waiting */
		for (size_t i = 2; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (map[i] < 0) {
				on_pending(p, &p->pend[-map[i] - 1]);
			} else if (atomic_load(&p->ents[map[i]].state) ==
			           ENT_ACTIVE) {
				/* (not if kicked() above killed it already) */
				struct ent *e = &p->ents[map[i]];
				char c;

				/* A subscriber sends nothing after HELLO;
				 * data here is a protocol error, HUP a
				 * normal leave (or a kill -9). */
				if ((pfd[i].revents & POLLIN) &&
				    recv(e->sock, &c, 1, MSG_DONTWAIT |
				                             MSG_PEEK) > 0) {
					fbusi_shm_peer_dropped(
						p,
						"bus '%s': subscriber pid %d "
						"sent data after HELLO; dropped",
						p->name, (int)e->pid);
				}
				ent_kill(p, e);
			}
		}
		if (pfd[1].revents & POLLIN)
			do_accept(p);
		now = fbus_now_mono_ns();
		for (int k = 0; k < MAX_PENDING; k++)
			if (p->pend[k].fd >= 0 && now > p->pend[k].deadline) {
				peer_error(p, p->pend[k].fd, FBUS_ETIMEDOUT,
				           "bus '%s': pid %d sent no HELLO in "
				           "time",
				           p->name, (int)p->pend[k].pid);
				p->pend[k].fd = -1;
			}
	}
	free(pfd);
	free(map);
	return NULL;
}

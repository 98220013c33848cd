/* SPDX-License-Identifier: MIT */
/*
 * shm/group.c — the file a worker group's members share (shm/group.h):
 * joining and leaving without a race against another member doing the
 * same, and the take mutex.
 */
#define _GNU_SOURCE
#include "shm/group.h"
#include "crc32c.h"
#include "runtime.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/sysmacros.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
_Static_assert(sizeof(struct fbusi_group_page) <= PAGE, "group page");

static int
init_page(struct fbusi_group_page *pg, uint32_t mode)
{
	pthread_mutexattr_t a;
	int rc;

	memset(pg, 0, sizeof *pg);
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	rc = pthread_mutex_init(&pg->take, &a);
	pthread_mutexattr_destroy(&a);
	if (rc)
		return -rc;
	pg->size = sizeof *pg;
	pg->mode = mode;
	/* release: the fields above before the magic that says "ready" */
	atomic_thread_fence(memory_order_release);
	pg->magic = FBUSI_GROUP_MAGIC;
	return 0;
}

/* A new group file, set up whole before anyone can open it: written
 * under a temporary name, then linked into place (which fails if another
 * member was first: theirs stands).  Flocked all along, so the runtime
 * sweep (which removes unlocked group files) leaves it alone. */
static int
create_file(const char *path, uint32_t mode, struct fbusi_err *err)
{
	char tmp[200];
	void *map;
	int fd, rc;

	snprintf(tmp, sizeof tmp, "%s.new-%d", path, (int)getpid());
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return fbusi_fail(err, -errno, "group file %s: %s", tmp,
		                  strerror(errno));
	rc = flock(fd, LOCK_EX) || ftruncate(fd, PAGE) ? -errno : 0;
	map = rc ? MAP_FAILED
	         : mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED && !rc)
		rc = -errno;
	if (!rc) {
		rc = init_page(map, mode);
		munmap(map, PAGE);
	}
	if (!rc && link(tmp, path) != 0 && errno != EEXIST)
		rc = -errno;
	unlink(tmp);
	close(fd);
	if (rc)
		return fbusi_fail(err, rc, "group file %s: %s", path,
		                  strerror(-rc));
	return 0;
}

/* Where u's group files are and how their names start: "<name>." plus,
 * for a dir= bus, the dir's hash and "." (see fbusi_group_join). */
static int
group_prefix(const struct fbusi_uri *u, char *dir, size_t dn, char *prefix,
             size_t pn, struct fbusi_err *err)
{
	struct fbusi_uri local = *u;
	char path[200];
	char *slash;
	int rc;

	local.dir[0] = '\0';
	rc = fbusi_bus_path(&local, "", path, sizeof path, err);
	if (rc)
		return rc;
	slash = strrchr(path, '/');
	*slash = '\0';
	snprintf(dir, dn, "%s", path);
	if (u->dir[0])
		snprintf(prefix, pn, "%s.%08x.group-", u->name,
		         fbusi_crc32c(0, u->dir, strlen(u->dir)));
	else
		snprintf(prefix, pn, "%s.group-", u->name);
	return 0;
}

/* Subscribers holding the file's flock: its members (/proc/locks lists
 * "FLOCK ADVISORY READ pid maj:min:inode"). */
static uint32_t
count_members(const struct stat *st)
{
	char want[64], line[256];
	uint32_t n = 0;
	FILE *f = fopen("/proc/locks", "re");

	if (!f)
		return 0;
	snprintf(want, sizeof want, "%02x:%02x:%" PRIu64 " ", major(st->st_dev),
	         minor(st->st_dev), (uint64_t)st->st_ino);
	while (fgets(line, sizeof line, f))
		if (strstr(line, "FLOCK") && strstr(line, want) &&
		    !strstr(line, "->"))
			n++;
	fclose(f);
	return n;
}

static int
cmp_info(const void *a, const void *b)
{
	return strcmp(((const struct fbus_group_info *)a)->name,
	              ((const struct fbus_group_info *)b)->name);
}

int
fbusi_group_list(const struct fbusi_uri *u, struct fbus_group_info *out,
                 size_t n, struct fbusi_err *err)
{
	char dir[200], prefix[FBUSI_NAME_MAX + 24];
	struct fbus_group_info *all = NULL;
	size_t count = 0, cap = 0, plen;
	struct dirent *e;
	DIR *d;
	int rc = group_prefix(u, dir, sizeof dir, prefix, sizeof prefix, err);

	if (rc)
		return rc;
	plen = strlen(prefix);
	d = opendir(dir);
	if (!d)
		return 0; /* no runtime dir: no groups */
	while ((e = readdir(d))) {
		struct fbus_group_info gi;
		struct fbusi_group_page *pg;
		const char *name = e->d_name + plen;
		struct stat st;
		void *map;
		int fd;

		if (strncmp(e->d_name, prefix, plen) ||
		    !fbusi_group_name_valid(name))
			continue;
		memset(&gi, 0, sizeof gi);
		fd = openat(dirfd(d), e->d_name,
		            O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
		    st.st_uid != geteuid() || st.st_size != PAGE ||
		    (map = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0)) ==
		            MAP_FAILED) {
			close(fd);
			continue;
		}
		pg = map;
		if (pg->magic == FBUSI_GROUP_MAGIC && pg->size == sizeof *pg) {
			snprintf(gi.name, sizeof gi.name, "%s", name);
			gi.frames = atomic_load(&pg->frames);
			gi.skipped = atomic_load(&pg->skipped);
			gi.members = count_members(&st);
			gi.mode = pg->mode;
			if (count == cap) {
				void *p = realloc(all, (cap = cap ? 2 * cap : 8) *
				                       sizeof *all);
				if (!p) {
					munmap(map, PAGE);
					close(fd);
					break;
				}
				all = p;
			}
			all[count++] = gi;
		}
		munmap(map, PAGE);
		close(fd);
	}
	closedir(d);
	if (count)
		qsort(all, count, sizeof *all, cmp_info);
	for (size_t i = 0; i < count && i < n; i++)
		out[i] = all[i];
	free(all);
	return (int)count;
}

int
fbusi_group_join(struct fbusi_group *g, const struct fbusi_uri *u,
                 const char *name, uint32_t mode, struct fbusi_err *err)
{
	char suffix[20 + FBUSI_GROUP_NAME_MAX + 1];
	struct fbusi_uri local;
	struct stat st;
	void *map;
	bool alone = false;
	int fd = -1, rc;

	g->fd = -1;
	g->pg = NULL;
	/* in our own runtime dir, always: a dir= bus's directory may be
	 * another uid's (shared buses), and members are of one uid; the
	 * directory's hash keeps two dir= buses of one name apart */
	local = *u;
	local.dir[0] = '\0';
	if (u->dir[0])
		snprintf(suffix, sizeof suffix, ".%08x.group-%s",
		         fbusi_crc32c(0, u->dir, strlen(u->dir)), name);
	else
		snprintf(suffix, sizeof suffix, ".group-%s", name);
	rc = fbusi_bus_dir_ensure(&local, false, err);
	if (rc == 0)
		rc = fbusi_bus_path(&local, suffix, g->path, sizeof g->path,
		                    err);
	if (rc)
		return rc;
	for (int tries = 0;; tries++) {
		if (tries == 100)
			return fbusi_fail(err, FBUS_EBUSY, "group file %s "
			                  "keeps going away", g->path);
		fd = open(g->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT) {
			rc = create_file(g->path, mode, err);
			if (rc)
				return rc;
			continue;
		}
		if (fd < 0)
			return fbusi_fail(err, -errno, "group file %s: %s",
			                  g->path, strerror(errno));
		/* members hold it shared; the last one leaving removes the
		 * file only with it exclusive: linked under our lock, it
		 * stays.  Exclusive at once: nobody is a member, so what the
		 * file says is a dead group's (its last member killed) */
		alone = flock(fd, LOCK_EX | LOCK_NB) == 0;
		if ((!alone && flock(fd, LOCK_SH) != 0) || fstat(fd, &st) != 0) {
			rc = -errno;
			close(fd);
			return fbusi_fail(err, rc, "group file %s: %s",
			                  g->path, strerror(-rc));
		}
		if (st.st_nlink > 0)
			break;
		close(fd); /* removed before we locked it: again */
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) || st.st_size != PAGE) {
		close(fd);
		return fbusi_fail(err, FBUS_EACCES, "group file %s is not a "
		                  "framebus group file of ours", g->path);
	}
	map = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		rc = -errno;
		close(fd);
		return fbusi_fail(err, rc, "group file %s: mmap: %s", g->path,
		                  strerror(-rc));
	}
	g->pg = map;
	if (alone) {
		/* a new group under the old name: its mode and counts are
		 * ours to set, its mutex may be a dead member's */
		rc = init_page(g->pg, mode);
		if (rc == 0 && flock(fd, LOCK_SH) != 0)
			rc = -errno;
		if (rc) {
			munmap(map, PAGE);
			close(fd);
			g->pg = NULL;
			return fbusi_fail(err, rc, "group file %s: %s",
			                  g->path, strerror(-rc));
		}
	}
	if (g->pg->magic != FBUSI_GROUP_MAGIC || g->pg->size != sizeof *g->pg) {
		munmap(map, PAGE);
		close(fd);
		g->pg = NULL;
		return fbusi_fail(err, FBUS_EPROTO, "group file %s: not a "
		                  "framebus group of this version", g->path);
	}
	if (g->pg->mode != mode) {
		/* a latest member's claim means nothing to the producer's
		 * queue: mixed, a frame could go to one of each */
		rc = fbusi_fail(err, FBUS_EINVAL, "group '%s' is a %s-mode "
		                "group; a %s-mode subscriber cannot join it "
		                "(use another group name)", name,
		                g->pg->mode == FBUS_MODE_EVERY ? "every" : "latest",
		                mode == FBUS_MODE_EVERY ? "every" : "latest");
		munmap(map, PAGE);
		close(fd);
		g->pg = NULL;
		return rc;
	}
	snprintf(g->name, sizeof g->name, "%s", name);
	g->dropped_seen = 0;
	g->fd = fd;
	return 0;
}

void
fbusi_group_leave(struct fbusi_group *g)
{
	if (g->fd < 0)
		return;
	munmap(g->pg, PAGE);
	g->pg = NULL;
	/* nobody else holds it: we are the last member */
	if (flock(g->fd, LOCK_EX | LOCK_NB) == 0)
		unlink(g->path);
	close(g->fd);
	g->fd = -1;
}

int
fbusi_group_lock(struct fbusi_group *g, int64_t deadline)
{
	int rc;

	if (deadline == INT64_MAX) {
		rc = pthread_mutex_lock(&g->pg->take);
	} else {
		/* timedlock on CLOCK_REALTIME, not clocklock: sanitizers
		 * see the former (GCC 12's TSan does not intercept
		 * clocklock and reports our unlock as unpaired).  Callers
		 * wait at most a 10 ms slice (shm_next), so a jump of the
		 * wall clock stretches one slice at most. */
		int64_t left = deadline - fbus_now_mono_ns();
		int64_t at = fbus_now_real_ns() + (left > 0 ? left : 0);
		struct timespec ts = { at / 1000000000, at % 1000000000 };

		rc = pthread_mutex_timedlock(&g->pg->take, &ts);
	}
	if (rc == EOWNERDEAD) {
		/* the member holding it died (kill -9): the state it guards
		 * is only "who waits", nothing to repair */
		pthread_mutex_consistent(&g->pg->take);
		rc = 0;
	}
	return rc == 0 ? 0 : FBUS_ETIMEDOUT;
}

void
fbusi_group_unlock(struct fbusi_group *g)
{
	pthread_mutex_unlock(&g->pg->take);
}

/*
 * selfheal.c - zkcached rebuilding its cache when someone removes or
 * replaces it underneath (issue 16): every file in it removed, the
 * directory deleted or a volume recreated under a sidecar, one file
 * replaced by a foreign one. The publisher knows the identity of every
 * file it wrote and zkh_pub_check compares them with what the paths name
 * now; this file decides when to ask: promptly, on an inotify event about
 * one of our names in the cache directory (deleted, moved, attributes
 * changed, created by someone else) or about the directory itself (in it,
 * or its name in the parent); after every publish; and every
 * ZKD_SELFHEAL_CHECK_MS as a backstop. Damage found makes a publish due
 * at once; that publish (zkh_pub_publish) rebuilds the directory, the
 * writer lock, the master and the generation file, writes a complete
 * snapshot and bumps the old generation file so running processes reopen.
 * The status file is rewritten when it is missing or not ours. Our own
 * publishes also produce events (the renames of hosts.mdb and status);
 * they cost one check of a few lstat calls each, and find nothing.
 */
#include "selfheal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "zkcached.h"

#define DIR_EVENTS (IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | \
		    IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define PARENT_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
		       IN_ATTRIB | IN_ONLYDIR)

static struct {
	int ifd;		/* inotify descriptor, -1 if none */
	int wd_dir, wd_parent;	/* watches, -1 if none */
	dev_t dev;		/* the directory wd_dir watches */
	ino_t ino;
	char parent[ZKH_PATH_MAX];
	char base[ZKH_PATH_MAX];	/* the cache's name in parent */
	uint64_t check_at;	/* next periodic check, ms */
	uint64_t publishes;	/* d->b.publishes last seen */
	uint64_t damaged_at;	/* ms damage was first seen, 0 if none */
	uint64_t repair_ok_at;	/* ms before which no repair is requested */
	unsigned streak;	/* repairs requested since an intact check */
	uint64_t failures;	/* d->b.publish_failures last seen */
	unsigned lost_tries;	/* of those, with the directory missing */
} h = { .ifd = -1, .wd_dir = -1, .wd_parent = -1 };

/* "a, b, c" for the ZKH_PUB_* bits. */
static void describe(unsigned bits, char *buf, size_t cap)
{
	static const struct { unsigned bit; const char *what; } names[] = {
		{ ZKH_PUB_DIR_REPLACED, "directory removed or replaced" },
		{ ZKH_PUB_MASTER_GONE, "master or its lock gone" },
		{ ZKH_PUB_GENFILE_GONE, "generation file gone or replaced" },
		{ ZKH_PUB_SNAPSHOT_GONE, "hosts.mdb gone or replaced" },
	};
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (!(bits & names[i].bit) || used >= cap)
			continue;
		used += (size_t)snprintf(buf + used, cap - used, "%s%s",
					 used ? ", " : "", names[i].what);
	}
}

/* Put the directory watch on the directory the path names now (after it
 * was replaced); a missing directory is left unwatched until recreated. */
static void arm_dir_watch(struct zkd *d)
{
	struct stat st;

	if (h.ifd < 0 || lstat(d->cfg.cache, &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	if (h.wd_dir >= 0 && st.st_dev == h.dev && st.st_ino == h.ino)
		return;
	if (h.wd_dir >= 0)
		inotify_rm_watch(h.ifd, h.wd_dir);	/* may be gone already */
	h.wd_dir = inotify_add_watch(h.ifd, d->cfg.cache, DIR_EVENTS | IN_DONT_FOLLOW);
	if (h.wd_dir < 0) {
		zkd_log(ZKH_LOG_WARN, "cannot watch %s: %s; checking it every %d s",
			d->cfg.cache, strerror(errno), ZKD_SELFHEAL_CHECK_MS / 1000);
		return;
	}
	h.dev = st.st_dev;
	h.ino = st.st_ino;
}

/* Compare the cache with what we wrote; make a publish due if damaged. */
static void check(struct zkd *d, const char *why)
{
	char what[160];
	struct zkh_status st;
	unsigned bits = zkh_pub_check(d->pub);
	uint64_t now = zkd_now_ms();

	if (!bits) {
		h.streak = 0;
	} else if (now < h.repair_ok_at) {
		/* damaged again and again: look again when a repair is due */
		h.check_at = h.repair_ok_at;
	} else {
		describe(bits, what, sizeof what);
		zkd_log(ZKH_LOG_WARN, "cache %s damaged (%s; noticed by %s): "
			"publishing a complete snapshot again", d->cfg.cache, what, why);
		if (!h.damaged_at)
			h.damaged_at = now;
		if (++h.streak >= ZKD_SELFHEAL_BURST)
			h.repair_ok_at = now + ZKD_SELFHEAL_GAP_MS;
		batch_request_publish(&d->b, zkd_now_ms());
	}
	/* Not ours (or none): the writer's heartbeat would fix it within
	 * ZKH_STATUS_HEARTBEAT_S; do it now. */
	if (zkh_status_read(d->cfg.cache, &st) != 0 || st.pid != getpid())
		report_mark(&d->rep);
	arm_dir_watch(d);
}

int selfheal_init(struct zkd *d)
{
	const char *slash = strrchr(d->cfg.cache, '/');
	int rc;

	h.publishes = d->b.publishes;
	h.check_at = zkd_now_ms() + ZKD_SELFHEAL_CHECK_MS;
	/* The config requires an absolute path; "/" itself has no parent. */
	if (slash && slash[1]) {
		snprintf(h.parent, sizeof h.parent, "%.*s",
			 slash == d->cfg.cache ? 1 : (int)(slash - d->cfg.cache),
			 d->cfg.cache);
		snprintf(h.base, sizeof h.base, "%s", slash + 1);
	}
	h.ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (h.ifd < 0) {
		rc = -errno;
		zkd_log(ZKH_LOG_WARN, "inotify: %s; checking the cache every %d s only",
			strerror(-rc), ZKD_SELFHEAL_CHECK_MS / 1000);
		return rc;
	}
	if (h.base[0]) {
		h.wd_parent = inotify_add_watch(h.ifd, h.parent, PARENT_EVENTS);
		if (h.wd_parent < 0)
			zkd_log(ZKH_LOG_WARN, "cannot watch %s: %s", h.parent,
				strerror(errno));
	}
	arm_dir_watch(d);
	return 0;
}

void selfheal_free(void)
{
	if (h.ifd >= 0)
		close(h.ifd);
	h.ifd = h.wd_dir = h.wd_parent = -1;
}

int selfheal_fd(void)
{
	return h.ifd;
}

/* True if the event concerns something we publish. */
static bool ours(const struct inotify_event *ev)
{
	static const char *const names[] = {
		ZKH_SNAPSHOT_FILE, ZKH_GENERATION_FILE, ZKH_STATUS_FILE, ".master",
	};

	if (ev->mask & IN_Q_OVERFLOW)
		return true;	/* events lost: look */
	if (ev->wd == h.wd_parent)
		return ev->len && strcmp(ev->name, h.base) == 0;
	if (ev->wd != h.wd_dir)
		return false;
	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
		return true;
	if (!ev->len)
		return (ev->mask & IN_ATTRIB) != 0;	/* the directory's mode */
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(ev->name, names[i]) == 0)
			return true;
	return false;
}

void selfheal_on_events(struct zkd *d)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool look = false;
	ssize_t n;

	while ((n = read(h.ifd, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			if (ours(ev))
				look = true;
			if (ev->wd == h.wd_dir && (ev->mask & IN_IGNORED))
				h.wd_dir = -1;	/* the directory is gone */
			p += sizeof *ev + ev->len;
		}
	}
	if (look)
		check(d, "inotify");
}

/* A publish failed (or succeeded) since the last look: count failures
 * while the directory is missing. ZKD_EXIT_CACHE_LOST once too many. */
static int count_lost_dir(struct zkd *d)
{
	struct stat st;
	int err;

	if (d->b.publish_failures == h.failures)
		return 0;
	h.failures = d->b.publish_failures;
	err = lstat(d->cfg.cache, &st) < 0 ? errno : 0;
	if (!h.failures || err != ENOENT) {
		h.lost_tries = 0;
		return 0;
	}
	if (++h.lost_tries < ZKD_SELFHEAL_LOST_DIR_TRIES)
		return 0;
	zkd_log(ZKH_LOG_ERR, "cache directory %s is gone and %u attempts in a row to "
		"create it again failed (%s): exiting with status %d so that the "
		"service manager restarts zkcached (systemd's CacheDirectory= "
		"recreates it)", d->cfg.cache, h.lost_tries, d->b.publish_err.text,
		ZKD_EXIT_CACHE_LOST);
	return ZKD_EXIT_CACHE_LOST;
}

int selfheal_tick(struct zkd *d, uint64_t now)
{
	if (d->b.publishes != h.publishes) {
		unsigned bits = zkh_pub_repaired(d->pub);

		h.publishes = d->b.publishes;
		if (bits) {
			char what[160], when[64] = "found by the publish itself";

			describe(bits, what, sizeof what);
			if (h.damaged_at)
				snprintf(when, sizeof when, "%" PRIu64 " ms after it was noticed",
					 now - h.damaged_at);
			zkd_log(ZKH_LOG_INFO, "cache %s rebuilt (%s): generation %" PRIu64
				" published, %s", d->cfg.cache, what,
				zkh_pub_generation(d->pub), when);
			report_mark(&d->rep);
		}
		h.damaged_at = 0;
		arm_dir_watch(d);
	}
	if (now >= h.check_at) {
		h.check_at = now + ZKD_SELFHEAL_CHECK_MS;
		check(d, "the periodic check");
	}
	return count_lost_dir(d);
}

uint64_t selfheal_deadline(void)
{
	return h.check_at;
}

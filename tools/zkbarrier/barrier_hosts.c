/*
 * barrier_hosts.c - `zkbarrier hosts NAME...`: wait until every name
 * resolves through this host's own NSS chain, exactly as the services
 * started next will resolve it (getaddrinfo, zk bypass cleared), so a
 * service never meets a negative answer (and a JVM never caches one for
 * ten seconds).
 *
 * NSS has no change notification, so this re-resolves the names still
 * missing whenever the local cache may have changed: an inotify watch on
 * the cache directory wakes it when zkcached renames a new hosts.mdb into
 * place, and the generation counter (mapped read-only, like the NSS
 * module does) is checked every TICK_MS in case the bump lands after the
 * rename. Every FALLBACK_MS the names are re-resolved anyway, for names
 * that come from another NSS source (files, dns) or a cache directory
 * that does not exist yet. Every ZKC_PROGRESS_MS it says on stderr which
 * names still do not resolve and what the local cache looks like.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zkhosts/snapshot.h"
#include "zkhosts/zkconn.h"
#include "barrier.h"

#define TICK_MS 20
#define FALLBACK_MS 1000

struct cache_watch {
	const char *dir;
	int ifd;			/* inotify, -1 until the dir exists */
	const volatile struct zkh_genfile *gen;	/* mapped, or NULL */
	uint64_t last_gen;
};

static void watch_try_open(struct cache_watch *w)
{
	char path[ZKH_PATH_MAX];
	struct stat st;
	void *map;
	int fd;

	if (w->ifd < 0) {
		w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (w->ifd >= 0 &&
		    inotify_add_watch(w->ifd, w->dir, IN_MOVED_TO | IN_CREATE |
				      IN_CLOSE_WRITE | IN_MODIFY) < 0) {
			close(w->ifd);
			w->ifd = -1;
		}
	}
	if (w->gen)
		return;
	if (snprintf(path, sizeof(path), "%s/%s", w->dir,
		     ZKH_GENERATION_FILE) >= (int)sizeof(path))
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	/* Map only a complete file: touching past its end would SIGBUS. */
	if (fstat(fd, &st) < 0 || st.st_size < ZKH_GENFILE_SIZE) {
		close(fd);
		return;
	}
	map = mmap(NULL, ZKH_GENFILE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return;
	if (memcmp(map, ZKH_GENFILE_MAGIC, 8) != 0) {
		munmap(map, ZKH_GENFILE_SIZE);
		return;
	}
	w->gen = map;
	w->last_gen = w->gen->generation;
}

static void watch_close(struct cache_watch *w)
{
	if (w->ifd >= 0)
		close(w->ifd);
	if (w->gen)
		munmap((void *)w->gen, ZKH_GENFILE_SIZE);
}

/* Sleep up to TICK_MS; true if the cache changed (event or generation). */
static bool watch_changed(struct cache_watch *w)
{
	struct pollfd p = { .fd = w->ifd, .events = POLLIN };
	bool changed = false;

	if (w->ifd >= 0) {
		if (poll(&p, 1, TICK_MS) > 0) {
			char buf[4096];

			while (read(w->ifd, buf, sizeof(buf)) > 0)
				;
			changed = true;
		}
	} else {
		usleep(TICK_MS * 1000);
	}
	if (w->gen && w->gen->generation != w->last_gen) {
		w->last_gen = w->gen->generation;
		changed = true;
	}
	return changed;
}

static bool resolves(const char *name)
{
	struct addrinfo hints, *res = NULL;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(name, NULL, &hints, &res) != 0)
		return false;
	freeaddrinfo(res);
	return true;
}

/* "still waiting: names not yet resolving: a, b (why the cache cannot
 * answer)" on stderr. */
static void say_waiting(const struct cache_watch *w, char *const *names,
			int n, const bool *done)
{
	fprintf(stderr, "zkbarrier: still waiting: names not yet resolving:");
	for (int i = 0, k = 0; i < n; i++)
		if (!done[i])
			fprintf(stderr, "%s %s", k++ ? "," : "", names[i]);
	if (!w->gen)
		fprintf(stderr, " (no zkhosts cache in %s yet: is zkcached "
			"running?)\n", w->dir);
	else
		fprintf(stderr, " (zkhosts cache %s at generation %llu: not "
			"registered in ZooKeeper yet?)\n", w->dir,
			(unsigned long long)w->gen->generation);
}

int barrier_hosts(const char *cache_dir, char *const *names, int n,
		  int64_t deadline, bool verbose)
{
	struct cache_watch w = { .dir = cache_dir, .ifd = -1 };
	bool *done = calloc((size_t)n, sizeof(bool));
	int64_t last_full = 0, next_progress = zkc_now_ms() + ZKC_PROGRESS_MS;
	int left = n, rc;

	if (!done) {
		fprintf(stderr, "zkbarrier: out of memory\n");
		return ZKC_EXIT_OTHER;
	}
	/* The point is the real chain, zk included. */
	unsetenv(ZKH_NSS_BYPASS_ENV);
	for (bool changed = true;; changed = watch_changed(&w)) {
		int64_t now = zkc_now_ms();

		if (changed || now - last_full >= FALLBACK_MS) {
			last_full = now;
			watch_try_open(&w);
			for (int i = 0; i < n; i++) {
				if (done[i] || !resolves(names[i]))
					continue;
				done[i] = true;
				left--;
				if (verbose)
					fprintf(stderr, "zkbarrier: %s "
						"resolves\n", names[i]);
			}
		}
		if (left == 0) {
			rc = ZKC_EXIT_OK;
			break;
		}
		if (zkc_now_ms() >= deadline) {
			fprintf(stderr, "zkbarrier: timed out: still not "
				"resolving:");
			for (int i = 0; i < n; i++)
				if (!done[i])
					fprintf(stderr, " %s", names[i]);
			fputc('\n', stderr);
			rc = ZKC_EXIT_FALSE;
			break;
		}
		if (zkc_now_ms() >= next_progress) {
			say_waiting(&w, names, n, done);
			next_progress = zkc_now_ms() + ZKC_PROGRESS_MS;
		}
	}
	watch_close(&w);
	free(done);
	return rc;
}

/*
 * stress_lookup - hammer libnss_zk.so.2 (dlopened, entry points called
 * directly, as glibc does) from many threads while the cache changes
 * underneath, and check every answer against the model (model.h).
 *
 *   stress_lookup [--threads N] [--fork-storm] [--fd-chaos] LIB SECONDS
 *                 MODEL...
 *
 * Each thread loops over random names: a stable name forward
 * (gethostbyname4_r and gethostbyname2_r, exact address) and reverse
 * (gethostbyaddr_r, exact name), and a churning name forward (one of its
 * real values). --fork-storm: the main thread meanwhile forks bursts of 8
 * children at once, each checking 20 rounds right after fork (a child
 * of a multi-threaded process whose module state was mid-swap).
 * --fd-chaos: no threads; between lookups every descriptor above 2 is
 * closed and /dev/null reopened onto the freed numbers.
 * Prints one line of figures:
 *   lookups N rate N/s errors N churn_answers N churn_changes N forks N
 * churn_changes counts, per thread and churning name, how often the
 * answer differed from the previous one (publishes actually observed).
 * SIGTERM ends the run early, figures printed as usual.
 * Exits 0 if there were no errors and at least one churn change was
 * observed (when churning names are given), 1 otherwise, 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "model.h"

#define MAX_THREADS 128
#define STORM_CHILDREN 8

static struct zkh_model model;
static struct zkh_entry ent;
static atomic_long lookups, errors, churn_answers, churn_changes;
static atomic_int stop;
static volatile sig_atomic_t term;

static void on_term(int sig)
{
	(void)sig;
	term = 1;
}

static void fail(const char *what, const char *name)
{
	if (atomic_fetch_add(&errors, 1) < 20)
		fprintf(stderr, "error: %s (%s)\n", what, name);
}

/* Check stable name i forward and reverse, and churning name c forward.
 * last[] holds this thread's previous answer per churning name. */
static void round_once(long i, unsigned c, int *last)
{
	char name[96], buf[1024];
	struct gaih_addrtuple *pat = NULL;
	struct hostent h;
	int err, herr, value = -1;
	int32_t ttl;
	uint8_t a[4];
	enum nss_status st;
	long n = 3;

	snprintf(name, sizeof(name), "%s%ld", model.stable_prefix, i);
	zkh_model_stable_addr(i, a);
	st = ent.name4(name, &pat, buf, sizeof(buf), &err, &herr, &ttl);
	if (!zkh_check_tuples(st, pat, a, &model, 0, &value))
		fail("gethostbyname4_r stable", name);
	st = ent.name2(name, AF_INET, &h, buf, sizeof(buf), &err, &herr);
	if (st != NSS_STATUS_SUCCESS || !h.h_addr_list[0] ||
	    h.h_addr_list[1] || memcmp(h.h_addr_list[0], a, 4) != 0)
		fail("gethostbyname2_r stable", name);
	st = ent.byaddr(a, 4, AF_INET, &h, buf, sizeof(buf), &err, &herr);
	if (st != NSS_STATUS_SUCCESS || strcmp(h.h_name, name) != 0)
		fail("gethostbyaddr_r stable", name);
	if (model.nchurn) {
		const char *cn = model.churn[c].name;

		pat = NULL;
		st = ent.name4(cn, &pat, buf, sizeof(buf), &err, &herr, &ttl);
		if (!zkh_check_tuples(st, pat, NULL, &model, c, &value)) {
			fail("churning name answered something it never was",
			     cn);
		} else {
			atomic_fetch_add(&churn_answers, 1);
			if (last[c] >= 0 && last[c] != value)
				atomic_fetch_add(&churn_changes, 1);
			last[c] = value;
		}
		n++;
	}
	atomic_fetch_add(&lookups, n);
}

static void pick(unsigned *seed, long *i, unsigned *c)
{
	*i = (long)(((unsigned long)rand_r(seed) << 16 ^
		     (unsigned long)rand_r(seed)) %
		    (unsigned long)model.stable_count);
	*c = model.nchurn ? (unsigned)rand_r(seed) % model.nchurn : 0;
}

static void *worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	int last[ZKH_MODEL_MAX_CHURN];
	unsigned c;
	long i;

	memset(last, 0xff, sizeof(last));
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		pick(&seed, &i, &c);
		round_once(i, c, last);
	}
	return NULL;
}

/* Close every descriptor above 2, then reopen /dev/null onto them. */
static void fd_chaos(void)
{
	int fd, n;

	for (fd = 3; fd < 1024; fd++)
		close(fd);
	for (n = 0; n < 16; n++)
		if (open("/dev/null", O_RDONLY) < 0)
			break;
}

/* One burst of children that check right after fork; returns forks. */
static int fork_burst(unsigned *seed)
{
	pid_t pids[STORM_CHILDREN];
	int k, n = 0, status;

	for (k = 0; k < STORM_CHILDREN; k++) {
		pids[k] = fork();
		if (pids[k] == 0) {
			int last[ZKH_MODEL_MAX_CHURN], r;
			long before = atomic_load(&errors), i;
			unsigned c;

			memset(last, 0xff, sizeof(last));
			for (r = 0; r < 20; r++) {
				pick(seed, &i, &c);
				round_once(i, c, last);
			}
			_exit(atomic_load(&errors) == before ? 0 : 1);
		}
		if (pids[k] < 0)
			fail("fork", strerror(errno));
		(void)rand_r(seed);
	}
	for (k = 0; k < STORM_CHILDREN; k++) {
		if (pids[k] <= 0)
			continue;
		n++;
		if (waitpid(pids[k], &status, 0) != pids[k] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail("lookups in a forked child", "fork storm");
	}
	return n;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void)
{
	fprintf(stderr, "usage: stress_lookup [--threads N] [--fork-storm] "
		"[--fd-chaos] LIB SECONDS MODEL...\n");
	return 2;
}

int main(int argc, char **argv)
{
	int threads = 16, storm = 0, chaos = 0, i, forks = 0, ok;
	pthread_t tid[MAX_THREADS];
	unsigned seed = 12345;
	double start, end, secs;

	while (argc > 1 && strncmp(argv[1], "--", 2) == 0) {
		if (strcmp(argv[1], "--threads") == 0 && argc > 2) {
			threads = atoi(argv[2]);
			argv++, argc--;
		} else if (strcmp(argv[1], "--fork-storm") == 0) {
			storm = 1;
		} else if (strcmp(argv[1], "--fd-chaos") == 0) {
			chaos = 1;
		} else {
			return usage();
		}
		argv++, argc--;
	}
	if (argc < 4 || threads < 1 || threads > MAX_THREADS)
		return usage();
	for (i = 3; i < argc; i++)
		if (zkh_model_parse(&model, argv[i]) < 0)
			return 2;
	if (!model.stable_count) {
		fprintf(stderr, "a stable:PREFIX:COUNT model is required\n");
		return 2;
	}
	if (zkh_model_load(argv[1], &ent) < 0)
		return 2;
	signal(SIGTERM, on_term);
	start = now();
	end = start + atof(argv[2]);
	if (chaos) {
		int last[ZKH_MODEL_MAX_CHURN];
		unsigned c;
		long k;

		memset(last, 0xff, sizeof(last));
		while (now() < end && !term) {
			pick(&seed, &k, &c);
			round_once(k, c, last);
			fd_chaos();
		}
	} else {
		for (i = 0; i < threads; i++)
			if (pthread_create(&tid[i], NULL, worker,
					   (void *)(uintptr_t)(i + 1)) != 0) {
				fprintf(stderr, "pthread_create failed\n");
				return 2;
			}
		while (now() < end && !term) {
			if (storm)
				forks += fork_burst(&seed);
			usleep(storm ? 20000 : 50000);
		}
		atomic_store(&stop, 1);
		for (i = 0; i < threads; i++)
			pthread_join(tid[i], NULL);
	}
	secs = now() - start;
	printf("lookups %ld rate %.0f/s errors %ld churn_answers %ld "
	       "churn_changes %ld forks %d\n", atomic_load(&lookups),
	       (double)atomic_load(&lookups) / secs, atomic_load(&errors),
	       atomic_load(&churn_answers), atomic_load(&churn_changes), forks);
	ok = atomic_load(&errors) == 0 &&
	    (model.nchurn == 0 || atomic_load(&churn_changes) > 0);
	return ok ? 0 : 1;
}

/*
 * nss_stress - test helper: hammer libnss_zk.so.2 (dlopened) while the
 * cache is being republished, and check every answer.
 *
 *   nss_stress [--threads N] [--fork|--fork-paused] [--fd-chaos] LIB
 *              SECONDS PREFIX COUNT CHURN
 *
 * The cache must hold COUNT stable records PREFIX0..PREFIX<COUNT-1> with
 * addresses 10.1.<i/256>.<i%256>, and a record CHURN whose single address
 * alternates between 10.255.0.1 and 10.255.0.2 (zkh-publish --churn).
 * N threads (default 8) resolve for SECONDS: forward (gethostbyname4_r,
 * gethostbyname2_r) and reverse for stable records must always answer
 * exactly; CHURN must always answer one of its two values. --fork: the
 * main thread forks children throughout that do the same checks (lookups
 * after fork in a multi-threaded process). --fork-paused: the same, but
 * the worker threads are parked between lookups while the main thread
 * forks (for sanitizer runtimes whose allocator is not fork-safe: a
 * child forked while another thread is inside their malloc deadlocks in
 * the runtime, whatever the module does). --fd-chaos: single thread
 * that, between lookups, closes every descriptor above 2 and reopens
 * /dev/null onto the freed numbers (the application closing and reusing
 * descriptors behind the module's back).
 * Prints "lookups N errors N churn1 N churn2 N forks N", exits 0 if there
 * were no errors and both churn values were seen, 1 otherwise.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <nss.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef enum nss_status (*name4_fn)(const char *, struct gaih_addrtuple **,
				    char *, size_t, int *, int *, int32_t *);
typedef enum nss_status (*name2_fn)(const char *, int, struct hostent *,
				    char *, size_t, int *, int *);
typedef enum nss_status (*addr_fn)(const void *, socklen_t, int,
				   struct hostent *, char *, size_t, int *,
				   int *);

static name4_fn name4;
static name2_fn name2;
static addr_fn byaddr;
static const char *prefix, *churn;
static int count;
static atomic_long lookups, errors, churn1, churn2;
static atomic_int stop;
static atomic_int pause_req, parked;

static void fail(const char *what, const char *name)
{
	if (atomic_fetch_add(&errors, 1) < 20)
		fprintf(stderr, "error: %s (%s)\n", what, name);
}

static void stable_addr(int i, uint8_t a[4])
{
	a[0] = 10;
	a[1] = 1;
	a[2] = (uint8_t)(i / 256);
	a[3] = (uint8_t)(i % 256);
}

/* One round of checks for record i; returns nothing, counts errors. */
static void round_once(int i)
{
	char name[64], buf[1024];
	struct gaih_addrtuple *pat = NULL;
	struct hostent h;
	int err, herr;
	int32_t ttl;
	uint8_t a[4];
	enum nss_status st;

	snprintf(name, sizeof(name), "%s%d", prefix, i);
	stable_addr(i, a);
	st = name4(name, &pat, buf, sizeof(buf), &err, &herr, &ttl);
	if (st != NSS_STATUS_SUCCESS || !pat || pat->next ||
	    pat->family != AF_INET || memcmp(pat->addr, a, 4) != 0)
		fail("gethostbyname4_r stable", name);
	st = name2(name, AF_INET, &h, buf, sizeof(buf), &err, &herr);
	if (st != NSS_STATUS_SUCCESS || !h.h_addr_list[0] ||
	    h.h_addr_list[1] || memcmp(h.h_addr_list[0], a, 4) != 0)
		fail("gethostbyname2_r stable", name);
	st = byaddr(a, 4, AF_INET, &h, buf, sizeof(buf), &err, &herr);
	if (st != NSS_STATUS_SUCCESS || strcmp(h.h_name, name) != 0)
		fail("gethostbyaddr_r stable", name);
	pat = NULL;
	st = name4(churn, &pat, buf, sizeof(buf), &err, &herr, &ttl);
	if (st != NSS_STATUS_SUCCESS || !pat || pat->next ||
	    pat->family != AF_INET) {
		fail("gethostbyname4_r churn", churn);
	} else {
		const uint8_t *p = (const uint8_t *)pat->addr;

		if (p[0] == 10 && p[1] == 255 && p[2] == 0 && p[3] == 1)
			atomic_fetch_add(&churn1, 1);
		else if (p[0] == 10 && p[1] == 255 && p[2] == 0 && p[3] == 2)
			atomic_fetch_add(&churn2, 1);
		else
			fail("churn answered a value it never had", churn);
	}
	atomic_fetch_add(&lookups, 4);
}

static void *worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;

	while (!atomic_load(&stop)) {
		if (atomic_load(&pause_req)) {
			atomic_fetch_add(&parked, 1);
			while (atomic_load(&pause_req))
				usleep(100);
			atomic_fetch_sub(&parked, 1);
			continue;
		}
		round_once((int)(rand_r(&seed) % (unsigned)count));
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

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int threads = 8, do_fork = 0, paused = 0, chaos = 0, i, forks = 0;
	pthread_t tid[64];
	double end;
	void *lib;

	while (argc > 1 && strncmp(argv[1], "--", 2) == 0) {
		if (strcmp(argv[1], "--threads") == 0 && argc > 2) {
			threads = atoi(argv[2]);
			argv++, argc--;
		} else if (strcmp(argv[1], "--fork") == 0) {
			do_fork = 1;
		} else if (strcmp(argv[1], "--fork-paused") == 0) {
			do_fork = paused = 1;
		} else if (strcmp(argv[1], "--fd-chaos") == 0) {
			chaos = 1;
		} else {
			fprintf(stderr, "unknown option %s\n", argv[1]);
			return 2;
		}
		argv++, argc--;
	}
	if (argc != 6 || threads < 1 || threads > 64) {
		fprintf(stderr, "usage: nss_stress [--threads N] [--fork|"
			"--fork-paused] [--fd-chaos] LIB SECONDS PREFIX COUNT "
			"CHURN\n");
		return 2;
	}
	lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "%s\n", dlerror());
		return 2;
	}
	name4 = (name4_fn)dlsym(lib, "_nss_zk_gethostbyname4_r");
	name2 = (name2_fn)dlsym(lib, "_nss_zk_gethostbyname2_r");
	byaddr = (addr_fn)dlsym(lib, "_nss_zk_gethostbyaddr_r");
	if (!name4 || !name2 || !byaddr) {
		fprintf(stderr, "missing entry points\n");
		return 2;
	}
	prefix = argv[3];
	count = atoi(argv[4]);
	churn = argv[5];
	if (count < 1 || count > 65536) {
		fprintf(stderr, "bad COUNT\n");
		return 2;
	}
	end = now() + atof(argv[2]);

	if (chaos) {
		unsigned seed = 1;

		while (now() < end) {
			round_once((int)(rand_r(&seed) % (unsigned)count));
			fd_chaos();
		}
	} else {
		for (i = 0; i < threads; i++)
			if (pthread_create(&tid[i], NULL, worker,
					   (void *)(uintptr_t)(i + 1)) != 0) {
				fprintf(stderr, "pthread_create failed\n");
				return 2;
			}
		while (now() < end) {
			if (do_fork) {
				int status;
				pid_t pid;

				if (paused) {
					atomic_store(&pause_req, 1);
					while (atomic_load(&parked) < threads)
						usleep(100);
				}
				pid = fork();
				if (pid != 0)
					atomic_store(&pause_req, 0);

				if (pid == 0) {
					long before = atomic_load(&errors);
					int k;

					for (k = 0; k < 50; k++)
						round_once(k % count);
					_exit(atomic_load(&errors) == before &&
					      atomic_load(&churn1) +
					      atomic_load(&churn2) > 0 ? 0 : 1);
				}
				if (pid < 0 || waitpid(pid, &status, 0) != pid ||
				    !WIFEXITED(status) ||
				    WEXITSTATUS(status) != 0)
					fail("lookups in a forked child",
					     "fork");
				forks++;
			}
			usleep(50000);
		}
		atomic_store(&stop, 1);
		for (i = 0; i < threads; i++)
			pthread_join(tid[i], NULL);
	}
	printf("lookups %ld errors %ld churn1 %ld churn2 %ld forks %d\n",
	       atomic_load(&lookups), atomic_load(&errors),
	       atomic_load(&churn1), atomic_load(&churn2), forks);
	return atomic_load(&errors) == 0 && atomic_load(&churn1) > 0 &&
	    atomic_load(&churn2) > 0 ? 0 : 1;
}

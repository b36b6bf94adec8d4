/*
 * sig_lookup - lookups from inside a signal handler must not deadlock.
 * A SIGALRM interval timer interrupts the program at a high rate and the
 * handler resolves through libnss_zk.so.2 while the interrupted code is
 * itself somewhere inside the module.
 *
 *   sig_lookup [--rate HZ] LIB SECONDS MODEL...
 *       The main thread resolves stable and churning names through the
 *       module's forward entry points in a loop (so the handler lands in
 *       every part of a lookup, snapshot swaps and reaping included, as
 *       the cache is republished underneath); the handler resolves a
 *       stable and a churning name too. Every answer, in the handler or
 *       not, must be right.
 *   sig_lookup --first-open N LIB MODEL...
 *       Up to N fresh children each dlopen the module, arm a 20 us timer
 *       and make their first lookup, so the handler interrupts module
 *       initialisation and the first open of the cache on the same
 *       thread. The handler may then get UNAVAIL (there is nothing it
 *       could answer from), never a wrong answer and never a hang; after
 *       the first lookup returned it must get the right answer. Every
 *       tenth child arms no timer and instead raises SIGALRM from inside
 *       the module's open of hosts.mdb (this program interposes openat,
 *       exported with -rdynamic), so those children are sure to be
 *       interrupted there, whatever the timer's luck. Stops early once 20 children saw the
 *       handler interrupt the first open.
 *   sig_lookup --gai LIB SECONDS MODEL...
 *       The handler calls getaddrinfo() (glibc, hosts: zk from the real
 *       nsswitch.conf: run in a mount namespace with a private one) while
 *       the main thread only computes. glibc's getaddrinfo is not
 *       async-signal-safe; this shows the module adds no deadlock of its
 *       own when the interrupted code holds no glibc lock.
 *
 * A watchdog (a thread with SIGALRM blocked, or the parent for children)
 * ends the run with exit 3 and "deadlock" if the work does not finish in
 * SECONDS + 60 s. Prints "main N handler N handler_unavail N errors N",
 * exits 0 on no errors, 1 on errors, 2 on bad usage, 3 on a deadlock.
 */
/* This program defines openat(); the fortified inline one must not exist. */
#undef _FORTIFY_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "model.h"

static struct zkh_model model;
static struct zkh_entry ent;
static atomic_long main_lookups, handler_lookups, handler_unavail, errors;
static atomic_int first_done;	/* the main thread's first lookup returned */
static atomic_int use_gai;
static atomic_int raise_in_open;	/* --first-open child: see openat() */
static atomic_uint hseed = 1;

/* Async-signal-safe error report: a counter and, for the first few, a
 * fixed message, the nss_status (-2..1, shown as 0..3) and h_errno written with write(2). */
static void fail(const char *what, enum nss_status st, int herr)
{
	char tail[] = " (status ? h_errno ?)\n";

	tail[9] = (char)('2' + (int)st);	/* '0' is -2 ... '3' is 1 */
	tail[19] = (char)('0' + (herr >= 0 && herr <= 9 ? herr : 9));
	if (atomic_fetch_add(&errors, 1) < 20) {
		(void)!write(2, "error: ", 7);
		(void)!write(2, what, strlen(what));
		(void)!write(2, tail, strlen(tail));
	}
}

/* One forward lookup of stable name i and churning name c through the
 * entry point; `in_handler` allows UNAVAIL before the first lookup
 * returned. Uses only stack buffers: safe in a handler. */
static void check_entry(long i, unsigned c, int in_handler)
{
	char name[96], buf[1024];
	struct gaih_addrtuple *pat = NULL;
	int err, herr, value;
	int32_t ttl;
	uint8_t a[4];
	enum nss_status st;
	size_t plen = strlen(model.stable_prefix), k;
	long d = i;
	char digits[24];
	int nd = 0;

	/* name = prefix + decimal i, without snprintf (not AS-safe). */
	memcpy(name, model.stable_prefix, plen);
	do {
		digits[nd++] = (char)('0' + d % 10);
		d /= 10;
	} while (d);
	for (k = 0; k < (size_t)nd; k++)
		name[plen + k] = digits[nd - 1 - (int)k];
	name[plen + (size_t)nd] = '\0';
	zkh_model_stable_addr(i, a);
	st = ent.name4(name, &pat, buf, sizeof(buf), &err, &herr, &ttl);
	if (in_handler && st == NSS_STATUS_UNAVAIL &&
	    !atomic_load(&first_done)) {
		atomic_fetch_add(&handler_unavail, 1);
		return;
	}
	if (!zkh_check_tuples(st, pat, a, &model, 0, &value))
		fail(in_handler ? "stable name in the handler" :
		     "stable name", st, herr);
	if (model.nchurn) {
		pat = NULL;
		st = ent.name4(model.churn[c].name, &pat, buf, sizeof(buf),
			       &err, &herr, &ttl);
		if (!zkh_check_tuples(st, pat, NULL, &model, c, &value))
			fail(in_handler ? "churning name in the handler" :
			     "churning name", st, herr);
	}
	atomic_fetch_add(in_handler ? &handler_lookups : &main_lookups,
			 model.nchurn ? 2 : 1);
}

static void check_gai(long i)
{
	char name[96];
	struct addrinfo hints, *res = NULL;
	uint8_t a[4];
	size_t plen = strlen(model.stable_prefix);
	int rc;

	/* Small i only (one digit), to build the name without snprintf. */
	memcpy(name, model.stable_prefix, plen);
	name[plen] = (char)('0' + i % 10);
	name[plen + 1] = '\0';
	zkh_model_stable_addr(i % 10, a);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc != 0 || !res || res->ai_next ||
	    memcmp(&((struct sockaddr_in *)res->ai_addr)->sin_addr, a, 4))
		fail("getaddrinfo in the handler", NSS_STATUS_TRYAGAIN, rc < 0 ? -rc : rc);
	if (res)
		freeaddrinfo(res);
	atomic_fetch_add(&handler_lookups, 1);
}

static void on_alarm(int sig)
{
	int saved = errno;
	unsigned s = atomic_fetch_add(&hseed, 2654435761u);

	(void)sig;
	if (atomic_load(&use_gai))
		check_gai((long)(s % 10));
	else
		check_entry((long)(s % (unsigned long)model.stable_count),
			    model.nchurn ? s % model.nchurn : 0, 1);
	errno = saved;
}

static int arm(long usec)
{
	struct sigaction sa;
	struct itimerval it;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		return -1;
	it.it_interval.tv_sec = usec / 1000000;
	it.it_interval.tv_usec = usec % 1000000;
	it.it_value = it.it_interval;
	return setitimer(ITIMER_REAL, &it, NULL);
}

static void disarm(void)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	signal(SIGALRM, SIG_IGN);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double watchdog_secs;

static void *watchdog(void *arg)
{
	(void)arg;
	sleep((unsigned)watchdog_secs);
	fprintf(stderr, "deadlock: no progress for %.0f s (main %ld, "
		"handler %ld lookups)\n", watchdog_secs,
		atomic_load(&main_lookups), atomic_load(&handler_lookups));
	_exit(3);
}

/* The watchdog thread blocks SIGALRM, so only the main thread takes it. */
static int start_watchdog(double secs)
{
	sigset_t set, old;
	pthread_t t;
	int rc;

	watchdog_secs = secs;
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	rc = pthread_create(&t, NULL, watchdog, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0)
		pthread_detach(t);
	return rc;
}

/* Child of --first-open: fresh module, timer armed before the first
 * lookup; `force`: also raise SIGALRM inside the open of hosts.mdb.
 * Exit 0 ok, 1 error; 10 + 0/1 if the handler saw UNAVAIL. */
static int first_open_child(const char *lib, int force)
{
	unsigned seed = (unsigned)getpid();

	if (zkh_model_load(lib, &ent) < 0)
		return 2;
	/* Forced children get no timer: it would usually fire first and make
	 * the handler do the first open, with SIGALRM masked. */
	atomic_store(&raise_in_open, force);
	if (arm(force ? 0 : 20) < 0)
		return 2;
	check_entry(0, 0, 0);
	atomic_store(&first_done, 1);
	check_entry((long)(rand_r(&seed) % (unsigned)model.stable_count), 0,
		    0);
	disarm();
	if (atomic_load(&errors))
		return 1;
	return atomic_load(&handler_unavail) ? 10 : 0;
}

static int first_open(int n, const char *lib)
{
	int k, hits = 0, bad = 0, done = 0;

	for (k = 0; k < n && hits < 20 && bad == 0; k++) {
		int status = 0, waited = 0;
		pid_t pid = fork(), w = 0;

		if (pid < 0) {
			perror("fork");
			return 2;
		}
		if (pid == 0)
			_exit(first_open_child(lib, k % 10 == 0));
		while ((w = waitpid(pid, &status, WNOHANG)) == 0 &&
		       waited < 60000) {
			usleep(1000);
			waited++;
		}
		if (w == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fprintf(stderr, "deadlock: child %d hung in its first "
				"lookup with the handler running\n", (int)pid);
			return 3;
		}
		done++;
		if (!WIFEXITED(status) || (WEXITSTATUS(status) != 0 &&
					   WEXITSTATUS(status) != 10)) {
			fprintf(stderr, "child %d: status 0x%x\n", (int)pid,
				status);
			bad++;
		} else if (WEXITSTATUS(status) == 10) {
			hits++;
		}
	}
	printf("children %d interrupted_first_open %d errors %d\n", done,
	       hits, bad);
	return bad ? 1 : 0;
}

/* Interposes libc's openat for the module (the executable's exported
 * definition comes first in the global scope). In a --first-open child
 * with raise_in_open set, the module's open of hosts.mdb - inside its
 * first open of the cache - is interrupted by the handler, once. */
__attribute__((visibility("default")))
int openat(int dirfd, const char *path, int flags, ...)
{
	static int (*real)(int, const char *, int, ...);
	mode_t mode = 0;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (!real)
		real = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	if (atomic_load(&raise_in_open) && !atomic_load(&first_done)) {
		const char *base = strrchr(path, '/');
		if (strcmp(base ? base + 1 : path, "hosts.mdb") == 0) {
			atomic_store(&raise_in_open, 0);
			raise(SIGALRM);
		}
	}
	return real(dirfd, path, flags, mode);
}

static int usage(void)
{
	fprintf(stderr, "usage: sig_lookup [--rate HZ] [--gai] LIB SECONDS "
		"MODEL...\n       sig_lookup --first-open N LIB MODEL...\n");
	return 2;
}

int main(int argc, char **argv)
{
	long rate = 10000;
	int first = 0, gai = 0, i;
	unsigned seed = 7;
	double end;

	while (argc > 1 && strncmp(argv[1], "--", 2) == 0) {
		if (strcmp(argv[1], "--rate") == 0 && argc > 2) {
			rate = atol(argv[2]);
			argv++, argc--;
		} else if (strcmp(argv[1], "--first-open") == 0 && argc > 2) {
			first = atoi(argv[2]);
			argv++, argc--;
		} else if (strcmp(argv[1], "--gai") == 0) {
			gai = 1;
		} else {
			return usage();
		}
		argv++, argc--;
	}
	if (argc < 3 || rate < 1 || rate > 1000000)
		return usage();
	for (i = first ? 2 : 3; i < argc; i++)
		if (zkh_model_parse(&model, argv[i]) < 0)
			return 2;
	if (!model.stable_count)
		return usage();
	if (first)
		return first_open(first, argv[1]);

	if (zkh_model_load(argv[1], &ent) < 0)
		return 2;
	end = now() + atof(argv[2]);
	if (start_watchdog(atof(argv[2]) + 60) != 0)
		return 2;
	/* The first lookup before arming: the steady state is under test. */
	check_entry(0, 0, 0);
	atomic_store(&first_done, 1);
	atomic_store(&use_gai, gai);
	if (arm(1000000 / rate) < 0) {
		perror("setitimer");
		return 2;
	}
	while (now() < end) {
		if (gai) {
			static volatile unsigned spin;
			int k;

			for (k = 0; k < 100000; k++)
				spin = spin + (unsigned)k;
			continue;
		}
		check_entry((long)(rand_r(&seed) %
				   (unsigned)model.stable_count),
			    model.nchurn ? (unsigned)rand_r(&seed) %
			    model.nchurn : 0, 0);
	}
	disarm();
	printf("main %ld handler %ld handler_unavail %ld errors %ld\n",
	       atomic_load(&main_lookups), atomic_load(&handler_lookups),
	       atomic_load(&handler_unavail), atomic_load(&errors));
	return atomic_load(&errors) == 0 &&
	    atomic_load(&handler_lookups) > 0 ? 0 : 1;
}

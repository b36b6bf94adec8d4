/*
 * bench-lookup.c - A/B lookup cost through real glibc, every backend in
 * ONE process. For each round, every cell (backend x API x hit/miss) runs
 * one timed batch, in an order rotated from round to round, so drifts of
 * the machine (other jobs, frequency) spread over all cells alike. Backends
 * are switched between batches with __nss_configure_lookup("hosts", LINE),
 * the glibc function getent -s uses (exported, stable since glibc 2.0,
 * still honoured by the reworked NSS configuration of 2.33+): "zk", "null"
 * (the do-nothing module), "files" (the /etc/hosts of this mount namespace)
 * and "dns" (the resolv.conf of this mount namespace). Output is one line
 * per batch for the driver (bench/run.py) to reduce:
 *
 *   verify BACKEND API KIND checked wrong
 *   batch ROUND API BACKEND KIND CALLS NANOSECONDS FAILS
 *
 * Usage: bench-lookup [-r ROUNDS] [-t BATCH_MS] [-a gai|ghbn|both]
 *                     [-v NVERIFY] [-N CALLS] HITS_FILE MISS_FILE
 *                     LABEL=SERVICE...
 * -N CALLS skips the time-based calibration: exactly CALLS calls per cell
 * and round (for valgrind --tool=callgrind instruction counts).
 * Before timing, NVERIFY hits (default 200) and a quarter as many misses
 * are checked per backend and API (untimed; "verify" lines).
 * HITS_FILE holds "NAME IPV4" lines (names that exist), MISS_FILE names
 * that do not. A backend whose SERVICE is "null" is expected to miss
 * everything, one whose SERVICE is "const" to find everything (with its
 * fixed address); the others must answer hits with the listed address and
 * misses with nothing. getaddrinfo is called with AF_UNSPEC and SOCK_STREAM (one
 * result per address, so glibc's RFC 3484 sort, which opens sockets, does
 * not run for single-address records).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* glibc: exported, declared in no public header. */
extern int __nss_configure_lookup(const char *dbname, const char *line);

#define MAX_BACKENDS 8
#define MAX_NAMES 8192

struct name {
	char *name;
	struct in_addr addr;
};

struct backend {
	const char *label;
	const char *service;
	int expect;		/* EXPECT_* */
};

/* What a backend answers: real data, nothing (null), a fixed address for
 * every name (const). */
enum { EXPECT_REAL, EXPECT_NONE, EXPECT_ALL };

enum api { API_GAI, API_GHBN };
enum kind { KIND_HIT, KIND_MISS };
static const char *api_names[] = { "getaddrinfo", "gethostbyname_r" };
static const char *kind_names[] = { "hit", "miss" };

static struct name hits[MAX_NAMES], misses[MAX_NAMES];
static size_t nhits, nmisses;
static size_t nverify = 200;	/* hits checked per backend and API */

static int load_names(const char *path, struct name *out, size_t *n,
		      int with_addr)
{
	FILE *f = fopen(path, "r");
	char line[512], nm[300], ad[64];

	if (!f) {
		fprintf(stderr, "bench-lookup: %s: %s\n", path, strerror(errno));
		return -1;
	}
	*n = 0;
	while (*n < MAX_NAMES && fgets(line, sizeof(line), f)) {
		int k = sscanf(line, "%299s %63s", nm, ad);

		if (k < 1)
			continue;
		if (with_addr && (k < 2 || inet_pton(AF_INET, ad,
						     &out[*n].addr) != 1)) {
			fprintf(stderr, "bench-lookup: %s: bad line: %s",
				path, line);
			fclose(f);
			return -1;
		}
		out[*n].name = strdup(nm);
		if (!out[*n].name)
			abort();
		(*n)++;
	}
	fclose(f);
	if (*n == 0) {
		fprintf(stderr, "bench-lookup: %s: no names\n", path);
		return -1;
	}
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One lookup. Returns 1 if found with an IPv4 address (stored in *got). */
static int lookup(enum api api, const char *name, struct in_addr *got)
{
	if (api == API_GAI) {
		struct addrinfo hints, *res = NULL, *ai;
		int found = 0;

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(name, NULL, &hints, &res) != 0)
			return 0;
		for (ai = res; ai; ai = ai->ai_next)
			if (ai->ai_family == AF_INET) {
				*got = ((struct sockaddr_in *)ai->ai_addr)->sin_addr;
				found = 1;
				break;
			}
		freeaddrinfo(res);
		return found;
	} else {
		static char buf[16384];
		struct hostent h, *hp = NULL;
		int err = 0, herr = 0;

		err = gethostbyname_r(name, &h, buf, sizeof(buf), &hp, &herr);
		if (err != 0 || !hp || hp->h_addrtype != AF_INET ||
		    !hp->h_addr_list[0])
			return 0;
		memcpy(got, hp->h_addr_list[0], sizeof(*got));
		return 1;
	}
}

/* Time `calls` lookups; returns ns, counts unexpected results in *fails. */
static uint64_t batch(enum api api, enum kind kind, size_t *cursor,
		      uint64_t calls, int expect, uint64_t *fails)
{
	const struct name *set = kind == KIND_HIT ? hits : misses;
	size_t n = kind == KIND_HIT ? nhits : nmisses, c = *cursor;
	int want = expect == EXPECT_ALL ||
		   (kind == KIND_HIT && expect == EXPECT_REAL);
	struct in_addr got;
	uint64_t i, t0, bad = 0;

	t0 = now_ns();
	for (i = 0; i < calls; i++) {
		if (lookup(api, set[c].name, &got) != want)
			bad++;
		if (++c == n)
			c = 0;
	}
	t0 = now_ns() - t0;
	*cursor = c;
	*fails = bad;
	return t0;
}

static int select_backend(const struct backend *b)
{
	if (__nss_configure_lookup("hosts", b->service) != 0) {
		fprintf(stderr, "bench-lookup: __nss_configure_lookup(%s): %s\n",
			b->service, strerror(errno));
		return -1;
	}
	return 0;
}

/* Check answers (not timed): hits must give their address, misses none. */
static void verify(const struct backend *b, enum api api)
{
	size_t i, wrong = 0, nh = nhits < nverify ? nhits : nverify;
	size_t nm = nmisses < (nverify + 3) / 4 ? nmisses : (nverify + 3) / 4;
	struct in_addr got;

	for (i = 0; i < nh; i++) {
		int f = lookup(api, hits[i].name, &got);

		if (b->expect == EXPECT_NONE ? f :
		    b->expect == EXPECT_ALL ? !f :
		    (!f || got.s_addr != hits[i].addr.s_addr))
			wrong++;
	}
	printf("verify %s %s hit %zu %zu\n", b->label, api_names[api], nh, wrong);
	wrong = 0;
	for (i = 0; i < nm; i++)
		if (lookup(api, misses[i].name, &got) !=
		    (b->expect == EXPECT_ALL))
			wrong++;
	printf("verify %s %s miss %zu %zu\n", b->label, api_names[api], nm, wrong);
	fflush(stdout);
}

struct cell {
	const struct backend *b;
	enum api api;
	enum kind kind;
	uint64_t calls;
	size_t cursor;
};

static void usage(void)
{
	fprintf(stderr, "usage: bench-lookup [-r ROUNDS] [-t BATCH_MS] "
		"[-a gai|ghbn|both] [-v NVERIFY] [-N CALLS] HITS_FILE MISS_FILE LABEL=SERVICE...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct backend be[MAX_BACKENDS];
	struct cell cells[MAX_BACKENDS * 4];
	size_t nbe = 0, ncells = 0, i;
	int rounds = 7, opt, a0 = API_GAI, a1 = API_GHBN;
	double batch_ms = 20;
	long fixed = 0;

	while ((opt = getopt(argc, argv, "r:t:a:v:N:")) != -1) {
		switch (opt) {
		case 'N': fixed = atol(optarg); break;
		case 'v': nverify = (size_t)atol(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 't': batch_ms = atof(optarg); break;
		case 'a':
			if (strcmp(optarg, "gai") == 0)
				a1 = API_GAI;
			else if (strcmp(optarg, "ghbn") == 0)
				a0 = API_GHBN;
			else if (strcmp(optarg, "both") != 0)
				usage();
			break;
		default: usage();
		}
	}
	if (rounds < 1 || batch_ms <= 0 || argc - optind < 3)
		usage();
	if (load_names(argv[optind], hits, &nhits, 1) ||
	    load_names(argv[optind + 1], misses, &nmisses, 0))
		return 1;
	for (i = (size_t)optind + 2; i < (size_t)argc && nbe < MAX_BACKENDS; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq || eq == argv[i] || !eq[1])
			usage();
		*eq = '\0';
		be[nbe].label = argv[i];
		be[nbe].service = eq + 1;
		be[nbe].expect = strcmp(eq + 1, "null") == 0 ? EXPECT_NONE :
				 strcmp(eq + 1, "const") == 0 ? EXPECT_ALL :
				 EXPECT_REAL;
		nbe++;
	}

	/* Verify and calibrate: each cell gets as many calls as fit in
	 * about batch_ms (at least one). */
	for (i = 0; i < nbe; i++) {
		int api;

		if (select_backend(&be[i]))
			return 1;
		for (api = a0; api <= a1; api++) {
			int kind;

			verify(&be[i], (enum api)api);
			for (kind = KIND_HIT; kind <= KIND_MISS; kind++) {
				struct cell *c = &cells[ncells++];
				uint64_t calls = 1, t, fails;

				c->b = &be[i];
				c->api = (enum api)api;
				c->kind = (enum kind)kind;
				c->cursor = 0;
				for (; fixed == 0;) {
					t = batch(c->api, c->kind, &c->cursor,
						  calls, c->b->expect,
						  &fails);
					if (t >= batch_ms * 1e6 / 8 ||
					    calls >= (1u << 24))
						break;
					calls *= 4;
				}
				if (fixed == 0)
					calls = (uint64_t)((double)calls * batch_ms *
							   1e6 / (double)(t ? t : 1));
				else
					calls = (uint64_t)fixed;
				c->calls = calls ? calls : 1;
			}
		}
	}

	for (int r = 0; r < rounds; r++) {
		for (i = 0; i < ncells; i++) {
			struct cell *c = &cells[(i + (size_t)r) % ncells];
			uint64_t t, fails;

			if (select_backend(c->b))
				return 1;
			t = batch(c->api, c->kind, &c->cursor, c->calls,
				  c->b->expect, &fails);
			printf("batch %d %s %s %s %llu %llu %llu\n", r,
			       api_names[c->api], c->b->label,
			       kind_names[c->kind],
			       (unsigned long long)c->calls,
			       (unsigned long long)t,
			       (unsigned long long)fails);
		}
		fflush(stdout);
	}
	return 0;
}

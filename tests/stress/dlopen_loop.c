/*
 * dlopen_loop - load and unload libnss_zk.so.2 in a loop, resolving
 * through it each time, and check that nothing accumulates: open
 * descriptors, mappings (of hosts.mdb or anything else) and resident
 * memory must be the same after the last round as after the warm-up.
 *
 *   dlopen_loop LIB ROUNDS MODEL...
 *
 * Each round: dlopen, 10 forward and reverse lookups of stable names
 * (checked against the model), dlclose. Prints
 *   rounds N fds A->B maps A->B mdb_maps A->B rss_kib A->B
 * (A after 20 warm-up rounds, B at the end) and exits 0 if descriptors
 * and mappings did not grow and RSS grew by less than 1 MiB (a leak of
 * one LMDB environment, one mapping or one descriptor per round would be
 * far more over the default rounds), 1 otherwise, 2 on bad usage.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define WARMUP 20

static struct zkh_model model;

static long count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;		/* the directory's own descriptor */
}

/* Mappings in all, and those of a file named hosts.mdb. */
static void count_maps(long *all, long *mdb)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[4096];

	*all = *mdb = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		(*all)++;
		if (strstr(line, "/hosts.mdb"))
			(*mdb)++;
	}
	fclose(f);
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static int one_round(const char *lib, unsigned *seed)
{
	struct zkh_entry e;
	char name[96], buf[1024];
	struct gaih_addrtuple *pat;
	struct hostent h;
	int err, herr, k, bad = 0, value;
	int32_t ttl;
	uint8_t a[4];

	if (zkh_model_load(lib, &e) < 0)
		return -1;
	for (k = 0; k < 10; k++) {
		long i = (long)((unsigned long)rand_r(seed) %
				(unsigned long)model.stable_count);
		enum nss_status st;

		snprintf(name, sizeof(name), "%s%ld", model.stable_prefix, i);
		zkh_model_stable_addr(i, a);
		pat = NULL;
		st = e.name4(name, &pat, buf, sizeof(buf), &err, &herr, &ttl);
		if (!zkh_check_tuples(st, pat, a, &model, 0, &value))
			bad++;
		st = e.byaddr(a, 4, AF_INET, &h, buf, sizeof(buf), &err,
			      &herr);
		if (st != NSS_STATUS_SUCCESS || strcmp(h.h_name, name) != 0)
			bad++;
	}
	if (dlclose(e.handle) != 0) {
		fprintf(stderr, "dlclose: %s\n", dlerror());
		bad++;
	}
	return bad;
}

int main(int argc, char **argv)
{
	long rounds, r, fd0 = 0, maps0 = 0, mdb0 = 0, rss0 = 0, fd1, maps1,
	    mdb1, rss1, errors = 0;
	unsigned seed = 99;
	int i, rc;

	if (argc < 4) {
		fprintf(stderr, "usage: dlopen_loop LIB ROUNDS MODEL...\n");
		return 2;
	}
	rounds = atol(argv[2]);
	if (rounds <= WARMUP) {
		fprintf(stderr, "ROUNDS must be more than %d\n", WARMUP);
		return 2;
	}
	for (i = 3; i < argc; i++)
		if (zkh_model_parse(&model, argv[i]) < 0)
			return 2;
	if (!model.stable_count)
		return 2;
	for (r = 0; r < rounds; r++) {
		rc = one_round(argv[1], &seed);
		if (rc < 0)
			return 2;
		errors += rc;
		if (r + 1 == WARMUP) {
			fd0 = count_fds();
			count_maps(&maps0, &mdb0);
			rss0 = rss_kib();
		}
	}
	fd1 = count_fds();
	count_maps(&maps1, &mdb1);
	rss1 = rss_kib();
	printf("rounds %ld errors %ld fds %ld->%ld maps %ld->%ld "
	       "mdb_maps %ld->%ld rss_kib %ld->%ld\n", rounds, errors, fd0,
	       fd1, maps0, maps1, mdb0, mdb1, rss0, rss1);
	return errors == 0 && fd1 <= fd0 && maps1 <= maps0 && mdb1 <= mdb0 &&
	    rss1 - rss0 < 1024 ? 0 : 1;
}

/*
 * bench-modcost.c - the NSS module's own cost per call, next to a raw LMDB
 * get of the same key on the same snapshot file, in ONE process with the
 * cells interleaved round by round (as bench-lookup does). The module is
 * dlopen()ed and its entry points called directly (no glibc NSS on the
 * path); it finds its cache through ZKHOSTS_CONF like any process.
 *
 * Cells (KIND is hit or miss):
 *   zk-gethostbyname4_r   _nss_zk_gethostbyname4_r (what getaddrinfo calls)
 *   zk-gethostbyname2_r   _nss_zk_gethostbyname2_r, AF_INET
 *   lmdb-txn              mdb_txn_begin(RDONLY) + mdb_get + mdb_txn_abort
 *   lmdb-renew            mdb_txn_renew + mdb_get + mdb_txn_reset
 *   lmdb-get              mdb_get alone inside one long-lived read txn
 * The raw environment is opened the way the design says readers open it
 * (MDB_RDONLY|MDB_NOLOCK|MDB_NOSUBDIR|MDB_NORDAHEAD|MDB_NOTLS) and looks
 * up the folded (lowercase) key in the "names" database.
 *
 * Usage: bench-modcost [-r ROUNDS] [-t BATCH_MS] [-N CALLS] MODULES CACHE_DIR
 *                      HITS_FILE MISS_FILE
 * MODULES is a path to libnss_zk.so.2, or a comma list LABEL=PATH,... to
 * compare builds of the module in the same process (before/after a change:
 * each copy is loaded separately; its cells are named LABEL-gethostbyname*).
 * -N CALLS skips the time-based calibration and runs exactly CALLS calls
 * per cell and round (for valgrind --tool=callgrind, where instruction
 * counts per call are inclusive cost / CALLS).
 * Output lines: "verify CELL KIND checked wrong" and
 * "batch ROUND direct CELL KIND CALLS NANOSECONDS FAILS".
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <lmdb.h>
#include <netdb.h>
#include <nss.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_NAMES 8192

typedef enum nss_status (*gh4_fn)(const char *, struct gaih_addrtuple **,
				  char *, size_t, int *, int *, int32_t *);
typedef enum nss_status (*gh2_fn)(const char *, int, struct hostent *,
				  char *, size_t, int *, int *);

struct name {
	char *name;
	char *key;		/* folded */
	size_t klen;
	struct in_addr addr;
};

enum cellkind { C_ZK4, C_ZK2, C_TXN, C_RENEW, C_GET, C_N };
#define MAX_MODS 4

struct module {
	char label[32];
	gh4_fn gh4;
	gh2_fn gh2;
};

static struct module mods[MAX_MODS];
static int nmods;

static void cell_name(enum cellkind c, int mod, char *out, size_t cap)
{
	static const char *raw[] = { "", "", "lmdb-txn", "lmdb-renew",
				     "lmdb-get" };

	if (c == C_ZK4 || c == C_ZK2)
		snprintf(out, cap, "%s-gethostbyname%s_r", mods[mod].label,
			 c == C_ZK4 ? "4" : "2");
	else
		snprintf(out, cap, "%s", raw[c]);
}

static struct name hits[MAX_NAMES], misses[MAX_NAMES];
static size_t nhits, nmisses;
static MDB_env *env;
static MDB_dbi names_dbi;
static MDB_txn *renew_txn, *long_txn;
static char buf[4096];

static int load_names(const char *path, struct name *out, size_t *n,
		      int with_addr)
{
	FILE *f = fopen(path, "r");
	char line[512], nm[300], ad[64];

	if (!f) {
		fprintf(stderr, "bench-modcost: %s: %s\n", path, strerror(errno));
		return -1;
	}
	*n = 0;
	while (*n < MAX_NAMES && fgets(line, sizeof(line), f)) {
		int k = sscanf(line, "%299s %63s", nm, ad);
		size_t i;

		if (k < 1)
			continue;
		if (with_addr && (k < 2 || inet_pton(AF_INET, ad,
						     &out[*n].addr) != 1)) {
			fprintf(stderr, "bench-modcost: %s: bad line: %s",
				path, line);
			fclose(f);
			return -1;
		}
		out[*n].name = strdup(nm);
		out[*n].key = strdup(nm);
		if (!out[*n].name || !out[*n].key)
			abort();
		out[*n].klen = strlen(nm);
		for (i = 0; i < out[*n].klen; i++)
			out[*n].key[i] = (char)tolower((unsigned char)nm[i]);
		if (out[*n].klen && out[*n].key[out[*n].klen - 1] == '.')
			out[*n].klen--;
		(*n)++;
	}
	fclose(f);
	if (*n == 0) {
		fprintf(stderr, "bench-modcost: %s: no names\n", path);
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

/* One call of a cell on one name. Returns 1 if found (and, for the module,
 * with the right IPv4 address when `check`), 0 if not found, -1 on an
 * unexpected error. */
static int call(enum cellkind c, int mod, const struct name *n)
{
	MDB_val k = { n->klen, n->key }, v;
	int err = 0, herr = 0, rc;
	enum nss_status st;

	switch (c) {
	case C_ZK4: {
		struct gaih_addrtuple *pat = NULL;
		int32_t ttl = 0;

		st = mods[mod].gh4(n->name, &pat, buf, sizeof(buf), &err, &herr, &ttl);
		if (st == NSS_STATUS_SUCCESS)
			return pat && pat->family == AF_INET &&
			       memcmp(pat->addr, &n->addr, 4) == 0 ? 1 : -1;
		return st == NSS_STATUS_NOTFOUND ? 0 : -1;
	}
	case C_ZK2: {
		struct hostent h;

		st = mods[mod].gh2(n->name, AF_INET, &h, buf, sizeof(buf), &err, &herr);
		if (st == NSS_STATUS_SUCCESS)
			return h.h_addr_list[0] &&
			       memcmp(h.h_addr_list[0], &n->addr, 4) == 0 ? 1 : -1;
		return st == NSS_STATUS_NOTFOUND ? 0 : -1;
	}
	case C_TXN: {
		MDB_txn *t;

		if (mdb_txn_begin(env, NULL, MDB_RDONLY, &t))
			return -1;
		rc = mdb_get(t, names_dbi, &k, &v);
		mdb_txn_abort(t);
		break;
	}
	case C_RENEW:
		if (mdb_txn_renew(renew_txn))
			return -1;
		rc = mdb_get(renew_txn, names_dbi, &k, &v);
		mdb_txn_reset(renew_txn);
		break;
	case C_GET:
		rc = mdb_get(long_txn, names_dbi, &k, &v);
		break;
	default:
		return -1;
	}
	return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : -1;
}

static uint64_t batch(enum cellkind c, int mod, int hit, size_t *cursor,
		      uint64_t calls, uint64_t *fails)
{
	const struct name *set = hit ? hits : misses;
	size_t n = hit ? nhits : nmisses, i = *cursor;
	uint64_t k, t0, bad = 0;

	t0 = now_ns();
	for (k = 0; k < calls; k++) {
		if (call(c, mod, &set[i]) != hit)
			bad++;
		if (++i == n)
			i = 0;
	}
	t0 = now_ns() - t0;
	*cursor = i;
	*fails = bad;
	return t0;
}

static int open_raw(const char *cache)
{
	char path[4096];
	MDB_txn *t;
	int rc;

	snprintf(path, sizeof(path), "%s/hosts.mdb", cache);
	if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_maxdbs(env, 4)) ||
	    (rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOLOCK |
			       MDB_NOSUBDIR | MDB_NORDAHEAD | MDB_NOTLS, 0)) ||
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &t))) {
		fprintf(stderr, "bench-modcost: %s: %s\n", path, mdb_strerror(rc));
		return -1;
	}
	rc = mdb_dbi_open(t, "names", 0, &names_dbi);
	if (rc) {
		fprintf(stderr, "bench-modcost: %s: names: %s\n", path,
			mdb_strerror(rc));
		return -1;
	}
	mdb_txn_commit(t);
	if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &renew_txn)) ||
	    (rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &long_txn))) {
		fprintf(stderr, "bench-modcost: txn: %s\n", mdb_strerror(rc));
		return -1;
	}
	mdb_txn_reset(renew_txn);
	return 0;
}

static int load_modules(char *spec)
{
	char *save = NULL, *tok;

	for (tok = strtok_r(spec, ",", &save); tok && nmods < MAX_MODS;
	     tok = strtok_r(NULL, ",", &save)) {
		struct module *m = &mods[nmods];
		char *eq = strchr(tok, '='), *path = tok;
		void *h;

		snprintf(m->label, sizeof(m->label), "zk");
		if (eq) {
			*eq = '\0';
			snprintf(m->label, sizeof(m->label), "%s", tok);
			path = eq + 1;
		}
		h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			fprintf(stderr, "bench-modcost: %s\n", dlerror());
			return -1;
		}
		m->gh4 = (gh4_fn)(uintptr_t)dlsym(h, "_nss_zk_gethostbyname4_r");
		m->gh2 = (gh2_fn)(uintptr_t)dlsym(h, "_nss_zk_gethostbyname2_r");
		if (!m->gh4 || !m->gh2) {
			fprintf(stderr, "bench-modcost: %s: entry points missing\n",
				path);
			return -1;
		}
		nmods++;
	}
	return nmods ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct { enum cellkind c; int mod; int hit; uint64_t calls;
		 size_t cursor; } cells[(C_N + 2 * MAX_MODS) * 2];
	int rounds = 7, opt, ncells = 0, r, i, m;
	double batch_ms = 20;
	char label[64];
	long fixed = 0;

	while ((opt = getopt(argc, argv, "r:t:N:")) != -1) {
		if (opt == 'N')
			fixed = atol(optarg);
		else if (opt == 'r')
			rounds = atoi(optarg);
		else if (opt == 't')
			batch_ms = atof(optarg);
		else
			goto usage;
	}
	if (argc - optind != 4 || rounds < 1 || batch_ms <= 0)
		goto usage;
	if (load_modules(argv[optind]) ||
	    open_raw(argv[optind + 1]) ||
	    load_names(argv[optind + 2], hits, &nhits, 1) ||
	    load_names(argv[optind + 3], misses, &nmisses, 0))
		return 1;

	for (i = 0; i < C_N; i++) {
		int per_mod = i == C_ZK4 || i == C_ZK2;

		for (m = 0; m < (per_mod ? nmods : 1); m++) {
			for (int hit = 1; hit >= 0; hit--) {
				size_t j, n = hit ? nhits : nmisses, wrong = 0;
				uint64_t calls = 1, t, fails;

				for (j = 0; j < n && j < 500; j++)
					if (call((enum cellkind)i, m,
						 hit ? &hits[j] : &misses[j]) != hit)
						wrong++;
				cell_name((enum cellkind)i, m, label,
					  sizeof(label));
				printf("verify %s %s %zu %zu\n", label,
				       hit ? "hit" : "miss", j, wrong);
				cells[ncells].c = (enum cellkind)i;
				cells[ncells].mod = m;
				cells[ncells].hit = hit;
				cells[ncells].cursor = 0;
				for (; fixed == 0;) {
					t = batch((enum cellkind)i, m, hit,
						  &cells[ncells].cursor, calls,
						  &fails);
					if (t >= batch_ms * 1e6 / 8 ||
					    calls >= (1u << 26))
						break;
					calls *= 4;
				}
				if (fixed == 0)
					calls = (uint64_t)((double)calls * batch_ms *
							   1e6 / (double)(t ? t : 1));
				else
					calls = (uint64_t)fixed;
				cells[ncells].calls = calls ? calls : 1;
				ncells++;
			}
		}
	}
	fflush(stdout);
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < ncells; i++) {
			int k = (i + r) % ncells;
			uint64_t t, fails;

			t = batch(cells[k].c, cells[k].mod, cells[k].hit,
				  &cells[k].cursor, cells[k].calls, &fails);
			cell_name(cells[k].c, cells[k].mod, label,
				  sizeof(label));
			printf("batch %d direct %s %s %llu %llu %llu\n", r,
			       label, cells[k].hit ? "hit" : "miss",
			       (unsigned long long)cells[k].calls,
			       (unsigned long long)t,
			       (unsigned long long)fails);
		}
		fflush(stdout);
	}
	return 0;
usage:
	fprintf(stderr, "usage: bench-modcost [-r ROUNDS] [-t BATCH_MS] [-N CALLS] "
		"MODULES CACHE_DIR HITS_FILE MISS_FILE\n");
	return 2;
}

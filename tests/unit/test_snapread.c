/*
 * test_snapread.c - unit tests of the shared snapshot reader
 * (common/core/snapread.c, snaplookup.c) against snapshots written by the
 * real publisher: the one LMDB error mapping; the domain rule
 * (zkh_sr_alt_key); forward lookups in any case, with a trailing dot and
 * with the domain both ways; canonical names and aliases, the qualified
 * sibling owning its name; reverse lookups in creation order, IPv4-mapped
 * IPv6 answered from IPv4 records; enumeration; the trust rules (applied
 * only when asked); and that closing a snapshot whose descriptor the
 * application took over still removes LMDB's mapping of hosts.mdb.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zkhosts/publish.h"
#include "zkhosts/snapread.h"

#define DOMAIN "cluster.example"

static char tmpdir[64];
static char cache[128];

static struct zkh_addr addr(const char *s)
{
	struct zkh_addr a;

	memset(&a, 0, sizeof(a));
	a.family = strchr(s, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(a.family, s, a.bytes), 1);
	return a;
}

/* Publish records "Web" 10.0.0.1 (czxid 1), "db.cluster.example"
 * 10.0.0.2 (2), "x" 10.0.0.3 (3), "x.cluster.example" 10.0.0.4 (4) and
 * "alias" 10.0.0.1 + fd00::1 (5), with the domain. */
static int setup(void **state)
{
	struct zkh_pub_options po = { .domain = DOMAIN, .ttl = 7 };
	struct zkh_publisher *p = NULL;
	struct zkh_addr a[6] = { addr("10.0.0.1"), addr("10.0.0.2"),
		addr("10.0.0.3"), addr("10.0.0.4"), addr("10.0.0.1"),
		addr("fd00::1") };
	struct zkh_change c[5] = {
		{ ZKH_UPSERT, "Web", 3, 1, &a[0], 1 },
		{ ZKH_UPSERT, "db." DOMAIN, 18, 2, &a[1], 1 },
		{ ZKH_UPSERT, "x", 1, 3, &a[2], 1 },
		{ ZKH_UPSERT, "x." DOMAIN, 17, 4, &a[3], 1 },
		{ ZKH_UPSERT, "alias", 5, 5, &a[4], 2 },
	};

	(void)state;
	strcpy(tmpdir, "/tmp/zkh-sr-XXXXXX");
	if (!mkdtemp(tmpdir) || chmod(tmpdir, 0755) < 0)
		return -1;
	snprintf(cache, sizeof(cache), "%s/cache", tmpdir);
	if (zkh_pub_open(cache, &po, &p) < 0 || zkh_pub_apply(p, c, 5) < 0 ||
	    zkh_pub_publish(p, ZKH_META_SYNCED, 0) < 0)
		return -1;
	zkh_pub_close(p);
	return 0;
}

static int teardown(void **state)
{
	char cmd[160];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A pstr as one NUL-terminated string (static buffer). */
static const char *str(const struct zkh_pstr *p)
{
	static char buf[2][ZKH_NAME_MAX + 1];
	static int which;
	char *b = buf[which++ & 1];

	memcpy(b, p->a, p->alen);
	if (p->blen)	/* b is NULL when empty */
		memcpy(b + p->alen, p->b, p->blen);
	b[p->alen + p->blen] = '\0';
	return b;
}

/* Mappings of this snapshot's hosts.mdb in /proc/self/maps. */
static int mappings(void)
{
	char line[4096], want[160];
	FILE *f = fopen("/proc/self/maps", "re");
	int n = 0;

	assert_non_null(f);
	snprintf(want, sizeof(want), "%s/hosts.mdb", cache);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, want))
			n++;
	fclose(f);
	return n;
}

static void test_mdb_err(void **state)
{
	(void)state;
	assert_int_equal(zkh_mdb_err(0), 0);
	assert_int_equal(zkh_mdb_err(MDB_MAP_FULL), -ENOSPC);
	assert_int_equal(zkh_mdb_err(MDB_TXN_FULL), -ENOSPC);
	assert_int_equal(zkh_mdb_err(MDB_NOTFOUND), -ENOENT);
	assert_int_equal(zkh_mdb_err(ENOMEM), -ENOMEM);
	assert_int_equal(zkh_mdb_err(EACCES), -EACCES);
	assert_int_equal(zkh_mdb_err(MDB_INVALID), -EIO);
	assert_int_equal(zkh_mdb_err(MDB_CORRUPTED), -EIO);
	assert_int_equal(zkh_mdb_err(MDB_VERSION_MISMATCH), -EIO);
}

static void test_alt_key(void **state)
{
	char out[ZKH_NAME_MAX + 1], key[ZKH_NAME_MAX + 1], longname[260];
	const char *d = "." DOMAIN;
	size_t dl = strlen(d);

	(void)state;
	assert_int_equal(zkh_sr_alt_key("web", 3, d, dl, out), 3 + (int)dl);
	assert_string_equal(out, "web." DOMAIN);
	assert_int_equal(zkh_sr_alt_key("web." DOMAIN, 3 + dl, d, dl, out), 3);
	assert_string_equal(out, "web");
	strcpy(key, "a." DOMAIN);	/* in place */
	assert_int_equal(zkh_sr_alt_key(key, strlen(key), d, dl, key), 1);
	assert_string_equal(key, "a");
	/* the domain itself is not "<empty>.<domain>" */
	assert_int_equal(zkh_sr_alt_key(DOMAIN, dl - 1, d, dl, out),
			 (int)(2 * dl - 1));
	assert_int_equal(zkh_sr_alt_key("web", 3, "", 0, out), -ENOENT);
	memset(longname, 'a', 250);
	longname[250] = '\0';
	assert_int_equal(zkh_sr_alt_key(longname, 250, d, dl, out), -ENOENT);
}

static void test_open_and_forward(void **state)
{
	struct zkh_snapread s;
	struct zkh_rec_view rec;
	MDB_txn *txn = NULL;

	(void)state;
	assert_int_equal(zkh_snapread_open(cache, ZKH_SR_TRUST |
					   ZKH_SR_GENERATION, &s), 0);
	assert_int_equal(s.meta.ttl, 7);
	assert_int_equal(s.entries, 5);
	assert_int_equal(s.meta.record_count, 5);
	assert_string_equal(s.dsuffix, "." DOMAIN);
	assert_non_null(s.gen);
	assert_int_equal(zkh_snapread_counter(&s), s.meta.generation);
	assert_int_equal(mdb_txn_begin(s.env, NULL, MDB_RDONLY, &txn), 0);

	assert_int_equal(zkh_sr_lookup_name(&s, txn, "web", &rec), 0);
	assert_int_equal(rec.name_len, 3);
	assert_memory_equal(rec.name, "Web", 3);	/* as written */
	assert_int_equal(zkh_sr_lookup_name(&s, txn, "WEB." DOMAIN ".", &rec),
			 0);
	assert_memory_equal(rec.name, "Web", 3);
	assert_int_equal(zkh_sr_lookup_name(&s, txn, "db", &rec), 0);
	assert_int_equal(rec.name_len, 18);
	assert_int_equal(zkh_sr_lookup_name(&s, txn, "DB." DOMAIN, &rec), 0);
	/* "x.<domain>" is its own record, not "x" */
	assert_int_equal(zkh_sr_lookup_name(&s, txn, "x." DOMAIN, &rec), 0);
	assert_int_equal(rec.czxid, 4);
	assert_int_equal(zkh_sr_lookup_name(&s, txn, "x", &rec), 0);
	assert_int_equal(rec.czxid, 3);
	assert_int_equal(zkh_sr_lookup_name(&s, txn, "nope", &rec), -ENOENT);
	assert_int_equal(zkh_sr_lookup_name(&s, txn, "web.other.example",
					    &rec), -ENOENT);
	assert_int_equal(zkh_sr_lookup_name(&s, txn, "bad name", &rec),
			 -ENOENT);
	mdb_txn_abort(txn);
	zkh_snapread_close(&s);
	assert_null(s.env);
}

static void test_names(void **state)
{
	struct zkh_snapread s;
	struct zkh_rec_view rec;
	struct zkh_pstr canon, alias;
	MDB_txn *txn = NULL;

	(void)state;
	assert_int_equal(zkh_snapread_open(cache, ZKH_SR_TRUST, &s), 0);
	assert_null(s.gen);
	assert_int_equal(mdb_txn_begin(s.env, NULL, MDB_RDONLY, &txn), 0);
	assert_int_equal(zkh_sr_lookup_name(&s, txn, "web", &rec), 0);
	assert_int_equal(zkh_sr_rec_names(&s, txn, &rec, &canon, &alias), 1);
	assert_string_equal(str(&canon), "Web." DOMAIN);
	assert_string_equal(str(&alias), "Web");
	assert_int_equal(zkh_sr_lookup_name(&s, txn, "db", &rec), 0);
	assert_int_equal(zkh_sr_rec_names(&s, txn, &rec, &canon, &alias), 1);
	assert_string_equal(str(&canon), "db." DOMAIN);
	assert_string_equal(str(&alias), "db");
	/* "x" has a qualified sibling that owns "x.<domain>" */
	assert_int_equal(zkh_sr_lookup_name(&s, txn, "x", &rec), 0);
	assert_int_equal(zkh_sr_rec_names(&s, txn, &rec, &canon, &alias), 0);
	assert_string_equal(str(&canon), "x");
	/* ...and the mirror: "x.<domain>" does not claim the short alias
	 * "x", which forward lookups resolve to the record "x" */
	assert_int_equal(zkh_sr_lookup_name(&s, txn, "x." DOMAIN, &rec), 0);
	assert_int_equal(rec.czxid, 4);
	assert_int_equal(zkh_sr_rec_names(&s, txn, &rec, &canon, &alias), 0);
	assert_string_equal(str(&canon), "x." DOMAIN);
	mdb_txn_abort(txn);
	zkh_snapread_close(&s);
}

static void test_reverse_and_enum(void **state)
{
	struct zkh_snapread s;
	struct zkh_rev rev;
	struct zkh_pstr names[ZKH_REV_NAMES_MAX];
	struct zkh_enum_pos pos = { 0 }, next;
	struct zkh_rec_view rec;
	struct zkh_addr a;
	MDB_txn *txn = NULL;
	int family, n4 = 0, n6 = 0;

	(void)state;
	assert_int_equal(zkh_snapread_open(cache, ZKH_SR_TRUST, &s), 0);
	assert_int_equal(mdb_txn_begin(s.env, NULL, MDB_RDONLY, &txn), 0);
	a = addr("10.0.0.1");
	assert_int_equal(zkh_sr_lookup_addr(&s, txn, &a, &rev), 0);
	assert_int_equal(rev.n, 2);
	assert_int_equal(rev.recs[0].czxid, 1);	/* creation order */
	assert_int_equal(rev.recs[1].czxid, 5);
	assert_int_equal(zkh_sr_rev_names(&s, txn, &rev, names,
					  ZKH_REV_NAMES_MAX), 4);
	assert_string_equal(str(&names[0]), "Web." DOMAIN);
	assert_string_equal(str(&names[1]), "Web");
	assert_string_equal(str(&names[2]), "alias." DOMAIN);
	assert_string_equal(str(&names[3]), "alias");
	assert_int_equal(zkh_sr_rev_names(&s, txn, &rev, names, 1), 1);
	a = addr("::ffff:10.0.0.2");	/* answered from the IPv4 record */
	assert_int_equal(zkh_sr_lookup_addr(&s, txn, &a, &rev), 0);
	assert_int_equal(rev.n, 1);
	assert_int_equal(rev.recs[0].czxid, 2);
	a = addr("fd00::1");
	assert_int_equal(zkh_sr_lookup_addr(&s, txn, &a, &rev), 0);
	assert_int_equal(rev.recs[0].czxid, 5);
	a = addr("10.9.9.9");
	assert_int_equal(zkh_sr_lookup_addr(&s, txn, &a, &rev), -ENOENT);
	a = addr("::ffff:10.9.9.9");
	assert_int_equal(zkh_sr_lookup_addr(&s, txn, &a, &rev), -ENOENT);
	while (zkh_sr_enum_next(&s, txn, &pos, &rec, &family, &next) == 0) {
		if (family == AF_INET)
			n4++;
		else
			n6++;
		pos = next;
	}
	assert_int_equal(n4, 5);
	assert_int_equal(n6, 1);
	mdb_txn_abort(txn);
	zkh_snapread_close(&s);
}

static void test_trust_rules(void **state)
{
	char mdb[160], real[170];
	struct zkh_snapread s;

	(void)state;
	assert_int_equal(chmod(cache, 0775), 0);
	assert_int_equal(zkh_snapread_open(cache, ZKH_SR_TRUST, &s), -EPERM);
	assert_int_equal(zkh_snapread_open(cache, 0, &s), 0);	/* publisher */
	zkh_snapread_close(&s);
	assert_int_equal(chmod(cache, 0755), 0);
	assert_int_equal(chmod(tmpdir, 0777), 0);	/* parent */
	assert_int_equal(zkh_snapread_open(cache, ZKH_SR_TRUST, &s), -EPERM);
	assert_int_equal(chmod(tmpdir, 0755), 0);
	snprintf(mdb, sizeof(mdb), "%s/hosts.mdb", cache);
	snprintf(real, sizeof(real), "%s.real", mdb);
	assert_int_equal(chmod(mdb, 0664), 0);
	assert_int_equal(zkh_snapread_open(cache, ZKH_SR_TRUST, &s), -EPERM);
	assert_int_equal(chmod(mdb, 0644), 0);
	assert_int_equal(rename(mdb, real), 0);
	assert_int_equal(zkh_snapread_open(cache, ZKH_SR_TRUST, &s), -ENOENT);
	assert_int_equal(symlink(real, mdb), 0);	/* never followed */
	assert_int_equal(zkh_snapread_open(cache, 0, &s), -EPERM);
	assert_int_equal(unlink(mdb), 0);
	assert_int_equal(rename(real, mdb), 0);
	assert_int_equal(zkh_snapread_open(cache, ZKH_SR_TRUST, &s), 0);
	zkh_snapread_close(&s);
}

/* The application closes LMDB's descriptor and reuses its number: close
 * must leave that descriptor alone and still unmap hosts.mdb. */
static void test_close_stolen_descriptor(void **state)
{
	struct zkh_snapread s;
	struct stat st;
	int fd, other;

	(void)state;
	assert_int_equal(mappings(), 0);
	assert_int_equal(zkh_snapread_open(cache, ZKH_SR_TRUST |
					   ZKH_SR_GENERATION, &s), 0);
	assert_int_equal(mappings(), 1);
	assert_int_equal(mdb_env_get_fd(s.env, &fd), 0);
	other = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(other >= 0);
	assert_int_equal(dup2(other, fd), fd);	/* close + reuse the number */
	zkh_snapread_close(&s);
	assert_int_equal(mappings(), 0);
	/* the application's descriptor is still open and still /dev/null */
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	close(fd);
	close(other);
	/* and an ordinary open/close leaves nothing either */
	assert_int_equal(zkh_snapread_open(cache, ZKH_SR_TRUST, &s), 0);
	zkh_snapread_close(&s);
	assert_int_equal(mappings(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mdb_err),
		cmocka_unit_test(test_alt_key),
		cmocka_unit_test(test_open_and_forward),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_reverse_and_enum),
		cmocka_unit_test(test_trust_rules),
		cmocka_unit_test(test_close_stolen_descriptor),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

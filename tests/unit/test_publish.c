/*
 * test_publish.c - unit tests of the writer side (common/publish/publish.c) against
 * real LMDB: what a published snapshot holds (forward records, reverse
 * index in creation order, meta), how upserts and deletes rewrite the
 * reverse index, all-or-nothing batches, generation continuity across
 * restarts, one writer per directory, that a writer killed with
 * SIGKILL at any moment leaves a snapshot readers can open, that
 * releasing the master's pages gives them back without losing anything,
 * and self-healing: files deleted, replaced by foreign ones or made
 * unreadable, the directory replaced or removed, are rebuilt by the next
 * publish (lock taken again, master moved along, the old generation file
 * bumped so its readers reopen).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zkhosts/names.h"
#include "zkhosts/publish.h"

static char tmpdir[64];
static char cache[128];

static int setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/zkh-pub-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(cache, sizeof(cache), "%s/cache", tmpdir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[160];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct zkh_addr v4(const char *s)
{
	struct zkh_addr a = { .family = AF_INET };

	assert_int_equal(inet_pton(AF_INET, s, a.bytes), 1);
	return a;
}

static struct zkh_addr v6(const char *s)
{
	struct zkh_addr a = { .family = AF_INET6 };

	assert_int_equal(inet_pton(AF_INET6, s, a.bytes), 1);
	return a;
}

static struct zkh_change upsert(const char *name, uint64_t czxid,
				const struct zkh_addr *a, size_t n)
{
	return (struct zkh_change){ .op = ZKH_UPSERT, .name = name,
		.name_len = strlen(name), .czxid = czxid, .addrs = a,
		.naddrs = n };
}

static struct zkh_change del(const char *name)
{
	return (struct zkh_change){ .op = ZKH_DELETE, .name = name,
		.name_len = strlen(name) };
}

/* A read-only view of the published snapshot, as a reader opens it. */
struct snap {
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta, names, addrs;
};

static int snap_open(struct snap *s)
{
	char path[200];
	int rc;

	snprintf(path, sizeof(path), "%s/hosts.mdb", cache);
	memset(s, 0, sizeof(*s));
	if ((rc = mdb_env_create(&s->env)))
		return rc;
	mdb_env_set_maxdbs(s->env, 4);
	rc = mdb_env_open(s->env, path, MDB_RDONLY | MDB_NOLOCK |
			  MDB_NOSUBDIR | MDB_NOTLS, 0);
	if (!rc)
		rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->txn);
	if (!rc)
		rc = mdb_dbi_open(s->txn, ZKH_DB_META, 0, &s->meta);
	if (!rc)
		rc = mdb_dbi_open(s->txn, ZKH_DB_NAMES, 0, &s->names);
	if (!rc)
		rc = mdb_dbi_open(s->txn, ZKH_DB_ADDRS, 0, &s->addrs);
	if (rc) {
		if (s->txn)
			mdb_txn_abort(s->txn);
		mdb_env_close(s->env);
	}
	return rc;
}

static void snap_close(struct snap *s)
{
	mdb_txn_abort(s->txn);
	mdb_env_close(s->env);
}

static int snap_meta(struct snap *s, struct zkh_meta *m)
{
	MDB_val k = { 4, (void *)ZKH_META_KEY }, v;
	int rc = mdb_get(s->txn, s->meta, &k, &v);

	return rc ? rc : zkh_meta_decode(v.mv_data, v.mv_size, m);
}

/* Names (folded) under address `a` in reverse order, joined by ','. */
static void snap_reverse(struct snap *s, const struct zkh_addr *a, char *out,
			 size_t cap)
{
	uint8_t key[ZKH_ADDRKEY_MAX];
	MDB_val k, v;
	MDB_cursor *c;
	const char *name;
	size_t len, used = 0;
	uint64_t czxid;
	int rc;

	out[0] = '\0';
	k.mv_size = (size_t)zkh_addrkey_encode(a, key);
	k.mv_data = key;
	assert_int_equal(mdb_cursor_open(s->txn, s->addrs, &c), 0);
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT_DUP)) {
		assert_int_equal(zkh_revval_decode(v.mv_data, v.mv_size, &czxid,
						   &name, &len), 0);
		used += (size_t)snprintf(out + used, cap - used, "%s%.*s",
					 used ? "," : "", (int)len, name);
	}
	mdb_cursor_close(c);
}

static int snap_get(struct snap *s, const char *key, struct zkh_rec_view *r)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	int rc = mdb_get(s->txn, s->names, &k, &v);

	return rc ? rc : zkh_rec_decode(v.mv_data, v.mv_size, key,
					strlen(key), r);
}

static void test_publish_roundtrip(void **state)
{
	struct zkh_pub_options o = { .domain = "Example.COM" };
	struct zkh_publisher *p;
	struct zkh_addr nn[] = { v6("fd00::5"), v4("10.0.0.5") };
	struct zkh_addr a1 = v4("10.0.0.5"), a2 = v4("10.0.0.6");
	struct zkh_change ch[] = { upsert("NameNode", 7, nn, 2),
				   upsert("nn", 9, &a1, 1),
				   upsert("dn1", 3, &a2, 1) };
	struct zkh_rec_view r;
	struct zkh_meta m;
	struct snap s;
	char rev[256];
	struct stat st;

	(void)state;
	assert_int_equal(zkh_pub_open(cache, &o, &p), 0);
	assert_true(zkh_pub_needs_publish(p));
	assert_int_equal(zkh_pub_apply(p, ch, 3), 0);
	assert_int_equal(zkh_pub_count(p), 3);
	assert_int_equal(zkh_pub_publish(p, ZKH_META_SYNCED, 42), 0);
	assert_false(zkh_pub_needs_publish(p));
	assert_int_equal(zkh_pub_generation(p), 1);
	assert_true(zkh_pub_snapshot_size(p) > 0);

	assert_int_equal(snap_open(&s), 0);
	assert_int_equal(snap_meta(&s, &m), 0);
	assert_int_equal(m.generation, 1);
	assert_int_equal(m.record_count, 3);
	assert_int_equal(m.last_sync_us, 42);
	assert_int_equal(m.flags, ZKH_META_SYNCED);
	assert_string_equal(m.domain, "example.com");
	assert_int_equal(snap_get(&s, "namenode", &r), 0);
	assert_int_equal(r.czxid, 7);
	assert_memory_equal(r.name, "NameNode", 8);
	assert_int_equal(r.n4, 1);	/* IPv4 first, whatever the input order */
	assert_int_equal(r.n6, 1);
	assert_memory_equal(r.v4, a1.bytes, 4);
	assert_memory_equal(r.v6, nn[0].bytes, 16);
	/* Reverse: creation order decides the canonical name. */
	snap_reverse(&s, &a1, rev, sizeof(rev));
	assert_string_equal(rev, "namenode,nn");
	snap_reverse(&s, &nn[0], rev, sizeof(rev));
	assert_string_equal(rev, "namenode");
	snap_close(&s);

	snprintf(rev, sizeof(rev), "%s/hosts.mdb", cache);
	assert_int_equal(stat(rev, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	snprintf(rev, sizeof(rev), "%s/.master", cache);
	assert_int_equal(stat(rev, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	zkh_pub_close(p);
}

static void test_upsert_and_delete_rewrite_reverse(void **state)
{
	struct zkh_publisher *p;
	struct zkh_addr a1 = v4("10.1.0.1"), a2 = v4("10.1.0.2");
	struct zkh_change c1[] = { upsert("web", 1, &a1, 1),
				   upsert("db", 2, &a1, 1) };
	struct zkh_change c2[] = { upsert("WEB", 5, &a2, 1) };
	struct zkh_change c3[] = { del("db"), del("never-existed") };
	struct zkh_rec_view r;
	struct snap s;
	char rev[256];

	(void)state;
	assert_int_equal(zkh_pub_open(cache, NULL, &p), 0);
	assert_int_equal(zkh_pub_apply(p, c1, 2), 0);
	assert_int_equal(zkh_pub_apply(p, c2, 1), 0);	/* web moves to a2 */
	assert_int_equal(zkh_pub_publish(p, 0, 0), 0);
	assert_int_equal(snap_open(&s), 0);
	snap_reverse(&s, &a1, rev, sizeof(rev));
	assert_string_equal(rev, "db");
	snap_reverse(&s, &a2, rev, sizeof(rev));
	assert_string_equal(rev, "web");
	assert_int_equal(snap_get(&s, "web", &r), 0);
	assert_memory_equal(r.name, "WEB", 3);
	assert_int_equal(r.czxid, 5);
	snap_close(&s);

	assert_int_equal(zkh_pub_apply(p, c3, 2), 0);
	assert_int_equal(zkh_pub_publish(p, 0, 0), 0);
	assert_int_equal(snap_open(&s), 0);
	snap_reverse(&s, &a1, rev, sizeof(rev));
	assert_string_equal(rev, "");
	assert_int_equal(snap_get(&s, "db", &r), MDB_NOTFOUND);
	assert_int_equal(snap_get(&s, "web", &r), 0);
	snap_close(&s);
	assert_int_equal(zkh_pub_count(p), 1);
	zkh_pub_close(p);
}

/* Resident kB of this process's mapping of the master's data file. */
static long master_rss_kb(void)
{
	char line[512];
	long rss = -1;
	bool in_master = false;
	FILE *f = fopen("/proc/self/smaps", "re");

	assert_non_null(f);
	while (fgets(line, sizeof line, f)) {
		unsigned long start, end;
		long kb;
		/* a mapping's header line starts "start-end "; field lines
		 * start with a name and a colon */
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in_master = strstr(line, "/.master/data.mdb") != NULL;
		else if (in_master && sscanf(line, "Rss: %ld kB", &kb) == 1)
			rss = rss < 0 ? kb : rss + kb;
	}
	fclose(f);
	return rss;
}

static void test_release_pages(void **state)
{
	static struct zkh_change c[3000];
	static char names[3000][16];
	struct zkh_publisher *p;
	struct zkh_addr a = v4("10.2.0.1"), b = v4("10.2.0.2");
	struct zkh_change later = upsert("after-release", 9000, &b, 1);
	struct zkh_rec_view r;
	struct snap s;

	(void)state;
	for (size_t i = 0; i < 3000; i++) {
		snprintf(names[i], sizeof names[i], "host-%04zu", i);
		c[i] = upsert(names[i], i + 1, &a, 1);
	}
	assert_int_equal(zkh_pub_open(cache, NULL, &p), 0);
	assert_int_equal(zkh_pub_apply(p, c, 3000), 0);
	assert_int_equal(zkh_pub_publish(p, 0, 0), 0);
	/* the compact copy read every page of the master */
	long before = master_rss_kb();
	assert_true(before >= 64);

	assert_int_equal(zkh_pub_release_pages(p), 0);
	assert_int_equal(master_rss_kb(), 0);

	/* nothing lost: the master reads back and keeps taking changes */
	assert_int_equal(zkh_pub_count(p), 3000);
	assert_int_equal(zkh_pub_apply(p, &later, 1), 0);
	assert_int_equal(zkh_pub_publish(p, 0, 0), 0);
	assert_int_equal(snap_open(&s), 0);
	assert_int_equal(snap_get(&s, "host-2999", &r), 0);
	assert_int_equal(r.czxid, 3000);
	assert_int_equal(snap_get(&s, "after-release", &r), 0);
	assert_int_equal(r.czxid, 9000);
	snap_close(&s);
	assert_int_equal(zkh_pub_count(p), 3001);
	assert_int_equal(zkh_pub_release_pages(p), 0);
	zkh_pub_close(p);
}

static void test_bad_batch_applies_nothing(void **state)
{
	struct zkh_publisher *p;
	struct zkh_addr a = v4("10.2.0.1");
	struct zkh_addr dup[] = { v4("10.2.0.1"), v4("10.2.0.1") };
	struct zkh_addr bad = { .family = 99 };
	struct zkh_change ok = upsert("good", 1, &a, 1);
	struct zkh_change bads[][2] = {
		{ ok, upsert("bad name!", 2, &a, 1) },
		{ ok, upsert("x", 2, dup, 2) },
		{ ok, upsert("x", 2, &bad, 1) },
		{ ok, upsert("x", 2, &a, 0) },
		{ ok, upsert("x", 2, &a, ZKH_MAX_ADDRS + 1) },
	};
	size_t i;

	(void)state;
	assert_int_equal(zkh_pub_open(cache, NULL, &p), 0);
	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
		assert_int_equal(zkh_pub_apply(p, bads[i], 2), -EINVAL);
	assert_int_equal(zkh_pub_count(p), 0);
	zkh_pub_close(p);
}

static int count_cb(const char *name, size_t len, uint64_t czxid, void *arg)
{
	(void)name;
	(void)len;
	(void)czxid;
	(*(int *)arg)++;
	return 0;
}

static void test_restart_continues_generation(void **state)
{
	struct zkh_publisher *p, *q;
	struct zkh_addr a = v4("10.3.0.1");
	struct zkh_change c = upsert("h", 1, &a, 1);
	char path[200];
	int n = 0, fd;

	(void)state;
	assert_int_equal(zkh_pub_open(cache, NULL, &p), 0);
	assert_int_equal(zkh_pub_apply(p, &c, 1), 0);
	assert_int_equal(zkh_pub_publish(p, 0, 0), 0);
	assert_int_equal(zkh_pub_publish(p, 0, 0), 0);
	/* One writer per cache directory. */
	assert_int_equal(zkh_pub_open(cache, NULL, &q), -EBUSY);
	zkh_pub_close(p);

	/* A temp file left by a crashed publish is cleaned up. */
	snprintf(path, sizeof(path), "%s/.hosts.mdb.abcdef", cache);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(zkh_pub_open(cache, NULL, &p), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_false(zkh_pub_needs_publish(p));
	assert_int_equal(zkh_pub_generation(p), 2);
	assert_int_equal(zkh_pub_foreach(p, count_cb, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(zkh_pub_publish(p, 0, 0), 0);
	assert_int_equal(zkh_pub_generation(p), 3);
	zkh_pub_close(p);

	/* A snapshot that disappeared is rebuilt by the next publish. */
	snprintf(path, sizeof(path), "%s/hosts.mdb", cache);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(zkh_pub_open(cache, NULL, &p), 0);
	assert_true(zkh_pub_needs_publish(p));
	assert_int_equal(zkh_pub_publish(p, 0, 0), 0);
	assert_int_equal(zkh_pub_generation(p), 4);
	zkh_pub_close(p);
}

static void test_refuses_bad_dirs(void **state)
{
	struct zkh_publisher *p;
	char path[200];
	int fd;

	(void)state;
	assert_int_equal(zkh_pub_open("relative/dir", NULL, &p), -EINVAL);
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(zkh_pub_open(path, NULL, &p), -EEXIST);
	struct zkh_pub_options o = { .domain = "bad domain" };
	assert_int_equal(zkh_pub_open(cache, &o, &p), -EINVAL);
}

/* Child: publish forever, the data growing every round. */
static void publish_forever(void)
{
	struct zkh_publisher *p;
	struct zkh_addr a;
	struct zkh_change c;
	char name[32];
	unsigned i;

	if (zkh_pub_open(cache, NULL, &p))
		_exit(1);
	for (i = 0;; i++) {
		snprintf(name, sizeof(name), "host-%u", i);
		a = (struct zkh_addr){ .family = AF_INET,
			.bytes = { 10, (uint8_t)(i >> 16), (uint8_t)(i >> 8),
				   (uint8_t)i } };
		c = upsert(name, i + 1, &a, 1);
		if (zkh_pub_apply(p, &c, 1) || zkh_pub_publish(p, 0, 0))
			_exit(1);
	}
}

static void test_sigkill_never_breaks_snapshot(void **state)
{
	struct zkh_publisher *p;
	struct zkh_meta m;
	struct snap s;
	uint64_t last = 0;
	unsigned round;
	pid_t pid;
	int status;

	(void)state;
	srand(12345);
	for (round = 0; round < 25; round++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			publish_forever();
		usleep(2000 + (unsigned)(rand() % 20000));
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		/* What a reader opens now is complete and self-consistent. */
		if (snap_open(&s) == 0) {
			MDB_stat st;

			assert_int_equal(snap_meta(&s, &m), 0);
			assert_int_equal(mdb_stat(s.txn, s.names, &st), 0);
			assert_int_equal(st.ms_entries, m.record_count);
			assert_true(m.generation >= last);
			last = m.generation;
			snap_close(&s);
		}
	}
	assert_true(last > 0);
	/* And the next writer carries on from there. */
	assert_int_equal(zkh_pub_open(cache, NULL, &p), 0);
	assert_true(zkh_pub_generation(p) >= last);
	zkh_pub_close(p);
}

/* Map dir/generation read-only, as a long-running reader holds it. */
static const struct zkh_genfile *map_gen(void)
{
	char path[200];
	void *m;
	int fd;

	snprintf(path, sizeof(path), "%s/generation", cache);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	m = mmap(NULL, ZKH_GENFILE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	assert_true(m != MAP_FAILED);
	return m;
}

static uint64_t gen_of(const struct zkh_genfile *g)
{
	return __atomic_load_n(&g->generation, __ATOMIC_ACQUIRE);
}

static void rm_in_cache(const char *name)
{
	char path[200];

	snprintf(path, sizeof(path), "%s/%s", cache, name);
	assert_int_equal(unlink(path), 0);
}

/* The published snapshot holds record "h" and generation `gen`. */
static void assert_published(uint64_t gen)
{
	struct snap s;
	struct zkh_meta m;
	struct zkh_rec_view r;

	assert_int_equal(snap_open(&s), 0);
	assert_int_equal(snap_meta(&s, &m), 0);
	assert_int_equal(m.generation, gen);
	assert_int_equal(snap_get(&s, "h", &r), 0);
	snap_close(&s);
}

static void test_heal_intact_finds_nothing(void **state)
{
	struct zkh_publisher *p;
	struct zkh_addr a = v4("10.4.0.1");
	struct zkh_change c = upsert("h", 1, &a, 1);

	(void)state;
	assert_int_equal(zkh_pub_open(cache, NULL, &p), 0);
	assert_int_equal(zkh_pub_apply(p, &c, 1), 0);
	assert_int_equal(zkh_pub_publish(p, 0, 0), 0);
	assert_int_equal(zkh_pub_check(p), 0);
	assert_false(zkh_pub_needs_publish(p));
	assert_int_equal(zkh_pub_publish(p, 0, 0), 0);
	assert_int_equal(zkh_pub_repaired(p), 0);
	zkh_pub_close(p);
}

static void test_heal_emptied_directory(void **state)
{
	struct zkh_publisher *p;
	struct zkh_addr a = v4("10.4.0.1");
	struct zkh_change c = upsert("h", 1, &a, 1);
	const struct zkh_genfile *old, *now;

	(void)state;
	assert_int_equal(zkh_pub_open(cache, NULL, &p), 0);
	assert_int_equal(zkh_pub_apply(p, &c, 1), 0);
	assert_int_equal(zkh_pub_publish(p, 0, 0), 0);
	old = map_gen();
	assert_int_equal(gen_of(old), 1);
	/* every file removed; .master survives a shell glob */
	rm_in_cache("hosts.mdb");
	rm_in_cache("generation");
	assert_int_equal(zkh_pub_check(p),
			 ZKH_PUB_GENFILE_GONE | ZKH_PUB_SNAPSHOT_GONE);
	assert_true(zkh_pub_needs_publish(p));
	/* still reported until a publish repairs it */
	assert_int_equal(zkh_pub_check(p),
			 ZKH_PUB_GENFILE_GONE | ZKH_PUB_SNAPSHOT_GONE);
	assert_int_equal(zkh_pub_publish(p, 0, 0), 0);
	assert_int_equal(zkh_pub_repaired(p),
			 ZKH_PUB_GENFILE_GONE | ZKH_PUB_SNAPSHOT_GONE);
	assert_published(2);
	now = map_gen();
	assert_int_equal(memcmp(now->magic, ZKH_GENFILE_MAGIC, 8), 0);
	assert_int_equal(gen_of(now), 2);
	/* the old, unlinked file was bumped too: its readers reopen */
	assert_int_equal(gen_of(old), 2);
	assert_int_equal(zkh_pub_check(p), 0);
	assert_int_equal(zkh_pub_publish(p, 0, 0), 0);
	assert_int_equal(gen_of(now), 3);
	assert_int_equal(gen_of(old), 3);
	munmap((void *)old, ZKH_GENFILE_SIZE);
	munmap((void *)now, ZKH_GENFILE_SIZE);
	zkh_pub_close(p);
}

static void test_heal_foreign_files(void **state)
{
	struct zkh_publisher *p;
	struct zkh_addr a = v4("10.4.0.1");
	struct zkh_change c = upsert("h", 1, &a, 1);
	const struct zkh_genfile *now;
	char path[200], tmp[220];
	int fd;

	(void)state;
	assert_int_equal(zkh_pub_open(cache, NULL, &p), 0);
	assert_int_equal(zkh_pub_apply(p, &c, 1), 0);
	assert_int_equal(zkh_pub_publish(p, 0, 0), 0);
	/* a foreign generation file renamed over ours */
	snprintf(path, sizeof(path), "%s/generation", cache);
	snprintf(tmp, sizeof(tmp), "%s/foreign", cache);
	fd = open(tmp, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not ours", 8), 8);
	close(fd);
	assert_int_equal(rename(tmp, path), 0);
	assert_int_equal(zkh_pub_check(p), ZKH_PUB_GENFILE_GONE);
	assert_int_equal(zkh_pub_publish(p, 0, 0), 0);
	now = map_gen();
	assert_int_equal(memcmp(now->magic, ZKH_GENFILE_MAGIC, 8), 0);
	assert_int_equal(gen_of(now), 2);
	munmap((void *)now, ZKH_GENFILE_SIZE);
	/* hosts.mdb made group-writable: readers would refuse it */
	snprintf(path, sizeof(path), "%s/hosts.mdb", cache);
	assert_int_equal(chmod(path, 0664), 0);
	assert_int_equal(zkh_pub_check(p), ZKH_PUB_SNAPSHOT_GONE);
	assert_int_equal(zkh_pub_publish(p, 0, 0), 0);
	assert_published(3);
	assert_int_equal(zkh_pub_check(p), 0);
	zkh_pub_close(p);
}

static void test_heal_directory_replaced(void **state)
{
	struct zkh_publisher *p, *q;
	struct zkh_addr a = v4("10.4.0.1");
	struct zkh_change c = upsert("h", 1, &a, 1);
	const struct zkh_genfile *old, *now;
	char cmd[300], moved[160];

	(void)state;
	assert_int_equal(zkh_pub_open(cache, NULL, &p), 0);
	assert_int_equal(zkh_pub_apply(p, &c, 1), 0);
	assert_int_equal(zkh_pub_publish(p, 0, 0), 0);
	old = map_gen();
	/* the volume replaced: the old directory moved away, a new empty
	 * one in its place */
	snprintf(moved, sizeof(moved), "%s/old-volume", tmpdir);
	assert_int_equal(rename(cache, moved), 0);
	assert_int_equal(mkdir(cache, 0755), 0);
	assert_int_equal(zkh_pub_check(p) & ZKH_PUB_DIR_REPLACED,
			 ZKH_PUB_DIR_REPLACED);
	assert_int_equal(zkh_pub_publish(p, 0, 0), 0);
	assert_published(2);
	now = map_gen();
	assert_int_equal(gen_of(now), 2);
	assert_int_equal(gen_of(old), 2);
	assert_int_equal(zkh_pub_check(p), 0);
	/* the lock was taken again in the new directory */
	assert_int_equal(zkh_pub_open(cache, NULL, &q), -EBUSY);
	/* and the master followed: records still there, apply still works */
	assert_int_equal(zkh_pub_count(p), 1);
	c = upsert("h2", 2, &a, 1);
	assert_int_equal(zkh_pub_apply(p, &c, 1), 0);
	assert_int_equal(zkh_pub_count(p), 2);
	munmap((void *)now, ZKH_GENFILE_SIZE);

	/* removed altogether, not recreated by anyone: we create it */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cache);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(zkh_pub_publish(p, 0, 0), 0);
	assert_published(3);
	assert_int_equal(gen_of(old), 3);
	assert_int_equal(zkh_pub_open(cache, NULL, &q), -EBUSY);
	zkh_pub_close(p);
	/* the master copy is what a restarted writer finds */
	assert_int_equal(zkh_pub_open(cache, NULL, &p), 0);
	assert_int_equal(zkh_pub_count(p), 2);
	assert_int_equal(zkh_pub_generation(p), 3);
	zkh_pub_close(p);
	munmap((void *)old, ZKH_GENFILE_SIZE);
}

static void test_heal_refused_by_other_writer(void **state)
{
	struct zkh_publisher *p, *q;
	struct zkh_addr a = v4("10.4.0.1");
	struct zkh_change c = upsert("h", 1, &a, 1);
	char moved[160];

	(void)state;
	assert_int_equal(zkh_pub_open(cache, NULL, &p), 0);
	assert_int_equal(zkh_pub_apply(p, &c, 1), 0);
	assert_int_equal(zkh_pub_publish(p, 0, 0), 0);
	snprintf(moved, sizeof(moved), "%s/old-volume", tmpdir);
	assert_int_equal(rename(cache, moved), 0);
	/* another writer got the new directory first: we never share it */
	assert_int_equal(zkh_pub_open(cache, NULL, &q), 0);
	assert_int_equal(zkh_pub_publish(p, 0, 0), -EBUSY);
	assert_int_equal(zkh_pub_generation(p), 1);
	zkh_pub_close(q);
	/* once it is gone, the lock is ours again */
	assert_int_equal(zkh_pub_publish(p, 0, 0), 0);
	assert_published(2);
	zkh_pub_close(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_publish_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upsert_and_delete_rewrite_reverse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_batch_applies_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_continues_generation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_bad_dirs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigkill_never_breaks_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heal_intact_finds_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heal_emptied_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heal_foreign_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heal_directory_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heal_refused_by_other_writer, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

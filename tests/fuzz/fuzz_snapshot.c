/*
 * fuzz_snapshot.c - the whole lookup path of libnss_zk over well-formed
 * LMDB files with hostile contents (see nss_harness.h for the lookups and
 * invariants). LMDB's own page format is not hardened against arbitrary
 * bytes (fuzz_snapshot_raw.c shows that), so this target fuzzes what the
 * module itself must survive from a file LMDB can read: any keys and
 * values in "meta", "names" and "addrs", wrong database flags, a missing
 * database or meta. The input is a list of entries the harness writes
 * with LMDB into a scratch environment, then publishes as a compact copy
 * (mdb_env_copyfd2 with MDB_CP_COMPACT, as zkcached does):
 *
 *   byte 0    flags: 1 names is DUPSORT, 2 addrs is not DUPSORT,
 *             4 no default meta, 8 no addrs database, 16 default meta
 *             carries domain "example.com"
 *   entries   u8 database (value % 3: meta, names, addrs), u8 key length,
 *             key, u16 little-endian value length, value
 *
 * Unless flag 4 is set, a valid meta value is stored first, so an entry
 * keyed "meta" in database 0 replaces it. Entries LMDB refuses (empty or
 * over-long keys, DUPSORT values over 511 bytes) are skipped. The seed
 * corpus was made by dumping the real snapshots of fuzz_snapshot_raw's
 * corpus (written by build/tests/tools/zkh-publish) into this format.
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "nss_harness.h"
#include "zkhosts/snapshot.h"

#define F_NAMES_DUP   1
#define F_ADDRS_NODUP 2
#define F_NO_META     4
#define F_NO_ADDRS    8
#define F_DOMAIN      16

static char scratch[300];	/* the writer's scratch LMDB file */
static char copy_path[300];	/* its compact copy */

static void scratch_setup(void)
{
	snprintf(scratch, sizeof(scratch), "%s/../w.mdb", nss_harness_dir);
	snprintf(copy_path, sizeof(copy_path), "%s/../copy.mdb",
		 nss_harness_dir);
}

static void scratch_cleanup(void)
{
	char lock[320];

	unlink(scratch);
	unlink(copy_path);
	snprintf(lock, sizeof(lock), "%s-lock", scratch);
	unlink(lock);
}

static void put_default_meta(MDB_txn *txn, MDB_dbi meta, bool domain)
{
	struct zkh_meta m;
	uint8_t buf[ZKH_META_MAX];
	MDB_val k = { 4, (void *)ZKH_META_KEY }, v;
	int n;

	memset(&m, 0, sizeof(m));
	m.schema = ZKH_SCHEMA_VERSION;
	m.flags = ZKH_META_SYNCED | ZKH_META_CONNECTED;
	m.generation = 7;
	m.ttl = 1;
	if (domain) {
		strcpy(m.domain, "example.com");
		m.domain_len = strlen(m.domain);
	}
	n = zkh_meta_encode(&m, buf, sizeof(buf));
	FUZZ_CHECK(n > 0);
	v.mv_size = (size_t)n;
	v.mv_data = buf;
	FUZZ_CHECK(mdb_put(txn, meta, &k, &v, 0) == 0);
}

/* Write the entries into a fresh scratch environment and return its
 * compact copy's bytes (caller frees) in *out / *len. */
static void build(const uint8_t *d, size_t size, uint8_t **out, size_t *len)
{
	unsigned flags = size > 0 ? d[0] : 0;
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi[3];
	bool have[3] = { true, true, !(flags & F_NO_ADDRS) };
	struct stat st;
	size_t pos = 1;
	int fd;

	scratch_cleanup();
	FUZZ_CHECK(mdb_env_create(&env) == 0);
	FUZZ_CHECK(mdb_env_set_maxdbs(env, 3) == 0);
	FUZZ_CHECK(mdb_env_set_mapsize(env, 64u << 20) == 0);
	FUZZ_CHECK(mdb_env_open(env, scratch, MDB_NOSUBDIR | MDB_NOLOCK |
				MDB_NOSYNC, 0600) == 0);
	FUZZ_CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0);
	FUZZ_CHECK(mdb_dbi_open(txn, ZKH_DB_META, MDB_CREATE, &dbi[0]) == 0);
	FUZZ_CHECK(mdb_dbi_open(txn, ZKH_DB_NAMES, MDB_CREATE |
				(flags & F_NAMES_DUP ? MDB_DUPSORT : 0),
				&dbi[1]) == 0);
	if (have[2])
		FUZZ_CHECK(mdb_dbi_open(txn, ZKH_DB_ADDRS, MDB_CREATE |
					(flags & F_ADDRS_NODUP ? 0 :
					 MDB_DUPSORT), &dbi[2]) == 0);
	if (!(flags & F_NO_META))
		put_default_meta(txn, dbi[0], flags & F_DOMAIN);
	while (pos + 2 <= size) {
		unsigned db = d[pos] % 3;
		size_t klen = d[pos + 1], vlen;
		MDB_val k, v;

		pos += 2;
		if (pos + klen + 2 > size)
			break;
		k.mv_size = klen;
		k.mv_data = (void *)(d + pos);
		pos += klen;
		vlen = (size_t)d[pos] | (size_t)d[pos + 1] << 8;
		pos += 2;
		if (vlen > size - pos)
			vlen = size - pos;
		v.mv_size = vlen;
		v.mv_data = (void *)(d + pos);
		pos += vlen;
		if (have[db])
			(void)mdb_put(txn, dbi[db], &k, &v, 0);	/* may refuse */
	}
	FUZZ_CHECK(mdb_txn_commit(txn) == 0);
	fd = open(copy_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(mdb_env_copyfd2(env, fd, MDB_CP_COMPACT) == 0);
	mdb_env_close(env);
	FUZZ_CHECK(fstat(fd, &st) == 0);
	*len = (size_t)st.st_size;
	*out = malloc(*len ? *len : 1);
	FUZZ_CHECK(*out != NULL);
	FUZZ_CHECK(pread(fd, *out, *len, 0) == (ssize_t)*len);
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	uint8_t *file;
	size_t len;

	if (!ready) {
		nss_harness_setup();
		scratch_setup();
		atexit(scratch_cleanup);
		ready = true;
	}
	build(data, size, &file, &len);
	nss_harness_publish(file, len);
	free(file);
	nss_harness_query();
	return 0;
}

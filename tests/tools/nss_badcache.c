/*
 * nss_badcache - test helper: write a hostile but well-formed cache with
 * plain liblmdb (no publisher), for the NSS module's hostile-cache tests.
 *
 *   nss_badcache DIR MODE
 *
 * Creates DIR (0755) with a valid generation file and DIR/hosts.mdb
 * (single-file LMDB, 0644) whose contents depend on MODE:
 *   values     valid meta; "names" holds one good record ("ok" ->
 *              10.0.0.1) and records that must not decode: random bytes,
 *              a record stored under another name's key, address counts
 *              out of range, a truncated record, a 300-byte key; "addrs"
 *              holds garbage duplicates, duplicates naming records that
 *              are garbage, absent or lack the address, and a malformed
 *              key;
 *   badmeta    meta value is random bytes;
 *   schema     meta says schema 99;
 *   nometa     no "meta" database;
 *   dupnames   "names" is MDB_DUPSORT, "addrs" is not.
 * Exit 0, or 1 with a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zkhosts/names.h"
#include "zkhosts/snapshot.h"

static void die(const char *what, int rc)
{
	fprintf(stderr, "nss_badcache: %s: %s\n", what, mdb_strerror(rc));
	exit(1);
}

static void put(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t klen,
		const void *v, size_t vlen)
{
	MDB_val key = { klen, (void *)k }, val = { vlen, (void *)v };
	int rc = mdb_put(txn, dbi, &key, &val, 0);

	if (rc)
		die("mdb_put", rc);
}

static void put_rec(MDB_txn *txn, MDB_dbi names, const char *key,
		    const char *name, const char *addr)
{
	uint8_t buf[ZKH_REC_MAX];
	struct zkh_addr a;
	int n;

	if (zkh_addr_parse(addr, strlen(addr), &a) != 0)
		die("address", EINVAL);
	n = zkh_rec_encode(name, strlen(name), 7, &a, 1, buf, sizeof(buf));
	if (n < 0)
		die("zkh_rec_encode", EINVAL);
	put(txn, names, key, strlen(key), buf, (size_t)n);
}

static void put_rev(MDB_txn *txn, MDB_dbi addrs, const char *addr,
		    uint64_t czxid, const char *lname)
{
	uint8_t k[ZKH_ADDRKEY_MAX], v[ZKH_REVVAL_MAX];
	struct zkh_addr a;
	int kl, vl;

	zkh_addr_parse(addr, strlen(addr), &a);
	kl = zkh_addrkey_encode(&a, k);
	vl = zkh_revval_encode(czxid, lname, strlen(lname), v, sizeof(v));
	if (kl < 0 || vl < 0)
		die("reverse encode", EINVAL);
	put(txn, addrs, k, (size_t)kl, v, (size_t)vl);
}

static void write_values(MDB_txn *txn, MDB_dbi names, MDB_dbi addrs)
{
	uint8_t junk[64], rec[ZKH_REC_MAX], k[ZKH_ADDRKEY_MAX];
	char longkey[301];
	struct zkh_addr a;
	int i, n, kl;

	for (i = 0; i < (int)sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	put_rec(txn, names, "ok", "ok", "10.0.0.1");
	put(txn, names, "junk", 4, junk, sizeof(junk));
	put(txn, names, "empty", 5, "", 0);
	/* A valid record for "gamma" stored under the key "beta". */
	put_rec(txn, names, "beta", "gamma", "10.0.0.2");
	/* Address counts out of range. */
	zkh_addr_parse("10.0.0.3", 8, &a);
	n = zkh_rec_encode("delta", 5, 9, &a, 1, rec, sizeof(rec));
	rec[1] = 200;
	put(txn, names, "delta", 5, rec, (size_t)n);
	rec[1] = 0;
	rec[2] = 0;
	put(txn, names, "zero", 4, rec, (size_t)n);
	/* Truncated record. */
	put_rec(txn, names, "trunc", "trunc", "10.0.0.4");
	n = zkh_rec_encode("trunc", 5, 9, &a, 1, rec, sizeof(rec));
	put(txn, names, "trunc", 5, rec, (size_t)n - 2);
	memset(longkey, 'a', 300);
	longkey[300] = '\0';
	put(txn, names, longkey, 300, junk, sizeof(junk));
	/* Reverse: garbage first, then a good one for 10.0.0.1. */
	zkh_addr_parse("10.0.0.1", 8, &a);
	kl = zkh_addrkey_encode(&a, k);
	put(txn, addrs, k, (size_t)kl, junk, 3);
	put(txn, addrs, k, (size_t)kl, junk, sizeof(junk));
	put_rev(txn, addrs, "10.0.0.1", 5, "ok");
	/* Names whose records are garbage, absent, or lack the address. */
	put_rev(txn, addrs, "10.0.0.2", 1, "beta");
	put_rev(txn, addrs, "10.0.0.3", 1, "delta");
	put_rev(txn, addrs, "10.0.0.5", 1, "absent");
	put_rev(txn, addrs, "10.0.0.6", 1, "ok");
	/* Malformed key: family 4 with 7 address bytes. */
	put(txn, addrs, "\x04\x0a\x00\x00\x07\x00\x00\x00", 8, junk, 12);
}

int main(int argc, char **argv)
{
	char path[4096];
	struct zkh_genfile g;
	struct zkh_meta m;
	uint8_t mbuf[ZKH_META_MAX];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi meta = 0, names, addrs;
	const char *mode;
	int rc, fd, mlen;
	unsigned nflags = MDB_CREATE, aflags = MDB_CREATE | MDB_DUPSORT;

	if (argc != 3) {
		fprintf(stderr, "usage: nss_badcache DIR MODE\n");
		return 2;
	}
	mode = argv[2];
	if (mkdir(argv[1], 0755) < 0 && errno != EEXIST) {
		perror(argv[1]);
		return 1;
	}
	if (strcmp(mode, "dupnames") == 0) {
		nflags = MDB_CREATE | MDB_DUPSORT;
		aflags = MDB_CREATE;
	}
	snprintf(path, sizeof(path), "%s/hosts.mdb", argv[1]);
	if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_maxdbs(env, 3)) ||
	    (rc = mdb_env_set_mapsize(env, 1 << 20)) ||
	    (rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOLOCK, 0644)))
		die("mdb_env_open", rc);
	if ((rc = mdb_txn_begin(env, NULL, 0, &txn)))
		die("mdb_txn_begin", rc);
	if ((strcmp(mode, "nometa") != 0 &&
	     (rc = mdb_dbi_open(txn, ZKH_DB_META, MDB_CREATE, &meta))) ||
	    (rc = mdb_dbi_open(txn, ZKH_DB_NAMES, nflags, &names)) ||
	    (rc = mdb_dbi_open(txn, ZKH_DB_ADDRS, aflags, &addrs)))
		die("mdb_dbi_open", rc);
	memset(&m, 0, sizeof(m));
	m.schema = strcmp(mode, "schema") == 0 ? 99 : ZKH_SCHEMA_VERSION;
	m.flags = ZKH_META_SYNCED;
	m.generation = 1;
	m.ttl = 5;
	m.record_count = 1;
	mlen = zkh_meta_encode(&m, mbuf, sizeof(mbuf));
	if (mlen < 0)
		die("zkh_meta_encode", EINVAL);
	if (strcmp(mode, "badmeta") == 0)
		memset(mbuf, 0x77, (size_t)mlen);
	if (strcmp(mode, "nometa") != 0)
		put(txn, meta, ZKH_META_KEY, strlen(ZKH_META_KEY), mbuf,
		    (size_t)mlen);
	if (strcmp(mode, "dupnames") == 0)
		put_rec(txn, names, "ok", "ok", "10.0.0.1");
	else
		write_values(txn, names, addrs);
	if ((rc = mdb_txn_commit(txn)))
		die("mdb_txn_commit", rc);
	mdb_env_close(env);
	chmod(path, 0644);

	snprintf(path, sizeof(path), "%s/generation", argv[1]);
	memset(&g, 0, sizeof(g));
	memcpy(g.magic, ZKH_GENFILE_MAGIC, 8);
	g.generation = 1;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, &g, sizeof(g)) != (ssize_t)sizeof(g) ||
	    ftruncate(fd, ZKH_GENFILE_SIZE) < 0 || close(fd) < 0) {
		perror(path);
		return 1;
	}
	return 0;
}

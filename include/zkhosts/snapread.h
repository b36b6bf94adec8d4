/*
 * snapread.h - the one read-only reader of a published snapshot
 * (snapshot.h), shared by every consumer so that they all open, trust
 * and answer the same way: the NSS module, the publisher's probe of what
 * it published, zkhostctl and a DNS front-end. Two halves:
 *
 *   opening (snapread.c): the cache directory's trust rules, the generation
 *   file mapped read-only, hosts.mdb opened by LMDB read-only without a
 *   lock file after checking that LMDB opened the very file we checked,
 *   the map bounded by the file size, meta and database flags validated;
 *   closing releases LMDB's mapping even when the application closed
 *   LMDB's descriptor behind our back;
 *
 *   lookup rules (snaplookup.c): case folding, the snapshot's `domain`
 *   (both "x" and "x.<domain>" find a record stored either way), the
 *   canonical name and alias of a record (a record stored as
 *   "x.<domain>" owns that name over its unqualified sibling "x"),
 *   reverse lookups (records in creation order, each checked to resolve
 *   back to the address, IPv4-mapped IPv6 answered from IPv4 records) and
 *   enumeration. Answers are decoded records (pointers into the map) and
 *   names as two-piece strings, which a packer of NSS results and a DNS
 *   encoder can both copy without a temporary.
 *
 * Links only libc and liblmdb; never logs; errors are -errno. Queries
 * allocate nothing but an LMDB cursor and make no system call.
 */
#ifndef ZKHOSTS_SNAPREAD_H
#define ZKHOSTS_SNAPREAD_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "zkhosts/snapshot.h"

/* ---- LMDB errors ------------------------------------------------------ */

/*
 * The one mapping of LMDB return codes to -errno used by the reader and
 * the publisher: 0 -> 0; MDB_MAP_FULL, MDB_TXN_FULL -> -ENOSPC;
 * MDB_NOTFOUND -> -ENOENT; a system error LMDB passes on (rc > 0) ->
 * -rc; every other LMDB error (MDB_INVALID, MDB_CORRUPTED,
 * MDB_VERSION_MISMATCH, ...) -> -EIO. Pure; thread-safe.
 */
int zkh_mdb_err(int rc);

/* ---- opening ----------------------------------------------------------- */

/* zkh_snapread_open flags. */
#define ZKH_SR_TRUST      0x1u	/* apply the trust rules (see below) */
#define ZKH_SR_GENERATION 0x2u	/* map the generation file as well */

/* One opened snapshot. Fields are read-only to users. */
struct zkh_snapread {
	MDB_env *env;
	MDB_dbi names;
	MDB_dbi addrs;
	struct zkh_meta meta;
	uint64_t entries;	/* entries in "names" as LMDB counts them */
	uint64_t size;		/* bytes of hosts.mdb as opened */
	char dsuffix[ZKH_DOMAIN_MAX + 2];	/* "." + domain, or "" */
	size_t dsuffix_len;
	const struct zkh_genfile *gen;	/* ZKH_SR_GENERATION: PROT_READ
					 * mapping of ZKH_GENFILE_SIZE; else
					 * NULL */
	uint64_t gen_at_open;	/* counter read before hosts.mdb was opened */
	dev_t dev;		/* identity of hosts.mdb as opened */
	ino_t ino;
	const void *in_map;	/* private: a byte inside LMDB's map */
	size_t map_len;		/* private: the map's length */
};

/*
 * Open and validate the snapshot in cache directory `dir` (absolute path)
 * into *s (all fields overwritten). With ZKH_SR_TRUST (every reader but
 * the publisher probing its own files): `dir` is a real directory (not a
 * symlink) that neither group nor others may write, whose parent is owned
 * by root or by dir's owner D and is not group/other-writable; the
 * generation file and hosts.mdb are owned by root or D and not
 * group/other-writable. Always: both are regular files reached without
 * following a symlink. With ZKH_SR_GENERATION the generation file is
 * mapped first (so a publish after the open bumps the counter again).
 * Returns 0, or -ENOENT (something missing), -EPERM (a trust rule
 * failed), -EINVAL (malformed: short or bad-magic generation file, a
 * hosts.mdb shorter than its pages or than two meta pages, meta that
 * fails validation or another schema, missing databases or wrong
 * database flags), -EIO (LMDB refused the file: not LMDB, another LMDB
 * version, corrupted), -EAGAIN (hosts.mdb or dir was replaced while
 * opening; retry), -ENOMEM, or another -errno. On error nothing is left
 * open. Not thread-safe for the same *s; distinct snapshots are
 * independent.
 */
int zkh_snapread_open(const char *dir, unsigned flags,
		      struct zkh_snapread *s);

/*
 * Release everything zkh_snapread_open acquired; *s is zeroed. No read
 * transaction of *s may be live. If LMDB's descriptor still refers to the
 * file we opened, LMDB closes it and its map. If not (the application
 * closed it, maybe reused the number), the descriptor is left alone, the
 * map is found through /proc/self/maps (the mapping of our file that
 * contains a byte we know is in it) and unmapped, and LMDB's small
 * environment structure is parked, never freed (mdb_env_close would close
 * somebody else's file). Without /proc that map stays (one per such
 * close). If the application reopened this very file onto the same number
 * we cannot tell and close it. Calls on distinct snapshots must be
 * serialised by the caller (the parked list is process-wide).
 */
void zkh_snapread_close(struct zkh_snapread *s);

/* The generation counter as it is now: one relaxed load. Only with
 * ZKH_SR_GENERATION. Thread-safe. */
static inline uint64_t zkh_snapread_counter(const struct zkh_snapread *s)
{
	return __atomic_load_n(&s->gen->generation, __ATOMIC_RELAXED);
}

/* ---- lookup rules ------------------------------------------------------ */

/*
 * Every query takes the snapshot and a live read transaction on its
 * environment (mdb_txn_begin(s->env, NULL, MDB_RDONLY, ...)), owned by
 * the caller; the answers point into the map and stay valid while the
 * transaction does. Thread-safe on distinct transactions.
 */

/* A string made of two pieces, a then b (either may be empty). */
struct zkh_pstr {
	const char *a;
	size_t alen;
	const char *b;
	size_t blen;
};

/*
 * The other key a folded name may be stored under when the first one
 * misses: with a domain, "x.<domain>" -> "x", else "x" -> "x.<domain>"
 * (a record stored qualified). `key` (`len` bytes) is a folded name
 * (zkh_name_fold); `dsuffix` ("." + lowercase domain, `dlen` bytes, 0 if
 * none). Writes the alternative into out (capacity ZKH_NAME_MAX + 1,
 * NUL-terminated; may be `key` itself, else must not overlap it) and
 * returns its length, or -ENOENT when there is none
 * (no domain, or it would be longer than ZKH_NAME_MAX). Pure; shared by
 * the snapshot lookup and tools that apply the same rule elsewhere.
 */
int zkh_sr_alt_key(const char *key, size_t len, const char *dsuffix,
		   size_t dlen, char *out);

/*
 * Find the record for `name` (NUL-terminated, untrusted): folded to
 * lowercase, one trailing dot dropped, looked up as is, then under
 * zkh_sr_alt_key. Returns 0 with *rec, or -ENOENT (invalid name, no such
 * record, or a record that fails to decode).
 */
int zkh_sr_lookup_name(const struct zkh_snapread *s, MDB_txn *txn,
		       const char *name, struct zkh_rec_view *rec);

/*
 * How `rec` is named in answers (as written, domain lowercase): with a
 * domain, canonical "x.<domain>" and alias "x"; a record already named
 * "x.<domain>" is not qualified twice (canonical as is, alias "x");
 * without a domain, if qualifying would exceed 253 characters, or if a
 * record "x.<domain>" exists too (it owns that name), canonical "x" and
 * no alias. Writes *canon and up to one alias into *alias; returns the
 * number of aliases (0 or 1).
 */
size_t zkh_sr_rec_names(const struct zkh_snapread *s, MDB_txn *txn,
			const struct zkh_rec_view *rec,
			struct zkh_pstr *canon, struct zkh_pstr *alias);

/* Records reported for one address by a reverse lookup, at most. */
#define ZKH_REV_MAX 16
/* Names a reverse answer can have: canonical and alias of each record. */
#define ZKH_REV_NAMES_MAX (2 * ZKH_REV_MAX)

/* Result of a reverse lookup: records in creation order (lowest czxid
 * first), each holding the queried address (or, for an IPv4-mapped IPv6
 * address answered from IPv4 records, its IPv4 part). */
struct zkh_rev {
	struct zkh_rec_view recs[ZKH_REV_MAX];
	size_t n;
};

/*
 * Records holding address `a`. An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) that no record holds is looked up as a.b.c.d.
 * Returns 0 with out->n >= 1, -ENOENT if none, -ENOMEM if no cursor
 * could be had.
 */
int zkh_sr_lookup_addr(const struct zkh_snapread *s, MDB_txn *txn,
		       const struct zkh_addr *a, struct zkh_rev *out);

/*
 * The names of a reverse answer, in order: names[0] is the canonical
 * name (of the oldest record), then that record's alias, then each
 * further record's canonical name and alias (zkh_sr_rec_names). Writes
 * at most `cap` names (ZKH_REV_NAMES_MAX always suffices); returns how
 * many.
 */
size_t zkh_sr_rev_names(const struct zkh_snapread *s, MDB_txn *txn,
			const struct zkh_rev *rev, struct zkh_pstr *names,
			size_t cap);

/* Enumeration position: after (key, phase); phase 1 = IPv4 answered,
 * 2 = both answered. started == false: before the first record. */
struct zkh_enum_pos {
	bool started;
	int phase;
	size_t key_len;
	char key[ZKH_NAME_MAX + 1];
};

/*
 * The next (record, family) after *pos that has addresses of that family,
 * records in key order. Returns 0 with *rec, *family (AF_INET or
 * AF_INET6) and *next (the position after it; *pos is not changed),
 * -ENOENT at the end, -ENOMEM. The position is a key, re-sought each
 * call, so it works across snapshots.
 */
int zkh_sr_enum_next(const struct zkh_snapread *s, MDB_txn *txn,
		     const struct zkh_enum_pos *pos, struct zkh_rec_view *rec,
		     int *family, struct zkh_enum_pos *next);

#endif

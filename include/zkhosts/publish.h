/*
 * publish.h - the writer side of the cache: a private master LMDB
 * environment that absorbs batches of changes, and the publisher that turns
 * it into the immutable snapshot readers map (see snapshot.h).
 *
 * Layout under the cache directory `dir`:
 *   dir/               mode 0755, created if missing
 *   dir/.master/       mode 0700: the master environment (data.mdb,
 *                      lock.mdb), private to the daemon
 *   dir/hosts.mdb      published snapshot, mode 0644
 *   dir/generation     generation counter, mode 0644, never replaced
 *   dir/.hosts.mdb.XXXXXX  temporary copy, renamed over hosts.mdb
 *
 * Publishing: compact copy of the master (mdb_env_copyfd2, MDB_CP_COMPACT)
 * into a temporary file in dir, optional fdatasync, fchmod 0644, rename()
 * over hosts.mdb, then the generation counter store. A crash at any point
 * leaves hosts.mdb either the old or the new complete file; a leftover
 * temporary file is removed at the next zkh_pub_open.
 *
 * Self-healing: every publish first checks that the directory, the
 * master's lock and data files, the generation file and hosts.mdb are
 * still the files this publisher created (device, inode, owner, mode) and
 * rebuilds what is not: the directory is created again if missing and the
 * writer lock taken in the directory the path names now, the master is
 * copied there, and a new generation file is created (the replaced one
 * stays mapped and is bumped by every later publish, so processes that
 * still map it reopen the cache). zkh_pub_check makes the same comparison
 * on demand (after an inotify event, or periodically).
 *
 * Thread-safety: a zkh_publisher is used by one thread at a time. Errors
 * are returned as -errno, LMDB's through zkh_mdb_err (snapread.h): its own
 * errors become -EIO, except MDB_MAP_FULL and MDB_TXN_FULL (-ENOSPC) and
 * MDB_NOTFOUND (-ENOENT); system errors it reports stay -errno. Nothing
 * here logs.
 */
#ifndef ZKHOSTS_PUBLISH_H
#define ZKHOSTS_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkhosts/snapshot.h"

struct zkh_publisher;

struct zkh_pub_options {
	const char *domain;	/* lowercase domain or NULL */
	bool fsync;		/* fdatasync the snapshot before rename */
	uint32_t ttl;		/* seconds reported to callers, 0 -> 1 */
	size_t map_size;	/* master map size, 0 -> 4 GiB */
};

enum zkh_change_op { ZKH_UPSERT, ZKH_DELETE };

/* One change. For ZKH_DELETE only `name`/`name_len` matter. */
struct zkh_change {
	enum zkh_change_op op;
	const char *name;	/* valid host name, as written */
	size_t name_len;
	uint64_t czxid;		/* creation zxid (reverse-lookup order) */
	const struct zkh_addr *addrs;	/* 1..ZKH_MAX_ADDRS distinct addresses */
	size_t naddrs;
};

/*
 * Open (creating as needed) the cache directory and its master environment.
 * Removes stale temporary files. If hosts.mdb is missing or cannot be
 * opened and validated, it is rebuilt from the master by the next publish
 * (zkh_pub_needs_publish tells). The generation continues from the largest
 * of the generation file and the snapshot's own.
 * Returns 0 and *out (owned by the caller, freed by zkh_pub_close), or
 * -errno (-EINVAL for a bad option, -EEXIST if dir is not a directory).
 */
int zkh_pub_open(const char *dir, const struct zkh_pub_options *opt,
		 struct zkh_publisher **out);

/*
 * Change the domain and fsync options of an open publisher (ttl and
 * map_size are fixed at open). A different domain marks the master as
 * needing a publish, so the next snapshot carries it. Returns 0, or
 * -EINVAL for a domain that is not a valid name (nothing changed).
 */
int zkh_pub_set_options(struct zkh_publisher *p,
			const struct zkh_pub_options *opt);

/* Close and free. Safe on NULL. Does not publish. */
void zkh_pub_close(struct zkh_publisher *p);

/*
 * Apply `n` changes to the master in one transaction (all or nothing).
 * An upsert replaces any previous record of the same (case-folded) name and
 * its reverse entries; a delete of an absent name is not an error.
 * Returns 0, -EINVAL (a change with a bad name or address list; nothing
 * applied), -ENOSPC (master full), -EIO.
 */
int zkh_pub_apply(struct zkh_publisher *p, const struct zkh_change *c,
		  size_t n);

/*
 * Call fn(name, name_len, czxid, arg) for every record in the master, in
 * key order (name as written). Used to sweep records that vanished while
 * the writer was away. fn must not call back into the publisher. Returns
 * 0, -EIO, or the first non-zero value fn returned.
 */
int zkh_pub_foreach(struct zkh_publisher *p,
		    int (*fn)(const char *name, size_t name_len,
			      uint64_t czxid, void *arg),
		    void *arg);

/* Records in the master now. */
uint64_t zkh_pub_count(struct zkh_publisher *p);

/* True if the master changed since the last publish, or hosts.mdb is
 * missing/unusable. */
bool zkh_pub_needs_publish(const struct zkh_publisher *p);

/*
 * Publish the master as the next snapshot with meta flags `flags`
 * (ZKH_META_*) and last full sync time `last_sync_us`. On success the
 * generation is one higher and readers switch at their next lookup.
 * Returns 0 or -errno; on error hosts.mdb is untouched. Rebuilds the
 * layout first (see "Self-healing" above): -EBUSY if the cache directory
 * was replaced and another writer holds the lock in the new one, -EIO if
 * the master could not be reopened after being moved (every later call
 * then fails with -EIO).
 */
int zkh_pub_publish(struct zkh_publisher *p, uint32_t flags,
		    uint64_t last_sync_us);

/* Bits of zkh_pub_check and zkh_pub_repaired. */
#define ZKH_PUB_DIR_REPLACED  0x1u	/* path names another directory, or none,
					 * or its owner/mode changed */
#define ZKH_PUB_MASTER_GONE   0x2u	/* .master's lock or data file not ours */
#define ZKH_PUB_GENFILE_GONE  0x4u	/* generation missing, foreign, or its
					 * owner/mode changed */
#define ZKH_PUB_SNAPSHOT_GONE 0x8u	/* hosts.mdb not the file we published */

/*
 * Compare the cache directory with what this publisher wrote (a handful of
 * lstat calls; writes nothing). Returns the ZKH_PUB_* bits of what differs,
 * 0 if everything is in place; what was found stays reported by later
 * calls until a publish succeeds. Anything found makes
 * zkh_pub_needs_publish true: the next zkh_pub_publish rebuilds it and
 * publishes a complete snapshot again. A file unreadable to stat counts as
 * gone.
 */
unsigned zkh_pub_check(struct zkh_publisher *p);

/*
 * ZKH_PUB_* bits of what the last zkh_pub_publish call found damaged and
 * rebuilt before publishing (0 if nothing). If that publish failed, what
 * it found may be only partly rebuilt; the next publish tries again
 * (-EBUSY: another writer holds the lock in a recreated directory).
 */
unsigned zkh_pub_repaired(const struct zkh_publisher *p);

/* Generation of the last publish (0 if none yet). */
uint64_t zkh_pub_generation(const struct zkh_publisher *p);

/* Size in bytes of the last published snapshot (0 if none yet). */
uint64_t zkh_pub_snapshot_size(const struct zkh_publisher *p);

/*
 * Give back the master map's pages this process has touched (apply and
 * publish read the whole master, so after a publish every page of it
 * counts in the writer's resident set). The pages stay in the page cache;
 * the next apply or publish faults them in again, so call this when the
 * writer goes idle, not after every publish. Must not run concurrently
 * with any other call on `p`. Returns 0 or -errno (-ENOENT if the map is
 * not found in the process's maps file, -EIO if LMDB gives no descriptor).
 */
int zkh_pub_release_pages(struct zkh_publisher *p);

#endif

/*
 * snapfile.h - one published snapshot as the module holds it: the cache
 * directory's trust checks, the read-only mapping of the generation file,
 * the validated LMDB environment over hosts.mdb with its database handles
 * and a small pool of reusable read transactions, and closing all that
 * safely even if the application closed or reused our descriptor.
 * Internal to libnss_zk; nothing here logs, errors are -errno.
 */
#ifndef NSS_ZK_SNAPFILE_H
#define NSS_ZK_SNAPFILE_H

#include <lmdb.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "zkhosts/snapshot.h"

/*
 * Read transactions kept per snapshot: begun once when the snapshot is
 * opened and left live. hosts.mdb never changes once published and is
 * opened MDB_NOLOCK, so a lookup borrows one as it is; renew/reset would
 * only re-read the same meta page and mark every named database stale,
 * costing LMDB a second tree search on the next get (bench/perf,
 * docs/benchmarks.md).
 */
#define ZKH_TXN_POOL 4

struct zkh_snap {
	MDB_env *env;
	MDB_dbi names;
	MDB_dbi addrs;
	struct zkh_meta meta;
	char dsuffix[ZKH_DOMAIN_MAX + 2];	/* "." + domain, or "" */
	size_t dsuffix_len;
	const struct zkh_genfile *gen;	/* PROT_READ mapping, GENFILE_SIZE */
	uint64_t gen_at_open;	/* counter read before hosts.mdb was opened */
	dev_t dev;		/* identity of hosts.mdb as opened */
	ino_t ino;
	MDB_txn *pool[ZKH_TXN_POOL];	/* live read txns, NULL if none */
	atomic_int busy[ZKH_TXN_POOL];	/* 1 while a lookup uses pool[i] */
};

/*
 * Open and validate the snapshot in cache directory `dir` (absolute path)
 * into *s (all fields overwritten). Trust rules, checked here and never
 * per lookup: `dir` is a real directory (not a symlink) that neither group
 * nor others may write, whose parent is owned by root or by dir's owner D
 * and is not group/other-writable; `generation` and `hosts.mdb` are regular
 * files (not symlinks) owned by root or D, not group/other-writable.
 * Returns 0, or -ENOENT (something missing), -EPERM (a trust rule failed),
 * -EINVAL (a file is malformed: short or bad-magic generation file,
 * truncated or non-LMDB hosts.mdb, meta that fails validation, wrong
 * database flags), -EAGAIN (hosts.mdb was replaced while opening; retry),
 * -ENOMEM, or another -errno. On error nothing is left open.
 * Not thread-safe for the same *s; distinct snapshots are independent.
 */
int zkh_snap_open(const char *dir, struct zkh_snap *s);

/*
 * Release everything zkh_snap_open acquired. No read transaction of *s may
 * be in use. If the descriptor LMDB holds no longer refers to the file we
 * opened (the application closed it and maybe reused the number), the
 * descriptor is left alone: the map is unmapped here and LMDB's small env
 * structure is deliberately kept (parked, never freed), because
 * mdb_env_close would close somebody else's file. If the application
 * reopened this very file onto the same number we cannot tell and close
 * it. Calls must be serialised by the caller (the module's swap lock).
 */
void zkh_snap_close(struct zkh_snap *s);

/* The generation counter as it is now (relaxed single load). */
static inline uint64_t zkh_snap_counter(const struct zkh_snap *s)
{
	return __atomic_load_n(&s->gen->generation, __ATOMIC_RELAXED);
}

#endif

/*
 * snapfile.h - one published snapshot as the module holds it: the shared
 * reader's opened snapshot (zkhosts/snapread.h: trust checks, generation
 * file, validated LMDB environment, safe close) plus a small pool of
 * reusable read transactions that lookups borrow without a system call.
 * Internal to libnss_zk; nothing here logs, errors are -errno.
 */
#ifndef NSS_ZK_SNAPFILE_H
#define NSS_ZK_SNAPFILE_H

#include <lmdb.h>
#include <stdatomic.h>
#include <stdint.h>

#include "zkhosts/snapread.h"

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
	struct zkh_snapread r;	/* opened with ZKH_SR_TRUST and
				 * ZKH_SR_GENERATION */
	MDB_txn *pool[ZKH_TXN_POOL];	/* live read txns, NULL if none */
	atomic_int busy[ZKH_TXN_POOL];	/* 1 while a lookup uses pool[i] */
};

/*
 * Open the snapshot in cache directory `dir` (absolute path) into *s (all
 * fields overwritten) with the trust rules and the generation file
 * (zkh_snapread_open with ZKH_SR_TRUST | ZKH_SR_GENERATION; same errors),
 * then begin the pooled read transactions (a failure there only leaves a
 * slot empty). On error nothing is left open. Not thread-safe for the
 * same *s; distinct snapshots are independent.
 */
int zkh_snap_open(const char *dir, struct zkh_snap *s);

/*
 * Abort the pooled transactions and close the snapshot
 * (zkh_snapread_close: safe even if the application closed or reused
 * LMDB's descriptor). No transaction of *s may be in use. Calls must be
 * serialised by the caller (the module's swap lock).
 */
void zkh_snap_close(struct zkh_snap *s);

/* The generation counter as it is now (relaxed single load). */
static inline uint64_t zkh_snap_counter(const struct zkh_snap *s)
{
	return zkh_snapread_counter(&s->r);
}

#endif

/*
 * current.h - the process-wide current snapshot of libnss_zk and how a
 * lookup borrows it: zkh_view_begin gives a referenced snapshot plus a read
 * transaction without taking a lock or making a syscall on the hot path,
 * noticing a new publish through the mapped generation counter and
 * switching to it; zkh_view_end gives both back. Also owns the module's
 * one-time initialisation (config, ZKHOSTS_NSS_BYPASS, fork handlers).
 */
#ifndef NSS_ZK_CURRENT_H
#define NSS_ZK_CURRENT_H

#include <lmdb.h>
#include <pthread.h>

#include "snapfile.h"

/* A borrowed snapshot and read transaction; fields read-only to users. */
struct zkh_view {
	const struct zkh_snap *snap;
	MDB_txn *txn;
	unsigned slot;		/* private */
	int pool;		/* private: pool index, -1 if txn is our own */
};

/*
 * Borrow the current snapshot (opening or switching to a newer one first
 * when needed) and a read transaction on it. Returns 0 and fills *v, or
 * -EPERM when the module is bypassed (ZKHOSTS_NSS_BYPASS) or the cache is
 * refused, -ENOENT when there is no cache, -EDEADLK when called (from a
 * signal handler) on a thread that is itself initialising the module or
 * opening the first snapshot, another -errno when it cannot be used. Every successful call must be paired with zkh_view_end on the
 * same thread. Thread-safe, lock-free unless a snapshot must be opened;
 * never blocks on I/O of others except when no snapshot exists at all.
 */
int zkh_view_begin(struct zkh_view *v);

/* Give back what zkh_view_begin lent. Thread-safe; safe on a zeroed view
 * with snap == NULL. */
void zkh_view_end(struct zkh_view *v);

/*
 * Run the one-time initialisation if needed. Returns 0, -EPERM if the
 * module is bypassed (ZKHOSTS_NSS_BYPASS set at first use), -EDEADLK if
 * this thread is running the initialisation already (a signal handler
 * interrupted it), or the error that makes the config unusable.
 * Thread-safe; never waits for its own thread.
 */
int zkh_module_ready(void);

/*
 * The mutex that serialises enumeration (sethostent/gethostent_r/
 * endhostent); owned here so the fork handlers can reset it.
 */
extern pthread_mutex_t zkh_enum_lock;

#endif

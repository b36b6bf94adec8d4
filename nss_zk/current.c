/*
 * current.c - which snapshot lookups use, and how they borrow it without
 * locks: the process-wide state of libnss_zk (config read once, the
 * ZKHOSTS_NSS_BYPASS switch, fork handlers), a small static array of
 * type-stable slots each holding one opened snapshot, and a differential
 * reference count that lets any number of threads borrow the current
 * slot with one atomic add while a writer swaps in a newer one.
 *
 * How the reference counting works, and why it is correct
 * -------------------------------------------------------
 * `cur` is one 64-bit atomic word: (slot index << 48) | acquire count.
 * Index 0 means "no snapshot". Every slot has a signed 64-bit `inner`.
 *
 *   acquire:  w = fetch_add(&cur, 1); the borrowed slot is w >> 48.
 *   release:  if fetch_sub(&slot->inner, 1) == 1, the slot is dead.
 *   install (under the swap lock): old = exchange(&cur, new << 48), then add
 *             the old acquire count to the old slot's inner, minus BIAS
 *             if the old slot is being retired; a result of 0 means dead.
 *
 * A slot's inner is set to BIAS (2^62) before it becomes current. While
 * it is current, inner = BIAS + (counts transferred so far) - (releases),
 * and the releases can exceed the transferred counts by at most the
 * current acquire count (< 2^48), so inner stays > 0: a live slot is
 * never declared dead. Once retired, BIAS is gone and every acquire ever
 * counted in `cur` for this slot has been added to inner, so inner equals
 * exactly the number of borrowers that have not released yet; it reaches
 * 0 once, from either the last release or the retiring transfer, and that
 * thread marks the slot dead. A borrower's fetch_add happened while `cur`
 * named the slot, so it is counted in the transfer and the slot cannot
 * die under it. The same install with new == old ("refresh") moves a
 * large acquire count into inner so the 48-bit count cannot overflow.
 *
 * Dead slots are closed ("reaped") only under the swap lock, by the next
 * swap or by the thread that killed the slot if it gets the lock without
 * waiting; slot memory is static, so a stale index can never point at
 * freed memory. Slot contents are written before the slot is published
 * with a release exchange and read after an acquire fetch_add.
 *
 * Change detection: each slot maps the generation file; a lookup does one
 * relaxed load of the counter and compares it with the slot's `seen`
 * value. On a difference one thread (trylock; the others keep using the
 * current snapshot) first stores the new value in `seen` and then opens
 * hosts.mdb again, trusting the meta inside the file, not the counter.
 * So a counter that moved without a new file (a daemon crash between
 * rename and bump, or a file we refuse) costs one reopen, not one per
 * lookup. If hosts.mdb is still the same inode the new open is dropped.
 * A blocking lock is taken only when there is no snapshot at all.
 *
 * fork: prepare takes the enumeration and swap locks so the child
 * inherits consistent slots; in the child both locks are re-initialised,
 * `cur` is reset to "none" and every inherited slot is marked dead, so
 * the child opens its own snapshot at its next lookup (LMDB environments
 * must not be used across fork) and closes the inherited ones then.
 *
 * Signal handlers: a lookup may run in a signal handler that interrupted
 * a lookup on the same thread anywhere, so the module must never wait for
 * a lock its own thread holds. The swap lock and the one-time
 * initialisation are therefore not a mutex and pthread_once but a word
 * holding the owner's thread id (taken by compare-and-swap, so owning and
 * naming the owner are one step): a thread that finds its own id there
 * has interrupted itself and backs off with -EDEADLK (UNAVAIL: there is
 * no snapshot it could answer from) instead of waiting forever; other
 * threads wait (only the first open of a process ever waits). Every other
 * lock attempt is a try-lock. The word holds the owner's process id too:
 * a child forked while another thread was initialising the module (its
 * fork handlers not registered yet) finds an owner of another process,
 * which cannot exist in the child, and takes over, as pthread_once does. What remains unsafe in a handler is
 * allocation: opening or closing a snapshot calls malloc/free (see
 * docs/security.md, "Signal handlers").
 *
 * Limits: the module never frees its last snapshot at exit (another
 * thread may still be using it); it is linked -z nodelete, so dlclose
 * never unloads it with a snapshot open (which would leak the snapshot's
 * descriptor and mappings on every dlopen/dlclose).
 */
#include "current.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zkhosts/config.h"

#define NSLOTS     8		/* slot 0 is never used: index 0 = none */
#define IDX_SHIFT  48
#define COUNT_MASK ((UINT64_C(1) << IDX_SHIFT) - 1)
#define REFRESH_AT (UINT64_C(1) << 47)
#define LIVE_BIAS  (INT64_C(1) << 62)

enum { SLOT_FREE, SLOT_LIVE, SLOT_DEAD };

struct slot {
	atomic_int state;
	_Atomic int64_t inner;
	_Atomic uint64_t seen;	/* generation counter last acted on */
	struct zkh_snap snap;
};

static struct slot slots[NSLOTS];
static _Atomic uint64_t cur;
static _Atomic uint64_t swap_owner;	/* owner of the swap lock, 0 */
pthread_mutex_t zkh_enum_lock = PTHREAD_MUTEX_INITIALIZER;

static _Atomic int init_done;
static _Atomic uint64_t init_owner;	/* owner running module_init, 0 */
static bool bypass;
static int config_rc;
static struct zkh_config config;
static bool fork_held;		/* fork_prepare took the swap lock */
static bool atfork_done;	/* fork handlers registered */

/* ---- owner-word locks (see "Signal handlers" above) ------------------ */

/* This thread as an owner word: process id << 32 | thread id. */
static uint64_t owner_self(void)
{
	return (uint64_t)(uint32_t)getpid() << 32 | (uint32_t)gettid();
}

static bool owner_cas(_Atomic uint64_t *w, uint64_t from, uint64_t me)
{
	return atomic_compare_exchange_strong_explicit(w, &from, me,
			memory_order_acquire, memory_order_relaxed);
}

/* Take *w, waiting for another owner of this process; -EDEADLK if this
 * thread owns it already. An owner of another process (we are a child
 * forked while it held the word) is gone: take over. */
static int owner_wait(_Atomic uint64_t *w)
{
	static const struct timespec pause = { 0, 100000 };
	uint64_t me = owner_self(), o;

	while (!owner_cas(w, 0, me)) {
		o = atomic_load_explicit(w, memory_order_relaxed);
		if (o == me)
			return -EDEADLK;
		if (o != 0 && o >> 32 != me >> 32 && owner_cas(w, o, me))
			return 0;
		nanosleep(&pause, NULL);
	}
	return 0;
}

static void owner_release(_Atomic uint64_t *w)
{
	atomic_store_explicit(w, 0, memory_order_release);
}

static bool swap_trylock(void)
{
	return owner_cas(&swap_owner, 0, owner_self());
}

/* ---- one-time initialisation and fork -------------------------------- */

static void fork_prepare(void)
{
	pthread_mutex_lock(&zkh_enum_lock);
	fork_held = owner_wait(&swap_owner) == 0;
}

static void fork_parent(void)
{
	if (fork_held)
		owner_release(&swap_owner);
	pthread_mutex_unlock(&zkh_enum_lock);
}

static void fork_child(void)
{
	unsigned i;

	atomic_store(&swap_owner, 0);
	pthread_mutex_init(&zkh_enum_lock, NULL);
	atomic_store(&cur, 0);
	for (i = 1; i < NSLOTS; i++)
		if (atomic_load(&slots[i].state) == SLOT_LIVE)
			atomic_store(&slots[i].state, SLOT_DEAD);
}

static void module_init(void)
{
	struct zkh_config_error err;
	int rc;

	if (secure_getenv("ZKHOSTS_NSS_BYPASS") != NULL) {
		bypass = true;
		return;
	}
	zkh_config_defaults(&config);
	rc = zkh_config_load(zkh_config_path(NULL), ZKH_CONFIG_MODULE,
			     &config, &err);
	if (rc == -ENOENT) {
		zkh_config_defaults(&config);
		rc = 0;
	}
	config_rc = rc < 0 ? rc : 0;
	/* Once only, even if a forked child re-runs this (see owner_wait). */
	if (!atfork_done) {
		atfork_done = true;
		if (pthread_atfork(fork_prepare, fork_parent, fork_child) != 0)
			config_rc = -ENOMEM;
	}
}

int zkh_module_ready(void)
{
	if (!atomic_load_explicit(&init_done, memory_order_acquire)) {
		int rc = owner_wait(&init_owner);

		if (rc < 0)
			return rc;	/* a handler interrupted module_init */
		if (!atomic_load_explicit(&init_done, memory_order_relaxed))
			module_init();
		atomic_store_explicit(&init_done, 1, memory_order_release);
		owner_release(&init_owner);
	}
	if (bypass)
		return -EPERM;
	return config_rc;
}

/* ---- slots ----------------------------------------------------------- */

static void mark_dead(struct slot *sl)
{
	atomic_store_explicit(&sl->state, SLOT_DEAD, memory_order_release);
}

/* Close dead slots. Caller holds the swap lock. */
static void reap_locked(void)
{
	unsigned i;

	for (i = 1; i < NSLOTS; i++) {
		struct slot *sl = &slots[i];

		if (atomic_load_explicit(&sl->state, memory_order_acquire) !=
		    SLOT_DEAD)
			continue;
		zkh_snap_close(&sl->snap);
		atomic_store_explicit(&sl->state, SLOT_FREE,
				      memory_order_release);
	}
}

/* Make slot `idx` current (or refresh it if it already is). Locked. */
static void install_locked(unsigned idx)
{
	uint64_t old = atomic_exchange_explicit(&cur, (uint64_t)idx <<
						IDX_SHIFT,
						memory_order_acq_rel);
	unsigned oidx = (unsigned)(old >> IDX_SHIFT);
	int64_t add = (int64_t)(old & COUNT_MASK);

	if (oidx == 0)
		return;
	if (oidx != idx)
		add -= LIVE_BIAS;
	if (atomic_fetch_add_explicit(&slots[oidx].inner, add,
				      memory_order_acq_rel) + add == 0)
		mark_dead(&slots[oidx]);
}

/* Open the cache into a free slot and make it current, unless it is the
 * same file as the current slot `cidx`. Caller holds the swap lock. */
static int open_locked(unsigned cidx)
{
	struct slot *sl = NULL;
	unsigned i;
	int rc, tries;

	reap_locked();
	for (i = 1; i < NSLOTS && !sl; i++)
		if (atomic_load(&slots[i].state) == SLOT_FREE)
			sl = &slots[i];
	if (!sl)
		return -EBUSY;
	tries = 0;
	do
		rc = zkh_snap_open(config.cache, &sl->snap);
	while (rc == -EAGAIN && ++tries < 3);
	if (rc < 0)
		return rc;
	if (cidx != 0 && slots[cidx].snap.r.dev == sl->snap.r.dev &&
	    slots[cidx].snap.r.ino == sl->snap.r.ino) {
		zkh_snap_close(&sl->snap);
		return 0;
	}
	atomic_store(&sl->seen, sl->snap.r.gen_at_open);
	atomic_store(&sl->inner, LIVE_BIAS);
	atomic_store_explicit(&sl->state, SLOT_LIVE, memory_order_release);
	install_locked((unsigned)(sl - slots));
	return 0;
}

static void release(unsigned idx)
{
	struct slot *sl = &slots[idx];

	if (idx == 0)
		return;
	if (atomic_fetch_sub_explicit(&sl->inner, 1,
				      memory_order_acq_rel) == 1) {
		mark_dead(sl);
		if (swap_trylock()) {
			reap_locked();
			owner_release(&swap_owner);
		}
	}
}

/*
 * Slot `idx` (borrowed by the caller) saw a new counter value `c`, or its
 * acquire count needs a refresh. Do what is needed if nobody else is.
 * Returns true if a newer snapshot was installed.
 */
static bool maintain(unsigned idx, uint64_t c, bool changed, bool refresh)
{
	unsigned cidx;
	bool swapped = false;

	if (!swap_trylock())
		return false;
	cidx = (unsigned)(atomic_load(&cur) >> IDX_SHIFT);
	if (cidx == idx) {
		if (changed) {
			atomic_store(&slots[idx].seen, c);
			if (open_locked(idx) == 0)
				swapped = (unsigned)(atomic_load(&cur) >>
						     IDX_SHIFT) != idx;
		}
		if (refresh && !swapped)
			install_locked(idx);
	}
	owner_release(&swap_owner);
	return swapped;
}

/* ---- views ----------------------------------------------------------- */

static int txn_get(struct zkh_view *v, struct zkh_snap *s)
{
	int i;

	for (i = 0; i < ZKH_TXN_POOL; i++) {
		if (!s->pool[i] || atomic_exchange_explicit(&s->busy[i], 1,
							    memory_order_acquire))
			continue;
		v->txn = s->pool[i];
		v->pool = i;
		return 0;
	}
	v->pool = -1;
	return mdb_txn_begin(s->r.env, NULL, MDB_RDONLY, &v->txn) == 0 ?
	    0 : -ENOMEM;
}

int zkh_view_begin(struct zkh_view *v)
{
	int attempt, rc;

	memset(v, 0, sizeof(*v));
	v->pool = -1;
	rc = zkh_module_ready();
	if (rc < 0)
		return rc;
	for (attempt = 0; attempt < 3; attempt++) {
		uint64_t w = atomic_fetch_add_explicit(&cur, 1,
						       memory_order_acq_rel);
		unsigned idx = (unsigned)(w >> IDX_SHIFT);
		bool refresh = (w & COUNT_MASK) >= REFRESH_AT;
		struct slot *sl;
		uint64_t c;

		if (idx == 0) {
			/* No snapshot yet: wait for whoever opens one, unless
			 * that is this very thread (a signal handler). */
			rc = owner_wait(&swap_owner);
			if (rc == 0 && (atomic_load(&cur) >> IDX_SHIFT) == 0)
				rc = open_locked(0);
			if (rc != -EDEADLK)
				owner_release(&swap_owner);
			if (rc < 0)
				return rc;
			continue;
		}
		sl = &slots[idx];
		c = zkh_snap_counter(&sl->snap);
		if (c != atomic_load_explicit(&sl->seen,
					      memory_order_relaxed) ||
		    refresh) {
			bool changed = c != atomic_load(&sl->seen);

			if (maintain(idx, c, changed, refresh) &&
			    attempt < 2) {
				release(idx);
				continue;
			}
		}
		rc = txn_get(v, &sl->snap);
		if (rc < 0) {
			release(idx);
			return rc;
		}
		v->snap = &sl->snap;
		v->slot = idx;
		return 0;
	}
	return -EAGAIN;
}

void zkh_view_end(struct zkh_view *v)
{
	struct zkh_snap *s;

	if (!v->snap)
		return;
	s = &slots[v->slot].snap;
	if (v->pool >= 0) {
		atomic_store_explicit(&s->busy[v->pool], 0,
				      memory_order_release);
	} else {
		mdb_txn_abort(v->txn);
	}
	release(v->slot);
	v->snap = NULL;
	v->txn = NULL;
}

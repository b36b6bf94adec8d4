/*
 * barrier.h - the commands of zkbarrier, split by role: the ZooKeeper
 * state commands (set, get, wait: barrier_state.c) and the name barrier
 * (hosts: barrier_hosts.c). Each returns an exit status (enum zkc_exit)
 * and prints its own messages to stderr prefixed "zkbarrier: ".
 */
#ifndef ZKHOSTS_TOOLS_BARRIER_H
#define ZKHOSTS_TOOLS_BARRIER_H

#include <stdbool.h>
#include <stdint.h>

#include "zkclient.h"

/* Longest state word, and the characters it may hold. */
#define BARRIER_STATE_MAX 64

/* True if `s` is a state word: 1..64 of [A-Za-z0-9_.-]. */
bool barrier_state_valid(const char *s);

/* set SERVICE STATE: create <root>/boot (and parents) if missing, then
 * create or overwrite <root>/boot/SERVICE with STATE. z: config loaded. */
int barrier_set(struct zkc *z, const char *service, const char *state,
		int64_t deadline);

/* get SERVICE: print the state on stdout; exit 1 if the node is absent. */
int barrier_get(struct zkc *z, const char *service, int64_t deadline);

/*
 * wait SERVICE STATE: return 0 once the node holds STATE (trailing
 * whitespace ignored), re-reading after every watch or session event;
 * reconnects after session expiry; 1 at the deadline if ZooKeeper was
 * reached at least once, 3 if it never was.
 */
int barrier_wait(struct zkc *z, const char *service, const char *state,
		 int64_t deadline);

/*
 * hosts NAME...: return 0 once every name resolves with getaddrinfo
 * through this process's NSS chain (the zk bypass variable cleared), woken
 * by changes of the cache in `cache_dir`; 1 at the deadline, naming the
 * names still unresolved.
 */
int barrier_hosts(const char *cache_dir, char *const *names, int n,
		  int64_t deadline, bool verbose);

#endif

/*
 * zkclient.h - the small ZooKeeper client layer zkbarrier and zkhostctl
 * share: strict config loading with FILE:LINE: key errors, connecting with
 * a deadline (connect string resolved by zkh_zk_resolve, so the C client
 * never resolves through our own NSS module), auth from auth_file, one
 * session watcher that counts every event so callers can sleep until
 * "something happened", and synchronous wrappers over the asynchronous API
 * that give up at a deadline. Also the exit statuses both programs use.
 *
 * Everything here is for single-threaded programs: one struct zkc is used
 * by one thread (the client library's own threads only touch it through
 * the watcher and completions, under zkc->lock). Functions that fail put a
 * one-line English explanation in zkc->err (never a secret).
 */
#ifndef ZKHOSTS_TOOLS_ZKCLIENT_H
#define ZKHOSTS_TOOLS_ZKCLIENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zookeeper/zookeeper.h>

#include "zkhosts/config.h"

/* Exit statuses shared by zkbarrier and zkhostctl (see their man pages). */
enum zkc_exit {
	ZKC_EXIT_OK = 0,
	ZKC_EXIT_FALSE = 1,	/* timeout, not found, stale */
	ZKC_EXIT_USAGE = 2,	/* bad arguments, bad config, bad input */
	ZKC_EXIT_ZK = 3,	/* ZooKeeper unreachable or an error from it;
				 * zkhostctl status: daemon down */
	ZKC_EXIT_OTHER = 4,	/* anything else (out of memory, I/O) */
};

/* No deadline. */
#define ZKC_FOREVER INT64_MAX

/* How often a long wait says on stderr what it is still waiting for. */
#define ZKC_PROGRESS_MS 10000

/* Called with a one-line "what we wait for and why" (no prefix, no
 * newline) every ZKC_PROGRESS_MS while a wait goes on. */
typedef void (*zkc_progress_fn)(void *arg, const char *msg);

struct zkc {
	struct zkh_config cfg;
	char conf_path[ZKH_PATH_MAX];
	zhandle_t *zh;
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* CLOCK_MONOTONIC */
	int state;		/* last session state reported */
	bool expired;		/* this handle's session expired */
	bool auth_failed;
	bool ever_connected;	/* any handle of this zkc connected once */
	uint64_t events;	/* bumped by every watcher call */
	bool verbose;		/* show the client library's own log */
	/* Set by the caller after zkc_init, read by zkc_connect: */
	bool keep_trying_refused;	/* do not fail fast when every
					 * server refuses (a boot wait) */
	zkc_progress_fn progress;	/* NULL: a silent wait */
	void *progress_arg;
	/* Owned by zkc_connect: */
	char connect[4096];	/* resolved, numeric connect string */
	struct zkh_acl acl;	/* of every node zkc_create makes */
	bool acl_ready;		/* acl chosen (zkh_zk_acl_for) */
	char err[6144];
};

/* Monotonic clock in ms; deadline = zkc_deadline(seconds) (<0: forever). */
int64_t zkc_now_ms(void);
int64_t zkc_deadline(double seconds);

/*
 * Initialise *z (must precede every other call) and load the config:
 * explicit_path (-c) or ZKHOSTS_CONF or /etc/zkhosts.conf, strictly
 * (unknown keys are errors). need_zk: the `zookeeper` key must be set.
 * missing_ok: a missing file that was not named explicitly means
 * defaults. Returns 0 or -errno with z->err "FILE:LINE: key 'K': MSG".
 */
int zkc_init(struct zkc *z, const char *explicit_path, bool need_zk,
	     bool missing_ok);

/*
 * Connect (or, after expiry, reconnect with a new session) and add the
 * auth_file credentials. Before the first connect it chooses z->acl, the
 * ACL of every node zkc_create makes (common/zk/zkacl.c: `acl`, else ALL
 * for auth_file's identity and READ for everyone, else open); a problem
 * with auth_file or an ACL that cannot be derived is -EINVAL. Returns once the session is connected, or at the
 * deadline. While no session comes, each server address is probed with a
 * plain TCP connect a few times a second: when every address refuses the
 * connection outright (ECONNREFUSED) for ZKC_REFUSED_ROUNDS rounds in a
 * row, it gives up at once with -ECONNREFUSED (about a second) unless
 * z->keep_trying_refused is set; a server that does not answer (slow,
 * partitioned) never counts as refusing, so it gets the whole deadline.
 * Every ZKC_PROGRESS_MS without a session it calls z->progress (if set)
 * with why: names not resolving, connection refused, no answer.
 * Returns 0, -ETIMEDOUT (never connected in time), -ECONNREFUSED, -EINVAL
 * (bad connect string or auth_file: config problem), -EACCES (auth
 * refused), -EHOSTUNREACH only if no host of the connect string ever
 * resolved, or -errno; z->err says which, naming the servers.
 */
int zkc_connect(struct zkc *z, int64_t deadline);

/* Rounds of "every server refused" before zkc_connect gives up. */
#define ZKC_REFUSED_ROUNDS 4

/* True while the current handle's session is connected. */
bool zkc_connected(struct zkc *z);

/*
 * Why there is no session now, for a progress line: probes every server
 * of the last resolved connect string once (up to ~0.2 s) and writes
 * "not connected to ZooKeeper Z: connection refused by every server (...)"
 * or "... no answer from ..." into buf. Returns buf.
 */
const char *zkc_why_not_connected(struct zkc *z, char *buf, size_t cap);

/* Close the handle (if any) and free what *z holds. Safe to call twice. */
void zkc_close(struct zkc *z);

/* Events seen so far; then sleep until the count differs from `seen` or
 * the deadline passes (returns -ETIMEDOUT). */
uint64_t zkc_events(struct zkc *z);
int zkc_wait_event(struct zkc *z, uint64_t seen, int64_t deadline);

/* True once the current handle's session has expired (reconnect). */
bool zkc_session_expired(struct zkc *z);

/* True if any handle of this zkc ever had a connected session. */
bool zkc_ever_connected(struct zkc *z);

/*
 * Synchronous calls that return a ZooKeeper code (ZOK, ZNONODE, ...), or
 * ZOPERATIONTIMEOUT when the deadline passed first. `watch` leaves a watch
 * that wakes zkc_wait_event.
 * zkc_get: up to *len bytes into buf; *len becomes the data length
 * (truncated to the capacity); st may be NULL.
 * zkc_children: *out filled (free with deallocate_String_vector).
 */
int zkc_get(struct zkc *z, const char *path, bool watch, char *buf,
	    int *len, struct Stat *st, int64_t deadline);
int zkc_exists(struct zkc *z, const char *path, bool watch,
	       struct Stat *st, int64_t deadline);
int zkc_set(struct zkc *z, const char *path, const char *data, int len,
	    int64_t deadline);
/* zkc_create: persistent, with z->acl (zkc_connect chose it). */
int zkc_create(struct zkc *z, const char *path, const char *data, int len,
	       int64_t deadline);
int zkc_delete(struct zkc *z, const char *path, int64_t deadline);
int zkc_children(struct zkc *z, const char *path, struct String_vector *out,
		 int64_t deadline);

/*
 * The ACL of `path` into *acl, and its stat (aversion: the ACL's version)
 * into *st (may be NULL). An ACL zkhosts could not have set (more than
 * ZKH_ACL_MAX entries, an over-long id) is ZBADARGUMENTS.
 */
int zkc_get_acl(struct zkc *z, const char *path, struct zkh_acl *acl,
		struct Stat *st, int64_t deadline);
/* Set the ACL of `path` if its ACL version is still `aversion` (-1: any);
 * ZBADVERSION if it changed meanwhile. */
int zkc_set_acl(struct zkc *z, const char *path, int aversion,
		const struct zkh_acl *acl, int64_t deadline);

/* Create `path` and its missing parents (persistent, empty, z->acl);
 * ZNODEEXISTS is success. Returns a ZooKeeper code. */
int zkc_create_parents(struct zkc *z, const char *path, int64_t deadline);

/*
 * Write "what failed on PATH: why" for ZooKeeper code `rc` into z->err,
 * with the usual causes spelled out (ZNONODE, ZNOAUTH, ZCONNECTIONLOSS,
 * deadline). Returns z->err.
 */
const char *zkc_explain(struct zkc *z, const char *what, const char *path,
			int rc);

/* The zkh_zk_route_log logger for these tools: "PROG: zookeeper: LINE"
 * on stderr. `prog` must outlive the process. */
void zkc_route_log(const char *prog, bool verbose);

/* Print "PROG: MESSAGE" and a pointer to --help on stderr; returns
 * ZKC_EXIT_USAGE so callers can `return zkc_bad_usage(...)`. */
__attribute__((format(printf, 2, 3)))
int zkc_bad_usage(const char *prog, const char *fmt, ...);

/* Parse a timeout in seconds ("10", "0.5"; 0..1e6). Returns 0 or -EINVAL. */
int zkc_parse_seconds(const char *s, double *out);

#endif

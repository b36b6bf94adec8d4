/*
 * fakezk.h - a small model of ZooKeeper for the daemon's unit tests
 * (fakezk.c), behind the same zkio.h interface the daemon uses over the
 * real client. It is a model, not a list of canned replies: a tree of
 * nodes with versions and czxid/mzxid/pzxid from one zxid counter,
 * ephemeral nodes owned by sessions (gone when their session ends), multi
 * as one transaction, the ACL each node was created with (recorded, not
 * enforced), ACLs (a protected node refuses an unauthenticated
 * session with ZNOAUTH, exists excepted, and its watch events do not
 * reach that session; wrong credentials end the session with
 * AUTH_FAILED), one-shot data/exist/child watches whose events are
 * delivered before the replies to later requests, as ZooKeeper orders
 * them, connection loss (pending requests fail with ZCONNECTIONLOSS, the
 * watches are re-armed on reconnect and fire for what changed meanwhile)
 * and expiry. Reads and exists may go without a watch; a generic multi
 * (zkio_multi: creates and versioned sets) is checked whole, then
 * applied with one zxid; fakezk_count(FZ_MULTI, path) counts every
 * path a multi touches.
 *
 * The daemon's requests wait in a queue until the test lets the "server"
 * answer them (fakezk_step / fakezk_run), so a test can change the tree
 * between a request and its answer. Other clients are the test itself:
 * fakezk_create/set/delete apply at once and fire the daemon's watches.
 * Failures are scripted with fakezk_fail (the next N matching requests
 * answer a given code), so later tests (retries with backoff, fleet-scale
 * index, ops) reuse the same model. Every request is logged
 * (fakezk_count) so a test checks what the daemon asked for.
 *
 * The daemon may hold several handles (the mirror's watch sessions,
 * mirror.h): each is a client with its own session, watches and
 * connection; the first handle made is the main one, which the calls
 * without a handle argument act on. zkio_sync answers ZOK (one server is
 * never behind itself); a lagging server is scripted with fakezk_fail.
 *
 * One model per process (the zkio functions find it); single-threaded.
 */
#ifndef FAKEZK_H
#define FAKEZK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkio.h"

/* Request kinds, for fakezk_fail and fakezk_count. */
enum fz_op { FZ_GET = 1, FZ_LIST = 2, FZ_CREATE = 4, FZ_EXISTS = 8,
	     FZ_MULTI = 16, FZ_AUTH = 32, FZ_DELETE = 128, FZ_SYNC = 256,
	     FZ_UNWATCH = 512, FZ_ANY = 959 };

/* Create the model (the root "/" exists) and make it the current one. */
void fakezk_init(void);
/* Free every node, session and queued request. */
void fakezk_reset(void);

/* ---- the server's side ------------------------------------------------- */

/* Reachable (default) or not: while down, a handle stays connecting and
 * each fakezk_step logs a refused connection as the client would
 * (zkd_log_zk_line). */
void fakezk_set_reachable(bool up);
/* Credentials the server accepts ("digest", "user:secret"). */
void fakezk_set_credentials(const char *scheme, const char *cred);
/* Make zkio_open fail as an unresolvable connect string would. */
void fakezk_set_unresolvable(bool on);
/* Answer the oldest queued request (or connect). False if none. */
bool fakezk_step(void);
/* Answer until nothing is queued; returns how many were answered. */
int fakezk_run(void);
/* Requests waiting for an answer. */
size_t fakezk_pending(void);
/* The next `count` requests of kinds `ops` whose path starts with
 * `prefix` (NULL: any) answer `rc` and change nothing. */
void fakezk_fail(unsigned ops, const char *prefix, int rc, int count);

/* ---- other clients (apply at once, fire the daemon's watches) ----------- */

/* A session of another client; returns its id. */
int64_t fakezk_session_open(void);
/* End a session (ours or another's): its ephemeral nodes go. */
void fakezk_session_close(int64_t id);
/* Create (parents must exist; owner 0 = persistent), set, delete.
 * Return a ZooKeeper code. */
int fakezk_create(const char *path, const char *data, int64_t owner);
int fakezk_set(const char *path, const char *data);
int fakezk_delete(const char *path);
/* Create every missing node of path (persistent, empty). */
void fakezk_mkdirs(const char *path);
/* Protect a node: sessions without accepted credentials get ZNOAUTH. */
void fakezk_protect(const char *path);
/* Lift the protection (an operator fixing the ACL; no event, as in
 * ZooKeeper, where setACL fires no watch). */
void fakezk_unprotect(const char *path);

/* ---- the daemon's connection ------------------------------------------- */

/* Connection lost: queued requests fail with ZCONNECTIONLOSS, then a
 * CONNECTING event; later requests fail at once until reconnect. */
void fakezk_disconnect(void);
/* Connection back with the same session: CONNECTED, then the watches
 * fire for every watched node that changed while away. */
void fakezk_reconnect(void);
/* The daemon's session expires (its ephemerals go): queued requests fail
 * with ZSESSIONEXPIRED, then an EXPIRED event; the handle is dead. */
void fakezk_expire(void);
/* The daemon's current session id (0 if none). */
int64_t fakezk_client_session(void);
/* The same for one handle (fakezk_handle). */
void fakezk_disconnect_handle(struct zkio *io);
void fakezk_reconnect_handle(struct zkio *io);
void fakezk_expire_handle(struct zkio *io);
/* The i-th handle the daemon made (0: the main one), open or not, or
 * NULL; how many are open; a handle's session id (0 if none). */
struct zkio *fakezk_handle(size_t i);
size_t fakezk_open_handles(void);
int64_t fakezk_handle_session(const struct zkio *io);

/* ---- inspection --------------------------------------------------------- */

/* Node data ("" if empty) or NULL if absent; stat if st != NULL. */
const char *fakezk_get(const char *path, struct zkio_stat *st);
/* The ACL a node was created with, as zkh_zk_acl_format prints it (the
 * daemon's zkio_set_acl, or "world:anyone:cdrwa" for nodes the test or
 * fakezk_mkdirs made), or NULL if absent. */
const char *fakezk_acl(const char *path);
/* Requests of kinds `ops` on exactly `path` (NULL: any path) so far. */
int fakezk_count(unsigned ops, const char *path);
/* Forget the request log. */
void fakezk_clear_log(void);
/* Watches the daemon holds on path (data/exist + child), all handles. */
int fakezk_watches(const char *path);
/* Watches `io` holds, of kinds (bit mask: 1 data, 2 exist, 4 child). */
int fakezk_handle_watches(const struct zkio *io, unsigned kinds);
/* The index (fakezk_handle) of the handle holding a data watch on path;
 * -1 if none, -2 if more than one does. */
int fakezk_data_watch_handle(const char *path);
/* fakezk_count of the requests one handle sent. */
int fakezk_count_handle(const struct zkio *io, unsigned ops, const char *path);

#endif

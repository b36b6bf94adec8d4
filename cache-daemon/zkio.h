/*
 * zkio.h - the daemon's only door to ZooKeeper. zkio.c implements it over
 * the C client (the one file of cache-daemon/ that calls the ZooKeeper
 * API); tests/fakezk/fakezk.c implements it over a small model of
 * ZooKeeper for the unit tests. Every answer comes back as a struct
 * zkd_event on the queue given to zkio_new, in the order ZooKeeper
 * delivers them (a watch event before the reply to a later request that
 * observes the change); requests never block.
 *
 * A handle has a generation, bumped by every zkio_open and zkio_close:
 * events of an older handle are stale (zkio_current says which).
 * Generations are unique across every struct zkio of the process, so a
 * daemon holding several (the mirror's watch sessions, mirror.h) tells
 * by zkio_current which one an event belongs to.
 *
 * Thread-safety: main loop only (the completions run on the client's
 * thread and only push events).
 */
#ifndef ZKD_ZKIO_H
#define ZKD_ZKIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evqueue.h"
#include "zkhosts/config.h"
#include "zkhosts/zkhandle.h"

struct zkio;

/* This process's session: id (0 if none) and password. */
struct zkio_session_id {
	uint64_t id;
	char passwd[ZKH_ZK_PASSWD_LEN];
};

/* A layer pushing to `q` (which must outlive it). NULL on ENOMEM. */
struct zkio *zkio_new(struct zkd_evq *q);
/* Close the handle if open, free the layer. NULL ok. */
void zkio_free(struct zkio *io);

/*
 * Open a new handle on `connect` (a config's `zookeeper`; its chroot is
 * left to the caller's paths) with the session timeout; if `auth` is not
 * NULL its credentials are added at once (result: EV_VOID TAG_AUTH). The
 * session's events follow (ZKIO_CONNECTED...). `desc` gets the resolved
 * server list for a log line. Returns 0 or -errno with a message in err
 * (zkh_zk_handle_open's). Closes an open handle first.
 */
int zkio_open(struct zkio *io, const char *connect, int timeout_ms,
	      const struct zkh_zk_auth *auth, char *desc, size_t desc_cap,
	      char *err, size_t err_cap);
/* Close the handle (if any); every event of it still queued, and the
 * ZCLOSING completions the close delivers, become stale. */
void zkio_close(struct zkio *io);
bool zkio_is_open(const struct zkio *io);
/* True if e belongs to the open handle. */
bool zkio_current(const struct zkio *io, const struct zkd_event *e);
/* The handle's session (id 0 before it connected). */
void zkio_session(const struct zkio *io, struct zkio_session_id *out);
/* Session timeout the server granted, ms (0 if not connected). */
int zkio_timeout(const struct zkio *io);
/* The ACL of every node created from now on (zkio_create, zkio_replace);
 * copied. Until the first call: the open ACL (world:anyone:cdrwa). */
void zkio_set_acl(struct zkio *io, const struct zkh_acl *acl);
/* Text of a ZooKeeper result code. */
const char *zkio_strerror(int rc);
/* True if rc says only that the request was lost with the connection,
 * or that the handle is gone: whether it was applied is unknown, and it
 * is for the session's reconnect (or a new session) to settle. Pure. */
static inline bool zkio_lost(int rc)
{
	return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT ||
	       rc == ZINVALIDSTATE || rc == ZSESSIONEXPIRED ||
	       rc == ZSESSIONMOVED || rc == ZCLOSING;
}

/*
 * Asynchronous requests; every result comes back as an event (EV_DATA,
 * EV_CHILDREN, EV_VOID with `tag`, EV_EXISTS with `tag`), whose path is
 * the request's. Reads and exists set a watch. A request that cannot be
 * sent (no handle: ZINVALIDSTATE, or the client's own refusal) yields its
 * error as the event. Out of memory counts as a lost event (evq_take_lost).
 */
void zkio_get_data(struct zkio *io, const char *path);
void zkio_list(struct zkio *io, const char *path);
void zkio_create(struct zkio *io, const char *path, const char *data,
		 enum zkio_mode mode, enum zkd_ev_tag tag);
void zkio_exists(struct zkio *io, const char *path, enum zkd_ev_tag tag);
/* Delete `path` if its version is `version` and create it again with
 * `data` and `mode`, as one multi: other clients see the old node or the
 * new one, never neither. EV_VOID with `tag`; rc ZOK, or the first failing
 * operation's error (ZBADVERSION, ZNONODE: the node changed meanwhile). */
void zkio_replace(struct zkio *io, const char *path, int version,
		  const char *data, enum zkio_mode mode, enum zkd_ev_tag tag);

/*
 * Requests of the fleet index (zkindex.h; indexer.c and consumer.c).
 * zkio_read: EV_DATA with `tag`, a data watch only if `watch`.
 * zkio_stat: EV_EXISTS with `tag` (stat with pzxid and num_children), an
 * exists/data watch only if `watch`. zkio_delete: EV_VOID, ZBADVERSION if
 * `version` (>= 0) does not match. zkio_multi: the `n` operations in one
 * transaction, EV_VOID with `tag` and the first failing operation's
 * error; every create gets the ACL of zkio_set_acl, as zkio_create's
 * nodes do. The data is copied before the call returns.
 */
enum zkio_op_kind { ZKIO_OP_CREATE, ZKIO_OP_SET };
struct zkio_op {
	enum zkio_op_kind kind;
	const char *path;
	const char *data;
	size_t len;
	int version;		/* ZKIO_OP_SET: expected version */
};
#define ZKIO_MULTI_MAX 40

/*
 * Requests of the mirror's watch sessions (mirror.h).
 * zkio_sync: ZooKeeper's sync on `path`: the server this handle is
 * connected to catches up with the leader before it answers the handle's
 * later requests. EV_VOID with `tag`.
 * zkio_unwatch: drop the handle's data watch on `path` at the server and
 * in the client once the server answers, so a reconnect no longer re-arms
 * it. EV_VOID with `tag`; ZNOWATCHER if there was none; a lost connection
 * leaves the watch (it fires once more at most).
 */
void zkio_sync(struct zkio *io, const char *path, enum zkd_ev_tag tag);
void zkio_unwatch(struct zkio *io, const char *path, enum zkd_ev_tag tag);
void zkio_read(struct zkio *io, const char *path, bool watch,
	       enum zkd_ev_tag tag);
void zkio_stat(struct zkio *io, const char *path, bool watch,
	       enum zkd_ev_tag tag);
void zkio_delete(struct zkio *io, const char *path, int version,
		 enum zkd_ev_tag tag);
void zkio_multi(struct zkio *io, const struct zkio_op *ops, size_t n,
		enum zkd_ev_tag tag);

#endif

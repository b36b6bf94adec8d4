/*
 * mirror.h - the tree mirror (mirror.c): what zkcached knows of
 * <chroot><root>/hosts, kept in step with ZooKeeper by one-shot watches
 * and turned into changes for the publisher's batch (batch.h). It sends
 * its requests through zkio and hands changes to the batch; it reads no
 * other role's state: what it needs comes in a struct mirror_env on every
 * call. It reports, and main acts on: a full sync whose reads are all in
 * (mirror_sync_complete), a lost change that needs a full resync
 * (`resync`), and a status-visible change (`changed`).
 *
 * A read or listing the server refuses (anything but a lost connection
 * or ZNONODE: no read permission, auth, marshalling, system errors,
 * throttling) is retried with backoff (retry.h) until it succeeds or the
 * node is gone. A node that cannot be read keeps its last record and is
 * counted as pending (status `pending_reads`); an exists watch tells its
 * deletion or change where the server delivers events to a client that
 * cannot read the node (see mirror.c), else the listing or the next retry
 * does. It does not
 * hold up the end of a full sync and is not swept by it. A refused
 * listing is retried the same way (`pending_listing`); the full sync
 * completes once it succeeds. The sync error slot says what and why.
 *
 * Watch sessions. While it holds at most `per_session` names every
 * request goes to the main handle (env->io). Above, the per-host data
 * watches are spread over S = ceil(names / per_session) extra handles
 * ("watch sessions", opened and owned by main: env->wio) so that no
 * session's SetWatches packet outgrows jute.maxbuffer on a reconnect: a
 * name's reads (and so its data watch) go to watch session
 * jump_hash(fold(name), S), a stable hash that moves only 1/S of the
 * names when S grows by one; S only grows while the mirror lives
 * (`want_shards` tells main how many it needs). The main handle keeps the
 * child watch and the listing. A name whose watch session is not usable
 * waits ("parked") until it is; a watch session that lost its connection
 * keeps its watches (the client re-arms them); one whose handle was
 * closed (expired) has its share read again when its new session is in
 * (mirror_on_shard_closed, mirror_on_shard_ready). See mirror.c for why a
 * ZNONODE from a watch session is not trusted until after a sync.
 *
 * Thread-safety: main loop only.
 */
#ifndef ZKD_MIRROR_H
#define ZKD_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "errslot.h"
#include "evqueue.h"
#include "retry.h"
#include "zkio.h"

#define ZKD_PATH_CAP 2048
/* Reads in flight during a sync: enough to hide round trips, small
 * enough that a 100k-node load never queues 100k requests in the client. */
#define ZKD_MAX_INFLIGHT 512
/*
 * Watch-count limit. On a same-session reconnect the 3.8 C client re-arms
 * every watch in ONE SetWatches packet: 4 + strlen(path) bytes per watch
 * plus ~46 bytes. The server drops any packet longer than its jute.maxbuffer
 * (default 1048575) and the client reconnects and resends forever. Measured
 * (ZooKeeper 3.8.0, root /zkhosts, names "load-00000", 29 bytes a watch):
 * 36,000 watches reconnect fine, 40,000 give "Len error ... 1160046" on the
 * server. In general the limit is ~1048500 / (11 + strlen(root) + average
 * name length) hosts (4 bytes of length, root, "/hosts/", the name): ~36k
 * with 10-character names under /zkhosts, ~17k with 40-character names. Past it the session machine detects the flapping
 * (session.h, ZKD_FLAP_*) and starts a new session (no watches to restore,
 * then a full sync). The watch sessions (above) keep each session's share
 * near `per_session` (default 20,000, ~0.6 MB) so it is not reached with
 * the default jute.maxbuffer; past ZKD_WATCH_SESSIONS_MAX sessions the
 * shares grow beyond per_session. The mirror warns after a sync when one
 * session's estimate passes ZKD_WATCH_WARN_BYTES.
 */
#define ZKD_SETWATCHES_MAX 1048575
#define ZKD_WATCH_WARN_BYTES (ZKD_SETWATCHES_MAX * 9 / 10)

/* Most watch sessions (at the default 20,000 names each, 1.28M names). */
#define ZKD_WATCH_SESSIONS_MAX 64

/* What every mirror call may use. */
struct mirror_env {
	struct zkio *io;	/* the main handle: listing, layout */
	struct zkd_batch *batch;	/* where changes go */
	bool usable;		/* the session can take requests now */
	uint64_t now;		/* monotonic ms */
	/* the watch sessions main has opened so far (nw <= want_shards) */
	struct zkio *const *wio;
	const bool *wusable;	/* [i]: wio[i] can take requests now */
	size_t nw;
	/* which handle the event handed to the call came from: 0 main,
	 * i + 1 watch session i */
	size_t from;
	/* a node whose data watch on the main handle is not the mirror's
	 * alone (the registration's own node): never unwatched there */
	const char *keep_path;
};

/* A watch session, as the mirror counts it. */
struct mirror_shard {
	unsigned inflight;	/* reads sent on it and not answered */
};

struct zkd_node;		/* mirror.c */

struct zkd_mirror {
	struct zkd_node **buckets;
	size_t nbuckets, count;
	struct zkd_node *fq_head, *fq_tail;	/* nodes waiting for a read */
	unsigned inflight;
	uint32_t epoch;		/* full-sync epoch */
	uint32_t list_stamp;	/* listing counter */
	bool full_sync;		/* a full sync is under way */
	bool list_inflight, relist_wanted;
	struct zkd_retry list_retry;	/* the listing, while refused */
	struct zkd_timers timers;	/* refused reads and listing, by due time */
	uint64_t pending;	/* nodes whose read is refused (records kept) */
	uint64_t retries;	/* requests sent again after a refusal */
	char pending_last[ZKD_PATH_CAP + 64];	/* last node refused, and why */
	bool synced_listing;	/* the full sync's listing arrived */
	uint64_t sync_started_ms;
	uint64_t skipped;	/* nodes currently skipped as invalid */
	uint64_t last_sync_us;	/* realtime of the last completed full sync */
	bool synced;		/* a full sync completed in this session */
	bool resync;		/* a change was lost (no memory): resync all */
	bool changed;		/* `skipped` changed (status) */
	struct zkd_error err;	/* ZKH_ERR_SYNC */
	/* watch sessions (see above) */
	unsigned per_session;	/* names per session (config), >= 1 */
	size_t nshards;		/* names spread over this many (0: main only) */
	size_t want_shards;	/* main opens this many (== nshards) */
	struct mirror_shard shard[ZKD_WATCH_SESSIONS_MAX];
	/* data watches held per handle: [0] main, [i + 1] watch session i */
	uint64_t watches[ZKD_WATCH_SESSIONS_MAX + 1];
	uint64_t parked;	/* names waiting for their watch session */
	char root[ZKD_PATH_CAP];	/* chroot + root */
	char hosts[ZKD_PATH_CAP];	/* chroot + root + /hosts */
	char boot[ZKD_PATH_CAP];
};

/* Paths from the connect string's chroot ("" if none) and the config's
 * root; per_session starts at ZKH_DEFAULT_WATCHES_PER_SESSION (the caller
 * sets the config's). 0, -ENOMEM, -ENAMETOOLONG. */
int mirror_init(struct zkd_mirror *m, const char *chroot, const char *root);
void mirror_free(struct zkd_mirror *m);
/* New session (or resync): create the layout if missing, list, read all. */
void mirror_start_full_sync(struct zkd_mirror *m, const struct mirror_env *env);
/* Same session reconnected: retry lost reads, list once more. */
void mirror_on_reconnect(struct zkd_mirror *m, const struct mirror_env *env);
/* The session ended: the mirror is no longer known to be in sync. */
void mirror_on_session_end(struct zkd_mirror *m);
/* Results and watch events of the current handle (e owned by the caller). */
void mirror_on_watch(struct zkd_mirror *m, const struct mirror_env *env,
		     const struct zkd_event *e);
void mirror_on_children(struct zkd_mirror *m, const struct mirror_env *env,
			const struct zkd_event *e);
void mirror_on_data(struct zkd_mirror *m, const struct mirror_env *env,
		    const struct zkd_event *e);
void mirror_on_ensure(struct zkd_mirror *m, const struct zkd_event *e);
/* Result of the exists watch set on a node whose read was refused
 * (EV_EXISTS, TAG_MIRROR_EXISTS). */
void mirror_on_exists(struct zkd_mirror *m, const struct mirror_env *env,
		      const struct zkd_event *e);
/* Result of a sync sent on a watch session (EV_VOID, TAG_MIRROR_SYNC;
 * env->from says which). */
void mirror_on_sync(struct zkd_mirror *m, const struct mirror_env *env,
		    const struct zkd_event *e);
/* Watch session i (env->wusable[i]) can take requests again (a new
 * session, or the same one reconnected): its waiting names are read. */
void mirror_on_shard_ready(struct zkd_mirror *m, const struct mirror_env *env,
			   size_t i);
/* Watch session i's handle was closed (its session expired or ended):
 * its requests and watches are gone; its share of names is read again
 * (with watches) once it is ready again. */
void mirror_on_shard_closed(struct zkd_mirror *m, const struct mirror_env *env,
			    size_t i);
/* The most data watches held on one handle (status `watch_max`). */
uint64_t mirror_watch_max(const struct zkd_mirror *m);
/* Send the retries due at env->now (reads and the listing). */
void mirror_tick(struct zkd_mirror *m, const struct mirror_env *env);
/* When the nearest retry is due (ms), 0 if none. */
uint64_t mirror_deadline(const struct zkd_mirror *m);
/* Issue queued reads while below the in-flight bound. */
void mirror_pump(struct zkd_mirror *m, const struct mirror_env *env);
/* True when a full sync runs and everything it asked for is in: main
 * then sweeps (batch_sweep with mirror_keeps) and calls mirror_finish_sync. */
bool mirror_sync_complete(const struct zkd_mirror *m, bool usable);
/* batch_sweep's predicate: true if the mirror holds `name` as valid, or
 * as a node whose read is refused (its record is kept). */
bool mirror_keeps(const char *name, void *mirror);
/* End the full sync: synced, logged with the `vanished` records swept. */
void mirror_finish_sync(struct zkd_mirror *m, size_t vanished, uint64_t now,
			uint64_t realtime_us);

#endif

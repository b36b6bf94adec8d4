/*
 * zkcached.h - the daemon as a whole: the struct that holds every role and
 * the reactions that tie them together (dispatch.c), driven by the loop in
 * main.c. The roles, each a file owning its own struct:
 *
 *   zkio      the only code that talks to ZooKeeper (requests; callbacks
 *             push events on the queue, evqueue.h); one for the main
 *             session, one per watch session of the mirror (mirror.h),
 *             each watch session with its own session machine
 *   session   the session state machine: event in, transition out
 *   mirror    <root>/hosts mirrored by watches; changes to the batch
 *   batch     pending changes applied and published; the end-of-sync sweep
 *   register  this host's ephemeral record
 *   report    status file, metrics, systemd notifications
 *   indexer   the fleet index's writer (elected), fed by the batch's tap
 *   consumer  the fleet index's reader: feeds the batch instead of the
 *             mirror (docs/scale.md)
 *
 * Who calls whom: main -> dispatch -> {session, mirror, register, batch,
 * report, zkio}; mirror -> {batch, zkio}; register -> {zkio, ifaddrs};
 * every role -> {errslot, log}. No role calls back into dispatch or into a
 * role that calls it. Errors live in one slot per source (errslot.h),
 * owned by the role that meets them: connection and auth here.
 *
 * Thread-safety: main loop only.
 */
#ifndef ZKCACHED_H
#define ZKCACHED_H

#include <stdbool.h>
#include <stdint.h>

#include "batch.h"
#include "errslot.h"
#include "evqueue.h"
#include "index.h"
#include "mirror.h"
#include "register.h"
#include "report.h"
#include "session.h"
#include "zkhosts/config.h"
#include "zkhosts/publish.h"
#include "zkhosts/status.h"
#include "zkhosts/zkhandle.h"
#include "zkio.h"

/* Who feeds the batch: the mirror (an indexer, or the fallback while the
 * directory is small) or the consumer of the fleet index. */
enum zkd_mode { ZM_CONSUMER, ZM_MIRROR };

struct zkd {
	struct zkh_config cfg;
	char conf_path[ZKH_PATH_MAX];
	char chroot[ZKD_PATH_CAP];	/* chroot of the connect string, or "" */
	struct zkh_zk_auth auth;	/* secret: never logged */
	bool have_auth;
	struct zkh_publisher *pub;
	struct zkd_evq q;
	bool q_ready;		/* q initialised */
	struct zkio *io;
	struct zkd_session s;
	/* the mirror's watch sessions (mirror.h): handles opened on demand
	 * (d->m.want_shards) while mirroring, closed when it stops */
	struct zkio *wio[ZKD_WATCH_SESSIONS_MAX];
	struct zkd_session ws[ZKD_WATCH_SESSIONS_MAX];
	bool wusable[ZKD_WATCH_SESSIONS_MAX];	/* filled by mirror_env */
	size_t nw;			/* watch sessions opened */
	uint64_t ws_new;		/* watch sessions established */
	struct zkd_mirror m;
	struct zkd_batch b;
	struct zkd_register r;
	struct zkd_report rep;
	struct zkd_indexer x;
	struct zkd_consumer c;
	enum zkd_mode mode;
	uint64_t index_sync_us;	/* realtime of the consumer's first round */
	uint64_t stale_since;	/* ms: the index seen stale since then */
	struct zkd_error conn_err;	/* ZKH_ERR_CONNECTION */
	struct zkd_error auth_err;	/* ZKH_ERR_AUTH */
	uint64_t connect_deadline;	/* ms: no session by then: new handle */
	unsigned connect_tries;		/* handles given up in a row */
	uint64_t started_us;
	uint64_t pidns;			/* inode of /proc/self/ns/pid, 0 unknown */
	enum zkd_state logged_state;	/* the state last logged */
	uint64_t disconnected_us;	/* realtime: unusable since; 0 usable */
	uint64_t progress_at;		/* ms: next "still disconnected" line */
	unsigned progress_ms;		/* its step (doubles, capped) */
	/* A reload that changed session keys waits for its new session. */
	struct zkh_config next_cfg;
	struct zkh_zk_auth next_auth;	/* secret: never logged */
	bool next_have_auth;
	uint64_t switch_at;		/* ms; 0 = no switch pending */
	bool stopping;
};

/* "Still disconnected" lines: first after this, doubling to the cap. */
#define ZKD_PROGRESS_MIN_MS 2000
#define ZKD_PROGRESS_MAX_MS 300000
/* A reload that needs a new session opens it after a delay drawn
 * uniformly from [0, min(session_timeout, ZKD_RELOAD_SPREAD_MS)]: a
 * fleet reloaded at once does not reconnect at once. */
#define ZKD_RELOAD_SPREAD_MS 30000

/*
 * Set up every role from d->cfg (loaded by the caller): the event queue,
 * zkio, the chroot split off the connect string, auth_file, mirror paths,
 * batch, registration. `pub` may be NULL until zkd_attach_publisher.
 * Returns 0, or -errno with a message in err (a config problem when
 * -EINVAL or -ENAMETOOLONG).
 */
int zkd_init(struct zkd *d, char *err, size_t err_cap);
/* The cache is open: from now on changes are published to pub. */
void zkd_attach_publisher(struct zkd *d, struct zkh_publisher *pub);
/* Free what zkd_init made (not the publisher); wipes the credentials. */
void zkd_free(struct zkd *d);
/* Open a ZooKeeper handle now; a failure schedules a retry. */
void zkd_open_session(struct zkd *d, uint64_t now);
/* Take every queued event and react to it. */
void zkd_process_events(struct zkd *d, uint64_t now);
/* React to one event (owned by the caller). */
void zkd_dispatch(struct zkd *d, const struct zkd_event *e, uint64_t now);
/* Do what is due at `now` (reconnect, reads, retries, publish, status). */
void zkd_tick(struct zkd *d, uint64_t now);
/* Nearest deadline (ms) of every role, 0 if none. */
uint64_t zkd_deadline(const struct zkd *d);
/* SIGUSR1: a full resync if connected. */
void zkd_resync(struct zkd *d, uint64_t now);
/*
 * SIGHUP: apply the configuration `nc` (loaded and validated by the
 * caller; the log level is the caller's). domain, fsync, publish_delay,
 * max_records and metrics_file change at once; zookeeper, root,
 * auth_file, session_timeout and register are switched by a new session
 * after a random delay (ZKD_RELOAD_SPREAD_MS); cache is kept (a restart
 * is needed, logged). Never a resync by itself. Returns 0, or -EINVAL
 * with a message in err (e.g. auth_file unreadable) and nothing changed.
 */
int zkd_reload(struct zkd *d, const struct zkh_config *nc, uint64_t now,
	       char *err, size_t err_cap);
/* SIGTERM: close the session (our ephemeral node goes), publish what is
 * pending, write the status as stopped. */
void zkd_shutdown(struct zkd *d, uint64_t now);
/* The status as main reports it. */
void zkd_fill_status(const struct zkd *d, struct zkh_status *st);

#endif

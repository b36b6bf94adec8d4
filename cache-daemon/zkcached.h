/*
 * zkcached.h - private declarations shared by the files of the zkcached
 * daemon. The daemon is one main loop (main.c) that owns every piece of
 * state below; ZooKeeper's completion thread only fills events and pushes
 * them on the event queue (evqueue.c), which wakes the loop through an
 * eventfd. Rooms: session.c (the ZooKeeper session state machine),
 * mirror.c (the tree of <root>/hosts mirrored by watches), batch.c
 * (pending changes applied and published in batches), register.c (this
 * host's own ephemeral record), ifaddrs.c (default-route addresses),
 * report.c (status file, metrics, systemd notifications), log.c.
 *
 * Thread-safety: everything here is called from the main loop only, except
 * the evq_* functions and zkd_log, which any thread may call.
 */
#ifndef ZKCACHED_H
#define ZKCACHED_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zookeeper/zookeeper.h>

#include "zkhosts/config.h"
#include "zkhosts/names.h"
#include "zkhosts/publish.h"
#include "zkhosts/status.h"
#include "zkhosts/zkconn.h"

#define ZKD_PATH_CAP 2048
/* Reads in flight during a sync: enough to hide round trips, small
 * enough that a 100k-node load never queues 100k requests in the client. */
#define ZKD_MAX_INFLIGHT 512
/* While a full sync runs, publish progress at most this often. */
#define ZKD_SYNC_PUBLISH_MS 1000
/* Apply pending changes to the master once this many are queued. */
#define ZKD_BATCH_APPLY 2048
/* Idle this long after a publish, the daemon gives memory back: the
 * master map's touched pages and the allocator's free ones. */
#define ZKD_TRIM_IDLE_MS 3000
/* Reconnect backoff after expiry or a failed start, with jitter. */
#define ZKD_BACKOFF_MIN_MS 100
#define ZKD_BACKOFF_MAX_MS 10000
/*
 * Watch-count limit. On a same-session reconnect the 3.8 C client re-arms
 * every watch in ONE SetWatches packet: 4 + strlen(path) bytes per watch
 * plus ~46 bytes. The server drops any packet longer than its jute.maxbuffer
 * (default 1048575) and the client reconnects and resends forever. Measured
 * (ZooKeeper 3.8.0, root /zkhosts, names "load-00000", 29 bytes a watch):
 * 36,000 watches reconnect fine, 40,000 give "Len error ... 1160046" on the
 * server. In general the limit is ~1048500 / (19 + strlen(root) + average
 * name length) hosts: ~36k with 10-character names under /zkhosts, ~17k with
 * 40-character names. Past it zkcached detects the flapping (a reconnect
 * lost again within ZKD_FLAP_MS, ZKD_FLAP_MAX times in a row) and starts a
 * new session (no watches to restore, then a full sync), and warns after a
 * sync when the estimate passes ZKD_WATCH_WARN_BYTES.
 */
#define ZKD_SETWATCHES_MAX 1048575
#define ZKD_WATCH_WARN_BYTES (ZKD_SETWATCHES_MAX * 9 / 10)
#define ZKD_FLAP_MS 2000
#define ZKD_FLAP_MAX 3
/* Retry of a registration blocked by another owner. */
#define ZKD_REGISTER_RETRY_MS 2000

/* ---- log.c ------------------------------------------------------------ */

extern int zkd_log_level;	/* enum zkh_log_level; lines above it dropped */

/* Print one line "zkcached[pid]: LEVEL: message" to stderr. Any thread. */
void zkd_log(enum zkh_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Hook for zkh_zk_route_log: the ZooKeeper client's own lines. */
void zkd_log_zk_line(enum zkh_log_level lvl, const char *line);

/* Monotonic milliseconds and realtime microseconds. */
uint64_t zkd_now_ms(void);
uint64_t zkd_realtime_us(void);

/* ---- evqueue.c ---------------------------------------------------------- */

enum zkd_ev_kind {
	EV_WATCH,	/* a watch or session event (type, state, path) */
	EV_CHILDREN,	/* result of a children listing */
	EV_DATA,	/* result of a data read of one host node */
	EV_VOID,	/* result of create/delete/set/auth (tag says which) */
	EV_EXISTS,	/* result of an exists check (registration) */
};

/* What a request was for (EV_VOID and EV_EXISTS results). */
enum zkd_ev_tag {
	TAG_NONE, TAG_ENSURE, TAG_AUTH, TAG_REG_EXISTS, TAG_REG_CREATE,
	TAG_REG_REPLACE,
};

/*
 * One event. The main loop allocates it as the context of an asynchronous
 * request (kind, tag, gen, path filled); the completion fills rc and the
 * result fields and pushes it. Watch events are allocated by the watcher.
 * The queue owns pushed events; evq_pop hands them back to the caller,
 * who frees them with zkd_ev_free.
 */
struct zkd_event {
	struct zkd_event *next;
	enum zkd_ev_kind kind;
	enum zkd_ev_tag tag;
	uint64_t gen;		/* handle generation the event belongs to */
	int rc;			/* ZOK or a ZooKeeper error */
	int type, state;	/* EV_WATCH */
	char *path;		/* request path or watch path (owned) */
	char *data;		/* EV_DATA (owned, may be NULL) */
	int data_len;
	bool has_stat;
	struct Stat stat;
	char **names;		/* EV_CHILDREN (owned) */
	size_t nnames;
};

struct zkd_evq {
	pthread_mutex_t lock;
	struct zkd_event *head, *tail;
	int efd;		/* eventfd, readable while events wait */
	int lost;		/* events dropped for lack of memory */
};

int evq_init(struct zkd_evq *q);	/* 0 or -errno */
void evq_destroy(struct zkd_evq *q);	/* frees queued events */
/* Push (any thread). A NULL event records a loss (see evq_take_lost). */
void evq_push(struct zkd_evq *q, struct zkd_event *e);
/* Take every queued event (main loop), in order; drains the eventfd. */
struct zkd_event *evq_take_all(struct zkd_evq *q);
/* Number of events lost since the last call (then reset). */
int evq_take_lost(struct zkd_evq *q);
/* Allocate an event with a copy of path (NULL ok); NULL on ENOMEM. */
struct zkd_event *zkd_ev_new(enum zkd_ev_kind kind, enum zkd_ev_tag tag,
			     uint64_t gen, const char *path);
void zkd_ev_free(struct zkd_event *e);

/* ---- the daemon ----------------------------------------------------------- */

/* Session states, in the words of the status file. */
enum zkd_state {
	ZST_STARTING, ZST_CONNECTING, ZST_SYNCING, ZST_CONNECTED,
	ZST_DISCONNECTED, ZST_EXPIRED, ZST_STOPPED,
};
const char *zkd_state_name(enum zkd_state s);

/* Context of one ZooKeeper handle, given to the watcher. Freed only after
 * zookeeper_close of its handle returned. */
struct zkd_hctx {
	struct zkd_evq *q;
	uint64_t gen;
};

struct zkd_session {
	zhandle_t *zh;
	struct zkd_hctx *hctx;
	uint64_t gen;		/* bumped for every new handle */
	enum zkd_state state;
	clientid_t id;		/* current session, client_id 0 if none */
	uint64_t prev_ids[4];	/* this process's earlier sessions */
	uint64_t reconnect_at;	/* ms; 0 = no reconnect scheduled */
	unsigned backoff_ms;
	unsigned sessions;	/* sessions established so far */
	uint64_t connected_at;	/* ms of the last (re)connect */
	unsigned flaps;		/* same-session reconnects lost at once */
	char chroot[ZKD_PATH_CAP];	/* chroot of the connect string, or "" */
	char auth_scheme[64];
	char auth_cred[512];	/* secret: never logged */
	bool have_auth;
};

struct zkd_node;		/* mirror.c */

struct zkd_mirror {
	struct zkd_node **buckets;
	size_t nbuckets, count;
	struct zkd_node *fq_head, *fq_tail;	/* nodes waiting for a read */
	unsigned inflight;
	uint32_t epoch;		/* full-sync epoch */
	bool full_sync;		/* a full sync is under way */
	bool list_inflight, relist_wanted, list_retry;
	bool synced_listing;	/* the full sync's listing arrived */
	uint64_t sync_started_ms;
	uint64_t skipped;	/* nodes currently skipped as invalid */
	uint64_t last_sync_us;	/* realtime of the last completed full sync */
	bool synced;		/* a full sync completed in this session */
	char root[ZKD_PATH_CAP];	/* chroot + root */
	char hosts[ZKD_PATH_CAP];	/* chroot + root + /hosts */
	char boot[ZKD_PATH_CAP];
};

struct zkd_pending;		/* batch.c */

struct zkd_batch {
	struct zkd_pending *items;
	size_t n, cap;
	uint64_t publish_at;	/* ms; 0 = nothing waiting */
	uint64_t trim_at;	/* ms; 0 = nothing to give back */
	uint64_t last_publish;	/* ms of the last publish; 0 = none yet */
	bool force_publish;	/* publish even without changes */
	bool apply_failed;
	bool over_budget;	/* master holds more than max_records */
	uint64_t publishes;
};

enum zkd_reg_state { REG_OFF, REG_IDLE, REG_CHECKING,
		     REG_CREATING, REG_HELD, REG_BLOCKED };

struct zkd_register {
	enum zkd_reg_state state;
	char name[ZKH_NAME_MAX + 1];
	char path[ZKD_PATH_CAP];
	char data[ZKH_MAX_ADDRS * 48];
	bool recheck;		/* re-run the check after the current step */
	uint64_t retry_at;	/* ms, REG_BLOCKED / errors */
	uint64_t saved_id;	/* session saved by a previous run */
	int64_t blocked_owner;	/* last owner we refused to take over */
	char state_file[ZKH_PATH_MAX + 32];
};

struct zkd {
	struct zkh_config cfg;
	char conf_path[ZKH_PATH_MAX];
	struct zkh_publisher *pub;
	struct zkd_evq q;
	struct zkd_session s;
	struct zkd_mirror m;
	struct zkd_batch b;
	struct zkd_register r;
	struct zkh_status st;
	bool status_dirty;
	uint64_t status_at;	/* next heartbeat, ms */
	bool stopping;
};

/* ---- session.c ------------------------------------------------------------ */

/* Read auth, split the chroot off the connect string. 0 or -errno, with a
 * message in d->st.last_error. */
int session_setup(struct zkd *d);
/* Open a new handle now (resolving the ensemble). On failure schedules a
 * retry with backoff. */
void session_open(struct zkd *d);
/* Close the handle (if any); events of it still queued become stale. */
void session_close(struct zkd *d);
/* Main loop: a session/watch event of the current handle. */
void session_on_event(struct zkd *d, const struct zkd_event *e);
/* Main loop: reconnect when due. */
void session_tick(struct zkd *d, uint64_t now);
uint64_t session_deadline(const struct zkd *d);
void session_set_state(struct zkd *d, enum zkd_state st);
/* True if requests can be sent now. */
bool session_usable(const struct zkd *d);
/* Submit helpers: they take ownership of e; on a synchronous failure the
 * event is pushed with that rc so the result path handles it. */
void session_submit_result(struct zkd *d, struct zkd_event *e, int rc);
/* Asynchronous requests on the current handle; every result comes back as
 * an event (EV_DATA, EV_CHILDREN, EV_VOID with `tag`, EV_EXISTS). Reads
 * set a watch. A request that cannot be sent yields its error as event. */
void zkio_get_data(struct zkd *d, const char *path);
void zkio_list(struct zkd *d, const char *path);
void zkio_create(struct zkd *d, const char *path, const char *data,
		 int mode, enum zkd_ev_tag tag);
void zkio_exists(struct zkd *d, const char *path, enum zkd_ev_tag tag);
/* Delete `path` if its version is `version` and create it again with
 * `data` and `mode`, as one multi: other clients see the old node or the
 * new one, never neither. EV_VOID with `tag`; rc ZOK, or the first failing
 * operation's error (ZBADVERSION, ZNONODE: the node changed meanwhile). */
void zkio_replace(struct zkd *d, const char *path, int version,
		  const char *data, int mode, enum zkd_ev_tag tag);

/* ---- mirror.c ------------------------------------------------------------- */

int mirror_init(struct zkd *d);		/* 0 or -errno */
void mirror_free(struct zkd *d);
/* New session: create the layout if missing, list, fetch everything. */
void mirror_start_full_sync(struct zkd *d);
/* Same session reconnected: retry lost reads, list once more. */
void mirror_on_reconnect(struct zkd *d);
/* Watch events and read results of the current handle. */
void mirror_on_watch(struct zkd *d, const struct zkd_event *e);
void mirror_on_children(struct zkd *d, struct zkd_event *e);
void mirror_on_data(struct zkd *d, struct zkd_event *e);
void mirror_on_ensure(struct zkd *d, const struct zkd_event *e);
/* Issue queued reads while below the in-flight bound. */
void mirror_pump(struct zkd *d);
/* If the path is <hosts>/<name>, return name; else NULL. */
const char *mirror_name_of(const struct zkd *d, const char *path);

/* ---- batch.c ------------------------------------------------------------ */

int batch_upsert(struct zkd *d, const char *name, uint64_t czxid,
		 const struct zkh_addr *addrs, size_t naddrs);
int batch_delete(struct zkd *d, const char *name);
/* Ask for a publish even with no change (e.g. after a full sync). */
void batch_request_publish(struct zkd *d);
/* Apply pending changes to the master now (no publish). 0 or -errno. */
int batch_apply_now(struct zkd *d);
/* Apply and publish what is due. `final`: everything, now. */
void batch_tick(struct zkd *d, uint64_t now, bool final);
uint64_t batch_deadline(const struct zkd *d);
void batch_free(struct zkd *d);

/* ---- register.c ------------------------------------------------------------ */

int register_init(struct zkd *d);	/* 0 or -errno (message logged) */
void register_on_new_session(struct zkd *d);
void register_on_reconnect(struct zkd *d);
/* Something happened to <hosts>/<name> (deleted, created, changed). */
void register_on_node_event(struct zkd *d, const char *name);
void register_on_result(struct zkd *d, struct zkd_event *e);
void register_tick(struct zkd *d, uint64_t now);
uint64_t register_deadline(const struct zkd *d);
/* Persist the current session id and password (0600). 0 or -errno. */
int register_save_session(struct zkd *d);

/* ---- ifaddrs.c -------------------------------------------------------- */

/*
 * Addresses of the interface that holds the IPv4 default route (lowest
 * metric), IPv4 first, then global IPv6 ones. Returns the number found
 * (1..cap), -ENETUNREACH when there is no default route or the interface has
 * no address, -errno otherwise. ifname gets the interface name.
 */
int zkd_default_route_addrs(struct zkh_addr *out, size_t cap, char *ifname,
			    size_t ifname_cap);

/* ---- report.c ------------------------------------------------------------ */

/* Record an error for the status file (and mark it dirty). */
void report_error(struct zkd *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void report_clear_error(struct zkd *d);
/* Write status (+ metrics, + systemd STATUS=) if dirty or heartbeat due. */
void report_tick(struct zkd *d, uint64_t now, bool force);
uint64_t report_deadline(const struct zkd *d);
/* Tell systemd READY=1 (once). */
void report_ready(struct zkd *d);

#endif

/*
 * status.h - the daemon's status: one versioned schema (documented in
 * docs/status.md) written by zkcached as <cache>/status (mode 0644,
 * replaced atomically by rename; read by `zkhostctl status`) and as the
 * Prometheus text file metrics_file. Both are produced from one table of
 * fields in common/zk/status.c: a new field is one line there, one member
 * here and one row in docs/status.md.
 *
 * Text format, one "key value" pair a line, keys in any order; readers
 * skip keys they do not know (so a newer daemon may add some) and lines
 * that are absent leave the zero value:
 *
 *   version 3                   (schema version, ZKH_STATUS_VERSION)
 *   pid 1234
 *   state connected            (starting|connecting|connected|syncing|
 *                               disconnected|expired|stopped)
 *   connected 1
 *   session 0x1000a3b2c4d0005   (hex, 0 if none)
 *   started_us 1763784000000000 (CLOCK_REALTIME microseconds)
 *   updated_us ...              (last time this file was written)
 *   last_sync_us ...            (last completed full sync, 0 if none)
 *   records 10000
 *   skipped 3                   (znodes skipped as invalid, current)
 *   pending_reads 0             (znodes whose reads are refused: records
 *                                kept, retried with backoff)
 *   pending_listing 0           (1 while the hosts listing is refused)
 *   retries 0                   (requests sent again after a refusal)
 *   publishes 42
 *   generation 42
 *   heartbeat_us ...            (3: the loop was alive then; = updated_us)
 *   heartbeat_interval_s 5      (3: the longest time between two writes)
 *   pidns 4026531836            (3: inode of the daemon's PID namespace)
 *   daemon_version 0.1.0        (3: the daemon's build)
 *   sessions 2                  (3: sessions established since start)
 *   reconnects 1                (3: same-session reconnects since start)
 *   expiries 1                  (3: sessions expired since start)
 *   last_publish_us ...         (3: last snapshot published, 0 if none)
 *   disconnected_us ...         (3: ZooKeeper unusable since, 0 if usable)
 *   index_role consumer         (3: fleet index, docs/scale.md: indexer|
 *                               consumer|mirror|waiting|refused|off)
 *   index_epoch, index_seq, index_buckets, index_lag_ms, index_writes,
 *   index_conflicts, index_head_reads, index_bucket_reads,
 *   index_exists_reads          (3: decimal)
 *   watch_sessions 0            (3: extra sessions holding data watches)
 *   watch_max 120               (3: most data watches on one session)
 *   watch_sessions_new 0        (3: watch sessions established, counter)
 *   errors_<source> 3           (3: times that source's error was raised)
 *   error_<source> <text>       (one line per ACTIVE error, see below)
 *   last_error <text>           (the active error set last; "" if none)
 *
 * Errors come from one slot per source (enum zkh_err_source): connection
 * (ZooKeeper unreachable, lost, expired), auth (credentials refused),
 * registration (own record not held), publish (cache master or snapshot
 * write failed), sync (the listing or reads refused, retried), budget
 * (max_records exceeded), index (the fleet index refused, stale, or not
 * writable).
 * Texts are one line and never hold a secret.
 *
 * The daemon rewrites the file on every state change and at least every
 * ZKH_STATUS_HEARTBEAT_S seconds, from its main loop, so a reader can tell
 * a dead or hung daemon from a quiet one by the age of heartbeat_us (the
 * pid tells only to a reader in the same PID namespace, pidns). Functions are thread-safe (no
 * shared state).
 */
#ifndef ZKHOSTS_STATUS_H
#define ZKHOSTS_STATUS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define ZKH_STATUS_HEARTBEAT_S 5
/* 1: no version line, no error_* lines; 2: none of pending_reads,
 * pending_listing, retries (refused reads counted as skipped), heartbeat,
 * counters, pidns, the fleet index's index_* fields */
#define ZKH_STATUS_VERSION 3
#define ZKH_STATUS_TEXT_MAX 256	/* an error text, NUL included */

/* Sources of errors, one slot each (status keys error_<name>). */
enum zkh_err_source {
	ZKH_ERR_CONNECTION, ZKH_ERR_AUTH, ZKH_ERR_REGISTRATION,
	ZKH_ERR_PUBLISH, ZKH_ERR_SYNC, ZKH_ERR_BUDGET, ZKH_ERR_INDEX,
	ZKH_ERR_NSOURCES
};

struct zkh_status {
	unsigned version;	/* of the file read; 1 if it had none */
	pid_t pid;
	char state[16];
	bool connected;
	uint64_t session;
	uint64_t started_us;
	uint64_t updated_us;
	uint64_t last_sync_us;
	uint64_t records;
	uint64_t skipped;
	uint64_t pending_reads;
	bool pending_listing;
	uint64_t retries;
	uint64_t publishes;
	uint64_t generation;
	uint64_t heartbeat_us;	/* 3 */
	uint64_t heartbeat_interval_s;
	uint64_t pidns;		/* st_ino of /proc/self/ns/pid, 0 unknown */
	char daemon_version[32];
	uint64_t sessions, reconnects, expiries;
	uint64_t last_publish_us;
	uint64_t disconnected_us;
	char index_role[16];	/* 3; "" when the daemon does not say */
	uint64_t index_epoch, index_seq, index_buckets, index_lag_ms;
	uint64_t index_writes, index_conflicts;
	uint64_t index_head_reads, index_bucket_reads, index_exists_reads;
	uint64_t watch_sessions, watch_max, watch_sessions_new;
	uint64_t error_counts[ZKH_ERR_NSOURCES];	/* errors_<source> */
	char errors[ZKH_ERR_NSOURCES][ZKH_STATUS_TEXT_MAX];	/* "" = none */
	char last_error[ZKH_STATUS_TEXT_MAX];
};

/* "connection", "auth", ...; NULL for a value out of range. */
const char *zkh_status_source_name(enum zkh_err_source src);

/*
 * Write *s to dir/status atomically (temp file + rename, mode 0644), with
 * version ZKH_STATUS_VERSION whatever s->version says. Returns 0 or -errno.
 */
int zkh_status_write(const char *dir, const struct zkh_status *s);

/*
 * Read dir/status into *s (zeroed first). Returns 0, -ENOENT if there is
 * none, -EINVAL if it does not parse, -errno otherwise.
 */
int zkh_status_read(const char *dir, struct zkh_status *s);

/*
 * Write the Prometheus text exposition of *s (metric names zkhosts_*; one
 * zkhosts_error{source="..."} 0|1 and zkhosts_errors_total{source="..."}
 * per source; zkhosts_build_info{version="..."} 1) to `path` atomically.
 * Returns 0 or -errno.
 */
int zkh_status_write_metrics(const char *path, const struct zkh_status *s);

#endif

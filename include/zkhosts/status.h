/*
 * status.h - the daemon's status, written by zkcached into
 * <cache>/status (mode 0644, replaced atomically by rename) and read by
 * `zkhostctl status`. Also the source of the Prometheus metrics file.
 *
 * Text format, one "key value" pair a line, keys in any order, unknown keys
 * ignored by readers (so the daemon may add some):
 *
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
 *   publishes 42
 *   generation 42
 *   last_error <free text to end of line, never a secret>
 *
 * The daemon rewrites the file on every state change and at least every
 * ZKH_STATUS_HEARTBEAT_S seconds, so a reader can tell a dead daemon from a
 * quiet one by updated_us (and by pid).
 */
#ifndef ZKHOSTS_STATUS_H
#define ZKHOSTS_STATUS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define ZKH_STATUS_HEARTBEAT_S 5

struct zkh_status {
	pid_t pid;
	char state[16];
	bool connected;
	uint64_t session;
	uint64_t started_us;
	uint64_t updated_us;
	uint64_t last_sync_us;
	uint64_t records;
	uint64_t skipped;
	uint64_t publishes;
	uint64_t generation;
	char last_error[256];
};

/*
 * Write *s to dir/status atomically (temp file + rename, mode 0644).
 * Returns 0 or -errno.
 */
int zkh_status_write(const char *dir, const struct zkh_status *s);

/*
 * Read dir/status into *s (zeroed first). Returns 0, -ENOENT if there is
 * none, -EINVAL if it does not parse, -errno otherwise.
 */
int zkh_status_read(const char *dir, struct zkh_status *s);

/*
 * Write the Prometheus text exposition of *s (metric names zkhosts_*) to
 * `path` atomically. Returns 0 or -errno.
 */
int zkh_status_write_metrics(const char *path, const struct zkh_status *s);

#endif

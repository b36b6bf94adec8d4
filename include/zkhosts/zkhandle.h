/*
 * zkhandle.h - the one way zkcached, zkbarrier and zkhostctl open a
 * ZooKeeper handle (common/zk/zkhandle.c): the connect string resolved to
 * numeric addresses by zkh_zk_resolve (never through the zk NSS module),
 * zookeeper_init2 with the routed logger (zkh_zk_log_callback), the
 * client's own re-resolution switched off (the string is numeric), the
 * auth_file read into one credential buffer size with one wording of its
 * errors, and the session-id file in one format.
 *
 * Session-id file format (one line, mode 0600, replaced by rename):
 *     0x<session id in hex> <password, 32 hex digits>\n
 * zkcached keeps it as <cache>/.master/zk-session (to take its own
 * registration back after a restart); the tools write it only when
 * ZKHOSTS_DEBUG_SESSION_FILE names a path (tests force expiry with it).
 *
 * Errors are -errno with a one-line English message in `err` (never a
 * secret). Thread-safety: as zookeeper_init; the auth struct is the
 * caller's.
 */
#ifndef ZKHOSTS_ZKHANDLE_H
#define ZKHOSTS_ZKHANDLE_H

#include <stddef.h>
#include <stdint.h>

#include <zookeeper/zookeeper.h>

#define ZKH_ZK_SCHEME_MAX 64
#define ZKH_ZK_CRED_MAX 1024	/* credential bytes, NUL included */
#define ZKH_ZK_CONNECT_MAX 4096	/* a resolved connect string */
#define ZKH_ZK_PASSWD_LEN 16	/* bytes of a session password */

/* Credentials of auth_file. Secret: wipe with zkh_zk_auth_wipe. */
struct zkh_zk_auth {
	char scheme[ZKH_ZK_SCHEME_MAX];
	char cred[ZKH_ZK_CRED_MAX];
};

/*
 * Read auth_file `path` (zkh_zk_read_auth's checks) into *a. Returns 0,
 * -EINVAL (mode open to group/others, bad format, credentials too long:
 * a config problem), or -errno of open/read; `err` gets
 * "auth_file PATH: why". *a is wiped on failure.
 */
int zkh_zk_auth_load(const char *path, struct zkh_zk_auth *a, char *err,
		     size_t err_cap);

/* Overwrite the secret (explicit_bzero). */
void zkh_zk_auth_wipe(struct zkh_zk_auth *a);

/* zkh_zk_handle_open flags. */
#define ZKH_ZK_STRIP_CHROOT 1u	/* the caller's paths carry the chroot */

/*
 * Resolve `connect` (a config's `zookeeper` value) and start a handle:
 * zookeeper_init2(resolved, watcher, timeout_ms, NULL, ctx, 0,
 * zkh_zk_log_callback), then zoo_set_servers_resolution_delay(-1).
 * `resolved` (may be NULL) gets the numeric string used. Returns 0 with
 * *out set, -EHOSTUNREACH (no host resolved; err "cannot resolve ZooKeeper
 * server 'HOST'"), -EINVAL (malformed; err "bad entry 'ENTRY' (want ...)"),
 * -ENOSPC, or -errno of zookeeper_init2 (err "cannot start a ZooKeeper
 * client for STRING: why").
 */
int zkh_zk_handle_open(const char *connect, int timeout_ms, watcher_fn watcher,
		       void *ctx, unsigned flags, zhandle_t **out,
		       char *resolved, size_t resolved_cap, char *err,
		       size_t err_cap);

/*
 * The second half of zkh_zk_handle_open, for a caller that resolved the
 * connect string itself (zkh_zk_resolve; e.g. retrying until names
 * resolve): zookeeper_init2 with the routed logger, then no
 * re-resolution. Returns 0 with *out set, or -errno (err as above).
 */
int zkh_zk_handle_init(const char *resolved, int timeout_ms, watcher_fn watcher,
		       void *ctx, zhandle_t **out, char *err, size_t err_cap);

/*
 * Write the session-id file (format above) atomically, mode 0600.
 * Returns 0 or -errno.
 */
int zkh_zk_session_file_write(const char *path, uint64_t id,
			      const char *passwd, size_t passwd_len);

/*
 * Read the session id of a session-id file (the password is not needed to
 * recognise our own nodes). Also accepts the id without "0x" (files
 * written by zkcached 0.1.0). Returns 0, -EINVAL (no id), -errno.
 */
int zkh_zk_session_file_read(const char *path, uint64_t *id);

#endif

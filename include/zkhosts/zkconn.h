/*
 * zkconn.h - what zkcached, zkbarrier and zkhostctl share to reach
 * ZooKeeper: connect-string resolution that never goes through the zk NSS
 * module, credentials from auth_file, znode paths of the layout, and the
 * ZooKeeper client's log routed to our own logger.
 *
 * Layout (public contract): <root>/hosts/<name> holds an address list,
 * <root>/boot/<service> one state word. Both may be written by any client
 * their ACLs allow (zkacl.h: what zkhosts creates gets the configured ACL).
 *
 * Errors are -errno (resolution failure -EHOSTUNREACH, bad connect string
 * -EINVAL); nothing here logs except through the hook installed by
 * zkh_zk_route_log. Functions are thread-safe unless noted.
 */
#ifndef ZKHOSTS_ZKCONN_H
#define ZKHOSTS_ZKCONN_H

#include <stddef.h>

#include "zkhosts/config.h"

/* Environment variable that makes libnss_zk.so.2 answer UNAVAIL at once.
 * Programs that talk to ZooKeeper set it before resolving the ensemble so
 * that name resolution never depends on the cache it is meant to fill. */
#define ZKH_NSS_BYPASS_ENV "ZKHOSTS_NSS_BYPASS"

/*
 * Turn a connect string "h1:p1,h2:p2[/chroot]" into one with numeric
 * addresses only ("10.0.0.1:2181,fd00::1:2181/chroot"), resolving names via
 * getaddrinfo with ZKH_NSS_BYPASS_ENV set in this process (call before
 * starting threads; it calls setenv). Every address of every host is
 * listed; IPv6 as addr:port without brackets (what the C client expects).
 * A missing port means 2181. Returns 0, -EINVAL (malformed), -EHOSTUNREACH
 * (no host resolved; *bad names the first failing host), -ENOSPC (`cap`
 * too small).
 */
int zkh_zk_resolve(const char *connect, char *out, size_t cap,
		   char *bad, size_t bad_cap);

/*
 * Read auth_file: it must be a regular file not readable or writable by
 * group or others (mode & 077 == 0) and hold "scheme:credentials" on its
 * first line (e.g. "digest:user:secret"). Fills scheme and cred
 * (NUL-terminated). Returns 0, -EPERM (mode too open), -EINVAL (format),
 * -errno (open/read). Never logs or returns the secret in an error.
 */
int zkh_zk_read_auth(const char *path, char *scheme, size_t scheme_cap,
		     char *cred, size_t cred_cap);

/* "<root>/hosts", "<root>/boot", "<root>/hosts/<name>",
 * "<root>/boot/<service>" into out. Return 0 or -ENAMETOOLONG. */
int zkh_zk_hosts_path(const struct zkh_config *c, char *out, size_t cap);
int zkh_zk_boot_path(const struct zkh_config *c, char *out, size_t cap);
int zkh_zk_host_path(const struct zkh_config *c, const char *name, char *out,
		     size_t cap);
int zkh_zk_service_path(const struct zkh_config *c, const char *service,
			char *out, size_t cap);

/* Log levels used by every program (syslog-compatible numbers). */
enum zkh_log_level { ZKH_LOG_ERR = 3, ZKH_LOG_WARN = 4, ZKH_LOG_INFO = 6,
		     ZKH_LOG_DEBUG = 7 };

/*
 * Route the ZooKeeper client's own log lines into fn(level, line), at
 * the client level matching `max_level`. Call once, before zookeeper_init.
 */
void zkh_zk_route_log(void (*fn)(enum zkh_log_level, const char *line),
		      enum zkh_log_level max_level);

/*
 * A log_callback_fn for zookeeper_init2: feeds one line of the client's
 * log to the logger installed with zkh_zk_route_log (dropped if none).
 * Thread-safe; called from the client's own threads.
 */
void zkh_zk_log_callback(const char *message);

#endif

/*
 * log.h - zkcached's logger and clocks (log.c). Where a line goes depends
 * on what stderr is, decided once by zkd_log_init:
 *
 *   - the journal (JOURNAL_STREAM names stderr's device:inode, as systemd
 *     documents for services): each message is sent with sd_journal_sendv
 *     as MESSAGE= with PRIORITY= and the fields ZKHOSTS_STATE (session
 *     state), ZKHOSTS_SESSION (0x... or 0) and, for messages about one
 *     znode, ZKHOSTS_ZNODE; without journald's native socket, or should it
 *     refuse, the line goes to stderr as "<N>zkcached: LEVEL: message" (N
 *     the syslog priority, read by journald's SYSLOG_LEVEL_PREFIX);
 *   - anything else (a terminal, a file, `docker logs`): the line is
 *     "2026-12-06T22:55:17.123+01:00 zkcached: LEVEL: message", local time
 *     in ISO 8601 with milliseconds, no priority prefix.
 *
 * LEVEL is one of error, warning, info, debug. The ZooKeeper client's own
 * lines (zkd_log_zk_line) are logged at debug priority as "zookeeper:
 * LEVEL: line" (LEVEL the client's): the daemon says what matters about
 * the connection in its own words; -v shows them, -vv adds the client's
 * debug lines. The last error or warning line of the client is kept
 * (zkd_log_zk_last) so the daemon can cite it in its own messages.
 *
 * Thread-safety: any thread may log (each line is one write() or one
 * sd_journal_sendv); the level and context are atomics.
 */
#ifndef ZKD_LOG_H
#define ZKD_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "zkhosts/zkconn.h"

/* enum zkh_log_level; lines above it are dropped. Set by main (command
 * line, then the config's log_level on start and reload). */
extern _Atomic int zkd_log_level;

/* Decide where lines go (see above). Call once, before threads start. */
void zkd_log_init(void);

/* True if lines go to the journal with structured fields. */
int zkd_log_to_journal(void);

/* The context carried by every journal entry: the session state's name
 * (a static string) and the session id (0 if none). Any thread. */
void zkd_log_context(const char *state, uint64_t session);

/* Print one line (format above). Any thread. */
void zkd_log(enum zkh_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Same, about one znode (its full path: ZKHOSTS_ZNODE in the journal). */
void zkd_log_znode(enum zkh_log_level lvl, const char *znode,
		   const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Hook for zkh_zk_route_log: the ZooKeeper client's own lines. */
void zkd_log_zk_line(enum zkh_log_level lvl, const char *line);

/*
 * Copy the last error line (else warning line) the ZooKeeper client logged
 * since the last zkd_log_zk_forget into out (cap bytes, "" if none), shortened
 * to its message ("Socket [10.0.0.1:2181] ... Connection refused ...").
 * Any thread.
 */
void zkd_log_zk_last(char *out, size_t cap);
/* Forget the kept client line (a new session, a reconnect). */
void zkd_log_zk_forget(void);

/* Monotonic milliseconds and realtime microseconds. Any thread. */
uint64_t zkd_now_ms(void);
uint64_t zkd_realtime_us(void);

#endif

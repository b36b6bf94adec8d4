/*
 * log.h - zkcached's logger and clocks (log.c). Every line goes to stderr
 * as "<N>zkcached: LEVEL: message" (N the syslog priority, for journald's
 * SYSLOG_LEVEL_PREFIX; LEVEL one of error, warning, info, debug); lines of
 * the ZooKeeper client read "<N>zkcached: LEVEL: zookeeper: line".
 *
 * Thread-safety: any thread may log; each line is one write().
 */
#ifndef ZKD_LOG_H
#define ZKD_LOG_H

#include <stdint.h>

#include "zkhosts/zkconn.h"

extern int zkd_log_level;	/* enum zkh_log_level; lines above it dropped */

/* Print one line (format above). Any thread. */
void zkd_log(enum zkh_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Hook for zkh_zk_route_log: the ZooKeeper client's own lines. */
void zkd_log_zk_line(enum zkh_log_level lvl, const char *line);

/* Monotonic milliseconds and realtime microseconds. Any thread. */
uint64_t zkd_now_ms(void);
uint64_t zkd_realtime_us(void);

#endif

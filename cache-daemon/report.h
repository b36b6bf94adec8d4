/*
 * report.h - what zkcached tells the outside (report.c): the status file
 * and the metrics file (one schema, zkhosts/status.h) and systemd
 * notifications (READY=1 once, STATUS= with the state). main fills a
 * struct zkh_status from the roles and hands it here; this file knows no
 * role. Written on every change main reports (report_mark) and at least
 * every ZKH_STATUS_HEARTBEAT_S seconds, so a reader can tell a dead daemon
 * from a quiet one.
 *
 * Thread-safety: main loop only.
 */
#ifndef ZKD_REPORT_H
#define ZKD_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "zkhosts/status.h"

struct zkd_report {
	bool dirty;		/* something changed since the last write */
	uint64_t status_at;	/* next heartbeat, ms */
	char last_notify[128];	/* last STATUS= sent to systemd */
	uint64_t watchdog_ms;	/* WATCHDOG=1 period, 0: no watchdog */
	uint64_t watchdog_at;	/* next WATCHDOG=1, ms */
};

/* Something shown in the status changed: write at the next tick. */
void report_mark(struct zkd_report *rep);
/* True if a write is due at `now` (dirty, heartbeat, or `force`). */
bool report_due(const struct zkd_report *rep, uint64_t now, bool force);
/*
 * Write st to <cache>/status and, if metrics_file is not "", the metrics;
 * tell systemd the state if it changed. Failures are logged (warnings).
 * Clears dirty, schedules the next heartbeat.
 */
void report_write(struct zkd_report *rep, const char *cache,
		  const char *metrics_file, const struct zkh_status *st,
		  uint64_t now);
/*
 * Read the service manager's watchdog (sd_watchdog_enabled: WatchdogSec=
 * of the unit) and ping it at half its period from report_watchdog. The
 * pings come from the main loop, whatever ZooKeeper's state: they prove
 * the loop runs, nothing more.
 */
void report_watchdog_init(struct zkd_report *rep);
/* Send WATCHDOG=1 if due at `now`. */
void report_watchdog(struct zkd_report *rep, uint64_t now);
/* Next time a write or a watchdog ping is due (ms). */
uint64_t report_deadline(const struct zkd_report *rep);
/* Tell systemd READY=1 with the record count and state. */
void report_ready(uint64_t records, const char *state);

#endif

/*
 * report.c - what zkcached tells the outside (contract: report.h): the
 * status file (<cache>/status via zkh_status_write, read by `zkhostctl
 * status`), the Prometheus text file (metrics_file, for node_exporter's
 * textfile collector), and systemd notifications (READY=1 once the cache
 * is open and serving, STATUS= with the state, WATCHDOG=1 from the loop).
 * Errors shown here never carry secrets.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "report.h"

void report_mark(struct zkd_report *rep)
{
	rep->dirty = true;
}

bool report_due(const struct zkd_report *rep, uint64_t now, bool force)
{
	return force || rep->dirty || now >= rep->status_at;
}

void report_write(struct zkd_report *rep, const char *cache,
		  const char *metrics_file, const struct zkh_status *st,
		  uint64_t now)
{
	char msg[sizeof rep->last_notify];
	int rc = zkh_status_write(cache, st);

	if (rc)
		zkd_log(ZKH_LOG_WARN, "cannot write %s/status: %s", cache, strerror(-rc));
	if (metrics_file[0]) {
		rc = zkh_status_write_metrics(metrics_file, st);
		if (rc)
			zkd_log(ZKH_LOG_WARN, "cannot write metrics file %s: %s",
				metrics_file, strerror(-rc));
	}
	snprintf(msg, sizeof msg, "STATUS=%s, %" PRIu64 " records, %" PRIu64 " skipped",
		 st->state, st->records, st->skipped);
	if (strcmp(msg, rep->last_notify) != 0) {
		sd_notify(0, msg);
		memcpy(rep->last_notify, msg, sizeof msg);
	}
	rep->dirty = false;
	rep->status_at = now + ZKH_STATUS_HEARTBEAT_S * 1000u;
}

uint64_t report_deadline(const struct zkd_report *rep)
{
	if (rep->dirty)
		return 1;
	if (rep->watchdog_ms && rep->watchdog_at < rep->status_at)
		return rep->watchdog_at;
	return rep->status_at;
}

void report_watchdog_init(struct zkd_report *rep)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
		rep->watchdog_ms = usec / 2000u ? usec / 2000u : 1;
	rep->watchdog_at = 0;
}

void report_watchdog(struct zkd_report *rep, uint64_t now)
{
	if (!rep->watchdog_ms || now < rep->watchdog_at)
		return;
	sd_notify(0, "WATCHDOG=1");
	rep->watchdog_at = now + rep->watchdog_ms;
}

void report_ready(uint64_t records, const char *state)
{
	char msg[160];

	snprintf(msg, sizeof msg, "READY=1\nSTATUS=serving %" PRIu64 " cached records, %s",
		 records, state);
	sd_notify(0, msg);
}

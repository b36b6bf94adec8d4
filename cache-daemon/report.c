/*
 * report.c - what zkcached tells the outside (contract: report.h): the
 * status file (<cache>/status via zkh_status_write, read by `zkhostctl
 * status`), the Prometheus text file (metrics_file, for node_exporter's
 * textfile collector), and systemd notifications (READY=1 once the cache
 * is open and serving, STATUS= with the state). Errors shown here never
 * carry secrets.
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
	return rep->dirty ? 1 : rep->status_at;
}

void report_ready(uint64_t records, const char *state)
{
	char msg[160];

	snprintf(msg, sizeof msg, "READY=1\nSTATUS=serving %" PRIu64 " cached records, %s",
		 records, state);
	sd_notify(0, msg);
}

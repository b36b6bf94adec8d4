/*
 * report.c - what zkcached tells the outside: the status file
 * (<cache>/status via zkh_status_write, read by `zkhostctl status`),
 * the Prometheus text file (metrics_file, for node_exporter's textfile
 * collector), and systemd notifications (READY=1 once the cache is open and
 * serving, STATUS= with the state). Written on every state change and at
 * least every ZKH_STATUS_HEARTBEAT_S seconds, so a reader can tell a dead
 * daemon from a quiet one. Errors shown here never carry secrets.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "zkcached.h"

void report_error(struct zkd *d, const char *fmt, ...)
{
	va_list ap;
	char buf[sizeof d->st.last_error];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (strcmp(buf, d->st.last_error) != 0) {
		memcpy(d->st.last_error, buf, sizeof buf);
		d->status_dirty = true;
	}
}

void report_clear_error(struct zkd *d)
{
	if (d->st.last_error[0]) {
		d->st.last_error[0] = '\0';
		d->status_dirty = true;
	}
}

static void fill(struct zkd *d)
{
	struct zkh_status *st = &d->st;
	st->pid = getpid();
	snprintf(st->state, sizeof st->state, "%s", zkd_state_name(d->s.state));
	st->connected = session_usable(d);
	st->session = st->connected || d->s.state == ZST_DISCONNECTED ?
		(uint64_t)d->s.id.client_id : 0;
	st->updated_us = zkd_realtime_us();
	st->last_sync_us = d->m.last_sync_us;
	st->records = d->pub ? zkh_pub_count(d->pub) : 0;
	st->skipped = d->m.skipped;
	st->publishes = d->b.publishes;
	st->generation = d->pub ? zkh_pub_generation(d->pub) : 0;
}

void report_tick(struct zkd *d, uint64_t now, bool force)
{
	static char last_notify[128];
	char msg[128];

	if (!force && !d->status_dirty && now < d->status_at)
		return;
	fill(d);
	int rc = zkh_status_write(d->cfg.cache, &d->st);
	if (rc)
		zkd_log(ZKH_LOG_WARN, "cannot write %s/status: %s", d->cfg.cache, strerror(-rc));
	if (d->cfg.metrics_file[0]) {
		rc = zkh_status_write_metrics(d->cfg.metrics_file, &d->st);
		if (rc)
			zkd_log(ZKH_LOG_WARN, "cannot write metrics file %s: %s",
				d->cfg.metrics_file, strerror(-rc));
	}
	snprintf(msg, sizeof msg, "STATUS=%s, %" PRIu64 " records, %" PRIu64 " skipped",
		 d->st.state, d->st.records, d->st.skipped);
	if (strcmp(msg, last_notify) != 0) {
		sd_notify(0, msg);
		memcpy(last_notify, msg, sizeof msg);
	}
	d->status_dirty = false;
	d->status_at = now + ZKH_STATUS_HEARTBEAT_S * 1000u;
}

uint64_t report_deadline(const struct zkd *d)
{
	return d->status_dirty ? 1 : d->status_at;
}

void report_ready(struct zkd *d)
{
	char msg[160];
	snprintf(msg, sizeof msg, "READY=1\nSTATUS=serving %" PRIu64 " cached records, %s",
		 d->pub ? zkh_pub_count(d->pub) : 0, zkd_state_name(d->s.state));
	sd_notify(0, msg);
}

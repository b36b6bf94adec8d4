/*
 * dispatch.c - the daemon's reactions (contract: zkcached.h): every event
 * the loop takes goes to the role it belongs to, and what one role's news
 * means for the others is decided here, in one place. A session event
 * goes to the session machine; its transition restarts the mirror and the
 * registration, closes an expired handle, sets or clears the connection
 * and auth errors. A watch event goes to the mirror, then to the
 * registration. When the mirror reports its full sync complete, the batch
 * sweeps the records ZooKeeper no longer has, the mirror is marked synced
 * and the state becomes connected. Roles get what they need as arguments
 * (struct mirror_env, struct reg_env) built here.
 *
 * The fleet index (index.h, docs/scale.md) decides who feeds the batch:
 * a new session starts as a consumer of the index; the mirror takes over
 * (from nothing, its records flowing to the indexer's view through the
 * batch's tap) when this daemon wins an election slot, or while there is
 * no usable index and the directory is below index_fallback_max; a
 * daemon that mirrors without being an indexer goes back to consuming as
 * soon as the index is usable. Results and watch events of the index go
 * to the indexer and the consumer first (by tag, by path). The mirror's
 * retries (refused reads, exists watches, mirror_tick/mirror_deadline)
 * run only while it feeds the batch; to_mirror starts it afresh.
 *
 * The mirror's watch sessions (mirror.h) are extra handles, each with its
 * own session machine (session.c), opened when the mirror asks for them
 * (want_shards) on the same connect string, timeout and credentials, and
 * closed when the mirror stops (to_consumer, to_mirror's fresh start, a
 * reload's new session, shutdown). Their events go to the mirror only
 * (on_watch_session_event); an expired one is closed, its share of names
 * handed back to the mirror, and opened again after its backoff.
 *
 * Logging of the connection: one line per state change (logged where the
 * state is tracked, collect_changes), one line per backoff step of a new
 * handle, and while a live session is disconnected one "still
 * disconnected" line at doubling intervals (ZKD_PROGRESS_*): the client's
 * own reconnect loop stays quiet (debug). A reload (zkd_reload) applies
 * what can change live and schedules a new session for the rest; the
 * index keys (indexer, indexers, index_fallback_max) are among the latter:
 * election and fallback are decided at session start.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ensure.h"
#include "log.h"
#include "zkhosts/zkacl.h"
#include "zkcached.h"

static void switch_session(struct zkd *d, uint64_t now);
static uint64_t connect_window(const struct zkd *d);

static struct mirror_env mirror_env(struct zkd *d, uint64_t now)
{
	for (size_t i = 0; i < d->nw; i++)
		d->wusable[i] = d->wio[i] && zkio_is_open(d->wio[i]) &&
				session_usable(&d->ws[i]);
	return (struct mirror_env){ .io = d->io, .batch = &d->b,
				    .usable = session_usable(&d->s), .now = now,
				    .wio = d->wio, .wusable = d->wusable, .nw = d->nw,
				    .keep_path = d->r.path[0] ? d->r.path : NULL };
}

/* Close every watch session (the mirror stops or starts afresh). */
static void close_watch_sessions(struct zkd *d)
{
	if (d->nw)
		zkd_log(ZKH_LOG_INFO, "closing %zu watch session%s", d->nw,
			d->nw == 1 ? "" : "s");
	for (size_t i = 0; i < d->nw; i++) {
		zkio_close(d->wio[i]);
		session_closed(&d->ws[i]);
		d->wusable[i] = false;
	}
	d->nw = 0;
}

/* Open watch session i (a new handle; its session follows). */
static void open_watch_session(struct zkd *d, size_t i, uint64_t now)
{
	char desc[ZKH_ZK_CONNECT_MAX], err[ZKH_STATUS_TEXT_MAX];
	int rc;

	if (!d->wio[i])
		d->wio[i] = zkio_new(&d->q);
	if (!d->wio[i]) {
		session_open_failed(&d->ws[i], now);
		return;
	}
	rc = zkio_open(d->wio[i], d->cfg.zookeeper, d->cfg.session_timeout,
		       d->have_auth ? &d->auth : NULL, desc, sizeof desc, err, sizeof err);
	if (rc) {
		session_open_failed(&d->ws[i], now);
		zkd_log(ZKH_LOG_WARN, "watch session %zu: %s; next attempt in %.1f s",
			i, err, (double)(d->ws[i].reconnect_at - now) / 1000.0);
		return;
	}
	session_opened(&d->ws[i]);
}

/* Open the watch sessions the mirror wants and has not got. */
static void grow_watch_sessions(struct zkd *d, uint64_t now)
{
	if (d->mode != ZM_MIRROR || !session_usable(&d->s))
		return;
	while (d->nw < d->m.want_shards && d->nw < ZKD_WATCH_SESSIONS_MAX) {
		size_t i = d->nw++;

		session_init(&d->ws[i]);
		open_watch_session(d, i, now);
	}
}

static struct reg_env reg_env(struct zkd *d, uint64_t now)
{
	return (struct reg_env){ .io = d->io, .usable = session_usable(&d->s),
				 .session_id = d->s.id, .prev_ids = d->s.prev_ids,
				 .nprev = ZKD_PREV_SESSIONS, .now = now };
}

static struct ix_env ix_env(struct zkd *d, uint64_t now)
{
	return (struct ix_env){ .io = d->io, .usable = session_usable(&d->s),
				.now = now };
}

static struct cs_env cs_env(struct zkd *d, uint64_t now)
{
	return (struct cs_env){ .io = d->io, .batch = &d->b,
				.usable = session_usable(&d->s), .now = now,
				.writer = indexer_is_writer(&d->x) };
}

/* The snapshot is in step with ZooKeeper (as the feeding role knows). */
static bool fed_synced(const struct zkd *d)
{
	return d->mode == ZM_MIRROR ? d->m.synced : d->c.in_step;
}

static uint64_t fed_sync_us(const struct zkd *d)
{
	return d->mode == ZM_MIRROR ? d->m.last_sync_us : d->index_sync_us;
}

static void set_state(struct zkd *d, enum zkd_state st)
{
	session_set_state(&d->s, st);
}

/* `ms` with +-25% jitter. */
static uint64_t jitter(unsigned ms)
{
	return ms * 3u / 4u + (uint64_t)random() % (ms / 2u + 1u);
}

/* Local ISO 8601 time of realtime `us`, to the second. */
static const char *fmt_time(uint64_t us, char *out, size_t cap)
{
	time_t t = (time_t)(us / 1000000u);
	struct tm tm;

	size_t n;

	if (!localtime_r(&t, &tm) || !(n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S%z", &tm))) {
		snprintf(out, cap, "@%lld", (long long)t);
		return out;
	}
	/* +hhmm -> +hh:mm (ISO 8601 extended, as the log lines) */
	if (n >= 5 && n + 1 < cap && (out[n - 5] == '+' || out[n - 5] == '-')) {
		memmove(out + n - 1, out + n - 2, 3);
		out[n - 2] = ':';
	}
	return out;
}

/* One line per change of the session state; the context of journal
 * entries; since when ZooKeeper is unusable; the "still disconnected"
 * schedule. */
static void track_state(struct zkd *d)
{
	enum zkd_state st = d->s.state;

	if (session_usable(&d->s) || st == ZST_STOPPED)
		d->disconnected_us = 0;
	else if (!d->disconnected_us)
		d->disconnected_us = d->started_us ? zkd_realtime_us() : 0;
	zkd_log_context(zkd_state_name(st), d->s.id);
	if (st == d->logged_state)
		return;
	zkd_log(ZKH_LOG_INFO, "state %s -> %s", zkd_state_name(d->logged_state),
		zkd_state_name(st));
	d->logged_state = st;
	if (st == ZST_DISCONNECTED) {
		d->progress_ms = ZKD_PROGRESS_MIN_MS;
		d->progress_at = zkd_now_ms() + jitter(d->progress_ms);
	} else {
		d->progress_at = 0;
	}
}

/* Collect the roles' "status changed" flags. */
static void collect_changes(struct zkd *d)
{
	if (d->s.changed || d->m.changed || d->b.changed || d->r.changed ||
	    d->x.changed || d->c.changed)
		report_mark(&d->rep);
	d->s.changed = d->m.changed = d->b.changed = d->r.changed = false;
	d->x.changed = d->c.changed = false;
	track_state(d);
}

static void conn_error(struct zkd *d, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void conn_error(struct zkd *d, int level, const char *fmt, ...)
{
	char buf[sizeof d->conn_err.text];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (zkd_error_set(&d->conn_err, level, "%s", buf))
		report_mark(&d->rep);
}

static void start_full_sync(struct zkd *d, uint64_t now)
{
	struct mirror_env env = mirror_env(d, now);

	set_state(d, ZST_SYNCING);
	batch_set_syncing(&d->b, true);
	mirror_start_full_sync(&d->m, &env);
}

/* After the mirror handled something: a lost change, or the sync done. */
static void after_mirror(struct zkd *d, uint64_t now)
{
	size_t vanished = 0;
	int rc;

	if (d->m.resync && zkio_is_open(d->io)) {
		zkd_log(ZKH_LOG_ERR, "out of memory following ZooKeeper; resyncing everything");
		start_full_sync(d, now);
	}
	grow_watch_sessions(d, now);
	if (!d->pub || !mirror_sync_complete(&d->m, session_usable(&d->s)))
		return;
	/* Records the master holds that ZooKeeper no longer has (deleted while
	 * we were away) go now. */
	rc = batch_sweep(&d->b, d->pub, mirror_keeps, &d->m, now, &vanished);
	if (rc)
		zkd_log(ZKH_LOG_ERR, "sweep of vanished records failed: %s",
			strerror(rc < 0 ? -rc : rc));
	mirror_finish_sync(&d->m, vanished, now, zkd_realtime_us());
	batch_set_syncing(&d->b, false);
	set_state(d, ZST_CONNECTED);
	batch_request_publish(&d->b, now);
}

/* The mirror feeds the batch from now on, from nothing: every record it
 * reads reaches the indexer's view through the tap. */
static void to_mirror(struct zkd *d, uint64_t now, const char *why)
{
	uint64_t retries;

	zkd_log(ZKH_LOG_INFO, "index: %s; mirroring %s", why, d->m.hosts);
	d->mode = ZM_MIRROR;
	consumer_stop(&d->c);
	retries = d->m.retries;	/* a counter since start */
	mirror_free(&d->m);
	close_watch_sessions(d);
	if (mirror_init(&d->m, d->chroot, d->cfg.root))
		zkd_log(ZKH_LOG_ERR, "out of memory restarting the mirror");
	d->m.retries = retries;
	d->m.per_session = (unsigned)d->cfg.watches_per_session;
	indexer_reset_view(&d->x);
	d->b.tap = indexer_tap;
	d->b.tap_arg = &d->x;
	start_full_sync(d, now);
	report_mark(&d->rep);
}

/* The consumer feeds the batch from now on: compare every bucket. */
static void to_consumer(struct zkd *d, uint64_t now)
{
	struct cs_env env = cs_env(d, now);

	if (d->mode == ZM_MIRROR)
		zkd_log(ZKH_LOG_INFO, "index: following %s instead of mirroring %s",
			d->c.p.dir, d->m.hosts);
	d->mode = ZM_CONSUMER;
	d->b.tap = NULL;
	mirror_on_session_end(&d->m);	/* its table is no longer kept up */
	close_watch_sessions(d);
	set_state(d, ZST_SYNCING);
	batch_set_syncing(&d->b, true);
	consumer_start(&d->c, &env);
	report_mark(&d->rep);
}

/* The consumer's first round is in: the batch holds the index. */
static void after_consumer(struct zkd *d, uint64_t now)
{
	size_t vanished = 0;
	int rc;

	if (d->c.stale && !d->stale_since)
		d->stale_since = now ? now : 1;
	else if (!d->c.stale)
		d->stale_since = 0;
	if (!d->c.want_sweep || !d->pub)
		return;
	d->c.want_sweep = false;
	if (d->mode != ZM_CONSUMER)
		return;
	rc = batch_sweep(&d->b, d->pub, consumer_keeps, &d->c, now, &vanished);
	if (rc)
		zkd_log(ZKH_LOG_ERR, "sweep of vanished records failed: %s",
			strerror(rc < 0 ? -rc : rc));
	zkd_log(ZKH_LOG_INFO, "index: in step (%" PRIu64 " head and %" PRIu64
		" bucket reads so far), %zu vanished records removed",
		d->c.head_reads, d->c.bucket_reads, vanished);
	d->index_sync_us = zkd_realtime_us();
	batch_set_syncing(&d->b, false);
	set_state(d, ZST_CONNECTED);
	batch_request_publish(&d->b, now);
}

/* Who feeds the batch, after what the index roles reported. */
static void decide_mode(struct zkd *d, uint64_t now)
{
	if (!session_usable(&d->s))
		return;
	if (d->x.became) {
		d->x.became = false;
		if (d->mode != ZM_MIRROR)
			to_mirror(d, now, "elected indexer");
		return;
	}
	if (indexer_is_writer(&d->x))
		return;
	if (d->mode == ZM_CONSUMER && d->c.want_fallback) {
		d->c.want_fallback = false;
		to_mirror(d, now, d->c.stale ? "the index is stale and the directory is small"
			  : "no index yet and the directory is small");
	} else if (d->mode == ZM_MIRROR && d->c.state == CS_FOLLOWING && !d->c.stale) {
		to_consumer(d, now);
	}
}

/* After any event: the index roles' follow-ups. */
static void after_index(struct zkd *d, uint64_t now)
{
	struct ix_env xenv;

	if (d->mode == ZM_MIRROR)
		indexer_note_mirror(&d->x, !d->m.fq_head && !d->m.inflight && !d->m.parked &&
				    !d->m.list_inflight && !d->m.relist_wanted &&
				    !d->m.full_sync, d->m.synced);
	after_consumer(d, now);
	decide_mode(d, now);
	xenv = ix_env(d, now);
	indexer_tick(&d->x, &xenv);
}

void zkd_open_session(struct zkd *d, uint64_t now)
{
	char desc[ZKH_ZK_CONNECT_MAX], err[ZKH_STATUS_TEXT_MAX];
	int rc = zkio_open(d->io, d->cfg.zookeeper, d->cfg.session_timeout,
			   d->have_auth ? &d->auth : NULL, desc, sizeof desc,
			   err, sizeof err);

	if (rc) {
		conn_error(d, 0, "%s", err);
		session_open_failed(&d->s, now);
		zkd_log(ZKH_LOG_ERR, "%s; next attempt in %.1f s", err,
			(double)(d->s.reconnect_at - now) / 1000.0);
		collect_changes(d);
		return;
	}
	/* retries of an outage are the backoff line's (give_up_connect) */
	zkd_log(d->conn_err.text[0] ? ZKH_LOG_DEBUG : ZKH_LOG_INFO,
		"connecting to ZooKeeper %s%s%s (session timeout %d ms)", desc, d->chroot[0] ? ", chroot " : "", d->chroot,
		d->cfg.session_timeout);
	session_opened(&d->s);
	zkd_log_zk_forget();	/* what the client says from now is about this handle */
	d->connect_deadline = now + connect_window(d);
	collect_changes(d);
}

static void on_new_session(struct zkd *d, uint64_t now)
{
	struct zkio_session_id sid;
	struct reg_env renv;
	struct ix_env xenv;

	zkio_session(d->io, &sid);
	zkd_log(ZKH_LOG_INFO, "session 0x%" PRIx64 " established (timeout %d ms)",
		sid.id, zkio_timeout(d->io));
	d->connect_deadline = 0;
	d->connect_tries = 0;
	zkd_log_zk_forget();
	if (zkd_error_clear(&d->conn_err))
		report_mark(&d->rep);
	xenv = ix_env(d, now);
	indexer_on_new_session(&d->x, &xenv);
	to_consumer(d, now);
	renv = reg_env(d, now);
	register_on_new_session(&d->r, &renv, &sid);
}

static void on_reconnected(struct zkd *d, uint64_t now)
{
	struct mirror_env menv;
	struct reg_env renv;
	struct ix_env xenv;
	struct cs_env cenv;

	zkd_log(ZKH_LOG_INFO, "reconnected, session 0x%" PRIx64 " still valid", d->s.id);
	zkd_log_zk_forget();
	if (zkd_error_clear(&d->conn_err))
		report_mark(&d->rep);
	set_state(d, fed_synced(d) ? ZST_CONNECTED : ZST_SYNCING);
	menv = mirror_env(d, now);
	if (d->mode == ZM_MIRROR)
		mirror_on_reconnect(&d->m, &menv);
	xenv = ix_env(d, now);
	indexer_on_reconnect(&d->x, &xenv);
	cenv = cs_env(d, now);
	if (!indexer_is_writer(&d->x))
		consumer_on_reconnect(&d->c, &cenv);
	renv = reg_env(d, now);
	register_on_reconnect(&d->r, &renv);
}

static void on_session_over(struct zkd *d, uint64_t now)
{
	uint64_t id = d->s.ended_id;

	switch (d->s.end) {
	case ZEND_FLAPPING:
		/* Most likely the server refuses the client's SetWatches
		 * packet (too many watches, see mirror.h): a new session has
		 * none to restore. */
		zkd_log(ZKH_LOG_WARN, "session 0x%" PRIx64 " loses every reconnect at once "
			"(%u times; more watches than the server accepts in one packet?); "
			"starting a new session", id, (unsigned)ZKD_FLAP_MAX);
		conn_error(d, 0, "reconnect flapping: new session (too many watches?)");
		break;
	case ZEND_AUTH_FAILED:
		if (zkd_error_set(&d->auth_err, ZKH_LOG_ERR,
				  "ZooKeeper refused the credentials of auth_file %s",
				  d->cfg.auth_file))
			report_mark(&d->rep);
		break;
	default:
		zkd_log(ZKH_LOG_WARN, "ZooKeeper session 0x%" PRIx64 " expired; "
			"starting a new session", id);
		conn_error(d, 0, "session 0x%" PRIx64 " expired", id);
		break;
	}
	zkio_close(d->io);
	session_closed(&d->s);
	mirror_on_session_end(&d->m);
	indexer_on_session_end(&d->x);
	consumer_on_session_end(&d->c);
	batch_set_syncing(&d->b, false);
	if (d->s.end != ZEND_FLAPPING)
		zkd_log(ZKH_LOG_INFO, "next ZooKeeper session attempt in %.1f s",
			(double)(d->s.reconnect_at - now) / 1000.0);
}

static void on_session_event(struct zkd *d, const struct zkd_event *e,
			     uint64_t now)
{
	struct zkio_session_id sid;

	zkio_session(d->io, &sid);
	switch (session_on_event(&d->s, e->state, sid.id, now)) {
	case ZT_NEW_SESSION:
		on_new_session(d, now);
		break;
	case ZT_RECONNECTED:
		on_reconnected(d, now);
		break;
	case ZT_LOST: {
		char last[160];

		zkd_log_zk_last(last, sizeof last);
		conn_error(d, ZKH_LOG_WARN, "connection to ZooKeeper lost%s%s; "
			   "session 0x%" PRIx64 " lives on for up to %d ms, the client "
			   "reconnects by itself; serving the cache meanwhile",
			   last[0] ? ": " : "", last, d->s.id, d->cfg.session_timeout);
		break;
	}
	case ZT_EXPIRED:
		on_session_over(d, now);
		break;
	case ZT_NONE:
		break;
	}
}

/* An event of watch session i: its session machine, or the mirror. */
static void on_watch_session_event(struct zkd *d, size_t i,
				   const struct zkd_event *e, uint64_t now)
{
	struct mirror_env menv;
	struct zkio_session_id sid;

	if (e->kind == EV_WATCH && e->type == ZKIO_SESSION_EVENT) {
		uint64_t reconnects = d->ws[i].reconnects;

		zkio_session(d->wio[i], &sid);
		switch (session_on_event(&d->ws[i], e->state, sid.id, now)) {
		case ZT_NEW_SESSION:
		case ZT_RECONNECTED:
			if (d->ws[i].reconnects == reconnects) {
				d->ws_new++;
				zkd_log(ZKH_LOG_INFO, "watch session %zu: session 0x%" PRIx64
					" established", i, sid.id);
			} else {
				zkd_log(ZKH_LOG_INFO, "watch session %zu: reconnected, session "
					"0x%" PRIx64 " still valid", i, sid.id);
			}
			session_set_state(&d->ws[i], ZST_CONNECTED);
			report_mark(&d->rep);
			menv = mirror_env(d, now);
			if (d->mode == ZM_MIRROR)
				mirror_on_shard_ready(&d->m, &menv, i);
			break;
		case ZT_LOST:
			zkd_log(ZKH_LOG_INFO, "watch session %zu: connection lost; session "
				"0x%" PRIx64 " kept, the client reconnects by itself",
				i, d->ws[i].id);
			break;
		case ZT_EXPIRED:
			zkd_log(ZKH_LOG_WARN, "watch session %zu: session 0x%" PRIx64
				" %s; a new one reads its share of names again", i,
				d->ws[i].ended_id, d->ws[i].end == ZEND_AUTH_FAILED ?
				"refused the credentials" : d->ws[i].end == ZEND_FLAPPING ?
				"loses every reconnect" : "expired");
			zkio_close(d->wio[i]);
			session_closed(&d->ws[i]);
			menv = mirror_env(d, now);
			if (d->mode == ZM_MIRROR)
				mirror_on_shard_closed(&d->m, &menv, i);
			break;
		case ZT_NONE:
			break;
		}
		return;
	}
	if (d->mode != ZM_MIRROR)
		return;		/* (closed when the mirror stops) */
	menv = mirror_env(d, now);
	menv.from = i + 1;
	switch (e->kind) {
	case EV_WATCH:
		mirror_on_watch(&d->m, &menv, e);
		break;
	case EV_DATA:
		mirror_on_data(&d->m, &menv, e);
		break;
	case EV_EXISTS:
		if (e->tag == TAG_MIRROR_EXISTS)
			mirror_on_exists(&d->m, &menv, e);
		break;
	case EV_VOID:
		if (e->tag == TAG_MIRROR_SYNC)
			mirror_on_sync(&d->m, &menv, e);
		else if (e->tag == TAG_AUTH && e->rc != ZOK && e->rc != ZCLOSING &&
			 zkd_error_set(&d->auth_err, ZKH_LOG_ERR,
				       "authentication of watch session %zu with auth_file %s: %s",
				       i, d->cfg.auth_file, zkio_strerror(e->rc)))
			report_mark(&d->rep);
		break;
	case EV_CHILDREN:
		break;		/* never asked for there */
	}
}

void zkd_dispatch(struct zkd *d, const struct zkd_event *e, uint64_t now)
{
	struct mirror_env menv = mirror_env(d, now);
	struct reg_env renv = reg_env(d, now);
	struct ix_env xenv = ix_env(d, now);
	struct cs_env cenv = cs_env(d, now);
	bool mirroring = d->mode == ZM_MIRROR;

	if (!zkio_current(d->io, e)) {
		for (size_t i = 0; i < d->nw; i++)
			if (d->wio[i] && zkio_current(d->wio[i], e)) {
				on_watch_session_event(d, i, e, now);
				if (d->mode == ZM_MIRROR)
					after_mirror(d, now);
				after_index(d, now);
				collect_changes(d);
				break;
			}
		return;		/* else an event of a closed handle */
	}
	if (e->kind != EV_WATCH || e->type != ZKIO_SESSION_EVENT) {
		if (indexer_on_event(&d->x, &xenv, e) ||
		    consumer_on_event(&d->c, &cenv, e))
			goto done;
	}
	switch (e->kind) {
	case EV_WATCH:
		if (e->type == ZKIO_SESSION_EVENT) {
			on_session_event(d, e, now);
			break;
		}
		if (mirroring)
			mirror_on_watch(&d->m, &menv, e);
		if (e->type != ZKIO_NOTWATCHING_EVENT)
			register_on_node_event(&d->r, &renv, e->path);
		break;
	case EV_CHILDREN:
		if (!mirroring)
			break;	/* a listing of the mirror we left */
		if (e->rc == ZOK && e->has_stat && e->path &&
		    strcmp(e->path, d->m.hosts) == 0)
			indexer_note_listing(&d->x, (uint64_t)e->stat.pzxid);
		mirror_on_children(&d->m, &menv, e);
		break;
	case EV_DATA:
		if (mirroring)
			mirror_on_data(&d->m, &menv, e);
		break;
	case EV_VOID:
		if (e->tag == TAG_ENSURE) {
			mirror_on_ensure(&d->m, e);
		} else if (e->tag == TAG_MIRROR_UNWATCH || e->tag == TAG_MIRROR_SYNC) {
			/* best effort: a watch left behind only fires once */
		} else if (e->tag == TAG_AUTH) {
			if (e->rc == ZOK) {
				if (zkd_error_clear(&d->auth_err))
					report_mark(&d->rep);
			} else if (e->rc != ZCLOSING &&
				   zkd_error_set(&d->auth_err, ZKH_LOG_ERR,
						 "authentication with auth_file %s: %s",
						 d->cfg.auth_file, zkio_strerror(e->rc))) {
				report_mark(&d->rep);
			}
		} else {
			register_on_result(&d->r, &renv, e);
		}
		break;
	case EV_EXISTS:
		if (e->tag == TAG_ENSURE_STAT) {
			(void)ensure_on_stat(d->io, e, TAG_ENSURE);
		} else if (e->tag == TAG_MIRROR_EXISTS) {
			if (mirroring)	/* else a watch of the mirror we left */
				mirror_on_exists(&d->m, &menv, e);
		} else
			register_on_result(&d->r, &renv, e);
		break;
	}
done:
	if (d->mode == ZM_MIRROR)
		after_mirror(d, now);
	after_index(d, now);
	collect_changes(d);
}

void zkd_process_events(struct zkd *d, uint64_t now)
{
	struct zkd_event *e = evq_take_all(&d->q);

	while (e) {
		struct zkd_event *next = e->next;

		zkd_dispatch(d, e, now);
		zkd_ev_free(e);
		e = next;
	}
	if (evq_take_lost(&d->q) && zkio_is_open(d->io)) {
		zkd_log(ZKH_LOG_ERR, "out of memory in a ZooKeeper callback; resyncing everything");
		start_full_sync(d, now);
		collect_changes(d);
	}
}

static uint32_t snapshot_flags(const struct zkd *d)
{
	uint32_t flags = 0;

	if (fed_synced(d))
		flags |= ZKH_META_SYNCED;
	if (session_usable(&d->s))
		flags |= ZKH_META_CONNECTED;
	return flags;
}

void zkd_fill_status(const struct zkd *d, struct zkh_status *st)
{
	const struct zkd_error *slots[ZKH_ERR_NSOURCES] = {
		[ZKH_ERR_CONNECTION] = &d->conn_err,
		[ZKH_ERR_AUTH] = &d->auth_err,
		[ZKH_ERR_REGISTRATION] = &d->r.err,
		[ZKH_ERR_PUBLISH] = &d->b.publish_err,
		[ZKH_ERR_SYNC] = &d->m.err,
		[ZKH_ERR_BUDGET] = &d->b.budget_err,
		[ZKH_ERR_INDEX] = d->x.err.text[0] ? &d->x.err : &d->c.err,
	};
	uint64_t last = 0;

	memset(st, 0, sizeof *st);
	st->version = ZKH_STATUS_VERSION;
	st->pid = getpid();
	snprintf(st->state, sizeof st->state, "%s", zkd_state_name(d->s.state));
	st->connected = session_usable(&d->s);
	st->session = st->connected || d->s.state == ZST_DISCONNECTED ? d->s.id : 0;
	st->started_us = d->started_us;
	st->updated_us = zkd_realtime_us();
	st->last_sync_us = fed_sync_us(d);
	st->records = d->pub ? zkh_pub_count(d->pub) : 0;
	st->skipped = d->m.skipped;
	/* the mirror's refusals, while it feeds the batch */
	st->pending_reads = d->mode == ZM_MIRROR ? d->m.pending : 0;
	st->pending_listing = d->mode == ZM_MIRROR && d->m.list_retry.failures != 0;
	st->retries = d->m.retries;
	st->publishes = d->b.publishes;
	st->generation = d->pub ? zkh_pub_generation(d->pub) : 0;
	st->heartbeat_us = st->updated_us;
	st->heartbeat_interval_s = ZKH_STATUS_HEARTBEAT_S;
	st->pidns = d->pidns;
	snprintf(st->daemon_version, sizeof st->daemon_version, "%s", ZKH_VERSION);
	st->sessions = d->s.sessions;
	st->reconnects = d->s.reconnects;
	st->expiries = d->s.expiries;
	st->last_publish_us = d->b.last_publish_us;
	st->disconnected_us = d->disconnected_us;
	snprintf(st->index_role, sizeof st->index_role, "%s",
		 !session_usable(&d->s) && !d->c.in_step && !d->x.loaded ? "off" :
		 indexer_is_writer(&d->x) ? "indexer" :
		 d->mode == ZM_MIRROR ? "mirror" :
		 d->c.state == CS_REFUSED ? "refused" :
		 d->c.waiting ? "waiting" : "consumer");
	if (indexer_is_writer(&d->x)) {
		st->index_epoch = d->x.h.epoch;
		st->index_seq = d->x.h.seq;
		st->index_buckets = d->x.h.nbuckets;
	} else {
		st->index_epoch = d->c.h.epoch;
		st->index_seq = d->c.my_seq;
		st->index_buckets = d->c.h.nbuckets;
	}
	st->index_lag_ms = d->stale_since ? zkd_now_ms() - d->stale_since : 0;
	st->index_writes = d->x.writes;
	st->index_conflicts = d->x.conflicts;
	st->index_head_reads = d->c.head_reads;
	st->index_bucket_reads = d->c.bucket_reads;
	st->index_exists_reads = d->c.exists_reads;
	st->watch_sessions = d->nw;
	st->watch_max = d->mode == ZM_MIRROR ? mirror_watch_max(&d->m) : 0;
	st->watch_sessions_new = d->ws_new;
	for (int i = 0; i < ZKH_ERR_NSOURCES; i++) {
		st->error_counts[i] = slots[i]->count;
		if (!slots[i]->text[0])
			continue;
		memcpy(st->errors[i], slots[i]->text, sizeof st->errors[i]);
		if (slots[i]->seq > last) {
			last = slots[i]->seq;
			memcpy(st->last_error, slots[i]->text, sizeof st->last_error);
		}
	}
}

static void write_status(struct zkd *d, uint64_t now, bool force)
{
	struct zkh_status st;

	if (!report_due(&d->rep, now, force))
		return;
	zkd_fill_status(d, &st);
	report_write(&d->rep, d->cfg.cache, d->cfg.metrics_file, &st, now);
}

/* Connect window of the next handle: the session timeout, doubled by
 * each handle given up in a row (at most 8 times): a slow server gets
 * longer to answer at every step. */
static uint64_t connect_window(const struct zkd *d)
{
	unsigned k = d->connect_tries < 3 ? d->connect_tries : 3;

	return (uint64_t)d->cfg.session_timeout << k;
}

/* A new handle got no session within its window. If the client reported
 * no error (a server accepted and is still answering, slowly), wait one
 * more window; otherwise it holds nothing worth keeping: close it and
 * open the next one after a backoff step (re-resolving the servers'
 * names then). */
static void give_up_connect(struct zkd *d, uint64_t now)
{
	char last[160], since[40];
	uint64_t window = connect_window(d);

	d->connect_deadline = 0;
	zkd_log_zk_last(last, sizeof last);
	fmt_time(d->disconnected_us ? d->disconnected_us : zkd_realtime_us(),
		 since, sizeof since);
	if (!last[0]) {
		conn_error(d, ZKH_LOG_WARN, "no ZooKeeper server of %s has given a "
			   "session yet (waiting since %s, no error from the client); "
			   "serving the cache meanwhile", d->cfg.zookeeper, since);
		d->connect_deadline = now + window;
		return;
	}
	zkio_close(d->io);
	session_gave_up(&d->s, now);
	d->connect_tries++;
	conn_error(d, 0, "ZooKeeper unreachable since %s: no server of %s answered%s%s",
		   since, d->cfg.zookeeper, "; last: ", last);
	zkd_log(ZKH_LOG_WARN, "no server of %s answered within %" PRIu64 " ms (last: %s); "
		"serving the cache meanwhile; next attempt in %.1f s",
		d->cfg.zookeeper, window, last, (double)(d->s.reconnect_at - now) / 1000.0);
	zkd_log_zk_forget();
}

/* A live session is still disconnected: one line per doubling step. */
static void still_disconnected(struct zkd *d, uint64_t now)
{
	char last[160], since[40];
	uint64_t away_s = d->disconnected_us ?
		(zkd_realtime_us() - d->disconnected_us) / 1000000u : 0;

	zkd_log_zk_last(last, sizeof last);
	fmt_time(d->disconnected_us, since, sizeof since);
	conn_error(d, 0, "ZooKeeper unreachable since %s; session 0x%" PRIx64
		   " kept, the client reconnects by itself%s%s", since, d->s.id,
		   last[0] ? "; last: " : "", last);
	d->progress_ms = d->progress_ms * 2 > ZKD_PROGRESS_MAX_MS ?
		ZKD_PROGRESS_MAX_MS : d->progress_ms * 2;
	d->progress_at = now + jitter(d->progress_ms);
	zkd_log(ZKH_LOG_WARN, "still disconnected from ZooKeeper after %" PRIu64
		" s; session 0x%" PRIx64 " kept, the client keeps reconnecting%s%s%s; "
		"serving the cache meanwhile; next report in %.0f s", away_s, d->s.id,
		last[0] ? " (last: " : "", last, last[0] ? ")" : "",
		(double)(d->progress_at - now) / 1000.0);
}

void zkd_tick(struct zkd *d, uint64_t now)
{
	struct mirror_env menv;
	struct reg_env renv;
	struct cs_env cenv;

	report_watchdog(&d->rep, now);
	if (d->switch_at && now >= d->switch_at)
		switch_session(d, now);
	if (session_reconnect_due(&d->s, now))
		zkd_open_session(d, now);
	if (d->connect_deadline && now >= d->connect_deadline &&
	    d->s.state == ZST_CONNECTING && d->s.open)
		give_up_connect(d, now);
	if (d->progress_at && now >= d->progress_at &&
	    d->s.state == ZST_DISCONNECTED)
		still_disconnected(d, now);
	for (size_t i = 0; i < d->nw; i++)
		if (session_reconnect_due(&d->ws[i], now))
			open_watch_session(d, i, now);
	menv = mirror_env(d, now);
	if (d->mode == ZM_MIRROR)
		mirror_tick(&d->m, &menv);	/* due retries, then queued reads */
	renv = reg_env(d, now);
	register_tick(&d->r, &renv);
	cenv = cs_env(d, now);
	consumer_tick(&d->c, &cenv);
	after_index(d, now);
	if (d->pub)
		batch_tick(&d->b, d->pub, now, false, snapshot_flags(d),
			   fed_sync_us(d));
	collect_changes(d);
	if (d->pub)
		write_status(d, now, false);
}

static uint64_t min_deadline(uint64_t a, uint64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

uint64_t zkd_deadline(const struct zkd *d)
{
	uint64_t dl = min_deadline(session_deadline(&d->s), batch_deadline(&d->b));

	dl = min_deadline(dl, register_deadline(&d->r));
	dl = min_deadline(dl, indexer_deadline(&d->x));
	dl = min_deadline(dl, consumer_deadline(&d->c));
	if (d->mode == ZM_MIRROR)	/* a consumer's mirror has no retries due */
		dl = min_deadline(dl, mirror_deadline(&d->m));
	dl = min_deadline(dl, report_deadline(&d->rep));
	dl = min_deadline(dl, d->switch_at);
	for (size_t i = 0; i < d->nw; i++)
		dl = min_deadline(dl, session_deadline(&d->ws[i]));
	if (d->s.state == ZST_CONNECTING)
		dl = min_deadline(dl, d->connect_deadline);
	if (d->s.state == ZST_DISCONNECTED)
		dl = min_deadline(dl, d->progress_at);
	return dl;
}

void zkd_resync(struct zkd *d, uint64_t now)
{
	if (!session_usable(&d->s))
		return;
	if (d->mode == ZM_MIRROR)
		start_full_sync(d, now);
	else
		to_consumer(d, now);
	collect_changes(d);
}

/* The ACL of every node the daemon creates (layout, registration):
 * `acl`, or ALL for auth_file's identity and READ for everyone, or open
 * without credentials (common/zk/zkacl.c decides, as for the tools). */
static int set_acl(struct zkd *d, char *err, size_t err_cap)
{
	struct zkh_acl acl;
	char txt[ZKH_ACL_TEXT_MAX];

	if (zkh_zk_acl_for(&d->cfg, d->have_auth ? &d->auth : NULL, &acl, err,
			   err_cap))
		return -EINVAL;
	zkio_set_acl(d->io, &acl);
	zkd_log(zkh_zk_acl_is_open(&acl) ? ZKH_LOG_DEBUG : ZKH_LOG_INFO,
		"nodes zkcached creates get the ACL %s",
		zkh_zk_acl_format(&acl, txt, sizeof txt));
	return 0;
}

/* The chroot of connect string `zk` ("" if none) into out[ZKD_PATH_CAP]. */
static int split_chroot(const char *zk, char *out, char *err, size_t err_cap)
{
	const char *slash = strchr(zk, '/');
	size_t n = slash ? strlen(slash) : 0;

	while (n > 0 && slash[n - 1] == '/')
		n--;	/* "/" alone means no chroot */
	if (n >= ZKD_PATH_CAP) {
		snprintf(err, err_cap, "chroot of the connect string is too long");
		return -ENAMETOOLONG;
	}
	if (n)
		memcpy(out, slash, n);
	out[n] = '\0';
	return 0;
}

/* True if the keys that need a new session differ between a and b. */
static bool session_keys_differ(const struct zkh_config *a, const struct zkh_config *b)
{
	return strcmp(a->zookeeper, b->zookeeper) || strcmp(a->root, b->root) ||
		strcmp(a->auth_file, b->auth_file) ||
		a->session_timeout != b->session_timeout ||
		strcmp(a->register_name, b->register_name) ||
		a->register_naddrs != b->register_naddrs ||
		memcmp(a->register_addrs, b->register_addrs,
		       a->register_naddrs * sizeof a->register_addrs[0]) ||
		memcmp(&a->acl, &b->acl, sizeof a->acl) ||
		a->indexer != b->indexer || a->indexers != b->indexers;
}

/* The fleet index roles for d->m.root and the index keys of d->cfg. */
static int init_index(struct zkd *d)
{
	char host[64] = "", ident[128];
	int rc;

	gethostname(host, sizeof host - 1);
	snprintf(ident, sizeof ident, "%s pid %d", host, (int)getpid());
	rc = indexer_init(&d->x, (enum ix_mode)d->cfg.indexer,
			  (unsigned)d->cfg.indexers, d->m.root, ident);
	if (!rc)
		rc = consumer_init(&d->c, d->m.root, (unsigned)d->cfg.index_fallback_max,
				   (uint64_t)getpid() * 2654435761u ^ zkd_realtime_us());
	return rc;
}

/* The delayed half of a reload: close the session (our ephemeral record
 * and election slot go with it), take the new session keys, set up the
 * mirror and the index roles afresh (new root, indexer, indexers), open a
 * new session (it starts as a consumer of the index; the first round or
 * full sync also sweeps what an old root held). */
static void switch_session(struct zkd *d, uint64_t now)
{
	struct zkh_config *c = &d->cfg, *n = &d->next_cfg;
	char err[ZKH_STATUS_TEXT_MAX];
	int rc;

	d->switch_at = 0;
	zkd_log(ZKH_LOG_INFO, "reload: closing session 0x%" PRIx64 " for a new one "
		"with the new configuration", d->s.id);
	zkio_close(d->io);
	session_closed(&d->s);
	mirror_on_session_end(&d->m);
	indexer_on_session_end(&d->x);
	consumer_on_session_end(&d->c);
	batch_set_syncing(&d->b, false);
	d->connect_deadline = 0;
	c->indexer = n->indexer;
	c->indexers = n->indexers;
	c->index_fallback_max = n->index_fallback_max;
	memcpy(c->zookeeper, n->zookeeper, sizeof c->zookeeper);
	memcpy(c->root, n->root, sizeof c->root);
	memcpy(c->auth_file, n->auth_file, sizeof c->auth_file);
	c->session_timeout = n->session_timeout;
	memcpy(c->register_name, n->register_name, sizeof c->register_name);
	memcpy(c->register_addrs, n->register_addrs, sizeof c->register_addrs);
	c->register_naddrs = n->register_naddrs;
	c->acl = n->acl;
	zkh_zk_auth_wipe(&d->auth);
	d->auth = d->next_auth;
	d->have_auth = d->next_have_auth;
	zkh_zk_auth_wipe(&d->next_auth);
	d->next_have_auth = false;
	rc = set_acl(d, err, sizeof err);	/* checked by zkd_reload */
	if (rc)
		zkd_log(ZKH_LOG_ERR, "reload: %s", err);
	/* checked by zkd_reload: cannot fail but for memory */
	(void)split_chroot(c->zookeeper, d->chroot, err, sizeof err);
	{
		uint64_t retries = d->m.retries;	/* a counter since start */

		mirror_free(&d->m);
		close_watch_sessions(d);
		rc = mirror_init(&d->m, d->chroot, c->root);
		d->m.retries = retries;
		d->m.per_session = (unsigned)c->watches_per_session;
	}
	/* the new session chooses who feeds the batch (to_consumer) */
	d->mode = ZM_CONSUMER;
	d->b.tap = NULL;
	d->stale_since = 0;
	indexer_free(&d->x);
	consumer_free(&d->c);
	if (rc == 0)
		rc = init_index(d);
	if (rc == 0)
		rc = register_init(&d->r, c->register_name, c->register_addrs,
				   c->register_naddrs, d->m.hosts, c->cache);
	if (rc) {
		zkd_log(ZKH_LOG_ERR, "reload: cannot set up root %s: %s; stopping",
			c->root, strerror(-rc));
		d->stopping = true;
		return;
	}
	report_mark(&d->rep);
	zkd_open_session(d, now);
}

int zkd_reload(struct zkd *d, const struct zkh_config *nc, uint64_t now,
	       char *err, size_t err_cap)
{
	struct zkh_config *c = &d->cfg;
	struct zkh_zk_auth auth;
	char chroot[ZKD_PATH_CAP];
	bool have_auth = false;
	int rc;

	memset(&auth, 0, sizeof auth);
	/* everything that can fail first: nothing changes on an error */
	if (split_chroot(nc->zookeeper, chroot, err, err_cap))
		return -EINVAL;
	if (strlen(chroot) + strlen(nc->root) + sizeof "/hosts/" + ZKH_NAME_MAX >=
	    ZKD_PATH_CAP) {
		snprintf(err, err_cap, "root %s: too long", nc->root);
		return -EINVAL;
	}
	if (nc->auth_file[0]) {
		rc = zkh_zk_auth_load(nc->auth_file, &auth, err, err_cap);
		if (rc)
			return -EINVAL;
		have_auth = true;
	}
	{
		struct zkh_acl acl;

		if (zkh_zk_acl_for(nc, have_auth ? &auth : NULL, &acl, err, err_cap)) {
			zkh_zk_auth_wipe(&auth);
			return -EINVAL;
		}
	}
	if (d->pub && (strcmp(c->domain, nc->domain) || c->fsync != nc->fsync)) {
		struct zkh_pub_options po = { .domain = nc->domain, .fsync = nc->fsync };

		if (zkh_pub_set_options(d->pub, &po)) {
			snprintf(err, err_cap, "domain %s: not a valid name", nc->domain);
			zkh_zk_auth_wipe(&auth);
			return -EINVAL;
		}
	}
	/* live keys */
	if (strcmp(c->domain, nc->domain)) {
		zkd_log(ZKH_LOG_INFO, "reload: domain '%s' -> '%s' (published with "
			"the next snapshot)", c->domain, nc->domain);
		memcpy(c->domain, nc->domain, sizeof c->domain);
		batch_request_publish(&d->b, now);
	}
	c->fsync = nc->fsync;
	if (c->publish_delay != nc->publish_delay) {
		zkd_log(ZKH_LOG_INFO, "reload: publish_delay %d -> %d ms",
			c->publish_delay, nc->publish_delay);
		c->publish_delay = nc->publish_delay;
		d->b.publish_delay = (uint64_t)nc->publish_delay;
	}
	if (c->max_records != nc->max_records) {
		zkd_log(ZKH_LOG_INFO, "reload: max_records %d -> %d",
			c->max_records, nc->max_records);
		c->max_records = nc->max_records;
		d->b.max_records = (uint64_t)nc->max_records;
		batch_request_publish(&d->b, now);	/* checks the budget */
	}
	if (strcmp(c->metrics_file, nc->metrics_file)) {
		zkd_log(ZKH_LOG_INFO, "reload: metrics_file '%s' -> '%s'",
			c->metrics_file, nc->metrics_file);
		memcpy(c->metrics_file, nc->metrics_file, sizeof c->metrics_file);
		report_mark(&d->rep);
	}
	c->log_level = nc->log_level;
	if (c->watches_per_session != nc->watches_per_session) {
		zkd_log(ZKH_LOG_INFO, "reload: watches_per_session %d -> %d (applies at "
			"the mirror's next listing; watch sessions are never closed to "
			"shrink)", c->watches_per_session, nc->watches_per_session);
		c->watches_per_session = nc->watches_per_session;
		d->m.per_session = (unsigned)nc->watches_per_session;
	}
	if (c->index_fallback_max != nc->index_fallback_max) {
		zkd_log(ZKH_LOG_INFO, "reload: index_fallback_max %d -> %d (applies "
			"at the next check of the index)", c->index_fallback_max,
			nc->index_fallback_max);
		c->index_fallback_max = nc->index_fallback_max;
		d->c.fallback_max = (unsigned)nc->index_fallback_max;
	}
	if (strcmp(c->cache, nc->cache))
		zkd_log(ZKH_LOG_WARN, "reload: cache %s -> %s needs a restart of "
			"zkcached; still using %s", c->cache, nc->cache, c->cache);
	/* keys of the session: a new one, later */
	zkh_zk_auth_wipe(&d->next_auth);
	d->next_have_auth = false;
	if (!session_keys_differ(c, nc)) {
		zkh_zk_auth_wipe(&auth);
		if (d->switch_at)
			zkd_log(ZKH_LOG_INFO, "reload: session keys back as they are; "
				"no new session");
		d->switch_at = 0;
		return 0;
	}
	d->next_cfg = *nc;
	d->next_auth = auth;
	d->next_have_auth = have_auth;
	{
		uint64_t spread = (uint64_t)nc->session_timeout < ZKD_RELOAD_SPREAD_MS ?
			(uint64_t)nc->session_timeout : ZKD_RELOAD_SPREAD_MS;
		uint64_t delay = (uint64_t)random() % (spread + 1);

		d->switch_at = now + delay ? now + delay : 1;
		zkd_log(ZKH_LOG_INFO, "reload: zookeeper, root, auth_file, acl, "
			"session_timeout, register, indexer or indexers changed: "
			"a new session in %.1f s",
			(double)delay / 1000.0);
	}
	return 0;
}

int zkd_init(struct zkd *d, char *err, size_t err_cap)
{
	int rc;

	session_init(&d->s);
	batch_init(&d->b, (uint64_t)d->cfg.publish_delay, (uint64_t)d->cfg.max_records);
	rc = evq_init(&d->q);
	if (rc) {
		snprintf(err, err_cap, "event queue: %s", strerror(-rc));
		return rc;
	}
	d->q_ready = true;
	d->io = zkio_new(&d->q);
	if (!d->io) {
		snprintf(err, err_cap, "out of memory");
		return -ENOMEM;
	}
	rc = split_chroot(d->cfg.zookeeper, d->chroot, err, err_cap);
	if (rc)
		return rc;
	if (d->cfg.auth_file[0]) {
		rc = zkh_zk_auth_load(d->cfg.auth_file, &d->auth, err, err_cap);
		if (rc)
			return rc == -EINVAL ? rc : -EINVAL;
		d->have_auth = true;
	}
	rc = set_acl(d, err, err_cap);
	if (rc)
		return rc;
	rc = mirror_init(&d->m, d->chroot, d->cfg.root);
	if (rc) {
		snprintf(err, err_cap, "root %s: %s", d->cfg.root, strerror(-rc));
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	d->m.per_session = (unsigned)d->cfg.watches_per_session;
	rc = init_index(d);
	if (rc) {
		snprintf(err, err_cap, "fleet index: %s", strerror(-rc));
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	rc = register_init(&d->r, d->cfg.register_name, d->cfg.register_addrs,
			   d->cfg.register_naddrs, d->m.hosts, d->cfg.cache);
	if (rc) {
		snprintf(err, err_cap, "register %s: %s", d->cfg.register_name,
			 strerror(-rc));
		return -EINVAL;
	}
	return 0;
}

void zkd_attach_publisher(struct zkd *d, struct zkh_publisher *pub)
{
	d->pub = pub;
	/* A snapshot missing or unusable while the master holds records is
	 * rebuilt now, so lookups are served before ZooKeeper answers. */
	if (zkh_pub_needs_publish(pub) && zkh_pub_count(pub) > 0)
		batch_request_publish(&d->b, zkd_now_ms());
	batch_tick(&d->b, pub, zkd_now_ms(), true, snapshot_flags(d), fed_sync_us(d));
	collect_changes(d);
}

void zkd_shutdown(struct zkd *d, uint64_t now)
{
	struct zkd_event *e;

	/* Closing the session first makes our ephemeral record vanish now. */
	zkio_close(d->io);
	session_closed(&d->s);
	close_watch_sessions(d);
	e = evq_take_all(&d->q);
	while (e) {
		struct zkd_event *next = e->next;

		zkd_ev_free(e);
		e = next;
	}
	if (d->pub)
		batch_tick(&d->b, d->pub, now, true, snapshot_flags(d), fed_sync_us(d));
	session_set_state(&d->s, ZST_STOPPED);
	collect_changes(d);
	if (d->pub)
		write_status(d, now, true);
}

void zkd_free(struct zkd *d)
{
	zkio_free(d->io);
	d->io = NULL;
	for (size_t i = 0; i < ZKD_WATCH_SESSIONS_MAX; i++) {
		zkio_free(d->wio[i]);
		d->wio[i] = NULL;
	}
	d->nw = 0;
	mirror_free(&d->m);
	indexer_free(&d->x);
	consumer_free(&d->c);
	batch_free(&d->b);
	if (d->q_ready)
		evq_destroy(&d->q);
	d->q_ready = false;
	zkh_zk_auth_wipe(&d->auth);
	zkh_zk_auth_wipe(&d->next_auth);
}

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
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "zkhosts/zkacl.h"
#include "zkcached.h"

static struct mirror_env mirror_env(struct zkd *d, uint64_t now)
{
	return (struct mirror_env){ .io = d->io, .batch = &d->b,
				    .usable = session_usable(&d->s), .now = now };
}

static struct reg_env reg_env(struct zkd *d, uint64_t now)
{
	return (struct reg_env){ .io = d->io, .usable = session_usable(&d->s),
				 .session_id = d->s.id, .prev_ids = d->s.prev_ids,
				 .nprev = ZKD_PREV_SESSIONS, .now = now };
}

static void set_state(struct zkd *d, enum zkd_state st)
{
	if (d->s.state != st)
		zkd_log(ZKH_LOG_DEBUG, "state %s -> %s", zkd_state_name(d->s.state),
			zkd_state_name(st));
	session_set_state(&d->s, st);
}

/* Collect the roles' "status changed" flags. */
static void collect_changes(struct zkd *d)
{
	if (d->s.changed || d->m.changed || d->b.changed || d->r.changed)
		report_mark(&d->rep);
	d->s.changed = d->m.changed = d->b.changed = d->r.changed = false;
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

void zkd_open_session(struct zkd *d, uint64_t now)
{
	char desc[ZKH_ZK_CONNECT_MAX], err[ZKH_STATUS_TEXT_MAX];
	int rc = zkio_open(d->io, d->cfg.zookeeper, d->cfg.session_timeout,
			   d->have_auth ? &d->auth : NULL, desc, sizeof desc,
			   err, sizeof err);

	if (rc) {
		conn_error(d, ZKH_LOG_ERR, "%s", err);
		session_open_failed(&d->s, now);
		zkd_log(ZKH_LOG_INFO, "new ZooKeeper session in %" PRIu64 " ms",
			d->s.reconnect_at - now);
		collect_changes(d);
		return;
	}
	zkd_log(ZKH_LOG_INFO, "connecting to ZooKeeper %s%s%s (session timeout %d ms)",
		desc, d->chroot[0] ? ", chroot " : "", d->chroot,
		d->cfg.session_timeout);
	session_opened(&d->s);
	d->connect_deadline = now + (uint64_t)d->cfg.session_timeout;
	collect_changes(d);
}

static void on_new_session(struct zkd *d, uint64_t now)
{
	struct zkio_session_id sid;
	struct reg_env renv;

	zkio_session(d->io, &sid);
	zkd_log(ZKH_LOG_INFO, "session 0x%" PRIx64 " established (timeout %d ms)",
		sid.id, zkio_timeout(d->io));
	d->connect_deadline = 0;
	if (zkd_error_clear(&d->conn_err))
		report_mark(&d->rep);
	start_full_sync(d, now);
	renv = reg_env(d, now);
	register_on_new_session(&d->r, &renv, &sid);
}

static void on_reconnected(struct zkd *d, uint64_t now)
{
	struct mirror_env menv;
	struct reg_env renv;

	zkd_log(ZKH_LOG_INFO, "reconnected, session 0x%" PRIx64 " still valid", d->s.id);
	if (zkd_error_clear(&d->conn_err))
		report_mark(&d->rep);
	set_state(d, d->m.synced ? ZST_CONNECTED : ZST_SYNCING);
	menv = mirror_env(d, now);
	mirror_on_reconnect(&d->m, &menv);
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
	batch_set_syncing(&d->b, false);
	if (d->s.end != ZEND_FLAPPING)
		zkd_log(ZKH_LOG_INFO, "new ZooKeeper session in %" PRIu64 " ms",
			d->s.reconnect_at - now);
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
	case ZT_LOST:
		conn_error(d, ZKH_LOG_WARN, "connection to ZooKeeper lost; "
			   "session 0x%" PRIx64 " lives on for up to %d ms, serving the cache meanwhile",
			   d->s.id, d->cfg.session_timeout);
		break;
	case ZT_EXPIRED:
		on_session_over(d, now);
		break;
	case ZT_NONE:
		break;
	}
}

void zkd_dispatch(struct zkd *d, const struct zkd_event *e, uint64_t now)
{
	struct mirror_env menv = mirror_env(d, now);
	struct reg_env renv = reg_env(d, now);

	if (!zkio_current(d->io, e))
		return;		/* an event of a closed handle */
	switch (e->kind) {
	case EV_WATCH:
		if (e->type == ZKIO_SESSION_EVENT) {
			on_session_event(d, e, now);
			break;
		}
		mirror_on_watch(&d->m, &menv, e);
		if (e->type != ZKIO_NOTWATCHING_EVENT)
			register_on_node_event(&d->r, &renv, e->path);
		break;
	case EV_CHILDREN:
		mirror_on_children(&d->m, &menv, e);
		break;
	case EV_DATA:
		mirror_on_data(&d->m, &menv, e);
		break;
	case EV_VOID:
		if (e->tag == TAG_ENSURE) {
			mirror_on_ensure(&d->m, e);
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
		if (e->tag == TAG_MIRROR_EXISTS)
			mirror_on_exists(&d->m, &menv, e);
		else
			register_on_result(&d->r, &renv, e);
		break;
	}
	after_mirror(d, now);
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

	if (d->m.synced)
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
	st->last_sync_us = d->m.last_sync_us;
	st->records = d->pub ? zkh_pub_count(d->pub) : 0;
	st->skipped = d->m.skipped;
	st->pending_reads = d->m.pending;
	st->pending_listing = d->m.list_retry.failures != 0;
	st->retries = d->m.retries;
	st->publishes = d->b.publishes;
	st->generation = d->pub ? zkh_pub_generation(d->pub) : 0;
	for (int i = 0; i < ZKH_ERR_NSOURCES; i++) {
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

void zkd_tick(struct zkd *d, uint64_t now)
{
	struct mirror_env menv;
	struct reg_env renv;

	if (session_reconnect_due(&d->s, now))
		zkd_open_session(d, now);
	if (d->connect_deadline && now >= d->connect_deadline &&
	    d->s.state == ZST_CONNECTING) {
		d->connect_deadline = 0;
		conn_error(d, ZKH_LOG_WARN, "no ZooKeeper server of %s answers "
			   "(trying for %d ms); serving the cache meanwhile",
			   d->cfg.zookeeper, d->cfg.session_timeout);
	}
	menv = mirror_env(d, now);
	mirror_tick(&d->m, &menv);	/* due retries, then queued reads */
	renv = reg_env(d, now);
	register_tick(&d->r, &renv);
	if (d->pub)
		batch_tick(&d->b, d->pub, now, false, snapshot_flags(d),
			   d->m.last_sync_us);
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
	dl = min_deadline(dl, mirror_deadline(&d->m));
	dl = min_deadline(dl, report_deadline(&d->rep));
	if (d->s.state == ZST_CONNECTING)
		dl = min_deadline(dl, d->connect_deadline);
	return dl;
}

void zkd_resync(struct zkd *d, uint64_t now)
{
	if (!session_usable(&d->s))
		return;
	start_full_sync(d, now);
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

int zkd_init(struct zkd *d, char *err, size_t err_cap)
{
	const char *slash = strchr(d->cfg.zookeeper, '/');
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
	if (slash) {
		size_t n = strlen(slash);

		while (n > 0 && slash[n - 1] == '/')
			n--;	/* "/" alone means no chroot */
		if (n >= sizeof d->chroot) {
			snprintf(err, err_cap, "chroot of the connect string is too long");
			return -ENAMETOOLONG;
		}
		memcpy(d->chroot, slash, n);
		d->chroot[n] = '\0';
	}
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
	batch_tick(&d->b, pub, zkd_now_ms(), true, snapshot_flags(d), d->m.last_sync_us);
	collect_changes(d);
}

void zkd_shutdown(struct zkd *d, uint64_t now)
{
	struct zkd_event *e;

	/* Closing the session first makes our ephemeral record vanish now. */
	zkio_close(d->io);
	session_closed(&d->s);
	e = evq_take_all(&d->q);
	while (e) {
		struct zkd_event *next = e->next;

		zkd_ev_free(e);
		e = next;
	}
	if (d->pub)
		batch_tick(&d->b, d->pub, now, true, snapshot_flags(d), d->m.last_sync_us);
	session_set_state(&d->s, ZST_STOPPED);
	collect_changes(d);
	if (d->pub)
		write_status(d, now, true);
}

void zkd_free(struct zkd *d)
{
	zkio_free(d->io);
	d->io = NULL;
	mirror_free(&d->m);
	batch_free(&d->b);
	if (d->q_ready)
		evq_destroy(&d->q);
	d->q_ready = false;
	zkh_zk_auth_wipe(&d->auth);
}

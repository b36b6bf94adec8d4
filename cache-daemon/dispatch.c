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
 * to the indexer and the consumer first (by tag, by path).
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
	if (d->s.state != st)
		zkd_log(ZKH_LOG_DEBUG, "state %s -> %s", zkd_state_name(d->s.state),
			zkd_state_name(st));
	session_set_state(&d->s, st);
}

/* Collect the roles' "status changed" flags. */
static void collect_changes(struct zkd *d)
{
	if (d->s.changed || d->m.changed || d->b.changed || d->r.changed ||
	    d->x.changed || d->c.changed)
		report_mark(&d->rep);
	d->s.changed = d->m.changed = d->b.changed = d->r.changed = false;
	d->x.changed = d->c.changed = false;
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

/* The mirror feeds the batch from now on, from nothing: every record it
 * reads reaches the indexer's view through the tap. */
static void to_mirror(struct zkd *d, uint64_t now, const char *why)
{
	zkd_log(ZKH_LOG_INFO, "index: %s; mirroring %s", why, d->m.hosts);
	d->mode = ZM_MIRROR;
	consumer_stop(&d->c);
	mirror_free(&d->m);
	if (mirror_init(&d->m, d->chroot, d->cfg.root))
		zkd_log(ZKH_LOG_ERR, "out of memory restarting the mirror");
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
		indexer_note_mirror(&d->x, !d->m.fq_head && !d->m.inflight &&
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
	struct ix_env xenv;

	zkio_session(d->io, &sid);
	zkd_log(ZKH_LOG_INFO, "session 0x%" PRIx64 " established (timeout %d ms)",
		sid.id, zkio_timeout(d->io));
	d->connect_deadline = 0;
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
	struct ix_env xenv = ix_env(d, now);
	struct cs_env cenv = cs_env(d, now);
	bool mirroring = d->mode == ZM_MIRROR;

	if (!zkio_current(d->io, e))
		return;		/* an event of a closed handle */
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
	st->publishes = d->b.publishes;
	st->generation = d->pub ? zkh_pub_generation(d->pub) : 0;
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
	struct cs_env cenv;

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
	if (d->mode == ZM_MIRROR)
		mirror_pump(&d->m, &menv);
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
	dl = min_deadline(dl, report_deadline(&d->rep));
	if (d->s.state == ZST_CONNECTING)
		dl = min_deadline(dl, d->connect_deadline);
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
	{
		char host[64] = "", ident[128];

		gethostname(host, sizeof host - 1);
		snprintf(ident, sizeof ident, "%s pid %d", host, (int)getpid());
		rc = indexer_init(&d->x, (enum ix_mode)d->cfg.indexer,
				  (unsigned)d->cfg.indexers, d->m.root, ident);
		if (!rc)
			rc = consumer_init(&d->c, d->m.root,
					   (unsigned)d->cfg.index_fallback_max,
					   (uint64_t)getpid() * 2654435761u ^ zkd_realtime_us());
		if (rc) {
			snprintf(err, err_cap, "fleet index: %s", strerror(-rc));
			return rc == -ENOMEM ? rc : -EINVAL;
		}
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
	mirror_free(&d->m);
	indexer_free(&d->x);
	consumer_free(&d->c);
	batch_free(&d->b);
	if (d->q_ready)
		evq_destroy(&d->q);
	d->q_ready = false;
	zkh_zk_auth_wipe(&d->auth);
}

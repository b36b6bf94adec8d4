/*
 * session.c - the ZooKeeper session of zkcached as an explicit state
 * machine, and the only place that calls the ZooKeeper client.
 *
 *   connecting --(connected, new id)--> syncing --(full sync)--> connected
 *   connected/syncing --(connection lost)--> disconnected (same session:
 *       the client reconnects and re-arms watches by itself)
 *   disconnected --(connected, same id)--> connected/syncing
 *   any --(expired / auth failed)--> expired: handle closed, a new one is
 *       opened after a backoff with jitter, then a full sync
 *
 * The connect string is resolved here to numeric addresses
 * (zkh_zk_resolve, which bypasses the zk NSS module) on every new handle;
 * a chroot suffix is split off and prefixed to our paths by the mirror, so
 * the daemon can create the chroot node itself. One static watcher serves
 * the handle and every watch; it and the completion callbacks run on the
 * client's completion thread and only push events (evqueue.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "zkcached.h"

/* ---- callbacks (completion thread) -------------------------------------- */

static void watcher(zhandle_t *zh, int type, int state, const char *path,
		    void *ctx)
{
	struct zkd_hctx *h = ctx;
	(void)zh;
	struct zkd_event *e = zkd_ev_new(EV_WATCH, TAG_NONE, h->gen,
					 path && *path ? path : NULL);
	if (e) {
		e->type = type;
		e->state = state;
	}
	evq_push(h->q, e);
}

static struct zkd_evq *g_q;	/* queue of the one daemon in this process */

static void data_cb(int rc, const char *value, int value_len,
		    const struct Stat *stat, const void *data)
{
	struct zkd_event *e = (struct zkd_event *)data;
	e->rc = rc;
	if (rc == ZOK && stat) {
		e->stat = *stat;
		e->has_stat = true;
	}
	if (rc == ZOK && value && value_len > 0) {
		e->data = malloc((size_t)value_len);
		if (!e->data) {
			zkd_ev_free(e);
			evq_push(g_q, NULL);
			return;
		}
		memcpy(e->data, value, (size_t)value_len);
		e->data_len = value_len;
	}
	evq_push(g_q, e);
}

static void children_cb(int rc, const struct String_vector *sv,
			const struct Stat *stat, const void *data)
{
	struct zkd_event *e = (struct zkd_event *)data;
	e->rc = rc;
	if (rc == ZOK && stat) {
		e->stat = *stat;
		e->has_stat = true;
	}
	if (rc == ZOK && sv && sv->count > 0) {
		e->names = calloc((size_t)sv->count, sizeof *e->names);
		if (!e->names)
			goto oom;
		for (int32_t i = 0; i < sv->count; i++) {
			e->names[i] = strdup(sv->data[i] ? sv->data[i] : "");
			if (!e->names[i])
				goto oom;
			e->nnames++;
		}
	}
	evq_push(g_q, e);
	return;
oom:
	zkd_ev_free(e);
	evq_push(g_q, NULL);
}

static void void_cb(int rc, const void *data)
{
	struct zkd_event *e = (struct zkd_event *)data;
	e->rc = rc;
	evq_push(g_q, e);
}

static void string_cb(int rc, const char *value, const void *data)
{
	(void)value;
	void_cb(rc, data);
}

static void stat_cb(int rc, const struct Stat *stat, const void *data)
{
	struct zkd_event *e = (struct zkd_event *)data;
	e->rc = rc;
	if (rc == ZOK && stat) {
		e->stat = *stat;
		e->has_stat = true;
	}
	evq_push(g_q, e);
}

/* A multi's results and the create op's path buffer are written by the
 * completion, so they live on the heap until it runs. */
struct multi_ctx {
	struct zkd_event *e;
	zoo_op_result_t res[2];
	char created[ZKD_PATH_CAP];
};

static void multi_cb(int rc, const void *data)
{
	struct multi_ctx *c = (struct multi_ctx *)data;
	struct zkd_event *e = c->e;
	free(c);
	e->rc = rc;
	evq_push(g_q, e);
}

/* ---- requests (main loop) ------------------------------------------------ */

void session_submit_result(struct zkd *d, struct zkd_event *e, int rc)
{
	if (rc != ZOK) {
		e->rc = rc;
		evq_push(&d->q, e);
	}
}

static struct zkd_event *req(struct zkd *d, enum zkd_ev_kind kind,
			     enum zkd_ev_tag tag, const char *path)
{
	struct zkd_event *e = zkd_ev_new(kind, tag, d->s.gen, path);
	if (!e)
		evq_push(&d->q, NULL);	/* counted as lost: full resync */
	return e;
}

void zkio_get_data(struct zkd *d, const char *path)
{
	struct zkd_event *e = req(d, EV_DATA, TAG_NONE, path);
	if (e)
		session_submit_result(d, e, d->s.zh ?
			zoo_aget(d->s.zh, path, 1, data_cb, e) : ZINVALIDSTATE);
}

void zkio_list(struct zkd *d, const char *path)
{
	struct zkd_event *e = req(d, EV_CHILDREN, TAG_NONE, path);
	if (e)
		session_submit_result(d, e, d->s.zh ?
			zoo_aget_children2(d->s.zh, path, 1, children_cb, e) :
			ZINVALIDSTATE);
}

void zkio_create(struct zkd *d, const char *path, const char *data,
		 int mode, enum zkd_ev_tag tag)
{
	struct zkd_event *e = req(d, EV_VOID, tag, path);
	if (e)
		session_submit_result(d, e, d->s.zh ?
			zoo_acreate(d->s.zh, path, data, (int)strlen(data),
				    &ZOO_OPEN_ACL_UNSAFE, mode, string_cb, e) :
			ZINVALIDSTATE);
}

void zkio_replace(struct zkd *d, const char *path, int version,
		  const char *data, int mode, enum zkd_ev_tag tag)
{
	struct zkd_event *e = req(d, EV_VOID, tag, path);
	struct multi_ctx *c;
	zoo_op_t ops[2];
	int rc;

	if (!e)
		return;
	if (!d->s.zh) {
		session_submit_result(d, e, ZINVALIDSTATE);
		return;
	}
	c = calloc(1, sizeof *c);
	if (!c) {
		zkd_ev_free(e);
		evq_push(&d->q, NULL);	/* counted as lost: full resync */
		return;
	}
	c->e = e;
	zoo_delete_op_init(&ops[0], path, version);
	zoo_create_op_init(&ops[1], path, data, (int)strlen(data),
			   &ZOO_OPEN_ACL_UNSAFE, mode, c->created, sizeof c->created);
	rc = zoo_amulti(d->s.zh, 2, ops, c->res, multi_cb, c);
	if (rc != ZOK) {
		free(c);	/* no completion will run */
		session_submit_result(d, e, rc);
	}
}

void zkio_exists(struct zkd *d, const char *path, enum zkd_ev_tag tag)
{
	struct zkd_event *e = req(d, EV_EXISTS, tag, path);
	if (e)
		session_submit_result(d, e, d->s.zh ?
			zoo_aexists(d->s.zh, path, 1, stat_cb, e) :
			ZINVALIDSTATE);
}

/* ---- state ---------------------------------------------------------------- */

const char *zkd_state_name(enum zkd_state s)
{
	switch (s) {
	case ZST_STARTING: return "starting";
	case ZST_CONNECTING: return "connecting";
	case ZST_SYNCING: return "syncing";
	case ZST_CONNECTED: return "connected";
	case ZST_DISCONNECTED: return "disconnected";
	case ZST_EXPIRED: return "expired";
	case ZST_STOPPED: return "stopped";
	}
	return "?";
}

void session_set_state(struct zkd *d, enum zkd_state st)
{
	if (d->s.state == st)
		return;
	zkd_log(ZKH_LOG_DEBUG, "state %s -> %s", zkd_state_name(d->s.state),
		zkd_state_name(st));
	d->s.state = st;
	d->status_dirty = true;
}

bool session_usable(const struct zkd *d)
{
	return d->s.zh && (d->s.state == ZST_SYNCING ||
			   d->s.state == ZST_CONNECTED);
}

int session_setup(struct zkd *d)
{
	g_q = &d->q;
	d->s.state = ZST_STARTING;
	d->s.backoff_ms = ZKD_BACKOFF_MIN_MS;
	const char *slash = strchr(d->cfg.zookeeper, '/');
	if (slash) {
		size_t n = strlen(slash);
		while (n > 0 && slash[n - 1] == '/')
			n--;	/* "/" alone means no chroot */
		if (n >= sizeof d->s.chroot) {
			report_error(d, "chroot of the connect string is too long");
			return -ENAMETOOLONG;
		}
		memcpy(d->s.chroot, slash, n);
		d->s.chroot[n] = '\0';
	}
	if (d->cfg.auth_file[0]) {
		int rc = zkh_zk_read_auth(d->cfg.auth_file, d->s.auth_scheme,
					  sizeof d->s.auth_scheme,
					  d->s.auth_cred, sizeof d->s.auth_cred);
		if (rc) {
			report_error(d, "auth_file %s: %s", d->cfg.auth_file,
				     rc == -EPERM ? "readable or writable by group or others (must be mode 0600)" :
				     rc == -EINVAL ? "first line is not scheme:credentials" :
				     strerror(-rc));
			return rc;
		}
		d->s.have_auth = true;
	}
	return 0;
}

static void schedule_reconnect(struct zkd *d)
{
	unsigned b = d->s.backoff_ms;
	unsigned delay = b / 2 + (unsigned)(random() % (b / 2 + 1));
	d->s.reconnect_at = zkd_now_ms() + delay;
	d->s.backoff_ms = b * 2 > ZKD_BACKOFF_MAX_MS ? ZKD_BACKOFF_MAX_MS : b * 2;
	zkd_log(ZKH_LOG_INFO, "new ZooKeeper session in %u ms", delay);
}

void session_open(struct zkd *d)
{
	char resolved[4096], bad[256] = "";
	struct zkd_hctx *h = NULL;

	d->s.reconnect_at = 0;
	int rc = zkh_zk_resolve(d->cfg.zookeeper, resolved, sizeof resolved,
				bad, sizeof bad);
	if (rc) {
		if (rc == -EHOSTUNREACH)
			report_error(d, "cannot resolve ZooKeeper server '%s'", bad);
		else
			report_error(d, "bad ZooKeeper connect string: %s", strerror(-rc));
		zkd_log(ZKH_LOG_ERR, "%s", d->st.last_error);
		goto fail;
	}
	char *slash = strchr(resolved, '/');
	if (slash)
		*slash = '\0';	/* our paths carry the chroot themselves */
	h = calloc(1, sizeof *h);
	if (!h) {
		report_error(d, "out of memory opening a ZooKeeper session");
		goto fail;
	}
	h->q = &d->q;
	h->gen = ++d->s.gen;
	zhandle_t *zh = zookeeper_init(resolved, watcher, d->cfg.session_timeout,
				       NULL, h, 0);
	if (!zh) {
		report_error(d, "zookeeper_init(%s): %s", resolved, strerror(errno));
		zkd_log(ZKH_LOG_ERR, "%s", d->st.last_error);
		goto fail;
	}
	/* The connect string is numeric already: without this the client
	 * re-resolves it on every socket check (a netlink socket and a
	 * /dev/urandom read each time, measured at 10k per 10k-record sync). */
	zoo_set_servers_resolution_delay(zh, -1);
	d->s.zh = zh;
	d->s.hctx = h;
	if (d->s.have_auth) {
		struct zkd_event *e = req(d, EV_VOID, TAG_AUTH, NULL);
		if (e)
			session_submit_result(d, e, zoo_add_auth(zh, d->s.auth_scheme,
				d->s.auth_cred, (int)strlen(d->s.auth_cred), void_cb, e));
	}
	zkd_log(ZKH_LOG_INFO, "connecting to ZooKeeper %s%s%s (session timeout %d ms)",
		resolved, d->s.chroot[0] ? ", chroot " : "", d->s.chroot,
		d->cfg.session_timeout);
	session_set_state(d, ZST_CONNECTING);
	return;
fail:
	free(h);
	session_set_state(d, ZST_CONNECTING);
	schedule_reconnect(d);
}

void session_close(struct zkd *d)
{
	if (!d->s.zh)
		return;
	/* Events of the old handle (including the ZCLOSING completions that
	 * zookeeper_close delivers) must be ignored from now on. */
	d->s.gen++;
	zhandle_t *zh = d->s.zh;
	d->s.zh = NULL;
	int rc = zookeeper_close(zh);
	if (rc != ZOK)
		zkd_log(ZKH_LOG_DEBUG, "zookeeper_close: %s", zerror(rc));
	free(d->s.hctx);
	d->s.hctx = NULL;
	if (d->s.id.client_id) {
		memmove(&d->s.prev_ids[1], &d->s.prev_ids[0],
			sizeof d->s.prev_ids - sizeof d->s.prev_ids[0]);
		d->s.prev_ids[0] = (uint64_t)d->s.id.client_id;
	}
	memset(&d->s.id, 0, sizeof d->s.id);
	d->status_dirty = true;
}

static void on_connected(struct zkd *d)
{
	const clientid_t *id = zoo_client_id(d->s.zh);
	if (id && id->client_id == d->s.id.client_id && d->s.id.client_id) {
		zkd_log(ZKH_LOG_INFO, "reconnected, session 0x%" PRIx64 " still valid",
			(uint64_t)id->client_id);
		d->s.connected_at = zkd_now_ms();
		session_set_state(d, d->m.synced ? ZST_CONNECTED : ZST_SYNCING);
		mirror_on_reconnect(d);
		register_on_reconnect(d);
		return;
	}
	if (id)
		d->s.id = *id;
	d->s.connected_at = 0;
	d->s.flaps = 0;
	d->s.sessions++;
	d->s.backoff_ms = ZKD_BACKOFF_MIN_MS;
	zkd_log(ZKH_LOG_INFO, "session 0x%" PRIx64 " established (timeout %d ms)",
		(uint64_t)d->s.id.client_id, zoo_recv_timeout(d->s.zh));
	if (strncmp(d->st.last_error, "cannot resolve", 14) == 0 ||
	    strncmp(d->st.last_error, "ZooKeeper", 9) == 0)
		report_clear_error(d);
	session_set_state(d, ZST_SYNCING);
	register_save_session(d);
	mirror_start_full_sync(d);
	register_on_new_session(d);
}

void session_on_event(struct zkd *d, const struct zkd_event *e)
{
	int st = e->state;

	if (!d->s.zh)
		return;
	if (st == ZOO_CONNECTED_STATE) {
		on_connected(d);
	} else if (st == ZOO_CONNECTING_STATE || st == ZOO_ASSOCIATING_STATE) {
		if (d->s.connected_at && zkd_now_ms() - d->s.connected_at < ZKD_FLAP_MS)
			d->s.flaps++;
		else
			d->s.flaps = 0;
		d->s.connected_at = 0;
		if (d->s.flaps >= ZKD_FLAP_MAX) {
			/* Most likely the server refuses the client's SetWatches
			 * packet (too many watches, see zkcached.h): a new session
			 * has none to restore. */
			zkd_log(ZKH_LOG_WARN, "session 0x%" PRIx64 " loses every reconnect at once "
				"(%u times; more watches than the server accepts in one packet?); "
				"starting a new session", (uint64_t)d->s.id.client_id, d->s.flaps);
			report_error(d, "reconnect flapping: new session (too many watches?)");
			session_close(d);
			d->m.synced = false;
			session_set_state(d, ZST_EXPIRED);
			d->s.flaps = 0;
			d->s.reconnect_at = zkd_now_ms() + 1;
			return;
		}
		if (d->s.state == ZST_CONNECTED || d->s.state == ZST_SYNCING) {
			zkd_log(ZKH_LOG_WARN, "connection to ZooKeeper lost; "
				"session 0x%" PRIx64 " lives on for up to %d ms, serving the cache meanwhile",
				(uint64_t)d->s.id.client_id, d->cfg.session_timeout);
			session_set_state(d, ZST_DISCONNECTED);
		}
	} else if (st == ZOO_EXPIRED_SESSION_STATE) {
		zkd_log(ZKH_LOG_WARN, "ZooKeeper session 0x%" PRIx64 " expired; "
			"starting a new session", (uint64_t)d->s.id.client_id);
		report_error(d, "session 0x%" PRIx64 " expired", (uint64_t)d->s.id.client_id);
		session_close(d);
		d->m.synced = false;
		session_set_state(d, ZST_EXPIRED);
		schedule_reconnect(d);
	} else if (st == ZOO_AUTH_FAILED_STATE) {
		report_error(d, "ZooKeeper refused the credentials of auth_file %s",
			     d->cfg.auth_file);
		zkd_log(ZKH_LOG_ERR, "%s", d->st.last_error);
		session_close(d);
		d->m.synced = false;
		session_set_state(d, ZST_EXPIRED);
		schedule_reconnect(d);
	}
}

void session_tick(struct zkd *d, uint64_t now)
{
	if (!d->s.zh && d->s.reconnect_at && now >= d->s.reconnect_at)
		session_open(d);
}

uint64_t session_deadline(const struct zkd *d)
{
	return d->s.zh ? 0 : d->s.reconnect_at;
}

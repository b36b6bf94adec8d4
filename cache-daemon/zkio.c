/*
 * zkio.c - zkio over the ZooKeeper C client (contract: zkio.h): the only
 * file of zkcached that calls the ZooKeeper API. One static watcher serves
 * the handle and every watch; it and the completion callbacks run on the
 * client's completion thread, translate what they get into zkcached's own
 * vocabulary (evqueue.h), copy it and push it on the queue, nothing else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zkhosts/zkacl.h"
#include "zkio.h"

/* Context of one handle, given to the watcher. Freed only after
 * zookeeper_close of its handle returned. */
struct hctx {
	struct zkd_evq *q;
	uint64_t gen;
};

struct zkio {
	struct zkd_evq *q;
	zhandle_t *zh;
	struct hctx *h;
	uint64_t gen;		/* bumped by every open and close */
	struct zkh_acl acl;	/* of every node we create */
	struct ACL acl_buf[ZKH_ACL_MAX];	/* acl_vec's entries, into acl */
	struct ACL_vector acl_vec;
};

/* The completions find the queue here: one daemon per process. */
static struct zkd_evq *g_q;
/* Generations, unique across the process's handles (zkio.h). */
static uint64_t g_gen;

/* ---- translation ---------------------------------------------------- */

static int type_of(int t)
{
	if (t == ZOO_SESSION_EVENT) return ZKIO_SESSION_EVENT;
	if (t == ZOO_CREATED_EVENT) return ZKIO_CREATED_EVENT;
	if (t == ZOO_DELETED_EVENT) return ZKIO_DELETED_EVENT;
	if (t == ZOO_CHANGED_EVENT) return ZKIO_CHANGED_EVENT;
	if (t == ZOO_CHILD_EVENT) return ZKIO_CHILD_EVENT;
	if (t == ZOO_NOTWATCHING_EVENT) return ZKIO_NOTWATCHING_EVENT;
	return ZKIO_OTHER_EVENT;
}

static int state_of(int s)
{
	if (s == ZOO_CONNECTING_STATE) return ZKIO_CONNECTING;
	if (s == ZOO_ASSOCIATING_STATE) return ZKIO_ASSOCIATING;
	if (s == ZOO_CONNECTED_STATE) return ZKIO_CONNECTED;
	if (s == ZOO_EXPIRED_SESSION_STATE) return ZKIO_EXPIRED;
	if (s == ZOO_AUTH_FAILED_STATE) return ZKIO_AUTH_FAILED;
	return ZKIO_STATE_OTHER;
}

static void copy_stat(struct zkd_event *e, const struct Stat *st)
{
	e->stat.czxid = st->czxid;
	e->stat.mzxid = st->mzxid;
	e->stat.pzxid = st->pzxid;
	e->stat.ephemeral_owner = st->ephemeralOwner;
	e->stat.version = st->version;
	e->stat.num_children = st->numChildren;
	e->has_stat = true;
}

/* ---- callbacks (completion thread) -------------------------------------- */

static void watcher(zhandle_t *zh, int type, int state, const char *path,
		    void *ctx)
{
	struct hctx *h = ctx;
	struct zkd_event *e = zkd_ev_new(EV_WATCH, TAG_NONE, h->gen,
					 path && *path ? path : NULL);
	(void)zh;
	if (e) {
		e->type = type_of(type);
		e->state = state_of(state);
	}
	evq_push(h->q, e);
}

static void data_cb(int rc, const char *value, int value_len,
		    const struct Stat *stat, const void *data)
{
	struct zkd_event *e = (struct zkd_event *)data;

	e->rc = rc;
	if (rc == ZOK && stat)
		copy_stat(e, stat);
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
	if (rc == ZOK && stat)
		copy_stat(e, stat);
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
	if (rc == ZOK && stat)
		copy_stat(e, stat);
	evq_push(g_q, e);
}

/* A multi's results and the create op's path buffer are written by the
 * completion, so they live on the heap until it runs. */
struct multi_ctx {
	struct zkd_event *e;
	zoo_op_result_t res[2];
	char created[4096];
};

static void multi_cb(int rc, const void *data)
{
	struct multi_ctx *c = (struct multi_ctx *)data;
	struct zkd_event *e = c->e;

	free(c);
	e->rc = rc;
	evq_push(g_q, e);
}

/* ---- the handle (main loop) ------------------------------------------ */

struct zkio *zkio_new(struct zkd_evq *q)
{
	struct zkio *io = calloc(1, sizeof *io);

	if (io) {
		io->q = q;
		g_q = q;
		zkh_zk_acl_open(&io->acl);
		zkh_zk_acl_vector(&io->acl, io->acl_buf, &io->acl_vec);
	}
	return io;
}

void zkio_free(struct zkio *io)
{
	if (!io)
		return;
	zkio_close(io);
	free(io);
}

/* An event for a request; NULL (counted as lost) on ENOMEM. */
static struct zkd_event *req(struct zkio *io, enum zkd_ev_kind kind,
			     enum zkd_ev_tag tag, const char *path)
{
	struct zkd_event *e = zkd_ev_new(kind, tag, io->gen, path);

	if (!e)
		evq_push(io->q, NULL);	/* counted as lost: full resync */
	return e;
}

/* A request that was not sent: its error becomes its answer. */
static void submitted(struct zkio *io, struct zkd_event *e, int rc)
{
	if (rc != ZOK) {
		e->rc = rc;
		evq_push(io->q, e);
	}
}

int zkio_open(struct zkio *io, const char *connect, int timeout_ms,
	      const struct zkh_zk_auth *auth, char *desc, size_t desc_cap,
	      char *err, size_t err_cap)
{
	struct hctx *h;
	zhandle_t *zh;
	int rc;

	zkio_close(io);
	h = calloc(1, sizeof *h);
	if (!h) {
		snprintf(err, err_cap, "out of memory opening a ZooKeeper session");
		return -ENOMEM;
	}
	h->q = io->q;
	h->gen = io->gen = ++g_gen;
	rc = zkh_zk_handle_open(connect, timeout_ms, watcher, h,
				ZKH_ZK_STRIP_CHROOT, &zh, desc, desc_cap, err,
				err_cap);
	if (rc) {
		free(h);
		return rc;
	}
	io->zh = zh;
	io->h = h;
	if (auth) {
		struct zkd_event *e = req(io, EV_VOID, TAG_AUTH, NULL);

		if (e)
			submitted(io, e, zoo_add_auth(zh, auth->scheme, auth->cred,
						      (int)strlen(auth->cred), void_cb, e));
	}
	return 0;
}

void zkio_close(struct zkio *io)
{
	zhandle_t *zh = io->zh;

	if (!zh)
		return;
	io->gen = ++g_gen;	/* events of this handle are stale from now on */
	io->zh = NULL;
	zookeeper_close(zh);
	free(io->h);
	io->h = NULL;
}

bool zkio_is_open(const struct zkio *io)
{
	return io->zh != NULL;
}

bool zkio_current(const struct zkio *io, const struct zkd_event *e)
{
	return io->zh && e->gen == io->gen;
}

void zkio_session(const struct zkio *io, struct zkio_session_id *out)
{
	const clientid_t *id = io->zh ? zoo_client_id(io->zh) : NULL;

	memset(out, 0, sizeof *out);
	if (id) {
		out->id = (uint64_t)id->client_id;
		memcpy(out->passwd, id->passwd, sizeof out->passwd);
	}
}

int zkio_timeout(const struct zkio *io)
{
	return io->zh ? zoo_recv_timeout(io->zh) : 0;
}

void zkio_set_acl(struct zkio *io, const struct zkh_acl *acl)
{
	io->acl = *acl;
	zkh_zk_acl_vector(&io->acl, io->acl_buf, &io->acl_vec);
}

const char *zkio_strerror(int rc)
{
	return zerror(rc);
}

/* ---- requests (main loop) ------------------------------------------------ */

void zkio_get_data(struct zkio *io, const char *path)
{
	struct zkd_event *e = req(io, EV_DATA, TAG_NONE, path);

	if (e)
		submitted(io, e, io->zh ?
			  zoo_aget(io->zh, path, 1, data_cb, e) : ZINVALIDSTATE);
}

void zkio_list(struct zkio *io, const char *path)
{
	struct zkd_event *e = req(io, EV_CHILDREN, TAG_NONE, path);

	if (e)
		submitted(io, e, io->zh ?
			  zoo_aget_children2(io->zh, path, 1, children_cb, e) :
			  ZINVALIDSTATE);
}

static int zoo_mode(enum zkio_mode mode)
{
	return mode == ZKIO_EPHEMERAL ? ZOO_EPHEMERAL : ZOO_PERSISTENT;
}

void zkio_create(struct zkio *io, const char *path, const char *data,
		 enum zkio_mode mode, enum zkd_ev_tag tag)
{
	struct zkd_event *e = req(io, EV_VOID, tag, path);

	if (e)
		submitted(io, e, io->zh ?
			  zoo_acreate(io->zh, path, data, (int)strlen(data),
				      &io->acl_vec, zoo_mode(mode),
				      string_cb, e) : ZINVALIDSTATE);
}

void zkio_exists(struct zkio *io, const char *path, enum zkd_ev_tag tag)
{
	struct zkd_event *e = req(io, EV_EXISTS, tag, path);

	if (e)
		submitted(io, e, io->zh ?
			  zoo_aexists(io->zh, path, 1, stat_cb, e) : ZINVALIDSTATE);
}

void zkio_replace(struct zkio *io, const char *path, int version,
		  const char *data, enum zkio_mode mode, enum zkd_ev_tag tag)
{
	struct zkd_event *e = req(io, EV_VOID, tag, path);
	struct multi_ctx *c;
	zoo_op_t ops[2];
	int rc;

	if (!e)
		return;
	if (!io->zh) {
		submitted(io, e, ZINVALIDSTATE);
		return;
	}
	c = calloc(1, sizeof *c);
	if (!c) {
		zkd_ev_free(e);
		evq_push(io->q, NULL);	/* counted as lost: full resync */
		return;
	}
	c->e = e;
	zoo_delete_op_init(&ops[0], path, version);
	zoo_create_op_init(&ops[1], path, data, (int)strlen(data),
			   &io->acl_vec, zoo_mode(mode), c->created,
			   sizeof c->created);
	rc = zoo_amulti(io->zh, 2, ops, c->res, multi_cb, c);
	if (rc != ZOK) {
		free(c);	/* no completion will run */
		submitted(io, e, rc);
	}
}

/* ---- fleet index requests (main loop) ------------------------------------ */

void zkio_read(struct zkio *io, const char *path, bool watch,
	       enum zkd_ev_tag tag)
{
	struct zkd_event *e = req(io, EV_DATA, tag, path);

	if (e)
		submitted(io, e, io->zh ?
			  zoo_aget(io->zh, path, watch, data_cb, e) : ZINVALIDSTATE);
}

void zkio_stat(struct zkio *io, const char *path, bool watch,
	       enum zkd_ev_tag tag)
{
	struct zkd_event *e = req(io, EV_EXISTS, tag, path);

	if (e)
		submitted(io, e, io->zh ?
			  zoo_aexists(io->zh, path, watch, stat_cb, e) : ZINVALIDSTATE);
}

void zkio_delete(struct zkio *io, const char *path, int version,
		 enum zkd_ev_tag tag)
{
	struct zkd_event *e = req(io, EV_VOID, tag, path);

	if (e)
		submitted(io, e, io->zh ?
			  zoo_adelete(io->zh, path, version, void_cb, e) : ZINVALIDSTATE);
}

/* A multi's operations own copies of paths and data until it completes. */
struct bigmulti_ctx {
	struct zkd_event *e;
	size_t n;
	zoo_op_t ops[ZKIO_MULTI_MAX];
	zoo_op_result_t res[ZKIO_MULTI_MAX];
	struct Stat stats[ZKIO_MULTI_MAX];
	char *paths[ZKIO_MULTI_MAX], *datas[ZKIO_MULTI_MAX];
	char created[ZKIO_MULTI_MAX][512];
};

static void bigmulti_free(struct bigmulti_ctx *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->paths[i]);
		free(c->datas[i]);
	}
	free(c);
}

static void bigmulti_cb(int rc, const void *data)
{
	struct bigmulti_ctx *c = (struct bigmulti_ctx *)data;
	struct zkd_event *e = c->e;

	bigmulti_free(c);
	e->rc = rc;
	evq_push(g_q, e);
}

void zkio_multi(struct zkio *io, const struct zkio_op *ops, size_t n,
		enum zkd_ev_tag tag)
{
	struct zkd_event *e = req(io, EV_VOID, tag, n ? ops[0].path : NULL);
	struct bigmulti_ctx *c;
	int rc;

	if (!e)
		return;
	if (!io->zh || n == 0 || n > ZKIO_MULTI_MAX) {
		submitted(io, e, io->zh ? ZBADARGUMENTS : ZINVALIDSTATE);
		return;
	}
	c = calloc(1, sizeof *c);
	if (!c)
		goto oom;
	c->e = e;
	for (size_t i = 0; i < n; i++) {
		c->paths[i] = strdup(ops[i].path);
		c->datas[i] = malloc(ops[i].len ? ops[i].len : 1);
		c->n = i + 1;
		if (!c->paths[i] || !c->datas[i])
			goto oom;
		memcpy(c->datas[i], ops[i].data, ops[i].len);
		if (ops[i].kind == ZKIO_OP_CREATE)
			zoo_create_op_init(&c->ops[i], c->paths[i], c->datas[i],
					   (int)ops[i].len,
					   &io->acl_vec,
					   ZOO_PERSISTENT, c->created[i],
					   sizeof c->created[i]);
		else
			zoo_set_op_init(&c->ops[i], c->paths[i], c->datas[i],
					(int)ops[i].len, ops[i].version, &c->stats[i]);
	}
	rc = zoo_amulti(io->zh, (int)n, c->ops, c->res, bigmulti_cb, c);
	if (rc != ZOK) {
		bigmulti_free(c);	/* no completion will run */
		submitted(io, e, rc);
	}
	return;
oom:
	if (c)
		bigmulti_free(c);
	zkd_ev_free(e);
	evq_push(io->q, NULL);	/* counted as lost: full resync */
}

/* ---- the mirror's watch sessions (main loop) ------------------------------ */

void zkio_sync(struct zkio *io, const char *path, enum zkd_ev_tag tag)
{
	struct zkd_event *e = req(io, EV_VOID, tag, path);

	if (e)
		submitted(io, e, io->zh ?
			  zoo_async(io->zh, path, string_cb, e) : ZINVALIDSTATE);
}

void zkio_unwatch(struct zkio *io, const char *path, enum zkd_ev_tag tag)
{
	struct zkd_event *e = req(io, EV_VOID, tag, path);

	/* The 3.8 header declares the completion as a pointer to a
	 * void_completion_t, but the library stores and calls the value as
	 * the completion itself: pass the function. Not `local`: the mt
	 * library then takes `data` for a synchronous call's completion. The
	 * server removes the watch; so does the client, once it answers. */
	if (e)
		submitted(io, e, io->zh ?
			  zoo_aremove_all_watches(io->zh, path, ZWATCHTYPE_DATA, 0,
						  (void_completion_t *)void_cb, e) :
			  ZINVALIDSTATE);
}

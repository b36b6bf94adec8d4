/*
 * fakezk.c - the ZooKeeper model behind zkio.h for unit tests (contract:
 * fakezk.h). Nodes live in a list (tests hold tens of them); every
 * transaction takes the next zxid. Each of the daemon's handles is one
 * client (the first one made is the main handle; later ones are the
 * mirror's watch sessions): their requests queue up in one queue and are
 * answered in order by fakezk_step; watch events are pushed to the handle
 * that set the watch when a change happens, so they precede the replies
 * to requests answered after it, as ZooKeeper delivers them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakezk.h"
#include "log.h"
#include "zkhosts/zkacl.h"

#define FZ_CONNECT 64		/* internal: the handle's connect step */
#define FZ_MAX_WATCH_PATH 1024

struct fz_node {
	struct fz_node *next;
	char *path, *data;
	struct zkio_stat st;
	int64_t pzxid;
	bool protect;
	char acl[ZKH_ACL_TEXT_MAX];	/* as created (zkh_zk_acl_format) */
};

struct fz_session {
	struct fz_session *next;
	int64_t id;
	bool authed;
};

enum wkind { W_DATA, W_EXIST, W_CHILD };

struct fz_watch {
	struct fz_watch *next;
	struct zkio *owner;	/* the handle that set it */
	enum wkind kind;
	char *path;
};

struct fz_mop {		/* one operation of a generic multi */
	enum zkio_op_kind kind;
	char *path, *data;
	int version;
};

struct fz_req {
	struct fz_req *next;
	struct zkio *io;	/* the handle that sent it */
	unsigned op;
	char *path, *data;
	int version;
	enum zkio_mode mode;
	bool nowatch;		/* read/exists without a watch */
	struct fz_mop *mops;	/* generic multi (zkio_multi), else NULL */
	size_t nmops;
	struct zkd_event *e;	/* the answer to fill */
};

struct fz_fail {
	unsigned ops;
	char prefix[FZ_MAX_WATCH_PATH];
	int rc, count;
};

/* One of the daemon's handles (zkio). */
struct zkio {
	struct zkio *hnext;	/* every handle, in creation order */
	struct zkd_evq *q;
	uint64_t gen;
	bool open;		/* zkio_open called, not closed */
	bool dead;		/* session expired / auth failed */
	bool connected;
	int64_t session;	/* 0 until connected */
	int64_t last_seen;	/* zxid when its connection was lost */
	struct zkh_zk_auth auth;
	bool have_auth;
	char acl[ZKH_ACL_TEXT_MAX];	/* of the nodes it creates */
};

static struct {
	struct fz_node *nodes;
	struct fz_session *sessions;
	struct fz_watch *watches;
	struct fz_req *head, *tail;
	struct fz_fail fails[8];
	int64_t zxid, next_session;
	bool down, unresolvable;
	char scheme[64], cred[256];
	struct zkio *io;	/* the main handle: the first one made */
	struct zkio *handles;	/* every handle */
	struct { unsigned op; char *path; struct zkio *io; } *log;
	size_t nlog, caplog;
} fz;

/* ---- helpers -------------------------------------------------------------- */

static char *xstrdup(const char *s)
{
	char *p = strdup(s ? s : "");
	if (!p)
		abort();
	return p;
}

static struct fz_node *find(const char *path)
{
	for (struct fz_node *n = fz.nodes; n; n = n->next)
		if (strcmp(n->path, path) == 0)
			return n;
	return NULL;
}

/* Parent path of `path` into out ("/" for top-level nodes). */
static void parent_of(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash && slash != path ? (size_t)(slash - path) : 1;

	if (n >= cap)
		n = cap - 1;
	memcpy(out, path, n);
	out[n] = '\0';
}

static bool is_child(const char *parent, const char *path)
{
	size_t pl = strcmp(parent, "/") == 0 ? 0 : strlen(parent);

	return strncmp(path, parent, pl) == 0 && path[pl] == '/' && path[pl + 1] &&
	       !strchr(path + pl + 1, '/');
}

static struct fz_session *session(int64_t id)
{
	for (struct fz_session *s = fz.sessions; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

/* Generations, unique across handles (zkio.h). */
static uint64_t g_gen;

static void log_req(struct zkio *io, unsigned op, const char *path)
{
	if (fz.nlog == fz.caplog) {
		fz.caplog = fz.caplog ? fz.caplog * 2 : 64;
		fz.log = realloc(fz.log, fz.caplog * sizeof *fz.log);
		if (!fz.log)
			abort();
	}
	fz.log[fz.nlog].op = op;
	fz.log[fz.nlog].path = xstrdup(path);
	fz.log[fz.nlog].io = io;
	fz.nlog++;
}

/* ---- watches ------------------------------------------------------------- */

static void push_event(struct zkio *io, int type, int state, const char *path)
{
	struct zkd_event *e;

	if (!io || !io->open)
		return;
	e = zkd_ev_new(EV_WATCH, TAG_NONE, io->gen, path);
	if (!e)
		abort();
	e->type = type;
	e->state = state;
	evq_push(io->q, e);
}

static void add_watch(struct zkio *io, enum wkind kind, const char *path)
{
	struct fz_watch *w;

	for (w = fz.watches; w; w = w->next)
		if (w->owner == io && w->kind == kind && strcmp(w->path, path) == 0)
			return;		/* one watch per handle, path and kind */
	w = calloc(1, sizeof *w);
	if (!w)
		abort();
	w->owner = io;
	w->kind = kind;
	w->path = xstrdup(path);
	w->next = fz.watches;
	fz.watches = w;
}

/*
 * Fire (and remove) the watches of `kinds` (bit mask of 1 << wkind) on
 * path, as `type`. Only a connected client hears them now; a disconnected
 * one keeps them (re-armed and checked on reconnect). `prot`: the node is
 * protected; as ZooKeeper does since the fix of CVE-2024-23944 (3.8.4,
 * 3.9.2, Debian's 3.8.0-11+deb12u2), a client without read permission
 * does not hear the event (its watch is used up all the same).
 */
static void fire_one(struct zkio *io, unsigned kinds, const char *path_in,
		     int type, bool prot)
{
	struct fz_watch **pp = &fz.watches;
	char path[FZ_MAX_WATCH_PATH];	/* path_in may be a watch's own */
	struct fz_session *s;
	bool hit = false;

	if (!io || !io->connected)
		return;
	snprintf(path, sizeof path, "%s", path_in);
	for (struct fz_watch *w = fz.watches; w; w = w->next)
		if (w->owner == io && (kinds & (1u << w->kind)) &&
		    strcmp(w->path, path) == 0)
			hit = true;
	if (!hit)
		return;
	s = session(io->session);
	if (!prot || (s && s->authed))
		push_event(io, type, ZKIO_CONNECTED, path);
	while (*pp) {
		struct fz_watch *w = *pp;

		if (w->owner == io && (kinds & (1u << w->kind)) &&
		    strcmp(w->path, path) == 0) {
			*pp = w->next;
			free(w->path);
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

/* Remove io's watch of `kind` on path, if any. */
static void remove_watch(struct zkio *io, enum wkind kind, const char *path)
{
	struct fz_watch **pp = &fz.watches;

	while (*pp) {
		struct fz_watch *w = *pp;

		if (w->owner == io && w->kind == kind && strcmp(w->path, path) == 0) {
			*pp = w->next;
			free(w->path);
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

/* fire_one for every connected handle (each hears its own watches). */
static void fire(unsigned kinds, const char *path, int type, bool prot)
{
	for (struct zkio *io = fz.handles; io; io = io->hnext)
		fire_one(io, kinds, path, type, prot);
}

/* Drop the watches of `io` (NULL: of every handle). */
static void drop_watches(struct zkio *io)
{
	struct fz_watch **pp = &fz.watches;

	while (*pp) {
		struct fz_watch *w = *pp;

		if (!io || w->owner == io) {
			*pp = w->next;
			free(w->path);
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

/* ---- the tree ------------------------------------------------------------ */

#define OPEN_ACL_TEXT "world:anyone:cdrwa"

/* The ACL the daemon's handle creates nodes with, as text. */
static const char *daemon_acl(void)
{
	return fz.io && fz.io->acl[0] ? fz.io->acl : OPEN_ACL_TEXT;
}

static int do_create(const char *path, const char *data, int64_t owner,
		     int64_t zxid, const char *acl)
{
	char parent[FZ_MAX_WATCH_PATH];
	struct fz_node *p, *n;

	if (path[0] != '/' || (path[1] == '\0'))
		return ZBADARGUMENTS;
	if (find(path))
		return ZNODEEXISTS;
	parent_of(path, parent, sizeof parent);
	p = find(parent);
	if (!p)
		return ZNONODE;
	if (p->st.ephemeral_owner)
		return ZNOCHILDRENFOREPHEMERALS;
	n = calloc(1, sizeof *n);
	if (!n)
		abort();
	n->path = xstrdup(path);
	n->data = xstrdup(data);
	snprintf(n->acl, sizeof n->acl, "%s", acl);
	n->st.czxid = n->st.mzxid = n->pzxid = zxid;
	n->st.ephemeral_owner = owner;
	n->next = fz.nodes;
	fz.nodes = n;
	p->pzxid = zxid;
	fire(1u << W_EXIST | 1u << W_DATA, path, ZKIO_CREATED_EVENT, false);
	fire(1u << W_CHILD, parent, ZKIO_CHILD_EVENT, p->protect);
	return ZOK;
}

static int do_delete(const char *path, int version, int64_t zxid)
{
	char parent[FZ_MAX_WATCH_PATH];
	struct fz_node **pp = &fz.nodes, *n;

	while (*pp && strcmp((*pp)->path, path) != 0)
		pp = &(*pp)->next;
	n = *pp;
	if (!n)
		return ZNONODE;
	if (version >= 0 && version != n->st.version)
		return ZBADVERSION;
	for (struct fz_node *c = fz.nodes; c; c = c->next)
		if (is_child(path, c->path))
			return ZNOTEMPTY;
	*pp = n->next;
	parent_of(path, parent, sizeof parent);
	if (find(parent))
		find(parent)->pzxid = zxid;
	/* `path` may be n's own: fire before freeing it */
	fire(1u << W_DATA | 1u << W_EXIST | 1u << W_CHILD, path, ZKIO_DELETED_EVENT,
	     n->protect);
	fire(1u << W_CHILD, parent, ZKIO_CHILD_EVENT,
	     find(parent) && find(parent)->protect);
	free(n->path);
	free(n->data);
	free(n);
	return ZOK;
}

static void end_session(int64_t id)
{
	struct fz_session **pp = &fz.sessions;

	for (bool again = true; again; ) {
		again = false;
		for (struct fz_node *n = fz.nodes; n; n = n->next)
			if (n->st.ephemeral_owner == id) {
				do_delete(n->path, -1, ++fz.zxid);
				again = true;
				break;
			}
	}
	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	if (*pp) {
		struct fz_session *s = *pp;

		*pp = s->next;
		free(s);
	}
}

static bool refused(const struct fz_node *n, int64_t sid)
{
	struct fz_session *s = session(sid);

	return n && n->protect && !(s && s->authed);
}

/* ---- the daemon's requests, answered --------------------------------------- */

static void names_of(struct zkd_event *e, const char *path)
{
	size_t n = 0;

	for (struct fz_node *c = fz.nodes; c; c = c->next)
		if (is_child(path, c->path))
			n++;
	e->names = calloc(n ? n : 1, sizeof *e->names);
	if (!e->names)
		abort();
	for (struct fz_node *c = fz.nodes; c; c = c->next)
		if (is_child(path, c->path))
			e->names[e->nnames++] = xstrdup(strrchr(c->path, '/') + 1);
}

static void fill_stat(struct zkd_event *e, const struct fz_node *n)
{
	e->stat = n->st;
	e->stat.pzxid = n->pzxid;
	e->stat.num_children = 0;
	for (struct fz_node *c = fz.nodes; c; c = c->next)
		if (is_child(n->path, c->path))
			e->stat.num_children++;
	e->has_stat = true;
}

/* Set a node's data as one transaction's part (zxid given). */
static void do_set(struct fz_node *n, const char *data, int64_t zxid)
{
	free(n->data);
	n->data = xstrdup(data);
	n->st.mzxid = zxid;
	n->st.version++;
	fire(1u << W_DATA, n->path, ZKIO_CHANGED_EVENT, n->protect);
}

/* A generic multi: every operation checked against the tree as the
 * earlier ones of the same multi leave it, then all applied with one
 * zxid, or none. Returns the first failing operation's code. */
static int generic_multi(struct fz_req *r, int64_t sid)
{
	char parent[FZ_MAX_WATCH_PATH];
	int64_t zxid;

	for (size_t i = 0; i < r->nmops; i++) {
		struct fz_mop *m = &r->mops[i];
		struct fz_node *n = find(m->path);
		bool made_here = false;

		for (size_t j = 0; j < i; j++)
			if (r->mops[j].kind == ZKIO_OP_CREATE &&
			    strcmp(r->mops[j].path, m->path) == 0)
				made_here = true;
		if (m->kind == ZKIO_OP_SET) {
			if (!n && !made_here)
				return ZNONODE;
			if (n && m->version >= 0 && n->st.version != m->version)
				return ZBADVERSION;
			if (refused(n, sid))
				return ZNOAUTH;
		} else {
			if (n || made_here)
				return ZNODEEXISTS;
			parent_of(m->path, parent, sizeof parent);
			if (!find(parent)) {
				bool parent_here = false;

				for (size_t j = 0; j < i; j++)
					if (r->mops[j].kind == ZKIO_OP_CREATE &&
					    strcmp(r->mops[j].path, parent) == 0)
						parent_here = true;
				if (!parent_here)
					return ZNONODE;
			}
			if (refused(find(parent), sid))
				return ZNOAUTH;
		}
	}
	zxid = ++fz.zxid;
	for (size_t i = 0; i < r->nmops; i++) {
		struct fz_mop *m = &r->mops[i];

		if (m->kind == ZKIO_OP_CREATE)
			do_create(m->path, m->data, 0, zxid, daemon_acl());
		else
			do_set(find(m->path), m->data, zxid);
	}
	return ZOK;
}

static int scripted_failure(unsigned op, const char *path)
{
	for (size_t i = 0; i < sizeof fz.fails / sizeof fz.fails[0]; i++) {
		struct fz_fail *f = &fz.fails[i];

		if (f->count > 0 && (f->ops & op) &&
		    strncmp(path ? path : "", f->prefix, strlen(f->prefix)) == 0) {
			f->count--;
			return f->rc;
		}
	}
	return ZOK;
}

static void answer(struct fz_req *r)
{
	struct zkio *io = r->io;
	struct zkd_event *e = r->e;
	int64_t sid = io->session;
	struct fz_node *n;
	int rc;

	if (r->op == FZ_CONNECT) {
		struct fz_session *s = calloc(1, sizeof *s);

		if (!s)
			abort();
		s->id = ++fz.next_session;
		s->next = fz.sessions;
		fz.sessions = s;
		io->session = s->id;
		io->connected = true;
		push_event(io, ZKIO_SESSION_EVENT, ZKIO_CONNECTED, NULL);
		return;
	}
	rc = scripted_failure(r->op, r->path);
	if (rc != ZOK) {
		e->rc = rc;
		evq_push(io->q, e);
		return;
	}
	n = r->path ? find(r->path) : NULL;
	switch (r->op) {
	case FZ_AUTH:
		if (strcmp(io->auth.scheme, fz.scheme) == 0 &&
		    strcmp(io->auth.cred, fz.cred) == 0) {
			session(sid)->authed = true;
			e->rc = ZOK;
			break;
		}
		/* ZooKeeper: the completion gets ZAUTHFAILED, the watcher
		 * AUTH_FAILED, and the session is over. */
		e->rc = ZAUTHFAILED;
		evq_push(io->q, e);
		io->dead = true;
		io->connected = false;
		end_session(sid);
		push_event(io, ZKIO_SESSION_EVENT, ZKIO_AUTH_FAILED, NULL);
		return;
	case FZ_GET:
		if (!n) {
			e->rc = ZNONODE;
		} else if (refused(n, sid)) {
			e->rc = ZNOAUTH;
		} else {
			e->rc = ZOK;
			fill_stat(e, n);
			if (n->data[0]) {
				e->data = xstrdup(n->data);
				e->data_len = (int)strlen(n->data);
			}
			if (!r->nowatch)
				add_watch(io, W_DATA, r->path);
		}
		break;
	case FZ_LIST:
		if (!n) {
			e->rc = ZNONODE;
		} else if (refused(n, sid)) {
			e->rc = ZNOAUTH;
		} else {
			e->rc = ZOK;
			fill_stat(e, n);
			names_of(e, r->path);
			add_watch(io, W_CHILD, r->path);
		}
		break;
	case FZ_EXISTS:
		e->rc = n ? ZOK : ZNONODE;
		if (n)
			fill_stat(e, n);
		if (!r->nowatch)
			add_watch(io, n ? W_DATA : W_EXIST, r->path);
		break;
	case FZ_SYNC:
		e->rc = ZOK;	/* one server: always in step with itself */
		break;
	case FZ_UNWATCH:
		e->rc = ZNOWATCHER;
		for (struct fz_watch *w = fz.watches; w; w = w->next)
			if (w->owner == io && w->kind == W_DATA &&
			    strcmp(w->path, r->path) == 0)
				e->rc = ZOK;
		if (e->rc == ZOK)
			remove_watch(io, W_DATA, r->path);
		break;
	case FZ_DELETE: {
		char parent[FZ_MAX_WATCH_PATH];

		parent_of(r->path, parent, sizeof parent);
		if (refused(find(parent), sid)) {
			e->rc = ZNOAUTH;
			break;
		}
		e->rc = do_delete(r->path, r->version, fz.zxid + 1);
		if (e->rc == ZOK)
			fz.zxid++;
		break;
	}
	case FZ_CREATE: {
		char parent[FZ_MAX_WATCH_PATH];

		parent_of(r->path, parent, sizeof parent);
		if (refused(find(parent), sid)) {
			e->rc = ZNOAUTH;
			break;
		}
		e->rc = do_create(r->path, r->data, r->mode == ZKIO_EPHEMERAL ? sid : 0,
				  fz.zxid + 1, daemon_acl());
		if (e->rc == ZOK)
			fz.zxid++;
		break;
	}
	case FZ_MULTI:
		if (r->mops) {
			e->rc = generic_multi(r, sid);
			break;
		}
		/* delete(version) + create, one transaction: check first */
		if (!n) {
			e->rc = ZNONODE;
		} else if (n->st.version != r->version) {
			e->rc = ZBADVERSION;
		} else if (refused(n, sid)) {
			e->rc = ZNOAUTH;
		} else {
			int64_t zxid = ++fz.zxid;

			do_delete(r->path, r->version, zxid);
			e->rc = do_create(r->path, r->data,
					  r->mode == ZKIO_EPHEMERAL ? sid : 0, zxid,
					  daemon_acl());
		}
		break;
	}
	evq_push(io->q, e);
}

/* Take the oldest request of `io` (NULL: of any handle). */
static struct fz_req *pop_of(struct zkio *io)
{
	struct fz_req **pp = &fz.head, *prev = NULL;

	while (*pp && io && (*pp)->io != io) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	struct fz_req *r = *pp;
	if (r) {
		*pp = r->next;
		if (fz.tail == r)
			fz.tail = prev;
	}
	return r;
}

static struct fz_req *pop(void)
{
	return pop_of(NULL);
}

static void free_req(struct fz_req *r)
{
	for (size_t i = 0; i < r->nmops; i++) {
		free(r->mops[i].path);
		free(r->mops[i].data);
	}
	free(r->mops);
	free(r->path);
	free(r->data);
	free(r);
}

/* Fail every queued request of io with rc (connect steps are dropped). */
static void fail_pending(struct zkio *io, int rc)
{
	struct fz_req *r;

	while ((r = pop_of(io))) {
		if (r->e) {
			r->e->rc = rc;
			evq_push(io->q, r->e);
		}
		free_req(r);
	}
}

bool fakezk_step(void)
{
	struct fz_req *r;

	if (fz.down) {
		if (!fz.io || !fz.io->open)
			return false;
		/* as the real client logs each refused connection */
		zkd_log_zk_line(ZKH_LOG_ERR, "fakezk@1: Socket [127.0.0.1:2181] "
				"errno=111(Connection refused): server refused to "
				"accept the client");
		return false;
	}
	r = pop();
	if (!r)
		return false;
	if (!r->io->open) {	/* cannot happen: a close fails its requests */
		free_req(r);
		return true;
	}
	answer(r);
	free_req(r);
	return true;
}

int fakezk_run(void)
{
	int n = 0;

	while (fakezk_step())
		n++;
	return n;
}

size_t fakezk_pending(void)
{
	size_t n = 0;

	for (struct fz_req *r = fz.head; r; r = r->next)
		n++;
	return n;
}

/* ---- zkio.h over the model -------------------------------------------------- */

static struct fz_req *enqueue(struct zkio *io, unsigned op, enum zkd_ev_kind kind,
			      enum zkd_ev_tag tag, const char *path,
			      const char *data, int version, enum zkio_mode mode)
{
	struct zkd_event *e = zkd_ev_new(kind, tag, io->gen, path);
	struct fz_req *r;

	if (!e)
		abort();
	log_req(io, op, path);
	if (!io->open || io->dead) {
		e->rc = ZINVALIDSTATE;	/* the client refuses at once */
		evq_push(io->q, e);
		return NULL;
	}
	if (!io->connected && io->session) {
		e->rc = ZCONNECTIONLOSS;	/* sent into a lost connection */
		evq_push(io->q, e);
		return NULL;
	}
	r = calloc(1, sizeof *r);
	if (!r)
		abort();
	r->io = io;
	r->op = op;
	r->path = path ? xstrdup(path) : NULL;
	r->data = data ? xstrdup(data) : NULL;
	r->version = version;
	r->mode = mode;
	r->e = e;
	if (fz.tail)
		fz.tail->next = r;
	else
		fz.head = r;
	fz.tail = r;
	return r;
}

struct zkio *zkio_new(struct zkd_evq *q)
{
	struct zkio *io = calloc(1, sizeof *io);

	if (io) {
		struct zkio **pp = &fz.handles;

		io->q = q;
		while (*pp)
			pp = &(*pp)->hnext;
		*pp = io;
		if (!fz.io)
			fz.io = io;
	}
	return io;
}

void zkio_free(struct zkio *io)
{
	struct zkio **pp = &fz.handles;

	if (!io)
		return;
	zkio_close(io);
	while (*pp && *pp != io)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = io->hnext;
	if (fz.io == io)
		fz.io = NULL;
	free(io);
}

int zkio_open(struct zkio *io, const char *connect, int timeout_ms,
	      const struct zkh_zk_auth *auth, char *desc, size_t desc_cap,
	      char *err, size_t err_cap)
{
	struct fz_req *r;

	(void)timeout_ms;
	zkio_close(io);
	if (fz.unresolvable) {
		snprintf(err, err_cap, "cannot resolve ZooKeeper server '%s'", connect);
		return -EHOSTUNREACH;
	}
	io->gen = ++g_gen;
	io->open = true;
	io->dead = false;
	io->connected = false;
	io->session = 0;
	io->have_auth = auth != NULL;
	if (auth)
		io->auth = *auth;
	snprintf(desc, desc_cap, "fakezk");
	r = calloc(1, sizeof *r);
	if (!r)
		abort();
	r->op = FZ_CONNECT;
	r->io = io;
	if (fz.tail)
		fz.tail->next = r;
	else
		fz.head = r;
	fz.tail = r;
	if (auth)
		enqueue(io, FZ_AUTH, EV_VOID, TAG_AUTH, NULL, NULL, -1, ZKIO_PERSISTENT);
	return 0;
}

void zkio_close(struct zkio *io)
{
	if (!io->open)
		return;
	/* the client completes what is queued with ZCLOSING (stale now) */
	fail_pending(io, ZCLOSING);
	io->gen = ++g_gen;
	io->open = false;
	io->connected = false;
	drop_watches(io);
	if (io->session && !io->dead)
		end_session(io->session);	/* a closed session ends */
	io->session = 0;
	zkh_zk_auth_wipe(&io->auth);
}

bool zkio_is_open(const struct zkio *io)
{
	return io->open;
}

bool zkio_current(const struct zkio *io, const struct zkd_event *e)
{
	return io->open && e->gen == io->gen;
}

void zkio_session(const struct zkio *io, struct zkio_session_id *out)
{
	memset(out, 0, sizeof *out);
	out->id = (uint64_t)io->session;
	memset(out->passwd, 0x5a, sizeof out->passwd);
}

int zkio_timeout(const struct zkio *io)
{
	return io->session ? 4000 : 0;
}

void zkio_set_acl(struct zkio *io, const struct zkh_acl *acl)
{
	zkh_zk_acl_format(acl, io->acl, sizeof io->acl);
}

const char *zkio_strerror(int rc)
{
	switch (rc) {
	case ZOK: return "ok";
	case ZNONODE: return "no node";
	case ZNOAUTH: return "not authenticated";
	case ZAUTHFAILED: return "auth failed";
	case ZNODEEXISTS: return "node exists";
	case ZBADVERSION: return "bad version";
	case ZCONNECTIONLOSS: return "connection loss";
	case ZSESSIONEXPIRED: return "session expired";
	case ZINVALIDSTATE: return "invalid zhandle state";
	case ZOPERATIONTIMEOUT: return "operation timeout";
	case ZCLOSING: return "zookeeper is closing";
	}
	return "other error";
}

void zkio_get_data(struct zkio *io, const char *path)
{
	enqueue(io, FZ_GET, EV_DATA, TAG_NONE, path, NULL, -1, ZKIO_PERSISTENT);
}

void zkio_list(struct zkio *io, const char *path)
{
	enqueue(io, FZ_LIST, EV_CHILDREN, TAG_NONE, path, NULL, -1, ZKIO_PERSISTENT);
}

void zkio_create(struct zkio *io, const char *path, const char *data,
		 enum zkio_mode mode, enum zkd_ev_tag tag)
{
	enqueue(io, FZ_CREATE, EV_VOID, tag, path, data, -1, mode);
}

void zkio_exists(struct zkio *io, const char *path, enum zkd_ev_tag tag)
{
	enqueue(io, FZ_EXISTS, EV_EXISTS, tag, path, NULL, -1, ZKIO_PERSISTENT);
}

void zkio_replace(struct zkio *io, const char *path, int version,
		  const char *data, enum zkio_mode mode, enum zkd_ev_tag tag)
{
	enqueue(io, FZ_MULTI, EV_VOID, tag, path, data, version, mode);
}

void zkio_read(struct zkio *io, const char *path, bool watch,
	       enum zkd_ev_tag tag)
{
	struct fz_req *r = enqueue(io, FZ_GET, EV_DATA, tag, path, NULL, -1,
				   ZKIO_PERSISTENT);

	if (r)
		r->nowatch = !watch;
}

void zkio_stat(struct zkio *io, const char *path, bool watch,
	       enum zkd_ev_tag tag)
{
	struct fz_req *r = enqueue(io, FZ_EXISTS, EV_EXISTS, tag, path, NULL, -1,
				   ZKIO_PERSISTENT);

	if (r)
		r->nowatch = !watch;
}

void zkio_delete(struct zkio *io, const char *path, int version,
		 enum zkd_ev_tag tag)
{
	enqueue(io, FZ_DELETE, EV_VOID, tag, path, NULL, version, ZKIO_PERSISTENT);
}

void zkio_multi(struct zkio *io, const struct zkio_op *ops, size_t n,
		enum zkd_ev_tag tag)
{
	struct fz_req *r;

	for (size_t i = 1; i < n; i++)
		log_req(io, FZ_MULTI, ops[i].path);	/* every path, for counts */
	r = enqueue(io, FZ_MULTI, EV_VOID, tag, n ? ops[0].path : "/", NULL, -1,
		    ZKIO_PERSISTENT);
	if (!r)
		return;
	r->mops = calloc(n ? n : 1, sizeof *r->mops);
	if (!r->mops)
		abort();
	for (size_t i = 0; i < n; i++) {
		char *d = malloc(ops[i].len + 1);

		if (!d)
			abort();
		memcpy(d, ops[i].data, ops[i].len);
		d[ops[i].len] = '\0';
		r->mops[i].kind = ops[i].kind;
		r->mops[i].path = xstrdup(ops[i].path);
		r->mops[i].data = d;
		r->mops[i].version = ops[i].version;
	}
	r->nmops = n;
}

/* ---- the test's side ------------------------------------------------------- */

void fakezk_init(void)
{
	struct fz_node *root;

	fakezk_reset();
	root = calloc(1, sizeof *root);
	if (!root)
		abort();
	root->path = xstrdup("/");
	root->data = xstrdup("");
	fz.nodes = root;
	fz.zxid = 1;
	fz.next_session = 0x1000;
}

void fakezk_reset(void)
{
	struct fz_req *r;

	while ((r = pop())) {
		zkd_ev_free(r->e);
		free_req(r);
	}
	while (fz.nodes) {
		struct fz_node *n = fz.nodes;

		fz.nodes = n->next;
		free(n->path);
		free(n->data);
		free(n);
	}
	while (fz.sessions) {
		struct fz_session *s = fz.sessions;

		fz.sessions = s->next;
		free(s);
	}
	drop_watches(NULL);
	fakezk_clear_log();
	free(fz.log);
	struct zkio *io = fz.io, *handles = fz.handles;
	memset(&fz, 0, sizeof fz);
	fz.io = io;
	fz.handles = handles;
}

void fakezk_set_reachable(bool up)
{
	fz.down = !up;
}

void fakezk_set_credentials(const char *scheme, const char *cred)
{
	snprintf(fz.scheme, sizeof fz.scheme, "%s", scheme);
	snprintf(fz.cred, sizeof fz.cred, "%s", cred);
}

void fakezk_set_unresolvable(bool on)
{
	fz.unresolvable = on;
}

void fakezk_fail(unsigned ops, const char *prefix, int rc, int count)
{
	for (size_t i = 0; i < sizeof fz.fails / sizeof fz.fails[0]; i++) {
		struct fz_fail *f = &fz.fails[i];

		if (f->count == 0) {
			f->ops = ops;
			snprintf(f->prefix, sizeof f->prefix, "%s", prefix ? prefix : "");
			f->rc = rc;
			f->count = count;
			return;
		}
	}
	abort();	/* more scripted failures than slots: grow the table */
}

int64_t fakezk_session_open(void)
{
	struct fz_session *s = calloc(1, sizeof *s);

	if (!s)
		abort();
	s->id = ++fz.next_session;
	s->next = fz.sessions;
	fz.sessions = s;
	return s->id;
}

void fakezk_session_close(int64_t id)
{
	end_session(id);
}

int fakezk_create(const char *path, const char *data, int64_t owner)
{
	int rc = do_create(path, data, owner, fz.zxid + 1, OPEN_ACL_TEXT);

	if (rc == ZOK)
		fz.zxid++;
	return rc;
}

int fakezk_set(const char *path, const char *data)
{
	struct fz_node *n = find(path);

	if (!n)
		return ZNONODE;
	do_set(n, data, ++fz.zxid);
	return ZOK;
}

int fakezk_delete(const char *path)
{
	int rc = do_delete(path, -1, fz.zxid + 1);

	if (rc == ZOK)
		fz.zxid++;
	return rc;
}

void fakezk_mkdirs(const char *path)
{
	char buf[FZ_MAX_WATCH_PATH];

	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;

			*p = '\0';
			if (!find(buf))
				fakezk_create(buf, "", 0);
			*p = c;
			if (!c)
				break;
		}
	}
}

void fakezk_protect(const char *path)
{
	struct fz_node *n = find(path);

	if (n)
		n->protect = true;
}

void fakezk_unprotect(const char *path)
{
	struct fz_node *n = find(path);

	if (n)
		n->protect = false;
}

void fakezk_disconnect_handle(struct zkio *io)
{
	if (!io || !io->connected)
		return;
	fail_pending(io, ZCONNECTIONLOSS);
	io->connected = false;
	io->last_seen = fz.zxid;
	push_event(io, ZKIO_SESSION_EVENT, ZKIO_CONNECTING, NULL);
}

void fakezk_disconnect(void)
{
	fakezk_disconnect_handle(fz.io);
}

void fakezk_reconnect_handle(struct zkio *io)
{
	struct fz_watch *w, *next;

	if (!io || io->connected || !io->session || io->dead)
		return;
	io->connected = true;
	push_event(io, ZKIO_SESSION_EVENT, ZKIO_CONNECTED, NULL);
	/* SetWatches: what changed after the last zxid the client saw fires */
	for (w = fz.watches; w; w = next) {
		struct fz_node *n = find(w->path);
		int type = 0;

		next = w->next;
		if (w->owner != io)
			continue;
		if (w->kind == W_EXIST && n)
			type = ZKIO_CREATED_EVENT;
		else if (w->kind != W_EXIST && !n)
			type = ZKIO_DELETED_EVENT;
		else if (w->kind == W_DATA && n->st.mzxid > io->last_seen)
			type = ZKIO_CHANGED_EVENT;
		else if (w->kind == W_CHILD && n->pzxid > io->last_seen)
			type = ZKIO_CHILD_EVENT;
		if (type) {
			/* fire_one may free w and its successor: start over */
			fire_one(io, 1u << w->kind, w->path, type, n && n->protect);
			next = fz.watches;
		}
	}
}

void fakezk_reconnect(void)
{
	fakezk_reconnect_handle(fz.io);
}

void fakezk_expire_handle(struct zkio *io)
{
	if (!io || !io->open || !io->session || io->dead)
		return;
	fail_pending(io, ZSESSIONEXPIRED);
	io->connected = false;
	end_session(io->session);
	io->dead = true;
	drop_watches(io);
	push_event(io, ZKIO_SESSION_EVENT, ZKIO_EXPIRED, NULL);
}

void fakezk_expire(void)
{
	fakezk_expire_handle(fz.io);
}

struct zkio *fakezk_handle(size_t i)
{
	struct zkio *io = fz.handles;

	while (io && i--)
		io = io->hnext;
	return io;
}

size_t fakezk_open_handles(void)
{
	size_t n = 0;

	for (struct zkio *io = fz.handles; io; io = io->hnext)
		n += io->open;
	return n;
}

int64_t fakezk_handle_session(const struct zkio *io)
{
	return io && io->open ? io->session : 0;
}

int fakezk_handle_watches(const struct zkio *io, unsigned kinds)
{
	int n = 0;

	for (struct fz_watch *w = fz.watches; w; w = w->next)
		if (w->owner == io && (kinds & (1u << w->kind)))
			n++;
	return n;
}

int fakezk_data_watch_handle(const char *path)
{
	int found = -1;

	for (struct fz_watch *w = fz.watches; w; w = w->next) {
		int i = 0;

		if (w->kind != W_DATA || strcmp(w->path, path) != 0)
			continue;
		for (struct zkio *io = fz.handles; io && io != w->owner; io = io->hnext)
			i++;
		found = found == -1 ? i : -2;
	}
	return found;
}

int fakezk_count_handle(const struct zkio *io, unsigned ops, const char *path)
{
	int n = 0;

	for (size_t i = 0; i < fz.nlog; i++)
		if (fz.log[i].io == io && (fz.log[i].op & ops) &&
		    (!path || strcmp(fz.log[i].path, path) == 0))
			n++;
	return n;
}

int64_t fakezk_client_session(void)
{
	return fz.io ? fz.io->session : 0;
}

const char *fakezk_acl(const char *path)
{
	struct fz_node *n = find(path);

	return n ? n->acl : NULL;
}

const char *fakezk_get(const char *path, struct zkio_stat *st)
{
	struct fz_node *n = find(path);

	if (n && st) {
		*st = n->st;
		st->pzxid = n->pzxid;
	}
	return n ? n->data : NULL;
}

int fakezk_count(unsigned ops, const char *path)
{
	int n = 0;

	for (size_t i = 0; i < fz.nlog; i++)
		if ((fz.log[i].op & ops) && (!path || strcmp(fz.log[i].path, path) == 0))
			n++;
	return n;
}

void fakezk_clear_log(void)
{
	for (size_t i = 0; i < fz.nlog; i++)
		free(fz.log[i].path);
	fz.nlog = 0;
}

int fakezk_watches(const char *path)
{
	int n = 0;

	for (struct fz_watch *w = fz.watches; w; w = w->next)
		if (strcmp(w->path, path) == 0)
			n++;
	return n;
}

/* ---- the mirror's watch sessions (zkio.h) ----------------------------------- */

void zkio_sync(struct zkio *io, const char *path, enum zkd_ev_tag tag)
{
	enqueue(io, FZ_SYNC, EV_VOID, tag, path, NULL, -1, ZKIO_PERSISTENT);
}

void zkio_unwatch(struct zkio *io, const char *path, enum zkd_ev_tag tag)
{
	enqueue(io, FZ_UNWATCH, EV_VOID, tag, path, NULL, -1, ZKIO_PERSISTENT);
}

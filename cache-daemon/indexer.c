/*
 * indexer.c - the writer of the fleet index (contract: index.h; znodes:
 * zkindex.h; reasons: docs/scale.md). It stands for an election slot
 * (<dir>/indexer-<k>, ephemeral); while it holds one, the daemon mirrors
 * <root>/hosts and every record the mirror reports reaches this file
 * through the batch's tap into the *view* (folded name -> entry line).
 * Buckets whose view differs from their content in ZooKeeper are dirty;
 * up to ZKD_IX_MULTI_BUCKETS of them and the head are written in one
 * multi with compare-and-set on every version, one multi at a time, so a
 * storm of changes is coalesced. A bucket read from ZooKeeper (first load,
 * or after a failed write: another indexer wrote first, or the outcome was
 * lost with the connection) is *checked* before it is written again:
 * every name on which it disagrees with the view is read again from
 * <root>/hosts, after the bucket read, and that answer goes into the
 * view. So an entry is always written from a read made after the bucket
 * content it replaces was read, and a lagging indexer cannot put back a
 * record another indexer deleted. A bucket whose desired content equals
 * its content is not written (a data change that leaves the addresses
 * alone keeps the old entry, mzxid included). The index grows one bucket
 * at a time (linear hashing) past ZKX_BUCKET_TARGET records per bucket:
 * the split moves entries as they are in ZooKeeper, in one multi with the
 * new bucket and the head. Any request of the index answered only with a
 * lost connection (its outcome unknown) makes the indexer read the whole
 * index again before its next write, whether that answer comes before or
 * after the reconnect. Each write also lists its buckets in the head's
 * recent-writes map, and a head write that would only move the reflected
 * pzxid waits ZKD_IX_PZXID_DELAY_MS for a real write to carry it.
 * Of the indexers, the one holding the lowest slot (the primary) writes at
 * once; any other (a standby) mirrors as well but leaves each change to
 * it for ZKD_IX_STANDBY_MS, then asks the head's version and writes only
 * what the index still lacks, after reading again the buckets it would
 * write that changed since it read them. Both writing at once would make
 * one of them fail its compare-and-set on every change, and a failed
 * multi is still a transaction of the whole ensemble.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ensure.h"
#include "index.h"
#include "log.h"
#include "zkhosts/names.h"

struct ix_vnode {
	struct ix_vnode *next;
	uint32_t h;
	char *key;
	char *line;
};

struct ix_bucket {
	int32_t version;	/* -1: absent */
	bool known;		/* read or written by us */
	bool checked;		/* compared with the view since read */
	bool dirty;
	bool due;		/* a standby's: dirty since its wait began */
	int32_t seen_head;	/* head version it was read (or written) at */
	struct ix_set zk;	/* content at `version` */
};

/* ---- the view ---------------------------------------------------------- */

static uint32_t chain_of(const struct zkd_indexer *x, uint32_t h)
{
	return h & ((1u << x->vt_bits) - 1);
}

static struct ix_vnode *view_get(const struct zkd_indexer *x, const char *key,
				 uint32_t h)
{
	for (struct ix_vnode *n = x->vt[chain_of(x, h)]; n; n = n->next)
		if (n->h == h && strcmp(n->key, key) == 0)
			return n;
	return NULL;
}

static void view_grow(struct zkd_indexer *x)
{
	unsigned bits = x->vt_bits + 1;
	struct ix_vnode **t = calloc((size_t)1 << bits, sizeof *t);

	if (!t)
		return;		/* longer chains, still correct */
	for (size_t i = 0; i < ((size_t)1 << x->vt_bits); i++)
		while (x->vt[i]) {
			struct ix_vnode *n = x->vt[i];

			x->vt[i] = n->next;
			n->next = t[n->h & ((1u << bits) - 1)];
			t[n->h & ((1u << bits) - 1)] = n;
		}
	free(x->vt);
	x->vt = t;
	x->vt_bits = bits;
}

static void mark_dirty(struct zkd_indexer *x, uint32_t h)
{
	if (x->h.nbuckets && x->nb >= x->h.nbuckets)
		x->b[zkx_bucket_of(h, x->h.nbuckets)].dirty = true;
}

/* Put line for key (NULL line: delete). -ENOMEM on failure. */
static int view_set(struct zkd_indexer *x, const char *key, const char *line)
{
	uint32_t h = zkx_hash(key, strlen(key));
	struct ix_vnode *n = view_get(x, key, h), **pp;
	char *l;

	if (!line) {
		if (!n)
			return 0;
		for (pp = &x->vt[chain_of(x, h)]; *pp != n; pp = &(*pp)->next)
			;
		*pp = n->next;
		free(n->key);
		free(n->line);
		free(n);
		x->vcount--;
		mark_dirty(x, h);
		return 0;
	}
	if (n && strcmp(n->line, line) == 0)
		return 0;
	l = strdup(line);
	if (!l)
		return -ENOMEM;
	if (!n) {
		n = calloc(1, sizeof *n);
		if (!n || !(n->key = strdup(key))) {
			free(n);
			free(l);
			return -ENOMEM;
		}
		n->h = h;
		n->next = x->vt[chain_of(x, h)];
		x->vt[chain_of(x, h)] = n;
		if (++x->vcount > ((size_t)1 << x->vt_bits))
			view_grow(x);
	} else {
		free(n->line);
	}
	n->line = l;
	mark_dirty(x, h);
	return 0;
}

void indexer_reset_view(struct zkd_indexer *x)
{
	for (size_t i = 0; x->vt && i < ((size_t)1 << x->vt_bits); i++)
		while (x->vt[i]) {
			struct ix_vnode *n = x->vt[i];

			x->vt[i] = n->next;
			free(n->key);
			free(n->line);
			free(n);
		}
	x->vcount = 0;
	x->view_ready = false;
	x->all_dirty = true;
}

/* The view's entries of bucket i (among x->h.nbuckets) into out. */
static int desired(const struct zkd_indexer *x, unsigned i, struct ix_set *out)
{
	unsigned nb = x->h.nbuckets, lb = 0;
	size_t chains = (size_t)1 << x->vt_bits, step;

	while ((2u << lb) <= nb)
		lb++;
	/* bucket i holds hashes congruent to i mod 2^lb at least */
	step = (size_t)1 << (lb < x->vt_bits ? lb : x->vt_bits);
	for (size_t c = i & (step - 1); c < chains; c += step)
		for (struct ix_vnode *n = x->vt[c]; n; n = n->next)
			if (zkx_bucket_of(n->h, nb) == i && ixset_put(out, n->key, n->line))
				return -ENOMEM;
	return 0;
}

/* Fields 1, 2 and 4 of two entry lines equal (name, czxid, addresses):
 * the same record, whatever the mzxid. */
static bool same_record(const char *a, const char *b)
{
	const char *a3 = a, *b3 = b;

	for (int i = 0; i < 2; i++) {
		a3 = strchr(a3, ' ');
		b3 = strchr(b3, ' ');
		if (!a3 || !b3)
			return false;
		a3++;
		b3++;
	}
	if ((size_t)(a3 - a) != (size_t)(b3 - b) || memcmp(a, b, (size_t)(a3 - a)) != 0)
		return false;
	a3 = strchr(a3, ' ');
	b3 = strchr(b3, ' ');
	return a3 && b3 && strcmp(a3, b3) == 0;
}

/* A record as the view holds it: kept as it is when only the mzxid
 * differs (no-op writes are skipped). */
static int view_record(struct zkd_indexer *x, const char *name, uint64_t czxid,
		       uint64_t mzxid, const struct zkh_addr *addrs, size_t naddrs)
{
	struct zkx_entry e;
	char line[ZKX_LINE_MAX + 1];
	struct ix_vnode *n;

	if (zkx_entry_make(&e, name, strlen(name), czxid, mzxid, addrs, naddrs) ||
	    zkx_entry_format(&e, line, sizeof line) < 0)
		return -EINVAL;
	n = view_get(x, e.key, zkx_hash(e.key, strlen(e.key)));
	if (n && same_record(n->line, line))
		return 0;
	return view_set(x, e.key, line);
}

void indexer_tap(void *arg, const char *name, uint64_t czxid, uint64_t mzxid,
		 const struct zkh_addr *addrs, size_t naddrs)
{
	struct zkd_indexer *x = arg;
	char key[ZKH_NAME_MAX + 1];
	int rc;

	if (addrs) {
		rc = view_record(x, name, czxid, mzxid, addrs, naddrs);
	} else {
		rc = zkh_name_fold(name, strlen(name), key) < 0 ? 0 : view_set(x, key, NULL);
	}
	if (rc == -ENOMEM) {
		/* the view misses a change: rebuild it with the next sync */
		zkd_error_set(&x->err, ZKH_LOG_ERR, "out of memory in the index view");
		x->changed = true;
	}
}

/* ---- setup ------------------------------------------------------------- */

int indexer_init(struct zkd_indexer *x, enum ix_mode mode, unsigned nslots,
		 const char *root_path, const char *ident)
{
	int rc;

	memset(x, 0, sizeof *x);
	x->mode = mode;
	x->nslots = nslots ? nslots : 1;
	x->slot = -1;
	x->head_version = -1;
	snprintf(x->ident, sizeof x->ident, "%s", ident);
	rc = ix_paths_init(&x->p, root_path);
	if (rc)
		return rc;
	x->vt_bits = 6;
	x->vt = calloc((size_t)1 << x->vt_bits, sizeof *x->vt);
	x->slot_free = calloc(x->nslots, sizeof *x->slot_free);
	if (!x->vt || !x->slot_free)
		return -ENOMEM;
	return 0;
}

static void drop_write(struct zkd_indexer *x)
{
	for (unsigned i = 0; i < x->w_n; i++)
		ixset_clear(&x->w_sets[i]);
	free(x->w_sets);
	free(x->w_buckets);
	free(x->w_ring);
	x->w_sets = NULL;
	x->w_buckets = NULL;
	x->w_ring = NULL;
	x->w_n = 0;
	x->write_inflight = false;
}

static void drop_buckets(struct zkd_indexer *x)
{
	for (unsigned i = 0; i < x->nb; i++)
		ixset_clear(&x->b[i].zk);
	free(x->b);
	x->b = NULL;
	x->nb = 0;
	x->loaded = false;
	x->loading = 0;
	x->head_loading = false;
}

void indexer_free(struct zkd_indexer *x)
{
	drop_write(x);
	drop_buckets(x);
	indexer_reset_view(x);
	free(x->vt);
	free(x->slot_free);
	x->vt = NULL;
	x->slot_free = NULL;
}

bool indexer_is_writer(const struct zkd_indexer *x)
{
	return x->role == IXR_INDEXER;
}

/* ---- election ---------------------------------------------------------- */

/* Make the index directory exist (with the configured ACL, as every node
 * zkhosts creates: zkio_set_acl): asked with exists first, since a create
 * that fails because the node is there still costs the ensemble a
 * transaction, and every standing daemon does this at every session
 * start (ensure.h). The mirror of whichever daemon indexes makes hosts
 * and boot. */
static void ensure_dirs(struct zkd_indexer *x, const struct ix_env *env)
{
	ensure_node(env->io, x->p.dir, TAG_IX_ENSURE_STAT);
}

static void look_at_slots(struct zkd_indexer *x, const struct ix_env *env)
{
	char path[ZKD_PATH_CAP];

	for (unsigned k = 0; k < x->nslots; k++) {
		ix_slot_path(&x->p, k, path);
		zkio_stat(env->io, path, true, TAG_IX_SLOT);
	}
}

static uint64_t jitter(const struct zkd_indexer *x, uint64_t now)
{
	uint64_t r = now * 6364136223846793005ull + (uint64_t)(uintptr_t)x;

	if (x->mode == IX_YES)
		return 0;
	return (r >> 33) % ZKD_IX_STAND_JITTER_MS;
}

void indexer_on_new_session(struct zkd_indexer *x, const struct ix_env *env)
{
	drop_write(x);
	drop_buckets(x);
	x->role = x->mode == IX_NO ? IXR_OFF : IXR_STANDING;
	x->slot = -1;
	x->creating = false;
	x->stand_at = 0;
	x->head_version = -1;
	x->sb = SB_IDLE;
	if (x->role == IXR_OFF)
		return;
	ensure_dirs(x, env);
	look_at_slots(x, env);
}

static void start_load(struct zkd_indexer *x, const struct ix_env *env)
{
	x->reload_wanted = false;
	x->sb = SB_IDLE;
	drop_buckets(x);
	x->head_loading = true;
	zkio_read(env->io, x->p.head, false, TAG_IX_HEAD);
}

void indexer_on_reconnect(struct zkd_indexer *x, const struct ix_env *env)
{
	if (x->role == IXR_OFF)
		return;
	/* requests lost with the connection answered ZCONNECTIONLOSS: the
	 * write's outcome is unknown, so read the index again */
	if (x->role == IXR_INDEXER && (x->write_inflight || !x->loaded ||
				       x->verifying || x->reload_wanted))
		start_load(x, env);
	drop_write(x);
	x->verifying = 0;
	look_at_slots(x, env);
}

void indexer_on_session_end(struct zkd_indexer *x)
{
	if (x->role == IXR_INDEXER)
		zkd_log(ZKH_LOG_INFO, "index: session ended, no longer an indexer");
	drop_write(x);
	drop_buckets(x);
	x->reload_wanted = false;
	x->role = IXR_OFF;
	x->slot = -1;
	x->creating = false;
	x->stand_at = 0;
	x->pzxid_due = 0;
	x->sb = SB_IDLE;
	x->verifying = 0;
	x->view_ready = false;
	x->changed = true;
}

static void on_slot_stat(struct zkd_indexer *x, const struct ix_env *env,
			 long k, const struct zkd_event *e)
{
	if (e->rc == ZOK) {
		x->slot_free[k] = false;
	} else if (e->rc == ZNONODE) {
		x->slot_free[k] = true;
		if (x->role == IXR_INDEXER && k == x->slot) {
			zkd_log(ZKH_LOG_WARN, "index: election slot %ld is gone; standing again", k);
			x->role = IXR_STANDING;
			x->slot = -1;
			x->sb = SB_IDLE;
			drop_write(x);
			drop_buckets(x);
			x->changed = true;
		}
		if (x->role == IXR_STANDING && !x->stand_at && !x->creating)
			x->stand_at = env->now + jitter(x, env->now) + 1;
	}
}

static void on_slot_create(struct zkd_indexer *x, const struct ix_env *env,
			   long k, const struct zkd_event *e)
{
	char path[ZKD_PATH_CAP];

	x->creating = false;
	if (e->rc == ZOK && x->role == IXR_STANDING) {
		x->role = IXR_INDEXER;
		x->slot = (int)k;
		x->primary_logged = -1;
		x->slot_free[k] = false;
		x->became = true;
		x->changed = true;
		zkd_log(ZKH_LOG_INFO, "index: holding election slot %ld: indexing %s", k,
			x->p.dir);
		ix_slot_path(&x->p, (unsigned)k, path);
		zkio_stat(env->io, path, true, TAG_IX_SLOT);	/* watch our own */
		start_load(x, env);
		return;
	}
	if (e->rc == ZNONODE)	/* the directory is missing: make it now */
		ensure_create_chain(env->io, x->p.dir, TAG_IX_ENSURE);
	else if (e->rc != ZNODEEXISTS && e->rc != ZCONNECTIONLOSS &&
		 e->rc != ZOPERATIONTIMEOUT && e->rc != ZOK)
		zkd_log(ZKH_LOG_WARN, "index: cannot take election slot %ld: %s", k,
			zkio_strerror(e->rc));
	x->slot_free[k] = false;
	look_at_slots(x, env);
}

/* ---- loading and checking ------------------------------------------------ */

static int resize(struct zkd_indexer *x, unsigned n)
{
	struct ix_bucket *b;

	if (n <= x->nb)
		return 0;
	b = realloc(x->b, n * sizeof *b);
	if (!b)
		return -ENOMEM;
	memset(b + x->nb, 0, (n - x->nb) * sizeof *b);
	for (unsigned i = x->nb; i < n; i++)
		b[i].version = -1;
	x->b = b;
	x->nb = n;
	return 0;
}

static void read_bucket(struct zkd_indexer *x, const struct ix_env *env,
			unsigned i)
{
	char path[ZKD_PATH_CAP];

	ix_bucket_path(&x->p, i, path);
	x->loading++;
	zkio_read(env->io, path, false, TAG_IX_BUCKET);
}

static void on_head(struct zkd_indexer *x, const struct ix_env *env,
		    const struct zkd_event *e)
{
	size_t body;
	unsigned old_nb = x->h.nbuckets;
	int rc;

	x->head_loading = false;
	if (e->rc == ZNONODE) {
		x->head_version = -1;
		memset(&x->h, 0, sizeof x->h);
		x->h.format = ZKX_FORMAT;
		x->h.epoch = zkd_realtime_us() / 1000000;
		x->h.nbuckets = 1;
		x->ring_len = 0;
	} else if (e->rc == ZOK) {
		rc = zkx_head_parse(e->data ? e->data : "", (size_t)(e->data_len > 0 ? e->data_len : 0),
				    &x->h, &body);
		if (rc) {
			if (zkd_error_set(&x->err, ZKH_LOG_ERR, "index head %s: %s; not writing it",
					  x->p.head, rc == -EPROTO ? "of a format this zkcached does not know"
					  : "malformed"))
				x->changed = true;
			return;
		}
		x->head_version = e->stat.version;
		x->ring_len = (size_t)e->data_len - body;
		memcpy(x->ring, e->data + body, x->ring_len);
	} else {
		if (zkio_lost(e->rc))
			x->reload_wanted = true;
		else if (zkd_error_set(&x->err, ZKH_LOG_ERR, "cannot read index head %s: %s",
				       x->p.head, zkio_strerror(e->rc)))
			x->changed = true;
		return;
	}
	/* every bucket, plus the next one (the target of the next split) */
	if (old_nb != x->h.nbuckets || !x->nb) {
		drop_buckets(x);
		if (resize(x, x->h.nbuckets + 1))
			return;
		for (unsigned i = 0; i < x->nb; i++)
			read_bucket(x, env, i);
	} else {
		for (unsigned i = 0; i < x->nb; i++)
			if (!x->b[i].known)
				read_bucket(x, env, i);
	}
	x->all_dirty = true;
	x->loaded = !x->loading;
}

static void on_bucket(struct zkd_indexer *x, const struct zkd_event *e)
{
	struct ix_bucket *b;
	long i = ix_bucket_of_path(&x->p, e->path);

	if (x->loading)
		x->loading--;
	if (i < 0 || (unsigned long)i >= x->nb)
		goto out;
	b = &x->b[i];
	if (e->rc == ZNONODE) {
		b->version = -1;
		ixset_clear(&b->zk);
	} else if (e->rc == ZOK) {
		b->version = e->stat.version;
		if ((unsigned long)i < x->h.nbuckets)
			ixset_load(&b->zk, e->data ? e->data : "",
				   (size_t)(e->data_len > 0 ? e->data_len : 0),
				   (unsigned)i, x->h.nbuckets);
		else
			ixset_clear(&b->zk);	/* past the end: overwritten */
	} else {
		b->known = false;
		if (zkio_lost(e->rc))
			x->reload_wanted = true;
		goto out;
	}
	b->known = true;
	b->checked = false;
	b->dirty = true;
	b->seen_head = x->head_version;	/* read after that head */
out:
	if (!x->loading && !x->head_loading) {
		bool all = true;

		for (unsigned k = 0; k < x->nb; k++)
			all = all && x->b[k].known;
		x->loaded = all;
	}
}

/* Read the znode `name` of <root>/hosts again (no watch) to settle a
 * disagreement between a bucket and the view. */
static void verify(struct zkd_indexer *x, const struct ix_env *env,
		   const char *line)
{
	char path[ZKD_PATH_CAP];
	const char *sp = strchr(line, ' ');
	size_t nl = sp ? (size_t)(sp - line) : strlen(line);

	if ((size_t)snprintf(path, sizeof path, "%s/%.*s", x->p.hosts, (int)nl, line) >= sizeof path)
		return;
	x->verifying++;
	zkio_read(env->io, path, false, TAG_IX_VERIFY);
}

/* Names on which bucket i and the view disagree get verified; returns
 * how many reads were sent. */
static unsigned check_bucket(struct zkd_indexer *x, const struct ix_env *env,
			     unsigned i, const struct ix_set *want)
{
	const struct ix_set *zk = &x->b[i].zk;
	unsigned sent = 0;

	x->b[i].checked = true;
	if (x->b[i].version < 0)
		return 0;	/* never written: no deletion to resurrect */
	for (size_t k = 0; k < zk->n; k++) {
		const struct ix_kv *w = ixset_get(want, zk->v[k].key);

		if (!w || strcmp(w->line, zk->v[k].line) != 0) {
			verify(x, env, zk->v[k].line);
			sent++;
			if (w && strncmp(w->line, zk->v[k].line, strcspn(w->line, " ")) != 0) {
				verify(x, env, w->line);	/* other spelling */
				sent++;
			}
		}
	}
	for (size_t k = 0; k < want->n; k++)
		if (!ixset_get(zk, want->v[k].key)) {
			verify(x, env, want->v[k].line);
			sent++;
		}
	return sent;
}

static void on_verify(struct zkd_indexer *x, const struct zkd_event *e)
{
	struct zkh_addr addrs[ZKH_MAX_ADDRS];
	const char *name = e->path + strlen(x->p.hosts) + 1;
	char key[ZKH_NAME_MAX + 1];
	struct ix_vnode *n;
	size_t na = 0;

	if (x->verifying)
		x->verifying--;
	if (strlen(e->path) <= strlen(x->p.hosts) + 1 ||
	    zkh_name_fold(name, strlen(name), key) < 0)
		return;
	n = view_get(x, key, zkx_hash(key, strlen(key)));
	if (e->rc == ZOK && e->has_stat)
		na = zkh_addrlist_parse(e->data ? e->data : "",
					(size_t)(e->data_len > 0 ? e->data_len : 0),
					addrs, ZKH_MAX_ADDRS, NULL);
	if (e->rc == ZOK && na) {
		/* case siblings: the one written last wins, as in the mirror */
		if (n && strncmp(n->line, name, strlen(name)) != 0) {
			struct zkx_entry cur;
			const char *nl = n->line;

			if (zkx_entry_parse(nl, strlen(nl), &cur) == 0 &&
			    cur.mzxid > (uint64_t)e->stat.mzxid)
				return;
		}
		view_record(x, name, (uint64_t)e->stat.czxid, (uint64_t)e->stat.mzxid,
			    addrs, na);
		if (n || (n = view_get(x, key, zkx_hash(key, strlen(key)))))
			mark_dirty(x, n->h);
	} else if (e->rc == ZNONODE || (e->rc == ZOK && !na)) {
		/* gone (or no longer valid): only this spelling's entry goes */
		if (n && strncmp(n->line, name, strlen(name)) == 0 &&
		    n->line[strlen(name)] == ' ')
			view_set(x, key, NULL);
	}
	/* a verification lost with the connection: load and check again
	 * before writing; other errors: the bucket stays unchecked-equal,
	 * the next failure of a write reloads and checks again */
	if (zkio_lost(e->rc))
		x->reload_wanted = true;
}

/* ---- writing ------------------------------------------------------------- */

/* Append to a growing text buffer. */
struct text {
	char *s;
	size_t n, cap;
};

static int text_add(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int w;

	for (;;) {
		va_start(ap, fmt);
		w = vsnprintf(t->s ? t->s + t->n : NULL, t->s ? t->cap - t->n : 0, fmt, ap);
		va_end(ap);
		if (w < 0)
			return -EINVAL;
		if (t->s && t->n + (size_t)w < t->cap) {
			t->n += (size_t)w;
			return 0;
		}
		size_t cap = (t->cap ? t->cap * 2 : 1024) + (size_t)w;
		char *s = realloc(t->s, cap);

		if (!s)
			return -ENOMEM;
		t->s = s;
		t->cap = cap;
	}
}

/* The ring group of bucket i going from zk to want, version v. */
static int group_text(struct text *t, uint64_t seq, unsigned i, int32_t v,
		      const struct ix_set *zk, const struct ix_set *want)
{
	struct text g = { 0 };
	unsigned n = 0;
	int rc = 0;

	for (size_t k = 0; !rc && k < want->n; k++) {
		const struct ix_kv *o = ixset_get(zk, want->v[k].key);

		if (!o || strcmp(o->line, want->v[k].line) != 0) {
			rc = text_add(&g, "+ %s\n", want->v[k].line);
			n++;
		}
	}
	for (size_t k = 0; !rc && k < zk->n; k++)
		if (!ixset_get(want, zk->v[k].key)) {
			rc = text_add(&g, "- %.*s\n", (int)strcspn(zk->v[k].line, " "),
				      zk->v[k].line);
			n++;
		}
	if (!rc && g.n <= ZKX_HEAD_TARGET / 2)
		rc = text_add(t, "g %" PRIu64 " %u %d %u\n%s", seq, i, (int)v, n,
			      g.s ? g.s : "");
	else if (!rc)
		rc = text_add(t, "g %" PRIu64 " %u %d *\n", seq, i, (int)v);
	free(g.s);
	return rc;
}

/* Head text for w_head and the ring: old ring + new groups, trimmed. */
static int build_head(struct zkd_indexer *x, const struct text *groups,
		      char **out, size_t *len)
{
	char hl[ZKX_HEAD_HDR_MAX], *buf;
	int n = zkx_head_format(&x->w_head, hl, sizeof hl);
	size_t rl = x->ring_len + groups->n;
	char *ring = malloc(rl + 1);

	if (n < 0 || !ring) {
		free(ring);
		return -ENOMEM;
	}
	memcpy(ring, x->ring, x->ring_len);
	memcpy(ring + x->ring_len, groups->s ? groups->s : "", groups->n);
	/* the ring gets what the first line and the map leave of the
	 * target, but never less than half of it (a map of many buckets) */
	zkx_ring_trim(ring, &rl, (size_t)n + ZKX_HEAD_TARGET / 2 < ZKX_HEAD_TARGET ?
			 ZKX_HEAD_TARGET - (size_t)n : ZKX_HEAD_TARGET / 2);
	buf = malloc((size_t)n + rl + 1);
	if (!buf) {
		free(ring);
		return -ENOMEM;
	}
	memcpy(buf, hl, (size_t)n);
	memcpy(buf + n, ring, rl);
	buf[(size_t)n + rl] = '\0';
	free(x->w_ring);
	x->w_ring = ring;
	x->w_ring_len = rl;
	*out = buf;
	*len = (size_t)n + rl;
	return 0;
}

static void send_write(struct zkd_indexer *x, const struct ix_env *env,
		       const struct text *groups)
{
	struct zkio_op ops[ZKD_IX_MULTI_BUCKETS + 2];
	char paths[ZKD_IX_MULTI_BUCKETS + 1][ZKD_PATH_CAP];
	char *texts[ZKD_IX_MULTI_BUCKETS + 1] = { 0 };
	char *head = NULL;
	size_t n = 0, hlen;
	long l;

	for (unsigned k = 0; k < x->w_n; k++) {
		unsigned i = x->w_buckets[k];

		l = ixset_render(&x->w_sets[k], i, &texts[k]);
		if (l < 0) {
			if (l == -EFBIG && zkd_error_set(&x->err, ZKH_LOG_ERR,
							 "index bucket %u would pass %d bytes", i,
							 ZKX_BUCKET_MAX))
				x->changed = true;
			goto fail;
		}
		ix_bucket_path(&x->p, i, paths[k]);
		ops[n++] = (struct zkio_op){ x->b[i].version < 0 ? ZKIO_OP_CREATE : ZKIO_OP_SET,
					     paths[k], texts[k], (size_t)l, x->b[i].version };
	}
	if (build_head(x, groups, &head, &hlen))
		goto fail;
	ops[n++] = (struct zkio_op){ x->head_version < 0 ? ZKIO_OP_CREATE : ZKIO_OP_SET,
				     x->p.head, head, hlen, x->head_version };
	x->write_inflight = true;
	zkio_multi(env->io, ops, n, TAG_IX_WRITE);
	free(head);
	for (unsigned k = 0; k < x->w_n; k++)
		free(texts[k]);
	return;
fail:
	free(head);
	for (unsigned k = 0; k < x->w_n; k++)
		free(texts[k]);
	drop_write(x);
}

static int alloc_write(struct zkd_indexer *x, unsigned n)
{
	x->w_buckets = calloc(n ? n : 1, sizeof *x->w_buckets);
	x->w_sets = calloc(n ? n : 1, sizeof *x->w_sets);
	x->w_n = 0;
	return x->w_buckets && x->w_sets ? 0 : -ENOMEM;
}

/* Split bucket src into src and nb (linear hashing), moving entries as
 * they are in ZooKeeper. */
static void write_split(struct zkd_indexer *x, const struct ix_env *env)
{
	unsigned nb = x->h.nbuckets, src = zkx_split_source(nb);
	const struct ix_set *zk = &x->b[src].zk;
	struct text g = { 0 };

	if (alloc_write(x, 2))
		goto fail;
	x->w_buckets[0] = src;
	x->w_buckets[1] = nb;
	x->w_n = 2;
	for (size_t k = 0; k < zk->n; k++) {
		const char *key = zk->v[k].key;
		unsigned to = zkx_bucket_of(zkx_hash(key, strlen(key)), nb + 1);

		if (ixset_put(&x->w_sets[to == src ? 0 : 1], key, zk->v[k].line))
			goto fail;
	}
	x->w_split = true;
	x->w_head = x->h;
	x->w_head.nbuckets = nb + 1;
	x->w_head.seq = x->h.seq + 1;
	x->w_head.pzxid = x->h.pzxid;
	zkx_map_roll(&x->w_head, x->h.seq);
	zkx_map_mark(&x->w_head, src);
	zkx_map_mark(&x->w_head, nb);
	if (text_add(&g, "s %" PRIu64 " %u %d %u %d\n", x->w_head.seq, src,
		     (int)(x->b[src].version + 1), nb, (int)(x->b[nb].version + 1)))
		goto fail;
	send_write(x, env, &g);
	free(g.s);
	return;
fail:
	free(g.s);
	drop_write(x);
}

static bool can_write(const struct zkd_indexer *x, const struct ix_env *env)
{
	return x->role == IXR_INDEXER && env->usable && x->loaded &&
	       x->view_ready && !x->write_inflight && !x->verifying &&
	       !x->head_loading && !x->loading;
}

/* ---- primary and standby ------------------------------------------------ */

/* The indexer holding the lowest slot (as this daemon last saw the slots)
 * writes at once; another one stands by. Two that see the slots
 * differently for a moment both act on their view: compare-and-set keeps
 * that correct, it only costs a failed write. */
static bool is_primary(const struct zkd_indexer *x)
{
	for (int k = 0; k < x->slot; k++)
		if (!x->slot_free[k])
			return false;
	return true;
}

/* Something a standby may have to write: a bucket its view changed, a
 * load to compare, no index at all. (A head write for the pzxid alone is
 * the primary's; a standby's next real write carries it.) */
static bool standby_has_work(const struct zkd_indexer *x)
{
	if (x->all_dirty || x->head_version < 0)
		return true;
	for (unsigned i = 0; i < x->nb && i < x->h.nbuckets; i++)
		if (x->b[i].dirty)
			return true;
	return false;
}

/* May flush write now? The primary may, unless a standby's check it
 * started is still under way; a standby waits ZKD_IX_STANDBY_MS from the
 * first change it holds, then asks the head's version (on_headcheck). */
static bool standby_gate(struct zkd_indexer *x, const struct ix_env *env)
{
	bool primary = is_primary(x);

	if (x->primary_logged != (int)primary) {
		zkd_log(ZKH_LOG_INFO, primary ? "index: slot %d is the lowest held: writing changes at once"
			: "index: slot %d stands by: writing only what the lowest slot leaves unwritten "
			  "for %d ms", x->slot, ZKD_IX_STANDBY_MS);
		x->primary_logged = primary;
	}
	if (!primary)
		x->pzxid_due = 0;
	switch (x->sb) {
	case SB_IDLE:
		if (primary)
			return true;
		if (!standby_has_work(x))
			return false;
		for (unsigned i = 0; i < x->nb && i < x->h.nbuckets; i++)
			x->b[i].due = x->b[i].dirty || x->all_dirty;
		x->sb = SB_WAIT;
		x->sb_due = env->now + ZKD_IX_STANDBY_MS;
		return false;
	case SB_WAIT:
		if (!primary && env->now < x->sb_due)
			return false;
		x->sb = SB_CHECK;
		zkio_stat(env->io, x->p.head, false, TAG_IX_HEADCHECK);
		return false;
	case SB_CHECK:
		return false;
	case SB_FRESH:
		return true;
	}
	return false;
}

/* The head's version after a standby's wait. Of the buckets that were
 * dirty when the wait began, those whose content differs from the view
 * (it would write them) and that were read at an older head version are
 * read again, with the head, before anything is written (can_write waits
 * for the load); if there are none and the head did not move, flush goes
 * on at once. Buckets that became dirty during the wait are left to the
 * primary for another wait (flush skips them). */
static void on_headcheck(struct zkd_indexer *x, const struct ix_env *env,
			 const struct zkd_event *e)
{
	int32_t v;
	bool reread = false;

	if (x->sb != SB_CHECK || x->role != IXR_INDEXER)
		return;
	if (e->rc == ZOK) {
		v = e->stat.version;
	} else if (e->rc == ZNONODE) {
		v = -1;
	} else {
		x->sb = SB_WAIT;	/* lost or refused: look again later */
		x->sb_due = env->now + ZKD_IX_STANDBY_MS;
		return;
	}
	x->sb = SB_FRESH;
	for (unsigned i = 0; i < x->nb && i < x->h.nbuckets; i++) {
		struct ix_bucket *b = &x->b[i];
		struct ix_set want = { 0 };
		bool same;

		if (!b->due || b->seen_head == v)
			continue;
		if (desired(x, i, &want)) {
			ixset_clear(&want);
			x->sb = SB_WAIT;	/* out of memory: later */
			x->sb_due = env->now + ZKD_IX_STANDBY_MS;
			return;
		}
		same = b->version >= 0 && ixset_equal(&want, &b->zk);
		ixset_clear(&want);
		if (same)
			continue;	/* it would write nothing there */
		b->known = false;
		reread = true;
	}
	if (!reread && v == x->head_version)
		return;
	x->loaded = false;
	x->head_loading = true;
	zkio_read(env->io, x->p.head, false, TAG_IX_HEAD);
}

static void flush(struct zkd_indexer *x, const struct ix_env *env)
{
	bool primary;
	struct text groups = { 0 };
	struct ix_set want = { 0 };
	unsigned nb = x->h.nbuckets, sent = 0;

	if (x->reload_wanted && x->role == IXR_INDEXER && env->usable &&
	    !x->write_inflight && !x->head_loading) {
		start_load(x, env);
		return;
	}
	if (!can_write(x, env) || !standby_gate(x, env))
		return;
	primary = is_primary(x);
	if (x->all_dirty) {
		for (unsigned i = 0; i < nb; i++)
			x->b[i].dirty = true;
		x->all_dirty = false;
	}
	/* check every bucket read from ZooKeeper before writing anything */
	for (unsigned i = 0; i < nb; i++) {
		if (!x->b[i].dirty || x->b[i].checked)
			continue;
		if (desired(x, i, &want))
			goto out;
		sent += check_bucket(x, env, i, &want);
		ixset_clear(&want);
	}
	if (sent)
		goto out;	/* write when the answers are in */
	x->sb = SB_IDLE;	/* decided: what follows writes or finds nothing */
	if (x->vcount > (size_t)nb * ZKX_BUCKET_TARGET && nb < ZKX_MAX_BUCKETS &&
	    x->b[nb].known) {
		write_split(x, env);
		goto out;
	}
	if (alloc_write(x, ZKD_IX_MULTI_BUCKETS))
		goto out;
	x->w_split = false;
	x->w_head = x->h;
	x->w_head.seq = x->h.seq + 1;
	x->w_head.pzxid = x->reflected > x->h.pzxid ? x->reflected : x->h.pzxid;
	zkx_map_roll(&x->w_head, x->h.seq);
	for (unsigned i = 0; i < nb && x->w_n < ZKD_IX_MULTI_BUCKETS; i++) {
		if (!x->b[i].dirty)
			continue;
		if (desired(x, i, &want))
			goto fail;
		if (x->b[i].version >= 0 && ixset_equal(&want, &x->b[i].zk)) {
			x->b[i].dirty = x->b[i].due = false;
			x->noops++;
			ixset_clear(&want);
			continue;	/* nothing to write */
		}
		if (!primary && !x->b[i].due) {
			ixset_clear(&want);	/* changed during the wait: */
			continue;		/* the primary's, for now */
		}
		x->b[i].dirty = x->b[i].due = false;
		if (group_text(&groups, x->w_head.seq, i, x->b[i].version + 1,
			       &x->b[i].zk, &want))
			goto fail;
		zkx_map_mark(&x->w_head, i);
		x->w_buckets[x->w_n] = i;
		ixset_take(&x->w_sets[x->w_n], &want);
		x->w_n++;
	}
	if (!x->w_n && x->w_head.pzxid == x->h.pzxid && x->head_version >= 0)
		goto fail;	/* nothing at all: no write */
	if (!x->w_n && x->head_version >= 0) {
		/* the pzxid alone: later, unless a real write carries it;
		 * a standby leaves it to the primary */
		if (!primary)
			goto fail;
		if (!x->pzxid_due)
			x->pzxid_due = env->now + ZKD_IX_PZXID_DELAY_MS;
		if (env->now < x->pzxid_due)
			goto fail;
	}
	x->pzxid_due = 0;
	if (!x->w_n) {
		/* pzxid only: no new group, no new sequence, the same map */
		x->w_head = x->h;
		x->w_head.pzxid = x->reflected > x->h.pzxid ? x->reflected : x->h.pzxid;
	}
	send_write(x, env, &groups);
	goto out;
fail:
	drop_write(x);
out:
	ixset_clear(&want);
	free(groups.s);
}

static void on_write(struct zkd_indexer *x, const struct ix_env *env,
		     const struct zkd_event *e)
{
	x->write_inflight = false;
	if (e->rc == ZOK) {
		if (x->w_split && resize(x, x->w_head.nbuckets + 1) == 0) {
			x->b[x->w_head.nbuckets].known = false;
			read_bucket(x, env, x->w_head.nbuckets);	/* next spare */
			x->loaded = false;
		}
		int32_t hv = x->head_version < 0 ? 0 : x->head_version + 1;

		/* compare-and-set: nobody wrote between our view of the head
		 * and this write, so what was current is still current */
		for (unsigned i = 0; i < x->nb; i++)
			if (x->b[i].seen_head == x->head_version)
				x->b[i].seen_head = hv;
		for (unsigned k = 0; k < x->w_n; k++) {
			struct ix_bucket *b = &x->b[x->w_buckets[k]];

			b->seen_head = hv;
			b->version = b->version < 0 ? 0 : b->version + 1;
			ixset_take(&b->zk, &x->w_sets[k]);
			b->known = b->checked = true;
			if (x->w_split)
				b->dirty = true;	/* the view may differ */
		}
		x->head_version = hv;
		x->h = x->w_head;
		memcpy(x->ring, x->w_ring, x->w_ring_len);
		x->ring_len = x->w_ring_len;
		x->writes++;
		if (zkd_error_clear(&x->err))
			x->changed = true;
		drop_write(x);
		flush(x, env);
		return;
	}
	/* Not applied (another indexer wrote first, or the node's state is
	 * not what we knew), or unknown (connection): read head and the
	 * buckets of the write again; they are checked before the next write. */
	if (e->rc == ZBADVERSION || e->rc == ZNODEEXISTS || e->rc == ZNONODE)
		x->conflicts++;
	else if (e->rc == ZNOAUTH && zkd_error_set(&x->err, ZKH_LOG_ERR,
				"index %s not writable: ZooKeeper refuses zkcached's identity", x->p.dir))
		x->changed = true;
	else if (e->rc != ZCONNECTIONLOSS && e->rc != ZOPERATIONTIMEOUT &&
		 zkd_error_set(&x->err, ZKH_LOG_ERR, "index write refused: %s",
			       zkio_strerror(e->rc)))
		x->changed = true;
	if (zkio_lost(e->rc)) {
		/* applied or not, nobody can say: its buckets are dirty again
		 * and the index is read again before the next write (at once
		 * if the session is still usable, else at the reconnect; the
		 * answer may come before or after it) */
		for (unsigned k = 0; k < x->w_n; k++)
			x->b[x->w_buckets[k]].dirty = true;
		x->reload_wanted = true;
		drop_write(x);
		flush(x, env);
		return;
	}
	for (unsigned k = 0; k < x->w_n; k++)
		x->b[x->w_buckets[k]].known = false;	/* on_head reads them */
	x->loaded = false;
	x->head_loading = true;
	zkio_read(env->io, x->p.head, false, TAG_IX_HEAD);
	drop_write(x);
}

/* ---- events and time ----------------------------------------------------- */

bool indexer_on_event(struct zkd_indexer *x, const struct ix_env *env,
		      const struct zkd_event *e)
{
	long k;

	if (e->kind == EV_WATCH) {
		k = ix_slot_of_path(&x->p, e->path);
		if (k < 0 || (unsigned long)k >= x->nslots || x->role == IXR_OFF)
			return k >= 0;
		zkio_stat(env->io, e->path, true, TAG_IX_SLOT);
		return true;
	}
	switch (e->tag) {
	case TAG_IX_HEADCHECK:
		on_headcheck(x, env, e);
		return true;
	case TAG_IX_ENSURE_STAT:
		ensure_on_stat(env->io, e, TAG_IX_ENSURE);
		return true;
	case TAG_IX_ENSURE:
		if (e->rc != ZOK && e->rc != ZNODEEXISTS && e->rc != ZCONNECTIONLOSS &&
		    zkd_error_set(&x->err, ZKH_LOG_WARN, "cannot create %s: %s", e->path,
				  zkio_strerror(e->rc)))
			x->changed = true;
		return true;
	case TAG_IX_SLOT:
		k = ix_slot_of_path(&x->p, e->path);
		if (k >= 0 && (unsigned long)k < x->nslots && x->role != IXR_OFF)
			on_slot_stat(x, env, k, e);
		return true;
	case TAG_IX_SLOT_CREATE:
		k = ix_slot_of_path(&x->p, e->path);
		if (k >= 0 && (unsigned long)k < x->nslots)
			on_slot_create(x, env, k, e);
		return true;
	case TAG_IX_HEAD:
		if (x->role == IXR_INDEXER)
			on_head(x, env, e);
		else
			x->head_loading = false;
		break;
	case TAG_IX_BUCKET:
		if (x->role == IXR_INDEXER)
			on_bucket(x, e);
		else if (x->loading)
			x->loading--;
		break;
	case TAG_IX_VERIFY:
		on_verify(x, e);
		break;
	case TAG_IX_WRITE:
		if (x->role == IXR_INDEXER)
			on_write(x, env, e);
		else
			drop_write(x);
		break;
	default:
		return false;
	}
	flush(x, env);
	return true;
}

void indexer_note_listing(struct zkd_indexer *x, uint64_t pzxid)
{
	x->listing_pzxid = pzxid;
}

void indexer_note_mirror(struct zkd_indexer *x, bool idle, bool synced)
{
	if (synced && !x->view_ready)
		x->all_dirty = true;
	x->view_ready = synced;
	if (idle && synced && x->listing_pzxid > x->reflected)
		x->reflected = x->listing_pzxid;
}

void indexer_tick(struct zkd_indexer *x, const struct ix_env *env)
{
	if (x->role == IXR_STANDING && x->stand_at && env->now >= x->stand_at &&
	    !x->creating && env->usable) {
		char path[ZKD_PATH_CAP];

		x->stand_at = 0;
		for (unsigned k = 0; k < x->nslots; k++)
			if (x->slot_free[k]) {
				ix_slot_path(&x->p, k, path);
				x->creating = true;
				zkio_create(env->io, path, x->ident, ZKIO_EPHEMERAL,
					    TAG_IX_SLOT_CREATE);
				break;
			}
	}
	flush(x, env);
}

uint64_t indexer_deadline(const struct zkd_indexer *x)
{
	uint64_t dl = x->role == IXR_STANDING && !x->creating ? x->stand_at : 0;

	if (x->role == IXR_INDEXER && x->pzxid_due && (!dl || x->pzxid_due < dl))
		dl = x->pzxid_due;
	if (x->role == IXR_INDEXER && x->sb == SB_WAIT && (!dl || x->sb_due < dl))
		dl = x->sb_due;
	return dl;
}

/*
 * mirror.c - the tree mirror (contract: mirror.h): what zkcached knows of
 * <root>/hosts, kept in step with ZooKeeper by one-shot watches and turned
 * into changes for the publisher's batch (batch.h). Requests go through
 * zkio; the session's state comes in struct mirror_env.
 *
 * A table (keyed by znode name exactly as in ZooKeeper, hashed on its
 * case-folded form) holds one entry per child: its czxid/mzxid as last
 * read and whether it was valid. A new session lists the children with a
 * child watch and reads every node with a data watch, at most
 * ZKD_MAX_INFLIGHT at a time; when all reads are in, the mirror reports
 * the sync complete and main sweeps the records the master holds that
 * were not seen (batch_sweep with mirror_keeps) and publishes as synced.
 * Later, a child event re-lists (new names are read, missing ones
 * removed), a data event re-reads one node, and so does a delete event:
 * the node may be back already, and only a read answering ZNONODE removes
 * it, so a delete + re-create (in one multi, or quickly one after the
 * other) replaces the record without a publish in between that lacks the
 * name. A node deleted and re-created reads back with a new czxid: we
 * compare czxid/mzxid, never the version. Reads lost to a connection loss
 * are retried after the same session reconnects, with one more listing.
 * A read the server refuses (an ACL, auth, any error but a lost
 * connection or ZNONODE) leaves no data watch: the node keeps its last
 * record, is marked pending, gets an exists watch (exists itself is not
 * subject to read ACLs; servers without the fix of CVE-2024-23944 deliver
 * its events too, fixed ones - 3.8.4, 3.9.2, Debian's 3.8.0-11+deb12u2 -
 * deliver none to a client that cannot read the node, which then learns
 * of a delete from the listing's child watch or the next retry) and is
 * read again after a backoff (retry.h; the due times sit in a min-heap
 * that the loop's deadline includes), until a read succeeds or answers
 * ZNONODE.
 * Pending nodes are kept by the end-of-sync sweep and do not hold up the
 * end of a full sync. A refused listing is retried the same way; the full
 * sync waits for it.
 * An invalid name or data is skipped with one log line per znode and
 * change (a re-read of the same mzxid stays quiet) and counted. Host
 * names are case-insensitive, so znodes whose names differ only in case
 * ("web", "WEB") are one record: the last one read is served, and when one
 * of them goes (deleted, or its data no longer valid) a valid sibling is
 * re-read to take the record over instead of the record being deleted.
 * The table hashes the case-folded name so siblings share a chain.
 *
 * Watch sessions (mirror.h). Above `per_session` names, a name's reads go
 * to the watch session jump_hash(fold(name), S) picks, so its data watch
 * lives there; the listing and its child watch stay on the main handle.
 * Growing S moves the names whose session changed: their watch is
 * removed from the old handle (zkio_unwatch, else the old session would
 * still re-send it on a reconnect) and they are read again on the new
 * one. A name whose session is not usable now is parked (not queued)
 * until mirror_on_shard_ready.
 *
 * Ordering across sessions. ZooKeeper orders one session's replies, not
 * two sessions': a watch session may be connected to a follower behind
 * the server that served the main handle's listing, and answer ZNONODE
 * for a name that listing showed (created after the point the follower
 * has reached). Taken as a delete, that would drop a live record until
 * some later event. So a ZNONODE from a watch session is not trusted by
 * itself: the mirror sends a sync on that session (the server catches up
 * with the leader before answering anything sent after it) and reads the
 * name again there; only a ZNONODE to a read sent after that sync
 * succeeded removes the name (n->sync_from says which session synced
 * for it; a failed sync clears it, so the next ZNONODE syncs again). A
 * sync per read after every listing would cost a round trip on the
 * common path; this costs one only when a watch session says a node is
 * missing (a delete, or a lagging server). A real delete is still seen
 * at once by the main handle's child watch: the listing that follows
 * drops names no longer listed (as without watch sessions).
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ensure.h"
#include "log.h"
#include "mirror.h"
#include "zkhosts/names.h"

enum node_kind { NK_NEW, NK_VALID, NK_BAD_NAME, NK_BAD_DATA };

struct zkd_node {
	struct zkd_node *hnext;	/* hash chain */
	struct zkd_node *qnext;	/* fetch queue */
	uint64_t czxid, mzxid;
	struct zkd_retry retry;	/* its refused reads */
	uint32_t list_stamp;	/* listing that last showed it */
	uint32_t read_epoch;	/* full-sync epoch of its last read */
	uint8_t kind;
	bool queued, inflight, refetch, removed;
	bool pending;		/* last read refused: record kept, retrying */
	bool exists_watch;	/* an exists watch is set or asked for */
	bool parked;		/* waits for its watch session (not queued) */
	uint8_t wshard;		/* handle its last read went to (0 main, i + 1) */
	uint8_t wat;		/* handle holding its data watch, or NO_WATCH */
	uint8_t sync_from;	/* handle synced before its next read, 0 none */
	char name[];
};

#define NO_WATCH 0xff

static struct zkd_node *node_of_retry(struct zkd_retry *r)
{
	return (struct zkd_node *)((char *)r - offsetof(struct zkd_node, retry));
}

/* A request lost with the connection (zkio_lost) is sent again once the
 * session is usable, with no backoff. Any other answer but ZOK and
 * ZNONODE is the server refusing it: retried with backoff. */

static void set_pending(struct zkd_mirror *m, struct zkd_node *n, bool on)
{
	if (n->pending == on)
		return;
	n->pending = on;
	if (on)
		m->pending++;
	else
		m->pending--;
	m->changed = true;
}

/* The sync slot: a refused listing first, else the refused reads. The
 * listing's text is stable across retries (logged once); the reads' count
 * changes and is not logged here (every node is logged once when its
 * reads start being refused). */
static void update_sync_error(struct zkd_mirror *m)
{
	bool changed;

	if (m->list_retry.failures)
		changed = zkd_error_set(&m->err, ZKH_LOG_ERR,
					"cannot list %s: %s; retrying with backoff",
					m->hosts, zkio_strerror(m->list_retry.rc));
	else if (m->pending)
		changed = zkd_error_set(&m->err, 0, "%" PRIu64 " znode%s cannot be read "
					"(last %s); records kept, retrying with backoff",
					m->pending, m->pending == 1 ? "" : "s",
					m->pending_last);
	else
		changed = zkd_error_clear(&m->err);
	if (changed)
		m->changed = true;
}

/* Hash of the ASCII-case-folded name: "web" and "WEB" share a chain. */
static size_t hash_name(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++) {
		uint8_t c = (uint8_t)*s;
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		h = (h ^ c) * 1099511628211ull;
	}
	return (size_t)h;
}

/* Jump consistent hash (Lamping and Veach, "A Fast, Minimal Memory,
 * Consistent Hash Algorithm", 2014): key -> [0, n), and going from n to
 * n + 1 moves only 1/(n + 1) of the keys. */
static size_t jump_hash(uint64_t key, size_t n)
{
	int64_t b = -1, j = 0;

	while (j < (int64_t)n) {
		b = j;
		key = key * 2862933555777941757ull + 1;
		j = (int64_t)((double)(b + 1) *
			      ((double)(1ll << 31) / (double)((key >> 33) + 1)));
	}
	return (size_t)b;
}

/* The handle n's reads go to: 0 main, i + 1 watch session i. */
static size_t target_of(const struct zkd_mirror *m, const struct zkd_node *n)
{
	return m->nshards ? 1 + jump_hash((uint64_t)hash_name(n->name), m->nshards) : 0;
}

static struct zkio *handle_io(const struct mirror_env *env, size_t h)
{
	if (h == 0)
		return env->io;
	return h - 1 < env->nw ? env->wio[h - 1] : NULL;
}

static bool handle_usable(const struct mirror_env *env, size_t h)
{
	if (h == 0)
		return env->usable;
	return h - 1 < env->nw && env->wusable[h - 1];
}

/* n's data watch is now on handle h (NO_WATCH: none). */
static void set_wat(struct zkd_mirror *m, struct zkd_node *n, unsigned h)
{
	if (n->wat == h)
		return;
	if (n->wat != NO_WATCH && m->watches[n->wat])
		m->watches[n->wat]--;
	n->wat = (uint8_t)h;
	if (h != NO_WATCH)
		m->watches[h]++;
	m->changed = true;
}

static void unpark(struct zkd_mirror *m, struct zkd_node *n)
{
	if (!n->parked)
		return;
	n->parked = false;
	if (m->parked)
		m->parked--;
}

static struct zkd_node *lookup(const struct zkd_mirror *m, const char *name)
{
	struct zkd_node *n = m->buckets[hash_name(name) % m->nbuckets];
	for (; n; n = n->hnext)
		if (strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

static void grow(struct zkd_mirror *m)
{
	size_t nb = m->nbuckets * 2;
	struct zkd_node **b = calloc(nb, sizeof *b);
	if (!b)
		return;		/* longer chains, still correct */
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct zkd_node *n = m->buckets[i];
		while (n) {
			struct zkd_node *next = n->hnext;
			size_t k = hash_name(n->name) % nb;
			n->hnext = b[k];
			b[k] = n;
			n = next;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = nb;
}

static struct zkd_node *add(struct zkd_mirror *m, const char *name)
{
	size_t len = strlen(name);
	struct zkd_node *n = calloc(1, sizeof *n + len + 1);
	if (!n)
		return NULL;
	memcpy(n->name, name, len + 1);
	n->wat = NO_WATCH;
	if (m->count >= m->nbuckets)
		grow(m);
	size_t k = hash_name(name) % m->nbuckets;
	n->hnext = m->buckets[k];
	m->buckets[k] = n;
	m->count++;
	return n;
}

static void set_kind(struct zkd_mirror *m, struct zkd_node *n, enum node_kind k)
{
	bool was_bad = n->kind == NK_BAD_NAME || n->kind == NK_BAD_DATA;
	bool bad = k == NK_BAD_NAME || k == NK_BAD_DATA;
	if (was_bad && !bad)
		m->skipped--;
	else if (!was_bad && bad)
		m->skipped++;
	if (was_bad != bad)
		m->changed = true;
	n->kind = (uint8_t)k;
}

static void enqueue(struct zkd_mirror *m, struct zkd_node *n)
{
	if (n->queued)
		return;
	if (n->inflight) {
		n->refetch = true;
		return;
	}
	n->queued = true;
	n->qnext = NULL;
	if (m->fq_tail)
		m->fq_tail->qnext = n;
	else
		m->fq_head = n;
	m->fq_tail = n;
}

/* Another valid node whose name differs from n's only in case, or NULL. */
static struct zkd_node *valid_sibling(const struct zkd_mirror *m,
				      const struct zkd_node *n)
{
	struct zkd_node *s = m->buckets[hash_name(n->name) % m->nbuckets];
	for (; s; s = s->hnext)
		if (s != n && s->kind == NK_VALID && strcasecmp(s->name, n->name) == 0)
			return s;
	return NULL;
}

/* n (valid until now) no longer backs its record. If a sibling does, read
 * it again (a forgotten mzxid makes the read an upsert, which replaces the
 * record and its reverse entries); the record stays until then, so lookups
 * never see the name missing. Otherwise delete the record. */
static void withdraw(struct zkd_mirror *m, const struct mirror_env *env,
		     struct zkd_node *n)
{
	struct zkd_node *s = valid_sibling(m, n);
	if (s) {
		s->mzxid = 0;
		enqueue(m, s);
	} else if (batch_delete(env->batch, n->name, env->now)) {
		m->resync = true;
	}
}

/* Unlink from the table; withdraw its record; free unless the fetch queue
 * still points at it (then the pump frees it). */
static void remove_node(struct zkd_mirror *m, const struct mirror_env *env,
			struct zkd_node *n)
{
	struct zkd_node **pp = &m->buckets[hash_name(n->name) % m->nbuckets];
	while (*pp && *pp != n)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = n->hnext;
	m->count--;
	/* a pending node's record was kept (maybe from an earlier run, even
	 * before this process read it): it goes too */
	if (n->kind == NK_VALID || n->pending)
		withdraw(m, env, n);
	set_kind(m, n, NK_NEW);
	retry_cancel(&m->timers, &n->retry);
	set_pending(m, n, false);
	set_wat(m, n, NO_WATCH);
	unpark(m, n);
	n->removed = true;
	if (!n->queued)
		free(n);
}

static bool host_path(const struct zkd_mirror *m, const char *name, char *out,
		      size_t cap)
{
	int n = snprintf(out, cap, "%s/%s", m->hosts, name);
	return n > 0 && (size_t)n < cap;
}

/* If the path is <hosts>/<name>, return name; else NULL. */
static const char *name_of(const struct zkd_mirror *m, const char *path)
{
	size_t hl = strlen(m->hosts);
	if (!path || strncmp(path, m->hosts, hl) != 0 || path[hl] != '/')
		return NULL;
	const char *name = path + hl + 1;
	return *name && !strchr(name, '/') ? name : NULL;
}

int mirror_init(struct zkd_mirror *m, const char *chroot, const char *root)
{
	memset(m, 0, sizeof *m);
	/* root "/" would give "//hosts"; treat it as "" */
	if (strcmp(root, "/") == 0)
		root = "";
	if ((size_t)snprintf(m->root, sizeof m->root, "%s%s", chroot, root) >= sizeof m->root ||
	    (size_t)snprintf(m->hosts, sizeof m->hosts, "%s/hosts", m->root) >= sizeof m->hosts ||
	    (size_t)snprintf(m->boot, sizeof m->boot, "%s/boot", m->root) >= sizeof m->boot)
		return -ENAMETOOLONG;
	m->per_session = ZKH_DEFAULT_WATCHES_PER_SESSION;
	m->nbuckets = 1024;
	m->buckets = calloc(m->nbuckets, sizeof *m->buckets);
	if (!m->buckets)
		return -ENOMEM;
	return 0;
}

void mirror_free(struct zkd_mirror *m)
{
	struct zkd_node *q = m->fq_head;

	retry_timers_free(&m->timers);
	while (q) {		/* removed nodes live only in the queue */
		struct zkd_node *next = q->qnext;
		if (q->removed)
			free(q);
		else
			q->queued = false;
		q = next;
	}
	m->fq_head = m->fq_tail = NULL;
	for (size_t i = 0; m->buckets && i < m->nbuckets; i++) {
		struct zkd_node *n = m->buckets[i];
		while (n) {
			struct zkd_node *next = n->hnext;
			free(n);
			n = next;
		}
	}
	free(m->buckets);
	m->buckets = NULL;
}

static void list_children(struct zkd_mirror *m, const struct mirror_env *env)
{
	if (!env->usable || m->list_inflight) {
		m->relist_wanted = true;
		return;
	}
	m->relist_wanted = false;
	m->list_inflight = true;
	retry_cancel(&m->timers, &m->list_retry);
	if (m->list_retry.failures)
		m->retries++;
	zkio_list(env->io, m->hosts);
}

/* The listing was refused (or <root>/hosts is still missing after we
 * asked for it): list again after a backoff. */
static void list_refused(struct zkd_mirror *m, const struct mirror_env *env, int rc)
{
	if (retry_failed(&m->timers, &m->list_retry, rc, env->now) < 0)
		zkd_log(ZKH_LOG_ERR, "out of memory scheduling the next listing of %s; "
			"it waits for the next change or resync", m->hosts);
}

/* Make <chroot><root>/hosts and boot exist. hosts_missing (its listing
 * said ZNONODE): create hosts with every ancestor now, so the listing
 * sent next sees it (a session's requests are served in order). Else,
 * and for boot always, ask exists first: a create that fails because the
 * node is there still costs the ensemble a transaction (ensure.h). */
static void ensure_layout(struct zkd_mirror *m, const struct mirror_env *env,
			  bool hosts_missing)
{
	if (hosts_missing)
		ensure_create_chain(env->io, m->hosts, TAG_ENSURE);
	ensure_node(env->io, m->boot, TAG_ENSURE_STAT);
}

void mirror_on_ensure(struct zkd_mirror *m, const struct zkd_event *e)
{
	(void)m;
	if (e->rc == ZOK)
		zkd_log_znode(ZKH_LOG_INFO, e->path, "created %s", e->path);
	else if (e->rc != ZNODEEXISTS && e->rc != ZCONNECTIONLOSS &&
		 e->rc != ZOPERATIONTIMEOUT)
		zkd_log_znode(ZKH_LOG_WARN, e->path, "cannot create %s: %s", e->path,
			      zkio_strerror(e->rc));
}

void mirror_start_full_sync(struct zkd_mirror *m, const struct mirror_env *env)
{
	m->epoch++;
	m->full_sync = true;
	m->synced = false;
	m->inflight = 0;
	m->list_inflight = false;
	m->relist_wanted = false;
	m->sync_started_ms = env->now;
	m->synced_listing = false;
	m->resync = false;
	/* requests of the old handle are gone: forget their flags (a new
	 * session has no watches either) */
	for (size_t i = 0; i < ZKD_WATCH_SESSIONS_MAX; i++)
		m->shard[i].inflight = 0;
	for (size_t i = 0; i < m->nbuckets; i++)
		for (struct zkd_node *n = m->buckets[i]; n; n = n->hnext) {
			n->inflight = n->refetch = n->exists_watch = false;
			if (n->wat == 0)
				set_wat(m, n, NO_WATCH);	/* the main session's */
		}
	if (env->usable)
		ensure_layout(m, env, false);	/* the listing finds hosts */
	list_children(m, env);
}

void mirror_on_reconnect(struct zkd_mirror *m, const struct mirror_env *env)
{
	if (m->full_sync && m->list_inflight)
		return;		/* the listing itself will be retried */
	list_children(m, env);
	mirror_pump(m, env);
}

void mirror_on_session_end(struct zkd_mirror *m)
{
	m->synced = false;
}

bool mirror_keeps(const char *name, void *mirror)
{
	const struct zkd_node *n = lookup(mirror, name);
	return n && (n->kind == NK_VALID || n->pending);
}

bool mirror_sync_complete(const struct zkd_mirror *m, bool usable)
{
	return m->full_sync && !m->list_inflight && !m->relist_wanted && !m->parked &&
	       !retry_scheduled(&m->list_retry) && !m->fq_head && !m->inflight && usable &&
	       m->epoch != 0 && m->synced_listing;
}

void mirror_finish_sync(struct zkd_mirror *m, size_t vanished, uint64_t now,
			uint64_t realtime_us)
{
	m->full_sync = false;
	m->synced = true;
	m->last_sync_us = realtime_us;
	zkd_log(ZKH_LOG_INFO, "full sync done in %" PRIu64 " ms: %zu nodes, %" PRIu64
		" skipped as invalid, %" PRIu64 " unreadable (records kept, retrying), "
		"%zu vanished records removed",
		now - m->sync_started_ms, m->count, m->skipped, m->pending, vanished);
	/* what the client would send in SetWatches on a reconnect, per
	 * handle (the main one also holds the child watch) */
	uint64_t bytes[ZKD_WATCH_SESSIONS_MAX + 1] = { 64 + 4 + strlen(m->hosts) };
	size_t worst = 0;
	for (size_t i = 1; i <= ZKD_WATCH_SESSIONS_MAX; i++)
		bytes[i] = 64;
	for (size_t i = 0; i < m->nbuckets; i++)
		for (struct zkd_node *n = m->buckets[i]; n; n = n->hnext)
			if (n->wat != NO_WATCH)
				bytes[n->wat] += 4 + strlen(m->hosts) + 1 + strlen(n->name);
	for (size_t i = 1; i <= ZKD_WATCH_SESSIONS_MAX; i++)
		if (bytes[i] > bytes[worst])
			worst = i;
	if (bytes[worst] > ZKD_WATCH_WARN_BYTES)
		zkd_log(ZKH_LOG_WARN, "%" PRIu64 " watches on %s need a ~%" PRIu64 "-byte "
			"SetWatches packet on reconnect; servers refuse more than "
			"jute.maxbuffer (default %d): expect a new session and full sync "
			"after each connection loss (lower watches_per_session, now %u)",
			m->watches[worst], worst ? "a watch session" : "the main session",
			bytes[worst], ZKD_SETWATCHES_MAX, m->per_session);
}

uint64_t mirror_watch_max(const struct zkd_mirror *m)
{
	uint64_t max = 0;

	for (size_t i = 0; i <= ZKD_WATCH_SESSIONS_MAX; i++)
		if (m->watches[i] > max)
			max = m->watches[i];
	return max;
}

/* Spread the names over `need` watch sessions (more than now): a name
 * whose watch is on another handle than its new one loses it there and
 * is read again (with a watch) on the new one. */
static void grow_shards(struct zkd_mirror *m, const struct mirror_env *env,
			size_t need)
{
	char path[ZKD_PATH_CAP];
	size_t moved = 0;

	zkd_log(ZKH_LOG_INFO, "%zu names under %s: spreading their data watches over "
		"%zu watch session%s (watches_per_session %u)", m->count, m->hosts,
		need, need == 1 ? "" : "s", m->per_session);
	m->nshards = m->want_shards = need;
	m->changed = true;
	for (size_t i = 0; i < m->nbuckets; i++)
		for (struct zkd_node *n = m->buckets[i]; n; n = n->hnext) {
			size_t t = target_of(m, n);

			if (n->wat == NO_WATCH || n->wat == t)
				continue;
			if (handle_usable(env, n->wat) &&
			    host_path(m, n->name, path, sizeof path) &&
			    !(n->wat == 0 && env->keep_path &&
			      strcmp(path, env->keep_path) == 0))
				zkio_unwatch(handle_io(env, n->wat), path,
					     TAG_MIRROR_UNWATCH);
			set_wat(m, n, NO_WATCH);
			enqueue(m, n);
			moved++;
		}
	if (moved)
		zkd_log(ZKH_LOG_INFO, "%zu names read again on their watch session", moved);
}

void mirror_on_children(struct zkd_mirror *m, const struct mirror_env *env,
			const struct zkd_event *e)
{
	m->list_inflight = false;
	if (e->rc == ZNONODE) {
		/* <root>/hosts vanished (or never was): make it, list again, at
		 * once the first time, then with backoff (creating it may be
		 * refused; mirror_tick makes it again before the retry) */
		if (env->usable && m->list_retry.failures) {
			list_refused(m, env, e->rc);
		} else if (env->usable) {
			ensure_layout(m, env, true);
			m->list_retry.failures = 1;
			m->list_retry.rc = e->rc;
			m->relist_wanted = true;
		}
	} else if (zkio_lost(e->rc)) {
		m->relist_wanted = true;	/* again after reconnect */
		return;
	} else if (e->rc != ZOK) {
		list_refused(m, env, e->rc);
	} else {
		retry_reset(&m->timers, &m->list_retry);
		m->list_stamp++;
		for (size_t i = 0; i < e->nnames; i++) {
			const char *name = e->names[i];
			struct zkd_node *n = lookup(m, name);
			if (!n) {
				n = add(m, name);
				if (!n) {
					m->resync = true;
					continue;
				}
				const char *why = zkh_name_problem(name, strlen(name));
				if (why) {
					char shown[80];
					size_t l = strlen(name);
					snprintf(shown, sizeof shown, "%.60s%s", name, l > 60 ? "..." : "");
					zkd_log(ZKH_LOG_WARN, "skipping %s/%s: not a valid host name (%s, %zu bytes)",
						m->hosts, shown, why, l);
					set_kind(m, n, NK_BAD_NAME);
				}
			}
			n->list_stamp = m->list_stamp;
			if (n->kind == NK_BAD_NAME)
				continue;
			/* (a pending node is read when its retry is due) */
			if ((n->kind == NK_NEW && !n->pending) ||
			    (m->full_sync && n->read_epoch != m->epoch))
				enqueue(m, n);
		}
		/* names no longer listed were deleted */
		for (size_t i = 0; i < m->nbuckets; i++) {
			struct zkd_node *n = m->buckets[i];
			while (n) {
				struct zkd_node *next = n->hnext;
				if (n->list_stamp != m->list_stamp)
					remove_node(m, env, n);
				n = next;
			}
		}
		if (m->full_sync)
			m->synced_listing = true;
		if (m->count > m->per_session) {
			size_t need = (m->count + m->per_session - 1) / m->per_session;

			if (need > ZKD_WATCH_SESSIONS_MAX)
				need = ZKD_WATCH_SESSIONS_MAX;
			if (need > m->nshards)
				grow_shards(m, env, need);
		}
	}
	if (m->relist_wanted)
		list_children(m, env);
	update_sync_error(m);
	mirror_pump(m, env);
}

static void describe_bad_data(const struct zkd_event *e,
			      const struct zkh_addrlist_report *rep,
			      char *out, size_t cap)
{
	if (e->data_len <= 0)
		snprintf(out, cap, "empty data");
	else if (rep->first_invalid[0])
		snprintf(out, cap, "no valid address in %d bytes of data (first bad token '%s'%s)",
			 e->data_len, rep->first_invalid,
			 rep->nul_bytes ? ", binary bytes" : "");
	else
		snprintf(out, cap, "no valid address in %d bytes of data%s", e->data_len,
			 rep->nul_bytes ? " (binary bytes)" : "");
}

/* The server refused to read n: keep its record, mark it pending, watch
 * it with exists, read it again after a backoff. */
static void read_refused(struct zkd_mirror *m, const struct mirror_env *env,
			 struct zkd_node *n, const char *path, int rc)
{
	int64_t delay;

	if (!n->pending)
		zkd_log(ZKH_LOG_WARN, "cannot read %s: %s; %s, retrying with backoff",
			path, zkio_strerror(rc), n->kind == NK_VALID ?
			"keeping its record" : "no record for it until it can be read");
	set_pending(m, n, true);
	snprintf(m->pending_last, sizeof m->pending_last, "%s: %s", path,
		 zkio_strerror(rc));
	delay = retry_failed(&m->timers, &n->retry, rc, env->now);
	if (delay < 0)
		zkd_log(ZKH_LOG_ERR, "out of memory scheduling the next read of %s; "
			"it waits for its next change or a resync", path);
	else
		zkd_log(ZKH_LOG_DEBUG, "%s: refusal %u, next read in %" PRId64 " ms",
			path, n->retry.failures, delay);
	if (!n->exists_watch) {
		n->exists_watch = true;
		zkio_exists(handle_io(env, env->from) ? handle_io(env, env->from) :
			    env->io, path, TAG_MIRROR_EXISTS);
	}
}

void mirror_on_data(struct zkd_mirror *m, const struct mirror_env *env,
		    const struct zkd_event *e)
{
	struct zkh_addr addrs[ZKH_MAX_ADDRS];
	struct zkh_addrlist_report rep;
	char why[200];

	if (m->inflight)
		m->inflight--;
	if (env->from && env->from <= ZKD_WATCH_SESSIONS_MAX &&
	    m->shard[env->from - 1].inflight)
		m->shard[env->from - 1].inflight--;
	const char *name = name_of(m, e->path);
	struct zkd_node *n = name ? lookup(m, name) : NULL;
	if (!n)
		goto out;	/* removed meanwhile; a listing will tell */
	n->inflight = false;
	if (e->rc == ZNONODE && env->from != 0 && n->sync_from != env->from) {
		/* a watch session's server may be behind the listing (see
		 * the top of this file): sync it, then ask it again */
		set_wat(m, n, NO_WATCH);
		n->sync_from = (uint8_t)env->from;
		zkio_sync(handle_io(env, env->from), m->hosts, TAG_MIRROR_SYNC);
		enqueue(m, n);
		goto out;
	}
	if (e->rc == ZNONODE) {
		remove_node(m, env, n);	/* may free it */
		n = NULL;
		goto out;
	}
	if (zkio_lost(e->rc)) {
		enqueue(m, n);	/* sent again once reconnected */
		goto out;
	}
	n->read_epoch = m->epoch;
	n->sync_from = 0;
	if (e->rc != ZOK || !e->has_stat) {
		set_wat(m, n, NO_WATCH);
		read_refused(m, env, n, e->path, e->rc != ZOK ? e->rc : ZSYSTEMERROR);
		goto out;
	}
	set_wat(m, n, (unsigned)env->from);
	if (n->pending)
		zkd_log(ZKH_LOG_INFO, "%s can be read again (after %u refusals)",
			e->path, n->retry.failures);
	retry_reset(&m->timers, &n->retry);
	set_pending(m, n, false);
	uint64_t czxid = (uint64_t)e->stat.czxid, mzxid = (uint64_t)e->stat.mzxid;
	if (n->kind != NK_NEW && n->czxid == czxid && n->mzxid == mzxid)
		goto out;	/* same version as before: nothing to do */
	n->czxid = czxid;
	n->mzxid = mzxid;
	size_t na = zkh_addrlist_parse(e->data ? e->data : "", (size_t)(e->data_len > 0 ? e->data_len : 0),
				       addrs, ZKH_MAX_ADDRS, &rep);
	if (na == 0) {
		describe_bad_data(e, &rep, why, sizeof why);
		zkd_log_znode(ZKH_LOG_WARN, e->path, "skipping %s: %s", e->path, why);
		if (n->kind == NK_VALID)
			withdraw(m, env, n);
		set_kind(m, n, NK_BAD_DATA);
		goto out;
	}
	if (rep.invalid || rep.over_cap)
		zkd_log(ZKH_LOG_WARN, "%s: kept %zu addresses, dropped %u invalid token%s%s%s%s and %u past the cap of %d",
			e->path, na, rep.invalid, rep.invalid == 1 ? "" : "s",
			rep.first_invalid[0] ? " (first '" : "", rep.first_invalid,
			rep.first_invalid[0] ? "')" : "", rep.over_cap, ZKH_MAX_ADDRS);
	struct zkd_node *sib = valid_sibling(m, n);
	if (sib)
		zkd_log(ZKH_LOG_WARN, "%s/%s and %s/%s differ only in case, so they are "
			"one host name: serving %s, the one written last",
			m->hosts, n->name, m->hosts, sib->name, n->name);
	batch_note_mzxid(env->batch, mzxid);	/* for the fleet index */
	if (batch_upsert(env->batch, n->name, czxid, addrs, na, env->now)) {
		m->resync = true;	/* out of memory: resync later */
		goto out;
	}
	set_kind(m, n, NK_VALID);
out:
	if (n && !n->removed && n->refetch) {
		n->refetch = false;
		enqueue(m, n);
	}
	update_sync_error(m);
	mirror_pump(m, env);
}

void mirror_on_exists(struct zkd_mirror *m, const struct mirror_env *env,
		      const struct zkd_event *e)
{
	const char *name = name_of(m, e->path);
	struct zkd_node *n = name ? lookup(m, name) : NULL;

	if (!n)
		return;		/* removed meanwhile */
	if (e->rc == ZNONODE) {
		/* gone: a read answering ZNONODE removes it (or finds it
		 * created again), as for a delete event */
		n->exists_watch = false;
		enqueue(m, n);
	} else if (e->rc != ZOK) {
		n->exists_watch = false;	/* asked again at the next refusal */
	}
	mirror_pump(m, env);
}

void mirror_on_watch(struct zkd_mirror *m, const struct mirror_env *env,
		     const struct zkd_event *e)
{
	const char *name = name_of(m, e->path);

	if (e->type == ZKIO_CHILD_EVENT) {
		if (e->path && strcmp(e->path, m->hosts) == 0)
			list_children(m, env);
	} else if (e->type == ZKIO_CHANGED_EVENT) {
		struct zkd_node *n = name ? lookup(m, name) : NULL;
		if (n)
			n->exists_watch = false;	/* one-shot: fired */
		if (n && n->wat == env->from)
			set_wat(m, n, NO_WATCH);
		if (n && n->kind != NK_BAD_NAME)
			enqueue(m, n);
	} else if (e->type == ZKIO_DELETED_EVENT) {
		/* Read it again before dropping its record: a node deleted and
		 * re-created (a registration taken over in one multi, a script's
		 * delete + create) reads back with a new czxid and replaces the
		 * record in one publish, so no lookup sees the name missing in
		 * between. A read answering ZNONODE removes it. */
		struct zkd_node *n = name ? lookup(m, name) : NULL;
		if (n)
			n->exists_watch = false;
		if (n && n->wat == env->from)
			set_wat(m, n, NO_WATCH);
		if (n && n->kind != NK_BAD_NAME)
			enqueue(m, n);
		else if (n)
			remove_node(m, env, n);
		else if (e->path && strcmp(e->path, m->hosts) == 0)
			list_children(m, env);	/* ZNONODE: recreate */
	}
	mirror_pump(m, env);
}

void mirror_pump(struct zkd_mirror *m, const struct mirror_env *env)
{
	char path[ZKD_PATH_CAP];

	while (env->usable && m->inflight < ZKD_MAX_INFLIGHT && m->fq_head) {
		struct zkd_node *n = m->fq_head;
		m->fq_head = n->qnext;
		if (!m->fq_head)
			m->fq_tail = NULL;
		n->queued = false;
		if (n->removed) {
			free(n);
			continue;
		}
		if (!host_path(m, n->name, path, sizeof path))
			continue;	/* cannot happen: valid names are short */
		size_t h = target_of(m, n);
		if (!handle_usable(env, h)) {
			if (!n->parked) {	/* read once its session is ready */
				n->parked = true;
				m->parked++;
			}
			continue;
		}
		unpark(m, n);
		n->inflight = true;
		n->wshard = (uint8_t)h;
		m->inflight++;
		if (h)
			m->shard[h - 1].inflight++;
		retry_cancel(&m->timers, &n->retry);	/* read now instead */
		if (n->retry.failures)
			m->retries++;
		zkio_get_data(handle_io(env, h), path);
	}
}

void mirror_on_sync(struct zkd_mirror *m, const struct mirror_env *env,
		    const struct zkd_event *e)
{
	if (e->rc == ZOK)
		return;
	/* the reads after it are not known to see the listing's state */
	for (size_t i = 0; i < m->nbuckets; i++)
		for (struct zkd_node *n = m->buckets[i]; n; n = n->hnext)
			if (n->sync_from == env->from)
				n->sync_from = 0;
}

void mirror_on_shard_ready(struct zkd_mirror *m, const struct mirror_env *env,
			   size_t i)
{
	(void)i;
	if (m->parked)
		for (size_t b = 0; b < m->nbuckets; b++)
			for (struct zkd_node *n = m->buckets[b]; n; n = n->hnext)
				if (n->parked && handle_usable(env, target_of(m, n))) {
					unpark(m, n);
					enqueue(m, n);
				}
	mirror_pump(m, env);
}

void mirror_on_shard_closed(struct zkd_mirror *m, const struct mirror_env *env,
			    size_t i)
{
	size_t h = i + 1;

	m->inflight -= m->shard[i].inflight < m->inflight ? m->shard[i].inflight : m->inflight;
	m->shard[i].inflight = 0;
	for (size_t b = 0; b < m->nbuckets; b++)
		for (struct zkd_node *n = m->buckets[b]; n; n = n->hnext) {
			bool mine = n->wshard == h || n->wat == h;

			if (n->sync_from == h)
				n->sync_from = 0;
			if (!mine)
				continue;
			if (n->wat == h)
				set_wat(m, n, NO_WATCH);
			n->exists_watch = false;
			n->inflight = n->refetch = false;
			if (n->kind != NK_BAD_NAME)
				enqueue(m, n);	/* parked until it is ready */
		}
	mirror_pump(m, env);
}

void mirror_tick(struct zkd_mirror *m, const struct mirror_env *env)
{
	struct zkd_retry *r;

	while ((r = retry_pop_due(&m->timers, env->now)) != NULL) {
		if (r == &m->list_retry) {
			if (m->list_retry.rc == ZNONODE && env->usable)
				ensure_layout(m, env, true);
			list_children(m, env);
		} else
			enqueue(m, node_of_retry(r));
	}
	mirror_pump(m, env);
}

uint64_t mirror_deadline(const struct zkd_mirror *m)
{
	return retry_next(&m->timers);
}

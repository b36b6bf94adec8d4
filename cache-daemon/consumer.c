/*
 * consumer.c - the reader of the fleet index (contract: index.h; znodes:
 * zkindex.h; reasons: docs/scale.md). It holds one data watch, on the
 * head. A head notification costs one read of the head: its ring says
 * which bucket went from which version to which by which entries, and a
 * bucket the consumer holds at the version before is updated in place,
 * its changes handed to the batch as the mirror would. Anything the ring
 * cannot explain (the consumer fell behind the ring, a group marked '*',
 * a split, a version it did not expect, a new epoch, a new session) is
 * settled by reading buckets: the ones named, or after a pipelined
 * `exists` of the buckets the head's recent-writes map marks as written
 * since the consumer's last sequence (of every bucket when the map does
 * not reach back that far, or the index is new to it), only those whose
 * (czxid, version) changed.
 * One head read and one round of bucket reads at a time: notifications
 * that arrive meanwhile are coalesced into one more head read.
 *
 * The first completed round makes the batch hold exactly the index
 * (dispatch sweeps with consumer_keeps). A head of a format this daemon
 * does not know, or malformed, is refused: the consumer keeps what it
 * has, says why (error slot), and waits for the next head. Every
 * ZKD_IX_CHECK_MS (jittered) it compares the head's pzxid with
 * exists(<root>/hosts): an index that did not reach, in one period, the
 * pzxid the directory had at the previous check is stale; the consumer
 * says so, deletes the election slots held since before that pzxid (the
 * election moves on), and asks for the mirror fallback only while the
 * directory is smaller than `index_fallback_max`. A head read that
 * failed (refused: an ACL, auth; such a read leaves no watch) is tried
 * again at each of those checks until it succeeds; a refused bucket
 * read keeps that bucket as it was and is tried again with a backoff
 * (ZKD_IX_RETRY_MIN_MS doubling to ZKD_IX_RETRY_MAX_MS) until it
 * succeeds, and every later compare includes it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "log.h"
#include "zkhosts/names.h"

struct cs_bucket {
	int32_t version;	/* -1: absent */
	int64_t czxid;
	bool known;
	bool failed;		/* its last read or exists was refused: retry */
	bool reread;		/* read in the round under way */
	bool fresh_ok;		/* fresh holds what the read found */
	int32_t fresh_version;
	int64_t fresh_czxid;
	struct ix_set cur;	/* what the batch got from this bucket */
	struct ix_set fresh;
};

int consumer_init(struct zkd_consumer *c, const char *root_path,
		  unsigned fallback_max, uint64_t seed)
{
	memset(c, 0, sizeof *c);
	c->fallback_max = fallback_max;
	c->hosts_children = -1;
	c->seed = seed | 1;
	return ix_paths_init(&c->p, root_path);
}

static void drop_buckets(struct zkd_consumer *c)
{
	for (unsigned i = 0; i < c->nb; i++) {
		ixset_clear(&c->b[i].cur);
		ixset_clear(&c->b[i].fresh);
	}
	free(c->b);
	c->b = NULL;
	c->nb = 0;
}

void consumer_free(struct zkd_consumer *c)
{
	drop_buckets(c);
}

static uint64_t rnd(struct zkd_consumer *c)
{
	c->seed ^= c->seed << 13;
	c->seed ^= c->seed >> 7;
	c->seed ^= c->seed << 17;
	return c->seed;
}

static uint64_t next_check(struct zkd_consumer *c, uint64_t now)
{
	uint64_t span = ZKD_IX_CHECK_MS * 2 / 5;	/* +-20 % */

	return now + ZKD_IX_CHECK_MS - span / 2 + rnd(c) % span;
}

static void read_head(struct zkd_consumer *c, const struct cs_env *env)
{
	if (c->head_inflight) {
		c->head_again = true;
		return;
	}
	c->head_inflight = true;
	c->head_again = false;
	c->head_reads++;
	zkio_read(env->io, c->p.head, true, TAG_CS_HEAD);
}

static void check_hosts(struct zkd_consumer *c, const struct cs_env *env)
{
	c->exists_reads++;
	zkio_stat(env->io, c->p.hosts, false, TAG_CS_HOSTS);
}

void consumer_start(struct zkd_consumer *c, const struct cs_env *env)
{
	c->active = true;
	c->in_step = false;
	c->round = false;
	c->pending = 0;
	for (unsigned i = 0; i < c->nb; i++)
		c->b[i].reread = false;
	c->check_at = next_check(c, env->now);
	read_head(c, env);
	check_hosts(c, env);
}

void consumer_stop(struct zkd_consumer *c)
{
	c->active = false;
	c->resume = false;
	c->in_step = false;
	c->want_fallback = false;
	c->waiting = false;
	c->round = false;
	c->pending = 0;
}

void consumer_on_reconnect(struct zkd_consumer *c, const struct cs_env *env)
{
	/* the head's watch is restored by the client; reads lost with the
	 * connection are not: read the head again (its ring, or a compare) */
	c->head_inflight = false;
	if (c->round || c->pending) {
		c->round = false;
		c->pending = 0;
		c->have_head = false;	/* compare every bucket */
	}
	read_head(c, env);
}

void consumer_on_session_end(struct zkd_consumer *c)
{
	/* What we hold is still the index at my_seq unless a round was cut
	 * short: then the new session's first head compares only the
	 * buckets its map marks as written since (every bucket otherwise). */
	c->resume = c->active && c->have_head && c->in_step && !c->round && !c->pending;
	c->head_inflight = false;
	c->head_again = false;
	c->round = false;
	c->pending = 0;
	c->in_step = false;
	c->have_head = c->resume;
	c->changed = true;
}

static int resize(struct zkd_consumer *c, unsigned n)
{
	struct cs_bucket *b;

	if (n <= c->nb)
		return 0;
	b = realloc(c->b, n * sizeof *b);
	if (!b)
		return -ENOMEM;
	memset(b + c->nb, 0, (n - c->nb) * sizeof *b);
	for (unsigned i = c->nb; i < n; i++)
		b[i].version = -1;
	c->b = b;
	c->nb = n;
	return 0;
}

static void reread(struct zkd_consumer *c, const struct cs_env *env, unsigned i)
{
	char path[ZKD_PATH_CAP];

	if (i >= c->nb || c->b[i].reread)
		return;
	c->b[i].reread = true;
	c->b[i].fresh_ok = false;
	c->round = true;
	c->pending++;
	c->bucket_reads++;
	ix_bucket_path(&c->p, i, path);
	zkio_read(env->io, path, false, TAG_CS_BUCKET);
}

/* Compare bucket versions (exists): every bucket, or with `since` only
 * those the head's map marks as written after *since (and any we do not
 * know). */
static void compare(struct zkd_consumer *c, const struct cs_env *env,
		    const uint64_t *since)
{
	char path[ZKD_PATH_CAP];
	bool *written = NULL;

	c->round = true;
	if (since) {
		written = calloc(c->h.nbuckets ? c->h.nbuckets : 1, sizeof *written);
		if (written && zkx_map_since(&c->h, *since, written, c->h.nbuckets) == 0) {
			c->map_rounds++;
		} else {
			free(written);
			written = NULL;
		}
	}
	for (unsigned i = 0; i < c->h.nbuckets; i++) {
		if (written && i < c->nb && c->b[i].known && !c->b[i].failed && !written[i])
			continue;
		c->pending++;
		c->exists_reads++;
		ix_bucket_path(&c->p, i, path);
		zkio_stat(env->io, path, false, TAG_CS_EXISTS);
	}
	free(written);
}

/* Hand one entry line to the batch (upsert). */
static int upsert_line(const struct cs_env *env, const char *line)
{
	struct zkx_entry e;

	if (zkx_entry_parse(line, strlen(line), &e))
		return -EINVAL;
	return batch_upsert(env->batch, e.name, e.czxid, e.addrs, e.naddrs, env->now);
}

static void delete_line(const struct cs_env *env, const char *line)
{
	char name[ZKH_NAME_MAX + 1];
	size_t n = strcspn(line, " ");

	if (n > ZKH_NAME_MAX)
		return;
	memcpy(name, line, n);
	name[n] = '\0';
	batch_delete(env->batch, name, env->now);
}

/* The round's reads are in: hand the differences to the batch. */
static void commit(struct zkd_consumer *c, const struct cs_env *env)
{
	unsigned nb = c->h.nbuckets;

	/* deletions: held before, found nowhere now */
	for (unsigned i = 0; i < c->nb; i++) {
		struct cs_bucket *b = &c->b[i];

		if (!b->reread || !b->fresh_ok)
			continue;
		for (size_t k = 0; k < b->cur.n; k++) {
			const char *key = b->cur.v[k].key;
			unsigned to = zkx_bucket_of(zkx_hash(key, strlen(key)), nb);

			if (to < c->nb && c->b[to].reread && !c->b[to].fresh_ok)
				continue;	/* its new bucket's read failed: keep */
			if (to < c->nb && (c->b[to].reread ? ixset_get(&c->b[to].fresh, key)
					   : ixset_get(&c->b[to].cur, key)))
				continue;
			delete_line(env, b->cur.v[k].line);
		}
	}
	/* upserts: new or different */
	for (unsigned i = 0; i < c->nb; i++) {
		struct cs_bucket *b = &c->b[i];

		if (!b->reread || !b->fresh_ok)
			continue;
		for (size_t k = 0; k < b->fresh.n; k++) {
			const struct ix_kv *o = ixset_get(&b->cur, b->fresh.v[k].key);

			for (unsigned j = 0; !o && j < c->nb; j++)
				if (j != i && c->b[j].reread)
					o = ixset_get(&c->b[j].cur, b->fresh.v[k].key);
			if (!o || strcmp(o->line, b->fresh.v[k].line) != 0)
				upsert_line(env, b->fresh.v[k].line);
		}
	}
	for (unsigned i = 0; i < c->nb; i++) {
		struct cs_bucket *b = &c->b[i];

		if (!b->reread)
			continue;
		b->reread = false;
		if (!b->fresh_ok)
			continue;
		ixset_take(&b->cur, &b->fresh);
		b->version = b->fresh_version;
		b->czxid = b->fresh_czxid;
		b->known = true;
	}
	c->round = false;
	if (!c->in_step) {
		c->in_step = true;
		c->want_sweep = true;
		c->changed = true;
		zkd_log(ZKH_LOG_INFO, "index: following %s (%u buckets, epoch %" PRIu64 ")",
			c->p.dir, c->h.nbuckets, c->h.epoch);
	}
	if (c->head_again)
		read_head(c, env);
}

enum ring_result {
	RING_APPLIED,	/* the ring brought us to its seq (reads may follow) */
	RING_BEHIND,	/* it does not reach back to my_seq + 1: nothing done */
	RING_FAILED	/* malformed, or out of memory: compare every bucket */
};

/* Apply the ring of a head whose identity we know. */
static enum ring_result apply_ring(struct zkd_consumer *c, const struct cs_env *env,
		       const char *buf, size_t len, size_t pos,
		       const struct zkx_head *nh)
{
	struct zkx_ring_rec *r = malloc(sizeof *r);
	uint64_t oldest = 0;
	size_t p = pos;
	int rc, left = 0;
	bool apply = false, ok = true;
	struct cs_bucket *gb = NULL;

	if (!r)
		return RING_FAILED;
	/* the ring must reach back to my_seq + 1 */
	while ((rc = zkx_ring_next(buf, len, &p, r)) == 1)
		if ((r->kind == ZKX_R_GROUP || r->kind == ZKX_R_SPLIT) && !oldest)
			oldest = r->seq;
	if (rc < 0) {
		free(r);
		return RING_FAILED;
	}
	if (nh->seq > c->my_seq && (!oldest || oldest > c->my_seq + 1)) {
		free(r);
		return RING_BEHIND;
	}
	if (resize(c, nh->nbuckets)) {
		free(r);
		return RING_FAILED;
	}
	p = pos;
	while (ok && (rc = zkx_ring_next(buf, len, &p, r)) == 1) {
		switch (r->kind) {
		case ZKX_R_GROUP:
			ok = left == 0 && r->bucket < nh->nbuckets;
			if (!ok)
				break;
			gb = &c->b[r->bucket];
			left = r->nentries < 0 ? 0 : r->nentries;
			apply = r->seq > c->my_seq && gb->known && !gb->reread &&
				gb->version == r->version - 1 && r->nentries >= 0;
			if (r->seq > c->my_seq && !apply && gb->version != r->version)
				reread(c, env, r->bucket);
			if (apply) {
				gb->version = r->version;
				c->ring_applied++;
			}
			break;
		case ZKX_R_SPLIT:
			ok = left == 0 && r->bucket < nh->nbuckets && r->to_bucket < nh->nbuckets;
			if (ok && r->seq > c->my_seq) {
				reread(c, env, r->bucket);
				reread(c, env, r->to_bucket);
			}
			break;
		case ZKX_R_UPSERT:
		case ZKX_R_DELETE:
			ok = left > 0;
			left--;
			if (!ok || !apply)
				break;
			if (zkx_bucket_of(zkx_hash(r->entry.key, strlen(r->entry.key)),
					  nh->nbuckets) != (unsigned)(gb - c->b)) {
				ok = false;
				break;
			}
			if (r->kind == ZKX_R_UPSERT) {
				char line[ZKX_LINE_MAX + 1];

				zkx_entry_format(&r->entry, line, sizeof line);
				if (ixset_put(&gb->cur, r->entry.key, line) == 0)
					upsert_line(env, line);
			} else if (ixset_del(&gb->cur, r->entry.key)) {
				batch_delete(env->batch, r->entry.name, env->now);
			}
			break;
		}
	}
	free(r);
	if (!ok || rc < 0 || left)
		return RING_FAILED;
	/* buckets the ring did not mention but the head has: read them */
	for (unsigned i = 0; i < nh->nbuckets; i++)
		if (!c->b[i].known && !c->b[i].reread)
			reread(c, env, i);
	return RING_APPLIED;
}

static void refuse(struct zkd_consumer *c, const char *why)
{
	c->state = CS_REFUSED;
	if (zkd_error_set(&c->err, ZKH_LOG_ERR, "index head %s: %s; serving the last "
			  "snapshot", c->p.head, why))
		c->changed = true;
}

static void decide_without_index(struct zkd_consumer *c)
{
	bool small = c->hosts_children >= 0 &&
		     (uint64_t)c->hosts_children < c->fallback_max;

	c->want_fallback = small;
	c->waiting = !small && c->hosts_children >= 0;
}

static void on_head(struct zkd_consumer *c, const struct cs_env *env,
		    const struct zkd_event *e)
{
	struct zkx_head nh;
	size_t body;
	const char *buf = e->data ? e->data : "";
	size_t len = (size_t)(e->data_len > 0 ? e->data_len : 0);
	enum ring_result ring;
	int rc;

	c->head_inflight = false;
	if (e->kind == EV_EXISTS) {	/* the exists watch of a missing head */
		if (e->rc == ZOK)
			read_head(c, env);
		return;
	}
	if (e->rc == ZNONODE) {
		c->state = CS_NO_INDEX;
		c->have_head = false;
		c->changed = true;
		/* a data read of a missing node leaves no watch: exists does */
		zkio_stat(env->io, c->p.head, true, TAG_CS_HEAD);
		decide_without_index(c);
		return;
	}
	if (e->rc != ZOK) {
		/* a refused read sets no watch: read again at the next check */
		c->head_failed = true;
		if (e->rc != ZCONNECTIONLOSS && e->rc != ZOPERATIONTIMEOUT &&
		    e->rc != ZINVALIDSTATE && e->rc != ZSESSIONEXPIRED)
			refuse(c, zkio_strerror(e->rc));
		return;
	}
	c->head_failed = false;
	rc = zkx_head_parse(buf, len, &nh, &body);
	if (rc == -EPROTO) {
		refuse(c, "written in a format this zkcached does not know (newer zkhosts?)");
		return;
	}
	if (rc) {
		refuse(c, "malformed");
		return;
	}
	if (c->state != CS_FOLLOWING) {
		c->state = CS_FOLLOWING;
		c->changed = true;
	}
	if (zkd_error_clear(&c->err))
		c->changed = true;
	c->want_fallback = false;
	c->waiting = false;
	if (!c->active) {
		c->h = nh;
		return;		/* dispatch switches to following */
	}
	if (c->round) {
		c->head_again = true;	/* after this round */
		return;
	}
	if (!c->have_head || c->head_czxid != e->stat.czxid || c->h.epoch != nh.epoch ||
	    (!c->in_step && !c->resume)) {
		/* a new index, or we do not know where we are: compare all */
		if (c->have_head && (c->head_czxid != e->stat.czxid || c->h.epoch != nh.epoch))
			zkd_log(ZKH_LOG_INFO, "index: new epoch %" PRIu64 "; comparing every bucket",
				nh.epoch);
		c->h = nh;
		c->have_head = true;
		c->head_czxid = e->stat.czxid;
		c->my_seq = nh.seq;
		c->resume = false;
		if (resize(c, nh.nbuckets) == 0)
			compare(c, env, NULL);
		if (!c->pending) {
			c->round = true;
			commit(c, env);
		}
		return;
	}
	if (c->resume) {
		/* a new session, same index: the buckets written since my_seq
		 * (all if the map does not reach back that far) */
		ring = RING_BEHIND;
		c->resume = false;
	} else if (nh.nbuckets < c->h.nbuckets) {
		ring = RING_FAILED;
	} else {
		ring = apply_ring(c, env, buf, len, body, &nh);
	}
	if (ring != RING_APPLIED) {
		uint64_t since = c->my_seq;
		bool by_map = ring == RING_BEHIND && nh.nbuckets >= c->h.nbuckets &&
			      zkx_map_covers(&nh, since);

		c->h = nh;
		c->my_seq = nh.seq;
		if (resize(c, nh.nbuckets) == 0)
			compare(c, env, by_map ? &since : NULL);
		if (!c->pending) {
			c->round = true;
			commit(c, env);
		}
		return;
	}
	c->h = nh;
	c->my_seq = nh.seq;
	c->changed = true;
}

/* A bucket's exists or read failed. A lost connection is the session's
 * business (reconnect, new session); a refusal (ACL, auth) is retried
 * with a backoff (1 s doubling to 60 s, jittered) until it succeeds, and
 * until then the bucket keeps what it had and the error says why. */
static void bucket_failed(struct zkd_consumer *c, const struct cs_env *env,
			  unsigned i, int rc)
{
	char why[96];

	if (zkio_lost(rc)) {
		/* lost with the connection, maybe before the reconnect event:
		 * the round will end without it, so the next head (read at the
		 * reconnect) compares every bucket */
		c->have_head = false;
		return;
	}
	c->b[i].failed = true;
	snprintf(why, sizeof why, "bucket %u refused (%s); retrying", i, zkio_strerror(rc));
	if (zkd_error_set(&c->err, ZKH_LOG_ERR, "index %s: %s", c->p.dir, why))
		c->changed = true;
	if (c->retry_at)
		return;
	c->retry_ms = c->retry_ms ? c->retry_ms * 2 : ZKD_IX_RETRY_MIN_MS;
	if (c->retry_ms > ZKD_IX_RETRY_MAX_MS)
		c->retry_ms = ZKD_IX_RETRY_MAX_MS;
	c->retry_at = env->now + c->retry_ms / 2 + rnd(c) % (c->retry_ms / 2 + 1);
}

/* A bucket read succeeded: it no longer needs a retry; once none does,
 * the backoff starts over and the error clears. */
static void bucket_ok(struct zkd_consumer *c, unsigned i)
{
	if (!c->b[i].failed)
		return;
	c->b[i].failed = false;
	for (unsigned k = 0; k < c->nb; k++)
		if (c->b[k].failed)
			return;
	c->retry_ms = 0;
	c->retry_at = 0;
	if (c->state == CS_FOLLOWING && zkd_error_clear(&c->err))
		c->changed = true;
}

static void on_exists(struct zkd_consumer *c, const struct cs_env *env,
		      const struct zkd_event *e)
{
	long i = ix_bucket_of_path(&c->p, e->path);

	if (c->pending)
		c->pending--;
	if (i >= 0 && (unsigned long)i < c->nb) {
		struct cs_bucket *b = &c->b[i];

		if (e->rc == ZOK && (!b->known || b->failed || b->czxid != e->stat.czxid ||
				     b->version != e->stat.version))
			reread(c, env, (unsigned)i);
		else if (e->rc == ZNONODE && (!b->known || b->version != -1)) {
			b->reread = true;
			ixset_clear(&b->fresh);
			b->fresh_ok = true;
			b->fresh_version = -1;
			b->fresh_czxid = 0;
			bucket_ok(c, (unsigned)i);
		} else if (e->rc != ZOK && e->rc != ZNONODE) {
			bucket_failed(c, env, (unsigned)i, e->rc);
		}
	}
	if (!c->pending && c->round)
		commit(c, env);
}

static void on_bucket(struct zkd_consumer *c, const struct cs_env *env,
		      const struct zkd_event *e)
{
	long i = ix_bucket_of_path(&c->p, e->path);

	if (c->pending)
		c->pending--;
	if (i >= 0 && (unsigned long)i < c->nb) {
		struct cs_bucket *b = &c->b[i];

		if (e->rc == ZOK) {
			int rc = ixset_load(&b->fresh, e->data ? e->data : "",
					    (size_t)(e->data_len > 0 ? e->data_len : 0),
					    (unsigned)i, c->h.nbuckets);

			if (rc == 0) {
				b->fresh_ok = true;
				b->fresh_version = e->stat.version;
				b->fresh_czxid = e->stat.czxid;
				bucket_ok(c, (unsigned)i);
			} else {
				char why[64];

				snprintf(why, sizeof why, "bucket %ld malformed", i);
				refuse(c, why);
			}
		} else if (e->rc == ZNONODE) {
			ixset_clear(&b->fresh);
			b->fresh_ok = true;
			b->fresh_version = -1;
			b->fresh_czxid = 0;
			bucket_ok(c, (unsigned)i);
		} else {
			bucket_failed(c, env, (unsigned)i, e->rc);
		}
	}
	if (!c->pending && c->round)
		commit(c, env);
}

static void on_hosts(struct zkd_consumer *c, const struct cs_env *env,
		     const struct zkd_event *e)
{
	char path[ZKD_PATH_CAP];

	if (e->rc == ZNONODE) {
		c->hosts_children = 0;
	} else if (e->rc == ZOK) {
		c->hosts_children = e->stat.num_children;
		c->hosts_pzxid = (uint64_t)e->stat.pzxid;
	} else {
		return;
	}
	if (c->state == CS_NO_INDEX) {
		decide_without_index(c);
		c->changed = true;
		return;
	}
	if (c->state != CS_FOLLOWING || env->writer)
		return;
	if (c->h.pzxid >= c->hosts_pzxid) {
		if (c->stale) {
			zkd_log(ZKH_LOG_INFO, "index: caught up with %s", c->p.hosts);
			c->changed = true;
		}
		c->stale = false;
		c->suspect_pzxid = 0;
		c->want_fallback = false;
		zkd_error_clear(&c->err);
		return;
	}
	if (c->suspect_pzxid && c->h.pzxid < c->suspect_pzxid) {
		if (!c->stale)
			zkd_log(ZKH_LOG_WARN, "index: head reflects %s at zxid 0x%" PRIx64
				" but it was at 0x%" PRIx64 " a check ago: indexers stuck; "
				"freeing their election slots", c->p.hosts, c->h.pzxid,
				c->suspect_pzxid);
		c->stale = true;
		if (zkd_error_set(&c->err, ZKH_LOG_WARN, "index stale: head at zxid 0x%" PRIx64
				  ", %s at 0x%" PRIx64, c->h.pzxid, c->p.hosts, c->hosts_pzxid))
			c->changed = true;
		for (unsigned k = 0; k < 16; k++) {
			ix_slot_path(&c->p, k, path);
			zkio_stat(env->io, path, false, TAG_CS_SLOT_DELETE);
		}
		c->want_fallback = c->hosts_children >= 0 &&
				   (uint64_t)c->hosts_children < c->fallback_max;
		c->changed = true;
	}
	c->suspect_pzxid = c->hosts_pzxid;
}

static void on_slot(struct zkd_consumer *c, const struct cs_env *env,
		    const struct zkd_event *e)
{
	/* delete a slot held since before the change the index missed */
	if (e->kind == EV_EXISTS && e->rc == ZOK && c->suspect_pzxid &&
	    (uint64_t)e->stat.czxid < c->suspect_pzxid)
		zkio_delete(env->io, e->path, e->stat.version, TAG_CS_SLOT_DELETE);
}

bool consumer_on_event(struct zkd_consumer *c, const struct cs_env *env,
		       const struct zkd_event *e)
{
	if (e->kind == EV_WATCH) {
		if (!e->path || strcmp(e->path, c->p.head) != 0)
			return false;
		if (e->type != ZKIO_NOTWATCHING_EVENT)
			read_head(c, env);
		return true;
	}
	switch (e->tag) {
	case TAG_CS_HEAD:
		on_head(c, env, e);
		return true;
	case TAG_CS_EXISTS:
		if (c->active)
			on_exists(c, env, e);
		return true;
	case TAG_CS_BUCKET:
		if (c->active)
			on_bucket(c, env, e);
		return true;
	case TAG_CS_HOSTS:
		on_hosts(c, env, e);
		return true;
	case TAG_CS_SLOT_DELETE:
		on_slot(c, env, e);
		return true;
	default:
		return false;
	}
}

void consumer_tick(struct zkd_consumer *c, const struct cs_env *env)
{
	if (env->usable && c->active && c->retry_at && env->now >= c->retry_at && !c->round) {
		c->retry_at = 0;
		for (unsigned i = 0; i < c->nb && i < c->h.nbuckets; i++)
			if (c->b[i].failed)
				reread(c, env, i);
	}
	if (!env->usable || !c->check_at || env->now < c->check_at)
		return;
	c->check_at = next_check(c, env->now);
	check_hosts(c, env);
	if (c->head_failed)
		read_head(c, env);
}

uint64_t consumer_deadline(const struct zkd_consumer *c)
{
	if (c->retry_at && (!c->check_at || c->retry_at < c->check_at))
		return c->retry_at;
	return c->check_at;
}

bool consumer_keeps(const char *name, void *consumer)
{
	const struct zkd_consumer *c = consumer;
	char key[ZKH_NAME_MAX + 1];
	unsigned i;

	if (zkh_name_fold(name, strlen(name), key) < 0 || !c->h.nbuckets)
		return false;
	i = zkx_bucket_of(zkx_hash(key, strlen(key)), c->h.nbuckets);
	return i < c->nb && ixset_get(&c->b[i].cur, key) != NULL;
}

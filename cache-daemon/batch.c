/*
 * batch.c - zkcached's publish glue: changes from the mirror wait here,
 * are applied to the master environment in one transaction
 * (zkh_pub_apply) and published as a new snapshot (zkh_pub_publish) at most
 * once per publish_delay ms, so a storm of changes costs few publishes. A
 * change after a quiet spell (no publish for publish_delay ms) is published
 * at once; only changes that follow a publish closely wait, and are
 * gathered into the next one.
 * While a full sync runs, progress is published at most once per
 * ZKD_SYNC_PUBLISH_MS; its end publishes at once with ZKH_META_SYNCED.
 * The snapshot budget (max_records) is enforced here: while the master
 * holds more records, nothing is published (an error is logged once and
 * shown in the status file), so readers keep the last good snapshot and
 * its size stays bounded; the master keeps following ZooKeeper, and the
 * first publish back within the budget clears the error. At the end of a
 * full sync, batch_sweep queues deletes for the records the master holds
 * that ZooKeeper no longer has (deleted while we were away).
 * Queuing never touches the publisher (so it is safe inside
 * zkh_pub_foreach); only batch_tick does. Once no publish has been due for
 * ZKD_TRIM_IDLE_MS, batch_tick gives memory back: the master map's pages
 * (every publish reads all of them) and the allocator's free pages (a full
 * sync's listings and reads pass through the ZooKeeper client's threads'
 * arenas), which at 100k records is most of the daemon's resident set.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "log.h"

struct zkd_pending {
	enum zkh_change_op op;
	char *name;
	uint64_t czxid;
	size_t naddrs;
	struct zkh_addr *addrs;
};

void batch_init(struct zkd_batch *b, uint64_t publish_delay_ms,
		uint64_t max_records)
{
	memset(b, 0, sizeof *b);
	b->publish_delay = publish_delay_ms;
	b->max_records = max_records;
}

static int push(struct zkd_batch *b, enum zkh_change_op op, const char *name,
		uint64_t czxid, const struct zkh_addr *addrs, size_t naddrs,
		uint64_t now)
{
	struct zkd_pending *p;

	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		p = realloc(b->items, cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		b->items = p;
		b->cap = cap;
	}
	p = &b->items[b->n];
	memset(p, 0, sizeof *p);
	p->op = op;
	p->czxid = czxid;
	p->name = strdup(name);
	if (!p->name)
		return -ENOMEM;
	if (naddrs) {
		p->addrs = malloc(naddrs * sizeof *addrs);
		if (!p->addrs) {
			free(p->name);
			return -ENOMEM;
		}
		memcpy(p->addrs, addrs, naddrs * sizeof *addrs);
		p->naddrs = naddrs;
	}
	b->n++;
	if (!b->publish_at) {
		uint64_t delay = b->syncing ? ZKD_SYNC_PUBLISH_MS : b->publish_delay;
		uint64_t next = b->last_publish + delay;
		b->publish_at = b->last_publish && next > now ? next : now;
	}
	return 0;
}

void batch_note_mzxid(struct zkd_batch *b, uint64_t mzxid)
{
	b->tap_mzxid = mzxid;
}

int batch_upsert(struct zkd_batch *b, const char *name, uint64_t czxid,
		 const struct zkh_addr *addrs, size_t naddrs, uint64_t now)
{
	uint64_t mzxid = b->tap_mzxid ? b->tap_mzxid : czxid;

	b->tap_mzxid = 0;
	if (b->tap)
		b->tap(b->tap_arg, name, czxid, mzxid, addrs, naddrs);
	return push(b, ZKH_UPSERT, name, czxid, addrs, naddrs, now);
}

int batch_delete(struct zkd_batch *b, const char *name, uint64_t now)
{
	if (b->tap)
		b->tap(b->tap_arg, name, 0, 0, NULL, 0);
	return push(b, ZKH_DELETE, name, 0, NULL, 0, now);
}

void batch_set_syncing(struct zkd_batch *b, bool syncing)
{
	b->syncing = syncing;
}

void batch_request_publish(struct zkd_batch *b, uint64_t now)
{
	b->force_publish = true;
	b->publish_at = now;
}

static void drop_items(struct zkd_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->items[i].name);
		free(b->items[i].addrs);
	}
	b->n = 0;
}

void batch_free(struct zkd_batch *b)
{
	drop_items(b);
	free(b->items);
	b->items = NULL;
	b->cap = 0;
}

static void to_change(const struct zkd_pending *p, struct zkh_change *c)
{
	c->op = p->op;
	c->name = p->name;
	c->name_len = strlen(p->name);
	c->czxid = p->czxid;
	c->addrs = p->addrs;
	c->naddrs = p->naddrs;
}

/* Apply every pending change. 0, or -errno with the items kept. */
static int apply(struct zkd_batch *b, struct zkh_publisher *pub)
{
	struct zkh_change *c;
	int rc = 0;

	if (!b->n)
		return 0;
	c = malloc(b->n * sizeof *c);
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < b->n; i++)
		to_change(&b->items[i], &c[i]);
	rc = zkh_pub_apply(pub, c, b->n);
	if (rc == -EINVAL) {
		/* one bad change must not hold the others back: one by one */
		rc = 0;
		for (size_t i = 0; i < b->n; i++) {
			int r = zkh_pub_apply(pub, &c[i], 1);
			if (r == -EINVAL)
				zkd_log(ZKH_LOG_WARN, "record %s refused by the cache writer; skipped",
					b->items[i].name);
			else if (r && !rc)
				rc = r;
		}
	}
	free(c);
	if (rc == 0)
		drop_items(b);
	return rc;
}

/* Apply, keeping the publish error slot: set (logged once) on a failure,
 * cleared by the next success. */
static int apply_tracked(struct zkd_batch *b, struct zkh_publisher *pub)
{
	int rc = apply(b, pub);

	if (rc) {
		if (zkd_error_set(&b->publish_err, b->apply_failed ? 0 : ZKH_LOG_ERR,
				  "cannot write the cache master: %s", strerror(-rc)))
			b->changed = true;
		b->apply_failed = true;
	} else if (b->apply_failed) {
		b->apply_failed = false;
		if (zkd_error_clear(&b->publish_err))
			b->changed = true;
	}
	return rc;
}

int batch_apply_now(struct zkd_batch *b, struct zkh_publisher *pub,
		    uint64_t now)
{
	int rc = apply_tracked(b, pub);

	if (rc)
		b->publish_at = now + ZKD_PUBLISH_RETRY_MS;
	return rc;
}

struct sweep {
	struct zkd_batch *b;
	bool (*keep)(const char *name, void *arg);
	void *arg;
	uint64_t now;
	size_t vanished;
};

static int collect_stale(const char *name, size_t len, uint64_t czxid, void *arg)
{
	struct sweep *sw = arg;
	char buf[ZKH_NAME_MAX + 1];

	(void)czxid;
	if (len > ZKH_NAME_MAX)
		return 0;
	memcpy(buf, name, len);
	buf[len] = '\0';
	if (!sw->keep(buf, sw->arg)) {
		/* queued: the master is not touched inside foreach */
		if (batch_delete(sw->b, buf, sw->now))
			return -ENOMEM;
		sw->vanished++;
	}
	return 0;
}

int batch_sweep(struct zkd_batch *b, struct zkh_publisher *pub,
		bool (*keep)(const char *name, void *arg), void *arg,
		uint64_t now, size_t *vanished)
{
	struct sweep sw = { .b = b, .keep = keep, .arg = arg, .now = now };
	/* Pending changes first, so the sweep sees the master as it will be. */
	int rc = batch_apply_now(b, pub, now);

	if (rc == 0)
		rc = zkh_pub_foreach(pub, collect_stale, &sw);
	*vanished = sw.vanished;
	return rc;
}

/* True (and publish_at cleared: the next change re-arms it) while the
 * master holds more than max_records; logs the transitions. */
static bool over_budget(struct zkd_batch *b, struct zkh_publisher *pub)
{
	uint64_t n = zkh_pub_count(pub), max = b->max_records;

	if (n <= max) {
		if (b->over_budget) {
			zkd_log(ZKH_LOG_INFO, "%" PRIu64 " records, within max_records "
				"(%" PRIu64 ") again: publishing", n, max);
			b->over_budget = false;
			if (zkd_error_clear(&b->budget_err))
				b->changed = true;
		}
		return false;
	}
	if (!b->over_budget)
		zkd_log(ZKH_LOG_ERR, "snapshot budget exceeded: %" PRIu64 " records, "
			"max_records is %" PRIu64 "; not publishing, lookups keep "
			"the last snapshot (generation %" PRIu64 ")", n, max,
			zkh_pub_generation(pub));
	/* logged above, once per episode, in its own words */
	if (zkd_error_set(&b->budget_err, 0, "snapshot budget exceeded: %" PRIu64
			  " records, max_records is %" PRIu64 "; serving generation %"
			  PRIu64, n, max, zkh_pub_generation(pub)))
		b->changed = true;
	b->over_budget = true;
	b->publish_at = 0;
	return true;
}

/* Idle since the last publish: give back what it left resident. */
static void trim(struct zkd_batch *b, struct zkh_publisher *pub, uint64_t now)
{
	if (!b->trim_at || now < b->trim_at || b->publish_at || b->n)
		return;
	b->trim_at = 0;
	int rc = zkh_pub_release_pages(pub);
	if (rc)
		zkd_log(ZKH_LOG_DEBUG, "cannot release the master's pages: %s",
			strerror(-rc));
	malloc_trim(0);
}

void batch_tick(struct zkd_batch *b, struct zkh_publisher *pub, uint64_t now,
		bool final, uint32_t flags, uint64_t last_sync_us)
{
	bool due = final || (b->publish_at && now >= b->publish_at);

	if (!final)
		trim(b, pub, now);
	if (!due && b->n < ZKD_BATCH_APPLY)
		return;
	if (apply_tracked(b, pub)) {
		b->publish_at = now + ZKD_PUBLISH_RETRY_MS;
		return;
	}
	if (!due)
		return;
	if (!zkh_pub_needs_publish(pub) && !b->force_publish) {
		b->publish_at = 0;
		return;
	}
	if (over_budget(b, pub))
		return;
	int rc = zkh_pub_publish(pub, flags, last_sync_us);
	if (rc) {
		/* Logged once per text by the slot; retried every
		 * ZKD_PUBLISH_RETRY_MS. A publish that was rebuilding a cache
		 * removed or replaced underneath says so. */
		bool changed = zkh_pub_repaired(pub) ?
			zkd_error_set(&b->publish_err, ZKH_LOG_ERR, "cannot rebuild the cache "
				      "(removed or replaced underneath): %s; retrying",
				      strerror(-rc)) :
			zkd_error_set(&b->publish_err, ZKH_LOG_ERR,
				      "cannot publish the cache snapshot: %s; retrying",
				      strerror(-rc));
		if (changed)
			b->changed = true;
		b->publish_failures++;
		b->publish_at = now + ZKD_PUBLISH_RETRY_MS;
		return;
	}
	if (zkd_error_clear(&b->publish_err))
		b->changed = true;
	b->publish_failures = 0;
	b->force_publish = false;
	b->publish_at = 0;
	b->last_publish = now;
	b->trim_at = now + ZKD_TRIM_IDLE_MS;
	b->publishes++;
	b->last_publish_us = zkd_realtime_us();
	b->changed = true;
	zkd_log(ZKH_LOG_DEBUG, "published generation %" PRIu64 ": %" PRIu64 " records",
		zkh_pub_generation(pub), zkh_pub_count(pub));
}

uint64_t batch_deadline(const struct zkd_batch *b)
{
	/* A pending publish comes first and re-arms the trim. */
	return b->publish_at ? b->publish_at : b->trim_at;
}

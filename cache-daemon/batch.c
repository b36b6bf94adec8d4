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
 * first publish back within the budget clears the error.
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
#include <string.h>

#include "zkcached.h"

struct zkd_pending {
	enum zkh_change_op op;
	char *name;
	uint64_t czxid;
	size_t naddrs;
	struct zkh_addr *addrs;
};

static int push(struct zkd *d, enum zkh_change_op op, const char *name,
		uint64_t czxid, const struct zkh_addr *addrs, size_t naddrs)
{
	struct zkd_batch *b = &d->b;
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
		uint64_t delay = d->m.full_sync ? ZKD_SYNC_PUBLISH_MS :
			(uint64_t)d->cfg.publish_delay;
		uint64_t now = zkd_now_ms(), next = b->last_publish + delay;
		b->publish_at = b->last_publish && next > now ? next : now;
	}
	return 0;
}

int batch_upsert(struct zkd *d, const char *name, uint64_t czxid,
		 const struct zkh_addr *addrs, size_t naddrs)
{
	return push(d, ZKH_UPSERT, name, czxid, addrs, naddrs);
}

int batch_delete(struct zkd *d, const char *name)
{
	return push(d, ZKH_DELETE, name, 0, NULL, 0);
}

void batch_request_publish(struct zkd *d)
{
	d->b.force_publish = true;
	d->b.publish_at = zkd_now_ms();
}

static void drop_items(struct zkd_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->items[i].name);
		free(b->items[i].addrs);
	}
	b->n = 0;
}

void batch_free(struct zkd *d)
{
	drop_items(&d->b);
	free(d->b.items);
	d->b.items = NULL;
	d->b.cap = 0;
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
static int apply(struct zkd *d)
{
	struct zkd_batch *b = &d->b;
	struct zkh_change *c;
	int rc = 0;

	if (!b->n)
		return 0;
	c = malloc(b->n * sizeof *c);
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < b->n; i++)
		to_change(&b->items[i], &c[i]);
	rc = zkh_pub_apply(d->pub, c, b->n);
	if (rc == -EINVAL) {
		/* one bad change must not hold the others back: one by one */
		rc = 0;
		for (size_t i = 0; i < b->n; i++) {
			int r = zkh_pub_apply(d->pub, &c[i], 1);
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

/* True (and publish_at cleared: the next change re-arms it) while the
 * master holds more than max_records; logs the transitions. */
static bool over_budget(struct zkd *d)
{
	struct zkd_batch *b = &d->b;
	uint64_t n = zkh_pub_count(d->pub), max = (uint64_t)d->cfg.max_records;

	if (n <= max) {
		if (b->over_budget) {
			zkd_log(ZKH_LOG_INFO, "%" PRIu64 " records, within max_records "
				"(%" PRIu64 ") again: publishing", n, max);
			b->over_budget = false;
			report_clear_error(d);
		}
		return false;
	}
	if (!b->over_budget)
		zkd_log(ZKH_LOG_ERR, "snapshot budget exceeded: %" PRIu64 " records, "
			"max_records is %" PRIu64 "; not publishing, lookups keep "
			"the last snapshot (generation %" PRIu64 ")", n, max,
			zkh_pub_generation(d->pub));
	report_error(d, "snapshot budget exceeded: %" PRIu64 " records, max_records "
		     "is %" PRIu64 "; serving generation %" PRIu64, n, max,
		     zkh_pub_generation(d->pub));
	b->over_budget = true;
	b->publish_at = 0;
	return true;
}

/* Idle since the last publish: give back what it left resident. */
static void trim(struct zkd *d, uint64_t now)
{
	struct zkd_batch *b = &d->b;

	if (!b->trim_at || now < b->trim_at || b->publish_at || b->n)
		return;
	b->trim_at = 0;
	int rc = zkh_pub_release_pages(d->pub);
	if (rc)
		zkd_log(ZKH_LOG_DEBUG, "cannot release the master's pages: %s",
			strerror(-rc));
	malloc_trim(0);
}

void batch_tick(struct zkd *d, uint64_t now, bool final)
{
	struct zkd_batch *b = &d->b;
	bool due = final || (b->publish_at && now >= b->publish_at);

	if (!final)
		trim(d, now);
	if (!due && b->n < ZKD_BATCH_APPLY)
		return;
	int rc = apply(d);
	if (rc) {
		if (!b->apply_failed)
			zkd_log(ZKH_LOG_ERR, "cannot write the cache master: %s; retrying",
				strerror(-rc));
		report_error(d, "cannot write the cache master: %s", strerror(-rc));
		b->apply_failed = true;
		b->publish_at = now + 1000;
		return;
	}
	if (b->apply_failed) {
		b->apply_failed = false;
		report_clear_error(d);
	}
	if (!due)
		return;
	if (!zkh_pub_needs_publish(d->pub) && !b->force_publish) {
		b->publish_at = 0;
		return;
	}
	if (over_budget(d))
		return;
	uint32_t flags = 0;
	if (d->m.synced)
		flags |= ZKH_META_SYNCED;
	if (session_usable(d))
		flags |= ZKH_META_CONNECTED;
	rc = zkh_pub_publish(d->pub, flags, d->m.last_sync_us);
	if (rc) {
		zkd_log(ZKH_LOG_ERR, "cannot publish the cache snapshot: %s; retrying",
			strerror(-rc));
		report_error(d, "cannot publish the cache snapshot: %s", strerror(-rc));
		b->publish_at = now + 1000;
		return;
	}
	b->force_publish = false;
	b->publish_at = 0;
	b->last_publish = now;
	b->trim_at = now + ZKD_TRIM_IDLE_MS;
	b->publishes++;
	d->status_dirty = true;
	zkd_log(ZKH_LOG_DEBUG, "published generation %" PRIu64 ": %" PRIu64 " records",
		zkh_pub_generation(d->pub), zkh_pub_count(d->pub));
}

uint64_t batch_deadline(const struct zkd *d)
{
	const struct zkd_batch *b = &d->b;

	/* A pending publish comes first and re-arms the trim. */
	return b->publish_at ? b->publish_at : b->trim_at;
}

int batch_apply_now(struct zkd *d)
{
	int rc = apply(d);
	if (rc)
		report_error(d, "cannot write the cache master: %s", strerror(-rc));
	return rc;
}

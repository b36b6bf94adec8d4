/*
 * test_daemon_index.c - the fleet index (docs/scale.md), driven through
 * the whole daemon against the ZooKeeper model. As an indexer: the head,
 * bucket and election slot it writes; creates, deletes and changes
 * reaching the bucket and the ring; case siblings as one entry; a data
 * change that leaves the addresses alone costs no write; a write beaten
 * by another indexer (compare-and-set) is re-read and not repeated; an
 * indexer not holding the lowest slot leaves changes to the one that
 * does for ZKD_IX_STANDBY_MS and writes only what is still missing; a
 * lagging view cannot resurrect a record another indexer deleted (it is
 * read again first); the index splits buckets as it grows. As a consumer
 * (indexer = no, the index written by the test with the codec): one
 * change costs one head read and no bucket read; a consumer that fell
 * behind the ring compares versions and reads only the changed bucket;
 * an expiry costs one exists per bucket and reads only what changed; the
 * head's recent-writes map narrows both to the buckets written since
 * (the indexer marks exactly the buckets it writes); a
 * head of an unknown format leaves the snapshot as it was and says why;
 * a refused head read (ACL) is read again at the next check, not only at
 * the next session; a refused bucket read is retried with a backoff;
 * no index: mirror while the directory is small, wait when it is not;
 * a stuck indexer is noticed and its slot freed; a new session creates
 * none of the layout that exists (asks exists first).
 */
#include <inttypes.h>

#include "harness.h"

#define IDX "/zkhosts/index/v1"
#define HEAD IDX "/head"

static void start_with(const char *extra, const char *const *nodes)
{
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	for (; nodes && *nodes; nodes += 2) {
		char p[256];

		snprintf(p, sizeof p, HOSTS "/%s", nodes[0]);
		assert_int_equal(fakezk_create(p, nodes[1], 0), ZOK);
	}
	h_start_cfg(extra, true);
	h_publish();
}

/* The content of bucket i as a set (empty if absent). */
static void bucket_set(unsigned i, unsigned nb, struct ix_set *s)
{
	char p[128];
	const char *d;

	snprintf(p, sizeof p, IDX "/b%u", i);
	d = fakezk_get(p, NULL);
	memset(s, 0, sizeof *s);
	if (d)
		assert_int_equal(ixset_load(s, d, strlen(d), i, nb), 0);
}

static struct zkx_head head_now(void)
{
	struct zkx_head h;
	size_t body;
	const char *d = fakezk_get(HEAD, NULL);

	assert_non_null(d);
	assert_int_equal(zkx_head_parse(d, strlen(d), &h, &body), 0);
	return h;
}

/* The line the index holds for name ("" if none), one bucket. */
static const char *entry_of(const char *key)
{
	static char line[ZKX_LINE_MAX + 1];
	struct zkx_head h = head_now();
	unsigned i = zkx_bucket_of(zkx_hash(key, strlen(key)), h.nbuckets);
	struct ix_set s;
	struct ix_kv *kv;

	bucket_set(i, h.nbuckets, &s);
	kv = ixset_get(&s, key);
	snprintf(line, sizeof line, "%s", kv ? kv->line : "");
	ixset_clear(&s);
	return line;
}

static void indexer_writes_head_bucket_and_slot(void **state)
{
	static const char *const nodes[] = { "a", "10.0.0.1", "b", "10.0.0.2", NULL };
	struct zkio_stat st;
	struct zkx_head h;
	struct zkh_status s;

	(void)state;
	start_with(NULL, nodes);
	h = head_now();
	assert_int_equal(h.format, ZKX_FORMAT);
	assert_int_equal(h.nbuckets, 1);
	assert_true(h.seq >= 1);
	assert_non_null(strstr(entry_of("a"), " 10.0.0.1"));
	assert_non_null(strstr(entry_of("b"), " 10.0.0.2"));
	/* the head reflects the listing's pzxid */
	fakezk_get(HOSTS, &st);
	assert_int_equal(h.pzxid, (uint64_t)st.pzxid);
	/* election slot 0 is ours, ephemeral */
	assert_non_null(fakezk_get(IDX "/indexer-0", &st));
	assert_int_equal(st.ephemeral_owner, fakezk_client_session());
	s = h_status();
	assert_string_equal(s.index_role, "indexer");
	assert_int_equal(s.index_buckets, 1);
	assert_true(s.index_writes >= 1);
	/* a small cluster pays nothing: one head, one bucket, one slot */
	assert_null(fakezk_get(IDX "/b1", NULL));
	h_stop();
}

static void changes_reach_bucket_and_ring(void **state)
{
	static const char *const nodes[] = { "a", "10.0.0.1", "b", "10.0.0.2", NULL };
	const char *d;
	int writes;

	(void)state;
	start_with(NULL, nodes);
	writes = fakezk_count(FZ_MULTI, HEAD);
	assert_int_equal(fakezk_set(HOSTS "/a", "10.0.1.1"), ZOK);
	assert_int_equal(fakezk_create(HOSTS "/c", "10.0.0.3", 0), ZOK);
	assert_int_equal(fakezk_delete(HOSTS "/b"), ZOK);
	h_publish();
	assert_non_null(strstr(entry_of("a"), " 10.0.1.1"));
	assert_non_null(strstr(entry_of("c"), " 10.0.0.3"));
	assert_string_equal(entry_of("b"), "");
	d = fakezk_get(HEAD, NULL);
	assert_non_null(strstr(d, "\n+ a "));
	assert_non_null(strstr(d, "\n+ c "));
	assert_non_null(strstr(d, "\n- b\n"));
	/* coalesced: fewer writes than changes is allowed, more is not */
	assert_true(fakezk_count(FZ_MULTI, HEAD) - writes <= 3);
	assert_true(strlen(d) <= ZKX_HEAD_TARGET);
	h_stop();
}

/* A delete costs consumers one head: the head write that would only
 * move the reflected pzxid (the delete's data watch fires before its
 * listing returns) waits for a real write or ZKD_IX_PZXID_DELAY_MS,
 * and then the head does reach the directory's pzxid (stuck check). */
static void delete_costs_one_head_write(void **state)
{
	static const char *const nodes[] = { "a", "10.0.0.1", "b", "10.0.0.2", NULL };
	struct zkio_stat st;
	int writes;

	(void)state;
	start_with(NULL, nodes);
	writes = fakezk_count(FZ_MULTI, HEAD);
	assert_int_equal(fakezk_delete(HOSTS "/b"), ZOK);
	h_settle();
	h_advance(ZKD_IX_PZXID_DELAY_MS / 2);
	assert_string_equal(entry_of("b"), "");
	assert_int_equal(fakezk_count(FZ_MULTI, HEAD) - writes, 1);
	/* the pzxid still reaches the head, in time for the stuck check */
	fakezk_get(HOSTS, &st);
	h_advance(ZKD_IX_PZXID_DELAY_MS);
	assert_int_equal(head_now().pzxid, (uint64_t)st.pzxid);
	assert_int_equal(fakezk_count(FZ_MULTI, HEAD) - writes, 2);
	h_stop();
}

/* A write lost with the connection (ZCONNECTIONLOSS: applied or not,
 * nobody knows) is not forgotten: the index is read again and the
 * change written, whether the answer comes before the reconnect (as the
 * C client delivers it) or the session stays usable. */
static void write_lost_with_the_connection_is_redone(void **state)
{
	static const char *const nodes[] = { "a", "10.0.0.1", NULL };

	(void)state;
	start_with(NULL, nodes);
	fakezk_fail(FZ_MULTI, NULL, ZCONNECTIONLOSS, 1);
	assert_int_equal(fakezk_create(HOSTS "/c", "10.0.0.3", 0), ZOK);
	h_settle();
	fakezk_disconnect();
	h_settle();
	fakezk_reconnect();
	h_publish();
	assert_non_null(strstr(entry_of("c"), " 10.0.0.3"));
	/* and with no disconnect at all */
	fakezk_fail(FZ_MULTI, NULL, ZCONNECTIONLOSS, 1);
	assert_int_equal(fakezk_create(HOSTS "/d", "10.0.0.4", 0), ZOK);
	h_publish();
	assert_non_null(strstr(entry_of("d"), " 10.0.0.4"));
	h_stop();
}

static void same_addresses_cost_no_write(void **state)
{
	static const char *const nodes[] = { "a", "10.0.0.1", NULL };
	char before[ZKX_LINE_MAX + 1];
	int writes;

	(void)state;
	start_with(NULL, nodes);
	snprintf(before, sizeof before, "%s", entry_of("a"));
	writes = fakezk_count(FZ_MULTI, HEAD);
	/* new data, new mzxid, same addresses */
	assert_int_equal(fakezk_set(HOSTS "/a", "10.0.0.1 "), ZOK);
	h_publish();
	assert_int_equal(fakezk_count(FZ_MULTI, HEAD), writes);
	assert_string_equal(entry_of("a"), before);
	h_stop();
}

static void case_siblings_are_one_entry(void **state)
{
	static const char *const nodes[] = { "web", "10.0.0.1", NULL };

	(void)state;
	start_with(NULL, nodes);
	assert_int_equal(fakezk_create(HOSTS "/WEB", "10.0.0.9", 0), ZOK);
	h_publish();
	assert_non_null(strstr(entry_of("web"), "WEB "));
	assert_int_equal(fakezk_delete(HOSTS "/WEB"), ZOK);
	h_publish();
	/* the sibling takes the entry over */
	assert_non_null(strstr(entry_of("web"), "web "));
	assert_non_null(strstr(entry_of("web"), " 10.0.0.1"));
	h_stop();
}

/* Write bucket 0 (one bucket) and the head as another indexer would:
 * the content `s`, head seq+1, CAS by fakezk_set. */
static void other_indexer_writes(const struct ix_set *s)
{
	struct zkx_head h = head_now();
	char *text, head[256];
	long n = ixset_render(s, 0, &text);

	assert_true(n > 0);
	assert_int_equal(fakezk_set(IDX "/b0", text), ZOK);
	free(text);
	h.seq++;
	zkx_head_format(&h, head, sizeof head);
	assert_int_equal(fakezk_set(HEAD, head), ZOK);
}

static void entry_line(const char *name, const char *addr, uint64_t cz,
		       char *out)
{
	struct zkh_addr a;
	struct zkx_entry e;

	assert_int_equal(zkh_addr_parse(addr, strlen(addr), &a), 0);
	assert_int_equal(zkx_entry_make(&e, name, strlen(name), cz, cz, &a, 1), 0);
	assert_true(zkx_entry_format(&e, out, ZKX_LINE_MAX + 1) > 0);
}

/* Another indexer adds the record <root>/hosts/name holds to bucket 0
 * (a one-bucket index); its entry line into line. */
static void other_indexer_adds(const char *name, const char *addr, char *line)
{
	struct ix_set s;
	struct zkio_stat st;
	char p[128];

	snprintf(p, sizeof p, HOSTS "/%s", name);
	assert_non_null(fakezk_get(p, &st));
	bucket_set(0, 1, &s);
	entry_line(name, addr, (uint64_t)st.czxid, line);
	assert_int_equal(ixset_put(&s, name, line), 0);
	other_indexer_writes(&s);
	ixset_clear(&s);
}

/* Another indexer writes the same change first: our write fails its
 * compare-and-set, we read the bucket again, find nothing left to do. */
static void beaten_by_another_indexer(void **state)
{
	static const char *const nodes[] = { "a", "10.0.0.1", NULL };
	char line[ZKX_LINE_MAX + 1];
	int writes;

	(void)state;
	start_with(NULL, nodes);
	assert_int_equal(fakezk_create(HOSTS "/c", "10.0.0.3", 0), ZOK);
	/* the other indexer is faster: it writes c before our read answers */
	other_indexer_adds("c", "10.0.0.3", line);
	writes = fakezk_count(FZ_MULTI, HEAD);
	h_publish();
	assert_true(H.x.conflicts >= 1 || fakezk_count(FZ_MULTI, HEAD) == writes);
	assert_string_equal(entry_of("c"), line);
	/* nothing more to write once it saw the other's bucket */
	writes = fakezk_count(FZ_MULTI, HEAD);
	h_advance(1000);
	assert_int_equal(fakezk_count(FZ_MULTI, HEAD), writes);
	h_stop();
}

/* An indexer that does not hold the lowest slot stands by: it leaves a
 * change to the primary for ZKD_IX_STANDBY_MS, then looks at the head
 * and writes only what is still missing - no racing write that fails its
 * compare-and-set (a transaction) on every change. A primary that stops
 * writing costs a change that long; once its slot goes the standby writes
 * at once. */
static void standby_leaves_changes_to_the_primary(void **state)
{
	struct zkio_stat st;
	char line[ZKX_LINE_MAX + 1];
	int64_t other;
	int writes;

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	fakezk_mkdirs(IDX);
	assert_int_equal(fakezk_create(HOSTS "/a", "10.0.0.1", 0), ZOK);
	other = fakezk_session_open();
	assert_int_equal(fakezk_create(IDX "/indexer-0", "primary", other), ZOK);
	h_start_cfg(NULL, true);
	h_publish();
	assert_null(fakezk_get(HEAD, NULL));
	h_advance(ZKD_IX_STANDBY_MS);	/* no primary wrote it: the standby does */
	assert_non_null(fakezk_get(IDX "/indexer-1", &st));
	assert_int_equal(st.ephemeral_owner, fakezk_client_session());
	assert_non_null(strstr(entry_of("a"), " 10.0.0.1"));

	/* the primary writes c within the wait: the standby writes nothing */
	writes = fakezk_count(FZ_MULTI, HEAD);
	assert_int_equal(fakezk_create(HOSTS "/c", "10.0.0.3", 0), ZOK);
	h_settle();
	h_advance(ZKD_IX_STANDBY_MS / 2);
	assert_int_equal(fakezk_count(FZ_MULTI, HEAD), writes);
	other_indexer_adds("c", "10.0.0.3", line);
	writes = fakezk_count(FZ_MULTI, HEAD);
	h_advance(ZKD_IX_STANDBY_MS);
	h_advance(ZKD_IX_STANDBY_MS);
	assert_int_equal(fakezk_count(FZ_MULTI, HEAD), writes);
	assert_int_equal(H.x.conflicts, 0);
	assert_string_equal(entry_of("c"), line);

	/* the primary stopped: d waits the standby's wait, no longer */
	assert_int_equal(fakezk_create(HOSTS "/d", "10.0.0.4", 0), ZOK);
	h_settle();
	h_advance(ZKD_IX_STANDBY_MS / 2);
	assert_string_equal(entry_of("d"), "");
	h_advance(ZKD_IX_STANDBY_MS);
	assert_non_null(strstr(entry_of("d"), " 10.0.0.4"));
	assert_int_equal(fakezk_count(FZ_MULTI, HEAD), writes + 1);
	assert_int_equal(H.x.conflicts, 0);

	/* the primary's session ends: this one writes at once */
	fakezk_session_close(other);
	h_settle();
	assert_int_equal(fakezk_create(HOSTS "/e", "10.0.0.5", 0), ZOK);
	h_settle();
	assert_non_null(strstr(entry_of("e"), " 10.0.0.5"));
	h_stop();
}

/* Our view still holds x (a lagging mirror: its delete not seen yet)
 * while another indexer already removed x from the bucket. Our next
 * write is refused (CAS); before writing again we read x, find it gone,
 * and never put it back. */
static void lagging_view_cannot_resurrect(void **state)
{
	static const char *const nodes[] = { "x", "10.0.0.1", "y", "10.0.0.2", NULL };
	struct zkh_addr a;
	struct ix_set s;
	struct zkio_stat st;
	int reads;

	(void)state;
	start_with(NULL, nodes);
	fakezk_get(HOSTS "/x", &st);
	/* x deleted in ZooKeeper; the other indexer removes it from the bucket */
	fakezk_mkdirs("/other");
	assert_int_equal(fakezk_delete(HOSTS "/x"), ZOK);
	bucket_set(0, 1, &s);
	assert_true(ixset_del(&s, "x"));
	other_indexer_writes(&s);
	ixset_clear(&s);
	/* our mirror's deletion is lost in this test: drop the queued watch
	 * events, then tell the view x is there (a stale report) */
	{
		struct zkd_event *e = evq_take_all(&H.q);

		while (e) {
			struct zkd_event *next = e->next;

			zkd_ev_free(e);
			e = next;
		}
	}
	assert_int_equal(zkh_addr_parse("10.0.0.1", 8, &a), 0);
	indexer_tap(&H.x, "x", (uint64_t)st.czxid, (uint64_t)st.mzxid, &a, 1);
	/* something else changes in the same bucket: we must write */
	reads = fakezk_count(FZ_GET, HOSTS "/x");
	assert_int_equal(fakezk_set(HOSTS "/y", "10.0.9.9"), ZOK);
	h_publish();
	assert_true(H.x.conflicts >= 1);
	assert_true(fakezk_count(FZ_GET, HOSTS "/x") > reads);	/* verified */
	assert_string_equal(entry_of("x"), "");			/* not resurrected */
	assert_non_null(strstr(entry_of("y"), " 10.0.9.9"));
	h_stop();
}

static void grows_by_splitting(void **state)
{
	struct zkx_head h;
	char p[64], addr[32];
	unsigned total = 0;

	(void)state;
	start_with(NULL, NULL);
	for (int i = 0; i < 3 * ZKX_BUCKET_TARGET; i++) {
		snprintf(p, sizeof p, HOSTS "/n%03d", i);
		snprintf(addr, sizeof addr, "10.1.%d.%d", i / 250, i % 250 + 1);
		assert_int_equal(fakezk_create(p, addr, 0), ZOK);
	}
	h_publish();
	h_publish();
	h = head_now();
	assert_true(h.nbuckets >= 3);
	for (unsigned i = 0; i < h.nbuckets; i++) {
		struct ix_set s;

		bucket_set(i, h.nbuckets, &s);
		total += (unsigned)s.n;
		ixset_clear(&s);
	}
	assert_int_equal(total, 3 * ZKX_BUCKET_TARGET);
	h_stop();
}

/* ---- consumers ---------------------------------------------------------- */

/* The recent-writes map test-written heads carry (none: has_map false). */
static struct zkx_head g_map;

static void with_map(struct zkx_head *h)
{
	h->has_map = g_map.has_map;
	h->map_from = g_map.map_from;
	h->map_groups = g_map.map_groups;
	h->map_len = g_map.map_len;
	memcpy(h->map, g_map.map, sizeof h->map);
}

/* An index written by the test: nb buckets from name/addr pairs, head
 * with epoch 7, seq `seq`, the given ring text. */
static void write_index(const char *const *recs, unsigned nb, uint64_t seq,
			const char *ring)
{
	struct ix_set *s = calloc(nb, sizeof *s);
	char line[ZKX_LINE_MAX + 1], p[128], head[ZKX_HEAD_MAX + 1];
	struct zkx_head h = { .format = ZKX_FORMAT, .epoch = 7, .nbuckets = nb, .seq = seq };
	struct zkio_stat st;
	int n;

	assert_non_null(s);
	fakezk_mkdirs(IDX);
	for (; recs && *recs; recs += 2) {
		char key[ZKH_NAME_MAX + 1];

		zkh_name_fold(recs[0], strlen(recs[0]), key);
		entry_line(recs[0], recs[1], 5, line);
		assert_int_equal(ixset_put(&s[zkx_bucket_of(zkx_hash(key, strlen(key)), nb)],
					   key, line), 0);
	}
	for (unsigned i = 0; i < nb; i++) {
		char *text;

		assert_true(ixset_render(&s[i], i, &text) > 0);
		snprintf(p, sizeof p, IDX "/b%u", i);
		if (fakezk_get(p, NULL))
			assert_int_equal(fakezk_set(p, text), ZOK);
		else
			assert_int_equal(fakezk_create(p, text, 0), ZOK);
		free(text);
		ixset_clear(&s[i]);
	}
	free(s);
	if (fakezk_get(HOSTS, &st))
		h.pzxid = (uint64_t)st.pzxid;
	with_map(&h);
	n = zkx_head_format(&h, head, sizeof head);
	snprintf(head + n, sizeof head - (size_t)n, "%s", ring ? ring : "");
	if (fakezk_get(HEAD, NULL))
		assert_int_equal(fakezk_set(HEAD, head), ZOK);
	else
		assert_int_equal(fakezk_create(HEAD, head, 0), ZOK);
}

/* Update one record as an indexer would: bucket rewritten (its version
 * +1) and a head whose ring holds that group. */
static void index_update(unsigned nb, uint64_t seq, const char *name,
			 const char *addr, const char *extra_ring)
{
	char key[ZKH_NAME_MAX + 1], p[128], line[ZKX_LINE_MAX + 1];
	char head[ZKX_HEAD_MAX + 1], *text;
	struct zkx_head h = { .format = ZKX_FORMAT, .epoch = 7, .nbuckets = nb, .seq = seq };
	struct zkio_stat st;
	struct ix_set s;
	unsigned i;
	int n;

	zkh_name_fold(name, strlen(name), key);
	i = zkx_bucket_of(zkx_hash(key, strlen(key)), nb);
	bucket_set(i, nb, &s);
	entry_line(name, addr, 9, line);
	assert_int_equal(ixset_put(&s, key, line), 0);
	assert_true(ixset_render(&s, i, &text) > 0);
	snprintf(p, sizeof p, IDX "/b%u", i);
	assert_int_equal(fakezk_set(p, text), ZOK);
	free(text);
	ixset_clear(&s);
	fakezk_get(p, &st);
	with_map(&h);
	if (h.has_map) {	/* the test writes heads as a map-aware indexer */
		zkx_map_roll(&h, seq - 1);
		zkx_map_mark(&h, i);
	}
	g_map = h;
	n = zkx_head_format(&h, head, sizeof head);
	snprintf(head + n, sizeof head - (size_t)n, "%sg %" PRIu64 " %u %d 1\n+ %s\n",
		 extra_ring ? extra_ring : "", seq, i, st.version, line);
	assert_int_equal(fakezk_set(HEAD, head), ZOK);
}

static const char *const RECS[] = { "a", "10.0.0.1", "b", "10.0.0.2", "c", "10.0.0.3",
				     "d", "10.0.0.4", NULL };

static void consumer_one_change_one_head_read(void **state)
{
	struct zkh_status st;

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	write_index(RECS, 2, 3, NULL);
	h_start_cfg("indexer = no\n", true);
	h_publish();
	assert_string_equal(h_addr("a"), "10.0.0.1");
	assert_string_equal(h_addr("d"), "10.0.0.4");
	st = h_status();
	assert_string_equal(st.index_role, "consumer");
	assert_string_equal(st.state, "connected");
	assert_int_equal(st.index_buckets, 2);
	/* it never lists or watches the directory */
	assert_int_equal(fakezk_count(FZ_LIST, HOSTS), 0);
	assert_int_equal(fakezk_watches(HEAD), 1);
	fakezk_clear_log();
	index_update(2, 4, "b", "10.0.9.2", NULL);
	h_publish();
	assert_string_equal(h_addr("b"), "10.0.9.2");
	assert_int_equal(fakezk_count(FZ_GET, HEAD), 1);
	assert_int_equal(fakezk_count(FZ_GET, IDX "/b0") + fakezk_count(FZ_GET, IDX "/b1"), 0);
	assert_int_equal(fakezk_count(FZ_EXISTS, NULL), 0);
	h_stop();
}

static void consumer_behind_the_ring_reads_only_changed(void **state)
{
	char key[8] = "b";
	unsigned ib = zkx_bucket_of(zkx_hash(key, 1), 2);
	char other[64];

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	write_index(RECS, 2, 3, NULL);
	h_start_cfg("indexer = no\n", true);
	h_publish();
	fakezk_disconnect();
	h_settle();
	/* while away: seq 4 and 5; the ring only holds 5 */
	index_update(2, 4, "b", "10.0.9.2", NULL);
	index_update(2, 5, "b", "10.0.9.3", NULL);
	fakezk_clear_log();
	fakezk_reconnect();
	h_publish();
	assert_string_equal(h_addr("b"), "10.0.9.3");
	assert_string_equal(h_addr("a"), "10.0.0.1");
	snprintf(other, sizeof other, IDX "/b%u", 1 - ib);
	snprintf(key, sizeof key, "%u", ib);
	/* versions compared, the changed bucket read, the other not */
	assert_int_equal(fakezk_count(FZ_EXISTS, other), 1);
	assert_int_equal(fakezk_count(FZ_GET, other), 0);
	assert_true(fakezk_count(FZ_GET, ib ? IDX "/b1" : IDX "/b0") == 1);
	h_stop();
}

/* The daemon's session expires; it gets a new one (after its backoff)
 * and settles. clear_log: count only the new session's requests. */
static void expire_and_reconnect(bool clear_log)
{
	fakezk_expire();
	h_settle();
	if (clear_log)
		fakezk_clear_log();
	h_advance(ZKD_BACKOFF_MAX_MS);
	h_publish();
}

static void consumer_expiry_bounded_reads(void **state)
{
	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	write_index(RECS, 2, 3, NULL);
	h_start_cfg("indexer = no\n", true);
	h_publish();
	expire_and_reconnect(true);
	assert_string_equal(h_status().state, "connected");
	/* one head read, one exists per bucket, no bucket read (unchanged) */
	assert_int_equal(fakezk_count(FZ_GET, HEAD), 1);
	assert_int_equal(fakezk_count(FZ_EXISTS, IDX "/b0"), 1);
	assert_int_equal(fakezk_count(FZ_EXISTS, IDX "/b1"), 1);
	assert_int_equal(fakezk_count(FZ_GET, IDX "/b0") + fakezk_count(FZ_GET, IDX "/b1"), 0);
	assert_int_equal(fakezk_count(FZ_LIST, NULL), 0);
	assert_string_equal(h_addr("c"), "10.0.0.3");
	h_stop();
}

/* The layout (root, hosts, boot, the index directory) is created on an
 * empty tree; on a tree that has it, a new session asks exists and
 * creates nothing: a create that fails because the node is there is
 * still a quorum write, and every daemon of a fleet starts a session at
 * a cold boot or a mass expiry. */
static void session_start_creates_only_what_is_missing(void **state)
{
	static const char *const layout[] = { "/zkhosts", HOSTS, "/zkhosts/boot",
					      "/zkhosts/index", IDX, NULL };

	(void)state;
	fakezk_init();
	h_start_cfg(NULL, true);
	h_publish();
	for (const char *const *p = layout; *p; p++)
		assert_non_null(fakezk_get(*p, NULL));
	assert_string_equal(h_status().index_role, "indexer");
	expire_and_reconnect(true);
	assert_string_equal(h_status().state, "connected");
	assert_string_equal(h_status().index_role, "indexer");
	for (const char *const *p = layout; *p; p++)
		assert_int_equal(fakezk_count(FZ_CREATE | FZ_MULTI, *p), 0);
	assert_int_equal(fakezk_count(FZ_EXISTS, IDX), 1);
	assert_int_equal(fakezk_count(FZ_EXISTS, "/zkhosts/boot"), 1);
	/* what the session owns is made again: its slot */
	assert_int_equal(fakezk_count(FZ_CREATE, IDX "/indexer-0"), 1);
	/* boot deleted meanwhile: the next session makes it again */
	assert_int_equal(fakezk_delete("/zkhosts/boot"), ZOK);
	expire_and_reconnect(false);
	assert_non_null(fakezk_get("/zkhosts/boot", NULL));
	h_stop();
}

/* The indexer keeps the recent-writes map: the buckets a write changes
 * are marked in it, nothing else. */
static void indexer_marks_written_buckets(void **state)
{
	char p[64], addr[32];
	struct zkx_head h, before;
	uint64_t seq;
	unsigned marked = 0, ib;
	char key[8];

	(void)state;
	start_with(NULL, NULL);
	for (int i = 0; i < 3 * ZKX_BUCKET_TARGET; i++) {
		snprintf(p, sizeof p, HOSTS "/n%03d", i);
		snprintf(addr, sizeof addr, "10.1.%d.%d", i / 250, i % 250 + 1);
		assert_int_equal(fakezk_create(p, addr, 0), ZOK);
	}
	h_publish();
	h_publish();
	h = head_now();
	assert_true(h.nbuckets >= 3);
	assert_true(h.has_map);
	seq = h.seq;
	before = h;
	/* one change: the next write marks its bucket, and only it */
	assert_int_equal(fakezk_set(HOSTS "/n007", "10.9.9.9"), ZOK);
	h_publish();
	h = head_now();
	assert_int_equal(h.seq, seq + 1);
	assert_true(zkx_map_covers(&h, seq));
	assert_true(zkx_map_covers(&h, before.map_from));
	snprintf(key, sizeof key, "n007");
	ib = zkx_bucket_of(zkx_hash(key, 4), h.nbuckets);
	for (unsigned i = 0; i < h.nbuckets; i++)
		marked += zkx_map_written(&h, seq, i);
	assert_true(zkx_map_written(&h, seq, ib));
	assert_int_equal(marked, 1);
	/* and the groups before it are still those of the earlier writes */
	for (unsigned i = 0; i < h.nbuckets; i++)
		assert_int_equal(zkx_map_written(&h, before.map_from, i),
				 i == ib || zkx_map_written(&before, before.map_from, i));
	h_stop();
}

/* A consumer of an index of RECS in eight buckets at seq 3, whose head
 * carries an empty recent-writes map from seq 3 on (index_update then
 * lists each write in it). */
static void consumer_of_eight_buckets_with_a_map(void)
{
	memset(&g_map, 0, sizeof g_map);
	g_map.has_map = true;	/* empty, from seq 3 */
	g_map.map_from = 3;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	write_index(RECS, 8, 3, NULL);
	h_start_cfg("indexer = no\n", true);
	h_publish();
}

/* While the consumer is disconnected, "b" is written at seq and seq + 1
 * (the ring then holds only the second); with `trim`, the map has been
 * trimmed past seq - 1 first. Then the consumer comes back. */
static void miss_two_writes_to_b(uint64_t seq, const char *a1, const char *a2, bool trim)
{
	fakezk_disconnect();
	h_settle();
	if (trim) {
		g_map.map_from = seq - 1;
		g_map.map_groups = 0;
		g_map.map_len = 0;
		g_map.map[0] = '\0';
	}
	index_update(8, seq, "b", a1, NULL);
	index_update(8, seq + 1, "b", a2, NULL);
	fakezk_clear_log();
	fakezk_reconnect();
	h_publish();
}

/* Eight buckets; the consumer misses two writes to one bucket and the
 * ring holds only the last: the head's map sends it to that bucket
 * alone, not to the other seven. */
static void consumer_behind_the_ring_uses_the_map(void **state)
{
	char key[8] = "b", path[64];
	unsigned ib = zkx_bucket_of(zkx_hash(key, 1), 8);

	(void)state;
	consumer_of_eight_buckets_with_a_map();
	miss_two_writes_to_b(4, "10.0.9.2", "10.0.9.3", false);
	assert_string_equal(h_addr("b"), "10.0.9.3");
	assert_string_equal(h_addr("a"), "10.0.0.1");
	snprintf(path, sizeof path, IDX "/b%u", ib);
	assert_int_equal(fakezk_count(FZ_EXISTS, path), 1);
	assert_int_equal(fakezk_count(FZ_GET, path), 1);
	assert_int_equal(fakezk_count(FZ_EXISTS, NULL), 1);	/* no other bucket */
	assert_int_equal(H.c.map_rounds, 1);
	/* a map that does not reach back to the consumer: every bucket */
	miss_two_writes_to_b(7, "10.0.9.4", "10.0.9.5", true);
	assert_string_equal(h_addr("b"), "10.0.9.5");
	assert_int_equal(fakezk_count(FZ_EXISTS, NULL), 8);
	memset(&g_map, 0, sizeof g_map);
	h_stop();
}

/* An expiry with the same index behind it: the new session compares
 * only what the map marks since the consumer's sequence (nothing here,
 * then one bucket), and still serves every record. */
static void consumer_expiry_uses_the_map(void **state)
{
	char key[8] = "c", path[64];
	unsigned ic = zkx_bucket_of(zkx_hash(key, 1), 8);

	(void)state;
	consumer_of_eight_buckets_with_a_map();
	expire_and_reconnect(true);
	assert_string_equal(h_status().state, "connected");
	assert_int_equal(fakezk_count(FZ_GET, HEAD), 1);
	assert_int_equal(fakezk_count(FZ_EXISTS, NULL) - fakezk_count(FZ_EXISTS, HOSTS), 0);
	assert_string_equal(h_addr("d"), "10.0.0.4");
	/* expired again, one write meanwhile (the ring is not consulted) */
	fakezk_expire();
	h_settle();
	index_update(8, 4, "c", "10.0.7.3", NULL);
	fakezk_clear_log();
	h_advance(ZKD_BACKOFF_MAX_MS);
	h_publish();
	snprintf(path, sizeof path, IDX "/b%u", ic);
	assert_int_equal(fakezk_count(FZ_EXISTS, NULL) - fakezk_count(FZ_EXISTS, HOSTS), 1);
	assert_int_equal(fakezk_count(FZ_GET, path), 1);
	assert_string_equal(h_addr("c"), "10.0.7.3");
	assert_string_equal(h_addr("a"), "10.0.0.1");
	memset(&g_map, 0, sizeof g_map);
	h_stop();
}

static void consumer_refuses_unknown_format(void **state)
{
	struct zkh_status st;
	uint64_t gen;

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	write_index(RECS, 1, 3, NULL);
	h_start_cfg("indexer = no\n", true);
	h_publish();
	gen = h_status().generation;
	assert_int_equal(fakezk_set(HEAD, "zkhosts-index 2 9 1 4 0 and more\n"), ZOK);
	h_publish();
	st = h_status();
	assert_string_equal(st.index_role, "refused");
	assert_non_null(strstr(st.errors[ZKH_ERR_INDEX], "format"));
	assert_int_equal(st.generation, gen);		/* nothing published */
	assert_string_equal(h_addr("a"), "10.0.0.1");	/* still served */
	/* a good head again: back in step */
	write_index(RECS, 1, 5, NULL);
	h_publish();
	st = h_status();
	assert_string_equal(st.index_role, "consumer");
	assert_string_equal(st.errors[ZKH_ERR_INDEX], "");
	h_stop();
}

static void consumer_retries_refused_head(void **state)
{
	struct zkh_status st;

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	write_index(RECS, 1, 3, NULL);
	fakezk_protect(HEAD);
	h_start_cfg("indexer = no\n", true);
	h_publish();
	st = h_status();
	assert_string_equal(st.index_role, "refused");
	assert_non_null(strstr(st.errors[ZKH_ERR_INDEX], HEAD));
	assert_string_equal(h_addr("a"), "");
	/* the operator fixes the ACL (no event): the next check reads it */
	fakezk_unprotect(HEAD);
	h_advance(ZKD_IX_CHECK_MS * 6 / 5 + 1);
	h_publish();
	st = h_status();
	assert_string_equal(st.index_role, "consumer");
	assert_string_equal(st.errors[ZKH_ERR_INDEX], "");
	assert_string_equal(h_addr("a"), "10.0.0.1");
	h_stop();
}

/* A bucket ZooKeeper refuses to read (an ACL) keeps what the consumer
 * had, says why, and is read again with a backoff - no head change or
 * new session needed - until it succeeds; later compares include it. */
static void consumer_retries_refused_bucket(void **state)
{
	char key[8] = "b", path[64];
	unsigned ib = zkx_bucket_of(zkx_hash(key, 1), 2);
	struct zkh_status st;
	int reads;

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	write_index(RECS, 2, 3, NULL);
	h_start_cfg("indexer = no\n", true);
	h_publish();
	snprintf(path, sizeof path, IDX "/b%u", ib);
	fakezk_protect(path);
	index_update(2, 5, "b", "10.0.9.2", NULL);	/* behind the ring: compare, read */
	h_publish();
	st = h_status();
	assert_non_null(strstr(st.errors[ZKH_ERR_INDEX], "refused"));
	assert_string_equal(h_addr("b"), "10.0.0.2");	/* kept */
	assert_string_equal(h_addr("a"), "10.0.0.1");
	reads = fakezk_count(FZ_GET, path);
	/* retried with a backoff while refused */
	h_advance(ZKD_IX_RETRY_MIN_MS + 1);
	h_publish();
	assert_true(fakezk_count(FZ_GET, path) > reads);
	/* the operator fixes the ACL (no event): a retry reads it */
	fakezk_unprotect(path);
	h_advance(2 * ZKD_IX_RETRY_MIN_MS + 1);
	h_publish();
	st = h_status();
	assert_string_equal(st.errors[ZKH_ERR_INDEX], "");
	assert_string_equal(h_addr("b"), "10.0.9.2");
	/* and no more retries once it succeeded */
	reads = fakezk_count(FZ_GET, path);
	h_advance(ZKD_IX_RETRY_MAX_MS + 1);
	h_publish();
	assert_int_equal(fakezk_count(FZ_GET, path), reads);
	h_stop();
}

/* A bucket read lost with the connection, its answer arriving before
 * the reconnect event, must not leave the consumer at the new sequence
 * with the old bucket: the next head compares every bucket. */
static void consumer_bucket_read_lost_with_the_connection(void **state)
{
	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	write_index(RECS, 2, 3, NULL);
	h_start_cfg("indexer = no\n", true);
	h_publish();
	fakezk_fail(FZ_GET, IDX "/b", ZCONNECTIONLOSS, 1);
	index_update(2, 5, "b", "10.0.9.2", NULL);	/* behind the ring: compare, read */
	h_settle();
	fakezk_disconnect();
	h_settle();
	fakezk_reconnect();
	h_publish();
	assert_string_equal(h_addr("b"), "10.0.9.2");
	assert_string_equal(h_addr("a"), "10.0.0.1");
	h_stop();
}

static void no_index_small_directory_mirrors_then_follows(void **state)
{
	struct zkh_status st;

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	fakezk_create(HOSTS "/a", "10.0.0.1", 0);
	h_start_cfg("indexer = no\n", true);
	h_publish();
	st = h_status();
	assert_string_equal(st.index_role, "mirror");
	assert_string_equal(h_addr("a"), "10.0.0.1");
	/* an index appears: follow it instead */
	write_index(RECS, 1, 1, NULL);
	h_publish();
	st = h_status();
	assert_string_equal(st.index_role, "consumer");
	assert_string_equal(h_addr("d"), "10.0.0.4");
	h_stop();
}

static void no_index_big_directory_waits(void **state)
{
	struct zkh_status st;

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	fakezk_create(HOSTS "/a", "10.0.0.1", 0);
	fakezk_create(HOSTS "/b", "10.0.0.2", 0);
	h_start_cfg("indexer = no\nindex_fallback_max = 2\n", true);
	h_publish();
	st = h_status();
	assert_string_equal(st.index_role, "waiting");
	assert_int_equal(fakezk_count(FZ_LIST, HOSTS), 0);	/* no herd */
	assert_int_equal(h_lookup("a", NULL, 0), 0);
	h_stop();
}

static void stuck_indexer_is_noticed(void **state)
{
	struct zkh_status st;
	int64_t other;

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	write_index(RECS, 1, 3, NULL);
	other = fakezk_session_open();
	assert_int_equal(fakezk_create(IDX "/indexer-0", "stuck", other), ZOK);
	h_start_cfg("indexer = no\n", true);
	h_publish();
	/* registrations the stuck indexer never writes */
	fakezk_create(HOSTS "/new1", "10.0.5.1", 0);
	h_advance(ZKD_IX_CHECK_MS * 2);
	fakezk_create(HOSTS "/new2", "10.0.5.2", 0);
	h_advance(ZKD_IX_CHECK_MS * 2);
	st = h_status();
	assert_non_null(strstr(st.errors[ZKH_ERR_INDEX], "stale"));
	assert_true(st.index_lag_ms > 0);
	assert_null(fakezk_get(IDX "/indexer-0", NULL));	/* election moves on */
	h_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(indexer_writes_head_bucket_and_slot),
		cmocka_unit_test(changes_reach_bucket_and_ring),
		cmocka_unit_test(delete_costs_one_head_write),
		cmocka_unit_test(write_lost_with_the_connection_is_redone),
		cmocka_unit_test(same_addresses_cost_no_write),
		cmocka_unit_test(case_siblings_are_one_entry),
		cmocka_unit_test(beaten_by_another_indexer),
		cmocka_unit_test(standby_leaves_changes_to_the_primary),
		cmocka_unit_test(lagging_view_cannot_resurrect),
		cmocka_unit_test(grows_by_splitting),
		cmocka_unit_test(indexer_marks_written_buckets),
		cmocka_unit_test(consumer_one_change_one_head_read),
		cmocka_unit_test(consumer_behind_the_ring_reads_only_changed),
		cmocka_unit_test(consumer_expiry_bounded_reads),
		cmocka_unit_test(session_start_creates_only_what_is_missing),
		cmocka_unit_test(consumer_behind_the_ring_uses_the_map),
		cmocka_unit_test(consumer_expiry_uses_the_map),
		cmocka_unit_test(consumer_refuses_unknown_format),
		cmocka_unit_test(consumer_retries_refused_head),
		cmocka_unit_test(consumer_retries_refused_bucket),
		cmocka_unit_test(consumer_bucket_read_lost_with_the_connection),
		cmocka_unit_test(no_index_small_directory_mirrors_then_follows),
		cmocka_unit_test(no_index_big_directory_waits),
		cmocka_unit_test(stuck_indexer_is_noticed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

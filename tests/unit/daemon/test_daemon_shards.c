/*
 * test_daemon_shards.c - the mirror's watch sessions (mirror.h), driven
 * through the whole daemon against the ZooKeeper model with several
 * handles: a directory within watches_per_session opens no extra session
 * and keeps every watch on the main one; above it the names' data watches
 * are spread over ceil(names / watches_per_session) watch sessions by a
 * stable hash (the same name lands on the same session after a restart),
 * and a growing directory moves watches off the main handle; a watch
 * session that expires re-reads only its own share (no listing, nothing
 * on the other sessions) and catches a change made meanwhile; one that
 * reconnects keeps its session; and a ZNONODE from a watch session (as a
 * server behind the main session's listing answers) deletes nothing: the
 * daemon syncs that session and reads again. An indexer (indexer = yes)
 * whose watches are spread indexes every name and follows a change seen
 * on a watch session.
 */
#include "harness.h"

#define PER 10		/* watches_per_session in these tests */
#define MAXN 64

static char names[MAXN][16];

static void path_of(char *out, size_t cap, int i)
{
	snprintf(out, cap, HOSTS "/%s", names[i]);
}

/* The model with n hosts ("s00".."s<n-1>", 10.0.0.<i+1>), the daemon
 * started (mirroring: no index yet, a small directory) and published. */
static void start_n_cfg(int n, const char *more)
{
	char p[1100], a[32], extra[256];

	fakezk_init();
	fakezk_mkdirs(HOSTS);
	for (int i = 0; i < n; i++) {
		snprintf(names[i], sizeof names[i], "s%02d", i);
		snprintf(a, sizeof a, "10.0.0.%d", i + 1);
		path_of(p, sizeof p, i);
		assert_int_equal(fakezk_create(p, a, 0), ZOK);
	}
	snprintf(extra, sizeof extra, "watches_per_session = %d\n%s", PER, more);
	h_start_cfg(extra, true);
	h_publish();
	h_advance(20000);	/* watch sessions' backoffs, if any */
	h_publish();
}

static void start_n(int n)
{
	start_n_cfg(n, "");
}

/* Every one of the n names is served with its address. */
static void assert_all_served(int n)
{
	char a[32];

	for (int i = 0; i < n; i++) {
		snprintf(a, sizeof a, "10.0.0.%d", i + 1);
		assert_string_equal(h_addr(names[i]), a);
	}
}

/* Reads of host nodes among the first n, by any handle (io NULL) or io. */
static int host_reads(int n, const struct zkio *io)
{
	char p[1100];
	int reads = 0;

	for (int i = 0; i < n; i++) {
		path_of(p, sizeof p, i);
		reads += io ? fakezk_count_handle(io, FZ_GET, p) : fakezk_count(FZ_GET, p);
	}
	return reads;
}

/* owner[i]: the handle holding name i's data watch; each exactly one. */
static void owners(int n, int *owner)
{
	char p[1100];

	for (int i = 0; i < n; i++) {
		path_of(p, sizeof p, i);
		owner[i] = fakezk_data_watch_handle(p);
		assert_true(owner[i] >= 0);	/* one handle, not none or two */
	}
}

static void small_cluster_opens_no_watch_session(void **state)
{
	struct zkh_status st;
	int owner[MAXN];

	(void)state;
	start_n(PER);
	assert_all_served(PER);
	assert_int_equal(fakezk_open_handles(), 1);
	assert_null(fakezk_handle(1));
	owners(PER, owner);
	for (int i = 0; i < PER; i++)
		assert_int_equal(owner[i], 0);	/* all on the main handle */
	st = h_status();
	assert_int_equal(st.watch_sessions, 0);
	assert_int_equal(st.watch_max, PER);
	assert_int_equal(st.watch_sessions_new, 0);
	h_stop();
}

static void names_spread_by_a_stable_hash(void **state)
{
	const int n = 35;	/* ceil(35 / 10) = 4 watch sessions */
	int owner[MAXN], again[MAXN], per[8] = { 0 };
	struct zkh_status st;

	(void)state;
	start_n(n);
	assert_all_served(n);
	assert_int_equal(fakezk_open_handles(), 5);
	/* the main handle keeps the listing's child watch, no host's data
	 * watch (owners: every name's is on a watch session) */
	assert_int_equal(fakezk_data_watch_handle(HOSTS), -1);
	assert_int_equal(fakezk_watches(HOSTS), 1);
	owners(n, owner);
	for (int i = 0; i < n; i++) {
		char p[1100];

		assert_true(owner[i] >= 1 && owner[i] <= 4);
		per[owner[i]]++;
		path_of(p, sizeof p, i);	/* read there only */
		assert_int_equal(fakezk_count_handle(fakezk_handle(0), FZ_GET, p), 0);
	}
	for (int k = 1; k <= 4; k++)
		assert_true(per[k] > 0);	/* every session has a share */
	st = h_status();
	assert_int_equal(st.watch_sessions, 4);
	assert_int_equal(st.watch_sessions_new, 4);
	{
		int max = 0;

		for (int k = 1; k <= 4; k++)
			max = per[k] > max ? per[k] : max;
		assert_int_equal(st.watch_max, max);
	}
	/* the same names go to the same sessions in another run */
	h_stop();
	start_n(n);
	owners(n, again);
	assert_memory_equal(owner, again, sizeof(int) * (size_t)n);
	h_stop();
}

static void growing_directory_moves_watches_off_the_main_session(void **state)
{
	char p[1100], a[32];
	int owner[MAXN];

	(void)state;
	start_n(PER);
	assert_int_equal(fakezk_open_handles(), 1);
	for (int i = PER; i < 25; i++) {	/* 25 names: 3 watch sessions */
		snprintf(names[i], sizeof names[i], "s%02d", i);
		snprintf(a, sizeof a, "10.0.0.%d", i + 1);
		path_of(p, sizeof p, i);
		assert_int_equal(fakezk_create(p, a, 0), ZOK);
	}
	h_publish();
	h_advance(20000);
	h_publish();
	assert_all_served(25);
	assert_int_equal(fakezk_open_handles(), 4);
	owners(25, owner);	/* exactly one watch each, none left behind */
	for (int i = 0; i < 25; i++)
		assert_true(owner[i] >= 1 && owner[i] <= 3);
	assert_int_equal(fakezk_count_handle(fakezk_handle(0), FZ_UNWATCH, NULL), PER);
	h_stop();
}

static void watch_session_expiry_rereads_only_its_share(void **state)
{
	const int n = 35;
	int owner[MAXN], share = 0, changed = -1;
	struct zkio *ws;
	int64_t main_sid, old_sid;
	char p[1100];

	(void)state;
	start_n(n);
	owners(n, owner);
	ws = fakezk_handle(2);
	old_sid = fakezk_handle_session(ws);
	main_sid = fakezk_client_session();
	for (int i = 0; i < n; i++)
		if (owner[i] == 2) {
			share++;
			changed = i;
		}
	assert_true(share > 0 && share < n);
	fakezk_clear_log();
	fakezk_expire_handle(ws);
	/* a change in its share while it has no session */
	path_of(p, sizeof p, changed);
	assert_int_equal(fakezk_set(p, "10.9.9.9"), ZOK);
	h_settle();
	h_advance(20000);	/* its backoff */
	h_publish();
	assert_true(fakezk_handle_session(ws) != 0);
	assert_true(fakezk_handle_session(ws) != old_sid);
	assert_int_equal(fakezk_client_session(), main_sid);
	/* its share read again, on it; nothing else read or listed */
	assert_int_equal(host_reads(n, NULL), share);
	assert_int_equal(host_reads(n, ws), share);
	assert_int_equal(fakezk_count(FZ_LIST, NULL), 0);
	for (int i = 0; i < n; i++) {
		path_of(p, sizeof p, i);
		assert_int_equal(fakezk_data_watch_handle(p), owner[i]);
	}
	assert_string_equal(h_addr(names[changed]), "10.9.9.9");
	assert_int_equal(h_status().watch_sessions_new, 5);
	h_stop();
}

static void watch_session_reconnect_keeps_its_session(void **state)
{
	const int n = 35;
	int owner[MAXN], changed = -1;
	struct zkio *ws;
	int64_t sid;
	char p[1100];

	(void)state;
	start_n(n);
	owners(n, owner);
	ws = fakezk_handle(3);
	sid = fakezk_handle_session(ws);
	for (int i = 0; i < n; i++)
		if (owner[i] == 3)
			changed = i;
	assert_true(changed >= 0);
	fakezk_clear_log();
	fakezk_disconnect_handle(ws);
	path_of(p, sizeof p, changed);
	assert_int_equal(fakezk_set(p, "10.8.8.8"), ZOK);
	h_settle();
	fakezk_reconnect_handle(ws);
	h_publish();
	assert_int_equal(fakezk_handle_session(ws), sid);
	assert_string_equal(h_addr(names[changed]), "10.8.8.8");
	assert_int_equal(host_reads(n, NULL), 1);	/* the change only */
	assert_int_equal(h_status().watch_sessions_new, 4);
	h_stop();
}

static void znonode_from_a_lagging_watch_session_deletes_nothing(void **state)
{
	const int n = 35;
	int owner[MAXN];
	char p[1100];
	struct zkio *ws;

	(void)state;
	start_n(n);
	owners(n, owner);
	/* an existing name changes; its watch session's server answers the
	 * re-read as if it had not seen the node yet */
	path_of(p, sizeof p, 7);
	ws = fakezk_handle((size_t)owner[7]);
	fakezk_clear_log();
	fakezk_fail(FZ_GET, p, ZNONODE, 1);
	assert_int_equal(fakezk_set(p, "10.7.7.7"), ZOK);
	h_publish();
	assert_string_equal(h_addr(names[7]), "10.7.7.7");
	assert_int_equal(fakezk_count_handle(ws, FZ_SYNC, NULL), 1);
	assert_int_equal(fakezk_count_handle(ws, FZ_GET, p), 2);
	assert_int_equal(fakezk_data_watch_handle(p), owner[7]);

	/* a new name, listed by the main session, unknown to the lagging
	 * server its watch session is on */
	assert_int_equal(fakezk_create(HOSTS "/fresh", "10.6.6.6", 0), ZOK);
	fakezk_fail(FZ_GET, HOSTS "/fresh", ZNONODE, 1);
	h_publish();
	assert_string_equal(h_addr("fresh"), "10.6.6.6");
	assert_true(fakezk_data_watch_handle(HOSTS "/fresh") >= 1);

	/* a real delete still goes (the sync does not bring it back) */
	fakezk_clear_log();
	path_of(p, sizeof p, 3);
	assert_int_equal(fakezk_delete(p), ZOK);
	h_publish();
	assert_int_equal(h_lookup(names[3], NULL, 0), 0);
	assert_all_served(3);
	h_stop();
}

/* The index's line for key ("" if none). */
static const char *index_entry(const char *key)
{
	static char line[ZKX_LINE_MAX + 1];
	const char *d = fakezk_get("/zkhosts/index/v1/head", NULL);
	struct zkx_head h;
	struct ix_set set;
	struct ix_kv *kv;
	size_t body;
	char p[128];
	unsigned i;

	assert_non_null(d);
	assert_int_equal(zkx_head_parse(d, strlen(d), &h, &body), 0);
	i = zkx_bucket_of(zkx_hash(key, strlen(key)), h.nbuckets);
	snprintf(p, sizeof p, "/zkhosts/index/v1/b%u", i);
	d = fakezk_get(p, NULL);
	memset(&set, 0, sizeof set);
	if (d)
		assert_int_equal(ixset_load(&set, d, strlen(d), i, h.nbuckets), 0);
	kv = ixset_get(&set, key);
	snprintf(line, sizeof line, "%s", kv ? kv->line : "");
	ixset_clear(&set);
	return line;
}

static void indexer_with_watch_sessions_indexes_every_name(void **state)
{
	const int n = 35;
	int owner[MAXN];
	char p[1100];

	(void)state;
	start_n_cfg(n, "indexer = yes\n");
	h_advance(5000);
	h_publish();
	assert_string_equal(h_status().index_role, "indexer");
	assert_int_equal(fakezk_open_handles(), 5);
	owners(n, owner);
	for (int i = 0; i < n; i++)
		assert_true(strstr(index_entry(names[i]), names[i]) != NULL);
	/* a change seen on a watch session reaches the index */
	path_of(p, sizeof p, 20);
	assert_int_equal(fakezk_set(p, "10.5.5.5"), ZOK);
	h_publish();
	h_advance(5000);
	h_publish();
	assert_string_equal(h_addr(names[20]), "10.5.5.5");
	assert_true(strstr(index_entry(names[20]), "10.5.5.5") != NULL);
	h_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(small_cluster_opens_no_watch_session),
		cmocka_unit_test(names_spread_by_a_stable_hash),
		cmocka_unit_test(growing_directory_moves_watches_off_the_main_session),
		cmocka_unit_test(watch_session_expiry_rereads_only_its_share),
		cmocka_unit_test(watch_session_reconnect_keeps_its_session),
		cmocka_unit_test(znonode_from_a_lagging_watch_session_deletes_nothing),
		cmocka_unit_test(indexer_with_watch_sessions_indexes_every_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

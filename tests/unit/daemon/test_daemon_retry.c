/*
 * test_daemon_retry.c - refused ZooKeeper requests retried with backoff
 * (issue 16), through the whole daemon against the ZooKeeper model: the
 * backoff's bounds and jitter and the timer heap on their own; a read
 * refused N times then allowed (delays grow, stay under the cap, the
 * record is kept meanwhile, the status says what is pending and why);
 * reads of many nodes refused at once (their retries spread apart); a
 * pending node neither holds up the end of a full sync nor is swept by
 * it, even when the record comes from an earlier run; a node deleted
 * while pending loses its record at once; a refused
 * listing retried until allowed, the sync then completing on its own; a
 * missing <root>/hosts that cannot be created listed with backoff, not
 * in a loop; this host's registration refused, retried with backoff. Time is the harness's clock, stepped from one deadline of
 * the daemon to the next, so every delay is measured exactly.
 */
#include "harness.h"

#include <time.h>

#include "retry.h"

#define MAX_SEEN 64

/* Times (H_now) at which the daemon sent requests of `ops` on one path. */
struct seen {
	const char *path;
	int count;		/* fakezk_count when last looked */
	uint64_t at[MAX_SEEN];	/* the first MAX_SEEN of them */
	size_t n;		/* how many */
};

static void look(struct seen *s, unsigned ops)
{
	int c = fakezk_count(ops, s->path);

	for (; s->count < c; s->count++, s->n++)
		if (s->n < MAX_SEEN)
			s->at[s->n] = H_now;
}

/*
 * Step the clock from one deadline of the daemon to the next until
 * `until` (ms) or until every path was asked `want` times (0: no such
 * stop), noting when requests of `ops` on each path went out.
 */
static void follow(struct seen *s, size_t ns, unsigned ops, uint64_t until,
		   size_t want)
{
	for (size_t i = 0; i < ns; i++)
		look(&s[i], ops);
	while (H_now < until) {
		uint64_t dl = zkd_deadline(&H);
		size_t done = 0;

		h_advance(dl > H_now ? (dl < until ? dl - H_now : until - H_now) : 1);
		for (size_t i = 0; i < ns; i++) {
			look(&s[i], ops);
			if (want && s[i].n >= want)
				done++;
		}
		if (want && done == ns)
			break;
	}
}

static void start_with(const char *const *nodes)
{
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	for (; nodes && *nodes; nodes += 2) {
		char p[256];

		snprintf(p, sizeof p, HOSTS "/%s", nodes[0]);
		assert_int_equal(fakezk_create(p, nodes[1], 0), ZOK);
	}
	h_start_cfg(NULL, true);
	h_publish();
}

/* ---- the backoff and the heap on their own ------------------------------- */

static void backoff_is_exponential_capped_and_jittered(void **state)
{
	(void)state;
	assert_int_equal(retry_bound_ms(1), ZKD_RETRY_BASE_MS);
	assert_int_equal(retry_bound_ms(2), 2 * ZKD_RETRY_BASE_MS);
	assert_int_equal(retry_bound_ms(3), 4 * ZKD_RETRY_BASE_MS);
	for (unsigned f = 2; f < 40; f++) {
		assert_true(retry_bound_ms(f) >= retry_bound_ms(f - 1));
		assert_true(retry_bound_ms(f) <= ZKD_RETRY_CAP_MS);
	}
	assert_int_equal(retry_bound_ms(40), ZKD_RETRY_CAP_MS);
	assert_int_equal(retry_bound_ms(4000000000u), ZKD_RETRY_CAP_MS);
	assert_true(ZKD_RETRY_CAP_MS >= 60000);
	for (unsigned f = 1; f < 40; f++) {
		uint64_t lo = UINT64_MAX, hi = 0;

		for (int i = 0; i < 300; i++) {
			uint64_t d = retry_delay_ms(f);

			assert_true(d <= retry_bound_ms(f));
			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
		/* full jitter: spread over the whole interval */
		if (f >= 8) {
			assert_true(lo < retry_bound_ms(f) / 6);
			assert_true(hi > retry_bound_ms(f) * 5 / 6);
		}
	}
}

static void heap_pops_in_order_and_cancels(void **state)
{
	enum { N = 2000 };
	static struct zkd_retry r[N];
	struct zkd_timers h = { 0 };
	struct zkd_retry *p;
	uint64_t last = 0, min = UINT64_MAX;
	size_t popped = 0, live = 0;

	(void)state;
	memset(r, 0, sizeof r);
	for (size_t i = 0; i < N; i++)
		assert_true(retry_failed(&h, &r[i], ZNOAUTH, (uint64_t)random() % 100000) >= 0);
	/* move some (a second failure), cancel others */
	for (size_t i = 0; i < N; i += 3)
		assert_true(retry_failed(&h, &r[i], ZNOAUTH, (uint64_t)random() % 100000) >= 0);
	for (size_t i = 1; i < N; i += 5)
		retry_cancel(&h, &r[i]);
	for (size_t i = 0; i < N; i++) {
		if (!retry_scheduled(&r[i]))
			continue;
		live++;
		min = r[i].at < min ? r[i].at : min;
	}
	assert_int_equal(retry_next(&h), min);
	assert_null(retry_pop_due(&h, min - 1));
	while ((p = retry_pop_due(&h, UINT64_MAX)) != NULL) {
		assert_true(p->at >= last);
		assert_false(retry_scheduled(p));
		assert_true((p - r) % 5 != 1);	/* never a cancelled one */
		last = p->at;
		popped++;
	}
	assert_int_equal(popped, live);
	assert_int_equal(retry_next(&h), 0);
	retry_reset(&h, &r[0]);
	assert_int_equal(r[0].failures, 0);
	retry_timers_free(&h);
}

/* ---- through the daemon -------------------------------------------------- */

/* A read refused 12 times, then allowed: the record is kept meanwhile
 * and the status says what is pending and why; each retry comes within
 * the backoff's bound, the bounds grow to the cap; then the new data. */
static void refused_read_backs_off_keeps_record_then_recovers(void **state)
{
	static const char *const nodes[] = { "n", "10.0.0.1", "other", "10.0.0.2", NULL };
	struct seen s = { .path = HOSTS "/n" };
	struct zkh_status st;
	uint64_t early = 0, late = 0;

	(void)state;
	start_with(nodes);
	fakezk_clear_log();
	fakezk_fail(FZ_GET, HOSTS "/n", ZNOAUTH, 12);
	assert_int_equal(fakezk_set(HOSTS "/n", "10.0.0.9"), ZOK);
	h_settle();
	assert_int_equal(fakezk_count(FZ_GET, HOSTS "/n"), 1);
	st = h_status();
	assert_string_equal(st.state, "connected");
	assert_int_equal(st.pending_reads, 1);
	assert_false(st.pending_listing);
	assert_int_equal(st.skipped, 0);
	assert_non_null(strstr(st.errors[ZKH_ERR_SYNC], HOSTS "/n: not authenticated"));
	assert_int_equal(st.records, 2);
	assert_string_equal(h_addr("n"), "10.0.0.1");	/* kept */
	/* an exists watch, for servers that tell a change or delete to a
	 * client that cannot read the node */
	assert_int_equal(fakezk_count(FZ_EXISTS, HOSTS "/n"), 1);
	assert_true(fakezk_watches(HOSTS "/n") >= 1);

	/* 12 refusals, then a read that succeeds: 13 reads in all */
	follow(&s, 1, FZ_GET, H_now + 3600 * 1000, 12);
	assert_int_equal(s.n, 12);
	assert_string_equal(h_addr("n"), "10.0.0.1");	/* still kept */
	assert_int_equal(h_status().pending_reads, 1);
	follow(&s, 1, FZ_GET, H_now + 3600 * 1000, 13);
	assert_int_equal(s.n, 13);
	for (unsigned k = 1; k <= 12; k++) {
		uint64_t d = s.at[k] - s.at[k - 1];

		assert_true(d <= retry_bound_ms(k));
		assert_true(d <= ZKD_RETRY_CAP_MS);
		if (k <= 4)
			early += d;
		if (k >= 9)
			late += d;
	}
	assert_true(late > early);	/* grows: bounds 100..800 vs 25600..60000 */
	h_publish();
	assert_string_equal(h_addr("n"), "10.0.0.9");
	st = h_status();
	assert_int_equal(st.pending_reads, 0);
	assert_int_equal(st.retries, 12);
	assert_string_equal(st.errors[ZKH_ERR_SYNC], "");
	assert_string_equal(st.last_error, "");
	/* no retry left behind */
	assert_int_equal(mirror_deadline(&H.m), 0);
	h_stop();
}

/* Ten nodes refused at the same moment (one full sync) do not retry in
 * step: by their eighth retry their times have spread apart. */
static void retries_of_many_nodes_spread_apart(void **state)
{
	enum { N = 10 };
	static char paths[N][64];
	struct seen s[N];
	uint64_t d8[N];
	size_t distinct = 0;

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	for (int i = 0; i < N; i++) {
		snprintf(paths[i], sizeof paths[i], HOSTS "/h%d", i);
		assert_int_equal(fakezk_create(paths[i], "10.0.0.1", 0), ZOK);
		fakezk_protect(paths[i]);
		s[i] = (struct seen){ .path = paths[i] };
	}
	h_start_cfg(NULL, true);
	h_settle();
	assert_string_equal(h_status().state, "connected");
	assert_int_equal(h_status().pending_reads, N);
	follow(s, N, FZ_GET, H_now + 3600 * 1000, 9);
	for (int i = 0; i < N; i++) {
		bool seen_before = false;

		assert_true(s[i].n >= 9);
		d8[i] = s[i].at[8] - s[i].at[7];
		assert_true(d8[i] <= retry_bound_ms(8));
		for (int j = 0; j < i; j++)
			if (d8[j] == d8[i])
				seen_before = true;
		if (!seen_before)
			distinct++;
	}
	assert_true(distinct >= 5);
	h_stop();
}

/* A node whose reads are refused keeps its record through a full sync
 * (new session after expiry) that sweeps a record deleted meanwhile, and
 * the sync completes without waiting for it. */
static void pending_node_neither_holds_up_nor_is_swept_by_a_sync(void **state)
{
	static const char *const nodes[] = {
		"keep", "10.0.0.1", "secret", "10.0.0.7", "gone", "10.0.0.2", NULL
	};
	struct zkh_status st;
	uint64_t synced_before;

	(void)state;
	start_with(nodes);
	synced_before = h_status().last_sync_us;
	fakezk_protect(HOSTS "/secret");
	fakezk_expire();
	h_settle();
	fakezk_delete(HOSTS "/gone");
	h_advance(ZKD_BACKOFF_MAX_MS);	/* the new session */
	h_publish();
	st = h_status();
	assert_string_equal(st.state, "connected");
	assert_true(st.last_sync_us != synced_before);
	assert_int_equal(st.pending_reads, 1);
	assert_int_equal(h_lookup("gone", NULL, 0), 0);	/* swept */
	assert_string_equal(h_addr("secret"), "10.0.0.7");	/* kept */
	assert_string_equal(h_addr("keep"), "10.0.0.1");
	assert_int_equal(st.records, 2);
	/* the ACL is fixed: the next retry reads it, nothing else needed */
	fakezk_unprotect(HOSTS "/secret");
	h_advance(ZKD_RETRY_CAP_MS);
	assert_int_equal(h_status().pending_reads, 0);
	assert_string_equal(h_status().errors[ZKH_ERR_SYNC], "");
	/* and its changes are followed again */
	fakezk_set(HOSTS "/secret", "10.0.0.8");
	h_publish();
	assert_string_equal(h_addr("secret"), "10.0.0.8");
	h_stop();
}

/* The same for a record this process never read: published by an earlier
 * run, unreadable after the restart. Kept by the sweep; deleted in
 * ZooKeeper, it goes. */
static void record_of_an_earlier_run_kept_while_unreadable(void **state)
{
	static const char *const nodes[] = { "keep", "10.0.0.1", "secret", "10.0.0.7", NULL };
	char dir[sizeof H_dir];

	(void)state;
	start_with(nodes);
	assert_string_equal(h_addr("secret"), "10.0.0.7");
	/* stop without removing the cache, start again on it */
	snprintf(dir, sizeof dir, "%s", H_dir);
	zkd_shutdown(&H, H_now);
	zkh_pub_close(H_pub);
	H.pub = NULL;
	zkd_free(&H);
	fakezk_protect(HOSTS "/secret");
	h_start_in(dir, NULL, true);
	h_publish();
	assert_string_equal(h_status().state, "connected");
	assert_int_equal(h_status().pending_reads, 1);
	assert_string_equal(h_addr("secret"), "10.0.0.7");
	/* deleted while unreadable: the record goes */
	assert_int_equal(fakezk_delete(HOSTS "/secret"), ZOK);
	h_publish();
	assert_int_equal(h_lookup("secret", NULL, 0), 0);
	assert_int_equal(h_status().pending_reads, 0);
	assert_string_equal(h_status().errors[ZKH_ERR_SYNC], "");
	h_stop();
}

/* Deleted while its reads are refused (and its next retry is far off):
 * the listing's child watch tells (the node's own watches do not reach a
 * client that cannot read it), the record goes at once. */
static void delete_while_pending_removes_the_record(void **state)
{
	static const char *const nodes[] = { "x", "10.0.0.1", NULL };
	struct seen s = { .path = HOSTS "/x" };
	uint64_t t;

	(void)state;
	start_with(nodes);
	fakezk_protect(HOSTS "/x");
	fakezk_set(HOSTS "/x", "10.0.0.2");	/* not told: it cannot read x */
	h_settle();
	assert_int_equal(h_status().pending_reads, 0);
	zkd_resync(&H, H_now);	/* SIGHUP: reads it, refused */
	h_settle();
	assert_int_equal(h_status().pending_reads, 1);
	assert_string_equal(h_status().state, "connected");
	/* let the backoff grow: the next retry is seconds away */
	follow(&s, 1, FZ_GET, H_now + 3600 * 1000, 10);
	assert_string_equal(h_addr("x"), "10.0.0.1");
	t = mirror_deadline(&H.m);
	assert_true(t > H_now);
	assert_int_equal(fakezk_delete(HOSTS "/x"), ZOK);
	h_settle();	/* no time passes */
	assert_true(H_now < t);
	assert_int_equal(h_lookup("x", NULL, 0), 0);
	assert_int_equal(h_status().pending_reads, 0);
	assert_int_equal(h_status().records, 0);
	assert_int_equal(mirror_deadline(&H.m), 0);
	h_stop();
}

/* <root>/hosts unreadable from the start: the listing is retried with
 * backoff (not in a loop, never given up) while the status says so;
 * once the ACL is fixed the next retry lists, the sync completes and
 * the records, including one created meanwhile, are published. */
static void refused_listing_is_retried_until_allowed(void **state)
{
	struct seen s = { .path = HOSTS };
	struct zkh_status st;
	uint64_t t0;

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	fakezk_create(HOSTS "/a", "10.0.0.1", 0);
	fakezk_create(HOSTS "/b", "10.0.0.2", 0);
	fakezk_protect(HOSTS);
	h_start_cfg(NULL, true);
	h_settle();
	st = h_status();
	assert_string_equal(st.state, "syncing");
	assert_true(st.pending_listing);
	assert_non_null(strstr(st.errors[ZKH_ERR_SYNC], "cannot list " HOSTS ": not authenticated"));
	t0 = H_now;
	follow(&s, 1, FZ_LIST, t0 + 600 * 1000, 0);
	/* at least one listing per cap, and far from a loop */
	assert_true(s.n >= 600 * 1000 / ZKD_RETRY_CAP_MS);
	assert_true(s.n <= 120);
	for (size_t k = 1; k < s.n && k < MAX_SEEN; k++)
		assert_true(s.at[k] - s.at[k - 1] <= ZKD_RETRY_CAP_MS);
	st = h_status();
	assert_string_equal(st.state, "syncing");
	assert_int_equal(st.records, 0);
	fakezk_create(HOSTS "/c", "10.0.0.3", 0);
	fakezk_unprotect(HOSTS);
	h_advance(ZKD_RETRY_CAP_MS);
	h_publish();
	st = h_status();
	assert_string_equal(st.state, "connected");
	assert_false(st.pending_listing);
	assert_string_equal(st.errors[ZKH_ERR_SYNC], "");
	assert_true(st.last_sync_us > 0);
	assert_string_equal(h_addr("a"), "10.0.0.1");
	assert_string_equal(h_addr("b"), "10.0.0.2");
	assert_string_equal(h_addr("c"), "10.0.0.3");
	h_stop();
}

/* <root>/hosts missing and its creation refused: the daemon asks again
 * with backoff, not in a tight loop, and completes once it can. */
static void uncreatable_hosts_is_listed_with_backoff(void **state)
{
	struct seen s = { .path = HOSTS };

	(void)state;
	fakezk_init();
	fakezk_mkdirs("/zkhosts/boot");
	fakezk_protect("/zkhosts");
	h_start_cfg(NULL, true);
	h_settle();
	assert_true(fakezk_count(FZ_LIST, HOSTS) <= 3);
	follow(&s, 1, FZ_LIST, H_now + 600 * 1000, 0);
	assert_true(s.n <= 120);
	assert_true(h_status().pending_listing);
	assert_string_equal(h_status().state, "syncing");
	fakezk_unprotect("/zkhosts");
	h_advance(ZKD_RETRY_CAP_MS);
	h_publish();
	assert_non_null(fakezk_get(HOSTS, NULL));
	assert_string_equal(h_status().state, "connected");
	assert_false(h_status().pending_listing);
	h_stop();
}

/* This host's registration refused 6 times: retried with backoff (each
 * attempt within the bound), the error shown meanwhile, then held. */
static void refused_registration_backs_off(void **state)
{
	struct seen s = { .path = HOSTS "/me" };
	struct zkh_status st;

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	fakezk_fail(FZ_CREATE, HOSTS "/me", ZNOAUTH, 6);
	h_start_cfg("register = me 10.5.0.1\n", true);
	h_settle();
	st = h_status();
	assert_non_null(strstr(st.errors[ZKH_ERR_REGISTRATION], "not authenticated"));
	follow(&s, 1, FZ_CREATE, H_now + 3600 * 1000, 7);
	assert_int_equal(s.n, 7);
	for (unsigned k = 1; k <= 6; k++)
		assert_true(s.at[k] - s.at[k - 1] <= retry_bound_ms(k));
	h_publish();
	assert_string_equal(h_addr("me"), "10.5.0.1");
	st = h_status();
	assert_string_equal(st.errors[ZKH_ERR_REGISTRATION], "");
	h_stop();
}

int main(void)
{
	/* Any seed must pass: the assertions hold for every jitter drawn.
	 * ZKD_TEST_SEED replays one. */
	const char *seed_env = getenv("ZKD_TEST_SEED");
	unsigned seed = seed_env ? (unsigned)strtoul(seed_env, NULL, 10) :
		(unsigned)getpid() ^ (unsigned)time(NULL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(backoff_is_exponential_capped_and_jittered),
		cmocka_unit_test(heap_pops_in_order_and_cancels),
		cmocka_unit_test(refused_read_backs_off_keeps_record_then_recovers),
		cmocka_unit_test(retries_of_many_nodes_spread_apart),
		cmocka_unit_test(pending_node_neither_holds_up_nor_is_swept_by_a_sync),
		cmocka_unit_test(record_of_an_earlier_run_kept_while_unreadable),
		cmocka_unit_test(delete_while_pending_removes_the_record),
		cmocka_unit_test(refused_listing_is_retried_until_allowed),
		cmocka_unit_test(uncreatable_hosts_is_listed_with_backoff),
		cmocka_unit_test(refused_registration_backs_off),
	};

	printf("jitter seed %u (ZKD_TEST_SEED)\n", seed);
	srandom(seed);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_daemon_reload.c - SIGHUP's reaction (zkd_reload) on the ZooKeeper
 * model: live keys (publish_delay, max_records, metrics_file, domain)
 * change at once without a resync or a new session; session keys (root
 * here) are switched by one new session after a delay within the spread,
 * whose full sync follows the new root and sweeps the old one's records;
 * an unusable auth_file refuses the whole reload and changes nothing;
 * `cache` is kept. The fleet index's keys: index_fallback_max changes at
 * once; indexer and indexers by the new session, which gives up the old
 * one's election slot and stands (or not) as now configured. SIGUSR1's
 * resync is zkd_resync (test_daemon_mirror).
 */
#include "harness.h"

static void live_keys_no_resync(void **state)
{
	struct zkh_config nc;
	struct zkh_status st;
	char err[256];
	int lists;
	uint64_t sid;

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	fakezk_create(HOSTS "/a", "10.0.0.1", 0);
	h_start_cfg(NULL, true);
	h_publish();
	sid = H.s.id;
	lists = fakezk_count(FZ_LIST, HOSTS);
	st = h_status();
	nc = H.cfg;
	nc.publish_delay = 7;
	nc.max_records = 5;
	snprintf(nc.domain, sizeof nc.domain, "example.test");
	snprintf(nc.cache, sizeof nc.cache, "/elsewhere");
	assert_int_equal(zkd_reload(&H, &nc, H_now, err, sizeof err), 0);
	assert_int_equal(H.b.publish_delay, 7);
	assert_int_equal(H.b.max_records, 5);
	assert_string_equal(H.cfg.domain, "example.test");
	assert_string_equal(H.cfg.cache, H_dir);	/* needs a restart */
	assert_int_equal(H.switch_at, 0);
	h_publish();
	assert_int_equal(fakezk_count(FZ_LIST, HOSTS), lists);	/* no resync */
	assert_int_equal(H.s.id, sid);				/* same session */
	assert_int_equal(h_status().last_sync_us, st.last_sync_us);
	assert_true(h_status().generation > st.generation);	/* new domain published */
	h_stop();
}

static void root_switches_by_a_new_session(void **state)
{
	struct zkh_config nc;
	char err[256];
	uint64_t sid, spread;

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	fakezk_mkdirs("/other/hosts");
	fakezk_create(HOSTS "/a", "10.0.0.1", 0);
	fakezk_create("/other/hosts/b", "10.0.0.2", 0);
	h_start_cfg(NULL, true);
	h_publish();
	sid = H.s.id;
	nc = H.cfg;
	snprintf(nc.root, sizeof nc.root, "/other");
	assert_int_equal(zkd_reload(&H, &nc, H_now, err, sizeof err), 0);
	spread = (uint64_t)nc.session_timeout < ZKD_RELOAD_SPREAD_MS ?
		(uint64_t)nc.session_timeout : ZKD_RELOAD_SPREAD_MS;
	assert_true(H.switch_at >= H_now && H.switch_at <= H_now + spread);
	assert_string_equal(H.cfg.root, "/zkhosts");	/* not yet */
	assert_int_equal(H.s.id, sid);
	h_advance(H.switch_at - H_now);
	h_publish();
	assert_int_not_equal(H.s.id, sid);
	assert_string_equal(H.cfg.root, "/other");
	assert_string_equal(h_addr("b"), "10.0.0.2");
	assert_string_equal(h_addr("a"), "");		/* the old root's record swept */
	assert_string_equal(h_status().state, "connected");
	h_stop();
}

static void index_keys_by_a_new_session(void **state)
{
	struct zkh_config nc;
	struct zkio_stat st;
	char err[256];
	uint64_t sid;

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	fakezk_create(HOSTS "/a", "10.0.0.1", 0);
	h_start_cfg("indexer = yes\n", true);
	h_publish();
	sid = H.s.id;
	assert_string_equal(h_status().index_role, "indexer");
	assert_non_null(fakezk_get("/zkhosts/index/v1/indexer-0", &st));
	assert_int_equal(st.ephemeral_owner, (int64_t)sid);
	nc = H.cfg;
	nc.indexer = ZKH_INDEXER_NO;
	nc.index_fallback_max = 0;
	assert_int_equal(zkd_reload(&H, &nc, H_now, err, sizeof err), 0);
	assert_int_equal(H.cfg.index_fallback_max, 0);	/* at once */
	assert_int_equal(H.c.fallback_max, 0);
	assert_int_not_equal(H.switch_at, 0);		/* indexer: new session */
	assert_int_equal(H.cfg.indexer, ZKH_INDEXER_YES);	/* not yet */
	h_publish();
	assert_string_equal(h_status().index_role, "indexer");
	h_advance(H.switch_at - H_now);
	h_publish();
	assert_int_not_equal(H.s.id, sid);
	assert_int_equal(H.cfg.indexer, ZKH_INDEXER_NO);
	assert_string_equal(h_status().index_role, "consumer");
	assert_null(fakezk_get("/zkhosts/index/v1/indexer-0", NULL));	/* slot gone */
	assert_string_equal(h_addr("a"), "10.0.0.1");	/* from the index */
	assert_string_equal(h_status().state, "connected");
	h_stop();
}

static void bad_auth_file_refused(void **state)
{
	struct zkh_config nc;
	char err[256];

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	h_start_cfg(NULL, true);
	h_publish();
	nc = H.cfg;
	nc.publish_delay = 9;
	snprintf(nc.auth_file, sizeof nc.auth_file, "%s/no-such-auth", H_dir);
	assert_int_equal(zkd_reload(&H, &nc, H_now, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "no-such-auth"));
	assert_int_equal(H.b.publish_delay, 100);	/* nothing changed */
	assert_string_equal(H.cfg.auth_file, "");
	assert_int_equal(H.switch_at, 0);
	h_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(live_keys_no_resync),
		cmocka_unit_test(root_switches_by_a_new_session),
		cmocka_unit_test(index_keys_by_a_new_session),
		cmocka_unit_test(bad_auth_file_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

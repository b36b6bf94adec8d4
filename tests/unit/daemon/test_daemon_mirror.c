/*
 * test_daemon_mirror.c - the tree mirror, driven through the whole daemon
 * (dispatch.c and every role) against the ZooKeeper model: a full sync's
 * listing and reads, changes seen through watches, deletes, a delete and
 * re-create answered in between, case siblings, reads lost to a
 * connection loss and retried, reads refused by an ACL, a listing
 * refused (the sync error), reconnect with changes made while away,
 * expiry with a new session and the sweep of vanished records, and a
 * ZooKeeper that never answers (the connection error).
 */
#include "harness.h"

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

static void full_sync_lists_and_reads_everything(void **state)
{
	static const char *const nodes[] = { "a", "10.0.0.1", "b", "10.0.0.2", NULL };
	struct zkh_status st;

	(void)state;
	fakezk_init();
	start_with(nodes);
	assert_string_equal(h_addr("a"), "10.0.0.1");
	assert_string_equal(h_addr("b"), "10.0.0.2");
	assert_int_equal(fakezk_count(FZ_LIST, HOSTS), 1);
	assert_int_equal(fakezk_count(FZ_GET, HOSTS "/a"), 1);
	assert_int_equal(fakezk_count(FZ_GET, HOSTS "/b"), 1);
	/* the layout it needs is created, boot too */
	assert_non_null(fakezk_get("/zkhosts/boot", NULL));
	st = h_status();
	assert_string_equal(st.state, "connected");
	assert_true(st.connected);
	assert_int_equal(st.session, (uint64_t)fakezk_client_session());
	assert_int_equal(st.records, 2);
	assert_string_equal(st.last_error, "");
	assert_true(st.last_sync_us > 0);
	/* a watch on the listing and on every node */
	assert_int_equal(fakezk_watches(HOSTS), 1);
	assert_int_equal(fakezk_watches(HOSTS "/a"), 1);
	h_stop();
}

static void changes_creates_and_deletes_follow(void **state)
{
	static const char *const nodes[] = { "a", "10.0.0.1", "b", "10.0.0.2", NULL };

	(void)state;
	fakezk_init();
	start_with(nodes);
	fakezk_clear_log();
	assert_int_equal(fakezk_set(HOSTS "/a", "10.0.1.1"), ZOK);
	assert_int_equal(fakezk_create(HOSTS "/c", "10.0.0.3", 0), ZOK);
	assert_int_equal(fakezk_delete(HOSTS "/b"), ZOK);
	h_publish();
	assert_string_equal(h_addr("a"), "10.0.1.1");
	assert_string_equal(h_addr("c"), "10.0.0.3");
	assert_int_equal(h_lookup("b", NULL, 0), 0);
	/* one read per change, a relisting for the children; b's delete is
	 * read back once (ZNONODE) before its record goes */
	assert_int_equal(fakezk_count(FZ_GET, HOSTS "/a"), 1);
	assert_int_equal(fakezk_count(FZ_GET, HOSTS "/c"), 1);
	assert_int_equal(fakezk_count(FZ_GET, HOSTS "/b"), 1);
	assert_true(fakezk_count(FZ_LIST, HOSTS) >= 1);
	h_stop();
}

/* A node deleted and created again before the daemon's read is answered:
 * the record is replaced (new czxid), never missing from a publish. */
static void delete_and_recreate_replaces_without_a_gap(void **state)
{
	static const char *const nodes[] = { "web", "10.0.0.1", NULL };
	struct zkio_stat st;
	uint64_t old;

	(void)state;
	fakezk_init();
	start_with(nodes);
	old = h_lookup("web", NULL, 0);
	assert_true(old != 0);
	assert_int_equal(fakezk_delete(HOSTS "/web"), ZOK);
	/* the daemon hears the delete and asks to read web again ... */
	zkd_process_events(&H, H_now);
	assert_true(fakezk_pending() >= 1);
	/* ... and before the answer web is back, with new data */
	assert_int_equal(fakezk_create(HOSTS "/web", "10.0.0.9", 0), ZOK);
	for (int i = 0; i < 50; i++) {
		fakezk_step();
		zkd_process_events(&H, H_now);
		H_now += 200;
		zkd_tick(&H, H_now);
		assert_true(h_lookup("web", NULL, 0) != 0);	/* never absent */
	}
	h_publish();
	fakezk_get(HOSTS "/web", &st);
	assert_int_equal(h_lookup("web", NULL, 0), (uint64_t)st.czxid);
	assert_true((uint64_t)st.czxid != old);
	assert_string_equal(h_addr("web"), "10.0.0.9");
	h_stop();
}

/* "web" and "WEB" are one host name: the one read last is served; when
 * it goes, the sibling takes the record over instead of a delete. */
static void case_siblings_share_one_record(void **state)
{
	static const char *const nodes[] = { "web", "10.0.0.1", NULL };

	(void)state;
	fakezk_init();
	start_with(nodes);
	assert_int_equal(fakezk_create(HOSTS "/WEB", "10.0.0.2", 0), ZOK);
	h_publish();
	assert_string_equal(h_addr("web"), "10.0.0.2");
	assert_int_equal(h_status().records, 1);
	assert_int_equal(fakezk_delete(HOSTS "/WEB"), ZOK);
	h_publish();
	assert_string_equal(h_addr("web"), "10.0.0.1");
	/* the survivor's data goes bad: it no longer backs the record */
	assert_int_equal(fakezk_set(HOSTS "/web", "not an address"), ZOK);
	h_publish();
	assert_int_equal(h_lookup("web", NULL, 0), 0);
	assert_int_equal(h_status().skipped, 1);
	h_stop();
}

/* Reads lost to a connection loss are sent again after the reconnect;
 * a read refused by an ACL leaves that node pending (no record yet,
 * retried: test_daemon_retry.c), the rest syncs. */
static void lost_and_refused_reads(void **state)
{
	struct zkh_status st;

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	fakezk_create(HOSTS "/a", "10.0.0.1", 0);
	fakezk_create(HOSTS "/secret", "10.0.0.7", 0);
	fakezk_protect(HOSTS "/secret");
	fakezk_fail(FZ_GET, HOSTS "/a", ZCONNECTIONLOSS, 1);
	h_start_cfg(NULL, true);
	h_publish();
	assert_string_equal(h_addr("a"), "10.0.0.1");
	assert_int_equal(fakezk_count(FZ_GET, HOSTS "/a"), 2);
	assert_int_equal(h_lookup("secret", NULL, 0), 0);
	st = h_status();
	assert_int_equal(st.skipped, 0);
	assert_int_equal(st.pending_reads, 1);
	assert_string_equal(st.state, "connected");
	h_stop();
}

/* A listing refused: the sync error is shown until a listing succeeds;
 * SIGHUP lists at once (retries with backoff: test_daemon_retry.c). */
static void refused_listing_is_the_sync_error(void **state)
{
	struct zkh_status st;

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	fakezk_create(HOSTS "/a", "10.0.0.1", 0);
	fakezk_fail(FZ_LIST, HOSTS, ZNOAUTH, 1);
	h_start_cfg(NULL, true);
	h_settle();
	st = h_status();
	assert_non_null(strstr(st.errors[ZKH_ERR_SYNC], "cannot list " HOSTS));
	assert_string_equal(st.last_error, st.errors[ZKH_ERR_SYNC]);
	assert_string_equal(st.state, "syncing");
	/* SIGHUP: a full resync, whose listing succeeds */
	fakezk_create(HOSTS "/b", "10.0.0.2", 0);
	zkd_resync(&H, H_now);
	h_publish();
	st = h_status();
	assert_string_equal(st.errors[ZKH_ERR_SYNC], "");
	assert_string_equal(st.state, "connected");
	assert_string_equal(h_addr("b"), "10.0.0.2");
	h_stop();
}

/* Connection lost: the error shows while away; changes made meanwhile
 * arrive through the re-armed watches after the reconnect. */
static void reconnect_catches_up(void **state)
{
	static const char *const nodes[] = { "a", "10.0.0.1", "b", "10.0.0.2", NULL };
	struct zkh_status st;
	int64_t sid;

	(void)state;
	fakezk_init();
	start_with(nodes);
	sid = fakezk_client_session();
	fakezk_disconnect();
	h_settle();
	st = h_status();
	assert_string_equal(st.state, "disconnected");
	assert_false(st.connected);
	assert_non_null(strstr(st.errors[ZKH_ERR_CONNECTION], "connection to ZooKeeper lost"));
	assert_string_equal(st.last_error, st.errors[ZKH_ERR_CONNECTION]);
	fakezk_set(HOSTS "/a", "10.0.1.1");
	fakezk_delete(HOSTS "/b");
	fakezk_create(HOSTS "/c", "10.0.0.3", 0);
	h_publish();
	assert_string_equal(h_addr("a"), "10.0.0.1");	/* still the old view */
	fakezk_clear_log();
	fakezk_reconnect();
	h_publish();
	assert_int_equal(fakezk_client_session(), sid);
	assert_string_equal(h_addr("a"), "10.0.1.1");
	assert_int_equal(h_lookup("b", NULL, 0), 0);
	assert_string_equal(h_addr("c"), "10.0.0.3");
	st = h_status();
	assert_string_equal(st.state, "connected");
	assert_string_equal(st.errors[ZKH_ERR_CONNECTION], "");
	assert_string_equal(st.last_error, "");
	h_stop();
}

/* Expiry: a new session after the backoff, a full sync, and the records
 * deleted while the daemon had no session are swept. */
static void expiry_resyncs_and_sweeps(void **state)
{
	static const char *const nodes[] = { "keep", "10.0.0.1", "gone", "10.0.0.2", NULL };
	struct zkh_status st;
	int64_t old;

	(void)state;
	fakezk_init();
	start_with(nodes);
	old = fakezk_client_session();
	fakezk_expire();
	h_settle();
	st = h_status();
	assert_string_equal(st.state, "expired");
	assert_non_null(strstr(st.errors[ZKH_ERR_CONNECTION], "expired"));
	/* the dead session's watches cannot report these */
	fakezk_delete(HOSTS "/gone");
	fakezk_create(HOSTS "/new", "10.0.0.3", 0);
	h_advance(ZKD_BACKOFF_MAX_MS);	/* the reconnect is due */
	h_publish();
	assert_true(fakezk_client_session() != old);
	assert_true(fakezk_client_session() != 0);
	assert_int_equal(h_lookup("gone", NULL, 0), 0);
	assert_string_equal(h_addr("new"), "10.0.0.3");
	assert_string_equal(h_addr("keep"), "10.0.0.1");
	st = h_status();
	assert_string_equal(st.state, "connected");
	assert_string_equal(st.errors[ZKH_ERR_CONNECTION], "");
	h_stop();
}

/* ZooKeeper never answers: after the session timeout the outage is the
 * connection error, and it clears once a session is established. */
static void unreachable_zookeeper_is_an_error(void **state)
{
	struct zkh_status st;

	(void)state;
	fakezk_init();
	fakezk_mkdirs(HOSTS);
	h_start_cfg("session_timeout = 4000\n", false);
	h_settle();
	st = h_status();
	assert_string_equal(st.state, "connecting");
	assert_string_equal(st.errors[ZKH_ERR_CONNECTION], "");
	h_advance(4000);
	st = h_status();
	assert_non_null(strstr(st.errors[ZKH_ERR_CONNECTION], "ZooKeeper unreachable since"));
	assert_non_null(strstr(st.errors[ZKH_ERR_CONNECTION], "no server of"));
	assert_int_equal(st.error_counts[ZKH_ERR_CONNECTION], 1);
	assert_true(st.disconnected_us > 0);
	/* the handle that got no session is closed; the next one comes after
	 * a backoff step, and each step fails the same way without raising
	 * the error again */
	assert_false(zkio_is_open(H.io));
	assert_true(H.s.reconnect_at > H_now);
	for (int i = 0; i < 3; i++) {
		unsigned prev = H.s.last_delay_ms;

		h_advance(H.s.reconnect_at - H_now);
		assert_true(zkio_is_open(H.io));
		/* each window is longer: a slow server gets more time */
		assert_true(H.connect_deadline - H_now >= 4000u << (i + 1 < 3 ? i + 1 : 3));
		h_advance(H.connect_deadline - H_now);
		assert_false(zkio_is_open(H.io));
		assert_true(H.s.last_delay_ms >= prev / 2);	/* jitter: [b/2, b] */
	}
	assert_true(H.s.backoff_ms > ZKD_BACKOFF_MIN_MS);
	st = h_status();
	assert_int_equal(st.error_counts[ZKH_ERR_CONNECTION], 1);
	fakezk_set_reachable(true);
	h_advance(H.s.reconnect_at - H_now);
	h_publish();
	st = h_status();
	assert_string_equal(st.state, "connected");
	assert_string_equal(st.errors[ZKH_ERR_CONNECTION], "");
	assert_int_equal(st.disconnected_us, 0);
	assert_int_equal(H.s.backoff_ms, ZKD_BACKOFF_MIN_MS);
	h_stop();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_sync_lists_and_reads_everything),
		cmocka_unit_test(changes_creates_and_deletes_follow),
		cmocka_unit_test(delete_and_recreate_replaces_without_a_gap),
		cmocka_unit_test(case_siblings_share_one_record),
		cmocka_unit_test(lost_and_refused_reads),
		cmocka_unit_test(refused_listing_is_the_sync_error),
		cmocka_unit_test(reconnect_catches_up),
		cmocka_unit_test(expiry_resyncs_and_sweeps),
		cmocka_unit_test(unreachable_zookeeper_is_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

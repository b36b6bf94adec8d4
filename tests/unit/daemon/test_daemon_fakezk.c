/*
 * test_daemon_fakezk.c - the ZooKeeper model the daemon's unit tests rely
 * on, checked against the ZooKeeper behaviour it stands for, through the
 * zkio interface alone: a watch event comes before the reply to a later
 * request that sees the change; watches are one-shot; zxids and versions
 * move as ZooKeeper's; multi is all or nothing; ephemeral nodes go with
 * their session; ACLs refuse the unauthenticated; a lost connection fails
 * what is pending and fires, on reconnect, the watches whose nodes changed;
 * expiry ends the handle; scripted failures hit only what they name;
 * several handles are separate clients (own sessions, watches, losses and
 * expiry; distinct generations), sync answers, unwatch removes a data
 * watch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "fakezk.h"
#include "zkio.h"

static struct zkd_evq q;
static struct zkio *io;

static int setup(void **state)
{
	char desc[64], err[128];

	(void)state;
	fakezk_init();
	fakezk_mkdirs("/r/hosts");
	assert_int_equal(evq_init(&q), 0);
	io = zkio_new(&q);
	assert_non_null(io);
	assert_int_equal(zkio_open(io, "x:1", 4000, NULL, desc, sizeof desc, err, sizeof err), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	zkio_free(io);
	evq_destroy(&q);
	fakezk_reset();
	return 0;
}

/* Take the queued events; check the next one's kind, type/rc, path. */
static struct zkd_event *pending_events;

static void drain(void)
{
	struct zkd_event **tail = &pending_events;

	while (*tail)
		tail = &(*tail)->next;
	*tail = evq_take_all(&q);
}

static void expect(enum zkd_ev_kind kind, int type_or_rc, const char *path)
{
	struct zkd_event *e;

	drain();
	e = pending_events;
	assert_non_null(e);
	pending_events = e->next;
	assert_int_equal(e->kind, kind);
	if (kind == EV_WATCH)
		assert_int_equal(e->type, type_or_rc);
	else
		assert_int_equal(e->rc, type_or_rc);
	if (path)
		assert_string_equal(e->path, path);
	zkd_ev_free(e);
}

static void expect_none(void)
{
	drain();
	assert_null(pending_events);
}

static void events_precede_later_replies(void **state)
{
	struct zkio_stat st1, st2;

	(void)state;
	fakezk_run();
	expect(EV_WATCH, ZKIO_SESSION_EVENT, NULL);
	assert_int_equal(fakezk_create("/r/hosts/a", "1", 0), ZOK);
	zkio_get_data(io, "/r/hosts/a");
	expect_none();				/* not answered yet */
	fakezk_step();
	expect(EV_DATA, ZOK, "/r/hosts/a");
	fakezk_get("/r/hosts/a", &st1);
	zkio_get_data(io, "/r/hosts/a");	/* sent before the change ... */
	assert_int_equal(fakezk_set("/r/hosts/a", "2"), ZOK);
	fakezk_step();				/* ... answered after it */
	expect(EV_WATCH, ZKIO_CHANGED_EVENT, "/r/hosts/a");
	expect(EV_DATA, ZOK, "/r/hosts/a");
	fakezk_get("/r/hosts/a", &st2);
	assert_int_equal(st2.czxid, st1.czxid);
	assert_true(st2.mzxid > st1.mzxid);
	assert_int_equal(st2.version, st1.version + 1);
	/* one-shot: the read re-armed it once, a second set fires once */
	assert_int_equal(fakezk_set("/r/hosts/a", "3"), ZOK);
	assert_int_equal(fakezk_set("/r/hosts/a", "4"), ZOK);
	expect(EV_WATCH, ZKIO_CHANGED_EVENT, "/r/hosts/a");
	expect_none();
}

static void multi_and_ephemerals(void **state)
{
	struct zkio_stat st, st2;
	int64_t other = fakezk_session_open();

	(void)state;
	fakezk_run();
	expect(EV_WATCH, ZKIO_SESSION_EVENT, NULL);
	assert_int_equal(fakezk_create("/r/hosts/e", "1", other), ZOK);
	fakezk_get("/r/hosts/e", &st);
	assert_int_equal(st.ephemeral_owner, other);
	/* a wrong version: nothing changes */
	zkio_replace(io, "/r/hosts/e", st.version + 1, "2", ZKIO_EPHEMERAL, TAG_REG_REPLACE);
	fakezk_run();
	expect(EV_VOID, ZBADVERSION, "/r/hosts/e");
	fakezk_get("/r/hosts/e", &st2);
	assert_int_equal(st2.czxid, st.czxid);
	zkio_replace(io, "/r/hosts/e", st.version, "2", ZKIO_EPHEMERAL, TAG_REG_REPLACE);
	fakezk_run();
	expect(EV_VOID, ZOK, "/r/hosts/e");
	fakezk_get("/r/hosts/e", &st2);
	assert_true(st2.czxid > st.czxid);
	assert_int_equal(st2.ephemeral_owner, fakezk_client_session());
	/* the other session's end takes nothing of ours */
	fakezk_session_close(other);
	assert_non_null(fakezk_get("/r/hosts/e", NULL));
	/* ours closing takes it */
	zkio_close(io);
	assert_null(fakezk_get("/r/hosts/e", NULL));
}

static void acl_loss_expiry_and_scripted_failures(void **state)
{
	(void)state;
	fakezk_run();
	expect(EV_WATCH, ZKIO_SESSION_EVENT, NULL);
	fakezk_create("/r/hosts/s", "1", 0);
	fakezk_protect("/r/hosts/s");
	zkio_get_data(io, "/r/hosts/s");
	fakezk_run();
	expect(EV_DATA, ZNOAUTH, "/r/hosts/s");
	/* a scripted failure hits the named request only, once */
	fakezk_create("/r/hosts/b", "1", 0);
	fakezk_fail(FZ_GET, "/r/hosts/b", ZOPERATIONTIMEOUT, 1);
	zkio_get_data(io, "/r/hosts/b");
	zkio_list(io, "/r/hosts");
	zkio_get_data(io, "/r/hosts/b");
	fakezk_run();
	expect(EV_DATA, ZOPERATIONTIMEOUT, "/r/hosts/b");
	expect(EV_CHILDREN, ZOK, "/r/hosts");
	expect(EV_DATA, ZOK, "/r/hosts/b");
	/* loss: pending requests fail, then CONNECTING */
	zkio_get_data(io, "/r/hosts/s");
	fakezk_disconnect();
	expect(EV_DATA, ZCONNECTIONLOSS, "/r/hosts/s");
	expect(EV_WATCH, ZKIO_SESSION_EVENT, NULL);
	fakezk_delete("/r/hosts/b");	/* b's data watch, the listing's */
	expect_none();			/* nothing heard while away */
	fakezk_reconnect();
	expect(EV_WATCH, ZKIO_SESSION_EVENT, NULL);
	drain();
	int deleted = 0, child = 0;
	while (pending_events) {
		struct zkd_event *e = pending_events;

		pending_events = e->next;
		deleted += e->type == ZKIO_DELETED_EVENT;
		child += e->type == ZKIO_CHILD_EVENT;
		zkd_ev_free(e);
	}
	assert_int_equal(deleted, 1);
	assert_int_equal(child, 1);
	/* expiry: pending fail, EXPIRED, then the handle refuses */
	zkio_get_data(io, "/r/hosts/a");
	fakezk_expire();
	expect(EV_DATA, ZSESSIONEXPIRED, "/r/hosts/a");
	expect(EV_WATCH, ZKIO_SESSION_EVENT, NULL);
	zkio_get_data(io, "/r/hosts/a");
	expect(EV_DATA, ZINVALIDSTATE, "/r/hosts/a");
	assert_int_equal(fakezk_count(FZ_GET, "/r/hosts/a"), 2);
}

static void handles_are_separate_clients(void **state)
{
	char desc[64], err[128];
	struct zkio *io2 = zkio_new(&q);
	struct zkd_event *e;

	(void)state;
	assert_non_null(io2);
	assert_ptr_equal(fakezk_handle(0), io);	/* the first one made */
	assert_ptr_equal(fakezk_handle(1), io2);
	assert_int_equal(zkio_open(io2, "x:1", 4000, NULL, desc, sizeof desc, err, sizeof err), 0);
	fakezk_run();
	drain();
	for (int i = 0; i < 2; i++) {	/* one CONNECTED each, told apart by generation */
		e = pending_events;
		assert_non_null(e);
		pending_events = e->next;
		assert_true(zkio_current(i == 0 ? io : io2, e));
		assert_false(zkio_current(i == 0 ? io2 : io, e));
		zkd_ev_free(e);
	}
	assert_int_equal(fakezk_open_handles(), 2);
	assert_true(fakezk_handle_session(io2) != fakezk_client_session());
	fakezk_create("/r/hosts/a", "1", 0);
	fakezk_create("/r/hosts/b", "1", 0);
	zkio_get_data(io, "/r/hosts/a");
	zkio_get_data(io2, "/r/hosts/b");
	fakezk_run();
	drain();
	assert_int_equal(fakezk_data_watch_handle("/r/hosts/a"), 0);
	assert_int_equal(fakezk_data_watch_handle("/r/hosts/b"), 1);
	while ((e = pending_events)) {
		pending_events = e->next;
		zkd_ev_free(e);
	}
	/* a change fires the watch of the handle that set it, only there */
	fakezk_set("/r/hosts/b", "2");
	drain();
	assert_non_null(pending_events);
	assert_true(zkio_current(io2, pending_events));
	expect(EV_WATCH, ZKIO_CHANGED_EVENT, "/r/hosts/b");
	expect_none();
	/* sync answers; unwatch removes the data watch, then finds none */
	zkio_get_data(io2, "/r/hosts/b");
	zkio_sync(io2, "/r/hosts", TAG_MIRROR_SYNC);
	zkio_unwatch(io2, "/r/hosts/b", TAG_MIRROR_UNWATCH);
	zkio_unwatch(io2, "/r/hosts/b", TAG_MIRROR_UNWATCH);
	fakezk_run();
	expect(EV_DATA, ZOK, "/r/hosts/b");
	expect(EV_VOID, ZOK, "/r/hosts");
	expect(EV_VOID, ZOK, "/r/hosts/b");
	expect(EV_VOID, ZNOWATCHER, "/r/hosts/b");
	assert_int_equal(fakezk_data_watch_handle("/r/hosts/b"), -1);
	/* one handle's loss and expiry leave the other alone */
	fakezk_disconnect_handle(io2);
	expect(EV_WATCH, ZKIO_SESSION_EVENT, NULL);
	zkio_get_data(io, "/r/hosts/a");
	fakezk_run();
	expect(EV_DATA, ZOK, "/r/hosts/a");
	fakezk_reconnect_handle(io2);
	expect(EV_WATCH, ZKIO_SESSION_EVENT, NULL);
	fakezk_expire_handle(io2);
	expect(EV_WATCH, ZKIO_SESSION_EVENT, NULL);
	assert_int_equal(fakezk_data_watch_handle("/r/hosts/a"), 0);
	fakezk_set("/r/hosts/a", "3");
	expect(EV_WATCH, ZKIO_CHANGED_EVENT, "/r/hosts/a");
	expect_none();
	zkio_free(io2);
	assert_ptr_equal(fakezk_handle(0), io);
	assert_null(fakezk_handle(1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(events_precede_later_replies, setup, teardown),
		cmocka_unit_test_setup_teardown(multi_and_ephemerals, setup, teardown),
		cmocka_unit_test_setup_teardown(acl_loss_expiry_and_scripted_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(handles_are_separate_clients, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

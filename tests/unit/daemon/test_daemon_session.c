/*
 * test_daemon_session.c - the session state machine on its own: events
 * in, transitions and states out, no ZooKeeper and no other role. New
 * session, loss and same-session reconnect, expiry and auth failure with
 * a growing backoff, reconnect flapping, earlier sessions remembered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "evqueue.h"
#include "session.h"

static void new_session_then_loss_and_reconnect(void **state)
{
	struct zkd_session s;

	(void)state;
	session_init(&s);
	assert_int_equal(s.state, ZST_STARTING);
	assert_false(session_usable(&s));
	/* no handle: events are not ours */
	assert_int_equal(session_on_event(&s, ZKIO_CONNECTED, 0x10, 0), ZT_NONE);
	session_opened(&s);
	assert_int_equal(s.state, ZST_CONNECTING);
	assert_int_equal(session_on_event(&s, ZKIO_CONNECTED, 0x10, 100), ZT_NEW_SESSION);
	assert_int_equal(s.state, ZST_SYNCING);
	assert_int_equal(s.id, 0x10);
	assert_int_equal(s.sessions, 1);
	assert_true(session_usable(&s));
	session_set_state(&s, ZST_CONNECTED);	/* main, after the sync */
	assert_int_equal(session_on_event(&s, ZKIO_CONNECTING, 0x10, 200), ZT_LOST);
	assert_int_equal(s.state, ZST_DISCONNECTED);
	assert_false(session_usable(&s));
	/* a second CONNECTING while disconnected changes nothing */
	assert_int_equal(session_on_event(&s, ZKIO_ASSOCIATING, 0x10, 300), ZT_NONE);
	assert_int_equal(session_on_event(&s, ZKIO_CONNECTED, 0x10, 10000), ZT_RECONNECTED);
	assert_int_equal(s.sessions, 1);
	assert_int_equal(s.state, ZST_DISCONNECTED);	/* main decides */
}

static void expiry_backoff_and_prev_ids(void **state)
{
	struct zkd_session s;
	uint64_t now = 1000;

	(void)state;
	session_init(&s);
	session_opened(&s);
	session_on_event(&s, ZKIO_CONNECTED, 0x21, now);
	assert_int_equal(session_on_event(&s, ZKIO_EXPIRED, 0x21, now), ZT_EXPIRED);
	assert_int_equal(s.end, ZEND_EXPIRED);
	assert_int_equal(s.ended_id, 0x21);
	assert_int_equal(s.state, ZST_EXPIRED);
	session_closed(&s);
	assert_int_equal(s.id, 0);
	assert_true(session_was_ours(&s, 0x21));
	assert_false(session_was_ours(&s, 0x22));
	assert_false(session_was_ours(&s, 0));
	/* the reconnect is due after a jittered backoff, which grows */
	uint64_t first = s.reconnect_at - now;
	assert_true(first >= ZKD_BACKOFF_MIN_MS / 2 && first <= ZKD_BACKOFF_MIN_MS);
	assert_false(session_reconnect_due(&s, now));
	assert_true(session_reconnect_due(&s, s.reconnect_at));
	assert_int_equal(session_deadline(&s), s.reconnect_at);
	session_open_failed(&s, now);	/* e.g. unresolvable */
	assert_true(s.reconnect_at - now <= 2 * ZKD_BACKOFF_MIN_MS);
	assert_int_equal(s.backoff_ms, 4 * ZKD_BACKOFF_MIN_MS);
	for (int i = 0; i < 20; i++)
		session_open_failed(&s, now);
	assert_int_equal(s.backoff_ms, ZKD_BACKOFF_MAX_MS);
	/* a new session resets the backoff and is not the old one */
	session_opened(&s);
	assert_int_equal(session_deadline(&s), 0);
	assert_int_equal(session_on_event(&s, ZKIO_CONNECTED, 0x22, now), ZT_NEW_SESSION);
	assert_int_equal(s.backoff_ms, ZKD_BACKOFF_MIN_MS);
	assert_int_equal(s.sessions, 2);
	/* auth failure ends the session too */
	assert_int_equal(session_on_event(&s, ZKIO_AUTH_FAILED, 0x22, now), ZT_EXPIRED);
	assert_int_equal(s.end, ZEND_AUTH_FAILED);
	session_closed(&s);
	assert_int_equal(s.prev_ids[0], 0x22);
	assert_int_equal(s.prev_ids[1], 0x21);
}

/* A reconnect lost again within ZKD_FLAP_MS, ZKD_FLAP_MAX times in a row
 * (the server refusing the SetWatches packet), ends the session. */
static void flapping_reconnects_end_the_session(void **state)
{
	struct zkd_session s;
	uint64_t now = 5000;
	enum zkd_transition t = ZT_NONE;

	(void)state;
	session_init(&s);
	session_opened(&s);
	session_on_event(&s, ZKIO_CONNECTED, 0x31, now);
	session_set_state(&s, ZST_CONNECTED);
	for (int i = 0; i <= ZKD_FLAP_MAX && t != ZT_EXPIRED; i++) {
		t = session_on_event(&s, ZKIO_CONNECTING, 0x31, now += 10);
		if (t == ZT_EXPIRED)
			break;
		assert_int_equal(session_on_event(&s, ZKIO_CONNECTED, 0x31, now += 10),
				 ZT_RECONNECTED);
		session_set_state(&s, ZST_CONNECTED);
	}
	assert_int_equal(t, ZT_EXPIRED);
	assert_int_equal(s.end, ZEND_FLAPPING);
	assert_int_equal(s.reconnect_at, now + ZKD_FLAP_RESTART_MS);
	/* slow losses are no flapping */
	session_closed(&s);
	session_opened(&s);
	session_on_event(&s, ZKIO_CONNECTED, 0x32, now);
	session_set_state(&s, ZST_CONNECTED);
	for (int i = 0; i < 2 * ZKD_FLAP_MAX; i++) {
		assert_int_equal(session_on_event(&s, ZKIO_CONNECTING, 0x32, now += ZKD_FLAP_MS),
				 ZT_LOST);
		assert_int_equal(session_on_event(&s, ZKIO_CONNECTED, 0x32, now += 10),
				 ZT_RECONNECTED);
		session_set_state(&s, ZST_CONNECTED);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(new_session_then_loss_and_reconnect),
		cmocka_unit_test(expiry_backoff_and_prev_ids),
		cmocka_unit_test(flapping_reconnects_end_the_session),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

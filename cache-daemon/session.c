/*
 * session.c - the ZooKeeper session state machine (contract: session.h).
 * Pure: it reads its arguments and writes its own struct, nothing else.
 * The logging of a transition is main's (it knows what it does about it).
 */
#include <stdlib.h>
#include <string.h>

#include "evqueue.h"
#include "session.h"

const char *zkd_state_name(enum zkd_state s)
{
	switch (s) {
	case ZST_STARTING: return "starting";
	case ZST_CONNECTING: return "connecting";
	case ZST_SYNCING: return "syncing";
	case ZST_CONNECTED: return "connected";
	case ZST_DISCONNECTED: return "disconnected";
	case ZST_EXPIRED: return "expired";
	case ZST_STOPPED: return "stopped";
	}
	return "?";
}

void session_set_state(struct zkd_session *s, enum zkd_state st)
{
	if (s->state != st) {
		s->state = st;
		s->changed = true;
	}
}

void session_init(struct zkd_session *s)
{
	memset(s, 0, sizeof *s);
	s->state = ZST_STARTING;
	s->backoff_ms = ZKD_BACKOFF_MIN_MS;
}

static void schedule_reconnect(struct zkd_session *s, uint64_t now)
{
	unsigned b = s->backoff_ms;
	unsigned delay = b / 2 + (unsigned)(random() % (b / 2 + 1));

	s->reconnect_at = now + delay;
	s->last_delay_ms = delay;
	s->backoff_ms = b * 2 > ZKD_BACKOFF_MAX_MS ? ZKD_BACKOFF_MAX_MS : b * 2;
}

void session_opened(struct zkd_session *s)
{
	s->open = true;
	s->reconnect_at = 0;
	session_set_state(s, ZST_CONNECTING);
}

void session_open_failed(struct zkd_session *s, uint64_t now)
{
	s->open = false;
	session_set_state(s, ZST_CONNECTING);
	schedule_reconnect(s, now);
}

void session_gave_up(struct zkd_session *s, uint64_t now)
{
	s->open = false;
	s->id = 0;
	session_set_state(s, ZST_CONNECTING);
	schedule_reconnect(s, now);
}

void session_closed(struct zkd_session *s)
{
	s->open = false;
	if (s->id) {
		memmove(&s->prev_ids[1], &s->prev_ids[0],
			sizeof s->prev_ids - sizeof s->prev_ids[0]);
		s->prev_ids[0] = s->id;
	}
	s->id = 0;
	s->changed = true;
}

/* The session is over: main closes the handle. */
static enum zkd_transition end(struct zkd_session *s, enum zkd_end why,
			       uint64_t now)
{
	s->end = why;
	s->ended_id = s->id;
	s->flaps = 0;
	s->connected_at = 0;
	session_set_state(s, ZST_EXPIRED);
	if (why == ZEND_FLAPPING)
		s->reconnect_at = now + ZKD_FLAP_RESTART_MS;
	else
		schedule_reconnect(s, now);
	return ZT_EXPIRED;
}

enum zkd_transition session_on_event(struct zkd_session *s, int zstate,
				     uint64_t client_id, uint64_t now)
{
	if (!s->open)
		return ZT_NONE;
	switch (zstate) {
	case ZKIO_CONNECTED:
		if (client_id && client_id == s->id) {
			s->connected_at = now;
			s->reconnects++;
			return ZT_RECONNECTED;
		}
		s->id = client_id;
		s->connected_at = 0;
		s->flaps = 0;
		s->sessions++;
		s->backoff_ms = ZKD_BACKOFF_MIN_MS;
		s->end = ZEND_NONE;
		session_set_state(s, ZST_SYNCING);
		return ZT_NEW_SESSION;
	case ZKIO_CONNECTING:
	case ZKIO_ASSOCIATING:
		if (s->connected_at && now - s->connected_at < ZKD_FLAP_MS)
			s->flaps++;
		else
			s->flaps = 0;
		s->connected_at = 0;
		if (s->flaps >= ZKD_FLAP_MAX)
			return end(s, ZEND_FLAPPING, now);
		if (s->state == ZST_CONNECTED || s->state == ZST_SYNCING) {
			session_set_state(s, ZST_DISCONNECTED);
			return ZT_LOST;
		}
		return ZT_NONE;
	case ZKIO_EXPIRED:
		s->expiries++;
		return end(s, ZEND_EXPIRED, now);
	case ZKIO_AUTH_FAILED:
		return end(s, ZEND_AUTH_FAILED, now);
	default:
		return ZT_NONE;
	}
}

bool session_reconnect_due(const struct zkd_session *s, uint64_t now)
{
	return !s->open && s->reconnect_at && now >= s->reconnect_at;
}

uint64_t session_deadline(const struct zkd_session *s)
{
	return s->open ? 0 : s->reconnect_at;
}

bool session_usable(const struct zkd_session *s)
{
	return s->open && (s->state == ZST_SYNCING || s->state == ZST_CONNECTED);
}

bool session_was_ours(const struct zkd_session *s, uint64_t id)
{
	if (!id)
		return false;
	for (size_t i = 0; i < ZKD_PREV_SESSIONS; i++)
		if (s->prev_ids[i] == id)
			return true;
	return false;
}

/*
 * session.h - the ZooKeeper session as a pure state machine (session.c):
 * given what happened (a handle opened or failed, a session event, time
 * passing) it updates its own struct and returns a transition; it calls
 * nothing and touches no other role. main reacts to the transitions
 * (opens and closes handles through zkio, restarts the mirror and
 * registration, sets errors).
 *
 *   connecting --(connected, new id)--> NEW_SESSION (state syncing; main
 *       moves it to connected when the mirror's full sync is done)
 *   connected/syncing --(connection lost)--> LOST (disconnected; the client
 *       reconnects and re-arms watches by itself)
 *   disconnected --(connected, same id)--> RECONNECTED (main sets
 *       connected or syncing)
 *   any --(expired / auth failed / reconnect flapping)--> EXPIRED: main
 *       closes the handle; a new one is due after a backoff with jitter
 *       (session_reconnect_due), then a full sync
 *   connecting, no server answered within the session timeout
 *       (session_gave_up) --> main closes the handle (it holds no
 *       session); a new one is due after the next backoff step
 *
 * Who retries what: while a session lives (disconnected), the ZooKeeper
 * client reconnects by itself, cycling through the servers and pausing
 * session_timeout/60 after each round; that loop is the client's and is
 * left alone (its log lines are debug). What the daemon controls is when
 * a NEW handle is opened: after a failed start, an expiry, or a connect
 * attempt no server answered; those follow the backoff below, doubling
 * from ZKD_BACKOFF_MIN_MS to ZKD_BACKOFF_MAX_MS, each delay drawn
 * uniformly from [b/2, b] (jitter, so a fleet does not retry in step),
 * reset by a session established.
 *
 * Thread-safety: main loop only.
 */
#ifndef ZKD_SESSION_H
#define ZKD_SESSION_H

#include <stdbool.h>
#include <stdint.h>

/* Reconnect backoff after expiry or a failed start, with jitter. */
#define ZKD_BACKOFF_MIN_MS 100
#define ZKD_BACKOFF_MAX_MS 10000
/* Reconnect flapping (see mirror.h, ZKD_SETWATCHES_MAX): a reconnect lost
 * again within ZKD_FLAP_MS, ZKD_FLAP_MAX times in a row, ends the session;
 * the next one starts after ZKD_FLAP_RESTART_MS. */
#define ZKD_FLAP_MS 2000
#define ZKD_FLAP_MAX 3
#define ZKD_FLAP_RESTART_MS 1
/* How many of this process's earlier sessions are remembered. */
#define ZKD_PREV_SESSIONS 4

/* Session states, in the words of the status file. */
enum zkd_state {
	ZST_STARTING, ZST_CONNECTING, ZST_SYNCING, ZST_CONNECTED,
	ZST_DISCONNECTED, ZST_EXPIRED, ZST_STOPPED,
};

enum zkd_transition {
	ZT_NONE,
	ZT_NEW_SESSION,		/* connected with a new session id */
	ZT_RECONNECTED,		/* the same session connected again */
	ZT_LOST,		/* connection lost, session still alive */
	ZT_EXPIRED,		/* session over (see `end`): close the handle */
};

/* Why the last session ended (ZT_EXPIRED). */
enum zkd_end { ZEND_NONE, ZEND_EXPIRED, ZEND_AUTH_FAILED, ZEND_FLAPPING };

struct zkd_session {
	enum zkd_state state;
	bool open;		/* a handle exists */
	uint64_t id;		/* current session id, 0 if none */
	uint64_t prev_ids[ZKD_PREV_SESSIONS];	/* earlier sessions, newest first */
	uint64_t reconnect_at;	/* ms; 0 = no reconnect scheduled */
	unsigned backoff_ms;
	unsigned sessions;	/* sessions established so far */
	uint64_t reconnects;	/* same-session reconnects so far */
	uint64_t expiries;	/* sessions expired so far */
	unsigned last_delay_ms;	/* the last backoff delay drawn */
	uint64_t connected_at;	/* ms of the last same-session reconnect */
	unsigned flaps;		/* same-session reconnects lost at once */
	enum zkd_end end;	/* why the last session ended */
	uint64_t ended_id;	/* the session that ended */
	bool changed;		/* state changed since the caller last looked */
};

const char *zkd_state_name(enum zkd_state s);

/* Initial state: starting, no handle. */
void session_init(struct zkd_session *s);
/* A handle was opened: connecting. */
void session_opened(struct zkd_session *s);
/* Opening a handle failed at `now`: connecting, retry after a backoff. */
void session_open_failed(struct zkd_session *s, uint64_t now);
/* The open handle never connected in time: closed by the caller at
 * `now`; a new one after the next backoff step (connecting). */
void session_gave_up(struct zkd_session *s, uint64_t now);
/* The handle was closed: the session id joins prev_ids. */
void session_closed(struct zkd_session *s);
/*
 * A session event of the open handle: zkio state `zstate` (enum
 * zkio_state), `client_id` the handle's session id now, at `now` ms.
 * Returns the transition.
 */
enum zkd_transition session_on_event(struct zkd_session *s, int zstate,
				     uint64_t client_id, uint64_t now);
/* True when no handle is open and the reconnect is due. */
bool session_reconnect_due(const struct zkd_session *s, uint64_t now);
/* Next reconnect time (ms), 0 if none. */
uint64_t session_deadline(const struct zkd_session *s);
/* Set the state (main: syncing/connected after a sync, stopped). */
void session_set_state(struct zkd_session *s, enum zkd_state st);
/* True if requests can be sent now (connected or syncing). */
bool session_usable(const struct zkd_session *s);
/* True if id is this session or one of this process's earlier ones. */
bool session_was_ours(const struct zkd_session *s, uint64_t id);

#endif

/*
 * evqueue.h - the vocabulary the ZooKeeper layer (zkio) speaks to the rest
 * of the daemon, and the queue that carries it: one struct zkd_event per
 * watch event, session event or request result, pushed by ZooKeeper's
 * completion thread (or by the fake model in the unit tests) and taken by
 * the main loop, woken through an eventfd. Event types, session states,
 * create modes and node stats are zkcached's own (ZKIO_*), so no role
 * needs the ZooKeeper library; result codes are ZooKeeper's (ZOK, ZNONODE,
 * ...: an enum of its header, no library call).
 *
 * Thread-safety: evq_push from any thread; everything else main loop only.
 */
#ifndef ZKD_EVQUEUE_H
#define ZKD_EVQUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zookeeper/zookeeper.h>	/* the ZOO_ERRORS codes only */

/* Watch event types (EV_WATCH). */
enum zkio_type {
	ZKIO_SESSION_EVENT = 1, ZKIO_CREATED_EVENT, ZKIO_DELETED_EVENT,
	ZKIO_CHANGED_EVENT, ZKIO_CHILD_EVENT, ZKIO_NOTWATCHING_EVENT,
	ZKIO_OTHER_EVENT,
};

/* Session states (EV_WATCH with ZKIO_SESSION_EVENT). */
enum zkio_state {
	ZKIO_STATE_OTHER = 0, ZKIO_CONNECTING, ZKIO_ASSOCIATING,
	ZKIO_CONNECTED, ZKIO_EXPIRED, ZKIO_AUTH_FAILED,
};

/* Create modes. */
enum zkio_mode { ZKIO_PERSISTENT, ZKIO_EPHEMERAL };

/* What zkcached reads of a node's stat. */
struct zkio_stat {
	int64_t czxid, mzxid;
	int64_t pzxid;			/* last change of the children */
	int64_t ephemeral_owner;	/* session id, 0 if persistent */
	int32_t version;
	int32_t num_children;
};

enum zkd_ev_kind {
	EV_WATCH,	/* a watch or session event (type, state, path) */
	EV_CHILDREN,	/* result of a children listing */
	EV_DATA,	/* result of a data read of one host node */
	EV_VOID,	/* result of create/delete/multi/auth (tag says which) */
	EV_EXISTS,	/* result of an exists check (tag: registration, mirror) */
};

/* What a request was for (EV_VOID and EV_EXISTS results). */
enum zkd_ev_tag {
	TAG_NONE, TAG_ENSURE, TAG_ENSURE_STAT, TAG_AUTH, TAG_REG_EXISTS,
	TAG_REG_CREATE, TAG_REG_REPLACE, TAG_MIRROR_EXISTS,
	/* the mirror's watch sessions (mirror.h) */
	TAG_MIRROR_SYNC, TAG_MIRROR_UNWATCH,
	/* the fleet index (indexer.c, consumer.c) */
	TAG_IX_ENSURE, TAG_IX_ENSURE_STAT, TAG_IX_SLOT, TAG_IX_SLOT_CREATE,
	TAG_IX_HEAD, TAG_IX_BUCKET, TAG_IX_VERIFY, TAG_IX_WRITE, TAG_IX_HEADCHECK,
	TAG_CS_HEAD, TAG_CS_EXISTS, TAG_CS_BUCKET, TAG_CS_HOSTS,
	TAG_CS_SLOT_DELETE,
};

/*
 * One event. zkio allocates it as the context of an asynchronous request
 * (kind, tag, gen, path filled); the completion fills rc and the result
 * fields and pushes it. Watch events are allocated by the watcher. The
 * queue owns pushed events; evq_take_all hands them to the caller, who
 * frees them with zkd_ev_free.
 */
struct zkd_event {
	struct zkd_event *next;
	enum zkd_ev_kind kind;
	enum zkd_ev_tag tag;
	uint64_t gen;		/* handle generation the event belongs to */
	int rc;			/* ZOK or a ZooKeeper error */
	int type, state;	/* EV_WATCH: enum zkio_type, enum zkio_state */
	char *path;		/* request path or watch path (owned) */
	char *data;		/* EV_DATA (owned, may be NULL) */
	int data_len;
	bool has_stat;
	struct zkio_stat stat;
	char **names;		/* EV_CHILDREN (owned) */
	size_t nnames;
};

struct zkd_evq {
	pthread_mutex_t lock;
	struct zkd_event *head, *tail;
	int efd;		/* eventfd, readable while events wait */
	int lost;		/* events dropped for lack of memory */
};

int evq_init(struct zkd_evq *q);	/* 0 or -errno */
void evq_destroy(struct zkd_evq *q);	/* frees queued events */
/* Push (any thread). A NULL event records a loss (see evq_take_lost). */
void evq_push(struct zkd_evq *q, struct zkd_event *e);
/* Take every queued event (main loop), in order; drains the eventfd. */
struct zkd_event *evq_take_all(struct zkd_evq *q);
/* Number of events lost since the last call (then reset). */
int evq_take_lost(struct zkd_evq *q);
/* Allocate an event with a copy of path (NULL ok); NULL on ENOMEM. */
struct zkd_event *zkd_ev_new(enum zkd_ev_kind kind, enum zkd_ev_tag tag,
			     uint64_t gen, const char *path);
void zkd_ev_free(struct zkd_event *e);	/* NULL ok */

#endif

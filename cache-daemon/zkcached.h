/*
 * zkcached.h - the daemon as a whole: the struct that holds every role and
 * the reactions that tie them together (dispatch.c), driven by the loop in
 * main.c. The roles, each a file owning its own struct:
 *
 *   zkio      the only code that talks to ZooKeeper (requests; callbacks
 *             push events on the queue, evqueue.h)
 *   session   the session state machine: event in, transition out
 *   mirror    <root>/hosts mirrored by watches; changes to the batch
 *   batch     pending changes applied and published; the end-of-sync sweep
 *   register  this host's ephemeral record
 *   report    status file, metrics, systemd notifications
 *
 * Who calls whom: main -> dispatch -> {session, mirror, register, batch,
 * report, zkio}; mirror -> {batch, zkio}; register -> {zkio, ifaddrs};
 * every role -> {errslot, log}. No role calls back into dispatch or into a
 * role that calls it. Errors live in one slot per source (errslot.h),
 * owned by the role that meets them: connection and auth here.
 *
 * Thread-safety: main loop only.
 */
#ifndef ZKCACHED_H
#define ZKCACHED_H

#include <stdbool.h>
#include <stdint.h>

#include "batch.h"
#include "errslot.h"
#include "evqueue.h"
#include "mirror.h"
#include "register.h"
#include "report.h"
#include "session.h"
#include "zkhosts/config.h"
#include "zkhosts/publish.h"
#include "zkhosts/status.h"
#include "zkhosts/zkhandle.h"
#include "zkio.h"

struct zkd {
	struct zkh_config cfg;
	char conf_path[ZKH_PATH_MAX];
	char chroot[ZKD_PATH_CAP];	/* chroot of the connect string, or "" */
	struct zkh_zk_auth auth;	/* secret: never logged */
	bool have_auth;
	struct zkh_publisher *pub;
	struct zkd_evq q;
	bool q_ready;		/* q initialised */
	struct zkio *io;
	struct zkd_session s;
	struct zkd_mirror m;
	struct zkd_batch b;
	struct zkd_register r;
	struct zkd_report rep;
	struct zkd_error conn_err;	/* ZKH_ERR_CONNECTION */
	struct zkd_error auth_err;	/* ZKH_ERR_AUTH */
	uint64_t connect_deadline;	/* ms: no session by then is an error */
	uint64_t started_us;
	bool stopping;
};

/*
 * Set up every role from d->cfg (loaded by the caller): the event queue,
 * zkio, the chroot split off the connect string, auth_file, mirror paths,
 * batch, registration. `pub` may be NULL until zkd_attach_publisher.
 * Returns 0, or -errno with a message in err (a config problem when
 * -EINVAL or -ENAMETOOLONG).
 */
int zkd_init(struct zkd *d, char *err, size_t err_cap);
/* The cache is open: from now on changes are published to pub. */
void zkd_attach_publisher(struct zkd *d, struct zkh_publisher *pub);
/* Free what zkd_init made (not the publisher); wipes the credentials. */
void zkd_free(struct zkd *d);
/* Open a ZooKeeper handle now; a failure schedules a retry. */
void zkd_open_session(struct zkd *d, uint64_t now);
/* Take every queued event and react to it. */
void zkd_process_events(struct zkd *d, uint64_t now);
/* React to one event (owned by the caller). */
void zkd_dispatch(struct zkd *d, const struct zkd_event *e, uint64_t now);
/* Do what is due at `now` (reconnect, reads, retries, publish, status). */
void zkd_tick(struct zkd *d, uint64_t now);
/* Nearest deadline (ms) of every role, 0 if none. */
uint64_t zkd_deadline(const struct zkd *d);
/* SIGHUP: a full resync if connected. */
void zkd_resync(struct zkd *d, uint64_t now);
/* SIGTERM: close the session (our ephemeral node goes), publish what is
 * pending, write the status as stopped. */
void zkd_shutdown(struct zkd *d, uint64_t now);
/* The status as main reports it. */
void zkd_fill_status(const struct zkd *d, struct zkh_status *st);

#endif

/*
 * ensure.h - making sure a persistent node and its ancestors exist
 * without asking the quorum for a write when they already do (ensure.c).
 *
 * Why: a create that fails with ZNODEEXISTS is still a write. The leader
 * turns it into an error transaction that takes a zxid and is proposed,
 * logged and committed by every server (ZooKeeper 3.8.0, measured: ten
 * failed creates of one node moved the zxid by ten). A daemon that
 * "creates in case" at every session start therefore asks the ensemble
 * for M x depth writes whenever M daemons start at once: a cold boot, or
 * every session of the fleet expiring together. An `exists` is a read
 * the connected server answers alone.
 *
 * Thread-safety: main loop only (like zkio).
 */
#ifndef ZKD_ENSURE_H
#define ZKD_ENSURE_H

#include <stdbool.h>

#include "evqueue.h"
#include "zkio.h"

/*
 * Ask whether `path` (absolute, below no chroot: the daemon's full paths)
 * exists, without a watch; the answer comes back as EV_EXISTS with
 * `stat_tag` and goes to ensure_on_stat. Nothing is written if it exists.
 */
void ensure_node(struct zkio *io, const char *path, enum zkd_ev_tag stat_tag);

/*
 * Create every component of `path` from the top, then `path` itself
 * (persistent, empty data, zkio_set_acl's ACL), in order: one session's
 * requests are applied in order, so each parent exists before its
 * child's create is served, and a request sent after this call sees them.
 * Each create answers EV_VOID with `create_tag`; ZNODEEXISTS is the
 * normal answer for the ancestors. For a node known to be missing (a
 * listing answered ZNONODE); otherwise ensure_node costs less.
 */
void ensure_create_chain(struct zkio *io, const char *path,
			 enum zkd_ev_tag create_tag);

/*
 * The answer to ensure_node: if it says the node is missing (ZNONODE),
 * create it with its ancestors (ensure_create_chain with `create_tag`) and
 * return true. Any other answer sends nothing and returns false: the node
 * exists, or the session lost the request (the caller's next session or
 * listing settles it), or the read was refused (the create would be too).
 */
bool ensure_on_stat(struct zkio *io, const struct zkd_event *e,
		    enum zkd_ev_tag create_tag);

#endif

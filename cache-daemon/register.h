/*
 * register.h - this host's own record (register.c): an ephemeral
 * <root>/hosts/NAME held for as long as zkcached runs (`register = NAME
 * [ADDR...]`). It sends its requests through zkio, keeps the session-id
 * file that lets a restarted zkcached take its node back, and owns the
 * registration error slot. What it needs of the session comes in a
 * struct reg_env on every call.
 *
 * Thread-safety: main loop only.
 */
#ifndef ZKD_REGISTER_H
#define ZKD_REGISTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errslot.h"
#include "evqueue.h"
#include "zkhosts/config.h"
#include "zkhosts/names.h"
#include "zkio.h"

/* Retry of a registration blocked by another owner (or without an
 * address); a refused request is retried with backoff instead (retry.h). */
#define ZKD_REGISTER_RETRY_MS 2000
/* The session-id file, under the cache directory. */
#define ZKD_SESSION_FILE ".master/zk-session"

/* What every registration call may use. */
struct reg_env {
	struct zkio *io;
	bool usable;		/* the session can take requests now */
	uint64_t session_id;	/* current session, 0 if none */
	const uint64_t *prev_ids;	/* this process's earlier sessions */
	size_t nprev;
	uint64_t now;		/* monotonic ms */
};

enum zkd_reg_state { REG_OFF, REG_IDLE, REG_CHECKING,
		     REG_CREATING, REG_HELD, REG_BLOCKED };

struct zkd_register {
	enum zkd_reg_state state;
	char name[ZKH_NAME_MAX + 1];
	char path[4096];
	char data[ZKH_MAX_ADDRS * 48];
	const struct zkh_addr *cfg_addrs;	/* the config's, may be none */
	size_t cfg_naddrs;
	bool recheck;		/* re-run the check after the current step */
	bool made_parents;	/* hosts was missing: made once, this session */
	uint64_t retry_at;	/* ms, REG_BLOCKED / errors */
	unsigned failures;	/* refused requests in a row */
	uint64_t saved_id;	/* session saved by a previous run */
	int64_t blocked_owner;	/* last owner we refused to take over */
	bool changed;		/* error slot changed (status) */
	struct zkd_error err;	/* ZKH_ERR_REGISTRATION */
	char state_file[ZKH_PATH_MAX + 32];
};

/*
 * `name` "" leaves registration off. Otherwise the node is hosts/name,
 * the addresses `addrs` (kept by pointer; none: the default-route
 * interface's), the session file under `cache`. Returns 0 or
 * -ENAMETOOLONG; a missing address is an error in the slot, retried.
 */
int register_init(struct zkd_register *r, const char *name,
		  const struct zkh_addr *addrs, size_t naddrs,
		  const char *hosts, const char *cache);
/* New session `sid`: save it (0600 file), then check the node. */
void register_on_new_session(struct zkd_register *r, const struct reg_env *env,
			     const struct zkio_session_id *sid);
void register_on_reconnect(struct zkd_register *r, const struct reg_env *env);
/* A watch event on `path` (ours: check again). */
void register_on_node_event(struct zkd_register *r, const struct reg_env *env,
			    const char *path);
/* Results tagged TAG_REG_*. */
void register_on_result(struct zkd_register *r, const struct reg_env *env,
			const struct zkd_event *e);
void register_tick(struct zkd_register *r, const struct reg_env *env);
uint64_t register_deadline(const struct zkd_register *r);

#endif

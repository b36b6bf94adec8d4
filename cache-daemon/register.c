/*
 * register.c - this host's own record (`register = NAME [ADDR...]`): an
 * ephemeral <root>/hosts/NAME held for as long as zkcached runs.
 *
 * Steps, each an asynchronous request answered through the event queue:
 * exists (with a watch) -> absent: create ephemeral -> held. Present and
 * owned by our session: held. Present and owned by a session this host had
 * before (saved in a 0600 file in the cache's private .master/ directory,
 * or an earlier session of this process): replace it, delete and create in
 * one multi, so every other host sees the old node or the new one, never
 * the name missing - a restart after kill -9 takes its name back at once
 * instead of waiting for the old session to expire. Owned by anyone else,
 * or persistent: not taken; a clear error is logged and shown in the
 * status file, and the check runs again when the node goes away (watch)
 * or every ZKD_REGISTER_RETRY_MS. A request the server refuses (an ACL,
 * anything but a lost connection) is retried with backoff (retry.h), so a
 * fleet refused the same way does not poll the ensemble every few
 * seconds. A delete of our node by someone else, or a new
 * session after expiry, runs the steps again. The addresses default to
 * those of the interface holding the default route.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ensure.h"
#include "ifaddrs.h"
#include "log.h"
#include "register.h"
#include "retry.h"
#include "zkhosts/zkhandle.h"

static void save_session(struct zkd_register *r, const struct zkio_session_id *sid)
{
	int rc;

	if (r->state == REG_OFF || !sid->id)
		return;
	/* The password is kept so an operator (or a later version) can close
	 * the old session; it never goes to a log. */
	rc = zkh_zk_session_file_write(r->state_file, sid->id, sid->passwd,
				       sizeof sid->passwd);
	if (rc)
		zkd_log(ZKH_LOG_WARN, "cannot save the session id to %s: %s",
			r->state_file, strerror(-rc));
}

/* Fill r->data from the config or the default-route interface. */
static int make_data(struct zkd_register *r)
{
	struct zkh_addr a[ZKH_MAX_ADDRS];
	const struct zkh_addr *src = r->cfg_addrs;
	size_t n = r->cfg_naddrs;
	char ifname[64] = "", txt[64];

	if (r->data[0])
		return 0;
	if (n == 0) {
		int rc = zkd_default_route_addrs(a, ZKH_MAX_ADDRS, ifname, sizeof ifname);
		if (rc < 0)
			return rc;
		src = a;
		n = (size_t)rc;
	}
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		zkh_addr_format(&src[i], txt, sizeof txt);
		len += (size_t)snprintf(r->data + len, sizeof r->data - len, "%s%s",
					i ? ", " : "", txt);
	}
	zkd_log(ZKH_LOG_INFO, "registering %s as %s%s%s%s", r->name, r->data,
		ifname[0] ? " (addresses of " : "", ifname[0] ? ifname : "",
		ifname[0] ? ")" : "");
	if (ifname[0])
		zkd_log(ZKH_LOG_DEBUG, "default route interface %s", ifname);
	return 0;
}

static void set_error(struct zkd_register *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Set the slot (logged as an error when its text changes). */
static void set_error(struct zkd_register *r, const char *fmt, ...)
{
	char buf[sizeof r->err.text];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (zkd_error_set(&r->err, ZKH_LOG_ERR, "%s", buf))
		r->changed = true;
}

static void clear_error(struct zkd_register *r)
{
	if (zkd_error_clear(&r->err))
		r->changed = true;
}

/* Try to find the addresses; an error in the slot if there are none. */
static int find_addrs(struct zkd_register *r)
{
	int rc = make_data(r);

	if (rc)
		set_error(r, "register %s: no address given and none found on the "
			  "default-route interface (%s)", r->name, strerror(-rc));
	return rc;
}

int register_init(struct zkd_register *r, const char *name,
		  const struct zkh_addr *addrs, size_t naddrs,
		  const char *hosts, const char *cache)
{
	memset(r, 0, sizeof *r);
	if (!name[0])
		return 0;
	snprintf(r->name, sizeof r->name, "%s", name);
	r->cfg_addrs = addrs;
	r->cfg_naddrs = naddrs;
	if ((size_t)snprintf(r->path, sizeof r->path, "%s/%s", hosts, r->name) >= sizeof r->path)
		return -ENAMETOOLONG;
	if ((size_t)snprintf(r->state_file, sizeof r->state_file, "%s/%s", cache,
			     ZKD_SESSION_FILE) >= sizeof r->state_file)
		return -ENAMETOOLONG;
	r->state = REG_IDLE;
	if (zkh_zk_session_file_read(r->state_file, &r->saved_id) == 0)
		zkd_log(ZKH_LOG_DEBUG, "previous session 0x%" PRIx64, r->saved_id);
	find_addrs(r);
	return 0;
}

static void set_blocked(struct zkd_register *r, const struct reg_env *env)
{
	r->state = REG_BLOCKED;
	r->retry_at = env->now + ZKD_REGISTER_RETRY_MS;
}

/* The server refused a request: check again after a backoff. */
static void set_refused(struct zkd_register *r, const struct reg_env *env)
{
	if (r->failures < 64)
		r->failures++;
	r->state = REG_BLOCKED;
	r->retry_at = env->now + retry_delay_ms(r->failures);
}

static void check(struct zkd_register *r, const struct reg_env *env)
{
	if (r->state == REG_OFF)
		return;
	if (r->state == REG_CHECKING || r->state == REG_CREATING) {
		r->recheck = true;
		return;
	}
	if (!env->usable) {
		r->state = REG_IDLE;
		return;
	}
	if (find_addrs(r)) {
		set_blocked(r, env);
		return;
	}
	r->recheck = false;
	r->state = REG_CHECKING;
	zkio_exists(env->io, r->path, TAG_REG_EXISTS);
}

static bool was_ours(const struct zkd_register *r, const struct reg_env *env,
		     int64_t owner)
{
	if (!owner)
		return false;
	if ((uint64_t)owner == r->saved_id)
		return true;
	for (size_t i = 0; i < env->nprev; i++)
		if (env->prev_ids[i] == (uint64_t)owner)
			return true;
	return false;
}

static void on_exists(struct zkd_register *r, const struct reg_env *env,
		      const struct zkd_event *e)
{
	int64_t owner = e->has_stat ? e->stat.ephemeral_owner : 0;

	if (e->rc == ZNONODE) {
		r->state = REG_CREATING;
		zkio_create(env->io, r->path, r->data, ZKIO_EPHEMERAL, TAG_REG_CREATE);
		return;
	}
	if (e->rc != ZOK) {
		r->state = REG_IDLE;
		if (e->rc != ZCONNECTIONLOSS && e->rc != ZOPERATIONTIMEOUT &&
		    e->rc != ZINVALIDSTATE) {
			zkd_log_znode(ZKH_LOG_WARN, r->path, "register %s: exists: %s", r->path,
				zkio_strerror(e->rc));
			set_refused(r, env);
		}
		return;
	}
	if (owner && (uint64_t)owner == env->session_id) {
		clear_error(r);
		r->failures = 0;
		r->state = REG_HELD;
		r->blocked_owner = 0;
		return;
	}
	if (was_ours(r, env, owner)) {
		zkd_log_znode(ZKH_LOG_INFO, r->path, "%s is left over from our previous session 0x%" PRIx64
			"; taking it over", r->path, (uint64_t)owner);
		r->state = REG_CREATING;
		zkio_replace(env->io, r->path, e->stat.version, r->data, ZKIO_EPHEMERAL,
			     TAG_REG_REPLACE);
		return;
	}
	if (owner)
		set_error(r, "register %s: %s is held by another live session 0x%" PRIx64
			  "; not taking it over (retrying)", r->name, r->path, (uint64_t)owner);
	else
		set_error(r, "register %s: %s exists as a persistent record; "
			  "not replacing it (retrying)", r->name, r->path);
	r->blocked_owner = owner ? owner : -1;
	set_blocked(r, env);
}

/* The create answered ZNONODE: <root>/hosts is missing (a new tree; the
 * daemon makes the layout only once it finds it missing, ensure.h).
 * Make it with its ancestors, then create again at once: one session's
 * requests are served in order. Once a session. */
static void create_with_parents(struct zkd_register *r, const struct reg_env *env)
{
	char parent[sizeof r->path];
	char *slash;

	snprintf(parent, sizeof parent, "%s", r->path);
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		ensure_create_chain(env->io, parent, TAG_ENSURE);
	}
	r->made_parents = true;
	zkio_create(env->io, r->path, r->data, ZKIO_EPHEMERAL, TAG_REG_CREATE);
}

/* The answer to our create, or to the replace of our old node (which ends
 * the same way unless that node changed meanwhile). */
static void on_created(struct zkd_register *r, const struct reg_env *env,
		       const struct zkd_event *e)
{
	if (e->rc == ZOK) {
		zkd_log_znode(ZKH_LOG_INFO, r->path, "registered %s -> %s (ephemeral, session 0x%" PRIx64 ")",
			r->path, r->data, env->session_id);
		clear_error(r);
		r->blocked_owner = 0;
		r->failures = 0;
		r->state = REG_HELD;
		/* watch it, so a delete by someone else is seen */
		r->recheck = true;
	} else if (e->rc == ZNONODE && e->tag == TAG_REG_CREATE && !r->made_parents) {
		create_with_parents(r, env);
	} else if (e->rc == ZNODEEXISTS ||
		   (e->tag == TAG_REG_REPLACE &&
		    (e->rc == ZBADVERSION || e->rc == ZNONODE))) {
		/* taken meanwhile, or our old node changed or went: look again */
		r->state = REG_IDLE;
		r->recheck = true;
	} else if (e->rc == ZCONNECTIONLOSS || e->rc == ZOPERATIONTIMEOUT ||
		   e->rc == ZINVALIDSTATE) {
		r->state = REG_IDLE;	/* again on reconnect */
	} else {
		set_error(r, "register %s: %s %s: %s (retrying with backoff)", r->name,
			  e->tag == TAG_REG_REPLACE ? "replace of our old" : "create",
			  r->path, zkio_strerror(e->rc));
		set_refused(r, env);
	}
}

void register_on_result(struct zkd_register *r, const struct reg_env *env,
			const struct zkd_event *e)
{
	if (r->state == REG_OFF)
		return;
	switch (e->tag) {
	case TAG_REG_EXISTS:
		on_exists(r, env, e);
		break;
	case TAG_REG_REPLACE:
	case TAG_REG_CREATE:
		on_created(r, env, e);
		break;
	default:
		break;
	}
	if (r->recheck && r->state != REG_CHECKING &&
	    r->state != REG_CREATING && r->state != REG_BLOCKED)
		check(r, env);
}

void register_on_new_session(struct zkd_register *r, const struct reg_env *env,
			     const struct zkio_session_id *sid)
{
	if (r->state == REG_OFF)
		return;
	save_session(r, sid);
	r->state = REG_IDLE;	/* requests of the old handle are gone */
	r->made_parents = false;
	r->recheck = false;
	check(r, env);
}

void register_on_reconnect(struct zkd_register *r, const struct reg_env *env)
{
	if (r->state == REG_IDLE || r->state == REG_HELD)
		check(r, env);
}

void register_on_node_event(struct zkd_register *r, const struct reg_env *env,
			    const char *path)
{
	if (r->state == REG_OFF || !path || strcmp(path, r->path) != 0)
		return;
	if (r->state == REG_HELD || r->state == REG_BLOCKED)
		r->state = REG_IDLE;
	check(r, env);
}

void register_tick(struct zkd_register *r, const struct reg_env *env)
{
	if (r->state == REG_BLOCKED && env->now >= r->retry_at) {
		r->state = REG_IDLE;
		check(r, env);
	}
}

uint64_t register_deadline(const struct zkd_register *r)
{
	return r->state == REG_BLOCKED ? r->retry_at : 0;
}

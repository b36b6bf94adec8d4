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
 * or every ZKD_REGISTER_RETRY_MS. A delete of our node by someone else, or a new
 * session after expiry, runs the steps again. The addresses default to
 * those of the interface holding the default route.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zkcached.h"

#define SESSION_FILE ".master/zk-session"

static int load_saved(struct zkd *d)
{
	char buf[128];
	int fd = open(d->r.state_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	buf[n] = '\0';
	unsigned long long id;
	if (sscanf(buf, "%llx", &id) != 1)
		return -EINVAL;
	d->r.saved_id = id;
	return 0;
}

int register_save_session(struct zkd *d)
{
	char tmp[sizeof d->r.state_file + 8], buf[128];
	int fd = -1, rc = 0;

	if (d->r.state == REG_OFF || !d->s.id.client_id)
		return 0;
	/* The password is kept so an operator (or a later version) can close
	 * the old session; it never goes to a log. */
	int len = snprintf(buf, sizeof buf, "%016" PRIx64 " ", (uint64_t)d->s.id.client_id);
	for (size_t i = 0; i < sizeof d->s.id.passwd; i++)
		len += snprintf(buf + len, sizeof buf - (size_t)len, "%02x",
				(unsigned char)d->s.id.passwd[i]);
	buf[len++] = '\n';
	snprintf(tmp, sizeof tmp, "%s.tmp", d->r.state_file);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (fchmod(fd, 0600) || write(fd, buf, (size_t)len) != len) {
		rc = errno ? -errno : -EIO;
		goto fail_fd;
	}
	if (close(fd)) {
		fd = -1;
		rc = -errno;
		goto fail_tmp;
	}
	fd = -1;
	if (rename(tmp, d->r.state_file)) {
		rc = -errno;
		goto fail_tmp;
	}
	return 0;
fail_fd:
	close(fd);
fail_tmp:
	unlink(tmp);
fail:
	zkd_log(ZKH_LOG_WARN, "cannot save the session id to %s: %s", d->r.state_file,
		strerror(-rc));
	return rc;
}

/* Fill r.data from the config or the default-route interface. */
static int make_data(struct zkd *d)
{
	struct zkh_addr a[ZKH_MAX_ADDRS];
	const struct zkh_addr *src = d->cfg.register_addrs;
	size_t n = d->cfg.register_naddrs;
	char ifname[64] = "", txt[64];

	if (d->r.data[0])
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
		len += (size_t)snprintf(d->r.data + len, sizeof d->r.data - len, "%s%s",
					i ? ", " : "", txt);
	}
	zkd_log(ZKH_LOG_INFO, "registering %s as %s%s%s%s", d->r.name, d->r.data,
		ifname[0] ? " (addresses of " : "", ifname[0] ? ifname : "",
		ifname[0] ? ")" : "");
	if (ifname[0])
		zkd_log(ZKH_LOG_DEBUG, "default route interface %s", ifname);
	return 0;
}

int register_init(struct zkd *d)
{
	struct zkd_register *r = &d->r;

	memset(r, 0, sizeof *r);
	if (!d->cfg.register_name[0])
		return 0;
	snprintf(r->name, sizeof r->name, "%s", d->cfg.register_name);
	if ((size_t)snprintf(r->path, sizeof r->path, "%s/%s", d->m.hosts, r->name) >= sizeof r->path)
		return -ENAMETOOLONG;
	if ((size_t)snprintf(r->state_file, sizeof r->state_file, "%s/%s", d->cfg.cache,
			     SESSION_FILE) >= sizeof r->state_file)
		return -ENAMETOOLONG;
	r->state = REG_IDLE;
	if (load_saved(d) == 0)
		zkd_log(ZKH_LOG_DEBUG, "previous session 0x%" PRIx64, r->saved_id);
	int rc = make_data(d);
	if (rc) {
		report_error(d, "register %s: no address given and none found on the default-route interface (%s)",
			     r->name, strerror(-rc));
		zkd_log(ZKH_LOG_ERR, "%s", d->st.last_error);
	}
	return 0;
}

static void set_blocked(struct zkd *d, uint64_t delay_ms)
{
	d->r.state = REG_BLOCKED;
	d->r.retry_at = zkd_now_ms() + delay_ms;
}

static void check(struct zkd *d)
{
	struct zkd_register *r = &d->r;

	if (r->state == REG_OFF)
		return;
	if (r->state == REG_CHECKING || r->state == REG_CREATING) {
		r->recheck = true;
		return;
	}
	if (!session_usable(d)) {
		r->state = REG_IDLE;
		return;
	}
	if (make_data(d)) {
		set_blocked(d, ZKD_REGISTER_RETRY_MS);
		return;
	}
	r->recheck = false;
	r->state = REG_CHECKING;
	zkio_exists(d, r->path, TAG_REG_EXISTS);
}

static bool was_ours(const struct zkd *d, int64_t owner)
{
	if (!owner)
		return false;
	if ((uint64_t)owner == d->r.saved_id)
		return true;
	for (size_t i = 0; i < sizeof d->s.prev_ids / sizeof d->s.prev_ids[0]; i++)
		if (d->s.prev_ids[i] == (uint64_t)owner)
			return true;
	return false;
}

static void on_exists(struct zkd *d, const struct zkd_event *e)
{
	struct zkd_register *r = &d->r;
	int64_t owner = e->has_stat ? e->stat.ephemeralOwner : 0;

	if (e->rc == ZNONODE) {
		r->state = REG_CREATING;
		zkio_create(d, r->path, r->data, ZOO_EPHEMERAL, TAG_REG_CREATE);
		return;
	}
	if (e->rc != ZOK) {
		r->state = REG_IDLE;
		if (e->rc != ZCONNECTIONLOSS && e->rc != ZOPERATIONTIMEOUT &&
		    e->rc != ZINVALIDSTATE) {
			zkd_log(ZKH_LOG_WARN, "register %s: exists: %s", r->path, zerror(e->rc));
			set_blocked(d, ZKD_REGISTER_RETRY_MS);
		}
		return;
	}
	if (owner && owner == d->s.id.client_id) {
		if (r->state != REG_HELD && r->blocked_owner)
			report_clear_error(d);
		r->state = REG_HELD;
		r->blocked_owner = 0;
		return;
	}
	if (was_ours(d, owner)) {
		zkd_log(ZKH_LOG_INFO, "%s is left over from our previous session 0x%" PRIx64
			"; taking it over", r->path, (uint64_t)owner);
		r->state = REG_CREATING;
		zkio_replace(d, r->path, e->stat.version, r->data, ZOO_EPHEMERAL,
			     TAG_REG_REPLACE);
		return;
	}
	if (owner != r->blocked_owner || r->state != REG_BLOCKED) {
		if (owner)
			report_error(d, "register %s: %s is held by another live session 0x%" PRIx64
				     "; not taking it over (retrying)", r->name, r->path, (uint64_t)owner);
		else
			report_error(d, "register %s: %s exists as a persistent record; "
				     "not replacing it (retrying)", r->name, r->path);
		if (owner != r->blocked_owner)
			zkd_log(ZKH_LOG_ERR, "%s", d->st.last_error);
	}
	r->blocked_owner = owner ? owner : -1;
	set_blocked(d, ZKD_REGISTER_RETRY_MS);
}

/* The answer to our create, or to the replace of our old node (which ends
 * the same way unless that node changed meanwhile). */
static void on_created(struct zkd *d, const struct zkd_event *e)
{
	struct zkd_register *r = &d->r;

	if (e->rc == ZOK) {
		zkd_log(ZKH_LOG_INFO, "registered %s -> %s (ephemeral, session 0x%" PRIx64 ")",
			r->path, r->data, (uint64_t)d->s.id.client_id);
		if (r->blocked_owner || strncmp(d->st.last_error, "register", 8) == 0)
			report_clear_error(d);
		r->blocked_owner = 0;
		r->state = REG_HELD;
		/* watch it, so a delete by someone else is seen */
		r->recheck = true;
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
		report_error(d, "register %s: %s %s: %s", r->name,
			     e->tag == TAG_REG_REPLACE ? "replace of our old" : "create",
			     r->path, zerror(e->rc));
		zkd_log(ZKH_LOG_ERR, "%s", d->st.last_error);
		set_blocked(d, ZKD_REGISTER_RETRY_MS);
	}
}

void register_on_result(struct zkd *d, struct zkd_event *e)
{
	struct zkd_register *r = &d->r;

	if (r->state == REG_OFF)
		return;
	switch (e->tag) {
	case TAG_REG_EXISTS:
		on_exists(d, e);
		break;
	case TAG_REG_REPLACE:
	case TAG_REG_CREATE:
		on_created(d, e);
		break;
	default:
		break;
	}
	if (r->recheck && r->state != REG_CHECKING &&
	    r->state != REG_CREATING && r->state != REG_BLOCKED)
		check(d);
}

void register_on_new_session(struct zkd *d)
{
	if (d->r.state == REG_OFF)
		return;
	d->r.state = REG_IDLE;	/* requests of the old handle are gone */
	d->r.recheck = false;
	check(d);
}

void register_on_reconnect(struct zkd *d)
{
	if (d->r.state == REG_IDLE || d->r.state == REG_HELD)
		check(d);
}

void register_on_node_event(struct zkd *d, const char *name)
{
	if (d->r.state == REG_OFF || strcmp(name, d->r.name) != 0)
		return;
	if (d->r.state == REG_HELD || d->r.state == REG_BLOCKED ||
	    d->r.state == REG_IDLE)
		d->r.state = REG_IDLE;
	check(d);
}

void register_tick(struct zkd *d, uint64_t now)
{
	if (d->r.state == REG_BLOCKED && now >= d->r.retry_at) {
		d->r.state = REG_IDLE;
		check(d);
	}
}

uint64_t register_deadline(const struct zkd *d)
{
	return d->r.state == REG_BLOCKED ? d->r.retry_at : 0;
}

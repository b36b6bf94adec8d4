/*
 * barrier_state.c - zkbarrier's ZooKeeper commands: set, get and wait on
 * <root>/boot/<service>. `wait` is driven by watches: it reads the node
 * with a data watch (or, while the node is missing, an exists watch),
 * then sleeps until the client reports any event (watch fired, session
 * state changed) and reads again. Only a read that returns the wanted
 * state ends the wait, so a session event, a reconnect or a spurious
 * wake-up can never let it through early; after a session expiry it
 * opens a new session and carries on until the deadline. A wait is never
 * silent: every ZKC_PROGRESS_MS it says on stderr what it still waits for
 * and why (not connected, and what the servers answer; or the state the
 * node holds now). It does not give up when the servers refuse
 * connections: in a booting cluster ZooKeeper may come up after it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "zkhosts/zkconn.h"
#include "barrier.h"

#define DATA_MAX 1024

bool barrier_state_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > BARRIER_STATE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return false;
	}
	return true;
}

/* Exit status for a failed zkc_connect. */
static int connect_exit(struct zkc *z, int rc)
{
	fprintf(stderr, "zkbarrier: %s\n", z->err);
	if (rc == -EINVAL)
		return ZKC_EXIT_USAGE;
	if (rc == -ETIMEDOUT || rc == -EHOSTUNREACH || rc == -EACCES ||
	    rc == -ECONNREFUSED)
		return ZKC_EXIT_ZK;
	return ZKC_EXIT_OTHER;
}

/* Exit status for a failed call (ZooKeeper code rc) on path. */
static int call_exit(struct zkc *z, const char *what, const char *path,
		     int rc)
{
	fprintf(stderr, "zkbarrier: %s\n", zkc_explain(z, what, path, rc));
	return rc == ZSYSTEMERROR ? ZKC_EXIT_OTHER : ZKC_EXIT_ZK;
}

static int service_path(struct zkc *z, const char *service, char *path,
			size_t cap)
{
	if (zkh_zk_service_path(&z->cfg, service, path, cap) < 0) {
		fprintf(stderr, "zkbarrier: path of service '%s' under root "
			"'%s' is too long\n", service, z->cfg.root);
		return ZKC_EXIT_USAGE;
	}
	return ZKC_EXIT_OK;
}

/* Length of `data` without trailing whitespace. */
static int trimmed(const char *data, int len)
{
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' ||
			   data[len - 1] == ' ' || data[len - 1] == '\t'))
		len--;
	return len;
}

int barrier_set(struct zkc *z, const char *service, const char *state,
		int64_t deadline)
{
	char path[ZKH_PATH_MAX], boot[ZKH_PATH_MAX];
	int rc, len = (int)strlen(state);

	rc = service_path(z, service, path, sizeof(path));
	if (rc != ZKC_EXIT_OK)
		return rc;
	zkh_zk_boot_path(&z->cfg, boot, sizeof(boot));
	rc = zkc_connect(z, deadline);
	if (rc < 0)
		return connect_exit(z, rc);
	for (int attempt = 0; attempt < 3; attempt++) {
		rc = zkc_set(z, path, state, len, deadline);
		if (rc != ZNONODE)
			break;
		rc = zkc_create_parents(z, boot, deadline);
		if (rc != ZOK)
			return call_exit(z, "creating", boot, rc);
		rc = zkc_create(z, path, state, len, deadline);
		if (rc != ZNODEEXISTS)	/* else raced: set it */
			break;
	}
	if (rc != ZOK)
		return call_exit(z, "setting", path, rc);
	return ZKC_EXIT_OK;
}

int barrier_get(struct zkc *z, const char *service, int64_t deadline)
{
	char path[ZKH_PATH_MAX], data[DATA_MAX];
	int rc, len = sizeof(data);

	rc = service_path(z, service, path, sizeof(path));
	if (rc != ZKC_EXIT_OK)
		return rc;
	rc = zkc_connect(z, deadline);
	if (rc < 0)
		return connect_exit(z, rc);
	rc = zkc_get(z, path, false, data, &len, NULL, deadline);
	if (rc == ZNONODE) {
		fprintf(stderr, "zkbarrier: service '%s' has no state (%s "
			"does not exist)\n", service, path);
		return ZKC_EXIT_FALSE;
	}
	if (rc != ZOK)
		return call_exit(z, "reading", path, rc);
	printf("%.*s\n", trimmed(data, len), data);
	return ZKC_EXIT_OK;
}

/* What the last read saw, for the timeout message. */
struct seen_state {
	bool exists;
	char data[BARRIER_STATE_MAX + 1];
};

/*
 * One read of the node, arming a watch. Returns 1 if it holds `state`,
 * 0 if not (or a transient failure: wait for the next event), or a
 * negative exit status to return at once.
 */
static int check_once(struct zkc *z, const char *path, const char *state,
		      int64_t deadline, struct seen_state *seen)
{
	char data[DATA_MAX];
	int len = sizeof(data), rc;

	rc = zkc_get(z, path, true, data, &len, NULL, deadline);
	if (rc == ZOK) {
		len = trimmed(data, len);
		seen->exists = true;
		snprintf(seen->data, sizeof(seen->data), "%.*s", len, data);
		return (size_t)len == strlen(state) &&
		       memcmp(data, state, (size_t)len) == 0;
	}
	if (rc == ZNONODE) {
		seen->exists = false;
		/* Watch for its creation. ZOK: created in between. */
		rc = zkc_exists(z, path, true, NULL, deadline);
		if (rc == ZOK || rc == ZNONODE)
			return 0;
	}
	switch (rc) {
	case ZOK:
	case ZCONNECTIONLOSS:
	case ZSESSIONEXPIRED:
	case ZINVALIDSTATE:
	case ZCLOSING:
	case ZOPERATIONTIMEOUT:	/* the caller notices the deadline */
		return 0;
	default:
		return -call_exit(z, "reading", path, rc);
	}
}

static void progress_line(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "zkbarrier: still waiting: %s\n", msg);
}

/* The progress line of a connected wait: what the node holds now. */
static void say_waiting(struct zkc *z, const char *service,
			const char *state, const char *path,
			const struct seen_state *seen)
{
	char why[ZKH_PATH_MAX + sizeof(z->cfg.zookeeper) + 256];

	if (!zkc_connected(z))
		zkc_why_not_connected(z, why, sizeof(why));
	else if (seen->exists)
		snprintf(why, sizeof(why), "waiting for state '%s' of %s, "
			 "now '%s' (%s)", state, service, seen->data, path);
	else
		snprintf(why, sizeof(why), "waiting for state '%s' of %s, "
			 "which has no state yet (%s does not exist)", state,
			 service, path);
	progress_line(NULL, why);
}

int barrier_wait(struct zkc *z, const char *service, const char *state,
		 int64_t deadline)
{
	char path[ZKH_PATH_MAX];
	struct seen_state seen = { false, "" };
	int64_t next_progress;
	int rc;

	rc = service_path(z, service, path, sizeof(path));
	if (rc != ZKC_EXIT_OK)
		return rc;
	z->keep_trying_refused = true;
	z->progress = progress_line;
	rc = zkc_connect(z, deadline);
	if (rc < 0)
		return connect_exit(z, rc);
	next_progress = zkc_now_ms() + ZKC_PROGRESS_MS;
	for (;;) {
		uint64_t events;
		int64_t until;

		if (zkc_session_expired(z)) {
			if (z->verbose)
				fprintf(stderr, "zkbarrier: session expired, "
					"opening a new one\n");
			rc = zkc_connect(z, deadline);
			if (rc == -ETIMEDOUT)
				goto timeout;
			if (rc < 0)
				return connect_exit(z, rc);
		}
		events = zkc_events(z);
		rc = check_once(z, path, state, deadline, &seen);
		if (rc < 0)
			return -rc;
		if (rc == 1)
			return ZKC_EXIT_OK;
		for (;;) {
			int64_t now = zkc_now_ms();

			if (now >= deadline)
				goto timeout;
			if (now >= next_progress) {
				say_waiting(z, service, state, path, &seen);
				next_progress = zkc_now_ms() + ZKC_PROGRESS_MS;
			}
			until = next_progress < deadline ? next_progress :
				deadline;
			if (zkc_wait_event(z, events, until) == 0)
				break;
		}
	}
timeout:
	if (!zkc_ever_connected(z)) {
		fprintf(stderr, "zkbarrier: ZooKeeper unreachable (%s): no "
			"session before the deadline\n", z->cfg.zookeeper);
		return ZKC_EXIT_ZK;
	}
	if (seen.exists)
		fprintf(stderr, "zkbarrier: timed out: %s is '%s', not '%s'\n",
			path, seen.data, state);
	else
		fprintf(stderr, "zkbarrier: timed out: %s does not exist "
			"(waiting for '%s')\n", path, state);
	return ZKC_EXIT_FALSE;
}

/*
 * zkclient.c - the ZooKeeper client layer of zkbarrier and zkhostctl
 * (contract: tools/lib/zkclient.h). Calls go through the asynchronous API and
 * are awaited on a condition variable with a deadline, so no command can
 * hang longer than its --timeout, whatever the network does. A call that
 * is given up keeps its (heap) context alive until the client library
 * completes it (at the latest inside zookeeper_close), so a late
 * completion never writes into a dead stack frame.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "zkhosts/zkacl.h"
#include "zkhosts/zkconn.h"
#include "zkhosts/zkhandle.h"
#include "zkclient.h"

#define RESOLVE_RETRY_MS 1000
/* Connection wait: how long to wait for a session between two probes of
 * the servers, how long one probe waits for answers, how many server
 * addresses are probed at most. */
#define PROBE_EVERY_MS 250
#define PROBE_WAIT_MS 200
#define PROBE_MAX 64

int64_t zkc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t zkc_deadline(double seconds)
{
	if (seconds < 0)
		return ZKC_FOREVER;
	return zkc_now_ms() + (int64_t)llround(seconds * 1000.0);
}

int zkc_parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < 0 || v > 1e6)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Wait on z->cond until the deadline; caller holds z->lock. */
static int cond_wait_until(struct zkc *z, int64_t deadline)
{
	struct timespec ts;

	if (deadline == ZKC_FOREVER)
		return pthread_cond_wait(&z->cond, &z->lock) ? -EINVAL : 0;
	ts.tv_sec = deadline / 1000;
	ts.tv_nsec = (long)(deadline % 1000) * 1000000;
	return pthread_cond_timedwait(&z->cond, &z->lock, &ts) == ETIMEDOUT ?
		-ETIMEDOUT : 0;
}

/* ---- session watcher ---------------------------------------------------- */

static void watcher(zhandle_t *zh, int type, int state, const char *path,
		    void *ctx)
{
	struct zkc *z = ctx;

	(void)zh;
	(void)path;
	pthread_mutex_lock(&z->lock);
	if (type == ZOO_SESSION_EVENT) {
		z->state = state;
		if (state == ZOO_EXPIRED_SESSION_STATE)
			z->expired = true;
		else if (state == ZOO_AUTH_FAILED_STATE)
			z->auth_failed = true;
		else if (state == ZOO_CONNECTED_STATE)
			z->ever_connected = true;
	}
	z->events++;
	pthread_cond_broadcast(&z->cond);
	pthread_mutex_unlock(&z->lock);
}

uint64_t zkc_events(struct zkc *z)
{
	uint64_t n;

	pthread_mutex_lock(&z->lock);
	n = z->events;
	pthread_mutex_unlock(&z->lock);
	return n;
}

int zkc_wait_event(struct zkc *z, uint64_t seen, int64_t deadline)
{
	int rc = 0;

	pthread_mutex_lock(&z->lock);
	while (z->events == seen && rc == 0)
		rc = cond_wait_until(z, deadline);
	if (z->events != seen)
		rc = 0;
	pthread_mutex_unlock(&z->lock);
	return rc;
}

bool zkc_session_expired(struct zkc *z)
{
	bool e;

	pthread_mutex_lock(&z->lock);
	e = z->expired;
	pthread_mutex_unlock(&z->lock);
	return e;
}

bool zkc_ever_connected(struct zkc *z)
{
	bool e;

	pthread_mutex_lock(&z->lock);
	e = z->ever_connected;
	pthread_mutex_unlock(&z->lock);
	return e;
}

/* ---- config, logging ------------------------------------------------------ */

static const char *log_prog = "zkhosts";
static bool log_verbose;

static void tool_logger(enum zkh_log_level level, const char *line)
{
	if (log_verbose || level <= ZKH_LOG_ERR)
		fprintf(stderr, "%s: zookeeper: %s\n", log_prog, line);
}

void zkc_route_log(const char *prog, bool verbose)
{
	log_prog = prog;
	log_verbose = verbose;
	/* Without -v the client's chatter (a line per failed connection
	 * attempt) is suppressed: our own messages say what went wrong. */
	zkh_zk_route_log(tool_logger,
			 verbose ? ZKH_LOG_INFO : (enum zkh_log_level)0);
}

int zkc_init(struct zkc *z, const char *explicit_path, bool need_zk,
	     bool missing_ok)
{
	struct zkh_config_error cerr;
	pthread_condattr_t attr;
	const char *path;
	int rc;

	memset(z, 0, sizeof(*z));
	pthread_mutex_init(&z->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&z->cond, &attr);
	pthread_condattr_destroy(&attr);
	path = zkh_config_path(explicit_path);
	snprintf(z->conf_path, sizeof(z->conf_path), "%s", path);
	memset(&cerr, 0, sizeof(cerr));
	rc = zkh_config_load(path, ZKH_CONFIG_STRICT, &z->cfg, &cerr);
	if (rc == -ENOENT && missing_ok && !explicit_path) {
		zkh_config_defaults(&z->cfg);
		rc = 0;
	}
	if (rc == 0 && need_zk)
		rc = zkh_config_require_zookeeper(&z->cfg, path, &cerr);
	if (rc < 0) {
		char msg[ZKH_PATH_MAX + 512];

		if (rc == -ENOENT && cerr.msg[0] == '\0')
			snprintf(msg, sizeof(msg), "%s: no such file", path);
		else
			zkh_config_strerror(&cerr, msg, sizeof(msg));
		snprintf(z->err, sizeof(z->err), "config: %s", msg);
	}
	return rc;
}

/* ---- connecting ------------------------------------------------------------ */

struct op {
	struct zkc *z;
	int refs;		/* waiter + completion; under z->lock */
	bool done;
	int rc;
	char *data;		/* get: copy of the value */
	int data_len;
	struct Stat st;
	struct String_vector strings;
	struct zkh_acl acl;	/* get_acl */
	int acl_rc;		/* 0, or -errno of zkh_zk_acl_from_vector */
};

static struct op *op_new(struct zkc *z)
{
	struct op *o = calloc(1, sizeof(*o));

	if (o) {
		o->z = z;
		o->refs = 2;
		o->rc = ZSYSTEMERROR;
	}
	return o;
}

static void op_free(struct op *o)
{
	free(o->data);
	deallocate_String_vector(&o->strings);
	free(o);
}

/* Drop one reference; caller holds z->lock. */
static void op_unref_locked(struct op *o)
{
	if (--o->refs == 0)
		op_free(o);
}

/* Completion side: record rc, wake the waiter, drop its reference. */
static void op_finish(struct op *o, int rc)
{
	struct zkc *z = o->z;

	pthread_mutex_lock(&z->lock);
	o->rc = rc;
	o->done = true;
	pthread_cond_broadcast(&z->cond);
	op_unref_locked(o);
	pthread_mutex_unlock(&z->lock);
}

/*
 * Waiter side: wait for the op (or the deadline), then drop the waiter's
 * reference. If the submit itself failed (`submit_rc` != ZOK) the
 * completion never runs, so both references go here. On success the op
 * stays valid for the caller until op_release.
 */
static int op_await(struct zkc *z, struct op *o, int submit_rc,
		    int64_t deadline)
{
	int rc;

	pthread_mutex_lock(&z->lock);
	if (submit_rc != ZOK) {
		o->refs = 1;
		o->done = true;
		o->rc = submit_rc;
	}
	while (!o->done)
		if (cond_wait_until(z, deadline) == -ETIMEDOUT)
			break;
	rc = o->done ? o->rc : ZOPERATIONTIMEOUT;
	pthread_mutex_unlock(&z->lock);
	return rc;
}

static void op_release(struct zkc *z, struct op *o)
{
	pthread_mutex_lock(&z->lock);
	op_unref_locked(o);
	pthread_mutex_unlock(&z->lock);
}

static void void_done(int rc, const void *data)
{
	op_finish((struct op *)data, rc);
}

static void auth_done(int rc, const void *data)
{
	op_finish((struct op *)data, rc);
}

/* Resolve the connect string, retrying unresolvable hosts until the
 * deadline (in a booting cluster the ensemble's names may come late). */
static int resolve_until(struct zkc *z, char *out, size_t cap,
			 int64_t deadline)
{
	int64_t next_progress = zkc_now_ms() + ZKC_PROGRESS_MS;
	char bad[256];
	int rc;

	for (;;) {
		rc = zkh_zk_resolve(z->cfg.zookeeper, out, cap, bad,
				    sizeof(bad));
		if (rc == 0)
			return 0;
		if (rc == -EINVAL) {
			snprintf(z->err, sizeof(z->err),
				 "config: %s: key 'zookeeper': bad entry '%s' "
				 "(want host[:port] or [ipv6]:port, comma "
				 "separated, optional /chroot)", z->conf_path,
				 bad);
			return rc;
		}
		if (rc != -EHOSTUNREACH) {
			snprintf(z->err, sizeof(z->err),
				 "connect string: %s", strerror(-rc));
			return rc;
		}
		if (deadline != ZKC_FOREVER &&
		    zkc_now_ms() + RESOLVE_RETRY_MS > deadline) {
			snprintf(z->err, sizeof(z->err),
				 "cannot resolve ZooKeeper host '%s'", bad);
			return -EHOSTUNREACH;
		}
		if (z->progress && zkc_now_ms() >= next_progress) {
			char msg[sizeof(z->cfg.zookeeper) + sizeof(bad) + 64];

			snprintf(msg, sizeof(msg), "not connected to ZooKeeper "
				 "%s: names not yet resolving: %s",
				 z->cfg.zookeeper, bad);
			z->progress(z->progress_arg, msg);
			next_progress = zkc_now_ms() + ZKC_PROGRESS_MS;
		}
		usleep(RESOLVE_RETRY_MS * 1000);
	}
}

/* ---- probing the servers while no session comes ----------------------- */

/* Server addresses of a resolved connect string ("a:p,[b]:p/chroot" with
 * IPv6 unbracketed: the port follows the last ':'). Returns how many. */
static size_t probe_addrs(const char *servers, struct sockaddr_storage *out,
			  socklen_t *lens, size_t max)
{
	char buf[4096], *save = NULL, *tok, *slash;
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", servers);
	if ((slash = strchr(buf, '/')))
		*slash = '\0';
	for (tok = strtok_r(buf, ",", &save); tok && n < max;
	     tok = strtok_r(NULL, ",", &save)) {
		char *colon = strrchr(tok, ':');
		struct sockaddr_in *v4 = (struct sockaddr_in *)&out[n];
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out[n];
		long port;

		if (!colon)
			continue;
		*colon = '\0';
		port = strtol(colon + 1, NULL, 10);
		if (port <= 0 || port > 65535)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		if (inet_pton(AF_INET, tok, &v4->sin_addr) == 1) {
			v4->sin_family = AF_INET;
			v4->sin_port = htons((uint16_t)port);
			lens[n++] = sizeof(*v4);
		} else if (inet_pton(AF_INET6, tok, &v6->sin6_addr) == 1) {
			v6->sin6_family = AF_INET6;
			v6->sin6_port = htons((uint16_t)port);
			lens[n++] = sizeof(*v6);
		}
	}
	return n;
}

/*
 * One round: a non-blocking TCP connect to every server at once, waiting
 * up to PROBE_WAIT_MS for the answers. Returns how many refused
 * (ECONNREFUSED); *probed says how many were tried. A connection that is
 * accepted, or still pending at the end, is closed and does not count.
 */
static size_t probe_refused(const char *servers, size_t *probed)
{
	struct sockaddr_storage addrs[PROBE_MAX];
	socklen_t lens[PROBE_MAX];
	struct pollfd pfd[PROBE_MAX];
	size_t n = probe_addrs(servers, addrs, lens, PROBE_MAX), refused = 0;
	int64_t end = zkc_now_ms() + PROBE_WAIT_MS;
	size_t pending = 0;

	*probed = n;
	for (size_t i = 0; i < n; i++) {
		pfd[i].fd = socket(addrs[i].ss_family, SOCK_STREAM |
				   SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		pfd[i].events = POLLOUT;
		pfd[i].revents = 0;
		if (pfd[i].fd < 0)
			continue;
		if (connect(pfd[i].fd, (struct sockaddr *)&addrs[i],
			    lens[i]) == 0) {
			close(pfd[i].fd);
			pfd[i].fd = -1;
		} else if (errno == EINPROGRESS) {
			pending++;
		} else {
			refused += errno == ECONNREFUSED;
			close(pfd[i].fd);
			pfd[i].fd = -1;
		}
	}
	while (pending > 0) {
		int64_t left = end - zkc_now_ms();

		if (left <= 0 || poll(pfd, n, (int)left) <= 0)
			break;
		for (size_t i = 0; i < n; i++) {
			int err = 0;
			socklen_t el = sizeof(err);

			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			if (getsockopt(pfd[i].fd, SOL_SOCKET, SO_ERROR, &err,
				       &el) == 0 && err == ECONNREFUSED)
				refused++;
			close(pfd[i].fd);
			pfd[i].fd = -1;
			pending--;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	return refused;
}

/* "connection refused by every server (LIST)" and the like. */
static void describe_probe(const struct zkc *z, size_t refused,
			   size_t probed, char *buf, size_t cap)
{
	if (probed == 0)
		snprintf(buf, cap, "no server address to try (%s)",
			 z->connect);
	else if (refused == probed)
		snprintf(buf, cap, "connection refused by every server (%s)",
			 z->connect);
	else if (refused > 0)
		snprintf(buf, cap, "%zu of %zu server addresses refuse the "
			 "connection, no session with the others (%s)",
			 refused, probed, z->connect);
	else
		snprintf(buf, cap, "no session yet with %s (no answer, or "
			 "the servers are not serving)", z->connect);
}

const char *zkc_why_not_connected(struct zkc *z, char *buf, size_t cap)
{
	char why[sizeof(z->connect) + 128];
	size_t probed, refused = probe_refused(z->connect, &probed);

	describe_probe(z, refused, probed, why, sizeof(why));
	snprintf(buf, cap, "not connected to ZooKeeper %s: %s",
		 z->cfg.zookeeper, why);
	return buf;
}

bool zkc_connected(struct zkc *z)
{
	bool c;

	pthread_mutex_lock(&z->lock);
	c = z->state == ZOO_CONNECTED_STATE;
	pthread_mutex_unlock(&z->lock);
	return c;
}

static int add_auth(struct zkc *z, int64_t deadline)
{
	struct zkh_zk_auth auth;
	struct op *o;
	int rc;

	rc = zkh_zk_auth_load(z->cfg.auth_file, &auth, z->err, sizeof(z->err));
	if (rc < 0)
		goto out;
	o = op_new(z);
	if (!o) {
		rc = -ENOMEM;
		goto out;
	}
	rc = op_await(z, o, zoo_add_auth(z->zh, auth.scheme, auth.cred,
					 (int)strlen(auth.cred), auth_done, o),
		      deadline);
	op_release(z, o);
	if (rc != ZOK) {
		snprintf(z->err, sizeof(z->err),
			 "ZooKeeper refused the credentials of auth_file %s "
			 "(scheme '%s'): %s", z->cfg.auth_file, auth.scheme,
			 zerror(rc));
		rc = rc == ZOPERATIONTIMEOUT ? -ETIMEDOUT : -EACCES;
		goto out;
	}
	rc = 0;
out:
	zkh_zk_auth_wipe(&auth);
	return rc;
}

/*
 * Test and debugging aid: with ZKHOSTS_DEBUG_SESSION_FILE set, write the
 * session-id file there (common/zk/zkhandle.c, the daemon's format) each
 * time a session is established, so a test can force this session's
 * expiry the way ZooKeeper's own tests do (a second handle with the same
 * client id, closed). Never written unless asked for; a failure to write
 * it only loses that aid.
 */
static void write_session_file(struct zkc *z)
{
	const char *path = getenv("ZKHOSTS_DEBUG_SESSION_FILE");
	const clientid_t *id;

	if (!path || !*path || !z->zh)
		return;
	id = zoo_client_id(z->zh);
	if (id)
		(void)zkh_zk_session_file_write(path, (uint64_t)id->client_id,
						id->passwd, sizeof(id->passwd));
}

/* Wait for the session, probing the servers while it does not come
 * (contract in zkclient.h). */
static int await_session(struct zkc *z, int64_t deadline)
{
	int64_t start = zkc_now_ms(), next_progress = start + ZKC_PROGRESS_MS;
	unsigned refused_rounds = 0;
	char why[sizeof(z->connect) + 128];
	int rc = 0;

	for (;;) {
		int64_t slice = zkc_now_ms() + PROBE_EVERY_MS;
		size_t probed, refused;
		bool done;

		if (slice > deadline)
			slice = deadline;
		pthread_mutex_lock(&z->lock);
		while (z->state != ZOO_CONNECTED_STATE && !z->expired &&
		       !z->auth_failed &&
		       cond_wait_until(z, slice) != -ETIMEDOUT)
			;
		done = z->state == ZOO_CONNECTED_STATE || z->expired ||
		       z->auth_failed;
		if (z->state == ZOO_CONNECTED_STATE)
			rc = 0;
		else if (z->auth_failed)
			rc = -EACCES;
		else if (z->expired)
			rc = -ETIMEDOUT;
		pthread_mutex_unlock(&z->lock);
		if (done)
			break;
		if (zkc_now_ms() >= deadline) {
			rc = -ETIMEDOUT;
			snprintf(z->err, sizeof(z->err), "ZooKeeper "
				 "unreachable: no session with %s (%s) "
				 "before the deadline", z->cfg.zookeeper,
				 z->connect);
			break;
		}
		refused = probe_refused(z->connect, &probed);
		refused_rounds = probed > 0 && refused == probed ?
			refused_rounds + 1 : 0;
		if (refused_rounds >= ZKC_REFUSED_ROUNDS &&
		    !z->keep_trying_refused) {
			rc = -ECONNREFUSED;
			snprintf(z->err, sizeof(z->err), "ZooKeeper "
				 "unreachable: every server of %s refused the "
				 "connection (%s), %u times in %.1f s",
				 z->cfg.zookeeper, z->connect, refused_rounds,
				 (double)(zkc_now_ms() - start) / 1000.0);
			break;
		}
		if (z->progress && zkc_now_ms() >= next_progress) {
			char msg[sizeof(why) + sizeof(z->cfg.zookeeper) + 64];

			describe_probe(z, refused, probed, why, sizeof(why));
			snprintf(msg, sizeof(msg), "not connected to ZooKeeper "
				 "%s for %.0f s: %s", z->cfg.zookeeper,
				 (double)(zkc_now_ms() - start) / 1000.0, why);
			z->progress(z->progress_arg, msg);
			next_progress = zkc_now_ms() + ZKC_PROGRESS_MS;
		}
	}
	if (rc == -ETIMEDOUT && z->expired)
		snprintf(z->err, sizeof(z->err), "ZooKeeper unreachable: the "
			 "session with %s expired before it was usable",
			 z->cfg.zookeeper);
	else if (rc == -EACCES)
		snprintf(z->err, sizeof(z->err),
			 "ZooKeeper refused authentication");
	return rc;
}

/* Choose z->acl once: auth_file is read here too, so its problems and
 * an ACL that cannot be derived stop the command before it connects. */
static int prepare_acl(struct zkc *z)
{
	struct zkh_zk_auth auth;
	bool have = z->cfg.auth_file[0] != '\0';
	int rc = 0;

	if (z->acl_ready)
		return 0;
	memset(&auth, 0, sizeof(auth));
	if (have) {
		rc = zkh_zk_auth_load(z->cfg.auth_file, &auth, z->err,
				      sizeof(z->err));
		if (rc < 0)
			goto out;
	}
	if (zkh_zk_acl_for(&z->cfg, have ? &auth : NULL, &z->acl, z->err,
			   sizeof(z->err))) {
		rc = -EINVAL;
		goto out;
	}
	z->acl_ready = true;
out:
	zkh_zk_auth_wipe(&auth);
	return rc;
}

int zkc_connect(struct zkc *z, int64_t deadline)
{
	int rc, timeout_ms;

	rc = prepare_acl(z);
	if (rc < 0)
		return rc;
	if (z->zh) {
		zookeeper_close(z->zh);
		z->zh = NULL;
	}
	rc = resolve_until(z, z->connect, sizeof(z->connect), deadline);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&z->lock);
	z->expired = false;
	z->auth_failed = false;
	z->state = 0;
	pthread_mutex_unlock(&z->lock);
	timeout_ms = z->cfg.session_timeout;
	rc = zkh_zk_handle_init(z->connect, timeout_ms, watcher, z, &z->zh,
				z->err, sizeof(z->err));
	if (rc < 0)
		return rc;
	rc = await_session(z, deadline);
	if (rc == 0)
		write_session_file(z);
	if (rc == 0 && z->cfg.auth_file[0])
		rc = add_auth(z, deadline);
	return rc;
}

void zkc_close(struct zkc *z)
{
	if (z->zh) {
		zookeeper_close(z->zh);
		z->zh = NULL;
	}
}

/* ---- synchronous wrappers -------------------------------------------------- */

static void data_done(int rc, const char *value, int value_len,
		      const struct Stat *st, const void *data)
{
	struct op *o = (struct op *)data;

	if (rc == ZOK) {
		if (st)
			o->st = *st;
		if (value && value_len > 0) {
			o->data = malloc((size_t)value_len);
			if (o->data) {
				memcpy(o->data, value, (size_t)value_len);
				o->data_len = value_len;
			} else {
				rc = ZSYSTEMERROR;
			}
		}
	}
	op_finish(o, rc);
}

static void stat_done(int rc, const struct Stat *st, const void *data)
{
	struct op *o = (struct op *)data;

	if (rc == ZOK && st)
		o->st = *st;
	op_finish(o, rc);
}

static void string_done(int rc, const char *value, const void *data)
{
	(void)value;
	op_finish((struct op *)data, rc);
}

static void strings_done(int rc, const struct String_vector *sv,
			 const void *data)
{
	struct op *o = (struct op *)data;

	if (rc == ZOK && sv && sv->count > 0) {
		o->strings.data = calloc((size_t)sv->count, sizeof(char *));
		if (!o->strings.data) {
			rc = ZSYSTEMERROR;
		} else {
			for (int i = 0; i < sv->count; i++) {
				o->strings.data[i] = strdup(sv->data[i]);
				if (!o->strings.data[i]) {
					rc = ZSYSTEMERROR;
					break;
				}
				o->strings.count = i + 1;
			}
		}
	}
	op_finish(o, rc);
}

int zkc_get(struct zkc *z, const char *path, bool watch, char *buf,
	    int *len, struct Stat *st, int64_t deadline)
{
	struct op *o = op_new(z);
	int rc;

	if (!o)
		return ZSYSTEMERROR;
	rc = op_await(z, o, zoo_aget(z->zh, path, watch, data_done, o),
		      deadline);
	if (rc == ZOK) {
		int n = o->data_len < *len ? o->data_len : *len;

		if (n > 0)
			memcpy(buf, o->data, (size_t)n);
		*len = n;
		if (st)
			*st = o->st;
	}
	op_release(z, o);
	return rc;
}

int zkc_exists(struct zkc *z, const char *path, bool watch,
	       struct Stat *st, int64_t deadline)
{
	struct op *o = op_new(z);
	int rc;

	if (!o)
		return ZSYSTEMERROR;
	rc = op_await(z, o, zoo_aexists(z->zh, path, watch, stat_done, o),
		      deadline);
	if (rc == ZOK && st)
		*st = o->st;
	op_release(z, o);
	return rc;
}

int zkc_set(struct zkc *z, const char *path, const char *data, int len,
	    int64_t deadline)
{
	struct op *o = op_new(z);
	int rc;

	if (!o)
		return ZSYSTEMERROR;
	rc = op_await(z, o, zoo_aset(z->zh, path, data, len, -1, stat_done,
				     o), deadline);
	op_release(z, o);
	return rc;
}

int zkc_create(struct zkc *z, const char *path, const char *data, int len,
	       int64_t deadline)
{
	struct op *o = op_new(z);
	struct ACL buf[ZKH_ACL_MAX];
	struct ACL_vector acl;
	int rc;

	if (!o)
		return ZSYSTEMERROR;
	zkh_zk_acl_vector(&z->acl, buf, &acl);
	rc = op_await(z, o, zoo_acreate(z->zh, path, data, len, &acl, 0,
					string_done, o), deadline);
	op_release(z, o);
	return rc;
}

static void acl_done(int rc, struct ACL_vector *acl, struct Stat *st,
		     const void *data)
{
	struct op *o = (struct op *)data;

	if (rc == ZOK) {
		if (st)
			o->st = *st;
		o->acl_rc = acl ? zkh_zk_acl_from_vector(acl, &o->acl) : -EINVAL;
	}
	op_finish(o, rc);
}

int zkc_get_acl(struct zkc *z, const char *path, struct zkh_acl *acl,
		struct Stat *st, int64_t deadline)
{
	struct op *o = op_new(z);
	int rc;

	if (!o)
		return ZSYSTEMERROR;
	rc = op_await(z, o, zoo_aget_acl(z->zh, path, acl_done, o), deadline);
	if (rc == ZOK && o->acl_rc)
		rc = ZBADARGUMENTS;
	if (rc == ZOK) {
		*acl = o->acl;
		if (st)
			*st = o->st;
	}
	op_release(z, o);
	return rc;
}

int zkc_set_acl(struct zkc *z, const char *path, int aversion,
		const struct zkh_acl *acl, int64_t deadline)
{
	struct op *o = op_new(z);
	struct ACL buf[ZKH_ACL_MAX];
	struct ACL_vector v;
	int rc;

	if (!o)
		return ZSYSTEMERROR;
	zkh_zk_acl_vector(acl, buf, &v);
	rc = op_await(z, o, zoo_aset_acl(z->zh, path, aversion, &v, void_done,
					 o), deadline);
	op_release(z, o);
	return rc;
}

int zkc_delete(struct zkc *z, const char *path, int64_t deadline)
{
	struct op *o = op_new(z);
	int rc;

	if (!o)
		return ZSYSTEMERROR;
	rc = op_await(z, o, zoo_adelete(z->zh, path, -1, void_done, o),
		      deadline);
	op_release(z, o);
	return rc;
}

int zkc_children(struct zkc *z, const char *path, struct String_vector *out,
		 int64_t deadline)
{
	struct op *o = op_new(z);
	int rc;

	memset(out, 0, sizeof(*out));
	if (!o)
		return ZSYSTEMERROR;
	rc = op_await(z, o, zoo_aget_children(z->zh, path, 0, strings_done,
					      o), deadline);
	if (rc == ZOK) {
		*out = o->strings;
		memset(&o->strings, 0, sizeof(o->strings));
	}
	op_release(z, o);
	return rc;
}

int zkc_create_parents(struct zkc *z, const char *path, int64_t deadline)
{
	char buf[ZKH_PATH_MAX];
	int rc = ZOK;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return ZBADARGUMENTS;
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		rc = zkc_exists(z, buf, false, NULL, deadline);
		if (rc == ZNONODE) {
			rc = zkc_create(z, buf, NULL, -1, deadline);
			if (rc == ZNODEEXISTS)
				rc = ZOK;
		}
		*p = c;
		if (rc != ZOK || c == '\0')
			break;
	}
	return rc;
}

const char *zkc_explain(struct zkc *z, const char *what, const char *path,
			int rc)
{
	const char *why;

	switch (rc) {
	case ZNONODE:
		why = "no such node";
		break;
	case ZNOAUTH:
		why = "not authorised by the ACL (a create or delete is "
		      "checked against the parent node's ACL, a write against "
		      "the node's; check auth_file and 'zkhostctl acl show')";
		break;
	case ZNODEEXISTS:
		why = "node already exists";
		break;
	case ZNOTEMPTY:
		why = "node has children";
		break;
	case ZCONNECTIONLOSS:
		why = "connection to ZooKeeper lost (is the ensemble up?)";
		break;
	case ZSESSIONEXPIRED:
		why = "ZooKeeper session expired";
		break;
	case ZOPERATIONTIMEOUT:
		why = "no answer from ZooKeeper before the deadline";
		break;
	case ZBADARGUMENTS:
		why = "bad path";
		break;
	default:
		why = zerror(rc);
		break;
	}
	snprintf(z->err, sizeof(z->err), "%s %s: %s", what, path, why);
	return z->err;
}

int zkc_bad_usage(const char *prog, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", prog);
	return ZKC_EXIT_USAGE;
}

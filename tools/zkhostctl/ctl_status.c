/*
 * ctl_status.c - `zkhostctl status [--json] [--max-age SECONDS]`: the
 * health of this host's cache, from the daemon's status file
 * (<cache>/status, status.h) and the published snapshot's own meta
 * (<cache>/hosts.mdb opened by the shared reader, snapread.h, with the
 * trust rules the NSS module applies, so a snapshot the module refuses is
 * reported as such). It never talks to ZooKeeper.
 *
 * Liveness comes from the heartbeat: the daemon's loop rewrites the file
 * at least every heartbeat_interval_s, so a heartbeat older than --max-age
 * (default six intervals, 30 s) means dead or hung. The pid is used only
 * when this process is in the daemon's PID namespace (the status file's
 * pidns is our /proc/self/ns/pid): then a pid gone means down at once. In
 * another namespace (a container sharing the cache volume) the pid means
 * nothing and is ignored.
 *
 * Verdict and exit status (documented in zkhostctl(8)):
 *   0 ok     daemon alive, connected, a full sync done and a snapshot
 *            published;
 *   1 stale  daemon alive but disconnected from ZooKeeper, never synced,
 *            or no usable snapshot (lookups keep answering from what is
 *            there): for alerts;
 *   3 down   no status file, daemon stopped, its pid gone, or no heartbeat
 *            within --max-age.
 * With --live only liveness counts: 0 while the daemon's loop runs, even
 * through a ZooKeeper outage (a container health check must not restart
 * every sidecar when ZooKeeper is away), 3 when down.
 *
 * A status file with the fleet index's fields (index_role and the other
 * index_* keys, schema 3, docs/status.md) adds an index block: the role
 * in words, the index followed or written, its lag behind <root>/hosts,
 * the reads (and an indexer's writes), and a hint when the role is
 * waiting or refused. The index does not change the verdict: a waiting or
 * refused zkcached still serves its snapshot (its error_index says why).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "zkhosts/snapread.h"
#include "zkhosts/status.h"
#include "ctl.h"

/* A status file without heartbeat_interval_s (schema < 3). */
#define DEFAULT_MAX_AGE_S 60.0
/* Heartbeats missed before a daemon counts as dead or hung. */
#define HEARTBEATS_MISSED 6

/* Inode of our PID namespace, 0 if unknown. */
static uint64_t my_pidns(void)
{
	struct stat st;

	return stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Seconds since `us` (negative if in the future), or -1 if us == 0. */
static double age_s(uint64_t now, uint64_t us)
{
	if (us == 0)
		return -1;
	return ((double)now - (double)us) / 1e6;
}

/* Read the snapshot's meta as the module would. Returns 0 or -errno,
 * *why explains. */
static int read_meta(const char *cache, struct zkh_meta *m, const char **why)
{
	struct zkh_snapread r;
	int rc = zkh_snapread_open(cache, ZKH_SR_TRUST, &r);

	switch (rc) {
	case 0:
		*m = r.meta;
		zkh_snapread_close(&r);
		return 0;
	case -ENOENT:
		*why = "missing";
		break;
	case -EPERM:
		*why = "refused: owner or permissions break the trust rules "
		    "(see libnss_zk(8))";
		break;
	case -EINVAL:
	case -EIO:
		*why = "not a valid snapshot";
		break;
	default:
		*why = "cannot be opened";
		break;
	}
	return rc;
}

struct verdict {
	int exit;		/* 0 ok, 1 stale, 3 down */
	const char *word;	/* "ok", "stale", "down" */
	char reason[ZKH_PATH_MAX + 256];
};

static void set_verdict(struct verdict *v, int exit, const char *reason)
{
	if (v->exit != ZKC_EXIT_OK && !(exit == ZKC_EXIT_ZK &&
					v->exit == ZKC_EXIT_FALSE))
		return;	/* keep the first, worst-first */
	v->exit = exit;
	v->word = exit == ZKC_EXIT_OK ? "ok" : exit == ZKC_EXIT_FALSE ?
		"stale" : "down";
	snprintf(v->reason, sizeof(v->reason), "%s", reason);
}

/* The fleet index role `role` (status index_role) in an operator's
 * words; NULL for a role this build does not know. */
static const char *index_role_text(const char *role)
{
	static const struct { const char *role, *text; } roles[] = {
		{ "indexer", "writes the fleet index" },
		{ "consumer", "follows the fleet index" },
		{ "mirror", "no usable index: mirrors the hosts directory itself" },
		{ "waiting", "no usable index: serves its last snapshot, waits" },
		{ "refused", "cannot use the index head: serves its last snapshot" },
		{ "off", "no ZooKeeper session" },
	};

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strcmp(role, roles[i].role) == 0)
			return roles[i].text;
	return NULL;
}

/* One line saying what a waiting or refused role means and what to check,
 * written to buf; NULL (buf untouched) for any other role. */
static const char *index_hint(const struct ctl *c, const char *role,
			      char *buf, size_t cap)
{
	const char *root = c->z.cfg.root;

	if (strcmp(role, "waiting") == 0)
		snprintf(buf, cap, "no usable index and %s/hosts holds more "
			 "than index_fallback_max (%d here) hosts, so changes "
			 "are not followed; check that an indexer runs "
			 "(indexer, indexers in zkhosts.conf; index_role "
			 "indexer in its status) and the index error "
			 "(error: index)", root, c->z.cfg.index_fallback_max);
	else if (strcmp(role, "refused") == 0)
		snprintf(buf, cap, "%s/index/v1/head cannot be used (read "
			 "refused by its ACL, a format this zkcached does "
			 "not know, or malformed), so changes are not "
			 "followed; check the index error (error: index), "
			 "the head's ACL and the zkhosts versions in the "
			 "fleet", root);
	else
		return NULL;
	return buf;
}

/* status --json's "index": the index_* fields by name, or JSON null when
 * the status file has none. New reference; NULL when out of memory. */
static json_t *index_json(const struct ctl *c, const struct zkh_status *s)
{
	char hint[ZKH_PATH_MAX + 512];
	const char *h;

	if (!s->index_role[0])
		return json_null();
	h = index_hint(c, s->index_role, hint, sizeof(hint));
	return json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
			 "s:I, s:I, s:I, s:o}", "role", ctl_json_str(s->index_role),
			 "epoch", (json_int_t)s->index_epoch,
			 "seq", (json_int_t)s->index_seq,
			 "buckets", (json_int_t)s->index_buckets,
			 "lag_ms", (json_int_t)s->index_lag_ms,
			 "writes", (json_int_t)s->index_writes,
			 "conflicts", (json_int_t)s->index_conflicts,
			 "head_reads", (json_int_t)s->index_head_reads,
			 "bucket_reads", (json_int_t)s->index_bucket_reads,
			 "exists_reads", (json_int_t)s->index_exists_reads,
			 "watch_sessions", (json_int_t)s->watch_sessions,
			 "watch_max", (json_int_t)s->watch_max,
			 "watch_sessions_new", (json_int_t)s->watch_sessions_new,
			 "hint", h ? ctl_json_str(h) : json_null());
}

/* The human index block; nothing when the status file has no index_*
 * fields (a zkcached before schema 3). */
static void print_index(const struct ctl *c, const struct zkh_status *s)
{
	const char *text = index_role_text(s->index_role);
	bool following = strcmp(s->index_role, "indexer") == 0 ||
		strcmp(s->index_role, "consumer") == 0;
	char hint[ZKH_PATH_MAX + 512];

	if (!s->index_role[0])
		return;
	printf("%-14s %s (%s)\n", "index:", s->index_role,
	       text ? text : "a role this zkhostctl does not know");
	if (s->index_buckets)
		printf("%-14s epoch %" PRIu64 ", %" PRIu64 " bucket%s, write %"
		       PRIu64 " applied\n", "index held:", s->index_epoch,
		       s->index_buckets, s->index_buckets == 1 ? "" : "s",
		       s->index_seq);
	else
		printf("%-14s none yet\n", "index held:");
	if (s->index_lag_ms)
		printf("%-14s behind %s/hosts for %.1f s\n", "index lag:",
		       c->z.cfg.root, (double)s->index_lag_ms / 1e3);
	else if (following)
		printf("%-14s none (in step with %s/hosts)\n", "index lag:",
		       c->z.cfg.root);
	else
		printf("%-14s not measured (no index followed)\n",
		       "index lag:");
	printf("%-14s %" PRIu64 " head, %" PRIu64 " bucket, %" PRIu64
	       " version checks (exists)\n", "index reads:",
	       s->index_head_reads, s->index_bucket_reads,
	       s->index_exists_reads);
	if (s->index_writes || s->index_conflicts ||
	    strcmp(s->index_role, "indexer") == 0)
		printf("%-14s %" PRIu64 ", %" PRIu64 " refused by "
		       "compare-and-set (another indexer wrote first)\n",
		       "index writes:", s->index_writes, s->index_conflicts);
	if (s->watch_sessions)
		printf("%-14s %" PRIu64 " extra session%s (at most %" PRIu64
		       " data watches on one; %" PRIu64 " established so far)\n",
		       "watches:", s->watch_sessions, s->watch_sessions == 1 ? "" : "s",
		       s->watch_max, s->watch_sessions_new);
	if (index_hint(c, s->index_role, hint, sizeof(hint)))
		printf("%-14s %s\n", "index hint:", hint);
}

static void print_age(const char *label, double age)
{
	if (age < 0)
		printf("%-14s never\n", label);
	else
		printf("%-14s %.1f s ago\n", label, age);
}

/* status --json: every field of the text output, by name. */
static json_t *status_json(const struct ctl *c, const struct verdict *v,
			   const char *cache,
			   bool alive, bool by_pid, const struct zkh_status *s,
			   const struct zkh_meta *m, double hb_age,
			   double pub_age, double sync_age)
{
	json_t *doc;
	char session[32];

	doc = json_pack("{s:s, s:o, s:o, s:b, s:s}", "health", v->word,
			"reason", ctl_json_str(v->reason),
			"cache", ctl_json_str(cache),
			"daemon_running", alive,
			"liveness_by", by_pid ? "pid+heartbeat" : "heartbeat");
	if (doc && s) {
		snprintf(session, sizeof(session), "0x%" PRIx64, s->session);
		if (json_object_update_new(doc, json_pack(
			"{s:I, s:o, s:b, s:s, s:I, s:I, s:I, s:I, s:o}",
			"pid", (json_int_t)s->pid,
			"state", ctl_json_str(s->state),
			"connected", s->connected, "session", session,
			"generation", (json_int_t)s->generation,
			"records", (json_int_t)s->records,
			"skipped_records", (json_int_t)s->skipped,
			"publishes", (json_int_t)s->publishes,
			"last_error", ctl_json_str(s->last_error))) < 0)
			goto fail;
	}
	if (doc && s && json_object_update_new(doc, json_pack(
		"{s:I, s:I, s:I, s:o}", "sessions", (json_int_t)s->sessions,
		"reconnects", (json_int_t)s->reconnects,
		"expiries", (json_int_t)s->expiries,
		"disconnected_for_s", ctl_json_seconds(
			s->disconnected_us ? ((double)now_us() - (double)s->disconnected_us) / 1e6 : -1))) < 0)
		goto fail;
	if (doc && s && json_object_set_new(doc, "index",
					    index_json(c, s)) < 0)
		goto fail;
	if (doc && m && json_object_update_new(doc, json_pack(
		"{s:I, s:I}", "snapshot_generation",
		(json_int_t)m->generation, "snapshot_records",
		(json_int_t)m->record_count)) < 0)
		goto fail;
	if (doc && json_object_update_new(doc, json_pack(
		"{s:o, s:o, s:o}", "heartbeat_age_s", ctl_json_seconds(hb_age),
		"last_publish_age_s", ctl_json_seconds(pub_age),
		"last_sync_age_s", ctl_json_seconds(sync_age))) < 0)
		goto fail;
	return doc;
fail:
	json_decref(doc);
	return NULL;
}

int ctl_status(struct ctl *c)
{
	const char *cache = c->z.cfg.cache, *meta_why = "";
	struct zkh_status s;
	struct zkh_meta m;
	struct verdict v = { ZKC_EXIT_OK, "ok", "" };
	uint64_t now = now_us();
	bool have_status, have_meta, alive = false, by_pid = false;
	double hb_age, pub_age, sync_age;
	char reason[ZKH_PATH_MAX + 256];
	int rc;

	rc = zkh_status_read(cache, &s);
	have_status = rc == 0;
	if (rc == -ENOENT) {
		set_verdict(&v, ZKC_EXIT_ZK, "no status file: zkcached is not "
			    "running (or never ran) for this cache");
	} else if (rc < 0) {
		snprintf(reason, sizeof(reason), "status file unreadable: %s",
			 strerror(-rc));
		set_verdict(&v, ZKC_EXIT_ZK, reason);
	}
	memset(&m, 0, sizeof(m));
	have_meta = read_meta(cache, &m, &meta_why) == 0;
	hb_age = have_status ? age_s(now, s.updated_us) : -1;
	pub_age = have_meta ? age_s(now, m.publish_time_us) : -1;
	sync_age = age_s(now, have_meta && m.last_sync_us ? m.last_sync_us :
			 have_status ? s.last_sync_us : 0);
	if (have_status) {
		double max_age = c->max_age > 0 ? c->max_age :
			s.heartbeat_interval_s ? HEARTBEATS_MISSED *
			(double)s.heartbeat_interval_s : DEFAULT_MAX_AGE_S;
		uint64_t hb = s.heartbeat_us ? s.heartbeat_us : s.updated_us;

		hb_age = age_s(now, hb);
		by_pid = s.pidns && s.pidns == my_pidns() && s.pid > 0;
		if (strcmp(s.state, "stopped") == 0) {
			set_verdict(&v, ZKC_EXIT_ZK, "zkcached stopped");
		} else if (by_pid && kill(s.pid, 0) < 0 && errno == ESRCH) {
			snprintf(reason, sizeof(reason), "zkcached (pid %ld) "
				 "is not running", (long)s.pid);
			set_verdict(&v, ZKC_EXIT_ZK, reason);
		} else if (hb == 0) {
			set_verdict(&v, ZKC_EXIT_ZK, "the status file holds no "
				    "heartbeat");
		} else if (hb_age > max_age) {
			snprintf(reason, sizeof(reason), "no heartbeat from "
				 "zkcached for %.0f s (more than %.0f s): dead "
				 "or hung", hb_age, max_age);
			set_verdict(&v, ZKC_EXIT_ZK, reason);
		} else {
			alive = true;
		}
		if (!s.connected && !c->live) {
			if (s.disconnected_us)
				snprintf(reason, sizeof(reason), "not connected to "
					 "ZooKeeper for %.0f s (state %s)",
					 age_s(now, s.disconnected_us), s.state);
			else
				snprintf(reason, sizeof(reason), "not connected to "
					 "ZooKeeper (state %s)", s.state);
			set_verdict(&v, ZKC_EXIT_FALSE, reason);
		}
	}
	if (c->live) {
		/* liveness only: the snapshot and ZooKeeper do not count */
	} else if (!have_meta) {
		snprintf(reason, sizeof(reason), "snapshot %s/%s %s", cache,
			 ZKH_SNAPSHOT_FILE, meta_why);
		set_verdict(&v, ZKC_EXIT_FALSE, reason);
	} else if (!(m.flags & ZKH_META_SYNCED) && m.last_sync_us == 0) {
		set_verdict(&v, ZKC_EXIT_FALSE, "no full sync with ZooKeeper "
			    "completed yet");
	}
	if (v.exit == ZKC_EXIT_OK && c->live)
		snprintf(v.reason, sizeof(v.reason), "zkcached alive, heartbeat "
			 "%.1f s ago (state %s)", hb_age, s.state);
	else if (v.exit == ZKC_EXIT_OK)
		snprintf(v.reason, sizeof(v.reason), "connected, synced, "
			 "heartbeat %.1f s ago", hb_age);

	if (c->json) {
		rc = ctl_json_print(stdout, status_json(
			c, &v, cache, alive, by_pid, have_status ? &s : NULL,
			have_meta ? &m : NULL, hb_age, pub_age, sync_age));
		if (rc < 0) {
			fprintf(stderr, "zkhostctl: cannot write JSON: %s\n",
				strerror(-rc));
			return ZKC_EXIT_OTHER;
		}
		return v.exit;
	}
	printf("%-14s %s: %s\n", "health:", v.word, v.reason);
	printf("%-14s %s\n", "cache:", cache);
	if (have_status) {
		printf("%-14s %s (pid %ld%s), state %s, %s, session 0x%" PRIx64
		       "\n", "daemon:", alive ? "running" : "not running",
		       (long)s.pid, by_pid ? "" : " in another PID namespace",
		       s.state, s.connected ? "connected" : "disconnected",
		       s.session);
		print_age("heartbeat:", hb_age);
	} else {
		printf("%-14s no status file\n", "daemon:");
	}
	if (have_meta)
		printf("%-14s %" PRIu64 " (%" PRIu64 " records)\n",
		       "generation:", m.generation, m.record_count);
	else
		printf("%-14s %s\n", "snapshot:", meta_why);
	if (have_status)
		printf("%-14s %" PRIu64 ", skipped %" PRIu64 ", publishes %"
		       PRIu64 "\n", "records:", s.records, s.skipped,
		       s.publishes);
	print_age("last publish:", pub_age);
	print_age("last sync:", sync_age);
	if (have_status)
		print_index(c, &s);
	if (have_status && s.last_error[0])
		printf("%-14s %s\n", "last error:", s.last_error);
	for (int i = 0; have_status && i < ZKH_ERR_NSOURCES; i++)
		if (s.errors[i][0])	/* every active one, by source */
			printf("%-14s %s: %s\n", "error:",
			       zkh_status_source_name((enum zkh_err_source)i),
			       s.errors[i]);
	return v.exit;
}

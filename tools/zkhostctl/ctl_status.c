/*
 * ctl_status.c - `zkhostctl status [--json] [--max-age SECONDS]`: the
 * health of this host's cache, from the daemon's status file
 * (<cache>/status, status.h) and the published snapshot's own meta
 * (<cache>/hosts.mdb opened read-only without a lock file, as the NSS
 * module does). It never talks to ZooKeeper.
 *
 * Verdict and exit status (documented in zkhostctl(8)):
 *   0 ok     daemon alive, heartbeat within --max-age, connected, a full
 *            sync done and a snapshot published;
 *   1 stale  daemon alive but disconnected, never synced, or no usable
 *            snapshot (lookups keep answering from what is there);
 *   3 down   no status file, daemon stopped or its pid gone, or no
 *            heartbeat within --max-age (default 60 s).
 */
#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "zkhosts/snapshot.h"
#include "zkhosts/status.h"
#include "ctl.h"

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

/* Read the snapshot's meta. Returns 0 or -errno, *why explains. */
static int read_meta(const char *cache, struct zkh_meta *m, const char **why)
{
	char path[ZKH_PATH_MAX + 16];
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val key = { strlen(ZKH_META_KEY), (void *)ZKH_META_KEY }, val;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", cache, ZKH_SNAPSHOT_FILE);
	*why = "cannot open";
	if (mdb_env_create(&env) != 0)
		return -ENOMEM;
	mdb_env_set_maxdbs(env, 4);
	rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOLOCK | MDB_NOSUBDIR |
			  MDB_NORDAHEAD | MDB_NOTLS, 0444);
	if (rc != 0) {
		*why = rc == ENOENT ? "missing" : "not a readable snapshot";
		rc = rc == ENOENT ? -ENOENT : -EINVAL;
		goto out;
	}
	*why = "not a valid snapshot";
	rc = -EINVAL;
	if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0 ||
	    mdb_dbi_open(txn, ZKH_DB_META, 0, &dbi) != 0 ||
	    mdb_get(txn, dbi, &key, &val) != 0 ||
	    zkh_meta_decode(val.mv_data, val.mv_size, m) != 0)
		goto out;
	rc = 0;
out:
	if (txn)
		mdb_txn_abort(txn);
	mdb_env_close(env);
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

static void print_age(const char *label, double age)
{
	if (age < 0)
		printf("%-14s never\n", label);
	else
		printf("%-14s %.1f s ago\n", label, age);
}

static void json_num_or_null(const char *key, double v, bool last)
{
	if (v < 0)
		printf("  \"%s\": null%s\n", key, last ? "" : ",");
	else
		printf("  \"%s\": %.3f%s\n", key, v, last ? "" : ",");
}

int ctl_status(struct ctl *c)
{
	const char *cache = c->z.cfg.cache, *meta_why = "";
	struct zkh_status s;
	struct zkh_meta m;
	struct verdict v = { ZKC_EXIT_OK, "ok", "" };
	uint64_t now = now_us();
	bool have_status, have_meta, alive = false;
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
		alive = s.pid > 0 && (kill(s.pid, 0) == 0 || errno == EPERM);
		if (strcmp(s.state, "stopped") == 0) {
			set_verdict(&v, ZKC_EXIT_ZK, "zkcached stopped");
		} else if (!alive) {
			snprintf(reason, sizeof(reason), "zkcached (pid %ld) "
				 "is not running", (long)s.pid);
			set_verdict(&v, ZKC_EXIT_ZK, reason);
		} else if (hb_age < 0 || hb_age > c->max_age) {
			snprintf(reason, sizeof(reason), "no heartbeat from "
				 "zkcached for %.0f s (more than %.0f s)",
				 hb_age, c->max_age);
			set_verdict(&v, ZKC_EXIT_ZK, reason);
		}
		if (!s.connected) {
			snprintf(reason, sizeof(reason), "not connected to "
				 "ZooKeeper (state %s)", s.state);
			set_verdict(&v, ZKC_EXIT_FALSE, reason);
		}
	}
	if (!have_meta) {
		snprintf(reason, sizeof(reason), "snapshot %s/%s %s", cache,
			 ZKH_SNAPSHOT_FILE, meta_why);
		set_verdict(&v, ZKC_EXIT_FALSE, reason);
	} else if (!(m.flags & ZKH_META_SYNCED) && m.last_sync_us == 0) {
		set_verdict(&v, ZKC_EXIT_FALSE, "no full sync with ZooKeeper "
			    "completed yet");
	}
	if (v.exit == ZKC_EXIT_OK)
		snprintf(v.reason, sizeof(v.reason), "connected, synced, "
			 "heartbeat %.1f s ago", hb_age);

	if (c->json) {
		printf("{\n  \"health\": \"%s\",\n  \"reason\": ", v.word);
		ctl_json_string(stdout, v.reason);
		printf(",\n  \"cache\": ");
		ctl_json_string(stdout, cache);
		printf(",\n  \"daemon_running\": %s,\n", alive ? "true" :
		       "false");
		if (have_status) {
			printf("  \"pid\": %ld,\n  \"state\": ", (long)s.pid);
			ctl_json_string(stdout, s.state);
			printf(",\n  \"connected\": %s,\n  \"session\": "
			       "\"0x%" PRIx64 "\",\n", s.connected ? "true" :
			       "false", s.session);
			printf("  \"generation\": %" PRIu64 ",\n  \"records\": "
			       "%" PRIu64 ",\n  \"skipped_records\": %" PRIu64
			       ",\n  \"publishes\": %" PRIu64 ",\n  "
			       "\"last_error\": ", s.generation, s.records,
			       s.skipped, s.publishes);
			ctl_json_string(stdout, s.last_error);
			printf(",\n");
		}
		if (have_meta)
			printf("  \"snapshot_generation\": %" PRIu64 ",\n  "
			       "\"snapshot_records\": %" PRIu64 ",\n",
			       m.generation, m.record_count);
		json_num_or_null("heartbeat_age_s", hb_age, false);
		json_num_or_null("last_publish_age_s", pub_age, false);
		json_num_or_null("last_sync_age_s", sync_age, true);
		printf("}\n");
		return v.exit;
	}
	printf("%-14s %s: %s\n", "health:", v.word, v.reason);
	printf("%-14s %s\n", "cache:", cache);
	if (have_status) {
		printf("%-14s %s (pid %ld), state %s, %s, session 0x%" PRIx64
		       "\n", "daemon:", alive ? "running" : "not running",
		       (long)s.pid, s.state, s.connected ? "connected" :
		       "disconnected", s.session);
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
	if (have_status && s.last_error[0])
		printf("%-14s %s\n", "last error:", s.last_error);
	for (int i = 0; have_status && i < ZKH_ERR_NSOURCES; i++)
		if (s.errors[i][0])	/* every active one, by source */
			printf("%-14s %s: %s\n", "error:",
			       zkh_status_source_name((enum zkh_err_source)i),
			       s.errors[i]);
	return v.exit;
}

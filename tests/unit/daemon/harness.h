/*
 * harness.h - the daemon's unit-test bench: a whole zkcached (struct zkd:
 * every role, dispatch.c's reactions, a real publisher in a temporary
 * cache directory) wired to the ZooKeeper model of tests/fakezk/ instead
 * of a server, on a test-driven clock. A test scripts ZooKeeper (nodes,
 * other sessions, losses, expiry, failures) and then lets the daemon and
 * the model talk (h_settle) before it checks what the daemon requested
 * (fakezk_count), published (h_lookup on the published snapshot) and
 * reported (h_status).
 *
 * Static inline functions, one bench per process; single-threaded.
 */
#ifndef ZKD_TEST_HARNESS_H
#define ZKD_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fakezk.h"
#include "log.h"
#include "zkcached.h"
#include "zkhosts/snapshot.h"

static struct zkd H;
static struct zkh_publisher *H_pub;
static char H_dir[128];
static uint64_t H_now = 1000000;	/* the daemon's clock, ms */

/* Start the daemon with this config text appended to the basics
 * (zookeeper, root /zkhosts, cache `dir`, which must exist), on the model set up since
 * fakezk_init; `up` false: ZooKeeper unreachable. */
static inline void h_start_in(const char *dir, const char *extra, bool up)
{
	char text[2048], err[512];
	struct zkh_config_error cerr;
	struct zkh_pub_options po = { 0 };

	memset(&H, 0, sizeof H);
	zkd_log_level = getenv("ZKD_TEST_LOG") ? ZKH_LOG_DEBUG : ZKH_LOG_ERR - 1;
	fakezk_set_reachable(up);
	snprintf(H_dir, sizeof H_dir, "%s", dir ? dir : "/tmp/zkd-unit-XXXXXX");
	if (!dir)
		assert_non_null(mkdtemp(H_dir));
	snprintf(text, sizeof text, "zookeeper = 127.0.0.1:2181\nroot = /zkhosts\n"
		 "cache = %s\npublish_delay = 100\n%s", H_dir, extra ? extra : "");
	zkh_config_defaults(&H.cfg);
	assert_int_equal(zkh_config_parse(text, strlen(text), "test.conf",
					  ZKH_CONFIG_STRICT, &H.cfg, &cerr), 0);
	assert_int_equal(zkd_init(&H, err, sizeof err), 0);
	assert_int_equal(zkh_pub_open(H_dir, &po, &H_pub), 0);
	zkd_attach_publisher(&H, H_pub);
	H.started_us = 1;
	zkd_open_session(&H, H_now);
}

/* The same in a fresh temporary cache directory. */
static inline void h_start_cfg(const char *extra, bool up)
{
	h_start_in(NULL, extra, up);
}

/* Let the model answer and the daemon react until both are quiet, then
 * let time pass so what is due (publish, retries) happens. */
static inline void h_settle(void)
{
	for (int round = 0; round < 10000; round++) {
		int answered = fakezk_run();

		zkd_process_events(&H, H_now);
		zkd_tick(&H, H_now);
		if (!answered && !fakezk_pending() && !H.q.head)
			break;
	}
}

/* Advance the clock by ms and run what became due. */
static inline void h_advance(uint64_t ms)
{
	H_now += ms;
	zkd_tick(&H, H_now);
	h_settle();
}

/* Settle, then let every pending publish happen. */
static inline void h_publish(void)
{
	h_settle();
	h_advance(5000);
}

static inline void h_stop(void)
{
	zkd_shutdown(&H, H_now);
	zkh_pub_close(H_pub);
	H.pub = NULL;
	zkd_free(&H);
	fakezk_reset();
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", H_dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * Look `name` up in the published snapshot (hosts.mdb). Returns the
 * record's czxid (0: absent); `addr` (may be NULL) gets its first IPv4
 * address as text.
 */
static inline uint64_t h_lookup(const char *name, char *addr, size_t cap)
{
	char path[256], key[ZKH_NAME_MAX + 1];
	MDB_env *env = NULL;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k, v;
	struct zkh_rec_view rv;
	uint64_t czxid = 0;
	size_t len = strlen(name);

	for (size_t i = 0; i <= len; i++)
		key[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
	snprintf(path, sizeof path, "%s/%s", H_dir, ZKH_SNAPSHOT_FILE);
	if (addr)
		addr[0] = '\0';
	assert_int_equal(mdb_env_create(&env), 0);
	mdb_env_set_maxdbs(env, 4);
	if (mdb_env_open(env, path, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK, 0) == 0 &&
	    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0 &&
	    mdb_dbi_open(txn, ZKH_DB_NAMES, 0, &dbi) == 0) {
		k.mv_data = key;
		k.mv_size = len;
		if (mdb_get(txn, dbi, &k, &v) == 0 &&
		    zkh_rec_decode(v.mv_data, v.mv_size, key, len, &rv) == 0) {
			czxid = rv.czxid;
			if (addr && rv.n4)
				snprintf(addr, cap, "%u.%u.%u.%u", rv.v4[0], rv.v4[1],
					 rv.v4[2], rv.v4[3]);
		}
	}
	if (txn)
		mdb_txn_abort(txn);
	mdb_env_close(env);
	return czxid;
}

/* The first IPv4 address published for name ("" if absent). */
static inline const char *h_addr(const char *name)
{
	static char buf[64];

	h_lookup(name, buf, sizeof buf);
	return buf;
}

/* The status file as the daemon last wrote it (written now). */
static inline struct zkh_status h_status(void)
{
	struct zkh_status st;

	report_mark(&H.rep);
	zkd_tick(&H, H_now);
	assert_int_equal(zkh_status_read(H_dir, &st), 0);
	return st;
}

#define HOSTS "/zkhosts/hosts"

#endif

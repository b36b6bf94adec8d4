/*
 * test_status.c - unit tests of common/zk/status.c: the status file round
 * trip, its mode and atomic replacement (no temporary left behind), a
 * reader that ignores unknown keys and refuses malformed numbers, values
 * that cannot break the line format, and the Prometheus metrics text.
 */
#include <errno.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "zkhosts/status.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/zkh-status-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static size_t count_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static struct zkh_status sample(void)
{
	struct zkh_status s;

	memset(&s, 0, sizeof(s));
	s.pid = 4321;
	strcpy(s.state, "connected");
	s.connected = true;
	s.session = 0x1000a3b2c4d0005ull;
	s.started_us = 1763784000000000ull;
	s.updated_us = 1763784005123456ull;
	s.last_sync_us = 1763784001000000ull;
	s.records = 10000;
	s.skipped = 3;
	s.pending_reads = 5;
	s.pending_listing = true;
	s.retries = 17;
	s.publishes = 42;
	s.generation = 43;
	strcpy(s.last_error, "connection loss: 127.0.0.1:2181");
	return s;
}

static void round_trip(void **state)
{
	struct zkh_status s = sample(), r;
	char path[128];
	struct stat st;

	(void)state;
	umask(077);
	assert_int_equal(zkh_status_write(dir, &s), 0);
	snprintf(path, sizeof(path), "%s/status", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(count_entries(), 1);
	assert_int_equal(zkh_status_read(dir, &r), 0);
	assert_int_equal(r.pid, s.pid);
	assert_string_equal(r.state, s.state);
	assert_true(r.connected);
	assert_int_equal(r.session, s.session);
	assert_int_equal(r.started_us, s.started_us);
	assert_int_equal(r.updated_us, s.updated_us);
	assert_int_equal(r.last_sync_us, s.last_sync_us);
	assert_int_equal(r.records, s.records);
	assert_int_equal(r.skipped, s.skipped);
	assert_int_equal(r.pending_reads, s.pending_reads);
	assert_true(r.pending_listing);
	assert_int_equal(r.retries, s.retries);
	assert_int_equal(r.publishes, s.publishes);
	assert_int_equal(r.generation, s.generation);
	assert_string_equal(r.last_error, s.last_error);
	assert_int_equal(r.version, ZKH_STATUS_VERSION);
	for (int i = 0; i < ZKH_ERR_NSOURCES; i++)
		assert_string_equal(r.errors[i], "");
	/* schema 3: heartbeat, namespace, counters, build */
	s.heartbeat_us = 1763784000123456u;
	s.heartbeat_interval_s = 5;
	s.pidns = 4026531836u;
	strcpy(s.daemon_version, "1.2.3~rc1");
	s.sessions = 3;
	s.reconnects = 4;
	s.expiries = 2;
	s.last_publish_us = 1763784000000001u;
	s.disconnected_us = 1763784000000002u;
	s.error_counts[ZKH_ERR_AUTH] = 7;
	assert_int_equal(zkh_status_write(dir, &s), 0);
	assert_int_equal(zkh_status_read(dir, &r), 0);
	assert_int_equal(r.heartbeat_us, s.heartbeat_us);
	assert_int_equal(r.heartbeat_interval_s, 5);
	assert_int_equal(r.pidns, s.pidns);
	assert_string_equal(r.daemon_version, "1.2.3~rc1");
	assert_int_equal(r.sessions, 3);
	assert_int_equal(r.reconnects, 4);
	assert_int_equal(r.expiries, 2);
	assert_int_equal(r.last_publish_us, s.last_publish_us);
	assert_int_equal(r.disconnected_us, s.disconnected_us);
	assert_int_equal(r.error_counts[ZKH_ERR_AUTH], 7);
	assert_int_equal(r.error_counts[ZKH_ERR_SYNC], 0);
	/* replaced, still one file */
	s.generation = 44;
	s.connected = false;
	strcpy(s.state, "disconnected");
	assert_int_equal(zkh_status_write(dir, &s), 0);
	assert_int_equal(zkh_status_read(dir, &r), 0);
	assert_int_equal(r.generation, 44);
	assert_false(r.connected);
	assert_string_equal(r.state, "disconnected");
	assert_int_equal(count_entries(), 1);
}

/* Every active error is its own error_<source> line; the reader puts each
 * back in its slot; a file without a version line reads as version 1. */
static void errors_per_source(void **state)
{
	struct zkh_status s = sample(), r;
	char path[128], text[4096];
	FILE *f;
	size_t n;

	(void)state;
	strcpy(s.errors[ZKH_ERR_CONNECTION], "connection to ZooKeeper lost");
	strcpy(s.errors[ZKH_ERR_REGISTRATION], "register me: held by another");
	strcpy(s.last_error, s.errors[ZKH_ERR_REGISTRATION]);
	assert_int_equal(zkh_status_write(dir, &s), 0);
	snprintf(path, sizeof(path), "%s/status", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	assert_non_null(strstr(text, "version 3\n"));
	assert_non_null(strstr(text, "\nerror_connection connection to ZooKeeper lost\n"));
	assert_non_null(strstr(text, "\nerror_registration register me: held by another\n"));
	assert_null(strstr(text, "error_auth"));
	assert_int_equal(zkh_status_read(dir, &r), 0);
	assert_string_equal(r.errors[ZKH_ERR_CONNECTION], "connection to ZooKeeper lost");
	assert_string_equal(r.errors[ZKH_ERR_REGISTRATION], "register me: held by another");
	assert_string_equal(r.errors[ZKH_ERR_BUDGET], "");
	assert_string_equal(r.last_error, "register me: held by another");
	for (int i = 0; i < ZKH_ERR_NSOURCES; i++)
		assert_non_null(zkh_status_source_name((enum zkh_err_source)i));
	assert_null(zkh_status_source_name(ZKH_ERR_NSOURCES));
	put("status", "pid 1\nstate connected\nlast_error x\n");
	assert_int_equal(zkh_status_read(dir, &r), 0);
	assert_int_equal(r.version, 1);
	assert_string_equal(r.last_error, "x");
	put("status", "version 0\npid 1\n");
	assert_int_equal(zkh_status_read(dir, &r), -EINVAL);
}

static void error_text_cannot_break_lines(void **state)
{
	struct zkh_status s = sample(), r;

	(void)state;
	strcpy(s.last_error, "bad\nrecords 999\r\tend");
	assert_int_equal(zkh_status_write(dir, &s), 0);
	assert_int_equal(zkh_status_read(dir, &r), 0);
	assert_int_equal(r.records, 10000);
	assert_string_equal(r.last_error, "bad records 999  end");
}

static void tolerant_reader(void **state)
{
	struct zkh_status r;

	(void)state;
	put("status", "# comment-like unknown\nfuture_key some value\n"
		      "pid 7\n\nstate syncing\nrecords 5\nsession 0\n"
		      "last_error \nnew_flag\n");
	assert_int_equal(zkh_status_read(dir, &r), 0);
	assert_int_equal(r.pid, 7);
	assert_string_equal(r.state, "syncing");
	assert_int_equal(r.records, 5);
	assert_int_equal(r.generation, 0);
	assert_string_equal(r.last_error, "");
}

static void bad_numbers(void **state)
{
	static const char *const cases[] = {
		"pid x\n", "records -1\n", "records 12abc\n",
		"generation 99999999999999999999999\n", "connected 2\n",
		"session 0xzz\n", "pid\n", "updated_us \n", "",
		"state waytoolongstatenamehere\n",
	};
	struct zkh_status r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put("status", cases[i]);
		r.pid = 99;
		if (zkh_status_read(dir, &r) != -EINVAL)
			fail_msg("'%s' was accepted", cases[i]);
		assert_int_equal(r.pid, 0);
	}
}

static void missing(void **state)
{
	struct zkh_status r;

	(void)state;
	assert_int_equal(zkh_status_read(dir, &r), -ENOENT);
	assert_int_equal(zkh_status_read("/nonexistent-dir", &r), -ENOENT);
	r = sample();
	assert_int_equal(zkh_status_write("/nonexistent-dir", &r), -ENOENT);
}

static void metrics(void **state)
{
	struct zkh_status s = sample();
	char path[128], text[8192];
	FILE *f;
	size_t n;
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/zkhosts.prom", dir);
	assert_int_equal(zkh_status_write_metrics(path, &s), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	assert_non_null(strstr(text, "# TYPE zkhosts_up gauge\nzkhosts_up 1\n"));
	assert_non_null(strstr(text, "\nzkhosts_connected 1\n"));
	assert_non_null(strstr(text, "\nzkhosts_records 10000\n"));
	assert_non_null(strstr(text, "\nzkhosts_skipped_records 3\n"));
	assert_non_null(strstr(text, "# TYPE zkhosts_publishes_total counter\n"
				     "zkhosts_publishes_total 42\n"));
	assert_non_null(strstr(text, "\nzkhosts_generation 43\n"));
	assert_non_null(strstr(text,
		"\nzkhosts_last_update_timestamp_seconds 1763784005.123456\n"));
	assert_non_null(strstr(text,
		"\nzkhosts_last_sync_timestamp_seconds 1763784001.000000\n"));
	/* every metric line has HELP and TYPE before it */
	for (char *line = text; *line; ) {
		char *nl = strchr(line, '\n');

		assert_non_null(nl);
		if (line[0] != '#') {
			char name[64];

			/* the name, without labels ({source="..."}) */
			assert_int_equal(sscanf(line, "%63[^{ ]", name), 1);
			char help[96];
			snprintf(help, sizeof(help), "# HELP %s ", name);
			assert_non_null(strstr(text, help));
		}
		line = nl + 1;
	}
	assert_non_null(strstr(text, "\nzkhosts_status_version 3\n"));
	assert_non_null(strstr(text, "\nzkhosts_pending_reads 5\n"));
	assert_non_null(strstr(text, "\nzkhosts_pending_listing 1\n"));
	assert_non_null(strstr(text, "# TYPE zkhosts_retries_total counter\n"
				     "zkhosts_retries_total 17\n"));
	assert_non_null(strstr(text, "\nzkhosts_build_info{version=\""));
	assert_non_null(strstr(text, "\nzkhosts_errors_total{source=\"connection\"} 0\n"));
	assert_non_null(strstr(text, "\nzkhosts_heartbeat_timestamp_seconds "));
	assert_non_null(strstr(text, "\nzkhosts_reconnects_total "));
	assert_non_null(strstr(text, "\nzkhosts_error{source=\"connection\"} 0\n"));
	assert_non_null(strstr(text, "\nzkhosts_error{source=\"budget\"} 0\n"));
	strcpy(s.state, "stopped");
	strcpy(s.errors[ZKH_ERR_BUDGET], "snapshot budget exceeded");
	assert_int_equal(zkh_status_write_metrics(path, &s), 0);
	f = fopen(path, "r");
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	assert_non_null(strstr(text, "\nzkhosts_up 0\n"));
	assert_non_null(strstr(text, "\nzkhosts_error{source=\"budget\"} 1\n"));
	assert_non_null(strstr(text, "\nzkhosts_error{source=\"auth\"} 0\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(error_text_cannot_break_lines,
						setup, teardown),
		cmocka_unit_test_setup_teardown(tolerant_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(errors_per_source, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(missing, setup, teardown),
		cmocka_unit_test_setup_teardown(metrics, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_zkconn.c - unit tests of common/zk/zkconn.c: connect-string resolution
 * (numeric output, IPv6 without brackets, chroot kept, ambiguous and
 * malformed entries refused, unresolvable hosts named, the NSS bypass
 * variable set), auth_file mode and format checks (the secret never shows
 * up in anything returned on error), the znode path builders, and the
 * routing of the ZooKeeper client's log lines into our logger.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zookeeper/zookeeper.h>

#include "zkhosts/config.h"
#include "zkhosts/zkconn.h"

void zkh_zk_log_callback(const char *message);

static void resolve_numeric(void **state)
{
	char out[256], bad[64];

	(void)state;
	unsetenv(ZKH_NSS_BYPASS_ENV);
	assert_int_equal(zkh_zk_resolve("127.0.0.1:2888,[::1]:2999/cluster-a",
					out, sizeof(out), bad, sizeof(bad)), 0);
	assert_string_equal(out, "127.0.0.1:2888,::1:2999/cluster-a");
	assert_string_equal(getenv(ZKH_NSS_BYPASS_ENV), "1");
	assert_string_equal(bad, "");
}

static void resolve_default_port_and_spaces(void **state)
{
	char out[256], bad[64];

	(void)state;
	assert_int_equal(zkh_zk_resolve(" 10.1.2.3 , [fd00::5] ,fd00::6", out,
					sizeof(out), bad, sizeof(bad)), 0);
	assert_string_equal(out, "10.1.2.3:2181,fd00::5:2181,fd00::6:2181");
	/* "/" alone is no chroot */
	assert_int_equal(zkh_zk_resolve("10.1.2.3:1/", out, sizeof(out), bad,
					sizeof(bad)), 0);
	assert_string_equal(out, "10.1.2.3:1");
}

static void resolve_name(void **state)
{
	char out[256], bad[64];

	(void)state;
	assert_int_equal(zkh_zk_resolve("localhost:2181", out, sizeof(out),
					bad, sizeof(bad)), 0);
	assert_non_null(strstr(out, "127.0.0.1:2181"));
	/* duplicates collapse */
	assert_int_equal(zkh_zk_resolve("localhost:5,127.0.0.1:5", out,
					sizeof(out), bad, sizeof(bad)), 0);
	assert_null(strstr(out, "127.0.0.1:5,127.0.0.1:5"));
}

static void resolve_unresolvable(void **state)
{
	char out[256], bad[64];

	(void)state;
	assert_int_equal(zkh_zk_resolve("no-such-host.invalid:2181", out,
					sizeof(out), bad, sizeof(bad)),
			 -EHOSTUNREACH);
	assert_string_equal(bad, "no-such-host.invalid");
	/* one good host is enough; the bad one is still named */
	assert_int_equal(zkh_zk_resolve("no-such-host.invalid:2181,127.0.0.1",
					out, sizeof(out), bad, sizeof(bad)), 0);
	assert_string_equal(out, "127.0.0.1:2181");
	assert_string_equal(bad, "no-such-host.invalid");
}

static void resolve_malformed(void **state)
{
	static const char *const cases[] = {
		"", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
		"127.0.0.1:21x", "[::1", "[::1]x", "[nothex]:1", "127.0.0.1,,127.0.0.2",
		"fd00::1:2181",	/* ambiguous: write [fd00::1]:2181 */
		"h:1/chroot/", "h:1//x", "bad host:1", "1::2::3",
	};
	char out[256], bad[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = zkh_zk_resolve(cases[i], out, sizeof(out), bad,
					sizeof(bad));

		if (rc != -EINVAL)
			fail_msg("'%s' gave %d, wanted -EINVAL", cases[i], rc);
	}
	assert_int_equal(zkh_zk_resolve("[::1]x", out, sizeof(out), bad,
					sizeof(bad)), -EINVAL);
	assert_string_equal(bad, "[::1]x");
}

static void resolve_nospace(void **state)
{
	char out[16], bad[64];

	(void)state;
	assert_int_equal(zkh_zk_resolve("127.0.0.1:2181,127.0.0.2:2181", out,
					sizeof(out), bad, sizeof(bad)),
			 -ENOSPC);
	assert_int_equal(zkh_zk_resolve("127.0.0.1:2181/abcdefgh", out,
					sizeof(out), bad, sizeof(bad)),
			 -ENOSPC);
}

/* Write an auth file with `mode`; returns its path in a static buffer. */
static const char *auth_file(const char *text, mode_t mode)
{
	static char path[64];
	int fd;

	strcpy(path, "/tmp/zkh-auth-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static void auth_ok(void **state)
{
	char scheme[32], cred[128];
	const char *p = auth_file("digest:user:s3cret\nignored\n", 0600);

	(void)state;
	assert_int_equal(zkh_zk_read_auth(p, scheme, sizeof(scheme), cred,
					  sizeof(cred)), 0);
	assert_string_equal(scheme, "digest");
	assert_string_equal(cred, "user:s3cret");
	unlink(p);
	p = auth_file("digest:u:p\r\n", 0400);
	assert_int_equal(zkh_zk_read_auth(p, scheme, sizeof(scheme), cred,
					  sizeof(cred)), 0);
	assert_string_equal(cred, "u:p");
	unlink(p);
}

static void auth_refused(void **state)
{
	static const struct {
		const char *text;
		mode_t mode;
		int rc;
	} cases[] = {
		{ "digest:user:s3cret\n", 0640, -EPERM },
		{ "digest:user:s3cret\n", 0604, -EPERM },
		{ "nocolon-s3cret\n", 0600, -EINVAL },
		{ ":user:s3cret\n", 0600, -EINVAL },
		{ "digest:\n", 0600, -EINVAL },
		{ "", 0600, -EINVAL },
		{ "dig est:user:s3cret\n", 0600, -EINVAL },
		{ "digest:user:s3\001cret\n", 0600, -EINVAL },
	};
	char scheme[32], cred[128];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p = auth_file(cases[i].text, cases[i].mode);

		memset(scheme, 'x', sizeof(scheme));
		memset(cred, 'x', sizeof(cred));
		assert_int_equal(zkh_zk_read_auth(p, scheme, sizeof(scheme),
						  cred, sizeof(cred)),
				 cases[i].rc);
		assert_string_equal(scheme, "");
		assert_string_equal(cred, "");
		unlink(p);
	}
	assert_int_equal(zkh_zk_read_auth("/nonexistent/auth", scheme,
					  sizeof(scheme), cred, sizeof(cred)),
			 -ENOENT);
	assert_int_equal(zkh_zk_read_auth("/tmp", scheme, sizeof(scheme),
					  cred, sizeof(cred)), -EINVAL);
	{
		const char *p = auth_file("digest:user:s3cret\n", 0600);

		assert_int_equal(zkh_zk_read_auth(p, scheme, sizeof(scheme),
						  cred, 4), -ENOSPC);
		assert_string_equal(cred, "");
		unlink(p);
	}
}

static void paths(void **state)
{
	struct zkh_config c;
	char out[64];

	(void)state;
	memset(&c, 0, sizeof(c));
	strcpy(c.root, "/zkhosts");
	assert_int_equal(zkh_zk_hosts_path(&c, out, sizeof(out)), 0);
	assert_string_equal(out, "/zkhosts/hosts");
	assert_int_equal(zkh_zk_boot_path(&c, out, sizeof(out)), 0);
	assert_string_equal(out, "/zkhosts/boot");
	assert_int_equal(zkh_zk_host_path(&c, "web-1", out, sizeof(out)), 0);
	assert_string_equal(out, "/zkhosts/hosts/web-1");
	assert_int_equal(zkh_zk_service_path(&c, "namenode", out,
					     sizeof(out)), 0);
	assert_string_equal(out, "/zkhosts/boot/namenode");
	assert_int_equal(zkh_zk_service_path(&c, "namenode", out, 22),
			 -ENAMETOOLONG);
	assert_int_equal(zkh_zk_service_path(&c, "namenode", out, 23), 0);
	assert_int_equal(zkh_zk_host_path(&c, "a/b", out, sizeof(out)),
			 -EINVAL);
	strcpy(c.root, "/");
	assert_int_equal(zkh_zk_hosts_path(&c, out, sizeof(out)), 0);
	assert_string_equal(out, "/hosts");
}

static char logged[4][256];
static enum zkh_log_level logged_level[4];
static int nlogged;

static void logger(enum zkh_log_level l, const char *line)
{
	if (nlogged < 4) {
		snprintf(logged[nlogged], sizeof(logged[0]), "%s", line);
		logged_level[nlogged] = l;
	}
	nlogged++;
}

static void log_routing(void **state)
{
	(void)state;
	zkh_zk_route_log(logger, ZKH_LOG_WARN);
	nlogged = 0;
	zkh_zk_log_callback("2024-01-01 00:00:00,000:1(0x1):ZOO_ERROR@f@12: boom");
	zkh_zk_log_callback("2024-01-01 00:00:00,000:1(0x1):ZOO_INFO@f@13: quiet");
	assert_int_equal(nlogged, 1);
	assert_string_equal(logged[0], "f@12: boom");
	assert_int_equal(logged_level[0], ZKH_LOG_ERR);
	/* The global stream: a real client logs "Initiating client
	 * connection" at INFO through the stream set by zkh_zk_route_log
	 * (no server needed: nothing listens on port 1). */
	zkh_zk_route_log(logger, ZKH_LOG_INFO);
	nlogged = 0;
	zhandle_t *zh = zookeeper_init("127.0.0.1:1", NULL, 1000, NULL, NULL,
				       0);
	assert_non_null(zh);
	zookeeper_close(zh);
	assert_true(nlogged >= 1);
	assert_int_equal(logged_level[0], ZKH_LOG_INFO);
	assert_null(strstr(logged[0], "ZOO_INFO"));
	assert_non_null(strstr(logged[0], "@"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(resolve_numeric),
		cmocka_unit_test(resolve_default_port_and_spaces),
		cmocka_unit_test(resolve_name),
		cmocka_unit_test(resolve_unresolvable),
		cmocka_unit_test(resolve_malformed),
		cmocka_unit_test(resolve_nospace),
		cmocka_unit_test(auth_ok),
		cmocka_unit_test(auth_refused),
		cmocka_unit_test(paths),
		cmocka_unit_test(log_routing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_config.c - unit tests for common/core/config.c: defaults, every key's
 * accepted and refused values, comments and whitespace, exact file/line/key
 * in every STRICT error, the MODULE mode (only `cache` matters), the error
 * formatter, loading from real temporary files (missing, too big, not a
 * regular file, long lines, a file without a final newline) and the
 * ZKHOSTS_CONF path selection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zkhosts/config.h"
#include "zkhosts/names.h"

static struct zkh_config cfg;
static struct zkh_config_error err;

static int parse_mode(const char *text, enum zkh_config_mode mode)
{
	zkh_config_defaults(&cfg);
	memset(&err, 0x41, sizeof(err));
	return zkh_config_parse(text, strlen(text), "test.conf", mode, &cfg,
				&err);
}

static int parse(const char *text)
{
	return parse_mode(text, ZKH_CONFIG_STRICT);
}

/* A STRICT parse must fail on `line` about `key` with msg containing
 * `msg_part`. */
static void expect_error(const char *text, unsigned line, const char *key,
			 const char *msg_part)
{
	if (parse(text) != -EINVAL)
		fail_msg("accepted: %s", text);
	assert_string_equal(err.file, "test.conf");
	assert_int_equal(err.line, line);
	assert_string_equal(err.key, key);
	if (strstr(err.msg, msg_part) == NULL)
		fail_msg("message '%s' lacks '%s'", err.msg, msg_part);
}

static void test_defaults(void **state)
{
	(void)state;
	memset(&cfg, 0x55, sizeof(cfg));
	zkh_config_defaults(&cfg);
	assert_string_equal(cfg.zookeeper, "");
	assert_string_equal(cfg.root, "/zkhosts");
	assert_string_equal(cfg.cache, "/var/cache/zkcached");
	assert_string_equal(cfg.domain, "");
	assert_int_equal(cfg.session_timeout, 10000);
	assert_string_equal(cfg.register_name, "");
	assert_int_equal(cfg.register_naddrs, 0);
	assert_string_equal(cfg.auth_file, "");
	assert_string_equal(cfg.metrics_file, "");
	assert_false(cfg.fsync);
	assert_int_equal(cfg.publish_delay, 5);
	assert_int_equal(cfg.max_records, 1000000);
	assert_int_equal(cfg.watches_per_session, 20000);
	/* empty text leaves the defaults */
	assert_int_equal(parse(""), 0);
	assert_string_equal(cfg.root, "/zkhosts");
}

static void test_full_file(void **state)
{
	char txt[64];
	const char *text =
		"# zkhosts test configuration\n"
		"\n"
		"zookeeper = zk1:2181,zk2:2181/cluster-a\n"
		"   root=/zk/hosts   \n"
		"cache = /var/cache/zk/   # trailing slash dropped\n"
		"\tdomain = Corp.Example.COM.\n"
		"session_timeout = 30000\r\n"
		"register = Node-7. 10.0.0.7, fd00::7 ,10.0.0.8\n"
		"auth_file = /etc/zkhosts.auth\n"
		"metrics_file = /var/lib/prom/zk hosts.prom\n"
		"fsync = YES\n"
		"publish_delay = 0\n"
		"max_records = 50000\n"
		"# the end";

	(void)state;
	assert_int_equal(parse(text), 0);
	assert_string_equal(cfg.zookeeper, "zk1:2181,zk2:2181/cluster-a");
	assert_string_equal(cfg.root, "/zk/hosts");
	assert_string_equal(cfg.cache, "/var/cache/zk");
	assert_string_equal(cfg.domain, "corp.example.com");
	assert_int_equal(cfg.session_timeout, 30000);
	assert_string_equal(cfg.register_name, "Node-7");
	assert_int_equal(cfg.register_naddrs, 3);
	assert_string_equal(zkh_addr_format(&cfg.register_addrs[0], txt,
					    sizeof(txt)), "10.0.0.7");
	assert_string_equal(zkh_addr_format(&cfg.register_addrs[1], txt,
					    sizeof(txt)), "fd00::7");
	assert_string_equal(zkh_addr_format(&cfg.register_addrs[2], txt,
					    sizeof(txt)), "10.0.0.8");
	assert_string_equal(cfg.auth_file, "/etc/zkhosts.auth");
	/* values may hold inner spaces */
	assert_string_equal(cfg.metrics_file, "/var/lib/prom/zk hosts.prom");
	assert_true(cfg.fsync);
	assert_int_equal(cfg.publish_delay, 0);
	assert_int_equal(cfg.max_records, 50000);
}

static void test_comments(void **state)
{
	(void)state;
	assert_int_equal(parse("#zookeeper = x\n  # root = bad\n"), 0);
	assert_string_equal(cfg.zookeeper, "");
	/* '#' after whitespace starts a comment, inside a word it does not */
	assert_int_equal(parse("zookeeper = host#1:2181 # comment\n"), 0);
	assert_string_equal(cfg.zookeeper, "host#1:2181");
	assert_int_equal(parse("zookeeper = h:1\t# tab before\n"), 0);
	assert_string_equal(cfg.zookeeper, "h:1");
	/* a value that is only a comment is empty */
	expect_error("zookeeper = # nothing\n", 1, "zookeeper", "empty value");
	/* blank and whitespace-only lines, CRLF */
	assert_int_equal(parse("\n\n   \t \r\n\r\nroot = /r\r\n"), 0);
	assert_string_equal(cfg.root, "/r");
}

static void test_register_forms(void **state)
{
	char txt[64];
	char buf[2048];
	size_t o;

	(void)state;
	assert_int_equal(parse("register = solo\n"), 0);
	assert_string_equal(cfg.register_name, "solo");
	assert_int_equal(cfg.register_naddrs, 0);
	assert_int_equal(parse("register = h ::1\n"), 0);
	assert_int_equal(cfg.register_naddrs, 1);
	assert_int_equal(cfg.register_addrs[0].family, AF_INET6);
	assert_string_equal(zkh_addr_format(&cfg.register_addrs[0], txt,
					    sizeof(txt)), "::1");
	expect_error("register = bad..name 1.2.3.4\n", 1, "register",
		     "not a valid host name (empty label): 'bad..name'");
	expect_error("register = h 1.2.3\n", 1, "register",
		     "not a valid IPv4 or IPv6 address: '1.2.3'");
	expect_error("register = h 1.2.3.4 1.2.3.4\n", 1, "register",
		     "address given twice: '1.2.3.4'");
	expect_error("register = h fe80::1%eth0\n", 1, "register",
		     "not a valid IPv4 or IPv6 address");
	expect_error("register = h 0.0.0.0\n", 1, "register",
		     "not a valid IPv4 or IPv6 address");
	/* 32 addresses fit, 33 do not */
	o = (size_t)snprintf(buf, sizeof(buf), "register = h");
	for (int i = 1; i <= 32; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, " 10.9.0.%d", i);
	assert_int_equal(parse(buf), 0);
	assert_int_equal(cfg.register_naddrs, 32);
	assert_int_equal(cfg.register_addrs[31].bytes[3], 32);
	snprintf(buf + o, sizeof(buf) - o, " 10.9.0.33\n");
	expect_error(buf, 1, "register", "more than 32 addresses");
	/* the longest name, with a trailing dot dropped */
	o = (size_t)snprintf(buf, sizeof(buf), "register = ");
	for (size_t i = 0; i < ZKH_NAME_MAX; i++)
		buf[o++] = (i % 64 == 63) ? '.' : 'R';
	buf[o++] = '.';
	buf[o] = '\0';
	assert_int_equal(parse(buf), 0);
	assert_int_equal(strlen(cfg.register_name), ZKH_NAME_MAX);
	assert_int_equal(cfg.register_name[0], 'R');
}

static void test_values(void **state)
{
	(void)state;
	/* session_timeout bounds */
	assert_int_equal(parse("session_timeout = 1000"), 0);
	assert_int_equal(cfg.session_timeout, 1000);
	assert_int_equal(parse("session_timeout = 600000"), 0);
	assert_int_equal(cfg.session_timeout, 600000);
	expect_error("session_timeout = 999", 1, "session_timeout",
		     "from 1000 to 600000");
	expect_error("session_timeout = 600001", 1, "session_timeout",
		     "1000 to 600000");
	expect_error("session_timeout = -5000", 1, "session_timeout",
		     "integer");
	expect_error("session_timeout = 10s", 1, "session_timeout", "10s");
	expect_error("session_timeout = 99999999999999999999", 1,
		     "session_timeout", "integer");
	expect_error("session_timeout = 0x1000", 1, "session_timeout",
		     "integer");
	expect_error("session_timeout = 1 000", 1, "session_timeout",
		     "integer");
	/* publish_delay bounds */
	assert_int_equal(parse("publish_delay = 10000"), 0);
	assert_int_equal(cfg.publish_delay, 10000);
	expect_error("publish_delay = 10001", 1, "publish_delay",
		     "from 0 to 10000");
	expect_error("publish_delay = +1", 1, "publish_delay", "integer");
	/* max_records bounds */
	assert_int_equal(parse("max_records = 1"), 0);
	assert_int_equal(cfg.max_records, 1);
	assert_int_equal(parse("max_records = 100000000"), 0);
	assert_int_equal(cfg.max_records, 100000000);
	expect_error("max_records = 0", 1, "max_records", "from 1 to 100000000");
	expect_error("max_records = 100000001", 1, "max_records",
		     "from 1 to 100000000");
	expect_error("max_records = 1e6", 1, "max_records", "integer");
	expect_error("max_records = -1", 1, "max_records", "integer");
	/* watches_per_session bounds */
	assert_int_equal(parse("watches_per_session = 10"), 0);
	assert_int_equal(cfg.watches_per_session, 10);
	assert_int_equal(parse("watches_per_session = 1000000"), 0);
	assert_int_equal(cfg.watches_per_session, 1000000);
	expect_error("watches_per_session = 9", 1, "watches_per_session",
		     "from 10 to 1000000");
	expect_error("watches_per_session = 1000001", 1, "watches_per_session",
		     "from 10 to 1000000");
	expect_error("watches_per_session = many", 1, "watches_per_session",
		     "integer");
	/* fsync spellings */
	const char *yes[] = { "yes", "true", "1", "on", "Yes", "TRUE" };
	const char *no[] = { "no", "false", "0", "off", "NO" };
	char line[64];
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(line, sizeof(line), "fsync = %s", yes[i]);
		assert_int_equal(parse(line), 0);
		assert_true(cfg.fsync);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		snprintf(line, sizeof(line), "fsync = yes\n");
		snprintf(line, sizeof(line), "fsync = %s", no[i]);
		assert_int_equal(parse(line), 0);
		assert_false(cfg.fsync);
	}
	expect_error("fsync = maybe", 1, "fsync", "yes or no");
	expect_error("fsync = y", 1, "fsync", "yes or no");
	/* zookeeper */
	expect_error("zookeeper = a:1, b:2", 1, "zookeeper", "whitespace");
	/* root */
	assert_int_equal(parse("root = /a/b-c_d.e"), 0);
	assert_string_equal(cfg.root, "/a/b-c_d.e");
	expect_error("root = zkhosts", 1, "root", "start with '/'");
	expect_error("root = /", 1, "root", "'/' itself");
	expect_error("root = /zkhosts/", 1, "root", "end with '/'");
	expect_error("root = /a//b", 1, "root", "empty path component");
	expect_error("root = /a/../b", 1, "root", "'..'");
	expect_error("root = /a/.", 1, "root", "'.'");
	expect_error("root = /a b", 1, "root", "printable");
	/* cache */
	expect_error("cache = var/cache", 1, "cache", "absolute path");
	expect_error("cache = /", 1, "cache", "root directory");
	expect_error("cache = ///", 1, "cache", "root directory");
	assert_int_equal(parse("cache = /c//"), 0);
	assert_string_equal(cfg.cache, "/c");
	/* auth and metrics files */
	expect_error("auth_file = secret.txt", 1, "auth_file", "absolute");
	expect_error("auth_file = /etc/", 1, "auth_file", "not a directory");
	expect_error("metrics_file = m.prom", 1, "metrics_file", "absolute");
	/* domain */
	assert_int_equal(parse("domain = EXAMPLE.org"), 0);
	assert_string_equal(cfg.domain, "example.org");
	expect_error("domain = .", 1, "domain", "not a valid domain name");
	expect_error("domain = a..b", 1, "domain", "(empty label): 'a..b'");
	expect_error("domain = ex ample", 1, "domain", "character not allowed");
}

static void test_path_lengths(void **state)
{
	static char text[ZKH_PATH_MAX + 64];
	size_t o;

	(void)state;
	/* 4095 characters: the longest path that fits */
	o = (size_t)snprintf(text, sizeof(text), "cache = /");
	memset(text + o, 'p', ZKH_PATH_MAX - 2);
	text[o + ZKH_PATH_MAX - 2] = '\0';
	assert_int_equal(parse(text), 0);
	assert_int_equal(strlen(cfg.cache), ZKH_PATH_MAX - 1);
	text[o + ZKH_PATH_MAX - 2] = 'p';
	text[o + ZKH_PATH_MAX - 1] = '\0';
	expect_error(text, 1, "cache", "too long");
	/* zookeeper: 1023 fit, 1024 do not */
	o = (size_t)snprintf(text, sizeof(text), "zookeeper = ");
	memset(text + o, 'z', 1023);
	text[o + 1023] = '\0';
	assert_int_equal(parse(text), 0);
	assert_int_equal(strlen(cfg.zookeeper), 1023);
	text[o + 1023] = 'z';
	text[o + 1024] = '\0';
	expect_error(text, 1, "zookeeper", "too long");
	/* root: 511 fit, 512 do not */
	o = (size_t)snprintf(text, sizeof(text), "root = /");
	memset(text + o, 'r', 510);
	text[o + 510] = '\0';
	assert_int_equal(parse(text), 0);
	text[o + 510] = 'r';
	text[o + 511] = '\0';
	expect_error(text, 1, "root", "too long");
}

static void test_syntax_errors(void **state)
{
	(void)state;
	expect_error("zookeeper = a:1\n\n# c\nbogus = 1\n", 4, "bogus",
		     "unknown key");
	expect_error("root = /a\nroot = /b\n", 2, "root",
		     "duplicate key (first set on line 1)");
	expect_error("\n\njust some words\n", 3, "just", "missing '='");
	expect_error("cache =\n", 1, "cache", "empty value");
	expect_error("cache =    \t\n", 1, "cache", "empty value");
	expect_error("= value\n", 1, "", "missing key");
	/* keys are case-sensitive and whole */
	expect_error("Cache = /x\n", 1, "Cache", "unknown key");
	expect_error("cache_dir = /x\n", 1, "cache_dir", "unknown key");
	/* a NUL or other control byte in a line */
	{
		static const char t[] = "root = /a\ncache = /x\0y\n";

		zkh_config_defaults(&cfg);
		assert_int_equal(zkh_config_parse(t, sizeof(t) - 1, "f", ZKH_CONFIG_STRICT,
						  &cfg, &err), -EINVAL);
		assert_int_equal(err.line, 2);
		assert_string_equal(err.msg, "control character in line");
	}
	expect_error("root = /a\x1b[31m\n", 1, "", "control character");
	/* the key in an error is rendered printably and bounded */
	expect_error("k\xff\xfe = 1\n", 1, "k\\xff\\xfe", "unknown key");
	{
		char t[300];

		memset(t, 'K', 200);
		memcpy(t + 200, " = 1\n", 6);
		assert_int_equal(parse(t), -EINVAL);
		assert_true(strlen(err.key) < sizeof(err.key));
		assert_int_equal(err.key[0], 'K');
	}
	/* the first error wins, later lines are not looked at */
	expect_error("root = x\nbogus = 1\n", 1, "root", "start with '/'");
	/* a value echoed in a message is escaped */
	expect_error("session_timeout = \xc3\xa9", 1, "session_timeout",
		     "'\\xc3\\xa9'");
}

static void test_module_mode(void **state)
{
	(void)state;
	/* everything but cache ignored, even garbage */
	assert_int_equal(parse_mode("bogus = 1\nroot = relative\nno equals\n"
				    "session_timeout = x\n= v\nzookeeper =\n"
				    "root = /a\nroot = /b\nx\x01y\n"
				    "cache = /srv/zk\n", ZKH_CONFIG_MODULE), 0);
	assert_string_equal(cfg.cache, "/srv/zk");
	assert_string_equal(cfg.root, "/zkhosts");	/* not applied */
	assert_string_equal(cfg.zookeeper, "");
	assert_int_equal(cfg.session_timeout, 10000);
	/* no cache line: the default */
	assert_int_equal(parse_mode("domain = X\n", ZKH_CONFIG_MODULE), 0);
	assert_string_equal(cfg.cache, ZKH_DEFAULT_CACHE);
	assert_string_equal(cfg.domain, "");
	/* a bad or duplicate cache is an error: the module must not guess */
	assert_int_equal(parse_mode("cache = relative\n", ZKH_CONFIG_MODULE),
			 -EINVAL);
	assert_int_equal(err.line, 1);
	assert_string_equal(err.key, "cache");
	assert_int_equal(parse_mode("cache = /a\ncache = /b\n",
				    ZKH_CONFIG_MODULE), -EINVAL);
	assert_int_equal(err.line, 2);
	assert_int_equal(parse_mode("\ncache =\n", ZKH_CONFIG_MODULE), -EINVAL);
	assert_int_equal(err.line, 2);
}

static void test_strerror(void **state)
{
	char out[512];
	char small[12];
	struct zkh_config_error e;

	(void)state;
	expect_error("\nroot = x\n", 2, "root", "must start with '/'");
	assert_string_equal(zkh_config_strerror(&err, out, sizeof(out)),
			    "test.conf:2: key 'root': must start with '/': 'x'");
	memset(&e, 0, sizeof(e));
	strcpy(e.msg, "boom");
	assert_string_equal(zkh_config_strerror(&e, out, sizeof(out)), "boom");
	strcpy(e.file, "/etc/zkhosts.conf");
	assert_string_equal(zkh_config_strerror(&e, out, sizeof(out)),
			    "/etc/zkhosts.conf: boom");
	strcpy(e.key, "zookeeper");
	assert_string_equal(zkh_config_strerror(&e, out, sizeof(out)),
			    "/etc/zkhosts.conf: key 'zookeeper': boom");
	e.file[0] = '\0';
	e.line = 7;
	assert_string_equal(zkh_config_strerror(&e, out, sizeof(out)),
			    "line 7: key 'zookeeper': boom");
	/* truncation is safe and NUL-terminated */
	assert_string_equal(zkh_config_strerror(&e, small, sizeof(small)),
			    "line 7: key");
	assert_ptr_equal(zkh_config_strerror(&e, small, 0), small);
}

static void test_require_zookeeper(void **state)
{
	(void)state;
	zkh_config_defaults(&cfg);
	assert_int_equal(zkh_config_require_zookeeper(&cfg, "f.conf", &err),
			 -EINVAL);
	assert_string_equal(err.file, "f.conf");
	assert_string_equal(err.key, "zookeeper");
	assert_int_equal(err.line, 0);
	assert_int_equal(parse("zookeeper = 127.0.0.1:2281"), 0);
	assert_int_equal(zkh_config_require_zookeeper(&cfg, "f.conf", &err), 0);
}

/* Random text built from config-ish fragments: both modes return 0 or
 * -EINVAL, never crash, and always leave terminated strings. */
static void test_parse_random(void **state)
{
	static const char *frag[] = {
		"cache", "root", "zookeeper", "register", "domain", "fsync",
		"session_timeout", "publish_delay", " = ", "=", "#", " ", "\t",
		"\n", "\r", "/", "//", "a", "A.b", "..", "1.2.3.4", "::1", ",",
		"10000", "-", "\0", "\x01", "\xff", "yes", "\n\n",
	};
	static char text[4096];
	unsigned seed = 99;

	(void)state;
	for (int iter = 0; iter < 5000; iter++) {
		size_t o = 0, n = (size_t)(rand_r(&seed) % 60);

		for (size_t k = 0; k < n; k++) {
			const char *f = frag[rand_r(&seed) %
					     (sizeof(frag) / sizeof(frag[0]))];
			size_t fl = strlen(f) ? strlen(f) : 1; /* "\0" */

			if (o + fl >= sizeof(text))
				break;
			memcpy(text + o, f, fl);
			o += fl;
		}
		for (int mode = 0; mode < 2; mode++) {
			int rc;

			zkh_config_defaults(&cfg);
			rc = zkh_config_parse(text, o, "r.conf",
					      mode ? ZKH_CONFIG_MODULE
						   : ZKH_CONFIG_STRICT,
					      &cfg, &err);
			assert_true(rc == 0 || rc == -EINVAL);
			assert_true(memchr(cfg.cache, 0, sizeof(cfg.cache)));
			assert_true(memchr(cfg.root, 0, sizeof(cfg.root)));
			assert_true(memchr(cfg.domain, 0, sizeof(cfg.domain)));
			assert_true(cfg.cache[0] == '/');
			assert_true(cfg.register_naddrs <= ZKH_MAX_ADDRS);
			if (rc != 0) {
				char msg[1024];

				assert_true(memchr(err.msg, 0, sizeof(err.msg)));
				assert_true(memchr(err.key, 0, sizeof(err.key)));
				assert_true(err.line >= 1);
				zkh_config_strerror(&err, msg, sizeof(msg));
				assert_true(strlen(msg) < sizeof(msg));
			}
		}
	}
}

/* ---- files ---------------------------------------------------------- */

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/zkh-test-config-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void test_load_file(void **state)
{
	char path[128];
	const char *text = "zookeeper = 127.0.0.1:2281\n"
			   "cache = /tmp/zk-cache\n"
			   "domain = Lab.Example.";	/* no final newline */

	(void)state;
	snprintf(path, sizeof(path), "%s/ok.conf", tmpdir);
	write_file(path, text, strlen(text));
	memset(&cfg, 0x77, sizeof(cfg));
	assert_int_equal(zkh_config_load(path, ZKH_CONFIG_STRICT, &cfg, &err), 0);
	assert_string_equal(cfg.zookeeper, "127.0.0.1:2281");
	assert_string_equal(cfg.cache, "/tmp/zk-cache");
	assert_string_equal(cfg.domain, "lab.example");
	assert_string_equal(cfg.root, "/zkhosts");	/* defaults filled */
	assert_int_equal(cfg.session_timeout, 10000);
	assert_int_equal(zkh_config_load(path, ZKH_CONFIG_MODULE, &cfg, &err), 0);
	assert_string_equal(cfg.cache, "/tmp/zk-cache");
	assert_string_equal(cfg.zookeeper, "");

	/* errors name the real file and line */
	snprintf(path, sizeof(path), "%s/bad.conf", tmpdir);
	write_file(path, "cache = /x\n\n\nfsync = perhaps\n", 27);
	assert_int_equal(zkh_config_load(path, ZKH_CONFIG_STRICT, &cfg, &err),
			 -EINVAL);
	assert_string_equal(err.file, path);
	assert_int_equal(err.line, 4);
	assert_string_equal(err.key, "fsync");
}

static void test_load_errors(void **state)
{
	char path[128];
	static char big[1024 * 1024 + 1];

	(void)state;
	snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
	assert_int_equal(zkh_config_load(path, ZKH_CONFIG_STRICT, &cfg, &err),
			 -ENOENT);
	assert_string_equal(err.file, path);
	assert_string_equal(err.msg, "no such file");
	/* missing file: the defaults are in place for the caller to use */
	assert_string_equal(cfg.cache, ZKH_DEFAULT_CACHE);

	/* a directory, and a FIFO (must not hang) */
	assert_int_equal(zkh_config_load(tmpdir, ZKH_CONFIG_MODULE, &cfg, &err),
			 -EINVAL);
	assert_string_equal(err.msg, "not a regular file");
	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(zkh_config_load(path, ZKH_CONFIG_MODULE, &cfg, &err),
			 -EINVAL);

	/* exactly 1 MiB is read; one byte more is refused */
	memset(big, '#', sizeof(big));
	for (size_t i = 100; i < sizeof(big); i += 100)
		big[i] = '\n';
	snprintf(path, sizeof(path), "%s/big.conf", tmpdir);
	write_file(path, big, sizeof(big) - 1);
	assert_int_equal(zkh_config_load(path, ZKH_CONFIG_STRICT, &cfg, &err), 0);
	write_file(path, big, sizeof(big));
	assert_int_equal(zkh_config_load(path, ZKH_CONFIG_STRICT, &cfg, &err),
			 -EFBIG);
	assert_string_equal(err.msg, "larger than 1 MiB");

	/* unreadable: only meaningful when not root */
	if (geteuid() != 0) {
		snprintf(path, sizeof(path), "%s/secret.conf", tmpdir);
		write_file(path, "root = /a\n", 10);
		chmod(path, 0);
		assert_int_equal(zkh_config_load(path, ZKH_CONFIG_STRICT, &cfg,
						 &err), -EACCES);
	}
}

/* Lines longer than the parser's line buffer, at buffer boundaries. */
static void test_load_long_lines(void **state)
{
	char path[128];
	static char text[40000];
	size_t o = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/long.conf", tmpdir);
	/* a long comment-free line in the middle */
	o += (size_t)snprintf(text + o, sizeof(text) - o, "root = /a\n");
	memset(text + o, 'x', 20000);
	o += 20000;
	text[o++] = '\n';
	o += (size_t)snprintf(text + o, sizeof(text) - o, "cache = /after\n");
	write_file(path, text, o);
	assert_int_equal(zkh_config_load(path, ZKH_CONFIG_STRICT, &cfg, &err),
			 -EINVAL);
	assert_int_equal(err.line, 2);
	assert_string_equal(err.msg, "line longer than 8191 bytes");
	/* the module skips it and still finds cache on line 3 */
	assert_int_equal(zkh_config_load(path, ZKH_CONFIG_MODULE, &cfg, &err), 0);
	assert_string_equal(cfg.cache, "/after");
	/* line numbers stay exact past a skipped long line */
	memcpy(text + o, "\ncache = rel\n", 14);
	write_file(path, text, o + 14);
	assert_int_equal(zkh_config_load(path, ZKH_CONFIG_MODULE, &cfg, &err),
			 -EINVAL);
	assert_int_equal(err.line, 5);
	/* the same through zkh_config_parse */
	zkh_config_defaults(&cfg);
	assert_int_equal(zkh_config_parse(text, o, "t", ZKH_CONFIG_STRICT, &cfg,
					  &err), -EINVAL);
	assert_int_equal(err.line, 2);

	/* lines of length 8191 (fits) and 8192 (does not), many layouts
	 * around the read buffer boundary */
	for (size_t pad = 0; pad < 4; pad++) {
		for (size_t len = 8189; len <= 8193; len++) {
			int want = len <= 8191 ? 0 : -EINVAL;

			o = 0;
			for (size_t k = 0; k < pad; k++)
				text[o++] = '\n';
			o += (size_t)snprintf(text + o, sizeof(text) - o,
					      "cache = /c #");
			size_t fill = len - strlen("cache = /c #");
			memset(text + o, 'c', fill);
			o += fill;
			text[o++] = '\n';
			o += (size_t)snprintf(text + o, sizeof(text) - o,
					      "root = /z\n");
			write_file(path, text, o);
			int rc = zkh_config_load(path, ZKH_CONFIG_STRICT, &cfg,
						 &err);
			if (rc != want)
				fail_msg("pad %zu len %zu: rc %d", pad, len, rc);
			if (want == 0) {
				assert_string_equal(cfg.cache, "/c");
				assert_string_equal(cfg.root, "/z");
			} else {
				assert_int_equal(err.line, pad + 1);
			}
			/* the parse path agrees */
			zkh_config_defaults(&cfg);
			assert_int_equal(zkh_config_parse(text, o, "t",
							  ZKH_CONFIG_STRICT,
							  &cfg, &err), want);
		}
	}
}

/* Many short lines: lines straddle read-buffer boundaries; numbering
 * stays exact. */
static void test_load_line_numbers(void **state)
{
	char path[128];
	static char text[200000];
	size_t o = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/lines.conf", tmpdir);
	for (int i = 0; i < 9999; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o,
				      i % 3 ? "# comment %d\n" : "\n", i);
	o += (size_t)snprintf(text + o, sizeof(text) - o, "nope = 1\n");
	write_file(path, text, o);
	assert_int_equal(zkh_config_load(path, ZKH_CONFIG_STRICT, &cfg, &err),
			 -EINVAL);
	assert_int_equal(err.line, 10000);
	assert_string_equal(err.key, "nope");
}

static void test_config_path(void **state)
{
	(void)state;
	assert_int_equal(unsetenv("ZKHOSTS_CONF"), 0);
	assert_string_equal(zkh_config_path(NULL), ZKH_DEFAULT_CONF);
	assert_int_equal(setenv("ZKHOSTS_CONF", "", 1), 0);
	assert_string_equal(zkh_config_path(NULL), ZKH_DEFAULT_CONF);
	assert_int_equal(setenv("ZKHOSTS_CONF", "/tmp/env.conf", 1), 0);
	assert_string_equal(zkh_config_path(NULL), "/tmp/env.conf");
	/* an explicit path wins over the environment */
	assert_string_equal(zkh_config_path("/x/explicit.conf"),
			    "/x/explicit.conf");
	assert_int_equal(unsetenv("ZKHOSTS_CONF"), 0);
	assert_string_equal(zkh_config_path(NULL), ZKH_DEFAULT_CONF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_register_forms),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_path_lengths),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_module_mode),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_require_zookeeper),
		cmocka_unit_test(test_parse_random),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_load_long_lines),
		cmocka_unit_test(test_load_line_numbers),
		cmocka_unit_test(test_config_path),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}

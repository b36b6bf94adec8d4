/*
 * test_pkg_conffile.c - checks the conffile the zkcached package ships
 * (packaging/zkhosts.conf) against the real config parser: as shipped it
 * parses in STRICT mode and means exactly the built-in defaults; with every
 * commented "#key = value" example line uncommented it still parses, and
 * the examples of keys that have a default show that default; every key
 * the parser knows (its own table, zkh_config_key) is documented in it. Built by packaging/build.mk as
 * build/tests/unit/test_pkg_conffile, so `make check` runs it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zkhosts/config.h"

static char text[65536];
static size_t text_len;

/* Load packaging/zkhosts.conf (under $ZKH_SRC when set) into `text`. */
static int load(void **state)
{
	const char *src = getenv("ZKH_SRC");
	char path[ZKH_PATH_MAX];
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/packaging/zkhosts.conf",
		 src && *src ? src : ".");
	f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	text_len = fread(text, 1, sizeof(text) - 1, f);
	text[text_len] = '\0';
	fclose(f);
	return text_len > 0 && text_len < sizeof(text) - 1 ? 0 : -1;
}

static void parse_ok(const char *t, size_t len, struct zkh_config *c)
{
	struct zkh_config_error err;
	char msg[ZKH_PATH_MAX + 512];

	zkh_config_defaults(c);
	if (zkh_config_parse(t, len, "zkhosts.conf", ZKH_CONFIG_STRICT, c,
			     &err) != 0)
		fail_msg("conffile refused: %s",
			 zkh_config_strerror(&err, msg, sizeof(msg)));
}

static void test_as_shipped_means_defaults(void **state)
{
	struct zkh_config c, d;

	(void)state;
	parse_ok(text, text_len, &c);
	zkh_config_defaults(&d);
	assert_string_equal(c.zookeeper, d.zookeeper);
	assert_string_equal(c.root, d.root);
	assert_string_equal(c.cache, d.cache);
	assert_string_equal(c.domain, d.domain);
	assert_int_equal(c.session_timeout, d.session_timeout);
	assert_string_equal(c.register_name, d.register_name);
	assert_int_equal(c.register_naddrs, d.register_naddrs);
	assert_string_equal(c.auth_file, d.auth_file);
	assert_string_equal(c.metrics_file, d.metrics_file);
	assert_int_equal(c.fsync, d.fsync);
	assert_int_equal(c.publish_delay, d.publish_delay);
	assert_int_equal(c.max_records, d.max_records);
	assert_int_equal(c.log_level, d.log_level);
}

/* Copy `text` with "#key = ..." lines turned into "key = ...". */
static size_t uncomment(char *out, size_t cap)
{
	size_t n = 0, i = 0;

	while (i < text_len && n + 1 < cap) {
		bool bol = i == 0 || text[i - 1] == '\n';

		if (bol && text[i] == '#' && i + 1 < text_len &&
		    text[i + 1] >= 'a' && text[i + 1] <= 'z') {
			i++;
			continue;
		}
		out[n++] = text[i++];
	}
	out[n] = '\0';
	return n;
}

static void test_examples_parse_and_show_defaults(void **state)
{
	static char all[sizeof(text)];
	struct zkh_config c, d;
	size_t len = uncomment(all, sizeof(all));

	(void)state;
	parse_ok(all, len, &c);
	zkh_config_defaults(&d);
	/* Keys with a default must show it, the others hold examples. */
	assert_string_equal(c.root, d.root);
	assert_string_equal(c.cache, d.cache);
	assert_int_equal(c.session_timeout, d.session_timeout);
	assert_int_equal(c.fsync, d.fsync);
	assert_int_equal(c.publish_delay, d.publish_delay);
	assert_int_equal(c.max_records, d.max_records);
	assert_true(c.zookeeper[0] != '\0');
	assert_true(c.register_name[0] != '\0');
}

/* Every key of the parser's own table (zkh_config_key), so a key added
 * to the parser fails here until the conffile documents it. */
static void test_every_key_documented(void **state)
{
	const char *key;
	size_t i;
	char want[64];

	(void)state;
	for (i = 0; (key = zkh_config_key(i)) != NULL; i++) {
		snprintf(want, sizeof(want), "\n#%s = ", key);
		if (strstr(text, want) == NULL)
			fail_msg("key '%s' has no commented default line", key);
	}
	assert_true(i >= 2);	/* the table is there: zookeeper, root, ... */
	assert_string_equal(zkh_config_key(0), "zookeeper");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_as_shipped_means_defaults),
		cmocka_unit_test(test_examples_parse_and_show_defaults),
		cmocka_unit_test(test_every_key_documented),
	};

	return cmocka_run_group_tests(tests, load, NULL);
}

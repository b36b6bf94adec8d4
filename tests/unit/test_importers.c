/*
 * test_importers.c - unit tests of the `zkhostctl import` parsers
 * (tools/zkhostctl/importers.c, tools/zkhostctl/import_json.c on jansson):
 * format detection, merging of lines/aliases/duplicate keys in order of
 * appearance, the 32-address cap across lines, every skip reason with its
 * position (array elements by index), JSON escapes and UTF-8, skipped
 * values of any shape, syntax errors with line:column and jansson's reason
 * (invalid UTF-8 and \u0000 included), CRLF and NUL bytes,
 * case-insensitive lookup.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "zkhosts/names.h"
#include "../../tools/zkhostctl/importers.h"

static char reports[4096];
static unsigned nreports;

static void on_report(void *arg, unsigned line, unsigned col, const char *why)
{
	size_t n = strlen(reports);

	(void)arg;
	snprintf(reports + n, sizeof(reports) - n, "%u:%u %s\n", line, col, why);
	nreports++;
}

static int parse(const char *text, struct imp_set *s, struct imp_error *e,
		 enum imp_format *fmt)
{
	reports[0] = '\0';
	nreports = 0;
	memset(s, 0, sizeof(*s));
	return imp_parse(text, strlen(text), IMP_AUTO, s, on_report, NULL, e,
			 fmt);
}

static const char *addrs_of(const struct imp_set *s, const char *name)
{
	static char buf[2048];
	const struct imp_record *r = imp_find(s, name);
	size_t n = 0;

	buf[0] = '\0';
	if (!r)
		return NULL;
	for (size_t i = 0; i < r->naddrs; i++) {
		char a[64];

		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s",
				      i ? " " : "",
				      zkh_addr_format(&r->addrs[i], a, sizeof(a)));
	}
	return buf;
}

static void hosts_merge_and_skip(void **state)
{
	struct imp_set s;
	struct imp_error e;
	enum imp_format f;

	(void)state;
	assert_int_equal(parse("# c\r\n10.0.0.1 a b\r\n"
			       "fd00::1\ta.\n"
			       "10.0.0.1 A  # dup\n"
			       "bogus x\n"
			       "10.0.0.9\n"
			       "10.0.0.2 ok bad!\n"
			       "fe80::1%eth0 z\n", &s, &e, &f), 0);
	assert_int_equal(f, IMP_HOSTS);
	assert_int_equal(s.n, 3);
	assert_string_equal(addrs_of(&s, "a"), "10.0.0.1 fd00::1");
	assert_string_equal(imp_find(&s, "A")->name, "a");
	assert_string_equal(addrs_of(&s, "b"), "10.0.0.1");
	assert_string_equal(addrs_of(&s, "OK."), "10.0.0.2");
	assert_null(imp_find(&s, "x"));
	assert_int_equal(s.skipped, 4);
	assert_non_null(strstr(reports, "5:0 'bogus' is not an IPv4 or IPv6 address"));
	assert_non_null(strstr(reports, "6:0 address 10.0.0.9 has no host name"));
	assert_non_null(strstr(reports, "7:0 bad host name 'bad!'"));
	assert_non_null(strstr(reports, "8:0 'fe80::1%eth0' is not"));
	imp_set_free(&s);
}

static void cap_across_lines(void **state)
{
	char text[4096] = "";
	struct imp_set s;
	struct imp_error e;

	(void)state;
	for (int i = 0; i < 34; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "10.1.0.%d big\n", i);
	assert_int_equal(parse(text, &s, &e, NULL), 0);
	assert_int_equal(imp_find(&s, "big")->naddrs, ZKH_MAX_ADDRS);
	assert_int_equal(nreports, 2);
	assert_non_null(strstr(reports, "33:0 big: more than 32 addresses, dropped 10.1.0.32"));
	imp_set_free(&s);
}

static void json_shapes(void **state)
{
	struct imp_set s;
	struct imp_error e;
	enum imp_format f;

	(void)state;
	assert_int_equal(parse("  \n{\"a\": \"10.0.0.1, fd00::1\",\n"
			       " \"b\": [\"10.0.0.2\", \"10.0.0.3 10.0.0.2\"],\n"
			       " \"\\u0063\": \"10.0.0.4\",\n"
			       " \"d\": {\"x\": [1, {\"y\": null}], \"z\": true},\n"
			       " \"e\": [],\n"
			       " \"caf\\u00e9\": \"10.0.0.5\",\n"
			       " \"a\": \"10.0.0.6\",\n"
			       " \"f\": [\"10.0.0.7\", 5, \"x 10.0.0.8\"]}\n", &s, &e, &f), 0);
	assert_int_equal(f, IMP_JSON);
	assert_string_equal(addrs_of(&s, "a"), "10.0.0.1 fd00::1 10.0.0.6");
	assert_string_equal(addrs_of(&s, "b"), "10.0.0.2 10.0.0.3");
	assert_string_equal(addrs_of(&s, "c"), "10.0.0.4");
	assert_null(imp_find(&s, "d"));
	assert_null(imp_find(&s, "e"));
	assert_string_equal(addrs_of(&s, "f"), "10.0.0.7 10.0.0.8");
	assert_int_equal(s.n, 4);
	assert_non_null(strstr(reports, "5:7 d: value is not an address string"));
	assert_non_null(strstr(reports, "6:7 e: no valid address"));
	/* "caf\u00e9" decodes to UTF-8 "café": not a host name */
	assert_non_null(strstr(reports, "7:2 bad host name 'caf?" "?'"));
	assert_non_null(strstr(reports, "9:7 f: array element 2 is not a string"));
	assert_non_null(strstr(reports, "9:7 f: 'x' (element 3) is not an IPv4"));
	assert_int_equal(nreports, 5);
	imp_set_free(&s);
}

static void json_errors(void **state)
{
	static const struct {
		const char *text;
		unsigned line, col;
		const char *msg;
	} cases[] = {
		{ "{", 1, 2, "unexpected end of input" },
		{ "{\"a\" \"b\"}", 1, 6, "expected ':'" },
		{ "{\"a\": \"b\",}", 1, 11, "expected a string" },
		{ "{\n\"a\": tru}", 2, 9, "invalid token" },
		{ "{\"a\": \"\\x\"}", 1, 10, "invalid escape" },
		{ "{\"a\": \"\\u12\"}", 1, 13, "invalid escape" },
		{ "{\"a\": 01}", 1, 8, "invalid token" },
		{ "{} {}", 1, 4, "trailing data" },
		{ "{\"a\": \"\n\"}", 1, 8, "unexpected newline" },
		{ "{\"a\": 1.}", 1, 9, "invalid token" },
		{ "{\n \"a\xff\": \"10.0.0.1\"}", 2, 4, "unable to decode byte 0xff" },
		{ "{\"a\": \"\\u0000\"}", 1, 15, "NUL character" },
	};
	struct imp_set s;
	struct imp_error e;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse(cases[i].text, &s, &e, NULL);

		if (rc != -EINVAL || e.line != cases[i].line ||
		    e.col != cases[i].col || !strstr(e.msg, cases[i].msg))
			fail_msg("'%s': rc %d at %u:%u '%s'", cases[i].text, rc,
				 e.line, e.col, e.msg);
		imp_set_free(&s);
	}
}

static void json_deep_nesting_is_bounded(void **state)
{
	static char text[8192] = "{\"a\": ";
	struct imp_set s;
	struct imp_error e;

	(void)state;
	for (int i = 0; i < 5000; i++)	/* jansson stops at 2048 */
		strcat(text, "[");
	assert_int_equal(parse(text, &s, &e, NULL), -EINVAL);
	assert_non_null(strstr(e.msg, "depth"));
	imp_set_free(&s);
}

static void nul_byte(void **state)
{
	static const char text[] = "10.0.0.1 a\n10.0.0.2 b\0c\n";
	struct imp_set s = { 0 };
	struct imp_error e;

	(void)state;
	assert_int_equal(imp_parse(text, sizeof(text) - 1, IMP_AUTO, &s, NULL,
				   NULL, &e, NULL), -EINVAL);
	assert_int_equal(e.line, 2);
	imp_set_free(&s);
}

static void empty_inputs(void **state)
{
	struct imp_set s;
	struct imp_error e;

	(void)state;
	assert_int_equal(parse("", &s, &e, NULL), 0);
	assert_int_equal(s.n, 0);
	assert_null(imp_find(&s, "a"));
	imp_set_free(&s);
	assert_int_equal(parse("{}", &s, &e, NULL), 0);
	assert_int_equal(s.n, 0);
	imp_set_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hosts_merge_and_skip),
		cmocka_unit_test(cap_across_lines),
		cmocka_unit_test(json_shapes),
		cmocka_unit_test(json_errors),
		cmocka_unit_test(json_deep_nesting_is_bounded),
		cmocka_unit_test(nul_byte),
		cmocka_unit_test(empty_inputs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

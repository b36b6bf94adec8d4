/*
 * test_ctl_json.c - unit tests of zkhostctl's JSON strings
 * (tools/zkhostctl/ctl_json.c): well-formed UTF-8 round-trips unchanged
 * ("caché" reads back as "caché", not byte by byte), and any ill-formed
 * byte (stray continuation, truncated sequence, overlong form, surrogate,
 * past U+10FFFF, 0xff) becomes U+FFFD so the document printed is always
 * JSON that jansson itself reads back; ages print as rounded seconds or
 * null.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl.h"

/* Print {"k": ctl_json_str(in)} and read it back with jansson; return the
 * decoded value of "k" (static buffer). */
static const char *round_trip(const char *in)
{
	static char out[256];
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	json_error_t e;
	json_t *doc;

	assert_non_null(f);
	assert_int_equal(ctl_json_print(f, json_pack("{s:o}", "k",
						     ctl_json_str(in))), 0);
	fclose(f);
	doc = json_loads(text, 0, &e);
	if (!doc)
		fail_msg("not JSON: %s: %s", e.text, text);
	snprintf(out, sizeof(out), "%s", json_string_value(json_object_get(doc, "k")));
	json_decref(doc);
	free(text);
	return out;
}

static void valid_utf8_round_trips(void **state)
{
	(void)state;
	assert_string_equal(round_trip("web-1"), "web-1");
	assert_string_equal(round_trip("/var/cache/cach\xc3\xa9"),
			    "/var/cache/cach\xc3\xa9");
	assert_string_equal(round_trip("\xe2\x82\xac \xf0\x9f\x98\x80 \"q\" \\"),
			    "\xe2\x82\xac \xf0\x9f\x98\x80 \"q\" \\");
	assert_string_equal(round_trip("tab\tnl\nctl\x01"), "tab\tnl\nctl\x01");
	assert_string_equal(round_trip(""), "");
}

static void invalid_bytes_become_replacement(void **state)
{
#define R "\xef\xbf\xbd"
	(void)state;
	assert_string_equal(round_trip("a\xff" "b"), "a" R "b");
	assert_string_equal(round_trip("\x80"), R);			/* stray */
	assert_string_equal(round_trip("cach\xc3"), "cach" R);		/* cut */
	assert_string_equal(round_trip("\xc0\xaf"), R R);		/* overlong */
	assert_string_equal(round_trip("\xe0\x80\xaf"), R R R);	/* overlong */
	assert_string_equal(round_trip("\xed\xa0\x80"), R R R);	/* surrogate */
	assert_string_equal(round_trip("\xf4\x90\x80\x80"), R R R R);	/* > 10FFFF */
	assert_string_equal(round_trip("\xe2\x82 x"), R R " x");
	assert_string_equal(round_trip("ok\xc3\xa9\xfe"), "ok\xc3\xa9" R);
#undef R
}

static void seconds(void **state)
{
	json_t *v;

	(void)state;
	v = ctl_json_seconds(-1);
	assert_true(json_is_null(v));
	json_decref(v);
	v = ctl_json_seconds(2.00049);
	assert_true(json_real_value(v) == 2.0);
	json_decref(v);
	v = ctl_json_seconds(1.23449);
	assert_true(json_real_value(v) > 1.2339 && json_real_value(v) < 1.2341);
	json_decref(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_utf8_round_trips),
		cmocka_unit_test(invalid_bytes_become_replacement),
		cmocka_unit_test(seconds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

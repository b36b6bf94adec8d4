/*
 * test_names.c - unit tests for common/core/names.c: host name validity at every
 * boundary (label 63/64, name 253/254, trailing dot, empty labels), case
 * folding, the strict address token parser (IPv4 dotted quads only, IPv6
 * without zone ids, unspecified addresses refused), formatting, and the
 * tolerant address-list parser fed adversarial bytes (NULs, controls,
 * duplicates, over-cap lists, huge tokens).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "zkhosts/names.h"

static bool valid(const char *s)
{
	return zkh_name_valid(s, strlen(s));
}

/* A name of `total` characters made of labels of `label` characters. */
static void make_name(char *out, size_t total, size_t label, char fill)
{
	size_t run = 0;

	for (size_t i = 0; i < total; i++) {
		if (run == label && i + 1 < total) {
			out[i] = '.';
			run = 0;
		} else {
			out[i] = fill;
			run++;
		}
	}
	out[total] = '\0';
}

static void test_name_basic(void **state)
{
	(void)state;
	assert_true(valid("a"));
	assert_true(valid("node-1"));
	assert_true(valid("kafka_broker.example.COM"));
	assert_true(valid("1.2.3.4"));	/* digits-only labels are names too */
	assert_true(valid("a."));
	assert_true(valid("-x_"));
	assert_false(valid(""));
	assert_false(valid("."));
	assert_false(valid(".."));
	assert_false(valid("a.."));
	assert_false(valid("a..b"));
	assert_false(valid(".a"));
	assert_false(valid("a b"));
	assert_false(valid("a/b"));
	assert_false(valid("a*"));
	assert_false(valid("caf\xc3\xa9"));
	assert_false(zkh_name_valid(NULL, 0));
	/* an embedded NUL is a character like any other, and not allowed */
	assert_false(zkh_name_valid("ab\0cd", 5));
	/* the length given is what counts, not a NUL terminator */
	assert_true(zkh_name_valid("abc!!!", 3));
}

static void test_name_label_boundaries(void **state)
{
	char buf[400];

	(void)state;
	make_name(buf, 63, 63, 'a');
	assert_true(valid(buf));
	make_name(buf, 64, 64, 'a');
	assert_false(valid(buf));
	assert_string_equal(zkh_name_problem(buf, 64),
			    "label longer than 63 characters");
	/* 63-character label in the middle of a name */
	snprintf(buf, sizeof(buf), "x.%063d.y", 0);
	assert_true(valid(buf));
	snprintf(buf, sizeof(buf), "x.%064d.y", 0);
	assert_false(valid(buf));
}

static void test_name_length_boundaries(void **state)
{
	char buf[400];

	(void)state;
	make_name(buf, 253, 63, 'b');
	assert_int_equal(strlen(buf), 253);
	assert_true(valid(buf));
	strcat(buf, ".");	/* 253 + trailing dot: still valid */
	assert_true(valid(buf));
	make_name(buf, 254, 63, 'b');
	assert_false(valid(buf));
	assert_string_equal(zkh_name_problem(buf, 254),
			    "longer than 253 characters");
	strcat(buf, ".");
	assert_false(valid(buf));
	/* two trailing dots: only one is dropped */
	make_name(buf, 10, 5, 'c');
	strcat(buf, "..");
	assert_false(valid(buf));
}

static void test_name_problem_phrases(void **state)
{
	(void)state;
	assert_null(zkh_name_problem("ok.name", 7));
	assert_string_equal(zkh_name_problem("", 0), "empty");
	assert_string_equal(zkh_name_problem(".", 1), "empty label");
	assert_string_equal(zkh_name_problem("a..b", 4), "empty label");
	assert_string_equal(zkh_name_problem(".a", 2), "empty label");
	assert_string_equal(zkh_name_problem("a$b", 3),
			    "character not allowed");
}

static void test_name_fold(void **state)
{
	char out[ZKH_NAME_MAX + 1];
	char buf[400];

	(void)state;
	assert_int_equal(zkh_name_fold("Node-1.Example.COM.", 19, out), 18);
	assert_string_equal(out, "node-1.example.com");
	assert_int_equal(zkh_name_fold("ABCXYZ_az09", 11, out), 11);
	assert_string_equal(out, "abcxyz_az09");
	assert_int_equal(zkh_name_fold("a", 1, out), 1);
	assert_string_equal(out, "a");
	assert_int_equal(zkh_name_fold("", 0, out), -EINVAL);
	assert_int_equal(zkh_name_fold(".", 1, out), -EINVAL);
	assert_int_equal(zkh_name_fold("a..", 3, out), -EINVAL);
	assert_int_equal(zkh_name_fold("A\xc4", 2, out), -EINVAL);
	/* longest name with a trailing dot fills the buffer exactly */
	make_name(buf, 253, 63, 'Q');
	strcat(buf, ".");
	assert_int_equal(zkh_name_fold(buf, 254, out), 253);
	assert_int_equal(strlen(out), 253);
	assert_int_equal(out[0], 'q');
	/* every byte: only ASCII uppercase letters change */
	for (int c = 1; c < 256; c++) {
		char in[1] = { (char)c };
		int r = zkh_name_fold(in, 1, out);

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_') {
			assert_int_equal(r, 1);
			assert_int_equal(out[0], c);
		} else if (c >= 'A' && c <= 'Z') {
			assert_int_equal(r, 1);
			assert_int_equal(out[0], c + 32);
		} else {
			assert_int_equal(r, -EINVAL);
		}
	}
}

/* ---- addresses ---------------------------------------------------- */

static int parse(const char *s, struct zkh_addr *a)
{
	return zkh_addr_parse(s, strlen(s), a);
}

static void expect_v4(const char *s, uint8_t b0, uint8_t b1, uint8_t b2,
		      uint8_t b3)
{
	struct zkh_addr a;
	uint8_t want[4] = { b0, b1, b2, b3 };

	assert_int_equal(parse(s, &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_memory_equal(a.bytes, want, 4);
}

static void expect_v6(const char *s, const char *canonical)
{
	struct zkh_addr a;
	uint8_t want[16];
	char out[64];

	assert_int_equal(inet_pton(AF_INET6, canonical, want), 1);
	assert_int_equal(parse(s, &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_memory_equal(a.bytes, want, 16);
	assert_string_equal(zkh_addr_format(&a, out, sizeof(out)), canonical);
}

static void expect_bad(const char *s)
{
	struct zkh_addr a;

	memset(&a, 0x5a, sizeof(a));
	if (parse(s, &a) != -EINVAL)
		fail_msg("accepted bad address token '%s'", s);
	assert_int_equal(a.family, 0x5a5a5a5a);	/* untouched on error */
}

static void test_addr_v4(void **state)
{
	(void)state;
	expect_v4("10.0.0.5", 10, 0, 0, 5);
	expect_v4("255.255.255.255", 255, 255, 255, 255);
	expect_v4("127.0.0.1", 127, 0, 0, 1);
	expect_v4("224.0.0.1", 224, 0, 0, 1);	/* multicast is accepted */
	expect_v4("0.0.0.1", 0, 0, 0, 1);
	expect_bad("0.0.0.0");	/* unspecified: no host */
	expect_bad("1.2.3");
	expect_bad("1.2.3.4.5");
	expect_bad("256.1.1.1");
	expect_bad("1.2.3.256");
	expect_bad("1.2.3.-1");
	expect_bad("0x1.2.3.4");
	expect_bad("0x01020304");
	expect_bad("16909060");
	expect_bad("01.2.3.4");	/* no leading zeros (octal ambiguity) */
	expect_bad("1.2.3.4.");
	expect_bad(".1.2.3.4");
	expect_bad("1..2.3");
	expect_bad("1.2.3.4 ");
	expect_bad(" 1.2.3.4");
	expect_bad("1.2.3.4/24");
	expect_bad("1.2.3.4:80");	/* has a colon: v6 parse, fails */
	expect_bad("a.b.c.d");
	expect_bad("");
	expect_bad("1.2.3.04");
	expect_bad("1111.2.3.4");
}

static void test_addr_v6(void **state)
{
	(void)state;
	expect_v6("::1", "::1");
	expect_v6("fd00::5", "fd00::5");
	expect_v6("FD00::5", "fd00::5");
	expect_v6("::ffff:1.2.3.4", "::ffff:1.2.3.4");
	expect_v6("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1");
	expect_v6("2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:6");
	expect_v6("fe80::1", "fe80::1");
	expect_v6("ff02::1", "ff02::1");
	/* exactly 45 characters, the longest inet_pton form */
	expect_v6("0000:0000:0000:0000:0000:ffff:255.255.255.255",
		  "::ffff:255.255.255.255");
	expect_bad("::");	/* unspecified */
	expect_bad("0:0:0:0:0:0:0:0");
	expect_bad("fe80::1%eth0");
	expect_bad("fe80::1%1");
	expect_bad("[::1]");
	expect_bad(":::1");
	expect_bad("1:2:3:4:5:6:7:8:9");
	expect_bad("12345::1");
	expect_bad("g::1");
	expect_bad("::1/128");
	expect_bad("::ffff:1.2.3");
	/* 46 characters: longer than any valid form */
	expect_bad("0000:0000:0000:0000:0000:ffff:255.255.255.2555");
	expect_bad("00000:0000:0000:0000:0000:ffff:255.255.255.255");
}

static void test_addr_odd_bytes(void **state)
{
	struct zkh_addr a;
	char big[1000];

	(void)state;
	/* embedded NUL: "1.2.3.4\0junk" must not parse as 1.2.3.4 */
	assert_int_equal(zkh_addr_parse("1.2.3.4\0junk", 12, &a), -EINVAL);
	assert_int_equal(zkh_addr_parse("::1\0", 4, &a), -EINVAL);
	/* length is honoured: a prefix of a longer buffer */
	assert_int_equal(zkh_addr_parse("10.1.2.3999", 8, &a), 0);
	assert_int_equal(a.bytes[3], 3);
	memset(big, '1', sizeof(big));
	assert_int_equal(zkh_addr_parse(big, sizeof(big), &a), -EINVAL);
	memset(big, ':', sizeof(big));
	assert_int_equal(zkh_addr_parse(big, sizeof(big), &a), -EINVAL);
	assert_int_equal(zkh_addr_parse(NULL, 3, &a), -EINVAL);
	assert_int_equal(zkh_addr_parse("1.2.3.4", 7, NULL), -EINVAL);
	/* high bytes */
	assert_int_equal(zkh_addr_parse("1.2.3.\xb4", 7, &a), -EINVAL);
}

static void test_addr_format(void **state)
{
	struct zkh_addr a;
	char out[46];
	char tiny[4];

	(void)state;
	assert_int_equal(parse("192.168.1.20", &a), 0);
	assert_string_equal(zkh_addr_format(&a, out, sizeof(out)),
			    "192.168.1.20");
	assert_int_equal(parse("fd00:0:0:0:0:0:0:5", &a), 0);
	assert_string_equal(zkh_addr_format(&a, out, sizeof(out)), "fd00::5");
	/* a buffer too small gives an empty string, never an overflow */
	assert_ptr_equal(zkh_addr_format(&a, tiny, sizeof(tiny)), tiny);
	assert_string_equal(tiny, "");
	a.family = 12345;
	assert_string_equal(zkh_addr_format(&a, out, sizeof(out)), "");
}

/* ---- address lists ------------------------------------------------- */

static void test_list_basic(void **state)
{
	struct zkh_addr out[8];
	struct zkh_addrlist_report rep;
	const char *s = "10.0.0.5, fd00::5";
	char txt[64];

	(void)state;
	assert_int_equal(zkh_addrlist_parse(s, strlen(s), out, 8, &rep), 2);
	assert_string_equal(zkh_addr_format(&out[0], txt, sizeof(txt)),
			    "10.0.0.5");
	assert_string_equal(zkh_addr_format(&out[1], txt, sizeof(txt)),
			    "fd00::5");
	assert_int_equal(rep.invalid, 0);
	assert_int_equal(rep.duplicates, 0);
	assert_int_equal(rep.over_cap, 0);
	assert_int_equal(rep.nul_bytes, 0);
	assert_string_equal(rep.first_invalid, "");

	s = " \t\r\n,,10.0.0.1\n10.0.0.2,,,\v\f10.0.0.3 ,";
	assert_int_equal(zkh_addrlist_parse(s, strlen(s), out, 8, &rep), 3);
	assert_int_equal(out[2].bytes[3], 3);
	assert_int_equal(rep.invalid + rep.nul_bytes, 0);

	/* empty and separator-only data: nothing, no complaint */
	assert_int_equal(zkh_addrlist_parse("", 0, out, 8, &rep), 0);
	assert_int_equal(zkh_addrlist_parse(" , ,\n", 5, out, 8, &rep), 0);
	assert_int_equal(rep.invalid, 0);
	/* NULL report is allowed */
	assert_int_equal(zkh_addrlist_parse("1.1.1.1", 7, out, 8, NULL), 1);
}

static void test_list_invalid_and_dups(void **state)
{
	struct zkh_addr out[8];
	struct zkh_addrlist_report rep;
	const char *s = "bogus 10.0.0.1 10.0.0.1 ::1 0:0::1 1.2.3 10.0.0.1 "
			"0.0.0.0 fe80::1%eth0";

	(void)state;
	assert_int_equal(zkh_addrlist_parse(s, strlen(s), out, 8, &rep), 2);
	assert_int_equal(out[0].family, AF_INET);
	assert_int_equal(out[1].family, AF_INET6);
	assert_int_equal(rep.duplicates, 3);	/* 10.0.0.1 twice, ::1 once */
	assert_int_equal(rep.invalid, 4);
	assert_string_equal(rep.first_invalid, "bogus");
}

static void test_list_cap(void **state)
{
	struct zkh_addr out[ZKH_MAX_ADDRS];
	struct zkh_addrlist_report rep;
	char buf[4096];
	size_t o = 0;

	(void)state;
	for (int i = 1; i <= 40; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "10.0.0.%d ", i);
	/* a duplicate of a kept one past the cap is still a duplicate */
	o += (size_t)snprintf(buf + o, sizeof(buf) - o, "10.0.0.1");
	assert_int_equal(zkh_addrlist_parse(buf, o, out, ZKH_MAX_ADDRS, &rep),
			 ZKH_MAX_ADDRS);
	assert_int_equal(rep.over_cap, 8);
	assert_int_equal(rep.duplicates, 1);
	for (int i = 0; i < ZKH_MAX_ADDRS; i++)
		assert_int_equal(out[i].bytes[3], i + 1);
	/* cap 0 or NULL output: nothing kept, everything over cap */
	assert_int_equal(zkh_addrlist_parse("1.1.1.1 2.2.2.2", 15, NULL, 4,
					    &rep), 0);
	assert_int_equal(rep.over_cap, 2);
}

static void test_list_controls(void **state)
{
	struct zkh_addr out[8];
	struct zkh_addrlist_report rep;
	static const char s[] = "10.0.0.1\0""10.0.0.2\x01\x7f""10.0.0.3\x1b";

	(void)state;
	assert_int_equal(zkh_addrlist_parse(s, sizeof(s) - 1, out, 8, &rep), 3);
	assert_int_equal(rep.nul_bytes, 4);
	assert_int_equal(rep.invalid, 0);
	/* data that is all NULs */
	char zeros[300] = { 0 };
	assert_int_equal(zkh_addrlist_parse(zeros, sizeof(zeros), out, 8,
					    &rep), 0);
	assert_int_equal(rep.nul_bytes, 300);
}

static void test_list_first_invalid_rendering(void **state)
{
	struct zkh_addr out[4];
	struct zkh_addrlist_report rep;
	char big[1000];

	(void)state;
	/* non-printables are \xHH */
	assert_int_equal(zkh_addrlist_parse("caf\xc3\xa9 1.2.3.4", 14, out, 4,
					    &rep), 1);
	assert_int_equal(rep.invalid, 1);
	assert_string_equal(rep.first_invalid, "caf\\xc3\\xa9");
	/* only the first bad token is shown */
	assert_int_equal(zkh_addrlist_parse("x y z", 5, out, 4, &rep), 0);
	assert_int_equal(rep.invalid, 3);
	assert_string_equal(rep.first_invalid, "x");

	/* a 1000-byte token: truncated with "..." */
	memset(big, 'A', sizeof(big));
	assert_int_equal(zkh_addrlist_parse(big, sizeof(big), out, 4, &rep),
			 0);
	assert_int_equal(rep.invalid, 1);
	assert_int_equal(strlen(rep.first_invalid),
			 sizeof(rep.first_invalid) - 1);
	assert_memory_equal(rep.first_invalid + sizeof(rep.first_invalid) - 4,
			    "...", 3);

	/* every token length and mix of escapes fits, never overflows */
	for (size_t n = 1; n < 80; n++) {
		for (size_t k = 0; k < n; k++)
			big[k] = (k % 3 == 0) ? (char)0xff : 'z';
		zkh_addrlist_parse(big, n, out, 4, &rep);
		assert_int_equal(rep.invalid, 1);
		size_t l = strlen(rep.first_invalid);
		assert_true(l < sizeof(rep.first_invalid));
		/* full rendering: 4 per escape, 1 per letter */
		size_t full = 0;
		for (size_t k = 0; k < n; k++)
			full += (k % 3 == 0) ? 4 : 1;
		if (full < sizeof(rep.first_invalid))
			assert_int_equal(l, full);
		else
			assert_string_equal(rep.first_invalid + l - 3, "...");
	}
	/* exactly fitting: 47 printable characters, no "..." */
	memset(big, 'B', 47);
	zkh_addrlist_parse(big, 47, out, 4, &rep);
	assert_int_equal(strlen(rep.first_invalid), 47);
	assert_int_equal(rep.first_invalid[46], 'B');
	zkh_addrlist_parse(big, 48, out, 4, &rep);
	assert_int_equal(strlen(rep.first_invalid), 47);
	assert_string_equal(rep.first_invalid + 44, "...");
}

static void test_list_every_byte(void **state)
{
	struct zkh_addr out[4];
	struct zkh_addrlist_report rep;

	(void)state;
	/* "1.2.3.4" X "5.6.7.8" for every byte X: separator or token glue */
	for (int c = 0; c < 256; c++) {
		char s[15];
		size_t n;

		memcpy(s, "1.2.3.4", 7);
		s[7] = (char)c;
		memcpy(s + 8, "5.6.7.8", 7);
		n = zkh_addrlist_parse(s, 15, out, 4, &rep);
		if (c == ',' || c == ' ' || (c >= '\t' && c <= '\r')) {
			assert_int_equal(n, 2);
			assert_int_equal(rep.nul_bytes, 0);
		} else if (c < 0x20 || c == 0x7f) {
			assert_int_equal(n, 2);
			assert_int_equal(rep.nul_bytes, 1);
		} else if (c >= '0' && c <= '9') {
			/* "1.2.3.405.6.7.8" is one bad token */
			assert_int_equal(n, 0);
			assert_int_equal(rep.invalid, 1);
		} else {
			assert_int_equal(n, 0);
			assert_int_equal(rep.invalid, 1);
		}
	}
}

/* Random lists over an address-heavy alphabet: every kept address is
 * distinct and survives format/parse; counters and the rendering stay
 * within bounds (ASan/UBSan catch any stray access). */
static void test_list_random(void **state)
{
	static const char alpha[] = "0123456789abcdefABCDEF:.,% \t\n\0x\xff";
	unsigned seed = 4242;

	(void)state;
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = (size_t)(rand_r(&seed) % 200), kept;
		char *data = malloc(len ? len : 1);
		struct zkh_addr out[4];
		struct zkh_addrlist_report rep;

		assert_non_null(data);
		for (size_t i = 0; i < len; i++)
			data[i] = alpha[rand_r(&seed) % (sizeof(alpha) - 1)];
		kept = zkh_addrlist_parse(data, len, out, 4, &rep);
		assert_true(kept <= 4);
		assert_true(strlen(rep.first_invalid) <
			    sizeof(rep.first_invalid));
		assert_true((rep.invalid == 0) == (rep.first_invalid[0] == 0));
		assert_true(rep.nul_bytes <= len);
		for (size_t i = 0; i < kept; i++) {
			char txt[46];
			struct zkh_addr back;

			zkh_addr_format(&out[i], txt, sizeof(txt));
			assert_int_equal(zkh_addr_parse(txt, strlen(txt), &back),
					 0);
			assert_memory_equal(&back, &out[i], sizeof(back));
			for (size_t j = 0; j < i; j++)
				assert_false(out[j].family == out[i].family &&
					     memcmp(out[j].bytes, out[i].bytes,
						    16) == 0);
		}
		free(data);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_basic),
		cmocka_unit_test(test_name_label_boundaries),
		cmocka_unit_test(test_name_length_boundaries),
		cmocka_unit_test(test_name_problem_phrases),
		cmocka_unit_test(test_name_fold),
		cmocka_unit_test(test_addr_v4),
		cmocka_unit_test(test_addr_v6),
		cmocka_unit_test(test_addr_odd_bytes),
		cmocka_unit_test(test_addr_format),
		cmocka_unit_test(test_list_basic),
		cmocka_unit_test(test_list_invalid_and_dups),
		cmocka_unit_test(test_list_cap),
		cmocka_unit_test(test_list_controls),
		cmocka_unit_test(test_list_first_invalid_rendering),
		cmocka_unit_test(test_list_every_byte),
		cmocka_unit_test(test_list_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_record.c - unit tests for the snapshot value codec (common/core/record.c):
 * round trips of meta, records, reverse keys and values; exact byte layout
 * (little-endian fields, big-endian czxid prefix); and adversarial decoding:
 * every truncation and extension rejected, every single-byte corruption
 * either rejected or decoded into something that still satisfies every
 * documented invariant (run under ASan/UBSan to catch any stray read),
 * unaligned buffers.
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
#include "zkhosts/snapshot.h"

static struct zkh_addr A(const char *s)
{
	struct zkh_addr a;

	if (zkh_addr_parse(s, strlen(s), &a) != 0)
		fail_msg("test address '%s' does not parse", s);
	return a;
}

static struct zkh_meta sample_meta(const char *domain)
{
	struct zkh_meta m;

	memset(&m, 0, sizeof(m));
	m.schema = ZKH_SCHEMA_VERSION;
	m.flags = ZKH_META_SYNCED | ZKH_META_CONNECTED;
	m.generation = 0x0102030405060708ull;
	m.publish_time_us = 1700000000123456ull;
	m.last_sync_us = 1700000000000001ull;
	m.record_count = 100000;
	m.ttl = 60;
	m.domain_len = strlen(domain);
	memcpy(m.domain, domain, m.domain_len + 1);
	return m;
}

static void test_addr_len(void **state)
{
	(void)state;
	assert_int_equal(zkh_addr_len(AF_INET), 4);
	assert_int_equal(zkh_addr_len(AF_INET6), 16);
	assert_int_equal(zkh_addr_len(0), 0);
	assert_int_equal(zkh_addr_len(AF_UNIX), 0);
	assert_int_equal(zkh_addr_len(-1), 0);
}

/* ---- meta ----------------------------------------------------------- */

static void test_meta_layout(void **state)
{
	struct zkh_meta m = sample_meta("example.com");
	uint8_t buf[ZKH_META_MAX];
	int n;

	(void)state;
	n = zkh_meta_encode(&m, buf, sizeof(buf));
	assert_int_equal(n, ZKH_META_FIXED + 11);
	assert_memory_equal(buf, "ZKHM", 4);
	assert_memory_equal(buf + 4, "\x01\0\0\0", 4);	/* schema LE */
	assert_memory_equal(buf + 8, "\x03\0\0\0", 4);	/* flags */
	assert_memory_equal(buf + 12, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
	assert_memory_equal(buf + 44, "\x3c\0\0\0", 4);	/* ttl 60 */
	assert_memory_equal(buf + 48, "\x0b\0", 2);	/* domain_len 11 */
	assert_memory_equal(buf + 50, "example.com", 11);
}

static void test_meta_roundtrip(void **state)
{
	const char *domains[] = { "", "a", "example.com", "x-y_z.corp" };
	uint8_t raw[ZKH_META_MAX + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(domains) / sizeof(domains[0]); i++) {
		struct zkh_meta m = sample_meta(domains[i]), d;
		int n = zkh_meta_encode(&m, raw + 1, ZKH_META_MAX);

		assert_true(n >= ZKH_META_FIXED);
		/* decode from an odd (unaligned) address */
		memset(&d, 0xee, sizeof(d));
		assert_int_equal(zkh_meta_decode(raw + 1, (size_t)n, &d), 0);
		assert_int_equal(d.schema, m.schema);
		assert_int_equal(d.flags, m.flags);
		assert_true(d.generation == m.generation);
		assert_true(d.publish_time_us == m.publish_time_us);
		assert_true(d.last_sync_us == m.last_sync_us);
		assert_true(d.record_count == m.record_count);
		assert_int_equal(d.ttl, m.ttl);
		assert_int_equal(d.domain_len, m.domain_len);
		assert_string_equal(d.domain, m.domain);
	}
}

static void test_meta_longest_domain(void **state)
{
	struct zkh_meta m, d;
	uint8_t buf[ZKH_META_MAX];
	char dom[ZKH_DOMAIN_MAX + 1];

	(void)state;
	/* 253 characters: labels of 63 */
	for (size_t i = 0; i < ZKH_DOMAIN_MAX; i++)
		dom[i] = (i % 64 == 63) ? '.' : 'd';
	dom[ZKH_DOMAIN_MAX] = '\0';
	m = sample_meta(dom);
	assert_int_equal(zkh_meta_encode(&m, buf, sizeof(buf)), ZKH_META_MAX);
	assert_int_equal(zkh_meta_decode(buf, ZKH_META_MAX, &d), 0);
	assert_int_equal(d.domain_len, ZKH_DOMAIN_MAX);
	assert_string_equal(d.domain, dom);
	/* capacity one short */
	assert_int_equal(zkh_meta_encode(&m, buf, ZKH_META_MAX - 1), -ENOSPC);
	m.domain_len = ZKH_DOMAIN_MAX + 1;
	assert_int_equal(zkh_meta_encode(&m, buf, sizeof(buf)), -EINVAL);
}

static void test_meta_encode_rejects(void **state)
{
	uint8_t buf[ZKH_META_MAX];
	const char *bad[] = { "Example.com", "example.com.", "a..b", ".",
			      "bad domain" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct zkh_meta m = sample_meta(bad[i]);

		assert_int_equal(zkh_meta_encode(&m, buf, sizeof(buf)),
				 -EINVAL);
	}
	struct zkh_meta m = sample_meta("");
	assert_int_equal(zkh_meta_encode(&m, buf, ZKH_META_FIXED - 1),
			 -ENOSPC);
	assert_int_equal(zkh_meta_encode(&m, NULL, 100), -ENOSPC);
	assert_int_equal(zkh_meta_encode(NULL, buf, sizeof(buf)), -EINVAL);
}

static void test_meta_decode_rejects(void **state)
{
	struct zkh_meta m = sample_meta("example.com"), d;
	uint8_t buf[ZKH_META_MAX + 8], bad[ZKH_META_MAX + 8];
	int n;

	(void)state;
	n = zkh_meta_encode(&m, buf, sizeof(buf));
	assert_true(n > 0);
	/* every truncation, and every extension */
	for (int len = 0; len < n; len++)
		assert_int_equal(zkh_meta_decode(buf, (size_t)len, &d),
				 -EINVAL);
	for (int len = n + 1; len <= n + 8; len++)
		assert_int_equal(zkh_meta_decode(buf, (size_t)len, &d),
				 -EINVAL);
	/* magic */
	memcpy(bad, buf, (size_t)n);
	bad[3] = 'm';
	assert_int_equal(zkh_meta_decode(bad, (size_t)n, &d), -EINVAL);
	/* schema: other versions refused */
	m.schema = ZKH_SCHEMA_VERSION + 1;
	assert_int_equal(zkh_meta_encode(&m, bad, sizeof(bad)), n);
	assert_int_equal(zkh_meta_decode(bad, (size_t)n, &d), -EINVAL);
	m.schema = 0;
	assert_int_equal(zkh_meta_encode(&m, bad, sizeof(bad)), n);
	assert_int_equal(zkh_meta_decode(bad, (size_t)n, &d), -EINVAL);
	/* domain: uppercase, trailing dot, bad character */
	memcpy(bad, buf, (size_t)n);
	bad[50] = 'E';
	assert_int_equal(zkh_meta_decode(bad, (size_t)n, &d), -EINVAL);
	memcpy(bad, buf, (size_t)n);
	bad[n - 1] = '.';
	assert_int_equal(zkh_meta_decode(bad, (size_t)n, &d), -EINVAL);
	memcpy(bad, buf, (size_t)n);
	bad[55] = '\0';
	assert_int_equal(zkh_meta_decode(bad, (size_t)n, &d), -EINVAL);
	/* domain_len lying in either direction */
	memcpy(bad, buf, (size_t)n);
	bad[48] = 10;
	assert_int_equal(zkh_meta_decode(bad, (size_t)n, &d), -EINVAL);
	bad[48] = 12;
	assert_int_equal(zkh_meta_decode(bad, (size_t)n, &d), -EINVAL);
	bad[48] = 11;
	bad[49] = 1;
	assert_int_equal(zkh_meta_decode(bad, (size_t)n, &d), -EINVAL);
	assert_int_equal(zkh_meta_decode(NULL, (size_t)n, &d), -EINVAL);
}

static void test_meta_corruption(void **state)
{
	struct zkh_meta m = sample_meta("ex.com"), d;
	uint8_t buf[ZKH_META_MAX], bad[ZKH_META_MAX];
	int n;

	(void)state;
	n = zkh_meta_encode(&m, buf, sizeof(buf));
	for (int pos = 0; pos < n; pos++) {
		for (int v = 0; v < 256; v++) {
			memcpy(bad, buf, (size_t)n);
			bad[pos] = (uint8_t)v;
			if (zkh_meta_decode(bad, (size_t)n, &d) != 0)
				continue;
			assert_int_equal(d.schema, ZKH_SCHEMA_VERSION);
			assert_int_equal(d.domain_len, 6);
			assert_int_equal(strlen(d.domain), 6);
			assert_true(zkh_name_valid(d.domain, 6));
			if (pos < 8 || (pos >= 48 && pos < 50))
				assert_int_equal(v, buf[pos]);
		}
	}
}

/* ---- records -------------------------------------------------------- */

static void test_rec_roundtrip(void **state)
{
	struct zkh_addr addrs[4] = { A("fd00::5"), A("10.0.0.5"), A("::1"),
				     A("10.0.0.6") };
	uint8_t raw[ZKH_REC_MAX + 1];
	uint8_t *buf = raw + 1;	/* unaligned on purpose */
	struct zkh_rec_view v;
	int n;

	(void)state;
	n = zkh_rec_encode("Node-1.Example", 14, 0x1122334455667788ull,
			   addrs, 4, buf, ZKH_REC_MAX);
	assert_int_equal(n, ZKH_REC_FIXED + 14 + 2 * 4 + 2 * 16);
	/* header bytes */
	assert_int_equal(buf[0], ZKH_REC_VERSION);
	assert_int_equal(buf[1], 2);
	assert_int_equal(buf[2], 2);
	assert_int_equal(buf[3], 14);
	assert_memory_equal(buf + 4, "\x88\x77\x66\x55\x44\x33\x22\x11", 8);
	assert_int_equal(zkh_rec_decode(buf, (size_t)n, "node-1.example", 14,
					&v), 0);
	assert_true(v.czxid == 0x1122334455667788ull);
	assert_int_equal(v.name_len, 14);
	assert_memory_equal(v.name, "Node-1.Example", 14);
	assert_int_equal(v.n4, 2);
	assert_int_equal(v.n6, 2);
	/* v4 first, each family keeps its order */
	assert_memory_equal(v.v4, addrs[1].bytes, 4);
	assert_memory_equal(v.v4 + 4, addrs[3].bytes, 4);
	assert_memory_equal(v.v6, addrs[0].bytes, 16);
	assert_memory_equal(v.v6 + 16, addrs[2].bytes, 16);
	assert_ptr_equal(v.v6 + 32, buf + n);
	/* the key must be the exact folded name */
	assert_int_equal(zkh_rec_decode(buf, (size_t)n, "Node-1.Example", 14,
					&v), -EINVAL);
	assert_int_equal(zkh_rec_decode(buf, (size_t)n, "node-1.exampl", 13,
					&v), -EINVAL);
	assert_int_equal(zkh_rec_decode(buf, (size_t)n, "node-1.example.",
					15, &v), -EINVAL);
	assert_int_equal(zkh_rec_decode(buf, (size_t)n, "node-2.example", 14,
					&v), -EINVAL);
}

static void test_rec_single_family(void **state)
{
	struct zkh_addr a4 = A("192.0.2.1"), a6 = A("2001:db8::1");
	uint8_t buf[ZKH_REC_MAX];
	struct zkh_rec_view v;
	int n;

	(void)state;
	n = zkh_rec_encode("h", 1, 0, &a4, 1, buf, sizeof(buf));
	assert_int_equal(n, ZKH_REC_FIXED + 1 + 4);
	assert_int_equal(zkh_rec_decode(buf, (size_t)n, "h", 1, &v), 0);
	assert_int_equal(v.n4, 1);
	assert_int_equal(v.n6, 0);
	assert_true(v.czxid == 0);
	n = zkh_rec_encode("h", 1, UINT64_MAX, &a6, 1, buf, sizeof(buf));
	assert_int_equal(n, ZKH_REC_FIXED + 1 + 16);
	assert_int_equal(zkh_rec_decode(buf, (size_t)n, "h", 1, &v), 0);
	assert_int_equal(v.n4, 0);
	assert_int_equal(v.n6, 1);
	assert_true(v.czxid == UINT64_MAX);
	assert_memory_equal(v.v6, a6.bytes, 16);
}

static void test_rec_trailing_dot_dropped(void **state)
{
	struct zkh_addr a = A("10.1.1.1");
	uint8_t buf[ZKH_REC_MAX];
	struct zkh_rec_view v;
	int n;

	(void)state;
	n = zkh_rec_encode("Web.", 4, 7, &a, 1, buf, sizeof(buf));
	assert_int_equal(n, ZKH_REC_FIXED + 3 + 4);
	assert_int_equal(zkh_rec_decode(buf, (size_t)n, "web", 3, &v), 0);
	assert_int_equal(v.name_len, 3);
	assert_memory_equal(v.name, "Web", 3);
}

static void test_rec_largest(void **state)
{
	struct zkh_addr addrs[ZKH_MAX_ADDRS];
	char name[ZKH_NAME_MAX + 2], key[ZKH_NAME_MAX + 1];
	uint8_t buf[ZKH_REC_MAX];
	struct zkh_rec_view v;
	int n;

	(void)state;
	for (size_t i = 0; i < ZKH_NAME_MAX; i++)
		name[i] = (i % 64 == 63) ? '.' : (i % 2 ? 'X' : 'y');
	name[ZKH_NAME_MAX] = '.';	/* 254 bytes with the trailing dot */
	name[ZKH_NAME_MAX + 1] = '\0';
	assert_int_equal(zkh_name_fold(name, ZKH_NAME_MAX + 1, key),
			 ZKH_NAME_MAX);
	for (int i = 0; i < ZKH_MAX_ADDRS; i++) {
		memset(&addrs[i], 0, sizeof(addrs[i]));
		addrs[i].family = AF_INET6;
		addrs[i].bytes[0] = 0xfd;
		addrs[i].bytes[15] = (uint8_t)(i + 1);
	}
	n = zkh_rec_encode(name, ZKH_NAME_MAX + 1, 42, addrs, ZKH_MAX_ADDRS,
			   buf, sizeof(buf));
	assert_int_equal(n, ZKH_REC_MAX);
	assert_int_equal(zkh_rec_decode(buf, (size_t)n, key, ZKH_NAME_MAX,
					&v), 0);
	assert_int_equal(v.n6, ZKH_MAX_ADDRS);
	assert_int_equal(v.v6[16 * 31 + 15], 32);
	assert_int_equal(zkh_rec_encode(name, ZKH_NAME_MAX + 1, 42, addrs,
					ZKH_MAX_ADDRS, buf, sizeof(buf) - 1),
			 -ENOSPC);
}

static void test_rec_encode_rejects(void **state)
{
	struct zkh_addr addrs[ZKH_MAX_ADDRS + 1];
	uint8_t buf[ZKH_REC_MAX + 64];

	(void)state;
	for (int i = 0; i <= ZKH_MAX_ADDRS; i++) {
		memset(&addrs[i], 0, sizeof(addrs[i]));
		addrs[i].family = AF_INET;
		addrs[i].bytes[0] = 10;
		addrs[i].bytes[3] = (uint8_t)(i + 1);
	}
	assert_int_equal(zkh_rec_encode("a", 1, 1, addrs, ZKH_MAX_ADDRS, buf,
					sizeof(buf)),
			 ZKH_REC_FIXED + 1 + 4 * ZKH_MAX_ADDRS);
	assert_int_equal(zkh_rec_encode("a", 1, 1, addrs, ZKH_MAX_ADDRS + 1,
					buf, sizeof(buf)), -EINVAL);
	assert_int_equal(zkh_rec_encode("a", 1, 1, addrs, 0, buf,
					sizeof(buf)), -EINVAL);
	assert_int_equal(zkh_rec_encode("a", 1, 1, NULL, 1, buf,
					sizeof(buf)), -EINVAL);
	assert_int_equal(zkh_rec_encode("a..b", 4, 1, addrs, 1, buf,
					sizeof(buf)), -EINVAL);
	assert_int_equal(zkh_rec_encode("", 0, 1, addrs, 1, buf,
					sizeof(buf)), -EINVAL);
	assert_int_equal(zkh_rec_encode(".", 1, 1, addrs, 1, buf,
					sizeof(buf)), -EINVAL);
	assert_int_equal(zkh_rec_encode(NULL, 1, 1, addrs, 1, buf,
					sizeof(buf)), -EINVAL);
	/* duplicate address */
	addrs[1] = addrs[0];
	assert_int_equal(zkh_rec_encode("a", 1, 1, addrs, 2, buf,
					sizeof(buf)), -EINVAL);
	/* same bytes, other family is not a duplicate */
	addrs[1].family = AF_INET6;
	assert_true(zkh_rec_encode("a", 1, 1, addrs, 2, buf, sizeof(buf)) > 0);
	/* unknown family */
	addrs[1].family = AF_UNIX;
	assert_int_equal(zkh_rec_encode("a", 1, 1, addrs, 2, buf,
					sizeof(buf)), -EINVAL);
	/* capacity: exact fits, one less does not */
	assert_int_equal(zkh_rec_encode("ab", 2, 1, addrs, 1, buf, 18), 18);
	assert_int_equal(zkh_rec_encode("ab", 2, 1, addrs, 1, buf, 17),
			 -ENOSPC);
}

static void test_rec_truncation(void **state)
{
	struct zkh_addr addrs[3] = { A("10.0.0.1"), A("fd00::1"),
				     A("10.0.0.2") };
	uint8_t buf[ZKH_REC_MAX + 32];
	struct zkh_rec_view v;
	int n;

	(void)state;
	n = zkh_rec_encode("Host.Dom", 8, 99, addrs, 3, buf, ZKH_REC_MAX);
	assert_true(n > 0);
	memset(buf + n, 0, 32);
	for (int len = 0; len < n; len++)
		assert_int_equal(zkh_rec_decode(buf, (size_t)len, "host.dom", 8,
						&v), -EINVAL);
	for (int len = n + 1; len < n + 32; len++)
		assert_int_equal(zkh_rec_decode(buf, (size_t)len, "host.dom", 8,
						&v), -EINVAL);
	assert_int_equal(zkh_rec_decode(buf, (size_t)n, "host.dom", 8, &v), 0);
}

static void test_rec_header_fields(void **state)
{
	struct zkh_addr a = A("10.0.0.1");
	uint8_t buf[ZKH_REC_MAX], bad[ZKH_REC_MAX];
	struct zkh_rec_view v;
	int n;

	(void)state;
	n = zkh_rec_encode("abc", 3, 5, &a, 1, buf, sizeof(buf));
	memcpy(bad, buf, (size_t)n);
	bad[0] = 2;	/* version */
	assert_int_equal(zkh_rec_decode(bad, (size_t)n, "abc", 3, &v), -EINVAL);
	bad[0] = 0;
	assert_int_equal(zkh_rec_decode(bad, (size_t)n, "abc", 3, &v), -EINVAL);
	/* no addresses at all, yet a consistent length */
	memcpy(bad, buf, (size_t)n);
	bad[1] = 0;
	assert_int_equal(zkh_rec_decode(bad, (size_t)n - 4, "abc", 3, &v),
			 -EINVAL);
	/* 33 addresses with the matching length */
	{
		uint8_t big[ZKH_REC_FIXED + 3 + 4 * 33];

		memcpy(big, buf, ZKH_REC_FIXED + 3);
		big[1] = 33;
		memset(big + ZKH_REC_FIXED + 3, 7, 4 * 33);
		assert_int_equal(zkh_rec_decode(big, sizeof(big), "abc", 3, &v),
				 -EINVAL);
		big[1] = 32;
		assert_int_equal(zkh_rec_decode(big, sizeof(big) - 4, "abc", 3,
						&v), 0);
		big[1] = 16;
		big[2] = 17;	/* 33 in all */
		assert_int_equal(zkh_rec_decode(big, ZKH_REC_FIXED + 3 +
						16 * 4 + 17 * 16, "abc", 3,
						&v), -EINVAL);
	}
	/* name_len 0 */
	memcpy(bad, buf, (size_t)n);
	bad[3] = 0;
	assert_int_equal(zkh_rec_decode(bad, (size_t)n - 3, "", 0, &v),
			 -EINVAL);
	/* name with a trailing dot is not canonical */
	{
		uint8_t d[ZKH_REC_FIXED + 4 + 4];

		memcpy(d, buf, ZKH_REC_FIXED);
		d[3] = 4;
		memcpy(d + ZKH_REC_FIXED, "abc.", 4);
		memcpy(d + ZKH_REC_FIXED + 4, a.bytes, 4);
		assert_int_equal(zkh_rec_decode(d, sizeof(d), "abc", 3, &v),
				 -EINVAL);
		assert_int_equal(zkh_rec_decode(d, sizeof(d), "abc.", 4, &v),
				 -EINVAL);
	}
	/* invalid characters in name and key that would "fold" equal */
	memcpy(bad, buf, (size_t)n);
	bad[ZKH_REC_FIXED + 1] = '*';
	assert_int_equal(zkh_rec_decode(bad, (size_t)n, "a*c", 3, &v), -EINVAL);
	assert_int_equal(zkh_rec_decode(NULL, (size_t)n, "abc", 3, &v),
			 -EINVAL);
	assert_int_equal(zkh_rec_decode(buf, (size_t)n, NULL, 3, &v), -EINVAL);
}

/* Check every documented invariant of a decoded view. */
static void check_view(const struct zkh_rec_view *v, const uint8_t *buf,
		       size_t len, const char *key, size_t key_len)
{
	char folded[ZKH_NAME_MAX + 1];

	assert_true(v->n4 + v->n6 >= 1 && v->n4 + v->n6 <= ZKH_MAX_ADDRS);
	assert_true(v->name_len >= 1 && v->name_len <= ZKH_NAME_MAX);
	assert_true(zkh_name_valid(v->name, v->name_len));
	assert_int_equal(zkh_name_fold(v->name, v->name_len, folded),
			 (int)key_len);
	assert_memory_equal(folded, key, key_len);
	assert_ptr_equal((const uint8_t *)v->name, buf + ZKH_REC_FIXED);
	assert_ptr_equal(v->v6 + 16 * v->n6, buf + len);
	assert_ptr_equal(v->v4 + 4 * v->n4, v->v6);
}

static void test_rec_corruption(void **state)
{
	struct zkh_addr addrs[3] = { A("10.0.0.1"), A("fd00::1"),
				     A("10.0.0.2") };
	uint8_t buf[ZKH_REC_MAX], *bad;
	struct zkh_rec_view v;
	int n;

	(void)state;
	n = zkh_rec_encode("Ab-1.c_d", 8, 1234, addrs, 3, buf, sizeof(buf));
	assert_true(n > 0);
	/* an exact-size heap copy, so ASan sees any read past the end */
	bad = malloc((size_t)n);
	assert_non_null(bad);
	for (int pos = 0; pos < n; pos++) {
		for (int val = 0; val < 256; val++) {
			memcpy(bad, buf, (size_t)n);
			bad[pos] = (uint8_t)val;
			if (zkh_rec_decode(bad, (size_t)n, "ab-1.c_d", 8, &v) != 0)
				continue;
			check_view(&v, bad, (size_t)n, "ab-1.c_d", 8);
			/* header corruption that decodes must be a no-op,
			 * except the czxid, which is free-form */
			if (pos < 4)
				assert_int_equal(val, buf[pos]);
		}
	}
	free(bad);
}

static void test_rec_random_garbage(void **state)
{
	uint8_t *buf;
	struct zkh_rec_view v;
	unsigned seed = 12345;

	(void)state;
	/* Random bytes with a plausible header, at random lengths. */
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = (size_t)(rand_r(&seed) % (ZKH_REC_MAX + 8));
		char key[4] = "abc";

		buf = malloc(len ? len : 1);
		assert_non_null(buf);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rand_r(&seed);
		if (len >= 4) {
			buf[0] = 1;
			buf[1] = (uint8_t)(buf[1] % 34);
			buf[2] = (uint8_t)(buf[2] % 34);
		}
		if (len >= ZKH_REC_FIXED + 3) {
			buf[3] = 3;
			memcpy(buf + ZKH_REC_FIXED, "aBc", 3);
		}
		if (zkh_rec_decode(buf, len, key, 3, &v) == 0)
			check_view(&v, buf, len, key, 3);
		free(buf);
	}
}

/* ---- reverse index -------------------------------------------------- */

static void test_addrkey(void **state)
{
	struct zkh_addr a4 = A("10.0.0.5"), a6 = A("fd00::5"), bad = a4;
	uint8_t out[ZKH_ADDRKEY_MAX];

	(void)state;
	assert_int_equal(zkh_addrkey_encode(&a4, out), 5);
	assert_memory_equal(out, "\x04\x0a\x00\x00\x05", 5);
	assert_int_equal(zkh_addrkey_encode(&a6, out), 17);
	assert_int_equal(out[0], 6);
	assert_memory_equal(out + 1, a6.bytes, 16);
	bad.family = 0;
	assert_int_equal(zkh_addrkey_encode(&bad, out), -EINVAL);
	assert_int_equal(zkh_addrkey_encode(NULL, out), -EINVAL);
}

static void test_revval_roundtrip(void **state)
{
	uint8_t raw[ZKH_REVVAL_MAX + 1];
	uint8_t *buf = raw + 1;
	uint64_t cz;
	const char *ln;
	size_t ll;
	int n;

	(void)state;
	n = zkh_revval_encode(0x0102030405060708ull, "web-1.dom", 9, buf,
			      ZKH_REVVAL_MAX);
	assert_int_equal(n, 17);
	assert_memory_equal(buf, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_int_equal(zkh_revval_decode(buf, (size_t)n, &cz, &ln, &ll), 0);
	assert_true(cz == 0x0102030405060708ull);
	assert_int_equal(ll, 9);
	assert_ptr_equal(ln, (const char *)buf + 8);
	assert_memory_equal(ln, "web-1.dom", 9);
	for (int len = 0; len < n; len++) {
		/* shorter lengths that still hold a valid name decode to
		 * that prefix; only whole-label-less ones must fail */
		int r = zkh_revval_decode(buf, (size_t)len, &cz, &ln, &ll);

		if (len <= 8 || len == 14) /* "" or "web-1." */
			assert_int_equal(r, -EINVAL);
		else
			assert_int_equal(ll, (size_t)len - 8);
	}
	/* rejects: uppercase, trailing dot, invalid, too long, small cap */
	assert_int_equal(zkh_revval_encode(1, "Web", 3, buf, ZKH_REVVAL_MAX),
			 -EINVAL);
	assert_int_equal(zkh_revval_encode(1, "web.", 4, buf, ZKH_REVVAL_MAX),
			 -EINVAL);
	assert_int_equal(zkh_revval_encode(1, "", 0, buf, ZKH_REVVAL_MAX),
			 -EINVAL);
	assert_int_equal(zkh_revval_encode(1, "w b", 3, buf, ZKH_REVVAL_MAX),
			 -EINVAL);
	assert_int_equal(zkh_revval_encode(1, "web", 3, buf, 10), -EINVAL);
	assert_int_equal(zkh_revval_encode(1, "web", 3, buf, 11), 11);
	memcpy(buf + 8, "WEB", 3);
	assert_int_equal(zkh_revval_decode(buf, 11, &cz, &ln, &ll), -EINVAL);
	memcpy(buf + 8, "we.", 3);
	assert_int_equal(zkh_revval_decode(buf, 11, &cz, &ln, &ll), -EINVAL);
}

static void test_revval_longest(void **state)
{
	char name[ZKH_NAME_MAX + 1];
	uint8_t buf[ZKH_REVVAL_MAX + 1];
	uint64_t cz;
	const char *ln;
	size_t ll;

	(void)state;
	for (size_t i = 0; i < ZKH_NAME_MAX; i++)
		name[i] = (i % 64 == 63) ? '.' : 'n';
	assert_int_equal(zkh_revval_encode(9, name, ZKH_NAME_MAX, buf,
					   ZKH_REVVAL_MAX), ZKH_REVVAL_MAX);
	assert_int_equal(zkh_revval_decode(buf, ZKH_REVVAL_MAX, &cz, &ln, &ll),
			 0);
	assert_int_equal(ll, ZKH_NAME_MAX);
	buf[ZKH_REVVAL_MAX] = 'n';
	assert_int_equal(zkh_revval_decode(buf, ZKH_REVVAL_MAX + 1, &cz, &ln,
					   &ll), -EINVAL);
}

/* memcmp order of encoded duplicates is creation (czxid) order. */
static void test_revval_sort_order(void **state)
{
	static const uint64_t cz[] = { 0, 1, 255, 256, 0x100000000ull,
				       0xff00000000000000ull, UINT64_MAX };
	uint8_t a[ZKH_REVVAL_MAX], b[ZKH_REVVAL_MAX];

	(void)state;
	for (size_t i = 0; i + 1 < sizeof(cz) / sizeof(cz[0]); i++) {
		/* a later czxid sorts after even with a smaller name */
		assert_int_equal(zkh_revval_encode(cz[i], "zzz", 3, a,
						   sizeof(a)), 11);
		assert_int_equal(zkh_revval_encode(cz[i + 1], "aaa", 3, b,
						   sizeof(b)), 11);
		assert_true(memcmp(a, b, 11) < 0);
	}
}

static void test_revval_corruption(void **state)
{
	uint8_t buf[ZKH_REVVAL_MAX], *bad;
	uint64_t cz;
	const char *ln;
	size_t ll;
	int n;

	(void)state;
	n = zkh_revval_encode(77, "a-b.c_d", 7, buf, sizeof(buf));
	bad = malloc((size_t)n);
	assert_non_null(bad);
	for (int pos = 0; pos < n; pos++) {
		for (int val = 0; val < 256; val++) {
			memcpy(bad, buf, (size_t)n);
			bad[pos] = (uint8_t)val;
			if (zkh_revval_decode(bad, (size_t)n, &cz, &ln, &ll) != 0)
				continue;
			assert_int_equal(ll, 7);
			assert_true(zkh_name_valid(ln, ll));
			for (size_t k = 0; k < ll; k++)
				assert_false(ln[k] >= 'A' && ln[k] <= 'Z');
			assert_true(ln[ll - 1] != '.');
		}
	}
	free(bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_len),
		cmocka_unit_test(test_meta_layout),
		cmocka_unit_test(test_meta_roundtrip),
		cmocka_unit_test(test_meta_longest_domain),
		cmocka_unit_test(test_meta_encode_rejects),
		cmocka_unit_test(test_meta_decode_rejects),
		cmocka_unit_test(test_meta_corruption),
		cmocka_unit_test(test_rec_roundtrip),
		cmocka_unit_test(test_rec_single_family),
		cmocka_unit_test(test_rec_trailing_dot_dropped),
		cmocka_unit_test(test_rec_largest),
		cmocka_unit_test(test_rec_encode_rejects),
		cmocka_unit_test(test_rec_truncation),
		cmocka_unit_test(test_rec_header_fields),
		cmocka_unit_test(test_rec_corruption),
		cmocka_unit_test(test_rec_random_garbage),
		cmocka_unit_test(test_addrkey),
		cmocka_unit_test(test_revval_roundtrip),
		cmocka_unit_test(test_revval_longest),
		cmocka_unit_test(test_revval_sort_order),
		cmocka_unit_test(test_revval_corruption),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

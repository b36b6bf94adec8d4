/*
 * test_zkindex.c - unit tests for the fleet index codec (common/core/
 * zkindex.c, contract include/zkhosts/zkindex.h): entry lines round-trip
 * and only the canonical form parses; buckets check their header, order
 * and membership; heads refuse other formats with -EPROTO and malformed
 * lines with -EINVAL; ring lines; linear hashing moves records only from
 * the split bucket to the new one; adversarial input (truncations and
 * single-byte changes) never crashes and never parses into something
 * that breaks an invariant.
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
#include <sys/socket.h>

#include "zkhosts/names.h"
#include "zkhosts/zkindex.h"

static struct zkh_addr A(const char *s)
{
	struct zkh_addr a;

	if (zkh_addr_parse(s, strlen(s), &a) != 0)
		fail_msg("test address '%s' does not parse", s);
	return a;
}

static void entry_round_trip(void **state)
{
	struct zkh_addr in[3] = { A("fe80::1"), A("10.0.0.1"), A("10.0.0.2") };
	struct zkx_entry e, back;
	char line[ZKX_LINE_MAX + 1];
	int n;

	(void)state;
	assert_int_equal(zkx_entry_make(&e, "Web-1.", 6, 0x1a, 0x2b, in, 3), 0);
	assert_string_equal(e.name, "Web-1");
	assert_string_equal(e.key, "web-1");
	n = zkx_entry_format(&e, line, sizeof line);
	assert_string_equal(line, "Web-1 1a 2b 10.0.0.1,10.0.0.2,fe80::1");
	assert_int_equal(n, (int)strlen(line));
	assert_int_equal(zkx_entry_parse(line, (size_t)n, &back), 0);
	assert_string_equal(back.name, "Web-1");
	assert_int_equal(back.czxid, 0x1a);
	assert_int_equal(back.mzxid, 0x2b);
	assert_int_equal(back.naddrs, 3);
	assert_int_equal(back.addrs[2].family, AF_INET6);
	/* too small a buffer */
	assert_int_equal(zkx_entry_format(&e, line, 10), -ENOSPC);
	/* duplicates refused */
	in[2] = in[1];
	assert_int_equal(zkx_entry_make(&e, "a", 1, 1, 1, in, 3), -EINVAL);
	assert_int_equal(zkx_entry_make(&e, "a b", 3, 1, 1, in, 1), -EINVAL);
	assert_int_equal(zkx_entry_make(&e, "a", 1, 1, 1, in, 0), -EINVAL);
}

static void entry_only_canonical_parses(void **state)
{
	static const char *const bad[] = {
		"web 1a 2b",			/* no addresses */
		"web 1a 2b 10.0.0.1 ",		/* trailing space */
		"web  1a 2b 10.0.0.1",		/* double space */
		"web 01a 2b 10.0.0.1",		/* leading zero */
		"web 1A 2b 10.0.0.1",		/* uppercase hex */
		"web 1a 2b fe80::1,10.0.0.1",	/* IPv6 before IPv4 */
		"web 1a 2b 10.0.0.1,10.0.0.1",	/* duplicate */
		"web 1a 2b 10.0.0.1;10.0.0.2",	/* bad separator */
		"web. 1a 2b 10.0.0.1",		/* trailing dot */
		"w/b 1a 2b 10.0.0.1",		/* bad name */
		"web 1a 2b 10.0.0.001",		/* not inet_ntop form */
		"web 11111111111111111 2b 10.0.0.1",	/* 17 hex digits */
		"web 1a 2b 10.0.0.1 x",		/* extra field */
		"",
	};
	struct zkx_entry e;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (zkx_entry_parse(bad[i], strlen(bad[i]), &e) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
	assert_int_equal(zkx_entry_parse("web 0 0 ::1", 11, &e), 0);
}

static void linear_hashing_moves_only_the_split_bucket(void **state)
{
	(void)state;
	assert_int_equal(zkx_bucket_of(12345, 1), 0);
	assert_int_equal(zkx_split_source(1), 0);
	assert_int_equal(zkx_split_source(2), 0);
	assert_int_equal(zkx_split_source(3), 1);
	assert_int_equal(zkx_split_source(4), 0);
	assert_int_equal(zkx_split_source(6), 2);
	for (unsigned n = 1; n < 300; n++) {
		unsigned src = zkx_split_source(n);

		for (uint32_t h = 0; h < 2000; h++) {
			uint32_t x = h * 2654435761u;
			unsigned a = zkx_bucket_of(x, n), b = zkx_bucket_of(x, n + 1);

			assert_true(a < n);
			assert_true(b < n + 1);
			if (a != b) {
				assert_int_equal(a, src);
				assert_int_equal(b, n);
			}
		}
	}
	assert_int_equal(zkx_hash("", 0), 2166136261u);
	assert_true(zkx_hash("web", 3) != zkx_hash("web1", 4));
}

struct collect {
	int n;
	char keys[8][ZKH_NAME_MAX + 1];
};

static int collect_one(const struct zkx_entry *e, const char *line, size_t ll,
		       void *arg)
{
	struct collect *c = arg;

	(void)line;
	(void)ll;
	if (c->n < 8)
		strcpy(c->keys[c->n], e->key);
	c->n++;
	return 0;
}

/* A bucket of the given names (1 bucket: every name belongs). */
static size_t make_bucket(char *buf, size_t cap, const char *const *names,
			  size_t n)
{
	struct zkh_addr a = A("10.0.0.1");
	struct zkx_entry e;
	int off = zkx_bucket_header(0, buf, cap);

	assert_true(off > 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(zkx_entry_make(&e, names[i], strlen(names[i]), 5, 6, &a, 1), 0);
		off += zkx_entry_format(&e, buf + off, cap - (size_t)off);
		buf[off++] = '\n';
	}
	return (size_t)off;
}

static void bucket_parse_checks_order_and_membership(void **state)
{
	static const char *const good[] = { "alpha", "Beta", "gamma" };
	static const char *const unsorted[] = { "beta", "alpha" };
	static const char *const dup[] = { "web", "WEB" };
	char buf[1024];
	struct zkx_entry e;
	struct collect c = { 0 };
	size_t n;

	(void)state;
	n = make_bucket(buf, sizeof buf, good, 3);
	assert_int_equal(zkx_bucket_parse(buf, n, 0, 1, &e, collect_one, &c), 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.keys[1], "beta");
	/* an empty bucket is just its header */
	assert_int_equal(zkx_bucket_parse(buf, 19, 0, 1, &e, NULL, NULL), 0);
	/* wrong index, missing final newline */
	assert_int_equal(zkx_bucket_parse(buf, n, 1, 2, &e, NULL, NULL), -EINVAL);
	assert_int_equal(zkx_bucket_parse(buf, n - 1, 0, 1, &e, NULL, NULL), -EINVAL);
	n = make_bucket(buf, sizeof buf, unsorted, 2);
	assert_int_equal(zkx_bucket_parse(buf, n, 0, 1, &e, NULL, NULL), -EINVAL);
	n = make_bucket(buf, sizeof buf, dup, 2);
	assert_int_equal(zkx_bucket_parse(buf, n, 0, 1, &e, NULL, NULL), -EINVAL);
	/* membership: with 2 buckets, at least one of these is not in 0 */
	n = make_bucket(buf, sizeof buf, good, 3);
	assert_int_equal(zkx_bucket_parse(buf, n, 0, 2, &e, NULL, NULL), -EINVAL);
}

static void head_and_ring(void **state)
{
	struct zkx_head h = { .format = ZKX_FORMAT, .epoch = 7, .nbuckets = 3, .seq = 42, .pzxid = 0x1f }, back;
	struct zkx_ring_rec r;
	char buf[ZKX_HEAD_MAX];
	size_t body, pos;
	int n = zkx_head_format(&h, buf, sizeof buf);

	(void)state;
	assert_string_equal(buf, "zkhosts-index 1 7 3 42 1f\n");
	n += snprintf(buf + n, sizeof buf - (size_t)n,
		      "g 41 2 5 2\n+ web 1a 2b 10.0.0.1\n- Gone\n"
		      "g 42 0 9 *\ns 42 1 4 3 0\n");
	assert_int_equal(zkx_head_parse(buf, (size_t)n, &back, &body), 0);
	assert_int_equal(back.epoch, 7);
	assert_int_equal(back.nbuckets, 3);
	assert_int_equal(back.seq, 42);
	assert_int_equal(back.pzxid, 0x1f);
	pos = body;
	assert_int_equal(zkx_ring_next(buf, (size_t)n, &pos, &r), 1);
	assert_int_equal(r.kind, ZKX_R_GROUP);
	assert_int_equal(r.seq, 41);
	assert_int_equal(r.bucket, 2);
	assert_int_equal(r.version, 5);
	assert_int_equal(r.nentries, 2);
	assert_int_equal(zkx_ring_next(buf, (size_t)n, &pos, &r), 1);
	assert_int_equal(r.kind, ZKX_R_UPSERT);
	assert_string_equal(r.entry.name, "web");
	assert_int_equal(zkx_ring_next(buf, (size_t)n, &pos, &r), 1);
	assert_int_equal(r.kind, ZKX_R_DELETE);
	assert_string_equal(r.entry.key, "gone");
	assert_int_equal(zkx_ring_next(buf, (size_t)n, &pos, &r), 1);
	assert_int_equal(r.nentries, -1);
	assert_int_equal(zkx_ring_next(buf, (size_t)n, &pos, &r), 1);
	assert_int_equal(r.kind, ZKX_R_SPLIT);
	assert_int_equal(r.to_bucket, 3);
	assert_int_equal(r.to_version, 0);
	assert_int_equal(zkx_ring_next(buf, (size_t)n, &pos, &r), 0);
	/* another format: refused as such, not as garbage */
	assert_int_equal(zkx_head_parse("zkhosts-index 2 x y\n", 20, &back, &body), -EPROTO);
	assert_int_equal(zkx_head_parse("zkhosts-index 1 7 0 42 1f\n", 26, &back, &body), -EINVAL);
	assert_int_equal(zkx_head_parse("zkhosts-index 1 7 3 42 1f", 25, &back, &body), -EINVAL);
	assert_int_equal(zkx_head_parse("junk\n", 5, &back, &body), -EINVAL);
	pos = 0;
	assert_int_equal(zkx_ring_next("x 1\n", 4, &pos, &r), -EINVAL);
	pos = 0;
	assert_int_equal(zkx_ring_next("g 1 2 3\n", 8, &pos, &r), -EINVAL);
}

/* The recent-writes map: its line round-trips in canonical form, only
 * canonical maps of existing buckets parse, a map carried along by a
 * writer that does not know it is ignored, and writers drop the oldest
 * groups to keep it under ZKX_MAP_MAX. */
static void recent_writes_map(void **state)
{
	struct zkx_head h = { .format = ZKX_FORMAT, .epoch = 7, .nbuckets = 10, .seq = 100 }, back;
	char buf[ZKX_HEAD_MAX];
	bool w[10] = { false };
	size_t body;
	int n;

	(void)state;
	/* writes 99 and 100: buckets {0, 5, 9} then {3} */
	h.seq = 99;
	zkx_map_roll(&h, 98);
	zkx_map_mark(&h, 0);
	zkx_map_mark(&h, 5);
	zkx_map_mark(&h, 5);	/* repeated: once */
	zkx_map_mark(&h, 9);
	h.seq = 100;
	zkx_map_roll(&h, 99);
	zkx_map_mark(&h, 3);
	zkx_map_mark(&h, 11);	/* no such bucket: ignored */
	n = zkx_head_format(&h, buf, sizeof buf);
	assert_string_equal(buf, "zkhosts-index 1 7 10 100 0\nw 98 0,5,9;3\n");
	assert_int_equal(zkx_head_parse(buf, (size_t)n, &back, &body), 0);
	assert_int_equal(body, (size_t)n);
	assert_true(back.has_map);
	assert_true(zkx_map_covers(&back, 98));
	assert_true(zkx_map_covers(&back, 100));
	assert_false(zkx_map_covers(&back, 97));
	assert_false(zkx_map_covers(&back, 101));
	for (unsigned i = 0; i < 10; i++) {
		assert_int_equal(zkx_map_written(&back, 98, i), i == 0 || i == 3 || i == 5 || i == 9);
		assert_int_equal(zkx_map_written(&back, 99, i), i == 3);
		assert_false(zkx_map_written(&back, 100, i));
	}
	assert_true(zkx_map_written(&back, 50, 7));	/* not covered: maybe */
	assert_int_equal(zkx_map_since(&back, 99, w, 10), 0);
	for (unsigned i = 0; i < 10; i++)
		assert_int_equal(w[i], i == 3);
	assert_int_equal(zkx_map_since(&back, 97, w, 10), -ERANGE);
	/* an empty map, and a head without one */
	{
		const char *empty = "zkhosts-index 1 7 10 100 0\nw 100 -\n";

		assert_int_equal(zkx_head_parse(empty, strlen(empty), &back, &body), 0);
		assert_true(zkx_map_covers(&back, 100));
		assert_false(zkx_map_covers(&back, 99));
	}
	assert_int_equal(zkx_head_parse("zkhosts-index 1 7 10 100 0\ng 100 1 2 *\n", 39,
					&back, &body), 0);
	assert_false(back.has_map);
	assert_int_equal(body, 27);
	/* carried along unchanged by a writer that does not know the map
	 * (seq moved on, the groups did not): not current, not trusted, and
	 * a writer that knows it starts over */
	{
		const char *carried = "zkhosts-index 1 7 10 101 0\nw 98 0,5,9;3\n";

		assert_int_equal(zkx_head_parse(carried, strlen(carried), &back, &body), 0);
		assert_true(back.has_map);
		assert_false(zkx_map_covers(&back, 100));
		assert_true(zkx_map_written(&back, 100, 1));
		back.seq = 102;
		zkx_map_roll(&back, 101);
		zkx_map_mark(&back, 2);
		assert_int_equal(back.map_from, 101);
		assert_true(zkx_map_covers(&back, 101));
		assert_false(zkx_map_written(&back, 101, 0));
		assert_true(zkx_map_written(&back, 101, 2));
	}
	/* refused: a bucket beyond nbuckets, order, empty groups, junk, more
	 * groups than writes */
	static const char *const bad[] = {
		"zkhosts-index 1 7 10 100 0\nw 99 10\n",
		"zkhosts-index 1 7 10 100 0\nw 98 5,3;1\n",
		"zkhosts-index 1 7 10 100 0\nw 98 3,3;1\n",
		"zkhosts-index 1 7 10 100 0\nw 98 3;;1\n",
		"zkhosts-index 1 7 10 100 0\nw 99 3;\n",
		"zkhosts-index 1 7 10 100 0\nw 99 ;3\n",
		"zkhosts-index 1 7 10 100 0\nw 99 03\n",
		"zkhosts-index 1 7 10 100 0\nw 99 3,\n",
		"zkhosts-index 1 7 10 100 0\nw 99 a\n",
		"zkhosts-index 1 7 10 100 0\nw 99 1;2\n",	/* 2 groups, 1 write */
		"zkhosts-index 1 7 10 100 0\nw 101 -\n",	/* from > seq */
		"zkhosts-index 1 7 10 100 0\nw 99\n",
		"zkhosts-index 1 7 10 100 0\nw 99 1 2\n",
		"zkhosts-index 1 7 10 100 0\nw 99 \n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(zkx_head_parse(bad[i], strlen(bad[i]), &back, &body), -EINVAL);
	/* many writes: the oldest groups go, the map stays under its cap and
	 * still covers the latest writes exactly */
	h.nbuckets = 2000;
	for (uint64_t seq = 100; seq < 1100; seq++) {
		h.seq = seq + 1;
		zkx_map_roll(&h, seq);
		zkx_map_mark(&h, (unsigned)(seq * 7 % 2000));
	}
	assert_true(h.map_len <= ZKX_MAP_MAX);
	assert_true(h.map_from > 100 && h.map_from < 1100 - 50);	/* 50+ writes */
	assert_true(zkx_map_covers(&h, 1090));
	assert_true(zkx_map_written(&h, 1099, (unsigned)(1099 * 7 % 2000)));
	assert_false(zkx_map_written(&h, 1100, (unsigned)(1099 * 7 % 2000)));
	assert_false(zkx_map_written(&h, 1099, (unsigned)(1098 * 7 % 2000)));
	n = zkx_head_format(&h, buf, sizeof buf);
	assert_int_equal(zkx_head_parse(buf, (size_t)n, &back, &body), 0);
	assert_true(zkx_map_covers(&back, h.map_from));
}

/* Trimming drops whole writes: never part of a sequence's groups. */
static void ring_trim_drops_whole_writes(void **state)
{
	char ring[512];
	size_t len;
	const char *src = "g 5 1 3 1\n+ a 1 1 10.0.0.1\ng 5 2 4 1\n- b\n"
			  "g 6 0 2 1\n+ c 1 1 10.0.0.3\ns 6 0 3 1 0\ng 6 3 7 *\n"
			  "g 7 1 4 0\n";

	(void)state;
	len = strlen(src);
	memcpy(ring, src, len);
	zkx_ring_trim(ring, &len, len);		/* fits: unchanged */
	assert_int_equal(len, strlen(src));
	zkx_ring_trim(ring, &len, len - 1);	/* all of seq 5 goes */
	ring[len] = '\0';
	assert_string_equal(ring, "g 6 0 2 1\n+ c 1 1 10.0.0.3\ns 6 0 3 1 0\ng 6 3 7 *\ng 7 1 4 0\n");
	zkx_ring_trim(ring, &len, len - 1);	/* all of seq 6 goes */
	ring[len] = '\0';
	assert_string_equal(ring, "g 7 1 4 0\n");
	zkx_ring_trim(ring, &len, 3);
	assert_int_equal(len, 0);
}

/* Every truncation and every single-byte change of a valid head and
 * bucket either fails or parses into values within their bounds. */
static void hostile_bytes_are_refused_or_bounded(void **state)
{
	static const char *const names[] = { "alpha", "beta", "gamma" };
	char good[1024], buf[1024];
	size_t n = make_bucket(good, sizeof good, names, 3);
	struct zkx_entry e;
	struct zkx_head h;
	struct zkx_ring_rec r;
	size_t body, pos;

	(void)state;
	for (size_t cut = 0; cut < n; cut++) {
		int rc = zkx_bucket_parse(good, cut, 0, 1, &e, NULL, NULL);
		assert_true(rc == 0 || rc == -EINVAL);
	}
	for (size_t i = 0; i < n; i++)
		for (int v = 0; v < 256; v += 7) {
			memcpy(buf, good, n);
			buf[i] = (char)v;
			if (zkx_bucket_parse(buf, n, 0, 1, &e, NULL, NULL) == 0)
				assert_true(e.naddrs >= 1 && e.naddrs <= ZKH_MAX_ADDRS);
		}
	n = (size_t)snprintf(good, sizeof good, "zkhosts-index 1 7 3 42 1f\n"
			     "g 41 2 5 1\n+ web 1a 2b 10.0.0.1\n");
	for (size_t i = 0; i < n; i++)
		for (int v = 0; v < 256; v += 5) {
			memcpy(buf, good, n);
			buf[i] = (char)v;
			if (zkx_head_parse(buf, n, &h, &body) != 0)
				continue;
			assert_true(h.nbuckets >= 1 && h.nbuckets <= ZKX_MAX_BUCKETS);
			pos = body;
			while (zkx_ring_next(buf, n, &pos, &r) == 1)
				assert_true(pos <= n);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(entry_round_trip),
		cmocka_unit_test(recent_writes_map),
		cmocka_unit_test(entry_only_canonical_parses),
		cmocka_unit_test(linear_hashing_moves_only_the_split_bucket),
		cmocka_unit_test(bucket_parse_checks_order_and_membership),
		cmocka_unit_test(head_and_ring),
		cmocka_unit_test(ring_trim_drops_whole_writes),
		cmocka_unit_test(hostile_bytes_are_refused_or_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

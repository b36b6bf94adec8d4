/*
 * test_nss_pack - the NSS result packer (nss_zk/pack.c): for hostents
 * (forward with an alias, reverse with many aliases, both families,
 * several addresses) and gaih_addrtuple chains (both families, with and
 * without a caller-supplied first tuple), every buffer size from 0 up to
 * the exact need gives -ERANGE with buffer and result untouched, and the
 * exact size, at every alignment, gives the exact answer with every
 * pointer inside the buffer and pointer arrays aligned.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "pack.h"

#define CANARY 0x5a

static const uint8_t v4[] = { 10, 0, 0, 5, 10, 0, 0, 6, 192, 168, 1, 1 };
static const uint8_t v6[] = {
	0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5,
	0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6,
};

static struct zkh_pstr ps(const char *a, const char *b)
{
	struct zkh_pstr s = { a, strlen(a), b, b ? strlen(b) : 0 };

	return s;
}

static int all_canary(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != CANARY)
			return 0;
	return 1;
}

static int inside(const void *p, const char *buf, size_t len)
{
	return (const char *)p >= buf && (const char *)p < buf + len;
}

/* Check *h against src; every pointer must be inside buf[0..len). */
static void check_hostent(const struct zkh_hostent_src *src,
			  const struct hostent *h, const char *buf, size_t len)
{
	size_t alen = src->family == AF_INET ? 4 : 16, i;
	char want[600];

	assert_int_equal(h->h_addrtype, src->family);
	assert_int_equal(h->h_length, (int)alen);
	snprintf(want, sizeof(want), "%.*s%.*s", (int)src->name.alen,
		 src->name.a, (int)src->name.blen,
		 src->name.b ? src->name.b : "");
	assert_string_equal(h->h_name, want);
	assert_true(inside(h->h_name, buf, len));
	assert_true(inside(h->h_aliases, buf, len));
	assert_int_equal((uintptr_t)h->h_aliases % sizeof(char *), 0);
	assert_int_equal((uintptr_t)h->h_addr_list % sizeof(char *), 0);
	for (i = 0; i < src->naliases; i++) {
		const struct zkh_pstr *a = &src->aliases[i];

		snprintf(want, sizeof(want), "%.*s%.*s", (int)a->alen, a->a,
			 (int)a->blen, a->b ? a->b : "");
		assert_non_null(h->h_aliases[i]);
		assert_string_equal(h->h_aliases[i], want);
		assert_true(inside(h->h_aliases[i], buf, len));
	}
	assert_null(h->h_aliases[src->naliases]);
	for (i = 0; i < src->naddrs; i++) {
		assert_non_null(h->h_addr_list[i]);
		assert_true(inside(h->h_addr_list[i], buf, len));
		assert_memory_equal(h->h_addr_list[i], src->addrs + i * alen,
				    alen);
	}
	assert_null(h->h_addr_list[src->naddrs]);
}

/* Sweep every size and alignment for a hostent source. */
static void sweep_hostent(const struct zkh_hostent_src *src, size_t expect)
{
	size_t off, len;

	for (off = 0; off < 8; off++) {
		unsigned char *raw = malloc(expect + 16);
		char *buf = (char *)raw + off;
		size_t need = zkh_pack_hostent_size(src, buf);
		size_t pad = -(uintptr_t)buf % sizeof(char *);

		assert_non_null(raw);
		/* The need is the hand-computed size plus alignment padding. */
		assert_int_equal(need - pad, expect);
		for (len = 0; len <= need; len++) {
			struct hostent h;
			int rc;

			memset(raw, CANARY, expect + 16);
			memset(&h, CANARY, sizeof(h));
			rc = zkh_pack_hostent(src, &h, buf, len);
			if (len < need) {
				assert_int_equal(rc, -ERANGE);
				assert_true(all_canary(raw, expect + 16));
				assert_true(all_canary((unsigned char *)&h,
						       sizeof(h)));
			} else {
				assert_int_equal(rc, 0);
				check_hostent(src, &h, buf, len);
				/* Nothing past the end was touched. */
				assert_true(all_canary((unsigned char *)buf +
						       len, 16 - off - pad));
			}
		}
		free(raw);
	}
}

static void forward_v4(void **state)
{
	struct zkh_hostent_src src = { 0 };

	(void)state;
	src.name = ps("alpha", ".example.com");
	src.aliases[0] = ps("alpha", NULL);
	src.naliases = 1;
	src.family = AF_INET;
	src.addrs = v4;
	src.naddrs = 3;
	/* 2 alias ptrs + 4 addr ptrs, 12 address bytes, 18 + 6 string bytes */
	sweep_hostent(&src, 2 * 8 + 4 * 8 + 12 + 18 + 6);
}

static void reverse_v6_aliases(void **state)
{
	struct zkh_hostent_src src = { 0 };

	(void)state;
	src.name = ps("db1", ".dc.example");
	src.aliases[0] = ps("db1", NULL);
	src.aliases[1] = ps("Primary", ".dc.example");
	src.aliases[2] = ps("Primary", NULL);
	src.aliases[3] = ps("x", "");
	src.naliases = 4;
	src.family = AF_INET6;
	src.addrs = v6 + 16;
	src.naddrs = 1;
	sweep_hostent(&src, 5 * 8 + 2 * 8 + 16 + 15 + 4 + 19 + 8 + 2);
}

static void hostent_bad_args(void **state)
{
	struct zkh_hostent_src src = { 0 };
	struct hostent h;
	char buf[256];

	(void)state;
	src.name = ps("a", NULL);
	src.family = AF_UNIX;
	src.addrs = v4;
	src.naddrs = 1;
	assert_int_equal(zkh_pack_hostent(&src, &h, buf, sizeof(buf)),
			 -EINVAL);
	src.family = AF_INET;
	src.naddrs = 0;
	assert_int_equal(zkh_pack_hostent(&src, &h, buf, sizeof(buf)),
			 -EINVAL);
	src.naddrs = 1;
	assert_int_equal(zkh_pack_hostent(&src, &h, NULL, 0), -ERANGE);
}

static void check_tuples(const struct zkh_tuples_src *src,
			 struct gaih_addrtuple *first,
			 const struct gaih_addrtuple *caller, const char *buf,
			 size_t len, const char *want)
{
	const struct gaih_addrtuple *t = first;
	size_t i;

	if (caller)
		assert_ptr_equal(first, caller);
	for (i = 0; i < src->n4 + src->n6; i++, t = t->next) {
		assert_non_null(t);
		if (t != caller) {
			assert_true(inside(t, buf, len));
			assert_int_equal((uintptr_t)t %
					 _Alignof(struct gaih_addrtuple), 0);
		}
		assert_string_equal(t->name, want);
		assert_true(inside(t->name, buf, len));
		assert_int_equal(t->scopeid, 0);
		if (i < src->n4) {
			assert_int_equal(t->family, AF_INET);
			assert_memory_equal(t->addr, src->v4 + 4 * i, 4);
		} else {
			assert_int_equal(t->family, AF_INET6);
			assert_memory_equal(t->addr,
					    src->v6 + 16 * (i - src->n4), 16);
		}
	}
	assert_null(t);
}

static void sweep_tuples(const struct zkh_tuples_src *src, int with_caller,
			 size_t ntup_in_buf)
{
	size_t expect = ntup_in_buf * sizeof(struct gaih_addrtuple) +
	    src->name.alen + src->name.blen + 1, off, len;

	for (off = 0; off < 8; off++) {
		unsigned char *raw = malloc(expect + 16);
		char *buf = (char *)raw + off;
		size_t need = zkh_pack_tuples_size(src, buf, with_caller);
		size_t pad = -(uintptr_t)buf % _Alignof(struct gaih_addrtuple);

		assert_non_null(raw);
		assert_int_equal(need - pad, expect);
		for (len = 0; len <= need; len++) {
			struct gaih_addrtuple caller, *pat;
			int rc;

			memset(raw, CANARY, expect + 16);
			memset(&caller, CANARY, sizeof(caller));
			pat = with_caller ? &caller : NULL;
			rc = zkh_pack_tuples(src, &pat, buf, len);
			if (len < need) {
				assert_int_equal(rc, -ERANGE);
				assert_true(all_canary(raw, expect + 16));
				assert_true(all_canary((unsigned char *)
						       &caller,
						       sizeof(caller)));
				assert_ptr_equal(pat, with_caller ? &caller :
						 NULL);
			} else {
				assert_int_equal(rc, 0);
				check_tuples(src, pat, with_caller ? &caller :
					     NULL, buf, len,
					     "Multi.example.com");
			}
		}
		free(raw);
	}
}

static void tuples_both_families(void **state)
{
	struct zkh_tuples_src src = { 0 };

	(void)state;
	src.name = ps("Multi", ".example.com");
	src.v4 = v4;
	src.n4 = 3;
	src.v6 = v6;
	src.n6 = 2;
	sweep_tuples(&src, 0, 5);
	sweep_tuples(&src, 1, 4);
	src.n4 = 0;
	sweep_tuples(&src, 0, 2);
	sweep_tuples(&src, 1, 1);
	src.n6 = 0;
	src.n4 = 1;
	sweep_tuples(&src, 1, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(forward_v4),
		cmocka_unit_test(reverse_v6_aliases),
		cmocka_unit_test(hostent_bad_args),
		cmocka_unit_test(tuples_both_families),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

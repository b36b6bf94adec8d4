/*
 * fuzz_record.c - fuzz target for the snapshot value decoders (snapshot.h):
 * zkh_meta_decode, zkh_rec_decode and zkh_revval_decode on arbitrary bytes
 * never read outside the buffer, and whatever they accept is the one
 * canonical encoding: re-encoding the decoded value gives back exactly
 * the input bytes (except a record listing an address twice, which the
 * codec documents that it accepts). A record is decoded twice: under a key
 * taken from the input (first byte = key length, then the key, then the
 * value) and under the key the writer would have used (the stored name
 * lowercased), which makes well-formed records easy for the fuzzer to
 * reach.
 */
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "zkhosts/names.h"
#include "zkhosts/snapshot.h"

static void check_meta(const char *buf, size_t len)
{
	struct zkh_meta m;
	uint8_t out[ZKH_META_MAX];
	int n;

	if (zkh_meta_decode(buf, len, &m) != 0)
		return;
	FUZZ_CHECK(m.schema == ZKH_SCHEMA_VERSION);
	FUZZ_CHECK(m.domain_len <= ZKH_DOMAIN_MAX);
	FUZZ_CHECK(strlen(m.domain) == m.domain_len);
	if (m.domain_len > 0)
		FUZZ_CHECK(zkh_name_valid(m.domain, m.domain_len));
	n = zkh_meta_encode(&m, out, sizeof(out));
	FUZZ_CHECK(n > 0 && (size_t)n == len);
	FUZZ_CHECK(memcmp(out, buf, len) == 0);
}

static void check_revval(const char *buf, size_t len)
{
	uint64_t czxid;
	const char *lname;
	size_t lname_len;
	uint8_t out[ZKH_REVVAL_MAX];
	char folded[ZKH_NAME_MAX + 1];
	int n;

	if (zkh_revval_decode(buf, len, &czxid, &lname, &lname_len) != 0)
		return;
	FUZZ_CHECK(lname >= buf && lname_len >= 1 &&
		   lname + lname_len == buf + len);
	FUZZ_CHECK(zkh_name_fold(lname, lname_len, folded) ==
		   (int)lname_len);
	FUZZ_CHECK(memcmp(folded, lname, lname_len) == 0);
	n = zkh_revval_encode(czxid, lname, lname_len, out, sizeof(out));
	FUZZ_CHECK(n > 0 && (size_t)n == len);
	FUZZ_CHECK(memcmp(out, buf, len) == 0);
}

/* True if two of the n addresses of alen bytes at p are equal. */
static bool has_duplicate(const uint8_t *p, unsigned n, size_t alen)
{
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = 0; j < i; j++)
			if (memcmp(p + i * alen, p + j * alen, alen) == 0)
				return true;
	return false;
}

static void check_rec(const char *buf, size_t len, const char *key,
		      size_t key_len)
{
	struct zkh_rec_view v;
	struct zkh_addr addrs[ZKH_MAX_ADDRS];
	uint8_t out[ZKH_REC_MAX];
	char folded[ZKH_NAME_MAX + 1];
	size_t na = 0;
	int n;

	if (zkh_rec_decode(buf, len, key, key_len, &v) != 0)
		return;
	FUZZ_CHECK(v.n4 + v.n6 >= 1 && v.n4 + v.n6 <= ZKH_MAX_ADDRS);
	FUZZ_CHECK(v.name_len >= 1 && v.name_len <= ZKH_NAME_MAX);
	FUZZ_CHECK(v.name >= buf && v.name + v.name_len <= buf + len);
	FUZZ_CHECK((const char *)v.v4 >= buf &&
		   (const char *)v.v4 + 4 * v.n4 <= buf + len);
	FUZZ_CHECK((const char *)v.v6 >= buf &&
		   (const char *)v.v6 + 16 * v.n6 == buf + len);
	FUZZ_CHECK(zkh_name_fold(v.name, v.name_len, folded) ==
		   (int)key_len);
	FUZZ_CHECK(memcmp(folded, key, key_len) == 0);
	/* Documented limit (common/core/record.c): decoders do not look for
	 * repeated addresses, which the encoder refuses; such a record
	 * decodes but has no canonical encoding to compare with. */
	if (has_duplicate(v.v4, v.n4, 4) || has_duplicate(v.v6, v.n6, 16))
		return;
	for (unsigned i = 0; i < v.n4; i++, na++) {
		addrs[na].family = AF_INET;
		memcpy(addrs[na].bytes, v.v4 + 4 * i, 4);
	}
	for (unsigned i = 0; i < v.n6; i++, na++) {
		addrs[na].family = AF_INET6;
		memcpy(addrs[na].bytes, v.v6 + 16 * i, 16);
	}
	n = zkh_rec_encode(v.name, v.name_len, v.czxid, addrs, na, out,
			   sizeof(out));
	FUZZ_CHECK(n > 0 && (size_t)n == len);
	FUZZ_CHECK(memcmp(out, buf, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_dup(data, size);

	check_meta(s, size);
	check_revval(s, size);

	/* Record under the key the writer would use: the stored name,
	 * lowercased (whatever its bytes; decode must judge them). */
	if (size >= ZKH_REC_FIXED) {
		size_t nl = (unsigned char)s[3];
		char *key = malloc(nl ? nl : 1);

		FUZZ_CHECK(key != NULL);
		for (size_t i = 0; i < nl; i++) {
			char c = ZKH_REC_FIXED + i < size ? s[ZKH_REC_FIXED + i]
							  : 'x';

			key[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
		}
		check_rec(s, size, key, nl);
		free(key);
	}
	/* Record under a key the input chooses. */
	if (size >= 1 && (size_t)(unsigned char)s[0] < size) {
		size_t kl = (unsigned char)s[0];
		char *key = fuzz_dup(data + 1, kl);
		char *val = fuzz_dup(data + 1 + kl, size - 1 - kl);

		check_rec(val, size - 1 - kl, key, kl);
		free(key);
		free(val);
	}
	free(s);
	return 0;
}

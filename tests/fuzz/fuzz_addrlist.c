/*
 * fuzz_addrlist.c - fuzz target for the untrusted address-list parser
 * (zkh_addrlist_parse, the znode data path) and the address token codec.
 * For every cap 0..ZKH_MAX_ADDRS that can make a difference, on any bytes: at most cap addresses are
 * kept, none twice, in an exactly sized output array (ASan sees a write
 * past it); each kept address formats (zkh_addr_format) to text that parses
 * back to itself; the result for a smaller cap is a prefix of the result
 * for ZKH_MAX_ADDRS; the counts that do not depend on the cap (invalid
 * tokens, control bytes, valid tokens = kept + duplicates + over_cap) do
 * not change with it; first_invalid is a NUL-terminated printable string,
 * non-empty iff a token was invalid. The whole input is also tried as one
 * token with zkh_addr_parse.
 */
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "zkhosts/names.h"

static bool same_addr(const struct zkh_addr *a, const struct zkh_addr *b)
{
	size_t len = zkh_addr_len(a->family);

	return a->family == b->family && len != 0 &&
	       memcmp(a->bytes, b->bytes, len) == 0;
}

/* An address must format to text that parses back to the same address. */
static void check_reformat(const struct zkh_addr *a)
{
	char text[64];
	struct zkh_addr back;

	FUZZ_CHECK(a->family == AF_INET || a->family == AF_INET6);
	memset(text, 0x5a, sizeof(text));
	zkh_addr_format(a, text, 46);
	FUZZ_CHECK(memchr(text, '\0', 46) != NULL);
	FUZZ_CHECK(text[0] != '\0');
	FUZZ_CHECK(zkh_addr_parse(text, strlen(text), &back) == 0);
	FUZZ_CHECK(same_addr(a, &back));
}

static void check_report(const struct zkh_addrlist_report *r)
{
	const char *end = memchr(r->first_invalid, '\0',
				 sizeof(r->first_invalid));

	FUZZ_CHECK(end != NULL);
	FUZZ_CHECK((r->invalid > 0) == (r->first_invalid[0] != '\0'));
	for (const char *p = r->first_invalid; p < end; p++)
		FUZZ_CHECK(*p > 0x20 && *p < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_dup(data, size);
	struct zkh_addr full[ZKH_MAX_ADDRS], one;
	struct zkh_addrlist_report frep, rep;
	size_t nfull, total;

	if (zkh_addr_parse(s, size, &one) == 0)
		check_reformat(&one);

	nfull = zkh_addrlist_parse(s, size, full, ZKH_MAX_ADDRS, &frep);
	FUZZ_CHECK(nfull <= ZKH_MAX_ADDRS);
	check_report(&frep);
	total = nfull + frep.duplicates + frep.over_cap;
	for (size_t i = 0; i < nfull; i++) {
		check_reformat(&full[i]);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(!same_addr(&full[i], &full[j]));
	}

	/* Every cap up to one past the number kept (beyond that the parser
	 * takes the same path; ZKH_MAX_ADDRS itself was the first call):
	 * comparison tracing makes each call dear, and this keeps the
	 * target fast without losing a case. */
	for (size_t cap = 0; cap <= nfull + 1 && cap <= ZKH_MAX_ADDRS; cap++) {
		struct zkh_addr *out = malloc(cap ? cap * sizeof(*out) : 1);
		size_t n;

		FUZZ_CHECK(out != NULL);
		n = zkh_addrlist_parse(s, size, out, cap, &rep);
		FUZZ_CHECK(n <= cap);
		FUZZ_CHECK(n == (nfull < cap ? nfull : cap));
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(same_addr(&out[i], &full[i]));
		check_report(&rep);
		FUZZ_CHECK(rep.invalid == frep.invalid);
		FUZZ_CHECK(rep.nul_bytes == frep.nul_bytes);
		FUZZ_CHECK(strcmp(rep.first_invalid, frep.first_invalid) == 0);
		FUZZ_CHECK(n + rep.duplicates + rep.over_cap == total);
		free(out);
	}
	/* No output array and no report: counts only, must not crash. */
	FUZZ_CHECK(zkh_addrlist_parse(s, size, NULL, ZKH_MAX_ADDRS, NULL) == 0);
	free(s);
	return 0;
}

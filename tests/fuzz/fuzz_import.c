/*
 * fuzz_import.c - fuzz target for the `zkhostctl import` parsers
 * (tools/zkhostctl/importers.h): the hosts-file format, the JSON format
 * (jansson, with import_json.c stepping over the top-level object) and
 * format detection, on arbitrary bytes. Never crashes or leaks; returns 0,
 * -EINVAL (with a NUL-terminated message) or -ENOMEM; every report is a
 * non-empty NUL-terminated phrase and their number is the set's skipped
 * count; on success the set is sorted by folded name with no name twice,
 * every record has a valid name as written (no trailing dot) whose
 * lowercase form is its key, 1..ZKH_MAX_ADDRS distinct addresses, and
 * imp_find finds it by its name in any case with a trailing dot.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "zkhosts/names.h"
#include "../../tools/zkhostctl/importers.h"

struct reports {
	unsigned n;
};

static void on_report(void *arg, unsigned line, unsigned col,
		      const char *why)
{
	struct reports *r = arg;

	(void)line;
	(void)col;
	FUZZ_CHECK(why != NULL && why[0] != '\0');
	FUZZ_CHECK(strlen(why) < 4096);
	r->n++;
}

static void check_set(const struct imp_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct imp_record *r = &s->v[i];
		size_t nl = strnlen(r->name, sizeof(r->name));
		char folded[ZKH_NAME_MAX + 1], probe[ZKH_NAME_MAX + 2];

		FUZZ_CHECK(nl < sizeof(r->name));
		FUZZ_CHECK(zkh_name_valid(r->name, nl) && r->name[nl - 1] != '.');
		FUZZ_CHECK(zkh_name_fold(r->name, nl, folded) == (int)nl);
		FUZZ_CHECK(strcmp(folded, r->folded) == 0);
		if (i > 0)
			FUZZ_CHECK(strcmp(s->v[i - 1].folded, r->folded) < 0);
		FUZZ_CHECK(r->naddrs >= 1 && r->naddrs <= ZKH_MAX_ADDRS);
		for (size_t a = 0; a < r->naddrs; a++) {
			size_t al = zkh_addr_len(r->addrs[a].family);

			FUZZ_CHECK(al != 0);
			for (size_t b = 0; b < a; b++)
				FUZZ_CHECK(r->addrs[b].family !=
					   r->addrs[a].family ||
					   memcmp(r->addrs[b].bytes,
						  r->addrs[a].bytes, al) != 0);
		}
		/* found by its name in upper case with a trailing dot */
		for (size_t k = 0; k < nl; k++) {
			char c = r->name[k];

			probe[k] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
		}
		probe[nl] = '.';
		probe[nl + 1] = '\0';
		FUZZ_CHECK(imp_find(s, probe) == r);
	}
}

static void run(const char *text, size_t len, enum imp_format fmt)
{
	struct imp_set set;
	struct imp_error err;
	struct reports rep = { 0 };
	enum imp_format used = IMP_AUTO;
	int rc;

	memset(&set, 0, sizeof(set));
	memset(&err, 0x5a, sizeof(err));
	rc = imp_parse(text, len, fmt, &set, on_report, &rep, &err, &used);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	if (rc == 0) {
		FUZZ_CHECK(used == IMP_HOSTS || used == IMP_JSON);
		FUZZ_CHECK(fmt == IMP_AUTO || used == fmt);
		FUZZ_CHECK(rep.n == set.skipped);
		check_set(&set);
	} else if (rc == -EINVAL) {
		FUZZ_CHECK(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
		FUZZ_CHECK(err.msg[0] != '\0');
	}
	imp_set_free(&set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_dup(data, size);

	run(s, size, IMP_AUTO);
	run(s, size, IMP_HOSTS);
	run(s, size, IMP_JSON);
	free(s);
	return 0;
}

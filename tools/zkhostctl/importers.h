/*
 * importers.h - what `zkhostctl import` reads: a hosts file ("ADDR NAME
 * [ALIAS...]" lines, '#' comments) or a JSON object of name to address
 * string or array of address strings (what earlier bootstrap scripts
 * stored), detected by the first non-blank character ('{' means JSON).
 * Entries for one name (several lines, aliases, duplicate keys) merge
 * into one record, addresses in order of appearance, duplicates dropped.
 * Whatever cannot be imported is reported through a callback with its
 * line (and column for JSON) and why, and skipped; only a JSON syntax
 * error stops the parse.
 *
 * Pure code (no I/O, no logging); allocates the result set. Not
 * thread-safe per set; distinct sets may be used in parallel.
 */
#ifndef ZKHOSTS_TOOLS_IMPORTERS_H
#define ZKHOSTS_TOOLS_IMPORTERS_H

#include <stddef.h>

#include "zkhosts/snapshot.h"

struct imp_record {
	char name[ZKH_NAME_MAX + 1];	/* as written, no trailing dot */
	char folded[ZKH_NAME_MAX + 1];	/* lowercase key */
	struct zkh_addr addrs[ZKH_MAX_ADDRS];
	size_t naddrs;
	unsigned line;			/* first line that named it */
	size_t seq;			/* order of appearance (internal) */
};

struct imp_set {
	struct imp_record *v;	/* sorted by folded name after parsing */
	size_t n, cap;
	unsigned skipped;	/* reports made */
};

/* Called once per skipped line, entry, name or address. col is 0 for the
 * hosts format. `why` is a complete phrase, valid during the call. */
typedef void (*imp_report_fn)(void *arg, unsigned line, unsigned col,
			      const char *why);

/* A fatal error: where and what. */
struct imp_error {
	unsigned line, col;
	char msg[160];
};

enum imp_format { IMP_AUTO, IMP_HOSTS, IMP_JSON };

/*
 * Parse `len` bytes of `text` in `format` (IMP_AUTO: JSON if the first
 * non-blank byte is '{') into *out (zeroed by the caller; free with
 * imp_set_free). Returns 0 (reports may have been made), -EINVAL with *err
 * filled on a JSON syntax error or a NUL byte, -ENOMEM. *fmt_used (may be
 * NULL) says which format was read.
 */
int imp_parse(const char *text, size_t len, enum imp_format format,
	      struct imp_set *out, imp_report_fn report, void *arg,
	      struct imp_error *err, enum imp_format *fmt_used);

/* Find a record by name (any case, trailing dot ignored); NULL if none. */
const struct imp_record *imp_find(const struct imp_set *s, const char *name);

void imp_set_free(struct imp_set *s);

/* Internal to the importers (importers.c, import_json.c). */
int imp_add(struct imp_set *s, const char *name, size_t name_len,
	    const struct zkh_addr *addrs, size_t n, unsigned line,
	    unsigned col, imp_report_fn report, void *arg);
int imp_parse_json(const char *text, size_t len, struct imp_set *out,
		   imp_report_fn report, void *arg, struct imp_error *err);
void imp_report(struct imp_set *s, imp_report_fn report, void *arg,
		unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

#endif

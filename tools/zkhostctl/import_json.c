/*
 * import_json.c - the JSON format of `zkhostctl import`, read with jansson:
 * the document must be one object whose members map a host name to an
 * address string ("10.0.0.5" or "10.0.0.5, fd00::5") or an array of such
 * strings. Members of any other shape are skipped and reported; anything
 * that is not JSON stops the parse with line:column and jansson's reason.
 *
 * jansson decodes every member name and every value (strings, escapes,
 * UTF-8, numbers, nesting, bounded by its own depth limit); this file only
 * steps over the top-level object's punctuation ('{', ':', ',', '}') so
 * that each member's position in the file is known for its reports, and
 * so that a name given twice merges its addresses as the hosts format
 * does (a plain json_loadb would keep only the last duplicate). Positions
 * are bytes, 1-based; inside an array the report names the element by its
 * index, at the array's position (jansson does not keep positions).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "zkhosts/names.h"
#include "importers.h"

/* Longest member name shown in a report. */
#define SHOWN_NAME_MAX 260

struct jp {
	const char *text, *p, *end;
	struct imp_set *set;
	imp_report_fn report;
	void *arg;
	struct imp_error *err;
	/* where(): a cursor that only moves forward, so that finding
	 * every member's line costs one pass over the text in all */
	const char *seen, *line_start;
	unsigned line;
};

/* 1-based line and byte column of `at`. */
static void where(struct jp *j, const char *at, unsigned *line,
		  unsigned *col)
{
	if (at < j->seen) {
		j->seen = j->line_start = j->text;
		j->line = 1;
	}
	for (; j->seen < at; j->seen++)
		if (*j->seen == '\n') {
			j->line++;
			j->line_start = j->seen + 1;
		}
	*line = j->line;
	*col = (unsigned)(at - j->line_start) + 1;
}

__attribute__((format(printf, 3, 4)))
static int fail_at(struct jp *j, const char *at, const char *fmt, ...)
{
	va_list ap;

	where(j, at, &j->err->line, &j->err->col);
	va_start(ap, fmt);
	vsnprintf(j->err->msg, sizeof(j->err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void skip_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
				 *j->p == '\r' || *j->p == '\n'))
		j->p++;
}

static int expect_char(struct jp *j, char c, const char *what)
{
	skip_ws(j);
	if (j->p >= j->end)
		return fail_at(j, j->p, "unexpected end of input, expected %s",
			       what);
	if (*j->p != c)
		return fail_at(j, j->p, "expected %s, found '%c'", what, *j->p);
	j->p++;
	return 0;
}

/* Decode one JSON value at j->p with jansson and step past it. *out is a
 * new reference. */
static int decode(struct jp *j, json_t **out)
{
	json_error_t e;
	size_t pos;

	skip_ws(j);
	if (j->p >= j->end)
		return fail_at(j, j->p, "unexpected end of input, expected a "
			       "value");
	*out = json_loadb(j->p, (size_t)(j->end - j->p),
			  JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &e);
	pos = e.position > 0 ? (size_t)e.position : 0;
	if (pos > (size_t)(j->end - j->p))
		pos = (size_t)(j->end - j->p);
	if (!*out)
		return fail_at(j, j->p + pos, "%s",
			       strstr(e.text, "JSON_ALLOW_NUL") ?
			       "\\u0000 (a NUL character) in a string" :
			       e.text);
	j->p += pos;
	return 0;
}

/* Add the addresses of one string value to addrs[*n]; `elem` (>= 1) names
 * an array element in the reports. */
static void take_addresses(struct jp *j, const char *name, const json_t *s,
			   size_t elem, unsigned line, unsigned col,
			   struct zkh_addr *addrs, size_t *n)
{
	struct zkh_addrlist_report rep;
	struct zkh_addr got[ZKH_MAX_ADDRS];
	char in[32] = "";
	size_t k;

	if (elem)
		snprintf(in, sizeof(in), " (element %zu)", elem);
	memset(&rep, 0, sizeof(rep));
	k = zkh_addrlist_parse(json_string_value(s), json_string_length(s),
			       got, ZKH_MAX_ADDRS, &rep);
	if (rep.invalid)
		imp_report(j->set, j->report, j->arg, line, col,
			   "%s: '%s'%s is not an IPv4 or IPv6 address%s", name,
			   rep.first_invalid, in,
			   rep.invalid > 1 ? " (nor are others in it)" : "");
	if (rep.over_cap)
		imp_report(j->set, j->report, j->arg, line, col,
			   "%s: more than %d addresses, %u dropped", name,
			   ZKH_MAX_ADDRS, rep.over_cap);
	for (size_t i = 0; i < k; i++) {
		bool dup = false;

		for (size_t m = 0; m < *n && !dup; m++)
			dup = got[i].family == addrs[m].family &&
			      !memcmp(got[i].bytes, addrs[m].bytes,
				      zkh_addr_len(got[i].family));
		if (dup)
			continue;
		if (*n == ZKH_MAX_ADDRS) {
			imp_report(j->set, j->report, j->arg, line, col,
				   "%s: more than %d addresses, rest dropped",
				   name, ZKH_MAX_ADDRS);
			return;
		}
		addrs[(*n)++] = got[i];
	}
}

/* Printable, bounded copy of a member name for reports. */
static void show_name(const char *name, size_t len, char *out, size_t cap)
{
	size_t n = len < SHOWN_NAME_MAX ? len : SHOWN_NAME_MAX;

	snprintf(out, cap, "%.*s%s", (int)n, name, len > n ? "..." : "");
	for (char *q = out; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			*q = '?';
}

/* One member "name": value of the top-level object. */
static int read_member(struct jp *j)
{
	char shown[SHOWN_NAME_MAX + 4];
	struct zkh_addr addrs[ZKH_MAX_ADDRS];
	json_t *key = NULL, *val = NULL;
	const char *name;
	size_t name_len, n = 0;
	unsigned line, key_col, vline, vcol;
	int rc;

	skip_ws(j);
	where(j, j->p, &line, &key_col);
	if (j->p >= j->end || *j->p != '"')
		return fail_at(j, j->p, j->p >= j->end ? "unexpected end of "
			       "input, expected a string" : "expected a "
			       "string (a member name)");
	if ((rc = decode(j, &key)) < 0 ||
	    (rc = expect_char(j, ':', "':'")) < 0)
		goto out;
	skip_ws(j);
	where(j, j->p, &vline, &vcol);
	if ((rc = decode(j, &val)) < 0)
		goto out;
	name = json_string_value(key);
	name_len = json_string_length(key);
	show_name(name, name_len, shown, sizeof(shown));
	rc = 0;
	if (json_is_string(val)) {
		take_addresses(j, shown, val, 0, vline, vcol, addrs, &n);
	} else if (json_is_array(val)) {
		for (size_t i = 0; i < json_array_size(val); i++) {
			const json_t *el = json_array_get(val, i);

			if (json_is_string(el))
				take_addresses(j, shown, el, i + 1, vline,
					       vcol, addrs, &n);
			else
				imp_report(j->set, j->report, j->arg, vline,
					   vcol, "%s: array element %zu is "
					   "not a string", shown, i + 1);
		}
	} else {
		imp_report(j->set, j->report, j->arg, vline, vcol,
			   "%s: value is not an address string or an array "
			   "of them", shown);
		goto out;
	}
	if (n == 0 && zkh_name_valid(name, name_len))
		imp_report(j->set, j->report, j->arg, vline, vcol,
			   "%s: no valid address", shown);
	else	/* imp_add reports a bad name, with or without addresses */
		rc = imp_add(j->set, name, name_len, addrs, n, line, key_col,
			     j->report, j->arg);
out:
	json_decref(val);
	json_decref(key);
	return rc;
}

int imp_parse_json(const char *text, size_t len, struct imp_set *out,
		   imp_report_fn report, void *arg, struct imp_error *err)
{
	struct jp j = {
		.text = text, .p = text, .end = text + len,
		.set = out, .report = report, .arg = arg, .err = err,
		.seen = text, .line_start = text, .line = 1,
	};
	int rc;

	if ((rc = expect_char(&j, '{', "'{'")) < 0)
		return rc;
	skip_ws(&j);
	if (j.p < j.end && *j.p == '}') {
		j.p++;
	} else {
		for (;;) {
			if ((rc = read_member(&j)) < 0)
				return rc;
			skip_ws(&j);
			if (j.p < j.end && *j.p == ',') {
				j.p++;
				continue;
			}
			if ((rc = expect_char(&j, '}', "',' or '}'")) < 0)
				return rc;
			break;
		}
	}
	skip_ws(&j);
	if (j.p < j.end)
		return fail_at(&j, j.p, "trailing data after the object");
	return 0;
}

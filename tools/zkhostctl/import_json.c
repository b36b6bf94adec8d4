/*
 * import_json.c - a small strict JSON reader for `zkhostctl import`: the
 * document must be one object whose members map a host name to an address
 * string ("10.0.0.5" or "10.0.0.5, fd00::5") or an array of such strings.
 * Members of any other shape are skipped and reported (line:column);
 * anything that is not JSON at all stops the parse with line:column.
 * Bounded: strings up to JSON_STR_MAX bytes, nesting up to JSON_DEPTH_MAX
 * (only reached inside skipped values). Full RFC 8259 syntax is accepted
 * (escapes, \u sequences, numbers, literals); no allocation besides the
 * record set.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "zkhosts/names.h"
#include "importers.h"

#define JSON_STR_MAX 4096
#define JSON_DEPTH_MAX 64

struct jp {
	const char *p, *end, *line_start;
	unsigned line;
	struct imp_set *set;
	imp_report_fn report;
	void *arg;
	struct imp_error *err;
};

static unsigned col_of(const struct jp *j, const char *at)
{
	return (unsigned)(at - j->line_start) + 1;
}

__attribute__((format(printf, 2, 3)))
static int fail(struct jp *j, const char *fmt, ...)
{
	va_list ap;

	j->err->line = j->line;
	j->err->col = col_of(j, j->p);
	va_start(ap, fmt);
	vsnprintf(j->err->msg, sizeof(j->err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void skip_ws(struct jp *j)
{
	while (j->p < j->end) {
		char c = *j->p;

		if (c == '\n') {
			j->line++;
			j->line_start = j->p + 1;
		} else if (c != ' ' && c != '\t' && c != '\r') {
			break;
		}
		j->p++;
	}
}

static int expect_char(struct jp *j, char c, const char *what)
{
	skip_ws(j);
	if (j->p >= j->end)
		return fail(j, "unexpected end of input, expected %s", what);
	if (*j->p != c)
		return fail(j, "expected %s, found '%c'", what, *j->p);
	j->p++;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Read a string at j->p (which is at '"') into out (JSON_STR_MAX + 1, or
 * NULL to only check and skip it),
 * *len its length; non-ASCII text (raw or \u escaped) is kept as '?' so
 * that it fails name/address validation with a readable message.
 * *too_long is set if it did not fit (the rest is consumed).
 */
static int read_string(struct jp *j, char *out, size_t *len, bool *too_long)
{
	size_t n = 0;

	*too_long = false;
	if (j->p >= j->end)
		return fail(j, "unexpected end of input, expected a string");
	if (*j->p != '"')
		return fail(j, "expected a string");
	j->p++;
	for (;;) {
		char c;

		if (j->p >= j->end)
			return fail(j, "unterminated string");
		c = *j->p;
		if (c == '"') {
			j->p++;
			break;
		}
		if ((unsigned char)c < 0x20)
			return fail(j, "control character in a string");
		if (c == '\\') {
			if (j->end - j->p < 2)
				return fail(j, "unterminated string");
			j->p++;
			switch (*j->p) {
			case '"': c = '"'; break;
			case '\\': c = '\\'; break;
			case '/': c = '/'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': {
				int v = 0;

				if (j->end - j->p < 5)
					return fail(j, "bad \\u escape");
				for (int i = 1; i <= 4; i++) {
					int h = hexval(j->p[i]);

					if (h < 0)
						return fail(j, "bad \\u escape");
					v = v * 16 + h;
				}
				j->p += 4;
				c = v < 0x80 ? (char)v : '?';
				break;
			}
			default:
				return fail(j, "bad escape '\\%c'", *j->p);
			}
		} else if ((unsigned char)c >= 0x80) {
			c = '?';
		}
		j->p++;
		if (n < JSON_STR_MAX) {
			if (out)
				out[n] = c;
			n++;
		} else {
			*too_long = true;
		}
	}
	if (out)
		out[n] = '\0';
	*len = n;
	return 0;
}

static int skip_value(struct jp *j, int depth);

static int skip_container(struct jp *j, char close, int depth)
{
	size_t len;
	bool tl;
	int rc;

	if (depth > JSON_DEPTH_MAX)
		return fail(j, "nested deeper than %d", JSON_DEPTH_MAX);
	j->p++;
	skip_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return 0;
	}
	for (;;) {
		skip_ws(j);
		if (close == '}') {
			if ((rc = read_string(j, NULL, &len, &tl)) < 0 ||
			    (rc = expect_char(j, ':', "':'")) < 0)
				return rc;
		}
		if ((rc = skip_value(j, depth + 1)) < 0)
			return rc;
		skip_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		return expect_char(j, close, close == '}' ? "',' or '}'" :
				   "',' or ']'");
	}
}

static int skip_literal(struct jp *j)
{
	static const char *const words[] = { "true", "false", "null" };
	const char *start = j->p;

	for (size_t i = 0; i < 3; i++) {
		size_t n = strlen(words[i]);

		if ((size_t)(j->end - j->p) >= n &&
		    memcmp(j->p, words[i], n) == 0) {
			j->p += n;
			return 0;
		}
	}
	/* number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0') {
		j->p++;
	} else if (j->p < j->end && *j->p >= '1' && *j->p <= '9') {
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	} else {
		j->p = start;
		return fail(j, "expected a value");
	}
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return fail(j, "bad number");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return fail(j, "bad number");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	return 0;
}

static int skip_value(struct jp *j, int depth)
{
	size_t len;
	bool tl;

	skip_ws(j);
	if (j->p >= j->end)
		return fail(j, "unexpected end of input, expected a value");
	switch (*j->p) {
	case '{':
		return skip_container(j, '}', depth);
	case '[':
		return skip_container(j, ']', depth);
	case '"':
		return read_string(j, NULL, &len, &tl);
	default:
		return skip_literal(j);
	}
}

/* Add the addresses of one string value to addrs[*n]. */
static void take_addresses(struct jp *j, const char *name, const char *s,
			   size_t len, bool too_long, unsigned line,
			   unsigned col, struct zkh_addr *addrs, size_t *n)
{
	struct zkh_addrlist_report rep;
	struct zkh_addr got[ZKH_MAX_ADDRS];
	size_t k;

	if (too_long) {
		imp_report(j->set, j->report, j->arg, line, col,
			   "%s: address string longer than %d bytes",
			   name, JSON_STR_MAX);
		return;
	}
	memset(&rep, 0, sizeof(rep));
	k = zkh_addrlist_parse(s, len, got, ZKH_MAX_ADDRS, &rep);
	if (rep.invalid)
		imp_report(j->set, j->report, j->arg, line, col,
			   "%s: '%s' is not an IPv4 or IPv6 address%s", name,
			   rep.first_invalid,
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

/* One member "name": value of the top-level object. */
static int read_member(struct jp *j)
{
	char name[JSON_STR_MAX + 1], s[JSON_STR_MAX + 1], shown[300];
	struct zkh_addr addrs[ZKH_MAX_ADDRS];
	size_t name_len, len, n = 0;
	bool tl, name_tl;
	unsigned line, col, key_col;
	int rc;

	skip_ws(j);
	line = j->line;
	key_col = col_of(j, j->p);
	if ((rc = read_string(j, name, &name_len, &name_tl)) < 0 ||
	    (rc = expect_char(j, ':', "':'")) < 0)
		return rc;
	skip_ws(j);
	snprintf(shown, sizeof(shown), "%.260s%s", name,
		 name_tl || name_len > 260 ? "..." : "");
	for (char *q = shown; *q; q++)
		if ((unsigned char)*q < 0x20)
			*q = '?';
	col = j->p < j->end ? col_of(j, j->p) : 0;
	if (j->p < j->end && *j->p == '"') {
		if ((rc = read_string(j, s, &len, &tl)) < 0)
			return rc;
		take_addresses(j, shown, s, len, tl, line, col, addrs, &n);
	} else if (j->p < j->end && *j->p == '[') {
		j->p++;
		skip_ws(j);
		if (j->p < j->end && *j->p == ']') {
			j->p++;
		} else {
			for (;;) {
				skip_ws(j);
				unsigned el = j->line, ec = col_of(j, j->p);

				if (j->p < j->end && *j->p == '"') {
					if ((rc = read_string(j, s, &len,
							      &tl)) < 0)
						return rc;
					take_addresses(j, shown, s, len, tl,
						       el, ec, addrs, &n);
				} else {
					if ((rc = skip_value(j, 1)) < 0)
						return rc;
					imp_report(j->set, j->report, j->arg,
						   el, ec, "%s: array element "
						   "is not a string",
						   shown);
				}
				skip_ws(j);
				if (j->p < j->end && *j->p == ',') {
					j->p++;
					continue;
				}
				if ((rc = expect_char(j, ']',
						      "',' or ']'")) < 0)
					return rc;
				break;
			}
		}
	} else {
		if ((rc = skip_value(j, 1)) < 0)
			return rc;
		imp_report(j->set, j->report, j->arg, line, col,
			   "%s: value is not an address string or an array "
			   "of them", shown);
		return 0;
	}
	if (name_tl) {
		imp_report(j->set, j->report, j->arg, line, key_col,
			   "bad host name '%s': too long", shown);
		return 0;
	}
	if (n == 0) {
		if (zkh_name_valid(name, name_len))
			imp_report(j->set, j->report, j->arg, line, col,
				   "%s: no valid address", shown);
		else
			return imp_add(j->set, name, name_len, NULL, 0, line,
				       key_col, j->report, j->arg);
		return 0;
	}
	return imp_add(j->set, name, name_len, addrs, n, line, key_col,
		       j->report, j->arg);
}

int imp_parse_json(const char *text, size_t len, struct imp_set *out,
		   imp_report_fn report, void *arg, struct imp_error *err)
{
	struct jp j = {
		.p = text, .end = text + len, .line_start = text, .line = 1,
		.set = out, .report = report, .arg = arg, .err = err,
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
		return fail(&j, "trailing data after the object");
	return 0;
}

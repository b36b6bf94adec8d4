/*
 * importers.c - the record set behind `zkhostctl import`: entries are
 * collected as they are parsed, then sorted by folded name (stable: file
 * order breaks ties) and merged, so several lines or keys for one name
 * become one record with the addresses in order of appearance. Also the
 * hosts-file parser and the format detection; the JSON parser is in
 * import_json.c. Contract: importers.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zkhosts/names.h"
#include "importers.h"

void imp_report(struct imp_set *s, imp_report_fn report, void *arg,
		unsigned line, unsigned col, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	s->skipped++;
	if (report)
		report(arg, line, col, why);
}

/* Printable, bounded copy of an untrusted token for a message. */
static const char *shown(const char *s, size_t len, char *buf, size_t cap)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 4 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[o++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	if (i < len && o + 4 <= cap) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

int imp_add(struct imp_set *s, const char *name, size_t name_len,
	    const struct zkh_addr *addrs, size_t n, unsigned line,
	    unsigned col, imp_report_fn report, void *arg)
{
	const char *why = zkh_name_problem(name, name_len);
	struct imp_record *r;
	char buf[80];

	if (why) {
		imp_report(s, report, arg, line, col, "bad host name '%s': %s",
			   shown(name, name_len, buf, sizeof(buf)), why);
		return 0;
	}
	if (n == 0)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct imp_record *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	r = &s->v[s->n];
	if (name[name_len - 1] == '.')
		name_len--;
	memcpy(r->name, name, name_len);
	r->name[name_len] = '\0';
	zkh_name_fold(name, name_len, r->folded);
	if (n > ZKH_MAX_ADDRS)
		n = ZKH_MAX_ADDRS;	/* callers report what they drop */
	memcpy(r->addrs, addrs, n * sizeof(*addrs));
	r->naddrs = n;
	r->line = line;
	r->seq = s->n;
	s->n++;
	return 0;
}

/* Stable order: folded name, then position (merge in file order). */
static int cmp_rec(const void *a, const void *b)
{
	const struct imp_record *x = a, *y = b;
	int c = strcmp(x->folded, y->folded);

	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool same_addr(const struct zkh_addr *a, const struct zkh_addr *b)
{
	return a->family == b->family &&
	       memcmp(a->bytes, b->bytes, zkh_addr_len(a->family)) == 0;
}

/* Sort, then fold each run of one name into its first record. */
static void merge(struct imp_set *s, imp_report_fn report, void *arg)
{
	size_t out = 0;

	if (s->n == 0)
		return;	/* s->v may be NULL: qsort(NULL, 0) is undefined */
	qsort(s->v, s->n, sizeof(*s->v), cmp_rec);
	for (size_t i = 0; i < s->n; i++) {
		struct imp_record *r = &s->v[i];

		if (out > 0 && strcmp(s->v[out - 1].folded, r->folded) == 0) {
			struct imp_record *m = &s->v[out - 1];

			for (size_t k = 0; k < r->naddrs; k++) {
				bool dup = false;

				for (size_t j = 0; j < m->naddrs && !dup; j++)
					dup = same_addr(&m->addrs[j],
							&r->addrs[k]);
				if (dup)
					continue;
				if (m->naddrs == ZKH_MAX_ADDRS) {
					char a[64];

					imp_report(s, report, arg, r->line, 0,
						   "%s: more than %d addresses,"
						   " dropped %s", m->name,
						   ZKH_MAX_ADDRS,
						   zkh_addr_format(&r->addrs[k],
								   a,
								   sizeof(a)));
					continue;
				}
				m->addrs[m->naddrs++] = r->addrs[k];
			}
			if (r->line < m->line)
				m->line = r->line;
			continue;
		}
		if (out != i)
			s->v[out] = *r;
		out++;
	}
	s->n = out;
}

/* ---- hosts file ------------------------------------------------------------ */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int parse_hosts(const char *text, size_t len, struct imp_set *s,
		       imp_report_fn report, void *arg)
{
	const char *p = text, *end = text + len;
	unsigned lineno = 0;
	int rc;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		const char *hash = memchr(p, '#', (size_t)(e - p));
		const char *tok[2] = { NULL, NULL };
		size_t toklen = 0;
		struct zkh_addr a;
		char buf[80];
		bool named = false;

		lineno++;
		if (hash)
			e = hash;
		/* first token: the address */
		while (p < e && is_blank(*p))
			p++;
		if (p == e)
			goto next;
		tok[0] = p;
		while (p < e && !is_blank(*p))
			p++;
		toklen = (size_t)(p - tok[0]);
		if (zkh_addr_parse(tok[0], toklen, &a) < 0) {
			imp_report(s, report, arg, lineno, 0,
				   "'%s' is not an IPv4 or IPv6 address",
				   shown(tok[0], toklen, buf, sizeof(buf)));
			goto next;
		}
		/* the names and aliases */
		for (;;) {
			while (p < e && is_blank(*p))
				p++;
			if (p == e)
				break;
			tok[1] = p;
			while (p < e && !is_blank(*p))
				p++;
			rc = imp_add(s, tok[1], (size_t)(p - tok[1]), &a, 1,
				     lineno, 0, report, arg);
			if (rc < 0)
				return rc;
			named = true;
		}
		if (!named)
			imp_report(s, report, arg, lineno, 0,
				   "address %s has no host name",
				   shown(tok[0], toklen, buf, sizeof(buf)));
next:
		p = nl ? nl + 1 : end;
	}
	return 0;
}

int imp_parse(const char *text, size_t len, enum imp_format format,
	      struct imp_set *out, imp_report_fn report, void *arg,
	      struct imp_error *err, enum imp_format *fmt_used)
{
	const char *nul = memchr(text, '\0', len);
	int rc;

	memset(err, 0, sizeof(*err));
	if (nul) {
		unsigned line = 1;

		for (const char *q = text; q < nul; q++)
			line += *q == '\n';
		err->line = line;
		snprintf(err->msg, sizeof(err->msg),
			 "NUL byte: not a text file");
		return -EINVAL;
	}
	if (format == IMP_AUTO) {
		size_t i = 0;

		while (i < len && (is_blank(text[i]) || text[i] == '\n'))
			i++;
		format = i < len && text[i] == '{' ? IMP_JSON : IMP_HOSTS;
	}
	if (fmt_used)
		*fmt_used = format;
	if (format == IMP_JSON)
		rc = imp_parse_json(text, len, out, report, arg, err);
	else
		rc = parse_hosts(text, len, out, report, arg);
	if (rc == 0)
		merge(out, report, arg);
	return rc;
}

const struct imp_record *imp_find(const struct imp_set *s, const char *name)
{
	char folded[ZKH_NAME_MAX + 1];
	size_t lo = 0, hi = s->n;

	if (zkh_name_fold(name, strlen(name), folded) < 0)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(s->v[mid].folded, folded);

		if (c == 0)
			return &s->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void imp_set_free(struct imp_set *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

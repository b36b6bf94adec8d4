/*
 * config.c - reading /etc/zkhosts.conf (see config.h for the format). The
 * same parser serves the daemon and tools (STRICT: every problem is an
 * error naming file, line and key) and the NSS module (MODULE: only `cache`
 * matters; everything else is skipped). Because it runs inside every
 * process through the module it is pure apart from zkh_config_load, which
 * uses only open/fstat/read/close: no stdio, no allocation (text is parsed
 * line by line from a fixed stack buffer), no logging, no locale, no global
 * state.
 *
 * Decisions recorded here:
 *  - a comment starts at a '#' that begins the line or follows whitespace;
 *    a '#' inside a word ("host#1") is part of the value;
 *  - lines are at most ZKH_CONF_LINE_MAX bytes; a line holding a control
 *    byte other than tab/CR/VT/FF (e.g. NUL) is an error;
 *  - root: starts with '/', is not "/", no trailing '/', no empty, "." or
 *    ".." component, printable ASCII without spaces;
 *  - cache, auth_file, metrics_file: absolute paths; trailing slashes of
 *    cache are dropped and "/" is refused;
 *  - domain: a host name, stored lowercase without its trailing dot;
 *  - register: NAME then addresses separated by whitespace and/or commas,
 *    all valid, distinct, at most ZKH_MAX_ADDRS; the name keeps its case
 *    and loses a trailing dot;
 *  - fsync: yes/no/true/false/on/off/1/0 (ASCII case-insensitive);
 *  - acl: checked here entry by entry (zkh_acl_parse) so a typo is an
 *    error naming the entry, not a ZooKeeper refusal at the first create;
 *    only what ZooKeeper's stock providers accept (world:anyone, digest
 *    with a well-formed SHA-1/base64 hash, ip with an optional prefix);
 *  - dns_listen: items separated by commas/whitespace, each an IPv4
 *    address with an optional ":port", "[IPv6]:port", or a bare IPv6
 *    address (port 53); ports 1..65535; no item twice;
 *  - dns_reverse_zones: "auto", "none" or prefixes "ADDR/BITS" on octet
 *    (IPv4) or nibble (IPv6) boundaries with the host bits zero, since a
 *    reverse zone is a whole name under in-addr.arpa or ip6.arpa;
 *  - a key given twice is an error (STRICT; `cache` also in MODULE mode);
 *  - MODULE mode returns -EINVAL for a bad or duplicate `cache`, so the
 *    module answers UNAVAIL instead of reading some other directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zkhosts/config.h"
#include "zkhosts/names.h"

#define ZKH_CONF_FILE_MAX (1024 * 1024)
#define ZKH_CONF_LINE_MAX 8191

/* ---- ASCII and bounded-string helpers --------------------------------- */

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_bad_control(unsigned char c)
{
	return (c < 0x20 && !is_ws((char)c)) || c == 0x7f;
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool word_eq(const char *s, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	if (n != l)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(s[i]) != lit[i])
			return false;
	return true;
}

static void trim(const char **s, size_t *n)
{
	while (*n > 0 && is_ws((*s)[0])) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_ws((*s)[*n - 1]))
		(*n)--;
}

/* Bounded append: always NUL-terminated, silently truncated. */
struct sbuf {
	char *p;
	size_t cap, len;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->cap == 0)
		return;
	for (size_t i = 0; i < n && b->len + 1 < b->cap; i++)
		b->p[b->len++] = s[i];
	b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_uint(struct sbuf *b, unsigned long v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	sb_put(b, tmp + i, sizeof(tmp) - i);
}

/* Printable rendering of untrusted text: non-printables as \xHH, at most
 * `max` source bytes, then "...". */
static void sb_printable(struct sbuf *b, const char *s, size_t n, size_t max)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f) {
			sb_put(b, (const char *)&c, 1);
		} else {
			char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 0xf] };

			sb_put(b, e, 4);
		}
	}
	if (n > max)
		sb_str(b, "...");
}

/* ---- errors --------------------------------------------------------- */

/* What a value setter found wrong: a phrase, an optional detail, and the
 * offending token (defaults to the whole value). */
struct problem {
	const char *what;
	const char *detail;
	const char *tok;
	size_t toklen;
};

static void set_error(struct zkh_config_error *err, const char *file,
		      unsigned line, const char *key, size_t keylen,
		      const char *msg, const struct problem *p)
{
	struct sbuf b;

	memset(err, 0, sizeof(*err));
	b = (struct sbuf){ err->file, sizeof(err->file), 0 };
	sb_str(&b, file ? file : "");
	err->line = line;
	b = (struct sbuf){ err->key, sizeof(err->key), 0 };
	sb_printable(&b, key, keylen, 40);
	b = (struct sbuf){ err->msg, sizeof(err->msg), 0 };
	sb_str(&b, msg);
	if (p != NULL && p->detail != NULL) {
		sb_str(&b, " (");
		sb_str(&b, p->detail);
		sb_str(&b, ")");
	}
	if (p != NULL && p->tok != NULL) {
		sb_str(&b, ": '");
		sb_printable(&b, p->tok, p->toklen, 80);
		sb_str(&b, "'");
	}
}

char *zkh_config_strerror(const struct zkh_config_error *err, char *out,
			  size_t cap)
{
	struct sbuf b = { out, cap, 0 };

	if (out == NULL || cap == 0)
		return out;
	out[0] = '\0';
	if (err == NULL)
		return out;
	if (err->file[0] != '\0') {
		sb_str(&b, err->file);
		if (err->line > 0) {
			sb_str(&b, ":");
			sb_uint(&b, err->line);
		}
		sb_str(&b, ": ");
	} else if (err->line > 0) {
		sb_str(&b, "line ");
		sb_uint(&b, err->line);
		sb_str(&b, ": ");
	}
	if (err->key[0] != '\0') {
		sb_str(&b, "key '");
		sb_str(&b, err->key);
		sb_str(&b, "': ");
	}
	sb_str(&b, err->msg[0] ? err->msg : "error");
	return out;
}

/* ---- value setters -------------------------------------------------- */

/* Copy n bytes and a NUL into a field of `cap` bytes; false if too long. */
static bool copy_field(char *dst, size_t cap, const char *s, size_t n)
{
	if (n + 1 > cap)
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

static bool parse_uint(const char *s, size_t n, long lo, long hi, int *out)
{
	long v = 0;

	if (n == 0 || n > 9)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		return false;
	*out = (int)v;
	return true;
}

static const char *set_zookeeper(struct zkh_config *c, const char *v,
				 size_t n, struct problem *p)
{
	(void)p;
	for (size_t i = 0; i < n; i++)
		if (is_ws(v[i]))
			return "must not contain whitespace";
	if (!copy_field(c->zookeeper, sizeof(c->zookeeper), v, n))
		return "too long (at most 1023 characters)";
	return NULL;
}

static const char *set_root(struct zkh_config *c, const char *v, size_t n,
			    struct problem *p)
{
	size_t comp = 0;

	(void)p;
	if (v[0] != '/')
		return "must start with '/'";
	if (n == 1)
		return "must not be '/' itself";
	if (v[n - 1] == '/')
		return "must not end with '/'";
	for (size_t i = 1; i <= n; i++) {
		if (i == n || v[i] == '/') {
			const char *cs = v + i - comp;

			if (comp == 0)
				return "has an empty path component";
			if ((comp == 1 && cs[0] == '.') ||
			    (comp == 2 && cs[0] == '.' && cs[1] == '.'))
				return "has a '.' or '..' component";
			comp = 0;
			continue;
		}
		if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] >= 0x7f)
			return "may hold only printable ASCII without spaces";
		comp++;
	}
	if (!copy_field(c->root, sizeof(c->root), v, n))
		return "too long (at most 511 characters)";
	return NULL;
}

static const char *check_abs_path(const char *v, size_t n)
{
	if (v[0] != '/')
		return "must be an absolute path";
	if (n + 1 > ZKH_PATH_MAX)
		return "too long (at most 4095 characters)";
	return NULL;
}

static const char *set_cache(struct zkh_config *c, const char *v, size_t n,
			     struct problem *p)
{
	const char *why = check_abs_path(v, n);

	(void)p;
	if (why != NULL)
		return why;
	while (n > 1 && v[n - 1] == '/')
		n--;
	if (n == 1)
		return "must not be the root directory";
	copy_field(c->cache, sizeof(c->cache), v, n);
	return NULL;
}

static const char *set_auth_file(struct zkh_config *c, const char *v,
				 size_t n, struct problem *p)
{
	const char *why = check_abs_path(v, n);

	(void)p;
	if (why == NULL && v[n - 1] == '/')
		why = "must name a file, not a directory";
	if (why == NULL)
		copy_field(c->auth_file, sizeof(c->auth_file), v, n);
	return why;
}

static const char *set_metrics_file(struct zkh_config *c, const char *v,
				    size_t n, struct problem *p)
{
	const char *why = check_abs_path(v, n);

	(void)p;
	if (why == NULL && v[n - 1] == '/')
		why = "must name a file, not a directory";
	if (why == NULL)
		copy_field(c->metrics_file, sizeof(c->metrics_file), v, n);
	return why;
}

static const char *set_domain(struct zkh_config *c, const char *v, size_t n,
			      struct problem *p)
{
	char folded[ZKH_NAME_MAX + 1];
	int len;

	p->detail = zkh_name_problem(v, n);
	if (p->detail != NULL)
		return "not a valid domain name";
	len = zkh_name_fold(v, n, folded);
	/* the name and its NUL only: the rest of `folded` is uninitialised */
	memcpy(c->domain, folded, (size_t)len + 1);
	return NULL;
}

static const char *set_session_timeout(struct zkh_config *c, const char *v,
				       size_t n, struct problem *p)
{
	(void)p;
	if (!parse_uint(v, n, 1000, 600000, &c->session_timeout))
		return "must be an integer from 1000 to 600000 (ms)";
	return NULL;
}

static const char *set_publish_delay(struct zkh_config *c, const char *v,
				     size_t n, struct problem *p)
{
	(void)p;
	if (!parse_uint(v, n, 0, 10000, &c->publish_delay))
		return "must be an integer from 0 to 10000 (ms)";
	return NULL;
}

static const char *set_max_records(struct zkh_config *c, const char *v,
				   size_t n, struct problem *p)
{
	(void)p;
	if (!parse_uint(v, n, 1, 100000000, &c->max_records))
		return "must be an integer from 1 to 100000000 (records)";
	return NULL;
}

static const char *set_indexer(struct zkh_config *c, const char *v, size_t n,
			       struct problem *p)
{
	(void)p;
	if (word_eq(v, n, "auto"))
		c->indexer = ZKH_INDEXER_AUTO;
	else if (word_eq(v, n, "yes"))
		c->indexer = ZKH_INDEXER_YES;
	else if (word_eq(v, n, "no"))
		c->indexer = ZKH_INDEXER_NO;
	else
		return "must be auto, yes or no";
	return NULL;
}

static const char *set_indexers(struct zkh_config *c, const char *v, size_t n,
				struct problem *p)
{
	(void)p;
	if (!parse_uint(v, n, 1, 16, &c->indexers))
		return "must be an integer from 1 to 16 (election slots)";
	return NULL;
}

static const char *set_index_fallback_max(struct zkh_config *c, const char *v,
					  size_t n, struct problem *p)
{
	(void)p;
	if (!parse_uint(v, n, 0, 1000000, &c->index_fallback_max))
		return "must be an integer from 0 to 1000000 (hosts)";
	return NULL;
}

static const char *set_watches_per_session(struct zkh_config *c, const char *v,
					   size_t n, struct problem *p)
{
	(void)p;
	if (!parse_uint(v, n, 10, 1000000, &c->watches_per_session))
		return "must be an integer from 10 to 1000000 (data watches per "
		       "ZooKeeper session)";
	return NULL;
}

static const char *set_fsync(struct zkh_config *c, const char *v, size_t n,
			     struct problem *p)
{
	(void)p;
	if (word_eq(v, n, "yes") || word_eq(v, n, "true") ||
	    word_eq(v, n, "on") || word_eq(v, n, "1"))
		c->fsync = true;
	else if (word_eq(v, n, "no") || word_eq(v, n, "false") ||
		 word_eq(v, n, "off") || word_eq(v, n, "0"))
		c->fsync = false;
	else
		return "must be yes or no";
	return NULL;
}

static bool is_reg_sep(char ch)
{
	return is_ws(ch) || ch == ',';
}

static const char *set_register(struct zkh_config *c, const char *v,
				size_t n, struct problem *p)
{
	struct zkh_addr addrs[ZKH_MAX_ADDRS];
	size_t naddr = 0, i = 0, nlen;
	const char *name = v;

	while (i < n && !is_ws(v[i]))
		i++;
	nlen = i;
	p->detail = zkh_name_problem(name, nlen);
	if (p->detail != NULL) {
		p->tok = name;
		p->toklen = nlen;
		return "not a valid host name";
	}
	while (i < n) {
		struct zkh_addr a;
		size_t start;

		if (is_reg_sep(v[i])) {
			i++;
			continue;
		}
		start = i;
		while (i < n && !is_reg_sep(v[i]))
			i++;
		p->tok = v + start;
		p->toklen = i - start;
		if (zkh_addr_parse(v + start, i - start, &a) != 0)
			return "not a valid IPv4 or IPv6 address";
		for (size_t k = 0; k < naddr; k++)
			if (addrs[k].family == a.family &&
			    memcmp(addrs[k].bytes, a.bytes, 16) == 0)
				return "address given twice";
		if (naddr == ZKH_MAX_ADDRS)
			return "more than 32 addresses";
		addrs[naddr++] = a;
	}
	if (name[nlen - 1] == '.')
		nlen--;
	copy_field(c->register_name, sizeof(c->register_name), name, nlen);
	memcpy(c->register_addrs, addrs, naddr * sizeof(addrs[0]));
	c->register_naddrs = naddr;
	return NULL;
}

/* ---- ACLs ------------------------------------------------------------ */

static bool is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Value of a base64 digit (is_b64 holds). */
static unsigned b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return (unsigned)(c - 'A');
	if (c >= 'a' && c <= 'z')
		return (unsigned)(c - 'a') + 26;
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0') + 52;
	return c == '+' ? 62 : 63;
}

/* "USER:HASH" of a digest id: USER printable ASCII without ':', ',' or
 * spaces; HASH the canonical base64 of 20 bytes (27 digits, the last
 * with its two low bits clear, and one '='). */
static const char *check_digest_id(const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	size_t ulen, hlen;
	const char *h;

	if (colon == NULL)
		return "digest id must be USER:HASH";
	ulen = (size_t)(colon - s);
	h = colon + 1;
	hlen = n - ulen - 1;
	if (ulen == 0)
		return "digest id has an empty user name";
	for (size_t i = 0; i < ulen; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f ||
		    s[i] == ',')
			return "digest user name must be printable ASCII without "
			       "spaces, ',' or ':'";
	if (hlen != 28 || h[27] != '=')
		return "digest hash must be 28 base64 characters ending in '=' "
		       "(base64 of SHA-1 of USER:PASSWORD)";
	for (size_t i = 0; i < 27; i++)
		if (!is_b64(h[i]))
			return "digest hash is not base64";
	if (b64_val(h[26]) & 3)
		return "digest hash is not the base64 of 20 bytes";
	return NULL;
}

/* "ADDR" or "ADDR/BITS" of an ip id. */
static const char *check_ip_id(const char *s, size_t n)
{
	const char *slash = memchr(s, '/', n);
	size_t alen = slash ? (size_t)(slash - s) : n;
	struct zkh_addr a;
	int bits;

	if (zkh_addr_parse(s, alen, &a) != 0)
		return "ip id must be an IPv4 or IPv6 address, optionally /BITS";
	if (slash != NULL &&
	    !parse_uint(slash + 1, n - alen - 1, 0,
			a.family == AF_INET ? 32 : 128, &bits))
		return "ip prefix length out of range";
	return NULL;
}

static const char *parse_perms(const char *s, size_t n, uint32_t *out)
{
	static const char letters[] = "cdrwa";
	static const uint32_t bits[] = { ZKH_PERM_CREATE, ZKH_PERM_DELETE,
					 ZKH_PERM_READ, ZKH_PERM_WRITE,
					 ZKH_PERM_ADMIN };
	uint32_t perms = 0;

	if (n == 0)
		return "missing permissions (want letters of cdrwa)";
	for (size_t i = 0; i < n; i++) {
		const char *l = memchr(letters, s[i], sizeof(letters) - 1);
		uint32_t bit;

		if (l == NULL)
			return "bad permission letter (want letters of cdrwa)";
		bit = bits[l - letters];
		if (perms & bit)
			return "permission letter given twice";
		perms |= bit;
	}
	*out = perms;
	return NULL;
}

/* One trimmed entry "SCHEME:ID:PERMS" into *e. On a bad digest id the
 * entry is named only up to "digest:USER:" (*toklen): what follows may
 * be a password written where its hash belongs, and errors get logged. */
static const char *parse_acl_entry(const char *s, size_t n,
				   struct zkh_acl_entry *e, size_t *toklen)
{
	const char *c1 = memchr(s, ':', n), *c2 = NULL, *id, *why;
	size_t slen, idlen;

	for (size_t i = n; i > 0; i--)
		if (s[i - 1] == ':') {
			c2 = s + i - 1;
			break;
		}
	if (c1 == NULL || c2 == c1)
		return "want SCHEME:ID:PERMS";
	slen = (size_t)(c1 - s);
	id = c1 + 1;
	idlen = (size_t)(c2 - id);
	for (size_t i = 0; i < n; i++)
		if (is_ws(s[i]))
			return "whitespace inside an entry";
	why = parse_perms(c2 + 1, n - (size_t)(c2 + 1 - s), &e->perms);
	if (why != NULL)
		return why;
	if (word_eq(s, slen, "world")) {
		if (idlen != 6 || memcmp(id, "anyone", 6) != 0)
			return "the world scheme's only id is 'anyone'";
	} else if (word_eq(s, slen, "digest")) {
		why = check_digest_id(id, idlen);
		if (why != NULL) {
			const char *uc = memchr(id, ':', idlen);

			if (uc != NULL)
				*toklen = (size_t)(uc + 1 - s);
		}
	} else if (word_eq(s, slen, "ip")) {
		why = check_ip_id(id, idlen);
	} else {
		return "unknown scheme (want world, digest or ip)";
	}
	if (why != NULL)
		return why;
	if (idlen + 1 > sizeof(e->id))
		return "id too long";
	for (size_t i = 0; i < slen; i++)
		e->scheme[i] = lower(s[i]);
	e->scheme[slen] = '\0';
	copy_field(e->id, sizeof(e->id), id, idlen);
	return NULL;
}

int zkh_acl_parse(const char *text, size_t len, struct zkh_acl *out,
		  const char **why, const char **tok, size_t *toklen)
{
	struct zkh_acl acl;
	size_t pos = 0;

	memset(&acl, 0, sizeof(acl));
	*tok = text;
	*toklen = len;
	for (;;) {
		const char *comma = memchr(text + pos, ',', len - pos);
		size_t end = comma ? (size_t)(comma - text) : len;
		const char *s = text + pos;
		size_t n = end - pos;

		trim(&s, &n);
		*tok = s;
		*toklen = n;
		if (n == 0) {
			*why = "empty entry";
			return -EINVAL;
		}
		if (acl.n == ZKH_ACL_MAX) {
			*why = "more than 8 entries";
			return -EINVAL;
		}
		*why = parse_acl_entry(s, n, &acl.e[acl.n], toklen);
		if (*why != NULL)
			return -EINVAL;
		for (size_t i = 0; i < acl.n; i++)
			if (strcmp(acl.e[i].scheme, acl.e[acl.n].scheme) == 0 &&
			    strcmp(acl.e[i].id, acl.e[acl.n].id) == 0) {
				*why = "id given twice";
				return -EINVAL;
			}
		acl.n++;
		if (comma == NULL)
			break;
		pos = end + 1;
	}
	*why = NULL;
	*out = acl;
	return 0;
}

static const char *set_acl(struct zkh_config *c, const char *v, size_t n,
			   struct problem *p)
{
	const char *why;

	if (zkh_acl_parse(v, n, &c->acl, &why, &p->tok, &p->toklen) != 0)
		return why;
	return NULL;
}

/* One dns_listen item: "A.B.C.D[:PORT]", "[V6]:PORT" or "V6". */
static const char *parse_endpoint(const char *v, size_t n,
				  struct zkh_dns_endpoint *ep)
{
	const char *a = v, *port = NULL;
	size_t alen = n, plen = 0;
	int pv;

	if (n > 0 && v[0] == '[') {
		const char *close = memchr(v, ']', n);

		if (close == NULL)
			return "'[' without ']'";
		a = v + 1;
		alen = (size_t)(close - v) - 1;
		if ((size_t)(close - v) + 1 < n) {
			if (close[1] != ':')
				return "expected ':PORT' after ']'";
			port = close + 2;
			plen = n - (size_t)(close - v) - 2;
		}
	} else {
		const char *colon = memchr(v, ':', n);

		/* one ':' only: IPv4 with a port; more: a bare IPv6 */
		if (colon != NULL &&
		    memchr(colon + 1, ':', n - (size_t)(colon - v) - 1) == NULL) {
			alen = (size_t)(colon - v);
			port = colon + 1;
			plen = n - alen - 1;
		}
	}
	memset(ep, 0, sizeof(*ep));
	if (zkh_addr_parse(a, alen, &ep->addr) != 0)
		return "not a valid IPv4 or IPv6 address";
	ep->port = ZKH_DEFAULT_DNS_PORT;
	if (port != NULL) {
		if (!parse_uint(port, plen, 1, 65535, &pv))
			return "port must be an integer from 1 to 65535";
		ep->port = (uint16_t)pv;
	}
	return NULL;
}

static bool is_list_sep(char ch)
{
	return is_ws(ch) || ch == ',';
}

/* The next item of a list separated by commas and/or whitespace, from
 * v[*i] on: true with p->tok/p->toklen set to it (so an error names it)
 * and *i past it; false at the end. */
static bool next_list_item(const char *v, size_t n, size_t *i,
			   struct problem *p)
{
	size_t start;

	while (*i < n && is_list_sep(v[*i]))
		(*i)++;
	if (*i == n)
		return false;
	start = *i;
	while (*i < n && !is_list_sep(v[*i]))
		(*i)++;
	p->tok = v + start;
	p->toklen = *i - start;
	return true;
}

static const char *set_dns_listen(struct zkh_config *c, const char *v,
				  size_t n, struct problem *p)
{
	struct zkh_dns_endpoint eps[ZKH_DNS_LISTEN_MAX];
	size_t neps = 0, i = 0;

	while (next_list_item(v, n, &i, p)) {
		struct zkh_dns_endpoint ep;
		const char *why = parse_endpoint(p->tok, p->toklen, &ep);
		if (why != NULL)
			return why;
		for (size_t k = 0; k < neps; k++)
			if (eps[k].port == ep.port &&
			    eps[k].addr.family == ep.addr.family &&
			    memcmp(eps[k].addr.bytes, ep.addr.bytes, 16) == 0)
				return "address given twice";
		if (neps == ZKH_DNS_LISTEN_MAX)
			return "more than 8 addresses";
		eps[neps++] = ep;
	}
	if (neps == 0) {
		p->tok = NULL;
		return "no address";
	}
	memcpy(c->dns_listen, eps, neps * sizeof(eps[0]));
	c->dns_nlisten = neps;
	return NULL;
}

static const char *set_dns_ttl(struct zkh_config *c, const char *v,
			       size_t n, struct problem *p)
{
	(void)p;
	if (!parse_uint(v, n, 0, ZKH_DNS_TTL_MAX, &c->dns_ttl))
		return "must be an integer from 0 to 3600 (seconds)";
	return NULL;
}

static const char *set_dns_zone(struct zkh_config *c, const char *v,
				size_t n, struct problem *p)
{
	char folded[ZKH_NAME_MAX + 1];
	int len;

	p->detail = zkh_name_problem(v, n);
	if (p->detail != NULL)
		return "not a valid domain name";
	len = zkh_name_fold(v, n, folded);
	memcpy(c->dns_zone, folded, (size_t)len + 1);
	return NULL;
}

/* One reverse zone "ADDR/BITS". */
static const char *parse_prefix(const char *v, size_t n,
				struct zkh_dns_prefix *z)
{
	const char *slash = memchr(v, '/', n);
	size_t alen, len;
	int bits;

	if (slash == NULL)
		return "expected ADDRESS/BITS";
	alen = (size_t)(slash - v);
	memset(z, 0, sizeof(*z));
	if (zkh_addr_parse(v, alen, &z->addr) != 0)
		return "not a valid IPv4 or IPv6 address";
	len = zkh_addr_len(z->addr.family);
	if (!parse_uint(slash + 1, n - alen - 1, 1, (long)len * 8, &bits))
		return z->addr.family == AF_INET ?
		    "prefix length must be 8, 16, 24 or 32" :
		    "prefix length must be a multiple of 4 from 4 to 128";
	if (bits % (z->addr.family == AF_INET ? 8 : 4) != 0)
		return z->addr.family == AF_INET ?
		    "prefix length must be 8, 16, 24 or 32" :
		    "prefix length must be a multiple of 4 from 4 to 128";
	for (size_t i = 0; i < len; i++) {
		int keep = bits - (int)i * 8;
		uint8_t mask = keep >= 8 ? 0xff :
		    keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));

		if (z->addr.bytes[i] & (uint8_t)~mask)
			return "host bits set below the prefix length";
	}
	z->bits = (unsigned)bits;
	return NULL;
}

static const char *set_dns_reverse_zones(struct zkh_config *c,
					 const char *v, size_t n,
					 struct problem *p)
{
	struct zkh_dns_prefix zs[ZKH_DNS_REVZONES_MAX];
	size_t nz = 0, i = 0;

	if (word_eq(v, n, "auto") || word_eq(v, n, "none")) {
		c->dns_reverse = word_eq(v, n, "auto") ? ZKH_DNS_REV_AUTO :
		    ZKH_DNS_REV_NONE;
		c->dns_nreverse = 0;
		return NULL;
	}
	while (next_list_item(v, n, &i, p)) {
		struct zkh_dns_prefix z;
		const char *why = parse_prefix(p->tok, p->toklen, &z);
		if (why != NULL)
			return why;
		for (size_t k = 0; k < nz; k++)
			if (zs[k].bits == z.bits &&
			    zs[k].addr.family == z.addr.family &&
			    memcmp(zs[k].addr.bytes, z.addr.bytes, 16) == 0)
				return "zone given twice";
		if (nz == ZKH_DNS_REVZONES_MAX)
			return "more than 32 zones";
		zs[nz++] = z;
	}
	if (nz == 0) {
		p->tok = NULL;
		return "no zone (use auto, none or ADDRESS/BITS items)";
	}
	memcpy(c->dns_reverse_zones, zs, nz * sizeof(zs[0]));
	c->dns_nreverse = nz;
	c->dns_reverse = ZKH_DNS_REV_LIST;
	return NULL;
}

/* ---- keys and lines ------------------------------------------------- */

typedef const char *(*setter_fn)(struct zkh_config *c, const char *v,
				 size_t n, struct problem *p);

static const char *set_log_level(struct zkh_config *c, const char *v,
				 size_t n, struct problem *p)
{
	(void)p;
	if (word_eq(v, n, "error"))
		c->log_level = 3;
	else if (word_eq(v, n, "warning"))
		c->log_level = 4;
	else if (word_eq(v, n, "info"))
		c->log_level = 6;
	else if (word_eq(v, n, "debug"))
		c->log_level = 7;
	else
		return "must be error, warning, info or debug";
	return NULL;
}

static const struct key_def {
	const char *name;
	setter_fn set;
} keys[] = {
	{ "zookeeper", set_zookeeper },
	{ "root", set_root },
	{ "cache", set_cache },
	{ "domain", set_domain },
	{ "session_timeout", set_session_timeout },
	{ "register", set_register },
	{ "auth_file", set_auth_file },
	{ "metrics_file", set_metrics_file },
	{ "fsync", set_fsync },
	{ "publish_delay", set_publish_delay },
	{ "max_records", set_max_records },
	{ "acl", set_acl },
	{ "dns_listen", set_dns_listen },
	{ "dns_ttl", set_dns_ttl },
	{ "dns_zone", set_dns_zone },
	{ "dns_reverse_zones", set_dns_reverse_zones },
	{ "log_level", set_log_level },
	{ "indexer", set_indexer },
	{ "indexers", set_indexers },
	{ "index_fallback_max", set_index_fallback_max },
	{ "watches_per_session", set_watches_per_session },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))
#define CACHE_KEY 2

/* Parsing state carried across lines. */
struct parser {
	const char *file;
	enum zkh_config_mode mode;
	struct zkh_config *c;
	struct zkh_config_error *err;
	unsigned lineno;
	unsigned seen[NKEYS];	/* line where each key was set, 0 if not */
};

static int line_error(struct parser *ps, const char *key, size_t keylen,
		      const char *msg, const struct problem *p)
{
	set_error(ps->err, ps->file, ps->lineno, key, keylen, msg, p);
	return -EINVAL;
}

/* One line without its '\n'. Returns 0 or -EINVAL with *err filled. */
static int parse_line(struct parser *ps, const char *s, size_t n)
{
	bool strict = ps->mode == ZKH_CONFIG_STRICT;
	const char *key, *val, *eq;
	size_t klen, vlen, k;
	struct problem p = { 0 };
	const char *why;

	for (size_t i = 0; i < n; i++) {
		if (is_bad_control((unsigned char)s[i]))
			return strict ? line_error(ps, "", 0,
						   "control character in line",
						   NULL)
				      : 0;
	}
	/* comment: at the start, or a '#' after whitespace */
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '#' && (i == 0 || is_ws(s[i - 1]))) {
			n = i;
			break;
		}
	}
	trim(&s, &n);
	if (n == 0)
		return 0;
	eq = memchr(s, '=', n);
	if (eq == NULL) {
		klen = 0;
		while (klen < n && !is_ws(s[klen]))
			klen++;
		return strict ? line_error(ps, s, klen,
					   "missing '=' (expected 'key = value')",
					   NULL)
			      : 0;
	}
	key = s;
	klen = (size_t)(eq - s);
	val = eq + 1;
	vlen = n - klen - 1;
	trim(&key, &klen);
	trim(&val, &vlen);
	if (klen == 0)
		return strict ? line_error(ps, "", 0, "missing key before '='",
					   NULL)
			      : 0;
	for (k = 0; k < NKEYS; k++)
		if (klen == strlen(keys[k].name) &&
		    memcmp(key, keys[k].name, klen) == 0)
			break;
	if (k == NKEYS)
		return strict ? line_error(ps, key, klen, "unknown key", NULL)
			      : 0;
	if (!strict && k != CACHE_KEY)
		return 0;
	if (ps->seen[k] != 0) {
		char msg[64];
		struct sbuf b = { msg, sizeof(msg), 0 };

		sb_str(&b, "duplicate key (first set on line ");
		sb_uint(&b, ps->seen[k]);
		sb_str(&b, ")");
		return line_error(ps, key, klen, msg, NULL);
	}
	ps->seen[k] = ps->lineno;
	if (vlen == 0)
		return line_error(ps, key, klen, "empty value", NULL);
	p.tok = val;
	p.toklen = vlen;
	why = keys[k].set(ps->c, val, vlen, &p);
	if (why != NULL)
		return line_error(ps, key, klen, why, &p);
	return 0;
}

static void parser_init(struct parser *ps, const char *file,
			enum zkh_config_mode mode, struct zkh_config *c,
			struct zkh_config_error *err)
{
	memset(ps, 0, sizeof(*ps));
	ps->file = file ? file : "";
	ps->mode = mode;
	ps->c = c;
	ps->err = err;
}

/* A line longer than ZKH_CONF_LINE_MAX: an error, or skipped in MODULE. */
static int long_line(struct parser *ps)
{
	if (ps->mode != ZKH_CONFIG_STRICT)
		return 0;
	return line_error(ps, "", 0, "line longer than 8191 bytes", NULL);
}

void zkh_config_defaults(struct zkh_config *c)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->root, ZKH_DEFAULT_ROOT, sizeof(ZKH_DEFAULT_ROOT));
	memcpy(c->cache, ZKH_DEFAULT_CACHE, sizeof(ZKH_DEFAULT_CACHE));
	c->session_timeout = ZKH_DEFAULT_SESSION_TIMEOUT;
	c->publish_delay = ZKH_DEFAULT_PUBLISH_DELAY;
	c->max_records = ZKH_DEFAULT_MAX_RECORDS;
	c->log_level = 6;
	c->fsync = false;
	c->dns_nlisten = 1;
	c->dns_listen[0].addr.family = AF_INET;
	memcpy(c->dns_listen[0].addr.bytes, "\x7f\x00\x00\x99", 4);
	c->dns_listen[0].port = ZKH_DEFAULT_DNS_PORT;
	c->dns_ttl = ZKH_DEFAULT_DNS_TTL;
	c->dns_reverse = ZKH_DNS_REV_AUTO;
	c->indexer = ZKH_INDEXER_AUTO;
	c->indexers = ZKH_DEFAULT_INDEXERS;
	c->index_fallback_max = ZKH_DEFAULT_INDEX_FALLBACK_MAX;
	c->watches_per_session = ZKH_DEFAULT_WATCHES_PER_SESSION;
}

int zkh_config_parse(const char *text, size_t len, const char *file,
		     enum zkh_config_mode mode, struct zkh_config *c,
		     struct zkh_config_error *err)
{
	struct zkh_config_error dummy;
	struct parser ps;
	size_t pos = 0;

	if (err == NULL)
		err = &dummy;
	parser_init(&ps, file, mode, c, err);
	if (c == NULL || (text == NULL && len > 0)) {
		set_error(err, ps.file, 0, "", 0, "invalid arguments", NULL);
		return -EINVAL;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;
		int rc;

		ps.lineno++;
		if (end - pos > ZKH_CONF_LINE_MAX)
			rc = long_line(&ps);
		else
			rc = parse_line(&ps, text + pos, end - pos);
		if (rc != 0)
			return rc;
		pos = end + 1;
	}
	return 0;
}

const char *zkh_config_path(const char *explicit_path)
{
	const char *env;

	if (explicit_path != NULL)
		return explicit_path;
	env = secure_getenv("ZKHOSTS_CONF");
	if (env != NULL && env[0] != '\0')
		return env;
	return ZKH_DEFAULT_CONF;
}

static int file_error(struct zkh_config_error *err, const char *path,
		      int rc)
{
	const char *msg;

	switch (rc) {
	case -ENOENT:
		msg = "no such file";
		break;
	case -EACCES:
		msg = "permission denied";
		break;
	case -EFBIG:
		msg = "larger than 1 MiB";
		break;
	case -EINVAL:
		msg = "not a regular file";
		break;
	default:
		msg = "cannot read the file";
		break;
	}
	set_error(err, path, 0, "", 0, msg, NULL);
	if (rc != -ENOENT && rc != -EACCES && rc != -EFBIG && rc != -EINVAL) {
		struct sbuf b = { err->msg, sizeof(err->msg), strlen(err->msg) };

		sb_str(&b, " (errno ");
		sb_uint(&b, (unsigned long)-rc);
		sb_str(&b, ")");
	}
	return rc;
}

int zkh_config_load(const char *path, enum zkh_config_mode mode,
		    struct zkh_config *c, struct zkh_config_error *err)
{
	struct zkh_config_error dummy;
	struct parser ps;
	struct stat st;
	char buf[ZKH_CONF_LINE_MAX + 1];
	size_t have = 0, total = 0;
	bool skipping = false;	/* inside an over-long line */
	int fd = -1, rc = 0;

	if (err == NULL)
		err = &dummy;
	if (path == NULL || c == NULL) {
		set_error(err, path, 0, "", 0, "invalid arguments", NULL);
		return -EINVAL;
	}
	zkh_config_defaults(c);
	parser_init(&ps, path, mode, c, err);
	/* O_NONBLOCK: a FIFO planted as the config must not hang us; it is
	 * refused below as not a regular file. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = file_error(err, path, -errno);
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		rc = file_error(err, path, -errno);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = file_error(err, path, -EINVAL);
		goto out;
	}
	if (st.st_size > ZKH_CONF_FILE_MAX) {
		rc = file_error(err, path, -EFBIG);
		goto out;
	}
	for (;;) {
		ssize_t got = read(fd, buf + have, sizeof(buf) - have);
		size_t start = 0;
		bool eof;

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = file_error(err, path, -errno);
			goto out;
		}
		total += (size_t)got;
		if (total > ZKH_CONF_FILE_MAX) {	/* grew while reading */
			rc = file_error(err, path, -EFBIG);
			goto out;
		}
		have += (size_t)got;
		eof = got == 0;
		/* hand every complete line to the parser */
		for (;;) {
			char *nl = memchr(buf + start, '\n', have - start);
			size_t end;

			if (nl == NULL && !(eof && start < have))
				break;
			end = nl ? (size_t)(nl - buf) : have;
			if (skipping) {
				skipping = false;	/* tail of a long line */
			} else {
				ps.lineno++;
				rc = parse_line(&ps, buf + start, end - start);
				if (rc != 0)
					goto out;
			}
			start = nl ? end + 1 : have;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		if (eof)
			break;
		if (have == sizeof(buf)) {
			/* no '\n' in a full buffer: an over-long line */
			if (!skipping) {
				ps.lineno++;
				rc = long_line(&ps);
				if (rc != 0)
					goto out;
			}
			skipping = true;
			have = 0;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

int zkh_config_require_zookeeper(const struct zkh_config *c,
				 const char *file,
				 struct zkh_config_error *err)
{
	struct zkh_config_error dummy;

	if (err == NULL)
		err = &dummy;
	if (c == NULL || c->zookeeper[0] == '\0') {
		set_error(err, file, 0, "zookeeper", 9,
			  "not set: the connect string is required", NULL);
		return -EINVAL;
	}
	return 0;
}

const char *zkh_config_key(size_t i)
{
	return i < NKEYS ? keys[i].name : NULL;
}

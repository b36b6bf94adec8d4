/*
 * names.c - host name validation and folding, address token parsing and
 * formatting, and the tolerant parser for untrusted address lists (znode
 * data). This code runs inside every process on the host through the NSS
 * module, so it is pure: no allocation, no logging, no global state, and no
 * locale (ASCII helpers only, never <ctype.h>). Every input is treated as
 * untrusted bytes with an explicit length.
 *
 * Decisions recorded here (see names.h for the contracts):
 *  - a name is 1..253 characters of [A-Za-z0-9_-.] in labels of 1..63,
 *    plus one optional trailing dot that is not counted (so 254 bytes with
 *    the dot are accepted); "." alone is not a name. Hyphens and
 *    underscores are allowed anywhere in a label, as /etc/hosts allows.
 *  - an address is a strict IPv4 dotted quad (inet_pton AF_INET: exactly
 *    four decimal parts, no leading zeros, no hex or short forms) or IPv6
 *    text (inet_pton AF_INET6, at most 45 characters, no zone id). The
 *    unspecified addresses 0.0.0.0 and :: are rejected: they name no host.
 *    Every other address (loopback, multicast, broadcast) is accepted.
 *  - in an address list, separators are ',' and ASCII whitespace; any other
 *    byte below 0x20 (NUL included) or DEL also separates tokens and is
 *    counted in nul_bytes; bytes >= 0x80 belong to tokens (which are then
 *    invalid). A repeat of a kept address counts as a duplicate even past
 *    the cap; distinct valid addresses past the cap count in over_cap
 *    (repeats among those dropped ones are not detected: nothing is kept
 *    to compare them with). first_invalid shows bytes 0x21..0x7e as they
 *    are and others as \xHH, cut at a whole piece and ended with "..."
 *    when it does not fit.
 *  - formatting uses inet_ntop, so text matches what getent and Python
 *    print (lowercase, RFC 5952 compression, ::ffff:a.b.c.d).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "zkhosts/names.h"

/* The longest IPv6 text inet_pton can accept (with an embedded IPv4). */
#define ADDR6_TEXT_MAX 45
#define ADDR4_TEXT_MAX 15

/* Separators between address tokens: comma and ASCII whitespace. */
static bool is_list_space(unsigned char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\v' ||
	       c == '\f' || c == '\r';
}

/* Control bytes other than whitespace (NUL included) and DEL. */
static bool is_list_control(unsigned char c)
{
	return (c < 0x20 || c == 0x7f) && !is_list_space(c);
}

/* Character classes for host names: 0 not allowed, 1 allowed, 2 '.'.
 * A table keeps validation at a load and a compare per byte: it runs on
 * every lookup inside every process. */
static const unsigned char name_class[256] = {
	['-'] = 1, ['_'] = 1, ['.'] = 2,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
};

/*
 * Validate s[0..len) (trailing dot already dropped, len >= 1) and, if out
 * is non-NULL, write its lowercase form there. One pass; returns the
 * problem or NULL.
 */
static const char *name_scan(const char *s, size_t len, char *out)
{
	size_t label = 0;

	if (len > ZKH_NAME_MAX)
		return "longer than 253 characters";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		unsigned k = name_class[c];

		if (k == 1) {
			if (++label > ZKH_LABEL_MAX)
				return "label longer than 63 characters";
		} else if (k == 2) {
			if (label == 0)
				return "empty label";
			label = 0;
		} else {
			return "character not allowed";
		}
		if (out)
			out[i] = (char)(c | ((unsigned)(c - 'A') < 26u) << 5);
	}
	if (label == 0)
		return "empty label";	/* "." alone or a name ending in ".." */
	return NULL;
}

const char *zkh_name_problem(const char *s, size_t len)
{
	if (s == NULL || len == 0)
		return "empty";
	if (len > 1 && s[len - 1] == '.')
		len--;
	return name_scan(s, len, NULL);
}

bool zkh_name_valid(const char *s, size_t len)
{
	return zkh_name_problem(s, len) == NULL;
}

int zkh_name_fold(const char *s, size_t len, char *out)
{
	if (s == NULL || len == 0)
		return -EINVAL;
	if (len > 1 && s[len - 1] == '.')
		len--;
	if (name_scan(s, len, out) != NULL)
		return -EINVAL;
	out[len] = '\0';
	return (int)len;
}

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != 0)
			return false;
	return true;
}

int zkh_addr_parse(const char *s, size_t len, struct zkh_addr *a)
{
	char buf[ADDR6_TEXT_MAX + 1];
	struct zkh_addr r;

	if (s == NULL || a == NULL || len == 0 || len > ADDR6_TEXT_MAX)
		return -EINVAL;
	/* inet_pton stops at NUL; a NUL inside the token must not hide the
	 * rest of it, and '%' would be a zone id, which glibc rejects anyway
	 * but we state it here. */
	if (memchr(s, '\0', len) != NULL || memchr(s, '%', len) != NULL)
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(&r, 0, sizeof(r));
	if (memchr(s, ':', len) != NULL) {
		r.family = AF_INET6;
		if (inet_pton(AF_INET6, buf, r.bytes) != 1)
			return -EINVAL;
		if (all_zero(r.bytes, 16))
			return -EINVAL;
	} else {
		r.family = AF_INET;
		if (len > ADDR4_TEXT_MAX ||
		    inet_pton(AF_INET, buf, r.bytes) != 1)
			return -EINVAL;
		if (all_zero(r.bytes, 4))
			return -EINVAL;
	}
	*a = r;
	return 0;
}

char *zkh_addr_format(const struct zkh_addr *a, char *out, size_t cap)
{
	if (out == NULL || cap == 0)
		return out;
	out[0] = '\0';
	if (a == NULL || (a->family != AF_INET && a->family != AF_INET6))
		return out;
	if (cap > (size_t)INT32_MAX)
		cap = INT32_MAX;
	if (inet_ntop(a->family, a->bytes, out, (socklen_t)cap) == NULL)
		out[0] = '\0';
	return out;
}

static bool addr_equal(const struct zkh_addr *x, const struct zkh_addr *y)
{
	return x->family == y->family &&
	       memcmp(x->bytes, y->bytes,
		      x->family == AF_INET ? 4 : 16) == 0;
}

static size_t piece_len(unsigned char c)
{
	return (c > 0x20 && c < 0x7f) ? 1 : 4;
}

/* Render token bytes printably into out (cap >= 4): bytes 0x21..0x7e as
 * themselves, anything else as \xHH. If the whole rendering does not fit,
 * write whole pieces while "..." still fits after them, then "...". */
static void render_invalid(const char *tok, size_t len, char *out,
			   size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t total = 0, limit, o = 0;
	bool cut;

	for (size_t i = 0; i < len && total < cap; i++)
		total += piece_len((unsigned char)tok[i]);
	cut = total + 1 > cap;
	limit = cut ? cap - 4 : cap - 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)tok[i];

		if (o + piece_len(c) > limit)
			break;
		if (piece_len(c) == 1) {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 0xf];
		}
	}
	if (cut) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

size_t zkh_addrlist_parse(const char *data, size_t len, struct zkh_addr *out,
			  size_t cap, struct zkh_addrlist_report *rep)
{
	struct zkh_addrlist_report dummy;
	size_t kept = 0, i = 0;

	if (rep == NULL)
		rep = &dummy;
	memset(rep, 0, sizeof(*rep));
	if (data == NULL)
		return 0;
	if (out == NULL)
		cap = 0;
	while (i < len) {
		unsigned char c = (unsigned char)data[i];
		size_t start, tlen;
		struct zkh_addr a;
		bool dup = false;

		if (is_list_space(c) || is_list_control(c)) {
			if (is_list_control(c))
				rep->nul_bytes++;
			i++;
			continue;
		}
		start = i;
		while (i < len && !is_list_space((unsigned char)data[i]) &&
		       !is_list_control((unsigned char)data[i]))
			i++;
		tlen = i - start;
		if (zkh_addr_parse(data + start, tlen, &a) != 0) {
			if (rep->invalid++ == 0)
				render_invalid(data + start, tlen,
					       rep->first_invalid,
					       sizeof(rep->first_invalid));
			continue;
		}
		for (size_t k = 0; k < kept && !dup; k++)
			dup = addr_equal(&out[k], &a);
		if (dup)
			rep->duplicates++;
		else if (kept < cap)
			out[kept++] = a;
		else
			rep->over_cap++;
	}
	return kept;
}

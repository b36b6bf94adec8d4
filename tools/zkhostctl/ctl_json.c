/*
 * ctl_json.c - zkhostctl's JSON output through jansson (contract: ctl.h):
 * strings made from bytes zkhostctl does not control (znode names, paths,
 * the daemon's last error) and the printing of a finished document.
 * jansson refuses a string that is not valid UTF-8; here such a string
 * never fails: valid UTF-8 is kept as it is (so "caché" prints and reads
 * back as "caché"), and each byte of an ill-formed sequence becomes
 * U+FFFD, the replacement character, so the output is always valid JSON.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* Decimal digits kept in a JSON number (ages are rounded to ms first). */
#define JSON_NUMBER_DIGITS 15

/* Length of the well-formed UTF-8 sequence at s[0..left), 0 if none
 * (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (left < n)
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

json_t *ctl_json_str(const char *s)
{
	static const char repl[] = "\xef\xbf\xbd";	/* U+FFFD */
	const unsigned char *u = (const unsigned char *)s;
	size_t len = strlen(s), o = 0;
	char *buf;
	json_t *v;

	/* Worst case: every byte replaced by three. */
	buf = malloc(len * 3 + 1);
	if (!buf)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq(u + i, len - i);

		if (n == 0) {
			memcpy(buf + o, repl, 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(buf + o, s + i, n);
		o += n;
		i += n;
	}
	v = json_stringn(buf, o);
	free(buf);
	return v;
}

json_t *ctl_json_seconds(double s)
{
	if (s < 0)
		return json_null();
	return json_real((double)llround(s * 1000.0) / 1000.0);
}

int ctl_json_print(FILE *f, json_t *doc)
{
	int rc;

	if (!doc)
		return -ENOMEM;
	rc = json_dumpf(doc, f, JSON_INDENT(2) |
			JSON_REAL_PRECISION(JSON_NUMBER_DIGITS));
	json_decref(doc);
	if (rc != 0 || fputc('\n', f) == EOF)
		return -EIO;
	return 0;
}

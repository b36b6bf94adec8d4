/*
 * fuzz_names.c - fuzz target for host name rules (names.h): on any bytes,
 * zkh_name_valid, zkh_name_problem and zkh_name_fold agree with each other
 * and with an independent model of the rule written here from the contract
 * (letters, digits, '-', '_', '.', labels of 1..63, at most 253 characters
 * plus one optional trailing dot, "." alone refused). Folding succeeds iff
 * the name is valid; its output is NUL-terminated, 1..253 bytes, lowercase,
 * without the trailing dot, itself valid, equal to the input lowercased,
 * and folding it again changes nothing.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "zkhosts/names.h"

static bool model_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* The rule, restated: split on '.', every label 1..63 allowed bytes. */
static bool model_valid(const char *s, size_t len)
{
	size_t label = 0;

	if (len == 0)
		return false;
	if (len >= 2 && s[len - 1] == '.')
		len--;
	if (len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (label == 0 || label > 63)
				return false;
			label = 0;
		} else if (!model_char((unsigned char)s[i])) {
			return false;
		} else {
			label++;
		}
	}
	return true;
}

static bool known_problem(const char *p)
{
	static const char *const phrases[] = {
		"empty", "longer than 253 characters",
		"label longer than 63 characters", "empty label",
		"character not allowed",
	};

	for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++)
		if (strcmp(p, phrases[i]) == 0)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_dup(data, size);
	char out[ZKH_NAME_MAX + 2], again[ZKH_NAME_MAX + 2];
	bool valid = zkh_name_valid(s, size);
	const char *problem = zkh_name_problem(s, size);
	int n;

	FUZZ_CHECK(valid == model_valid(s, size));
	FUZZ_CHECK(valid == (problem == NULL));
	if (problem != NULL)
		FUZZ_CHECK(known_problem(problem));

	memset(out, 0x5a, sizeof(out));
	n = zkh_name_fold(s, size, out);
	FUZZ_CHECK((n >= 0) == valid);
	if (n < 0) {
		FUZZ_CHECK(n == -EINVAL);
		/* a refused name leaves nothing past the buffer touched */
		FUZZ_CHECK((unsigned char)out[ZKH_NAME_MAX + 1] == 0x5a);
		goto out;
	}
	FUZZ_CHECK(n >= 1 && n <= ZKH_NAME_MAX);
	FUZZ_CHECK(out[n] == '\0' && strlen(out) == (size_t)n);
	FUZZ_CHECK((size_t)n == size ||
		   ((size_t)n == size - 1 && s[size - 1] == '.'));
	FUZZ_CHECK(out[n - 1] != '.');
	for (int i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		FUZZ_CHECK(out[i] == c);
		FUZZ_CHECK(!(out[i] >= 'A' && out[i] <= 'Z'));
	}
	FUZZ_CHECK(zkh_name_valid(out, (size_t)n));
	FUZZ_CHECK(zkh_name_fold(out, (size_t)n, again) == n);
	FUZZ_CHECK(memcmp(out, again, (size_t)n + 1) == 0);
out:
	free(s);
	return 0;
}

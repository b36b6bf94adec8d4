/*
 * names.h - host name validation and address-list parsing, the rules of
 * what zkhosts accepts from ZooKeeper, from files and from the command line.
 *
 * Host names: ASCII letters, digits, '-', '_' and '.', labels of 1..63
 * characters, 253 at most, one optional trailing dot ignored. Matching is
 * case-insensitive: names are stored as written and compared folded to
 * lowercase. Address lists: IPv4 dotted quads and IPv6 text (no zone ids),
 * separated by commas and/or whitespace.
 *
 * Everything here is pure (no I/O, no allocation, no logging) and
 * thread-safe; both libnss_zk.so.2 and the programs link it.
 */
#ifndef ZKHOSTS_NAMES_H
#define ZKHOSTS_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkhosts/snapshot.h"

/*
 * True if `s` (`len` bytes, need not be NUL-terminated) is a valid host
 * name as above. A single trailing dot is accepted (but "." alone is not).
 */
bool zkh_name_valid(const char *s, size_t len);

/*
 * Fold a host name for lookup: validate, drop one trailing dot, lowercase
 * into `out` (capacity ZKH_NAME_MAX + 1, NUL-terminated). Returns the folded
 * length (1..253), or -EINVAL if `s` is not a valid host name.
 */
int zkh_name_fold(const char *s, size_t len, char *out);

/*
 * Explain why `s` is not a valid host name, as a short static English
 * phrase ("empty", "longer than 253 characters", "label longer than 63
 * characters", "empty label", "character not allowed"), or NULL if valid.
 */
const char *zkh_name_problem(const char *s, size_t len);

/*
 * Parse one address token (`len` bytes, not necessarily NUL-terminated):
 * an IPv4 dotted quad or an IPv6 address. Returns 0 and fills *a, or
 * -EINVAL.
 */
int zkh_addr_parse(const char *s, size_t len, struct zkh_addr *a);

/* Format `a` as text into out (capacity >= 46). Returns out. */
char *zkh_addr_format(const struct zkh_addr *a, char *out, size_t cap);

/* What zkh_addrlist_parse found besides the addresses it kept. */
struct zkh_addrlist_report {
	unsigned invalid;	/* tokens that are not addresses */
	unsigned duplicates;	/* repeated addresses, collapsed */
	unsigned over_cap;	/* valid addresses past `cap`, dropped */
	unsigned nul_bytes;	/* NUL or other control bytes seen */
	char first_invalid[48];	/* first bad token, printable, truncated */
};

/*
 * Parse an untrusted address list (e.g. a znode's data) of `len` bytes:
 * tokens separated by commas and/or whitespace. Keeps up to `cap` distinct
 * valid addresses in order of appearance in out[]; counts the rest in *rep
 * (which may be NULL). Any byte value is tolerated; a NUL or control byte
 * other than whitespace separates tokens and is counted. Returns the number
 * of addresses kept (0 means the list holds no valid address).
 */
size_t zkh_addrlist_parse(const char *data, size_t len, struct zkh_addr *out,
			  size_t cap, struct zkh_addrlist_report *rep);

#endif

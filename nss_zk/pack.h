/*
 * pack.h - lays out NSS results (struct hostent, struct gaih_addrtuple
 * chains) in the caller's buffer with a bump allocator. The exact size is
 * computed first, so a too-small buffer is reported (-ERANGE) before a
 * single byte is written, which is the only case glibc retries with a
 * larger buffer. Layout: pointer arrays / tuples (aligned) first, then
 * address bytes, then strings. Strings are given as up to two pieces
 * (struct zkh_pstr, as the shared snapshot reader names records, e.g. "x"
 * and ".example.com") so that domain-qualified names need no temporary
 * copy. Pure functions; thread-safe on distinct arguments.
 */
#ifndef NSS_ZK_PACK_H
#define NSS_ZK_PACK_H

#include <netdb.h>
#include <nss.h>
#include <stddef.h>
#include <stdint.h>

#include "zkhosts/snapread.h"	/* struct zkh_pstr */


#define ZKH_PACK_MAX_ALIASES 64

/* What to put into a struct hostent. */
struct zkh_hostent_src {
	struct zkh_pstr name;	/* h_name */
	struct zkh_pstr aliases[ZKH_PACK_MAX_ALIASES];
	size_t naliases;	/* <= ZKH_PACK_MAX_ALIASES */
	int family;		/* AF_INET or AF_INET6 */
	const uint8_t *addrs;	/* naddrs addresses of 4 or 16 bytes, packed */
	size_t naddrs;		/* >= 1 */
};

/* What to put into a gaih_addrtuple chain (IPv4 first, then IPv6). */
struct zkh_tuples_src {
	struct zkh_pstr name;	/* canonical name, carried by every tuple */
	const uint8_t *v4;	/* n4 * 4 bytes */
	size_t n4;
	const uint8_t *v6;	/* n6 * 16 bytes */
	size_t n6;		/* n4 + n6 >= 1 */
};

/*
 * Bytes of `buf` (starting at that address, alignment padding included)
 * that zkh_pack_hostent needs for `src`.
 */
size_t zkh_pack_hostent_size(const struct zkh_hostent_src *src,
			     const char *buf);

/*
 * Fill *h from src, storing everything it points to in buf[0..buflen).
 * Returns 0, -ERANGE if buflen is too small (nothing written, neither *h
 * nor buf), -EINVAL on a bad family or address count.
 */
int zkh_pack_hostent(const struct zkh_hostent_src *src, struct hostent *h,
		     char *buf, size_t buflen);

/*
 * Bytes zkh_pack_tuples needs in `buf`; `have_first` says whether the
 * caller supplies the first tuple (then one fewer is stored in buf).
 */
size_t zkh_pack_tuples_size(const struct zkh_tuples_src *src,
			    const char *buf, int have_first);

/*
 * Build the chain of n4 + n6 tuples. If *pat is non-NULL the caller's tuple
 * **pat is filled first (nscd does this) and the rest go into buf;
 * otherwise all go into buf and *pat is set to the first. Returns 0,
 * -ERANGE (nothing written, *pat untouched) or -EINVAL.
 */
int zkh_pack_tuples(const struct zkh_tuples_src *src,
		    struct gaih_addrtuple **pat, char *buf, size_t buflen);

#endif

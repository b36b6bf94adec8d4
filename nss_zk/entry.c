/*
 * entry.c - the NSS `hosts` entry points of libnss_zk.so.2, the only
 * symbols it exports. Each checks its arguments, borrows the current
 * snapshot (current.h), runs the query through the shared reader's lookup
 * rules (zkhosts/snapread.h), packs the answer into
 * the caller's buffer (pack.h) and turns the outcome into glibc's status
 * triple (nss_status, *errnop, *h_errnop):
 *
 *   found                      SUCCESS
 *   not in a healthy cache     NOTFOUND  ENOENT  HOST_NOT_FOUND
 *   name known, not that family NOTFOUND ENOENT  NO_DATA
 *   buffer too small           TRYAGAIN  ERANGE  NETDB_INTERNAL
 *                              (decided before the buffer is written)
 *   no cache yet (or, in a     UNAVAIL   ENOENT  HOST_NOT_FOUND
 *   signal handler, the same
 *   thread is opening it)
 *   cache refused/unusable,    UNAVAIL   ENOENT  NO_RECOVERY
 *   or module bypassed
 *   unsupported family/length  UNAVAIL   EAFNOSUPPORT NETDB_INTERNAL
 *
 * UNAVAIL lets the chain go on to the next source (dns) by default. The
 * h_errno of UNAVAIL is never NO_DATA, TRY_AGAIN or NETDB_INTERNAL, which
 * would make getaddrinfo report EAI_NODATA, EAI_AGAIN or EAI_SYSTEM for a
 * name nobody knows; HOST_NOT_FOUND (benign: no daemon yet) and
 * NO_RECOVERY (an administrator must look) give EAI_NONAME for AF_UNSPEC
 * and AF_INET6 and read well in herror(). (Measured on glibc 2.36: when
 * every source is UNAVAIL, getaddrinfo with AF_INET says EAI_NODATA
 * whatever h_errno is; with files or dns after zk this does not arise.)
 * errno is ENOENT for every UNAVAIL, as the glibc manual describes it.
 */
#include <errno.h>
#include <netdb.h>
#include <nss.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "current.h"
#include "pack.h"
#include "zkhosts/names.h"
#include "zkhosts/snapread.h"

#define EXPORT __attribute__((visibility("default")))

/* Declarations (glibc has no header for module entry points). */
EXPORT enum nss_status _nss_zk_gethostbyname4_r(const char *name,
		struct gaih_addrtuple **pat, char *buffer, size_t buflen,
		int *errnop, int *h_errnop, int32_t *ttlp);
EXPORT enum nss_status _nss_zk_gethostbyname3_r(const char *name, int af,
		struct hostent *host, char *buffer, size_t buflen,
		int *errnop, int *h_errnop, int32_t *ttlp, char **canonp);
EXPORT enum nss_status _nss_zk_gethostbyname2_r(const char *name, int af,
		struct hostent *host, char *buffer, size_t buflen,
		int *errnop, int *h_errnop);
EXPORT enum nss_status _nss_zk_gethostbyname_r(const char *name,
		struct hostent *host, char *buffer, size_t buflen,
		int *errnop, int *h_errnop);
EXPORT enum nss_status _nss_zk_gethostbyaddr2_r(const void *addr,
		socklen_t len, int af, struct hostent *host, char *buffer,
		size_t buflen, int *errnop, int *h_errnop, int32_t *ttlp);
EXPORT enum nss_status _nss_zk_gethostbyaddr_r(const void *addr,
		socklen_t len, int af, struct hostent *host, char *buffer,
		size_t buflen, int *errnop, int *h_errnop);
EXPORT enum nss_status _nss_zk_sethostent(int stayopen);
EXPORT enum nss_status _nss_zk_gethostent_r(struct hostent *host,
		char *buffer, size_t buflen, int *errnop, int *h_errnop);
EXPORT enum nss_status _nss_zk_endhostent(void);

/* ---- status triples -------------------------------------------------- */

static enum nss_status set3(enum nss_status st, int e, int h, int *errnop,
			    int *h_errnop)
{
	if (errnop)
		*errnop = e;
	if (h_errnop)
		*h_errnop = h;
	return st;
}

/* zkh_view_begin failed with rc. -EDEADLK: a signal handler interrupted
 * this thread's own first open, so there is no snapshot yet for it. */
static enum nss_status unavail(int rc, int *errnop, int *h_errnop)
{
	return set3(NSS_STATUS_UNAVAIL, ENOENT,
		    rc == -ENOENT || rc == -EDEADLK ? HOST_NOT_FOUND :
		    NO_RECOVERY, errnop, h_errnop);
}

static enum nss_status notfound(int *errnop, int *h_errnop)
{
	return set3(NSS_STATUS_NOTFOUND, ENOENT, HOST_NOT_FOUND, errnop,
		    h_errnop);
}

/* A packer error: -ERANGE is the retry-with-a-bigger-buffer triple. */
static enum nss_status pack_failed(int rc, int *errnop, int *h_errnop)
{
	if (rc == -ERANGE)
		return set3(NSS_STATUS_TRYAGAIN, ERANGE, NETDB_INTERNAL,
			    errnop, h_errnop);
	return set3(NSS_STATUS_UNAVAIL, EINVAL, NO_RECOVERY, errnop,
		    h_errnop);
}

static enum nss_status bad_family(int *errnop, int *h_errnop)
{
	return set3(NSS_STATUS_UNAVAIL, EAFNOSUPPORT, NETDB_INTERNAL, errnop,
		    h_errnop);
}

static int32_t ttl_of(const struct zkh_snap *s)
{
	return s->r.meta.ttl > INT32_MAX ? INT32_MAX : (int32_t)s->r.meta.ttl;
}

/* ---- forward --------------------------------------------------------- */

static enum nss_status by_name(const char *name, int af, struct hostent *h,
			       char *buf, size_t buflen, int *errnop,
			       int *h_errnop, int32_t *ttlp, char **canonp)
{
	struct zkh_hostent_src src;
	struct zkh_rec_view rec;
	struct zkh_view v;
	enum nss_status st;
	int rc;

	if (af != AF_INET && af != AF_INET6)
		return bad_family(errnop, h_errnop);
	rc = zkh_view_begin(&v);
	if (rc < 0)
		return unavail(rc, errnop, h_errnop);
	if (name == NULL || zkh_sr_lookup_name(&v.snap->r, v.txn, name, &rec) < 0) {
		st = notfound(errnop, h_errnop);
		goto out;
	}
	memset(&src, 0, sizeof(src));
	src.family = af;
	src.addrs = af == AF_INET ? rec.v4 : rec.v6;
	src.naddrs = af == AF_INET ? rec.n4 : rec.n6;
	if (src.naddrs == 0) {
		st = set3(NSS_STATUS_NOTFOUND, ENOENT, NO_DATA, errnop,
			  h_errnop);
		goto out;
	}
	src.naliases = zkh_sr_rec_names(&v.snap->r, v.txn, &rec, &src.name,
				     &src.aliases[0]);
	rc = h ? zkh_pack_hostent(&src, h, buf, buflen) : -EINVAL;
	if (rc < 0) {
		st = pack_failed(rc, errnop, h_errnop);
		goto out;
	}
	if (canonp)
		*canonp = h->h_name;
	if (ttlp)
		*ttlp = ttl_of(v.snap);
	st = NSS_STATUS_SUCCESS;
out:
	zkh_view_end(&v);
	return st;
}

enum nss_status _nss_zk_gethostbyname3_r(const char *name, int af,
		struct hostent *host, char *buffer, size_t buflen,
		int *errnop, int *h_errnop, int32_t *ttlp, char **canonp)
{
	return by_name(name, af, host, buffer, buflen, errnop, h_errnop,
		       ttlp, canonp);
}

enum nss_status _nss_zk_gethostbyname2_r(const char *name, int af,
		struct hostent *host, char *buffer, size_t buflen,
		int *errnop, int *h_errnop)
{
	return by_name(name, af, host, buffer, buflen, errnop, h_errnop,
		       NULL, NULL);
}

enum nss_status _nss_zk_gethostbyname_r(const char *name,
		struct hostent *host, char *buffer, size_t buflen,
		int *errnop, int *h_errnop)
{
	return by_name(name, AF_INET, host, buffer, buflen, errnop, h_errnop,
		       NULL, NULL);
}

enum nss_status _nss_zk_gethostbyname4_r(const char *name,
		struct gaih_addrtuple **pat, char *buffer, size_t buflen,
		int *errnop, int *h_errnop, int32_t *ttlp)
{
	struct zkh_tuples_src src;
	struct zkh_rec_view rec;
	struct zkh_pstr alias;
	struct zkh_view v;
	enum nss_status st;
	int rc;

	rc = zkh_view_begin(&v);
	if (rc < 0)
		return unavail(rc, errnop, h_errnop);
	if (name == NULL || zkh_sr_lookup_name(&v.snap->r, v.txn, name, &rec) < 0) {
		st = notfound(errnop, h_errnop);
		goto out;
	}
	memset(&src, 0, sizeof(src));
	zkh_sr_rec_names(&v.snap->r, v.txn, &rec, &src.name, &alias);
	src.v4 = rec.v4;
	src.n4 = rec.n4;
	src.v6 = rec.v6;
	src.n6 = rec.n6;
	rc = pat ? zkh_pack_tuples(&src, pat, buffer, buflen) : -EINVAL;
	if (rc < 0) {
		st = pack_failed(rc, errnop, h_errnop);
		goto out;
	}
	if (ttlp)
		*ttlp = ttl_of(v.snap);
	st = NSS_STATUS_SUCCESS;
out:
	zkh_view_end(&v);
	return st;
}

/* ---- reverse --------------------------------------------------------- */

_Static_assert(ZKH_REV_NAMES_MAX <= ZKH_PACK_MAX_ALIASES + 1,
	       "every name of a reverse answer fits a hostent");

/*
 * Reverse lookup (rules in zkh_sr_lookup_addr: an IPv4-mapped IPv6
 * address no record holds is answered from the IPv4 records). The answer
 * keeps the queried family and address; its names are zkh_sr_rev_names.
 */
enum nss_status _nss_zk_gethostbyaddr2_r(const void *addr, socklen_t len,
		int af, struct hostent *host, char *buffer, size_t buflen,
		int *errnop, int *h_errnop, int32_t *ttlp)
{
	struct zkh_hostent_src src;
	struct zkh_pstr names[ZKH_REV_NAMES_MAX];
	struct zkh_addr a;
	struct zkh_rev rev;
	struct zkh_view v;
	enum nss_status st;
	size_t n;
	int rc;

	if ((af != AF_INET && af != AF_INET6) || addr == NULL ||
	    len != zkh_addr_len(af))
		return bad_family(errnop, h_errnop);
	memset(&a, 0, sizeof(a));
	a.family = af;
	memcpy(a.bytes, addr, len);
	rc = zkh_view_begin(&v);
	if (rc < 0)
		return unavail(rc, errnop, h_errnop);
	rc = zkh_sr_lookup_addr(&v.snap->r, v.txn, &a, &rev);
	if (rc < 0) {
		st = rc == -ENOENT ? notfound(errnop, h_errnop) :
		    set3(NSS_STATUS_TRYAGAIN, ENOMEM, NO_RECOVERY, errnop,
			 h_errnop);
		goto out;
	}
	memset(&src, 0, sizeof(src));
	src.family = af;
	src.addrs = a.bytes;
	src.naddrs = 1;
	/* names[0] is h_name, the rest are the aliases (rev.n >= 1). */
	n = zkh_sr_rev_names(&v.snap->r, v.txn, &rev, names,
			     ZKH_REV_NAMES_MAX);
	src.name = names[0];
	memcpy(src.aliases, names + 1, (n - 1) * sizeof(names[0]));
	src.naliases = n - 1;
	rc = host ? zkh_pack_hostent(&src, host, buffer, buflen) : -EINVAL;
	if (rc < 0) {
		st = pack_failed(rc, errnop, h_errnop);
		goto out;
	}
	if (ttlp)
		*ttlp = ttl_of(v.snap);
	st = NSS_STATUS_SUCCESS;
out:
	zkh_view_end(&v);
	return st;
}

enum nss_status _nss_zk_gethostbyaddr_r(const void *addr, socklen_t len,
		int af, struct hostent *host, char *buffer, size_t buflen,
		int *errnop, int *h_errnop)
{
	return _nss_zk_gethostbyaddr2_r(addr, len, af, host, buffer, buflen,
					errnop, h_errnop, NULL);
}

/* ---- enumeration ----------------------------------------------------- */

/* Position of the walk; guarded by zkh_enum_lock. Each call re-seeks it
 * in whatever snapshot is current, so a swap mid-walk is harmless. */
static struct zkh_enum_pos enum_pos;

static enum nss_status enum_reset(void)
{
	int rc = zkh_module_ready();

	if (rc < 0)
		return NSS_STATUS_UNAVAIL;
	pthread_mutex_lock(&zkh_enum_lock);
	memset(&enum_pos, 0, sizeof(enum_pos));
	pthread_mutex_unlock(&zkh_enum_lock);
	return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_zk_sethostent(int stayopen)
{
	(void)stayopen;
	return enum_reset();
}

enum nss_status _nss_zk_endhostent(void)
{
	return enum_reset();
}

enum nss_status _nss_zk_gethostent_r(struct hostent *host, char *buffer,
		size_t buflen, int *errnop, int *h_errnop)
{
	struct zkh_hostent_src src;
	struct zkh_enum_pos next;
	struct zkh_rec_view rec;
	struct zkh_view v;
	enum nss_status st;
	int rc, family;

	pthread_mutex_lock(&zkh_enum_lock);
	rc = zkh_view_begin(&v);
	if (rc < 0) {
		st = unavail(rc, errnop, h_errnop);
		goto unlock;
	}
	rc = zkh_sr_enum_next(&v.snap->r, v.txn, &enum_pos, &rec, &family,
			      &next);
	if (rc < 0) {
		st = rc == -ENOENT ? notfound(errnop, h_errnop) :
		    set3(NSS_STATUS_TRYAGAIN, ENOMEM, NO_RECOVERY, errnop,
			 h_errnop);
		goto out;
	}
	memset(&src, 0, sizeof(src));
	src.family = family;
	src.addrs = family == AF_INET ? rec.v4 : rec.v6;
	src.naddrs = family == AF_INET ? rec.n4 : rec.n6;
	src.naliases = zkh_sr_rec_names(&v.snap->r, v.txn, &rec, &src.name,
				     &src.aliases[0]);
	rc = host ? zkh_pack_hostent(&src, host, buffer, buflen) : -EINVAL;
	if (rc < 0) {
		st = pack_failed(rc, errnop, h_errnop);
		goto out;
	}
	enum_pos = next;
	st = NSS_STATUS_SUCCESS;
out:
	zkh_view_end(&v);
unlock:
	pthread_mutex_unlock(&zkh_enum_lock);
	return st;
}

/*
 * nss_null.c - a do-nothing NSS `hosts` module (libnss_null.so.2) used only
 * by the benchmarks as the floor a lookup can reach: every entry point
 * answers NOTFOUND / HOST_NOT_FOUND at once, without touching its buffer.
 * getaddrinfo or gethostbyname_r through "hosts: null" therefore measures
 * glibc's own NSS dispatch, argument handling and result bookkeeping, and
 * nothing else. It exports the same set of host entry points as libnss_zk
 * (gethostbyname4_r first, which getaddrinfo prefers), so both modules take
 * the same path through glibc. Never installed.
 *
 * Built a second time with -DNULL_ANSWER as libnss_const.so.2 (service
 * "const"): it answers every name with one fixed IPv4 address, 192.0.2.1,
 * filling the result exactly like a real module (name copied into the
 * buffer, one tuple or a hostent), but without any lookup. That is the
 * floor for a lookup that *finds* something: glibc's success path
 * (allocating and filling the addrinfo) costs more than its not-found path,
 * so a hit through zk is compared with a hit through const, and a miss with
 * a miss through null.
 */
#include <errno.h>
#include <netdb.h>
#include <nss.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NULL_EXPORT __attribute__((visibility("default")))

#ifdef NULL_ANSWER
#define EP(fn) _nss_const_##fn
#else
#define EP(fn) _nss_null_##fn
#endif

static enum nss_status notfound(int *errnop, int *h_errnop)
{
	*errnop = ENOENT;
	*h_errnop = HOST_NOT_FOUND;
	return NSS_STATUS_NOTFOUND;
}

#ifdef NULL_ANSWER
#include <string.h>

static const unsigned char fixed_addr[4] = { 192, 0, 2, 1 };

static enum nss_status erange(int *errnop, int *h_errnop)
{
	*errnop = ERANGE;
	*h_errnop = NETDB_INTERNAL;
	return NSS_STATUS_TRYAGAIN;
}

/* One tuple (name copied into buf) for getaddrinfo. */
static enum nss_status answer4(const char *name, struct gaih_addrtuple **pat,
			       char *buf, size_t buflen, int *errnop,
			       int *h_errnop, int32_t *ttlp)
{
	size_t len = strlen(name) + 1;
	struct gaih_addrtuple *t;
	char *p;

	if (buflen < sizeof(*t) + len + 8)
		return erange(errnop, h_errnop);
	p = buf + ((sizeof(void *) - (uintptr_t)buf % sizeof(void *)) %
		   sizeof(void *));
	t = *pat ? *pat : (struct gaih_addrtuple *)(void *)p;
	if (!*pat)
		p += sizeof(*t);
	memcpy(p, name, len);
	memset(t, 0, sizeof(*t));
	t->name = p;
	t->family = AF_INET;
	memcpy(t->addr, fixed_addr, 4);
	*pat = t;
	if (ttlp)
		*ttlp = 1;
	return NSS_STATUS_SUCCESS;
}

/* A hostent with one IPv4 address and no alias. */
static enum nss_status answer_hostent(const char *name, int af,
				      struct hostent *h, char *buf,
				      size_t buflen, int *errnop,
				      int *h_errnop)
{
	size_t len = strlen(name) + 1;
	char **ptrs;
	char *p;

	if (af != AF_INET)
		return notfound(errnop, h_errnop);
	p = buf + ((sizeof(void *) - (uintptr_t)buf % sizeof(void *)) %
		   sizeof(void *));
	if (buflen < (size_t)(p - buf) + 3 * sizeof(char *) + 4 + len)
		return erange(errnop, h_errnop);
	ptrs = (char **)(void *)p;
	p += 3 * sizeof(char *);
	memcpy(p, fixed_addr, 4);
	ptrs[0] = NULL;		/* aliases */
	ptrs[1] = p;		/* address list */
	ptrs[2] = NULL;
	p += 4;
	memcpy(p, name, len);
	h->h_name = p;
	h->h_aliases = &ptrs[0];
	h->h_addrtype = AF_INET;
	h->h_length = 4;
	h->h_addr_list = &ptrs[1];
	return NSS_STATUS_SUCCESS;
}
#endif

NULL_EXPORT enum nss_status
EP(gethostbyname4_r)(const char *name, struct gaih_addrtuple **pat,
			   char *buf, size_t buflen, int *errnop,
			   int *h_errnop, int32_t *ttlp);
NULL_EXPORT enum nss_status
EP(gethostbyname3_r)(const char *name, int af, struct hostent *h,
			   char *buf, size_t buflen, int *errnop,
			   int *h_errnop, int32_t *ttlp, char **canonp);
NULL_EXPORT enum nss_status
EP(gethostbyname2_r)(const char *name, int af, struct hostent *h,
			   char *buf, size_t buflen, int *errnop,
			   int *h_errnop);
NULL_EXPORT enum nss_status
EP(gethostbyname_r)(const char *name, struct hostent *h, char *buf,
			  size_t buflen, int *errnop, int *h_errnop);
NULL_EXPORT enum nss_status
EP(gethostbyaddr2_r)(const void *addr, socklen_t len, int af,
			   struct hostent *h, char *buf, size_t buflen,
			   int *errnop, int *h_errnop, int32_t *ttlp);
NULL_EXPORT enum nss_status
EP(gethostbyaddr_r)(const void *addr, socklen_t len, int af,
			  struct hostent *h, char *buf, size_t buflen,
			  int *errnop, int *h_errnop);

enum nss_status
EP(gethostbyname4_r)(const char *name, struct gaih_addrtuple **pat,
			   char *buf, size_t buflen, int *errnop,
			   int *h_errnop, int32_t *ttlp)
{
#ifdef NULL_ANSWER
	return answer4(name, pat, buf, buflen, errnop, h_errnop, ttlp);
#else
	(void)name, (void)pat, (void)buf, (void)buflen, (void)ttlp;
	return notfound(errnop, h_errnop);
#endif
}

enum nss_status
EP(gethostbyname3_r)(const char *name, int af, struct hostent *h,
			   char *buf, size_t buflen, int *errnop,
			   int *h_errnop, int32_t *ttlp, char **canonp)
{
#ifdef NULL_ANSWER
	enum nss_status st = answer_hostent(name, af, h, buf, buflen, errnop,
					    h_errnop);

	if (st == NSS_STATUS_SUCCESS && ttlp)
		*ttlp = 1;
	if (st == NSS_STATUS_SUCCESS && canonp)
		*canonp = h->h_name;
	return st;
#else
	(void)name, (void)af, (void)h, (void)buf, (void)buflen, (void)ttlp;
	(void)canonp;
	return notfound(errnop, h_errnop);
#endif
}

enum nss_status
EP(gethostbyname2_r)(const char *name, int af, struct hostent *h,
			   char *buf, size_t buflen, int *errnop,
			   int *h_errnop)
{
#ifdef NULL_ANSWER
	return answer_hostent(name, af, h, buf, buflen, errnop, h_errnop);
#else
	(void)name, (void)af, (void)h, (void)buf, (void)buflen;
	return notfound(errnop, h_errnop);
#endif
}

enum nss_status
EP(gethostbyname_r)(const char *name, struct hostent *h, char *buf,
			  size_t buflen, int *errnop, int *h_errnop)
{
#ifdef NULL_ANSWER
	return answer_hostent(name, AF_INET, h, buf, buflen, errnop, h_errnop);
#else
	(void)name, (void)h, (void)buf, (void)buflen;
	return notfound(errnop, h_errnop);
#endif
}

enum nss_status
EP(gethostbyaddr2_r)(const void *addr, socklen_t len, int af,
			   struct hostent *h, char *buf, size_t buflen,
			   int *errnop, int *h_errnop, int32_t *ttlp)
{
	(void)addr, (void)len, (void)af, (void)h, (void)buf, (void)buflen;
	(void)ttlp;
	return notfound(errnop, h_errnop);
}

enum nss_status
EP(gethostbyaddr_r)(const void *addr, socklen_t len, int af,
			  struct hostent *h, char *buf, size_t buflen,
			  int *errnop, int *h_errnop)
{
	(void)addr, (void)len, (void)af, (void)h, (void)buf, (void)buflen;
	return notfound(errnop, h_errnop);
}

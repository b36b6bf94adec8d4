/*
 * nss_harness.c - what the snapshot fuzz targets share: a private cache
 * the module trusts, publishing bytes into it as the daemon does, and the
 * battery of lookups with the invariants every answer must meet (see
 * nss_harness.h). The module's sources are linked into the target and its
 * _nss_zk_* entry points called directly, as glibc would. When a refused
 * file leaves the previous snapshot in use, the lookups run against that
 * one: the module keeps answering from the last good file.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <nss.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "nss_harness.h"
#include "zkhosts/names.h"
#include "zkhosts/snapshot.h"

/* The module's entry points (glibc has no header for them). */
enum nss_status _nss_zk_gethostbyname4_r(const char *name,
		struct gaih_addrtuple **pat, char *buffer, size_t buflen,
		int *errnop, int *h_errnop, int32_t *ttlp);
enum nss_status _nss_zk_gethostbyname3_r(const char *name, int af,
		struct hostent *host, char *buffer, size_t buflen,
		int *errnop, int *h_errnop, int32_t *ttlp, char **canonp);
enum nss_status _nss_zk_gethostbyname2_r(const char *name, int af,
		struct hostent *host, char *buffer, size_t buflen,
		int *errnop, int *h_errnop);
enum nss_status _nss_zk_gethostbyaddr2_r(const void *addr, socklen_t len,
		int af, struct hostent *host, char *buffer, size_t buflen,
		int *errnop, int *h_errnop, int32_t *ttlp);
enum nss_status _nss_zk_sethostent(int stayopen);
enum nss_status _nss_zk_gethostent_r(struct hostent *host, char *buffer,
		size_t buflen, int *errnop, int *h_errnop);
enum nss_status _nss_zk_endhostent(void);

#define BIG 8192
#define MAX_SEEN 64		/* names/addresses collected from answers */
#define MAX_ENUM 512		/* gethostent_r steps per input */

char nss_harness_dir[256];
static char parent_dir[200];
static int gen_fd = -1;
static uint64_t generation = 1;

static void write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		FUZZ_CHECK(w > 0);
		c += w;
		n -= (size_t)w;
	}
}

static void cleanup(void)
{
	char path[320];

	if (nss_harness_dir[0] == '\0')
		return;
	snprintf(path, sizeof(path), "%s/%s", nss_harness_dir, ZKH_SNAPSHOT_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", nss_harness_dir, ZKH_GENERATION_FILE);
	unlink(path);
	rmdir(nss_harness_dir);
	snprintf(path, sizeof(path), "%s/zkhosts.conf", parent_dir);
	unlink(path);
	rmdir(parent_dir);
}

/* The private cache directory, config and generation file. */
void nss_harness_setup(void)
{
	const char *tmp = getenv("TMPDIR");
	struct zkh_genfile g;
	char conf[320], text[320], page[ZKH_GENFILE_SIZE];
	int fd;

	snprintf(parent_dir, sizeof(parent_dir), "%s/zkh-fuzz.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	FUZZ_CHECK(mkdtemp(parent_dir) != NULL);
	FUZZ_CHECK(chmod(parent_dir, 0755) == 0);
	snprintf(nss_harness_dir, sizeof(nss_harness_dir), "%s/cache", parent_dir);
	FUZZ_CHECK(mkdir(nss_harness_dir, 0755) == 0);
	FUZZ_CHECK(chmod(nss_harness_dir, 0755) == 0);
	atexit(cleanup);

	snprintf(conf, sizeof(conf), "%s/zkhosts.conf", parent_dir);
	fd = open(conf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	FUZZ_CHECK(fd >= 0);
	snprintf(text, sizeof(text), "cache = %s\n", nss_harness_dir);
	write_all(fd, text, strlen(text));
	close(fd);
	FUZZ_CHECK(setenv("ZKHOSTS_CONF", conf, 1) == 0);
	unsetenv("ZKHOSTS_NSS_BYPASS");

	snprintf(conf, sizeof(conf), "%s/%s", nss_harness_dir, ZKH_GENERATION_FILE);
	gen_fd = open(conf, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	FUZZ_CHECK(gen_fd >= 0);
	FUZZ_CHECK(fchmod(gen_fd, 0644) == 0);
	memset(page, 0, sizeof(page));
	memcpy(g.magic, ZKH_GENFILE_MAGIC, 8);
	g.generation = generation;
	memcpy(page, &g, sizeof(g));
	write_all(gen_fd, page, sizeof(page));
}

/* Publish `data` as hosts.mdb the way the daemon does: temp + rename,
 * then the counter. */
void nss_harness_publish(const uint8_t *data, size_t size)
{
	char tmp[320], dst[320];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s/.hosts.mdb.fuzz", nss_harness_dir);
	snprintf(dst, sizeof(dst), "%s/%s", nss_harness_dir, ZKH_SNAPSHOT_FILE);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(fchmod(fd, 0644) == 0);
	write_all(fd, data, size);
	close(fd);
	FUZZ_CHECK(rename(tmp, dst) == 0);
	generation++;
	FUZZ_CHECK(pwrite(gen_fd, &generation, sizeof(generation), 8) ==
		   (ssize_t)sizeof(generation));
}

/* ---- invariants on answers ------------------------------------------ */

static bool in_buf(const void *p, size_t n, const char *buf, size_t len)
{
	const char *c = p;

	return c >= buf && n <= len && c <= buf + len - n;
}

/* A NUL-terminated string wholly inside buf that is a valid host name. */
static void check_name(const char *s, const char *buf, size_t len)
{
	size_t n;

	FUZZ_CHECK(s != NULL && in_buf(s, 1, buf, len));
	n = strnlen(s, (size_t)(buf + len - s));
	FUZZ_CHECK(s + n < buf + len);	/* NUL inside the buffer */
	FUZZ_CHECK(zkh_name_valid(s, n));
}

static void check_status(enum nss_status st, int err, int herr)
{
	FUZZ_CHECK(st == NSS_STATUS_SUCCESS || st == NSS_STATUS_NOTFOUND ||
		   st == NSS_STATUS_UNAVAIL || st == NSS_STATUS_TRYAGAIN);
	if (st == NSS_STATUS_TRYAGAIN && err == ERANGE)
		FUZZ_CHECK(herr == NETDB_INTERNAL);
	if (st == NSS_STATUS_NOTFOUND)
		FUZZ_CHECK(herr == HOST_NOT_FOUND || herr == NO_DATA);
}

static void check_hostent(const struct hostent *h, int af, const char *buf,
			  size_t len)
{
	size_t alen = af == AF_INET ? 4 : 16, n = 0;

	check_name(h->h_name, buf, len);
	FUZZ_CHECK(h->h_addrtype == af && h->h_length == (int)alen);
	FUZZ_CHECK(in_buf(h->h_aliases, sizeof(char *), buf, len));
	for (char **a = h->h_aliases; ; a++) {
		FUZZ_CHECK(in_buf(a, sizeof(char *), buf, len));
		if (*a == NULL)
			break;
		check_name(*a, buf, len);
	}
	for (char **a = h->h_addr_list; ; a++, n++) {
		FUZZ_CHECK(in_buf(a, sizeof(char *), buf, len));
		if (*a == NULL)
			break;
		FUZZ_CHECK(in_buf(*a, alen, buf, len));
	}
	FUZZ_CHECK(n >= 1 && n <= ZKH_MAX_ADDRS);
}

/* Names and addresses seen in answers, fed back as queries. */
struct seen {
	char names[MAX_SEEN][ZKH_NAME_MAX + 1];
	size_t nnames;
	struct zkh_addr addrs[MAX_SEEN];
	size_t naddrs;
};

static void note_name(struct seen *s, const char *n)
{
	if (s->nnames < MAX_SEEN && strlen(n) <= ZKH_NAME_MAX)
		strcpy(s->names[s->nnames++], n);
}

static void note_addr(struct seen *s, int af, const void *bytes)
{
	if (s->naddrs < MAX_SEEN) {
		struct zkh_addr *a = &s->addrs[s->naddrs++];

		memset(a, 0, sizeof(*a));
		a->family = af;
		memcpy(a->bytes, bytes, zkh_addr_len(af));
	}
}

/* True if `name` resolves forward (family of a) to an address list that
 * holds a. */
static bool forward_has(const char *name, const struct zkh_addr *a)
{
	static char buf[BIG];
	struct hostent h;
	int err = 0, herr = 0;
	enum nss_status st = _nss_zk_gethostbyname2_r(name, a->family, &h, buf,
						      sizeof(buf), &err, &herr);

	if (st != NSS_STATUS_SUCCESS)
		return false;
	for (char **p = h.h_addr_list; *p; p++)
		if (memcmp(*p, a->bytes, zkh_addr_len(a->family)) == 0)
			return true;
	return false;
}

static void by_name4(const char *name, struct seen *s)
{
	static char buf[BIG];
	char tiny[24];
	struct gaih_addrtuple *pat = NULL, first, *fp = &first;
	int err = 0, herr = 0;
	int32_t ttl = -1;
	enum nss_status st;

	st = _nss_zk_gethostbyname4_r(name, &pat, buf, sizeof(buf), &err,
				      &herr, &ttl);
	check_status(st, err, herr);
	if (st == NSS_STATUS_SUCCESS) {
		size_t n = 0;

		FUZZ_CHECK(ttl >= 0);
		for (struct gaih_addrtuple *t = pat; t; t = t->next, n++) {
			FUZZ_CHECK(in_buf(t, sizeof(*t), buf, sizeof(buf)));
			check_name(t->name, buf, sizeof(buf));
			FUZZ_CHECK(t->family == AF_INET ||
				   t->family == AF_INET6);
			FUZZ_CHECK(n < ZKH_MAX_ADDRS);
			note_addr(s, t->family, t->addr);
		}
		FUZZ_CHECK(n >= 1);
	}
	/* nscd's way: the caller supplies the first tuple */
	memset(&first, 0, sizeof(first));
	st = _nss_zk_gethostbyname4_r(name, &fp, buf, sizeof(buf), &err,
				      &herr, NULL);
	check_status(st, err, herr);
	if (st == NSS_STATUS_SUCCESS) {
		FUZZ_CHECK(fp == &first && first.name != NULL);
		for (struct gaih_addrtuple *t = first.next; t; t = t->next)
			FUZZ_CHECK(in_buf(t, sizeof(*t), buf, sizeof(buf)));
	}
	/* too small: the ERANGE triple, nothing else */
	pat = NULL;
	st = _nss_zk_gethostbyname4_r(name, &pat, tiny, sizeof(tiny), &err,
				      &herr, NULL);
	check_status(st, err, herr);
	if (st == NSS_STATUS_SUCCESS)
		FUZZ_CHECK(in_buf(pat, sizeof(*pat), tiny, sizeof(tiny)));
	else if (st == NSS_STATUS_TRYAGAIN)
		FUZZ_CHECK(err == ERANGE && pat == NULL);
}

static void by_name(const char *name, int af, struct seen *s)
{
	static char buf[BIG];
	char tiny[16];
	struct hostent h;
	char *canon = NULL;
	int err = 0, herr = 0;
	int32_t ttl = -1;
	enum nss_status st;

	st = _nss_zk_gethostbyname3_r(name, af, &h, buf, sizeof(buf), &err,
				      &herr, &ttl, &canon);
	check_status(st, err, herr);
	if (st == NSS_STATUS_SUCCESS) {
		check_hostent(&h, af, buf, sizeof(buf));
		for (char **a = h.h_addr_list; *a; a++)
			note_addr(s, af, *a);
	}
	st = _nss_zk_gethostbyname2_r(name, af, &h, tiny, sizeof(tiny), &err,
				      &herr);
	check_status(st, err, herr);
	if (st == NSS_STATUS_SUCCESS)
		check_hostent(&h, af, tiny, sizeof(tiny));
}

static void by_addr(const struct zkh_addr *a, struct seen *s)
{
	static char buf[BIG];
	struct zkh_addr target;
	struct hostent h;
	size_t alen = zkh_addr_len(a->family);
	int err = 0, herr = 0;
	int32_t ttl = -1;
	enum nss_status st;

	st = _nss_zk_gethostbyaddr2_r(a->bytes, (socklen_t)alen, a->family,
				      &h, buf, sizeof(buf), &err, &herr, &ttl);
	check_status(st, err, herr);
	if (st != NSS_STATUS_SUCCESS)
		return;
	check_hostent(&h, a->family, buf, sizeof(buf));
	FUZZ_CHECK(memcmp(h.h_addr_list[0], a->bytes, alen) == 0);
	note_name(s, h.h_name);
	/* Forward and reverse agree: the canonical name of a reverse answer
	 * resolves to the address (IPv4-mapped queries answer with the
	 * IPv4 records, checked through the embedded address). */
	target = *a;
	if (a->family == AF_INET6 &&
	    memcmp(a->bytes, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0 &&
	    !forward_has(h.h_name, a)) {
		memset(&target, 0, sizeof(target));
		target.family = AF_INET;
		memcpy(target.bytes, a->bytes + 12, 4);
	}
	FUZZ_CHECK(forward_has(h.h_name, &target) ||
		   !"reverse answer does not resolve forward");
}

static void enumerate(struct seen *s)
{
	static char buf[BIG];
	struct hostent h;
	int err = 0, herr = 0, i;
	enum nss_status st = NSS_STATUS_SUCCESS;

	_nss_zk_sethostent(0);
	for (i = 0; i < MAX_ENUM; i++) {
		st = _nss_zk_gethostent_r(&h, buf, sizeof(buf), &err, &herr);
		check_status(st, err, herr);
		if (st != NSS_STATUS_SUCCESS)
			break;
		FUZZ_CHECK(h.h_addrtype == AF_INET ||
			   h.h_addrtype == AF_INET6);
		check_hostent(&h, h.h_addrtype, buf, sizeof(buf));
		note_name(s, h.h_name);
		note_addr(s, h.h_addrtype, h.h_addr_list[0]);
	}
	_nss_zk_endhostent();
}

void nss_harness_query(void)
{
	static const char *const names[] = {
		"web-1", "WEB-1.example.com.", "db", "v6only", "missing",
		"x.example.com", "", ".", "a..b",
	};
	static const char *const addrs[] = {
		"10.0.0.5", "fd00::5", "::ffff:10.0.0.5", "192.168.1.1",
		"127.0.0.1",
	};
	static struct seen s;

	memset(&s, 0, sizeof(s));
	enumerate(&s);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		note_name(&s, names[i]);
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		struct zkh_addr a;

		if (zkh_addr_parse(addrs[i], strlen(addrs[i]), &a) == 0)
			note_addr(&s, a.family, a.bytes);
	}
	for (size_t i = 0; i < s.nnames; i++) {
		by_name4(s.names[i], &s);
		by_name(s.names[i], AF_INET, &s);
		by_name(s.names[i], AF_INET6, &s);
	}
	for (size_t i = 0; i < s.naddrs; i++)
		by_addr(&s.addrs[i], &s);
}

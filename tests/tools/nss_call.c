/*
 * nss_call - test helper: dlopen libnss_zk.so.2 and call one of its entry
 * points directly, printing the status triple and the answer in a stable
 * text form the integration tests compare against.
 *
 *   nss_call [options] LIB CALL [ARG...]
 *     name4 NAME           _nss_zk_gethostbyname4_r   (--pat: caller tuple)
 *     name3 NAME 4|6       _nss_zk_gethostbyname3_r   (prints ttl, canon)
 *     name2 NAME 4|6       _nss_zk_gethostbyname2_r
 *     name  NAME           _nss_zk_gethostbyname_r
 *     addr2 ADDR           _nss_zk_gethostbyaddr2_r   (family from ADDR)
 *     addr  ADDR           _nss_zk_gethostbyaddr_r
 *     rawaddr AF LEN ADDR  gethostbyaddr_r with an explicit family/length
 *     enum                 sethostent, gethostent_r until not SUCCESS,
 *                          endhostent
 *   options:
 *     --buflen N   use exactly N bytes (default: sweep from 0 upwards and
 *                  check every too-small size gives TRYAGAIN/ERANGE/
 *                  NETDB_INTERNAL and leaves buffer and result untouched)
 *     --misalign   pass a buffer whose address is odd
 *     --repeat N   do the call N times (output of the last one)
 *     --pat        (name4) pass a caller-supplied first tuple
 *
 * Output lines: "status S errno E h_errno H", then answer lines
 * ("name", "alias", "addr", "tuple", "ttl", "canon", "sweep_min").
 * Exit 0 if the checks of the call mechanics passed (whatever the status),
 * 1 on a mechanics violation (message on stderr), 2 on usage errors.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <nss.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef enum nss_status (*name4_fn)(const char *, struct gaih_addrtuple **,
				    char *, size_t, int *, int *, int32_t *);
typedef enum nss_status (*name3_fn)(const char *, int, struct hostent *,
				    char *, size_t, int *, int *, int32_t *,
				    char **);
typedef enum nss_status (*name2_fn)(const char *, int, struct hostent *,
				    char *, size_t, int *, int *);
typedef enum nss_status (*name_fn)(const char *, struct hostent *, char *,
				   size_t, int *, int *);
typedef enum nss_status (*addr2_fn)(const void *, socklen_t, int,
				    struct hostent *, char *, size_t, int *,
				    int *, int32_t *);
typedef enum nss_status (*addr_fn)(const void *, socklen_t, int,
				   struct hostent *, char *, size_t, int *,
				   int *);
typedef enum nss_status (*set_fn)(int);
typedef enum nss_status (*ent_fn)(struct hostent *, char *, size_t, int *,
				  int *);
typedef enum nss_status (*end_fn)(void);

#define CANARY 0xA5

static void *lib;
static const char *call;
static char **args;
static int nargs;
static int misalign, use_pat, quiet;
static enum nss_status last_st;	/* status of the last run_one */

/* Result of one call. */
struct res {
	enum nss_status st;
	int err, herr;
	struct hostent h;
	struct gaih_addrtuple *pat;
	struct gaih_addrtuple first;
	int32_t ttl;
	char *canon;
};

static void *sym(const char *name)
{
	void *p = dlsym(lib, name);

	if (!p) {
		fprintf(stderr, "nss_call: missing symbol %s\n", name);
		exit(2);
	}
	return p;
}

static int parse_addr(const char *s, int *af, unsigned char *buf)
{
	if (inet_pton(AF_INET, s, buf) == 1) {
		*af = AF_INET;
		return 4;
	}
	if (inet_pton(AF_INET6, s, buf) == 1) {
		*af = AF_INET6;
		return 16;
	}
	fprintf(stderr, "nss_call: bad address %s\n", s);
	exit(2);
}

static int fam(const char *s)
{
	return strcmp(s, "6") == 0 ? AF_INET6 : strcmp(s, "4") == 0 ? AF_INET :
	    atoi(s);
}

/* One call of the selected entry point with buffer buf/len. */
static void do_call(struct res *r, char *buf, size_t len)
{
	unsigned char a[16];
	int af, alen;

	memset(r, 0, sizeof(*r));
	r->err = -99;
	r->herr = -99;
	r->ttl = -12345;
	if (strcmp(call, "name4") == 0) {
		if (use_pat) {
			memset(&r->first, CANARY, sizeof(r->first));
			r->pat = &r->first;
		}
		r->st = ((name4_fn)sym("_nss_zk_gethostbyname4_r"))(args[0],
			&r->pat, buf, len, &r->err, &r->herr, &r->ttl);
	} else if (strcmp(call, "name3") == 0) {
		r->st = ((name3_fn)sym("_nss_zk_gethostbyname3_r"))(args[0],
			fam(args[1]), &r->h, buf, len, &r->err, &r->herr,
			&r->ttl, &r->canon);
	} else if (strcmp(call, "name2") == 0) {
		r->st = ((name2_fn)sym("_nss_zk_gethostbyname2_r"))(args[0],
			fam(args[1]), &r->h, buf, len, &r->err, &r->herr);
	} else if (strcmp(call, "name") == 0) {
		r->st = ((name_fn)sym("_nss_zk_gethostbyname_r"))(args[0],
			&r->h, buf, len, &r->err, &r->herr);
	} else if (strcmp(call, "addr2") == 0) {
		alen = parse_addr(args[0], &af, a);
		r->st = ((addr2_fn)sym("_nss_zk_gethostbyaddr2_r"))(a,
			(socklen_t)alen, af, &r->h, buf, len, &r->err,
			&r->herr, &r->ttl);
	} else if (strcmp(call, "addr") == 0) {
		alen = parse_addr(args[0], &af, a);
		r->st = ((addr_fn)sym("_nss_zk_gethostbyaddr_r"))(a,
			(socklen_t)alen, af, &r->h, buf, len, &r->err,
			&r->herr);
	} else if (strcmp(call, "rawaddr") == 0) {
		memset(a, 0, sizeof(a));
		parse_addr(args[2], &af, a);
		r->st = ((addr_fn)sym("_nss_zk_gethostbyaddr_r"))(a,
			(socklen_t)atoi(args[1]), fam(args[0]), &r->h, buf,
			len, &r->err, &r->herr);
	} else if (strcmp(call, "ent") == 0) {
		r->st = ((ent_fn)sym("_nss_zk_gethostent_r"))(&r->h, buf, len,
			&r->err, &r->herr);
	} else {
		fprintf(stderr, "nss_call: unknown call %s\n", call);
		exit(2);
	}
}

static const char *stname(enum nss_status st)
{
	switch (st) {
	case NSS_STATUS_SUCCESS: return "SUCCESS";
	case NSS_STATUS_NOTFOUND: return "NOTFOUND";
	case NSS_STATUS_UNAVAIL: return "UNAVAIL";
	case NSS_STATUS_TRYAGAIN: return "TRYAGAIN";
	default: return "OTHER";
	}
}

static const char *errname(int e)
{
	switch (e) {
	case 0: return "0";
	case ENOENT: return "ENOENT";
	case ERANGE: return "ERANGE";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	case -99: return "unset";
	default: return "other";
	}
}

static const char *hname(int h)
{
	switch (h) {
	case NETDB_INTERNAL: return "NETDB_INTERNAL";
	case NETDB_SUCCESS: return "NETDB_SUCCESS";
	case HOST_NOT_FOUND: return "HOST_NOT_FOUND";
	case TRY_AGAIN: return "TRY_AGAIN";
	case NO_RECOVERY: return "NO_RECOVERY";
	case NO_DATA: return "NO_DATA";
	default: return "unset";
	}
}

static void print_addr(const char *tag, int af, const void *p)
{
	char txt[INET6_ADDRSTRLEN];

	printf("%s %s\n", tag, inet_ntop(af, p, txt, sizeof(txt)) ? txt : "?");
}

static void print_res(const struct res *r)
{
	char **p;

	printf("status %s errno %s h_errno %s\n", stname(r->st),
	       errname(r->err), hname(r->herr));
	if (r->st != NSS_STATUS_SUCCESS)
		return;
	if (strcmp(call, "name4") == 0) {
		const struct gaih_addrtuple *t;

		for (t = r->pat; t; t = t->next) {
			char txt[INET6_ADDRSTRLEN];

			inet_ntop(t->family, t->addr, txt, sizeof(txt));
			printf("tuple %s %s%s\n", t->name ? t->name : "-", txt,
			       t == &r->first ? " (caller)" : "");
		}
	} else {
		printf("name %s\n", r->h.h_name);
		for (p = r->h.h_aliases; *p; p++)
			printf("alias %s\n", *p);
		printf("family %d length %d\n", r->h.h_addrtype,
		       r->h.h_length);
		for (p = r->h.h_addr_list; *p; p++)
			print_addr("addr", r->h.h_addrtype, *p);
	}
	if (r->ttl != -12345)
		printf("ttl %d\n", r->ttl);
	if (r->canon)
		printf("canon %s\n", r->canon);
}

/* Returns 0 if the too-small-buffer mechanics hold for r. */
static int check_small(const struct res *r, const unsigned char *buf,
		       size_t len, size_t tried)
{
	size_t i;

	if (r->st != NSS_STATUS_TRYAGAIN)
		return 0;
	if (r->err != ERANGE || r->herr != NETDB_INTERNAL) {
		fprintf(stderr, "buflen %zu: TRYAGAIN with errno %s h_errno "
			"%s\n", tried, errname(r->err), hname(r->herr));
		return 1;
	}
	for (i = 0; i < len; i++)
		if (buf[i] != CANARY) {
			fprintf(stderr, "buflen %zu: buffer written before "
				"ERANGE (byte %zu)\n", tried, i);
			return 1;
		}
	if (r->h.h_name || r->h.h_addr_list || (use_pat &&
	    r->pat != &r->first) || (use_pat && ((const unsigned char *)
	    &r->first)[0] != CANARY) || (!use_pat && r->pat)) {
		fprintf(stderr, "buflen %zu: result written before ERANGE\n",
			tried);
		return 1;
	}
	return 0;
}

/* Call with a fresh exact-size heap buffer; returns the mechanics
 * verdict and leaves the buffer to the caller. */
static int call_with(struct res *r, size_t len, unsigned char **keep)
{
	unsigned char *raw = malloc(len + (size_t)misalign + 1);
	unsigned char *buf = raw + misalign;
	int bad;

	if (!raw) {
		perror("malloc");
		exit(2);
	}
	memset(raw, CANARY, len + (size_t)misalign);
	do_call(r, (char *)buf, len);
	bad = check_small(r, buf, len, len);
	*keep = raw;
	return bad;
}

/* One lookup, swept or at a fixed size; prints it. Returns mechanics. */
static int run_one(long buflen)
{
	unsigned char *raw = NULL;
	struct res r;
	size_t len;
	int bad = 0;

	if (buflen >= 0) {
		bad = call_with(&r, (size_t)buflen, &raw);
		last_st = r.st;
		if (!quiet)
			print_res(&r);
		free(raw);
		return bad;
	}
	for (len = 0; len <= 65536; len++) {
		bad |= call_with(&r, len, &raw);
		if (r.st != NSS_STATUS_TRYAGAIN || r.err != ERANGE) {
			last_st = r.st;
			if (!quiet)
				print_res(&r);
			if (r.st == NSS_STATUS_SUCCESS && !quiet)
				printf("sweep_min %zu\n", len);
			free(raw);
			return bad;
		}
		free(raw);
	}
	fprintf(stderr, "nss_call: no buffer size up to 64 KiB worked\n");
	return 1;
}

int main(int argc, char **argv)
{
	long buflen = -1, repeat = 1, i;
	int bad = 0, n;

	while (argc > 1 && strncmp(argv[1], "--", 2) == 0) {
		if (strcmp(argv[1], "--buflen") == 0 && argc > 2) {
			buflen = atol(argv[2]);
			argv++, argc--;
		} else if (strcmp(argv[1], "--repeat") == 0 && argc > 2) {
			repeat = atol(argv[2]);
			argv++, argc--;
		} else if (strcmp(argv[1], "--misalign") == 0) {
			misalign = 1;
		} else if (strcmp(argv[1], "--pat") == 0) {
			use_pat = 1;
		} else {
			fprintf(stderr, "nss_call: unknown option %s\n",
				argv[1]);
			return 2;
		}
		argv++, argc--;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: nss_call [options] LIB CALL [ARG...]\n");
		return 2;
	}
	lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "nss_call: %s\n", dlerror());
		return 2;
	}
	call = argv[2];
	args = argv + 3;
	nargs = argc - 3;
	if ((strcmp(call, "name3") == 0 || strcmp(call, "name2") == 0) &&
	    nargs < 2) {
		fprintf(stderr, "nss_call: %s NAME 4|6\n", call);
		return 2;
	}
	if (strcmp(call, "rawaddr") == 0 && nargs < 3) {
		fprintf(stderr, "nss_call: rawaddr AF LEN ADDR\n");
		return 2;
	}
	if (strcmp(call, "enum") != 0 && nargs < 1) {
		fprintf(stderr, "nss_call: %s needs an argument\n", call);
		return 2;
	}
	if (strcmp(call, "enum") == 0) {
		enum nss_status st;

		for (i = 0; i < repeat; i++) {
			st = ((set_fn)sym("_nss_zk_sethostent"))(0);
			printf("sethostent %s\n", stname(st));
			call = "ent";
			for (n = 0; n < 100000; n++) {
				bad |= run_one(buflen);
				if (last_st != NSS_STATUS_SUCCESS)
					break;
			}
			st = ((end_fn)sym("_nss_zk_endhostent"))();
			printf("endhostent %s\n", stname(st));
			call = "enum";
		}
		return bad;
	}
	quiet = 1;
	for (i = 0; i + 1 < repeat; i++)
		bad |= run_one(buflen < 0 ? 4096 : buflen);
	quiet = 0;
	bad |= run_one(buflen);
	return bad;
}

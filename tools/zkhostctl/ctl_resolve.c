/*
 * ctl_resolve.c - `zkhostctl resolve NAME|ADDRESS [--json]`: explain an
 * answer. It opens this host's published snapshot through the shared
 * reader with the module's trust rules (snapread.h) and retraces the
 * module's lookup step by step: for a name, the folded query, the keys
 * tried in order (as given, then the other `domain` form), the record
 * found (name as written, czxid, addresses in stored order), the canonical
 * name and alias the module answers, and any sibling record the rules
 * shadow (the other domain form of the same name); for an address, the
 * records holding it in creation order, each checked to resolve back, and
 * whether the IPv4-mapped rule applied. Then it asks this process's own
 * NSS chain (getaddrinfo with AI_CANONNAME, or gethostbyaddr), prints the
 * `hosts:` line of /etc/nsswitch.conf, whether /etc/hosts holds the query
 * (so `files` would answer before zk) and whether the final answer agrees
 * with the snapshot's. glibc does not expose per-source answers, so only
 * the chain's final answer is shown. Never talks to ZooKeeper.
 *
 * Exit status: 0 found in the snapshot, 1 not found there, 2 bad
 * argument, 3 cache unavailable or refused by the trust rules, 4 other.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "zkhosts/names.h"
#include "zkhosts/snapread.h"
#include "ctl.h"

#define NSSWITCH "/etc/nsswitch.conf"
#define ETC_HOSTS "/etc/hosts"
/* glibc's chain for hosts when nsswitch.conf has no `hosts:` line. */
#define DEFAULT_CHAIN "dns [!UNAVAIL=return] files"
#define ADDR_TXT 64
#define NSS_ADDRS_MAX 64
#define CASE_NOTE "names match case-insensitively; the snapshot keeps one " \
	"record per folded name, written as in ZooKeeper; znodes differing " \
	"only in case are one record (the one written last is served; " \
	"zkhostctl ls lists them all)"

/* Copy a two-piece string into out (capacity ZKH_NAME_MAX + 1). */
static void pstr_copy(const struct zkh_pstr *p, char *out)
{
	size_t a = p->alen > ZKH_NAME_MAX ? ZKH_NAME_MAX : p->alen;
	size_t b = p->blen > ZKH_NAME_MAX - a ? ZKH_NAME_MAX - a : p->blen;

	if (a)
		memcpy(out, p->a, a);
	if (b)
		memcpy(out + a, p->b, b);
	out[a + b] = '\0';
}

/* The record's name as written, NUL-terminated into out. */
static void rec_name(const struct zkh_rec_view *r, char *out)
{
	size_t n = r->name_len > ZKH_NAME_MAX ? ZKH_NAME_MAX : r->name_len;

	memcpy(out, r->name, n);
	out[n] = '\0';
}

/* Address i of record r (IPv4 first, then IPv6, as stored). */
static void rec_addr(const struct zkh_rec_view *r, unsigned i,
		     struct zkh_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (i < r->n4) {
		a->family = AF_INET;
		memcpy(a->bytes, r->v4 + 4 * i, 4);
	} else {
		a->family = AF_INET6;
		memcpy(a->bytes, r->v6 + 16 * (i - r->n4), 16);
	}
}

static bool rec_holds(const struct zkh_rec_view *r, const struct zkh_addr *a)
{
	struct zkh_addr x;

	for (unsigned i = 0; i < r->n4 + r->n6; i++) {
		rec_addr(r, i, &x);
		if (x.family == a->family &&
		    memcmp(x.bytes, a->bytes, zkh_addr_len(a->family)) == 0)
			return true;
	}
	return false;
}

/* Get and decode the record stored under folded key k. */
static int get_key(const struct zkh_snapread *s, MDB_txn *txn, const char *k,
		   struct zkh_rec_view *rec)
{
	MDB_val key = { .mv_size = strlen(k), .mv_data = (void *)k }, val;

	if (mdb_get(txn, s->names, &key, &val) != 0)
		return -ENOENT;
	if (zkh_rec_decode(val.mv_data, val.mv_size, k, strlen(k), rec) != 0)
		return -EINVAL;
	return 0;
}

/* ---- NSS side ---------------------------------------------------------- */

struct nss_answer {
	char chain[512];	/* the hosts: line, or glibc's default */
	bool chain_default;	/* no hosts: line found */
	bool files_first;	/* files comes before zk in the chain */
	bool zk_in_chain;	/* the chain names zk at all */
	bool in_etc_hosts;	/* /etc/hosts holds the query */
	bool found;
	char error[256];	/* why not found */
	char canon[NI_MAXHOST];
	char aliases[8][NI_MAXHOST];
	size_t naliases;
	struct zkh_addr addrs[NSS_ADDRS_MAX];
	size_t naddrs;
	bool matches;		/* agrees with the snapshot's answer */
};

/* Read the hosts: line of nsswitch.conf into a->chain. */
static void read_chain(struct nss_answer *a)
{
	FILE *f = fopen(NSSWITCH, "re");
	char line[1024];
	const char *p;
	size_t n;

	snprintf(a->chain, sizeof(a->chain), "%s", DEFAULT_CHAIN);
	a->chain_default = true;
	while (f && fgets(line, sizeof(line), f)) {
		p = line + strspn(line, " \t");
		if (strncmp(p, "hosts:", 6) != 0)
			continue;
		p += 6;
		p += strspn(p, " \t");
		n = strcspn(p, "#\n");
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		snprintf(a->chain, sizeof(a->chain), "%.*s", (int)n, p);
		a->chain_default = false;
	}
	if (f)
		fclose(f);
	/* files before zk?  Compare the first whole-word positions. */
	{
		const char *files = NULL, *zk = NULL;

		for (p = a->chain; *p;) {
			size_t w = strcspn(p, " \t");

			if (w == 5 && strncmp(p, "files", 5) == 0 && !files)
				files = p;
			if (w == 2 && strncmp(p, "zk", 2) == 0 && !zk)
				zk = p;
			p += w;
			p += strspn(p, " \t");
		}
		a->files_first = files && (!zk || files < zk);
		a->zk_in_chain = zk != NULL;
	}
}

/* Does /etc/hosts hold name q (folded) or address qa? */
static bool etc_hosts_has(const char *q, const struct zkh_addr *qa)
{
	FILE *f = fopen(ETC_HOSTS, "re");
	char line[4096];
	bool hit = false;

	while (f && !hit && fgets(line, sizeof(line), f)) {
		char *save = NULL, *tok;
		struct zkh_addr a;
		bool first = true, addr_ok = false;

		line[strcspn(line, "#\n")] = '\0';
		for (tok = strtok_r(line, " \t", &save); tok && !hit;
		     tok = strtok_r(NULL, " \t", &save), first = false) {
			if (first) {
				addr_ok = zkh_addr_parse(tok, strlen(tok),
							 &a) == 0;
				if (!addr_ok)
					break;
				if (qa && a.family == qa->family &&
				    memcmp(a.bytes, qa->bytes,
					   zkh_addr_len(a.family)) == 0)
					hit = true;
				continue;
			}
			if (q) {
				size_t n = strlen(tok);

				if (n > 1 && tok[n - 1] == '.')
					tok[--n] = '\0';
				hit = strcasecmp(tok, q) == 0;
			}
		}
	}
	if (f)
		fclose(f);
	return hit;
}

/* getaddrinfo(name, AI_CANONNAME) through this process's chain. */
static void nss_name(const char *name, struct nss_answer *a)
{
	struct addrinfo hints, *res = NULL, *ai;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_CANONNAME;
	rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc != 0) {
		snprintf(a->error, sizeof(a->error), "%s", gai_strerror(rc));
		return;
	}
	a->found = true;
	if (res->ai_canonname)
		snprintf(a->canon, sizeof(a->canon), "%s", res->ai_canonname);
	for (ai = res; ai && a->naddrs < NSS_ADDRS_MAX; ai = ai->ai_next) {
		struct zkh_addr x;
		bool dup = false;

		memset(&x, 0, sizeof(x));
		x.family = ai->ai_family;
		if (ai->ai_family == AF_INET)
			memcpy(x.bytes, &((struct sockaddr_in *)(void *)
					  ai->ai_addr)->sin_addr, 4);
		else if (ai->ai_family == AF_INET6)
			memcpy(x.bytes, &((struct sockaddr_in6 *)(void *)
					  ai->ai_addr)->sin6_addr, 16);
		else
			continue;
		for (size_t i = 0; i < a->naddrs; i++)
			dup |= memcmp(&a->addrs[i], &x, sizeof(x)) == 0;
		if (!dup)
			a->addrs[a->naddrs++] = x;
	}
	freeaddrinfo(res);
}

/* gethostbyaddr_r(addr) through this process's chain. */
static void nss_addr(const struct zkh_addr *q, struct nss_answer *a)
{
	struct hostent he, *res = NULL;
	char buf[16384];
	int herr = 0, rc;

	rc = gethostbyaddr_r(q->bytes, (socklen_t)zkh_addr_len(q->family),
			     q->family, &he, buf, sizeof(buf), &res, &herr);
	if (rc != 0 || !res) {
		snprintf(a->error, sizeof(a->error), "%s",
			 rc == ERANGE ? "answer too large" : hstrerror(herr));
		return;
	}
	a->found = true;
	snprintf(a->canon, sizeof(a->canon), "%s", res->h_name);
	for (char **p = res->h_aliases; p && *p && a->naliases < 8; p++)
		snprintf(a->aliases[a->naliases++], NI_MAXHOST, "%s", *p);
}

/* ---- the snapshot side ------------------------------------------------- */

/* Everything found for the query, for both printers. */
struct explain {
	const char *query;
	bool is_addr;
	const char *cache;
	struct zkh_meta meta;
	/* name */
	char folded[ZKH_NAME_MAX + 1];
	char keys[2][ZKH_NAME_MAX + 1];	/* tried in order */
	int nkeys;
	int hit;		/* index into keys, -1: not found */
	bool bad_record;	/* a key exists but its record fails to decode */
	struct zkh_rec_view rec;
	char canon[ZKH_NAME_MAX + 1], alias[ZKH_NAME_MAX + 1];
	bool has_alias;
	bool sibling;		/* the other key holds a record too */
	struct zkh_rec_view sib;
	char sib_why[6 * (ZKH_NAME_MAX + 1)];
	/* address */
	struct zkh_addr addr;
	bool mapped;		/* answered from the IPv4 part */
	struct zkh_rev rev;
	char rcanon[ZKH_REV_MAX][ZKH_NAME_MAX + 1];
	char ralias[ZKH_REV_MAX][ZKH_NAME_MAX + 1];
	bool rhas_alias[ZKH_REV_MAX], rback[ZKH_REV_MAX];
	struct nss_answer nss;
};

static void explain_name(const struct zkh_snapread *s, MDB_txn *txn,
			 struct explain *e)
{
	struct zkh_pstr c, al;
	char sname[ZKH_NAME_MAX + 1], me[ZKH_NAME_MAX + 1];
	int len = zkh_name_fold(e->query, strlen(e->query), e->folded), other;
	int rc;

	e->hit = -1;
	if (len < 0)
		return;
	snprintf(e->keys[0], sizeof(e->keys[0]), "%s", e->folded);
	e->nkeys = 1;
	other = zkh_sr_alt_key(e->folded, (size_t)len, s->dsuffix,
			       s->dsuffix_len, e->keys[1]);
	if (other >= 0)
		e->nkeys = 2;
	for (int i = 0; i < e->nkeys && e->hit < 0; i++) {
		rc = get_key(s, txn, e->keys[i], &e->rec);
		if (rc == 0)
			e->hit = i;
		else if (rc == -EINVAL)
			e->bad_record = true;
	}
	if (e->hit < 0)
		return;
	e->has_alias = zkh_sr_rec_names(s, txn, &e->rec, &c, &al) > 0;
	pstr_copy(&c, e->canon);
	if (e->has_alias)
		pstr_copy(&al, e->alias);
	/* The other domain form, when the first key hit: a record there is
	 * shadowed for this query, and the two split the names. */
	if (e->hit == 0 && e->nkeys == 2 &&
	    get_key(s, txn, e->keys[1], &e->sib) == 0) {
		e->sibling = true;
		rec_name(&e->sib, sname);
		rec_name(&e->rec, me);
		snprintf(e->sib_why, sizeof(e->sib_why), "record '%s' (key "
			 "%s) is not reached by this query: the exact key %s is "
			 "tried first and holds '%s'; the qualified record owns "
			 "the name '%s', so neither record has the other's "
			 "name as an alias", sname, e->keys[1], e->keys[0], me,
			 strlen(e->keys[0]) > strlen(e->keys[1]) ?
			 e->keys[0] : e->keys[1]);
	}
}

static void explain_addr(const struct zkh_snapread *s, MDB_txn *txn,
			 struct explain *e)
{
	struct zkh_pstr names[2];

	if (zkh_sr_lookup_addr(s, txn, &e->addr, &e->rev) != 0) {
		e->rev.n = 0;
		return;
	}
	e->mapped = e->addr.family == AF_INET6 &&
	    !rec_holds(&e->rev.recs[0], &e->addr);
	for (size_t i = 0; i < e->rev.n; i++) {
		struct zkh_rec_view back;
		struct zkh_addr held = e->addr;

		e->rhas_alias[i] = zkh_sr_rec_names(s, txn, &e->rev.recs[i],
						    &names[0], &names[1]) > 0;
		pstr_copy(&names[0], e->rcanon[i]);
		if (e->rhas_alias[i])
			pstr_copy(&names[1], e->ralias[i]);
		if (e->mapped) {
			memset(&held, 0, sizeof(held));
			held.family = AF_INET;
			memcpy(held.bytes, e->addr.bytes + 12, 4);
		}
		/* Forward lookup of its canonical name: the same record, and
		 * it holds the address. */
		e->rback[i] = zkh_sr_lookup_name(s, txn, e->rcanon[i],
						 &back) == 0 &&
		    back.czxid == e->rev.recs[i].czxid &&
		    rec_holds(&back, &held);
	}
}

/* Does the chain's answer agree with the snapshot's? */
static void compare(struct explain *e)
{
	struct nss_answer *a = &e->nss;
	struct zkh_addr x;

	a->matches = false;
	if (!a->found)
		return;
	if (e->is_addr) {
		a->matches = e->rev.n > 0 &&
		    strcasecmp(a->canon, e->rcanon[0]) == 0;
		return;
	}
	if (e->hit < 0 || strcasecmp(a->canon, e->canon) != 0)
		return;
	/* Same set of addresses (getaddrinfo sorts them, RFC 6724). */
	for (size_t i = 0; i < a->naddrs; i++)
		if (!rec_holds(&e->rec, &a->addrs[i]))
			return;
	for (unsigned i = 0; i < e->rec.n4 + e->rec.n6; i++) {
		bool seen = false;

		rec_addr(&e->rec, i, &x);
		for (size_t j = 0; j < a->naddrs; j++)
			seen |= a->addrs[j].family == x.family &&
			    memcmp(a->addrs[j].bytes, x.bytes, 16) == 0;
		if (!seen)
			return;
	}
	a->matches = true;
}

/* ---- output ------------------------------------------------------------ */

static void fmt_time(uint64_t us, char *out, size_t cap)
{
	time_t t = (time_t)(us / 1000000u);
	struct tm tm;

	if (us == 0 || !gmtime_r(&t, &tm) ||
	    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, cap, "never");
}

static const char *meta_state(const struct zkh_meta *m)
{
	if (m->flags & ZKH_META_CONNECTED)
		return m->flags & ZKH_META_SYNCED ? "connected, synced" :
		    "connected, not synced";
	return m->flags & ZKH_META_SYNCED ? "disconnected, synced earlier" :
	    "disconnected, never synced";
}

static void print_text(const struct explain *e)
{
	char buf[ADDR_TXT], t[64], n[ZKH_NAME_MAX + 1];
	const struct nss_answer *a = &e->nss;
	struct zkh_addr x;

	fmt_time(e->meta.publish_time_us, t, sizeof(t));
	printf("snapshot:     %s, generation %" PRIu64 ", %" PRIu64
	       " records, domain %s\n", e->cache, e->meta.generation,
	       e->meta.record_count,
	       e->meta.domain_len ? e->meta.domain : "(none)");
	printf("published:    %s (publisher: %s)\n", t, meta_state(&e->meta));
	if (!e->is_addr) {
		printf("query:        %s\n", e->query);
		printf("folded:       %s\n", e->folded);
		for (int i = 0; i < e->nkeys; i++)
			printf("key %d:        %s: %s%s\n", i + 1, e->keys[i],
			       e->hit == i ? "found" : e->hit >= 0 &&
			       i > e->hit ? (e->sibling ? "not tried "
			       "(holds a record: see shadowed)" : "not tried") :
			       e->bad_record ? "no usable record" : "no record",
			       i == 1 ? (strlen(e->keys[1]) >
					 strlen(e->keys[0]) ?
					 " (domain form x.<domain>)" :
					 " (domain dropped)") : "");
		if (e->nkeys == 1)
			printf("domain:       %s\n", e->meta.domain_len ?
			       "no other form (too long)" :
			       "none configured: only the exact key");
		if (e->hit < 0) {
			printf("record:       none%s\n", e->bad_record ?
			       " (a stored record fails to decode)" : "");
		} else {
			rec_name(&e->rec, n);
			printf("record:       %s (czxid 0x%" PRIx64 ")%s\n", n,
			       e->rec.czxid, strcmp(n, e->folded) &&
			       strcasecmp(n, e->keys[e->hit]) == 0 ?
			       " (case as written in ZooKeeper)" : "");
			for (unsigned i = 0; i < e->rec.n4 + e->rec.n6; i++) {
				rec_addr(&e->rec, i, &x);
				printf("address:      %s\n",
				       zkh_addr_format(&x, buf, sizeof(buf)));
			}
			printf("canonical:    %s\n", e->canon);
			printf("alias:        %s\n", e->has_alias ? e->alias :
			       "(none)");
			if (e->sibling)
				printf("shadowed:     %s\n", e->sib_why);
			printf("case:         %s\n", CASE_NOTE);
			printf("not kept:     mzxid and ephemeral are not in "
			       "the snapshot (zkhostctl get/ls read ZooKeeper)"
			       "\n");
		}
	} else {
		printf("query:        %s\n", e->query);
		printf("address:      %s%s\n", zkh_addr_format(&e->addr, buf,
							       sizeof(buf)),
		       e->mapped ? " (IPv4-mapped: answered from the IPv4 "
		       "records of its last 4 bytes)" : "");
		if (e->rev.n == 0)
			printf("records:      none\n");
		for (size_t i = 0; i < e->rev.n; i++) {
			rec_name(&e->rev.recs[i], n);
			printf("record %zu:     %s (czxid 0x%" PRIx64 "): "
			       "canonical %s, alias %s, %s\n", i + 1, n,
			       e->rev.recs[i].czxid, e->rcanon[i],
			       e->rhas_alias[i] ? e->ralias[i] : "(none)",
			       e->rback[i] ? "resolves back" :
			       "does NOT resolve back");
		}
		if (e->rev.n)
			printf("canonical:    %s (oldest record first)\n",
			       e->rcanon[0]);
	}
	printf("nss chain:    hosts: %s%s\n", a->chain, a->chain_default ?
	       " (no hosts: line in " NSSWITCH ", glibc's default)" :
	       " (" NSSWITCH "; a program may override it, as getent -s "
	       "does)");
	if (!a->zk_in_chain)
		printf("nss note:     zk is not in this chain: programs using "
		       "it do not read the snapshot\n");
	printf("/etc/hosts:   %s\n", !a->in_etc_hosts ? "does not hold it" :
	       !a->zk_in_chain ? "holds it (zk is not in the chain)" :
	       a->files_first ? "holds it, and files comes before zk: "
	       "files answers first" : "holds it (files is not before zk)");
	if (!a->found) {
		printf("nss answer:   none (%s)\n", a->error);
	} else {
		printf("nss answer:   %s", a->canon);
		for (size_t i = 0; i < a->naliases; i++)
			printf(" %s", a->aliases[i]);
		for (size_t i = 0; i < a->naddrs; i++)
			printf(" %s", zkh_addr_format(&a->addrs[i], buf,
						      sizeof(buf)));
		printf("\n");
	}
	printf("agrees:       %s\n", a->matches ? "yes, same as the snapshot" :
	       "no, differs from the snapshot");
}

/* Append the record's addresses (as stored) to a new array. */
static json_t *addr_array(const struct zkh_rec_view *r)
{
	json_t *arr = json_array();
	char buf[ADDR_TXT];
	struct zkh_addr x;

	for (unsigned i = 0; arr && i < r->n4 + r->n6; i++) {
		rec_addr(r, i, &x);
		if (json_array_append_new(arr, json_string(zkh_addr_format(
			&x, buf, sizeof(buf)))) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *opt_str(bool have, const char *s)
{
	return have ? ctl_json_str(s) : json_null();
}

static json_t *build_json(const struct explain *e)
{
	const struct nss_answer *a = &e->nss;
	char buf[ADDR_TXT], t[64], n[ZKH_NAME_MAX + 1];
	json_t *doc, *tried, *arr;

	fmt_time(e->meta.publish_time_us, t, sizeof(t));
	doc = json_pack("{s:o, s:s, s:{s:o, s:I, s:I, s:o, s:s, s:I, s:b, "
			"s:b}}", "query", ctl_json_str(e->query),
			"kind", e->is_addr ? "address" : "name",
			"snapshot", "cache", ctl_json_str(e->cache),
			"generation", (json_int_t)e->meta.generation,
			"records", (json_int_t)e->meta.record_count,
			"domain", opt_str(e->meta.domain_len, e->meta.domain),
			"published", t, "published_us",
			(json_int_t)e->meta.publish_time_us,
			"synced", (e->meta.flags & ZKH_META_SYNCED) != 0,
			"connected", (e->meta.flags & ZKH_META_CONNECTED) != 0);
	if (!doc)
		return NULL;
	if (!e->is_addr) {
		tried = json_array();
		for (int i = 0; tried && i < e->nkeys; i++)
			json_array_append_new(tried, json_pack(
				"{s:s, s:b, s:b}", "key", e->keys[i], "found",
				e->hit == i, "domain_form", i == 1));
		if (json_object_set_new(doc, "folded", json_string(e->folded))
		    || json_object_set_new(doc, "tried", tried) ||
		    json_object_set_new(doc, "domain_form_matched",
					json_boolean(e->hit == 1)))
			goto fail;
		if (e->hit >= 0) {
			rec_name(&e->rec, n);
			if (json_object_set_new(doc, "record", json_pack(
				"{s:o, s:s, s:I, s:o, s:n, s:n, s:s}", "name",
				ctl_json_str(n), "key", e->keys[e->hit],
				"czxid", (json_int_t)e->rec.czxid,
				"addresses", addr_array(&e->rec),
				"mzxid", "ephemeral", "case", CASE_NOTE)) ||
			    json_object_set_new(doc, "canonical",
						json_string(e->canon)) ||
			    json_object_set_new(doc, "aliases", e->has_alias ?
						json_pack("[s]", e->alias) :
						json_array()))
				goto fail;
		} else if (json_object_set_new(doc, "record", json_null())) {
			goto fail;
		}
		arr = json_array();
		if (arr && e->sibling) {
			rec_name(&e->sib, n);
			json_array_append_new(arr, json_pack(
				"{s:o, s:s, s:I, s:o}", "name", ctl_json_str(n),
				"key", e->keys[1], "czxid",
				(json_int_t)e->sib.czxid, "why",
				ctl_json_str(e->sib_why)));
		}
		if (json_object_set_new(doc, "shadowed", arr))
			goto fail;
	} else {
		arr = json_array();
		for (size_t i = 0; arr && i < e->rev.n; i++) {
			rec_name(&e->rev.recs[i], n);
			json_array_append_new(arr, json_pack(
				"{s:o, s:I, s:s, s:o, s:b}", "name",
				ctl_json_str(n), "czxid",
				(json_int_t)e->rev.recs[i].czxid, "canonical",
				e->rcanon[i], "alias",
				opt_str(e->rhas_alias[i], e->ralias[i]),
				"resolves_back", e->rback[i]));
		}
		if (json_object_set_new(doc, "address", json_string(
			zkh_addr_format(&e->addr, buf, sizeof(buf)))) ||
		    json_object_set_new(doc, "ipv4_mapped",
					json_boolean(e->mapped)) ||
		    json_object_set_new(doc, "records", arr) ||
		    json_object_set_new(doc, "canonical",
					opt_str(e->rev.n, e->rcanon[0])))
			goto fail;
	}
	arr = json_array();
	for (size_t i = 0; arr && i < a->naddrs; i++)
		json_array_append_new(arr, json_string(zkh_addr_format(
			&a->addrs[i], buf, sizeof(buf))));
	{
		json_t *al = json_array();

		for (size_t i = 0; al && i < a->naliases; i++)
			json_array_append_new(al, ctl_json_str(a->aliases[i]));
		if (json_object_set_new(doc, "nss", json_pack(
			"{s:o, s:b, s:s, s:b, s:b, s:b, s:o, s:o, s:o, s:o, "
			"s:b}", "chain", ctl_json_str(a->chain),
			"zk_in_chain", a->zk_in_chain,
			"chain_from", a->chain_default ? "glibc default" :
			NSSWITCH, "in_etc_hosts", a->in_etc_hosts,
			"files_first", a->files_first, "found", a->found,
			"canonical", opt_str(a->found, a->canon),
			"aliases", al, "addresses", arr,
			"error", opt_str(!a->found, a->error),
			"matches_snapshot", a->matches)))
			goto fail;
	}
	return doc;
fail:
	json_decref(doc);
	return NULL;
}

/* ---- command ----------------------------------------------------------- */

int ctl_resolve(struct ctl *c, const char *query)
{
	struct zkh_snapread s;
	struct explain *e;
	MDB_txn *txn = NULL;
	bool opened = false;
	const char *why;
	int rc, ret;

	e = calloc(1, sizeof(*e));
	if (!e) {
		fprintf(stderr, "zkhostctl: out of memory\n");
		return ZKC_EXIT_OTHER;
	}
	e->query = query;
	e->cache = c->z.cfg.cache;
	e->is_addr = zkh_addr_parse(query, strlen(query), &e->addr) == 0;
	if (!e->is_addr && (why = zkh_name_problem(query, strlen(query)))) {
		fprintf(stderr, "zkhostctl: '%s' is neither an address nor a "
			"valid host name: %s\n", query, why);
		ret = ZKC_EXIT_USAGE;
		goto out;
	}
	rc = zkh_snapread_open(e->cache, ZKH_SR_TRUST, &s);
	if (rc < 0) {
		fprintf(stderr, "zkhostctl: snapshot %s/%s %s\n", e->cache,
			ZKH_SNAPSHOT_FILE, rc == -ENOENT ? "missing" :
			rc == -EPERM ? "refused: owner or permissions break the "
			"trust rules (see libnss_zk(8))" : rc == -EINVAL ||
			rc == -EIO ? "is not a valid snapshot" :
			strerror(-rc));
		ret = ZKC_EXIT_ZK;
		goto out;
	}
	opened = true;
	e->meta = s.meta;
	rc = zkh_mdb_err(mdb_txn_begin(s.env, NULL, MDB_RDONLY, &txn));
	if (rc < 0) {
		fprintf(stderr, "zkhostctl: reading the snapshot: %s\n",
			strerror(-rc));
		txn = NULL;
		ret = ZKC_EXIT_OTHER;
		goto out;
	}
	if (e->is_addr)
		explain_addr(&s, txn, e);
	else
		explain_name(&s, txn, e);
	read_chain(&e->nss);
	e->nss.in_etc_hosts = etc_hosts_has(e->is_addr ? NULL : e->folded,
					    e->is_addr ? &e->addr : NULL);
	if (e->is_addr)
		nss_addr(&e->addr, &e->nss);
	else
		nss_name(query, &e->nss);
	compare(e);
	ret = (e->is_addr ? e->rev.n > 0 : e->hit >= 0) ? ZKC_EXIT_OK :
	    ZKC_EXIT_FALSE;
	if (c->json) {
		/* Built while the transaction keeps the map's records. */
		rc = ctl_json_print(stdout, build_json(e));
		if (rc < 0) {
			fprintf(stderr, "zkhostctl: cannot write JSON: %s\n",
				strerror(-rc));
			ret = ZKC_EXIT_OTHER;
		}
	} else {
		print_text(e);
	}
	if (ret == ZKC_EXIT_FALSE)
		fprintf(stderr, "zkhostctl: '%s' is not in the snapshot\n",
			query);
out:
	if (txn)
		mdb_txn_abort(txn);
	if (opened)
		zkh_snapread_close(&s);
	free(e);
	return ret;
}

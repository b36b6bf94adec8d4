/*
 * engine.c - zkdns's answers (see engine.h). The zones, exactly:
 *
 *   forward zone: the snapshot's domain (the `domain` key zkcached
 *     published; the module's rules use the same one), names looked up
 *     as the module looks them up (zkh_sr_lookup_name on the whole name,
 *     so "x.<domain>" finds a record stored as "x" or "x.<domain>").
 *     Without a domain, `dns_zone` Z: "N.Z" is record N. Neither: no
 *     forward zone (every forward query is refused).
 *   reverse zones: dns_reverse_zones prefixes; "auto": the /24 (IPv4) or
 *     /64 (IPv6) of a queried address when the snapshot holds at least
 *     one address in it; "none": no reverse zone.
 *
 * Inside a zone: AA set; A/AAAA of a record (ANY: the A set, or AAAA
 * when it has no IPv4 address, RFC 8482); PTR of an address with the
 * names the module gives (zkh_sr_lookup_addr, zkh_sr_rec_names) made
 * fully qualified in the forward zone, each kept only if a forward query
 * for it finds a record holding that address, duplicates dropped; SOA
 * and NS at each apex; NOERROR with no answer (NODATA) for another type
 * of an existing name, for the apex, and for a reverse name above
 * existing addresses; NXDOMAIN otherwise; negative answers carry the
 * zone's SOA (TTL and minimum: dns_ttl). Outside every zone: REFUSED.
 * Not IN class: REFUSED. Opcode other than QUERY, AXFR/IXFR: NOTIMP.
 * Unparseable (libknot rejects it), no or several questions, or an OPT
 * in the question: FORMERR. EDNS version other than 0: BADVERS. No
 * snapshot: SERVFAIL. Responses (QR set) and runts: dropped.
 *
 * Empty non-terminals: a name between the apex and a record whose name
 * has dots ("b.<domain>" when "a.b" exists) exists in DNS without
 * records: NODATA, not NXDOMAIN (RFC 8020 lets resolvers treat an
 * NXDOMAIN as "nothing below"). The snapshot has no suffix index, so the
 * engine keeps one of its own: the hashes of every such name, built by
 * one walk over the snapshot's keys at the first miss after a swap. For
 * a newer snapshot it is rebuilt at the first miss, unless the last
 * build ended less than ENT_REBUILD_FACTOR times its own duration ago:
 * the walks then take at most a tenth of zkdns's time however often
 * zkcached publishes, and an empty non-terminal may be answered from the
 * previous set for that long (10k records: a few milliseconds; 1M: about
 * a second).
 */
#include "engine.h"

#include <errno.h>
#include <libknot/libknot.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "zkhosts/names.h"
#include "zkhosts/snapread.h"

#define RETRY_NS  100000000ull	/* reopen attempts while none is open */
#define OPT_SIZE  11		/* an OPT RR with no options */
#define RDBUF_MAX 16384		/* rdata of one answer (32 PTR names) */
#define ENT_REBUILD_FACTOR 9	/* empty non-terminal set, see top */

/* The SOA/NS of every zone name this placeholder: zkdns is reached by
 * forwarding (dnsmasq server=, resolved, unbound forward-zone), never by
 * delegation, so there is no primary server name to give. */
static const uint8_t ns_name[] = "\x05zkdns\x07invalid";
static const uint8_t rname[] = "\x0ahostmaster\x05zkdns\x07invalid";

struct snap {
	bool open;
	struct zkh_snapread r;
	MDB_txn *txn;
	uint64_t seen;		/* generation counter acted on */
	bool has_zone;		/* a forward zone exists */
	bool strip;		/* dns_zone mode: "N.Z" is record N */
	uint8_t apex[KNOT_DNAME_MAXLEN];	/* forward apex, wire, lowercase */
	char ztext[ZKH_NAME_MAX + 1];		/* its text, no trailing dot */
	size_t zlen;
};

/* Hashes of the empty non-terminals of one snapshot, sorted. */
struct entset {
	uint64_t *h;
	size_t n;
	uint64_t snap_seq;	/* snapshot it was built from, 0: none */
	uint64_t built_ns;	/* when the last build ended */
	uint64_t cost_ns;	/* how long it took */
};

struct zkdns_engine {
	struct zkh_config cfg;
	bool trust;
	struct snap cur;
	uint64_t snap_seq;	/* bumped at every install */
	struct entset ent;
	uint64_t next_try;
	knot_pkt_t *q, *r;
	struct zkdns_stats st;
	uint8_t qbuf[ZKDNS_MSG_MAX];
	uint8_t rbuf[ZKDNS_MSG_MAX];
	uint16_t rd[RDBUF_MAX / 2];	/* rdata, 2-byte aligned */
	size_t rd_used;
};

/* ---- snapshot -------------------------------------------------------- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void snap_close(struct snap *s)
{
	if (!s->open)
		return;
	if (s->txn)
		mdb_txn_abort(s->txn);
	zkh_snapread_close(&s->r);
	memset(s, 0, sizeof(*s));
}

/* Work out the forward zone of snapshot s under config c. */
static void snap_zone(struct snap *s, const struct zkh_config *c)
{
	const char *z = s->r.meta.domain_len ? s->r.meta.domain :
	    c->dns_zone;

	s->strip = s->r.meta.domain_len == 0;
	s->zlen = strlen(z);
	if (s->zlen == 0)
		return;
	memcpy(s->ztext, z, s->zlen + 1);
	s->has_zone = knot_dname_from_str(s->apex, s->ztext,
					  sizeof(s->apex)) != NULL;
	if (s->has_zone)
		knot_dname_to_lower(s->apex);
}

static int snap_open(struct zkdns_engine *e, struct snap *s)
{
	unsigned fl = ZKH_SR_GENERATION | (e->trust ? ZKH_SR_TRUST : 0);
	int rc, tries = 0;

	memset(s, 0, sizeof(*s));
	do
		rc = zkh_snapread_open(e->cfg.cache, fl, &s->r);
	while (rc == -EAGAIN && ++tries < 3);
	if (rc < 0)
		return rc;
	s->open = true;
	if (mdb_txn_begin(s->r.env, NULL, MDB_RDONLY, &s->txn) != 0) {
		s->txn = NULL;
		snap_close(s);
		return -ENOMEM;
	}
	s->seen = s->r.gen_at_open;
	snap_zone(s, &e->cfg);
	return 0;
}

int zkdns_engine_refresh(struct zkdns_engine *e)
{
	struct snap n;
	int rc;

	if (e->cur.open)
		e->cur.seen = zkh_snapread_counter(&e->cur.r);
	rc = snap_open(e, &n);
	if (rc < 0)
		return rc;
	if (e->cur.open && e->cur.r.dev == n.r.dev &&
	    e->cur.r.ino == n.r.ino) {
		snap_close(&n);
		return 0;
	}
	if (e->cur.open)
		e->st.swaps++;
	snap_close(&e->cur);
	e->cur = n;
	e->snap_seq++;
	return 0;
}

/* Per query: one load of the counter while a snapshot is open. */
static void snap_check(struct zkdns_engine *e)
{
	uint64_t now;

	if (e->cur.open) {
		if (zkh_snapread_counter(&e->cur.r) != e->cur.seen)
			(void)zkdns_engine_refresh(e);
		return;
	}
	now = mono_ns();
	if (now < e->next_try)
		return;
	e->next_try = now + RETRY_NS;
	(void)zkdns_engine_refresh(e);
}

/* ---- engine ------------------------------------------------------------ */

int zkdns_engine_new(const struct zkh_config *c, bool trust,
		     struct zkdns_engine **out)
{
	struct zkdns_engine *e;

	*out = NULL;
	if (c->cache[0] != '/')
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	e->cfg = *c;
	e->trust = trust;
	e->q = knot_pkt_new(e->qbuf, ZKDNS_MSG_MAX, NULL);
	e->r = knot_pkt_new(e->rbuf, ZKDNS_MSG_MAX, NULL);
	if (e->q == NULL || e->r == NULL) {
		zkdns_engine_free(e);
		return -ENOMEM;
	}
	*out = e;
	return 0;
}

void zkdns_engine_free(struct zkdns_engine *e)
{
	if (e == NULL)
		return;
	snap_close(&e->cur);
	free(e->ent.h);
	knot_pkt_free(e->q);
	knot_pkt_free(e->r);
	free(e);
}

const struct zkdns_stats *zkdns_engine_stats(const struct zkdns_engine *e)
{
	return &e->st;
}

/* ---- building answers ------------------------------------------------ */

/* Start an RRset whose rdata goes into e->rd. */
static void rr_start(struct zkdns_engine *e, knot_rrset_t *rr,
		     const uint8_t *owner, uint16_t type, uint32_t ttl)
{
	knot_rrset_init(rr, (knot_dname_t *)owner, type, KNOT_CLASS_IN, ttl);
	rr->rrs.count = 0;
	rr->rrs.size = 0;
	rr->rrs.rdata = (knot_rdata_t *)((uint8_t *)e->rd + e->rd_used);
}

/* Append one rdata to the RRset started last; -ENOSPC if e->rd is full. */
static int rr_add(struct zkdns_engine *e, knot_rrset_t *rr,
		  const uint8_t *data, uint16_t len)
{
	size_t sz = knot_rdata_size(len);

	if (e->rd_used + sz > sizeof(e->rd))
		return -ENOSPC;
	knot_rdata_init((knot_rdata_t *)((uint8_t *)e->rd + e->rd_used), len,
			data);
	e->rd_used += sz;
	rr->rrs.count++;
	rr->rrs.size += (uint32_t)sz;
	return 0;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The SOA of the zone at `apex`. */
static void soa_rr(struct zkdns_engine *e, knot_rrset_t *rr,
		   const uint8_t *apex)
{
	uint8_t buf[sizeof(ns_name) + sizeof(rname) + 20];
	size_t n = 0;
	uint32_t ttl = (uint32_t)e->cfg.dns_ttl;

	rr_start(e, rr, apex, KNOT_RRTYPE_SOA, ttl);
	memcpy(buf, ns_name, sizeof(ns_name));
	n += sizeof(ns_name);
	memcpy(buf + n, rname, sizeof(rname));
	n += sizeof(rname);
	put_u32(buf + n, (uint32_t)e->cur.r.meta.generation);	/* serial */
	put_u32(buf + n + 4, 3600);	/* refresh: no secondaries */
	put_u32(buf + n + 8, 600);	/* retry */
	put_u32(buf + n + 12, 86400);	/* expire */
	put_u32(buf + n + 16, ttl);	/* negative TTL */
	(void)rr_add(e, rr, buf, (uint16_t)(n + 20));
}

static void ns_rr(struct zkdns_engine *e, knot_rrset_t *rr,
		  const uint8_t *apex)
{
	rr_start(e, rr, apex, KNOT_RRTYPE_NS, (uint32_t)e->cfg.dns_ttl);
	(void)rr_add(e, rr, ns_name, sizeof(ns_name));
}

/* What a query comes to. */
struct reply {
	int rcode;
	bool aa;
	const uint8_t *apex;	/* zone apex (SOA for negative answers) */
	knot_rrset_t ans;	/* answer RRset if ans.rrs.count > 0 */
	bool soa_in_auth;	/* negative answer: SOA in authority */
};

/* ---- forward zone ------------------------------------------------------ */

/* Text of the labels of `name` (lowercase wire) before the last `skip`
 * labels, dot-separated, into out (capacity ZKH_NAME_MAX + 1). Only host
 * name characters are allowed. Returns the length, or -ENOENT if a label
 * holds another byte or the text would be too long. */
static int labels_text(const uint8_t *name, int nlabels, char *out)
{
	size_t n = 0;
	int i;

	for (i = 0; i < nlabels; i++) {
		size_t l = *name++;

		if (n + (i ? 1 : 0) + l > ZKH_NAME_MAX)
			return -ENOENT;
		if (i)
			out[n++] = '.';
		for (size_t k = 0; k < l; k++) {
			uint8_t c = name[k];

			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			      c == '-' || c == '_'))
				return -ENOENT;
			out[n++] = (char)c;
		}
		name += l;
	}
	out[n] = '\0';
	return (int)n;
}

/* Look a name (text, lowercase, no trailing dot) up by the forward rule
 * of the zone: the whole name (domain mode) or without the zone (strip
 * mode), which is what `text` already is. */
static int fwd_lookup(struct zkdns_engine *e, const char *text,
		      struct zkh_rec_view *rec)
{
	return zkh_sr_lookup_name(&e->cur.r, e->cur.txn, text, rec);
}

static void answer_addrs(struct zkdns_engine *e, struct reply *rp,
			 const uint8_t *owner, const struct zkh_rec_view *rec,
			 uint16_t qtype)
{
	bool v4 = qtype == KNOT_RRTYPE_A ||
	    (qtype == KNOT_RRTYPE_ANY && rec->n4 > 0);
	const uint8_t *p = v4 ? rec->v4 : rec->v6;
	unsigned n = v4 ? rec->n4 : rec->n6, i;
	uint16_t len = v4 ? 4 : 16;

	rr_start(e, &rp->ans, owner, v4 ? KNOT_RRTYPE_A : KNOT_RRTYPE_AAAA,
		 (uint32_t)e->cfg.dns_ttl);
	for (i = 0; i < n; i++)
		(void)rr_add(e, &rp->ans, p + (size_t)i * len, len);
}

/* FNV-1a, 64 bits, of n bytes. */
static uint64_t hash64(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Rebuild e->ent from the current snapshot: for every key (a folded
 * record name), its name relative to the zone ("a.b.c", the zone's suffix
 * dropped in domain mode), then every proper suffix after a dot ("b.c",
 * "c"). -ENOMEM leaves the old set. */
static int ent_build(struct zkdns_engine *e)
{
	const struct snap *s = &e->cur;
	MDB_cursor *c = NULL;
	MDB_val key, val;
	uint64_t *h = NULL, t0 = mono_ns();
	size_t n = 0, cap = 0, k, m;
	int rc;

	if (mdb_cursor_open(s->txn, s->r.names, &c) != 0)
		return -ENOMEM;
	for (rc = mdb_cursor_get(c, &key, &val, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
		const char *p = key.mv_data;
		size_t len = key.mv_size;

		if (!s->strip && len > s->zlen + 1 &&
		    p[len - s->zlen - 1] == '.' &&
		    memcmp(p + len - s->zlen, s->ztext, s->zlen) == 0)
			len -= s->zlen + 1;
		for (size_t i = 0; i < len; i++) {
			if (p[i] != '.')
				continue;
			if (n == cap) {
				size_t ncap = cap ? 2 * cap : 256;
				uint64_t *nh = realloc(h, ncap * sizeof(*nh));

				if (nh == NULL)
					goto fail;
				h = nh;
				cap = ncap;
			}
			h[n++] = hash64(p + i + 1, len - i - 1);
		}
	}
	mdb_cursor_close(c);
	if (n > 1)
		qsort(h, n, sizeof(*h), cmp_u64);
	for (m = 0, k = 0; k < n; k++)	/* drop duplicates */
		if (m == 0 || h[k] != h[m - 1])
			h[m++] = h[k];
	free(e->ent.h);
	e->ent.h = h;
	e->ent.n = m;
	e->ent.snap_seq = e->snap_seq;
	e->ent.built_ns = mono_ns();
	e->ent.cost_ns = e->ent.built_ns - t0;
	return 0;
fail:
	mdb_cursor_close(c);
	free(h);
	return -ENOMEM;
}

/* Is `rel` (the name relative to the zone, lowercase) an empty
 * non-terminal of the current snapshot (or of one at most a second
 * older, see the top of this file)? */
static bool is_ent(struct zkdns_engine *e, const char *rel, size_t n)
{
	uint64_t x;
	size_t lo, hi;

	if (e->ent.snap_seq != e->snap_seq &&
	    (e->ent.snap_seq == 0 ||
	     mono_ns() - e->ent.built_ns >= ENT_REBUILD_FACTOR *
	     e->ent.cost_ns))
		(void)ent_build(e);
	x = hash64(rel, n);
	lo = 0;
	hi = e->ent.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (e->ent.h[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < e->ent.n && e->ent.h[lo] == x;
}

static void forward(struct zkdns_engine *e, struct reply *rp,
		    const uint8_t *qname, int depth, uint16_t qtype)
{
	char text[ZKH_NAME_MAX + 1];
	struct zkh_rec_view rec;
	int nl = knot_dname_labels(qname, NULL), len;

	rp->aa = true;
	rp->apex = e->cur.apex;
	if (depth == 0) {
		/* The apex: SOA, NS; ANY answered with the SOA alone. */
		if (qtype == KNOT_RRTYPE_SOA || qtype == KNOT_RRTYPE_ANY) {
			soa_rr(e, &rp->ans, rp->apex);
			return;
		}
		if (qtype == KNOT_RRTYPE_NS) {
			ns_rr(e, &rp->ans, rp->apex);
			return;
		}
	}
	/* Domain mode: the whole name; strip mode: without the zone. */
	len = labels_text(qname, e->cur.strip ? depth : nl, text);
	if (len <= 0 || fwd_lookup(e, text, &rec) < 0) {
		rp->soa_in_auth = true;
		if (depth == 0)
			return;	/* the apex exists: NODATA */
		/* the name relative to the zone: its first `depth` labels */
		if (len > 0 && !e->cur.strip)
			len = labels_text(qname, depth, text);
		if (len > 0 && is_ent(e, text, (size_t)len))
			return;	/* empty non-terminal: NODATA */
		rp->rcode = KNOT_RCODE_NXDOMAIN;
		return;
	}
	if ((qtype == KNOT_RRTYPE_A && rec.n4) ||
	    (qtype == KNOT_RRTYPE_AAAA && rec.n6) || qtype == KNOT_RRTYPE_ANY) {
		answer_addrs(e, rp, knot_pkt_wire_qname(e->q), &rec, qtype);
		return;
	}
	rp->soa_in_auth = true;	/* NODATA */
}

/* ---- reverse zones ------------------------------------------------------ */

/* A reverse name: the address bits its labels give (most significant
 * first), how many, and whether a label that is not part of an address
 * name comes after `bits` (then the name cannot be an address). */
struct revname {
	struct zkh_addr a;
	unsigned bits;
	bool bad;
	int suffix_labels;	/* labels of "in-addr.arpa"/"ip6.arpa" */
};

static const uint8_t in_addr_arpa[] = "\x07in-addr\x04" "arpa";
static const uint8_t ip6_arpa[] = "\x03ip6\x04" "arpa";

/* Label i (0 = first) of name. */
static const uint8_t *label_at(const uint8_t *name, int i)
{
	while (i-- > 0)
		name += 1 + *name;
	return name;
}

/* Parse qname as a reverse name; false if it is under neither suffix. */
static bool parse_rev(const uint8_t *qname, struct revname *rv)
{
	int nl = knot_dname_labels(qname, NULL), k, i;
	bool v4;

	memset(rv, 0, sizeof(*rv));
	if (knot_dname_in_bailiwick(qname, in_addr_arpa) >= 0)
		v4 = true;
	else if (knot_dname_in_bailiwick(qname, ip6_arpa) >= 0)
		v4 = false;
	else
		return false;
	rv->a.family = v4 ? AF_INET : AF_INET6;
	rv->suffix_labels = 2;
	k = nl - 2;		/* address labels, most significant last */
	for (i = k - 1; i >= 0; i--) {
		const uint8_t *l = label_at(qname, i);
		unsigned v = 0, len = l[0];

		if (v4) {
			if (rv->bits == 32 || len == 0 || len > 3 ||
			    (len > 1 && l[1] == '0'))
				goto bad;
			for (unsigned j = 1; j <= len; j++) {
				if (l[j] < '0' || l[j] > '9')
					goto bad;
				v = v * 10 + (unsigned)(l[j] - '0');
			}
			if (v > 255)
				goto bad;
			rv->a.bytes[rv->bits / 8] = (uint8_t)v;
			rv->bits += 8;
		} else {
			uint8_t c = l[1];

			if (rv->bits == 128 || len != 1)
				goto bad;
			if (c >= '0' && c <= '9')
				v = (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v = (unsigned)(c - 'a' + 10);
			else
				goto bad;
			rv->a.bytes[rv->bits / 8] |= (uint8_t)(rv->bits % 8 ?
							       v : v << 4);
			rv->bits += 4;
		}
		continue;
bad:
		rv->bad = true;
		break;
	}
	return true;
}

static bool prefix_match(const struct zkh_addr *a, const struct zkh_addr *p,
			 unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (a->family != p->family || memcmp(a->bytes, p->bytes, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a->bytes[full] ^ p->bytes[full]) &
		(uint8_t)(0xff << (8 - rest))) == 0;
}

/* True if the snapshot holds an address in a/bits (one cursor seek). */
static bool any_in_prefix(struct zkdns_engine *e, const struct zkh_addr *a,
			  unsigned bits)
{
	uint8_t kbuf[ZKH_ADDRKEY_MAX];
	struct zkh_addr lo = *a;
	MDB_cursor *c = NULL;
	MDB_val key, val;
	bool found = false;
	size_t alen = zkh_addr_len(a->family);
	int klen;

	for (size_t i = 0; i < alen; i++) {
		int keep = (int)bits - (int)i * 8;

		lo.bytes[i] &= keep >= 8 ? 0xff : keep <= 0 ? 0 :
		    (uint8_t)(0xff << (8 - keep));
	}
	klen = zkh_addrkey_encode(&lo, kbuf);
	if (klen < 0 || mdb_cursor_open(e->cur.txn, e->cur.r.addrs, &c) != 0)
		return false;
	key.mv_size = (size_t)klen;
	key.mv_data = kbuf;
	if (mdb_cursor_get(c, &key, &val, MDB_SET_RANGE) == 0 &&
	    key.mv_size == (size_t)klen &&
	    memcmp(key.mv_data, kbuf, 1) == 0) {
		struct zkh_addr got = { .family = a->family };

		memcpy(got.bytes, (const uint8_t *)key.mv_data + 1, alen);
		found = prefix_match(&got, &lo, bits);
	}
	mdb_cursor_close(c);
	return found;
}

/* The reverse zone holding rv: its prefix length, or -1 (none). */
static int rev_zone(struct zkdns_engine *e, const struct revname *rv)
{
	const struct zkh_config *c = &e->cfg;
	int best = -1;

	if (c->dns_reverse == ZKH_DNS_REV_NONE)
		return -1;
	if (c->dns_reverse == ZKH_DNS_REV_AUTO) {
		unsigned zb = rv->a.family == AF_INET ? 24 : 64;

		if (rv->bits < zb || !any_in_prefix(e, &rv->a, zb))
			return -1;
		return (int)zb;
	}
	for (size_t i = 0; i < c->dns_nreverse; i++) {
		const struct zkh_dns_prefix *z = &c->dns_reverse_zones[i];

		if (z->bits <= rv->bits && (int)z->bits > best &&
		    prefix_match(&rv->a, &z->addr, z->bits))
			best = (int)z->bits;
	}
	return best;
}

/* Case-insensitive: does text (n bytes) end with "." + zone or equal it? */
static bool in_zone_text(const char *t, size_t n, const char *z, size_t zl)
{
	if (n == zl)
		return strncasecmp(t, z, zl) == 0;
	return n > zl && t[n - zl - 1] == '.' &&
	    strncasecmp(t + n - zl, z, zl) == 0;
}

/* Add the PTR target for one name the module gives, if it qualifies. */
static void ptr_add(struct zkdns_engine *e, knot_rrset_t *rr,
		    const struct zkh_pstr *nm, const struct zkh_addr *a)
{
	char text[2 * ZKH_NAME_MAX + 3], key[ZKH_NAME_MAX + 1];
	uint8_t wire[KNOT_DNAME_MAXLEN];
	const struct snap *s = &e->cur;
	struct zkh_rec_view rec;
	struct zkh_rev rev;
	size_t n = nm->alen + nm->blen;
	const uint8_t *p;

	if (n > ZKH_NAME_MAX)
		return;
	memcpy(text, nm->a, nm->alen);
	if (nm->blen > 0)	/* an empty piece may be NULL */
		memcpy(text + nm->alen, nm->b, nm->blen);
	text[n] = '\0';
	memcpy(key, text, n + 1);
	if (s->has_zone) {
		/* Forward check: the name found as a DNS query would find
		 * it must hold the address. */
		if (!s->strip && !in_zone_text(text, n, s->ztext, s->zlen)) {
			text[n] = '.';
			memcpy(text + n + 1, s->ztext, s->zlen + 1);
			n += 1 + s->zlen;
			if (n > ZKH_NAME_MAX)
				return;
			memcpy(key, text, n + 1);
		} else if (s->strip) {
			text[n] = '.';
			memcpy(text + n + 1, s->ztext, s->zlen + 1);
			n += 1 + s->zlen;
		}
		if (fwd_lookup(e, key, &rec) < 0)
			return;
		rev.n = 0;
		if (zkh_sr_lookup_addr(&s->r, s->txn, a, &rev) < 0)
			return;
		{
			bool holds = false;

			for (size_t i = 0; i < rev.n && !holds; i++)
				holds = rev.recs[i].czxid == rec.czxid &&
				    rev.recs[i].name_len == rec.name_len &&
				    memcmp(rev.recs[i].name, rec.name,
					   rec.name_len) == 0;
			if (!holds)
				return;
		}
	}
	if (knot_dname_from_str(wire, text, sizeof(wire)) == NULL)
		return;
	/* Drop a name given already (case-insensitively). */
	p = (const uint8_t *)rr->rrs.rdata;
	for (unsigned i = 0; i < rr->rrs.count; i++) {
		const knot_rdata_t *rd = (const knot_rdata_t *)p;
		uint8_t lw[KNOT_DNAME_MAXLEN], lr[KNOT_DNAME_MAXLEN];

		memcpy(lw, wire, knot_dname_size(wire));
		memcpy(lr, rd->data, rd->len);
		knot_dname_to_lower(lw);
		knot_dname_to_lower(lr);
		if (knot_dname_is_equal(lw, lr))
			return;
		p += knot_rdata_size(rd->len);
	}
	(void)rr_add(e, rr, wire, (uint16_t)knot_dname_size(wire));
}

static void reverse(struct zkdns_engine *e, struct reply *rp,
		    const uint8_t *qname, const struct revname *rv, int zbits,
		    uint16_t qtype)
{
	unsigned full = rv->a.family == AF_INET ? 32 : 128;
	unsigned step = rv->a.family == AF_INET ? 8 : 4;
	int nl = knot_dname_labels(qname, NULL);
	/* apex: the suffix plus the zone's address labels */
	int apex_labels = rv->suffix_labels + zbits / (int)step;
	struct zkh_pstr names[ZKH_REV_NAMES_MAX];
	struct zkh_rev rev;
	size_t n;

	rp->aa = true;
	rp->apex = label_at(qname, nl - apex_labels);
	if (nl == apex_labels) {
		if (qtype == KNOT_RRTYPE_SOA || qtype == KNOT_RRTYPE_ANY) {
			soa_rr(e, &rp->ans, rp->apex);
			return;
		}
		if (qtype == KNOT_RRTYPE_NS) {
			ns_rr(e, &rp->ans, rp->apex);
			return;
		}
		rp->soa_in_auth = true;
		return;
	}
	rp->soa_in_auth = true;
	if (rv->bad) {
		rp->rcode = KNOT_RCODE_NXDOMAIN;
		return;
	}
	if (rv->bits < full) {
		/* Between apex and addresses: exists if an address is below. */
		if (!any_in_prefix(e, &rv->a, rv->bits))
			rp->rcode = KNOT_RCODE_NXDOMAIN;
		return;
	}
	if (zkh_sr_lookup_addr(&e->cur.r, e->cur.txn, &rv->a, &rev) < 0) {
		rp->rcode = KNOT_RCODE_NXDOMAIN;
		return;
	}
	if (qtype != KNOT_RRTYPE_PTR && qtype != KNOT_RRTYPE_ANY)
		return;		/* NODATA */
	n = zkh_sr_rev_names(&e->cur.r, e->cur.txn, &rev, names,
			     ZKH_REV_NAMES_MAX);
	rr_start(e, &rp->ans, knot_pkt_wire_qname(e->q), KNOT_RRTYPE_PTR,
		 (uint32_t)e->cfg.dns_ttl);
	for (size_t i = 0; i < n; i++)
		ptr_add(e, &rp->ans, &names[i], &rv->a);
	if (rp->ans.rrs.count > 0)
		rp->soa_in_auth = false;
	/* else: every name failed the forward check: NODATA */
}

/* ---- one message --------------------------------------------------------- */

/* Header-only error for a message whose question cannot be used. */
static size_t header_only(const uint8_t *msg, uint8_t *out, int rcode)
{
	memset(out, 0, KNOT_WIRE_HEADER_SIZE);
	memcpy(out, msg, 4);	/* id, flags */
	knot_wire_set_qr(out);
	knot_wire_clear_aa(out);
	knot_wire_clear_tc(out);
	knot_wire_clear_ra(out);
	knot_wire_clear_z(out);
	knot_wire_clear_ad(out);
	knot_wire_clear_cd(out);
	knot_wire_set_rcode(out, (uint8_t)rcode);
	return KNOT_WIRE_HEADER_SIZE;
}

/* Put rr into section of r; false (TC set by us) if it does not fit. */
static bool put(knot_pkt_t *r, const knot_rrset_t *rr)
{
	int rc = knot_pkt_put(r, KNOT_COMPR_HINT_NONE, rr, KNOT_PF_NOTRUNC);

	return rc == KNOT_EOK;
}

static void put_opt(knot_pkt_t *r, uint16_t payload, uint8_t ext_rcode)
{
	knot_rrset_t opt;
	uint16_t rd[2];

	knot_rrset_init(&opt, (knot_dname_t *)"", KNOT_RRTYPE_OPT, payload,
			(uint32_t)ext_rcode << 24);
	knot_rdata_init((knot_rdata_t *)rd, 0, NULL);
	opt.rrs.count = 1;
	opt.rrs.size = (uint32_t)knot_rdata_size(0);
	opt.rrs.rdata = (knot_rdata_t *)rd;
	knot_pkt_begin(r, KNOT_ADDITIONAL);
	(void)knot_pkt_put(r, KNOT_COMPR_HINT_NONE, &opt, KNOT_PF_NOTRUNC);
}

size_t zkdns_answer(struct zkdns_engine *e, const uint8_t *msg, size_t len,
		    bool tcp, uint8_t *out)
{
	knot_pkt_t *q = e->q, *r = e->r;
	const uint8_t *qname;
	struct reply rp;
	struct revname rv;
	bool edns, done;
	uint16_t qtype, payload;
	size_t limit;
	int rc, depth = -1, zbits = -1;

	e->st.queries++;
	if (len < KNOT_WIRE_HEADER_SIZE || len > ZKDNS_MSG_MAX ||
	    knot_wire_get_qr(msg)) {
		e->st.dropped++;
		return 0;
	}
	if (knot_wire_get_opcode(msg) != KNOT_OPCODE_QUERY) {
		e->st.refused++;
		return header_only(msg, out, KNOT_RCODE_NOTIMPL);
	}
	knot_pkt_clear(q);
	memcpy(e->qbuf, msg, len);
	q->size = len;
	rc = knot_pkt_parse(q, 0);
	if ((rc != KNOT_EOK && rc != KNOT_ETRAIL) ||
	    knot_wire_get_qdcount(msg) != 1 || q->qname_size == 0 ||
	    knot_pkt_qtype(q) == KNOT_RRTYPE_OPT) {
		e->st.formerr++;
		return header_only(msg, out, KNOT_RCODE_FORMERR);
	}
	edns = q->opt_rr != NULL;
	payload = edns ? knot_edns_get_payload(q->opt_rr) : 512;
	if (payload < 512)
		payload = 512;
	if (payload > ZKDNS_UDP_MAX)
		payload = ZKDNS_UDP_MAX;
	limit = tcp ? ZKDNS_MSG_MAX : payload;

	knot_pkt_clear(r);
	r->max_size = limit;
	if (knot_pkt_init_response(r, q) != KNOT_EOK) {
		e->st.formerr++;
		return header_only(msg, out, KNOT_RCODE_FORMERR);
	}
	knot_wire_set_rcode(r->wire, KNOT_RCODE_NOERROR);
	if (edns && knot_edns_get_version(q->opt_rr) != 0) {
		/* BADVERS: extended rcode 16 = 1 << 4 | 0 */
		put_opt(r, payload, 1);
		e->st.formerr++;
		goto done;
	}
	if (edns)
		knot_pkt_reserve(r, OPT_SIZE);

	memset(&rp, 0, sizeof(rp));
	e->rd_used = 0;
	qname = knot_pkt_qname(q);
	qtype = knot_pkt_qtype(q);
	if (knot_pkt_qclass(q) != KNOT_CLASS_IN) {
		rp.rcode = KNOT_RCODE_REFUSED;
	} else if (qtype == KNOT_RRTYPE_AXFR || qtype == KNOT_RRTYPE_IXFR) {
		rp.rcode = KNOT_RCODE_NOTIMPL;
	} else {
		snap_check(e);
		if (!e->cur.open) {
			rp.rcode = KNOT_RCODE_SERVFAIL;
			e->st.servfail++;
		} else if (e->cur.has_zone &&
			   (depth = knot_dname_in_bailiwick(qname,
							    e->cur.apex)) >= 0) {
			forward(e, &rp, qname, depth, qtype);
		} else if (parse_rev(qname, &rv) &&
			   (zbits = rev_zone(e, &rv)) >= 0) {
			reverse(e, &rp, qname, &rv, zbits, qtype);
		} else {
			rp.rcode = KNOT_RCODE_REFUSED;
		}
	}
	if (rp.rcode == KNOT_RCODE_REFUSED)
		e->st.refused++;
	if (rp.rcode == KNOT_RCODE_NXDOMAIN)
		e->st.nxdomain++;
	knot_wire_set_rcode(r->wire, (uint8_t)rp.rcode);
	if (rp.aa)
		knot_wire_set_aa(r->wire);
	done = true;
	if (rp.ans.rrs.count > 0) {
		knot_pkt_begin(r, KNOT_ANSWER);
		done = put(r, &rp.ans);
	} else if (rp.soa_in_auth) {
		knot_rrset_t soa;

		soa_rr(e, &soa, rp.apex);
		knot_pkt_begin(r, KNOT_AUTHORITY);
		done = put(r, &soa);
	}
	if (!done) {
		/* Does not fit: the header and question only, with TC. */
		knot_pkt_clear(r);
		r->max_size = limit;
		knot_pkt_init_response(r, q);
		knot_wire_set_rcode(r->wire, (uint8_t)rp.rcode);
		if (rp.aa)
			knot_wire_set_aa(r->wire);
		knot_wire_set_tc(r->wire);
		e->st.truncated++;
		if (edns)
			knot_pkt_reserve(r, OPT_SIZE);
	}
	if (edns) {
		knot_pkt_reclaim(r, OPT_SIZE);
		put_opt(r, payload, 0);
	}
done:
	memcpy(out, r->wire, r->size);
	return r->size;
}

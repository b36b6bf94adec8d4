/*
 * zkindex.c - the codec of the fleet index (contract: zkindex.h): entry
 * lines, bucket and head headers, the ring, the name hash and linear
 * hashing's bucket choice. Indexers encode with it and consumers decode
 * with it, so both agree by construction. Decoders take bytes any
 * ZooKeeper client with write access may have shaped: they check every
 * length, accept only the canonical form (re-encoding a parsed entry
 * gives the same bytes) and never read past `len`. Pure: no allocation,
 * no I/O, no global state, no locale.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "zkhosts/names.h"
#include "zkhosts/zkindex.h"

uint32_t zkx_hash(const char *key, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)key[i]) * 16777619u;
	return h;
}

static unsigned level_of(unsigned n)
{
	unsigned l = 0;

	while ((2u << l) <= n)
		l++;
	return l;	/* 2^l <= n < 2^(l+1) */
}

unsigned zkx_bucket_of(uint32_t h, unsigned nbuckets)
{
	unsigned l, b;

	if (nbuckets <= 1)
		return 0;
	l = level_of(nbuckets);
	b = h & ((2u << l) - 1);
	return b < nbuckets ? b : (h & ((1u << l) - 1));
}

unsigned zkx_split_source(unsigned nbuckets)
{
	return nbuckets - (1u << level_of(nbuckets));
}

static int addr_cmp(const struct zkh_addr *a, const struct zkh_addr *b)
{
	if (a->family != b->family)
		return a->family == AF_INET ? -1 : 1;
	return 0;	/* keep the given order within a family */
}

int zkx_entry_make(struct zkx_entry *e, const char *name, size_t name_len,
		   uint64_t czxid, uint64_t mzxid, const struct zkh_addr *addrs,
		   size_t naddrs)
{
	int kl;
	size_t k = 0;

	if (!name || !addrs || naddrs == 0 || naddrs > ZKH_MAX_ADDRS)
		return -EINVAL;
	kl = zkh_name_fold(name, name_len, e->key);
	if (kl < 0)
		return -EINVAL;
	if (name_len > 0 && name[name_len - 1] == '.')
		name_len--;
	memcpy(e->name, name, name_len);
	e->name[name_len] = '\0';
	e->name_len = name_len;
	e->czxid = czxid;
	e->mzxid = mzxid;
	/* stable: IPv4 first, each family in the given order */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < naddrs; i++) {
			if ((addrs[i].family == AF_INET) != (pass == 0))
				continue;
			if (addrs[i].family != AF_INET && addrs[i].family != AF_INET6)
				return -EINVAL;
			for (size_t j = 0; j < k; j++)
				if (addr_cmp(&e->addrs[j], &addrs[i]) == 0 &&
				    memcmp(e->addrs[j].bytes, addrs[i].bytes,
					   zkh_addr_len(addrs[i].family)) == 0)
					return -EINVAL;
			e->addrs[k++] = addrs[i];
		}
	e->naddrs = k;
	return 0;
}

int zkx_entry_format(const struct zkx_entry *e, char *out, size_t cap)
{
	size_t n;
	int w = snprintf(out, cap, "%s %" PRIx64 " %" PRIx64 " ", e->name,
			 e->czxid, e->mzxid);

	if (w < 0 || (size_t)w >= cap)
		return -ENOSPC;
	n = (size_t)w;
	for (size_t i = 0; i < e->naddrs; i++) {
		char a[64];
		size_t al;

		zkh_addr_format(&e->addrs[i], a, sizeof a);
		al = strlen(a);
		if (!al || n + al + 2 > cap)
			return -ENOSPC;
		if (i)
			out[n++] = ',';
		memcpy(out + n, a, al);
		n += al;
	}
	out[n] = '\0';
	return (int)n;
}

/* Parse a lowercase hex number without leading zeros ("0" alone ok). */
static int parse_hex(const char *s, size_t len, uint64_t *v)
{
	uint64_t x = 0;

	if (len == 0 || len > 16 || (len > 1 && s[0] == '0'))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return -EINVAL;
		x = (x << 4) | d;
	}
	*v = x;
	return 0;
}

/* Parse a decimal number without leading zeros, at most `max`. */
static int parse_dec(const char *s, size_t len, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;

	if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (x > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (x > max)
		return -EINVAL;
	*v = x;
	return 0;
}

/* Split buf[0..len) at single spaces into at most max fields. Returns
 * the count, or -EINVAL on an empty field or more than max. */
static int fields(const char *buf, size_t len, const char **f, size_t *fl,
		  int max)
{
	int n = 0;
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && buf[i] != ' ')
			continue;
		if (i == start || n == max)
			return -EINVAL;
		f[n] = buf + start;
		fl[n] = i - start;
		n++;
		start = i + 1;
	}
	return n;
}

int zkx_entry_parse(const char *line, size_t len, struct zkx_entry *e)
{
	const char *f[4];
	size_t fl[4];
	struct zkh_addr addrs[ZKH_MAX_ADDRS];
	struct zkh_addrlist_report rep;
	char again[ZKX_LINE_MAX + 1];
	size_t na;
	uint64_t cz, mz;
	int rc;

	if (len > ZKX_LINE_MAX || fields(line, len, f, fl, 4) != 4)
		return -EINVAL;
	if (!zkh_name_valid(f[0], fl[0]) || f[0][fl[0] - 1] == '.')
		return -EINVAL;
	if (parse_hex(f[1], fl[1], &cz) || parse_hex(f[2], fl[2], &mz))
		return -EINVAL;
	memset(&rep, 0, sizeof rep);
	na = zkh_addrlist_parse(f[3], fl[3], addrs, ZKH_MAX_ADDRS, &rep);
	if (na == 0 || rep.invalid || rep.duplicates || rep.over_cap || rep.nul_bytes)
		return -EINVAL;
	if (zkx_entry_make(e, f[0], fl[0], cz, mz, addrs, na))
		return -EINVAL;
	/* canonical only: what we would have written */
	rc = zkx_entry_format(e, again, sizeof again);
	if (rc < 0 || (size_t)rc != len || memcmp(again, line, len) != 0)
		return -EINVAL;
	return 0;
}

int zkx_bucket_header(unsigned index, char *out, size_t cap)
{
	int w = snprintf(out, cap, ZKX_BUCKET_MAGIC " %u %u\n", ZKX_FORMAT, index);

	return w < 0 || (size_t)w >= cap ? -ENOSPC : w;
}

/* Next '\n'-terminated line of buf from *pos: its start and length. */
static int next_line(const char *buf, size_t len, size_t *pos,
		     const char **line, size_t *ll)
{
	const char *nl;

	if (*pos >= len)
		return 0;
	nl = memchr(buf + *pos, '\n', len - *pos);
	if (!nl)
		return -EINVAL;	/* every line ends with '\n' */
	*line = buf + *pos;
	*ll = (size_t)(nl - *line);
	*pos = (size_t)(nl - buf) + 1;
	return 1;
}

int zkx_bucket_parse(const char *buf, size_t len, unsigned index,
		     unsigned nbuckets, struct zkx_entry *e,
		     int (*each)(const struct zkx_entry *e, const char *line,
				 size_t line_len, void *arg),
		     void *arg)
{
	char hdr[64], prev[ZKH_NAME_MAX + 1] = "";
	const char *line;
	size_t pos = 0, ll;
	int hl = zkx_bucket_header(index, hdr, sizeof hdr), rc;

	if (hl < 0 || len > ZKX_BUCKET_MAX || len < (size_t)hl ||
	    memcmp(buf, hdr, (size_t)hl) != 0)
		return -EINVAL;
	pos = (size_t)hl;
	while ((rc = next_line(buf, len, &pos, &line, &ll)) == 1) {
		if (zkx_entry_parse(line, ll, e))
			return -EINVAL;
		if (prev[0] && strcmp(prev, e->key) >= 0)
			return -EINVAL;	/* sorted, distinct */
		if (zkx_bucket_of(zkx_hash(e->key, strlen(e->key)), nbuckets) != index)
			return -EINVAL;
		memcpy(prev, e->key, strlen(e->key) + 1);
		if (each) {
			rc = each(e, line, ll, arg);
			if (rc)
				return rc;
		}
	}
	return rc;
}

/*
 * Walk a map's groups: each(seq, bucket, arg) for every bucket of every
 * group, seq = from + the group's position. Checks the canonical form
 * (strictly increasing decimal buckets < nbuckets, no empty group).
 * Returns the number of groups, or -EINVAL.
 */
static long map_walk(const char *m, size_t len, uint64_t from, unsigned nbuckets,
		     void (*each)(uint64_t seq, unsigned bucket, void *arg), void *arg)
{
	uint64_t groups = 1, v;
	long prev = -1;
	size_t p = 0;

	if (len == 0)
		return 0;
	for (;;) {
		size_t q = p;

		while (q < len && m[q] >= '0' && m[q] <= '9')
			q++;
		if (parse_dec(m + p, q - p, nbuckets - 1u, &v) || (long)v <= prev)
			return -EINVAL;
		if (each)
			each(from + groups, (unsigned)v, arg);
		prev = (long)v;
		if (q == len)
			break;
		if (m[q] == ';') {
			groups++;
			prev = -1;
		} else if (m[q] != ',') {
			return -EINVAL;
		}
		p = q + 1;
		if (p == len)
			return -EINVAL;	/* a trailing separator */
	}
	return (long)groups;
}

int zkx_head_format(const struct zkx_head *h, char *out, size_t cap)
{
	int w = snprintf(out, cap, ZKX_HEAD_MAGIC " %u %" PRIu64 " %u %" PRIu64
			 " %" PRIx64 "\n", h->format, h->epoch, h->nbuckets,
			 h->seq, h->pzxid), m;

	if (w < 0 || (size_t)w >= cap)
		return -ENOSPC;
	if (!h->has_map || h->map_from + h->map_groups != h->seq ||
	    map_walk(h->map, h->map_len, h->map_from, h->nbuckets, NULL, NULL) !=
	    (long)h->map_groups)
		return w;	/* none, or not one readers would accept: none */
	m = snprintf(out + w, cap - (size_t)w, "w %" PRIu64 " %s\n", h->map_from,
		     h->map_len ? h->map : "-");
	return m < 0 || (size_t)m >= cap - (size_t)w ? -ENOSPC : w + m;
}

/* The optional map line at buf[*pos..len) into h (h->has_map). */
static int parse_map(const char *buf, size_t len, size_t *pos, struct zkx_head *h)
{
	const char *line, *f[3];
	size_t ll, fl[3], p = *pos;
	long groups;

	h->has_map = false;
	if (len - p < 2 || buf[p] != 'w' || buf[p + 1] != ' ')
		return 0;
	if (next_line(buf, len, &p, &line, &ll) != 1 || fields(line, ll, f, fl, 3) != 3 ||
	    parse_dec(f[1], fl[1], h->seq, &h->map_from) || fl[2] > ZKX_MAP_MAX)
		return -EINVAL;
	if (fl[2] == 1 && f[2][0] == '-') {
		groups = 0;
		h->map_len = 0;
	} else {
		groups = map_walk(f[2], fl[2], h->map_from, h->nbuckets, NULL, NULL);
		if (groups <= 0)
			return -EINVAL;
		h->map_len = fl[2];
	}
	if ((uint64_t)groups > h->seq - h->map_from)
		return -EINVAL;
	memcpy(h->map, f[2], h->map_len);
	h->map[h->map_len] = '\0';
	h->map_groups = (uint64_t)groups;
	h->has_map = true;
	*pos = p;
	return 0;
}

static bool map_current(const struct zkx_head *h)
{
	return h->has_map && h->map_from + h->map_groups == h->seq;
}

/* Drop the oldest group of w's map. */
static void map_drop_oldest(struct zkx_head *w)
{
	char *semi = memchr(w->map, ';', w->map_len);
	size_t cut = semi ? (size_t)(semi - w->map) + 1 : w->map_len;

	memmove(w->map, w->map + cut, w->map_len - cut + 1);
	w->map_len -= cut;
	w->map_from++;
	w->map_groups--;
}

void zkx_map_roll(struct zkx_head *w, uint64_t prev_seq)
{
	if (!w->has_map || w->map_from + w->map_groups != prev_seq) {
		w->has_map = true;
		w->map_from = prev_seq;
		w->map_groups = 0;
		w->map_len = 0;
		w->map[0] = '\0';
	}
	if (w->map_groups) {
		while (w->map_len + 1 > ZKX_MAP_MAX)
			map_drop_oldest(w);
		if (w->map_groups) {
			w->map[w->map_len++] = ';';
			w->map[w->map_len] = '\0';
		}
	}
	w->map_groups++;	/* the new group; its buckets come with mark */
}

/* Start of the current (last) group in w->map. */
static size_t map_last_group(const struct zkx_head *w)
{
	const char *semi = w->map_len ? memrchr(w->map, ';', w->map_len) : NULL;

	return semi ? (size_t)(semi - w->map) + 1 : 0;
}

void zkx_map_mark(struct zkx_head *w, unsigned bucket)
{
	char num[16];
	size_t start, n;

	if (!w->has_map || !w->map_groups || bucket >= w->nbuckets)
		return;
	start = map_last_group(w);
	if (w->map_len > start) {
		const char *comma = memrchr(w->map + start, ',', w->map_len - start);

		if (bucket <= strtoul(comma ? comma + 1 : w->map + start, NULL, 10))
			return;	/* not increasing: already listed */
	}
	n = (size_t)snprintf(num, sizeof num, "%s%u", w->map_len > start ? "," : "", bucket);
	while (w->map_len + n > ZKX_MAP_MAX && w->map_groups > 1)
		map_drop_oldest(w);
	if (w->map_len + n > ZKX_MAP_MAX) {
		w->has_map = false;	/* one write too wide to list: no map */
		return;
	}
	memcpy(w->map + w->map_len, num, n + 1);
	w->map_len += n;
}

bool zkx_map_covers(const struct zkx_head *h, uint64_t my_seq)
{
	return map_current(h) && my_seq >= h->map_from && my_seq <= h->seq;
}

struct since_q {
	uint64_t after;
	bool *written;
	size_t n;
};

static void since_each(uint64_t seq, unsigned bucket, void *arg)
{
	struct since_q *q = arg;

	if (seq > q->after && bucket < q->n)
		q->written[bucket] = true;
}

int zkx_map_since(const struct zkx_head *h, uint64_t my_seq, bool *written, size_t n)
{
	struct since_q q = { my_seq, written, n };

	if (!zkx_map_covers(h, my_seq))
		return -ERANGE;
	return map_walk(h->map, h->map_len, h->map_from, h->nbuckets, since_each, &q) < 0 ?
	       -ERANGE : 0;
}

struct written_q {
	uint64_t after;
	unsigned bucket;
	bool hit;
};

static void written_each(uint64_t seq, unsigned bucket, void *arg)
{
	struct written_q *q = arg;

	if (seq > q->after && bucket == q->bucket)
		q->hit = true;
}

bool zkx_map_written(const struct zkx_head *h, uint64_t my_seq, unsigned bucket)
{
	struct written_q q = { my_seq, bucket, false };

	if (!zkx_map_covers(h, my_seq))
		return true;
	if (map_walk(h->map, h->map_len, h->map_from, h->nbuckets, written_each, &q) < 0)
		return true;
	return q.hit;
}

int zkx_head_parse(const char *buf, size_t len, struct zkx_head *h,
		   size_t *body)
{
	const char *line, *f[6];
	size_t pos = 0, ll, fl[6];
	uint64_t v;

	if (len > ZKX_HEAD_MAX || next_line(buf, len, &pos, &line, &ll) != 1)
		return -EINVAL;
	/* magic and format first: a newer format may change the rest */
	{
		size_t ml = strlen(ZKX_HEAD_MAGIC), fe;

		if (ll <= ml + 1 || memcmp(line, ZKX_HEAD_MAGIC " ", ml + 1) != 0)
			return -EINVAL;
		for (fe = ml + 1; fe < ll && line[fe] != ' '; fe++)
			;
		if (parse_dec(line + ml + 1, fe - ml - 1, UINT32_MAX, &v))
			return -EINVAL;
	}
	if (v != ZKX_FORMAT)
		return -EPROTO;
	h->format = (unsigned)v;
	if (fields(line, ll, f, fl, 6) != 6 ||
	    parse_dec(f[2], fl[2], UINT64_MAX, &h->epoch) ||
	    parse_dec(f[3], fl[3], ZKX_MAX_BUCKETS, &v) || v == 0)
		return -EINVAL;
	h->nbuckets = (unsigned)v;
	if (parse_dec(f[4], fl[4], UINT64_MAX, &h->seq) ||
	    parse_hex(f[5], fl[5], &h->pzxid) || parse_map(buf, len, &pos, h))
		return -EINVAL;
	*body = pos;
	return 0;
}

int zkx_ring_next(const char *buf, size_t len, size_t *pos,
		  struct zkx_ring_rec *r)
{
	const char *line, *f[6];
	size_t ll, fl[6];
	uint64_t v[5];
	int rc = next_line(buf, len, pos, &line, &ll), n;

	if (rc <= 0)
		return rc;
	if (ll < 2 || line[1] != ' ')
		return -EINVAL;
	memset(r, 0, sizeof *r);
	switch (line[0]) {
	case '+':
		r->kind = ZKX_R_UPSERT;
		return zkx_entry_parse(line + 2, ll - 2, &r->entry) ? -EINVAL : 1;
	case '-':
		r->kind = ZKX_R_DELETE;
		if (!zkh_name_valid(line + 2, ll - 2) || line[ll - 1] == '.' ||
		    zkh_name_fold(line + 2, ll - 2, r->entry.key) < 0)
			return -EINVAL;
		memcpy(r->entry.name, line + 2, ll - 2);
		r->entry.name[ll - 2] = '\0';
		r->entry.name_len = ll - 2;
		return 1;
	case 'g':
	case 's':
		break;
	default:
		return -EINVAL;
	}
	n = fields(line + 2, ll - 2, f, fl, 5);
	if (line[0] == 'g') {
		if (n != 4 || parse_dec(f[0], fl[0], UINT64_MAX, &v[0]) ||
		    parse_dec(f[1], fl[1], ZKX_MAX_BUCKETS - 1, &v[1]) ||
		    parse_dec(f[2], fl[2], INT32_MAX, &v[2]))
			return -EINVAL;
		r->kind = ZKX_R_GROUP;
		if (fl[3] == 1 && f[3][0] == '*')
			r->nentries = -1;
		else if (parse_dec(f[3], fl[3], ZKX_HEAD_MAX, &v[3]))
			return -EINVAL;
		else
			r->nentries = (int)v[3];
	} else {
		if (n != 5 || parse_dec(f[0], fl[0], UINT64_MAX, &v[0]) ||
		    parse_dec(f[1], fl[1], ZKX_MAX_BUCKETS - 1, &v[1]) ||
		    parse_dec(f[2], fl[2], INT32_MAX, &v[2]) ||
		    parse_dec(f[3], fl[3], ZKX_MAX_BUCKETS - 1, &v[3]) ||
		    parse_dec(f[4], fl[4], INT32_MAX, &v[4]))
			return -EINVAL;
		r->kind = ZKX_R_SPLIT;
		r->to_bucket = (unsigned)v[3];
		r->to_version = (int32_t)v[4];
	}
	r->seq = v[0];
	r->bucket = (unsigned)v[1];
	r->version = (int32_t)v[2];
	return 1;
}

/* Sequence of the group or split line at ring[pos] (0 if not one). */
static uint64_t line_seq(const char *ring, size_t len, size_t pos)
{
	uint64_t v = 0;
	size_t i = pos + 2;

	if (pos + 2 >= len || (ring[pos] != 'g' && ring[pos] != 's') || ring[pos + 1] != ' ')
		return 0;
	for (; i < len && ring[i] >= '0' && ring[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(ring[i] - '0');
	return v;
}

void zkx_ring_trim(char *ring, size_t *len, size_t max)
{
	while (*len > max) {
		uint64_t seq = line_seq(ring, *len, 0);
		size_t pos = 0;
		const char *nl;

		/* drop lines until a group or split of another sequence */
		do {
			nl = memchr(ring + pos, '\n', *len - pos);
			pos = nl ? (size_t)(nl - ring) + 1 : *len;
		} while (pos < *len && (ring[pos] == '+' || ring[pos] == '-' ||
					line_seq(ring, *len, pos) == seq));
		memmove(ring, ring + pos, *len - pos);
		*len -= pos;
	}
}

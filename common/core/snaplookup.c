/*
 * snaplookup.c - the lookup rules over one opened snapshot (see
 * snapread.h): forward (folding, the snapshot's domain both ways),
 * naming (canonical name and alias, the qualified sibling owning its
 * name), reverse (creation order, each record checked to hold the
 * address, IPv4-mapped IPv6 answered from IPv4 records) and enumeration.
 * Untrusted bytes from the file only reach callers through zkh_rec_decode
 * / zkh_revval_decode; a reverse entry is reported only if the record it
 * names exists and holds the address, so forward and reverse answers
 * always agree even in a damaged snapshot. Every consumer (NSS module,
 * zkhostctl, a DNS front-end) answers through these functions.
 */
#include "zkhosts/snapread.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "zkhosts/names.h"

/* Get and decode the record stored under folded key k. */
static int get_rec(const struct zkh_snapread *s, MDB_txn *txn, const char *k,
		   size_t klen, struct zkh_rec_view *rec)
{
	MDB_val key = { .mv_size = klen, .mv_data = (void *)k }, val;

	if (mdb_get(txn, s->names, &key, &val) != 0)
		return -ENOENT;
	if (zkh_rec_decode(val.mv_data, val.mv_size, k, klen, rec) != 0)
		return -ENOENT;
	return 0;
}

int zkh_sr_alt_key(const char *key, size_t len, const char *dsuffix,
		   size_t dlen, char *out)
{
	if (dlen == 0)
		return -ENOENT;
	if (len > dlen && memcmp(key + len - dlen, dsuffix, dlen) == 0) {
		if (out != key)
			memcpy(out, key, len - dlen);
		out[len - dlen] = '\0';
		return (int)(len - dlen);
	}
	/* "x" also finds a record stored as "x.<domain>". */
	if (len + dlen > ZKH_NAME_MAX)
		return -ENOENT;
	if (out != key)
		memcpy(out, key, len);
	memcpy(out + len, dsuffix, dlen);
	out[len + dlen] = '\0';
	return (int)(len + dlen);
}

int zkh_sr_lookup_name(const struct zkh_snapread *s, MDB_txn *txn,
		       const char *name, struct zkh_rec_view *rec)
{
	char key[ZKH_NAME_MAX + 1];
	int len = zkh_name_fold(name, strnlen(name, ZKH_NAME_MAX + 2), key);

	if (len < 0)
		return -ENOENT;
	if (get_rec(s, txn, key, (size_t)len, rec) == 0)
		return 0;
	if (s->dsuffix_len == 0)
		return -ENOENT;	/* no domain: no other form (no call) */
	len = zkh_sr_alt_key(key, (size_t)len, s->dsuffix, s->dsuffix_len,
			     key);
	if (len < 0)
		return -ENOENT;
	return get_rec(s, txn, key, (size_t)len, rec);
}

/* True if a record is stored under the folded form of name[0..n),
 * followed by the domain suffix when `qualify` (the caller checked that
 * the key fits in ZKH_NAME_MAX). */
static bool has_record(const struct zkh_snapread *s, MDB_txn *txn,
		       const char *name, size_t n, bool qualify)
{
	char key[ZKH_NAME_MAX + 1];
	struct zkh_rec_view other;
	size_t len = n;

	for (size_t i = 0; i < n; i++)
		key[i] = (name[i] >= 'A' && name[i] <= 'Z') ?
		    (char)(name[i] - 'A' + 'a') : name[i];
	if (qualify) {
		memcpy(key + n, s->dsuffix, s->dsuffix_len);
		len += s->dsuffix_len;
	}
	return get_rec(s, txn, key, len, &other) == 0;
}

size_t zkh_sr_rec_names(const struct zkh_snapread *s, MDB_txn *txn,
			const struct zkh_rec_view *rec,
			struct zkh_pstr *canon, struct zkh_pstr *alias)
{
	size_t n = rec->name_len, d = s->dsuffix_len;

	memset(canon, 0, sizeof(*canon));
	memset(alias, 0, sizeof(*alias));
	canon->a = rec->name;
	canon->alen = n;
	if (d == 0)
		return 0;
	if (n > d && strncasecmp(rec->name + n - d, s->dsuffix, d) == 0) {
		/* Already qualified: the short form is the alias, unless a
		 * record stored under the short form owns it (forward lookups
		 * of "x" find that record first, so naming this one "x" in a
		 * reverse answer would break forward/reverse agreement). */
		if (has_record(s, txn, rec->name, n - d, false))
			return 0;
		alias->a = rec->name;
		alias->alen = n - d;
		return 1;
	}
	if (n + d > ZKH_NAME_MAX)
		return 0;
	/* A record stored as "x.<domain>" owns that name (forward lookups of
	 * it find that record), so "x" must not claim it too, or a reverse
	 * answer would name a record that does not resolve back to it. */
	if (has_record(s, txn, rec->name, n, true))
		return 0;
	canon->b = s->dsuffix;
	canon->blen = d;
	alias->a = rec->name;
	alias->alen = n;
	return 1;
}

/* True if rec holds address a. */
static bool rec_has_addr(const struct zkh_rec_view *rec,
			 const struct zkh_addr *a)
{
	const uint8_t *p = a->family == AF_INET ? rec->v4 : rec->v6;
	unsigned n = a->family == AF_INET ? rec->n4 : rec->n6, i;
	size_t len = zkh_addr_len(a->family);

	if (len == 0)
		return false;
	for (i = 0; i < n; i++)
		if (memcmp(p + i * len, a->bytes, len) == 0)
			return true;
	return false;
}

/* Records holding exactly address a (no IPv4-mapped fallback). */
static int records_of(const struct zkh_snapread *s, MDB_txn *txn,
		      const struct zkh_addr *a, struct zkh_rev *out)
{
	uint8_t kbuf[ZKH_ADDRKEY_MAX];
	MDB_val key, val;
	MDB_cursor *c = NULL;
	int klen = zkh_addrkey_encode(a, kbuf), rc;

	out->n = 0;
	if (klen < 0)
		return -ENOENT;
	key.mv_size = (size_t)klen;
	key.mv_data = kbuf;
	if (mdb_cursor_open(txn, s->addrs, &c) != 0)
		return -ENOMEM;
	rc = mdb_cursor_get(c, &key, &val, MDB_SET_KEY);
	while (rc == 0 && out->n < ZKH_REV_MAX) {
		struct zkh_rec_view *rec = &out->recs[out->n];
		const char *lname;
		size_t llen;
		uint64_t czxid;

		if (zkh_revval_decode(val.mv_data, val.mv_size, &czxid,
				      &lname, &llen) == 0 &&
		    get_rec(s, txn, lname, llen, rec) == 0 &&
		    rec_has_addr(rec, a))
			out->n++;
		rc = mdb_cursor_get(c, &key, &val, MDB_NEXT_DUP);
	}
	mdb_cursor_close(c);
	return out->n ? 0 : -ENOENT;
}

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0xff, 0xff };

int zkh_sr_lookup_addr(const struct zkh_snapread *s, MDB_txn *txn,
		       const struct zkh_addr *a, struct zkh_rev *out)
{
	struct zkh_addr q;
	int rc = records_of(s, txn, a, out);

	if (rc == -ENOENT && a->family == AF_INET6 &&
	    memcmp(a->bytes, v4mapped, sizeof(v4mapped)) == 0) {
		memset(&q, 0, sizeof(q));
		q.family = AF_INET;
		memcpy(q.bytes, a->bytes + 12, 4);
		rc = records_of(s, txn, &q, out);
	}
	return rc;
}

size_t zkh_sr_rev_names(const struct zkh_snapread *s, MDB_txn *txn,
			const struct zkh_rev *rev, struct zkh_pstr *names,
			size_t cap)
{
	struct zkh_pstr canon, alias;
	size_t i, n = 0;

	for (i = 0; i < rev->n && n < cap; i++) {
		size_t na = zkh_sr_rec_names(s, txn, &rev->recs[i], &canon,
					     &alias);

		names[n++] = canon;
		if (na && n < cap)
			names[n++] = alias;
	}
	return n;
}

int zkh_sr_enum_next(const struct zkh_snapread *s, MDB_txn *txn,
		     const struct zkh_enum_pos *pos, struct zkh_rec_view *rec,
		     int *family, struct zkh_enum_pos *next)
{
	MDB_cursor *c = NULL;
	MDB_val key, val;
	int rc;

	if (mdb_cursor_open(txn, s->names, &c) != 0)
		return -ENOMEM;
	if (pos->started) {
		key.mv_size = pos->key_len;
		key.mv_data = (void *)pos->key;
		rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
	} else {
		rc = mdb_cursor_get(c, &key, &val, MDB_FIRST);
	}
	for (; rc == 0; rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
		int phase = 0;

		if (key.mv_size > ZKH_NAME_MAX ||
		    zkh_rec_decode(val.mv_data, val.mv_size, key.mv_data,
				   key.mv_size, rec) != 0)
			continue;
		if (pos->started && key.mv_size == pos->key_len &&
		    memcmp(key.mv_data, pos->key, pos->key_len) == 0)
			phase = pos->phase;
		if (phase < 1 && rec->n4 > 0) {
			*family = AF_INET;
			phase = 1;
		} else if (phase < 2 && rec->n6 > 0) {
			*family = AF_INET6;
			phase = 2;
		} else {
			continue;
		}
		next->started = true;
		next->phase = phase;
		next->key_len = key.mv_size;
		memcpy(next->key, key.mv_data, key.mv_size);
		next->key[key.mv_size] = '\0';
		mdb_cursor_close(c);
		return 0;
	}
	mdb_cursor_close(c);
	return -ENOENT;
}

/*
 * record.c - the byte codec of the snapshot's values (see snapshot.h): the
 * "meta" value, the "names" records, and the "addrs" keys and duplicate
 * values. The writer encodes with these, the NSS module decodes with them,
 * so both sides agree by construction. Decoders take untrusted bytes from a
 * file any bug or corruption may have shaped: they check every length
 * before reading, read integers byte by byte (no unaligned access, no
 * dependence on host byte order), and accept only the one canonical form.
 * A record stores its name as written minus the optional trailing dot
 * (which carries no meaning), so name_len is always 1..ZKH_NAME_MAX.
 * Decoders do not look for repeated addresses (the encoder refuses them,
 * and a repeat read back is harmless); zkh_revval_encode reports a too
 * small buffer as -EINVAL, as its contract says. Truncating a reverse
 * value can leave a shorter valid name (the format has no length field):
 * LMDB hands back whole values, so that is not a risk in practice.
 * Pure: no allocation, no logging, no global state, no locale.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "zkhosts/names.h"
#include "zkhosts/snapshot.h"

/* ---- little helpers: explicit byte order ------------------------------ */

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * (7 - i)));
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)(p[1] << 8));
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/*
 * True if s[0..len) is a host name in its folded (key) form: valid, no
 * trailing dot, no uppercase letter.
 */
static bool is_folded_name(const char *s, size_t len)
{
	if (!zkh_name_valid(s, len) || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			return false;
	return true;
}

/*
 * True if `name` (as stored: no trailing dot) is a valid host name that
 * folds to exactly key[0..key_len).
 */
static bool name_folds_to(const char *name, size_t name_len,
			  const char *key, size_t key_len)
{
	if (name_len != key_len || !zkh_name_valid(name, name_len) ||
	    name[name_len - 1] == '.')
		return false;
	for (size_t i = 0; i < name_len; i++) {
		char c = name[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != key[i])
			return false;
	}
	return true;
}

/* ---- address -------------------------------------------------------- */

size_t zkh_addr_len(int family)
{
	if (family == AF_INET)
		return 4;
	if (family == AF_INET6)
		return 16;
	return 0;
}

/* ---- meta ----------------------------------------------------------- */

int zkh_meta_encode(const struct zkh_meta *m, uint8_t *out, size_t cap)
{
	size_t len;
	uint8_t *p = out;

	if (m == NULL || m->domain_len > ZKH_DOMAIN_MAX)
		return -EINVAL;
	if (m->domain_len > 0 && !is_folded_name(m->domain, m->domain_len))
		return -EINVAL;
	len = ZKH_META_FIXED + m->domain_len;
	if (out == NULL || cap < len)
		return -ENOSPC;
	memcpy(p, "ZKHM", 4);
	put_le32(p + 4, m->schema);
	put_le32(p + 8, m->flags);
	put_le64(p + 12, m->generation);
	put_le64(p + 20, m->publish_time_us);
	put_le64(p + 28, m->last_sync_us);
	put_le64(p + 36, m->record_count);
	put_le32(p + 44, m->ttl);
	put_le16(p + 48, (uint16_t)m->domain_len);
	if (m->domain_len > 0)
		memcpy(p + ZKH_META_FIXED, m->domain, m->domain_len);
	return (int)len;
}

int zkh_meta_decode(const void *buf, size_t len, struct zkh_meta *m)
{
	const uint8_t *p = buf;
	size_t dlen;

	if (p == NULL || m == NULL || len < ZKH_META_FIXED ||
	    len > ZKH_META_MAX || memcmp(p, "ZKHM", 4) != 0)
		return -EINVAL;
	dlen = get_le16(p + 48);
	if (len != ZKH_META_FIXED + dlen)
		return -EINVAL;
	m->schema = get_le32(p + 4);
	if (m->schema != ZKH_SCHEMA_VERSION)
		return -EINVAL;
	if (dlen > 0 &&
	    !is_folded_name((const char *)p + ZKH_META_FIXED, dlen))
		return -EINVAL;
	m->flags = get_le32(p + 8);
	m->generation = get_le64(p + 12);
	m->publish_time_us = get_le64(p + 20);
	m->last_sync_us = get_le64(p + 28);
	m->record_count = get_le64(p + 36);
	m->ttl = get_le32(p + 44);
	m->domain_len = dlen;
	if (dlen > 0)
		memcpy(m->domain, p + ZKH_META_FIXED, dlen);
	m->domain[dlen] = '\0';
	return 0;
}

/* ---- record --------------------------------------------------------- */

int zkh_rec_encode(const char *name, size_t name_len, uint64_t czxid,
		   const struct zkh_addr *addrs, size_t naddr,
		   uint8_t *out, size_t cap)
{
	unsigned n4 = 0, n6 = 0;
	size_t len, o4, o6;

	if (name == NULL || !zkh_name_valid(name, name_len) ||
	    addrs == NULL || naddr == 0 || naddr > ZKH_MAX_ADDRS)
		return -EINVAL;
	/* The one optional trailing dot carries no meaning; dropping it keeps
	 * name_len within 1..ZKH_NAME_MAX and the record within ZKH_REC_MAX. */
	if (name[name_len - 1] == '.')
		name_len--;
	for (size_t i = 0; i < naddr; i++) {
		size_t alen = zkh_addr_len(addrs[i].family);

		if (alen == 0)
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (addrs[j].family == addrs[i].family &&
			    memcmp(addrs[j].bytes, addrs[i].bytes, alen) == 0)
				return -EINVAL;
		if (alen == 4)
			n4++;
		else
			n6++;
	}
	len = ZKH_REC_FIXED + name_len + 4 * (size_t)n4 + 16 * (size_t)n6;
	if (out == NULL || cap < len)
		return -ENOSPC;
	out[0] = ZKH_REC_VERSION;
	out[1] = (uint8_t)n4;
	out[2] = (uint8_t)n6;
	out[3] = (uint8_t)name_len;
	put_le64(out + 4, czxid);
	memcpy(out + ZKH_REC_FIXED, name, name_len);
	o4 = ZKH_REC_FIXED + name_len;
	o6 = o4 + 4 * (size_t)n4;
	for (size_t i = 0; i < naddr; i++) {
		if (addrs[i].family == AF_INET) {
			memcpy(out + o4, addrs[i].bytes, 4);
			o4 += 4;
		} else {
			memcpy(out + o6, addrs[i].bytes, 16);
			o6 += 16;
		}
	}
	return (int)len;
}

int zkh_rec_decode(const void *buf, size_t len, const void *key,
		   size_t key_len, struct zkh_rec_view *v)
{
	const uint8_t *p = buf;
	unsigned n4, n6;
	size_t name_len;

	if (p == NULL || key == NULL || v == NULL || len < ZKH_REC_FIXED ||
	    len > ZKH_REC_MAX || p[0] != ZKH_REC_VERSION)
		return -EINVAL;
	n4 = p[1];
	n6 = p[2];
	name_len = p[3];
	if (n4 + n6 == 0 || n4 + n6 > ZKH_MAX_ADDRS || name_len == 0 ||
	    name_len > ZKH_NAME_MAX)
		return -EINVAL;
	if (len != ZKH_REC_FIXED + name_len + 4 * (size_t)n4 +
		   16 * (size_t)n6)
		return -EINVAL;
	if (!name_folds_to((const char *)p + ZKH_REC_FIXED, name_len, key,
			   key_len))
		return -EINVAL;
	v->czxid = get_le64(p + 4);
	v->name = (const char *)p + ZKH_REC_FIXED;
	v->name_len = name_len;
	v->n4 = n4;
	v->n6 = n6;
	v->v4 = p + ZKH_REC_FIXED + name_len;
	v->v6 = v->v4 + 4 * (size_t)n4;
	return 0;
}

/* ---- reverse index -------------------------------------------------- */

int zkh_addrkey_encode(const struct zkh_addr *a, uint8_t *out)
{
	size_t alen;

	if (a == NULL || out == NULL)
		return -EINVAL;
	alen = zkh_addr_len(a->family);
	if (alen == 0)
		return -EINVAL;
	out[0] = alen == 4 ? 4 : 6;
	memcpy(out + 1, a->bytes, alen);
	return (int)(1 + alen);
}

int zkh_revval_encode(uint64_t czxid, const char *lname, size_t lname_len,
		      uint8_t *out, size_t cap)
{
	if (lname == NULL || out == NULL || !is_folded_name(lname, lname_len) ||
	    cap < 8 + lname_len)
		return -EINVAL;
	put_be64(out, czxid);
	memcpy(out + 8, lname, lname_len);
	return (int)(8 + lname_len);
}

int zkh_revval_decode(const void *buf, size_t len, uint64_t *czxid,
		      const char **lname, size_t *lname_len)
{
	const uint8_t *p = buf;

	if (p == NULL || czxid == NULL || lname == NULL || lname_len == NULL ||
	    len < 9 || len > ZKH_REVVAL_MAX)
		return -EINVAL;
	if (!is_folded_name((const char *)p + 8, len - 8))
		return -EINVAL;
	*czxid = get_be64(p);
	*lname = (const char *)p + 8;
	*lname_len = len - 8;
	return 0;
}

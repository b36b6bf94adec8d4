/*
 * pack.c - the result packer of libnss_zk: computes the exact number of
 * bytes a hostent or gaih_addrtuple chain needs in the caller's buffer,
 * refuses (-ERANGE) before writing if it does not fit, and otherwise lays
 * it out with a bump allocator: aligned pointer arrays or tuples first,
 * then raw address bytes, then NUL-terminated strings.
 */
#include "pack.h"

#include <errno.h>
#include <stdalign.h>
#include <string.h>
#include <sys/socket.h>

/* Padding to bring address p up to a multiple of align (a power of 2). */
static size_t pad_for(const char *p, size_t align)
{
	return (size_t)(-(uintptr_t)p & (uintptr_t)(align - 1));
}

static size_t pstr_size(const struct zkh_pstr *s)
{
	return s->alen + s->blen + 1;
}

/* Copy s (both pieces and a NUL) to *at, advance *at; return the copy. */
static char *pstr_put(const struct zkh_pstr *s, char **at)
{
	char *out = *at;

	if (s->alen)
		memcpy(out, s->a, s->alen);
	if (s->blen)
		memcpy(out + s->alen, s->b, s->blen);
	out[s->alen + s->blen] = '\0';
	*at = out + pstr_size(s);
	return out;
}

static size_t family_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

size_t zkh_pack_hostent_size(const struct zkh_hostent_src *src,
			     const char *buf)
{
	size_t n, i;

	n = pad_for(buf, alignof(char *));
	n += (src->naliases + 1) * sizeof(char *);
	n += (src->naddrs + 1) * sizeof(char *);
	n += src->naddrs * family_len(src->family);
	n += pstr_size(&src->name);
	for (i = 0; i < src->naliases; i++)
		n += pstr_size(&src->aliases[i]);
	return n;
}

int zkh_pack_hostent(const struct zkh_hostent_src *src, struct hostent *h,
		     char *buf, size_t buflen)
{
	size_t alen = family_len(src->family), i;
	char **aliases, **addrs, *at;

	if (alen == 0 || src->naddrs == 0 ||
	    src->naliases > ZKH_PACK_MAX_ALIASES)
		return -EINVAL;
	if (buf == NULL || zkh_pack_hostent_size(src, buf) > buflen)
		return -ERANGE;

	at = buf + pad_for(buf, alignof(char *));
	aliases = (char **)(void *)at;
	at += (src->naliases + 1) * sizeof(char *);
	addrs = (char **)(void *)at;
	at += (src->naddrs + 1) * sizeof(char *);
	for (i = 0; i < src->naddrs; i++) {
		memcpy(at, src->addrs + i * alen, alen);
		addrs[i] = at;
		at += alen;
	}
	addrs[src->naddrs] = NULL;
	h->h_name = pstr_put(&src->name, &at);
	for (i = 0; i < src->naliases; i++)
		aliases[i] = pstr_put(&src->aliases[i], &at);
	aliases[src->naliases] = NULL;
	h->h_aliases = aliases;
	h->h_addrtype = src->family;
	h->h_length = (int)alen;
	h->h_addr_list = addrs;
	return 0;
}

size_t zkh_pack_tuples_size(const struct zkh_tuples_src *src,
			    const char *buf, int have_first)
{
	size_t ntup = src->n4 + src->n6 - (have_first ? 1 : 0);

	return pad_for(buf, alignof(struct gaih_addrtuple)) +
	    ntup * sizeof(struct gaih_addrtuple) + pstr_size(&src->name);
}

static void tuple_fill(struct gaih_addrtuple *t, int family,
		       const uint8_t *bytes, char *name)
{
	memset(t, 0, sizeof(*t));
	t->name = name;
	t->family = family;
	memcpy(t->addr, bytes, family_len(family));
	t->scopeid = 0;
}

int zkh_pack_tuples(const struct zkh_tuples_src *src,
		    struct gaih_addrtuple **pat, char *buf, size_t buflen)
{
	size_t total = src->n4 + src->n6, i, k;
	int have_first = *pat != NULL;
	struct gaih_addrtuple *tup, *first, *prev;
	char *at, *name;

	if (total == 0)
		return -EINVAL;
	if (buf == NULL || zkh_pack_tuples_size(src, buf, have_first) > buflen)
		return -ERANGE;

	at = buf + pad_for(buf, alignof(struct gaih_addrtuple));
	tup = (struct gaih_addrtuple *)(void *)at;
	at += (total - (have_first ? 1 : 0)) * sizeof(*tup);
	name = pstr_put(&src->name, &at);

	first = have_first ? *pat : &tup[0];
	k = have_first ? 0 : 1;
	prev = NULL;
	for (i = 0; i < total; i++) {
		struct gaih_addrtuple *t = i == 0 ? first : &tup[k++];

		if (i < src->n4)
			tuple_fill(t, AF_INET, src->v4 + 4 * i, name);
		else
			tuple_fill(t, AF_INET6, src->v6 + 16 * (i - src->n4),
				   name);
		if (prev)
			prev->next = t;
		prev = t;
	}
	prev->next = NULL;
	*pat = first;
	return 0;
}

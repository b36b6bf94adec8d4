/*
 * ixset.c - small helpers of the fleet index shared by the indexer and
 * the consumer (contract: index.h): the sorted set of entry lines each
 * keeps per bucket (binary search, one bucket holds tens of entries),
 * loading one from an untrusted bucket's bytes and rendering one into
 * bucket text, and the index's znode paths.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"

static size_t find_pos(const struct ix_set *s, const char *key, bool *found)
{
	size_t lo = 0, hi = s->n;

	*found = false;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(s->v[mid].key, key);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct ix_kv *ixset_get(const struct ix_set *s, const char *key)
{
	bool found;
	size_t i = find_pos(s, key, &found);

	return found ? &s->v[i] : NULL;
}

int ixset_put(struct ix_set *s, const char *key, const char *line)
{
	bool found;
	size_t i = find_pos(s, key, &found);
	char *l = strdup(line), *k = NULL;

	if (!l)
		return -ENOMEM;
	if (found) {
		s->bytes -= strlen(s->v[i].line) + 1;
		free(s->v[i].line);
		s->v[i].line = l;
		s->bytes += strlen(l) + 1;
		return 0;
	}
	k = strdup(key);
	if (!k)
		goto fail;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct ix_kv *v = realloc(s->v, cap * sizeof *v);

		if (!v)
			goto fail;
		s->v = v;
		s->cap = cap;
	}
	memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof *s->v);
	s->v[i].key = k;
	s->v[i].line = l;
	s->n++;
	s->bytes += strlen(l) + 1;
	return 0;
fail:
	free(k);
	free(l);
	return -ENOMEM;
}

bool ixset_del(struct ix_set *s, const char *key)
{
	bool found;
	size_t i = find_pos(s, key, &found);

	if (!found)
		return false;
	s->bytes -= strlen(s->v[i].line) + 1;
	free(s->v[i].key);
	free(s->v[i].line);
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof *s->v);
	s->n--;
	return true;
}

void ixset_clear(struct ix_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].key);
		free(s->v[i].line);
	}
	free(s->v);
	memset(s, 0, sizeof *s);
}

void ixset_take(struct ix_set *a, struct ix_set *b)
{
	ixset_clear(a);
	*a = *b;
	memset(b, 0, sizeof *b);
}

bool ixset_equal(const struct ix_set *a, const struct ix_set *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].key, b->v[i].key) != 0 ||
		    strcmp(a->v[i].line, b->v[i].line) != 0)
			return false;
	return true;
}

static int load_one(const struct zkx_entry *e, const char *line, size_t ll,
		    void *arg)
{
	struct ix_set *s = arg;
	char buf[ZKX_LINE_MAX + 1];

	memcpy(buf, line, ll);
	buf[ll] = '\0';
	return ixset_put(s, e->key, buf);
}

int ixset_load(struct ix_set *s, const char *buf, size_t len, unsigned index,
	       unsigned nbuckets)
{
	struct zkx_entry *e = malloc(sizeof *e);
	int rc;

	if (!e)
		return -ENOMEM;
	ixset_clear(s);
	rc = zkx_bucket_parse(buf, len, index, nbuckets, e, load_one, s);
	free(e);
	if (rc)
		ixset_clear(s);
	return rc;
}

long ixset_render(const struct ix_set *s, unsigned index, char **out)
{
	char hdr[64];
	int hl = zkx_bucket_header(index, hdr, sizeof hdr);
	size_t len = (size_t)hl + s->bytes, off;
	char *buf;

	if (hl < 0)
		return -EINVAL;
	if (len > ZKX_BUCKET_MAX)
		return -EFBIG;
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, hdr, (size_t)hl);
	off = (size_t)hl;
	for (size_t i = 0; i < s->n; i++) {
		size_t ll = strlen(s->v[i].line);

		memcpy(buf + off, s->v[i].line, ll);
		off += ll;
		buf[off++] = '\n';
	}
	buf[off] = '\0';
	*out = buf;
	return (long)off;
}

int ix_paths_init(struct ix_paths *p, const char *root_path)
{
	if ((size_t)snprintf(p->index, sizeof p->index, "%s/index", root_path) >= sizeof p->index ||
	    (size_t)snprintf(p->dir, sizeof p->dir, "%s" ZKX_DIR, root_path) >= sizeof p->dir ||
	    (size_t)snprintf(p->head, sizeof p->head, "%s/" ZKX_HEAD_NAME, p->dir) >= sizeof p->head ||
	    (size_t)snprintf(p->hosts, sizeof p->hosts, "%s/hosts", root_path) >= sizeof p->hosts ||
	    strlen(p->dir) + 32 >= ZKD_PATH_CAP)
		return -ENAMETOOLONG;
	return 0;
}

/* ix_paths_init left 32 bytes of room after dir: never truncated. */
static void child_path(const struct ix_paths *p, const char *prefix,
		       unsigned n, char *out)
{
	size_t dl = strlen(p->dir);
	char tail[32];
	int tl = snprintf(tail, sizeof tail, "/%s%u", prefix, n);

	memcpy(out, p->dir, dl);
	memcpy(out + dl, tail, (size_t)tl + 1);
}

void ix_bucket_path(const struct ix_paths *p, unsigned i, char *out)
{
	child_path(p, "b", i, out);
}

void ix_slot_path(const struct ix_paths *p, unsigned k, char *out)
{
	child_path(p, "indexer-", k, out);
}

static long number_after(const struct ix_paths *p, const char *path,
			 const char *prefix)
{
	size_t dl = strlen(p->dir), pl = strlen(prefix);
	long v = 0;
	const char *s;

	if (!path || strncmp(path, p->dir, dl) != 0 || path[dl] != '/' ||
	    strncmp(path + dl + 1, prefix, pl) != 0)
		return -1;
	s = path + dl + 1 + pl;
	if (!*s || (s[0] == '0' && s[1]))
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (long)ZKX_MAX_BUCKETS)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

long ix_bucket_of_path(const struct ix_paths *p, const char *path)
{
	return number_after(p, path, "b");
}

long ix_slot_of_path(const struct ix_paths *p, const char *path)
{
	return number_after(p, path, "indexer-");
}

/*
 * retry.c - backoff with full jitter and a binary min-heap of retry timers
 * (contract: retry.h). Each struct zkd_retry knows its position in the
 * heap, so cancelling or moving one is a sift from that position, never a
 * search.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "retry.h"

uint64_t retry_bound_ms(unsigned failures)
{
	uint64_t b = ZKD_RETRY_BASE_MS;

	for (unsigned i = 1; i < failures && b < ZKD_RETRY_CAP_MS; i++)
		b *= 2;
	return b < ZKD_RETRY_CAP_MS ? b : ZKD_RETRY_CAP_MS;
}

uint64_t retry_delay_ms(unsigned failures)
{
	uint64_t bound = retry_bound_ms(failures ? failures : 1);

	/* never 0: a retry never goes out in the tick that saw the failure */
	return 1 + (uint64_t)random() % bound;
}

/* ---- the heap ------------------------------------------------------------ */

static void put(struct zkd_timers *h, size_t i, struct zkd_retry *r)
{
	h->v[i] = r;
	r->pos = i + 1;
}

static void sift_up(struct zkd_timers *h, size_t i)
{
	struct zkd_retry *r = h->v[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (h->v[parent]->at <= r->at)
			break;
		put(h, i, h->v[parent]);
		i = parent;
	}
	put(h, i, r);
}

static void sift_down(struct zkd_timers *h, size_t i)
{
	struct zkd_retry *r = h->v[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1]->at < h->v[c]->at)
			c++;
		if (r->at <= h->v[c]->at)
			break;
		put(h, i, h->v[c]);
		i = c;
	}
	put(h, i, r);
}

/* Insert r (not scheduled) or move it (scheduled) to its `at`. */
static int schedule(struct zkd_timers *h, struct zkd_retry *r)
{
	if (r->pos) {
		size_t i = r->pos - 1;

		sift_up(h, i);
		sift_down(h, r->pos - 1);
		return 0;
	}
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct zkd_retry **v = realloc(h->v, cap * sizeof *v);

		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	put(h, h->n++, r);
	sift_up(h, h->n - 1);
	return 0;
}

int64_t retry_failed(struct zkd_timers *h, struct zkd_retry *r, int rc,
		     uint64_t now)
{
	uint64_t delay;

	if (r->failures < UINT_MAX)
		r->failures++;
	r->rc = rc;
	delay = retry_delay_ms(r->failures);
	r->at = now + delay;
	if (schedule(h, r)) {
		retry_cancel(h, r);
		return -ENOMEM;
	}
	return (int64_t)delay;
}

void retry_cancel(struct zkd_timers *h, struct zkd_retry *r)
{
	struct zkd_retry *last;
	size_t i;

	if (!r->pos)
		return;
	i = r->pos - 1;
	r->pos = 0;
	h->n--;
	if (i == h->n)
		return;
	last = h->v[h->n];
	put(h, i, last);
	sift_up(h, i);
	sift_down(h, last->pos - 1);
}

void retry_reset(struct zkd_timers *h, struct zkd_retry *r)
{
	retry_cancel(h, r);
	r->failures = 0;
	r->rc = 0;
}

struct zkd_retry *retry_pop_due(struct zkd_timers *h, uint64_t now)
{
	struct zkd_retry *r;

	if (!h->n || h->v[0]->at > now)
		return NULL;
	r = h->v[0];
	retry_cancel(h, r);
	return r;
}

uint64_t retry_next(const struct zkd_timers *h)
{
	if (!h->n)
		return 0;
	return h->v[0]->at ? h->v[0]->at : 1;
}

void retry_timers_free(struct zkd_timers *h)
{
	for (size_t i = 0; i < h->n; i++)
		h->v[i]->pos = 0;
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}

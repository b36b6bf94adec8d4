/*
 * retry.h - retries of refused ZooKeeper requests (retry.c): the backoff
 * (exponential, full jitter, capped) and a min-heap of timers, so that
 * any number of waiting retries costs O(log n) to schedule or cancel and
 * the loop finds the nearest one in O(1), with no scan per tick. A role
 * embeds a struct zkd_retry in what it retries (a node, a listing) and
 * owns a struct zkd_timers; the heap holds pointers into those structs,
 * so a retry must be cancelled before the struct holding it is freed.
 *
 * A request that fails for a reason other than a lost connection (the
 * server refused it: no read permission, bad credentials, a marshalling or
 * system error, throttling, anything unexpected) is sent again after
 * retry_delay_ms(failures): uniformly random in [1, min(CAP, BASE *
 * 2^(failures-1))] ms ("full jitter"). Quick at first, so a transient refusal
 * costs about BASE; capped, and spread over the whole interval, so a fleet
 * retrying the same unreadable node averages one request per host every
 * CAP/2 instead of arriving in waves.
 *
 * Thread-safety: main loop only. random() supplies the jitter (seeded by
 * main).
 */
#ifndef ZKD_RETRY_H
#define ZKD_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* First retry within this many ms. */
#define ZKD_RETRY_BASE_MS 100
/* Retries never wait longer than this (ms): a fleet of N hosts retrying one
 * refused node sends about N / (ZKD_RETRY_CAP_MS / 2000) requests a second. */
#define ZKD_RETRY_CAP_MS 60000

/* One retry: when it is due, and the failures that led to it. */
struct zkd_retry {
	uint64_t at;		/* ms the retry is due (valid while scheduled) */
	size_t pos;		/* 1 + index in the heap; 0: not scheduled */
	unsigned failures;	/* consecutive failures so far */
	int rc;			/* ZooKeeper code of the last failure */
};

/* Scheduled retries, nearest first. Zero-initialised is empty. */
struct zkd_timers {
	struct zkd_retry **v;
	size_t n, cap;
};

/* Upper bound of the delay after `failures` (>= 1) failures, ms. */
uint64_t retry_bound_ms(unsigned failures);

/* A delay for the retry after `failures` failures: full jitter over
 * [1, retry_bound_ms(failures)] ms, from random(). */
uint64_t retry_delay_ms(unsigned failures);

/*
 * One more failure (code rc) at `now`: count it and schedule the retry
 * after retry_delay_ms (moved if already scheduled). Returns the delay
 * (ms), or -ENOMEM with r unscheduled (the caller must make up for it).
 */
int64_t retry_failed(struct zkd_timers *h, struct zkd_retry *r, int rc,
		     uint64_t now);

/* Take r off the heap if scheduled; the failure count stays. */
void retry_cancel(struct zkd_timers *h, struct zkd_retry *r);

/* Success: cancel and forget the failures. */
void retry_reset(struct zkd_timers *h, struct zkd_retry *r);

static inline bool retry_scheduled(const struct zkd_retry *r)
{
	return r->pos != 0;
}

/* The nearest retry due at `now`, taken off the heap; NULL if none. */
struct zkd_retry *retry_pop_due(struct zkd_timers *h, uint64_t now);

/* When the nearest retry is due (ms), 0 if none. */
uint64_t retry_next(const struct zkd_timers *h);

/* Free the heap (not the retries it points to; they become unscheduled). */
void retry_timers_free(struct zkd_timers *h);

#endif

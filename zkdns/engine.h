/*
 * engine.h - the DNS side of zkdns without any socket: it holds the
 * current snapshot (opened through the shared reader, snapread.h, and
 * swapped when the generation counter moves, checked on every query by
 * one memory load) and turns one query message into one response
 * message. Wire format through libknot; the answers themselves come from
 * the shared lookup rules (zkh_sr_lookup_name, zkh_sr_lookup_addr,
 * zkh_sr_rev_names), so zkdns and libnss_zk answer from the same code.
 * The zones and their semantics are described in engine.c and zkdns(8).
 *
 * Single-threaded: an engine is used by one thread at a time (zkdns runs
 * one event loop). Nothing here logs; errors are -errno.
 */
#ifndef ZKDNS_ENGINE_H
#define ZKDNS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkhosts/config.h"

/* Largest DNS message (TCP); out buffers of zkdns_answer hold this. */
#define ZKDNS_MSG_MAX 65535
/* Largest UDP answer we send, whatever EDNS0 offers (DNS flag day 2020:
 * no IP fragmentation). */
#define ZKDNS_UDP_MAX 1232

struct zkdns_engine;

/* Counters since zkdns_engine_new, for the log and tests. */
struct zkdns_stats {
	uint64_t queries;	/* messages handed to zkdns_answer */
	uint64_t dropped;	/* no answer sent (too short, a response) */
	uint64_t formerr;
	uint64_t refused;
	uint64_t servfail;	/* no usable snapshot */
	uint64_t nxdomain;
	uint64_t truncated;	/* TC set */
	uint64_t swaps;		/* snapshots opened after the first */
};

/*
 * Create an engine answering from the cache directory c->cache with the
 * zone settings of *c (copied; the caller may free c afterwards).
 * `trust`: apply the reader's trust rules (ZKH_SR_TRUST) to the cache;
 * only tests and the fuzz target pass false. The snapshot is opened
 * lazily at the first query (and retried at most every 100 ms while it
 * cannot be). Returns 0 and *out (free with zkdns_engine_free), -ENOMEM,
 * or -EINVAL if c->cache is not absolute.
 */
int zkdns_engine_new(const struct zkh_config *c, bool trust,
		     struct zkdns_engine **out);

/* Close the snapshot and free everything. Safe on NULL. */
void zkdns_engine_free(struct zkdns_engine *e);

/*
 * Answer one query of `len` bytes (untrusted) received over UDP
 * (tcp == false: the answer fits the client's EDNS0 payload size, at most
 * ZKDNS_UDP_MAX, or 512 without EDNS0, else it is truncated with TC set)
 * or TCP. Writes the response into out (capacity ZKDNS_MSG_MAX) and
 * returns its length, or 0 when nothing must be sent (shorter than a
 * header, or a response rather than a query). Never fails otherwise:
 * a malformed query gets FORMERR, an unusable snapshot SERVFAIL.
 */
size_t zkdns_answer(struct zkdns_engine *e, const uint8_t *msg, size_t len,
		    bool tcp, uint8_t *out);

/*
 * Make sure the newest snapshot is open now (as the next query would).
 * Returns 0, or the reader's -errno (snapread.h) if no snapshot can be
 * opened; the previous snapshot, if any, stays in use then.
 */
int zkdns_engine_refresh(struct zkdns_engine *e);

/* The counters. */
const struct zkdns_stats *zkdns_engine_stats(const struct zkdns_engine *e);

#endif

/*
 * zkindex.h - the fleet index: the contract between the few zkcached that
 * write it (indexers, cache-daemon/indexer.c) and every other zkcached
 * that reads it instead of mirroring <root>/hosts (consumers,
 * cache-daemon/consumer.c). docs/scale.md argues the design; this header
 * fixes the layout, the byte format and who writes what. The codec
 * (common/core/zkindex.c) is pure so unit tests and fuzzing reach it.
 *
 * Layout (zkcached-owned; registrants never write here and need not know
 * it exists), under <root>/index/v<ZKX_FORMAT>:
 *
 *   head          the head: format, epoch, number of buckets, sequence of
 *                 the last write, the <root>/hosts pzxid the index
 *                 reflects, and a ring of the latest changes (below);
 *                 written at most ZKX_HEAD_TARGET bytes (readers accept
 *                 up to ZKX_HEAD_MAX). Consumers watch only this.
 *   b<i>          bucket i (0 <= i < nbuckets): the records whose folded
 *                 name hashes to i (zkx_bucket_of), one line each.
 *   indexer-<k>   election slots (0 <= k < the config's `indexers`):
 *                 ephemeral, data = the holder's host name or pid; the
 *                 holder of any slot is an indexer.
 *
 * Writers: only indexers, only in one multi that also sets the head with
 * compare-and-set on the head's version and on every bucket's version
 * (or creates a bucket that must not exist). An indexer writes a bucket
 * entry only from a clean read (docs/scale.md, "clean entries"), so two
 * indexers never undo each other and a lagging one cannot resurrect a
 * deletion. With auth_file set, the index nodes carry an ACL that gives
 * every permission to the identity that created them and read to anyone.
 *
 * Format 1 is text, one record per line, '\n'-terminated, ASCII only:
 *
 *   entry line    <name> <czxid> <mzxid> <addr>[,<addr>...]
 *                 name as written in ZooKeeper (a valid host name, no
 *                 trailing dot); czxid/mzxid in lowercase hex without
 *                 leading zeros; 1..ZKH_MAX_ADDRS distinct addresses in
 *                 inet_ntop form, IPv4 first.
 *   bucket        "zkhosts-bucket 1 <i>\n" then entry lines, folded names
 *                 distinct and sorted (byte order of the folded name).
 *   head          "zkhosts-index 1 <epoch> <nbuckets> <seq> <pzxid>\n"
 *                 then, optionally, the recent-writes map:
 *                   "w <from> <groups>\n": for each write of sequence
 *                   from+1, from+2, ... in order, the buckets it wrote,
 *                   groups separated by ';', buckets in a group by ','
 *                   (decimal, strictly increasing, < nbuckets), "-" for
 *                   no group; at most ZKX_MAP_MAX bytes of groups (the
 *                   writer drops the oldest). The map is current only
 *                   if it has seq - from groups: a writer that does not
 *                   know it may have carried it along unchanged, and
 *                   readers then ignore it;
 *                 then ring lines, oldest first:
 *                   "g <seq> <bucket> <version> <n>\n" followed by n lines
 *                   "+ <entry line>\n" (upsert) or "- <name>\n" (delete):
 *                   the write <seq> took bucket from version-1 to
 *                   <version> by exactly these changes;
 *                   "g <seq> <bucket> <version> *\n": same, but the
 *                   changes did not fit: read the bucket;
 *                   "s <seq> <from> <fromversion> <to> <toversion>\n":
 *                   the write <seq> split bucket <from> into <from> and
 *                   <to> (linear hashing, nbuckets grew by one).
 *                 Numbers are decimal except zxids (hex). The ring
 *                 holds whole writes only: all the lines of a <seq> or
 *                 none (writers trim with zkx_ring_trim).
 *
 * A consumer that knows bucket b at version v-1 applies a "g" group of
 * version v. When its last seq is older than the ring's oldest but not
 * than the map's <from>, it compares the versions (exists) of only the
 * buckets the map lists after its seq and reads those that changed;
 * otherwise every bucket's. A head of a format or shape it does not know is refused:
 * the consumer keeps serving its last snapshot and says why in status.
 */
#ifndef ZKHOSTS_ZKINDEX_H
#define ZKHOSTS_ZKINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkhosts/snapshot.h"

#define ZKX_FORMAT 1u
/* Index directory under <root>; the format is in the path so an index of
 * another format can live beside this one during an upgrade. */
#define ZKX_DIR "/index/v1"
#define ZKX_HEAD_NAME "head"
#define ZKX_HEAD_MAGIC "zkhosts-index"
#define ZKX_BUCKET_MAGIC "zkhosts-bucket"

/* A head is never larger than this (readers refuse more). */
#define ZKX_HEAD_MAX 4096
/* Writers trim the ring so the head stays below this: every consumer
 * reads the whole head on every change, so it is the per-change cost of
 * a consumer; a consumer that falls more than the ring behind compares
 * bucket versions instead. */
#define ZKX_HEAD_TARGET 2000
/* Buckets split (linear hashing) when the index holds more than this
 * many records per bucket on average. */
#define ZKX_BUCKET_TARGET 64
/* A bucket is never larger than this (the writer refuses a write that
 * would make it so; names are short, so 64 records use ~4 KB). */
#define ZKX_BUCKET_MAX (256 * 1024)
#define ZKX_MAX_BUCKETS 1048576u
/* The recent-writes map holds at most this many bytes of groups: with
 * one bucket a write, about the last 90 writes at 10,000 records (the
 * ring, in the rest of the head, holds the last 20 or so). */
#define ZKX_MAP_MAX 384
/* Longest entry line: name, two 16-digit zxids, 32 IPv6 addresses. */
#define ZKX_LINE_MAX (ZKH_NAME_MAX + 2 * 17 + ZKH_MAX_ADDRS * 40 + 4)

/* One record of the index, decoded. */
struct zkx_entry {
	char name[ZKH_NAME_MAX + 1];	/* as written, NUL-terminated */
	char key[ZKH_NAME_MAX + 1];	/* folded (lowercase) */
	size_t name_len;
	uint64_t czxid, mzxid;
	size_t naddrs;
	struct zkh_addr addrs[ZKH_MAX_ADDRS];
};

/* The head's first line. */
struct zkx_head {
	unsigned format;	/* ZKX_FORMAT */
	uint64_t epoch;		/* changes when the index is rebuilt */
	unsigned nbuckets;	/* 1..ZKX_MAX_BUCKETS */
	uint64_t seq;		/* sequence of the last write, 0: none yet */
	uint64_t pzxid;		/* <root>/hosts pzxid reflected */
	/* the recent-writes map ("w" line); has_map false: none */
	bool has_map;
	uint64_t map_from;	/* the groups are of writes from+1 ... */
	uint64_t map_groups;	/* ... from+map_groups */
	size_t map_len;
	char map[ZKX_MAP_MAX + 1];	/* the groups as written, NUL-terminated */
};

/* One line of the ring. */
enum zkx_ring_kind { ZKX_R_GROUP, ZKX_R_SPLIT, ZKX_R_UPSERT, ZKX_R_DELETE };

struct zkx_ring_rec {
	enum zkx_ring_kind kind;
	uint64_t seq;			/* GROUP, SPLIT */
	unsigned bucket, to_bucket;	/* GROUP: bucket; SPLIT: from, to */
	int32_t version, to_version;	/* versions after the write */
	int nentries;			/* GROUP: lines that follow, -1: '*' */
	struct zkx_entry entry;		/* UPSERT (all), DELETE (name, key) */
};

/* Hash of a folded name (FNV-1a, 32 bits). Pure. */
uint32_t zkx_hash(const char *key, size_t len);

/* Bucket of hash h among nbuckets (>= 1) buckets, linear hashing: with
 * L = floor(log2 nbuckets), h mod 2^(L+1) if that is < nbuckets, else
 * h mod 2^L. Growing from n to n+1 buckets moves records only from
 * bucket zkx_split_source(n) to bucket n. Pure. */
unsigned zkx_bucket_of(uint32_t h, unsigned nbuckets);
/* The bucket split when nbuckets (>= 1) grows to nbuckets+1. Pure. */
unsigned zkx_split_source(unsigned nbuckets);

/*
 * Fill e from a record: name as written (`name_len` bytes, valid host
 * name, an optional trailing dot dropped), zxids and 1..ZKH_MAX_ADDRS
 * addresses (sorted IPv4 first, duplicates refused). 0 or -EINVAL. Pure.
 */
int zkx_entry_make(struct zkx_entry *e, const char *name, size_t name_len,
		   uint64_t czxid, uint64_t mzxid, const struct zkh_addr *addrs,
		   size_t naddrs);

/* Format e as an entry line (no '\n') into out. Returns the length, or
 * -ENOSPC if cap is too small (ZKX_LINE_MAX + 1 always suffices). Pure. */
int zkx_entry_format(const struct zkx_entry *e, char *out, size_t cap);

/* Parse one untrusted entry line of len bytes (no '\n'). 0 or -EINVAL
 * (anything but the one canonical form). Pure. */
int zkx_entry_parse(const char *line, size_t len, struct zkx_entry *e);

/* Format the bucket header line (with its '\n'). Length or -ENOSPC. */
int zkx_bucket_header(unsigned index, char *out, size_t cap);

/*
 * Parse an untrusted bucket: the header must name `index`; each entry
 * line is handed to each(e, line, line_len, arg) in order (a non-zero
 * return stops the walk and is returned). Names must be distinct and
 * sorted by folded name, and each must belong to `index` among
 * `nbuckets` buckets. Returns 0, -EINVAL if malformed, or each's value.
 * `e` is scratch owned by the caller. Pure.
 */
int zkx_bucket_parse(const char *buf, size_t len, unsigned index,
		     unsigned nbuckets, struct zkx_entry *e,
		     int (*each)(const struct zkx_entry *e, const char *line,
				 size_t line_len, void *arg),
		     void *arg);

/* Format the head's first line and, if h->has_map, its map line (each
 * with '\n'). Length or -ENOSPC (ZKX_HEAD_HDR_MAX always suffices). */
#define ZKX_HEAD_HDR_MAX (128 + ZKX_MAP_MAX + 32)
int zkx_head_format(const struct zkx_head *h, char *out, size_t cap);

/*
 * Parse an untrusted head's first line and its map line if there is one
 * (h->has_map says). *body gets the offset of the ring. 0; -EPROTO if
 * the magic is right but the format is not ZKX_FORMAT (a newer index:
 * refuse, keep serving); -EINVAL otherwise (a malformed map included).
 */
int zkx_head_parse(const char *buf, size_t len, struct zkx_head *h,
		   size_t *body);

/*
 * Writers: start the map's group for w, a head about to be written as
 * the write after sequence prev_seq (w->seq set to it): begin an empty
 * map if there is none or it is not current (from = prev_seq), drop the
 * oldest groups while the map would pass ZKX_MAP_MAX. Then add each
 * bucket the write changes with zkx_map_mark, in increasing order
 * (smaller or repeated numbers are ignored). Pure.
 */
void zkx_map_roll(struct zkx_head *w, uint64_t prev_seq);
void zkx_map_mark(struct zkx_head *w, unsigned bucket);

/*
 * Readers: true if h's map lists every bucket written after sequence
 * my_seq (the map is current and my_seq is within [from, seq]); then
 * zkx_map_written tells whether bucket was written after my_seq (always
 * true when not covered). Pure.
 */
bool zkx_map_covers(const struct zkx_head *h, uint64_t my_seq);
bool zkx_map_written(const struct zkx_head *h, uint64_t my_seq, unsigned bucket);
/* The same for every bucket at once: written[b] (b < n, caller-owned)
 * set true for each bucket listed after my_seq, others untouched.
 * 0, or -ERANGE if the map does not cover my_seq (nothing set). */
int zkx_map_since(const struct zkx_head *h, uint64_t my_seq, bool *written, size_t n);

/*
 * Trim a ring (its lines, without the head's first line) from the front
 * until it is at most `max` bytes, dropping whole writes: every group and
 * split line of the oldest sequence goes at once, so a ring never holds
 * part of a write (a consumer applies from my_seq + 1 only if the ring
 * starts at a write). The ring must be well formed. Pure.
 */
void zkx_ring_trim(char *ring, size_t *len, size_t max);

/*
 * Take the next ring line of buf[*pos..len) into r and advance *pos.
 * Returns 1 with a line, 0 at the end, -EINVAL if malformed (including
 * a group whose count does not match the lines that follow, checked by
 * the caller through r->nentries). Pure.
 */
int zkx_ring_next(const char *buf, size_t len, size_t *pos,
		  struct zkx_ring_rec *r);

#endif

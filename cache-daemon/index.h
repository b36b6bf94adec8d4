/*
 * index.h - the fleet index inside zkcached (contract of the znodes:
 * include/zkhosts/zkindex.h; design: docs/scale.md). Two roles:
 *
 *   indexer   (indexer.c) stands for an election slot; while it holds
 *             one, it turns what the mirror reports (the same stream the
 *             publisher's batch gets, through batch's tap) into bucket and
 *             head writes, one multi at a time with compare-and-set.
 *   consumer  (consumer.c) follows the head with one watch and applies
 *             its ring, or compares bucket versions and reads only what
 *             changed; it feeds the batch like the mirror would. It also
 *             checks that the index keeps up with <root>/hosts.
 *
 * dispatch.c decides which of the mirror or the consumer feeds the batch
 * (the daemon's mode) from what these report. The helpers here (ixset.c)
 * are the sorted entry sets both keep per bucket.
 *
 * Thread-safety: main loop only.
 */
#ifndef ZKD_INDEX_H
#define ZKD_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "errslot.h"
#include "evqueue.h"
#include "mirror.h"
#include "zkio.h"
#include "zkhosts/zkindex.h"

/* Config values of `indexer`. */
enum ix_mode { IX_AUTO, IX_YES, IX_NO };

/* Most buckets one multi writes (plus the head): far below jute.maxbuffer
 * with buckets of ~4 KB, and below ZKIO_MULTI_MAX. */
#define ZKD_IX_MULTI_BUCKETS 16
/* `indexer = auto` waits a random 0..this many ms before taking a free
 * slot, so a fleet that sees a slot free does not all try at once. */
#define ZKD_IX_STAND_JITTER_MS 3000
/* An indexer whose slot is not the lowest held (a standby) leaves each
 * change to the one whose slot is (the primary) this long, then reads the
 * head and writes only what is still missing: two indexers racing to
 * write every change cost the ensemble a failed multi - a transaction -
 * per change. It is also how long a stopped or dead primary can hold a
 * change back while its session lives. */
#define ZKD_IX_STANDBY_MS 1000
/* Consumers compare the head with <root>/hosts this often (+-20 %). */
#define ZKD_IX_CHECK_MS 60000
/* A head write that would only move the reflected pzxid (a delete's data
 * watch fired before its listing came back, say) waits this long for a
 * real write to carry it: every head write costs every consumer a read,
 * and the stuck check only needs the pzxid within ZKD_IX_CHECK_MS. */
#define ZKD_IX_PZXID_DELAY_MS 5000
/* A consumer reads a bucket ZooKeeper refused again after this backoff
 * (full jitter over its upper half), doubling up to the maximum. */
#define ZKD_IX_RETRY_MIN_MS 1000
#define ZKD_IX_RETRY_MAX_MS 60000

/* One entry of a bucket: folded name and the entry line (no '\n'). */
struct ix_kv {
	char *key;
	char *line;
};

/* Entries sorted by key (small: one bucket). */
struct ix_set {
	struct ix_kv *v;
	size_t n, cap;
	size_t bytes;		/* sum of line lengths + 1 each */
};

/* Find key; NULL if absent. */
struct ix_kv *ixset_get(const struct ix_set *s, const char *key);
/* Insert or replace (copies). 0 or -ENOMEM. */
int ixset_put(struct ix_set *s, const char *key, const char *line);
/* Remove key; true if it was there. */
bool ixset_del(struct ix_set *s, const char *key);
void ixset_clear(struct ix_set *s);
/* Move b's content into a (a's old content freed), b left empty. */
void ixset_take(struct ix_set *a, struct ix_set *b);
/* True if both hold the same lines. */
bool ixset_equal(const struct ix_set *a, const struct ix_set *b);
/* Parse an untrusted bucket (zkx_bucket_parse rules) into s (cleared
 * first). 0, -EINVAL or -ENOMEM. */
int ixset_load(struct ix_set *s, const char *buf, size_t len, unsigned index,
	       unsigned nbuckets);
/* Bucket text of s (header + lines), malloc'ed into *out. Length, or
 * -ENOMEM, or -EFBIG past ZKX_BUCKET_MAX. */
long ixset_render(const struct ix_set *s, unsigned index, char **out);

/* Paths of the index of <chroot><root>. */
struct ix_paths {
	char index[ZKD_PATH_CAP];	/* <root>/index */
	char dir[ZKD_PATH_CAP];		/* <root>/index/v1 */
	char head[ZKD_PATH_CAP];
	char hosts[ZKD_PATH_CAP];
};
int ix_paths_init(struct ix_paths *p, const char *root_path);	/* -ENAMETOOLONG */
/* <dir>/b<i> or <dir>/indexer-<k> into out (ZKD_PATH_CAP). */
void ix_bucket_path(const struct ix_paths *p, unsigned i, char *out);
void ix_slot_path(const struct ix_paths *p, unsigned k, char *out);
/* Bucket number of a path of this index, or -1. */
long ix_bucket_of_path(const struct ix_paths *p, const char *path);
/* Slot number of a path of this index, or -1. */
long ix_slot_of_path(const struct ix_paths *p, const char *path);

/* ---- indexer (indexer.c) ---------------------------------------------- */

enum ix_role { IXR_OFF, IXR_STANDING, IXR_INDEXER };

struct ix_vnode;	/* indexer.c: the mirror's view, by name */
struct ix_bucket;	/* indexer.c */

struct zkd_indexer {
	enum ix_mode mode;
	unsigned nslots;
	struct ix_paths p;
	char ident[128];	/* slot data: who holds it */
	enum ix_role role;
	int slot;		/* held slot, -1 */
	bool *slot_free;	/* per slot, as last seen */
	uint64_t stand_at;	/* ms: try a free slot then; 0 = not scheduled */
	bool creating;		/* a slot create in flight */
	bool became;		/* just won a slot (dispatch switches mode) */
	/* the index as last read or written */
	bool loaded;		/* head and every bucket known */
	bool head_loading;
	unsigned loading;	/* bucket reads in flight */
	unsigned verifying;	/* verification reads in flight */
	int32_t head_version;	/* -1 absent */
	struct zkx_head h;
	char ring[ZKX_HEAD_MAX];
	size_t ring_len;
	struct ix_bucket *b;
	unsigned nb;		/* buckets allocated (== h.nbuckets once loaded) */
	bool write_inflight;
	unsigned *w_buckets;	/* buckets of the write in flight */
	struct ix_set *w_sets;	/* their contents if it succeeds */
	unsigned w_n;
	bool w_split;		/* the write in flight is a split */
	struct zkx_head w_head;
	char *w_ring;
	size_t w_ring_len;
	/* the mirror's view: every record it reports, by folded name */
	struct ix_vnode **vt;
	unsigned vt_bits;	/* table of 2^vt_bits chains */
	size_t vcount;
	bool view_ready;	/* the mirror completed a full sync */
	uint64_t listing_pzxid;	/* pzxid of the mirror's last listing */
	uint64_t reflected;	/* pzxid the view reflects */
	uint64_t pzxid_due;	/* ms: write a head for the pzxid alone then */
	bool reload_wanted;	/* a request was lost with the connection */
	bool all_dirty;		/* compare every bucket (after a load) */
	/* a standby's wait before it writes (ZKD_IX_STANDBY_MS) */
	enum { SB_IDLE, SB_WAIT, SB_CHECK, SB_FRESH } sb;
	uint64_t sb_due;	/* ms: SB_WAIT ends */
	int primary_logged;	/* -1 unknown, 0 standby, 1 primary (logged) */
	/* counters (status, metrics) */
	uint64_t writes, conflicts, noops;
	bool changed;
	struct zkd_error err;	/* ZKH_ERR_INDEX */
};

struct ix_env {
	struct zkio *io;
	bool usable;
	uint64_t now;
};

/* Set up (mode and slots from the config; root_path = chroot + root;
 * ident: what the slot node holds). 0, -ENOMEM, -ENAMETOOLONG. */
int indexer_init(struct zkd_indexer *x, enum ix_mode mode, unsigned nslots,
		 const char *root_path, const char *ident);
void indexer_free(struct zkd_indexer *x);
/* New session: stand (unless `no`). */
void indexer_on_new_session(struct zkd_indexer *x, const struct ix_env *env);
void indexer_on_reconnect(struct zkd_indexer *x, const struct ix_env *env);
void indexer_on_session_end(struct zkd_indexer *x);
/* True if the event is the indexer's (then it handled it). */
bool indexer_on_event(struct zkd_indexer *x, const struct ix_env *env,
		      const struct zkd_event *e);
/* The batch's tap: the mirror upserted (addrs) or deleted (NULL) name. */
void indexer_tap(void *x, const char *name, uint64_t czxid, uint64_t mzxid,
		 const struct zkh_addr *addrs, size_t naddrs);
/* The mirror's state: a listing of <root>/hosts arrived (pzxid); the
 * mirror has nothing in flight (idle) and a full sync is done (synced). */
void indexer_note_listing(struct zkd_indexer *x, uint64_t pzxid);
void indexer_note_mirror(struct zkd_indexer *x, bool idle, bool synced);
/* Forget the view (the mirror restarts from nothing). */
void indexer_reset_view(struct zkd_indexer *x);
/* Write what is due; stand for a slot when due. */
void indexer_tick(struct zkd_indexer *x, const struct ix_env *env);
uint64_t indexer_deadline(const struct zkd_indexer *x);
/* Give a slot up (the daemon stops indexing). */
bool indexer_is_writer(const struct zkd_indexer *x);

/* ---- consumer (consumer.c) ----------------------------------------------- */

enum cs_state {
	CS_OFF,		/* not following the index */
	CS_NO_INDEX,	/* head absent */
	CS_FOLLOWING,	/* in step with the head */
	CS_REFUSED,	/* head of an unknown format or malformed */
};

struct cs_bucket;	/* consumer.c */

struct zkd_consumer {
	struct ix_paths p;
	unsigned fallback_max;	/* fall back to mirroring below this */
	enum cs_state state;
	bool active;		/* following (consumer mode) */
	bool head_inflight, head_again;
	bool head_failed;	/* the last head read was refused: retry at the check */
	int64_t head_czxid;	/* the index's identity with epoch */
	struct zkx_head h;	/* head as last applied */
	bool have_head;
	uint64_t my_seq;
	bool in_step;		/* caught up at least once (this mode) */
	bool resume;		/* a new session may resume from my_seq */
	struct cs_bucket *b;
	unsigned nb;
	unsigned pending;	/* exists + reads in flight */
	bool round;		/* a compare round runs */
	bool first_round_done;	/* the batch holds the index: sweep done */
	bool want_sweep;	/* dispatch: sweep now */
	/* what the consumer asks dispatch for */
	bool want_fallback;	/* no usable index and the directory is small */
	bool waiting;		/* no usable index, directory too big: wait */
	int64_t hosts_children;	/* from the last exists(<root>/hosts), -1 */
	uint64_t hosts_pzxid;
	uint64_t check_at;	/* ms: next stuck check */
	uint64_t retry_at;	/* ms: read refused buckets again (0: none) */
	unsigned retry_ms;	/* their backoff, 0 after a success */
	uint64_t suspect_pzxid;	/* hosts pzxid the index must reach */
	bool stale;
	uint64_t seed;		/* jitter */
	/* counters */
	uint64_t head_reads, bucket_reads, exists_reads, ring_applied;
	uint64_t map_rounds;	/* compare rounds narrowed by the head's map */
	bool changed;
	struct zkd_error err;	/* ZKH_ERR_INDEX (shared slot with indexer: its own) */
};

struct cs_env {
	struct zkio *io;
	struct zkd_batch *batch;
	bool usable;
	uint64_t now;
	bool writer;		/* this daemon is an indexer */
};

int consumer_init(struct zkd_consumer *c, const char *root_path,
		  unsigned fallback_max, uint64_t seed);
void consumer_free(struct zkd_consumer *c);
/* Start following (new session, mode switch): head + bucket compare. */
void consumer_start(struct zkd_consumer *c, const struct cs_env *env);
/* Stop following (the mirror feeds the batch now). Keeps watching the
 * head only to learn that an index appeared. */
void consumer_stop(struct zkd_consumer *c);
void consumer_on_reconnect(struct zkd_consumer *c, const struct cs_env *env);
void consumer_on_session_end(struct zkd_consumer *c);
/* True if the event is the consumer's (then it handled it). */
bool consumer_on_event(struct zkd_consumer *c, const struct cs_env *env,
		       const struct zkd_event *e);
void consumer_tick(struct zkd_consumer *c, const struct cs_env *env);
uint64_t consumer_deadline(const struct zkd_consumer *c);
/* batch_sweep's predicate: true if the consumer holds name. */
bool consumer_keeps(const char *name, void *consumer);

#endif

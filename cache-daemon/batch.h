/*
 * batch.h - the publisher's batch (batch.c): changes from the mirror wait
 * here, are applied to the master environment in one transaction and
 * published as a new snapshot at most once per publish_delay ms (once per
 * ZKD_SYNC_PUBLISH_MS while a full sync runs). It also sweeps, at the end
 * of a full sync, the records ZooKeeper no longer has, and enforces the
 * snapshot budget (max_records). It owns the publish and budget error
 * slots. Queuing never touches the publisher (so it is safe inside
 * zkh_pub_foreach); only batch_tick, batch_apply_now and batch_sweep do.
 *
 * Thread-safety: main loop only.
 */
#ifndef ZKD_BATCH_H
#define ZKD_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errslot.h"
#include "zkhosts/names.h"
#include "zkhosts/publish.h"

/* While a full sync runs, publish progress at most this often. */
#define ZKD_SYNC_PUBLISH_MS 1000
/* Apply pending changes to the master once this many are queued. */
#define ZKD_BATCH_APPLY 2048
/* Idle this long after a publish, the daemon gives memory back: the
 * master map's touched pages and the allocator's free ones. */
#define ZKD_TRIM_IDLE_MS 3000
/* After a failed apply or publish, try again this much later. */
#define ZKD_PUBLISH_RETRY_MS 1000

struct zkd_pending;		/* batch.c */

struct zkd_batch {
	struct zkd_pending *items;
	size_t n, cap;
	uint64_t publish_delay;	/* ms, from the config */
	uint64_t max_records;	/* budget, from the config */
	bool syncing;		/* a full sync runs: ZKD_SYNC_PUBLISH_MS */
	uint64_t publish_at;	/* ms; 0 = nothing waiting */
	uint64_t trim_at;	/* ms; 0 = nothing to give back */
	uint64_t last_publish;	/* ms of the last publish; 0 = none yet */
	bool force_publish;	/* publish even without changes */
	bool apply_failed;
	bool over_budget;	/* master holds more than max_records */
	uint64_t publishes;
	uint64_t publish_failures;	/* failed publishes since the last success */
	uint64_t last_publish_us;	/* realtime of the last publish, 0 none */
	bool changed;		/* published or an error changed (status) */
	struct zkd_error publish_err;	/* ZKH_ERR_PUBLISH */
	struct zkd_error budget_err;	/* ZKH_ERR_BUDGET */
	/* Optional observer of every queued change (the fleet indexer's view,
	 * index.h): called by batch_upsert (addrs) and batch_delete (NULL)
	 * with the mzxid given by batch_note_mzxid (else the czxid). */
	void (*tap)(void *arg, const char *name, uint64_t czxid, uint64_t mzxid,
		    const struct zkh_addr *addrs, size_t naddrs);
	void *tap_arg;
	uint64_t tap_mzxid;
};

void batch_init(struct zkd_batch *b, uint64_t publish_delay_ms,
		uint64_t max_records);
void batch_free(struct zkd_batch *b);
/* Queue a change at `now` (ms). 0 or -ENOMEM. */
int batch_upsert(struct zkd_batch *b, const char *name, uint64_t czxid,
		 const struct zkh_addr *addrs, size_t naddrs, uint64_t now);
int batch_delete(struct zkd_batch *b, const char *name, uint64_t now);
/* The mzxid of the read behind the next batch_upsert (for the tap). */
void batch_note_mzxid(struct zkd_batch *b, uint64_t mzxid);
/* A full sync starts (true) or ends (false): the publish pace. */
void batch_set_syncing(struct zkd_batch *b, bool syncing);
/* Ask for a publish even with no change (e.g. after a full sync). */
void batch_request_publish(struct zkd_batch *b, uint64_t now);
/* Apply pending changes to the master now (no publish). 0 or -errno. */
int batch_apply_now(struct zkd_batch *b, struct zkh_publisher *pub,
		    uint64_t now);
/*
 * End of a full sync: apply what is pending, then queue a delete for
 * every record of the master for which keep(name, arg) is false.
 * *vanished gets the number queued. 0 or -errno.
 */
int batch_sweep(struct zkd_batch *b, struct zkh_publisher *pub,
		bool (*keep)(const char *name, void *arg), void *arg,
		uint64_t now, size_t *vanished);
/* Apply and publish what is due; `final`: everything, now. `flags` are
 * the snapshot's ZKH_META_* flags, `last_sync_us` its sync time. */
void batch_tick(struct zkd_batch *b, struct zkh_publisher *pub, uint64_t now,
		bool final, uint32_t flags, uint64_t last_sync_us);
/* Next time batch_tick has work (ms), 0 if none. */
uint64_t batch_deadline(const struct zkd_batch *b);

#endif

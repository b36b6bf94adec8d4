/*
 * selfheal.h - zkcached noticing that what it published is no longer
 * there: an inotify watch on the cache directory (and on its parent, for
 * the directory itself being removed, renamed or replaced), a check after
 * every publish, and a slow periodic check as a backstop for what inotify
 * cannot see (a volume mounted over the directory). What the check finds
 * (zkh_pub_check) is rebuilt by a publish requested at once; a status file
 * that is missing or not ours is rewritten. A cache directory that is
 * gone and cannot be created again (its parent not writable to us, as
 * under the packaged unit, where /var/cache is read-only to zkcached) ends
 * the daemon after ZKD_SELFHEAL_LOST_DIR_TRIES failed rebuilds in a row
 * with ZKD_EXIT_CACHE_LOST, so that the service manager restarts it (and
 * systemd's CacheDirectory= recreates the directory). State is private to
 * selfheal.c (one daemon per process); everything runs on the main loop.
 */
#ifndef ZKCACHED_SELFHEAL_H
#define ZKCACHED_SELFHEAL_H

#include <stdint.h>

struct zkd;

/* Backstop: compare the cache with what we published at least this often
 * even if inotify said nothing (mounts over the directory, a full inotify
 * queue, a watch that could not be set). */
#define ZKD_SELFHEAL_CHECK_MS 30000
/* Damage found ZKD_SELFHEAL_BURST times in a row (no intact check in
 * between) is repaired at most once per ZKD_SELFHEAL_GAP_MS from then on:
 * a filesystem whose identities never match what we wrote must not make
 * us publish in a tight loop; ordinary damage is repaired at once. */
#define ZKD_SELFHEAL_BURST 5
#define ZKD_SELFHEAL_GAP_MS 1000
/* Failed publishes in a row (one every ZKD_PUBLISH_RETRY_MS, batch.h)
 * while the cache directory does not exist before zkcached gives up and
 * exits with ZKD_EXIT_CACHE_LOST: about 10 s, room for a volume being
 * recreated by someone else. */
#define ZKD_SELFHEAL_LOST_DIR_TRIES 10
/* Exit status then: EX_TEMPFAIL. Not 0 (a failure) and not 2 (a bad
 * config: the packaged unit's RestartPreventExitStatus), so that
 * Restart=on-failure restarts zkcached. */
#define ZKD_EXIT_CACHE_LOST 75

/*
 * Start watching d->cfg.cache (d->pub open). Returns 0, or -errno if
 * inotify is unavailable (logged once; the periodic check still runs).
 */
int selfheal_init(struct zkd *d);

/* Close the inotify descriptor. Safe if selfheal_init failed or never ran. */
void selfheal_free(void);

/* The descriptor to poll for POLLIN, or -1 (poll ignores it then). */
int selfheal_fd(void);

/* POLLIN on selfheal_fd: drain the events; if one concerns a file we
 * publish, check the cache now and request a publish if it is damaged. */
void selfheal_on_events(struct zkd *d);

/* Main loop, after zkd_tick: report what a publish just rebuilt, follow
 * a recreated directory with the watches, run the periodic check. Returns
 * 0, or ZKD_EXIT_CACHE_LOST (logged) when the cache directory is gone and
 * ZKD_SELFHEAL_LOST_DIR_TRIES publishes in a row failed to create it:
 * main then stops and exits with that status. */
int selfheal_tick(struct zkd *d, uint64_t now);

/* Next periodic check (ms, monotonic); 0 before selfheal_init. */
uint64_t selfheal_deadline(void);

#endif

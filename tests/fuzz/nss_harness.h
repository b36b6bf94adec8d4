/*
 * nss_harness.h - the shared part of the snapshot fuzz targets
 * (fuzz_snapshot.c: well-formed LMDB files with hostile contents;
 * fuzz_snapshot_raw.c: arbitrary bytes as the file). Not thread-safe: one
 * fuzzing thread per process. Failures of the harness itself (no temp
 * dir, a write error) abort through FUZZ_CHECK.
 */
#ifndef ZKH_FUZZ_NSS_HARNESS_H
#define ZKH_FUZZ_NSS_HARNESS_H

#include <stddef.h>
#include <stdint.h>

/* The private cache directory (valid after nss_harness_setup). */
extern char nss_harness_dir[256];

/*
 * Once per process: a root-owned 0755 directory under $TMPDIR (or /tmp)
 * holding a config that names its 0755 "cache" subdirectory (exported as
 * ZKHOSTS_CONF) and a valid generation file there. Removed at exit.
 */
void nss_harness_setup(void);

/* Publish `size` bytes as hosts.mdb (temporary file, rename, counter
 * bump), as zkcached does. */
void nss_harness_publish(const uint8_t *data, size_t size);

/*
 * Enumerate, then resolve fixed names and addresses plus every name and
 * address the answers mention, through every entry point, checking the
 * invariants on each answer (statuses, buffer bounds, valid names,
 * forward/reverse agreement). Aborts on a violation.
 */
void nss_harness_query(void);

#endif

/*
 * fuzz_snapshot_raw.c - the whole lookup path of libnss_zk over arbitrary
 * bytes as hosts.mdb (see nss_harness.h). This reaches LMDB's own page
 * parsing, which is not hardened against hostile files: a crash inside
 * liblmdb here is expected and documented (docs/security.md), and is why
 * the module only trusts files owned by root or the daemon's user. So
 * this target is not in the default `make fuzz` run (FUZZ_ONLY picks it);
 * its corpus (real snapshots, truncations, short files) is replayed in
 * `make check` to keep the module's own size and meta checks honest.
 */
#include "fuzz.h"
#include "nss_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;

	if (!ready) {
		nss_harness_setup();
		ready = 1;
	}
	nss_harness_publish(data, size);
	nss_harness_query();
	return 0;
}

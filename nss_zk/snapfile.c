/*
 * snapfile.c - the module's hold on one snapshot: opened through the
 * shared reader (common/core/snapread.c, which does every trust and
 * validity check and knows how to release the mapping), plus the pool of
 * read transactions begun once at open and left live, so a lookup borrows
 * one with an atomic exchange instead of a system call.
 */
#include "snapfile.h"

#include <string.h>

static void pool_fill(struct zkh_snap *s)
{
	int i;

	for (i = 0; i < ZKH_TXN_POOL; i++) {
		atomic_init(&s->busy[i], 0);
		s->pool[i] = NULL;
		/* Left live (see ZKH_TXN_POOL). */
		if (mdb_txn_begin(s->r.env, NULL, MDB_RDONLY, &s->pool[i]) != 0)
			s->pool[i] = NULL;
	}
}

int zkh_snap_open(const char *dir, struct zkh_snap *s)
{
	int rc;

	memset(s, 0, sizeof(*s));
	rc = zkh_snapread_open(dir, ZKH_SR_TRUST | ZKH_SR_GENERATION, &s->r);
	if (rc < 0)
		return rc;
	pool_fill(s);
	return 0;
}

void zkh_snap_close(struct zkh_snap *s)
{
	int i;

	for (i = 0; i < ZKH_TXN_POOL; i++) {
		if (s->pool[i])
			mdb_txn_abort(s->pool[i]);
		s->pool[i] = NULL;
	}
	zkh_snapread_close(&s->r);
}

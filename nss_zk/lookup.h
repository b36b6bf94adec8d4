/*
 * lookup.h - the queries libnss_zk runs against one borrowed snapshot:
 * forward (name to record, with the snapshot's domain), reverse (address
 * to the records holding it, creation order, each checked to resolve back
 * to the address) and enumeration (records in key order, one step per
 * family). Every value read is decoded with the bounds-checked codec; one
 * that does not decode counts as absent. Also how a record is named in
 * answers (canonical name and alias). All functions are pure over the
 * view they are given, allocate nothing except an LMDB cursor, and are
 * thread-safe on distinct views.
 */
#ifndef NSS_ZK_LOOKUP_H
#define NSS_ZK_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>

#include "pack.h"
#include "snapshot.h"
#include "zkhosts/snapshot.h"

/* Records reported for one address by a reverse lookup, at most. */
#define ZKH_REV_MAX 16

/*
 * Find the record for `name` (NUL-terminated, untrusted): folded to
 * lowercase, one trailing dot dropped, and looked up as is. If the
 * snapshot has a domain and that fails, "x.<domain>" is looked up as "x",
 * and "x" as "x.<domain>" (a record stored qualified). Returns 0 with *rec
 * pointing into the snapshot, or -ENOENT (invalid name, no such record, or
 * a record that fails to decode).
 */
int zkh_lookup_name(const struct zkh_view *v, const char *name,
		    struct zkh_rec_view *rec);

/*
 * How `rec` is named in answers (as written, domain lowercase): with a
 * domain, canonical "x.<domain>" and alias "x"; a record already named
 * "x.<domain>" is not qualified twice (canonical as is, alias "x");
 * without a domain, if qualifying would exceed 253 characters, or if a
 * record "x.<domain>" exists too (it owns that name), canonical "x" and
 * no alias. Writes *canon and
 * up to one alias into alias[0]; returns the number of aliases (0 or 1).
 */
size_t zkh_rec_names(const struct zkh_view *v, const struct zkh_rec_view *rec,
		     struct zkh_pstr *canon, struct zkh_pstr *alias);

/* Result of a reverse lookup: records in creation order (lowest czxid
 * first), each containing the queried address. */
struct zkh_rev {
	struct zkh_rec_view recs[ZKH_REV_MAX];
	size_t n;
};

/*
 * Records holding address `a`. Returns 0 with out->n >= 1, -ENOENT if
 * none, -ENOMEM if no cursor could be had.
 */
int zkh_lookup_addr(const struct zkh_view *v, const struct zkh_addr *a,
		    struct zkh_rev *out);

/* True if rec holds address a. */
bool zkh_rec_has_addr(const struct zkh_rec_view *rec,
		      const struct zkh_addr *a);

/* Enumeration position: after (key, phase); phase 1 = IPv4 answered,
 * 2 = both answered. started == false: before the first record. */
struct zkh_enum_pos {
	bool started;
	int phase;
	size_t key_len;
	char key[ZKH_NAME_MAX + 1];
};

/*
 * The next (record, family) after *pos that has addresses of that family.
 * Returns 0 with *rec, *family (AF_INET or AF_INET6) and *next (the
 * position after it; *pos is not changed), -ENOENT at the end, -ENOMEM.
 * Works against any snapshot: the position is a key, re-sought each call.
 */
int zkh_enum_next(const struct zkh_view *v, const struct zkh_enum_pos *pos,
		  struct zkh_rec_view *rec, int *family,
		  struct zkh_enum_pos *next);

#endif

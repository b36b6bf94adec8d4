/*
 * ctl.h - the commands of zkhostctl, split by role: records in ZooKeeper
 * (add, rm, get, ls, export: ctl_records.c), bulk import (ctl_import.c),
 * the layout's ACLs (acl show/apply: ctl_acl.c) and the local daemon's
 * health (status: ctl_status.c), the explanation of one answer (resolve:
 * ctl_resolve.c), plus the helpers
 * they share (ctl_common.c). Each command returns an exit status (enum
 * zkc_exit) and prints its own messages, to stderr prefixed "zkhostctl: ".
 */
#ifndef ZKHOSTS_TOOLS_CTL_H
#define ZKHOSTS_TOOLS_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "zkhosts/snapshot.h"
#include "zkclient.h"

struct ctl {
	struct zkc z;		/* config loaded */
	int64_t deadline;	/* for the whole command */
	bool verbose;
	bool json;		/* ls, status: --json */
	bool dry_run;		/* import, acl apply */
	bool no_ephemeral;	/* export: leave live registrations out */
	double max_age;		/* status: seconds, 0: from the heartbeat */
	bool live;		/* status: liveness only */
};

/* One record as read back from ZooKeeper. */
struct ctl_record {
	char name[ZKH_NAME_MAX + 1];	/* the znode's name */
	struct zkh_addr addrs[ZKH_MAX_ADDRS];
	size_t naddrs;
	bool ephemeral;
	unsigned invalid;	/* tokens in the data that are not addresses */
};

int ctl_add(struct ctl *c, const char *name, char *const *addrs, int n);
int ctl_rm(struct ctl *c, const char *name);
int ctl_get(struct ctl *c, const char *name);
int ctl_ls(struct ctl *c);
int ctl_export(struct ctl *c);
int ctl_import(struct ctl *c, const char *file);
int ctl_status(struct ctl *c);
/*
 * resolve NAME|ADDRESS [--json] (ctl_resolve.c): explain the answer from
 * this host's snapshot (opened with the module's trust rules) and from
 * this process's NSS chain. 0 found in the snapshot, 1 not found, 2 bad
 * argument, 3 snapshot missing or refused, 4 other error.
 */
int ctl_resolve(struct ctl *c, const char *query);
/* acl show (apply false) / acl apply [--dry-run] (ctl_acl.c). show exits
 * 1 when some node's ACL differs from the configured one. */
int ctl_acl(struct ctl *c, bool apply);

/* ---- shared helpers (ctl_common.c) ---------------------------------------- */

/* Connect before c->deadline, saying every ZKC_PROGRESS_MS on stderr why
 * there is no session yet; 0 or an exit status (message printed). */
int ctl_connect(struct ctl *c);

/* Print "zkhostctl: <what> <path>: <why>" and return the exit status for
 * ZooKeeper code zrc. */
int ctl_zk_fail(struct ctl *c, const char *what, const char *path, int zrc);

/* Format addresses as the znode data "a, b, c". Returns 0 or -ENOSPC. */
int ctl_format_addrs(const struct zkh_addr *a, size_t n, char *out,
		     size_t cap);

/* Parse znode data into r (addresses, invalid count). */
void ctl_parse_data(const char *data, int len, struct ctl_record *r);

/*
 * Find the znode of `name`: the exact <root>/hosts/<name> if it exists,
 * else a child whose name matches case-insensitively. Fills r (name,
 * addresses, ephemeral). Returns ZOK, ZNONODE, or another ZooKeeper code.
 */
int ctl_lookup(struct ctl *c, const char *name, struct ctl_record *r);

/*
 * Read every record under <root>/hosts, sorted by folded name. *out is
 * malloc'ed (free it). Znodes whose name is not a valid host name are
 * left out and counted in *bad_names (may be NULL). Returns ZOK (an
 * absent <root>/hosts is an empty list) or a ZooKeeper code.
 */
int ctl_fetch_all(struct ctl *c, struct ctl_record **out, size_t *n,
		  size_t *bad_names);

/* ---- JSON output (ctl_json.c, jansson) ------------------------------------ */

/*
 * A new JSON string holding s, whatever bytes s holds: well-formed UTF-8
 * is kept, each byte of an ill-formed sequence becomes U+FFFD. Returns a
 * new reference, NULL only when out of memory. Thread-safe.
 */
json_t *ctl_json_str(const char *s);

/* Seconds rounded to the millisecond, or JSON null when s < 0 ("never").
 * New reference; NULL when out of memory. */
json_t *ctl_json_seconds(double s);

/*
 * Write doc (reference stolen; NULL means out of memory) to f, indented by
 * two spaces, then a newline. Returns 0, -ENOMEM (doc NULL) or -EIO.
 */
int ctl_json_print(FILE *f, json_t *doc);

#endif

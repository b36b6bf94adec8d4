/*
 * ctl_acl.c - `zkhostctl acl show` and `zkhostctl acl apply [--dry-run]`:
 * compare, and on request set, the ZooKeeper ACL of an existing layout
 * (<root>, <root>/hosts, <root>/boot and every child of the last two)
 * against the ACL this config creates nodes with (zkc->acl: `acl`, else
 * derived from auth_file, else open). Nothing else ever changes the ACL
 * of a node that exists: the daemon and the other commands only give new
 * nodes theirs. Parents go before their children, so with an ACL that is
 * READ for others the layout is closed to them from the top first. A
 * node that vanishes meanwhile (a registration whose host stopped) is
 * skipped; a node whose ACL changed between our read and our write
 * (ZBADVERSION) is reported, not overwritten. Contract: ctl.h.
 */
#include <stdlib.h>
#include <string.h>

#include "zkhosts/zkacl.h"
#include "zkhosts/zkconn.h"
#include "ctl.h"

struct acl_run {
	struct ctl *c;
	bool apply;		/* apply (else show) */
	size_t same, differ, changed, gone, failed;
	int exit;		/* worst failure's exit status */
	char want[ZKH_ACL_TEXT_MAX];
};

/* One node: compare, and set when applying. */
static void one(struct acl_run *r, const char *path)
{
	struct ctl *c = r->c;
	struct zkh_acl have;
	struct Stat st;
	char txt[ZKH_ACL_TEXT_MAX];
	int rc;

	rc = zkc_get_acl(&c->z, path, &have, &st, c->deadline);
	if (rc == ZNONODE) {
		r->gone++;
		if (!r->apply || c->verbose)
			printf("absent   %s\n", path);
		return;
	}
	if (rc != ZOK) {
		r->failed++;
		r->exit = ctl_zk_fail(c, "reading the ACL of", path, rc);
		return;
	}
	zkh_zk_acl_format(&have, txt, sizeof(txt));
	if (zkh_zk_acl_equal(&have, &c->z.acl)) {
		r->same++;
		if (!r->apply || c->verbose)
			printf("ok       %s  %s\n", path, txt);
		return;
	}
	r->differ++;
	if (!r->apply) {
		printf("differs  %s  %s\n", path, txt);
		return;
	}
	if (c->dry_run) {
		printf("would set %s  %s -> %s\n", path, txt, r->want);
		return;
	}
	rc = zkc_set_acl(&c->z, path, st.aversion, &c->z.acl, c->deadline);
	if (rc == ZNONODE) {
		r->gone++;
		return;
	}
	if (rc != ZOK) {
		r->failed++;
		if (rc == ZBADVERSION)
			fprintf(stderr, "zkhostctl: setting the ACL of %s: changed "
				"by someone else meanwhile; left alone (run again)\n",
				path);
		else if (rc == ZNOAUTH)
			fprintf(stderr, "zkhostctl: setting the ACL of %s: not "
				"authorised (it takes ADMIN on the node itself; "
				"its ACL is %s)\n", path, txt);
		if (rc == ZBADVERSION || rc == ZNOAUTH)
			r->exit = ZKC_EXIT_ZK;
		else
			r->exit = ctl_zk_fail(c, "setting the ACL of", path, rc);
		return;
	}
	r->changed++;
	printf("set %s  %s -> %s\n", path, txt, r->want);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A folder and every child of it. */
static void tree(struct acl_run *r, const char *dir)
{
	struct ctl *c = r->c;
	struct String_vector kids;
	char path[ZKH_PATH_MAX];
	size_t before = r->gone;
	int rc;

	one(r, dir);
	if (r->gone != before)
		return;	/* absent: no children either */
	rc = zkc_children(&c->z, dir, &kids, c->deadline);
	if (rc == ZNONODE)
		return;
	if (rc != ZOK) {
		r->failed++;
		r->exit = ctl_zk_fail(c, "listing", dir, rc);
		return;
	}
	/* sorted, so the output is stable */
	if (kids.count > 0)
		qsort(kids.data, (size_t)kids.count, sizeof(char *), cmp_str);
	for (int32_t i = 0; i < kids.count; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
				     kids.data[i]) >= sizeof(path))
			continue;
		one(r, path);
	}
	deallocate_String_vector(&kids);
}

int ctl_acl(struct ctl *c, bool apply)
{
	struct acl_run r = { .c = c, .apply = apply };
	char hosts[ZKH_PATH_MAX], boot[ZKH_PATH_MAX];
	int rc;

	if ((rc = ctl_connect(c)))
		return rc;
	zkh_zk_acl_format(&c->z.acl, r.want, sizeof(r.want));
	if (!apply)
		printf("configured %s\n", r.want);
	if (zkh_zk_acl_is_open(&c->z.acl))
		fprintf(stderr, "zkhostctl: note: the configured ACL lets anyone "
			"change or delete records (set auth_file or acl; see "
			"zkhosts.conf(5))\n");
	zkh_zk_hosts_path(&c->z.cfg, hosts, sizeof(hosts));
	zkh_zk_boot_path(&c->z.cfg, boot, sizeof(boot));
	one(&r, c->z.cfg.root);
	tree(&r, hosts);
	tree(&r, boot);
	if (apply)
		printf("%s: %zu %s, %zu already right%s", c->dry_run ?
		       "dry run" : "applied", c->dry_run ? r.differ : r.changed,
		       c->dry_run ? "to change" : "changed", r.same,
		       r.failed ? "" : "\n");
	else
		printf("%zu right, %zu differ%s", r.same, r.differ,
		       r.failed ? "" : "\n");
	if (r.failed)
		printf(", %zu failed\n", r.failed);
	if (r.failed)
		return r.exit;
	return !apply && r.differ ? ZKC_EXIT_FALSE : ZKC_EXIT_OK;
}

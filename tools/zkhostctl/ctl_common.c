/*
 * ctl_common.c - helpers the zkhostctl commands share: connecting with
 * the command's deadline, explaining ZooKeeper errors, formatting and
 * parsing the address list a <root>/hosts/<name> znode holds, finding a
 * record's znode case-insensitively and reading every record.
 * Contract: ctl.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "zkhosts/names.h"
#include "zkhosts/zkconn.h"
#include "ctl.h"

#define DATA_MAX 8192

static void progress_line(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "zkhostctl: still trying: %s\n", msg);
}

int ctl_connect(struct ctl *c)
{
	int rc;

	c->z.progress = progress_line;
	rc = zkc_connect(&c->z, c->deadline);

	if (rc == 0)
		return ZKC_EXIT_OK;
	fprintf(stderr, "zkhostctl: %s\n", c->z.err);
	if (rc == -EINVAL)
		return ZKC_EXIT_USAGE;
	if (rc == -ETIMEDOUT || rc == -EHOSTUNREACH || rc == -EACCES ||
	    rc == -ECONNREFUSED)
		return ZKC_EXIT_ZK;
	return ZKC_EXIT_OTHER;
}

int ctl_zk_fail(struct ctl *c, const char *what, const char *path, int zrc)
{
	fprintf(stderr, "zkhostctl: %s\n",
		zkc_explain(&c->z, what, path, zrc));
	return zrc == ZSYSTEMERROR ? ZKC_EXIT_OTHER : ZKC_EXIT_ZK;
}

int ctl_format_addrs(const struct zkh_addr *a, size_t n, char *out,
		     size_t cap)
{
	size_t pos = 0;

	if (cap == 0)
		return -ENOSPC;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char buf[64];
		size_t len;

		zkh_addr_format(&a[i], buf, sizeof(buf));
		len = strlen(buf);
		if (pos + len + 3 > cap)
			return -ENOSPC;
		if (i) {
			memcpy(out + pos, ", ", 2);
			pos += 2;
		}
		memcpy(out + pos, buf, len + 1);
		pos += len;
	}
	return 0;
}

void ctl_parse_data(const char *data, int len, struct ctl_record *r)
{
	struct zkh_addrlist_report rep;

	memset(&rep, 0, sizeof(rep));
	r->naddrs = len > 0 ? zkh_addrlist_parse(data, (size_t)len, r->addrs,
						 ZKH_MAX_ADDRS, &rep) : 0;
	r->invalid = rep.invalid;
}

/* Read <root>/hosts/<znode> into r. */
static int read_record(struct ctl *c, const char *znode, struct ctl_record *r)
{
	char path[ZKH_PATH_MAX], data[DATA_MAX];
	struct Stat st;
	int len = sizeof(data), rc;

	memset(r, 0, sizeof(*r));
	if (zkh_zk_host_path(&c->z.cfg, znode, path, sizeof(path)) < 0)
		return ZBADARGUMENTS;
	rc = zkc_get(&c->z, path, false, data, &len, &st, c->deadline);
	if (rc != ZOK)
		return rc;
	snprintf(r->name, sizeof(r->name), "%s", znode);
	r->ephemeral = st.ephemeralOwner != 0;
	ctl_parse_data(data, len, r);
	return ZOK;
}

int ctl_lookup(struct ctl *c, const char *name, struct ctl_record *r)
{
	char folded[ZKH_NAME_MAX + 1], other[ZKH_NAME_MAX + 1];
	char hosts[ZKH_PATH_MAX];
	struct String_vector kids;
	int rc;

	rc = read_record(c, name, r);
	if (rc != ZNONODE)
		return rc;
	/* Names match case-insensitively: look for another spelling. */
	if (zkh_name_fold(name, strlen(name), folded) < 0)
		return ZNONODE;
	zkh_zk_hosts_path(&c->z.cfg, hosts, sizeof(hosts));
	rc = zkc_children(&c->z, hosts, &kids, c->deadline);
	if (rc != ZOK)
		return rc;
	rc = ZNONODE;
	for (int i = 0; i < kids.count; i++) {
		if (zkh_name_fold(kids.data[i], strlen(kids.data[i]),
				  other) < 0 || strcmp(other, folded))
			continue;
		rc = read_record(c, kids.data[i], r);
		break;
	}
	deallocate_String_vector(&kids);
	return rc;
}

struct sortable {
	char folded[ZKH_NAME_MAX + 1];
	size_t index;
};

static int cmp_sortable(const void *a, const void *b)
{
	const struct sortable *x = a, *y = b;
	int d = strcmp(x->folded, y->folded);

	return d ? d : (x->index > y->index) - (x->index < y->index);
}

int ctl_fetch_all(struct ctl *c, struct ctl_record **out, size_t *n,
		  size_t *bad_names)
{
	char hosts[ZKH_PATH_MAX];
	struct String_vector kids;
	struct sortable *order = NULL;
	struct ctl_record *recs = NULL;
	size_t m = 0, bad = 0;
	int rc;

	*out = NULL;
	*n = 0;
	zkh_zk_hosts_path(&c->z.cfg, hosts, sizeof(hosts));
	rc = zkc_children(&c->z, hosts, &kids, c->deadline);
	if (rc == ZNONODE)
		return ZOK;
	if (rc != ZOK)
		return rc;
	order = calloc((size_t)kids.count + 1, sizeof(*order));
	recs = calloc((size_t)kids.count + 1, sizeof(*recs));
	if (!order || !recs) {
		rc = ZSYSTEMERROR;
		goto fail;
	}
	for (int i = 0; i < kids.count; i++) {
		const char *k = kids.data[i];

		if (zkh_name_fold(k, strlen(k), order[m].folded) < 0) {
			bad++;
			continue;
		}
		rc = read_record(c, k, &recs[m]);
		if (rc == ZNONODE)	/* deleted meanwhile */
			continue;
		if (rc != ZOK)
			goto fail;
		order[m].index = m;
		m++;
	}
	qsort(order, m, sizeof(*order), cmp_sortable);
	*out = malloc((m + 1) * sizeof(**out));
	if (!*out) {
		rc = ZSYSTEMERROR;
		goto fail;
	}
	for (size_t i = 0; i < m; i++)
		(*out)[i] = recs[order[i].index];
	*n = m;
	if (bad_names)
		*bad_names = bad;
	rc = ZOK;
fail:
	free(recs);
	free(order);
	deallocate_String_vector(&kids);
	return rc;
}

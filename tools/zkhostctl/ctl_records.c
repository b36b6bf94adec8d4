/*
 * ctl_records.c - zkhostctl's record commands on <root>/hosts: add (a
 * persistent record, validated before anything is written; an existing
 * record of the same name, in any case, is overwritten), rm, get (which
 * finds a name as the NSS module does, `domain` included), ls
 * (text or JSON) and export (hosts-file lines, one per address, so that
 * `import` reads every address of every name back unchanged and in order;
 * live, ephemeral registrations are marked by a comment, or left out with
 * --no-ephemeral).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zkhosts/names.h"
#include "zkhosts/snapread.h"
#include "zkhosts/zkconn.h"
#include "ctl.h"

static int bad_name(const char *name)
{
	const char *why = zkh_name_problem(name, strlen(name));

	if (!why)
		return 0;
	fprintf(stderr, "zkhostctl: bad host name '%s': %s\n", name, why);
	return ZKC_EXIT_USAGE;
}

/* Name as stored: as written, without a trailing dot. */
static void store_name(const char *name, char *out)
{
	size_t len = strlen(name);

	if (len > 1 && name[len - 1] == '.')
		len--;
	memcpy(out, name, len);
	out[len] = '\0';
}

/* Parse ADDR arguments (each may hold several, comma separated). */
static int parse_addr_args(char *const *args, int n, struct zkh_addr *out,
			   size_t *nout)
{
	*nout = 0;
	for (int i = 0; i < n; i++) {
		const char *p = args[i];

		while (*p) {
			size_t len = strcspn(p, ", \t");
			struct zkh_addr a;
			bool dup = false;

			if (len == 0) {
				p++;
				continue;
			}
			if (zkh_addr_parse(p, len, &a) < 0) {
				fprintf(stderr, "zkhostctl: bad address "
					"'%.*s': not an IPv4 or IPv6 "
					"address\n", (int)len, p);
				return ZKC_EXIT_USAGE;
			}
			for (size_t k = 0; k < *nout && !dup; k++)
				dup = out[k].family == a.family &&
				      !memcmp(out[k].bytes, a.bytes,
					      zkh_addr_len(a.family));
			if (!dup) {
				if (*nout == ZKH_MAX_ADDRS) {
					fprintf(stderr, "zkhostctl: more than "
						"%d addresses for one name\n",
						ZKH_MAX_ADDRS);
					return ZKC_EXIT_USAGE;
				}
				out[(*nout)++] = a;
			}
			p += len;
		}
	}
	if (*nout == 0) {
		fprintf(stderr, "zkhostctl: no address given\n");
		return ZKC_EXIT_USAGE;
	}
	return 0;
}

int ctl_add(struct ctl *c, const char *name, char *const *args, int n)
{
	struct zkh_addr addrs[ZKH_MAX_ADDRS];
	char data[ZKH_MAX_ADDRS * 48], path[ZKH_PATH_MAX], hosts[ZKH_PATH_MAX];
	char stored[ZKH_NAME_MAX + 1];
	struct ctl_record old;
	size_t naddrs;
	int rc;

	if ((rc = bad_name(name)) || (rc = parse_addr_args(args, n, addrs,
							     &naddrs)))
		return rc;
	ctl_format_addrs(addrs, naddrs, data, sizeof(data));
	store_name(name, stored);
	if ((rc = ctl_connect(c)))
		return rc;
	rc = ctl_lookup(c, stored, &old);
	if (rc != ZOK && rc != ZNONODE)
		return ctl_zk_fail(c, "reading", stored, rc);
	if (rc == ZOK) {
		/* Same name (in any case): overwrite that znode. */
		if (old.ephemeral)
			fprintf(stderr, "zkhostctl: note: %s is a live "
				"registration (ephemeral); it keeps these "
				"addresses until its owner's session ends\n",
				old.name);
		zkh_zk_host_path(&c->z.cfg, old.name, path, sizeof(path));
		rc = zkc_set(&c->z, path, data, (int)strlen(data),
			     c->deadline);
		if (rc == ZNONODE)
			goto create;	/* deleted meanwhile */
		return rc == ZOK ? ZKC_EXIT_OK :
			ctl_zk_fail(c, "setting", path, rc);
	}
create:
	if (zkh_zk_host_path(&c->z.cfg, stored, path, sizeof(path)) < 0) {
		fprintf(stderr, "zkhostctl: path too long\n");
		return ZKC_EXIT_USAGE;
	}
	zkh_zk_hosts_path(&c->z.cfg, hosts, sizeof(hosts));
	rc = zkc_create_parents(&c->z, hosts, c->deadline);
	if (rc != ZOK)
		return ctl_zk_fail(c, "creating", hosts, rc);
	rc = zkc_create(&c->z, path, data, (int)strlen(data), c->deadline);
	if (rc == ZNODEEXISTS)	/* raced with another writer: ours wins */
		rc = zkc_set(&c->z, path, data, (int)strlen(data),
			     c->deadline);
	return rc == ZOK ? ZKC_EXIT_OK : ctl_zk_fail(c, "creating", path, rc);
}

int ctl_rm(struct ctl *c, const char *name)
{
	char path[ZKH_PATH_MAX], stored[ZKH_NAME_MAX + 1];
	struct ctl_record r;
	int rc;

	if ((rc = bad_name(name)))
		return rc;
	store_name(name, stored);
	if ((rc = ctl_connect(c)))
		return rc;
	rc = ctl_lookup(c, stored, &r);
	if (rc == ZOK) {
		zkh_zk_host_path(&c->z.cfg, r.name, path, sizeof(path));
		rc = zkc_delete(&c->z, path, c->deadline);
	}
	if (rc == ZNONODE) {
		fprintf(stderr, "zkhostctl: no record '%s'\n", name);
		return ZKC_EXIT_FALSE;
	}
	if (rc != ZOK)
		return ctl_zk_fail(c, "removing", stored, rc);
	if (r.ephemeral)
		fprintf(stderr, "zkhostctl: note: %s was a live registration; "
			"its owner may register it again\n", r.name);
	return ZKC_EXIT_OK;
}

/*
 * Find `stored` as the NSS module does: the name itself (any case), then,
 * with a `domain`, its other form by the shared lookup rule
 * (zkh_sr_alt_key: "x.<domain>" -> "x", "x" -> "x.<domain>").
 */
static int lookup_as_module(struct ctl *c, const char *stored,
			    struct ctl_record *r)
{
	char key[ZKH_NAME_MAX + 1], dsuffix[ZKH_DOMAIN_MAX + 2];
	size_t dlen = strlen(c->z.cfg.domain);
	int len, rc = ctl_lookup(c, stored, r);

	if (rc != ZNONODE || dlen == 0)
		return rc;
	len = zkh_name_fold(stored, strlen(stored), key);
	if (len < 0)
		return rc;
	dsuffix[0] = '.';
	memcpy(dsuffix + 1, c->z.cfg.domain, dlen + 1);
	len = zkh_sr_alt_key(key, (size_t)len, dsuffix, dlen + 1, key);
	return len < 0 ? rc : ctl_lookup(c, key, r);
}

int ctl_get(struct ctl *c, const char *name)
{
	char stored[ZKH_NAME_MAX + 1], buf[64];
	struct ctl_record r;
	int rc;

	if ((rc = bad_name(name)))
		return rc;
	store_name(name, stored);
	if ((rc = ctl_connect(c)))
		return rc;
	rc = lookup_as_module(c, stored, &r);
	if (rc == ZNONODE) {
		fprintf(stderr, "zkhostctl: no record '%s'\n", name);
		return ZKC_EXIT_FALSE;
	}
	if (rc != ZOK)
		return ctl_zk_fail(c, "reading", stored, rc);
	if (r.invalid)
		fprintf(stderr, "zkhostctl: note: %s holds %u token(s) that "
			"are not addresses (ignored)\n", r.name, r.invalid);
	if (r.naddrs == 0) {
		fprintf(stderr, "zkhostctl: record '%s' holds no valid "
			"address (zkcached skips it)\n", r.name);
		return ZKC_EXIT_FALSE;
	}
	for (size_t i = 0; i < r.naddrs; i++)
		printf("%s\n", zkh_addr_format(&r.addrs[i], buf, sizeof(buf)));
	return ZKC_EXIT_OK;
}

/* Fetch everything, reporting what cannot be listed. */
static int fetch(struct ctl *c, struct ctl_record **recs, size_t *n)
{
	size_t bad = 0;
	int rc;

	if ((rc = ctl_connect(c)))
		return rc;
	rc = ctl_fetch_all(c, recs, n, &bad);
	if (rc != ZOK) {
		char hosts[ZKH_PATH_MAX];

		zkh_zk_hosts_path(&c->z.cfg, hosts, sizeof(hosts));
		return ctl_zk_fail(c, "listing", hosts, rc);
	}
	if (bad)
		fprintf(stderr, "zkhostctl: note: %zu znode(s) under the hosts "
			"path are not valid host names (left out)\n", bad);
	return ZKC_EXIT_OK;
}

/* ls --json: {"name": ["addr", ...], ...} in the order of ls. */
static json_t *ls_json(const struct ctl_record *recs, size_t n)
{
	json_t *doc = json_object();
	char buf[64];

	for (size_t i = 0; doc && i < n; i++) {
		/* Names are host names (ASCII), but a key made by
		 * ctl_json_str is valid UTF-8 whatever the znode holds. */
		json_t *a = json_array(), *key = ctl_json_str(recs[i].name);

		for (size_t k = 0; a && k < recs[i].naddrs; k++)
			if (json_array_append_new(a, json_string(
				zkh_addr_format(&recs[i].addrs[k], buf,
						sizeof(buf)))) < 0) {
				json_decref(a);
				a = NULL;
			}
		if (!key) {
			json_decref(a);
			a = NULL;
		}
		if (!a || json_object_set_new(doc, json_string_value(key),
					      a) < 0) {
			json_decref(doc);
			doc = NULL;
		}
		json_decref(key);
	}
	return doc;
}

int ctl_ls(struct ctl *c)
{
	struct ctl_record *recs;
	size_t n;
	char buf[64];
	int rc;

	if ((rc = fetch(c, &recs, &n)))
		return rc;
	if (c->json) {
		rc = ctl_json_print(stdout, ls_json(recs, n));
		free(recs);
		if (rc < 0) {
			fprintf(stderr, "zkhostctl: cannot write JSON: %s\n",
				strerror(-rc));
			return ZKC_EXIT_OTHER;
		}
		return ZKC_EXIT_OK;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ctl_record *r = &recs[i];

		printf("%s\t", r->name);
		for (size_t k = 0; k < r->naddrs; k++)
			printf("%s%s", k ? "," : "",
			       zkh_addr_format(&r->addrs[k], buf, sizeof(buf)));
		printf("%s\t%s\n", r->naddrs ? "" : "-",
		       r->ephemeral ? "ephemeral" : "persistent");
	}
	free(recs);
	return ZKC_EXIT_OK;
}

int ctl_export(struct ctl *c)
{
	struct ctl_record *recs;
	size_t n, empty = 0, live = 0;
	char buf[64];
	int rc;

	if ((rc = fetch(c, &recs, &n)))
		return rc;
	printf("# zkhosts export of %s/hosts: one line per address; "
	       "`zkhostctl import` reads it back\n", c->z.cfg.root);
	for (size_t i = 0; i < n; i++) {
		const struct ctl_record *r = &recs[i];

		if (r->naddrs == 0)
			empty++;
		if (r->ephemeral && r->naddrs > 0) {
			live++;
			if (c->no_ephemeral)
				continue;
		}
		for (size_t k = 0; k < r->naddrs; k++)
			printf("%s %s%s\n", zkh_addr_format(&r->addrs[k], buf,
							     sizeof(buf)),
			       r->name, r->ephemeral ? "\t# ephemeral: live "
			       "registration" : "");
	}
	if (empty)
		fprintf(stderr, "zkhostctl: note: %zu record(s) hold no valid "
			"address (not exported)\n", empty);
	if (live)
		fprintf(stderr, "zkhostctl: note: %zu record(s) are live "
			"(ephemeral) registrations%s\n", live,
			c->no_ephemeral ? ", left out (--no-ephemeral)" :
			", marked '# ephemeral' (--no-ephemeral leaves them "
			"out; importing them makes them persistent)");
	free(recs);
	return ZKC_EXIT_OK;
}

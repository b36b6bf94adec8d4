/*
 * ctl_import.c - `zkhostctl import FILE [--dry-run]`: read a hosts file or
 * a JSON object (importers.h), report every skipped line or entry with
 * its position and reason, then write each record as a persistent
 * <root>/hosts/<name> (an existing record of the same name, in any case,
 * is overwritten; a live, ephemeral registration is left alone and
 * reported). --dry-run never connects: it prints what would be written.
 *
 * Exit: 0 everything imported; 1 some entries skipped (the rest were
 * imported); 2 unreadable file or not JSON/hosts text; 3 ZooKeeper.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zkhosts/names.h"
#include "zkhosts/zkconn.h"
#include "ctl.h"
#include "importers.h"

#define IMPORT_FILE_MAX (256u << 20)

struct report_ctx {
	const char *file;
};

static void report(void *arg, unsigned line, unsigned col, const char *why)
{
	const struct report_ctx *r = arg;

	if (col)
		fprintf(stderr, "zkhostctl: %s:%u:%u: skipped: %s\n", r->file,
			line, col, why);
	else
		fprintf(stderr, "zkhostctl: %s:%u: skipped: %s\n", r->file,
			line, why);
}

/* Read the whole file ("-" is stdin). Returns 0 or -errno. */
static int slurp(const char *file, char **out, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	int fd = strcmp(file, "-") == 0 ? 0 : open(file, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb;

			if (cap >= IMPORT_FILE_MAX) {
				rc = -EFBIG;
				goto out;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
out:
	if (fd > 0)
		close(fd);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	*len = n;
	return 0;
}

/* What happened to one record. */
enum outcome { CREATED, UPDATED, UNCHANGED, SKIPPED };

static bool same_list(const struct ctl_record *old,
		      const struct imp_record *r)
{
	if (old->naddrs != r->naddrs || old->invalid)
		return false;
	for (size_t i = 0; i < r->naddrs; i++)
		if (old->addrs[i].family != r->addrs[i].family ||
		    memcmp(old->addrs[i].bytes, r->addrs[i].bytes,
			   zkh_addr_len(r->addrs[i].family)))
			return false;
	return true;
}

/* Write one record; *out says what happened. Returns ZOK or a code. */
static int write_record(struct ctl *c, const struct imp_record *r,
			const char *existing, enum outcome *out)
{
	char path[ZKH_PATH_MAX], data[ZKH_MAX_ADDRS * 48];
	struct ctl_record old;
	int rc;

	ctl_format_addrs(r->addrs, r->naddrs, data, sizeof(data));
	if (existing) {
		rc = ctl_lookup(c, existing, &old);
		if (rc != ZOK && rc != ZNONODE)
			return rc;
		if (rc == ZOK && old.ephemeral) {
			*out = SKIPPED;
			return ZOK;
		}
		if (rc == ZOK && same_list(&old, r)) {
			*out = UNCHANGED;
			return ZOK;
		}
		if (rc == ZOK) {
			zkh_zk_host_path(&c->z.cfg, old.name, path,
					 sizeof(path));
			*out = UPDATED;
			rc = zkc_set(&c->z, path, data, (int)strlen(data),
				     c->deadline);
			if (rc != ZNONODE)
				return rc;
		}
	}
	if (zkh_zk_host_path(&c->z.cfg, r->name, path, sizeof(path)) < 0)
		return ZBADARGUMENTS;
	*out = CREATED;
	rc = zkc_create(&c->z, path, data, (int)strlen(data), c->deadline);
	if (rc == ZNODEEXISTS) {
		*out = UPDATED;
		rc = zkc_set(&c->z, path, data, (int)strlen(data),
			     c->deadline);
	}
	return rc;
}

/* Existing records (folded name -> znode name), sorted, so each imported
 * record finds its znode without a round trip of its own. */
struct existing_entry {
	char folded[ZKH_NAME_MAX + 1];
	const char *name;	/* points into the children list */
};

struct existing {
	struct existing_entry *v;
	size_t n;
};

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct existing_entry *)a)->folded,
		      ((const struct existing_entry *)b)->folded);
}

static const char *existing_find(const struct existing *e,
				 const char *folded)
{
	struct existing_entry key, *hit;

	snprintf(key.folded, sizeof(key.folded), "%s", folded);
	hit = e->n ? bsearch(&key, e->v, e->n, sizeof(*e->v), cmp_entry) :
		     NULL;
	return hit ? hit->name : NULL;
}

/* List <root>/hosts once (creating it if missing). */
static int existing_load(struct ctl *c, struct existing *e,
			 struct String_vector *kids)
{
	char hosts[ZKH_PATH_MAX];
	int rc;

	memset(e, 0, sizeof(*e));
	zkh_zk_hosts_path(&c->z.cfg, hosts, sizeof(hosts));
	rc = zkc_create_parents(&c->z, hosts, c->deadline);
	if (rc != ZOK)
		return rc;
	rc = zkc_children(&c->z, hosts, kids, c->deadline);
	if (rc != ZOK)
		return rc;
	e->v = calloc((size_t)kids->count + 1, sizeof(*e->v));
	if (!e->v)
		return ZSYSTEMERROR;
	for (int i = 0; i < kids->count; i++) {
		const char *k = kids->data[i];

		if (zkh_name_fold(k, strlen(k), e->v[e->n].folded) < 0)
			continue;
		e->v[e->n++].name = k;
	}
	qsort(e->v, e->n, sizeof(*e->v), cmp_entry);
	return ZOK;
}

static void existing_free(struct existing *e)
{
	free(e->v);
}

static void print_record(const struct imp_record *r)
{
	char data[ZKH_MAX_ADDRS * 48];

	ctl_format_addrs(r->addrs, r->naddrs, data, sizeof(data));
	printf("%s\t%s\n", r->name, data);
}

int ctl_import(struct ctl *c, const char *file)
{
	struct report_ctx rctx = { file };
	struct imp_set set = { 0 };
	struct imp_error err;
	struct existing ex = { 0 };
	struct String_vector kids = { 0, NULL };
	enum imp_format fmt;
	unsigned counts[4] = { 0, 0, 0, 0 };
	char *text = NULL;
	size_t len;
	int rc, exit_rc;

	rc = slurp(file, &text, &len);
	if (rc < 0) {
		fprintf(stderr, "zkhostctl: cannot read %s: %s\n", file,
			strerror(-rc));
		return ZKC_EXIT_USAGE;
	}
	rc = imp_parse(text, len, IMP_AUTO, &set, report, &rctx, &err, &fmt);
	if (rc == -ENOMEM) {
		fprintf(stderr, "zkhostctl: out of memory\n");
		exit_rc = ZKC_EXIT_OTHER;
		goto out;
	}
	if (rc < 0) {
		if (err.col)
			fprintf(stderr, "zkhostctl: %s:%u:%u: %s (nothing "
				"imported)\n", file, err.line, err.col,
				err.msg);
		else
			fprintf(stderr, "zkhostctl: %s:%u: %s (nothing "
				"imported)\n", file, err.line, err.msg);
		exit_rc = ZKC_EXIT_USAGE;
		goto out;
	}
	if (c->dry_run) {
		for (size_t i = 0; i < set.n; i++)
			print_record(&set.v[i]);
		fprintf(stderr, "zkhostctl: dry run: %zu record(s) from %s "
			"(%s), %u skipped; nothing written\n", set.n, file,
			fmt == IMP_JSON ? "JSON" : "hosts format", set.skipped);
		exit_rc = set.skipped ? ZKC_EXIT_FALSE : ZKC_EXIT_OK;
		goto out;
	}
	if ((exit_rc = ctl_connect(c)))
		goto out;
	rc = existing_load(c, &ex, &kids);
	if (rc != ZOK) {
		exit_rc = ctl_zk_fail(c, "listing", "the hosts path", rc);
		goto out;
	}
	for (size_t i = 0; i < set.n; i++) {
		const struct imp_record *r = &set.v[i];
		enum outcome o = SKIPPED;

		rc = write_record(c, r, existing_find(&ex, r->folded), &o);
		if (rc != ZOK) {
			exit_rc = ctl_zk_fail(c, "writing", r->name, rc);
			fprintf(stderr, "zkhostctl: stopped after %zu of %zu "
				"record(s)\n", i, set.n);
			goto out;
		}
		if (o == SKIPPED) {
			char why[ZKH_NAME_MAX + 64];

			snprintf(why, sizeof(why), "%s is a live (ephemeral) "
				 "registration: left alone", r->name);
			report(&rctx, r->line, 0, why);
			set.skipped++;
		}
		counts[o]++;
		if (c->verbose)
			fprintf(stderr, "zkhostctl: %s %s\n", r->name,
				o == CREATED ? "created" : o == UPDATED ?
				"updated" : o == UNCHANGED ? "unchanged" :
				"skipped");
	}
	fprintf(stderr, "zkhostctl: imported %u record(s) from %s (%u created,"
		" %u updated, %u unchanged); %u skipped\n",
		counts[CREATED] + counts[UPDATED] + counts[UNCHANGED], file,
		counts[CREATED], counts[UPDATED], counts[UNCHANGED],
		set.skipped);
	exit_rc = set.skipped ? ZKC_EXIT_FALSE : ZKC_EXIT_OK;
out:
	existing_free(&ex);
	deallocate_String_vector(&kids);
	imp_set_free(&set);
	free(text);
	return exit_rc;
}

/*
 * ctl_import.c - `zkhostctl import FILE [--dry-run]`: read a hosts file or
 * a JSON object (importers.h), report every skipped line or entry with
 * its position and reason, warn about loopback addresses and `localhost`
 * names (in ZooKeeper they would send every host of the cluster to
 * itself), then plan each record against what ZooKeeper holds - create,
 * update, unchanged, or refused (a live, ephemeral registration is never
 * overwritten) - and carry the plan out: a persistent <root>/hosts/<name>
 * (an existing record of the same name, in any case, is overwritten).
 * --dry-run reads ZooKeeper the same way and prints the plan, writing
 * nothing (not even the hosts path).
 *
 * Exit: 0 everything imported (or would be); 1 some entries skipped or
 * refused (the rest were imported); 2 unreadable file or not JSON/hosts
 * text; 3 ZooKeeper.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

/* What happens to one record. REFUSED: a live (ephemeral) registration
 * holds the name; the import leaves it alone. */
enum outcome { CREATED, UPDATED, UNCHANGED, REFUSED, N_OUTCOMES };

static const char *const outcome_word[N_OUTCOMES] = {
	"create", "update", "unchanged", "refused",
};

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

/*
 * Decide what to do with r, reading its current record (old->name[0] is
 * '\0' when there is none). `existing` is the znode name of the same name
 * found in the listing, or NULL. Returns ZOK or a ZooKeeper code.
 */
static int plan_record(struct ctl *c, const struct imp_record *r,
		       const char *existing, enum outcome *out,
		       struct ctl_record *old)
{
	int rc = ZNONODE;

	memset(old, 0, sizeof(*old));
	if (existing)
		rc = ctl_lookup(c, existing, old);
	if (rc != ZOK && rc != ZNONODE)
		return rc;
	if (rc == ZNONODE) {
		memset(old, 0, sizeof(*old));
		*out = CREATED;
	} else if (old->ephemeral) {
		*out = REFUSED;
	} else if (same_list(old, r)) {
		*out = UNCHANGED;
	} else {
		*out = UPDATED;
	}
	return ZOK;
}

/* Carry out a CREATED or UPDATED plan (a record that appeared or went
 * meanwhile is written anyway); *out says what was done. */
static int apply_record(struct ctl *c, const struct imp_record *r,
			const struct ctl_record *old, enum outcome *out)
{
	char path[ZKH_PATH_MAX], data[ZKH_MAX_ADDRS * 48];
	int rc;

	ctl_format_addrs(r->addrs, r->naddrs, data, sizeof(data));
	if (*out == UPDATED) {
		zkh_zk_host_path(&c->z.cfg, old->name, path, sizeof(path));
		rc = zkc_set(&c->z, path, data, (int)strlen(data),
			     c->deadline);
		if (rc != ZNONODE)
			return rc;
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

/* ---- loopback and localhost --------------------------------------------- */

static bool is_loopback(const struct zkh_addr *a)
{
	static const uint8_t v6_loop[16] = { [15] = 1 };

	if (a->family == AF_INET)
		return a->bytes[0] == 127;
	return a->family == AF_INET6 && memcmp(a->bytes, v6_loop, 16) == 0;
}

/* "localhost" or a name under it (RFC 6761); r->folded is lowercase. */
static bool is_localhost(const struct imp_record *r)
{
	size_t n = strlen(r->folded);

	return strcmp(r->folded, "localhost") == 0 ||
	       (n > 10 && strcmp(r->folded + n - 10, ".localhost") == 0);
}

/* Warn (stderr) about records that would make every host of the
 * cluster resolve a name to itself. Returns how many warnings. */
static unsigned warn_loopback(const char *file, const struct imp_set *set)
{
	unsigned n = 0;

	for (size_t i = 0; i < set->n; i++) {
		const struct imp_record *r = &set->v[i];
		char a[64];

		if (is_localhost(r)) {
			fprintf(stderr, "zkhostctl: %s:%u: warning: '%s' is "
				"each host's own name; in ZooKeeper it would "
				"name one address for the whole cluster\n",
				file, r->line, r->name);
			n++;
		}
		for (size_t k = 0; k < r->naddrs; k++) {
			if (!is_loopback(&r->addrs[k]))
				continue;
			fprintf(stderr, "zkhostctl: %s:%u: warning: %s -> %s "
				"is a loopback address: in ZooKeeper it sends "
				"every host of the cluster to itself\n", file,
				r->line, r->name,
				zkh_addr_format(&r->addrs[k], a, sizeof(a)));
			n++;
		}
	}
	return n;
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

/* List <root>/hosts once; `create`: create it if missing (else a missing
 * path is an empty listing). */
static int existing_load(struct ctl *c, struct existing *e,
			 struct String_vector *kids, bool create)
{
	char hosts[ZKH_PATH_MAX];
	int rc;

	memset(e, 0, sizeof(*e));
	zkh_zk_hosts_path(&c->z.cfg, hosts, sizeof(hosts));
	if (create) {
		rc = zkc_create_parents(&c->z, hosts, c->deadline);
		if (rc != ZOK)
			return rc;
	}
	rc = zkc_children(&c->z, hosts, kids, c->deadline);
	if (rc == ZNONODE && !create) {
		memset(kids, 0, sizeof(*kids));
		rc = ZOK;
	}
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

/* One line of the plan on stdout, tab-separated: WORD NAME ADDRS, then
 * for an update "was: OLD" and for a refusal why. A record spelled in
 * another case in ZooKeeper adds "(as NAME)". */
static void print_plan(const struct imp_record *r, enum outcome o,
		       const struct ctl_record *old)
{
	char data[ZKH_MAX_ADDRS * 48], was[ZKH_MAX_ADDRS * 48];

	ctl_format_addrs(r->addrs, r->naddrs, data, sizeof(data));
	ctl_format_addrs(old->addrs, old->naddrs, was, sizeof(was));
	printf("%s\t%s\t%s", outcome_word[o], r->name, data);
	if (o == UPDATED)
		printf("\twas: %s", old->naddrs ? was : "no valid address");
	else if (o == REFUSED)
		printf("\tlive (ephemeral) registration of %s: left alone",
		       old->naddrs ? was : "no valid address");
	if (o != CREATED && strcmp(old->name, r->name) != 0)
		printf(" (as %s)", old->name);
	putchar('\n');
}

int ctl_import(struct ctl *c, const char *file)
{
	struct report_ctx rctx = { file };
	struct imp_set set = { 0 };
	struct imp_error err;
	struct existing ex = { 0 };
	struct String_vector kids = { 0, NULL };
	enum imp_format fmt;
	unsigned counts[N_OUTCOMES] = { 0 }, warnings;
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
	warnings = warn_loopback(file, &set);
	if ((exit_rc = ctl_connect(c)))
		goto out;
	rc = existing_load(c, &ex, &kids, !c->dry_run);
	if (rc != ZOK) {
		exit_rc = ctl_zk_fail(c, "listing", "the hosts path", rc);
		goto out;
	}
	for (size_t i = 0; i < set.n; i++) {
		const struct imp_record *r = &set.v[i];
		struct ctl_record old;
		enum outcome o;

		rc = plan_record(c, r, existing_find(&ex, r->folded), &o,
				 &old);
		if (rc == ZOK && !c->dry_run && (o == CREATED || o == UPDATED))
			rc = apply_record(c, r, &old, &o);
		if (rc != ZOK) {
			exit_rc = ctl_zk_fail(c, c->dry_run ? "reading" :
					      "writing", r->name, rc);
			if (!c->dry_run)
				fprintf(stderr, "zkhostctl: stopped after %zu "
					"of %zu record(s)\n", i, set.n);
			goto out;
		}
		if (o == REFUSED) {
			char why[2 * ZKH_NAME_MAX + 64];

			snprintf(why, sizeof(why), "%s is a live (ephemeral) "
				 "registration%s%s: left alone", r->name,
				 strcmp(old.name, r->name) ? " as " : "",
				 strcmp(old.name, r->name) ? old.name : "");
			report(&rctx, r->line, 0, why);
			set.skipped++;
		}
		counts[o]++;
		if (c->dry_run)
			print_plan(r, o, &old);
		else if (c->verbose)
			fprintf(stderr, "zkhostctl: %s %s\n", r->name,
				o == CREATED ? "created" : o == UPDATED ?
				"updated" : o == UNCHANGED ? "unchanged" :
				"refused");
	}
	if (c->dry_run)
		fprintf(stderr, "zkhostctl: dry run: %zu record(s) from %s "
			"(%s): %u to create, %u to update, %u unchanged, %u "
			"refused; %u skipped, %u warning(s); nothing written\n",
			set.n, file, fmt == IMP_JSON ? "JSON" : "hosts format",
			counts[CREATED], counts[UPDATED], counts[UNCHANGED],
			counts[REFUSED], set.skipped, warnings);
	else
		fprintf(stderr, "zkhostctl: imported %u record(s) from %s (%u "
			"created, %u updated, %u unchanged); %u skipped\n",
			counts[CREATED] + counts[UPDATED] + counts[UNCHANGED],
			file, counts[CREATED], counts[UPDATED],
			counts[UNCHANGED], set.skipped);
	exit_rc = set.skipped ? ZKC_EXIT_FALSE : ZKC_EXIT_OK;
out:
	existing_free(&ex);
	deallocate_String_vector(&kids);
	imp_set_free(&set);
	free(text);
	return exit_rc;
}

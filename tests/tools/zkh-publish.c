/*
 * zkh-publish - test and demo helper: publish a zkhosts cache snapshot
 * from an /etc/hosts-format file, without ZooKeeper.
 *
 *   zkh-publish [--domain D] [--fsync] [--repeat N] [--churn NAME]
 *               CACHE_DIR HOSTS_FILE
 *
 * Each "ADDR NAME [ALIAS...]" line adds ADDR to NAME and to every alias;
 * the order in which names first appear stands in for ZooKeeper's czxid, so
 * the first name of an address is its canonical reverse answer. Names not
 * in the file are deleted from the cache. --repeat publishes N times;
 * --churn NAME gives NAME the address 10.255.0.<i % 2 + 1> on publish i, so
 * concurrent readers see it change. Exits 0, or 1 with a message.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "zkhosts/names.h"
#include "zkhosts/publish.h"

struct rec {
	char name[ZKH_NAME_MAX + 1];
	struct zkh_addr addrs[ZKH_MAX_ADDRS];
	size_t naddrs;
};

static struct rec *recs;
static size_t nrecs, caprecs;

static struct rec *find_or_add(const char *name)
{
	char want[ZKH_NAME_MAX + 1], have[ZKH_NAME_MAX + 1];
	size_t i;

	zkh_name_fold(name, strlen(name), want);
	for (i = 0; i < nrecs; i++) {
		zkh_name_fold(recs[i].name, strlen(recs[i].name), have);
		if (strcmp(want, have) == 0)
			return &recs[i];
	}
	if (nrecs == caprecs) {
		caprecs = caprecs ? caprecs * 2 : 64;
		recs = realloc(recs, caprecs * sizeof(*recs));
		if (!recs) {
			perror("realloc");
			exit(1);
		}
	}
	memset(&recs[nrecs], 0, sizeof(recs[nrecs]));
	snprintf(recs[nrecs].name, sizeof(recs[nrecs].name), "%s", name);
	return &recs[nrecs++];
}

static void add_addr(struct rec *r, const struct zkh_addr *a)
{
	size_t i, len = zkh_addr_len(a->family);

	for (i = 0; i < r->naddrs; i++)
		if (r->addrs[i].family == a->family &&
		    memcmp(r->addrs[i].bytes, a->bytes, len) == 0)
			return;
	if (r->naddrs < ZKH_MAX_ADDRS)
		r->addrs[r->naddrs++] = *a;
}

static int load(const char *file)
{
	FILE *f = fopen(file, "r");
	char line[4096], *save, *tok;
	unsigned lineno = 0;
	struct zkh_addr a;

	if (!f) {
		fprintf(stderr, "zkh-publish: %s: %s\n", file, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		line[strcspn(line, "#\n")] = '\0';
		tok = strtok_r(line, " \t", &save);
		if (!tok)
			continue;
		if (zkh_addr_parse(tok, strlen(tok), &a) < 0) {
			fprintf(stderr, "zkh-publish: %s:%u: bad address '%s'\n",
				file, lineno, tok);
			fclose(f);
			return -1;
		}
		while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
			if (!zkh_name_valid(tok, strlen(tok))) {
				fprintf(stderr, "zkh-publish: %s:%u: bad name '%s'\n",
					file, lineno, tok);
				fclose(f);
				return -1;
			}
			add_addr(find_or_add(tok), &a);
		}
	}
	fclose(f);
	return 0;
}

struct sweep {
	struct zkh_change *dels;
	size_t n, cap;
	char (*names)[ZKH_NAME_MAX + 1];
};

static int collect_stale(const char *name, size_t len, uint64_t czxid,
			 void *arg)
{
	struct sweep *s = arg;
	char want[ZKH_NAME_MAX + 1], have[ZKH_NAME_MAX + 1];
	size_t i;

	(void)czxid;
	zkh_name_fold(name, len, want);
	for (i = 0; i < nrecs; i++) {
		zkh_name_fold(recs[i].name, strlen(recs[i].name), have);
		if (strcmp(want, have) == 0)
			return 0;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->dels = realloc(s->dels, s->cap * sizeof(*s->dels));
		s->names = realloc(s->names, s->cap * sizeof(*s->names));
		if (!s->dels || !s->names)
			return -ENOMEM;
	}
	memcpy(s->names[s->n], want, strlen(want) + 1);
	s->dels[s->n] = (struct zkh_change){ .op = ZKH_DELETE };
	s->n++;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "domain", required_argument, NULL, 'd' },
		{ "fsync", no_argument, NULL, 'f' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "churn", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct zkh_pub_options po = { 0 };
	struct zkh_publisher *p = NULL;
	struct zkh_change *ch = NULL;
	struct sweep sw = { 0 };
	const char *churn = NULL;
	long repeat = 1, i;
	size_t j;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': po.domain = optarg; break;
		case 'f': po.fsync = true; break;
		case 'r': repeat = strtol(optarg, NULL, 10); break;
		case 'c': churn = optarg; break;
		default: return 2;
		}
	}
	if (argc - optind != 2 || repeat < 1) {
		fprintf(stderr, "usage: zkh-publish [--domain D] [--fsync] "
			"[--repeat N] [--churn NAME] CACHE_DIR HOSTS_FILE\n");
		return 2;
	}
	if (load(argv[optind + 1]) < 0)
		return 1;
	if (churn)
		find_or_add(churn);
	rc = zkh_pub_open(argv[optind], &po, &p);
	if (rc < 0) {
		fprintf(stderr, "zkh-publish: cannot open cache %s: %s\n",
			argv[optind], strerror(-rc));
		return 1;
	}
	rc = zkh_pub_foreach(p, collect_stale, &sw);
	for (j = 0; !rc && j < sw.n; j++) {
		sw.dels[j].name = sw.names[j];
		sw.dels[j].name_len = strlen(sw.names[j]);
	}
	if (!rc)
		rc = zkh_pub_apply(p, sw.dels, sw.n);
	ch = calloc(nrecs ? nrecs : 1, sizeof(*ch));
	for (j = 0; !rc && ch && j < nrecs; j++)
		ch[j] = (struct zkh_change){ .op = ZKH_UPSERT,
			.name = recs[j].name, .name_len = strlen(recs[j].name),
			.czxid = j + 1, .addrs = recs[j].addrs,
			.naddrs = recs[j].naddrs };
	for (i = 0; !rc && i < repeat; i++) {
		if (churn) {
			struct rec *r = find_or_add(churn);

			r->naddrs = 1;
			r->addrs[0] = (struct zkh_addr){ .family = AF_INET,
				.bytes = { 10, 255, 0, (uint8_t)(i % 2 + 1) } };
			ch[r - recs].naddrs = r->naddrs;
		}
		rc = zkh_pub_apply(p, ch, nrecs);
		if (!rc)
			rc = zkh_pub_publish(p, ZKH_META_SYNCED, 0);
	}
	if (rc)
		fprintf(stderr, "zkh-publish: publish to %s failed: %s\n",
			argv[optind], strerror(-rc));
	zkh_pub_close(p);
	free(ch);
	free(sw.dels);
	free(sw.names);
	free(recs);
	return rc ? 1 : 0;
}

/*
 * bench-mkcache.c - build a benchmark cache directory fast, from a hosts
 * file of "ADDR NAME" lines with every NAME distinct (what bench/run.py
 * generates), through the real publisher (common/publish/publish.c): upserts
 * applied in batches of 10,000, then one publish. tests/tools/zkh-publish
 * merges duplicate names with a linear search, which is fine for tests but
 * quadratic at 100k and 1M records; this tool trusts its input instead.
 * Lines that are not "ADDR NAME" with a valid host name (such as
 * "127.0.0.1 localhost", kept for the files backend) are skipped.
 *
 * Usage: bench-mkcache CACHE_DIR HOSTS_FILE [DOMAIN]
 * (DOMAIN: the snapshot's domain, as zkcached's `domain` key; zkdns's
 * benchmark serves it as its zone.)
 * Prints "records N apply_ms X publish_ms Y snapshot_bytes Z".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zkhosts/names.h"
#include "zkhosts/publish.h"

#define BATCH 10000

struct slot {
	char name[ZKH_NAME_MAX + 1];
	struct zkh_addr addr;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int flush(struct zkh_publisher *p, struct slot *s, size_t n,
		 uint64_t *czxid)
{
	static struct zkh_change ch[BATCH];
	size_t i;

	for (i = 0; i < n; i++)
		ch[i] = (struct zkh_change){ .op = ZKH_UPSERT,
			.name = s[i].name, .name_len = strlen(s[i].name),
			.czxid = ++*czxid, .addrs = &s[i].addr, .naddrs = 1 };
	return zkh_pub_apply(p, ch, n);
}

int main(int argc, char **argv)
{
	static struct slot slots[BATCH];
	struct zkh_pub_options po = { 0 };
	struct zkh_publisher *p = NULL;
	char line[1024], ad[64], nm[ZKH_NAME_MAX + 2];
	uint64_t czxid = 0, total = 0;
	double t0, t1, t2;
	size_t n = 0;
	FILE *f;
	int rc;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: bench-mkcache CACHE_DIR HOSTS_FILE [DOMAIN]\n");
		return 2;
	}
	po.domain = argc == 4 ? argv[3] : NULL;
	f = fopen(argv[2], "r");
	if (!f) {
		fprintf(stderr, "bench-mkcache: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	rc = zkh_pub_open(argv[1], &po, &p);
	if (rc < 0) {
		fprintf(stderr, "bench-mkcache: cannot open cache %s: %s\n",
			argv[1], strerror(-rc));
		fclose(f);
		return 1;
	}
	t0 = now_ms();
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %254s", ad, nm) != 2 ||
		    !zkh_name_valid(nm, strlen(nm)) || strchr(nm, '.') == NULL ||
		    zkh_addr_parse(ad, strlen(ad), &slots[n].addr) < 0)
			continue;
		memcpy(slots[n].name, nm, strlen(nm) + 1);
		total++;
		if (++n == BATCH) {
			rc = flush(p, slots, n, &czxid);
			n = 0;
		}
	}
	fclose(f);
	if (rc == 0 && n)
		rc = flush(p, slots, n, &czxid);
	t1 = now_ms();
	if (rc == 0)
		rc = zkh_pub_publish(p, ZKH_META_SYNCED, 0);
	t2 = now_ms();
	if (rc < 0) {
		fprintf(stderr, "bench-mkcache: %s: %s\n", argv[1], strerror(-rc));
		zkh_pub_close(p);
		return 1;
	}
	printf("records %llu apply_ms %.1f publish_ms %.1f snapshot_bytes %llu\n",
	       (unsigned long long)total, t1 - t0, t2 - t1,
	       (unsigned long long)zkh_pub_snapshot_size(p));
	zkh_pub_close(p);
	return 0;
}

/*
 * nss_churn - test helper: publish the stable-plus-churn cache that
 * nss_stress checks, repeatedly, through the real publisher (publish.h).
 *
 *   nss_churn CACHE_DIR PREFIX COUNT CHURN PUBLISHES
 *
 * Records PREFIX0..PREFIX<COUNT-1> get 10.1.<i/256>.<i%256> (czxid i+1);
 * CHURN gets 10.255.0.1 or 10.255.0.2, alternating on every publish.
 * PUBLISHES is the number of snapshots to publish (0: until SIGTERM).
 * Prints "published N" at the end. Exit 0, or 1 with a message.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "zkhosts/publish.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct zkh_pub_options po = { .ttl = 3 };
	struct zkh_publisher *p = NULL;
	struct zkh_change *ch;
	struct zkh_addr *addrs, churn_addr;
	char (*names)[64];
	long count, n, i, done = 0;
	int rc;

	if (argc != 6) {
		fprintf(stderr, "usage: nss_churn CACHE_DIR PREFIX COUNT "
			"CHURN PUBLISHES\n");
		return 2;
	}
	count = strtol(argv[3], NULL, 10);
	n = strtol(argv[5], NULL, 10);
	if (count < 1 || count > 65536 || n < 0) {
		fprintf(stderr, "nss_churn: bad COUNT or PUBLISHES\n");
		return 2;
	}
	signal(SIGTERM, on_term);
	ch = calloc((size_t)count + 1, sizeof(*ch));
	addrs = calloc((size_t)count, sizeof(*addrs));
	names = calloc((size_t)count, sizeof(*names));
	if (!ch || !addrs || !names) {
		fprintf(stderr, "nss_churn: out of memory\n");
		return 1;
	}
	for (i = 0; i < count; i++) {
		snprintf(names[i], sizeof(names[i]), "%s%ld", argv[2], i);
		addrs[i].family = AF_INET;
		addrs[i].bytes[0] = 10;
		addrs[i].bytes[1] = 1;
		addrs[i].bytes[2] = (uint8_t)(i / 256);
		addrs[i].bytes[3] = (uint8_t)(i % 256);
		ch[i] = (struct zkh_change){ .op = ZKH_UPSERT,
			.name = names[i], .name_len = strlen(names[i]),
			.czxid = (uint64_t)i + 1, .addrs = &addrs[i],
			.naddrs = 1 };
	}
	memset(&churn_addr, 0, sizeof(churn_addr));
	churn_addr.family = AF_INET;
	ch[count] = (struct zkh_change){ .op = ZKH_UPSERT, .name = argv[4],
		.name_len = strlen(argv[4]), .czxid = (uint64_t)count + 1,
		.addrs = &churn_addr, .naddrs = 1 };
	rc = zkh_pub_open(argv[1], &po, &p);
	if (rc < 0) {
		fprintf(stderr, "nss_churn: cannot open cache %s: %s\n",
			argv[1], strerror(-rc));
		return 1;
	}
	rc = zkh_pub_apply(p, ch, (size_t)count);
	while (rc == 0 && !stop && (n == 0 || done < n)) {
		churn_addr.bytes[0] = 10;
		churn_addr.bytes[1] = 255;
		churn_addr.bytes[3] = (uint8_t)(done % 2 + 1);
		rc = zkh_pub_apply(p, &ch[count], 1);
		if (rc == 0)
			rc = zkh_pub_publish(p, ZKH_META_SYNCED, 0);
		if (rc == 0)
			done++;
	}
	if (rc < 0)
		fprintf(stderr, "nss_churn: publish failed: %s\n",
			strerror(-rc));
	printf("published %ld\n", done);
	zkh_pub_close(p);
	free(ch);
	free(addrs);
	free(names);
	return rc < 0 ? 1 : 0;
}

/*
 * bench-poller.c - the "other process" of the propagation benchmark: it
 * watches names through real getaddrinfo and reports, with a
 * CLOCK_MONOTONIC timestamp (system-wide, so comparable with the driver's
 * time.monotonic_ns()), when each one first resolves to the address it
 * waits for. The hosts backend is chosen with __nss_configure_lookup
 * ("zk" for zkhosts, "files" for the poll-and-rewrite baseline), so no
 * nsswitch.conf is needed for zk.
 *
 * Protocol on stdin/stdout, one request at a time:
 *   driver:  "WATCH N" then N lines "NAME IPV4"
 *   poller:  "ready"
 *            then, for each name as it appears: "seen INDEX T_NS"
 *            then "done" once all N were seen (or "timeout" after -T s).
 * Between passes over the pending names it sleeps -i microseconds
 * (default 100), so the resolution is about that plus one pass, and it
 * leaves CPU to the daemon on a small machine.
 *
 * Usage: bench-poller [-s SERVICE] [-i USEC] [-T TIMEOUT_S]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

extern int __nss_configure_lookup(const char *dbname, const char *line);

struct want {
	char name[300];
	struct in_addr addr;
	int seen;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int resolves_to(const char *name, const struct in_addr *want)
{
	struct addrinfo hints, *res = NULL, *ai;
	int ok = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(name, NULL, &hints, &res) != 0)
		return 0;
	for (ai = res; ai; ai = ai->ai_next)
		if (((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr ==
		    want->s_addr)
			ok = 1;
	freeaddrinfo(res);
	return ok;
}

int main(int argc, char **argv)
{
	const char *service = "zk";
	long interval_us = 100;
	double timeout_s = 60;
	struct want *w = NULL;
	char line[512];
	int opt;

	while ((opt = getopt(argc, argv, "s:i:T:")) != -1) {
		switch (opt) {
		case 's': service = optarg; break;
		case 'i': interval_us = atol(optarg); break;
		case 'T': timeout_s = atof(optarg); break;
		default:
			fprintf(stderr, "usage: bench-poller [-s SERVICE] "
				"[-i USEC] [-T TIMEOUT_S]\n");
			return 2;
		}
	}
	if (__nss_configure_lookup("hosts", service) != 0) {
		fprintf(stderr, "bench-poller: __nss_configure_lookup(%s): %s\n",
			service, strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), stdin)) {
		long n, i, left;
		uint64_t deadline;
		struct timespec nap = { 0, interval_us * 1000 };

		if (sscanf(line, "WATCH %ld", &n) != 1 || n < 1 || n > 1000000) {
			fprintf(stderr, "bench-poller: bad request: %s", line);
			return 1;
		}
		free(w);
		w = calloc((size_t)n, sizeof(*w));
		if (!w)
			return 1;
		for (i = 0; i < n; i++) {
			char ad[64];

			if (!fgets(line, sizeof(line), stdin) ||
			    sscanf(line, "%299s %63s", w[i].name, ad) != 2 ||
			    inet_pton(AF_INET, ad, &w[i].addr) != 1) {
				fprintf(stderr, "bench-poller: bad name line\n");
				return 1;
			}
		}
		printf("ready\n");
		fflush(stdout);
		deadline = now_ns() + (uint64_t)(timeout_s * 1e9);
		left = n;
		while (left > 0) {
			for (i = 0; i < n; i++) {
				if (w[i].seen || !resolves_to(w[i].name, &w[i].addr))
					continue;
				w[i].seen = 1;
				left--;
				printf("seen %ld %llu\n", i,
				       (unsigned long long)now_ns());
			}
			fflush(stdout);
			if (left == 0)
				break;
			if (now_ns() > deadline) {
				printf("timeout\n");
				break;
			}
			if (interval_us > 0)
				nanosleep(&nap, NULL);
		}
		if (left == 0)
			printf("done\n");
		fflush(stdout);
	}
	free(w);
	return 0;
}

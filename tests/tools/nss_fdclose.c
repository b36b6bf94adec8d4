/*
 * nss_fdclose - test helper: a program that closes every descriptor it
 * does not know about between lookups (as some daemons do after start-up
 * or before each request), across many republishes, and reports how many
 * mappings of hosts.mdb and descriptors of deleted files it holds.
 *
 *   nss_fdclose LIB CACHE_DIR PUBLISHES
 *
 * ZKHOSTS_CONF must name a config whose cache is CACHE_DIR. The helper
 * dlopens LIB (libnss_zk.so.2), publishes a first snapshot, then
 * PUBLISHES times: publishes the next one from a forked child (the real
 * publisher, publish.h; record "churn" gets 10.9.<i / 256>.<i % 256>),
 * resolves "churn" through _nss_zk_gethostbyname4_r and checks the answer
 * is the new address, then closes every descriptor from 3 up
 * (close_range). After each round it counts the lines of /proc/self/maps
 * that map a file named hosts.mdb (deleted or not) and the entries of
 * /proc/self/fd that point to a deleted file. Prints
 * "rounds N max_mappings M final_mappings F deleted_fds D" and exits 0 if
 * every answer was right, M <= 2 and D == 0 in every round; 1 otherwise
 * (with the reason on stderr); 2 on usage errors.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <nss.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zkhosts/publish.h"

typedef enum nss_status (*name4_fn)(const char *, struct gaih_addrtuple **,
				    char *, size_t, int *, int *, int32_t *);

/* Publish round `i` (record "stable" plus "churn" with an address of i)
 * from a child process, so this process opens nothing of the writer's. */
static int publish_round(const char *dir, long i)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct zkh_pub_options po = { .ttl = 1 };
		struct zkh_publisher *p = NULL;
		struct zkh_addr a[2];
		struct zkh_change c[2];

		memset(a, 0, sizeof(a));
		memset(c, 0, sizeof(c));
		a[0].family = a[1].family = AF_INET;
		memcpy(a[0].bytes, (uint8_t[]){ 10, 8, 0, 1 }, 4);
		memcpy(a[1].bytes, (uint8_t[]){ 10, 9, (uint8_t)(i / 256),
						(uint8_t)(i % 256) }, 4);
		c[0] = (struct zkh_change){ ZKH_UPSERT, "stable", 6, 1,
					    &a[0], 1 };
		c[1] = (struct zkh_change){ ZKH_UPSERT, "churn", 5, 2,
					    &a[1], 1 };
		if (zkh_pub_open(dir, &po, &p) < 0 ||
		    zkh_pub_apply(p, c, 2) < 0 || zkh_pub_publish(p, 0, 0) < 0)
			_exit(1);
		zkh_pub_close(p);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return -1;
	return 0;
}

/* Mappings of a file whose name ends in /hosts.mdb (or "... (deleted)"). */
static int count_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[4096];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "/hosts.mdb\n") ||
		    strstr(line, "/hosts.mdb (deleted)\n"))
			n++;
	fclose(f);
	return n;
}

/* Descriptors that point to a deleted file. */
static int count_deleted_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char target[4096];
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		ssize_t len;

		if (e->d_name[0] == '.')
			continue;
		len = readlinkat(dirfd(d), e->d_name, target,
				 sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = '\0';
		if (len > 10 && strcmp(target + len - 10, " (deleted)") == 0) {
			fprintf(stderr, "nss_fdclose: fd %s -> %s\n",
				e->d_name, target);
			n++;
		}
	}
	closedir(d);
	return n;
}

/* Resolve "churn" and check it answers 10.9.<i/256>.<i%256>. */
static int check_answer(name4_fn fn, long i)
{
	char buf[4096];
	struct gaih_addrtuple *pat = NULL;
	int err = 0, herr = 0;
	int32_t ttl = 0;
	enum nss_status st = fn("churn", &pat, buf, sizeof(buf), &err, &herr,
				&ttl);
	uint8_t want[4] = { 10, 9, (uint8_t)(i / 256), (uint8_t)(i % 256) };

	if (st != NSS_STATUS_SUCCESS || !pat || pat->family != AF_INET ||
	    memcmp(pat->addr, want, 4) != 0) {
		fprintf(stderr, "nss_fdclose: round %ld: status %d, wrong or "
			"no answer for churn\n", i, (int)st);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	void *lib;
	name4_fn fn;
	long rounds, i;
	int maps = 0, max_maps = 0, deleted = 0, bad = 0;

	if (argc != 4 || (rounds = strtol(argv[3], NULL, 10)) < 1 ||
	    rounds > 60000) {
		fprintf(stderr, "usage: nss_fdclose LIB CACHE_DIR PUBLISHES\n");
		return 2;
	}
	lib = dlopen(argv[1], RTLD_NOW);
	if (!lib) {
		fprintf(stderr, "nss_fdclose: %s\n", dlerror());
		return 2;
	}
	fn = (name4_fn)dlsym(lib, "_nss_zk_gethostbyname4_r");
	if (!fn) {
		fprintf(stderr, "nss_fdclose: no _nss_zk_gethostbyname4_r\n");
		return 2;
	}
	if (publish_round(argv[2], 0) < 0 || check_answer(fn, 0) < 0) {
		fprintf(stderr, "nss_fdclose: first publish failed\n");
		return 1;
	}
	for (i = 1; i <= rounds; i++) {
		if (close_range(3, ~0U, 0) < 0) {
			perror("nss_fdclose: close_range");
			return 1;
		}
		if (publish_round(argv[2], i) < 0) {
			fprintf(stderr, "nss_fdclose: publish %ld failed\n", i);
			return 1;
		}
		if (check_answer(fn, i) < 0)
			bad = 1;
		maps = count_mappings();
		deleted = count_deleted_fds();
		if (maps < 0 || deleted < 0) {
			fprintf(stderr, "nss_fdclose: /proc not readable\n");
			return 1;
		}
		if (maps > max_maps)
			max_maps = maps;
		if (deleted > 0)
			bad = 1;
	}
	printf("rounds %ld max_mappings %d final_mappings %d deleted_fds %d\n",
	       rounds, max_maps, maps, deleted);
	if (max_maps > 2) {
		fprintf(stderr, "nss_fdclose: up to %d mappings of hosts.mdb "
			"(at most 2 allowed)\n", max_maps);
		bad = 1;
	}
	return bad;
}

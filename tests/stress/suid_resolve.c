/*
 * suid_resolve - the small client test_setuid.py installs set-uid: it
 * resolves one name through libnss_zk.so.2 and says what it saw, so the
 * test can tell which cache the module used in a set-id process.
 *
 *   suid_resolve NAME
 *
 * The module is dlopened from the absolute path fixed at build time
 * (ZKH_MODULE_PATH: a set-uid program must not load a library named by
 * its caller) and its gethostbyname4_r is called directly, because glibc
 * ignores LD_LIBRARY_PATH in set-id programs and the module is not
 * installed system-wide in the tests. Prints one line:
 *   secure S ruid R euid E conf_env yes|no status N addr A|-
 * (S: getauxval(AT_SECURE), conf_env: whether ZKHOSTS_CONF was in the
 * environment, N: the nss_status). Exits 0 if it ran, 2 otherwise.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <nss.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef ZKH_MODULE_PATH
#error "ZKH_MODULE_PATH must name the module (see tests/stress/build.mk)"
#endif

typedef enum nss_status (*name4_fn)(const char *, struct gaih_addrtuple **,
				    char *, size_t, int *, int *, int32_t *);

int main(int argc, char **argv)
{
	struct gaih_addrtuple *pat = NULL;
	char buf[2048], txt[INET6_ADDRSTRLEN] = "-";
	int err = 0, herr = 0;
	int32_t ttl = 0;
	enum nss_status st;
	name4_fn name4;
	void *lib;

	if (argc != 2) {
		fprintf(stderr, "usage: suid_resolve NAME\n");
		return 2;
	}
	lib = dlopen(ZKH_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 2;
	}
	name4 = (name4_fn)dlsym(lib, "_nss_zk_gethostbyname4_r");
	if (!name4) {
		fprintf(stderr, "no _nss_zk_gethostbyname4_r\n");
		return 2;
	}
	st = name4(argv[1], &pat, buf, sizeof(buf), &err, &herr, &ttl);
	if (st == NSS_STATUS_SUCCESS && pat)
		inet_ntop(pat->family, pat->addr, txt, sizeof(txt));
	printf("secure %lu ruid %u euid %u conf_env %s status %d addr %s\n",
	       getauxval(AT_SECURE), (unsigned)getuid(), (unsigned)geteuid(),
	       getenv("ZKHOSTS_CONF") ? "yes" : "no", (int)st, txt);
	return 0;
}

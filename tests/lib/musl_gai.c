/*
 * musl_gai.c - the client of test_zkdns_clients.py, built there with
 * musl-gcc -static: a program with no NSS at all, which resolves only
 * through /etc/resolv.conf, as an Alpine image's programs do. For each
 * argument NAME it prints "NAME ADDR" per getaddrinfo(AF_UNSPEC) answer
 * (or "NAME error TEXT"); for "-x ADDR" it prints "ADDR NAME" from
 * getnameinfo(NI_NAMEREQD) (or "ADDR error TEXT"). Exit 0.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static void forward(const char *name)
{
	struct addrinfo hints, *res, *ai;
	char buf[INET6_ADDRSTRLEN];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc != 0) {
		printf("%s error %s\n", name, gai_strerror(rc));
		return;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		const void *a = ai->ai_family == AF_INET ?
		    (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr :
		    (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;

		inet_ntop(ai->ai_family, a, buf, sizeof(buf));
		printf("%s %s\n", name, buf);
	}
	freeaddrinfo(res);
}

static void reverse(const char *addr)
{
	struct sockaddr_storage ss;
	char host[NI_MAXHOST];
	socklen_t sl;
	int rc;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		sl = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, addr,
			     &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		sl = sizeof(struct sockaddr_in6);
	} else {
		printf("%s error not an address\n", addr);
		return;
	}
	rc = getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), NULL,
			 0, NI_NAMEREQD);
	if (rc != 0)
		printf("%s error %s\n", addr, gai_strerror(rc));
	else
		printf("%s %s\n", addr, host);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-x") == 0 && i + 1 < argc)
			reverse(argv[++i]);
		else
			forward(argv[i]);
	}
	return 0;
}

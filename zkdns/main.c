/*
 * main.c - zkdns's entry point and its one event loop. Reads the config
 * (a bad one exits 2 naming file, line and key), takes its sockets from
 * systemd (socket activation, sd_listen_fds) or binds the dns_listen
 * addresses (UDP and TCP on each), then runs one epoll loop on one
 * thread over the sockets, the TCP connections and a signalfd: UDP
 * queries are read and answered in batches (recvmmsg/sendmmsg), TCP
 * messages (RFC 7766 framing, pipelined queries answered in order) per
 * connection; a connection that completes no query for TCP_IDLE_MS is
 * closed (trickling bytes does not keep it open). Every answer
 * comes from engine.c. SIGTERM/SIGINT: exit 0. Links libknot, liblmdb
 * and libsystemd; never ZooKeeper.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "zkhosts/names.h"

#define MAX_SOCKS   (2 * ZKH_DNS_LISTEN_MAX + 16)
#define MAX_CONNS   64
#define TCP_IDLE_MS 10000
#define BATCH       32
#define UDP_IN_MAX  4096

enum { T_UDP, T_TCPL, T_CONN, T_SIG };
#define TAG(t, i) ((uint64_t)(t) << 32 | (uint32_t)(i))

struct conn {
	int fd;			/* -1: free */
	uint8_t in[2 + ZKDNS_MSG_MAX];
	size_t inlen;
	uint8_t out[2 + ZKDNS_MSG_MAX];
	size_t outlen, outoff;
	uint64_t last_ms;
};

static struct {
	int ep, sigfd;
	int socks[MAX_SOCKS];
	int types[MAX_SOCKS];
	size_t nsocks;
	struct conn *conns[MAX_CONNS];
	struct zkdns_engine *eng;
	int verbose;
} g;

static void logf_(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "<N>" prefixes let journald keep the priority. */
static void logf_(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio > 6 && !g.verbose)
		return;
	fprintf(stderr, "<%d>zkdns: ", prio);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: zkdns [-c FILE] [-t] [-v]\n"
		"Answer DNS queries from the zkhosts snapshot (runs in the foreground).\n\n"
		"  -c, --config FILE  config file (default: $ZKHOSTS_CONF, else %s)\n"
		"  -t, --test-config  check the config and exit\n"
		"  -v, --verbose      log debug lines too\n"
		"  -h, --help         this help\n"
		"  -V, --version      print the version\n\n"
		"Exit status: 0 after SIGTERM/SIGINT, 1 on a runtime failure, 2 on a bad\n"
		"command line or config.\n", ZKH_DEFAULT_CONF);
}

/* ---- sockets ------------------------------------------------------------ */

static int add_sock(int fd, int type)
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (g.nsocks == MAX_SOCKS) {
		logf_(3, "more than %d sockets", MAX_SOCKS);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	ev.data.u64 = TAG(type == SOCK_DGRAM ? T_UDP : T_TCPL, g.nsocks);
	if (epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		logf_(3, "epoll_ctl: %s", strerror(errno));
		return -1;
	}
	g.socks[g.nsocks] = fd;
	g.types[g.nsocks++] = type;
	return 0;
}

static void ep_text(const struct zkh_dns_endpoint *ep, char *out, size_t cap)
{
	char a[64];

	zkh_addr_format(&ep->addr, a, sizeof(a));
	snprintf(out, cap, ep->addr.family == AF_INET6 ? "[%s]:%u" : "%s:%u",
		 a, ep->port);
}

static int bind_one(const struct zkh_dns_endpoint *ep, int type)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1;
	char t[80];

	memset(&ss, 0, sizeof(ss));
	if (ep->addr.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(ep->port);
		memcpy(&s4->sin_addr, ep->addr.bytes, 4);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(ep->port);
		memcpy(&s6->sin6_addr, ep->addr.bytes, 16);
		sl = sizeof(*s6);
	}
	ep_text(ep, t, sizeof(t));
	fd = socket(ep->addr.family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		logf_(3, "socket for %s: %s", t, strerror(errno));
		return -1;
	}
	if (ep->addr.family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		int e = errno;

		logf_(3, "cannot bind %s/%s: %s%s", t,
		      type == SOCK_DGRAM ? "udp" : "tcp", strerror(e),
		      e == EACCES ? " (a port below 1024 needs "
		      "CAP_NET_BIND_SERVICE or socket activation)" : "");
		close(fd);
		return -1;
	}
	if (type == SOCK_STREAM && listen(fd, 64) < 0) {
		logf_(3, "listen on %s: %s", t, strerror(errno));
		close(fd);
		return -1;
	}
	if (add_sock(fd, type) < 0) {
		close(fd);
		return -1;
	}
	logf_(6, "listening on %s/%s", t, type == SOCK_DGRAM ? "udp" : "tcp");
	return 0;
}

static int open_sockets(const struct zkh_config *c)
{
	int n = sd_listen_fds(1), i;

	if (n < 0) {
		logf_(3, "sd_listen_fds: %s", strerror(-n));
		return -1;
	}
	if (n > 0) {
		/* socket activation: dns_listen is not used */
		for (i = 0; i < n; i++) {
			int fd = SD_LISTEN_FDS_START + i;

			if (sd_is_socket(fd, AF_UNSPEC, SOCK_DGRAM, -1) > 0) {
				if (add_sock(fd, SOCK_DGRAM) < 0)
					return -1;
			} else if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM,
						1) > 0) {
				if (add_sock(fd, SOCK_STREAM) < 0)
					return -1;
			} else {
				logf_(3, "passed descriptor %d is neither a "
				      "datagram socket nor a listening stream "
				      "socket", fd);
				return -1;
			}
		}
		logf_(6, "%d sockets from systemd (dns_listen not used)", n);
		return 0;
	}
	for (size_t k = 0; k < c->dns_nlisten; k++)
		if (bind_one(&c->dns_listen[k], SOCK_DGRAM) < 0 ||
		    bind_one(&c->dns_listen[k], SOCK_STREAM) < 0)
			return -1;
	return 0;
}

/* ---- UDP ----------------------------------------------------------------- */

static uint8_t udp_in[BATCH][UDP_IN_MAX];
static uint8_t udp_out[BATCH][ZKDNS_UDP_MAX];
static uint8_t scratch[ZKDNS_MSG_MAX];

static void udp_ready(int fd)
{
	struct mmsghdr in[BATCH], out[BATCH];
	struct sockaddr_storage from[BATCH];
	struct iovec iin[BATCH], iout[BATCH];
	int n, i, k, rounds = 0;

	do {
		memset(in, 0, sizeof(in));
		for (i = 0; i < BATCH; i++) {
			iin[i].iov_base = udp_in[i];
			iin[i].iov_len = UDP_IN_MAX;
			in[i].msg_hdr.msg_iov = &iin[i];
			in[i].msg_hdr.msg_iovlen = 1;
			in[i].msg_hdr.msg_name = &from[i];
			in[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		n = recvmmsg(fd, in, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		memset(out, 0, sizeof(out));
		for (i = 0, k = 0; i < n; i++) {
			size_t len;

			if (in[i].msg_hdr.msg_flags & MSG_TRUNC)
				continue;	/* larger than any query */
			len = zkdns_answer(g.eng, udp_in[i], in[i].msg_len,
					   false, scratch);
			if (len == 0 || len > ZKDNS_UDP_MAX)
				continue;
			memcpy(udp_out[k], scratch, len);
			iout[k].iov_base = udp_out[k];
			iout[k].iov_len = len;
			out[k].msg_hdr.msg_iov = &iout[k];
			out[k].msg_hdr.msg_iovlen = 1;
			out[k].msg_hdr.msg_name = &from[i];
			out[k].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
			k++;
		}
		for (i = 0; i < k;) {
			int s = sendmmsg(fd, out + i, (unsigned)(k - i),
					 MSG_DONTWAIT);

			if (s <= 0)
				break;	/* full buffer: the client retries */
			i += s;
		}
	} while (n == BATCH && ++rounds < 8);
}

/* ---- TCP ----------------------------------------------------------------- */

static void conn_close(size_t i)
{
	struct conn *c = g.conns[i];

	if (c == NULL)
		return;
	epoll_ctl(g.ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
	g.conns[i] = NULL;
}

static void conn_events(size_t i, uint32_t events)
{
	struct epoll_event ev = { .events = events };

	ev.data.u64 = TAG(T_CONN, i);
	epoll_ctl(g.ep, EPOLL_CTL_MOD, g.conns[i]->fd, &ev);
}

static void tcp_accept(int lfd)
{
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC))
	       >= 0) {
		struct epoll_event ev = { .events = EPOLLIN };
		size_t i;

		for (i = 0; i < MAX_CONNS && g.conns[i]; i++)
			;
		if (i == MAX_CONNS) {
			close(fd);	/* busy: the client retries */
			continue;
		}
		g.conns[i] = calloc(1, sizeof(struct conn));
		if (g.conns[i] == NULL) {
			close(fd);
			continue;
		}
		g.conns[i]->fd = fd;
		g.conns[i]->last_ms = now_ms();
		ev.data.u64 = TAG(T_CONN, i);
		if (epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			conn_close(i);
	}
}

/* Write what is pending; 1 if all written, 0 if blocked, -1 on error. */
static int conn_flush(struct conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t w = send(c->fd, c->out + c->outoff,
				 c->outlen - c->outoff, MSG_NOSIGNAL);

		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		c->outoff += (size_t)w;
	}
	c->outoff = c->outlen = 0;
	return 1;
}

/* Answer every complete message in c->in while the output is free. */
static int conn_process(struct conn *c)
{
	for (;;) {
		size_t mlen, len;
		int f;

		if (c->inlen < 2)
			return 1;
		mlen = (size_t)c->in[0] << 8 | c->in[1];
		if (c->inlen < 2 + mlen)
			return 1;
		len = zkdns_answer(g.eng, c->in + 2, mlen, true, c->out + 2);
		c->last_ms = now_ms();	/* idle = no complete query */
		memmove(c->in, c->in + 2 + mlen, c->inlen - 2 - mlen);
		c->inlen -= 2 + mlen;
		if (len == 0)
			return -1;	/* not a query: hang up */
		c->out[0] = (uint8_t)(len >> 8);
		c->out[1] = (uint8_t)len;
		c->outlen = 2 + len;
		c->outoff = 0;
		f = conn_flush(c);
		if (f <= 0)
			return f;
	}
}

static void conn_ready(size_t i, uint32_t events)
{
	struct conn *c = g.conns[i];
	int rc;

	if (c == NULL)
		return;
	if (c->outlen > 0) {
		rc = conn_flush(c);
		if (rc < 0)
			goto close;
		if (rc == 0)
			return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		ssize_t r = recv(c->fd, c->in + c->inlen,
				 sizeof(c->in) - c->inlen, 0);

		if (r == 0 || (r < 0 && errno != EAGAIN &&
			       errno != EWOULDBLOCK))
			goto close;
		if (r > 0)
			c->inlen += (size_t)r;
	}
	rc = conn_process(c);
	if (rc < 0)
		goto close;
	conn_events(i, rc == 0 ? EPOLLOUT : EPOLLIN);
	return;
close:
	conn_close(i);
}

static void sweep_idle(void)
{
	uint64_t now = now_ms();

	for (size_t i = 0; i < MAX_CONNS; i++)
		if (g.conns[i] && now - g.conns[i]->last_ms > TCP_IDLE_MS)
			conn_close(i);
}

/* ---- main ---------------------------------------------------------------- */

static int load_config(const char *explicit_path, struct zkh_config *c)
{
	struct zkh_config_error err;
	char msg[ZKH_PATH_MAX + 512];
	const char *path = zkh_config_path(explicit_path);
	int rc = zkh_config_load(path, ZKH_CONFIG_STRICT, c, &err);

	if (rc == 0)
		return 0;
	if (rc == -ENOENT && !err.msg[0])
		snprintf(msg, sizeof(msg), "%s: no such file", path);
	else
		zkh_config_strerror(&err, msg, sizeof(msg));
	logf_(3, "bad config: %s", msg);
	return -1;
}

static const char *reader_error(int rc)
{
	switch (rc) {
	case -ENOENT:
		return "no snapshot yet (is zkcached running?)";
	case -EPERM:
		return "refused: the cache directory or its files may be "
		    "written by someone other than their owner or root";
	case -EINVAL:
		return "malformed snapshot";
	case -EIO:
		return "LMDB refused the snapshot file";
	default:
		return strerror(-rc);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test-config", no_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static struct zkh_config cfg;
	const char *conf = NULL;
	struct epoll_event evs[64];
	struct epoll_event sev = { .events = EPOLLIN };
	bool test_only = false, running = true;
	sigset_t mask;
	int o, rc, status = 1;

	while ((o = getopt_long(argc, argv, "c:tvhV", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			conf = optarg;
			break;
		case 't':
			test_only = true;
			break;
		case 'v':
			g.verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("zkdns %s\n", ZKH_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "zkdns: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	if (load_config(conf, &cfg) < 0)
		return 2;
	if (test_only) {
		printf("zkdns: config OK\n");
		return 0;
	}
	if (geteuid() == 0)
		logf_(4, "running as root: run zkdns as an unprivileged user "
		      "(socket activation or CAP_NET_BIND_SERVICE)");
	g.ep = epoll_create1(EPOLL_CLOEXEC);
	if (g.ep < 0) {
		logf_(3, "epoll_create1: %s", strerror(errno));
		return 1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	g.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	sev.data.u64 = TAG(T_SIG, 0);
	if (g.sigfd < 0 || epoll_ctl(g.ep, EPOLL_CTL_ADD, g.sigfd, &sev) < 0) {
		logf_(3, "signalfd: %s", strerror(errno));
		return 1;
	}
	rc = zkdns_engine_new(&cfg, true, &g.eng);
	if (rc < 0) {
		logf_(3, "cannot start: %s", strerror(-rc));
		return 1;
	}
	if (open_sockets(&cfg) < 0)
		goto out;
	rc = zkdns_engine_refresh(g.eng);
	if (rc < 0)
		logf_(4, "%s: %s; answering SERVFAIL until one can be "
		      "opened", cfg.cache, reader_error(rc));
	sd_notify(0, "READY=1");
	while (running) {
		int n = epoll_wait(g.ep, evs, 64, 1000);

		if (n < 0 && errno != EINTR) {
			logf_(3, "epoll_wait: %s", strerror(errno));
			goto out;
		}
		for (int i = 0; i < n; i++) {
			uint32_t t = (uint32_t)(evs[i].data.u64 >> 32);
			uint32_t k = (uint32_t)evs[i].data.u64;

			if (t == T_UDP)
				udp_ready(g.socks[k]);
			else if (t == T_TCPL)
				tcp_accept(g.socks[k]);
			else if (t == T_CONN)
				conn_ready(k, evs[i].events);
			else
				running = false;
		}
		sweep_idle();
	}
	{
		const struct zkdns_stats *s = zkdns_engine_stats(g.eng);

		logf_(6, "exiting: %llu queries, %llu refused, %llu nxdomain, "
		      "%llu formerr, %llu servfail, %llu truncated, %llu "
		      "dropped, %llu snapshot swaps",
		      (unsigned long long)s->queries,
		      (unsigned long long)s->refused,
		      (unsigned long long)s->nxdomain,
		      (unsigned long long)s->formerr,
		      (unsigned long long)s->servfail,
		      (unsigned long long)s->truncated,
		      (unsigned long long)s->dropped,
		      (unsigned long long)s->swaps);
	}
	status = 0;
out:
	for (size_t i = 0; i < MAX_CONNS; i++)
		conn_close(i);
	for (size_t i = 0; i < g.nsocks; i++)
		close(g.socks[i]);
	zkdns_engine_free(g.eng);
	close(g.sigfd);
	close(g.ep);
	return status;
}

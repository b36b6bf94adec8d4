/*
 * zkconn.c - the pieces every zkhosts program needs to reach ZooKeeper
 * (contract: include/zkhosts/zkconn.h). Connect strings are resolved here,
 * with the zk NSS module bypassed, into numeric "addr:port" lists the C
 * client can use without ever resolving a name itself (it would otherwise
 * resolve from its I/O thread, through our own module, over and over).
 * auth_file is read with its mode checked and its secret never echoed.
 * Znode paths of the public layout (<root>/hosts/<name>,
 * <root>/boot/<service>) are built in one place. The ZooKeeper client's
 * log lines are routed into the program's logger, either through a stdio
 * stream set with zoo_set_log_stream (global, covers every handle) or
 * through zkh_zk_log_callback passed to zookeeper_init2 (per handle).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zookeeper/zookeeper.h>

#include "zkhosts/zkconn.h"

/* Declared for programs in tools/lib/zkclient.h (and usable by the daemon):
 * a log_callback_fn for zookeeper_init2 that feeds the routed logger. */
void zkh_zk_log_callback(const char *message);

#define ZK_DEFAULT_PORT 2181
#define HOST_TEXT_MAX 512	/* one host entry of a connect string */
#define AUTH_FILE_MAX 4096

/* ---- connect-string resolution ---------------------------------------- */

static void copy_bad(char *bad, size_t bad_cap, const char *s, size_t len)
{
	if (!bad || bad_cap == 0)
		return;
	if (len >= bad_cap)
		len = bad_cap - 1;
	memcpy(bad, s, len);
	bad[len] = '\0';
}

/* Parse a decimal port 1..65535 of exactly `len` bytes. */
static int parse_port(const char *s, size_t len, unsigned *port)
{
	unsigned v = 0;

	if (len == 0 || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*port = v;
	return 0;
}

static bool is_v6_text(const char *s, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct in6_addr a;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(AF_INET6, buf, &a) == 1;
}

/*
 * Split one connect-string entry into host and port. Accepted:
 * "host", "host:port", "[v6]", "[v6]:port", and a bare IPv6 address when
 * it cannot also be read as "v6:port" (e.g. "fd00::1" is fine, but
 * "fd00::1:2181" is ambiguous and refused: write "[fd00::1]:2181").
 */
static int split_host_port(const char *s, size_t len, char *host,
			   size_t host_cap, unsigned *port)
{
	const char *h = s;
	size_t hlen = len;
	const char *colon;
	unsigned p = ZK_DEFAULT_PORT;

	if (len == 0)
		return -EINVAL;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (!close)
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(close - h);
		if (!is_v6_text(h, hlen))
			return -EINVAL;
		size_t rest = len - (size_t)(close + 1 - s);

		if (rest > 0) {
			if (close[1] != ':' ||
			    parse_port(close + 2, rest - 1, &p) < 0)
				return -EINVAL;
		}
	} else {
		colon = memchr(s, ':', len);
		const char *last = colon;

		for (const char *q = colon; q; ) {
			last = q;
			q = memchr(q + 1, ':', len - (size_t)(q + 1 - s));
		}
		if (colon && colon == last) {
			hlen = (size_t)(colon - s);
			if (parse_port(colon + 1, len - hlen - 1, &p) < 0)
				return -EINVAL;
		} else if (colon) {
			/* Two or more colons: a bare IPv6 address. */
			bool whole = is_v6_text(s, len);
			size_t plen = (size_t)(last - s);
			unsigned tmp;
			bool split = is_v6_text(s, plen) &&
				parse_port(last + 1, len - plen - 1, &tmp) == 0;

			if (whole == split)	/* neither, or ambiguous */
				return -EINVAL;
			if (split) {
				hlen = plen;
				p = tmp;
			}
		}
	}
	if (hlen == 0 || hlen >= host_cap)
		return -EINVAL;
	for (size_t i = 0; i < hlen; i++) {
		unsigned char c = (unsigned char)h[i];

		if (!isalnum(c) && c != '.' && c != '-' && c != '_' &&
		    c != ':' && c != '%')
			return -EINVAL;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = p;
	return 0;
}

/* Append "text" to out at *pos, with a comma first unless at 0. */
static int append_entry(char *out, size_t cap, size_t *pos,
			const char *text)
{
	size_t n = strlen(text);
	size_t need = n + (*pos ? 1 : 0);

	if (*pos + need + 1 > cap)
		return -ENOSPC;
	if (*pos)
		out[(*pos)++] = ',';
	memcpy(out + *pos, text, n);
	*pos += n;
	out[*pos] = '\0';
	return 0;
}

/* True if ",entry," already occurs in the list built so far. */
static bool list_has(const char *out, size_t pos, const char *entry)
{
	size_t n = strlen(entry);
	const char *p = out;
	const char *end = out + pos;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t len = comma ? (size_t)(comma - p) : (size_t)(end - p);

		if (len == n && memcmp(p, entry, n) == 0)
			return true;
		p += len + 1;
	}
	return false;
}

/* Resolve one host and append all its addresses. Returns the number of
 * addresses appended (>= 1), -EHOSTUNREACH, or -ENOSPC. */
static int resolve_one(const char *host, unsigned port, char *out,
		       size_t cap, size_t *pos)
{
	struct addrinfo hints, *res = NULL;
	int rc, n = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = 0;	/* no AI_ADDRCONFIG: loopback-only hosts too */
	if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
		return -EHOSTUNREACH;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		char num[NI_MAXHOST], entry[NI_MAXHOST + 8];

		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, num, sizeof(num),
				NULL, 0, NI_NUMERICHOST) != 0)
			continue;
		snprintf(entry, sizeof(entry), "%s:%u", num, port);
		if (list_has(out, *pos, entry)) {
			n++;
			continue;
		}
		rc = append_entry(out, cap, pos, entry);
		if (rc < 0) {
			n = rc;
			goto done;
		}
		n++;
	}
	if (n == 0)
		n = -EHOSTUNREACH;
done:
	freeaddrinfo(res);
	return n;
}

int zkh_zk_resolve(const char *connect, char *out, size_t cap,
		   char *bad, size_t bad_cap)
{
	const char *chroot, *p, *end;
	size_t pos = 0, chroot_len = 0;
	bool any = false, failed = false;
	int rc;

	if (bad && bad_cap)
		bad[0] = '\0';
	if (!connect || !out || cap == 0)
		return -EINVAL;
	out[0] = '\0';
	chroot = strchr(connect, '/');
	end = chroot ? chroot : connect + strlen(connect);
	if (chroot) {
		chroot_len = strlen(chroot);
		if (chroot_len == 1)	/* "/" alone is no chroot */
			chroot_len = 0;
		else if (chroot[chroot_len - 1] == '/' ||
			 strstr(chroot, "//")) {
			copy_bad(bad, bad_cap, chroot, chroot_len);
			return -EINVAL;
		}
	}
	if (setenv(ZKH_NSS_BYPASS_ENV, "1", 1) < 0)
		return -errno;
	p = connect;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;
		const char *s = p;
		char host[HOST_TEXT_MAX];
		unsigned port;

		while (s < e && isspace((unsigned char)*s))
			s++;
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		if (split_host_port(s, (size_t)(e - s), host, sizeof(host),
				    &port) < 0) {
			copy_bad(bad, bad_cap, s, (size_t)(e - s));
			return -EINVAL;
		}
		rc = resolve_one(host, port, out, cap, &pos);
		if (rc == -ENOSPC)
			return rc;
		if (rc < 0) {
			if (!failed)
				copy_bad(bad, bad_cap, host, strlen(host));
			failed = true;
		} else {
			any = true;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	if (!any) {
		out[0] = '\0';
		return pos == 0 && !failed ? -EINVAL : -EHOSTUNREACH;
	}
	if (chroot_len) {
		if (pos + chroot_len + 1 > cap)
			return -ENOSPC;
		memcpy(out + pos, chroot, chroot_len + 1);
	}
	return 0;
}

/* ---- auth file --------------------------------------------------------- */

static bool scheme_char_ok(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '-';
}

int zkh_zk_read_auth(const char *path, char *scheme, size_t scheme_cap,
		     char *cred, size_t cred_cap)
{
	char buf[AUTH_FILE_MAX + 1];
	struct stat st;
	size_t len = 0, line_len, slen, clen;
	const char *colon;
	int fd = -1, rc;

	if (!path || !scheme || !cred || scheme_cap == 0 || cred_cap == 0)
		return -EINVAL;
	scheme[0] = cred[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto out;
	}
	if (st.st_mode & 077) {
		rc = -EPERM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == sizeof(buf) - 1)
			break;
	}
	buf[len] = '\0';
	line_len = strcspn(buf, "\n");
	if (line_len == len && len == sizeof(buf) - 1) {
		rc = -EINVAL;	/* no end of first line within the bound */
		goto out;
	}
	while (line_len > 0 && (buf[line_len - 1] == '\r' ||
				buf[line_len - 1] == ' ' ||
				buf[line_len - 1] == '\t'))
		line_len--;
	buf[line_len] = '\0';
	colon = strchr(buf, ':');
	if (!colon || colon == buf || colon[1] == '\0') {
		rc = -EINVAL;
		goto out;
	}
	slen = (size_t)(colon - buf);
	clen = line_len - slen - 1;
	for (size_t i = 0; i < slen; i++)
		if (!scheme_char_ok((unsigned char)buf[i])) {
			rc = -EINVAL;
			goto out;
		}
	for (size_t i = 0; i < clen; i++)
		if (iscntrl((unsigned char)colon[1 + i])) {
			rc = -EINVAL;
			goto out;
		}
	if (slen >= scheme_cap || clen >= cred_cap) {
		rc = -ENOSPC;
		goto out;
	}
	memcpy(scheme, buf, slen);
	scheme[slen] = '\0';
	memcpy(cred, colon + 1, clen);
	cred[clen] = '\0';
	rc = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---- paths ------------------------------------------------------------- */

static int build_path(const struct zkh_config *c, const char *dir,
		      const char *leaf, char *out, size_t cap)
{
	const char *root = c->root;
	int n;

	if (strcmp(root, "/") == 0)
		root = "";
	if (leaf) {
		if (!*leaf || strchr(leaf, '/'))
			return -EINVAL;
		n = snprintf(out, cap, "%s/%s/%s", root, dir, leaf);
	} else {
		n = snprintf(out, cap, "%s/%s", root, dir);
	}
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= cap)
		return -ENAMETOOLONG;
	return 0;
}

int zkh_zk_hosts_path(const struct zkh_config *c, char *out, size_t cap)
{
	return build_path(c, "hosts", NULL, out, cap);
}

int zkh_zk_boot_path(const struct zkh_config *c, char *out, size_t cap)
{
	return build_path(c, "boot", NULL, out, cap);
}

int zkh_zk_host_path(const struct zkh_config *c, const char *name, char *out,
		     size_t cap)
{
	return build_path(c, "hosts", name, out, cap);
}

int zkh_zk_service_path(const struct zkh_config *c, const char *service,
			char *out, size_t cap)
{
	return build_path(c, "boot", service, out, cap);
}

/* ---- log routing ------------------------------------------------------- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static void (*log_fn)(enum zkh_log_level, const char *);
static enum zkh_log_level log_max = ZKH_LOG_WARN;
static FILE *log_stream;
/* Partial line carried between writes to the cookie stream. */
static char log_partial[1024];
static size_t log_partial_len;

/* The client formats "time:pid(tid):ZOO_LEVEL@func@line: message". */
static enum zkh_log_level level_of(const char *line)
{
	if (strstr(line, ":ZOO_ERROR@"))
		return ZKH_LOG_ERR;
	if (strstr(line, ":ZOO_WARN@"))
		return ZKH_LOG_WARN;
	if (strstr(line, ":ZOO_DEBUG@"))
		return ZKH_LOG_DEBUG;
	return ZKH_LOG_INFO;
}

/* Hand one complete line to the installed logger, if its level passes. */
static void deliver(const char *line)
{
	void (*fn)(enum zkh_log_level, const char *);
	enum zkh_log_level lvl = level_of(line), max;
	const char *tag = strstr(line, ":ZOO_");
	const char *at = tag ? strchr(tag, '@') : NULL;

	pthread_mutex_lock(&log_lock);
	fn = log_fn;
	max = log_max;
	pthread_mutex_unlock(&log_lock);
	/* Drop the client's own "time:pid(tid):ZOO_LEVEL@" prefix: the
	 * program's logger stamps lines itself. Keeps "func@line: msg". */
	if (fn && lvl <= max)
		fn(lvl, at ? at + 1 : line);
}

void zkh_zk_log_callback(const char *message)
{
	char line[1024];
	size_t n;

	if (!message)
		return;
	n = strcspn(message, "\n");
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	memcpy(line, message, n);
	line[n] = '\0';
	deliver(line);
}

/* fopencookie write: split the stream into lines (stdio holds the FILE
 * lock around this, so the partial buffer needs no lock of its own). */
static ssize_t cookie_write(void *cookie, const char *buf, size_t size)
{
	(void)cookie;
	for (size_t i = 0; i < size; i++) {
		if (buf[i] == '\n' ||
		    log_partial_len == sizeof(log_partial) - 1) {
			log_partial[log_partial_len] = '\0';
			if (log_partial_len)
				deliver(log_partial);
			log_partial_len = 0;
			if (buf[i] == '\n')
				continue;
		}
		log_partial[log_partial_len++] = buf[i];
	}
	return (ssize_t)size;
}

static ZooLogLevel zoo_level_of(enum zkh_log_level l)
{
	if (l <= ZKH_LOG_ERR)
		return ZOO_LOG_LEVEL_ERROR;
	if (l <= ZKH_LOG_WARN)
		return ZOO_LOG_LEVEL_WARN;
	if (l <= ZKH_LOG_INFO)
		return ZOO_LOG_LEVEL_INFO;
	return ZOO_LOG_LEVEL_DEBUG;
}

void zkh_zk_route_log(void (*fn)(enum zkh_log_level, const char *line),
		      enum zkh_log_level max_level)
{
	static const cookie_io_functions_t io = { .write = cookie_write };

	pthread_mutex_lock(&log_lock);
	log_fn = fn;
	log_max = max_level;
	if (!log_stream) {
		/* Lives for the whole process: the client keeps the FILE *
		 * and may write to it from its threads until exit. */
		log_stream = fopencookie(NULL, "w", io);
		if (log_stream)
			setvbuf(log_stream, NULL, _IOLBF, 0);
	}
	pthread_mutex_unlock(&log_lock);
	zoo_set_debug_level(zoo_level_of(max_level));
	if (log_stream)
		zoo_set_log_stream(log_stream);
}

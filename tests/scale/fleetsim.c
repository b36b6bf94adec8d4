/*
 * fleetsim.c - many simulated zkcached consumers in one process, for the
 * fleet simulator (tests/scale/fleet.py, `make scale`). Each of SESSIONS
 * ZooKeeper sessions (libzookeeper_st: one thread, every handle driven by
 * one epoll loop) reads the fleet index like a consumer daemon: it holds a
 * data watch on the head and reads the head on every notification (one
 * read in flight, notifications coalesced); it publishes nothing. For a
 * probe name it records when each session first saw it: in the head's
 * ring, or - when the ring no longer holds it - in its bucket, read
 * then. Bytes received are those of the whole process (/proc/self/io
 * rchar), reported per session by the driver.
 *
 * Protocol (stdin -> stdout, one line each):
 *   probe NAME        -> "ready": watch for NAME from now on
 *   ack NAME T_NS     the create of NAME was acknowledged at T_NS
 *                     (CLOCK_MONOTONIC, system-wide); once every session
 *                     saw it (or after 30 s): "result NAME SEEN P50_MS
 *                     P99_MS MAX_MS"
 *   stats             -> "stats CONNECTED HEAD_READS BUCKET_READS RCHAR
 *                     SESSIONS_LOST"
 *   quit
 * At start, once every session is connected and read the head once:
 * "up N".
 *
 * Usage: fleetsim -z CONNECT -r ROOT -n SESSIONS [-t SESSION_TIMEOUT_MS]
 */
#include <errno.h>
#include <inttypes.h>
#include <sys/epoll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zookeeper/zookeeper.h>

#include "zkhosts/names.h"
#include "zkhosts/zkindex.h"

#define MAX_PROBES 8

struct sess {
	zhandle_t *zh;
	int idx;
	bool connected, ever, head_inflight, again, read_once;
	uint64_t seen[MAX_PROBES];	/* ns, 0 = not yet */
	uint64_t due_ns;	/* zookeeper_interest() is due again (ping, timeout) */
	int fd;			/* registered with the epoll set, -1: none */
};

struct probe {
	char name[ZKH_NAME_MAX + 1];
	bool active;
	int nseen;	/* sessions that saw it */
	uint64_t ack_ns, start_ns;
};

static struct sess *S;
static int NS;
static char HEAD[1100], DIR_[1024];
static struct probe P[MAX_PROBES];
static uint64_t head_reads, bucket_reads, lost;
static int nread_once;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void read_head(struct sess *s);

/* Session s saw probe k now. */
static void mark_seen(struct sess *s, int k)
{
	s->seen[k] = now_ns();
	P[k].nseen++;
}

static void bucket_done(int rc, const char *value, int len,
			const struct Stat *st, const void *data)
{
	struct sess *s = &S[(intptr_t)data / MAX_PROBES];
	int k = (int)((intptr_t)data % MAX_PROBES);
	char pat[ZKH_NAME_MAX + 8];

	(void)st;
	if (rc != ZOK || !P[k].active || s->seen[k] || !value)
		return;
	snprintf(pat, sizeof pat, "\n%.253s ", P[k].name);
	if (memmem(value, (size_t)len, pat, strlen(pat)))
		mark_seen(s, k);
}

static void head_done(int rc, const char *value, int len,
		      const struct Stat *st, const void *data)
{
	struct sess *s = &S[(intptr_t)data];
	struct zkx_head h;
	size_t body;

	(void)st;
	s->head_inflight = false;
	if (!s->read_once)
		nread_once++;
	s->read_once = true;
	if (rc == ZOK && value && zkx_head_parse(value, (size_t)len, &h, &body) == 0) {
		for (int k = 0; k < MAX_PROBES; k++) {
			char pat[ZKH_NAME_MAX + 8], path[1100];
			char key[ZKH_NAME_MAX + 1];

			if (!P[k].active || s->seen[k])
				continue;
			snprintf(pat, sizeof pat, "\n+ %.253s ", P[k].name);
			if (memmem(value, (size_t)len, pat, strlen(pat))) {
				mark_seen(s, k);
				continue;
			}
			if (!P[k].ack_ns)
				continue;
			/* not in the ring: was it there and trimmed? read its bucket */
			zkh_name_fold(P[k].name, strlen(P[k].name), key);
			snprintf(path, sizeof path, "%s/b%u", DIR_,
				 zkx_bucket_of(zkx_hash(key, strlen(key)), h.nbuckets));
			bucket_reads++;
			zoo_aget(s->zh, path, 0, bucket_done,
				 (const void *)(intptr_t)(s->idx * MAX_PROBES + k));
		}
	}
	if (s->again)
		read_head(s);
}

static void read_head(struct sess *s)
{
	if (s->head_inflight) {
		s->again = true;
		return;
	}
	s->again = false;
	s->head_inflight = true;
	head_reads++;
	if (zoo_aget(s->zh, HEAD, 1, head_done, (const void *)(intptr_t)s->idx) != ZOK)
		s->head_inflight = false;
}

static void watcher(zhandle_t *zh, int type, int state, const char *path,
		    void *ctx)
{
	struct sess *s = ctx;

	(void)zh;
	(void)path;
	if (type == ZOO_SESSION_EVENT) {
		if (state == ZOO_CONNECTED_STATE) {
			bool first = !s->ever;

			s->connected = s->ever = true;
			if (first)
				read_head(s);
		} else if (state == ZOO_EXPIRED_SESSION_STATE) {
			s->connected = false;
			lost++;
		} else {
			s->connected = false;
		}
		return;
	}
	if (type == ZOO_CHANGED_EVENT || type == ZOO_CREATED_EVENT)
		read_head(s);
}

static uint64_t rchar(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	uint64_t v = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "rchar: %" SCNu64, &v) == 1)
			break;
	fclose(f);
	return v;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Report probe k if every session saw it or it timed out. */
static void maybe_report(int k)
{
	uint64_t *lat;
	int n = P[k].nseen;

	if (!P[k].active || !P[k].ack_ns)
		return;
	if (n < NS && now_ns() - P[k].ack_ns < 30000000000ull)
		return;
	lat = calloc((size_t)(n ? n : 1), sizeof *lat);
	if (!lat)
		exit(1);
	n = 0;
	for (int i = 0; i < NS; i++)
		if (S[i].seen[k])
			lat[n++] = S[i].seen[k] > P[k].ack_ns ? S[i].seen[k] - P[k].ack_ns : 0;
	qsort(lat, (size_t)n, sizeof *lat, cmp_u64);
	printf("result %s %d %.3f %.3f %.3f\n", P[k].name, n,
	       n ? lat[n / 2] / 1e6 : -1.0,
	       n ? lat[(size_t)((n - 1) * 0.99)] / 1e6 : -1.0,
	       n ? lat[n - 1] / 1e6 : -1.0);
	fflush(stdout);
	free(lat);
	P[k].active = false;
}

static void command(char *line)
{
	char name[ZKH_NAME_MAX + 1];
	uint64_t t;

	if (sscanf(line, "probe %253s", name) == 1) {
		for (int k = 0; k < MAX_PROBES; k++)
			if (!P[k].active) {
				memset(&P[k], 0, sizeof P[k]);
				snprintf(P[k].name, sizeof P[k].name, "%s", name);
				P[k].active = true;
				P[k].start_ns = now_ns();
				for (int i = 0; i < NS; i++)
					S[i].seen[k] = 0;
				break;
			}
		printf("ready\n");
	} else if (sscanf(line, "ack %253s %" SCNu64, name, &t) == 2) {
		for (int k = 0; k < MAX_PROBES; k++)
			if (P[k].active && strcmp(P[k].name, name) == 0)
				P[k].ack_ns = t;
	} else if (strncmp(line, "stats", 5) == 0) {
		int c = 0;

		for (int i = 0; i < NS; i++)
			c += S[i].connected;
		printf("stats %d %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", c,
		       head_reads, bucket_reads, rchar(), lost);
	} else if (strncmp(line, "quit", 4) == 0) {
		exit(0);
	}
	fflush(stdout);
}

/* Process session i's events `ev` (0: only its timers), ask it what it
 * waits for next and bring its entry of the epoll set `ep` up to date. */
static void drive(int ep, int i, int ev, uint64_t now)
{
	struct sess *s = &S[i];
	int fd = -1, interest = 0;
	struct timeval tv = { 0, 0 };
	struct epoll_event e = { 0 };
	uint64_t wait;

	zookeeper_process(s->zh, ev);
	zookeeper_interest(s->zh, &fd, &interest, &tv);
	e.events = (interest & ZOOKEEPER_READ ? EPOLLIN : 0u) |
		   (interest & ZOOKEEPER_WRITE ? EPOLLOUT : 0u);
	e.data.u32 = (uint32_t)i;
	/* The client changes sockets only after closing the old one, which
	 * leaves the set by itself (its number may already be another
	 * session's: never delete by number). */
	if (fd != s->fd) {
		if (fd >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0 &&
		    errno == EEXIST)
			epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
	} else if (fd >= 0 && epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e) < 0 &&
		   errno == ENOENT) {
		/* the client closed the socket and got the same number back */
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
	}
	s->fd = fd;
	wait = (uint64_t)tv.tv_sec * 1000000000u + (uint64_t)tv.tv_usec * 1000u;
	s->due_ns = now + (wait < 1000000u ? 1000000u : wait);
}

int main(int argc, char **argv)
{
	const char *connect = NULL, *root = "/zkhosts";
	int timeout = 20000, opt;
	struct epoll_event evs[256], in = { .events = EPOLLIN };
	int ep;
	char buf[4096];
	size_t blen = 0;
	bool up = false;

	while ((opt = getopt(argc, argv, "z:r:n:t:")) != -1) {
		if (opt == 'z')
			connect = optarg;
		else if (opt == 'r')
			root = optarg;
		else if (opt == 'n')
			NS = atoi(optarg);
		else if (opt == 't')
			timeout = atoi(optarg);
	}
	if (!connect || NS <= 0) {
		fprintf(stderr, "usage: fleetsim -z CONNECT -r ROOT -n SESSIONS [-t MS]\n");
		return 2;
	}
	zoo_set_log_stream(fopen("/dev/null", "w"));
	zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
	snprintf(DIR_, sizeof DIR_, "%s" ZKX_DIR, root);
	snprintf(HEAD, sizeof HEAD, "%s/" ZKX_HEAD_NAME, DIR_);
	S = calloc((size_t)NS, sizeof *S);
	ep = epoll_create1(EPOLL_CLOEXEC);
	in.data.u32 = (uint32_t)NS;
	if (!S || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, 0, &in) < 0)
		return 1;
	for (int i = 0; i < NS; i++) {
		S[i].idx = i;
		S[i].fd = -1;
		S[i].zh = zookeeper_init(connect, watcher, timeout, NULL, &S[i], 0);
		if (!S[i].zh) {
			fprintf(stderr, "fleetsim: zookeeper_init: %s\n", strerror(errno));
			return 1;
		}
	}
	/* Only sessions with socket events or a due timer are driven each
	 * turn: asking all of them every turn (and poll() over all their
	 * sockets) costs O(sessions) per wake-up, and a fan-out wakes the
	 * loop once for every few of its 1,000 reads. */
	for (;;) {
		uint64_t now = now_ns(), next = now + 100000000u;
		bool cmd = false;
		int tmo, n;

		for (int i = 0; i < NS; i++) {
			if (S[i].due_ns <= now)
				drive(ep, i, 0, now);
			if (S[i].due_ns < next)
				next = S[i].due_ns;
		}
		tmo = next > now ? (int)((next - now + 999999) / 1000000) : 0;
		n = epoll_wait(ep, evs, (int)(sizeof evs / sizeof evs[0]), tmo);
		if (n < 0 && errno != EINTR)
			return 1;
		now = now_ns();
		for (int j = 0; j < n; j++) {
			uint32_t i = evs[j].data.u32;
			int ev = 0;

			if (i == (uint32_t)NS) {
				cmd = true;
				continue;
			}
			if (evs[j].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				ev |= ZOOKEEPER_READ;
			if (evs[j].events & EPOLLOUT)
				ev |= ZOOKEEPER_WRITE;
			drive(ep, (int)i, ev, now);
		}
		if (cmd) {
			ssize_t r = read(0, buf + blen, sizeof buf - blen - 1);
			char *nl;

			if (r <= 0)
				return 0;
			blen += (size_t)r;
			buf[blen] = '\0';
			while ((nl = strchr(buf, '\n'))) {
				*nl = '\0';
				command(buf);
				blen -= (size_t)(nl + 1 - buf);
				memmove(buf, nl + 1, blen + 1);
			}
		}
		for (int k = 0; k < MAX_PROBES; k++)
			maybe_report(k);
		if (!up && nread_once == NS) {
			up = true;
			printf("up %d\n", NS);
			fflush(stdout);
		}
	}
}

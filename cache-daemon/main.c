/*
 * main.c - zkcached's entry point and main loop. Parses the command line,
 * loads the config (a bad one exits 2 with file:line:key), sets the roles up
 * (dispatch.c), opens the cache (serving the last snapshot at once:
 * READY=1 does not wait for ZooKeeper), then runs one poll() loop over a
 * table of descriptors (the signalfd, the event queue's eventfd and
 * selfheal.c's inotify descriptor; more sources are one loop_add each)
 * whose timeout is the nearest deadline (publish, reconnect, registration
 * retry, status heartbeat, cache check). Signals only
 * set flags or ask for work through that table. Every ZooKeeper request,
 * every LMDB write and zookeeper_close happen on this thread.
 * SIGTERM/SIGINT close the session (so our ephemeral registration vanishes
 * at once), publish what is pending, and exit 0. A cache directory removed
 * and impossible to create again ends the loop the same way, with exit
 * status ZKD_EXIT_CACHE_LOST (selfheal.h) so that systemd restarts us.
 * SIGHUP re-reads the config
 * (zkd_reload: live keys at once, session keys by a new session after a
 * random delay; a bad file is refused, the running config kept); it never
 * resyncs by itself: SIGUSR1 asks for a full resync. The loop also pings
 * the systemd watchdog (WatchdogSec=), whatever ZooKeeper's state.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "selfheal.h"
#include "zkcached.h"

/* -v / -q given: they win over the config's log_level. */
static int cmdline_level;
static int verbose;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: zkcached [-c FILE] [-v|-q]\n"
		"Keep the zkhosts cache in sync with ZooKeeper (runs in the foreground).\n\n"
		"  -c, --config FILE  config file (default: $ZKHOSTS_CONF, else %s)\n"
		"  -v, --verbose      log debug lines too, the ZooKeeper client's among\n"
		"                     them (twice: the client's own debug lines too)\n"
		"  -q, --quiet        log warnings and errors only\n"
		"  -h, --help         this help\n"
		"  -V, --version      print the version\n\n"
		"Signals: SIGHUP re-reads the config (no resync), SIGUSR1 resyncs\n"
		"everything, SIGTERM/SIGINT stop.\n\n"
		"Exit status: 0 after SIGTERM/SIGINT, 1 on a runtime failure, 2 on a bad\n"
		"command line or config, %d when the cache directory was removed and\n"
		"cannot be created again.\n", ZKH_DEFAULT_CONF, ZKD_EXIT_CACHE_LOST);
}

/* Load and check the config at `path` into *c; on error, msg says
 * "file:line: key 'k': why". */
static int read_config(const char *path, struct zkh_config *c, char *msg,
		       size_t cap)
{
	struct zkh_config_error err;
	int rc = zkh_config_load(path, ZKH_CONFIG_STRICT, c, &err);

	if (rc == 0)
		rc = zkh_config_require_zookeeper(c, path, &err);
	if (rc) {
		if (rc == -ENOENT && !err.msg[0])
			snprintf(msg, cap, "%s: no such file", path);
		else
			zkh_config_strerror(&err, msg, cap);
		return -EINVAL;
	}
	return 0;
}

static int load_config(struct zkd *d, const char *explicit_path)
{
	char msg[ZKH_PATH_MAX + 512];
	const char *path = zkh_config_path(explicit_path);

	snprintf(d->conf_path, sizeof d->conf_path, "%s", path);
	if (read_config(path, &d->cfg, msg, sizeof msg)) {
		zkd_log(ZKH_LOG_ERR, "bad config: %s", msg);
		return -EINVAL;
	}
	return 0;
}

/* The log level: -v/-q, else the config's; the client's lines follow. */
static void apply_log_level(int cfg_level)
{
	int lvl = cmdline_level ? cmdline_level : cfg_level;

	zkd_log_level = lvl;
	zkh_zk_route_log(zkd_log_zk_line, verbose > 1 ? ZKH_LOG_DEBUG : ZKH_LOG_WARN);
}

/* SIGHUP: read the config again; a bad one changes nothing. */
static void reload(struct zkd *d, uint64_t now)
{
	static struct zkh_config nc;	/* large: keep it off the stack */
	char msg[ZKH_PATH_MAX + 512];

	sd_notify(0, "RELOADING=1");
	zkd_log(ZKH_LOG_INFO, "SIGHUP: reading %s again", d->conf_path);
	if (read_config(d->conf_path, &nc, msg, sizeof msg)) {
		zkd_log(ZKH_LOG_ERR, "reload refused, keeping the running "
			"configuration: %s", msg);
	} else if (zkd_reload(d, &nc, now, msg, sizeof msg)) {
		zkd_log(ZKH_LOG_ERR, "reload refused, keeping the running "
			"configuration: %s: %s", d->conf_path, msg);
	} else {
		apply_log_level(nc.log_level);
		zkd_log(ZKH_LOG_INFO, "configuration reloaded");
	}
	sd_notify(0, "READY=1");
}

/* Inode of this process's PID namespace (0 if unknown): the status file
 * records it so a reader knows whether our pid means anything to it. */
static uint64_t pid_namespace(void)
{
	struct stat st;

	return stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
}

/* ---- the loop ------------------------------------------------------------ */

/*
 * One poll() over a table of descriptors, each with its handler; its
 * timeout is the nearest deadline of any role. A new event source is one
 * more row (loop_add). Handlers run on this thread and must not block.
 */
#define LOOP_MAX_FDS 8
/* Upper bound of one poll() wait, so a clock jump cannot stall the loop. */
#define LOOP_MAX_WAIT_MS 60000

struct loop_fd {
	int fd;
	void (*on_ready)(struct zkd *d, int fd, uint64_t now);
};

struct loop {
	struct loop_fd fds[LOOP_MAX_FDS];
	size_t n;
};

static int loop_add(struct loop *l, int fd,
		    void (*on_ready)(struct zkd *d, int fd, uint64_t now))
{
	if (l->n == LOOP_MAX_FDS)
		return -ENOSPC;
	l->fds[l->n].fd = fd;
	l->fds[l->n].on_ready = on_ready;
	l->n++;
	return 0;
}

/* Signals arrive only here (blocked everywhere, read from a signalfd). */
static void on_signal(struct zkd *d, int sfd, uint64_t now)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			zkd_log(ZKH_LOG_INFO, "signal %u: stopping", si.ssi_signo);
			d->stopping = true;
		} else if (si.ssi_signo == SIGHUP) {
			reload(d, now);
		} else if (si.ssi_signo == SIGUSR1) {
			zkd_log(ZKH_LOG_INFO, "SIGUSR1: full resync");
			zkd_resync(d, now);
		}
	}
}

static void on_events(struct zkd *d, int efd, uint64_t now)
{
	(void)efd;
	zkd_process_events(d, now);
}

static void on_cache_event(struct zkd *d, int ifd, uint64_t now)
{
	(void)ifd;
	(void)now;
	selfheal_on_events(d);
}

/* Returns 0 when asked to stop, ZKD_EXIT_CACHE_LOST, or -errno. */
static int run(struct zkd *d, const struct loop *l)
{
	struct pollfd pfd[LOOP_MAX_FDS];

	for (;;) {
		uint64_t now = zkd_now_ms();
		zkd_tick(d, now);
		int lost = selfheal_tick(d, now);
		if (lost)
			return lost;
		if (d->stopping)
			return 0;
		uint64_t dl = zkd_deadline(d), sh = selfheal_deadline();
		if (sh && (!dl || sh < dl))
			dl = sh;
		now = zkd_now_ms();
		int timeout = dl == 0 ? -1 : dl <= now ? 0 :
			dl - now > LOOP_MAX_WAIT_MS ? LOOP_MAX_WAIT_MS : (int)(dl - now);
		for (size_t i = 0; i < l->n; i++)
			pfd[i] = (struct pollfd){ .fd = l->fds[i].fd, .events = POLLIN };
		int n = poll(pfd, (nfds_t)l->n, timeout);
		if (n < 0 && errno != EINTR) {
			zkd_log(ZKH_LOG_ERR, "poll: %s", strerror(errno));
			return -errno;
		}
		for (size_t i = 0; n > 0 && i < l->n; i++)
			if (pfd[i].revents & POLLIN)
				l->fds[i].on_ready(d, pfd[i].fd, zkd_now_ms());
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static struct zkd d;	/* large: keep it off the stack */
	const char *conf = NULL;
	int quiet = 0, c, rc, status = 1, sfd = -1;
	struct zkh_publisher *pub = NULL;
	struct loop l = { .n = 0 };
	char err[ZKH_PATH_MAX + 512];
	sigset_t mask;

	while ((c = getopt_long(argc, argv, "c:vqhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'v': verbose++; break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("zkcached %s\n", ZKH_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "zkcached: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	zkd_log_init();
	cmdline_level = quiet ? ZKH_LOG_WARN : verbose ? ZKH_LOG_DEBUG : 0;
	zkd_log_level = cmdline_level ? cmdline_level : ZKH_LOG_INFO;
	if (load_config(&d, conf))
		return 2;
	/* Never resolve the ensemble through our own module. */
	setenv(ZKH_NSS_BYPASS_ENV, "1", 1);
	srandom((unsigned)(getpid() ^ (unsigned)time(NULL)));

	/* Block the signals before any thread exists, so every thread
	 * inherits the mask and they arrive only through the signalfd. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		zkd_log(ZKH_LOG_ERR, "signalfd: %s", strerror(errno));
		return 1;
	}
	apply_log_level(d.cfg.log_level);
	d.pidns = pid_namespace();
	report_watchdog_init(&d.rep);

	rc = zkd_init(&d, err, sizeof err);
	if (rc) {
		zkd_log(ZKH_LOG_ERR, "%s: %s", d.conf_path, err);
		status = rc == -EINVAL || rc == -ENAMETOOLONG ? 2 : 1;
		goto out;
	}
	if (loop_add(&l, sfd, on_signal) || loop_add(&l, d.q.efd, on_events))
		goto out;
	struct zkh_pub_options po = {
		.domain = d.cfg.domain[0] ? d.cfg.domain : NULL,
		.fsync = d.cfg.fsync,
	};
	rc = zkh_pub_open(d.cfg.cache, &po, &pub);
	if (rc) {
		zkd_log(ZKH_LOG_ERR, "cannot open the cache %s: %s", d.cfg.cache, strerror(-rc));
		goto out;
	}
	zkd_attach_publisher(&d, pub);
	selfheal_init(&d);
	if (selfheal_fd() >= 0 && loop_add(&l, selfheal_fd(), on_cache_event))
		goto out;
	d.started_us = zkd_realtime_us();
	zkd_log(ZKH_LOG_INFO, "zkcached %s: cache %s (%llu records, generation %llu), root %s",
		ZKH_VERSION, d.cfg.cache, (unsigned long long)zkh_pub_count(pub),
		(unsigned long long)zkh_pub_generation(pub), d.m.root);
	report_mark(&d.rep);
	zkd_tick(&d, zkd_now_ms());	/* the status file, before READY=1 */
	report_ready(zkh_pub_count(pub), zkd_state_name(d.s.state));
	zkd_open_session(&d, zkd_now_ms());
	rc = run(&d, &l);
	zkd_shutdown(&d, zkd_now_ms());
	status = rc == ZKD_EXIT_CACHE_LOST ? rc : rc ? 1 : 0;
out:
	selfheal_free();
	d.pub = NULL;
	zkh_pub_close(pub);
	zkd_free(&d);
	close(sfd);
	return status;
}

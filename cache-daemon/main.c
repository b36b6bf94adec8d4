/*
 * main.c - zkcached's entry point and main loop. Parses the command line,
 * loads the config (a bad one exits 2 with file:line:key), opens the cache
 * (serving the last snapshot at once: READY=1 does not wait for
 * ZooKeeper), then runs one poll() loop over a signalfd, the event
 * queue's eventfd and selfheal.c's inotify descriptor whose timeout is the
 * nearest deadline (publish, reconnect, registration retry, status
 * heartbeat, cache check). Every ZooKeeper write, every LMDB
 * write and zookeeper_close happen on this thread. SIGTERM/SIGINT close
 * the session (so our ephemeral registration vanishes at once), publish
 * what is pending, and exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "selfheal.h"
#include "zkcached.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: zkcached [-c FILE] [-v|-q]\n"
		"Keep the zkhosts cache in sync with ZooKeeper (runs in the foreground).\n\n"
		"  -c, --config FILE  config file (default: $ZKHOSTS_CONF, else %s)\n"
		"  -v, --verbose      log debug lines too (twice: ZooKeeper client's too)\n"
		"  -q, --quiet        log warnings and errors only\n"
		"  -h, --help         this help\n"
		"  -V, --version      print the version\n\n"
		"Exit status: 0 after SIGTERM/SIGINT, 1 on a runtime failure, 2 on a bad\n"
		"command line or config.\n", ZKH_DEFAULT_CONF);
}

static int load_config(struct zkd *d, const char *explicit_path)
{
	struct zkh_config_error err;
	char msg[ZKH_PATH_MAX + 512];
	const char *path = zkh_config_path(explicit_path);

	snprintf(d->conf_path, sizeof d->conf_path, "%s", path);
	int rc = zkh_config_load(path, ZKH_CONFIG_STRICT, &d->cfg, &err);
	if (rc == 0)
		rc = zkh_config_require_zookeeper(&d->cfg, path, &err);
	if (rc) {
		if (rc == -ENOENT && !err.msg[0])
			snprintf(msg, sizeof msg, "%s: no such file", path);
		else
			zkh_config_strerror(&err, msg, sizeof msg);
		zkd_log(ZKH_LOG_ERR, "bad config: %s", msg);
		return -EINVAL;
	}
	return 0;
}

static void process_events(struct zkd *d)
{
	struct zkd_event *e = evq_take_all(&d->q);
	while (e) {
		struct zkd_event *next = e->next;
		if (e->gen == d->s.gen && d->s.zh) {
			switch (e->kind) {
			case EV_WATCH:
				if (e->type == ZOO_SESSION_EVENT)
					session_on_event(d, e);
				else
					mirror_on_watch(d, e);
				break;
			case EV_CHILDREN:
				mirror_on_children(d, e);
				break;
			case EV_DATA:
				mirror_on_data(d, e);
				break;
			case EV_VOID:
				if (e->tag == TAG_ENSURE)
					mirror_on_ensure(d, e);
				else if (e->tag == TAG_AUTH && e->rc != ZOK &&
					 e->rc != ZCLOSING)
					zkd_log(ZKH_LOG_ERR, "authentication with auth_file %s: %s",
						d->cfg.auth_file, zerror(e->rc));
				else
					register_on_result(d, e);
				break;
			case EV_EXISTS:
				register_on_result(d, e);
				break;
			}
		}
		zkd_ev_free(e);
		e = next;
	}
	if (evq_take_lost(&d->q) && d->s.zh) {
		zkd_log(ZKH_LOG_ERR, "out of memory in a ZooKeeper callback; resyncing everything");
		session_set_state(d, ZST_SYNCING);
		mirror_start_full_sync(d);
	}
}

static uint64_t min_deadline(uint64_t a, uint64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

static int run(struct zkd *d, int sfd)
{
	for (;;) {
		uint64_t now = zkd_now_ms();
		session_tick(d, now);
		mirror_pump(d);
		register_tick(d, now);
		batch_tick(d, now, false);
		selfheal_tick(d, now);
		report_tick(d, now, false);
		if (d->stopping)
			return 0;
		uint64_t dl = min_deadline(min_deadline(session_deadline(d), batch_deadline(d)),
					   min_deadline(register_deadline(d), report_deadline(d)));
		dl = min_deadline(dl, selfheal_deadline());
		now = zkd_now_ms();
		int timeout = dl == 0 ? -1 : dl <= now ? 0 :
			dl - now > 60000 ? 60000 : (int)(dl - now);
		struct pollfd pfd[3] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = d->q.efd, .events = POLLIN },
			{ .fd = selfheal_fd(), .events = POLLIN },
		};
		int n = poll(pfd, 3, timeout);
		if (n < 0 && errno != EINTR) {
			zkd_log(ZKH_LOG_ERR, "poll: %s", strerror(errno));
			return -errno;
		}
		if (n > 0 && (pfd[0].revents & POLLIN)) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
				if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
					zkd_log(ZKH_LOG_INFO, "signal %u: stopping", si.ssi_signo);
					d->stopping = true;
				} else if (si.ssi_signo == SIGHUP) {
					zkd_log(ZKH_LOG_INFO, "SIGHUP: full resync");
					if (session_usable(d)) {
						session_set_state(d, ZST_SYNCING);
						mirror_start_full_sync(d);
					}
				}
			}
		}
		if (n > 0 && (pfd[1].revents & POLLIN))
			process_events(d);
		if (n > 0 && (pfd[2].revents & POLLIN))
			selfheal_on_events(d);
	}
}

static void shutdown_daemon(struct zkd *d)
{
	/* Closing the session first makes our ephemeral record vanish now. */
	session_close(d);
	struct zkd_event *e = evq_take_all(&d->q);
	while (e) {
		struct zkd_event *next = e->next;
		zkd_ev_free(e);
		e = next;
	}
	if (d->pub)
		batch_tick(d, zkd_now_ms(), true);
	d->s.state = ZST_STOPPED;
	if (d->pub)
		report_tick(d, zkd_now_ms(), true);
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
	int verbose = 0, quiet = 0, c, rc, status = 1, sfd = -1;
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
	zkd_log_level = quiet ? ZKH_LOG_WARN : verbose ? ZKH_LOG_DEBUG : ZKH_LOG_INFO;
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
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		zkd_log(ZKH_LOG_ERR, "signalfd: %s", strerror(errno));
		return 1;
	}
	zkh_zk_route_log(zkd_log_zk_line, verbose > 1 ? ZKH_LOG_DEBUG : ZKH_LOG_WARN);

	rc = evq_init(&d.q);
	if (rc) {
		zkd_log(ZKH_LOG_ERR, "event queue: %s", strerror(-rc));
		goto out_sfd;
	}
	if (session_setup(&d)) {
		zkd_log(ZKH_LOG_ERR, "%s: %s", d.conf_path, d.st.last_error);
		status = 2;
		goto out_q;
	}
	rc = mirror_init(&d);
	if (rc) {
		zkd_log(ZKH_LOG_ERR, "%s: root %s: %s", d.conf_path, d.cfg.root, strerror(-rc));
		status = 2;
		goto out_mirror;
	}
	struct zkh_pub_options po = {
		.domain = d.cfg.domain[0] ? d.cfg.domain : NULL,
		.fsync = d.cfg.fsync,
	};
	rc = zkh_pub_open(d.cfg.cache, &po, &d.pub);
	if (rc) {
		zkd_log(ZKH_LOG_ERR, "cannot open the cache %s: %s", d.cfg.cache, strerror(-rc));
		goto out_mirror;
	}
	/* A snapshot missing or unusable while the master holds records is
	 * rebuilt now, so lookups are served before ZooKeeper answers. */
	if (zkh_pub_needs_publish(d.pub) && zkh_pub_count(d.pub) > 0)
		batch_request_publish(&d);
	batch_tick(&d, zkd_now_ms(), true);
	selfheal_init(&d);
	register_init(&d);
	d.st.started_us = zkd_realtime_us();
	zkd_log(ZKH_LOG_INFO, "zkcached %s: cache %s (%llu records, generation %llu), root %s",
		ZKH_VERSION, d.cfg.cache, (unsigned long long)zkh_pub_count(d.pub),
		(unsigned long long)zkh_pub_generation(d.pub), d.m.root);
	report_tick(&d, zkd_now_ms(), true);
	report_ready(&d);
	session_open(&d);
	rc = run(&d, sfd);
	shutdown_daemon(&d);
	status = rc ? 1 : 0;
	selfheal_free();
	zkh_pub_close(d.pub);
	d.pub = NULL;
out_mirror:
	mirror_free(&d);
	batch_free(&d);
out_q:
	evq_destroy(&d.q);
out_sfd:
	close(sfd);
	memset(d.s.auth_cred, 0, sizeof d.s.auth_cred);
	return status;
}

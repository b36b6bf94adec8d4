/*
 * log.c - zkcached's logger (contract: log.h): one line per message,
 * either to the journal with structured fields (when stderr is the
 * journal's stream, JOURNAL_STREAM) or to stderr with an ISO 8601
 * timestamp. Also the hook that receives the ZooKeeper client's own lines
 * (kept quiet at debug priority; its last error is remembered for the
 * daemon's messages), and the two clocks the daemon uses. Any thread may
 * log: a line is one write() or one sd_journal_sendv, so lines of
 * different threads never interleave.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"

_Atomic int zkd_log_level = ZKH_LOG_INFO;

static atomic_int to_journal;	/* stderr is the journal's stream */
static atomic_int journal_socket;	/* and its native socket is there */
static _Atomic(const char *) ctx_state = "starting";
static _Atomic uint64_t ctx_session;

static pthread_mutex_t zk_last_lock = PTHREAD_MUTEX_INITIALIZER;
static char zk_last_err[256], zk_last_warn[256];

static const char *level_word(enum zkh_log_level lvl)
{
	switch (lvl) {
	case ZKH_LOG_ERR: return "error";
	case ZKH_LOG_WARN: return "warning";
	case ZKH_LOG_INFO: return "info";
	case ZKH_LOG_DEBUG: return "debug";
	}
	return "?";
}

void zkd_log_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* systemd.exec(5): JOURNAL_STREAM is "device:inode" of the stream
	 * stdout/stderr were connected to; it is inherited, so compare it
	 * with what stderr is now (a redirect means not the journal). */
	atomic_store(&to_journal, js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
		     fstat(STDERR_FILENO, &st) == 0 &&
		     (unsigned long long)st.st_dev == dev &&
		     (unsigned long long)st.st_ino == ino);
	/* sd_journal_sendv drops entries silently when there is no journald
	 * socket: then the stream's <N> prefix form is the way in */
	atomic_store(&journal_socket, stat("/run/systemd/journal/socket", &st) == 0 &&
		     S_ISSOCK(st.st_mode));
}

int zkd_log_to_journal(void)
{
	return atomic_load(&to_journal);
}

void zkd_log_context(const char *state, uint64_t session)
{
	atomic_store(&ctx_state, state);
	atomic_store(&ctx_session, session);
}

/* One line to stderr: the journal's prefix form, or a timestamped one. */
static void emit_stderr(enum zkh_log_level lvl, bool journal, const char *prefix,
			const char *msg)
{
	char line[2048], stamp[48] = "", zone[8];
	struct timespec ts;
	struct tm tm;
	int n;

	if (journal) {
		n = snprintf(line, sizeof line, "<%d>zkcached: %s: %s%s", (int)lvl,
			     level_word(lvl), prefix, msg);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		/* strftime's %z is +hhmm; ISO 8601 extended wants +hh:mm */
		if (strftime(zone, sizeof zone, "%z", &tm) == 5) {
			zone[6] = '\0';
			zone[5] = zone[4];
			zone[4] = zone[3];
			zone[3] = ':';
		}
		n = (int)strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(stamp + n, sizeof stamp - (size_t)n, ".%03ld%s",
			 ts.tv_nsec / 1000000L, zone);
		n = snprintf(line, sizeof line, "%s zkcached: %s: %s%s", stamp,
			     level_word(lvl), prefix, msg);
	}
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line - 1)
		n = (int)sizeof line - 2;
	while (n > 0 && line[n - 1] == '\n')
		n--;
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

static void emit(enum zkh_log_level lvl, const char *prefix, const char *znode,
		 const char *msg)
{
	char f_msg[2048], f_prio[16], f_state[40], f_sess[48], f_znode[1100];
	struct iovec iov[6];
	int n = 0;

	if (!atomic_load(&to_journal) || !atomic_load(&journal_socket)) {
		emit_stderr(lvl, atomic_load(&to_journal), prefix, msg);
		return;
	}
	snprintf(f_msg, sizeof f_msg, "MESSAGE=%s%s", prefix, msg);
	snprintf(f_prio, sizeof f_prio, "PRIORITY=%d", (int)lvl);
	snprintf(f_state, sizeof f_state, "ZKHOSTS_STATE=%s", atomic_load(&ctx_state));
	snprintf(f_sess, sizeof f_sess, "ZKHOSTS_SESSION=0x%" PRIx64,
		 atomic_load(&ctx_session));
	iov[n++] = (struct iovec){ f_msg, strlen(f_msg) };
	iov[n++] = (struct iovec){ f_prio, strlen(f_prio) };
	iov[n++] = (struct iovec){ (char *)"SYSLOG_IDENTIFIER=zkcached", 26 };
	iov[n++] = (struct iovec){ f_state, strlen(f_state) };
	iov[n++] = (struct iovec){ f_sess, strlen(f_sess) };
	if (znode) {
		snprintf(f_znode, sizeof f_znode, "ZKHOSTS_ZNODE=%s", znode);
		iov[n++] = (struct iovec){ f_znode, strlen(f_znode) };
	}
	if (sd_journal_sendv(iov, n) < 0)
		emit_stderr(lvl, true, prefix, msg);
}

__attribute__((format(printf, 3, 0)))
static void vlog(enum zkh_log_level lvl, const char *znode, const char *fmt,
		 va_list ap)
{
	char msg[1800];

	vsnprintf(msg, sizeof msg, fmt, ap);
	emit(lvl, "", znode, msg);
}

void zkd_log(enum zkh_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if ((int)lvl > atomic_load(&zkd_log_level))
		return;
	va_start(ap, fmt);
	vlog(lvl, NULL, fmt, ap);
	va_end(ap);
}

void zkd_log_znode(enum zkh_log_level lvl, const char *znode,
		   const char *fmt, ...)
{
	va_list ap;

	if ((int)lvl > atomic_load(&zkd_log_level))
		return;
	va_start(ap, fmt);
	vlog(lvl, znode, fmt, ap);
	va_end(ap);
}

void zkd_log_zk_line(enum zkh_log_level lvl, const char *line)
{
	char prefix[32];

	if (lvl <= ZKH_LOG_WARN) {
		/* "func@line: message": keep the message */
		const char *msg = strstr(line, ": ");

		msg = msg && msg - line < 64 ? msg + 2 : line;
		pthread_mutex_lock(&zk_last_lock);
		if (lvl == ZKH_LOG_ERR)
			snprintf(zk_last_err, sizeof zk_last_err, "%s", msg);
		else
			snprintf(zk_last_warn, sizeof zk_last_warn, "%s", msg);
		pthread_mutex_unlock(&zk_last_lock);
	}
	/* The client's lines are the daemon's debug output, whatever the
	 * client's own level (kept in the text). */
	if (ZKH_LOG_DEBUG > atomic_load(&zkd_log_level))
		return;
	snprintf(prefix, sizeof prefix, "zookeeper: %s: ", level_word(lvl));
	emit(ZKH_LOG_DEBUG, prefix, NULL, line);
}

void zkd_log_zk_last(char *out, size_t cap)
{
	pthread_mutex_lock(&zk_last_lock);
	snprintf(out, cap, "%s", zk_last_err[0] ? zk_last_err : zk_last_warn);
	pthread_mutex_unlock(&zk_last_lock);
}

void zkd_log_zk_forget(void)
{
	pthread_mutex_lock(&zk_last_lock);
	zk_last_err[0] = zk_last_warn[0] = '\0';
	pthread_mutex_unlock(&zk_last_lock);
}

uint64_t zkd_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t zkd_realtime_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

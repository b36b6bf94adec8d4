/*
 * log.c - zkcached's logger: one line per message on stderr, prefixed
 * with the level, so that systemd's journal (which reads the "<N>" syslog
 * prefix when SYSLOG_LEVEL_PREFIX is on) and a terminal both read it well.
 * Also the hook that receives the ZooKeeper client's own log lines, and the
 * two clocks the daemon uses. Any thread may log; a line is written with
 * one write() so lines of different threads never interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

int zkd_log_level = ZKH_LOG_INFO;

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

static void emit(enum zkh_log_level lvl, const char *prefix, const char *msg)
{
	char line[2048];
	int n = snprintf(line, sizeof line, "<%d>zkcached: %s: %s%s", (int)lvl,
			 level_word(lvl), prefix, msg);
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

void zkd_log(enum zkh_log_level lvl, const char *fmt, ...)
{
	char msg[1800];
	va_list ap;

	if ((int)lvl > zkd_log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	emit(lvl, "", msg);
}

void zkd_log_zk_line(enum zkh_log_level lvl, const char *line)
{
	if ((int)lvl > zkd_log_level)
		return;
	emit(lvl, "zookeeper: ", line);
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

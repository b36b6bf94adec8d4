/*
 * status.c - the daemon's status file <cache>/status and its Prometheus
 * metrics file (contract: include/zkhosts/status.h). The writer replaces
 * either file atomically (a temporary file made with mkstemp in the same
 * directory, fchmod 0644, full write, rename over the old one), so a reader
 * sees the old or the new content, never a mix. The reader is tolerant of
 * what a newer daemon may add (unknown keys are skipped) and strict about
 * what it knows (a malformed number of a known key is -EINVAL). Both
 * files come from one table of fields (`fields` below), so the status file
 * and the metrics cannot drift apart; docs/status.md documents the schema.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zkhosts/snapshot.h"
#include "zkhosts/status.h"

#define STATUS_TEXT_MAX 8192	/* what we write is < 1 KiB */
#define METRICS_TEXT_MAX 8192
#define STATUS_READ_MAX 65536

/* Write `len` bytes of `text` to `path` atomically with mode 0644. */
static int atomic_write(const char *path, const char *text, size_t len)
{
	char tmp[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
	size_t off = 0;
	int fd = -1, rc;

	if (snprintf(tmp, sizeof(tmp), "%.*s.%s.XXXXXX", (int)dirlen, path,
		     path + dirlen) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0644) < 0) {
		rc = -errno;
		goto fail;
	}
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto fail;
		}
		off += (size_t)n;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = -errno;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

/* Copy `src` into dst (cap bytes) with control characters turned into
 * spaces, so a value can never break the one-pair-a-line format. */
static void sanitize(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	for (; src[i] && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	dst[i] = '\0';
}

/* ---- the schema ---------------------------------------------------------- */

enum kind {
	K_PID,		/* pid_t, decimal */
	K_STATE,	/* char[16], one word */
	K_BOOL,		/* bool, 0 or 1 */
	K_HEX,		/* uint64_t, 0x... */
	K_U64,		/* uint64_t, decimal */
	K_US,		/* uint64_t microseconds; metric in seconds */
	K_WORD,		/* char[32], one word, "" allowed; no metric */
};

/*
 * Every field of the status file and of the metrics, in file order. A
 * field with a metric name is exported too (K_US as seconds). Adding a
 * field: a member in struct zkh_status, a row here, a row in
 * docs/status.md. Errors (error_<source>, last_error) follow the table.
 */
static const struct field {
	const char *key;
	enum kind kind;
	size_t off;
	const char *metric, *type, *help;
} fields[] = {
#define F(key, kind, member, metric, type, help) \
	{ key, kind, offsetof(struct zkh_status, member), metric, type, help }
	F("pid", K_PID, pid, NULL, NULL, NULL),
	F("state", K_STATE, state, NULL, NULL, NULL),
	F("connected", K_BOOL, connected, "zkhosts_connected", "gauge",
	  "1 if zkcached holds a connected ZooKeeper session."),
	F("session", K_HEX, session, NULL, NULL, NULL),
	F("started_us", K_US, started_us, "zkhosts_start_time_seconds", "gauge",
	  "Start time of zkcached, Unix seconds."),
	F("updated_us", K_US, updated_us, "zkhosts_last_update_timestamp_seconds",
	  "gauge", "Last status update (heartbeat), Unix seconds."),
	F("last_sync_us", K_US, last_sync_us, "zkhosts_last_sync_timestamp_seconds",
	  "gauge", "Last completed full sync, Unix seconds (0: none)."),
	F("records", K_U64, records, "zkhosts_records", "gauge",
	  "Host records in the published cache."),
	F("skipped", K_U64, skipped, "zkhosts_skipped_records", "gauge",
	  "Znodes skipped as invalid (current)."),
	F("pending_reads", K_U64, pending_reads, "zkhosts_pending_reads", "gauge",
	  "Znodes whose reads ZooKeeper refuses (records kept, retried with backoff)."),
	F("pending_listing", K_BOOL, pending_listing, "zkhosts_pending_listing", "gauge",
	  "1 while ZooKeeper refuses the hosts listing (retried with backoff)."),
	F("retries", K_U64, retries, "zkhosts_retries_total", "counter",
	  "ZooKeeper requests sent again after a refusal, since start."),
	F("publishes", K_U64, publishes, "zkhosts_publishes_total", "counter",
	  "Snapshots published since start."),
	F("generation", K_U64, generation, "zkhosts_generation", "gauge",
	  "Generation of the published snapshot."),
	F("heartbeat_us", K_US, heartbeat_us, "zkhosts_heartbeat_timestamp_seconds",
	  "gauge", "Last time zkcached's loop wrote this (at least every "
	  "heartbeat interval): its age tells a dead or hung daemon."),
	F("heartbeat_interval_s", K_U64, heartbeat_interval_s,
	  "zkhosts_heartbeat_interval_seconds", "gauge",
	  "Longest time between two heartbeats of a live daemon."),
	F("pidns", K_U64, pidns, NULL, NULL, NULL),
	F("daemon_version", K_WORD, daemon_version, NULL, NULL, NULL),
	F("sessions", K_U64, sessions, "zkhosts_sessions_total", "counter",
	  "ZooKeeper sessions established since start."),
	F("reconnects", K_U64, reconnects, "zkhosts_reconnects_total", "counter",
	  "Reconnects of the same ZooKeeper session since start."),
	F("expiries", K_U64, expiries, "zkhosts_session_expiries_total", "counter",
	  "ZooKeeper sessions expired since start."),
	F("last_publish_us", K_US, last_publish_us,
	  "zkhosts_last_publish_timestamp_seconds", "gauge",
	  "Last snapshot published, Unix seconds (0: none since start)."),
	F("disconnected_us", K_US, disconnected_us,
	  "zkhosts_disconnected_since_timestamp_seconds", "gauge",
	  "Since when ZooKeeper is unusable, Unix seconds (0: connected)."),
	F("index_role", K_STATE, index_role, NULL, NULL, NULL),
	F("index_epoch", K_U64, index_epoch, "zkhosts_index_epoch", "gauge",
	  "Epoch of the fleet index followed or written."),
	F("index_seq", K_U64, index_seq, "zkhosts_index_seq", "gauge",
	  "Sequence of the last index write applied."),
	F("index_buckets", K_U64, index_buckets, "zkhosts_index_buckets", "gauge",
	  "Buckets of the fleet index."),
	F("index_lag_ms", K_U64, index_lag_ms, "zkhosts_index_lag_milliseconds", "gauge",
	  "How long the index has been seen behind <root>/hosts (0: in step)."),
	F("index_writes", K_U64, index_writes, "zkhosts_index_writes_total", "counter",
	  "Index writes (multis) this indexer made."),
	F("index_conflicts", K_U64, index_conflicts, "zkhosts_index_conflicts_total",
	  "counter", "Index writes refused by compare-and-set."),
	F("index_head_reads", K_U64, index_head_reads, "zkhosts_index_head_reads_total",
	  "counter", "Reads of the index head."),
	F("index_bucket_reads", K_U64, index_bucket_reads,
	  "zkhosts_index_bucket_reads_total", "counter", "Reads of index buckets."),
	F("index_exists_reads", K_U64, index_exists_reads,
	  "zkhosts_index_exists_reads_total", "counter",
	  "Version checks (exists) of index buckets and of <root>/hosts."),
	F("watch_sessions", K_U64, watch_sessions, "zkhosts_watch_sessions", "gauge",
	  "Extra ZooKeeper sessions holding a mirror's data watches (0: all on the main one)."),
	F("watch_max", K_U64, watch_max, "zkhosts_watches_per_session_max", "gauge",
	  "Largest number of data watches the mirror holds on one session."),
	F("watch_sessions_new", K_U64, watch_sessions_new,
	  "zkhosts_watch_sessions_established_total", "counter",
	  "Watch sessions established (first ones and after expiries), since start."),
#undef F
};

static const char *const source_names[ZKH_ERR_NSOURCES] = {
	[ZKH_ERR_CONNECTION] = "connection",
	[ZKH_ERR_AUTH] = "auth",
	[ZKH_ERR_REGISTRATION] = "registration",
	[ZKH_ERR_PUBLISH] = "publish",
	[ZKH_ERR_SYNC] = "sync",
	[ZKH_ERR_BUDGET] = "budget",
	[ZKH_ERR_INDEX] = "index",
};

const char *zkh_status_source_name(enum zkh_err_source src)
{
	return (unsigned)src < ZKH_ERR_NSOURCES ? source_names[src] : NULL;
}

static uint64_t get_u64(const struct zkh_status *s, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)s + off, sizeof(v));
	return v;
}

/* Append printf output to buf (cap) at *len; -EOVERFLOW if it does not fit. */
__attribute__((format(printf, 4, 5)))
static int append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *len)
		return -EOVERFLOW;
	*len += (size_t)n;
	return 0;
}

/* One field's value as status-file text. */
static void field_text(const struct zkh_status *s, const struct field *f,
		       char *out, size_t cap)
{
	const char *p = (const char *)s + f->off;

	switch (f->kind) {
	case K_PID:
		snprintf(out, cap, "%ld", (long)s->pid);
		break;
	case K_STATE:
		sanitize(out, cap < sizeof(s->state) ? cap : sizeof(s->state), p);
		for (char *q = out; *q; q++)
			if (*q == ' ')
				*q = '_';
		if (!out[0])
			snprintf(out, cap, "unknown");
		break;
	case K_BOOL:
		snprintf(out, cap, "%d", *(const bool *)p ? 1 : 0);
		break;
	case K_HEX:
		snprintf(out, cap, "0x%" PRIx64, get_u64(s, f->off));
		break;
	case K_U64:
	case K_US:
		snprintf(out, cap, "%" PRIu64, get_u64(s, f->off));
		break;
	case K_WORD:
		sanitize(out, cap < sizeof(s->daemon_version) ? cap :
			 sizeof(s->daemon_version), p);
		for (char *q = out; *q; q++)
			if (*q == ' ')
				*q = '_';
		break;
	}
}

int zkh_status_write(const char *dir, const struct zkh_status *s)
{
	char text[STATUS_TEXT_MAX], path[PATH_MAX];
	char val[ZKH_STATUS_TEXT_MAX];
	size_t len = 0;
	int rc;

	if (!dir || !s)
		return -EINVAL;
	if (snprintf(path, sizeof(path), "%s/%s", dir, ZKH_STATUS_FILE) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	rc = append(text, sizeof(text), &len, "version %d\n", ZKH_STATUS_VERSION);
	for (size_t i = 0; rc == 0 && i < sizeof(fields) / sizeof(fields[0]); i++) {
		field_text(s, &fields[i], val, sizeof(val));
		rc = append(text, sizeof(text), &len, "%s %s\n", fields[i].key, val);
	}
	for (int i = 0; rc == 0 && i < ZKH_ERR_NSOURCES; i++)
		rc = append(text, sizeof(text), &len, "errors_%s %" PRIu64 "\n",
			    source_names[i], s->error_counts[i]);
	for (int i = 0; rc == 0 && i < ZKH_ERR_NSOURCES; i++) {
		if (!s->errors[i][0])
			continue;
		sanitize(val, sizeof(val), s->errors[i]);
		rc = append(text, sizeof(text), &len, "error_%s %s\n",
			    source_names[i], val);
	}
	if (rc == 0) {
		sanitize(val, sizeof(val), s->last_error);
		rc = append(text, sizeof(text), &len, "last_error %s\n", val);
	}
	if (rc)
		return rc;
	return atomic_write(path, text, len);
}

/* Parse an unsigned 64-bit number of exactly the text `v`: decimal, or
 * hex with a 0x prefix when `hex` is set (plain hex digits also accepted
 * then). */
static int parse_u64(const char *v, int hex, uint64_t *out)
{
	char *end;
	unsigned long long x;

	if (*v == '\0' || *v == '-' || *v == '+' || *v == ' ')
		return -EINVAL;
	errno = 0;
	x = strtoull(v, &end, hex ? 16 : 10);
	if (errno || *end != '\0' || end == v)
		return -EINVAL;
	*out = x;
	return 0;
}

/* Apply one "key value" line to *s. Unknown keys are ignored. */
static int apply_line(struct zkh_status *s, const char *key, const char *val)
{
	const struct field *f = NULL;
	char *p;
	uint64_t v;

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(key, fields[i].key) == 0)
			f = &fields[i];
	if (!f) {
		if (strcmp(key, "version") == 0) {
			if (parse_u64(val, 0, &v) < 0 || v == 0 || v > UINT_MAX)
				return -EINVAL;
			s->version = (unsigned)v;
		} else if (strcmp(key, "last_error") == 0) {
			snprintf(s->last_error, sizeof(s->last_error), "%s", val);
		} else if (strncmp(key, "errors_", 7) == 0) {
			for (int i = 0; i < ZKH_ERR_NSOURCES; i++)
				if (strcmp(key + 7, source_names[i]) == 0 &&
				    parse_u64(val, 0, &s->error_counts[i]) < 0)
					return -EINVAL;
		} else if (strncmp(key, "error_", 6) == 0) {
			for (int i = 0; i < ZKH_ERR_NSOURCES; i++)
				if (strcmp(key + 6, source_names[i]) == 0)
					snprintf(s->errors[i], sizeof(s->errors[i]),
						 "%s", val);
		}
		return 0;
	}
	p = (char *)s + f->off;
	switch (f->kind) {
	case K_PID:
		if (parse_u64(val, 0, &v) < 0 || v > INT_MAX)
			return -EINVAL;
		s->pid = (pid_t)v;
		break;
	case K_STATE:
		if (*val == '\0' || strlen(val) >= sizeof(s->state))
			return -EINVAL;
		strcpy(p, val);
		break;
	case K_WORD:
		if (strlen(val) >= sizeof(s->daemon_version))
			return -EINVAL;
		strcpy(p, val);
		break;
	case K_BOOL:
		if (strcmp(val, "0") && strcmp(val, "1"))
			return -EINVAL;
		*(bool *)p = val[0] == '1';
		break;
	case K_HEX:
	case K_U64:
	case K_US:
		if (parse_u64(val, f->kind == K_HEX, &v) < 0)
			return -EINVAL;
		memcpy(p, &v, sizeof(v));
		break;
	}
	return 0;
}

/* Parse the status text (NUL-terminated, modified in place). */
static int parse_status(char *text, struct zkh_status *s)
{
	char *line = text, *next;
	int seen = 0;

	for (; line && *line; line = next) {
		char *key, *val, *sp;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		sp = line + strlen(line);
		while (sp > line && (sp[-1] == '\r' || sp[-1] == ' ' ||
				     sp[-1] == '\t'))
			*--sp = '\0';
		key = line + strspn(line, " \t");
		if (*key == '\0')
			continue;
		val = key + strcspn(key, " \t");
		if (*val) {
			*val++ = '\0';
			val += strspn(val, " \t");
		}
		if (apply_line(s, key, val) < 0)
			return -EINVAL;
		seen++;
	}
	if (seen && !s->version)
		s->version = 1;	/* files of zkcached 0.1.0 had no version */
	return seen ? 0 : -EINVAL;
}

int zkh_status_read(const char *dir, struct zkh_status *s)
{
	char path[PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	int fd = -1, rc;

	if (!dir || !s)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	if (snprintf(path, sizeof(path), "%s/%s", dir, ZKH_STATUS_FILE) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	text = malloc(STATUS_READ_MAX + 1);
	if (!text) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, text + len, STATUS_READ_MAX - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == STATUS_READ_MAX) {
			rc = -EFBIG;
			goto out;
		}
	}
	text[len] = '\0';
	if (memchr(text, '\0', len)) {
		rc = -EINVAL;
		goto out;
	}
	rc = parse_status(text, s);
	if (rc < 0)
		memset(s, 0, sizeof(*s));
out:
	free(text);
	close(fd);
	return rc;
}

int zkh_status_write_metrics(const char *path, const struct zkh_status *s)
{
	char text[METRICS_TEXT_MAX];
	size_t len = 0;
	int rc;

	if (!path || !s || !*path)
		return -EINVAL;
	rc = append(text, sizeof(text), &len,
		    "# HELP zkhosts_up 0 once zkcached stopped cleanly, else 1; a killed "
		    "daemon leaves 1: judge liveness by the age of "
		    "zkhosts_heartbeat_timestamp_seconds.\n"
		    "# TYPE zkhosts_up gauge\n"
		    "zkhosts_up %d\n"
		    "# HELP zkhosts_status_version Schema version of the status file and these metrics.\n"
		    "# TYPE zkhosts_status_version gauge\n"
		    "zkhosts_status_version %d\n",
		    strcmp(s->state, "stopped") != 0 ? 1 : 0, ZKH_STATUS_VERSION);
	for (size_t i = 0; rc == 0 && i < sizeof(fields) / sizeof(fields[0]); i++) {
		const struct field *f = &fields[i];
		uint64_t v;

		if (!f->metric)
			continue;
		rc = append(text, sizeof(text), &len, "# HELP %s %s\n# TYPE %s %s\n",
			    f->metric, f->help, f->metric, f->type);
		if (rc)
			break;
		if (f->kind == K_BOOL) {
			v = *(const bool *)((const char *)s + f->off);
			rc = append(text, sizeof(text), &len, "%s %d\n", f->metric,
				    v ? 1 : 0);
		} else if (f->kind == K_US) {
			v = get_u64(s, f->off);
			rc = append(text, sizeof(text), &len,
				    "%s %" PRIu64 ".%06" PRIu64 "\n", f->metric,
				    v / 1000000u, v % 1000000u);
		} else {
			rc = append(text, sizeof(text), &len, "%s %" PRIu64 "\n",
				    f->metric, get_u64(s, f->off));
		}
	}
	if (rc == 0)
		rc = append(text, sizeof(text), &len,
			    "# HELP zkhosts_error 1 while an error of this source is active.\n"
			    "# TYPE zkhosts_error gauge\n");
	for (int i = 0; rc == 0 && i < ZKH_ERR_NSOURCES; i++)
		rc = append(text, sizeof(text), &len,
			    "zkhosts_error{source=\"%s\"} %d\n", source_names[i],
			    s->errors[i][0] ? 1 : 0);
	if (rc == 0)
		rc = append(text, sizeof(text), &len,
			    "# HELP zkhosts_errors_total Errors of this source raised "
			    "since start.\n"
			    "# TYPE zkhosts_errors_total counter\n");
	for (int i = 0; rc == 0 && i < ZKH_ERR_NSOURCES; i++)
		rc = append(text, sizeof(text), &len,
			    "zkhosts_errors_total{source=\"%s\"} %" PRIu64 "\n",
			    source_names[i], s->error_counts[i]);
	if (rc == 0) {
		char ver[sizeof(s->daemon_version)];

		/* a label value: no quote, backslash or line break */
		sanitize(ver, sizeof(ver), s->daemon_version);
		for (char *q = ver; *q; q++)
			if (*q == '"' || *q == '\\')
				*q = '_';
		rc = append(text, sizeof(text), &len,
			    "# HELP zkhosts_build_info The daemon's version.\n"
			    "# TYPE zkhosts_build_info gauge\n"
			    "zkhosts_build_info{version=\"%s\"} 1\n", ver);
	}
	if (rc)
		return rc;
	return atomic_write(path, text, len);
}

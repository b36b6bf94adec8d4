/*
 * status.c - the daemon's status file <cache>/status and its Prometheus
 * metrics file (contract: include/zkhosts/status.h). The writer replaces
 * either file atomically (a temporary file made with mkstemp in the same
 * directory, fchmod 0644, full write, rename over the old one), so a reader
 * sees the old or the new content, never a mix. The reader is tolerant of
 * what a newer daemon may add (unknown keys are skipped) and strict about
 * what it knows (a malformed number of a known key is -EINVAL).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

int zkh_status_write(const char *dir, const struct zkh_status *s)
{
	char text[STATUS_TEXT_MAX], path[PATH_MAX];
	char state[sizeof(s->state)], err[sizeof(s->last_error)];
	int n;

	if (!dir || !s)
		return -EINVAL;
	if (snprintf(path, sizeof(path), "%s/%s", dir, ZKH_STATUS_FILE) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	sanitize(state, sizeof(state), s->state);
	for (char *p = state; *p; p++)
		if (*p == ' ')
			*p = '_';
	sanitize(err, sizeof(err), s->last_error);
	n = snprintf(text, sizeof(text),
		     "pid %ld\n"
		     "state %s\n"
		     "connected %d\n"
		     "session 0x%" PRIx64 "\n"
		     "started_us %" PRIu64 "\n"
		     "updated_us %" PRIu64 "\n"
		     "last_sync_us %" PRIu64 "\n"
		     "records %" PRIu64 "\n"
		     "skipped %" PRIu64 "\n"
		     "publishes %" PRIu64 "\n"
		     "generation %" PRIu64 "\n"
		     "last_error %s\n",
		     (long)s->pid, state[0] ? state : "unknown",
		     s->connected ? 1 : 0, s->session, s->started_us,
		     s->updated_us, s->last_sync_us, s->records, s->skipped,
		     s->publishes, s->generation, err);
	if (n < 0 || (size_t)n >= sizeof(text))
		return -EOVERFLOW;
	return atomic_write(path, text, (size_t)n);
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
	static const struct {
		const char *key;
		size_t off;
	} u64s[] = {
		{ "started_us", offsetof(struct zkh_status, started_us) },
		{ "updated_us", offsetof(struct zkh_status, updated_us) },
		{ "last_sync_us", offsetof(struct zkh_status, last_sync_us) },
		{ "records", offsetof(struct zkh_status, records) },
		{ "skipped", offsetof(struct zkh_status, skipped) },
		{ "publishes", offsetof(struct zkh_status, publishes) },
		{ "generation", offsetof(struct zkh_status, generation) },
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(u64s) / sizeof(u64s[0]); i++) {
		if (strcmp(key, u64s[i].key) == 0) {
			if (parse_u64(val, 0, &v) < 0)
				return -EINVAL;
			memcpy((char *)s + u64s[i].off, &v, sizeof(v));
			return 0;
		}
	}
	if (strcmp(key, "pid") == 0) {
		if (parse_u64(val, 0, &v) < 0 || v > INT_MAX)
			return -EINVAL;
		s->pid = (pid_t)v;
	} else if (strcmp(key, "connected") == 0) {
		if (strcmp(val, "0") && strcmp(val, "1"))
			return -EINVAL;
		s->connected = val[0] == '1';
	} else if (strcmp(key, "session") == 0) {
		if (parse_u64(val, 1, &v) < 0)
			return -EINVAL;
		s->session = v;
	} else if (strcmp(key, "state") == 0) {
		if (*val == '\0' || strlen(val) >= sizeof(s->state))
			return -EINVAL;
		strcpy(s->state, val);
	} else if (strcmp(key, "last_error") == 0) {
		snprintf(s->last_error, sizeof(s->last_error), "%s", val);
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

/* Microseconds as seconds with six decimals, for Prometheus. */
#define US_FMT "%" PRIu64 ".%06" PRIu64
#define US_ARGS(us) (us) / 1000000u, (us) % 1000000u

int zkh_status_write_metrics(const char *path, const struct zkh_status *s)
{
	char text[METRICS_TEXT_MAX];
	bool up;
	int n;

	if (!path || !s || !*path)
		return -EINVAL;
	up = strcmp(s->state, "stopped") != 0;
	n = snprintf(text, sizeof(text),
		"# HELP zkhosts_up 1 while zkcached runs (0 once it stopped).\n"
		"# TYPE zkhosts_up gauge\n"
		"zkhosts_up %d\n"
		"# HELP zkhosts_connected 1 if zkcached holds a connected ZooKeeper session.\n"
		"# TYPE zkhosts_connected gauge\n"
		"zkhosts_connected %d\n"
		"# HELP zkhosts_records Host records in the published cache.\n"
		"# TYPE zkhosts_records gauge\n"
		"zkhosts_records %" PRIu64 "\n"
		"# HELP zkhosts_skipped_records Znodes skipped as invalid (current).\n"
		"# TYPE zkhosts_skipped_records gauge\n"
		"zkhosts_skipped_records %" PRIu64 "\n"
		"# HELP zkhosts_publishes_total Snapshots published since start.\n"
		"# TYPE zkhosts_publishes_total counter\n"
		"zkhosts_publishes_total %" PRIu64 "\n"
		"# HELP zkhosts_generation Generation of the published snapshot.\n"
		"# TYPE zkhosts_generation gauge\n"
		"zkhosts_generation %" PRIu64 "\n"
		"# HELP zkhosts_start_time_seconds Start time of zkcached, Unix seconds.\n"
		"# TYPE zkhosts_start_time_seconds gauge\n"
		"zkhosts_start_time_seconds " US_FMT "\n"
		"# HELP zkhosts_last_sync_timestamp_seconds Last completed full sync, Unix seconds (0: none).\n"
		"# TYPE zkhosts_last_sync_timestamp_seconds gauge\n"
		"zkhosts_last_sync_timestamp_seconds " US_FMT "\n"
		"# HELP zkhosts_last_update_timestamp_seconds Last status update (heartbeat), Unix seconds.\n"
		"# TYPE zkhosts_last_update_timestamp_seconds gauge\n"
		"zkhosts_last_update_timestamp_seconds " US_FMT "\n",
		up ? 1 : 0, s->connected ? 1 : 0, s->records, s->skipped,
		s->publishes, s->generation, US_ARGS(s->started_us),
		US_ARGS(s->last_sync_us), US_ARGS(s->updated_us));
	if (n < 0 || (size_t)n >= sizeof(text))
		return -EOVERFLOW;
	return atomic_write(path, text, (size_t)n);
}

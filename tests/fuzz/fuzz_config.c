/*
 * fuzz_config.c - fuzz target for the configuration parser (config.h) on
 * arbitrary text, in both modes. Never crashes; an error leaves a
 * NUL-terminated, non-empty, printable message, a key and a file name
 * within their arrays, and a line number inside the input, and
 * zkh_config_strerror stays within any buffer; a success leaves values
 * that meet the documented constraints (root, cache and file paths
 * absolute and normalised, domain a lowercase host name, ranges of the
 * integers, the register record valid with distinct addresses, the acl's
 * entries of known schemes with sane ids and permissions). What STRICT
 * accepts MODULE accepts with the same cache, and MODULE touches nothing
 * but `cache`. The same text read from a file (zkh_config_load, which has
 * its own buffering and long-line logic) gives exactly the same result as
 * zkh_config_parse.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "zkhosts/config.h"
#include "zkhosts/names.h"

#define FILE_NAME "fuzz.conf"

/* A NUL inside arr[0..cap), and every byte before it printable. */
static void check_text(const char *arr, size_t cap, bool need_nonempty)
{
	const char *end = memchr(arr, '\0', cap);

	FUZZ_CHECK(end != NULL);
	FUZZ_CHECK(!need_nonempty || end > arr);
	for (const char *p = arr; p < end; p++)
		FUZZ_CHECK(*p >= 0x20 && *p < 0x7f);
}

static unsigned count_lines(const char *s, size_t n)
{
	unsigned lines = 0;

	for (size_t i = 0; i < n; i++)
		if (s[i] == '\n')
			lines++;
	return lines + 1;
}

static void check_error(const struct zkh_config_error *err, const char *s,
			size_t n)
{
	char small[17], big[1024];

	check_text(err->msg, sizeof(err->msg), true);
	check_text(err->key, sizeof(err->key), false);
	FUZZ_CHECK(strcmp(err->file, FILE_NAME) == 0);
	FUZZ_CHECK(err->line >= 1 && err->line <= count_lines(s, n));
	memset(small, 0x5a, sizeof(small));
	zkh_config_strerror(err, small, sizeof(small) - 1);
	FUZZ_CHECK(memchr(small, '\0', sizeof(small) - 1) != NULL);
	FUZZ_CHECK((unsigned char)small[sizeof(small) - 1] == 0x5a);
	zkh_config_strerror(err, big, sizeof(big));
	check_text(big, sizeof(big), true);
}

static bool abs_path_ok(const char *p, size_t cap, bool may_be_empty)
{
	const char *end = memchr(p, '\0', cap);
	size_t n;

	if (end == NULL)
		return false;
	n = (size_t)(end - p);
	if (n == 0)
		return may_be_empty;
	return p[0] == '/' && n >= 2 && p[n - 1] != '/';
}

static bool root_ok(const char *r)
{
	const char *end = memchr(r, '\0', 512);
	size_t comp = 0, n;

	if (end == NULL || r[0] != '/')
		return false;
	n = (size_t)(end - r);
	if (n < 2 || r[n - 1] == '/')
		return false;
	for (size_t i = 1; i <= n; i++) {
		if (i == n || r[i] == '/') {
			const char *c = r + i - comp;

			if (comp == 0 || (comp == 1 && c[0] == '.') ||
			    (comp == 2 && c[0] == '.' && c[1] == '.'))
				return false;
			comp = 0;
		} else if ((unsigned char)r[i] <= 0x20 ||
			   (unsigned char)r[i] >= 0x7f) {
			return false;
		} else {
			comp++;
		}
	}
	return true;
}

static bool lowercase_name_ok(const char *s, size_t cap)
{
	const char *end = memchr(s, '\0', cap);
	size_t n;

	if (end == NULL)
		return false;
	n = (size_t)(end - s);
	if (n == 0)
		return true;
	if (!zkh_name_valid(s, n) || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			return false;
	return true;
}

/* An accepted `acl`: 0..ZKH_ACL_MAX entries of a known scheme, a
 * NUL-terminated id without spaces or commas, permissions a non-empty
 * subset of ALL, no id twice. */
static void check_acl(const struct zkh_acl *a)
{
	FUZZ_CHECK(a->n <= ZKH_ACL_MAX);
	for (size_t i = 0; i < a->n; i++) {
		const struct zkh_acl_entry *e = &a->e[i];
		const char *end = memchr(e->id, '\0', sizeof(e->id));

		FUZZ_CHECK(strcmp(e->scheme, "world") == 0 ||
			   strcmp(e->scheme, "digest") == 0 ||
			   strcmp(e->scheme, "ip") == 0);
		FUZZ_CHECK(end != NULL && end > e->id);
		for (const char *p = e->id; p < end; p++)
			FUZZ_CHECK(*p > 0x20 && *p < 0x7f && *p != ',');
		FUZZ_CHECK(e->perms != 0 && (e->perms & ~ZKH_PERM_ALL) == 0);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(a->e[j].scheme, e->scheme) != 0 ||
				   strcmp(a->e[j].id, e->id) != 0);
	}
}

static void check_values(const struct zkh_config *c)
{
	const char *zk_end = memchr(c->zookeeper, '\0', sizeof(c->zookeeper));
	size_t rn;

	FUZZ_CHECK(zk_end != NULL);
	for (const char *p = c->zookeeper; p < zk_end; p++)
		FUZZ_CHECK(*p != ' ' && *p != '\t');
	FUZZ_CHECK(root_ok(c->root));
	FUZZ_CHECK(abs_path_ok(c->cache, sizeof(c->cache), false));
	FUZZ_CHECK(abs_path_ok(c->auth_file, sizeof(c->auth_file), true));
	FUZZ_CHECK(abs_path_ok(c->metrics_file, sizeof(c->metrics_file),
			       true));
	FUZZ_CHECK(lowercase_name_ok(c->domain, sizeof(c->domain)));
	FUZZ_CHECK(c->session_timeout >= 1000 && c->session_timeout <= 600000);
	FUZZ_CHECK(c->publish_delay >= 0 && c->publish_delay <= 10000);
	FUZZ_CHECK(memchr(c->register_name, '\0', sizeof(c->register_name)));
	rn = strlen(c->register_name);
	FUZZ_CHECK(rn == 0 || (zkh_name_valid(c->register_name, rn) &&
			       c->register_name[rn - 1] != '.'));
	FUZZ_CHECK(c->register_naddrs <= ZKH_MAX_ADDRS);
	FUZZ_CHECK(rn > 0 || c->register_naddrs == 0);
	check_acl(&c->acl);
	for (size_t i = 0; i < c->register_naddrs; i++) {
		const struct zkh_addr *a = &c->register_addrs[i];
		size_t al = zkh_addr_len(a->family);

		FUZZ_CHECK(al != 0);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(c->register_addrs[j].family != a->family ||
				   memcmp(c->register_addrs[j].bytes, a->bytes,
					  al) != 0);
	}
}

static bool same_acl(const struct zkh_acl *a, const struct zkh_acl *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->e[i].perms != b->e[i].perms ||
		    strcmp(a->e[i].scheme, b->e[i].scheme) != 0 ||
		    strcmp(a->e[i].id, b->e[i].id) != 0)
			return false;
	return true;
}

/* Field by field: strings up to their NUL (bytes past it are not part
 * of the contract). */
static bool same_config(const struct zkh_config *a,
			const struct zkh_config *b)
{
	return strcmp(a->zookeeper, b->zookeeper) == 0 &&
	       strcmp(a->root, b->root) == 0 &&
	       strcmp(a->cache, b->cache) == 0 &&
	       strcmp(a->domain, b->domain) == 0 &&
	       a->session_timeout == b->session_timeout &&
	       strcmp(a->register_name, b->register_name) == 0 &&
	       a->register_naddrs == b->register_naddrs &&
	       memcmp(a->register_addrs, b->register_addrs,
		      a->register_naddrs * sizeof(a->register_addrs[0])) == 0 &&
	       strcmp(a->auth_file, b->auth_file) == 0 &&
	       strcmp(a->metrics_file, b->metrics_file) == 0 &&
	       a->fsync == b->fsync && a->publish_delay == b->publish_delay &&
	       same_acl(&a->acl, &b->acl);
}

/* Parse the same text through zkh_config_load (a memfd reopened through
 * /proc/self/fd) and require the same outcome as zkh_config_parse. */
static void check_load_agrees(const char *s, size_t n,
			      enum zkh_config_mode mode, int rc,
			      const struct zkh_config *c,
			      const struct zkh_config_error *err)
{
	struct zkh_config lc;
	struct zkh_config_error lerr;
	char path[64];
	int fd = memfd_create("fuzz.conf", MFD_CLOEXEC), lrc;

	if (fd < 0)
		return;	/* no memfd: nothing to compare */
	for (size_t off = 0; off < n;) {
		ssize_t w = write(fd, s + off, n - off);

		FUZZ_CHECK(w > 0);
		off += (size_t)w;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	memset(&lerr, 0, sizeof(lerr));
	lrc = zkh_config_load(path, mode, &lc, &lerr);
	close(fd);
	if (lrc == -ENOENT || lrc == -EACCES)
		return;	/* no /proc here */
	FUZZ_CHECK(lrc == rc);
	if (rc == 0) {
		FUZZ_CHECK(same_config(&lc, c));
		/* Byte for byte too: both start from zkh_config_defaults, so
		 * any difference is a byte the parser left undefined (this
		 * caught `domain` copying uninitialised stack bytes). */
		FUZZ_CHECK(memcmp(&lc, c, sizeof(lc)) == 0);
	} else {
		FUZZ_CHECK(lerr.line == err->line);
		FUZZ_CHECK(strcmp(lerr.key, err->key) == 0);
		FUZZ_CHECK(strcmp(lerr.msg, err->msg) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_dup(data, size);
	struct zkh_config strict, module, defaults;
	struct zkh_config_error serr, merr;
	int src, mrc;

	zkh_config_defaults(&defaults);
	check_values(&defaults);

	zkh_config_defaults(&strict);
	memset(&serr, 0x5a, sizeof(serr));
	src = zkh_config_parse(s, size, FILE_NAME, ZKH_CONFIG_STRICT, &strict,
			       &serr);
	FUZZ_CHECK(src == 0 || src == -EINVAL);
	if (src == 0)
		check_values(&strict);
	else
		check_error(&serr, s, size);
	check_load_agrees(s, size, ZKH_CONFIG_STRICT, src, &strict, &serr);

	zkh_config_defaults(&module);
	memset(&merr, 0x5a, sizeof(merr));
	mrc = zkh_config_parse(s, size, FILE_NAME, ZKH_CONFIG_MODULE, &module,
			       &merr);
	FUZZ_CHECK(mrc == 0 || mrc == -EINVAL);
	if (mrc == 0) {
		check_values(&module);
		/* MODULE mode sets `cache` and nothing else */
		memcpy(defaults.cache, module.cache, sizeof(defaults.cache));
		FUZZ_CHECK(same_config(&defaults, &module));
	} else {
		check_error(&merr, s, size);
	}
	if (src == 0) {
		FUZZ_CHECK(mrc == 0);
		FUZZ_CHECK(strcmp(strict.cache, module.cache) == 0);
	}
	check_load_agrees(s, size, ZKH_CONFIG_MODULE, mrc, &module, &merr);
	free(s);
	return 0;
}

/*
 * config.h - the zkhosts configuration file (/etc/zkhosts.conf).
 *
 * Format: `key = value` lines; '#' starts a comment (whole line or after
 * whitespace); blank lines ignored; surrounding whitespace trimmed. Keys:
 *
 *   zookeeper        connect string, optional /chroot (required by daemon
 *                    and tools, not by the module)
 *   root             ZooKeeper root of the layout, default /zkhosts
 *   cache            cache directory, default /var/cache/zkcached
 *   domain           optional DNS domain: x and x.<domain> both match x
 *   session_timeout  ms, default 10000 (1000..600000)
 *   register         NAME [ADDR...]: this host's own ephemeral record
 *   auth_file        file (mode 0600) holding scheme:credentials
 *   metrics_file     Prometheus text file written by the daemon
 *   fsync            yes|no, fsync each snapshot before publishing (no)
 *   publish_delay    shortest ms between two publishes, default 5
 *   max_records      snapshot budget: most records the daemon publishes,
 *                    default 1000000 (1..100000000); past it the daemon
 *                    logs an error and keeps the last snapshot it published
 *   acl              the ZooKeeper ACL of every node zkhosts creates:
 *                    "SCHEME:ID:PERMS" entries separated by commas, e.g.
 *                    "digest:user:HASH:cdrwa, world:anyone:r"; unset: ALL
 *                    for auth_file's identity and READ for everyone when
 *                    auth_file is set, else open (world:anyone:cdrwa)
 *   dns_listen       zkdns: where to answer DNS, "ADDR[:PORT]" or
 *                    "[V6ADDR]:PORT" items separated by commas and/or
 *                    whitespace, at most ZKH_DNS_LISTEN_MAX; default
 *                    127.0.0.153:53 (port 53 when none is given)
 *   dns_ttl          zkdns: TTL of answers and of negative answers (the
 *                    SOA minimum), seconds, default 5 (0..3600)
 *   dns_zone         zkdns: forward zone when `domain` is unset; a record
 *                    "x" is then "x.<dns_zone>" in DNS. Ignored with domain
 *   dns_reverse_zones zkdns: "auto" (default: the /24 of every IPv4 and
 *                    the /64 of every IPv6 address in the snapshot),
 *                    "none", or prefixes "10.1.0.0/16 fd00::/48" (IPv4 on
 *                    octet boundaries 8/16/24/32, IPv6 on nibble
 *                    boundaries 4..128, host bits zero), at most
 *                    ZKH_DNS_REVZONES_MAX
 *   log_level        zkcached's: error|warning|info|debug (info); -v and
 *                    -q on its command line win
 *   indexer          auto|yes|no: may this zkcached write the fleet index
 *                    (docs/scale.md)? auto (default): stands for a free
 *                    election slot after a random delay; yes: at once; no:
 *                    never, it only reads the index
 *   indexers         election slots, i.e. most indexers at once, default 2
 *                    (1..16)
 *   index_fallback_max  with no usable index, mirror <root>/hosts directly
 *                    only while it has fewer children than this, default
 *                    2000 (0..1000000); above, wait for the index
 *   watches_per_session  a mirroring zkcached keeps at most this many data
 *                    watches on one ZooKeeper session, spreading the rest
 *                    over extra "watch sessions" so a reconnect's
 *                    SetWatches packet stays under jute.maxbuffer;
 *                    default 20000 (10..1000000)
 *
 * File path resolution: an explicit path (-c FILE) wins; else the
 * ZKHOSTS_CONF environment variable (read with secure_getenv, so set-id
 * programs ignore it); else ZKH_DEFAULT_CONF.
 */
#ifndef ZKHOSTS_CONFIG_H
#define ZKHOSTS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkhosts/snapshot.h"

#define ZKH_DEFAULT_CONF  "/etc/zkhosts.conf"
#define ZKH_DEFAULT_ROOT  "/zkhosts"
#define ZKH_DEFAULT_CACHE "/var/cache/zkcached"
#define ZKH_DEFAULT_SESSION_TIMEOUT 10000
#define ZKH_DEFAULT_PUBLISH_DELAY 5
#define ZKH_DEFAULT_MAX_RECORDS 1000000
#define ZKH_PATH_MAX 4096
#define ZKH_DNS_LISTEN_MAX 8
#define ZKH_DNS_REVZONES_MAX 32
#define ZKH_DEFAULT_DNS_PORT 53
#define ZKH_DEFAULT_DNS_TTL 5
#define ZKH_DNS_TTL_MAX 3600

/* One address zkdns listens on. */
struct zkh_dns_endpoint {
	struct zkh_addr addr;
	uint16_t port;
};

/* One reverse zone: the network addr/bits (host bits zero). */
struct zkh_dns_prefix {
	struct zkh_addr addr;
	unsigned bits;
};

/* dns_reverse_zones modes. */
enum zkh_dns_reverse {
	ZKH_DNS_REV_AUTO = 0,	/* derived from the snapshot's addresses */
	ZKH_DNS_REV_NONE,	/* no reverse zones */
	ZKH_DNS_REV_LIST,	/* dns_reverse_zones[] */
};

/* ZooKeeper permission bits (the wire values of ZOO_PERM_*). */
#define ZKH_PERM_READ   1u
#define ZKH_PERM_WRITE  2u
#define ZKH_PERM_CREATE 4u
#define ZKH_PERM_DELETE 8u
#define ZKH_PERM_ADMIN  16u
#define ZKH_PERM_ALL    31u

#define ZKH_ACL_MAX 8		/* entries of one ACL */
#define ZKH_ACL_SCHEME_MAX 8	/* "digest", "world", "ip" and a NUL */
#define ZKH_ACL_ID_MAX 160	/* id text and its NUL */

/* One ACL entry: who (scheme:id) may do what (perms, ZKH_PERM_*). */
struct zkh_acl_entry {
	uint32_t perms;
	char scheme[ZKH_ACL_SCHEME_MAX];
	char id[ZKH_ACL_ID_MAX];
};

/* An ACL: n entries (0: none given). Plain data, copyable. */
struct zkh_acl {
	size_t n;
	struct zkh_acl_entry e[ZKH_ACL_MAX];
};
#define ZKH_DEFAULT_INDEXERS 2
#define ZKH_DEFAULT_INDEX_FALLBACK_MAX 2000
#define ZKH_DEFAULT_WATCHES_PER_SESSION 20000

/* Values of `indexer`. */
enum { ZKH_INDEXER_AUTO = 0, ZKH_INDEXER_YES = 1, ZKH_INDEXER_NO = 2 };

struct zkh_config {
	char zookeeper[1024];	/* "" if unset */
	char root[512];		/* no trailing slash, starts with '/' */
	char cache[ZKH_PATH_MAX];
	char domain[ZKH_DOMAIN_MAX + 1];	/* lowercase, "" if unset */
	int session_timeout;	/* ms */
	char register_name[ZKH_NAME_MAX + 1];	/* "" if unset */
	struct zkh_addr register_addrs[ZKH_MAX_ADDRS];
	size_t register_naddrs;	/* 0: use the default-route interface */
	char auth_file[ZKH_PATH_MAX];
	char metrics_file[ZKH_PATH_MAX];
	bool fsync;
	int publish_delay;	/* ms */
	int max_records;	/* snapshot budget, records */
	struct zkh_acl acl;	/* `acl`; n == 0 if unset */
	struct zkh_dns_endpoint dns_listen[ZKH_DNS_LISTEN_MAX];
	size_t dns_nlisten;	/* default: 1, 127.0.0.153:53 */
	int dns_ttl;		/* seconds */
	char dns_zone[ZKH_DOMAIN_MAX + 1];	/* lowercase, "" if unset */
	enum zkh_dns_reverse dns_reverse;
	struct zkh_dns_prefix dns_reverse_zones[ZKH_DNS_REVZONES_MAX];
	size_t dns_nreverse;	/* ZKH_DNS_REV_LIST: 1.. */
	int log_level;		/* syslog number: 3, 4, 6 or 7 (zkh_log_level) */
	int indexer;		/* ZKH_INDEXER_* */
	int indexers;		/* election slots */
	int index_fallback_max;	/* hosts */
	int watches_per_session;	/* data watches per ZooKeeper session */
};

/* Parsing strictness. */
enum zkh_config_mode {
	ZKH_CONFIG_STRICT,	/* daemon, tools: unknown key or bad value is an error */
	ZKH_CONFIG_MODULE,	/* NSS module: only `cache` matters, the rest is ignored */
};

/* Where and why parsing failed. */
struct zkh_config_error {
	char file[ZKH_PATH_MAX];
	unsigned line;		/* 0 if not about a line */
	char key[64];		/* "" if not about a key */
	char msg[256];
};

/* Fill `c` with the defaults above. */
void zkh_config_defaults(struct zkh_config *c);

/*
 * Parse `len` bytes of config text into `c` (which the caller has filled
 * with defaults). `file` names the source for error messages. Returns 0,
 * or -EINVAL with *err describing the first problem (file, line, key,
 * message). In ZKH_CONFIG_MODULE mode, lines that do not parse and unknown
 * keys are skipped silently and only `cache` is validated (absolute path).
 * Pure: no I/O, no allocation; thread-safe on distinct arguments.
 */
int zkh_config_parse(const char *text, size_t len, const char *file,
		     enum zkh_config_mode mode, struct zkh_config *c,
		     struct zkh_config_error *err);

/*
 * Pick the config path: `explicit_path` if non-NULL, else
 * secure_getenv("ZKHOSTS_CONF") if set and non-empty, else ZKH_DEFAULT_CONF.
 * Returns a pointer to one of those strings (not owned by the caller).
 */
const char *zkh_config_path(const char *explicit_path);

/*
 * Read and parse the file at `path` (defaults first). A missing file is
 * -ENOENT (callers decide: the module then uses the defaults, the daemon
 * fails). Other read errors are -errno; parse errors -EINVAL. *err is filled
 * on every error. Files larger than 1 MiB are refused (-EFBIG). Reads with
 * open/read only (usable inside the NSS module); allocates nothing.
 */
int zkh_config_load(const char *path, enum zkh_config_mode mode,
		    struct zkh_config *c, struct zkh_config_error *err);

/* Format *err as "FILE:LINE: key 'K': MSG" into out. Returns out. */
char *zkh_config_strerror(const struct zkh_config_error *err, char *out,
			  size_t cap);

/*
 * Enforce what the daemon and tools need beyond syntax: `zookeeper` set.
 * Returns 0 or -EINVAL with *err filled.
 */
int zkh_config_require_zookeeper(const struct zkh_config *c,
				 const char *file,
				 struct zkh_config_error *err);

/*
 * Parse an ACL as the `acl` key takes it: 1..ZKH_ACL_MAX entries
 * "SCHEME:ID:PERMS" separated by commas (whitespace around entries
 * ignored). SCHEME is world (ID "anyone"), digest (ID "USER:HASH", HASH
 * the 28-character base64 of a SHA-1 digest, as ZooKeeper's
 * DigestAuthenticationProvider makes it) or ip (ID an IPv4 or IPv6
 * address, optionally "/BITS"); PERMS a non-empty set of the letters
 * c d r w a (create, delete, read, write, admin), each at most once. An
 * id may appear once. Returns 0 with *out filled, or -EINVAL with *why
 * set to a static English phrase and *tok, *toklen to the offending part
 * of `text`. Pure; thread-safe.
 */
int zkh_acl_parse(const char *text, size_t len, struct zkh_acl *out,
		  const char **why, const char **tok, size_t *toklen);

/*
 * The i-th key the parser knows (0-based, in the parser's own table, the
 * order of the list above), or NULL when i is past the last one. For
 * tests and tools that must cover every key (the packaged conffile test
 * documents each); the string is static. Thread-safe.
 */
const char *zkh_config_key(size_t i);

#endif

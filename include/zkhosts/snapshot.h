/*
 * snapshot.h - the on-disk contract between zkcached (writer) and
 * libnss_zk.so.2 (reader).
 *
 * A cache directory holds exactly these public files:
 *
 *   hosts.mdb    the current snapshot: an immutable LMDB environment in a
 *                single file (MDB_NOSUBDIR), published by writing a compact
 *                copy to a temporary file in the same directory and
 *                rename()-ing it over the previous one;
 *   generation   a ZKH_GENFILE_SIZE-byte file that readers mmap read-only.
 *                The writer bumps the counter in place after every rename,
 *                never truncates or shrinks the file, and replaces it only
 *                when someone else removed or replaced it (then it keeps
 *                bumping the old one too, so readers mapping it reopen);
 *   status       the daemon's status (key=value text, see status.h); not
 *                read by the module.
 *
 * Inside hosts.mdb there are three named databases:
 *
 *   "meta"   one key "meta" whose value is a struct zkh_meta encoded as
 *            described below (schema version, generation, domain, ...);
 *   "names"  key: the record name folded to lowercase, no trailing dot
 *            (1..253 bytes). value: a record (ZKH_REC_* layout): the name as
 *            written, the ZooKeeper creation zxid, and 1..ZKH_MAX_ADDRS
 *            addresses (IPv4 first, then IPv6);
 *   "addrs"  MDB_DUPSORT. key: family byte (4 or 6) followed by 4 or 16
 *            address bytes. each duplicate value: 8-byte big-endian czxid
 *            followed by the lowercase record name, so duplicates sort by
 *            creation order and the first one is the canonical name for a
 *            reverse lookup; the others are its aliases.
 *
 * All integers in values are little-endian except the czxid prefix of
 * "addrs" duplicates, which is big-endian so that memcmp order is creation
 * order. Readers treat every byte as untrusted: every decoder here checks
 * lengths and bounds and rejects what does not fit exactly.
 *
 * This header is pure declarations and constants; the codec lives in
 * common/core/record.c and is linked into both sides.
 */
#ifndef ZKHOSTS_SNAPSHOT_H
#define ZKHOSTS_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

/* Bump when the layout below changes; readers refuse other versions. */
#define ZKH_SCHEMA_VERSION 1u

#define ZKH_SNAPSHOT_FILE  "hosts.mdb"
#define ZKH_GENERATION_FILE "generation"
#define ZKH_STATUS_FILE    "status"

#define ZKH_DB_META  "meta"
#define ZKH_DB_NAMES "names"
#define ZKH_DB_ADDRS "addrs"
#define ZKH_META_KEY "meta"

/* Host names: labels of 1..63, at most 253 characters in all. */
#define ZKH_NAME_MAX   253
#define ZKH_LABEL_MAX  63
/* Addresses kept per record; the rest of a znode's list is dropped. */
#define ZKH_MAX_ADDRS  32
/* Domain (config key `domain`): a host name itself. */
#define ZKH_DOMAIN_MAX ZKH_NAME_MAX

/* ---- generation file ------------------------------------------------ */

#define ZKH_GENFILE_SIZE  4096
#define ZKH_GENFILE_MAGIC "ZKHGEN01"	/* 8 bytes, no NUL stored */

/*
 * Layout of the first 16 bytes of the generation file. The counter is a
 * naturally aligned 64-bit word written with a single store by the writer;
 * a reader that sees a value different from the one it saw last reopens
 * hosts.mdb and takes the generation recorded inside the snapshot as the
 * truth, so a torn or early read costs one reopen and never a wrong answer.
 */
struct zkh_genfile {
	char magic[8];
	uint64_t generation;	/* host byte order; only compared for change */
};

/* ---- address -------------------------------------------------------- */

/* One address. family is AF_INET or AF_INET6; bytes[0..3] used for v4. */
struct zkh_addr {
	int family;
	uint8_t bytes[16];
};

/* Byte length of an address of `family` (4 or 16), or 0 if unknown. */
size_t zkh_addr_len(int family);

/* ---- meta ----------------------------------------------------------- */

/* Sync state flags carried in zkh_meta.flags. */
#define ZKH_META_SYNCED    0x1u	/* a full sync completed for this data */
#define ZKH_META_CONNECTED 0x2u	/* writer was connected when publishing */

struct zkh_meta {
	uint32_t schema;	/* == ZKH_SCHEMA_VERSION */
	uint32_t flags;		/* ZKH_META_* */
	uint64_t generation;	/* strictly increasing per cache directory */
	uint64_t publish_time_us;	/* CLOCK_REALTIME, microseconds */
	uint64_t last_sync_us;	/* last completed full sync, 0 if none */
	uint64_t record_count;	/* entries in "names" */
	uint32_t ttl;		/* seconds, reported to NSS callers (nscd) */
	size_t domain_len;	/* 0 if no domain */
	char domain[ZKH_DOMAIN_MAX + 1];	/* lowercase, NUL-terminated */
};

/*
 * Encoded meta value: magic "ZKHM", u32 schema, u32 flags, u64 generation,
 * u64 publish_time_us, u64 last_sync_us, u64 record_count, u32 ttl,
 * u16 domain_len, domain bytes. Exactly ZKH_META_FIXED + domain_len bytes.
 */
#define ZKH_META_FIXED 50
#define ZKH_META_MAX   (ZKH_META_FIXED + ZKH_DOMAIN_MAX)

/*
 * Encode `m` into `out` (capacity `cap`). Returns the encoded length, or
 * -EINVAL if the domain is longer than ZKH_DOMAIN_MAX, -ENOSPC if `cap` is
 * too small. Pure; thread-safe.
 */
int zkh_meta_encode(const struct zkh_meta *m, uint8_t *out, size_t cap);

/*
 * Decode an untrusted meta value. Returns 0, or -EINVAL if the length,
 * magic, schema or domain (not a valid lowercase host name) is wrong.
 * On error *m is unspecified. Pure; thread-safe.
 */
int zkh_meta_decode(const void *buf, size_t len, struct zkh_meta *m);

/* ---- record ("names" value) ------------------------------------------ */

/*
 * Encoded record: u8 version (1), u8 n4, u8 n6, u8 name_len, u64 czxid,
 * name bytes (as written), n4 * 4 address bytes, n6 * 16 address bytes.
 * n4 + n6 is 1..ZKH_MAX_ADDRS, name_len 1..ZKH_NAME_MAX.
 */
#define ZKH_REC_VERSION 1u
#define ZKH_REC_FIXED   12
#define ZKH_REC_MAX     (ZKH_REC_FIXED + ZKH_NAME_MAX + 16 * ZKH_MAX_ADDRS)

/*
 * A decoded record. Pointers alias the buffer passed to zkh_rec_decode and
 * live exactly as long as it does (for a reader: the snapshot mapping).
 */
struct zkh_rec_view {
	uint64_t czxid;
	const char *name;	/* not NUL-terminated */
	size_t name_len;
	unsigned n4, n6;
	const uint8_t *v4;	/* n4 * 4 bytes */
	const uint8_t *v6;	/* n6 * 16 bytes */
};

/*
 * Encode a record. `name` must be a valid host name (zkh_name_valid) of
 * `name_len` bytes; addrs holds `naddr` (1..ZKH_MAX_ADDRS) distinct
 * addresses in any order: IPv4 ones are written first, each family keeping
 * the given order. Returns the encoded length, -EINVAL on bad arguments,
 * -ENOSPC if `cap` is too small. Pure; thread-safe.
 */
int zkh_rec_encode(const char *name, size_t name_len, uint64_t czxid,
		   const struct zkh_addr *addrs, size_t naddr,
		   uint8_t *out, size_t cap);

/*
 * Decode an untrusted record value. `key`/`key_len` is the "names" key it
 * was stored under: the record name must fold to exactly that key.
 * Returns 0, or -EINVAL if anything is out of place. Pure; thread-safe.
 */
int zkh_rec_decode(const void *buf, size_t len, const void *key,
		   size_t key_len, struct zkh_rec_view *v);

/* ---- reverse index ("addrs" key and duplicate values) ---------------- */

#define ZKH_ADDRKEY_MAX 17
#define ZKH_REVVAL_MAX  (8 + ZKH_NAME_MAX)

/* Build the "addrs" key for `a` into out[ZKH_ADDRKEY_MAX]; returns its
 * length (5 or 17) or -EINVAL for an unknown family. */
int zkh_addrkey_encode(const struct zkh_addr *a, uint8_t *out);

/* Build one "addrs" duplicate value; returns its length or -EINVAL. */
int zkh_revval_encode(uint64_t czxid, const char *lname, size_t lname_len,
		      uint8_t *out, size_t cap);

/*
 * Decode an untrusted "addrs" duplicate value: on success (0) *lname points
 * into `buf` at the lowercase record name of *lname_len bytes (valid host
 * name, already lowercase). -EINVAL otherwise.
 */
int zkh_revval_decode(const void *buf, size_t len, uint64_t *czxid,
		      const char **lname, size_t *lname_len);

#endif

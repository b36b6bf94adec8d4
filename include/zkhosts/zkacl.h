/*
 * zkacl.h - the ZooKeeper ACL every node zkhosts creates gets
 * (common/zk/zkacl.c), shared by zkcached, zkbarrier and zkhostctl so the
 * three agree: the `acl` key if set; else, with auth_file, ALL for the
 * identity of auth_file and READ for everyone
 * ("digest:USER:HASH:cdrwa, world:anyone:r", HASH computed as ZooKeeper's
 * DigestAuthenticationProvider.generateDigest does: base64 of SHA-1 of
 * "USER:PASSWORD"); else ZooKeeper's open ACL (world:anyone:cdrwa), as
 * before ACLs were configurable. Also the conversions between struct
 * zkh_acl (config.h, plain data) and the C client's struct ACL_vector, a
 * comparison and a printable form.
 *
 * SHA-1 and base64 come from nettle (linked by the daemon and the tools;
 * never by the NSS module). Errors are -errno with an English message
 * (never a secret). Thread-safe; nothing here logs.
 */
#ifndef ZKHOSTS_ZKACL_H
#define ZKHOSTS_ZKACL_H

#include <stdbool.h>
#include <stddef.h>

#include <zookeeper/zookeeper.h>

#include "zkhosts/config.h"
#include "zkhosts/zkhandle.h"

/* Capacity for the text of any ACL (zkh_acl_format). */
#define ZKH_ACL_TEXT_MAX (ZKH_ACL_MAX * (ZKH_ACL_SCHEME_MAX + ZKH_ACL_ID_MAX + 8))

/*
 * The digest id of credentials "USER:PASSWORD" (auth_file's digest
 * credentials): "USER:" followed by base64(SHA-1("USER:PASSWORD")), 28
 * characters, into out. Returns 0, -EINVAL (no ':' or empty user), or
 * -ENOSPC (cap too small). Intermediate copies of the secret are wiped.
 */
int zkh_zk_digest_id(const char *cred, char *out, size_t cap);

/*
 * The ACL zkhosts creates nodes with, given the config `c` and the loaded
 * auth_file credentials `auth` (NULL: no auth_file): c->acl if set; else
 * with `auth` of scheme "digest": ALL for its digest id, READ for
 * world:anyone; else without `auth` the open ACL. Returns 0, or -EINVAL
 * with `err` saying why (credentials of another scheme, or digest
 * credentials without "USER:", and no `acl` key to use instead).
 */
int zkh_zk_acl_for(const struct zkh_config *c, const struct zkh_zk_auth *auth,
		   struct zkh_acl *out, char *err, size_t err_cap);

/* The open ACL, world:anyone:cdrwa (ZOO_OPEN_ACL_UNSAFE). */
void zkh_zk_acl_open(struct zkh_acl *out);

/* True if a grants world:anyone every permission (anyone may do
 * anything: the ACL protects nothing). */
bool zkh_zk_acl_is_open(const struct zkh_acl *a);

/*
 * Point `buf` (ZKH_ACL_MAX entries) at a's entries and `out` at buf, for
 * the C client (zoo_create, zoo_set_acl...). `a` and `buf` must outlive
 * every use of `out`; the client copies the ACL when a request is sent.
 */
void zkh_zk_acl_vector(const struct zkh_acl *a, struct ACL *buf,
		       struct ACL_vector *out);

/*
 * Copy an ACL read from ZooKeeper into *out (scheme lowercase as given).
 * Returns 0, or -E2BIG (more than ZKH_ACL_MAX entries) or -ENAMETOOLONG
 * (a scheme or id too long): such an ACL is not one zkhosts sets.
 */
int zkh_zk_acl_from_vector(const struct ACL_vector *v, struct zkh_acl *out);

/* True if a and b hold the same entries (order does not matter). */
bool zkh_zk_acl_equal(const struct zkh_acl *a, const struct zkh_acl *b);

/*
 * "scheme:id:perms, ..." (perms as letters in the order cdrwa, as zkCli
 * prints them; no letter at all as "-") into out, truncated to cap.
 * Returns out.
 */
char *zkh_zk_acl_format(const struct zkh_acl *a, char *out, size_t cap);

#endif

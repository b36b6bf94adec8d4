/*
 * zkacl.c - the ACL of the nodes zkhosts creates (contract:
 * include/zkhosts/zkacl.h). The default with credentials mirrors what
 * ZooKeeper itself derives from `addauth digest USER:PASSWORD`
 * (DigestAuthenticationProvider.generateDigest: "USER:" + base64 of the
 * SHA-1 of the whole "USER:PASSWORD"), so the identity in our ACL is the
 * identity the server gives a session that presents auth_file. SHA-1 and
 * base64 are nettle's. The rest is conversion between the config's plain
 * struct zkh_acl and the C client's pointer-based struct ACL_vector.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <nettle/base64.h>
#include <nettle/sha1.h>

#include "zkhosts/zkacl.h"

int zkh_zk_digest_id(const char *cred, char *out, size_t cap)
{
	const char *colon = cred ? strchr(cred, ':') : NULL;
	uint8_t digest[SHA1_DIGEST_SIZE];
	char b64[BASE64_ENCODE_RAW_LENGTH(SHA1_DIGEST_SIZE) + 1];
	struct sha1_ctx ctx;
	size_t ulen;

	if (!colon || colon == cred)
		return -EINVAL;
	ulen = (size_t)(colon - cred);
	if (ulen + 1 + sizeof(b64) > cap)
		return -ENOSPC;
	sha1_init(&ctx);
	sha1_update(&ctx, strlen(cred), (const uint8_t *)cred);
	sha1_digest(&ctx, sizeof(digest), digest);
	base64_encode_raw(b64, sizeof(digest), digest);
	b64[sizeof(b64) - 1] = '\0';
	memcpy(out, cred, ulen + 1);	/* "USER:" */
	memcpy(out + ulen + 1, b64, sizeof(b64));
	/* the digest stands for the password: leave no copy behind */
	explicit_bzero(&ctx, sizeof(ctx));
	explicit_bzero(digest, sizeof(digest));
	return 0;
}

static void set_entry(struct zkh_acl_entry *e, uint32_t perms,
		      const char *scheme, const char *id)
{
	memset(e, 0, sizeof(*e));
	e->perms = perms;
	snprintf(e->scheme, sizeof(e->scheme), "%s", scheme);
	snprintf(e->id, sizeof(e->id), "%s", id);
}

void zkh_zk_acl_open(struct zkh_acl *out)
{
	memset(out, 0, sizeof(*out));
	set_entry(&out->e[0], ZKH_PERM_ALL, "world", "anyone");
	out->n = 1;
}

int zkh_zk_acl_for(const struct zkh_config *c, const struct zkh_zk_auth *auth,
		   struct zkh_acl *out, char *err, size_t err_cap)
{
	char id[ZKH_ACL_ID_MAX];
	int rc;

	if (c->acl.n > 0) {
		*out = c->acl;
		return 0;
	}
	if (!auth) {
		zkh_zk_acl_open(out);
		return 0;
	}
	if (strcmp(auth->scheme, "digest") != 0) {
		snprintf(err, err_cap, "auth_file %s: an ACL is derived only from "
			 "digest credentials, not scheme '%s'; set `acl` in the "
			 "config", c->auth_file, auth->scheme);
		return -EINVAL;
	}
	rc = zkh_zk_digest_id(auth->cred, id, sizeof(id));
	if (rc) {
		snprintf(err, err_cap, "auth_file %s: %s", c->auth_file,
			 rc == -EINVAL ? "digest credentials must be USER:PASSWORD"
				       : "user name too long for an ACL");
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	set_entry(&out->e[0], ZKH_PERM_ALL, "digest", id);
	set_entry(&out->e[1], ZKH_PERM_READ, "world", "anyone");
	out->n = 2;
	return 0;
}

bool zkh_zk_acl_is_open(const struct zkh_acl *a)
{
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->e[i].scheme, "world") == 0 &&
		    strcmp(a->e[i].id, "anyone") == 0 &&
		    (a->e[i].perms & ZKH_PERM_ALL) == ZKH_PERM_ALL)
			return true;
	return false;
}

void zkh_zk_acl_vector(const struct zkh_acl *a, struct ACL *buf,
		       struct ACL_vector *out)
{
	for (size_t i = 0; i < a->n; i++) {
		buf[i].perms = (int32_t)a->e[i].perms;
		/* the client's struct Id is not const-qualified; it only
		 * reads these strings when it serialises the request */
		buf[i].id.scheme = (char *)a->e[i].scheme;
		buf[i].id.id = (char *)a->e[i].id;
	}
	out->count = (int32_t)a->n;
	out->data = buf;
}

int zkh_zk_acl_from_vector(const struct ACL_vector *v, struct zkh_acl *out)
{
	memset(out, 0, sizeof(*out));
	if (v->count < 0 || (size_t)v->count > ZKH_ACL_MAX)
		return -E2BIG;
	for (int32_t i = 0; i < v->count; i++) {
		const struct ACL *a = &v->data[i];
		const char *s = a->id.scheme ? a->id.scheme : "";
		const char *id = a->id.id ? a->id.id : "";

		if (strlen(s) >= ZKH_ACL_SCHEME_MAX || strlen(id) >= ZKH_ACL_ID_MAX)
			return -ENAMETOOLONG;
		set_entry(&out->e[i], (uint32_t)a->perms & ZKH_PERM_ALL, s, id);
	}
	out->n = (size_t)v->count;
	return 0;
}

static bool has_entry(const struct zkh_acl *a, const struct zkh_acl_entry *e)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->e[i].perms == e->perms &&
		    strcmp(a->e[i].scheme, e->scheme) == 0 &&
		    strcmp(a->e[i].id, e->id) == 0)
			return true;
	return false;
}

bool zkh_zk_acl_equal(const struct zkh_acl *a, const struct zkh_acl *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!has_entry(b, &a->e[i]) || !has_entry(a, &b->e[i]))
			return false;
	return true;
}

char *zkh_zk_acl_format(const struct zkh_acl *a, char *out, size_t cap)
{
	static const struct { uint32_t bit; char letter; } order[] = {
		{ ZKH_PERM_CREATE, 'c' }, { ZKH_PERM_DELETE, 'd' },
		{ ZKH_PERM_READ, 'r' }, { ZKH_PERM_WRITE, 'w' },
		{ ZKH_PERM_ADMIN, 'a' },
	};
	size_t pos = 0;

	if (cap == 0)
		return out;
	out[0] = '\0';
	for (size_t i = 0; i < a->n; i++) {
		char perms[8];
		size_t np = 0;
		int n;

		for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
			if (a->e[i].perms & order[k].bit)
				perms[np++] = order[k].letter;
		if (np == 0)
			perms[np++] = '-';
		perms[np] = '\0';
		n = snprintf(out + pos, cap - pos, "%s%s:%s:%s", i ? ", " : "",
			     a->e[i].scheme, a->e[i].id, perms);
		if (n < 0 || (size_t)n >= cap - pos)
			break;
		pos += (size_t)n;
	}
	return out;
}

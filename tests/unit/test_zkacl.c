/*
 * test_zkacl.c - unit tests of common/zk/zkacl.c and of the `acl` key's
 * parser (common/core/config.c): the digest id against vectors computed
 * with ZooKeeper's own DigestAuthenticationProvider.generateDigest (Java,
 * zookeeper 3.8.0), the ACL chosen from config and credentials (explicit
 * `acl` wins; digest credentials give ALL to their id and READ to world;
 * none give the open ACL; other schemes are refused), conversion to and
 * from the C client's ACL_vector, comparison, formatting, and every kind
 * of bad `acl` value refused with a message naming the entry.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "zkhosts/config.h"
#include "zkhosts/zkacl.h"

/* Vectors: java -cp zookeeper.jar:slf4j-api.jar, calling
 * DigestAuthenticationProvider.generateDigest(arg) for each arg. */
static const struct { const char *cred, *id; } vectors[] = {
	{ "zkhosts:s3cret", "zkhosts:29rcgVREKyokPD8CMoNr/5hRFdE=" },
	{ "user:password", "user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY=" },
	{ "a:", "a:faqErSBWcv9/lZW1ERCcDsnNQLg=" },
	/* the password may hold ':'; the hash covers all of it */
	{ "cluster-admin:pa:ss:w0rd", "cluster-admin:kPMm9DipcH6I58bOmjUj5Z6/EX8=" },
};

static void digest_vectors(void **state)
{
	char out[ZKH_ACL_ID_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		assert_int_equal(zkh_zk_digest_id(vectors[i].cred, out, sizeof(out)), 0);
		assert_string_equal(out, vectors[i].id);
	}
}

static void digest_errors(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(zkh_zk_digest_id("nocolon", out, sizeof(out)), -EINVAL);
	assert_int_equal(zkh_zk_digest_id(":pw", out, sizeof(out)), -EINVAL);
	/* "user:" + 28 + NUL = 34 bytes */
	assert_int_equal(zkh_zk_digest_id("user:pw", out, 33), -ENOSPC);
	assert_int_equal(zkh_zk_digest_id("user:pw", out, 34), 0);
}

static void load_acl(struct zkh_config *c, const char *acl_text)
{
	struct zkh_config_error err;
	char text[1024];

	zkh_config_defaults(c);
	snprintf(text, sizeof(text), "acl = %s\n", acl_text);
	if (zkh_config_parse(text, strlen(text), "t.conf", ZKH_CONFIG_STRICT, c,
			     &err) != 0) {
		char buf[512];

		fail_msg("refused: %s", zkh_config_strerror(&err, buf, sizeof(buf)));
	}
}

static void acl_for_choices(void **state)
{
	struct zkh_config c;
	struct zkh_zk_auth auth;
	struct zkh_acl a;
	char err[256] = "", txt[ZKH_ACL_TEXT_MAX];

	(void)state;
	zkh_config_defaults(&c);
	strcpy(c.auth_file, "/etc/zkhosts.auth");
	/* no credentials: open, as before */
	assert_int_equal(zkh_zk_acl_for(&c, NULL, &a, err, sizeof(err)), 0);
	assert_string_equal(zkh_zk_acl_format(&a, txt, sizeof(txt)),
			    "world:anyone:cdrwa");
	assert_true(zkh_zk_acl_is_open(&a));
	/* digest credentials: ALL for the identity, READ for everyone */
	memset(&auth, 0, sizeof(auth));
	strcpy(auth.scheme, "digest");
	strcpy(auth.cred, "zkhosts:s3cret");
	assert_int_equal(zkh_zk_acl_for(&c, &auth, &a, err, sizeof(err)), 0);
	assert_string_equal(zkh_zk_acl_format(&a, txt, sizeof(txt)),
			    "digest:zkhosts:29rcgVREKyokPD8CMoNr/5hRFdE=:cdrwa, "
			    "world:anyone:r");
	assert_false(zkh_zk_acl_is_open(&a));
	assert_int_equal(a.e[0].perms, ZKH_PERM_ALL);
	assert_int_equal(a.e[1].perms, ZKH_PERM_READ);
	/* another scheme cannot be turned into an ACL entry */
	strcpy(auth.scheme, "ip");
	assert_int_equal(zkh_zk_acl_for(&c, &auth, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "set `acl`"));
	assert_null(strstr(err, "s3cret"));
	/* digest credentials without "USER:" */
	strcpy(auth.scheme, "digest");
	strcpy(auth.cred, "justapassword");
	assert_int_equal(zkh_zk_acl_for(&c, &auth, &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "USER:PASSWORD"));
	assert_null(strstr(err, "justapassword"));
	/* an explicit acl wins over the credentials, whatever they are */
	load_acl(&c, "ip:10.0.0.0/8:cdrwa, world:anyone:r");
	strcpy(auth.cred, "zkhosts:s3cret");
	assert_int_equal(zkh_zk_acl_for(&c, &auth, &a, err, sizeof(err)), 0);
	assert_string_equal(zkh_zk_acl_format(&a, txt, sizeof(txt)),
			    "ip:10.0.0.0/8:cdrwa, world:anyone:r");
	assert_int_equal(zkh_zk_acl_for(&c, NULL, &a, err, sizeof(err)), 0);
	assert_int_equal(a.n, 2);
}

static void vector_roundtrip(void **state)
{
	struct zkh_config c;
	struct zkh_acl back, other;
	struct ACL buf[ZKH_ACL_MAX];
	struct ACL_vector v;

	(void)state;
	load_acl(&c, "digest:u:29rcgVREKyokPD8CMoNr/5hRFdE=:rwa, world:anyone:r, "
		 "ip:fd00::1/64:cd");
	zkh_zk_acl_vector(&c.acl, buf, &v);
	assert_int_equal(v.count, 3);
	assert_string_equal(v.data[0].id.scheme, "digest");
	assert_string_equal(v.data[0].id.id, "u:29rcgVREKyokPD8CMoNr/5hRFdE=");
	assert_int_equal(v.data[0].perms, ZOO_PERM_READ | ZOO_PERM_WRITE | ZOO_PERM_ADMIN);
	assert_int_equal(v.data[2].perms, ZOO_PERM_CREATE | ZOO_PERM_DELETE);
	assert_int_equal(zkh_zk_acl_from_vector(&v, &back), 0);
	assert_true(zkh_zk_acl_equal(&back, &c.acl));
	/* order does not matter, permissions and ids do */
	load_acl(&c, "world:anyone:r, ip:fd00::1/64:cd, "
		 "digest:u:29rcgVREKyokPD8CMoNr/5hRFdE=:rwa");
	assert_true(zkh_zk_acl_equal(&back, &c.acl));
	load_acl(&c, "world:anyone:r, ip:fd00::1/64:cd, "
		 "digest:u:29rcgVREKyokPD8CMoNr/5hRFdE=:rw");
	other = c.acl;
	assert_false(zkh_zk_acl_equal(&back, &other));
	load_acl(&c, "world:anyone:r, ip:fd00::1/64:cd");
	assert_false(zkh_zk_acl_equal(&back, &c.acl));
	/* ZooKeeper's open ACL constant reads back as the open ACL */
	assert_int_equal(zkh_zk_acl_from_vector(&ZOO_OPEN_ACL_UNSAFE, &back), 0);
	zkh_zk_acl_open(&other);
	assert_true(zkh_zk_acl_equal(&back, &other));
}

static void parse_accepts(void **state)
{
	struct zkh_config c;

	(void)state;
	load_acl(&c, "  digest:zkhosts:29rcgVREKyokPD8CMoNr/5hRFdE=:cdrwa ,world:anyone:r  ");
	assert_int_equal(c.acl.n, 2);
	assert_string_equal(c.acl.e[0].scheme, "digest");
	assert_string_equal(c.acl.e[0].id, "zkhosts:29rcgVREKyokPD8CMoNr/5hRFdE=");
	assert_int_equal(c.acl.e[0].perms, ZKH_PERM_ALL);
	load_acl(&c, "World:anyone:adcwr");	/* scheme case, letter order */
	assert_string_equal(c.acl.e[0].scheme, "world");
	assert_int_equal(c.acl.e[0].perms, ZKH_PERM_ALL);
	load_acl(&c, "ip:192.0.2.7:r, ip:10.0.0.0/8:cdrwa, ip:fd00::/8:r");
	assert_int_equal(c.acl.n, 3);
	assert_string_equal(c.acl.e[2].id, "fd00::/8");
}

/* A bad value: refused on line 1, key 'acl', message holding `why` and
 * naming `tok`. */
static void expect_bad(const char *value, const char *why, const char *tok)
{
	struct zkh_config c;
	struct zkh_config_error err;
	char text[1024], buf[512];

	zkh_config_defaults(&c);
	snprintf(text, sizeof(text), "zookeeper = zk:2181\nacl = %s\n", value);
	if (zkh_config_parse(text, strlen(text), "t.conf", ZKH_CONFIG_STRICT, &c,
			     &err) != -EINVAL)
		fail_msg("accepted: %s", value);
	zkh_config_strerror(&err, buf, sizeof(buf));
	assert_int_equal(err.line, 2);
	assert_string_equal(err.key, "acl");
	if (!strstr(err.msg, why) || !strstr(err.msg, tok))
		fail_msg("'%s' lacks '%s' or '%s'", buf, why, tok);
	if (strstr(buf, "s3cret"))
		fail_msg("'%s' shows what may be a password", buf);
}

static void parse_refuses(void **state)
{
	(void)state;
	expect_bad("world:anyone", "want SCHEME:ID:PERMS", "world:anyone");
	expect_bad("world:anyone:", "missing permissions", "world:anyone:");
	expect_bad("world:anyone:rx", "bad permission letter", "world:anyone:rx");
	expect_bad("world:anyone:rr", "given twice", "world:anyone:rr");
	expect_bad("world:everyone:r", "only id is 'anyone'", "world:everyone:r");
	expect_bad("sasl:bob:cdrwa", "unknown scheme", "sasl:bob:cdrwa");
	expect_bad("digest:bob:cdrwa", "USER:HASH", "digest:bob:cdrwa");
	expect_bad("digest::29rcgVREKyokPD8CMoNr/5hRFdE=:r", "empty user", "digest::");
	/* the password instead of its hash: the classic mistake */
	expect_bad("digest:bob:s3cret:cdrwa", "28 base64", "'digest:bob:'");
	expect_bad("digest:bob:29rcgVREKyokPD8CMoNr/5hRF*E=:r", "not base64", "bob");
	expect_bad("digest:bob:29rcgVREKyokPD8CMoNr/5hRFdF=:r", "20 bytes", "bob");
	expect_bad("ip:10.0.0.300:r", "IPv4 or IPv6", "10.0.0.300");
	expect_bad("ip:10.0.0.0/33:r", "prefix length", "/33");
	expect_bad("ip:fd00::/129:r", "prefix length", "/129");
	expect_bad("world:anyone:r,", "empty entry", "");
	expect_bad("world:anyone:r,,ip:10.0.0.1:r", "empty entry", "");
	expect_bad("world:anyone:r, world:anyone:cdrwa", "id given twice",
		   "world:anyone:cdrwa");
	expect_bad("world: anyone:r", "whitespace inside", "world: anyone:r");
	expect_bad("ip:10.0.0.1:r,ip:10.0.0.2:r,ip:10.0.0.3:r,ip:10.0.0.4:r,"
		   "ip:10.0.0.5:r,ip:10.0.0.6:r,ip:10.0.0.7:r,ip:10.0.0.8:r,"
		   "ip:10.0.0.9:r", "more than 8", "ip:10.0.0.9:r");
}

static void parse_module_ignores(void **state)
{
	struct zkh_config c;
	const char *text = "acl = nonsense\ncache = /var/cache/x\n";

	(void)state;
	zkh_config_defaults(&c);
	assert_int_equal(zkh_config_parse(text, strlen(text), "t", ZKH_CONFIG_MODULE,
					  &c, NULL), 0);
	assert_int_equal(c.acl.n, 0);
	assert_string_equal(c.cache, "/var/cache/x");
}

static void format_truncates(void **state)
{
	struct zkh_config c;
	char small[12];

	(void)state;
	load_acl(&c, "world:anyone:r, ip:10.0.0.1:cdrwa");
	zkh_zk_acl_format(&c.acl, small, sizeof(small));
	assert_string_equal(small, "world:anyon");	/* cut, still terminated */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(digest_vectors),
		cmocka_unit_test(digest_errors),
		cmocka_unit_test(acl_for_choices),
		cmocka_unit_test(vector_roundtrip),
		cmocka_unit_test(parse_accepts),
		cmocka_unit_test(parse_refuses),
		cmocka_unit_test(parse_module_ignores),
		cmocka_unit_test(format_truncates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

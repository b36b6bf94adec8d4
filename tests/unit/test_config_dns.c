/*
 * test_config_dns.c - the zkdns keys of /etc/zkhosts.conf (dns_listen,
 * dns_ttl, dns_zone, dns_reverse_zones) through the real parser: their
 * defaults, every accepted form, and a clear error naming the bad item
 * for each rejected one. The NSS module (MODULE mode) ignores them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "zkhosts/config.h"

static int parse(const char *t, struct zkh_config *c,
		 struct zkh_config_error *err)
{
	zkh_config_defaults(c);
	return zkh_config_parse(t, strlen(t), "t.conf", ZKH_CONFIG_STRICT, c,
				err);
}

/* Parse must fail with a message containing `want`. */
static void bad(const char *t, const char *want)
{
	struct zkh_config c;
	struct zkh_config_error err;
	char msg[1024];

	assert_int_equal(parse(t, &c, &err), -EINVAL);
	zkh_config_strerror(&err, msg, sizeof(msg));
	if (strstr(msg, want) == NULL)
		fail_msg("'%s': got '%s', want '%s'", t, msg, want);
}

static void test_defaults(void **state)
{
	struct zkh_config c;

	(void)state;
	zkh_config_defaults(&c);
	assert_int_equal(c.dns_nlisten, 1);
	assert_int_equal(c.dns_listen[0].addr.family, AF_INET);
	assert_memory_equal(c.dns_listen[0].addr.bytes, "\x7f\x00\x00\x99", 4);
	assert_int_equal(c.dns_listen[0].port, 53);
	assert_int_equal(c.dns_ttl, 5);
	assert_string_equal(c.dns_zone, "");
	assert_int_equal(c.dns_reverse, ZKH_DNS_REV_AUTO);
}

static void test_listen_forms(void **state)
{
	struct zkh_config c;
	struct zkh_config_error err;

	(void)state;
	assert_int_equal(parse("dns_listen = 127.0.0.1:5353, [::1]:5300 "
			       "10.1.2.3 fd00::1\n", &c, &err), 0);
	assert_int_equal(c.dns_nlisten, 4);
	assert_int_equal(c.dns_listen[0].port, 5353);
	assert_int_equal(c.dns_listen[1].addr.family, AF_INET6);
	assert_int_equal(c.dns_listen[1].port, 5300);
	assert_int_equal(c.dns_listen[2].port, 53);
	assert_int_equal(c.dns_listen[3].addr.family, AF_INET6);
	assert_int_equal(c.dns_listen[3].port, 53);
	bad("dns_listen = 127.0.0.1:0\n", "port must be an integer");
	bad("dns_listen = 127.0.0.1:65536\n", "port must be an integer");
	bad("dns_listen = [::1\n", "'[' without ']'");
	bad("dns_listen = [::1]x\n", "expected ':PORT'");
	bad("dns_listen = host.example:53\n", "not a valid IPv4 or IPv6 "
	    "address: 'host.example:53'");
	bad("dns_listen = 127.0.0.1 127.0.0.1:53\n", "address given twice");
	bad("dns_listen = 1.1.1.1 1.1.1.2 1.1.1.3 1.1.1.4 1.1.1.5 1.1.1.6 "
	    "1.1.1.7 1.1.1.8 1.1.1.9\n", "more than 8 addresses");
}

static void test_ttl_zone(void **state)
{
	struct zkh_config c;
	struct zkh_config_error err;

	(void)state;
	assert_int_equal(parse("dns_ttl = 0\ndns_zone = Cluster.Example.\n",
			       &c, &err), 0);
	assert_int_equal(c.dns_ttl, 0);
	assert_string_equal(c.dns_zone, "cluster.example");
	bad("dns_ttl = 3601\n", "from 0 to 3600");
	bad("dns_ttl = -1\n", "from 0 to 3600");
	bad("dns_zone = bad..zone\n", "not a valid domain name");
}

static void test_reverse_zones(void **state)
{
	struct zkh_config c;
	struct zkh_config_error err;

	(void)state;
	assert_int_equal(parse("dns_reverse_zones = none\n", &c, &err), 0);
	assert_int_equal(c.dns_reverse, ZKH_DNS_REV_NONE);
	assert_int_equal(parse("dns_reverse_zones = 10.0.0.0/8, "
			       "192.168.7.0/24 fd00:1::/32 f000::/4\n", &c,
			       &err), 0);
	assert_int_equal(c.dns_reverse, ZKH_DNS_REV_LIST);
	assert_int_equal(c.dns_nreverse, 4);
	assert_int_equal(c.dns_reverse_zones[1].bits, 24);
	assert_int_equal(c.dns_reverse_zones[2].addr.family, AF_INET6);
	assert_int_equal(c.dns_reverse_zones[3].bits, 4);
	bad("dns_reverse_zones = 10.0.0.0/12\n", "8, 16, 24 or 32");
	bad("dns_reverse_zones = fd00::/6\n", "multiple of 4");
	bad("dns_reverse_zones = 10.0.0.1/24\n", "host bits set");
	bad("dns_reverse_zones = 10.0.0.0\n", "expected ADDRESS/BITS");
	bad("dns_reverse_zones = 10.0.0.0/8 10.0.0.0/8\n", "given twice");
}

static void test_module_ignores(void **state)
{
	static const char t[] = "dns_listen = nonsense\ndns_ttl = x\n"
	    "cache = /tmp/x\n";
	struct zkh_config c;
	struct zkh_config_error err;

	(void)state;
	zkh_config_defaults(&c);
	assert_int_equal(zkh_config_parse(t, sizeof(t) - 1, "t.conf",
					  ZKH_CONFIG_MODULE, &c, &err), 0);
	assert_string_equal(c.cache, "/tmp/x");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_listen_forms),
		cmocka_unit_test(test_ttl_zone),
		cmocka_unit_test(test_reverse_zones),
		cmocka_unit_test(test_module_ignores),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

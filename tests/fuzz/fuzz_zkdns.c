/*
 * fuzz_zkdns.c - fuzz target for zkdns's query path (zkdns/engine.c):
 * arbitrary bytes as a DNS message, answered from a real snapshot (a few
 * records published once per process by the real publisher into a
 * private cache under $TMPDIR). The first input byte picks the transport
 * (bit 0: TCP) and the engine (bit 1: domain mode with auto reverse
 * zones, or dns_zone mode with configured reverse zones); the rest is the
 * message. Invariants: no crash or sanitizer report; no answer only for
 * a runt or a response (QR set); every answer echoes the ID, has QR set,
 * fits the transport (UDP: at most 1232 bytes) and is itself a
 * well-formed DNS message libknot parses; AA is set exactly when the
 * rcode says the name is in a zone (NOERROR or NXDOMAIN).
 */
#include <errno.h>
#include <ftw.h>
#include <libknot/libknot.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "../../zkdns/engine.h"
#include "zkhosts/config.h"
#include "zkhosts/names.h"
#include "zkhosts/publish.h"

static struct zkdns_engine *eng[2];
static uint8_t out[ZKDNS_MSG_MAX];
static char dir[512];

static void add(struct zkh_publisher *p, const char *name, const char *addrs,
		uint64_t czxid)
{
	struct zkh_addr a[ZKH_MAX_ADDRS];
	size_t n = zkh_addrlist_parse(addrs, strlen(addrs), a, ZKH_MAX_ADDRS,
				      NULL);
	struct zkh_change c = { .op = ZKH_UPSERT, .name = name,
		.name_len = strlen(name), .czxid = czxid, .addrs = a,
		.naddrs = n };

	FUZZ_CHECK(zkh_pub_apply(p, &c, 1) == 0);
}

static void publish(const char *cache, const char *domain)
{
	struct zkh_pub_options o = { .domain = domain, .ttl = 5 };
	struct zkh_publisher *p = NULL;
	char big[2048] = "";

	FUZZ_CHECK(zkh_pub_open(cache, &o, &p) == 0);
	add(p, "alpha", "10.0.0.5 fd00::5", 1);
	add(p, "web", "10.0.0.5", 2);
	add(p, "twin", "10.0.0.10", 3);
	add(p, "twin.cluster.example", "10.0.0.10", 4);
	add(p, "a.rack1", "10.0.1.1", 5);
	add(p, "v6only", "fd00::9", 6);
	for (int i = 1; i <= ZKH_MAX_ADDRS; i++)
		snprintf(big + strlen(big), sizeof(big) - strlen(big),
			 "fd00::1:%x ", i);
	add(p, "big", big, 7);
	FUZZ_CHECK(zkh_pub_publish(p, ZKH_META_SYNCED, 0) == 0);
	zkh_pub_close(p);
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void cleanup(void)
{
	for (int i = 0; i < 2; i++)
		zkdns_engine_free(eng[i]);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");
	struct zkh_config c;
	char cache[600];

	snprintf(dir, sizeof(dir), "%s/fuzz_zkdns.XXXXXX", tmp ? tmp : "/tmp");
	FUZZ_CHECK(mkdtemp(dir) != NULL);
	atexit(cleanup);
	for (int i = 0; i < 2; i++) {
		snprintf(cache, sizeof(cache), "%s/cache%d", dir, i);
		publish(cache, i == 0 ? "cluster.example" : NULL);
		zkh_config_defaults(&c);
		snprintf(c.cache, sizeof(c.cache), "%s", cache);
		c.dns_ttl = 5;
		if (i == 1) {
			strcpy(c.dns_zone, "zone.test");
			c.dns_reverse = ZKH_DNS_REV_LIST;
			c.dns_nreverse = 2;
			zkh_addr_parse("10.0.0.0", 8, &c.dns_reverse_zones[0].addr);
			c.dns_reverse_zones[0].bits = 16;
			zkh_addr_parse("fd00::", 6, &c.dns_reverse_zones[1].addr);
			c.dns_reverse_zones[1].bits = 8;
		}
		FUZZ_CHECK(zkdns_engine_new(&c, false, &eng[i]) == 0);
		FUZZ_CHECK(zkdns_engine_refresh(eng[i]) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool tcp;
	uint8_t *msg;
	size_t len, n;
	struct zkdns_engine *e;

	if (eng[0] == NULL)
		setup();
	if (size == 0)
		return 0;
	tcp = data[0] & 1;
	e = eng[(data[0] >> 1) & 1];
	len = size - 1;
	if (len > ZKDNS_MSG_MAX)
		return 0;
	msg = (uint8_t *)fuzz_dup(data + 1, len);
	n = zkdns_answer(e, msg, len, tcp, out);
	if (n == 0) {
		FUZZ_CHECK(len < KNOT_WIRE_HEADER_SIZE || (msg[2] & 0x80));
	} else {
		knot_pkt_t *r;
		int rc, rcode;

		FUZZ_CHECK(len >= KNOT_WIRE_HEADER_SIZE && !(msg[2] & 0x80));
		FUZZ_CHECK(n >= KNOT_WIRE_HEADER_SIZE);
		FUZZ_CHECK(tcp ? n <= ZKDNS_MSG_MAX : n <= ZKDNS_UDP_MAX);
		FUZZ_CHECK(memcmp(out, msg, 2) == 0);
		FUZZ_CHECK(knot_wire_get_qr(out));
		r = knot_pkt_new(out, (uint16_t)n, NULL);
		FUZZ_CHECK(r != NULL);
		rc = knot_pkt_parse(r, 0);
		FUZZ_CHECK(rc == KNOT_EOK);
		rcode = knot_wire_get_rcode(out);
		if (knot_wire_get_aa(out))
			FUZZ_CHECK(rcode == KNOT_RCODE_NOERROR ||
				   rcode == KNOT_RCODE_NXDOMAIN);
		knot_pkt_free(r);
	}
	free(msg);
	return 0;
}

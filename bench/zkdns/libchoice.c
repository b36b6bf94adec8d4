/*
 * libchoice.c - the measurement behind zkdns's choice of DNS library:
 * the cost of what zkdns does per query with each candidate, libknot
 * (Knot DNS's packet library) and ldns (NLnet Labs): parse a query of
 * "host00042.cluster.example." type A with an EDNS OPT record, then build
 * the authoritative answer (question echoed, one A record with a
 * compressed owner, OPT) and write it to wire. Run by hand
 * (make bench-zkdns-libchoice); the figures are in docs/benchmarks.md.
 */
#include <ldns/ldns.h>
#include <libknot/libknot.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define N 1000000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t make_query(uint8_t *buf, size_t cap)
{
	knot_pkt_t *q;
	knot_dname_t *qn = knot_dname_from_str_alloc("host00042.cluster.example.");
	size_t len;

	memset(buf, 0, cap);	/* knot_pkt_new keeps the caller's header */
	q = knot_pkt_new(buf, (uint16_t)cap, NULL);

	knot_wire_set_id(q->wire, 4242);
	knot_wire_set_rd(q->wire);
	knot_pkt_put_question(q, qn, KNOT_CLASS_IN, KNOT_RRTYPE_A);
	knot_pkt_begin(q, KNOT_ADDITIONAL);
	{
		knot_rrset_t opt;

		knot_edns_init(&opt, 1232, 0, 0, NULL);
		knot_pkt_put(q, KNOT_COMPR_HINT_NONE, &opt, KNOT_PF_FREE);
	}
	len = q->size;
	knot_pkt_free(q);
	knot_dname_free(qn, NULL);
	return len;
}

static size_t knot_once(knot_pkt_t *q, knot_pkt_t *r, const uint8_t *qw,
			size_t qlen, uint8_t *qbuf)
{
	static const uint8_t a[4] = { 10, 0, 0, 42 };
	knot_rrset_t rr, opt;

	knot_pkt_clear(q);
	memcpy(qbuf, qw, qlen);
	q->size = qlen;
	int prc = knot_pkt_parse(q, 0);
	if (prc != KNOT_EOK) {
		fprintf(stderr, "parse %s\n", knot_strerror(prc));
		return 0;
	}
	knot_pkt_clear(r);
	knot_pkt_init_response(r, q);
	knot_wire_set_aa(r->wire);
	knot_pkt_begin(r, KNOT_ANSWER);
	knot_rrset_init(&rr, (knot_dname_t *)knot_pkt_wire_qname(q),
			KNOT_RRTYPE_A, KNOT_CLASS_IN, 5);
	/* knot_rrset_add_rdata allocates; a reusable rdataset avoids it. */
	uint8_t rdbuf[64];
	knot_rdata_t *rd = (knot_rdata_t *)rdbuf;
	knot_rdata_init(rd, 4, a);
	rr.rrs.count = 1;
	rr.rrs.size = knot_rdata_size(4);
	rr.rrs.rdata = rd;
	knot_pkt_put(r, KNOT_COMPR_HINT_QNAME, &rr, 0);
	knot_pkt_begin(r, KNOT_ADDITIONAL);
	uint8_t optbuf[64];
	knot_rdata_t *ord = (knot_rdata_t *)optbuf;
	knot_rrset_init(&opt, (knot_dname_t *)"", KNOT_RRTYPE_OPT, 1232, 0);
	knot_rdata_init(ord, 0, NULL);
	opt.rrs.count = 1;
	opt.rrs.size = knot_rdata_size(0);
	opt.rrs.rdata = ord;
	knot_pkt_put(r, KNOT_COMPR_HINT_NONE, &opt, 0);
	return r->size;
}

static size_t ldns_once(const uint8_t *qw, size_t qlen)
{
	static const uint8_t a[4] = { 10, 0, 0, 42 };
	ldns_pkt *q = NULL, *r;
	ldns_rr *rr;
	uint8_t *out = NULL;
	size_t olen = 0;

	ldns_status st = ldns_wire2pkt(&q, qw, qlen);
	if (st != LDNS_STATUS_OK) {
		fprintf(stderr, "ldns %s\n", ldns_get_errorstr_by_id(st));
		return 0;
	}
	r = ldns_pkt_new();
	ldns_pkt_set_id(r, ldns_pkt_id(q));
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_aa(r, true);
	ldns_pkt_set_rd(r, ldns_pkt_rd(q));
	ldns_rr *qq = ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(q), 0));
	ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, qq);
	rr = ldns_rr_new();
	ldns_rr_set_owner(rr, ldns_rdf_clone(ldns_rr_owner(qq)));
	ldns_rr_set_type(rr, LDNS_RR_TYPE_A);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, 5);
	ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, a));
	ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, rr);
	ldns_pkt_set_edns_udp_size(r, 1232);
	if (ldns_pkt2wire(&out, r, &olen) != LDNS_STATUS_OK)
		olen = 0;
	free(out);
	ldns_pkt_free(r);
	ldns_pkt_free(q);
	return olen;
}

int main(void)
{
	uint8_t qw[512], qbuf[512], rbuf[1232];
	size_t qlen = make_query(qw, sizeof(qw)), sum = 0;
	knot_pkt_t *q = knot_pkt_new(qbuf, sizeof(qbuf), NULL);
	knot_pkt_t *r = knot_pkt_new(rbuf, sizeof(rbuf), NULL);
	double t0, t1, t2;
	int i;

	t0 = now();
	for (i = 0; i < N; i++)
		sum += knot_once(q, r, qw, qlen, qbuf);
	t1 = now();
	for (i = 0; i < N; i++)
		sum += ldns_once(qw, qlen);
	t2 = now();
	printf("libknot %d.%d.%d: %.0f ns/query (response %zu bytes)\n",
	       KNOT_VERSION_MAJOR, KNOT_VERSION_MINOR, KNOT_VERSION_PATCH, (t1 - t0) * 1e9 / N, knot_once(q, r, qw, qlen, qbuf));
	printf("ldns %s: %.0f ns/query (response %zu bytes)\n",
	       LDNS_VERSION, (t2 - t1) * 1e9 / N, ldns_once(qw, qlen));
	knot_pkt_free(q);
	knot_pkt_free(r);
	return sum == 0;
}

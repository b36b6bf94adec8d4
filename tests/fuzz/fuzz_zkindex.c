/*
 * fuzz_zkindex.c - fuzz target for the fleet index codec (zkindex.h):
 * heads, ring lines, buckets and entry lines from arbitrary bytes never
 * read outside the buffer; whatever parses is within its documented
 * bounds, an entry line that parses re-encodes to exactly its bytes, and
 * trimming a well-formed ring keeps it within the bound and made of whole
 * writes. The first byte picks what the rest is read as.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "zkhosts/names.h"
#include "zkhosts/zkindex.h"

static int each(const struct zkx_entry *e, const char *line, size_t ll, void *arg)
{
	char again[ZKX_LINE_MAX + 1];
	int n = zkx_entry_format(e, again, sizeof again);

	(void)arg;
	FUZZ_CHECK(n > 0 && (size_t)n == ll && memcmp(again, line, ll) == 0);
	FUZZ_CHECK(e->naddrs >= 1 && e->naddrs <= ZKH_MAX_ADDRS);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data + 1;
	size_t len = size ? size - 1 : 0;
	struct zkx_entry e;

	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0: {
		struct zkx_head h;
		struct zkx_ring_rec r;
		size_t body, pos;
		char *copy;

		if (zkx_head_parse(buf, len, &h, &body) != 0)
			break;
		FUZZ_CHECK(h.format == ZKX_FORMAT);
		FUZZ_CHECK(h.nbuckets >= 1 && h.nbuckets <= ZKX_MAX_BUCKETS);
		FUZZ_CHECK(body <= len);
		if (h.has_map) {
			/* a map that parses formats back to the same bytes */
			char hdr[ZKX_HEAD_HDR_MAX];
			int n = zkx_head_format(&h, hdr, sizeof hdr);

			FUZZ_CHECK(h.map_from <= h.seq && h.map_len <= ZKX_MAP_MAX);
			/* a current map formats back to the same bytes */
			if (h.map_from + h.map_groups == h.seq)
				FUZZ_CHECK(n > 0 && (size_t)n == body && memcmp(hdr, buf, body) == 0);
		}
		pos = body;
		while (zkx_ring_next(buf, len, &pos, &r) == 1) {
			FUZZ_CHECK(pos <= len);
			if (r.kind == ZKX_R_UPSERT)
				FUZZ_CHECK(r.entry.naddrs >= 1);
		}
		/* a ring that reads to its end trims into whole writes */
		pos = body;
		{
			int rc;

			while ((rc = zkx_ring_next(buf, len, &pos, &r)) == 1)
				;
			if (rc != 0)
				break;	/* not well formed: trimming's precondition */
		}
		copy = malloc(len - body + 1);
		if (!copy)
			break;
		memcpy(copy, buf + body, len - body);
		{
			size_t rl = len - body;

			zkx_ring_trim(copy, &rl, (len - body) / 2);
			FUZZ_CHECK(rl <= (len - body) / 2 || rl == 0);
			FUZZ_CHECK(rl == 0 || copy[0] == 'g' || copy[0] == 's');
		}
		free(copy);
		break;
	}
	case 1:
		zkx_bucket_parse(buf, len, data[1 % size] % 4, 4, &e, each, NULL);
		break;
	default:
		if (zkx_entry_parse(buf, len, &e) == 0)
			each(&e, buf, len, NULL);
		break;
	}
	return 0;
}

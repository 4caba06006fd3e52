/* pktchan_fuzz: pktchan_hdr_parse on arbitrary bytes; whatever parses must
 * re-encode to exactly the same bytes and parse again to the same header. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pktchan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_same(const struct pktchan_hdr *a, const struct pktchan_hdr *b)
{
	if (a->kind != b->kind || a->addr.family != b->addr.family ||
	    a->addr.port != b->addr.port || memcmp(a->addr.ip, b->addr.ip, sizeof(a->addr.ip)) ||
	    a->region != b->region || memcmp(a->key, b->key, sizeof(a->key)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[PKTCHAN_MAX_MSG_BYTES];
	struct pktchan_hdr h, again;
	const uint8_t *pl, *pl2;
	size_t pl_len, pl2_len, n;

	if (pktchan_hdr_parse(data, size, &h, &pl, &pl_len) != PKTCHAN_OK)
		return 0;
	if (pl != data + PKTCHAN_HDR_BYTES || pl_len != size - PKTCHAN_HDR_BYTES)
		abort();
	n = pktchan_hdr_encode(&h, buf, sizeof(buf));
	if (n != PKTCHAN_HDR_BYTES || n + pl_len > sizeof(buf))
		abort();
	memcpy(buf + n, pl, pl_len);
	/* Every field is checked on parse, so the wire form is canonical. */
	if (memcmp(buf, data, size) != 0)
		abort();
	if (pktchan_hdr_parse(buf, n + pl_len, &again, &pl2, &pl2_len) != PKTCHAN_OK)
		abort();
	check_same(&h, &again);
	if (pl2_len != pl_len || memcmp(pl2, pl, pl_len) != 0)
		abort();
	/* Encoding into any smaller buffer fails cleanly. */
	if (pktchan_hdr_encode(&h, buf, PKTCHAN_HDR_BYTES - 1 - (size % PKTCHAN_HDR_BYTES)) != 0)
		abort();
	return 0;
}

/* stun_fuzz: stun_is, stun_msg_parse, stun_parse_response and
 * stun_parse_binding_request on arbitrary bytes. A request that parses is
 * answered for a fixed address, and the answer must parse back to that
 * address and the request's transaction ID; a response that parses must
 * re-encode and parse back to the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stun/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The answer's address: one of each family, chosen by the input. */
static const struct ipport fixed_v4 = {.family = AF_INET, .ip = {198, 51, 100, 7}, .port = 41641};
static const struct ipport fixed_v6 = {
	.family = AF_INET6,
	.ip = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef},
	.port = 3478,
};

static void answer_and_check(const uint8_t txid[STUN_TXID_BYTES], const struct ipport *addr)
{
	uint8_t buf[STUN_RESPONSE_MAX_BYTES], got_txid[STUN_TXID_BYTES];
	struct ipport got;
	size_t n = stun_binding_response(txid, addr, buf, sizeof(buf));

	if (n == 0 || !stun_is(buf, n))
		abort();
	if (stun_parse_response(buf, n, got_txid, &got) != 0)
		abort();
	if (memcmp(got_txid, txid, STUN_TXID_BYTES) != 0 || !ipport_equal(&got, addr))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t txid[STUN_TXID_BYTES];
	struct ipport addr;
	struct stun_msg m;
	int rc;

	if (size > STUN_MAX_MESSAGE_BYTES)
		return 0;
	bool is = stun_is(data, size);

	rc = stun_msg_parse(data, size, &m);
	if (rc == 0) {
		struct stun_attr a;
		size_t off = 0, n = 0;

		/* Whatever parses looked like STUN, and walks the same. */
		if (!is)
			abort();
		while (stun_attr_next(&m, &off, &a))
			n++;
		if (n != m.nattrs || off != m.attrs_len || n > STUN_MAX_ATTRS)
			abort();
	} else if (stun_strerror(rc) == NULL) {
		abort();
	}

	rc = stun_parse_binding_request(data, size, txid);
	if (rc == 0) {
		if (!is)
			abort();
		answer_and_check(txid, size % 2 ? &fixed_v6 : &fixed_v4);
	}

	rc = stun_parse_response(data, size, txid, &addr);
	if (rc == 0) {
		if (!is || (addr.family != AF_INET && addr.family != AF_INET6))
			abort();
		answer_and_check(txid, &addr);
	}
	return 0;
}

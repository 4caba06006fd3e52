/* stun_binding: the Binding request and response as Tailscale's
 * net/stun/stun.go writes and reads them (Request, ParseBindingRequest,
 * Response, ParseResponse), on RFC 8489 sections 14.1, 14.2 and 14.14. */
#include <string.h>
#include <stdlib.h>

#include <sodium.h>

#include "stun/stun.h"
#include "stun/stun_internal.h"

enum {
	SOFTWARE_BYTES = sizeof(STUN_SOFTWARE) - 1, /* 8: a multiple of 4, no padding */
	/* MAPPED-ADDRESS and XOR-MAPPED-ADDRESS value: reserved 1, family 1,
	 * port 2, then the address (RFC 8489 sections 14.1 and 14.2). */
	ADDR_VALUE_HDR_BYTES = 4,
	IPV4_BYTES = 4,
	IPV6_BYTES = 16,
};

_Static_assert(SOFTWARE_BYTES % 4 == 0, "SOFTWARE must need no padding");
_Static_assert(STUN_REQUEST_BYTES == STUN_HEADER_BYTES + 4 + SOFTWARE_BYTES + 4 + 4,
	       "request layout");

size_t stun_binding_request(const uint8_t txid[STUN_TXID_BYTES], uint8_t *buf, size_t cap)
{
	uint8_t *p = buf;

	if (!buf || cap < STUN_REQUEST_BYTES)
		return 0;
	stun_put_header(p, STUN_BINDING_REQUEST, STUN_REQUEST_BYTES - STUN_HEADER_BYTES, txid);
	p += STUN_HEADER_BYTES;
	/* SOFTWARE first: Tailscale's derp/xdp reads it at this offset. */
	stun_put16(p, STUN_ATTR_SOFTWARE);
	stun_put16(p + 2, SOFTWARE_BYTES);
	memcpy(p + 4, STUN_SOFTWARE, SOFTWARE_BYTES);
	p += 4 + SOFTWARE_BYTES;
	stun_put16(p, STUN_ATTR_FINGERPRINT);
	stun_put16(p + 2, 4);
	stun_put32(p + 4, stun_fingerprint(buf, (size_t)(p - buf)));
	return STUN_REQUEST_BYTES;
}

int stun_parse_binding_request(const uint8_t *p, size_t len, uint8_t txid[STUN_TXID_BYTES])
{
	struct stun_msg m;
	struct stun_attr a;
	size_t off = 0;
	bool software_ok = false;
	int rc;

	rc = stun_msg_parse(p, len, &m);
	if (rc != 0)
		return rc;
	if (m.type != STUN_BINDING_REQUEST)
		return STUN_ERR_NOT_BINDING;
	while (stun_attr_next(&m, &off, &a)) {
		if (a.type == STUN_ATTR_SOFTWARE && a.len == SOFTWARE_BYTES &&
		    memcmp(a.value, STUN_SOFTWARE, SOFTWARE_BYTES) == 0)
			software_ok = true;
	}
	/* Tailscale answers only its own clients, and only requests that end
	 * in a FINGERPRINT (stun_msg_parse checked its value). */
	if (!software_ok)
		return STUN_ERR_WRONG_SOFTWARE;
	if (!m.has_fingerprint)
		return STUN_ERR_NO_FINGERPRINT;
	memcpy(txid, m.txid, STUN_TXID_BYTES);
	return 0;
}

/* The XOR key of X-Address: magic cookie, then transaction ID (RFC 8489
 * section 14.2). The port uses its first two bytes. */
static void xor_key(const uint8_t txid[STUN_TXID_BYTES], uint8_t key[IPV6_BYTES])
{
	stun_put32(key, STUN_MAGIC_COOKIE);
	memcpy(key + 4, txid, STUN_TXID_BYTES);
}

size_t stun_binding_response(const uint8_t txid[STUN_TXID_BYTES], const struct ipport *addr,
			     uint8_t *buf, size_t cap)
{
	uint8_t key[IPV6_BYTES], family;
	size_t ip_len, total;
	uint8_t *p;

	if (!addr || !buf)
		return 0;
	if (addr->family == AF_INET) {
		family = STUN_FAMILY_IPV4;
		ip_len = IPV4_BYTES;
	} else if (addr->family == AF_INET6) {
		family = STUN_FAMILY_IPV6;
		ip_len = IPV6_BYTES;
	} else {
		return 0;
	}
	total = STUN_HEADER_BYTES + 4 + ADDR_VALUE_HDR_BYTES + ip_len;
	if (cap < total)
		return 0;
	xor_key(txid, key);
	stun_put_header(buf, STUN_BINDING_SUCCESS_RESPONSE, (uint16_t)(total - STUN_HEADER_BYTES),
			txid);
	p = buf + STUN_HEADER_BYTES;
	stun_put16(p, STUN_ATTR_XOR_MAPPED_ADDRESS);
	stun_put16(p + 2, (uint16_t)(ADDR_VALUE_HDR_BYTES + ip_len));
	p[4] = 0;
	p[5] = family;
	stun_put16(p + 6, addr->port ^ (uint16_t)(STUN_MAGIC_COOKIE >> 16));
	for (size_t i = 0; i < ip_len; i++)
		p[8 + i] = addr->ip[i] ^ key[i];
	return total;
}

/* Decodes a MAPPED-ADDRESS value, or an XOR-MAPPED-ADDRESS one when txid is
 * set. Like Tailscale, an unknown family is an error and bytes past the
 * address are ignored; an IPv4-mapped IPv6 address becomes IPv4. */
static int decode_addr(const struct stun_attr *a, const uint8_t *txid, struct ipport *out)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	uint8_t key[IPV6_BYTES] = {0}, ip[IPV6_BYTES];
	size_t ip_len;
	uint16_t port;

	if (a->len < ADDR_VALUE_HDR_BYTES)
		return STUN_ERR_BAD_ADDR_LEN;
	if (a->value[1] == STUN_FAMILY_IPV4)
		ip_len = IPV4_BYTES;
	else if (a->value[1] == STUN_FAMILY_IPV6)
		ip_len = IPV6_BYTES;
	else
		return STUN_ERR_BAD_FAMILY;
	if ((size_t)a->len - ADDR_VALUE_HDR_BYTES < ip_len)
		return STUN_ERR_BAD_ADDR_LEN;
	if (txid)
		xor_key(txid, key);
	port = stun_get16(a->value + 2);
	if (txid)
		port ^= (uint16_t)(STUN_MAGIC_COOKIE >> 16);
	for (size_t i = 0; i < ip_len; i++)
		ip[i] = a->value[ADDR_VALUE_HDR_BYTES + i] ^ key[i];

	memset(out, 0, sizeof(*out));
	out->port = port;
	if (ip_len == IPV6_BYTES && memcmp(ip, v4mapped, sizeof(v4mapped)) == 0) {
		out->family = AF_INET;
		memcpy(out->ip, ip + sizeof(v4mapped), IPV4_BYTES);
	} else {
		out->family = ip_len == IPV4_BYTES ? AF_INET : AF_INET6;
		memcpy(out->ip, ip, ip_len);
	}
	return 0;
}

int stun_parse_response(const uint8_t *p, size_t len, uint8_t txid[STUN_TXID_BYTES],
			struct ipport *addr)
{
	struct stun_msg m;
	struct stun_attr a;
	struct ipport xor_addr = {0}, mapped = {0};
	size_t off = 0;
	int rc;

	rc = stun_msg_parse(p, len, &m);
	if (rc != 0)
		return rc;
	/* Class bits C1 (0x0100) and C0 (0x0010): 10 is a success response. */
	if ((m.type & 0x0110) != 0x0100)
		return STUN_ERR_NOT_SUCCESS;
	if (m.type != STUN_BINDING_SUCCESS_RESPONSE)
		return STUN_ERR_NOT_BINDING;
	while (stun_attr_next(&m, &off, &a)) {
		switch (a.type) {
		case STUN_ATTR_XOR_MAPPED_ADDRESS:
		case STUN_ATTR_XOR_MAPPED_ADDRESS_ALT:
			rc = decode_addr(&a, m.txid, &xor_addr);
			break;
		case STUN_ATTR_MAPPED_ADDRESS:
			rc = decode_addr(&a, NULL, &mapped);
			break;
		default:
			/* Unknown attributes of both ranges are ignored, as
			 * Tailscale does: real servers send RFC 3489's
			 * SOURCE-ADDRESS (0x0004) and CHANGED-ADDRESS (0x0005). */
			rc = 0;
			break;
		}
		if (rc != 0)
			return rc;
	}
	if (xor_addr.family)
		*addr = xor_addr;
	else if (mapped.family)
		*addr = mapped;
	else
		return STUN_ERR_NO_ADDR;
	memcpy(txid, m.txid, STUN_TXID_BYTES);
	return 0;
}

void stun_new_txid(uint8_t txid[STUN_TXID_BYTES])
{
	/* sodium_init only fails when the system has no random source; a
	 * predictable transaction ID would let anyone answer for the server. */
	if (sodium_init() < 0)
		abort();
	randombytes_buf(txid, STUN_TXID_BYTES);
}

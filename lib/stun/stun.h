/* stun: STUN Binding (RFC 8489, which RFC 5389 clients also speak), wire
 * compatible with Tailscale's net/stun/stun.go: the request Tailscale sends,
 * the response its servers send, and the same acceptance rules (see
 * docs/stun.md for where we are stricter and why).
 *
 * Everything here is a pure codec: no I/O, no logging, no allocation. Parsed
 * results that point into the input (struct stun_msg, struct stun_attr)
 * borrow it; the caller keeps the input alive while using them. */
#ifndef MSOCK_STUN_H
#define MSOCK_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum {
	STUN_HEADER_BYTES = 20, /* RFC 8489 section 5 */
	STUN_TXID_BYTES = 12,	/* 96-bit transaction ID, RFC 8489 section 5 */
	STUN_MAGIC_COOKIE = 0x2112A442,
	/* The header's 16-bit length is a multiple of 4 (RFC 8489 section 5),
	 * so no message is longer than this. We add no tighter cap: Tailscale
	 * has none, and RFC 8489 section 6.1's size rule (under the path MTU;
	 * 548 bytes over IPv4 when unknown) binds senders, not receivers. */
	STUN_MAX_MESSAGE_BYTES = STUN_HEADER_BYTES + 65532,
	/* Ours: we refuse messages with more attributes than this. No spec or
	 * Tailscale limit exists; the most any vector we know carries is 6
	 * (RFC 5769 section 2.1), and this bounds the work per packet. */
	STUN_MAX_ATTRS = 32,
	/* What stun_binding_request writes: header, SOFTWARE (4 + 8), and
	 * FINGERPRINT (4 + 4), exactly as Tailscale's stun.Request. */
	STUN_REQUEST_BYTES = STUN_HEADER_BYTES + 12 + 8,
	/* What stun_binding_response writes: header and one XOR-MAPPED-ADDRESS
	 * (4 + 8 for IPv4, 4 + 20 for IPv6), as Tailscale's stun.Response. */
	STUN_RESPONSE_V4_BYTES = STUN_HEADER_BYTES + 12,
	STUN_RESPONSE_V6_BYTES = STUN_HEADER_BYTES + 24,
	STUN_RESPONSE_MAX_BYTES = STUN_RESPONSE_V6_BYTES,
};

/* Message types (RFC 8489 section 5: method and class bits interleaved). */
enum {
	STUN_BINDING_REQUEST = 0x0001,
	STUN_BINDING_INDICATION = 0x0011,
	STUN_BINDING_SUCCESS_RESPONSE = 0x0101,
	STUN_BINDING_ERROR_RESPONSE = 0x0111,
};

/* Attribute types (RFC 8489 section 18.3). 0x0000-0x7FFF are
 * comprehension-required, 0x8000-0xFFFF comprehension-optional. */
enum {
	STUN_ATTR_MAPPED_ADDRESS = 0x0001,
	STUN_ATTR_USERNAME = 0x0006,
	STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
	STUN_ATTR_ERROR_CODE = 0x0009,
	STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
	/* Not in any RFC: XOR-MAPPED-ADDRESS shifted into the optional range,
	 * which some servers send; Tailscale accepts it (attrXorMappedAddressAlt). */
	STUN_ATTR_XOR_MAPPED_ADDRESS_ALT = 0x8020,
	STUN_ATTR_SOFTWARE = 0x8022,
	STUN_ATTR_FINGERPRINT = 0x8028,
	STUN_ATTR_COMPREHENSION_OPTIONAL = 0x8000, /* first type of the optional range */
};

/* Address families inside MAPPED-ADDRESS / XOR-MAPPED-ADDRESS (RFC 8489
 * section 14.1). */
enum {
	STUN_FAMILY_IPV4 = 0x01,
	STUN_FAMILY_IPV6 = 0x02,
};

/* FINGERPRINT = CRC-32 of the message up to it, XORed with this
 * (RFC 8489 section 14.7; "STUN" in ASCII). */
#define STUN_FINGERPRINT_XOR 0x5354554eu

/* The SOFTWARE value of our request. Tailscale's servers answer only
 * requests that carry exactly this (net/stun ParseBindingRequest, and the
 * derp/xdp fast path, which also wants it as the first attribute), so an
 * msock client keeps Tailscale's value rather than naming itself. */
#define STUN_SOFTWARE "tailnode"

/* What the parsers return: 0 or one of these. Not errno values. */
enum stun_err {
	STUN_OK = 0,
	STUN_ERR_SHORT = -1,	       /* shorter than the 20-byte header */
	STUN_ERR_NOT_STUN = -2,	       /* top two bits set, or no magic cookie */
	STUN_ERR_BAD_LENGTH = -3,      /* header length not a multiple of 4 */
	STUN_ERR_TRUNCATED = -4,       /* header length runs past the packet */
	STUN_ERR_BAD_ATTR = -5,	       /* an attribute runs past the message end */
	STUN_ERR_TOO_MANY_ATTRS = -6,  /* more than STUN_MAX_ATTRS attributes */
	STUN_ERR_BAD_FINGERPRINT = -7, /* FINGERPRINT not 4 bytes, not last, or wrong */
	STUN_ERR_NOT_BINDING = -8,     /* not a Binding request / Binding response */
	STUN_ERR_NOT_SUCCESS = -9,     /* a response, but not a success response */
	STUN_ERR_BAD_FAMILY = -10,     /* address attribute family not 1 or 2 */
	STUN_ERR_BAD_ADDR_LEN = -11,   /* address attribute shorter than its family */
	STUN_ERR_NO_ADDR = -12,	       /* success response without any mapped address */
	STUN_ERR_WRONG_SOFTWARE = -13, /* request without SOFTWARE STUN_SOFTWARE */
	STUN_ERR_NO_FINGERPRINT = -14, /* request without FINGERPRINT */
};

/* A message whose header and attribute layout are valid. */
struct stun_msg {
	uint16_t type; /* e.g. STUN_BINDING_REQUEST */
	uint8_t txid[STUN_TXID_BYTES];
	const uint8_t *attrs; /* borrowed from the input: the attribute bytes */
	size_t attrs_len;     /* the header's length; bytes after it are ignored */
	size_t nattrs;
	bool has_fingerprint; /* FINGERPRINT present (then it was last and correct) */
};

struct stun_attr {
	uint16_t type;
	uint16_t len;	      /* value length, without padding */
	const uint8_t *value; /* borrowed from the input */
};

/* Whether p looks like STUN, exactly as Tailscale's stun.Is (used by the
 * dataplane's classifier): at least 20 bytes, top two bits of the first
 * byte zero, magic cookie at offset 4. It does not look at the length. */
bool stun_is(const uint8_t *p, size_t len);

/* Parses the header and walks the attributes of any STUN message: the
 * header length must be a multiple of 4 and fit in len (bytes past it are
 * ignored, as Tailscale does), every attribute must fit, and a FINGERPRINT,
 * if any, must be 4 bytes, last, and correct. Attribute values are not
 * interpreted. Returns 0 or a negative enum stun_err (then *out is
 * untouched). */
int stun_msg_parse(const uint8_t *p, size_t len, struct stun_msg *out);
/* The FINGERPRINT value of the n message bytes p (CRC-32 XOR
 * STUN_FINGERPRINT_XOR); the header in p must already count the
 * FINGERPRINT attribute in its length. */
uint32_t stun_fingerprint(const uint8_t *p, size_t n);
/* Iterates m's attributes: *off starts at 0. Returns true and fills *out
 * while there is one. */
bool stun_attr_next(const struct stun_msg *m, size_t *off, struct stun_attr *out);

/* Writes Tailscale's binding request: SOFTWARE STUN_SOFTWARE, then
 * FINGERPRINT. Returns STUN_REQUEST_BYTES, or 0 if cap is too small. */
size_t stun_binding_request(const uint8_t txid[STUN_TXID_BYTES], uint8_t *buf, size_t cap);
/* Parses a binding request the way Tailscale's servers do: it must be a
 * Binding request, carry SOFTWARE STUN_SOFTWARE, and end in a correct
 * FINGERPRINT. On success copies its transaction ID to txid. Returns 0 or a
 * negative enum stun_err (then txid is untouched). */
int stun_parse_binding_request(const uint8_t *p, size_t len, uint8_t txid[STUN_TXID_BYTES]);

/* Writes a binding success response with one XOR-MAPPED-ADDRESS of addr
 * (AF_INET or AF_INET6), byte for byte what Tailscale's stun.Response
 * writes. Returns STUN_RESPONSE_V4_BYTES or STUN_RESPONSE_V6_BYTES, or 0 if
 * cap is too small or addr has another family. */
size_t stun_binding_response(const uint8_t txid[STUN_TXID_BYTES], const struct ipport *addr,
			     uint8_t *buf, size_t cap);
/* Parses a binding success response: the address comes from the last
 * XOR-MAPPED-ADDRESS (or its 0x8020 variant), else from the last
 * MAPPED-ADDRESS; an IPv4-mapped IPv6 address comes back as IPv4. Other
 * attributes, of either range, are ignored, as Tailscale does. On success
 * fills txid and *addr. Returns 0 or a negative enum stun_err (then both
 * are untouched; stun_msg_parse still gives the transaction ID of, say, an
 * error response). */
int stun_parse_response(const uint8_t *p, size_t len, uint8_t txid[STUN_TXID_BYTES],
			struct ipport *addr);

/* A new random transaction ID (libsodium randombytes_buf). */
void stun_new_txid(uint8_t txid[STUN_TXID_BYTES]);

/* A static description of an enum stun_err ("shorter than a STUN header"). */
const char *stun_strerror(int err);

#endif

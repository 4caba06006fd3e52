/* stun_msg: the STUN header and attribute walk of RFC 8489 sections 5 and
 * 14, FINGERPRINT (section 14.7), and Tailscale's stun.Is (net/stun/stun.go). */
#include "stun/stun.h"
#include "stun/stun_internal.h"

enum {
	OFF_TYPE = 0,
	OFF_LENGTH = 2,
	OFF_COOKIE = 4,
	OFF_TXID = 8,
	ATTR_HDR_BYTES = 4,	     /* type 2 + length 2 */
	FINGERPRINT_VALUE_BYTES = 4, /* CRC-32 */
};

_Static_assert(OFF_TXID + STUN_TXID_BYTES == STUN_HEADER_BYTES, "STUN header layout");

uint16_t stun_get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

uint32_t stun_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void stun_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void stun_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* CRC-32 of ISO 3309 / ITU-T V.42 as RFC 8489 section 14.7 asks (the one of
 * zlib and Go's crc32.ChecksumIEEE), a nibble at a time: no zlib in our
 * link, and messages are tens of bytes. */
static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	static const uint32_t tab[16] = {
		0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
		0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
		0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
	};
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c = tab[(c ^ p[i]) & 0x0f] ^ (c >> 4);
		c = tab[(c ^ (p[i] >> 4)) & 0x0f] ^ (c >> 4);
	}
	return ~c;
}

uint32_t stun_fingerprint(const uint8_t *p, size_t n)
{
	return crc32_ieee(p, n) ^ STUN_FINGERPRINT_XOR;
}

void stun_put_header(uint8_t *p, uint16_t type, uint16_t attrs_len,
		     const uint8_t txid[STUN_TXID_BYTES])
{
	stun_put16(p + OFF_TYPE, type);
	stun_put16(p + OFF_LENGTH, attrs_len);
	stun_put32(p + OFF_COOKIE, STUN_MAGIC_COOKIE);
	for (size_t i = 0; i < STUN_TXID_BYTES; i++)
		p[OFF_TXID + i] = txid[i];
}

bool stun_is(const uint8_t *p, size_t len)
{
	return p && len >= STUN_HEADER_BYTES && (p[0] & 0xc0) == 0 &&
	       stun_get32(p + OFF_COOKIE) == STUN_MAGIC_COOKIE;
}

/* The attribute at attrs[off], if its header and padded value fit in n. */
static bool attr_at(const uint8_t *attrs, size_t n, size_t off, struct stun_attr *a, size_t *next)
{
	size_t padded;

	if (off >= n || n - off < ATTR_HDR_BYTES)
		return false;
	a->type = stun_get16(attrs + off);
	a->len = stun_get16(attrs + off + 2);
	padded = ((size_t)a->len + 3) & ~(size_t)3;
	if (n - off - ATTR_HDR_BYTES < padded)
		return false;
	a->value = attrs + off + ATTR_HDR_BYTES;
	*next = off + ATTR_HDR_BYTES + padded;
	return true;
}

int stun_msg_parse(const uint8_t *p, size_t len, struct stun_msg *out)
{
	struct stun_msg m = {0};
	struct stun_attr a;
	size_t off = 0, next;

	if (!p || len < STUN_HEADER_BYTES)
		return STUN_ERR_SHORT;
	if (!stun_is(p, len))
		return STUN_ERR_NOT_STUN;
	m.type = stun_get16(p + OFF_TYPE);
	m.attrs_len = stun_get16(p + OFF_LENGTH);
	if (m.attrs_len % 4 != 0)
		return STUN_ERR_BAD_LENGTH;
	if (m.attrs_len > len - STUN_HEADER_BYTES)
		return STUN_ERR_TRUNCATED;
	for (size_t i = 0; i < STUN_TXID_BYTES; i++)
		m.txid[i] = p[OFF_TXID + i];
	m.attrs = p + STUN_HEADER_BYTES;

	while (off < m.attrs_len) {
		if (!attr_at(m.attrs, m.attrs_len, off, &a, &next))
			return STUN_ERR_BAD_ATTR;
		if (++m.nattrs > STUN_MAX_ATTRS)
			return STUN_ERR_TOO_MANY_ATTRS;
		if (a.type == STUN_ATTR_FINGERPRINT) {
			/* Last, and over every byte before it, header
			 * included (RFC 8489 section 14.7). */
			if (a.len != FINGERPRINT_VALUE_BYTES || next != m.attrs_len ||
			    stun_get32(a.value) != stun_fingerprint(p, STUN_HEADER_BYTES + off))
				return STUN_ERR_BAD_FINGERPRINT;
			m.has_fingerprint = true;
		}
		off = next;
	}
	*out = m;
	return 0;
}

bool stun_attr_next(const struct stun_msg *m, size_t *off, struct stun_attr *out)
{
	size_t next;

	if (!attr_at(m->attrs, m->attrs_len, *off, out, &next))
		return false;
	*off = next;
	return true;
}

const char *stun_strerror(int err)
{
	switch (err) {
	case STUN_OK:
		return "ok";
	case STUN_ERR_SHORT:
		return "shorter than a STUN header";
	case STUN_ERR_NOT_STUN:
		return "not STUN (top bits or magic cookie)";
	case STUN_ERR_BAD_LENGTH:
		return "message length not a multiple of 4";
	case STUN_ERR_TRUNCATED:
		return "message length runs past the packet";
	case STUN_ERR_BAD_ATTR:
		return "attribute runs past the message";
	case STUN_ERR_TOO_MANY_ATTRS:
		return "too many attributes";
	case STUN_ERR_BAD_FINGERPRINT:
		return "bad FINGERPRINT";
	case STUN_ERR_NOT_BINDING:
		return "not a Binding message";
	case STUN_ERR_NOT_SUCCESS:
		return "not a success response";
	case STUN_ERR_BAD_FAMILY:
		return "address family not IPv4 or IPv6";
	case STUN_ERR_BAD_ADDR_LEN:
		return "address attribute too short";
	case STUN_ERR_NO_ADDR:
		return "no mapped address";
	case STUN_ERR_WRONG_SOFTWARE:
		return "request not from " STUN_SOFTWARE " software";
	case STUN_ERR_NO_FINGERPRINT:
		return "request without FINGERPRINT";
	}
	return "unknown STUN error";
}

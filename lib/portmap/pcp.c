/* pcp: PCP ANNOUNCE and MAP requests and response checks, RFC 6887
 * sections 7, 8.3, 9, 11 and 14.1; request bytes as Tailscale's
 * net/portmapper/pcp.go writes them (pcpAnnounceRequest,
 * buildPCPRequestMappingPacket). */
#include "portmap/pcp.h"
#include "be.h"
#include "portmap/natpmp.h"

/* Offsets: common header (sections 7.1, 7.2), then MAP data (11.1, 11.2). */
enum {
	OFF_VERSION = 0,
	OFF_OPCODE = 1, /* R bit and 7-bit opcode */
	OFF_RESULT = 3, /* responses; byte 2 is Reserved */
	OFF_LIFETIME = 4,
	OFF_EPOCH = 8,	     /* responses; then 12 reserved bytes */
	OFF_CLIENT_ADDR = 8, /* requests */
	OFF_MAP = PCP_HEADER_BYTES,
	MAP_OFF_NONCE = 0,
	MAP_OFF_PROTOCOL = 12, /* then 3 reserved bytes */
	MAP_OFF_INTERNAL_PORT = 16,
	MAP_OFF_EXTERNAL_PORT = 18,
	MAP_OFF_EXTERNAL_ADDR = 20,
	ADDR_BYTES = 16, /* every address is IPv6 or IPv4-mapped, section 5 */
	OPCODE_MASK = 0x7f,
	/* RFC 6886 section 3.5: a NAT-PMP server's whole answer to a
	 * version it does not know: version 0, opcode, 16-bit result 1,
	 * epoch. */
	NATPMP_UNSUPPORTED_VERSION_BYTES = 8,
};

_Static_assert(OFF_CLIENT_ADDR + ADDR_BYTES == PCP_HEADER_BYTES, "PCP request header layout");
_Static_assert(MAP_OFF_EXTERNAL_ADDR + ADDR_BYTES == PCP_MAP_BYTES, "PCP MAP layout");
_Static_assert(PCP_MAX_MESSAGE_BYTES % 4 == 0, "the largest response is a multiple of 4");

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static bool bytes_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i] != b[i])
			return false;
	}
	return true;
}

/* Writes a's address in its 16-byte form (section 5): IPv6 as is, IPv4 as
 * IPv4-mapped IPv6. An unset a (family 0) writes the all-zeros address of
 * family fallback (section 11.1). request_valid has checked the families. */
static void put_addr(uint8_t *p, const struct ipport *a, uint8_t fallback)
{
	uint8_t family = a->family ? a->family : fallback;

	if (family == AF_INET6) {
		for (size_t i = 0; i < ADDR_BYTES; i++)
			p[i] = a->family ? a->ip[i] : 0;
		return;
	}
	for (size_t i = 0; i < sizeof(v4mapped_prefix); i++)
		p[i] = v4mapped_prefix[i];
	for (size_t i = 0; i < 4; i++)
		p[12 + i] = a->family ? a->ip[i] : 0;
}

/* Reads a 16-byte address; IPv4-mapped comes back as AF_INET. */
static void get_addr(const uint8_t *p, uint16_t port, struct ipport *a)
{
	*a = (struct ipport){.port = port};
	if (bytes_equal(p, v4mapped_prefix, sizeof(v4mapped_prefix))) {
		a->family = AF_INET;
		for (size_t i = 0; i < 4; i++)
			a->ip[i] = p[12 + i];
		return;
	}
	a->family = AF_INET6;
	for (size_t i = 0; i < ADDR_BYTES; i++)
		a->ip[i] = p[i];
}

static bool family_known(uint8_t family)
{
	return family == AF_INET || family == AF_INET6;
}

/* Whether we would send req. Internal port 0 means "all ports" (section
 * 11.1), which we never want, delete or not. */
static bool request_valid(const struct pcp_request *req)
{
	if (!req || !family_known(req->client.family))
		return false;
	if (req->opcode == PCP_OP_ANNOUNCE)
		return true;
	if (req->opcode != PCP_OP_MAP)
		return false;
	if (req->suggested_external.family && !family_known(req->suggested_external.family))
		return false;
	return req->internal_port != 0;
}

size_t pcp_request_encode(const struct pcp_request *req, uint8_t *buf, size_t cap)
{
	size_t n;
	uint8_t *map;

	if (!request_valid(req) || !buf)
		return 0;
	n = req->opcode == PCP_OP_MAP ? PCP_MAP_REQUEST_BYTES : PCP_ANNOUNCE_REQUEST_BYTES;
	if (cap < n)
		return 0;
	buf[OFF_VERSION] = PCP_VERSION;
	buf[OFF_OPCODE] = req->opcode; /* R = 0: a request */
	be_put16(buf + 2, 0);	       /* Reserved */
	/* ANNOUNCE asks for no lifetime (section 14.1). */
	be_put32(buf + OFF_LIFETIME, req->opcode == PCP_OP_MAP ? req->lifetime_s : 0);
	put_addr(buf + OFF_CLIENT_ADDR, &req->client, req->client.family);
	if (req->opcode == PCP_OP_ANNOUNCE)
		return n;
	map = buf + OFF_MAP;
	for (size_t i = 0; i < PCP_NONCE_BYTES; i++)
		map[MAP_OFF_NONCE + i] = req->nonce[i];
	map[MAP_OFF_PROTOCOL] = PCP_PROTO_UDP;
	map[MAP_OFF_PROTOCOL + 1] = 0; /* Reserved, 24 bits */
	map[MAP_OFF_PROTOCOL + 2] = 0;
	map[MAP_OFF_PROTOCOL + 3] = 0;
	be_put16(map + MAP_OFF_INTERNAL_PORT, req->internal_port);
	be_put16(map + MAP_OFF_EXTERNAL_PORT, req->suggested_external_port);
	put_addr(map + MAP_OFF_EXTERNAL_ADDR, &req->suggested_external, req->client.family);
	return n;
}

/* Walks the options from off to len: each is a 4-byte header and its
 * data padded to 4 (section 7.3). Counts them into *n. len - off is a
 * multiple of 4, so a header either fits or nothing is left. */
static int walk_options(const uint8_t *p, size_t len, size_t off, size_t *n)
{
	size_t padded;

	*n = 0;
	while (off < len) {
		if (len - off < PCP_OPTION_HEADER_BYTES)
			return PCP_ERR_OPTION;
		padded = ((size_t)be_get16(p + off + 2) + 3) & ~(size_t)3;
		off += PCP_OPTION_HEADER_BYTES;
		if (padded > len - off)
			return PCP_ERR_OPTION;
		off += padded;
		(*n)++;
	}
	return 0;
}

/* The checks of the MAP data (section 11.4: an answer is matched to its
 * request by nonce, protocol and internal port); the server copies these
 * into error answers too. */
static int check_map_identity(const uint8_t *map, const struct pcp_request *sent)
{
	if (!bytes_equal(map + MAP_OFF_NONCE, sent->nonce, PCP_NONCE_BYTES))
		return PCP_ERR_NONCE;
	if (map[MAP_OFF_PROTOCOL] != PCP_PROTO_UDP)
		return PCP_ERR_PROTOCOL;
	if (be_get16(map + MAP_OFF_INTERNAL_PORT) != sent->internal_port)
		return PCP_ERR_INTERNAL_PORT;
	return 0;
}

/* The fields of a successful MAP answer: a create gets a lifetime, a port
 * and a usable address; a delete gets lifetime 0 (section 15) and the
 * rest is not looked at. */
static int check_map_success(const uint8_t *map, const struct pcp_request *sent,
			     struct pcp_response *r)
{
	r->protocol = map[MAP_OFF_PROTOCOL];
	r->internal_port = sent->internal_port;
	get_addr(map + MAP_OFF_EXTERNAL_ADDR, be_get16(map + MAP_OFF_EXTERNAL_PORT), &r->external);
	if (sent->lifetime_s == 0)
		return r->lifetime_s == 0 ? 0 : PCP_ERR_NOT_DELETED;
	if (r->lifetime_s == 0)
		return PCP_ERR_LIFETIME;
	if (r->external.port == 0)
		return PCP_ERR_EXTERNAL_PORT;
	if (!ip_unicast_usable(&r->external))
		return PCP_ERR_EXTERNAL_ADDR;
	return 0;
}

int pcp_response_parse(const uint8_t *p, size_t len, const struct pcp_request *sent,
		       struct pcp_response *out)
{
	struct pcp_response r = {0};
	size_t data_bytes, options_off;
	bool has_data;
	int rc;

	if (!request_valid(sent) || !out)
		return PCP_ERR_BAD_REQUEST;
	if (!p)
		return PCP_ERR_SHORT;
	/* Before every other check: this answer is shorter than a PCP
	 * header and its R bit is clear, yet it is the one that says to
	 * fall back to NAT-PMP (section 9). */
	if (len >= NATPMP_UNSUPPORTED_VERSION_BYTES && p[OFF_VERSION] == NATPMP_VERSION &&
	    be_get16(p + 2) == NATPMP_RESULT_UNSUPPORTED_VERSION)
		return PCP_ERR_NATPMP;
	/* Section 8.3: "Responses shorter than 24 octets, longer than 1100
	 * octets, or not a multiple of 4 octets are invalid and ignored." */
	if (len < PCP_HEADER_BYTES)
		return PCP_ERR_SHORT;
	if (len > PCP_MAX_MESSAGE_BYTES)
		return PCP_ERR_LONG;
	if (len % 4 != 0)
		return PCP_ERR_ALIGN;
	if (p[OFF_VERSION] != PCP_VERSION)
		return PCP_ERR_VERSION;
	if (!(p[OFF_OPCODE] & PCP_R_BIT))
		return PCP_ERR_NOT_RESPONSE;
	r.opcode = p[OFF_OPCODE] & OPCODE_MASK;
	if (r.opcode != sent->opcode)
		return PCP_ERR_OPCODE;
	r.result = p[OFF_RESULT];
	r.lifetime_s = be_get32(p + OFF_LIFETIME);
	r.epoch_s = be_get32(p + OFF_EPOCH);

	/* A success carries its opcode data; an error may be the bare header
	 * when the server could not parse the request. */
	data_bytes = sent->opcode == PCP_OP_MAP ? PCP_MAP_BYTES : 0;
	has_data = len >= PCP_HEADER_BYTES + data_bytes;
	if (!has_data && (r.result == PCP_RESULT_SUCCESS || len != PCP_HEADER_BYTES))
		return PCP_ERR_SHORT;
	options_off = has_data ? PCP_HEADER_BYTES + data_bytes : len;
	rc = walk_options(p, len, options_off, &r.noptions);
	if (rc != 0)
		return rc;
	if (has_data && data_bytes) {
		rc = check_map_identity(p + OFF_MAP, sent);
		if (rc != 0)
			return rc;
	}
	if (r.result != PCP_RESULT_SUCCESS) {
		*out = (struct pcp_response){
			.opcode = r.opcode,
			.result = r.result,
			.lifetime_s = r.lifetime_s,
			.epoch_s = r.epoch_s,
		};
		return PCP_ERR_RESULT;
	}
	if (data_bytes) {
		rc = check_map_success(p + OFF_MAP, sent, &r);
		if (rc != 0)
			return rc;
	}
	*out = r;
	return 0;
}

const char *pcp_result_name(uint8_t result)
{
	static const char *const names[] = {
		[PCP_RESULT_SUCCESS] = "SUCCESS",
		[PCP_RESULT_UNSUPP_VERSION] = "UNSUPP_VERSION",
		[PCP_RESULT_NOT_AUTHORIZED] = "NOT_AUTHORIZED",
		[PCP_RESULT_MALFORMED_REQUEST] = "MALFORMED_REQUEST",
		[PCP_RESULT_UNSUPP_OPCODE] = "UNSUPP_OPCODE",
		[PCP_RESULT_UNSUPP_OPTION] = "UNSUPP_OPTION",
		[PCP_RESULT_MALFORMED_OPTION] = "MALFORMED_OPTION",
		[PCP_RESULT_NETWORK_FAILURE] = "NETWORK_FAILURE",
		[PCP_RESULT_NO_RESOURCES] = "NO_RESOURCES",
		[PCP_RESULT_UNSUPP_PROTOCOL] = "UNSUPP_PROTOCOL",
		[PCP_RESULT_USER_EX_QUOTA] = "USER_EX_QUOTA",
		[PCP_RESULT_CANNOT_PROVIDE_EXTERNAL] = "CANNOT_PROVIDE_EXTERNAL",
		[PCP_RESULT_ADDRESS_MISMATCH] = "ADDRESS_MISMATCH",
		[PCP_RESULT_EXCESSIVE_REMOTE_PEERS] = "EXCESSIVE_REMOTE_PEERS",
	};

	if (result < sizeof(names) / sizeof(names[0]))
		return names[result];
	return "unknown result code";
}

const char *pcp_strerror(int err)
{
	switch (err) {
	case PCP_OK:
		return "ok";
	case PCP_ERR_SHORT:
		return "shorter than a PCP header and its opcode data";
	case PCP_ERR_LONG:
		return "longer than 1100 bytes";
	case PCP_ERR_ALIGN:
		return "length not a multiple of 4";
	case PCP_ERR_NATPMP:
		return "server speaks only NAT-PMP (version 0 Unsupported Version)";
	case PCP_ERR_VERSION:
		return "PCP version not 2";
	case PCP_ERR_NOT_RESPONSE:
		return "R bit clear: not a response";
	case PCP_ERR_OPCODE:
		return "opcode does not answer our request";
	case PCP_ERR_OPTION:
		return "option runs past the end of the packet";
	case PCP_ERR_NONCE:
		return "mapping nonce is not ours";
	case PCP_ERR_PROTOCOL:
		return "protocol is not the one we asked to map";
	case PCP_ERR_INTERNAL_PORT:
		return "internal port is not the one we asked to map";
	case PCP_ERR_RESULT:
		return "server refused the request (result code not 0)";
	case PCP_ERR_LIFETIME:
		return "lifetime 0 on a create";
	case PCP_ERR_NOT_DELETED:
		return "delete answered with a lifetime";
	case PCP_ERR_EXTERNAL_PORT:
		return "assigned external port 0";
	case PCP_ERR_EXTERNAL_ADDR:
		return "assigned external address not usable";
	case PCP_ERR_BAD_REQUEST:
		return "not a request we would send";
	}
	return "unknown PCP error";
}

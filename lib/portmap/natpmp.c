/* natpmp: NAT-PMP requests and response checks, RFC 6886 sections 3.2-3.5;
 * request bytes as Tailscale's net/portmapper/portmapper.go writes them
 * (pmpReqExternalAddrPacket, buildPMPRequestMappingPacket). */
#include "portmap/natpmp.h"
#include "be.h"

/* Offsets, RFC 6886 sections 3.2 and 3.3. */
enum {
	OFF_VERSION = 0,
	OFF_OPCODE = 1,
	OFF_RESULT = 2, /* in requests: Reserved */
	OFF_EPOCH = 4,
	OFF_EXTERNAL_ADDR = 8,
	OFF_REQ_INTERNAL_PORT = 4,
	OFF_REQ_SUGGESTED_PORT = 6,
	OFF_REQ_LIFETIME = 8,
	OFF_RESP_INTERNAL_PORT = 8,
	OFF_RESP_EXTERNAL_PORT = 10,
	OFF_RESP_LIFETIME = 12,
};

_Static_assert(OFF_EXTERNAL_ADDR + 4 == NATPMP_EXTERNAL_ADDR_RESPONSE_BYTES, "op 128 layout");
_Static_assert(OFF_RESP_LIFETIME + 4 == NATPMP_MAP_RESPONSE_BYTES, "op 129/130 layout");
_Static_assert(OFF_REQ_LIFETIME + 4 == NATPMP_MAP_REQUEST_BYTES, "map request layout");

static bool is_map(uint8_t opcode)
{
	return opcode == NATPMP_OP_MAP_UDP || opcode == NATPMP_OP_MAP_TCP;
}

/* Whether we would send req: a known opcode; for a map, an internal port
 * unless it deletes every mapping, and no suggested port on a delete (RFC
 * 6886 section 3.4: "MUST be set to zero by the client"). */
static bool request_valid(const struct natpmp_request *req)
{
	if (!req)
		return false;
	if (req->opcode == NATPMP_OP_EXTERNAL_ADDR)
		return true;
	if (!is_map(req->opcode))
		return false;
	if (req->lifetime_s == 0)
		return req->suggested_external_port == 0;
	return req->internal_port != 0;
}

size_t natpmp_request_encode(const struct natpmp_request *req, uint8_t *buf, size_t cap)
{
	size_t n;

	if (!request_valid(req) || !buf)
		return 0;
	n = is_map(req->opcode) ? NATPMP_MAP_REQUEST_BYTES : NATPMP_EXTERNAL_ADDR_REQUEST_BYTES;
	if (cap < n)
		return 0;
	buf[OFF_VERSION] = NATPMP_VERSION;
	buf[OFF_OPCODE] = req->opcode;
	if (n == NATPMP_EXTERNAL_ADDR_REQUEST_BYTES)
		return n;
	be_put16(buf + OFF_RESULT, 0); /* Reserved */
	be_put16(buf + OFF_REQ_INTERNAL_PORT, req->internal_port);
	be_put16(buf + OFF_REQ_SUGGESTED_PORT, req->suggested_external_port);
	be_put32(buf + OFF_REQ_LIFETIME, req->lifetime_s);
	return n;
}

/* The map-specific checks of a success answer: RFC 6886 section 3.3 for a
 * create (a lifetime and a port, or there is no mapping), section 3.4 for
 * a delete (lifetime 0; the port, 0 by the RFC, is not looked at). */
static int check_map(const struct natpmp_request *sent, const struct natpmp_response *r)
{
	if (sent->lifetime_s == 0)
		return r->lifetime_s == 0 ? 0 : NATPMP_ERR_NOT_DELETED;
	if (r->lifetime_s == 0)
		return NATPMP_ERR_LIFETIME;
	if (r->external_port == 0)
		return NATPMP_ERR_EXTERNAL_PORT;
	return 0;
}

int natpmp_response_parse(const uint8_t *p, size_t len, const struct natpmp_request *sent,
			  struct natpmp_response *out)
{
	struct natpmp_response r = {0};
	size_t want;
	int rc;

	if (!request_valid(sent) || !out)
		return NATPMP_ERR_BAD_REQUEST;
	if (!p || len < NATPMP_HEADER_BYTES)
		return NATPMP_ERR_SHORT;
	if (p[OFF_VERSION] != NATPMP_VERSION)
		return NATPMP_ERR_VERSION;
	r.opcode = p[OFF_OPCODE];
	if (r.opcode != NATPMP_OP_REPLY + sent->opcode)
		return NATPMP_ERR_OPCODE;
	r.result = be_get16(p + OFF_RESULT);
	r.epoch_s = be_get32(p + OFF_EPOCH);
	want = is_map(sent->opcode) ? NATPMP_MAP_RESPONSE_BYTES
				    : NATPMP_EXTERNAL_ADDR_RESPONSE_BYTES;
	if (len > want)
		return NATPMP_ERR_LONG;
	if (len < want) {
		/* An error answer may be the bare header (the Unsupported
		 * Version layout of section 3.5; miniupnpd answers so when it
		 * cannot fill the rest). */
		if (r.result == NATPMP_RESULT_SUCCESS || len != NATPMP_HEADER_BYTES)
			return NATPMP_ERR_SHORT;
		*out = r;
		return NATPMP_ERR_RESULT;
	}
	if (is_map(sent->opcode)) {
		/* Section 3.5: error answers carry the internal port too, "so
		 * the client can identify which request suffered the failure". */
		if (be_get16(p + OFF_RESP_INTERNAL_PORT) != sent->internal_port)
			return NATPMP_ERR_INTERNAL_PORT;
		if (r.result != NATPMP_RESULT_SUCCESS) {
			*out = r;
			return NATPMP_ERR_RESULT;
		}
		r.internal_port = sent->internal_port;
		r.external_port = be_get16(p + OFF_RESP_EXTERNAL_PORT);
		r.lifetime_s = be_get32(p + OFF_RESP_LIFETIME);
		rc = check_map(sent, &r);
		if (rc != 0)
			return rc;
		*out = r;
		return 0;
	}
	/* Section 3.2: on an error the address is undefined; not looked at. */
	if (r.result != NATPMP_RESULT_SUCCESS) {
		*out = r;
		return NATPMP_ERR_RESULT;
	}
	r.external.family = AF_INET;
	for (size_t i = 0; i < 4; i++)
		r.external.ip[i] = p[OFF_EXTERNAL_ADDR + i];
	if (!ip_unicast_usable(&r.external))
		return NATPMP_ERR_EXTERNAL_ADDR;
	*out = r;
	return 0;
}

const char *natpmp_result_name(uint16_t result)
{
	switch (result) {
	case NATPMP_RESULT_SUCCESS:
		return "Success";
	case NATPMP_RESULT_UNSUPPORTED_VERSION:
		return "Unsupported Version";
	case NATPMP_RESULT_NOT_AUTHORIZED:
		return "Not Authorized/Refused";
	case NATPMP_RESULT_NETWORK_FAILURE:
		return "Network Failure";
	case NATPMP_RESULT_OUT_OF_RESOURCES:
		return "Out of Resources";
	case NATPMP_RESULT_UNSUPPORTED_OPCODE:
		return "Unsupported Opcode";
	}
	return "unknown result code";
}

const char *natpmp_strerror(int err)
{
	switch (err) {
	case NATPMP_OK:
		return "ok";
	case NATPMP_ERR_SHORT:
		return "shorter than the answer to our request";
	case NATPMP_ERR_LONG:
		return "longer than the answer to our request";
	case NATPMP_ERR_VERSION:
		return "NAT-PMP version not 0";
	case NATPMP_ERR_OPCODE:
		return "opcode does not answer our request";
	case NATPMP_ERR_RESULT:
		return "gateway refused the request (result code not 0)";
	case NATPMP_ERR_INTERNAL_PORT:
		return "internal port is not the one we asked to map";
	case NATPMP_ERR_EXTERNAL_PORT:
		return "mapped external port 0 on a create";
	case NATPMP_ERR_LIFETIME:
		return "lifetime 0 on a create";
	case NATPMP_ERR_NOT_DELETED:
		return "delete answered with a lifetime";
	case NATPMP_ERR_EXTERNAL_ADDR:
		return "external address not usable";
	case NATPMP_ERR_BAD_REQUEST:
		return "not a request we would send";
	}
	return "unknown NAT-PMP error";
}

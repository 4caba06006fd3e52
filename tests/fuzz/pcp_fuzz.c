/* pcp_fuzz: pcp_response_parse on arbitrary bytes, against fixed requests
 * and against the request the input itself claims to answer (its nonce
 * and internal port, so most inputs reach the deep checks). An answer that
 * parses must agree with its bytes and obey every rule the parser
 * promises; one that fails must leave the output alone. A request derived
 * from the input is encoded, answered as a server would (with options),
 * and must parse back. */
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "portmap/pcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t ts_nonce[12] = {129, 112, 9, 24, 241, 208, 251, 45, 157, 76, 10, 188};
static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static struct pcp_request map_request(const uint8_t nonce[12], uint16_t port, uint32_t life)
{
	struct pcp_request q = {
		.opcode = PCP_OP_MAP,
		.lifetime_s = life,
		.client = {.family = AF_INET, .ip = {192, 168, 1, 10}},
		.internal_port = port,
	};

	memcpy(q.nonce, nonce, 12);
	return q;
}

/* a's 16-byte wire form. */
static void addr16(const struct ipport *a, uint8_t out[16])
{
	if (a->family == AF_INET) {
		memcpy(out, v4mapped, 12);
		memcpy(out + 12, a->ip, 4);
	} else {
		memcpy(out, a->ip, 16);
	}
}

static void check_success(const uint8_t *data, size_t size, const struct pcp_request *sent,
			  const struct pcp_response *out)
{
	size_t data_bytes = sent->opcode == PCP_OP_MAP ? PCP_MAP_BYTES : 0;
	uint8_t ext[16];

	if (size < PCP_HEADER_BYTES + data_bytes || size > PCP_MAX_MESSAGE_BYTES || size % 4 ||
	    data[0] != PCP_VERSION || data[1] != (PCP_R_BIT | sent->opcode) || data[3] != 0 ||
	    out->result != 0 || out->opcode != sent->opcode ||
	    out->lifetime_s != be_get32(data + 4) || out->epoch_s != be_get32(data + 8) ||
	    out->noptions > (size - PCP_HEADER_BYTES - data_bytes) / PCP_OPTION_HEADER_BYTES)
		abort();
	if (sent->opcode == PCP_OP_ANNOUNCE) {
		if (out->external.family != 0 || out->internal_port != 0)
			abort();
		return;
	}
	if (memcmp(data + 24, sent->nonce, 12) != 0 || data[36] != PCP_PROTO_UDP ||
	    out->protocol != PCP_PROTO_UDP || out->internal_port != sent->internal_port ||
	    be_get16(data + 40) != sent->internal_port)
		abort();
	if (sent->lifetime_s == 0) {
		if (out->lifetime_s != 0)
			abort();
		return;
	}
	if (out->lifetime_s == 0 || out->external.port == 0 ||
	    out->external.port != be_get16(data + 42) || !ip_unicast_usable(&out->external))
		abort();
	addr16(&out->external, ext);
	if (memcmp(ext, data + 44, 16) != 0)
		abort();
}

static void check(const uint8_t *data, size_t size, const struct pcp_request *sent)
{
	struct pcp_response out, canary;
	int rc;

	memset(&out, 0xa5, sizeof(out));
	canary = out;
	rc = pcp_response_parse(data, size, sent, &out);
	if (rc == 0) {
		check_success(data, size, sent, &out);
	} else if (rc == PCP_ERR_RESULT) {
		if (size < PCP_HEADER_BYTES || out.result == 0 || out.result != data[3] ||
		    out.lifetime_s != be_get32(data + 4) || out.epoch_s != be_get32(data + 8) ||
		    out.opcode != sent->opcode || out.external.family != 0 || out.noptions != 0)
			abort();
	} else if (memcmp(&out, &canary, sizeof(out)) != 0 || rc < PCP_ERR_BAD_REQUEST || rc > 0 ||
		   pcp_strerror(rc) == NULL) {
		abort();
	} else if (rc == PCP_ERR_NATPMP && (size < 8 || data[0] != 0)) {
		abort();
	}
}

/* The request data seems to answer: its opcode; for MAP its nonce and
 * internal port, a delete if it grants no lifetime. */
static bool claimed_request(const uint8_t *data, size_t size, struct pcp_request *q)
{
	uint16_t port;

	if (size < PCP_HEADER_BYTES)
		return false;
	if ((data[1] & 0x7f) == PCP_OP_ANNOUNCE) {
		*q = (struct pcp_request){.opcode = PCP_OP_ANNOUNCE,
					  .client = {.family = AF_INET, .ip = {10, 0, 0, 2}}};
		return true;
	}
	if ((data[1] & 0x7f) != PCP_OP_MAP || size < PCP_MAP_REQUEST_BYTES)
		return false;
	port = be_get16(data + 40);
	*q = map_request(data + 24, port ? port : 1, be_get32(data + 4) ? PCP_LIFETIME_S : 0);
	return true;
}

/* Encode a request made of the input's bytes, answer it as a server
 * granting it would, with the input's count of empty options, and parse. */
static void round_trip(const uint8_t *data, size_t size)
{
	struct pcp_request q;
	struct pcp_response got;
	uint8_t req[PCP_REQUEST_MAX_BYTES], ans[PCP_MAX_MESSAGE_BYTES] = {0};
	size_t n, len, nopt;

	if (size < 40)
		return;
	q = (struct pcp_request){
		.opcode = (uint8_t)(data[0] % 3),
		.lifetime_s = be_get32(data + 1),
		.client = {.family = data[5] & 1 ? AF_INET6 : AF_INET},
		.internal_port = be_get16(data + 6),
		.suggested_external_port = be_get16(data + 8),
		.suggested_external = {.family = (uint8_t)(data[10] % 3 == 2 ? AF_INET6
							   : data[10] % 3    ? AF_INET
									     : 0)},
	};
	memcpy(q.client.ip, data + 11, 16);
	memcpy(q.nonce, data + 27, 12);
	memcpy(q.suggested_external.ip, data + 11, 16);
	n = pcp_request_encode(&q, req, sizeof(req));
	if (n == 0) {
		if (q.opcode == PCP_OP_ANNOUNCE || (q.opcode == PCP_OP_MAP && q.internal_port))
			abort(); /* refused a request we would send */
		return;
	}
	if (n != (q.opcode == PCP_OP_MAP ? PCP_MAP_REQUEST_BYTES : PCP_ANNOUNCE_REQUEST_BYTES) ||
	    req[0] != PCP_VERSION || req[1] != q.opcode)
		abort();
	ans[0] = PCP_VERSION;
	ans[1] = (uint8_t)(req[1] | PCP_R_BIT);
	memcpy(ans + 4, req + 4, 4); /* grant the lifetime asked */
	memcpy(ans + 8, data + 39, 1);
	len = PCP_HEADER_BYTES;
	if (q.opcode == PCP_OP_MAP) {
		memcpy(ans + 24, req + 24, 13); /* nonce, protocol */
		memcpy(ans + 40, req + 40, 2);	/* internal port */
		ans[42] = 0x10;
		ans[43] = 0x92; /* 4242 */
		memcpy(ans + 44, v4mapped, 12);
		memcpy(ans + 56, "\xc6\x12\x00\x01", 4); /* 198.18.0.1 */
		len += PCP_MAP_BYTES;
	}
	nopt = data[0] / 3 % 8;
	for (size_t i = 0; i < nopt; i++, len += PCP_OPTION_HEADER_BYTES)
		ans[len] = (uint8_t)(0x80 + i);
	if (pcp_response_parse(ans, len, &q, &got) != 0 || got.noptions != nopt ||
	    got.lifetime_s != be_get32(req + 4) || got.epoch_s != (uint32_t)data[39] << 24)
		abort();
	if (q.opcode == PCP_OP_MAP && q.lifetime_s && got.external.port != 4242)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct pcp_request fixed[] = {
		{.opcode = PCP_OP_ANNOUNCE, .client = {.family = AF_INET, .ip = {192, 168, 1, 10}}},
		map_request(ts_nonce, 1234, PCP_LIFETIME_S),
		map_request(ts_nonce, 1234, 0),
		map_request(ts_nonce, 41641, PCP_LIFETIME_S),
	};
	struct pcp_request q;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		check(data, size, &fixed[i]);
	if (claimed_request(data, size, &q))
		check(data, size, &q);
	round_trip(data, size);
	return 0;
}

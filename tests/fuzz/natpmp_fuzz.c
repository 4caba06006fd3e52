/* natpmp_fuzz: natpmp_response_parse on arbitrary bytes, against fixed
 * requests and against the request the input itself claims to answer (so
 * most inputs reach the deep checks). An answer that parses must rebuild
 * to the same bytes and obey every rule the parser promises; one that
 * fails must leave the output alone. A request derived from the input is
 * encoded, answered as a gateway would, and must parse back. */
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "portmap/natpmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct natpmp_request fixed[] = {
	{.opcode = NATPMP_OP_EXTERNAL_ADDR},
	{.opcode = NATPMP_OP_MAP_UDP, .internal_port = 41641, .lifetime_s = NATPMP_LIFETIME_S},
	{.opcode = NATPMP_OP_MAP_TCP, .internal_port = 41641, .lifetime_s = NATPMP_LIFETIME_S},
	{.opcode = NATPMP_OP_MAP_UDP, .internal_port = 41641}, /* delete */
	{.opcode = NATPMP_OP_MAP_UDP},			       /* delete all */
};

static void put_answer(uint8_t *b, const struct natpmp_response *r)
{
	memset(b, 0, NATPMP_MAP_RESPONSE_BYTES);
	b[1] = r->opcode;
	be_put16(b + 2, r->result);
	be_put32(b + 4, r->epoch_s);
	if (r->opcode == NATPMP_OP_REPLY + NATPMP_OP_EXTERNAL_ADDR) {
		memcpy(b + 8, r->external.ip, 4);
		return;
	}
	be_put16(b + 8, r->internal_port);
	be_put16(b + 10, r->external_port);
	be_put32(b + 12, r->lifetime_s);
}

static void check(const uint8_t *data, size_t size, const struct natpmp_request *sent)
{
	struct natpmp_response out, canary;
	uint8_t rebuilt[NATPMP_MAP_RESPONSE_BYTES];
	bool map = sent->opcode != NATPMP_OP_EXTERNAL_ADDR;
	size_t want = map ? NATPMP_MAP_RESPONSE_BYTES : NATPMP_EXTERNAL_ADDR_RESPONSE_BYTES;
	int rc;

	memset(&out, 0xa5, sizeof(out));
	canary = out;
	rc = natpmp_response_parse(data, size, sent, &out);
	if (rc == 0) {
		if (size != want || data[0] != NATPMP_VERSION || out.result != 0 ||
		    out.opcode != NATPMP_OP_REPLY + sent->opcode)
			abort();
		if (!map && (out.external.family != AF_INET || !ip_unicast_usable(&out.external) ||
			     out.external.port != 0))
			abort();
		if (map && (out.internal_port != sent->internal_port || out.external.family != 0))
			abort();
		if (map && sent->lifetime_s != 0 && (out.lifetime_s == 0 || out.external_port == 0))
			abort();
		if (map && sent->lifetime_s == 0 && out.lifetime_s != 0)
			abort();
		/* Every field came from where the RFC puts it. */
		put_answer(rebuilt, &out);
		if (memcmp(rebuilt, data, want) != 0)
			abort();
	} else if (rc == NATPMP_ERR_RESULT) {
		if (out.result == 0 || out.result != be_get16(data + 2) ||
		    out.epoch_s != be_get32(data + 4) || out.opcode != data[1] ||
		    (size != NATPMP_HEADER_BYTES && size != want) || out.lifetime_s != 0 ||
		    out.external_port != 0 || out.external.family != 0)
			abort();
	} else if (memcmp(&out, &canary, sizeof(out)) != 0 || natpmp_strerror(rc) == NULL ||
		   rc < NATPMP_ERR_BAD_REQUEST || rc > 0) {
		abort();
	}
}

/* The request data seems to answer: its opcode and internal port, a
 * delete if it grants no lifetime. */
static bool claimed_request(const uint8_t *data, size_t size, struct natpmp_request *q)
{
	if (size < 2)
		return false;
	*q = (struct natpmp_request){.opcode = (uint8_t)(data[1] - NATPMP_OP_REPLY)};
	if (q->opcode > NATPMP_OP_MAP_TCP)
		return false;
	if (q->opcode == NATPMP_OP_EXTERNAL_ADDR)
		return true;
	if (size >= 10)
		q->internal_port = be_get16(data + 8);
	if (size >= 16 && be_get32(data + 12) != 0)
		q->lifetime_s = NATPMP_LIFETIME_S;
	if (q->internal_port == 0)
		q->lifetime_s = 0;
	return true;
}

/* Encode a request made of the input's bytes, answer it as a gateway
 * granting it would, and parse the answer. */
static void round_trip(const uint8_t *data, size_t size)
{
	struct natpmp_request q;
	struct natpmp_response r = {0}, got;
	uint8_t req[NATPMP_REQUEST_MAX_BYTES], ans[NATPMP_MAP_RESPONSE_BYTES];
	size_t n;

	if (size < 9)
		return;
	q = (struct natpmp_request){
		.opcode = (uint8_t)(data[0] % 4),
		.internal_port = be_get16(data + 1),
		.suggested_external_port = be_get16(data + 3),
		.lifetime_s = be_get32(data + 5),
	};
	n = natpmp_request_encode(&q, req, sizeof(req));
	if (n == 0) {
		bool ok = q.opcode == NATPMP_OP_EXTERNAL_ADDR ||
			  ((q.opcode == NATPMP_OP_MAP_UDP || q.opcode == NATPMP_OP_MAP_TCP) &&
			   (q.lifetime_s ? q.internal_port != 0 : q.suggested_external_port == 0));
		if (ok)
			abort(); /* refused a request we would send */
		return;
	}
	if (n != (q.opcode ? NATPMP_MAP_REQUEST_BYTES : NATPMP_EXTERNAL_ADDR_REQUEST_BYTES) ||
	    req[0] != 0 || req[1] != q.opcode)
		abort();
	r.opcode = (uint8_t)(NATPMP_OP_REPLY + req[1]);
	r.epoch_s = (uint32_t)size;
	if (q.opcode == NATPMP_OP_EXTERNAL_ADDR) {
		memcpy(r.external.ip, "\xc6\x12\x00\x01", 4);
	} else {
		r.internal_port = be_get16(req + 4);
		r.external_port = q.lifetime_s ? (be_get16(req + 6) ? be_get16(req + 6) : 1) : 0;
		r.lifetime_s = be_get32(req + 8);
	}
	put_answer(ans, &r);
	if (natpmp_response_parse(ans, q.opcode ? 16 : 12, &q, &got) != 0)
		abort();
	if (q.opcode == NATPMP_OP_EXTERNAL_ADDR) {
		if (memcmp(got.external.ip, r.external.ip, 4) != 0)
			abort();
	} else if (got.internal_port != q.internal_port || got.lifetime_s != q.lifetime_s) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct natpmp_request q;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		check(data, size, &fixed[i]);
	if (claimed_request(data, size, &q))
		check(data, size, &q);
	round_trip(data, size);
	return 0;
}

/* natpmp_test: the requests Tailscale's net/portmapper sends, byte for byte;
 * answers built by hand from the layouts of RFC 6886 sections 3.2-3.5;
 * request/answer round trips; and one test per malformed case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "be.h"
#include "portmap/natpmp.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The port Tailscale's WireGuard listens on by default (41641 = 0xa2a9). */
enum { TS_PORT = 41641, EXT_PORT = 54321 /* 0xd431 */ };

static const struct natpmp_request req_addr = {.opcode = NATPMP_OP_EXTERNAL_ADDR};
static const struct natpmp_request req_udp = {
	.opcode = NATPMP_OP_MAP_UDP,
	.internal_port = TS_PORT,
	.lifetime_s = NATPMP_LIFETIME_S,
};
static const struct natpmp_request req_tcp = {
	.opcode = NATPMP_OP_MAP_TCP,
	.internal_port = TS_PORT,
	.lifetime_s = NATPMP_LIFETIME_S,
};
static const struct natpmp_request req_delete = {
	.opcode = NATPMP_OP_MAP_UDP,
	.internal_port = TS_PORT,
};

/* RFC 6886 section 3.2: the answer to the external-address request, result
 * 0, epoch 7200 s, external address 198.18.0.1 (our lab's internet). */
static const uint8_t addr_answer[] = {
	0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x1c, 0x20, 198, 18, 0, 1,
};

/* RFC 6886 section 3.3: the answer to req_udp: epoch 0x00029bed, internal
 * 41641, mapped 54321, lifetime 7200. */
static const uint8_t udp_answer[] = {
	0x00, 0x81, 0x00, 0x00, 0x00, 0x02, 0x9b, 0xed,
	0xa2, 0xa9, 0xd4, 0x31, 0x00, 0x00, 0x1c, 0x20,
};

/* ---- helpers ---- */

static size_t map_answer(uint8_t buf[16], uint8_t opcode, uint16_t result, uint32_t epoch,
			 uint16_t internal, uint16_t external, uint32_t lifetime)
{
	buf[0] = 0;
	buf[1] = opcode;
	be_put16(buf + 2, result);
	be_put32(buf + 4, epoch);
	be_put16(buf + 8, internal);
	be_put16(buf + 10, external);
	be_put32(buf + 12, lifetime);
	return NATPMP_MAP_RESPONSE_BYTES;
}

static size_t addr_answer_of(uint8_t buf[12], uint16_t result, uint8_t a, uint8_t b, uint8_t c,
			     uint8_t d)
{
	memcpy(buf, addr_answer, sizeof(addr_answer));
	buf[2] = (uint8_t)(result >> 8);
	buf[3] = (uint8_t)result;
	buf[8] = a;
	buf[9] = b;
	buf[10] = c;
	buf[11] = d;
	return NATPMP_EXTERNAL_ADDR_RESPONSE_BYTES;
}

/* natpmp_response_parse must fail with want and leave *out alone. */
static void expect_err(const uint8_t *p, size_t len, const struct natpmp_request *sent, int want)
{
	struct natpmp_response out, canary;
	int rc;

	memset(&out, 0xa5, sizeof(out));
	canary = out;
	rc = natpmp_response_parse(p, len, sent, &out);
	if (rc != want)
		fail_msg("len %zu: got %d (%s), want %d (%s)", len, rc, natpmp_strerror(rc), want,
			 natpmp_strerror(want));
	assert_memory_equal(&out, &canary, sizeof(out));
}

/* natpmp_response_parse must fail with NATPMP_ERR_RESULT carrying code. */
static void expect_result(const uint8_t *p, size_t len, const struct natpmp_request *sent,
			  uint16_t code)
{
	struct natpmp_response out;

	memset(&out, 0xa5, sizeof(out));
	assert_int_equal(natpmp_response_parse(p, len, sent, &out), NATPMP_ERR_RESULT);
	assert_int_equal(out.result, code);
	assert_int_equal(out.opcode, NATPMP_OP_REPLY + sent->opcode);
	assert_int_equal(out.epoch_s, be_get32(p + 4));
	/* Nothing else of an error answer is trusted. */
	assert_int_equal(out.external.family, 0);
	assert_int_equal(out.internal_port, 0);
	assert_int_equal(out.external_port, 0);
	assert_int_equal(out.lifetime_s, 0);
}

static void parse_ok(const uint8_t *p, size_t len, const struct natpmp_request *sent,
		     struct natpmp_response *out)
{
	int rc = natpmp_response_parse(p, len, sent, out);

	if (rc != 0)
		fail_msg("parse: %s", natpmp_strerror(rc));
}

/* ---- requests: Tailscale's bytes ---- */

/* pmpReqExternalAddrPacket: {0, 0}. */
static void test_external_addr_request_bytes(void **state)
{
	(void)state;
	uint8_t buf[NATPMP_REQUEST_MAX_BYTES];

	assert_int_equal(natpmp_request_encode(&req_addr, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "\x00\x00", 2);
	assert_int_equal(natpmp_request_encode(&req_addr, buf, 1), 0);
	assert_int_equal(natpmp_request_encode(&req_addr, NULL, 16), 0);
}

/* buildPMPRequestMappingPacket(41641, 0, pmpMapLifetimeSec) and the renewal
 * with prevPort 54321. */
static void test_map_request_bytes(void **state)
{
	(void)state;
	static const uint8_t want[] = {0x00, 0x01, 0x00, 0x00, 0xa2, 0xa9,
				       0x00, 0x00, 0x00, 0x00, 0x1c, 0x20};
	static const uint8_t want_renew[] = {0x00, 0x01, 0x00, 0x00, 0xa2, 0xa9,
					     0xd4, 0x31, 0x00, 0x00, 0x1c, 0x20};
	struct natpmp_request renew = req_udp;
	uint8_t buf[NATPMP_REQUEST_MAX_BYTES + 4];

	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(natpmp_request_encode(&req_udp, buf, sizeof(buf)), 12);
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(buf[12], 0xee); /* nothing past the request */

	renew.suggested_external_port = EXT_PORT;
	assert_int_equal(natpmp_request_encode(&renew, buf, sizeof(buf)), 12);
	assert_memory_equal(buf, want_renew, sizeof(want_renew));
	assert_int_equal(natpmp_request_encode(&renew, buf, 11), 0);
}

/* Opcode 2 maps TCP; the rest is the same layout. */
static void test_map_request_tcp_bytes(void **state)
{
	(void)state;
	static const uint8_t want[] = {0x00, 0x02, 0x00, 0x00, 0xa2, 0xa9,
				       0x00, 0x00, 0x00, 0x00, 0x1c, 0x20};
	uint8_t buf[NATPMP_REQUEST_MAX_BYTES];

	assert_int_equal(natpmp_request_encode(&req_tcp, buf, sizeof(buf)), 12);
	assert_memory_equal(buf, want, sizeof(want));
}

/* RFC 6886 section 3.4: a delete is lifetime 0 with suggested port 0; all
 * mappings go with internal port 0 too. */
static void test_delete_request_bytes(void **state)
{
	(void)state;
	static const uint8_t want[] = {0x00, 0x01, 0x00, 0x00, 0xa2, 0xa9,
				       0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
	static const uint8_t want_all[12] = {0x00, 0x01};
	struct natpmp_request all = {.opcode = NATPMP_OP_MAP_UDP};
	uint8_t buf[NATPMP_REQUEST_MAX_BYTES];

	assert_int_equal(natpmp_request_encode(&req_delete, buf, sizeof(buf)), 12);
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(natpmp_request_encode(&all, buf, sizeof(buf)), 12);
	assert_memory_equal(buf, want_all, sizeof(want_all));
}

static void test_request_refuses_what_we_never_send(void **state)
{
	(void)state;
	uint8_t buf[NATPMP_REQUEST_MAX_BYTES];
	struct natpmp_request r;

	r = req_udp;
	r.opcode = 3;
	assert_int_equal(natpmp_request_encode(&r, buf, sizeof(buf)), 0);
	r.opcode = NATPMP_OP_REPLY + NATPMP_OP_MAP_UDP;
	assert_int_equal(natpmp_request_encode(&r, buf, sizeof(buf)), 0);
	/* A create for internal port 0. */
	r = req_udp;
	r.internal_port = 0;
	assert_int_equal(natpmp_request_encode(&r, buf, sizeof(buf)), 0);
	/* A delete that suggests a port (Tailscale's Release does; the RFC
	 * says the client MUST send 0). */
	r = req_delete;
	r.suggested_external_port = EXT_PORT;
	assert_int_equal(natpmp_request_encode(&r, buf, sizeof(buf)), 0);
	assert_int_equal(natpmp_request_encode(NULL, buf, sizeof(buf)), 0);
}

/* ---- answers: valid vectors ---- */

static void test_external_addr_answer(void **state)
{
	(void)state;
	struct natpmp_response r;

	parse_ok(addr_answer, sizeof(addr_answer), &req_addr, &r);
	assert_int_equal(r.opcode, 128);
	assert_int_equal(r.result, NATPMP_RESULT_SUCCESS);
	assert_int_equal(r.epoch_s, 7200);
	assert_int_equal(r.external.family, AF_INET);
	assert_memory_equal(r.external.ip, "\xc6\x12\x00\x01", 4);
	assert_int_equal(r.external.port, 0);
	assert_int_equal(r.internal_port, 0);
	assert_int_equal(r.external_port, 0);
	assert_int_equal(r.lifetime_s, 0);
}

static void test_map_udp_answer(void **state)
{
	(void)state;
	struct natpmp_response r;

	parse_ok(udp_answer, sizeof(udp_answer), &req_udp, &r);
	assert_int_equal(r.opcode, 129);
	assert_int_equal(r.result, 0);
	assert_int_equal(r.epoch_s, 0x00029bed);
	assert_int_equal(r.internal_port, TS_PORT);
	assert_int_equal(r.external_port, EXT_PORT);
	assert_int_equal(r.lifetime_s, 7200);
	assert_int_equal(r.external.family, 0);
}

static void test_map_tcp_answer(void **state)
{
	(void)state;
	uint8_t buf[16];
	struct natpmp_response r;

	map_answer(buf, 130, 0, 99, TS_PORT, 443, 7200);
	parse_ok(buf, sizeof(buf), &req_tcp, &r);
	assert_int_equal(r.opcode, 130);
	assert_int_equal(r.external_port, 443);
	assert_int_equal(r.epoch_s, 99);
}

/* RFC 6886 section 3.3: the gateway may choose another port and a shorter
 * lifetime than we asked for. */
static void test_map_answer_other_port_shorter_lifetime(void **state)
{
	(void)state;
	uint8_t buf[16];
	struct natpmp_response r;

	map_answer(buf, 129, 0, 1, TS_PORT, 1, 60);
	parse_ok(buf, sizeof(buf), &req_udp, &r);
	assert_int_equal(r.external_port, 1);
	assert_int_equal(r.lifetime_s, 60);
}

/* RFC 6886 section 3.4: result 0, our internal port, external 0, lifetime 0. */
static void test_delete_answer(void **state)
{
	(void)state;
	uint8_t buf[16];
	struct natpmp_response r;
	struct natpmp_request all = {.opcode = NATPMP_OP_MAP_UDP};

	map_answer(buf, 129, 0, 5000, TS_PORT, 0, 0);
	parse_ok(buf, sizeof(buf), &req_delete, &r);
	assert_int_equal(r.internal_port, TS_PORT);
	assert_int_equal(r.lifetime_s, 0);
	assert_int_equal(r.epoch_s, 5000);
	/* Deleting every mapping: "with the internal port set to zero". */
	map_answer(buf, 129, 0, 5000, 0, 0, 0);
	parse_ok(buf, sizeof(buf), &all, &r);
	assert_int_equal(r.internal_port, 0);
}

/* Private, CGNAT, link-local and RFC 2544 benchmark addresses are external
 * addresses of a gateway behind another NAT, and our lab's internet is
 * 198.18.0.0/15. */
static void test_external_addr_private_and_benchmark_accepted(void **state)
{
	(void)state;
	static const uint8_t ok[][4] = {
		{10, 0, 0, 1},	      {172, 16, 0, 1}, {192, 168, 1, 1},     {100, 64, 0, 1},
		{169, 254, 1, 1},     {198, 18, 0, 0}, {198, 19, 255, 255},  {1, 1, 1, 1},
		{223, 255, 255, 255}, {240, 0, 0, 1},  {255, 255, 255, 254}, {1, 0, 0, 0},
	};
	uint8_t buf[12];
	struct natpmp_response r;

	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		addr_answer_of(buf, 0, ok[i][0], ok[i][1], ok[i][2], ok[i][3]);
		parse_ok(buf, sizeof(buf), &req_addr, &r);
		assert_memory_equal(r.external.ip, ok[i], 4);
	}
}

/* The request we encode, answered as a gateway would (echoing opcode and
 * internal port, granting the suggested port or one of its own), parses
 * back to what was asked. */
static void test_round_trip(void **state)
{
	(void)state;
	static const uint16_t ports[] = {1, 80, TS_PORT, 65535};
	static const uint8_t ops[] = {NATPMP_OP_MAP_UDP, NATPMP_OP_MAP_TCP};
	uint8_t req[NATPMP_REQUEST_MAX_BYTES], ans[16];
	struct natpmp_response r;

	for (size_t o = 0; o < ARRAY_LEN(ops); o++) {
		for (size_t i = 0; i < ARRAY_LEN(ports); i++) {
			struct natpmp_request q = {
				.opcode = ops[o],
				.internal_port = ports[i],
				.suggested_external_port = ports[ARRAY_LEN(ports) - 1 - i],
				.lifetime_s = NATPMP_LIFETIME_S,
			};
			uint16_t internal, suggested;
			uint32_t lifetime;

			assert_int_equal(natpmp_request_encode(&q, req, sizeof(req)), 12);
			internal = be_get16(req + 4);
			suggested = be_get16(req + 6);
			lifetime = be_get32(req + 8);
			map_answer(ans, NATPMP_OP_REPLY + req[1], 0, (uint32_t)i, internal,
				   suggested, lifetime);
			parse_ok(ans, sizeof(ans), &q, &r);
			assert_int_equal(r.opcode, NATPMP_OP_REPLY + ops[o]);
			assert_int_equal(r.internal_port, q.internal_port);
			assert_int_equal(r.external_port, q.suggested_external_port);
			assert_int_equal(r.lifetime_s, q.lifetime_s);
			assert_int_equal(r.epoch_s, i);
		}
	}
	/* And the delete of it. */
	assert_int_equal(natpmp_request_encode(&req_delete, req, sizeof(req)), 12);
	map_answer(ans, NATPMP_OP_REPLY + req[1], 0, 7, (uint16_t)(req[4] << 8 | req[5]), 0, 0);
	parse_ok(ans, sizeof(ans), &req_delete, &r);
	/* And the external-address request. */
	assert_int_equal(natpmp_request_encode(&req_addr, req, sizeof(req)), 2);
	addr_answer_of(ans, 0, 203, 0, 113, 9);
	ans[1] = (uint8_t)(NATPMP_OP_REPLY + req[1]);
	parse_ok(ans, 12, &req_addr, &r);
	assert_memory_equal(r.external.ip, "\xcb\x00\x71\x09", 4);
}

/* Tailscale sends both requests at once; each answer parses against its
 * own request and is told apart from the other by its opcode. */
static void test_both_answers_told_apart(void **state)
{
	(void)state;
	expect_err(addr_answer, sizeof(addr_answer), &req_udp, NATPMP_ERR_OPCODE);
	expect_err(udp_answer, sizeof(udp_answer), &req_addr, NATPMP_ERR_OPCODE);
	expect_err(udp_answer, sizeof(udp_answer), &req_tcp, NATPMP_ERR_OPCODE);
}

static void test_result_names(void **state)
{
	(void)state;
	assert_string_equal(natpmp_result_name(0), "Success");
	assert_string_equal(natpmp_result_name(1), "Unsupported Version");
	assert_string_equal(natpmp_result_name(2), "Not Authorized/Refused");
	assert_string_equal(natpmp_result_name(3), "Network Failure");
	assert_string_equal(natpmp_result_name(4), "Out of Resources");
	assert_string_equal(natpmp_result_name(5), "Unsupported Opcode");
	assert_string_equal(natpmp_result_name(6), "unknown result code");
	assert_string_equal(natpmp_result_name(0xffff), "unknown result code");
}

static void test_strerror(void **state)
{
	(void)state;
	for (int e = NATPMP_OK; e >= NATPMP_ERR_BAD_REQUEST; e--) {
		const char *s = natpmp_strerror(e);

		assert_non_null(s);
		assert_string_not_equal(s, "unknown NAT-PMP error");
		for (int f = NATPMP_OK; f > e; f--)
			assert_string_not_equal(s, natpmp_strerror(f));
	}
	assert_string_equal(natpmp_strerror(NATPMP_ERR_BAD_REQUEST - 1), "unknown NAT-PMP error");
	assert_string_equal(natpmp_strerror(1), "unknown NAT-PMP error");
}

/* ---- malformed: one test per case ---- */

static void test_err_truncated_external_addr_every_length(void **state)
{
	(void)state;
	for (size_t n = 0; n < sizeof(addr_answer); n++)
		expect_err(addr_answer, n, &req_addr, NATPMP_ERR_SHORT);
	expect_err(NULL, 0, &req_addr, NATPMP_ERR_SHORT);
}

static void test_err_truncated_map_every_length(void **state)
{
	(void)state;
	for (size_t n = 0; n < sizeof(udp_answer); n++)
		expect_err(udp_answer, n, &req_udp, NATPMP_ERR_SHORT);
	expect_err(NULL, 0, &req_udp, NATPMP_ERR_SHORT);
}

static void test_err_overlong_external_addr(void **state)
{
	(void)state;
	uint8_t buf[32] = {0};

	memcpy(buf, addr_answer, sizeof(addr_answer));
	expect_err(buf, 13, &req_addr, NATPMP_ERR_LONG);
	expect_err(buf, 16, &req_addr, NATPMP_ERR_LONG);
	expect_err(buf, sizeof(buf), &req_addr, NATPMP_ERR_LONG);
}

static void test_err_overlong_map(void **state)
{
	(void)state;
	uint8_t buf[64] = {0};

	memcpy(buf, udp_answer, sizeof(udp_answer));
	expect_err(buf, 17, &req_udp, NATPMP_ERR_LONG);
	expect_err(buf, 20, &req_udp, NATPMP_ERR_LONG);
	expect_err(buf, sizeof(buf), &req_udp, NATPMP_ERR_LONG);
}

static void test_err_version(void **state)
{
	(void)state;
	uint8_t buf[16];

	memcpy(buf, udp_answer, sizeof(buf));
	buf[0] = 1;
	expect_err(buf, sizeof(buf), &req_udp, NATPMP_ERR_VERSION);
	buf[0] = 2; /* a PCP answer */
	expect_err(buf, sizeof(buf), &req_udp, NATPMP_ERR_VERSION);
	memcpy(buf, addr_answer, sizeof(addr_answer));
	buf[0] = 0xff;
	expect_err(buf, sizeof(addr_answer), &req_addr, NATPMP_ERR_VERSION);
}

static void test_err_unexpected_opcode(void **state)
{
	(void)state;
	uint8_t buf[16];

	memcpy(buf, udp_answer, sizeof(buf));
	buf[1] = NATPMP_OP_MAP_UDP; /* our request reflected: no reply bit */
	expect_err(buf, sizeof(buf), &req_udp, NATPMP_ERR_OPCODE);
	buf[1] = 130; /* a TCP answer to a UDP request */
	expect_err(buf, sizeof(buf), &req_udp, NATPMP_ERR_OPCODE);
	buf[1] = 131;
	expect_err(buf, sizeof(buf), &req_udp, NATPMP_ERR_OPCODE);
	buf[1] = 0xff;
	expect_err(buf, sizeof(buf), &req_udp, NATPMP_ERR_OPCODE);
	memcpy(buf, addr_answer, sizeof(addr_answer));
	buf[1] = 0;
	expect_err(buf, sizeof(addr_answer), &req_addr, NATPMP_ERR_OPCODE);
}

/* Every code of RFC 6886 section 3.5, and undefined ones ("MUST be treated
 * as fatal errors"), carried out with the answer's epoch. */
static void test_err_result_code(void **state)
{
	(void)state;
	static const uint16_t codes[] = {1, 2, 3, 4, 5, 6, 0x100, 0xffff};
	uint8_t buf[16];

	for (size_t i = 0; i < ARRAY_LEN(codes); i++) {
		/* Section 3.5: a refused map still names our internal port;
		 * no mapping, so port and lifetime 0. */
		map_answer(buf, 129, codes[i], 1234, TS_PORT, 0, 0);
		expect_result(buf, 16, &req_udp, codes[i]);
		/* A refused address request: the address is undefined, so
		 * 0.0.0.0 is no reason to complain. */
		addr_answer_of(buf, codes[i], 0, 0, 0, 0);
		expect_result(buf, 12, &req_addr, codes[i]);
	}
}

/* RFC 6886 section 3.5's Unsupported Version answer is the bare 8-byte
 * header; miniupnpd answers errors it cannot fill in so. Only an error may
 * be that short. */
static void test_err_result_header_only(void **state)
{
	(void)state;
	static const uint8_t unsupported[] = {0x00, 0x81, 0x00, 0x01, 0x00, 0x00, 0x00, 0x2a};
	static const uint8_t ok_short[] = {0x00, 0x81, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a};
	uint8_t buf[16] = {0};

	expect_result(unsupported, sizeof(unsupported), &req_udp, 1);
	expect_err(ok_short, sizeof(ok_short), &req_udp, NATPMP_ERR_SHORT);
	/* Between the header and the full answer is neither. */
	memcpy(buf, unsupported, sizeof(unsupported));
	expect_err(buf, 12, &req_udp, NATPMP_ERR_SHORT);
	/* The address request's refusal, 8 bytes. */
	memcpy(buf, unsupported, sizeof(unsupported));
	buf[1] = 0x80;
	buf[3] = NATPMP_RESULT_NETWORK_FAILURE;
	expect_result(buf, 8, &req_addr, NATPMP_RESULT_NETWORK_FAILURE);
	expect_err(buf, 10, &req_addr, NATPMP_ERR_SHORT);
}

static void test_err_internal_port_mismatch(void **state)
{
	(void)state;
	uint8_t buf[16];

	map_answer(buf, 129, 0, 1, TS_PORT + 1, EXT_PORT, 7200);
	expect_err(buf, sizeof(buf), &req_udp, NATPMP_ERR_INTERNAL_PORT);
	map_answer(buf, 129, 0, 1, 0, EXT_PORT, 7200);
	expect_err(buf, sizeof(buf), &req_udp, NATPMP_ERR_INTERNAL_PORT);
	/* A refusal of someone else's request is not ours either. */
	map_answer(buf, 129, NATPMP_RESULT_OUT_OF_RESOURCES, 1, 80, 0, 0);
	expect_err(buf, sizeof(buf), &req_udp, NATPMP_ERR_INTERNAL_PORT);
	/* Nor an answer to our delete for another port. */
	map_answer(buf, 129, 0, 1, 80, 0, 0);
	expect_err(buf, sizeof(buf), &req_delete, NATPMP_ERR_INTERNAL_PORT);
}

static void test_err_mapped_port_zero_on_create(void **state)
{
	(void)state;
	uint8_t buf[16];

	map_answer(buf, 129, 0, 1, TS_PORT, 0, 7200);
	expect_err(buf, sizeof(buf), &req_udp, NATPMP_ERR_EXTERNAL_PORT);
}

static void test_err_lifetime_zero_on_create(void **state)
{
	(void)state;
	uint8_t buf[16];

	map_answer(buf, 129, 0, 1, TS_PORT, EXT_PORT, 0);
	expect_err(buf, sizeof(buf), &req_udp, NATPMP_ERR_LIFETIME);
	/* The same bytes answer a delete. */
	map_answer(buf, 129, 0, 1, TS_PORT, 0, 0);
	expect_err(buf, sizeof(buf), &req_udp, NATPMP_ERR_LIFETIME);
}

static void test_err_delete_answered_with_lifetime(void **state)
{
	(void)state;
	uint8_t buf[16];

	/* The create's answer is not the delete's. */
	expect_err(udp_answer, sizeof(udp_answer), &req_delete, NATPMP_ERR_NOT_DELETED);
	map_answer(buf, 129, 0, 1, TS_PORT, 0, 1);
	expect_err(buf, sizeof(buf), &req_delete, NATPMP_ERR_NOT_DELETED);
}

static void test_err_external_addr_zero(void **state)
{
	(void)state;
	uint8_t buf[12];

	addr_answer_of(buf, 0, 0, 0, 0, 0);
	expect_err(buf, sizeof(buf), &req_addr, NATPMP_ERR_EXTERNAL_ADDR);
	addr_answer_of(buf, 0, 0, 1, 2, 3); /* rest of 0.0.0.0/8 */
	expect_err(buf, sizeof(buf), &req_addr, NATPMP_ERR_EXTERNAL_ADDR);
}

static void test_err_external_addr_loopback(void **state)
{
	(void)state;
	uint8_t buf[12];

	addr_answer_of(buf, 0, 127, 0, 0, 1);
	expect_err(buf, sizeof(buf), &req_addr, NATPMP_ERR_EXTERNAL_ADDR);
	addr_answer_of(buf, 0, 127, 255, 255, 255);
	expect_err(buf, sizeof(buf), &req_addr, NATPMP_ERR_EXTERNAL_ADDR);
}

static void test_err_external_addr_multicast(void **state)
{
	(void)state;
	uint8_t buf[12];

	addr_answer_of(buf, 0, 224, 0, 0, 1);
	expect_err(buf, sizeof(buf), &req_addr, NATPMP_ERR_EXTERNAL_ADDR);
	addr_answer_of(buf, 0, 239, 255, 255, 250);
	expect_err(buf, sizeof(buf), &req_addr, NATPMP_ERR_EXTERNAL_ADDR);
}

static void test_err_external_addr_broadcast(void **state)
{
	(void)state;
	uint8_t buf[12];

	addr_answer_of(buf, 0, 255, 255, 255, 255);
	expect_err(buf, sizeof(buf), &req_addr, NATPMP_ERR_EXTERNAL_ADDR);
}

static void test_err_bad_request(void **state)
{
	(void)state;
	struct natpmp_request r = req_udp;

	expect_err(udp_answer, sizeof(udp_answer), NULL, NATPMP_ERR_BAD_REQUEST);
	r.opcode = 3;
	expect_err(udp_answer, sizeof(udp_answer), &r, NATPMP_ERR_BAD_REQUEST);
	r = req_udp;
	r.internal_port = 0;
	expect_err(udp_answer, sizeof(udp_answer), &r, NATPMP_ERR_BAD_REQUEST);
	assert_int_equal(natpmp_response_parse(udp_answer, sizeof(udp_answer), &req_udp, NULL),
			 NATPMP_ERR_BAD_REQUEST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_external_addr_request_bytes),
		cmocka_unit_test(test_map_request_bytes),
		cmocka_unit_test(test_map_request_tcp_bytes),
		cmocka_unit_test(test_delete_request_bytes),
		cmocka_unit_test(test_request_refuses_what_we_never_send),
		cmocka_unit_test(test_external_addr_answer),
		cmocka_unit_test(test_map_udp_answer),
		cmocka_unit_test(test_map_tcp_answer),
		cmocka_unit_test(test_map_answer_other_port_shorter_lifetime),
		cmocka_unit_test(test_delete_answer),
		cmocka_unit_test(test_external_addr_private_and_benchmark_accepted),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_both_answers_told_apart),
		cmocka_unit_test(test_result_names),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_err_truncated_external_addr_every_length),
		cmocka_unit_test(test_err_truncated_map_every_length),
		cmocka_unit_test(test_err_overlong_external_addr),
		cmocka_unit_test(test_err_overlong_map),
		cmocka_unit_test(test_err_version),
		cmocka_unit_test(test_err_unexpected_opcode),
		cmocka_unit_test(test_err_result_code),
		cmocka_unit_test(test_err_result_header_only),
		cmocka_unit_test(test_err_internal_port_mismatch),
		cmocka_unit_test(test_err_mapped_port_zero_on_create),
		cmocka_unit_test(test_err_lifetime_zero_on_create),
		cmocka_unit_test(test_err_delete_answered_with_lifetime),
		cmocka_unit_test(test_err_external_addr_zero),
		cmocka_unit_test(test_err_external_addr_loopback),
		cmocka_unit_test(test_err_external_addr_multicast),
		cmocka_unit_test(test_err_external_addr_broadcast),
		cmocka_unit_test(test_err_bad_request),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

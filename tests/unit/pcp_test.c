/* pcp_test: the MAP response Tailscale captured from a router
 * (net/portmapper/pcp_test.go) and its fuzz seeds (fuzz_test.go); the
 * requests Tailscale's pcp.go sends, byte for byte; answers built by hand
 * from the layouts of RFC 6887 sections 7, 11 and 14.1; request/answer
 * round trips; and every malformed case (table rows where one field
 * differs, a test each otherwise). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "be.h"
#include "portmap/pcp.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* examplePCPMapResponse: version 2, MAP reply, SUCCESS, lifetime 7200,
 * epoch 0x00029bed, nonce 8170...0abc, UDP, internal 1234, external
 * 1234 at ::ffff:135.180.175.246. */
static const uint8_t ts_map_response[] = {
	2, 129, 0, 0,	0,   0,	  28, 32, 0,   2,   155, 237, 0,   0,  0,   0,	 0,   0,   0,	0,
	0, 0,	0, 0,	129, 112, 9,  24, 241, 208, 251, 45,  157, 76, 10,  188, 17,  0,   0,	0,
	4, 210, 4, 210, 0,   0,	  0,  0,  0,   0,   0,	 0,   0,   0,  255, 255, 135, 180, 175, 246,
};

static const uint8_t ts_nonce[12] = {129, 112, 9, 24, 241, 208, 251, 45, 157, 76, 10, 188};

/* FuzzParsePCPMapResponse's second seed: SUCCESS, lifetime 7200, epoch 1,
 * nonce 1..12, UDP, internal 1234, external 0x1234 at 2001:db8::1. */
static const uint8_t ts_seed_v6[] = {
	2,    129,  0,	  0,	0,    0,    0x1c, 0x20, 0, 0, 0, 1, 0, 0,  0,  0,  0,  0, 0, 0,
	0,    0,    0,	  0,	1,    2,    3,	  4,	5, 6, 7, 8, 9, 10, 11, 12, 17, 0, 0, 0,
	0x04, 0xd2, 0x12, 0x34, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0,  0,  0,  0,  0, 0, 1,
};

static const uint8_t seed_nonce[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

/* RFC 6887 section 14.1: the answer to ANNOUNCE, SUCCESS, epoch 300. */
static const uint8_t announce_answer[24] = {2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x2c};

/* The requests these answer. */
static struct pcp_request map_req(const uint8_t nonce[12], uint16_t internal)
{
	struct pcp_request r = {
		.opcode = PCP_OP_MAP,
		.lifetime_s = PCP_LIFETIME_S,
		.client = {.family = AF_INET, .ip = {192, 168, 1, 10}},
		.internal_port = internal,
	};

	memcpy(r.nonce, nonce, 12);
	return r;
}

static struct pcp_request announce_req(void)
{
	return (struct pcp_request){
		.opcode = PCP_OP_ANNOUNCE,
		.client = {.family = AF_INET, .ip = {192, 168, 1, 10}},
	};
}

/* ---- helpers ---- */

/* A MAP answer as RFC 6887 sections 7.2 and 11.2 lay it out. ext: 16 bytes. */
static size_t map_answer(uint8_t buf[60], uint8_t result, uint32_t lifetime, uint32_t epoch,
			 const uint8_t nonce[12], uint8_t proto, uint16_t internal,
			 uint16_t external, const uint8_t ext[16])
{
	memset(buf, 0, 60);
	buf[0] = 2;
	buf[1] = 0x80 | PCP_OP_MAP;
	buf[3] = result;
	be_put32(buf + 4, lifetime);
	be_put32(buf + 8, epoch);
	memcpy(buf + 24, nonce, 12);
	buf[36] = proto;
	buf[40] = (uint8_t)(internal >> 8);
	buf[41] = (uint8_t)internal;
	buf[42] = (uint8_t)(external >> 8);
	buf[43] = (uint8_t)external;
	memcpy(buf + 44, ext, 16);
	return 60;
}

static const uint8_t lab_v4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1};

/* pcp_response_parse must fail with want and leave *out alone; a failure
 * names the case (a table row, else the test function). */
static void expect_err_at(const char *name, const uint8_t *p, size_t len,
			  const struct pcp_request *sent, int want)
{
	struct pcp_response out, canary;
	int rc;

	memset(&out, 0xa5, sizeof(out));
	canary = out;
	rc = pcp_response_parse(p, len, sent, &out);
	if (rc != want)
		fail_msg("%s: len %zu: got %d (%s), want %d (%s)", name, len, rc, pcp_strerror(rc),
			 want, pcp_strerror(want));
	if (memcmp(&out, &canary, sizeof(out)) != 0)
		fail_msg("%s: *out written on an error", name);
}

#define expect_err(p, len, sent, want) expect_err_at(__func__, p, len, sent, want)

static void expect_result(const uint8_t *p, size_t len, const struct pcp_request *sent,
			  uint8_t code, uint32_t lifetime)
{
	struct pcp_response out;

	memset(&out, 0xa5, sizeof(out));
	assert_int_equal(pcp_response_parse(p, len, sent, &out), PCP_ERR_RESULT);
	assert_int_equal(out.result, code);
	assert_int_equal(out.opcode, sent->opcode);
	assert_int_equal(out.lifetime_s, lifetime); /* how long the error holds */
	assert_int_equal(out.epoch_s, be_get32(p + 8));
	assert_int_equal(out.external.family, 0);
	assert_int_equal(out.internal_port, 0);
	assert_int_equal(out.noptions, 0);
}

static void parse_ok(const uint8_t *p, size_t len, const struct pcp_request *sent,
		     struct pcp_response *out)
{
	int rc = pcp_response_parse(p, len, sent, out);

	if (rc != 0)
		fail_msg("parse: %s", pcp_strerror(rc));
}

static void assert_external(const struct pcp_response *r, const char *want)
{
	struct ipport w;
	char text[ADDR_TEXT_MAX];

	assert_int_equal(ipport_parse(want, &w), 0);
	if (!ipport_equal(&r->external, &w)) {
		ipport_format(&r->external, text, sizeof(text));
		fail_msg("external %s, want %s", text, want);
	}
}

/* ---- Tailscale's vectors ---- */

/* TestParsePCPMapResponse, and every field of it. */
static void test_tailscale_map_response(void **state)
{
	(void)state;
	struct pcp_request sent = map_req(ts_nonce, 1234);
	struct pcp_response r;

	parse_ok(ts_map_response, sizeof(ts_map_response), &sent, &r);
	assert_int_equal(r.opcode, PCP_OP_MAP);
	assert_int_equal(r.result, PCP_RESULT_SUCCESS);
	assert_int_equal(r.lifetime_s, 7200);
	assert_int_equal(r.epoch_s, 0x00029bed);
	assert_int_equal(r.protocol, PCP_PROTO_UDP);
	assert_int_equal(r.internal_port, 1234);
	assert_int_equal(r.noptions, 0);
	assert_external(&r, "135.180.175.246:1234");
}

/* FuzzParsePCPMapResponse's OK seed: an IPv6 external address. */
static void test_tailscale_seed_ipv6(void **state)
{
	(void)state;
	struct pcp_request sent = map_req(seed_nonce, 1234);
	struct pcp_response r;

	parse_ok(ts_seed_v6, sizeof(ts_seed_v6), &sent, &r);
	assert_int_equal(r.epoch_s, 1);
	assert_int_equal(r.lifetime_s, 7200);
	assert_external(&r, "[2001:db8::1]:4660");
}

/* pcpAnnounceRequest(192.168.1.10): header only, lifetime 0, our address
 * IPv4-mapped. */
static void test_announce_request_bytes(void **state)
{
	(void)state;
	static const uint8_t want[24] = {
		2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 10,
	};
	struct pcp_request q = announce_req();
	uint8_t buf[PCP_REQUEST_MAX_BYTES];

	memset(buf, 0xee, sizeof(buf));
	q.lifetime_s = 99; /* not sent: ANNOUNCE asks for no lifetime */
	assert_int_equal(pcp_request_encode(&q, buf, sizeof(buf)), 24);
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(buf[24], 0xee);
	assert_int_equal(pcp_request_encode(&q, buf, 23), 0);
}

/* buildPCPRequestMappingPacket(192.168.1.10, 41641, 0, pcpMapLifetimeSec,
 * 0.0.0.0) with ts_nonce: the suggested address goes out as ::ffff:0.0.0.0,
 * the all-zeros IPv4 address of RFC 6887 section 5. */
static void test_map_request_bytes(void **state)
{
	(void)state;
	static const uint8_t want[60] = {
		2,   1,	 0,   0,    0,	  0,   0x1c, 0x20, 0,  0,    0,	   0,	 0,  0,	  0,
		0,   0,	 0,   0xff, 0xff, 192, 168,  1,	   10, 129,  112,  9,	 24, 241, 208,
		251, 45, 157, 76,   10,	  188, 17,   0,	   0,  0,    0xa2, 0xa9, 0,  0,	  0,
		0,   0,	 0,   0,    0,	  0,   0,    0,	   0,  0xff, 0xff, 0,	 0,  0,	  0,
	};
	struct pcp_request q = map_req(ts_nonce, 41641);
	uint8_t buf[PCP_REQUEST_MAX_BYTES + 4];

	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(pcp_request_encode(&q, buf, sizeof(buf)), 60);
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(buf[60], 0xee);
	assert_int_equal(pcp_request_encode(&q, buf, 59), 0);
	/* An explicit 0.0.0.0 is the same bytes. */
	q.suggested_external.family = AF_INET;
	assert_int_equal(pcp_request_encode(&q, buf, sizeof(buf)), 60);
	assert_memory_equal(buf, want, sizeof(want));
}

/* A renewal suggests the port and address we had (RFC 6887 section 11.1;
 * Tailscale passes prevPort). */
static void test_map_request_renewal_bytes(void **state)
{
	(void)state;
	struct pcp_request q = map_req(ts_nonce, 41641);
	uint8_t buf[PCP_REQUEST_MAX_BYTES];

	q.suggested_external_port = 1234;
	q.suggested_external = (struct ipport){.family = AF_INET, .ip = {135, 180, 175, 246}};
	assert_int_equal(pcp_request_encode(&q, buf, sizeof(buf)), 60);
	assert_memory_equal(buf + 40, "\xa2\xa9\x04\xd2", 4);
	assert_memory_equal(buf + 44, "\0\0\0\0\0\0\0\0\0\0\xff\xff\x87\xb4\xaf\xf6", 16);
}

/* pcpMapping.Release: lifetime 0, the mapping's port and address. */
static void test_map_request_delete_bytes(void **state)
{
	(void)state;
	struct pcp_request q = map_req(ts_nonce, 1234);
	uint8_t buf[PCP_REQUEST_MAX_BYTES];

	q.lifetime_s = 0;
	q.suggested_external_port = 1234;
	q.suggested_external = (struct ipport){.family = AF_INET, .ip = {135, 180, 175, 246}};
	assert_int_equal(pcp_request_encode(&q, buf, sizeof(buf)), 60);
	assert_memory_equal(buf, "\x02\x01\x00\x00\x00\x00\x00\x00", 8);
	assert_memory_equal(buf + 40, "\x04\xd2\x04\xd2", 4);
	assert_memory_equal(buf + 56, "\x87\xb4\xaf\xf6", 4);
}

/* An IPv6 client: its own address as is, and the IPv6 all-zeros address
 * when it has no preference. */
static void test_map_request_ipv6_client(void **state)
{
	(void)state;
	static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
				       0,    0,	   0,	 0,    0, 0, 0, 0x10};
	static const uint8_t zero[16] = {0};
	struct pcp_request q = map_req(ts_nonce, 41641);
	uint8_t buf[PCP_REQUEST_MAX_BYTES];

	q.client.family = AF_INET6;
	memcpy(q.client.ip, v6, 16);
	assert_int_equal(pcp_request_encode(&q, buf, sizeof(buf)), 60);
	assert_memory_equal(buf + 8, v6, 16);
	assert_memory_equal(buf + 44, zero, 16);
	q.suggested_external.family = AF_INET6;
	q.suggested_external.ip[15] = 7;
	assert_int_equal(pcp_request_encode(&q, buf, sizeof(buf)), 60);
	assert_int_equal(buf[59], 7);
}

static void test_request_refuses_what_we_never_send(void **state)
{
	(void)state;
	uint8_t buf[PCP_REQUEST_MAX_BYTES];
	struct pcp_request q;

	q = map_req(ts_nonce, 41641);
	q.opcode = 2; /* PEER */
	assert_int_equal(pcp_request_encode(&q, buf, sizeof(buf)), 0);
	q = map_req(ts_nonce, 41641);
	q.client.family = 0;
	assert_int_equal(pcp_request_encode(&q, buf, sizeof(buf)), 0);
	q = announce_req();
	q.client.family = AF_UNIX;
	assert_int_equal(pcp_request_encode(&q, buf, sizeof(buf)), 0);
	q = map_req(ts_nonce, 0); /* "all ports" */
	assert_int_equal(pcp_request_encode(&q, buf, sizeof(buf)), 0);
	q.lifetime_s = 0;
	assert_int_equal(pcp_request_encode(&q, buf, sizeof(buf)), 0);
	q = map_req(ts_nonce, 41641);
	q.suggested_external.family = AF_UNIX;
	assert_int_equal(pcp_request_encode(&q, buf, sizeof(buf)), 0);
	assert_int_equal(pcp_request_encode(NULL, buf, sizeof(buf)), 0);
	q = map_req(ts_nonce, 41641);
	assert_int_equal(pcp_request_encode(&q, NULL, sizeof(buf)), 0);
}

/* ---- answers built from the RFC layouts ---- */

static void test_announce_answer(void **state)
{
	(void)state;
	struct pcp_request sent = announce_req();
	struct pcp_response r;

	parse_ok(announce_answer, sizeof(announce_answer), &sent, &r);
	assert_int_equal(r.opcode, PCP_OP_ANNOUNCE);
	assert_int_equal(r.result, 0);
	assert_int_equal(r.epoch_s, 300);
	assert_int_equal(r.lifetime_s, 0);
	assert_int_equal(r.external.family, 0);
}

/* Our lab's internet is 198.18.0.0/15 (RFC 2544): a fine external address. */
static void test_map_answer_lab_address(void **state)
{
	(void)state;
	struct pcp_request sent = map_req(ts_nonce, 41641);
	uint8_t buf[60];
	struct pcp_response r;

	map_answer(buf, 0, 3600, 77, ts_nonce, 17, 41641, 60000, lab_v4);
	parse_ok(buf, sizeof(buf), &sent, &r);
	assert_int_equal(r.lifetime_s, 3600);
	assert_int_equal(r.epoch_s, 77);
	assert_external(&r, "198.18.0.1:60000");
}

/* Options after the MAP data are skipped by their lengths, padding
 * included (RFC 6887 section 7.3): THIRD_PARTY-like 16 bytes, one of 5
 * bytes padded to 8, one empty. */
static void test_map_answer_with_options(void **state)
{
	(void)state;
	struct pcp_request sent = map_req(ts_nonce, 41641);
	uint8_t buf[60 + 20 + 12 + 4];
	struct pcp_response r;

	map_answer(buf, 0, 7200, 1, ts_nonce, 17, 41641, 41641, lab_v4);
	memcpy(buf + 60, "\x01\x00\x00\x10", 4);
	memset(buf + 64, 0x11, 16);
	memcpy(buf + 80, "\x80\x00\x00\x05", 4);
	memset(buf + 84, 0x22, 8);
	memcpy(buf + 92, "\x82\x00\x00\x00", 4);
	parse_ok(buf, sizeof(buf), &sent, &r);
	assert_int_equal(r.noptions, 3);
	assert_external(&r, "198.18.0.1:41641");
}

static void test_announce_answer_with_option(void **state)
{
	(void)state;
	struct pcp_request sent = announce_req();
	uint8_t buf[32] = {0};
	struct pcp_response r;

	memcpy(buf, announce_answer, 24);
	memcpy(buf + 24, "\x80\x00\x00\x01\x01\x00\x00\x00", 8);
	parse_ok(buf, sizeof(buf), &sent, &r);
	assert_int_equal(r.noptions, 1);
}

/* The longest answer (1100 bytes): MAP data and options to the end. */
static void test_map_answer_max_length(void **state)
{
	(void)state;
	struct pcp_request sent = map_req(ts_nonce, 41641);
	uint8_t buf[PCP_MAX_MESSAGE_BYTES];
	struct pcp_response r;
	size_t rest = sizeof(buf) - 60 - 4;

	map_answer(buf, 0, 7200, 1, ts_nonce, 17, 41641, 41641, lab_v4);
	buf[60] = 0x80;
	buf[61] = 0;
	buf[62] = (uint8_t)(rest >> 8);
	buf[63] = (uint8_t)rest;
	memset(buf + 64, 0, rest);
	parse_ok(buf, sizeof(buf), &sent, &r);
	assert_int_equal(r.noptions, 1);
}

/* A delete's answer has lifetime 0; its external fields are not looked at. */
static void test_delete_answer(void **state)
{
	(void)state;
	static const uint8_t zero[16] = {0};
	struct pcp_request sent = map_req(ts_nonce, 1234);
	uint8_t buf[60];
	struct pcp_response r;

	sent.lifetime_s = 0;
	map_answer(buf, 0, 0, 9, ts_nonce, 17, 1234, 0, zero);
	parse_ok(buf, sizeof(buf), &sent, &r);
	assert_int_equal(r.lifetime_s, 0);
	assert_int_equal(r.internal_port, 1234);
	assert_int_equal(r.epoch_s, 9);
}

/* Encode a request, answer it the way Tailscale's test server does
 * (buildPCPMapResponse / buildPCPDiscoResponse: copy opcode, nonce,
 * protocol and internal port; assign a port and address), parse. */
static void test_round_trip(void **state)
{
	(void)state;
	static const uint16_t ports[] = {1, 1234, 41641, 65535};
	uint8_t req[PCP_REQUEST_MAX_BYTES], ans[60];
	struct pcp_response r;

	for (size_t i = 0; i < ARRAY_LEN(ports); i++) {
		uint8_t nonce[12];
		struct pcp_request q;

		memset(nonce, (int)(i * 37 + 1), sizeof(nonce));
		q = map_req(nonce, ports[i]);
		assert_int_equal(pcp_request_encode(&q, req, sizeof(req)), 60);
		memset(ans, 0, sizeof(ans));
		ans[0] = 2;
		ans[1] = req[1] | 0x80;
		be_put32(ans + 4, 1u << 30);
		memcpy(ans + 24, req + 24, 13);
		memcpy(ans + 40, req + 40, 2);
		ans[42] = 0x10;
		ans[43] = 0x92; /* 4242 */
		memcpy(ans + 44, lab_v4, 16);
		parse_ok(ans, sizeof(ans), &q, &r);
		assert_int_equal(r.lifetime_s, 1u << 30);
		assert_int_equal(r.internal_port, ports[i]);
		assert_external(&r, "198.18.0.1:4242");
	}
	struct pcp_request a = announce_req();
	assert_int_equal(pcp_request_encode(&a, req, sizeof(req)), 24);
	memset(ans, 0, 24);
	ans[0] = 2;
	ans[1] = req[1] | 0x80;
	parse_ok(ans, 24, &a, &r);
	assert_int_equal(r.opcode, PCP_OP_ANNOUNCE);
}

static void test_result_names(void **state)
{
	(void)state;
	static const char *const names[] = {
		"SUCCESS",	     "UNSUPP_VERSION",	       "NOT_AUTHORIZED",
		"MALFORMED_REQUEST", "UNSUPP_OPCODE",	       "UNSUPP_OPTION",
		"MALFORMED_OPTION",  "NETWORK_FAILURE",	       "NO_RESOURCES",
		"UNSUPP_PROTOCOL",   "USER_EX_QUOTA",	       "CANNOT_PROVIDE_EXTERNAL",
		"ADDRESS_MISMATCH",  "EXCESSIVE_REMOTE_PEERS",
	};

	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		assert_string_equal(pcp_result_name((uint8_t)i), names[i]);
	assert_string_equal(pcp_result_name(14), "unknown result code");
	assert_string_equal(pcp_result_name(255), "unknown result code");
}

static void test_strerror(void **state)
{
	(void)state;
	for (int e = PCP_OK; e >= PCP_ERR_BAD_REQUEST; e--) {
		const char *s = pcp_strerror(e);

		assert_non_null(s);
		assert_string_not_equal(s, "unknown PCP error");
		for (int f = PCP_OK; f > e; f--)
			assert_string_not_equal(s, pcp_strerror(f));
	}
	assert_string_equal(pcp_strerror(PCP_ERR_BAD_REQUEST - 1), "unknown PCP error");
	assert_string_equal(pcp_strerror(1), "unknown PCP error");
}

/* ---- malformed: one test per case ---- */

/* Section 8.3: under 24 bytes is SHORT, then a success MAP without its 36
 * bytes of data is SHORT too, unless the length is not a multiple of 4. */
static void test_err_truncated_every_length(void **state)
{
	(void)state;
	struct pcp_request sent = map_req(ts_nonce, 1234);

	for (size_t n = 0; n < sizeof(ts_map_response); n++)
		expect_err(ts_map_response, n, &sent,
			   n >= 24 && n % 4 ? PCP_ERR_ALIGN : PCP_ERR_SHORT);
	expect_err(NULL, 0, &sent, PCP_ERR_SHORT);
}

static void test_err_announce_truncated(void **state)
{
	(void)state;
	struct pcp_request sent = announce_req();

	for (size_t n = 0; n < sizeof(announce_answer); n++)
		expect_err(announce_answer, n, &sent, PCP_ERR_SHORT);
}

static void test_err_not_multiple_of_4(void **state)
{
	(void)state;
	struct pcp_request sent = map_req(ts_nonce, 1234);
	uint8_t buf[64] = {0};

	memcpy(buf, ts_map_response, sizeof(ts_map_response));
	for (size_t n = 61; n < 64; n++)
		expect_err(buf, n, &sent, PCP_ERR_ALIGN);
}

static void test_err_too_long(void **state)
{
	(void)state;
	struct pcp_request sent = map_req(ts_nonce, 1234);
	uint8_t buf[PCP_MAX_MESSAGE_BYTES + 8] = {0};

	memcpy(buf, ts_map_response, sizeof(ts_map_response));
	expect_err(buf, PCP_MAX_MESSAGE_BYTES + 4, &sent, PCP_ERR_LONG);
	expect_err(buf, PCP_MAX_MESSAGE_BYTES + 1, &sent, PCP_ERR_LONG);
	expect_err(buf, sizeof(buf), &sent, PCP_ERR_LONG);
}

/* RFC 6887 section 9: version 0 UNSUPP_VERSION is a NAT-PMP server, whose
 * answer (RFC 6886 section 3.5) is 8 bytes with the R bit clear or set. */
static void test_err_natpmp_only(void **state)
{
	(void)state;
	static const uint8_t rfc6886[] = {0, 0, 0, 1, 0, 0, 0x0e, 0x10};
	static const uint8_t miniupnpd[] = {0, 0x81, 0, 1, 0, 0, 0x0e, 0x10};
	struct pcp_request sent = map_req(ts_nonce, 1234);
	struct pcp_request a = announce_req();
	uint8_t buf[24] = {0};

	expect_err(rfc6886, sizeof(rfc6886), &sent, PCP_ERR_NATPMP);
	expect_err(miniupnpd, sizeof(miniupnpd), &sent, PCP_ERR_NATPMP);
	expect_err(miniupnpd, sizeof(miniupnpd), &a, PCP_ERR_NATPMP);
	memcpy(buf, miniupnpd, sizeof(miniupnpd));
	expect_err(buf, 12, &sent, PCP_ERR_NATPMP);
	/* Fewer than 8 bytes is no answer at all. */
	expect_err(miniupnpd, 7, &sent, PCP_ERR_SHORT);
}

static void test_err_opcode(void **state)
{
	(void)state;
	struct pcp_request sent = map_req(ts_nonce, 1234);
	struct pcp_request a = announce_req();

	expect_err(ts_map_response, sizeof(ts_map_response), &a, PCP_ERR_OPCODE);
	expect_err(announce_answer, sizeof(announce_answer), &sent, PCP_ERR_OPCODE);
}

/* Every code of section 7.4 and undefined ones, with the error's lifetime
 * and epoch carried out. */
static void test_err_result_code(void **state)
{
	(void)state;
	struct pcp_request sent = map_req(ts_nonce, 1234);
	struct pcp_request a = announce_req();
	uint8_t buf[60];

	for (unsigned code = 1; code <= 255; code++) {
		map_answer(buf, (uint8_t)code, 30, 500, ts_nonce, 17, 1234, 0, lab_v4);
		expect_result(buf, sizeof(buf), &sent, (uint8_t)code, 30);
		memcpy(buf, announce_answer, 24);
		buf[3] = (uint8_t)code;
		expect_result(buf, 24, &a, (uint8_t)code, 0);
	}
}

/* An error may be the bare header, when the server could not parse the
 * request; a success may not. */
static void test_err_result_header_only(void **state)
{
	(void)state;
	struct pcp_request sent = map_req(ts_nonce, 1234);
	uint8_t buf[60];

	map_answer(buf, PCP_RESULT_MALFORMED_REQUEST, 600, 3, ts_nonce, 17, 1234, 0, lab_v4);
	expect_result(buf, 24, &sent, PCP_RESULT_MALFORMED_REQUEST, 600);
	expect_err(buf, 28, &sent, PCP_ERR_SHORT); /* neither header nor MAP */
	expect_err(ts_map_response, 24, &sent, PCP_ERR_SHORT);
}

static void test_err_nonce_mismatch(void **state)
{
	(void)state;
	struct pcp_request sent = map_req(ts_nonce, 1234);
	uint8_t buf[60];

	for (size_t i = 0; i < 12; i++) {
		memcpy(buf, ts_map_response, sizeof(buf));
		buf[24 + i] ^= 0x01;
		expect_err(buf, sizeof(buf), &sent, PCP_ERR_NONCE);
	}
	/* An error for someone else's request is not ours. */
	map_answer(buf, PCP_RESULT_NO_RESOURCES, 30, 1, seed_nonce, 17, 1234, 0, lab_v4);
	expect_err(buf, sizeof(buf), &sent, PCP_ERR_NONCE);
}

static void test_err_internal_port(void **state)
{
	(void)state;
	struct pcp_request sent = map_req(ts_nonce, 1235);

	expect_err(ts_map_response, sizeof(ts_map_response), &sent, PCP_ERR_INTERNAL_PORT);
}

static void test_err_delete_answered_with_lifetime(void **state)
{
	(void)state;
	struct pcp_request sent = map_req(ts_nonce, 1234);

	sent.lifetime_s = 0;
	expect_err(ts_map_response, sizeof(ts_map_response), &sent, PCP_ERR_NOT_DELETED);
}

/* Tailscale's MAP answer (ts_map_response, to map_req(ts_nonce, 1234))
 * with the bytes at off replaced: one row per field that must be refused. */
static const struct {
	const char *name;
	size_t off;
	uint8_t patch[4];
	size_t patch_len;
	int want;
} patched_rows[] = {
	{"version 1 (pre-RFC drafts)", 0, {1}, 1, PCP_ERR_VERSION},
	{"version 3", 0, {3}, 1, PCP_ERR_VERSION},
	/* Version 0 but not Unsupported Version: not PCP either. */
	{"version 0", 0, {0}, 1, PCP_ERR_VERSION},
	{"R bit clear (our own request reflected back)", 1, {PCP_OP_MAP}, 1, PCP_ERR_NOT_RESPONSE},
	{"opcode PEER", 1, {0x82}, 1, PCP_ERR_OPCODE},
	{"protocol TCP", 36, {6}, 1, PCP_ERR_PROTOCOL},
	{"protocol 0 (all protocols)", 36, {0}, 1, PCP_ERR_PROTOCOL},
	{"lifetime 0 on a create", 4, {0, 0, 0, 0}, 4, PCP_ERR_LIFETIME},
	{"external port 0", 42, {0, 0}, 2, PCP_ERR_EXTERNAL_PORT},
};

static void test_err_patched_fields(void **state)
{
	(void)state;
	struct pcp_request sent = map_req(ts_nonce, 1234);
	uint8_t buf[60];

	for (size_t i = 0; i < ARRAY_LEN(patched_rows); i++) {
		memcpy(buf, ts_map_response, sizeof(buf));
		memcpy(buf + patched_rows[i].off, patched_rows[i].patch, patched_rows[i].patch_len);
		expect_err_at(patched_rows[i].name, buf, sizeof(buf), &sent, patched_rows[i].want);
	}
}

/* Assigned external addresses (16 bytes, IPv4 as v4-mapped) that must be
 * refused; Tailscale's own 127.0.0.1 is test_err_external_v4_loopback. */
static const struct {
	const char *name;
	uint8_t ext[16];
} bad_external_rows[] = {
	{"0.0.0.0", {[10] = 0xff, [11] = 0xff}},
	{"224.0.0.1", {[10] = 0xff, [11] = 0xff, 0xe0, 0, 0, 1}},
	{"255.255.255.255", {[10] = 0xff, [11] = 0xff, 0xff, 0xff, 0xff, 0xff}},
	{"::", {0}},
	{"::1", {[15] = 1}},
	{"ff02::1", {0xff, 0x02, [15] = 1}},
};

static void test_err_external_addr(void **state)
{
	(void)state;
	struct pcp_request sent = map_req(ts_nonce, 1234);
	uint8_t buf[60];

	for (size_t i = 0; i < ARRAY_LEN(bad_external_rows); i++) {
		map_answer(buf, 0, 7200, 1, ts_nonce, 17, 1234, 1234, bad_external_rows[i].ext);
		expect_err_at(bad_external_rows[i].name, buf, sizeof(buf), &sent,
			      PCP_ERR_EXTERNAL_ADDR);
	}
}

/* Tailscale's own test server (buildPCPMapResponse) assigns 127.0.0.1. */
static void test_err_external_v4_loopback(void **state)
{
	(void)state;
	struct pcp_request sent = map_req(ts_nonce, 41641);
	uint8_t req[60], ans[60] = {0};

	assert_int_equal(pcp_request_encode(&sent, req, sizeof(req)), 60);
	ans[0] = 2;
	ans[1] = req[1] | 0x80;
	be_put32(ans + 4, 1u << 30);
	memcpy(ans + 24, req + 24, 13);
	memcpy(ans + 40, req + 40, 2);
	ans[42] = 0x10;
	ans[43] = 0x92;
	memcpy(ans + 44, "\0\0\0\0\0\0\0\0\0\0\xff\xff\x7f\0\0\x01", 16);
	expect_err(ans, sizeof(ans), &sent, PCP_ERR_EXTERNAL_ADDR);
}

/* An option whose header or padded data runs past the packet. */
static void test_err_option_overrun(void **state)
{
	(void)state;
	struct pcp_request sent = map_req(ts_nonce, 1234);
	struct pcp_request a = announce_req();
	uint8_t buf[72] = {0};

	memcpy(buf, ts_map_response, sizeof(ts_map_response));
	memcpy(buf + 60, "\x80\x00\x00\x08", 4); /* 8 bytes, 4 there */
	expect_err(buf, 68, &sent, PCP_ERR_OPTION);
	memcpy(buf + 60, "\x80\x00\xff\xff", 4);
	expect_err(buf, 72, &sent, PCP_ERR_OPTION);
	memcpy(buf + 60, "\x80\x00\x00\x01", 4); /* 1 byte, padded to 4: none there */
	expect_err(buf, 64, &sent, PCP_ERR_OPTION);
	/* A good option, then a bad one. */
	memcpy(buf + 60, "\x80\x00\x00\x00\x80\x00\x00\x05", 8);
	expect_err(buf, 72, &sent, PCP_ERR_OPTION);
	/* Options are walked before the result is reported. */
	memcpy(buf, announce_answer, 24);
	buf[3] = PCP_RESULT_NOT_AUTHORIZED;
	memcpy(buf + 24, "\x80\x00\x00\x09", 4);
	expect_err(buf, 36, &a, PCP_ERR_OPTION);
}

static void test_err_bad_request(void **state)
{
	(void)state;
	struct pcp_request sent = map_req(ts_nonce, 1234);

	expect_err(ts_map_response, sizeof(ts_map_response), NULL, PCP_ERR_BAD_REQUEST);
	sent.opcode = 2;
	expect_err(ts_map_response, sizeof(ts_map_response), &sent, PCP_ERR_BAD_REQUEST);
	sent = map_req(ts_nonce, 1234);
	sent.client.family = 0;
	expect_err(ts_map_response, sizeof(ts_map_response), &sent, PCP_ERR_BAD_REQUEST);
	sent = map_req(ts_nonce, 1234);
	assert_int_equal(pcp_response_parse(ts_map_response, sizeof(ts_map_response), &sent, NULL),
			 PCP_ERR_BAD_REQUEST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tailscale_map_response),
		cmocka_unit_test(test_tailscale_seed_ipv6),
		cmocka_unit_test(test_announce_request_bytes),
		cmocka_unit_test(test_map_request_bytes),
		cmocka_unit_test(test_map_request_renewal_bytes),
		cmocka_unit_test(test_map_request_delete_bytes),
		cmocka_unit_test(test_map_request_ipv6_client),
		cmocka_unit_test(test_request_refuses_what_we_never_send),
		cmocka_unit_test(test_announce_answer),
		cmocka_unit_test(test_map_answer_lab_address),
		cmocka_unit_test(test_map_answer_with_options),
		cmocka_unit_test(test_announce_answer_with_option),
		cmocka_unit_test(test_map_answer_max_length),
		cmocka_unit_test(test_delete_answer),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_result_names),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_err_truncated_every_length),
		cmocka_unit_test(test_err_announce_truncated),
		cmocka_unit_test(test_err_not_multiple_of_4),
		cmocka_unit_test(test_err_too_long),
		cmocka_unit_test(test_err_natpmp_only),
		cmocka_unit_test(test_err_opcode),
		cmocka_unit_test(test_err_result_code),
		cmocka_unit_test(test_err_result_header_only),
		cmocka_unit_test(test_err_nonce_mismatch),
		cmocka_unit_test(test_err_internal_port),
		cmocka_unit_test(test_err_delete_answered_with_lifetime),
		cmocka_unit_test(test_err_patched_fields),
		cmocka_unit_test(test_err_external_addr),
		cmocka_unit_test(test_err_external_v4_loopback),
		cmocka_unit_test(test_err_option_overrun),
		cmocka_unit_test(test_err_bad_request),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

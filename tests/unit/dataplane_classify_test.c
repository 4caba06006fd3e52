/* dataplane_classify_test: dp_classify against every case of Tailscale's
 * Test_packetLooksLike (wgengine/magicsock/magicsock_test.go), built the
 * same way (Geneve headers as net/packet/geneve.go encodes them), plus our
 * disco junk rule (shorter than magic + key + nonce) and edge cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "disco/disco.h"
#include "dp.h"
#include "stun/stun.h"

enum {
	BUF_BYTES = 256,
	/* Tailscale's naked disco: magic + key, no nonce, no box. */
	NAKED_DISCO_BYTES = DISCO_HEADER_LEN,
	/* Tailscale sizes its naked WireGuard packets as the Geneve disco. */
	WG_TEST_BYTES = DP_GENEVE_HEADER_LEN + NAKED_DISCO_BYTES,
	/* device.MessageInitiationType etc. (wireguard-go), little-endian. */
	WG_INITIATION = 1,
	WG_RESPONSE = 2,
	WG_COOKIE_REPLY = 3,
	WG_TRANSPORT = 4,
};

/* disco magic, then the key {1: 1, 30: 30, 31: 31} of the Go test, then
 * zeros up to len (len >= NAKED_DISCO_BYTES). */
static size_t put_disco(uint8_t *b, size_t len)
{
	memset(b, 0, len);
	memcpy(b, disco_magic, sizeof(disco_magic));
	b[DISCO_MAGIC_LEN + 1] = 1;
	b[DISCO_MAGIC_LEN + 30] = 30;
	b[DISCO_MAGIC_LEN + 31] = 31;
	return len;
}

/* packet.GeneveHeader.Encode: byte0 = version << 6, byte1 0x80 when
 * Control, protocol big-endian, VNI in bytes 4..6, byte 7 zero. */
static void put_geneve(uint8_t *b, uint8_t version, bool control, uint16_t proto, uint32_t vni)
{
	b[0] = (uint8_t)(version << 6);
	b[1] = control ? 0x80 : 0;
	b[2] = (uint8_t)(proto >> 8);
	b[3] = (uint8_t)proto;
	b[4] = (uint8_t)(vni >> 16);
	b[5] = (uint8_t)(vni >> 8);
	b[6] = (uint8_t)vni;
	b[7] = 0;
}

/* A Geneve (version 0, Control, VNI 1) disco packet of inner_len bytes. */
static size_t put_geneve_disco(uint8_t *b, size_t inner_len)
{
	put_geneve(b, 0, true, DP_GENEVE_PROTO_DISCO, 1);
	return DP_GENEVE_HEADER_LEN + put_disco(b + DP_GENEVE_HEADER_LEN, inner_len);
}

static size_t put_wireguard(uint8_t *b, uint32_t type, size_t len)
{
	memset(b, 0, len);
	b[0] = (uint8_t)type;
	b[1] = (uint8_t)(type >> 8);
	b[2] = (uint8_t)(type >> 16);
	b[3] = (uint8_t)(type >> 24);
	return len;
}

/* Classifies p and checks the class, the Geneve flag, and that the result
 * points at the payload: past the 8-byte header when geneve, else at p. */
static void check(const uint8_t *p, size_t len, enum dp_class want, bool want_geneve)
{
	struct dp_classified c;

	memset(&c, 0xa5, sizeof(c));
	dp_classify(p, len, &c);
	assert_int_equal(c.cls, want);
	assert_int_equal(c.geneve, want_geneve);
	if (want_geneve) {
		assert_ptr_equal(c.p, p + DP_GENEVE_HEADER_LEN);
		assert_int_equal(c.len, len - DP_GENEVE_HEADER_LEN);
	} else {
		assert_ptr_equal(c.p, p);
		assert_int_equal(c.len, len);
	}
}

/* ---- Test_packetLooksLike, case by case ---- */

static void test_stun_binding_success_response(void **state)
{
	static const uint8_t txid[STUN_TXID_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	uint8_t b[STUN_RESPONSE_MAX_BYTES];
	struct ipport a;
	size_t n;

	(void)state;
	assert_int_equal(ipport_parse("127.0.0.1:1", &a), 0);
	n = stun_binding_response(txid, &a, b, sizeof(b));
	assert_int_equal(n, STUN_RESPONSE_V4_BYTES);
	check(b, n, DP_CLASS_STUN, false);
	assert_int_equal(ipport_parse("[::1]:1", &a), 0);
	n = stun_binding_response(txid, &a, b, sizeof(b));
	assert_int_equal(n, STUN_RESPONSE_V6_BYTES);
	check(b, n, DP_CLASS_STUN, false);
}

/* Tailscale calls magic + key disco; without room for a nonce we call it
 * junk (handleDiscoMessage drops it), still not WireGuard. */
static void test_naked_disco(void **state)
{
	uint8_t b[BUF_BYTES];

	(void)state;
	check(b, put_disco(b, NAKED_DISCO_BYTES), DP_CLASS_DISCO_JUNK, false);
	check(b, put_disco(b, DISCO_SEALED_HEADER_LEN), DP_CLASS_DISCO, false);
	check(b, put_disco(b, 200), DP_CLASS_DISCO, false);
}

static void test_geneve_encap_disco(void **state)
{
	uint8_t b[BUF_BYTES];

	(void)state;
	check(b, put_geneve_disco(b, NAKED_DISCO_BYTES), DP_CLASS_DISCO_JUNK, true);
	check(b, put_geneve_disco(b, DISCO_SEALED_HEADER_LEN), DP_CLASS_DISCO, true);
	check(b, put_geneve_disco(b, 200), DP_CLASS_DISCO, true);
	/* The Control bit is not looked at. */
	b[1] = 0;
	check(b, DP_GENEVE_HEADER_LEN + 200, DP_CLASS_DISCO, true);
}

/* geneveEncapDisco[:len-32]: the header says disco, 6 bytes follow. */
static void test_geneve_encap_too_short_disco(void **state)
{
	uint8_t b[BUF_BYTES];
	size_t n = put_geneve_disco(b, NAKED_DISCO_BYTES) - 32;

	(void)state;
	check(b, n, DP_CLASS_WIREGUARD, false);
	/* One byte short of a disco header behind Geneve. */
	n = put_geneve_disco(b, NAKED_DISCO_BYTES);
	check(b, n - 1, DP_CLASS_WIREGUARD, false);
}

static void test_geneve_encap_disco_nonzero_version(void **state)
{
	uint8_t b[BUF_BYTES];

	(void)state;
	for (uint8_t v = 1; v <= 3; v++) {
		size_t n = put_geneve_disco(b, NAKED_DISCO_BYTES);
		put_geneve(b, v, true, DP_GENEVE_PROTO_DISCO, 1);
		check(b, n, DP_CLASS_WIREGUARD, false);
		n = put_geneve_disco(b, 100);
		put_geneve(b, v, true, DP_GENEVE_PROTO_DISCO, 1);
		check(b, n, DP_CLASS_WIREGUARD, false);
	}
}

static void test_geneve_encap_disco_nonzero_reserved_bits(void **state)
{
	uint8_t b[BUF_BYTES];
	size_t n = put_geneve_disco(b, NAKED_DISCO_BYTES);

	(void)state;
	b[1] |= 0x3f;
	check(b, n, DP_CLASS_WIREGUARD, false);
	/* Each reserved bit on its own. */
	for (int bit = 0; bit < 6; bit++) {
		n = put_geneve_disco(b, 100);
		b[1] |= (uint8_t)(1u << bit);
		check(b, n, DP_CLASS_WIREGUARD, false);
	}
	/* As in Tailscale, the critical bit (0x40 of byte 1) and the option
	 * length (low 6 bits of byte 0) are not looked at. */
	n = put_geneve_disco(b, 100);
	b[1] |= 0x40;
	check(b, n, DP_CLASS_DISCO, true);
	n = put_geneve_disco(b, 100);
	b[0] |= 0x3f;
	check(b, n, DP_CLASS_DISCO, true);
}

static void test_geneve_encap_disco_nonzero_vni_lsb(void **state)
{
	uint8_t b[BUF_BYTES];
	size_t n = put_geneve_disco(b, NAKED_DISCO_BYTES);

	(void)state;
	b[7] |= 0xff;
	check(b, n, DP_CLASS_WIREGUARD, false);
	n = put_geneve_disco(b, 100);
	b[7] = 0x01;
	check(b, n, DP_CLASS_WIREGUARD, false);
	/* Any VNI in bytes 4..6 is fine. */
	n = put_geneve_disco(b, 100);
	b[4] = b[5] = b[6] = 0xff;
	check(b, n, DP_CLASS_DISCO, true);
}

static void test_geneve_encap_wireguard(void **state)
{
	uint8_t b[BUF_BYTES];
	size_t n;

	(void)state;
	put_geneve(b, 0, true, DP_GENEVE_PROTO_WIREGUARD, 1);
	n = DP_GENEVE_HEADER_LEN +
	    put_wireguard(b + DP_GENEVE_HEADER_LEN, WG_INITIATION, WG_TEST_BYTES);
	check(b, n, DP_CLASS_WIREGUARD, true);
	/* Whatever follows, even disco or nothing at all. */
	put_disco(b + DP_GENEVE_HEADER_LEN, 100);
	check(b, DP_GENEVE_HEADER_LEN + 100, DP_CLASS_WIREGUARD, true);
	check(b, DP_GENEVE_HEADER_LEN, DP_CLASS_WIREGUARD, true);
}

static void test_naked_wireguard_types(void **state)
{
	static const uint32_t types[] = {WG_INITIATION, WG_RESPONSE, WG_COOKIE_REPLY, WG_TRANSPORT};
	uint8_t b[BUF_BYTES];

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		check(b, put_wireguard(b, types[i], WG_TEST_BYTES), DP_CLASS_WIREGUARD, false);
		/* The real sizes: initiation 148, response 92, cookie 64,
		 * transport at least 32. */
		check(b, put_wireguard(b, types[i], 148), DP_CLASS_WIREGUARD, false);
		check(b, put_wireguard(b, types[i], 32), DP_CLASS_WIREGUARD, false);
	}
}

/* ---- edge cases ---- */

static void test_empty(void **state)
{
	static const uint8_t b[1] = {0};

	(void)state;
	check(b, 0, DP_CLASS_WIREGUARD, false);
	check(NULL, 0, DP_CLASS_WIREGUARD, false);
}

/* 1..7 bytes: too short for any header, whatever they start with. */
static void test_shorter_than_geneve(void **state)
{
	uint8_t g[BUF_BYTES], d[BUF_BYTES], s[BUF_BYTES];

	(void)state;
	put_geneve_disco(g, 100);
	put_disco(d, 100);
	memset(s, 0, sizeof(s));
	s[1] = 0x01;
	s[4] = 0x21, s[5] = 0x12, s[6] = 0xa4, s[7] = 0x42;
	for (size_t n = 1; n < DP_GENEVE_HEADER_LEN; n++) {
		check(g, n, DP_CLASS_WIREGUARD, false);
		check(d, n, DP_CLASS_WIREGUARD, false);
		check(s, n, DP_CLASS_WIREGUARD, false);
	}
}

/* STUN's rule is Tailscale's: stun.Is (20 bytes, top bits 0, cookie) and
 * the low byte of the type 0x01, which is a Binding request or success
 * response; indications, error responses and other methods are not. */
static void test_stun_not_binding(void **state)
{
	uint8_t b[BUF_BYTES];
	static const struct {
		uint16_t type;
		enum dp_class want;
	} cases[] = {
		{STUN_BINDING_REQUEST, DP_CLASS_STUN},
		{STUN_BINDING_SUCCESS_RESPONSE, DP_CLASS_STUN},
		{STUN_BINDING_INDICATION, DP_CLASS_WIREGUARD},
		{STUN_BINDING_ERROR_RESPONSE, DP_CLASS_WIREGUARD},
		{0x0003, DP_CLASS_WIREGUARD}, /* TURN Allocate */
		{0x0103, DP_CLASS_WIREGUARD}, /* Allocate success */
		{0x0002, DP_CLASS_WIREGUARD}, /* old Shared Secret */
		{0x0000, DP_CLASS_WIREGUARD},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(b, 0, sizeof(b));
		b[0] = (uint8_t)(cases[i].type >> 8);
		b[1] = (uint8_t)cases[i].type;
		b[4] = 0x21, b[5] = 0x12, b[6] = 0xa4, b[7] = 0x42;
		check(b, STUN_HEADER_BYTES, cases[i].want, false);
		check(b, STUN_HEADER_BYTES + 12, cases[i].want, false);
		/* 19 bytes are never STUN. */
		check(b, STUN_HEADER_BYTES - 1, DP_CLASS_WIREGUARD, false);
	}
	/* Top two bits set, or a wrong cookie: not STUN. */
	memset(b, 0, sizeof(b));
	b[1] = 0x01;
	b[4] = 0x21, b[5] = 0x12, b[6] = 0xa4, b[7] = 0x42;
	b[0] = 0x40;
	check(b, STUN_HEADER_BYTES, DP_CLASS_WIREGUARD, false);
	b[0] = 0x80;
	check(b, STUN_HEADER_BYTES, DP_CLASS_WIREGUARD, false);
	b[0] = 0;
	b[7] = 0x43;
	check(b, STUN_HEADER_BYTES, DP_CLASS_WIREGUARD, false);
}

/* A well-formed Geneve header with a protocol we do not know falls through
 * to the naked checks, which look at offset 0: a disco packet behind it is
 * not disco (nor can a naked disco packet parse as a version-0 header:
 * 0x54 has version 1). Tailscale's packetLooksLike does the same. */
static void test_geneve_unknown_protocol(void **state)
{
	static const uint16_t protos[] = {0x0000, 0x6558, 0x7a10, 0x7a13, 0xffff};
	uint8_t b[BUF_BYTES];

	(void)state;
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		put_geneve(b, 0, true, protos[i], 1);
		put_disco(b + DP_GENEVE_HEADER_LEN, 100);
		check(b, DP_GENEVE_HEADER_LEN + 100, DP_CLASS_WIREGUARD, false);
	}
	assert_int_not_equal(disco_magic[0] & 0xc0, 0);
}

/* The junk boundary: magic + key + nonce = 62 bytes, naked and behind
 * Geneve; under 38 there is no disco header at all. */
static void test_disco_length_boundaries(void **state)
{
	uint8_t b[BUF_BYTES];

	(void)state;
	assert_int_equal(DISCO_SEALED_HEADER_LEN, 62);
	check(b, put_disco(b, DISCO_SEALED_HEADER_LEN - 1), DP_CLASS_DISCO_JUNK, false);
	check(b, put_disco(b, DISCO_SEALED_HEADER_LEN), DP_CLASS_DISCO, false);
	check(b, put_disco(b, DISCO_SEALED_HEADER_LEN + 1), DP_CLASS_DISCO, false);
	put_disco(b, 100);
	check(b, DISCO_HEADER_LEN, DP_CLASS_DISCO_JUNK, false);
	check(b, DISCO_HEADER_LEN - 1, DP_CLASS_WIREGUARD, false);
	check(b, DISCO_MAGIC_LEN, DP_CLASS_WIREGUARD, false);
	check(b, put_geneve_disco(b, DISCO_SEALED_HEADER_LEN - 1), DP_CLASS_DISCO_JUNK, true);
	check(b, put_geneve_disco(b, DISCO_SEALED_HEADER_LEN), DP_CLASS_DISCO, true);
	/* Every byte of the magic counts. */
	for (size_t i = 0; i < DISCO_MAGIC_LEN; i++) {
		put_disco(b, 100);
		b[i] ^= 0x01;
		check(b, 100, DP_CLASS_WIREGUARD, false);
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(dp_class_name(DP_CLASS_WIREGUARD), "wireguard");
	assert_string_equal(dp_class_name(DP_CLASS_STUN), "stun");
	assert_string_equal(dp_class_name(DP_CLASS_DISCO), "disco");
	assert_string_equal(dp_class_name(DP_CLASS_DISCO_JUNK), "disco-junk");
	assert_string_equal(dp_class_name((enum dp_class)0), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stun_binding_success_response),
		cmocka_unit_test(test_naked_disco),
		cmocka_unit_test(test_geneve_encap_disco),
		cmocka_unit_test(test_geneve_encap_too_short_disco),
		cmocka_unit_test(test_geneve_encap_disco_nonzero_version),
		cmocka_unit_test(test_geneve_encap_disco_nonzero_reserved_bits),
		cmocka_unit_test(test_geneve_encap_disco_nonzero_vni_lsb),
		cmocka_unit_test(test_geneve_encap_wireguard),
		cmocka_unit_test(test_naked_wireguard_types),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_shorter_than_geneve),
		cmocka_unit_test(test_stun_not_binding),
		cmocka_unit_test(test_geneve_unknown_protocol),
		cmocka_unit_test(test_disco_length_boundaries),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

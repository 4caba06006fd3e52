/* disco_test: the disco codec. Message vectors are every case of
 * Tailscale's disco/disco_test.go TestMarshalAndParse (marshal to the exact
 * bytes, parse back to the same message); seal and open run with fixed keys
 * and nonces and are checked against libsodium directly; then one test per
 * malformed case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disco/disco.h"
#include "disco_equal.h"

enum { TEST_BUF_BYTES = 256 };

/* "01 00 0a ..." (the form of Go's "% x") into bytes; returns the count. */
static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (*s) {
		unsigned v;
		if (*s == ' ') {
			s++;
			continue;
		}
		assert_true(n < cap);
		assert_int_equal(sscanf(s, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

/* Go's key.DiscoPublicFromRaw32(mem.B([]byte{1: 1, 2: 2, ...})): byte i
 * holds i for every index listed (ended by -1), zero elsewhere. */
static struct key32 key_idx(int first, ...)
{
	struct key32 k = {0};
	va_list ap;

	va_start(ap, first);
	for (int i = first; i >= 0; i = va_arg(ap, int))
		k.b[i] = (uint8_t)i;
	va_end(ap);
	return k;
}

static struct ipport ipp(const char *s)
{
	struct ipport a;

	assert_int_equal(ipport_parse(s, &a), 0);
	return a;
}

/* TestMarshalAndParse's check: m marshals to want, which parses back to m
 * and re-encodes to the same bytes. */
static void check_vector(const struct disco_msg *m, const char *want_hex)
{
	uint8_t want[TEST_BUF_BYTES], got[TEST_BUF_BYTES];
	size_t n = unhex(want_hex, want, sizeof(want));
	struct disco_msg back;

	assert_int_equal(disco_msg_encoded_len(m), n);
	assert_int_equal(disco_msg_encode(m, got, sizeof(got)), n);
	assert_memory_equal(got, want, n);
	assert_int_equal(disco_msg_parse(want, n, &back), 0);
	assert_true(th_disco_msg_equal(&back, m));
	assert_int_equal(disco_msg_encode(&back, got, sizeof(got)), n);
	assert_memory_equal(got, want, n);
	/* One byte short of the buffer it needs: nothing is written. */
	assert_int_equal(disco_msg_encode(m, got, n - 1), 0);
}

static const uint8_t txid_1_12[DISCO_TXID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

/* The test's udpRelayEndpoint: addresses 1.2.3.4:567 and [2001::3456]:789. */
static uint8_t relay_wire[2 * DISCO_EP_LEN];

static struct disco_relay_endpoint vector_relay_ep(void)
{
	struct ipport addrs[2] = {ipp("1.2.3.4:567"), ipp("[2001::3456]:789")};
	struct disco_relay_endpoint e = {
		.server_disco = key_idx(1, 2, 30, 31, -1),
		.client_disco = {key_idx(1, 2, 3, 30, 31, -1), key_idx(1, 2, 4, 30, 31, -1)},
		.lamport_id = 123,
		.vni = 456,
		.bind_lifetime_ns = 1000000000ull,	    /* time.Second */
		.steady_state_lifetime_ns = 60000000000ull, /* time.Minute */
	};
	assert_int_equal(disco_endpoints_put(addrs, 2, relay_wire, sizeof(relay_wire), &e.addrs),
			 sizeof(relay_wire));
	return e;
}

/* The test's relayHandshakeCommon. */
static struct disco_bind vector_bind(void)
{
	struct disco_bind b = {.vni = 1, .generation = 2, .remote_key = key_idx(1, 2, 30, 31, -1)};

	for (int i = 0; i < DISCO_CHALLENGE_LEN; i++)
		b.challenge[i] = (uint8_t)i;
	return b;
}

static void test_constants(void **state)
{
	(void)state;
	assert_memory_equal(disco_magic, "TS\xf0\x9f\x92\xac", DISCO_MAGIC_LEN);
	assert_int_equal(DISCO_HEADER_LEN, 38);
	assert_int_equal(DISCO_SEALED_HEADER_LEN, 62);
	assert_int_equal(DISCO_MIN_PACKET_LEN, 78);
	assert_int_equal(DISCO_MAX_PACKET_LEN, 65536);
	assert_int_equal(DISCO_MAX_PLAINTEXT_LEN, 65458);
	assert_int_equal(DISCO_PING_LEN, 44);
	assert_int_equal(DISCO_PONG_LEN, 30);
	assert_int_equal(DISCO_BIND_LEN, 72);
	assert_int_equal(DISCO_ALLOC_REQ_LEN, 68);
	assert_int_equal(DISCO_RELAY_EP_FIXED_LEN, 124);
	assert_int_equal(DISCO_MAX_ENDPOINTS, 3636);
	assert_int_equal(DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE, 0x09);
}

/* ---- TestMarshalAndParse, case by case ---- */

static void test_go_ping(void **state)
{
	(void)state;
	struct disco_msg m = {.type = DISCO_TYPE_PING};
	memcpy(m.u.ping.txid, txid_1_12, DISCO_TXID_LEN);
	check_vector(&m, "01 00 01 02 03 04 05 06 07 08 09 0a 0b 0c");
}

static void test_go_ping_with_nodekey_src(void **state)
{
	(void)state;
	struct disco_msg m = {.type = DISCO_TYPE_PING};
	memcpy(m.u.ping.txid, txid_1_12, DISCO_TXID_LEN);
	m.u.ping.has_node_key = true;
	m.u.ping.node_key = key_idx(1, 2, 30, 31, -1);
	check_vector(&m, "01 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 00 01 02 00 00 00 00 00 00 00 "
			 "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 1e 1f");
}

static void test_go_ping_with_padding(void **state)
{
	(void)state;
	struct disco_msg m = {.type = DISCO_TYPE_PING};
	memcpy(m.u.ping.txid, txid_1_12, DISCO_TXID_LEN);
	m.u.ping.padding = 3;
	check_vector(&m, "01 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 00 00 00");
}

static void test_go_ping_with_padding_and_nodekey_src(void **state)
{
	(void)state;
	struct disco_msg m = {.type = DISCO_TYPE_PING};
	memcpy(m.u.ping.txid, txid_1_12, DISCO_TXID_LEN);
	m.u.ping.has_node_key = true;
	m.u.ping.node_key = key_idx(1, 2, 30, 31, -1);
	m.u.ping.padding = 3;
	check_vector(&m, "01 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 00 01 02 00 00 00 00 00 00 00 "
			 "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 1e 1f 00 00 "
			 "00");
}

static void test_go_pong(void **state)
{
	(void)state;
	struct disco_msg m = {.type = DISCO_TYPE_PONG};
	memcpy(m.u.pong.txid, txid_1_12, DISCO_TXID_LEN);
	m.u.pong.src = ipp("2.3.4.5:1234");
	check_vector(&m, "02 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 00 00 00 00 00 00 00 00 00 00 "
			 "ff ff 02 03 04 05 04 d2");
}

static void test_go_pongv6(void **state)
{
	(void)state;
	struct disco_msg m = {.type = DISCO_TYPE_PONG};
	memcpy(m.u.pong.txid, txid_1_12, DISCO_TXID_LEN);
	m.u.pong.src = ipp("[fed0::12]:6666");
	check_vector(&m, "02 00 01 02 03 04 05 06 07 08 09 0a 0b 0c fe d0 00 00 00 00 00 00 00 00 "
			 "00 00 00 00 00 12 1a 0a");
}

static void test_go_call_me_maybe(void **state)
{
	(void)state;
	struct disco_msg m = {.type = DISCO_TYPE_CALL_ME_MAYBE};
	check_vector(&m, "03 00");
}

static void test_go_call_me_maybe_endpoints(void **state)
{
	(void)state;
	struct ipport addrs[2] = {ipp("1.2.3.4:567"), ipp("[2001::3456]:789")};
	uint8_t wire[2 * DISCO_EP_LEN];
	struct disco_msg m = {.type = DISCO_TYPE_CALL_ME_MAYBE};
	struct ipport got;

	assert_int_equal(
		disco_endpoints_put(addrs, 2, wire, sizeof(wire), &m.u.call_me_maybe.my_number),
		sizeof(wire));
	check_vector(&m, "03 00 00 00 00 00 00 00 00 00 00 00 ff ff 01 02 03 04 02 37 20 01 00 00 "
			 "00 00 00 00 00 00 00 00 00 00 34 56 03 15");
	/* And the endpoints read back as the addresses (IPv4 unmapped). */
	for (size_t i = 0; i < 2; i++) {
		assert_true(disco_endpoints_get(&m.u.call_me_maybe.my_number, i, &got));
		assert_true(ipport_equal(&got, &addrs[i]));
	}
	assert_false(disco_endpoints_get(&m.u.call_me_maybe.my_number, 2, &got));
}

#define BIND_HEX_BODY                                                                          \
	"00 00 00 01 00 00 00 02 00 01 02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 " \
	"00 00 00 00 00 00 00 00 00 00 1e 1f 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f " \
	"10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f"

static void test_go_bind_udp_relay_endpoint(void **state)
{
	(void)state;
	struct disco_msg m = {.type = DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT, .u.bind = vector_bind()};
	check_vector(&m, "04 00 " BIND_HEX_BODY);
}

static void test_go_bind_udp_relay_endpoint_challenge(void **state)
{
	(void)state;
	struct disco_msg m = {.type = DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT_CHALLENGE,
			      .u.bind = vector_bind()};
	check_vector(&m, "05 00 " BIND_HEX_BODY);
}

static void test_go_bind_udp_relay_endpoint_answer(void **state)
{
	(void)state;
	struct disco_msg m = {.type = DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT_ANSWER,
			      .u.bind = vector_bind()};
	check_vector(&m, "06 00 " BIND_HEX_BODY);
}

#define RELAY_EP_HEX                                                                              \
	"00 01 02 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 " \
	"00 1e 1f 00 01 02 03 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 " \
	"00 00 00 00 1e 1f 00 01 02 00 04 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 " \
	"00 00 00 00 00 00 00 1e 1f 00 00 00 00 00 00 00 7b 00 00 01 c8 00 00 00 00 3b 9a ca 00 " \
	"00 00 00 0d f8 47 58 00 00 00 00 00 00 00 00 00 00 00 ff ff 01 02 03 04 02 37 20 01 00 " \
	"00 00 00 00 00 00 00 00 00 00 00 34 56 03 15"

static void test_go_call_me_maybe_via(void **state)
{
	(void)state;
	struct disco_msg m = {.type = DISCO_TYPE_CALL_ME_MAYBE_VIA,
			      .u.call_me_maybe_via = vector_relay_ep()};
	check_vector(&m, "07 00 " RELAY_EP_HEX);
}

static void test_go_allocate_udp_relay_endpoint_request(void **state)
{
	(void)state;
	struct disco_msg m = {.type = DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_REQUEST};
	m.u.alloc_req.client_disco[0] = key_idx(1, 2, 3, 30, 31, -1);
	m.u.alloc_req.client_disco[1] = key_idx(1, 2, 4, 30, 31, -1);
	m.u.alloc_req.generation = 1;
	check_vector(&m, "08 00 00 01 02 03 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
			 "00 00 00 00 00 00 00 00 1e 1f 00 01 02 00 04 00 00 00 00 00 00 00 00 00 "
			 "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 1e 1f 00 00 00 01");
}

static void test_go_allocate_udp_relay_endpoint_response(void **state)
{
	(void)state;
	struct disco_msg m = {.type = DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE};
	m.u.alloc_resp.generation = 1;
	m.u.alloc_resp.ep = vector_relay_ep();
	check_vector(&m, "09 00 00 00 00 01 " RELAY_EP_HEX);
}

/* ---- Seal and open ---- */

struct keys {
	struct key32 a_priv, a_pub, b_priv, b_pub;
};

/* Fixed keys: a's private key is 1, 2, ..., 32; b's is 101, 102, .... */
static struct keys fixed_keys(void)
{
	struct keys k;

	for (int i = 0; i < KEY_LEN; i++) {
		k.a_priv.b[i] = (uint8_t)(1 + i);
		k.b_priv.b[i] = (uint8_t)(101 + i);
	}
	assert_int_equal(crypto_scalarmult_base(k.a_pub.b, k.a_priv.b), 0);
	assert_int_equal(crypto_scalarmult_base(k.b_pub.b, k.b_priv.b), 0);
	return k;
}

static void fixed_nonce(uint8_t nonce[DISCO_NONCE_LEN])
{
	for (int i = 0; i < DISCO_NONCE_LEN; i++)
		nonce[i] = (uint8_t)(0xa0 + i);
}

/* A ping plaintext to seal: Go's ping_with_nodekey_src. */
static size_t sample_plain(uint8_t *buf, size_t cap)
{
	return unhex("01 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 00 01 02 00 00 00 00 00 00 00 "
		     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 1e 1f",
		     buf, cap);
}

/* What a sealed packet must be: magic, sender key, nonce, then libsodium's
 * crypto_box_easy of the plaintext. */
static void assert_libsodium_packet(const uint8_t *pkt, size_t len, const struct keys *k,
				    const uint8_t *nonce, const uint8_t *plain, size_t plain_len)
{
	uint8_t box[TEST_BUF_BYTES];

	assert_int_equal(len, DISCO_MIN_PACKET_LEN + plain_len);
	assert_memory_equal(pkt, "TS\xf0\x9f\x92\xac", 6);
	assert_memory_equal(pkt + 6, k->a_pub.b, 32);
	assert_memory_equal(pkt + 38, nonce, 24);
	assert_int_equal(crypto_box_easy(box, plain, plain_len, nonce, k->b_pub.b, k->a_priv.b), 0);
	assert_memory_equal(pkt + 62, box, plain_len + crypto_box_MACBYTES);
}

static void test_seal_open_fixed(void **state)
{
	(void)state;
	struct keys k = fixed_keys();
	uint8_t nonce[DISCO_NONCE_LEN], plain[TEST_BUF_BYTES], pkt[TEST_BUF_BYTES];
	uint8_t out[TEST_BUF_BYTES];
	size_t plain_len = sample_plain(plain, sizeof(plain));
	struct disco_packet p;
	int n;

	fixed_nonce(nonce);
	n = disco_seal(&k.a_priv, &k.a_pub, &k.b_pub, nonce, plain, plain_len, pkt, sizeof(pkt));
	assert_int_equal(n, DISCO_MIN_PACKET_LEN + plain_len);
	assert_libsodium_packet(pkt, (size_t)n, &k, nonce, plain, plain_len);

	assert_true(disco_looks_like(pkt, (size_t)n));
	assert_int_equal(disco_packet_parse(pkt, (size_t)n, &p), 0);
	assert_true(key_equal(&p.sender, &k.a_pub));
	assert_ptr_equal(p.nonce, pkt + 38);
	assert_ptr_equal(p.box, pkt + 62);
	assert_int_equal(p.box_len, plain_len + 16);
	assert_int_equal(disco_open(&k.b_priv, &p, out, sizeof(out)), plain_len);
	assert_memory_equal(out, plain, plain_len);
}

static void test_seal_open_shared(void **state)
{
	(void)state;
	struct keys k = fixed_keys();
	uint8_t nonce[DISCO_NONCE_LEN], plain[TEST_BUF_BYTES], pkt[TEST_BUF_BYTES];
	uint8_t pkt2[TEST_BUF_BYTES], out[TEST_BUF_BYTES], want_k[crypto_box_BEFORENMBYTES];
	size_t plain_len = sample_plain(plain, sizeof(plain));
	struct disco_shared ab, ba;
	struct disco_packet p;
	int n;

	fixed_nonce(nonce);
	assert_int_equal(disco_shared_init(&k.a_priv, &k.b_pub, &ab), 0);
	assert_int_equal(disco_shared_init(&k.b_priv, &k.a_pub, &ba), 0);
	assert_int_equal(crypto_box_beforenm(want_k, k.b_pub.b, k.a_priv.b), 0);
	assert_memory_equal(ab.k, want_k, sizeof(want_k));
	assert_memory_equal(ab.k, ba.k, sizeof(ab.k)); /* one key per pair, both ways */

	n = disco_seal_shared(&ab, &k.a_pub, nonce, plain, plain_len, pkt, sizeof(pkt));
	assert_int_equal(n, DISCO_MIN_PACKET_LEN + plain_len);
	assert_libsodium_packet(pkt, (size_t)n, &k, nonce, plain, plain_len);
	/* The same bytes as sealing with the keys. */
	assert_int_equal(disco_seal(&k.a_priv, &k.a_pub, &k.b_pub, nonce, plain, plain_len, pkt2,
				    sizeof(pkt2)),
			 n);
	assert_memory_equal(pkt, pkt2, (size_t)n);

	assert_int_equal(disco_packet_parse(pkt, (size_t)n, &p), 0);
	assert_int_equal(disco_open_shared(&ba, &p, out, sizeof(out)), plain_len);
	assert_memory_equal(out, plain, plain_len);
	assert_int_equal(disco_open(&k.b_priv, &p, out, sizeof(out)), plain_len);

	disco_shared_wipe(&ab);
	assert_true(sodium_is_zero(ab.k, sizeof(ab.k)));
	disco_shared_wipe(NULL);
}

static void test_msg_seal(void **state)
{
	(void)state;
	struct keys k = fixed_keys();
	uint8_t nonce[DISCO_NONCE_LEN], plain[TEST_BUF_BYTES], pkt[TEST_BUF_BYTES];
	uint8_t out[TEST_BUF_BYTES];
	size_t plain_len = sample_plain(plain, sizeof(plain));
	struct disco_msg m, back;
	struct disco_shared ab, ba;
	struct disco_packet p;
	int n;

	fixed_nonce(nonce);
	assert_int_equal(disco_msg_parse(plain, plain_len, &m), 0);
	assert_int_equal(disco_shared_init(&k.a_priv, &k.b_pub, &ab), 0);
	assert_int_equal(disco_shared_init(&k.b_priv, &k.a_pub, &ba), 0);
	/* Encoded and sealed in place: the same packet as the two steps. */
	n = disco_msg_seal(&ab, &k.a_pub, nonce, &m, pkt, sizeof(pkt));
	assert_int_equal(n, DISCO_MIN_PACKET_LEN + plain_len);
	assert_libsodium_packet(pkt, (size_t)n, &k, nonce, plain, plain_len);

	assert_int_equal(disco_packet_parse(pkt, (size_t)n, &p), 0);
	assert_int_equal(disco_open_shared(&ba, &p, out, sizeof(out)), plain_len);
	assert_int_equal(disco_msg_parse(out, plain_len, &back), 0);
	assert_true(th_disco_msg_equal(&back, &m));

	/* One byte short; a message that cannot be sent. */
	assert_int_equal(disco_msg_seal(&ab, &k.a_pub, nonce, &m, pkt, (size_t)n - 1),
			 DISCO_ERR_BUF_TOO_SMALL);
	m.type = 0x42;
	assert_int_equal(disco_msg_seal(&ab, &k.a_pub, nonce, &m, pkt, sizeof(pkt)),
			 DISCO_ERR_INVALID_ARG);
}

static void test_seal_random_nonce(void **state)
{
	(void)state;
	struct keys k = fixed_keys();
	uint8_t plain[TEST_BUF_BYTES], pkt1[TEST_BUF_BYTES], pkt2[TEST_BUF_BYTES];
	uint8_t out[TEST_BUF_BYTES];
	size_t plain_len = sample_plain(plain, sizeof(plain));
	struct disco_packet p;
	int n1, n2;

	n1 = disco_seal(&k.a_priv, &k.a_pub, &k.b_pub, NULL, plain, plain_len, pkt1, sizeof(pkt1));
	n2 = disco_seal(&k.a_priv, &k.a_pub, &k.b_pub, NULL, plain, plain_len, pkt2, sizeof(pkt2));
	assert_int_equal(n1, n2);
	assert_memory_not_equal(pkt1 + 38, pkt2 + 38, DISCO_NONCE_LEN);
	assert_int_equal(disco_packet_parse(pkt2, (size_t)n2, &p), 0);
	assert_int_equal(disco_open(&k.b_priv, &p, out, sizeof(out)), plain_len);
	assert_memory_equal(out, plain, plain_len);
}

/* The largest packet: a ping padded to DISCO_MAX_PLAINTEXT_LEN. */
static void test_seal_open_max(void **state)
{
	(void)state;
	struct keys k = fixed_keys();
	struct disco_msg m = {.type = DISCO_TYPE_PING}, back;
	struct disco_shared ab, ba;
	struct disco_packet p;
	uint8_t *pkt = malloc(DISCO_MAX_PACKET_LEN + 1), *out = malloc(DISCO_MAX_PLAINTEXT_LEN);
	int n;

	assert_non_null(pkt);
	assert_non_null(out);
	m.u.ping.has_node_key = true;
	m.u.ping.node_key = k.a_pub;
	m.u.ping.padding = DISCO_MAX_PLAINTEXT_LEN - DISCO_MSG_HEADER_LEN - DISCO_PING_LEN;
	assert_int_equal(disco_shared_init(&k.a_priv, &k.b_pub, &ab), 0);
	assert_int_equal(disco_shared_init(&k.b_priv, &k.a_pub, &ba), 0);
	n = disco_msg_seal(&ab, &k.a_pub, NULL, &m, pkt, DISCO_MAX_PACKET_LEN + 1);
	assert_int_equal(n, DISCO_MAX_PACKET_LEN);
	assert_int_equal(disco_packet_parse(pkt, (size_t)n, &p), 0);
	assert_int_equal(disco_open_shared(&ba, &p, out, DISCO_MAX_PLAINTEXT_LEN),
			 DISCO_MAX_PLAINTEXT_LEN);
	assert_int_equal(disco_msg_parse(out, DISCO_MAX_PLAINTEXT_LEN, &back), 0);
	assert_true(th_disco_msg_equal(&back, &m));

	/* One more byte of padding fits no packet. */
	m.u.ping.padding++;
	assert_int_equal(disco_msg_encoded_len(&m), 0);
	assert_int_equal(disco_msg_seal(&ab, &k.a_pub, NULL, &m, pkt, DISCO_MAX_PACKET_LEN + 1),
			 DISCO_ERR_INVALID_ARG);
	assert_int_equal(disco_seal_shared(&ab, &k.a_pub, NULL, out, DISCO_MAX_PLAINTEXT_LEN + 1,
					   pkt, DISCO_MAX_PACKET_LEN + 1),
			 DISCO_ERR_TOO_LONG);
	free(pkt);
	free(out);
}

static void test_looks_like(void **state)
{
	(void)state;
	uint8_t p[DISCO_HEADER_LEN] = {0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac};

	/* magicsock's classifier: the magic and room for the key. */
	assert_true(disco_looks_like(p, DISCO_HEADER_LEN));
	assert_false(disco_looks_like(p, DISCO_HEADER_LEN - 1));
	assert_false(disco_looks_like(NULL, 100));
	p[5] = 0xad;
	assert_false(disco_looks_like(p, DISCO_HEADER_LEN));
}

/* A sealed packet from a to b of the sample ping, for the cases below. */
static int sealed_sample(const struct keys *k, uint8_t *pkt, size_t cap)
{
	uint8_t nonce[DISCO_NONCE_LEN], plain[TEST_BUF_BYTES];
	size_t plain_len = sample_plain(plain, sizeof(plain));

	fixed_nonce(nonce);
	return disco_seal(&k->a_priv, &k->a_pub, &k->b_pub, nonce, plain, plain_len, pkt, cap);
}

/* ---- Malformed packets: one test each ---- */

static void test_packet_short(void **state)
{
	(void)state;
	struct keys k = fixed_keys();
	uint8_t pkt[TEST_BUF_BYTES];
	struct disco_packet p = {0};
	int n = sealed_sample(&k, pkt, sizeof(pkt));

	assert_true(n > 0);
	/* Shorter than magic + key + nonce + an empty box: junk. */
	assert_int_equal(disco_packet_parse(pkt, DISCO_MIN_PACKET_LEN - 1, &p), DISCO_ERR_SHORT);
	assert_int_equal(disco_packet_parse(pkt, DISCO_SEALED_HEADER_LEN, &p), DISCO_ERR_SHORT);
	assert_int_equal(disco_packet_parse(pkt, DISCO_HEADER_LEN, &p), DISCO_ERR_SHORT);
	assert_int_equal(disco_packet_parse(pkt, 0, &p), DISCO_ERR_SHORT);
	assert_int_equal(disco_packet_parse(NULL, 100, &p), DISCO_ERR_SHORT);
	assert_null(p.box); /* untouched */
	/* Still the classifier's: it is disco, just junk. */
	assert_true(disco_looks_like(pkt, DISCO_HEADER_LEN));
	/* An empty box parses, then opens to an empty plaintext that is
	 * too short for a message. */
	assert_int_equal(disco_packet_parse(pkt, DISCO_MIN_PACKET_LEN, &p), 0);
	assert_int_equal(p.box_len, DISCO_BOX_OVERHEAD);
}

static void test_packet_too_long(void **state)
{
	(void)state;
	uint8_t *pkt = calloc(1, DISCO_MAX_PACKET_LEN + 1);
	struct disco_packet p;

	assert_non_null(pkt);
	memcpy(pkt, disco_magic, DISCO_MAGIC_LEN);
	pkt[DISCO_MAGIC_LEN] = 1;
	assert_int_equal(disco_packet_parse(pkt, DISCO_MAX_PACKET_LEN + 1, &p), DISCO_ERR_TOO_LONG);
	assert_int_equal(disco_packet_parse(pkt, DISCO_MAX_PACKET_LEN, &p), 0);
	free(pkt);
}

static void test_packet_bad_magic(void **state)
{
	(void)state;
	struct keys k = fixed_keys();
	uint8_t pkt[TEST_BUF_BYTES];
	struct disco_packet p;
	int n = sealed_sample(&k, pkt, sizeof(pkt));

	for (int i = 0; i < DISCO_MAGIC_LEN; i++) {
		pkt[i] ^= 0x01;
		assert_false(disco_looks_like(pkt, (size_t)n));
		assert_int_equal(disco_packet_parse(pkt, (size_t)n, &p), DISCO_ERR_BAD_MAGIC);
		pkt[i] ^= 0x01;
	}
}

static void test_packet_zero_sender(void **state)
{
	(void)state;
	struct keys k = fixed_keys();
	uint8_t pkt[TEST_BUF_BYTES], out[TEST_BUF_BYTES];
	struct disco_packet p;
	int n = sealed_sample(&k, pkt, sizeof(pkt));

	memset(pkt + DISCO_MAGIC_LEN, 0, DISCO_KEY_LEN);
	assert_true(disco_looks_like(pkt, (size_t)n));
	assert_int_equal(disco_packet_parse(pkt, (size_t)n, &p), DISCO_ERR_ZERO_KEY);
	/* A hand-made packet struct with a zero sender is refused too. */
	p = (struct disco_packet){.nonce = pkt + 38, .box = pkt + 62, .box_len = (size_t)n - 62};
	assert_int_equal(disco_open(&k.b_priv, &p, out, sizeof(out)), DISCO_ERR_ZERO_KEY);
}

static void test_open_tampered_box(void **state)
{
	(void)state;
	struct keys k = fixed_keys();
	uint8_t pkt[TEST_BUF_BYTES], out[TEST_BUF_BYTES];
	struct disco_packet p;
	int n = sealed_sample(&k, pkt, sizeof(pkt));

	/* Any byte of the nonce, the MAC or the ciphertext. */
	for (int i = DISCO_HEADER_LEN; i < n; i++) {
		pkt[i] ^= 0x80;
		assert_int_equal(disco_packet_parse(pkt, (size_t)n, &p), 0);
		assert_int_equal(disco_open(&k.b_priv, &p, out, sizeof(out)), DISCO_ERR_BOX);
		pkt[i] ^= 0x80;
	}
	/* A truncated box. */
	assert_int_equal(disco_packet_parse(pkt, (size_t)n - 1, &p), 0);
	assert_int_equal(disco_open(&k.b_priv, &p, out, sizeof(out)), DISCO_ERR_BOX);
	/* Intact, it opens. */
	assert_int_equal(disco_packet_parse(pkt, (size_t)n, &p), 0);
	assert_true(disco_open(&k.b_priv, &p, out, sizeof(out)) > 0);
}

static void test_open_wrong_key(void **state)
{
	(void)state;
	struct keys k = fixed_keys();
	uint8_t pkt[TEST_BUF_BYTES], out[TEST_BUF_BYTES];
	struct key32 c_priv;
	struct disco_shared wrong;
	struct disco_packet p;
	int n = sealed_sample(&k, pkt, sizeof(pkt));

	memset(c_priv.b, 0x77, sizeof(c_priv.b));
	assert_int_equal(disco_packet_parse(pkt, (size_t)n, &p), 0);
	assert_int_equal(disco_open(&c_priv, &p, out, sizeof(out)), DISCO_ERR_BOX);
	/* The sender cannot open its own packet with its key either. */
	assert_int_equal(disco_open(&k.a_priv, &p, out, sizeof(out)), DISCO_ERR_BOX);
	assert_int_equal(disco_shared_init(&c_priv, &k.a_pub, &wrong), 0);
	assert_int_equal(disco_open_shared(&wrong, &p, out, sizeof(out)), DISCO_ERR_BOX);
	/* A forged sender key: the box was not made by that key. */
	pkt[DISCO_MAGIC_LEN] ^= 0x01;
	assert_int_equal(disco_packet_parse(pkt, (size_t)n, &p), 0);
	assert_int_equal(disco_open(&k.b_priv, &p, out, sizeof(out)), DISCO_ERR_BOX);
}

static void test_open_buf_too_small(void **state)
{
	(void)state;
	struct keys k = fixed_keys();
	uint8_t pkt[TEST_BUF_BYTES], out[TEST_BUF_BYTES];
	struct disco_packet p;
	int n = sealed_sample(&k, pkt, sizeof(pkt));
	size_t plain_len = (size_t)n - DISCO_MIN_PACKET_LEN;

	assert_int_equal(disco_packet_parse(pkt, (size_t)n, &p), 0);
	assert_int_equal(disco_open(&k.b_priv, &p, out, plain_len - 1), DISCO_ERR_BUF_TOO_SMALL);
	assert_int_equal(disco_open(&k.b_priv, &p, out, plain_len), plain_len);
}

/* An all-zero or low-order peer key gives no shared key. */
static void test_bad_peer_keys(void **state)
{
	(void)state;
	struct keys k = fixed_keys();
	struct key32 zero = {0}, low = {{1}}; /* u = 1: a point of order 4 */
	struct disco_shared s;
	uint8_t plain[4] = {1, 0, 0, 0}, pkt[TEST_BUF_BYTES];

	assert_int_equal(disco_shared_init(&k.a_priv, &zero, &s), DISCO_ERR_ZERO_KEY);
	assert_true(sodium_is_zero(s.k, sizeof(s.k)));
	assert_int_equal(disco_shared_init(&zero, &k.b_pub, &s), DISCO_ERR_ZERO_KEY);
	assert_int_equal(disco_shared_init(&k.a_priv, &low, &s), DISCO_ERR_CRYPTO);
	assert_true(sodium_is_zero(s.k, sizeof(s.k)));
	assert_int_equal(disco_seal(&k.a_priv, &k.a_pub, &zero, NULL, plain, 4, pkt, sizeof(pkt)),
			 DISCO_ERR_ZERO_KEY);
	assert_int_equal(disco_seal(&k.a_priv, &k.a_pub, &low, NULL, plain, 4, pkt, sizeof(pkt)),
			 DISCO_ERR_CRYPTO);
	/* We never send from an all-zero key: peers refuse it. */
	assert_int_equal(disco_seal(&k.a_priv, &zero, &k.b_pub, NULL, plain, 4, pkt, sizeof(pkt)),
			 DISCO_ERR_ZERO_KEY);
	assert_int_equal(disco_seal(&k.a_priv, &k.a_pub, &k.b_pub, NULL, plain, 4, pkt, 81),
			 DISCO_ERR_BUF_TOO_SMALL);
	assert_int_equal(disco_seal(&k.a_priv, &k.a_pub, &k.b_pub, NULL, NULL, 4, pkt, sizeof(pkt)),
			 DISCO_ERR_INVALID_ARG);
}

/* ---- Malformed and lax messages: one test each ---- */

static void test_msg_short(void **state)
{
	(void)state;
	static const uint8_t one[] = {0x01};
	struct disco_msg m = {.type = 0x77};

	assert_int_equal(disco_msg_parse(one, 0, &m), DISCO_ERR_SHORT);
	assert_int_equal(disco_msg_parse(one, 1, &m), DISCO_ERR_SHORT);
	assert_int_equal(disco_msg_parse(NULL, 10, &m), DISCO_ERR_SHORT);
	assert_int_equal(m.type, 0x77); /* untouched */
}

static void test_unknown_type_ignored(void **state)
{
	(void)state;
	static const uint8_t types[] = {0x00, 0x0a, 0x10, 0x7f, 0xff};

	for (size_t i = 0; i < sizeof(types); i++) {
		uint8_t p[8] = {types[i], 3, 1, 2, 3, 4, 5, 6};
		struct disco_msg m;
		/* Not an error: a newer peer's message, ignored. */
		assert_int_equal(disco_msg_parse(p, sizeof(p), &m), DISCO_UNKNOWN_TYPE);
		assert_true(DISCO_UNKNOWN_TYPE > 0);
		assert_int_equal(m.type, types[i]);
		assert_int_equal(m.version, 3);
		assert_int_equal(disco_msg_parse(p, 2, &m), DISCO_UNKNOWN_TYPE);
		assert_int_equal(disco_msg_encode(&m, p, sizeof(p)), 0);
		assert_string_equal(disco_type_name(types[i]), "unknown");
	}
}

static void test_ping_truncated_txid(void **state)
{
	(void)state;
	uint8_t p[2 + DISCO_TXID_LEN] = {DISCO_TYPE_PING, 0};
	struct disco_msg m;

	assert_int_equal(disco_msg_parse(p, sizeof(p) - 1, &m), DISCO_ERR_SHORT);
	assert_int_equal(disco_msg_parse(p, 2, &m), DISCO_ERR_SHORT);
	assert_int_equal(disco_msg_parse(p, sizeof(p), &m), 0);
}

/* Fewer than 32 bytes after the TxID are padding, not a partial key. */
static void test_ping_partial_key_is_padding(void **state)
{
	(void)state;
	uint8_t p[2 + DISCO_PING_LEN - 1] = {DISCO_TYPE_PING, 0};
	struct disco_msg m;

	memset(p + 2 + DISCO_TXID_LEN, 0xee, DISCO_KEY_LEN - 1);
	assert_int_equal(disco_msg_parse(p, sizeof(p), &m), 0);
	assert_false(m.u.ping.has_node_key);
	assert_true(key_is_zero(&m.u.ping.node_key));
	assert_int_equal(m.u.ping.padding, DISCO_KEY_LEN - 1);
}

/* Go ignores a Ping's version and the content of its padding; we give back
 * the version and write zeros for the padding. */
static void test_ping_version_and_padding_content(void **state)
{
	(void)state;
	uint8_t p[2 + DISCO_PING_LEN + 5], out[sizeof(p)];
	struct disco_msg m;

	memset(p, 0x5a, sizeof(p));
	p[0] = DISCO_TYPE_PING;
	p[1] = 7;
	assert_int_equal(disco_msg_parse(p, sizeof(p), &m), 0);
	assert_int_equal(m.version, 7);
	assert_true(m.u.ping.has_node_key);
	assert_int_equal(m.u.ping.padding, 5);
	assert_int_equal(disco_msg_encode(&m, out, sizeof(out)), sizeof(p));
	assert_memory_equal(out, p, sizeof(p) - 5);
	assert_true(sodium_is_zero(out + sizeof(p) - 5, 5));
}

/* Present but all zero: has_node_key keeps the size exact (Go would drop
 * the 32 bytes on marshal), and the zero key reads as "no key". */
static void test_ping_zero_key_present(void **state)
{
	(void)state;
	uint8_t p[2 + DISCO_PING_LEN + 2] = {DISCO_TYPE_PING, 0, 9}, out[sizeof(p)];
	struct disco_msg m;

	assert_int_equal(disco_msg_parse(p, sizeof(p), &m), 0);
	assert_true(m.u.ping.has_node_key);
	assert_true(key_is_zero(&m.u.ping.node_key));
	assert_int_equal(m.u.ping.padding, 2);
	assert_int_equal(disco_msg_encode(&m, out, sizeof(out)), sizeof(p));
	assert_memory_equal(out, p, sizeof(p));
	assert_int_equal(disco_msg_check_keys(&m), 0);
}

static void test_ping_too_long(void **state)
{
	(void)state;
	uint8_t *p = calloc(1, DISCO_MAX_PLAINTEXT_LEN + 1);
	struct disco_msg m;

	assert_non_null(p);
	p[0] = DISCO_TYPE_PING;
	assert_int_equal(disco_msg_parse(p, DISCO_MAX_PLAINTEXT_LEN + 1, &m), DISCO_ERR_TOO_LONG);
	assert_int_equal(disco_msg_parse(p, DISCO_MAX_PLAINTEXT_LEN, &m), 0);
	assert_int_equal(m.u.ping.padding,
			 DISCO_MAX_PLAINTEXT_LEN - DISCO_MSG_HEADER_LEN - DISCO_PING_LEN);
	free(p);
}

static void test_pong_truncated_txid(void **state)
{
	(void)state;
	uint8_t p[2 + DISCO_TXID_LEN - 1] = {DISCO_TYPE_PONG, 0};
	struct disco_msg m;

	assert_int_equal(disco_msg_parse(p, sizeof(p), &m), DISCO_ERR_SHORT);
}

static void test_pong_17_byte_address(void **state)
{
	(void)state;
	uint8_t p[2 + DISCO_TXID_LEN + 17] = {DISCO_TYPE_PONG, 0};
	struct disco_msg m;

	assert_int_equal(disco_msg_parse(p, sizeof(p), &m), DISCO_ERR_SHORT);
}

/* Bytes after the port are ignored (Go: "always ignore bytes at the
 * end"); the encoder writes the canonical 32 bytes. */
static void test_pong_extra_ignored(void **state)
{
	(void)state;
	uint8_t p[TEST_BUF_BYTES], out[TEST_BUF_BYTES];
	size_t n = unhex("02 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 00 00 00 00 00 00 00 00 00 00 "
			 "ff ff 02 03 04 05 04 d2 99 98 97",
			 p, sizeof(p));
	struct disco_msg m;
	struct ipport want = ipp("2.3.4.5:1234");

	assert_int_equal(disco_msg_parse(p, n, &m), 0);
	assert_true(ipport_equal(&m.u.pong.src, &want));
	assert_int_equal(disco_msg_encode(&m, out, sizeof(out)), n - 3);
	assert_memory_equal(out, p, n - 3);
}

static void assert_cmm_bad_length(size_t payload)
{
	uint8_t p[2 + 64] = {DISCO_TYPE_CALL_ME_MAYBE, 0};
	struct disco_msg m = {.type = 0x77};

	assert_true(payload <= sizeof(p) - 2);
	assert_int_equal(disco_msg_parse(p, 2 + payload, &m), DISCO_ERR_BAD_LENGTH);
	assert_int_equal(m.type, 0x77);
}

static void test_cmm_17_bytes(void **state)
{
	(void)state;
	assert_cmm_bad_length(17);
}

static void test_cmm_19_bytes(void **state)
{
	(void)state;
	assert_cmm_bad_length(19);
}

static void test_cmm_35_bytes(void **state)
{
	(void)state;
	assert_cmm_bad_length(35);
}

static void test_cmm_too_many_endpoints(void **state)
{
	(void)state;
	size_t len = 2 + (DISCO_MAX_ENDPOINTS + 1) * (size_t)DISCO_EP_LEN;
	uint8_t *p = calloc(1, len), *out = malloc(len);
	struct disco_msg m;

	assert_non_null(p);
	assert_non_null(out);
	p[0] = DISCO_TYPE_CALL_ME_MAYBE;
	assert_int_equal(disco_msg_parse(p, len, &m), DISCO_ERR_TOO_MANY_ENDPOINTS);
	/* Exactly the cap: the most a packet carries, and it goes back out. */
	assert_int_equal(disco_msg_parse(p, len - DISCO_EP_LEN, &m), 0);
	assert_int_equal(m.u.call_me_maybe.my_number.n, DISCO_MAX_ENDPOINTS);
	assert_int_equal(disco_msg_encode(&m, out, len), len - DISCO_EP_LEN);
	assert_memory_equal(out, p, len - DISCO_EP_LEN);
	/* The encoder refuses a longer list. */
	m.u.call_me_maybe.my_number.n++;
	assert_int_equal(disco_msg_encode(&m, out, len), 0);
	free(p);
	free(out);
}

/* Go: a CallMeMaybe of another version is one without endpoints. */
static void test_cmm_version_1_is_empty(void **state)
{
	(void)state;
	uint8_t p[2 + 17] = {DISCO_TYPE_CALL_ME_MAYBE, 1}, out[8];
	struct disco_msg m;

	assert_int_equal(disco_msg_parse(p, sizeof(p), &m), 0);
	assert_int_equal(m.version, 1);
	assert_int_equal(m.u.call_me_maybe.my_number.n, 0);
	/* We cannot know a future version's format: we do not write one. */
	assert_int_equal(disco_msg_encode(&m, out, sizeof(out)), 0);
}

static void test_bind_short(void **state)
{
	(void)state;
	for (uint8_t t = DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT;
	     t <= DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT_ANSWER; t++) {
		uint8_t p[2 + DISCO_BIND_LEN] = {t, 0};
		struct disco_msg m;
		assert_int_equal(disco_msg_parse(p, sizeof(p) - 1, &m), DISCO_ERR_SHORT);
		assert_int_equal(disco_msg_parse(p, 2, &m), DISCO_ERR_SHORT);
		assert_int_equal(disco_msg_parse(p, sizeof(p), &m), 0);
	}
}

/* The bind messages ignore version and extra bytes, as Go does. */
static void test_bind_version_and_extra_ignored(void **state)
{
	(void)state;
	uint8_t p[2 + DISCO_BIND_LEN + 4], out[sizeof(p)];
	struct disco_msg m;

	memset(p, 0x11, sizeof(p));
	p[0] = DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT_CHALLENGE;
	p[1] = 2;
	assert_int_equal(disco_msg_parse(p, sizeof(p), &m), 0);
	assert_int_equal(m.version, 2);
	assert_int_equal(m.u.bind.vni, 0x11111111);
	assert_int_equal(disco_msg_encode(&m, out, sizeof(out)), sizeof(p) - 4);
	assert_memory_equal(out, p, sizeof(p) - 4);
}

/* A relay endpoint (CallMeMaybeVia body) of n addresses plus extra bytes. */
static size_t relay_plain(uint8_t type, size_t naddrs, size_t extra, uint8_t *p, size_t cap)
{
	size_t pre = type == DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE ? 4 : 0;
	size_t n = 2 + pre + DISCO_RELAY_EP_FIXED_LEN + naddrs * DISCO_EP_LEN + extra;

	assert_true(n <= cap);
	memset(p, 0x22, n);
	p[0] = type;
	p[1] = 0;
	return n;
}

static void test_via_no_endpoints(void **state)
{
	(void)state;
	uint8_t p[TEST_BUF_BYTES * 2];
	struct disco_msg m;
	size_t n = relay_plain(DISCO_TYPE_CALL_ME_MAYBE_VIA, 0, 0, p, sizeof(p));

	/* Go's UDPRelayEndpoint.decode wants at least one address. */
	assert_int_equal(disco_msg_parse(p, n, &m), DISCO_ERR_SHORT);
	assert_int_equal(disco_msg_parse(p, n - 1, &m), DISCO_ERR_SHORT);
}

static void test_via_partial_endpoint(void **state)
{
	(void)state;
	uint8_t p[TEST_BUF_BYTES * 2];
	struct disco_msg m;
	size_t n = relay_plain(DISCO_TYPE_CALL_ME_MAYBE_VIA, 1, 1, p, sizeof(p));

	/* Nothing may follow the last address. */
	assert_int_equal(disco_msg_parse(p, n, &m), DISCO_ERR_SHORT);
	assert_int_equal(disco_msg_parse(p, n - 2, &m), DISCO_ERR_SHORT);
	assert_int_equal(disco_msg_parse(p, n - 1, &m), 0);
	assert_int_equal(m.u.call_me_maybe_via.addrs.n, 1);
}

static void test_via_too_many_endpoints(void **state)
{
	(void)state;
	size_t cap = 2 + DISCO_RELAY_EP_FIXED_LEN + (DISCO_MAX_ENDPOINTS + 1) * DISCO_EP_LEN;
	uint8_t *p = malloc(cap);
	struct disco_msg m;
	size_t n;

	assert_non_null(p);
	n = relay_plain(DISCO_TYPE_CALL_ME_MAYBE_VIA, DISCO_MAX_ENDPOINTS + 1, 0, p, cap);
	assert_int_equal(disco_msg_parse(p, n, &m), DISCO_ERR_TOO_MANY_ENDPOINTS);
	assert_int_equal(disco_msg_parse(p, n - DISCO_EP_LEN, &m), 0);
	free(p);
}

/* Go: a CallMeMaybeVia of another version is an empty message, whose zero
 * keys then fail disco_msg_check_keys. */
static void test_via_version_1_is_empty(void **state)
{
	(void)state;
	uint8_t p[TEST_BUF_BYTES * 2];
	struct disco_msg m;
	size_t n = relay_plain(DISCO_TYPE_CALL_ME_MAYBE_VIA, 1, 0, p, sizeof(p));

	p[1] = 1;
	assert_int_equal(disco_msg_parse(p, n, &m), 0);
	assert_int_equal(m.version, 1);
	assert_int_equal(m.u.call_me_maybe_via.addrs.n, 0);
	assert_true(key_is_zero(&m.u.call_me_maybe_via.server_disco));
	assert_int_equal(disco_msg_check_keys(&m), DISCO_ERR_ZERO_KEY);
	assert_int_equal(disco_msg_encode(&m, p, sizeof(p)), 0);
	assert_int_equal(disco_msg_parse(p, 2, &m), 0); /* no payload at all */
}

static void test_alloc_req_short(void **state)
{
	(void)state;
	uint8_t p[2 + DISCO_ALLOC_REQ_LEN + 3] = {DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_REQUEST,
						  0};
	struct disco_msg m;

	p[2] = 1;
	p[2 + DISCO_KEY_LEN] = 1;
	assert_int_equal(disco_msg_parse(p, 2 + DISCO_ALLOC_REQ_LEN - 1, &m), DISCO_ERR_SHORT);
	/* Extra bytes are ignored. */
	assert_int_equal(disco_msg_parse(p, sizeof(p), &m), 0);
	assert_int_equal(disco_msg_check_keys(&m), 0);
	/* Version 1: an empty request (Go), refused for its zero keys. */
	p[1] = 1;
	assert_int_equal(disco_msg_parse(p, 2, &m), 0);
	assert_int_equal(disco_msg_check_keys(&m), DISCO_ERR_ZERO_KEY);
}

static void test_alloc_resp_short(void **state)
{
	(void)state;
	uint8_t p[TEST_BUF_BYTES * 2];
	struct disco_msg m;
	size_t n = relay_plain(DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE, 1, 0, p, sizeof(p));

	assert_int_equal(disco_msg_parse(p, n, &m), 0);
	assert_int_equal(m.u.alloc_resp.generation, 0x22222222);
	assert_int_equal(disco_msg_parse(p, n - 1, &m), DISCO_ERR_SHORT);
	assert_int_equal(disco_msg_parse(p, n - DISCO_EP_LEN, &m), DISCO_ERR_SHORT);
	assert_int_equal(disco_msg_parse(p, 2 + 3, &m), DISCO_ERR_SHORT);
	assert_int_equal(disco_msg_parse(p, 2 + 4, &m), DISCO_ERR_SHORT);
}

static void test_alloc_resp_trailing(void **state)
{
	(void)state;
	uint8_t p[TEST_BUF_BYTES * 2];
	struct disco_msg m;
	size_t n = relay_plain(DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE, 2, 5, p, sizeof(p));

	assert_int_equal(disco_msg_parse(p, n, &m), DISCO_ERR_SHORT);
	p[1] = 3; /* another version: empty, the payload not looked at */
	assert_int_equal(disco_msg_parse(p, n, &m), 0);
	assert_int_equal(m.u.alloc_resp.ep.addrs.n, 0);
	assert_int_equal(disco_msg_check_keys(&m), DISCO_ERR_ZERO_KEY);
}

/* tailscale/tailscale#21273: zero relay keys crashed tailscaled. */
static void test_check_keys_zero(void **state)
{
	(void)state;
	struct disco_msg m = {.type = DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT_CHALLENGE,
			      .u.bind = vector_bind()};

	assert_int_equal(disco_msg_check_keys(&m), 0);
	memset(&m.u.bind.remote_key, 0, sizeof(m.u.bind.remote_key));
	assert_int_equal(disco_msg_check_keys(&m), DISCO_ERR_ZERO_KEY);

	m = (struct disco_msg){.type = DISCO_TYPE_CALL_ME_MAYBE_VIA,
			       .u.call_me_maybe_via = vector_relay_ep()};
	assert_int_equal(disco_msg_check_keys(&m), 0);
	memset(&m.u.call_me_maybe_via.server_disco, 0, sizeof(struct key32));
	assert_int_equal(disco_msg_check_keys(&m), DISCO_ERR_ZERO_KEY);

	m = (struct disco_msg){.type = DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE};
	m.u.alloc_resp.ep = vector_relay_ep();
	assert_int_equal(disco_msg_check_keys(&m), 0);
	memset(&m.u.alloc_resp.ep.client_disco[1], 0, sizeof(struct key32));
	assert_int_equal(disco_msg_check_keys(&m), DISCO_ERR_ZERO_KEY);

	/* One client slot the sender's, the other zero: the udprelay crash. */
	m = (struct disco_msg){.type = DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_REQUEST};
	m.u.alloc_req.client_disco[0] = key_idx(1, 2, 3, -1);
	assert_int_equal(disco_msg_check_keys(&m), DISCO_ERR_ZERO_KEY);
	m.u.alloc_req.client_disco[1] = key_idx(4, -1);
	assert_int_equal(disco_msg_check_keys(&m), 0);

	/* Messages without disco keys always pass. */
	m = (struct disco_msg){.type = DISCO_TYPE_CALL_ME_MAYBE};
	assert_int_equal(disco_msg_check_keys(&m), 0);
}

static void test_endpoint_usable(void **state)
{
	(void)state;
	static const char *const usable[] = {
		"198.18.0.1:41641",	 "198.19.255.254:1",	"10.0.0.1:41641",
		"192.168.1.2:41641",	 "100.64.0.1:41641",	"1.1.1.1:65535",
		"240.0.0.1:41641",	 "[2001:db8::1]:41641", "[fd7a::1]:41641",
		"[fec0::1]:41641",	 "[::2]:41641",		"[64:ff9b::7f00:1]:1",
		"[::ffff:198.18.0.1]:9",
	};
	static const char *const unusable[] = {
		"127.0.0.1:41641",	"127.255.255.254:41641",    "0.0.0.0:41641",
		"0.1.2.3:41641",	"169.254.1.1:41641",	    "224.0.0.1:41641",
		"239.255.255.250:1900", "255.255.255.255:41641",    "[::1]:41641",
		"[::]:41641",		"[fe80::1]:41641",	    "[febf::1]:41641",
		"[ff02::1]:41641",	"[::ffff:127.0.0.1]:41641", "[::ffff:169.254.0.1]:1",
	};
	struct ipport a = {0};

	for (size_t i = 0; i < sizeof(usable) / sizeof(usable[0]); i++) {
		struct ipport u = ipp(usable[i]);
		if (!disco_endpoint_usable(&u))
			fail_msg("%s should be usable", usable[i]);
	}
	for (size_t i = 0; i < sizeof(unusable) / sizeof(unusable[0]); i++) {
		struct ipport u = ipp(unusable[i]);
		if (disco_endpoint_usable(&u))
			fail_msg("%s should be unusable", unusable[i]);
	}
	a = ipp("198.18.0.1:41641");
	a.port = 0;
	assert_false(disco_endpoint_usable(&a)); /* port 0 */
	a = (struct ipport){.port = 1};
	assert_false(disco_endpoint_usable(&a)); /* no family */
	assert_false(disco_endpoint_usable(NULL));
}

/* Endpoints from CallMeMaybe as a peer sends them, read back and judged. */
static void test_endpoints_from_wire(void **state)
{
	(void)state;
	uint8_t p[TEST_BUF_BYTES];
	size_t n = unhex("03 00 "
			 "00 00 00 00 00 00 00 00 00 00 ff ff c6 12 00 05 a2 69 " /* 198.18.0.5 */
			 "00 00 00 00 00 00 00 00 00 00 ff ff 7f 00 00 01 a2 69 " /* 127.0.0.1 */
			 "fe 80 00 00 00 00 00 00 00 00 00 00 00 00 00 01 a2 69 " /* fe80::1 */
			 "00 00 00 00 00 00 00 00 00 00 00 00 7f 00 00 01 a2 69", /* ::127.0.0.1 */
			 p, sizeof(p));
	struct disco_msg m;
	struct ipport a, want = ipp("198.18.0.5:41577");

	assert_int_equal(disco_msg_parse(p, n, &m), 0);
	assert_int_equal(m.u.call_me_maybe.my_number.n, 4);
	assert_true(disco_endpoints_get(&m.u.call_me_maybe.my_number, 0, &a));
	assert_true(ipport_equal(&a, &want));
	assert_true(disco_endpoint_usable(&a));
	assert_true(disco_endpoints_get(&m.u.call_me_maybe.my_number, 1, &a));
	assert_int_equal(a.family, AF_INET);
	assert_false(disco_endpoint_usable(&a));
	assert_true(disco_endpoints_get(&m.u.call_me_maybe.my_number, 2, &a));
	assert_false(disco_endpoint_usable(&a));
	/* IPv4-compatible (not mapped) stays IPv6, as Go's Unmap leaves it. */
	assert_true(disco_endpoints_get(&m.u.call_me_maybe.my_number, 3, &a));
	assert_int_equal(a.family, AF_INET6);
	assert_true(disco_endpoint_usable(&a));
}

static void test_endpoints_put_refuses(void **state)
{
	(void)state;
	struct ipport addrs[2] = {ipp("1.2.3.4:5"), {.family = 0, .port = 5}};
	uint8_t wire[2 * DISCO_EP_LEN];
	struct disco_endpoints e;

	assert_int_equal(disco_endpoints_put(addrs, 1, wire, DISCO_EP_LEN - 1, &e), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(disco_endpoints_put(addrs, 2, wire, sizeof(wire), &e), 0);
	assert_null(e.wire);
	assert_int_equal(disco_endpoints_put(addrs, 0, wire, sizeof(wire), &e), 0);
	assert_int_equal(disco_endpoints_put(addrs, DISCO_MAX_ENDPOINTS + 1, wire, SIZE_MAX, &e),
			 0);
	assert_int_equal(disco_endpoints_put(addrs, 1, wire, sizeof(wire), &e), DISCO_EP_LEN);
	assert_int_equal(e.n, 1);
	assert_false(disco_endpoints_get(NULL, 0, &addrs[1]));
}

static void test_encode_refuses(void **state)
{
	(void)state;
	uint8_t buf[TEST_BUF_BYTES];
	struct disco_msg m = {.type = DISCO_TYPE_PONG};

	/* A Pong without an address family. */
	assert_int_equal(disco_msg_encode(&m, buf, sizeof(buf)), 0);
	/* A relay endpoint without addresses (Go's parser refuses it). */
	m = (struct disco_msg){.type = DISCO_TYPE_CALL_ME_MAYBE_VIA,
			       .u.call_me_maybe_via = vector_relay_ep()};
	m.u.call_me_maybe_via.addrs.n = 0;
	assert_int_equal(disco_msg_encode(&m, buf, sizeof(buf)), 0);
	/* A list that says it has addresses but has no bytes. */
	m = (struct disco_msg){.type = DISCO_TYPE_CALL_ME_MAYBE};
	m.u.call_me_maybe.my_number.n = 1;
	assert_int_equal(disco_msg_encode(&m, buf, sizeof(buf)), 0);
	/* Versions we cannot know the format of. */
	m = (struct disco_msg){.type = DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_REQUEST,
			       .version = 1};
	assert_int_equal(disco_msg_encode(&m, buf, sizeof(buf)), 0);
	m.version = 0;
	assert_int_equal(disco_msg_encode(&m, buf, sizeof(buf)), 2 + DISCO_ALLOC_REQ_LEN);
	/* A Ping whose padding fits no packet. */
	m = (struct disco_msg){.type = DISCO_TYPE_PING};
	m.u.ping.padding = SIZE_MAX;
	assert_int_equal(disco_msg_encoded_len(&m), 0);
	assert_int_equal(disco_msg_encode(NULL, buf, sizeof(buf)), 0);
	assert_int_equal(disco_msg_encode(&m, NULL, sizeof(buf)), 0);
}

/* msock's ProbeMe (docs/disco.md): type 0xf0, version 0, ports (BE), the
 * sender's public address as a disco endpoint. */
static void test_probe_me_bytes(void **state)
{
	(void)state;
	static const uint8_t want[2 + DISCO_PROBE_ME_LEN] = {
		0xf0, 0x00, 0x01, 0x00,						     /* 256 ports */
		0,    0,    0,	  0,	0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 2, 1, /* v4-mapped */
		0xa2, 0x29 /* 41513 */};
	struct disco_msg m = {.type = DISCO_TYPE_MSOCK_PROBE_ME}, back;
	uint8_t out[64];

	m.u.probe_me.ports = 256;
	m.u.probe_me.addr =
		(struct ipport){.family = AF_INET, .ip = {198, 18, 2, 1}, .port = 41513};
	assert_int_equal(disco_msg_encode(&m, out, sizeof(out)), sizeof(want));
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(disco_msg_parse(want, sizeof(want), &back), 0);
	assert_int_equal(back.type, DISCO_TYPE_MSOCK_PROBE_ME);
	assert_int_equal(back.u.probe_me.ports, 256);
	assert_true(ipport_equal(&back.u.probe_me.addr, &m.u.probe_me.addr));
	assert_string_equal(disco_type_name(DISCO_TYPE_MSOCK_PROBE_ME), "msock-probe-me");
}

static void test_probe_me_malformed(void **state)
{
	(void)state;
	uint8_t p[2 + DISCO_PROBE_ME_LEN + 4] = {DISCO_TYPE_MSOCK_PROBE_ME, 0, 0x00, 0x10};
	struct disco_msg m;

	p[2 + 2 + 10] = p[2 + 2 + 11] = 0xff;
	p[2 + 2 + 12] = 198;
	/* Every truncation is short. */
	for (size_t n = 2; n < 2 + DISCO_PROBE_ME_LEN; n++)
		assert_int_equal(disco_msg_parse(p, n, &m), DISCO_ERR_SHORT);
	/* Trailing bytes: ignored, as Go's parsers do. */
	assert_int_equal(disco_msg_parse(p, sizeof(p), &m), 0);
	assert_int_equal(m.u.probe_me.ports, 16);
	assert_int_equal(m.u.probe_me.addr.family, AF_INET);
	/* Zero ports: nothing to probe. */
	p[3] = 0;
	assert_int_equal(disco_msg_parse(p, sizeof(p), &m), DISCO_ERR_BAD_LENGTH);
	p[3] = 1;
	/* Another version is a format we do not know: ignored. */
	p[1] = 1;
	assert_int_equal(disco_msg_parse(p, sizeof(p), &m), DISCO_UNKNOWN_TYPE);
	/* The encoder refuses what could not be parsed back. */
	m = (struct disco_msg){.type = DISCO_TYPE_MSOCK_PROBE_ME};
	m.u.probe_me.ports = 1;
	assert_int_equal(disco_msg_encode(&m, p, sizeof(p)), 0); /* no address */
	m.u.probe_me.addr = (struct ipport){.family = AF_INET, .ip = {198, 18, 2, 1}};
	m.u.probe_me.ports = 0;
	assert_int_equal(disco_msg_encode(&m, p, sizeof(p)), 0);
	m.u.probe_me.ports = 1;
	m.version = 1;
	assert_int_equal(disco_msg_encode(&m, p, sizeof(p)), 0);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(disco_type_name(DISCO_TYPE_PING), "ping");
	assert_string_equal(disco_type_name(DISCO_TYPE_CALL_ME_MAYBE_VIA), "call-me-maybe-via");
	assert_string_equal(disco_type_name(DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE),
			    "allocate-udp-relay-endpoint-response");
	for (int a = DISCO_ERR_INVALID_ARG; a <= DISCO_UNKNOWN_TYPE; a++) {
		assert_string_not_equal(disco_strerror(a), "disco: unknown error");
		for (int b = a + 1; b <= DISCO_UNKNOWN_TYPE; b++)
			assert_string_not_equal(disco_strerror(a), disco_strerror(b));
	}
	assert_string_equal(disco_strerror(-1000), "disco: unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_constants),
		cmocka_unit_test(test_go_ping),
		cmocka_unit_test(test_go_ping_with_nodekey_src),
		cmocka_unit_test(test_go_ping_with_padding),
		cmocka_unit_test(test_go_ping_with_padding_and_nodekey_src),
		cmocka_unit_test(test_go_pong),
		cmocka_unit_test(test_go_pongv6),
		cmocka_unit_test(test_go_call_me_maybe),
		cmocka_unit_test(test_go_call_me_maybe_endpoints),
		cmocka_unit_test(test_go_bind_udp_relay_endpoint),
		cmocka_unit_test(test_go_bind_udp_relay_endpoint_challenge),
		cmocka_unit_test(test_go_bind_udp_relay_endpoint_answer),
		cmocka_unit_test(test_go_call_me_maybe_via),
		cmocka_unit_test(test_go_allocate_udp_relay_endpoint_request),
		cmocka_unit_test(test_go_allocate_udp_relay_endpoint_response),
		cmocka_unit_test(test_seal_open_fixed),
		cmocka_unit_test(test_seal_open_shared),
		cmocka_unit_test(test_msg_seal),
		cmocka_unit_test(test_seal_random_nonce),
		cmocka_unit_test(test_seal_open_max),
		cmocka_unit_test(test_looks_like),
		cmocka_unit_test(test_packet_short),
		cmocka_unit_test(test_packet_too_long),
		cmocka_unit_test(test_packet_bad_magic),
		cmocka_unit_test(test_packet_zero_sender),
		cmocka_unit_test(test_open_tampered_box),
		cmocka_unit_test(test_open_wrong_key),
		cmocka_unit_test(test_open_buf_too_small),
		cmocka_unit_test(test_bad_peer_keys),
		cmocka_unit_test(test_msg_short),
		cmocka_unit_test(test_unknown_type_ignored),
		cmocka_unit_test(test_ping_truncated_txid),
		cmocka_unit_test(test_ping_partial_key_is_padding),
		cmocka_unit_test(test_ping_version_and_padding_content),
		cmocka_unit_test(test_ping_zero_key_present),
		cmocka_unit_test(test_ping_too_long),
		cmocka_unit_test(test_pong_truncated_txid),
		cmocka_unit_test(test_pong_17_byte_address),
		cmocka_unit_test(test_pong_extra_ignored),
		cmocka_unit_test(test_cmm_17_bytes),
		cmocka_unit_test(test_cmm_19_bytes),
		cmocka_unit_test(test_cmm_35_bytes),
		cmocka_unit_test(test_cmm_too_many_endpoints),
		cmocka_unit_test(test_cmm_version_1_is_empty),
		cmocka_unit_test(test_bind_short),
		cmocka_unit_test(test_bind_version_and_extra_ignored),
		cmocka_unit_test(test_via_no_endpoints),
		cmocka_unit_test(test_via_partial_endpoint),
		cmocka_unit_test(test_via_too_many_endpoints),
		cmocka_unit_test(test_via_version_1_is_empty),
		cmocka_unit_test(test_alloc_req_short),
		cmocka_unit_test(test_alloc_resp_short),
		cmocka_unit_test(test_alloc_resp_trailing),
		cmocka_unit_test(test_probe_me_bytes),
		cmocka_unit_test(test_probe_me_malformed),
		cmocka_unit_test(test_check_keys_zero),
		cmocka_unit_test(test_endpoint_usable),
		cmocka_unit_test(test_endpoints_from_wire),
		cmocka_unit_test(test_endpoints_put_refuses),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_names),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

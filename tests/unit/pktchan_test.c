/* pktchan_test: the packet-channel header codec: round trips, the exact
 * wire layout, and one test per malformed case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "pktchan.h"

static const uint8_t payload_hi[] = {'h', 'i'};

static struct pktchan_hdr udp_hdr(enum pktchan_kind kind, int family)
{
	struct pktchan_hdr h;

	memset(&h, 0, sizeof(h));
	h.kind = kind;
	assert_int_equal(ip_parse(family == AF_INET ? "192.0.2.1" : "2001:db8::1", &h.addr), 0);
	h.addr.port = 41641;
	return h;
}

static struct pktchan_hdr derp_hdr(enum pktchan_kind kind, uint16_t region)
{
	struct pktchan_hdr h;

	memset(&h, 0, sizeof(h));
	h.kind = kind;
	h.region = region;
	for (size_t i = 0; i < sizeof(h.key); i++)
		h.key[i] = (uint8_t)(i + 1);
	return h;
}

static void assert_hdr_equal(const struct pktchan_hdr *a, const struct pktchan_hdr *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_true(ipport_equal(&a->addr, &b->addr));
	assert_int_equal(a->addr.family, b->addr.family);
	assert_int_equal(a->addr.port, b->addr.port);
	assert_memory_equal(a->addr.ip, b->addr.ip, sizeof(a->addr.ip));
	assert_int_equal(a->region, b->region);
	assert_memory_equal(a->key, b->key, sizeof(a->key));
}

/* Encodes h + payload into buf; returns the message length. */
static size_t build(const struct pktchan_hdr *h, const uint8_t *pl, size_t pl_len, uint8_t *buf,
		    size_t cap)
{
	size_t n = pktchan_hdr_encode(h, buf, cap);

	assert_int_equal(n, PKTCHAN_HDR_BYTES);
	assert_true(n + pl_len <= cap);
	if (pl_len)
		memcpy(buf + n, pl, pl_len);
	return n + pl_len;
}

static void round_trip(const struct pktchan_hdr *h)
{
	uint8_t buf[PKTCHAN_HDR_BYTES + sizeof(payload_hi)];
	struct pktchan_hdr got;
	const uint8_t *pl = NULL;
	size_t pl_len = 0;
	size_t n = build(h, payload_hi, sizeof(payload_hi), buf, sizeof(buf));

	assert_int_equal(pktchan_hdr_parse(buf, n, &got, &pl, &pl_len), PKTCHAN_OK);
	assert_hdr_equal(h, &got);
	assert_ptr_equal(pl, buf + PKTCHAN_HDR_BYTES);
	assert_int_equal(pl_len, sizeof(payload_hi));
	assert_memory_equal(pl, payload_hi, sizeof(payload_hi));
}

static void test_round_trip_udp_send(void **state)
{
	(void)state;
	struct pktchan_hdr v4 = udp_hdr(PKTCHAN_UDP_SEND, AF_INET);
	struct pktchan_hdr v6 = udp_hdr(PKTCHAN_UDP_SEND, AF_INET6);
	round_trip(&v4);
	round_trip(&v6);
}

static void test_round_trip_udp_recv(void **state)
{
	(void)state;
	struct pktchan_hdr v4 = udp_hdr(PKTCHAN_UDP_RECV, AF_INET);
	struct pktchan_hdr v6 = udp_hdr(PKTCHAN_UDP_RECV, AF_INET6);
	round_trip(&v4);
	round_trip(&v6);
}

static void test_round_trip_derp_send(void **state)
{
	(void)state;
	struct pktchan_hdr home = derp_hdr(PKTCHAN_DERP_SEND, 0);
	struct pktchan_hdr other = derp_hdr(PKTCHAN_DERP_SEND, 65535);
	round_trip(&home);
	round_trip(&other);
}

static void test_round_trip_derp_recv(void **state)
{
	(void)state;
	struct pktchan_hdr h = derp_hdr(PKTCHAN_DERP_RECV, 900);
	round_trip(&h);
}

static void test_empty_and_max_payload(void **state)
{
	(void)state;
	static uint8_t buf[PKTCHAN_MAX_MSG_BYTES];
	struct pktchan_hdr h = derp_hdr(PKTCHAN_DERP_SEND, 1), got;
	const uint8_t *pl;
	size_t pl_len = 1;

	build(&h, NULL, 0, buf, sizeof(buf));
	assert_int_equal(pktchan_hdr_parse(buf, PKTCHAN_HDR_BYTES, &got, &pl, &pl_len), 0);
	assert_int_equal(pl_len, 0);
	assert_int_equal(pktchan_hdr_parse(buf, sizeof(buf), &got, &pl, &pl_len), 0);
	assert_int_equal(pl_len, PKTCHAN_MAX_PAYLOAD_BYTES);
	/* payload and payload_len are optional */
	assert_int_equal(pktchan_hdr_parse(buf, sizeof(buf), &got, NULL, NULL), 0);
}

/* The wire format, byte by byte: UDP_SEND to 192.0.2.1:41641 with "hi". */
static void test_layout_udp_v4(void **state)
{
	(void)state;
	/* One header field per line. */
	/* clang-format off */
	static const uint8_t want[] = {
		0x4d,                   /* magic 'M' */
		0x00, 0x01,             /* version 1 */
		0x01,                   /* kind UDP_SEND */
		0x00,                   /* flags */
		0x04,                   /* family IPv4 */
		0xa2, 0xa9,             /* port 41641 */
		192, 0, 2, 1,           /* ip 192.0.2.1 ... */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* ... and 12 zero bytes */
		0x00, 0x00,             /* region */
		0x00, 0x00,             /* reserved */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* key (unused) */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		'h', 'i',               /* payload */
	};
	/* clang-format on */
	struct pktchan_hdr h = udp_hdr(PKTCHAN_UDP_SEND, AF_INET), got;
	uint8_t buf[sizeof(want)];
	const uint8_t *pl;
	size_t pl_len;

	assert_int_equal(PKTCHAN_HDR_BYTES, sizeof(want) - 2);
	assert_int_equal(build(&h, payload_hi, 2, buf, sizeof(buf)), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(pktchan_hdr_parse(want, sizeof(want), &got, &pl, &pl_len), 0);
	assert_hdr_equal(&h, &got);
	assert_int_equal(pl_len, 2);
	assert_memory_equal(pl, "hi", 2);
}

/* DERP_RECV from key 01..20 via region 900 (0x0384), empty payload. */
static void test_layout_derp_recv(void **state)
{
	(void)state;
	/* One header field per line. */
	/* clang-format off */
	static const uint8_t want[] = {
		0x4d,                   /* magic 'M' */
		0x00, 0x01,             /* version 1 */
		0x04,                   /* kind DERP_RECV */
		0x00,                   /* flags */
		0x00,                   /* family none */
		0x00, 0x00,             /* port */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* ip */
		0x03, 0x84,             /* region 900 */
		0x00, 0x00,             /* reserved */
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* key */
		0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
		0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
		0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20,
	};
	/* clang-format on */
	struct pktchan_hdr h = derp_hdr(PKTCHAN_DERP_RECV, 900), got;
	uint8_t buf[PKTCHAN_HDR_BYTES];
	size_t pl_len;

	assert_int_equal(sizeof(want), PKTCHAN_HDR_BYTES);
	assert_int_equal(pktchan_hdr_encode(&h, buf, sizeof(buf)), PKTCHAN_HDR_BYTES);
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(pktchan_hdr_parse(want, sizeof(want), &got, NULL, &pl_len), 0);
	assert_hdr_equal(&h, &got);
	assert_int_equal(pl_len, 0);
}

/* Malformed cases: a good message with one byte changed. */

static uint8_t good_udp[PKTCHAN_HDR_BYTES + 2];
static uint8_t good_derp[PKTCHAN_HDR_BYTES + 2];

static int setup_good(void **state)
{
	(void)state;
	struct pktchan_hdr u = udp_hdr(PKTCHAN_UDP_RECV, AF_INET);
	struct pktchan_hdr d = derp_hdr(PKTCHAN_DERP_SEND, 0);

	build(&u, payload_hi, 2, good_udp, sizeof(good_udp));
	build(&d, payload_hi, 2, good_derp, sizeof(good_derp));
	return 0;
}

static void expect_err_udp(size_t off, uint8_t val, int want)
{
	uint8_t m[sizeof(good_udp)];
	struct pktchan_hdr h;

	memcpy(m, good_udp, sizeof(m));
	m[off] = val;
	assert_int_equal(pktchan_hdr_parse(m, sizeof(m), &h, NULL, NULL), want);
}

static void expect_err_derp(size_t off, uint8_t val, int want)
{
	uint8_t m[sizeof(good_derp)];
	struct pktchan_hdr h;

	memcpy(m, good_derp, sizeof(m));
	m[off] = val;
	assert_int_equal(pktchan_hdr_parse(m, sizeof(m), &h, NULL, NULL), want);
}

static void test_err_short(void **state)
{
	(void)state;
	struct pktchan_hdr h;

	assert_int_equal(pktchan_hdr_parse(good_udp, 0, &h, NULL, NULL), PKTCHAN_ERR_SHORT);
	assert_int_equal(pktchan_hdr_parse(good_udp, PKTCHAN_HDR_BYTES - 1, &h, NULL, NULL),
			 PKTCHAN_ERR_SHORT);
}

static void test_err_magic(void **state)
{
	(void)state;
	expect_err_udp(0, 'm', PKTCHAN_ERR_MAGIC);
	expect_err_udp(0, 0, PKTCHAN_ERR_MAGIC);
}

static void test_err_version(void **state)
{
	(void)state;
	expect_err_udp(2, 2, PKTCHAN_ERR_VERSION);
	expect_err_udp(2, 0, PKTCHAN_ERR_VERSION);
	expect_err_udp(1, 1, PKTCHAN_ERR_VERSION); /* 0x0101: big-endian */
}

static void test_err_kind_zero(void **state)
{
	(void)state;
	expect_err_udp(3, 0, PKTCHAN_ERR_KIND);
}

static void test_err_kind_unknown(void **state)
{
	(void)state;
	expect_err_udp(3, 9, PKTCHAN_ERR_KIND);
	expect_err_udp(3, 5, PKTCHAN_ERR_KIND);
	expect_err_udp(3, 0xff, PKTCHAN_ERR_KIND);
}

static void test_err_flags(void **state)
{
	(void)state;
	expect_err_udp(4, 1, PKTCHAN_ERR_FLAGS);
	expect_err_derp(4, 0x80, PKTCHAN_ERR_FLAGS);
}

/* Bytes 26-27: the socket index. A UDP kind may name 0..256; a DERP kind
 * none. */
static void test_err_sock(void **state)
{
	uint8_t m[sizeof(good_udp)];
	struct pktchan_hdr h;
	(void)state;
	expect_err_udp(26, 2, PKTCHAN_ERR_SOCK); /* 512 */
	expect_err_derp(27, 1, PKTCHAN_ERR_SOCK);
	expect_err_derp(26, 1, PKTCHAN_ERR_SOCK);
	memcpy(m, good_udp, sizeof(m));
	m[27] = 7;
	assert_int_equal(pktchan_hdr_parse(m, sizeof(m), &h, NULL, NULL), PKTCHAN_OK);
	assert_int_equal(h.sock, 7);
	m[26] = 1;
	m[27] = 0; /* 256: the last probe socket */
	assert_int_equal(pktchan_hdr_parse(m, sizeof(m), &h, NULL, NULL), PKTCHAN_OK);
	assert_int_equal(h.sock, 256);
	m[27] = 1; /* 257 */
	assert_int_equal(pktchan_hdr_parse(m, sizeof(m), &h, NULL, NULL), PKTCHAN_ERR_SOCK);
	/* Encode refuses what parse refuses. */
	h.sock = 257;
	assert_int_equal(pktchan_hdr_encode(&h, m, sizeof(m)), 0);
}

static void test_err_udp_family_zero(void **state)
{
	(void)state;
	expect_err_udp(5, 0, PKTCHAN_ERR_FAMILY);
}

static void test_err_udp_family_five(void **state)
{
	(void)state;
	expect_err_udp(5, 5, PKTCHAN_ERR_FAMILY);
	expect_err_udp(5, 2, PKTCHAN_ERR_FAMILY); /* AF_INET is not the wire value */
}

static void test_err_udp_port_zero(void **state)
{
	uint8_t m[sizeof(good_udp)];
	struct pktchan_hdr h;

	(void)state;
	memcpy(m, good_udp, sizeof(m));
	m[6] = 0;
	m[7] = 0;
	assert_int_equal(pktchan_hdr_parse(m, sizeof(m), &h, NULL, NULL), PKTCHAN_ERR_PORT);
}

static void test_err_ipv4_trailing_bytes(void **state)
{
	(void)state;
	expect_err_udp(8 + 4, 1, PKTCHAN_ERR_ADDR);
	expect_err_udp(8 + 15, 1, PKTCHAN_ERR_ADDR);
}

static void test_err_udp_region_or_key(void **state)
{
	(void)state;
	expect_err_udp(25, 1, PKTCHAN_ERR_REGION);
	expect_err_udp(28 + 31, 1, PKTCHAN_ERR_KEY);
}

static void test_err_derp_zero_key(void **state)
{
	uint8_t m[sizeof(good_derp)];
	struct pktchan_hdr h;

	(void)state;
	memcpy(m, good_derp, sizeof(m));
	memset(m + 28, 0, PKTCHAN_KEY_BYTES);
	assert_int_equal(pktchan_hdr_parse(m, sizeof(m), &h, NULL, NULL), PKTCHAN_ERR_KEY);
}

static void test_err_derp_with_address(void **state)
{
	(void)state;
	expect_err_derp(5, 4, PKTCHAN_ERR_FAMILY);
	expect_err_derp(7, 1, PKTCHAN_ERR_ADDR);  /* port */
	expect_err_derp(10, 1, PKTCHAN_ERR_ADDR); /* ip */
}

static void test_err_derp_recv_region_zero(void **state)
{
	uint8_t m[sizeof(good_derp)];
	struct pktchan_hdr h;

	(void)state;
	expect_err_derp(3, PKTCHAN_DERP_RECV, PKTCHAN_ERR_REGION);
	/* The same message with a region parses. */
	memcpy(m, good_derp, sizeof(m));
	m[3] = PKTCHAN_DERP_RECV;
	m[25] = 7;
	assert_int_equal(pktchan_hdr_parse(m, sizeof(m), &h, NULL, NULL), 0);
	assert_int_equal(h.region, 7);
}

static void test_err_too_big(void **state)
{
	(void)state;
	static uint8_t buf[PKTCHAN_MAX_MSG_BYTES + 1];
	struct pktchan_hdr h = udp_hdr(PKTCHAN_UDP_SEND, AF_INET6), got;

	build(&h, NULL, 0, buf, sizeof(buf));
	assert_int_equal(pktchan_hdr_parse(buf, sizeof(buf), &got, NULL, NULL),
			 PKTCHAN_ERR_TOO_BIG);
	assert_int_equal(pktchan_hdr_parse(buf, sizeof(buf) - 1, &got, NULL, NULL), 0);
}

static void test_encode_small_buffer(void **state)
{
	(void)state;
	struct pktchan_hdr h = udp_hdr(PKTCHAN_UDP_SEND, AF_INET);
	uint8_t buf[PKTCHAN_HDR_BYTES];

	assert_int_equal(pktchan_hdr_encode(&h, buf, sizeof(buf) - 1), 0);
	assert_int_equal(pktchan_hdr_encode(&h, buf, 0), 0);
	assert_int_equal(pktchan_hdr_encode(&h, buf, sizeof(buf)), PKTCHAN_HDR_BYTES);
}

/* encode refuses what parse would reject. */
static void test_encode_invalid_header(void **state)
{
	(void)state;
	uint8_t buf[PKTCHAN_HDR_BYTES];
	struct pktchan_hdr h;

	h = udp_hdr(PKTCHAN_UDP_SEND, AF_INET);
	h.kind = PKTCHAN_KIND_INVALID;
	assert_int_equal(pktchan_hdr_encode(&h, buf, sizeof(buf)), 0);
	h.kind = (enum pktchan_kind)9;
	assert_int_equal(pktchan_hdr_encode(&h, buf, sizeof(buf)), 0);
	h = udp_hdr(PKTCHAN_UDP_SEND, AF_INET);
	h.addr.port = 0;
	assert_int_equal(pktchan_hdr_encode(&h, buf, sizeof(buf)), 0);
	h = udp_hdr(PKTCHAN_UDP_RECV, AF_INET);
	h.addr.family = AF_UNIX;
	assert_int_equal(pktchan_hdr_encode(&h, buf, sizeof(buf)), 0);
	h = derp_hdr(PKTCHAN_DERP_SEND, 0);
	memset(h.key, 0, sizeof(h.key));
	assert_int_equal(pktchan_hdr_encode(&h, buf, sizeof(buf)), 0);
	h = derp_hdr(PKTCHAN_DERP_RECV, 0);
	assert_int_equal(pktchan_hdr_encode(&h, buf, sizeof(buf)), 0);
}

static void test_strerror(void **state)
{
	(void)state;
	/* Every code has its own text. */
	for (int a = PKTCHAN_ERR_TOO_BIG; a <= PKTCHAN_OK; a++) {
		assert_non_null(pktchan_strerror(a));
		assert_true(strlen(pktchan_strerror(a)) > 0);
		for (int b = a + 1; b <= PKTCHAN_OK; b++)
			assert_string_not_equal(pktchan_strerror(a), pktchan_strerror(b));
	}
	assert_string_equal(pktchan_strerror(PKTCHAN_ERR_SHORT), "header too short");
	assert_string_equal(pktchan_strerror(-1000), "unknown packet-channel error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_udp_send),
		cmocka_unit_test(test_round_trip_udp_recv),
		cmocka_unit_test(test_round_trip_derp_send),
		cmocka_unit_test(test_round_trip_derp_recv),
		cmocka_unit_test(test_empty_and_max_payload),
		cmocka_unit_test(test_layout_udp_v4),
		cmocka_unit_test(test_layout_derp_recv),
		cmocka_unit_test(test_err_short),
		cmocka_unit_test(test_err_magic),
		cmocka_unit_test(test_err_version),
		cmocka_unit_test(test_err_kind_zero),
		cmocka_unit_test(test_err_kind_unknown),
		cmocka_unit_test(test_err_flags),
		cmocka_unit_test(test_err_sock),
		cmocka_unit_test(test_err_udp_family_zero),
		cmocka_unit_test(test_err_udp_family_five),
		cmocka_unit_test(test_err_udp_port_zero),
		cmocka_unit_test(test_err_ipv4_trailing_bytes),
		cmocka_unit_test(test_err_udp_region_or_key),
		cmocka_unit_test(test_err_derp_zero_key),
		cmocka_unit_test(test_err_derp_with_address),
		cmocka_unit_test(test_err_derp_recv_region_zero),
		cmocka_unit_test(test_err_too_big),
		cmocka_unit_test(test_encode_small_buffer),
		cmocka_unit_test(test_encode_invalid_header),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, setup_good, NULL);
}

/* derp_frame_test: DERP frame headers, payload rules, limits and encoders.
 * Vectors from Tailscale's derp/derp_test.go (TestReadFrameHeader,
 * TestWriteFrameHeader) and derp/client_test.go (TestClientRecv,
 * TestClientSendPing/Pong); the rest are built by hand from derp.go's
 * layout comments and derpserver.go's writers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "derp/derp_frame.h"

static void fill(uint8_t *p, size_t n, uint8_t start)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(start + i);
}

/* Parses a whole frame (header + payload) as a reader would. */
static int parse_wire(const uint8_t *wire, size_t n, struct derp_frame *f)
{
	struct derp_frame_header h;

	assert_int_equal(derp_frame_header_parse(wire, n, &h), 0);
	assert_int_equal(h.len, n - DERP_FRAME_HEADER_LEN);
	return derp_frame_parse(h.type, wire + DERP_FRAME_HEADER_LEN, h.len, f);
}

/* The generic encoder writes back exactly these bytes. */
static void assert_reencodes(const struct derp_frame *f, const uint8_t *wire, size_t n)
{
	uint8_t buf[256];

	assert_true(n <= sizeof(buf));
	assert_int_equal(derp_frame_encode(f, buf, sizeof(buf)), n);
	assert_memory_equal(buf, wire, n);
}

static void test_magic(void **state)
{
	(void)state;
	static const uint8_t want[] = {0x44, 0x45, 0x52, 0x50, 0xf0, 0x9f, 0x94, 0x91};
	assert_memory_equal(derp_magic, want, sizeof(want));
	assert_memory_equal(derp_magic, "DERP\xf0\x9f\x94\x91", DERP_MAGIC_LEN);
}

static void test_constants(void **state)
{
	(void)state;
	assert_int_equal(DERP_MAX_PACKET_SIZE, 65536);
	assert_int_equal(DERP_MAX_INFO_LEN, 1048576);
	assert_int_equal(DERP_FRAME_HEADER_LEN, 5);
	assert_int_equal(DERP_KEY_LEN, 32);
	assert_int_equal(DERP_NONCE_LEN, 24);
	assert_int_equal(DERP_PROTOCOL_VERSION, 2);
	assert_int_equal(DERP_KEEPALIVE_MS, 60000);
	assert_int_equal(DERP_FRAME_FORWARD_PACKET, 0x0a);
	assert_int_equal(DERP_FRAME_WATCH_CONNS, 0x10);
	assert_int_equal(DERP_FRAME_RESTARTING, 0x15);
	assert_int_equal(DERP_PEER_PRESENT_NOT_IDEAL, 0x08);
}

/* derp_test.go TestReadFrameHeader / TestWriteFrameHeader. */
static void test_header_tailscale_vectors(void **state)
{
	(void)state;
	static const struct {
		uint8_t wire[5];
		uint8_t type;
		uint32_t len;
	} v[] = {
		{{0x04, 0x00, 0x00, 0x04, 0x00}, DERP_FRAME_SEND_PACKET, 1024},
		{{0x06, 0x00, 0x00, 0x00, 0x00}, DERP_FRAME_KEEP_ALIVE, 0},
		{{0x05, 0xff, 0xff, 0xff, 0xff}, DERP_FRAME_RECV_PACKET, 0xffffffff},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct derp_frame_header h;
		uint8_t buf[5];

		assert_int_equal(derp_frame_header_parse(v[i].wire, 5, &h), 0);
		assert_int_equal(h.type, v[i].type);
		assert_int_equal(h.len, v[i].len);
		assert_int_equal(derp_frame_header_encode(v[i].type, v[i].len, buf, sizeof(buf)),
				 5);
		assert_memory_equal(buf, v[i].wire, 5);
	}
}

static void test_header_short(void **state)
{
	(void)state;
	static const uint8_t wire[5] = {0x04, 0, 0, 0, 32};
	struct derp_frame_header h;
	uint8_t buf[4];

	for (size_t n = 0; n < 5; n++)
		assert_int_equal(derp_frame_header_parse(wire, n, &h), DERP_ERR_SHORT_HEADER);
	assert_int_equal(derp_frame_header_parse(NULL, 5, &h), DERP_ERR_SHORT_HEADER);
	assert_int_equal(derp_frame_header_encode(0x04, 1, buf, sizeof(buf)), 0);
}

/* client_test.go TestClientRecv. */
static void test_client_recv_vectors(void **state)
{
	(void)state;
	static const uint8_t ping[] = {0x12, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
	static const uint8_t pong[] = {0x13, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
	static const uint8_t health_bad[] = {0x14, 0, 0, 0, 3, 'B', 'A', 'D'};
	static const uint8_t health_ok[] = {0x14, 0, 0, 0, 0};
	static const uint8_t restarting[] = {0x15, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 2};
	static const uint8_t want8[] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct derp_frame f;

	assert_int_equal(parse_wire(ping, sizeof(ping), &f), 0);
	assert_int_equal(f.type, DERP_FRAME_PING);
	assert_memory_equal(f.u.ping, want8, 8);
	assert_reencodes(&f, ping, sizeof(ping));

	assert_int_equal(parse_wire(pong, sizeof(pong), &f), 0);
	assert_int_equal(f.type, DERP_FRAME_PONG);
	assert_memory_equal(f.u.pong, want8, 8);
	assert_reencodes(&f, pong, sizeof(pong));

	assert_int_equal(parse_wire(health_bad, sizeof(health_bad), &f), 0);
	assert_int_equal(f.u.health.len, 3);
	assert_memory_equal(f.u.health.text, "BAD", 3);
	assert_reencodes(&f, health_bad, sizeof(health_bad));

	assert_int_equal(parse_wire(health_ok, sizeof(health_ok), &f), 0);
	assert_int_equal(f.u.health.len, 0);
	assert_reencodes(&f, health_ok, sizeof(health_ok));

	assert_int_equal(parse_wire(restarting, sizeof(restarting), &f), 0);
	assert_int_equal(f.u.restarting.reconnect_in_ms, 1);
	assert_int_equal(f.u.restarting.try_for_ms, 2);
	assert_reencodes(&f, restarting, sizeof(restarting));
}

/* client_test.go TestClientSendPing / TestClientSendPong. */
static void test_client_send_ping_pong(void **state)
{
	(void)state;
	static const uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	static const uint8_t want_ping[] = {0x12, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
	static const uint8_t want_pong[] = {0x13, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
	uint8_t buf[32];

	assert_int_equal(derp_encode_ping(data, buf, sizeof(buf)), sizeof(want_ping));
	assert_memory_equal(buf, want_ping, sizeof(want_ping));
	assert_int_equal(derp_encode_pong(data, buf, sizeof(buf)), sizeof(want_pong));
	assert_memory_equal(buf, want_pong, sizeof(want_pong));
}

static void test_server_key(void **state)
{
	(void)state;
	uint8_t key[32], want[45], buf[64], extra[45 + 3];
	struct derp_frame f;

	fill(key, 32, 0xa0);
	memcpy(want, (uint8_t[]){0x01, 0, 0, 0, 40}, 5);
	memcpy(want + 5, derp_magic, 8);
	memcpy(want + 13, key, 32);
	assert_int_equal(derp_encode_server_key(key, buf, sizeof(buf)), 45);
	assert_memory_equal(buf, want, 45);
	assert_int_equal(parse_wire(want, 45, &f), 0);
	assert_memory_equal(f.u.server_key.key, key, 32);
	assert_reencodes(&f, want, 45);

	/* "0+ bytes future use" after the key are ignored. */
	memcpy(extra, want, 45);
	extra[4] = 43;
	memset(extra + 45, 0xee, 3);
	assert_int_equal(parse_wire(extra, sizeof(extra), &f), 0);
	assert_memory_equal(f.u.server_key.key, key, 32);
}

static void test_server_key_malformed(void **state)
{
	(void)state;
	uint8_t p[40];
	struct derp_frame f;

	memcpy(p, derp_magic, 8);
	fill(p + 8, 32, 1);
	assert_int_equal(derp_frame_parse(DERP_FRAME_SERVER_KEY, p, 39, &f), DERP_ERR_SHORT);
	p[7] ^= 1;
	assert_int_equal(derp_frame_parse(DERP_FRAME_SERVER_KEY, p, 40, &f), DERP_ERR_BAD_MAGIC);
	/* recvServerKey reads at most 1 KiB. */
	assert_int_equal(derp_frame_max_len(DERP_FRAME_SERVER_KEY, DERP_SIDE_CLIENT), 1024);
}

static void test_send_packet(void **state)
{
	(void)state;
	uint8_t dst[32], pkt[3] = {0xde, 0xad, 0x01}, want[5 + 35], buf[64];
	struct derp_frame f;

	fill(dst, 32, 0x10);
	memcpy(want, (uint8_t[]){0x04, 0, 0, 0, 35}, 5);
	memcpy(want + 5, dst, 32);
	memcpy(want + 37, pkt, 3);
	assert_int_equal(derp_encode_send_packet(dst, pkt, 3, buf, sizeof(buf)), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(parse_wire(want, sizeof(want), &f), 0);
	assert_memory_equal(f.u.send_packet.dst, dst, 32);
	assert_int_equal(f.u.send_packet.len, 3);
	/* The packet points into the payload. */
	assert_ptr_equal(f.u.send_packet.pkt, want + 37);
	assert_reencodes(&f, want, sizeof(want));

	/* A key and no packet is a valid (empty) packet. */
	assert_int_equal(derp_frame_parse(DERP_FRAME_SEND_PACKET, dst, 32, &f), 0);
	assert_int_equal(f.u.send_packet.len, 0);
}

static void test_send_packet_empty(void **state)
{
	(void)state;
	struct derp_frame f;

	assert_int_equal(derp_frame_parse(DERP_FRAME_SEND_PACKET, NULL, 0, &f), DERP_ERR_SHORT);
}

static void test_send_packet_shorter_than_key(void **state)
{
	(void)state;
	uint8_t p[31] = {0};
	struct derp_frame f;

	assert_int_equal(derp_frame_parse(DERP_FRAME_SEND_PACKET, p, sizeof(p), &f),
			 DERP_ERR_SHORT);
}

static void test_send_packet_over_limit(void **state)
{
	(void)state;
	const size_t max = 32 + 65536;
	uint8_t *p = calloc(1, max + 1);
	struct derp_frame_header h = {DERP_FRAME_SEND_PACKET, (uint32_t)max};
	struct derp_frame f;

	assert_non_null(p);
	assert_int_equal(derp_frame_max_len(DERP_FRAME_SEND_PACKET, DERP_SIDE_SERVER), max);
	assert_int_equal(derp_frame_header_check(&h, DERP_SIDE_SERVER), 0);
	assert_int_equal(derp_frame_parse(DERP_FRAME_SEND_PACKET, p, max, &f), 0);
	assert_int_equal(f.u.send_packet.len, 65536);
	/* Just over 64 KiB + key: refused from the header and by the parser. */
	h.len = (uint32_t)max + 1;
	assert_int_equal(derp_frame_header_check(&h, DERP_SIDE_SERVER), DERP_ERR_TOO_LONG);
	assert_int_equal(derp_frame_parse(DERP_FRAME_SEND_PACKET, p, max + 1, &f),
			 DERP_ERR_TOO_LONG);
	free(p);
}

static void test_header_len_max_u32(void **state)
{
	(void)state;
	static const uint8_t known[] = {DERP_FRAME_SEND_PACKET,	   DERP_FRAME_FORWARD_PACKET,
					DERP_FRAME_CLIENT_INFO,	   DERP_FRAME_PING,
					DERP_FRAME_NOTE_PREFERRED, DERP_FRAME_CLOSE_PEER,
					DERP_FRAME_WATCH_CONNS};
	struct derp_frame_header h;

	for (size_t i = 0; i < sizeof(known); i++) {
		uint8_t wire[5] = {known[i], 0xff, 0xff, 0xff, 0xff};
		assert_int_equal(derp_frame_header_parse(wire, 5, &h), 0);
		assert_int_equal(h.len, UINT32_MAX);
		assert_int_equal(derp_frame_header_check(&h, DERP_SIDE_SERVER), DERP_ERR_TOO_LONG);
		assert_int_equal(derp_frame_header_check(&h, DERP_SIDE_CLIENT), DERP_ERR_TOO_LONG);
	}
	/* A client refuses any frame over 1 MiB, known type or not. */
	h.type = DERP_FRAME_RECV_PACKET;
	h.len = (1 << 20) + 1;
	assert_int_equal(derp_frame_header_check(&h, DERP_SIDE_CLIENT), DERP_ERR_TOO_LONG);
	h.len = 1 << 20;
	assert_int_equal(derp_frame_header_check(&h, DERP_SIDE_CLIENT), 0);
}

static void test_recv_packet(void **state)
{
	(void)state;
	uint8_t src[32], pkt[4] = {1, 2, 3, 4}, want[5 + 36], buf[64];
	struct derp_frame f;

	fill(src, 32, 0x30);
	memcpy(want, (uint8_t[]){0x05, 0, 0, 0, 36}, 5);
	memcpy(want + 5, src, 32);
	memcpy(want + 37, pkt, 4);
	assert_int_equal(derp_encode_recv_packet(src, pkt, 4, buf, sizeof(buf)), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(parse_wire(want, sizeof(want), &f), 0);
	assert_memory_equal(f.u.recv_packet.src, src, 32);
	assert_int_equal(f.u.recv_packet.len, 4);
	assert_memory_equal(f.u.recv_packet.pkt, pkt, 4);
	assert_reencodes(&f, want, sizeof(want));
	assert_int_equal(derp_frame_parse(DERP_FRAME_RECV_PACKET, src, 31, &f), DERP_ERR_SHORT);
}

static void test_forward_packet(void **state)
{
	(void)state;
	uint8_t src[32], dst[32], pkt[2] = {9, 8}, want[5 + 66], buf[96];
	struct derp_frame f;
	uint8_t *big;

	fill(src, 32, 0x40);
	fill(dst, 32, 0x80);
	memcpy(want, (uint8_t[]){0x0a, 0, 0, 0, 66}, 5);
	memcpy(want + 5, src, 32);
	memcpy(want + 37, dst, 32);
	memcpy(want + 69, pkt, 2);
	assert_int_equal(derp_encode_forward_packet(src, dst, pkt, 2, buf, sizeof(buf)),
			 sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(parse_wire(want, sizeof(want), &f), 0);
	assert_memory_equal(f.u.forward_packet.src, src, 32);
	assert_memory_equal(f.u.forward_packet.dst, dst, 32);
	assert_int_equal(f.u.forward_packet.len, 2);
	assert_reencodes(&f, want, sizeof(want));

	assert_int_equal(derp_frame_parse(DERP_FRAME_FORWARD_PACKET, want + 5, 63, &f),
			 DERP_ERR_SHORT);
	assert_int_equal(derp_frame_max_len(DERP_FRAME_FORWARD_PACKET, DERP_SIDE_SERVER),
			 64 + 65536);
	big = calloc(1, 64 + 65536 + 1);
	assert_non_null(big);
	assert_int_equal(derp_frame_parse(DERP_FRAME_FORWARD_PACKET, big, 64 + 65536, &f), 0);
	assert_int_equal(derp_frame_parse(DERP_FRAME_FORWARD_PACKET, big, 64 + 65536 + 1, &f),
			 DERP_ERR_TOO_LONG);
	free(big);
}

static void test_keepalive_and_watch_conns(void **state)
{
	(void)state;
	static const uint8_t ka[] = {0x06, 0, 0, 0, 0};
	static const uint8_t wc[] = {0x10, 0, 0, 0, 0};
	uint8_t buf[8], junk[3] = {1, 2, 3};
	struct derp_frame f;

	assert_int_equal(derp_encode_keepalive(buf, sizeof(buf)), 5);
	assert_memory_equal(buf, ka, 5);
	assert_int_equal(parse_wire(ka, 5, &f), 0);
	assert_int_equal(f.type, DERP_FRAME_KEEP_ALIVE);
	assert_reencodes(&f, ka, 5);
	/* The client ignores a KeepAlive's payload. */
	assert_int_equal(derp_frame_parse(DERP_FRAME_KEEP_ALIVE, junk, 3, &f), 0);

	assert_int_equal(derp_encode_watch_conns(buf, sizeof(buf)), 5);
	assert_memory_equal(buf, wc, 5);
	assert_int_equal(parse_wire(wc, 5, &f), 0);
	assert_reencodes(&f, wc, 5);
}

static void test_watch_conns_with_payload(void **state)
{
	(void)state;
	uint8_t junk[1] = {0};
	struct derp_frame f;

	assert_int_equal(derp_frame_parse(DERP_FRAME_WATCH_CONNS, junk, 1, &f), DERP_ERR_TOO_LONG);
	assert_int_equal(derp_frame_max_len(DERP_FRAME_WATCH_CONNS, DERP_SIDE_SERVER), 0);
}

static void test_note_preferred(void **state)
{
	(void)state;
	static const uint8_t yes[] = {0x07, 0, 0, 0, 1, 0x01};
	static const uint8_t no[] = {0x07, 0, 0, 0, 1, 0x00};
	uint8_t buf[8], v = 0x7f;
	struct derp_frame f;

	assert_int_equal(derp_encode_note_preferred(true, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, yes, 6);
	assert_int_equal(derp_encode_note_preferred(false, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, no, 6);
	assert_int_equal(parse_wire(yes, 6, &f), 0);
	assert_true(f.u.note_preferred);
	assert_reencodes(&f, yes, 6);
	assert_int_equal(parse_wire(no, 6, &f), 0);
	assert_false(f.u.note_preferred);
	/* The server reads any non-zero byte as true. */
	assert_int_equal(derp_frame_parse(DERP_FRAME_NOTE_PREFERRED, &v, 1, &f), 0);
	assert_true(f.u.note_preferred);
}

static void test_note_preferred_wrong_size(void **state)
{
	(void)state;
	uint8_t p[2] = {1, 1};
	struct derp_frame f;

	assert_int_equal(derp_frame_parse(DERP_FRAME_NOTE_PREFERRED, p, 0, &f), DERP_ERR_SHORT);
	assert_int_equal(derp_frame_parse(DERP_FRAME_NOTE_PREFERRED, p, 2, &f), DERP_ERR_TOO_LONG);
}

static void test_peer_gone(void **state)
{
	(void)state;
	uint8_t peer[32], want[5 + 33], buf[64];
	struct derp_frame f;

	fill(peer, 32, 0x55);
	memcpy(want, (uint8_t[]){0x08, 0, 0, 0, 33}, 5);
	memcpy(want + 5, peer, 32);
	want[37] = DERP_PEER_GONE_NOT_HERE;
	assert_int_equal(derp_encode_peer_gone(peer, DERP_PEER_GONE_NOT_HERE, buf, sizeof(buf)),
			 38);
	assert_memory_equal(buf, want, 38);
	assert_int_equal(parse_wire(want, 38, &f), 0);
	assert_memory_equal(f.u.peer_gone.peer, peer, 32);
	assert_int_equal(f.u.peer_gone.reason, DERP_PEER_GONE_NOT_HERE);
	assert_reencodes(&f, want, 38);

	want[37] = DERP_PEER_GONE_DISCONNECTED;
	assert_int_equal(derp_encode_peer_gone(peer, DERP_PEER_GONE_DISCONNECTED, buf, sizeof(buf)),
			 38);
	assert_memory_equal(buf, want, 38);

	/* Older servers sent the key alone: reason Disconnected. */
	assert_int_equal(derp_frame_parse(DERP_FRAME_PEER_GONE, peer, 32, &f), 0);
	assert_int_equal(f.u.peer_gone.reason, DERP_PEER_GONE_DISCONNECTED);
	assert_int_equal(derp_frame_parse(DERP_FRAME_PEER_GONE, peer, 31, &f), DERP_ERR_SHORT);
	/* MeshConnBroke is never sent. */
	assert_int_equal(
		derp_encode_peer_gone(peer, DERP_PEER_GONE_MESH_CONN_BROKE, buf, sizeof(buf)), 0);
}

static void test_peer_present(void **state)
{
	(void)state;
	/* 192.0.2.7:41641 as Go's As16: v4-mapped. */
	static const uint8_t ip[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7};
	uint8_t peer[32], want[5 + 51], buf[64], longer[60];
	struct derp_frame f;
	const uint8_t flags = DERP_PEER_PRESENT_IS_REGULAR | DERP_PEER_PRESENT_NOT_IDEAL;

	fill(peer, 32, 0x66);
	memcpy(want, (uint8_t[]){0x09, 0, 0, 0, 51}, 5);
	memcpy(want + 5, peer, 32);
	memcpy(want + 37, ip, 16);
	want[53] = 0xa2; /* 41641 = 0xa2a9 */
	want[54] = 0xa9;
	want[55] = flags;
	assert_int_equal(derp_encode_peer_present(peer, ip, 41641, flags, buf, sizeof(buf)), 56);
	assert_memory_equal(buf, want, 56);
	assert_int_equal(parse_wire(want, 56, &f), 0);
	assert_memory_equal(f.u.peer_present.peer, peer, 32);
	assert_true(f.u.peer_present.has_ip_port);
	assert_memory_equal(f.u.peer_present.ip, ip, 16);
	assert_int_equal(f.u.peer_present.port, 41641);
	assert_true(f.u.peer_present.has_flags);
	assert_int_equal(f.u.peer_present.flags, 0x09);
	assert_reencodes(&f, want, 56);

	/* Old servers: key only; key + IP + port without flags. */
	assert_int_equal(derp_frame_parse(DERP_FRAME_PEER_PRESENT, want + 5, 32, &f), 0);
	assert_false(f.u.peer_present.has_ip_port);
	assert_false(f.u.peer_present.has_flags);
	assert_int_equal(derp_frame_parse(DERP_FRAME_PEER_PRESENT, want + 5, 49, &f), 0);
	assert_false(f.u.peer_present.has_ip_port);
	assert_int_equal(derp_frame_parse(DERP_FRAME_PEER_PRESENT, want + 5, 50, &f), 0);
	assert_true(f.u.peer_present.has_ip_port);
	assert_int_equal(f.u.peer_present.port, 41641);
	assert_false(f.u.peer_present.has_flags);
	/* Newer servers may send more: ignored. */
	memcpy(longer, want + 5, 51);
	memset(longer + 51, 0xcc, sizeof(longer) - 51);
	assert_int_equal(derp_frame_parse(DERP_FRAME_PEER_PRESENT, longer, sizeof(longer), &f), 0);
	assert_int_equal(f.u.peer_present.flags, flags);
	assert_int_equal(derp_frame_parse(DERP_FRAME_PEER_PRESENT, longer, 31, &f), DERP_ERR_SHORT);
}

static void test_close_peer(void **state)
{
	(void)state;
	uint8_t peer[33], want[5 + 32], buf[64];
	struct derp_frame f;

	fill(peer, 33, 0x77);
	memcpy(want, (uint8_t[]){0x11, 0, 0, 0, 32}, 5);
	memcpy(want + 5, peer, 32);
	assert_int_equal(derp_encode_close_peer(peer, buf, sizeof(buf)), 37);
	assert_memory_equal(buf, want, 37);
	assert_int_equal(parse_wire(want, 37, &f), 0);
	assert_memory_equal(f.u.close_peer.peer, peer, 32);
	assert_reencodes(&f, want, 37);
}

static void test_close_peer_wrong_size(void **state)
{
	(void)state;
	uint8_t peer[33] = {0};
	struct derp_frame f;

	assert_int_equal(derp_frame_parse(DERP_FRAME_CLOSE_PEER, peer, 31, &f), DERP_ERR_SHORT);
	assert_int_equal(derp_frame_parse(DERP_FRAME_CLOSE_PEER, peer, 33, &f), DERP_ERR_TOO_LONG);
}

static void test_ping_extra_bytes(void **state)
{
	(void)state;
	uint8_t p[12];
	struct derp_frame f;

	fill(p, sizeof(p), 1);
	/* Both sides read 8 bytes and discard the rest. */
	assert_int_equal(derp_frame_parse(DERP_FRAME_PING, p, sizeof(p), &f), 0);
	assert_memory_equal(f.u.ping, p, 8);
	assert_int_equal(derp_frame_parse(DERP_FRAME_PONG, p, sizeof(p), &f), 0);
	assert_memory_equal(f.u.pong, p, 8);
}

static void test_ping_short(void **state)
{
	(void)state;
	uint8_t p[7] = {0};
	struct derp_frame f;

	assert_int_equal(derp_frame_parse(DERP_FRAME_PING, p, 7, &f), DERP_ERR_SHORT);
	assert_int_equal(derp_frame_parse(DERP_FRAME_PONG, p, 7, &f), DERP_ERR_SHORT);
}

/* derpserver.go handleFramePing: "ping body too large" past 1000 bytes. */
static void test_ping_over_1000_bytes(void **state)
{
	(void)state;
	struct derp_frame_header h = {DERP_FRAME_PING, 1000};

	assert_int_equal(derp_frame_max_len(DERP_FRAME_PING, DERP_SIDE_SERVER),
			 DERP_PING_MAX_BYTES);
	assert_int_equal(derp_frame_header_check(&h, DERP_SIDE_SERVER), 0);
	h.len = 1001;
	assert_int_equal(derp_frame_header_check(&h, DERP_SIDE_SERVER), DERP_ERR_TOO_LONG);
	/* A client has only its 1 MiB frame cap. */
	assert_int_equal(derp_frame_header_check(&h, DERP_SIDE_CLIENT), 0);
}

static void test_health(void **state)
{
	(void)state;
	static const uint8_t want[] = {0x14, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
	static const uint8_t empty[] = {0x14, 0, 0, 0, 0};
	uint8_t buf[16];
	struct derp_frame f;

	assert_int_equal(derp_encode_health("hello", buf, sizeof(buf)), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(derp_encode_health("", buf, sizeof(buf)), 5);
	assert_memory_equal(buf, empty, 5);
	assert_int_equal(parse_wire(want, sizeof(want), &f), 0);
	assert_int_equal(f.u.health.len, 5);
	assert_memory_equal(f.u.health.text, "hello", 5);
}

static void test_restarting(void **state)
{
	(void)state;
	static const uint8_t want[] = {0x15, 0,	   0,	 0,    8,    0x00, 0x00,
				       0x13, 0x88, 0xff, 0xff, 0xff, 0xff};
	uint8_t buf[16], p[7] = {0};
	struct derp_frame f;

	assert_int_equal(derp_encode_restarting(5000, UINT32_MAX, buf, sizeof(buf)), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(parse_wire(want, sizeof(want), &f), 0);
	assert_int_equal(f.u.restarting.reconnect_in_ms, 5000);
	assert_int_equal(f.u.restarting.try_for_ms, UINT32_MAX);
	assert_int_equal(derp_frame_parse(DERP_FRAME_RESTARTING, p, 7, &f), DERP_ERR_SHORT);
}

static void test_client_info_frame(void **state)
{
	(void)state;
	uint8_t p[32 + 24 + 20];
	struct derp_frame f;

	fill(p, sizeof(p), 3);
	assert_int_equal(derp_frame_parse(DERP_FRAME_CLIENT_INFO, p, sizeof(p), &f), 0);
	assert_memory_equal(f.u.client_info.client_pub, p, 32);
	assert_ptr_equal(f.u.client_info.nonce, p + 32);
	assert_ptr_equal(f.u.client_info.box, p + 56);
	assert_int_equal(f.u.client_info.box_len, 20);
	assert_int_equal(derp_frame_parse(DERP_FRAME_CLIENT_INFO, p, 55, &f), DERP_ERR_SHORT);

	assert_int_equal(derp_frame_parse(DERP_FRAME_SERVER_INFO, p, sizeof(p), &f), 0);
	assert_ptr_equal(f.u.server_info.nonce, p);
	assert_ptr_equal(f.u.server_info.box, p + 24);
	assert_int_equal(f.u.server_info.box_len, sizeof(p) - 24);
	assert_int_equal(derp_frame_parse(DERP_FRAME_SERVER_INFO, p, 23, &f), DERP_ERR_SHORT);
}

static void test_client_info_frame_too_long(void **state)
{
	(void)state;
	const size_t max = 256 << 10;
	uint8_t *p = calloc(1, max + 1);
	struct derp_frame f;

	assert_non_null(p);
	assert_int_equal(derp_frame_max_len(DERP_FRAME_CLIENT_INFO, DERP_SIDE_SERVER), max);
	assert_int_equal(derp_frame_parse(DERP_FRAME_CLIENT_INFO, p, max, &f), 0);
	assert_int_equal(derp_frame_parse(DERP_FRAME_CLIENT_INFO, p, max + 1, &f),
			 DERP_ERR_TOO_LONG);
	free(p);
}

static void test_server_info_frame_too_long(void **state)
{
	(void)state;
	const size_t max = 24 + (1 << 20);
	uint8_t *p = calloc(1, max + 1);
	struct derp_frame f;

	assert_non_null(p);
	assert_int_equal(derp_frame_parse(DERP_FRAME_SERVER_INFO, p, max, &f), 0);
	assert_int_equal(derp_frame_parse(DERP_FRAME_SERVER_INFO, p, max + 1, &f),
			 DERP_ERR_TOO_LONG);
	free(p);
}

static void test_unknown_type(void **state)
{
	(void)state;
	static const uint8_t types[] = {0x00, 0x0b, 0x0f, 0x16, 0x7f, 0xff};
	uint8_t p[4] = {1, 2, 3, 4};
	struct derp_frame f;
	uint8_t buf[16];

	for (size_t i = 0; i < sizeof(types); i++) {
		assert_int_equal(derp_frame_parse(types[i], p, sizeof(p), &f),
				 DERP_ERR_UNKNOWN_TYPE);
		assert_int_equal(derp_frame_parse(types[i], NULL, 0, &f), DERP_ERR_UNKNOWN_TYPE);
		/* The server skips them unbuffered; the client's 1 MiB cap
		 * applies to every frame. */
		assert_true(derp_frame_max_len(types[i], DERP_SIDE_SERVER) ==
			    DERP_FRAME_LEN_UNLIMITED);
		assert_int_equal(derp_frame_max_len(types[i], DERP_SIDE_CLIENT), 1 << 20);
		f.type = types[i];
		assert_int_equal(derp_frame_encode(&f, buf, sizeof(buf)), 0);
	}
}

static void test_max_len_table(void **state)
{
	(void)state;
	/* Types a Tailscale server does not read are skipped. */
	static const uint8_t skipped[] = {
		DERP_FRAME_SERVER_KEY, DERP_FRAME_SERVER_INFO, DERP_FRAME_RECV_PACKET,
		DERP_FRAME_KEEP_ALIVE, DERP_FRAME_PEER_GONE,   DERP_FRAME_PEER_PRESENT,
		DERP_FRAME_PONG,       DERP_FRAME_HEALTH,      DERP_FRAME_RESTARTING};

	for (size_t i = 0; i < sizeof(skipped); i++)
		assert_true(derp_frame_max_len(skipped[i], DERP_SIDE_SERVER) ==
			    DERP_FRAME_LEN_UNLIMITED);
	assert_int_equal(derp_frame_max_len(DERP_FRAME_NOTE_PREFERRED, DERP_SIDE_SERVER), 1);
	assert_int_equal(derp_frame_max_len(DERP_FRAME_CLOSE_PEER, DERP_SIDE_SERVER), 32);
	assert_int_equal(derp_frame_max_len(DERP_FRAME_PEER_GONE, DERP_SIDE_CLIENT), 1 << 20);
	assert_int_equal(derp_frame_max_len(DERP_FRAME_SEND_PACKET, DERP_SIDE_INVALID), 0);
}

static void test_encoders_refuse(void **state)
{
	(void)state;
	uint8_t key[32] = {1}, data[8] = {0}, ip[16] = {0};
	uint8_t *pkt = calloc(1, 65537), *buf = malloc(70000);

	assert_non_null(pkt);
	assert_non_null(buf);
	/* Packets over MaxPacketSize. */
	assert_int_equal(derp_encode_send_packet(key, pkt, 65537, buf, 70000), 0);
	assert_int_equal(derp_encode_recv_packet(key, pkt, 65537, buf, 70000), 0);
	assert_int_equal(derp_encode_forward_packet(key, key, pkt, 65537, buf, 70000), 0);
	assert_int_equal(derp_encode_send_packet(key, pkt, 65536, buf, 70000), 5 + 32 + 65536);
	/* One byte short of room. */
	assert_int_equal(derp_encode_send_packet(key, pkt, 10, buf, 5 + 32 + 9), 0);
	assert_int_equal(derp_encode_server_key(key, buf, 44), 0);
	assert_int_equal(derp_encode_keepalive(buf, 4), 0);
	assert_int_equal(derp_encode_watch_conns(buf, 4), 0);
	assert_int_equal(derp_encode_note_preferred(true, buf, 5), 0);
	assert_int_equal(derp_encode_peer_gone(key, 0, buf, 37), 0);
	assert_int_equal(derp_encode_peer_present(key, ip, 1, 1, buf, 55), 0);
	assert_int_equal(derp_encode_close_peer(key, buf, 36), 0);
	assert_int_equal(derp_encode_ping(data, buf, 12), 0);
	assert_int_equal(derp_encode_pong(data, buf, 12), 0);
	assert_int_equal(derp_encode_health("abc", buf, 7), 0);
	assert_int_equal(derp_encode_restarting(1, 2, buf, 12), 0);
	/* Missing arguments. */
	assert_int_equal(derp_encode_send_packet(NULL, pkt, 1, buf, 100), 0);
	assert_int_equal(derp_encode_send_packet(key, NULL, 1, buf, 100), 0);
	assert_int_equal(derp_encode_health(NULL, buf, 100), 0);
	assert_int_equal(derp_encode_ping(data, NULL, 100), 0);
	free(pkt);
	free(buf);
}

static void test_strerror_distinct(void **state)
{
	(void)state;
	for (int a = DERP_ERR_CRYPTO; a <= DERP_OK; a++) {
		assert_non_null(derp_strerror(a));
		assert_string_not_equal(derp_strerror(a), "derp: unknown error");
		for (int b = a + 1; b <= DERP_OK; b++)
			assert_string_not_equal(derp_strerror(a), derp_strerror(b));
	}
	assert_string_equal(derp_strerror(-1000), "derp: unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_magic),
		cmocka_unit_test(test_constants),
		cmocka_unit_test(test_header_tailscale_vectors),
		cmocka_unit_test(test_header_short),
		cmocka_unit_test(test_client_recv_vectors),
		cmocka_unit_test(test_client_send_ping_pong),
		cmocka_unit_test(test_server_key),
		cmocka_unit_test(test_server_key_malformed),
		cmocka_unit_test(test_send_packet),
		cmocka_unit_test(test_send_packet_empty),
		cmocka_unit_test(test_send_packet_shorter_than_key),
		cmocka_unit_test(test_send_packet_over_limit),
		cmocka_unit_test(test_header_len_max_u32),
		cmocka_unit_test(test_recv_packet),
		cmocka_unit_test(test_forward_packet),
		cmocka_unit_test(test_keepalive_and_watch_conns),
		cmocka_unit_test(test_watch_conns_with_payload),
		cmocka_unit_test(test_note_preferred),
		cmocka_unit_test(test_note_preferred_wrong_size),
		cmocka_unit_test(test_peer_gone),
		cmocka_unit_test(test_peer_present),
		cmocka_unit_test(test_close_peer),
		cmocka_unit_test(test_close_peer_wrong_size),
		cmocka_unit_test(test_ping_extra_bytes),
		cmocka_unit_test(test_ping_short),
		cmocka_unit_test(test_ping_over_1000_bytes),
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_restarting),
		cmocka_unit_test(test_client_info_frame),
		cmocka_unit_test(test_client_info_frame_too_long),
		cmocka_unit_test(test_server_info_frame_too_long),
		cmocka_unit_test(test_unknown_type),
		cmocka_unit_test(test_max_len_table),
		cmocka_unit_test(test_encoders_refuse),
		cmocka_unit_test(test_strerror_distinct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

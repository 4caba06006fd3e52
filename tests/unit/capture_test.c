/* capture_test: the capture record (lib/capture.c): round trips of each
 * path and family with the synthetic IP/UDP headers checked byte by byte
 * (checksums included), an oversize payload cut to fit, one test per
 * malformed record and frame, and the pcap and pcapng writers' exact
 * layout (docs/capture.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "be.h"
#include "capture.h"

static uint8_t buf[CAPTURE_MAX_REC_BYTES + 16];
static uint8_t out[CAPTURE_PCAPNG_EPB_MAX_BYTES];

static struct capture_rec rec(int family, enum capture_dir dir)
{
	struct capture_rec r = {.dir = dir,
				.path = CAPTURE_PATH_DIRECT,
				.kind = CAPTURE_KIND_WIREGUARD,
				.local_port = 41641,
				.sessions = 1,
				.unix_ns = 1767225600123456789ull};

	assert_int_equal(ip_parse(family == AF_INET ? "198.51.100.7" : "2001:db8::7", &r.remote),
			 0);
	r.remote.port = 12345;
	for (int i = 0; i < 32; i++)
		r.key[i] = (uint8_t)(0xa0 + i);
	return r;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint32_t sum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += be_get16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static void test_v4_rx_round_trip(void **state)
{
	struct capture_rec r = rec(AF_INET, CAPTURE_DIR_RX), back;
	const uint8_t payload[5] = {4, 0, 0, 0, 9};
	const uint8_t *pkt;
	size_t n, plen;

	(void)state;
	n = capture_rec_encode(&r, payload, sizeof(payload), buf, sizeof(buf));
	assert_int_equal(n, CAPTURE_HDR_BYTES + 20 + 8 + 5);
	assert_int_equal(n, capture_rec_size(&r, sizeof(payload)));
	assert_int_equal(capture_rec_parse(buf, n, &back, &pkt, &plen), CAPTURE_OK);
	assert_int_equal(back.dir, CAPTURE_DIR_RX);
	assert_int_equal(back.remote.port, 12345);
	assert_memory_equal(back.remote.ip, r.remote.ip, 16);
	assert_memory_equal(back.key, r.key, 32);
	assert_true(back.unix_ns == r.unix_ns);
	assert_int_equal(back.orig_len, 5);
	assert_int_equal(capture_rec_wire_len(&back), 33);
	assert_int_equal(plen, 33);
	/* IPv4: 45, total 33, TTL 64, UDP, a header checksum that sums to
	 * 0xffff, 198.51.100.7 -> 0.0.0.0 */
	assert_int_equal(pkt[0], 0x45);
	assert_int_equal(be_get16(pkt + 2), 33);
	assert_int_equal(pkt[8], 64);
	assert_int_equal(pkt[9], 17);
	assert_int_equal(fold(sum(pkt, 20)), 0xffff);
	assert_memory_equal(pkt + 12, "\xc6\x33\x64\x07\0\0\0\0", 8);
	/* UDP 12345 -> 41641, length 13, no checksum, the payload */
	assert_int_equal(be_get16(pkt + 20), 12345);
	assert_int_equal(be_get16(pkt + 22), 41641);
	assert_int_equal(be_get16(pkt + 24), 13);
	assert_int_equal(be_get16(pkt + 26), 0);
	assert_memory_equal(pkt + 28, payload, 5);
	assert_int_equal(capture_rec_sessions(buf, n, &r.sessions), CAPTURE_OK);
	assert_int_equal(r.sessions, 1);
}

static void test_v6_tx_checksum(void **state)
{
	struct capture_rec r = rec(AF_INET6, CAPTURE_DIR_TX), back;
	uint8_t payload[101];
	const uint8_t *pkt;
	size_t n, plen;
	uint32_t s;

	(void)state;
	memset(payload, 0x77, sizeof(payload)); /* odd: the last byte is padded */
	r.kind = CAPTURE_KIND_DISCO;
	r.sessions = 0x81;
	n = capture_rec_encode(&r, payload, sizeof(payload), buf, sizeof(buf));
	assert_int_equal(capture_rec_parse(buf, n, &back, &pkt, &plen), CAPTURE_OK);
	assert_int_equal(back.sessions, 0x81);
	assert_int_equal(pkt[0] >> 4, 6);
	assert_int_equal(be_get16(pkt + 4), 8 + 101);
	assert_int_equal(pkt[6], 17);
	/* tx: :: -> 2001:db8::7, 41641 -> 12345 */
	assert_memory_equal(pkt + 8, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	assert_int_equal(pkt[24], 0x20);
	assert_int_equal(be_get16(pkt + 40), 41641);
	assert_int_equal(be_get16(pkt + 42), 12345);
	/* The pseudo-header, then the datagram: all ones. */
	s = sum(pkt + 8, 32) + 8 + 101 + 17 + sum(pkt + 40, 8 + 101);
	assert_int_equal(fold(s), 0xffff);
}

static void test_derp_magic_address(void **state)
{
	struct capture_rec r = rec(AF_INET, CAPTURE_DIR_TX), back;
	char c[CAPTURE_COMMENT_MAX_BYTES];
	size_t n;

	(void)state;
	r.path = CAPTURE_PATH_DERP;
	r.region = 900;
	memset(r.remote.ip, 0, 16);
	be_put32(r.remote.ip, CAPTURE_DERP_MAGIC_IP);
	r.remote.port = 900;
	n = capture_rec_encode(&r, (const uint8_t *)"\1\0\0\0", 4, buf, sizeof(buf));
	assert_int_equal(capture_rec_parse(buf, n, &back, 0, 0), CAPTURE_OK);
	capture_comment(&back, "alice", c, sizeof(c));
	assert_string_equal(c, "tx DERP region 900 (127.3.3.40:900) wireguard peer alice");
	capture_comment(&back, 0, c, sizeof(c));
	assert_string_equal(
		c, "tx DERP region 900 (127.3.3.40:900) wireguard peer nodekey:a0a1a2a3...");
	r = rec(AF_INET, CAPTURE_DIR_RX);
	r.sock = 3;
	r.kind = CAPTURE_KIND_STUN;
	memset(r.key, 0, 32);
	capture_comment(&r, 0, c, sizeof(c));
	assert_string_equal(c, "rx direct 198.51.100.7:12345 probe socket 3 stun");
	capture_comment(&r, 0, c, 10);
	assert_string_equal(c, "rx direct");
}

static void test_oversize_cut(void **state)
{
	struct capture_rec r = rec(AF_INET6, CAPTURE_DIR_RX), back;
	static uint8_t big[70000];
	const uint8_t *pkt;
	size_t n, plen;

	(void)state;
	n = capture_rec_encode(&r, big, sizeof(big), buf, sizeof(buf));
	assert_int_equal(n, CAPTURE_MAX_REC_BYTES);
	assert_int_equal(capture_rec_parse(buf, n, &back, &pkt, &plen), CAPTURE_OK);
	assert_int_equal(plen, CAPTURE_MAX_PACKET_BYTES);
	assert_int_equal(back.orig_len, 70000);
	assert_int_equal(capture_rec_wire_len(&back), 70048);
	/* pcap keeps both lengths */
	assert_int_equal(capture_pcap_record(back.unix_ns, pkt, plen, capture_rec_wire_len(&back),
					     out, sizeof(out)),
			 16 + plen);
	assert_int_equal(out[8] | out[9] << 8 | out[10] << 16, plen);
	assert_int_equal(out[12] | out[13] << 8 | out[14] << 16, 70048);
	/* a buffer one short, and a packet over the limit, are refused */
	assert_int_equal(capture_rec_encode(&r, big, sizeof(big), buf, CAPTURE_MAX_REC_BYTES - 1),
			 0);
	assert_int_equal(capture_pcap_record(0, big, 65536, 0, out, sizeof(out)), 0);
	assert_int_equal(capture_pcapng_record(0, big, 65536, 0, 0, out, sizeof(out)), 0);
}

static void test_encode_refuses(void **state)
{
	struct capture_rec r = rec(AF_INET, CAPTURE_DIR_RX);

	(void)state;
	r.remote.family = 0;
	assert_int_equal(capture_rec_size(&r, 4), 0);
	assert_int_equal(capture_rec_encode(&r, buf, 4, buf, sizeof(buf)), 0);
	r = rec(AF_INET, CAPTURE_DIR_INVALID);
	assert_int_equal(capture_rec_encode(&r, buf, 4, buf, sizeof(buf)), 0);
	r = rec(AF_INET, CAPTURE_DIR_RX);
	r.sessions = 0;
	assert_int_equal(capture_rec_encode(&r, buf, 4, buf, sizeof(buf)), 0);
	r.sessions = 1u << CAPTURE_MAX_SESSIONS;
	assert_int_equal(capture_rec_encode(&r, buf, 4, buf, sizeof(buf)), 0);
}

/* One malformed case per row: the byte at off set to val (or the length
 * cut to len), and the error it gives. */
static void test_malformed(void **state)
{
	static const struct {
		const char *what;
		int off, val;
		size_t len; /* 0: whole */
		int err;
	} rows[] = {
		{"short header", -1, 0, 79, CAPTURE_ERR_SHORT},
		{"short packet", -1, 0, 80 + 27, CAPTURE_ERR_PACKET},
		{"magic", 0, 'D', 0, CAPTURE_ERR_MAGIC},
		{"version", 1, 2, 0, CAPTURE_ERR_VERSION},
		{"dir 0", 2, 0, 0, CAPTURE_ERR_FIELD},
		{"dir 3", 2, 3, 0, CAPTURE_ERR_FIELD},
		{"path 3", 3, 3, 0, CAPTURE_ERR_FIELD},
		{"kind 5", 4, 5, 0, CAPTURE_ERR_FIELD},
		{"family 5", 5, 5, 0, CAPTURE_ERR_FIELD},
		{"family 6 on an IPv4 packet", 5, 6, 0, CAPTURE_ERR_PACKET},
		{"reserved", 15, 1, 0, CAPTURE_ERR_FIELD},
		{"no session", 19, 0, 0, CAPTURE_ERR_SESSIONS},
		{"session 8", 18, 1, 0, CAPTURE_ERR_SESSIONS},
		{"orig_len below the payload", 23, 0, 0, CAPTURE_ERR_PACKET},
		{"IPv4 with bytes after its address", 36, 1, 0, CAPTURE_ERR_FIELD},
		{"remote address differs", 32, 1, 0, CAPTURE_ERR_PACKET},
		{"remote port differs", 13, 0, 0, CAPTURE_ERR_PACKET},
		{"local port differs", 11, 0, 0, CAPTURE_ERR_PACKET},
		{"IP version", 80, 0x46, 0, CAPTURE_ERR_PACKET},
		{"IP total length", 83, 0, 0, CAPTURE_ERR_PACKET},
		{"IP header checksum", 90, 0, 0, CAPTURE_ERR_PACKET},
		{"not UDP", 89, 6, 0, CAPTURE_ERR_PACKET},
		{"UDP length", 105, 0, 0, CAPTURE_ERR_PACKET},
		{"local address not unspecified", 96, 1, 0, CAPTURE_ERR_PACKET},
	};
	struct capture_rec r = rec(AF_INET, CAPTURE_DIR_RX), back;
	uint8_t payload[16] = {4};
	size_t n;

	(void)state;
	r.unix_ns = 1;
	n = capture_rec_encode(&r, payload, sizeof(payload), buf, sizeof(buf));
	assert_int_equal(n, 80 + 28 + 16);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		static uint8_t m[CAPTURE_MAX_REC_BYTES];
		memcpy(m, buf, n);
		if (rows[i].off >= 0)
			m[rows[i].off] = (uint8_t)rows[i].val;
		int err = capture_rec_parse(m, rows[i].len ? rows[i].len : n, &back, 0, 0);
		if (err != rows[i].err)
			fail_msg("%s: got %d (%s), want %d", rows[i].what, err,
				 capture_strerror(err), rows[i].err);
	}
	/* Over the largest record, even with a good header. */
	assert_int_equal(capture_rec_sessions(buf, CAPTURE_MAX_REC_BYTES + 1, &r.sessions),
			 CAPTURE_ERR_TOO_BIG);
	assert_int_equal(capture_rec_parse(buf, CAPTURE_MAX_REC_BYTES + 1, &back, 0, 0),
			 CAPTURE_ERR_TOO_BIG);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void test_pcap_layout(void **state)
{
	static const uint8_t head[24] = {0x4d, 0x3c, 0xb2, 0xa1, 2,    0,    4, 0, 0,	0, 0, 0,
					 0,    0,    0,	   0,	 0xff, 0xff, 0, 0, 101, 0, 0, 0};
	static const uint8_t pkt[3] = {1, 2, 3};

	(void)state;
	assert_int_equal(capture_pcap_header(out, 23), 0);
	assert_int_equal(capture_pcap_header(out, sizeof(out)), 24);
	assert_memory_equal(out, head, 24);
	assert_int_equal(capture_pcap_record(5000000007ull, pkt, 3, 3, out, 18), 0);
	assert_int_equal(capture_pcap_record(5000000007ull, pkt, 3, 3, out, sizeof(out)), 19);
	assert_int_equal(le32(out), 5);
	assert_int_equal(le32(out + 4), 7);
	assert_int_equal(le32(out + 8), 3);
	assert_int_equal(le32(out + 12), 3);
	assert_memory_equal(out + 16, pkt, 3);
}

static void test_pcapng_layout(void **state)
{
	static const uint8_t pkt[5] = {1, 2, 3, 4, 5};
	char longc[400];
	size_t n;

	(void)state;
	assert_int_equal(capture_pcapng_header(out, CAPTURE_PCAPNG_HDR_BYTES - 1), 0);
	assert_int_equal(capture_pcapng_header(out, sizeof(out)), 60);
	assert_int_equal(le32(out), 0x0a0d0d0a);
	assert_int_equal(le32(out + 4), 28);
	assert_int_equal(le32(out + 8), 0x1a2b3c4d);
	assert_int_equal(le32(out + 24), 28);
	assert_int_equal(le32(out + 28), 1); /* IDB */
	assert_int_equal(le32(out + 32), 32);
	assert_int_equal(out[36], 101);
	assert_int_equal(out[44] | out[45] << 8, 9); /* if_tsresol */
	assert_int_equal(out[48], 9);
	assert_int_equal(le32(out + 56), 32);

	/* 28 + 8 (5 padded) + comment "rx" (4 + 4) + end 4 + 4 */
	n = capture_pcapng_record(0x100000002ull, pkt, 5, 9, "rx", out, sizeof(out));
	assert_int_equal(n, 52);
	assert_int_equal(le32(out), 6);
	assert_int_equal(le32(out + 4), 52);
	assert_int_equal(le32(out + 12), 1); /* timestamp high, low */
	assert_int_equal(le32(out + 16), 2);
	assert_int_equal(le32(out + 20), 5);
	assert_int_equal(le32(out + 24), 9);
	assert_memory_equal(out + 28, pkt, 5);
	assert_memory_equal(out + 33, "\0\0\0", 3);
	assert_int_equal(out[36] | out[37] << 8, 1); /* opt_comment */
	assert_int_equal(out[38] | out[39] << 8, 2);
	assert_memory_equal(out + 40, "rx\0\0", 4);
	assert_int_equal(le32(out + 44), 0);
	assert_int_equal(le32(out + 48), 52);
	/* no comment: no options */
	assert_int_equal(capture_pcapng_record(0, pkt, 5, 5, "", out, sizeof(out)), 40);
	assert_int_equal(capture_pcapng_record(0, pkt, 5, 5, 0, out, sizeof(out)), 40);
	assert_int_equal(capture_pcapng_record(0, pkt, 5, 5, 0, out, 39), 0);
	/* a long comment is cut to 255 bytes */
	memset(longc, 'x', sizeof(longc) - 1);
	longc[sizeof(longc) - 1] = 0;
	n = capture_pcapng_record(0, pkt, 5, 5, longc, out, sizeof(out));
	assert_int_equal(n, 28 + 8 + 4 + 256 + 4 + 4);
	assert_int_equal(out[38] | out[39] << 8, 255);
	assert_int_equal(le32(out + n - 4), n);
}

static void test_frames(void **state)
{
	struct capture_frame f = {.type = CAPTURE_FRAME_STATS,
				  .dataplane_open = true,
				  .dataplane_records = 1,
				  .dataplane_drops = 2,
				  .relayed = 3,
				  .relay_drops = 1ull << 40},
			     g;
	uint8_t head[CAPTURE_FRAME_END_MAX_BYTES], big[300];
	size_t n;

	(void)state;
	n = capture_frame_encode(&f, head, sizeof(head));
	assert_int_equal(n, CAPTURE_FRAME_STATS_BYTES);
	assert_int_equal(capture_frame_parse(head, n, 0, 0, false, &g), CAPTURE_OK);
	assert_true(g.dataplane_open && g.dataplane_records == 1 && g.dataplane_drops == 2 &&
		    g.relayed == 3 && g.relay_drops == 1ull << 40);
	assert_int_equal(capture_frame_parse(head, n, buf, 1, true, &g), CAPTURE_ERR_FRAME);
	assert_int_equal(capture_frame_parse(head, n - 1, 0, 0, false, &g), CAPTURE_ERR_FRAME);
	head[1] = 2;
	assert_int_equal(capture_frame_parse(head, n, 0, 0, false, &g), CAPTURE_ERR_FRAME);

	f = (struct capture_frame){.type = CAPTURE_FRAME_END};
	strcpy(f.text, "the broker stopped");
	n = capture_frame_encode(&f, head, sizeof(head));
	assert_int_equal(capture_frame_parse(head, n, 0, 0, false, &g), CAPTURE_OK);
	assert_string_equal(g.text, "the broker stopped");
	head[3] = '\n'; /* not printable: shown as '?' */
	assert_int_equal(capture_frame_parse(head, n, 0, 0, false, &g), CAPTURE_OK);
	assert_string_equal(g.text, "th? broker stopped");
	memset(big, 'E', sizeof(big));
	assert_int_equal(capture_frame_parse(big, CAPTURE_FRAME_END_MAX_BYTES + 1, 0, 0, false, &g),
			 CAPTURE_ERR_FRAME);
	assert_int_equal(capture_frame_parse(big, CAPTURE_FRAME_END_MAX_BYTES, 0, 0, false, &g),
			 CAPTURE_OK);

	head[0] = CAPTURE_FRAME_RECORD;
	assert_int_equal(capture_frame_parse(head, 1, buf, 7, true, &g), CAPTURE_OK);
	assert_ptr_equal(g.body, buf);
	assert_int_equal(g.body_len, 7);
	assert_int_equal(capture_frame_parse(head, 1, 0, 0, false, &g), CAPTURE_ERR_FRAME);
	assert_int_equal(capture_frame_parse(head, 2, buf, 7, true, &g), CAPTURE_ERR_FRAME);
	assert_int_equal(capture_frame_parse(head, 0, 0, 0, false, &g), CAPTURE_ERR_FRAME);
	head[0] = 'X';
	assert_int_equal(capture_frame_parse(head, 1, 0, 0, false, &g), CAPTURE_ERR_FRAME);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_rx_round_trip),
		cmocka_unit_test(test_v6_tx_checksum),
		cmocka_unit_test(test_derp_magic_address),
		cmocka_unit_test(test_oversize_cut),
		cmocka_unit_test(test_encode_refuses),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_pcap_layout),
		cmocka_unit_test(test_pcapng_layout),
		cmocka_unit_test(test_frames),
	};

	return cmocka_run_group_tests(tests, 0, 0);
}

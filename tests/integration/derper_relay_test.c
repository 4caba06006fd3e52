/* derper_relay: msock-derper as a real process on loopback, over TLS with a
 * self-signed certificate, driven by the test DERP client (tests/support/
 * derp_tc.c): relaying, PeerGone (not here, disconnected), Ping/Pong,
 * NotePreferred, a reconnecting key, unknown and malformed frames, the
 * handshake deadline, the HTTP endpoints, STUN, and the key file surviving
 * a restart. What a Tailscale client sees is checked against Tailscale's
 * own by tests/interop/derper_clients_test.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "derp/derp_frame.h"
#include "derp_tc.h"
#include "derper_proc.h"
#include <sodium.h>
#include "harness.h"
#include "stun/stun.h"

/* The server under test (tests/support/derper_proc.h): TLS with a
 * self-signed certificate for derp.test. */
#define srv	 derper_proc
#define setup	 derper_proc_setup_tls
#define teardown derper_proc_teardown

static void start(struct derper_proc *s, const char *extra)
{
	assert_int_equal(derper_proc_start(s, extra), 0);
}

static void stop(struct derper_proc *s)
{
	derper_proc_stop(s);
}

static struct dtc *client(struct derper_proc *s, const struct key32 *priv, bool fast)
{
	char err[256];
	struct dtc *c = derper_proc_client(s, priv, fast, err, sizeof(err));

	if (!c)
		fail_msg("connect: %s", err);
	return c;
}

static bool log_has(struct derper_proc *s, const char *needle)
{
	return derper_proc_log_has(s, needle);
}

/* Pseudo-random but reproducible sizes and bytes. */
static size_t fill_packet(uint8_t *p, uint32_t i)
{
	static const size_t sizes[] = {1, 28, 100, 576, 1280, 1400, 4000, 65535};
	size_t n = sizes[i % 8];

	for (size_t k = 0; k < n; k++)
		p[k] = (uint8_t)(i * 31 + k * 7);
	memcpy(p, &i, n >= 4 ? 4 : n);
	return n;
}

/* 10,000 packets of mixed sizes, paced in windows the queue can hold: all
 * arrive, unchanged, from the right sender. */
static void test_relay_paced(void **state)
{
	struct derper_proc *s = *state;
	static uint8_t out[65536], in[65536];
	struct dtc *a, *b;
	enum { TOTAL = 10000, WINDOW = 16 };
	uint64_t t0;

	start(s, 0);
	a = client(s, 0, false);
	b = client(s, 0, true);
	t0 = clock_mono_ns();
	for (uint32_t i = 0; i < TOTAL; i += WINDOW) {
		for (uint32_t k = i; k < i + WINDOW; k++) {
			size_t n = fill_packet(out, k);
			assert_int_equal(dtc_send_packet(a, dtc_pub(b), out, n), 0);
		}
		for (uint32_t k = i; k < i + WINDOW; k++) {
			struct key32 src;
			size_t n, want = fill_packet(out, k);
			assert_int_equal(dtc_recv_packet(b, 5000, &src, in, sizeof(in), &n), 1);
			assert_true(key_equal(&src, dtc_pub(a)));
			assert_int_equal(n, want);
			assert_memory_equal(in, out, n);
		}
	}
	print_message("10000 paced packets relayed over TLS in %llu ms\n",
		      (unsigned long long)th_ms_since(t0));
	dtc_close(a);
	dtc_close(b);
}

/* The next frame other than a KeepAlive. */
static void next_frame(struct dtc *c, uint8_t *type, uint8_t *buf, size_t cap, size_t *n)
{
	do {
		assert_int_equal(dtc_recv_frame(c, 5000, type, buf, cap, n), 1);
	} while (*type == DERP_FRAME_KEEP_ALIVE);
}

static void expect_peer_gone(struct dtc *c, const struct key32 *peer, uint8_t reason)
{
	uint8_t buf[256], type;
	size_t n;

	next_frame(c, &type, buf, sizeof(buf), &n);
	assert_int_equal(type, DERP_FRAME_PEER_GONE);
	assert_int_equal(n, KEY_LEN + 1);
	assert_memory_equal(buf, peer->b, KEY_LEN);
	assert_int_equal(buf[KEY_LEN], reason);
}

/* A Ping, then the next frame other than a KeepAlive must be its Pong:
 * nothing else was on its way to c. */
static void expect_nothing_but_pong(struct dtc *c)
{
	static const uint8_t ping[] = {0x12, 0, 0, 0, 8, 'n', 'o', 't', 'h', 'i', 'n', 'g', '?'};
	uint8_t buf[256], type;
	size_t n;

	assert_int_equal(dtc_write_raw(c, ping, sizeof(ping)), 0);
	next_frame(c, &type, buf, sizeof(buf), &n);
	assert_int_equal(type, DERP_FRAME_PONG);
	assert_memory_equal(buf, ping + 5, 8);
}

/* Looks like disco to the server (disco.LooksLikeDiscoWrapper): the magic,
 * then room for a key and a nonce. */
static size_t disco_like(uint8_t *p, size_t cap)
{
	static const uint8_t magic[] = {0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac};
	size_t n = sizeof(magic) + 32 + 24 + 16;

	assert_true(n <= cap);
	memset(p, 0x33, n);
	memcpy(p, magic, sizeof(magic));
	return n;
}

/* PeerGone(not here) answers a disco packet for a key nobody has, and
 * only a disco packet (Tailscale's requestPeerGoneWriteLimited): a
 * WireGuard packet to a gone peer is dropped in silence. */
static void test_peer_gone_not_here(void **state)
{
	struct derper_proc *s = *state;
	struct dtc *a;
	struct key32 nobody, nobody_pub, other, other_pub;
	uint8_t pkt[256];
	size_t n;

	start(s, 0);
	a = client(s, 0, false);
	key_generate(&nobody);
	key_public(&nobody, &nobody_pub);
	key_generate(&other);
	key_public(&other, &other_pub);
	assert_int_equal(dtc_send_packet(a, &other_pub, (const uint8_t *)"hi", 2), 0);
	n = disco_like(pkt, sizeof(pkt));
	assert_int_equal(dtc_send_packet(a, &nobody_pub, pkt, n), 0);
	expect_peer_gone(a, &nobody_pub, DERP_PEER_GONE_NOT_HERE);
	expect_nothing_but_pong(a);
	assert_int_equal(derper_proc_metric(s, "derp_peer_gone_not_here_frames_total"), 1);
	dtc_close(a);
}

/* A client that was sent packets from a peer hears PeerGone(disconnected)
 * when that peer leaves (Tailscale's peerGoneWatchers); one that never
 * heard from it is told nothing. */
static void test_peer_gone_when_sender_leaves(void **state)
{
	struct derper_proc *s = *state;
	struct dtc *a, *b, *c;
	struct key32 src, ka;
	uint8_t buf[64];
	size_t n;

	start(s, 0);
	a = client(s, 0, false);
	b = client(s, 0, false);
	c = client(s, 0, false);
	ka = *dtc_pub(a);
	assert_int_equal(dtc_send_packet(a, dtc_pub(b), (const uint8_t *)"hello", 5), 0);
	assert_int_equal(dtc_recv_packet(b, 5000, &src, buf, sizeof(buf), &n), 1);
	dtc_close(a);
	expect_peer_gone(b, &ka, DERP_PEER_GONE_DISCONNECTED);
	expect_nothing_but_pong(c);
	expect_nothing_but_pong(b);
	assert_int_equal(derper_proc_metric(s, "derp_peer_gone_disconnected_frames_total"), 1);
	dtc_close(b);
	dtc_close(c);
}

static void test_ping_pong(void **state)
{
	struct derper_proc *s = *state;
	static const uint8_t ping[] = {0x12, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
	uint8_t buf[64], type;
	struct dtc *a;
	size_t n;

	start(s, 0);
	a = client(s, 0, false);
	assert_int_equal(dtc_write_raw(a, ping, sizeof(ping)), 0);
	next_frame(a, &type, buf, sizeof(buf), &n);
	assert_int_equal(type, DERP_FRAME_PONG);
	assert_int_equal(n, 8);
	assert_memory_equal(buf, ping + 5, 8);
	dtc_close(a);
}

/* A ping while one is unanswered is dropped, not answered in its place
 * (Tailscale's sendPongCh holds one pong): two pings in one write get the
 * first one's pong. */
static void test_ping_while_one_pending(void **state)
{
	struct derper_proc *s = *state;
	static const uint8_t pings[] = {0x12, 0, 0, 0, 8, 1, 1, 1, 1, 1, 1, 1, 1,
					0x12, 0, 0, 0, 8, 2, 2, 2, 2, 2, 2, 2, 2};
	uint8_t buf[64], type;
	struct dtc *a;
	size_t n;

	start(s, 0);
	a = client(s, 0, false);
	assert_int_equal(dtc_write_raw(a, pings, sizeof(pings)), 0);
	next_frame(a, &type, buf, sizeof(buf), &n);
	assert_int_equal(type, DERP_FRAME_PONG);
	assert_memory_equal(buf, pings + 5, 8);
	dtc_close(a);
}

/* NotePreferred moves Tailscale's gauge of home connections
 * (derp_current_home_connections); a preferred client leaving lowers it. */
static void test_note_preferred(void **state)
{
	struct derper_proc *s = *state;
	static const uint8_t yes[] = {0x07, 0, 0, 0, 1, 1}, no[] = {0x07, 0, 0, 0, 1, 0};
	struct dtc *a, *b;

	start(s, 0);
	a = client(s, 0, false);
	b = client(s, 0, false);
	assert_int_equal(derper_proc_metric(s, "derp_current_home_connections"), 0);
	assert_int_equal(dtc_write_raw(a, yes, sizeof(yes)), 0);
	assert_int_equal(dtc_write_raw(b, yes, sizeof(yes)), 0);
	expect_nothing_but_pong(a); /* the server has read the frame */
	expect_nothing_but_pong(b);
	assert_int_equal(derper_proc_metric(s, "derp_current_home_connections"), 2);
	assert_int_equal(dtc_write_raw(a, no, sizeof(no)), 0);
	expect_nothing_but_pong(a);
	assert_int_equal(derper_proc_metric(s, "derp_current_home_connections"), 1);
	dtc_close(b);
	for (uint64_t t0 = clock_mono_ns();
	     derper_proc_metric(s, "derp_current_home_connections") != 0 &&
	     th_ms_since(t0) < TH_WAIT_MS;)
		usleep(10 * 1000);
	assert_int_equal(derper_proc_metric(s, "derp_current_home_connections"), 0);
	dtc_close(a);
}

/* A client reconnecting with the same key replaces the old connection:
 * the old one is told (Health) and closed; packets go to the new one. The
 * key never left: a client that heard from it is told nothing. */
static void test_same_key_replaces(void **state)
{
	struct derper_proc *s = *state;
	struct key32 kb;
	struct dtc *a, *b1, *b2;
	uint8_t buf[512], type;
	struct key32 src;
	size_t n;
	int r;

	start(s, 0);
	key_generate(&kb);
	a = client(s, 0, false);
	b1 = client(s, &kb, false);
	assert_int_equal(dtc_send_packet(b1, dtc_pub(a), (const uint8_t *)"b1", 2), 0);
	assert_int_equal(dtc_recv_packet(a, 5000, &src, buf, sizeof(buf), &n), 1);
	b2 = client(s, &kb, false);
	/* b1 hears why, then EOF. */
	bool health = false;
	while ((r = dtc_recv_frame(b1, 5000, &type, buf, sizeof(buf), &n)) == 1)
		health |= type == DERP_FRAME_HEALTH && n > 0;
	assert_int_equal(r, -1);
	assert_true(health);
	assert_int_equal(dtc_send_packet(a, dtc_pub(b2), (const uint8_t *)"x", 1), 0);
	assert_int_equal(dtc_recv_packet(b2, 5000, &src, buf, sizeof(buf), &n), 1);
	assert_int_equal(n, 1);
	expect_nothing_but_pong(a);
	dtc_close(a);
	dtc_close(b1);
	dtc_close(b2);
}

/* Unknown frame types are skipped as they stream by, even with a huge
 * length, without closing the connection. */
static void test_unknown_frame_skipped(void **state)
{
	struct derper_proc *s = *state;
	static uint8_t junk[1 << 20];
	uint8_t small[] = {0x7f, 0, 0, 0, 3, 'a', 'b', 'c'};
	uint8_t huge[] = {0x7e, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t ping[] = {0x12, 0, 0, 0, 8, 9, 9, 9, 9, 9, 9, 9, 9};
	uint8_t buf[64], type;
	struct dtc *a;
	size_t n;

	start(s, 0);
	a = client(s, 0, false);
	assert_int_equal(dtc_write_raw(a, small, sizeof(small)), 0);
	assert_int_equal(dtc_write_raw(a, ping, sizeof(ping)), 0);
	do {
		assert_int_equal(dtc_recv_frame(a, 5000, &type, buf, sizeof(buf), &n), 1);
	} while (type != DERP_FRAME_PONG);
	/* 4 GiB announced, 1 MiB sent: still connected (the 1 MiB is skipped). */
	assert_int_equal(dtc_write_raw(a, huge, sizeof(huge)), 0);
	assert_int_equal(dtc_write_raw(a, junk, sizeof(junk)), 0);
	assert_int_equal(dtc_recv_frame(a, 500, &type, buf, sizeof(buf), &n), 0);
	dtc_close(a);
}

/* Malformed frames close that one connection with a logged reason; the
 * other clients' traffic goes on. */
static void test_malformed_closes_only_that_conn(void **state)
{
	struct derper_proc *s = *state;
	static const struct {
		const char *name;
		uint8_t bytes[16];
		size_t len;
		const char *log;
	} cases[] = {
		{"SendPacket over its limit", {0x04, 0xff, 0xff, 0xff, 0xff}, 5, "over its limit"},
		/* 32 + 64 KiB + 1: one byte more than a SendPacket may carry */
		{"SendPacket just over 64 KiB + key",
		 {0x04, 0, 0x01, 0, 0x21},
		 5,
		 "over its limit"},
		{"SendPacket of length 0", {0x04, 0, 0, 0, 0}, 5, "conn"},
		{"SendPacket shorter than a key", {0x04, 0, 0, 0, 3, 1, 2, 3}, 8, "conn"},
		{"Ping over 1000 bytes", {0x12, 0, 0, 0x03, 0xe9}, 5, "conn"},
		{"NotePreferred of 2 bytes", {0x07, 0, 0, 0, 2, 1, 1}, 7, "conn"},
		{"WatchConns without the mesh key", {0x10, 0, 0, 0, 0}, 5, "not allowed"},
	};
	struct dtc *a, *b;

	start(s, 0);
	a = client(s, 0, false);
	b = client(s, 0, false);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct dtc *bad = client(s, 0, false);
		uint8_t buf[64], type;
		struct key32 src;
		size_t n;
		int r;

		assert_int_equal(dtc_write_raw(bad, cases[i].bytes, cases[i].len), 0);
		while ((r = dtc_recv_frame(bad, 5000, &type, buf, sizeof(buf), &n)) == 1)
			;
		if (r != -1)
			fail_msg("%s: connection not closed", cases[i].name);
		dtc_close(bad);
		assert_int_equal(dtc_send_packet(a, dtc_pub(b), (const uint8_t *)"ok", 2), 0);
		assert_int_equal(dtc_recv_packet(b, 5000, &src, buf, sizeof(buf), &n), 1);
		print_message("%s: closed; others unaffected\n", cases[i].name);
	}
	assert_true(log_has(s, "over its limit"));
	dtc_close(a);
	dtc_close(b);
}

/* Sends payload as the ClientInfo frame of a fresh connection; true if the
 * server then closed it. */
static bool client_info_refused(struct derper_proc *s, const uint8_t *payload, size_t len)
{
	struct dtc_opts o = {.ip = "127.0.0.1", .port = s->port, .tls = true, .no_login = true};
	uint8_t hdr[5] = {0x02, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
			  (uint8_t)len};
	uint8_t buf[256], type;
	char err[256];
	size_t n;
	int r;
	struct dtc *c = dtc_connect(&o, err, sizeof(err));

	if (!c)
		fail_msg("connect: %s", err);
	dtc_write_raw(c, hdr, sizeof(hdr));
	dtc_write_raw(c, payload, len);
	while ((r = dtc_recv_frame(c, 5000, &type, buf, sizeof(buf), &n)) == 1)
		if (type == DERP_FRAME_SERVER_INFO)
			break; /* accepted */
	dtc_close(c);
	return r == -1;
}

/* ClientInfo that is too short, too long, badly boxed, or boxes JSON nested
 * very deep: each closes that connection; a good client still logs in. */
static void test_bad_client_info(void **state)
{
	struct derper_proc *s = *state;
	static uint8_t big[(256 << 10) + 1];
	uint8_t shortinfo[40] = {0}, junk[100];
	struct key32 cpriv, cpub, spub;
	struct dtc *probe;
	struct dtc_opts o = {.ip = "127.0.0.1", .tls = true, .no_login = true};
	char err[256], deep[4096];
	uint8_t sealed[8192];
	size_t n;

	start(s, 0);
	o.port = s->port;
	assert_true(client_info_refused(s, shortinfo, sizeof(shortinfo)));
	print_message("ClientInfo of 40 bytes (< key + nonce): closed\n");
	memset(big, 1, sizeof(big));
	assert_true(client_info_refused(s, big, sizeof(big)));
	print_message("ClientInfo of 256 KiB + 1: closed\n");
	key_generate(&cpriv);
	key_public(&cpriv, &cpub);
	memcpy(junk, cpub.b, 32);
	memset(junk + 32, 0x42, sizeof(junk) - 32);
	assert_true(client_info_refused(s, junk, sizeof(junk)));
	print_message("ClientInfo whose box does not open: closed\n");
	/* JSON nested 2,000 deep, sealed properly to the server's key. */
	probe = dtc_connect(&o, err, sizeof(err));
	assert_non_null(probe);
	spub = *dtc_server_pub(probe);
	dtc_close(probe);
	memset(deep, '[', 2000);
	memset(deep + 2000, ']', 2000);
	memcpy(sealed, cpub.b, 32);
	randombytes_buf(sealed + 32, 24);
	assert_int_equal(crypto_box_easy(sealed + 56, (const uint8_t *)deep, 4000, sealed + 32,
					 spub.b, cpriv.b),
			 0);
	n = 56 + 4000 + crypto_box_MACBYTES;
	assert_true(client_info_refused(s, sealed, n));
	print_message("ClientInfo with JSON nested 2000 deep: closed\n");
	/* Others still log in. */
	dtc_close(client(s, 0, false));
}

/* A client that trickles its handshake is closed at the deadline. */
static void test_handshake_deadline(void **state)
{
	struct derper_proc *s = *state;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	const char *req = "GET /derp HTTP/1.1\r\nHost: x\r\n";
	char c;
	int fd;
	bool closed = false;

	start(s, "-handshake-timeout-ms 600");
	a.sin_port = htons((uint16_t)s->port);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	/* Plain bytes into a TLS port: the TLS handshake never completes
	 * either; one byte every 100 ms. */
	for (size_t i = 0; i < strlen(req) && !closed; i++) {
		if (send(fd, req + i, 1, MSG_NOSIGNAL) < 0)
			closed = true;
		usleep(100000);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 0) > 0 && recv(fd, &c, 1, MSG_DONTWAIT) <= 0)
			closed = true;
	}
	assert_true(closed);
	close(fd);
}

static void https_get(struct derper_proc *s, const char *req, char *resp, size_t cap)
{
	assert_true(derper_proc_http_get(s, req, resp, cap) >= 0);
}

static long long metric(struct derper_proc *s, const char *name)
{
	return derper_proc_metric(s, name);
}

/* HTTP endpoints over TLS: 426 without the upgrade, probe, generate_204. */
static void test_http_endpoints(void **state)
{
	struct derper_proc *s = *state;
	static const struct {
		const char *req;
		const char *want;
	} cases[] = {
		{"GET /derp HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 426"},
		{"GET /derp/probe HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200"},
		{"GET /derp/latency-check HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200"},
		{"GET /generate_204 HTTP/1.1\r\nHost: x\r\nX-Tailscale-Challenge: abc.123\r\n\r\n",
		 "X-Tailscale-Response: response abc.123"},
		{"GET /debug/metrics HTTP/1.1\r\nHost: x\r\n\r\n", "derp_current_clients 0"},
	};
	char resp[32768];

	start(s, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		https_get(s, cases[i].req, resp, sizeof(resp));
		if (!strstr(resp, cases[i].want))
			fail_msg("%s -> %s", cases[i].req, resp);
	}
}

static int plain_connect(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Beside HTTPS, -http-port serves plain HTTP: /generate_204 answers the
 * challenge there too (captive-portal checks), as Tailscale's. */
static void test_generate_204_on_http_port(void **state)
{
	struct derper_proc *s = *state;
	static const char req[] =
		"GET /generate_204 HTTP/1.1\r\nHost: x\r\nX-Tailscale-Challenge: plain-1\r\n\r\n";
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	char extra[64], resp[2048] = "";
	int fd = socket(AF_INET, SOCK_STREAM, 0), port, n, got = 0;

	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &l);
	port = ntohs(a.sin_port);
	close(fd);
	snprintf(extra, sizeof(extra), "-http-port %d", port);
	start(s, extra);
	for (int i = 0; i < 100 && (fd = plain_connect(port)) < 0; i++)
		usleep(20000);
	assert_true(fd >= 0);
	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	while ((n = (int)recv(fd, resp + got, sizeof(resp) - 1 - (size_t)got, 0)) > 0)
		got += n;
	resp[got] = 0;
	close(fd);
	assert_non_null(strstr(resp, "HTTP/1.1 204"));
	assert_non_null(strstr(resp, "X-Tailscale-Response: response plain-1"));
}

/* More than DERPER_MAX_PENDING_HANDSHAKES (1,024) connections that never
 * finish logging in: the ones past the cap are closed at once and counted;
 * once they are gone a client logs in as usual. */
static void test_pending_handshake_cap(void **state)
{
	struct derper_proc *s = *state;
	enum { CONNS = 1100 };
	static int fds[CONNS];
	struct rlimit rl;
	int opened = 0, refused = 0;

	/* The server inherits the limit: raise it before starting it. */
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_max < 2 * CONNS + 64) {
		print_message("RLIMIT_NOFILE hard limit %llu is too low; skipped\n",
			      (unsigned long long)rl.rlim_max);
		return;
	}
	rl.rlim_cur = rl.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	start(s, 0);
	for (int i = 0; i < CONNS; i++)
		if ((fds[i] = plain_connect(s->port)) >= 0)
			opened++;
	/* Those past the cap see EOF; the others wait for a TLS hello. */
	for (int i = 0; i < CONNS; i++) {
		struct pollfd p = {.fd = fds[i], .events = POLLIN};
		char c;
		if (fds[i] >= 0 && poll(&p, 1, i >= 1024 ? 2000 : 0) > 0 &&
		    recv(fds[i], &c, 1, 0) == 0)
			refused++;
	}
	for (int i = 0; i < CONNS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	print_message("%d connections opened, %d closed at once past the cap\n", opened, refused);
	assert_int_equal(opened, CONNS);
	assert_true(refused >= CONNS - 1024);
	/* The server releases the closed ones; metrics and logins work again. */
	long long counted = -1;
	for (int i = 0; i < 100 && counted <= 0; i++) {
		usleep(50000);
		counted = metric(s, "derp_accepts_refused_pending_total");
	}
	assert_true(counted >= CONNS - 1024);
	dtc_close(client(s, 0, false));
}

/* With a per-client rate limit a sender over it is paced (its reads
 * paused) and nothing is dropped. The bucket is not announced in
 * ServerInfo, as Tailscale's server does not: Tailscale's client would
 * drop its own packets over it instead. */
static void test_rate_limit(void **state)
{
	struct derper_proc *s = *state;
	static uint8_t out[10000], in[10000];
	struct dtc *a, *b;
	enum { PKTS = 104, WINDOW = 8 }; /* 13 windows */

	start(s, "-per-client-rate-limit 200000");
	a = client(s, 0, false);
	b = client(s, 0, false);
	assert_int_equal(dtc_server_info(a)->version, 2);
	assert_int_equal(dtc_server_info(a)->token_bucket_bytes_per_second, 0);
	assert_int_equal(dtc_server_info(a)->token_bucket_bytes_burst, 0);
	memset(out, 0x5a, sizeof(out));
	for (int i = 0; i < PKTS; i += WINDOW) {
		for (int k = 0; k < WINDOW; k++)
			assert_int_equal(dtc_send_packet(a, dtc_pub(b), out, sizeof(out)), 0);
		for (int k = 0; k < WINDOW; k++) {
			struct key32 src;
			size_t n;
			assert_int_equal(dtc_recv_packet(b, 10000, &src, in, sizeof(in), &n), 1);
			assert_int_equal(n, sizeof(out));
		}
	}
	/* 1 MB through a 400 KB bucket at 200 KB/s: it had to wait. */
	long long waits = metric(s, "derp_rate_limit_per_client_waited_total");
	print_message("rate limit: %lld pauses for %d x %zu bytes\n", waits, PKTS, sizeof(out));
	assert_true(waits > 0);
	assert_int_equal(metric(s, "derp_packets_relayed_total"), PKTS);
	dtc_close(a);
	dtc_close(b);
}

static bool metric_is(struct derper_proc *s, const char *name, long long want)
{
	uint64_t t0 = clock_mono_ns();

	while (derper_proc_metric(s, name) != want && th_ms_since(t0) < TH_WAIT_MS)
		usleep(20 * 1000);
	return derper_proc_metric(s, name) == want;
}

/* SIGHUP rereads -rate-config (Tailscale's watchRateConfig); a file that
 * does not parse leaves the limit in force and the server running. */
static void test_rate_config_reload(void **state)
{
	struct derper_proc *s = *state;
	char path[256], extra[300];
	static const char *const rate = "derp_rate_limit_per_client_bytes_per_second";

	assert_int_equal(derper_proc_write_file(s, "rate.json",
						"{\"PerClientRateLimitBytesPerSec\": 100000}", path,
						sizeof(path)),
			 0);
	snprintf(extra, sizeof(extra), "-rate-config %s", path);
	start(s, extra);
	assert_true(metric_is(s, rate, 100000));
	assert_true(metric_is(s, "derp_rate_limit_per_client_burst_bytes", 65536 + 32));
	assert_int_equal(derper_proc_write_file(s, "rate.json",
						"{\"perclientratelimitbytespersec\": 50000, "
						"\"PerClientRateBurstBytes\": 200000}",
						0, 0),
			 0);
	assert_int_equal(kill(s->pid, SIGHUP), 0);
	assert_true(metric_is(s, rate, 50000));
	assert_true(metric_is(s, "derp_rate_limit_per_client_burst_bytes", 200000));
	assert_int_equal(derper_proc_write_file(s, "rate.json", "{not json", 0, 0), 0);
	assert_int_equal(kill(s->pid, SIGHUP), 0);
	for (uint64_t t0 = clock_mono_ns();
	     !log_has(s, "rate config reload failed") && th_ms_since(t0) < TH_WAIT_MS;)
		usleep(20 * 1000);
	assert_true(log_has(s, "rate config reload failed"));
	assert_int_equal(derper_proc_metric(s, rate), 50000);
	dtc_close(client(s, 0, false)); /* still serving */
}

static void test_stun(void **state)
{
	struct derper_proc *s = *state;
	struct sockaddr_in a = {
		.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	uint8_t txid[STUN_TXID_BYTES], got_txid[STUN_TXID_BYTES], req[64], resp[256];
	struct sockaddr_in me;
	socklen_t ml = sizeof(me);
	struct ipport addr;
	struct pollfd p;
	ssize_t n;
	int fd;

	start(s, 0);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	getsockname(fd, (struct sockaddr *)&me, &ml);
	a.sin_port = htons((uint16_t)s->stun_port);
	stun_new_txid(txid);
	n = (ssize_t)stun_binding_request(txid, req, sizeof(req));
	assert_true(n > 0);
	/* UDP: retry a few times. */
	for (int i = 0; i < 20; i++) {
		sendto(fd, req, (size_t)n, 0, (struct sockaddr *)&a, sizeof(a));
		p = (struct pollfd){.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 250) > 0)
			break;
	}
	n = recv(fd, resp, sizeof(resp), 0);
	assert_true(n > 0);
	assert_int_equal(stun_parse_response(resp, (size_t)n, got_txid, &addr), 0);
	assert_memory_equal(got_txid, txid, sizeof(txid));
	assert_int_equal(addr.family, AF_INET);
	assert_int_equal(addr.port, ntohs(me.sin_port));
	assert_memory_equal(addr.ip, "\x7f\x00\x00\x01", 4);
	close(fd);
}

/* The key file (-c) is created on first start and reused: same public key
 * after a restart; clients reconnect and relay again. */
static void test_restart_keeps_key(void **state)
{
	struct derper_proc *s = *state;
	struct key32 first;
	struct dtc *a, *b;
	char path[128];
	struct stat st;
	uint8_t buf[16];
	struct key32 src;
	size_t n;

	start(s, 0);
	a = client(s, 0, false);
	first = *dtc_server_pub(a);
	dtc_close(a);
	snprintf(path, sizeof(path), "%s/derper.key", s->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	stop(s);
	start(s, 0);
	a = client(s, 0, false);
	b = client(s, 0, false);
	assert_true(key_equal(dtc_server_pub(a), &first));
	assert_int_equal(dtc_send_packet(a, dtc_pub(b), (const uint8_t *)"again", 5), 0);
	assert_int_equal(dtc_recv_packet(b, 5000, &src, buf, sizeof(buf), &n), 1);
	assert_int_equal(n, 5);
	dtc_close(a);
	dtc_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_relay_paced, derper_proc_setup_tls,
						derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_peer_gone_not_here, derper_proc_setup_tls,
						derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_peer_gone_when_sender_leaves,
						derper_proc_setup_tls, derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_ping_while_one_pending, derper_proc_setup_tls,
						derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_note_preferred, derper_proc_setup_tls,
						derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_ping_pong, derper_proc_setup_tls,
						derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_same_key_replaces, derper_proc_setup_tls,
						derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_unknown_frame_skipped, derper_proc_setup_tls,
						derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_malformed_closes_only_that_conn,
						derper_proc_setup_tls, derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_handshake_deadline, derper_proc_setup_tls,
						derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_bad_client_info, derper_proc_setup_tls,
						derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_http_endpoints, derper_proc_setup_tls,
						derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_generate_204_on_http_port,
						derper_proc_setup_tls, derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_pending_handshake_cap, derper_proc_setup_tls,
						derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit, derper_proc_setup_tls,
						derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_rate_config_reload, derper_proc_setup_tls,
						derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_stun, derper_proc_setup_tls,
						derper_proc_teardown),
		cmocka_unit_test_setup_teardown(test_restart_keeps_key, derper_proc_setup_tls,
						derper_proc_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	/* msock-derper's own sanitizer reports count as failures too. */
	return cmocka_run_group_tests(tests, 0, 0) + (int)derper_proc_sanitizer_reports();
}

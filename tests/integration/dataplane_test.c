/* dataplane: msock-dataplane under a real broker, with the sockets the
 * broker made. The test plays WireGuard (a UDP socket on wg_listen_port),
 * a peer with a static endpoint (UDP socket p1), a peer reached only over
 * DERP (p2), and the derp, disco and netcheck services on the packet
 * channels. Checked: both directions of both paths, disco and STUN routing,
 * the drop counters for bad input, restart and rebind keeping the port and
 * the loopback endpoints, a taken port falling back, and wg-config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "addr.h"
#include "clock.h"
#include "harness.h"
#include "key.h"
#include "pktchan.h"

struct world {
	struct th_broker b;
	int wg, p1, stranger; /* UDP sockets on 127.0.0.1 */
	uint16_t wg_port, p1_port;
	struct key32 k1, k2;
	char hex1[KEY_TEXT_MAX], hex2[KEY_TEXT_MAX]; /* "nodekey:<hex>" */
	void *zctx;
	struct pktchan *derp, *disco, *netcheck;
};

static void make_key(struct key32 *pub, char *hex, size_t cap)
{
	struct key32 priv;

	assert_int_equal(key_generate(&priv), 0);
	assert_int_equal(key_public(&priv, pub), 0);
	key_format(KEY_KIND_NODE_PUBLIC, pub, hex, cap);
}

/* A path into status JSON: Peer.<nodekey>.<field>, or Self.Dataplane... */
static json_t *peer_field(json_t *st, const char *hex, const char *field)
{
	return json_object_get(json_object_get(json_object_get(st, "Peer"), hex), field);
}

static bool endpoints_ready(void *arg)
{
	struct world *w = arg;
	json_t *st = th_status(&w->b);
	const char *a = json_string_value(peer_field(st, w->hex1, "LocalEndpoint"));
	const char *b = json_string_value(peer_field(st, w->hex2, "LocalEndpoint"));
	bool ok = a && *a && b && *b &&
		  json_is_object(json_object_get(json_object_get(st, "Self"), "Dataplane"));

	json_decref(st);
	return ok;
}

static void local_endpoint(struct world *w, const char *hex, struct ipport *out)
{
	json_t *st = th_status(&w->b);
	const char *s = json_string_value(peer_field(st, hex, "LocalEndpoint"));

	assert_non_null(s);
	assert_int_equal(ipport_parse(s, out), 0);
	json_decref(st);
}

static long long peer_int(struct world *w, const char *hex, const char *field)
{
	json_t *st = th_status(&w->b);
	json_t *v = peer_field(st, hex, field);
	long long r = json_is_integer(v) ? json_integer_value(v) : -1;

	json_decref(st);
	return r;
}

struct peer_wait {
	struct world *w;
	const char *hex, *field;
	long long at_least;
};

static bool peer_counter_reached(void *arg)
{
	struct peer_wait *c = arg;
	return peer_int(c->w, c->hex, c->field) >= c->at_least;
}

static long long dp_int(struct world *w, const char *field)
{
	json_t *st = th_status(&w->b);
	json_t *dp = json_object_get(json_object_get(st, "Self"), "Dataplane");
	json_t *v = json_object_get(dp, field);
	long long r;

	if (!v)
		v = json_object_get(json_object_get(dp, "Counters"), field);
	r = v ? json_integer_value(v) : -1;
	json_decref(st);
	return r;
}

static void start(struct world *w, int listen_port, const char *extra_peers_json)
{
	char extra[4096];

	snprintf(extra, sizeof(extra),
		 ",\n  \"listen_port\": %d, \"wg_listen_port\": %u,\n"
		 "  \"peers\": [ {\"name\": \"p1\", \"node_key\": \"%s\", \"endpoints\": "
		 "[\"127.0.0.1:%u\"]},\n"
		 "    {\"name\": \"p2\", \"node_key\": \"%s\"}%s ]",
		 listen_port, w->wg_port, w->hex1, w->p1_port, w->hex2,
		 extra_peers_json ? extra_peers_json : "");
	assert_int_equal(th_broker_start(&w->b, "[\"dataplane\"]", extra), 0);
	assert_true(th_wait(endpoints_ready, w));
	w->zctx = zmq_ctx_new();
	w->derp = pktchan_open(w->zctx, w->b.bus_dir, "derp", PKTCHAN_ROLE_SERVICE);
	w->disco = pktchan_open(w->zctx, w->b.bus_dir, "disco", PKTCHAN_ROLE_SERVICE);
	w->netcheck = pktchan_open(w->zctx, w->b.bus_dir, "netcheck", PKTCHAN_ROLE_SERVICE);
	assert_non_null(w->derp);
	assert_non_null(w->disco);
	assert_non_null(w->netcheck);
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	if (!w)
		return -1;
	w->wg = th_udp_loopback(0, &w->wg_port);
	w->p1 = th_udp_loopback(0, &w->p1_port);
	w->stranger = th_udp_loopback(0, 0);
	make_key(&w->k1, w->hex1, sizeof(w->hex1));
	make_key(&w->k2, w->hex2, sizeof(w->hex2));
	*state = w;
	return w->wg < 0 || w->p1 < 0 || w->stranger < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	pktchan_free(w->derp);
	pktchan_free(w->disco);
	pktchan_free(w->netcheck);
	if (w->zctx)
		zmq_ctx_term(w->zctx);
	th_broker_stop(&w->b, SIGTERM, 0);
	th_broker_cleanup(&w->b);
	close(w->wg);
	close(w->p1);
	close(w->stranger);
	free(w);
	return 0;
}

static void send_to(int fd, const struct ipport *to, const uint8_t *p, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = ipport_to_sockaddr(to, &ss);

	sendto(fd, p, len, 0, (struct sockaddr *)&ss, sl);
}

/* Receives one datagram within ms; returns its length or -1. */
static ssize_t recv_within(int fd, uint8_t *buf, size_t cap, struct ipport *from, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	ssize_t n;

	if (poll(&pfd, 1, ms) <= 0)
		return -1;
	n = recvfrom(fd, buf, cap, MSG_DONTWAIT, (struct sockaddr *)&ss, &sl);
	if (n >= 0 && from)
		ipport_from_sockaddr((struct sockaddr *)&ss, sl, from);
	return n;
}

static int chan_recv_within(struct pktchan *c, struct pktchan_hdr *h, uint8_t *buf, size_t cap,
			    size_t *len, int ms)
{
	uint64_t t0 = clock_mono_ns();

	while (th_ms_since(t0) < (uint64_t)ms) {
		if (pktchan_recv(c, h, buf, cap, len) == 0)
			return 0;
		usleep(2000);
	}
	return -1;
}

/* Sends payload on channel c as header h (a UDP_SEND) until it reaches the
 * UDP socket fd, within TH_WAIT_MS; *from gets the address it came from. */
static void chan_send_until_udp(struct pktchan *c, const struct pktchan_hdr *h, const uint8_t *p,
				size_t len, int fd, struct ipport *from)
{
	static uint8_t in[70000];
	uint64_t t0 = clock_mono_ns();

	for (;;) {
		assert_true(th_ms_since(t0) < TH_WAIT_MS);
		pktchan_send(c, h, p, len);
		if (recv_within(fd, in, sizeof(in), from, 200) == (ssize_t)len)
			return;
	}
}

static void fill(uint8_t *p, size_t len, uint8_t first, uint8_t tag)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(tag + i);
	p[0] = first;
}

/* WireGuard-looking payloads start with 1..4 (message type, little endian). */
enum { WG_TRANSPORT = 4 };

static const struct ipport *dp_addr(struct world *w, struct ipport *a)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	a->ip[0] = 127;
	a->ip[3] = 1;
	a->port = (uint16_t)dp_int(w, "Port");
	return a;
}

/* WireGuard -> p1's endpoint -> p1 (from the dataplane's port), retried
 * until it arrives (the first packets can race the start-up). */
static void wg_to_p1(struct world *w)
{
	struct ipport lo, from, dp;
	uint8_t out[1200], in[2048];
	uint64_t t0 = clock_mono_ns();

	local_endpoint(w, w->hex1, &lo);
	dp_addr(w, &dp);
	fill(out, sizeof(out), WG_TRANSPORT, 7);
	while (th_ms_since(t0) < TH_WAIT_MS) {
		send_to(w->wg, &lo, out, sizeof(out));
		ssize_t n = recv_within(w->p1, in, sizeof(in), &from, 200);
		if (n == (ssize_t)sizeof(out)) {
			assert_memory_equal(in, out, sizeof(out));
			assert_true(ipport_equal(&from, &dp));
			return;
		}
	}
	fail_msg("WireGuard's packet to p1 never arrived");
}

static void p1_to_wg(struct world *w)
{
	struct ipport lo, from, dp;
	uint8_t out[900], in[2048];
	uint64_t t0 = clock_mono_ns();

	local_endpoint(w, w->hex1, &lo);
	dp_addr(w, &dp);
	fill(out, sizeof(out), WG_TRANSPORT, 9);
	while (th_ms_since(t0) < TH_WAIT_MS) {
		send_to(w->p1, &dp, out, sizeof(out));
		ssize_t n = recv_within(w->wg, in, sizeof(in), &from, 200);
		if (n == (ssize_t)sizeof(out)) {
			assert_memory_equal(in, out, sizeof(out));
			/* From p1's endpoint: WireGuard sees the peer where it sends. */
			assert_true(ipport_equal(&from, &lo));
			return;
		}
	}
	fail_msg("p1's packet never reached WireGuard");
}

static void test_direct_both_ways(void **state)
{
	struct world *w = *state;

	start(w, 0, 0);
	wg_to_p1(w);
	p1_to_wg(w);
}

static void test_derp_both_ways(void **state)
{
	struct world *w = *state;
	struct ipport lo2, from;
	struct pktchan_hdr h, back = {.kind = PKTCHAN_DERP_RECV, .region = 900};
	uint8_t out[700], in[70000];
	size_t n;
	uint64_t t0;

	start(w, 0, 0);
	local_endpoint(w, w->hex2, &lo2);
	fill(out, sizeof(out), WG_TRANSPORT, 3);
	/* WireGuard -> p2 (no direct address): DERP_SEND with p2's key. */
	t0 = clock_mono_ns();
	for (;;) {
		assert_true(th_ms_since(t0) < TH_WAIT_MS);
		send_to(w->wg, &lo2, out, sizeof(out));
		if (chan_recv_within(w->derp, &h, in, sizeof(in), &n, 200) == 0)
			break;
	}
	assert_int_equal(h.kind, PKTCHAN_DERP_SEND);
	assert_memory_equal(h.key, w->k2.b, 32);
	assert_int_equal(n, sizeof(out));
	assert_memory_equal(in, out, sizeof(out));
	/* p2 -> WireGuard over DERP: delivered from p2's endpoint. */
	memcpy(back.key, w->k2.b, 32);
	t0 = clock_mono_ns();
	for (;;) {
		assert_true(th_ms_since(t0) < TH_WAIT_MS);
		pktchan_send(w->derp, &back, out, sizeof(out));
		ssize_t got = recv_within(w->wg, in, sizeof(in), &from, 200);
		if (got == (ssize_t)sizeof(out))
			break;
	}
	assert_memory_equal(in, out, sizeof(out));
	assert_true(ipport_equal(&from, &lo2));
}

static const uint8_t disco_magic[6] = {0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac};

static void test_disco_and_stun_routing(void **state)
{
	struct world *w = *state;
	struct pktchan_hdr h, send = {0};
	struct ipport dp, p1 = {.family = AF_INET, .ip = {127, 0, 0, 1}}, from;
	uint8_t disco[100], stun[20] = {0x01, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42}, in[70000];
	size_t n;
	uint64_t t0;

	start(w, 0, 0);
	p1.port = w->p1_port;
	dp_addr(w, &dp);
	memset(disco, 0xab, sizeof(disco));
	memcpy(disco, disco_magic, 6);
	/* disco over UDP -> the disco channel, with the sender's address. */
	t0 = clock_mono_ns();
	do {
		assert_true(th_ms_since(t0) < TH_WAIT_MS);
		send_to(w->p1, &dp, disco, sizeof(disco));
	} while (chan_recv_within(w->disco, &h, in, sizeof(in), &n, 200) < 0);
	assert_int_equal(h.kind, PKTCHAN_UDP_RECV);
	assert_true(ipport_equal(&h.addr, &p1));
	assert_int_equal(n, sizeof(disco));
	/* A STUN binding response -> netcheck. */
	t0 = clock_mono_ns();
	do {
		assert_true(th_ms_since(t0) < TH_WAIT_MS);
		send_to(w->p1, &dp, stun, sizeof(stun));
	} while (chan_recv_within(w->netcheck, &h, in, sizeof(in), &n, 200) < 0);
	assert_int_equal(h.kind, PKTCHAN_UDP_RECV);
	assert_true(ipport_equal(&h.addr, &p1));
	/* disco over DERP (from derp) -> disco, as DERP_RECV with the key. */
	send = (struct pktchan_hdr){.kind = PKTCHAN_DERP_RECV, .region = 900};
	memcpy(send.key, w->k2.b, 32);
	t0 = clock_mono_ns();
	do {
		assert_true(th_ms_since(t0) < TH_WAIT_MS);
		pktchan_send(w->derp, &send, disco, sizeof(disco));
	} while (chan_recv_within(w->disco, &h, in, sizeof(in), &n, 200) < 0);
	assert_int_equal(h.kind, PKTCHAN_DERP_RECV);
	assert_memory_equal(h.key, w->k2.b, 32);
	/* netcheck's and disco's UDP_SEND leave from our port. */
	struct pktchan *senders[2] = {w->netcheck, w->disco};
	for (int i = 0; i < 2; i++) {
		send = (struct pktchan_hdr){.kind = PKTCHAN_UDP_SEND, .addr = p1};
		chan_send_until_udp(senders[i], &send, stun, sizeof(stun), w->p1, &from);
		assert_true(ipport_equal(&from, &dp));
	}
	/* disco's DERP_SEND goes on to derp. */
	send = (struct pktchan_hdr){.kind = PKTCHAN_DERP_SEND};
	memcpy(send.key, w->k2.b, 32);
	t0 = clock_mono_ns();
	do {
		assert_true(th_ms_since(t0) < TH_WAIT_MS);
		pktchan_send(w->disco, &send, disco, sizeof(disco));
	} while (chan_recv_within(w->derp, &h, in, sizeof(in), &n, 200) < 0);
	assert_int_equal(h.kind, PKTCHAN_DERP_SEND);
	assert_memory_equal(h.key, w->k2.b, 32);
}

struct counter_wait {
	struct world *w;
	const char *field;
	long long at_least;
};

static bool counter_reached(void *arg)
{
	struct counter_wait *c = arg;
	return dp_int(c->w, c->field) >= c->at_least;
}

static void expect_counter(struct world *w, const char *field, long long at_least)
{
	struct counter_wait c = {w, field, at_least};
	if (!th_wait(counter_reached, &c))
		fail_msg("%s stayed at %lld, want >= %lld", field, dp_int(w, field), at_least);
}

/* Probe sockets (birthday punching): disco's UDP_SEND naming socket 5
 * leaves from another port than the main one; what comes back to that
 * port reaches disco as UDP_RECV naming socket 5; an IPv6 destination for
 * a probe socket is refused and counted. */
static void test_probe_sockets(void **state)
{
	struct world *w = *state;
	struct pktchan_hdr h, send = {0};
	struct ipport dp, p1 = {.family = AF_INET, .ip = {127, 0, 0, 1}}, from = {0};
	uint8_t disco[100], in[70000];
	size_t n;
	uint64_t t0;
	long long errs;

	start(w, 0, 0);
	p1.port = w->p1_port;
	dp_addr(w, &dp);
	memset(disco, 0xab, sizeof(disco));
	memcpy(disco, disco_magic, 6);
	send = (struct pktchan_hdr){.kind = PKTCHAN_UDP_SEND, .addr = p1, .sock = 5};
	chan_send_until_udp(w->disco, &send, disco, sizeof(disco), w->p1, &from);
	assert_int_equal(from.family, AF_INET);
	assert_int_not_equal(from.port, dp.port);
	/* The answer to that port: disco hears it on socket 5. */
	t0 = clock_mono_ns();
	do {
		assert_true(th_ms_since(t0) < TH_WAIT_MS);
		send_to(w->p1, &from, disco, sizeof(disco));
	} while (chan_recv_within(w->disco, &h, in, sizeof(in), &n, 200) < 0);
	assert_int_equal(h.kind, PKTCHAN_UDP_RECV);
	assert_int_equal(h.sock, 5);
	assert_true(ipport_equal(&h.addr, &p1));
	/* The same socket again: the same port. */
	struct ipport again = {0};
	chan_send_until_udp(w->disco, &send, disco, sizeof(disco), w->p1, &again);
	assert_true(ipport_equal(&again, &from));
	expect_counter(w, "ProbeSockets", 1);
	/* IPv6 from a probe socket: refused, counted. */
	errs = dp_int(w, "TxErrors");
	send.addr = (struct ipport){.family = AF_INET6, .ip = {[15] = 1}, .port = p1.port};
	pktchan_send(w->disco, &send, disco, sizeof(disco));
	expect_counter(w, "TxErrors", errs + 1);
}

/* Bad input: each kind is dropped and counted, nothing reaches WireGuard
 * or a peer, and good traffic still flows afterwards. */
static void test_bad_input(void **state)
{
	struct world *w = *state;
	struct ipport dp, lo1;
	uint8_t pkt[200], in[2048];
	uint16_t other_port;
	int other;

	start(w, 0, 0);
	wg_to_p1(w); /* up */
	dp_addr(w, &dp);
	local_endpoint(w, w->hex1, &lo1);
	fill(pkt, sizeof(pkt), WG_TRANSPORT, 1);
	/* WireGuard-looking packet from an address no peer has. */
	send_to(w->stranger, &dp, pkt, sizeof(pkt));
	expect_counter(w, "RxUnknownSource", 1);
	/* To p1's endpoint, but not from WireGuard's port. */
	other = th_udp_loopback(0, &other_port);
	send_to(other, &lo1, pkt, sizeof(pkt));
	expect_counter(w, "WGBadSource", 1);
	close(other);
	/* Disco magic and key, but no room for a nonce: junk. */
	memcpy(pkt, disco_magic, 6);
	send_to(w->p1, &dp, pkt, 50);
	expect_counter(w, "RxDiscoJunk", 1);
	/* Geneve (version 0, protocol WireGuard): peer relays come later. */
	memset(pkt, 0, 16);
	pkt[2] = 0x7a;
	pkt[3] = 0x12;
	pkt[6] = 1;
	send_to(w->p1, &dp, pkt, 100);
	expect_counter(w, "RxGeneve", 1);
	/* To a loopback address in our block that no peer has. */
	struct ipport nobody = lo1;
	nobody.ip[3] ^= 0x55;
	send_to(w->wg, &nobody, pkt, sizeof(pkt));
	expect_counter(w, "WGNoPeer", 1);
	/* DERP_RECV from a key that is no peer's. */
	struct pktchan_hdr h = {.kind = PKTCHAN_DERP_RECV, .region = 900};
	memset(h.key, 0x42, 32);
	fill(pkt, sizeof(pkt), WG_TRANSPORT, 1);
	for (int i = 0; i < 20 && dp_int(w, "DERPUnknownPeer") < 1; i++) {
		pktchan_send(w->derp, &h, pkt, sizeof(pkt));
		usleep(100000);
	}
	expect_counter(w, "DERPUnknownPeer", 1);
	/* Garbage on a packet channel: a raw PUSH to the derp up-link. */
	void *raw = zmq_socket(w->zctx, ZMQ_PUSH);
	char addr[600];
	snprintf(addr, sizeof(addr), "ipc://%s/ch-derp/pkt-derp-up.ipc", w->b.bus_dir);
	assert_int_equal(zmq_connect(raw, addr), 0);
	for (int i = 0; i < 5; i++)
		zmq_send(raw, "not a packet", 12, 0);
	zmq_close(raw);
	/* None of it reached WireGuard; the dataplane still forwards. */
	assert_true(recv_within(w->wg, in, sizeof(in), 0, 300) < 0);
	assert_true(th_comp_state_is(&w->b, "dataplane", "running"));
	assert_int_equal(th_comp_restarts(&w->b, "dataplane"), 0);
	assert_true(th_log_contains(&w->b, "pktchan derp-up: dropped"));
	wg_to_p1(w);
	p1_to_wg(w);
}

static bool restarted(void *arg)
{
	struct th_broker *b = arg;
	return th_comp_restarts(b, "dataplane") >= 1 && th_comp_state_is(b, "dataplane", "running");
}

/* Killed or rebound, the dataplane comes back on the same port with the
 * same loopback endpoints (NAT mappings and WireGuard's config hold). */
static void test_restart_and_rebind_keep_port(void **state)
{
	struct world *w = *state;
	struct ipport lo1, lo2, lo1b, lo2b;
	long long port;
	bool ok;
	char *text = 0;

	start(w, 0, 0);
	wg_to_p1(w);
	p1_to_wg(w);
	port = dp_int(w, "Port");
	local_endpoint(w, w->hex1, &lo1);
	local_endpoint(w, w->hex2, &lo2);
	/* The counters published before the kill carry on after it. */
	struct peer_wait pw = {w, w->hex1, "TxPackets", 1};
	assert_true(th_wait(peer_counter_reached, &pw));
	pw.field = "RxPackets";
	assert_true(th_wait(peer_counter_reached, &pw));
	long long tx = peer_int(w, w->hex1, "TxPackets"), rx = peer_int(w, w->hex1, "RxPackets");
	long long txb = peer_int(w, w->hex1, "TxBytes");
	kill(th_comp_pid(&w->b, "dataplane"), SIGKILL);
	assert_true(th_wait(restarted, &w->b));
	assert_true(th_wait(endpoints_ready, w));
	assert_int_equal(dp_int(w, "Port"), port);
	wg_to_p1(w);
	pw = (struct peer_wait){w, w->hex1, "TxPackets", tx + 1};
	if (!th_wait(peer_counter_reached, &pw))
		fail_msg("TxPackets after the restart is %lld; before it was %lld",
			 peer_int(w, w->hex1, "TxPackets"), tx);
	assert_true(peer_int(w, w->hex1, "RxPackets") >= rx);
	assert_true(peer_int(w, w->hex1, "TxBytes") > txb);
	local_endpoint(w, w->hex1, &lo1b);
	local_endpoint(w, w->hex2, &lo2b);
	assert_true(ipport_equal(&lo1, &lo1b));
	assert_true(ipport_equal(&lo2, &lo2b));
	wg_to_p1(w);
	p1_to_wg(w);

	pid_t before = th_comp_pid(&w->b, "dataplane");
	assert_int_equal(th_control(&w->b, "rebind", 0, &ok, &text), 0);
	assert_true(ok);
	free(text);
	for (uint64_t t0 = clock_mono_ns(); th_comp_pid(&w->b, "dataplane") == before ||
					    !th_comp_state_is(&w->b, "dataplane", "running");) {
		assert_true(th_ms_since(t0) < TH_WAIT_MS);
		usleep(20000);
	}
	assert_true(th_wait(endpoints_ready, w));
	assert_int_equal(dp_int(w, "Port"), port);
	local_endpoint(w, w->hex1, &lo1b);
	assert_true(ipport_equal(&lo1, &lo1b));
	wg_to_p1(w);
	p1_to_wg(w);
}

/* Peer.<hex>.<field> as a JSON integer, -1 for null (never). */
static long long peer_time(struct world *w, const char *hex, const char *field)
{
	json_t *st = th_status(&w->b);
	json_t *v = peer_field(st, hex, field);
	long long r = json_is_null(v) ? -1 : json_is_integer(v) ? json_integer_value(v) : -2;

	assert_true(v != 0);
	json_decref(st);
	return r;
}

static double peer_idle(struct world *w, const char *hex)
{
	json_t *st = th_status(&w->b);
	json_t *v = peer_field(st, hex, "IdleSec");
	double r = json_is_null(v) ? -1 : json_is_number(v) ? json_number_value(v) : -2;

	assert_true(v != 0);
	json_decref(st);
	return r;
}

static bool peer_time_set(void *arg)
{
	struct peer_wait *c = arg;
	return peer_time(c->w, c->hex, c->field) >= 0;
}

/* `msockctl status` as a person reads it, into out. */
static void status_text(struct world *w, char *out, size_t cap)
{
	char cmd[1024];
	FILE *f;
	size_t n;

	snprintf(cmd, sizeof(cmd), "%s/msockctl --socket %s status", th_bin_dir(), w->b.control);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, cap - 1, f);
	out[n] = 0;
	assert_int_equal(pclose(f), 0);
}

/* LastRecvUnixMs (magicsock's LastRecvActivityOfNodeKey), LastSendUnixMs
 * and IdleSec: null before any traffic; a send alone sets only the send
 * time; a packet from the peer sets the receive time, over UDP or over
 * DERP; idle grows while nothing moves; the times survive a dataplane
 * restart; the text says "last rx ... ago". */
static void test_last_recv_and_idle(void **state)
{
	struct world *w = *state;
	struct peer_wait pw = {w, w->hex1, "LastSendUnixMs", 0};
	char text[16384], line[128];
	long long t0, t1, rx1, rx2;

	start(w, 0, 0);
	assert_int_equal(peer_time(w, w->hex1, "LastRecvUnixMs"), -1);
	assert_int_equal(peer_time(w, w->hex1, "LastSendUnixMs"), -1);
	assert_true(peer_idle(w, w->hex1) == -1);
	status_text(w, text, sizeof(text));
	assert_non_null(strstr(text, "last rx never, no traffic"));

	/* WireGuard sends; nothing comes back yet. */
	wg_to_p1(w);
	assert_true(th_wait(peer_time_set, &pw));
	assert_int_equal(peer_time(w, w->hex1, "LastRecvUnixMs"), -1);
	assert_true(peer_idle(w, w->hex1) >= 0);

	/* p1 answers over UDP: the receive time is when that happened. */
	t0 = (long long)clock_unix_ms();
	p1_to_wg(w);
	t1 = (long long)clock_unix_ms();
	pw.field = "LastRecvUnixMs";
	assert_true(th_wait(peer_time_set, &pw));
	rx1 = peer_time(w, w->hex1, "LastRecvUnixMs");
	print_message("p1: last rx %lld ms after the send began\n", rx1 - t0);
	assert_true(rx1 >= t0 - 5 && rx1 <= t1 + 5);
	/* p2 has had no traffic at all. */
	assert_int_equal(peer_time(w, w->hex2, "LastRecvUnixMs"), -1);
	assert_true(peer_idle(w, w->hex2) == -1);

	/* Over DERP counts as well. */
	struct pktchan_hdr back = {.kind = PKTCHAN_DERP_RECV, .region = 900};
	uint8_t out[300], in[2048];
	fill(out, sizeof(out), WG_TRANSPORT, 5);
	memcpy(back.key, w->k2.b, 32);
	for (uint64_t s0 = clock_mono_ns();;) {
		assert_true(th_ms_since(s0) < TH_WAIT_MS);
		pktchan_send(w->derp, &back, out, sizeof(out));
		if (recv_within(w->wg, in, sizeof(in), 0, 200) == (ssize_t)sizeof(out))
			break;
	}
	pw = (struct peer_wait){w, w->hex2, "LastRecvUnixMs", 0};
	assert_true(th_wait(peer_time_set, &pw));
	assert_int_equal(peer_time(w, w->hex2, "LastSendUnixMs"), -1);

	/* Nothing moves for 1.5 s: idle grows, the receive time stays. */
	usleep(1500 * 1000);
	assert_true(peer_idle(w, w->hex1) >= 1.4);
	rx2 = peer_time(w, w->hex1, "LastRecvUnixMs");
	assert_true(rx2 >= rx1 - 2 && rx2 <= rx1 + 2);
	status_text(w, text, sizeof(text));
	print_message("%s", text);
	/* Both peers' lines: "last rx Ns ago, idle Ns" (the figures are the
	 * unit test's, msockctl_status_text_unit). */
	const char *l1 = strstr(text, "s ago, idle ");
	assert_non_null(l1);
	assert_non_null(strstr(l1 + 1, "s ago, idle "));
	assert_null(strstr(text, "never"));

	/* A restarted dataplane carries the times on, as its counters. */
	kill(th_comp_pid(&w->b, "dataplane"), SIGKILL);
	assert_true(th_wait(restarted, &w->b));
	assert_true(th_wait(endpoints_ready, w));
	rx2 = peer_time(w, w->hex1, "LastRecvUnixMs");
	snprintf(line, sizeof(line), "before the restart %lld, after %lld", rx1, rx2);
	if (rx2 < rx1 - 5 || rx2 > rx1 + 5)
		fail_msg("LastRecvUnixMs: %s", line);
	assert_true(peer_time(w, w->hex1, "LastSendUnixMs") >= 0);
}

static void test_taken_port_falls_back(void **state)
{
	struct world *w = *state;
	uint16_t taken;
	int hold = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	char needle[64];

	/* Hold a wildcard port, as another program would. */
	assert_int_equal(bind(hold, (struct sockaddr *)&sa, sizeof(sa)), 0);
	getsockname(hold, (struct sockaddr *)&sa, &sl);
	taken = ntohs(sa.sin_port);
	start(w, taken, 0);
	snprintf(needle, sizeof(needle), "port %u is in use; using", taken);
	assert_true(th_log_contains(&w->b, needle));
	assert_int_not_equal(dp_int(w, "Port"), taken);
	wg_to_p1(w);
	close(hold);
}

static void test_wg_config(void **state)
{
	struct world *w = *state;
	char b64[KEY_TEXT_MAX], want[256];
	struct ipport lo1;
	char ep[ADDR_TEXT_MAX];
	bool ok;
	char *text = 0;

	start(w, 0, 0);
	local_endpoint(w, w->hex1, &lo1);
	ipport_format(&lo1, ep, sizeof(ep));
	key_to_base64(&w->k1, b64, sizeof(b64));
	snprintf(want, sizeof(want), "%s %s\n", b64, ep);
	assert_int_equal(th_control(&w->b, "wg-config", 0, &ok, &text), 0);
	assert_true(ok);
	assert_non_null(strstr(text, want));
	/* One line per peer. */
	size_t lines = 0;
	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 2);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_direct_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_derp_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disco_and_stun_routing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe_sockets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_and_rebind_keep_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_recv_and_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_taken_port_falls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wg_config, setup, teardown),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "dataplane test: needs root (the broker binds to the lo device)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, 0, 0);
}

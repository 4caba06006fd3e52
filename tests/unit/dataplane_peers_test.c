/* dataplane_peers_test: the dataplane's forwarding table (peers.c):
 * loopback endpoint addresses, the three lookups (hash maps of
 * lib/keymap.c, tested in keymap_test.c), static and disco addresses, and
 * magicsock's send rule (DIRECT, DIRECT_DERP, DERP). */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_rand.h"
#include "dp.h"

enum {
	MANY_PEERS = 10000,	   /* peers in the big table test */
	FAKE_FD4 = 3,		   /* d.udp4/d.udp6: only >= 0 matters to the path */
	FAKE_FD6 = 4,		   /* rule, nothing is ever sent on them */
	SEC_NS = 1000000000,	   /* one second in ns */
	LO_NET_MASK = 0xffc00000u, /* the /10 of DP_LO_BASE */
};

/* ---- the forwarding table ---- */

static struct dp *new_dp(void)
{
	struct dp *d = malloc(sizeof(*d));

	assert_non_null(d);
	assert_int_equal(dp_init(d), 0);
	assert_int_equal(d->udp4, -1);
	assert_int_equal(d->udp6, -1);
	return d;
}

static void free_dp(struct dp *d)
{
	dp_free(d);
	free(d);
}

static void key_of(uint8_t k[32], uint32_t n)
{
	uint64_t s = n;

	th_rnd_bytes(&s, k, 32);
}

static struct ipport addr(const char *s)
{
	struct ipport a;

	assert_int_equal(ipport_parse(s, &a), 0);
	return a;
}

static bool lo_valid(uint32_t lo)
{
	return (lo & LO_NET_MASK) == DP_LO_BASE && (lo & 0xff) != 0 && (lo & 0xff) != 0xff;
}

static void test_addrkey(void **state)
{
	struct ipport a = addr("1.2.3.4:4660"), b = addr("[2001:db8::1]:1");
	struct dp_addrkey k;
	const uint8_t v4[16] = {1, 2, 3, 4};

	(void)state;
	/* The 19-byte keys of keymap_test.c's address-shaped runs. */
	assert_int_equal(sizeof(struct dp_addrkey), 19);
	a.ip[4] = 0xee; /* garbage past an IPv4 address is not part of the key */
	dp_addrkey(&a, &k);
	assert_int_equal(k.family, AF_INET);
	assert_memory_equal(k.ip, v4, 16);
	assert_int_equal(k.port[0], 0x12);
	assert_int_equal(k.port[1], 0x34);
	dp_addrkey(&b, &k);
	assert_int_equal(k.family, AF_INET6);
	assert_memory_equal(k.ip, b.ip, 16);
	assert_int_equal(k.port[0], 0);
	assert_int_equal(k.port[1], 1);
}

/* The endpoint address comes from the key's first four bytes, inside the
 * /10 and never .0 or .255 (the next one up, wrapping in the block). */
static void test_lo_from_key(void **state)
{
	static const struct {
		uint8_t prefix[4];
		uint32_t lo;
	} cases[] = {
		{{0x12, 0x34, 0x56, 0x78}, 0x7f745678u},
		{{0x12, 0x34, 0x56, 0x00}, 0x7f745601u},
		{{0x12, 0x34, 0x56, 0xff}, 0x7f745701u},
		{{0x00, 0x3f, 0xff, 0xff}, 0x7f400001u}, /* .255, wrap, .0 */
		{{0xff, 0xff, 0xff, 0xfe}, 0x7f7ffffeu},
	};
	struct dp *d = new_dp();
	uint8_t k[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		key_of(k, (uint32_t)i);
		memcpy(k, cases[i].prefix, 4);
		struct dp_peer *p = dp_peer_add(d, k, 0);
		assert_non_null(p);
		assert_int_equal(p->lo, cases[i].lo);
		assert_ptr_equal(dp_peer_by_lo(d, cases[i].lo), p);
		assert_ptr_equal(dp_peer_by_key(d, k), p);
		assert_true(p->used);
		assert_false(p->known);
	}
	for (uint32_t i = 100; i < 1100; i++) {
		key_of(k, i);
		struct dp_peer *p = dp_peer_add(d, k, 0);
		assert_non_null(p);
		assert_true(lo_valid(p->lo));
	}
	assert_int_equal(d->n_used, 1000 + sizeof(cases) / sizeof(cases[0]));
	free_dp(d);
}

static void test_lo_stable_and_taken(void **state)
{
	struct dp *d = new_dp();
	uint8_t ka[32], kb[32];
	struct dp_peer *p;
	uint32_t lo_a;

	(void)state;
	key_of(ka, 1);
	key_of(kb, 2);
	p = dp_peer_add(d, ka, 0);
	lo_a = p->lo;
	assert_true(lo_valid(lo_a));
	/* Adding again finds it; the lo argument is ignored then. */
	assert_ptr_equal(dp_peer_add(d, ka, DP_LO_BASE | 0x123), p);
	assert_int_equal(p->lo, lo_a);
	assert_int_equal(d->n_used, 1);
	/* Removed and added back while free: the same address. */
	dp_peer_remove(d, p);
	assert_null(dp_peer_by_key(d, ka));
	assert_null(dp_peer_by_lo(d, lo_a));
	assert_int_equal(d->n_used, 0);
	assert_int_equal(d->n_peers, 0);
	p = dp_peer_add(d, ka, 0);
	assert_int_equal(p->lo, lo_a);
	/* Taken meanwhile by another (remembered) peer: another address. */
	dp_peer_remove(d, p);
	p = dp_peer_add(d, kb, lo_a);
	assert_int_equal(p->lo, lo_a);
	p = dp_peer_add(d, ka, 0);
	assert_int_not_equal(p->lo, lo_a);
	assert_true(lo_valid(p->lo));
	assert_ptr_equal(dp_peer_by_lo(d, lo_a), dp_peer_by_key(d, kb));
	assert_ptr_equal(dp_peer_by_lo(d, p->lo), dp_peer_by_key(d, ka));
	free_dp(d);
}

static void test_lo_remembered(void **state)
{
	static const uint32_t bad[] = {
		0x7f000001u,	     /* 127.0.0.1: outside the block */
		0x7f800001u,	     /* 127.128.0.1: just past it */
		0x7f3fff01u,	     /* 127.63.255.1: just before it */
		DP_LO_BASE | 0x100u, /* .0 */
		DP_LO_BASE | 0x1ffu, /* .255 */
		0,
	};
	struct dp *d = new_dp();
	uint8_t ka[32], kb[32];
	struct dp_peer *p;
	uint32_t derived, remembered = DP_LO_BASE | 0x2a0123u;

	(void)state;
	key_of(ka, 1);
	key_of(kb, 2);
	/* What ka gets on its own. */
	derived = dp_peer_add(d, ka, 0)->lo;
	dp_peer_remove(d, dp_peer_by_key(d, ka));
	assert_int_not_equal(derived, remembered);
	p = dp_peer_add(d, ka, remembered);
	assert_int_equal(p->lo, remembered);
	assert_ptr_equal(dp_peer_by_lo(d, remembered), p);
	assert_null(dp_peer_by_lo(d, derived));
	dp_peer_remove(d, p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = dp_peer_add(d, ka, bad[i]);
		assert_int_equal(p->lo, derived);
		dp_peer_remove(d, p);
	}
	/* A remembered address another peer holds: another one. */
	p = dp_peer_add(d, ka, remembered);
	p = dp_peer_add(d, kb, remembered);
	assert_int_not_equal(p->lo, remembered);
	assert_true(lo_valid(p->lo));
	assert_ptr_equal(dp_peer_by_lo(d, p->lo), p);
	assert_ptr_equal(dp_peer_by_lo(d, remembered), dp_peer_by_key(d, ka));
	free_dp(d);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* MANY_PEERS peers, a quarter of them with the same key prefix (so the
 * same first-choice address): all distinct, all found both ways; then half
 * go, and come back with their remembered addresses. */
static void test_many_peers(void **state)
{
	struct dp *d = new_dp();
	uint32_t *los = malloc(MANY_PEERS * sizeof(*los));
	uint32_t *sorted = malloc(MANY_PEERS * sizeof(*sorted));
	uint8_t k[32], k0[32];

	(void)state;
	assert_non_null(los);
	assert_non_null(sorted);
	key_of(k0, 0);
	for (uint32_t i = 0; i < MANY_PEERS; i++) {
		key_of(k, i);
		if (i % 4 == 0)
			memcpy(k, k0, 4);
		struct dp_peer *p = dp_peer_add(d, k, 0);
		assert_non_null(p);
		assert_int_equal(dp_peer_index(d, p), i);
		assert_true(lo_valid(p->lo));
		los[i] = sorted[i] = p->lo;
	}
	assert_int_equal(d->n_used, MANY_PEERS);
	qsort(sorted, MANY_PEERS, sizeof(*sorted), cmp_u32);
	for (uint32_t i = 1; i < MANY_PEERS; i++)
		assert_int_not_equal(sorted[i - 1], sorted[i]);
	for (uint32_t i = 0; i < MANY_PEERS; i++) {
		key_of(k, i);
		if (i % 4 == 0)
			memcpy(k, k0, 4);
		assert_ptr_equal(dp_peer_by_key(d, k), &d->peers[i]);
		assert_ptr_equal(dp_peer_by_lo(d, los[i]), &d->peers[i]);
		assert_memory_equal(d->peers[i].key, k, 32);
	}
	for (uint32_t i = 1; i < MANY_PEERS; i += 2)
		dp_peer_remove(d, &d->peers[i]);
	assert_int_equal(d->n_used, MANY_PEERS / 2);
	for (uint32_t i = 0; i < MANY_PEERS; i++) {
		key_of(k, i);
		if (i % 4 == 0)
			memcpy(k, k0, 4);
		struct dp_peer *want = i % 2 ? NULL : &d->peers[i];
		assert_ptr_equal(dp_peer_by_key(d, k), want);
		assert_ptr_equal(dp_peer_by_lo(d, los[i]), want);
	}
	for (uint32_t i = 1; i < MANY_PEERS; i += 2) {
		key_of(k, i);
		struct dp_peer *p = dp_peer_add(d, k, los[i]);
		assert_non_null(p);
		assert_int_equal(p->lo, los[i]);
	}
	assert_int_equal(d->n_used, MANY_PEERS);
	assert_int_equal(d->by_key.n, MANY_PEERS);
	assert_int_equal(d->by_lo.n, MANY_PEERS);
	free(sorted);
	free(los);
	free_dp(d);
}

static void test_statics_map(void **state)
{
	struct dp *d = new_dp();
	uint8_t ka[32], kb[32];
	struct ipport eps[CFG_MAX_ENDPOINTS + 4], other[2];
	struct dp_peer *a, *b;
	char s[ADDR_TEXT_MAX];

	(void)state;
	key_of(ka, 1);
	key_of(kb, 2);
	a = dp_peer_add(d, ka, 0);
	b = dp_peer_add(d, kb, 0);
	for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++) {
		snprintf(s, sizeof(s), "192.0.2.%zu:41641", i + 1);
		eps[i] = addr(s);
	}
	eps[1] = addr("[2001:db8::1]:41641");
	other[0] = addr("198.51.100.1:1");
	other[1] = addr("198.51.100.1:2");
	dp_peer_set_statics(d, a, eps, 3);
	dp_peer_set_statics(d, b, other, 2);
	assert_int_equal(a->n_statics, 3);
	for (size_t i = 0; i < 3; i++)
		assert_ptr_equal(dp_peer_by_addr(d, &eps[i]), a);
	assert_ptr_equal(dp_peer_by_addr(d, &other[0]), b);
	assert_ptr_equal(dp_peer_by_addr(d, &other[1]), b);
	assert_null(dp_peer_by_addr(d, &eps[3]));
	/* Same IP, another port: another address. */
	struct ipport port = eps[0];
	port.port++;
	assert_null(dp_peer_by_addr(d, &port));
	/* Replacing them unmaps the old ones. */
	dp_peer_set_statics(d, a, eps + 2, 2);
	assert_null(dp_peer_by_addr(d, &eps[0]));
	assert_null(dp_peer_by_addr(d, &eps[1]));
	assert_ptr_equal(dp_peer_by_addr(d, &eps[2]), a);
	assert_ptr_equal(dp_peer_by_addr(d, &eps[3]), a);
	assert_int_equal(d->by_addr.n, 4);
	/* More than CFG_MAX_ENDPOINTS: the rest are dropped. */
	dp_peer_set_statics(d, a, eps, CFG_MAX_ENDPOINTS + 4);
	assert_int_equal(a->n_statics, CFG_MAX_ENDPOINTS);
	assert_ptr_equal(dp_peer_by_addr(d, &eps[CFG_MAX_ENDPOINTS - 1]), a);
	assert_null(dp_peer_by_addr(d, &eps[CFG_MAX_ENDPOINTS]));
	/* None at all. */
	dp_peer_set_statics(d, a, eps, 0);
	assert_int_equal(a->n_statics, 0);
	assert_int_equal(d->by_addr.n, 2);
	/* Removing a peer unmaps its addresses, key and endpoint. */
	uint32_t lo_b = b->lo;
	dp_peer_remove(d, b);
	assert_null(dp_peer_by_addr(d, &other[0]));
	assert_null(dp_peer_by_addr(d, &other[1]));
	assert_null(dp_peer_by_key(d, kb));
	assert_null(dp_peer_by_lo(d, lo_b));
	assert_int_equal(d->by_addr.n, 0);
	free_dp(d);
}

#define assert_path(d, p, w, wd) assert_path_at(d, p, w, wd, __LINE__)
/* Checks the peer's path; line: the caller's, named when it fails. */
static void assert_path_at(const struct dp *d, const struct dp_peer *p, enum dp_path want,
			   const struct ipport *want_direct, int line)
{
	const struct ipport *direct = (const struct ipport *)1;
	enum dp_path got = dp_peer_path(d, p, &direct, NULL);

	if (got != want)
		fail_msg("line %d: path %s, want %s", line, dp_path_name(got), dp_path_name(want));
	if (!want_direct) {
		assert_null(direct);
		return;
	}
	assert_non_null(direct);
	assert_true(ipport_equal(direct, want_direct));
}

/* Statics only: DIRECT to the first one of a family we have a socket
 * for; none usable: DERP. */
static void test_path_statics(void **state)
{
	struct dp *d = new_dp();
	struct ipport eps[3] = {addr("[2001:db8::1]:41641"), addr("192.0.2.1:41641"),
				addr("192.0.2.2:41641")};
	uint8_t k[32];
	struct dp_peer *p;

	(void)state;
	key_of(k, 1);
	p = dp_peer_add(d, k, 0);
	assert_path(d, p, DP_PATH_DERP, NULL);
	dp_peer_set_statics(d, p, eps, 3);
	assert_path(d, p, DP_PATH_DERP, NULL); /* no sockets */
	d->udp4 = FAKE_FD4;
	assert_path(d, p, DP_PATH_DIRECT, &eps[1]);
	const struct ipport *direct;
	dp_peer_path(d, p, &direct, NULL);
	assert_ptr_equal(direct, &p->statics[1]);
	d->udp6 = FAKE_FD6;
	assert_path(d, p, DP_PATH_DIRECT, &eps[0]);
	d->udp4 = -1;
	assert_path(d, p, DP_PATH_DIRECT, &eps[0]);
	d->udp6 = -1;
	assert_path(d, p, DP_PATH_DERP, NULL);
	/* fd 0 is a socket like any other. */
	d->udp4 = 0;
	assert_path(d, p, DP_PATH_DIRECT, &eps[1]);
	/* Static endpoints do not expire. */
	d->now_ns = UINT64_MAX;
	assert_path(d, p, DP_PATH_DIRECT, &eps[1]);
	free_dp(d);
}

/* Disco's path: trusted -> DIRECT, expired -> DIRECT_DERP; cleared, back
 * to the statics; no address at all -> DERP. */
static void test_path_disco(void **state)
{
	struct dp *d = new_dp();
	struct ipport st = addr("192.0.2.1:41641"), dd = addr("203.0.113.7:1234");
	struct ipport dd6 = addr("[2001:db8::7]:1234"), none = {0};
	uint8_t k[32];
	struct dp_peer *p;

	(void)state;
	key_of(k, 1);
	p = dp_peer_add(d, k, 0);
	d->udp4 = FAKE_FD4;
	d->now_ns = 100 * (uint64_t)SEC_NS;
	/* No statics, disco found a path. */
	dp_peer_set_path(d, p, &dd, 0, d->now_ns + SEC_NS);
	assert_path(d, p, DP_PATH_DIRECT, &dd);
	const struct ipport *direct;
	dp_peer_path(d, p, &direct, NULL);
	assert_ptr_equal(direct, &p->disco_direct);
	assert_ptr_equal(dp_peer_by_addr(d, &dd), p);
	d->now_ns += SEC_NS - 1;
	assert_path(d, p, DP_PATH_DIRECT, &dd);
	d->now_ns += 1; /* trusted_until is exclusive */
	assert_path(d, p, DP_PATH_DIRECT_DERP, &dd);
	d->now_ns += 3600 * (uint64_t)SEC_NS;
	assert_path(d, p, DP_PATH_DIRECT_DERP, &dd);
	/* Trusted again. */
	dp_peer_set_path(d, p, &dd, 0, d->now_ns + SEC_NS);
	assert_path(d, p, DP_PATH_DIRECT, &dd);
	assert_ptr_equal(dp_peer_by_addr(d, &dd), p);
	/* No socket for the address's family. */
	d->udp4 = -1;
	assert_path(d, p, DP_PATH_DERP, NULL);
	d->udp4 = FAKE_FD4;
	/* With statics, disco's path wins while it has one. */
	dp_peer_set_statics(d, p, &st, 1);
	assert_path(d, p, DP_PATH_DIRECT, &dd);
	d->now_ns += 2 * (uint64_t)SEC_NS;
	assert_path(d, p, DP_PATH_DIRECT_DERP, &dd);
	/* Disco says "no direct path": the static one. */
	dp_peer_set_path(d, p, &none, 0, 0);
	assert_path(d, p, DP_PATH_DIRECT, &st);
	assert_null(dp_peer_by_addr(d, &dd));
	/* An IPv6 path we have no socket for: the static one too. */
	dp_peer_set_path(d, p, &dd6, 0, d->now_ns + SEC_NS);
	assert_path(d, p, DP_PATH_DIRECT, &st);
	d->udp6 = FAKE_FD6;
	assert_path(d, p, DP_PATH_DIRECT, &dd6);
	/* Cleared: back to the statics. */
	dp_peer_clear_path(d, p);
	assert_false(p->has_disco);
	assert_int_equal(p->disco_direct.family, 0);
	assert_path(d, p, DP_PATH_DIRECT, &st);
	assert_null(dp_peer_by_addr(d, &dd6));
	assert_ptr_equal(dp_peer_by_addr(d, &st), p);
	/* Neither: DERP. */
	dp_peer_set_statics(d, p, &st, 0);
	assert_path(d, p, DP_PATH_DERP, NULL);
	assert_int_equal(d->by_addr.n, 0);
	free_dp(d);
}

/* A peer the netmap gives a disco key (a Tailscale node): its endpoints are
 * disco's candidates, not a path. Before a pong it goes over DERP only
 * (what magicsock does; sending WireGuard to an unanswered endpoint would
 * lose it when the endpoint is unreachable); disco's path is used when it
 * comes, and cleared, it is DERP again. Its endpoints still map to it
 * (a packet from one is the peer's). */
static void test_path_disco_key_statics(void **state)
{
	struct dp *d = new_dp();
	struct ipport st = addr("192.0.2.1:41641"), dd = addr("203.0.113.7:1234");
	uint8_t k[32];
	struct dp_peer *p;

	(void)state;
	key_of(k, 1);
	p = dp_peer_add(d, k, 0);
	d->udp4 = FAKE_FD4;
	d->now_ns = 100 * (uint64_t)SEC_NS;
	p->disco_key = true;
	dp_peer_set_statics(d, p, &st, 1);
	assert_path(d, p, DP_PATH_DERP, NULL);
	assert_ptr_equal(dp_peer_by_addr(d, &st), p);
	dp_peer_set_path(d, p, &dd, 0, d->now_ns + SEC_NS);
	assert_path(d, p, DP_PATH_DIRECT, &dd);
	dp_peer_clear_path(d, p);
	assert_path(d, p, DP_PATH_DERP, NULL);
	/* Without the disco key the same endpoint is a static path. */
	p->disco_key = false;
	assert_path(d, p, DP_PATH_DIRECT, &st);
	free_dp(d);
}

/* The silence detector: a direct path the peer was heard on, on which
 * WireGuard keeps sending while nothing comes back for DP_SILENCE_MS, also
 * goes over DERP until the peer is heard again; a path never heard from is
 * not silent; a new disco address starts unheard. */
static void test_path_silence(void **state)
{
	struct dp *d = new_dp();
	struct ipport st = addr("192.0.2.1:41641"), dd = addr("203.0.113.7:1234");
	const uint64_t quiet = (uint64_t)DP_SILENCE_MS * SEC_NS / 1000;
	uint8_t k[32];
	struct dp_peer *p;

	(void)state;
	key_of(k, 1);
	p = dp_peer_add(d, k, 0);
	d->udp4 = FAKE_FD4;
	d->now_ns = 100 * (uint64_t)SEC_NS;
	dp_peer_set_statics(d, p, &st, 1);
	/* Sending, never heard: direct (the operator vouched). */
	dp_peer_note_tx(p, d->now_ns);
	d->now_ns += 2 * quiet;
	dp_peer_note_tx(p, d->now_ns);
	assert_path(d, p, DP_PATH_DIRECT, &st);
	/* Heard, then a packet unanswered for more than the limit while
	 * sending goes on. */
	p->last_direct_rx_ns = d->now_ns;
	d->now_ns += 1;
	dp_peer_note_tx(p, d->now_ns); /* the first unanswered */
	d->now_ns += quiet / 2;
	dp_peer_note_tx(p, d->now_ns);
	assert_path(d, p, DP_PATH_DIRECT, &st);
	d->now_ns += quiet / 2;
	assert_path(d, p, DP_PATH_DIRECT, &st); /* exactly at the limit: not yet */
	d->now_ns += 1;
	assert_path(d, p, DP_PATH_DIRECT_DERP, &st);
	/* Heard again: direct only. */
	p->last_direct_rx_ns = d->now_ns;
	assert_path(d, p, DP_PATH_DIRECT, &st);
	/* Not sending any more (idle): not silent, whatever the gap; a
	 * packet nothing answers (WireGuard's keepalive) before the idle spell
	 * does not make the next burst silent at once. */
	dp_peer_note_tx(p, d->now_ns + 1);
	d->now_ns += 10 * quiet;
	assert_path(d, p, DP_PATH_DIRECT, &st);
	dp_peer_note_tx(p, d->now_ns);
	assert_path(d, p, DP_PATH_DIRECT, &st);
	p->last_direct_rx_ns = d->now_ns + 1;
	d->now_ns += 2;
	/* A ping once a second: each request is the first packet after a
	 * second of quiet and is answered at once; never silent (it was,
	 * counted from the last packet heard: docs/quickstart.md's ping). */
	for (int i = 0; i < 5; i++) {
		d->now_ns += quiet + 1000;
		dp_peer_note_tx(p, d->now_ns);
		assert_path(d, p, DP_PATH_DIRECT, &st);
		d->now_ns += 300000; /* the reply, 0.3 ms later */
		p->last_direct_rx_ns = d->now_ns;
		assert_path(d, p, DP_PATH_DIRECT, &st);
	}
	/* The peer reaches us over DERP while its direct path has been quiet
	 * for over a second (an outage: its requests now come over DERP):
	 * our answers go both ways at once, not a second later. */
	p->last_direct_rx_ns = d->now_ns;
	d->now_ns += quiet / 2;
	p->last_derp_rx_ns = d->now_ns; /* both ways, while the path works */
	dp_peer_note_tx(p, d->now_ns);
	assert_path(d, p, DP_PATH_DIRECT, &st);
	d->now_ns += quiet;
	p->last_derp_rx_ns = d->now_ns;
	dp_peer_note_tx(p, d->now_ns); /* the first answer after the idle spell */
	assert_path(d, p, DP_PATH_DIRECT_DERP, &st);
	p->last_direct_rx_ns = d->now_ns; /* heard directly again */
	assert_path(d, p, DP_PATH_DIRECT, &st);
	/* Disco's trusted path goes silent the same way... */
	dp_peer_set_path(d, p, &dd, 0, d->now_ns + 60 * (uint64_t)SEC_NS);
	assert_int_equal(p->last_direct_rx_ns, 0); /* a new path: not heard yet */
	p->last_direct_rx_ns = d->now_ns;
	dp_peer_note_tx(p, d->now_ns + 1);
	dp_peer_note_tx(p, d->now_ns + quiet / 2);
	d->now_ns += quiet + 2;
	dp_peer_note_tx(p, d->now_ns);
	assert_path(d, p, DP_PATH_DIRECT_DERP, &dd);
	p->last_direct_rx_ns = d->now_ns;
	assert_path(d, p, DP_PATH_DIRECT, &dd);
	/* ...and disco's pong answers it (a one-way stream: nothing comes
	 * back from WireGuard for 10 s): trust extended on the same path
	 * counts as heard; the same trust again (a republish) does not. */
	d->now_ns += 1;
	dp_peer_note_tx(p, d->now_ns);
	d->now_ns += quiet / 2;
	dp_peer_note_tx(p, d->now_ns);
	d->now_ns += quiet / 2 + 1;
	dp_peer_note_tx(p, d->now_ns);
	assert_path(d, p, DP_PATH_DIRECT_DERP, &dd);
	uint64_t until = p->trusted_until_ns;
	dp_peer_set_path(d, p, &dd, 0, until);
	assert_path(d, p, DP_PATH_DIRECT_DERP, &dd);
	dp_peer_set_path(d, p, &dd, 0, until + SEC_NS);
	assert_int_equal(p->last_direct_rx_ns, d->now_ns);
	assert_path(d, p, DP_PATH_DIRECT, &dd);
	/* Another address with more trust is a new path: not heard yet. */
	dp_peer_set_path(d, p, &st, 0, until + 2 * SEC_NS);
	assert_int_equal(p->last_direct_rx_ns, 0);
	free_dp(d);
}

/* Addresses disco vouched for map to the peer (receive only) and leave
 * the map when replaced, unless they are also static or disco's path. */
static void test_rx_addrs(void **state)
{
	struct dp *d = new_dp();
	struct ipport st = addr("192.0.2.1:41641"), r1 = addr("203.0.113.7:1234"),
		      r2 = addr("203.0.113.8:99");
	const struct ipport *direct;
	uint8_t k[32];
	struct dp_peer *p;

	(void)state;
	key_of(k, 1);
	p = dp_peer_add(d, k, 0);
	d->udp4 = FAKE_FD4;
	dp_peer_set_rx_addrs(d, p, (struct ipport[]){r1, st}, 2);
	assert_ptr_equal(dp_peer_by_addr(d, &r1), p);
	/* Receive only: they are no path to send on. */
	assert_int_equal(dp_peer_path(d, p, &direct, NULL), DP_PATH_DERP);
	dp_peer_set_statics(d, p, &st, 1);
	dp_peer_set_rx_addrs(d, p, &r2, 1);
	assert_null(dp_peer_by_addr(d, &r1));
	assert_ptr_equal(dp_peer_by_addr(d, &r2), p);
	assert_ptr_equal(dp_peer_by_addr(d, &st), p); /* still static */
	/* Disco's path on a vouched address, then moved: still vouched. */
	dp_peer_set_path(d, p, &r2, 0, d->now_ns + SEC_NS);
	dp_peer_set_path(d, p, &r1, 0, d->now_ns + SEC_NS);
	assert_ptr_equal(dp_peer_by_addr(d, &r2), p);
	/* Cleared: the vouched ones go too; statics stay. */
	dp_peer_clear_path(d, p);
	assert_null(dp_peer_by_addr(d, &r2));
	assert_null(dp_peer_by_addr(d, &r1));
	assert_ptr_equal(dp_peer_by_addr(d, &st), p);
	free_dp(d);
}

/* The address map follows disco's address: the one it replaces is gone
 * unless it is also one of the peer's static endpoints. */
static void test_path_addr_map(void **state)
{
	struct dp *d = new_dp();
	struct ipport st[2] = {addr("192.0.2.1:41641"), addr("192.0.2.2:41641")};
	struct ipport d1 = addr("203.0.113.1:1"), d2 = addr("203.0.113.2:2");
	struct ipport d3 = addr("[2001:db8::3]:3");
	uint8_t k[32];
	struct dp_peer *p;
	uint64_t until = 10 * (uint64_t)SEC_NS;

	(void)state;
	key_of(k, 1);
	p = dp_peer_add(d, k, 0);
	dp_peer_set_statics(d, p, st, 2);
	dp_peer_set_path(d, p, &d1, 0, until);
	assert_ptr_equal(dp_peer_by_addr(d, &d1), p);
	dp_peer_set_path(d, p, &d2, 0, until);
	assert_null(dp_peer_by_addr(d, &d1));
	assert_ptr_equal(dp_peer_by_addr(d, &d2), p);
	/* The same address again: still mapped. */
	dp_peer_set_path(d, p, &d2, 0, until + 1);
	assert_ptr_equal(dp_peer_by_addr(d, &d2), p);
	assert_int_equal(p->trusted_until_ns, until + 1);
	/* Disco settles on a static endpoint, then moves on: the static
	 * stays mapped. */
	dp_peer_set_path(d, p, &st[0], 0, until);
	assert_null(dp_peer_by_addr(d, &d2));
	assert_ptr_equal(dp_peer_by_addr(d, &st[0]), p);
	dp_peer_set_path(d, p, &d3, 0, until);
	assert_ptr_equal(dp_peer_by_addr(d, &st[0]), p);
	assert_ptr_equal(dp_peer_by_addr(d, &st[1]), p);
	assert_ptr_equal(dp_peer_by_addr(d, &d3), p);
	assert_int_equal(d->by_addr.n, 3);
	/* Cleared on a static: it stays. */
	dp_peer_set_path(d, p, &st[1], 0, until);
	dp_peer_clear_path(d, p);
	assert_ptr_equal(dp_peer_by_addr(d, &st[1]), p);
	assert_null(dp_peer_by_addr(d, &d3));
	assert_int_equal(d->by_addr.n, 2);
	/* New statics without disco's address: disco's stays mapped, the
	 * old static goes. */
	dp_peer_set_path(d, p, &st[0], 0, until);
	dp_peer_set_statics(d, p, &st[1], 1);
	assert_ptr_equal(dp_peer_by_addr(d, &st[0]), p);
	assert_ptr_equal(dp_peer_by_addr(d, &st[1]), p);
	dp_peer_set_statics(d, p, &d1, 1);
	assert_ptr_equal(dp_peer_by_addr(d, &st[0]), p);
	assert_null(dp_peer_by_addr(d, &st[1]));
	assert_ptr_equal(dp_peer_by_addr(d, &d1), p);
	/* ...until disco moves off it. */
	dp_peer_set_path(d, p, &d2, 0, until);
	assert_null(dp_peer_by_addr(d, &st[0]));
	assert_int_equal(d->by_addr.n, 2);
	/* Removal unmaps disco's address too. */
	dp_peer_remove(d, p);
	assert_null(dp_peer_by_addr(d, &d1));
	assert_null(dp_peer_by_addr(d, &d2));
	assert_int_equal(d->by_addr.n, 0);
	free_dp(d);
}

static void test_path_names(void **state)
{
	(void)state;
	assert_string_equal(dp_path_name(DP_PATH_DIRECT), "direct");
	assert_string_equal(dp_path_name(DP_PATH_DIRECT_DERP), "direct+derp");
	assert_string_equal(dp_path_name(DP_PATH_DERP), "derp");
	assert_string_equal(dp_path_name(DP_PATH_NONE), "none");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addrkey),
		cmocka_unit_test(test_lo_from_key),
		cmocka_unit_test(test_lo_stable_and_taken),
		cmocka_unit_test(test_lo_remembered),
		cmocka_unit_test(test_many_peers),
		cmocka_unit_test(test_statics_map),
		cmocka_unit_test(test_path_statics),
		cmocka_unit_test(test_path_disco),
		cmocka_unit_test(test_path_disco_key_statics),
		cmocka_unit_test(test_path_silence),
		cmocka_unit_test(test_rx_addrs),
		cmocka_unit_test(test_path_addr_map),
		cmocka_unit_test(test_path_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* disco dsc: two discovery engines, A and B, wired back to back through
 * fake UDP and DERP: CallMeMaybe over DERP, pings both ways, pongs that make
 * a path trusted for 6.5 s, heartbeats, fallback when pongs stop, and the
 * bad input of the disco issue: an unknown or all-zero sender, a bad box, a
 * replayed or unsolicited pong, a pong from another address, a CallMeMaybe
 * with unusable or thousands of endpoints, and no amplification. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "dsc.h"

#define MS(x) ((uint64_t)(x)*NS_PER_MS)

struct pkt {
	bool derp;
	struct ipport to; /* UDP */
	uint8_t p[2048];
	size_t len;
};

struct side {
	struct dsc d;
	struct key32 node, dpriv, dpub;
	struct ipport addr; /* where the other side sees it */
	struct pkt out[128];
	size_t n_out;
	int paths, pongs_derp, pongs_udp;
	struct ipport path_best;
	uint64_t path_trusted;
};

static struct side A, B;

static void s_udp(void *arg, const struct ipport *to, const uint8_t *p, size_t len)
{
	struct side *s = arg;
	if (s->n_out < 128 && len <= sizeof(s->out[0].p)) {
		s->out[s->n_out] = (struct pkt){.derp = false, .to = *to, .len = len};
		memcpy(s->out[s->n_out++].p, p, len);
	}
}

static void s_derp(void *arg, const struct key32 *k, uint16_t region, const uint8_t *p, size_t len)
{
	struct side *s = arg;
	(void)k;
	(void)region;
	if (s->n_out < 128 && len <= sizeof(s->out[0].p)) {
		s->out[s->n_out] = (struct pkt){.derp = true, .len = len};
		memcpy(s->out[s->n_out++].p, p, len);
	}
}

static void s_path(void *arg, const struct dsc_peer *p, const struct ipport *best, uint64_t tu,
		   uint64_t lat, bool changed)
{
	(void)changed;
	struct side *s = arg;
	(void)p;
	(void)lat;
	/* Counted: publishes that name a direct path (a publish without one
	 * only hands the dataplane an address heard from). */
	s->paths += best != 0;
	s->path_best = best ? *best : (struct ipport){0};
	s->path_trusted = tu;
}

static void s_pong(void *arg, const struct dsc_peer *p, const struct ipport *via, uint16_t region,
		   uint64_t lat)
{
	struct side *s = arg;
	(void)p;
	(void)region;
	(void)lat;
	if (via)
		s->pongs_udp++;
	else
		s->pongs_derp++;
}

static void make(struct side *s, uint8_t last)
{
	struct dsc_io io = {
		.send_udp = s_udp, .send_derp = s_derp, .pong = s_pong, .path = s_path, .arg = s};

	memset(s, 0, sizeof(*s));
	key_generate(&s->dpriv);
	key_public(&s->dpriv, &s->dpub);
	memset(s->node.b, last, KEY_LEN);
	s->addr = (struct ipport){.family = AF_INET, .ip = {198, 18, last, 1}, .port = 41641};
	dsc_init(&s->d, &s->dpriv, &s->dpub, &io);
	s->d.self_node_key = s->node;
	s->d.has_self_node_key = true;
}

static int setup(void **state)
{
	(void)state;
	make(&A, 1);
	make(&B, 2);
	assert_int_equal(dsc_set_peer(&A.d, &B.node, &B.dpub, 900, 0, 0, "b"), 0);
	assert_int_equal(dsc_set_peer(&B.d, &A.node, &A.dpub, 900, 0, 0, "a"), 0);
	dsc_set_my_endpoints(&A.d, &A.addr, 1);
	dsc_set_my_endpoints(&B.d, &B.addr, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	dsc_free(&A.d);
	dsc_free(&B.d);
	return 0;
}

/* Delivers everything `from` sent to `to` (UDP only when `to` is the
 * address sent to; DERP always), and clears from's queue. Returns how
 * many packets were delivered. */
static int flush(struct side *from, struct side *to, uint64_t now, bool udp_works)
{
	int n = 0;
	struct pkt q[128];
	size_t nq = from->n_out;

	memcpy(q, from->out, nq * sizeof(q[0]));
	from->n_out = 0;
	for (size_t i = 0; i < nq; i++) {
		if (q[i].derp) {
			dsc_on_derp(&to->d, &from->node, 900, q[i].p, q[i].len, now);
			n++;
		} else if (udp_works && ipport_equal(&q[i].to, &to->addr)) {
			dsc_on_udp(&to->d, &from->addr, q[i].p, q[i].len, now);
			n++;
		}
	}
	return n;
}

static void exchange(uint64_t now, bool udp)
{
	for (int round = 0; round < 6; round++)
		if (flush(&A, &B, now, udp) + flush(&B, &A, now, udp) == 0)
			break;
}

/* Traffic on A: CallMeMaybe over DERP and pings; B pings A's endpoints; the
 * pongs make the path direct and trusted on both sides. */
static void test_discovery_both_ways(void **state)
{
	(void)state;
	uint64_t t = MS(1000000);

	dsc_on_traffic(&A.d, &B.node, t);
	assert_true(A.n_out >= 1 && A.out[0].derp); /* the CallMeMaybe */
	exchange(t + MS(1), true);
	/* B learned A's endpoint from the CallMeMaybe and pinged it; A's
	 * pong made B's path direct. */
	assert_int_equal(B.paths, 1);
	assert_true(ipport_equal(&B.path_best, &A.addr));
	/* A learned B's address from B's ping and pinged it back. */
	assert_int_equal(A.paths, 1);
	assert_true(ipport_equal(&A.path_best, &B.addr));
	assert_int_equal(A.path_trusted, t + MS(1) + MS(DSC_TRUST_UDP_MS));
	/* The history (GetEndpointChanges) holds the change to direct. */
	struct dsc_peer *pb = dsc_peer_find(&A.d, &B.node);
	assert_true(pb->n_history >= 1);
	assert_true(ipport_equal(&pb->history[pb->n_history - 1].direct, &B.addr));
	/* Heartbeat: the trusted address is pinged every 3 s and the trust
	 * extended by each pong; no new history entry for that. */
	size_t nh = pb->n_history;
	dsc_tick(&A.d, t + MS(3100));
	exchange(t + MS(3101), true);
	assert_int_equal(A.path_trusted, t + MS(3101) + MS(DSC_TRUST_UDP_MS));
	assert_int_equal(pb->n_history, nh);
}

/* UDP stops: the trust expires (the dataplane then sends both ways), and
 * after DSC_BEST_STALE_MS without a pong the path is DERP only. */
static void test_fallback_when_pongs_stop(void **state)
{
	(void)state;
	uint64_t t = MS(1000000);

	dsc_on_traffic(&A.d, &B.node, t);
	exchange(t, true);
	assert_true(ipport_equal(&A.path_best, &B.addr));
	for (uint64_t s = 1; s <= 20; s++) {
		dsc_on_traffic(&A.d, &B.node, t + MS(s * 1000));
		dsc_tick(&A.d, t + MS(s * 1000));
		exchange(t + MS(s * 1000), false);
	}
	assert_int_equal(A.path_best.family, 0);
}

/* No amplification: traffic on every packet sends one CallMeMaybe per
 * interval, and each endpoint is pinged once per ping interval. */
static void test_no_amplification(void **state)
{
	(void)state;
	uint64_t t = MS(1000000);
	size_t cmm = 0, pings = 0;

	for (int i = 0; i < 1000; i++)
		dsc_on_traffic(&A.d, &B.node, t + (uint64_t)i * 1000);
	for (size_t i = 0; i < A.n_out; i++)
		A.out[i].derp ? cmm++ : pings++;
	assert_int_equal(cmm, 1);
	assert_int_equal(pings, 0); /* no endpoint of B known yet */
	/* A CallMeMaybe received 100 times: A's endpoint pinged once, one
	 * CallMeMaybe back. */
	struct pkt c = A.out[0];
	for (int i = 0; i < 100; i++)
		dsc_on_derp(&B.d, &A.node, 900, c.p, c.len, t + (uint64_t)i);
	pings = 0;
	cmm = 0;
	for (size_t i = 0; i < B.n_out; i++)
		B.out[i].derp ? cmm++ : pings++;
	assert_int_equal(pings, 1);
	assert_int_equal(cmm, 1);
}

/* Bad input: dropped, counted, no path change. */
static void test_bad_input(void **state)
{
	(void)state;
	uint64_t t = MS(1000000);
	struct side C;
	uint8_t pkt[256];

	/* A stranger's disco key. */
	make(&C, 3);
	dsc_set_peer(&C.d, &A.node, &A.dpub, 900, 0, 0, "a");
	dsc_on_traffic(&C.d, &A.node, t);
	assert_true(C.n_out >= 1);
	assert_int_equal(dsc_on_derp(&A.d, &C.node, 900, C.out[0].p, C.out[0].len, t),
			 DSC_DROP_UNKNOWN_SENDER);
	dsc_free(&C.d);
	/* An all-zero sender key. */
	dsc_on_traffic(&B.d, &A.node, t);
	memcpy(pkt, B.out[0].p, B.out[0].len);
	memset(pkt + DISCO_MAGIC_LEN, 0, DISCO_KEY_LEN);
	assert_int_equal(dsc_on_derp(&A.d, &B.node, 900, pkt, B.out[0].len, t), DISCO_ERR_ZERO_KEY);
	assert_int_equal(A.d.stats.rx_zero_key, 1);
	/* A bad box. */
	memcpy(pkt, B.out[0].p, B.out[0].len);
	pkt[B.out[0].len - 1] ^= 1;
	assert_int_equal(dsc_on_derp(&A.d, &B.node, 900, pkt, B.out[0].len, t), DISCO_ERR_BOX);
	/* Over DERP from a node whose disco key it is not. */
	struct key32 other;
	memset(other.b, 9, KEY_LEN);
	assert_int_equal(dsc_on_derp(&A.d, &other, 900, B.out[0].p, B.out[0].len, t),
			 DSC_DROP_DERP_MISMATCH);
	assert_int_equal(A.paths, 0);
}

/* A pong nobody asked for, a replayed one, one from another address. */
static void test_pongs(void **state)
{
	(void)state;
	uint64_t t = MS(1000000);
	struct pkt pong;
	struct ipport elsewhere = B.addr;

	dsc_on_traffic(&A.d, &B.node, t);
	flush(&A, &B, t, true); /* B gets the CallMeMaybe and pings A */
	flush(&B, &A, t, true); /* A gets the ping: pong to B, and pings B */
	/* B answers A's ping with a pong: keep it aside. */
	flush(&A, &B, t, true);
	pong = B.out[B.n_out - 1];
	for (size_t i = 0; i < B.n_out; i++)
		if (!B.out[i].derp)
			pong = B.out[i];
	B.n_out = 0;
	elsewhere.port++;
	assert_int_equal(dsc_on_udp(&A.d, &elsewhere, pong.p, pong.len, t + MS(1)),
			 DSC_DROP_PONG_ADDR);
	int rc = dsc_on_udp(&A.d, &B.addr, pong.p, pong.len, t + MS(1));
	assert_int_equal(rc, 0);
	assert_int_equal(A.paths, 1);
	assert_int_equal(dsc_on_udp(&A.d, &B.addr, pong.p, pong.len, t + MS(2)),
			 DSC_DROP_UNSOLICITED);
	assert_int_equal(A.d.stats.rx_unsolicited_pong, 1);
	assert_int_equal(A.paths, 1);
}

/* CallMeMaybe with loopback, multicast, unspecified and link-local
 * endpoints: none is pinged (our CallMeMaybe goes back all the same). */
static void test_cmm_unusable(void **state)
{
	(void)state;
	static uint8_t wire[4096];
	uint8_t pkt[8192];
	struct ipport bad[4] = {
		{.family = AF_INET, .ip = {127, 0, 0, 1}, .port = 1},
		{.family = AF_INET, .ip = {224, 0, 0, 1}, .port = 1},
		{.family = AF_INET, .ip = {0, 0, 0, 0}, .port = 1},
		{.family = AF_INET, .ip = {169, 254, 1, 1}, .port = 1},
	};
	struct disco_msg m = {.type = DISCO_TYPE_CALL_ME_MAYBE};
	struct disco_shared k;

	disco_endpoints_put(bad, 4, wire, sizeof(wire), &m.u.call_me_maybe.my_number);
	assert_int_equal(disco_shared_init(&B.dpriv, &A.dpub, &k), 0);
	int n = disco_msg_seal(&k, &B.dpub, 0, &m, pkt, sizeof(pkt));
	assert_true(n > 0);
	assert_int_equal(dsc_on_derp(&A.d, &B.node, 900, pkt, (size_t)n, MS(1)), 0);
	/* No ping; only our own CallMeMaybe back over DERP. */
	assert_int_equal(A.n_out, 1);
	assert_true(A.out[0].derp);
	assert_int_equal(A.d.stats.cmm_unusable_eps, 4);
	disco_shared_wipe(&k);
}

/* msockctl ping: over DERP while no direct path is trusted (its pong
 * reported, the path unchanged by it), then to the direct address. */
static void test_ping_now(void **state)
{
	(void)state;
	uint64_t t = MS(1000000);

	dsc_ping_now(&A.d, &B.node, t);
	exchange(t + MS(1), false);
	assert_int_equal(A.pongs_derp, 1);
	assert_int_equal(A.pongs_udp, 0);
	assert_int_equal(A.paths, 0);
	/* Discovery ran meanwhile; with UDP working the path is found, and
	 * discovery's own pongs are not reported. */
	dsc_ping_now(&A.d, &B.node, t + MS(6000));
	exchange(t + MS(6001), true);
	assert_int_equal(A.pongs_udp, 0);
	assert_int_equal(A.paths, 1);
	/* Now the ping goes direct. */
	dsc_ping_now(&A.d, &B.node, t + MS(7000));
	exchange(t + MS(7001), true);
	assert_int_equal(A.pongs_udp, 1);
	assert_int_equal(A.pongs_derp, 2);
}

/* The dataplane's counters: the first values are a baseline; growth of
 * the transmit count is traffic (discovery starts), equal counts are not. */
static void test_counters(void **state)
{
	(void)state;
	uint64_t t = MS(1000000);

	dsc_on_counters(&A.d, &B.node, 100, 50, t);
	assert_int_equal(A.n_out, 0);
	dsc_on_counters(&A.d, &B.node, 100, 60, t + MS(10));
	assert_int_equal(A.n_out, 0);
	dsc_on_counters(&A.d, &B.node, 101, 60, t + MS(20));
	assert_true(A.n_out >= 1 && A.out[0].derp); /* the CallMeMaybe */
}

/* silent_disco: no heartbeat pings; the peer's traffic on the path keeps
 * it trusted. */
static void test_silent(void **state)
{
	(void)state;
	uint64_t t = MS(1000000);
	size_t pings = 0;

	A.d.silent = true;
	dsc_on_traffic(&A.d, &B.node, t);
	exchange(t, true);
	assert_true(ipport_equal(&A.path_best, &B.addr));
	A.n_out = 0;
	for (uint64_t s = 1; s <= 10; s++) {
		dsc_on_traffic(&A.d, &B.node, t + MS(s * 1000));
		dsc_on_rx(&A.d, &B.node, t + MS(s * 1000));
		dsc_tick(&A.d, t + MS(s * 1000));
	}
	for (size_t i = 0; i < A.n_out; i++)
		pings += !A.out[i].derp;
	assert_int_equal(pings, 0);
	assert_int_equal(A.path_trusted, t + MS(10000) + MS(DSC_TRUST_UDP_MS));
	assert_true(ipport_equal(&A.path_best, &B.addr));
}

/* TestBetterAddr's table (wgengine/magicsock), every row but the MTU and
 * Geneve ones (no path MTU or peer relays yet); and never both ways. */
static void test_better_addr(void **state)
{
	(void)state;
	static const struct {
		const char *a;
		uint64_t a_ms;
		const char *b;
		uint64_t b_ms;
		bool want;
	} rows[] = {
		{0, 0, 0, 0, false},
		{"1.2.3.4:555", 5, 0, 0, true},
		{0, 0, "1.2.3.4:555", 5, false},
		{"1.2.3.4:555", 5, "5.6.7.8:999", 10, true},
		{"1.2.3.4:555", 5, "1.2.3.4:555", 10, false}, /* same address */
		{"1.2.3.4:555", 100, "5.6.7.8:999", 100, false},
		{"1.2.3.4:555", 100, "5.6.7.8:999", 101, false},
		{"1.2.3.4:555", 100, "5.6.7.8:999", 103, true},
		{"1.2.3.4:555", 0, "5.6.7.8:999", 0, false},
		{"10.0.0.2:123", 100, "1.2.3.4:555", 91, true},
		{"1.2.3.4:555", 91, "10.0.0.2:123", 100, false},
		{"10.0.0.2:123", 100, "1.2.3.4:555", 30, false},
		{"1.2.3.4:555", 30, "10.0.0.2:123", 100, true},
		{"[2001::5]:123", 100, "1.2.3.4:555", 91, true},
		{"1.2.3.4:555", 91, "[2001::5]:123", 100, false},
		{"[2001::5]:123", 100, "1.2.3.4:555", 30, false},
		{"1.2.3.4:555", 30, "[2001::5]:123", 100, true},
		{"192.168.0.1:555", 100, "[2001::5]:123", 101, true},
		{"[2001::5]:123", 101, "192.168.0.1:555", 100, false},
		{"[fe80::ce8:474a:a27e:113b]:555", 101,
		 "[fd89:1a8a:8888:9999:aaaa:bbbb:cccc:dddd]:555", 100, true},
		{"[fe80::ce8:474a:a27e:113b]:555", 101, "[::1]:555", 100, false},
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct ipport a = {0}, b = {0};
		if (rows[i].a)
			assert_int_equal(ipport_parse(rows[i].a, &a), 0);
		if (rows[i].b)
			assert_int_equal(ipport_parse(rows[i].b, &b), 0);
		bool got = dsc_better_addr(&a, MS(rows[i].a_ms), &b, MS(rows[i].b_ms));
		if (got != rows[i].want)
			fail_msg("row %zu: %s vs %s = %d, want %d", i, rows[i].a ? rows[i].a : "-",
				 rows[i].b ? rows[i].b : "-", got, rows[i].want);
		assert_false(got && dsc_better_addr(&b, MS(rows[i].b_ms), &a, MS(rows[i].a_ms)));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_discovery_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fallback_when_pongs_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_amplification, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pongs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmm_unusable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ping_now, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_better_addr, setup, teardown),
	};
	return cmocka_run_group_tests(tests, 0, 0);
}

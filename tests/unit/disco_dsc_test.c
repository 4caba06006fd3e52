/* disco dsc: two discovery engines, A and B, wired back to back through
 * fake UDP and DERP: CallMeMaybe over DERP, pings both ways, pongs that make
 * a path trusted for 6.5 s, heartbeats, fallback when pongs stop, and the
 * bad input of the disco issue: an unknown or all-zero sender, a bad box, a
 * replayed or unsolicited pong, a pong from another address, a CallMeMaybe
 * with unusable or thousands of endpoints, and no amplification; pings out
 * of turn (an unanswered endpoint the peer shows is open now) and their
 * limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "dsc.h"
#include "test_rand.h"

#define MS(x) ((uint64_t)(x)*NS_PER_MS)

enum { OUT_MAX = 1100 }; /* a spray is 256 pings, a probe round 1,024 */

struct pkt {
	bool derp;
	struct ipport to; /* UDP */
	uint16_t sock;	  /* UDP: the socket it left from */
	uint8_t p[1280];
	size_t len;
};

struct side {
	struct dsc d;
	struct key32 node, dpriv, dpub;
	struct ipport addr; /* where the other side sees it */
	struct pkt out[OUT_MAX];
	size_t n_out;
	int paths, pongs_derp, pongs_udp;
	struct ipport path_best;
	uint64_t path_trusted;
	/* The engine's random numbers (dsc_rng): splitmix64 seeded by the
	 * side, so every run sees the same tx ids and probe ports; a test may
	 * set the next values of rng.uniform (script, first to last). */
	uint64_t rnd;
	uint32_t script[4];
	size_t n_script;
	/* What flush saw it send, and deliver to it, by path and by wire
	 * type (opened with the receiver's key): what dsc.stats must say. */
	uint64_t seen_sent[DSC_PATHS][256], seen_received[DSC_PATHS][256];
};

static struct side A, B;

static void s_udp(void *arg, uint16_t sock, const struct ipport *to, const uint8_t *p, size_t len)
{
	struct side *s = arg;
	if (s->n_out < OUT_MAX && len <= sizeof(s->out[0].p)) {
		s->out[s->n_out] = (struct pkt){.derp = false, .to = *to, .sock = sock, .len = len};
		memcpy(s->out[s->n_out++].p, p, len);
	}
}

static void s_derp(void *arg, const struct key32 *k, uint16_t region, const uint8_t *p, size_t len)
{
	struct side *s = arg;
	(void)k;
	(void)region;
	if (s->n_out < OUT_MAX && len <= sizeof(s->out[0].p)) {
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

static void r_buf(void *arg, void *p, size_t n)
{
	struct side *s = arg;

	th_rnd_bytes(&s->rnd, p, n);
}

static uint32_t r_uniform(void *arg, uint32_t upper)
{
	struct side *s = arg;
	uint32_t v;

	if (!s->n_script)
		return (uint32_t)(th_rnd(&s->rnd) % upper);
	v = s->script[0];
	memmove(s->script, s->script + 1, --s->n_script * sizeof(s->script[0]));
	assert_true(v < upper);
	return v;
}

static void make(struct side *s, uint8_t last)
{
	struct dsc_io io = {
		.send_udp = s_udp, .send_derp = s_derp, .pong = s_pong, .path = s_path, .arg = s};
	struct dsc_rng rng = {.buf = r_buf, .uniform = r_uniform, .arg = s};

	memset(s, 0, sizeof(*s));
	s->rnd = last;
	key_generate(&s->dpriv);
	key_public(&s->dpriv, &s->dpub);
	memset(s->node.b, last, KEY_LEN);
	s->addr = (struct ipport){.family = AF_INET, .ip = {198, 18, last, 1}, .port = 41641};
	dsc_init(&s->d, &s->dpriv, &s->dpub, &io, &rng);
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

/* The wire type of a packet to `to` (opened with its key), or -1. */
static int wire_type(const struct side *to, const uint8_t *p, size_t len)
{
	static uint8_t plain[DISCO_MAX_PLAINTEXT_LEN];
	struct disco_packet pkt;
	struct disco_msg m;
	int n;

	if (disco_packet_parse(p, len, &pkt) < 0 ||
	    (n = disco_open(&to->dpriv, &pkt, plain, sizeof(plain))) < 0 ||
	    disco_msg_parse(plain, (size_t)n, &m) != 0)
		return -1;
	return m.type;
}

/* Delivers everything `from` sent to `to` (UDP only when `to` is the
 * address sent to; DERP always), and clears from's queue. Returns how
 * many packets were delivered. */
static int flush(struct side *from, struct side *to, uint64_t now, bool udp_works)
{
	int n = 0;
	static struct pkt q[OUT_MAX];
	size_t nq = from->n_out;

	memcpy(q, from->out, nq * sizeof(q[0]));
	from->n_out = 0;
	for (size_t i = 0; i < nq; i++) {
		int type = wire_type(to, q[i].p, q[i].len),
		    path = q[i].derp ? DSC_PATH_DERP : DSC_PATH_UDP;
		bool delivered = q[i].derp || (udp_works && ipport_equal(&q[i].to, &to->addr));
		if (type >= 0) {
			from->seen_sent[path][type]++;
			to->seen_received[path][type] += delivered;
		}
		if (q[i].derp)
			dsc_on_derp(&to->d, &from->node, 900, q[i].p, q[i].len, now);
		else if (delivered)
			dsc_on_udp(&to->d, 0, &from->addr, q[i].p, q[i].len, now);
		n += delivered;
	}
	return n;
}

static void exchange(uint64_t now, bool udp)
{
	for (int round = 0; round < 6; round++)
		if (flush(&A, &B, now, udp) + flush(&B, &A, now, udp) == 0)
			break;
}

/* Delivers everything s sent over DERP to the other side, in order (the
 * DERP path keeps order), and clears s's queue (UDP is lost). */
static void deliver_derp(struct side *s, struct side *to, uint64_t now)
{
	for (size_t i = 0; i < s->n_out; i++)
		if (s->out[i].derp)
			dsc_on_derp(&to->d, &s->node, 900, s->out[i].p, s->out[i].len, now);
	s->n_out = 0;
}

/* How many of the packets s has queued (over DERP, or UDP to `to`'s
 * address) are disco messages of `type`, opened with to's key. */
static size_t count_msgs(const struct side *s, const struct side *to, bool derp, int type)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_out; i++) {
		const struct pkt *q = &s->out[i];
		if (q->derp == derp && (derp || ipport_equal(&q->to, &to->addr)))
			n += wire_type(to, q->p, q->len) == type;
	}
	return n;
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
	assert_true(ipport_equal(&B.path_best, &A.addr));
	/* A learned B's address from B's CallMeMaybe and pinged it. */
	assert_true(ipport_equal(&A.path_best, &B.addr));
	/* The pings crossed: each side's ping reached the other before its
	 * pong came back, so each pinged once more out of turn (its first
	 * ping looked lost), and each of the two pongs published the path
	 * (the second extends the trust). */
	assert_int_equal(dsc_peer_find(&A.d, &B.node)->pings_sent, 2);
	assert_int_equal(dsc_peer_find(&B.d, &A.node)->pings_sent, 2);
	assert_int_equal(B.paths, 2);
	assert_int_equal(A.paths, 2);
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
 * interval, and each endpoint is pinged once per ping interval, and once
 * more out of turn. */
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
	/* A CallMeMaybe received 100 times: A's endpoint pinged in turn by
	 * the first, once out of turn by the second (the first ping is
	 * unanswered), then nothing more; one CallMeMaybe back. */
	struct pkt c = A.out[0];
	for (int i = 0; i < 100; i++)
		dsc_on_derp(&B.d, &A.node, 900, c.p, c.len, t + (uint64_t)i);
	pings = 0;
	cmm = 0;
	for (size_t i = 0; i < B.n_out; i++)
		B.out[i].derp ? cmm++ : pings++;
	assert_int_equal(pings, 2);
	assert_int_equal(cmm, 1);
	/* Until an interval after the second ping (t + 1): still nothing.
	 * Then one ping (due in turn, not out of turn as well), and one out
	 * of turn with the next CallMeMaybe; then nothing again. */
	uint64_t t2 = t + 1 + MS(DSC_PING_INTERVAL_MS);
	B.n_out = 0;
	dsc_on_derp(&B.d, &A.node, 900, c.p, c.len, t2 - 1);
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PING), 0);
	dsc_on_derp(&B.d, &A.node, 900, c.p, c.len, t2);
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PING), 1);
	for (int i = 1; i <= 100; i++)
		dsc_on_derp(&B.d, &A.node, 900, c.p, c.len, t2 + (uint64_t)i);
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PING), 2);
}

/* ---- Pings out of turn ---- */

/* Both start at once behind NATs that drop what they have no mapping for:
 * B's ping to A (listed in A's CallMeMaybe) is dropped, A's to B gets
 * through (B's ping opened B's NAT to A). A's ping, from the endpoint
 * whose ping from B is unanswered, makes B ping it again at once, not
 * when the 5 s ping interval ends. */
static void test_reping_on_ping(void **state)
{
	(void)state;
	uint64_t t = MS(1000000);
	struct dsc_peer *pa = dsc_peer_find(&B.d, &A.node);

	dsc_on_traffic(&A.d, &B.node, t);
	flush(&A, &B, t, true); /* B: A's CallMeMaybe; B pings A, sends its own */
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PING), 1);
	flush(&B, &A, t + MS(5), false); /* the ping is dropped; A pings B */
	assert_int_equal(count_msgs(&A, &B, false, DISCO_TYPE_PING), 1);
	assert_int_equal(A.n_out, 1);
	flush(&A, &B, t + MS(10), true);
	/* B: the pong, and a ping out of turn; nothing else. */
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PONG), 1);
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PING), 1);
	assert_int_equal(B.n_out, 2);
	assert_int_equal(pa->pings_sent, 2);
	assert_int_equal(B.paths, 0);
	exchange(t + MS(15), true);
	assert_true(ipport_equal(&B.path_best, &A.addr));
	assert_int_equal(B.path_trusted, t + MS(15) + MS(DSC_TRUST_UDP_MS));
	assert_true(ipport_equal(&A.path_best, &B.addr));
	assert_int_equal(pa->pings_sent, 2);
}

/* B's CallMeMaybe and its ping to A are lost (A's DERP connection and NAT
 * not ready yet). A's next CallMeMaybe (its retry after 1 s) lists the
 * endpoint B pinged in vain: B pings it again at once, out of turn, and
 * sends nothing else (its own CallMeMaybe waits for its interval). */
static void test_reping_on_cmm(void **state)
{
	(void)state;
	uint64_t t = MS(1000000);
	struct dsc_peer *pa = dsc_peer_find(&B.d, &A.node);

	dsc_on_traffic(&A.d, &B.node, t);
	flush(&A, &B, t, true);
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PING), 1);
	B.n_out = 0; /* lost */
	dsc_tick(&A.d, t + MS(DSC_CMM_RETRY_MS));
	assert_int_equal(count_msgs(&A, &B, true, DISCO_TYPE_CALL_ME_MAYBE), 1);
	assert_int_equal(A.n_out, 1);
	flush(&A, &B, t + MS(DSC_CMM_RETRY_MS), true);
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PING), 1);
	assert_int_equal(B.n_out, 1);
	assert_int_equal(pa->pings_sent, 2);
	assert_int_equal(pa->cmm_sent, 1);
}

/* No amplification: once B has pinged an endpoint out of turn on A's
 * ping, more pings from it within the ping interval get pongs and nothing
 * else; a CallMeMaybe listing it gets one more ping out of turn (its own
 * allowance), and more CallMeMaybes and pings nothing. Three pings in the
 * interval for hundreds of packets. Once the interval since the first ping
 * out of turn has passed, A's ping gets one again. */
static void test_reping_once_per_interval(void **state)
{
	(void)state;
	uint64_t t = MS(1000000), t2;
	struct dsc_peer *pa = dsc_peer_find(&B.d, &A.node);
	struct pkt cmm, ping;

	dsc_on_traffic(&A.d, &B.node, t);
	cmm = A.out[0];
	assert_true(cmm.derp);
	flush(&A, &B, t, true);		 /* B pings A in turn */
	flush(&B, &A, t + MS(5), false); /* lost; A pings B */
	assert_int_equal(A.n_out, 1);
	ping = A.out[0];
	assert_false(ping.derp);
	flush(&A, &B, t + MS(10), true); /* B pongs, and pings out of turn */
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PING), 1);
	B.n_out = 0; /* lost too */
	for (uint64_t i = 0; i < 100; i++)
		assert_int_equal(
			dsc_on_udp(&B.d, 0, &A.addr, ping.p, ping.len, t + MS(20) + i * MS(20)), 0);
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PONG), 100);
	assert_int_equal(B.n_out, 100);
	B.n_out = 0;
	assert_int_equal(dsc_on_derp(&B.d, &A.node, 900, cmm.p, cmm.len, t + MS(2100)), 0);
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PING), 1);
	assert_int_equal(B.n_out, 1);
	B.n_out = 0;
	for (uint64_t i = 0; i < 100; i++) {
		uint64_t at = t + MS(2200) + i * MS(20);
		assert_int_equal(dsc_on_derp(&B.d, &A.node, 900, cmm.p, cmm.len, at), 0);
		assert_int_equal(dsc_on_udp(&B.d, 0, &A.addr, ping.p, ping.len, at + 1), 0);
	}
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PONG), 100);
	assert_int_equal(B.n_out, 100); /* no ping, no CallMeMaybe (within its interval) */
	assert_int_equal(pa->pings_sent, 3);
	/* The first ping out of turn went at t + 10 ms. */
	t2 = t + MS(10) + MS(DSC_PING_INTERVAL_MS);
	B.n_out = 0;
	dsc_on_udp(&B.d, 0, &A.addr, ping.p, ping.len, t2 - 1);
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PING), 0);
	dsc_on_udp(&B.d, 0, &A.addr, ping.p, ping.len, t2);
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PING), 1);
	dsc_on_udp(&B.d, 0, &A.addr, ping.p, ping.len, t2 + 1);
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PING), 1);
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PONG), 3);
	assert_int_equal(pa->pings_sent, 4);
}

/* The two allowances are apart: a CallMeMaybe that comes while UDP is
 * down (an outage: the pings it announces were lost too) spends one ping
 * out of turn, in vain; the peer's first ping to get through afterwards
 * still gets its own, at once. */
static void test_reping_on_cmm_then_ping(void **state)
{
	(void)state;
	uint64_t t = MS(1000000);
	struct dsc_peer *pa = dsc_peer_find(&B.d, &A.node);
	struct pkt cmm, ping;

	dsc_on_traffic(&A.d, &B.node, t);
	cmm = A.out[0];
	flush(&A, &B, t, true);		 /* B pings A in turn, sends its CallMeMaybe */
	deliver_derp(&B, &A, t + MS(5)); /* the ping is lost; A pings B */
	assert_int_equal(A.n_out, 1);
	ping = A.out[0];
	assert_false(ping.derp);
	A.n_out = 0; /* held up: UDP is down */
	assert_int_equal(dsc_on_derp(&B.d, &A.node, 900, cmm.p, cmm.len, t + MS(1000)), 0);
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PING), 1); /* out of turn */
	assert_int_equal(B.n_out, 1);
	B.n_out = 0; /* lost */
	/* UDP is back: A's ping gets through. */
	assert_int_equal(dsc_on_udp(&B.d, 0, &A.addr, ping.p, ping.len, t + MS(1500)), 0);
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PONG), 1);
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PING), 1);
	assert_int_equal(B.n_out, 2);
	assert_int_equal(pa->pings_sent, 3);
	exchange(t + MS(1501), true);
	assert_true(ipport_equal(&B.path_best, &A.addr));
	assert_true(ipport_equal(&A.path_best, &B.addr));
}

/* An endpoint that answered is not pinged out of turn: with the path
 * direct both ways, A's ping and its CallMeMaybe get a pong (and, past its
 * interval, B's CallMeMaybe) but no ping; nor while B's heartbeat to it is
 * on its way (pinged, that pong not back yet, but the last one within the
 * trust period). Both an interval after B's last ping out of turn, which
 * would not hold them back. */
static void test_no_reping_when_answered(void **state)
{
	(void)state;
	uint64_t t = MS(1000000);
	struct dsc_peer *pa = dsc_peer_find(&B.d, &A.node);
	struct pkt cmm, ping;
	uint64_t pings;

	dsc_on_traffic(&A.d, &B.node, t);
	cmm = A.out[0];
	exchange(t + MS(1), true); /* B's ping out of turn: at t + 1 ms (the crossing) */
	assert_true(ipport_equal(&A.path_best, &B.addr));
	assert_true(ipport_equal(&B.path_best, &A.addr));
	dsc_ping_now(&A.d, &B.node, t + MS(1000)); /* direct now */
	assert_int_equal(A.n_out, 1);
	ping = A.out[0];
	exchange(t + MS(1000), true);
	/* B's heartbeats at 3.1 and 6.2 s, answered. */
	for (uint64_t k = 1; k <= 2; k++) {
		dsc_on_traffic(&B.d, &A.node, t + k * MS(3100));
		dsc_tick(&B.d, t + k * MS(3100));
		assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PING), 1);
		exchange(t + k * MS(3100), true);
	}
	assert_int_equal(A.n_out + B.n_out, 0);
	/* B's pings so far: two at the start (the crossing), one per
	 * heartbeat; A's pings (at 1 s, and in turn at 6.2 s, after B's
	 * heartbeat was answered) got pongs only. */
	pings = pa->pings_sent;
	assert_int_equal(pings, 4);
	assert_int_equal(dsc_on_udp(&B.d, 0, &A.addr, ping.p, ping.len, t + MS(6300)), 0);
	assert_int_equal(dsc_on_derp(&B.d, &A.node, 900, cmm.p, cmm.len, t + MS(6301)), 0);
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PONG), 1);
	assert_int_equal(count_msgs(&B, &A, true, DISCO_TYPE_CALL_ME_MAYBE), 1);
	assert_int_equal(B.n_out, 2);
	assert_int_equal(pa->pings_sent, pings);
	/* B's heartbeat at 9.3 s; A's ping comes before its pong. */
	B.n_out = 0;
	dsc_on_traffic(&B.d, &A.node, t + MS(9300));
	dsc_tick(&B.d, t + MS(9300));
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PING), 1);
	assert_int_equal(B.n_out, 1);
	B.n_out = 0;
	assert_int_equal(dsc_on_udp(&B.d, 0, &A.addr, ping.p, ping.len, t + MS(9301)), 0);
	assert_int_equal(count_msgs(&B, &A, false, DISCO_TYPE_PONG), 1);
	assert_int_equal(B.n_out, 1);
	assert_int_equal(pa->pings_sent, pings + 1);
}

/* Bad input: dropped, counted, no path change. */
static void test_bad_input(void **state)
{
	(void)state;
	uint64_t t = MS(1000000);
	static struct side C;
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
	assert_int_equal(A.d.stats.dropped[DSC_DR_ZERO_KEY], 1);
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
	assert_int_equal(dsc_on_udp(&A.d, 0, &elsewhere, pong.p, pong.len, t + MS(1)),
			 DSC_DROP_PONG_ADDR);
	int rc = dsc_on_udp(&A.d, 0, &B.addr, pong.p, pong.len, t + MS(1));
	assert_int_equal(rc, 0);
	assert_int_equal(A.paths, 1);
	assert_int_equal(dsc_on_udp(&A.d, 0, &B.addr, pong.p, pong.len, t + MS(2)),
			 DSC_DROP_UNSOLICITED);
	assert_int_equal(A.d.stats.dropped[DSC_DR_UNSOLICITED_PONG], 1);
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
	 * discovery's own pongs are not reported. A's ping in turn was on
	 * its way when B's CallMeMaybe and then B's ping came: A pinged once
	 * more out of turn on each, and each of the three pongs published
	 * the path. */
	dsc_ping_now(&A.d, &B.node, t + MS(6000));
	exchange(t + MS(6001), true);
	assert_int_equal(A.pongs_udp, 0);
	assert_int_equal(A.paths, 3);
	assert_int_equal(dsc_peer_find(&A.d, &B.node)->pings_sent, 6); /* 2 over DERP */
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

/* The counters' type of each wire type (dsc.h, enum dsc_mt). */
static const struct {
	uint8_t wire;
	enum dsc_mt mt;
} mtypes[] = {
	{DISCO_TYPE_PING, DSC_MT_PING},
	{DISCO_TYPE_PONG, DSC_MT_PONG},
	{DISCO_TYPE_CALL_ME_MAYBE, DSC_MT_CALL_ME_MAYBE},
	{DISCO_TYPE_MSOCK_PROBE_ME, DSC_MT_PROBE_ME},
	{DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT, DSC_MT_OTHER},
};

/* s's counters agree with what flush saw: every message sent, by type and
 * path, and every one delivered to it. */
static void check_stats(const struct side *s)
{
	for (int path = 0; path < DSC_PATHS; path++)
		for (size_t i = 0; i < sizeof(mtypes) / sizeof(mtypes[0]); i++) {
			if (s->d.stats.sent[path][mtypes[i].mt] !=
			    s->seen_sent[path][mtypes[i].wire])
				fail_msg("side %d sent %d of type %d by path %d, flush saw %d",
					 s->node.b[0], (int)s->d.stats.sent[path][mtypes[i].mt],
					 mtypes[i].wire, path,
					 (int)s->seen_sent[path][mtypes[i].wire]);
			if (s->d.stats.received[path][mtypes[i].mt] !=
			    s->seen_received[path][mtypes[i].wire])
				fail_msg("side %d received %d of type %d by path %d, flush "
					 "delivered %d",
					 s->node.b[0], (int)s->d.stats.received[path][mtypes[i].mt],
					 mtypes[i].wire, path,
					 (int)s->seen_received[path][mtypes[i].wire]);
		}
}

static uint64_t total_dropped(const struct dsc *d)
{
	uint64_t n = 0;

	for (int i = 0; i < DSC_DR_COUNT; i++)
		n += d->stats.dropped[i];
	return n;
}

/* B seals plaintext `plain` (a hand-made message) to A. */
static size_t seal_b_to_a(const uint8_t *plain, size_t len, uint8_t *pkt, size_t cap)
{
	int n = disco_seal(&B.dpriv, &B.dpub, &A.dpub, 0, plain, len, pkt, cap);

	assert_true(n > 0);
	return (size_t)n;
}

/* The message counters (dsc.stats; published as DiscoStats): discovery,
 * heartbeats and an msockctl ping between A and B, each message counted
 * once by type and path where it was sent and where it arrived, none
 * dropped; then bad packets, each dropped with its reason and received
 * as no type, but a peer-relay message, received as "other" and dropped as
 * not acted on. */
static void test_stats(void **state)
{
	(void)state;
	uint64_t t = MS(1000000);
	const struct dsc_stats *sa = &A.d.stats;
	uint8_t pkt[512], plain[128] = {0};
	struct dsc_stats before;

	dsc_on_traffic(&A.d, &B.node, t);
	exchange(t + MS(1), true);
	dsc_tick(&A.d, t + MS(3100)); /* heartbeat */
	exchange(t + MS(3101), true);
	dsc_ping_now(&B.d, &A.node, t + MS(3200)); /* to the direct address */
	exchange(t + MS(3201), true);
	assert_true(ipport_equal(&A.path_best, &B.addr));
	check_stats(&A);
	check_stats(&B);
	/* What discovery is made of, on the paths it takes. */
	assert_int_equal(sa->sent[DSC_PATH_DERP][DSC_MT_CALL_ME_MAYBE], 1);
	assert_int_equal(sa->received[DSC_PATH_DERP][DSC_MT_CALL_ME_MAYBE], 1);
	assert_int_equal(sa->sent[DSC_PATH_UDP][DSC_MT_CALL_ME_MAYBE], 0);
	assert_true(sa->sent[DSC_PATH_UDP][DSC_MT_PING] >= 3);
	assert_true(sa->sent[DSC_PATH_UDP][DSC_MT_PONG] >= 3);
	assert_true(sa->received[DSC_PATH_UDP][DSC_MT_PING] >= 3);
	assert_true(sa->received[DSC_PATH_UDP][DSC_MT_PONG] >= 2);
	assert_int_equal(sa->sent[DSC_PATH_DERP][DSC_MT_PING], 0);
	assert_int_equal(total_dropped(&A.d), 0);
	assert_int_equal(total_dropped(&B.d), 0);

	/* Malformed: cut short, no magic, an all-zero sender key. */
	dsc_ping_now(&B.d, &A.node, t + MS(3300));
	assert_int_equal(B.n_out, 1);
	memcpy(pkt, B.out[0].p, B.out[0].len);
	before = *sa;
	assert_true(dsc_on_udp(&A.d, 0, &B.addr, pkt, 40, t + MS(3301)) < 0);
	assert_int_equal(sa->dropped[DSC_DR_BAD_PACKET], 1);
	pkt[0] ^= 1;
	assert_int_equal(dsc_on_udp(&A.d, 0, &B.addr, pkt, B.out[0].len, t + MS(3301)),
			 DISCO_ERR_BAD_MAGIC);
	assert_int_equal(sa->dropped[DSC_DR_BAD_PACKET], 2);
	pkt[0] ^= 1;
	memset(pkt + DISCO_MAGIC_LEN, 0, DISCO_KEY_LEN);
	assert_int_equal(dsc_on_derp(&A.d, &B.node, 900, pkt, B.out[0].len, t + MS(3301)),
			 DISCO_ERR_ZERO_KEY);
	assert_int_equal(sa->dropped[DSC_DR_ZERO_KEY], 1);
	/* A box that does not open. */
	memcpy(pkt, B.out[0].p, B.out[0].len);
	pkt[B.out[0].len - 1] ^= 1;
	assert_int_equal(dsc_on_udp(&A.d, 0, &B.addr, pkt, B.out[0].len, t + MS(3301)),
			 DISCO_ERR_BOX);
	assert_int_equal(sa->dropped[DSC_DR_BAD_BOX], 1);
	/* Opened, but a type no codec knows, and a CallMeMaybe of 3 bytes. */
	plain[0] = 0x7f;
	size_t n = seal_b_to_a(plain, 2, pkt, sizeof(pkt));
	assert_int_equal(dsc_on_derp(&A.d, &B.node, 900, pkt, n, t + MS(3302)), DISCO_UNKNOWN_TYPE);
	assert_int_equal(sa->dropped[DSC_DR_UNKNOWN_TYPE], 1);
	plain[0] = DISCO_TYPE_CALL_ME_MAYBE;
	n = seal_b_to_a(plain, 5, pkt, sizeof(pkt));
	assert_true(dsc_on_derp(&A.d, &B.node, 900, pkt, n, t + MS(3302)) < 0);
	assert_int_equal(sa->dropped[DSC_DR_BAD_MESSAGE], 1);
	/* None of them has a type: received as before. */
	assert_memory_equal(sa->received, before.received, sizeof(before.received));
	/* A pong nobody asked for: received, then dropped. */
	struct disco_msg m = {.type = DISCO_TYPE_PONG};
	struct disco_shared k;
	m.u.pong.src = A.addr;
	assert_int_equal(disco_shared_init(&B.dpriv, &A.dpub, &k), 0);
	int sn = disco_msg_seal(&k, &B.dpub, 0, &m, pkt, sizeof(pkt));
	assert_true(sn > 0);
	assert_int_equal(dsc_on_udp(&A.d, 0, &B.addr, pkt, (size_t)sn, t + MS(3303)),
			 DSC_DROP_UNSOLICITED);
	assert_int_equal(sa->received[DSC_PATH_UDP][DSC_MT_PONG],
			 before.received[DSC_PATH_UDP][DSC_MT_PONG] + 1);
	assert_int_equal(sa->dropped[DSC_DR_UNSOLICITED_PONG], 1);
	/* A peer-relay message: parsed, not acted on. */
	m = (struct disco_msg){.type = DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT};
	m.u.bind.generation = 1;
	memset(m.u.bind.remote_key.b, 7, KEY_LEN);
	sn = disco_msg_seal(&k, &B.dpub, 0, &m, pkt, sizeof(pkt));
	assert_true(sn > 0);
	assert_int_equal(dsc_on_derp(&A.d, &B.node, 900, pkt, (size_t)sn, t + MS(3304)),
			 DISCO_UNKNOWN_TYPE);
	assert_int_equal(sa->received[DSC_PATH_DERP][DSC_MT_OTHER], 1);
	assert_int_equal(sa->dropped[DSC_DR_UNHANDLED], 1);
	disco_shared_wipe(&k);
	/* From a stranger: a disco key no peer has. */
	struct key32 spriv, spub;
	key_generate(&spriv);
	key_public(&spriv, &spub);
	plain[0] = DISCO_TYPE_CALL_ME_MAYBE;
	int xn = disco_seal(&spriv, &spub, &A.dpub, 0, plain, 2, pkt, sizeof(pkt));
	assert_true(xn > 0);
	assert_int_equal(dsc_on_udp(&A.d, 0, &B.addr, pkt, (size_t)xn, t + MS(3305)),
			 DSC_DROP_UNKNOWN_SENDER);
	assert_int_equal(sa->dropped[DSC_DR_UNKNOWN_SENDER], 1);
	assert_int_equal(total_dropped(&A.d), 9);
	/* Nothing of that was sent, and no path changed. */
	assert_memory_equal(sa->sent, before.sent, sizeof(before.sent));
	assert_true(ipport_equal(&A.path_best, &B.addr));
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

/* ---- Birthday punching: A behind a hard NAT, B not (dsc.h) ---- */

static size_t count_out(const struct side *s, bool derp, bool probe_sock)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n_out; i++)
		n += s->out[i].derp == derp && (derp || (s->out[i].sock != 0) == probe_sock);
	return n;
}

/* A hard: after 3 s of discovery without a path, one ping from each of the
 * 256 probe sockets to B's public endpoint (not its LAN one) and one
 * ProbeMe over DERP; again after 5.5 s, then 11 s; never when not hard. */
static void test_bday_spray(void **state)
{
	(void)state;
	uint64_t t = MS(1000000);
	struct ipport lan = {.family = AF_INET, .ip = {10, 0, 2, 2}, .port = 41641};
	struct ipport beps[2] = {lan, B.addr};
	bool seen[DSC_BDAY_PORTS + 1] = {0};

	dsc_set_peer(&A.d, &B.node, &B.dpub, 900, beps, 2, "b");
	dsc_on_traffic(&A.d, &B.node, t);
	dsc_tick(&A.d, t + MS(3000));
	assert_int_equal(count_out(&A, false, true), 0); /* not hard (yet) */
	dsc_set_nat(&A.d, true, &A.addr);
	A.n_out = 0;
	dsc_tick(&A.d, t + MS(2999));
	assert_int_equal(count_out(&A, false, true), 0); /* under 3 s */
	dsc_tick(&A.d, t + MS(3250));
	assert_int_equal(count_out(&A, false, true), DSC_BDAY_PORTS);
	for (size_t i = 0; i < A.n_out; i++) {
		if (A.out[i].derp || !A.out[i].sock)
			continue;
		assert_true(A.out[i].sock <= DSC_BDAY_PORTS && !seen[A.out[i].sock]);
		seen[A.out[i].sock] = true;
		assert_true(ipport_equal(&A.out[i].to, &B.addr));
	}
	/* Over DERP: a CallMeMaybe retry maybe, then the ProbeMe, last. */
	size_t last_derp = 0;
	for (size_t i = 0; i < A.n_out; i++)
		if (A.out[i].derp)
			last_derp = i;
	assert_true(A.out[last_derp].derp);
	dsc_on_derp(&B.d, &A.node, 900, A.out[last_derp].p, A.out[last_derp].len, t + MS(3250));
	assert_int_equal(B.d.stats.received[DSC_PATH_DERP][DSC_MT_PROBE_ME], 1);
	struct dsc_peer *pb = dsc_peer_find(&A.d, &B.node);
	assert_int_equal(pb->bday_sprays, 1);
	/* The next round 5.5 s later (once the peer takes a ProbeMe again),
	 * the one after 11 s more. */
	uint64_t next[] = {MS(8750), MS(19750)};
	for (size_t r = 0; r < 2; r++) {
		A.n_out = 0;
		dsc_on_traffic(&A.d, &B.node, t + next[r] - MS(5000));
		dsc_tick(&A.d, t + next[r] - MS(1));
		assert_int_equal(count_out(&A, false, true), 0);
		dsc_tick(&A.d, t + next[r]);
		assert_int_equal(count_out(&A, false, true), DSC_BDAY_PORTS);
	}
	assert_int_equal(pb->bday_sprays, 3);
}

/* A sprays and asks; B probes 1,024 random ports of A's address from its
 * main socket, 256 per tick. A probe that meets one of A's mappings
 * reaches A on that probe socket: A answers from it and pings B from it;
 * the pongs make both paths direct, A's leaving from the probe socket. */
static void test_bday_probe_and_hit(void **state)
{
	(void)state;
	uint64_t t = MS(1000000), now;
	struct dsc_peer *pa, *pb;

	dsc_set_peer(&A.d, &B.node, &B.dpub, 900, &B.addr, 1, "b");
	dsc_set_peer(&B.d, &A.node, &A.dpub, 900, &A.addr, 1, "a");
	dsc_set_nat(&A.d, true, &A.addr);
	dsc_on_traffic(&A.d, &B.node, t);
	A.n_out = 0;
	now = t + MS(3000);
	dsc_tick(&A.d, now);
	/* Only DERP crosses: A's CallMeMaybe (B pings A's endpoint once),
	 * then the ProbeMe, last: B starts probing. What B sends from then
	 * on over UDP is probes (B has no traffic of its own: no discovery).
	 * B's first probe goes to A's own port (scripted: by chance it did in
	 * 1.6 % of runs, and the test once miscounted it): still a probe. */
	size_t last_derp = A.n_out;
	for (size_t i = 0; i < A.n_out; i++)
		if (A.out[i].derp)
			last_derp = i;
	assert_true(last_derp < A.n_out);
	for (size_t i = 0; i < last_derp; i++)
		if (A.out[i].derp)
			assert_int_equal(
				dsc_on_derp(&B.d, &A.node, 900, A.out[i].p, A.out[i].len, now), 0);
	B.n_out = 0;
	B.script[B.n_script++] = A.addr.port - 1024u;
	assert_int_equal(
		dsc_on_derp(&B.d, &A.node, 900, A.out[last_derp].p, A.out[last_derp].len, now), 0);
	A.n_out = 0;
	assert_int_equal(B.d.stats.received[DSC_PATH_DERP][DSC_MT_PROBE_ME], 1);
	assert_int_equal(B.n_script, 0);
	assert_false(B.out[0].derp);
	assert_int_equal(B.out[0].to.port, A.addr.port);
	for (int tick = 1; tick <= 5; tick++)
		dsc_tick(&B.d, now + MS(250) * (uint64_t)tick);
	size_t probes = 0;
	for (size_t i = 0; i < B.n_out; i++) {
		if (B.out[i].derp)
			continue;
		probes++;
		assert_int_equal(B.out[i].sock, 0);
		assert_memory_equal(B.out[i].to.ip, A.addr.ip, 4);
		assert_true(B.out[i].to.port >= 1024);
	}
	assert_int_equal(probes, DSC_BDAY_PROBES);
	pb = dsc_peer_find(&A.d, &B.node);
	pa = dsc_peer_find(&B.d, &A.node);
	assert_int_equal(pa->bday_probes, DSC_BDAY_PROBES);
	/* Probe 300 meets the mapping of A's probe socket 7. */
	struct pkt probe = B.out[300];
	struct ipport mapped = probe.to;
	B.n_out = 0;
	now += MS(2000);
	assert_int_equal(dsc_on_udp(&A.d, 7, &B.addr, probe.p, probe.len, now), 0);
	assert_int_equal(A.n_out, 2); /* the pong, then a ping: both from socket 7 */
	assert_int_equal(A.out[0].sock, 7);
	assert_int_equal(A.out[1].sock, 7);
	assert_true(ipport_equal(&A.out[0].to, &B.addr));
	struct pkt pong = A.out[0], ping = A.out[1];
	A.n_out = 0;
	/* The pong comes back to B from the mapped port: B's path is direct. */
	assert_int_equal(dsc_on_udp(&B.d, 0, &mapped, pong.p, pong.len, now + MS(1)), 0);
	assert_true(ipport_equal(&B.path_best, &mapped));
	assert_int_equal(pa->bday_hits, 1);
	assert_int_equal(pa->best_sock, 0);
	/* A replay of it changes nothing (the round is decided). */
	assert_int_equal(dsc_on_udp(&B.d, 0, &mapped, pong.p, pong.len, now + MS(2)),
			 DSC_DROP_BDAY_LATE);
	assert_int_equal(pa->bday_hits, 1);
	/* A's ping reaches B the same way; B's pong goes back to the mapped
	 * port and reaches A on socket 7: A's path leaves from socket 7. */
	assert_int_equal(dsc_on_udp(&B.d, 0, &mapped, ping.p, ping.len, now + MS(1)), 0);
	assert_true(B.n_out >= 1 && ipport_equal(&B.out[0].to, &mapped));
	struct pkt bpong = B.out[0];
	/* Not on another socket of A's. */
	assert_int_equal(dsc_on_udp(&A.d, 8, &B.addr, bpong.p, bpong.len, now + MS(2)),
			 DSC_DROP_PONG_ADDR);
	assert_int_equal(dsc_on_udp(&A.d, 7, &B.addr, bpong.p, bpong.len, now + MS(2)), 0);
	assert_true(ipport_equal(&A.path_best, &B.addr));
	assert_int_equal(pb->best_sock, 7);
	assert_int_equal(pb->history[pb->n_history - 1].sock, 7);
	/* The heartbeat leaves from socket 7 too. */
	A.n_out = 0;
	dsc_on_traffic(&A.d, &B.node, now + MS(3000));
	dsc_tick(&A.d, now + MS(3100));
	assert_true(A.n_out >= 1);
	assert_int_equal(A.out[0].sock, 7);
	/* No more sprays while the path is trusted. */
	assert_int_equal(count_out(&A, false, true), 1);
	/* A's dataplane restarts: probe socket 7 is gone, so is the path
	 * (DERP at once), and the next tick sprays again without waiting. B's
	 * path left from its main socket: a restart of B's dataplane keeps it. */
	dsc_dataplane_restarted(&B.d, now + MS(3200));
	assert_true(ipport_equal(&B.path_best, &mapped));
	dsc_dataplane_restarted(&A.d, now + MS(3200));
	assert_int_equal(A.path_best.family, 0);
	assert_int_equal(pb->best_sock, 0);
	A.n_out = 0;
	dsc_tick(&A.d, now + MS(3250)); /* the channel reconnects first */
	assert_int_equal(count_out(&A, false, true), 0);
	dsc_tick(&A.d, now + MS(3200) + MS(DSC_DP_RESTART_GRACE_MS));
	assert_int_equal(count_out(&A, false, true), DSC_BDAY_PORTS);
}

/* Bad ProbeMe: an address that is not the peer's (reflection), a second
 * one within 5 s (amplification), and any from behind a hard NAT of our
 * own: no probes, counted. A probe's pong from another port than probed
 * is unsolicited. */
static void test_bday_bad_probe_me(void **state)
{
	(void)state;
	uint64_t t = MS(1000000), now = t + MS(3000);
	struct ipport victim = {.family = AF_INET, .ip = {198, 18, 99, 1}, .port = 41641};
	struct pkt ask;

	dsc_set_peer(&A.d, &B.node, &B.dpub, 900, &B.addr, 1, "b");
	dsc_set_peer(&B.d, &A.node, &A.dpub, 900, &A.addr, 1, "a");
	/* A sprays only for an address in its endpoint set (what its
	 * CallMeMaybes tell B); the CallMeMaybe is not delivered here. */
	struct ipport mine[2] = {A.addr, victim};
	dsc_set_my_endpoints(&A.d, mine, 2);
	dsc_set_nat(&A.d, true, &victim);
	dsc_on_traffic(&A.d, &B.node, t);
	A.n_out = 0;
	dsc_tick(&A.d, now);
	assert_true(count_out(&A, true, false) >= 1); /* the ProbeMe is the last */
	for (size_t i = 0; i < A.n_out; i++)
		if (A.out[i].derp)
			ask = A.out[i];
	assert_int_equal(dsc_on_derp(&B.d, &A.node, 900, ask.p, ask.len, now), DSC_DROP_PROBE_ME);
	assert_int_equal(B.n_out, 0);
	assert_int_equal(B.d.stats.dropped[DSC_DR_PROBE_ME_REFUSED], 1);
	/* The real address: probes; the same again at once: dropped. */
	dsc_set_nat(&A.d, true, &A.addr);
	A.n_out = 0;
	dsc_tick(&A.d, now + MS(10000));
	for (size_t i = 0; i < A.n_out; i++)
		if (A.out[i].derp)
			ask = A.out[i];
	assert_int_equal(dsc_on_derp(&B.d, &A.node, 900, ask.p, ask.len, now), 0);
	assert_int_equal(B.n_out, DSC_BDAY_PROBES_PER_TICK);
	struct pkt probe = B.out[5];
	B.n_out = 0;
	assert_int_equal(dsc_on_derp(&B.d, &A.node, 900, ask.p, ask.len, now + MS(100)),
			 DSC_DROP_PROBE_ME);
	assert_int_equal(B.n_out, 0);
	/* A's pong to a probe, but from the port next to the one probed. */
	A.n_out = 0;
	assert_int_equal(dsc_on_udp(&A.d, 3, &B.addr, probe.p, probe.len, now + MS(200)), 0);
	struct ipport off = probe.to;
	off.port++;
	assert_int_equal(dsc_on_udp(&B.d, 0, &off, A.out[0].p, A.out[0].len, now + MS(201)),
			 DSC_DROP_UNSOLICITED);
	assert_int_equal(B.path_best.family, 0);
	/* B behind a hard NAT too: ignored (its probes would leave from new
	 * ports each), nothing sent. */
	dsc_set_nat(&B.d, true, &B.addr);
	B.n_out = 0;
	assert_int_equal(dsc_on_derp(&B.d, &A.node, 900, ask.p, ask.len, now + MS(9000)),
			 DSC_DROP_PROBE_ME_HARD);
	assert_int_equal(B.n_out, 0);
	assert_int_equal(B.d.stats.dropped[DSC_DR_PROBE_ME_HARD], 1);
}

/* ---- many peers: found through the maps (dsc.h, by_node and by_disco) ---- */

enum { MANY_PEERS = 3000 };

static void many_node(struct key32 *k, uint32_t i)
{
	memset(k->b, 0x33, KEY_LEN);
	k->b[0] = 0xa0;
	k->b[1] = (uint8_t)(i >> 8);
	k->b[2] = (uint8_t)i;
}

/* A ping sealed by engine s as the peer with node key `node` and disco key
 * priv/pub, to A over DERP; what A's dsc_on_derp says. s's queue is reused
 * without clearing the rest of the (large) struct. */
static int ping_a_as(struct side *s, const struct key32 *node, const struct key32 *priv,
		     const struct key32 *pub, uint64_t now)
{
	struct dsc_io io = {.send_udp = s_udp, .send_derp = s_derp, .arg = s};
	struct dsc_rng rng = {.buf = r_buf, .uniform = r_uniform, .arg = s};
	int rc;

	s->n_out = 0;
	dsc_init(&s->d, priv, pub, &io, &rng);
	s->d.self_node_key = *node;
	s->d.has_self_node_key = true;
	assert_int_equal(dsc_set_peer(&s->d, &A.node, &A.dpub, 900, 0, 0, "a"), 0);
	dsc_ping_now(&s->d, &A.node, now);
	assert_true(s->n_out >= 1 && s->out[0].derp);
	A.n_out = 0;
	rc = dsc_on_derp(&A.d, node, 900, s->out[0].p, s->out[0].len, now);
	dsc_free(&s->d);
	return rc;
}

/* 3,000 peers with their own node and disco keys; every third removed (the
 * last peer moves into each hole), some disco keys changed: every peer
 * left is found by its node key, and its ping over DERP by its disco key
 * (the box opens with its shared key, the node keys agree: rc 0); the
 * removed and the replaced keys are unknown. */
static void test_many_peers(void **state)
{
	static struct key32 dpriv[MANY_PEERS], dpub[MANY_PEERS];
	static struct key32 old_priv[MANY_PEERS], old_pub[MANY_PEERS];
	static bool changed[MANY_PEERS];
	static struct side S;
	uint64_t t = MS(1000000);
	struct key32 nk;
	size_t left = 1, n_changed = 0; /* B, from setup */

	(void)state;
	for (uint32_t i = 0; i < MANY_PEERS; i++) {
		many_node(&nk, i);
		key_generate(&dpriv[i]);
		key_public(&dpriv[i], &dpub[i]);
		assert_int_equal(dsc_set_peer(&A.d, &nk, &dpub[i], 900, 0, 0, "many"), 0);
	}
	assert_int_equal(A.d.n_peers, MANY_PEERS + 1);
	for (uint32_t i = 0; i < MANY_PEERS; i += 3) {
		many_node(&nk, i);
		dsc_remove_peer(&A.d, &nk);
	}
	dsc_remove_peer(&A.d, &nk); /* again: nothing happens */
	for (uint32_t i = 1; i < MANY_PEERS; i += 7) {
		if (i % 3 == 0)
			continue;
		many_node(&nk, i);
		old_priv[i] = dpriv[i];
		old_pub[i] = dpub[i];
		key_generate(&dpriv[i]);
		key_public(&dpriv[i], &dpub[i]);
		assert_int_equal(dsc_set_peer(&A.d, &nk, &dpub[i], 900, 0, 0, "many"), 0);
		changed[i] = true;
		n_changed++;
	}
	assert_true(n_changed > 250);
	for (uint32_t i = 0; i < MANY_PEERS; i++)
		left += i % 3 != 0;
	assert_int_equal(A.d.n_peers, left);
	assert_int_equal(A.d.by_node.n, left);
	assert_int_equal(A.d.by_disco.n, left);
	for (uint32_t i = 0; i < MANY_PEERS; i++) {
		struct dsc_peer *p;
		many_node(&nk, i);
		p = dsc_peer_find(&A.d, &nk);
		if (i % 3 == 0) {
			assert_null(p);
			/* A removed peer's ping: its disco key is unknown (a
			 * sample: each ping costs a key exchange). */
			if (i % 30 == 0)
				assert_int_equal(ping_a_as(&S, &nk, &dpriv[i], &dpub[i], t),
						 DSC_DROP_UNKNOWN_SENDER);
			continue;
		}
		assert_non_null(p);
		assert_memory_equal(p->node_key.b, nk.b, KEY_LEN);
		assert_true(p->has_disco);
		assert_memory_equal(p->disco_key.b, dpub[i].b, KEY_LEN);
		assert_int_equal(ping_a_as(&S, &nk, &dpriv[i], &dpub[i], t), 0);
		assert_int_equal(p->pings_rx, 1);
		assert_int_equal(A.n_out, 1); /* the pong */
		if (changed[i] && i % 5 == 1)
			assert_int_equal(ping_a_as(&S, &nk, &old_priv[i], &old_pub[i], t),
					 DSC_DROP_UNKNOWN_SENDER);
	}
	/* B, the peer of setup, still there. */
	assert_non_null(dsc_peer_find(&A.d, &B.node));
	/* Everyone gone: the maps are empty. */
	for (uint32_t i = 0; i < MANY_PEERS; i++) {
		many_node(&nk, i);
		dsc_remove_peer(&A.d, &nk);
	}
	dsc_remove_peer(&A.d, &B.node);
	assert_int_equal(A.d.n_peers, 0);
	assert_int_equal(A.d.by_node.n, 0);
	assert_int_equal(A.d.by_disco.n, 0);
}

/* Two peers with one disco key (Tailscale allows it: nodesOfDisco): each
 * one's ping over DERP is its own, the key stays known while either has
 * it, and a disco key taken away (NULL) is gone. */
static void test_shared_disco_key(void **state)
{
	static struct side S;
	struct key32 n1, n2, n3, priv, pub;
	uint64_t t = MS(1000000);

	(void)state;
	many_node(&n1, 1);
	many_node(&n2, 2);
	many_node(&n3, 3);
	key_generate(&priv);
	key_public(&priv, &pub);
	assert_int_equal(dsc_set_peer(&A.d, &n1, &pub, 900, 0, 0, "one"), 0);
	assert_int_equal(dsc_set_peer(&A.d, &n2, &pub, 900, 0, 0, "two"), 0);
	assert_int_equal(dsc_set_peer(&A.d, &n3, &pub, 900, 0, 0, "three"), 0);
	assert_int_equal(A.d.by_disco.n, 2); /* B's key, and the shared one */
	assert_int_equal(ping_a_as(&S, &n1, &priv, &pub, t), 0);
	assert_int_equal(ping_a_as(&S, &n2, &priv, &pub, t), 0);
	assert_int_equal(ping_a_as(&S, &n3, &priv, &pub, t), 0);
	assert_int_equal(dsc_peer_find(&A.d, &n1)->pings_rx, 1);
	assert_int_equal(dsc_peer_find(&A.d, &n2)->pings_rx, 1);
	assert_int_equal(dsc_peer_find(&A.d, &n3)->pings_rx, 1);
	/* The first to have it leaves (the last peer, n3, moves into its
	 * place); then one loses its disco key. */
	dsc_remove_peer(&A.d, &n1);
	assert_int_equal(ping_a_as(&S, &n1, &priv, &pub, t), DSC_DROP_DERP_MISMATCH);
	assert_int_equal(ping_a_as(&S, &n3, &priv, &pub, t), 0);
	assert_int_equal(dsc_set_peer(&A.d, &n3, 0, 900, 0, 0, "three"), 0);
	assert_false(dsc_peer_find(&A.d, &n3)->has_disco);
	assert_int_equal(ping_a_as(&S, &n3, &priv, &pub, t), DSC_DROP_DERP_MISMATCH);
	assert_int_equal(ping_a_as(&S, &n2, &priv, &pub, t), 0);
	assert_int_equal(dsc_peer_find(&A.d, &n2)->pings_rx, 2);
	/* The last one with it leaves: the key is unknown. */
	dsc_remove_peer(&A.d, &n2);
	assert_int_equal(A.d.by_disco.n, 1);
	assert_int_equal(ping_a_as(&S, &n2, &priv, &pub, t), DSC_DROP_UNKNOWN_SENDER);
	/* It comes back, on n3. */
	assert_int_equal(dsc_set_peer(&A.d, &n3, &pub, 900, 0, 0, "three"), 0);
	assert_int_equal(ping_a_as(&S, &n3, &priv, &pub, t), 0);
}

/* B's NAT filters nothing (1:1 NAT): A's spray pings reach B, and B's
 * pongs come back to the socket each left from. The first pong of the
 * round makes A's path direct from that probe socket; the round then ends
 * (later ones are unsolicited), and one on another socket than its ping
 * left from never counts. */
static void test_bday_spray_pong(void **state)
{
	(void)state;
	uint64_t t = MS(1000000), now = t + MS(3000);
	struct pkt ping9 = {0}, ping10 = {0};

	dsc_set_peer(&A.d, &B.node, &B.dpub, 900, &B.addr, 1, "b");
	dsc_set_peer(&B.d, &A.node, &A.dpub, 900, &A.addr, 1, "a");
	dsc_set_nat(&A.d, true, &A.addr);
	dsc_on_traffic(&A.d, &B.node, t);
	A.n_out = 0;
	dsc_tick(&A.d, now);
	for (size_t i = 0; i < A.n_out; i++) {
		if (A.out[i].sock == 9)
			ping9 = A.out[i];
		if (A.out[i].sock == 10)
			ping10 = A.out[i];
	}
	assert_int_equal(ping9.sock, 9);
	assert_int_equal(ping10.sock, 10);
	/* Through A's NAT the pings come from two mapped ports. */
	struct ipport m9 = A.addr, m10 = A.addr;
	m9.port = 20009;
	m10.port = 20010;
	assert_int_equal(dsc_on_udp(&B.d, 0, &m9, ping9.p, ping9.len, now + MS(1)), 0);
	struct pkt pong9 = B.out[0];
	B.n_out = 0;
	assert_int_equal(dsc_on_udp(&B.d, 0, &m10, ping10.p, ping10.len, now + MS(1)), 0);
	struct pkt pong10 = B.out[0];
	assert_true(ipport_equal(&pong9.to, &m9));
	/* Pong 9 back on socket 10: not the way its ping went. */
	assert_int_equal(dsc_on_udp(&A.d, 10, &B.addr, pong9.p, pong9.len, now + MS(2)),
			 DSC_DROP_UNSOLICITED);
	assert_int_equal(A.path_best.family, 0);
	A.n_out = 0;
	assert_int_equal(dsc_on_udp(&A.d, 9, &B.addr, pong9.p, pong9.len, now + MS(2)), 0);
	assert_true(ipport_equal(&A.path_best, &B.addr));
	assert_int_equal(dsc_peer_find(&A.d, &B.node)->best_sock, 9);
	/* The path's first heartbeat goes 250 ms later (after the burst of
	 * the spray at B, which keeps the addresses heard last), from socket
	 * 9. */
	assert_int_equal(A.n_out, 0);
	dsc_on_traffic(&A.d, &B.node, now + MS(2));
	dsc_tick(&A.d, now + MS(2) + MS(DSC_BDAY_HEARTBEAT_MS));
	assert_true(A.n_out >= 1);
	assert_int_equal(A.out[0].sock, 9);
	assert_true(ipport_equal(&A.out[0].to, &B.addr));
	/* The round is decided: pong 10 and a replay of pong 9 change
	 * nothing. */
	assert_int_equal(dsc_on_udp(&A.d, 10, &B.addr, pong10.p, pong10.len, now + MS(3)),
			 DSC_DROP_BDAY_LATE);
	assert_int_equal(dsc_on_udp(&A.d, 9, &B.addr, pong9.p, pong9.len, now + MS(3)),
			 DSC_DROP_BDAY_LATE);
	/* After the round's time, a pong of it is unsolicited. */
	assert_int_equal(dsc_on_udp(&A.d, 9, &B.addr, pong9.p, pong9.len,
				    now + MS(DSC_PING_TIMEOUT_MS) + MS(1)),
			 DSC_DROP_UNSOLICITED);
	assert_int_equal(dsc_peer_find(&A.d, &B.node)->best_sock, 9);
}

/* A peer heard from more ports than the table holds (a birthday spray
 * that got through): the newest address takes the place of the one heard
 * from longest ago; the peer's static endpoint (never heard) stays. */
static void test_heard_addresses_evict_oldest(void **state)
{
	(void)state;
	uint64_t t = MS(1000000);
	struct dsc_peer *pb;
	struct pkt ping;

	dsc_set_peer(&A.d, &B.node, &B.dpub, 900, &B.addr, 1, "b");
	dsc_set_peer(&B.d, &A.node, &A.dpub, 900, &A.addr, 1, "a");
	dsc_ping_now(&B.d, &A.node, t); /* over DERP: a ping A can take from anywhere */
	assert_true(B.n_out >= 1 && B.out[0].derp);
	ping = B.out[0];
	pb = dsc_peer_find(&A.d, &B.node);
	for (int i = 0; i < DSC_MAX_EPS + 8; i++) {
		struct ipport from = B.addr;
		from.port = (uint16_t)(30000 + i);
		A.n_out = 0;
		assert_int_equal(dsc_on_udp(&A.d, 0, &from, ping.p, ping.len, t + MS(i)), 0);
	}
	assert_int_equal(pb->n_eps, DSC_MAX_EPS);
	bool has_static = false, has_newest = false, has_oldest = false;
	for (size_t i = 0; i < pb->n_eps; i++) {
		has_static |= ipport_equal(&pb->eps[i].addr, &B.addr);
		has_newest |= pb->eps[i].addr.port == 30000 + DSC_MAX_EPS + 7;
		has_oldest |= pb->eps[i].addr.port == 30000;
	}
	assert_true(has_static);
	assert_true(has_newest);
	assert_false(has_oldest);
	/* The dataplane gets every address heard from (31: the static one
	 * never was)... */
	assert_int_equal(pb->n_rx, DSC_MAX_EPS - 1);
	for (size_t i = 0; i < pb->n_rx; i++)
		assert_true(pb->rx[i].port >= 30000 + 9);
	/* ...and one pushed out, heard again, is back at once, in place of
	 * the one heard from longest ago (30009). */
	struct ipport again = B.addr;
	again.port = 30000;
	assert_int_equal(dsc_on_udp(&A.d, 0, &again, ping.p, ping.len, t + MS(100)), 0);
	bool in = false, oldest = false;
	for (size_t i = 0; i < pb->n_rx; i++) {
		in |= ipport_equal(&pb->rx[i], &again);
		oldest |= pb->rx[i].port == 30009;
	}
	assert_true(in);
	assert_false(oldest);
}

/* A CallMeMaybe the peer does not answer (lost: its DERP connection was not
 * up yet) is sent again after 1 s, 2 s, 4 s, then every 5 s; one from the
 * peer resets that. */
static void test_cmm_retry(void **state)
{
	(void)state;
	uint64_t t = MS(1000000), at[] = {0, 1000, 3000, 7000, 12000, 17000};
	size_t k = 0;

	for (uint64_t ms = 0; ms <= 17000; ms += 250) {
		size_t before = count_out(&A, true, false);
		dsc_on_traffic(&A.d, &B.node, t + MS(ms));
		dsc_tick(&A.d, t + MS(ms));
		if (count_out(&A, true, false) > before) {
			assert_true(k < 6);
			assert_int_equal(ms, at[k]);
			k++;
		}
	}
	assert_int_equal(k, 6);
	/* B answers: the next one waits the full interval. */
	dsc_on_traffic(&B.d, &A.node, t + MS(17100));
	for (size_t i = 0; i < B.n_out; i++)
		if (B.out[i].derp)
			dsc_on_derp(&A.d, &B.node, 900, B.out[i].p, B.out[i].len, t + MS(17100));
	A.n_out = 0;
	dsc_tick(&A.d, t + MS(18000)); /* 1 s after: no retry */
	dsc_tick(&A.d, t + MS(21900));
	assert_int_equal(count_out(&A, true, false), 0);
	dsc_tick(&A.d, t + MS(22000));
	assert_int_equal(count_out(&A, true, false), 1);
}

/* The peer asks for probes while we still trust our path to it (its
 * dataplane restarted and the probe socket it sent from is gone): our path
 * is no longer trusted (WireGuard goes over DERP too) and the probes go. */
static void test_bday_probe_me_while_trusted(void **state)
{
	(void)state;
	uint64_t t = MS(1000000), now = t + MS(3100);
	struct dsc_peer *pa = dsc_peer_find(&B.d, &A.node), *pb = dsc_peer_find(&A.d, &B.node);

	dsc_on_traffic(&A.d, &B.node, t);
	exchange(t, true);
	assert_true(ipport_equal(&B.path_best, &A.addr));
	assert_true(B.path_trusted > now);
	/* A lost its path (as after its dataplane's restart) and is hard. */
	memset(&pb->best, 0, sizeof(pb->best));
	pb->trusted_until_ns = 0;
	pb->disc_start_ns = t;
	dsc_set_nat(&A.d, true, &A.addr);
	A.n_out = 0;
	dsc_tick(&A.d, now);
	size_t last_derp = A.n_out;
	for (size_t i = 0; i < A.n_out; i++)
		if (A.out[i].derp)
			last_derp = i;
	assert_true(last_derp < A.n_out);
	B.n_out = 0;
	assert_int_equal(
		dsc_on_derp(&B.d, &A.node, 900, A.out[last_derp].p, A.out[last_derp].len, now), 0);
	assert_int_equal(B.path_trusted, now);
	assert_true(ipport_equal(&B.path_best, &A.addr)); /* kept, untrusted: direct+derp */
	assert_int_equal(pa->bday_probes, DSC_BDAY_PROBES_PER_TICK);
}

/* A peer without a disco key is WireGuard only (magicsock's
 * isWireguardOnly): traffic, the dataplane's counters, msockctl ping, a
 * recheck and a minute of ticks (behind a hard NAT too) send nothing, no
 * ping and no CallMeMaybe, and publish no path. */
static void test_no_disco_key_no_discovery(void **state)
{
	struct key32 n;
	struct ipport st = {.family = AF_INET, .ip = {198, 18, 9, 1}, .port = 41641};
	uint64_t t = MS(1000000);
	struct dsc_peer *p;

	(void)state;
	many_node(&n, 9);
	assert_int_equal(dsc_set_peer(&A.d, &n, 0, 900, &st, 1, "wg"), 0);
	p = dsc_peer_find(&A.d, &n);
	assert_false(p->has_disco);
	dsc_set_nat(&A.d, true, &A.addr);
	dsc_on_traffic(&A.d, &n, t);
	dsc_on_counters(&A.d, &n, 1, 0, t);
	dsc_on_counters(&A.d, &n, 5, 3, t + MS(1));
	dsc_ping_now(&A.d, &n, t + MS(2));
	dsc_recheck(&A.d, &n, t + MS(3));
	for (uint64_t s = 0; s <= 60; s++) {
		dsc_on_traffic(&A.d, &n, t + MS(s * 1000));
		dsc_tick(&A.d, t + MS(s * 1000));
	}
	assert_int_equal(A.n_out, 0);
	assert_int_equal(A.paths, 0);
	assert_int_equal(p->pings_sent, 0);
	assert_int_equal(p->cmm_sent, 0);
	assert_int_equal(p->bday_sprays, 0);
}

/* A peer's disco key taken away (the config no longer has it): the path
 * disco found is withdrawn (the dataplane goes back to the peer's static
 * endpoints), and nothing is sent to the peer any more. */
static void test_disco_key_taken_away(void **state)
{
	uint64_t t = MS(1000000);

	(void)state;
	dsc_on_traffic(&A.d, &B.node, t);
	exchange(t + MS(1), true);
	assert_true(ipport_equal(&A.path_best, &B.addr));
	assert_int_equal(dsc_set_peer(&A.d, &B.node, 0, 900, &B.addr, 1, "b"), 0);
	A.n_out = 0;
	dsc_tick(&A.d, t + MS(100));
	assert_int_equal(A.path_best.family, 0);
	assert_int_equal(A.path_trusted, 0);
	assert_int_equal(dsc_peer_find(&A.d, &B.node)->best.family, 0);
	for (uint64_t s = 1; s <= 20; s++) {
		dsc_on_traffic(&A.d, &B.node, t + MS(s * 1000));
		dsc_tick(&A.d, t + MS(s * 1000));
	}
	assert_int_equal(A.n_out, 0);
}

/* A restarted disco finds a path in the cache for a peer that has no disco
 * key now: withdrawn, not adopted. */
static void test_no_disco_key_path_not_adopted(void **state)
{
	struct key32 n;
	struct ipport st = {.family = AF_INET, .ip = {198, 18, 9, 1}, .port = 41641};
	uint64_t t = MS(1000000);

	(void)state;
	many_node(&n, 9);
	assert_int_equal(dsc_set_peer(&A.d, &n, 0, 900, &st, 1, "wg"), 0);
	A.path_best = st; /* a publish without a direct path clears it */
	dsc_adopt_path(&A.d, &n, &st, 0, t + MS(DSC_TRUST_UDP_MS), 1000, t);
	assert_int_equal(A.path_best.family, 0);
	assert_int_equal(dsc_peer_find(&A.d, &n)->best.family, 0);
	dsc_tick(&A.d, t + MS(3000));
	assert_int_equal(A.n_out, 0);
}

/* The order that lost the first birthday round in the demo: A (hard NAT)
 * starts discovery before netcheck's first report, so its first
 * CallMeMaybe carries only its LAN address; B answers (so A's next
 * periodic one is 5 s away). The report then gives A its public address.
 * A tells B at once, before the spray at 3 s, so B acts on the ProbeMe
 * instead of refusing it for an address it never heard of. */
static void test_cmm_when_endpoints_change(void **state)
{
	(void)state;
	uint64_t t = MS(1000000);
	struct ipport lan = {.family = AF_INET, .ip = {10, 0, 1, 2}, .port = 41641};
	struct ipport both[2] = {lan, A.addr};
	struct dsc_peer *pa = dsc_peer_find(&B.d, &A.node);

	dsc_set_peer(&B.d, &A.node, &A.dpub, 900, 0, 0, "a"); /* no statics */
	dsc_set_my_endpoints(&A.d, &lan, 1);
	dsc_on_traffic(&A.d, &B.node, t);
	assert_int_equal(count_out(&A, true, false), 1); /* CallMeMaybe: the LAN only */
	deliver_derp(&A, &B, t + MS(5));
	deliver_derp(&B, &A, t + MS(10)); /* B's CallMeMaybe back */
	/* netcheck's report, then the dataplane's endpoint set. */
	dsc_set_nat(&A.d, true, &A.addr);
	A.n_out = 0;
	dsc_tick(&A.d, t + MS(250));
	assert_int_equal(count_out(&A, false, true), 0); /* no spray: not told yet */
	dsc_set_my_endpoints(&A.d, both, 2);
	dsc_set_my_endpoints(&A.d, both, 2); /* republished: not a change */
	dsc_tick(&A.d, t + MS(500));
	assert_int_equal(count_out(&A, true, false), 1); /* at once, not at 5 s */
	dsc_tick(&A.d, t + MS(750));
	assert_int_equal(count_out(&A, true, false), 1); /* and only once */
	deliver_derp(&A, &B, t + MS(760));
	/* The spray at 3 s: its ProbeMe is acted on. */
	dsc_tick(&A.d, t + MS(3250));
	assert_int_equal(count_out(&A, false, true), DSC_BDAY_PORTS);
	deliver_derp(&A, &B, t + MS(3260));
	assert_int_equal(B.d.stats.received[DSC_PATH_DERP][DSC_MT_PROBE_ME], 1);
	assert_int_equal(B.d.stats.dropped[DSC_DR_PROBE_ME_REFUSED], 0);
	assert_true(pa->bday.probing);
}

/* B answers A's CallMeMaybe before netcheck's first report, so its own
 * lists only its LAN address (A cannot reach it); B has no traffic of its
 * own, so it is not in discovery. When its endpoint set changes, B tells A
 * at once (not with its next answer, 5 s away); A pings B's public address,
 * and both go direct. Once, and only while A's call is recent. */
static void test_cmm_answer_when_endpoints_change(void **state)
{
	(void)state;
	uint64_t t = MS(1000000);
	struct ipport lan = {.family = AF_INET, .ip = {10, 0, 2, 2}, .port = 41641};
	struct ipport both[2] = {lan, B.addr};
	struct dsc_peer *pa = dsc_peer_find(&B.d, &A.node);

	dsc_set_my_endpoints(&B.d, &lan, 1);
	dsc_on_traffic(&A.d, &B.node, t);
	deliver_derp(&A, &B, t + MS(5));
	assert_int_equal(count_msgs(&B, &A, true, DISCO_TYPE_CALL_ME_MAYBE), 1);
	deliver_derp(&B, &A, t + MS(10));				 /* B's ping to A: lost */
	assert_int_equal(count_msgs(&A, &B, false, DISCO_TYPE_PING), 0); /* LAN only */
	A.n_out = 0;
	dsc_tick(&B.d, t + MS(12));
	assert_int_equal(B.n_out, 0); /* nothing changed */
	dsc_set_my_endpoints(&B.d, both, 2);
	dsc_tick(&B.d, t + MS(15));
	assert_int_equal(count_msgs(&B, &A, true, DISCO_TYPE_CALL_ME_MAYBE), 1);
	assert_int_equal(B.n_out, 1);
	dsc_tick(&B.d, t + MS(20));
	assert_int_equal(B.n_out, 1); /* once */
	assert_int_equal(pa->cmm_sent, 2);
	exchange(t + MS(25), true);
	assert_true(ipport_equal(&A.path_best, &B.addr));
	assert_true(ipport_equal(&B.path_best, &A.addr));
	/* A change long after A's call (B's last CallMeMaybe): none. */
	dsc_set_my_endpoints(&B.d, &B.addr, 1);
	dsc_tick(&B.d, t + MS(25) + MS(DSC_TRUST_UDP_MS) + MS(1));
	assert_int_equal(B.n_out, 0);
	assert_int_equal(pa->cmm_sent, 2);
}

/* Hard, but the public address netcheck found is not in the endpoint set
 * yet (the dataplane has not republished it): no spray, whose ProbeMe the
 * peer would refuse; it goes once the set has it. */
static void test_bday_waits_for_endpoint_set(void **state)
{
	(void)state;
	uint64_t t = MS(1000000);
	struct ipport lan = {.family = AF_INET, .ip = {10, 0, 1, 2}, .port = 41641};
	struct ipport beps[1] = {B.addr};
	struct ipport both[2] = {lan, A.addr};

	dsc_set_peer(&A.d, &B.node, &B.dpub, 900, beps, 1, "b");
	dsc_set_my_endpoints(&A.d, &lan, 1);
	dsc_set_nat(&A.d, true, &A.addr);
	dsc_on_traffic(&A.d, &B.node, t);
	for (uint64_t ms = 250; ms <= 6000; ms += 250)
		dsc_tick(&A.d, t + MS(ms));
	assert_int_equal(count_out(&A, false, true), 0);
	dsc_set_my_endpoints(&A.d, both, 2);
	dsc_tick(&A.d, t + MS(6250));
	assert_int_equal(count_out(&A, false, true), DSC_BDAY_PORTS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_discovery_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fallback_when_pongs_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_amplification, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reping_on_ping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reping_on_cmm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reping_once_per_interval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reping_on_cmm_then_ping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_reping_when_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pongs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmm_unusable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ping_now, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_better_addr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bday_spray, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bday_probe_and_hit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bday_bad_probe_me, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bday_spray_pong, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heard_addresses_evict_oldest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmm_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmm_when_endpoints_change, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmm_answer_when_endpoints_change, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bday_waits_for_endpoint_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bday_probe_me_while_trusted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_peers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_disco_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_disco_key_no_discovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disco_key_taken_away, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_disco_key_path_not_adopted, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, 0, 0);
}

/* dsc_ping: disco messages to and from a peer, after magicsock's
 * endpoint.go (sendDiscoPing, startDiscoveryLocked, handlePongConnLocked,
 * handleCallMeMaybe) and handleDiscoMessage: pings and CallMeMaybes out,
 * discovery, and opening and acting on what comes in; the message counters
 * (dsc.stats) are counted here, where each message goes out (dsc_send_msg)
 * and comes in (receive).
 * Timers (dsc_tick drives them): an endpoint is pinged in turn at most
 * every DSC_PING_INTERVAL_MS, out of turn at most twice more
 * (ping_out_of_turn); a ping unanswered for DSC_PING_TIMEOUT_MS frees its
 * slot; a CallMeMaybe again after 1, 2, 4 s while unanswered, else every
 * DSC_CMM_INTERVAL_MS (cmm_gap). */
#include "dsc_internal.h"

#include <string.h>
#include <sys/socket.h>

/* The counters' type of a wire type. */
static enum dsc_mt mtype(uint8_t wire)
{
	switch (wire) {
	case DISCO_TYPE_PING:
		return DSC_MT_PING;
	case DISCO_TYPE_PONG:
		return DSC_MT_PONG;
	case DISCO_TYPE_CALL_ME_MAYBE:
		return DSC_MT_CALL_ME_MAYBE;
	case DISCO_TYPE_MSOCK_PROBE_ME:
		return DSC_MT_PROBE_ME;
	default:
		return DSC_MT_OTHER;
	}
}

/* Seals m for p and sends it to `to` from our socket `sock` (UDP), or over
 * DERP (to NULL). Every message we send goes through here, so this is
 * where they are counted (magicsock's metricSentDisco*). */
void dsc_send_msg(struct dsc *d, struct dsc_peer *p, uint16_t sock, const struct ipport *to,
		  const struct disco_msg *m)
{
	uint8_t buf[DSC_PACKET_MAX];
	int n = disco_msg_seal(&p->shared, &d->pub, 0, m, buf, sizeof(buf));

	if (n <= 0) {
		d->stats.dropped[DSC_DR_SEAL_FAILED]++;
		return;
	}
	d->stats.sent[to ? DSC_PATH_UDP : DSC_PATH_DERP][mtype(m->type)]++;
	if (to)
		d->io.send_udp(d->io.arg, sock, to, buf, (size_t)n);
	else
		d->io.send_derp(d->io.arg, &p->node_key, p->home_derp, buf, (size_t)n);
}

/* Pings endpoint e over UDP, or over DERP when e is NULL. */
static void send_ping_as(struct dsc *d, struct dsc_peer *p, struct dsc_ep *e, uint64_t now,
			 bool user)
{
	struct disco_msg m = {.type = DISCO_TYPE_PING};
	struct dsc_ping *slot = 0;

	for (size_t i = 0; i < DSC_MAX_PINGS && !slot; i++)
		if (!p->pings[i].used || now - p->pings[i].sent_ns >= ms(DSC_PING_TIMEOUT_MS))
			slot = &p->pings[i];
	if (!slot)
		return; /* DSC_MAX_PINGS in flight: the next round */
	d->rng.buf(d->rng.arg, m.u.ping.txid, DISCO_TXID_LEN);
	/* Our node key: the peer checks the ping came from the node it
	 * expects (disco learns it from the derp component's SelfKeys). */
	m.u.ping.has_node_key = d->has_self_node_key;
	m.u.ping.node_key = d->self_node_key;
	slot->used = true;
	memcpy(slot->txid, m.u.ping.txid, DISCO_TXID_LEN);
	slot->to = e ? e->addr : (struct ipport){0};
	slot->sock = e ? e->sock : 0;
	slot->sent_ns = now;
	slot->user = user;
	if (e)
		e->last_ping_ns = now;
	p->pings_sent++;
	dsc_send_msg(d, p, e ? e->sock : 0, e ? &e->addr : 0, &m);
}

void dsc_send_ping(struct dsc *d, struct dsc_peer *p, struct dsc_ep *e, uint64_t now)
{
	send_ping_as(d, p, e, now, false);
}

void dsc_send_cmm(struct dsc *d, struct dsc_peer *p, uint64_t now)
{
	static uint8_t wire[DSC_MAX_MY_EPS * DISCO_EP_LEN];
	struct disco_msg m = {.type = DISCO_TYPE_CALL_ME_MAYBE};

	disco_endpoints_put(d->my_eps, d->n_my_eps, wire, sizeof(wire),
			    &m.u.call_me_maybe.my_number);
	p->last_cmm_ns = now;
	p->cmm_eps_gen = d->my_eps_gen;
	p->cmm_sent++;
	if (p->cmm_unanswered < UINT8_MAX)
		p->cmm_unanswered++;
	dsc_send_msg(d, p, 0, 0, &m);
}

/* Whether e is due a ping in turn: not pinged within the ping interval. */
static bool ping_due(const struct dsc_ep *e, uint64_t now)
{
	return !e->last_ping_ns || now - e->last_ping_ns >= ms(DSC_PING_INTERVAL_MS);
}

/* Pings every endpoint due a ping. */
void dsc_ping_all(struct dsc *d, struct dsc_peer *p, uint64_t now)
{
	for (size_t i = 0; i < p->n_eps; i++)
		if (ping_due(&p->eps[i], now))
			dsc_send_ping(d, p, &p->eps[i], now);
}

/* Whether our last ping to e is unanswered: no pong since it, and none
 * within the trust period either (a heartbeat whose pong is still on its
 * way is not a lost ping). */
static bool ping_unanswered(const struct dsc_ep *e, uint64_t now)
{
	return e->last_ping_ns && e->last_pong_ns < e->last_ping_ns &&
	       !(e->last_pong_ns && now - e->last_pong_ns < ms(DSC_TRUST_UDP_MS));
}

/* The peer just showed that the way to e is open, but our last ping to e,
 * not yet due again, is unanswered: typically the peer's NAT dropped it,
 * having no mapping for us yet. Pinging again now, rather than when the ping
 * interval ends, saves up to 5 s of DERP when both sides start at once.
 *
 * The news comes two ways, each allowed one such ping per endpoint per
 * DSC_PING_INTERVAL_MS (*last, its stamp in e): a ping from e proves the
 * peer's NAT is open to us now; a CallMeMaybe listing e only says the peer
 * has pinged us, and those pings may have been lost (an outage) or gone
 * nowhere (the peer did not know our endpoints yet). Were the two to share
 * one allowance, a ping spent on such a CallMeMaybe would hold back the one
 * that a ping from e, a moment later, asks for: in the lab that cost 1-2 s
 * after an outage, and 1 s after a lost first CallMeMaybe. So: at most three
 * pings to an endpoint per interval (one in turn, one each out of turn), and
 * at most one per packet received. A ping of ours still on its way when the
 * peer's crossed it looks unanswered too; then this one is redundant.
 * (Tailscale's handleCallMeMaybe zeroes every endpoint's lastPing and pings
 * them all on each CallMeMaybe, with no limit of its own.) */
static void ping_out_of_turn(struct dsc *d, struct dsc_peer *p, struct dsc_ep *e, uint64_t *last,
			     uint64_t now)
{
	if (!ping_unanswered(e, now) || (*last && now - *last < ms(DSC_PING_INTERVAL_MS)))
		return;
	*last = now;
	dsc_send_ping(d, p, e, now);
}

/* How long after our last CallMeMaybe discovery sends the next: 1 s, 2 s,
 * 4 s while the peer has not sent one back (ours may have been lost: its
 * DERP connection was not up yet), then every DSC_CMM_INTERVAL_MS. */
static uint64_t cmm_gap(const struct dsc_peer *p)
{
	unsigned k; /* ours since the peer's last one, less 1 */
	uint64_t gap;

	if (!p->cmm_unanswered)
		return ms(DSC_CMM_INTERVAL_MS); /* the peer answered */
	k = p->cmm_unanswered - 1u;
	gap = ms(DSC_CMM_RETRY_MS) << (k < 3 ? k : 3);

	return gap < ms(DSC_CMM_INTERVAL_MS) ? gap : ms(DSC_CMM_INTERVAL_MS);
}

/* startDiscoveryLocked: CallMeMaybe over DERP (the peer pings us back:
 * the simultaneous open that punches both NATs) and pings to every
 * endpoint we know of the peer. A CallMeMaybe that carried an older
 * endpoint set (discovery began before netcheck's first report gave us our
 * public address) is followed by one with the new set at once: without it
 * the peer would refuse our ProbeMe for an address it has not heard of, and
 * the first birthday round would be lost (Tailscale waits with its
 * CallMeMaybe until its endpoints are fresh, enqueueCallMeMaybe). */
void dsc_discover(struct dsc *d, struct dsc_peer *p, uint64_t now)
{
	if (!p->has_disco)
		return;
	if (!p->last_cmm_ns || now - p->last_cmm_ns >= cmm_gap(p) ||
	    p->cmm_eps_gen != d->my_eps_gen)
		dsc_send_cmm(d, p, now);
	dsc_ping_all(d, p, now);
}

void dsc_start_discovery(struct dsc *d, struct dsc_peer *p, uint64_t now)
{
	if (p->disc_start_ns || !p->has_disco)
		return;
	p->disc_start_ns = now;
	dsc_event(d, p, "no trusted direct path: discovery (%zu endpoints known)", p->n_eps);
}

void dsc_ping_now(struct dsc *d, const struct key32 *node_key, uint64_t now)
{
	struct dsc_peer *p = dsc_peer_find(d, node_key);

	if (!p || !p->has_disco)
		return;
	p->last_traffic_ns = now;
	if (dsc_trusted(p, now)) {
		send_ping_as(d, p, dsc_ep_add(p, &p->best, false), now, true);
		return;
	}
	send_ping_as(d, p, 0, now, true); /* over DERP */
	dsc_discover(d, p, now);
}

static void on_pong(struct dsc *d, struct dsc_peer *p, const struct disco_msg *m,
		    const struct ipport *from, uint16_t sock, uint16_t region, uint64_t now,
		    int *rc)
{
	struct dsc_ping *s = 0;
	struct ipport to;
	uint16_t to_sock;
	uint64_t lat;
	enum dsc_bday_match bm = DSC_BDAY_NO;

	for (size_t i = 0; i < DSC_MAX_PINGS && !s; i++)
		if (p->pings[i].used &&
		    memcmp(p->pings[i].txid, m->u.pong.txid, DISCO_TXID_LEN) == 0)
			s = &p->pings[i];
	if (!s)
		bm = dsc_bday_pong(p, m->u.pong.txid, from, sock, now, &to, &to_sock, &lat);
	if (bm == DSC_BDAY_LATE) {
		*rc = DSC_DROP_BDAY_LATE;
		return;
	}
	if (bm == DSC_BDAY_HIT) {
		p->pongs_rx++;
		dsc_event(
			d, p,
			"birthday punching: a pong through a new mapping after %llu ms (round %u)",
			(unsigned long long)(lat / NS_PER_MS),
			to_sock ? p->bday.rounds : p->bday.probe_rounds);
		dsc_confirm(d, p, &to, to_sock, lat, now);
		/* A spray that got through: the peer heard us from every probe
		 * socket and keeps the addresses heard last, so the path's
		 * first heartbeat goes soon (after the burst), from the socket
		 * it uses. */
		if (to_sock && p->best_sock == to_sock && ipport_equal(&p->best, &to))
			p->last_heartbeat_ns =
				now - ms(DSC_HEARTBEAT_MS) + ms(DSC_BDAY_HEARTBEAT_MS);
		return;
	}
	if (!s || now - s->sent_ns >= ms(DSC_PING_TIMEOUT_MS)) {
		*rc = DSC_DROP_UNSOLICITED;
		return;
	}
	/* The pong must come back the way its ping went: from the address
	 * pinged to the socket it left from, or over DERP for a ping sent
	 * over DERP. */
	if (from ? !ipport_equal(from, &s->to) || sock != s->sock : s->to.family != 0) {
		*rc = DSC_DROP_PONG_ADDR;
		return;
	}
	s->used = false; /* a replayed pong is unsolicited */
	lat = now - s->sent_ns;
	p->pongs_rx++;
	if (s->user && d->io.pong)
		d->io.pong(d->io.arg, p, from, region, lat);
	if (!from)
		return; /* DERP's latency says nothing about a direct path */
	dsc_confirm(d, p, &s->to, s->sock, lat, now);
}

static void on_ping(struct dsc *d, struct dsc_peer *p, const struct disco_msg *m,
		    const struct ipport *from, uint16_t sock, uint16_t region, uint64_t now,
		    int *rc)
{
	struct disco_msg pong = {.type = DISCO_TYPE_PONG};

	if (m->u.ping.has_node_key && memcmp(m->u.ping.node_key.b, p->node_key.b, KEY_LEN) != 0) {
		*rc = DSC_DROP_WRONG_NODE_KEY;
		return;
	}
	p->pings_rx++;
	memcpy(pong.u.pong.txid, m->u.ping.txid, DISCO_TXID_LEN);
	if (from) {
		pong.u.pong.src = *from;
	} else {
		uint32_t ip = DSC_DERP_MAGIC_IP;
		pong.u.pong.src.family = AF_INET;
		pong.u.pong.src.ip[0] = (uint8_t)(ip >> 24);
		pong.u.pong.src.ip[1] = (uint8_t)(ip >> 16);
		pong.u.pong.src.ip[2] = (uint8_t)(ip >> 8);
		pong.u.pong.src.ip[3] = (uint8_t)ip;
		pong.u.pong.src.port = region;
	}
	/* The answer goes back the way the ping came. */
	dsc_send_msg(d, p, sock, from, &pong);
	if (from) {
		/* A ping from an address of the peer: a candidate (the
		 * peer's side of a punched hole); pinged in turn, within the
		 * ping interval, or out of turn if our last ping to it was
		 * lost (the hole it proves is newer). */
		struct dsc_ep *e = dsc_ep_add_heard(p, from, true);
		bool first = e && !e->heard_ns;
		if (e && e->sock != sock &&
		    !(e->last_pong_ns && now - e->last_pong_ns < ms(DSC_TRUST_UDP_MS))) {
			/* It reached another socket of ours (a probe
			 * socket's mapping, birthday punching): a new path,
			 * pinged from there now. One inbound ping, at most
			 * one ping back. */
			e->sock = sock;
			e->last_ping_ns = 0;
		}
		if (e)
			e->heard_ns = now;
		/* The address is the peer's (the box proved it): the dataplane
		 * takes WireGuard from it at once, before any path is trusted
		 * (pick_rx: every heard address). */
		if (e && (first || !dsc_in_rx(p, &e->addr)))
			dsc_publish(d, p, now);
		if (e && ping_due(e, now))
			dsc_send_ping(d, p, e, now);
		else if (e)
			ping_out_of_turn(d, p, e, &e->reping_on_ping_ns, now);
	}
}

static void on_cmm(struct dsc *d, struct dsc_peer *p, const struct disco_msg *m, uint64_t now)
{
	const struct disco_endpoints *eps = &m->u.call_me_maybe.my_number;

	p->cmm_rx++;
	p->cmm_unanswered = 0;
	for (size_t i = 0; i < eps->n; i++) {
		struct ipport a;
		struct dsc_ep *e;
		if (!disco_endpoints_get(eps, i, &a) || !disco_endpoint_usable(&a)) {
			d->stats.cmm_unusable_eps++;
			continue;
		}
		if (!(e = dsc_ep_add(p, &a, true)))
			d->stats.cmm_capped++;
		else if (!ping_due(e, now))
			ping_out_of_turn(d, p, e, &e->reping_on_cmm_ns, now); /* due: ping_all */
	}
	/* The peer is trying to reach us: ping what it listed (each at most
	 * once per ping interval, and once more out of turn above: no
	 * amplification), and tell it our endpoints in turn (at most one
	 * CallMeMaybe per interval). Tailscale peers know each other's
	 * endpoints from the control server; ours learn them only this way,
	 * and both sides must send for the simultaneous open to punch both
	 * NATs. */
	if (!p->last_cmm_ns || now - p->last_cmm_ns >= ms(DSC_CMM_INTERVAL_MS))
		dsc_send_cmm(d, p, now);
	dsc_ping_all(d, p, now);
}

/* What became of a packet received: its type once it opened and parsed,
 * and why it was dropped if it was (receive counts both). */
struct fate {
	enum dsc_mt type;
	enum dsc_drop_reason why;
};

/* The reason of a handler's drop code. */
static enum dsc_drop_reason drop_reason(int rc)
{
	switch (rc) {
	case DSC_DROP_WRONG_NODE_KEY:
		return DSC_DR_WRONG_NODE_KEY;
	case DSC_DROP_UNSOLICITED:
		return DSC_DR_UNSOLICITED_PONG;
	case DSC_DROP_PONG_ADDR:
		return DSC_DR_PONG_WRONG_ADDR;
	case DSC_DROP_PROBE_ME:
		return DSC_DR_PROBE_ME_REFUSED;
	case DSC_DROP_PROBE_ME_HARD:
		return DSC_DR_PROBE_ME_HARD;
	case DSC_DROP_BDAY_LATE:
		return DSC_DR_BDAY_LATE;
	default:
		return DSC_DR_UNHANDLED; /* DISCO_UNKNOWN_TYPE of a parsed message */
	}
}

/* Opens and dispatches a packet from peer p (found by its disco key). */
static int handle(struct dsc *d, const struct disco_packet *pkt, const struct ipport *from,
		  uint16_t sock, const struct key32 *derp_src, uint16_t region, uint64_t now,
		  struct fate *f)
{
	static uint8_t plain[DISCO_MAX_PLAINTEXT_LEN];
	struct dsc_peer *p = dsc_peer_by_disco(d, &pkt->sender, derp_src);
	struct disco_msg m;
	int n, rc = 0;

	if (!p) {
		f->why = DSC_DR_UNKNOWN_SENDER;
		return DSC_DROP_UNKNOWN_SENDER;
	}
	if (derp_src && memcmp(derp_src->b, p->node_key.b, KEY_LEN) != 0) {
		f->why = DSC_DR_DERP_MISMATCH;
		return DSC_DROP_DERP_MISMATCH;
	}
	n = disco_open_shared(&p->shared, pkt, plain, sizeof(plain));
	if (n < 0) {
		f->why = DSC_DR_BAD_BOX;
		return n;
	}
	rc = disco_msg_parse(plain, (size_t)n, &m);
	if (rc == DISCO_UNKNOWN_TYPE) {
		f->why = DSC_DR_UNKNOWN_TYPE;
		return rc;
	}
	if (rc < 0 || disco_msg_check_keys(&m) < 0) {
		f->why = DSC_DR_BAD_MESSAGE;
		return rc < 0 ? rc : DISCO_ERR_ZERO_KEY;
	}
	f->type = mtype(m.type);
	switch (m.type) {
	case DISCO_TYPE_PING:
		on_ping(d, p, &m, from, sock, region, now, &rc);
		break;
	case DISCO_TYPE_PONG:
		on_pong(d, p, &m, from, sock, region, now, &rc);
		break;
	case DISCO_TYPE_CALL_ME_MAYBE:
		on_cmm(d, p, &m, now);
		break;
	case DISCO_TYPE_MSOCK_PROBE_ME:
		dsc_on_probe_me(d, p, &m, now, &rc);
		break;
	default:
		/* Peer relays: parsed, not acted on yet. */
		rc = DISCO_UNKNOWN_TYPE;
		break;
	}
	if (rc != 0)
		f->why = drop_reason(rc);
	return rc;
}

/* A packet in, by either path: parsed, opened, acted on, and counted here
 * and nowhere else (magicsock's metricRecvDisco*). */
static int receive(struct dsc *d, int path, const uint8_t *p, size_t len, const struct ipport *from,
		   uint16_t sock, const struct key32 *derp_src, uint16_t region, uint64_t now)
{
	struct disco_packet pkt;
	struct fate f = {0};
	int rc = disco_packet_parse(p, len, &pkt);

	if (rc < 0)
		f.why = rc == DISCO_ERR_ZERO_KEY ? DSC_DR_ZERO_KEY : DSC_DR_BAD_PACKET;
	else
		rc = handle(d, &pkt, from, sock, derp_src, region, now, &f);
	if (f.type)
		d->stats.received[path][f.type]++;
	if (f.why)
		d->stats.dropped[f.why]++;
	return rc;
}

int dsc_on_udp(struct dsc *d, uint16_t sock, const struct ipport *from, const uint8_t *p,
	       size_t len, uint64_t now)
{
	return receive(d, DSC_PATH_UDP, p, len, from, sock, 0, 0, now);
}

int dsc_on_derp(struct dsc *d, const struct key32 *src, uint16_t region, const uint8_t *p,
		size_t len, uint64_t now)
{
	return receive(d, DSC_PATH_DERP, p, len, 0, 0, src, region, now);
}

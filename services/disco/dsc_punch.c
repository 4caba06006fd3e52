/* dsc_punch: birthday punching through hard NATs (dsc.h, "Hard NATs";
 * docs/disco.md): the spray from DSC_BDAY_PORTS probe sockets, the peer's
 * probes of random ports of our address, and the pong that decides a round.
 * Timers (dsc_tick drives them): a spray again after DSC_BDAY_RESPRAY_MS,
 * doubling up to 8 times that, while nothing is found; the probes go out
 * DSC_BDAY_PROBES_PER_TICK a tick; a peer's ProbeMe is acted on at most
 * every DSC_BDAY_PROBE_INTERVAL_MS; a probe's pong counts for
 * DSC_BDAY_PROBE_WINDOW_MS, a spray's for DSC_PING_TIMEOUT_MS. */
#include "dsc_internal.h"

#include <string.h>

static uint16_t txid_num(const uint8_t *txid, size_t at)
{
	return (uint16_t)(txid[at] << 8 | txid[at + 1]);
}

static void txid_make(uint8_t *txid, const uint8_t id[8], uint16_t a, uint16_t b)
{
	memcpy(txid, id, 8);
	txid[8] = (uint8_t)(a >> 8);
	txid[9] = (uint8_t)a;
	txid[10] = (uint8_t)(b >> 8);
	txid[11] = (uint8_t)b;
}

/* Whether a pong answers this round's spray or probes, coming back the way
 * its ping went. A round's first such pong decides it; later ones (several
 * mappings met, or a replay) change nothing. */
enum dsc_bday_match dsc_bday_pong(struct dsc_peer *p, const uint8_t *txid,
				  const struct ipport *from, uint16_t sock, uint64_t now,
				  struct ipport *to, uint16_t *to_sock, uint64_t *lat)
{
	struct dsc_bday *b = &p->bday;
	uint16_t x = txid_num(txid, 8), y = txid_num(txid, 10);

	if (b->spray_ns && memcmp(txid, b->spray_id, 8) == 0 &&
	    now - b->spray_ns < ms(DSC_PING_TIMEOUT_MS)) {
		if (b->spray_decided)
			return DSC_BDAY_LATE;
		/* x: the probe socket it left from; y: the endpoint it went to. */
		if (!from || x < 1 || x > DSC_BDAY_PORTS || sock != x || y >= p->n_eps ||
		    !ipport_equal(from, &p->eps[y].addr))
			return DSC_BDAY_NO;
		*lat = now - b->spray_ns;
		b->spray_decided = true;
	} else if (b->probe_start_ns && memcmp(txid, b->probe_id, 8) == 0 &&
		   now - b->probe_start_ns < ms(DSC_BDAY_PROBE_WINDOW_MS)) {
		if (b->probe_decided)
			return DSC_BDAY_LATE;
		/* x: the port probed; y: ms after the start it was sent. */
		uint64_t sent = b->probe_start_ns + ms(y);
		if (!from || sock != 0 || !ip_equal(from, &b->probe_ip) || from->port != x ||
		    sent > now)
			return DSC_BDAY_NO;
		*lat = now - sent;
		b->probe_decided = true;
		b->probing = false;
		p->bday_hits++;
	} else {
		return DSC_BDAY_NO;
	}
	*to = *from;
	*to_sock = sock;
	return DSC_BDAY_HIT;
}

/* Whether our endpoint set (what our CallMeMaybes carry) has a's address:
 * the peer acts on a ProbeMe only for an address we told it. */
static bool my_eps_have_ip(const struct dsc *d, const struct ipport *a)
{
	for (size_t i = 0; i < d->n_my_eps; i++)
		if (ip_equal(&d->my_eps[i], a))
			return true;
	return false;
}

/* Our NAT is hard: ping the peer's public IPv4 endpoints from every probe
 * socket (a mapping each), then ask the peer to probe our public address. */
void dsc_bday_spray(struct dsc *d, struct dsc_peer *p, uint64_t now)
{
	struct dsc_bday *b = &p->bday;
	struct disco_msg m = {.type = DISCO_TYPE_PING};
	struct disco_msg ask = {.type = DISCO_TYPE_MSOCK_PROBE_ME};
	uint16_t targets[DSC_BDAY_TARGETS];
	size_t nt = 0;

	for (size_t i = 0; i < p->n_eps && nt < DSC_BDAY_TARGETS; i++)
		if (dsc_public_v4(&p->eps[i].addr))
			targets[nt++] = (uint16_t)i;
	if (!nt)
		return; /* no public endpoint of the peer known yet: next tick */
	if (!my_eps_have_ip(d, &d->global_v4))
		return; /* not in our endpoint set yet: the peer would refuse the ProbeMe */
	if (b->last_ask_ns && now - b->last_ask_ns < ms(DSC_BDAY_PROBE_INTERVAL_MS + 100))
		return; /* the peer would drop our ProbeMe (its 5 s limit): a later tick */
	b->next_spray_ns = now + (ms(DSC_BDAY_RESPRAY_MS) << (b->rounds < 3 ? b->rounds : 3));
	if (b->rounds < UINT8_MAX)
		b->rounds++;
	d->rng.buf(d->rng.arg, b->spray_id, sizeof(b->spray_id));
	b->spray_ns = now;
	b->spray_decided = false;
	m.u.ping.has_node_key = d->has_self_node_key;
	m.u.ping.node_key = d->self_node_key;
	for (uint16_t k = 1; k <= DSC_BDAY_PORTS; k++)
		for (size_t t = 0; t < nt; t++) {
			txid_make(m.u.ping.txid, b->spray_id, k, targets[t]);
			dsc_send_msg(d, p, k, &p->eps[targets[t]].addr, &m);
		}
	p->bday_sprays++;
	p->pings_sent += (uint64_t)DSC_BDAY_PORTS * nt;
	ask.u.probe_me.ports = DSC_BDAY_PORTS;
	ask.u.probe_me.addr = d->global_v4;
	b->last_ask_ns = now;
	dsc_send_msg(d, p, 0, 0, &ask);
	dsc_event(d, p,
		  "hard NAT: pinged %zu endpoint(s) from %d ports (round %u), asked for probes", nt,
		  DSC_BDAY_PORTS, b->rounds);
}

/* Sends the next probes of a session: pings to random ports of the
 * peer's address, from our main socket. */
void dsc_bday_probe(struct dsc *d, struct dsc_peer *p, uint64_t now)
{
	struct dsc_bday *b = &p->bday;
	struct disco_msg m = {.type = DISCO_TYPE_PING};
	uint16_t since = (uint16_t)((now - b->probe_start_ns) / NS_PER_MS);

	m.u.ping.has_node_key = d->has_self_node_key;
	m.u.ping.node_key = d->self_node_key;
	for (int i = 0; i < DSC_BDAY_PROBES_PER_TICK && b->probes_sent < DSC_BDAY_PROBES; i++) {
		struct ipport to = b->probe_ip;
		to.port = (uint16_t)(1024 + d->rng.uniform(d->rng.arg, 65536 - 1024));
		txid_make(m.u.ping.txid, b->probe_id, to.port, since);
		dsc_send_msg(d, p, 0, &to, &m);
		b->probes_sent++;
		p->bday_probes++;
	}
	if (b->probes_sent >= DSC_BDAY_PROBES)
		b->probing = false; /* pongs still count within the window */
}

static bool peer_has_ip(const struct dsc_peer *p, const struct ipport *a)
{
	for (size_t i = 0; i < p->n_eps; i++)
		if (ip_equal(&p->eps[i].addr, a))
			return true;
	return false;
}

/* The peer, behind a hard NAT, asks for probes of its public address. Only
 * an address the peer told us it has (no reflection at a third party), at
 * most once per DSC_BDAY_PROBE_INTERVAL_MS (no amplification beyond
 * DSC_BDAY_PROBES per interval), and not from behind a hard NAT ourselves
 * (our probes would each leave from a new port: no use). */
void dsc_on_probe_me(struct dsc *d, struct dsc_peer *p, const struct disco_msg *m, uint64_t now,
		     int *rc)
{
	struct dsc_bday *b = &p->bday;
	const struct ipport *a = &m->u.probe_me.addr;

	if (d->hard_nat) {
		*rc = DSC_DROP_PROBE_ME_HARD;
		return;
	}
	/* Even with a trusted path: the peer asks because it has none (its
	 * dataplane restarted, say, and our trust has not run out yet). */
	if (!dsc_public_v4(a) || !peer_has_ip(p, a) ||
	    (b->last_probe_me_ns && now - b->last_probe_me_ns < ms(DSC_BDAY_PROBE_INTERVAL_MS))) {
		*rc = DSC_DROP_PROBE_ME;
		return;
	}
	b->last_probe_me_ns = now;
	if (dsc_trusted(p, now)) {
		/* The peer has no path, so ours to it is one-sided at best:
		 * no longer trusted (WireGuard goes over DERP too), and the
		 * probes' answer replaces it (betterAddr's hysteresis is only
		 * for a trusted path). */
		dsc_event(d, p, "asked for probes: our direct path to it is no longer trusted");
		p->trusted_until_ns = now;
		dsc_publish(d, p, now);
	}
	b->probe_ip = *a;
	b->probe_ip.port = 0;
	d->rng.buf(d->rng.arg, b->probe_id, sizeof(b->probe_id));
	b->probe_start_ns = now;
	b->probe_decided = false;
	b->probes_sent = 0;
	b->probing = true;
	if (b->probe_rounds < UINT8_MAX)
		b->probe_rounds++;
	dsc_event(d, p,
		  "probing %d random ports of %u.%u.%u.%u (round %u; the peer sent from %u ports)",
		  DSC_BDAY_PROBES, a->ip[0], a->ip[1], a->ip[2], a->ip[3], b->probe_rounds,
		  m->u.probe_me.ports);
	dsc_bday_probe(d, p, now);
}

/* dsc: per-peer path discovery (dsc.h), after Tailscale's
 * wgengine/magicsock endpoint.go. */
#include "dsc.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"

static uint64_t ms(uint64_t n)
{
	return n * NS_PER_MS;
}

/* Go's netip IsLoopback, IsLinkLocalUnicast, IsPrivate. */
static bool is_loopback(const struct ipport *a)
{
	static const uint8_t lo6[16] = {[15] = 1};
	return a->family == AF_INET ? a->ip[0] == 127 : memcmp(a->ip, lo6, 16) == 0;
}

static bool is_link_local(const struct ipport *a)
{
	return a->family == AF_INET ? a->ip[0] == 169 && a->ip[1] == 254
				    : a->ip[0] == 0xfe && (a->ip[1] & 0xc0) == 0x80;
}

static bool is_private(const struct ipport *a)
{
	if (a->family == AF_INET)
		return a->ip[0] == 10 || (a->ip[0] == 172 && (a->ip[1] & 0xf0) == 16) ||
		       (a->ip[0] == 192 && a->ip[1] == 168);
	return (a->ip[0] & 0xfe) == 0xfc;
}

/* Where birthday punching can help: a public IPv4 address. */
static bool public_v4(const struct ipport *a)
{
	return a->family == AF_INET && !is_loopback(a) && !is_link_local(a) && !is_private(a);
}

static void event(struct dsc *d, const struct dsc_peer *p, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void event(struct dsc *d, const struct dsc_peer *p, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	if (!d->io.event)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	d->io.event(d->io.arg, p, buf);
}

const char *dsc_strerror(int err)
{
	switch (err) {
	case DSC_DROP_UNKNOWN_SENDER:
		return "disco key of no peer";
	case DSC_DROP_WRONG_NODE_KEY:
		return "ping names another node key";
	case DSC_DROP_UNSOLICITED:
		return "pong to no ping of ours";
	case DSC_DROP_PONG_ADDR:
		return "pong from another address than we pinged";
	case DSC_DROP_DERP_MISMATCH:
		return "over DERP from a node whose disco key it is not";
	case DSC_DROP_BDAY_LATE:
		return "pong of a birthday round already decided";
	case DSC_DROP_PROBE_ME:
		return "probe-me for an address not the peer's, or within 5 s of the last";
	default:
		return disco_strerror(err);
	}
}

static void sodium_buf(void *arg, void *p, size_t n)
{
	(void)arg;
	randombytes_buf(p, n);
}

static uint32_t sodium_uniform(void *arg, uint32_t upper)
{
	(void)arg;
	return randombytes_uniform(upper);
}

const struct dsc_rng dsc_rng_sodium = {.buf = sodium_buf, .uniform = sodium_uniform};

void dsc_init(struct dsc *d, const struct key32 *priv, const struct key32 *pub,
	      const struct dsc_io *io, const struct dsc_rng *rng)
{
	memset(d, 0, sizeof(*d));
	d->priv = *priv;
	d->pub = *pub;
	d->io = *io;
	d->rng = *rng;
	keymap_init(&d->by_node, KEY_LEN);
	keymap_init(&d->by_disco, KEY_LEN);
}

void dsc_free(struct dsc *d)
{
	for (size_t i = 0; i < d->n_peers; i++)
		disco_shared_wipe(&d->peers[i].shared);
	free(d->peers);
	keymap_free(&d->by_node);
	keymap_free(&d->by_disco);
	sodium_memzero(&d->priv, sizeof(d->priv));
	d->peers = 0;
	d->n_peers = d->cap_peers = 0;
}

static struct dsc_peer *at(struct dsc *d, uint32_t i)
{
	return i == KEYMAP_ABSENT ? 0 : &d->peers[i];
}

struct dsc_peer *dsc_peer_find(struct dsc *d, const struct key32 *node_key)
{
	return at(d, keymap_get(&d->by_node, node_key->b));
}

/* The peer with that disco key; of several, the one with node key `node`
 * when given (over DERP the sender's node key is known), else any. */
static struct dsc_peer *by_disco(struct dsc *d, const struct key32 *disco, const struct key32 *node)
{
	uint32_t head = keymap_get(&d->by_disco, disco->b);

	for (uint32_t j = head; node && j != KEYMAP_ABSENT; j = d->peers[j].disco_next)
		if (memcmp(d->peers[j].node_key.b, node->b, KEY_LEN) == 0)
			return &d->peers[j];
	return at(d, head);
}

/* A new value for a key the map holds. Cannot fail: the put after a
 * successful del does not allocate (keymap.h). */
static void remap(struct keymap *m, const void *key, uint32_t val)
{
	if (!keymap_del(m, key) || keymap_put(m, key, val) < 0)
		abort();
}

/* Peer i (has_disco) joins its disco key's chain, whose map entry exists:
 * dsc_set_peer makes a new key's entry (naming i) before anything else
 * changes, so that running out of memory changes nothing. */
static void disco_link(struct dsc *d, uint32_t i)
{
	struct dsc_peer *p = &d->peers[i];
	uint32_t head = keymap_get(&d->by_disco, p->disco_key.b);

	if (head == KEYMAP_ABSENT)
		abort();
	if (head == i) {
		p->disco_next = KEYMAP_ABSENT;
		return;
	}
	p->disco_next = d->peers[head].disco_next;
	d->peers[head].disco_next = i;
}

/* Whatever names peer `from` in its disco key's chain (peer `to` holds
 * that key) names `to` instead: peer i leaves the chain (to =
 * p->disco_next), or the last peer moved into a hole (dsc_remove_peer). */
static void disco_renumber(struct dsc *d, const struct key32 *disco, uint32_t from, uint32_t to)
{
	uint32_t j = keymap_get(&d->by_disco, disco->b);

	if (j == from) {
		if (to == KEYMAP_ABSENT)
			keymap_del(&d->by_disco, disco->b);
		else
			remap(&d->by_disco, disco->b, to);
		return;
	}
	for (; j != KEYMAP_ABSENT; j = d->peers[j].disco_next) {
		if (d->peers[j].disco_next == from) {
			d->peers[j].disco_next = to;
			return;
		}
	}
	abort(); /* `from` was not in the chain */
}

static void disco_unlink(struct dsc *d, uint32_t i)
{
	struct dsc_peer *p = &d->peers[i];

	disco_renumber(d, &p->disco_key, i, p->disco_next);
	p->disco_next = KEYMAP_ABSENT;
}

static struct dsc_ep *ep_find(struct dsc_peer *p, const struct ipport *a)
{
	for (size_t i = 0; i < p->n_eps; i++)
		if (ipport_equal(&p->eps[i].addr, a))
			return &p->eps[i];
	return 0;
}

/* Adds a if it is new and there is room (statics and CallMeMaybe ones). */
static struct dsc_ep *ep_add(struct dsc_peer *p, const struct ipport *a, bool from_cmm)
{
	struct dsc_ep *e = ep_find(p, a);

	if (e || p->n_eps == DSC_MAX_EPS)
		return e;
	e = &p->eps[p->n_eps++];
	memset(e, 0, sizeof(*e));
	e->addr = *a;
	e->from_cmm = from_cmm;
	return e;
}

/* Adds an address the peer's packets came from (a ping, or a pong to a
 * birthday probe). When the table is full it takes the place of the one
 * heard from longest ago, never the best path's and never one not heard
 * from (the peer's advertised and static endpoints stay). After a birthday
 * spray's burst of 256 addresses the one the peer goes on sending from is
 * heard again (its heartbeats) and comes back. */
static struct dsc_ep *ep_add_heard(struct dsc_peer *p, const struct ipport *a, bool from_cmm)
{
	struct dsc_ep *e = ep_add(p, a, from_cmm);

	if (e)
		return e;
	for (size_t i = 0; i < p->n_eps; i++) {
		struct dsc_ep *c = &p->eps[i];
		if (c->heard_ns && !ipport_equal(&c->addr, &p->best) &&
		    (!e || c->heard_ns < e->heard_ns))
			e = c;
	}
	if (!e)
		return 0;
	memset(e, 0, sizeof(*e));
	e->addr = *a;
	e->from_cmm = from_cmm;
	return e;
}

int dsc_set_peer(struct dsc *d, const struct key32 *node_key, const struct key32 *disco_key,
		 uint16_t home_derp, const struct ipport *statics, size_t n_statics,
		 const char *name)
{
	uint32_t i = keymap_get(&d->by_node, node_key->b);
	bool added = i == KEYMAP_ABSENT, new_disco = false;
	struct dsc_peer *p;

	if (added) {
		if (d->n_peers >= KEYMAP_ABSENT)
			return -ENOMEM; /* no index left */
		if (d->n_peers == d->cap_peers) {
			size_t cap = d->cap_peers ? d->cap_peers * 2 : 16;
			struct dsc_peer *np = realloc(d->peers, cap * sizeof(*np));
			if (!np)
				return -ENOMEM;
			d->peers = np;
			d->cap_peers = cap;
		}
		i = (uint32_t)d->n_peers;
		if (keymap_put(&d->by_node, node_key->b, i) < 0)
			return -ENOMEM;
		p = &d->peers[d->n_peers++];
		memset(p, 0, sizeof(*p));
		p->node_key = *node_key;
		p->disco_next = KEYMAP_ABSENT;
	} else {
		p = &d->peers[i];
	}
	if (!disco_key || !p->has_disco || memcmp(p->disco_key.b, disco_key->b, KEY_LEN) != 0) {
		/* A disco key no peer has needs a map entry: made first, so that
		 * without memory nothing changes (a peer just added goes again). */
		if (disco_key && keymap_get(&d->by_disco, disco_key->b) == KEYMAP_ABSENT) {
			if (keymap_put(&d->by_disco, disco_key->b, i) < 0) {
				if (added) {
					keymap_del(&d->by_node, node_key->b);
					d->n_peers--;
				}
				return -ENOMEM;
			}
			new_disco = true;
		}
		if (p->has_disco)
			disco_unlink(d, i);
		/* A new disco key: its shared key, and nothing learned before. */
		disco_shared_wipe(&p->shared);
		p->has_disco =
			disco_key && disco_shared_init(&d->priv, disco_key, &p->shared) == DISCO_OK;
		if (p->has_disco) {
			p->disco_key = *disco_key;
			disco_link(d, i);
		} else if (new_disco) {
			keymap_del(&d->by_disco, disco_key->b);
		}
		memset(p->pings, 0, sizeof(p->pings));
		memset(&p->bday, 0, sizeof(p->bday));
	}
	p->home_derp = home_derp;
	snprintf(p->name, sizeof(p->name), "%s", name ? name : "");
	for (size_t k = 0; k < n_statics; k++)
		ep_add(p, &statics[k], false);
	return 0;
}

void dsc_remove_peer(struct dsc *d, const struct key32 *node_key)
{
	uint32_t i = keymap_get(&d->by_node, node_key->b), last;
	struct dsc_peer *p;

	if (i == KEYMAP_ABSENT)
		return;
	p = &d->peers[i];
	if (p->has_disco)
		disco_unlink(d, i);
	keymap_del(&d->by_node, node_key->b);
	disco_shared_wipe(&p->shared);
	last = (uint32_t)--d->n_peers;
	if (i == last)
		return;
	/* The last peer fills the hole: what named it names i now. */
	*p = d->peers[last];
	sodium_memzero(&d->peers[last], sizeof(d->peers[last])); /* its shared key */
	remap(&d->by_node, p->node_key.b, i);
	if (p->has_disco)
		disco_renumber(d, &p->disco_key, last, i);
}

void dsc_set_my_endpoints(struct dsc *d, const struct ipport *eps, size_t n)
{
	bool same;

	if (n > DSC_MAX_MY_EPS)
		n = DSC_MAX_MY_EPS;
	same = n == d->n_my_eps;
	for (size_t i = 0; same && i < n; i++)
		same = ipport_equal(&eps[i], &d->my_eps[i]);
	if (same)
		return; /* the dataplane republished the same set */
	memcpy(d->my_eps, eps, n * sizeof(*eps));
	d->n_my_eps = n;
	d->my_eps_gen++;
}

void dsc_set_nat(struct dsc *d, bool hard, const struct ipport *global_v4)
{
	d->hard_nat = hard;
	if (global_v4 && global_v4->family == AF_INET)
		d->global_v4 = *global_v4;
	else
		memset(&d->global_v4, 0, sizeof(d->global_v4));
}

/* Seals m for p and sends it to `to` from our socket `sock` (UDP), or over
 * DERP (to NULL). */
static void send_msg(struct dsc *d, struct dsc_peer *p, uint16_t sock, const struct ipport *to,
		     const struct disco_msg *m)
{
	uint8_t buf[DSC_PACKET_MAX];
	int n = disco_msg_seal(&p->shared, &d->pub, 0, m, buf, sizeof(buf));

	if (n <= 0)
		return;
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
	send_msg(d, p, e ? e->sock : 0, e ? &e->addr : 0, &m);
}

static void send_ping(struct dsc *d, struct dsc_peer *p, struct dsc_ep *e, uint64_t now)
{
	send_ping_as(d, p, e, now, false);
}

static void send_cmm(struct dsc *d, struct dsc_peer *p, uint64_t now)
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
	send_msg(d, p, 0, 0, &m);
}

static bool trusted(const struct dsc_peer *p, uint64_t now)
{
	return p->best.family && now < p->trusted_until_ns;
}

/* Whether e is due a ping in turn: not pinged within the ping interval. */
static bool ping_due(const struct dsc_ep *e, uint64_t now)
{
	return !e->last_ping_ns || now - e->last_ping_ns >= ms(DSC_PING_INTERVAL_MS);
}

/* Pings every endpoint due a ping. */
static void ping_all(struct dsc *d, struct dsc_peer *p, uint64_t now)
{
	for (size_t i = 0; i < p->n_eps; i++)
		if (ping_due(&p->eps[i], now))
			send_ping(d, p, &p->eps[i], now);
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
	send_ping(d, p, e, now);
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
static void discover(struct dsc *d, struct dsc_peer *p, uint64_t now)
{
	if (!p->has_disco)
		return;
	if (!p->last_cmm_ns || now - p->last_cmm_ns >= cmm_gap(p) ||
	    p->cmm_eps_gen != d->my_eps_gen)
		send_cmm(d, p, now);
	ping_all(d, p, now);
}

/* Hands the path to io.path; a change of address (or the first publish)
 * goes into the peer's history (GetEndpointChanges). */
/* Every address the peer was heard from (the dataplane takes WireGuard
 * from them, as magicsock maps every address a disco ping came from). */
static void pick_rx(struct dsc_peer *p)
{
	p->n_rx = 0;
	for (size_t i = 0; i < p->n_eps && p->n_rx < DSC_RX_ADDRS; i++)
		if (p->eps[i].heard_ns)
			p->rx[p->n_rx++] = p->eps[i].addr;
}

static bool in_rx(const struct dsc_peer *p, const struct ipport *a)
{
	for (size_t i = 0; i < p->n_rx; i++)
		if (ipport_equal(&p->rx[i], a))
			return true;
	return false;
}

static void publish(struct dsc *d, struct dsc_peer *p, uint64_t now)
{
	bool changed = !ipport_equal(&p->best, &p->pub_best) || p->best_sock != p->pub_best_sock ||
		       p->n_history == 0;

	if (changed) {
		struct dsc_change *c = &p->history[p->history_next];
		c->at_ns = now;
		c->direct = p->best;
		c->sock = p->best_sock;
		c->latency_ns = p->best_latency_ns;
		p->history_next = (p->history_next + 1) % DSC_HISTORY;
		if (p->n_history < DSC_HISTORY)
			p->n_history++;
	}
	p->pub_best = p->best;
	p->pub_best_sock = p->best_sock;
	pick_rx(p);
	p->pub_trusted_until_ns = p->trusted_until_ns;
	d->io.path(d->io.arg, p, p->best.family ? &p->best : 0, p->trusted_until_ns,
		   p->best_latency_ns, changed);
}

/* A peer without a disco key is WireGuard only (magicsock's
 * isWireguardOnly): disco never pings it, so a path of disco's for it (its
 * key was taken away, or a restarted disco found one in the cache) is
 * withdrawn: the dataplane sends to the peer's static endpoints. */
static void withdraw_path(struct dsc *d, struct dsc_peer *p, uint64_t now)
{
	event(d, p, "no disco key: WireGuard only, disco's path withdrawn");
	memset(&p->best, 0, sizeof(p->best));
	p->best_sock = 0;
	p->trusted_until_ns = 0;
	publish(d, p, now);
}

static void start_discovery(struct dsc *d, struct dsc_peer *p, uint64_t now)
{
	if (p->disc_start_ns || !p->has_disco)
		return;
	p->disc_start_ns = now;
	event(d, p, "no trusted direct path: discovery (%zu endpoints known)", p->n_eps);
}

static void traffic(struct dsc *d, struct dsc_peer *p, uint64_t now)
{
	p->last_traffic_ns = now;
	if (!trusted(p, now)) {
		start_discovery(d, p, now);
		discover(d, p, now);
	}
}

void dsc_on_traffic(struct dsc *d, const struct key32 *node_key, uint64_t now)
{
	struct dsc_peer *p = dsc_peer_find(d, node_key);

	if (p)
		traffic(d, p, now);
}

void dsc_ping_now(struct dsc *d, const struct key32 *node_key, uint64_t now)
{
	struct dsc_peer *p = dsc_peer_find(d, node_key);

	if (!p || !p->has_disco)
		return;
	p->last_traffic_ns = now;
	if (trusted(p, now)) {
		send_ping_as(d, p, ep_add(p, &p->best, false), now, true);
		return;
	}
	send_ping_as(d, p, 0, now, true); /* over DERP */
	discover(d, p, now);
}

static void rx(struct dsc *d, struct dsc_peer *p, uint64_t now)
{
	if (!d->silent || !p->best.family)
		return;
	p->best_pong_ns = now; /* heard on it: not stale */
	p->trusted_until_ns = now + ms(DSC_TRUST_UDP_MS);
	publish(d, p, now);
}

void dsc_on_rx(struct dsc *d, const struct key32 *node_key, uint64_t now)
{
	struct dsc_peer *p = dsc_peer_find(d, node_key);

	if (p)
		rx(d, p, now);
}

void dsc_on_counters(struct dsc *d, const struct key32 *node_key, uint64_t tx, uint64_t rx_direct,
		     uint64_t now)
{
	struct dsc_peer *p = dsc_peer_find(d, node_key);

	if (!p)
		return;
	if (p->counted) {
		if (tx > p->seen_tx)
			traffic(d, p, now);
		if (rx_direct > p->seen_rx_direct)
			rx(d, p, now);
	}
	/* The first values are a baseline, not traffic. */
	p->counted = true;
	p->seen_tx = tx;
	p->seen_rx_direct = rx_direct;
}

void dsc_recheck(struct dsc *d, const struct key32 *node_key, uint64_t now)
{
	struct dsc_peer *p = dsc_peer_find(d, node_key);
	struct dsc_ep *e;

	if (!p || !p->has_disco || !p->best.family || !(e = ep_find(p, &p->best)))
		return;
	if (e->last_ping_ns && now - e->last_ping_ns < ms(DSC_RECHECK_MS))
		return;
	send_ping(d, p, e, now);
}

void dsc_dataplane_restarted(struct dsc *d, uint64_t now)
{
	for (size_t i = 0; i < d->n_peers; i++) {
		struct dsc_peer *p = &d->peers[i];
		bool lost = p->best.family && p->best_sock;
		for (size_t k = 0; k < p->n_eps; k++)
			if (p->eps[k].sock) {
				/* Its socket is gone: reachable again only by
				 * punching anew. */
				p->eps[k].sock = 0;
				p->eps[k].last_pong_ns = 0;
			}
		if (!lost)
			continue;
		event(d, p, "the dataplane restarted: the path from probe socket %u is gone",
		      p->best_sock);
		memset(&p->best, 0, sizeof(p->best));
		p->best_sock = 0;
		p->trusted_until_ns = 0;
		publish(d, p, now);
		/* Punch again soon, without the usual wait: once the packet
		 * channel to the new dataplane has reconnected (what is sent
		 * before that is dropped). */
		uint64_t wait = ms(DSC_BDAY_AFTER_MS) - ms(DSC_DP_RESTART_GRACE_MS);
		p->disc_start_ns = now > wait ? now - wait : 1;
		p->bday.next_spray_ns = 0;
	}
}

void dsc_adopt_path(struct dsc *d, const struct key32 *node_key, const struct ipport *best,
		    uint32_t sock, uint64_t trusted_until_ns, uint64_t latency_ns, uint64_t now)
{
	struct dsc_peer *p = dsc_peer_find(d, node_key);
	struct dsc_ep *e;

	if (!p || !best || !best->family)
		return;
	if (!p->has_disco)
		return withdraw_path(d, p, now);
	p->best = *best;
	p->best_sock = sock <= DSC_BDAY_PORTS ? (uint16_t)sock : 0; /* from the cache: checked */
	p->best_latency_ns = latency_ns;
	p->best_pong_ns = now;
	p->trusted_until_ns = trusted_until_ns;
	p->pub_best = *best;
	p->pub_best_sock = p->best_sock;
	p->pub_trusted_until_ns = trusted_until_ns;
	/* The path carried traffic: keep it active until told otherwise. */
	p->last_traffic_ns = now;
	e = ep_add(p, best, false);
	if (e) {
		e->latency_ns = latency_ns;
		e->sock = p->best_sock;
	}
}

static int addr_points(const struct ipport *a)
{
	int pts = is_loopback(a) ? 50 : is_link_local(a) ? 30 : is_private(a) ? 20 : 0;
	return pts + (a->family == AF_INET6 ? 10 : 0);
}

/* Tailscale's betterAddr (wgengine/magicsock/endpoint.go), integer for
 * integer: points are how much faster (in percent) one address is than the
 * slower one, plus points for the kind of address; a needs more points than
 * b, and more than 1 when b has none (1 % hysteresis). */
bool dsc_better_addr(const struct ipport *a, uint64_t a_ns, const struct ipport *b, uint64_t b_ns)
{
	int ap = 0, bp = 0;

	if (ipport_equal(a, b))
		return false;
	if (!b->family)
		return true;
	if (!a->family)
		return false;
	if (a_ns > b_ns && a_ns > 0)
		bp = (int)(100 - (b_ns * 100) / a_ns);
	else if (b_ns > 0)
		ap = (int)(100 - (a_ns * 100) / b_ns);
	ap += addr_points(a);
	bp += addr_points(b);
	if (ap <= 1 && bp == 0)
		return false;
	return ap > bp;
}

/* A pong answered a ping of ours to `to`, sent from our socket `sock`:
 * the endpoint is confirmed, and becomes the path if it is the best. */
static void confirm(struct dsc *d, struct dsc_peer *p, const struct ipport *to, uint16_t sock,
		    uint64_t lat, uint64_t now)
{
	struct dsc_ep *e = ep_add_heard(p, to, false);

	if (e) {
		e->last_pong_ns = now;
		e->heard_ns = now;
		e->latency_ns = lat;
		e->sock = sock;
	}
	if (ipport_equal(to, &p->best) ||
	    dsc_better_addr(to, lat, &p->best,
			    trusted(p, now) ? p->best_latency_ns : UINT64_MAX / 4)) {
		/* The same address through another of our sockets (several
		 * probe sockets' mappings met): the trusted one stays. */
		if (!ipport_equal(to, &p->best) || p->best_sock == sock || !trusted(p, now))
			p->best_sock = sock;
		else if (e)
			e->sock = p->best_sock;
		p->best = *to;
		p->best_latency_ns = lat;
		p->best_pong_ns = now;
		p->trusted_until_ns = now + ms(DSC_TRUST_UDP_MS);
		publish(d, p, now);
	}
}

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

enum bday_match {
	BDAY_NO,   /* not a pong of this round */
	BDAY_HIT,  /* the round's first: *to, *to_sock, *lat say which path it proves */
	BDAY_LATE, /* of a round a pong already decided (more hits, or a replay) */
};

/* Whether a pong answers this round's spray or probes, coming back the way
 * its ping went. A round's first such pong decides it; later ones (several
 * mappings met, or a replay) change nothing. */
static enum bday_match bday_pong(struct dsc_peer *p, const uint8_t *txid, const struct ipport *from,
				 uint16_t sock, uint64_t now, struct ipport *to, uint16_t *to_sock,
				 uint64_t *lat)
{
	struct dsc_bday *b = &p->bday;
	uint16_t x = txid_num(txid, 8), y = txid_num(txid, 10);

	if (b->spray_ns && memcmp(txid, b->spray_id, 8) == 0 &&
	    now - b->spray_ns < ms(DSC_PING_TIMEOUT_MS)) {
		if (b->spray_decided)
			return BDAY_LATE;
		/* x: the probe socket it left from; y: the endpoint it went to. */
		if (!from || x < 1 || x > DSC_BDAY_PORTS || sock != x || y >= p->n_eps ||
		    !ipport_equal(from, &p->eps[y].addr))
			return BDAY_NO;
		*lat = now - b->spray_ns;
		b->spray_decided = true;
	} else if (b->probe_start_ns && memcmp(txid, b->probe_id, 8) == 0 &&
		   now - b->probe_start_ns < ms(DSC_BDAY_PROBE_WINDOW_MS)) {
		if (b->probe_decided)
			return BDAY_LATE;
		/* x: the port probed; y: ms after the start it was sent. */
		uint64_t sent = b->probe_start_ns + ms(y);
		if (!from || sock != 0 || !ip_equal(from, &b->probe_ip) || from->port != x ||
		    sent > now)
			return BDAY_NO;
		*lat = now - sent;
		b->probe_decided = true;
		b->probing = false;
		p->bday_hits++;
	} else {
		return BDAY_NO;
	}
	*to = *from;
	*to_sock = sock;
	return BDAY_HIT;
}

static void on_pong(struct dsc *d, struct dsc_peer *p, const struct disco_msg *m,
		    const struct ipport *from, uint16_t sock, uint16_t region, uint64_t now,
		    int *rc)
{
	struct dsc_ping *s = 0;
	struct ipport to;
	uint16_t to_sock;
	uint64_t lat;
	enum bday_match bm = BDAY_NO;

	for (size_t i = 0; i < DSC_MAX_PINGS && !s; i++)
		if (p->pings[i].used &&
		    memcmp(p->pings[i].txid, m->u.pong.txid, DISCO_TXID_LEN) == 0)
			s = &p->pings[i];
	if (!s)
		bm = bday_pong(p, m->u.pong.txid, from, sock, now, &to, &to_sock, &lat);
	if (bm == BDAY_LATE) {
		d->stats.rx_bday_late_pong++;
		*rc = DSC_DROP_BDAY_LATE;
		return;
	}
	if (bm == BDAY_HIT) {
		p->pongs_rx++;
		event(d, p,
		      "birthday punching: a pong through a new mapping after %llu ms (round %u)",
		      (unsigned long long)(lat / NS_PER_MS),
		      to_sock ? p->bday.rounds : p->bday.probe_rounds);
		confirm(d, p, &to, to_sock, lat, now);
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
		d->stats.rx_unsolicited_pong++;
		*rc = DSC_DROP_UNSOLICITED;
		return;
	}
	/* The pong must come back the way its ping went: from the address
	 * pinged to the socket it left from, or over DERP for a ping sent
	 * over DERP. */
	if (from ? !ipport_equal(from, &s->to) || sock != s->sock : s->to.family != 0) {
		d->stats.rx_pong_wrong_addr++;
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
	confirm(d, p, &s->to, s->sock, lat, now);
}

static void on_ping(struct dsc *d, struct dsc_peer *p, const struct disco_msg *m,
		    const struct ipport *from, uint16_t sock, uint16_t region, uint64_t now,
		    int *rc)
{
	struct disco_msg pong = {.type = DISCO_TYPE_PONG};

	if (m->u.ping.has_node_key && memcmp(m->u.ping.node_key.b, p->node_key.b, KEY_LEN) != 0) {
		d->stats.rx_wrong_node_key++;
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
	send_msg(d, p, sock, from, &pong);
	if (from) {
		/* A ping from an address of the peer: a candidate (the
		 * peer's side of a punched hole); pinged in turn, within the
		 * ping interval, or out of turn if our last ping to it was
		 * lost (the hole it proves is newer). */
		struct dsc_ep *e = ep_add_heard(p, from, true);
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
		if (e && (first || !in_rx(p, &e->addr)))
			publish(d, p, now);
		if (e && ping_due(e, now))
			send_ping(d, p, e, now);
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
		if (!(e = ep_add(p, &a, true)))
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
		send_cmm(d, p, now);
	ping_all(d, p, now);
}

/* ---- Birthday punching (dsc.h, "Hard NATs") ---- */

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
static void bday_spray(struct dsc *d, struct dsc_peer *p, uint64_t now)
{
	struct dsc_bday *b = &p->bday;
	struct disco_msg m = {.type = DISCO_TYPE_PING};
	struct disco_msg ask = {.type = DISCO_TYPE_MSOCK_PROBE_ME};
	uint16_t targets[DSC_BDAY_TARGETS];
	size_t nt = 0;

	for (size_t i = 0; i < p->n_eps && nt < DSC_BDAY_TARGETS; i++)
		if (public_v4(&p->eps[i].addr))
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
			send_msg(d, p, k, &p->eps[targets[t]].addr, &m);
		}
	p->bday_sprays++;
	p->pings_sent += (uint64_t)DSC_BDAY_PORTS * nt;
	ask.u.probe_me.ports = DSC_BDAY_PORTS;
	ask.u.probe_me.addr = d->global_v4;
	b->last_ask_ns = now;
	send_msg(d, p, 0, 0, &ask);
	event(d, p, "hard NAT: pinged %zu endpoint(s) from %d ports (round %u), asked for probes",
	      nt, DSC_BDAY_PORTS, b->rounds);
}

/* Sends the next probes of a session: pings to random ports of the
 * peer's address, from our main socket. */
static void bday_probe(struct dsc *d, struct dsc_peer *p, uint64_t now)
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
		send_msg(d, p, 0, &to, &m);
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
static void on_probe_me(struct dsc *d, struct dsc_peer *p, const struct disco_msg *m, uint64_t now,
			int *rc)
{
	struct dsc_bday *b = &p->bday;
	const struct ipport *a = &m->u.probe_me.addr;

	d->stats.probe_me_rx++;
	if (d->hard_nat) {
		d->stats.probe_me_ignored_hard++;
		return;
	}
	/* Even with a trusted path: the peer asks because it has none (its
	 * dataplane restarted, say, and our trust has not run out yet). */
	if (!public_v4(a) || !peer_has_ip(p, a) ||
	    (b->last_probe_me_ns && now - b->last_probe_me_ns < ms(DSC_BDAY_PROBE_INTERVAL_MS))) {
		d->stats.probe_me_dropped++;
		*rc = DSC_DROP_PROBE_ME;
		return;
	}
	b->last_probe_me_ns = now;
	if (trusted(p, now)) {
		/* The peer has no path, so ours to it is one-sided at best:
		 * no longer trusted (WireGuard goes over DERP too), and the
		 * probes' answer replaces it (betterAddr's hysteresis is only
		 * for a trusted path). */
		event(d, p, "asked for probes: our direct path to it is no longer trusted");
		p->trusted_until_ns = now;
		publish(d, p, now);
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
	event(d, p,
	      "probing %d random ports of %u.%u.%u.%u (round %u; the peer sent from %u ports)",
	      DSC_BDAY_PROBES, a->ip[0], a->ip[1], a->ip[2], a->ip[3], b->probe_rounds,
	      m->u.probe_me.ports);
	bday_probe(d, p, now);
}

/* Opens and dispatches a packet from peer p (found by its disco key). */
static int handle(struct dsc *d, const struct disco_packet *pkt, const struct ipport *from,
		  uint16_t sock, const struct key32 *derp_src, uint16_t region, uint64_t now)
{
	static uint8_t plain[DISCO_MAX_PLAINTEXT_LEN];
	struct dsc_peer *p = by_disco(d, &pkt->sender, derp_src);
	struct disco_msg m;
	int n, rc = 0;

	if (!p) {
		d->stats.rx_unknown_sender++;
		return DSC_DROP_UNKNOWN_SENDER;
	}
	if (derp_src && memcmp(derp_src->b, p->node_key.b, KEY_LEN) != 0) {
		d->stats.rx_unknown_sender++;
		return DSC_DROP_DERP_MISMATCH;
	}
	n = disco_open_shared(&p->shared, pkt, plain, sizeof(plain));
	if (n < 0) {
		d->stats.rx_bad_box++;
		return n;
	}
	rc = disco_msg_parse(plain, (size_t)n, &m);
	if (rc == DISCO_UNKNOWN_TYPE) {
		d->stats.rx_unknown_type++;
		return rc;
	}
	if (rc < 0 || disco_msg_check_keys(&m) < 0) {
		d->stats.rx_bad_msg++;
		return rc < 0 ? rc : DISCO_ERR_ZERO_KEY;
	}
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
		on_probe_me(d, p, &m, now, &rc);
		break;
	default:
		/* Peer relays: parsed, not acted on yet. */
		d->stats.rx_unknown_type++;
		rc = DISCO_UNKNOWN_TYPE;
		break;
	}
	return rc;
}

static int parse(struct dsc *d, const uint8_t *p, size_t len, struct disco_packet *pkt)
{
	int rc = disco_packet_parse(p, len, pkt);

	if (rc == DISCO_ERR_ZERO_KEY)
		d->stats.rx_zero_key++;
	else if (rc < 0)
		d->stats.rx_bad_packet++;
	return rc;
}

int dsc_on_udp(struct dsc *d, uint16_t sock, const struct ipport *from, const uint8_t *p,
	       size_t len, uint64_t now)
{
	struct disco_packet pkt;
	int rc = parse(d, p, len, &pkt);

	return rc < 0 ? rc : handle(d, &pkt, from, sock, 0, 0, now);
}

int dsc_on_derp(struct dsc *d, const struct key32 *src, uint16_t region, const uint8_t *p,
		size_t len, uint64_t now)
{
	struct disco_packet pkt;
	int rc = parse(d, p, len, &pkt);

	return rc < 0 ? rc : handle(d, &pkt, 0, 0, src, region, now);
}

/* No trusted path: discovery, and from behind a hard NAT, after
 * DSC_BDAY_AFTER_MS of it, a spray now and then. */
static void untrusted_tick(struct dsc *d, struct dsc_peer *p, uint64_t now)
{
	start_discovery(d, p, now);
	discover(d, p, now);
	if (d->hard_nat && d->global_v4.family && now - p->disc_start_ns >= ms(DSC_BDAY_AFTER_MS) &&
	    now >= p->bday.next_spray_ns)
		bday_spray(d, p, now);
}

void dsc_tick(struct dsc *d, uint64_t now)
{
	for (size_t i = 0; i < d->n_peers; i++) {
		struct dsc_peer *p = &d->peers[i];
		if (!p->has_disco) {
			if (p->best.family)
				withdraw_path(d, p, now);
			continue;
		}
		/* A best address silent too long: DERP only, rediscover. */
		if (p->best.family && now - p->best_pong_ns >= ms(DSC_BEST_STALE_MS)) {
			memset(&p->best, 0, sizeof(p->best));
			p->best_sock = 0;
			p->trusted_until_ns = 0;
			publish(d, p, now);
		}
		/* Probes the peer asked for go out whether or not we send. */
		if (p->bday.probing) {
			if (trusted(p, now))
				p->bday.probing = false;
			else
				bday_probe(d, p, now);
		}
		/* Our CallMeMaybe answered the peer's and our endpoint set has
		 * changed since (netcheck's first report came just after): the
		 * peer pings what we listed, and would learn our public
		 * address only from its next CallMeMaybe, 5 s away. Tell it
		 * now, as discover() does for a peer we are discovering. */
		if (!trusted(p, now) && p->last_cmm_ns &&
		    now - p->last_cmm_ns < ms(DSC_CMM_INTERVAL_MS) &&
		    p->cmm_eps_gen != d->my_eps_gen)
			send_cmm(d, p, now);
		if (!p->last_traffic_ns || now - p->last_traffic_ns >= ms(DSC_SESSION_ACTIVE_MS)) {
			p->disc_start_ns = 0;
			p->bday.rounds = 0;
			continue; /* idle: silent (but for the answer above) */
		}
		if (!trusted(p, now)) {
			untrusted_tick(d, p, now);
			continue;
		}
		p->disc_start_ns = 0;
		p->bday.rounds = 0;
		p->bday.probe_rounds = 0;
		p->bday.next_spray_ns = 0;
		if (d->silent)
			continue; /* silent_disco: traffic keeps the path (dsc_on_rx) */
		if (now - p->last_heartbeat_ns >= ms(DSC_HEARTBEAT_MS)) {
			struct dsc_ep *e = ep_add(p, &p->best, false);
			p->last_heartbeat_ns = now;
			if (e)
				send_ping(d, p, e, now);
		}
		if (now - p->last_upgrade_ns >= ms(DSC_UPGRADE_MS) &&
		    p->best_latency_ns > ms(DSC_GOOD_ENOUGH_MS)) {
			p->last_upgrade_ns = now;
			ping_all(d, p, now);
		}
	}
}

uint64_t dsc_deadline(const struct dsc *d, uint64_t now)
{
	uint64_t next = now + ms(1000);

	/* Everything here is paced by seconds; a 250 ms granularity is plenty
	 * and keeps this O(1) per call. */
	for (size_t i = 0; i < d->n_peers; i++) {
		const struct dsc_peer *p = &d->peers[i];
		if ((p->last_traffic_ns && now - p->last_traffic_ns < ms(DSC_SESSION_ACTIVE_MS)) ||
		    p->bday.probing)
			return now + ms(250);
	}
	return next;
}

/* dsc_path: a peer's direct path: which address is better (Tailscale's
 * betterAddr), a pong that confirms one, and publishing it through io.path
 * with its history (GetEndpointChanges) and the addresses heard from.
 * Timers: none of its own; a confirmed path is trusted for
 * DSC_TRUST_UDP_MS (dsc_tick drops one silent for DSC_BEST_STALE_MS). */
#include "dsc_internal.h"

#include <string.h>
#include <sys/socket.h>

/* Where birthday punching can help: a public IPv4 address. */
bool dsc_public_v4(const struct ipport *a)
{
	return a->family == AF_INET && !ip_is_loopback(a) && !ip_is_link_local(a) &&
	       !ip_is_private(a);
}

/* Every address the peer was heard from (the dataplane takes WireGuard
 * from them, as magicsock maps every address a disco ping came from). */
static void pick_rx(struct dsc_peer *p)
{
	p->n_rx = 0;
	for (size_t i = 0; i < p->n_eps && p->n_rx < DSC_RX_ADDRS; i++)
		if (p->eps[i].heard_ns)
			p->rx[p->n_rx++] = p->eps[i].addr;
}

bool dsc_in_rx(const struct dsc_peer *p, const struct ipport *a)
{
	for (size_t i = 0; i < p->n_rx; i++)
		if (ipport_equal(&p->rx[i], a))
			return true;
	return false;
}

/* Hands the path to io.path; a change of address (or the first publish)
 * goes into the peer's history (GetEndpointChanges). */
void dsc_publish(struct dsc *d, struct dsc_peer *p, uint64_t now)
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
void dsc_withdraw_path(struct dsc *d, struct dsc_peer *p, uint64_t now)
{
	dsc_event(d, p, "no disco key: WireGuard only, disco's path withdrawn");
	memset(&p->best, 0, sizeof(p->best));
	p->best_sock = 0;
	p->trusted_until_ns = 0;
	dsc_publish(d, p, now);
}

/* betterAddr's points for the kind of address, judged as netip's IsLoopback,
 * IsLinkLocalUnicast and IsPrivate judge it (lib/addr's ip_is_*). */
static int addr_points(const struct ipport *a)
{
	int pts = ip_is_loopback(a) ? 50 : ip_is_link_local(a) ? 30 : ip_is_private(a) ? 20 : 0;
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
void dsc_confirm(struct dsc *d, struct dsc_peer *p, const struct ipport *to, uint16_t sock,
		 uint64_t lat, uint64_t now)
{
	struct dsc_ep *e = dsc_ep_add_heard(p, to, false);

	if (e) {
		e->last_pong_ns = now;
		e->heard_ns = now;
		e->latency_ns = lat;
		e->sock = sock;
	}
	if (ipport_equal(to, &p->best) ||
	    dsc_better_addr(to, lat, &p->best,
			    dsc_trusted(p, now) ? p->best_latency_ns : UINT64_MAX / 4)) {
		/* The same address through another of our sockets (several
		 * probe sockets' mappings met): the trusted one stays. */
		if (!ipport_equal(to, &p->best) || p->best_sock == sock || !dsc_trusted(p, now))
			p->best_sock = sock;
		else if (e)
			e->sock = p->best_sock;
		p->best = *to;
		p->best_latency_ns = lat;
		p->best_pong_ns = now;
		p->trusted_until_ns = now + ms(DSC_TRUST_UDP_MS);
		dsc_publish(d, p, now);
	}
}

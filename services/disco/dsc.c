/* dsc: the disco service's discovery engine (dsc.h), after Tailscale's
 * wgengine/magicsock endpoint.go: its state, what the dataplane tells it
 * (traffic, counters, a restart, a path from the broker's cache), and the
 * timers: dsc_tick fires each one dsc.h lists, dsc_deadline says when. */
#include "dsc_internal.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

void dsc_event(struct dsc *d, const struct dsc_peer *p, const char *fmt, ...)
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
	case DSC_DROP_PROBE_ME_HARD:
		return "probe-me while behind a hard NAT ourselves";
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

static void traffic(struct dsc *d, struct dsc_peer *p, uint64_t now)
{
	p->last_traffic_ns = now;
	if (!dsc_trusted(p, now)) {
		dsc_start_discovery(d, p, now);
		dsc_discover(d, p, now);
	}
}

void dsc_on_traffic(struct dsc *d, const struct key32 *node_key, uint64_t now)
{
	struct dsc_peer *p = dsc_peer_find(d, node_key);

	if (p)
		traffic(d, p, now);
}

static void rx(struct dsc *d, struct dsc_peer *p, uint64_t now)
{
	if (!d->silent || !p->best.family)
		return;
	p->best_pong_ns = now; /* heard on it: not stale */
	p->trusted_until_ns = now + ms(DSC_TRUST_UDP_MS);
	dsc_publish(d, p, now);
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

	if (!p || !p->has_disco || !p->best.family || !(e = dsc_ep_find(p, &p->best)))
		return;
	if (e->last_ping_ns && now - e->last_ping_ns < ms(DSC_RECHECK_MS))
		return;
	dsc_send_ping(d, p, e, now);
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
		dsc_event(d, p, "the dataplane restarted: the path from probe socket %u is gone",
			  p->best_sock);
		memset(&p->best, 0, sizeof(p->best));
		p->best_sock = 0;
		p->trusted_until_ns = 0;
		dsc_publish(d, p, now);
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
		return dsc_withdraw_path(d, p, now);
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
	e = dsc_ep_add(p, best, false);
	if (e) {
		e->latency_ns = latency_ns;
		e->sock = p->best_sock;
	}
}

/* No trusted path: discovery, and from behind a hard NAT, after
 * DSC_BDAY_AFTER_MS of it, a spray now and then. */
static void untrusted_tick(struct dsc *d, struct dsc_peer *p, uint64_t now)
{
	dsc_start_discovery(d, p, now);
	dsc_discover(d, p, now);
	if (d->hard_nat && d->global_v4.family && now - p->disc_start_ns >= ms(DSC_BDAY_AFTER_MS) &&
	    now >= p->bday.next_spray_ns)
		dsc_bday_spray(d, p, now);
}

void dsc_tick(struct dsc *d, uint64_t now)
{
	for (size_t i = 0; i < d->n_peers; i++) {
		struct dsc_peer *p = &d->peers[i];
		if (!p->has_disco) {
			if (p->best.family)
				dsc_withdraw_path(d, p, now);
			continue;
		}
		/* A best address silent too long: DERP only, rediscover. */
		if (p->best.family && now - p->best_pong_ns >= ms(DSC_BEST_STALE_MS)) {
			memset(&p->best, 0, sizeof(p->best));
			p->best_sock = 0;
			p->trusted_until_ns = 0;
			dsc_publish(d, p, now);
		}
		/* Probes the peer asked for go out whether or not we send. */
		if (p->bday.probing) {
			if (dsc_trusted(p, now))
				p->bday.probing = false;
			else
				dsc_bday_probe(d, p, now);
		}
		/* Our CallMeMaybe answered the peer's and our endpoint set has
		 * changed since (netcheck's first report came just after): the
		 * peer pings what we listed, and would learn our public
		 * address only from its next CallMeMaybe, 5 s away. Tell it
		 * now, as dsc_discover() does for a peer we are discovering. */
		if (!dsc_trusted(p, now) && p->last_cmm_ns &&
		    now - p->last_cmm_ns < ms(DSC_CMM_INTERVAL_MS) &&
		    p->cmm_eps_gen != d->my_eps_gen)
			dsc_send_cmm(d, p, now);
		if (!p->last_traffic_ns || now - p->last_traffic_ns >= ms(DSC_SESSION_ACTIVE_MS)) {
			p->disc_start_ns = 0;
			p->bday.rounds = 0;
			continue; /* idle: silent (but for the answer above) */
		}
		if (!dsc_trusted(p, now)) {
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
			struct dsc_ep *e = dsc_ep_add(p, &p->best, false);
			p->last_heartbeat_ns = now;
			if (e)
				dsc_send_ping(d, p, e, now);
		}
		if (now - p->last_upgrade_ns >= ms(DSC_UPGRADE_MS) &&
		    p->best_latency_ns > ms(DSC_GOOD_ENOUGH_MS)) {
			p->last_upgrade_ns = now;
			dsc_ping_all(d, p, now);
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

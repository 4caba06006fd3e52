/* derp_regions: the derp service's DERP connections (magicsock's derp.go):
 * one per region in use. The home region (config home_derp, else
 * netcheck's preferred region, else the lowest RegionID that may be home)
 * is always connected and told NotePreferred; other regions are connected
 * when a packet must go there and closed after DERP_SVC_IDLE_MS unused. A
 * peer's packets go to the region they last came from (as Tailscale
 * learns it, so a peer whose home moved stays reachable), else its home
 * from the netmap, else our home. Failures back off exponentially with
 * jitter and rotate through the region's nodes. */
#include "derp_svc.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "derp/derp_frame.h"
#include "state.pb-c.h"

static const struct derp_region *region_find(const struct derp_svc *s, uint32_t id)
{
	for (size_t i = 0; i < s->n_regions; i++)
		if (s->regions[i].id == id)
			return &s->regions[i];
	return 0;
}

/* ---- peers ---- */

static struct peer_region **peer_slot(struct derp_svc *s, const uint8_t key[KEY_LEN])
{
	struct peer_region **pp = &s->peers[(key[0] | key[1] << 8) & (DERP_SVC_PEER_BUCKETS - 1)];

	while (*pp && memcmp((*pp)->key, key, KEY_LEN) != 0)
		pp = &(*pp)->next;
	return pp;
}

static struct peer_region *peer_get(struct derp_svc *s, const uint8_t key[KEY_LEN], bool create)
{
	struct peer_region **pp = peer_slot(s, key);

	if (!*pp && create) {
		*pp = calloc(1, sizeof(**pp));
		if (*pp)
			memcpy((*pp)->key, key, KEY_LEN);
	}
	return *pp;
}

void dsvc_peer_set_home(struct derp_svc *s, const uint8_t key[KEY_LEN], uint32_t home)
{
	struct peer_region *p = peer_get(s, key, true);

	if (p)
		p->home = home;
}

void dsvc_peer_forget(struct derp_svc *s, const uint8_t key[KEY_LEN])
{
	struct peer_region **pp = peer_slot(s, key), *p = *pp;

	if (p) {
		*pp = p->next;
		free(p);
	}
}

/* ---- publishing ---- */

static void publish_region(struct derp_svc *s, struct rconn *c, bool gone)
{
	Msock__DERPRegionState st = MSOCK__DERPREGION_STATE__INIT;
	const struct derp_region *r = region_find(s, c->region);
	const struct key32 *sk = c->dc ? derp_client_server_key(c->dc) : 0;
	char key[16];

	snprintf(key, sizeof(key), "%u", c->region);
	if (gone) {
		bus_state_del(s->bus, BUS_T_DERPRegionState, key);
		return;
	}
	st.region_id = c->region;
	st.state = c->st == RC_UP ? "up" : c->st == RC_BACKOFF ? "backoff" : "connecting";
	st.home = c->region == s->home;
	if (sk) {
		st.server_key.data = (uint8_t *)sk->b;
		st.server_key.len = KEY_LEN;
	}
	st.node = r && c->node < r->n_nodes ? (char *)r->nodes[c->node].name : "";
	st.last_error = c->last_error;
	st.packets_sent = c->sent;
	st.packets_received = c->received;
	bus_state_set(s->bus, BUS_T_DERPRegionState, key, &st.base);
	c->dirty = false;
}

static void publish_home(struct derp_svc *s)
{
	Msock__HomeDERP h = MSOCK__HOME_DERP__INIT;

	h.region_id = s->home;
	bus_state_set(s->bus, BUS_T_HomeDERP, "self", &h.base);
}

/* ---- connections ---- */

static void on_up(void *arg, const struct derp_server_info *si)
{
	struct rconn *c = arg;

	(void)si;
	c->st = RC_UP;
	c->backoff_ms = 0;
	c->last_error[0] = 0;
	c->dirty = true;
	log_info("region %u: connected", c->region);
}

static void on_packet(void *arg, const uint8_t src[KEY_LEN], const uint8_t *p, size_t n)
{
	struct rconn *c = arg;
	struct derp_svc *s = c->svc;
	struct pktchan_hdr h = {.kind = PKTCHAN_DERP_RECV, .region = (uint16_t)c->region};
	struct peer_region *pr = peer_get(s, src, true);

	c->received++;
	c->last_used_ns = s->now_ns;
	if (pr)
		pr->learned = c->region;
	memcpy(h.key, src, KEY_LEN);
	/* Disco packets included: the dataplane routes them. */
	if (pktchan_send(s->pc, &h, p, n) < 0)
		s->rx_to_dataplane_dropped++;
}

static void on_closed(void *arg, const char *why)
{
	struct rconn *c = arg;
	struct derp_svc *s = c->svc;
	const struct derp_region *r = region_find(s, c->region);
	uint64_t jitter;

	snprintf(c->last_error, sizeof(c->last_error), "%s", why);
	log_rl(&s->rl, s->now_ns, LOG_LEVEL_WARN, "region %u: %s", c->region, why);
	c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : DERP_SVC_BACKOFF_MIN_MS;
	if (c->backoff_ms > DERP_SVC_BACKOFF_MAX_MS)
		c->backoff_ms = DERP_SVC_BACKOFF_MAX_MS;
	jitter = randombytes_uniform((uint32_t)(c->backoff_ms / 2 + 1));
	c->next_try_ns = s->now_ns + (c->backoff_ms / 2 + jitter) * NS_PER_MS;
	c->st = RC_BACKOFF;
	if (r && r->n_nodes)
		c->node = (c->node + 1) % r->n_nodes; /* try the next node */
	c->dirty = true;
}

static const struct derp_client_cb client_cb = {
	.on_up = on_up, .on_packet = on_packet, .on_closed = on_closed};

/* The node to dial: from the connection's current one on (failures rotate
 * it), the first the prefs allow (only_tcp_443: port 443 only). */
static const struct derp_node *pick_node(const struct derp_svc *s, const struct derp_region *r,
					 struct rconn *c)
{
	for (size_t i = 0; r && i < r->n_nodes; i++) {
		size_t k = (c->node + i) % r->n_nodes;
		if (!s->only_tcp_443 || r->nodes[k].addr.port == 443) {
			c->node = k;
			return &r->nodes[k];
		}
	}
	return 0;
}

static void dial(struct derp_svc *s, struct rconn *c)
{
	const struct derp_region *r = region_find(s, c->region);
	struct derp_client_cfg cfg = {.tls = true, .ssl_ctx = s->tls, .priv = s->priv};
	const struct derp_node *n = pick_node(s, r, c);

	derp_client_free(c->dc);
	c->dc = 0;
	if (!n) {
		snprintf(c->last_error, sizeof(c->last_error), "no usable node in region %u%s",
			 c->region, s->only_tcp_443 ? " on TCP port 443 (only_tcp_443)" : "");
		c->st = RC_BACKOFF;
		c->next_try_ns = s->now_ns + DERP_SVC_BACKOFF_MAX_MS * NS_PER_MS;
		c->dirty = true;
		return;
	}
	cfg.addr = n->addr;
	cfg.insecure = n->insecure;
	cfg.preferred = c->region == s->home;
	snprintf(cfg.host, sizeof(cfg.host), "%s", n->host);
	cfg.cert = n->cert;
	c->dc = derp_client_new(&cfg, &client_cb, c, s->now_ns);
	c->st = c->dc ? RC_CONNECTING : RC_BACKOFF;
	if (!c->dc)
		on_closed(c, strerror(errno));
	c->dirty = true;
}

/* A pref that decides which nodes may be used changed: redial them all. */
void dsvc_prefs_changed(struct derp_svc *s)
{
	for (size_t i = 0; i < s->n_conns; i++) {
		s->conns[i]->backoff_ms = 0;
		dial(s, s->conns[i]);
	}
}

static struct rconn *conn_find(struct derp_svc *s, uint32_t region)
{
	for (size_t i = 0; i < s->n_conns; i++)
		if (s->conns[i]->region == region)
			return s->conns[i];
	return 0;
}

static struct rconn *conn_get(struct derp_svc *s, uint32_t region)
{
	struct rconn *c = conn_find(s, region);

	if (c || s->network_down || !region_find(s, region) || s->n_conns == DERP_SVC_MAX_CONNS)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c)
		return 0;
	s->conns[s->n_conns++] = c;
	c->region = region;
	c->svc = s;
	c->last_used_ns = s->now_ns;
	dial(s, c);
	return c;
}

static void conn_close(struct derp_svc *s, size_t i)
{
	struct rconn *c = s->conns[i];

	publish_region(s, c, true);
	derp_client_free(c->dc);
	free(c);
	s->conns[i] = s->conns[--s->n_conns];
}

void dsvc_set_network_up(struct derp_svc *s, bool up)
{
	struct rconn *c;

	if (up == !s->network_down)
		return;
	s->network_down = !up;
	if (!up) {
		log_info("network down: closing %zu DERP connection%s until a link is back",
			 s->n_conns, s->n_conns == 1 ? "" : "s");
		while (s->n_conns)
			conn_close(s, s->n_conns - 1);
		return;
	}
	log_info("network up: dialling home region %u", s->home);
	if (s->home && (c = conn_get(s, s->home)))
		c->dirty = true;
}

void dsvc_choose_home(struct derp_svc *s)
{
	uint32_t home = 0, old = s->home;
	struct rconn *c;

	if (s->force_home && region_find(s, s->force_home))
		home = s->force_home;
	else if (s->picked_home && region_find(s, s->picked_home))
		home = s->picked_home;
	else if (s->cfg_home && region_find(s, s->cfg_home))
		home = s->cfg_home;
	else if (s->netcheck_home && region_find(s, s->netcheck_home))
		home = s->netcheck_home;
	else
		for (size_t i = 0; i < s->n_regions; i++)
			if (!s->regions[i].no_home && !s->regions[i].avoid &&
			    (!home || s->regions[i].id < home))
				home = s->regions[i].id;
	if (home == old)
		return;
	s->home = home;
	log_info("home DERP region: %u (was %u)", home, old);
	if ((c = conn_find(s, old)) && c->st == RC_UP)
		derp_client_note_preferred(c->dc, false);
	if (home && (c = conn_get(s, home))) {
		if (c->st == RC_UP)
			derp_client_note_preferred(c->dc, true);
		c->dirty = true;
	}
	publish_home(s);
}

/* The DERP map changed: close connections to regions that left or whose
 * node we use changed (they redial), then choose home again. */
void dsvc_regions_changed(struct derp_svc *s)
{
	for (size_t i = s->n_conns; i-- > 0;) {
		struct rconn *c = s->conns[i];
		if (!region_find(s, c->region))
			conn_close(s, i);
		else if (c->st != RC_UP)
			c->next_try_ns = s->now_ns;
	}
	dsvc_choose_home(s);
}

void dsvc_on_dataplane_packet(struct derp_svc *s, const struct pktchan_hdr *h, const uint8_t *p,
			      size_t n)
{
	struct peer_region *pr = peer_get(s, h->key, false);
	uint32_t region = h->region;
	struct rconn *c;

	if (h->kind != PKTCHAN_DERP_SEND)
		return;
	if (!region && pr)
		region = pr->learned ? pr->learned : pr->home;
	if (!region || !region_find(s, region))
		region = s->home;
	c = region ? conn_get(s, region) : 0;
	if (!c) {
		s->tx_no_route++;
		return;
	}
	c->last_used_ns = s->now_ns;
	if (c->st != RC_UP || derp_client_send(c->dc, h->key, p, n, s->now_ns) < 0) {
		s->tx_not_connected++;
		return;
	}
	c->sent++;
	/* magicsock's logDerpVerbose: one line per packet, at debug only
	 * (msockctl debug log-level derp debug). */
	log_debug("sent %zu bytes to %02x%02x... over region %u", n, h->key[0], h->key[1],
		  c->region);
	derp_client_on_io(c->dc, s->now_ns);
}

void dsvc_tick(struct derp_svc *s)
{
	bool stats = s->now_ns >= s->next_stats_ns;

	for (size_t i = s->n_conns; i-- > 0;) {
		struct rconn *c = s->conns[i];
		if (c->region != s->home &&
		    s->now_ns - c->last_used_ns >= DERP_SVC_IDLE_MS * NS_PER_MS) {
			log_info("region %u: idle for %d s, closing", c->region,
				 DERP_SVC_IDLE_MS / 1000);
			conn_close(s, i);
			continue;
		}
		if (c->dc)
			derp_client_tick(c->dc, s->now_ns);
		if (c->st == RC_BACKOFF && s->now_ns >= c->next_try_ns)
			dial(s, c);
		if (c->dirty || stats)
			publish_region(s, c, false);
	}
	if (stats)
		s->next_stats_ns = s->now_ns + DERP_SVC_STATS_MS * NS_PER_MS;
	dsvc_health(s);
}

/* Warnings depend on the network (Tailscale's DependsOn
 * NetworkStatusWarnable): while it is down the dataplane's network-status
 * says it all. */
void dsvc_health(struct derp_svc *s)
{
	const struct derp_region *r = region_find(s, s->home);
	struct rconn *c = s->home ? conn_find(s, s->home) : 0;
	bool down = s->home && !s->network_down && (!c || c->st != RC_UP);

	if (!s->health.sink.set)
		return; /* not on the bus (tests of the core) */
	health_set(&s->health, HEALTH_NO_DERP_HOME, !s->home && !s->network_down,
		   s->n_regions ? "msock has no home relay server: no region of the DERP map "
				  "may be home (all avoided, or no usable node)"
				: "msock has no home relay server: the DERP map is empty");
	if (!down)
		s->home_down_since_ns = 0;
	else if (!s->home_down_since_ns)
		s->home_down_since_ns = s->now_ns;
	if (down && s->now_ns - s->home_down_since_ns < DERP_SVC_HEALTH_DOWN_MS * NS_PER_MS)
		return; /* not yet: a connection takes a moment */
	health_set(&s->health, HEALTH_NO_DERP_CONNECTION, down,
		   "msock could not connect to the '%s' relay server (region %u): %s",
		   r && r->code[0] ? r->code : "?", s->home,
		   c && c->last_error[0] ? c->last_error : "not connected");
}

/* The region after s->home, by id, wrapping, that may be home. */
static uint32_t next_home(const struct derp_svc *s)
{
	uint32_t best = 0, lowest = 0;

	for (size_t i = 0; i < s->n_regions; i++) {
		const struct derp_region *r = &s->regions[i];
		if (r->no_home || r->avoid || !r->n_nodes || r->id == s->home)
			continue;
		if (!lowest || r->id < lowest)
			lowest = r->id;
		if (r->id > s->home && (!best || r->id < best))
			best = r->id;
	}
	return best ? best : lowest;
}

int dsvc_debug(struct derp_svc *s, const char *action, uint32_t region)
{
	uint32_t to;

	if (strcmp(action, "break") == 0) {
		log_info("debug break-derp: closing %zu DERP connection%s; they reconnect",
			 s->n_conns, s->n_conns == 1 ? "" : "s");
		for (size_t i = 0; i < s->n_conns; i++) {
			struct rconn *c = s->conns[i];
			derp_client_free(c->dc);
			c->dc = 0;
			c->st = RC_BACKOFF;
			c->backoff_ms = 0;
			c->next_try_ns = s->now_ns; /* redialled by the next tick */
			snprintf(c->last_error, sizeof(c->last_error),
				 "closed by msockctl debug break-derp");
			c->dirty = true;
		}
		return 0;
	}
	if (strcmp(action, "pick-new") == 0) {
		to = next_home(s);
		if (!to) {
			log_warn("debug pick-new-derp: no region but %u may be home; ignored",
				 s->home);
			return -EINVAL;
		}
		log_info("debug pick-new-derp: home %u -> %u, as if %u were lost", s->home, to,
			 s->home);
		s->picked_home = to;
		dsvc_choose_home(s);
		return 0;
	}
	if (strcmp(action, "force-prefer") == 0) {
		if (region && !region_find(s, region)) {
			log_warn("debug force-prefer-derp %u: no such region in the DERP map; "
				 "ignored",
				 region);
			return -EINVAL;
		}
		log_info("debug force-prefer-derp %u%s", region,
			 region ? "" : ": cleared, home chosen as before");
		s->force_home = region;
		s->picked_home = 0;
		dsvc_choose_home(s);
		return 0;
	}
	log_warn("debug: unknown DERP action \"%.32s\"; ignored", action);
	return -EINVAL;
}

uint64_t dsvc_next_deadline(const struct derp_svc *s)
{
	uint64_t next = s->next_stats_ns;

	for (size_t i = 0; i < s->n_conns; i++) {
		const struct rconn *c = s->conns[i];
		uint64_t d = c->st == RC_BACKOFF ? c->next_try_ns
			     : c->dc		 ? derp_client_deadline(c->dc)
						 : UINT64_MAX;
		if (d < next)
			next = d;
		if (c->region != s->home && c->last_used_ns + DERP_SVC_IDLE_MS * NS_PER_MS < next)
			next = c->last_used_ns + DERP_SVC_IDLE_MS * NS_PER_MS;
	}
	return next;
}

void dsvc_free(struct derp_svc *s)
{
	for (size_t i = 0; i < s->n_conns; i++) {
		derp_client_free(s->conns[i]->dc);
		free(s->conns[i]);
	}
	s->n_conns = 0;
	for (size_t b = 0; b < DERP_SVC_PEER_BUCKETS; b++)
		while (s->peers[b]) {
			struct peer_region *p = s->peers[b];
			s->peers[b] = p->next;
			free(p);
		}
}

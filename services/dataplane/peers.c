/* peers: the forwarding table. A peer has a loopback endpoint (127.x.y.z in
 * 127.64.0.0/10, stable: remembered through the state cache, else derived
 * from its node key), static endpoints from the netmap (trusted direct
 * paths that belong to it), and disco's current decision. Three maps find
 * it: by node key (DERP, the bus), by endpoint address (WireGuard's
 * packets), by direct address (packets from the internet). */
#include "dp.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { DP_LO_MASK = (1u << DP_LO_BITS) - 1 };

void dp_addrkey(const struct ipport *a, struct dp_addrkey *k)
{
	memset(k, 0, sizeof(*k));
	k->family = a->family;
	memcpy(k->ip, a->ip, a->family == AF_INET ? 4 : 16);
	k->port[0] = (uint8_t)(a->port >> 8);
	k->port[1] = (uint8_t)a->port;
}

int dp_init(struct dp *d)
{
	memset(d, 0, sizeof(*d));
	d->udp4 = d->udp6 = d->wg = -1;
	keymap_init(&d->by_key, 32);
	keymap_init(&d->by_lo, 4);
	keymap_init(&d->by_addr, sizeof(struct dp_addrkey));
	/* Untouched pages cost no memory: only what GRO fills becomes resident. */
	d->rxbuf = mmap(0, (size_t)DP_BATCH * DP_RX_SLOT_BYTES, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (d->rxbuf == MAP_FAILED) {
		d->rxbuf = 0;
		return -ENOMEM;
	}
	log_ratelimit_init(&d->rl, LOG_RATELIMIT_DEFAULT_MS);
	return dp_probe_init(d);
}

void dp_free(struct dp *d)
{
	dp_probe_free(d);
	keymap_free(&d->by_key);
	keymap_free(&d->by_lo);
	keymap_free(&d->by_addr);
	free(d->peers);
	if (d->rxbuf)
		munmap(d->rxbuf, (size_t)DP_BATCH * DP_RX_SLOT_BYTES);
	d->peers = 0;
	d->rxbuf = 0;
}

struct dp_peer *dp_peer_by_key(struct dp *d, const uint8_t key[32])
{
	uint32_t i = keymap_get(&d->by_key, key);
	return i == UINT32_MAX ? 0 : &d->peers[i];
}

struct dp_peer *dp_peer_by_lo(struct dp *d, uint32_t lo)
{
	uint32_t i = keymap_get(&d->by_lo, &lo);
	return i == UINT32_MAX ? 0 : &d->peers[i];
}

struct dp_peer *dp_peer_by_addr(struct dp *d, const struct ipport *a)
{
	struct dp_addrkey k;
	uint32_t i;

	dp_addrkey(a, &k);
	i = keymap_get(&d->by_addr, &k);
	return i == UINT32_MAX ? 0 : &d->peers[i];
}

static bool lo_ok(uint32_t lo)
{
	/* Inside the block, and not an address ending in .0 or .255. */
	return (lo & ~(uint32_t)DP_LO_MASK) == DP_LO_BASE && (lo & 0xff) != 0 &&
	       (lo & 0xff) != 0xff;
}

/* The node key's own address, or the next free one after it. */
static uint32_t pick_lo(struct dp *d, const uint8_t key[32])
{
	uint32_t h =
		(uint32_t)key[0] << 24 | (uint32_t)key[1] << 16 | (uint32_t)key[2] << 8 | key[3];

	for (uint32_t i = 0; i <= DP_LO_MASK; i++) {
		uint32_t lo = DP_LO_BASE | ((h + i) & DP_LO_MASK);
		if (lo_ok(lo) && keymap_get(&d->by_lo, &lo) == UINT32_MAX)
			return lo;
	}
	return 0;
}

struct dp_peer *dp_peer_add(struct dp *d, const uint8_t key[32], uint32_t lo)
{
	struct dp_peer *p = dp_peer_by_key(d, key);
	uint32_t idx;

	if (p)
		return p;
	for (idx = 0; idx < d->n_peers && d->peers[idx].used; idx++)
		;
	if (idx == d->n_peers) {
		if (d->n_peers == d->cap_peers) {
			uint32_t cap = d->cap_peers ? d->cap_peers * 2 : 64;
			struct dp_peer *n = realloc(d->peers, (size_t)cap * sizeof(*n));
			if (!n)
				return 0;
			d->peers = n;
			d->cap_peers = cap;
		}
		d->n_peers++;
	}
	p = &d->peers[idx];
	memset(p, 0, sizeof(*p));
	memcpy(p->key, key, 32);
	if (!lo_ok(lo) || keymap_get(&d->by_lo, &lo) != UINT32_MAX)
		lo = pick_lo(d, key);
	if (!lo || keymap_put(&d->by_key, key, idx) < 0 || keymap_put(&d->by_lo, &lo, idx) < 0) {
		keymap_del(&d->by_key, key);
		return 0;
	}
	p->used = true;
	p->lo = lo;
	p->publish_now = true;
	d->stats_dirty = true;
	d->n_used++;
	return p;
}

static void addr_unmap(struct dp *d, const struct dp_peer *p, const struct ipport *a)
{
	struct dp_addrkey k;

	if (!a->family)
		return;
	dp_addrkey(a, &k);
	if (keymap_get(&d->by_addr, &k) == dp_peer_index(d, p))
		keymap_del(&d->by_addr, &k);
}

static void addr_map(struct dp *d, const struct dp_peer *p, const struct ipport *a)
{
	struct dp_addrkey k;

	if (!a->family)
		return;
	dp_addrkey(a, &k);
	keymap_put(&d->by_addr, &k, dp_peer_index(d, p));
}

/* Every address of p maps to p: statics, disco's, the vouched-for ones. */
static void map_all(struct dp *d, const struct dp_peer *p)
{
	for (size_t i = 0; i < p->n_statics; i++)
		addr_map(d, p, &p->statics[i]);
	for (size_t i = 0; i < p->n_rx_addrs; i++)
		addr_map(d, p, &p->rx_addrs[i]);
	addr_map(d, p, &p->disco_direct);
}

void dp_peer_set_rx_addrs(struct dp *d, struct dp_peer *p, const struct ipport *a, size_t n)
{
	for (size_t i = 0; i < p->n_rx_addrs; i++)
		addr_unmap(d, p, &p->rx_addrs[i]);
	if (n > DP_MAX_RX_ADDRS)
		n = DP_MAX_RX_ADDRS;
	memcpy(p->rx_addrs, a, n * sizeof(*a));
	p->n_rx_addrs = (uint8_t)n;
	map_all(d, p);
}

void dp_peer_remove(struct dp *d, struct dp_peer *p)
{
	for (size_t i = 0; i < p->n_rx_addrs; i++)
		addr_unmap(d, p, &p->rx_addrs[i]);
	for (size_t i = 0; i < p->n_statics; i++)
		addr_unmap(d, p, &p->statics[i]);
	addr_unmap(d, p, &p->disco_direct);
	keymap_del(&d->by_key, p->key);
	keymap_del(&d->by_lo, &p->lo);
	p->used = false;
	d->n_used--;
	while (d->n_peers && !d->peers[d->n_peers - 1].used)
		d->n_peers--;
}

void dp_peer_set_statics(struct dp *d, struct dp_peer *p, const struct ipport *eps, size_t n)
{
	for (size_t i = 0; i < p->n_statics; i++)
		addr_unmap(d, p, &p->statics[i]);
	if (n > CFG_MAX_ENDPOINTS)
		n = CFG_MAX_ENDPOINTS;
	p->n_statics = (uint8_t)n;
	memcpy(p->statics, eps, n * sizeof(*eps));
	/* A disco or vouched-for address that was also static stays mapped. */
	map_all(d, p);
	p->publish_now = true;
	d->stats_dirty = true;
}

void dp_peer_set_path(struct dp *d, struct dp_peer *p, const struct ipport *direct, uint16_t sock,
		      uint64_t trusted_until_ns)
{
	if (!ipport_equal(&p->disco_direct, direct) || p->disco_sock != sock) {
		addr_unmap(d, p, &p->disco_direct);
		p->last_direct_rx_ns = 0; /* a new path: not heard from yet */
	} else if (trusted_until_ns > p->trusted_until_ns) {
		/* Trust extended on the same path: disco heard the peer on it
		 * (a pong, or its traffic under silent disco). That answers
		 * the silence detector as a packet from the peer would: a
		 * one-way stream (UDP, WireGuard's keepalive 10 s away) on a
		 * working path goes back to direct only after one check ping,
		 * instead of copying everything over DERP. */
		p->last_direct_rx_ns = d->now_ns;
	}
	p->has_disco = true;
	p->disco_direct = *direct;
	p->disco_sock = direct->family == AF_INET && sock <= DP_PROBE_SOCKS ? sock : 0;
	p->trusted_until_ns = trusted_until_ns;
	map_all(d, p); /* the old address may also be a static or vouched one */
	p->publish_now = true;
	d->stats_dirty = true;
}

void dp_peer_clear_path(struct dp *d, struct dp_peer *p)
{
	addr_unmap(d, p, &p->disco_direct);
	for (size_t i = 0; i < p->n_rx_addrs; i++)
		addr_unmap(d, p, &p->rx_addrs[i]);
	p->n_rx_addrs = 0;
	memset(&p->disco_direct, 0, sizeof(p->disco_direct));
	p->disco_sock = 0;
	map_all(d, p);
	p->has_disco = false;
	p->trusted_until_ns = 0;
	p->publish_now = true;
	d->stats_dirty = true;
}

static bool can_send(const struct dp *d, const struct ipport *a)
{
	return a->family == AF_INET ? d->udp4 >= 0 : a->family == AF_INET6 && d->udp6 >= 0;
}

/* magicsock's send rule: a trusted best address -> UDP only; an address
 * that is no longer trusted -> UDP and DERP; none -> DERP only. Static
 * endpoints are trusted for good (the operator vouched for them). */
/* The first packet since the peer was last heard starts the count; so does
 * the first after an idle spell (a packet left unanswered before it, such
 * as WireGuard's keepalive, which nothing answers, is not silence). */
void dp_peer_note_tx(struct dp_peer *p, uint64_t now_ns)
{
	uint64_t quiet = (uint64_t)DP_SILENCE_MS * 1000000u;

	if (p->first_unanswered_tx_ns <= p->last_direct_rx_ns || !p->last_tx_ns ||
	    now_ns - p->last_tx_ns >= quiet)
		p->first_unanswered_tx_ns = now_ns;
	p->last_tx_ns = now_ns;
}

/* The direct path went silent: the peer was heard on it, WireGuard keeps
 * sending, and either a packet we sent after that has had no answer for
 * DP_SILENCE_MS (dp.h), or the peer reaches us over DERP while its direct
 * path has been quiet that long (it is alive; the path is not: the side
 * that answers an outage's first requests, which come over DERP, sends
 * both ways at once instead of a second later). Counted from the first
 * unanswered packet, not from the last one heard: a ping once a second
 * (the first packet after a second of quiet) is answered at once and is
 * not silence. A path never heard from is not "silent": disco's pong (or
 * the operator, for a static endpoint) vouched for it. */
static bool silent(const struct dp *d, const struct dp_peer *p)
{
	uint64_t quiet = (uint64_t)DP_SILENCE_MS * 1000000u;
	uint64_t since = p->first_unanswered_tx_ns, heard = p->last_direct_rx_ns;

	if (!heard || d->now_ns >= p->last_tx_ns + quiet)
		return false;
	if (since > heard && d->now_ns > since + quiet)
		return true;
	return p->last_derp_rx_ns > heard && d->now_ns > heard + quiet;
}

enum dp_path dp_peer_path(const struct dp *d, const struct dp_peer *p, const struct ipport **direct,
			  uint16_t *sock)
{
	*direct = 0;
	if (sock)
		*sock = 0;
	if (p->has_disco && p->disco_direct.family && can_send(d, &p->disco_direct)) {
		*direct = &p->disco_direct;
		if (sock)
			*sock = p->disco_sock;
		return d->now_ns < p->trusted_until_ns && !silent(d, p) ? DP_PATH_DIRECT
									: DP_PATH_DIRECT_DERP;
	}
	for (size_t i = 0; i < p->n_statics && !p->disco_key; i++)
		if (can_send(d, &p->statics[i])) {
			*direct = &p->statics[i];
			return silent(d, p) ? DP_PATH_DIRECT_DERP : DP_PATH_DIRECT;
		}
	return DP_PATH_DERP;
}

const char *dp_path_name(enum dp_path p)
{
	switch (p) {
	case DP_PATH_DIRECT:
		return "direct";
	case DP_PATH_DIRECT_DERP:
		return "direct+derp";
	case DP_PATH_DERP:
		return "derp";
	case DP_PATH_NONE:
		break;
	}
	return "none";
}

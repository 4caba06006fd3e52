/* fwd: the packet paths (DESIGN.md, "Flows").
 *   WireGuard -> peer: a datagram to a peer's loopback endpoint, from
 *     WireGuard's own port, goes to the peer's current path (UDP, DERP, or
 *     both while the direct address is not trusted).
 *   peer -> WireGuard: WireGuard packets from a peer's address (UDP) or
 *     from its node key (DERP) are delivered to WireGuard's port from the
 *     peer's endpoint.
 *   disco and STUN: what arrives goes to the disco and netcheck processes;
 *     what they send leaves from our socket (or DERP, for disco). */
#include "dp.h"

#include <netinet/in.h>
#include <string.h>

static void chan_send(struct dp *d, struct pktchan *c, const struct pktchan_hdr *h,
		      const uint8_t *p, size_t len)
{
	if (!c || pktchan_send(c, h, p, len) < 0)
		d->c.chan_drops++;
}

void dp_send_udp(struct dp *d, const struct ipport *to, const uint8_t *p, size_t len)
{
	dp_txq_add(d, to->family == AF_INET6 ? &d->tx6 : &d->tx4, to, 0, p, len);
}

static void deliver_to_wg(struct dp *d, struct dp_peer *peer, const uint8_t *p, size_t len)
{
	struct ipport wg = {.family = AF_INET, .ip = {127, 0, 0, 1}, .port = d->wg_listen_port};

	if (!d->wg_listen_port) {
		d->c.wg_no_port++;
		log_rl(&d->rl, d->now_ns, LOG_LEVEL_WARN,
		       "a packet from a peer, but wg_listen_port is not set: dropped");
		return;
	}
	peer->rx_packets++;
	peer->rx_bytes += len;
	peer->last_rx_ns = d->now_ns;
	dp_txq_add(d, &d->txwg, &wg, peer->lo, p, len);
}

static void to_derp(struct dp *d, struct dp_peer *peer, const uint8_t *p, size_t len)
{
	struct pktchan_hdr h = {.kind = PKTCHAN_DERP_SEND};

	memcpy(h.key, peer->key, 32);
	peer->tx_derp++;
	peer->tx_derp_bytes += len;
	if (d->cap)
		dp_capture_derp(d, CAPTURE_DIR_TX, peer->key, 0, p, len);
	chan_send(d, d->chan_derp, &h, p, len);
}

/* From our UDP socket. */
void dp_on_udp(struct dp *d, const struct ipport *from, uint32_t to_lo, const uint8_t *p,
	       size_t len)
{
	struct dp_classified k;
	struct pktchan_hdr h = {.kind = PKTCHAN_UDP_RECV};
	struct dp_peer *peer;

	(void)to_lo;
	if (d->cap)
		dp_capture_udp(d, CAPTURE_DIR_RX, from, d->rx_sock, p, len);
	dp_classify(p, len, &k);
	if (k.geneve) {
		/* Peer relays (Geneve) come with the relay issue. */
		d->c.rx_geneve++;
		return;
	}
	switch (k.cls) {
	case DP_CLASS_STUN:
		d->c.rx_stun++;
		h.addr = *from;
		h.sock = d->rx_sock;
		chan_send(d, d->chan_netcheck, &h, p, len);
		return;
	case DP_CLASS_DISCO:
		d->c.rx_disco++;
		h.addr = *from;
		h.sock = d->rx_sock;
		chan_send(d, d->chan_disco, &h, p, len);
		return;
	case DP_CLASS_DISCO_JUNK:
		d->c.rx_disco_junk++;
		return;
	case DP_CLASS_WIREGUARD:
		break;
	}
	peer = dp_peer_by_addr(d, from);
	if (!peer) {
		d->c.rx_unknown_source++;
		return;
	}
	peer->last_direct_rx_ns = d->now_ns;
	deliver_to_wg(d, peer, p, len);
}

/* From WireGuard, to one of the loopback endpoints. */
void dp_on_wg(struct dp *d, const struct ipport *from, uint32_t to_lo, const uint8_t *p, size_t len)
{
	const struct ipport *direct;
	struct dp_peer *peer;
	uint16_t sock;

	/* Only WireGuard's own port on this host may use an endpoint; the
	 * socket is bound to "lo", so the source is a loopback address. */
	if (from->family != AF_INET || from->ip[0] != 127 || !d->wg_listen_port ||
	    from->port != d->wg_listen_port) {
		d->c.wg_bad_source++;
		return;
	}
	peer = dp_peer_by_lo(d, to_lo);
	if (!peer || !peer->known) {
		d->c.wg_no_peer++;
		return;
	}
	enum dp_path path = dp_peer_path(d, peer, &direct, &sock);
	/* The first packet after an idle spell on a path that is not direct:
	 * publish the counters now (not within DP_PUBLISH_MS), so that disco
	 * starts discovery at once. */
	if (path != DP_PATH_DIRECT &&
	    (!peer->last_tx_ns ||
	     d->now_ns - peer->last_tx_ns >= (uint64_t)DP_IDLE_MS * 1000000u)) {
		peer->publish_now = true;
		d->stats_dirty = true;
	}
	/* The direct path just went silent (or came back): publish now, not
	 * at the next scan, so that disco's check ping (dsc_recheck) goes out
	 * at once and its pong, if the path works and the traffic is only
	 * one way, ends the DERP copies within a round trip. */
	if (path != peer->published_path && peer->published_path == DP_PATH_DIRECT)
		d->stats_dirty = true;
	peer->tx_packets++;
	peer->tx_bytes += len;
	dp_peer_note_tx(peer, d->now_ns);
	switch (path) {
	case DP_PATH_DIRECT:
		dp_send_udp_sock(d, sock, direct, p, len);
		break;
	case DP_PATH_DIRECT_DERP:
		dp_send_udp_sock(d, sock, direct, p, len);
		to_derp(d, peer, p, len);
		break;
	case DP_PATH_DERP:
	case DP_PATH_NONE:
		to_derp(d, peer, p, len);
		break;
	}
}

static void on_derp_recv(struct dp *d, const struct pktchan_hdr *h, const uint8_t *p, size_t len)
{
	struct dp_classified k;
	struct dp_peer *peer;

	if (d->cap)
		dp_capture_derp(d, CAPTURE_DIR_RX, h->key, h->region, p, len);
	dp_classify(p, len, &k);
	if (k.cls == DP_CLASS_DISCO) {
		d->c.rx_disco++;
		chan_send(d, d->chan_disco, h, p, len);
		return;
	}
	if (k.cls != DP_CLASS_WIREGUARD || k.geneve) {
		/* STUN or junk over DERP means nothing. */
		d->c.rx_disco_junk += k.cls == DP_CLASS_DISCO_JUNK;
		return;
	}
	peer = dp_peer_by_key(d, h->key);
	if (!peer || !peer->known) {
		d->c.derp_unknown_peer++;
		return;
	}
	peer->rx_derp++;
	peer->rx_derp_bytes += len;
	peer->last_derp_rx_ns = d->now_ns;
	deliver_to_wg(d, peer, p, len);
}

void dp_on_chan(struct dp *d, struct pktchan *from, const struct pktchan_hdr *h, const uint8_t *p,
		size_t len)
{
	switch (h->kind) {
	case PKTCHAN_UDP_SEND: /* disco or netcheck: from our socket */
		if (from == d->chan_derp)
			break;
		dp_send_udp_sock(d, h->sock, &h->addr, p, len);
		return;
	case PKTCHAN_DERP_SEND: /* disco: over DERP */
		if (from != d->chan_disco)
			break;
		if (d->cap)
			dp_capture_derp(d, CAPTURE_DIR_TX, h->key, h->region, p, len);
		chan_send(d, d->chan_derp, h, p, len);
		return;
	case PKTCHAN_DERP_RECV:
		if (from != d->chan_derp)
			break;
		on_derp_recv(d, h, p, len);
		return;
	case PKTCHAN_UDP_RECV:
	case PKTCHAN_KIND_INVALID:
		break;
	}
	log_rl(&d->rl, d->now_ns, LOG_LEVEL_WARN, "packet channel: unexpected kind %d, dropped",
	       (int)h->kind);
}

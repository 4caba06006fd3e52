/* publish: what the dataplane publishes on the bus (dp_main.h):
 * DataplaneState, DataplanePeer (paths and counters), Endpoints and
 * NetworkState. Timers (dp_publish_tick, from the loop's tick):
 *   counters   DataplaneState and changed peer counters, every DP_PUBLISH_MS
 *   trust scan peers' paths again SCAN_MS after a finished pass (an expired
 *              trust changes a path without an event) */
#include <malloc.h>
#include <netinet/in.h>
#include <string.h>

#include "bus.h"
#include "clock.h"
#include "dp_main.h"
#include "endpoint_pb.h"
#include "netmap.pb-c.h"
#include "state.pb-c.h"

enum {
	PUBLISH_PER_PASS = 256, /* DataplanePeer updates per loop pass */
	SCAN_MS = 250,		/* how soon an expired trust shows in DataplanePeer */
	TRIM_AFTER = 1024,	/* a burst this large is trimmed after (trim_after_burst) */
};

/* A burst of DataplanePeer updates (a 10,000-peer netmap) passes through
 * ZeroMQ's queues as messages malloc'ed by this thread and by ZeroMQ's I/O
 * thread, each in its own arena; once the echoes are read, glibc keeps the
 * freed pages. Return them at the first quiet sweep after such a burst (a
 * sweep later, so the echoes have been read). */
static void trim_after_burst(struct ctx *x)
{
	if (x->burst >= TRIM_AFTER) {
		x->trim_due = true;
	} else if (x->trim_due) {
		x->trim_due = false;
#ifdef __GLIBC__
		malloc_trim(0);
#endif
	}
	x->burst = 0;
}

void dp_publish_network(struct ctx *x, const char *summary)
{
	Msock__NetworkState m = MSOCK__NETWORK_STATE__INIT;
	struct netmon_default def;

	/* The gateway is the portmapper's NAT-PMP/PCP/UPnP target. */
	if (x->nm && netmon_default_route(x->nm, AF_INET, &def) == 0) {
		if (def.gw.family == AF_INET) {
			m.gateway_v4.data = def.gw.ip;
			m.gateway_v4.len = 4;
		}
		if (def.self.family == AF_INET) {
			m.self_v4.data = def.self.ip;
			m.self_v4.len = 4;
		}
	}
	m.up = x->net_up;
	m.summary = (char *)summary;
	m.changes = x->link_changes;
	bus_state_set(x->comp.bus, BUS_T_NetworkState, "self", &m.base);
	/* Tailscale's NetworkStatusWarnable, from the link monitor. */
	health_set(&x->health, HEALTH_NETWORK_STATUS, !x->net_up,
		   "msock cannot connect because the network is down (%s). Check your Internet "
		   "connection.",
		   summary);
}

void dp_publish_endpoints(struct ctx *x)
{
	static struct dp_ep_set set;
	Msock__Endpoints m = MSOCK__ENDPOINTS__INIT;
	Msock__Endpoint eps[DP_EP_MAX], *epp[DP_EP_MAX];

	x->ep_dirty = false;
	x->epin.port = x->d.port;
	dp_ep_build(&x->epin, &set);
	if (dp_ep_equal(&set, &x->ep_published) && x->ep_published.n)
		return;
	for (size_t i = 0; i < set.n; i++) {
		msock__endpoint__init(&eps[i]);
		endpoint_pb_set(&eps[i], &set.ep[i].addr, set.ep[i].type);
		epp[i] = &eps[i];
	}
	m.n_endpoints = set.n;
	m.endpoints = epp;
	if (bus_state_set(x->comp.bus, BUS_T_Endpoints, "self", &m.base) == 0)
		x->ep_published = set;
}

static void publish_peer(struct ctx *x, struct dp_peer *p, enum dp_path path,
			 const struct ipport *direct, uint16_t sock)
{
	Msock__DataplanePeer m = MSOCK__DATAPLANE_PEER__INIT;
	Msock__Endpoint local = MSOCK__ENDPOINT__INIT, dir = MSOCK__ENDPOINT__INIT;
	uint8_t lo[4] = {(uint8_t)(p->lo >> 24), (uint8_t)(p->lo >> 16), (uint8_t)(p->lo >> 8),
			 (uint8_t)p->lo};
	char hex[65];

	m.node_key.data = p->key;
	m.node_key.len = 32;
	local.ip.data = lo;
	local.ip.len = 4;
	local.port = x->d.wg_port;
	m.local = &local;
	m.path = (char *)dp_path_name(path);
	if (direct) {
		endpoint_pb_set(&dir, direct, ENDPOINT_TYPE_UNKNOWN);
		m.direct = &dir;
		/* The socket it leaves from: a probe socket for a path punched
		 * from behind a hard NAT (probe.c). */
		m.local_socket = sock;
		m.local_port = sock ? x->d.probe[sock - 1].port : x->d.port;
	}
	m.tx_packets = p->tx_packets;
	m.tx_bytes = p->tx_bytes;
	m.rx_packets = p->rx_packets;
	m.rx_bytes = p->rx_bytes;
	m.tx_derp_packets = p->tx_derp;
	m.rx_derp_packets = p->rx_derp;
	m.tx_derp_bytes = p->tx_derp_bytes;
	m.rx_derp_bytes = p->rx_derp_bytes;
	/* Changed only with rx_packets and tx_packets: the counters' sweep
	 * publishes them, with no update of their own. */
	m.last_rx_mono_ns = p->last_rx_ns;
	m.last_tx_mono_ns = p->last_tx_ns;
	key_hex_format(p->key, hex);
	bus_state_set(x->comp.bus, BUS_T_DataplanePeer, hex, &m.base);
	p->published_path = path;
	p->published_direct = direct ? *direct : (struct ipport){0};
	p->published_tx = p->tx_packets;
	p->published_rx = p->rx_packets;
	p->publish_now = false;
}

void dp_publish_self(struct ctx *x)
{
	Msock__DataplaneState s = MSOCK__DATAPLANE_STATE__INIT;
	const struct dp *d = &x->d;

	s.port = d->port;
	s.ipv6 = d->udp6 >= 0;
	s.wg_endpoint_port = d->wg_port;
	s.wg_listen_port = d->wg_listen_port;
	s.gso = d->gso;
	s.gro = d->gro;
	s.rcvbuf = (uint32_t)d->rcvbuf;
	s.sndbuf = (uint32_t)d->sndbuf;
	s.rx_unknown_source = d->c.rx_unknown_source;
	s.rx_disco_junk = d->c.rx_disco_junk;
	s.rx_geneve = d->c.rx_geneve;
	s.rx_stun = d->c.rx_stun;
	s.rx_disco = d->c.rx_disco;
	s.wg_bad_source = d->c.wg_bad_source;
	s.wg_no_peer = d->c.wg_no_peer;
	s.wg_no_port = d->c.wg_no_port;
	s.tx_errors = d->c.tx_errors;
	s.chan_drops = d->c.chan_drops;
	s.derp_unknown_peer = d->c.derp_unknown_peer;
	s.peers = d->n_used;
	s.rx_batches = d->c.rx_batches;
	s.rx_packets = d->c.rx_packets;
	s.tx_packets = d->c.tx_packets;
	s.gso_sends = d->c.gso_sends;
	s.probe_sockets = d->n_probe_open;
	s.probe_opened = d->c.probe_opened;
	s.probe_errors = d->c.probe_errors;
	s.started_mono_ns = x->started_ns;
	s.capture_open = d->cap != 0;
	s.capture_records = d->c.capture_records;
	s.capture_drops = d->c.capture_drops;
	bus_state_set(x->comp.bus, BUS_T_DataplaneState, "self", &s.base);
	x->published = d->c;
}

/* Path changes go out at once; counters at most every DP_PUBLISH_MS; never
 * more than PUBLISH_PER_PASS per pass, so 10,000 peers do not stall packets. */
void dp_publish_tick(struct ctx *x)
{
	struct dp *d = &x->d;
	uint32_t budget = PUBLISH_PER_PASS;

	if (x->peers_syncing)
		return;
	if (!d->stats_dirty && !x->publish_counters && d->now_ns < x->next_scan_ns &&
	    d->now_ns < x->next_publish_ns)
		return;
	if (d->now_ns >= x->next_publish_ns) {
		x->next_publish_ns = d->now_ns + (uint64_t)DP_PUBLISH_MS * NS_PER_MS;
		x->publish_counters = true;
		x->publish_cursor = 0;
		if (memcmp(&x->published, &d->c, sizeof(d->c)) != 0)
			dp_publish_self(x);
	}
	for (uint32_t i = 0; i < d->n_peers && budget; i++) {
		struct dp_peer *p = &d->peers[i];
		const struct ipport *direct;
		uint16_t sock;
		enum dp_path path;
		if (!p->used || !p->known)
			continue;
		path = dp_peer_path(d, p, &direct, &sock);
		if (p->publish_now || path != p->published_path ||
		    (direct && !ipport_equal(direct, &p->published_direct)) ||
		    (x->publish_counters && i >= x->publish_cursor &&
		     (p->tx_packets != p->published_tx || p->rx_packets != p->published_rx))) {
			publish_peer(x, p, path, direct, sock);
			budget--;
		}
		if (x->publish_counters && i >= x->publish_cursor)
			x->publish_cursor = i + 1;
	}
	x->burst += PUBLISH_PER_PASS - budget;
	if (budget) {
		trim_after_burst(x);
		x->publish_counters = false;
		d->stats_dirty = false;
		x->next_scan_ns = d->now_ns + (uint64_t)SCAN_MS * NS_PER_MS;
	}
}

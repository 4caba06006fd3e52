/* msock-dataplane (dp.h). Start-up: log tag -> its sockets (sockets.c:
 * the broker's, systemd's or, with --config, its own; kept through the
 * sandbox) -> sandbox (network sockets) -> signals
 * -> bus: first our own DataplanePeer state (the loopback endpoints peers
 * had before a restart), then the config and disco's paths -> packet
 * channels -> loop.
 *
 * Options (components[].args): --no-gso, --no-gro turn the offloads off
 * (for measuring them; they are used whenever the kernel has them). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "bus_wire.h"
#include "clock.h"
#include "component.h"
#include "dp_main.h"
#include "endpoint_pb.h"
#include "endpoints.h"
#include "netmon.h"
#include "netmap.pb-c.h"
#include "state.pb-c.h"

enum {
	CHAN_DRAIN = DP_BATCH,	  /* channel packets per pass (one rx slot each) */
	PUBLISH_PENDING_MS = 500, /* the longest a pending publication waits */
};

static uint16_t sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct ipport a;

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    ipport_from_sockaddr((struct sockaddr *)&ss, len, &a) < 0)
		return 0;
	return a.port;
}

/* Our own DataplanePeer from the cache (a restart): keep the peer's
 * loopback endpoint, and carry its counters on so that they stay
 * cumulative (what was counted after the last publish, at most
 * DP_PUBLISH_MS, is lost with the old process). */
static void on_own_peer(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	const Msock__DataplanePeer *p = (const Msock__DataplanePeer *)m->msg;
	const uint8_t *key = m->node_key;
	struct ipport lo;
	struct dp_peer *dp;

	if (dp_peer_by_key(&x->d, key) || endpoint_pb_to_ipport(p->local, &lo) < 0 ||
	    lo.family != AF_INET)
		return;
	/* Not "known" until the netmap says so. */
	dp = dp_peer_add(&x->d, key,
			 (uint32_t)lo.ip[0] << 24 | (uint32_t)lo.ip[1] << 16 |
				 (uint32_t)lo.ip[2] << 8 | lo.ip[3]);
	if (!dp)
		return;
	dp->tx_packets = p->tx_packets;
	dp->tx_bytes = p->tx_bytes;
	dp->rx_packets = p->rx_packets;
	dp->rx_bytes = p->rx_bytes;
	dp->tx_derp = p->tx_derp_packets;
	dp->rx_derp = p->rx_derp_packets;
	dp->tx_derp_bytes = p->tx_derp_bytes;
	dp->rx_derp_bytes = p->rx_derp_bytes;
	dp->published_tx = dp->tx_packets;
	dp->published_rx = dp->rx_packets;
	/* The same clock (CLOCK_MONOTONIC, one host): the times carry on too.
	 * One from the future is no time of ours. */
	dp->last_rx_ns = p->last_rx_mono_ns <= x->d.now_ns ? p->last_rx_mono_ns : 0;
	dp->last_tx_ns = p->last_tx_mono_ns <= x->d.now_ns ? p->last_tx_mono_ns : 0;
}

static void forget_peer(struct ctx *x, struct dp_peer *p)
{
	char hex[65];

	key_hex_format(p->key, hex);
	bus_state_del(x->comp.bus, BUS_T_DataplanePeer, hex);
	dp_peer_remove(&x->d, p);
}

static void on_node(struct ctx *x, const struct bus_msg *m)
{
	const uint8_t *key = m->node_key;
	struct dp_peer *p = dp_peer_by_key(&x->d, key);

	if (m->deleted) {
		if (p)
			forget_peer(x, p);
		return;
	}
	const Msock__NodeView *n = ((const Msock__NodeViewsUpdate *)m->msg)->node;
	struct ipport eps[CFG_MAX_ENDPOINTS];
	size_t ne = 0;
	if (!n)
		return;
	p = dp_peer_add(&x->d, key, 0);
	if (!p) {
		log_error("out of memory adding a peer");
		return;
	}
	p->known = true;
	p->home_derp = (uint16_t)n->home_derp;
	p->disco_key = n->disco_key.len == 32;
	for (size_t i = 0; i < n->n_endpoints && ne < CFG_MAX_ENDPOINTS; i++)
		if (endpoint_pb_to_ipport(n->endpoints[i], &eps[ne]) == 0)
			ne++;
	dp_peer_set_statics(&x->d, p, eps, ne);
}

static void on_path(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	struct dp_peer *p = dp_peer_by_key(&x->d, m->node_key);
	struct ipport direct = {0};

	if (!p)
		return;
	if (m->deleted) {
		dp_peer_clear_path(&x->d, p);
		return;
	}
	const Msock__PathChanged *pc = (const Msock__PathChanged *)m->msg;
	if (pc->direct && endpoint_pb_to_ipport(pc->direct, &direct) < 0) {
		log_rl(&x->d.rl, x->d.now_ns, LOG_LEVEL_WARN,
		       "PathChanged %.16s...: bad direct address; ignored", m->key);
		return;
	}
	if (pc->local_socket > DP_PROBE_SOCKS) {
		log_rl(&x->d.rl, x->d.now_ns, LOG_LEVEL_WARN,
		       "PathChanged %.16s...: local_socket %u out of range; ignored", m->key,
		       pc->local_socket);
		return;
	}
	dp_peer_set_path(&x->d, p, &direct, (uint16_t)pc->local_socket, pc->trusted_until_mono_ns);
	struct ipport rx[DP_MAX_RX_ADDRS];
	size_t n = 0;
	for (size_t i = 0; i < pc->n_rx_addrs && n < DP_MAX_RX_ADDRS; i++)
		if (endpoint_pb_to_ipport(pc->rx_addrs[i], &rx[n]) == 0)
			n++;
	dp_peer_set_rx_addrs(&x->d, p, rx, n);
}

static void on_self_config(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	const Msock__SelfConfig *c = (const Msock__SelfConfig *)m->msg;

	x->d.wg_listen_port = (uint16_t)c->wg_listen_port;
	x->epin.n_statics = 0;
	for (size_t i = 0; i < c->n_static_endpoints && x->epin.n_statics < DP_EP_MAX_STATIC; i++)
		if (endpoint_pb_to_ipport(c->static_endpoints[i],
					  &x->epin.statics[x->epin.n_statics]) == 0)
			x->epin.n_statics++;
	x->ep_dirty = true;
}

static void on_netcheck(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	const Msock__NetcheckReport *r = m->deleted ? 0 : (const Msock__NetcheckReport *)m->msg;

	if (!r || endpoint_pb_to_ipport(r->global_v4, &x->epin.stun_v4) < 0)
		memset(&x->epin.stun_v4, 0, sizeof(x->epin.stun_v4));
	if (!r || endpoint_pb_to_ipport(r->global_v6, &x->epin.stun_v6) < 0)
		memset(&x->epin.stun_v6, 0, sizeof(x->epin.stun_v6));
	x->ep_dirty = true;
}

/* PortMapping keys are the protocol: one slot each. */
static void on_mapping(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	static const char *const protos[DP_EP_MAX_MAPPED] = {"nat-pmp", "pcp", "upnp"};
	size_t i = 0;

	while (i < DP_EP_MAX_MAPPED && strcmp(m->key, protos[i]) != 0)
		i++;
	if (i == DP_EP_MAX_MAPPED)
		return;
	if (m->deleted || endpoint_pb_to_ipport(((const Msock__PortMapping *)m->msg)->external,
						&x->epin.mapped[i]) < 0)
		memset(&x->epin.mapped[i], 0, sizeof(x->epin.mapped[i]));
	x->ep_dirty = true;
}

static void set_local_addrs(struct ctx *x)
{
	struct ipport a[DP_EP_MAX_LOCAL];
	size_t n = x->nm ? netmon_addrs(x->nm, a, DP_EP_MAX_LOCAL) : 0;

	if (n > DP_EP_MAX_LOCAL)
		n = DP_EP_MAX_LOCAL;
	memcpy(x->epin.local, a, n * sizeof(a[0]));
	x->epin.n_local = n;
	x->ep_dirty = true;
}

/* magicsock's link-change handling: a minor change re-STUNs, a major one
 * also rebinds (the broker makes the new sockets), all links down is
 * SetNetworkUp(false). */
static void on_link_change(struct ctx *x, enum netmon_change c)
{
	struct netmon_summary sum;
	char text[512], why[64];
	Msock__LinkChange ev = MSOCK__LINK_CHANGE__INIT;
	Msock__ReSTUN rs = MSOCK__RE_STUN__INIT;
	if (c == NETMON_CHANGE_NONE || c == NETMON_CHANGE_INVALID)
		return;
	x->link_changes++;
	netmon_summary(x->nm, &sum);
	netmon_summary_format(&sum, text, sizeof(text));
	set_local_addrs(x);
	x->net_up = c != NETMON_CHANGE_ALL_DOWN;
	log_info("link change (%s): %s", netmon_change_name(c), text);
	ev.change = (char *)netmon_change_name(c);
	ev.summary = text;
	bus_publish(x->comp.bus, BUS_T_LinkChange, &ev.base);
	dp_publish_network(x, text);
	if (x->net_up) {
		snprintf(why, sizeof(why), "link change (%s)", netmon_change_name(c));
		rs.why = why;
		bus_publish(x->comp.bus, BUS_T_ReSTUN, &rs.base);
	}
}

/* The broker's Capture state: a `msockctl capture` runs (docs/capture.md).
 * DataplaneState says at once whether the channel is open. */
static void on_capture(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	bool was = x->d.cap != 0;

	dp_capture_set(&x->d, bus_zmq_ctx(x->comp.bus), x->comp.bus_dir,
		       m->deleted ? 0 : (const Msock__Capture *)m->msg);
	if (was != (x->d.cap != 0))
		dp_publish_self(x);
}

/* The netmap: a snapshot marks which peers it still has; the others go
 * at its end. */
static void on_nodes(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;

	if (m->kind == BUS_MSG_SNAPSHOT_BEGIN) {
		x->peers_syncing = true;
		for (uint32_t i = 0; i < x->d.n_peers; i++)
			x->d.peers[i].known = false;
	} else if (m->kind == BUS_MSG_SNAPSHOT_END) {
		/* Peers the netmap no longer has (or never had) go. */
		x->peers_syncing = false;
		for (uint32_t i = x->d.n_peers; i-- > 0;)
			if (x->d.peers[i].used && !x->d.peers[i].known)
				forget_peer(x, &x->d.peers[i]);
		log_info("%u peers", x->d.n_used);
	} else {
		on_node(x, m);
	}
}

static const struct bus_handler handlers[] = {
	{BUS_T_DataplanePeer, BUS_H_STATE, BUS_KEY_NODE, on_own_peer},
	{BUS_T_NodeViewsUpdate, BUS_H_STATE | BUS_H_DELETED | BUS_H_SNAPSHOT, BUS_KEY_NODE,
	 on_nodes},
	{BUS_T_PathChanged, BUS_H_STATE | BUS_H_DELETED, BUS_KEY_NODE, on_path},
	{BUS_T_SelfConfig, BUS_H_STATE, BUS_KEY_TEXT, on_self_config},
	{BUS_T_NetcheckReport, BUS_H_STATE | BUS_H_DELETED, BUS_KEY_TEXT, on_netcheck},
	{BUS_T_PortMapping, BUS_H_STATE | BUS_H_DELETED, BUS_KEY_TEXT, on_mapping},
	{BUS_T_Capture, BUS_H_STATE | BUS_H_DELETED, BUS_KEY_TEXT, on_capture},
};

static void drain_chan(struct ctx *x, struct pktchan *c)
{
	struct dp *d = &x->d;

	if (!c)
		return;
	/* Each packet in its own receive slot: queued sends point into them
	 * until the flush below. */
	for (int i = 0; i < CHAN_DRAIN; i++) {
		struct pktchan_hdr h;
		uint8_t *buf = d->rxbuf + (size_t)i * DP_RX_SLOT_BYTES;
		size_t n;
		int rc = pktchan_recv(c, &h, buf, DP_RX_SLOT_BYTES, &n);
		if (rc == -EAGAIN)
			break;
		if (rc == 0)
			dp_on_chan(d, c, &h, buf, n);
	}
	dp_flush_all(d);
}

/* Its own descriptors, in this order: the three UDP sockets, the three
 * packet channels it binds, the probe epoll, the link monitor. */
enum { IT_SOCK = 0, IT_CHAN = 3, IT_PROBE = 6, IT_NETMON = 7, IT_N = 8 };

static int pollitems(void *arg, zmq_pollitem_t *it, int cap)
{
	struct ctx *x = arg;
	struct dp *d = &x->d;
	struct pktchan *chans[3] = {d->chan_derp, d->chan_disco, d->chan_netcheck};
	int socks[3] = {d->udp4, d->udp6, d->wg};

	if (cap < IT_N)
		return 0;
	for (int i = 0; i < 3; i++) {
		it[IT_SOCK + i] = (zmq_pollitem_t){.fd = socks[i], .events = ZMQ_POLLIN};
		it[IT_CHAN + i] = (zmq_pollitem_t){.socket = pktchan_socket_rx(chans[i]),
						   .events = ZMQ_POLLIN};
	}
	/* A negative fd is never ready (poll(2) ignores it). */
	it[IT_PROBE] = (zmq_pollitem_t){.fd = d->probe_ep, .events = ZMQ_POLLIN};
	it[IT_NETMON] = (zmq_pollitem_t){.fd = x->nm ? netmon_fd(x->nm) : -1, .events = ZMQ_POLLIN};
	return IT_N;
}

/* Packets first, a bounded amount of each; the bus after them
 * (component_run). */
static void ready(void *arg, const zmq_pollitem_t *it, int n, uint64_t now)
{
	struct ctx *x = arg;
	struct dp *d = &x->d;
	struct pktchan *chans[3] = {d->chan_derp, d->chan_disco, d->chan_netcheck};
	int socks[3] = {d->udp4, d->udp6, d->wg};

	d->now_ns = now;
	if (n < IT_N)
		return;
	if (x->nm && ((it[IT_NETMON].revents & ZMQ_POLLIN) || now >= netmon_deadline_ns(x->nm)))
		on_link_change(x, netmon_on_readable(x->nm, now));
	for (int i = 0; i < 3; i++) {
		if (socks[i] < 0 || !(it[IT_SOCK + i].revents & ZMQ_POLLIN))
			continue;
		for (int k = 0; k < 8; k++) {
			int got = dp_rx_batch(d, socks[i], i == 2, i == 2 ? dp_on_wg : dp_on_udp);
			dp_flush_all(d);
			if (got < DP_BATCH / 2)
				break;
		}
	}
	if (d->probe_ep >= 0 && (it[IT_PROBE].revents & ZMQ_POLLIN))
		dp_probe_rx(d); /* flushes after each socket's read */
	for (int i = 0; i < 3; i++)
		if (it[IT_CHAN + i].revents & ZMQ_POLLIN)
			drain_chan(x, chans[i]);
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Its real deadlines: the link monitor's, the next counters publication,
 * the next trust scan, the probe sockets' clean-up, and a pending
 * publication's. */
static uint64_t deadline(void *arg, uint64_t now)
{
	struct ctx *x = arg;
	struct dp *d = &x->d;
	uint64_t next = earliest(x->next_publish_ns, x->next_scan_ns);

	if (x->nm)
		next = earliest(next, netmon_deadline_ns(x->nm));
	if (d->n_probe_open)
		next = earliest(next, d->probe_next_gc_ns);
	/* What is pending publication goes out at the next pass, and at the
	 * latest PUBLISH_PENDING_MS from now (the loop's old fixed wait): a
	 * pass publishes at most 256 peers (publish.c), so 10,000 of them are
	 * spread out rather than queued for the broker at once. */
	if (!x->peers_syncing && (d->stats_dirty || x->publish_counters || x->ep_dirty))
		next = earliest(next, now + (uint64_t)PUBLISH_PENDING_MS * NS_PER_MS);
	return next;
}

static void tick(void *arg, uint64_t now)
{
	struct ctx *x = arg;
	struct dp *d = &x->d;

	d->now_ns = now;
	dp_probe_gc(d);
	dp_publish_tick(x);
	if (x->ep_dirty)
		dp_publish_endpoints(x);
}

int main(int argc, char **argv)
{
	static struct ctx x;
	struct dp *d = &x.d;
	int rc = 1;

	if (component_init(&x.comp, "dataplane", &argc, argv) < 0)
		return 2;
	x.started_ns = clock_mono_ns();
	if (dp_init(d) < 0) {
		log_error("out of memory");
		return 1;
	}
	d->gso = d->gro = true;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-gso") == 0) {
			d->gso = false;
		} else if (strcmp(argv[i], "--no-gro") == 0) {
			d->gro = false;
		} else {
			log_error("unknown argument \"%s\" (known: --no-gso, --no-gro)", argv[i]);
			return 2;
		}
	}
	if (dp_sockets_acquire(&x.comp, &d->udp4, &d->udp6, &d->wg) < 0)
		return 2;
	/* The link monitor's netlink socket is opened before the sandbox and
	 * kept through it (only recvmsg/sendto on it afterwards). */
	int nmrc = netmon_open(&x.nm);
	if (nmrc < 0) {
		log_warn("link monitor unavailable (%s): no link-change handling, no local "
			 "endpoints",
			 strerror(-nmrc));
		x.nm = 0;
	} else if (component_keep_fd(&x.comp, netmon_fd(x.nm)) < 0) {
		log_error("too many descriptors to keep through the sandbox");
		return 1;
	}
	x.net_up = true;
	if (component_sandbox(&x.comp, 0, 0) < 0)
		return 1;
	if (x.comp.selftest)
		return sandbox_selftest(x.comp.selftest);
	if (component_signals(&x.comp) < 0)
		return 1;
	d->port = sock_port(d->udp4);
	d->wg_port = sock_port(d->wg);
	dp_io_setup(d);
	if (component_connect(&x.comp, handlers, sizeof(handlers) / sizeof(handlers[0]), &x) < 0)
		goto out;
	health_init_bus(&x.health, x.comp.bus, x.comp.proc->program);
	d->chan_derp = pktchan_open(bus_zmq_ctx(x.comp.bus), x.comp.bus_dir, "derp",
				    PKTCHAN_ROLE_DATAPLANE);
	d->chan_disco = pktchan_open(bus_zmq_ctx(x.comp.bus), x.comp.bus_dir, "disco",
				     PKTCHAN_ROLE_DATAPLANE);
	d->chan_netcheck = pktchan_open(bus_zmq_ctx(x.comp.bus), x.comp.bus_dir, "netcheck",
					PKTCHAN_ROLE_DATAPLANE);
	if (!d->chan_derp || !d->chan_disco || !d->chan_netcheck) {
		log_error("cannot open the packet channels in %s: %s", x.comp.bus_path,
			  strerror(errno));
		goto out;
	}
	d->now_ns = clock_mono_ns();
	/* Our endpoints from before a restart first, then the netmap. */
	if (component_subscribe(&x.comp, (const char *const[]){BUS_T_DataplanePeer, 0}) < 0 ||
	    component_subscribe(&x.comp,
				(const char *const[]){BUS_T_SelfConfig, BUS_T_NodeViewsUpdate,
						      BUS_T_PathChanged, BUS_T_NetcheckReport,
						      BUS_T_PortMapping, BUS_T_Capture, 0}) < 0)
		goto out;
	log_info("udp port %u%s, wireguard endpoints 127.64.0.0/10 port %u, wireguard at "
		 "127.0.0.1:%u, gso %s, gro %s, rcvbuf %d",
		 d->port, d->udp6 >= 0 ? " (v4+v6)" : " (v4 only)", d->wg_port, d->wg_listen_port,
		 d->gso ? "on" : "off", d->gro ? "on" : "off", d->rcvbuf);
	dp_publish_self(&x);
	if (x.nm) {
		struct netmon_summary sum;
		char text[512];
		netmon_summary(x.nm, &sum);
		netmon_summary_format(&sum, text, sizeof(text));
		x.net_up = !sum.all_down;
		log_info("links: %s", text);
		dp_publish_network(&x, text);
	}
	set_local_addrs(&x);
	dp_publish_endpoints(&x);
	rc = component_run(&x.comp,
			   &(const struct component_ops){.pollitems = pollitems,
							 .ready = ready,
							 .deadline = deadline,
							 .tick = tick},
			   &x) < 0
		     ? 1
		     : 0;
out:
	netmon_free(x.nm);
	dp_capture_set(d, 0, 0, 0); /* its socket is on the bus's context */
	/* On the bus's context: closed before it. */
	pktchan_free(d->chan_derp);
	pktchan_free(d->chan_disco);
	pktchan_free(d->chan_netcheck);
	component_close(&x.comp);
	dp_free(d);
	return rc;
}

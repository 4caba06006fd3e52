/* msock-disco: the only holder of the disco private key; path discovery
 * (dsc.h). Start-up in the privsep order: log tag -> the disco key file
 * (created 0600 on first start; opened before the sandbox, which allows no
 * file opens) -> sandbox -> signals -> bus -> packet channel (disco packets
 * come and go through the dataplane's socket, or over DERP through it) ->
 * the cached state (peers, our endpoints, the paths this component
 * published before a restart, adopted as they are) -> loop. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "bus.h"
#include "bus_wire.h"
#include "clock.h"
#include "component.h"
#include "dsc.h"
#include "endpoint_pb.h"
#include "key.h"
#include "log.h"
#include "netmap.pb-c.h"
#include "pktchan.h"
#include "state.pb-c.h"

enum {
	CHAN_DRAIN = 256,
	LOG_EVERY_MS = 10000,
};

struct ctx {
	struct component comp; /* its bus and packet channel too */
	struct dsc d;
	struct log_ratelimit rl;
	bool adopting;			  /* the PathChanged snapshot at start: adopt */
	uint64_t dp_started_ns;		  /* the dataplane's start time last seen */
	struct dsc_stats stats_published; /* DiscoStats as last published */
	uint64_t stats_ns;		  /* when (0: not yet) */
};

static void send_udp(void *arg, uint16_t sock, const struct ipport *to, const uint8_t *p,
		     size_t len)
{
	struct ctx *x = arg;
	struct pktchan_hdr h = {.kind = PKTCHAN_UDP_SEND, .addr = *to, .sock = sock};
	char a[ADDR_TEXT_MAX];

	ipport_format(to, a, sizeof(a));
	log_debug("send %zu bytes to %s from socket %u", len, a, sock);
	pktchan_send(x->comp.chan, &h, p, len);
}

static void send_derp(void *arg, const struct key32 *node_key, uint16_t region, const uint8_t *p,
		      size_t len)
{
	struct ctx *x = arg;
	struct pktchan_hdr h = {.kind = PKTCHAN_DERP_SEND, .region = region};

	memcpy(h.key, node_key->b, KEY_LEN);
	log_debug("send %zu bytes over DERP", len);
	pktchan_send(x->comp.chan, &h, p, len);
}

/* DiscoPong (key: the peer's node key in hex): `msockctl ping` reads it. */
static void on_pong(void *arg, const struct dsc_peer *p, const struct ipport *via, uint16_t region,
		    uint64_t latency_ns)
{
	struct ctx *x = arg;
	Msock__DiscoPong m = MSOCK__DISCO_PONG__INIT;
	Msock__Endpoint e = MSOCK__ENDPOINT__INIT;
	char hex[65];

	m.node_key.data = (uint8_t *)p->node_key.b;
	m.node_key.len = KEY_LEN;
	if (via) {
		endpoint_pb_set(&e, via, ENDPOINT_TYPE_UNKNOWN);
		m.via = &e;
	}
	m.derp_region = via ? 0 : region;
	m.latency_us = (uint32_t)(latency_ns / 1000);
	m.at_unix_ms = (int64_t)clock_unix_ms();
	key_hex_format(p->node_key.b, hex);
	bus_state_set(x->comp.bus, BUS_T_DiscoPong, hex, &m.base);
}

/* PathHistory (key: the peer's node key in hex): GetEndpointChanges. */
static void publish_history(struct ctx *x, const struct dsc_peer *p, const char *hex)
{
	Msock__PathHistory h = MSOCK__PATH_HISTORY__INIT;
	Msock__PathHistory__Change ch[DSC_HISTORY], *chp[DSC_HISTORY];
	Msock__Endpoint e[DSC_HISTORY];
	uint64_t now = clock_mono_ns(), real_ms = clock_unix_ms();
	for (size_t i = 0; i < p->n_history; i++) {
		/* Oldest first: the ring starts at history_next once full. */
		size_t k = p->n_history < DSC_HISTORY ? i : (p->history_next + i) % DSC_HISTORY;
		const struct dsc_change *c = &p->history[k];
		msock__path_history__change__init(&ch[i]);
		ch[i].at_unix_ms = (int64_t)(real_ms - (now - c->at_ns) / NS_PER_MS);
		if (c->direct.family) {
			msock__endpoint__init(&e[i]);
			endpoint_pb_set(&e[i], &c->direct, ENDPOINT_TYPE_UNKNOWN);
			ch[i].direct = &e[i];
		}
		ch[i].latency_us = (uint32_t)(c->latency_ns / 1000);
		chp[i] = &ch[i];
	}
	h.node_key.data = (uint8_t *)p->node_key.b;
	h.node_key.len = KEY_LEN;
	h.n_changes = p->n_history;
	h.changes = chp;
	bus_state_set(x->comp.bus, BUS_T_PathHistory, hex, &h.base);
}

/* PathChanged (key: the peer's node key in hex), applied by the dataplane. */
static void on_path(void *arg, const struct dsc_peer *p, const struct ipport *best,
		    uint64_t trusted_until_ns, uint64_t latency_ns, bool changed)
{
	struct ctx *x = arg;
	Msock__PathChanged m = MSOCK__PATH_CHANGED__INIT;
	Msock__Endpoint e = MSOCK__ENDPOINT__INIT;
	char hex[65], a[ADDR_TEXT_MAX] = "none";

	m.node_key.data = (uint8_t *)p->node_key.b;
	m.node_key.len = KEY_LEN;
	if (best) {
		endpoint_pb_set(&e, best, ENDPOINT_TYPE_UNKNOWN);
		m.direct = &e;
		ipport_format(best, a, sizeof(a));
	}
	/* Every address heard from, for receiving (dsc_path.c, pick_rx). */
	Msock__Endpoint rx[DSC_RX_ADDRS], *rxp[DSC_RX_ADDRS];
	size_t n_rx = 0;
	for (; n_rx < p->n_rx; n_rx++) {
		msock__endpoint__init(&rx[n_rx]);
		endpoint_pb_set(&rx[n_rx], &p->rx[n_rx], ENDPOINT_TYPE_UNKNOWN);
		rxp[n_rx] = &rx[n_rx];
	}
	m.n_rx_addrs = n_rx;
	m.rx_addrs = rxp;
	m.derp_region = p->home_derp;
	m.local_socket = best ? p->best_sock : 0;
	m.trusted_until_mono_ns = trusted_until_ns;
	m.latency_us = (uint32_t)(latency_ns / 1000);
	key_hex_format(p->node_key.b, hex);
	bus_state_set(x->comp.bus, BUS_T_PathChanged, hex, &m.base);
	if (changed) {
		char via[32] = "";
		if (best && p->best_sock)
			snprintf(via, sizeof(via), " from probe socket %u", p->best_sock);
		log_info("peer %s (%.8s...): path %s%s%s", p->name, hex, best ? "direct " : "derp",
			 best ? a : "", via);
		publish_history(x, p, hex);
	}
}

static void on_node(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	struct key32 nk, dk;
	struct ipport eps[16];
	size_t n = 0;

	memcpy(nk.b, m->node_key, KEY_LEN);
	if (m->deleted) {
		dsc_remove_peer(&x->d, &nk);
		return;
	}
	const Msock__NodeView *v = ((const Msock__NodeViewsUpdate *)m->msg)->node;
	if (!v)
		return;
	for (size_t i = 0; i < v->n_endpoints && n < 16; i++)
		if (endpoint_pb_to_ipport(v->endpoints[i], &eps[n]) == 0)
			n++;
	bool has_dk = v->disco_key.len == KEY_LEN;
	if (has_dk)
		memcpy(dk.b, v->disco_key.data, KEY_LEN);
	if (dsc_set_peer(&x->d, &nk, has_dk ? &dk : 0, (uint16_t)v->home_derp, eps, n, v->name) < 0)
		log_error("out of memory adding a peer");
}

/* The dataplane's counters (a peer whose tx grew had WireGuard traffic),
 * and its silence detector's verdict. */
static void on_dataplane_peer(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	struct key32 k;
	const Msock__DataplanePeer *p = (const Msock__DataplanePeer *)m->msg;
	uint64_t now = clock_mono_ns();

	memcpy(k.b, m->node_key, KEY_LEN);
	dsc_on_counters(&x->d, &k, p->tx_packets + p->tx_derp_packets,
			p->rx_packets > p->rx_derp_packets ? p->rx_packets - p->rx_derp_packets : 0,
			now);
	/* The dataplane's silence detector: check the direct path now. */
	if (p->path && strcmp(p->path, "direct+derp") == 0)
		dsc_recheck(&x->d, &k, now);
}

static void on_endpoints(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	struct ipport eps[DSC_MAX_MY_EPS];
	size_t n = 0;
	const Msock__Endpoints *e = m->deleted ? 0 : (const Msock__Endpoints *)m->msg;

	for (size_t i = 0; e && i < e->n_endpoints && n < DSC_MAX_MY_EPS; i++)
		if (endpoint_pb_to_ipport(e->endpoints[i], &eps[n]) == 0)
			n++;
	dsc_set_my_endpoints(&x->d, eps, n);
}

/* netcheck: whether our NAT maps by destination (birthday punching). */
static void on_netcheck(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	const Msock__NetcheckReport *r = m->deleted ? 0 : (const Msock__NetcheckReport *)m->msg;
	struct ipport g = {0};
	bool hard = r && r->mapping_varies_by_dest_ip;

	if (r && r->global_v4)
		endpoint_pb_to_ipport(r->global_v4, &g);
	if (hard != x->d.hard_nat)
		log_info("netcheck: %s", hard ? "hard NAT (mapping varies by destination): "
						"birthday punching on"
					      : "not a hard NAT");
	dsc_set_nat(&x->d, hard, &g);
}

static void on_event(void *arg, const struct dsc_peer *p, const char *what)
{
	(void)arg;
	log_info("peer %s: %s", p->name, what);
}

/* Our own PathChanged from the cache, at start only (adopting): the
 * paths we had, as they were. */
static void on_own_path(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	const Msock__PathChanged *pc = (const Msock__PathChanged *)m->msg;
	struct key32 k;
	struct ipport best;
	uint64_t now = clock_mono_ns();

	memcpy(k.b, m->node_key, KEY_LEN);
	if (!x->adopting || endpoint_pb_to_ipport(pc->direct, &best) < 0)
		return;
	dsc_adopt_path(&x->d, &k, &best, pc->local_socket, pc->trusted_until_mono_ns,
		       (uint64_t)pc->latency_us * 1000, now);
}

/* SelfKeys is keyed by the program of the key's holder: our node key is
 * the one its row publishes. */
static bool is_node_key_holder(const char *key)
{
	const struct proc *p = proctab_key_holder(PROC_KEY_NODE);

	return p && strcmp(key, p->program) == 0;
}

static void on_ping_request(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	const Msock__PingRequest *r = (const Msock__PingRequest *)m->msg;
	struct key32 k;

	if (r->node_key.len == KEY_LEN) {
		memcpy(k.b, r->node_key.data, KEY_LEN);
		dsc_ping_now(&x->d, &k, clock_mono_ns());
	}
}

/* A new start time: the dataplane restarted (its probe sockets with it).
 * The first one seen is only a baseline. */
static void on_dataplane_state(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	uint64_t st = ((const Msock__DataplaneState *)m->msg)->started_mono_ns;

	if (st && x->dp_started_ns && st != x->dp_started_ns)
		dsc_dataplane_restarted(&x->d, clock_mono_ns());
	if (st)
		x->dp_started_ns = st;
}

static void on_prefs(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	bool silent = ((const Msock__Prefs *)m->msg)->silent_disco;

	if (silent != x->d.silent)
		log_info("silent_disco %s", silent ? "on: no heartbeats" : "off");
	x->d.silent = silent;
}

static void on_self_keys(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	const Msock__SelfKeys *k = (const Msock__SelfKeys *)m->msg;

	if (is_node_key_holder(m->key) && k->node_key.len == KEY_LEN) {
		memcpy(x->d.self_node_key.b, k->node_key.data, KEY_LEN);
		x->d.has_self_node_key = true;
	}
}

static const struct bus_handler handlers[] = {
	{BUS_T_PingRequest, BUS_H_EVENT, BUS_KEY_TEXT, on_ping_request},
	{BUS_T_NodeViewsUpdate, BUS_H_STATE | BUS_H_DELETED, BUS_KEY_NODE, on_node},
	{BUS_T_DataplanePeer, BUS_H_STATE, BUS_KEY_NODE, on_dataplane_peer},
	{BUS_T_Endpoints, BUS_H_STATE | BUS_H_DELETED, BUS_KEY_TEXT, on_endpoints},
	{BUS_T_NetcheckReport, BUS_H_STATE | BUS_H_DELETED, BUS_KEY_TEXT, on_netcheck},
	{BUS_T_DataplaneState, BUS_H_STATE, BUS_KEY_TEXT, on_dataplane_state},
	{BUS_T_PathChanged, BUS_H_STATE, BUS_KEY_NODE, on_own_path},
	{BUS_T_Prefs, BUS_H_STATE, BUS_KEY_TEXT, on_prefs},
	{BUS_T_SelfKeys, BUS_H_STATE, BUS_KEY_TEXT, on_self_keys},
};

static void on_packets(void *arg, uint64_t now_ns)
{
	static uint8_t buf[PKTCHAN_MAX_PAYLOAD_BYTES];
	struct ctx *x = arg;

	(void)now_ns; /* each packet takes the clock as it is read */
	for (int i = 0; i < CHAN_DRAIN; i++) {
		struct pktchan_hdr h;
		size_t n;
		int rc = pktchan_recv(x->comp.chan, &h, buf, sizeof(buf), &n);
		uint64_t now = clock_mono_ns();
		char from[ADDR_TEXT_MAX] = "DERP";
		if (rc == -EAGAIN)
			return;
		if (rc < 0)
			continue;
		if (h.kind == PKTCHAN_UDP_RECV) {
			rc = dsc_on_udp(&x->d, h.sock, &h.addr, buf, n, now);
			ipport_format(&h.addr, from, sizeof(from));
		} else if (h.kind == PKTCHAN_DERP_RECV) {
			struct key32 k;
			memcpy(k.b, h.key, KEY_LEN);
			rc = dsc_on_derp(&x->d, &k, h.region, buf, n, now);
		} else {
			continue;
		}
		log_debug("%zu bytes from %s: %d", n, from, rc);
		/* More pongs of a birthday round than the one that decided it
		 * are expected (several mappings met), and so is a ProbeMe from
		 * a peer as hard as we are: not worth a warning. */
		if (rc < 0 && rc != DSC_DROP_BDAY_LATE && rc != DSC_DROP_PROBE_ME_HARD)
			log_rl(&x->rl, now, LOG_LEVEL_WARN, "disco packet from %s dropped: %s",
			       from, dsc_strerror(rc));
	}
}

static uint64_t deadline(void *arg, uint64_t now)
{
	return dsc_deadline(&((struct ctx *)arg)->d, now);
}

static void counts_pb(Msock__DiscoStats__Counts *c, const uint64_t n[DSC_MT_COUNT])
{
	msock__disco_stats__counts__init(c);
	c->ping = n[DSC_MT_PING];
	c->pong = n[DSC_MT_PONG];
	c->call_me_maybe = n[DSC_MT_CALL_ME_MAYBE];
	c->probe_me = n[DSC_MT_PROBE_ME];
	c->other = n[DSC_MT_OTHER];
}

/* DiscoStats (key "self"): the message counters, when one moved, at most
 * every COMPONENT_STATS_MS as the bus's own (BusStats); and once at start,
 * so that a restarted disco's counters, back at 0, replace the last run's
 * (Prometheus reads that as a counter reset). */
static void publish_stats(struct ctx *x, uint64_t now)
{
	const struct dsc_stats *s = &x->d.stats;
	const uint64_t *dr = s->dropped;
	Msock__DiscoStats m = MSOCK__DISCO_STATS__INIT;
	Msock__DiscoStats__Counts c[4];
	Msock__DiscoStats__Dropped d = MSOCK__DISCO_STATS__DROPPED__INIT;

	if (x->stats_ns && (now - x->stats_ns < (uint64_t)COMPONENT_STATS_MS * NS_PER_MS ||
			    memcmp(s, &x->stats_published, sizeof(*s)) == 0))
		return;
	x->stats_ns = now;
	x->stats_published = *s;
	counts_pb(&c[0], s->sent[DSC_PATH_UDP]);
	counts_pb(&c[1], s->sent[DSC_PATH_DERP]);
	counts_pb(&c[2], s->received[DSC_PATH_UDP]);
	counts_pb(&c[3], s->received[DSC_PATH_DERP]);
	m.sent_udp = &c[0];
	m.sent_derp = &c[1];
	m.received_udp = &c[2];
	m.received_derp = &c[3];
	d.bad_packet = dr[DSC_DR_BAD_PACKET];
	d.zero_key = dr[DSC_DR_ZERO_KEY];
	d.unknown_sender = dr[DSC_DR_UNKNOWN_SENDER];
	d.derp_mismatch = dr[DSC_DR_DERP_MISMATCH];
	d.bad_box = dr[DSC_DR_BAD_BOX];
	d.unknown_type = dr[DSC_DR_UNKNOWN_TYPE];
	d.bad_message = dr[DSC_DR_BAD_MESSAGE];
	d.unhandled = dr[DSC_DR_UNHANDLED];
	d.wrong_node_key = dr[DSC_DR_WRONG_NODE_KEY];
	d.unsolicited_pong = dr[DSC_DR_UNSOLICITED_PONG];
	d.pong_wrong_addr = dr[DSC_DR_PONG_WRONG_ADDR];
	d.probe_me_refused = dr[DSC_DR_PROBE_ME_REFUSED];
	d.probe_me_hard_nat = dr[DSC_DR_PROBE_ME_HARD];
	d.late_birthday_pong = dr[DSC_DR_BDAY_LATE];
	d.seal_failed = dr[DSC_DR_SEAL_FAILED];
	m.dropped = &d;
	m.cmm_unusable_endpoints = s->cmm_unusable_eps;
	m.cmm_endpoints_capped = s->cmm_capped;
	bus_state_set(x->comp.bus, BUS_T_DiscoStats, "self", &m.base);
}

static void tick(void *arg, uint64_t now)
{
	struct ctx *x = arg;

	dsc_tick(&x->d, now);
	publish_stats(x, now);
}

static int load_key(const char *path, struct key32 *priv)
{
	char err[512];
	bool created;

	if (!path || !path[0]) {
		log_error("no disco key file: set disco_key_file in the config");
		return -EINVAL;
	}
	/* First start: a new disco key, kept so that a restart does not
	 * invalidate what peers were told. */
	if (key_file_load_or_create(path, priv, &created, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -EIO;
	}
	if (created)
		log_info("created the disco key %s", path);
	return 0;
}

int main(int argc, char **argv)
{
	static struct ctx x;
	struct key32 priv, pub;
	struct dsc_io io = {.send_udp = send_udp,
			    .send_derp = send_derp,
			    .pong = on_pong,
			    .path = on_path,
			    .event = on_event,
			    .arg = &x};
	Msock__SelfKeys sk = MSOCK__SELF_KEYS__INIT;
	char text[KEY_TEXT_MAX];
	int rc = 1;

	if (component_init(&x.comp, "disco", &argc, argv) < 0 || argc > 1)
		return 2;
	log_ratelimit_init(&x.rl, LOG_EVERY_MS);
	if (load_key(x.comp.key_file, &priv) < 0 || key_public(&priv, &pub) < 0)
		return 1;
	if (component_sandbox(&x.comp, 0, 0) < 0)
		return 1;
	if (x.comp.selftest)
		return sandbox_selftest(x.comp.selftest);
	if (component_signals(&x.comp) < 0)
		return 1;
	dsc_init(&x.d, &priv, &pub, &io, &dsc_rng_sodium);
	sodium_memzero(&priv, sizeof(priv));
	if (component_connect(&x.comp, handlers, sizeof(handlers) / sizeof(handlers[0]), &x) < 0)
		goto out;
	sk.disco_key.data = pub.b;
	sk.disco_key.len = KEY_LEN;
	/* Keyed by our program, the key's holder in the process table. */
	bus_state_set(x.comp.bus, BUS_T_SelfKeys, x.comp.proc->program, &sk.base);
	/* Peers first, then the paths we had published (adopted as they are),
	 * then what moves. */
	x.adopting = true;
	if (component_subscribe(&x.comp,
				(const char *const[]){BUS_T_NodeViewsUpdate, BUS_T_SelfKeys,
						      BUS_T_Prefs, BUS_T_Endpoints,
						      BUS_T_NetcheckReport, 0}) < 0 ||
	    component_subscribe(&x.comp, (const char *const[]){BUS_T_PathChanged, 0}) < 0)
		goto out;
	x.adopting = false;
	if (component_subscribe(&x.comp,
				(const char *const[]){BUS_T_DataplanePeer, BUS_T_PingRequest,
						      BUS_T_DataplaneState, 0}) < 0)
		goto out;
	key_format(KEY_KIND_DISCO_PUBLIC, &pub, text, sizeof(text));
	log_info("disco key %.20s..., %zu peers", text, x.d.n_peers);
	rc = component_run(&x.comp,
			   &(const struct component_ops){
				   .packets = on_packets, .deadline = deadline, .tick = tick},
			   &x) < 0
		     ? 1
		     : 0;
out:
	dsc_free(&x.d);
	component_close(&x.comp);
	return rc;
}

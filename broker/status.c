/* status: what `msockctl status` shows, as JSON (docs/status-json.md):
 * Self, Netcheck, Peer, Components and Bus, read from the state cache, the
 * children table and the bus counters; and broker_cached, the state cache's
 * values decoded (control.c's wg-config and ping read them too). */
#include "broker.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "clock.h"
#include "endpoint_pb.h"
#include "netmap.pb-c.h"
#include "pb_field.h"
#include "state.pb-c.h"

enum {
	/* Numbers that are not integers are thousandths (thousandths()),
	 * printed with 15 significant digits: as rounded (38.677, not
	 * 38.676999999999999) up to 10^12 units. */
	STATUS_REAL_DIGITS = 15,
};

static void hex_key(const uint8_t *k, size_t len, const char *prefix, char *out, size_t cap)
{
	size_t n = (size_t)snprintf(out, cap, "%s", len == KEY_LEN ? prefix : "");

	for (size_t i = 0; len == KEY_LEN && i < len && n + 2 < cap; i++)
		n += (size_t)snprintf(out + n, cap - n, "%02x", k[i]);
}

/* Non-integers in status have 3 decimals: seconds to the ms, milliseconds
 * to the us (the resolution of their sources). n is in thousandths. */
static json_t *thousandths(uint64_t n)
{
	return json_real((double)n / 1000);
}

/* ns as seconds, to the ms (rounded). */
static json_t *seconds(uint64_t ns)
{
	return thousandths((ns + NS_PER_MS / 2) / NS_PER_MS);
}

static json_t *endpoint_json(const Msock__Endpoint *e)
{
	struct ipport a;
	char text[ADDR_TEXT_MAX];

	if (endpoint_pb_to_ipport(e, &a) < 0)
		return json_null();
	ipport_format(&a, text, sizeof(text));
	return json_string(text);
}

ProtobufCMessage *broker_cached(struct broker *b, const char *topic, const char *key,
				const ProtobufCMessageDescriptor *d)
{
	const struct state_entry *e = state_cache_get(b->cache, topic, key);

	return e ? protobuf_c_message_unpack(d, 0, e->len, e->body) : 0;
}

/* The SelfKeys its holder published: keyed by the program of the row that
 * holds key k (lib/proctab.h). */
static Msock__SelfKeys *self_keys(struct broker *b, enum proc_key k)
{
	const struct proc *p = proctab_key_holder(k);

	return p ? (Msock__SelfKeys *)broker_cached(b, BUS_T_SelfKeys, p->program,
						    &msock__self_keys__descriptor)
		 : 0;
}

/* Self.DERP: one entry per region the derp service knows, keyed by id. */
static void derp_region_json(void *arg, const struct state_entry *e)
{
	json_t *all = arg, *r;
	char key[KEY_TEXT_MAX] = "";
	Msock__DERPRegionState *st;

	if (strcmp(e->topic, BUS_T_DERPRegionState) != 0)
		return;
	st = (Msock__DERPRegionState *)protobuf_c_message_unpack(
		&msock__derpregion_state__descriptor, 0, e->len, e->body);
	if (!st)
		return;
	hex_key(st->server_key.data, st->server_key.len, "nodekey:", key, sizeof(key));
	r = json_pack("{s:s,s:b,s:s,s:s,s:s,s:I,s:I}", "State", st->state, "Home", st->home, "Node",
		      st->node, "ServerKey", key, "LastError", st->last_error, "PacketsSent",
		      (json_int_t)st->packets_sent, "PacketsReceived",
		      (json_int_t)st->packets_received);
	json_object_set_new(all, e->key, r);
	protobuf_c_message_free_unpacked(&st->base, 0);
}

/* Self.Dataplane: the dataplane's sockets and drop counters. */
static json_t *dataplane_json(struct broker *b)
{
	Msock__DataplaneState *s = (Msock__DataplaneState *)broker_cached(
		b, BUS_T_DataplaneState, "self", &msock__dataplane_state__descriptor);
	json_t *j;

	if (!s)
		return json_null();
	j = json_pack("{s:i,s:b,s:i,s:i,s:b,s:b,s:i,s:i,s:i}", "Port", (int)s->port, "IPv6",
		      s->ipv6, "WGEndpointPort", (int)s->wg_endpoint_port, "WGListenPort",
		      (int)s->wg_listen_port, "GSO", s->gso, "GRO", s->gro, "RcvBuf",
		      (int)s->rcvbuf, "SndBuf", (int)s->sndbuf, "Peers", (int)s->peers);
	json_t *c = json_pack(
		"{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "RxPackets",
		(json_int_t)s->rx_packets, "TxPackets", (json_int_t)s->tx_packets, "RxBatches",
		(json_int_t)s->rx_batches, "GSOSends", (json_int_t)s->gso_sends, "RxSTUN",
		(json_int_t)s->rx_stun, "RxDisco", (json_int_t)s->rx_disco, "RxDiscoJunk",
		(json_int_t)s->rx_disco_junk, "RxGeneve", (json_int_t)s->rx_geneve,
		"RxUnknownSource", (json_int_t)s->rx_unknown_source, "WGBadSource",
		(json_int_t)s->wg_bad_source, "WGNoPeer", (json_int_t)s->wg_no_peer, "WGNoPort",
		(json_int_t)s->wg_no_port, "TxErrors", (json_int_t)s->tx_errors, "ChanDrops",
		(json_int_t)s->chan_drops, "DERPUnknownPeer", (json_int_t)s->derp_unknown_peer);
	/* Birthday punching's probe sockets (services/dataplane/probe.c). */
	json_object_set_new(j, "ProbeSockets", json_integer(s->probe_sockets));
	json_object_set_new(c, "ProbeOpened", json_integer((json_int_t)s->probe_opened));
	json_object_set_new(c, "ProbeErrors", json_integer((json_int_t)s->probe_errors));
	/* Packet capture (services/dataplane/capture.c; docs/capture.md). */
	json_object_set_new(j, "CaptureOpen", json_boolean(s->capture_open));
	json_object_set_new(c, "CaptureRecords", json_integer((json_int_t)s->capture_records));
	json_object_set_new(c, "CaptureDrops", json_integer((json_int_t)s->capture_drops));
	json_object_set_new(j, "Counters", c);
	protobuf_c_message_free_unpacked(&s->base, 0);
	return j;
}

/* The uint64 fields of msg (NULL: all 0) as an object, each keyed by its
 * field name in CamelCase (call_me_maybe: CallMeMaybe), as the rest of
 * status is. */
static json_t *counters_json(const ProtobufCMessageDescriptor *d, const ProtobufCMessage *msg)
{
	json_t *j = json_object();

	for (unsigned i = 0; i < d->n_fields; i++) {
		const char *f = d->fields[i].name;
		char key[64];
		size_t n = 0;
		for (bool up = true; *f && n + 1 < sizeof(key); f++) {
			if (*f == '_') {
				up = true;
				continue;
			}
			key[n++] = up && *f >= 'a' && *f <= 'z' ? (char)(*f - 'a' + 'A') : *f;
			up = false;
		}
		key[n] = 0;
		json_object_set_new(j, key,
				    json_integer((json_int_t)pb_field_u64(msg, &d->fields[i])));
	}
	return j;
}

static json_t *disco_counts_json(const Msock__DiscoStats__Counts *c)
{
	return counters_json(&msock__disco_stats__counts__descriptor, c ? &c->base : 0);
}

/* Self.Disco: disco's message counters (DiscoStats): sent and received by
 * path and type, dropped by reason; null until disco publishes them. */
static json_t *disco_json(struct broker *b)
{
	Msock__DiscoStats *s = (Msock__DiscoStats *)broker_cached(b, BUS_T_DiscoStats, "self",
								  &msock__disco_stats__descriptor);
	json_t *j;

	if (!s)
		return json_null();
	j = json_pack("{s:{s:o,s:o},s:{s:o,s:o},s:o,s:I,s:I}", "Sent", "UDP",
		      disco_counts_json(s->sent_udp), "DERP", disco_counts_json(s->sent_derp),
		      "Received", "UDP", disco_counts_json(s->received_udp), "DERP",
		      disco_counts_json(s->received_derp), "Dropped",
		      counters_json(&msock__disco_stats__dropped__descriptor,
				    s->dropped ? &s->dropped->base : 0),
		      "CallMeMaybeEndpointsUnusable", (json_int_t)s->cmm_unusable_endpoints,
		      "CallMeMaybeEndpointsCapped", (json_int_t)s->cmm_endpoints_capped);
	protobuf_c_message_free_unpacked(&s->base, 0);
	return j;
}

static void mapping_json(void *arg, const struct state_entry *e)
{
	struct broker *b = ((void **)arg)[0];
	json_t *arr = ((void **)arg)[1];
	Msock__PortMapping *m;

	if (strcmp(e->topic, BUS_T_PortMapping) != 0)
		return;
	m = msock__port_mapping__unpack(0, e->len, e->body);
	if (!m)
		return;
	json_array_append_new(arr, json_pack("{s:s,s:o,s:i,s:o}", "Protocol", m->protocol,
					     "External", endpoint_json(m->external), "InternalPort",
					     (int)m->internal_port, "ExpiresInSec",
					     seconds(m->expires_mono_ns > b->now_ns
							     ? m->expires_mono_ns - b->now_ns
							     : 0)));
	msock__port_mapping__free_unpacked(m, 0);
}

static json_t *self_json(struct broker *b)
{
	json_t *self = json_object(), *eps = json_array(), *types = json_array(),
	       *derp = json_object();
	Msock__SelfKeys *nk = self_keys(b, PROC_KEY_NODE), *dk = self_keys(b, PROC_KEY_DISCO);
	Msock__Endpoints *ep = (Msock__Endpoints *)broker_cached(b, BUS_T_Endpoints, "self",
								 &msock__endpoints__descriptor);
	Msock__HomeDERP *home = (Msock__HomeDERP *)broker_cached(b, BUS_T_HomeDERP, "self",
								 &msock__home_derp__descriptor);
	char text[KEY_TEXT_MAX] = "";

	if (nk)
		hex_key(nk->node_key.data, nk->node_key.len, "nodekey:", text, sizeof(text));
	json_object_set_new(self, "NodeKey", json_string(text));
	text[0] = 0;
	if (dk)
		hex_key(dk->disco_key.data, dk->disco_key.len, "discokey:", text, sizeof(text));
	json_object_set_new(self, "DiscoKey", json_string(text));
	for (size_t i = 0; ep && i < ep->n_endpoints; i++) {
		json_array_append_new(eps, endpoint_json(ep->endpoints[i]));
		json_array_append_new(types,
				      json_string(endpoint_type_name(ep->endpoints[i]->type)));
	}
	json_object_set_new(self, "Endpoints", eps);
	json_object_set_new(self, "EndpointTypes", types);
	json_object_set_new(self, "HomeDERP", json_integer(home ? home->region_id : 0));
	Msock__NetworkState *net = (Msock__NetworkState *)broker_cached(
		b, BUS_T_NetworkState, "self", &msock__network_state__descriptor);
	json_object_set_new(self, "NetworkUp", json_boolean(!net || net->up));
	json_object_set_new(self, "LinkChanges", json_integer(net ? (json_int_t)net->changes : 0));
	if (net)
		protobuf_c_message_free_unpacked(&net->base, 0);
	state_cache_foreach(b->cache, BUS_T_DERPRegionState, derp_region_json, derp);
	json_object_set_new(self, "DERP", derp);
	json_object_set_new(self, "Dataplane", dataplane_json(b));
	json_object_set_new(self, "Disco", disco_json(b));
	json_t *maps = json_array();
	void *mctx[2] = {b, maps};
	state_cache_foreach(b->cache, BUS_T_PortMapping, mapping_json, mctx);
	json_object_set_new(self, "PortMappings", maps);
	if (nk)
		protobuf_c_message_free_unpacked(&nk->base, 0);
	if (dk)
		protobuf_c_message_free_unpacked(&dk->base, 0);
	if (ep)
		protobuf_c_message_free_unpacked(&ep->base, 0);
	if (home)
		protobuf_c_message_free_unpacked(&home->base, 0);
	return self;
}

struct peers_ctx {
	struct broker *b;
	json_t *peers;
};

/* Region id's code (its id when the map has none); *stun_only (may be
 * NULL) whether every node of it is STUN-only: a STUN server such as
 * coturn, no DERP relay. One lookup of the cached DERPMap for both. */
static void region_code(struct broker *b, uint32_t id, char *out, size_t cap, bool *stun_only)
{
	char key[16];
	Msock__DERPMap *r;

	snprintf(key, sizeof(key), "%u", id);
	r = (Msock__DERPMap *)broker_cached(b, BUS_T_DERPMap, key, &msock__derpmap__descriptor);
	snprintf(out, cap, "%s", r && r->region_code[0] ? r->region_code : key);
	if (stun_only) {
		*stun_only = r && r->n_nodes > 0;
		for (size_t i = 0; r && i < r->n_nodes; i++)
			if (!r->nodes[i]->stun_only)
				*stun_only = false;
	}
	if (r)
		protobuf_c_message_free_unpacked(&r->base, 0);
}

static void latency_json(struct broker *b, json_t *lat, const Msock__RegionLatency *r)
{
	char id[16], code[CFG_NAME_MAX];
	bool stun_only;

	snprintf(id, sizeof(id), "%u", r->region_id);
	region_code(b, r->region_id, code, sizeof(code), &stun_only);
	json_object_set_new(lat, id,
			    json_pack("{s:s,s:o,s:b}", "Code", code, "LatencyMs",
				      thousandths(r->latency_us), "STUNOnly", stun_only));
}

/* The latest netcheck report (net/netcheck.Report), null before the first. */
static json_t *netcheck_json(struct broker *b)
{
	Msock__NetcheckReport *r = (Msock__NetcheckReport *)broker_cached(
		b, BUS_T_NetcheckReport, "last", &msock__netcheck_report__descriptor);
	json_t *j, *lat = json_object();

	if (!r) {
		json_decref(lat);
		return json_null();
	}
	for (size_t i = 0; i < r->n_region_latency; i++)
		latency_json(b, lat, r->region_latency[i]);
	j = json_pack("{s:b,s:b,s:b,s:o,s:o,s:b,s:i,s:o,s:b,s:b,s:b,s:b,s:I}", "UDP", r->udp,
		      "IPv4", r->ipv4, "IPv6", r->ipv6, "GlobalV4",
		      r->global_v4 ? endpoint_json(r->global_v4) : json_string(""), "GlobalV6",
		      r->global_v6 ? endpoint_json(r->global_v6) : json_string(""),
		      "MappingVariesByDestIP", r->mapping_varies_by_dest_ip, "PreferredDERP",
		      (int)r->preferred_derp, "RegionLatency", lat, "CaptivePortal",
		      r->captive_portal, "UPnP", r->upnp, "PMP", r->pmp, "PCP", r->pcp, "AtUnixMs",
		      (json_int_t)r->at_unix_ms);
	protobuf_c_message_free_unpacked(&r->base, 0);
	return j;
}

/* The dataplane's path, except that a peer without a disco key is
 * WireGuard only (magicsock's isWireguardOnly): no discovery, nothing ever
 * answers, and its "direct" path is its first static endpoint. */
static const char *peer_path(const Msock__NodeView *n, const Msock__DataplanePeer *dp)
{
	if (!dp)
		return "none";
	if (n->disco_key.len != KEY_LEN && dp->path && strcmp(dp->path, "direct") == 0)
		return "static";
	return dp->path;
}

/* A dataplane time (CLOCK_MONOTONIC ns, 0 = never) as a time of day, the
 * way every time in status is written (unix ms), or null. */
static json_t *unix_ms_of(const struct broker *b, uint64_t mono_ns, uint64_t now_unix_ms)
{
	uint64_t ago_ms = mono_ns < b->now_ns ? (b->now_ns - mono_ns) / NS_PER_MS : 0;

	if (!mono_ns || ago_ms > now_unix_ms)
		return json_null();
	return json_integer((json_int_t)(now_unix_ms - ago_ms));
}

/* LastRecvUnixMs, LastSendUnixMs (magicsock's LastRecvActivityOfNodeKey,
 * and its send side) and IdleSec: since the later of the two, null when
 * neither happened (IdleFunc, per peer). */
static void activity_json(const struct broker *b, json_t *p, const Msock__DataplanePeer *dp)
{
	uint64_t rx = dp ? dp->last_rx_mono_ns : 0, tx = dp ? dp->last_tx_mono_ns : 0;
	uint64_t last = rx > tx ? rx : tx, now_unix_ms = clock_unix_ms();

	json_object_set_new(p, "LastRecvUnixMs", unix_ms_of(b, rx, now_unix_ms));
	json_object_set_new(p, "LastSendUnixMs", unix_ms_of(b, tx, now_unix_ms));
	json_object_set_new(p, "IdleSec",
			    last ? seconds(last < b->now_ns ? b->now_ns - last : 0) : json_null());
}

static void peer_json(void *arg, const struct state_entry *e)
{
	struct peers_ctx *pc = arg;
	Msock__NodeViewsUpdate *up;
	Msock__PathChanged *path;
	Msock__DataplanePeer *dp;
	json_t *p, *static_eps;
	char nk[KEY_TEXT_MAX], dk[KEY_TEXT_MAX] = "", relay[CFG_NAME_MAX] = "";

	if (strcmp(e->topic, BUS_T_NodeViewsUpdate) != 0)
		return;
	up = (Msock__NodeViewsUpdate *)protobuf_c_message_unpack(
		&msock__node_views_update__descriptor, 0, e->len, e->body);
	if (!up || !up->node) {
		if (up)
			protobuf_c_message_free_unpacked(&up->base, 0);
		return;
	}
	path = (Msock__PathChanged *)broker_cached(pc->b, BUS_T_PathChanged, e->key,
						   &msock__path_changed__descriptor);
	hex_key(up->node->node_key.data, up->node->node_key.len, "nodekey:", nk, sizeof(nk));
	hex_key(up->node->disco_key.data, up->node->disco_key.len, "discokey:", dk, sizeof(dk));
	p = json_object();
	json_object_set_new(p, "Name", json_string(up->node->name));
	json_object_set_new(p, "NodeKey", json_string(nk));
	json_object_set_new(p, "DiscoKey", json_string(dk));
	static_eps = json_array();
	for (size_t i = 0; i < up->node->n_endpoints; i++)
		json_array_append_new(static_eps, endpoint_json(up->node->endpoints[i]));
	json_object_set_new(p, "StaticEndpoints", static_eps);
	json_object_set_new(p, "HomeDERP", json_integer(up->node->home_derp));
	json_object_set_new(p, "CurAddr",
			    path && path->direct ? endpoint_json(path->direct) : json_string(""));
	if (path && path->derp_region)
		region_code(pc->b, path->derp_region, relay, sizeof(relay), 0);
	json_object_set_new(p, "Relay", json_string(relay));
	dp = (Msock__DataplanePeer *)broker_cached(pc->b, BUS_T_DataplanePeer, e->key,
						   &msock__dataplane_peer__descriptor);
	json_object_set_new(p, "LocalEndpoint", dp ? endpoint_json(dp->local) : json_string(""));
	json_object_set_new(p, "Path", json_string(peer_path(up->node, dp)));
	json_object_set_new(p, "DirectAddr",
			    dp && dp->direct ? endpoint_json(dp->direct) : json_string(""));
	json_object_set_new(p, "LocalSocket", json_integer(dp ? dp->local_socket : 0));
	json_object_set_new(p, "LocalPort", json_integer(dp ? dp->local_port : 0));
	json_object_set_new(p, "RxBytes", json_integer(dp ? (json_int_t)dp->rx_bytes : 0));
	json_object_set_new(p, "TxBytes", json_integer(dp ? (json_int_t)dp->tx_bytes : 0));
	json_object_set_new(p, "RxPackets", json_integer(dp ? (json_int_t)dp->rx_packets : 0));
	json_object_set_new(p, "TxPackets", json_integer(dp ? (json_int_t)dp->tx_packets : 0));
	json_object_set_new(p, "TxDERPPackets",
			    json_integer(dp ? (json_int_t)dp->tx_derp_packets : 0));
	json_object_set_new(p, "RxDERPPackets",
			    json_integer(dp ? (json_int_t)dp->rx_derp_packets : 0));
	activity_json(pc->b, p, dp);
	/* disco's path changes (magicsock's GetEndpointChanges). */
	json_t *changes = json_array();
	Msock__PathHistory *hist = (Msock__PathHistory *)broker_cached(
		pc->b, BUS_T_PathHistory, e->key, &msock__path_history__descriptor);
	for (size_t i = 0; hist && i < hist->n_changes; i++) {
		const Msock__PathHistory__Change *c = hist->changes[i];
		json_array_append_new(
			changes,
			json_pack("{s:I,s:o,s:o}", "AtUnixMs", (json_int_t)c->at_unix_ms, "Path",
				  c->direct ? endpoint_json(c->direct) : json_string("derp"),
				  "LatencyMs", thousandths(c->latency_us)));
	}
	if (hist)
		protobuf_c_message_free_unpacked(&hist->base, 0);
	json_object_set_new(p, "EndpointChanges", changes);
	/* The last pong disco got (msockctl ping reads it). */
	Msock__DiscoPong *pong = (Msock__DiscoPong *)broker_cached(pc->b, BUS_T_DiscoPong, e->key,
								   &msock__disco_pong__descriptor);
	if (pong) {
		char via[CFG_NAME_MAX + 8] = "";
		json_t *v = pong->via ? endpoint_json(pong->via) : 0;
		if (!v) {
			char code[CFG_NAME_MAX];
			region_code(pc->b, pong->derp_region, code, sizeof(code), 0);
			snprintf(via, sizeof(via), "DERP(%s)", code);
			v = json_string(via);
		}
		json_object_set_new(p, "LastPong",
				    json_pack("{s:o,s:o,s:I}", "Via", v, "LatencyMs",
					      thousandths(pong->latency_us), "AtUnixMs",
					      (json_int_t)pong->at_unix_ms));
		protobuf_c_message_free_unpacked(&pong->base, 0);
	} else {
		json_object_set_new(p, "LastPong", json_null());
	}
	json_object_set_new(p, "LatencyMs",
			    path && path->latency_us ? thousandths(path->latency_us) : json_null());
	json_object_set_new(pc->peers, nk, p);
	if (dp)
		protobuf_c_message_free_unpacked(&dp->base, 0);
	if (path)
		protobuf_c_message_free_unpacked(&path->base, 0);
	protobuf_c_message_free_unpacked(&up->base, 0);
}

/* What the component's side of the bus dropped (BusStats it published,
 * key <program>/<name>), or null before it published any. */
static json_t *bus_stats_json(struct broker *b, const struct child *ch)
{
	char key[CFG_NAME_MAX * 2 + 2];
	Msock__BusStats *m;
	json_t *o;

	snprintf(key, sizeof(key), "%s/%s", ch->comp.program, ch->comp.name);
	m = (Msock__BusStats *)broker_cached(b, BUS_T_BusStats, key, &msock__bus_stats__descriptor);
	if (!m)
		return json_null();
	o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "EventsIn",
		      (json_int_t)m->events_in, "StateIn", (json_int_t)m->state_in, "BadFrames",
		      (json_int_t)m->bad_frames, "UnknownTopic", (json_int_t)m->unknown_topic,
		      "BadBody", (json_int_t)m->bad_body, "Stale", (json_int_t)m->stale, "Gaps",
		      (json_int_t)m->gaps, "Resyncs", (json_int_t)m->resyncs, "Refused",
		      (json_int_t)m->refused, "SnapshotTimeouts", (json_int_t)m->snapshot_timeouts,
		      "BadKey", (json_int_t)m->bad_key, "NoHandler", (json_int_t)m->no_handler,
		      "BrokerRestarts", (json_int_t)m->broker_restarts);
	protobuf_c_message_free_unpacked(&m->base, 0);
	return o;
}

static json_t *components_json(struct broker *b)
{
	json_t *all = json_object();

	for (size_t i = 0; i < b->n_children; i++) {
		const struct child *ch = &b->children[i];
		json_t *c = json_object();
		json_object_set_new(c, "Program", json_string(ch->comp.program));
		json_object_set_new(c, "PID", json_integer(ch->sup.pid));
		json_object_set_new(c, "State", json_string(broker_child_state_name(b, ch)));
		json_object_set_new(c, "Supervisor", json_string(ch->supervisor));
		json_object_set_new(c, "Restarts", json_integer(ch->sup.restarts));
		json_object_set_new(
			c, "UptimeSec",
			seconds(ch->sup.state == SUP_RUNNING ? b->now_ns - ch->sup.started_ns : 0));
		json_object_set_new(c, "LastExit", json_string(ch->sup.last_exit));
		json_object_set_new(c, "Bus", bus_stats_json(b, ch));
		/* The config generation this run of it applied (reload --wait). */
		json_object_set_new(c, "ConfigGeneration",
				    json_integer(ch->applied_ns >= ch->sup.started_ns
							 ? (json_int_t)ch->applied_gen
							 : 0));
		json_object_set_new(all, ch->comp.name, c);
	}
	return all;
}

static json_t *bus_json(struct broker *b)
{
	const struct bus_counters *c = &b->ctr;

	return json_pack(
		"{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "EventsForwarded",
		(json_int_t)c->events_forwarded, "BadFrames", (json_int_t)c->bad_frames,
		"UnknownTopic", (json_int_t)c->unknown_topic, "BadBody", (json_int_t)c->bad_body,
		"WrongChannel", (json_int_t)c->wrong_channel, "StateSet", (json_int_t)c->state_set,
		"StateUnchanged", (json_int_t)c->state_unchanged, "StateDeleted",
		(json_int_t)c->state_deleted, "StateRefused", (json_int_t)c->state_refused,
		"Snapshots", (json_int_t)c->snapshots, "Disconnects", (json_int_t)c->disconnects,
		"UnknownPeer", (json_int_t)c->unknown_peer, "WrongOwner",
		(json_int_t)c->wrong_owner, "StateKeys", (json_int_t)state_cache_count(b->cache));
}

char *broker_status_json(struct broker *b)
{
	json_t *root = json_object();
	struct peers_ctx pc = {b, json_object()};
	uint64_t health_ignored;
	char *text;

	json_object_set_new(root, "Version", json_string("msock " MSOCK_VERSION));
	json_object_set_new(root, "BackendState",
			    json_string(b->stopping ? "Stopping" : "Running"));
	json_object_set_new(root, "ConfigFile", json_string(b->cfg->path));
	json_object_set_new(
		root, "Supervise",
		json_string(b->cfg->supervise == CFG_SUPERVISE_EXTERNAL ? "external" : "broker"));
	json_object_set_new(root, "UptimeSec", seconds(b->now_ns - b->started_ns));
	json_object_set_new(root, "ConfigGeneration", json_integer((json_int_t)b->config_gen));
	json_object_set_new(root, "Self", self_json(b));
	json_object_set_new(root, "Netcheck", netcheck_json(b));
	state_cache_foreach(b->cache, BUS_T_NodeViewsUpdate, peer_json, &pc);
	json_object_set_new(root, "Peer", pc.peers);
	json_object_set_new(root, "Components", components_json(b));
	json_object_set_new(root, "Capture", broker_capture_json(b));
	json_object_set_new(root, "Bus", bus_json(b));
	/* The components' and the broker's warnings (health.c), as
	 * tailscale's Health; malformed values are counted, not shown. */
	json_object_set_new(root, "Health", broker_health_json(b, &health_ignored));
	json_object_set_new(root, "HealthIgnored", json_integer((json_int_t)health_ignored));
	text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS |
					JSON_REAL_PRECISION(STATUS_REAL_DIGITS));
	json_decref(root);
	return text;
}

/* dbg_model: what msock-debug keeps of the bus (dbg.h). The last value of
 * every state key it reads, copied out of the bus's message; per peer, a
 * ring of the dataplane's traffic counters as they were published and a
 * ring of marks: disco's pongs and path changes (DiscoPong, PathHistory),
 * the dataplane's failovers to DERP and its returns to the direct path
 * (DataplanePeer.path), msockctl's pings (PingRequest). No timers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dbg.h"
#include "endpoint_pb.h"

static const double gap_bounds[DBG_GAP_NBUCKETS] = DBG_GAP_BUCKETS;

void dbg_model_init(struct dbg_model *m, int64_t now_ms)
{
	memset(m, 0, sizeof(*m));
	keymap_init(&m->index, 32);
	m->started_ms = now_ms;
}

static void free_msg(void *msg)
{
	if (msg)
		protobuf_c_message_free_unpacked(msg, 0);
}

static void peer_free(struct dbg_peer *p)
{
	free_msg(p->view);
	free_msg(p->path);
	free_msg(p->pong);
	free_msg(p->history);
	free_msg(p->dp);
	free(p->samples);
}

void dbg_model_free(struct dbg_model *m)
{
	for (size_t i = 0; i < m->n_peers; i++)
		peer_free(&m->peers[i]);
	free(m->peers);
	for (size_t i = 0; i < m->n_kv; i++)
		free_msg(m->kv[i].msg);
	free(m->kv);
	keymap_free(&m->index);
	memset(m, 0, sizeof(*m));
}

/* The bus's message is valid during its callback only: keep a copy. */
static ProtobufCMessage *dup_msg(const ProtobufCMessage *msg)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(n ? n : 1);
	ProtobufCMessage *out;

	if (!buf)
		return 0;
	protobuf_c_message_pack(msg, buf);
	out = protobuf_c_message_unpack(msg->descriptor, 0, n, buf);
	free(buf);
	return out;
}

static void replace(void *slot, const ProtobufCMessage *msg, struct dbg_model *m)
{
	ProtobufCMessage **s = slot, *copy = msg ? dup_msg(msg) : 0;

	if (msg && !copy) {
		m->nomem++;
		return;
	}
	free_msg(*s);
	*s = copy;
}

struct dbg_peer *dbg_model_peer(const struct dbg_model *m, const uint8_t key[32])
{
	uint32_t i = keymap_get(&m->index, key);

	return i == KEYMAP_ABSENT ? 0 : &m->peers[i];
}

static struct dbg_peer *peer_add(struct dbg_model *m, const uint8_t key[32])
{
	struct dbg_peer *p = dbg_model_peer(m, key);

	if (p)
		return p;
	if (m->n_peers == DBG_MAX_PEERS) {
		m->dropped_peers++;
		return 0;
	}
	if (m->n_peers == m->cap_peers) {
		size_t cap = m->cap_peers ? m->cap_peers * 2 : 64;
		struct dbg_peer *n = realloc(m->peers, cap * sizeof(*n));
		if (!n) {
			m->nomem++;
			return 0;
		}
		m->peers = n;
		m->cap_peers = cap;
	}
	if (keymap_put(&m->index, key, (uint32_t)m->n_peers) < 0) {
		m->nomem++;
		return 0;
	}
	p = &m->peers[m->n_peers++];
	memset(p, 0, sizeof(*p));
	memcpy(p->key, key, 32);
	return p;
}

/* A peer gone from the netmap goes, with its rings. */
static void peer_del(struct dbg_model *m, const uint8_t key[32])
{
	uint32_t i = keymap_get(&m->index, key);

	if (i == KEYMAP_ABSENT)
		return;
	peer_free(&m->peers[i]);
	keymap_del(&m->index, key);
	if (i != m->n_peers - 1) {
		m->peers[i] = m->peers[m->n_peers - 1];
		keymap_put(&m->index, m->peers[i].key, i); /* replaces: never allocates */
	}
	m->n_peers--;
}

void dbg_lane_id(const struct dbg_lane *l, char *buf, size_t cap)
{
	char a[ADDR_TEXT_MAX];

	if (l->kind == DBG_LANE_DERP) {
		snprintf(buf, cap, "derp:%u", l->region);
		return;
	}
	ipport_format(&l->addr, a, sizeof(a));
	snprintf(buf, cap, "direct:%s", a);
}

static int lane_find(struct dbg_model *m, struct dbg_peer *p, enum dbg_lane_kind kind,
		     uint32_t region, const struct ipport *addr, int64_t now_ms)
{
	struct dbg_lane *l;

	for (unsigned i = 0; i < p->n_lanes; i++) {
		l = &p->lanes[i];
		if (l->kind == kind &&
		    (kind == DBG_LANE_DERP ? l->region == region : ipport_equal(&l->addr, addr)))
			return (int)i;
	}
	if (p->n_lanes == DBG_LANES_PER_PEER) {
		m->lanes_dropped++;
		return -1;
	}
	l = &p->lanes[p->n_lanes];
	memset(l, 0, sizeof(*l));
	l->kind = kind;
	l->region = region;
	if (addr)
		l->addr = *addr;
	l->first_ms = now_ms;
	return (int)p->n_lanes++;
}

/* The region the peer's DERP traffic goes through: disco's choice, or
 * the peer's home in the netmap. */
static uint32_t peer_region(const struct dbg_peer *p)
{
	if (p->path && p->path->derp_region)
		return p->path->derp_region;
	if (p->view && p->view->node)
		return p->view->node->home_derp;
	return 0;
}

static int derp_lane(struct dbg_model *m, struct dbg_peer *p, int64_t now_ms)
{
	uint32_t r = peer_region(p);

	return r ? lane_find(m, p, DBG_LANE_DERP, r, 0, now_ms) : -1;
}

static int direct_lane(struct dbg_model *m, struct dbg_peer *p, const Msock__Endpoint *e,
		       int64_t now_ms)
{
	struct ipport a;

	if (!e || endpoint_pb_to_ipport(e, &a) < 0)
		return -1;
	p->direct_v6 = a.family == AF_INET6;
	return lane_find(m, p, DBG_LANE_DIRECT, 0, &a, now_ms);
}

static void mark(struct dbg_peer *p, int64_t at_ms, enum dbg_mark_kind kind,
		 enum dbg_mark_source src, int lane, uint32_t latency_us)
{
	struct dbg_mark *k = &p->marks[(p->mark_head + p->n_marks) % DBG_MARKS_PER_PEER];

	if (p->n_marks == DBG_MARKS_PER_PEER) {
		k = &p->marks[p->mark_head];
		p->mark_head = (p->mark_head + 1) % DBG_MARKS_PER_PEER;
	} else {
		p->n_marks++;
	}
	*k = (struct dbg_mark){.at_ms = at_ms,
			       .kind = (uint8_t)kind,
			       .source = (uint8_t)src,
			       .lane = (int8_t)lane,
			       .latency_us = latency_us};
}

const struct dbg_mark *dbg_peer_mark(const struct dbg_peer *p, unsigned i)
{
	return i < p->n_marks ? &p->marks[(p->mark_head + i) % DBG_MARKS_PER_PEER] : 0;
}

const struct dbg_sample *dbg_peer_sample(const struct dbg_peer *p, unsigned i)
{
	return i < p->n_samples ? &p->samples[(p->sample_head + i) % DBG_SAMPLES_PER_PEER] : 0;
}

static enum dbg_dp_path dp_path_parse(const char *s)
{
	static const struct {
		const char *name;
		enum dbg_dp_path path;
	} names[] = {{"none", DBG_DP_NONE},
		     {"direct", DBG_DP_DIRECT},
		     {"direct+derp", DBG_DP_DIRECT_DERP},
		     {"derp", DBG_DP_DERP},
		     {"static", DBG_DP_STATIC}};

	for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].path;
	return DBG_DP_UNKNOWN;
}

const char *dbg_dp_path_name(enum dbg_dp_path p)
{
	switch (p) {
	case DBG_DP_NONE:
		return "none";
	case DBG_DP_DIRECT:
		return "direct";
	case DBG_DP_DIRECT_DERP:
		return "direct+derp";
	case DBG_DP_DERP:
		return "derp";
	case DBG_DP_STATIC:
		return "static";
	default:
		return "unknown";
	}
}

const char *dbg_mark_name(enum dbg_mark_kind k)
{
	switch (k) {
	case DBG_MARK_PING:
		return "ping";
	case DBG_MARK_PONG:
		return "pong";
	case DBG_MARK_CHANGE:
		return "change";
	case DBG_MARK_FAILOVER:
		return "failover";
	default:
		return "unknown";
	}
}

static bool relayed(uint8_t path)
{
	return path == DBG_DP_DIRECT_DERP || path == DBG_DP_DERP;
}

static void gap_observe(struct dbg_model *m, double s)
{
	m->gap_count++;
	m->gap_sum_s += s;
	for (int i = 0; i < DBG_GAP_NBUCKETS; i++)
		if (s <= gap_bounds[i])
			m->gap_buckets[i]++;
}

/* A DataplanePeer publication: a sample, and a mark when the path moved
 * between direct and DERP. */
static void on_dataplane_peer(struct dbg_model *m, struct dbg_peer *p, int64_t now_ms)
{
	const Msock__DataplanePeer *d = p->dp;
	enum dbg_dp_path path = dp_path_parse(d->path);
	bool has_direct =
		path == DBG_DP_DIRECT || path == DBG_DP_DIRECT_DERP || path == DBG_DP_STATIC;
	struct dbg_sample *s;
	int dl = has_direct ? direct_lane(m, p, d->direct, now_ms) : -1,
	    rl = derp_lane(m, p, now_ms);

	if (!p->samples && !(p->samples = calloc(DBG_SAMPLES_PER_PEER, sizeof(*p->samples)))) {
		m->nomem++;
		return;
	}
	if (p->n_samples) {
		const struct dbg_sample *prev = dbg_peer_sample(p, p->n_samples - 1);
		uint64_t drx = d->rx_packets - d->rx_derp_packets,
			 dtx = d->tx_packets - d->tx_derp_packets;
		/* Counters that went down: a dataplane restart; no traffic to draw. */
		if (d->rx_packets >= prev->rx && d->tx_packets >= prev->tx &&
		    d->rx_derp_packets >= prev->rx_derp && d->tx_derp_packets >= prev->tx_derp) {
			drx -= prev->rx - prev->rx_derp;
			dtx -= prev->tx - prev->tx_derp;
			if (dl >= 0) {
				p->lanes[dl].rx_packets += drx;
				p->lanes[dl].tx_packets += dtx;
			}
			if (rl >= 0) {
				p->lanes[rl].rx_packets += d->rx_derp_packets - prev->rx_derp;
				p->lanes[rl].tx_packets += d->tx_derp_packets - prev->tx_derp;
			}
		}
	}
	if (p->dp_path == DBG_DP_DIRECT && relayed((uint8_t)path)) {
		mark(p, now_ms, DBG_MARK_FAILOVER, DBG_SRC_DATAPLANE, rl, 0);
		m->failovers++;
		p->gap_open = true;
		p->gap_last_rx_mono_ns = d->last_rx_mono_ns;
		p->gap_rx_packets = d->rx_packets;
	} else if (p->dp_path && p->dp_path != path && path == DBG_DP_DIRECT) {
		mark(p, now_ms, DBG_MARK_CHANGE, DBG_SRC_DATAPLANE, dl, 0);
	}
	if (p->gap_open && d->rx_packets > p->gap_rx_packets &&
	    d->last_rx_mono_ns > p->gap_last_rx_mono_ns) {
		gap_observe(m, (double)(d->last_rx_mono_ns - p->gap_last_rx_mono_ns) / 1e9);
		p->gap_open = false;
	}
	p->dp_path = (uint8_t)path;
	if (p->n_samples == DBG_SAMPLES_PER_PEER)
		p->sample_head = (p->sample_head + 1) % DBG_SAMPLES_PER_PEER;
	else
		p->n_samples++;
	s = &p->samples[(p->sample_head + p->n_samples - 1) % DBG_SAMPLES_PER_PEER];
	*s = (struct dbg_sample){.at_ms = now_ms,
				 .rx = d->rx_packets,
				 .tx = d->tx_packets,
				 .rx_derp = d->rx_derp_packets,
				 .tx_derp = d->tx_derp_packets,
				 .direct_lane = (int8_t)dl,
				 .derp_lane = (int8_t)rl,
				 .path = (uint8_t)path};
}

/* PathHistory: each change newer than the last marked is a mark. */
static void on_history(struct dbg_model *m, struct dbg_peer *p, int64_t now_ms)
{
	for (size_t i = 0; i < p->history->n_changes; i++) {
		const Msock__PathHistory__Change *c = p->history->changes[i];
		int lane;
		if (c->at_unix_ms <= p->last_change_ms)
			continue;
		lane = c->direct ? direct_lane(m, p, c->direct, now_ms) : derp_lane(m, p, now_ms);
		mark(p, c->at_unix_ms, DBG_MARK_CHANGE, DBG_SRC_DISCO, lane, c->latency_us);
		p->last_change_ms = c->at_unix_ms;
		m->path_changes++;
	}
}

static void on_pong(struct dbg_model *m, struct dbg_peer *p, int64_t now_ms)
{
	const Msock__DiscoPong *g = p->pong;
	int lane;

	if (g->at_unix_ms <= p->last_pong_ms)
		return;
	p->last_pong_ms = g->at_unix_ms;
	if (g->via)
		lane = direct_lane(m, p, g->via, now_ms);
	else if (g->derp_region)
		lane = lane_find(m, p, DBG_LANE_DERP, g->derp_region, 0, now_ms);
	else
		lane = -1;
	mark(p, g->at_unix_ms, DBG_MARK_PONG, DBG_SRC_DISCO, lane, g->latency_us);
}

void dbg_model_ping(struct dbg_model *m, const uint8_t node_key[32], int64_t now_ms)
{
	struct dbg_peer *p = dbg_model_peer(m, node_key);

	m->pings++;
	if (p)
		mark(p, now_ms, DBG_MARK_PING, DBG_SRC_TOOL, -1, 0);
}

static void peer_state(struct dbg_model *m, const struct bus_msg *msg, int64_t now_ms)
{
	const char *t = msg->topic->name;
	struct dbg_peer *p;

	if (msg->deleted && t == BUS_T_NodeViewsUpdate) {
		peer_del(m, msg->node_key);
		return;
	}
	p = msg->deleted ? dbg_model_peer(m, msg->node_key) : peer_add(m, msg->node_key);
	if (!p)
		return;
	if (t == BUS_T_NodeViewsUpdate) {
		replace(&p->view, msg->msg, m);
	} else if (t == BUS_T_PathChanged) {
		replace(&p->path, msg->msg, m);
		if (p->path && p->path->direct)
			direct_lane(m, p, p->path->direct, now_ms);
		if (p->path)
			derp_lane(m, p, now_ms);
	} else if (t == BUS_T_DiscoPong) {
		replace(&p->pong, msg->msg, m);
		if (p->pong)
			on_pong(m, p, now_ms);
	} else if (t == BUS_T_PathHistory) {
		replace(&p->history, msg->msg, m);
		if (p->history)
			on_history(m, p, now_ms);
	} else if (t == BUS_T_DataplanePeer) {
		replace(&p->dp, msg->msg, m);
		if (p->dp)
			on_dataplane_peer(m, p, now_ms);
	}
}

static bool per_peer(const char *t)
{
	return t == BUS_T_NodeViewsUpdate || t == BUS_T_PathChanged || t == BUS_T_DiscoPong ||
	       t == BUS_T_PathHistory || t == BUS_T_DataplanePeer;
}

static struct dbg_kv *kv_find(const struct dbg_model *m, const char *topic, const char *key)
{
	for (size_t i = 0; i < m->n_kv; i++)
		if (m->kv[i].topic->name == topic && strcmp(m->kv[i].key, key) == 0)
			return &m->kv[i];
	return 0;
}

const struct dbg_kv *dbg_model_get(const struct dbg_model *m, const char *topic, const char *key)
{
	return kv_find(m, topic, key);
}

static void kv_state(struct dbg_model *m, const struct bus_msg *msg, int64_t now_ms)
{
	struct dbg_kv *kv = kv_find(m, msg->topic->name, msg->key);
	bool was_up = false, up;

	if (msg->deleted) {
		if (kv) {
			free_msg(kv->msg);
			*kv = m->kv[--m->n_kv];
		}
		return;
	}
	if (!kv) {
		if (m->n_kv == DBG_MAX_KEYS) {
			m->dropped_keys++;
			return;
		}
		if (!m->kv && !(m->kv = calloc(DBG_MAX_KEYS, sizeof(*m->kv)))) {
			m->nomem++;
			return;
		}
		kv = &m->kv[m->n_kv++];
		memset(kv, 0, sizeof(*kv));
		kv->topic = msg->topic;
		snprintf(kv->key, sizeof(kv->key), "%s", msg->key);
	} else if (msg->topic->name == BUS_T_DERPRegionState && kv->msg) {
		was_up = strcmp(((Msock__DERPRegionState *)kv->msg)->state, "up") == 0;
	}
	replace(&kv->msg, msg->msg, m);
	if (!kv->msg) {
		*kv = m->kv[--m->n_kv];
		return;
	}
	kv->set_ms = now_ms;
	if (msg->topic->name == BUS_T_DERPRegionState) {
		up = strcmp(((Msock__DERPRegionState *)kv->msg)->state, "up") == 0;
		kv->up_since_ms = !up ? 0 : was_up && kv->up_since_ms ? kv->up_since_ms : now_ms;
	}
}

void dbg_model_state(struct dbg_model *m, const struct bus_msg *msg, int64_t now_ms,
		     uint64_t now_mono)
{
	(void)now_mono;
	if (msg->kind != BUS_MSG_STATE || !msg->topic || !msg->key)
		return;
	if (per_peer(msg->topic->name))
		peer_state(m, msg, now_ms);
	else
		kv_state(m, msg, now_ms);
}

void dbg_model_forget_topic(struct dbg_model *m, const char *topic)
{
	if (per_peer(topic)) {
		/* The rings stay: they are history, not state. */
		for (size_t i = 0; i < m->n_peers; i++) {
			struct dbg_peer *p = &m->peers[i];
			ProtobufCMessage **slot = topic == BUS_T_NodeViewsUpdate ? (void *)&p->view
						  : topic == BUS_T_PathChanged	 ? (void *)&p->path
						  : topic == BUS_T_DiscoPong	 ? (void *)&p->pong
						  : topic == BUS_T_PathHistory ? (void *)&p->history
									       : (void *)&p->dp;
			free_msg(*slot);
			*slot = 0;
		}
		return;
	}
	for (size_t i = 0; i < m->n_kv;) {
		if (m->kv[i].topic->name == topic) {
			free_msg(m->kv[i].msg);
			m->kv[i] = m->kv[--m->n_kv];
		} else {
			i++;
		}
	}
}

/* bus: the component side of the bus (lib/bus_wire.h has the layout).
 * Timers: none of its own; the broker's heartbeats (once a second per state
 * topic) are what lets a subscriber notice a lost last update, and its
 * BrokerHeartbeat (once a second, to everyone) a restarted broker.
 *
 * A restarted broker starts with an empty cache; each owner fills it
 * again. So this side keeps what the component set (its own state, by
 * topic and key, as last sent) and, when the broker's epoch changes, asks
 * for every snapshot again and sets every one of those keys again, oldest
 * change first: no component has to know. */
#include "bus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_frames.h"
#include "bus_wire.h"
#include "clock.h"
#include "key.h"
#include "log.h"
#include "state.pb-c.h"
#include "state_cache.h"

struct topic_track {
	uint64_t last_seq;
	bool known; /* a snapshot told us its sequence number */
};

struct bus {
	void *zctx;
	void *pub, *sub, *req;
	char name[32];
	bus_on_msg_fn on_msg;
	void *arg;
	const struct bus_handler *rows; /* bus_handle_with, or NULL: on_msg */
	size_t n_rows;
	const struct bus_topic *topics; /* the table; track[i] follows topics[i] */
	size_t n_topics;
	struct topic_track *track;
	unsigned pending_snaps;
	uint64_t snap_deadline_ns; /* the outstanding snapshot is given up after this */
	char subs[BUS_MAX_SUBSCRIPTIONS][BUS_TOPIC_NAME_MAX + 1]; /* prefixes, to resubscribe */
	size_t n_subs;
	uint64_t now_ns;
	struct bus_stats stats;
	struct log_ratelimit rl_bad;
	/* What this component set, as it last sent it (its own keys only). */
	struct state_cache *own;
	uint64_t epoch; /* the broker's, from TSEQ or BrokerHeartbeat; 0: none yet */
	/* The config barrier (bus_ack_config): our ConfigApplied key ("":
	 * we do not acknowledge), the broker's latest generation, and the
	 * (epoch, generation) acknowledged last. */
	char ack_key[BUS_KEY_MAX + 1];
	uint64_t cfg_gen, acked_epoch, acked_gen;
};

enum {
	/* The record of our own state: 2^10 buckets, chains of ~10 with a
	 * 10,000-peer dataplane. */
	BUS_OWN_BUCKETS_LOG2 = 10,
};

void *bus_socket(void *zctx, int type, int64_t max_msg_bytes)
{
	void *s = zmq_socket(zctx, type);
	int zero = 0;

	if (!s)
		return 0;
	/* ZMQ_LINGER defaults to infinite: a close with unsent messages would
	 * hang shutdown forever. */
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	/* Unbounded by default: a peer could make us allocate anything. */
	zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max_msg_bytes, sizeof(max_msg_bytes));
	return s;
}

static int connect_ep(void *s, const char *dir, const char *ep)
{
	char addr[256];

	if (snprintf(addr, sizeof(addr), "ipc://%s/%s", dir, ep) >= (int)sizeof(addr))
		return -ENAMETOOLONG;
	return zmq_connect(s, addr) == 0 ? 0 : -errno;
}

struct bus *bus_open(const char *dir, const char *name, bus_on_msg_fn on_msg, void *arg)
{
	struct bus *b = calloc(1, sizeof(*b));
	int hwm_pub = BUS_PUB_HWM_MSGS, hwm_req = BUS_REQ_HWM_MSGS;

	if (!b)
		return 0;
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->on_msg = on_msg;
	b->arg = arg;
	b->topics = bus_topic_all(&b->n_topics);
	b->track = calloc(b->n_topics, sizeof(*b->track));
	log_ratelimit_init(&b->rl_bad, LOG_RATELIMIT_DEFAULT_MS);
	b->zctx = zmq_ctx_new();
	b->own = state_cache_new_sized(BUS_OWN_BUCKETS_LOG2);
	if (!b->track || !b->zctx || !b->own)
		goto fail;
	b->pub = bus_socket(b->zctx, ZMQ_PUB, BUS_MAX_MSG_BYTES);
	b->sub = bus_socket(b->zctx, ZMQ_SUB, BUS_MAX_MSG_BYTES);
	b->req = bus_socket(b->zctx, ZMQ_DEALER, BUS_MAX_MSG_BYTES);
	if (!b->pub || !b->sub || !b->req)
		goto fail;
	zmq_setsockopt(b->pub, ZMQ_SNDHWM, &hwm_pub, sizeof(hwm_pub));
	zmq_setsockopt(b->sub, ZMQ_RCVHWM, &hwm_pub, sizeof(hwm_pub));
	zmq_setsockopt(b->req, ZMQ_SNDHWM, &hwm_req, sizeof(hwm_req));
	zmq_setsockopt(b->req, ZMQ_RCVHWM, &hwm_req, sizeof(hwm_req));
	/* No ZMQ_ROUTING_ID: the broker knows who asks from the kernel (its
	 * ZAP handler, broker/identity.c), and a chosen id would let another
	 * process take ours first (a ROUTER refuses a second peer with an id
	 * already in use). */
	/* Every component hears the broker's heartbeat and `msockctl debug
	 * log-level`, whatever else it subscribes to. */
	if (zmq_setsockopt(b->sub, ZMQ_SUBSCRIBE, BUS_T_BrokerHeartbeat,
			   strlen(BUS_T_BrokerHeartbeat)) < 0 ||
	    zmq_setsockopt(b->sub, ZMQ_SUBSCRIBE, BUS_T_DebugLogLevel,
			   strlen(BUS_T_DebugLogLevel)) < 0 ||
	    connect_ep(b->pub, dir, BUS_EP_PUB) < 0 || connect_ep(b->sub, dir, BUS_EP_SUB) < 0 ||
	    connect_ep(b->req, dir, BUS_EP_REQ) < 0)
		goto fail;
	return b;
fail:
	log_error("bus: cannot connect to the bus in %s: %s", dir, zmq_strerror(errno));
	bus_free(b);
	return 0;
}

void *bus_zmq_ctx(struct bus *b)
{
	return b->zctx;
}

void bus_free(struct bus *b)
{
	if (!b)
		return;
	if (b->pub)
		zmq_close(b->pub);
	if (b->sub)
		zmq_close(b->sub);
	if (b->req)
		zmq_close(b->req);
	if (b->zctx)
		zmq_ctx_term(b->zctx);
	state_cache_free(b->own);
	free(b->track);
	free(b);
}

/* Sends frames; each part is (pointer, length). */
static int send_parts(void *s, const void *const *parts, const size_t *lens, int n)
{
	for (int i = 0; i < n; i++) {
		int flags = i < n - 1 ? ZMQ_SNDMORE : 0;
		if (zmq_send(s, parts[i], lens[i], flags) < 0)
			return -errno;
	}
	return 0;
}

static uint8_t *pack(const ProtobufCMessage *msg, size_t *len)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(n ? n : 1);

	if (!buf)
		return 0;
	*len = protobuf_c_message_pack(msg, buf);
	return buf;
}

static const struct bus_topic *check_topic(const char *topic, const ProtobufCMessage *msg,
					   enum bus_topic_kind kind)
{
	const struct bus_topic *t = bus_topic_find(topic, strlen(topic));

	if (!t || t->kind != kind || (msg && msg->descriptor != t->desc)) {
		log_error("bus: %s is not %s topic of that type", topic,
			  kind == BUS_TOPIC_STATE ? "a state" : "an event");
		return 0;
	}
	return t;
}

int bus_publish(struct bus *b, const char *topic, const ProtobufCMessage *msg)
{
	size_t len;
	uint8_t *body;
	int rc;

	if (!check_topic(topic, msg, BUS_TOPIC_EVENT))
		return -EINVAL;
	body = pack(msg, &len);
	if (!body)
		return -ENOMEM;
	rc = send_parts(b->pub, (const void *[]){topic, body}, (size_t[]){strlen(topic), len}, 2);
	free(body);
	if (rc == 0)
		b->stats.events_out++;
	return rc;
}

static int send_set(struct bus *b, const char *topic, const char *key, const uint8_t *body,
		    size_t len)
{
	int rc = send_parts(b->req, (const void *[]){BUS_VERB_SET, topic, key, body},
			    (size_t[]){3, strlen(topic), strlen(key), len}, 4);

	if (rc == 0)
		b->stats.state_out++;
	return rc;
}

int bus_state_set(struct bus *b, const char *topic, const char *key, const ProtobufCMessage *msg)
{
	size_t len;
	uint8_t *body;
	uint64_t seq;
	int rc;

	if (!check_topic(topic, msg, BUS_TOPIC_STATE) || strlen(key) > BUS_KEY_MAX)
		return -EINVAL;
	body = pack(msg, &len);
	if (!body)
		return -ENOMEM;
	/* Recorded even when the send fails: a restarted broker gets it. */
	if (state_cache_set(b->own, topic, key, body, len, &seq) < 0)
		log_rl(&b->rl_bad, b->now_ns, LOG_LEVEL_WARN,
		       "bus: cannot record %s/%s for a restarted broker", topic, key);
	rc = send_set(b, topic, key, body, len);
	free(body);
	return rc;
}

int bus_state_del(struct bus *b, const char *topic, const char *key)
{
	uint64_t seq;

	if (!check_topic(topic, 0, BUS_TOPIC_STATE) || strlen(key) > BUS_KEY_MAX)
		return -EINVAL;
	state_cache_del(b->own, topic, key, &seq);
	return send_parts(b->req, (const void *[]){BUS_VERB_DEL, topic, key},
			  (size_t[]){3, strlen(topic), strlen(key)}, 3);
}

static int request_snapshot(struct bus *b, const char *prefix)
{
	int rc = send_parts(b->req, (const void *[]){BUS_VERB_SNAP, prefix},
			    (size_t[]){4, strlen(prefix)}, 2);

	if (rc == 0) {
		b->pending_snaps++;
		b->snap_deadline_ns = clock_mono_ns() + BUS_SNAPSHOT_TIMEOUT_MS * NS_PER_MS;
	}
	return rc;
}

int bus_subscribe(struct bus *b, const char *prefix)
{
	struct bus_span p = {(const uint8_t *)prefix, strlen(prefix)};

	/* The broker refuses other prefixes (with no END): refuse them here. */
	if (!bus_span_printable(p, BUS_TOPIC_NAME_MAX, true))
		return -EINVAL;
	if (b->n_subs == BUS_MAX_SUBSCRIPTIONS)
		return -ENOSPC;
	/* Subscribe before asking for the snapshot (clone pattern), so no
	 * update falls between the two. */
	if (zmq_setsockopt(b->sub, ZMQ_SUBSCRIBE, prefix, strlen(prefix)) < 0)
		return -errno;
	snprintf(b->subs[b->n_subs++], sizeof(b->subs[0]), "%s", prefix);
	return request_snapshot(b, prefix);
}

/* A snapshot whose END never came (ROUTER drops at its high-water mark too):
 * start over with every subscription rather than wait forever. */
static void snapshot_all_again(struct bus *b)
{
	b->pending_snaps = 0;
	for (size_t i = 0; i < b->n_topics; i++)
		b->track[i].known = false;
	for (size_t i = 0; i < b->n_subs; i++)
		request_snapshot(b, b->subs[i]);
}

static void snapshot_timeout(struct bus *b)
{
	b->stats.snapshot_timeouts++;
	log_warn("bus: no end of snapshot within %d ms: asking again", BUS_SNAPSHOT_TIMEOUT_MS);
	snapshot_all_again(b);
}

static void set_again(void *arg, const struct state_entry *e)
{
	send_set(arg, e->topic, e->key, e->body, e->len);
}

/* The broker's epoch, from a heartbeat or a snapshot. A new one is a
 * restarted broker: its cache has only what it rebuilt from the config.
 * What was asked of the old one is lost with it; ask again, and set our
 * own state again. */
static void note_epoch(struct bus *b, uint64_t epoch)
{
	if (epoch == b->epoch)
		return;
	if (b->epoch) {
		b->stats.broker_restarts++;
		log_info("bus: the broker restarted (epoch %016llx, was %016llx): asking for "
			 "the state again and setting our %zu keys again",
			 (unsigned long long)epoch, (unsigned long long)b->epoch,
			 state_cache_count(b->own));
		b->epoch = epoch;
		snapshot_all_again(b);
		state_cache_foreach(b->own, "", set_again, b);
		return;
	}
	b->epoch = epoch;
}

/* A generation the broker announced and we have not acknowledged: say so
 * once no snapshot is outstanding (a resync or a new broker's replay may
 * still carry part of that config). */
void bus_config_ack(struct bus *b)
{
	Msock__ConfigApplied m = MSOCK__CONFIG_APPLIED__INIT;

	if (!b->ack_key[0] || !b->cfg_gen || !b->epoch || b->pending_snaps ||
	    (b->acked_epoch == b->epoch && b->acked_gen == b->cfg_gen))
		return;
	m.epoch = b->epoch;
	m.generation = b->cfg_gen;
	if (bus_state_set(b, BUS_T_ConfigApplied, b->ack_key, &m.base) == 0) {
		b->acked_epoch = b->epoch;
		b->acked_gen = b->cfg_gen;
	}
}

void bus_ack_config(struct bus *b, const char *key)
{
	snprintf(b->ack_key, sizeof(b->ack_key), "%s", key);
}

static void bad(struct bus *b, uint64_t *counter, const char *what, const struct bus_span *f, int n)
{
	char topic[BUS_TOPIC_NAME_MAX + 1] = "";

	(*counter)++;
	if (n > 0)
		bus_span_sanitize(f[0], topic, sizeof(topic));
	log_rl(&b->rl_bad, b->now_ns, LOG_LEVEL_WARN,
	       "bus: dropped message (%d frames, first \"%s\"): %s", n, topic, what);
}

static uint64_t *counter_for(struct bus *b, int err)
{
	switch (err) {
	case BUS_ERR_TOPIC:
		return &b->stats.unknown_topic;
	case BUS_ERR_BODY:
		return &b->stats.bad_body;
	default:
		return &b->stats.bad_frames;
	}
}

static struct topic_track *track_of(struct bus *b, const struct bus_topic *t)
{
	return &b->track[t - b->topics];
}

void bus_handle_with(struct bus *b, const struct bus_handler *rows, size_t n)
{
	b->rows = rows;
	b->n_rows = n;
}

static const struct bus_handler *row_of(const struct bus *b, const char *topic)
{
	for (size_t i = 0; i < b->n_rows; i++)
		if (strcmp(b->rows[i].topic, topic) == 0)
			return &b->rows[i];
	return 0;
}

static unsigned handle_of(const struct bus_msg *m)
{
	switch (m->kind) {
	case BUS_MSG_EVENT:
		return BUS_H_EVENT;
	case BUS_MSG_STATE:
		return m->deleted ? BUS_H_DELETED : BUS_H_STATE;
	default:
		return BUS_H_SNAPSHOT;
	}
}

/* m->key as row r wants it; false (counted, logged) when it does not parse. */
static bool parse_key(struct bus *b, const struct bus_handler *r, struct bus_msg *m)
{
	const char *why = 0;

	if (m->kind != BUS_MSG_STATE || r->key == BUS_KEY_TEXT)
		return true;
	if (r->key == BUS_KEY_NODE && key_hex_parse(m->key, m->node_key) < 0)
		why = "not a node key in hex";
	if (r->key == BUS_KEY_REGION) {
		char *end;
		unsigned long v;
		errno = 0;
		v = strtoul(m->key, &end, 10);
		if (errno || end == m->key || *end || m->key[0] < '1' || m->key[0] > '9' ||
		    v > INT32_MAX)
			why = "not a DERP region id (1 to 2^31-1)";
		m->region = (uint32_t)v;
	}
	if (!why)
		return true;
	b->stats.bad_key++;
	log_rl(&b->rl_bad, b->now_ns, LOG_LEVEL_WARN, "bus: %s key \"%.80s\": %s; dropped",
	       m->topic->name, m->key, why);
	return false;
}

/* A checked message to the component: its topic's row, or on_msg. */
static void route(struct bus *b, struct bus_msg *m)
{
	const char *topic = m->topic ? m->topic->name : m->prefix;
	const struct bus_handler *r;

	if (!b->rows) {
		b->on_msg(b->arg, m);
		return;
	}
	r = row_of(b, topic);
	if (!r) {
		/* A snapshot's end names the prefix subscribed to, which may
		 * be no topic's name: nothing to say. */
		if (m->kind == BUS_MSG_SNAPSHOT_END)
			return;
		b->stats.no_handler++;
		log_rl(&b->rl_bad, b->now_ns, LOG_LEVEL_WARN,
		       "bus: %s: no handler for this topic; dropped", topic);
		return;
	}
	if (!(r->handles & handle_of(m)) || !parse_key(b, r, m))
		return;
	r->fn(b->arg, m);
}

/* Hands a checked message to the component and frees its body. */
static void deliver(struct bus *b, struct bus_msg *m, ProtobufCMessage *msg)
{
	m->msg = msg;
	route(b, m);
	if (msg)
		protobuf_c_message_free_unpacked(msg, 0);
}

static void resync(struct bus *b, const struct bus_topic *t)
{
	b->stats.resyncs++;
	track_of(b, t)->known = false;
	request_snapshot(b, t->name);
}

/* A state message that is not simply the next one: a heartbeat, a stale
 * update (already in our snapshot) or a gap (resync). */
static void check_sequence(struct bus *b, const struct bus_topic *t, struct topic_track *tr,
			   const char *key, const struct bus_meta *meta)
{
	if (!tr->known)
		return; /* a snapshot of this topic is on its way */
	if (key[0] == 0 && meta->seq <= tr->last_seq)
		return; /* heartbeat: we are up to date */
	if (key[0] != 0 && meta->seq <= tr->last_seq) {
		b->stats.stale++;
		return;
	}
	b->stats.gaps++;
	log_warn("bus: %s is at %llu but we have %llu: resyncing", t->name,
		 (unsigned long long)meta->seq, (unsigned long long)tr->last_seq);
	resync(b, t);
}

static const char *level_name(enum log_level l)
{
	static const char *const names[] = {"?", "error", "warn", "info", "debug"};
	return (unsigned)l < sizeof(names) / sizeof(names[0]) ? names[l] : "?";
}

/* `msockctl debug log-level NAME LEVEL` (magicsock's
 * SetDebugLoggingEnabled, per component): for this process when NAME is
 * ours. A level lib/log does not know is said and ignored. */
static void on_log_level(struct bus *b, const Msock__DebugLogLevel *m)
{
	enum log_level old = log_get_level(), l;

	if (!m->component || strcmp(m->component, b->name) != 0)
		return;
	l = log_level_parse(m->level);
	if (l == LOG_LEVEL_INVALID) {
		log_rl(&b->rl_bad, b->now_ns, LOG_LEVEL_WARN,
		       "bus: DebugLogLevel \"%.32s\" is not error, warn, info or debug; ignored",
		       m->level ? m->level : "");
		return;
	}
	/* Said at info, before lowering the level or after raising it, so
	 * that the line shows when either level shows info. */
	if (l < LOG_LEVEL_INFO)
		log_info("log level %s (was %s): msockctl debug log-level", level_name(l),
			 level_name(old));
	log_set_level(l);
	if (l >= LOG_LEVEL_INFO)
		log_info("log level %s (was %s): msockctl debug log-level", level_name(l),
			 level_name(old));
}

/* [topic][body] or [topic][body][key][meta] from the SUB socket. */
static void on_sub(struct bus *b, const struct bus_span *f, int n)
{
	const struct bus_topic *t = 0;
	ProtobufCMessage *msg = 0;
	struct bus_msg m = {0};
	struct bus_meta meta;
	char key[BUS_KEY_MAX + 1];
	struct topic_track *tr;
	int rc;

	if (n == 2) {
		if ((rc = bus_check_event(f, n, &t, &msg)) < 0)
			return bad(b, counter_for(b, rc), bus_check_str(rc), f, n);
		if (strcmp(t->name, BUS_T_BrokerHeartbeat) == 0) {
			const Msock__BrokerHeartbeat *hb = (const Msock__BrokerHeartbeat *)msg;
			note_epoch(b, hb->epoch);
			b->cfg_gen = hb->config_generation;
			protobuf_c_message_free_unpacked(msg, 0);
			return;
		}
		if (strcmp(t->name, BUS_T_DebugLogLevel) == 0) {
			on_log_level(b, (const Msock__DebugLogLevel *)msg);
			protobuf_c_message_free_unpacked(msg, 0);
			return;
		}
		b->stats.events_in++;
		m.kind = BUS_MSG_EVENT;
		m.topic = t;
		return deliver(b, &m, msg);
	}
	if ((rc = bus_check_state(f, n, &t, key, &meta, &msg)) < 0)
		return bad(b, counter_for(b, rc), bus_check_str(rc), f, n);
	tr = track_of(b, t);
	if (!tr->known || key[0] == 0 || meta.seq != tr->last_seq + 1) {
		if (msg)
			protobuf_c_message_free_unpacked(msg, 0);
		return check_sequence(b, t, tr, key, &meta);
	}
	tr->last_seq = meta.seq;
	m.deleted = meta.flags & BUS_META_DELETED;
	b->stats.state_in++;
	m.kind = BUS_MSG_STATE;
	m.topic = t;
	m.key = key;
	m.seq = meta.seq;
	deliver(b, &m, msg);
}

/* Replies on the DEALER: TSEQ, KV, END, ERR. */
static void on_req(struct bus *b, const struct bus_span *f, int n)
{
	const struct bus_topic *t = 0;
	ProtobufCMessage *msg = 0;
	struct bus_msg m = {0};
	struct bus_meta meta;
	char key[BUS_KEY_MAX + 1];
	int rc;

	if (n < 1 || n > BUS_MAX_FRAMES)
		return bad(b, &b->stats.bad_frames, "wrong number of frames", f, n);
	if (bus_span_is(f[0], BUS_VERB_END) && n == 2) {
		char prefix[BUS_TOPIC_NAME_MAX + 1];
		if (bus_span_str(f[1], prefix, BUS_TOPIC_NAME_MAX, true) < 0)
			return bad(b, &b->stats.bad_frames, "malformed END", f, n);
		if (b->pending_snaps)
			b->pending_snaps--;
		m.kind = BUS_MSG_SNAPSHOT_END;
		m.prefix = prefix;
		route(b, &m);
		return;
	}
	if (bus_span_is(f[0], BUS_VERB_ERR)) {
		b->stats.refused++;
		log_warn("bus: the broker refused a request: %.*s", n > 1 ? (int)f[1].len : 0,
			 n > 1 ? (const char *)f[1].p : "");
		return;
	}
	if (bus_span_is(f[0], BUS_VERB_TSEQ) && n == 4 && f[2].len == 8 && f[3].len == 8) {
		t = bus_topic_find((const char *)f[1].p, f[1].len);
		if (!t || t->kind != BUS_TOPIC_STATE)
			return bad(b, &b->stats.unknown_topic, "unknown state topic in TSEQ", f, n);
		/* A new broker answering a request the old one never did:
		 * everything is asked again (this topic too; its entries
		 * still count). */
		note_epoch(b, bus_get_be64(f[3].p));
		struct topic_track *tr = track_of(b, t);
		tr->last_seq = bus_get_be64(f[2].p);
		tr->known = true;
		m.kind = BUS_MSG_SNAPSHOT_BEGIN;
		m.topic = t;
		route(b, &m);
		return;
	}
	/* [KV] + a state message as the SUB socket would carry it. */
	if (bus_span_is(f[0], BUS_VERB_KV)) {
		if ((rc = bus_check_state(f + 1, n - 1, &t, key, &meta, &msg)) < 0)
			return bad(b, counter_for(b, rc), bus_check_str(rc), f, n);
		/* A snapshot holds live keys only: no heartbeat, no deletion. */
		if (!key[0] || (meta.flags & BUS_META_DELETED)) {
			if (msg)
				protobuf_c_message_free_unpacked(msg, 0);
			return bad(b, &b->stats.bad_frames,
				   "snapshot entry without key, or deleted", f, n);
		}
		b->stats.state_in++;
		m.kind = BUS_MSG_STATE;
		m.topic = t;
		m.key = key;
		m.seq = meta.seq;
		m.from_snapshot = true;
		return deliver(b, &m, msg);
	}
	bad(b, &b->stats.bad_frames, "unknown reply", f, n);
}

int bus_pollitems(struct bus *b, zmq_pollitem_t *items, int cap)
{
	int n = 0;

	if (cap < 2)
		return -EINVAL;
	items[n++] = (zmq_pollitem_t){.socket = b->req, .events = ZMQ_POLLIN};
	if (!b->pending_snaps)
		items[n++] = (zmq_pollitem_t){.socket = b->sub, .events = ZMQ_POLLIN};
	return n;
}

static int drain(struct bus *b, void *sock, void (*fn)(struct bus *, const struct bus_span *, int))
{
	struct bus_frames fr;
	struct bus_span f[BUS_MAX_FRAMES];
	int handled = 0;

	while (bus_frames_recv(sock, &fr) == 0) {
		fn(b, f, bus_frames_spans(&fr, f, BUS_MAX_FRAMES));
		bus_frames_close(&fr);
		handled++;
		if (sock == b->sub && b->pending_snaps)
			break; /* a resync started: leave the rest queued */
	}
	return handled;
}

int bus_dispatch(struct bus *b, uint64_t now_ns)
{
	int handled;

	b->now_ns = now_ns;
	if (b->pending_snaps && now_ns >= b->snap_deadline_ns)
		snapshot_timeout(b);
	/* Replies first: they may complete a snapshot and unblock SUB. */
	handled = drain(b, b->req, on_req);
	if (!b->pending_snaps)
		handled += drain(b, b->sub, on_sub);
	return handled;
}

bool bus_syncing(const struct bus *b)
{
	return b->pending_snaps > 0;
}

int bus_wait_synced(struct bus *b, int timeout_ms, int wake_fd)
{
	uint64_t deadline = clock_mono_ns() + (uint64_t)timeout_ms * NS_PER_MS;

	while (b->pending_snaps) {
		zmq_pollitem_t it[2] = {{.socket = b->req, .events = ZMQ_POLLIN},
					{.fd = wake_fd, .events = ZMQ_POLLIN}};
		uint64_t now = clock_mono_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		if (zmq_poll(it, wake_fd >= 0 ? 2 : 1, (long)((deadline - now) / NS_PER_MS) + 1) <
			    0 &&
		    errno != EINTR)
			return -errno;
		if (wake_fd >= 0 && (it[1].revents & ZMQ_POLLIN))
			return -EINTR;
		bus_dispatch(b, clock_mono_ns());
	}
	return 0;
}

const struct bus_stats *bus_stats(const struct bus *b)
{
	return &b->stats;
}

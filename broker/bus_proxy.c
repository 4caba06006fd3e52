/* bus_proxy: the broker's side of the bus (lib/bus_wire.h has the layout):
 * the XSUB/XPUB proxy that checks each event against the topic table and
 * forwards it unchanged, the state channel (SET/DEL numbered, cached and
 * republished; SNAP replayed from the cache), per-topic heartbeats, and
 * counting the peers libzmq disconnects.
 * Timers: next_heartbeat_ns, every BROKER_HEARTBEAT_MS. */
#include "broker.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "bus_ident.h"
#include "bus_frames.h"
#include "bus_topics.h"
#include "bus_wire.h"
#include "clock.h"
#include "state.pb-c.h"

static void drop(struct broker *b, uint64_t *counter, const char *where, const struct bus_span *f,
		 int n, int topic_frame, const char *why)
{
	char topic[BUS_TOPIC_NAME_MAX + 1] = "";

	(*counter)++;
	if (n > topic_frame)
		bus_span_sanitize(f[topic_frame], topic, sizeof(topic));
	log_rl(&b->rl_bad, b->now_ns, LOG_LEVEL_WARN,
	       "bus: dropped %s message (%d frames, topic \"%s\"): %s", where, n, topic, why);
}

static uint64_t *counter_for(struct broker *b, int err)
{
	switch (err) {
	case BUS_ERR_TOPIC:
		return &b->ctr.unknown_topic;
	case BUS_ERR_CHANNEL:
		return &b->ctr.wrong_channel;
	case BUS_ERR_BODY:
		return &b->ctr.bad_body;
	default:
		return &b->ctr.bad_frames;
	}
}

static int bind_ep(struct broker *b, void *s, const char *ep)
{
	char addr[PATH_MAX + 16], path[PATH_MAX + 8];

	snprintf(path, sizeof(path), "%s/%s", b->bus_dir, ep);
	snprintf(addr, sizeof(addr), "ipc://%s", path);
	unlink(path); /* a stale file from a broker that died */
	if (zmq_bind(s, addr) < 0) {
		log_error("bus: cannot bind %s: %s", addr, zmq_strerror(errno));
		return -1;
	}
	/* Components connect after dropping to their users, all in group
	 * b->gid; connecting to a unix socket needs write access to it. */
	if (b->drop && chown(path, (uid_t)-1, b->gid) < 0) {
		log_error("bus: chown %s: %s", path, strerror(errno));
		return -1;
	}
	chmod(path, b->drop ? 0660 : 0600);
	return 0;
}

static int monitor(struct broker *b, void *s, const char *name)
{
	char ep[64];
	void *m;

	snprintf(ep, sizeof(ep), "inproc://monitor-%s", name);
	if (zmq_socket_monitor(s, ep, ZMQ_EVENT_DISCONNECTED) < 0)
		return -1;
	m = bus_socket(b->zctx, ZMQ_PAIR, 1024);
	if (!m || zmq_connect(m, ep) < 0)
		return -1;
	b->mon[b->n_mon++] = m;
	return 0;
}

int broker_bus_open(struct broker *b)
{
	int hwm_pub = BUS_PUB_HWM_MSGS, hwm_req = BUS_REQ_HWM_MSGS;

	b->zctx = zmq_ctx_new();
	if (!b->zctx || broker_zap_open(b) < 0)
		return -1;
	b->xsub = bus_socket(b->zctx, ZMQ_XSUB, BUS_MAX_MSG_BYTES);
	b->xpub = bus_socket(b->zctx, ZMQ_XPUB, BUS_MAX_MSG_BYTES);
	b->router = bus_socket(b->zctx, ZMQ_ROUTER, BUS_MAX_MSG_BYTES);
	if (!b->xsub || !b->xpub || !b->router)
		return -1;
	/* Every connection is named by the kernel's credentials (identity.c). */
	if (broker_zap_require(b->xsub, BROKER_ZAP_BUS) < 0 ||
	    broker_zap_require(b->xpub, BROKER_ZAP_BUS) < 0 ||
	    broker_zap_require(b->router, BROKER_ZAP_BUS) < 0)
		return -1;
	zmq_setsockopt(b->xsub, ZMQ_RCVHWM, &hwm_pub, sizeof(hwm_pub));
	zmq_setsockopt(b->xpub, ZMQ_SNDHWM, &hwm_pub, sizeof(hwm_pub));
	zmq_setsockopt(b->router, ZMQ_SNDHWM, &hwm_req, sizeof(hwm_req));
	zmq_setsockopt(b->router, ZMQ_RCVHWM, &hwm_req, sizeof(hwm_req));
	if (bind_ep(b, b->xsub, BUS_EP_PUB) < 0 || bind_ep(b, b->xpub, BUS_EP_SUB) < 0 ||
	    bind_ep(b, b->router, BUS_EP_REQ) < 0)
		return -1;
	if (monitor(b, b->xsub, "xsub") < 0 || monitor(b, b->xpub, "xpub") < 0 ||
	    monitor(b, b->router, "router") < 0)
		return -1;
	/* Take every event, not only those someone subscribed to: PUB sockets
	 * filter at the source, and the broker must see (and check, and count)
	 * everything that is published. Subscriptions stay on the XPUB side. */
	if (zmq_send(b->xsub, "\x01", 1, 0) < 0)
		return -1;
	while (!b->epoch)
		randombytes_buf(&b->epoch, sizeof(b->epoch));
	b->next_heartbeat_ns = clock_mono_ns() + BROKER_HEARTBEAT_MS * NS_PER_MS;
	return 0;
}

void broker_bus_close(struct broker *b)
{
	void **socks[] = {&b->xsub, &b->xpub, &b->router, &b->control, &b->zap};

	for (int i = 0; i < b->n_mon; i++)
		zmq_close(b->mon[i]);
	b->n_mon = 0;
	for (size_t i = 0; i < sizeof(socks) / sizeof(socks[0]); i++)
		if (*socks[i]) {
			zmq_close(*socks[i]);
			*socks[i] = 0;
		}
	if (b->zctx)
		zmq_ctx_term(b->zctx);
	b->zctx = 0;
}

/* Events from components' PUB sockets: forwarded unchanged when they are a
 * known event topic with a body that decodes as its type, from a sender
 * that may publish it. */
void broker_on_xsub(struct broker *b)
{
	struct bus_frames fr;
	struct bus_span f[BUS_MAX_FRAMES];

	while (bus_frames_recv(b->xsub, &fr) == 0) {
		const struct bus_topic *t;
		struct bus_sender who;
		int n = bus_frames_spans(&fr, f, BUS_MAX_FRAMES);
		int rc = bus_check_event(f, n, &t, 0);

		broker_sender(&fr.f[0], &who);
		if (rc < 0) {
			drop(b, counter_for(b, rc), "event", f, n, 0, bus_check_str(rc));
		} else if (!bus_topic_may_publish(t, &who)) {
			char why[200];
			snprintf(why, sizeof(why), "sent by %s; %s is published by %s", who.name,
				 t->name, bus_topic_owner_name(t));
			drop(b, &b->ctr.wrong_owner, "event", f, n, 0, why);
		} else {
			if (strcmp(t->name, BUS_T_LinkChange) == 0)
				broker_on_link_change(b, f[1].p, f[1].len);
			zmq_msg_send(&fr.f[0], b->xpub, ZMQ_SNDMORE);
			zmq_msg_send(&fr.f[1], b->xpub, 0);
			fr.n = 0; /* sent messages belong to libzmq now */
			b->ctr.events_forwarded++;
		}
		bus_frames_close(&fr);
	}
}

/* Subscriptions from components' SUB sockets. XPUB filters what it sends
 * by them; they are not passed upstream because the XSUB takes everything
 * (see broker_bus_open). */
void broker_on_xpub(struct broker *b)
{
	struct bus_frames fr;
	struct bus_span f[BUS_MAX_FRAMES];

	while (bus_frames_recv(b->xpub, &fr) == 0) {
		int n = bus_frames_spans(&fr, f, BUS_MAX_FRAMES);
		if (n != 1 || f[0].len < 1 || f[0].len > BUS_TOPIC_NAME_MAX + 1 || f[0].p[0] > 1)
			drop(b, &b->ctr.bad_frames, "subscription", f, n, 0, "not a subscription");
		bus_frames_close(&fr);
	}
}

static void publish_state(struct broker *b, const char *topic, const char *key, const uint8_t *body,
			  size_t len, uint64_t seq, uint8_t flags)
{
	struct bus_meta meta = {seq, flags};
	uint8_t m[BUS_META_BYTES];

	bus_meta_encode(&meta, m);
	zmq_send(b->xpub, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT);
	zmq_send(b->xpub, body, len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
	zmq_send(b->xpub, key, strlen(key), ZMQ_SNDMORE | ZMQ_DONTWAIT);
	zmq_send(b->xpub, m, sizeof(m), ZMQ_DONTWAIT);
}

int broker_event_publish(struct broker *b, const char *topic, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *body = malloc(len ? len : 1);
	int rc = 0;

	if (!body)
		return -ENOMEM;
	protobuf_c_message_pack(m, body);
	if (zmq_send(b->xpub, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(b->xpub, body, len, ZMQ_DONTWAIT) < 0)
		rc = -errno;
	free(body);
	return rc;
}

int broker_state_set(struct broker *b, const char *topic, const char *key, const uint8_t *body,
		     size_t len)
{
	uint64_t seq;
	int rc = state_cache_set(b->cache, topic, key, body, len, &seq);

	if (rc < 0) {
		b->ctr.state_refused++;
		log_rl(&b->rl_refused, b->now_ns, LOG_LEVEL_WARN,
		       "state: cannot cache %s/%s: %s (limit %d keys)", topic, key, strerror(-rc),
		       STATE_CACHE_MAX_KEYS);
		return rc;
	}
	if (rc == 0) {
		b->ctr.state_unchanged++;
		return 0;
	}
	b->ctr.state_set++;
	publish_state(b, topic, key, body, len, seq, 0);
	return 1;
}

int broker_state_del(struct broker *b, const char *topic, const char *key)
{
	uint64_t seq;

	if (state_cache_del(b->cache, topic, key, &seq) != 1)
		return 0;
	b->ctr.state_deleted++;
	publish_state(b, topic, key, (const uint8_t *)"", 0, seq, BUS_META_DELETED);
	return 1;
}

static void send_reply(struct broker *b, const uint8_t *id, size_t idlen, const void *const *parts,
		       const size_t *lens, int n)
{
	zmq_send(b->router, id, idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT);
	for (int i = 0; i < n; i++)
		zmq_send(b->router, parts[i], lens[i],
			 (i < n - 1 ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
}

static void refuse(struct broker *b, const struct bus_span *f, const struct bus_sender *who,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void refuse(struct broker *b, const struct bus_span *f, const struct bus_sender *who,
		   const char *fmt, ...)
{
	char text[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	b->ctr.state_refused++;
	log_rl(&b->rl_refused, b->now_ns, LOG_LEVEL_WARN, "bus: refused request from %s: %s",
	       who->name, text);
	send_reply(b, f[0].p, f[0].len, (const void *[]){BUS_VERB_ERR, text},
		   (size_t[]){3, strlen(text)}, 2);
}

/* [id][SET][topic][key][body] or [id][DEL][topic][key] */
static void on_set(struct broker *b, const struct bus_span *f, int n, const struct bus_sender *who)
{
	char topic[BUS_TOPIC_NAME_MAX + 1], key[BUS_KEY_MAX + 1];
	bool del = bus_span_is(f[1], BUS_VERB_DEL);
	const struct bus_topic *t;

	if (n != (del ? 4 : 5) || bus_span_str(f[2], topic, BUS_TOPIC_NAME_MAX, false) < 0 ||
	    bus_span_str(f[3], key, BUS_KEY_MAX, false) < 0)
		return refuse(b, f, who,
			      "malformed %s: want [topic][key]%s with a printable, non-empty key",
			      del ? "DEL" : "SET", del ? "" : "[body]");
	t = bus_topic_find(topic, strlen(topic));
	if (!t || t->kind != BUS_TOPIC_STATE)
		return refuse(b, f, who, "%s is not a state topic", topic);
	if (!bus_topic_may_set(t, who, key)) {
		b->ctr.wrong_owner++;
		return refuse(b, f, who, "%s%s%s is owned by %s", topic,
			      t->owner == BUS_OWNER_BROKER ? "" : "/",
			      t->owner == BUS_OWNER_BROKER ? "" : key, bus_topic_owner_name(t));
	}
	if (del) {
		broker_state_del(b, topic, key);
		return;
	}
	/* The same check a subscriber will make, before anyone sees it. */
	ProtobufCMessage *msg = protobuf_c_message_unpack(t->desc, 0, f[4].len, f[4].p);
	if (!msg) {
		b->ctr.bad_body++;
		return refuse(b, f, who, "%s/%s: body does not decode as the topic's protobuf type",
			      topic, key);
	}
	protobuf_c_message_free_unpacked(msg, 0);
	broker_state_set(b, topic, key, f[4].p, f[4].len);
	if (strcmp(topic, BUS_T_SelfKeys) == 0)
		broker_key_loaded(b, key);
	/* Also when unchanged: a restarted component says the same again,
	 * and that counts for its new run (reload_wait.c). */
	if (strcmp(topic, BUS_T_ConfigApplied) == 0)
		broker_config_applied(b, key, f[4].p, f[4].len);
}

struct snap_ctx {
	struct broker *b;
	const struct bus_span *id;
};

static void snap_entry(void *arg, const struct state_entry *e)
{
	struct snap_ctx *s = arg;
	struct bus_meta meta = {e->seq, 0};
	uint8_t m[BUS_META_BYTES];

	bus_meta_encode(&meta, m);
	send_reply(s->b, s->id->p, s->id->len,
		   (const void *[]){BUS_VERB_KV, e->topic, e->body, e->key, m},
		   (size_t[]){2, strlen(e->topic), e->len, strlen(e->key), sizeof(m)}, 5);
}

/* [id][SNAP][prefix] */
static void on_snap(struct broker *b, const struct bus_span *f, int n, const struct bus_sender *who)
{
	char prefix[BUS_TOPIC_NAME_MAX + 1];
	struct snap_ctx s = {b, &f[0]};
	const struct bus_topic *all;
	size_t count;

	if (n != 3 || bus_span_str(f[2], prefix, BUS_TOPIC_NAME_MAX, true) < 0)
		return refuse(b, f, who,
			      "malformed SNAP: want [prefix] of at most %d printable bytes",
			      BUS_TOPIC_NAME_MAX);
	b->ctr.snapshots++;
	/* Every state topic under the prefix gets its sequence number, also
	 * those never set (0), so the subscriber can check the next one. */
	all = bus_topic_all(&count);
	for (size_t i = 0; i < count; i++) {
		uint8_t seq[8], epoch[8];
		if (all[i].kind != BUS_TOPIC_STATE || strncmp(all[i].name, prefix, strlen(prefix)))
			continue;
		bus_put_be64(seq, state_cache_topic_seq(b->cache, all[i].name));
		bus_put_be64(epoch, b->epoch);
		send_reply(b, f[0].p, f[0].len,
			   (const void *[]){BUS_VERB_TSEQ, all[i].name, seq, epoch},
			   (size_t[]){4, strlen(all[i].name), 8, 8}, 4);
	}
	state_cache_foreach(b->cache, prefix, snap_entry, &s);
	send_reply(b, f[0].p, f[0].len, (const void *[]){BUS_VERB_END, prefix},
		   (size_t[]){3, strlen(prefix)}, 2);
}

/* Requests on the state channel: [identity][verb]... */
void broker_on_router(struct broker *b)
{
	struct bus_frames fr;
	struct bus_span f[BUS_MAX_FRAMES];

	while (bus_frames_recv(b->router, &fr) == 0) {
		int n = bus_frames_spans(&fr, f, BUS_MAX_FRAMES);
		struct bus_sender who;

		/* The routing id is libzmq's own (components set none); who
		 * asks is in every body frame's User-Id (not in the routing-id
		 * frame: tests/integration/bus_identity_test.c says why). */
		if (n < 2 || n > BUS_MAX_FRAMES) {
			drop(b, &b->ctr.bad_frames, "request", f, n, 1,
			     "too few or too many frames");
			bus_frames_close(&fr);
			continue;
		}
		broker_sender(&fr.f[1], &who);
		if (bus_span_is(f[1], BUS_VERB_SET) || bus_span_is(f[1], BUS_VERB_DEL))
			on_set(b, f, n, &who);
		else if (bus_span_is(f[1], BUS_VERB_SNAP))
			on_snap(b, f, n, &who);
		else
			refuse(b, f, &who, "unknown request verb");
		bus_frames_close(&fr);
	}
}

void broker_on_monitor(struct broker *b, void *mon)
{
	struct bus_frames fr;

	while (bus_frames_recv(mon, &fr) == 0) {
		/* Monitor events: [event:16 LE][value:32][address]. */
		if (fr.n >= 1 && bus_frame_len(&fr, 0) >= 2) {
			const uint8_t *p = bus_frame_data(&fr, 0);
			if ((uint16_t)(p[0] | p[1] << 8) == ZMQ_EVENT_DISCONNECTED)
				b->ctr.disconnects++;
		}
		bus_frames_close(&fr);
	}
}

static void heartbeat_topic(void *arg, const char *topic, uint64_t seq)
{
	struct broker *b = arg;

	if (seq)
		publish_state(b, topic, "", (const uint8_t *)"", 0, seq, 0);
}

void broker_heartbeat(struct broker *b)
{
	Msock__BrokerHeartbeat hb = MSOCK__BROKER_HEARTBEAT__INIT;

	if (b->now_ns < b->next_heartbeat_ns)
		return;
	hb.epoch = b->epoch;
	hb.config_generation = b->config_gen;
	broker_event_publish(b, BUS_T_BrokerHeartbeat, &hb.base);
	state_cache_foreach_topic(b->cache, "", heartbeat_topic, b);
	b->next_heartbeat_ns = b->now_ns + BROKER_HEARTBEAT_MS * NS_PER_MS;
}

/* bus: a component's connection to the broker's bus (DESIGN.md "The bus",
 * docs/bus.md). Publish events, set state, subscribe by topic prefix with
 * the state replayed from the broker's cache (zguide clone pattern), and
 * notice gaps: a state topic whose sequence number jumps is resynced.
 * Everything received is decoded against the topic table before the
 * component sees it; bad messages are counted and logged, never fatal. */
#ifndef MSOCK_BUS_H
#define MSOCK_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "bus_topics.h"

enum bus_msg_kind {
	BUS_MSG_INVALID = 0,
	BUS_MSG_EVENT,
	BUS_MSG_STATE,		/* a state value (or deletion, m->deleted) */
	BUS_MSG_SNAPSHOT_BEGIN, /* topic: a full replay of it follows; drop what you hold of it */
	BUS_MSG_SNAPSHOT_END,	/* topic = the prefix asked for: the replay is complete */
};

struct bus_msg {
	enum bus_msg_kind kind;
	const struct bus_topic *topic; /* NULL for SNAPSHOT_END */
	const char *prefix;	       /* SNAPSHOT_END only */
	const char *key;	       /* state only */
	uint64_t seq;		       /* state only */
	bool deleted;
	bool from_snapshot;
	const ProtobufCMessage
		*msg; /* decoded body; NULL when deleted. Valid during the callback only. */
	/* The key, parsed as the handler row asked (BUS_KEY_NODE, BUS_KEY_REGION). */
	uint8_t node_key[32];
	uint32_t region;
};

/* Which messages of its topic a handler row takes; the others are left
 * alone on purpose (a row without BUS_H_DELETED ignores deletions). */
enum bus_handles {
	BUS_H_STATE = 1 << 0,	 /* a state key set */
	BUS_H_DELETED = 1 << 1,	 /* a state key deleted (m->msg is NULL) */
	BUS_H_EVENT = 1 << 2,	 /* an event */
	BUS_H_SNAPSHOT = 1 << 3, /* a snapshot of the topic begins, and ends */
};

/* How a state message's key is checked before the handler sees it; a key
 * that does not parse is counted (bad_key), logged once per interval and
 * dropped, in lib/bus and nowhere else. */
enum bus_key_kind {
	BUS_KEY_TEXT = 0, /* any key, as it is */
	BUS_KEY_NODE,	  /* a node key in hex, 64 digits: m->node_key */
	BUS_KEY_REGION,	  /* a DERP region id, decimal 1..2^31-1: m->region */
};

/* One row of a component's dispatch table: {topic, what it takes, its
 * key, the handler}. */
struct bus_handler {
	const char *topic; /* BUS_T_<name> */
	unsigned handles;  /* enum bus_handles */
	enum bus_key_kind key;
	void (*fn)(void *arg, const struct bus_msg *m);
};

typedef void (*bus_on_msg_fn)(void *arg, const struct bus_msg *m);

/* Counters. lib/component.c publishes them (BusStats) when one from
 * bad_frames on (what was dropped) moved: keep drops after bad_frames. */
struct bus_stats {
	/* Counts that alone do not make a BusStats publication... */
	uint64_t events_in, state_in, events_out, state_out;
	/* ...and those that do, from here to the end (component.c). */
	uint64_t bad_frames, unknown_topic, bad_body, stale, gaps, resyncs, refused;
	uint64_t snapshot_timeouts;
	/* With a dispatch table (bus_handle_with): a key that does not parse
	 * as its row says, and a message of a topic no row takes. */
	uint64_t bad_key, no_handler;
	/* Heartbeats or snapshots with a new epoch: a restarted broker, to
	 * which this component set its state again. */
	uint64_t broker_restarts;
};

enum {
	BUS_MAX_SUBSCRIPTIONS = 32,
};

struct bus;

/* Connects to the bus in `dir` as component `name`. `on_msg` receives every
 * valid message. Caller frees with bus_free. */
struct bus *bus_open(const char *dir, const char *name, bus_on_msg_fn on_msg, void *arg);
void bus_free(struct bus *b);
/* From now on, messages go to the row of their topic (rows[0..n), kept by
 * the caller) instead of on_msg; see struct bus_handler. */
void bus_handle_with(struct bus *b, const struct bus_handler *rows, size_t n);
/* The bus's ZeroMQ context, for the process's other sockets (one per
 * process). */
void *bus_zmq_ctx(struct bus *b);

/* Subscribes to events and state whose topic starts with `prefix` (up to
 * BUS_TOPIC_NAME_MAX printable bytes, else -EINVAL; at most
 * BUS_MAX_SUBSCRIPTIONS, else -ENOSPC), and asks for a snapshot of the
 * matching state; it arrives through on_msg (SNAPSHOT_BEGIN per topic,
 * STATE per key, SNAPSHOT_END). A snapshot not complete within
 * BUS_SNAPSHOT_TIMEOUT_MS is asked for again (from bus_dispatch). */
int bus_subscribe(struct bus *b, const char *prefix);

int bus_publish(struct bus *b, const char *topic, const ProtobufCMessage *msg);
int bus_state_set(struct bus *b, const char *topic, const char *key, const ProtobufCMessage *msg);
int bus_state_del(struct bus *b, const char *topic, const char *key);

/* The config barrier (docs/bus.md, "The config barrier"): from now on,
 * bus_config_ack acknowledges the broker's config generations (the
 * `config_generation` of its heartbeat) by setting ConfigApplied under
 * `key` ("<program>/<name>"). lib/component.c calls it when the
 * component's loop starts, after its start-up subscriptions; a tool or an
 * observer never does. */
void bus_ack_config(struct bus *b, const char *key);
/* Sets ConfigApplied when a generation was heard since the last one
 * acknowledged and no snapshot is outstanding: everything the broker
 * published before that heartbeat has gone through the handlers.
 * component_run calls it after the component's handlers and its timers,
 * so what they set in answer is on the bus ahead of it. */
void bus_config_ack(struct bus *b);

/* Fills up to 2 poll items for the component's zmq_poll and returns their
 * count. While a snapshot is in flight the SUB socket is left out, so
 * updates queue in ZeroMQ until the snapshot they follow is complete. */
int bus_pollitems(struct bus *b, zmq_pollitem_t *items, int cap);
/* Reads everything that is ready without blocking and calls on_msg. */
int bus_dispatch(struct bus *b, uint64_t now_ns);
/* True while a snapshot is outstanding. */
bool bus_syncing(const struct bus *b);
/* Blocks (up to timeout_ms) until no snapshot is outstanding: 0, or
 * -ETIMEDOUT; or -EINTR as soon as wake_fd (-1: none) is readable, for the
 * caller to read it and wait again. */
int bus_wait_synced(struct bus *b, int timeout_ms, int wake_fd);
const struct bus_stats *bus_stats(const struct bus *b);

/* Opens a ZeroMQ socket with msock's safe defaults: linger 0 (the default
 * is infinite and hangs shutdown) and a per-frame size cap. */
void *bus_socket(void *zctx, int type, int64_t max_msg_bytes);

#endif

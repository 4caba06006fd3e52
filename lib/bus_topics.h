/* bus_topics: the table of bus topics: name, protobuf type, state or event,
 * and who owns it: the broker, any component, or the rows of the process
 * table (lib/proctab.h) that list it. The .proto files
 * document the same marks; this table is what the code checks. */
#ifndef MSOCK_BUS_TOPICS_H
#define MSOCK_BUS_TOPICS_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

#include "bus_topic_list.h"
#include "proctab.h"

enum bus_topic_kind {
	BUS_TOPIC_INVALID = 0,
	BUS_TOPIC_EVENT, /* passes through the broker, not cached */
	BUS_TOPIC_STATE, /* cached by the broker, last value per key */
};

enum {
	BUS_TOPIC_NAME_MAX = 48,
	BUS_KEY_MAX = 128,
};

/* Who may set a state topic or publish an event. The broker checks it
 * against the sender its ZAP handler named from the connection's peer
 * credentials (broker/identity.c), never against what the sender says. */
enum bus_topic_owner {
	BUS_OWNER_INVALID = 0,
	/* State: any component, under keys of its own ("<program>" or
	 * "<program>/..."), or a tool running as the broker's user (any key).
	 * Events: anyone on the bus. (Health; no event.) */
	BUS_OWNER_ANY,
	/* State: the broker alone (what it derives from the config). Events:
	 * the broker and tools running as its user (msockctl's PingRequest),
	 * no component. */
	BUS_OWNER_BROKER,
	/* The rows of the process table that list it (proctab.h's .states or
	 * .events). A state topic listed by several rows (SelfKeys) is keyed
	 * by program: each sets only the key of its own name. */
	BUS_OWNER_PROCTAB,
};

/* Who sent a message, as the broker knows it from the kernel. */
struct bus_sender {
	const struct proc *proc; /* its row, or NULL (a tool, or a program with no row) */
	const char *name;	 /* its program, or "@admin": for messages */
	bool admin;		 /* runs as the broker's user (or root) and is no component */
};

struct bus_topic {
	const char *name;
	enum bus_topic_kind kind;
	const ProtobufCMessageDescriptor *desc;
	enum bus_topic_owner owner;
};

/* Each topic's name as a constant, BUS_T_<name> (bus_topic_list.h). */
#define BUS_T_DECLARE(name, kind, desc, owner) extern const char BUS_T_##name[];
BUS_TOPIC_LIST(BUS_T_DECLARE)
#undef BUS_T_DECLARE

/* The topic named exactly `name` (not a prefix), or NULL. */
const struct bus_topic *bus_topic_find(const char *name, size_t len);
/* All topics, for iteration; *n gets the count. */
const struct bus_topic *bus_topic_all(size_t *n);
/* May sender s set (or delete) state topic t's key `key`? */
bool bus_topic_may_set(const struct bus_topic *t, const struct bus_sender *s, const char *key);
/* May sender s publish event topic t? */
bool bus_topic_may_publish(const struct bus_topic *t, const struct bus_sender *s);
/* The owner of t for messages: "broker", a program or programs, or "any
 * component". */
const char *bus_topic_owner_name(const struct bus_topic *t);

#endif

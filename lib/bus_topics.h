/* bus_topics: the table of bus topics: name, protobuf type, state or event,
 * and who owns a state topic: the broker, any component, or the one row of
 * the process table (lib/proctab.h) that lists it. The .proto files
 * document the same marks; this table is what the code checks. */
#ifndef MSOCK_BUS_TOPICS_H
#define MSOCK_BUS_TOPICS_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

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

/* Who may set a state topic (one owner per piece of state). Events are
 * BUS_OWNER_ANY: the rows name who publishes them, unchecked as yet. */
enum bus_topic_owner {
	BUS_OWNER_INVALID = 0,
	BUS_OWNER_ANY,	   /* any component (SelfKeys, Health; every event) */
	BUS_OWNER_BROKER,  /* config-derived state: no component */
	BUS_OWNER_PROCTAB, /* the one row of the process table that lists it */
};

struct bus_topic {
	const char *name;
	enum bus_topic_kind kind;
	const ProtobufCMessageDescriptor *desc;
	enum bus_topic_owner owner;
};

/* The topic named exactly `name` (not a prefix), or NULL. */
const struct bus_topic *bus_topic_find(const char *name, size_t len);
/* All topics, for iteration; *n gets the count. */
const struct bus_topic *bus_topic_all(size_t *n);
/* May a component of row p (NULL: a program with no row) set state topic t? */
bool bus_topic_may_set(const struct bus_topic *t, const struct proc *p);
/* The owner of t for messages: "broker", a program, or "any component". */
const char *bus_topic_owner_name(const struct bus_topic *t);

#endif

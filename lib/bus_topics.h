/* bus_topics: the table of bus topics: name, protobuf type, state or event,
 * and which program owns a state topic. The .proto files document the same
 * marks; this table is what the code checks. */
#ifndef MSOCK_BUS_TOPICS_H
#define MSOCK_BUS_TOPICS_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

enum bus_topic_kind {
	BUS_TOPIC_INVALID = 0,
	BUS_TOPIC_EVENT, /* passes through the broker, not cached */
	BUS_TOPIC_STATE, /* cached by the broker, last value per key */
};

enum {
	BUS_TOPIC_NAME_MAX = 48,
	BUS_KEY_MAX = 128,
};

struct bus_topic {
	const char *name;
	enum bus_topic_kind kind;
	const ProtobufCMessageDescriptor *desc;
	/* For state topics: the program allowed to set it (one owner per piece
	 * of state); "broker" for config-derived state, NULL for any. */
	const char *owner;
};

/* The topic named exactly `name` (not a prefix), or NULL. */
const struct bus_topic *bus_topic_find(const char *name, size_t len);
/* All topics, for iteration; *n gets the count. */
const struct bus_topic *bus_topic_all(size_t *n);

#endif

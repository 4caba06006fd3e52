/* bus_topics: the topic table, made from lib/bus_topic_list.h (see
 * proto/netmap.proto for the marks). */
#include "bus_topics.h"

#include <stdio.h>
#include <string.h>

#include "control.pb-c.h"
#include "netmap.pb-c.h"
#include "state.pb-c.h"
#include "testcomp.pb-c.h"

/* The name constants: BUS_T_NodeViewsUpdate is "NodeViewsUpdate". */
#define BUS_T_DEFINE(name, kind, desc, owner) const char BUS_T_##name[] = #name;
BUS_TOPIC_LIST(BUS_T_DEFINE)
#undef BUS_T_DEFINE

static const struct bus_topic topics[] = {
#define BUS_T_ROW(name, kind, desc, owner) \
	{BUS_T_##name, BUS_TOPIC_##kind, &desc, BUS_OWNER_##owner},
	BUS_TOPIC_LIST(BUS_T_ROW)
#undef BUS_T_ROW
};

const struct bus_topic *bus_topic_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
		if (strlen(topics[i].name) == len && memcmp(topics[i].name, name, len) == 0)
			return &topics[i];
	return 0;
}

const struct bus_topic *bus_topic_all(size_t *n)
{
	*n = sizeof(topics) / sizeof(topics[0]);
	return topics;
}

/* "<program>" or "<program>/...". */
static bool own_key(const char *key, const char *program)
{
	size_t n = strlen(program);

	return strncmp(key, program, n) == 0 && (key[n] == 0 || key[n] == '/');
}

bool bus_topic_may_set(const struct bus_topic *t, const struct bus_sender *s, const char *key)
{
	switch (t->owner) {
	case BUS_OWNER_ANY:
		return s->admin || (s->proc && own_key(key, s->proc->program));
	case BUS_OWNER_PROCTAB:
		if (!s->proc || !proctab_publishes(s->proc, t->name, false))
			return false;
		/* Several rows set it: each its own key. */
		return proctab_state_owner(t->name) == s->proc ||
		       strcmp(key, s->proc->program) == 0;
	default:
		return false;
	}
}

bool bus_topic_may_publish(const struct bus_topic *t, const struct bus_sender *s)
{
	switch (t->owner) {
	case BUS_OWNER_ANY:
		return true;
	case BUS_OWNER_BROKER:
		return s->admin;
	case BUS_OWNER_PROCTAB:
		return s->proc && proctab_publishes(s->proc, t->name, true);
	default:
		return false;
	}
}

const char *bus_topic_owner_name(const struct bus_topic *t)
{
	static char names[128];
	size_t n, len = 0;
	const struct proc *procs = proctab_all(&n);

	switch (t->owner) {
	case BUS_OWNER_ANY:
		return "any component";
	case BUS_OWNER_BROKER:
		return "broker";
	case BUS_OWNER_PROCTAB:
		names[0] = 0;
		for (size_t i = 0; i < n; i++)
			if (proctab_publishes(&procs[i], t->name, t->kind == BUS_TOPIC_EVENT) &&
			    len < sizeof(names))
				len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s",
							len ? " and " : "", procs[i].program);
		return names[0] ? names : "no one (no row of the process table)";
	default:
		return "no one";
	}
}

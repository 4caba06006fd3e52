/* bus_topics: the topic table (see proto/netmap.proto for the marks). A
 * topic owned by a component names no program here: the process table
 * (lib/proctab.c) says which row sets it. */
#include "bus_topics.h"

#include <stdio.h>
#include <string.h>

#include "control.pb-c.h"
#include "netmap.pb-c.h"
#include "state.pb-c.h"
#include "testcomp.pb-c.h"

static const struct bus_topic topics[] = {
	/* magicsock's eventbus topics */
	{"NodeViewsUpdate", BUS_TOPIC_STATE, &msock__node_views_update__descriptor,
	 BUS_OWNER_BROKER},
	{"NodeMutationsUpdate", BUS_TOPIC_EVENT, &msock__node_mutations_update__descriptor,
	 BUS_OWNER_BROKER},
	{"FilterUpdate", BUS_TOPIC_EVENT, &msock__filter_update__descriptor, BUS_OWNER_BROKER},
	{"NewDiscoKeyAvailable", BUS_TOPIC_EVENT, &msock__new_disco_key_available__descriptor,
	 BUS_OWNER_BROKER},
	{"UDPRelayAllocReq", BUS_TOPIC_EVENT, &msock__udprelay_alloc_req__descriptor,
	 BUS_OWNER_BROKER},
	{"UDPRelayAllocResp", BUS_TOPIC_EVENT, &msock__udprelay_alloc_resp__descriptor,
	 BUS_OWNER_BROKER},
	/* msock's own */
	{"DERPMap", BUS_TOPIC_STATE, &msock__derpmap__descriptor, BUS_OWNER_BROKER},
	{"Prefs", BUS_TOPIC_STATE, &msock__prefs__descriptor, BUS_OWNER_BROKER},
	{"SelfConfig", BUS_TOPIC_STATE, &msock__self_config__descriptor, BUS_OWNER_BROKER},
	{"SelfKeys", BUS_TOPIC_STATE, &msock__self_keys__descriptor, BUS_OWNER_PROCTAB},
	{"NetcheckReport", BUS_TOPIC_STATE, &msock__netcheck_report__descriptor, BUS_OWNER_PROCTAB},
	{"Endpoints", BUS_TOPIC_STATE, &msock__endpoints__descriptor, BUS_OWNER_PROCTAB},
	{"PathChanged", BUS_TOPIC_STATE, &msock__path_changed__descriptor, BUS_OWNER_PROCTAB},
	{"HomeDERP", BUS_TOPIC_STATE, &msock__home_derp__descriptor, BUS_OWNER_PROCTAB},
	{"DERPRegionState", BUS_TOPIC_STATE, &msock__derpregion_state__descriptor,
	 BUS_OWNER_PROCTAB},
	{"PortMapping", BUS_TOPIC_STATE, &msock__port_mapping__descriptor, BUS_OWNER_PROCTAB},
	{"PortmapProbe", BUS_TOPIC_STATE, &msock__portmap_probe__descriptor, BUS_OWNER_PROCTAB},
	{"Health", BUS_TOPIC_STATE, &msock__health__descriptor, BUS_OWNER_ANY},
	{"ServiceState", BUS_TOPIC_STATE, &msock__service_state__descriptor, BUS_OWNER_BROKER},
	{"DataplanePeer", BUS_TOPIC_STATE, &msock__dataplane_peer__descriptor, BUS_OWNER_PROCTAB},
	{"DataplaneState", BUS_TOPIC_STATE, &msock__dataplane_state__descriptor, BUS_OWNER_PROCTAB},
	{"ReSTUN", BUS_TOPIC_EVENT, &msock__re_stun__descriptor, BUS_OWNER_PROCTAB},
	{"LinkChange", BUS_TOPIC_EVENT, &msock__link_change__descriptor, BUS_OWNER_PROCTAB},
	{"PingRequest", BUS_TOPIC_EVENT, &msock__ping_request__descriptor, BUS_OWNER_BROKER},
	{"DiscoPong", BUS_TOPIC_STATE, &msock__disco_pong__descriptor, BUS_OWNER_PROCTAB},
	{"PathHistory", BUS_TOPIC_STATE, &msock__path_history__descriptor, BUS_OWNER_PROCTAB},
	{"NetworkState", BUS_TOPIC_STATE, &msock__network_state__descriptor, BUS_OWNER_PROCTAB},
	/* the test component's */
	{"TestCounter", BUS_TOPIC_STATE, &msock__test_counter__descriptor, BUS_OWNER_PROCTAB},
	{"TestPing", BUS_TOPIC_EVENT, &msock__test_ping__descriptor, BUS_OWNER_BROKER},
	{"TestPong", BUS_TOPIC_EVENT, &msock__test_pong__descriptor, BUS_OWNER_PROCTAB},
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

/* bus_topics: the topic table (see proto/netmap.proto for the marks). */
#include "bus_topics.h"

#include <string.h>

#include "control.pb-c.h"
#include "netmap.pb-c.h"
#include "state.pb-c.h"
#include "testcomp.pb-c.h"

static const struct bus_topic topics[] = {
	/* magicsock's eventbus topics */
	{"NodeViewsUpdate", BUS_TOPIC_STATE, &msock__node_views_update__descriptor, "broker"},
	{"NodeMutationsUpdate", BUS_TOPIC_EVENT, &msock__node_mutations_update__descriptor, 0},
	{"FilterUpdate", BUS_TOPIC_EVENT, &msock__filter_update__descriptor, 0},
	{"NewDiscoKeyAvailable", BUS_TOPIC_EVENT, &msock__new_disco_key_available__descriptor, 0},
	{"UDPRelayAllocReq", BUS_TOPIC_EVENT, &msock__udprelay_alloc_req__descriptor, 0},
	{"UDPRelayAllocResp", BUS_TOPIC_EVENT, &msock__udprelay_alloc_resp__descriptor, 0},
	/* msock's own */
	{"DERPMap", BUS_TOPIC_STATE, &msock__derpmap__descriptor, "broker"},
	{"Prefs", BUS_TOPIC_STATE, &msock__prefs__descriptor, "broker"},
	{"SelfConfig", BUS_TOPIC_STATE, &msock__self_config__descriptor, "broker"},
	{"SelfKeys", BUS_TOPIC_STATE, &msock__self_keys__descriptor, 0},
	{"NetcheckReport", BUS_TOPIC_STATE, &msock__netcheck_report__descriptor, "netcheck"},
	{"Endpoints", BUS_TOPIC_STATE, &msock__endpoints__descriptor, "dataplane"},
	{"PathChanged", BUS_TOPIC_STATE, &msock__path_changed__descriptor, "disco"},
	{"HomeDERP", BUS_TOPIC_STATE, &msock__home_derp__descriptor, "derp"},
	{"DERPRegionState", BUS_TOPIC_STATE, &msock__derpregion_state__descriptor, "derp"},
	{"PortMapping", BUS_TOPIC_STATE, &msock__port_mapping__descriptor, "portmapper"},
	{"PortmapProbe", BUS_TOPIC_STATE, &msock__portmap_probe__descriptor, "portmapper"},
	{"Health", BUS_TOPIC_STATE, &msock__health__descriptor, 0},
	{"ServiceState", BUS_TOPIC_STATE, &msock__service_state__descriptor, "broker"},
	{"DataplanePeer", BUS_TOPIC_STATE, &msock__dataplane_peer__descriptor, "dataplane"},
	{"DataplaneState", BUS_TOPIC_STATE, &msock__dataplane_state__descriptor, "dataplane"},
	{"ReSTUN", BUS_TOPIC_EVENT, &msock__re_stun__descriptor, 0},
	{"LinkChange", BUS_TOPIC_EVENT, &msock__link_change__descriptor, 0},
	{"PingRequest", BUS_TOPIC_EVENT, &msock__ping_request__descriptor, 0},
	{"DiscoPong", BUS_TOPIC_STATE, &msock__disco_pong__descriptor, "disco"},
	{"PathHistory", BUS_TOPIC_STATE, &msock__path_history__descriptor, "disco"},
	{"NetworkState", BUS_TOPIC_STATE, &msock__network_state__descriptor, "dataplane"},
	/* the test component's */
	{"TestCounter", BUS_TOPIC_STATE, &msock__test_counter__descriptor, "testcomp"},
	{"TestPing", BUS_TOPIC_EVENT, &msock__test_ping__descriptor, 0},
	{"TestPong", BUS_TOPIC_EVENT, &msock__test_pong__descriptor, 0},
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

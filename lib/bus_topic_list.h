/* bus_topic_list: THE topic table, as an X-macro: X(name, kind, protobuf
 * descriptor, owner) per topic. lib/bus_topics.c makes the table and the
 * name constants (BUS_T_<name>, declared in bus_topics.h) from it, so a
 * topic is named once; code uses the constants, and a misspelt one does not
 * compile. A topic owned by a component names no program here: the process
 * table (lib/proctab.c) says which row sets it. docs/bus.md's table is
 * checked against this one by a test. */
#ifndef MSOCK_BUS_TOPIC_LIST_H
#define MSOCK_BUS_TOPIC_LIST_H

#define BUS_TOPIC_LIST(X)                                                                  \
	/* magicsock's eventbus topics */                                                  \
	X(NodeViewsUpdate, STATE, msock__node_views_update__descriptor, BROKER)            \
	X(NodeMutationsUpdate, EVENT, msock__node_mutations_update__descriptor, BROKER)    \
	X(FilterUpdate, EVENT, msock__filter_update__descriptor, BROKER)                   \
	X(NewDiscoKeyAvailable, EVENT, msock__new_disco_key_available__descriptor, BROKER) \
	X(UDPRelayAllocReq, EVENT, msock__udprelay_alloc_req__descriptor, BROKER)          \
	X(UDPRelayAllocResp, EVENT, msock__udprelay_alloc_resp__descriptor, BROKER)        \
	/* msock's own */                                                                  \
	X(DERPMap, STATE, msock__derpmap__descriptor, BROKER)                              \
	X(Prefs, STATE, msock__prefs__descriptor, BROKER)                                  \
	X(SelfConfig, STATE, msock__self_config__descriptor, BROKER)                       \
	X(SelfKeys, STATE, msock__self_keys__descriptor, PROCTAB)                          \
	X(NetcheckReport, STATE, msock__netcheck_report__descriptor, PROCTAB)              \
	X(Endpoints, STATE, msock__endpoints__descriptor, PROCTAB)                         \
	X(PathChanged, STATE, msock__path_changed__descriptor, PROCTAB)                    \
	X(HomeDERP, STATE, msock__home_derp__descriptor, PROCTAB)                          \
	X(DERPRegionState, STATE, msock__derpregion_state__descriptor, PROCTAB)            \
	X(PortMapping, STATE, msock__port_mapping__descriptor, PROCTAB)                    \
	X(PortmapProbe, STATE, msock__portmap_probe__descriptor, PROCTAB)                  \
	X(Health, STATE, msock__health__descriptor, ANY)                                   \
	X(BusStats, STATE, msock__bus_stats__descriptor, ANY)                              \
	X(ConfigApplied, STATE, msock__config_applied__descriptor, ANY)                    \
	X(ServiceState, STATE, msock__service_state__descriptor, BROKER)                   \
	X(DataplanePeer, STATE, msock__dataplane_peer__descriptor, PROCTAB)                \
	X(DataplaneState, STATE, msock__dataplane_state__descriptor, PROCTAB)              \
	X(ReSTUN, EVENT, msock__re_stun__descriptor, PROCTAB)                              \
	X(LinkChange, EVENT, msock__link_change__descriptor, PROCTAB)                      \
	X(PingRequest, EVENT, msock__ping_request__descriptor, BROKER)                     \
	X(BrokerHeartbeat, EVENT, msock__broker_heartbeat__descriptor, BROKER)             \
	X(DiscoPong, STATE, msock__disco_pong__descriptor, PROCTAB)                        \
	X(PathHistory, STATE, msock__path_history__descriptor, PROCTAB)                    \
	X(DiscoStats, STATE, msock__disco_stats__descriptor, PROCTAB)                      \
	X(NetworkState, STATE, msock__network_state__descriptor, PROCTAB)                  \
	X(Capture, STATE, msock__capture__descriptor, BROKER)                              \
	X(DebugDERP, EVENT, msock__debug_derp__descriptor, BROKER)                         \
	X(DebugLogLevel, EVENT, msock__debug_log_level__descriptor, BROKER)                \
	/* the test component's */                                                         \
	X(TestCounter, STATE, msock__test_counter__descriptor, PROCTAB)                    \
	X(TestPing, EVENT, msock__test_ping__descriptor, BROKER)                           \
	X(TestPong, EVENT, msock__test_pong__descriptor, PROCTAB)

#endif

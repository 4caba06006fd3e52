/* endpoint_pb: struct ipport <-> the bus's Endpoint message (proto/netmap.proto). */
#ifndef MSOCK_ENDPOINT_PB_H
#define MSOCK_ENDPOINT_PB_H

#include "addr.h"
#include "netmap.pb-c.h"

/* tailcfg.EndpointType values carried in Endpoint.type. */
enum endpoint_type {
	ENDPOINT_TYPE_UNKNOWN = 0,
	ENDPOINT_TYPE_LOCAL = 1,
	ENDPOINT_TYPE_STUN = 2,
	ENDPOINT_TYPE_PORTMAPPED = 3,
	ENDPOINT_TYPE_STUN4_LOCAL_PORT = 4,
	ENDPOINT_TYPE_EXPLICIT_CONF = 5,
};

/* Reads E (4- or 16-byte ip, port 1-65535) into A; -1 when E is malformed
 * or absent (A is zeroed). */
int endpoint_pb_to_ipport(const Msock__Endpoint *e, struct ipport *a);
/* Fills E (already initialised) from A; E's ip points into A, which must
 * outlive E's use. */
void endpoint_pb_set(Msock__Endpoint *e, const struct ipport *a, enum endpoint_type type);
/* The name of an endpoint type ("local", "stun", "portmap", "stun4localport",
 * "static"; "unknown" otherwise). */
const char *endpoint_type_name(uint32_t type);

#endif

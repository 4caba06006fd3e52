/* endpoint_pb: struct ipport <-> the bus's Endpoint message. */
#include "endpoint_pb.h"

#include <string.h>
#include <sys/socket.h>

int endpoint_pb_to_ipport(const Msock__Endpoint *e, struct ipport *a)
{
	memset(a, 0, sizeof(*a));
	if (!e || e->port == 0 || e->port > 65535)
		return -1;
	if (e->ip.len == 4)
		a->family = AF_INET;
	else if (e->ip.len == 16)
		a->family = AF_INET6;
	else
		return -1;
	memcpy(a->ip, e->ip.data, e->ip.len);
	a->port = (uint16_t)e->port;
	return 0;
}

void endpoint_pb_set(Msock__Endpoint *e, const struct ipport *a, enum endpoint_type type)
{
	e->ip.data = (uint8_t *)a->ip;
	e->ip.len = a->family == AF_INET ? 4 : 16;
	e->port = a->port;
	e->type = (uint32_t)type;
}

const char *endpoint_type_name(uint32_t type)
{
	static const char *const names[] = {"unknown", "local",		 "stun",
					    "portmap", "stun4localport", "static"};
	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "unknown";
}

/* proctab: the process table (proctab.h); docs/design.md, "The process
 * table", shows it as a table. The topics each row lists are those its
 * main.c and core files publish (bus_state_set, bus_publish); state topics
 * the broker sets from the config are in no row (lib/bus_topics.c). */
#include "proctab.h"

#include <string.h>

#include "sandbox.h"

static const struct proc procs[] = {
	{
		/* First: it binds the packet channels the others connect to. */
		.program = "dataplane",
		.sandbox = SANDBOX_INET, /* its UDP sockets; netlink is opened before */
		.key = PROC_KEY_NONE,
		.hands = PROC_HANDS_UDP_SOCKETS,
		.pktchan = PROC_PKTCHAN_BINDS_ALL,
		.states = {"Endpoints", "DataplanePeer", "DataplaneState", "NetworkState"},
		.events = {"LinkChange", "ReSTUN"},
		.order = 1,
		.by_default = true,
	},
	{
		.program = "disco",
		.sandbox = SANDBOX_INET, /* today's filter; item 4 of issue 15 takes it away */
		.key = PROC_KEY_DISCO,
		.pktchan = PROC_PKTCHAN_CONNECTS,
		.states = {"PathChanged", "DiscoPong", "PathHistory", "SelfKeys"},
		.order = 2,
		.by_default = true,
	},
	{
		.program = "derp",
		.sandbox = SANDBOX_INET, /* TCP/TLS to DERP servers */
		.key = PROC_KEY_NODE,	 /* used only to log in to DERP servers */
		.hands = PROC_HANDS_CA_FILE,
		.pktchan = PROC_PKTCHAN_CONNECTS,
		.states = {"HomeDERP", "DERPRegionState", "SelfKeys"},
		.order = 3,
		.by_default = true,
	},
	{
		.program = "netcheck",
		.sandbox = SANDBOX_INET, /* HTTPS latency and captive-portal checks */
		.key = PROC_KEY_NONE,
		.hands = PROC_HANDS_CA_FILE, /* it verifies DERP servers as derp does */
		.pktchan = PROC_PKTCHAN_CONNECTS,
		.states = {"NetcheckReport"},
		.order = 4,
		.by_default = true,
	},
	{
		.program = "portmapper",
		.sandbox = SANDBOX_INET, /* NAT-PMP, PCP, SSDP and UPnP's HTTP to the gateway */
		.key = PROC_KEY_NONE,
		.pktchan = PROC_PKTCHAN_NONE,
		.states = {"PortMapping", "PortmapProbe"},
		.order = 5,
		.by_default = true,
	},
	{
		/* The integration tests' component (tests/testcomp). */
		.program = "testcomp",
		.sandbox = 0, /* AF_UNIX only */
		.key = PROC_KEY_NONE,
		.pktchan = PROC_PKTCHAN_NONE,
		.states = {"TestCounter"},
		.events = {"TestPong"},
		.order = 6,
	},
};

const struct proc *proctab_find(const char *program)
{
	for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++)
		if (strcmp(procs[i].program, program) == 0)
			return &procs[i];
	return 0;
}

const struct proc *proctab_all(size_t *n)
{
	*n = sizeof(procs) / sizeof(procs[0]);
	return procs;
}

const struct proc *proctab_key_holder(enum proc_key k)
{
	for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++)
		if (k != PROC_KEY_NONE && procs[i].key == k)
			return &procs[i];
	return 0;
}

bool proctab_publishes(const struct proc *p, const char *topic, bool event)
{
	const char *const *list = event ? p->events : p->states;

	for (size_t i = 0; i < PROCTAB_MAX_TOPICS && list[i]; i++)
		if (strcmp(list[i], topic) == 0)
			return true;
	return false;
}

const struct proc *proctab_state_owner(const char *topic)
{
	const struct proc *owner = 0;

	for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
		if (!proctab_publishes(&procs[i], topic, false))
			continue;
		if (owner)
			return 0;
		owner = &procs[i];
	}
	return owner;
}

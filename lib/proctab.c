/* proctab: the process table (proctab.h); docs/design.md, "The process
 * table", shows it as a table. The topics each row lists are those its
 * main.c and core files publish (bus_state_set, bus_publish); state topics
 * the broker sets from the config are in no row (lib/bus_topics.c). */
#include "proctab.h"

#include <stdio.h>
#include <string.h>

#include "bus_topics.h"
#include "sandbox.h"

/* The seccomp profiles. Every component gets lib/sandbox.c's base set:
 * memory, threads (clone with CLONE_THREAD only), signals to itself,
 * clocks, getrandom, poll/epoll/eventfd/signalfd, I/O on fds it holds,
 * socket(AF_UNIX) and the socket calls on any fd it holds (libzmq's bus).
 * open and openat answer EPERM rather than kill, in every profile, on
 * purpose: glibc and ASan probe files (/proc/self/maps on a report) and
 * carry on when refused, and an EPERM opens nothing; each component opens
 * its files before its sandbox. No profile gets execve, fork, ptrace,
 * AF_PACKET or AF_NETLINK sockets (the dataplane opens its netlink socket
 * before the sandbox and keeps it). Below, each row's .profile lists what
 * it gets on top, each with its reason; what a row does not list it
 * cannot do (the sandbox tests in tests/integration/sandbox_testcomp_test.c
 * check one such call per row). */
static const struct proc procs[] = {
	{
		/* First: it binds the packet channels the others connect to. */
		.program = "dataplane",
		.user = "msock-dataplane",
		.uid = 61001,
		.profile =
			{
				{SANDBOX_INET_DGRAM, "UDP: its disco-probe sockets (probe.c); the "
						     "broker hands it the others, and it opens "
						     "netlink before the sandbox"},
				{SANDBOX_UNLINK, "libzmq unlinks the packet channels' ipc files "
						 "it binds (before bind, at close)"},
			},
		.key = PROC_KEY_NONE,
		.hands = PROC_HANDS_UDP_SOCKETS,
		.pktchan = PROC_PKTCHAN_BINDS_ALL,
		.states = {BUS_T_Endpoints, BUS_T_DataplanePeer, BUS_T_DataplaneState,
			   BUS_T_NetworkState},
		.events = {BUS_T_LinkChange, BUS_T_ReSTUN},
		.order = 1,
		.by_default = true,
	},
	{
		.program = "disco",
		.user = "msock-disco",
		.uid = 61002,
		.ch_gid = 61102,
		/* No inet socket: its packets go through the dataplane's packet
		 * channel and derp. */
		.profile = {{0, 0}},
		.key = PROC_KEY_DISCO,
		.pktchan = PROC_PKTCHAN_CONNECTS,
		.states = {BUS_T_PathChanged, BUS_T_DiscoPong, BUS_T_PathHistory, BUS_T_DiscoStats,
			   BUS_T_SelfKeys},
		.order = 2,
		.by_default = true,
	},
	{
		.program = "derp",
		.user = "msock-derp",
		.uid = 61003,
		.ch_gid = 61103,
		.profile =
			{
				{SANDBOX_INET_STREAM, "TCP (TLS) to DERP servers"},
			},
		.key = PROC_KEY_NODE, /* used only to log in to DERP servers */
		.hands = PROC_HANDS_CA_FILE,
		.pktchan = PROC_PKTCHAN_CONNECTS,
		.states = {BUS_T_HomeDERP, BUS_T_DERPRegionState, BUS_T_SelfKeys},
		.order = 3,
		.by_default = true,
	},
	{
		.program = "netcheck",
		.user = "msock-netcheck",
		.uid = 61004,
		.ch_gid = 61104,
		.profile =
			{
				{SANDBOX_INET_STREAM, "TCP for its HTTPS latency and "
						      "captive-portal checks (nc_http.c); no "
						      "UDP: STUN goes through the dataplane"},
			},
		.key = PROC_KEY_NONE,
		.hands = PROC_HANDS_CA_FILE, /* it verifies DERP servers as derp does */
		.pktchan = PROC_PKTCHAN_CONNECTS,
		.states = {BUS_T_NetcheckReport},
		.order = 4,
		.by_default = true,
	},
	{
		.program = "portmapper",
		.user = "msock-portmapper",
		.uid = 61005,
		.profile =
			{
				{SANDBOX_INET_STREAM, "TCP for UPnP's description and SOAP "
						      "requests to the gateway; its one UDP "
						      "socket (NAT-PMP, PCP, SSDP) is opened "
						      "before the sandbox"},
			},
		.key = PROC_KEY_NONE,
		.pktchan = PROC_PKTCHAN_NONE,
		.states = {BUS_T_PortMapping, BUS_T_PortmapProbe},
		.order = 5,
		.by_default = true,
	},
	{
		/* The debug HTTP endpoint (docs/debug.md): it reads the bus's
		 * state and sets none of its own; not started by default: it
		 * parses requests from whoever reaches its socket, so a node
		 * runs it when its config names it. */
		.program = "debug",
		.user = "msock-debug",
		.uid = 61007,
		/* Its listening socket (unix, or TCP on loopback) is bound
		 * before the sandbox; accept4 on it is in the base set, and an
		 * accepted TCP socket needs no socket() call. */
		.profile = {{0, 0}},
		.key = PROC_KEY_NONE,
		.hands = PROC_HANDS_DEBUG_LISTEN,
		.pktchan = PROC_PKTCHAN_NONE,
		.order = 7,
	},
	{
		/* The integration tests' component (tests/testcomp). */
		.program = "testcomp",
		.profile = {{0, 0}}, /* the base set alone */
		.key = PROC_KEY_NONE,
		.pktchan = PROC_PKTCHAN_NONE,
		.states = {BUS_T_TestCounter},
		.events = {BUS_T_TestPong},
		.order = 6,
	},
};

int proctab_ch_group(const struct proc *p, char *buf, size_t cap)
{
	int n;

	if (p->pktchan != PROC_PKTCHAN_CONNECTS)
		return -1;
	n = snprintf(buf, cap, "%s%s", PROCTAB_CH_GROUP_PREFIX, p->program);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

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

unsigned proctab_sandbox_flags(const struct proc *p)
{
	unsigned flags = 0;

	for (size_t i = 0; i < PROCTAB_MAX_ALLOWS && p->profile[i].flag; i++)
		flags |= p->profile[i].flag;
	return flags;
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

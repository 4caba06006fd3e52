/* netmon: the dataplane's link monitor, magicsock's netmon (Tailscale
 * net/netmon: netmon.go IsMajorChangeFrom, state.go, netmon_linux.go). It
 * watches links, addresses and default routes over rtnetlink (rtnetlink(7))
 * and says when the network changed in a way that matters (enum
 * netmon_change). Two layers: a pure core (struct netmon_state and
 * netmon_parse: no I/O, no logging, no allocation) that tests and the fuzzer
 * drive with crafted buffers, and the socket (struct netmon) that feeds it.
 * Files:
 *   netmon_parse.c  netlink messages into the tables, dumps and their sweep
 *   netmon_state.c  what we use of the tables, and what changed
 *   netmon.c        the socket: open, dumps asked for, reads
 *   netmon_internal.h  what they share.
 *
 * Timers (netmon_deadline_ns): a dump not finished NETMON_DUMP_TIMEOUT_MS
 * after its request is abandoned and asked for again; a request the kernel
 * refused, or a dump that failed, is sent again after NETMON_RETRY_MS. */
#ifndef MSOCK_NETMON_H
#define MSOCK_NETMON_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum {
	/* Interfaces tracked. A host with more (hundreds of container veths)
	 * loses the rest, counted in table_full; their addresses are then
	 * never usable. */
	NETMON_MAX_LINKS = 256,
	NETMON_MAX_ADDRS = 256,	       /* addresses over all interfaces */
	NETMON_MAX_ROUTES = 32,	       /* default-route next hops, v4 + v6, all tables */
	NETMON_MAX_NEXTHOPS = 8,       /* next hops read from one multipath route */
	NETMON_RECV_BYTES = 65536,     /* one datagram: the kernel's dump chunks are <= 32 KiB */
	NETMON_READS_PER_CALL = 64,    /* datagrams per netmon_on_readable */
	NETMON_RCVBUF_BYTES = 1 << 20, /* events queued during a burst (capped at rmem_max) */
	NETMON_OPEN_TIMEOUT_MS = 5000, /* the first dumps, in netmon_open */
	NETMON_DUMP_TIMEOUT_MS = 5000, /* a dump in progress after this is abandoned */
	NETMON_RETRY_MS = 1000,	       /* after a refused request or a failed dump */
	NETMON_KIND_BYTES = 16,	       /* IFLA_INFO_KIND kept ("wireguard", "dummy") */
};

/* What changed since the last report (docs/dataplane.md, "The link monitor"). */
enum netmon_change {
	NETMON_CHANGE_INVALID = 0,
	NETMON_CHANGE_NONE,
	/* Something we track changed, but nothing that breaks how we send:
	 * an address added anywhere or removed off the default-route
	 * interface, a link flap that moves no default route, a route that is
	 * not the one chosen. The usable addresses may have changed:
	 * republish the endpoints. */
	NETMON_CHANGE_MINOR,
	/* Rebind-worthy (Tailscale's ChangeDelta.Major): the default route's
	 * interface or gateway changed (v4 or v6, appeared or went), an address
	 * on a default-route interface went away, a family (v4, v6) was gained
	 * or lost, or the network came back from all-down. */
	NETMON_CHANGE_MAJOR,
	/* No usable address left: no interface other than loopback and
	 * tunnels is up with an address that is not link-local. Reported once,
	 * when it happens. */
	NETMON_CHANGE_ALL_DOWN,
};
const char *netmon_change_name(enum netmon_change c);

/* Dumps (RTM_GET* with NLM_F_DUMP), as bits of a set. */
enum netmon_dump {
	NETMON_DUMP_NONE = 0,
	NETMON_DUMP_LINKS = 1 << 0,
	NETMON_DUMP_ADDRS = 1 << 1,
	NETMON_DUMP_ROUTES = 1 << 2,
	NETMON_DUMP_ALL = NETMON_DUMP_LINKS | NETMON_DUMP_ADDRS | NETMON_DUMP_ROUTES,
};

struct netmon_link {
	uint32_t index;
	uint32_t flags; /* IFF_UP, IFF_RUNNING, IFF_LOOPBACK of ifi_flags */
	char name[IF_NAMESIZE];
	bool tunnel; /* netmon_link_is_tunnel: never used */
	bool stale;  /* not (yet) seen by the dump in progress */
};

struct netmon_addr {
	uint32_t ifindex;
	struct ipport ip; /* port 0 */
	uint8_t prefixlen;
	uint8_t scope;	/* RT_SCOPE_* */
	uint32_t flags; /* IFA_F_TENTATIVE, IFA_F_DADFAILED */
	bool stale;
};

/* One next hop of a default route (dst_len 0, unicast, not the local table). */
struct netmon_route {
	uint8_t family;
	uint32_t table;	 /* RTA_TABLE, else rtm_table */
	uint32_t metric; /* RTA_PRIORITY */
	uint32_t ifindex;
	struct ipport gw; /* family 0: on-link (no RTA_GATEWAY) */
	bool stale;
};

/* The default route of one family, as chosen: its interface must be up and
 * not a tunnel; the main table wins over others, then the lowest metric. */
struct netmon_default {
	uint32_t ifindex; /* 0: none */
	char ifname[IF_NAMESIZE];
	struct ipport gw;   /* family 0: on-link */
	struct ipport self; /* our usable address there (in gw's prefix if any); family 0: none */
};

/* One usable address (netmon_addrs) and the interface that has it. */
struct netmon_used {
	struct ipport ip;
	uint32_t ifindex;
};

/* What the classification compares. addrs are sorted (family, address) and
 * unique. */
struct netmon_summary {
	struct netmon_default def4, def6;
	struct netmon_used addrs[NETMON_MAX_ADDRS];
	uint32_t n_addrs;
	bool all_down;
};

struct netmon_stats {
	uint64_t messages;	/* netlink messages parsed */
	uint64_t bad_buffers;	/* framing broke: the rest of that datagram dropped */
	uint64_t bad_messages;	/* a message's body was malformed: that message dropped */
	uint64_t unknown;	/* message types we do not handle (ignored) */
	uint64_t errors;	/* NLMSG_ERROR with an error code */
	uint64_t table_full;	/* entries dropped at a NETMON_MAX_* limit */
	uint64_t overruns;	/* ENOBUFS or a truncated datagram: events lost */
	uint64_t foreign;	/* datagrams not from the kernel (dropped) */
	uint64_t dumps;		/* dumps finished */
	uint64_t dump_failures; /* dumps failed, interrupted or timed out */
};

/* The pure core's state: what the kernel told us, bounded. */
struct netmon_state {
	struct netmon_link links[NETMON_MAX_LINKS];
	struct netmon_addr addrs[NETMON_MAX_ADDRS];
	struct netmon_route routes[NETMON_MAX_ROUTES];
	uint32_t n_links, n_addrs, n_routes;
	uint32_t portid;		/* ours: NLMSG_DONE/ERROR for our dump carry it */
	unsigned dump;			/* the dump in progress: one enum netmon_dump bit, or 0 */
	uint32_t dump_seq;		/* its request's sequence number */
	bool dump_intr;			/* NLM_F_DUMP_INTR seen: it raced a change */
	unsigned pending;		/* dumps to request (enum netmon_dump bits) */
	bool changed;			/* something stored changed since netmon_state_change */
	struct netmon_summary reported; /* as of the last netmon_state_change */
	struct netmon_stats stats;
};

/* --- the pure core --- */

void netmon_state_init(struct netmon_state *st);
/* A dump of kind (one bit) was requested with seq: its kind leaves pending,
 * and what is stored of that kind is marked stale until the dump shows it
 * again; at its NLMSG_DONE what stayed stale goes. */
void netmon_state_dump_begin(struct netmon_state *st, unsigned kind, uint32_t seq);
/* Gives the dump in progress up: nothing is swept, its kind is pending again. */
void netmon_state_dump_abort(struct netmon_state *st);
/* Applies every netlink message of buf (one datagram, or several put end
 * to end) to st. Unknown types are ignored. A message whose body is
 * malformed is skipped (bad_messages); framing that breaks (a header cut
 * short, nlmsg_len shorter than the header or past the end) stops the walk
 * there (bad_buffers). Returns 0, or -EINVAL when anything was malformed
 * (what came before it is applied). NLMSG_ERROR/NLMSG_DONE count only for
 * the dump in progress (its seq, our portid). */
int netmon_parse(const uint8_t *buf, size_t len, struct netmon_state *st);
/* What changed since the last call (the first compares with "all down"). */
enum netmon_change netmon_state_change(struct netmon_state *st);
void netmon_state_summary(const struct netmon_state *st, struct netmon_summary *out);
/* The usable addresses (port 0), sorted; returns how many were written. */
size_t netmon_state_addrs(const struct netmon_state *st, struct ipport *out, size_t cap);
/* family AF_INET or AF_INET6: 0, or -ENOENT when there is no default route. */
int netmon_state_default_route(const struct netmon_state *st, int family,
			       struct netmon_default *out);
/* The rule for interfaces we never use: kernel WireGuard (kind
 * "wireguard", any name), and names starting "wg" (wg-quick's and
 * wireguard-go's usual wg0), "tailscale" (Tailscale's tun; these two are the
 * names Tailscale skips for its default route) or "zt" (ZeroTier: Tailscale's
 * isProblematicInterface). kind may be "" (unknown). */
bool netmon_link_is_tunnel(const char *name, const char *kind);
/* One line for the log: "v4 eth0 via 192.0.2.1 self 192.0.2.2, v6 none, 3
 * addresses". Returns its length (0 if cap was too small). */
size_t netmon_summary_format(const struct netmon_summary *s, char *buf, size_t cap);

/* --- the socket --- */

struct netmon;

/* Opens a NETLINK_ROUTE socket (non-blocking, close-on-exec) subscribed to
 * links, v4/v6 addresses and v4/v6 routes, then dumps links, addresses and
 * routes, waiting up to NETMON_OPEN_TIMEOUT_MS. Call before the sandbox:
 * afterwards the socket needs only recvmsg and sendto (re-dumps), both in
 * the base seccomp set; no socket() of AF_NETLINK (SANDBOX_NETLINK is not
 * needed). The sandbox closes every fd it is not told to keep: add
 * netmon_fd() to the component's keep_fds first. Returns 0 and *out (the
 * caller frees it with netmon_free), or -errno. */
int netmon_open(struct netmon **out);
void netmon_free(struct netmon *nm);
int netmon_fd(const struct netmon *nm);
/* Reads what is pending (at most NETMON_READS_PER_CALL datagrams, never
 * blocking), updates the state, requests the dumps it needs, and returns what
 * changed. While a dump is in flight the answer is NETMON_CHANGE_NONE and the
 * change is reported once it finishes. Also call it when now_ns passes
 * netmon_deadline_ns, readable or not. */
enum netmon_change netmon_on_readable(struct netmon *nm, uint64_t now_ns);
/* When netmon_on_readable wants calling without input (monotonic ns), or
 * UINT64_MAX. */
uint64_t netmon_deadline_ns(const struct netmon *nm);
size_t netmon_addrs(const struct netmon *nm, struct ipport *out, size_t cap);
int netmon_default_route(const struct netmon *nm, int family, struct netmon_default *out);
const struct netmon_stats *netmon_stats(const struct netmon *nm);
void netmon_summary(const struct netmon *nm, struct netmon_summary *out);

#endif

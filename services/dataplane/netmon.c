/* netmon: the link monitor (netmon.h) over rtnetlink (rtnetlink(7)),
 * after Tailscale's net/netmon (netmon.go, state.go, netmon_linux.go,
 * interfaces_linux.go). The parser copies every header it reads into a local
 * struct once its length is checked; nothing untrusted is cast in place. */
#include "netmon.h"

#include <errno.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

/* Link flags we keep: a flag we do not use changing is no change. */
#define LINK_FLAGS (IFF_UP | IFF_RUNNING | IFF_LOOPBACK)
/* Address flags that make an address unusable: DAD not done, or failed. */
#define ADDR_FLAGS (IFA_F_TENTATIVE | IFA_F_DADFAILED)
#define GROUPS                                                                       \
	(RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | \
	 RTMGRP_IPV6_ROUTE)

/* Netlink's 4-byte alignment, in size_t so a huge length cannot wrap. */
static size_t align4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

const char *netmon_change_name(enum netmon_change c)
{
	switch (c) {
	case NETMON_CHANGE_NONE:
		return "none";
	case NETMON_CHANGE_MINOR:
		return "minor";
	case NETMON_CHANGE_MAJOR:
		return "major";
	case NETMON_CHANGE_ALL_DOWN:
		return "all-down";
	default:
		return "?";
	}
}

bool netmon_link_is_tunnel(const char *name, const char *kind)
{
	return strcmp(kind, "wireguard") == 0 || strncmp(name, "wg", 2) == 0 ||
	       strncmp(name, "tailscale", 9) == 0 || strncmp(name, "zt", 2) == 0;
}

/* --- attributes --- */

struct attr {
	uint16_t type; /* without NLA_F_NESTED / NLA_F_NET_BYTEORDER */
	const uint8_t *p;
	size_t len;
};

/* The attribute at *off of [p, p + len): 1 with *a, 0 at the end, -1 when
 * its length is shorter than its header (a zero length would never advance)
 * or runs past the end. Fewer than 4 bytes left are padding. */
static int attr_next(const uint8_t *p, size_t len, size_t *off, struct attr *a)
{
	struct rtattr h;
	size_t step;

	if (*off >= len || len - *off < sizeof(h))
		return 0;
	memcpy(&h, p + *off, sizeof(h));
	if (h.rta_len < sizeof(h) || h.rta_len > len - *off)
		return -1;
	a->type = h.rta_type & NLA_TYPE_MASK;
	a->p = p + *off + sizeof(h);
	a->len = h.rta_len - sizeof(h);
	step = align4(h.rta_len);
	*off += step < len - *off ? step : len - *off;
	return 1;
}

static int attr_u32(const struct attr *a, uint32_t *v)
{
	if (a->len < sizeof(*v))
		return -1;
	memcpy(v, a->p, sizeof(*v));
	return 0;
}

/* A string attribute into buf, NUL-terminated, cut at cap - 1. */
static void attr_str(const struct attr *a, char *buf, size_t cap)
{
	size_t n = a->len < cap - 1 ? a->len : cap - 1;
	const uint8_t *nul = memchr(a->p, 0, n);

	if (nul)
		n = (size_t)(nul - a->p);
	memcpy(buf, a->p, n);
	buf[n] = 0;
}

static int attr_ip(const struct attr *a, uint8_t family, struct ipport *ip)
{
	size_t n = family == AF_INET ? 4 : 16;

	if (a->len != n)
		return -1;
	memset(ip, 0, sizeof(*ip));
	ip->family = family;
	memcpy(ip->ip, a->p, n);
	return 0;
}

/* --- the tables --- */

static struct netmon_link *find_link(const struct netmon_state *st, uint32_t index)
{
	for (uint32_t i = 0; i < st->n_links; i++)
		if (st->links[i].index == index)
			return (struct netmon_link *)&st->links[i];
	return NULL;
}

static bool link_usable(const struct netmon_link *l)
{
	return l && (l->flags & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING) &&
	       !(l->flags & IFF_LOOPBACK) && !l->tunnel;
}

static bool has_v4_route(const struct netmon_state *st, uint32_t ifindex)
{
	for (uint32_t i = 0; i < st->n_routes; i++)
		if (st->routes[i].family == AF_INET && st->routes[i].ifindex == ifindex)
			return true;
	return false;
}

/* Entries are unordered: removal moves the last one into the hole. */
static void remove_addr(struct netmon_state *st, uint32_t i)
{
	st->addrs[i] = st->addrs[--st->n_addrs];
	st->changed = true;
}

static void remove_route(struct netmon_state *st, uint32_t i)
{
	st->routes[i] = st->routes[--st->n_routes];
	st->changed = true;
}

/* A link that goes takes its addresses and routes (the kernel does not
 * always say so for IPv4 routes). */
static void remove_link(struct netmon_state *st, uint32_t i)
{
	uint32_t index = st->links[i].index;

	st->links[i] = st->links[--st->n_links];
	st->changed = true;
	for (uint32_t j = st->n_addrs; j-- > 0;)
		if (st->addrs[j].ifindex == index)
			remove_addr(st, j);
	for (uint32_t j = st->n_routes; j-- > 0;)
		if (st->routes[j].ifindex == index)
			remove_route(st, j);
}

/* --- messages --- */

static int on_link(struct netmon_state *st, uint16_t type, const uint8_t *p, size_t len)
{
	struct ifinfomsg ifi;
	struct attr a, n;
	size_t off = align4(sizeof(ifi)), noff;
	char name[IF_NAMESIZE] = "", kind[NETMON_KIND_BYTES] = "";
	struct netmon_link *l;
	uint32_t flags;
	bool tunnel;
	int rc, nrc;

	if (len < sizeof(ifi))
		return -1;
	memcpy(&ifi, p, sizeof(ifi));
	while ((rc = attr_next(p, len, &off, &a)) > 0) {
		if (a.type == IFLA_IFNAME) {
			attr_str(&a, name, sizeof(name));
		} else if (a.type == IFLA_LINKINFO) {
			noff = 0;
			while ((nrc = attr_next(a.p, a.len, &noff, &n)) > 0)
				if (n.type == IFLA_INFO_KIND)
					attr_str(&n, kind, sizeof(kind));
			if (nrc < 0)
				return -1;
		}
	}
	if (rc < 0)
		return -1;
	/* AF_BRIDGE messages on the same group speak of bridge ports, not
	 * of links coming and going. */
	if (ifi.ifi_family != AF_UNSPEC || ifi.ifi_index <= 0)
		return 0;
	l = find_link(st, (uint32_t)ifi.ifi_index);
	if (type == RTM_DELLINK) {
		if (l)
			remove_link(st, (uint32_t)(l - st->links));
		return 0;
	}
	if (!l) {
		if (st->n_links == NETMON_MAX_LINKS) {
			st->stats.table_full++;
			return 0;
		}
		l = &st->links[st->n_links++];
		memset(l, 0, sizeof(*l));
		l->index = (uint32_t)ifi.ifi_index;
		st->changed = true;
	}
	l->stale = false;
	if (!name[0])
		memcpy(name, l->name, sizeof(name));
	flags = ifi.ifi_flags & LINK_FLAGS;
	tunnel = netmon_link_is_tunnel(name, kind);
	/* A link going down loses its IPv4 routes without an RTM_DELROUTE:
	 * dump them again. */
	if ((l->flags & IFF_UP) && !(flags & IFF_UP) && has_v4_route(st, l->index))
		st->pending |= NETMON_DUMP_ROUTES;
	if (l->flags != flags || l->tunnel != tunnel || strcmp(l->name, name) != 0) {
		l->flags = flags;
		l->tunnel = tunnel;
		memcpy(l->name, name, sizeof(l->name));
		st->changed = true;
	}
	return 0;
}

static int on_addr(struct netmon_state *st, uint16_t type, const uint8_t *p, size_t len)
{
	struct ifaddrmsg ifa;
	struct attr a;
	size_t off = align4(sizeof(ifa));
	struct ipport local = {0}, address = {0}, *ip;
	uint32_t flags;
	int rc;

	if (len < sizeof(ifa))
		return -1;
	memcpy(&ifa, p, sizeof(ifa));
	if (ifa.ifa_family != AF_INET && ifa.ifa_family != AF_INET6)
		return 0;
	flags = ifa.ifa_flags;
	while ((rc = attr_next(p, len, &off, &a)) > 0) {
		/* IFA_LOCAL is ours; IFA_ADDRESS is the peer's on a
		 * point-to-point link, and ours otherwise (always for v6). */
		if ((a.type == IFA_LOCAL && attr_ip(&a, ifa.ifa_family, &local) < 0) ||
		    (a.type == IFA_ADDRESS && attr_ip(&a, ifa.ifa_family, &address) < 0) ||
		    (a.type == IFA_FLAGS && attr_u32(&a, &flags) < 0))
			return -1;
	}
	if (rc < 0 || ifa.ifa_index == 0 || (!local.family && !address.family) ||
	    ifa.ifa_prefixlen > (ifa.ifa_family == AF_INET ? 32 : 128))
		return -1;
	ip = local.family ? &local : &address;
	flags &= ADDR_FLAGS;
	for (uint32_t i = 0; i < st->n_addrs; i++) {
		struct netmon_addr *e = &st->addrs[i];
		if (e->ifindex != ifa.ifa_index || e->prefixlen != ifa.ifa_prefixlen ||
		    !ipport_equal(&e->ip, ip))
			continue;
		if (type == RTM_DELADDR) {
			remove_addr(st, i);
			/* Routes through the address's subnet may go with it,
			 * again without an RTM_DELROUTE. */
			if (ifa.ifa_family == AF_INET && has_v4_route(st, ifa.ifa_index))
				st->pending |= NETMON_DUMP_ROUTES;
			return 0;
		}
		/* A repeated RTM_NEWADDR (lifetimes renewed) changes nothing
		 * (Tailscale's issue #4282). */
		if (e->flags != flags || e->scope != ifa.ifa_scope) {
			e->flags = flags;
			e->scope = ifa.ifa_scope;
			st->changed = true;
		}
		e->stale = false;
		return 0;
	}
	if (type == RTM_DELADDR)
		return 0;
	if (st->n_addrs == NETMON_MAX_ADDRS) {
		st->stats.table_full++;
		return 0;
	}
	st->addrs[st->n_addrs++] = (struct netmon_addr){.ifindex = ifa.ifa_index,
							.ip = *ip,
							.prefixlen = ifa.ifa_prefixlen,
							.scope = ifa.ifa_scope,
							.flags = flags};
	st->changed = true;
	return 0;
}

struct nexthop {
	uint32_t ifindex;
	struct ipport gw;
};

/* RTA_MULTIPATH: rtnexthop records, each with its own attributes. Returns
 * the number read into nh (at most NETMON_MAX_NEXTHOPS), or -1. */
static int multipath(const struct attr *mp, uint8_t family, struct nexthop *nh)
{
	struct rtnexthop h;
	struct attr a;
	size_t off = 0, aoff, step;
	int n = 0, rc;

	while (off < mp->len && mp->len - off >= sizeof(h)) {
		memcpy(&h, mp->p + off, sizeof(h));
		if (h.rtnh_len < sizeof(h) || h.rtnh_len > mp->len - off)
			return -1;
		struct nexthop one = {.ifindex = h.rtnh_ifindex > 0 ? (uint32_t)h.rtnh_ifindex : 0};
		aoff = align4(sizeof(h));
		while ((rc = attr_next(mp->p + off, h.rtnh_len, &aoff, &a)) > 0)
			if (a.type == RTA_GATEWAY && attr_ip(&a, family, &one.gw) < 0)
				return -1;
		if (rc < 0)
			return -1;
		if (n < NETMON_MAX_NEXTHOPS)
			nh[n++] = one;
		step = align4(h.rtnh_len);
		off += step < mp->len - off ? step : mp->len - off;
	}
	return n;
}

static int find_route(const struct netmon_state *st, const struct netmon_route *r)
{
	for (uint32_t i = 0; i < st->n_routes; i++) {
		const struct netmon_route *e = &st->routes[i];
		if (e->family == r->family && e->table == r->table && e->metric == r->metric &&
		    e->ifindex == r->ifindex && ipport_equal(&e->gw, &r->gw))
			return (int)i;
	}
	return -1;
}

static int on_route(struct netmon_state *st, uint16_t type, uint16_t nlflags, const uint8_t *p,
		    size_t len)
{
	struct rtmsg rtm;
	struct attr a, mp = {0};
	size_t off = align4(sizeof(rtm));
	struct nexthop nh[NETMON_MAX_NEXTHOPS];
	struct netmon_route r = {0};
	struct ipport dst;
	int n = 0, rc;

	if (len < sizeof(rtm))
		return -1;
	memcpy(&rtm, p, sizeof(rtm));
	if (rtm.rtm_family != AF_INET && rtm.rtm_family != AF_INET6)
		return 0;
	memset(nh, 0, sizeof(nh));
	r.family = rtm.rtm_family;
	r.table = rtm.rtm_table;
	while ((rc = attr_next(p, len, &off, &a)) > 0) {
		if ((a.type == RTA_TABLE && attr_u32(&a, &r.table) < 0) ||
		    (a.type == RTA_PRIORITY && attr_u32(&a, &r.metric) < 0) ||
		    (a.type == RTA_OIF && attr_u32(&a, &nh[0].ifindex) < 0) ||
		    (a.type == RTA_GATEWAY && attr_ip(&a, r.family, &nh[0].gw) < 0) ||
		    (a.type == RTA_DST && attr_ip(&a, r.family, &dst) < 0))
			return -1;
		if (a.type == RTA_MULTIPATH)
			mp = a;
	}
	if (rc < 0)
		return -1;
	if (mp.p && (n = multipath(&mp, r.family, nh)) < 0)
		return -1;
	/* Only default routes (Tailscale reads only those too), unicast,
	 * not cached clones, not source-specific, not the local table. */
	if (rtm.rtm_dst_len != 0 || rtm.rtm_src_len != 0 || rtm.rtm_type != RTN_UNICAST ||
	    r.table == RT_TABLE_LOCAL || (rtm.rtm_flags & RTM_F_CLONED))
		return 0;
	if (!mp.p)
		n = nh[0].ifindex ? 1 : 0;
	/* NLM_F_REPLACE: the route (table, metric) has new next hops. */
	if (type == RTM_NEWROUTE && (nlflags & NLM_F_REPLACE))
		for (uint32_t i = st->n_routes; i-- > 0;)
			if (st->routes[i].family == r.family && st->routes[i].table == r.table &&
			    st->routes[i].metric == r.metric)
				remove_route(st, i);
	for (int k = 0; k < n; k++) {
		int i;
		if (!nh[k].ifindex)
			continue;
		r.ifindex = nh[k].ifindex;
		r.gw = nh[k].gw;
		i = find_route(st, &r);
		if (type == RTM_DELROUTE) {
			if (i >= 0)
				remove_route(st, (uint32_t)i);
		} else if (i >= 0) {
			st->routes[i].stale = false;
		} else if (st->n_routes == NETMON_MAX_ROUTES) {
			st->stats.table_full++;
		} else {
			st->routes[st->n_routes++] = r;
			st->changed = true;
		}
	}
	return 0;
}

/* --- dumps --- */

static void mark_stale(struct netmon_state *st, unsigned kind, bool stale)
{
	if (kind & NETMON_DUMP_LINKS)
		for (uint32_t i = 0; i < st->n_links; i++)
			st->links[i].stale = stale;
	if (kind & NETMON_DUMP_ADDRS)
		for (uint32_t i = 0; i < st->n_addrs; i++)
			st->addrs[i].stale = stale;
	if (kind & NETMON_DUMP_ROUTES)
		for (uint32_t i = 0; i < st->n_routes; i++)
			st->routes[i].stale = stale;
}

void netmon_state_dump_begin(struct netmon_state *st, unsigned kind, uint32_t seq)
{
	st->dump = kind;
	st->dump_seq = seq;
	st->dump_intr = false;
	st->pending &= ~kind;
	mark_stale(st, kind, true);
}

void netmon_state_dump_abort(struct netmon_state *st)
{
	if (!st->dump)
		return;
	mark_stale(st, st->dump, false);
	st->pending |= st->dump;
	st->stats.dump_failures++;
	st->dump = 0;
}

/* The dump finished: what it did not show is gone, unless it failed or
 * raced a change (then it is asked for again, and nothing is swept). */
static void dump_done(struct netmon_state *st, int err)
{
	if (err || st->dump_intr) {
		netmon_state_dump_abort(st);
		return;
	}
	for (uint32_t i = st->n_links; i-- > 0;)
		if (st->links[i].stale)
			remove_link(st, i);
	for (uint32_t i = st->n_addrs; i-- > 0;)
		if (st->addrs[i].stale)
			remove_addr(st, i);
	for (uint32_t i = st->n_routes; i-- > 0;)
		if (st->routes[i].stale)
			remove_route(st, i);
	st->stats.dumps++;
	st->dump = 0;
}

/* The errno in an NLMSG_ERROR or NLMSG_DONE payload (a negative int), or
 * -1 when the payload is too short for one. */
static int payload_errno(const uint8_t *p, size_t len)
{
	int32_t e;

	if (len < sizeof(e))
		return -1;
	memcpy(&e, p, sizeof(e));
	if (e == 0)
		return 0;
	return e < 0 && e > -4096 ? -e : EPROTO;
}

static int on_message(struct netmon_state *st, const struct nlmsghdr *h, const uint8_t *p,
		      size_t len)
{
	bool ours = st->dump && h->nlmsg_seq == st->dump_seq && h->nlmsg_pid == st->portid;
	int err;

	if (ours && (h->nlmsg_flags & NLM_F_DUMP_INTR))
		st->dump_intr = true;
	switch (h->nlmsg_type) {
	case NLMSG_NOOP:
	case NLMSG_OVERRUN:
		return 0;
	case NLMSG_ERROR:
		err = payload_errno(p, len);
		if (err < 0)
			return -1;
		if (err) {
			st->stats.errors++;
			if (ours)
				dump_done(st, err);
		}
		return 0;
	case NLMSG_DONE:
		/* Older kernels may send no payload: that is success. */
		err = payload_errno(p, len);
		if (ours)
			dump_done(st, err > 0 ? err : 0);
		return 0;
	case RTM_NEWLINK:
	case RTM_DELLINK:
		return on_link(st, h->nlmsg_type, p, len);
	case RTM_NEWADDR:
	case RTM_DELADDR:
		return on_addr(st, h->nlmsg_type, p, len);
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		return on_route(st, h->nlmsg_type, h->nlmsg_flags, p, len);
	default:
		st->stats.unknown++;
		return 0;
	}
}

int netmon_parse(const uint8_t *buf, size_t len, struct netmon_state *st)
{
	size_t off = 0, step;
	int rc = 0;

	while (off < len) {
		struct nlmsghdr h;
		if (len - off < sizeof(h)) {
			st->stats.bad_buffers++;
			return -EINVAL;
		}
		memcpy(&h, buf + off, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > len - off) {
			st->stats.bad_buffers++;
			return -EINVAL;
		}
		st->stats.messages++;
		if (on_message(st, &h, buf + off + sizeof(h), h.nlmsg_len - sizeof(h)) < 0) {
			st->stats.bad_messages++;
			rc = -EINVAL;
		}
		step = align4(h.nlmsg_len);
		off += step < len - off ? step : len - off;
	}
	return rc;
}

/* --- what we use, and what changed --- */

void netmon_state_init(struct netmon_state *st)
{
	memset(st, 0, sizeof(*st));
	st->reported.all_down = true;
}

/* Not loopback, link-local, multicast, unspecified or v4-mapped; DAD done;
 * scope wider than the link. */
static bool addr_usable(const struct netmon_addr *a)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t zero[16];
	const uint8_t *ip = a->ip.ip;

	if ((a->flags & ADDR_FLAGS) || a->scope >= RT_SCOPE_LINK)
		return false;
	if (a->ip.family == AF_INET)
		return ip[0] != 0 && ip[0] != 127 && !(ip[0] == 169 && ip[1] == 254) && ip[0] < 224;
	return memcmp(ip, zero, 15) != 0 && ip[0] != 0xff &&
	       !(ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80) && memcmp(ip, mapped, 12) != 0;
}

static bool in_prefix(const struct ipport *ip, const struct ipport *net, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (ip->family != net->family || memcmp(ip->ip, net->ip, whole) != 0)
		return false;
	return rest == 0 || ((ip->ip[whole] ^ net->ip[whole]) & (0xff00 >> rest) & 0xff) == 0;
}

/* The main table first (Tailscale reads /proc/net/route, which is it), then
 * the lowest metric; the rest only makes the choice independent of the
 * order entries happen to be in. */
static bool route_better(const struct netmon_route *a, const struct netmon_route *b)
{
	bool am = a->table == RT_TABLE_MAIN, bm = b->table == RT_TABLE_MAIN;

	if (am != bm)
		return am;
	if (a->metric != b->metric)
		return a->metric < b->metric;
	if (a->table != b->table)
		return a->table < b->table;
	if (a->ifindex != b->ifindex)
		return a->ifindex < b->ifindex;
	if (a->gw.family != b->gw.family)
		return a->gw.family < b->gw.family;
	return memcmp(a->gw.ip, b->gw.ip, sizeof(a->gw.ip)) < 0;
}

static void choose_default(const struct netmon_state *st, uint8_t family, struct netmon_default *d)
{
	const struct netmon_route *best = NULL;
	const struct netmon_addr *self = NULL;
	const struct netmon_link *l;

	memset(d, 0, sizeof(*d));
	for (uint32_t i = 0; i < st->n_routes; i++) {
		const struct netmon_route *r = &st->routes[i];
		if (r->family == family && link_usable(find_link(st, r->ifindex)) &&
		    (!best || route_better(r, best)))
			best = r;
	}
	if (!best)
		return;
	l = find_link(st, best->ifindex);
	d->ifindex = best->ifindex;
	memcpy(d->ifname, l->name, sizeof(d->ifname));
	d->gw = best->gw;
	/* Our address there: the one whose prefix holds the gateway, else
	 * the lowest. */
	for (uint32_t i = 0; i < st->n_addrs; i++) {
		const struct netmon_addr *a = &st->addrs[i];
		bool holds, self_holds;
		if (a->ifindex != best->ifindex || a->ip.family != family || !addr_usable(a))
			continue;
		holds = best->gw.family && in_prefix(&best->gw, &a->ip, a->prefixlen);
		self_holds =
			self && best->gw.family && in_prefix(&best->gw, &self->ip, self->prefixlen);
		if (!self || (holds && !self_holds) ||
		    (holds == self_holds && memcmp(a->ip.ip, self->ip.ip, 16) < 0))
			self = a;
	}
	if (self)
		d->self = self->ip;
}

static int used_cmp(const struct netmon_used *a, const struct netmon_used *b)
{
	int c;

	if (a->ip.family != b->ip.family)
		return a->ip.family == AF_INET ? -1 : 1;
	c = memcmp(a->ip.ip, b->ip.ip, sizeof(a->ip.ip));
	if (c)
		return c;
	return a->ifindex < b->ifindex ? -1 : a->ifindex > b->ifindex;
}

void netmon_state_summary(const struct netmon_state *st, struct netmon_summary *out)
{
	memset(out, 0, sizeof(*out));
	choose_default(st, AF_INET, &out->def4);
	choose_default(st, AF_INET6, &out->def6);
	for (uint32_t i = 0; i < st->n_addrs; i++) {
		const struct netmon_addr *a = &st->addrs[i];
		struct netmon_used u = {.ip = a->ip, .ifindex = a->ifindex};
		uint32_t j;
		if (!addr_usable(a) || !link_usable(find_link(st, a->ifindex)))
			continue;
		/* Insertion sort; an address on two interfaces is kept once,
		 * with the lower index. */
		for (j = out->n_addrs; j > 0 && used_cmp(&u, &out->addrs[j - 1]) < 0; j--)
			;
		if (j > 0 && ipport_equal(&out->addrs[j - 1].ip, &u.ip))
			continue;
		if (j < out->n_addrs && ipport_equal(&out->addrs[j].ip, &u.ip)) {
			out->addrs[j] = u;
			continue;
		}
		memmove(&out->addrs[j + 1], &out->addrs[j],
			(out->n_addrs - j) * sizeof(out->addrs[0]));
		out->addrs[j] = u;
		out->n_addrs++;
	}
	out->all_down = out->n_addrs == 0;
}

static bool default_equal(const struct netmon_default *a, const struct netmon_default *b)
{
	return a->ifindex == b->ifindex && ipport_equal(&a->gw, &b->gw);
}

static bool has_family(const struct netmon_summary *s, uint8_t family)
{
	for (uint32_t i = 0; i < s->n_addrs; i++)
		if (s->addrs[i].ip.family == family)
			return true;
	return false;
}

static bool has_used(const struct netmon_summary *s, const struct netmon_used *u)
{
	for (uint32_t i = 0; i < s->n_addrs; i++)
		if (s->addrs[i].ifindex == u->ifindex && ipport_equal(&s->addrs[i].ip, &u->ip))
			return true;
	return false;
}

static enum netmon_change classify(const struct netmon_summary *old,
				   const struct netmon_summary *now, bool changed)
{
	if (now->all_down)
		return old->all_down ? (changed ? NETMON_CHANGE_MINOR : NETMON_CHANGE_NONE)
				     : NETMON_CHANGE_ALL_DOWN;
	if (old->all_down || !default_equal(&old->def4, &now->def4) ||
	    !default_equal(&old->def6, &now->def6) ||
	    has_family(old, AF_INET) != has_family(now, AF_INET) ||
	    has_family(old, AF_INET6) != has_family(now, AF_INET6))
		return NETMON_CHANGE_MAJOR;
	for (uint32_t i = 0; i < old->n_addrs; i++) {
		const struct netmon_used *u = &old->addrs[i];
		bool on_default = (old->def4.ifindex && u->ifindex == old->def4.ifindex) ||
				  (old->def6.ifindex && u->ifindex == old->def6.ifindex);
		if (on_default && !has_used(now, u))
			return NETMON_CHANGE_MAJOR;
	}
	return changed ? NETMON_CHANGE_MINOR : NETMON_CHANGE_NONE;
}

enum netmon_change netmon_state_change(struct netmon_state *st)
{
	struct netmon_summary now;
	enum netmon_change c;

	netmon_state_summary(st, &now);
	c = classify(&st->reported, &now, st->changed);
	st->reported = now;
	st->changed = false;
	return c;
}

size_t netmon_state_addrs(const struct netmon_state *st, struct ipport *out, size_t cap)
{
	struct netmon_summary s;
	size_t n = 0;

	netmon_state_summary(st, &s);
	for (uint32_t i = 0; i < s.n_addrs && n < cap; i++)
		out[n++] = s.addrs[i].ip;
	return n;
}

int netmon_state_default_route(const struct netmon_state *st, int family,
			       struct netmon_default *out)
{
	if (family != AF_INET && family != AF_INET6)
		return -EINVAL;
	choose_default(st, (uint8_t)family, out);
	return out->ifindex ? 0 : -ENOENT;
}

static size_t format_default(const char *fam, const struct netmon_default *d, char *buf, size_t cap)
{
	char gw[ADDR_TEXT_MAX] = "on-link", self[ADDR_TEXT_MAX] = "none";
	int n;

	if (!d->ifindex)
		n = snprintf(buf, cap, "%s none", fam);
	else {
		if (d->gw.family)
			inet_ntop(d->gw.family, d->gw.ip, gw, sizeof(gw));
		if (d->self.family)
			inet_ntop(d->self.family, d->self.ip, self, sizeof(self));
		n = snprintf(buf, cap, "%s %s via %s self %s", fam, d->ifname, gw, self);
	}
	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

size_t netmon_summary_format(const struct netmon_summary *s, char *buf, size_t cap)
{
	size_t a, b;
	int n;

	if (cap == 0 || !(a = format_default("v4", &s->def4, buf, cap)) || cap - a < 3)
		return 0;
	memcpy(buf + a, ", ", 3);
	a += 2;
	if (!(b = format_default("v6", &s->def6, buf + a, cap - a)))
		return 0;
	a += b;
	n = snprintf(buf + a, cap - a, ", %u addresses%s", s->n_addrs,
		     s->all_down ? " (all down)" : "");
	return n < 0 || (size_t)n >= cap - a ? 0 : a + (size_t)n;
}

/* --- the socket --- */

struct netmon {
	int fd;
	uint32_t seq;		   /* of the last dump request */
	uint64_t dump_deadline_ns; /* the dump in progress is given up then */
	uint64_t retry_ns;	   /* no request before then (after a failure) */
	struct log_ratelimit rl;
	struct netmon_state st;
	uint8_t buf[NETMON_RECV_BYTES];
};

static int send_dump(struct netmon *nm, unsigned kind, uint32_t seq)
{
	struct {
		struct nlmsghdr h;
		union {
			struct ifinfomsg link;
			struct ifaddrmsg addr;
			struct rtmsg route;
		} body;
	} req;
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};

	/* Every family (AF_UNSPEC, 0): v4 and v6 in one dump. */
	memset(&req, 0, sizeof(req));
	if (kind == NETMON_DUMP_LINKS) {
		req.h.nlmsg_type = RTM_GETLINK;
		req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.body.link));
	} else if (kind == NETMON_DUMP_ADDRS) {
		req.h.nlmsg_type = RTM_GETADDR;
		req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.body.addr));
	} else {
		req.h.nlmsg_type = RTM_GETROUTE;
		req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.body.route));
	}
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.h.nlmsg_seq = seq;
	if (sendto(nm->fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) <
	    0)
		return -errno;
	return 0;
}

static const char *dump_name(unsigned kind)
{
	return kind == NETMON_DUMP_LINKS   ? "links"
	       : kind == NETMON_DUMP_ADDRS ? "addresses"
					   : "routes";
}

/* One dump at a time (the kernel runs one per socket): links, addresses,
 * routes, in that order, so addresses and routes find their links. */
static void drive_dumps(struct netmon *nm, uint64_t now_ns)
{
	struct netmon_state *st = &nm->st;
	unsigned kind;
	int rc;

	if (st->dump && now_ns >= nm->dump_deadline_ns) {
		log_rl(&nm->rl, now_ns, LOG_LEVEL_WARN,
		       "netmon: the dump of %s took over %d ms; asking again", dump_name(st->dump),
		       NETMON_DUMP_TIMEOUT_MS);
		netmon_state_dump_abort(st);
	}
	if (st->dump || !st->pending || now_ns < nm->retry_ns)
		return;
	kind = st->pending & -st->pending;
	if (++nm->seq == 0)
		nm->seq = 1;
	rc = send_dump(nm, kind, nm->seq);
	if (rc < 0) {
		log_rl(&nm->rl, now_ns, LOG_LEVEL_WARN, "netmon: dump of %s: %s; retrying in %d ms",
		       dump_name(kind), strerror(-rc), NETMON_RETRY_MS);
		nm->retry_ns = now_ns + (uint64_t)NETMON_RETRY_MS * NS_PER_MS;
		return;
	}
	netmon_state_dump_begin(st, kind, nm->seq);
	nm->dump_deadline_ns = now_ns + (uint64_t)NETMON_DUMP_TIMEOUT_MS * NS_PER_MS;
}

/* Events were lost: everything is dumped again. The dump in progress may
 * have lost some of its own (a datagram cut short): it sweeps nothing. */
static void overrun(struct netmon *nm, uint64_t now_ns, const char *why)
{
	nm->st.stats.overruns++;
	nm->st.pending = NETMON_DUMP_ALL;
	if (nm->st.dump)
		nm->st.dump_intr = true;
	log_rl(&nm->rl, now_ns, LOG_LEVEL_WARN, "netmon: %s: events lost; dumping everything again",
	       why);
}

static void read_some(struct netmon *nm, uint64_t now_ns)
{
	struct netmon_state *st = &nm->st;

	for (int i = 0; i < NETMON_READS_PER_CALL; i++) {
		struct sockaddr_nl from;
		struct iovec iov = {.iov_base = nm->buf, .iov_len = sizeof(nm->buf)};
		struct msghdr mh = {.msg_name = &from,
				    .msg_namelen = sizeof(from),
				    .msg_iov = &iov,
				    .msg_iovlen = 1};
		uint64_t failures = st->stats.dump_failures;
		ssize_t n = recvmsg(nm->fd, &mh, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				overrun(nm, now_ns, "receive buffer full");
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_rl(&nm->rl, now_ns, LOG_LEVEL_WARN, "netmon: recvmsg: %s",
				       strerror(errno));
			return;
		}
		/* Only the kernel (port 0) speaks for the kernel. */
		if (mh.msg_namelen < sizeof(from) || from.nl_family != AF_NETLINK ||
		    from.nl_pid != 0) {
			st->stats.foreign++;
			continue;
		}
		if (mh.msg_flags & MSG_TRUNC) {
			overrun(nm, now_ns, "datagram larger than NETMON_RECV_BYTES");
			continue;
		}
		if (netmon_parse(nm->buf, (size_t)n, st) < 0)
			log_rl(&nm->rl, now_ns, LOG_LEVEL_WARN,
			       "netmon: malformed netlink datagram of %zd bytes (%llu so far); "
			       "dropped what did not parse",
			       n,
			       (unsigned long long)(st->stats.bad_buffers +
						    st->stats.bad_messages));
		if (st->stats.dump_failures != failures)
			nm->retry_ns = now_ns + (uint64_t)NETMON_RETRY_MS * NS_PER_MS;
		drive_dumps(nm, now_ns);
	}
}

int netmon_open(struct netmon **out)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = GROUPS};
	socklen_t salen = sizeof(sa);
	int rcvbuf = NETMON_RCVBUF_BYTES, rc;
	uint64_t now, end;
	struct netmon *nm;

	*out = NULL;
	nm = calloc(1, sizeof(*nm));
	if (!nm)
		return -ENOMEM;
	netmon_state_init(&nm->st);
	log_ratelimit_init(&nm->rl, LOG_RATELIMIT_DEFAULT_MS);
	nm->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nm->fd < 0) {
		rc = -errno;
		goto out;
	}
	/* Past rmem_max only with CAP_NET_ADMIN; the plain option is capped. */
	if (setsockopt(nm->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(nm->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(nm->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(nm->fd, (struct sockaddr *)&sa, &salen) < 0) {
		rc = -errno;
		goto out;
	}
	nm->st.portid = sa.nl_pid;
	nm->st.pending = NETMON_DUMP_ALL;
	now = clock_mono_ns();
	end = now + (uint64_t)NETMON_OPEN_TIMEOUT_MS * NS_PER_MS;
	for (;;) {
		struct pollfd pfd = {.fd = nm->fd, .events = POLLIN};
		uint64_t wake;
		drive_dumps(nm, now);
		if (!nm->st.dump && !nm->st.pending)
			break;
		if (now >= end) {
			rc = -ETIMEDOUT;
			goto out;
		}
		wake = netmon_deadline_ns(nm) < end ? netmon_deadline_ns(nm) : end;
		if (poll(&pfd, 1, wake > now ? (int)((wake - now) / NS_PER_MS) + 1 : 0) < 0 &&
		    errno != EINTR) {
			rc = -errno;
			goto out;
		}
		read_some(nm, now);
		now = clock_mono_ns();
	}
	netmon_state_change(&nm->st); /* the baseline */
	*out = nm;
	return 0;
out:
	netmon_free(nm);
	return rc;
}

void netmon_free(struct netmon *nm)
{
	if (!nm)
		return;
	if (nm->fd >= 0)
		close(nm->fd);
	free(nm);
}

int netmon_fd(const struct netmon *nm)
{
	return nm->fd;
}

enum netmon_change netmon_on_readable(struct netmon *nm, uint64_t now_ns)
{
	read_some(nm, now_ns);
	drive_dumps(nm, now_ns);
	/* Judge a consistent state: not halfway through a dump (after lost
	 * events, or for routes the kernel removed without a word). */
	if (nm->st.dump)
		return NETMON_CHANGE_NONE;
	return netmon_state_change(&nm->st);
}

uint64_t netmon_deadline_ns(const struct netmon *nm)
{
	if (nm->st.dump)
		return nm->dump_deadline_ns;
	if (nm->st.pending)
		return nm->retry_ns;
	return UINT64_MAX;
}

size_t netmon_addrs(const struct netmon *nm, struct ipport *out, size_t cap)
{
	return netmon_state_addrs(&nm->st, out, cap);
}

int netmon_default_route(const struct netmon *nm, int family, struct netmon_default *out)
{
	return netmon_state_default_route(&nm->st, family, out);
}

const struct netmon_stats *netmon_stats(const struct netmon *nm)
{
	return &nm->st.stats;
}

void netmon_summary(const struct netmon *nm, struct netmon_summary *out)
{
	netmon_state_summary(&nm->st, out);
}

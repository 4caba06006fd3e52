/* netmon_parse: rtnetlink messages (rtnetlink(7)) into the link monitor's
 * tables (struct netmon_state, netmon.h): links, addresses, default routes,
 * and the dumps that refresh them, after Tailscale's net/netmon
 * (netmon_linux.go, interfaces_linux.go). Pure: no I/O, no logging, no
 * allocation. The parser copies every header it reads into a local struct
 * once its length is checked; nothing untrusted is cast in place. No
 * timers (the socket's are in netmon.c). */
#include "netmon_internal.h"

#include <errno.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* Link flags we keep: a flag we do not use changing is no change. */
#define LINK_FLAGS (IFF_UP | IFF_RUNNING | IFF_LOOPBACK)

/* Netlink's 4-byte alignment, in size_t so a huge length cannot wrap. */
static size_t align4(size_t n)
{
	return (n + 3) & ~(size_t)3;
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

struct netmon_link *netmon_find_link(const struct netmon_state *st, uint32_t index)
{
	for (uint32_t i = 0; i < st->n_links; i++)
		if (st->links[i].index == index)
			return (struct netmon_link *)&st->links[i];
	return NULL;
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
	l = netmon_find_link(st, (uint32_t)ifi.ifi_index);
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
	flags &= NETMON_ADDR_FLAGS;
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

/* netmon_state: what the link monitor makes of its tables (netmon.h), after
 * Tailscale's net/netmon (state.go; netmon.go's IsMajorChangeFrom): the
 * usable addresses, each family's default route, what changed since the
 * last report, and a line for the log. Pure; no timers. */
#include "netmon_internal.h"

#include <errno.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

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

void netmon_state_init(struct netmon_state *st)
{
	memset(st, 0, sizeof(*st));
	st->reported.all_down = true;
}

static bool link_usable(const struct netmon_link *l)
{
	return l && (l->flags & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING) &&
	       !(l->flags & IFF_LOOPBACK) && !l->tunnel;
}

/* Not loopback, link-local, multicast, unspecified or v4-mapped; DAD done;
 * scope wider than the link. */
static bool addr_usable(const struct netmon_addr *a)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t zero[16];
	const uint8_t *ip = a->ip.ip;

	if ((a->flags & NETMON_ADDR_FLAGS) || a->scope >= RT_SCOPE_LINK)
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
		if (r->family == family && link_usable(netmon_find_link(st, r->ifindex)) &&
		    (!best || route_better(r, best)))
			best = r;
	}
	if (!best)
		return;
	l = netmon_find_link(st, best->ifindex);
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
		if (!addr_usable(a) || !link_usable(netmon_find_link(st, a->ifindex)))
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

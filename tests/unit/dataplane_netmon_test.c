/* dataplane_netmon_test: the link monitor (netmon.h). Netlink buffers built
 * as the kernel lays them out (rtnetlink(7)) drive the pure core: links,
 * addresses and default routes coming and going, the classification of
 * sequences of them, dumps and their sweep, and one test per malformed case.
 * As root, a forked child in a network namespace of its own runs the real
 * monitor while ip(8) adds veth links, addresses and routes. */
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "netmon.h"

enum {
	NL_BYTES = 65536,
	/* Interface indexes of the "home" state (home()). */
	LO = 1,
	ETH0 = 2,
	WLAN0 = 3,
	OTHER_SEQ = 77, /* a sequence number no dump of ours uses */
	CHILD_SKIP = 77,
	SETTLE_ROUNDS = 100, /* 100 ms polls: a kernel step settles well within 10 s */
};

/* A netlink buffer under construction. */
struct nl {
	_Alignas(4) uint8_t b[NL_BYTES];
	size_t len;
	size_t msg; /* where the open message starts */
};

static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static void put(struct nl *n, const void *p, size_t len)
{
	assert_true(n->len + pad4(len) <= sizeof(n->b));
	memcpy(n->b + n->len, p, len);
	memset(n->b + n->len + len, 0, pad4(len) - len);
	n->len += pad4(len);
}

static void msg_begin(struct nl *n, uint16_t type, uint16_t flags, uint32_t seq)
{
	struct nlmsghdr h = {.nlmsg_type = type, .nlmsg_flags = flags, .nlmsg_seq = seq};

	n->msg = n->len;
	put(n, &h, sizeof(h));
}

static void msg_end(struct nl *n)
{
	uint32_t len = (uint32_t)(n->len - n->msg);

	memcpy(n->b + n->msg, &len, sizeof(len));
}

static void attr(struct nl *n, uint16_t type, const void *p, size_t len)
{
	struct rtattr a = {.rta_len = (unsigned short)(sizeof(a) + len), .rta_type = type};

	put(n, &a, sizeof(a));
	if (len)
		put(n, p, len);
}

static void attr_u32(struct nl *n, uint16_t type, uint32_t v)
{
	attr(n, type, &v, sizeof(v));
}

static size_t nest_begin(struct nl *n, uint16_t type)
{
	size_t at = n->len;

	attr(n, type, NULL, 0);
	return at;
}

static void nest_end(struct nl *n, size_t at)
{
	uint16_t len = (uint16_t)(n->len - at);

	memcpy(n->b + at, &len, sizeof(len));
}

static struct ipport ip(const char *s)
{
	struct ipport a;

	assert_int_equal(ip_parse(s, &a), 0);
	return a;
}

static void link_msg_seq(struct nl *n, uint16_t type, uint16_t nlflags, uint32_t seq, int index,
			 unsigned flags, const char *name, const char *kind)
{
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = index, .ifi_flags = flags};

	msg_begin(n, type, nlflags, seq);
	put(n, &ifi, sizeof(ifi));
	attr(n, IFLA_IFNAME, name, strlen(name) + 1);
	if (kind) {
		size_t at = nest_begin(n, IFLA_LINKINFO);
		attr(n, IFLA_INFO_KIND, kind, strlen(kind) + 1);
		nest_end(n, at);
	}
	msg_end(n);
}

static void link_msg(struct nl *n, uint16_t type, int index, unsigned flags, const char *name,
		     const char *kind)
{
	link_msg_seq(n, type, 0, 0, index, flags, name, kind);
}

/* The scope the kernel gives: host for loopback, link for fe80::/10. */
static void addr_msg_seq(struct nl *n, uint16_t type, uint16_t nlflags, uint32_t seq, int index,
			 const char *s, uint8_t prefixlen, uint32_t flags)
{
	struct ipport a = ip(s);
	struct ifaddrmsg ifa = {.ifa_family = a.family,
				.ifa_prefixlen = prefixlen,
				.ifa_flags = (uint8_t)flags,
				.ifa_index = (uint32_t)index};
	size_t alen = a.family == AF_INET ? 4 : 16;

	if (a.family == AF_INET && a.ip[0] == 127)
		ifa.ifa_scope = RT_SCOPE_HOST;
	else if (a.family == AF_INET6 && a.ip[0] == 0xfe && (a.ip[1] & 0xc0) == 0x80)
		ifa.ifa_scope = RT_SCOPE_LINK;
	msg_begin(n, type, nlflags, seq);
	put(n, &ifa, sizeof(ifa));
	attr(n, IFA_ADDRESS, a.ip, alen);
	if (a.family == AF_INET)
		attr(n, IFA_LOCAL, a.ip, alen);
	if (flags > 0xff)
		attr_u32(n, IFA_FLAGS, flags);
	msg_end(n);
}

static void addr_msg(struct nl *n, uint16_t type, int index, const char *s, uint8_t prefixlen)
{
	addr_msg_seq(n, type, 0, 0, index, s, prefixlen, 0);
}

/* A default route; gw NULL: on-link. */
static void route_msg_seq(struct nl *n, uint16_t type, uint16_t nlflags, uint32_t seq, int family,
			  uint32_t table, int oif, const char *gw, uint32_t metric)
{
	struct rtmsg r = {.rtm_family = (uint8_t)family,
			  .rtm_table = (uint8_t)(table < 256 ? table : RT_TABLE_UNSPEC),
			  .rtm_protocol = RTPROT_BOOT,
			  .rtm_scope = RT_SCOPE_UNIVERSE,
			  .rtm_type = RTN_UNICAST};

	msg_begin(n, type, nlflags, seq);
	put(n, &r, sizeof(r));
	attr_u32(n, RTA_TABLE, table);
	if (metric)
		attr_u32(n, RTA_PRIORITY, metric);
	if (gw) {
		struct ipport g = ip(gw);
		attr(n, RTA_GATEWAY, g.ip, g.family == AF_INET ? 4 : 16);
	}
	attr_u32(n, RTA_OIF, (uint32_t)oif);
	msg_end(n);
}

static void route_msg(struct nl *n, uint16_t type, uint16_t nlflags, int family, uint32_t table,
		      int oif, const char *gw, uint32_t metric)
{
	route_msg_seq(n, type, nlflags, 0, family, table, oif, gw, metric);
}

static void done_msg(struct nl *n, uint32_t seq, uint32_t pid)
{
	int32_t zero = 0;

	msg_begin(n, NLMSG_DONE, NLM_F_MULTI, seq);
	memcpy(n->b + n->msg + offsetof(struct nlmsghdr, nlmsg_pid), &pid, sizeof(pid));
	put(n, &zero, sizeof(zero));
	msg_end(n);
}

static void error_msg(struct nl *n, uint32_t seq, int32_t err)
{
	struct nlmsghdr orig = {.nlmsg_len = sizeof(orig), .nlmsg_type = RTM_GETROUTE};

	msg_begin(n, NLMSG_ERROR, 0, seq);
	put(n, &err, sizeof(err));
	put(n, &orig, sizeof(orig));
	msg_end(n);
}

/* Parses what n holds (it must all be well-formed) and empties it. */
static void apply(struct netmon_state *st, struct nl *n)
{
	assert_int_equal(netmon_parse(n->b, n->len, st), 0);
	n->len = 0;
}

static enum netmon_change step(struct netmon_state *st, struct nl *n)
{
	apply(st, n);
	return netmon_state_change(st);
}

#define UP (IFF_UP | IFF_RUNNING)

struct fixture {
	struct netmon_state st;
	struct nl n;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	netmon_state_init(&f->st);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* lo; eth0 with 192.0.2.2/24, 2001:db8::2/64 and fe80::2, the default
 * routes (v4 via 192.0.2.1, v6 via fe80::1); wlan0 with 198.51.100.7/24 and
 * no route. Coming up from nothing is major. */
static void home(struct fixture *f)
{
	struct nl *n = &f->n;

	link_msg(n, RTM_NEWLINK, LO, UP | IFF_LOOPBACK, "lo", NULL);
	link_msg(n, RTM_NEWLINK, ETH0, UP, "eth0", "veth");
	link_msg(n, RTM_NEWLINK, WLAN0, UP, "wlan0", NULL);
	addr_msg(n, RTM_NEWADDR, LO, "127.0.0.1", 8);
	addr_msg(n, RTM_NEWADDR, LO, "::1", 128);
	addr_msg(n, RTM_NEWADDR, ETH0, "192.0.2.2", 24);
	addr_msg(n, RTM_NEWADDR, ETH0, "2001:db8::2", 64);
	addr_msg(n, RTM_NEWADDR, ETH0, "fe80::2", 64);
	addr_msg(n, RTM_NEWADDR, WLAN0, "198.51.100.7", 24);
	route_msg(n, RTM_NEWROUTE, 0, AF_INET, RT_TABLE_MAIN, ETH0, "192.0.2.1", 100);
	route_msg(n, RTM_NEWROUTE, 0, AF_INET6, RT_TABLE_MAIN, ETH0, "fe80::1", 1024);
	assert_int_equal(step(&f->st, n), NETMON_CHANGE_MAJOR);
}

static size_t addrs(const struct netmon_state *st, char out[][ADDR_TEXT_MAX], size_t cap)
{
	struct ipport a[NETMON_MAX_ADDRS];
	size_t n = netmon_state_addrs(st, a, NETMON_MAX_ADDRS);

	assert_true(n <= cap);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(a[i].port, 0);
		a[i].port = 1; /* ipport_format wants one; ":1" is cut below */
		assert_true(ipport_format(&a[i], out[i], ADDR_TEXT_MAX) > 2);
		out[i][strlen(out[i]) - 2] = 0;
	}
	return n;
}

static void test_first_change_none(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(netmon_state_change(&f->st), NETMON_CHANGE_NONE);
	assert_true(f->st.reported.all_down);
}

static void test_link_new_del(void **state)
{
	struct fixture *f = *state;
	struct netmon_state *st = &f->st;

	link_msg(&f->n, RTM_NEWLINK, 5, UP | IFF_BROADCAST, "eth5", "veth");
	assert_int_equal(step(st, &f->n), NETMON_CHANGE_MINOR); /* still no address */
	assert_int_equal(st->n_links, 1);
	assert_int_equal(st->links[0].index, 5);
	assert_string_equal(st->links[0].name, "eth5");
	assert_int_equal(st->links[0].flags, UP); /* IFF_BROADCAST is not kept */
	assert_false(st->links[0].tunnel);
	addr_msg(&f->n, RTM_NEWADDR, 5, "203.0.113.5", 24);
	route_msg(&f->n, RTM_NEWROUTE, 0, AF_INET, RT_TABLE_MAIN, 5, "203.0.113.1", 0);
	assert_int_equal(step(st, &f->n), NETMON_CHANGE_MAJOR);
	/* The link goes, and its address and route with it. */
	link_msg(&f->n, RTM_DELLINK, 5, 0, "eth5", NULL);
	assert_int_equal(step(st, &f->n), NETMON_CHANGE_ALL_DOWN);
	assert_int_equal(st->n_links, 0);
	assert_int_equal(st->n_addrs, 0);
	assert_int_equal(st->n_routes, 0);
}

static void test_link_rename_minor(void **state)
{
	struct fixture *f = *state;

	home(f);
	link_msg(&f->n, RTM_NEWLINK, WLAN0, UP, "wlan1", NULL);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MINOR);
	/* Even the default route's interface: its name is not what we use. */
	link_msg(&f->n, RTM_NEWLINK, ETH0, UP, "lan0", "veth");
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MINOR);
}

static void test_addr_v4_new_del(void **state)
{
	struct fixture *f = *state;
	char a[8][ADDR_TEXT_MAX];

	home(f);
	assert_int_equal(addrs(&f->st, a, 8), 3);
	assert_string_equal(a[0], "192.0.2.2");
	assert_string_equal(a[1], "198.51.100.7");
	assert_string_equal(a[2], "[2001:db8::2]");
	/* Added on the default-route interface: minor (new endpoint). */
	addr_msg(&f->n, RTM_NEWADDR, ETH0, "192.0.2.3", 24);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MINOR);
	assert_int_equal(addrs(&f->st, a, 8), 4);
	assert_string_equal(a[1], "192.0.2.3");
	/* Removed from it: major, and the routes are dumped again (the
	 * kernel drops IPv4 routes with an address without a word). */
	assert_int_equal(f->st.pending, 0);
	addr_msg(&f->n, RTM_DELADDR, ETH0, "192.0.2.3", 24);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MAJOR);
	assert_int_equal(f->st.pending, NETMON_DUMP_ROUTES);
	assert_int_equal(addrs(&f->st, a, 8), 3);
}

static void test_addr_v6_new_del(void **state)
{
	struct fixture *f = *state;
	char a[8][ADDR_TEXT_MAX];

	home(f);
	addr_msg(&f->n, RTM_NEWADDR, WLAN0, "2001:db8:1::7", 64);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MINOR);
	assert_int_equal(addrs(&f->st, a, 8), 4);
	assert_string_equal(a[3], "[2001:db8:1::7]");
	addr_msg(&f->n, RTM_DELADDR, WLAN0, "2001:db8:1::7", 64);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MINOR);
	/* No route re-dump for v6: the kernel announces those. */
	assert_int_equal(f->st.pending, 0);
	addr_msg(&f->n, RTM_DELADDR, ETH0, "2001:db8::2", 64);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MAJOR);
	assert_int_equal(addrs(&f->st, a, 8), 2);
}

static void test_addr_dup_none(void **state)
{
	struct fixture *f = *state;

	home(f);
	/* The same address again (renewed lifetimes), the same link with a
	 * flag we do not keep, the same route: nothing changed. */
	addr_msg(&f->n, RTM_NEWADDR, ETH0, "192.0.2.2", 24);
	link_msg(&f->n, RTM_NEWLINK, WLAN0, UP | IFF_PROMISC, "wlan0", NULL);
	route_msg(&f->n, RTM_NEWROUTE, 0, AF_INET, RT_TABLE_MAIN, ETH0, "192.0.2.1", 100);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_NONE);
	/* Deleting what is not there changes nothing either. */
	addr_msg(&f->n, RTM_DELADDR, WLAN0, "10.1.1.1", 8);
	route_msg(&f->n, RTM_DELROUTE, 0, AF_INET, RT_TABLE_MAIN, WLAN0, "10.1.1.254", 0);
	link_msg(&f->n, RTM_DELLINK, 42, 0, "gone", NULL);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_NONE);
}

static void test_route_default_new_del(void **state)
{
	struct fixture *f = *state;
	struct netmon_default d;

	link_msg(&f->n, RTM_NEWLINK, ETH0, UP, "eth0", NULL);
	addr_msg(&f->n, RTM_NEWADDR, ETH0, "192.0.2.2", 24);
	addr_msg(&f->n, RTM_NEWADDR, ETH0, "2001:db8::2", 64);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MAJOR);
	assert_int_equal(netmon_state_default_route(&f->st, AF_INET, &d), -ENOENT);
	assert_int_equal(netmon_state_default_route(&f->st, AF_INET6, &d), -ENOENT);
	assert_int_equal(netmon_state_default_route(&f->st, AF_UNIX, &d), -EINVAL);

	route_msg(&f->n, RTM_NEWROUTE, 0, AF_INET, RT_TABLE_MAIN, ETH0, "192.0.2.1", 0);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MAJOR);
	assert_int_equal(netmon_state_default_route(&f->st, AF_INET, &d), 0);
	assert_int_equal(d.ifindex, ETH0);
	assert_string_equal(d.ifname, "eth0");
	struct ipport want = ip("192.0.2.1");
	assert_true(ipport_equal(&d.gw, &want));
	want = ip("192.0.2.2");
	assert_true(ipport_equal(&d.self, &want));

	route_msg(&f->n, RTM_NEWROUTE, 0, AF_INET6, RT_TABLE_MAIN, ETH0, "2001:db8::1", 1024);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MAJOR);
	assert_int_equal(netmon_state_default_route(&f->st, AF_INET6, &d), 0);
	want = ip("2001:db8::2");
	assert_true(ipport_equal(&d.self, &want));

	route_msg(&f->n, RTM_DELROUTE, 0, AF_INET, RT_TABLE_MAIN, ETH0, "192.0.2.1", 0);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MAJOR);
	assert_int_equal(netmon_state_default_route(&f->st, AF_INET, &d), -ENOENT);
	route_msg(&f->n, RTM_DELROUTE, 0, AF_INET6, RT_TABLE_MAIN, ETH0, "2001:db8::1", 1024);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MAJOR);
	assert_int_equal(f->st.n_routes, 0);
}

static void test_route_on_link(void **state)
{
	struct fixture *f = *state;
	struct netmon_default d;

	link_msg(&f->n, RTM_NEWLINK, 9, UP, "ppp0", NULL);
	addr_msg(&f->n, RTM_NEWADDR, 9, "203.0.113.9", 32);
	route_msg(&f->n, RTM_NEWROUTE, 0, AF_INET, RT_TABLE_MAIN, 9, NULL, 0);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MAJOR);
	assert_int_equal(netmon_state_default_route(&f->st, AF_INET, &d), 0);
	assert_int_equal(d.ifindex, 9);
	assert_int_equal(d.gw.family, 0);
	struct ipport want = ip("203.0.113.9");
	assert_true(ipport_equal(&d.self, &want));
}

static void test_route_replace_gateway(void **state)
{
	struct fixture *f = *state;
	struct netmon_default d;

	home(f);
	route_msg(&f->n, RTM_NEWROUTE, NLM_F_REPLACE, AF_INET, RT_TABLE_MAIN, ETH0, "192.0.2.254",
		  100);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MAJOR);
	assert_int_equal(f->st.n_routes, 2); /* the v4 one was replaced */
	assert_int_equal(netmon_state_default_route(&f->st, AF_INET, &d), 0);
	struct ipport want = ip("192.0.2.254");
	assert_true(ipport_equal(&d.gw, &want));
}

static void test_route_better_interface(void **state)
{
	struct fixture *f = *state;
	struct netmon_default d;

	home(f);
	/* A lower metric on wlan0 takes over: major. */
	route_msg(&f->n, RTM_NEWROUTE, 0, AF_INET, RT_TABLE_MAIN, WLAN0, "198.51.100.1", 50);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MAJOR);
	assert_int_equal(netmon_state_default_route(&f->st, AF_INET, &d), 0);
	assert_int_equal(d.ifindex, WLAN0);
	/* A higher one changes nothing we use. */
	route_msg(&f->n, RTM_NEWROUTE, 0, AF_INET, RT_TABLE_MAIN, ETH0, "192.0.2.9", 600);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MINOR);
	/* Another table only counts when the main table has none (Tailscale's
	 * fallback from /proc/net/route to every table, issue #4038). */
	route_msg(&f->n, RTM_NEWROUTE, 0, AF_INET, 100, ETH0, "192.0.2.77", 1);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MINOR);
	route_msg(&f->n, RTM_DELROUTE, 0, AF_INET, RT_TABLE_MAIN, WLAN0, "198.51.100.1", 50);
	route_msg(&f->n, RTM_DELROUTE, 0, AF_INET, RT_TABLE_MAIN, ETH0, "192.0.2.1", 100);
	route_msg(&f->n, RTM_DELROUTE, 0, AF_INET, RT_TABLE_MAIN, ETH0, "192.0.2.9", 600);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MAJOR);
	assert_int_equal(netmon_state_default_route(&f->st, AF_INET, &d), 0);
	struct ipport want = ip("192.0.2.77");
	assert_true(ipport_equal(&d.gw, &want));
}

static void test_route_not_default_ignored(void **state)
{
	struct fixture *f = *state;
	struct nl *n = &f->n;
	struct rtmsg r = {.rtm_family = AF_INET,
			  .rtm_dst_len = 24,
			  .rtm_table = RT_TABLE_MAIN,
			  .rtm_type = RTN_UNICAST};
	uint8_t dst[4] = {10, 0, 0, 0}, gw[4] = {192, 0, 2, 1};

	home(f);
	/* 10.0.0.0/24, a local-table default, an unreachable default. */
	msg_begin(n, RTM_NEWROUTE, 0, 0);
	put(n, &r, sizeof(r));
	attr(n, RTA_DST, dst, 4);
	attr(n, RTA_GATEWAY, gw, 4);
	attr_u32(n, RTA_OIF, ETH0);
	msg_end(n);
	route_msg(n, RTM_NEWROUTE, 0, AF_INET, RT_TABLE_LOCAL, ETH0, "192.0.2.5", 0);
	r.rtm_dst_len = 0;
	r.rtm_type = RTN_UNREACHABLE;
	msg_begin(n, RTM_NEWROUTE, 0, 0);
	put(n, &r, sizeof(r));
	msg_end(n);
	assert_int_equal(step(&f->st, n), NETMON_CHANGE_NONE);
	assert_int_equal(f->st.n_routes, 2);
}

static void test_multipath(void **state)
{
	struct fixture *f = *state;
	struct nl *n = &f->n;
	struct rtmsg r = {
		.rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN, .rtm_type = RTN_UNICAST};
	struct netmon_default d;

	home(f);
	route_msg(n, RTM_DELROUTE, 0, AF_INET, RT_TABLE_MAIN, ETH0, "192.0.2.1", 100);
	assert_int_equal(step(&f->st, n), NETMON_CHANGE_MAJOR);
	for (int del = 0; del < 2; del++) {
		struct ipport gw1 = ip("192.0.2.1"), gw2 = ip("198.51.100.1");
		struct rtnexthop h = {.rtnh_len = sizeof(h) + 8, .rtnh_ifindex = WLAN0};
		size_t at;
		msg_begin(n, del ? RTM_DELROUTE : RTM_NEWROUTE, 0, 0);
		put(n, &r, sizeof(r));
		at = nest_begin(n, RTA_MULTIPATH);
		put(n, &h, sizeof(h));
		attr(n, RTA_GATEWAY, gw2.ip, 4);
		h.rtnh_ifindex = ETH0;
		put(n, &h, sizeof(h));
		attr(n, RTA_GATEWAY, gw1.ip, 4);
		nest_end(n, at);
		msg_end(n);
		assert_int_equal(step(&f->st, n), NETMON_CHANGE_MAJOR);
		assert_int_equal(f->st.n_routes, del ? 1 : 3);
		/* Two next hops, one metric: the lower interface index. */
		assert_int_equal(netmon_state_default_route(&f->st, AF_INET, &d),
				 del ? -ENOENT : 0);
		assert_int_equal(d.ifindex, del ? 0 : ETH0);
	}
}

static void test_multipath_choice(void **state)
{
	struct fixture *f = *state;
	struct nl *n = &f->n;
	struct rtmsg r = {
		.rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN, .rtm_type = RTN_UNICAST};
	struct rtnexthop h = {.rtnh_len = sizeof(h) + 8, .rtnh_ifindex = WLAN0};
	struct ipport gw1 = ip("192.0.2.1"), gw2 = ip("198.51.100.1");
	struct netmon_default d;
	size_t at;

	home(f);
	msg_begin(n, RTM_NEWROUTE, NLM_F_REPLACE, 0);
	put(n, &r, sizeof(r));
	attr_u32(n, RTA_PRIORITY, 100);
	at = nest_begin(n, RTA_MULTIPATH);
	put(n, &h, sizeof(h));
	attr(n, RTA_GATEWAY, gw2.ip, 4);
	h.rtnh_ifindex = ETH0;
	put(n, &h, sizeof(h));
	attr(n, RTA_GATEWAY, gw1.ip, 4);
	nest_end(n, at);
	msg_end(n);
	/* eth0 via 192.0.2.1 stays the choice: nothing we use changed. */
	assert_int_equal(step(&f->st, n), NETMON_CHANGE_MINOR);
	assert_int_equal(f->st.n_routes, 3);
	assert_int_equal(netmon_state_default_route(&f->st, AF_INET, &d), 0);
	assert_int_equal(d.ifindex, ETH0);
}

static void test_other_interface_minor(void **state)
{
	struct fixture *f = *state;

	home(f);
	/* wlan0 flaps: its address comes and goes, no default route moves. */
	link_msg(&f->n, RTM_NEWLINK, WLAN0, IFF_UP, "wlan0", NULL); /* carrier lost */
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MINOR);
	link_msg(&f->n, RTM_NEWLINK, WLAN0, UP, "wlan0", NULL);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MINOR);
	/* A down link's flap changes nothing we use either. */
	link_msg(&f->n, RTM_NEWLINK, 4, 0, "docker0", "bridge");
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MINOR);
	link_msg(&f->n, RTM_NEWLINK, 4, UP, "docker0", "bridge");
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MINOR);
	addr_msg(&f->n, RTM_DELADDR, WLAN0, "198.51.100.7", 24);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MINOR);
}

static void test_default_link_down_major(void **state)
{
	struct fixture *f = *state;
	struct netmon_default d;
	char a[8][ADDR_TEXT_MAX];

	home(f);
	link_msg(&f->n, RTM_NEWLINK, ETH0, 0, "eth0", "veth");
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MAJOR);
	assert_int_equal(netmon_state_default_route(&f->st, AF_INET, &d), -ENOENT);
	/* Its IPv4 routes went without a word: dump them. */
	assert_int_equal(f->st.pending, NETMON_DUMP_ROUTES);
	assert_int_equal(addrs(&f->st, a, 8), 1);
	assert_string_equal(a[0], "198.51.100.7");
}

static void test_all_down(void **state)
{
	struct fixture *f = *state;

	home(f);
	link_msg(&f->n, RTM_NEWLINK, ETH0, IFF_UP, "eth0", "veth");
	link_msg(&f->n, RTM_NEWLINK, WLAN0, 0, "wlan0", NULL);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_ALL_DOWN);
	assert_int_equal(f->st.reported.n_addrs, 0);
	/* Reported once; what follows while down is minor at most. */
	assert_int_equal(netmon_state_change(&f->st), NETMON_CHANGE_NONE);
	addr_msg(&f->n, RTM_NEWADDR, WLAN0, "198.51.100.8", 24);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MINOR);
	/* Loopback alone is still down. */
	addr_msg(&f->n, RTM_NEWADDR, LO, "127.0.0.2", 8);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MINOR);
	/* Coming back is major. */
	link_msg(&f->n, RTM_NEWLINK, WLAN0, UP, "wlan0", NULL);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MAJOR);
}

static void test_family_gained_major(void **state)
{
	struct fixture *f = *state;

	link_msg(&f->n, RTM_NEWLINK, ETH0, UP, "eth0", NULL);
	link_msg(&f->n, RTM_NEWLINK, WLAN0, UP, "wlan0", NULL);
	addr_msg(&f->n, RTM_NEWADDR, ETH0, "192.0.2.2", 24);
	route_msg(&f->n, RTM_NEWROUTE, 0, AF_INET, RT_TABLE_MAIN, ETH0, "192.0.2.1", 0);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MAJOR);
	/* The first IPv6 address, even off the default route (HaveV6). */
	addr_msg(&f->n, RTM_NEWADDR, WLAN0, "fd7a:1::5", 64);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MAJOR);
	addr_msg(&f->n, RTM_DELADDR, WLAN0, "fd7a:1::5", 64);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MAJOR);
}

static void test_filters(void **state)
{
	struct fixture *f = *state;
	struct nl *n = &f->n;
	struct netmon_default d;
	char a[16][ADDR_TEXT_MAX];

	home(f);
	link_msg(n, RTM_NEWLINK, 10, UP, "vpn", "wireguard");
	link_msg(n, RTM_NEWLINK, 11, UP, "tailscale0", "tun");
	link_msg(n, RTM_NEWLINK, 12, UP, "wg0", "tun");
	link_msg(n, RTM_NEWLINK, 13, UP, "ztabcdef", "tun");
	link_msg(n, RTM_NEWLINK, 14, IFF_UP, "eth1", NULL); /* no carrier */
	link_msg(n, RTM_NEWLINK, 15, UP, "tun0", "tun");    /* OpenVPN's: ordinary */
	addr_msg(n, RTM_NEWADDR, 10, "10.10.0.1", 24);
	addr_msg(n, RTM_NEWADDR, 11, "100.64.0.1", 32);
	addr_msg(n, RTM_NEWADDR, 12, "10.12.0.1", 24);
	addr_msg(n, RTM_NEWADDR, 13, "10.13.0.1", 24);
	addr_msg(n, RTM_NEWADDR, 14, "10.14.0.1", 24);
	addr_msg(n, RTM_NEWADDR, 15, "10.15.0.1", 24);
	addr_msg(n, RTM_NEWADDR, 16, "10.16.0.1", 24); /* no such link */
	addr_msg(n, RTM_NEWADDR, WLAN0, "169.254.3.4", 16);
	addr_msg(n, RTM_NEWADDR, WLAN0, "fe80::7", 64);
	addr_msg(n, RTM_NEWADDR, LO, "10.0.0.99", 32); /* on loopback */
	addr_msg_seq(n, RTM_NEWADDR, 0, 0, WLAN0, "2001:db8:7::1", 64, IFA_F_TENTATIVE);
	addr_msg_seq(n, RTM_NEWADDR, 0, 0, WLAN0, "2001:db8:7::2", 64, IFA_F_DADFAILED | 0x100);
	addr_msg(n, RTM_NEWADDR, WLAN0, "fd00::7", 64); /* ULA: used */
	/* A default route through a tunnel is not ours to follow. */
	route_msg(n, RTM_NEWROUTE, 0, AF_INET, RT_TABLE_MAIN, 12, NULL, 1);
	route_msg(n, RTM_NEWROUTE, 0, AF_INET, RT_TABLE_MAIN, 14, "10.14.0.254", 2);
	assert_int_equal(step(&f->st, n), NETMON_CHANGE_MINOR);
	assert_int_equal(addrs(&f->st, a, 16), 5);
	assert_string_equal(a[0], "10.15.0.1");
	assert_string_equal(a[1], "192.0.2.2");
	assert_string_equal(a[2], "198.51.100.7");
	assert_string_equal(a[3], "[2001:db8::2]");
	assert_string_equal(a[4], "[fd00::7]");
	assert_int_equal(netmon_state_default_route(&f->st, AF_INET, &d), 0);
	assert_int_equal(d.ifindex, ETH0);
	/* DAD done: the address is ours now. */
	addr_msg(n, RTM_NEWADDR, WLAN0, "2001:db8:7::1", 64);
	assert_int_equal(step(&f->st, n), NETMON_CHANGE_MINOR);
	assert_int_equal(addrs(&f->st, a, 16), 6);
	/* The missing link arrives: its address counts from then on. */
	link_msg(n, RTM_NEWLINK, 16, UP, "eth2", NULL);
	assert_int_equal(step(&f->st, n), NETMON_CHANGE_MINOR);
	assert_int_equal(addrs(&f->st, a, 16), 7);
}

static void test_same_address_twice(void **state)
{
	struct fixture *f = *state;
	struct netmon_summary s;

	home(f);
	addr_msg(&f->n, RTM_NEWADDR, WLAN0, "192.0.2.2", 32);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MINOR);
	netmon_state_summary(&f->st, &s);
	assert_int_equal(s.n_addrs, 3);
	assert_int_equal(s.addrs[0].ifindex, ETH0);
}

static void test_self_in_gateway_prefix(void **state)
{
	struct fixture *f = *state;
	struct netmon_default d;

	home(f);
	addr_msg(&f->n, RTM_NEWADDR, ETH0, "10.0.0.5", 24);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MINOR);
	assert_int_equal(netmon_state_default_route(&f->st, AF_INET, &d), 0);
	struct ipport want = ip("192.0.2.2");
	assert_true(ipport_equal(&d.self, &want));
	/* Without it, the lowest address there. */
	addr_msg(&f->n, RTM_DELADDR, ETH0, "192.0.2.2", 24);
	assert_int_equal(step(&f->st, &f->n), NETMON_CHANGE_MAJOR);
	assert_int_equal(netmon_state_default_route(&f->st, AF_INET, &d), 0);
	want = ip("10.0.0.5");
	assert_true(ipport_equal(&d.self, &want));
}

static void test_tunnel_rule(void **state)
{
	(void)state;
	assert_true(netmon_link_is_tunnel("anything", "wireguard"));
	assert_true(netmon_link_is_tunnel("wg0", ""));
	assert_true(netmon_link_is_tunnel("wg-home", "tun"));
	assert_true(netmon_link_is_tunnel("tailscale0", "tun"));
	assert_true(netmon_link_is_tunnel("zt5u4y6hx", ""));
	assert_false(netmon_link_is_tunnel("tun0", "tun"));
	assert_false(netmon_link_is_tunnel("eth0", ""));
	assert_false(netmon_link_is_tunnel("w", ""));
	assert_false(netmon_link_is_tunnel("", ""));
}

static void test_bridge_messages_ignored(void **state)
{
	struct fixture *f = *state;
	struct nl *n = &f->n;
	struct ifinfomsg ifi = {.ifi_family = AF_BRIDGE, .ifi_index = ETH0};

	home(f);
	/* A port leaving a bridge is an AF_BRIDGE RTM_DELLINK: eth0 stays. */
	msg_begin(n, RTM_DELLINK, 0, 0);
	put(n, &ifi, sizeof(ifi));
	attr(n, IFLA_IFNAME, "eth0", 5);
	msg_end(n);
	assert_int_equal(step(&f->st, n), NETMON_CHANGE_NONE);
	assert_int_equal(f->st.n_links, 3);
}

static void test_dump_sweep(void **state)
{
	struct fixture *f = *state;
	struct nl *n = &f->n;

	home(f);
	netmon_state_dump_begin(&f->st, NETMON_DUMP_LINKS, 9);
	assert_int_equal(f->st.dump, NETMON_DUMP_LINKS);
	link_msg_seq(n, RTM_NEWLINK, NLM_F_MULTI, 9, LO, UP | IFF_LOOPBACK, "lo", NULL);
	link_msg_seq(n, RTM_NEWLINK, NLM_F_MULTI, 9, ETH0, UP, "eth0", "veth");
	/* A DONE of someone else's, and one of another port: not ours. */
	done_msg(n, OTHER_SEQ, 0);
	done_msg(n, 9, 4242);
	apply(&f->st, n);
	assert_int_equal(f->st.dump, NETMON_DUMP_LINKS);
	assert_int_equal(f->st.n_links, 3);
	done_msg(n, 9, 0);
	/* wlan0 was not in the dump: it goes, with its address. */
	assert_int_equal(step(&f->st, n), NETMON_CHANGE_MINOR);
	assert_int_equal(f->st.dump, 0);
	assert_int_equal(f->st.stats.dumps, 1);
	assert_int_equal(f->st.n_links, 2);
	struct ipport a[4];
	assert_int_equal(netmon_state_addrs(&f->st, a, 4), 2);

	/* Routes: the v6 default was not dumped. */
	netmon_state_dump_begin(&f->st, NETMON_DUMP_ROUTES, 10);
	route_msg_seq(n, RTM_NEWROUTE, NLM_F_MULTI, 10, AF_INET, RT_TABLE_MAIN, ETH0, "192.0.2.1",
		      100);
	done_msg(n, 10, 0);
	assert_int_equal(step(&f->st, n), NETMON_CHANGE_MAJOR);
	assert_int_equal(f->st.n_routes, 1);
}

static void test_dump_addrs_sweep(void **state)
{
	struct fixture *f = *state;
	struct nl *n = &f->n;

	home(f);
	netmon_state_dump_begin(&f->st, NETMON_DUMP_ADDRS, 3);
	addr_msg_seq(n, RTM_NEWADDR, NLM_F_MULTI, 3, ETH0, "192.0.2.2", 24, 0);
	addr_msg_seq(n, RTM_NEWADDR, NLM_F_MULTI, 3, ETH0, "2001:db8::2", 64, 0);
	addr_msg_seq(n, RTM_NEWADDR, NLM_F_MULTI, 3, WLAN0, "198.51.100.7", 24, 0);
	/* An event during the dump is as good as a dump entry. */
	addr_msg(n, RTM_NEWADDR, WLAN0, "198.51.100.8", 24);
	done_msg(n, 3, 0);
	/* Gone: lo's and fe80::2; new: .8. */
	assert_int_equal(step(&f->st, n), NETMON_CHANGE_MINOR);
	assert_int_equal(f->st.n_addrs, 4);
}

static void test_dump_intr(void **state)
{
	struct fixture *f = *state;
	struct nl *n = &f->n;

	home(f);
	netmon_state_dump_begin(&f->st, NETMON_DUMP_ADDRS, 4);
	addr_msg_seq(n, RTM_NEWADDR, NLM_F_MULTI | NLM_F_DUMP_INTR, 4, ETH0, "192.0.2.2", 24, 0);
	done_msg(n, 4, 0);
	/* Raced a change: nothing swept, asked for again. */
	assert_int_equal(step(&f->st, n), NETMON_CHANGE_NONE);
	assert_int_equal(f->st.dump, 0);
	assert_int_equal(f->st.pending, NETMON_DUMP_ADDRS);
	assert_int_equal(f->st.n_addrs, 6);
	assert_int_equal(f->st.stats.dump_failures, 1);
	for (uint32_t i = 0; i < f->st.n_addrs; i++)
		assert_false(f->st.addrs[i].stale);
}

static void test_dump_abort(void **state)
{
	struct fixture *f = *state;

	home(f);
	netmon_state_dump_begin(&f->st, NETMON_DUMP_ROUTES, 5);
	assert_true(f->st.routes[0].stale);
	netmon_state_dump_abort(&f->st);
	assert_int_equal(f->st.dump, 0);
	assert_int_equal(f->st.pending, NETMON_DUMP_ROUTES);
	assert_false(f->st.routes[0].stale);
	assert_int_equal(netmon_state_change(&f->st), NETMON_CHANGE_NONE);
	netmon_state_dump_abort(&f->st); /* none in progress: nothing */
	assert_int_equal(f->st.stats.dump_failures, 1);
}

static void test_limits(void **state)
{
	struct fixture *f = *state;
	struct nl *n = &f->n;
	char name[IF_NAMESIZE], a[INET6_ADDRSTRLEN];

	for (int i = 1; i <= NETMON_MAX_LINKS + 1; i++) {
		snprintf(name, sizeof(name), "veth%d", i);
		link_msg(n, RTM_NEWLINK, i, UP, name, "veth");
	}
	for (int i = 0; i <= NETMON_MAX_ADDRS; i++) {
		snprintf(a, sizeof(a), "10.0.%d.%d", i / 200, 1 + i % 200);
		addr_msg(n, RTM_NEWADDR, 1, a, 8);
	}
	for (int i = 0; i <= NETMON_MAX_ROUTES; i++)
		route_msg(n, RTM_NEWROUTE, 0, AF_INET, RT_TABLE_MAIN, 1, "10.0.0.1", (uint32_t)i);
	apply(&f->st, n);
	assert_int_equal(f->st.n_links, NETMON_MAX_LINKS);
	assert_int_equal(f->st.n_addrs, NETMON_MAX_ADDRS);
	assert_int_equal(f->st.n_routes, NETMON_MAX_ROUTES);
	assert_int_equal(f->st.stats.table_full, 3);
	assert_int_equal(netmon_state_change(&f->st), NETMON_CHANGE_MAJOR);
	assert_int_equal(f->st.reported.n_addrs, NETMON_MAX_ADDRS);
}

static void test_summary_format(void **state)
{
	struct fixture *f = *state;
	struct netmon_summary s;
	char line[256];
	size_t len;

	netmon_state_summary(&f->st, &s);
	assert_true(netmon_summary_format(&s, line, sizeof(line)) > 0);
	assert_string_equal(line, "v4 none, v6 none, 0 addresses (all down)");
	home(f);
	netmon_state_summary(&f->st, &s);
	len = netmon_summary_format(&s, line, sizeof(line));
	assert_int_equal(len, strlen(line));
	assert_string_equal(line, "v4 eth0 via 192.0.2.1 self 192.0.2.2, v6 eth0 via fe80::1 "
				  "self 2001:db8::2, 3 addresses");
	for (size_t cap = 0; cap <= len; cap++)
		assert_int_equal(netmon_summary_format(&s, line, cap), 0);
}

static void test_change_names(void **state)
{
	(void)state;
	assert_string_equal(netmon_change_name(NETMON_CHANGE_NONE), "none");
	assert_string_equal(netmon_change_name(NETMON_CHANGE_MINOR), "minor");
	assert_string_equal(netmon_change_name(NETMON_CHANGE_MAJOR), "major");
	assert_string_equal(netmon_change_name(NETMON_CHANGE_ALL_DOWN), "all-down");
	assert_string_equal(netmon_change_name(NETMON_CHANGE_INVALID), "?");
}

static void test_unaligned_buffer(void **state)
{
	struct fixture *f = *state;
	struct nl *n = &f->n;
	uint8_t *odd;

	link_msg(n, RTM_NEWLINK, ETH0, UP, "eth0", NULL);
	addr_msg(n, RTM_NEWADDR, ETH0, "2001:db8::2", 64);
	route_msg(n, RTM_NEWROUTE, 0, AF_INET6, RT_TABLE_MAIN, ETH0, "2001:db8::1", 0);
	odd = malloc(n->len + 1);
	assert_non_null(odd);
	memcpy(odd + 1, n->b, n->len);
	assert_int_equal(netmon_parse(odd + 1, n->len, &f->st), 0);
	free(odd);
	assert_int_equal(netmon_state_change(&f->st), NETMON_CHANGE_MAJOR);
	assert_int_equal(f->st.n_routes, 1);
}

static void test_unknown_types_ignored(void **state)
{
	struct fixture *f = *state;
	struct nl *n = &f->n;
	uint8_t junk[20] = {1, 2, 3};

	msg_begin(n, RTM_NEWNEIGH, 0, 0);
	put(n, junk, sizeof(junk));
	msg_end(n);
	msg_begin(n, 0x7ff0, 0, 0);
	msg_end(n);
	msg_begin(n, NLMSG_NOOP, 0, 0);
	msg_end(n);
	/* A DONE with no payload at all (older kernels), not ours anyway. */
	msg_begin(n, NLMSG_DONE, 0, OTHER_SEQ);
	msg_end(n);
	/* An address of a family we do not track. */
	struct ifaddrmsg ifa = {.ifa_family = AF_PACKET, .ifa_index = 2};
	msg_begin(n, RTM_NEWADDR, 0, 0);
	put(n, &ifa, sizeof(ifa));
	msg_end(n);
	assert_int_equal(step(&f->st, n), NETMON_CHANGE_NONE);
	assert_int_equal(f->st.stats.unknown, 2);
	assert_int_equal(f->st.stats.messages, 5);
}

/* --- malformed input: one test per case --- */

static void test_bad_truncated_header(void **state)
{
	struct fixture *f = *state;

	link_msg(&f->n, RTM_NEWLINK, ETH0, UP, "eth0", NULL);
	assert_int_equal(netmon_parse(f->n.b, 10, &f->st), -EINVAL);
	assert_int_equal(f->st.stats.bad_buffers, 1);
	assert_int_equal(f->st.stats.messages, 0);
	assert_int_equal(f->st.n_links, 0);
}

static void test_bad_nlmsg_len_short(void **state)
{
	struct fixture *f = *state;
	uint32_t len = 8;

	link_msg(&f->n, RTM_NEWLINK, ETH0, UP, "eth0", NULL);
	memcpy(f->n.b, &len, sizeof(len));
	assert_int_equal(netmon_parse(f->n.b, f->n.len, &f->st), -EINVAL);
	assert_int_equal(f->st.stats.bad_buffers, 1);
	assert_int_equal(f->st.n_links, 0);
	/* Zero, which would never advance. */
	len = 0;
	memcpy(f->n.b, &len, sizeof(len));
	assert_int_equal(netmon_parse(f->n.b, f->n.len, &f->st), -EINVAL);
	assert_int_equal(f->st.stats.bad_buffers, 2);
}

static void test_bad_nlmsg_len_past_end(void **state)
{
	struct fixture *f = *state;
	struct nl *n = &f->n;
	uint32_t len = 4096;
	size_t second;

	link_msg(n, RTM_NEWLINK, ETH0, UP, "eth0", NULL);
	second = n->len;
	link_msg(n, RTM_NEWLINK, WLAN0, UP, "wlan0", NULL);
	memcpy(n->b + second, &len, sizeof(len));
	/* What came before is applied; the rest is dropped. */
	assert_int_equal(netmon_parse(n->b, n->len, &f->st), -EINVAL);
	assert_int_equal(f->st.stats.bad_buffers, 1);
	assert_int_equal(f->st.n_links, 1);
	/* One byte short of a whole message. */
	n->len = 0;
	link_msg(n, RTM_NEWLINK, WLAN0, UP, "wlan0", NULL);
	assert_int_equal(netmon_parse(n->b, n->len - 1, &f->st), -EINVAL);
	assert_int_equal(f->st.n_links, 1);
}

static void test_bad_trailing_bytes(void **state)
{
	struct fixture *f = *state;
	struct nl *n = &f->n;

	link_msg(n, RTM_NEWLINK, ETH0, UP, "eth0", NULL);
	memset(n->b + n->len, 0xee, 6);
	assert_int_equal(netmon_parse(n->b, n->len + 6, &f->st), -EINVAL);
	assert_int_equal(f->st.stats.bad_buffers, 1);
	assert_int_equal(f->st.n_links, 1);
}

/* A link message with a bad attribute, then a good one: the bad message
 * alone is dropped. */
static void check_bad_link_attr(struct fixture *f, uint16_t rta_len)
{
	struct nl *n = &f->n;
	struct ifinfomsg ifi = {.ifi_index = 7, .ifi_flags = UP};
	struct rtattr a = {.rta_len = rta_len, .rta_type = IFLA_IFNAME};

	msg_begin(n, RTM_NEWLINK, 0, 0);
	put(n, &ifi, sizeof(ifi));
	attr(n, IFLA_MTU, "\xdc\x05\0\0", 4);
	put(n, &a, sizeof(a));
	put(n, "eth7", 4);
	msg_end(n);
	link_msg(n, RTM_NEWLINK, ETH0, UP, "eth0", NULL);
	assert_int_equal(netmon_parse(n->b, n->len, &f->st), -EINVAL);
	assert_int_equal(f->st.stats.bad_messages, 1);
	assert_int_equal(f->st.stats.bad_buffers, 0);
	assert_int_equal(f->st.n_links, 1);
	assert_int_equal(f->st.links[0].index, ETH0);
}

static void test_bad_attr_overrun(void **state)
{
	check_bad_link_attr(*state, 200);
}

static void test_bad_attr_zero_len(void **state)
{
	check_bad_link_attr(*state, 0);
}

static void test_bad_attr_shorter_than_header(void **state)
{
	check_bad_link_attr(*state, 3);
}

static void test_bad_nested_overrun(void **state)
{
	struct fixture *f = *state;
	struct nl *n = &f->n;
	struct ifinfomsg ifi = {.ifi_index = 7, .ifi_flags = UP};
	struct rtattr inner = {.rta_len = 40, .rta_type = IFLA_INFO_KIND};
	size_t at;

	msg_begin(n, RTM_NEWLINK, 0, 0);
	put(n, &ifi, sizeof(ifi));
	attr(n, IFLA_IFNAME, "x0", 3);
	at = nest_begin(n, IFLA_LINKINFO);
	put(n, &inner, sizeof(inner));
	put(n, "wireguard", 10);
	nest_end(n, at);
	msg_end(n);
	assert_int_equal(netmon_parse(n->b, n->len, &f->st), -EINVAL);
	assert_int_equal(f->st.stats.bad_messages, 1);
	assert_int_equal(f->st.n_links, 0);
}

static void test_bad_body_short(void **state)
{
	struct fixture *f = *state;
	struct nl *n = &f->n;
	uint8_t body[8] = {0};

	msg_begin(n, RTM_NEWLINK, 0, 0); /* ifinfomsg is 16 */
	put(n, body, 8);
	msg_end(n);
	msg_begin(n, RTM_NEWADDR, 0, 0); /* ifaddrmsg is 8 */
	put(n, body, 4);
	msg_end(n);
	msg_begin(n, RTM_DELROUTE, 0, 0); /* rtmsg is 12 */
	put(n, body, 8);
	msg_end(n);
	assert_int_equal(netmon_parse(n->b, n->len, &f->st), -EINVAL);
	assert_int_equal(f->st.stats.bad_messages, 3);
	assert_int_equal(f->st.stats.messages, 3);
}

static void test_bad_addr_length(void **state)
{
	struct fixture *f = *state;
	struct nl *n = &f->n;
	struct ifaddrmsg v4 = {.ifa_family = AF_INET, .ifa_prefixlen = 24, .ifa_index = 2};
	struct ifaddrmsg v6 = {.ifa_family = AF_INET6, .ifa_prefixlen = 64, .ifa_index = 2};
	uint8_t ip[16] = {192, 0, 2, 9, 9};

	msg_begin(n, RTM_NEWADDR, 0, 0);
	put(n, &v4, sizeof(v4));
	attr(n, IFA_LOCAL, ip, 5);
	msg_end(n);
	msg_begin(n, RTM_NEWADDR, 0, 0);
	put(n, &v6, sizeof(v6));
	attr(n, IFA_ADDRESS, ip, 4);
	msg_end(n);
	/* No address at all. */
	msg_begin(n, RTM_NEWADDR, 0, 0);
	put(n, &v4, sizeof(v4));
	attr(n, IFA_LABEL, "eth0", 5);
	msg_end(n);
	/* A prefix longer than the address. */
	v4.ifa_prefixlen = 33;
	msg_begin(n, RTM_NEWADDR, 0, 0);
	put(n, &v4, sizeof(v4));
	attr(n, IFA_LOCAL, ip, 4);
	msg_end(n);
	/* IFA_FLAGS too short for its u32. */
	v4.ifa_prefixlen = 24;
	msg_begin(n, RTM_NEWADDR, 0, 0);
	put(n, &v4, sizeof(v4));
	attr(n, IFA_LOCAL, ip, 4);
	attr(n, IFA_FLAGS, ip, 2);
	msg_end(n);
	assert_int_equal(netmon_parse(n->b, n->len, &f->st), -EINVAL);
	assert_int_equal(f->st.stats.bad_messages, 5);
	assert_int_equal(f->st.n_addrs, 0);
}

static void test_bad_route_attrs(void **state)
{
	struct fixture *f = *state;
	struct nl *n = &f->n;
	struct rtmsg r = {
		.rtm_family = AF_INET6, .rtm_table = RT_TABLE_MAIN, .rtm_type = RTN_UNICAST};
	uint8_t gw[16] = {0xfe, 0x80};

	msg_begin(n, RTM_NEWROUTE, 0, 0);
	put(n, &r, sizeof(r));
	attr(n, RTA_OIF, gw, 2); /* a u32 in 2 bytes */
	msg_end(n);
	msg_begin(n, RTM_NEWROUTE, 0, 0);
	put(n, &r, sizeof(r));
	attr(n, RTA_GATEWAY, gw, 4); /* a v4 gateway on a v6 route */
	attr_u32(n, RTA_OIF, ETH0);
	msg_end(n);
	assert_int_equal(netmon_parse(n->b, n->len, &f->st), -EINVAL);
	assert_int_equal(f->st.stats.bad_messages, 2);
	assert_int_equal(f->st.n_routes, 0);
}

static void test_bad_multipath_overrun(void **state)
{
	struct fixture *f = *state;
	struct nl *n = &f->n;
	struct rtmsg r = {
		.rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN, .rtm_type = RTN_UNICAST};
	struct rtnexthop h = {.rtnh_len = 64, .rtnh_ifindex = ETH0};
	size_t at;

	msg_begin(n, RTM_NEWROUTE, 0, 0);
	put(n, &r, sizeof(r));
	at = nest_begin(n, RTA_MULTIPATH);
	put(n, &h, sizeof(h));
	attr(n, RTA_GATEWAY, "\xc0\0\2\1", 4);
	nest_end(n, at);
	msg_end(n);
	/* And one whose gateway attribute overruns its next hop. */
	msg_begin(n, RTM_NEWROUTE, 0, 0);
	put(n, &r, sizeof(r));
	at = nest_begin(n, RTA_MULTIPATH);
	h.rtnh_len = sizeof(h) + 6;
	put(n, &h, sizeof(h));
	attr(n, RTA_GATEWAY, "\xc0\0\2\1", 4);
	nest_end(n, at);
	msg_end(n);
	assert_int_equal(netmon_parse(n->b, n->len, &f->st), -EINVAL);
	assert_int_equal(f->st.stats.bad_messages, 2);
	assert_int_equal(f->st.n_routes, 0);
}

static void test_bad_error_with_code(void **state)
{
	struct fixture *f = *state;
	struct nl *n = &f->n;

	home(f);
	/* Someone else's error: counted, nothing else. */
	error_msg(n, OTHER_SEQ, -ENOMEM);
	/* An ACK (error 0) is no error. */
	error_msg(n, OTHER_SEQ, 0);
	apply(&f->st, n);
	assert_int_equal(f->st.stats.errors, 1);
	/* Our dump's: it failed; nothing is swept and it is pending again. */
	netmon_state_dump_begin(&f->st, NETMON_DUMP_ROUTES, 5);
	error_msg(n, 5, -EBUSY);
	assert_int_equal(step(&f->st, n), NETMON_CHANGE_NONE);
	assert_int_equal(f->st.stats.errors, 2);
	assert_int_equal(f->st.stats.dump_failures, 1);
	assert_int_equal(f->st.dump, 0);
	assert_int_equal(f->st.pending, NETMON_DUMP_ROUTES);
	assert_int_equal(f->st.n_routes, 2);
	/* A nonsense code is still an error. */
	netmon_state_dump_begin(&f->st, NETMON_DUMP_ROUTES, 6);
	error_msg(n, 6, INT32_MIN);
	apply(&f->st, n);
	assert_int_equal(f->st.dump, 0);
	assert_int_equal(f->st.stats.dump_failures, 2);
}

static void test_bad_error_short(void **state)
{
	struct fixture *f = *state;
	struct nl *n = &f->n;

	uint32_t len = sizeof(struct nlmsghdr) + 2;

	msg_begin(n, NLMSG_ERROR, 0, 0);
	put(n, "\xff\xff", 2);
	memcpy(n->b + n->msg, &len, sizeof(len)); /* 2 bytes: no room for an int */
	assert_int_equal(netmon_parse(n->b, n->len, &f->st), -EINVAL);
	assert_int_equal(f->st.stats.bad_messages, 1);
	assert_int_equal(f->st.stats.errors, 0);
}

static void test_bad_done_with_error(void **state)
{
	struct fixture *f = *state;
	struct nl *n = &f->n;
	int32_t err = -EINTR;

	home(f);
	netmon_state_dump_begin(&f->st, NETMON_DUMP_LINKS, 8);
	msg_begin(n, NLMSG_DONE, NLM_F_MULTI, 8);
	put(n, &err, sizeof(err));
	msg_end(n);
	/* The dump broke off: nothing it did not show may go. */
	assert_int_equal(step(&f->st, n), NETMON_CHANGE_NONE);
	assert_int_equal(f->st.n_links, 3);
	assert_int_equal(f->st.pending, NETMON_DUMP_LINKS);
}

/* --- the real kernel, in a network namespace of our own --- */

#define CHECK(c)                                                                            \
	do {                                                                                \
		if (!(c)) {                                                                 \
			fprintf(stderr, "netmon kernel test: line %d: %s\n", __LINE__, #c); \
			return 1;                                                           \
		}                                                                           \
	} while (0)

static int sh(const char *cmd)
{
	int rc = system(cmd);

	if (rc != 0)
		fprintf(stderr, "netmon kernel test: \"%s\" failed (%d)\n", cmd, rc);
	return rc;
}

/* Reads until the socket is quiet and no dump is in flight; returns the
 * largest change seen (the enum is ordered none < minor < major < all-down). */
static enum netmon_change settle(struct netmon *nm)
{
	enum netmon_change worst = NETMON_CHANGE_NONE;

	for (int i = 0; i < SETTLE_ROUNDS; i++) {
		struct pollfd p = {.fd = netmon_fd(nm), .events = POLLIN};
		int r = poll(&p, 1, 100);
		enum netmon_change c = netmon_on_readable(nm, clock_mono_ns());
		if (c > worst)
			worst = c;
		if (r == 0 && netmon_deadline_ns(nm) == UINT64_MAX)
			break;
	}
	return worst;
}

static bool has_addr(struct netmon *nm, const char *s, size_t *n)
{
	struct ipport a[NETMON_MAX_ADDRS], want = {0};
	bool found = false;

	*n = netmon_addrs(nm, a, NETMON_MAX_ADDRS);
	if (ip_parse(s, &want) < 0)
		return false;
	for (size_t i = 0; i < *n; i++)
		found = found || ipport_equal(&a[i], &want);
	return found;
}

static int kernel_child(void)
{
	struct netmon *nm = NULL;
	struct netmon_default d;
	struct ipport want;
	const struct netmon_stats *s;
	size_t n;
	int rc = 1;

	if (unshare(CLONE_NEWNET) < 0 ||
	    system("ip link add probe0 type veth peer name probe1 >/dev/null 2>&1 && "
		   "ip link del probe0") != 0)
		return CHILD_SKIP;
	CHECK(netmon_open(&nm) == 0);
	/* A new namespace: lo, down. */
	CHECK(netmon_addrs(nm, NULL, 0) == 0);
	CHECK(netmon_default_route(nm, AF_INET, &d) == -ENOENT);
	CHECK(netmon_deadline_ns(nm) == UINT64_MAX);

	CHECK(sh("ip link set lo up") == 0);
	CHECK(settle(nm) == NETMON_CHANGE_MINOR); /* loopback: still all down */
	CHECK(netmon_addrs(nm, NULL, 0) == 0);

	CHECK(sh("ip link add d0 type veth peer name d0p && ip link set d0p up && "
		 "ip addr add 10.9.0.2/24 dev d0 && ip -6 addr add 2001:db8:9::2/64 dev d0 nodad "
		 "&& "
		 "ip link set d0 up && ip route add default via 10.9.0.1 dev d0") == 0);
	CHECK(settle(nm) == NETMON_CHANGE_MAJOR);
	CHECK(has_addr(nm, "10.9.0.2", &n) && has_addr(nm, "2001:db8:9::2", &n) && n == 2);
	CHECK(netmon_default_route(nm, AF_INET, &d) == 0);
	CHECK(d.ifindex == if_nametoindex("d0") && strcmp(d.ifname, "d0") == 0);
	want = (struct ipport){0};
	CHECK(ip_parse("10.9.0.1", &want) == 0 && ipport_equal(&d.gw, &want));
	CHECK(ip_parse("10.9.0.2", &want) == 0 && ipport_equal(&d.self, &want));
	CHECK(netmon_default_route(nm, AF_INET6, &d) == -ENOENT);

	/* Another interface: minor. */
	CHECK(sh("ip link add d1 type veth peer name d1p && ip link set d1p up && "
		 "ip addr add 10.8.0.2/24 dev d1 && ip link set d1 up") == 0);
	CHECK(settle(nm) == NETMON_CHANGE_MINOR);
	CHECK(has_addr(nm, "10.8.0.2", &n) && n == 3);

	/* Named like WireGuard's: never ours. */
	CHECK(sh("ip link add wg0 type veth peer name wg0p && ip link set wg0p up && "
		 "ip addr add 100.64.0.1/32 dev wg0 && ip link set wg0 up") == 0);
	CHECK(settle(nm) == NETMON_CHANGE_MINOR);
	CHECK(!has_addr(nm, "100.64.0.1", &n) && n == 3);

	/* A v6 default route, then the v4 gateway moves: major each. */
	CHECK(sh("ip -6 route add default via 2001:db8:9::1 dev d0") == 0);
	CHECK(settle(nm) == NETMON_CHANGE_MAJOR);
	CHECK(netmon_default_route(nm, AF_INET6, &d) == 0 && d.ifindex == if_nametoindex("d0"));
	CHECK(sh("ip route replace default via 10.9.0.254 dev d0") == 0);
	CHECK(settle(nm) == NETMON_CHANGE_MAJOR);
	CHECK(netmon_default_route(nm, AF_INET, &d) == 0);
	CHECK(ip_parse("10.9.0.254", &want) == 0 && ipport_equal(&d.gw, &want));

	/* The address the default route needs goes: major, and the route the
	 * kernel drops without an RTM_DELROUTE goes too (the re-dump). */
	CHECK(sh("ip addr del 10.9.0.2/24 dev d0") == 0);
	CHECK(settle(nm) == NETMON_CHANGE_MAJOR);
	CHECK(netmon_default_route(nm, AF_INET, &d) == -ENOENT);
	CHECK(!has_addr(nm, "10.9.0.2", &n) && n == 2);

	/* Everything down. */
	CHECK(sh("ip link set d0 down && ip link set d1 down") == 0);
	CHECK(settle(nm) == NETMON_CHANGE_ALL_DOWN);
	CHECK(netmon_addrs(nm, NULL, 0) == 0);
	CHECK(sh("ip link set d1 up") == 0);
	CHECK(settle(nm) == NETMON_CHANGE_MAJOR);
	CHECK(has_addr(nm, "10.8.0.2", &n) && n == 1);

	/* A link deleted outright. */
	CHECK(sh("ip link del d1") == 0);
	CHECK(settle(nm) == NETMON_CHANGE_ALL_DOWN);

	/* The kernel's own messages all parsed. */
	s = netmon_stats(nm);
	CHECK(s->bad_buffers == 0 && s->bad_messages == 0 && s->overruns == 0 && s->foreign == 0);
	CHECK(s->dumps >= 4 && s->dump_failures == 0);

	/* A burst past the receive buffer (4,000 addresses, and their local
	 * routes, while nobody reads): ENOBUFS, everything dumped again, the
	 * tables full but sound. */
	CHECK(sh("ip link add d2 type veth peer name d2p && ip link set d2p up && "
		 "ip link set d2 up && for i in $(seq 0 3999); do "
		 "echo \"addr add 10.$((20 + i / 250)).$((i % 250)).1/32 dev d2\"; "
		 "done | ip -batch -") == 0);
	CHECK(settle(nm) == NETMON_CHANGE_MAJOR);
	CHECK(s->overruns >= 1 && s->table_full > 0 && s->dump_failures == 0);
	CHECK(s->bad_buffers == 0 && s->bad_messages == 0);
	CHECK(!has_addr(nm, "0.0.0.0", &n) && n > NETMON_MAX_ADDRS / 2 && n <= NETMON_MAX_ADDRS);
	CHECK(sh("ip link del d2") == 0);
	CHECK(settle(nm) == NETMON_CHANGE_ALL_DOWN);
	CHECK(!has_addr(nm, "10.20.0.1", &n) && n == 0);
	rc = 0;
	netmon_free(nm);
	return rc;
}

static void test_kernel_netns(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	if (geteuid() != 0)
		skip(); /* a network namespace needs root */
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(kernel_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == CHILD_SKIP)
		skip(); /* no namespaces, no ip(8) or no veth here */
	assert_int_equal(WEXITSTATUS(status), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_first_change_none),
		T(test_link_new_del),
		T(test_link_rename_minor),
		T(test_addr_v4_new_del),
		T(test_addr_v6_new_del),
		T(test_addr_dup_none),
		T(test_route_default_new_del),
		T(test_route_on_link),
		T(test_route_replace_gateway),
		T(test_route_better_interface),
		T(test_route_not_default_ignored),
		T(test_multipath),
		T(test_multipath_choice),
		T(test_other_interface_minor),
		T(test_default_link_down_major),
		T(test_all_down),
		T(test_family_gained_major),
		T(test_filters),
		T(test_same_address_twice),
		T(test_self_in_gateway_prefix),
		T(test_tunnel_rule),
		T(test_bridge_messages_ignored),
		T(test_dump_sweep),
		T(test_dump_addrs_sweep),
		T(test_dump_intr),
		T(test_dump_abort),
		T(test_limits),
		T(test_summary_format),
		T(test_change_names),
		T(test_unaligned_buffer),
		T(test_unknown_types_ignored),
		T(test_bad_truncated_header),
		T(test_bad_nlmsg_len_short),
		T(test_bad_nlmsg_len_past_end),
		T(test_bad_trailing_bytes),
		T(test_bad_attr_overrun),
		T(test_bad_attr_zero_len),
		T(test_bad_attr_shorter_than_header),
		T(test_bad_nested_overrun),
		T(test_bad_body_short),
		T(test_bad_addr_length),
		T(test_bad_route_attrs),
		T(test_bad_multipath_overrun),
		T(test_bad_error_with_code),
		T(test_bad_error_short),
		T(test_bad_done_with_error),
		T(test_kernel_netns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

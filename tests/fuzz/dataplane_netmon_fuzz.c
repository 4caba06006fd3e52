/* dataplane_netmon_fuzz: netmon_parse on arbitrary bytes, read three times
 * as the replies to a dump of links (seq 1), addresses (seq 2) and routes
 * (seq 3) from port FUZZ_PORTID, as the seeds were captured
 * (corpus/dataplane_netmon: dumps and events of this machine and of a
 * network namespace, and truncated copies). After each pass the state must
 * stay within its limits and consistent, and what it reports must follow
 * the rules of netmon_state.c. */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netmon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	FUZZ_PORTID = 7000, /* the capture's netlink port */
	FUZZ_PASSES = 3,
};

static const unsigned kinds[FUZZ_PASSES] = {NETMON_DUMP_LINKS, NETMON_DUMP_ADDRS,
					    NETMON_DUMP_ROUTES};

static const struct netmon_link *link_of(const struct netmon_state *st, uint32_t index)
{
	for (uint32_t i = 0; i < st->n_links; i++)
		if (st->links[i].index == index)
			return &st->links[i];
	return NULL;
}

static bool link_up(const struct netmon_link *l)
{
	return l && (l->flags & (IFF_UP | IFF_RUNNING)) == (IFF_UP | IFF_RUNNING) &&
	       !(l->flags & IFF_LOOPBACK) && !l->tunnel;
}

static bool looks_unusable(const struct ipport *a)
{
	if (a->family == AF_INET)
		return a->ip[0] == 127 || a->ip[0] == 0 || (a->ip[0] == 169 && a->ip[1] == 254) ||
		       a->ip[0] >= 224;
	return a->ip[0] == 0xff || (a->ip[0] == 0xfe && (a->ip[1] & 0xc0) == 0x80);
}

static void check_tables(const struct netmon_state *st)
{
	if (st->n_links > NETMON_MAX_LINKS || st->n_addrs > NETMON_MAX_ADDRS ||
	    st->n_routes > NETMON_MAX_ROUTES)
		abort();
	for (uint32_t i = 0; i < st->n_links; i++) {
		if (st->links[i].index == 0 || memchr(st->links[i].name, 0, IF_NAMESIZE) == NULL)
			abort();
		for (uint32_t j = i + 1; j < st->n_links; j++)
			if (st->links[i].index == st->links[j].index)
				abort();
	}
	for (uint32_t i = 0; i < st->n_addrs; i++) {
		const struct netmon_addr *a = &st->addrs[i];
		if ((a->ip.family != AF_INET && a->ip.family != AF_INET6) || a->ifindex == 0 ||
		    a->prefixlen > (a->ip.family == AF_INET ? 32 : 128))
			abort();
	}
	for (uint32_t i = 0; i < st->n_routes; i++) {
		const struct netmon_route *r = &st->routes[i];
		if ((r->family != AF_INET && r->family != AF_INET6) || r->ifindex == 0 ||
		    (r->gw.family && r->gw.family != r->family))
			abort();
	}
	/* Nothing is left stale once no dump is in progress. */
	if (!st->dump)
		for (uint32_t i = 0; i < st->n_links; i++)
			if (st->links[i].stale)
				abort();
}

static void check_default(const struct netmon_state *st, int family)
{
	struct netmon_default d;
	int rc = netmon_state_default_route(st, family, &d);

	if (rc == -ENOENT) {
		if (d.ifindex)
			abort();
		return;
	}
	if (rc != 0 || !link_up(link_of(st, d.ifindex)) ||
	    (d.self.family && d.self.family != family) || (d.gw.family && d.gw.family != family))
		abort();
}

static void check_report(struct netmon_state *st)
{
	struct ipport addrs[NETMON_MAX_ADDRS];
	struct netmon_summary s;
	enum netmon_change c;
	char line[256];
	size_t n;

	c = netmon_state_change(st);
	if (c < NETMON_CHANGE_NONE || c > NETMON_CHANGE_ALL_DOWN)
		abort();
	/* Reported: asking again finds nothing new. */
	if (netmon_state_change(st) != NETMON_CHANGE_NONE)
		abort();
	netmon_state_summary(st, &s);
	if ((c == NETMON_CHANGE_ALL_DOWN) && !s.all_down)
		abort();
	n = netmon_state_addrs(st, addrs, NETMON_MAX_ADDRS);
	if (n != s.n_addrs || s.all_down != (n == 0))
		abort();
	for (size_t i = 0; i < n; i++) {
		if (looks_unusable(&addrs[i]) || addrs[i].port != 0)
			abort();
		if (i && s.addrs[i - 1].ip.family == s.addrs[i].ip.family &&
		    memcmp(s.addrs[i - 1].ip.ip, s.addrs[i].ip.ip, 16) >= 0)
			abort();
		if (!link_up(link_of(st, s.addrs[i].ifindex)))
			abort();
	}
	check_default(st, AF_INET);
	check_default(st, AF_INET6);
	if (netmon_summary_format(&s, line, sizeof(line)) == 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct netmon_state st;

	netmon_state_init(&st);
	st.portid = FUZZ_PORTID;
	for (int pass = 0; pass < FUZZ_PASSES; pass++) {
		uint64_t dumps = st.stats.dumps;
		netmon_state_dump_begin(&st, kinds[pass], (uint32_t)pass + 1);
		(void)netmon_parse(data, size, &st);
		/* A dump that is still running is given up, as a timeout would. */
		if (st.dump)
			netmon_state_dump_abort(&st);
		if (st.stats.dumps > dumps + 1)
			abort();
		check_tables(&st);
		check_report(&st);
	}
	return 0;
}

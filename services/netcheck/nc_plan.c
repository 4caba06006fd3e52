/* nc_plan: the STUN probe plan of a report, after Tailscale's
 * net/netcheck/netcheck.go makeProbePlan (incremental: the fastest regions
 * of the last report and the home region) and makeProbePlanInitial (full:
 * every region). */
#include <errno.h>
#include <string.h>

#include "nc_plan.h"

static const uint64_t NS_MS = 1000000;

static size_t nregions(const struct nc_derpmap *dm)
{
	return dm->n_regions < NC_MAX_REGIONS ? dm->n_regions : NC_MAX_REGIONS;
}

static size_t nnodes(const struct nc_region *reg)
{
	return reg->n_nodes < NC_MAX_NODES ? reg->n_nodes : NC_MAX_NODES;
}

static bool is_none(const char *s)
{
	return strcmp(s, "none") == 0;
}

/* nodeMight4/nodeMight6: no literal means DNS might give one; a literal
 * must be of the family. */
static bool might(const char *text, int family)
{
	struct ipport a;

	if (text[0] == '\0')
		return true;
	return ip_parse(text, &a) == 0 && a.family == family;
}

bool nc_node_is_test(const struct nc_node *n)
{
	return n->stun_test_ip[0] != '\0' || strcmp(n->ipv4, "127.0.0.1") == 0;
}

int nc_node_stun_addr(const struct nc_node *n, enum nc_family fam, struct ipport *out)
{
	int family = fam == NC_V4 ? AF_INET : AF_INET6;
	const char *text = fam == NC_V4 ? n->ipv4 : n->ipv6;
	int32_t port = n->stun_port;
	struct ipport a;

	if (fam != NC_V4 && fam != NC_V6)
		return -EINVAL;
	if (port < 0 || port > 65535)
		return -EINVAL;
	if (port == 0)
		port = NC_STUN_DEFAULT_PORT;
	if (n->stun_test_ip[0] != '\0')
		text = n->stun_test_ip;
	else if (text[0] == '\0')
		return -ENOENT;
	if (ip_parse(text, &a) < 0 || a.family != family)
		return -EINVAL;
	a.port = (uint16_t)port;
	*out = a;
	return 0;
}

static void add_probe(struct nc_probe_set *s, uint32_t region_id, size_t region_idx,
		      size_t node_idx, enum nc_family fam, uint64_t delay_ns)
{
	if (s->n >= NC_MAX_TRIES)
		return;
	s->region_id = region_id;
	s->family = fam;
	s->probes[s->n++] = (struct nc_probe){
		.region_id = region_id,
		.region_idx = (uint16_t)region_idx,
		.node_idx = (uint16_t)node_idx,
		.family = fam,
		.delay_ns = delay_ns,
	};
}

/* Keeps the region's two sets that have probes. */
static void keep_sets(struct nc_plan *out, const struct nc_probe_set *p4,
		      const struct nc_probe_set *p6)
{
	if (p4->n > 0 && out->n < NC_PLAN_MAX_SETS)
		out->sets[out->n++] = *p4;
	if (p6->n > 0 && out->n < NC_PLAN_MAX_SETS)
		out->sets[out->n++] = *p6;
}

void nc_plan_initial(const struct nc_derpmap *dm, bool have_v4, bool have_v6, struct nc_plan *out)
{
	out->n = 0;
	for (size_t ri = 0; ri < nregions(dm); ri++) {
		const struct nc_region *reg = &dm->regions[ri];
		struct nc_probe_set p4 = {0}, p6 = {0};

		if (reg->no_measure_no_home || nnodes(reg) == 0)
			continue;
		for (unsigned try = 0; try < NC_INITIAL_TRIES; try++) {
			size_t ni = try % nnodes(reg);
			const struct nc_node *n = &reg->nodes[ni];
			uint64_t delay = try * NC_INITIAL_RETRANSMIT_MS * NS_MS;
			bool test = nc_node_is_test(n);

			if (!is_none(n->ipv4) && ((have_v4 && might(n->ipv4, AF_INET)) || test))
				add_probe(&p4, reg->id, ri, ni, NC_V4, delay);
			if (!is_none(n->ipv6) && ((have_v6 && might(n->ipv6, AF_INET6)) || test))
				add_probe(&p6, reg->id, ri, ni, NC_V6, delay);
		}
		keep_sets(out, &p4, &p6);
	}
}

/* sortRegions' order: a region with a (non-zero) latency in last before one
 * without; then the lower latency; ties, which Go leaves to map order, go
 * to the lower region ID. */
static bool sorts_before(const struct nc_report *last, const struct nc_region *a,
			 const struct nc_region *b)
{
	uint64_t la = 0, lb = 0;

	nc_latencies_get(&last->latency, a->id, &la);
	nc_latencies_get(&last->latency, b->id, &lb);
	if ((la != 0) != (lb != 0))
		return la != 0;
	if (la != lb)
		return la < lb;
	return a->id < b->id;
}

size_t nc_sort_regions(const struct nc_derpmap *dm, const struct nc_report *last,
		       uint32_t preferred, uint16_t idx[NC_MAX_REGIONS])
{
	size_t n = 0;

	for (size_t ri = 0; ri < nregions(dm); ri++) {
		const struct nc_region *reg = &dm->regions[ri];
		size_t j;

		if (reg->no_measure_no_home)
			continue;
		if (reg->avoid && reg->id != preferred)
			continue;
		/* Insertion sort: at most NC_MAX_REGIONS, and stable. */
		for (j = n; j > 0 && sorts_before(last, reg, &dm->regions[idx[j - 1]]); j--)
			idx[j] = idx[j - 1];
		idx[j] = (uint16_t)ri;
		n++;
	}
	return n;
}

void nc_plan_make(const struct nc_derpmap *dm, bool have_v4, bool have_v6,
		  const struct nc_report *last, uint32_t preferred, struct nc_plan *out)
{
	uint16_t idx[NC_MAX_REGIONS];
	bool had4, had6, had_both, plan_has_home;
	size_t n;

	if (!last || last->latency.n == 0) {
		nc_plan_initial(dm, have_v4, have_v6, out);
		return;
	}
	out->n = 0;
	had4 = last->v4_latency.n > 0;
	had6 = last->v6_latency.n > 0;
	had_both = have_v6 && had4 && had6;
	/* Tailscale #13969: the home region is always in the plan, so that one
	 * bad sample in a full report cannot move us off it. */
	plan_has_home = preferred == 0;

	n = nc_sort_regions(dm, last, preferred, idx);
	for (size_t ri = 0; ri < n; ri++) {
		const struct nc_region *reg = &dm->regions[idx[ri]];
		bool is_home = reg->id == preferred, fastest_two = ri < 2;
		bool do4 = have_v4, do6 = have_v6;
		struct nc_probe_set p4 = {0}, p6 = {0};
		unsigned tries = 1;
		uint64_t lat = 0, step;

		if (ri >= NC_NUM_INCREMENTAL_REGIONS) {
			if (plan_has_home)
				break;
			if (!is_home)
				continue;
		}
		if (fastest_two || is_home) {
			tries = 2;
		} else if (had_both) {
			/* Dual stack: the third and slower regions alternate. */
			do4 = ri % 2 == 0;
			do6 = !do4;
		}
		if (!is_home && !fastest_two && !had6)
			do6 = false;
		if (is_home) {
			/* Try hard to keep the home we have rather than flap. */
			tries = NC_MAX_TRIES;
			plan_has_home = true;
		}

		/* Retries follow at 120 % of the last latency, 200 ms without
		 * one. No answer comes later than a report lasts; the clamp only
		 * keeps a nonsense value far from overflow. */
		nc_latencies_get(&last->latency, reg->id, &lat);
		if (lat > NC_REPORT_TIMEOUT_MS * NS_MS)
			lat = NC_REPORT_TIMEOUT_MS * NS_MS;
		step = lat * 120 / 100;
		if (step == 0)
			step = NC_ACTIVE_RETRANSMIT_MS * NS_MS;
		for (unsigned try = 0; try < tries; try++) {
			size_t ni;
			const struct nc_node *node;
			uint64_t delay;

			if (nnodes(reg) == 0)
				continue;
			if (try != 0 && !had6)
				do6 = false;
			ni = try % nnodes(reg);
			node = &reg->nodes[ni];
			delay = try * step;
			if (try > 1)
				delay += try * NC_RETRY_EXTRA_MS * NS_MS;
			if (!is_none(node->ipv4) && (do4 || nc_node_is_test(node)))
				add_probe(&p4, reg->id, idx[ri], ni, NC_V4, delay);
			if (!is_none(node->ipv6) && (do6 || nc_node_is_test(node)))
				add_probe(&p6, reg->id, idx[ri], ni, NC_V6, delay);
		}
		keep_sets(out, &p4, &p6);
	}
}

const struct nc_probe_set *nc_plan_find(const struct nc_plan *plan, uint32_t region_id,
					enum nc_family fam)
{
	for (size_t i = 0; i < plan->n; i++) {
		if (plan->sets[i].region_id == region_id && plan->sets[i].family == fam)
			return &plan->sets[i];
	}
	return NULL;
}

const struct nc_node *nc_probe_node(const struct nc_derpmap *dm, const struct nc_probe *p)
{
	const struct nc_region *reg;

	if (p->region_idx >= nregions(dm))
		return NULL;
	reg = &dm->regions[p->region_idx];
	if (reg->id != p->region_id || p->node_idx >= nnodes(reg))
		return NULL;
	return &reg->nodes[p->node_idx];
}

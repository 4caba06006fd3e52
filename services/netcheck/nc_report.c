/* nc_report: folding STUN answers into a network report, after Tailscale's
 * net/netcheck/netcheck.go (addNodeLatency, probeWouldHelp, GetGlobalAddrs,
 * RegionLatency.Compare, updateLatency). */
#include <errno.h>
#include <string.h>

#include "nc_report.h"

void nc_report_init(struct nc_report *r)
{
	memset(r, 0, sizeof(*r));
}

static struct nc_latency *find(struct nc_latencies *l, uint32_t region_id)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->e[i].region_id == region_id)
			return &l->e[i];
	}
	return NULL;
}

bool nc_latencies_get(const struct nc_latencies *l, uint32_t region_id, uint64_t *ns)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->e[i].region_id == region_id) {
			if (ns)
				*ns = l->e[i].ns;
			return true;
		}
	}
	return false;
}

int nc_latencies_update(struct nc_latencies *l, uint32_t region_id, uint64_t ns)
{
	struct nc_latency *e = find(l, region_id);

	if (e) {
		if (ns < e->ns)
			e->ns = ns;
		return 0;
	}
	if (l->n >= NC_MAX_REGIONS)
		return -ENOSPC;
	l->e[l->n++] = (struct nc_latency){.region_id = region_id, .ns = ns};
	return 0;
}

uint64_t nc_latencies_max(const struct nc_latencies *l)
{
	uint64_t max = 0;

	for (size_t i = 0; i < l->n; i++) {
		if (l->e[i].ns > max)
			max = l->e[i].ns;
	}
	return max;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
	return (a > b) - (a < b);
}

int nc_latencies_compare(const struct nc_latencies *l, uint32_t i, uint32_t j)
{
	uint64_t li = 0, lj = 0;
	bool hi = nc_latencies_get(l, i, &li), hj = nc_latencies_get(l, j, &lj);

	if (hi != hj)
		return hi ? -1 : 1;
	if (li != lj)
		return cmp_u64(li, lj);
	return cmp_u64(i, j);
}

/* Counts one sighting of addr; past NC_REPORT_MAX_ENDPOINTS distinct ones,
 * new addresses go uncounted. */
static void count_seen(struct nc_endpoint_count *seen, size_t *n, const struct ipport *addr)
{
	for (size_t i = 0; i < *n; i++) {
		if (ipport_equal(&seen[i].addr, addr)) {
			seen[i].count++;
			return;
		}
	}
	if (*n < NC_REPORT_MAX_ENDPOINTS)
		seen[(*n)++] = (struct nc_endpoint_count){.addr = *addr, .count = 1};
}

int nc_report_add_stun(struct nc_report *r, uint32_t region_id, const struct ipport *mapped,
		       uint64_t rtt_ns)
{
	bool had_region;
	int rc = 0;

	if (region_id == 0 || !mapped || (mapped->family != AF_INET && mapped->family != AF_INET6))
		return -EINVAL;
	had_region = nc_latencies_get(&r->latency, region_id, NULL);
	if (!had_region && r->latency.n >= NC_MAX_REGIONS)
		return -ENOSPC;

	r->udp = true;
	nc_latencies_update(&r->latency, region_id, rtt_ns);
	if (!had_region && r->latency.n == NC_ENOUGH_REGIONS)
		rc = 1;

	if (mapped->family == AF_INET6) {
		/* Both latency maps have the room the region check above found. */
		nc_latencies_update(&r->v6_latency, region_id, rtt_ns);
		r->ipv6 = true;
		r->global_v6 = *mapped;
		count_seen(r->v6_seen, &r->n_v6_seen, mapped);
		return rc;
	}
	nc_latencies_update(&r->v4_latency, region_id, rtt_ns);
	r->ipv4 = true;
	count_seen(r->v4_seen, &r->n_v4_seen, mapped);
	/* Tailscale compares every IPv4 answer with the first one only. */
	if (r->global_v4.family == 0)
		r->global_v4 = *mapped;
	else if (!ipport_equal(&r->global_v4, mapped))
		r->mapping_varies_by_dest_ip = NC_OPT_TRUE;
	else if (r->mapping_varies_by_dest_ip == NC_OPT_UNSET)
		r->mapping_varies_by_dest_ip = NC_OPT_FALSE;
	return rc;
}

bool nc_report_probe_would_help(const struct nc_report *r, uint32_t region_id, enum nc_family fam)
{
	if (!nc_latencies_get(&r->latency, region_id, NULL))
		return true;
	if (fam == NC_V6 && r->v6_latency.n == 0)
		return true;
	if (fam == NC_V4 && r->mapping_varies_by_dest_ip == NC_OPT_UNSET)
		return true;
	return false;
}

size_t nc_report_global_addrs(const struct nc_report *r, enum nc_family fam, struct ipport *out,
			      size_t cap)
{
	const struct nc_endpoint_count *seen = fam == NC_V6 ? r->v6_seen : r->v4_seen;
	size_t n_seen = fam == NC_V6 ? r->n_v6_seen : r->n_v4_seen;
	const struct ipport *best = fam == NC_V6 ? &r->global_v6 : &r->global_v4;
	size_t n = 0;

	if (fam != NC_V4 && fam != NC_V6)
		return 0;
	if (best->family != 0) {
		if (n < cap)
			out[n] = *best;
		n++;
	}
	for (size_t i = 0; i < n_seen; i++) {
		if (best->family != 0 && ipport_equal(&seen[i].addr, best))
			continue;
		if (seen[i].count > 1) {
			if (n < cap)
				out[n] = seen[i].addr;
			n++;
		}
	}
	return n;
}

/* nc_plan: the DERP map as netcheck sees it, and the STUN probe plan of a
 * report, after Tailscale's net/netcheck/netcheck.go (makeProbePlan,
 * makeProbePlanInitial, sortRegions, nodeMight4/6, nodeAddrPort without
 * DNS). Pure: no I/O, no clock, no allocation.
 *
 * How main.c runs a plan (as Tailscale's GetReport/runProbe do): every set
 * runs concurrently; each probe starts delay_ns after the report's start,
 * unless its set is done or nc_report_probe_would_help says it would tell
 * nothing new; a set is done once one of its probes is answered. A probe
 * has no timeout of its own (wait_ns is always 0 here): it waits until the
 * STUN phase ends (NC_STUN_PROBE_TIMEOUT_MS, or earlier once
 * NC_ENOUGH_REGIONS regions answered). */
#ifndef MSOCK_NC_PLAN_H
#define MSOCK_NC_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "nc_report.h"

enum {
	/* Nodes kept per region. A plan never probes past the 4th node
	 * (NC_MAX_TRIES tries, node = try % number of nodes), so any limit of
	 * 4 or more gives Tailscale's plan; the loader drops the rest. */
	NC_MAX_NODES = 8,
	NC_NAME_MAX = 64,    /* node name, NUL included */
	NC_IP_TEXT_MAX = 48, /* an IPv6 literal (45) + NUL, rounded up */
	NC_STUN_DEFAULT_PORT = 3478,
	NC_NUM_INCREMENTAL_REGIONS = 3,	       /* numIncrementalRegions */
	NC_INITIAL_TRIES = 3,		       /* probes per region and family, full plan */
	NC_MAX_TRIES = 4,		       /* the home region's, incremental plan */
	NC_INITIAL_RETRANSMIT_MS = 100,	       /* defaultInitialRetransmitTime */
	NC_ACTIVE_RETRANSMIT_MS = 200,	       /* defaultActiveRetransmitTime */
	NC_RETRY_EXTRA_MS = 50,		       /* added per try from the third on */
	NC_PLAN_MAX_SETS = 2 * NC_MAX_REGIONS, /* one per region and family */
};

/* One DERP (or STUN-only) node: the fields of proto DERPNode netcheck
 * uses, as the same strings. */
struct nc_node {
	char name[NC_NAME_MAX];
	/* "" = the host name's A / AAAA records (we resolve nothing, so no
	 * probe can be sent), "none" = that family is off, else a literal;
	 * a string that is not an address of the family turns it off too. */
	char ipv4[NC_IP_TEXT_MAX];
	char ipv6[NC_IP_TEXT_MAX];
	char stun_test_ip[NC_IP_TEXT_MAX]; /* tests: overrides both; "" = none */
	int32_t stun_port;		   /* 0 = 3478, -1 = no STUN */
	bool stun_only; /* a STUN server, not a DERP server: probed all the same */
};

/* One region (proto DERPMap, one message per region). */
struct nc_region {
	uint32_t id;
	bool avoid; /* deprecated in Tailscale: left out of incremental plans unless home */
	bool no_measure_no_home; /* never probed, never home */
	/* DERPHomeParams.RegionScore: the region's latency is multiplied by
	 * this when choosing a home; <= 0 = 1.0. From the config's
	 * derp_map.HomeParams, through proto DERPMap.home_score. */
	double home_score;
	struct nc_node nodes[NC_MAX_NODES];
	size_t n_nodes;
};

/* The DERP map, regions in any order. Large (about 200 KiB): keep it in a
 * context, not on the stack. */
struct nc_derpmap {
	struct nc_region regions[NC_MAX_REGIONS];
	size_t n_regions;
};

struct nc_probe {
	uint32_t region_id;
	uint16_t region_idx; /* into the map the plan was made from */
	uint16_t node_idx;   /* into that region's nodes */
	enum nc_family family;
	uint64_t delay_ns; /* from the report's start */
	uint64_t wait_ns;  /* 0: until the STUN phase ends */
};

/* The probes of one region and family (Tailscale's "region-<id>-v4"). */
struct nc_probe_set {
	uint32_t region_id;
	enum nc_family family;
	struct nc_probe probes[NC_MAX_TRIES];
	size_t n;
};

struct nc_plan {
	struct nc_probe_set sets[NC_PLAN_MAX_SETS];
	size_t n;
};

/* The plan of a report (makeProbePlan). last is the previous report, or
 * NULL for a full report (the caller decides, as GetReport does: the first
 * report, every NC_FULL_REPORT_INTERVAL_MS, after a captive portal without
 * UDP); a last report without region latencies also gives the full plan.
 * preferred is the current home region (0 = none): an incremental plan
 * always probes it, four times, even if it is marked avoid. have_v4/have_v6:
 * whether an interface has such an address. Overwrites *out. */
void nc_plan_make(const struct nc_derpmap *dm, bool have_v4, bool have_v6,
		  const struct nc_report *last, uint32_t preferred, struct nc_plan *out);
/* The full plan (makeProbePlanInitial): every region but the
 * no_measure_no_home ones, three probes per family 100 ms apart, rotating
 * over the region's nodes. */
void nc_plan_initial(const struct nc_derpmap *dm, bool have_v4, bool have_v6, struct nc_plan *out);

/* The regions an incremental plan picks from, fastest first by last's
 * latency, then those without one (sortRegions); ties go to the lower
 * region ID. Skips no_measure_no_home regions, and avoid regions other
 * than preferred. Writes region indexes into dm to idx and returns how
 * many. */
size_t nc_sort_regions(const struct nc_derpmap *dm, const struct nc_report *last,
		       uint32_t preferred, uint16_t idx[NC_MAX_REGIONS]);

/* The set of the plan for region_id and fam, or NULL. */
const struct nc_probe_set *nc_plan_find(const struct nc_plan *plan, uint32_t region_id,
					enum nc_family fam);
/* The node a probe names (borrowed from dm), or NULL if dm does not have it. */
const struct nc_node *nc_probe_node(const struct nc_derpmap *dm, const struct nc_probe *p);

/* Where to send a STUN probe of fam to n (nodeAddrPort without DNS):
 * stun_test_ip if set, else the node's literal of that family; the port is
 * stun_port, 0 meaning NC_STUN_DEFAULT_PORT. Returns 0, -EINVAL if STUN or
 * that family is off for the node (stun_port < 0 or > 65535, "none", not an
 * address of the family), or -ENOENT if the node names no address and only
 * a DNS lookup of its host name could give one. */
int nc_node_stun_addr(const struct nc_node *n, enum nc_family fam, struct ipport *out);
/* Tailscale's DERPNode.IsTestNode: stun_test_ip set, or IPv4 "127.0.0.1".
 * A test node is probed over both families whatever the interfaces say. */
bool nc_node_is_test(const struct nc_node *n);

#endif

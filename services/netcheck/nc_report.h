/* nc_report: a network report, as Tailscale's net/netcheck Report, and how
 * STUN answers fold into it (reportState.addNodeLatency, probeWouldHelp,
 * Report.GetGlobalAddrs, RegionLatency.Compare). Pure: no I/O, no clock,
 * no allocation; a report is a plain value the caller owns. */
#ifndef MSOCK_NC_REPORT_H
#define MSOCK_NC_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum {
	/* DERP regions we consider, in a map or a report. Tailscale's own map
	 * has about 30; region IDs 900-999 are for users' own. */
	NC_MAX_REGIONS = 128,
	/* Distinct mapped addresses counted per family (GlobalV4Counters);
	 * more are still compared for mapping_varies_by_dest_ip, not counted. */
	NC_REPORT_MAX_ENDPOINTS = 16,
	/* Once this many regions answered, the STUN phase may end early
	 * (Tailscale's enoughRegions; see nc_report_add_stun). */
	NC_ENOUGH_REGIONS = 3,
	/* Timing of one report run (Tailscale's constants, for main.c). */
	NC_REPORT_TIMEOUT_MS = 5000,		    /* ReportTimeout: a whole report */
	NC_STUN_PROBE_TIMEOUT_MS = 3000,	    /* stunProbeTimeout: the STUN phase */
	NC_FULL_REPORT_INTERVAL_MS = 5 * 60 * 1000, /* fullReportInterval */
};

enum nc_family {
	NC_FAMILY_INVALID = 0,
	NC_V4,
	NC_V6,
};

/* Tailscale's opt.Bool: not checked, false, true. */
enum nc_opt {
	NC_OPT_UNSET = 0,
	NC_OPT_FALSE,
	NC_OPT_TRUE,
};

struct nc_latency {
	uint32_t region_id;
	uint64_t ns;
};

/* Latency per region (Tailscale's RegionLatency map), in insertion order. */
struct nc_latencies {
	struct nc_latency e[NC_MAX_REGIONS];
	size_t n;
};

struct nc_endpoint_count {
	struct ipport addr;
	unsigned count; /* times a STUN server saw us at addr */
};

struct nc_report {
	bool udp;  /* a UDP STUN round trip completed */
	bool ipv4; /* an IPv4 STUN round trip completed */
	bool ipv6; /* an IPv6 STUN round trip completed */
	/* Whether IPv4 STUN servers saw us at different addresses: unset
	 * until two IPv4 answers came in. */
	enum nc_opt mapping_varies_by_dest_ip;
	enum nc_opt upnp, pmp, pcp, captive_portal;
	uint32_t preferred_derp; /* 0 = none; set by nc_history_add */
	struct nc_latencies latency, v4_latency, v6_latency;
	struct ipport global_v4; /* the first IPv4 mapped address; family 0 = none */
	struct ipport global_v6; /* the latest IPv6 mapped address */
	struct nc_endpoint_count v4_seen[NC_REPORT_MAX_ENDPOINTS];
	struct nc_endpoint_count v6_seen[NC_REPORT_MAX_ENDPOINTS];
	size_t n_v4_seen, n_v6_seen;
};

/* An empty report. */
void nc_report_init(struct nc_report *r);

/* Folds one STUN answer in: the server of region_id saw us at mapped
 * (AF_INET or AF_INET6; the family of the mapped address, not of the probe,
 * decides, as in Tailscale) after rtt_ns. Sets udp, the region's latency
 * (the lowest seen), ipv4/ipv6 and their latency, global_v4 (the first
 * IPv4 address seen) or global_v6 (the latest), the endpoint counts, and
 * mapping_varies_by_dest_ip: true once an IPv4 address differs from the
 * first, else false from the second IPv4 answer on. Returns 1 when this
 * answer brought the number of regions with a latency to NC_ENOUGH_REGIONS
 * (main.c then ends the STUN phase after nc_latencies_max, doubled for a
 * full report, as Tailscale does), 0 otherwise, -EINVAL (region 0, bad
 * mapped address) or -ENOSPC (NC_MAX_REGIONS regions already: not added). */
int nc_report_add_stun(struct nc_report *r, uint32_t region_id, const struct ipport *mapped,
		       uint64_t rtt_ns);

/* Whether a probe of region_id over fam would tell us anything new
 * (Tailscale's probeWouldHelp): the region has no latency yet; or it is
 * IPv6 and no IPv6 answer came yet; or it is IPv4 and we cannot yet tell
 * whether the mapping varies. */
bool nc_report_probe_would_help(const struct nc_report *r, uint32_t region_id, enum nc_family fam);

/* Our global addresses of fam (Tailscale's GetGlobalAddrs): the one of the
 * report first, then every other seen more than once (a NAT that hands out
 * new mappings for new flows while an old one still works). Writes up to
 * cap to out and returns how many there are. */
size_t nc_report_global_addrs(const struct nc_report *r, enum nc_family fam, struct ipport *out,
			      size_t cap);

/* The latency of region_id in l, if present. */
bool nc_latencies_get(const struct nc_latencies *l, uint32_t region_id, uint64_t *ns);
/* Sets region_id's latency to ns if it has none or a higher one (Tailscale's
 * updateLatency). Returns 0, or -ENOSPC when l is full. */
int nc_latencies_update(struct nc_latencies *l, uint32_t region_id, uint64_t ns);
/* The highest latency in l, 0 if empty. */
uint64_t nc_latencies_max(const struct nc_latencies *l);
/* Tailscale's RegionLatency.Compare: regions in l sort before regions not
 * in it, then by latency, then by region ID. Returns -1, 0 or +1. */
int nc_latencies_compare(const struct nc_latencies *l, uint32_t i, uint32_t j);

#endif

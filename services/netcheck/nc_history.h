/* nc_history: recent reports and the choice of the preferred ("home") DERP
 * region with Tailscale's hysteresis, after net/netcheck/netcheck.go
 * addReportHistoryAndSetPreferredDERP, addReportAndPruneExpired and
 * bestRecentLatencyLocked. Pure: time comes in as monotonic ns.
 *
 * The rule, for a new report r:
 *  1. r joins the history; reports older than NC_HISTORY_MAX_AGE_MS leave.
 *  2. Each region's best latency is its lowest over the history, times the
 *     region's home_score when that is > 0 (r's own latencies are scaled
 *     the same way).
 *  3. The candidate is the region of r with the lowest best latency (ties:
 *     the lower region ID; no_measure_no_home regions never).
 *  4. Stickiness: when the candidate is not the previous home, and the old
 *     home is still reachable (a latency in r, or a DERP frame from it
 *     since the report started or within NC_PREFERRED_DERP_FRAME_TIME_MS),
 *     the old home stays if it is less than NC_PREFERRED_DERP_ABSOLUTE_DIFF_MS
 *     slower than the candidate's best, or if the candidate's best is more
 *     than two thirds of the old home's latency (not a third faster).
 *  5. A forced region (opts.force_region) wins if r has a latency for it or
 *     a DERP frame came from it as in 4.
 *  6. With no candidate at all, the old home stays while a DERP frame came
 *     from it within NC_PREFERRED_DERP_KEEPALIVE_TIMEOUT_MS. */
#ifndef MSOCK_NC_HISTORY_H
#define MSOCK_NC_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "nc_plan.h"
#include "nc_report.h"

enum {
	/* Tailscale's maxAge: a full report (every NC_FULL_REPORT_INTERVAL_MS)
	 * always stays in the history. */
	NC_HISTORY_MAX_AGE_MS = NC_FULL_REPORT_INTERVAL_MS + NC_REPORT_TIMEOUT_MS,
	/* Ours: Tailscale bounds the history by age only. Reports come every
	 * ~20-26 s (magicsock's ReSTUN) plus on link changes, so about 15 fit in
	 * the age window; past 64 the oldest goes first. */
	NC_HISTORY_MAX_REPORTS = 64,
	NC_PREFERRED_DERP_ABSOLUTE_DIFF_MS = 10, /* preferredDERPAbsoluteDiff */
	NC_PREFERRED_DERP_FRAME_TIME_MS = 8000,	 /* PreferredDERPFrameTime */
	NC_DERP_KEEPALIVE_MS = 60000,		 /* derp.KeepAlive */
	NC_PREFERRED_DERP_KEEPALIVE_TIMEOUT_MS = 2 * NC_DERP_KEEPALIVE_MS,
};

struct nc_home_opts {
	uint64_t start_ns;     /* when this report's probing began */
	uint32_t force_region; /* Tailscale's ForcePreferredDERP; 0 = none */
	/* When a DERP frame (not STUN) last came from region_id, or 0 for
	 * never or unknown. NULL: 0 for every region. arg is the caller's. */
	uint64_t (*last_derp_activity)(void *arg, uint32_t region_id);
	void *arg;
};

struct nc_history;

/* An empty history (no previous home). NULL on ENOMEM. Caller frees. */
struct nc_history *nc_history_new(void);
void nc_history_free(struct nc_history *h);

/* Adds report r, finished at now, to the history and sets
 * r->preferred_derp by the rule above (overwriting what was there). dm
 * gives home_score and no_measure_no_home (NULL: none). The history keeps
 * a copy of r's latencies; r stays the caller's. */
void nc_history_add(struct nc_history *h, const struct nc_derpmap *dm, struct nc_report *r,
		    uint64_t now, const struct nc_home_opts *opts);

/* Reports in the history. */
size_t nc_history_len(const struct nc_history *h);
/* The preferred region of the last report added (0 = none). */
uint32_t nc_history_home(const struct nc_history *h);
/* region_id's lowest latency over the history, unscaled (Tailscale's
 * RecentRegionLatency), if any report has one. */
bool nc_history_best_latency(const struct nc_history *h, uint32_t region_id, uint64_t *ns);

#endif

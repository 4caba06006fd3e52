/* nc_history: report history and the preferred DERP region, after
 * Tailscale's net/netcheck/netcheck.go addReportHistoryAndSetPreferredDERP
 * (the rule is spelled out in nc_history.h). */
#include <stdlib.h>
#include <string.h>

#include "nc_history.h"

static const uint64_t NS_MS = 1000000;

struct entry {
	uint64_t at_ns;
	struct nc_latencies latency;
};

/* A ring, oldest first: entries head, head + 1, ... (mod the size). */
struct nc_history {
	struct entry e[NC_HISTORY_MAX_REPORTS];
	size_t head, n;
	uint32_t home; /* the last report's preferred region */
};

struct nc_history *nc_history_new(void)
{
	return calloc(1, sizeof(struct nc_history));
}

void nc_history_free(struct nc_history *h)
{
	free(h);
}

size_t nc_history_len(const struct nc_history *h)
{
	return h->n;
}

uint32_t nc_history_home(const struct nc_history *h)
{
	return h->home;
}

static struct entry *at(struct nc_history *h, size_t i)
{
	return &h->e[(h->head + i) % NC_HISTORY_MAX_REPORTS];
}

static const struct entry *cat(const struct nc_history *h, size_t i)
{
	return &h->e[(h->head + i) % NC_HISTORY_MAX_REPORTS];
}

/* addReportAndPruneExpired: append (dropping the oldest when full), then
 * drop every report more than NC_HISTORY_MAX_AGE_MS old. Go keeps them in
 * a map, so any report can expire; reports usually come in time order, but
 * a clock that stepped back is handled the same way here. */
static void add_and_prune(struct nc_history *h, const struct nc_report *r, uint64_t now)
{
	const uint64_t max_age = NC_HISTORY_MAX_AGE_MS * NS_MS;
	size_t kept = 0;

	if (h->n == NC_HISTORY_MAX_REPORTS) {
		h->head = (h->head + 1) % NC_HISTORY_MAX_REPORTS;
		h->n--;
	}
	at(h, h->n)->at_ns = now;
	at(h, h->n)->latency = r->latency;
	h->n++;

	for (size_t i = 0; i < h->n; i++) {
		struct entry *e = at(h, i);

		if (now > e->at_ns && now - e->at_ns > max_age)
			continue;
		if (kept != i)
			*at(h, kept) = *e;
		kept++;
	}
	h->n = kept;
}

bool nc_history_best_latency(const struct nc_history *h, uint32_t region_id, uint64_t *ns)
{
	bool found = false;
	uint64_t best = 0, d;

	for (size_t i = 0; i < h->n; i++) {
		if (nc_latencies_get(&cat(h, i)->latency, region_id, &d) && (!found || d < best)) {
			best = d;
			found = true;
		}
	}
	if (found && ns)
		*ns = best;
	return found;
}

static const struct nc_region *region(const struct nc_derpmap *dm, uint32_t id)
{
	if (!dm)
		return NULL;
	for (size_t i = 0; i < dm->n_regions && i < NC_MAX_REGIONS; i++) {
		if (dm->regions[i].id == id)
			return &dm->regions[i];
	}
	return NULL;
}

/* d scaled by the region's home score, as Go's
 * time.Duration(float64(d) * score). */
static uint64_t scaled(const struct nc_derpmap *dm, uint32_t id, uint64_t d)
{
	const struct nc_region *reg = region(dm, id);

	if (!reg || !(reg->home_score > 0))
		return d;
	return (uint64_t)((double)d * reg->home_score);
}

static uint64_t last_heard(const struct nc_home_opts *o, uint32_t region_id)
{
	if (!o || !o->last_derp_activity)
		return 0;
	return o->last_derp_activity(o->arg, region_id);
}

/* Whether t (0 = never) is after the report's start or within window_ms
 * of now. */
static bool heard_recently(uint64_t t, const struct nc_home_opts *o, uint64_t now,
			   uint64_t window_ms)
{
	uint64_t window = window_ms * NS_MS;

	if (t == 0)
		return false;
	if (o && t > o->start_ns)
		return true;
	return now < window || t > now - window;
}

/* Whether t (0 = never) is within window_ms of now. */
static bool heard_within(uint64_t t, uint64_t now, uint64_t window_ms)
{
	uint64_t window = window_ms * NS_MS;

	return t != 0 && (now < window || t > now - window);
}

/* A region whose every node is STUN-only (none is a DERP server). */
static bool stun_only_region(const struct nc_region *r)
{
	for (size_t i = 0; i < r->n_nodes; i++)
		if (!r->nodes[i].stun_only)
			return false;
	return r->n_nodes > 0;
}

void nc_history_add(struct nc_history *h, const struct nc_derpmap *dm, struct nc_report *r,
		    uint64_t now, const struct nc_home_opts *opts)
{
	uint32_t prev = h->home, pref = 0;
	uint64_t best_any = 0, old_cur = 0, prev_heard;
	bool changing, old_reachable, keep_old = false;

	add_and_prune(h, r, now);

	for (size_t i = 0; i < r->latency.n; i++) {
		uint32_t id = r->latency.e[i].region_id;
		const struct nc_region *reg = region(dm, id);
		uint64_t best = 0;

		if (id == prev)
			old_cur = scaled(dm, id, r->latency.e[i].ns);
		/* Never measured by our plans; kept out should one slip in.
		 * A region of STUN-only servers (how a plain STUN server such
		 * as coturn joins the map) has no DERP server to home on. */
		if (reg && (reg->no_measure_no_home || stun_only_region(reg)))
			continue;
		nc_history_best_latency(h, id, &best);
		best = scaled(dm, id, best);
		if (pref == 0 || best < best_any || (best == best_any && id < pref)) {
			best_any = best;
			pref = id;
		}
	}

	changing = prev != 0 && pref != prev;
	prev_heard = last_heard(opts, prev);
	old_reachable = old_cur != 0 ||
			(changing &&
			 heard_recently(prev_heard, opts, now, NC_PREFERRED_DERP_FRAME_TIME_MS));
	if (changing && old_reachable) {
		/* best_any is the lowest best latency, so this is >= 0 unless the
		 * old home has no latency in r (heard from by DERP only). */
		if ((int64_t)(old_cur - best_any) <
		    (int64_t)(NC_PREFERRED_DERP_ABSOLUTE_DIFF_MS * NS_MS))
			keep_old = true;
		/* Not a third faster than the old home. */
		if (best_any > old_cur / 3 * 2)
			keep_old = true;
	}
	if (keep_old)
		pref = prev;

	if (opts && opts->force_region != 0) {
		uint32_t f = opts->force_region;

		if (nc_latencies_get(&r->latency, f, NULL) ||
		    heard_recently(last_heard(opts, f), opts, now, NC_PREFERRED_DERP_FRAME_TIME_MS))
			pref = f;
	}
	if (pref == 0 && heard_within(prev_heard, now, NC_PREFERRED_DERP_KEEPALIVE_TIMEOUT_MS))
		pref = prev;

	r->preferred_derp = pref;
	h->home = pref;
}

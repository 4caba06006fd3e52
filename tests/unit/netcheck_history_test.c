/* netcheck_history_test: report history and the preferred DERP region
 * (services/netcheck/nc_history.h). Every case of Tailscale's
 * TestAddReportHistoryAndSetPreferredDERP (net/netcheck/netcheck_test.go),
 * same steps, same expectations; TestRecentReportsRetainFullNetcheck; then
 * our own: no_measure_no_home, the count limit, ties. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "nc_history.h"

#define MS(x) ((uint64_t)(x)*1000000u)
#define S(x)  ((uint64_t)(x)*1000000000u)

/* Tailscale's startTime, time.Unix(123, 0), as a monotonic time. */
static const uint64_t START = S(123);

struct lat {
	uint32_t region;
	uint64_t ns;
};

struct step {
	uint64_t after;	   /* since the previous step */
	struct lat lat[4]; /* region 0 ends the list */
};

struct score {
	uint32_t region;
	double score;
};

struct activity {
	uint32_t region;
	uint64_t at; /* absolute */
};

struct hcase {
	const char *name;
	struct step steps[6];
	size_t nsteps;
	struct score scores[2];	     /* homeParams.RegionScore; region 0 ends */
	struct activity activity[2]; /* opts.GetLastDERPActivity; region 0 ends */
	uint32_t forced;	     /* forcedDERP */
	uint32_t want_derp;
	size_t want_prev_len;
};

/* derp.KeepAlive and PreferredDERPFrameTime, for the table. */
#define KEEPALIVE  S(60)
#define FRAME_TIME MS(NC_PREFERRED_DERP_FRAME_TIME_MS)

static const struct hcase cases[] = {
	{
		.name = "first_reading",
		.steps = {{0, {{1, S(2)}, {2, S(3)}}}},
		.nsteps = 1,
		.want_prev_len = 1,
		.want_derp = 1,
	},
	{
		.name = "with_two",
		.steps = {{0, {{1, S(2)}, {2, S(3)}}}, {S(1), {{1, S(4)}, {2, S(3)}}}},
		.nsteps = 2,
		.want_prev_len = 2,
		.want_derp = 1, /* t0's d1 of 2 is still best */
	},
	{
		.name = "but_now_d1_gone",
		.steps = {{0, {{1, S(2)}, {2, S(3)}}},
			  {S(1), {{1, S(4)}, {2, S(3)}}},
			  {S(2), {{2, S(3)}}}},
		.nsteps = 3,
		.want_prev_len = 3,
		.want_derp = 2, /* only option */
	},
	{
		.name = "d1_is_back",
		.steps = {{0, {{1, S(2)}, {2, S(3)}}},
			  {S(1), {{1, S(4)}, {2, S(3)}}},
			  {S(2), {{2, S(3)}}},
			  {S(3), {{1, S(4)}, {2, S(3)}}}}, /* same as 2 seconds ago */
		.nsteps = 4,
		.want_prev_len = 4,
		.want_derp = 1, /* t0's d1 of 2 is still best */
	},
	{
		.name = "things_clean_up",
		.steps = {{0, {{1, S(1)}, {2, S(2)}}},
			  {S(1), {{1, S(1)}, {2, S(2)}}},
			  {S(2), {{1, S(1)}, {2, S(2)}}},
			  {S(3), {{1, S(1)}, {2, S(2)}}},
			  {S(10 * 60), {{3, S(3)}}}},
		.nsteps = 5,
		.want_prev_len = 1, /* t=[0123]s all gone (too old) */
		.want_derp = 3,	    /* only option */
	},
	{
		.name = "preferred_derp_hysteresis_no_switch",
		.steps = {{0, {{1, S(4)}, {2, S(5)}}}, {S(1), {{1, S(4)}, {2, S(3)}}}},
		.nsteps = 2,
		.want_prev_len = 2,
		.want_derp = 1, /* 2 didn't get fast enough */
	},
	{
		.name = "preferred_derp_hysteresis_no_switch_absolute",
		.steps = {{0, {{1, MS(4)}, {2, MS(5)}}}, {S(1), {{1, MS(4)}, {2, MS(1)}}}},
		.nsteps = 2,
		.want_prev_len = 2,
		.want_derp = 1, /* 2 is 50%+ faster, but the absolute diff is <10ms */
	},
	{
		.name = "preferred_derp_hysteresis_do_switch",
		.steps = {{0, {{1, S(4)}, {2, S(5)}}}, {S(1), {{1, S(4)}, {2, S(1)}}}},
		.nsteps = 2,
		.want_prev_len = 2,
		.want_derp = 2, /* 2 got fast enough */
	},
	{
		.name = "derp_home_params",
		.scores = {{1, 2.0 / 3}},
		.steps = {{S(1), {{1, S(10)}, {2, S(8)}}}},
		.nsteps = 1,
		.want_prev_len = 1,
		.want_derp = 1, /* 2 was faster, but not by 50%+ */
	},
	{
		.name = "derp_home_params_high_latency",
		.scores = {{1, 2.0 / 3}},
		.steps = {{S(1), {{1, S(100)}, {2, S(10)}}}},
		.nsteps = 1,
		.want_prev_len = 1,
		.want_derp = 2, /* 2 was faster by more than 50% */
	},
	{
		.name = "derp_home_params_invalid",
		.scores = {{1, 0.0}, {2, -1.0}},
		.steps = {{S(1), {{1, S(4)}, {2, S(5)}}}},
		.nsteps = 1,
		.want_prev_len = 1,
		.want_derp = 1,
	},
	{
		.name = "saw_derp_traffic",
		.steps = {{0, {{1, S(2)}, {2, S(3)}}},	  /* (1) initially pick d1 */
			  {S(2), {{1, S(4)}, {2, S(3)}}}, /* (2) still d1 */
			  {S(2), {{2, S(3)}}}},		  /* (3) d1 gone, but have traffic */
		.nsteps = 3,
		/* within the active window of step (3) */
		.activity = {{1, START + S(2) + FRAME_TIME / 2}},
		.want_prev_len = 3,
		.want_derp = 1, /* still on 1 since we got traffic from it */
	},
	{
		.name = "saw_derp_traffic_history",
		.steps = {{0, {{1, S(2)}, {2, S(3)}}},
			  {S(2), {{1, S(4)}, {2, S(3)}}},
			  {S(2), {{2, S(3)}}}},
		.nsteps = 3,
		/* not within the active window of (3) */
		.activity = {{1, START + S(4) - FRAME_TIME - 1}},
		.want_prev_len = 3,
		.want_derp = 2, /* moved to d2 since d1 is gone */
	},
	{
		.name = "preferred_derp_hysteresis_no_switch_pct",
		.steps = {{0, {{1, MS(34)}, {2, MS(35)}}}, {S(1), {{1, MS(34)}, {2, MS(23)}}}},
		.nsteps = 2,
		.want_prev_len = 2,
		.want_derp = 1, /* diff is 11ms, but d2 is greater than 2/3s of d1 */
	},
	{
		.name = "forced_two",
		.steps = {{S(1), {{1, S(2)}, {2, S(3)}}}, {S(2), {{1, S(4)}, {2, S(3)}}}},
		.nsteps = 2,
		.forced = 2,
		.want_prev_len = 2,
		.want_derp = 2,
	},
	{
		.name = "forced_two_unavailable",
		.steps = {{S(1), {{1, S(2)}, {2, S(1)}}}, {S(2), {{1, S(4)}}}},
		.nsteps = 2,
		.forced = 2,
		.want_prev_len = 2,
		.want_derp = 1,
	},
	{
		.name = "forced_two_no_probe_recent_activity",
		.steps = {{S(1), {{1, S(2)}}}, {S(2), {{1, S(4)}}}},
		.nsteps = 2,
		.activity = {{1, START}, {2, START + S(1)}},
		.forced = 2,
		.want_prev_len = 2,
		.want_derp = 2,
	},
	{
		.name = "forced_two_no_probe_no_recent_activity",
		.steps = {{S(1), {{1, S(2)}}}, {FRAME_TIME + S(1), {{1, S(4)}}}},
		.nsteps = 2,
		.activity = {{1, START}, {2, START}},
		.forced = 2,
		.want_prev_len = 2,
		.want_derp = 1,
	},
	{
		.name = "no_data_keep_home",
		.steps = {{0, {{1, S(2)}, {2, S(3)}}},
			  {S(30), {{0}}},
			  {S(2), {{0}}},
			  {S(2), {{0}}},
			  {S(2), {{0}}},
			  {S(2), {{0}}}},
		.nsteps = 6,
		.activity = {{1, START}},
		.want_prev_len = 6,
		.want_derp = 1,
	},
	{
		.name = "no_data_home_expires",
		.steps = {{0, {{1, S(2)}, {2, S(3)}}}, {S(30), {{0}}}, {2 * KEEPALIVE, {{0}}}},
		.nsteps = 3,
		.activity = {{1, START}},
		.want_prev_len = 3,
		.want_derp = 0,
	},
};

static uint64_t case_activity(void *arg, uint32_t region)
{
	const struct hcase *c = arg;

	for (size_t i = 0; i < 2 && c->activity[i].region != 0; i++) {
		if (c->activity[i].region == region)
			return c->activity[i].at;
	}
	return 0; /* Go's zero time: never */
}

static void run_case(const struct hcase *c)
{
	static struct nc_derpmap dm;
	static struct nc_report r;
	struct nc_history *h = nc_history_new();
	struct nc_home_opts opts = {
		.force_region = c->forced,
		.last_derp_activity = case_activity,
		.arg = (void *)c,
	};
	uint64_t now = START;

	assert_non_null(h);
	/* Tailscale's test map has no regions, only HomeParams; our scores
	 * live on the regions. */
	memset(&dm, 0, sizeof(dm));
	for (uint32_t id = 1; id <= 3; id++)
		dm.regions[dm.n_regions++].id = id;
	for (size_t i = 0; i < 2 && c->scores[i].region != 0; i++)
		dm.regions[c->scores[i].region - 1].home_score = c->scores[i].score;

	for (size_t s = 0; s < c->nsteps; s++) {
		const struct step *st = &c->steps[s];

		nc_report_init(&r);
		for (size_t i = 0; i < 4 && st->lat[i].region != 0; i++)
			assert_int_equal(
				nc_latencies_update(&r.latency, st->lat[i].region, st->lat[i].ns),
				0);
		now += st->after;
		opts.start_ns = now - MS(100);
		nc_history_add(h, &dm, &r, now, &opts);
	}
	if (nc_history_len(h) != c->want_prev_len || r.preferred_derp != c->want_derp) {
		print_error("%s: len(prev) = %zu, want %zu; PreferredDERP = %u, want %u\n", c->name,
			    nc_history_len(h), c->want_prev_len, r.preferred_derp, c->want_derp);
		nc_history_free(h);
		fail();
	}
	assert_int_equal(nc_history_home(h), c->want_derp);
	nc_history_free(h);
}

static void test_add_report_history_and_set_preferred_derp(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/* TestRecentReportsRetainFullNetcheck: one report a minute for an hour,
 * full every 5 minutes (all three regions), else incremental (1 and 2):
 * the history always covers region 3. */
static void test_recent_reports_retain_full_netcheck(void **state)
{
	static struct nc_derpmap dm;
	static struct nc_report r;
	struct nc_history *h = nc_history_new();
	const uint64_t start = S(1700000000);
	uint64_t last_full = 0;
	bool never_full = true;

	(void)state;
	assert_non_null(h);
	memset(&dm, 0, sizeof(dm));
	for (uint32_t id = 1; id <= 3; id++)
		dm.regions[dm.n_regions++].id = id;
	for (uint64_t i = 0; i < 60; i++) {
		uint64_t now = start + i * S(60);
		/* GetReport's choice; the zero lastFull makes the first full. */
		bool full = never_full || now - last_full > MS(NC_FULL_REPORT_INTERVAL_MS);
		struct nc_home_opts opts = {.start_ns = now};

		nc_report_init(&r);
		for (uint32_t id = 1; id <= (full ? 3u : 2u); id++)
			nc_latencies_update(&r.latency, id, MS(10));
		if (full) {
			last_full = now;
			never_full = false;
		}
		nc_history_add(h, &dm, &r, now, &opts);
		for (uint32_t id = 1; id <= 3; id++) {
			uint64_t ns = 0;

			if (!nc_history_best_latency(h, id, &ns)) {
				print_error("after report %u: region %u missing\n", (unsigned)i,
					    id);
				fail();
			}
			assert_int_equal(ns, MS(10));
		}
	}
	nc_history_free(h);
}

/* ---- ours ---- */

static void add(struct nc_history *h, const struct nc_derpmap *dm, uint64_t now,
		const struct lat *lat, size_t n, uint32_t want)
{
	static struct nc_report r;
	struct nc_home_opts opts = {.start_ns = now - MS(100)};

	nc_report_init(&r);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(nc_latencies_update(&r.latency, lat[i].region, lat[i].ns), 0);
	nc_history_add(h, dm, &r, now, &opts);
	assert_int_equal(r.preferred_derp, want);
}

/* A no_measure_no_home region is never home, even fastest (our plans never
 * measure it; this is the guard should a latency slip in). avoid is not a
 * bar to home, as in Tailscale. */
static void test_no_measure_no_home_never_home(void **state)
{
	static struct nc_derpmap dm;
	struct nc_history *h = nc_history_new();
	const struct lat lat[] = {{1, MS(5)}, {2, MS(50)}, {3, MS(40)}};

	(void)state;
	memset(&dm, 0, sizeof(dm));
	for (uint32_t id = 1; id <= 3; id++)
		dm.regions[dm.n_regions++].id = id;
	dm.regions[0].no_measure_no_home = true;
	dm.regions[2].avoid = true;
	add(h, &dm, START, lat, 3, 3);
	nc_history_free(h);
}

/* A region whose nodes are all STUN-only (a plain STUN server such as
 * coturn in the map) is measured but has no DERP server to be home on,
 * even when fastest; a region with one DERP node among STUN-only ones can. */
static void test_stun_only_region_never_home(void **state)
{
	static struct nc_derpmap dm;
	struct nc_history *h = nc_history_new();
	const struct lat lat[] = {{1, MS(30)}, {2, MS(2)}, {3, MS(20)}};

	(void)state;
	memset(&dm, 0, sizeof(dm));
	for (uint32_t id = 1; id <= 3; id++)
		dm.regions[dm.n_regions++].id = id;
	dm.regions[0].n_nodes = 1; /* a DERP node */
	dm.regions[1].n_nodes = 2; /* STUN only */
	dm.regions[1].nodes[0].stun_only = true;
	dm.regions[1].nodes[1].stun_only = true;
	dm.regions[2].n_nodes = 2; /* mixed */
	dm.regions[2].nodes[0].stun_only = true;
	add(h, &dm, START, lat, 3, 3);
	nc_history_free(h);
}

/* Equal latencies: the lower region ID (Go leaves it to map order). */
static void test_tie_goes_to_lower_region(void **state)
{
	struct nc_history *h = nc_history_new();
	const struct lat lat[] = {{9, MS(20)}, {4, MS(20)}, {7, MS(20)}};

	(void)state;
	add(h, NULL, START, lat, 3, 4);
	nc_history_free(h);
}

/* Past NC_HISTORY_MAX_REPORTS the oldest report goes first, age or not. */
static void test_count_limit(void **state)
{
	struct nc_history *h = nc_history_new();
	const struct lat fast = {1, MS(1)}, slow = {1, MS(50)};
	uint64_t best = 0;

	(void)state;
	add(h, NULL, START, &fast, 1, 1);
	for (size_t i = 1; i < NC_HISTORY_MAX_REPORTS; i++)
		add(h, NULL, START + i * MS(10), &slow, 1, 1);
	assert_int_equal(nc_history_len(h), NC_HISTORY_MAX_REPORTS);
	assert_true(nc_history_best_latency(h, 1, &best));
	assert_int_equal(best, MS(1));
	add(h, NULL, START + S(1), &slow, 1, 1);
	assert_int_equal(nc_history_len(h), NC_HISTORY_MAX_REPORTS);
	assert_true(nc_history_best_latency(h, 1, &best));
	assert_int_equal(best, MS(50));
	assert_false(nc_history_best_latency(h, 2, &best));
	nc_history_free(h);
}

/* Exactly NC_HISTORY_MAX_AGE_MS old stays (Go prunes only what is older). */
static void test_max_age_boundary(void **state)
{
	struct nc_history *h = nc_history_new();
	const struct lat l = {1, MS(10)};

	(void)state;
	add(h, NULL, START, &l, 1, 1);
	add(h, NULL, START + MS(NC_HISTORY_MAX_AGE_MS), &l, 1, 1);
	assert_int_equal(nc_history_len(h), 2);
	add(h, NULL, START + MS(NC_HISTORY_MAX_AGE_MS) + 1, &l, 1, 1);
	assert_int_equal(nc_history_len(h), 2);
	nc_history_free(h);
}

/* No options at all: no forced region, no DERP activity known. */
static void test_null_opts(void **state)
{
	static struct nc_report r;
	struct nc_history *h = nc_history_new();

	(void)state;
	nc_report_init(&r);
	nc_latencies_update(&r.latency, 5, MS(10));
	nc_history_add(h, NULL, &r, MS(1), NULL);
	assert_int_equal(r.preferred_derp, 5);
	nc_report_init(&r);
	nc_history_add(h, NULL, &r, MS(2), NULL);
	assert_int_equal(r.preferred_derp, 0);
	nc_history_free(h);
	nc_history_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_report_history_and_set_preferred_derp),
		cmocka_unit_test(test_recent_reports_retain_full_netcheck),
		cmocka_unit_test(test_no_measure_no_home_never_home),
		cmocka_unit_test(test_stun_only_region_never_home),
		cmocka_unit_test(test_tie_goes_to_lower_region),
		cmocka_unit_test(test_count_limit),
		cmocka_unit_test(test_max_age_boundary),
		cmocka_unit_test(test_null_opts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

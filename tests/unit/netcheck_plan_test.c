/* netcheck_plan_test: the probe plan (services/netcheck/nc_plan.h). Every
 * case of Tailscale's TestMakeProbePlan (net/netcheck/netcheck_test.go),
 * same inputs and same expected plan, delays included, written in the
 * notation of its probePlan.String; TestSortRegions; then our own cases:
 * STUN-only nodes, "none" families, avoid regions, test nodes, node
 * addresses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nc_plan.h"

#define MS(x) ((uint64_t)(x)*1000000u)

enum { PLAN_TEXT_MAX = 4096 };

static struct nc_derpmap basic_map;
static struct nc_plan plan;

/* Tailscale's basicMap: regions 1..6, region N has N nodes named "Na",
 * "Nb", ... with IPv4 N.0.0.i and IPv6 N::i; region 6 is NoMeasureNoHome. */
static void make_basic_map(struct nc_derpmap *dm)
{
	memset(dm, 0, sizeof(*dm));
	for (uint32_t rid = 1; rid <= 6; rid++) {
		struct nc_region *reg = &dm->regions[dm->n_regions++];

		reg->id = rid;
		reg->no_measure_no_home = rid == 6;
		for (uint32_t nid = 0; nid < rid; nid++) {
			struct nc_node *n = &reg->nodes[reg->n_nodes++];

			snprintf(n->name, sizeof(n->name), "%u%c", rid, 'a' + nid);
			snprintf(n->ipv4, sizeof(n->ipv4), "%u.0.0.%u", rid, nid);
			snprintf(n->ipv6, sizeof(n->ipv6), "%u::%u", rid, nid);
		}
	}
}

static void set_latency(struct nc_latencies *l, uint32_t region, uint64_t ms)
{
	assert_int_equal(nc_latencies_update(l, region, MS(ms)), 0);
}

/* A Go time.Duration as String() prints the ones in these tables. */
static void fmt_ms(char *buf, size_t cap, uint64_t ns)
{
	if (ns % MS(1) == 0)
		snprintf(buf, cap, "%llums", (unsigned long long)(ns / MS(1)));
	else
		snprintf(buf, cap, "%lluns", (unsigned long long)ns);
}

static int cmp_lines(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The plan as Tailscale's probePlan.String prints it: one line per set,
 * sorted by key, "[region-1-v4] 1a-v4 1a-v4@12ms". */
static void plan_text(const struct nc_derpmap *dm, const struct nc_plan *p, char *out, size_t cap)
{
	static char lines[NC_PLAN_MAX_SETS][256];
	const char *sorted[NC_PLAN_MAX_SETS];

	for (size_t i = 0; i < p->n; i++) {
		const struct nc_probe_set *s = &p->sets[i];
		const char *fam = s->family == NC_V4 ? "v4" : "v6";
		size_t len = (size_t)snprintf(lines[i], sizeof(lines[i]), "[region-%u-%s]",
					      s->region_id, fam);

		assert_true(s->n > 0);
		for (size_t j = 0; j < s->n; j++) {
			const struct nc_probe *pr = &s->probes[j];
			const struct nc_node *node = nc_probe_node(dm, pr);
			char delay[32] = "";

			assert_non_null(node);
			assert_int_equal(pr->region_id, s->region_id);
			assert_int_equal(pr->family, s->family);
			assert_int_equal(pr->wait_ns, 0);
			if (pr->delay_ns > 0) {
				delay[0] = '@';
				fmt_ms(delay + 1, sizeof(delay) - 1, pr->delay_ns);
			}
			len += (size_t)snprintf(lines[i] + len, sizeof(lines[i]) - len, " %s-%s%s",
						node->name, fam, delay);
			assert_true(len < sizeof(lines[i]));
		}
		sorted[i] = lines[i];
	}
	qsort(sorted, p->n, sizeof(sorted[0]), cmp_lines);
	out[0] = '\0';
	for (size_t i = 0; i < p->n; i++) {
		strncat(out, sorted[i], cap - strlen(out) - 1);
		strncat(out, "\n", cap - strlen(out) - 1);
	}
}

static void expect_plan(const struct nc_derpmap *dm, const struct nc_plan *p, const char *want)
{
	static char got[PLAN_TEXT_MAX];

	plan_text(dm, p, got, sizeof(got));
	if (strcmp(got, want) != 0) {
		print_error("plan:\n%s\nwant:\n%s\n", got, want);
		fail();
	}
}

/* One case of TestMakeProbePlan: ifState is {HaveV6: have6if, HaveV4: !no4};
 * preferredDERP comes from last. */
static void run_case(bool have6if, bool no4, const struct nc_report *last, const char *want)
{
	nc_plan_make(&basic_map, !no4, have6if, last, last ? last->preferred_derp : 0, &plan);
	expect_plan(&basic_map, &plan, want);
}

/* ---- TestMakeProbePlan ---- */

static void test_initial_v6(void **state)
{
	(void)state;
	run_case(true, false, NULL,
		 "[region-1-v4] 1a-v4 1a-v4@100ms 1a-v4@200ms\n"
		 "[region-1-v6] 1a-v6 1a-v6@100ms 1a-v6@200ms\n"
		 "[region-2-v4] 2a-v4 2b-v4@100ms 2a-v4@200ms\n"
		 "[region-2-v6] 2a-v6 2b-v6@100ms 2a-v6@200ms\n"
		 "[region-3-v4] 3a-v4 3b-v4@100ms 3c-v4@200ms\n"
		 "[region-3-v6] 3a-v6 3b-v6@100ms 3c-v6@200ms\n"
		 "[region-4-v4] 4a-v4 4b-v4@100ms 4c-v4@200ms\n"
		 "[region-4-v6] 4a-v6 4b-v6@100ms 4c-v6@200ms\n"
		 "[region-5-v4] 5a-v4 5b-v4@100ms 5c-v4@200ms\n"
		 "[region-5-v6] 5a-v6 5b-v6@100ms 5c-v6@200ms\n");
}

static void test_initial_no_v6(void **state)
{
	(void)state;
	run_case(false, false, NULL,
		 "[region-1-v4] 1a-v4 1a-v4@100ms 1a-v4@200ms\n"
		 "[region-2-v4] 2a-v4 2b-v4@100ms 2a-v4@200ms\n"
		 "[region-3-v4] 3a-v4 3b-v4@100ms 3c-v4@200ms\n"
		 "[region-4-v4] 4a-v4 4b-v4@100ms 4c-v4@200ms\n"
		 "[region-5-v4] 5a-v4 5b-v4@100ms 5c-v4@200ms\n");
}

/* Latencies 10, 20, 30, 40 ms for regions 1-4 (5 missing), all IPv4. */
static void last_v4_only(struct nc_report *r)
{
	nc_report_init(r);
	for (uint32_t i = 1; i <= 4; i++) {
		set_latency(&r->latency, i, 10 * i);
		set_latency(&r->v4_latency, i, 10 * i);
	}
}

/* The same latencies, 1-2 over IPv4 and 3-4 over IPv6. */
static void last_mixed(struct nc_report *r, uint64_t region1_ms)
{
	nc_report_init(r);
	set_latency(&r->latency, 1, region1_ms);
	set_latency(&r->latency, 2, 20);
	set_latency(&r->latency, 3, 30);
	set_latency(&r->latency, 4, 40);
	set_latency(&r->v4_latency, 1, region1_ms);
	set_latency(&r->v4_latency, 2, 20);
	set_latency(&r->v6_latency, 3, 30);
	set_latency(&r->v6_latency, 4, 40);
}

static void test_second_v4_no_6if(void **state)
{
	static struct nc_report last;

	(void)state;
	last_v4_only(&last);
	run_case(false, false, &last,
		 "[region-1-v4] 1a-v4 1a-v4@12ms\n"
		 "[region-2-v4] 2a-v4 2b-v4@24ms\n"
		 "[region-3-v4] 3a-v4\n");
}

static void test_second_v4_only_with_6if(void **state)
{
	static struct nc_report last;

	(void)state;
	last_v4_only(&last);
	run_case(true, false, &last,
		 "[region-1-v4] 1a-v4 1a-v4@12ms\n"
		 "[region-1-v6] 1a-v6\n"
		 "[region-2-v4] 2a-v4 2b-v4@24ms\n"
		 "[region-2-v6] 2a-v6\n"
		 "[region-3-v4] 3a-v4\n");
}

static void test_second_mixed(void **state)
{
	static struct nc_report last;

	(void)state;
	last_mixed(&last, 10);
	run_case(true, false, &last,
		 "[region-1-v4] 1a-v4 1a-v4@12ms\n"
		 "[region-1-v6] 1a-v6 1a-v6@12ms\n"
		 "[region-2-v4] 2a-v4 2b-v4@24ms\n"
		 "[region-2-v6] 2a-v6 2b-v6@24ms\n"
		 "[region-3-v4] 3a-v4\n");
}

static void test_only_v6_initial(void **state)
{
	(void)state;
	run_case(true, true, NULL,
		 "[region-1-v6] 1a-v6 1a-v6@100ms 1a-v6@200ms\n"
		 "[region-2-v6] 2a-v6 2b-v6@100ms 2a-v6@200ms\n"
		 "[region-3-v6] 3a-v6 3b-v6@100ms 3c-v6@200ms\n"
		 "[region-4-v6] 4a-v6 4b-v6@100ms 4c-v6@200ms\n"
		 "[region-5-v6] 5a-v6 5b-v6@100ms 5c-v6@200ms\n");
}

static void test_try_harder_for_preferred_derp(void **state)
{
	static struct nc_report last;

	(void)state;
	last_mixed(&last, 10);
	last.preferred_derp = 1;
	run_case(true, false, &last,
		 "[region-1-v4] 1a-v4 1a-v4@12ms 1a-v4@124ms 1a-v4@186ms\n"
		 "[region-1-v6] 1a-v6 1a-v6@12ms 1a-v6@124ms 1a-v6@186ms\n"
		 "[region-2-v4] 2a-v4 2b-v4@24ms\n"
		 "[region-2-v6] 2a-v6 2b-v6@24ms\n"
		 "[region-3-v4] 3a-v4\n");
}

/* Tailscale #13969: the home region is probed even when it is not among
 * the three fastest of the last report. */
static void test_ensure_home_region_inclusion(void **state)
{
	static struct nc_report last;

	(void)state;
	last_mixed(&last, 50);
	last.preferred_derp = 1;
	run_case(true, false, &last,
		 "[region-1-v4] 1a-v4 1a-v4@60ms 1a-v4@220ms 1a-v4@330ms\n"
		 "[region-1-v6] 1a-v6 1a-v6@60ms 1a-v6@220ms 1a-v6@330ms\n"
		 "[region-2-v4] 2a-v4 2b-v4@24ms\n"
		 "[region-2-v6] 2a-v6 2b-v6@24ms\n"
		 "[region-3-v4] 3a-v4 3b-v4@36ms\n"
		 "[region-3-v6] 3a-v6 3b-v6@36ms\n"
		 "[region-4-v4] 4a-v4\n");
}

/* ---- TestSortRegions ---- */

static void test_sort_regions(void **state)
{
	static struct nc_derpmap dm;
	static struct nc_report last;
	static const uint32_t want[] = {5, 2, 1, 3, 4};
	static const uint64_t lat_s[] = {5, 3, 6, 0, 2}; /* regions 1..5 */
	uint16_t idx[NC_MAX_REGIONS];
	size_t n;

	(void)state;
	memset(&dm, 0, sizeof(dm));
	nc_report_init(&last);
	for (uint32_t rid = 1; rid <= 5; rid++) {
		struct nc_region *reg = &dm.regions[dm.n_regions++];

		reg->id = rid;
		reg->n_nodes = 1;
		snprintf(reg->nodes[0].name, NC_NAME_MAX, "%ua", rid);
		snprintf(reg->nodes[0].ipv4, NC_IP_TEXT_MAX, "%u.0.0.1", rid);
		snprintf(reg->nodes[0].ipv6, NC_IP_TEXT_MAX, "%u::1", rid);
		/* Region 4 has a latency of 0: it sorts last, as a missing one. */
		set_latency(&last.latency, rid, lat_s[rid - 1] * 1000);
	}
	n = nc_sort_regions(&dm, &last, 0, idx);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(dm.regions[idx[i]].id, want[i]);
}

/* ---- ours ---- */

/* The plan does not depend on the order of the map's regions (Go's map has
 * none; ties there fall to chance, here to the lower region ID). */
static void test_map_order_irrelevant(void **state)
{
	static struct nc_derpmap rev;
	static struct nc_report last;
	static char a[PLAN_TEXT_MAX], b[PLAN_TEXT_MAX];

	(void)state;
	memset(&rev, 0, sizeof(rev));
	for (size_t i = 0; i < basic_map.n_regions; i++)
		rev.regions[i] = basic_map.regions[basic_map.n_regions - 1 - i];
	rev.n_regions = basic_map.n_regions;

	nc_plan_make(&basic_map, true, true, NULL, 0, &plan);
	plan_text(&basic_map, &plan, a, sizeof(a));
	nc_plan_make(&rev, true, true, NULL, 0, &plan);
	plan_text(&rev, &plan, b, sizeof(b));
	assert_string_equal(a, b);

	/* Only region 1 measured: the other two picks tie at "no latency". */
	nc_report_init(&last);
	set_latency(&last.latency, 1, 10);
	set_latency(&last.v4_latency, 1, 10);
	nc_plan_make(&rev, true, false, &last, 0, &plan);
	expect_plan(&rev, &plan,
		    "[region-1-v4] 1a-v4 1a-v4@12ms\n"
		    "[region-2-v4] 2a-v4 2b-v4@200ms\n"
		    "[region-3-v4] 3a-v4\n");
}

/* A plain STUN server (coturn in the lab) is a region of STUN-only nodes:
 * it is probed like any other. */
static void test_stun_only_node(void **state)
{
	static struct nc_derpmap dm;
	static struct nc_report last;
	struct nc_region *reg = &dm.regions[0];

	(void)state;
	memset(&dm, 0, sizeof(dm));
	dm.n_regions = 1;
	reg->id = 900;
	reg->n_nodes = 1;
	strcpy(reg->nodes[0].name, "coturn");
	strcpy(reg->nodes[0].ipv4, "198.18.0.3");
	strcpy(reg->nodes[0].ipv6, "none");
	reg->nodes[0].stun_only = true;

	nc_plan_make(&dm, true, true, NULL, 0, &plan);
	expect_plan(&dm, &plan, "[region-900-v4] coturn-v4 coturn-v4@100ms coturn-v4@200ms\n");

	nc_report_init(&last);
	set_latency(&last.latency, 900, 5);
	set_latency(&last.v4_latency, 900, 5);
	nc_plan_make(&dm, true, true, &last, 900, &plan);
	expect_plan(&dm, &plan,
		    "[region-900-v4] coturn-v4 coturn-v4@6ms coturn-v4@112ms coturn-v4@168ms\n");
}

/* "none" turns a family off; a literal of the other family does too in the
 * full plan (nodeMight4/6); "" (DNS) leaves it on. */
static void test_node_families(void **state)
{
	static struct nc_derpmap dm;
	struct nc_region *reg = &dm.regions[0];

	(void)state;
	memset(&dm, 0, sizeof(dm));
	dm.n_regions = 1;
	reg->id = 7;
	reg->n_nodes = 3;
	strcpy(reg->nodes[0].name, "7a"); /* v4 only */
	strcpy(reg->nodes[0].ipv4, "10.0.0.1");
	strcpy(reg->nodes[0].ipv6, "none");
	strcpy(reg->nodes[1].name, "7b"); /* v6 only: its "IPv4" is an IPv6 literal */
	strcpy(reg->nodes[1].ipv4, "fd00::1");
	strcpy(reg->nodes[1].ipv6, "fd00::2");
	strcpy(reg->nodes[2].name, "7c"); /* both, by DNS */

	nc_plan_make(&dm, true, true, NULL, 0, &plan);
	expect_plan(&dm, &plan,
		    "[region-7-v4] 7a-v4 7c-v4@200ms\n"
		    "[region-7-v6] 7b-v6@100ms 7c-v6@200ms\n");
}

/* avoid (deprecated in Tailscale): still in the full plan, out of the
 * incremental one unless it is home. */
static void test_avoid_region(void **state)
{
	static struct nc_derpmap dm;
	static struct nc_report last;

	(void)state;
	dm = basic_map;
	dm.regions[0].avoid = true; /* region 1 */
	nc_report_init(&last);
	for (uint32_t i = 1; i <= 4; i++) {
		set_latency(&last.latency, i, 10 * i);
		set_latency(&last.v4_latency, i, 10 * i);
	}

	nc_plan_make(&dm, true, false, NULL, 0, &plan);
	assert_non_null(nc_plan_find(&plan, 1, NC_V4));
	assert_null(nc_plan_find(&plan, 6, NC_V4));

	nc_plan_make(&dm, true, false, &last, 0, &plan);
	expect_plan(&dm, &plan,
		    "[region-2-v4] 2a-v4 2b-v4@24ms\n"
		    "[region-3-v4] 3a-v4 3b-v4@36ms\n"
		    "[region-4-v4] 4a-v4\n");

	nc_plan_make(&dm, true, false, &last, 1, &plan);
	expect_plan(&dm, &plan,
		    "[region-1-v4] 1a-v4 1a-v4@12ms 1a-v4@124ms 1a-v4@186ms\n"
		    "[region-2-v4] 2a-v4 2b-v4@24ms\n"
		    "[region-3-v4] 3a-v4\n");
}

/* A test node (IPv4 127.0.0.1 or a STUN test IP) is probed over both
 * families whatever the interfaces have, as in Tailscale's tests. */
static void test_test_node(void **state)
{
	static struct nc_derpmap dm;
	struct nc_region *reg = &dm.regions[0];
	struct ipport a;

	(void)state;
	memset(&dm, 0, sizeof(dm));
	dm.n_regions = 1;
	reg->id = 1;
	reg->n_nodes = 1;
	strcpy(reg->nodes[0].name, "1a");
	strcpy(reg->nodes[0].ipv4, "127.0.0.1");
	strcpy(reg->nodes[0].ipv6, "none");
	reg->nodes[0].stun_port = 34567;
	assert_true(nc_node_is_test(&reg->nodes[0]));

	nc_plan_make(&dm, false, false, NULL, 0, &plan);
	expect_plan(&dm, &plan, "[region-1-v4] 1a-v4 1a-v4@100ms 1a-v4@200ms\n");
	assert_int_equal(nc_node_stun_addr(&reg->nodes[0], NC_V4, &a), 0);
	assert_int_equal(a.port, 34567);
	assert_int_equal(nc_node_stun_addr(&reg->nodes[0], NC_V6, &a), -EINVAL);
}

static void test_no_nodes_or_interfaces(void **state)
{
	static struct nc_derpmap dm;
	static struct nc_report last;

	(void)state;
	dm = basic_map;
	dm.regions[1].n_nodes = 0; /* region 2 */
	nc_plan_make(&dm, true, false, NULL, 0, &plan);
	assert_null(nc_plan_find(&plan, 2, NC_V4));
	assert_int_equal(plan.n, 4);

	/* No interface address at all: nothing to probe. */
	nc_plan_make(&basic_map, false, false, NULL, 0, &plan);
	assert_int_equal(plan.n, 0);
	last_v4_only(&last);
	nc_plan_make(&basic_map, false, false, &last, 0, &plan);
	assert_int_equal(plan.n, 0);

	/* A last report without latencies gives the full plan. */
	nc_report_init(&last);
	nc_plan_make(&basic_map, true, false, &last, 0, &plan);
	assert_int_equal(plan.n, 5);
}

static void test_node_stun_addr(void **state)
{
	struct nc_node n;
	struct ipport a, want;

	(void)state;
	memset(&n, 0, sizeof(n));
	strcpy(n.ipv4, "192.0.2.9");
	strcpy(n.ipv6, "2001:db8::9");
	assert_int_equal(nc_node_stun_addr(&n, NC_V4, &a), 0);
	assert_int_equal(ipport_parse("192.0.2.9:3478", &want), 0);
	assert_true(ipport_equal(&a, &want));
	assert_int_equal(nc_node_stun_addr(&n, NC_V6, &a), 0);
	assert_int_equal(ipport_parse("[2001:db8::9]:3478", &want), 0);
	assert_true(ipport_equal(&a, &want));

	n.stun_port = 3479;
	assert_int_equal(nc_node_stun_addr(&n, NC_V4, &a), 0);
	assert_int_equal(a.port, 3479);
	n.stun_port = -1;
	assert_int_equal(nc_node_stun_addr(&n, NC_V4, &a), -EINVAL);
	n.stun_port = 65536;
	assert_int_equal(nc_node_stun_addr(&n, NC_V4, &a), -EINVAL);
	n.stun_port = 0;

	strcpy(n.ipv4, "none");
	assert_int_equal(nc_node_stun_addr(&n, NC_V4, &a), -EINVAL);
	strcpy(n.ipv4, "2001:db8::1");
	assert_int_equal(nc_node_stun_addr(&n, NC_V4, &a), -EINVAL);
	strcpy(n.ipv4, "");
	assert_int_equal(nc_node_stun_addr(&n, NC_V4, &a), -ENOENT);

	/* The STUN test IP overrides both, within its family. */
	strcpy(n.stun_test_ip, "127.0.0.1");
	assert_int_equal(nc_node_stun_addr(&n, NC_V4, &a), 0);
	assert_int_equal(ipport_parse("127.0.0.1:3478", &want), 0);
	assert_true(ipport_equal(&a, &want));
	assert_int_equal(nc_node_stun_addr(&n, NC_V6, &a), -EINVAL);
	assert_int_equal(nc_node_stun_addr(&n, NC_FAMILY_INVALID, &a), -EINVAL);
}

static void test_probe_node_bounds(void **state)
{
	struct nc_probe p = {.region_id = 3, .region_idx = 2, .node_idx = 2};

	(void)state;
	assert_string_equal(nc_probe_node(&basic_map, &p)->name, "3c");
	p.node_idx = 3;
	assert_null(nc_probe_node(&basic_map, &p));
	p.node_idx = 0;
	p.region_id = 4; /* index and ID disagree: a plan of another map */
	assert_null(nc_probe_node(&basic_map, &p));
	p.region_idx = NC_MAX_REGIONS;
	assert_null(nc_probe_node(&basic_map, &p));
}

static int setup(void **state)
{
	(void)state;
	make_basic_map(&basic_map);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial_v6),
		cmocka_unit_test(test_initial_no_v6),
		cmocka_unit_test(test_second_v4_no_6if),
		cmocka_unit_test(test_second_v4_only_with_6if),
		cmocka_unit_test(test_second_mixed),
		cmocka_unit_test(test_only_v6_initial),
		cmocka_unit_test(test_try_harder_for_preferred_derp),
		cmocka_unit_test(test_ensure_home_region_inclusion),
		cmocka_unit_test(test_sort_regions),
		cmocka_unit_test(test_map_order_irrelevant),
		cmocka_unit_test(test_stun_only_node),
		cmocka_unit_test(test_node_families),
		cmocka_unit_test(test_avoid_region),
		cmocka_unit_test(test_test_node),
		cmocka_unit_test(test_no_nodes_or_interfaces),
		cmocka_unit_test(test_node_stun_addr),
		cmocka_unit_test(test_probe_node_bounds),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}

/* netcheck_report_test: folding STUN answers into a report
 * (services/netcheck/nc_report.h): mapping varies by destination (hard
 * NAT) or not, global addresses, latencies, when enough regions answered,
 * which probes would still help; Tailscale's TestMultiGlobalAddressMapping
 * and every case of TestRegionLatencyCompare (net/netcheck/netcheck_test.go). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "nc_report.h"

#define MS(x) ((uint64_t)(x)*1000000u)

static struct nc_report r;

static struct ipport addr(const char *s)
{
	struct ipport a;

	assert_int_equal(ipport_parse(s, &a), 0);
	return a;
}

static int add(uint32_t region, const char *mapped, uint64_t ms)
{
	struct ipport a = addr(mapped);

	return nc_report_add_stun(&r, region, &a, MS(ms));
}

static int setup(void **state)
{
	(void)state;
	nc_report_init(&r);
	return 0;
}

/* ---- mapping varies by destination ---- */

/* Three IPv4 servers see three different mappings: a hard NAT. */
static void test_mapping_varies(void **state)
{
	(void)state;
	assert_int_equal(add(1, "203.0.113.5:40001", 10), 0);
	assert_int_equal(r.mapping_varies_by_dest_ip, NC_OPT_UNSET);
	assert_int_equal(add(2, "203.0.113.5:40002", 20), 0);
	assert_int_equal(r.mapping_varies_by_dest_ip, NC_OPT_TRUE);
	/* The global address stays the first one seen. */
	assert_true(ipport_equal(
		&r.global_v4,
		&(struct ipport){.family = AF_INET, .ip = {203, 0, 113, 5}, .port = 40001}));
	/* A later answer equal to the first does not undo it. */
	assert_int_equal(add(3, "203.0.113.5:40001", 30), 1);
	assert_int_equal(r.mapping_varies_by_dest_ip, NC_OPT_TRUE);
}

/* Another IP, same port, varies too. */
static void test_mapping_varies_by_ip(void **state)
{
	(void)state;
	add(1, "203.0.113.5:40001", 10);
	add(2, "203.0.113.6:40001", 20);
	assert_int_equal(r.mapping_varies_by_dest_ip, NC_OPT_TRUE);
}

/* Every IPv4 server sees the same mapping: an easy NAT (or none). */
static void test_mapping_same(void **state)
{
	const struct ipport want = {.family = AF_INET, .ip = {203, 0, 113, 5}, .port = 41641};

	(void)state;
	add(1, "203.0.113.5:41641", 10);
	add(2, "203.0.113.5:41641", 20);
	add(2, "203.0.113.5:41641", 15);
	assert_int_equal(r.mapping_varies_by_dest_ip, NC_OPT_FALSE);
	assert_true(r.udp && r.ipv4 && !r.ipv6);
	assert_true(ipport_equal(&r.global_v4, &want));
}

/* IPv6 answers say nothing about the IPv4 mapping (Tailscale does not
 * track it for IPv6); the IPv6 global address is the latest. */
static void test_ipv6_answers(void **state)
{
	const struct ipport want = addr("[2001:db8::2]:41641");
	uint64_t ns;

	(void)state;
	add(1, "[2001:db8::1]:41641", 10);
	add(2, "[2001:db8::2]:41641", 12);
	assert_int_equal(r.mapping_varies_by_dest_ip, NC_OPT_UNSET);
	assert_true(r.udp && r.ipv6 && !r.ipv4);
	assert_int_equal(r.global_v4.family, 0);
	assert_true(ipport_equal(&r.global_v6, &want));
	assert_true(nc_latencies_get(&r.v6_latency, 2, &ns));
	assert_int_equal(ns, MS(12));
	assert_false(nc_latencies_get(&r.v4_latency, 2, &ns));
}

/* ---- latencies ---- */

static void test_latency_lowest_per_region(void **state)
{
	uint64_t ns;

	(void)state;
	add(1, "203.0.113.5:1", 30);
	add(1, "203.0.113.5:1", 10);
	add(1, "203.0.113.5:1", 20);
	add(1, "[2001:db8::1]:1", 5);
	assert_true(nc_latencies_get(&r.latency, 1, &ns));
	assert_int_equal(ns, MS(5));
	assert_true(nc_latencies_get(&r.v4_latency, 1, &ns));
	assert_int_equal(ns, MS(10));
	assert_true(nc_latencies_get(&r.v6_latency, 1, &ns));
	assert_int_equal(ns, MS(5));
	assert_int_equal(r.latency.n, 1);
	assert_int_equal(nc_latencies_max(&r.latency), MS(5));
}

/* The third region to answer is the signal to end the STUN phase early,
 * once only. */
static void test_enough_regions(void **state)
{
	(void)state;
	assert_int_equal(add(1, "203.0.113.5:1", 30), 0);
	assert_int_equal(add(1, "203.0.113.5:1", 20), 0);
	assert_int_equal(add(2, "203.0.113.5:1", 40), 0);
	assert_int_equal(add(3, "203.0.113.5:1", 90), 1);
	assert_int_equal(add(3, "203.0.113.5:1", 80), 0);
	assert_int_equal(add(4, "203.0.113.5:1", 10), 0);
	assert_int_equal(nc_latencies_max(&r.latency), MS(80));
}

static void test_bad_input(void **state)
{
	struct ipport a = addr("203.0.113.5:1");
	struct ipport none = {0};

	(void)state;
	assert_int_equal(nc_report_add_stun(&r, 0, &a, 1), -EINVAL);
	assert_int_equal(nc_report_add_stun(&r, 1, &none, 1), -EINVAL);
	assert_int_equal(nc_report_add_stun(&r, 1, NULL, 1), -EINVAL);
	assert_false(r.udp);
	for (uint32_t id = 1; id <= NC_MAX_REGIONS; id++)
		assert_true(nc_report_add_stun(&r, id, &a, 1) >= 0);
	assert_int_equal(nc_report_add_stun(&r, NC_MAX_REGIONS + 1, &a, 1), -ENOSPC);
	assert_false(nc_latencies_get(&r.latency, NC_MAX_REGIONS + 1, NULL));
	/* A region already there still updates. */
	assert_int_equal(nc_report_add_stun(&r, 1, &a, 0), 0);
	assert_int_equal(nc_latencies_update(&r.latency, 999, 1), -ENOSPC);
}

/* ---- probeWouldHelp ---- */

static void test_probe_would_help(void **state)
{
	(void)state;
	/* Nothing yet: anything helps. */
	assert_true(nc_report_probe_would_help(&r, 1, NC_V4));
	assert_true(nc_report_probe_would_help(&r, 1, NC_V6));
	add(1, "203.0.113.5:1", 10);
	/* Region 1 known; IPv6 still unknown; one IPv4 answer cannot tell
	 * whether the mapping varies. */
	assert_true(nc_report_probe_would_help(&r, 1, NC_V6));
	assert_true(nc_report_probe_would_help(&r, 1, NC_V4));
	assert_true(nc_report_probe_would_help(&r, 2, NC_V4));
	add(2, "203.0.113.5:1", 10);
	assert_false(nc_report_probe_would_help(&r, 1, NC_V4));
	assert_true(nc_report_probe_would_help(&r, 3, NC_V4));
	add(2, "[2001:db8::1]:1", 10);
	assert_false(nc_report_probe_would_help(&r, 1, NC_V6));
	assert_false(nc_report_probe_would_help(&r, 2, NC_V4));
}

/* ---- GetGlobalAddrs ---- */

/* TestMultiGlobalAddressMapping: the first address, then those seen more
 * than once; one seen once (a hard NAT's one-off) is left out. */
static void test_multi_global_address_mapping(void **state)
{
	struct ipport got[4];
	const struct ipport port1 = addr("127.0.0.1:1234"), port3 = addr("127.0.0.1:3456");

	(void)state;
	add(1, "127.0.0.1:1234", 10);
	add(1, "127.0.0.1:2345", 11);
	add(1, "127.0.0.1:3456", 12);
	add(1, "127.0.0.1:3456", 13);
	assert_int_equal(nc_report_global_addrs(&r, NC_V4, got, 4), 2);
	assert_true(ipport_equal(&got[0], &port1));
	assert_true(ipport_equal(&got[1], &port3));
	assert_int_equal(nc_report_global_addrs(&r, NC_V6, got, 4), 0);
	/* cap only limits what is written. */
	assert_int_equal(nc_report_global_addrs(&r, NC_V4, got, 1), 2);
}

/* TestBasic's check: one server, one address. */
static void test_single_global_address(void **state)
{
	struct ipport got[2];
	const struct ipport a = addr("[2001:db8::7]:41641");

	(void)state;
	add(1, "[2001:db8::7]:41641", 10);
	assert_int_equal(nc_report_global_addrs(&r, NC_V6, got, 2), 1);
	assert_true(ipport_equal(&got[0], &a));
	assert_int_equal(nc_report_global_addrs(&r, NC_FAMILY_INVALID, got, 2), 0);
}

/* Past NC_REPORT_MAX_ENDPOINTS distinct addresses, new ones are compared
 * but not counted. */
static void test_endpoint_limit(void **state)
{
	char s[32];

	(void)state;
	for (unsigned i = 0; i < NC_REPORT_MAX_ENDPOINTS + 4; i++) {
		snprintf(s, sizeof(s), "203.0.113.5:%u", 1000 + i);
		add(1, s, 10);
	}
	assert_int_equal(r.n_v4_seen, NC_REPORT_MAX_ENDPOINTS);
	assert_int_equal(r.mapping_varies_by_dest_ip, NC_OPT_TRUE);
}

/* ---- TestRegionLatencyCompare ---- */

struct cmp_case {
	const char *name;
	struct nc_latency lat[2];
	size_t n;
	uint32_t i, j;
	int want;
};

static void test_region_latency_compare(void **state)
{
	static const struct cmp_case cases[] = {
		{"no-lat-ids-equal", {{0}}, 0, 1, 1, 0},
		{"no-lat-ids-increasing", {{0}}, 0, 1, 2, -1},
		{"no-lat-ids-decreasing", {{0}}, 0, 2, 1, +1},
		{"i-lat-only-ids-increasing", {{1, 10}}, 1, 1, 2, -1},
		{"i-lat-only-ids-decreasing", {{2, 20}}, 1, 2, 1, -1},
		{"j-lat-only-ids-increasing", {{2, 20}}, 1, 1, 2, +1},
		{"j-lat-only-ids-decreasing", {{1, 10}}, 1, 2, 1, +1},
		{"i-lower-lat-ids-increasing", {{1, 10}, {2, 20}}, 2, 1, 2, -1},
		{"i-lower-lat-ids-decreasing", {{2, 20}, {1, 100}}, 2, 2, 1, -1},
		{"j-lower-lat-ids-increasing", {{1, 100}, {2, 20}}, 2, 1, 2, +1},
		{"j-lower-lat-ids-decreasing", {{2, 20}, {1, 10}}, 2, 2, 1, +1},
		{"equal-lat-ids-increasing", {{1, 10}, {2, 10}}, 2, 1, 2, -1},
		{"equal-lat-ids-decreasing", {{2, 20}, {1, 20}}, 2, 2, 1, +1},
		{"equal-lat-ids-equal", {{1, 10}}, 1, 1, 1, 0},
	};
	static struct nc_latencies l;

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct cmp_case *c = &cases[k];
		int got;

		memset(&l, 0, sizeof(l));
		for (size_t m = 0; m < c->n; m++)
			assert_int_equal(nc_latencies_update(&l, c->lat[m].region_id, c->lat[m].ns),
					 0);
		got = nc_latencies_compare(&l, c->i, c->j);
		if (got != c->want) {
			print_error("%s: got %d, want %d\n", c->name, got, c->want);
			fail();
		}
	}
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, setup)
	const struct CMUnitTest tests[] = {
		T(test_mapping_varies),
		T(test_mapping_varies_by_ip),
		T(test_mapping_same),
		T(test_ipv6_answers),
		T(test_latency_lowest_per_region),
		T(test_enough_regions),
		T(test_bad_input),
		T(test_probe_would_help),
		T(test_multi_global_address_mapping),
		T(test_single_global_address),
		T(test_endpoint_limit),
		T(test_region_latency_compare),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* netcheck_region_test: a DERPMap region from the bus as netcheck takes it
 * (services/netcheck/nc_region.h): every field, HomeParams.RegionScore
 * included (it once stopped at the config, so scores never changed the
 * home), and the limits on nodes and string lengths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "nc_region.h"

static void test_fields(void **state)
{
	(void)state;
	Msock__DERPNode n = MSOCK__DERPNODE__INIT, s = MSOCK__DERPNODE__INIT;
	Msock__DERPNode *nodes[] = {&n, &s};
	Msock__DERPMap d = MSOCK__DERPMAP__INIT;
	static struct nc_region r;
	static struct nc_svc_region_info info;

	n.name = "900a";
	n.host_name = "derp.lab.test";
	n.ipv4 = "198.18.0.2";
	n.ipv6 = "none";
	n.stun_port = 3478;
	n.derp_port = 8443;
	n.insecure_for_tests = true;
	s.name = "900b";
	s.host_name = "stun.lab.test";
	s.stun_test_ip = "127.0.0.1";
	s.stun_port = -1;
	s.stun_only = true;
	d.region_id = 900;
	d.region_code = "lab";
	d.avoid = true;
	d.no_measure_no_home = true;
	d.home_score = 1000;
	d.n_nodes = 2;
	d.nodes = nodes;

	nc_region_from_pb(&d, &r, &info);
	assert_int_equal(r.id, 900);
	assert_true(r.avoid);
	assert_true(r.no_measure_no_home);
	assert_true(r.home_score == 1000);
	assert_string_equal(info.code, "lab");
	assert_int_equal(r.n_nodes, 2);
	assert_string_equal(r.nodes[0].name, "900a");
	assert_string_equal(r.nodes[0].ipv4, "198.18.0.2");
	assert_string_equal(r.nodes[0].ipv6, "none");
	assert_int_equal(r.nodes[0].stun_port, 3478);
	assert_false(r.nodes[0].stun_only);
	assert_string_equal(info.nodes[0].host, "derp.lab.test");
	assert_int_equal(info.nodes[0].derp_port, 8443);
	assert_true(info.nodes[0].insecure);
	assert_string_equal(r.nodes[1].stun_test_ip, "127.0.0.1");
	assert_int_equal(r.nodes[1].stun_port, -1);
	assert_true(r.nodes[1].stun_only);
	assert_int_equal(info.nodes[1].derp_port, 0);

	/* A second region in the same buffers: nothing of the first stays. */
	d.home_score = 0;
	d.avoid = false;
	d.n_nodes = 1;
	d.nodes = &nodes[1];
	nc_region_from_pb(&d, &r, &info);
	assert_true(r.home_score == 0);
	assert_false(r.avoid);
	assert_int_equal(r.n_nodes, 1);
	assert_string_equal(r.nodes[0].name, "900b");
	assert_string_equal(info.nodes[1].host, "");
}

static void test_limits(void **state)
{
	(void)state;
	Msock__DERPNode n = MSOCK__DERPNODE__INIT;
	Msock__DERPNode *nodes[NC_MAX_NODES + 2];
	Msock__DERPMap d = MSOCK__DERPMAP__INIT;
	static struct nc_region r;
	static struct nc_svc_region_info info;
	char long_name[NC_NAME_MAX + 10];

	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	n.name = long_name;
	n.derp_port = 70000; /* not a port: the default */
	for (size_t i = 0; i < NC_MAX_NODES + 2; i++)
		nodes[i] = &n;
	d.region_id = 1;
	d.n_nodes = NC_MAX_NODES + 2;
	d.nodes = nodes;

	nc_region_from_pb(&d, &r, &info);
	assert_int_equal(r.n_nodes, NC_MAX_NODES);
	assert_int_equal(strlen(r.nodes[0].name), NC_NAME_MAX - 1);
	assert_int_equal(info.nodes[0].derp_port, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, 0, 0);
}

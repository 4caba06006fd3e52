/* dataplane endpoints: the endpoint set's order, kinds, de-duplication,
 * filtering of unusable local addresses and its cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "endpoints.h"

static struct ipport ap(const char *s)
{
	struct ipport a;
	assert_int_equal(ipport_parse(s, &a), 0);
	return a;
}

static void expect(const struct dp_ep_set *s, size_t i, const char *addr, enum endpoint_type t)
{
	char text[ADDR_TEXT_MAX];

	assert_true(i < s->n);
	ipport_format(&s->ep[i].addr, text, sizeof(text));
	assert_string_equal(text, addr);
	assert_int_equal(s->ep[i].type, t);
}

/* Tailscale's order: port-mapped, STUN, static, local; local addresses
 * carry our bound port whatever port they came with. */
static void test_order_and_kinds(void **state)
{
	(void)state;
	static struct dp_ep_inputs in;
	static struct dp_ep_set s;

	memset(&in, 0, sizeof(in));
	in.port = 41641;
	in.local[in.n_local++] = ap("10.0.1.2:9");
	in.local[in.n_local++] = ap("[2001:db8::2]:9");
	in.stun_v4 = ap("198.18.1.1:41641");
	in.mapped[1] = ap("198.18.1.1:5000");
	in.statics[in.n_statics++] = ap("198.18.9.9:41641");
	dp_ep_build(&in, &s);
	assert_int_equal(s.n, 5);
	expect(&s, 0, "198.18.1.1:5000", ENDPOINT_TYPE_PORTMAPPED);
	expect(&s, 1, "198.18.1.1:41641", ENDPOINT_TYPE_STUN);
	expect(&s, 2, "198.18.9.9:41641", ENDPOINT_TYPE_EXPLICIT_CONF);
	expect(&s, 3, "10.0.1.2:41641", ENDPOINT_TYPE_LOCAL);
	expect(&s, 4, "[2001:db8::2]:41641", ENDPOINT_TYPE_LOCAL);
	assert_string_equal(endpoint_type_name(s.ep[1].type), "stun");
}

/* One address once: behind a 1:1 NAT the STUN address is also the static
 * one, and with no NAT the local address is the STUN one. */
static void test_dedup_first_kind_wins(void **state)
{
	(void)state;
	static struct dp_ep_inputs in;
	static struct dp_ep_set s;

	memset(&in, 0, sizeof(in));
	in.port = 41641;
	in.stun_v4 = ap("198.18.1.1:41641");
	in.statics[in.n_statics++] = ap("198.18.1.1:41641");
	in.local[in.n_local++] = ap("198.18.1.1:9");
	dp_ep_build(&in, &s);
	assert_int_equal(s.n, 1);
	expect(&s, 0, "198.18.1.1:41641", ENDPOINT_TYPE_STUN);
}

/* Loopback, unspecified, multicast and link-local addresses never go to
 * peers. */
static void test_unusable_local_left_out(void **state)
{
	(void)state;
	static struct dp_ep_inputs in;
	static struct dp_ep_set s;
	const char *bad[] = {"127.0.0.1:9", "0.0.0.0:9", "224.0.0.1:9", "169.254.1.1:9",
			     "[::1]:9",	    "[::]:9",	 "[fe80::1]:9", "[ff02::1]:9"};

	memset(&in, 0, sizeof(in));
	in.port = 41641;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		in.local[in.n_local++] = ap(bad[i]);
	in.local[in.n_local++] = ap("192.168.1.5:9");
	dp_ep_build(&in, &s);
	assert_int_equal(s.n, 1);
	expect(&s, 0, "192.168.1.5:41641", ENDPOINT_TYPE_LOCAL);
}

/* No port yet (the socket is not bound): no local endpoint. */
static void test_no_port_no_local(void **state)
{
	(void)state;
	static struct dp_ep_inputs in;
	static struct dp_ep_set s;

	memset(&in, 0, sizeof(in));
	in.local[in.n_local++] = ap("10.0.1.2:9");
	dp_ep_build(&in, &s);
	assert_int_equal(s.n, 0);
}

static void test_equal(void **state)
{
	(void)state;
	static struct dp_ep_inputs in;
	static struct dp_ep_set a, b;

	memset(&in, 0, sizeof(in));
	in.port = 1;
	in.local[in.n_local++] = ap("10.0.1.2:9");
	dp_ep_build(&in, &a);
	dp_ep_build(&in, &b);
	assert_true(dp_ep_equal(&a, &b));
	in.stun_v4 = ap("198.18.1.1:1");
	dp_ep_build(&in, &b);
	assert_false(dp_ep_equal(&a, &b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_kinds),
		cmocka_unit_test(test_dedup_first_kind_wins),
		cmocka_unit_test(test_unusable_local_left_out),
		cmocka_unit_test(test_no_port_no_local),
		cmocka_unit_test(test_equal),
	};
	return cmocka_run_group_tests(tests, 0, 0);
}

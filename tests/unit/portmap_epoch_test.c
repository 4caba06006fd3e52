/* portmap_epoch_test: the gateway-state-loss rules of RFC 6886 section 3.6
 * (NAT-PMP) and RFC 6887 section 8.5 (PCP), at and around each boundary,
 * on an injected clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "portmap/portmap_epoch.h"

enum { S = 1000 }; /* ms */

/* A gateway first seen at epoch 1000 s, our clock at 50 s. */
static struct portmap_epoch seen(enum portmap_epoch_rule rule)
{
	struct portmap_epoch e;

	portmap_epoch_init(&e, rule);
	assert_false(portmap_epoch_check(&e, 1000, 50 * S));
	return e;
}

/* ---- both rules ---- */

static void test_first_answer_never_lost(void **state)
{
	(void)state;
	static const uint32_t epochs[] = {0, 1, 0x7fffffff, 0xffffffff};
	static const uint64_t clocks[] = {0, 1, 1000000, UINT64_MAX};
	struct portmap_epoch e;

	for (size_t i = 0; i < 4; i++) {
		for (size_t j = 0; j < 4; j++) {
			portmap_epoch_init(&e, PORTMAP_EPOCH_NATPMP);
			assert_false(portmap_epoch_check(&e, epochs[i], clocks[j]));
			portmap_epoch_init(&e, PORTMAP_EPOCH_PCP);
			assert_false(portmap_epoch_check(&e, epochs[i], clocks[j]));
		}
	}
}

/* Init again (a new gateway) and the next answer is a first one. */
static void test_init_forgets(void **state)
{
	(void)state;
	struct portmap_epoch e = seen(PORTMAP_EPOCH_NATPMP);

	portmap_epoch_init(&e, PORTMAP_EPOCH_NATPMP);
	assert_false(portmap_epoch_check(&e, 0, 10000 * S));
	e = seen(PORTMAP_EPOCH_PCP);
	portmap_epoch_init(&e, PORTMAP_EPOCH_PCP);
	assert_false(portmap_epoch_check(&e, 0, 10000 * S));
}

static void test_steady_gateway_never_lost(void **state)
{
	(void)state;
	enum portmap_epoch_rule rules[] = {PORTMAP_EPOCH_NATPMP, PORTMAP_EPOCH_PCP};

	for (size_t r = 0; r < 2; r++) {
		struct portmap_epoch e = seen(rules[r]);

		/* Answers every 250 ms, then every hour, for a day. */
		for (uint32_t i = 1; i <= 100; i++)
			assert_false(portmap_epoch_check(&e, 1000 + i / 4, 50 * S + i * 250));
		for (uint32_t h = 1; h <= 24; h++)
			assert_false(portmap_epoch_check(&e, 1025 + h * 3600,
							 75 * S + (uint64_t)h * 3600 * S));
		/* The same answer twice (a retransmission). */
		assert_false(portmap_epoch_check(&e, 1025 + 24 * 3600, 75 * S + 24ull * 3600 * S));
	}
}

/* A reboot: the epoch restarts near 0 long after we last heard. */
static void test_reboot_lost(void **state)
{
	(void)state;
	struct portmap_epoch e = seen(PORTMAP_EPOCH_NATPMP);

	assert_true(portmap_epoch_check(&e, 3, 600 * S));
	e = seen(PORTMAP_EPOCH_PCP);
	assert_true(portmap_epoch_check(&e, 3, 600 * S));
}

/* The answer that reported a loss is the next reference (both RFCs
 * record every answer), so a steady gateway after it is fine. */
static void test_reference_moves_after_loss(void **state)
{
	(void)state;
	enum portmap_epoch_rule rules[] = {PORTMAP_EPOCH_NATPMP, PORTMAP_EPOCH_PCP};

	for (size_t r = 0; r < 2; r++) {
		struct portmap_epoch e = seen(rules[r]);

		assert_true(portmap_epoch_check(&e, 0, 600 * S));
		assert_int_equal(e.server_s, 0);
		assert_int_equal(e.client_ms, 600 * S);
		assert_false(portmap_epoch_check(&e, 60, 660 * S));
		assert_false(portmap_epoch_check(&e, 120, 720 * S));
	}
}

/* A monotonic clock does not go back; if ours did, no time elapsed. */
static void test_clock_backwards_is_no_time(void **state)
{
	(void)state;
	struct portmap_epoch e = seen(PORTMAP_EPOCH_NATPMP);

	assert_false(portmap_epoch_check(&e, 1000, 10 * S));
	assert_int_equal(e.client_ms, 10 * S);
	e = seen(PORTMAP_EPOCH_PCP);
	assert_false(portmap_epoch_check(&e, 1000, 10 * S));
}

/* Extreme values: no overflow (UBSan watches), sensible answers. */
static void test_extremes(void **state)
{
	(void)state;
	struct portmap_epoch e;

	portmap_epoch_init(&e, PORTMAP_EPOCH_NATPMP);
	assert_false(portmap_epoch_check(&e, 0, 0));
	assert_false(portmap_epoch_check(&e, 0xffffffff, 0xffffffffull * S)); /* in step */
	assert_true(portmap_epoch_check(&e, 0xffffffff, UINT64_MAX));	      /* stood still */
	assert_true(portmap_epoch_check(&e, 0, 0)); /* back 136 years, our clock too */
	portmap_epoch_init(&e, PORTMAP_EPOCH_NATPMP);
	assert_false(portmap_epoch_check(&e, 0xffffffff, 0));
	assert_true(portmap_epoch_check(&e, 0, UINT64_MAX));

	portmap_epoch_init(&e, PORTMAP_EPOCH_PCP);
	assert_false(portmap_epoch_check(&e, 0, 0));
	assert_false(portmap_epoch_check(&e, 0xffffffff, 0xffffffffull * S)); /* in step */
	portmap_epoch_init(&e, PORTMAP_EPOCH_PCP);
	assert_false(portmap_epoch_check(&e, 0, 0));
	assert_true(portmap_epoch_check(&e, 0xffffffff, 0)); /* far ahead of us */
	portmap_epoch_init(&e, PORTMAP_EPOCH_PCP);
	assert_false(portmap_epoch_check(&e, 0xffffffff, 0));
	assert_true(portmap_epoch_check(&e, 0xffffffff, UINT64_MAX)); /* stood still */
	portmap_epoch_init(&e, PORTMAP_EPOCH_PCP);
	assert_false(portmap_epoch_check(&e, 0xffffffff, 0));
	assert_true(portmap_epoch_check(&e, 0, 0));
}

/* ---- NAT-PMP, RFC 6886 section 3.6 ---- */

/* Expected: last + 7/8 of our elapsed time; lost when the epoch is below
 * that by more than 2 s. 80 s elapsed: expect at least 70 s. */
static void test_natpmp_seven_eighths_boundary(void **state)
{
	(void)state;
	struct portmap_epoch e;

	e = seen(PORTMAP_EPOCH_NATPMP);
	assert_false(portmap_epoch_check(&e, 1070, 130 * S)); /* exactly 7/8 */
	e = seen(PORTMAP_EPOCH_NATPMP);
	assert_false(portmap_epoch_check(&e, 1068, 130 * S)); /* 2 s short: not more */
	e = seen(PORTMAP_EPOCH_NATPMP);
	assert_true(portmap_epoch_check(&e, 1067, 130 * S)); /* 3 s short */
	/* In ms: 80.002 s elapsed expects floor(70001.75) ms, and 68 s + 2
	 * is 1 ms short; 80.001 s expects 70000 ms, met exactly. */
	e = seen(PORTMAP_EPOCH_NATPMP);
	assert_true(portmap_epoch_check(&e, 1068, 130 * S + 2));
	e = seen(PORTMAP_EPOCH_NATPMP);
	assert_false(portmap_epoch_check(&e, 1068, 130 * S + 1));
}

/* With no time elapsed the epoch may step back up to 2 s. */
static void test_natpmp_backwards_slack(void **state)
{
	(void)state;
	struct portmap_epoch e;

	e = seen(PORTMAP_EPOCH_NATPMP);
	assert_false(portmap_epoch_check(&e, 998, 50 * S));
	e = seen(PORTMAP_EPOCH_NATPMP);
	assert_true(portmap_epoch_check(&e, 997, 50 * S));
}

/* NAT-PMP sets no upper bound: a gateway whose clock runs fast has not
 * lost anything. */
static void test_natpmp_fast_gateway_not_lost(void **state)
{
	(void)state;
	struct portmap_epoch e = seen(PORTMAP_EPOCH_NATPMP);

	assert_false(portmap_epoch_check(&e, 1000 + 3600, 51 * S));
	assert_false(portmap_epoch_check(&e, 0xffffffff, 52 * S));
}

/* ---- PCP, RFC 6887 section 8.5 ---- */

/* Step 2: back by up to 1 s is reordering, more is a restart. */
static void test_pcp_backwards_one_second(void **state)
{
	(void)state;
	struct portmap_epoch e;

	e = seen(PORTMAP_EPOCH_PCP);
	assert_false(portmap_epoch_check(&e, 999, 50 * S));
	e = seen(PORTMAP_EPOCH_PCP);
	assert_true(portmap_epoch_check(&e, 998, 50 * S));
	/* Back by 1 s while our clock moved 2 s: step 5 applies to the
	 * deltas as the RFC writes them (-1 + 2 < 2 - 2/16). */
	e = seen(PORTMAP_EPOCH_PCP);
	assert_true(portmap_epoch_check(&e, 999, 52 * S));
	e = seen(PORTMAP_EPOCH_PCP);
	assert_false(portmap_epoch_check(&e, 999, 51 * S + 999));
}

/* Step 5, first half: server_delta + 2 < client_delta - client_delta/16.
 * 100 s on our clock: the server must show at least 92 s. */
static void test_pcp_server_too_slow(void **state)
{
	(void)state;
	struct portmap_epoch e;

	e = seen(PORTMAP_EPOCH_PCP);
	assert_false(portmap_epoch_check(&e, 1092, 150 * S));
	e = seen(PORTMAP_EPOCH_PCP);
	assert_true(portmap_epoch_check(&e, 1091, 150 * S));
	/* Our elapsed time counts in whole seconds, rounded down. */
	e = seen(PORTMAP_EPOCH_PCP);
	assert_false(portmap_epoch_check(&e, 1091, 150 * S - 1));
}

/* Step 5, second half: client_delta + 2 < server_delta - server_delta/16.
 * 100 s on our clock: the server may show at most 108 s. */
static void test_pcp_server_too_fast(void **state)
{
	(void)state;
	struct portmap_epoch e;

	e = seen(PORTMAP_EPOCH_PCP);
	assert_false(portmap_epoch_check(&e, 1108, 150 * S));
	e = seen(PORTMAP_EPOCH_PCP);
	assert_true(portmap_epoch_check(&e, 1110, 150 * S));
	/* Right after an answer: at most 2 s ahead. */
	e = seen(PORTMAP_EPOCH_PCP);
	assert_false(portmap_epoch_check(&e, 1002, 50 * S));
	e = seen(PORTMAP_EPOCH_PCP);
	assert_true(portmap_epoch_check(&e, 1003, 50 * S));
}

/* The two rules differ: the same answers, judged each way. */
static void test_rules_differ(void **state)
{
	(void)state;
	struct portmap_epoch n = seen(PORTMAP_EPOCH_NATPMP), p = seen(PORTMAP_EPOCH_PCP);

	/* 2 s back, no time: NAT-PMP's 2 s slack, PCP's 1 s. */
	assert_false(portmap_epoch_check(&n, 998, 50 * S));
	assert_true(portmap_epoch_check(&p, 998, 50 * S));
	/* Far ahead: only PCP objects. */
	n = seen(PORTMAP_EPOCH_NATPMP);
	p = seen(PORTMAP_EPOCH_PCP);
	assert_false(portmap_epoch_check(&n, 5000, 60 * S));
	assert_true(portmap_epoch_check(&p, 5000, 60 * S));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_answer_never_lost),
		cmocka_unit_test(test_init_forgets),
		cmocka_unit_test(test_steady_gateway_never_lost),
		cmocka_unit_test(test_reboot_lost),
		cmocka_unit_test(test_reference_moves_after_loss),
		cmocka_unit_test(test_clock_backwards_is_no_time),
		cmocka_unit_test(test_extremes),
		cmocka_unit_test(test_natpmp_seven_eighths_boundary),
		cmocka_unit_test(test_natpmp_backwards_slack),
		cmocka_unit_test(test_natpmp_fast_gateway_not_lost),
		cmocka_unit_test(test_pcp_backwards_one_second),
		cmocka_unit_test(test_pcp_server_too_slow),
		cmocka_unit_test(test_pcp_server_too_fast),
		cmocka_unit_test(test_rules_differ),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

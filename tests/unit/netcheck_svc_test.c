/* netcheck_svc_test: the report runner (services/netcheck/nc_svc.h) driven
 * by an injected clock, for the orders of events around the network going
 * down and up. The lab saw this one: a major link change starts a report,
 * every link goes down while its STUN probes are out, and the run was
 * published afterwards as "udp=no ... (0 regions measured)" — a report of a
 * network that is gone. Now a run in flight is dropped when the network
 * goes down, none starts while it is down, and a full one starts as soon as
 * it is back. The region is STUN-only, so no run opens an HTTP socket. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "nc_svc.h"
#include "stun/stun.h"

#define MS(x) ((uint64_t)(x)*NS_PER_MS)
#define T0    MS(1000000) /* any start: the runner keeps no wall clock */

static const struct ipport SERVER = {.family = AF_INET, .ip = {192, 0, 2, 1}, .port = 3478};
static const struct ipport MAPPED = {.family = AF_INET, .ip = {198, 18, 1, 1}, .port = 41641};

struct rec {
	int sent, reports;
	uint8_t last_req[STUN_REQUEST_BYTES];
	struct nc_report last;
};

static struct nc_svc *svc;
static struct rec rec;

static void on_send(void *arg, const struct ipport *to, const uint8_t *p, size_t len)
{
	struct rec *r = arg;

	assert_true(ipport_equal(to, &SERVER));
	assert_int_equal(len, STUN_REQUEST_BYTES);
	memcpy(r->last_req, p, len);
	r->sent++;
}

static void on_report(void *arg, const struct nc_report *rep)
{
	struct rec *r = arg;

	r->last = *rep;
	r->reports++;
}

static int setup(void **state)
{
	struct nc_region reg = {.id = 900, .n_nodes = 1};
	struct nc_svc_region_info info = {0};

	(void)state;
	memset(&rec, 0, sizeof(rec));
	svc = calloc(1, sizeof(*svc)); /* large: not on the stack */
	assert_non_null(svc);
	assert_int_equal(nc_svc_init(svc, on_send, on_report, &rec, T0), 0);
	strcpy(reg.nodes[0].name, "900a");
	strcpy(reg.nodes[0].ipv4, "192.0.2.1");
	strcpy(reg.nodes[0].ipv6, "none");
	reg.nodes[0].stun_port = 3478;
	reg.nodes[0].stun_only = true;
	nc_svc_set_region(svc, &reg, &info);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	nc_svc_free(svc);
	free(svc);
	return 0;
}

/* The server's answer to the last request sent, as the dataplane would
 * hand it over; returns nc_svc_on_packet's result. */
static int answer(uint64_t now)
{
	uint8_t txid[STUN_TXID_BYTES], buf[256];
	size_t n;

	assert_int_equal(stun_parse_binding_request(rec.last_req, sizeof(rec.last_req), txid), 0);
	n = stun_binding_response(txid, &MAPPED, buf, sizeof(buf));
	assert_true(n > 0);
	return nc_svc_on_packet(svc, &SERVER, buf, n, now);
}

/* Ticks every 10 ms from *now to until (the loop's timer, roughly). */
static void run_until(uint64_t *now, uint64_t until)
{
	for (; *now <= until; *now += MS(10))
		nc_svc_tick(svc, *now);
}

/* The baseline the others differ from: a run starts, its probe is
 * answered, the report is published with the mapped address. */
static void test_report_published_when_up(void **state)
{
	uint64_t now = T0;

	(void)state;
	nc_svc_tick(svc, now);
	assert_true(svc->running);
	assert_int_equal(rec.sent, 1);
	assert_int_equal(answer(now + MS(5)), 0);
	run_until(&now, T0 + MS(NC_REPORT_TIMEOUT_MS));
	assert_int_equal(rec.reports, 1);
	assert_true(rec.last.udp);
	assert_true(ipport_equal(&rec.last.global_v4, &MAPPED));
}

/* The lab's order: a run starts (a link change's ReSTUN), the network goes
 * down while its probe is out; the run is dropped, and nothing is
 * published however long the network stays down, even if the old probe's
 * answer straggles in. */
static void test_run_in_flight_dropped_when_network_goes_down(void **state)
{
	uint64_t now = T0;

	(void)state;
	nc_svc_tick(svc, now);
	assert_true(svc->running);
	assert_int_equal(rec.sent, 1);
	now += MS(20);
	nc_svc_set_network_up(svc, false, now);
	assert_false(svc->running);
	assert_int_equal(svc->runs_dropped, 1);
	/* The answer to the dropped run's probe is no report either. */
	assert_int_equal(answer(now + MS(5)), 0);
	run_until(&now, T0 + MS(NC_REPORT_TIMEOUT_MS + NC_SVC_PERIOD_MAX_MS * 2));
	assert_int_equal(rec.reports, 0);
	assert_int_equal(rec.sent, 1); /* and no new run sent anything */
	assert_false(svc->running);
}

/* Down while idle: the periodic report does not start; the deadline does
 * not wake the loop for it. */
static void test_no_run_starts_while_down(void **state)
{
	uint64_t now = T0;

	(void)state;
	nc_svc_set_network_up(svc, false, now);
	assert_int_equal(svc->runs_dropped, 0);
	assert_true(nc_svc_deadline(svc) > now + MS(NC_SVC_PERIOD_MAX_MS));
	nc_svc_restun(svc, false, now); /* a ReSTUN while down waits too */
	run_until(&now, T0 + MS(NC_SVC_PERIOD_MAX_MS * 2));
	assert_int_equal(rec.sent, 0);
	assert_int_equal(rec.reports, 0);
}

/* Down during a run, up again: a new full run starts at once and its
 * report (from the new run's probe) is the one published. */
static void test_up_again_starts_a_full_run(void **state)
{
	uint64_t now = T0;

	(void)state;
	nc_svc_tick(svc, now);
	assert_int_equal(rec.sent, 1);
	now += MS(20);
	nc_svc_set_network_up(svc, false, now);
	run_until(&now, now + MS(500));
	nc_svc_set_network_up(svc, true, now);
	assert_true(nc_svc_deadline(svc) <= now);
	nc_svc_tick(svc, now);
	assert_true(svc->running);
	assert_true(svc->full);
	assert_int_equal(rec.sent, 2);
	assert_int_equal(answer(now + MS(3)), 0);
	uint64_t end = now + MS(NC_REPORT_TIMEOUT_MS);
	run_until(&now, end);
	assert_int_equal(rec.reports, 1);
	assert_true(rec.last.udp);
}

/* A second down (the dataplane republishes NetworkState) with no run does
 * not count a drop; up while up changes nothing. */
static void test_repeated_states_are_no_ops(void **state)
{
	uint64_t now = T0;

	(void)state;
	nc_svc_set_network_up(svc, true, now);
	nc_svc_tick(svc, now);
	assert_int_equal(rec.sent, 1);
	nc_svc_set_network_up(svc, true, now + MS(1)); /* still up: the run goes on */
	assert_true(svc->running);
	nc_svc_set_network_up(svc, false, now + MS(2));
	nc_svc_set_network_up(svc, false, now + MS(3));
	assert_int_equal(svc->runs_dropped, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_report_published_when_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_in_flight_dropped_when_network_goes_down,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_run_starts_while_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_up_again_starts_a_full_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repeated_states_are_no_ops, setup, teardown),
	};

	return cmocka_run_group_tests(tests, 0, 0);
}

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

#include <stdio.h>
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

/* Adds region ID with one DERP node (not STUN-only) at SERVER's address. */
static void add_derp_region(uint32_t id, bool avoid)
{
	struct nc_region reg = {.id = id, .avoid = avoid, .n_nodes = 1};
	struct nc_svc_region_info info = {0};

	snprintf(reg.nodes[0].name, sizeof(reg.nodes[0].name), "%ua", id);
	strcpy(reg.nodes[0].ipv4, "192.0.2.1");
	strcpy(reg.nodes[0].ipv6, "none");
	reg.nodes[0].stun_port = 3478;
	strcpy(info.nodes[0].host, "derp.test");
	nc_svc_set_region(svc, &reg, &info);
}

static const struct nc_http *https_of(uint32_t id)
{
	for (size_t i = 0; i < svc->dm.n_regions; i++)
		if (svc->dm.regions[i].id == id)
			return &svc->https[i];
	fail_msg("no region %u", id);
	return 0;
}

/* UDP blocked: Tailscale's GetReport probes by HTTPS each region with a
 * DERP node that is neither Avoid nor NoMeasureNoHome; an Avoid region
 * (probed by STUN in a full report all the same) gets no HTTPS probe. */
static void test_https_skips_avoid_regions(void **state)
{
	uint64_t now = T0;
	SSL_CTX *tls = SSL_CTX_new(TLS_client_method());

	(void)state;
	assert_non_null(tls);
	svc->tls = tls;
	add_derp_region(901, true);
	add_derp_region(902, false);
	nc_svc_tick(svc, now);
	assert_true(svc->running);
	assert_true(rec.sent >= 3); /* every region by STUN, 901 too */
	run_until(&now, T0 + MS(NC_STUN_PROBE_TIMEOUT_MS));
	assert_true(svc->stun_done);
	assert_int_not_equal(https_of(902)->st, 0);
	assert_int_equal(https_of(901)->st, 0);
	assert_int_equal(https_of(900)->st, 0); /* STUN-only */
	svc->tls = 0;
	SSL_CTX_free(tls); /* the probe's SSL holds its own reference */
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
		cmocka_unit_test_setup_teardown(test_https_skips_avoid_regions, setup, teardown),
	};

	return cmocka_run_group_tests(tests, 0, 0);
}

/* broker_restart: a component killed with SIGKILL is restarted after a
 * backoff and, on reconnect, gets its state back from the broker's cache
 * (testcomp publishes the generation it read from the cache + 1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "clock.h"
#include "harness.h"
#include "testcomp.pb-c.h"

struct observer {
	struct bus *bus;
	uint64_t generation; /* latest TestCounter of "testcomp" */
	uint64_t replayed;
	int updates;
};

static void on_msg(void *arg, const struct bus_msg *m)
{
	struct observer *o = arg;

	if (m->kind != BUS_MSG_STATE || m->deleted || strcmp(m->topic->name, "TestCounter") ||
	    strcmp(m->key, "testcomp"))
		return;
	const Msock__TestCounter *tc = (const Msock__TestCounter *)m->msg;
	o->generation = tc->generation;
	o->replayed = tc->replayed_keys;
	o->updates++;
}

struct gen_wait {
	struct observer *o;
	uint64_t want;
};

static bool generation_reached(void *arg)
{
	struct gen_wait *w = arg;
	zmq_pollitem_t it[2];
	int n = bus_pollitems(w->o->bus, it, 2);

	zmq_poll(it, n, 10);
	bus_dispatch(w->o->bus, clock_mono_ns());
	return w->o->generation >= w->want;
}

struct restart_wait {
	struct th_broker *b;
	pid_t old;
};

static bool restarted(void *arg)
{
	struct restart_wait *w = arg;
	pid_t pid = th_comp_pid(w->b, "testcomp");

	return pid > 0 && pid != w->old && th_comp_state_is(w->b, "testcomp", "running");
}

/* The delay the broker logged for the restart ("restarting in N ms"). */
static long logged_backoff_ms(const struct th_broker *b)
{
	FILE *f = fopen(b->log, "r");
	char line[1024];
	long ms = -1;

	while (f && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "restarting in ");
		if (p)
			ms = strtol(p + 14, 0, 10);
	}
	if (f)
		fclose(f);
	return ms;
}

static void test_sigkill_restart_replays_state(void **state)
{
	struct th_broker *b = *state;
	struct observer o = {0};
	struct gen_wait gw = {&o, 1};
	struct restart_wait rw = {b, 0};
	long backoff;

	assert_int_equal(th_broker_start(b, "[\"testcomp\"]", ""), 0);
	o.bus = bus_open(b->bus_dir, "observer", on_msg, &o);
	assert_non_null(o.bus);
	assert_int_equal(bus_subscribe(o.bus, "TestCounter"), 0);
	assert_true(th_wait(generation_reached, &gw));
	assert_int_equal(o.generation, 1);
	assert_int_equal(th_comp_restarts(b, "testcomp"), 0);

	rw.old = th_comp_pid(b, "testcomp");
	assert_true(rw.old > 0);
	assert_int_equal(kill(rw.old, SIGKILL), 0);
	assert_true(th_wait(restarted, &rw));
	assert_int_equal(th_comp_restarts(b, "testcomp"), 1);

	/* The restarted component read generation 1 from the cache. */
	gw.want = 2;
	assert_true(th_wait(generation_reached, &gw));
	assert_int_equal(o.generation, 2);
	assert_true(o.replayed >= 1);
	assert_true(th_log_contains(b, "killed by signal 9 (SIGKILL)"));

	/* First restart: the initial backoff (200 ms) with +-25 % jitter. */
	backoff = logged_backoff_ms(b);
	print_message("restart backoff: %ld ms\n", backoff);
	assert_in_range(backoff, 149, 251);

	/* A second kill: the backoff doubles (400 ms +-25 %). */
	rw.old = th_comp_pid(b, "testcomp");
	assert_int_equal(kill(rw.old, SIGKILL), 0);
	assert_true(th_wait(restarted, &rw));
	backoff = logged_backoff_ms(b);
	print_message("second restart backoff: %ld ms\n", backoff);
	assert_in_range(backoff, 299, 501);
	gw.want = 3;
	assert_true(th_wait(generation_reached, &gw));

	bus_free(o.bus);
}

/* The state a component set survives the component: another subscriber
 * that connects later gets it from the cache. */
static void test_late_subscriber_gets_cached_state(void **state)
{
	struct th_broker *b = *state;
	struct observer first = {0}, late = {0};
	struct gen_wait gw = {&first, 1};

	assert_int_equal(th_broker_start(b, "[\"testcomp\"]", ""), 0);
	first.bus = bus_open(b->bus_dir, "observer1", on_msg, &first);
	assert_non_null(first.bus);
	bus_subscribe(first.bus, "TestCounter");
	assert_true(th_wait(generation_reached, &gw));

	late.bus = bus_open(b->bus_dir, "observer2", on_msg, &late);
	assert_non_null(late.bus);
	bus_subscribe(late.bus, "TestCounter");
	assert_int_equal(bus_wait_synced(late.bus, 5000, -1), 0);
	assert_int_equal(late.generation, 1);
	assert_int_equal(late.updates, 1);

	bus_free(first.bus);
	bus_free(late.bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sigkill_restart_replays_state, th_setup,
						th_teardown),
		cmocka_unit_test_setup_teardown(test_late_subscriber_gets_cached_state, th_setup,
						th_teardown),
	};

	return cmocka_run_group_tests(tests, 0, 0);
}

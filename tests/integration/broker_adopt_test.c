/* broker_adopt: the broker dies (SIGKILL: no chance to clean up) and its
 * components keep running; the next broker, started on the same config,
 * adopts them (same pids, restarts carried over), they notice its new epoch
 * and set their state again, a later crash of an adopted one is restarted
 * by the new broker, and SIGTERM to the new broker still stops everything
 * (adopted ones too). A damaged record of the running components adopts
 * nothing and says why. (The packet side, a ping flood across the kill, is
 * tests/lab/lab_broker_restart.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static const char *two = "[\"testcomp\", {\"name\": \"t2\", \"program\": \"testcomp\"}]";

struct pids {
	struct th_broker *b;
	pid_t a, t2;
};

static int count_started(const struct th_broker *b)
{
	FILE *f = fopen(b->log, "r");
	char line[2048];
	int n = 0;

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "INFO: started: generation 1"))
			n++;
	if (f)
		fclose(f);
	return n;
}

static bool both_started(void *arg)
{
	return count_started(arg) >= 2;
}

static bool one_started(void *arg)
{
	return count_started(arg) >= 1;
}

static bool restarted_with_generation_2(void *arg)
{
	struct pids *p = arg;
	pid_t now = th_comp_pid(p->b, "testcomp");

	return now > 0 && now != p->a && th_comp_state_is(p->b, "testcomp", "running") &&
	       th_log_contains(p->b, "testcomp INFO: started: generation 2");
}

static bool noticed_new_broker(void *arg)
{
	struct th_broker *b = arg;
	json_t *st = th_status(b);
	json_t *bus = json_object_get(
		json_object_get(json_object_get(json_object_get(st, "Components"), "t2"), "Bus"),
		"BrokerRestarts");
	bool yes = json_integer_value(bus) == 1;

	json_decref(st);
	return yes;
}

static void record_path(const struct th_broker *b, char *out, size_t cap)
{
	snprintf(out, cap, "%s/run/children", b->dir);
}

static void test_next_broker_adopts(void **state)
{
	struct th_broker *b = *state;
	struct pids p = {.b = b};
	char record[400];
	int st;

	assert_int_equal(th_broker_start(b, two, ""), 0);
	assert_true(th_wait(both_started, b));
	p.a = th_comp_pid(b, "testcomp");
	p.t2 = th_comp_pid(b, "t2");
	assert_true(p.a > 0 && p.t2 > 0);
	record_path(b, record, sizeof(record));
	assert_int_equal(access(record, F_OK), 0);

	assert_int_equal(th_broker_stop(b, SIGKILL, &st), 0);
	assert_true(WIFSIGNALED(st));
	/* No parent-death signal: they run on without a broker. */
	usleep(300 * 1000);
	assert_true(th_pid_alive(p.a));
	assert_true(th_pid_alive(p.t2));

	assert_int_equal(th_broker_launch(b), 0);
	assert_int_equal(th_comp_pid(b, "testcomp"), p.a);
	assert_int_equal(th_comp_pid(b, "t2"), p.t2);
	assert_true(th_comp_state_is(b, "testcomp", "running"));
	assert_true(th_comp_state_is(b, "t2", "running"));
	assert_int_equal(th_comp_restarts(b, "t2"), 0);
	assert_true(th_log_contains(b, "adopted testcomp (pid"));
	assert_true(th_log_contains(b, "adopted t2 (pid"));
	/* They saw the new broker's epoch (and published BusStats saying so). */
	assert_true(th_wait(noticed_new_broker, b));

	/* A crash of an adopted component: the new broker restarts it, and
	 * the restarted one reads back from the new broker's cache the
	 * TestCounter its predecessor set again (generation 1, so it is 2). */
	kill(p.a, SIGKILL);
	assert_true(th_wait(restarted_with_generation_2, &p));
	assert_int_equal(th_comp_restarts(b, "testcomp"), 1);
	assert_true(th_log_contains(b, "started by an earlier broker"));

	/* SIGTERM stops everything, the adopted t2 too, and leaves no record. */
	pid_t a2 = th_comp_pid(b, "testcomp");
	assert_int_equal(th_broker_stop(b, SIGTERM, &st), 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_false(th_pid_alive(p.t2));
	assert_false(th_pid_alive(a2));
	assert_int_not_equal(access(record, F_OK), 0);
}

/* A record the next broker cannot read: it adopts nothing, says which line
 * and why, and starts the components as usual. */
static void test_damaged_record_adopts_nothing(void **state)
{
	struct th_broker *b = *state;
	char record[400];
	pid_t a;
	int st;

	assert_int_equal(th_broker_start(b, "[\"testcomp\"]", ""), 0);
	assert_true(th_wait(one_started, b));
	a = th_comp_pid(b, "testcomp");
	assert_int_equal(th_broker_stop(b, SIGKILL, &st), 0);
	/* The old component is killed by hand here (the broker would not
	 * know it), and the record damaged. */
	kill(a, SIGKILL);
	record_path(b, record, sizeof(record));
	assert_int_equal(
		th_write_file(record, "child testcomp testcomp 12 notanumber 0 0 -1 -1 -1\n"), 0);
	assert_int_equal(th_broker_launch(b), 0);
	assert_true(th_log_contains(b, "line 1: start ticks \"notanumber\""));
	assert_true(th_log_contains(b, "adopting nothing"));
	assert_true(th_comp_pid(b, "testcomp") > 0);
	assert_int_not_equal(th_comp_pid(b, "testcomp"), a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_next_broker_adopts, th_setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_damaged_record_adopts_nothing, th_setup,
						th_teardown),
	};

	return cmocka_run_group_tests(tests, 0, 0);
}

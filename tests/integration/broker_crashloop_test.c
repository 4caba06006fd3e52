/* broker_crashloop: a component that crashes in a loop is given up after
 * the restart-intensity limit (5 starts in 10 s) and reported failed, while
 * the others keep running; it is not restarted again on its own (no busy
 * loop); msockctl restart NAME clears the failed state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static const char *components = "[{\"name\": \"crashy\", \"program\": \"testcomp\", \"args\": "
				"[\"--crash-after-ms\", \"30\"]},"
				" \"testcomp\"]";

static bool crashy_failed(void *arg)
{
	return th_comp_state_is(arg, "crashy", "failed");
}

static bool crashy_back(void *arg)
{
	return th_comp_restarts(arg, "crashy") >= 5 && !th_comp_state_is(arg, "crashy", "failed");
}

static bool started_up(void *arg)
{
	return th_log_contains(arg, "INFO: started: generation");
}

static void test_crash_loop_is_given_up(void **state)
{
	struct th_broker *b = *state;
	struct timespec one_s = {1, 0};
	pid_t healthy;
	bool ok;
	char *text = 0;

	assert_int_equal(th_broker_start(b, components, ""), 0);
	healthy = th_comp_pid(b, "testcomp");
	assert_true(healthy > 0);

	assert_true(th_wait(crashy_failed, b));
	/* 5 starts: the first and 4 restarts. */
	assert_int_equal(th_comp_restarts(b, "crashy"), 4);
	assert_int_equal(th_comp_pid(b, "crashy"), 0);
	assert_true(th_log_contains(b, "giving up (msockctl restart crashy to try again)"));
	assert_true(th_log_contains(b, "killed by signal 6 (SIGABRT)"));

	/* Failed means failed: a second later nothing has been tried. */
	nanosleep(&one_s, 0);
	assert_true(th_comp_state_is(b, "crashy", "failed"));
	assert_int_equal(th_comp_restarts(b, "crashy"), 4);

	/* The healthy component was never touched. */
	assert_true(th_comp_state_is(b, "testcomp", "running"));
	assert_int_equal(th_comp_pid(b, "testcomp"), healthy);
	assert_int_equal(th_comp_restarts(b, "testcomp"), 0);
	assert_true(th_pid_alive(healthy));

	/* msockctl restart clears the failed state: it runs (and crashes) again. */
	assert_int_equal(th_control(b, "restart", "crashy", &ok, &text), 0);
	assert_true(ok);
	assert_string_equal(text, "restarting crashy");
	free(text);
	assert_true(th_wait(crashy_back, b));

	/* Restarting what does not exist is an error naming it. */
	assert_int_equal(th_control(b, "restart", "nosuch", &ok, &text), 0);
	assert_false(ok);
	assert_string_equal(text, "no component named \"nosuch\"");
	free(text);
}

/* msockctl restart of a running component stops it and starts it again. */
static void test_restart_running_component(void **state)
{
	struct th_broker *b = *state;
	pid_t old;
	bool ok;
	char *text = 0;

	assert_int_equal(th_broker_start(b, "[\"testcomp\"]", ""), 0);
	old = th_comp_pid(b, "testcomp");
	/* Until the component has its signal handling set up, SIGTERM would
	 * simply kill it: wait for its start-up line. */
	assert_true(th_wait(started_up, b));
	assert_int_equal(th_control(b, "restart", "testcomp", &ok, &text), 0);
	assert_true(ok);
	free(text);
	for (int i = 0; i < TH_WAIT_MS / 20; i++) {
		pid_t now = th_comp_pid(b, "testcomp");
		if (now > 0 && now != old && th_comp_state_is(b, "testcomp", "running"))
			break;
		usleep(20000);
	}
	assert_int_not_equal(th_comp_pid(b, "testcomp"), old);
	assert_true(th_comp_state_is(b, "testcomp", "running"));
	assert_false(th_pid_alive(old));
	assert_true(th_log_contains(b, "stopped: exited with status 0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crash_loop_is_given_up, th_setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_restart_running_component, th_setup,
						th_teardown),
	};

	return cmocka_run_group_tests(tests, 0, 0);
}

/* supervise_test: the restart policy (broker/supervise.h) driven by explicit
 * clock values: backoff with jitter, its cap and reset, the
 * restart-intensity limit, stopping, and the exit descriptions from real
 * wait statuses. Nothing sleeps. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "supervise.h"

#define MS(x) ((uint64_t)(x)*NS_PER_MS)
/* A monotonic clock is far from zero; so are our fake times. */
#define T0 (1000 * NS_PER_SEC)

enum {
	RUNS_MANY = 40, /* restarts in the "never gives up" tests */
};

/* Real wait statuses, from children that did what the name says. */
static int status_exit3, status_exit0, status_sigkill;

static int wait_child(int how)
{
	int status = 0;
	pid_t pid = fork();

	if (pid == 0) {
		if (how < 0)
			raise(-how);
		_exit(how);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static int group_setup(void **state)
{
	(void)state;
	status_exit3 = wait_child(3);
	status_exit0 = wait_child(0);
	status_sigkill = wait_child(-SIGKILL);
	return 0;
}

/* Runs one start at `start` and an exit `run` later; returns the exit time. */
static uint64_t run_once(struct sup_child *c, uint64_t start, uint64_t run, uint32_t rnd)
{
	sup_started(c, 4242, start);
	assert_int_equal(c->state, SUP_RUNNING);
	sup_exited(c, status_exit3, start + run, rnd);
	return start + run;
}

static void test_init(void **state)
{
	struct sup_child c;

	(void)state;
	memset(&c, 0xa5, sizeof(c));
	sup_init(&c);
	assert_int_equal(c.state, SUP_STOPPED);
	assert_int_equal(c.pid, 0);
	assert_int_equal(c.restarts, 0);
	assert_int_equal(c.n_starts, 0);
	assert_int_equal(c.backoff_ns, MS(SUP_BACKOFF_INITIAL_MS));
	assert_false(sup_due(&c, T0));
}

static void test_first_start_is_not_a_restart(void **state)
{
	struct sup_child c;

	(void)state;
	sup_init(&c);
	sup_started(&c, 100, T0);
	assert_int_equal(c.state, SUP_RUNNING);
	assert_int_equal(c.pid, 100);
	assert_int_equal(c.started_ns, T0);
	assert_int_equal(c.restarts, 0);
	sup_exited(&c, status_exit3, T0 + MS(50), 0);
	assert_int_equal(c.pid, 0);
	assert_int_equal(c.restarts, 0);
	sup_started(&c, 101, c.next_start_ns);
	assert_int_equal(c.restarts, 1);
	assert_int_equal(c.pid, 101);
	sup_exited(&c, status_exit3, c.started_ns + MS(50), 0);
	sup_started(&c, 102, c.next_start_ns);
	assert_int_equal(c.restarts, 2);
}

static void test_exit_jitter_low(void **state)
{
	struct sup_child c;
	uint64_t t;

	(void)state;
	sup_init(&c);
	t = run_once(&c, T0, MS(50), 0);
	assert_int_equal(c.state, SUP_BACKOFF);
	assert_int_equal(c.next_start_ns, t + MS(SUP_BACKOFF_INITIAL_MS) * 3 / 4);
	assert_string_equal(c.last_exit, "exited with status 3");
}

static void test_exit_jitter_high(void **state)
{
	struct sup_child c;
	uint64_t t;

	(void)state;
	sup_init(&c);
	t = run_once(&c, T0, MS(50), UINT32_MAX);
	assert_int_equal(c.state, SUP_BACKOFF);
	assert_int_equal(c.next_start_ns, t + MS(SUP_BACKOFF_INITIAL_MS) * 5 / 4);
}

static void test_exit_jitter_within_bounds(void **state)
{
	static const uint32_t rnds[] = {1,	    12345,	0x40000000,    0x7fffffff,
					0x80000000, 0xc0000000, UINT32_MAX - 1};
	uint64_t prev = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(rnds) / sizeof(rnds[0]); i++) {
		struct sup_child c;
		uint64_t t, d;

		sup_init(&c);
		t = run_once(&c, T0, MS(50), rnds[i]);
		d = c.next_start_ns - t;
		assert_in_range(d, MS(SUP_BACKOFF_INITIAL_MS) * 3 / 4,
				MS(SUP_BACKOFF_INITIAL_MS) * 5 / 4);
		/* More random, later: the jitter follows rnd. */
		assert_true(d >= prev);
		prev = d;
	}
	/* Half way: the plain backoff (within rounding). */
	{
		struct sup_child c;
		uint64_t t;

		sup_init(&c);
		t = run_once(&c, T0, MS(50), UINT32_MAX / 2);
		assert_in_range(c.next_start_ns - t, MS(SUP_BACKOFF_INITIAL_MS) - 1,
				MS(SUP_BACKOFF_INITIAL_MS) + 1);
	}
}

/* Runs of 9 s: never "stable", and never 5 starts in 10 s. */
static void test_backoff_doubles_and_caps(void **state)
{
	struct sup_child c;
	uint64_t start = T0, t, want = MS(SUP_BACKOFF_INITIAL_MS);

	(void)state;
	sup_init(&c);
	for (int i = 0; i < 15; i++) {
		t = run_once(&c, start, MS(9000), 0);
		assert_int_equal(c.state, SUP_BACKOFF);
		assert_int_equal(c.next_start_ns - t, want * 3 / 4);
		want *= 2;
		if (want > MS(SUP_BACKOFF_MAX_MS))
			want = MS(SUP_BACKOFF_MAX_MS);
		assert_int_equal(c.backoff_ns, want);
		start = c.next_start_ns;
	}
	assert_int_equal(c.backoff_ns, MS(SUP_BACKOFF_MAX_MS));
	assert_int_equal(c.restarts, 14);
}

/* The most jitter at the longest backoffs: 1.25 x, and never below the
 * delay a smaller rnd gives. */
static void test_jitter_high_at_long_backoff(void **state)
{
	struct sup_child c;
	uint64_t start = T0, t;

	(void)state;
	sup_init(&c);
	while (c.backoff_ns < MS(SUP_BACKOFF_MAX_MS)) {
		uint64_t b = c.backoff_ns;
		t = run_once(&c, start, MS(9000), UINT32_MAX);
		assert_int_equal(c.state, SUP_BACKOFF);
		assert_int_equal(c.next_start_ns - t, b * 5 / 4);
		start = c.next_start_ns;
	}
	t = run_once(&c, start, MS(9000), UINT32_MAX);
	assert_int_equal(c.next_start_ns - t, MS(SUP_BACKOFF_MAX_MS) * 5 / 4);
	t = run_once(&c, c.next_start_ns, MS(9000), 0xc0000000);
	assert_in_range(c.next_start_ns - t, MS(SUP_BACKOFF_MAX_MS),
			MS(SUP_BACKOFF_MAX_MS) * 5 / 4);
}

static void test_stable_run_resets_backoff(void **state)
{
	struct sup_child c;
	uint64_t t;

	(void)state;
	sup_init(&c);
	/* Three quick crashes, spread so the intensity limit stays out. */
	t = run_once(&c, T0, MS(4000), 0);
	t = run_once(&c, c.next_start_ns, MS(4000), 0);
	t = run_once(&c, c.next_start_ns, MS(4000), 0);
	assert_int_equal(c.backoff_ns, MS(SUP_BACKOFF_INITIAL_MS) * 8);
	/* Just short of stable: the backoff keeps growing. */
	t = run_once(&c, c.next_start_ns, MS(SUP_STABLE_AFTER_MS) - 1, 0);
	assert_int_equal(c.next_start_ns - t, MS(SUP_BACKOFF_INITIAL_MS) * 8 * 3 / 4);
	assert_int_equal(c.backoff_ns, MS(SUP_BACKOFF_INITIAL_MS) * 16);
	/* Up long enough: back to the initial delay. */
	t = run_once(&c, c.next_start_ns, MS(SUP_STABLE_AFTER_MS) + 1000, 0);
	assert_int_equal(c.state, SUP_BACKOFF);
	assert_int_equal(c.next_start_ns - t, MS(SUP_BACKOFF_INITIAL_MS) * 3 / 4);
	assert_int_equal(c.backoff_ns, MS(SUP_BACKOFF_INITIAL_MS) * 2);
}

static void test_intensity_limit(void **state)
{
	struct sup_child c;
	uint64_t t;

	(void)state;
	sup_init(&c);
	/* Crash 10 ms after every start, restarting as soon as due. */
	t = run_once(&c, T0, MS(10), 0);
	for (int i = 2; i <= SUP_INTENSITY_MAX_STARTS; i++) {
		assert_int_equal(c.state, SUP_BACKOFF);
		assert_true(sup_due(&c, c.next_start_ns));
		t = run_once(&c, c.next_start_ns, MS(10), 0);
	}
	/* Five starts, all within the window: it gave up. */
	assert_true(t - T0 < MS(SUP_INTENSITY_WINDOW_MS));
	assert_int_equal(c.state, SUP_FAILED);
	assert_string_equal(c.last_exit, "exited with status 3");
	assert_false(sup_due(&c, t));
	assert_false(sup_due(&c, t + 3600 * NS_PER_SEC));
	assert_int_equal(c.state, SUP_FAILED);
}

static void test_intensity_fourth_exit_still_restarts(void **state)
{
	struct sup_child c;
	uint64_t t = T0;

	(void)state;
	sup_init(&c);
	for (int i = 1; i < SUP_INTENSITY_MAX_STARTS; i++) {
		t = run_once(&c, i == 1 ? T0 : c.next_start_ns, MS(10), UINT32_MAX);
		assert_int_equal(c.state, SUP_BACKOFF);
	}
	assert_true(t - T0 < MS(SUP_INTENSITY_WINDOW_MS));
}

/* Five starts 2 s apart fit in the window; 2.5 s apart they do not. */
static void test_intensity_window_boundary(void **state)
{
	struct sup_child c;

	(void)state;
	sup_init(&c);
	for (int i = 0; i < SUP_INTENSITY_MAX_STARTS; i++)
		run_once(&c, T0 + MS(2000) * (uint64_t)i, MS(100), 0);
	assert_int_equal(c.state, SUP_FAILED);

	sup_init(&c);
	for (int i = 0; i < SUP_INTENSITY_MAX_STARTS; i++) {
		uint64_t start = T0 + MS(2500) * (uint64_t)i;
		if (i)
			assert_true(sup_due(&c, start));
		run_once(&c, start, MS(100), 0);
		assert_int_equal(c.state, SUP_BACKOFF);
	}
}

static void test_spread_starts_never_fail(void **state)
{
	struct sup_child c;
	uint64_t start = T0;

	(void)state;
	sup_init(&c);
	/* Four starts per window, forever. */
	for (int i = 0; i < RUNS_MANY; i++) {
		run_once(&c, start, MS(100), (uint32_t)i * 0x9e3779b9u);
		assert_int_equal(c.state, SUP_BACKOFF);
		start += MS(3000);
		if (start < c.next_start_ns)
			start = c.next_start_ns;
	}
	assert_int_equal(c.restarts, RUNS_MANY - 1);
}

static void test_due(void **state)
{
	struct sup_child c;
	uint64_t t;

	(void)state;
	sup_init(&c);
	assert_false(sup_due(&c, T0)); /* STOPPED */
	sup_started(&c, 7, T0);
	assert_false(sup_due(&c, T0 + MS(1000000))); /* RUNNING */
	t = T0 + MS(20);
	sup_exited(&c, status_sigkill, t, 0);
	assert_int_equal(c.state, SUP_BACKOFF);
	assert_true(c.next_start_ns > t);
	assert_false(sup_due(&c, t));
	assert_false(sup_due(&c, c.next_start_ns - 1));
	assert_true(sup_due(&c, c.next_start_ns));
	assert_true(sup_due(&c, c.next_start_ns + MS(60000)));
	sup_stopping(&c, c.next_start_ns + 1);
	assert_false(sup_due(&c, c.next_start_ns + MS(60000))); /* STOPPING */
}

static void test_reset_clears_failed(void **state)
{
	struct sup_child c;
	uint64_t t = T0;

	(void)state;
	sup_init(&c);
	for (int i = 0; i < SUP_INTENSITY_MAX_STARTS; i++)
		t = run_once(&c, T0 + MS(100) * (uint64_t)i, MS(10), 0);
	assert_int_equal(c.state, SUP_FAILED);
	sup_reset(&c);
	assert_int_equal(c.state, SUP_BACKOFF);
	assert_true(sup_due(&c, t));
	assert_int_equal(c.backoff_ns, MS(SUP_BACKOFF_INITIAL_MS));
	/* The window starts afresh: the next crash backs off, from the start. */
	t = run_once(&c, t, MS(10), 0);
	assert_int_equal(c.state, SUP_BACKOFF);
	assert_int_equal(c.next_start_ns - t, MS(SUP_BACKOFF_INITIAL_MS) * 3 / 4);
	for (int i = 1; i < SUP_INTENSITY_MAX_STARTS - 1; i++) {
		t = run_once(&c, c.next_start_ns, MS(10), 0);
		assert_int_equal(c.state, SUP_BACKOFF);
	}
	t = run_once(&c, c.next_start_ns, MS(10), 0);
	assert_int_equal(c.state, SUP_FAILED);
}

static void test_reset_of_running_keeps_it_running(void **state)
{
	struct sup_child c;

	(void)state;
	sup_init(&c);
	sup_started(&c, 9, T0);
	sup_reset(&c);
	assert_int_equal(c.state, SUP_RUNNING);
	assert_int_equal(c.pid, 9);
	assert_false(sup_due(&c, T0 + MS(1)));
}

static void test_stopping_exit_is_stopped(void **state)
{
	struct sup_child c;
	uint64_t t = T0 + MS(500);

	(void)state;
	sup_init(&c);
	sup_started(&c, 55, T0);
	sup_stopping(&c, t);
	assert_int_equal(c.state, SUP_STOPPING);
	assert_int_equal(c.stop_deadline_ns, t + MS(SUP_STOP_TIMEOUT_MS));
	sup_exited(&c, status_sigkill, t + MS(10), UINT32_MAX);
	assert_int_equal(c.state, SUP_STOPPED);
	assert_int_equal(c.pid, 0);
	assert_int_equal(c.next_start_ns, 0);
	assert_string_equal(c.last_exit, "killed by signal 9 (SIGKILL)");
	assert_false(sup_due(&c, t + MS(10)));
	assert_false(sup_due(&c, t + 3600 * NS_PER_SEC));
	/* A deliberate stop of a quickly-stopped component never counts
	 * towards FAILED: stop it five times in a row. */
	for (int i = 0; i < SUP_INTENSITY_MAX_STARTS; i++) {
		sup_started(&c, 56 + i, t + MS(100) * (uint64_t)(i + 1));
		sup_stopping(&c, t + MS(100) * (uint64_t)(i + 1) + 1);
		sup_exited(&c, status_exit0, t + MS(100) * (uint64_t)(i + 1) + 2, 0);
		assert_int_equal(c.state, SUP_STOPPED);
	}
}

static void test_describe_exit(void **state)
{
	char buf[SUP_EXIT_TEXT_MAX];
	char small[8];

	(void)state;
	sup_describe_exit(status_exit3, buf, sizeof(buf));
	assert_string_equal(buf, "exited with status 3");
	sup_describe_exit(status_exit0, buf, sizeof(buf));
	assert_string_equal(buf, "exited with status 0");
	sup_describe_exit(status_sigkill, buf, sizeof(buf));
	assert_string_equal(buf, "killed by signal 9 (SIGKILL)");
	/* The seccomp filter's signal says where it came from. */
	sup_describe_exit(SIGSYS, buf, sizeof(buf));
	assert_string_equal(buf, "killed by signal 31 (SIGSYS) (seccomp)");
	/* Truncated, still a string. */
	memset(small, 'x', sizeof(small));
	sup_describe_exit(status_exit3, small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, "exited ", sizeof(small) - 1);
}

static void test_exited_records_text(void **state)
{
	struct sup_child c;

	(void)state;
	sup_init(&c);
	run_once(&c, T0, MS(10), 0);
	assert_string_equal(c.last_exit, "exited with status 3");
	sup_started(&c, 1, c.next_start_ns);
	sup_exited(&c, status_sigkill, c.started_ns + MS(10), 0);
	assert_string_equal(c.last_exit, "killed by signal 9 (SIGKILL)");
}

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(sup_state_name(SUP_STOPPED), "stopped");
	assert_string_equal(sup_state_name(SUP_RUNNING), "running");
	assert_string_equal(sup_state_name(SUP_BACKOFF), "backoff");
	assert_string_equal(sup_state_name(SUP_FAILED), "failed");
	assert_string_equal(sup_state_name(SUP_STOPPING), "stopping");
	assert_string_equal(sup_state_name(SUP_INVALID), "invalid");
	assert_string_equal(sup_state_name((enum sup_state)99), "invalid");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_first_start_is_not_a_restart),
		cmocka_unit_test(test_exit_jitter_low),
		cmocka_unit_test(test_exit_jitter_high),
		cmocka_unit_test(test_exit_jitter_within_bounds),
		cmocka_unit_test(test_backoff_doubles_and_caps),
		cmocka_unit_test(test_jitter_high_at_long_backoff),
		cmocka_unit_test(test_stable_run_resets_backoff),
		cmocka_unit_test(test_intensity_limit),
		cmocka_unit_test(test_intensity_fourth_exit_still_restarts),
		cmocka_unit_test(test_intensity_window_boundary),
		cmocka_unit_test(test_spread_starts_never_fail),
		cmocka_unit_test(test_due),
		cmocka_unit_test(test_reset_clears_failed),
		cmocka_unit_test(test_reset_of_running_keeps_it_running),
		cmocka_unit_test(test_stopping_exit_is_stopped),
		cmocka_unit_test(test_describe_exit),
		cmocka_unit_test(test_exited_records_text),
		cmocka_unit_test(test_state_names),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}

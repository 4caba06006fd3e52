/* broker_stop: SIGTERM stops every component (SIGTERM, then SIGKILL after
 * the timeout for one that ignores it) and leaves no process behind; if the
 * broker itself dies, its children notice and exit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static const char *two = "[\"testcomp\", {\"name\": \"t2\", \"program\": \"testcomp\"}]";

static bool started_up(void *arg)
{
	return th_log_contains(arg, "INFO: started: generation");
}

static void test_sigterm_leaves_no_process(void **state)
{
	struct th_broker *b = *state;
	pid_t p1, p2;
	int st;

	assert_int_equal(th_broker_start(b, two, ""), 0);
	p1 = th_comp_pid(b, "testcomp");
	p2 = th_comp_pid(b, "t2");
	assert_true(p1 > 0 && p2 > 0);
	assert_int_equal(th_broker_stop(b, SIGTERM, &st), 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_false(th_pid_alive(p1));
	assert_false(th_pid_alive(p2));
	assert_true(th_log_contains(b, "all components stopped; exiting"));
	/* The control socket is gone with it. */
	assert_int_not_equal(access(b->control, F_OK), 0);
}

/* The bus lives in a 0700 directory owned by the components' user; the
 * control socket is 0600 (root only). */
static void test_permissions(void **state)
{
	struct th_broker *b = *state;
	struct passwd *pw = getpwnam("nobody");
	struct stat st;
	char path[400];

	assert_int_equal(th_broker_start(b, "[\"testcomp\"]", ""), 0);
	assert_int_equal(stat(b->bus_dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	if (geteuid() == 0) {
		assert_non_null(pw);
		assert_int_equal(st.st_uid, pw->pw_uid);
	}
	snprintf(path, sizeof(path), "%s/pub.ipc", b->bus_dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0077, 0);
	assert_int_equal(stat(b->control, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
}

static void test_stubborn_component_is_killed(void **state)
{
	struct th_broker *b = *state;
	pid_t p;
	int st;

	assert_int_equal(th_broker_start(b,
					 "[{\"name\": \"stubborn\", \"program\": \"testcomp\", "
					 "\"args\": [\"--ignore-sigterm\"]}]",
					 ""),
			 0);
	p = th_comp_pid(b, "stubborn");
	assert_true(p > 0);
	/* Until the component has its signal handling set up, SIGTERM would
	 * simply kill it: wait for its start-up line. */
	assert_true(th_wait(started_up, b));
	assert_int_equal(th_broker_stop(b, SIGTERM, &st), 0);
	assert_true(WIFEXITED(st));
	assert_false(th_pid_alive(p));
	assert_true(th_log_contains(b, "did not stop within 5000 ms: SIGKILL"));
}

struct gone {
	pid_t a, b;
};

static bool both_gone(void *arg)
{
	struct gone *g = arg;
	return !th_pid_alive(g->a) && !th_pid_alive(g->b);
}

static void test_broker_death_takes_children(void **state)
{
	struct th_broker *b = *state;
	struct gone g;
	int st;

	assert_int_equal(th_broker_start(b, two, ""), 0);
	g.a = th_comp_pid(b, "testcomp");
	g.b = th_comp_pid(b, "t2");
	assert_true(g.a > 0 && g.b > 0);
	/* No chance to clean up: the children must notice on their own. */
	assert_int_equal(th_broker_stop(b, SIGKILL, &st), 0);
	assert_true(WIFSIGNALED(st));
	assert_true(th_wait(both_gone, &g));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sigterm_leaves_no_process, th_setup,
						th_teardown),
		cmocka_unit_test_setup_teardown(test_permissions, th_setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_stubborn_component_is_killed, th_setup,
						th_teardown),
		cmocka_unit_test_setup_teardown(test_broker_death_takes_children, th_setup,
						th_teardown),
	};

	return cmocka_run_group_tests(tests, 0, 0);
}

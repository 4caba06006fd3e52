/* broker_sigsys: a component its seccomp filter kills (testcomp making a
 * TCP socket, which its profile in lib/proctab.c does not allow) is
 * restarted like any crash, and `msockctl status` says why it died:
 * LastExit "killed by signal 31 (SIGSYS) (seccomp)". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const char *components = "[{\"name\": \"sys\", \"program\": \"testcomp\", \"args\": "
				"[\"--sandbox-selftest\", \"tcp-socket\"]}]";

static bool restarted(void *arg)
{
	return th_comp_restarts(arg, "sys") >= 1;
}

static void test_sigsys_is_reported(void **state)
{
	struct th_broker *b = *state;
	json_t *st;
	const char *last;

	assert_int_equal(th_broker_start(b, components, ""), 0);
	assert_true(th_wait(restarted, b));
	st = th_status(b);
	assert_non_null(st);
	last = json_string_value(json_object_get(
		json_object_get(json_object_get(st, "Components"), "sys"), "LastExit"));
	assert_non_null(last);
	print_message("LastExit: %s\n", last);
	assert_non_null(strstr(last, "killed by signal 31 (SIGSYS) (seccomp)"));
	json_decref(st);
	assert_true(th_log_contains(b, "(SIGSYS) (seccomp)"));
#ifdef MSOCK_TEST_BUILD
	/* Test builds name the call in the component's log. */
	assert_true(th_log_contains(b, "refused syscall 41 (socket)"));
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sigsys_is_reported, th_setup, th_teardown),
	};

	return cmocka_run_group_tests(tests, 0, 0);
}

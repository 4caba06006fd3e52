/* broker_reload_wait: `msockctl reload --wait`, the bus barrier
 * (docs/bus.md, "The config barrier"). Checked: the answer comes only once
 * every running component applied the new config, so what they set in
 * answer (a new peer's loopback endpoint from the dataplane) and a
 * component the reload added are there when it returns, with no polling;
 * a component that never answers (stopped with SIGSTOP) makes it fail at
 * its deadline naming that component and only it, through msockctl too;
 * one that is not running (failed) is skipped and named; a wait over the
 * limit is refused before anything is reloaded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "harness.h"

#define KEY_A "nodekey:" HEX_A
#define HEX_A "aa00000000000000000000000000000000000000000000000000000000000001"
#define KEY_B "nodekey:" HEX_B
#define HEX_B "bb00000000000000000000000000000000000000000000000000000000000002"

static json_t *comp(json_t *st, const char *name)
{
	return json_object_get(json_object_get(st, "Components"), name);
}

static long long comp_gen(const struct th_broker *b, const char *name)
{
	json_t *st = th_status(b);
	long long g = json_integer_value(json_object_get(comp(st, name), "ConfigGeneration"));

	json_decref(st);
	return g;
}

static long long broker_gen(const struct th_broker *b)
{
	json_t *st = th_status(b);
	long long g = json_integer_value(json_object_get(st, "ConfigGeneration"));

	json_decref(st);
	return g;
}

struct gen_wait {
	const struct th_broker *b;
	const char *name;
	long long gen;
};

static bool comp_at_gen(void *arg)
{
	struct gen_wait *g = arg;
	return comp_gen(g->b, g->name) >= g->gen;
}

/* The components' config: dataplane (WireGuard's port given, so that it
 * publishes the peers' endpoints), testcomp, and `more` components. */
static void config(const char *more, const char *peers, char *comps, size_t ccap, char *extra,
		   size_t ecap)
{
	snprintf(comps, ccap, "[\"dataplane\", \"testcomp\"%s]", more);
	snprintf(extra, ecap, ", \"listen_port\": 0, \"wg_listen_port\": 51999, \"peers\": [%s]",
		 peers);
}

#define PEER_A "{\"name\": \"a\", \"node_key\": \"" KEY_A "\"}"
#define PEER_B "{\"name\": \"b\", \"node_key\": \"" KEY_B "\"}"
#define T2     ", {\"name\": \"t2\", \"program\": \"testcomp\"}"

static void test_returns_once_applied(void **state)
{
	struct th_broker *b = *state;
	struct gen_wait g = {b, "dataplane", 1};
	char comps[512], extra[1024], *text = 0;
	bool ok;

	config("", PEER_A, comps, sizeof(comps), extra, sizeof(extra));
	assert_int_equal(th_broker_start(b, comps, extra), 0);
	assert_int_equal(broker_gen(b), 1);
	assert_true(th_wait(comp_at_gen, &g));
	g.name = "testcomp";
	assert_true(th_wait(comp_at_gen, &g));

	/* A second peer and a second testcomp. */
	config(T2, PEER_A ", " PEER_B, comps, sizeof(comps), extra, sizeof(extra));
	assert_int_equal(th_write_config(b, comps, extra), 0);
	uint64_t t0 = clock_mono_ns();
	assert_int_equal(th_control_wait(b, "reload", 0, 10000, &ok, &text), 0);
	print_message("reload --wait: %s after %llu ms\n", text,
		      (unsigned long long)th_ms_since(t0));
	assert_true(ok);
	assert_non_null(strstr(text, "applied by every running component (generation 2):"));
	assert_non_null(strstr(text, "dataplane"));
	assert_non_null(strstr(text, "t2"));
	assert_null(strstr(text, "not waited for"));
	free(text);

	/* No polling from here on: it is all there already. */
	json_t *st = th_status(b);
	assert_int_equal(json_integer_value(json_object_get(st, "ConfigGeneration")), 2);
	assert_string_equal(json_string_value(json_object_get(comp(st, "t2"), "State")), "running");
	for (const char *const *n = (const char *const[]){"dataplane", "testcomp", "t2", 0}; *n;
	     n++)
		assert_int_equal(
			json_integer_value(json_object_get(comp(st, *n), "ConfigGeneration")), 2);
	const char *lo = json_string_value(json_object_get(
		json_object_get(json_object_get(st, "Peer"), KEY_B), "LocalEndpoint"));
	assert_non_null(lo);
	assert_true(*lo != 0);
	json_decref(st);
	/* wg-config refuses while a peer has no endpoint yet. */
	assert_int_equal(th_control(b, "wg-config", 0, &ok, &text), 0);
	if (!ok)
		fail_msg("wg-config right after reload --wait: %s", text);
	free(text);

	/* Without --wait the answer is at once, as before: the generation
	 * moves all the same. */
	assert_int_equal(th_control(b, "reload", 0, &ok, &text), 0);
	assert_true(ok);
	assert_string_equal(strstr(text, "reloaded ") ? "reloaded" : text, "reloaded");
	assert_null(strstr(text, "applied"));
	free(text);
	assert_int_equal(broker_gen(b), 3);
}

/* t2 is stopped (SIGSTOP): it is running as far as the broker knows, and
 * never reads the heartbeat. */
static void test_times_out_naming_the_silent_one(void **state)
{
	struct th_broker *b = *state;
	struct gen_wait g = {b, "t2", 1};
	char comps[512], extra[1024], cmd[1024], out[4096], *text = 0;
	bool ok;

	config(T2, PEER_A, comps, sizeof(comps), extra, sizeof(extra));
	assert_int_equal(th_broker_start(b, comps, extra), 0);
	assert_true(th_wait(comp_at_gen, &g));
	pid_t t2 = th_comp_pid(b, "t2");
	assert_true(t2 > 0);
	assert_int_equal(kill(t2, SIGSTOP), 0);

	config(T2, PEER_A ", " PEER_B, comps, sizeof(comps), extra, sizeof(extra));
	assert_int_equal(th_write_config(b, comps, extra), 0);
	uint64_t t0 = clock_mono_ns();
	assert_int_equal(th_control_wait(b, "reload", 0, 1500, &ok, &text), 0);
	uint64_t took = th_ms_since(t0);
	print_message("after %llu ms: %s\n", (unsigned long long)took, text);
	assert_false(ok);
	assert_true(took >= 1400 && took < 5000);
	snprintf(cmd, sizeof(cmd),
		 "but not applied within 1.5 s by: t2 (running, pid %d, at "
		 "generation 1)",
		 (int)t2);
	assert_non_null(strstr(text, cmd));
	assert_null(strstr(text, "testcomp ("));
	assert_null(strstr(text, "dataplane ("));
	free(text);
	/* The reload itself happened: the peer is there. */
	json_t *st = th_status(b);
	assert_non_null(json_object_get(json_object_get(st, "Peer"), KEY_B));
	json_decref(st);

	/* The same through msockctl: exit status 1, the message on stderr. */
	snprintf(cmd, sizeof(cmd), "%s/msockctl --socket %s reload --wait --timeout 1 2>&1",
		 th_bin_dir(), b->control);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	size_t n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	int rc = pclose(f);
	print_message("msockctl: %s", out);
	assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
	assert_non_null(strstr(out, "msockctl reload: "));
	assert_non_null(strstr(out, "not applied within 1.0 s by: t2 (running"));

	/* Woken, it reads what queued and answers: the next wait succeeds. */
	assert_int_equal(kill(t2, SIGCONT), 0);
	assert_int_equal(th_control_wait(b, "reload", 0, 10000, &ok, &text), 0);
	if (!ok)
		fail_msg("after SIGCONT: %s", text);
	assert_non_null(strstr(text, "(generation 4)"));
	free(text);
	assert_int_equal(comp_gen(b, "t2"), 4);
}

static bool crashy_failed(void *arg)
{
	return th_comp_state_is(arg, "crashy", "failed");
}

/* A component that is not running is not waited for, and said so; one
 * over the limit is refused before reloading. */
static void test_skips_what_does_not_run(void **state)
{
	struct th_broker *b = *state;
	const char *crashy = ", {\"name\": \"crashy\", \"program\": \"testcomp\", \"args\": "
			     "[\"--crash-after-ms\", \"50\"]}";
	char comps[512], extra[1024], *text = 0;
	bool ok;

	config(crashy, PEER_A, comps, sizeof(comps), extra, sizeof(extra));
	assert_int_equal(th_broker_start(b, comps, extra), 0);
	assert_true(th_wait(crashy_failed, b));
	assert_int_equal(th_control_wait(b, "reload", 0, 10000, &ok, &text), 0);
	print_message("%s\n", text);
	assert_true(ok);
	assert_non_null(strstr(text, "(generation 2): dataplane, testcomp"));
	assert_non_null(strstr(text, "; not running, not waited for: crashy (failed)"));
	free(text);

	assert_int_equal(th_control_wait(b, "reload", 0, 60001, &ok, &text), 0);
	assert_false(ok);
	assert_non_null(strstr(text, "at most 60000 ms"));
	free(text);
	assert_int_equal(broker_gen(b), 2); /* not reloaded */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_returns_once_applied, th_setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_times_out_naming_the_silent_one, th_setup,
						th_teardown),
		cmocka_unit_test_setup_teardown(test_skips_what_does_not_run, th_setup,
						th_teardown),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "broker_reload_wait: needs root (the dataplane binds to lo)\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, 0, 0);
}

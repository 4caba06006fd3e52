/* broker_health_test: the broker's health (broker/health.c): the clock-jump
 * detector on injected clocks, the crash-loop verdict of the restart
 * policy (sup_crash_loop), and the status's Health array from a cache
 * holding valid, cleared and malformed values (the malformed ones
 * counted, not shown, nothing crashing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "clock.h"

static void test_clock_jump(void **state)
{
	struct clock_watch w = {0};
	uint64_t mono = 100 * NS_PER_SEC;
	int64_t real = 1700000000000;

	(void)state;
	assert_int_equal(broker_clock_check(&w, mono, real), 0); /* primes */
	/* Both advance together, with a little lateness and slewing. */
	mono += NS_PER_SEC;
	real += 1000 + 30;
	assert_int_equal(broker_clock_check(&w, mono, real), 0);
	mono += NS_PER_SEC;
	real += 1000 - 1900; /* 1.9 s back: under the threshold */
	assert_int_equal(broker_clock_check(&w, mono, real), 0);
	assert_int_equal(w.jumped_mono_ns, 0);
	/* Slept an hour: monotonic stood still, realtime did not. */
	mono += NS_PER_SEC;
	real += 1000 + 3600000;
	assert_int_equal(broker_clock_check(&w, mono, real), 3600000);
	assert_int_equal(w.jumped_mono_ns, mono);
	/* Set back by hand. */
	mono += NS_PER_SEC;
	real += 1000 - 5000;
	assert_int_equal(broker_clock_check(&w, mono, real), -5000);
	assert_int_equal(w.jump_ms, -5000);
	/* Steady again. */
	mono += NS_PER_SEC;
	real += 1000;
	assert_int_equal(broker_clock_check(&w, mono, real), 0);
}

static void test_crash_loop(void **state)
{
	struct sup_child c;
	uint64_t t = 1000 * NS_PER_SEC;

	(void)state;
	sup_init(&c);
	assert_false(sup_crash_loop(&c, t));
	sup_started(&c, 10, t);
	assert_false(sup_crash_loop(&c, t));
	/* Two quick exits: not yet a loop. */
	for (int i = 0; i < 2; i++) {
		t += 100 * NS_PER_MS;
		sup_exited(&c, 6, t, 0);
		assert_false(sup_crash_loop(&c, t));
		t = c.next_start_ns;
		sup_started(&c, 11 + i, t);
	}
	/* The third: a loop, while it backs off and while its next run is
	 * young. */
	t += 100 * NS_PER_MS;
	sup_exited(&c, 6, t, 0);
	assert_int_equal(c.state, SUP_BACKOFF);
	assert_true(sup_crash_loop(&c, t));
	t = c.next_start_ns;
	sup_started(&c, 20, t);
	assert_true(sup_crash_loop(&c, t + 9 * NS_PER_SEC));
	/* Up 10 s: over. */
	assert_false(sup_crash_loop(&c, t + SUP_STABLE_AFTER_MS * NS_PER_MS));
	/* Failed: a loop until msockctl restart (sup_reset). */
	c.state = SUP_FAILED;
	assert_true(sup_crash_loop(&c, t + 60 * NS_PER_SEC));
	sup_reset(&c);
	assert_false(sup_crash_loop(&c, t + 60 * NS_PER_SEC));
}

static void put(struct broker *b, const char *key, const Msock__Health *m)
{
	uint8_t buf[2048];
	size_t len = msock__health__pack(m, buf);
	uint64_t seq;

	assert_true(len < sizeof(buf));
	assert_true(state_cache_set(b->cache, BUS_T_Health, key, buf, len, &seq) >= 0);
}

static void put_raw(struct broker *b, const char *key, const void *p, size_t len)
{
	uint64_t seq;

	assert_true(state_cache_set(b->cache, BUS_T_Health, key, p, len, &seq) >= 0);
}

static Msock__Health warning(char *component, char *code, char *sev, char *text, int64_t since)
{
	Msock__Health m = MSOCK__HEALTH__INIT;

	m.component = component;
	m.code = code;
	m.severity = sev;
	m.text = text;
	m.since_unix_ms = since;
	return m;
}

static void test_status_array(void **state)
{
	static struct broker b; /* large: off the stack */
	Msock__Health m;
	uint64_t ignored = 99;
	json_t *arr, *w;

	(void)state;
	memset(&b, 0, sizeof(b));
	b.cache = state_cache_new();
	log_ratelimit_init(&b.rl_health, LOG_RATELIMIT_DEFAULT_MS);
	assert_non_null(b.cache);

	/* Empty: an empty array. */
	arr = broker_health_json(&b, &ignored);
	assert_int_equal(json_array_size(arr), 0);
	assert_int_equal(ignored, 0);
	json_decref(arr);

	m = warning("netcheck", "udp-blocked", "medium", "UDP is blocked", 1000);
	put(&b, "netcheck/udp-blocked", &m);
	m = warning("broker", "crash-loop", "high", "disco is restarting in a loop", 2000);
	put(&b, "broker/crash-loop", &m);
	m = warning("derp", "no-derp-home", "medium", "no home", 3000);
	put(&b, "derp/no-derp-home", &m);
	/* Cleared the other way: skipped, not counted. */
	m = warning("portmapper", "portmap-failed", "low", "old", 1);
	m.ok = true;
	put(&b, "portmapper/portmap-failed", &m);
	/* Malformed, each counted. */
	put_raw(&b, "not-a-node-key", "", 0);		     /* a key without a code */
	put_raw(&b, "derp/junk", "\xff\xff\xff\xff\xff", 5); /* does not decode */
	m = warning("disco", "no-derp-home", "medium", "forged", 0);
	put(&b, "derp/no-derp-home2", &m); /* component not the key's */
	m = warning("derp", "x", "urgent", "t", 0);
	put(&b, "derp/x", &m); /* severity */
	m = warning("derp", "y", "low", "two\nlines", 0);
	put(&b, "derp/y", &m); /* a control byte */

	arr = broker_health_json(&b, &ignored);
	assert_int_equal(ignored, 5);
	assert_int_equal(json_array_size(arr), 3);
	/* Most severe first, then by component and code. */
	w = json_array_get(arr, 0);
	assert_string_equal(json_string_value(json_object_get(w, "Code")), "crash-loop");
	assert_string_equal(json_string_value(json_object_get(w, "Component")), "broker");
	assert_string_equal(json_string_value(json_object_get(w, "Severity")), "high");
	assert_string_equal(json_string_value(json_object_get(w, "Text")),
			    "disco is restarting in a loop");
	assert_int_equal(json_integer_value(json_object_get(w, "SinceUnixMs")), 2000);
	assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 1), "Code")),
			    "no-derp-home");
	assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 2), "Code")),
			    "udp-blocked");
	json_decref(arr);
	state_cache_free(b.cache);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clock_jump),
		cmocka_unit_test(test_crash_loop),
		cmocka_unit_test(test_status_array),
	};
	return cmocka_run_group_tests(tests, 0, 0);
}

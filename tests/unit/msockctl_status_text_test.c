/* msockctl_status_text_test: how `msockctl status` writes a peer's traffic
 * times (status_text_activity) from the status JSON's LastRecvUnixMs and
 * IdleSec (docs/status-json.md), one row per case, including the values a
 * broker never sends (a time ahead of ours, wrong types), which must print
 * as something sane rather than garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status_text.h"

/* The rows' "now": 2,000,000,000 ms. */
struct row {
	const char *peer; /* the peer's JSON object */
	const char *want;
};

#define T(peer, want)      \
	{                  \
		peer, want \
	}

static const struct row rows[] = {
	/* Never anything. */
	T("{\"LastRecvUnixMs\": null, \"IdleSec\": null}", "last rx never, no traffic"),
	T("{}", "last rx never, no traffic"),
	/* Sent, nothing came back. */
	T("{\"LastRecvUnixMs\": null, \"IdleSec\": 5.2}", "last rx never, idle 5s"),
	/* Both ways. */
	T("{\"LastRecvUnixMs\": 1999997000, \"IdleSec\": 1.0}", "last rx 3s ago, idle 1s"),
	T("{\"LastRecvUnixMs\": 2000000000, \"IdleSec\": 0.0}", "last rx 0s ago, idle 0s"),
	/* Minutes, then hours. */
	T("{\"LastRecvUnixMs\": 1999700000, \"IdleSec\": 299.9}", "last rx 5m ago, idle 5m"),
	T("{\"LastRecvUnixMs\": 1992800000, \"IdleSec\": 7200}", "last rx 2.0h ago, idle 2.0h"),
	/* Not what a broker sends: a time after now is "0s ago"; a negative
	 * idle time is 0; a string is no time. */
	T("{\"LastRecvUnixMs\": 2000009000, \"IdleSec\": -4}", "last rx 0s ago, idle 0s"),
	T("{\"LastRecvUnixMs\": \"1999997000\", \"IdleSec\": \"1\"}", "last rx never, no traffic"),
};

#undef T

static void test_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		json_t *p = json_loads(rows[i].peer, 0, 0);
		char out[96];

		assert_non_null(p);
		status_text_activity(p, 2000000000LL, out, sizeof(out));
		if (strcmp(out, rows[i].want) != 0)
			fail_msg("row %zu (%s): \"%s\", want \"%s\"", i, rows[i].peer, out,
				 rows[i].want);
		json_decref(p);
	}
}

/* A buffer too small is cut, still a string. */
static void test_cut_to_cap(void **state)
{
	json_t *p = json_loads("{\"LastRecvUnixMs\": 1999997000, \"IdleSec\": 1.0}", 0, 0);
	char out[10];

	(void)state;
	memset(out, 'x', sizeof(out));
	status_text_activity(p, 2000000000LL, out, sizeof(out));
	assert_string_equal(out, "last rx 3");
	status_text_activity(p, 2000000000LL, out, 1);
	assert_string_equal(out, "");
	json_decref(p);
}

/* The health lines, as `tailscale status` prints them, from status JSON
 * (its Health array and HealthIgnored); entries no broker sends (not an
 * object, no text, a text of two lines) are skipped and counted. */
struct health_row {
	const char *status;
	const char *want;
	size_t shown, ignored;
};

static const struct health_row health_rows[] = {
	{"{}", "", 0, 0},
	{"{\"Health\": []}", "", 0, 0},
	{"{\"Health\": [{\"Text\": \"UDP is blocked\"}, {\"Text\": \"no home\"}]}",
	 "\n# Health check:\n#     - UDP is blocked\n#     - no home\n", 2, 0},
	{"{\"Health\": [{\"Text\": \"ok\"}, 7, {\"Text\": 3}, {\"Text\": \"\"}, {\"Text\": "
	 "\"a\\nb\"}, null, []]}",
	 "\n# Health check:\n#     - ok\n#     (6 malformed health warnings ignored)\n", 1, 6},
	{"{\"Health\": [], \"HealthIgnored\": 2}",
	 "\n# Health check:\n#     (2 malformed health warnings ignored)\n", 0, 2},
	{"{\"Health\": {\"Text\": \"an object, not an array\"}, \"HealthIgnored\": -4}", "", 0, 0},
	{"{\"Health\": \"x\", \"HealthIgnored\": \"1\"}", "", 0, 0},
};

static void test_health(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(health_rows) / sizeof(health_rows[0]); i++) {
		const struct health_row *r = &health_rows[i];
		json_t *st = json_loads(r->status, 0, 0);
		char *out = 0;
		size_t len = 0, ignored = 99, shown;
		FILE *f = open_memstream(&out, &len);

		assert_non_null(st);
		assert_non_null(f);
		shown = status_text_health(st, f, &ignored);
		fclose(f);
		if (strcmp(out, r->want) != 0 || shown != r->shown || ignored != r->ignored)
			fail_msg("row %zu (%s): \"%s\" (%zu shown, %zu ignored), want \"%s\"", i,
				 r->status, out, shown, ignored, r->want);
		free(out);
		json_decref(st);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_cut_to_cap),
		cmocka_unit_test(test_health),
	};
	return cmocka_run_group_tests(tests, 0, 0);
}

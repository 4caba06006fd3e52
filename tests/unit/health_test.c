/* health_test: lib/health's helper (what it sends when a condition starts,
 * changes text, holds, ends; a run's start deleting an earlier run's keys;
 * codes of another program refused), health_msg_check on valid and
 * malformed values (one row per case), and docs/bus.md's table of codes
 * against lib/health.c's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"

/* What the helper sent, one line per call: "set KEY|SEVERITY|TEXT|SINCE"
 * or "del KEY". */
struct sent {
	char lines[32][700];
	size_t n;
};

static int rec_set(void *arg, const char *key, const ProtobufCMessage *m)
{
	struct sent *s = arg;
	const Msock__Health *h = (const Msock__Health *)m;

	assert_true(s->n < 32);
	snprintf(s->lines[s->n++], sizeof(s->lines[0]), "set %s|%s|%s|%s|%s|%lld", key,
		 h->component, h->code, h->severity, h->text, (long long)h->since_unix_ms);
	return 0;
}

static int rec_del(void *arg, const char *key)
{
	struct sent *s = arg;

	assert_true(s->n < 32);
	snprintf(s->lines[s->n++], sizeof(s->lines[0]), "del %s", key);
	return 0;
}

static uint64_t fake_now = 1000;

static uint64_t fake_unix_ms(void)
{
	return fake_now;
}

static void start(struct health *h, struct sent *s, const char *program)
{
	memset(s, 0, sizeof(*s));
	health_init(h, program, &(const struct health_sink){rec_set, rec_del, s});
	h->unix_ms = fake_unix_ms;
}

static void test_init_deletes_own_codes(void **state)
{
	struct health h;
	struct sent s;

	(void)state;
	start(&h, &s, "netcheck");
	assert_int_equal(s.n, 2);
	assert_string_equal(s.lines[0], "del netcheck/udp-blocked");
	assert_string_equal(s.lines[1], "del netcheck/no-stun-answer");
	start(&h, &s, "testcomp"); /* owns none */
	assert_int_equal(s.n, 0);
}

static void test_set_change_hold_clear(void **state)
{
	struct health h;
	struct sent s;

	(void)state;
	start(&h, &s, "derp");
	s.n = 0;
	/* Not bad and never set: nothing. */
	assert_int_equal(health_set(&h, HEALTH_NO_DERP_HOME, false, 0), 0);
	assert_int_equal(s.n, 0);
	/* Starts: set, with the table's text and severity, since now. */
	fake_now = 5000;
	assert_int_equal(health_set(&h, HEALTH_NO_DERP_HOME, true, 0), 1);
	assert_int_equal(s.n, 1);
	assert_non_null(strstr(s.lines[0], "set derp/no-derp-home|derp|no-derp-home|medium|"));
	assert_non_null(strstr(s.lines[0], "|5000"));
	assert_true(health_on(&h, HEALTH_NO_DERP_HOME));
	/* Holds with the same text: nothing more. */
	fake_now = 6000;
	assert_int_equal(health_set(&h, HEALTH_NO_DERP_HOME, true, 0), 0);
	assert_int_equal(s.n, 1);
	/* A new text: sent again, since unchanged. */
	assert_int_equal(health_set(&h, HEALTH_NO_DERP_HOME, true, "region %d", 7), 1);
	assert_string_equal(s.lines[1],
			    "set derp/no-derp-home|derp|no-derp-home|medium|region 7|5000");
	/* Ends: deleted once. */
	assert_int_equal(health_set(&h, HEALTH_NO_DERP_HOME, false, 0), 1);
	assert_string_equal(s.lines[2], "del derp/no-derp-home");
	assert_int_equal(health_set(&h, HEALTH_NO_DERP_HOME, false, 0), 0);
	assert_int_equal(s.n, 3);
	assert_false(health_on(&h, HEALTH_NO_DERP_HOME));
	/* Starts again: a new since. */
	fake_now = 9000;
	assert_int_equal(health_set(&h, HEALTH_NO_DERP_HOME, true, "x"), 1);
	assert_string_equal(s.lines[3], "set derp/no-derp-home|derp|no-derp-home|medium|x|9000");
}

static void test_refuses_other_programs_codes(void **state)
{
	struct health h;
	struct sent s;

	(void)state;
	start(&h, &s, "derp");
	s.n = 0;
	assert_int_equal(health_set(&h, HEALTH_UDP_BLOCKED, true, 0), -EINVAL);
	assert_int_equal(health_set(&h, HEALTH_INVALID, true, 0), -EINVAL);
	assert_int_equal(health_set(&h, HEALTH_CODE_COUNT, true, 0), -EINVAL);
	assert_int_equal(s.n, 0);
	assert_false(health_on(&h, HEALTH_CODE_COUNT));
}

static void test_text_is_one_line(void **state)
{
	struct health h;
	struct sent s;
	char big[HEALTH_TEXT_MAX * 2];

	(void)state;
	start(&h, &s, "broker");
	s.n = 0;
	health_set(&h, HEALTH_CLOCK_JUMP, true, "a\nb\tc\x7f");
	assert_non_null(strstr(s.lines[0], "|a b c |"));
	/* A multi-byte character cut by the buffer's end is dropped whole. */
	memset(big, 'x', sizeof(big));
	memcpy(big + HEALTH_TEXT_MAX - 2, "\xe2\x9c\x93", 4);
	health_set(&h, HEALTH_CLOCK_JUMP, true, "%s", big);
	assert_int_equal(strlen(h.w[HEALTH_CLOCK_JUMP].text), HEALTH_TEXT_MAX - 2);
	/* Cut to HEALTH_TEXT_MAX - 1 bytes. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	health_set(&h, HEALTH_CRASH_LOOP, true, "%s", big);
	assert_int_equal(strlen(h.w[HEALTH_CRASH_LOOP].text), HEALTH_TEXT_MAX - 1);
}

/* health_msg_check: one row per case. */
struct check_row {
	const char *key, *component, *code, *severity, *text;
	bool ok;
};

static const struct check_row check_rows[] = {
	{"derp/no-derp-home", "derp", "no-derp-home", "medium", "fine", true},
	{"broker/clock-jump", "broker", "clock-jump", "low", "fine", true},
	{"x/a1-b", "x", "a1-b", "high", "codes not in the table are fine", true},
	{"not-a-node-key", "", "", "", "", false},   /* no slash */
	{"/code", "", "code", "low", "t", false},    /* no component */
	{"derp/", "derp", "", "low", "t", false},    /* no code */
	{"derp/x", "disco", "x", "low", "t", false}, /* component not the key's */
	{"derp/x", "derp", "y", "low", "t", false},  /* code not the key's */
	{"derp/Upper", "derp", "Upper", "low", "t", false},
	{"derp/-x", "derp", "-x", "low", "t", false},
	{"derp/a_b", "derp", "a_b", "low", "t", false},
	{"derp/a/b", "derp", "a/b", "low", "t", false},
	{"derp/x", "derp", "x", "critical", "t", false}, /* unknown severity */
	{"derp/x", "derp", "x", "", "t", false},
	{"derp/x", "derp", "x", "low", "", false},	     /* empty text */
	{"derp/x", "derp", "x", "low", "two\nlines", false}, /* a control byte */
	{"derp/x", "derp", "x", "low", "esc\x1b[2J", false},
	{"derp/x", "derp", "x", "low", "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x92\xac", true},
	{"derp/x", "derp", "x", "low", "rp\x9f", false},	   /* a stray continuation */
	{"derp/x", "derp", "x", "low", "cut \xe2\x9c", false},	   /* cut short */
	{"derp/x", "derp", "x", "low", "over \xc0\xaf", false},	   /* overlong */
	{"derp/x", "derp", "x", "low", "sur \xed\xa0\x80", false}, /* a surrogate */
	{"derp/0123456789012345678901234567890123456789012345678", "derp",
	 "0123456789012345678901234567890123456789012345678", "low", "t", false}, /* > 48 */
};

static void test_msg_check_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(check_rows) / sizeof(check_rows[0]); i++) {
		const struct check_row *r = &check_rows[i];
		Msock__Health m = MSOCK__HEALTH__INIT;
		const char *why = 0;
		int rc;

		m.component = (char *)r->component;
		m.code = (char *)r->code;
		m.severity = (char *)r->severity;
		m.text = (char *)r->text;
		rc = health_msg_check(r->key, &m, &why);
		if ((rc == 0) != r->ok)
			fail_msg("row %zu (%s): rc %d (%s), want %s", i, r->key, rc,
				 why ? why : "-", r->ok ? "valid" : "refused");
		if (!r->ok)
			assert_non_null(why);
	}
}

static void test_msg_check_long_text(void **state)
{
	Msock__Health m = MSOCK__HEALTH__INIT;
	char text[HEALTH_TEXT_MAX + 1];
	const char *why;

	(void)state;
	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = 0;
	m.component = "derp";
	m.code = "x";
	m.severity = "low";
	m.text = text;
	assert_int_equal(health_msg_check("derp/x", &m, &why), -EINVAL);
	text[HEALTH_TEXT_MAX - 1] = 0;
	assert_int_equal(health_msg_check("derp/x", &m, &why), 0);
	m.text = 0; /* protobuf-c gives "" for absent strings; a caller may not */
	assert_int_equal(health_msg_check("derp/x", &m, &why), -EINVAL);
}

/* docs/bus.md's "Health warnings" table: one row per code of the table
 * and no other, each with the code's owner and severity. */
static void test_doc_table(void **state)
{
	char path[1024], line[2048];
	const char *src = getenv("MSOCK_SOURCE_DIR");
	bool in = false, seen[HEALTH_CODE_COUNT] = {0};
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/docs/bus.md", src ? src : "../..");
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char code[64], owner[64], sev[64];
		const struct health_warnable *w;
		if (strncmp(line, "## Health warnings", 18) == 0) {
			in = true;
			continue;
		}
		if (in && strncmp(line, "## ", 3) == 0)
			break;
		if (!in ||
		    sscanf(line, "| `%63[^`]` | %63[^ |] | %63[^ |] |", code, owner, sev) != 3)
			continue;
		w = health_warnable_by_name(code);
		if (!w)
			fail_msg("docs/bus.md lists %s, which lib/health.c does not have", code);
		assert_string_equal(owner, w->owner);
		assert_string_equal(sev, w->severity);
		seen[w->code] = true;
	}
	fclose(f);
	for (int c = HEALTH_INVALID + 1; c < HEALTH_CODE_COUNT; c++)
		if (!seen[c])
			fail_msg("docs/bus.md's Health warnings table lacks %s",
				 health_warnable((enum health_code)c)->name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_deletes_own_codes),
		cmocka_unit_test(test_set_change_hold_clear),
		cmocka_unit_test(test_refuses_other_programs_codes),
		cmocka_unit_test(test_text_is_one_line),
		cmocka_unit_test(test_msg_check_rows),
		cmocka_unit_test(test_msg_check_long_text),
		cmocka_unit_test(test_doc_table),
	};
	return cmocka_run_group_tests(tests, 0, 0);
}

/* log_test: leveled logging and rate limiting (lib/log.h), with stderr
 * captured into a temporary file around each call. Time is injected into
 * log_rl; nothing sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "log.h"

enum {
	CAPTURE_MAX_BYTES = 16384,
	LONG_MSG_BYTES = 5000,
};

#define T0 (5000 * NS_PER_SEC)

struct capture {
	FILE *f;
	int saved;
	char buf[CAPTURE_MAX_BYTES];
	size_t len;
};

static void capture_begin(struct capture *c)
{
	fflush(stderr);
	c->f = tmpfile();
	assert_non_null(c->f);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(fileno(c->f), STDERR_FILENO) >= 0);
}

/* Restores stderr and reads what was written into c->buf (NUL-terminated). */
static void capture_end(struct capture *c)
{
	fflush(stderr);
	assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
	close(c->saved);
	rewind(c->f);
	c->len = fread(c->buf, 1, sizeof(c->buf) - 1, c->f);
	c->buf[c->len] = 0;
	fclose(c->f);
}

static size_t count_char(const char *s, size_t len, char ch)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += s[i] == ch;
	return n;
}

/* One line "HH:MM:SS.mmm logtest LEVEL: text\n". */
static void assert_line(const struct capture *c, const char *level, const char *text)
{
	char want[256];

	assert_true(c->len > 13);
	assert_int_equal(count_char(c->buf, c->len, '\n'), 1);
	assert_int_equal(c->buf[c->len - 1], '\n');
	assert_int_equal(c->buf[2], ':');
	assert_int_equal(c->buf[5], ':');
	assert_int_equal(c->buf[8], '.');
	assert_int_equal(c->buf[12], ' ');
	snprintf(want, sizeof(want), " logtest %s: %s\n", level, text);
	assert_string_equal(c->buf + 12, want);
}

static int setup(void **state)
{
	(void)state;
	log_init("logtest");
	log_set_level(LOG_LEVEL_INFO);
	return 0;
}

static void test_prints_line(void **state)
{
	struct capture c;

	(void)state;
	capture_begin(&c);
	log_warn("hello %d", 42);
	capture_end(&c);
	assert_line(&c, "WARN", "hello 42");
	capture_begin(&c);
	log_error("e");
	capture_end(&c);
	assert_line(&c, "ERROR", "e");
}

static void test_level_threshold(void **state)
{
	struct capture c;

	(void)state;
	log_set_level(LOG_LEVEL_WARN);
	assert_int_equal(log_get_level(), LOG_LEVEL_WARN);
	capture_begin(&c);
	log_debug("d");
	log_info("i");
	capture_end(&c);
	assert_int_equal(c.len, 0);
	capture_begin(&c);
	log_warn("w");
	capture_end(&c);
	assert_line(&c, "WARN", "w");
	capture_begin(&c);
	log_error("x");
	capture_end(&c);
	assert_line(&c, "ERROR", "x");

	log_set_level(LOG_LEVEL_DEBUG);
	capture_begin(&c);
	log_debug("dbg");
	capture_end(&c);
	assert_line(&c, "DEBUG", "dbg");
	capture_begin(&c);
	log_info("inf");
	capture_end(&c);
	assert_line(&c, "INFO", "inf");

	log_set_level(LOG_LEVEL_ERROR);
	capture_begin(&c);
	log_warn("w");
	log_info("i");
	log_debug("d");
	capture_end(&c);
	assert_int_equal(c.len, 0);
}

static void test_invalid_level(void **state)
{
	struct capture c;

	(void)state;
	log_set_level(LOG_LEVEL_DEBUG);
	/* Setting INVALID is ignored. */
	log_set_level(LOG_LEVEL_INVALID);
	assert_int_equal(log_get_level(), LOG_LEVEL_DEBUG);
	/* A message at INVALID never prints. */
	capture_begin(&c);
	log_msg(LOG_LEVEL_INVALID, "never");
	capture_end(&c);
	assert_int_equal(c.len, 0);
}

static void test_level_parse(void **state)
{
	(void)state;
	assert_int_equal(log_level_parse("error"), LOG_LEVEL_ERROR);
	assert_int_equal(log_level_parse("warn"), LOG_LEVEL_WARN);
	assert_int_equal(log_level_parse("info"), LOG_LEVEL_INFO);
	assert_int_equal(log_level_parse("debug"), LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("warning"), LOG_LEVEL_INVALID);
	assert_int_equal(log_level_parse("INFO"), LOG_LEVEL_INVALID);
	assert_int_equal(log_level_parse("info "), LOG_LEVEL_INVALID);
	assert_int_equal(log_level_parse("inf"), LOG_LEVEL_INVALID);
	assert_int_equal(log_level_parse(""), LOG_LEVEL_INVALID);
	assert_int_equal(log_level_parse("trace"), LOG_LEVEL_INVALID);
	assert_int_equal(log_level_parse(NULL), LOG_LEVEL_INVALID);
}

static void test_long_message_truncated(void **state)
{
	static char big[LONG_MSG_BYTES + 1];
	struct capture c;

	(void)state;
	memset(big, 'a', LONG_MSG_BYTES);
	big[LONG_MSG_BYTES] = 0;
	capture_begin(&c);
	log_warn("%s", big);
	capture_end(&c);
	assert_true(c.len <= LOG_LINE_MAX_BYTES);
	assert_true(c.len > LOG_LINE_MAX_BYTES - 64);
	assert_int_equal(count_char(c.buf, c.len, '\n'), 1);
	assert_int_equal(c.buf[c.len - 1], '\n');
	assert_int_equal(count_char(c.buf, c.len, '\0'), 0);
	assert_non_null(strstr(c.buf, " logtest WARN: aaaa"));
	/* Up to the newline, it is all message. */
	assert_int_equal(c.buf[c.len - 2], 'a');
}

static void test_one_newline_per_line(void **state)
{
	struct capture c;

	(void)state;
	/* The logger adds exactly one newline of its own. */
	capture_begin(&c);
	log_info("x");
	log_info("y");
	capture_end(&c);
	assert_int_equal(count_char(c.buf, c.len, '\n'), 2);
	assert_non_null(strstr(c.buf, "INFO: x\n"));
	assert_non_null(strstr(c.buf, "INFO: y\n"));
}

static void test_rl_first_then_suppress_then_again(void **state)
{
	struct log_ratelimit rl;
	struct capture c;
	bool r1, r2, r3;

	(void)state;
	log_ratelimit_init(&rl, 1000);
	assert_int_equal(rl.interval_ns, 1000 * NS_PER_MS);
	capture_begin(&c);
	r1 = log_rl(&rl, T0, LOG_LEVEL_WARN, "bad packet %d", 1);
	capture_end(&c);
	assert_true(r1);
	assert_line(&c, "WARN", "bad packet 1");
	assert_int_equal(rl.total, 1);
	assert_int_equal(rl.suppressed, 0);

	/* Within the interval: nothing printed, counted. */
	capture_begin(&c);
	r1 = log_rl(&rl, T0 + 1, LOG_LEVEL_WARN, "bad packet %d", 2);
	r2 = log_rl(&rl, T0 + 500 * NS_PER_MS, LOG_LEVEL_WARN, "bad packet %d", 3);
	r3 = log_rl(&rl, T0 + 1000 * NS_PER_MS - 1, LOG_LEVEL_WARN, "bad packet %d", 4);
	capture_end(&c);
	assert_false(r1);
	assert_false(r2);
	assert_false(r3);
	assert_int_equal(c.len, 0);
	assert_int_equal(rl.suppressed, 3);
	assert_int_equal(rl.total, 4);

	/* The interval is over: one line, with the count. */
	capture_begin(&c);
	r1 = log_rl(&rl, T0 + 1000 * NS_PER_MS, LOG_LEVEL_WARN, "bad packet %d", 5);
	capture_end(&c);
	assert_true(r1);
	assert_line(&c, "WARN", "bad packet 5 (and 3 more like it in the last 1 s)");
	assert_int_equal(rl.suppressed, 0);
	assert_int_equal(rl.total, 5);

	/* A new window starts at that line. */
	capture_begin(&c);
	r1 = log_rl(&rl, T0 + 1500 * NS_PER_MS, LOG_LEVEL_WARN, "bad packet %d", 6);
	capture_end(&c);
	assert_false(r1);
	assert_int_equal(c.len, 0);

	/* Nothing suppressed since the last line: no suffix. */
	log_ratelimit_init(&rl, 1000);
	capture_begin(&c);
	r1 = log_rl(&rl, T0, LOG_LEVEL_WARN, "one");
	r2 = log_rl(&rl, T0 + 5000 * NS_PER_MS, LOG_LEVEL_WARN, "two");
	capture_end(&c);
	assert_true(r1);
	assert_true(r2);
	assert_int_equal(count_char(c.buf, c.len, '\n'), 2);
	assert_null(strstr(c.buf, "more like it"));
	assert_non_null(strstr(c.buf, "WARN: two\n"));
}

static void test_rl_count_and_seconds(void **state)
{
	struct log_ratelimit rl;
	struct capture c;

	(void)state;
	log_ratelimit_init(&rl, LOG_RATELIMIT_DEFAULT_MS);
	capture_begin(&c);
	assert_true(log_rl(&rl, T0, LOG_LEVEL_ERROR, "flood"));
	for (int i = 0; i < 1000; i++)
		log_rl(&rl, T0 + (uint64_t)i * NS_PER_MS, LOG_LEVEL_ERROR, "flood");
	capture_end(&c);
	assert_int_equal(count_char(c.buf, c.len, '\n'), 1);
	assert_int_equal(rl.suppressed, 1000);
	capture_begin(&c);
	assert_true(log_rl(&rl, T0 + 25 * NS_PER_SEC, LOG_LEVEL_ERROR, "flood"));
	capture_end(&c);
	assert_line(&c, "ERROR", "flood (and 1000 more like it in the last 25 s)");
}

static void test_rl_first_event_at_time_zero(void **state)
{
	struct log_ratelimit rl;
	struct capture c;
	bool r;

	(void)state;
	log_ratelimit_init(&rl, 1000);
	capture_begin(&c);
	r = log_rl(&rl, 0, LOG_LEVEL_WARN, "at zero");
	capture_end(&c);
	assert_true(r);
	assert_line(&c, "WARN", "at zero");
}

/* "Returns true when the line was printed": a line below the threshold is
 * not printed. */
static void test_rl_below_threshold_not_printed(void **state)
{
	struct log_ratelimit rl;
	struct capture c;
	bool r;

	(void)state;
	log_set_level(LOG_LEVEL_WARN);
	log_ratelimit_init(&rl, 1000);
	capture_begin(&c);
	r = log_rl(&rl, T0, LOG_LEVEL_DEBUG, "quiet");
	capture_end(&c);
	assert_int_equal(c.len, 0);
	assert_false(r);
}

static void test_rl_long_message_one_line(void **state)
{
	static char big[LONG_MSG_BYTES + 1];
	struct log_ratelimit rl;
	struct capture c;

	(void)state;
	memset(big, 'b', LONG_MSG_BYTES);
	big[LONG_MSG_BYTES] = 0;
	log_ratelimit_init(&rl, 1000);
	capture_begin(&c);
	assert_true(log_rl(&rl, T0, LOG_LEVEL_WARN, "%s", big));
	assert_false(log_rl(&rl, T0 + 1, LOG_LEVEL_WARN, "%s", big));
	assert_true(log_rl(&rl, T0 + 2 * NS_PER_SEC, LOG_LEVEL_WARN, "%s", big));
	capture_end(&c);
	assert_int_equal(count_char(c.buf, c.len, '\n'), 2);
	assert_int_equal(c.buf[c.len - 1], '\n');
	assert_true(c.len <= 2 * LOG_LINE_MAX_BYTES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_prints_line, setup),
		cmocka_unit_test_setup(test_level_threshold, setup),
		cmocka_unit_test_setup(test_invalid_level, setup),
		cmocka_unit_test_setup(test_level_parse, setup),
		cmocka_unit_test_setup(test_long_message_truncated, setup),
		cmocka_unit_test_setup(test_one_newline_per_line, setup),
		cmocka_unit_test_setup(test_rl_first_then_suppress_then_again, setup),
		cmocka_unit_test_setup(test_rl_count_and_seconds, setup),
		cmocka_unit_test_setup(test_rl_first_event_at_time_zero, setup),
		cmocka_unit_test_setup(test_rl_below_threshold_not_printed, setup),
		cmocka_unit_test_setup(test_rl_long_message_one_line, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* derper_duration_test: Go's time.ParseDuration and Duration.String, with
 * values checked against Go 1.26's own answers (go run, not its tests). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "derper_duration.h"

static const struct {
	const char *in;
	int64_t ns;
	const char *text; /* Duration.String of the result */
} good[] = {
	{"0", 0, "0s"},
	{"-0", 0, "0s"},
	{"+0", 0, "0s"},
	{"15s", 15000000000, "15s"},
	{"10m", 600000000000, "10m0s"},
	{"1h30m", 5400000000000, "1h30m0s"},
	{"1.5s", 1500000000, "1.5s"},
	{".5ms", 500000, "500\xc2\xb5s"},
	{"5.s", 5000000000, "5s"},
	{"2us", 2000, "2\xc2\xb5s"},
	{"3\xc2\xb5s", 3000, "3\xc2\xb5s"}, /* U+00B5 */
	{"4\xce\xbcs", 4000, "4\xc2\xb5s"}, /* U+03BC */
	{"-2m3.5s", -123500000000, "-2m3.5s"},
	{"1h1m1s1ms1us1ns", 3661001001001, "1h1m1.001001001s"},
	{"9223372036854775807ns", INT64_MAX, "2562047h47m16.854775807s"},
	{"-9223372036854775808ns", INT64_MIN, "-2562047h47m16.854775808s"},
	{"2562047h47m16.854775807s", INT64_MAX, "2562047h47m16.854775807s"},
	{"0.000000001s", 1, "1ns"},
	{"0.0000000001s", 0, "0s"},			      /* below a nanosecond */
	{"1.00000000000000000001h", 3600000000000, "1h0m0s"}, /* fraction digits past what fits */
};

static const struct {
	const char *in;
	int rc;
} bad[] = {
	{"", -EINVAL},
	{"s", -EINVAL},
	{"5", -EINVAL}, /* missing unit */
	{".s", -EINVAL},
	{"-.s", -EINVAL},
	{"1d", -EINVAL}, /* unknown unit */
	{"1hr", -EINVAL},
	{"+", -EINVAL},
	{"-", -EINVAL},
	{"1.2.3s", -EINVAL},
	{"1e3s", -EINVAL},
	{" 1s", -EINVAL},
	{"1s ", -EINVAL},
	{"0x10s", -EINVAL},
	{"1_000s", -EINVAL},
	{"9223372036854775808ns", -ERANGE},
	{"2562047h47m16.854775808s", -ERANGE},
	{"99999999999999999999s", -ERANGE},
};

static const struct {
	int64_t ns;
	const char *text;
} fmts[] = {
	{0, "0s"},
	{1, "1ns"},
	{999, "999ns"},
	{1000, "1\xc2\xb5s"},
	{1500, "1.5\xc2\xb5s"},
	{999999, "999.999\xc2\xb5s"},
	{1000000, "1ms"},
	{1500000, "1.5ms"},
	{999999999, "999.999999ms"},
	{1000000000, "1s"},
	{1500000000, "1.5s"},
	{60000000000, "1m0s"},
	{600000000000, "10m0s"},
	{3600000000000, "1h0m0s"},
	{3661001000000, "1h1m1.001s"},
	{-1, "-1ns"},
	{-2500000, "-2.5ms"},
	{INT64_MIN, "-2562047h47m16.854775808s"},
	{INT64_MAX, "2562047h47m16.854775807s"},
};

static void test_parse(void **state)
{
	(void)state;
	char text[DERPER_DURATION_TEXT_BYTES];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int64_t ns = 42;
		if (derper_duration_parse(good[i].in, &ns) != 0 || ns != good[i].ns)
			fail_msg("\"%s\": got %lld", good[i].in, (long long)ns);
		assert_string_equal(derper_duration_format(ns, text, sizeof(text)), good[i].text);
	}
}

static void test_parse_refused(void **state)
{
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ns = 42;
		int rc = derper_duration_parse(bad[i].in, &ns);
		if (rc != bad[i].rc)
			fail_msg("\"%s\": %d, want %d", bad[i].in, rc, bad[i].rc);
		assert_int_equal(ns, 42); /* untouched */
	}
	assert_int_equal(derper_duration_parse(NULL, &(int64_t){0}), -EINVAL);
	assert_int_equal(derper_duration_parse("1s", NULL), -EINVAL);
}

static void test_format(void **state)
{
	(void)state;
	char text[DERPER_DURATION_TEXT_BYTES], small[4];

	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		int64_t back;
		assert_string_equal(derper_duration_format(fmts[i].ns, text, sizeof(text)),
				    fmts[i].text);
		/* What String prints, ParseDuration reads back. */
		assert_int_equal(derper_duration_parse(text, &back), 0);
		assert_int_equal(back, fmts[i].ns);
	}
	/* A short buffer is cut, still NUL-terminated. */
	assert_string_equal(derper_duration_format(600000000000, small, sizeof(small)), "10m");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, 0, 0);
}

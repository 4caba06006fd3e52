/* json_locate_test: positions of values by path, compared with what jansson
 * reports for syntax errors at the same places. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "json_locate.h"

#define K(s)                                      \
	{                                         \
		.kind = JSON_STEP_KEY, .key = (s) \
	}
#define I(n)                                          \
	{                                             \
		.kind = JSON_STEP_INDEX, .index = (n) \
	}

static struct json_loc locate(const char *text, const struct json_step *path, size_t n)
{
	struct json_loc loc;

	memset(&loc, 0xff, sizeof(loc));
	assert_int_equal(json_locate(text, strlen(text), path, n, &loc), 0);
	return loc;
}

static void expect_at(const char *text, const struct json_step *path, size_t n, size_t depth,
		      size_t line, size_t col)
{
	struct json_loc loc = locate(text, path, n);

	assert_int_equal(loc.depth, depth);
	assert_int_equal(loc.value.line, line);
	assert_int_equal(loc.value.col, col);
}

static const char doc[] = "{\n"
			  "  \"listen_port\": 41641,\n"
			  "  \"peers\": [\n"
			  "    {\"name\": \"a\", \"node_key\": \"x\"},\n"
			  "    {\n"
			  "      \"name\": \"b\",\n"
			  "\t\"node_key\": [1, {\"k\": null}]\n"
			  "    }\n"
			  "  ]\n"
			  "}\n";

static void test_top_level(void **state)
{
	(void)state;
	expect_at(doc, NULL, 0, 0, 1, 1);
	expect_at("  \n [1]", NULL, 0, 0, 2, 2);
}

static void test_member(void **state)
{
	(void)state;
	const struct json_step p[] = {K("listen_port")};
	struct json_loc loc = locate(doc, p, 1);

	assert_int_equal(loc.depth, 1);
	assert_int_equal(loc.value.line, 2);
	assert_int_equal(loc.value.col, 18);
	assert_int_equal(doc[loc.value.offset], '4');
	assert_int_equal(loc.key.line, 2);
	assert_int_equal(loc.key.col, 3);
	assert_int_equal(doc[loc.key.offset], '"');
}

static void test_nested(void **state)
{
	(void)state;
	const struct json_step p1[] = {K("peers"), I(0), K("node_key")};
	const struct json_step p2[] = {K("peers"), I(1), K("node_key"), I(1), K("k")};

	expect_at(doc, p1, 3, 3, 4, 31);
	/* A tab counts as one column, as in jansson. */
	expect_at(doc, p2, 5, 5, 7, 24);
}

static void test_missing_key_gives_parent(void **state)
{
	(void)state;
	const struct json_step p[] = {K("peers"), I(1), K("disco_key")};
	struct json_loc loc = locate(doc, p, 3);

	assert_int_equal(loc.depth, 2);
	assert_int_equal(loc.value.line, 5);
	assert_int_equal(loc.value.col, 5);
	/* An array element's key position is the element itself. */
	assert_int_equal(loc.key.offset, loc.value.offset);
}

static void test_index_past_end(void **state)
{
	(void)state;
	const struct json_step p[] = {K("peers"), I(2)};

	expect_at(doc, p, 2, 1, 3, 12);
	expect_at("[]", (const struct json_step[]){I(0)}, 1, 0, 1, 1);
	expect_at("{}", (const struct json_step[]){K("a")}, 1, 0, 1, 1);
}

static void test_wrong_container(void **state)
{
	(void)state;
	/* An index into an object and a key into an array stop there. */
	expect_at(doc, (const struct json_step[]){I(0)}, 1, 0, 1, 1);
	expect_at(doc, (const struct json_step[]){K("peers"), K("x")}, 2, 1, 3, 12);
	expect_at(doc, (const struct json_step[]){K("listen_port"), K("x")}, 2, 1, 2, 18);
}

/* On one ASCII line the column is the offset + 1. */
static void expect_first(const char *text, const char *key, char first)
{
	const struct json_step p[] = {K(key)};
	struct json_loc loc = locate(text, p, 1);

	assert_int_equal(loc.depth, 1);
	assert_int_equal(text[loc.value.offset], first);
	assert_int_equal(loc.value.line, 1);
	assert_int_equal(loc.value.col, loc.value.offset + 1);
}

static void test_escaped_keys(void **state)
{
	(void)state;
	static const char text[] = "{\"a\\\"b\": 1, \"\\u00e9t\\u00e9\": 2, \"\\ud83d\\ude00\": 3, "
				   "\"x\\/y\": 4, \"\\n\\t\": 5}";

	expect_first(text, "a\"b", '1');
	expect_first(text, "\xc3\xa9t\xc3\xa9", '2');
	expect_first(text, "\xf0\x9f\x98\x80", '3');
	expect_first(text, "x/y", '4');
	expect_first(text, "\n\t", '5');
}

static void test_strings_with_brackets_are_skipped(void **state)
{
	(void)state;
	static const char text[] = "{\"a\": \"}]{[\\\"\", \"b\": {\"c\": [\"]\", 1]}, \"d\": true}";

	expect_first(text, "d", 't');
}

static void test_utf8_columns(void **state)
{
	(void)state;
	/* "é" is two bytes but one column, as jansson counts. */
	static const char text[] = "{\"\xc3\xa9\xc3\xa9\": 1, \"k\": 2}";
	struct json_loc loc = locate(text, (const struct json_step[]){K("k")}, 1);

	assert_int_equal(loc.value.col, 16);
	assert_int_equal(loc.value.offset, 17);
}

static void test_no_value(void **state)
{
	(void)state;
	struct json_loc loc;

	assert_int_equal(json_locate("", 0, NULL, 0, &loc), -EINVAL);
	assert_int_equal(json_locate(" \n\t", 3, NULL, 0, &loc), -EINVAL);
}

static void test_truncated_text(void **state)
{
	(void)state;
	static const char *const bad[] = {"{",		"{\"a", "{\"a\"", "{\"a\":",  "{\"a\": 1",
					  "{\"a\": 1,", "[1,",	"{\"a\\", "{\"\\u12", "[\"\\"};
	const struct json_step p[] = {K("b"), I(3)};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json_loc loc;
		assert_int_equal(json_locate(bad[i], strlen(bad[i]), p, 2, &loc), 0);
		assert_int_equal(loc.depth, 0);
	}
}

static void test_length_is_respected(void **state)
{
	(void)state;
	/* The text goes on past len; the scan must not see "b". */
	static const char text[] = "{\"a\": 1, \"b\": 2}";
	struct json_loc loc;

	assert_int_equal(json_locate(text, 9, (const struct json_step[]){K("b")}, 1, &loc), 0);
	assert_int_equal(loc.depth, 0);
}

static void test_long_key_never_matches(void **state)
{
	(void)state;
	char text[JSON_LOCATE_KEY_MAX_BYTES + 64], key[JSON_LOCATE_KEY_MAX_BYTES + 2];
	struct json_loc loc;

	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = 0;
	snprintf(text, sizeof(text), "{\"%s\": 1}", key);
	assert_int_equal(
		json_locate(text, strlen(text), (const struct json_step[]){K(key)}, 1, &loc), 0);
	assert_int_equal(loc.depth, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_top_level),
		cmocka_unit_test(test_member),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_missing_key_gives_parent),
		cmocka_unit_test(test_index_past_end),
		cmocka_unit_test(test_wrong_container),
		cmocka_unit_test(test_escaped_keys),
		cmocka_unit_test(test_strings_with_brackets_are_skipped),
		cmocka_unit_test(test_utf8_columns),
		cmocka_unit_test(test_no_value),
		cmocka_unit_test(test_truncated_text),
		cmocka_unit_test(test_length_is_respected),
		cmocka_unit_test(test_long_key_never_matches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

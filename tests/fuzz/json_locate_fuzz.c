/* json_locate_fuzz: json_locate on arbitrary text with a path chosen by the
 * input's first bytes. When jansson accepts the text, the path is instead
 * walked through jansson's tree and json_locate must find every step, at a
 * character that starts a value of the right type. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_locate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	FUZZ_PATH_MAX_STEPS = 8,
	FUZZ_MAX_INPUT_BYTES = 1 << 16,
};

static const char *const keys[] = {"a", "peers", "node_key", "", "\xc3\xa9", "a\"b"};

static char first_char_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return '{';
	case JSON_ARRAY:
		return '[';
	case JSON_STRING:
		return '"';
	case JSON_TRUE:
		return 't';
	case JSON_FALSE:
		return 'f';
	case JSON_NULL:
		return 'n';
	default:
		return 0; /* a number: a digit or '-' */
	}
}

static void check_value_at(const char *text, size_t off, const json_t *v)
{
	char want = first_char_of(v), got = text[off];

	if (want ? got != want : !(got == '-' || (got >= '0' && got <= '9')))
		abort();
}

/* Walks jansson's tree as the selector bytes say, then checks json_locate. */
static void check_against_jansson(const char *text, size_t len, const uint8_t *sel, size_t nsel)
{
	struct json_step path[FUZZ_PATH_MAX_STEPS + 1];
	struct json_loc loc;
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	json_t *v = root;
	size_t n = 0;

	if (!root)
		return;
	for (size_t i = 0; i < nsel && n < FUZZ_PATH_MAX_STEPS; i++) {
		if (json_is_object(v) && json_object_size(v) > 0) {
			void *it = json_object_iter(v);
			for (size_t k = sel[i] % json_object_size(v); k > 0; k--)
				it = json_object_iter_next(v, it);
			const char *key = json_object_iter_key(it);
			if (strlen(key) >= JSON_LOCATE_KEY_MAX_BYTES)
				break;
			path[n++] = (struct json_step){.kind = JSON_STEP_KEY, .key = key};
			v = json_object_iter_value(it);
		} else if (json_is_array(v) && json_array_size(v) > 0) {
			size_t idx = sel[i] % json_array_size(v);
			path[n++] = (struct json_step){.kind = JSON_STEP_INDEX, .index = idx};
			v = json_array_get(v, idx);
		} else {
			break;
		}
	}
	/* One step more that cannot exist. */
	path[n] = (struct json_step){.kind = JSON_STEP_KEY, .key = "\x01missing"};
	if (json_locate(text, len, path, n + 1, &loc) != 0 || loc.depth != n)
		abort();
	if (loc.value.offset >= len || loc.key.offset > loc.value.offset)
		abort();
	check_value_at(text, loc.value.offset, v);
	json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_step path[FUZZ_PATH_MAX_STEPS];
	struct json_loc loc;
	size_t nsel, n;
	char *text;

	if (size < 1 || size > FUZZ_MAX_INPUT_BYTES)
		return 0;
	nsel = data[0] % (FUZZ_PATH_MAX_STEPS + 1);
	if (size < 1 + nsel)
		return 0;
	/* An exact-size copy so ASan sees any read past len. */
	size_t len = size - 1 - nsel;
	text = malloc(len ? len : 1);
	if (!text)
		return 0;
	memcpy(text, data + 1 + nsel, len);
	for (n = 0; n < nsel; n++) {
		uint8_t b = data[1 + n];
		if (b & 1)
			path[n] = (struct json_step){.kind = JSON_STEP_INDEX, .index = b >> 1};
		else
			path[n] = (struct json_step){
				.kind = JSON_STEP_KEY,
				.key = keys[(b >> 1) % (sizeof(keys) / sizeof(keys[0]))]};
	}
	if (json_locate(text, len, path, n, &loc) == 0) {
		if (loc.depth > n || loc.value.offset >= len || loc.key.offset > loc.value.offset)
			abort();
	}
	check_against_jansson(text, len, data + 1, nsel);
	free(text);
	return 0;
}

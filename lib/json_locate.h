/* json_locate: where a value sits in JSON text, for error messages (jansson
 * keeps no positions of values). Pure: no allocation, no I/O; reads only the
 * `len` bytes it is given. */
#ifndef MSOCK_JSON_LOCATE_H
#define MSOCK_JSON_LOCATE_H

#include <stddef.h>

enum {
	/* Longer object keys (after unescaping) are skipped, never matched. */
	JSON_LOCATE_KEY_MAX_BYTES = 256,
};

enum json_step_kind {
	JSON_STEP_INVALID = 0,
	JSON_STEP_KEY,	 /* a member of an object, by key */
	JSON_STEP_INDEX, /* an element of an array, from 0 */
};

/* One step of a path such as peers -> 3 -> node_key. */
struct json_step {
	enum json_step_kind kind;
	const char *key; /* JSON_STEP_KEY: NUL-terminated, unescaped */
	size_t index;	 /* JSON_STEP_INDEX */
};

/* A position as jansson counts them: line and column from 1, the column in
 * UTF-8 characters; offset in bytes from 0. */
struct json_pos {
	size_t line;
	size_t col;
	size_t offset;
};

struct json_loc {
	size_t depth;	       /* steps matched: n when the whole path exists */
	struct json_pos value; /* first character of the deepest value reached */
	struct json_pos key;   /* its key's opening quote; = value for the top
				* level and for array elements */
};

/* Follows `path` (n steps) from the top-level value of `text`. When a step
 * does not exist (a missing key, an index past the end), stops there: loc
 * then describes the deepest value found, the parent of what was missing.
 * Returns 0, or -EINVAL when the text holds no value at all. Text that is
 * not valid JSON gives some position inside it, never a read past len. */
int json_locate(const char *text, size_t len, const struct json_step *path, size_t n,
		struct json_loc *loc);

#endif

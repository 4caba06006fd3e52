/* json_locate: a forward-only scan of JSON text (RFC 8259) that follows a
 * path of keys and indexes and reports line:column as jansson counts them
 * (lines split on '\n', columns in UTF-8 characters). */
#include "json_locate.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct scan {
	const char *p;
	size_t len;
	size_t i;
};

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(struct scan *s)
{
	while (s->i < s->len && is_ws(s->p[s->i]))
		s->i++;
}

static bool at(const struct scan *s, char c)
{
	return s->i < s->len && s->p[s->i] == c;
}

/* From the opening quote to just past the closing one (or to the end). */
static void skip_string(struct scan *s)
{
	s->i++;
	while (s->i < s->len) {
		char c = s->p[s->i++];
		if (c == '\\' && s->i < s->len)
			s->i++;
		else if (c == '"')
			return;
	}
}

static bool ends_scalar(char c)
{
	return is_ws(c) || c == ',' || c == ']' || c == '}' || c == ':';
}

/* Skips one value. Brackets are counted, not matched: the text is trusted
 * to be JSON for positions to mean anything, but a bad one only moves the
 * scan along, never past len. */
static void skip_value(struct scan *s)
{
	size_t depth = 0;

	do {
		if (s->i >= s->len)
			return;
		char c = s->p[s->i];
		if (c == '"') {
			skip_string(s);
		} else if (c == '{' || c == '[') {
			depth++;
			s->i++;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return;
			depth--;
			s->i++;
		} else if (depth == 0) {
			while (s->i < s->len && !ends_scalar(s->p[s->i]))
				s->i++;
			return;
		} else {
			s->i++;
		}
	} while (depth > 0);
}

static int hex4(const char *p, size_t avail, uint32_t *out)
{
	uint32_t v = 0;

	if (avail < 4)
		return -1;
	for (int k = 0; k < 4; k++) {
		char c = p[k];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

struct buf {
	char b[JSON_LOCATE_KEY_MAX_BYTES];
	size_t n;
	bool overflow;
};

static void put(struct buf *b, uint8_t c)
{
	if (b->n < sizeof(b->b))
		b->b[b->n++] = (char)c;
	else
		b->overflow = true;
}

static void put_utf8(struct buf *b, uint32_t cp)
{
	if (cp < 0x80) {
		put(b, (uint8_t)cp);
	} else if (cp < 0x800) {
		put(b, (uint8_t)(0xc0 | (cp >> 6)));
		put(b, (uint8_t)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		put(b, (uint8_t)(0xe0 | (cp >> 12)));
		put(b, (uint8_t)(0x80 | ((cp >> 6) & 0x3f)));
		put(b, (uint8_t)(0x80 | (cp & 0x3f)));
	} else {
		put(b, (uint8_t)(0xf0 | (cp >> 18)));
		put(b, (uint8_t)(0x80 | ((cp >> 12) & 0x3f)));
		put(b, (uint8_t)(0x80 | ((cp >> 6) & 0x3f)));
		put(b, (uint8_t)(0x80 | (cp & 0x3f)));
	}
}

/* A \u escape at p (just past the 'u'); a surrogate pair takes a second one.
 * Returns the bytes used, or 0 when the escape is bad. */
static size_t unescape_u(const char *p, size_t avail, struct buf *b)
{
	uint32_t hi, lo;

	if (hex4(p, avail, &hi) < 0)
		return 0;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return 0;
	if (hi < 0xd800 || hi > 0xdbff) {
		put_utf8(b, hi);
		return 4;
	}
	if (avail < 10 || p[4] != '\\' || p[5] != 'u' || hex4(p + 6, avail - 6, &lo) < 0 ||
	    lo < 0xdc00 || lo > 0xdfff)
		return 0;
	put_utf8(b, 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00));
	return 10;
}

static char simple_escape(char c)
{
	switch (c) {
	case '"':
	case '\\':
	case '/':
		return c;
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	default:
		return 0;
	}
}

/* Unescapes the string at s->i (its opening quote) into b and moves past
 * it. Returns false when the key cannot equal any path key. */
static bool read_key(struct scan *s, struct buf *b)
{
	size_t start = s->i;
	bool ok = true;

	skip_string(s);
	for (size_t j = start + 1; j < s->i - 1 && ok; j++) {
		char c = s->p[j];
		if (c != '\\') {
			put(b, (uint8_t)c);
			continue;
		}
		if (j + 1 >= s->i - 1)
			return false;
		char e = s->p[++j];
		if (e == 'u') {
			size_t used = unescape_u(s->p + j + 1, s->i - 1 - (j + 1), b);
			ok = used > 0;
			j += used;
		} else {
			ok = simple_escape(e) != 0;
			put(b, (uint8_t)simple_escape(e));
		}
	}
	return ok && !b->overflow && s->i - start >= 2 && s->p[s->i - 1] == '"';
}

static bool key_matches(struct scan *s, const char *want)
{
	struct buf b = {.n = 0, .overflow = false};
	size_t wlen = strlen(want);

	if (!read_key(s, &b))
		return false;
	return b.n == wlen && memcmp(b.b, want, wlen) == 0;
}

/* At an object's '{': finds the member `key`. Leaves s->i at its value and
 * *key_at at its key. */
static bool find_member(struct scan *s, const char *key, size_t *key_at)
{
	s->i++;
	for (;;) {
		skip_ws(s);
		if (!at(s, '"'))
			return false;
		size_t kpos = s->i;
		bool match = key_matches(s, key);
		skip_ws(s);
		if (!at(s, ':'))
			return false;
		s->i++;
		skip_ws(s);
		if (s->i >= s->len)
			return false;
		if (match) {
			*key_at = kpos;
			return true;
		}
		skip_value(s);
		skip_ws(s);
		if (!at(s, ','))
			return false;
		s->i++;
	}
}

/* At an array's '[': finds element `index`, leaving s->i at it. */
static bool find_element(struct scan *s, size_t index)
{
	s->i++;
	skip_ws(s);
	if (at(s, ']'))
		return false;
	for (size_t k = 0;; k++) {
		skip_ws(s);
		if (s->i >= s->len)
			return false;
		if (k == index)
			return true;
		skip_value(s);
		skip_ws(s);
		if (!at(s, ','))
			return false;
		s->i++;
	}
}

static struct json_pos pos_at(const char *text, size_t off)
{
	struct json_pos p = {.line = 1, .col = 1, .offset = off};

	for (size_t i = 0; i < off; i++) {
		uint8_t c = (uint8_t)text[i];
		if (c == '\n') {
			p.line++;
			p.col = 1;
		} else if ((c & 0xc0) != 0x80) {
			p.col++;
		}
	}
	return p;
}

int json_locate(const char *text, size_t len, const struct json_step *path, size_t n,
		struct json_loc *loc)
{
	struct scan s = {.p = text, .len = len, .i = 0};
	size_t value_at, key_at, depth;

	skip_ws(&s);
	if (s.i >= len)
		return -EINVAL;
	value_at = key_at = s.i;
	for (depth = 0; depth < n; depth++) {
		const struct json_step *st = &path[depth];
		size_t kpos = s.i;
		if (st->kind == JSON_STEP_KEY && st->key && at(&s, '{')) {
			if (!find_member(&s, st->key, &kpos))
				break;
		} else if (st->kind == JSON_STEP_INDEX && at(&s, '[')) {
			if (!find_element(&s, st->index))
				break;
		} else {
			break;
		}
		value_at = s.i;
		key_at = st->kind == JSON_STEP_KEY ? kpos : s.i;
	}
	loc->depth = depth;
	loc->value = pos_at(text, value_at);
	loc->key = pos_at(text, key_at);
	return 0;
}

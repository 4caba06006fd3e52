/* config_diag: the messages of config parsing. Each names the file,
 * line:column (from json_locate, as jansson counts) and the field path
 * ("peers[3].node_key"); they are kept up to CFG_MAX_ERRORS and handed out
 * in file order. */
#include "config_internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cfg_push_key(struct cfg_ctx *c, const char *key)
{
	if (c->depth >= CFG_PATH_DEPTH_MAX)
		abort(); /* our own nesting is fixed and shallower */
	c->path[c->depth++] = (struct json_step){.kind = JSON_STEP_KEY, .key = key};
}

void cfg_push_index(struct cfg_ctx *c, size_t i)
{
	if (c->depth >= CFG_PATH_DEPTH_MAX)
		abort();
	c->path[c->depth++] = (struct json_step){.kind = JSON_STEP_INDEX, .index = i};
}

void cfg_pop(struct cfg_ctx *c)
{
	if (c->depth <= c->base)
		abort();
	c->depth--;
}

size_t cfg_error_count(const struct cfg_ctx *c)
{
	return c->errors.n + c->errors.dropped;
}

/* Appends to out[*n] what fits, always leaving it NUL-terminated. */
static void append(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
	for (size_t i = 0; i < len && *n + 1 < cap; i++)
		out[(*n)++] = s[i];
	out[*n] = 0;
}

/* Control characters in a key (it may be anything the user typed) become
 * '?', so a message stays one printable line. */
static void append_key(char *out, size_t cap, size_t *n, const char *key)
{
	for (; *key && *n + 1 < cap; key++) {
		char ch = ((unsigned char)*key < 0x20 || *key == 0x7f) ? '?' : *key;
		out[(*n)++] = ch;
	}
	out[*n] = 0;
}

static void field_path(const struct cfg_ctx *c, char *out, size_t cap)
{
	size_t n = 0;
	char idx[32];

	out[0] = 0;
	for (size_t i = c->base; i < c->depth; i++) {
		const struct json_step *st = &c->path[i];
		if (st->kind == JSON_STEP_INDEX) {
			int k = snprintf(idx, sizeof(idx), "[%zu]", st->index);
			append(out, cap, &n, idx, (size_t)k);
			continue;
		}
		if (i > c->base)
			append(out, cap, &n, ".", 1);
		append_key(out, cap, &n, st->key);
	}
}

struct json_pos cfg_where(struct cfg_ctx *c, enum cfg_at at)
{
	struct json_loc loc;
	struct json_pos none = {0, 0, 0};

	if (json_locate(c->doc.text, c->doc.len, c->path + c->base, c->depth - c->base, &loc) < 0)
		return none;
	/* A missing field's key is its parent's key: point at the parent. */
	if (at == CFG_AT_KEY && loc.depth == c->depth - c->base)
		return loc.key;
	return loc.value;
}

void cfg_msg_add(struct cfg_ctx *c, struct cfg_msgs *m, struct json_pos at, struct json_pos sub,
		 const char *text)
{
	if (m->n >= CFG_MAX_ERRORS) {
		m->dropped++;
		return;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;
		struct cfg_msg *v = realloc(m->v, cap * sizeof(*v));
		if (!v) {
			c->oom = true;
			return;
		}
		m->v = v;
		m->cap = cap;
	}
	char *dup = strdup(text);
	if (!dup) {
		c->oom = true;
		return;
	}
	m->v[m->n++] = (struct cfg_msg){.at = at, .sub = sub, .seq = c->seq++, .text = dup};
}

__attribute__((format(printf, 4, 0))) static void vmsg(struct cfg_ctx *c, struct cfg_msgs *m,
						       enum cfg_at at, const char *fmt, va_list ap)
{
	char what[CFG_MSG_MAX_BYTES / 2], path[CFG_FIELD_PATH_MAX_BYTES], text[CFG_MSG_MAX_BYTES];
	struct json_pos pos, zero = {0, 0, 0};

	/* Past the cap nothing is located or formatted: only counted. */
	if (m->n >= CFG_MAX_ERRORS) {
		m->dropped++;
		return;
	}
	vsnprintf(what, sizeof(what), fmt, ap);
	field_path(c, path, sizeof(path));
	pos = cfg_where(c, at);
	if (path[0])
		snprintf(text, sizeof(text), "%s:%zu:%zu: %s: %s", c->doc.name, pos.line, pos.col,
			 path, what);
	else
		snprintf(text, sizeof(text), "%s:%zu:%zu: %s", c->doc.name, pos.line, pos.col,
			 what);
	if (c->in_sub)
		cfg_msg_add(c, m, c->sub_at, pos, text);
	else
		cfg_msg_add(c, m, pos, zero, text);
}

void cfg_error(struct cfg_ctx *c, enum cfg_at at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(c, &c->errors, at, fmt, ap);
	va_end(ap);
}

void cfg_warn(struct cfg_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(c, &c->warnings, CFG_AT_VALUE, fmt, ap);
	va_end(ap);
}

static int pos_cmp(const struct json_pos *a, const struct json_pos *b)
{
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return 0;
}

static int msg_cmp(const void *pa, const void *pb)
{
	const struct cfg_msg *a = pa, *b = pb;
	int r = pos_cmp(&a->at, &b->at);

	if (r == 0)
		r = pos_cmp(&a->sub, &b->sub);
	if (r == 0)
		r = a->seq < b->seq ? -1 : a->seq > b->seq;
	return r;
}

/* Moves m's texts into a new array; the last says how many were dropped. */
static char **take(struct cfg_ctx *c, struct cfg_msgs *m, const char *noun, size_t *count)
{
	size_t n = m->n + (m->dropped ? 1 : 0);
	char **out;

	*count = 0;
	if (n == 0)
		return NULL;
	qsort(m->v, m->n, sizeof(m->v[0]), msg_cmp);
	out = calloc(n, sizeof(*out));
	if (!out) {
		c->oom = true;
		return NULL;
	}
	for (size_t i = 0; i < m->n; i++) {
		out[i] = m->v[i].text;
		m->v[i].text = NULL;
	}
	if (m->dropped) {
		char more[64];
		snprintf(more, sizeof(more), "... and %zu more %s", m->dropped, noun);
		out[m->n] = strdup(more);
		if (!out[m->n]) {
			c->oom = true;
			n--;
		}
	}
	*count = n;
	return out;
}

void cfg_finish(struct cfg_ctx *c, struct cfg_diag *diag)
{
	if (!diag)
		return;
	diag->errors = take(c, &c->errors, "errors", &diag->n_errors);
	diag->warnings = take(c, &c->warnings, "warnings", &diag->n_warnings);
}

static void msgs_free(struct cfg_msgs *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].text);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

void cfg_ctx_free(struct cfg_ctx *c)
{
	msgs_free(&c->errors);
	msgs_free(&c->warnings);
}

void cfg_diag_free(struct cfg_diag *diag)
{
	if (!diag)
		return;
	for (size_t i = 0; i < diag->n_errors; i++)
		free(diag->errors[i]);
	for (size_t i = 0; i < diag->n_warnings; i++)
		free(diag->warnings[i]);
	free(diag->errors);
	free(diag->warnings);
	memset(diag, 0, sizeof(*diag));
}

const char *cfg_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a fractional number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "an unknown JSON type";
}

int cfg_int(struct cfg_ctx *c, const json_t *v, long long min, long long max, int *out)
{
	long long x;

	if (!json_is_integer(v)) {
		cfg_error(c, CFG_AT_VALUE, "expected an integer, got %s", cfg_type_name(v));
		return -1;
	}
	x = json_integer_value(v);
	if (x < min || x > max) {
		cfg_error(c, CFG_AT_VALUE, "expected an integer from %lld to %lld, got %lld", min,
			  max, x);
		return -1;
	}
	*out = (int)x;
	return 0;
}

int cfg_bool(struct cfg_ctx *c, const json_t *v, bool *out)
{
	if (!json_is_boolean(v)) {
		cfg_error(c, CFG_AT_VALUE, "expected true or false, got %s", cfg_type_name(v));
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

int cfg_str(struct cfg_ctx *c, const json_t *v, char *out, size_t cap)
{
	size_t len;

	if (!json_is_string(v)) {
		cfg_error(c, CFG_AT_VALUE, "expected a string, got %s", cfg_type_name(v));
		return -1;
	}
	len = json_string_length(v);
	if (len >= cap) {
		cfg_error(c, CFG_AT_VALUE, "%zu bytes long; at most %zu", len, cap - 1);
		return -1;
	}
	memcpy(out, json_string_value(v), len + 1);
	return 0;
}

static size_t min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;
	return m < c ? m : c;
}

/* Edit distance with adjacent transpositions (optimal string alignment),
 * over strings shorter than CFG_SUGGEST_MAX_BYTES. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	uint8_t d[CFG_SUGGEST_MAX_BYTES + 1][CFG_SUGGEST_MAX_BYTES + 1]; /* values <= 64 */

	for (size_t i = 0; i <= la; i++)
		d[i][0] = (uint8_t)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (uint8_t)j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			d[i][j] = (uint8_t)min3(d[i - 1][j] + 1u, d[i][j - 1] + 1u,
						d[i - 1][j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1u < d[i][j])
				d[i][j] = (uint8_t)(d[i - 2][j - 2] + 1u);
		}
	}
	return d[la][lb];
}

static const char *suggest(const char *name, const char *const *known, size_t n_known)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;

	if (strlen(name) >= CFG_SUGGEST_MAX_BYTES)
		return NULL;
	for (size_t i = 0; i < n_known; i++) {
		size_t len = strlen(known[i]), d;
		if (strcasecmp(name, known[i]) == 0)
			return known[i];
		if (len >= CFG_SUGGEST_MAX_BYTES)
			continue;
		d = distance(name, known[i]);
		/* One edit for short names, two for longer ones. */
		if (d < best_d && d <= (len <= 4 ? 1u : 2u)) {
			best = known[i];
			best_d = d;
		}
	}
	return best;
}

void cfg_unknown(struct cfg_ctx *c, const char *name, const char *const *known, size_t n_known)
{
	const char *s = suggest(name, known, n_known);

	if (s)
		cfg_error(c, CFG_AT_KEY, "unknown field; did you mean \"%s\"?", s);
	else
		cfg_error(c, CFG_AT_KEY, "unknown field");
}

/* dbg_buf: the output of a page or of /metrics, grown as it is written and
 * bounded by DBG_MAX_RESPONSE_BYTES; HTML and Prometheus label escaping
 * (everything from the bus is escaped before it is written). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbg.h"

void dbg_buf_free(struct dbg_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static bool reserve(struct dbg_buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (b->failed)
		return false;
	if (n > DBG_MAX_RESPONSE_BYTES - b->len) {
		b->failed = true;
		return false;
	}
	if (b->len + n + 1 <= b->cap)
		return true;
	while (cap < b->len + n + 1)
		cap *= 2;
	if (!(p = realloc(b->p, cap))) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void dbg_buf_put(struct dbg_buf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

void dbg_buf_puts(struct dbg_buf *b, const char *s)
{
	dbg_buf_put(b, s, strlen(s));
}

__attribute__((format(printf, 3, 0))) static void vprint(struct dbg_buf *b, bool html,
							 const char *fmt, va_list ap)
{
	char small[512], *big = 0;
	const char *s = small;
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n < 0) {
		b->failed = true;
	} else if ((size_t)n >= sizeof(small)) {
		if (!(big = malloc((size_t)n + 1)))
			b->failed = true;
		else
			vsnprintf(big, (size_t)n + 1, fmt, ap2);
		s = big;
	}
	va_end(ap2);
	if (n >= 0 && s) {
		if (html)
			dbg_buf_html_n(b, s, (size_t)n);
		else
			dbg_buf_put(b, s, (size_t)n);
	}
	free(big);
}

void dbg_buf_printf(struct dbg_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint(b, false, fmt, ap);
	va_end(ap);
}

void dbg_buf_htmlf(struct dbg_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint(b, true, fmt, ap);
	va_end(ap);
}

void dbg_buf_html_n(struct dbg_buf *b, const char *s, size_t n)
{
	size_t run = 0;

	for (size_t i = 0; i < n; i++) {
		const char *e = 0;
		switch (s[i]) {
		case '&':
			e = "&amp;";
			break;
		case '<':
			e = "&lt;";
			break;
		case '>':
			e = "&gt;";
			break;
		case '"':
			e = "&quot;";
			break;
		case '\'':
			e = "&#39;";
			break;
		case 0:
			e = "\xef\xbf\xbd"; /* U+FFFD: a NUL has no place in a page */
			break;
		default:
			continue;
		}
		dbg_buf_put(b, s + run, i - run);
		dbg_buf_puts(b, e);
		run = i + 1;
	}
	dbg_buf_put(b, s + run, n - run);
}

void dbg_buf_html(struct dbg_buf *b, const char *s)
{
	dbg_buf_html_n(b, s ? s : "", s ? strlen(s) : 0);
}

/* Prometheus text format: a label value escapes \, " and newline. */
void dbg_buf_label(struct dbg_buf *b, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '\\')
			dbg_buf_puts(b, "\\\\");
		else if (*s == '"')
			dbg_buf_puts(b, "\\\"");
		else if (*s == '\n')
			dbg_buf_puts(b, "\\n");
		else
			dbg_buf_put(b, s, 1);
	}
}

/* http_head: see http_head.h. The line scan follows RFC 9112 sections 2.2
 * (line ends), 4 (status line) and 5 (field lines); http_parser then reads
 * the whole head as a response and gives the status code and version. */
#include "http_head.h"

#include <http_parser.h>
#include <string.h>

/* RFC 9110 section 5.6.2 tchar: what a field name is made of. */
static bool tchar(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* A byte of a field value or reason phrase: HTAB, SP, VCHAR, obs-text. */
static bool text_byte(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* "HTTP/1.0" or "HTTP/1.1", SP, three digits (100..999), then nothing or
 * SP and a reason of text bytes. */
static int status_line(const uint8_t *l, size_t n)
{
	static const char v[] = "HTTP/1.";

	if (n < 12 || memcmp(l, v, sizeof(v) - 1) != 0 || (l[7] != '0' && l[7] != '1') ||
	    l[8] != ' ' || l[9] < '1' || l[9] > '9' || !digit(l[10]) || !digit(l[11]) ||
	    (n > 12 && l[12] != ' '))
		return HTTP_HEAD_E_STATUS_LINE;
	for (size_t i = 13; i < n; i++)
		if (!text_byte(l[i]))
			return HTTP_HEAD_E_STATUS_LINE;
	return 0;
}

/* One field line of n bytes (no line end): name, colon, value. */
static int field_line(const uint8_t *l, size_t n,
		      int (*fn)(void *, const char *, size_t, const char *, size_t), void *arg,
		      struct http_head *out)
{
	size_t name = 0, v, e;
	int rc;

	for (size_t i = 0; i < n; i++) {
		if (l[i] == 0)
			return HTTP_HEAD_E_NUL;
		if (!text_byte(l[i]))
			return HTTP_HEAD_E_CONTROL_BYTE;
	}
	if (l[0] == ' ' || l[0] == '\t')
		return HTTP_HEAD_E_OBS_FOLD;
	if (!memchr(l, ':', n))
		return HTTP_HEAD_E_NO_COLON;
	while (name < n && tchar(l[name]))
		name++;
	/* Includes a space before the colon, refused by RFC 9112 5.1. */
	if (name == 0 || l[name] != ':')
		return HTTP_HEAD_E_HEADER_NAME;
	v = name + 1;
	while (v < n && (l[v] == ' ' || l[v] == '\t'))
		v++;
	e = n;
	while (e > v && (l[e - 1] == ' ' || l[e - 1] == '\t'))
		e--;
	rc = fn ? fn(arg, (const char *)l, name, (const char *)l + v, e - v) : 0;
	if (rc != 0) {
		out->cb_rc = rc;
		return HTTP_HEAD_E_CALLBACK;
	}
	return 0;
}

/* The body is not ours to read: a response head ends at the empty line. */
static int on_headers_complete(http_parser *hp)
{
	(void)hp;
	return 1;
}

static int map_parser_errno(enum http_errno e)
{
	switch (e) {
	case HPE_INVALID_CONTENT_LENGTH:
	case HPE_UNEXPECTED_CONTENT_LENGTH:
		return HTTP_HEAD_E_CONTENT_LENGTH;
	case HPE_INVALID_TRANSFER_ENCODING:
		return HTTP_HEAD_E_TRANSFER_ENCODING;
	case HPE_INVALID_CONSTANT:
	case HPE_INVALID_VERSION:
	case HPE_INVALID_STATUS:
		return HTTP_HEAD_E_STATUS_LINE;
	case HPE_INVALID_HEADER_TOKEN:
		return HTTP_HEAD_E_HEADER_NAME;
	default:
		return HTTP_HEAD_E_SYNTAX;
	}
}

/* http_parser over the whole head, which the scan found sound. */
static int grammar(const uint8_t *p, struct http_head *out)
{
	http_parser hp;
	http_parser_settings s;
	size_t n;

	http_parser_settings_init(&s);
	s.on_headers_complete = on_headers_complete;
	http_parser_init(&hp, HTTP_RESPONSE);
	n = http_parser_execute(&hp, &s, (const char *)p, out->head_len);
	if (HTTP_PARSER_ERRNO(&hp) != HPE_OK)
		return map_parser_errno(HTTP_PARSER_ERRNO(&hp));
	if (n != out->head_len || hp.http_major != 1 || hp.status_code != out->status)
		return HTTP_HEAD_E_SYNTAX; /* the scan and the grammar disagree */
	out->http_minor = (uint8_t)hp.http_minor;
	return 0;
}

int http_head_parse(const uint8_t *p, size_t len, const struct http_head_limits *lim,
		    int (*on_header)(void *arg, const char *name, size_t name_len,
				     const char *value, size_t value_len),
		    void *arg, struct http_head *out)
{
	struct http_head h = {0};
	size_t off = 0, end_lim;
	int rc;

	if ((!p && len) || !lim || !out)
		return HTTP_HEAD_E_ARG;
	end_lim = len < lim->max_head_bytes ? len : lim->max_head_bytes;
	for (;;) {
		const uint8_t *lf = off < end_lim ? memchr(p + off, '\n', end_lim - off) : NULL;
		size_t end, n;

		if (!lf) {
			/* Room for a line and its CR, then no more. */
			if (lim->max_line_bytes && end_lim - off > lim->max_line_bytes + 1)
				return HTTP_HEAD_E_LINE_TOO_LONG;
			return len >= lim->max_head_bytes ? HTTP_HEAD_E_TOO_LARGE : HTTP_HEAD_MORE;
		}
		end = (size_t)(lf - p);
		n = end - off;
		if (n > 0 && p[end - 1] == '\r')
			n--;
		else if (lim->crlf_only)
			return HTTP_HEAD_E_LINE_ENDING;
		if (lim->max_line_bytes && n > lim->max_line_bytes)
			return HTTP_HEAD_E_LINE_TOO_LONG;
		if (off == 0) {
			rc = status_line(p, n);
			if (rc == 0)
				h.status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
		} else if (n == 0) {
			h.head_len = end + 1;
			rc = grammar(p, &h);
			if (rc == 0)
				*out = h;
			return rc;
		} else if (lim->max_headers && h.nheaders + 1 > lim->max_headers) {
			rc = HTTP_HEAD_E_TOO_MANY_HEADERS;
		} else {
			h.nheaders++;
			rc = field_line(p + off, n, on_header, arg, &h);
		}
		if (rc != 0) {
			out->cb_rc = h.cb_rc;
			return rc;
		}
		off = end + 1;
	}
}

const char *http_head_strerror(int rc)
{
	switch (rc) {
	case HTTP_HEAD_MORE:
		return "the head has no empty line yet";
	case HTTP_HEAD_OK:
		return "ok";
	case HTTP_HEAD_E_ARG:
		return "invalid argument";
	case HTTP_HEAD_E_STATUS_LINE:
		return "the status line is not HTTP/1.x NNN";
	case HTTP_HEAD_E_LINE_ENDING:
		return "a line does not end with CRLF";
	case HTTP_HEAD_E_NUL:
		return "a NUL byte in the head";
	case HTTP_HEAD_E_CONTROL_BYTE:
		return "a control byte in a header line";
	case HTTP_HEAD_E_OBS_FOLD:
		return "a folded header line (obsolete, RFC 9112 section 5.2)";
	case HTTP_HEAD_E_NO_COLON:
		return "a header line without a colon";
	case HTTP_HEAD_E_HEADER_NAME:
		return "a header name that is not a token";
	case HTTP_HEAD_E_LINE_TOO_LONG:
		return "a line over the length limit";
	case HTTP_HEAD_E_TOO_MANY_HEADERS:
		return "too many header lines";
	case HTTP_HEAD_E_TOO_LARGE:
		return "no empty line within the head size limit";
	case HTTP_HEAD_E_CONTENT_LENGTH:
		return "a bad or repeated Content-Length";
	case HTTP_HEAD_E_TRANSFER_ENCODING:
		return "a bad Transfer-Encoding";
	case HTTP_HEAD_E_SYNTAX:
		return "http_parser refused the head";
	case HTTP_HEAD_E_CALLBACK:
		return "a header the caller refused";
	}
	return "unknown http_head error";
}

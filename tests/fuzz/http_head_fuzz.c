/* http_head_fuzz: response heads (lib/http_head.h) on arbitrary bytes,
 * under netcheck's rules (CRLF only) and UPnP's (bare LF, line and header
 * limits): no crash, no read past the input, and what parses is sane: the
 * head ends in its empty line, parses alone to the same result, every
 * field has a token name and a trimmed value, and what CRLF-only rules
 * take, the lenient ones take the same. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_head.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct http_head_limits crlf = {.max_head_bytes = 8192, .crlf_only = true};
static const struct http_head_limits lf = {.max_head_bytes = 8192};
static const struct http_head_limits upnp = {
	.max_head_bytes = 1500, .max_line_bytes = 512, .max_headers = 32};

static int check_field(void *arg, const char *name, size_t nl, const char *v, size_t vl)
{
	(void)arg;
	if (nl == 0 || memchr(name, ':', nl) || memchr(name, ' ', nl))
		abort();
	if (vl && (v[0] == ' ' || v[0] == '\t' || v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		abort();
	if (memchr(v, '\n', vl) || memchr(v, '\r', vl) || memchr(v, 0, vl))
		abort();
	return 0;
}

static int run(const uint8_t *data, size_t size, const struct http_head_limits *lim,
	       struct http_head *h)
{
	struct http_head again;
	int rc = http_head_parse(data, size, lim, check_field, NULL, h);

	if (rc > HTTP_HEAD_MORE || rc < HTTP_HEAD_E_CALLBACK || rc == HTTP_HEAD_E_CALLBACK)
		abort();
	if (rc != HTTP_HEAD_OK)
		return rc;
	if (h->head_len > size || h->head_len < 14 || data[h->head_len - 1] != '\n' ||
	    h->status < 100 || h->status > 999 || h->http_minor > 1 ||
	    (lim->max_headers && h->nheaders > lim->max_headers))
		abort();
	if (http_head_parse(data, h->head_len, lim, NULL, NULL, &again) != HTTP_HEAD_OK ||
	    again.status != h->status || again.head_len != h->head_len ||
	    again.nheaders != h->nheaders)
		abort();
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_head a, b, c;
	int strict = run(data, size, &crlf, &a);
	int lenient = run(data, size, &lf, &b);

	(void)run(data, size, &upnp, &c);
	if (strict == HTTP_HEAD_OK &&
	    (lenient != HTTP_HEAD_OK || b.head_len != a.head_len || b.status != a.status))
		abort();
	return 0;
}

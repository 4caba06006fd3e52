/* dbg_http: one request head in, one whole response out. The head is
 * parsed by msock-derper's derper_http_parse (Node's http_parser with our
 * line rules and limits: one HTTP request parser in the tree) and the
 * response built by its derper_http_response; this file holds the routes:
 * GET or HEAD of /, /debug/, /debug/magicsock[?peer=<hex>] and /metrics.
 * Every response closes the connection. Pure: no I/O, time from the caller. */
#include <stdlib.h>
#include <string.h>

#include "dbg_http.h"
#include "derper_http.h"

/* Served with every response: nothing from the bus runs as script, and
 * nothing is cached or sniffed. */
#define COMMON_HEADERS                \
	"Cache-Control: no-store\r\n" \
	"X-Content-Type-Options: nosniff\r\n"
#define HTML_HEADERS                                                             \
	COMMON_HEADERS "Content-Security-Policy: default-src 'none'; style-src " \
		       "'unsafe-inline'; img-src 'self'\r\n"                     \
		       "X-Frame-Options: DENY\r\n"

static bool is_hex64(const char *s, size_t n)
{
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* ?peer=<64 lowercase hex>; every other parameter is ignored. */
static int query_peer(const char *q, char peer[65])
{
	peer[0] = 0;
	while (q && *q) {
		const char *end = strchr(q, '&');
		size_t n = end ? (size_t)(end - q) : strlen(q);
		if (n >= 5 && memcmp(q, "peer=", 5) == 0) {
			if (!is_hex64(q + 5, n - 5))
				return -1;
			memcpy(peer, q + 5, 64);
			peer[64] = 0;
		}
		q = end ? end + 1 : 0;
	}
	return 0;
}

/* A TCP listener answers only to a Host naming loopback: a web page that
 * rebinds its own name to 127.0.0.1 must not read the node's state. */
static bool host_ok(const char *host)
{
	static const char *const ok[] = {"localhost", "127.", "[::1]"};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strncmp(host, ok[i], strlen(ok[i])) == 0) {
			const char *rest = host + strlen(ok[i]);
			if (ok[i][strlen(ok[i]) - 1] == '.')
				rest += strspn(rest, "0123456789.");
			return *rest == 0 ||
			       (*rest == ':' && strspn(rest + 1, "0123456789") == strlen(rest + 1));
		}
	return false;
}

static int finish(struct dbg_buf *out, const struct derper_http_req *req, int64_t now_s, int code,
		  const char *ctype, const struct dbg_buf *body, const char *headers)
{
	size_t cap = (body ? body->len : 0) + 2048, n;
	uint8_t *buf = malloc(cap);

	dbg_buf_free(out);
	if (!buf) {
		out->failed = true;
		return code;
	}
	n = derper_http_response(req, (time_t)now_s, code, ctype,
				 body ? (const uint8_t *)body->p : 0, body ? body->len : 0, headers,
				 buf, cap);
	out->p = (char *)buf;
	out->len = n;
	out->cap = cap;
	out->failed = n == 0;
	return code;
}

static int text(struct dbg_buf *out, const struct derper_http_req *req, int64_t now_s, int code,
		const char *msg, const char *extra)
{
	struct dbg_buf body = {0};
	char headers[256];

	dbg_buf_printf(&body, "%s\n", msg);
	snprintf(headers, sizeof(headers), "%s%s", COMMON_HEADERS, extra ? extra : "");
	code = finish(out, req, now_s, code, "text/plain; charset=utf-8", &body, headers);
	dbg_buf_free(&body);
	return code;
}

int dbg_http_answer(const struct dbg_model *m, const struct dbg_now *now,
		    const struct dbg_http_opts *opts, const uint8_t *p, size_t len,
		    struct dbg_buf *out, size_t *head_len)
{
	struct derper_http_req req, close_req;
	struct dbg_buf body = {0};
	char peer[65];
	int64_t now_s = now->unix_ms / 1000;
	size_t consumed = 0;
	int rc = derper_http_parse(p, len, &req, &consumed), code;

	*head_len = consumed;
	if (rc == DERPER_HTTP_INCOMPLETE)
		return DBG_HTTP_MORE;
	if (rc < 0) {
		size_t n;
		dbg_buf_free(out);
		if (!(out->p = malloc(1024))) {
			out->failed = true;
			return 400;
		}
		out->cap = 1024;
		n = derper_http_bad_request(rc, (time_t)now_s, (uint8_t *)out->p, out->cap);
		out->len = n;
		out->failed = n == 0;
		return rc == DERPER_HTTP_E_HEAD_TOO_LARGE || rc == DERPER_HTTP_E_TOO_MANY_HEADERS ||
				       rc == DERPER_HTTP_E_HEADER_TOO_LONG
			       ? 431
		       : rc == DERPER_HTTP_E_URI_TOO_LONG ? 414
		       : rc == DERPER_HTTP_E_VERSION	  ? 505
							  : 400;
	}
	close_req = req;
	close_req.keep_alive = false; /* one request per connection */
	if (opts->check_host && !host_ok(close_req.host))
		return text(
			out, &close_req, now_s, 403,
			"403 Forbidden: Host must name loopback (localhost, 127.0.0.1 or [::1])",
			0);
	if (close_req.method != DERPER_HTTP_METHOD_GET &&
	    close_req.method != DERPER_HTTP_METHOD_HEAD)
		return text(out, &close_req, now_s, 405,
			    "405 Method Not Allowed: only GET and HEAD", "Allow: GET, HEAD\r\n");
	if (strcmp(close_req.path, "/") == 0 || strcmp(close_req.path, "/debug/") == 0 ||
	    strcmp(close_req.path, "/debug") == 0) {
		dbg_page_index(&body);
		code = 200;
	} else if (strcmp(close_req.path, "/debug/magicsock") == 0) {
		if (query_peer(close_req.query, peer) < 0)
			return text(
				out, &close_req, now_s, 400,
				"400 Bad Request: peer: expected a node key as 64 lowercase hex "
				"digits",
				0);
		dbg_page_magicsock(m, now, peer[0] ? peer : 0, &body);
		code = 200;
	} else if (strcmp(close_req.path, "/metrics") == 0) {
		dbg_metrics(m, now, &body);
		if (body.failed) {
			dbg_buf_free(&body);
			return text(out, &close_req, now_s, 500,
				    "500 Internal Server Error: metrics too large", 0);
		}
		code = finish(out, &close_req, now_s, 200,
			      "text/plain; version=0.0.4; charset=utf-8", &body, COMMON_HEADERS);
		dbg_buf_free(&body);
		return code;
	} else {
		return text(out, &close_req, now_s, 404, "404 page not found", 0);
	}
	if (body.failed) {
		dbg_buf_free(&body);
		return text(out, &close_req, now_s, 500,
			    "500 Internal Server Error: page too large; ask for one peer with "
			    "?peer=<hex>",
			    0);
	}
	code = finish(out, &close_req, now_s, code, "text/html; charset=utf-8", &body,
		      HTML_HEADERS);
	dbg_buf_free(&body);
	return code;
}

void dbg_http_timeout(const struct dbg_now *now, struct dbg_buf *out)
{
	text(out, 0, now->unix_ms / 1000, 408,
	     "408 Request Timeout: no whole request head within 5 s", 0);
}

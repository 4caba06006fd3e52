/* derper_http: the HTTP/1.1 front of msock-derper, pure (no sockets, no
 * clock, no allocation): parse one request head with Node's http_parser,
 * route it as Tailscale's cmd/derper mux does (cmd/derper/derper.go,
 * derp/derpserver/handler.go), and build the responses into a caller's
 * buffer. The event loop owns the connection and calls these. Files:
 *   derper_http_parse.c     the request head (derper_http_parse, _strerror)
 *   derper_http.c           the routes and the response builders
 *   derper_http_internal.h  what they share. */
#ifndef MSOCK_DERPER_HTTP_H
#define MSOCK_DERPER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "key.h"

enum {
	/* Longest request head (request line + headers + the empty line).
	 * Ours: Go's net/http default (DefaultMaxHeaderBytes) is 1 MiB, which
	 * Tailscale's derper keeps; a DERP client's head is ~150 bytes and 8 KiB
	 * is nginx's and Apache's usual line/field limit. */
	DERPER_HTTP_MAX_HEAD_BYTES = 8192,
	/* Header lines per request. Ours (Go has no count limit); Tailscale's
	 * client sends 4 to 6, browsers about 20. */
	DERPER_HTTP_MAX_HEADERS = 64,
	/* The request-target (path and query). Ours; longer gets 414. */
	DERPER_HTTP_TARGET_MAX_BYTES = 1024,
	/* Host: a 253-byte DNS name (RFC 1035) + ':' + 5-digit port, rounded. */
	DERPER_HTTP_HOST_MAX_BYTES = 264,
	/* Upgrade and Connection: the values we compare are short tokens
	 * ("DERP", "websocket", "Upgrade", "keep-alive"); longer is refused. */
	DERPER_HTTP_TOKEN_MAX_BYTES = 64,
	/* X-Tailscale-Challenge: Tailscale answers a challenge of at most 64
	 * bytes (derpserver.ServeNoContent); a longer one is dropped, not refused. */
	DERPER_HTTP_CHALLENGE_MAX_BYTES = 64,
	/* Ideal-Node: a DERP node name from the client's DERP map; informative
	 * only ("purely informative for now", derphttp_client.go), so a longer
	 * value is dropped, not refused. */
	DERPER_HTTP_IDEAL_NODE_MAX_BYTES = 64,
	/* Longest method name we keep for logs ("UNSUBSCRIBE" is 11). */
	DERPER_HTTP_METHOD_MAX_BYTES = 16,
};

/* derper_http_parse results: > 0 needs more, 0 done, < 0 refused. */
enum {
	DERPER_HTTP_INCOMPLETE = 1,
	DERPER_HTTP_OK = 0,
	DERPER_HTTP_E_SYNTAX = -1,  /* http_parser refused the request line or a header */
	DERPER_HTTP_E_METHOD = -2,  /* not an HTTP method (a TLS ClientHello on the plain port) */
	DERPER_HTTP_E_VERSION = -3, /* not HTTP/1.x (HTTP/0.9, HTTP/2.0, ...) */
	DERPER_HTTP_E_HEAD_TOO_LARGE = -4,   /* no end of head within DERPER_HTTP_MAX_HEAD_BYTES */
	DERPER_HTTP_E_TOO_MANY_HEADERS = -5, /* more than DERPER_HTTP_MAX_HEADERS */
	DERPER_HTTP_E_HEADER_TOO_LONG = -6,  /* Host, Upgrade or Connection over its limit */
	DERPER_HTTP_E_URI_TOO_LONG = -7,     /* request-target over DERPER_HTTP_TARGET_MAX_BYTES */
	DERPER_HTTP_E_BODY = -8, /* Content-Length > 0 or Transfer-Encoding: no route takes one */
	DERPER_HTTP_E_LINE_ENDING = -9,	       /* a bare LF or CR where CRLF belongs */
	DERPER_HTTP_E_CONTROL_BYTE = -10,      /* NUL or another control byte in the head */
	DERPER_HTTP_E_HEADER_NAME = -11,       /* a field name that is not a token ("X : y") */
	DERPER_HTTP_E_OBS_FOLD = -12,	       /* a line folded onto the previous (RFC 9112 5.2) */
	DERPER_HTTP_E_NO_HOST = -13,	       /* HTTP/1.1 without Host (Go: 400) */
	DERPER_HTTP_E_DUP_HOST = -14,	       /* two Host headers (Go: 400) */
	DERPER_HTTP_E_URL = -15,	       /* a request-target http_parser_parse_url refuses */
	DERPER_HTTP_E_TRANSFER_ENCODING = -16, /* a Transfer-Encoding http_parser refuses */
	DERPER_HTTP_E_CONTENT_LENGTH = -17,    /* a bad or repeated Content-Length */
	DERPER_HTTP_E_ARG = -18,	       /* NULL out/consumed */
};

/* The methods the routes care about; anything else http_parser knows is
 * DERPER_HTTP_METHOD_OTHER (its name is in method_name). */
enum derper_http_method {
	DERPER_HTTP_METHOD_INVALID = 0,
	DERPER_HTTP_METHOD_GET,
	DERPER_HTTP_METHOD_HEAD,
	DERPER_HTTP_METHOD_POST,
	DERPER_HTTP_METHOD_CONNECT,
	DERPER_HTTP_METHOD_OTHER,
};

/* One parsed request head. Strings are NUL-terminated and never truncated:
 * a value that does not fit is refused or (where Tailscale ignores it)
 * left empty. Header values are as Go's Header.Get sees them: the first
 * occurrence, with surrounding spaces and tabs trimmed. */
struct derper_http_req {
	enum derper_http_method method;
	char method_name[DERPER_HTTP_METHOD_MAX_BYTES + 1];
	uint8_t http_major, http_minor;
	char path[DERPER_HTTP_TARGET_MAX_BYTES + 1];  /* without the query; "" for CONNECT */
	char query[DERPER_HTTP_TARGET_MAX_BYTES + 1]; /* after '?', without it */
	char host[DERPER_HTTP_HOST_MAX_BYTES + 1];
	char upgrade[DERPER_HTTP_TOKEN_MAX_BYTES + 1];
	char connection[DERPER_HTTP_TOKEN_MAX_BYTES + 1];
	/* Derp-Fast-Start: 1 (derp.FastStartHeader): the client skips the 101
	 * and speaks DERP right after its head, so the server sends no 101. */
	bool fast_start;
	char challenge[DERPER_HTTP_CHALLENGE_MAX_BYTES + 1];   /* X-Tailscale-Challenge */
	char ideal_node[DERPER_HTTP_IDEAL_NODE_MAX_BYTES + 1]; /* Ideal-Node */
	bool has_ideal_node; /* Ideal-Node is present and not empty (even if too long to keep) */
	bool keep_alive; /* http_should_keep_alive: HTTP/1.1 unless "close", 1.0 if "keep-alive" */
	unsigned nheaders;
};

/* Parses one request head from the start of p. Stateless: call again with
 * the whole buffer (from the start of the request) as more bytes arrive.
 * Returns DERPER_HTTP_INCOMPLETE (need more bytes; *consumed = 0),
 * 0 (*out filled, *consumed = bytes of the head; what follows is the next
 * request or, after a DERP upgrade, the DERP stream), or a DERPER_HTTP_E_*
 * code (*consumed = offset of the offending byte, for logs). *out is
 * written only on success. */
int derper_http_parse(const uint8_t *p, size_t len, struct derper_http_req *out, size_t *consumed);

/* A static description of a derper_http_parse result, for logs. */
const char *derper_http_strerror(int rc);

enum derper_route {
	DERPER_ROUTE_INVALID = 0,
	DERPER_ROUTE_DERP_UPGRADE,   /* /derp, Upgrade: DERP (any case, any method, as Tailscale) */
	DERPER_ROUTE_DERP_WEBSOCKET, /* /derp, Upgrade: websocket: not built; answer 426 */
	DERPER_ROUTE_DERP_NO_UPGRADE,  /* /derp without a DERP upgrade: 426 */
	DERPER_ROUTE_PROBE,	       /* GET/HEAD /derp/probe or /derp/latency-check: 200 */
	DERPER_ROUTE_PROBE_BAD_METHOD, /* other methods there: 405 */
	DERPER_ROUTE_GENERATE_204,     /* /generate_204 (any method): 204 */
	DERPER_ROUTE_METRICS,	       /* /debug/metrics; the caller decides who may see it */
	DERPER_ROUTE_ROBOTS,	       /* /robots.txt */
	DERPER_ROUTE_HOME,	       /* "/": 200 with a short page */
	DERPER_ROUTE_NOT_FOUND,	       /* everything else: 404 */
};

enum derper_route derper_http_route(const struct derper_http_req *req);
const char *derper_route_name(enum derper_route r);

/* Response builders. Each writes a whole response into buf and returns its
 * length, or 0 if cap is too small (or an argument is invalid); nothing
 * past the returned length is written. `req` (NULL if no request was
 * parsed) decides "Connection: close" (not keep-alive; to close anyway,
 * pass a copy with keep_alive = false), "Connection: keep-alive" (an
 * HTTP/1.0 keep-alive request), and whether a body follows (not for HEAD).
 * `now` (wall-clock seconds) becomes the Date header that Go's net/http
 * adds to every response; 0 leaves Date out. Content-Length is written
 * as Go's net/http does: on every response but 101 and 204. */

/* 101 for a DERP upgrade, byte for byte Tailscale's (handler.go): Upgrade:
 * DERP, Connection: Upgrade, Derp-Version: 2, Derp-Public-Key: <64 hex>. Not
 * sent when req->fast_start. No Date, as Tailscale writes it by hand. */
size_t derper_http_101_derp(const struct key32 *server_public, uint8_t *buf, size_t cap);
/* 426 "DERP requires connection upgrade" (handler.go). */
size_t derper_http_426(const struct derper_http_req *req, time_t now, uint8_t *buf, size_t cap);
/* 200, empty, Access-Control-Allow-Origin: * (derpserver.ProbeHandler). */
size_t derper_http_probe(const struct derper_http_req *req, time_t now, uint8_t *buf, size_t cap);
/* 405 "bogus probe method" (derpserver.ProbeHandler). */
size_t derper_http_405_probe(const struct derper_http_req *req, time_t now, uint8_t *buf,
			     size_t cap);
/* 204 with Cache-Control as derpserver.ServeNoContent, and
 * X-Tailscale-Response: response <challenge> when the challenge is valid. */
size_t derper_http_204(const struct derper_http_req *req, time_t now, uint8_t *buf, size_t cap);
/* Whether Tailscale would answer this X-Tailscale-Challenge: 1 to 64 bytes
 * of [A-Za-z0-9._:-] (derpserver.isChallengeChar). */
bool derper_http_challenge_valid(const char *challenge);
/* 404 "404 page not found" (Go's http.NotFound). */
size_t derper_http_404(const struct derper_http_req *req, time_t now, uint8_t *buf, size_t cap);
/* 500 with `msg` (a short text without CR/LF) as Go's http.Error writes it. */
size_t derper_http_500(const struct derper_http_req *req, time_t now, const char *msg, uint8_t *buf,
		       size_t cap);
/* 200 text/plain "User-agent: *\nDisallow: /\n" (cmd/derper's robots.txt). */
size_t derper_http_robots(const struct derper_http_req *req, time_t now, uint8_t *buf, size_t cap);
/* 200 text/html: a short page naming this a DERP relay (ours, not
 * Tailscale's template). */
size_t derper_http_home(const struct derper_http_req *req, time_t now, uint8_t *buf, size_t cap);
/* Go's http.Error: `code`, text/plain; charset=utf-8, X-Content-Type-Options:
 * nosniff, body msg + "\n". msg must not hold CR or LF. */
size_t derper_http_error(const struct derper_http_req *req, time_t now, int code, const char *msg,
			 uint8_t *buf, size_t cap);
/* The answer to a head derper_http_parse refused, with the status Go's
 * net/http gives: 431 for a head or header too large, 414 for a long
 * target, 505 for a version, else 400; a text/plain body "<code> <text>:
 * <why>", and "Connection: close" (the caller closes after writing it). */
size_t derper_http_bad_request(int parse_rc, time_t now, uint8_t *buf, size_t cap);
/* Any response: status `code` (100..599), optional content_type (NULL: no
 * Content-Type), body of body_len bytes, and extra_headers: NULL or whole
 * "Name: value\r\n" lines (the caller's own text, checked only for ending in
 * CRLF and holding no empty line). For /debug/metrics. */
size_t derper_http_response(const struct derper_http_req *req, time_t now, int code,
			    const char *content_type, const uint8_t *body, size_t body_len,
			    const char *extra_headers, uint8_t *buf, size_t cap);

#endif

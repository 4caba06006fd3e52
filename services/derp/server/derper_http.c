/* derper_http: routing as Tailscale's cmd/derper mux does
 * (cmd/derper/derper.go, derp/derpserver/handler.go) and the responses,
 * with Go's net/http conventions for Content-Length, Date and errors. The
 * request head is derper_http_parse.c's. Pure. No timers. */
#include "derper_http.h"

#include <http_parser.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "derper_http_internal.h"

enum {
	/* One formatted header line in a response (the challenge line is ~100). */
	LINE_MAX_BYTES = 512,
	/* "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 5.6.7) + NUL. */
	IMF_DATE_BYTES = 64, /* room for any int fields, so snprintf cannot cut */
};

/* Routing: cmd/derper/derper.go's mux. Paths compare exactly (Go's
 * ServeMux would first clean and redirect "//derp" or "/derp/../derp"). */
enum derper_route derper_http_route(const struct derper_http_req *req)
{
	if (!req)
		return DERPER_ROUTE_INVALID;
	if (strcmp(req->path, "/derp") == 0) {
		/* handler.go: strings.ToLower(Upgrade) is "derp" or "websocket";
		 * neither the method nor Connection is checked. */
		if (derper_http_eq_nocase(req->upgrade, "derp"))
			return DERPER_ROUTE_DERP_UPGRADE;
		if (derper_http_eq_nocase(req->upgrade, "websocket"))
			return DERPER_ROUTE_DERP_WEBSOCKET;
		return DERPER_ROUTE_DERP_NO_UPGRADE;
	}
	if (strcmp(req->path, "/derp/probe") == 0 ||
	    strcmp(req->path, "/derp/latency-check") == 0) {
		if (req->method == DERPER_HTTP_METHOD_GET || req->method == DERPER_HTTP_METHOD_HEAD)
			return DERPER_ROUTE_PROBE;
		return DERPER_ROUTE_PROBE_BAD_METHOD;
	}
	if (strcmp(req->path, "/generate_204") == 0)
		return DERPER_ROUTE_GENERATE_204;
	if (strcmp(req->path, "/debug/metrics") == 0)
		return DERPER_ROUTE_METRICS;
	if (strcmp(req->path, "/robots.txt") == 0)
		return DERPER_ROUTE_ROBOTS;
	if (strcmp(req->path, "/") == 0)
		return DERPER_ROUTE_HOME;
	return DERPER_ROUTE_NOT_FOUND;
}

const char *derper_route_name(enum derper_route r)
{
	switch (r) {
	case DERPER_ROUTE_DERP_UPGRADE:
		return "derp-upgrade";
	case DERPER_ROUTE_DERP_WEBSOCKET:
		return "derp-websocket";
	case DERPER_ROUTE_DERP_NO_UPGRADE:
		return "derp-no-upgrade";
	case DERPER_ROUTE_PROBE:
		return "probe";
	case DERPER_ROUTE_PROBE_BAD_METHOD:
		return "probe-bad-method";
	case DERPER_ROUTE_GENERATE_204:
		return "generate-204";
	case DERPER_ROUTE_METRICS:
		return "metrics";
	case DERPER_ROUTE_ROBOTS:
		return "robots";
	case DERPER_ROUTE_HOME:
		return "home";
	case DERPER_ROUTE_NOT_FOUND:
		return "not-found";
	default:
		return "invalid";
	}
}

/* Response writing: appends to buf, remembering overflow. */
struct out {
	uint8_t *buf;
	size_t cap, len;
	bool bad;
};

static void put(struct out *o, const void *p, size_t n)
{
	if (o->bad || n > o->cap - o->len) {
		o->bad = true;
		return;
	}
	if (n)
		memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Formats through a local line so that no NUL lands in buf past len. */
__attribute__((format(printf, 2, 3))) static void putf(struct out *o, const char *fmt, ...)
{
	char line[LINE_MAX_BYTES];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		o->bad = true;
		return;
	}
	put(o, line, (size_t)n);
}

static size_t finish(struct out *o)
{
	return o->bad ? 0 : o->len;
}

/* RFC 9110 5.6.7 IMF-fixdate, with our own names so no locale applies. */
static bool imf_date(time_t t, char out[IMF_DATE_BYTES])
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;

	if (!gmtime_r(&t, &tm) || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
	    tm.tm_mon > 11 || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
		return false;
	snprintf(out, IMF_DATE_BYTES, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
		 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		 tm.tm_sec);
	return true;
}

static const char *reason(int code)
{
	const char *r;

	if (code < 100 || code > 599)
		return NULL;
	r = http_status_str((enum http_status)code);
	return (r && r[0] != '<') ? r : NULL; /* "<unknown>" */
}

/* handler_hdrs: whole header lines the handler set (Go writes them before
 * the ones net/http adds: Connection, Date, Content-Length). */
static size_t respond(const struct derper_http_req *req, time_t now, int code,
		      const char *content_type, const char *handler_hdrs, const uint8_t *body,
		      size_t body_len, uint8_t *buf, size_t cap)
{
	struct out o = {.buf = buf, .cap = cap};
	const char *why = reason(code);
	char date[IMF_DATE_BYTES];
	bool head = req && req->method == DERPER_HTTP_METHOD_HEAD;
	bool no_body = code == 204 || code == 304 || code < 200;

	if (!buf || !why || (body_len && !body))
		return 0;
	putf(&o, "HTTP/1.1 %d %s\r\n", code, why);
	if (content_type)
		putf(&o, "Content-Type: %s\r\n", content_type);
	if (handler_hdrs)
		puts_(&o, handler_hdrs);
	if (!req || !req->keep_alive)
		puts_(&o, "Connection: close\r\n");
	else if (req->http_minor == 0)
		puts_(&o, "Connection: keep-alive\r\n");
	if (now != 0) {
		if (!imf_date(now, date))
			return 0;
		putf(&o, "Date: %s\r\n", date);
	}
	if (!no_body)
		putf(&o, "Content-Length: %zu\r\n", body_len);
	puts_(&o, "\r\n");
	if (!no_body && !head)
		put(&o, body, body_len);
	return finish(&o);
}

size_t derper_http_101_derp(const struct key32 *server_public, uint8_t *buf, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	struct out o = {.buf = buf, .cap = cap};
	char pub[KEY_HEX_LEN + 1];

	if (!server_public || !buf)
		return 0;
	/* key.NodePublic.UntypedHexString: 64 lowercase hex, no prefix. */
	for (int i = 0; i < KEY_LEN; i++) {
		pub[2 * i] = hex[server_public->b[i] >> 4];
		pub[2 * i + 1] = hex[server_public->b[i] & 0xf];
	}
	pub[KEY_HEX_LEN] = 0;
	puts_(&o, "HTTP/1.1 101 Switching Protocols\r\n"
		  "Upgrade: DERP\r\n"
		  "Connection: Upgrade\r\n"
		  "Derp-Version: 2\r\n"); /* derp.ProtocolVersion */
	putf(&o, "Derp-Public-Key: %s\r\n\r\n", pub);
	return finish(&o);
}

size_t derper_http_error(const struct derper_http_req *req, time_t now, int code, const char *msg,
			 uint8_t *buf, size_t cap)
{
	char body[LINE_MAX_BYTES];
	size_t n;

	if (!msg || strpbrk(msg, "\r\n"))
		return 0;
	n = strlen(msg);
	if (n + 1 >= sizeof(body))
		return 0;
	memcpy(body, msg, n);
	body[n++] = '\n'; /* http.Error uses Fprintln */
	return respond(req, now, code, "text/plain; charset=utf-8",
		       "X-Content-Type-Options: nosniff\r\n", (const uint8_t *)body, n, buf, cap);
}

size_t derper_http_426(const struct derper_http_req *req, time_t now, uint8_t *buf, size_t cap)
{
	return derper_http_error(req, now, 426, "DERP requires connection upgrade", buf, cap);
}

size_t derper_http_probe(const struct derper_http_req *req, time_t now, uint8_t *buf, size_t cap)
{
	return respond(req, now, 200, NULL, "Access-Control-Allow-Origin: *\r\n", NULL, 0, buf,
		       cap);
}

size_t derper_http_405_probe(const struct derper_http_req *req, time_t now, uint8_t *buf,
			     size_t cap)
{
	return derper_http_error(req, now, 405, "bogus probe method", buf, cap);
}

bool derper_http_challenge_valid(const char *ch)
{
	size_t n;

	if (!ch || !ch[0])
		return false;
	n = strlen(ch);
	if (n > DERPER_HTTP_CHALLENGE_MAX_BYTES)
		return false;
	for (size_t i = 0; i < n; i++) {
		char x = ch[i];
		if (!((x >= 'a' && x <= 'z') || (x >= 'A' && x <= 'Z') || (x >= '0' && x <= '9') ||
		      x == '.' || x == '-' || x == '_' || x == ':'))
			return false;
	}
	return true;
}

size_t derper_http_204(const struct derper_http_req *req, time_t now, uint8_t *buf, size_t cap)
{
	char hdrs[LINE_MAX_BYTES];

	if (req && derper_http_challenge_valid(req->challenge))
		snprintf(hdrs, sizeof(hdrs),
			 "Cache-Control: no-cache, no-store, must-revalidate, no-transform, "
			 "max-age=0\r\nX-Tailscale-Response: response %s\r\n",
			 req->challenge);
	else
		snprintf(hdrs, sizeof(hdrs),
			 "Cache-Control: no-cache, no-store, must-revalidate, no-transform, "
			 "max-age=0\r\n");
	return respond(req, now, 204, NULL, hdrs, NULL, 0, buf, cap);
}

size_t derper_http_404(const struct derper_http_req *req, time_t now, uint8_t *buf, size_t cap)
{
	return derper_http_error(req, now, 404, "404 page not found", buf, cap);
}

size_t derper_http_500(const struct derper_http_req *req, time_t now, const char *msg, uint8_t *buf,
		       size_t cap)
{
	return derper_http_error(req, now, 500, msg ? msg : "internal server error", buf, cap);
}

size_t derper_http_robots(const struct derper_http_req *req, time_t now, uint8_t *buf, size_t cap)
{
	static const char robots[] = "User-agent: *\nDisallow: /\n";

	return respond(req, now, 200, "text/plain; charset=utf-8", NULL, (const uint8_t *)robots,
		       sizeof(robots) - 1, buf, cap);
}

size_t derper_http_home(const struct derper_http_req *req, time_t now, uint8_t *buf, size_t cap)
{
	static const char page[] = "<html><body>\n<h1>DERP</h1>\n"
				   "<p>This is a DERP relay (msock-derper): it relays end-to-end "
				   "encrypted traffic for WireGuard peers that cannot reach each "
				   "other directly.</p>\n</body></html>\n";

	return respond(req, now, 200, "text/html; charset=utf-8", NULL, (const uint8_t *)page,
		       sizeof(page) - 1, buf, cap);
}

size_t derper_http_bad_request(int parse_rc, time_t now, uint8_t *buf, size_t cap)
{
	const char *text;
	int code;

	switch (parse_rc) {
	case DERPER_HTTP_E_HEAD_TOO_LARGE:
	case DERPER_HTTP_E_TOO_MANY_HEADERS:
	case DERPER_HTTP_E_HEADER_TOO_LONG:
		code = 431;
		text = "Request Header Fields Too Large";
		break;
	case DERPER_HTTP_E_URI_TOO_LONG:
		code = 414;
		text = "URI Too Long";
		break;
	case DERPER_HTTP_E_VERSION:
		code = 505;
		text = "HTTP Version Not Supported: unsupported protocol version";
		break;
	default:
		code = 400;
		text = "Bad Request";
		break;
	}
	/* Go's status codes; its body is "<code> <text>", ours adds why. */
	char body[LINE_MAX_BYTES];
	int n = snprintf(body, sizeof(body), "%d %s: %s", code, text,
			 derper_http_strerror(parse_rc));

	if (n < 0 || (size_t)n >= sizeof(body))
		return 0;
	return respond(NULL, now, code, "text/plain; charset=utf-8", NULL, (const uint8_t *)body,
		       (size_t)n, buf, cap);
}

static bool extra_headers_ok(const char *h)
{
	size_t n;

	if (!h)
		return true;
	n = strlen(h);
	if (n == 0)
		return true;
	if (n < 2 || h[n - 2] != '\r' || h[n - 1] != '\n' || strstr(h, "\r\n\r\n") ||
	    (h[0] == '\r' && h[1] == '\n'))
		return false;
	return true;
}

size_t derper_http_response(const struct derper_http_req *req, time_t now, int code,
			    const char *content_type, const uint8_t *body, size_t body_len,
			    const char *extra_headers, uint8_t *buf, size_t cap)
{
	if (!extra_headers_ok(extra_headers) || (content_type && strpbrk(content_type, "\r\n")))
		return 0;
	return respond(req, now, code, content_type, extra_headers, body, body_len, buf, cap);
}

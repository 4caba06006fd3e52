/* derper_http: request heads through http_parser, Tailscale's routes and
 * responses (cmd/derper/derper.go, derp/derpserver/handler.go), Go's
 * net/http conventions for Content-Length, Date and errors. Pure. */
#include "derper_http.h"

#include <http_parser.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum {
	/* Header names we look for are at most 21 bytes ("X-Tailscale-Challenge"). */
	NAME_KEEP_BYTES = 32,
	/* Derp-Fast-Start only matters when it is "1". */
	FAST_START_KEEP_BYTES = 8,
	/* One formatted header line in a response (the challenge line is ~100). */
	LINE_MAX_BYTES = 512,
	/* "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 5.6.7) + NUL. */
	IMF_DATE_BYTES = 64, /* room for any int fields, so snprintf cannot cut */
};

enum hdr {
	HDR_OTHER = 0,
	HDR_HOST,
	HDR_UPGRADE,
	HDR_CONNECTION,
	HDR_FAST_START,
	HDR_CHALLENGE,
	HDR_IDEAL_NODE,
	HDR_COUNT,
};

/* refuse: a longer value fails the request; otherwise it is dropped, as
 * Tailscale ignores a long challenge and Ideal-Node is informative. */
static const struct {
	const char *name;
	size_t max;
	bool refuse;
} known[HDR_COUNT] = {
	[HDR_HOST] = {"host", DERPER_HTTP_HOST_MAX_BYTES, true},
	[HDR_UPGRADE] = {"upgrade", DERPER_HTTP_TOKEN_MAX_BYTES, true},
	[HDR_CONNECTION] = {"connection", DERPER_HTTP_TOKEN_MAX_BYTES, true},
	[HDR_FAST_START] = {"derp-fast-start", FAST_START_KEEP_BYTES, false},
	[HDR_CHALLENGE] = {"x-tailscale-challenge", DERPER_HTTP_CHALLENGE_MAX_BYTES, false},
	[HDR_IDEAL_NODE] = {"ideal-node", DERPER_HTTP_IDEAL_NODE_MAX_BYTES, false},
};

static char lower(char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
}

static bool eq_nocase(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (lower(*a) != lower(*b))
			return false;
	return *a == *b;
}

static enum hdr lookup_hdr(const char *name)
{
	for (int i = 1; i < HDR_COUNT; i++)
		if (eq_nocase(name, known[i].name))
			return (enum hdr)i;
	return HDR_OTHER;
}

/* RFC 9110 5.6.2 tchar. */
static bool is_tchar(uint8_t ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
		return true;
	return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* scan: our rules on the head's bytes and lines, which http_parser (built
 * lenient) lets through or checks only in callbacks: CRLF only, no control
 * bytes, no folded lines, token names, and the limits. Every error is
 * decided by the byte it is reported at and those before it, so a prefix
 * of a request is never refused differently from the whole (http_parser's
 * callbacks, which fire where the buffer happens to end, could not
 * promise that). Returns 0 or an error with *at set. */
enum sstate {
	SS_START = 0, /* before the request line: empty lines are skipped */
	SS_METHOD,
	SS_SP,
	SS_TARGET,
	SS_REQ_REST, /* the version, up to CRLF */
	SS_LINE,     /* at the start of a header line or the empty line */
	SS_NAME,
	SS_OWS,
	SS_VALUE,
	SS_EOL, /* after a header line's CR */
	SS_END, /* after the empty line's CR */
};

static int scan(const uint8_t *p, size_t n, size_t *at)
{
	enum sstate st = SS_START;
	size_t target_len = 0, name_len = 0, val_len = 0, nheaders = 0;
	char name[NAME_KEEP_BYTES + 1];
	bool name_long = false, host_seen = false;
	enum hdr h = HDR_OTHER;

	for (size_t i = 0; i < n; i++) {
		uint8_t ch = p[i];

		*at = i;
		if (i > 0 && p[i - 1] == '\r' && ch != '\n')
			return DERPER_HTTP_E_LINE_ENDING;
		if (ch == '\n' && (i == 0 || p[i - 1] != '\r'))
			return DERPER_HTTP_E_LINE_ENDING;
		if ((ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\n') || ch == 0x7f) {
			/* A first byte like this is no HTTP at all (0x16: TLS). */
			return i == 0 ? DERPER_HTTP_E_METHOD : DERPER_HTTP_E_CONTROL_BYTE;
		}
		switch (st) {
		case SS_START:
			if (ch == '\r' || ch == '\n')
				break;
			st = SS_METHOD;
			/* fall through */
		case SS_METHOD:
			if (ch == ' ')
				st = SS_SP;
			else if (ch == '\r')
				st = SS_REQ_REST;
			break;
		case SS_SP:
			if (ch == ' ')
				break;
			target_len = 0;
			st = SS_TARGET;
			/* fall through */
		case SS_TARGET:
			if (ch == ' ' || ch == '\r') {
				st = SS_REQ_REST;
				break;
			}
			if (++target_len > DERPER_HTTP_TARGET_MAX_BYTES)
				return DERPER_HTTP_E_URI_TOO_LONG;
			break;
		case SS_REQ_REST:
		case SS_EOL:
			if (ch == '\n')
				st = SS_LINE;
			break;
		case SS_LINE:
			if (ch == '\r') {
				st = SS_END;
				break;
			}
			/* RFC 9112 2.2 and 5.2: refuse whitespace opening a line
			 * (before the first header, or a folded line). */
			if (ch == ' ' || ch == '\t')
				return DERPER_HTTP_E_OBS_FOLD;
			if (++nheaders > DERPER_HTTP_MAX_HEADERS)
				return DERPER_HTTP_E_TOO_MANY_HEADERS;
			name_len = 0;
			name_long = false;
			st = SS_NAME;
			/* fall through */
		case SS_NAME:
			if (ch == ':') {
				if (name_len == 0)
					return DERPER_HTTP_E_HEADER_NAME;
				name[name_len] = 0;
				h = name_long ? HDR_OTHER : lookup_hdr(name);
				if (h == HDR_HOST && host_seen)
					return DERPER_HTTP_E_DUP_HOST; /* Go: 400 */
				host_seen |= h == HDR_HOST;
				val_len = 0;
				st = SS_OWS;
				break;
			}
			/* Includes a space before the colon (RFC 9112 5.1) and a
			 * line without a colon. */
			if (!is_tchar(ch))
				return DERPER_HTTP_E_HEADER_NAME;
			if (name_len < NAME_KEEP_BYTES)
				name[name_len++] = (char)ch;
			else
				name_long = true;
			break;
		case SS_OWS:
			if (ch == ' ' || ch == '\t')
				break;
			st = SS_VALUE;
			/* fall through */
		case SS_VALUE:
			if (ch == '\r') {
				st = SS_EOL;
				break;
			}
			/* Counted raw: trailing spaces count against the limit. */
			if (h != HDR_OTHER && known[h].refuse && ++val_len > known[h].max)
				return DERPER_HTTP_E_HEADER_TOO_LONG;
			break;
		case SS_END:
			break;
		}
	}
	return 0;
}

/* What http_parser's callbacks collect. They only copy (bounded): every
 * refusal is scan's or http_parser's own, except the whole-request checks
 * in on_headers_complete. */
enum pstate { PS_NONE = 0, PS_FIELD, PS_VALUE };

struct pctx {
	struct derper_http_req req;
	size_t end; /* bytes given to the parser: whole-request errors point here */
	int err;
	size_t err_at;
	bool headers_done;
	char target[DERPER_HTTP_TARGET_MAX_BYTES + 1];
	size_t target_len;
	bool target_long;
	enum pstate st;
	char name[NAME_KEEP_BYTES + 1];
	size_t name_len;
	bool name_long;
	enum hdr cur;
	char val[DERPER_HTTP_HOST_MAX_BYTES + 1]; /* the largest of known[].max */
	size_t val_len;
	bool val_dropped;
	bool seen[HDR_COUNT];
};

static int fail(struct pctx *c, int err, size_t at)
{
	if (c->err == 0) {
		c->err = err;
		c->err_at = at;
	}
	return -1;
}

static void copy_field(char *dst, const char *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n] = 0;
}

/* The header whose name and value were collected is complete. */
static void finish_header(struct pctx *c)
{
	enum hdr h;
	const char *v = c->val;
	size_t n = c->val_len;

	if (c->st == PS_FIELD) {
		/* A name with no value callback: the value is empty. */
		n = 0;
		c->val_dropped = false;
		h = c->name_long ? HDR_OTHER : lookup_hdr(c->name);
	} else {
		h = c->cur;
	}
	c->st = PS_NONE;
	/* Go's Header.Get: the first occurrence counts, even if dropped. */
	if (h == HDR_OTHER || c->seen[h])
		return;
	c->seen[h] = true;
	if (c->val_dropped) {
		c->req.has_ideal_node |= h == HDR_IDEAL_NODE;
		return;
	}
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	switch (h) {
	case HDR_HOST:
		copy_field(c->req.host, v, n);
		break;
	case HDR_UPGRADE:
		copy_field(c->req.upgrade, v, n);
		break;
	case HDR_CONNECTION:
		copy_field(c->req.connection, v, n);
		break;
	case HDR_FAST_START:
		c->req.fast_start = n == 1 && v[0] == '1';
		break;
	case HDR_CHALLENGE:
		copy_field(c->req.challenge, v, n);
		break;
	case HDR_IDEAL_NODE:
		copy_field(c->req.ideal_node, v, n);
		c->req.has_ideal_node = n > 0;
		break;
	default:
		break;
	}
}

static int on_url(http_parser *hp, const char *at, size_t n)
{
	struct pctx *c = hp->data;

	if (n > DERPER_HTTP_TARGET_MAX_BYTES - c->target_len) {
		c->target_long = true; /* scan refuses it */
		return 0;
	}
	memcpy(c->target + c->target_len, at, n);
	c->target_len += n;
	c->target[c->target_len] = 0;
	return 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t n)
{
	struct pctx *c = hp->data;

	if (c->st != PS_FIELD) {
		if (c->st == PS_VALUE)
			finish_header(c);
		c->req.nheaders++;
		c->st = PS_FIELD;
		c->name_len = 0;
		c->name_long = false;
	}
	for (size_t i = 0; i < n; i++) {
		if (c->name_len < NAME_KEEP_BYTES)
			c->name[c->name_len++] = at[i];
		else
			c->name_long = true;
	}
	c->name[c->name_len] = 0;
	return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t n)
{
	struct pctx *c = hp->data;

	if (c->st == PS_FIELD) {
		c->cur = c->name_long ? HDR_OTHER : lookup_hdr(c->name);
		c->st = PS_VALUE;
		c->val_len = 0;
		c->val_dropped = false;
	}
	if (c->cur == HDR_OTHER || c->val_dropped)
		return 0;
	if (n > known[c->cur].max - c->val_len) {
		/* Too long: scan refuses Host, Upgrade and Connection; the
		 * others are dropped, as Tailscale ignores them. */
		c->val_dropped = true;
		return 0;
	}
	memcpy(c->val + c->val_len, at, n);
	c->val_len += n;
	return 0;
}

static enum derper_http_method map_method(unsigned m)
{
	switch (m) {
	case HTTP_GET:
		return DERPER_HTTP_METHOD_GET;
	case HTTP_HEAD:
		return DERPER_HTTP_METHOD_HEAD;
	case HTTP_POST:
		return DERPER_HTTP_METHOD_POST;
	case HTTP_CONNECT:
		return DERPER_HTTP_METHOD_CONNECT;
	default:
		return DERPER_HTTP_METHOD_OTHER;
	}
}

static int split_target(struct pctx *c, size_t at)
{
	struct http_parser_url u;
	bool connect = c->req.method == DERPER_HTTP_METHOD_CONNECT;

	if (c->target_long)
		return fail(c, DERPER_HTTP_E_URI_TOO_LONG, at);
	if (!connect && strcmp(c->target, "*") == 0) {
		/* asterisk-form (OPTIONS *): no path to route. */
		strcpy(c->req.path, "*");
		return 0;
	}
	http_parser_url_init(&u);
	if (http_parser_parse_url(c->target, c->target_len, connect, &u) != 0)
		return fail(c, DERPER_HTTP_E_URL, at);
	if (connect)
		return 0; /* authority-form: no path */
	if (u.field_set & (1 << UF_PATH))
		copy_field(c->req.path, c->target + u.field_data[UF_PATH].off,
			   u.field_data[UF_PATH].len);
	else
		strcpy(c->req.path, "/"); /* absolute-form without a path */
	if (u.field_set & (1 << UF_QUERY))
		copy_field(c->req.query, c->target + u.field_data[UF_QUERY].off,
			   u.field_data[UF_QUERY].len);
	return 0;
}

/* Checks on the request as a whole, reported at the end of the head. */
static int on_headers_complete(http_parser *hp)
{
	struct pctx *c = hp->data;
	size_t at = c->end;

	if (c->st != PS_NONE)
		finish_header(c);
	if (hp->http_major != 1)
		return fail(c, DERPER_HTTP_E_VERSION, at);
	c->req.http_major = (uint8_t)hp->http_major;
	c->req.http_minor = (uint8_t)(hp->http_minor > 255 ? 255 : hp->http_minor);
	c->req.method = map_method(hp->method);
	snprintf(c->req.method_name, sizeof(c->req.method_name), "%s",
		 http_method_str((enum http_method)hp->method));
	if (split_target(c, at) < 0)
		return -1;
	/* Go's readRequest: HTTP/1.1 needs Host, except CONNECT. */
	if (hp->http_minor >= 1 && !c->seen[HDR_HOST] &&
	    c->req.method != DERPER_HTTP_METHOD_CONNECT)
		return fail(c, DERPER_HTTP_E_NO_HOST, at);
	if ((hp->flags & F_CHUNKED) || (hp->content_length != UINT64_MAX && hp->content_length > 0))
		return fail(c, DERPER_HTTP_E_BODY, at);
	c->req.keep_alive = http_should_keep_alive(hp) != 0;
	c->headers_done = true;
	return 0;
}

static int on_message_complete(http_parser *hp)
{
	/* One head per call: never parse into what follows. */
	http_parser_pause(hp, 1);
	return 0;
}

static int map_parser_errno(enum http_errno e)
{
	switch (e) {
	case HPE_INVALID_METHOD:
		return DERPER_HTTP_E_METHOD;
	case HPE_INVALID_URL:
	case HPE_INVALID_HOST:
	case HPE_INVALID_PORT:
	case HPE_INVALID_PATH:
	case HPE_INVALID_QUERY_STRING:
	case HPE_INVALID_FRAGMENT:
		return DERPER_HTTP_E_URL;
	case HPE_INVALID_HEADER_TOKEN:
		return DERPER_HTTP_E_HEADER_NAME;
	case HPE_LF_EXPECTED:
		return DERPER_HTTP_E_LINE_ENDING;
	case HPE_INVALID_TRANSFER_ENCODING:
		return DERPER_HTTP_E_TRANSFER_ENCODING;
	case HPE_INVALID_CONTENT_LENGTH:
	case HPE_UNEXPECTED_CONTENT_LENGTH:
		return DERPER_HTTP_E_CONTENT_LENGTH;
	case HPE_HEADER_OVERFLOW:
		return DERPER_HTTP_E_HEAD_TOO_LARGE;
	default:
		return DERPER_HTTP_E_SYNTAX;
	}
}

int derper_http_parse(const uint8_t *p, size_t len, struct derper_http_req *out, size_t *consumed)
{
	http_parser hp;
	http_parser_settings s;
	struct pctx ctx, *c = &ctx;
	size_t limit = len < DERPER_HTTP_MAX_HEAD_BYTES ? len : DERPER_HTTP_MAX_HEAD_BYTES;
	size_t n, nparsed, sc_at = 0, hp_at = 0;
	const uint8_t *end;
	int sc_err, hp_err = 0;
	enum http_errno e;

	if (!out || !consumed || (!p && len))
		return DERPER_HTTP_E_ARG;
	*consumed = 0;
	if (len == 0)
		return DERPER_HTTP_INCOMPLETE;
	end = memmem(p, limit, "\r\n\r\n", 4);
	n = end ? (size_t)(end - p) + 4 : limit;

	sc_err = scan(p, n, &sc_at);

	memset(c, 0, sizeof(*c));
	c->end = n;
	http_parser_settings_init(&s);
	s.on_url = on_url;
	s.on_header_field = on_header_field;
	s.on_header_value = on_header_value;
	s.on_headers_complete = on_headers_complete;
	s.on_message_complete = on_message_complete;
	http_parser_init(&hp, HTTP_REQUEST);
	hp.data = c;
	nparsed = http_parser_execute(&hp, &s, (const char *)p, n);
	e = HTTP_PARSER_ERRNO(&hp);
	if (c->err) {
		hp_err = c->err;
		hp_at = c->err_at;
	} else if (e != HPE_OK && e != HPE_PAUSED) {
		hp_err = map_parser_errno(e);
		hp_at = nparsed;
	}

	/* The earliest error wins; scan's on a tie (it names the cause). */
	if (sc_err && (!hp_err || sc_at <= hp_at)) {
		*consumed = sc_at;
		return sc_err;
	}
	if (hp_err) {
		*consumed = hp_at;
		return hp_err;
	}
	if (!end) {
		if (len >= DERPER_HTTP_MAX_HEAD_BYTES) {
			*consumed = DERPER_HTTP_MAX_HEAD_BYTES;
			return DERPER_HTTP_E_HEAD_TOO_LARGE;
		}
		return DERPER_HTTP_INCOMPLETE;
	}
	if (!c->headers_done) {
		/* An empty line before any request line ("\r\n\r\n"). */
		*consumed = n;
		return DERPER_HTTP_E_SYNTAX;
	}
	*out = c->req;
	*consumed = n;
	return DERPER_HTTP_OK;
}

const char *derper_http_strerror(int rc)
{
	switch (rc) {
	case DERPER_HTTP_INCOMPLETE:
		return "incomplete request head";
	case DERPER_HTTP_OK:
		return "ok";
	case DERPER_HTTP_E_SYNTAX:
		return "malformed request line or header";
	case DERPER_HTTP_E_METHOD:
		return "not an HTTP method (TLS on the plain port?)";
	case DERPER_HTTP_E_VERSION:
		return "not HTTP/1.x";
	case DERPER_HTTP_E_HEAD_TOO_LARGE:
		return "request head over 8192 bytes";
	case DERPER_HTTP_E_TOO_MANY_HEADERS:
		return "more than 64 header lines";
	case DERPER_HTTP_E_HEADER_TOO_LONG:
		return "Host, Upgrade or Connection value too long";
	case DERPER_HTTP_E_URI_TOO_LONG:
		return "request-target over 1024 bytes";
	case DERPER_HTTP_E_BODY:
		return "request has a body";
	case DERPER_HTTP_E_LINE_ENDING:
		return "bare CR or LF (lines must end in CRLF)";
	case DERPER_HTTP_E_CONTROL_BYTE:
		return "control byte in request head";
	case DERPER_HTTP_E_HEADER_NAME:
		return "bad header field name or missing ':'";
	case DERPER_HTTP_E_OBS_FOLD:
		return "line starting with whitespace (folded header)";
	case DERPER_HTTP_E_NO_HOST:
		return "HTTP/1.1 request without Host";
	case DERPER_HTTP_E_DUP_HOST:
		return "more than one Host header";
	case DERPER_HTTP_E_URL:
		return "malformed request-target";
	case DERPER_HTTP_E_TRANSFER_ENCODING:
		return "bad Transfer-Encoding";
	case DERPER_HTTP_E_CONTENT_LENGTH:
		return "bad or repeated Content-Length";
	case DERPER_HTTP_E_ARG:
		return "invalid argument";
	default:
		return "unknown derper_http result";
	}
}

/* Routing: cmd/derper/derper.go's mux. Paths compare exactly (Go's
 * ServeMux would first clean and redirect "//derp" or "/derp/../derp"). */
enum derper_route derper_http_route(const struct derper_http_req *req)
{
	if (!req)
		return DERPER_ROUTE_INVALID;
	if (strcmp(req->path, "/derp") == 0) {
		/* handler.go: strings.ToLower(Upgrade) is "derp" or "websocket";
		 * neither the method nor Connection is checked. */
		if (eq_nocase(req->upgrade, "derp"))
			return DERPER_ROUTE_DERP_UPGRADE;
		if (eq_nocase(req->upgrade, "websocket"))
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

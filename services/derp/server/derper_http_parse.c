/* derper_http_parse: one request head, read twice: scan holds our own
 * rules on its bytes and lines (CRLF, control bytes, folding, limits),
 * http_parser (Node's) the grammar, with callbacks that copy what routing
 * needs into struct derper_http_req; derper_http_strerror names the
 * results. Pure. No timers. */
#include "derper_http.h"

#include <http_parser.h>
#include <stdio.h>
#include <string.h>

#include "derper_http_internal.h"

enum {
	/* Header names we look for are at most 21 bytes ("X-Tailscale-Challenge"). */
	NAME_KEEP_BYTES = 32,
	/* Derp-Fast-Start only matters when it is "1". */
	FAST_START_KEEP_BYTES = 8,
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

bool derper_http_eq_nocase(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (lower(*a) != lower(*b))
			return false;
	return *a == *b;
}

static enum hdr lookup_hdr(const char *name)
{
	for (int i = 1; i < HDR_COUNT; i++)
		if (derper_http_eq_nocase(name, known[i].name))
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

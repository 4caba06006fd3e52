/* upnp_ssdp: the M-SEARCH requests of Tailscale's net/portmapper
 * (portmapper.go uPnPPacket, uPnPIGDPacket), the answer checks of its
 * parseUPnPDiscoResponse and processUPnPResponses, with the stricter
 * LOCATION rule of docs/upnp.md; the HTTP heads (lib/http_head.h, with
 * UPnP's limits and codes) and the URL syntax of RFC 3986 that upnp_desc
 * shares. */
#include "upnp_ssdp.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <miniupnpc/upnperrors.h>

#include "http_head.h"

#define SSDP_HOST_LINE "HOST: 239.255.255.250:1900\r\n"
#define SSDP_TAIL      "MAN: \"ssdp:discover\"\r\nMX: 2\r\n\r\n"
#define SSDP_IGD_MARK  ":InternetGatewayDevice:"

_Static_assert(UPNP_SSDP_MX_S == 2, "SSDP_TAIL spells MX");

const struct upnp_ssdp_probe upnp_ssdp_probes[UPNP_SSDP_PROBES] = {
	{UPNP_SSDP_ST_ALL, false},
	{UPNP_SSDP_ST_ALL, true},
	{UPNP_SSDP_ST_IGD, true},
};

size_t upnp_ssdp_msearch(enum upnp_ssdp_target st, uint8_t *buf, size_t cap)
{
	static const char all[] =
		"M-SEARCH * HTTP/1.1\r\n" SSDP_HOST_LINE "ST: ssdp:all\r\n" SSDP_TAIL;
	static const char igd[] =
		"M-SEARCH * HTTP/1.1\r\n" SSDP_HOST_LINE
		"ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n" SSDP_TAIL;
	const char *m;
	size_t n;

	_Static_assert(sizeof(all) - 1 <= UPNP_SSDP_MSEARCH_MAX_BYTES, "M-SEARCH room");
	_Static_assert(sizeof(igd) - 1 <= UPNP_SSDP_MSEARCH_MAX_BYTES, "M-SEARCH room");
	switch (st) {
	case UPNP_SSDP_ST_ALL:
		m = all;
		n = sizeof(all) - 1;
		break;
	case UPNP_SSDP_ST_IGD:
		m = igd;
		n = sizeof(igd) - 1;
		break;
	default:
		return 0;
	}
	if (!buf || cap < n)
		return 0;
	memcpy(buf, m, n);
	return n;
}

/* ---- addresses and URLs ---- */

bool upnp_addr_usable(const struct ipport *a)
{
	/* A v4-mapped host is a second spelling of an IPv4 address: refused,
	 * so a URL names the gateway one way only (upnp_url_check_gateway). */
	return ip_unicast_usable(a) && !ip_is_v4_mapped(a);
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool upnp_name_is(const char *name, size_t len, const char *want)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (want[i] == '\0' || lower(name[i]) != lower(want[i]))
			return false;
	return want[i] == '\0';
}

/* Whether ref starts with an RFC 3986 scheme: ALPHA *(ALPHA / DIGIT /
 * "+" / "-" / ".") ":" before any '/', '?' or '#'. */
static bool has_scheme(const char *s, size_t n)
{
	if (n == 0 || !is_alpha(s[0]))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];

		if (c == ':')
			return true;
		if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.')
			return false;
	}
	return false;
}

/* RFC 3986 pchar, '/' and '?', without '#': what a path and query may
 * hold. Everything else (controls, space, quotes, '<', '>', '\\', ...)
 * could end the request line miniupnpc writes, or mean something to it. */
static bool path_byte(char c)
{
	if (is_alpha(c) || is_digit(c))
		return true;
	return c != '\0' && strchr("-._~!$&'()*+,;=:@/?", c) != NULL;
}

/* Checks a path-and-query: leading '/', bytes path_byte takes, '%' then
 * two hex digits, no "." or ".." segment before the query. */
static int check_path(const char *p, size_t n)
{
	size_t q = n, seg = 1;

	if (n == 0 || p[0] != '/')
		return UPNP_ERR_URL_PATH;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '?' && q == n)
			q = i;
		if (p[i] == '%') {
			if (n - i < 3 || !is_hex(p[i + 1]) || !is_hex(p[i + 2]))
				return UPNP_ERR_URL_PATH;
		} else if (!path_byte(p[i])) {
			return UPNP_ERR_URL_PATH;
		}
	}
	for (size_t i = 1; i <= q; i++) {
		if (i < q && p[i] != '/')
			continue;
		if ((i - seg == 1 && p[seg] == '.') ||
		    (i - seg == 2 && p[seg] == '.' && p[seg + 1] == '.'))
			return UPNP_ERR_URL_PATH;
		seg = i + 1;
	}
	return 0;
}

/* out->path = a then b (either may be empty), checked. */
static int set_path(struct upnp_url *out, const char *a, size_t an, const char *b, size_t bn)
{
	if (an + bn >= sizeof(out->path))
		return UPNP_ERR_URL_TOO_LONG;
	memcpy(out->path, a, an);
	memcpy(out->path + an, b, bn);
	out->path[an + bn] = '\0';
	return check_path(out->path, an + bn);
}

static int parse_port(const char *s, size_t n, uint16_t *port)
{
	unsigned long v = 0;

	if (n == 0 || n > 5)
		return UPNP_ERR_URL_PORT;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return UPNP_ERR_URL_PORT;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return UPNP_ERR_URL_PORT;
	*port = (uint16_t)v;
	return 0;
}

/* Parses "authority[/path][?query]" (after "http://" or "//"). */
static int parse_authority(const char *s, size_t n, struct upnp_url *out)
{
	char host[INET6_ADDRSTRLEN];
	struct upnp_url u = {0};
	const char *hs, *after;
	size_t a = 0, hl, rest;
	int rc;

	while (a < n && s[a] != '/' && s[a] != '?' && s[a] != '#')
		a++;
	if (memchr(s, '@', a))
		return UPNP_ERR_URL_USERINFO;
	if (a > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', a);

		if (!close)
			return UPNP_ERR_URL_HOST;
		hs = s + 1;
		hl = (size_t)(close - hs);
		after = close + 1;
		u.host.family = AF_INET6;
	} else {
		const char *colon = memchr(s, ':', a);

		hs = s;
		hl = colon ? (size_t)(colon - s) : a;
		after = s + hl;
		u.host.family = AF_INET;
	}
	if (hl == 0 || hl >= sizeof(host))
		return UPNP_ERR_URL_HOST;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	if (inet_pton(u.host.family, host, u.host.ip) != 1)
		return UPNP_ERR_URL_HOST; /* names, zones ("%eth0"), short forms */
	rest = (size_t)(s + a - after);
	if (rest == 0) {
		u.host.port = UPNP_HTTP_DEFAULT_PORT;
	} else {
		if (after[0] != ':')
			return UPNP_ERR_URL_HOST;
		rc = parse_port(after + 1, rest - 1, &u.host.port);
		if (rc < 0)
			return rc;
	}
	if (a == n)
		rc = set_path(&u, "/", 1, "", 0);
	else if (s[a] == '?')
		rc = set_path(&u, "/", 1, s + a, n - a);
	else
		rc = set_path(&u, s + a, n - a, "", 0);
	if (rc < 0)
		return rc;
	*out = u;
	return 0;
}

int upnp_url_parse(const char *s, size_t len, struct upnp_url *out)
{
	static const char http[] = "http://";
	const size_t hl = sizeof(http) - 1;

	if (!s || !out)
		return UPNP_ERR_INVAL;
	if (len == 0)
		return UPNP_ERR_URL_EMPTY;
	if (len >= UPNP_URL_TEXT_MAX)
		return UPNP_ERR_URL_TOO_LONG;
	if (len < hl || !upnp_name_is(s, hl, http))
		return UPNP_ERR_URL_SCHEME;
	return parse_authority(s + hl, len - hl, out);
}

int upnp_url_resolve(const struct upnp_url *base, const char *ref, size_t len, struct upnp_url *out)
{
	struct upnp_url u;
	size_t bl, dir;
	int rc;

	if (!base || !ref || !out)
		return UPNP_ERR_INVAL;
	if (len == 0)
		return UPNP_ERR_URL_EMPTY;
	if (len >= UPNP_URL_TEXT_MAX)
		return UPNP_ERR_URL_TOO_LONG;
	if (has_scheme(ref, len))
		return upnp_url_parse(ref, len, out);
	if (len >= 2 && ref[0] == '/' && ref[1] == '/')
		return parse_authority(ref + 2, len - 2, out);

	u.host = base->host;
	bl = strcspn(base->path, "?"); /* the base's path without its query */
	if (ref[0] == '/') {
		rc = set_path(&u, ref, len, "", 0);
	} else if (ref[0] == '?') {
		rc = set_path(&u, base->path, bl, ref, len);
	} else {
		/* RFC 3986 section 5.2.3: all but the last segment of the base. */
		dir = bl;
		while (dir > 0 && base->path[dir - 1] != '/')
			dir--;
		rc = set_path(&u, base->path, dir, ref, len);
	}
	if (rc < 0)
		return rc;
	*out = u;
	return 0;
}

int upnp_url_check_gateway(const struct upnp_url *u, const struct ipport *gw)
{
	if (!u)
		return UPNP_ERR_INVAL;
	if (!upnp_addr_usable(gw))
		return UPNP_ERR_GATEWAY;
	if (!upnp_addr_usable(&u->host))
		return UPNP_ERR_URL_UNUSABLE;
	if (!ip_equal(&u->host, gw))
		return UPNP_ERR_URL_NOT_GATEWAY;
	return 0;
}

size_t upnp_url_format(const struct upnp_url *u, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN];
	size_t pl, hl, need;
	char port[8];
	int pn;

	if (!u || !buf || !inet_ntop(u->host.family, u->host.ip, host, sizeof(host)))
		return 0;
	pl = strnlen(u->path, sizeof(u->path));
	if (pl == sizeof(u->path))
		return 0;
	pn = snprintf(port, sizeof(port), ":%u", (unsigned)u->host.port);
	hl = strlen(host);
	need = 7 + hl + (u->host.family == AF_INET6 ? 2 : 0) + (size_t)pn + pl;
	if (need >= cap)
		return 0;
	snprintf(buf, cap, u->host.family == AF_INET6 ? "http://[%s]%s%s" : "http://%s%s%s", host,
		 port, u->path);
	return need;
}

/* ---- HTTP heads ---- */

/* lib/http_head's codes as ours: every fault of a header line is a bad
 * header, of the first line "not a response". */
static int upnp_from_http_head(int rc, int cb_rc)
{
	switch (rc) {
	case HTTP_HEAD_OK:
		return 0;
	case HTTP_HEAD_MORE:
		return UPNP_MORE;
	case HTTP_HEAD_E_CALLBACK:
		return cb_rc;
	case HTTP_HEAD_E_STATUS_LINE:
		return UPNP_ERR_NOT_RESPONSE;
	case HTTP_HEAD_E_LINE_TOO_LONG:
		return UPNP_ERR_LINE_TOO_LONG;
	case HTTP_HEAD_E_TOO_MANY_HEADERS:
		return UPNP_ERR_TOO_MANY_HEADERS;
	case HTTP_HEAD_E_TOO_LARGE:
		return UPNP_ERR_HEAD_TOO_LARGE;
	case HTTP_HEAD_E_CONTENT_LENGTH:
		return UPNP_ERR_CONTENT_LENGTH;
	case HTTP_HEAD_E_TRANSFER_ENCODING:
		return UPNP_ERR_TRANSFER_ENCODING;
	case HTTP_HEAD_E_ARG:
		return UPNP_ERR_INVAL;
	default:
		return UPNP_ERR_BAD_HEADER;
	}
}

int upnp_head_parse(const uint8_t *p, size_t len, size_t max_head,
		    int (*fn)(void *arg, const char *name, size_t name_len, const char *value,
			      size_t value_len),
		    void *arg, int *status, size_t *head_len)
{
	/* Routers end lines with a bare LF often enough that miniupnpc
	 * and Tailscale's goupnp take it. */
	const struct http_head_limits lim = {
		.max_head_bytes = max_head,
		.max_line_bytes = UPNP_MAX_LINE_BYTES,
		.max_headers = UPNP_MAX_HEADERS,
		.crlf_only = false,
	};
	struct http_head h;
	int rc;

	if ((!p && len) || !status || !head_len)
		return UPNP_ERR_INVAL;
	rc = http_head_parse(p, len, &lim, fn, arg, &h);
	if (rc != HTTP_HEAD_OK)
		return upnp_from_http_head(rc, h.cb_rc);
	*status = h.status;
	*head_len = h.head_len;
	return 0;
}

/* ---- SSDP answers ---- */

struct ssdp_parse {
	struct upnp_ssdp_response *r;
	bool have_location, have_st, have_usn, have_server;
};

static int take(char *dst, bool *have, const char *v, size_t n)
{
	if (*have)
		return UPNP_ERR_DUP_HEADER;
	*have = true;
	/* A value is shorter than its line, so it always fits. */
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

static int on_ssdp_header(void *arg, const char *name, size_t nl, const char *v, size_t vl)
{
	struct ssdp_parse *s = arg;

	_Static_assert(sizeof(s->r->st) > UPNP_MAX_LINE_BYTES - 1, "a value fits");
	if (upnp_name_is(name, nl, "location"))
		return take(s->r->location, &s->have_location, v, vl);
	if (upnp_name_is(name, nl, "st"))
		return take(s->r->st, &s->have_st, v, vl);
	if (upnp_name_is(name, nl, "usn"))
		return take(s->r->usn, &s->have_usn, v, vl);
	if (upnp_name_is(name, nl, "server"))
		return take(s->r->server, &s->have_server, v, vl);
	/* MX among them: it bounds a device's wait before answering a
	 * search, and means nothing in an answer. */
	return 0;
}

int upnp_ssdp_parse(const uint8_t *p, size_t len, const struct ipport *gw,
		    struct upnp_ssdp_response *out)
{
	struct upnp_ssdp_response r;
	struct ssdp_parse s = {.r = &r};
	size_t head_len;
	int rc, status = 0;

	if ((!p && len) || !out)
		return UPNP_ERR_INVAL;
	if (!upnp_addr_usable(gw))
		return UPNP_ERR_GATEWAY;
	if (len > UPNP_SSDP_MAX_BYTES)
		return UPNP_ERR_TOO_LARGE;
	memset(&r, 0, sizeof(r));
	rc = upnp_head_parse(p, len, UPNP_SSDP_MAX_BYTES, on_ssdp_header, &s, &status, &head_len);
	if (rc == UPNP_MORE)
		return UPNP_ERR_TRUNCATED; /* a datagram is all there is */
	if (rc < 0)
		return rc;
	if (status != 200)
		return UPNP_ERR_STATUS;
	if (!s.have_location)
		return UPNP_ERR_NO_LOCATION;
	/* Tailscale looks for the mark anywhere in the datagram; we look
	 * where it means something. Answers to ssdp:all about other devices
	 * and services end here. */
	if (!strstr(r.st, SSDP_IGD_MARK) && !strstr(r.usn, SSDP_IGD_MARK))
		return UPNP_ERR_NOT_IGD;
	rc = upnp_url_parse(r.location, strlen(r.location), &r.loc);
	if (rc < 0)
		return rc;
	rc = upnp_url_check_gateway(&r.loc, gw);
	if (rc < 0)
		return rc;
	*out = r;
	return 0;
}

int upnp_ssdp_compare(const struct upnp_ssdp_response *a, const struct upnp_ssdp_response *b)
{
	int c = strcmp(b->usn, a->usn);

	if (c == 0)
		c = strcmp(a->location, b->location);
	if (c == 0)
		c = strcmp(a->server, b->server);
	return c;
}

bool upnp_ssdp_same_device(const struct upnp_ssdp_response *a, const struct upnp_ssdp_response *b)
{
	return strcmp(a->location, b->location) == 0 && strcmp(a->server, b->server) == 0;
}

const char *upnp_strerror(int err)
{
	const char *s;

	if (err > UPNP_MORE) {
		s = strupnperror(err);
		return s ? s : "UPnP error code from the gateway";
	}
	switch (err) {
	case UPNP_OK:
		return "ok";
	case UPNP_MORE:
		return "incomplete, more bytes needed";
	case UPNP_ERR_INVAL:
		return "invalid argument";
	case UPNP_ERR_GATEWAY:
		return "gateway address not usable";
	case UPNP_ERR_TOO_LARGE:
		return "message over its size cap";
	case UPNP_ERR_NOT_RESPONSE:
		return "not an HTTP/1.x response (a request?)";
	case UPNP_ERR_STATUS:
		return "HTTP status not 200";
	case UPNP_ERR_TRUNCATED:
		return "message truncated";
	case UPNP_ERR_LINE_TOO_LONG:
		return "header line too long";
	case UPNP_ERR_TOO_MANY_HEADERS:
		return "too many header lines";
	case UPNP_ERR_HEAD_TOO_LARGE:
		return "HTTP head too large";
	case UPNP_ERR_BAD_HEADER:
		return "malformed header line";
	case UPNP_ERR_DUP_HEADER:
		return "header repeated";
	case UPNP_ERR_NO_LOCATION:
		return "no LOCATION header";
	case UPNP_ERR_NOT_IGD:
		return "not an InternetGatewayDevice answer";
	case UPNP_ERR_URL_EMPTY:
		return "URL empty";
	case UPNP_ERR_URL_TOO_LONG:
		return "URL too long";
	case UPNP_ERR_URL_SCHEME:
		return "URL scheme not http";
	case UPNP_ERR_URL_USERINFO:
		return "URL has userinfo";
	case UPNP_ERR_URL_HOST:
		return "URL host not an IP literal";
	case UPNP_ERR_URL_PORT:
		return "URL port invalid";
	case UPNP_ERR_URL_PATH:
		return "URL path has bytes, fragment or dot segments we refuse";
	case UPNP_ERR_URL_UNUSABLE:
		return "URL host loopback, unspecified, multicast or broadcast";
	case UPNP_ERR_URL_NOT_GATEWAY:
		return "URL host is not the gateway";
	case UPNP_ERR_CONTENT_LENGTH:
		return "Content-Length invalid, repeated or with Transfer-Encoding";
	case UPNP_ERR_TRANSFER_ENCODING:
		return "Transfer-Encoding not chunked";
	case UPNP_ERR_CHUNK:
		return "malformed chunked framing";
	case UPNP_ERR_BODY_TOO_LARGE:
		return "description body over its cap";
	case UPNP_ERR_XML_EMPTY:
		return "XML has no element";
	case UPNP_ERR_XML_NUL:
		return "XML has a NUL byte";
	case UPNP_ERR_XML_TRUNCATED:
		return "XML ends inside a tag, attribute, comment or element";
	case UPNP_ERR_XML_SYNTAX:
		return "XML malformed";
	case UPNP_ERR_XML_NAME_TOO_LONG:
		return "XML name too long";
	case UPNP_ERR_XML_TOO_DEEP:
		return "XML nested too deep";
	case UPNP_ERR_XML_MISMATCH:
		return "XML end tag does not match";
	case UPNP_ERR_XML_DOCTYPE:
		return "XML has a DOCTYPE";
	case UPNP_ERR_XML_MIXED:
		return "XML text beside child elements";
	case UPNP_ERR_XML_NOT_ROOT:
		return "XML root element not <root>";
	case UPNP_ERR_NO_SERVICE:
		return "no WANIPConnection or WANPPPConnection service";
	case UPNP_ERR_IGD_HTTP:
		return "IGD request failed (connect, send or receive)";
	case UPNP_ERR_IGD_RESPONSE:
		return "IGD answer without the expected value";
	case UPNP_ERR_IGD_UNKNOWN:
		return "IGD request failed (miniupnpc unknown error)";
	case UPNP_ERR_IGD_NOMEM:
		return "IGD request failed (out of memory)";
	case UPNP_ERR_IGD_BAD_CODE:
		return "IGD errorCode outside 400..899";
	case UPNP_ERR_EXTERNAL_IP:
		return "external address empty or unusable";
	case UPNP_ERR_IGD_PORT:
		return "port 0 or external port under 1024";
	case UPNP_ERR_IGD_CLIENT:
		return "internal client not a usable IPv4 address";
	case UPNP_ERR_IGD_LEASE:
		return "lease too long";
	}
	return "unknown UPnP error";
}

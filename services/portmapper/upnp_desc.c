/* upnp_desc: the description request, a well-formedness check of the XML
 * before miniupnpc's parserootdesc reads it, and the service choice and
 * control URL resolution of Tailscale's selectBestService
 * (net/portmapper/upnp.go) with the gateway rule of docs/upnp.md. The
 * response framing (RFC 7230 sections 3.3 and 4.1) is upnp_desc_http.c's.
 * Pure. No timers. */
#include "upnp_desc.h"

#include <stdio.h>
#include <string.h>

#include <miniupnpc/igd_desc_parse.h>
#include <miniupnpc/miniupnpc.h>

static const char *const service_types[] = {
	[UPNP_SERVICE_WANIP2] = "urn:schemas-upnp-org:service:WANIPConnection:2",
	[UPNP_SERVICE_WANIP1] = "urn:schemas-upnp-org:service:WANIPConnection:1",
	[UPNP_SERVICE_WANPPP1] = "urn:schemas-upnp-org:service:WANPPPConnection:1",
};

const char *upnp_service_type(enum upnp_service_kind k)
{
	if ((unsigned)k == 0 || (unsigned)k >= sizeof(service_types) / sizeof(service_types[0]))
		return NULL;
	return service_types[k];
}

size_t upnp_desc_request(const struct upnp_url *location, char *buf, size_t cap)
{
	char hostport[UPNP_URL_TEXT_MAX];
	struct upnp_url root;
	size_t n;
	int w;

	if (!location || !buf)
		return 0;
	/* "http://host:port/" less the scheme and the slash is the Host value. */
	root.host = location->host;
	memcpy(root.path, "/", 2);
	n = upnp_url_format(&root, hostport, sizeof(hostport));
	if (n < 8 || location->path[0] != '/')
		return 0;
	/* Only bytes that cannot end the request line. */
	for (size_t i = 0; i < sizeof(location->path) && location->path[i]; i++)
		if (location->path[i] <= ' ' || location->path[i] == 0x7f)
			return 0;
	if (strnlen(location->path, sizeof(location->path)) == sizeof(location->path))
		return 0;
	hostport[n - 1] = '\0';
	w = snprintf(buf, cap, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
		     location->path, hostport + 7);
	if (w < 0 || (size_t)w >= cap)
		return 0;
	return (size_t)w;
}

/* ---- the XML check ---- */

struct xml_open {
	size_t name, name_len; /* offsets into the document */
	bool child, text;      /* seen a child element / non-blank text */
};

struct xml_scan {
	const char *s;
	size_t n, i, depth;
	bool root_seen, root_done;
	struct xml_open open[UPNP_DESC_MAX_DEPTH];
};

static bool xml_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool xml_name_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.' || c == ':';
}

static void skip_blanks(struct xml_scan *x)
{
	while (x->i < x->n && xml_blank(x->s[x->i]))
		x->i++;
}

/* A name at x->i: [A-Za-z_] then name bytes, at most one ':' and not
 * last (miniupnpc drops the prefix up to it). Its length is checked
 * while scanning, so an overlong name is named as such even when it runs
 * to the end of the document. */
static int xml_name(struct xml_scan *x, size_t *len)
{
	size_t start = x->i, colons = 0;

	while (x->i < x->n && xml_name_byte(x->s[x->i])) {
		if (x->s[x->i] == ':')
			colons++;
		if (++x->i - start > UPNP_DESC_MAX_NAME_BYTES)
			return UPNP_ERR_XML_NAME_TOO_LONG;
	}
	if (x->i == x->n)
		return UPNP_ERR_XML_TRUNCATED;
	*len = x->i - start;
	if (*len == 0)
		return UPNP_ERR_XML_SYNTAX;
	if (x->s[start] == ':' || x->s[start] == '-' || x->s[start] == '.' ||
	    (x->s[start] >= '0' && x->s[start] <= '9'))
		return UPNP_ERR_XML_SYNTAX;
	if (colons > 1 || x->s[x->i - 1] == ':')
		return UPNP_ERR_XML_SYNTAX;
	return 0;
}

/* Moves x->i past the next end (a "-->", "?>" or "]]>") at or after from. */
static int skip_to(struct xml_scan *x, size_t from, const char *end)
{
	const char *e = from <= x->n ? memmem(x->s + from, x->n - from, end, strlen(end)) : NULL;

	if (!e)
		return UPNP_ERR_XML_TRUNCATED;
	x->i = (size_t)(e - x->s) + strlen(end);
	return 0;
}

/* Notes text (non-blank) or a child element in the open element. */
static int note(struct xml_scan *x, bool child)
{
	struct xml_open *o;

	if (x->depth == 0)
		return child ? 0 : UPNP_ERR_XML_SYNTAX; /* text outside the root */
	o = &x->open[x->depth - 1];
	if (child)
		o->child = true;
	else
		o->text = true;
	return o->child && o->text ? UPNP_ERR_XML_MIXED : 0;
}

static int xml_start_tag(struct xml_scan *x)
{
	size_t name = ++x->i, name_len, attr_len;
	bool empty = false;
	int rc = xml_name(x, &name_len);

	if (rc < 0)
		return rc;
	for (;;) {
		size_t before = x->i;
		const char *q;

		skip_blanks(x);
		if (x->i == x->n)
			return UPNP_ERR_XML_TRUNCATED;
		if (x->s[x->i] == '>')
			break;
		if (x->s[x->i] == '/') {
			if (++x->i == x->n)
				return UPNP_ERR_XML_TRUNCATED;
			if (x->s[x->i] != '>')
				return UPNP_ERR_XML_SYNTAX;
			empty = true;
			break;
		}
		if (x->i == before)
			return UPNP_ERR_XML_SYNTAX; /* an attribute needs a blank before it */
		rc = xml_name(x, &attr_len);
		if (rc < 0)
			return rc;
		skip_blanks(x);
		if (x->i == x->n)
			return UPNP_ERR_XML_TRUNCATED;
		if (x->s[x->i++] != '=')
			return UPNP_ERR_XML_SYNTAX;
		skip_blanks(x);
		if (x->i == x->n)
			return UPNP_ERR_XML_TRUNCATED;
		if (x->s[x->i] != '"' && x->s[x->i] != '\'')
			return UPNP_ERR_XML_SYNTAX;
		q = memchr(x->s + x->i + 1, x->s[x->i], x->n - x->i - 1);
		if (!q)
			return UPNP_ERR_XML_TRUNCATED;
		if (memchr(x->s + x->i + 1, '<', (size_t)(q - (x->s + x->i + 1))))
			return UPNP_ERR_XML_SYNTAX;
		x->i = (size_t)(q - x->s) + 1;
	}
	x->i++; /* the '>' */

	if (x->depth == 0) {
		const char *colon = memchr(x->s + name, ':', name_len);
		size_t local = colon ? (size_t)(colon - (x->s + name)) + 1 : 0;

		if (x->root_done)
			return UPNP_ERR_XML_SYNTAX; /* a second root */
		if (name_len - local != 4 || memcmp(x->s + name + local, "root", 4) != 0)
			return UPNP_ERR_XML_NOT_ROOT;
		x->root_seen = true;
	}
	rc = note(x, true);
	if (rc < 0)
		return rc;
	if (empty) {
		if (x->depth == 0)
			x->root_done = true;
		return 0;
	}
	if (x->depth == UPNP_DESC_MAX_DEPTH)
		return UPNP_ERR_XML_TOO_DEEP;
	x->open[x->depth++] = (struct xml_open){.name = name, .name_len = name_len};
	return 0;
}

static int xml_end_tag(struct xml_scan *x)
{
	size_t name, name_len;
	struct xml_open *o;
	int rc;

	x->i += 2;
	name = x->i;
	rc = xml_name(x, &name_len);
	if (rc < 0)
		return rc;
	/* No blank before the '>', which XML allows: miniupnpc would take
	 * it as part of the name and not see the element end. */
	if (x->s[x->i] != '>')
		return UPNP_ERR_XML_SYNTAX;
	x->i++;
	if (x->depth == 0)
		return UPNP_ERR_XML_MISMATCH;
	o = &x->open[x->depth - 1];
	if (o->name_len != name_len || memcmp(x->s + o->name, x->s + name, name_len) != 0)
		return UPNP_ERR_XML_MISMATCH;
	if (--x->depth == 0)
		x->root_done = true;
	return 0;
}

static bool at(const struct xml_scan *x, const char *lit)
{
	size_t l = strlen(lit);

	return x->n - x->i >= l && memcmp(x->s + x->i, lit, l) == 0;
}

/* Whether the document ends inside lit, at x->i. */
static bool cut_short(const struct xml_scan *x, const char *lit)
{
	size_t rest = x->n - x->i;

	return rest < strlen(lit) && memcmp(x->s + x->i, lit, rest) == 0;
}

/* Markup at x->i (a '<'). */
static int xml_markup(struct xml_scan *x)
{
	if (x->n - x->i < 2)
		return UPNP_ERR_XML_TRUNCATED;
	if (at(x, "<!--"))
		return skip_to(x, x->i + 4, "-->");
	if (at(x, "<?")) {
		size_t start = x->i + 2;
		int rc = skip_to(x, start, "?>");

		/* miniupnpc reads past "<?" as text: markup inside would be
		 * elements to it and nothing to us. */
		if (rc == 0 && memchr(x->s + start, '<', x->i - 2 - start))
			return UPNP_ERR_XML_SYNTAX;
		return rc;
	}
	if (at(x, "<![CDATA[")) {
		size_t start = x->i + 9;
		int rc = skip_to(x, start, "]]>");

		if (rc < 0)
			return rc;
		for (size_t j = start; j < x->i - 3; j++)
			if (!xml_blank(x->s[j]))
				return note(x, false);
		return 0;
	}
	if (x->s[x->i + 1] == '!') {
		/* DOCTYPE brings entity declarations (and their expansion
		 * bombs); a description has none, whatever its parser. */
		if (at(x, "<!DOCTYPE"))
			return UPNP_ERR_XML_DOCTYPE;
		return cut_short(x, "<!DOCTYPE") || cut_short(x, "<!--") ||
				       cut_short(x, "<![CDATA[")
			       ? UPNP_ERR_XML_TRUNCATED
			       : UPNP_ERR_XML_SYNTAX;
	}
	if (x->s[x->i + 1] == '/')
		return xml_end_tag(x);
	return xml_start_tag(x);
}

static int xml_check(const char *s, size_t n)
{
	struct xml_scan x = {.s = s, .n = n};
	int rc;

	if (n == 0)
		return UPNP_ERR_XML_EMPTY;
	if (memchr(s, '\0', n))
		return UPNP_ERR_XML_NUL;
	if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		x.i = 3; /* a UTF-8 byte order mark */
	while (x.i < n) {
		if (s[x.i] == '<') {
			rc = xml_markup(&x);
			if (rc < 0)
				return rc;
			continue;
		}
		if (!xml_blank(s[x.i])) {
			rc = note(&x, false);
			if (rc < 0)
				return rc;
		}
		x.i++;
	}
	if (x.depth > 0)
		return UPNP_ERR_XML_TRUNCATED;
	return x.root_seen ? 0 : UPNP_ERR_XML_EMPTY;
}

/* ---- the service ---- */

/* v without leading and trailing XML blanks; miniupnpc keeps them. */
static const char *trim(const char *v, size_t *len)
{
	size_t n = strlen(v);

	while (n > 0 && xml_blank(*v)) {
		v++;
		n--;
	}
	while (n > 0 && xml_blank(v[n - 1]))
		n--;
	*len = n;
	return v;
}

/* A value miniupnpc may have cut: it keeps MINIUPNPC_URL_MAXSIZE - 1
 * bytes of each and says nothing. */
static bool maybe_cut(const char *v)
{
	return strnlen(v, MINIUPNPC_URL_MAXSIZE) >= MINIUPNPC_URL_MAXSIZE - 1;
}

static enum upnp_service_kind kind_of(const struct IGDdatas_service *s)
{
	size_t n;
	const char *t = trim(s->servicetype, &n);

	for (unsigned k = UPNP_SERVICE_WANIP2; k <= UPNP_SERVICE_WANPPP1; k++)
		if (strlen(service_types[k]) == n && memcmp(service_types[k], t, n) == 0)
			return (enum upnp_service_kind)k;
	return 0;
}

int upnp_desc_parse(const char *xml, size_t len, const struct upnp_url *location,
		    const struct ipport *gw, struct upnp_igd_service *out)
{
	const struct IGDdatas_service *best = NULL;
	struct upnp_igd_service svc = {0};
	struct upnp_url base;
	struct IGDdatas d;
	const char *v;
	size_t vl;
	int rc;

	if (!xml || !location || !out)
		return UPNP_ERR_INVAL;
	if (len > UPNP_DESC_MAX_BODY_BYTES)
		return UPNP_ERR_BODY_TOO_LARGE;
	if (xml[len] != '\0')
		return UPNP_ERR_INVAL;
	rc = upnp_url_check_gateway(location, gw);
	if (rc < 0)
		return rc;
	rc = xml_check(xml, len);
	if (rc < 0)
		return rc;

	memset(&d, 0, sizeof(d));
	parserootdesc(xml, (int)len, &d);
	/* miniupnpc keeps the first WANIPConnection / WANPPPConnection
	 * service and the last; take the better, the first on a tie. */
	for (int i = 0; i < 2; i++) {
		const struct IGDdatas_service *s = i == 0 ? &d.first : &d.second;
		enum upnp_service_kind k = kind_of(s);

		if (k && (!best || k < svc.kind)) {
			best = s;
			svc.kind = k;
		}
	}
	if (!best)
		return UPNP_ERR_NO_SERVICE;

	if (maybe_cut(d.urlbase) || maybe_cut(best->controlurl))
		return UPNP_ERR_URL_TOO_LONG;
	base = *location;
	v = trim(d.urlbase, &vl);
	if (vl > 0) {
		/* UPnP 1.1 deprecates URLBase; goupnp still prefers it. */
		rc = upnp_url_parse(v, vl, &base);
		if (rc < 0)
			return rc;
	}
	v = trim(best->controlurl, &vl);
	rc = upnp_url_resolve(&base, v, vl, &svc.control);
	if (rc < 0)
		return rc;
	rc = upnp_url_check_gateway(&svc.control, gw);
	if (rc < 0)
		return rc;
	*out = svc;
	return 0;
}

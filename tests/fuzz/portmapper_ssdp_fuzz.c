/* portmapper_ssdp_fuzz: upnp_ssdp_parse for a few gateways, the HTTP head
 * parser alone, and upnp_url_parse / upnp_url_resolve on arbitrary bytes.
 * An answer that parses must point at its gateway, name an IGD, hold no
 * line break in any value, and give a LOCATION that formats, parses back
 * to itself and makes a one-line GET; a URL that parses must do the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "upnp_desc.h"
#include "upnp_ssdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The gateways of the seed answers (Tailscale's vectors and ours). */
static const struct ipport gateways[] = {
	{.family = AF_INET, .ip = {192, 168, 1, 1}},
	{.family = AF_INET, .ip = {192, 168, 86, 1}},
	{.family = AF_INET, .ip = {192, 168, 0, 1}},
	{.family = AF_INET6, .ip = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
};

static void check_url(const struct upnp_url *u)
{
	char text[UPNP_URL_TEXT_MAX], req[UPNP_DESC_REQUEST_MAX_BYTES];
	struct upnp_url back;
	const char *eol;
	size_t n, r;

	if (u->path[0] != '/' || strnlen(u->path, sizeof(u->path)) == sizeof(u->path))
		abort();
	if (u->host.port == 0 || (u->host.family != AF_INET && u->host.family != AF_INET6))
		abort();
	n = upnp_url_format(u, text, sizeof(text));
	if (n == 0 || upnp_url_parse(text, n, &back) != 0)
		abort();
	if (!ipport_equal(&back.host, &u->host) || strcmp(back.path, u->path) != 0)
		abort();
	/* The request for it is one request line and two headers. */
	r = upnp_desc_request(u, req, sizeof(req));
	if (r == 0 || r != strlen(req) || memcmp(req, "GET /", 5) != 0)
		abort();
	eol = strstr(req, " HTTP/1.1\r\n");
	if (!eol || strchr(req, '\r') != eol + 9)
		abort();
}

static bool has_break(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

static void fuzz_ssdp(const uint8_t *data, size_t size, const struct ipport *gw)
{
	struct upnp_ssdp_response r;
	int rc = upnp_ssdp_parse(data, size, gw, &r);

	if (rc != 0) {
		if (rc > 0 || !upnp_strerror(rc))
			abort();
		return;
	}
	if (upnp_url_check_gateway(&r.loc, gw) != 0)
		abort();
	if (!strstr(r.st, ":InternetGatewayDevice:") && !strstr(r.usn, ":InternetGatewayDevice:"))
		abort();
	if (has_break(r.location) || has_break(r.st) || has_break(r.usn) || has_break(r.server))
		abort();
	if (upnp_ssdp_compare(&r, &r) != 0 || !upnp_ssdp_same_device(&r, &r))
		abort();
	check_url(&r.loc);
}

static int count_header(void *arg, const char *name, size_t nl, const char *v, size_t vl)
{
	size_t *n = arg;

	if (nl == 0 || memchr(name, ':', nl) || (vl && (v[0] == ' ' || v[vl - 1] == ' ')))
		abort();
	(*n)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t headers = 0, head_len = 0;
	int status = 0, rc;

	if (size > 2 * UPNP_SSDP_MAX_BYTES)
		return 0;
	for (size_t i = 0; i < sizeof(gateways) / sizeof(gateways[0]); i++)
		fuzz_ssdp(data, size, &gateways[i]);

	rc = upnp_head_parse(data, size, UPNP_SSDP_MAX_BYTES, count_header, &headers, &status,
			     &head_len);
	if (rc == 0 &&
	    (head_len > size || status < 100 || status > 999 || headers > UPNP_MAX_HEADERS))
		abort();

	/* The bytes as a URL, and as a reference against a fixed base. */
	if (size < UPNP_URL_MAX_BYTES) {
		static const char base_text[] = "http://192.168.1.1:5000/dir/rootDesc.xml?x=1";
		struct upnp_url u, base;

		if (upnp_url_parse((const char *)data, size, &u) == 0)
			check_url(&u);
		if (upnp_url_parse(base_text, sizeof(base_text) - 1, &base) != 0)
			abort();
		if (upnp_url_resolve(&base, (const char *)data, size, &u) == 0)
			check_url(&u);
	}
	return 0;
}

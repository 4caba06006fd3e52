/* portmapper_desc_fuzz: upnp_http_parse (with and without the close) and
 * upnp_desc_parse on arbitrary bytes: input starting with '<' (or a UTF-8
 * byte order mark) is a description, anything else a response to our GET.
 * A response must parse the same whether or not the server has closed,
 * unless it needed the close; a body must fit the cap and end in a NUL; a
 * description that parses must give a known service whose control URL
 * points at the gateway and formats and parses back to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "upnp_desc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char body[UPNP_DESC_BODY_BUF_BYTES];

/* The seeds' gateways: Tailscale's routers and the lab's internet. */
static const char *const locations[] = {
	"http://192.168.1.1:5000/dir/rootDesc.xml",
	"http://192.168.86.1:5000/rootDesc.xml",
	"http://10.0.0.1:2828/rootDesc.xml",
	"http://198.18.0.1:1900/rootDesc.xml",
};

static void check_service(const struct upnp_igd_service *s, const struct ipport *gw)
{
	char text[UPNP_URL_TEXT_MAX];
	struct upnp_url back;
	size_t n;

	if (!upnp_service_type(s->kind))
		abort();
	if (upnp_url_check_gateway(&s->control, gw) != 0 || s->control.path[0] != '/')
		abort();
	n = upnp_url_format(&s->control, text, sizeof(text));
	if (n == 0 || upnp_url_parse(text, n, &back) != 0 || strcmp(back.path, s->control.path))
		abort();
}

/* body[0..len) holds a NUL after it. */
static void fuzz_desc(size_t len)
{
	for (size_t i = 0; i < sizeof(locations) / sizeof(locations[0]); i++) {
		struct upnp_igd_service s;
		struct upnp_url loc;
		struct ipport gw;
		int rc;

		if (upnp_url_parse(locations[i], strlen(locations[i]), &loc) != 0)
			abort();
		gw = loc.host;
		gw.port = 0;
		rc = upnp_desc_parse(body, len, &loc, &gw, &s);
		if (rc == 0)
			check_service(&s, &gw);
		else if (rc > 0 || !upnp_strerror(rc))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct upnp_http_response open_r, closed_r;
	int open_rc, closed_rc;

	if (size > UPNP_HTTP_MAX_RESPONSE_BYTES + 1)
		return 0;
	if (size > 0 && (data[0] == '<' || data[0] == 0xef)) {
		if (size > UPNP_DESC_MAX_BODY_BYTES)
			return 0;
		memcpy(body, data, size);
		body[size] = '\0';
		fuzz_desc(size);
		return 0;
	}

	open_rc = upnp_http_parse(data, size, false, body, sizeof(body), &open_r);
	closed_rc = upnp_http_parse(data, size, true, body, sizeof(body), &closed_r);
	if (closed_rc == UPNP_MORE)
		abort();
	if (open_rc != UPNP_MORE && open_rc != closed_rc)
		abort();
	if (open_rc == 0 &&
	    (open_r.status != closed_r.status || open_r.head_bytes != closed_r.head_bytes ||
	     open_r.chunked != closed_r.chunked || open_r.body_len != closed_r.body_len))
		abort();
	if (closed_rc != 0) {
		if (!upnp_strerror(closed_rc))
			abort();
		return 0;
	}
	if (closed_r.status != 200 || closed_r.body_len > UPNP_DESC_MAX_BODY_BYTES ||
	    body[closed_r.body_len] != '\0' || closed_r.head_bytes > size)
		abort();
	fuzz_desc(closed_r.body_len);
	return 0;
}

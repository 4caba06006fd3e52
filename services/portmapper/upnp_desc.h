/* upnp_desc: the fetch of an IGD's root device description (UPnP Device
 * Architecture 1.1 section 2.1) as a minimal HTTP/1.1 exchange, and the
 * choice of its WAN connection service as Tailscale's selectBestService
 * orders them (net/portmapper/upnp.go). The XML is checked here, then
 * parsed by miniupnpc's parserootdesc. docs/upnp.md lists every rule and
 * limit. Error codes and URLs come from upnp_ssdp.h. Files:
 *   upnp_desc.c       the GET, the XML check, the service choice
 *   upnp_desc_http.c  upnp_http_parse: the response's head and body framing
 *
 * Pure: no I/O, no logging, no allocation. */
#ifndef MSOCK_UPNP_DESC_H
#define MSOCK_UPNP_DESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "upnp_ssdp.h"

enum {
	/* A description body over this is refused: the captured ones are
	 * 2.5-8 KiB (pfSense 2.5, Google Wifi 2.7, Mikrotik 5.1, Huawei 7.9), and the
	 * fetch happens before we trust anything of the device. */
	UPNP_DESC_MAX_BODY_BYTES = 64 * 1024,
	/* The body buffer upnp_http_parse needs: the cap and a NUL, which
	 * miniupnpc's parser may read one byte past the end into. */
	UPNP_DESC_BODY_BUF_BYTES = UPNP_DESC_MAX_BODY_BYTES + 1,
	/* The response head (status line, headers, blank line) must end
	 * within this; routers send under 300 bytes. */
	UPNP_HTTP_MAX_HEAD_BYTES = 8 * 1024,
	/* A whole response (head, chunk framing, trailers) over this is
	 * refused: room for the body cap in chunks of 1 byte or more would
	 * be unbounded, so we bound the bytes the caller reads instead. */
	UPNP_HTTP_MAX_RESPONSE_BYTES = 256 * 1024,
	/* What upnp_desc_request writes at most. */
	UPNP_DESC_REQUEST_MAX_BYTES = 64 + UPNP_URL_MAX_BYTES + 64,
	/* An element or attribute name over this is refused. The longest in
	 * the captured descriptions has 16 bytes (30 in one Tailscale edited
	 * for its tests); miniupnpc keeps 127 of a name (CVE-2015-6031 was
	 * its overflow of that buffer). */
	UPNP_DESC_MAX_NAME_BYTES = 64,
	/* Elements nested deeper than this are refused: root, device,
	 * deviceList, device, deviceList, device, serviceList, service,
	 * controlURL is 9, the deepest a description needs. */
	UPNP_DESC_MAX_DEPTH = 32,
};

/* The WAN connection services we map with, best first (Tailscale's
 * order). Zero is invalid. */
enum upnp_service_kind {
	UPNP_SERVICE_WANIP2 = 1,  /* urn:schemas-upnp-org:service:WANIPConnection:2 */
	UPNP_SERVICE_WANIP1 = 2,  /* urn:schemas-upnp-org:service:WANIPConnection:1 */
	UPNP_SERVICE_WANPPP1 = 3, /* urn:schemas-upnp-org:service:WANPPPConnection:1 */
};

/* The service type URN of k (static), or NULL if k is not one. */
const char *upnp_service_type(enum upnp_service_kind k);

/* The service chosen in a description: what upnp_igd_* call. */
struct upnp_igd_service {
	enum upnp_service_kind kind;
	struct upnp_url control; /* its controlURL, resolved; the host is the gateway */
};

/* Writes "GET <path> HTTP/1.1", Host, "Connection: close" and the blank
 * line for location (a LOCATION that upnp_ssdp_parse accepted). The
 * answer is then a single response the server ends by closing, whatever
 * framing it uses. Returns its length, or 0 if cap is too small. */
size_t upnp_desc_request(const struct upnp_url *location, char *buf, size_t cap);

/* A complete description response. */
struct upnp_http_response {
	int status;	   /* 200 */
	size_t head_bytes; /* status line through the blank line */
	bool chunked;	   /* Transfer-Encoding: chunked was decoded */
	size_t body_len;   /* bytes written to body (a NUL follows them) */
};

/* Parses the response to upnp_desc_request in p[0..len), everything read
 * so far; eof says the server has closed. Wants status 200, at most
 * UPNP_HTTP_MAX_HEAD_BYTES of head and UPNP_HTTP_MAX_RESPONSE_BYTES in
 * all, and a body of at most UPNP_DESC_MAX_BODY_BYTES framed by one
 * Content-Length, by "Transfer-Encoding: chunked" (decoded), or by the
 * close; not both headers, no other transfer coding. Bytes after a
 * Content-Length body are ignored. Copies the body to body (body_cap at
 * least UPNP_DESC_BODY_BUF_BYTES) and NUL-terminates it.
 * Returns 0 with *out set; UPNP_MORE if the response is not complete yet
 * and !eof (read more, call again with everything); or a negative enum
 * upnp_err. Only a 0 return leaves body meaningful; *out is untouched on
 * any other. Each call costs O(len). */
int upnp_http_parse(const uint8_t *p, size_t len, bool eof, char *body, size_t body_cap,
		    struct upnp_http_response *out);

/* Checks the description xml[0..len) (xml[len] must be NUL, as
 * upnp_http_parse leaves it) for gateway gw, fetched from location:
 * well-formed tags (every element closed by its own name, quoted
 * attributes, closed comments, CDATA and processing instructions), no
 * DOCTYPE, no NUL, no text beside child elements, names and nesting
 * within the limits above, a <root> element. Then miniupnpc's
 * parserootdesc reads it and we take the best service of enum
 * upnp_service_kind among the two WAN connection services miniupnpc
 * keeps (the first and the last of the document), ties to the first. Its controlURL (blanks
 * trimmed) is resolved against URLBase if there is one, else location, and must point at gw.
 * Returns 0 or a negative enum upnp_err (then *out is untouched). */
int upnp_desc_parse(const char *xml, size_t len, const struct upnp_url *location,
		    const struct ipport *gw, struct upnp_igd_service *out);

#endif

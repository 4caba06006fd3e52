/* upnp_ssdp: UPnP IGD discovery over SSDP (UPnP Device Architecture 1.1
 * section 1.3): the M-SEARCH requests Tailscale sends and the checks on a
 * device's answer (net/portmapper/portmapper.go and upnp.go). It also holds
 * what upnp_desc and upnp_igd share: the error codes, the HTTP head syntax
 * and the URL rules (http://, an IP literal that is the gateway).
 * docs/upnp.md lists every rule, limit and rejection.
 *
 * Pure: no I/O, no logging, no allocation. */
#ifndef MSOCK_UPNP_SSDP_H
#define MSOCK_UPNP_SSDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum {
	UPNP_SSDP_PORT = 1900, /* UDA 1.1 section 1.1.2; also where answers come from */
	/* How long a device may wait before answering, in seconds: what
	 * Tailscale's M-SEARCH asks (UDA 1.1 section 1.3.2 wants 1 to 5). */
	UPNP_SSDP_MX_S = 2,
	/* A datagram longer than this is refused: Tailscale reads answers
	 * into a 1500-byte buffer (one Ethernet MTU); the captured ones have
	 * 418 to 506 bytes. */
	UPNP_SSDP_MAX_BYTES = 1500,
	/* Tailscale keeps at most 11 answers per probe ("too many UPnP
	 * responses"); the caller keeps this many. */
	UPNP_SSDP_MAX_RESPONSES = 10,
	/* Room for an M-SEARCH upnp_ssdp_msearch writes (the IGD one: 137). */
	UPNP_SSDP_MSEARCH_MAX_BYTES = 160,
	/* A status or header line (without its CRLF) longer than this is
	 * refused, in SSDP and in the description fetch alike. The longest
	 * line of the captured answers is a 99-byte USN line. */
	UPNP_MAX_LINE_BYTES = 512,
	/* More header lines than this are refused; real answers have ~11. */
	UPNP_MAX_HEADERS = 32,
	/* The path and query of a URL (LOCATION, URLBase, controlURL) must
	 * fit in this, NUL included (the room in struct upnp_url); longer is
	 * refused. Real ones are under 60 bytes. */
	UPNP_URL_MAX_BYTES = 256,
	/* "http://" + "[" IPv6 "]" + ":65535" + path, NUL included: the
	 * longest URL text we parse, and what upnp_url_format can write. */
	UPNP_URL_TEXT_MAX = 7 + 47 + 6 + UPNP_URL_MAX_BYTES,
	UPNP_HTTP_DEFAULT_PORT = 80, /* RFC 7230 section 2.7.1, for a URL without one */
};

/* The SSDP multicast group (UDA 1.1 section 1.1.2), IPv4 only as Tailscale. */
#define UPNP_SSDP_GROUP_V4         \
	{                          \
		239, 255, 255, 250 \
	}

/* What every upnp_* function returns: 0, UPNP_MORE, or a negative code
 * below. upnp_igd_* also return a UPnP error code from the gateway
 * (positive, 400..899). Not errno values. */
enum upnp_err {
	UPNP_OK = 0,
	UPNP_MORE = 1, /* not an error: upnp_http_parse needs more bytes */
	/* Arguments. */
	UPNP_ERR_INVAL = -1,   /* an argument we never pass (NULL, buffer too small, ...) */
	UPNP_ERR_GATEWAY = -2, /* the gateway given is not a usable unicast address */
	/* HTTP heads: SSDP answers and the description fetch. */
	UPNP_ERR_TOO_LARGE = -3,	/* datagram or response over its size cap */
	UPNP_ERR_NOT_RESPONSE = -4,	/* first line not "HTTP/1.x NNN" (e.g. an M-SEARCH) */
	UPNP_ERR_STATUS = -5,		/* status not 200 */
	UPNP_ERR_TRUNCATED = -6,	/* ends inside the head or the body */
	UPNP_ERR_LINE_TOO_LONG = -7,	/* a line over UPNP_MAX_LINE_BYTES */
	UPNP_ERR_TOO_MANY_HEADERS = -8, /* over UPNP_MAX_HEADERS */
	UPNP_ERR_HEAD_TOO_LARGE = -9,	/* no blank line within the head cap */
	UPNP_ERR_BAD_HEADER = -10,	/* no colon, bad name, control byte, folded line */
	UPNP_ERR_DUP_HEADER = -11,	/* a header we read appears twice */
	/* SSDP. */
	UPNP_ERR_NO_LOCATION = -12, /* no LOCATION header */
	UPNP_ERR_NOT_IGD = -13,	    /* neither ST nor USN names an InternetGatewayDevice */
	/* URLs. */
	UPNP_ERR_URL_EMPTY = -14,
	UPNP_ERR_URL_TOO_LONG = -15,	/* over UPNP_URL_MAX_BYTES, or cut by miniupnpc */
	UPNP_ERR_URL_SCHEME = -16,	/* not http:// (https, another scheme, none) */
	UPNP_ERR_URL_USERINFO = -17,	/* user@ in the authority */
	UPNP_ERR_URL_HOST = -18,	/* host not an IP literal (a name, a zone, empty) */
	UPNP_ERR_URL_PORT = -19,	/* port empty, 0, over 65535 or not digits */
	UPNP_ERR_URL_PATH = -20,	/* a byte we do not send, a fragment, a dot segment */
	UPNP_ERR_URL_UNUSABLE = -21,	/* host loopback, unspecified, multicast or broadcast */
	UPNP_ERR_URL_NOT_GATEWAY = -22, /* host is not the gateway */
	/* The description fetch. */
	UPNP_ERR_CONTENT_LENGTH = -23,	  /* not a number, twice, or with Transfer-Encoding */
	UPNP_ERR_TRANSFER_ENCODING = -24, /* other than "chunked" */
	UPNP_ERR_CHUNK = -25,		  /* bad chunk framing */
	UPNP_ERR_BODY_TOO_LARGE = -26,	  /* body over UPNP_DESC_MAX_BODY_BYTES */
	/* The description's XML. */
	UPNP_ERR_XML_EMPTY = -27,	  /* no element at all */
	UPNP_ERR_XML_NUL = -28,		  /* a NUL byte */
	UPNP_ERR_XML_TRUNCATED = -29,	  /* ends inside a tag, attribute, comment or element */
	UPNP_ERR_XML_SYNTAX = -30,	  /* malformed tag or attribute, text outside the root */
	UPNP_ERR_XML_NAME_TOO_LONG = -31, /* a name over UPNP_DESC_MAX_NAME_BYTES */
	UPNP_ERR_XML_TOO_DEEP = -32,	  /* nested over UPNP_DESC_MAX_DEPTH */
	UPNP_ERR_XML_MISMATCH = -33,	  /* an end tag that does not close the open element */
	UPNP_ERR_XML_DOCTYPE = -34,	  /* a DOCTYPE (entity declarations) */
	UPNP_ERR_XML_MIXED = -35,	  /* text beside child elements */
	UPNP_ERR_XML_NOT_ROOT = -36,	  /* the root element is not <root> */
	UPNP_ERR_NO_SERVICE = -37,	  /* no WANIPConnection or WANPPPConnection */
	/* The IGD calls (miniupnpc's results and what they return). */
	UPNP_ERR_IGD_HTTP = -38,	    /* could not connect, send or receive */
	UPNP_ERR_IGD_RESPONSE = -39,	    /* an answer without the value asked for */
	UPNP_ERR_IGD_UNKNOWN = -40,	    /* miniupnpc's unknown error */
	UPNP_ERR_IGD_NOMEM = -41,	    /* miniupnpc could not allocate */
	UPNP_ERR_IGD_BAD_CODE = -42,	    /* an errorCode outside UPnP's 400..899 */
	UPNP_ERR_EXTERNAL_IP = -43,	    /* external address empty or unusable */
	UPNP_ERR_IGD_PORT = -44,	    /* external port under 1024, or a port 0 */
	UPNP_ERR_IGD_CLIENT = -45,	    /* internal client not a usable IPv4 address */
	UPNP_ERR_IGD_LEASE = -46,	    /* lease over UPNP_IGD_MAX_LEASE_S */
	UPNP_ERR_LAST = UPNP_ERR_IGD_LEASE, /* for tests that walk every code */
};

/* A static description of a return value: an enum upnp_err, or a UPnP
 * error code from the gateway ("ConflictInMappingEntry"). */
const char *upnp_strerror(int err);

/* ---- M-SEARCH ---- */

/* The two search targets Tailscale sends: ssdp:all, and the IGD:1 device
 * type for devices that answer ssdp:all with only their first device
 * (tailscale/tailscale#3557). Zero is invalid. */
enum upnp_ssdp_target {
	UPNP_SSDP_ST_ALL = 1,
	UPNP_SSDP_ST_IGD = 2,
};

/* Tailscale's probe, in its order: ssdp:all to the gateway's unicast
 * address (some routers answer only that, and it opens host firewalls
 * for the answers), ssdp:all to the group, the IGD:1 search to the group.
 * All from one socket, to UPNP_SSDP_PORT. */
struct upnp_ssdp_probe {
	enum upnp_ssdp_target st;
	bool multicast; /* to UPNP_SSDP_GROUP_V4, else to the gateway */
};
enum { UPNP_SSDP_PROBES = 3 };
extern const struct upnp_ssdp_probe upnp_ssdp_probes[UPNP_SSDP_PROBES];

/* Writes the M-SEARCH for st, byte for byte Tailscale's uPnPPacket /
 * uPnPIGDPacket (HOST 239.255.255.250:1900, MAN "ssdp:discover", MX 2).
 * Returns its length, or 0 if st is unknown or cap too small. */
size_t upnp_ssdp_msearch(enum upnp_ssdp_target st, uint8_t *buf, size_t cap);

/* ---- URLs ---- */

/* An http:// URL whose host is an IP literal. */
struct upnp_url {
	struct ipport host;	       /* address and port (UPNP_HTTP_DEFAULT_PORT if none) */
	char path[UPNP_URL_MAX_BYTES]; /* path and query, starts with '/', NUL-terminated */
};

/* Whether a can be a gateway or the host of its URLs: ip_unicast_usable
 * (lib/addr.h: not 0.0.0.0/8, ::, loopback, multicast or 255.255.255.255;
 * private, CGNAT and 198.18.0.0/15, the lab's internet, are fine) and not
 * IPv4-mapped IPv6. */
bool upnp_addr_usable(const struct ipport *a);

/* Parses an absolute URL: "http://" (any case), an IPv4 literal or a
 * bracketed IPv6 literal without zone, an optional port, a path. No
 * userinfo, no fragment, no dot segments, path bytes RFC 3986 allows
 * (percent escapes well formed). An empty path becomes "/". s need not
 * be NUL-terminated. Returns 0 or a negative enum upnp_err (then *out is
 * untouched). */
int upnp_url_parse(const char *s, size_t len, struct upnp_url *out);
/* Resolves ref (absolute, "//authority...", "/path", "?query" or a
 * relative path) against base as RFC 3986 section 5.2 does, with the
 * rules of upnp_url_parse. Returns 0 or a negative enum upnp_err. */
int upnp_url_resolve(const struct upnp_url *base, const char *ref, size_t len,
		     struct upnp_url *out);
/* Whether u points at the gateway: UPNP_ERR_GATEWAY if gw is not usable,
 * UPNP_ERR_URL_UNUSABLE if u's host is not, UPNP_ERR_URL_NOT_GATEWAY if
 * it is another address; else 0. */
int upnp_url_check_gateway(const struct upnp_url *u, const struct ipport *gw);
/* Writes "http://1.2.3.4:5000/path" (always with the port). Returns the
 * length without the NUL, or 0 if cap is too small. */
size_t upnp_url_format(const struct upnp_url *u, char *buf, size_t cap);

/* ---- HTTP heads (shared with upnp_desc) ---- */

/* Parses an HTTP/1.0 or 1.1 response head in p[0..len) with lib/http_head
 * (http_parser): the status line, then header lines (CRLF or LF ended) up
 * to the blank line, within max_head bytes, each line within
 * UPNP_MAX_LINE_BYTES, at most UPNP_MAX_HEADERS. For each header calls fn with its name and its
 * value without surrounding blanks (not NUL-terminated); a non-zero return from fn stops the parse
 * and is returned. Returns 0 with *status and *head_len (bytes through the blank line) set,
 * UPNP_MORE if p ends before the blank line within the limits, or a negative enum upnp_err. */
int upnp_head_parse(const uint8_t *p, size_t len, size_t max_head,
		    int (*fn)(void *arg, const char *name, size_t name_len, const char *value,
			      size_t value_len),
		    void *arg, int *status, size_t *head_len);
/* Whether name[0..len) is want, ignoring ASCII case (header names). */
bool upnp_name_is(const char *name, size_t len, const char *want);

/* ---- SSDP answers ---- */

/* A device's answer to our M-SEARCH. Header values are NUL-terminated
 * (empty if absent); loc is LOCATION parsed and checked. */
struct upnp_ssdp_response {
	char location[UPNP_MAX_LINE_BYTES];
	char st[UPNP_MAX_LINE_BYTES];
	char usn[UPNP_MAX_LINE_BYTES];
	char server[UPNP_MAX_LINE_BYTES];
	struct upnp_url loc;
};

/* Parses an answer that arrived on our SSDP socket, for gateway gw: an
 * HTTP/1.x 200 response (not a request: M-SEARCH and NOTIFY are refused,
 * whatever their MX), at most UPNP_SSDP_MAX_BYTES, whose head ends in a
 * blank line; LOCATION, ST, USN, SERVER at most once each (names in any
 * case; others ignored); ST or USN naming an InternetGatewayDevice as
 * Tailscale wants; a LOCATION that upnp_url_parse takes and that points
 * at gw. Returns 0 or a negative enum upnp_err (then *out is untouched). */
int upnp_ssdp_parse(const uint8_t *p, size_t len, const struct ipport *gw,
		    struct upnp_ssdp_response *out);

/* Tailscale's order of answers (processUPnPResponses): USN descending (so
 * InternetGatewayDevice:2 before :1), then LOCATION, then SERVER. For
 * qsort-like use. */
int upnp_ssdp_compare(const struct upnp_ssdp_response *a, const struct upnp_ssdp_response *b);
/* Whether b repeats a (same LOCATION and SERVER; the USN may differ):
 * after sorting, keep the first of each run. */
bool upnp_ssdp_same_device(const struct upnp_ssdp_response *a, const struct upnp_ssdp_response *b);

#endif

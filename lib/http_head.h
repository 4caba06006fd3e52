/* http_head: an HTTP/1.x response head (status line, header fields, the
 * empty line; RFC 9112 sections 2 to 5) as the clients of msock read it:
 * netcheck's probes (services/netcheck/nc_http.c), UPnP's SSDP answers and
 * description fetch (services/portmapper/upnp_ssdp.c) and the 101 a DERP
 * server sends before its frames (lib/derp/derp_client.c). Node's
 * http_parser is the grammar; a line scan before it adds the rules that
 * parser, built lenient, lets through (as services/derp/server/
 * derper_http_parse.c does for requests). Pure: no I/O, no allocation. */
#ifndef MSOCK_HTTP_HEAD_H
#define MSOCK_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a caller bounds; every limit is the caller's, with its reason. */
struct http_head_limits {
	size_t max_head_bytes; /* no empty line within this many bytes: E_TOO_LARGE */
	size_t max_line_bytes; /* a line (without its line end) longer: E_LINE_TOO_LONG; 0: none */
	unsigned max_headers;  /* more header lines: E_TOO_MANY_HEADERS; 0: none */
	bool crlf_only;	       /* a bare LF ends no line (UPnP devices send them: false) */
};

/* http_head_parse results: > 0 needs more, 0 done, < 0 refused. */
enum {
	HTTP_HEAD_MORE = 1, /* no empty line yet: call again with more bytes */
	HTTP_HEAD_OK = 0,
	HTTP_HEAD_E_ARG = -1,
	HTTP_HEAD_E_STATUS_LINE = -2,	     /* not "HTTP/1.x NNN" and an optional reason */
	HTTP_HEAD_E_LINE_ENDING = -3,	     /* a line not ended by CRLF (crlf_only) */
	HTTP_HEAD_E_NUL = -4,		     /* a NUL byte in a header line */
	HTTP_HEAD_E_CONTROL_BYTE = -5,	     /* another control byte (or a stray CR) */
	HTTP_HEAD_E_OBS_FOLD = -6,	     /* a line folded onto the previous (RFC 9112 5.2) */
	HTTP_HEAD_E_NO_COLON = -7,	     /* a header line without a colon */
	HTTP_HEAD_E_HEADER_NAME = -8,	     /* a field name that is not a token ("X : y") */
	HTTP_HEAD_E_LINE_TOO_LONG = -9,	     /* over max_line_bytes */
	HTTP_HEAD_E_TOO_MANY_HEADERS = -10,  /* over max_headers */
	HTTP_HEAD_E_TOO_LARGE = -11,	     /* no empty line within max_head_bytes */
	HTTP_HEAD_E_CONTENT_LENGTH = -12,    /* http_parser: a bad or repeated Content-Length */
	HTTP_HEAD_E_TRANSFER_ENCODING = -13, /* http_parser: a bad Transfer-Encoding */
	HTTP_HEAD_E_SYNTAX = -14,	     /* another refusal of http_parser's */
	HTTP_HEAD_E_CALLBACK = -15,	     /* the caller's on_header refused (cb_rc) */
};

struct http_head {
	int status;	    /* 100..999 */
	uint8_t http_minor; /* HTTP/1.0 or HTTP/1.1 */
	unsigned nheaders;
	size_t head_len; /* bytes through the empty line */
	int cb_rc;	 /* HTTP_HEAD_E_CALLBACK: what on_header returned */
};

/* Parses the response head at the start of p[0..len). For each header
 * line, in order, calls on_header (if not NULL) with the name and the value
 * without the spaces and tabs around it (not NUL-terminated; valid during
 * the call); a non-zero return stops the parse with HTTP_HEAD_E_CALLBACK.
 * Every error but those of http_parser (which sees the head once it is
 * whole) is decided by the line it is in and those before it. Returns
 * HTTP_HEAD_OK with *out set, HTTP_HEAD_MORE, or an HTTP_HEAD_E_* code
 * (out->cb_rc set on HTTP_HEAD_E_CALLBACK). */
int http_head_parse(const uint8_t *p, size_t len, const struct http_head_limits *lim,
		    int (*on_header)(void *arg, const char *name, size_t name_len,
				     const char *value, size_t value_len),
		    void *arg, struct http_head *out);

/* A static description of an http_head_parse result, for people. */
const char *http_head_strerror(int rc);

#endif

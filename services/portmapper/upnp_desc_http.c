/* upnp_desc_http: upnp_http_parse, the response to the description GET:
 * the head through upnp_head_parse, then the body framed by one
 * Content-Length, by chunked coding (RFC 7230 sections 3.3 and 4.1) or by
 * the close. Pure. No timers. */
#include "upnp_desc.h"

#include <string.h>

struct fetch_head {
	bool have_length, chunked, have_te;
	size_t length;
};

static int on_fetch_header(void *arg, const char *name, size_t nl, const char *v, size_t vl)
{
	struct fetch_head *h = arg;

	if (upnp_name_is(name, nl, "content-length")) {
		if (h->have_length || vl == 0)
			return UPNP_ERR_CONTENT_LENGTH;
		h->have_length = true;
		for (size_t i = 0; i < vl; i++) {
			if (v[i] < '0' || v[i] > '9')
				return UPNP_ERR_CONTENT_LENGTH;
			/* Stop before the value could overflow. */
			h->length = h->length * 10 + (size_t)(v[i] - '0');
			if (h->length > UPNP_DESC_MAX_BODY_BYTES)
				return UPNP_ERR_BODY_TOO_LARGE;
		}
		return 0;
	}
	if (upnp_name_is(name, nl, "transfer-encoding")) {
		if (h->have_te || !upnp_name_is(v, vl, "chunked"))
			return UPNP_ERR_TRANSFER_ENCODING;
		h->have_te = h->chunked = true;
	}
	return 0;
}

/* The next line of p[*off..n): where it starts and its length without
 * CRLF / LF, *off moved past it. UPNP_MORE if no LF yet, UPNP_ERR_CHUNK
 * if the line outgrows UPNP_MAX_LINE_BYTES. */
static int next_line(const uint8_t *p, size_t n, size_t *off, const uint8_t **line,
		     size_t *line_len)
{
	size_t room = n - *off,
	       look = room < UPNP_MAX_LINE_BYTES + 2 ? room : UPNP_MAX_LINE_BYTES + 2;
	const uint8_t *lf = memchr(p + *off, '\n', look);
	size_t l;

	if (!lf)
		return room > UPNP_MAX_LINE_BYTES + 1 ? UPNP_ERR_CHUNK : UPNP_MORE;
	l = (size_t)(lf - (p + *off));
	if (l > 0 && lf[-1] == '\r')
		l--;
	if (l > UPNP_MAX_LINE_BYTES)
		return UPNP_ERR_CHUNK;
	*line = p + *off;
	*line_len = l;
	*off = (size_t)(lf - p) + 1;
	return 0;
}

static int hex_value(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* chunk-size [ chunk-ext ]: hex digits, then nothing, or blanks and ';'
 * and any text (extensions are ignored). Sizes are checked against the
 * body cap digit by digit, so no value wraps (CVE-2017-8798 was
 * miniwget's signed chunk size). */
static int chunk_size(const uint8_t *l, size_t n, size_t *size)
{
	size_t i = 0, v = 0;
	int d;

	while (i < n && (d = hex_value(l[i])) >= 0) {
		v = v * 16 + (size_t)d;
		if (v > UPNP_DESC_MAX_BODY_BYTES)
			return UPNP_ERR_BODY_TOO_LARGE;
		i++;
	}
	if (i == 0)
		return UPNP_ERR_CHUNK;
	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	if (i < n && l[i] != ';')
		return UPNP_ERR_CHUNK;
	for (; i < n; i++)
		if (l[i] != '\t' && (l[i] < 0x20 || l[i] == 0x7f))
			return UPNP_ERR_CHUNK;
	*size = v;
	return 0;
}

/* Decodes a chunked body (RFC 7230 section 4.1) from p[0..n) into body. */
static int dechunk(const uint8_t *p, size_t n, char *body, size_t *body_len)
{
	size_t off = 0, total = 0, l, size, trailers = 0;
	const uint8_t *line;
	int rc;

	for (;;) {
		rc = next_line(p, n, &off, &line, &l);
		if (rc != 0)
			return rc;
		rc = chunk_size(line, l, &size);
		if (rc < 0)
			return rc;
		if (size == 0)
			break;
		if (size > UPNP_DESC_MAX_BODY_BYTES - total)
			return UPNP_ERR_BODY_TOO_LARGE;
		if (n - off < size)
			return UPNP_MORE;
		memcpy(body + total, p + off, size);
		total += size;
		off += size;
		/* The chunk's data ends in CRLF (or LF) and nothing else. */
		if ((off < n && p[off] != '\r' && p[off] != '\n') ||
		    (n - off >= 2 && p[off] == '\r' && p[off + 1] != '\n'))
			return UPNP_ERR_CHUNK;
		rc = next_line(p, n, &off, &line, &l);
		if (rc == UPNP_ERR_CHUNK || (rc == 0 && l != 0))
			return UPNP_ERR_CHUNK;
		if (rc != 0)
			return rc;
	}
	/* Trailer fields, ignored, up to the blank line. */
	for (;;) {
		rc = next_line(p, n, &off, &line, &l);
		if (rc != 0)
			return rc;
		if (l == 0)
			break;
		if (++trailers > UPNP_MAX_HEADERS)
			return UPNP_ERR_TOO_MANY_HEADERS;
	}
	*body_len = total;
	return 0;
}

int upnp_http_parse(const uint8_t *p, size_t len, bool eof, char *body, size_t body_cap,
		    struct upnp_http_response *out)
{
	struct fetch_head h = {0};
	size_t head_len, n, body_len = 0;
	int rc, status;

	if ((!p && len) || !body || body_cap < UPNP_DESC_BODY_BUF_BYTES || !out)
		return UPNP_ERR_INVAL;
	if (len > UPNP_HTTP_MAX_RESPONSE_BYTES)
		return UPNP_ERR_TOO_LARGE;
	rc = upnp_head_parse(p, len, UPNP_HTTP_MAX_HEAD_BYTES, on_fetch_header, &h, &status,
			     &head_len);
	if (rc == UPNP_MORE)
		return eof ? UPNP_ERR_TRUNCATED : UPNP_MORE;
	if (rc < 0)
		return rc;
	if (status != 200)
		return UPNP_ERR_STATUS;
	/* RFC 7230 section 3.3.3 lets Transfer-Encoding win; a response
	 * with both is how requests get smuggled, and no router needs it. */
	if (h.have_length && h.chunked)
		return UPNP_ERR_CONTENT_LENGTH;
	n = len - head_len;
	if (h.chunked) {
		rc = dechunk(p + head_len, n, body, &body_len);
		if (rc == UPNP_MORE)
			return eof ? UPNP_ERR_TRUNCATED : UPNP_MORE;
		if (rc < 0)
			return rc;
	} else if (h.have_length) {
		if (n < h.length)
			return eof ? UPNP_ERR_TRUNCATED : UPNP_MORE;
		body_len = h.length;
		memcpy(body, p + head_len, body_len);
	} else {
		if (n > UPNP_DESC_MAX_BODY_BYTES)
			return UPNP_ERR_BODY_TOO_LARGE;
		if (!eof)
			return UPNP_MORE;
		body_len = n;
		memcpy(body, p + head_len, body_len);
	}
	body[body_len] = '\0';
	*out = (struct upnp_http_response){
		.status = status,
		.head_bytes = head_len,
		.chunked = h.chunked,
		.body_len = body_len,
	};
	return 0;
}

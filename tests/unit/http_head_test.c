/* http_head_test: response heads (lib/http_head.h) as netcheck, UPnP and
 * the DERP client read them: valid heads with their status, version,
 * length and fields; then one row per malformed shape, with the code and
 * the words it is refused with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "http_head.h"

/* netcheck's and the DERP client's rules; UPnP's (bare LF, line and
 * header limits) where a row says so. */
static const struct http_head_limits crlf = {.max_head_bytes = 8192, .crlf_only = true};
static const struct http_head_limits upnp = {
	.max_head_bytes = 1500, .max_line_bytes = 64, .max_headers = 4};

struct seen {
	char text[512];
	size_t n;
};

static int collect(void *arg, const char *name, size_t nl, const char *v, size_t vl)
{
	struct seen *s = arg;

	s->n += (size_t)snprintf(s->text + s->n, sizeof(s->text) - s->n, "[%.*s=%.*s]", (int)nl,
				 name, (int)vl, v);
	return 0;
}

static int refuse_b(void *arg, const char *name, size_t nl, const char *v, size_t vl)
{
	(void)arg, (void)v, (void)vl;
	return nl == 1 && name[0] == 'B' ? -42 : 0;
}

static void test_valid(void **state)
{
	(void)state;
	static const struct {
		const char *head;
		const struct http_head_limits *lim;
		int status, minor;
		const char *fields;
	} v[] = {
		/* What Tailscale's derper sends a client that asked for no fast start. */
		{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n"
		 "Derp-Version: 2\r\n\r\n",
		 &crlf, 101, 1, "[Upgrade=DERP][Connection=Upgrade][Derp-Version=2]"},
		{"HTTP/1.0 204\r\nX-Tailscale-Response:\t response x \r\n\r\n", &crlf, 204, 0,
		 "[X-Tailscale-Response=response x]"},
		{"HTTP/1.1 200 OK\nLOCATION: http://192.168.1.1:5000/d.xml\nST: x\n\n", &upnp, 200,
		 1, "[LOCATION=http://192.168.1.1:5000/d.xml][ST=x]"},
		{"HTTP/1.1 999 \xff\r\nEmpty:\r\n\r\n", &upnp, 999, 1, "[Empty=]"},
		{"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", &crlf, 200, 1,
		 "[Content-Length=3]"},
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct seen s = {0};
		struct http_head h;
		char buf[512];
		size_t n = strlen(v[i].head);
		int rc;

		/* A body or DERP frames may follow: the head ends at the empty line. */
		snprintf(buf, sizeof(buf), "%sBODY", v[i].head);
		rc = http_head_parse((const uint8_t *)buf, n + 4, v[i].lim, collect, &s, &h);
		if (rc != HTTP_HEAD_OK)
			fail_msg("row %zu: %s", i, http_head_strerror(rc));
		assert_int_equal(h.status, v[i].status);
		assert_int_equal(h.http_minor, v[i].minor);
		assert_int_equal(h.head_len, n);
		assert_string_equal(s.text, v[i].fields);
		/* Every prefix needs more. */
		for (size_t k = 0; k < n; k++)
			if (http_head_parse((const uint8_t *)buf, k, v[i].lim, 0, 0, &h) !=
			    HTTP_HEAD_MORE)
				fail_msg("row %zu: prefix %zu is not MORE", i, k);
	}
}

static void test_malformed(void **state)
{
	(void)state;
	static const struct {
		const char *name, *head;
		const struct http_head_limits *lim;
		int rc;
		const char *why;
	} v[] = {
		{"HTTP/2", "HTTP/2 204 OK\r\n\r\n", &crlf, HTTP_HEAD_E_STATUS_LINE,
		 "the status line is not HTTP/1.x NNN"},
		{"two digits", "HTTP/1.1 20 OK\r\n\r\n", &crlf, HTTP_HEAD_E_STATUS_LINE, 0},
		{"four digits", "HTTP/1.1 2040 OK\r\n\r\n", &crlf, HTTP_HEAD_E_STATUS_LINE, 0},
		{"status 099", "HTTP/1.1 099 OK\r\n\r\n", &crlf, HTTP_HEAD_E_STATUS_LINE, 0},
		{"HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", &crlf, HTTP_HEAD_E_STATUS_LINE, 0},
		{"a request", "M-SEARCH * HTTP/1.1\r\n\r\n", &upnp, HTTP_HEAD_E_STATUS_LINE, 0},
		{"control byte in the reason", "HTTP/1.1 200 O\x01K\r\n\r\n", &crlf,
		 HTTP_HEAD_E_STATUS_LINE, 0},
		{"bare LF", "HTTP/1.1 204 OK\n\r\n", &crlf, HTTP_HEAD_E_LINE_ENDING,
		 "a line does not end with CRLF"},
		{"NUL", "HTTP/1.1 204 OK\r\nA: x\0y\r\n\r\n", &crlf, HTTP_HEAD_E_NUL,
		 "a NUL byte in the head"},
		{"stray CR", "HTTP/1.1 204 OK\r\nA: x\ry\r\n\r\n", &crlf, HTTP_HEAD_E_CONTROL_BYTE,
		 "a control byte in a header line"},
		{"DEL", "HTTP/1.1 204 OK\nA: x\x7f\n\n", &upnp, HTTP_HEAD_E_CONTROL_BYTE, 0},
		{"folded", "HTTP/1.1 204 OK\r\nA: b\r\n folded\r\n\r\n", &crlf,
		 HTTP_HEAD_E_OBS_FOLD, "a folded header line (obsolete, RFC 9112 section 5.2)"},
		{"no colon", "HTTP/1.1 204 OK\r\nNoColon\r\n\r\n", &crlf, HTTP_HEAD_E_NO_COLON,
		 "a header line without a colon"},
		{"space before the colon", "HTTP/1.1 204 OK\r\nX : y\r\n\r\n", &crlf,
		 HTTP_HEAD_E_HEADER_NAME, "a header name that is not a token"},
		{"empty name", "HTTP/1.1 204 OK\r\n: y\r\n\r\n", &crlf, HTTP_HEAD_E_HEADER_NAME, 0},
		{"line too long",
		 "HTTP/1.1 200 OK\nX: "
		 "0123456789012345678901234567890123456789012345678901234567890123"
		 "\n\n",
		 &upnp, HTTP_HEAD_E_LINE_TOO_LONG, 0},
		{"line too long, unended",
		 "HTTP/1.1 200 OK\nX: "
		 "0123456789012345678901234567890123456789012345678901234567890123",
		 &upnp, HTTP_HEAD_E_LINE_TOO_LONG, 0},
		{"five headers", "HTTP/1.1 200 OK\nA: 1\nC: 2\nD: 3\nE: 4\nF: 5\n\n", &upnp,
		 HTTP_HEAD_E_TOO_MANY_HEADERS, "too many header lines"},
		{"Content-Length not a number", "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
		 &crlf, HTTP_HEAD_E_CONTENT_LENGTH, "a bad or repeated Content-Length"},
		{"Content-Length twice",
		 "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", &crlf,
		 HTTP_HEAD_E_CONTENT_LENGTH, 0},
		{"the caller refuses", "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n", &crlf,
		 HTTP_HEAD_E_CALLBACK, "a header the caller refused"},
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct http_head h;
		/* strlen stops at the NUL row's NUL: measure that one by hand. */
		size_t n = strcmp(v[i].name, "NUL") == 0 ? 26 : strlen(v[i].head);
		int rc = http_head_parse((const uint8_t *)v[i].head, n, v[i].lim, refuse_b, 0, &h);

		if (rc != v[i].rc)
			fail_msg("%s: got %d (%s), want %d (%s)", v[i].name, rc,
				 http_head_strerror(rc), v[i].rc, http_head_strerror(v[i].rc));
		if (v[i].why && strcmp(http_head_strerror(rc), v[i].why) != 0)
			fail_msg("%s: says \"%s\"", v[i].name, http_head_strerror(rc));
		if (rc == HTTP_HEAD_E_CALLBACK)
			assert_int_equal(h.cb_rc, -42);
	}
}

static void test_limits(void **state)
{
	(void)state;
	char buf[2048];
	struct http_head h;
	size_t n;

	/* No empty line within the cap. */
	n = (size_t)snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nA: %01990d\r\n\r\n", 0);
	assert_int_equal(http_head_parse((const uint8_t *)buf, n, &upnp, 0, 0, &h),
			 HTTP_HEAD_E_LINE_TOO_LONG);
	assert_int_equal(http_head_parse((const uint8_t *)buf, n,
					 &(struct http_head_limits){.max_head_bytes = 1024}, 0, 0,
					 &h),
			 HTTP_HEAD_E_TOO_LARGE);
	assert_int_equal(http_head_parse((const uint8_t *)buf, n, &crlf, 0, 0, &h), HTTP_HEAD_OK);
	assert_int_equal(http_head_parse(NULL, 1, &crlf, 0, 0, &h), HTTP_HEAD_E_ARG);
	assert_int_equal(http_head_parse((const uint8_t *)buf, n, NULL, 0, 0, &h), HTTP_HEAD_E_ARG);
	assert_int_equal(http_head_parse(NULL, 0, &crlf, 0, 0, &h), HTTP_HEAD_MORE);
	for (int rc = HTTP_HEAD_MORE; rc >= HTTP_HEAD_E_CALLBACK; rc--)
		assert_string_not_equal(http_head_strerror(rc), "unknown http_head error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* derper_http_test: request heads as Tailscale's client writes them
 * (derp/derphttp/derphttp_client.go through Go's Request.Write), routing as
 * cmd/derper's mux, every response byte for byte, every refusal (a row of
 * refuse_rows, or a test where code builds the head). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "derper_http.h"

/* Go's Request.Write: request line, Host, User-Agent, then the headers
 * sorted by name (Header.writeSubset). derphttp_client.go sets Upgrade,
 * Connection, Ideal-Node (when not on the region's first node) and, when
 * the TLS meta cert gave it the server key, Derp-Fast-Start. */
#define TS_REQ_UPGRADE                       \
	"GET /derp HTTP/1.1\r\n"             \
	"Host: derp1.example.com\r\n"        \
	"User-Agent: Go-http-client/1.1\r\n" \
	"Connection: Upgrade\r\n"            \
	"Ideal-Node: 1a\r\n"                 \
	"Upgrade: DERP\r\n"                  \
	"\r\n"
#define TS_REQ_FAST_START                    \
	"GET /derp HTTP/1.1\r\n"             \
	"Host: derp1.example.com:8443\r\n"   \
	"User-Agent: Go-http-client/1.1\r\n" \
	"Connection: Upgrade\r\n"            \
	"Derp-Fast-Start: 1\r\n"             \
	"Upgrade: DERP\r\n"                  \
	"\r\n"
/* The DERP frame a fast-start client writes right after its head: a
 * frameClientInfo (0x02) header; it belongs to the DERP stream. */
#define DERP_AFTER "\x02\x00\x00\x00\x28nodekey-and-sealed-info..."

/* Sun, 06 Nov 1994 08:49:37 GMT: RFC 9110 5.6.7's example date. */
#define RFC_DATE_T ((time_t)784111777)

static int parse_n(const char *s, size_t n, struct derper_http_req *r, size_t *consumed)
{
	/* An exact-size copy so ASan sees any read past the input. */
	uint8_t *copy = malloc(n ? n : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, s, n);
	rc = derper_http_parse(copy, n, r, consumed);
	free(copy);
	return rc;
}

static int parse(const char *s, struct derper_http_req *r, size_t *consumed)
{
	return parse_n(s, strlen(s), r, consumed);
}

static struct derper_http_req must_parse(const char *s)
{
	struct derper_http_req r;
	size_t consumed = 99999;
	int rc = parse(s, &r, &consumed);

	if (rc != 0)
		fail_msg("parse: %d %s at %zu", rc, derper_http_strerror(rc), consumed);
	assert_int_equal(consumed, strlen(s));
	return r;
}

static void expect_refused(const char *name, const char *s, size_t n, int want, size_t want_at)
{
	struct derper_http_req r;
	size_t consumed = 99999;
	int rc;

	memset(&r, 0xaa, sizeof(r));
	rc = parse_n(s, n, &r, &consumed);
	if (rc != want)
		fail_msg("%s: want %d (%s), got %d (%s) at %zu", name, want,
			 derper_http_strerror(want), rc, derper_http_strerror(rc), consumed);
	if (consumed != want_at)
		fail_msg("%s: reported at %zu, want %zu", name, consumed, want_at);
	/* A refused head leaves *out alone. */
	if (((uint8_t *)&r)[0] != 0xaa)
		fail_msg("%s: *out written", name);
}

static void test_tailscale_upgrade_request(void **state)
{
	(void)state;
	struct derper_http_req r = must_parse(TS_REQ_UPGRADE);

	assert_int_equal(r.method, DERPER_HTTP_METHOD_GET);
	assert_string_equal(r.method_name, "GET");
	assert_int_equal(r.http_major, 1);
	assert_int_equal(r.http_minor, 1);
	assert_string_equal(r.path, "/derp");
	assert_string_equal(r.query, "");
	assert_string_equal(r.host, "derp1.example.com");
	assert_string_equal(r.upgrade, "DERP");
	assert_string_equal(r.connection, "Upgrade");
	assert_string_equal(r.ideal_node, "1a");
	assert_true(r.has_ideal_node);
	assert_string_equal(r.challenge, "");
	assert_false(r.fast_start);
	assert_true(r.keep_alive);
	assert_int_equal(r.nheaders, 5);
	assert_int_equal(derper_http_route(&r), DERPER_ROUTE_DERP_UPGRADE);
}

static void test_tailscale_fast_start_leaves_derp_bytes(void **state)
{
	(void)state;
	static const char in[] = TS_REQ_FAST_START DERP_AFTER;
	struct derper_http_req r;
	size_t consumed = 0;

	assert_int_equal(parse_n(in, sizeof(in) - 1, &r, &consumed), 0);
	assert_int_equal(consumed, strlen(TS_REQ_FAST_START));
	assert_memory_equal(in + consumed, DERP_AFTER, sizeof(DERP_AFTER) - 1);
	assert_true(r.fast_start);
	assert_string_equal(r.host, "derp1.example.com:8443");
	assert_string_equal(r.ideal_node, "");
	assert_false(r.has_ideal_node);
	assert_int_equal(derper_http_route(&r), DERPER_ROUTE_DERP_UPGRADE);
}

static void test_byte_by_byte(void **state)
{
	(void)state;
	static const char in[] = TS_REQ_FAST_START DERP_AFTER;
	size_t head = strlen(TS_REQ_FAST_START);
	struct derper_http_req r;
	size_t consumed;

	for (size_t n = 0; n < head; n++) {
		consumed = 12345;
		assert_int_equal(parse_n(in, n, &r, &consumed), DERPER_HTTP_INCOMPLETE);
		assert_int_equal(consumed, 0);
	}
	/* From the last byte of the head on, every length gives the same head. */
	for (size_t n = head; n <= sizeof(in) - 1; n++) {
		assert_int_equal(parse_n(in, n, &r, &consumed), 0);
		assert_int_equal(consumed, head);
		assert_true(r.fast_start);
	}
}

static void test_fast_start_needs_exactly_1(void **state)
{
	(void)state;
	struct derper_http_req r;

	r = must_parse(
		"GET /derp HTTP/1.1\r\nHost: h\r\nDerp-Fast-Start: true\r\nUpgrade: DERP\r\n\r\n");
	assert_false(r.fast_start);
	r = must_parse(
		"GET /derp HTTP/1.1\r\nHost: h\r\nderp-fast-start:   1  \r\nUpgrade: DERP\r\n\r\n");
	assert_true(r.fast_start);
	/* Go's Header.Get: the first of two. */
	r = must_parse("GET /derp HTTP/1.1\r\nHost: h\r\nDerp-Fast-Start: 0\r\nDerp-Fast-Start: "
		       "1\r\n\r\n");
	assert_false(r.fast_start);
}

static void test_query_and_absolute_form(void **state)
{
	(void)state;
	struct derper_http_req r;

	r = must_parse("GET /generate_204?x=1&y HTTP/1.1\r\nHost: h\r\n\r\n");
	assert_string_equal(r.path, "/generate_204");
	assert_string_equal(r.query, "x=1&y");
	r = must_parse("GET http://derp.example.com/derp/probe?a HTTP/1.1\r\nHost: h\r\n\r\n");
	assert_string_equal(r.path, "/derp/probe");
	assert_string_equal(r.query, "a");
	r = must_parse("GET http://derp.example.com HTTP/1.1\r\nHost: h\r\n\r\n");
	assert_string_equal(r.path, "/");
	r = must_parse("CONNECT derp.example.com:443 HTTP/1.1\r\n\r\n");
	assert_int_equal(r.method, DERPER_HTTP_METHOD_CONNECT);
	assert_string_equal(r.path, "");
	assert_int_equal(derper_http_route(&r), DERPER_ROUTE_NOT_FOUND);
	r = must_parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
	assert_string_equal(r.path, "*");
	assert_int_equal(r.method, DERPER_HTTP_METHOD_OTHER);
	assert_string_equal(r.method_name, "OPTIONS");
}

static void test_keep_alive(void **state)
{
	(void)state;
	assert_true(must_parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n").keep_alive);
	assert_false(
		must_parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").keep_alive);
	assert_false(must_parse("GET / HTTP/1.0\r\n\r\n").keep_alive);
	assert_true(must_parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
}

static void test_pipelined_requests(void **state)
{
	(void)state;
	static const char two[] = "GET /generate_204 HTTP/1.1\r\nHost: h\r\n\r\n"
				  "GET /derp/probe HTTP/1.1\r\nHost: h\r\n\r\n";
	struct derper_http_req r;
	size_t c1, c2;

	assert_int_equal(parse_n(two, sizeof(two) - 1, &r, &c1), 0);
	assert_string_equal(r.path, "/generate_204");
	assert_int_equal(parse_n(two + c1, sizeof(two) - 1 - c1, &r, &c2), 0);
	assert_string_equal(r.path, "/derp/probe");
	assert_int_equal(c1 + c2, sizeof(two) - 1);
}

static enum derper_route route_of(const char *s)
{
	struct derper_http_req r = must_parse(s);
	return derper_http_route(&r);
}

static void test_routes(void **state)
{
	(void)state;
	assert_int_equal(route_of(TS_REQ_UPGRADE), DERPER_ROUTE_DERP_UPGRADE);
	/* handler.go lowercases Upgrade and checks neither method nor Connection. */
	assert_int_equal(route_of("POST /derp HTTP/1.1\r\nHost: h\r\nUpgrade: derp\r\n\r\n"),
			 DERPER_ROUTE_DERP_UPGRADE);
	assert_int_equal(route_of("GET /derp HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\n\r\n"),
			 DERPER_ROUTE_DERP_WEBSOCKET);
	assert_int_equal(route_of("GET /derp HTTP/1.1\r\nHost: h\r\n\r\n"),
			 DERPER_ROUTE_DERP_NO_UPGRADE);
	assert_int_equal(route_of("GET /derp HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n\r\n"),
			 DERPER_ROUTE_DERP_NO_UPGRADE);
	assert_int_equal(route_of("GET /derp/probe HTTP/1.1\r\nHost: h\r\n\r\n"),
			 DERPER_ROUTE_PROBE);
	assert_int_equal(route_of("HEAD /derp/latency-check HTTP/1.1\r\nHost: h\r\n\r\n"),
			 DERPER_ROUTE_PROBE);
	assert_int_equal(route_of("POST /derp/probe HTTP/1.1\r\nHost: h\r\n\r\n"),
			 DERPER_ROUTE_PROBE_BAD_METHOD);
	assert_int_equal(route_of("DELETE /derp/latency-check HTTP/1.1\r\nHost: h\r\n\r\n"),
			 DERPER_ROUTE_PROBE_BAD_METHOD);
	assert_int_equal(route_of("GET /generate_204 HTTP/1.1\r\nHost: h\r\n\r\n"),
			 DERPER_ROUTE_GENERATE_204);
	assert_int_equal(route_of("POST /generate_204 HTTP/1.1\r\nHost: h\r\n\r\n"),
			 DERPER_ROUTE_GENERATE_204);
	assert_int_equal(route_of("GET /debug/metrics HTTP/1.1\r\nHost: h\r\n\r\n"),
			 DERPER_ROUTE_METRICS);
	assert_int_equal(route_of("GET /robots.txt HTTP/1.1\r\nHost: h\r\n\r\n"),
			 DERPER_ROUTE_ROBOTS);
	assert_int_equal(route_of("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), DERPER_ROUTE_HOME);
	assert_int_equal(route_of("GET /derp/ HTTP/1.1\r\nHost: h\r\n\r\n"),
			 DERPER_ROUTE_NOT_FOUND);
	assert_int_equal(route_of("GET /bootstrap-dns HTTP/1.1\r\nHost: h\r\n\r\n"),
			 DERPER_ROUTE_NOT_FOUND);
	assert_int_equal(derper_http_route(NULL), DERPER_ROUTE_INVALID);
	assert_string_equal(derper_route_name(DERPER_ROUTE_PROBE), "probe");
	assert_string_equal(derper_route_name(DERPER_ROUTE_INVALID), "invalid");
}

/* Checks a builder's exact bytes, then that every smaller cap gives 0
 * and writes nothing past what it returns. */
#define EXPECT_RESPONSE(want, call_with_buf_cap)                      \
	do {                                                          \
		uint8_t buf[4096];                                    \
		size_t cap = sizeof(buf);                             \
		size_t n = call_with_buf_cap;                         \
		assert_int_equal(n, strlen(want));                    \
		assert_memory_equal(buf, want, n);                    \
		for (cap = 0; cap < strlen(want); cap++) {            \
			memset(buf, 0x5a, sizeof(buf));               \
			assert_int_equal(call_with_buf_cap, 0);       \
			for (size_t i_ = cap; i_ < sizeof(buf); i_++) \
				assert_int_equal(buf[i_], 0x5a);      \
		}                                                     \
	} while (0)

static void test_101(void **state)
{
	(void)state;
	struct key32 pub;

	for (int i = 0; i < KEY_LEN; i++)
		pub.b[i] = (uint8_t)(0xf0 + (i & 0xf) - (i >> 4));
	/* handler.go's Fprintf, with derp.ProtocolVersion 2 and
	 * NodePublic.UntypedHexString. */
	EXPECT_RESPONSE("HTTP/1.1 101 Switching Protocols\r\n"
			"Upgrade: DERP\r\n"
			"Connection: Upgrade\r\n"
			"Derp-Version: 2\r\n"
			"Derp-Public-Key: "
			"f0f1f2f3f4f5f6f7f8f9fafbfcfdfeffeff0f1f2f3f4f5f6f7f8f9fafbfcfdfe\r\n"
			"\r\n",
			derper_http_101_derp(&pub, buf, cap));
	assert_int_equal(derper_http_101_derp(NULL, (uint8_t[256]){0}, 256), 0);
}

static void test_426(void **state)
{
	(void)state;
	struct derper_http_req r = must_parse("GET /derp HTTP/1.1\r\nHost: h\r\n\r\n");

	/* http.Error(w, "DERP requires connection upgrade", 426) */
	EXPECT_RESPONSE("HTTP/1.1 426 Upgrade Required\r\n"
			"Content-Type: text/plain; charset=utf-8\r\n"
			"X-Content-Type-Options: nosniff\r\n"
			"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
			"Content-Length: 33\r\n"
			"\r\n"
			"DERP requires connection upgrade\n",
			derper_http_426(&r, RFC_DATE_T, buf, cap));
}

static void test_probe_and_405(void **state)
{
	(void)state;
	struct derper_http_req get = must_parse("GET /derp/probe HTTP/1.1\r\nHost: h\r\n\r\n");
	struct derper_http_req head = must_parse("HEAD /derp/probe HTTP/1.1\r\nHost: h\r\n\r\n");
	struct derper_http_req post = must_parse("POST /derp/probe HTTP/1.1\r\nHost: h\r\n\r\n");

	EXPECT_RESPONSE("HTTP/1.1 200 OK\r\n"
			"Access-Control-Allow-Origin: *\r\n"
			"Content-Length: 0\r\n"
			"\r\n",
			derper_http_probe(&get, 0, buf, cap));
	EXPECT_RESPONSE("HTTP/1.1 200 OK\r\n"
			"Access-Control-Allow-Origin: *\r\n"
			"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
			"Content-Length: 0\r\n"
			"\r\n",
			derper_http_probe(&head, RFC_DATE_T, buf, cap));
	EXPECT_RESPONSE("HTTP/1.1 405 Method Not Allowed\r\n"
			"Content-Type: text/plain; charset=utf-8\r\n"
			"X-Content-Type-Options: nosniff\r\n"
			"Content-Length: 19\r\n"
			"\r\n"
			"bogus probe method\n",
			derper_http_405_probe(&post, 0, buf, cap));
}

#define CACHE_CONTROL \
	"Cache-Control: no-cache, no-store, must-revalidate, no-transform, max-age=0\r\n"

static void test_204_challenge(void **state)
{
	(void)state;
	struct derper_http_req r;

	r = must_parse("GET /generate_204 HTTP/1.1\r\nHost: h\r\n"
		       "X-Tailscale-Challenge: ts_abc-1.2:3\r\n\r\n");
	assert_string_equal(r.challenge, "ts_abc-1.2:3");
	EXPECT_RESPONSE("HTTP/1.1 204 No Content\r\n" CACHE_CONTROL
			"X-Tailscale-Response: response ts_abc-1.2:3\r\n"
			"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
			"\r\n",
			derper_http_204(&r, RFC_DATE_T, buf, cap));

	/* No challenge, a bad character, 65 bytes: no X-Tailscale-Response. */
	static const char *const without[] = {
		"GET /generate_204 HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /generate_204 HTTP/1.1\r\nHost: h\r\nX-Tailscale-Challenge: a/b\r\n\r\n",
		"GET /generate_204 HTTP/1.1\r\nHost: h\r\nX-Tailscale-Challenge: a b\r\n\r\n",
		("GET /generate_204 HTTP/1.1\r\nHost: h\r\nX-Tailscale-Challenge: "
		 "01234567890123456789012345678901234567890123456789012345678901234\r\n\r\n"),
	};
	for (size_t i = 0; i < sizeof(without) / sizeof(without[0]); i++) {
		r = must_parse(without[i]);
		EXPECT_RESPONSE("HTTP/1.1 204 No Content\r\n" CACHE_CONTROL "\r\n",
				derper_http_204(&r, 0, buf, cap));
	}
	/* Exactly 64 bytes is answered. */
	r = must_parse("GET /generate_204 HTTP/1.1\r\nHost: h\r\nX-Tailscale-Challenge: "
		       "0123456789012345678901234567890123456789012345678901234567890123\r\n\r\n");
	EXPECT_RESPONSE("HTTP/1.1 204 No Content\r\n" CACHE_CONTROL
			"X-Tailscale-Response: response "
			"0123456789012345678901234567890123456789012345678901234567890123\r\n"
			"\r\n",
			derper_http_204(&r, 0, buf, cap));
	/* Header.Get: the first of two, even when it is invalid. */
	r = must_parse("GET /generate_204 HTTP/1.1\r\nHost: h\r\nX-Tailscale-Challenge: a!\r\n"
		       "X-Tailscale-Challenge: ok\r\n\r\n");
	assert_false(derper_http_challenge_valid(r.challenge));
}

static void test_challenge_rule(void **state)
{
	(void)state;
	char s65[66];

	assert_true(derper_http_challenge_valid("abcXYZ019._-:"));
	assert_false(derper_http_challenge_valid(""));
	assert_false(derper_http_challenge_valid(NULL));
	assert_false(derper_http_challenge_valid("a b"));
	assert_false(derper_http_challenge_valid("a+b"));
	assert_false(derper_http_challenge_valid("caf\xc3\xa9"));
	memset(s65, 'a', 65);
	s65[65] = 0;
	assert_false(derper_http_challenge_valid(s65));
	s65[64] = 0;
	assert_true(derper_http_challenge_valid(s65));
}

static void test_404_500_robots(void **state)
{
	(void)state;
	struct derper_http_req r = must_parse("GET /nope HTTP/1.1\r\nHost: h\r\n\r\n");
	struct derper_http_req close =
		must_parse("GET /nope HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
	struct derper_http_req old =
		must_parse("GET /robots.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");

	EXPECT_RESPONSE("HTTP/1.1 404 Not Found\r\n"
			"Content-Type: text/plain; charset=utf-8\r\n"
			"X-Content-Type-Options: nosniff\r\n"
			"Content-Length: 19\r\n"
			"\r\n"
			"404 page not found\n",
			derper_http_404(&r, 0, buf, cap));
	EXPECT_RESPONSE("HTTP/1.1 500 Internal Server Error\r\n"
			"Content-Type: text/plain; charset=utf-8\r\n"
			"X-Content-Type-Options: nosniff\r\n"
			"Connection: close\r\n"
			"Content-Length: 22\r\n"
			"\r\n"
			"internal server error\n",
			derper_http_500(&close, 0, NULL, buf, cap));
	EXPECT_RESPONSE("HTTP/1.1 200 OK\r\n"
			"Content-Type: text/plain; charset=utf-8\r\n"
			"Connection: keep-alive\r\n"
			"Content-Length: 26\r\n"
			"\r\n"
			"User-agent: *\nDisallow: /\n",
			derper_http_robots(&old, 0, buf, cap));
	/* No request (e.g. before one was parsed): close. */
	EXPECT_RESPONSE("HTTP/1.1 404 Not Found\r\n"
			"Content-Type: text/plain; charset=utf-8\r\n"
			"X-Content-Type-Options: nosniff\r\n"
			"Connection: close\r\n"
			"Content-Length: 19\r\n"
			"\r\n"
			"404 page not found\n",
			derper_http_404(NULL, 0, buf, cap));
	/* http.Error's text is one line. */
	assert_int_equal(derper_http_error(&r, 0, 400, "a\r\nInjected: 1", (uint8_t[512]){0}, 512),
			 0);
}

static void test_home(void **state)
{
	(void)state;
	struct derper_http_req r = must_parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	struct derper_http_req head = must_parse("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n");
	uint8_t buf[2048], hbuf[2048];
	size_t n = derper_http_home(&r, 0, buf, sizeof(buf));
	size_t hn = derper_http_home(&head, 0, hbuf, sizeof(hbuf));
	const char *body;
	unsigned long clen;

	assert_true(n > 0 && n < sizeof(buf));
	buf[n] = 0;
	assert_memory_equal(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n",
			    56);
	body = strstr((char *)buf, "\r\n\r\n") + 4;
	assert_non_null(strstr((char *)buf, "Content-Length: "));
	clen = strtoul(strstr((char *)buf, "Content-Length: ") + 16, NULL, 10);
	assert_int_equal(clen, strlen(body));
	assert_non_null(strstr(body, "DERP"));
	/* HEAD: the same head, no body. */
	assert_int_equal(hn, (size_t)(body - (char *)buf));
	assert_memory_equal(hbuf, buf, hn);
}

static void test_generic_response(void **state)
{
	(void)state;
	struct derper_http_req r = must_parse("GET /debug/metrics HTTP/1.1\r\nHost: h\r\n\r\n");
	static const char metrics[] = "derp_accepts 3\n";
	uint8_t small[64];

	EXPECT_RESPONSE("HTTP/1.1 200 OK\r\n"
			"Content-Type: text/plain; version=0.0.4\r\n"
			"Cache-Control: no-store\r\n"
			"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
			"Content-Length: 15\r\n"
			"\r\n"
			"derp_accepts 3\n",
			derper_http_response(&r, RFC_DATE_T, 200, "text/plain; version=0.0.4",
					     (const uint8_t *)metrics, strlen(metrics),
					     "Cache-Control: no-store\r\n", buf, cap));
	EXPECT_RESPONSE("HTTP/1.1 403 Forbidden\r\n"
			"Content-Length: 0\r\n"
			"\r\n",
			derper_http_response(&r, 0, 403, NULL, NULL, 0, NULL, buf, cap));
	/* Refused: an unknown code, extra headers not in whole lines or holding
	 * an empty line, a content type with CRLF, a body pointer missing. */
	assert_int_equal(derper_http_response(&r, 0, 999, NULL, NULL, 0, NULL, small, 64), 0);
	assert_int_equal(derper_http_response(&r, 0, 299, NULL, NULL, 0, NULL, small, 64), 0);
	assert_int_equal(derper_http_response(&r, 0, 200, NULL, NULL, 0, "X: 1", small, 64), 0);
	assert_int_equal(
		derper_http_response(&r, 0, 200, NULL, NULL, 0, "X: 1\r\n\r\nY: 2\r\n", small, 64),
		0);
	assert_int_equal(derper_http_response(&r, 0, 200, NULL, NULL, 0, "\r\n", small, 64), 0);
	assert_int_equal(derper_http_response(&r, 0, 200, "a\r\nb", NULL, 0, NULL, small, 64), 0);
	assert_int_equal(derper_http_response(&r, 0, 200, NULL, NULL, 5, NULL, small, 64), 0);
}

static void test_bad_request_responses(void **state)
{
	(void)state;
	EXPECT_RESPONSE("HTTP/1.1 400 Bad Request\r\n"
			"Content-Type: text/plain; charset=utf-8\r\n"
			"Connection: close\r\n"
			"Content-Length: 55\r\n"
			"\r\n"
			"400 Bad Request: bare CR or LF (lines must end in CRLF)",
			derper_http_bad_request(DERPER_HTTP_E_LINE_ENDING, 0, buf, cap));
	EXPECT_RESPONSE("HTTP/1.1 431 Request Header Fields Too Large\r\n"
			"Content-Type: text/plain; charset=utf-8\r\n"
			"Connection: close\r\n"
			"Content-Length: 65\r\n"
			"\r\n"
			"431 Request Header Fields Too Large: request head over 8192 bytes",
			derper_http_bad_request(DERPER_HTTP_E_HEAD_TOO_LARGE, 0, buf, cap));
	uint8_t b[512];
	size_t n = derper_http_bad_request(DERPER_HTTP_E_VERSION, 0, b, sizeof(b));
	assert_true(n > 0);
	assert_memory_equal(b, "HTTP/1.1 505 HTTP Version Not Supported\r\n", 41);
	n = derper_http_bad_request(DERPER_HTTP_E_URI_TOO_LONG, 0, b, sizeof(b));
	assert_memory_equal(b, "HTTP/1.1 414 URI Too Long\r\n", 27);
	n = derper_http_bad_request(DERPER_HTTP_E_TOO_MANY_HEADERS, 0, b, sizeof(b));
	assert_memory_equal(b, "HTTP/1.1 431 ", 13);
	n = derper_http_bad_request(DERPER_HTTP_E_HEADER_TOO_LONG, 0, b, sizeof(b));
	assert_memory_equal(b, "HTTP/1.1 431 ", 13);
	n = derper_http_bad_request(DERPER_HTTP_E_NO_HOST, 0, b, sizeof(b));
	assert_memory_equal(b, "HTTP/1.1 400 ", 13);
}

/* Malformed heads built by code (the limits); the rest are rows of
 * refuse_rows below. */

static void test_refuse_head_over_limit(void **state)
{
	(void)state;
	/* A head of exactly DERPER_HTTP_MAX_HEAD_BYTES passes; one more does not. */
	static const char pre[] = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
	size_t fill = DERPER_HTTP_MAX_HEAD_BYTES - (sizeof(pre) - 1) - 4;
	char *s = malloc(DERPER_HTTP_MAX_HEAD_BYTES + 64);
	struct derper_http_req r;
	size_t consumed;

	assert_non_null(s);
	memcpy(s, pre, sizeof(pre) - 1);
	memset(s + sizeof(pre) - 1, 'p', fill);
	memcpy(s + sizeof(pre) - 1 + fill, "\r\n\r\n", 4);
	assert_int_equal(parse_n(s, DERPER_HTTP_MAX_HEAD_BYTES, &r, &consumed), 0);
	assert_int_equal(consumed, DERPER_HTTP_MAX_HEAD_BYTES);

	memset(s + sizeof(pre) - 1, 'p', fill + 1);
	memcpy(s + sizeof(pre) - 1 + fill + 1, "\r\n\r\n", 4);
	/* Not knowable until the limit is reached, then refused. */
	assert_int_equal(parse_n(s, DERPER_HTTP_MAX_HEAD_BYTES - 1, &r, &consumed),
			 DERPER_HTTP_INCOMPLETE);
	expect_refused("head at the limit + 1", s, DERPER_HTTP_MAX_HEAD_BYTES,
		       DERPER_HTTP_E_HEAD_TOO_LARGE, DERPER_HTTP_MAX_HEAD_BYTES);
	expect_refused("head over the limit, more bytes", s, DERPER_HTTP_MAX_HEAD_BYTES + 1,
		       DERPER_HTTP_E_HEAD_TOO_LARGE, DERPER_HTTP_MAX_HEAD_BYTES);
	free(s);
}

static void test_refuse_too_many_headers(void **state)
{
	(void)state;
	char s[4096];
	size_t n = 0, at = 0;
	struct derper_http_req r;

	n += (size_t)sprintf(s + n, "GET / HTTP/1.1\r\nHost: h\r\n");
	for (int i = 1; i < DERPER_HTTP_MAX_HEADERS; i++)
		n += (size_t)sprintf(s + n, "X-%d: v\r\n", i);
	strcpy(s + n, "\r\n");
	r = must_parse(s);
	assert_int_equal(r.nheaders, DERPER_HTTP_MAX_HEADERS);
	at = n;
	n += (size_t)sprintf(s + n, "X-last: v\r\n\r\n");
	expect_refused("too many headers", s, n, DERPER_HTTP_E_TOO_MANY_HEADERS, at);
}

static void test_refuse_header_over_limit(void **state)
{
	(void)state;
	char s[1024], host[DERPER_HTTP_HOST_MAX_BYTES + 2];
	struct derper_http_req r;

	memset(host, 'h', sizeof(host) - 1);
	host[DERPER_HTTP_HOST_MAX_BYTES] = 0;
	snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host);
	r = must_parse(s);
	assert_int_equal(strlen(r.host), DERPER_HTTP_HOST_MAX_BYTES);
	host[DERPER_HTTP_HOST_MAX_BYTES] = 'h';
	host[DERPER_HTTP_HOST_MAX_BYTES + 1] = 0;
	snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", host);
	expect_refused("Host too long", s, strlen(s), DERPER_HTTP_E_HEADER_TOO_LONG,
		       22 + DERPER_HTTP_HOST_MAX_BYTES);
	/* Ideal-Node is informative: a long one is dropped, not refused. */
	r = must_parse("GET /derp HTTP/1.1\r\nHost: h\r\nIdeal-Node: "
		       "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\r\n\r\n");
	assert_string_equal(r.ideal_node, "");
	/* ... but it was sent: the client is not on its ideal node. */
	assert_true(r.has_ideal_node);
	/* Empty (after trimming, as Go's Header.Get) is not sent. */
	r = must_parse("GET /derp HTTP/1.1\r\nHost: h\r\nIdeal-Node:   \r\n\r\n");
	assert_false(r.has_ideal_node);
}

static void test_refuse_uri_too_long(void **state)
{
	(void)state;
	char s[2048];
	size_t n;

	n = (size_t)sprintf(s, "GET /");
	memset(s + n, 'u', DERPER_HTTP_TARGET_MAX_BYTES - 1);
	n += DERPER_HTTP_TARGET_MAX_BYTES - 1;
	n += (size_t)sprintf(s + n, " HTTP/1.1\r\nHost: h\r\n\r\n");
	assert_int_equal(strlen(must_parse(s).path), DERPER_HTTP_TARGET_MAX_BYTES);
	memmove(s + 5, s + 4, n - 4 + 1);
	expect_refused("target too long", s, n + 1, DERPER_HTTP_E_URI_TOO_LONG,
		       4 + DERPER_HTTP_TARGET_MAX_BYTES);
}

/* Beside the "body" rows of refuse_rows: Content-Length: 0 is no body. */
static void test_content_length_0_is_no_body(void **state)
{
	(void)state;
	must_parse("POST /generate_204 HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n");
}

/* Malformed heads written out whole: one row each, {name, bytes, the
 * code, the offset it is reported at}. Those built by code (the limits)
 * are the test_refuse_* functions above. */
#define ROW(name, lit, want, at)                     \
	{                                            \
		name, lit, sizeof(lit) - 1, want, at \
	}

static const struct {
	const char *name;
	const char *head;
	size_t len;
	int want;
	size_t at;
} refuse_rows[] = {
	ROW("garbage 1", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", DERPER_HTTP_E_METHOD, 0),
	ROW("garbage 2", "hello world\r\n\r\n", DERPER_HTTP_E_METHOD, 0),
	ROW("garbage 3", "\r\n\r\n", DERPER_HTTP_E_SYNTAX, 4),
	ROW("garbage 4", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", DERPER_HTTP_E_SYNTAX, 7),
	ROW("http09", "GET /\r\n\r\n", DERPER_HTTP_E_VERSION, 9),
	ROW("http2 1", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", DERPER_HTTP_E_VERSION, 27),
	/* The HTTP/2 connection preface: http_parser knows no PRI method. */
	ROW("http2 2", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", DERPER_HTTP_E_METHOD, 2),
	ROW("bad version syntax", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", DERPER_HTTP_E_SYNTAX, 14),
	ROW("bare lf 1", "GET / HTTP/1.1\nHost: h\n\n", DERPER_HTTP_E_LINE_ENDING, 14),
	ROW("bare lf 2", "GET / HTTP/1.1\r\nHost: h\n\r\n", DERPER_HTTP_E_LINE_ENDING, 23),
	ROW("bare cr", "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", DERPER_HTTP_E_LINE_ENDING, 24),
	ROW("nul 1", "GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n", DERPER_HTTP_E_CONTROL_BYTE,
	    29),
	ROW("nul 2", "GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n", DERPER_HTTP_E_CONTROL_BYTE, 5),
	ROW("control byte 1", "GET / HTTP/1.1\r\nHost: h\x01\r\n\r\n", DERPER_HTTP_E_CONTROL_BYTE,
	    23),
	ROW("control byte 2", "GET / HTTP/1.1\r\nHost: h\r\nX\x7f: y\r\n\r\n",
	    DERPER_HTTP_E_CONTROL_BYTE, 26),
	/* RFC 9112 5.1: no whitespace between name and colon. */
	ROW("header name 1", "GET / HTTP/1.1\r\nHost: h\r\nX : y\r\n\r\n",
	    DERPER_HTTP_E_HEADER_NAME, 26),
	ROW("header name 2", "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n",
	    DERPER_HTTP_E_HEADER_NAME, 32),
	ROW("header name 3", "GET / HTTP/1.1\r\nHost: h\r\n: empty\r\n\r\n",
	    DERPER_HTTP_E_HEADER_NAME, 25),
	ROW("obs fold 1", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n folded\r\n\r\n",
	    DERPER_HTTP_E_OBS_FOLD, 31),
	ROW("obs fold 2", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", DERPER_HTTP_E_OBS_FOLD, 16),
	ROW("no host", "GET /derp HTTP/1.1\r\nUpgrade: DERP\r\n\r\n", DERPER_HTTP_E_NO_HOST, 37),
	ROW("dup host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", DERPER_HTTP_E_DUP_HOST, 29),
	ROW("transfer encoding", "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
	    DERPER_HTTP_E_TRANSFER_ENCODING, 51),
	ROW("content length 1",
	    "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
	    DERPER_HTTP_E_CONTENT_LENGTH, 60),
	ROW("content length 2", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n",
	    DERPER_HTTP_E_CONTENT_LENGTH, 41),
	/* http_parser_parse_url checks the port; the parser does not. */
	ROW("bad url 1", "GET http://x:99999/ HTTP/1.1\r\nHost: h\r\n\r\n", DERPER_HTTP_E_URL, 41),
	ROW("bad url 2", "GET http:/x HTTP/1.1\r\nHost: h\r\n\r\n", DERPER_HTTP_E_URL, 10),
	ROW("body 1",
	    "POST /derp HTTP/1.1\r\nHost: h\r\nUpgrade: DERP\r\nContent-Length: 5\r\n\r\nhello",
	    DERPER_HTTP_E_BODY, 66),
	ROW("body 2", "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx", DERPER_HTTP_E_BODY,
	    46),
	ROW("body 3", "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	    DERPER_HTTP_E_BODY, 55),
	/* Upgrade over its limit: 65 bytes (Host: test_refuse_header_over_limit). */
	ROW("upgrade too long",
	    "GET /derp HTTP/1.1\r\nHost: h\r\nUpgrade: "
	    "DERPDERPDERPDERPDERPDERPDERPDERPDERPDERPDERPDERPDERPDERPDERPDERPX\r\n\r\n",
	    DERPER_HTTP_E_HEADER_TOO_LONG, 102),
};

static void test_refuse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(refuse_rows) / sizeof(refuse_rows[0]); i++)
		expect_refused(refuse_rows[i].name, refuse_rows[i].head, refuse_rows[i].len,
			       refuse_rows[i].want, refuse_rows[i].at);
}

static void test_args(void **state)
{
	(void)state;
	struct derper_http_req r;
	size_t c;

	assert_int_equal(derper_http_parse(NULL, 3, &r, &c), DERPER_HTTP_E_ARG);
	assert_int_equal(derper_http_parse((const uint8_t *)"GET", 3, NULL, &c), DERPER_HTTP_E_ARG);
	assert_int_equal(derper_http_parse((const uint8_t *)"GET", 3, &r, NULL), DERPER_HTTP_E_ARG);
	assert_int_equal(derper_http_parse(NULL, 0, &r, &c), DERPER_HTTP_INCOMPLETE);
	for (int rc = DERPER_HTTP_E_ARG; rc <= DERPER_HTTP_INCOMPLETE; rc++)
		assert_string_not_equal(derper_http_strerror(rc), "unknown derper_http result");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tailscale_upgrade_request),
		cmocka_unit_test(test_tailscale_fast_start_leaves_derp_bytes),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_fast_start_needs_exactly_1),
		cmocka_unit_test(test_query_and_absolute_form),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_pipelined_requests),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_101),
		cmocka_unit_test(test_426),
		cmocka_unit_test(test_probe_and_405),
		cmocka_unit_test(test_204_challenge),
		cmocka_unit_test(test_challenge_rule),
		cmocka_unit_test(test_404_500_robots),
		cmocka_unit_test(test_home),
		cmocka_unit_test(test_generic_response),
		cmocka_unit_test(test_bad_request_responses),
		cmocka_unit_test(test_refuse_head_over_limit),
		cmocka_unit_test(test_refuse_too_many_headers),
		cmocka_unit_test(test_refuse_header_over_limit),
		cmocka_unit_test(test_refuse_uri_too_long),
		cmocka_unit_test(test_content_length_0_is_no_body),
		cmocka_unit_test(test_refuse_table),
		cmocka_unit_test(test_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

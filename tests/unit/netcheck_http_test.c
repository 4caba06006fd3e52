/* netcheck http: the response-head parser of the HTTP probes (valid heads
 * as msock-derper and Tailscale's derper send them, and every malformed
 * case), and one real probe against a listening socket on loopback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "nc_http.h"

static int parse(const char *s, struct nc_http_head *h, const char **why)
{
	return nc_http_parse_head(s, strlen(s), h, why);
}

static void test_generate_204(void **state)
{
	(void)state;
	struct nc_http_head h;
	const char *why = 0;

	assert_int_equal(parse("HTTP/1.1 204 No Content\r\n"
			       "X-Tailscale-Response: response ts_derp.lab.test\r\n"
			       "Date: Wed, 02 Dec 2026 14:00:00 GMT\r\n\r\n",
			       &h, &why),
			 0);
	assert_int_equal(h.status, 204);
	assert_string_equal(h.ts_response, "response ts_derp.lab.test");
}

static void test_header_name_case_and_spaces(void **state)
{
	(void)state;
	struct nc_http_head h;
	const char *why = 0;

	assert_int_equal(parse("HTTP/1.0 200\r\nx-tailscale-response:\t  abc  \r\n\r\n", &h, &why),
			 0);
	assert_int_equal(h.status, 200);
	assert_string_equal(h.ts_response, "abc");
	assert_int_equal(parse("HTTP/1.1 302 Found\r\nLocation: http://portal/\r\n\r\n", &h, &why),
			 0);
	assert_int_equal(h.status, 302);
	assert_string_equal(h.ts_response, "");
}

/* One test per malformed shape: each is refused with its reason. */
static void test_malformed(void **state)
{
	(void)state;
	static const struct {
		const char *head, *why;
	} cases[] = {
		{"HTTP/1.1 204 No Content\r\n", "the head does not end with an empty line"},
		{"", "the head does not end with an empty line"},
		{"HTTP/1.1 204 OK\n\r\n\r\n", "a line does not end with CRLF"},
		{"HTTP/2 204 OK\r\n\r\n", "the status line is not HTTP/1.x NNN"},
		{"HTTP/1.1 20 OK\r\n\r\n", "the status line is not HTTP/1.x NNN"},
		{"HTTP/1.1 699 OK\r\n\r\n", "the status line is not HTTP/1.x NNN"},
		{"HTTP/1.1 2040 OK\r\n\r\n", "the status line is not HTTP/1.x NNN"},
		{"SSH-2.0-OpenSSH\r\n\r\n", "the status line is not HTTP/1.x NNN"},
		{"HTTP/1.1 204 OK\r\nNoColon\r\n\r\n", "a header line without a colon"},
		{"HTTP/1.1 204 OK\r\nA: b\r\n folded\r\n\r\n",
		 "a folded header line (obsolete, RFC 9112 section 5.2)"},
		{"HTTP/1.1 204 OK\r\n\r\nbody\r\n\r\n", "bytes after the empty line"},
	};
	struct nc_http_head h;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *why = 0;
		assert_int_equal(parse(cases[i].head, &h, &why), -EINVAL);
		assert_string_equal(why, cases[i].why);
	}
}

static void test_nul_and_long_response(void **state)
{
	(void)state;
	struct nc_http_head h;
	const char *why = 0;
	char buf[512];
	const char nul[] = "HTTP/1.1 204 OK\r\nA: x\0y\r\n\r\n";

	assert_int_equal(nc_http_parse_head(nul, sizeof(nul) - 1, &h, &why), -EINVAL);
	assert_string_equal(why, "a NUL byte in the head");
	snprintf(buf, sizeof(buf), "HTTP/1.1 204 OK\r\nX-Tailscale-Response: %0200d\r\n\r\n", 0);
	assert_int_equal(parse(buf, &h, &why), -EINVAL);
	assert_string_equal(why, "X-Tailscale-Response is too long");
}

/* A plain-HTTP probe against a socket that answers like a derper. */
static void test_probe_on_loopback(void **state)
{
	(void)state;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int ls = socket(AF_INET, SOCK_STREAM, 0), cs = -1;
	struct ipport to = {.family = AF_INET, .ip = {127, 0, 0, 1}};
	static struct nc_http h;
	char req[1024];
	size_t got = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 1), 0);
	getsockname(ls, (struct sockaddr *)&sa, &sl);
	to.port = ntohs(sa.sin_port);
	assert_int_equal(nc_http_start(&h, 0, false, 0, &to, "derp.lab.test", "/generate_204",
				       "ts_derp.lab.test", clock_mono_ns()),
			 0);
	for (int i = 0; i < 200 && !nc_http_finished(&h); i++) {
		struct pollfd p[2] = {{.fd = nc_http_fd(&h), .events = nc_http_events(&h)},
				      {.fd = cs < 0 ? ls : cs, .events = POLLIN}};
		poll(p, 2, 50);
		if (cs < 0 && (p[1].revents & POLLIN)) {
			cs = accept(ls, 0, 0);
		} else if (cs >= 0 && (p[1].revents & POLLIN)) {
			ssize_t n = read(cs, req + got, sizeof(req) - 1 - got);
			if (n > 0) {
				got += (size_t)n;
				req[got] = 0;
			}
			if (strstr(req, "\r\n\r\n")) {
				const char *resp =
					"HTTP/1.1 204 No Content\r\nX-Tailscale-Response: "
					"response ts_derp.lab.test\r\n\r\n";
				assert_int_equal(write(cs, resp, strlen(resp)),
						 (ssize_t)strlen(resp));
			}
		}
		nc_http_step(&h, clock_mono_ns());
	}
	assert_int_equal(h.st, NC_HTTP_DONE);
	assert_int_equal(h.resp.status, 204);
	assert_string_equal(h.resp.ts_response, "response ts_derp.lab.test");
	assert_non_null(strstr(req, "GET /generate_204 HTTP/1.1\r\nHost: derp.lab.test\r\n"));
	assert_non_null(strstr(req, "X-Tailscale-Challenge: ts_derp.lab.test\r\n"));
	assert_true(h.total_ns >= h.rtt_ns);
	close(cs);
	close(ls);
}

/* Nothing listens: the probe fails with the reason, never hangs. */
static void test_probe_refused(void **state)
{
	(void)state;
	static struct nc_http h;
	struct ipport to = {.family = AF_INET, .ip = {127, 0, 0, 1}, .port = 1};

	nc_http_start(&h, 0, false, 0, &to, "x", "/derp/latency-check", 0, clock_mono_ns());
	for (int i = 0; i < 100 && !nc_http_finished(&h); i++) {
		struct pollfd p = {.fd = nc_http_fd(&h), .events = nc_http_events(&h)};
		poll(&p, 1, 50);
		nc_http_step(&h, clock_mono_ns());
	}
	assert_int_equal(h.st, NC_HTTP_FAILED);
	assert_non_null(strstr(h.error, "connect"));
	/* Bad host names never reach the wire. */
	assert_true(nc_http_start(&h, 0, false, 0, &to, "a b", "/", 0, 0) < 0);
	assert_int_equal(h.st, NC_HTTP_FAILED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_204),
		cmocka_unit_test(test_header_name_case_and_spaces),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_nul_and_long_response),
		cmocka_unit_test(test_probe_on_loopback),
		cmocka_unit_test(test_probe_refused),
	};
	return cmocka_run_group_tests(tests, 0, 0);
}

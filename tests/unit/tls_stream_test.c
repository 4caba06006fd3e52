/* tls_stream_test: a client's TLS handshake (lib/tls_stream.h) against what
 * the other end of a socket pair answers to its ClientHello: plain HTTP
 * (whole, or a byte at a time) is named as such; a TLS alert and other
 * bytes fail as any handshake does. And the client context of the DERP and
 * netcheck processes (tls_client_ctx_new). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls_stream.h"

struct pair {
	SSL_CTX *ctx;
	struct tls_stream io; /* the client, on sv[0] */
	int sv[2];	      /* sv[1]: the "server", written by the test */
};

static int setup(void **state)
{
	static struct pair p;

	memset(&p, 0, sizeof(p));
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, p.sv) < 0 ||
	    fcntl(p.sv[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(p.sv[1], F_SETFL, O_NONBLOCK) < 0)
		return -1;
	p.ctx = SSL_CTX_new(TLS_client_method());
	p.io.fd = p.sv[0];
	p.io.ssl = p.ctx ? SSL_new(p.ctx) : 0;
	if (!p.io.ssl || SSL_set_fd(p.io.ssl, p.sv[0]) != 1)
		return -1;
	SSL_set_connect_state(p.io.ssl);
	*state = &p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	SSL_free(p->io.ssl);
	SSL_CTX_free(p->ctx);
	close(p->sv[0]);
	close(p->sv[1]);
	return 0;
}

/* Drives the handshake once; *want_write must say "wait to read". */
static int step(struct pair *p)
{
	bool ww = true;
	int r = tls_stream_handshake(&p->io, &ww);

	if (r == 0)
		assert_false(ww);
	return r;
}

/* The ClientHello goes out; the "server" reads it and answers `ans`. */
static void hello_then(struct pair *p, const char *ans, size_t len)
{
	uint8_t hello[4096];

	assert_int_equal(step(p), 0);
	assert_true(read(p->sv[1], hello, sizeof(hello)) > 0);
	assert_int_equal(hello[0], 0x16); /* a handshake record */
	assert_int_equal(write(p->sv[1], ans, len), (ssize_t)len);
}

static const struct {
	const char *name, *ans;
	size_t len;
	int want;
} answers[] = {
#define T(name, ans, want)                       \
	{                                        \
		name, ans, sizeof(ans) - 1, want \
	}
	/* What msock-derper and Go's net/http answer to a ClientHello on a
	 * plain HTTP port. */
	T("msock-derper's 400",
	  "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
	  "Connection: close\r\n\r\n400 Bad Request",
	  TLS_STREAM_HS_PLAIN_HTTP),
	T("Go's 400", "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n",
	  TLS_STREAM_HS_PLAIN_HTTP),
	T("HTTP/1.0", "HTTP/1.0 400 Bad Request\r\n\r\n", TLS_STREAM_HS_PLAIN_HTTP),
	/* A TLS server's fatal alert (handshake_failure): its own failure. */
	T("TLS alert", "\x15\x03\x03\x00\x02\x02\x28", TLS_STREAM_HS_FAILED),
	/* Not TLS, not HTTP either. */
	T("SSH banner", "SSH-2.0-OpenSSH_9.2\r\n", TLS_STREAM_HS_FAILED),
	T("lower-case http", "http/1.1 400 Bad Request\r\n\r\n", TLS_STREAM_HS_FAILED),
	T("HTTP without the slash", "HTTP 400\r\n\r\n", TLS_STREAM_HS_FAILED),
#undef T
};

static void test_answers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		void *st;
		assert_int_equal(setup(&st), 0);
		print_message("%s\n", answers[i].name);
		hello_then(st, answers[i].ans, answers[i].len);
		assert_int_equal(step(st), answers[i].want);
		teardown(&st);
	}
}

/* "HTTP/" a byte at a time: undecided (in progress) until it is whole. */
static void test_http_in_pieces(void **state)
{
	struct pair *p = *state;
	const char *rest = "TTP/1.1 400 Bad Request\r\n\r\n";

	hello_then(p, "H", 1);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(step(p), 0);
		assert_int_equal(write(p->sv[1], rest + i, 1), 1);
	}
	assert_int_equal(step(p), TLS_STREAM_HS_PLAIN_HTTP);
}

/* A fast server's answer read in the same SSL_do_handshake call that sent
 * the ClientHello (it is there before the call). */
static void test_http_within_the_first_call(void **state)
{
	struct pair *p = *state;
	const char ans[] = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";

	assert_int_equal(write(p->sv[1], ans, sizeof(ans) - 1), (ssize_t)sizeof(ans) - 1);
	assert_int_equal(step(p), TLS_STREAM_HS_PLAIN_HTTP);
}

/* Nothing answered yet: in progress; the server closing: a failure. */
static void test_silence_then_close(void **state)
{
	struct pair *p = *state;
	uint8_t hello[4096];

	assert_int_equal(step(p), 0);
	assert_int_equal(step(p), 0);
	assert_true(read(p->sv[1], hello, sizeof(hello)) > 0);
	shutdown(p->sv[1], SHUT_WR);
	assert_int_equal(step(p), TLS_STREAM_HS_FAILED);
}

static void test_client_ctx(void **state)
{
	(void)state;
	char err[256] = "";
	char path[] = "/tmp/tls_stream_test-XXXXXX";
	SSL_CTX *ctx;
	int fd;

	ctx = tls_client_ctx_new(NULL, err, sizeof(err));
	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	assert_int_equal(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_NONE); /* set per SSL */
	SSL_CTX_free(ctx);
	assert_non_null(ctx = tls_client_ctx_new("", err, sizeof(err)));
	SSL_CTX_free(ctx);
	/* A CA file that holds no certificate is refused, named. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not PEM\n", 8), 8);
	close(fd);
	assert_null(tls_client_ctx_new(path, err, sizeof(err)));
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "cannot load it as PEM certificates"));
	unlink(path);
	assert_null(tls_client_ctx_new("/nonexistent/ca.pem", NULL, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_client_ctx),
		cmocka_unit_test_setup_teardown(test_http_in_pieces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_within_the_first_call, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silence_then_close, setup, teardown),
	};

	return cmocka_run_group_tests(tests, 0, 0);
}

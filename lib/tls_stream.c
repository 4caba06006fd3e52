/* tls_stream: see tls_stream.h. */
#include "tls_stream.h"

#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errbuf.h"

static int clamp(size_t n)
{
	return n > INT_MAX ? INT_MAX : (int)n;
}

long tls_stream_read(struct tls_stream *s, void *p, size_t n)
{
	if (s->ssl) {
		int r = SSL_read(s->ssl, p, clamp(n));
		if (r > 0)
			return r;
		switch (SSL_get_error(s->ssl, r)) {
		case SSL_ERROR_WANT_READ:
			return TLS_STREAM_AGAIN;
		case SSL_ERROR_WANT_WRITE:
			s->read_wants_write = true;
			return TLS_STREAM_AGAIN;
		case SSL_ERROR_ZERO_RETURN:
			return TLS_STREAM_EOF;
		default:
			ERR_clear_error();
			return -EPROTO;
		}
	}
	ssize_t r = recv(s->fd, p, n, 0);
	if (r >= 0)
		return r;
	return errno == EAGAIN || errno == EWOULDBLOCK ? TLS_STREAM_AGAIN : -errno;
}

long tls_stream_write(struct tls_stream *s, const void *p, size_t n)
{
	if (s->ssl) {
		int r = SSL_write(s->ssl, p, clamp(n));
		if (r > 0)
			return r;
		switch (SSL_get_error(s->ssl, r)) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			return TLS_STREAM_AGAIN;
		default:
			ERR_clear_error();
			return -EPIPE;
		}
	}
	ssize_t r = send(s->fd, p, n, MSG_NOSIGNAL);
	if (r >= 0)
		return r;
	return errno == EAGAIN || errno == EWOULDBLOCK ? TLS_STREAM_AGAIN : -errno;
}

/* A client's handshake watches the socket BIO's reads for the server's
 * first bytes: a TLS record starts with its content type (20-24), an HTTP
 * answer with "HTTP/". OpenSSL itself would only say "wrong version
 * number". The callback is set only for the length of one
 * SSL_do_handshake, so the BIO never holds a pointer to s beyond it. */
static long on_read(BIO *b, int oper, const char *argp, size_t len, int argi, long argl, int ret,
		    size_t *processed)
{
	struct tls_stream *s = (struct tls_stream *)BIO_get_callback_arg(b);
	size_t n;

	(void)len;
	(void)argi;
	(void)argl;
	if (oper != (BIO_CB_READ | BIO_CB_RETURN) || ret <= 0 || !processed)
		return ret;
	n = *processed < sizeof(s->first) - s->n_first ? *processed : sizeof(s->first) - s->n_first;
	memcpy(s->first + s->n_first, argp, n);
	s->n_first += (uint8_t)n;
	return ret;
}

static bool first_is_http(const struct tls_stream *s)
{
	return s->n_first == sizeof(s->first) && memcmp(s->first, "HTTP/", sizeof(s->first)) == 0;
}

int tls_stream_handshake(struct tls_stream *s, bool *want_write)
{
	BIO *rb = SSL_is_server(s->ssl) ? 0 : SSL_get_rbio(s->ssl);
	int r;

	*want_write = false;
	if (rb && !BIO_get_callback_ex(rb)) {
		BIO_set_callback_arg(rb, (char *)s);
		BIO_set_callback_ex(rb, on_read);
	} else {
		rb = 0;
	}
	r = SSL_do_handshake(s->ssl);
	if (rb) {
		BIO_set_callback_ex(rb, 0);
		BIO_set_callback_arg(rb, 0);
	}
	if (r == 1)
		return 1;
	switch (SSL_get_error(s->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return 0;
	case SSL_ERROR_WANT_WRITE:
		*want_write = true;
		return 0;
	default:
		ERR_clear_error();
		return first_is_http(s) ? TLS_STREAM_HS_PLAIN_HTTP : TLS_STREAM_HS_FAILED;
	}
}

SSL_CTX *tls_client_ctx_new(const char *ca_file, char *err, size_t errcap)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		errbuf_set(err, errcap, "cannot make a TLS client context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (access(TLS_SYSTEM_CA_BUNDLE, R_OK) == 0)
		SSL_CTX_load_verify_locations(ctx, TLS_SYSTEM_CA_BUNDLE, 0);
	if (ca_file && ca_file[0] && SSL_CTX_load_verify_locations(ctx, ca_file, 0) != 1) {
		ERR_clear_error();
		errbuf_set(err, errcap, "derp_ca_file %s: cannot load it as PEM certificates",
			   ca_file);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

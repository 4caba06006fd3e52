/* tls_stream: see tls_stream.h. */
#include "tls_stream.h"

#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <sys/socket.h>

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

int tls_stream_handshake(struct tls_stream *s, bool *want_write)
{
	int r = SSL_do_handshake(s->ssl);

	*want_write = false;
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
		return -1;
	}
}

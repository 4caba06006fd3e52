/* tls_stream: a non-blocking byte stream over a socket, with or without
 * TLS (OpenSSL), for event loops: each call does what it can and says
 * whether it would block. Used by msock-derper (server side) and the DERP
 * client (lib/derp/derp_client.c); and the one client context of the DERP
 * and netcheck processes (tls_client_ctx_new). */
#ifndef MSOCK_TLS_STREAM_H
#define MSOCK_TLS_STREAM_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tls_stream {
	int fd;
	SSL *ssl;	       /* NULL: plain TCP */
	bool read_wants_write; /* TLS: the last read needs the socket writable */
	/* Client handshake: the server's first bytes (tls_stream_handshake) */
	uint8_t first[5];
	uint8_t n_first;
};

enum {
	TLS_STREAM_AGAIN = -11, /* would block (-EAGAIN) */
	TLS_STREAM_EOF = 0,
	/* tls_stream_handshake's failures */
	TLS_STREAM_HS_FAILED = -1,
	TLS_STREAM_HS_PLAIN_HTTP = -2,
};

/* Bytes read (> 0), TLS_STREAM_EOF, TLS_STREAM_AGAIN, or another -errno. */
long tls_stream_read(struct tls_stream *s, void *p, size_t n);
/* Bytes written (> 0), TLS_STREAM_AGAIN, or -errno. */
long tls_stream_write(struct tls_stream *s, const void *p, size_t n);
/* Drives the TLS handshake (accept or connect, as SSL was set up): 1 done,
 * 0 in progress (*want_write says which way to wait), TLS_STREAM_HS_FAILED,
 * or (connect only) TLS_STREAM_HS_PLAIN_HTTP: the server answered our
 * ClientHello with "HTTP/" where a TLS record belongs (a plain HTTP server
 * answering 400 to what it read as a request). */
int tls_stream_handshake(struct tls_stream *s, bool *want_write);

/* The system's trusted roots: Debian's ca-certificates bundle. */
#define TLS_SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

/* A client context, TLS 1.2 or newer, that verifies servers against
 * TLS_SYSTEM_CA_BUNDLE (when readable: a test host may have none) and,
 * if ca_file is set and not empty, the PEM certificates in it (the
 * config's derp_ca_file, MSOCK_CA_FILE). Call before the sandbox: it
 * reads files. Caller frees with SSL_CTX_free; NULL with err filled. */
SSL_CTX *tls_client_ctx_new(const char *ca_file, char *err, size_t errcap);

#endif

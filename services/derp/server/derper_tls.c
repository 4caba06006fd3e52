/* derper_tls: see derper_tls.h. TLS 1.2 or newer (Tailscale's clients use
 * Go's crypto/tls, which speaks 1.3); buffers released when idle, so an idle
 * client costs little; no renegotiation. */
#include "derper_tls.h"

#include <openssl/err.h>

#include "errbuf.h"

static void tls_err(const char *what, const char *file, char *err, size_t errcap)
{
	char buf[256];

	ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
	errbuf_set(err, errcap, "%s %s: %s", what, file, buf);
	ERR_clear_error();
}

SSL_CTX *derper_tls_new(const char *cert_file, const char *key_file, char *err, size_t errcap)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx) {
		tls_err("TLS context", "", err, errcap);
		return 0;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		tls_err("certificate", cert_file, err, errcap);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		tls_err("private key", key_file, err, errcap);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_err("key does not match certificate", key_file, err, errcap);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return 0;
}

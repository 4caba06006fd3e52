/* derper_tls: the server's TLS context (OpenSSL) from a certificate and key
 * in PEM files, as `-certmode manual -certdir DIR -hostname NAME` names
 * them: DIR/NAME.crt and DIR/NAME.key. */
#ifndef MSOCK_DERPER_TLS_H
#define MSOCK_DERPER_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

/* Caller frees with SSL_CTX_free. On error returns NULL with err set. */
SSL_CTX *derper_tls_new(const char *cert_file, const char *key_file, char *err, size_t errcap);

#endif

/* tls_certname: how a client checks a DERP server's certificate from its
 * DERP map node, as Tailscale's derphttp client does (derp/derphttp
 * tlsClient; net/tlsdial SetConfigExpectedCert, SetConfigExpectedCertHash):
 *
 * - SNI is the node's HostName, none for an IP literal (RFC 6066 s3, Go's
 *   crypto/tls).
 * - CertName "sha256-raw:<64 lowercase hex>" pins the server's one
 *   certificate by the SHA-256 of its DER, with no CA: what Tailscale's
 *   derper logs for a self-signed -hostname <IP>. The "derpkey<hex>" meta
 *   certificate Tailscale's derper appends is skipped; the certificate must
 *   be in its validity period and, for a DNS HostName, name it.
 * - Any other CertName is the name the chain must be valid for instead of
 *   HostName (domain fronting); SNI and Host stay HostName.
 * - No CertName: the chain must be valid for HostName. */
#ifndef MSOCK_TLS_CERTNAME_H
#define MSOCK_TLS_CERTNAME_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

enum {
	TLS_CERT_SHA256_BYTES = 32,
	TLS_CERTNAME_MAX = 256, /* a DNS name (253) + NUL, rounded up */
};

#define TLS_CERTNAME_PIN_PREFIX	 "sha256-raw:"
#define TLS_CERTNAME_META_PREFIX "derpkey" /* derpconst.MetaCertCommonNamePrefix */

struct tls_certname {
	bool pinned;
	uint8_t sha256[TLS_CERT_SHA256_BYTES]; /* pinned */
	char verify[TLS_CERTNAME_MAX];	       /* not pinned: the name to verify; "" = HostName */
};

/* Reads a node's CertName ("" or NULL: none). 0, or -EINVAL for a pin that
 * is not 64 lowercase hex digits (Tailscale compares the hex text, so it
 * would never match) or a name too long. */
int tls_certname_parse(const char *cert_name, struct tls_certname *out);

/* Sets up a client SSL before its handshake for host_name (the node's
 * HostName) and cn: SNI, and what OpenSSL verifies (nothing when insecure,
 * InsecureForTests; for a pin nothing either: tls_certname_check decides
 * after the handshake). 0, or -1 when OpenSSL refuses a setting. */
int tls_certname_setup(SSL *ssl, const char *host_name, const struct tls_certname *cn,
		       bool insecure);

/* After the handshake: 0 when a pin holds (always 0 without one: OpenSSL
 * verified the chain), else -1 with *why a static string. */
int tls_certname_check(SSL *ssl, const char *host_name, const struct tls_certname *cn,
		       const char **why);

/* The pin rule on a chain as the server sent it, at time now (what
 * tls_certname_check applies; the unit tests call it directly). */
int tls_certname_check_chain(STACK_OF(X509) * chain, const char *host_name,
			     const uint8_t want[TLS_CERT_SHA256_BYTES], time_t now,
			     const char **why);

/* Whether s is an IPv4 or IPv6 literal. */
bool tls_certname_is_ip(const char *s);

#endif

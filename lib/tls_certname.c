/* tls_certname: see tls_certname.h (Tailscale's derp/derphttp tlsClient and
 * net/tlsdial SetConfigExpectedCertHash, v1.102.5). */
#include "tls_certname.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <string.h>

bool tls_certname_is_ip(const char *s)
{
	uint8_t buf[16];

	return s && (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1);
}

/* Lowercase only: Tailscale compares the CertName with fmt's "%02x". */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int tls_certname_parse(const char *cert_name, struct tls_certname *out)
{
	const size_t plen = sizeof(TLS_CERTNAME_PIN_PREFIX) - 1;

	memset(out, 0, sizeof(*out));
	if (!cert_name || !cert_name[0])
		return 0;
	if (strncmp(cert_name, TLS_CERTNAME_PIN_PREFIX, plen) == 0) {
		const char *h = cert_name + plen;

		if (strlen(h) != 2 * TLS_CERT_SHA256_BYTES)
			return -EINVAL;
		for (size_t i = 0; i < TLS_CERT_SHA256_BYTES; i++) {
			int hi = hexval(h[2 * i]), lo = hexval(h[2 * i + 1]);
			if (hi < 0 || lo < 0) {
				memset(out, 0, sizeof(*out));
				return -EINVAL;
			}
			out->sha256[i] = (uint8_t)(hi << 4 | lo);
		}
		out->pinned = true;
		return 0;
	}
	if (strlen(cert_name) >= sizeof(out->verify))
		return -EINVAL;
	memcpy(out->verify, cert_name, strlen(cert_name) + 1);
	return 0;
}

int tls_certname_setup(SSL *ssl, const char *host_name, const struct tls_certname *cn,
		       bool insecure)
{
	const char *name = cn->verify[0] ? cn->verify : host_name;

	/* Go sends no SNI for an IP literal, and Tailscale's derper in
	 * -certmode manual refuses an SNI other than its -hostname. */
	if (!tls_certname_is_ip(host_name) && SSL_set_tlsext_host_name(ssl, host_name) != 1)
		return -1;
	/* InsecureForTests skips verification, except that a CertName still
	 * applies (tlsClient sets CertName's check after clearing the rest):
	 * a pin always, another name when it differs from HostName. */
	if (cn->pinned || (insecure && strcmp(name, host_name) == 0)) {
		SSL_set_verify(ssl, SSL_VERIFY_NONE, 0);
		return 0;
	}
	SSL_set_verify(ssl, SSL_VERIFY_PEER, 0);
	return SSL_set1_host(ssl, name) == 1 ? 0 : -1;
}

int tls_certname_check(SSL *ssl, const char *host_name, const struct tls_certname *cn,
		       const char **why)
{
	if (!cn->pinned)
		return 0;
	return tls_certname_check_chain(SSL_get_peer_cert_chain(ssl), host_name, cn->sha256,
					time(NULL), why);
}

/* Tailscale's derper appends a certificate whose CommonName (Go's: the last
 * CN of the subject) is "derpkey<server key hex>". */
static bool is_meta(X509 *x)
{
	X509_NAME *n = X509_get_subject_name(x);
	int i = -1, last = -1;
	const ASN1_STRING *s;
	const size_t plen = sizeof(TLS_CERTNAME_META_PREFIX) - 1;

	while ((i = X509_NAME_get_index_by_NID(n, NID_commonName, i)) >= 0)
		last = i;
	if (last < 0)
		return false;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, last));
	return s && (size_t)ASN1_STRING_length(s) >= plen &&
	       memcmp(ASN1_STRING_get0_data(s), TLS_CERTNAME_META_PREFIX, plen) == 0;
}

int tls_certname_check_chain(STACK_OF(X509) * chain, const char *host_name,
			     const uint8_t want[TLS_CERT_SHA256_BYTES], time_t now,
			     const char **why)
{
	bool seen = false;

	for (int i = 0; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);
		uint8_t d[EVP_MAX_MD_SIZE];
		unsigned int dl = 0;

		if (is_meta(x))
			continue;
		if (seen) {
			*why = "more than one certificate presented for a pinned CertName";
			return -1;
		}
		if (X509_digest(x, EVP_sha256(), d, &dl) != 1 || dl != TLS_CERT_SHA256_BYTES ||
		    memcmp(d, want, TLS_CERT_SHA256_BYTES) != 0) {
			*why = "the certificate's SHA-256 is not CertName's sha256-raw";
			return -1;
		}
		/* Go checks the name it sent as SNI: none for an IP literal. */
		if (host_name && host_name[0] && !tls_certname_is_ip(host_name) &&
		    X509_check_host(x, host_name, 0, 0, 0) != 1) {
			*why = "the pinned certificate does not name the host";
			return -1;
		}
		if (X509_cmp_time(X509_get0_notAfter(x), &now) <= 0) {
			*why = "the pinned certificate has expired (or its time is unreadable)";
			return -1;
		}
		if (X509_cmp_time(X509_get0_notBefore(x), &now) >= 0) {
			*why = "the pinned certificate is not valid yet (or its time is "
			       "unreadable)";
			return -1;
		}
		seen = true;
	}
	if (!seen) {
		*why = "no certificate presented for a pinned CertName";
		return -1;
	}
	return 0;
}

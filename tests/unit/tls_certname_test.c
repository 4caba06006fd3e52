/* tls_certname_test: a DERP node's CertName as Tailscale's derphttp client
 * reads it (lib/tls_certname.h): parsing "sha256-raw:<hex>" pins and names,
 * the SNI and verification an SSL gets, and the pin rule on chains made
 * here (a leaf and the "derpkey..." meta certificate Tailscale's derper
 * appends), one case per way a chain fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "tls_certname.h"

#define DAY (24 * 60 * 60L)

/* A self-signed certificate: CN, optional subjectAltName (OpenSSL's
 * config syntax), valid from now + from_s to now + to_s. */
static X509 *make_cert(const char *cn, const char *san, long from_s, long to_s)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n;

	assert_non_null(k);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), from_s);
	X509_gmtime_adj(X509_getm_notAfter(x), to_s);
	n = X509_get_subject_name(x);
	/* A raw UTF8String: Tailscale's meta CN (71 characters) is past the
	 * 64 OpenSSL's MBSTRING_ types allow a CN; Go sets no such limit. */
	assert_int_equal(X509_NAME_add_entry_by_txt(n, "CN", V_ASN1_UTF8STRING,
						    (const unsigned char *)cn, -1, -1, 0),
			 1);
	X509_set_issuer_name(x, n);
	X509_set_pubkey(x, k);
	if (san) {
		X509V3_CTX ctx;
		X509_EXTENSION *e;
		X509V3_set_ctx_nodb(&ctx);
		X509V3_set_ctx(&ctx, x, x, 0, 0, 0);
		e = X509V3_EXT_conf_nid(0, &ctx, NID_subject_alt_name, san);
		assert_non_null(e);
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	EVP_PKEY_free(k);
	return x;
}

static void sha256_of(X509 *x, uint8_t out[TLS_CERT_SHA256_BYTES])
{
	unsigned int n = 0;
	uint8_t d[EVP_MAX_MD_SIZE];

	assert_int_equal(X509_digest(x, EVP_sha256(), d, &n), 1);
	assert_int_equal(n, TLS_CERT_SHA256_BYTES);
	memcpy(out, d, TLS_CERT_SHA256_BYTES);
}

static void test_parse(void **state)
{
	(void)state;
	struct tls_certname c;
	char pin[128], bad[128];

	assert_int_equal(tls_certname_parse(0, &c), 0);
	assert_false(c.pinned);
	assert_string_equal(c.verify, "");
	assert_int_equal(tls_certname_parse("", &c), 0);
	assert_false(c.pinned);
	assert_int_equal(tls_certname_parse("derp.example.com", &c), 0);
	assert_false(c.pinned);
	assert_string_equal(c.verify, "derp.example.com");

	snprintf(pin, sizeof(pin), "sha256-raw:00ff10%058d", 0);
	assert_int_equal(tls_certname_parse(pin, &c), 0);
	assert_true(c.pinned);
	assert_int_equal(c.sha256[0], 0x00);
	assert_int_equal(c.sha256[1], 0xff);
	assert_int_equal(c.sha256[2], 0x10);
	assert_string_equal(c.verify, "");

	/* Tailscale compares lowercase hex text: uppercase never matches. */
	snprintf(bad, sizeof(bad), "sha256-raw:00FF10%058d", 0);
	assert_int_equal(tls_certname_parse(bad, &c), -EINVAL);
	assert_false(c.pinned);
	snprintf(bad, sizeof(bad), "sha256-raw:%063d", 0);
	assert_int_equal(tls_certname_parse(bad, &c), -EINVAL);
	snprintf(bad, sizeof(bad), "sha256-raw:%065d", 0);
	assert_int_equal(tls_certname_parse(bad, &c), -EINVAL);
	snprintf(bad, sizeof(bad), "sha256-raw:g%063d", 0);
	assert_int_equal(tls_certname_parse(bad, &c), -EINVAL);
	assert_int_equal(tls_certname_parse("sha256-raw:", &c), -EINVAL);

	char longname[TLS_CERTNAME_MAX + 1];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(tls_certname_parse(longname, &c), -EINVAL);
}

static void test_is_ip(void **state)
{
	(void)state;
	assert_true(tls_certname_is_ip("198.18.0.2"));
	assert_true(tls_certname_is_ip("2001:db8::1"));
	assert_false(tls_certname_is_ip("derp.lab.test"));
	assert_false(tls_certname_is_ip(""));
	assert_false(tls_certname_is_ip(0));
}

/* SNI (none for an IP literal) and what OpenSSL is told to verify. */
static void test_setup(void **state)
{
	(void)state;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct tls_certname none = {0}, pin = {.pinned = true}, front = {0};
	struct {
		const char *host;
		const struct tls_certname *cn;
		bool insecure;
		const char *sni;    /* NULL: none */
		int mode;	    /* SSL_VERIFY_* */
		const char *verify; /* the host OpenSSL checks, NULL: none */
	} t[] = {
		{"derp.lab.test", &none, false, "derp.lab.test", SSL_VERIFY_PEER, "derp.lab.test"},
		{"198.18.0.2", &none, false, 0, SSL_VERIFY_PEER, "198.18.0.2"},
		{"derp.lab.test", &none, true, "derp.lab.test", SSL_VERIFY_NONE, 0},
		{"198.18.0.2", &pin, false, 0, SSL_VERIFY_NONE, 0},
		{"derp.lab.test", &pin, true, "derp.lab.test", SSL_VERIFY_NONE, 0},
		{"derp.lab.test", &front, false, "derp.lab.test", SSL_VERIFY_PEER, "cert.test"},
		/* InsecureForTests does not switch off a CertName that differs. */
		{"derp.lab.test", &front, true, "derp.lab.test", SSL_VERIFY_PEER, "cert.test"},
	};

	assert_non_null(ctx);
	snprintf(front.verify, sizeof(front.verify), "cert.test");
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		SSL *ssl = SSL_new(ctx);
		const char *sni, *host;

		assert_int_equal(tls_certname_setup(ssl, t[i].host, t[i].cn, t[i].insecure), 0);
		sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
		if (t[i].sni)
			assert_string_equal(sni, t[i].sni);
		else
			assert_null(sni);
		assert_int_equal(SSL_get_verify_mode(ssl), t[i].mode);
		host = X509_VERIFY_PARAM_get0_host(SSL_get0_param(ssl), 0);
		if (t[i].verify && !tls_certname_is_ip(t[i].verify))
			assert_string_equal(host, t[i].verify);
		else if (!t[i].verify)
			assert_null(host);
		SSL_free(ssl);
	}
	SSL_CTX_free(ctx);
}

struct certs {
	X509 *leaf, *other, *meta, *old, *young;
	uint8_t pin[TLS_CERT_SHA256_BYTES];
	time_t now;
};

static int certs_setup(void **state)
{
	struct certs *c = calloc(1, sizeof(*c));

	c->leaf = make_cert("derp.test", "DNS:derp.test,IP:192.0.2.1", -DAY, 90 * DAY);
	c->other = make_cert("other.test", "DNS:other.test", -DAY, 90 * DAY);
	c->meta = make_cert(TLS_CERTNAME_META_PREFIX
			    "3c9f75c937e6a2607b7cf0a64bebd73d38ed25efca990d7afd624d6a6fb07818",
			    0, -30 * DAY, 30 * DAY);
	c->old = make_cert("derp.test", "DNS:derp.test", -10 * DAY, -DAY);
	c->young = make_cert("derp.test", "DNS:derp.test", DAY, 10 * DAY);
	c->now = time(0);
	sha256_of(c->leaf, c->pin);
	*state = c;
	return 0;
}

static int certs_teardown(void **state)
{
	struct certs *c = *state;

	X509_free(c->leaf);
	X509_free(c->other);
	X509_free(c->meta);
	X509_free(c->old);
	X509_free(c->young);
	free(c);
	return 0;
}

/* check(chain..., NULL) with host and pin: 0 or -1 and why. */
static int check(struct certs *c, const char *host, const uint8_t *pin, const char **why, X509 *a,
		 X509 *b)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	int rc;

	if (a)
		sk_X509_push(sk, a);
	if (b)
		sk_X509_push(sk, b);
	*why = 0;
	rc = tls_certname_check_chain(sk, host, pin, c->now, why);
	sk_X509_free(sk);
	return rc;
}

static void test_pin_holds(void **state)
{
	struct certs *c = *state;
	const char *why;

	/* As Tailscale's derper sends it: the leaf, then the meta cert. */
	assert_int_equal(check(c, "derp.test", c->pin, &why, c->leaf, c->meta), 0);
	assert_int_equal(check(c, "derp.test", c->pin, &why, c->meta, c->leaf), 0);
	assert_int_equal(check(c, "derp.test", c->pin, &why, c->leaf, 0), 0);
	/* An IP HostName: Go sends no SNI and checks no name. */
	assert_int_equal(check(c, "198.18.0.2", c->pin, &why, c->leaf, c->meta), 0);
	assert_int_equal(check(c, "", c->pin, &why, c->leaf, c->meta), 0);
}

static void test_pin_fails(void **state)
{
	struct certs *c = *state;
	uint8_t wrong[TLS_CERT_SHA256_BYTES], old_pin[TLS_CERT_SHA256_BYTES],
		young_pin[TLS_CERT_SHA256_BYTES];
	const char *why;

	memcpy(wrong, c->pin, sizeof(wrong));
	wrong[31] ^= 1;
	sha256_of(c->old, old_pin);
	sha256_of(c->young, young_pin);
	assert_int_equal(check(c, "derp.test", wrong, &why, c->leaf, c->meta), -1);
	assert_string_equal(why, "the certificate's SHA-256 is not CertName's sha256-raw");
	assert_int_equal(check(c, "derp.test", c->pin, &why, c->leaf, c->other), -1);
	assert_string_equal(why, "more than one certificate presented for a pinned CertName");
	assert_int_equal(check(c, "derp.test", c->pin, &why, c->meta, 0), -1);
	assert_string_equal(why, "no certificate presented for a pinned CertName");
	assert_int_equal(check(c, "derp.test", c->pin, &why, 0, 0), -1);
	assert_string_equal(why, "no certificate presented for a pinned CertName");
	assert_int_equal(check(c, "other.test", c->pin, &why, c->leaf, c->meta), -1);
	assert_string_equal(why, "the pinned certificate does not name the host");
	assert_int_equal(check(c, "derp.test", old_pin, &why, c->old, 0), -1);
	assert_string_equal(why, "the pinned certificate has expired (or its time is unreadable)");
	assert_int_equal(check(c, "derp.test", young_pin, &why, c->young, 0), -1);
	assert_string_equal(why,
			    "the pinned certificate is not valid yet (or its time is unreadable)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_is_ip),
		cmocka_unit_test(test_setup),
		cmocka_unit_test_setup_teardown(test_pin_holds, certs_setup, certs_teardown),
		cmocka_unit_test_setup_teardown(test_pin_fails, certs_setup, certs_teardown),
	};

	return cmocka_run_group_tests(tests, 0, 0);
}

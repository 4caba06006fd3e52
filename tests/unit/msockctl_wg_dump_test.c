/* msockctl_wg_dump_test: `wg show IFACE dump` as wireguard-tools prints it
 * (show.c, dump_print): no peer, one, several (preshared key, keepalive
 * off and on, IPv6 and scoped endpoints, no allowed-ips), and one row per
 * malformed case, each refused with a message naming its line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "wg_dump.h"

/* 32 bytes of 0x01, 0x02, ... in WireGuard's base64. */
#define K1   "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
#define K2   "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
#define K3   "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="
#define PSK  "ERERERERERERERERERERERERERERERERERERERERERE="
#define PRIV "IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI="

#define IFACE_LINE PRIV "\t" K3 "\t51820\toff\n"
#define PEER_OK	   K1 "\t(none)\t127.64.0.5:41642\t10.99.0.2/32\t0\t0\t0\toff\n"

static struct key32 key_of(uint8_t b)
{
	struct key32 k;

	memset(k.b, b, sizeof(k.b));
	return k;
}

static void parse_ok(const char *text, struct wg_dump *d)
{
	char err[WG_DUMP_ERR_MAX] = "";
	int rc = wg_dump_parse(text, strlen(text), d, err, sizeof(err));

	if (rc != 0)
		fail_msg("wg_dump_parse: %d: %s", rc, err);
}

static void test_no_peers(void **state)
{
	struct wg_dump d;
	struct key32 k = key_of(1);

	(void)state;
	parse_ok(IFACE_LINE, &d);
	assert_int_equal(d.n_peers, 0);
	assert_int_equal(d.listen_port, 51820);
	assert_int_equal(d.fwmark, 0);
	assert_null(wg_dump_find(&d, &k));
	wg_dump_free(&d);

	/* No private key yet (so no public key), port 0, a fwmark. */
	parse_ok("(none)\t(none)\t0\t0x1f\n", &d);
	assert_int_equal(d.listen_port, 0);
	assert_int_equal(d.fwmark, 0x1f);
	wg_dump_free(&d);
}

static void test_one_peer(void **state)
{
	struct wg_dump d;
	struct key32 k = key_of(1);
	const struct wg_dump_peer *p;
	struct ipport want;

	(void)state;
	parse_ok(IFACE_LINE PEER_OK, &d);
	assert_int_equal(d.n_peers, 1);
	p = wg_dump_find(&d, &k);
	assert_non_null(p);
	assert_int_equal(p->line, 2);
	assert_false(p->has_preshared_key);
	assert_true(p->has_endpoint);
	assert_false(p->endpoint_scoped);
	assert_int_equal(ipport_parse("127.64.0.5:41642", &want), 0);
	assert_true(ipport_equal(&p->endpoint, &want));
	assert_string_equal(p->allowed_ips, "10.99.0.2/32");
	assert_int_equal(p->latest_handshake_s, 0);
	assert_int_equal(p->persistent_keepalive_s, 0);
	wg_dump_free(&d);
}

static void test_several_peers(void **state)
{
	static const char text[] = IFACE_LINE
		/* keepalive, preshared key, two allowed-ips, traffic */
		K3 "\t" PSK "\t198.18.1.1:41641\t10.99.0.3/32,fd00::3/128\t1700000000\t"
		   "18446744073709551615\t123\t25\n"
		/* no endpoint, no allowed-ips */
		K2 "\t(none)\t(none)\t(none)\t0\t0\t0\toff\n"
		/* IPv6 link-local with a scope */
		K1 "\t(none)\t[fe80::1%eth0]:51820\t0.0.0.0/0,::/0\t0\t0\t0\t65535\n";
	struct wg_dump d;
	struct key32 k1 = key_of(1), k2 = key_of(2), k3 = key_of(3), psk = key_of(0x11);
	struct key32 none = key_of(9);
	const struct wg_dump_peer *p;
	struct ipport want;

	(void)state;
	parse_ok(text, &d);
	assert_int_equal(d.n_peers, 3);

	p = wg_dump_find(&d, &k3);
	assert_non_null(p);
	assert_int_equal(p->line, 2);
	assert_true(p->has_preshared_key);
	assert_true(key_equal(&p->preshared_key, &psk));
	assert_int_equal(ipport_parse("198.18.1.1:41641", &want), 0);
	assert_true(ipport_equal(&p->endpoint, &want));
	assert_string_equal(p->allowed_ips, "10.99.0.3/32,fd00::3/128");
	assert_int_equal(p->latest_handshake_s, 1700000000);
	assert_true(p->rx_bytes == UINT64_MAX);
	assert_int_equal(p->tx_bytes, 123);
	assert_int_equal(p->persistent_keepalive_s, 25);

	p = wg_dump_find(&d, &k2);
	assert_non_null(p);
	assert_int_equal(p->line, 3);
	assert_false(p->has_endpoint);
	assert_null(p->allowed_ips);
	assert_false(p->has_preshared_key);

	p = wg_dump_find(&d, &k1);
	assert_non_null(p);
	assert_int_equal(p->line, 4);
	assert_true(p->has_endpoint);
	assert_true(p->endpoint_scoped);
	assert_int_equal(ipport_parse("[fe80::1]:51820", &want), 0);
	assert_true(ipport_equal(&p->endpoint, &want));
	assert_int_equal(p->persistent_keepalive_s, 65535);

	assert_null(wg_dump_find(&d, &none));
	wg_dump_free(&d);
	wg_dump_free(&d); /* empty: nothing to do */
	wg_dump_free(NULL);
}

struct bad {
	const char *text;
	const char *want; /* the start of the message */
};

#define PEER(pub, psk, ep, ips, hs, rx, tx, ka) \
	pub "\t" psk "\t" ep "\t" ips "\t" hs "\t" rx "\t" tx "\t" ka "\n"
#define BADPEER(pub, psk, ep, ips, hs, rx, tx, ka) \
	IFACE_LINE PEER(pub, psk, ep, ips, hs, rx, tx, ka)

static const struct bad bad[] = {
	{"", "empty"},
	{IFACE_LINE PEER_OK "\n", "line 3: 1 field, expected 8"},
	{PRIV "\t" K3 "\t51820\toff", "line 1: no newline"},
	{IFACE_LINE K1 "\t(none)", "line 2: no newline"},
	{PRIV "\t" K3 "\t51820\n", "line 1: 3 fields, expected 4"},
	{PRIV "\t" K3 "\t51820\toff\textra\n", "line 1: more than 4 fields"},
	{PRIV "x\t" K3 "\t51820\toff\n", "line 1: private-key: not a 44-character"},
	{PRIV "\tnope\t51820\toff\n", "line 1: public-key: not a 44-character"},
	{PRIV "\t" K3 "\t65536\toff\n", "line 1: listen-port \"65536\""},
	{PRIV "\t" K3 "\t-1\toff\n", "line 1: listen-port \"-1\""},
	{PRIV "\t" K3 "\t51820\t0x\n", "line 1: fwmark \"0x\""},
	{PRIV "\t" K3 "\t51820\t0x0\n", "line 1: fwmark \"0x0\""},
	{PRIV "\t" K3 "\t51820\t0xAB\n", "line 1: fwmark \"0xAB\""},
	{PRIV "\t" K3 "\t51820\t0x123456789\n", "line 1: fwmark \"0x123456789\""},
	{PRIV "\t" K3 "\t51820\t12\n", "line 1: fwmark \"12\""},
	/* field counts */
	{IFACE_LINE K1 "\t(none)\t(none)\t(none)\t0\t0\t0\n", "line 2: 7 fields, expected 8"},
	{IFACE_LINE K1 "\t(none)\t(none)\t(none)\t0\t0\t0\toff\t\n", "line 2: more than 8 fields"},
	{IFACE_LINE K1 " (none) (none) (none) 0 0 0 off\n", "line 2: 1 field, expected 8"},
	/* keys */
	{BADPEER("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ=", "(none)", "(none)", "(none)", "0",
		 "0", "0", "off"),
	 "line 2: public-key: not a 44-character"},
	{BADPEER("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQF=", "(none)", "(none)", "(none)", "0",
		 "0", "0", "off"),
	 "line 2: public-key: invalid base64"},
	{BADPEER("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBA*E=", "(none)", "(none)", "(none)", "0",
		 "0", "0", "off"),
	 "line 2: public-key: invalid base64"},
	{BADPEER("(none)", "(none)", "(none)", "(none)", "0", "0", "0", "off"),
	 "line 2: public-key: \"(none)\""},
	{BADPEER("nodekey:0101010101010101010101010101010101010101010101010101010101010101",
		 "(none)", "(none)", "(none)", "0", "0", "0", "off"),
	 "line 2: public-key: not a 44-character"},
	{IFACE_LINE PEER_OK PEER(K2, "ERERERERERERERERERERERERERERERERERERERERERE", "(none)",
				 "(none)", "0", "0", "0", "off"),
	 "line 3: preshared-key: not a 44-character"},
	{BADPEER(K1, "", "(none)", "(none)", "0", "0", "0", "off"),
	 "line 2: preshared-key: not a 44-character"},
	/* endpoints */
	{BADPEER(K1, "(none)", "127.0.0.1", "(none)", "0", "0", "0", "off"),
	 "line 2: endpoint \"127.0.0.1\": not ip:port"},
	{BADPEER(K1, "(none)", "127.0.0.1:0", "(none)", "0", "0", "0", "off"),
	 "line 2: endpoint \"127.0.0.1:0\""},
	{BADPEER(K1, "(none)", "127.0.0.1:65536", "(none)", "0", "0", "0", "off"),
	 "line 2: endpoint \"127.0.0.1:65536\""},
	{BADPEER(K1, "(none)", "::1:51820", "(none)", "0", "0", "0", "off"),
	 "line 2: endpoint \"::1:51820\""},
	{BADPEER(K1, "(none)", "[::1]", "(none)", "0", "0", "0", "off"),
	 "line 2: endpoint \"[::1]\""},
	{BADPEER(K1, "(none)", "[fe80::1%]:5", "(none)", "0", "0", "0", "off"),
	 "line 2: endpoint \"[fe80::1%]:5\""},
	{BADPEER(K1, "(none)", "[fe80::1%eth/0]:5", "(none)", "0", "0", "0", "off"),
	 "line 2: endpoint \"[fe80::1%eth/0]:5\""},
	{BADPEER(K1, "(none)", "fe80::1%eth0:5", "(none)", "0", "0", "0", "off"),
	 "line 2: endpoint \"fe80::1%eth0:5\""},
	{BADPEER(K1, "(none)", "host.example:51820", "(none)", "0", "0", "0", "off"),
	 "line 2: endpoint \"host.example:51820\""},
	{BADPEER(K1, "(none)", "none", "(none)", "0", "0", "0", "off"),
	 "line 2: endpoint \"none\""},
	{BADPEER(K1, "(none)", "", "(none)", "0", "0", "0", "off"), "line 2: endpoint \"\""},
	{BADPEER(K1, "(none)",
		 "[1111:2222:3333:4444:5555:6666:7777:8888%abcdefghijklmnopqrstuvwxyz]:1", "(none)",
		 "0", "0", "0", "off"),
	 "line 2: endpoint \"[1111:2222:3333:4444:5555:6666:7777:8888%abcdefg...\""},
	/* allowed-ips */
	{BADPEER(K1, "(none)", "(none)", "10.0.0.1", "0", "0", "0", "off"),
	 "line 2: allowed-ips \"10.0.0.1\""},
	{BADPEER(K1, "(none)", "(none)", "10.0.0.1/33", "0", "0", "0", "off"),
	 "line 2: allowed-ips \"10.0.0.1/33\""},
	{BADPEER(K1, "(none)", "(none)", "fd00::/129", "0", "0", "0", "off"),
	 "line 2: allowed-ips \"fd00::/129\""},
	{BADPEER(K1, "(none)", "(none)", "10.0.0.1/32,", "0", "0", "0", "off"),
	 "line 2: allowed-ips \"10.0.0.1/32,\""},
	{BADPEER(K1, "(none)", "(none)", "10.0.0.1/32, fd00::1/128", "0", "0", "0", "off"),
	 "line 2: allowed-ips \"10.0.0.1/32, fd00::1/128\""},
	{BADPEER(K1, "(none)", "(none)", "10.0.0.1/", "0", "0", "0", "off"),
	 "line 2: allowed-ips \"10.0.0.1/\""},
	{BADPEER(K1, "(none)", "(none)", "", "0", "0", "0", "off"), "line 2: allowed-ips \"\""},
	/* numbers */
	{BADPEER(K1, "(none)", "(none)", "(none)", "-1", "0", "0", "off"),
	 "line 2: latest-handshake \"-1\": not a number"},
	{BADPEER(K1, "(none)", "(none)", "(none)", "", "0", "0", "off"),
	 "line 2: latest-handshake \"\""},
	{BADPEER(K1, "(none)", "(none)", "(none)", "0", "18446744073709551616", "0", "off"),
	 "line 2: rx bytes \"18446744073709551616\""},
	{BADPEER(K1, "(none)", "(none)", "(none)", "0", "0", "07", "off"),
	 "line 2: tx bytes \"07\""},
	{BADPEER(K1, "(none)", "(none)", "(none)", "0", "0", "0", "0"),
	 "line 2: persistent-keepalive \"0\""},
	{BADPEER(K1, "(none)", "(none)", "(none)", "0", "0", "0", "65536"),
	 "line 2: persistent-keepalive \"65536\""},
	{BADPEER(K1, "(none)", "(none)", "(none)", "0", "0", "0", "on"),
	 "line 2: persistent-keepalive \"on\""},
	{BADPEER(K1, "(none)", "(none)", "(none)", "0", "0", "0", "off\r"),
	 "line 2: persistent-keepalive \"off?\""},
	/* the same peer twice */
	{IFACE_LINE PEER_OK PEER(K2, "(none)", "(none)", "(none)", "0", "0", "0", "off") PEER_OK,
	 "line 4: the peer of line 2 again"},
};

static void test_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[WG_DUMP_ERR_MAX] = "";
		struct wg_dump d;
		int rc = wg_dump_parse(bad[i].text, strlen(bad[i].text), &d, err, sizeof(err));

		if (rc != -EINVAL || strncmp(err, bad[i].want, strlen(bad[i].want)) != 0)
			fail_msg("row %zu: rc %d, message \"%s\", expected one starting \"%s\"", i,
				 rc, err, bad[i].want);
		/* No key, secret or not, is ever quoted. */
		assert_null(strstr(err, PRIV));
		assert_null(strstr(err, "ERERERERERERERERERERERERERERERERERERERERERE"));
		wg_dump_free(&d);
	}
}

/* A NUL byte (text cannot be a C string) and a dump past the limit. */
static void test_nul_and_size(void **state)
{
	static const char text[] = IFACE_LINE K1 "\t(none)\t(no\0ne)\t(none)\t0\t0\t0\toff\n";
	char err[WG_DUMP_ERR_MAX] = "";
	struct wg_dump d;

	(void)state;
	assert_int_equal(wg_dump_parse(text, sizeof(text) - 1, &d, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 2: a NUL byte");
	wg_dump_free(&d);
	assert_int_equal(wg_dump_parse(text, (size_t)WG_DUMP_MAX_BYTES + 1, &d, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "more than"));
	wg_dump_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_peers),      cmocka_unit_test(test_one_peer),
		cmocka_unit_test(test_several_peers), cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_nul_and_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

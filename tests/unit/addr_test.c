/* addr_test: IP:port values (lib/addr.h): parsing valid forms, one test per
 * malformed form, formatting, sockaddr conversion and equality; the kinds
 * of address and the usable-unicast rule. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

#include "addr.h"

static void assert_v4(const struct ipport *a, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3,
		      uint16_t port)
{
	const uint8_t want[4] = {b0, b1, b2, b3};

	assert_int_equal(a->family, AF_INET);
	assert_memory_equal(a->ip, want, 4);
	assert_int_equal(a->port, port);
}

/* A malformed string is refused and leaves no half-parsed value behind. */
static void assert_bad(const char *s)
{
	struct ipport a;

	memset(&a, 0x5a, sizeof(a));
	assert_int_equal(ipport_parse(s, &a), -EINVAL);
	assert_int_equal(a.family, 0);
}

static void test_parse_v4(void **state)
{
	struct ipport a;

	(void)state;
	assert_int_equal(ipport_parse("1.2.3.4:5", &a), 0);
	assert_v4(&a, 1, 2, 3, 4, 5);
	assert_int_equal(ipport_parse("192.0.2.1:41641", &a), 0);
	assert_v4(&a, 192, 0, 2, 1, 41641);
	assert_int_equal(ipport_parse("255.255.255.255:65535", &a), 0);
	assert_v4(&a, 255, 255, 255, 255, 65535);
	assert_int_equal(ipport_parse("0.0.0.0:1", &a), 0);
	assert_v4(&a, 0, 0, 0, 0, 1);
}

static void test_parse_v6(void **state)
{
	static const uint8_t loop[16] = {[15] = 1};
	static const uint8_t doc[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x01};
	struct ipport a;

	(void)state;
	assert_int_equal(ipport_parse("[::1]:5", &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_memory_equal(a.ip, loop, 16);
	assert_int_equal(a.port, 5);
	assert_int_equal(ipport_parse("[2001:db8::1]:3478", &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_memory_equal(a.ip, doc, 16);
	assert_int_equal(a.port, 3478);
	assert_int_equal(ipport_parse("[2001:0db8:0000:0000:0000:0000:0000:0001]:443", &a), 0);
	assert_memory_equal(a.ip, doc, 16);
	assert_int_equal(a.port, 443);
}

static void test_parse_leading_zero_port(void **state)
{
	struct ipport a;

	(void)state;
	assert_int_equal(ipport_parse("1.2.3.4:080", &a), 0);
	assert_int_equal(a.port, 80);
}

static void test_bad_missing_port(void **state)
{
	(void)state;
	assert_bad("1.2.3.4");
}

static void test_bad_port_zero(void **state)
{
	(void)state;
	assert_bad("1.2.3.4:0");
	assert_bad("[::1]:0");
}

static void test_bad_port_65536(void **state)
{
	(void)state;
	assert_bad("1.2.3.4:65536");
	assert_bad("[::1]:65536");
	assert_bad("1.2.3.4:99999999999999999999999");
}

static void test_bad_empty_port(void **state)
{
	(void)state;
	assert_bad("1.2.3.4:");
	assert_bad("[::1]:");
}

static void test_bad_port_sign(void **state)
{
	(void)state;
	assert_bad("1.2.3.4:-1");
	assert_bad("1.2.3.4:+80");
	assert_bad("1.2.3.4: 80");
}

static void test_bad_v6_without_brackets(void **state)
{
	(void)state;
	assert_bad("::1:80");
	assert_bad("2001:db8::1:443");
}

static void test_bad_bracketed_without_port(void **state)
{
	(void)state;
	assert_bad("[::1]");
	assert_bad("[::1]80");
}

static void test_bad_unclosed_bracket(void **state)
{
	(void)state;
	assert_bad("[::1:80");
}

static void test_bad_v4_in_brackets(void **state)
{
	(void)state;
	assert_bad("[1.2.3.4]:80");
}

static void test_bad_garbage(void **state)
{
	(void)state;
	assert_bad("garbage");
	assert_bad("example.com:80");
	assert_bad("1.2.3:80");
	assert_bad("1.2.3.256:80");
	assert_bad("[zz::1]:80");
	assert_bad(":80");
	assert_bad("[]:80");
}

static void test_bad_trailing_chars(void **state)
{
	(void)state;
	assert_bad("1.2.3.4:80x");
	assert_bad("1.2.3.4:80 ");
	assert_bad("[::1]:80]");
	assert_bad("1.2.3.4x:80");
}

static void test_bad_empty(void **state)
{
	(void)state;
	assert_bad("");
}

static void test_bad_host_too_long(void **state)
{
	char s[200];

	(void)state;
	memset(s, '1', sizeof(s));
	s[0] = '[';
	memcpy(s + sizeof(s) - 6, "]:80", 5);
	assert_bad(s);
}

static void test_ip_parse(void **state)
{
	struct ipport a;

	(void)state;
	assert_int_equal(ip_parse("10.0.0.1", &a), 0);
	assert_v4(&a, 10, 0, 0, 1, 0);
	assert_int_equal(ip_parse("fe80::1", &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(a.port, 0);
	assert_int_equal(ip_parse("10.0.0.1:80", &a), -EINVAL);
	assert_int_equal(ip_parse("[::1]", &a), -EINVAL);
	assert_int_equal(ip_parse("", &a), -EINVAL);
}

static void round_trip(const char *s)
{
	struct ipport a, b;
	char buf[ADDR_TEXT_MAX];
	size_t n;

	assert_int_equal(ipport_parse(s, &a), 0);
	n = ipport_format(&a, buf, sizeof(buf));
	assert_int_equal(n, strlen(s));
	assert_string_equal(buf, s);
	assert_int_equal(ipport_parse(buf, &b), 0);
	assert_true(ipport_equal(&a, &b));
}

static void test_format_round_trip(void **state)
{
	(void)state;
	round_trip("1.2.3.4:5");
	round_trip("255.255.255.255:65535");
	round_trip("[::1]:5");
	round_trip("[2001:db8::1]:3478");
	round_trip("[fe80::1:2:3:4]:41641");
	/* The longest form fits ADDR_TEXT_MAX. */
	round_trip("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
}

static void test_format_canonical(void **state)
{
	struct ipport a;
	char buf[ADDR_TEXT_MAX];

	(void)state;
	assert_int_equal(ipport_parse("[2001:0db8:0:0::0001]:080", &a), 0);
	assert_int_equal(ipport_format(&a, buf, sizeof(buf)), strlen("[2001:db8::1]:80"));
	assert_string_equal(buf, "[2001:db8::1]:80");
}

static void test_format_unset_and_small_buffer(void **state)
{
	struct ipport a = {0};
	char buf[ADDR_TEXT_MAX];
	char small[8];

	(void)state;
	assert_int_equal(ipport_format(&a, buf, sizeof(buf)), strlen("(none)"));
	assert_string_equal(buf, "(none)");
	assert_int_equal(ipport_parse("192.0.2.1:41641", &a), 0);
	/* Does not fit: 0, and the buffer is still a string. */
	assert_int_equal(ipport_format(&a, small, sizeof(small)), 0);
	assert_true(memchr(small, 0, sizeof(small)) != NULL);
	/* Exactly fits (with the NUL). */
	char exact[sizeof("192.0.2.1:41641")];
	assert_int_equal(ipport_format(&a, exact, sizeof(exact)), sizeof(exact) - 1);
	assert_int_equal(ipport_format(&a, exact, sizeof(exact) - 1), 0);
}

static void sockaddr_round_trip(const char *s, socklen_t want_len, int want_family)
{
	struct ipport a, b;
	struct sockaddr_storage ss;
	socklen_t len;

	assert_int_equal(ipport_parse(s, &a), 0);
	len = ipport_to_sockaddr(&a, &ss);
	assert_int_equal(len, want_len);
	assert_int_equal(ss.ss_family, want_family);
	assert_int_equal(ipport_from_sockaddr((struct sockaddr *)&ss, len, &b), 0);
	assert_true(ipport_equal(&a, &b));
}

static void test_sockaddr_round_trip(void **state)
{
	(void)state;
	sockaddr_round_trip("1.2.3.4:5", sizeof(struct sockaddr_in), AF_INET);
	sockaddr_round_trip("[2001:db8::1]:3478", sizeof(struct sockaddr_in6), AF_INET6);
	sockaddr_round_trip("[::1]:65535", sizeof(struct sockaddr_in6), AF_INET6);
}

static void test_sockaddr_layout(void **state)
{
	struct ipport a;
	struct sockaddr_storage ss;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
	struct in6_addr want6;

	(void)state;
	assert_int_equal(ipport_parse("192.0.2.1:41641", &a), 0);
	assert_int_equal(ipport_to_sockaddr(&a, &ss), sizeof(*sin));
	assert_int_equal(sin->sin_port, htons(41641));
	assert_int_equal(sin->sin_addr.s_addr, inet_addr("192.0.2.1"));
	assert_int_equal(ipport_parse("[2001:db8::7]:443", &a), 0);
	assert_int_equal(ipport_to_sockaddr(&a, &ss), sizeof(*sin6));
	assert_int_equal(sin6->sin6_port, htons(443));
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::7", &want6), 1);
	assert_memory_equal(&sin6->sin6_addr, &want6, 16);
	a.family = 0;
	assert_int_equal(ipport_to_sockaddr(&a, &ss), 0);
}

static void test_sockaddr_v4_mapped(void **state)
{
	struct sockaddr_in6 sin6;
	struct ipport a;

	(void)state;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(3478);
	assert_int_equal(inet_pton(AF_INET6, "::ffff:198.51.100.7", &sin6.sin6_addr), 1);
	assert_int_equal(ipport_from_sockaddr((struct sockaddr *)&sin6, sizeof(sin6), &a), 0);
	assert_v4(&a, 198, 51, 100, 7, 3478);
	/* ::7 (v4-compatible, not mapped) stays IPv6. */
	assert_int_equal(inet_pton(AF_INET6, "::198.51.100.7", &sin6.sin6_addr), 1);
	assert_int_equal(ipport_from_sockaddr((struct sockaddr *)&sin6, sizeof(sin6), &a), 0);
	assert_int_equal(a.family, AF_INET6);
}

static void test_sockaddr_bad(void **state)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_un sun;
	struct ipport a;

	(void)state;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	assert_int_equal(ipport_from_sockaddr((struct sockaddr *)&sin, sizeof(sin) - 1, &a),
			 -EINVAL);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	assert_int_equal(ipport_from_sockaddr((struct sockaddr *)&sin6, sizeof(sin) + 4, &a),
			 -EINVAL);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_int_equal(ipport_from_sockaddr((struct sockaddr *)&sun, sizeof(sun), &a), -EINVAL);
}

static void test_equal(void **state)
{
	struct ipport a, b;

	(void)state;
	assert_int_equal(ipport_parse("1.2.3.4:5", &a), 0);
	assert_int_equal(ipport_parse("1.2.3.4:5", &b), 0);
	assert_true(ipport_equal(&a, &b));
	/* Bytes beyond the 4 of an IPv4 address do not matter. */
	b.ip[10] = 0x77;
	assert_true(ipport_equal(&a, &b));
	assert_int_equal(ipport_parse("1.2.3.4:6", &b), 0);
	assert_false(ipport_equal(&a, &b));
	assert_int_equal(ipport_parse("1.2.3.5:5", &b), 0);
	assert_false(ipport_equal(&a, &b));
	/* The same address as v4-mapped IPv6 is a different value. */
	assert_int_equal(ipport_parse("[::ffff:1.2.3.4]:5", &b), 0);
	assert_false(ipport_equal(&a, &b));
	assert_int_equal(ipport_parse("[::1]:5", &a), 0);
	assert_int_equal(ipport_parse("[::2]:5", &b), 0);
	assert_false(ipport_equal(&a, &b));
	assert_int_equal(ipport_parse("[::1]:5", &b), 0);
	assert_true(ipport_equal(&a, &b));
	/* ip_equal: the address alone. */
	assert_int_equal(ipport_parse("[::1]:6", &b), 0);
	assert_false(ipport_equal(&a, &b));
	assert_true(ip_equal(&a, &b));
	assert_int_equal(ipport_parse("1.2.3.4:5", &a), 0);
	assert_int_equal(ipport_parse("1.2.3.4:9", &b), 0);
	assert_true(ip_equal(&a, &b));
	assert_int_equal(ipport_parse("[::ffff:1.2.3.4]:5", &b), 0);
	assert_false(ip_equal(&a, &b));
	assert_int_equal(ipport_parse("1.2.3.5:5", &b), 0);
	assert_false(ip_equal(&a, &b));
}

/* The rule NAT-PMP's and PCP's external addresses meet (it was
 * pcp_external_usable); UPnP's and disco's add to it (their tests). */
static void test_unicast_usable(void **state)
{
	(void)state;
	static const char *const ok[] = {"198.18.0.1:1",    "10.0.0.1:1",  "100.64.0.1:1",
					 "[2001:db8::1]:1", "[fe80::1]:1", "[::ffff:198.18.0.2]:1"};
	static const char *const bad[] = {
		"0.0.0.0:1", "127.0.0.1:1", "224.0.0.1:1", "255.255.255.255:1",
		"[::]:1",    "[::1]:1",	    "[ff02::1]:1", "[::ffff:127.0.0.1]:1"};
	struct ipport a;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(ipport_parse(ok[i], &a), 0);
		if (!ip_unicast_usable(&a))
			fail_msg("%s refused", ok[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ipport_parse(bad[i], &a), 0);
		if (ip_unicast_usable(&a))
			fail_msg("%s accepted", bad[i]);
	}
	assert_false(ip_unicast_usable(NULL));
	a.family = AF_UNIX;
	assert_false(ip_unicast_usable(&a));
}

/* Go's netip IsLoopback, IsMulticast, IsLinkLocalUnicast, IsPrivate, with
 * a v4-mapped address judged by its IPv4 as Go does. */
static void test_kinds(void **state)
{
	(void)state;
	static const struct {
		const char *ip;
		bool loopback, multicast, link_local, private, mapped;
	} v[] = {
		{"127.0.0.1", true, false, false, false, false},
		{"127.255.255.254", true, false, false, false, false},
		{"::1", true, false, false, false, false},
		{"::ffff:127.0.0.1", true, false, false, false, true},
		{"224.0.0.1", false, true, false, false, false},
		{"239.255.255.250", false, true, false, false, false},
		{"ff02::1", false, true, false, false, false},
		{"169.254.1.1", false, false, true, false, false},
		{"fe80::1", false, false, true, false, false},
		{"febf::1", false, false, true, false, false},
		{"fec0::1", false, false, false, false, false},
		{"::ffff:169.254.0.1", false, false, true, false, true},
		{"10.0.0.1", false, false, false, true, false},
		{"172.16.0.1", false, false, false, true, false},
		{"172.31.255.255", false, false, false, true, false},
		{"172.32.0.1", false, false, false, false, false},
		{"192.168.1.1", false, false, false, true, false},
		{"fc00::1", false, false, false, true, false},
		{"fd7a::1", false, false, false, true, false},
		{"::ffff:192.168.0.1", false, false, false, true, true},
		{"100.64.0.1", false, false, false, false, false},
		{"198.18.0.1", false, false, false, false, false},
		{"2001:db8::1", false, false, false, false, false},
		{"::", false, false, false, false, false},
		{"::7f00:1", false, false, false, false, false}, /* IPv4-compatible, not mapped */
	};
	struct ipport a;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(ip_parse(v[i].ip, &a), 0);
		if (ip_is_loopback(&a) != v[i].loopback || ip_is_multicast(&a) != v[i].multicast ||
		    ip_is_link_local(&a) != v[i].link_local || ip_is_private(&a) != v[i].private ||
		    ip_is_v4_mapped(&a) != v[i].mapped)
			fail_msg("%s: loopback %d multicast %d link_local %d private %d mapped %d",
				 v[i].ip, ip_is_loopback(&a), ip_is_multicast(&a),
				 ip_is_link_local(&a), ip_is_private(&a), ip_is_v4_mapped(&a));
	}
	a = (struct ipport){.ip = {127, 0, 0, 1}}; /* no family */
	assert_false(ip_is_loopback(&a));
	assert_false(ip_is_loopback(NULL) || ip_is_multicast(NULL) || ip_is_link_local(NULL) ||
		     ip_is_private(NULL) || ip_is_v4_mapped(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_v4),
		cmocka_unit_test(test_parse_v6),
		cmocka_unit_test(test_parse_leading_zero_port),
		cmocka_unit_test(test_bad_missing_port),
		cmocka_unit_test(test_bad_port_zero),
		cmocka_unit_test(test_bad_port_65536),
		cmocka_unit_test(test_bad_empty_port),
		cmocka_unit_test(test_bad_port_sign),
		cmocka_unit_test(test_bad_v6_without_brackets),
		cmocka_unit_test(test_bad_bracketed_without_port),
		cmocka_unit_test(test_bad_unclosed_bracket),
		cmocka_unit_test(test_bad_v4_in_brackets),
		cmocka_unit_test(test_bad_garbage),
		cmocka_unit_test(test_bad_trailing_chars),
		cmocka_unit_test(test_bad_empty),
		cmocka_unit_test(test_bad_host_too_long),
		cmocka_unit_test(test_ip_parse),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_format_canonical),
		cmocka_unit_test(test_format_unset_and_small_buffer),
		cmocka_unit_test(test_sockaddr_round_trip),
		cmocka_unit_test(test_sockaddr_layout),
		cmocka_unit_test(test_sockaddr_v4_mapped),
		cmocka_unit_test(test_sockaddr_bad),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_unicast_usable),
		cmocka_unit_test(test_kinds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

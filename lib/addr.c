/* addr: parse and print IP:port values; the kinds of address (Go's
 * net/netip) and the one rule for a usable unicast address. */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ip_parse(const char *s, struct ipport *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->ip) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->ip) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

static int port_parse(const char *s, uint16_t *port)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int ipport_parse(const char *s, struct ipport *out)
{
	char host[ADDR_TEXT_MAX];
	const char *colon, *hs;
	size_t hl;

	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		hs = s + 1;
		hl = (size_t)(close - hs);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL; /* IPv6 needs brackets */
		hs = s;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, hs, hl);
	host[hl] = 0;
	if (s[0] == '[') {
		if (inet_pton(AF_INET6, host, out->ip) != 1)
			return -EINVAL;
		out->family = AF_INET6;
	} else {
		if (inet_pton(AF_INET, host, out->ip) != 1)
			return -EINVAL;
		out->family = AF_INET;
	}
	if (port_parse(colon + 1, &out->port) < 0) {
		memset(out, 0, sizeof(*out));
		return -EINVAL;
	}
	return 0;
}

size_t ipport_format(const struct ipport *a, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];
	int n;

	if (a->family == AF_INET) {
		inet_ntop(AF_INET, a->ip, ip, sizeof(ip));
		n = snprintf(buf, cap, "%s:%u", ip, a->port);
	} else if (a->family == AF_INET6) {
		inet_ntop(AF_INET6, a->ip, ip, sizeof(ip));
		n = snprintf(buf, cap, "[%s]:%u", ip, a->port);
	} else {
		n = snprintf(buf, cap, "(none)");
	}
	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}

bool ip_equal(const struct ipport *a, const struct ipport *b)
{
	size_t len = a->family == AF_INET ? 4 : 16;

	return a->family == b->family && memcmp(a->ip, b->ip, len) == 0;
}

bool ipport_equal(const struct ipport *a, const struct ipport *b)
{
	return a->port == b->port && ip_equal(a, b);
}

socklen_t ipport_to_sockaddr(const struct ipport *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(a->port);
		memcpy(&sin->sin_addr, a->ip, 4);
		return sizeof(*sin);
	}
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(a->port);
		memcpy(&sin6->sin6_addr, a->ip, 16);
		return sizeof(*sin6);
	}
	return 0;
}

int ipport_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct ipport *out)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		out->family = AF_INET;
		memcpy(out->ip, &sin->sin_addr, 4);
		out->port = ntohs(sin->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		if (memcmp(&sin6->sin6_addr, v4mapped, 12) == 0) {
			out->family = AF_INET;
			memcpy(out->ip, (const uint8_t *)&sin6->sin6_addr + 12, 4);
		} else {
			out->family = AF_INET6;
			memcpy(out->ip, &sin6->sin6_addr, 16);
		}
		out->port = ntohs(sin6->sin6_port);
		return 0;
	}
	return -EINVAL;
}

/* The address bytes to judge and their family: a v4-mapped IPv6 address
 * as the IPv4 inside, as Go's netip methods Unmap first. */
static int unmapped(const struct ipport *a, const uint8_t **ip)
{
	if (!a)
		return 0;
	if (ip_is_v4_mapped(a)) {
		*ip = a->ip + 12;
		return AF_INET;
	}
	*ip = a->ip;
	return a->family == AF_INET || a->family == AF_INET6 ? a->family : 0;
}

bool ip_is_v4_mapped(const struct ipport *a)
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	return a && a->family == AF_INET6 && memcmp(a->ip, prefix, sizeof(prefix)) == 0;
}

bool ip_is_loopback(const struct ipport *a)
{
	static const uint8_t lo6[16] = {[15] = 1};
	const uint8_t *ip;

	switch (unmapped(a, &ip)) {
	case AF_INET:
		return ip[0] == 127;
	case AF_INET6:
		return memcmp(ip, lo6, sizeof(lo6)) == 0;
	}
	return false;
}

bool ip_is_multicast(const struct ipport *a)
{
	const uint8_t *ip;

	switch (unmapped(a, &ip)) {
	case AF_INET:
		return (ip[0] & 0xf0) == 224;
	case AF_INET6:
		return ip[0] == 0xff;
	}
	return false;
}

bool ip_is_link_local(const struct ipport *a)
{
	const uint8_t *ip;

	switch (unmapped(a, &ip)) {
	case AF_INET:
		return ip[0] == 169 && ip[1] == 254;
	case AF_INET6:
		return ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80;
	}
	return false;
}

bool ip_is_private(const struct ipport *a)
{
	const uint8_t *ip;

	switch (unmapped(a, &ip)) {
	case AF_INET:
		return ip[0] == 10 || (ip[0] == 172 && (ip[1] & 0xf0) == 16) ||
		       (ip[0] == 192 && ip[1] == 168);
	case AF_INET6:
		return (ip[0] & 0xfe) == 0xfc;
	}
	return false;
}

bool ip_unicast_usable(const struct ipport *a)
{
	static const uint8_t zero[16], broadcast[4] = {255, 255, 255, 255};
	const uint8_t *ip;

	switch (unmapped(a, &ip)) {
	case AF_INET:
		if (ip[0] == 0 || memcmp(ip, broadcast, sizeof(broadcast)) == 0)
			return false;
		break;
	case AF_INET6:
		if (memcmp(ip, zero, sizeof(zero)) == 0)
			return false;
		break;
	default:
		return false;
	}
	return !ip_is_loopback(a) && !ip_is_multicast(a);
}

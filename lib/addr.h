/* addr: an IP address and port as a plain value (IPv4 kept as v4, not
 * v4-mapped), with text forms "1.2.3.4:5" and "[::1]:5". */
#ifndef MSOCK_ADDR_H
#define MSOCK_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
	ADDR_TEXT_MAX = 64, /* "[" + 45-char IPv6 + "]:" + 5 digits + NUL, rounded up */
};

struct ipport {
	uint8_t family; /* AF_INET or AF_INET6; 0 = unset */
	uint8_t ip[16]; /* IPv4 in the first 4 bytes */
	uint16_t port;	/* host order */
};

/* Parses "a.b.c.d:port" or "[v6]:port" (port 1..65535). Returns 0 or -EINVAL. */
int ipport_parse(const char *s, struct ipport *out);
/* Parses an address without a port ("a.b.c.d" or "v6"). Returns 0 or -EINVAL. */
int ip_parse(const char *s, struct ipport *out);
size_t ipport_format(const struct ipport *a, char *buf, size_t cap);
bool ipport_equal(const struct ipport *a, const struct ipport *b);
/* The same family and address; the ports may differ. */
bool ip_equal(const struct ipport *a, const struct ipport *b);
/* To and from sockaddr; v4-mapped IPv6 addresses come back as IPv4. */
socklen_t ipport_to_sockaddr(const struct ipport *a, struct sockaddr_storage *ss);
int ipport_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct ipport *out);

/* Kinds of address, as Go's net/netip Addr methods of the same names
 * (IsLoopback, IsMulticast, IsLinkLocalUnicast, IsPrivate), so code ported
 * from Tailscale keeps its meaning. As in Go, an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) is judged by the IPv4 inside; no family is none of them.
 *   loopback    127/8, ::1
 *   multicast   224/4, ff00::/8
 *   link_local  169.254/16, fe80::/10 (unicast)
 *   private     10/8, 172.16/12, 192.168/16 (RFC 1918), fc00::/7 (RFC 4193) */
bool ip_is_loopback(const struct ipport *a);
bool ip_is_multicast(const struct ipport *a);
bool ip_is_link_local(const struct ipport *a);
bool ip_is_private(const struct ipport *a);
/* IPv6 ::ffff:0:0/96 (RFC 4291 section 2.5.5.2). */
bool ip_is_v4_mapped(const struct ipport *a);

/* The one rule for an address a peer, a gateway or a URL gave us: whether
 * it can be the unicast destination (or source) of packets that leave this
 * host. False for NULL or no family, "this network" 0/8 (RFC 1122 section
 * 3.2.1.3: never a destination) and :: (RFC 4291 section 2.5.2), loopback,
 * multicast, and the limited broadcast 255.255.255.255 (our sockets have no
 * SO_BROADCAST); a v4-mapped address is judged by its IPv4. Private, CGNAT
 * and reserved ranges are usable: a gateway behind another NAT has one,
 * LAN peers have them, and 198.18.0.0/15 is our lab's internet. Tailscale
 * checks fewer cases (net/portmapper's upnp.go: unspecified and loopback
 * external IPs); the callers add what their protocol needs:
 *   NAT-PMP, PCP: this rule (natpmp.c, pcp.c)
 *   UPnP:         and not v4-mapped (upnp_addr_usable)
 *   disco:        and not link-local, port not 0 (disco_endpoint_usable) */
bool ip_unicast_usable(const struct ipport *a);

#endif

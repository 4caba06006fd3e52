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

#endif

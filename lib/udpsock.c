/* udpsock: the dataplane's three UDP sockets (udpsock.h): opened by the
 * broker, which keeps them across dataplane restarts, or, supervised from
 * outside without socket activation, by the dataplane itself. */
#include "udpsock.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

void udpsock_set_buffers(int fd, const char *what)
{
	int want = UDPSOCK_BUF_BYTES;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want)) < 0)
		log_warn("%s: cannot set the receive buffer: %s", what, strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want)) < 0)
		log_warn("%s: cannot set the send buffer: %s", what, strerror(errno));
}

uint16_t udpsock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					      : ((struct sockaddr_in *)&ss)->sin_port);
}

static int bind_port(int fd, int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_any;
		s6->sin6_port = htons(port);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		s4->sin_port = htons(port);
		len = sizeof(*s4);
	}
	return bind(fd, (struct sockaddr *)&ss, len) < 0 ? -errno : 0;
}

/* A UDP socket on `port`, or, when that port is taken, on one the kernel
 * picks (magicsock does the same and logs it). -errno when none works. */
int udpsock_open(int family, uint16_t port, const char *what)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), rc, on = 1;

	if (fd < 0)
		return -errno;
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	rc = bind_port(fd, family, port);
	if (rc == -EADDRINUSE && port != 0) {
		rc = bind_port(fd, family, 0);
		if (rc == 0)
			log_warn("%s: port %u is in use; using %u instead", what, port,
				 udpsock_port(fd));
	}
	if (rc < 0) {
		close(fd);
		return rc;
	}
	udpsock_set_buffers(fd, what);
	return fd;
}

/* The socket the per-peer loopback endpoints live on: bound to the
 * wildcard so every 127.x.y.z:<port> reaches it, and to the "lo" device so
 * nothing from another interface does. IP_PKTINFO tells which endpoint a
 * packet was sent to, and lets the dataplane answer from that address. */
int udpsock_open_wg(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), on = 1, rc;

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) < 0)
		log_warn("wireguard endpoints: cannot bind to the loopback device (%s); "
			 "packets from other interfaces are dropped by their source instead",
			 strerror(errno));
	if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	rc = bind_port(fd, AF_INET, port);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	udpsock_set_buffers(fd, "wireguard endpoints");
	return fd;
}

int udpsock_open_all(uint16_t port, uint16_t wg_port, int fds[UDPSOCK_N], char *err, size_t errcap)
{
	int fd;

	fds[UDPSOCK_UDP4] = fds[UDPSOCK_UDP6] = fds[UDPSOCK_WG] = -1;
	fd = udpsock_open(AF_INET, port, "udp4");
	if (fd < 0) {
		snprintf(err, errcap, "udp4 socket on port %u: %s", port, strerror(-fd));
		return fd;
	}
	fds[UDPSOCK_UDP4] = fd;
	/* IPv6 on the same port when it can; a host without IPv6 runs v4 only. */
	fd = udpsock_open(AF_INET6, udpsock_port(fds[UDPSOCK_UDP4]), "udp6");
	if (fd < 0)
		log_warn("udp6: no IPv6 socket (%s); IPv4 only", strerror(-fd));
	fds[UDPSOCK_UDP6] = fd < 0 ? -1 : fd;
	fd = udpsock_open_wg(wg_port);
	if (fd < 0) {
		snprintf(err, errcap, "wireguard endpoint socket on 127.0.0.0/8 port %u: %s",
			 wg_port, strerror(-fd));
		for (int i = 0; i < UDPSOCK_WG; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		fds[UDPSOCK_UDP4] = fds[UDPSOCK_UDP6] = -1;
		return fd;
	}
	fds[UDPSOCK_WG] = fd;
	return 0;
}

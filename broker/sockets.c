/* sockets: the dataplane's sockets, made and kept by the broker
 * (DESIGN.md, "Restart without loss"). The broker opens them once, keeps
 * them for as long as it runs, and lets every dataplane it starts inherit
 * them at exec; a restarted dataplane therefore has the same ports, and the
 * NAT mappings peers use stay valid. `msockctl rebind` makes new ones.
 *
 *   udp4  0.0.0.0:<listen_port>      peer traffic, disco, STUN (IPv4)
 *   udp6  [::]:<same port>           the same for IPv6 (IPV6_V6ONLY)
 *   wg    0.0.0.0:<wg_endpoint_port> bound to the loopback device only: the
 *         per-peer endpoints 127.x.y.z that WireGuard sends to
 *         (docs/dataplane.md)
 *
 * Buffers: Tailscale asks for 7 MiB (magicsock's socketBufferSize); past
 * net.core.rmem_max only SO_RCVBUFFORCE (CAP_NET_ADMIN) gets it, which the
 * broker has and the dataplane never will. */
#include "broker.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
	SOCK_BUF_BYTES = 7 << 20,
};

static void set_buffers(int fd, const char *what)
{
	int want = SOCK_BUF_BYTES;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want)) < 0)
		log_warn("%s: cannot set the receive buffer: %s", what, strerror(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want)) < 0)
		log_warn("%s: cannot set the send buffer: %s", what, strerror(errno));
}

static uint16_t bound_port(int fd)
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
static int open_udp(int family, uint16_t port, const char *what)
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
				 bound_port(fd));
	}
	if (rc < 0) {
		close(fd);
		return rc;
	}
	set_buffers(fd, what);
	return fd;
}

/* The socket the per-peer loopback endpoints live on: bound to the
 * wildcard so every 127.x.y.z:<port> reaches it, and to the "lo" device so
 * nothing from another interface does. IP_PKTINFO tells which endpoint a
 * packet was sent to, and lets the dataplane answer from that address. */
static int open_wg(uint16_t port)
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
	set_buffers(fd, "wireguard endpoints");
	return fd;
}

void broker_sockets_close(struct broker *b)
{
	int *fds[] = {&b->dp.udp4, &b->dp.udp6, &b->dp.wg};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int broker_sockets_open(struct broker *b, char *err, size_t errcap)
{
	uint16_t want = (uint16_t)b->cfg->listen_port, wg_want = (uint16_t)b->cfg->wg_endpoint_port;
	int fd;

	/* A rebind asks for the port we had; the config's port otherwise. */
	if (b->dp.port && b->cfg->listen_port == b->dp.cfg_port)
		want = b->dp.port;
	if (b->dp.wg_port && b->cfg->wg_endpoint_port == b->dp.cfg_wg_port)
		wg_want = b->dp.wg_port;
	broker_sockets_close(b);
	fd = open_udp(AF_INET, want, "udp4");
	if (fd < 0) {
		snprintf(err, errcap, "udp4 socket on port %u: %s", want, strerror(-fd));
		return fd;
	}
	b->dp.udp4 = fd;
	b->dp.port = bound_port(fd);
	/* IPv6 on the same port when it can; a host without IPv6 runs v4 only. */
	fd = open_udp(AF_INET6, b->dp.port, "udp6");
	if (fd < 0)
		log_warn("udp6: no IPv6 socket (%s); IPv4 only", strerror(-fd));
	b->dp.udp6 = fd < 0 ? -1 : fd;
	fd = open_wg(wg_want);
	if (fd < 0) {
		snprintf(err, errcap, "wireguard endpoint socket on 127.0.0.0/8 port %u: %s",
			 wg_want, strerror(-fd));
		broker_sockets_close(b);
		return fd;
	}
	b->dp.wg = fd;
	b->dp.wg_port = bound_port(fd);
	b->dp.cfg_port = b->cfg->listen_port;
	b->dp.cfg_wg_port = b->cfg->wg_endpoint_port;
	log_info("dataplane sockets: udp4 port %u, udp6 %s%u, wireguard endpoints "
		 "127.x.y.z port %u",
		 b->dp.port, b->dp.udp6 < 0 ? "none " : "port ",
		 b->dp.udp6 < 0 ? 0 : bound_port(b->dp.udp6), b->dp.wg_port);
	return 0;
}

void broker_sockets_adopted(struct broker *b)
{
	b->dp.port = bound_port(b->dp.udp4);
	b->dp.wg_port = bound_port(b->dp.wg);
	b->dp.cfg_port = b->cfg->listen_port;
	b->dp.cfg_wg_port = b->cfg->wg_endpoint_port;
	b->dp.rebind = false;
}

/* In the forked child, just before exec: let these survive the exec. */
void broker_sockets_inherit(const struct broker *b)
{
	int fds[] = {b->dp.udp4, b->dp.udp6, b->dp.wg};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			fcntl(fds[i], F_SETFD, 0);
}

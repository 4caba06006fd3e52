/* udpsock: the dataplane's UDP sockets, made the same way by whoever makes
 * them (the broker, or the dataplane run without one; docs/deploy.md):
 *
 *   udp4  0.0.0.0:<listen_port>      peer traffic, disco, STUN (IPv4)
 *   udp6  [::]:<same port>           the same for IPv6 (IPV6_V6ONLY)
 *   wg    0.0.0.0:<wg_endpoint_port> bound to the loopback device only: the
 *         per-peer endpoints 127.x.y.z that WireGuard sends to, with
 *         IP_PKTINFO (docs/dataplane.md)
 *
 * Buffers: Tailscale asks for 7 MiB (magicsock's socketBufferSize); past
 * net.core.rmem_max only SO_RCVBUFFORCE (CAP_NET_ADMIN) gets it. */
#ifndef MSOCK_UDPSOCK_H
#define MSOCK_UDPSOCK_H

#include <stddef.h>
#include <stdint.h>

enum {
	UDPSOCK_BUF_BYTES = 7 << 20,
};

/* The three, in this order, in udpsock_open_all's fds[]. */
enum { UDPSOCK_UDP4 = 0, UDPSOCK_UDP6, UDPSOCK_WG, UDPSOCK_N };

/* A nonblocking UDP socket of `family` on `port`, or, when that port is
 * taken, on one the kernel picks (magicsock does the same, and logs it);
 * `what` names it in messages. Returns the fd or -errno. */
int udpsock_open(int family, uint16_t port, const char *what);
/* The WireGuard-facing socket on `port` (0: any), device lo, IP_PKTINFO. */
int udpsock_open_wg(uint16_t port);
/* All three: udp4 on `port` (another when it is taken), udp6 on udp4's port
 * (-1 when the host has no IPv6; logged), wg on `wg_port`. Returns 0, or
 * -errno with which one failed in err and nothing left open. */
int udpsock_open_all(uint16_t port, uint16_t wg_port, int fds[UDPSOCK_N], char *err, size_t errcap);
/* Asks for UDPSOCK_BUF_BYTES each way (forced when allowed); logs failure. */
void udpsock_set_buffers(int fd, const char *what);
/* The port fd is bound to, or 0. */
uint16_t udpsock_port(int fd);

#endif

/* derper_stun: the STUN server beside the relay (Tailscale's derper serves
 * STUN on -stun-port, 3478): answers each binding request with the source
 * address it came from (XOR-MAPPED-ADDRESS). */
#ifndef MSOCK_DERPER_STUN_H
#define MSOCK_DERPER_STUN_H

#include "derper.h"

/* Opens a UDP socket on port (both IPv4 and IPv6 where available). Returns
 * the fd or -errno. */
int derper_stun_open(int port);
/* Drains the socket: answers requests, counts bad packets. */
void derper_stun_on_readable(struct derper *s, int fd);

#endif

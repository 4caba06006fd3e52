/* derper_stun: the STUN server beside the relay (Tailscale's derper serves
 * STUN on -stun-port, 3478): answers each binding request with the source
 * address it came from (XOR-MAPPED-ADDRESS). */
#ifndef MSOCK_DERPER_STUN_H
#define MSOCK_DERPER_STUN_H

#include "addr.h"
#include "derper.h"

/* Opens a UDP socket on ip:port (-a's address), or on every address, both
 * IPv4 and IPv6, when ip is NULL or its family 0. Returns the fd or
 * -errno. */
int derper_stun_open(const struct ipport *ip, int port);
/* Drains the socket: answers requests, counts bad packets. */
void derper_stun_on_readable(struct derper *s, int fd);

#endif

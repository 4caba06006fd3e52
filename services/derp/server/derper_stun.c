/* derper_stun: see derper_stun.h. Bad packets are counted and dropped
 * without an answer (a STUN server must not be a reflector for junk). */
#include "derper_stun.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stun/stun.h"

enum {
	DERPER_STUN_MAX_BYTES = 1500, /* a binding request is ~28-48 bytes; more is not one */
	DERPER_STUN_BATCH = 64,	      /* packets per wake-up, then back to the loop */
};

int derper_stun_open(const struct ipport *ip, int port)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	int zero = 0, fd;

	if (ip && ip->family) {
		/* Bound to -a's address, as Tailscale's derper: answers leave
		 * from the address the client asked (a wildcard socket would
		 * answer from the interface's primary address). */
		struct ipport a = *ip;
		a.port = (uint16_t)port;
		sl = ipport_to_sockaddr(&a, &ss);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		sl = sizeof(*a);
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Without an address, one dual-stack socket: IPv4 arrives v4-mapped. */
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

void derper_stun_on_readable(struct derper *s, int fd)
{
	for (int i = 0; i < DERPER_STUN_BATCH; i++) {
		uint8_t in[DERPER_STUN_MAX_BYTES], out[128], txid[STUN_TXID_BYTES];
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		struct ipport src;
		size_t n;
		ssize_t r = recvfrom(fd, in, sizeof(in), 0, (struct sockaddr *)&from, &fl);

		if (r < 0)
			return;
		if (ipport_from_sockaddr((struct sockaddr *)&from, fl, &src) < 0 ||
		    stun_parse_binding_request(in, (size_t)r, txid) < 0) {
			s->ctr.stun_bad++;
			continue;
		}
		s->ctr.stun_requests++;
		n = stun_binding_response(txid, &src, out, sizeof(out));
		if (n)
			sendto(fd, out, n, 0, (struct sockaddr *)&from, fl);
	}
}

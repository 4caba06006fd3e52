/* probe: the dataplane's probe sockets, for birthday-paradox hole punching
 * (docs/disco.md, "Hard NATs"). Behind a NAT whose mapping depends on the
 * destination, each local port the peer is sent to from gets its own
 * mapping; disco sends from up to DP_PROBE_SOCKS ports so that a peer
 * probing random ports of our public address finds one. A probe socket is
 * opened on the first packet a service sends from it (pktchan sock
 * 1..DP_PROBE_SOCKS), read through one epoll set, and closed after
 * DP_PROBE_IDLE_MS without a packet either way; a path disco found through
 * one (PathChanged local_socket) sends WireGuard from it.
 *
 * These sockets are the dataplane's own, not the broker's: a restarted
 * dataplane opens new ones on new ports, so a path through one is lost
 * with a dataplane restart (disco falls back to DERP and punches again). */
#include "dp.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int dp_probe_init(struct dp *d)
{
	for (size_t i = 0; i < DP_PROBE_SOCKS; i++)
		d->probe[i].fd = -1;
	/* The epoll set is made with the first probe socket: start-up closes
	 * every descriptor it does not know of before the sandbox. */
	d->probe_ep = -1;
	dp_txq_init(&d->txprobe, -1, false, false);
	return 0;
}

static void probe_close(struct dp *d, struct dp_probe *s)
{
	if (s->fd < 0)
		return;
	epoll_ctl(d->probe_ep, EPOLL_CTL_DEL, s->fd, 0);
	if (d->txprobe.fd == s->fd) {
		dp_txq_flush(d, &d->txprobe);
		d->txprobe.fd = -1;
	}
	close(s->fd);
	s->fd = -1;
	s->port = 0;
	d->n_probe_open--;
}

void dp_probe_free(struct dp *d)
{
	for (size_t i = 0; i < DP_PROBE_SOCKS; i++)
		probe_close(d, &d->probe[i]);
	if (d->probe_ep >= 0)
		close(d->probe_ep);
	d->probe_ep = -1;
}

/* The socket of index sock (1..DP_PROBE_SOCKS), opened if need be: IPv4,
 * any address, a port of the kernel's choosing. -1 when it cannot be. */
static int probe_fd(struct dp *d, uint16_t sock)
{
	struct dp_probe *s = &d->probe[sock - 1];
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = sock};

	if (s->fd >= 0)
		return s->fd;
	if (d->probe_ep < 0 && (d->probe_ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		log_rl(&d->rl, d->now_ns, LOG_LEVEL_WARN, "probe sockets: epoll: %s",
		       strerror(errno));
		d->c.probe_errors++;
		return -1;
	}
	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(s->fd, (struct sockaddr *)&sa, &len) < 0 ||
	    epoll_ctl(d->probe_ep, EPOLL_CTL_ADD, s->fd, &ev) < 0) {
		log_rl(&d->rl, d->now_ns, LOG_LEVEL_WARN, "probe socket %u: %s", sock,
		       strerror(errno));
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
		d->c.probe_errors++;
		return -1;
	}
	s->port = ntohs(sa.sin_port);
	d->n_probe_open++;
	d->c.probe_opened++;
	return s->fd;
}

void dp_send_udp_sock(struct dp *d, uint16_t sock, const struct ipport *to, const uint8_t *p,
		      size_t len)
{
	int fd;

	/* Every UDP send passes here: WireGuard's, disco's and netcheck's. */
	if (d->cap)
		dp_capture_udp(d, CAPTURE_DIR_TX, to, sock, p, len);
	if (!sock) {
		dp_send_udp(d, to, p, len);
		return;
	}
	if (sock > DP_PROBE_SOCKS || to->family != AF_INET || (fd = probe_fd(d, sock)) < 0) {
		d->c.tx_errors++;
		return;
	}
	d->probe[sock - 1].last_ns = d->now_ns;
	/* One queue for all probe sockets: a send from another one flushes
	 * what is queued first (paths through probe sockets are few). */
	if (d->txprobe.fd != fd) {
		if (d->txprobe.n_msgs)
			dp_txq_flush(d, &d->txprobe);
		d->txprobe.fd = fd;
	}
	dp_txq_add(d, &d->txprobe, to, 0, p, len);
}

int dp_probe_rx(struct dp *d)
{
	struct epoll_event ev[64];
	int n = d->probe_ep < 0 ? 0 : epoll_wait(d->probe_ep, ev, 64, 0), total = 0;

	for (int i = 0; i < n; i++) {
		uint16_t sock = (uint16_t)ev[i].data.u32;
		struct dp_probe *s;
		if (sock < 1 || sock > DP_PROBE_SOCKS || (s = &d->probe[sock - 1])->fd < 0)
			continue;
		s->last_ns = d->now_ns;
		d->rx_sock = sock;
		total += dp_rx_batch(d, s->fd, false, dp_on_udp);
		d->rx_sock = 0;
		/* What was queued points into the receive slots the next read
		 * reuses. */
		dp_flush_all(d);
	}
	return total;
}

void dp_probe_gc(struct dp *d)
{
	uint64_t idle = (uint64_t)DP_PROBE_IDLE_MS * 1000000u;

	if (!d->n_probe_open || d->now_ns < d->probe_next_gc_ns)
		return;
	d->probe_next_gc_ns = d->now_ns + 1000000000u;
	for (size_t i = 0; i < DP_PROBE_SOCKS; i++)
		if (d->probe[i].fd >= 0 && d->now_ns - d->probe[i].last_ns >= idle)
			probe_close(d, &d->probe[i]);
}

/* io: batched socket I/O. Reads are recvmmsg of up to DP_BATCH datagrams;
 * with UDP_GRO one read may carry several datagrams of one sender, split
 * here by the segment size the kernel reports. Sends are queued and go out
 * with one sendmmsg per flush; consecutive datagrams to one address with
 * one size become one UDP_SEGMENT (GSO) send of up to DP_GSO_MAX_SEGS. When
 * the kernel refuses GSO with EIO (a device without checksum offload, as
 * Tailscale found), GSO is switched off for good and the packets go out one
 * by one. Nothing here blocks: a full socket buffer drops and counts. */
#include "dp.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

enum { CTRL_BYTES = 64 };

void dp_io_setup(struct dp *d)
{
	int on = 1, val = 0;
	socklen_t len = sizeof(val);

	if (d->gso && getsockopt(d->udp4, SOL_UDP, UDP_SEGMENT, &val, &len) < 0)
		d->gso = false;
	if (d->gro) {
		if (setsockopt(d->udp4, SOL_UDP, UDP_GRO, &on, sizeof(on)) < 0 ||
		    (d->udp6 >= 0 && setsockopt(d->udp6, SOL_UDP, UDP_GRO, &on, sizeof(on)) < 0))
			d->gro = false;
	}
	len = sizeof(d->rcvbuf);
	getsockopt(d->udp4, SOL_SOCKET, SO_RCVBUF, &d->rcvbuf, &len);
	len = sizeof(d->sndbuf);
	getsockopt(d->udp4, SOL_SOCKET, SO_SNDBUF, &d->sndbuf, &len);
	dp_txq_init(&d->tx4, d->udp4, false, d->gso);
	dp_txq_init(&d->tx6, d->udp6, false, d->gso);
	dp_txq_init(&d->txwg, d->wg, true, d->gso);
}

void dp_txq_init(struct dp_txq *q, int fd, bool wg, bool gso)
{
	memset(q, 0, sizeof(*q));
	q->fd = fd;
	q->wg = wg;
	q->gso = gso;
}

void dp_txq_add(struct dp *d, struct dp_txq *q, const struct ipport *to, uint32_t src_lo,
		const uint8_t *data, size_t len)
{
	struct dp_txmsg *m;

	if (q->fd < 0 || len > UINT16_MAX) {
		d->c.tx_errors++;
		return;
	}
	if (q->n_msgs == DP_BATCH || q->n_iov == DP_BATCH)
		dp_txq_flush(d, q);
	m = q->n_msgs ? &q->msgs[q->n_msgs - 1] : 0;
	if (q->gso && m && !m->closed && len && len <= m->seg && m->n_iov < DP_GSO_MAX_SEGS &&
	    m->bytes + len <= DP_GSO_MAX_BYTES && m->src_lo == src_lo && ipport_equal(&m->to, to)) {
		m->n_iov++;
		m->bytes += (uint32_t)len;
		m->closed = len < m->seg; /* only the last segment may be short */
	} else {
		m = &q->msgs[q->n_msgs++];
		m->to = *to;
		m->src_lo = src_lo;
		m->seg = (uint16_t)len;
		m->n_iov = 1;
		m->bytes = (uint32_t)len;
		m->first_iov = q->n_iov;
		m->closed = false;
	}
	q->iov[q->n_iov++] = (struct iovec){.iov_base = (void *)data, .iov_len = len};
}

static void fill_msg(const struct dp_txq *q, const struct dp_txmsg *m, bool gso, struct msghdr *h,
		     struct sockaddr_storage *ss, uint8_t *ctrl)
{
	struct cmsghdr *c;
	size_t used = 0;

	memset(h, 0, sizeof(*h));
	h->msg_name = ss;
	h->msg_namelen = ipport_to_sockaddr(&m->to, ss);
	h->msg_iov = (struct iovec *)&q->iov[m->first_iov];
	h->msg_iovlen = m->n_iov;
	h->msg_control = ctrl;
	h->msg_controllen = CTRL_BYTES;
	memset(ctrl, 0, CTRL_BYTES);
	c = CMSG_FIRSTHDR(h);
	if (q->wg) {
		struct in_pktinfo pi = {0};
		pi.ipi_spec_dst.s_addr = htonl(m->src_lo);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		used += CMSG_SPACE(sizeof(pi));
		c = CMSG_NXTHDR(h, c);
	}
	if (gso && m->n_iov > 1) {
		uint16_t seg = m->seg;
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(seg));
		memcpy(CMSG_DATA(c), &seg, sizeof(seg));
		used += CMSG_SPACE(sizeof(seg));
	}
	h->msg_controllen = used;
	if (!used)
		h->msg_control = 0;
}

/* Sends one queued message as separate datagrams (GSO refused). */
static void send_split(struct dp *d, struct dp_txq *q, const struct dp_txmsg *m)
{
	for (uint32_t i = 0; i < m->n_iov; i++) {
		struct dp_txmsg one = *m;
		struct sockaddr_storage ss;
		uint8_t ctrl[CTRL_BYTES];
		struct msghdr h;
		one.first_iov = m->first_iov + i;
		one.n_iov = 1;
		fill_msg(q, &one, false, &h, &ss, ctrl);
		if (sendmsg(q->fd, &h, MSG_DONTWAIT) < 0)
			d->c.tx_errors++;
		else
			d->c.tx_packets++;
	}
}

void dp_txq_flush(struct dp *d, struct dp_txq *q)
{
	struct mmsghdr mm[DP_BATCH];
	struct sockaddr_storage ss[DP_BATCH];
	uint8_t ctrl[DP_BATCH][CTRL_BYTES];
	uint32_t done = 0;

	for (uint32_t i = 0; i < q->n_msgs; i++) {
		fill_msg(q, &q->msgs[i], q->gso, &mm[i].msg_hdr, &ss[i], ctrl[i]);
		mm[i].msg_len = 0;
	}
	while (done < q->n_msgs) {
		int n = sendmmsg(q->fd, mm + done, q->n_msgs - done, MSG_DONTWAIT);
		if (n > 0) {
			for (uint32_t i = done; i < done + (uint32_t)n; i++) {
				d->c.tx_packets += q->msgs[i].n_iov;
				if (q->msgs[i].n_iov > 1)
					d->c.gso_sends++;
			}
			done += (uint32_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EIO && q->gso) {
			/* Tailscale's fallback: the kernel cannot segment here. */
			log_warn("sendmmsg: EIO with UDP GSO; turning GSO off");
			d->gso = d->tx4.gso = d->tx6.gso = d->txwg.gso = false;
			for (uint32_t i = done; i < q->n_msgs; i++)
				send_split(d, q, &q->msgs[i]);
			break;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
			/* Full: drop the rest, like a full NIC queue. */
			for (uint32_t i = done; i < q->n_msgs; i++)
				d->c.tx_errors += q->msgs[i].n_iov;
			break;
		}
		/* This one failed (no route, ICMP error reported, ...): skip it. */
		log_rl(&d->rl, d->now_ns, LOG_LEVEL_WARN, "send to %s: %s",
		       q->wg ? "wireguard" : "a peer", strerror(errno));
		d->c.tx_errors += q->msgs[done].n_iov;
		done++;
	}
	q->n_msgs = 0;
	q->n_iov = 0;
}

void dp_flush_all(struct dp *d)
{
	if (d->tx4.n_msgs)
		dp_txq_flush(d, &d->tx4);
	if (d->tx6.n_msgs)
		dp_txq_flush(d, &d->tx6);
	if (d->txwg.n_msgs)
		dp_txq_flush(d, &d->txwg);
	if (d->txprobe.n_msgs)
		dp_txq_flush(d, &d->txprobe);
}

int dp_rx_batch(struct dp *d, int fd, bool pktinfo, dp_rx_fn fn)
{
	struct mmsghdr mm[DP_BATCH];
	struct iovec iov[DP_BATCH];
	struct sockaddr_storage from[DP_BATCH];
	uint8_t ctrl[DP_BATCH][CTRL_BYTES];
	int n, total = 0;

	for (int i = 0; i < DP_BATCH; i++) {
		iov[i] = (struct iovec){.iov_base = d->rxbuf + (size_t)i * DP_RX_SLOT_BYTES,
					.iov_len = DP_RX_SLOT_BYTES};
		memset(&mm[i], 0, sizeof(mm[i]));
		mm[i].msg_hdr.msg_name = &from[i];
		mm[i].msg_hdr.msg_namelen = sizeof(from[i]);
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		mm[i].msg_hdr.msg_control = ctrl[i];
		mm[i].msg_hdr.msg_controllen = CTRL_BYTES;
	}
	n = recvmmsg(fd, mm, DP_BATCH, MSG_DONTWAIT, 0);
	if (n <= 0)
		return 0;
	d->c.rx_batches++;
	for (int i = 0; i < n; i++) {
		struct msghdr *h = &mm[i].msg_hdr;
		const uint8_t *p = iov[i].iov_base;
		size_t len = mm[i].msg_len, seg = 0;
		uint32_t to_lo = 0;
		struct ipport src;
		if (h->msg_flags & MSG_TRUNC ||
		    ipport_from_sockaddr((struct sockaddr *)&from[i], h->msg_namelen, &src) < 0)
			continue;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
			if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
				int v;
				memcpy(&v, CMSG_DATA(c), sizeof(v));
				seg = v > 0 ? (size_t)v : 0;
			} else if (pktinfo && c->cmsg_level == IPPROTO_IP &&
				   c->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;
				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				to_lo = ntohl(pi.ipi_addr.s_addr);
			}
		}
		if (!seg || seg >= len) {
			fn(d, &src, to_lo, p, len);
			total++;
			continue;
		}
		for (size_t off = 0; off < len; off += seg) {
			fn(d, &src, to_lo, p + off, len - off < seg ? len - off : seg);
			total++;
		}
	}
	d->c.rx_packets += (uint64_t)total;
	return total;
}

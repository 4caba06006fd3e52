/* netmon: the link monitor's socket (netmon.h): a NETLINK_ROUTE socket
 * subscribed to links, addresses and routes, the dumps it asks for, and
 * the datagrams it reads into the pure core (netmon_parse.c,
 * netmon_state.c), after Tailscale's net/netmon (netmon_linux.go).
 * Timers (netmon_deadline_ns): a dump not finished NETMON_DUMP_TIMEOUT_MS
 * after its request is abandoned and asked for again; a request the kernel
 * refused, or a dump that failed, is sent again after NETMON_RETRY_MS. */
#include "netmon_internal.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define GROUPS                                                                       \
	(RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | \
	 RTMGRP_IPV6_ROUTE)

struct netmon {
	int fd;
	uint32_t seq;		   /* of the last dump request */
	uint64_t dump_deadline_ns; /* the dump in progress is given up then */
	uint64_t retry_ns;	   /* no request before then (after a failure) */
	struct log_ratelimit rl;
	struct netmon_state st;
	uint8_t buf[NETMON_RECV_BYTES];
};

static int send_dump(struct netmon *nm, unsigned kind, uint32_t seq)
{
	struct {
		struct nlmsghdr h;
		union {
			struct ifinfomsg link;
			struct ifaddrmsg addr;
			struct rtmsg route;
		} body;
	} req;
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};

	/* Every family (AF_UNSPEC, 0): v4 and v6 in one dump. */
	memset(&req, 0, sizeof(req));
	if (kind == NETMON_DUMP_LINKS) {
		req.h.nlmsg_type = RTM_GETLINK;
		req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.body.link));
	} else if (kind == NETMON_DUMP_ADDRS) {
		req.h.nlmsg_type = RTM_GETADDR;
		req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.body.addr));
	} else {
		req.h.nlmsg_type = RTM_GETROUTE;
		req.h.nlmsg_len = NLMSG_LENGTH(sizeof(req.body.route));
	}
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.h.nlmsg_seq = seq;
	if (sendto(nm->fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) <
	    0)
		return -errno;
	return 0;
}

static const char *dump_name(unsigned kind)
{
	return kind == NETMON_DUMP_LINKS   ? "links"
	       : kind == NETMON_DUMP_ADDRS ? "addresses"
					   : "routes";
}

/* One dump at a time (the kernel runs one per socket): links, addresses,
 * routes, in that order, so addresses and routes find their links. */
static void drive_dumps(struct netmon *nm, uint64_t now_ns)
{
	struct netmon_state *st = &nm->st;
	unsigned kind;
	int rc;

	if (st->dump && now_ns >= nm->dump_deadline_ns) {
		log_rl(&nm->rl, now_ns, LOG_LEVEL_WARN,
		       "netmon: the dump of %s took over %d ms; asking again", dump_name(st->dump),
		       NETMON_DUMP_TIMEOUT_MS);
		netmon_state_dump_abort(st);
	}
	if (st->dump || !st->pending || now_ns < nm->retry_ns)
		return;
	kind = st->pending & -st->pending;
	if (++nm->seq == 0)
		nm->seq = 1;
	rc = send_dump(nm, kind, nm->seq);
	if (rc < 0) {
		log_rl(&nm->rl, now_ns, LOG_LEVEL_WARN, "netmon: dump of %s: %s; retrying in %d ms",
		       dump_name(kind), strerror(-rc), NETMON_RETRY_MS);
		nm->retry_ns = now_ns + (uint64_t)NETMON_RETRY_MS * NS_PER_MS;
		return;
	}
	netmon_state_dump_begin(st, kind, nm->seq);
	nm->dump_deadline_ns = now_ns + (uint64_t)NETMON_DUMP_TIMEOUT_MS * NS_PER_MS;
}

/* Events were lost: everything is dumped again. The dump in progress may
 * have lost some of its own (a datagram cut short): it sweeps nothing. */
static void overrun(struct netmon *nm, uint64_t now_ns, const char *why)
{
	nm->st.stats.overruns++;
	nm->st.pending = NETMON_DUMP_ALL;
	if (nm->st.dump)
		nm->st.dump_intr = true;
	log_rl(&nm->rl, now_ns, LOG_LEVEL_WARN, "netmon: %s: events lost; dumping everything again",
	       why);
}

static void read_some(struct netmon *nm, uint64_t now_ns)
{
	struct netmon_state *st = &nm->st;

	for (int i = 0; i < NETMON_READS_PER_CALL; i++) {
		struct sockaddr_nl from;
		struct iovec iov = {.iov_base = nm->buf, .iov_len = sizeof(nm->buf)};
		struct msghdr mh = {.msg_name = &from,
				    .msg_namelen = sizeof(from),
				    .msg_iov = &iov,
				    .msg_iovlen = 1};
		uint64_t failures = st->stats.dump_failures;
		ssize_t n = recvmsg(nm->fd, &mh, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				overrun(nm, now_ns, "receive buffer full");
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_rl(&nm->rl, now_ns, LOG_LEVEL_WARN, "netmon: recvmsg: %s",
				       strerror(errno));
			return;
		}
		/* Only the kernel (port 0) speaks for the kernel. */
		if (mh.msg_namelen < sizeof(from) || from.nl_family != AF_NETLINK ||
		    from.nl_pid != 0) {
			st->stats.foreign++;
			continue;
		}
		if (mh.msg_flags & MSG_TRUNC) {
			overrun(nm, now_ns, "datagram larger than NETMON_RECV_BYTES");
			continue;
		}
		if (netmon_parse(nm->buf, (size_t)n, st) < 0)
			log_rl(&nm->rl, now_ns, LOG_LEVEL_WARN,
			       "netmon: malformed netlink datagram of %zd bytes (%llu so far); "
			       "dropped what did not parse",
			       n,
			       (unsigned long long)(st->stats.bad_buffers +
						    st->stats.bad_messages));
		if (st->stats.dump_failures != failures)
			nm->retry_ns = now_ns + (uint64_t)NETMON_RETRY_MS * NS_PER_MS;
		drive_dumps(nm, now_ns);
	}
}

int netmon_open(struct netmon **out)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = GROUPS};
	socklen_t salen = sizeof(sa);
	int rcvbuf = NETMON_RCVBUF_BYTES, rc;
	uint64_t now, end;
	struct netmon *nm;

	*out = NULL;
	nm = calloc(1, sizeof(*nm));
	if (!nm)
		return -ENOMEM;
	netmon_state_init(&nm->st);
	log_ratelimit_init(&nm->rl, LOG_RATELIMIT_DEFAULT_MS);
	nm->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nm->fd < 0) {
		rc = -errno;
		goto out;
	}
	/* Past rmem_max only with CAP_NET_ADMIN; the plain option is capped. */
	if (setsockopt(nm->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(nm->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(nm->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(nm->fd, (struct sockaddr *)&sa, &salen) < 0) {
		rc = -errno;
		goto out;
	}
	nm->st.portid = sa.nl_pid;
	nm->st.pending = NETMON_DUMP_ALL;
	now = clock_mono_ns();
	end = now + (uint64_t)NETMON_OPEN_TIMEOUT_MS * NS_PER_MS;
	for (;;) {
		struct pollfd pfd = {.fd = nm->fd, .events = POLLIN};
		uint64_t wake;
		drive_dumps(nm, now);
		if (!nm->st.dump && !nm->st.pending)
			break;
		if (now >= end) {
			rc = -ETIMEDOUT;
			goto out;
		}
		wake = netmon_deadline_ns(nm) < end ? netmon_deadline_ns(nm) : end;
		if (poll(&pfd, 1, wake > now ? (int)((wake - now) / NS_PER_MS) + 1 : 0) < 0 &&
		    errno != EINTR) {
			rc = -errno;
			goto out;
		}
		read_some(nm, now);
		now = clock_mono_ns();
	}
	netmon_state_change(&nm->st); /* the baseline */
	*out = nm;
	return 0;
out:
	netmon_free(nm);
	return rc;
}

void netmon_free(struct netmon *nm)
{
	if (!nm)
		return;
	if (nm->fd >= 0)
		close(nm->fd);
	free(nm);
}

int netmon_fd(const struct netmon *nm)
{
	return nm->fd;
}

enum netmon_change netmon_on_readable(struct netmon *nm, uint64_t now_ns)
{
	read_some(nm, now_ns);
	drive_dumps(nm, now_ns);
	/* Judge a consistent state: not halfway through a dump (after lost
	 * events, or for routes the kernel removed without a word). */
	if (nm->st.dump)
		return NETMON_CHANGE_NONE;
	return netmon_state_change(&nm->st);
}

uint64_t netmon_deadline_ns(const struct netmon *nm)
{
	if (nm->st.dump)
		return nm->dump_deadline_ns;
	if (nm->st.pending)
		return nm->retry_ns;
	return UINT64_MAX;
}

size_t netmon_addrs(const struct netmon *nm, struct ipport *out, size_t cap)
{
	return netmon_state_addrs(&nm->st, out, cap);
}

int netmon_default_route(const struct netmon *nm, int family, struct netmon_default *out)
{
	return netmon_state_default_route(&nm->st, family, out);
}

const struct netmon_stats *netmon_stats(const struct netmon *nm)
{
	return &nm->st.stats;
}

void netmon_summary(const struct netmon *nm, struct netmon_summary *out)
{
	netmon_state_summary(&nm->st, out);
}

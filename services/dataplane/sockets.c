/* sockets: where the dataplane's three UDP sockets (lib/udpsock.h) come
 * from, in this order (docs/deploy.md):
 *   1. the broker: MSOCK_UDP4_FD, MSOCK_UDP6_FD, MSOCK_WG_FD, inherited;
 *      it keeps them across the dataplane's restarts (and its own);
 *   2. systemd's socket activation (LISTEN_FDS): msock-dataplane.socket
 *      (udp4, udp6) and msock-dataplane-wg.socket (FileDescriptorName=wg,
 *      BindToDevice=lo); systemd keeps them across our restarts;
 *   3. our own, on the config's ports, when supervised from outside
 *      without socket activation (a container): a restart gets the same
 *      ports when the config fixes them.
 * All of it happens before the sandbox, as root. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dp_main.h"
#include "listen_fds.h"
#include "log.h"
#include "udpsock.h"

/* 1: a fd number in the environment; -1 when unset and not required. */
static int env_fd(const char *name, bool required)
{
	const char *v = getenv(name);
	char *end;
	long fd;
	int type = 0;
	socklen_t len = sizeof(type);

	if (!v || !*v) {
		if (required)
			log_error("%s is not set: the dataplane's sockets come from the broker",
				  name);
		return required ? -EINVAL : -1;
	}
	fd = strtol(v, &end, 10);
	if (*end || fd < -1 || fd > 65535) {
		log_error("%s: expected a file descriptor, got \"%s\"", name, v);
		return -EINVAL;
	}
	if (fd == -1 && !required)
		return -1;
	if (getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_DGRAM) {
		log_error("%s: fd %ld is not a UDP socket", name, fd);
		return -EINVAL;
	}
	return (int)fd;
}

static int from_broker(int *udp4, int *udp6, int *wg)
{
	*udp4 = env_fd("MSOCK_UDP4_FD", true);
	*udp6 = env_fd("MSOCK_UDP6_FD", false);
	*wg = env_fd("MSOCK_WG_FD", true);
	return *udp4 < 0 || *wg < 0 || *udp6 < -1 ? -EINVAL : 0;
}

/* 2: which of udp4, udp6, wg a handed-over socket is: the one named "wg"
 * or bound to the loopback device is WireGuard's; the others go by family. */
static int classify(const struct listen_fd *l, int *slot[3])
{
	int type = 0, dom = 0, which;
	char dev[16] = "";
	socklen_t l1 = sizeof(type), l2 = sizeof(dom), l3 = sizeof(dev);

	if (getsockopt(l->fd, SOL_SOCKET, SO_TYPE, &type, &l1) < 0 || type != SOCK_DGRAM ||
	    getsockopt(l->fd, SOL_SOCKET, SO_DOMAIN, &dom, &l2) < 0 ||
	    (dom != AF_INET && dom != AF_INET6)) {
		log_error("socket activation: fd %d (\"%s\") is not a UDP socket", l->fd, l->name);
		return -EINVAL;
	}
	getsockopt(l->fd, SOL_SOCKET, SO_BINDTODEVICE, dev, &l3);
	if (strcmp(l->name, "wg") == 0 || strcmp(dev, "lo") == 0)
		which = 2;
	else
		which = dom == AF_INET6 ? 1 : 0;
	if (which == 2 && dom != AF_INET) {
		log_error("socket activation: the WireGuard socket (fd %d) must be IPv4", l->fd);
		return -EINVAL;
	}
	if (*slot[which] >= 0) {
		log_error("socket activation: fds %d and %d are both the %s socket", *slot[which],
			  l->fd,
			  which == 2   ? "wg"
			  : which == 1 ? "udp6"
				       : "udp4");
		return -EINVAL;
	}
	*slot[which] = l->fd;
	return 0;
}

/* The settings socket activation does not make: nonblocking, IP_PKTINFO
 * on the WireGuard socket (it answers from the address written to). */
static int finish_activated(int fd, bool wg)
{
	int on = 1, fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    (wg && setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)) < 0))
		return -errno;
	return 0;
}

static int from_systemd(struct component *c, int n, const struct listen_fd *l, int *udp4, int *udp6,
			int *wg)
{
	int *slot[3] = {udp4, udp6, wg};

	*udp4 = *udp6 = *wg = -1;
	for (int i = 0; i < n; i++)
		if (classify(&l[i], slot) < 0)
			return -EINVAL;
	if (*udp4 < 0 || *wg < 0) {
		log_error("socket activation: %d sockets, but no %s one (msock-dataplane.socket "
			  "and msock-dataplane-wg.socket, docs/deploy.md)",
			  n, *udp4 < 0 ? "IPv4 peer" : "WireGuard (FileDescriptorName=wg)");
		return -EINVAL;
	}
	for (int i = 0; i < 3; i++) {
		int rc;
		if (*slot[i] < 0)
			continue;
		if ((rc = finish_activated(*slot[i], i == 2)) < 0 ||
		    (rc = component_keep_fd(c, *slot[i])) < 0) {
			log_error("socket activation: fd %d: %s", *slot[i], strerror(-rc));
			return rc;
		}
	}
	log_info("sockets from systemd: udp4 port %u, udp6 %s, wireguard port %u",
		 udpsock_port(*udp4), *udp6 >= 0 ? "yes" : "none", udpsock_port(*wg));
	return 0;
}

/* 3: our own, on the config's ports. */
static int open_own(struct component *c, int *udp4, int *udp6, int *wg)
{
	const struct msock_config *cfg = c->cfg;
	int fds[UDPSOCK_N], rc;
	char err[256];

	if ((rc = udpsock_open_all((uint16_t)cfg->listen_port, (uint16_t)cfg->wg_endpoint_port, fds,
				   err, sizeof(err))) < 0) {
		log_error("%s", err);
		return rc;
	}
	*udp4 = fds[UDPSOCK_UDP4];
	*udp6 = fds[UDPSOCK_UDP6];
	*wg = fds[UDPSOCK_WG];
	if (!cfg->wg_endpoint_port)
		log_warn("wg_endpoint_port is not set in %s: WireGuard's endpoints (port %u) "
			 "move when the dataplane restarts; set it when a supervisor other "
			 "than the broker runs the dataplane",
			 cfg->path, udpsock_port(*wg));
	component_keep_fd(c, *udp4);
	if (*udp6 >= 0)
		component_keep_fd(c, *udp6);
	component_keep_fd(c, *wg);
	return 0;
}

int dp_sockets_acquire(struct component *c, int *udp4, int *udp6, int *wg)
{
	struct listen_fd l[LISTEN_FDS_MAX];
	char err[256];
	int n;

	if (getenv("MSOCK_UDP4_FD"))
		return from_broker(udp4, udp6, wg);
	n = listen_fds_parse(getenv("LISTEN_PID"), getenv("LISTEN_FDS"), getenv("LISTEN_FDNAMES"),
			     getpid(), l, LISTEN_FDS_MAX, err, sizeof(err));
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (n < 0) {
		log_error("socket activation: %s", err);
		return n;
	}
	if (n > 0)
		return from_systemd(c, n, l, udp4, udp6, wg);
	if (c->cfg)
		return open_own(c, udp4, udp6, wg);
	log_error("no sockets: the broker passes MSOCK_UDP4_FD and MSOCK_WG_FD, systemd "
		  "LISTEN_FDS; or give --config FILE to open them on the config's ports");
	return -EINVAL;
}

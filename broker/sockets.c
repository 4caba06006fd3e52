/* sockets: the dataplane's sockets (lib/udpsock.h), made and kept by the
 * broker (DESIGN.md, "Restart without loss"). The broker opens them once,
 * keeps them for as long as it runs (and takes them back from the running
 * dataplane after its own restart, adopt.c), and lets every dataplane it
 * starts inherit them at exec; a restarted dataplane therefore has the same
 * ports, and the NAT mappings peers use stay valid. `msockctl rebind` makes
 * new ones. The broker has CAP_NET_ADMIN for the buffers; the dataplane
 * never will. */
#include "broker.h"
#include "udpsock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
	fd = udpsock_open(AF_INET, want, "udp4");
	if (fd < 0) {
		snprintf(err, errcap, "udp4 socket on port %u: %s", want, strerror(-fd));
		return fd;
	}
	b->dp.udp4 = fd;
	b->dp.port = udpsock_port(fd);
	/* IPv6 on the same port when it can; a host without IPv6 runs v4 only. */
	fd = udpsock_open(AF_INET6, b->dp.port, "udp6");
	if (fd < 0)
		log_warn("udp6: no IPv6 socket (%s); IPv4 only", strerror(-fd));
	b->dp.udp6 = fd < 0 ? -1 : fd;
	fd = udpsock_open_wg(wg_want);
	if (fd < 0) {
		snprintf(err, errcap, "wireguard endpoint socket on 127.0.0.0/8 port %u: %s",
			 wg_want, strerror(-fd));
		broker_sockets_close(b);
		return fd;
	}
	b->dp.wg = fd;
	b->dp.wg_port = udpsock_port(fd);
	b->dp.cfg_port = b->cfg->listen_port;
	b->dp.cfg_wg_port = b->cfg->wg_endpoint_port;
	log_info("dataplane sockets: udp4 port %u, udp6 %s%u, wireguard endpoints "
		 "127.x.y.z port %u",
		 b->dp.port, b->dp.udp6 < 0 ? "none " : "port ",
		 b->dp.udp6 < 0 ? 0 : udpsock_port(b->dp.udp6), b->dp.wg_port);
	return 0;
}

void broker_sockets_adopted(struct broker *b)
{
	b->dp.port = udpsock_port(b->dp.udp4);
	b->dp.wg_port = udpsock_port(b->dp.wg);
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

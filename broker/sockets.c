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
	int fds[UDPSOCK_N], rc;

	/* A rebind asks for the port we had; the config's port otherwise. */
	if (b->dp.port && b->cfg->listen_port == b->dp.cfg_port)
		want = b->dp.port;
	if (b->dp.wg_port && b->cfg->wg_endpoint_port == b->dp.cfg_wg_port)
		wg_want = b->dp.wg_port;
	broker_sockets_close(b);
	if ((rc = udpsock_open_all(want, wg_want, fds, err, errcap)) < 0)
		return rc;
	b->dp.udp4 = fds[UDPSOCK_UDP4];
	b->dp.udp6 = fds[UDPSOCK_UDP6];
	b->dp.wg = fds[UDPSOCK_WG];
	b->dp.port = udpsock_port(b->dp.udp4);
	b->dp.wg_port = udpsock_port(b->dp.wg);
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

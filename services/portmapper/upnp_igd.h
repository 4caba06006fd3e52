/* upnp_igd: the three IGD actions the portmapper calls on the service
 * upnp_desc_parse chose, through miniupnpc's upnpcommands.h, with
 * Tailscale's arguments and checks (net/portmapper/upnp.go): the external
 * address, a UDP mapping, its deletion. See docs/upnp.md.
 *
 * These block: miniupnpc connects, sends the SOAP request and reads the
 * answer itself (3 s socket timeouts, 5 s per read). No logging, no
 * allocation of ours. */
#ifndef MSOCK_UPNP_IGD_H
#define MSOCK_UPNP_IGD_H

#include <stdbool.h>
#include <stdint.h>

#include "upnp_desc.h"

/* The NewPortMappingDescription of our mappings (Tailscale's is
 * "tailscale-portmap"): only a label for the router's admin page. */
#define UPNP_IGD_DESCRIPTION "msock"

enum {
	/* The lease we ask for: Tailscale asks pmpMapLifetimeSec, 2 hours. */
	UPNP_IGD_LEASE_S = 7200,
	/* The longest lease WANIPConnection:2 allows for
	 * PortMappingLeaseDuration (one week); longer is refused. 0 asks for
	 * a permanent mapping, for gateways that only do those. */
	UPNP_IGD_MAX_LEASE_S = 604800,
	/* External ports under this are refused: some gateways refuse to
	 * map them, and Tailscale never asks for them; 0 would be the
	 * wildcard that forwards every unmapped port. */
	UPNP_IGD_MIN_EXTERNAL_PORT = 1024,
};

/* UPnP error codes we act on (UDA 1.1 section 3.2.2 and the
 * WANIPConnection:2 AddPortMapping errors). Any code in 400..899 comes
 * back as is. */
enum {
	UPNP_IGD_INVALID_ACTION = 401,
	UPNP_IGD_INVALID_ARGS = 402,
	UPNP_IGD_ACTION_FAILED = 501,
	UPNP_IGD_NOT_AUTHORIZED = 606,
	UPNP_IGD_NO_SUCH_ENTRY = 714,
	UPNP_IGD_CONFLICT = 718,
	UPNP_IGD_SAME_PORT_VALUES_REQUIRED = 724,
	UPNP_IGD_ONLY_PERMANENT_LEASES = 725,
	UPNP_IGD_NO_PORT_MAPS_AVAILABLE = 728,
};

/* Maps a miniupnpc upnpcommands result to ours: 0 for success,
 * UPNP_ERR_IGD_* for its own failures, the gateway's errorCode if it is
 * in UPnP's 400..899, else UPNP_ERR_IGD_BAD_CODE (miniupnpc returns
 * whatever number the gateway wrote). */
int upnp_igd_result(int miniupnpc_rc);

/* Whether an add that failed with rc should be tried again with lease 0,
 * as Tailscale does: 725 OnlyPermanentLeasesSupported, and 402 Invalid
 * Args that some gateways answer to a lease (tailscale/tailscale#15223). */
bool upnp_igd_retry_permanent(int rc);

/* GetExternalIPAddress. On 0, *out is an IPv4 address (port 0) that
 * upnp_addr_usable takes (so not empty, 0.0.0.0/8, 127.0.0.0/8,
 * multicast or broadcast; 198.18.0.0/15 is fine). Returns 0, a negative
 * enum upnp_err (UPNP_ERR_EXTERNAL_IP for an unusable answer) or a UPnP
 * error code; *out is untouched on failure. */
int upnp_igd_external_ip(const struct upnp_igd_service *svc, struct ipport *out);

/* Maps UDP external_port (UPNP_IGD_MIN_EXTERNAL_PORT or more) on the
 * gateway to internal (a usable IPv4 address and a port), any remote
 * host, description UPNP_IGD_DESCRIPTION, for lease_s seconds (0:
 * permanent). WANIPConnection:2 uses AddAnyPortMapping, so the gateway
 * may pick another port when external_port is taken; the others use
 * AddPortMapping. On 0, *mapped_port is the port mapped. Returns 0, a
 * negative enum upnp_err or a UPnP error code (see
 * upnp_igd_retry_permanent). */
int upnp_igd_add_udp(const struct upnp_igd_service *svc, uint16_t external_port,
		     const struct ipport *internal, uint32_t lease_s, uint16_t *mapped_port);

/* Deletes the UDP mapping of external_port. Returns 0, a negative enum
 * upnp_err or a UPnP error code (714 if there was none). */
int upnp_igd_delete_udp(const struct upnp_igd_service *svc, uint16_t external_port);

#endif

/* pm: the portmapper's state machine, after Tailscale's net/portmapper
 * (Probe, createOrGetMapping): probe which of NAT-PMP, PCP and UPnP IGD the
 * gateway speaks, map the dataplane's UDP port with one of them (NAT-PMP
 * first, then PCP, then UPnP, as Tailscale prefers; or the one forced),
 * renew at half the lifetime, re-create when the gateway's epoch says it
 * lost its state (RFC 6886 section 3.6, RFC 6887 section 8.5), and delete
 * the mapping on shutdown. NAT-PMP and PCP go over one UDP socket (the
 * caller's send function) and come back through pm_on_packet; UPnP's HTTP
 * and SOAP calls are the caller's (blocking, bounded) functions.
 *
 * Timers (pm_deadline gives the nearest):
 *   - the probe's end: PM_PROBE_MS after it started;
 *   - a request's retransmission: PM_RETRY_FIRST_MS, doubling, PM_TRIES
 *     sends, then the next protocol (or a re-probe after PM_REPROBE_MS);
 *   - the renewal: half the mapping's lifetime after it was granted;
 *   - the re-probe when nothing answered: PM_REPROBE_MS. */
#ifndef MSOCK_PM_H
#define MSOCK_PM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "portmap/natpmp.h"
#include "portmap/pcp.h"
#include "portmap/portmap_epoch.h"
#include "upnp_ssdp.h"

enum {
	PM_PXP_PORT = 5351,	 /* NAT-PMP and PCP (RFC 6886, RFC 6887) */
	PM_PROBE_MS = 250,	 /* Tailscale's probe timeout */
	PM_RETRY_FIRST_MS = 250, /* RFC 6886 section 3.1: 250 ms, doubling */
	PM_TRIES = 4,		 /* 250 + 500 + 1000 + 2000 ms, then give up on it */
	PM_REPROBE_MS = 60000,	 /* nothing mapped: probe again after this */
	PM_LIFETIME_S = 7200,	 /* what we ask for: the RFCs' and Tailscale's */
	PM_MIN_RENEW_MS = 1000,	 /* never renew more often, whatever the gateway grants */
	PM_MAX_RETRY_MS = 60000, /* an unanswered renewal is resent at most this often */
};

enum pm_proto {
	PM_PROTO_NONE = 0,
	PM_PROTO_PMP,
	PM_PROTO_PCP,
	PM_PROTO_UPNP,
};
const char *pm_proto_name(enum pm_proto p); /* "nat-pmp", "pcp", "upnp" */
/* "nat-pmp", "pcp" or "upnp" -> the protocol; PM_PROTO_NONE otherwise. */
enum pm_proto pm_proto_parse(const char *s);

enum pm_state {
	PM_ST_IDLE = 0, /* no gateway, no port, or disabled */
	PM_ST_PROBING,
	PM_ST_MAPPING, /* a map request in flight */
	PM_ST_MAPPED,
	PM_ST_WAITING, /* nothing worked: re-probe later */
};

struct pm_io {
	/* Sends p to `to` from the portmapper's UDP socket. */
	void (*send)(void *arg, const struct ipport *to, const uint8_t *p, size_t len);
	/* UPnP: fetch location's description, choose the service, get the
	 * external address and map internal -> external port (suggest
	 * want_port; 0 = internal's port). Blocking, bounded. Returns 0 with
	 * *external and *lease_s, or a negative/UPnP error (logged by it). */
	int (*upnp_map)(void *arg, const struct upnp_url *location, const struct ipport *internal,
			uint16_t want_port, struct ipport *external, uint32_t *lease_s);
	/* UPnP: delete the mapping of external_port made by upnp_map. */
	void (*upnp_unmap)(void *arg, uint16_t external_port);
	/* The mapping is there (new, renewed, moved), or gone. */
	void (*mapped)(void *arg, enum pm_proto p, const struct ipport *external, uint16_t internal,
		       uint64_t expires_ns);
	void (*unmapped)(void *arg, enum pm_proto p);
	/* A probe finished: which protocols answered. */
	void (*probed)(void *arg, bool pmp, bool pcp, bool upnp);
	void *arg;
};

struct pm_stats {
	uint64_t probes, maps, renewals, deletes, epoch_resets;
	uint64_t not_gateway, malformed, refused, ssdp_rejected;
	uint64_t late_ssdp;  /* IGD answers after the probe ended, kept (late_upnp) */
	uint64_t ssdp_other; /* answers about the gateway's other devices: ignored */
};

struct pm {
	struct pm_io io;
	enum pm_proto forced;  /* PM_PROTO_NONE: Tailscale's order */
	uint32_t lifetime_req; /* asked for: PM_LIFETIME_S unless a test wants less */
	bool enabled;
	struct ipport gw, self; /* IPv4; family 0 = unknown */
	uint16_t internal_port;
	enum pm_state st;
	/* probe results */
	bool saw_pmp, saw_pcp, saw_upnp;
	struct ipport pmp_external; /* from the NAT-PMP address request */
	struct upnp_ssdp_response upnp;
	/* the request in flight or the mapping */
	enum pm_proto proto;
	bool tried[4]; /* by pm_proto: failed in this round */
	struct natpmp_request pmp_addr_req, pmp_map_req;
	struct pcp_request pcp_ann_req, pcp_map_req;
	unsigned tries;
	bool renewing;	  /* MAPPED: a renewal is in flight */
	uint64_t next_ns; /* the state's timer */
	struct ipport external;
	uint16_t want_port; /* ask for this external port (the one we had) */
	uint32_t lifetime_s;
	uint64_t expires_ns;
	struct portmap_epoch pmp_epoch, pcp_epoch;
	struct pm_stats stats;
	char last_error[160];
};

void pm_init(struct pm *m, const struct pm_io *io, enum pm_proto forced);
/* The gateway, our address and port, and whether port mapping is enabled
 * (the disable_portmapper pref). A change drops the mapping we had (deleted
 * on the old gateway) and starts over. gw/self family 0: unknown. */
void pm_set_env(struct pm *m, const struct ipport *gw, const struct ipport *self,
		uint16_t internal_port, bool enabled, uint64_t now_ns);
/* A datagram on the portmapper's socket. Returns 0 if it was used, or a
 * negative reason it was dropped (pm_strerror names it; *detail, if set, is
 * the codec's reason). */
int pm_on_packet(struct pm *m, const struct ipport *from, const uint8_t *p, size_t len,
		 uint64_t now_ns, const char **detail);
void pm_tick(struct pm *m, uint64_t now_ns);
uint64_t pm_deadline(const struct pm *m);
/* For the portmap-failed warning: 1 when a round of mapping ended with
 * nothing mapped though the gateway answered a protocol (WAITING after a
 * probe that saw one), 0 when there is nothing wrong (mapped, idle, or no
 * protocol to map with), -1 while a probe or a mapping is in flight (no
 * verdict yet). */
int pm_failed(const struct pm *m);
/* Deletes the mapping (shutdown, disable): the delete request is sent
 * once; the caller may wait a little for it to arrive. */
void pm_release(struct pm *m, uint64_t now_ns);

enum pm_err {
	PM_DROP_NOT_GATEWAY = -1, /* not from the gateway (RFC 6886 section 3.3) */
	PM_DROP_UNEXPECTED = -2,  /* from the gateway but answering nothing we asked */
	PM_DROP_MALFORMED = -3,	  /* the codec refused it (detail says why) */
	PM_DROP_REFUSED = -4,	  /* a result code other than success (detail) */
	PM_DROP_SSDP = -5,	  /* an SSDP answer we refused (detail) */
};
const char *pm_strerror(int err);

#endif

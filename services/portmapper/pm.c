/* pm: the portmapper's state machine (pm.h), after Tailscale's
 * net/portmapper portmapper.go and pcp.go. */
#include "pm.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"

static const char *const proto_names[] = {"none", "nat-pmp", "pcp", "upnp"};

const char *pm_proto_name(enum pm_proto p)
{
	return (unsigned)p < 4 ? proto_names[p] : "none";
}

enum pm_proto pm_proto_parse(const char *s)
{
	for (int p = PM_PROTO_PMP; p <= PM_PROTO_UPNP; p++)
		if (strcmp(s, proto_names[p]) == 0)
			return (enum pm_proto)p;
	return PM_PROTO_NONE;
}

const char *pm_strerror(int err)
{
	switch (err) {
	case PM_DROP_NOT_GATEWAY:
		return "not from the gateway";
	case PM_DROP_UNEXPECTED:
		return "answers nothing we asked";
	case PM_DROP_MALFORMED:
		return "malformed";
	case PM_DROP_REFUSED:
		return "refused by the gateway";
	case PM_DROP_SSDP:
		return "SSDP answer refused";
	default:
		return "unknown";
	}
}

static uint64_t ms(uint64_t n)
{
	return n * NS_PER_MS;
}

static struct ipport pxp_addr(const struct pm *m)
{
	struct ipport a = m->gw;

	a.port = PM_PXP_PORT;
	return a;
}

static void send_pmp(struct pm *m, const struct natpmp_request *r)
{
	uint8_t buf[NATPMP_REQUEST_MAX_BYTES];
	size_t n = natpmp_request_encode(r, buf, sizeof(buf));
	struct ipport to = pxp_addr(m);

	if (n)
		m->io.send(m->io.arg, &to, buf, n);
}

static void send_pcp(struct pm *m, const struct pcp_request *r)
{
	uint8_t buf[PCP_REQUEST_MAX_BYTES];
	size_t n = pcp_request_encode(r, buf, sizeof(buf));
	struct ipport to = pxp_addr(m);

	if (n)
		m->io.send(m->io.arg, &to, buf, n);
}

void pm_init(struct pm *m, const struct pm_io *io, enum pm_proto forced)
{
	memset(m, 0, sizeof(*m));
	m->io = *io;
	m->forced = forced;
	m->lifetime_req = PM_LIFETIME_S;
	m->enabled = true;
	portmap_epoch_init(&m->pmp_epoch, PORTMAP_EPOCH_NATPMP);
	portmap_epoch_init(&m->pcp_epoch, PORTMAP_EPOCH_PCP);
}

static void start_probe(struct pm *m, uint64_t now)
{
	uint8_t buf[UPNP_SSDP_MSEARCH_MAX_BYTES];

	m->st = PM_ST_PROBING;
	m->saw_pmp = m->saw_pcp = m->saw_upnp = false;
	memset(m->tried, 0, sizeof(m->tried));
	memset(&m->pmp_external, 0, sizeof(m->pmp_external));
	m->next_ns = now + ms(PM_PROBE_MS);
	m->stats.probes++;
	m->pmp_addr_req = (struct natpmp_request){.opcode = NATPMP_OP_EXTERNAL_ADDR};
	if (m->forced == PM_PROTO_NONE || m->forced == PM_PROTO_PMP)
		send_pmp(m, &m->pmp_addr_req);
	m->pcp_ann_req = (struct pcp_request){.opcode = PCP_OP_ANNOUNCE, .client = m->self};
	if (m->forced == PM_PROTO_NONE || m->forced == PM_PROTO_PCP)
		send_pcp(m, &m->pcp_ann_req);
	for (int i = 0;
	     i < UPNP_SSDP_PROBES && (m->forced == PM_PROTO_NONE || m->forced == PM_PROTO_UPNP);
	     i++) {
		const struct upnp_ssdp_probe *p = &upnp_ssdp_probes[i];
		struct ipport to = m->gw;
		size_t n = upnp_ssdp_msearch(p->st, buf, sizeof(buf));
		if (p->multicast) {
			const uint8_t group[4] = UPNP_SSDP_GROUP_V4;
			memcpy(to.ip, group, 4);
		}
		to.port = UPNP_SSDP_PORT;
		if (n)
			m->io.send(m->io.arg, &to, buf, n);
	}
}

/* The mapping is gone (deleted, expired, the gateway changed). */
static void drop_mapping(struct pm *m)
{
	if (m->st == PM_ST_MAPPED && m->io.unmapped)
		m->io.unmapped(m->io.arg, m->proto);
	memset(&m->external, 0, sizeof(m->external));
	m->expires_ns = 0;
}

static void send_map_request(struct pm *m)
{
	if (m->proto == PM_PROTO_PMP) {
		if (m->pmp_external.family != AF_INET)
			send_pmp(m, &m->pmp_addr_req);
		send_pmp(m, &m->pmp_map_req);
	} else if (m->proto == PM_PROTO_PCP) {
		send_pcp(m, &m->pcp_map_req);
	}
}

/* The next protocol to try: the forced one, else NAT-PMP, PCP, UPnP among
 * those that answered the probe and have not failed this round. */
static enum pm_proto next_proto(const struct pm *m)
{
	/* Forced UPnP needs the gateway's SSDP answer: its LOCATION is where
	 * the mapping is asked for. NAT-PMP and PCP requests go to the
	 * gateway blind. */
	if (m->forced == PM_PROTO_UPNP && !m->saw_upnp)
		return PM_PROTO_NONE;
	if (m->forced != PM_PROTO_NONE)
		return m->tried[m->forced] ? PM_PROTO_NONE : m->forced;
	if (m->saw_pmp && !m->tried[PM_PROTO_PMP])
		return PM_PROTO_PMP;
	if (m->saw_pcp && !m->tried[PM_PROTO_PCP])
		return PM_PROTO_PCP;
	if (m->saw_upnp && !m->tried[PM_PROTO_UPNP])
		return PM_PROTO_UPNP;
	return PM_PROTO_NONE;
}

static void mapped(struct pm *m, const struct ipport *ext, uint32_t lifetime_s, uint64_t now)
{
	uint64_t renew = ms((uint64_t)lifetime_s * 1000 / 2);

	if (renew < ms(PM_MIN_RENEW_MS))
		renew = ms(PM_MIN_RENEW_MS);
	m->external = *ext;
	m->want_port = ext->port;
	m->lifetime_s = lifetime_s;
	m->expires_ns = now + ms((uint64_t)lifetime_s * 1000);
	m->st = PM_ST_MAPPED;
	m->renewing = false;
	m->next_ns = now + renew;
	memset(m->tried, 0, sizeof(m->tried));
	if (m->io.mapped)
		m->io.mapped(m->io.arg, m->proto, ext, m->internal_port, m->expires_ns);
}

static void upnp_map(struct pm *m, uint64_t now)
{
	struct ipport internal = m->self, ext;
	uint32_t lease = 0;
	int rc;

	internal.port = m->internal_port;
	rc = m->io.upnp_map(m->io.arg, &m->upnp.loc, &internal, m->want_port, &ext, &lease);
	if (rc == 0) {
		m->stats.maps++;
		/* A permanent lease (0) is still renewed now and then. */
		mapped(m, &ext, lease ? lease : m->lifetime_req, now);
		return;
	}
	snprintf(m->last_error, sizeof(m->last_error), "UPnP mapping failed (%d)", rc);
	m->tried[PM_PROTO_UPNP] = true;
	drop_mapping(m);
	m->st = PM_ST_MAPPING;
	m->next_ns = now; /* the next protocol, at once */
}

/* Starts (or renews) a mapping with the next protocol. */
static void start_mapping(struct pm *m, uint64_t now)
{
	enum pm_proto p = m->st == PM_ST_MAPPED ? m->proto : next_proto(m);

	if (p == PM_PROTO_NONE) {
		if (m->st == PM_ST_MAPPED)
			drop_mapping(m);
		m->st = PM_ST_WAITING;
		m->proto = PM_PROTO_NONE;
		m->next_ns = now + ms(PM_REPROBE_MS);
		return;
	}
	if (m->st == PM_ST_MAPPED)
		m->stats.renewals++;
	m->proto = p;
	m->tries = 0;
	if (p == PM_PROTO_UPNP) {
		upnp_map(m, now);
		return;
	}
	if (p == PM_PROTO_PMP) {
		m->pmp_map_req = (struct natpmp_request){.opcode = NATPMP_OP_MAP_UDP,
							 .internal_port = m->internal_port,
							 .suggested_external_port = m->want_port,
							 .lifetime_s = m->lifetime_req};
	} else {
		/* A mapping keeps its nonce for its renewals and its delete
		 * (RFC 6887 section 11.2). */
		static const uint8_t zero[PCP_NONCE_BYTES];
		bool renew = m->st == PM_ST_MAPPED &&
			     memcmp(m->pcp_map_req.nonce, zero, PCP_NONCE_BYTES) != 0;
		uint8_t nonce[PCP_NONCE_BYTES];
		if (renew)
			memcpy(nonce, m->pcp_map_req.nonce, sizeof(nonce));
		else
			randombytes_buf(nonce, sizeof(nonce));
		m->pcp_map_req = (struct pcp_request){.opcode = PCP_OP_MAP,
						      .lifetime_s = m->lifetime_req,
						      .client = m->self,
						      .internal_port = m->internal_port,
						      .suggested_external_port = m->want_port};
		memcpy(m->pcp_map_req.nonce, nonce, sizeof(nonce));
	}
	if (m->st != PM_ST_MAPPED)
		m->st = PM_ST_MAPPING;
	m->stats.maps++;
	send_map_request(m);
	m->tries = 1;
	m->next_ns = now + ms(PM_RETRY_FIRST_MS);
}

void pm_set_env(struct pm *m, const struct ipport *gw, const struct ipport *self,
		uint16_t internal_port, bool enabled, uint64_t now)
{
	bool same = ipport_equal(gw, &m->gw) && ipport_equal(self, &m->self) &&
		    internal_port == m->internal_port && enabled == m->enabled;

	if (same && m->st != PM_ST_IDLE)
		return;
	if (m->st == PM_ST_MAPPED)
		pm_release(m, now); /* on the old gateway, for the old port */
	m->gw = *gw;
	m->self = *self;
	m->internal_port = internal_port;
	m->enabled = enabled;
	m->want_port = 0;
	memset(m->pcp_map_req.nonce, 0, sizeof(m->pcp_map_req.nonce));
	portmap_epoch_init(&m->pmp_epoch, PORTMAP_EPOCH_NATPMP);
	portmap_epoch_init(&m->pcp_epoch, PORTMAP_EPOCH_PCP);
	m->st = PM_ST_IDLE;
	if (enabled && gw->family == AF_INET && self->family == AF_INET && internal_port)
		start_probe(m, now);
}

void pm_release(struct pm *m, uint64_t now)
{
	(void)now;
	if (m->st != PM_ST_MAPPED)
		return;
	m->stats.deletes++;
	if (m->proto == PM_PROTO_PMP) {
		/* RFC 6886 section 3.4: lifetime 0, suggested external port 0. */
		struct natpmp_request r = {.opcode = NATPMP_OP_MAP_UDP,
					   .internal_port = m->internal_port};
		send_pmp(m, &r);
	} else if (m->proto == PM_PROTO_PCP) {
		struct pcp_request r = m->pcp_map_req;
		r.lifetime_s = 0;
		r.suggested_external_port = 0;
		memset(&r.suggested_external, 0, sizeof(r.suggested_external));
		send_pcp(m, &r);
	} else if (m->proto == PM_PROTO_UPNP && m->io.upnp_unmap) {
		m->io.upnp_unmap(m->io.arg, m->external.port);
	}
	drop_mapping(m);
	m->st = PM_ST_IDLE;
}

/* Every answer carries the gateway's epoch. When it says the gateway lost
 * its mappings, ours is made again, unless ACT is false: the answer to a
 * map request is itself the mapping made anew. */
static void epoch_check(struct pm *m, struct portmap_epoch *e, uint32_t epoch_s, uint64_t now,
			bool act)
{
	if (!portmap_epoch_check(e, epoch_s, now / NS_PER_MS) || !act || m->st != PM_ST_MAPPED)
		return;
	m->stats.epoch_resets++;
	snprintf(m->last_error, sizeof(m->last_error),
		 "the gateway's epoch went back (%u s): it lost its mappings; mapping again",
		 epoch_s);
	start_mapping(m, now);
}

/* An IGD's SSDP answer after the probe's 250 ms (a gateway that answers
 * slowly: miniupnpd on a busy machine took 450 ms in the lab): kept, not
 * dropped, and when nothing is mapped the mapping starts now rather than
 * at the re-probe PM_REPROBE_MS later. */
static void late_upnp(struct pm *m, const struct upnp_ssdp_response *r, uint64_t now)
{
	m->upnp = *r;
	m->saw_upnp = true;
	m->stats.late_ssdp++;
	if (m->io.probed)
		m->io.probed(m->io.arg, m->saw_pmp, m->saw_pcp, m->saw_upnp);
	if (m->st == PM_ST_WAITING) {
		m->st = PM_ST_MAPPING;
		m->proto = PM_PROTO_NONE;
		m->next_ns = now;
	}
}

/* The gateway refused our map request (a result code): this protocol is
 * done for this round; the next one is tried at once. */
static int map_refused(struct pm *m, const char *why, uint64_t now)
{
	snprintf(m->last_error, sizeof(m->last_error), "%s map refused: %s",
		 pm_proto_name(m->proto), why);
	m->tried[m->proto] = true;
	if (m->st == PM_ST_MAPPED)
		drop_mapping(m);
	m->st = PM_ST_MAPPING;
	m->next_ns = now;
	return PM_DROP_REFUSED;
}

static int on_pmp(struct pm *m, const uint8_t *p, size_t len, uint64_t now, const char **detail)
{
	struct natpmp_response r;
	int rc;

	if (len >= 2 && p[1] == NATPMP_OP_REPLY + NATPMP_OP_EXTERNAL_ADDR) {
		rc = natpmp_response_parse(p, len, &m->pmp_addr_req, &r);
		if (rc == NATPMP_ERR_RESULT) {
			*detail = natpmp_result_name(r.result);
			epoch_check(m, &m->pmp_epoch, r.epoch_s, now, true);
			return PM_DROP_REFUSED;
		}
		if (rc < 0) {
			*detail = natpmp_strerror(rc);
			return PM_DROP_MALFORMED;
		}
		m->saw_pmp = true;
		m->pmp_external = r.external;
		epoch_check(m, &m->pmp_epoch, r.epoch_s, now, true);
		return 0;
	}
	if (m->proto != PM_PROTO_PMP || (m->st != PM_ST_MAPPING && m->st != PM_ST_MAPPED))
		return PM_DROP_UNEXPECTED;
	rc = natpmp_response_parse(p, len, &m->pmp_map_req, &r);
	if (rc == NATPMP_ERR_RESULT)
		return map_refused(m, *detail = natpmp_result_name(r.result), now);
	if (rc < 0) {
		*detail = natpmp_strerror(rc);
		return PM_DROP_MALFORMED;
	}
	if (m->pmp_external.family != AF_INET)
		return 0; /* the address answer is still to come (or lost: retry) */
	struct ipport ext = m->pmp_external;
	ext.port = r.external_port;
	epoch_check(m, &m->pmp_epoch, r.epoch_s, now, false);
	mapped(m, &ext, r.lifetime_s, now);
	return 0;
}

static int on_pcp(struct pm *m, const uint8_t *p, size_t len, uint64_t now, const char **detail)
{
	struct pcp_response r;
	int rc;

	if (len >= 2 && (p[1] & 0x7f) == PCP_OP_ANNOUNCE) {
		rc = pcp_response_parse(p, len, &m->pcp_ann_req, &r);
		if (rc < 0 && rc != PCP_ERR_RESULT) {
			*detail = pcp_strerror(rc);
			return PM_DROP_MALFORMED;
		}
		/* An error answer still proves a PCP server (Tailscale counts
		 * any version-2 answer to its announce). */
		m->saw_pcp = true;
		epoch_check(m, &m->pcp_epoch, r.epoch_s, now, true);
		return 0;
	}
	if (m->proto != PM_PROTO_PCP || (m->st != PM_ST_MAPPING && m->st != PM_ST_MAPPED))
		return PM_DROP_UNEXPECTED;
	rc = pcp_response_parse(p, len, &m->pcp_map_req, &r);
	if (rc == PCP_ERR_RESULT)
		return map_refused(m, *detail = pcp_result_name(r.result), now);
	if (rc < 0) {
		*detail = pcp_strerror(rc);
		return PM_DROP_MALFORMED;
	}
	epoch_check(m, &m->pcp_epoch, r.epoch_s, now, false);
	mapped(m, &r.external, r.lifetime_s, now);
	return 0;
}

int pm_on_packet(struct pm *m, const struct ipport *from, const uint8_t *p, size_t len,
		 uint64_t now, const char **detail)
{
	struct ipport host = *from;

	*detail = 0;
	host.port = m->gw.port;
	/* RFC 6886 section 3.3 / RFC 6887 section 8.3: only the gateway's
	 * answers count; UPnP's LOCATION is checked against it too. */
	if (m->gw.family != AF_INET || !ipport_equal(&host, &m->gw)) {
		m->stats.not_gateway++;
		return PM_DROP_NOT_GATEWAY;
	}
	if (from->port == PM_PXP_PORT && len >= 1 &&
	    (p[0] == NATPMP_VERSION || p[0] == PCP_VERSION)) {
		int rc = p[0] == NATPMP_VERSION ? on_pmp(m, p, len, now, detail)
						: on_pcp(m, p, len, now, detail);
		if (rc == PM_DROP_MALFORMED)
			m->stats.malformed++;
		else if (rc == PM_DROP_REFUSED)
			m->stats.refused++;
		return rc;
	}
	if (from->port == PM_PXP_PORT) {
		m->stats.malformed++;
		*detail = "neither NAT-PMP (version 0) nor PCP (version 2)";
		return PM_DROP_MALFORMED;
	}
	/* Anything else from the gateway: an SSDP answer, we hope. */
	struct upnp_ssdp_response r;
	int rc = upnp_ssdp_parse(p, len, &m->gw, &r);
	if (rc == UPNP_ERR_NOT_IGD) {
		/* Our ssdp:all searches ask every device and service of the
		 * gateway to answer: those that are not the IGD are expected,
		 * not bad input, so no warning. */
		m->stats.ssdp_other++;
		return 0;
	}
	if (rc < 0) {
		m->stats.ssdp_rejected++;
		*detail = upnp_strerror(rc);
		return PM_DROP_SSDP;
	}
	if (m->st != PM_ST_PROBING) {
		if (!m->saw_upnp && (m->forced == PM_PROTO_NONE || m->forced == PM_PROTO_UPNP))
			late_upnp(m, &r, now);
		return 0;
	}
	if (!m->saw_upnp || upnp_ssdp_compare(&r, &m->upnp) < 0)
		m->upnp = r;
	m->saw_upnp = true;
	return 0;
}

void pm_tick(struct pm *m, uint64_t now)
{
	if (m->st == PM_ST_IDLE || now < m->next_ns)
		return;
	switch (m->st) {
	case PM_ST_PROBING:
		if (m->io.probed)
			m->io.probed(m->io.arg, m->saw_pmp, m->saw_pcp, m->saw_upnp);
		m->st = PM_ST_MAPPING;
		m->proto = PM_PROTO_NONE;
		start_mapping(m, now);
		break;
	case PM_ST_MAPPING:
		if (m->proto == PM_PROTO_NONE || m->proto == PM_PROTO_UPNP || m->tried[m->proto] ||
		    m->tries >= PM_TRIES) {
			if (m->proto != PM_PROTO_NONE && m->tries >= PM_TRIES) {
				snprintf(m->last_error, sizeof(m->last_error),
					 "%s: no answer to %d requests", pm_proto_name(m->proto),
					 PM_TRIES);
				m->tried[m->proto] = true;
			}
			start_mapping(m, now);
			break;
		}
		send_map_request(m);
		m->next_ns = now + ms((uint64_t)PM_RETRY_FIRST_MS << m->tries);
		m->tries++;
		break;
	case PM_ST_MAPPED:
		if (now >= m->expires_ns) {
			/* Renewals went unanswered all the way: it is gone. */
			snprintf(m->last_error, sizeof(m->last_error),
				 "%s mapping expired unrenewed", pm_proto_name(m->proto));
			drop_mapping(m);
			start_probe(m, now);
			break;
		}
		if (!m->renewing) {
			m->renewing = true;
			start_mapping(m, now); /* same protocol, same external port */
			break;
		}
		/* Unanswered renewal: again, backing off, until it expires. */
		send_map_request(m);
		m->next_ns = now + ms(m->tries < 8 ? (uint64_t)PM_RETRY_FIRST_MS << m->tries
						   : PM_MAX_RETRY_MS);
		m->tries++;
		break;
	case PM_ST_WAITING:
		start_probe(m, now);
		break;
	case PM_ST_IDLE:
		break;
	}
}

uint64_t pm_deadline(const struct pm *m)
{
	if (m->st == PM_ST_IDLE)
		return UINT64_MAX;
	if (m->st == PM_ST_MAPPED && m->expires_ns && m->expires_ns < m->next_ns)
		return m->expires_ns;
	return m->next_ns;
}

int pm_failed(const struct pm *m)
{
	bool spoke = m->saw_pmp || m->saw_pcp || m->saw_upnp;

	switch (m->st) {
	case PM_ST_PROBING:
	case PM_ST_MAPPING:
		return -1;
	case PM_ST_WAITING:
		return spoke ? 1 : 0;
	default:
		return 0;
	}
}

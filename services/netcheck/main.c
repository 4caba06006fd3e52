/* msock-netcheck: the network report (nc_svc.h). Start-up in the privsep
 * order: log tag -> the CA bundles for the HTTPS latency probe (loaded now:
 * once sandboxed the process cannot open files) -> sandbox (network
 * sockets for the HTTP probes) -> signals -> bus -> packet channel (STUN
 * goes out of and comes back through the dataplane's socket, so the NAT
 * mapping it finds is the one peers use) -> loop. */
#include <errno.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "bus_wire.h"
#include "clock.h"
#include "component.h"
#include "endpoint_pb.h"
#include "health.h"
#include "log.h"
#include "nc_region.h"
#include "nc_svc.h"
#include "netmap.pb-c.h"
#include "pktchan.h"
#include "state.pb-c.h"
#include "tls_stream.h"

enum {
	MAX_HTTP_FDS = 64,   /* HTTP probes polled at once; the rest step on the timer */
	CHAN_DRAIN = 256,    /* packets taken from the channel per loop pass */
	LOG_EVERY_MS = 10000 /* rejected STUN packets: one line per 10 s */
};

struct ctx {
	struct component comp; /* its bus and packet channel too */
	struct nc_svc svc;
	struct health health;
	struct log_ratelimit rl;
	bool map_syncing;
};

static void send_stun(void *arg, const struct ipport *to, const uint8_t *p, size_t len)
{
	struct ctx *x = arg;
	struct pktchan_hdr h = {.kind = PKTCHAN_UDP_SEND, .addr = *to};

	pktchan_send(x->comp.chan, &h, p, len);
}

static bool opt_true(enum nc_opt o)
{
	return o == NC_OPT_TRUE;
}

/* Is there a STUN server to ask? Without one no answer is no news. */
static bool have_stun(const struct nc_derpmap *dm)
{
	for (size_t i = 0; i < dm->n_regions; i++)
		for (size_t k = 0; !dm->regions[i].no_measure_no_home && k < dm->regions[i].n_nodes;
		     k++)
			if (dm->regions[i].nodes[k].stun_port >= 0)
				return true;
	return false;
}

/* udp-blocked and no-stun-answer, from a finished report: no STUN answer
 * while HTTPS reached a region is UDP blocked; no answer of any kind is
 * all netcheck can say. Both end with the first report that has one. */
static void report_health(struct ctx *x, const struct nc_report *r)
{
	bool none = !r->udp && have_stun(&x->svc.dm);

	health_set(&x->health, HEALTH_UDP_BLOCKED, none && r->latency.n > 0,
		   "UDP is blocked: no STUN server answered, though %zu relay region%s answered "
		   "over HTTPS. Peers are reached over DERP only.",
		   r->latency.n, r->latency.n == 1 ? "" : "s");
	health_set(&x->health, HEALTH_NO_STUN_ANSWER, none && r->latency.n == 0, 0);
}

/* The report as the bus's NetcheckReport (key "last"). */
static void publish_report(void *arg, const struct nc_report *r)
{
	struct ctx *x = arg;
	Msock__NetcheckReport m = MSOCK__NETCHECK_REPORT__INIT;
	Msock__Endpoint v4 = MSOCK__ENDPOINT__INIT, v6 = MSOCK__ENDPOINT__INIT;
	Msock__RegionLatency lat[NC_MAX_REGIONS], *latp[NC_MAX_REGIONS];
	char g4[ADDR_TEXT_MAX] = "none", g6[ADDR_TEXT_MAX] = "none";

	m.udp = r->udp;
	m.ipv4 = r->ipv4;
	m.ipv6 = r->ipv6;
	if (r->global_v4.family) {
		endpoint_pb_set(&v4, &r->global_v4, ENDPOINT_TYPE_STUN);
		m.global_v4 = &v4;
		ipport_format(&r->global_v4, g4, sizeof(g4));
	}
	if (r->global_v6.family) {
		endpoint_pb_set(&v6, &r->global_v6, ENDPOINT_TYPE_STUN);
		m.global_v6 = &v6;
		ipport_format(&r->global_v6, g6, sizeof(g6));
	}
	m.mapping_varies_by_dest_ip = opt_true(r->mapping_varies_by_dest_ip);
	m.preferred_derp = r->preferred_derp;
	for (size_t i = 0; i < r->latency.n; i++) {
		msock__region_latency__init(&lat[i]);
		lat[i].region_id = r->latency.e[i].region_id;
		lat[i].latency_us = r->latency.e[i].ns / 1000;
		latp[i] = &lat[i];
	}
	m.n_region_latency = r->latency.n;
	m.region_latency = latp;
	m.captive_portal = opt_true(r->captive_portal);
	m.upnp = opt_true(r->upnp);
	m.pmp = opt_true(r->pmp);
	m.pcp = opt_true(r->pcp);
	m.at_unix_ms = (int64_t)clock_unix_ms();
	bus_state_set(x->comp.bus, BUS_T_NetcheckReport, "last", &m.base);
	report_health(x, r);
	log_info("report: udp=%s v4=%s global_v4=%s global_v6=%s hard_nat=%s derp=%u "
		 "(%zu regions measured)%s",
		 r->udp ? "yes" : "no", r->ipv4 ? "yes" : "no", g4, g6,
		 m.mapping_varies_by_dest_ip ? "yes" : "no", r->preferred_derp, r->latency.n,
		 m.captive_portal ? ", captive portal" : "");
}

/* A DERPMap region from the bus -> netcheck's region. */
static void on_region(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	const Msock__DERPMap *d = (const Msock__DERPMap *)m->msg;
	static struct nc_region r;
	static struct nc_svc_region_info info;

	if (m->deleted) {
		nc_svc_remove_region(&x->svc, m->region);
		return;
	}
	nc_region_from_pb(d, &r, &info);
	nc_svc_set_region(&x->svc, &r, &info);
}

/* Which port-mapping protocols answered the portmapper's last probe. */
static void on_probe(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	const Msock__PortmapProbe *p = m->deleted ? 0 : (const Msock__PortmapProbe *)m->msg;

	x->svc.pmp = p && p->pmp ? NC_OPT_TRUE : NC_OPT_FALSE;
	x->svc.pcp = p && p->pcp ? NC_OPT_TRUE : NC_OPT_FALSE;
	x->svc.upnp = p && p->upnp ? NC_OPT_TRUE : NC_OPT_FALSE;
}

static void on_dataplane_state(void *arg, const struct bus_msg *m)
{
	((struct ctx *)arg)->svc.have_v6 = ((const Msock__DataplaneState *)m->msg)->ipv6;
}

static void on_network(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	bool up = ((const Msock__NetworkState *)m->msg)->up;

	if (up != x->svc.network_up)
		log_info("network %s", up ? "up: a full report now"
				       : x->svc.running
					       ? "down: no reports (the one in progress is dropped)"
					       : "down: no reports");
	nc_svc_set_network_up(&x->svc, up, clock_mono_ns());
	/* Down, no report says anything: network-status (the dataplane's)
	 * is the warning (Tailscale's DependsOn). */
	if (!up) {
		health_set(&x->health, HEALTH_UDP_BLOCKED, false, 0);
		health_set(&x->health, HEALTH_NO_STUN_ANSWER, false, 0);
	}
}

static void on_restun(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	const Msock__ReSTUN *r = (const Msock__ReSTUN *)m->msg;

	log_info("ReSTUN (%s): a new report now", r->why && r->why[0] ? r->why : "?");
	nc_svc_restun(&x->svc, false, clock_mono_ns());
}

static const struct bus_handler handlers[] = {
	{BUS_T_DERPMap, BUS_H_STATE | BUS_H_DELETED, BUS_KEY_REGION, on_region},
	{BUS_T_PortmapProbe, BUS_H_STATE | BUS_H_DELETED, BUS_KEY_TEXT, on_probe},
	{BUS_T_DataplaneState, BUS_H_STATE, BUS_KEY_TEXT, on_dataplane_state},
	{BUS_T_NetworkState, BUS_H_STATE, BUS_KEY_TEXT, on_network},
	{BUS_T_ReSTUN, BUS_H_EVENT, BUS_KEY_TEXT, on_restun},
};

static void on_packets(void *arg, uint64_t now)
{
	static uint8_t buf[PKTCHAN_MAX_PAYLOAD_BYTES];
	struct ctx *x = arg;

	for (int i = 0; i < CHAN_DRAIN; i++) {
		struct pktchan_hdr h;
		size_t n;
		int rc = pktchan_recv(x->comp.chan, &h, buf, sizeof(buf), &n);
		if (rc == -EAGAIN)
			return;
		if (rc < 0 || h.kind != PKTCHAN_UDP_RECV)
			continue;
		now = clock_mono_ns();
		rc = nc_svc_on_packet(&x->svc, &h.addr, buf, n, now);
		if (rc < 0) {
			char from[ADDR_TEXT_MAX];
			ipport_format(&h.addr, from, sizeof(from));
			log_rl(&x->rl, now, LOG_LEVEL_WARN, "STUN packet from %s dropped: %s", from,
			       stun_client_strerror(rc));
		}
	}
}

/* The HTTP probes' sockets. */
static int pollitems(void *arg, zmq_pollitem_t *it, int cap)
{
	struct ctx *x = arg;
	int fds[MAX_HTTP_FDS];
	short ev[MAX_HTTP_FDS];
	size_t nh =
		nc_svc_http_fds(&x->svc, fds, ev, cap < MAX_HTTP_FDS ? (size_t)cap : MAX_HTTP_FDS);

	for (size_t i = 0; i < nh; i++)
		it[i] = (zmq_pollitem_t){.fd = fds[i],
					 .events = (short)((ev[i] & POLLOUT ? ZMQ_POLLOUT : 0) |
							   (ev[i] & POLLIN ? ZMQ_POLLIN : 0))};
	return (int)nh;
}

static uint64_t deadline(void *arg, uint64_t now)
{
	struct ctx *x = arg;

	(void)now;
	return nc_svc_deadline(&x->svc);
}

static void tick(void *arg, uint64_t now)
{
	struct ctx *x = arg;

	nc_svc_tick(&x->svc, now);
}

int main(int argc, char **argv)
{
	static struct ctx x;
	char err[512];
	int rc = 1;

	if (component_init(&x.comp, "netcheck", &argc, argv) < 0 || argc > 1)
		return 2;
	log_ratelimit_init(&x.rl, LOG_EVERY_MS);
	x.svc.tls = tls_client_ctx_new(x.comp.ca_file[0] ? x.comp.ca_file : 0, err, sizeof(err));
	if (!x.svc.tls) {
		log_error("%s", err);
		return 1;
	}
	if (component_sandbox(&x.comp, 0, 0) < 0)
		return 1;
	if (x.comp.selftest)
		return sandbox_selftest(x.comp.selftest);
	if (component_signals(&x.comp) < 0)
		return 1;
	if (nc_svc_init(&x.svc, send_stun, publish_report, &x, clock_mono_ns()) < 0) {
		log_error("out of memory");
		goto out;
	}
	if (component_connect(&x.comp, handlers, sizeof(handlers) / sizeof(handlers[0]), &x) < 0)
		goto out;
	health_init_bus(&x.health, x.comp.bus, x.comp.proc->program);
	if (component_subscribe(&x.comp, (const char *const[]){BUS_T_DERPMap, BUS_T_PortmapProbe,
							       BUS_T_DataplaneState, BUS_T_ReSTUN,
							       BUS_T_NetworkState, 0}) < 0)
		goto out;
	log_info("%zu DERP regions; first report now, then every %d-%d s", x.svc.dm.n_regions,
		 NC_SVC_PERIOD_MIN_MS / 1000, NC_SVC_PERIOD_MAX_MS / 1000);
	rc = component_run(&x.comp,
			   &(const struct component_ops){.pollitems = pollitems,
							 .packets = on_packets,
							 .deadline = deadline,
							 .tick = tick},
			   &x) < 0
		     ? 1
		     : 0;
out:
	nc_svc_free(&x.svc);
	component_close(&x.comp);
	SSL_CTX_free(x.svc.tls);
	return rc;
}

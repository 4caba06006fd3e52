/* msock-portmapper: maps the dataplane's UDP port on the home router with
 * NAT-PMP, PCP or UPnP IGD (pm.h) and publishes the mapped address. It
 * talks to the gateway from its own socket: the one exception to "all UDP
 * goes through the dataplane", which is about peer and STUN traffic.
 * Start-up in the privsep order: log tag -> one name lookup (glibc loads
 * what getaddrinfo needs now: miniupnpc resolves the gateway's address
 * literal inside the sandbox) -> the UDP socket -> sandbox -> signals ->
 * bus -> loop. Usage: msock-portmapper [--protocol nat-pmp|pcp|upnp]
 * [--lifetime S] (tests: force one protocol, default Tailscale's order; ask
 * for S-second mappings, default 7200, so renewal shows within a test). */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "bus_wire.h"
#include "clock.h"
#include "component.h"
#include "endpoint_pb.h"
#include "health.h"
#include "log.h"
#include "pm.h"
#include "state.pb-c.h"
#include "upnp_desc.h"
#include "upnp_igd.h"

enum {
	RX_PER_PASS = 64,
	LOG_EVERY_MS = 10000,
	RELEASE_WAIT_MS = 300,	/* at exit: time for the delete's answer */
	HTTP_TIMEOUT_MS = 3000, /* fetching the UPnP description */
};

struct ctx {
	struct component comp; /* its bus too */
	struct health health;  /* portmap-failed */
	int fd;
	struct pm pm;
	char last_error[sizeof(((struct pm *)0)->last_error)]; /* the last one said */
	struct log_ratelimit rl;
	struct ipport gw, self;
	uint16_t port;
	bool disabled;
	struct upnp_igd_service igd; /* the UPnP service last mapped with */
};

static void send_udp(void *arg, const struct ipport *to, const uint8_t *p, size_t len)
{
	struct ctx *x = arg;
	struct sockaddr_storage ss;
	socklen_t sl = ipport_to_sockaddr(to, &ss);

	if (sl && sendto(x->fd, p, len, 0, (struct sockaddr *)&ss, sl) < 0) {
		char a[ADDR_TEXT_MAX];
		ipport_format(to, a, sizeof(a));
		log_rl(&x->rl, clock_mono_ns(), LOG_LEVEL_WARN, "send to %s: %s", a,
		       strerror(errno));
	}
}

/* GET the description at loc, bounded in time and size (upnp_http_parse). */
static int fetch_desc(const struct upnp_url *loc, char *body, size_t body_cap)
{
	static uint8_t buf[UPNP_HTTP_MAX_RESPONSE_BYTES];
	struct sockaddr_storage ss;
	socklen_t sl = ipport_to_sockaddr(&loc->host, &ss);
	char req[UPNP_URL_TEXT_MAX + 128];
	size_t rl = upnp_desc_request(loc, req, sizeof(req)), have = 0;
	uint64_t end = clock_mono_ns() + (uint64_t)HTTP_TIMEOUT_MS * NS_PER_MS;
	struct upnp_http_response resp;
	int fd, rc = -ETIMEDOUT;

	if (!sl || !rl)
		return -EINVAL;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		rc = -errno;
		goto out;
	}
	for (size_t sent = 0; sent < rl;) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		uint64_t now = clock_mono_ns();
		if (now >= end || poll(&p, 1, (int)((end - now) / NS_PER_MS) + 1) <= 0)
			goto out;
		ssize_t n = send(fd, req + sent, rl - sent, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN) {
			rc = -errno;
			goto out;
		}
		if (n > 0)
			sent += (size_t)n;
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t now = clock_mono_ns();
		bool eof = false;
		if (now >= end || poll(&p, 1, (int)((end - now) / NS_PER_MS) + 1) <= 0)
			goto out;
		ssize_t n = recv(fd, buf + have, sizeof(buf) - have, 0);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		have += (size_t)n;
		eof = n == 0 || have == sizeof(buf);
		rc = upnp_http_parse(buf, have, eof, body, body_cap, &resp);
		if (rc != UPNP_MORE)
			goto out;
	}
out:
	close(fd);
	return rc;
}

static int upnp_map(void *arg, const struct upnp_url *loc, const struct ipport *internal,
		    uint16_t want_port, struct ipport *external, uint32_t *lease_s)
{
	struct ctx *x = arg;
	static char body[UPNP_DESC_BODY_BUF_BYTES];
	struct upnp_igd_service svc;
	struct ipport ext;
	uint16_t port = want_port ? want_port : internal->port, got = 0;
	uint32_t lease = x->pm.lifetime_req;
	int rc = fetch_desc(loc, body, sizeof(body));

	if (rc < 0) {
		log_warn("upnp: fetching the description: %s",
			 rc > -200 && rc < -100 ? upnp_strerror(rc) : strerror(-rc));
		return rc;
	}
	rc = upnp_desc_parse(body, strlen(body), loc, &x->gw, &svc);
	if (rc < 0) {
		log_warn("upnp: description refused: %s", upnp_strerror(rc));
		return rc;
	}
	rc = upnp_igd_external_ip(&svc, &ext);
	if (rc != 0) {
		log_warn("upnp: GetExternalIPAddress: %s",
			 rc < 0 ? upnp_strerror(rc) : "UPnP error from the gateway");
		return rc;
	}
	if (port < UPNP_IGD_MIN_EXTERNAL_PORT)
		port = UPNP_IGD_MIN_EXTERNAL_PORT;
	rc = upnp_igd_add_udp(&svc, port, internal, lease, &got);
	if (rc > 0 && upnp_igd_retry_permanent(rc)) {
		lease = 0;
		rc = upnp_igd_add_udp(&svc, port, internal, lease, &got);
	}
	if (rc != 0) {
		log_warn("upnp: AddPortMapping %u: %s (%d)", port,
			 rc < 0 ? upnp_strerror(rc) : "refused by the gateway", rc);
		return rc;
	}
	x->igd = svc;
	ext.port = got;
	*external = ext;
	*lease_s = lease;
	return 0;
}

static void upnp_unmap(void *arg, uint16_t external_port)
{
	struct ctx *x = arg;
	int rc = upnp_igd_delete_udp(&x->igd, external_port);

	if (rc != 0)
		log_warn("upnp: DeletePortMapping %u: %s (%d)", external_port,
			 rc < 0 ? upnp_strerror(rc) : "refused", rc);
}

static void on_mapped(void *arg, enum pm_proto p, const struct ipport *ext, uint16_t internal,
		      uint64_t expires_ns)
{
	struct ctx *x = arg;
	Msock__PortMapping m = MSOCK__PORT_MAPPING__INIT;
	Msock__Endpoint e = MSOCK__ENDPOINT__INIT;
	char a[ADDR_TEXT_MAX];

	endpoint_pb_set(&e, ext, ENDPOINT_TYPE_PORTMAPPED);
	m.protocol = (char *)pm_proto_name(p);
	m.external = &e;
	m.internal_port = internal;
	m.expires_mono_ns = expires_ns;
	bus_state_set(x->comp.bus, BUS_T_PortMapping, pm_proto_name(p), &m.base);
	ipport_format(ext, a, sizeof(a));
	log_info("%s: port %u mapped to %s for %u s", pm_proto_name(p), internal, a,
		 x->pm.lifetime_s);
}

static void on_unmapped(void *arg, enum pm_proto p)
{
	struct ctx *x = arg;

	bus_state_del(x->comp.bus, BUS_T_PortMapping, pm_proto_name(p));
	log_info("%s: mapping gone", pm_proto_name(p));
}

static void publish_probe(struct ctx *x)
{
	Msock__PortmapProbe m = MSOCK__PORTMAP_PROBE__INIT;

	m.pmp = x->pm.saw_pmp;
	m.pcp = x->pm.saw_pcp;
	m.upnp = x->pm.saw_upnp;
	if (x->gw.family == AF_INET) {
		m.gateway.data = x->gw.ip;
		m.gateway.len = 4;
	}
	m.last_error = x->pm.last_error;
	bus_state_set(x->comp.bus, BUS_T_PortmapProbe, "self", &m.base);
}

static void on_probed(void *arg, bool pmp, bool pcp, bool upnp)
{
	struct ctx *x = arg;
	char gw[ADDR_TEXT_MAX];

	ipport_format(&x->gw, gw, sizeof(gw));
	log_info("probe of %s: NAT-PMP %s, PCP %s, UPnP %s", gw, pmp ? "yes" : "no",
		 pcp ? "yes" : "no", upnp ? "yes" : "no");
	publish_probe(x);
}

static void apply_env(struct ctx *x, uint64_t now)
{
	pm_set_env(&x->pm, &x->gw, &x->self, x->port, !x->disabled, now);
}

static void ip4(struct ipport *out, const ProtobufCBinaryData *b)
{
	memset(out, 0, sizeof(*out));
	if (b->len == 4) {
		out->family = AF_INET;
		memcpy(out->ip, b->data, 4);
	}
}

static void on_network(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	const Msock__NetworkState *n = (const Msock__NetworkState *)m->msg;

	ip4(&x->gw, &n->gateway_v4);
	ip4(&x->self, &n->self_v4);
	apply_env(x, clock_mono_ns());
}

static void on_dataplane_state(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;

	x->port = (uint16_t)((const Msock__DataplaneState *)m->msg)->port;
	apply_env(x, clock_mono_ns());
}

static void on_prefs(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	bool off = ((const Msock__Prefs *)m->msg)->disable_portmapper;

	if (off != x->disabled)
		log_info("disable_portmapper: %s", off ? "on: deleting our mapping" : "off");
	x->disabled = off;
	apply_env(x, clock_mono_ns());
}

static const struct bus_handler handlers[] = {
	{BUS_T_NetworkState, BUS_H_STATE, BUS_KEY_TEXT, on_network},
	{BUS_T_DataplaneState, BUS_H_STATE, BUS_KEY_TEXT, on_dataplane_state},
	{BUS_T_Prefs, BUS_H_STATE, BUS_KEY_TEXT, on_prefs},
};

static void drain(struct ctx *x)
{
	uint8_t buf[2048];

	for (int i = 0; i < RX_PER_PASS; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		ssize_t n = recvfrom(x->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&ss,
				     &sl);
		struct ipport from;
		const char *detail;
		char a[ADDR_TEXT_MAX];
		uint64_t now = clock_mono_ns();
		if (n < 0)
			return;
		if (ipport_from_sockaddr((struct sockaddr *)&ss, sl, &from) < 0)
			continue;
		int rc = pm_on_packet(&x->pm, &from, buf, (size_t)n, now, &detail);
		if (rc < 0) {
			ipport_format(&from, a, sizeof(a));
			log_rl(&x->rl, now, LOG_LEVEL_WARN, "%zd bytes from %s dropped: %s%s%s", n,
			       a, pm_strerror(rc), detail ? ": " : "", detail ? detail : "");
		}
	}
}

/* Its one UDP socket (NAT-PMP, PCP, SSDP). */
static int pollitems(void *arg, zmq_pollitem_t *it, int cap)
{
	struct ctx *x = arg;

	if (cap < 1)
		return 0;
	it[0] = (zmq_pollitem_t){.fd = x->fd, .events = ZMQ_POLLIN};
	return 1;
}

static void ready(void *arg, const zmq_pollitem_t *it, int n, uint64_t now)
{
	(void)it;
	(void)n;
	(void)now;
	drain(arg);
}

static uint64_t deadline(void *arg, uint64_t now)
{
	struct ctx *x = arg;

	(void)now;
	return pm_deadline(&x->pm);
}

/* portmap-failed: set when a round of mapping ends with nothing mapped
 * though the gateway speaks a protocol (pm_failed), cleared once mapped or
 * when there is nothing to map (no gateway, disabled, no protocol);
 * unchanged while a probe or a mapping is in flight. */
static void port_health(struct ctx *x)
{
	char gw[ADDR_TEXT_MAX];
	int f = pm_failed(&x->pm);

	if (f < 0)
		return;
	ipport_format(&x->gw, gw, sizeof(gw));
	health_set(&x->health, HEALTH_PORTMAP_FAILED, f == 1,
		   "Port mapping on the gateway %s failed: %s. Peers behind hard NATs may not "
		   "reach us directly.",
		   gw, x->pm.last_error[0] ? x->pm.last_error : "no protocol mapped the port");
}

/* Timers, and a new last error said once and published. */
static void tick(void *arg, uint64_t now)
{
	struct ctx *x = arg;

	pm_tick(&x->pm, now);
	if (strcmp(x->last_error, x->pm.last_error) != 0) {
		log_warn("%s", x->pm.last_error);
		snprintf(x->last_error, sizeof(x->last_error), "%s", x->pm.last_error);
		publish_probe(x);
	}
	port_health(x);
}

static bool on_signal(void *arg, int sig)
{
	(void)arg;
	log_info("signal %d: deleting our mapping", sig);
	return true;
}

/* At exit: the mapping is deleted on the gateway (RFC 6886 section 3.4), and
 * its answer awaited a moment so that the log says how it went. */
static void release(struct ctx *x)
{
	uint64_t end = clock_mono_ns() + (uint64_t)RELEASE_WAIT_MS * NS_PER_MS;
	enum pm_proto p = x->pm.proto;
	bool had = x->pm.st == PM_ST_MAPPED;

	pm_release(&x->pm, clock_mono_ns());
	if (!had || p == PM_PROTO_UPNP)
		return;
	while (clock_mono_ns() < end) {
		struct pollfd pf = {.fd = x->fd, .events = POLLIN};
		if (poll(&pf, 1, 50) > 0)
			drain(x);
	}
}

static int open_socket(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_error("portmapper socket: %s", strerror(errno));
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	static struct ctx x;
	struct pm_io io = {.send = send_udp,
			   .upnp_map = upnp_map,
			   .upnp_unmap = upnp_unmap,
			   .mapped = on_mapped,
			   .unmapped = on_unmapped,
			   .probed = on_probed,
			   .arg = &x};
	enum pm_proto forced = PM_PROTO_NONE;
	long lifetime = PM_LIFETIME_S;
	char *end;
	struct addrinfo *ai = 0, hints = {.ai_flags = AI_NUMERICHOST};
	int rc = 1;

	if (component_init(&x.comp, "portmapper", &argc, argv) < 0)
		return 2;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--protocol") == 0 && i + 1 < argc &&
		    (forced = pm_proto_parse(argv[i + 1])) != PM_PROTO_NONE) {
			i++;
		} else if (strcmp(argv[i], "--lifetime") == 0 && i + 1 < argc &&
			   (lifetime = strtol(argv[i + 1], &end, 10)) >= 2 && !*end &&
			   lifetime <= PM_LIFETIME_S) {
			i++;
		} else {
			log_error("bad argument \"%s\" (known: --protocol nat-pmp|pcp|upnp, "
				  "--lifetime 2-%d)",
				  argv[i], PM_LIFETIME_S);
			return 2;
		}
	}
	log_ratelimit_init(&x.rl, LOG_EVERY_MS);
	/* glibc loads its lookup configuration on first use; do it before the
	 * sandbox, which allows no file opens (miniupnpc calls getaddrinfo). */
	if (getaddrinfo("127.0.0.1", "80", &hints, &ai) == 0)
		freeaddrinfo(ai);
	x.fd = open_socket();
	if (x.fd < 0)
		return 1;
	if (x.comp.n_keep_fds < SANDBOX_MAX_KEEP_FDS)
		x.comp.keep_fds[x.comp.n_keep_fds++] = x.fd;
	if (component_sandbox(&x.comp, 0, 0) < 0)
		return 1;
	if (x.comp.selftest)
		return sandbox_selftest(x.comp.selftest);
	if (component_signals(&x.comp) < 0)
		return 1;
	pm_init(&x.pm, &io, forced);
	x.pm.lifetime_req = (uint32_t)lifetime;
	if (component_connect(&x.comp, handlers, sizeof(handlers) / sizeof(handlers[0]), &x) < 0)
		goto out;
	health_init_bus(&x.health, x.comp.bus, x.comp.proc->program);
	if (component_subscribe(&x.comp,
				(const char *const[]){BUS_T_NetworkState, BUS_T_DataplaneState,
						      BUS_T_Prefs, 0}) < 0)
		goto out;
	log_info("protocols: %s", forced ? pm_proto_name(forced) : "nat-pmp, pcp, upnp");
	rc = component_run(&x.comp,
			   &(const struct component_ops){.pollitems = pollitems,
							 .ready = ready,
							 .deadline = deadline,
							 .tick = tick,
							 .signal = on_signal},
			   &x) < 0
		     ? 1
		     : 0;
	release(&x);
out:
	component_close(&x.comp);
	close(x.fd);
	return rc;
}

/* msock-derp: the derp service (derp_svc.h). Start-up in the privsep order:
 * log tag -> open the node key file (created 0600 on first start) and the
 * CA bundles (loaded now: once sandboxed the process cannot open files) ->
 * sandbox (network sockets allowed) -> signals -> bus -> packet channel ->
 * loop. Names in the DERP map are not resolved (no DNS inside the sandbox
 * yet): nodes are dialled at their IPv4/IPv6 literals. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sodium.h>
#include <sys/epoll.h>
#include <zmq.h>

#include "bus_wire.h"
#include "clock.h"
#include "component.h"
#include "derp_svc.h"
#include "netmap.pb-c.h"
#include "state.pb-c.h"
#include "tls_stream.h"

struct ctx {
	struct component comp; /* its bus and packet channel, which svc uses too */
	struct derp_svc svc;
	bool map_syncing; /* a DERPMap snapshot is arriving: apply at its end */
};

static int load_key(struct derp_svc *s, const char *path)
{
	char err[512];
	bool created;

	if (!path || !path[0]) {
		log_error("no node key file: set private_key_file in the config");
		return -EINVAL;
	}
	/* First start: make the node key, as tailscaled does. */
	if (key_file_load_or_create(path, &s->priv, &created, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -EIO;
	}
	if (created)
		log_info("created the node key %s", path);
	return key_public(&s->priv, &s->pub);
}

static int load_tls(struct derp_svc *s, const char *ca_file)
{
	char err[512];

	s->tls = tls_client_ctx_new(ca_file, err, sizeof(err));
	if (!s->tls) {
		log_error("%s", err);
		return -EINVAL;
	}
	SSL_CTX_set_mode(s->tls, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
					 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return 0;
}

/* A DERPMap region from the bus -> our region (usable nodes only). */
static void set_region(struct derp_svc *s, const Msock__DERPMap *m)
{
	struct derp_region *r = 0;

	for (size_t i = 0; i < s->n_regions; i++)
		if (s->regions[i].id == m->region_id)
			r = &s->regions[i];
	if (!r) {
		if (s->n_regions == DERP_SVC_MAX_REGIONS)
			return;
		r = &s->regions[s->n_regions++];
	}
	memset(r, 0, sizeof(*r));
	r->id = m->region_id;
	snprintf(r->code, sizeof(r->code), "%s", m->region_code);
	r->avoid = m->avoid;
	r->no_home = m->no_measure_no_home;
	for (size_t i = 0; i < m->n_nodes && r->n_nodes < DERP_SVC_MAX_NODES; i++) {
		const Msock__DERPNode *n = m->nodes[i];
		struct derp_node *d = &r->nodes[r->n_nodes];
		const char *lit = n->ipv4[0] && strcmp(n->ipv4, "none")	  ? n->ipv4
				  : n->ipv6[0] && strcmp(n->ipv6, "none") ? n->ipv6
									  : n->host_name;
		if (n->stun_only || ip_parse(lit, &d->addr) < 0)
			continue;
		if (tls_certname_parse(n->cert_name, &d->cert) < 0) {
			log_warn("DERP node %s: CertName \"%s\" is not a name nor sha256-raw:<64 "
				 "lowercase hex>: node skipped",
				 n->name, n->cert_name);
			continue;
		}
		d->addr.port = (uint16_t)(n->derp_port ? n->derp_port : 443);
		snprintf(d->name, sizeof(d->name), "%s", n->name);
		snprintf(d->host, sizeof(d->host), "%s", n->host_name);
		d->insecure = n->insecure_for_tests;
		r->n_nodes++;
	}
}

static void del_region(struct derp_svc *s, uint32_t id)
{
	for (size_t i = 0; i < s->n_regions; i++)
		if (s->regions[i].id == id) {
			s->regions[i] = s->regions[--s->n_regions];
			return;
		}
}

/* The DERP map, a region per key: applied at a snapshot's end, or at once. */
static void on_derpmap(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	struct derp_svc *s = &x->svc;

	if (m->kind == BUS_MSG_SNAPSHOT_BEGIN) {
		s->n_regions = 0;
		x->map_syncing = true;
		return;
	}
	if (m->kind == BUS_MSG_SNAPSHOT_END) {
		x->map_syncing = false;
		dsvc_regions_changed(s);
		return;
	}
	if (m->deleted)
		del_region(s, m->region);
	else
		set_region(s, (const Msock__DERPMap *)m->msg);
	if (!x->map_syncing)
		dsvc_regions_changed(s);
}

static void on_self_config(void *arg, const struct bus_msg *m)
{
	struct derp_svc *s = &((struct ctx *)arg)->svc;

	s->cfg_home = ((const Msock__SelfConfig *)m->msg)->home_derp;
	dsvc_choose_home(s);
}

static void on_prefs(void *arg, const struct bus_msg *m)
{
	struct derp_svc *s = &((struct ctx *)arg)->svc;
	bool only443 = ((const Msock__Prefs *)m->msg)->only_tcp_443;

	if (only443 != s->only_tcp_443) {
		s->only_tcp_443 = only443;
		dsvc_prefs_changed(s); /* nodes are chosen when dialling */
	}
}

static void on_network(void *arg, const struct bus_msg *m)
{
	dsvc_set_network_up(&((struct ctx *)arg)->svc, ((const Msock__NetworkState *)m->msg)->up);
}

static void on_netcheck(void *arg, const struct bus_msg *m)
{
	struct derp_svc *s = &((struct ctx *)arg)->svc;

	s->netcheck_home = ((const Msock__NetcheckReport *)m->msg)->preferred_derp;
	/* A new report chooses home again (pick-new-derp lasts until then). */
	if (!m->from_snapshot)
		s->picked_home = 0;
	dsvc_choose_home(s);
}

/* Handlers run on the clock ready() set for this pass (component_run
 * calls it before the bus), or at start-up the one set before the first
 * snapshot. */
static void on_node(void *arg, const struct bus_msg *m)
{
	struct derp_svc *s = &((struct ctx *)arg)->svc;

	if (m->deleted) {
		dsvc_peer_forget(s, m->node_key);
	} else {
		const Msock__NodeViewsUpdate *u = (const Msock__NodeViewsUpdate *)m->msg;
		dsvc_peer_set_home(s, m->node_key, u->node ? u->node->home_derp : 0);
	}
}

/* msockctl debug break-derp, pick-new-derp, force-prefer-derp. */
static void on_debug(void *arg, const struct bus_msg *m)
{
	const Msock__DebugDERP *d = (const Msock__DebugDERP *)m->msg;

	dsvc_debug(&((struct ctx *)arg)->svc, d->action ? d->action : "", d->region_id);
}

static const struct bus_handler handlers[] = {
	{BUS_T_DERPMap, BUS_H_STATE | BUS_H_DELETED | BUS_H_SNAPSHOT, BUS_KEY_REGION, on_derpmap},
	{BUS_T_SelfConfig, BUS_H_STATE, BUS_KEY_TEXT, on_self_config},
	{BUS_T_Prefs, BUS_H_STATE, BUS_KEY_TEXT, on_prefs},
	{BUS_T_NetworkState, BUS_H_STATE, BUS_KEY_TEXT, on_network},
	{BUS_T_NetcheckReport, BUS_H_STATE, BUS_KEY_TEXT, on_netcheck},
	{BUS_T_NodeViewsUpdate, BUS_H_STATE | BUS_H_DELETED, BUS_KEY_NODE, on_node},
	{BUS_T_DebugDERP, BUS_H_EVENT, BUS_KEY_TEXT, on_debug},
};

/* Keyed by our program: the broker and disco find the key's holder by it
 * in the process table (lib/proctab.h). */
static void publish_keys(struct derp_svc *s, const char *program)
{
	Msock__SelfKeys k = MSOCK__SELF_KEYS__INIT;

	k.node_key.data = s->pub.b;
	k.node_key.len = KEY_LEN;
	bus_state_set(s->bus, BUS_T_SelfKeys, program, &k.base);
}

static void on_packets(void *arg, uint64_t now)
{
	static uint8_t buf[PKTCHAN_MAX_PAYLOAD_BYTES];
	struct derp_svc *s = &((struct ctx *)arg)->svc;

	s->now_ns = now;
	for (int i = 0; i < 1024; i++) {
		struct pktchan_hdr h;
		size_t n;
		int rc = pktchan_recv(s->pc, &h, buf, sizeof(buf), &n);
		if (rc == -EAGAIN)
			return;
		if (rc == 0)
			dsvc_on_dataplane_packet(s, &h, buf, n);
	}
}

/* One item per DERP connection, in slot order. */
static int pollitems(void *arg, zmq_pollitem_t *it, int cap)
{
	struct derp_svc *s = &((struct ctx *)arg)->svc;
	int n = 0;

	for (size_t i = 0; i < s->n_conns && n < cap; i++) {
		struct rconn *c = s->conns[i];
		uint32_t ev = c->dc ? derp_client_events(c->dc) : 0;
		it[n++] = (zmq_pollitem_t){.fd = c->dc ? derp_client_fd(c->dc) : -1,
					   .events = (short)((ev & EPOLLIN ? ZMQ_POLLIN : 0) |
							     (ev & EPOLLOUT ? ZMQ_POLLOUT : 0))};
	}
	return n;
}

static void ready(void *arg, const zmq_pollitem_t *it, int n, uint64_t now)
{
	struct derp_svc *s = &((struct ctx *)arg)->svc;

	s->now_ns = now;
	/* Connections may have been added or closed since the poll: only
	 * those still in the same slot get their readiness. */
	for (int i = 0; i < n; i++) {
		size_t k = (size_t)i;
		if (k < s->n_conns && s->conns[k]->dc && it[i].revents &&
		    derp_client_fd(s->conns[k]->dc) == it[i].fd)
			derp_client_on_io(s->conns[k]->dc, now);
	}
}

static uint64_t deadline(void *arg, uint64_t now)
{
	struct derp_svc *s = &((struct ctx *)arg)->svc;

	s->now_ns = now;
	return dsvc_next_deadline(s);
}

static void tick(void *arg, uint64_t now)
{
	struct derp_svc *s = &((struct ctx *)arg)->svc;

	s->now_ns = now;
	dsvc_tick(s);
}

int main(int argc, char **argv)
{
	static struct ctx x;
	struct derp_svc *s = &x.svc;
	int rc = 1;

	if (component_init(&x.comp, "derp", &argc, argv) < 0 || argc > 1)
		return 2;
	log_ratelimit_init(&s->rl, LOG_RATELIMIT_DEFAULT_MS);
	/* Privileged opens: the node key and the CA bundles. */
	if (load_key(s, x.comp.key_file) < 0 ||
	    load_tls(s, x.comp.ca_file[0] ? x.comp.ca_file : 0) < 0)
		return 1;
	if (component_sandbox(&x.comp, 0, 0) < 0)
		return 1;
	if (x.comp.selftest)
		return sandbox_selftest(x.comp.selftest);
	if (component_signals(&x.comp) < 0)
		return 1;
	/* The snapshot below may dial the home region: deadlines need a clock. */
	s->now_ns = clock_mono_ns();
	if (component_connect(&x.comp, handlers, sizeof(handlers) / sizeof(handlers[0]), &x) < 0)
		goto out;
	s->bus = x.comp.bus;
	s->pc = x.comp.chan;
	health_init_bus(&s->health, s->bus, x.comp.proc->program);
	if (component_subscribe(&x.comp,
				(const char *const[]){BUS_T_Prefs, BUS_T_SelfConfig, BUS_T_DERPMap,
						      BUS_T_NodeViewsUpdate, BUS_T_NetcheckReport,
						      BUS_T_NetworkState, BUS_T_DebugDERP, 0}) < 0)
		goto out;
	publish_keys(s, x.comp.proc->program);
	log_info("node key nodekey:%02x%02x%02x%02x..., %zu DERP regions, home %u", s->pub.b[0],
		 s->pub.b[1], s->pub.b[2], s->pub.b[3], s->n_regions, s->home);
	rc = component_run(&x.comp,
			   &(const struct component_ops){.pollitems = pollitems,
							 .ready = ready,
							 .packets = on_packets,
							 .deadline = deadline,
							 .tick = tick},
			   &x) < 0
		     ? 1
		     : 0;
out:
	dsvc_free(s);
	component_close(&x.comp);
	SSL_CTX_free(s->tls);
	sodium_memzero(&s->priv, sizeof(s->priv));
	return rc;
}

/* dbg_page: /debug/magicsock, as Tailscale's ServeHTTPDebug
 * (wgengine/magicsock/debughttp.go) shows a node, and more: the DERP
 * connections, our endpoints with their kinds, the last netcheck report,
 * the components, and per peer its path, trust, candidate addresses with
 * their pongs, traffic per path and the timeline (dbg_svg.c). Every string
 * from the bus goes through dbg_buf_html. */
#include <inttypes.h>
#include <string.h>

#include "dbg.h"
#include "endpoint_pb.h"

static void hex(const uint8_t *p, size_t n, char *buf)
{
	for (size_t i = 0; i < n; i++)
		snprintf(buf + 2 * i, 3, "%02x", p[i]);
	buf[2 * n] = 0;
}

static void ago(struct dbg_buf *o, const struct dbg_now *now, int64_t at_ms)
{
	if (!at_ms) {
		dbg_buf_puts(o, "never");
		return;
	}
	dbg_buf_printf(o, "%.1f s ago", (double)(now->unix_ms - at_ms) / 1000.0);
}

static void endpoint(struct dbg_buf *o, const Msock__Endpoint *e)
{
	struct ipport a;
	char t[ADDR_TEXT_MAX];

	if (!e || endpoint_pb_to_ipport(e, &a) < 0) {
		dbg_buf_puts(o, "&mdash;");
		return;
	}
	ipport_format(&a, t, sizeof(t));
	dbg_buf_html(o, t);
}

static void section(struct dbg_buf *o, const char *id, const char *title)
{
	dbg_buf_printf(o, "<h2 id=\"%s\">%s</h2>\n", id, title);
}

static void head(struct dbg_buf *o, const struct dbg_now *now)
{
	dbg_buf_puts(o, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
			"<title>msock: magicsock</title><style>"
			"body{font-family:sans-serif;margin:1em 2em}"
			"table{border-collapse:collapse;margin-bottom:1em}"
			"td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;"
			"font-family:monospace;font-size:12px}"
			"th{background:#eee}h2{margin-top:1.5em}"
			".bad{color:#b00}.good{color:#070}"
			"</style></head><body>\n<h1>msock: magicsock</h1>\n");
	dbg_buf_printf(o,
		       "<p>Drawn at unix ms <span id=\"now\">%lld</span> by msock-debug, "
		       "from the bus's state. <a href=\"/metrics\">/metrics</a></p>\n",
		       (long long)now->unix_ms);
}

static void self_keys(const struct dbg_model *m, struct dbg_buf *o)
{
	const struct dbg_kv *d = dbg_model_get(m, BUS_T_SelfKeys, "derp"),
			    *c = dbg_model_get(m, BUS_T_SelfKeys, "disco");
	char h[65] = "";

	section(o, "self", "This node");
	dbg_buf_puts(o, "<table><tr><th>node key</th><td id=\"self-nodekey\">");
	if (d && ((Msock__SelfKeys *)d->msg)->node_key.len == 32) {
		hex(((Msock__SelfKeys *)d->msg)->node_key.data, 32, h);
		dbg_buf_printf(o, "nodekey:%s", h);
	}
	dbg_buf_puts(o, "</td></tr><tr><th>disco key</th><td>");
	if (c && ((Msock__SelfKeys *)c->msg)->disco_key.len == 32) {
		hex(((Msock__SelfKeys *)c->msg)->disco_key.data, 32, h);
		dbg_buf_printf(o, "discokey:%s", h);
	}
	dbg_buf_puts(o, "</td></tr></table>\n");
}

static void components(const struct dbg_model *m, const struct dbg_now *now, struct dbg_buf *o)
{
	section(o, "components", "Components");
	dbg_buf_puts(o, "<table id=\"components\"><tr><th>name</th><th>state</th><th>pid</th>"
			"<th>restarts</th><th>up</th><th>last exit</th><th>config generation</th>"
			"<th>bus drops</th></tr>\n");
	for (size_t i = 0; i < m->n_kv; i++) {
		const struct dbg_kv *kv = &m->kv[i];
		const Msock__ServiceState *s = (const Msock__ServiceState *)kv->msg;
		const struct dbg_kv *ca = 0, *bs = 0;
		if (kv->topic->name != BUS_T_ServiceState)
			continue;
		for (size_t j = 0; j < m->n_kv; j++) {
			const char *slash = strchr(m->kv[j].key, '/');
			if (!slash || strcmp(slash + 1, s->name) != 0)
				continue;
			if (m->kv[j].topic->name == BUS_T_ConfigApplied)
				ca = &m->kv[j];
			else if (m->kv[j].topic->name == BUS_T_BusStats)
				bs = &m->kv[j];
		}
		dbg_buf_puts(o, "<tr class=\"component\" data-name=\"");
		dbg_buf_html(o, s->name);
		dbg_buf_puts(o, "\"><td>");
		dbg_buf_html(o, s->name);
		dbg_buf_printf(o, "</td><td class=\"%s\">",
			       strcmp(s->state, "running") ? "bad" : "good");
		dbg_buf_html(o, s->state);
		dbg_buf_printf(o, "</td><td>%u</td><td>%u</td><td>", s->pid, s->restarts);
		if (s->started_mono_ns && now->mono_ns > s->started_mono_ns)
			dbg_buf_printf(o, "%.1f s",
				       (double)(now->mono_ns - s->started_mono_ns) / 1e9);
		dbg_buf_puts(o, "</td><td>");
		dbg_buf_html(o, s->last_exit);
		dbg_buf_puts(o, "</td><td>");
		if (ca)
			dbg_buf_printf(o, "%" PRIu64,
				       ((const Msock__ConfigApplied *)ca->msg)->generation);
		dbg_buf_puts(o, "</td><td>");
		if (bs) {
			const Msock__BusStats *b = (const Msock__BusStats *)bs->msg;
			dbg_buf_printf(o,
				       "bad frames %" PRIu64 ", unknown topic %" PRIu64
				       ", bad body %" PRIu64 ", gaps %" PRIu64 ", bad key %" PRIu64
				       ", no handler %" PRIu64 ", broker restarts %" PRIu64,
				       b->bad_frames, b->unknown_topic, b->bad_body, b->gaps,
				       b->bad_key, b->no_handler, b->broker_restarts);
		}
		dbg_buf_puts(o, "</td></tr>\n");
	}
	dbg_buf_puts(o, "</table>\n");
}

static void health(const struct dbg_model *m, struct dbg_buf *o)
{
	unsigned n = 0;

	section(o, "health", "Health");
	dbg_buf_puts(o, "<table id=\"health\"><tr><th>warning</th><th>severity</th><th>text</th>"
			"</tr>\n");
	for (size_t i = 0; i < m->n_kv; i++) {
		const Msock__Health *h = (const Msock__Health *)m->kv[i].msg;
		if (m->kv[i].topic->name != BUS_T_Health || h->ok)
			continue;
		n++;
		dbg_buf_puts(o, "<tr class=\"warning\"><td>");
		dbg_buf_html(o, m->kv[i].key);
		dbg_buf_puts(o, "</td><td>");
		dbg_buf_html(o, h->severity);
		dbg_buf_puts(o, "</td><td>");
		dbg_buf_html(o, h->text);
		dbg_buf_puts(o, "</td></tr>\n");
	}
	dbg_buf_puts(o, "</table>\n");
	if (!n)
		dbg_buf_puts(o, "<p>No warnings.</p>\n");
}

static const char *region_code(const struct dbg_model *m, uint32_t region)
{
	char key[16];
	const struct dbg_kv *kv;

	snprintf(key, sizeof(key), "%u", region);
	kv = dbg_model_get(m, BUS_T_DERPMap, key);
	return kv ? ((const Msock__DERPMap *)kv->msg)->region_code : "";
}

static void derp(const struct dbg_model *m, const struct dbg_now *now, struct dbg_buf *o)
{
	const struct dbg_kv *home = dbg_model_get(m, BUS_T_HomeDERP, "self");

	section(o, "derp", "DERP");
	dbg_buf_printf(o, "<p>Home region: <span id=\"home-derp\">%u</span></p>\n",
		       home ? ((const Msock__HomeDERP *)home->msg)->region_id : 0);
	dbg_buf_puts(o, "<table id=\"derp-conns\"><tr><th>region</th><th>code</th><th>node</th>"
			"<th>state</th><th>home</th><th>up since</th><th>packets sent</th>"
			"<th>packets received</th><th>last error</th></tr>\n");
	for (size_t i = 0; i < m->n_kv; i++) {
		const Msock__DERPRegionState *r = (const Msock__DERPRegionState *)m->kv[i].msg;
		if (m->kv[i].topic->name != BUS_T_DERPRegionState)
			continue;
		dbg_buf_printf(o, "<tr class=\"derp-conn\" data-region=\"%u\"><td>%u</td><td>",
			       r->region_id, r->region_id);
		dbg_buf_html(o, region_code(m, r->region_id));
		dbg_buf_puts(o, "</td><td>");
		dbg_buf_html(o, r->node);
		dbg_buf_puts(o, "</td><td>");
		dbg_buf_html(o, r->state);
		dbg_buf_printf(o, "</td><td>%s</td><td>", r->home ? "yes" : "");
		if (m->kv[i].up_since_ms)
			ago(o, now, m->kv[i].up_since_ms);
		dbg_buf_printf(o, "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>",
			       r->packets_sent, r->packets_received);
		dbg_buf_html(o, r->last_error);
		dbg_buf_puts(o, "</td></tr>\n");
	}
	dbg_buf_puts(o, "</table>\n");
}

static void endpoints(const struct dbg_model *m, struct dbg_buf *o)
{
	const struct dbg_kv *kv = dbg_model_get(m, BUS_T_Endpoints, "self");
	const Msock__Endpoints *e = kv ? (const Msock__Endpoints *)kv->msg : 0;

	section(o, "endpoints", "Our endpoints");
	dbg_buf_puts(o, "<table id=\"endpoints\"><tr><th>address</th><th>kind</th></tr>\n");
	for (size_t i = 0; e && i < e->n_endpoints; i++) {
		dbg_buf_puts(o, "<tr class=\"endpoint\"><td>");
		endpoint(o, e->endpoints[i]);
		dbg_buf_puts(o, "</td><td>");
		dbg_buf_html(o, endpoint_type_name(e->endpoints[i]->type));
		dbg_buf_puts(o, "</td></tr>\n");
	}
	dbg_buf_puts(o, "</table>\n");
	for (size_t i = 0; i < m->n_kv; i++) {
		const Msock__PortMapping *p = (const Msock__PortMapping *)m->kv[i].msg;
		if (m->kv[i].topic->name != BUS_T_PortMapping)
			continue;
		dbg_buf_puts(o, "<p class=\"portmap\">Port mapping (");
		dbg_buf_html(o, p->protocol);
		dbg_buf_puts(o, "): ");
		endpoint(o, p->external);
		dbg_buf_printf(o, " &rarr; port %u</p>\n", p->internal_port);
	}
}

static void netcheck(const struct dbg_model *m, const struct dbg_now *now, struct dbg_buf *o)
{
	const struct dbg_kv *kv = dbg_model_get(m, BUS_T_NetcheckReport, "last");
	const Msock__NetcheckReport *r = kv ? (const Msock__NetcheckReport *)kv->msg : 0;

	section(o, "netcheck", "Last netcheck report");
	if (!r) {
		dbg_buf_puts(o, "<p>None yet.</p>\n");
		return;
	}
	dbg_buf_printf(o,
		       "<table id=\"netcheck\"><tr><th>UDP</th><td>%s</td></tr>"
		       "<tr><th>IPv4 / IPv6</th><td>%s / %s</td></tr><tr><th>global v4</th><td>",
		       r->udp ? "yes" : "no", r->ipv4 ? "yes" : "no", r->ipv6 ? "yes" : "no");
	endpoint(o, r->global_v4);
	dbg_buf_puts(o, "</td></tr><tr><th>global v6</th><td>");
	endpoint(o, r->global_v6);
	dbg_buf_printf(o,
		       "</td></tr><tr><th>mapping varies by destination (hard NAT)</th><td>%s</td>"
		       "</tr><tr><th>preferred DERP</th><td>%u</td></tr>"
		       "<tr><th>captive portal</th><td>%s</td></tr>"
		       "<tr><th>UPnP / PMP / PCP</th><td>%s / %s / %s</td></tr><tr><th>at</th><td>",
		       r->mapping_varies_by_dest_ip ? "yes" : "no", r->preferred_derp,
		       r->captive_portal ? "yes" : "no", r->upnp ? "yes" : "no",
		       r->pmp ? "yes" : "no", r->pcp ? "yes" : "no");
	ago(o, now, r->at_unix_ms);
	dbg_buf_puts(o, "</td></tr>");
	for (size_t i = 0; i < r->n_region_latency; i++) {
		dbg_buf_printf(o, "<tr><th>region %u ", r->region_latency[i]->region_id);
		dbg_buf_html(o, region_code(m, r->region_latency[i]->region_id));
		dbg_buf_printf(o, "</th><td>%.3f ms</td></tr>",
			       r->region_latency[i]->latency_us / 1000.0);
	}
	dbg_buf_puts(o, "</table>\n");
}

static void peer_row(const struct dbg_model *m, const struct dbg_peer *p, struct dbg_buf *o)
{
	char h[65];
	const Msock__DataplanePeer *d = p->dp;

	hex(p->key, 32, h);
	dbg_buf_printf(o, "<tr class=\"peer\" data-peer=\"%s\"><td>", h);
	if (p->view && p->view->node)
		dbg_buf_html(o, p->view->node->name);
	dbg_buf_printf(o, "</td><td><a href=\"?peer=%s#peer-%s\">%.16s&hellip;</a></td><td>", h, h,
		       h);
	dbg_buf_html(o, d ? d->path : "");
	dbg_buf_puts(o, "</td><td>");
	endpoint(o, p->path ? p->path->direct : 0);
	dbg_buf_printf(o, "</td><td>%u", p->path ? p->path->derp_region : 0);
	if (p->path && p->path->derp_region) {
		dbg_buf_puts(o, " ");
		dbg_buf_html(o, region_code(m, p->path->derp_region));
	}
	dbg_buf_puts(o, "</td><td>");
	if (p->path && p->path->latency_us)
		dbg_buf_printf(o, "%.3f ms", p->path->latency_us / 1000.0);
	dbg_buf_printf(o, "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td></tr>\n",
		       d ? d->rx_packets : 0, d ? d->tx_packets : 0);
}

static void candidates(const struct dbg_peer *p, const struct dbg_now *now, struct dbg_buf *o)
{
	dbg_buf_puts(o, "<table class=\"candidates\"><tr><th>path</th><th>rx packets</th>"
			"<th>tx packets</th><th>recent pongs (latency, when)</th></tr>\n");
	for (unsigned i = 0; i < p->n_lanes; i++) {
		char id[80];
		unsigned shown = 0;
		dbg_lane_id(&p->lanes[i], id, sizeof(id));
		dbg_buf_puts(o, "<tr class=\"candidate\" data-path=\"");
		dbg_buf_html(o, id);
		dbg_buf_puts(o, "\"><td>");
		dbg_buf_html(o, id);
		dbg_buf_printf(o, "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>",
			       p->lanes[i].rx_packets, p->lanes[i].tx_packets);
		for (unsigned j = p->n_marks; j-- > 0 && shown < 5;) {
			const struct dbg_mark *k = dbg_peer_mark(p, j);
			if (k->kind != DBG_MARK_PONG || k->lane != (int)i)
				continue;
			dbg_buf_printf(o, "%s%.3f ms, ", shown++ ? "; " : "",
				       k->latency_us / 1000.0);
			ago(o, now, k->at_ms);
		}
		dbg_buf_puts(o, "</td></tr>\n");
	}
	dbg_buf_puts(o, "</table>\n");
}

static void peer_detail(const struct dbg_model *m, const struct dbg_peer *p,
			const struct dbg_now *now, struct dbg_buf *o)
{
	char h[65];
	const Msock__DataplanePeer *d = p->dp;

	hex(p->key, 32, h);
	dbg_buf_printf(o, "<div class=\"peer-detail\" id=\"peer-%s\"><h3>", h);
	if (p->view && p->view->node && p->view->node->name[0]) {
		dbg_buf_html(o, p->view->node->name);
		dbg_buf_puts(o, " ");
	}
	dbg_buf_printf(o, "nodekey:%s</h3>\n<p>Current path: <b class=\"cur-path\">", h);
	dbg_buf_html(o, d ? d->path : "unknown");
	dbg_buf_puts(o, "</b>; disco's direct address ");
	endpoint(o, p->path ? p->path->direct : 0);
	dbg_buf_puts(o, ", trusted ");
	if (p->path && p->path->trusted_until_mono_ns > now->mono_ns)
		dbg_buf_printf(o, "for %.1f s more",
			       (double)(p->path->trusted_until_mono_ns - now->mono_ns) / 1e9);
	else
		dbg_buf_puts(o, "no longer");
	dbg_buf_puts(o, "; static endpoints:");
	size_t n_static = p->view && p->view->node ? p->view->node->n_endpoints : 0;
	for (size_t i = 0; i < n_static; i++) {
		dbg_buf_puts(o, " ");
		endpoint(o, p->view->node->endpoints[i]);
	}
	if (!n_static)
		dbg_buf_puts(o, " none");
	if (d)
		dbg_buf_printf(o,
			       "; DERP packets rx %" PRIu64 " tx %" PRIu64 ", direct rx %" PRIu64
			       " tx %" PRIu64,
			       d->rx_derp_packets, d->tx_derp_packets,
			       d->rx_packets - d->rx_derp_packets,
			       d->tx_packets - d->tx_derp_packets);
	dbg_buf_puts(o, ".</p>\n");
	candidates(p, now, o);
	dbg_svg_timeline(p, m, now, o);
	dbg_buf_puts(o, "</div>\n");
}

static bool wanted(const struct dbg_peer *p, const char *peer)
{
	char h[65];

	if (!peer)
		return true;
	hex(p->key, 32, h);
	return strcmp(h, peer) == 0;
}

static void peers(const struct dbg_model *m, const struct dbg_now *now, const char *peer,
		  struct dbg_buf *o)
{
	size_t rows = 0, drawn = 0;

	section(o, "peers", "Peers");
	dbg_buf_printf(o, "<p>%zu peer%s.</p>\n", m->n_peers, m->n_peers == 1 ? "" : "s");
	dbg_buf_puts(o, "<table id=\"peers\"><tr><th>name</th><th>node key</th><th>path</th>"
			"<th>direct</th><th>DERP region</th><th>latency</th><th>rx packets</th>"
			"<th>tx packets</th></tr>\n");
	for (size_t i = 0; i < m->n_peers && rows < DBG_PAGE_MAX_PEER_ROWS; i++)
		if (wanted(&m->peers[i], peer)) {
			peer_row(m, &m->peers[i], o);
			rows++;
		}
	dbg_buf_puts(o, "</table>\n");
	if (rows == DBG_PAGE_MAX_PEER_ROWS && m->n_peers > rows)
		dbg_buf_printf(o, "<p>%zu more not listed.</p>\n", m->n_peers - rows);
	for (size_t i = 0; i < m->n_peers && drawn < DBG_PAGE_MAX_TIMELINES; i++)
		if (wanted(&m->peers[i], peer)) {
			peer_detail(m, &m->peers[i], now, o);
			drawn++;
		}
}

void dbg_page_magicsock(const struct dbg_model *m, const struct dbg_now *now, const char *peer,
			struct dbg_buf *o)
{
	head(o, now);
	self_keys(m, o);
	health(m, o);
	components(m, now, o);
	derp(m, now, o);
	endpoints(m, o);
	netcheck(m, now, o);
	peers(m, now, peer, o);
	dbg_buf_puts(o, "</body></html>\n");
}

void dbg_page_index(struct dbg_buf *o)
{
	dbg_buf_puts(o,
		     "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>msock debug"
		     "</title></head><body><h1>msock debug</h1><ul>"
		     "<li><a href=\"/debug/magicsock\">/debug/magicsock</a>: paths, peers, DERP, "
		     "components</li><li><a href=\"/metrics\">/metrics</a>: Prometheus</li>"
		     "</ul></body></html>\n");
}

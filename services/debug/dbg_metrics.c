/* dbg_metrics: /metrics in Prometheus's text format (version 0.0.4). The
 * tailscaled_* families keep the names, types, HELP and labels of
 * tailscaled's user metrics (util/usermetric; wgengine/magicsock's
 * registerMetrics; health.Tracker's SetMetricsRegistry), summed from the
 * dataplane's per-peer counters; msock's own are msock_*. docs/debug.md
 * lists them with their sources. */
#include <inttypes.h>
#include <string.h>

#include "dbg.h"
#include "pb_field.h"

static const double gap_bounds[DBG_GAP_NBUCKETS] = DBG_GAP_BUCKETS;

static void family(struct dbg_buf *o, const char *name, const char *type, const char *help)
{
	dbg_buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{label="value"} n */
static void sample1(struct dbg_buf *o, const char *name, const char *label, const char *value,
		    uint64_t n)
{
	dbg_buf_printf(o, "%s{%s=\"", name, label);
	dbg_buf_label(o, value);
	dbg_buf_printf(o, "\"} %" PRIu64 "\n", n);
}

enum { P_V4, P_V6, P_DERP, P_N };
static const char *const path_names[P_N] = {"direct_ipv4", "direct_ipv6", "derp"};

struct traffic {
	uint64_t rx_pk[P_N], rx_b[P_N], tx_pk[P_N], tx_b[P_N];
};

static void sum_peers(const struct dbg_model *m, struct traffic *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < m->n_peers; i++) {
		const struct dbg_peer *p = &m->peers[i];
		const Msock__DataplanePeer *d = p->dp;
		int dir = p->direct_v6 ? P_V6 : P_V4;
		if (!d)
			continue;
		t->rx_pk[P_DERP] += d->rx_derp_packets;
		t->tx_pk[P_DERP] += d->tx_derp_packets;
		t->rx_b[P_DERP] += d->rx_derp_bytes;
		t->tx_b[P_DERP] += d->tx_derp_bytes;
		/* What did not go over DERP went direct, to the family of the
		 * direct address last used. */
		t->rx_pk[dir] +=
			d->rx_packets -
			(d->rx_derp_packets < d->rx_packets ? d->rx_derp_packets : d->rx_packets);
		t->tx_pk[dir] +=
			d->tx_packets -
			(d->tx_derp_packets < d->tx_packets ? d->tx_derp_packets : d->tx_packets);
		t->rx_b[dir] += d->rx_bytes -
				(d->rx_derp_bytes < d->rx_bytes ? d->rx_derp_bytes : d->rx_bytes);
		t->tx_b[dir] += d->tx_bytes -
				(d->tx_derp_bytes < d->tx_bytes ? d->tx_derp_bytes : d->tx_bytes);
	}
}

static void by_path(struct dbg_buf *o, const char *name, const char *help, const uint64_t *v)
{
	family(o, name, "counter", help);
	for (int i = 0; i < P_N; i++)
		sample1(o, name, "path", path_names[i], v[i]);
}

static void tailscaled(const struct dbg_model *m, struct dbg_buf *o)
{
	struct traffic t;
	const struct dbg_kv *home = dbg_model_get(m, BUS_T_HomeDERP, "self"),
			    *dps = dbg_model_get(m, BUS_T_DataplaneState, "self");
	uint64_t warnings = 0;

	sum_peers(m, &t);
	by_path(o, "tailscaled_inbound_packets_total",
		"Counts the number of packets received from other peers", t.rx_pk);
	by_path(o, "tailscaled_inbound_bytes_total",
		"Counts the number of bytes received from other peers", t.rx_b);
	by_path(o, "tailscaled_outbound_packets_total",
		"Counts the number of packets sent to other peers", t.tx_pk);
	by_path(o, "tailscaled_outbound_bytes_total",
		"Counts the number of bytes sent to other peers", t.tx_b);
	family(o, "tailscaled_outbound_dropped_packets_total", "counter",
	       "Counts the number of packets dropped while being sent to other peers");
	sample1(o, "tailscaled_outbound_dropped_packets_total", "reason", "error",
		dps ? ((const Msock__DataplaneState *)dps->msg)->tx_errors : 0);
	family(o, "tailscaled_home_derp_region_id", "gauge",
	       "The DERP region ID of this node's home DERP region (0: none)");
	dbg_buf_printf(o, "tailscaled_home_derp_region_id %u\n",
		       home ? ((const Msock__HomeDERP *)home->msg)->region_id : 0);
	for (size_t i = 0; i < m->n_kv; i++)
		warnings += m->kv[i].topic->name == BUS_T_Health &&
			    !((const Msock__Health *)m->kv[i].msg)->ok;
	family(o, "tailscaled_health_messages", "gauge",
	       "Number of health messages broken down by type.");
	sample1(o, "tailscaled_health_messages", "type", "warning", warnings);
}

/* The component's name in a "<program>/<name>" key. */
static const char *key_name(const char *key)
{
	const char *s = strchr(key, '/');

	return s ? s + 1 : key;
}

static void components(const struct dbg_model *m, struct dbg_buf *o)
{
	static const struct {
		const char *reason;
		size_t off;
	} drops[] = {
		{"bad_frames", offsetof(Msock__BusStats, bad_frames)},
		{"unknown_topic", offsetof(Msock__BusStats, unknown_topic)},
		{"bad_body", offsetof(Msock__BusStats, bad_body)},
		{"stale", offsetof(Msock__BusStats, stale)},
		{"gaps", offsetof(Msock__BusStats, gaps)},
		{"refused", offsetof(Msock__BusStats, refused)},
		{"snapshot_timeouts", offsetof(Msock__BusStats, snapshot_timeouts)},
		{"bad_key", offsetof(Msock__BusStats, bad_key)},
		{"no_handler", offsetof(Msock__BusStats, no_handler)},
	};

	family(o, "msock_component_up", "gauge",
	       "1 while the component runs, 0 otherwise (its supervision state)");
	for (size_t i = 0; i < m->n_kv; i++)
		if (m->kv[i].topic->name == BUS_T_ServiceState) {
			const Msock__ServiceState *s = (const Msock__ServiceState *)m->kv[i].msg;
			sample1(o, "msock_component_up", "component", s->name,
				strcmp(s->state, "running") == 0);
		}
	family(o, "msock_component_restarts_total", "counter",
	       "Restarts of the component since the broker started supervising it");
	for (size_t i = 0; i < m->n_kv; i++)
		if (m->kv[i].topic->name == BUS_T_ServiceState) {
			const Msock__ServiceState *s = (const Msock__ServiceState *)m->kv[i].msg;
			sample1(o, "msock_component_restarts_total", "component", s->name,
				s->restarts);
		}
	family(o, "msock_bus_dropped_messages_total", "counter",
	       "Bus messages a component's side of the bus dropped, by reason (BusStats)");
	for (size_t i = 0; i < m->n_kv; i++) {
		const uint8_t *b = (const uint8_t *)m->kv[i].msg;
		if (m->kv[i].topic->name != BUS_T_BusStats)
			continue;
		for (size_t j = 0; j < sizeof(drops) / sizeof(drops[0]); j++) {
			uint64_t v;
			memcpy(&v, b + drops[j].off, sizeof(v));
			dbg_buf_puts(o, "msock_bus_dropped_messages_total{component=\"");
			dbg_buf_label(o, key_name(m->kv[i].key));
			dbg_buf_printf(o, "\",reason=\"%s\"} %" PRIu64 "\n", drops[j].reason, v);
		}
	}
}

static void health(const struct dbg_model *m, struct dbg_buf *o)
{
	family(o, "msock_health_warning", "gauge",
	       "1 for each health warning a component publishes (Health), by its key");
	for (size_t i = 0; i < m->n_kv; i++) {
		const Msock__Health *h = (const Msock__Health *)m->kv[i].msg;
		if (m->kv[i].topic->name != BUS_T_Health || h->ok)
			continue;
		dbg_buf_puts(o, "msock_health_warning{component=\"");
		dbg_buf_label(o, h->component);
		dbg_buf_puts(o, "\",code=\"");
		dbg_buf_label(o, h->code);
		dbg_buf_puts(o, "\",severity=\"");
		dbg_buf_label(o, h->severity);
		dbg_buf_puts(o, "\"} 1\n");
	}
}

static void paths(const struct dbg_model *m, struct dbg_buf *o)
{
	uint64_t cum = 0;

	family(o, "msock_peers", "gauge", "Peers in the netmap");
	dbg_buf_printf(o, "msock_peers %zu\n", m->n_peers);
	family(o, "msock_path_changes_total", "counter",
	       "Path changes disco made (PathHistory), seen since msock-debug started");
	dbg_buf_printf(o, "msock_path_changes_total %" PRIu64 "\n", m->path_changes);
	family(o, "msock_failovers_total", "counter",
	       "Times the dataplane left a direct path for DERP, since msock-debug started");
	dbg_buf_printf(o, "msock_failovers_total %" PRIu64 "\n", m->failovers);
	family(o, "msock_failover_gap_seconds", "histogram",
	       "From the last packet received before a failover to the first received after "
	       "it (an upper bound: the counters are published every 2 s)");
	for (int i = 0; i < DBG_GAP_NBUCKETS; i++) {
		cum = m->gap_buckets[i]; /* already cumulative: counted in every bucket >= */
		dbg_buf_printf(o, "msock_failover_gap_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
			       gap_bounds[i], cum);
	}
	dbg_buf_printf(o,
		       "msock_failover_gap_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
		       "msock_failover_gap_seconds_sum %.6f\n"
		       "msock_failover_gap_seconds_count %" PRIu64 "\n",
		       m->gap_count, m->gap_sum_s, m->gap_count);
}

static void portmap(const struct dbg_model *m, const struct dbg_now *now, struct dbg_buf *o)
{
	static const char *const protos[] = {"nat-pmp", "pcp", "upnp"};

	family(o, "msock_portmap_mapped", "gauge",
	       "1 while the gateway maps our port with this protocol (PortMapping)");
	for (size_t i = 0; i < 3; i++)
		sample1(o, "msock_portmap_mapped", "protocol", protos[i],
			dbg_model_get(m, BUS_T_PortMapping, protos[i]) != 0);
	family(o, "msock_portmap_expires_seconds", "gauge",
	       "Seconds until the mapping expires unless renewed");
	for (size_t i = 0; i < 3; i++) {
		const struct dbg_kv *kv = dbg_model_get(m, BUS_T_PortMapping, protos[i]);
		uint64_t exp = kv ? ((const Msock__PortMapping *)kv->msg)->expires_mono_ns : 0;
		if (kv)
			dbg_buf_printf(o, "msock_portmap_expires_seconds{protocol=\"%s\"} %.3f\n",
				       protos[i],
				       exp > now->mono_ns ? (double)(exp - now->mono_ns) / 1e9
							  : 0.0);
	}
}

static void dataplane(const struct dbg_model *m, struct dbg_buf *o)
{
	const struct dbg_kv *kv = dbg_model_get(m, BUS_T_DataplaneState, "self");
	const Msock__DataplaneState *d = kv ? (const Msock__DataplaneState *)kv->msg : 0;
	const struct {
		const char *reason;
		uint64_t v;
	} rows[] = {
		{"unknown_source", d ? d->rx_unknown_source : 0},
		{"disco_junk", d ? d->rx_disco_junk : 0},
		{"geneve", d ? d->rx_geneve : 0},
		{"wg_bad_source", d ? d->wg_bad_source : 0},
		{"wg_no_peer", d ? d->wg_no_peer : 0},
		{"wg_no_port", d ? d->wg_no_port : 0},
		{"tx_error", d ? d->tx_errors : 0},
		{"channel_full", d ? d->chan_drops : 0},
		{"derp_unknown_peer", d ? d->derp_unknown_peer : 0},
	};

	family(o, "msock_dataplane_dropped_packets_total", "counter",
	       "Packets the dataplane dropped, by reason (DataplaneState)");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		sample1(o, "msock_dataplane_dropped_packets_total", "reason", rows[i].reason,
			rows[i].v);
	family(o, "msock_derp_region_up", "gauge",
	       "1 while the DERP connection to the region is up");
	for (size_t i = 0; i < m->n_kv; i++)
		if (m->kv[i].topic->name == BUS_T_DERPRegionState) {
			const Msock__DERPRegionState *r =
				(const Msock__DERPRegionState *)m->kv[i].msg;
			dbg_buf_printf(o, "msock_derp_region_up{region=\"%u\"} %d\n", r->region_id,
				       strcmp(r->state, "up") == 0);
		}
}

/* Disco's message counters (DiscoStats). The type and reason labels are
 * the field names of DiscoStats.Counts and DiscoStats.Dropped
 * (proto/state.proto), in field order, so a type or a reason disco adds
 * shows here as it is named there. Before disco publishes, every series
 * is 0. */
static void disco(const struct dbg_model *m, struct dbg_buf *o)
{
	const struct dbg_kv *kv = dbg_model_get(m, BUS_T_DiscoStats, "self");
	const Msock__DiscoStats *s = kv ? (const Msock__DiscoStats *)kv->msg : 0;
	const struct {
		const char *direction, *path;
		const Msock__DiscoStats__Counts *c;
	} rows[] = {
		{"sent", "udp", s ? s->sent_udp : 0},
		{"sent", "derp", s ? s->sent_derp : 0},
		{"received", "udp", s ? s->received_udp : 0},
		{"received", "derp", s ? s->received_derp : 0},
	};
	const ProtobufCMessageDescriptor *cd = &msock__disco_stats__counts__descriptor,
					 *dd = &msock__disco_stats__dropped__descriptor;

	family(o, "msock_disco_messages_total", "counter",
	       "Disco messages sent (sealed and handed on) and received (opened and parsed, "
	       "acted on or not), by type and path (DiscoStats)");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		for (unsigned j = 0; j < cd->n_fields; j++)
			dbg_buf_printf(
				o,
				"msock_disco_messages_total{direction=\"%s\",type=\"%s\","
				"path=\"%s\"} %" PRIu64 "\n",
				rows[i].direction, cd->fields[j].name, rows[i].path,
				pb_field_u64(rows[i].c ? &rows[i].c->base : 0, &cd->fields[j]));
	family(o, "msock_disco_dropped_messages_total", "counter",
	       "Disco messages dropped, by reason (DiscoStats)");
	for (unsigned j = 0; j < dd->n_fields; j++)
		sample1(o, "msock_disco_dropped_messages_total", "reason", dd->fields[j].name,
			pb_field_u64(s && s->dropped ? &s->dropped->base : 0, &dd->fields[j]));
	family(o, "msock_disco_call_me_maybe_endpoints_ignored_total", "counter",
	       "Endpoints of CallMeMaybes received that disco did not take, by reason "
	       "(DiscoStats)");
	sample1(o, "msock_disco_call_me_maybe_endpoints_ignored_total", "reason", "unusable",
		s ? s->cmm_unusable_endpoints : 0);
	sample1(o, "msock_disco_call_me_maybe_endpoints_ignored_total", "reason", "capped",
		s ? s->cmm_endpoints_capped : 0);
}

void dbg_metrics(const struct dbg_model *m, const struct dbg_now *now, struct dbg_buf *out)
{
	tailscaled(m, out);
	components(m, out);
	health(m, out);
	paths(m, out);
	portmap(m, now, out);
	dataplane(m, out);
	disco(m, out);
}

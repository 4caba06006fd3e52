/* derper_metrics: see derper_metrics.h. */
#include "derper_metrics.h"

#include <stdarg.h>
#include <stdio.h>

struct out {
	char *buf;
	size_t cap, len;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len + 1 >= o->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n < o->cap - o->len ? (size_t)n : o->cap - o->len - 1;
}

static void gauge(struct out *o, const char *name, const char *help, unsigned long long v)
{
	put(o, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name, v);
}

static void counter(struct out *o, const char *name, const char *help, unsigned long long v)
{
	put(o, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, v);
}

size_t derper_metrics_text(const struct derper *s, char *buf, size_t cap)
{
	const struct derper_counters *c = &s->ctr;
	struct out o = {buf, cap, 0};

	if (cap)
		buf[0] = 0;
	gauge(&o, "derp_current_connections", "connections open, logged in or not", s->n_conns);
	gauge(&o, "derp_current_clients", "clients logged in", c->clients);
	gauge(&o, "derp_pending_handshakes", "connections not logged in yet", s->n_pending);
	gauge(&o, "derp_current_home_connections",
	      "clients that said this is their home node (NotePreferred)", c->home_clients);
	counter(&o, "derp_accepts_total", "connections accepted", c->accepts);
	counter(&o, "derp_accepts_refused_pending_total",
		"connections refused: too many unfinished handshakes", c->refused_pending);
	counter(&o, "derp_logins_total", "logins completed", c->logins);
	counter(&o, "derp_login_failures_total", "logins refused (bad box, not allowed)",
		c->login_failures);
	counter(&o, "derp_packets_relayed_total", "packets queued for a client",
		c->packets_relayed);
	counter(&o, "derp_bytes_relayed_total", "bytes of packets queued for a client",
		c->bytes_relayed);
	put(&o, "# HELP derp_packets_dropped_total packets dropped, by reason\n"
		"# TYPE derp_packets_dropped_total counter\n");
	put(&o, "derp_packets_dropped_total{reason=\"unknown_dest\"} %llu\n",
	    (unsigned long long)c->drop_unknown_dest);
	put(&o, "derp_packets_dropped_total{reason=\"queue_head\"} %llu\n",
	    (unsigned long long)c->drop_queue_head);
	put(&o, "derp_packets_dropped_total{reason=\"queue_tail\"} %llu\n",
	    (unsigned long long)c->drop_queue_tail);
	put(&o, "derp_packets_dropped_total{reason=\"gone_disconnected\"} %llu\n",
	    (unsigned long long)c->drop_gone);
	put(&o, "derp_packets_dropped_total{reason=\"write_error\"} %llu\n",
	    (unsigned long long)c->drop_write);
	counter(&o, "derp_peer_gone_not_here_frames_total", "PeerGone(not here) frames sent",
		c->peer_gone_not_here);
	counter(&o, "derp_peer_gone_disconnected_frames_total",
		"PeerGone(disconnected) frames sent: a sender left the region",
		c->peer_gone_disconnected);
	counter(&o, "derp_malformed_frames_total", "connections closed for a malformed frame",
		c->malformed);
	counter(&o, "derp_unknown_frames_total", "frames of unknown types skipped",
		c->unknown_frames);
	counter(&o, "derp_dup_client_replaced_total",
		"connections replaced by one with the same key", c->dup_replaced);
	counter(&o, "derp_write_timeouts_total", "clients closed because they stopped reading",
		c->write_timeouts);
	counter(&o, "derp_handshake_timeouts_total", "connections closed at the handshake deadline",
		c->handshake_timeouts);
	gauge(&o, "derp_rate_limit_per_client_bytes_per_second",
	      "per-client receive rate limit (0: none)", s->rate_bps);
	gauge(&o, "derp_rate_limit_per_client_burst_bytes", "per-client receive burst",
	      s->rate_burst);
	counter(&o, "derp_rate_limit_per_client_waited_total",
		"times a client's reads were paused by its rate limit", c->rate_limited_waits);
	counter(&o, "derp_packets_forwarded_in_total", "packets a mesh peer forwarded to us",
		c->packets_forwarded_in);
	counter(&o, "derp_packets_forwarded_out_total", "packets we forwarded to a mesh peer",
		c->packets_forwarded_out);
	counter(&o, "derp_packets_dropped_unknown_dest_on_fwd_total",
		"forwarded packets for a key no longer here", c->drop_unknown_dest_on_fwd);
	counter(&o, "derp_stun_requests_total", "STUN binding requests answered", c->stun_requests);
	counter(&o, "derp_stun_bad_total", "STUN packets dropped as malformed", c->stun_bad);
	return o.len;
}

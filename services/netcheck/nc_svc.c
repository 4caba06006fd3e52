/* nc_svc: one netcheck report at a time (nc_svc.h), after Tailscale's
 * net/netcheck GetReport, runProbe and addNodeLatency. */
#include "nc_svc.h"

#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"

static uint64_t ms(uint64_t n)
{
	return n * NS_PER_MS;
}

int nc_svc_init(struct nc_svc *s, nc_svc_send_fn send, nc_svc_report_fn on_report, void *arg,
		uint64_t now_ns)
{
	/* One request per probe, no retransmits: a plan's later probes are
	 * its retries, and each RTT stays unambiguous (stun_client.h). */
	struct stun_client_cfg cfg = {.max_sends = 1, .timeout_ms = NC_STUN_PROBE_TIMEOUT_MS};

	s->send = send;
	s->on_report = on_report;
	s->arg = arg;
	s->have_v4 = true;
	s->network_up = true;
	s->next_report_ns = now_ns;
	/* No probe has a socket yet (0 would be stdin's). */
	s->captive.io.fd = -1;
	for (size_t i = 0; i < NC_MAX_REGIONS; i++)
		s->https[i].io.fd = -1;
	s->stun = stun_client_new(&cfg);
	s->hist = nc_history_new();
	nc_report_init(&s->last);
	return s->stun && s->hist ? 0 : -ENOMEM;
}

void nc_svc_free(struct nc_svc *s)
{
	nc_http_close(&s->captive);
	for (size_t i = 0; i < NC_MAX_REGIONS; i++)
		nc_http_close(&s->https[i]);
	stun_client_free(s->stun);
	nc_history_free(s->hist);
	s->stun = 0;
	s->hist = 0;
}

/* A run cannot survive its map changing under it (the plan holds indexes
 * into the map): it is dropped and a new one starts at once (when the
 * network is up). */
static void abort_run(struct nc_svc *s, uint64_t now_ns)
{
	if (!s->running)
		return;
	s->running = false;
	nc_http_close(&s->captive);
	for (size_t i = 0; i < NC_MAX_REGIONS; i++)
		nc_http_close(&s->https[i]);
	s->next_report_ns = now_ns;
}

static int region_index(const struct nc_svc *s, uint32_t id)
{
	for (size_t i = 0; i < s->dm.n_regions; i++)
		if (s->dm.regions[i].id == id)
			return (int)i;
	return -1;
}

void nc_svc_set_region(struct nc_svc *s, const struct nc_region *r,
		       const struct nc_svc_region_info *info)
{
	int i = region_index(s, r->id);

	if (i < 0) {
		if (s->dm.n_regions == NC_MAX_REGIONS)
			return;
		i = (int)s->dm.n_regions++;
	}
	s->dm.regions[i] = *r;
	s->info[i] = *info;
	abort_run(s, s->next_report_ns);
}

void nc_svc_remove_region(struct nc_svc *s, uint32_t id)
{
	int i = region_index(s, id);

	if (i < 0)
		return;
	s->dm.n_regions--;
	s->dm.regions[i] = s->dm.regions[s->dm.n_regions];
	s->info[i] = s->info[s->dm.n_regions];
	abort_run(s, s->next_report_ns);
}

void nc_svc_restun(struct nc_svc *s, bool full, uint64_t now_ns)
{
	if (full)
		s->next_full = true;
	if (!s->running)
		s->next_report_ns = now_ns;
}

/* Down: no report starts (magicsock's SetNetworkUp(false)), and a run in
 * progress is dropped, never published: it measured a network that is gone
 * (its probes were answered, or not, by links that no longer exist). Up
 * again: a full report at once. */
void nc_svc_set_network_up(struct nc_svc *s, bool up, uint64_t now_ns)
{
	if (!up && s->running) {
		abort_run(s, now_ns);
		s->runs_dropped++;
	}
	if (up && !s->network_up)
		nc_svc_restun(s, true, now_ns);
	s->network_up = up;
}

static void start_run(struct nc_svc *s, uint64_t now)
{
	bool full = s->next_full || !s->have_last ||
		    now - s->last_full_ns >= ms(NC_FULL_REPORT_INTERVAL_MS) ||
		    (!s->last.udp && s->last.captive_portal == NC_OPT_TRUE);

	if (full) {
		s->last_full_ns = now;
		s->next_full = false;
	}
	s->full = full;
	nc_plan_make(&s->dm, s->have_v4, s->have_v6, full ? 0 : &s->last, nc_history_home(s->hist),
		     &s->plan);
	memset(s->probes, 0, sizeof(s->probes));
	memset(s->set_done, 0, sizeof(s->set_done));
	nc_report_init(&s->cur);
	s->running = true;
	s->stun_done = false;
	s->start_ns = now;
	s->stun_end_ns = now + ms(NC_STUN_PROBE_TIMEOUT_MS);
	s->report_end_ns = now + ms(NC_REPORT_TIMEOUT_MS);
	s->captive_at_ns = full ? now + ms(NC_SVC_CAPTIVE_DELAY_MS) : 0;
	s->captive_started = false;
	memset(&s->captive, 0, sizeof(s->captive));
	s->captive.io.fd = -1;
	for (size_t i = 0; i < NC_MAX_REGIONS; i++) {
		nc_http_close(&s->https[i]);
		s->https[i].st = 0;
	}
	s->n_https = 0;
}

static void send_probes(struct nc_svc *s, uint64_t now)
{
	uint8_t buf[STUN_REQUEST_BYTES];

	for (size_t i = 0; i < s->plan.n; i++) {
		const struct nc_probe_set *set = &s->plan.sets[i];
		if (s->set_done[i])
			continue;
		for (size_t j = 0; j < set->n; j++) {
			const struct nc_probe *p = &set->probes[j];
			struct nc_svc_probe *st = &s->probes[i][j];
			const struct nc_node *node;
			struct ipport to;
			if (st->started || now < s->start_ns + p->delay_ns)
				continue;
			st->started = true;
			if (!nc_report_probe_would_help(&s->cur, p->region_id, p->family))
				continue;
			node = nc_probe_node(&s->dm, p);
			if (!node || nc_node_stun_addr(node, p->family, &to) < 0)
				continue;
			if (stun_client_start(s->stun, &to, (uint64_t)i << 8 | j, now, buf,
					      sizeof(buf), &st->tx) < 0)
				continue;
			s->stun_sent++;
			s->send(s->arg, &to, buf, sizeof(buf));
		}
	}
}

/* The node of region index ri to reach over HTTP(S): the first one that is
 * a DERP server (not STUN-only) with an IPv4 literal. */
static int http_node(const struct nc_svc *s, size_t ri, struct ipport *addr)
{
	const struct nc_region *r = &s->dm.regions[ri];

	for (size_t k = 0; k < r->n_nodes; k++) {
		if (r->nodes[k].stun_only || s->info[ri].nodes[k].bad_cert_name ||
		    ip_parse(r->nodes[k].ipv4, addr) < 0 || addr->family != AF_INET)
			continue;
		return (int)k;
	}
	return -1;
}

/* Tailscale: "UDP is blocked, trying HTTPS" — every region without a
 * latency gets an HTTPS probe to its /derp/latency-check, except Avoid and
 * NoMeasureNoHome regions (GetReport's `need`). */
static void start_https(struct nc_svc *s, uint64_t now)
{
	for (size_t ri = 0; ri < s->dm.n_regions && s->tls; ri++) {
		const struct nc_region *r = &s->dm.regions[ri];
		struct ipport addr;
		uint64_t lat;
		int k;
		if (r->avoid || r->no_measure_no_home ||
		    nc_latencies_get(&s->cur.latency, r->id, &lat))
			continue;
		k = http_node(s, ri, &addr);
		if (k < 0)
			continue;
		const struct nc_svc_node_http *h = &s->info[ri].nodes[k];
		addr.port = h->derp_port ? h->derp_port : 443;
		nc_http_start(&s->https[ri], s->tls, h->insecure, &h->cert, &addr,
			      h->host[0] ? h->host : r->nodes[k].ipv4, "/derp/latency-check", 0,
			      now);
		s->n_https++;
	}
}

/* Tailscale's checkCaptivePortal: GET http://<node>/generate_204 with a
 * challenge, on the home region (else the first region not avoided). */
static void start_captive(struct nc_svc *s, uint64_t now)
{
	uint32_t home = nc_history_home(s->hist);
	int ri = home ? region_index(s, home) : -1;
	struct ipport addr;
	char *chal = s->captive_chal;
	int k = -1;

	s->captive_started = true;
	if (ri >= 0)
		k = http_node(s, (size_t)ri, &addr);
	for (size_t i = 0; k < 0 && i < s->dm.n_regions; i++) {
		if (s->dm.regions[i].avoid)
			continue;
		ri = (int)i;
		k = http_node(s, i, &addr);
	}
	if (k < 0)
		return;
	const struct nc_svc_node_http *h = &s->info[ri].nodes[k];
	const char *host = h->host[0] ? h->host : s->dm.regions[ri].nodes[k].ipv4;
	if ((size_t)snprintf(chal, sizeof(s->captive_chal), "ts_%s", host) >=
	    sizeof(s->captive_chal))
		return;
	addr.port = 80;
	nc_http_start(&s->captive, 0, false, 0, &addr, host, "/generate_204", chal, now);
}

static bool http_pending(const struct nc_svc *s)
{
	if (s->captive.st && !nc_http_finished(&s->captive))
		return true;
	for (size_t i = 0; i < NC_MAX_REGIONS; i++)
		if (s->https[i].st && !nc_http_finished(&s->https[i]))
			return true;
	return false;
}

static void finish(struct nc_svc *s, uint64_t now)
{
	struct nc_home_opts opts = {.start_ns = s->start_ns};
	struct nc_report *r = &s->cur;

	for (size_t ri = 0; ri < s->dm.n_regions; ri++) {
		struct nc_http *h = &s->https[ri];
		if (h->st == NC_HTTP_DONE && h->resp.status == 200) {
			nc_latencies_update(&r->latency, s->dm.regions[ri].id, h->rtt_ns);
			r->ipv4 = true;
		}
		nc_http_close(h);
	}
	if (s->captive.st == NC_HTTP_DONE) {
		char want[NC_HTTP_CHALLENGE_MAX + 16];
		snprintf(want, sizeof(want), "response %s", s->captive_chal);
		r->captive_portal = s->captive.resp.status != 204 ||
						    strcmp(s->captive.resp.ts_response, want) != 0
					    ? NC_OPT_TRUE
					    : NC_OPT_FALSE;
	}
	nc_http_close(&s->captive);
	r->upnp = s->upnp;
	r->pmp = s->pmp;
	r->pcp = s->pcp;
	nc_history_add(s->hist, &s->dm, r, now, &opts);
	s->last = *r;
	s->have_last = true;
	s->running = false;
	s->reports++;
	s->next_report_ns =
		now + ms(NC_SVC_PERIOD_MIN_MS +
			 randombytes_uniform(NC_SVC_PERIOD_MAX_MS - NC_SVC_PERIOD_MIN_MS));
	if (s->on_report)
		s->on_report(s->arg, r);
}

static bool all_sets_done(const struct nc_svc *s)
{
	for (size_t i = 0; i < s->plan.n; i++)
		if (!s->set_done[i])
			return false;
	return s->plan.n > 0;
}

void nc_svc_tick(struct nc_svc *s, uint64_t now)
{
	struct stun_client_event ev;
	uint8_t buf[STUN_REQUEST_BYTES];

	if (!s->running) {
		if (!s->network_up || now < s->next_report_ns || s->dm.n_regions == 0)
			return;
		start_run(s, now);
	}
	while (stun_client_poll(s->stun, now, buf, sizeof(buf), &ev) == 1)
		if (ev.kind == STUN_CLIENT_EV_SEND)
			s->send(s->arg, &ev.server, buf, ev.len);
	if (!s->stun_done) {
		send_probes(s, now);
		if (now >= s->stun_end_ns || all_sets_done(s)) {
			s->stun_done = true;
			if (!s->cur.udp)
				start_https(s, now);
		}
	}
	if (s->captive_at_ns && !s->captive_started && now >= s->captive_at_ns) {
		/* Not needed when STUN already got through. */
		if (s->stun_done && s->cur.udp)
			s->captive_started = true;
		else
			start_captive(s, now);
	}
	if (s->captive.st)
		nc_http_step(&s->captive, now);
	for (size_t i = 0; i < NC_MAX_REGIONS; i++)
		if (s->https[i].st)
			nc_http_step(&s->https[i], now);
	if ((s->stun_done && !http_pending(s) &&
	     (!s->captive_at_ns || s->captive_started || s->cur.udp)) ||
	    now >= s->report_end_ns)
		finish(s, now);
}

int nc_svc_on_packet(struct nc_svc *s, const struct ipport *from, const uint8_t *p, size_t len,
		     uint64_t now)
{
	struct stun_client_result res;
	int rc = stun_client_on_packet(s->stun, from, p, len, now, &res);
	size_t i = (size_t)(res.tag >> 8);

	if (rc < 0) {
		s->stun_rejected++;
		return rc;
	}
	s->stun_answers++;
	if (!s->running || s->stun_done || i >= s->plan.n)
		return 0; /* an answer to an earlier run: too late to count */
	s->set_done[i] = true;
	if (nc_report_add_stun(&s->cur, s->plan.sets[i].region_id, &res.mapped, res.rtt_ns) == 1) {
		/* Enough regions: wait for the slowest seen (twice that on a
		 * full report), then stop (Tailscale's addNodeLatency). */
		uint64_t wait = nc_latencies_max(&s->cur.latency) * (s->full ? 2 : 1);
		if (now + wait < s->stun_end_ns)
			s->stun_end_ns = now + wait;
	}
	return 0;
}

uint64_t nc_svc_deadline(const struct nc_svc *s)
{
	uint64_t d = stun_client_deadline(s->stun);

	if (!s->running)
		return s->network_up && s->dm.n_regions && s->next_report_ns < d ? s->next_report_ns
										 : d;
	if (s->report_end_ns < d)
		d = s->report_end_ns;
	if (!s->stun_done) {
		if (s->stun_end_ns < d)
			d = s->stun_end_ns;
		for (size_t i = 0; i < s->plan.n; i++)
			for (size_t j = 0; j < s->plan.sets[i].n && !s->set_done[i]; j++)
				if (!s->probes[i][j].started &&
				    s->start_ns + s->plan.sets[i].probes[j].delay_ns < d)
					d = s->start_ns + s->plan.sets[i].probes[j].delay_ns;
	}
	if (s->captive_at_ns && !s->captive_started && s->captive_at_ns < d)
		d = s->captive_at_ns;
	return d;
}

size_t nc_svc_http_fds(const struct nc_svc *s, int *fds, short *events, size_t cap)
{
	size_t n = 0;

	if (s->captive.st && nc_http_fd(&s->captive) >= 0 && n < cap) {
		fds[n] = nc_http_fd(&s->captive);
		events[n++] = nc_http_events(&s->captive);
	}
	for (size_t i = 0; i < NC_MAX_REGIONS && n < cap; i++) {
		if (s->https[i].st && nc_http_fd(&s->https[i]) >= 0) {
			fds[n] = nc_http_fd(&s->https[i]);
			events[n++] = nc_http_events(&s->https[i]);
		}
	}
	return n;
}

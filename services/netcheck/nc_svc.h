/* nc_svc: the netcheck service's state and one report run at a time, after
 * Tailscale's netcheck.Client.GetReport: a probe plan (nc_plan) of STUN
 * probes sent through the dataplane's socket, answers folded into the
 * report (nc_report), HTTPS latency probes when no UDP answer came, a
 * captive-portal check on full reports, and the home region chosen with
 * hysteresis (nc_history). No bus and no sockets of its own for STUN: the
 * caller gives a send function and feeds received packets in; the HTTP
 * probes own their TCP sockets (nc_http).
 *
 * Timers (nc_svc_deadline gives the nearest):
 *   - the next report: NC_SVC_PERIOD_MIN_MS..MAX_MS after the last one
 *     (magicsock's periodic ReSTUN), or now on nc_svc_restun;
 *   - each probe of the plan: the report's start + its delay;
 *   - the STUN phase's end: NC_STUN_PROBE_TIMEOUT_MS, or earlier once
 *     NC_ENOUGH_REGIONS regions answered;
 *   - the captive-portal check: NC_SVC_CAPTIVE_DELAY_MS after the start;
 *   - the report's end: NC_REPORT_TIMEOUT_MS after the start at the latest. */
#ifndef MSOCK_NC_SVC_H
#define MSOCK_NC_SVC_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#include "nc_history.h"
#include "nc_http.h"
#include "nc_plan.h"
#include "nc_report.h"
#include "stun/stun_client.h"

enum {
	NC_SVC_PERIOD_MIN_MS = 20000, /* magicsock: ReSTUN every 20-26 s */
	NC_SVC_PERIOD_MAX_MS = 26000,
	NC_SVC_CAPTIVE_DELAY_MS = 200, /* Tailscale's captivePortalDelay */
	NC_SVC_HOST_MAX = 256,
	NC_SVC_CODE_MAX = 32,
};

/* What netcheck keeps of a DERP node beyond nc_node: how to reach its
 * HTTPS side. */
struct nc_svc_node_http {
	char host[NC_SVC_HOST_MAX]; /* HostName: TLS SNI and Host */
	uint16_t derp_port;	    /* 0 = 443 */
	bool insecure;		    /* InsecureForTests */
	struct tls_certname cert;   /* CertName: a pin or the name to verify */
	bool bad_cert_name;	    /* a CertName tls_certname_parse refused: no HTTPS */
};

struct nc_svc_region_info {
	char code[NC_SVC_CODE_MAX];
	struct nc_svc_node_http nodes[NC_MAX_NODES];
};

/* One probe of the plan in the current run. */
struct nc_svc_probe {
	bool started;
	uint32_t tx; /* stun_client id */
};

typedef void (*nc_svc_send_fn)(void *arg, const struct ipport *to, const uint8_t *p, size_t len);
typedef void (*nc_svc_report_fn)(void *arg, const struct nc_report *r);

struct nc_svc {
	struct nc_derpmap dm;
	struct nc_svc_region_info info[NC_MAX_REGIONS]; /* parallel to dm.regions */
	bool have_v4, have_v6;
	bool network_up; /* false: no reports (magicsock's SetNetworkUp(false)) */
	SSL_CTX *tls;	 /* for HTTPS latency probes; NULL = none */
	struct stun_client *stun;
	struct nc_history *hist;
	nc_svc_send_fn send;
	nc_svc_report_fn on_report;
	void *arg;
	/* portmapper's answer, folded into each report */
	enum nc_opt upnp, pmp, pcp;
	/* the last finished report */
	struct nc_report last;
	bool have_last;
	uint64_t last_full_ns;
	bool next_full;
	uint64_t next_report_ns;
	/* the run in progress */
	bool running, full, stun_done;
	struct nc_report cur;
	struct nc_plan plan;
	struct nc_svc_probe probes[NC_PLAN_MAX_SETS][NC_MAX_TRIES];
	bool set_done[NC_PLAN_MAX_SETS];
	uint64_t start_ns, stun_end_ns, report_end_ns, captive_at_ns;
	bool captive_started;
	char captive_chal[NC_HTTP_CHALLENGE_MAX + 1]; /* "ts_<host>" */
	struct nc_http captive;
	struct nc_http https[NC_MAX_REGIONS]; /* by region index; st 0 = unused */
	size_t n_https;
	/* counters */
	uint64_t reports, stun_sent, stun_answers, stun_rejected;
	uint64_t runs_dropped; /* runs abandoned because the network went down */
};

/* Sets up s (zeroed by the caller: it is large) with its callbacks. Returns
 * 0 or -ENOMEM. */
int nc_svc_init(struct nc_svc *s, nc_svc_send_fn send, nc_svc_report_fn on_report, void *arg,
		uint64_t now_ns);
void nc_svc_free(struct nc_svc *s);

/* DERP map changes: one region replaced (or added), or removed. */
void nc_svc_set_region(struct nc_svc *s, const struct nc_region *r,
		       const struct nc_svc_region_info *info);
void nc_svc_remove_region(struct nc_svc *s, uint32_t id);

/* Asks for a report now (ReSTUN, a link change); a run in progress goes on.
 * full: make it a full report. */
void nc_svc_restun(struct nc_svc *s, bool full, uint64_t now_ns);
/* The network went down or up (all links down: no reports, and the run in
 * progress, if any, is dropped unpublished). */
void nc_svc_set_network_up(struct nc_svc *s, bool up, uint64_t now_ns);

/* A UDP packet the dataplane handed over (a STUN answer, we hope). Returns
 * 0 when it answered one of our probes, else a negative stun_client_err. */
int nc_svc_on_packet(struct nc_svc *s, const struct ipport *from, const uint8_t *p, size_t len,
		     uint64_t now_ns);

/* Does what is due at now. */
void nc_svc_tick(struct nc_svc *s, uint64_t now_ns);
uint64_t nc_svc_deadline(const struct nc_svc *s);

/* The HTTP probes' sockets, for the poll loop: writes up to cap fds and
 * their events; returns how many. */
size_t nc_svc_http_fds(const struct nc_svc *s, int *fds, short *events, size_t cap);

#endif

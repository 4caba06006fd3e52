/* dp_main: what the dataplane's main.c (start-up, bus handlers, loop)
 * shares with publish.c (what it publishes): the process's one context. */
#ifndef MSOCK_DP_MAIN_H
#define MSOCK_DP_MAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "component.h"
#include "dp.h"
#include "endpoints.h"
#include "health.h"
#include "netmon.h"

struct ctx {
	struct component comp; /* its bus too; it binds the packet channels itself */
	struct dp d;
	bool peers_syncing;	  /* NodeViewsUpdate snapshot in progress */
	uint64_t started_ns;	  /* CLOCK_MONOTONIC at start (DataplaneState) */
	uint64_t next_publish_ns; /* counters */
	uint64_t next_scan_ns;	  /* trust expiring changes a path without an event */
	uint32_t publish_cursor;
	bool publish_counters;
	uint32_t burst; /* DataplanePeer updates in this sweep */
	bool trim_due;	/* a burst went out: trim at the next quiet sweep */
	struct dp_counters published;
	/* The endpoint set (endpoints.c): its inputs, and what was published. */
	struct dp_ep_inputs epin;
	struct dp_ep_set ep_published;
	bool ep_dirty;
	/* The link monitor (netmon.c): NULL when netlink is not available. */
	struct netmon *nm;
	bool net_up;
	uint64_t link_changes;
	struct health health; /* network-status, with NetworkState */
};

/* sockets.c: udp4, udp6 (-1: none), wg from the broker, systemd's socket
 * activation or, with --config, opened here; before the sandbox. */
int dp_sockets_acquire(struct component *c, int *udp4, int *udp6, int *wg);

/* publish.c */
/* DataplaneState "self": sockets and counters; notes them as published. */
void dp_publish_self(struct ctx *x);
/* NetworkState "self": links up, the default route, summary (text). */
void dp_publish_network(struct ctx *x, const char *summary);
/* Endpoints "self", rebuilt from x->epin, when it changed. */
void dp_publish_endpoints(struct ctx *x);
/* Due DataplanePeer and DataplaneState updates, a bounded number a pass. */
void dp_publish_tick(struct ctx *x);

#endif

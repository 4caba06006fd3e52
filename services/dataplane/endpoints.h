/* endpoints: our endpoint set (magicsock's determineEndpoints /
 * EndpointsFunc): what peers are told in CallMeMaybe. Pure: the dataplane
 * feeds it what the bus and the link monitor say and publishes the result. */
#ifndef MSOCK_DP_ENDPOINTS_H
#define MSOCK_DP_ENDPOINTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "endpoint_pb.h"

enum {
	DP_EP_MAX = 64,	       /* endpoints in the set; more are dropped (counted) */
	DP_EP_MAX_LOCAL = 32,  /* local interface addresses considered */
	DP_EP_MAX_MAPPED = 3,  /* one per port-mapping protocol */
	DP_EP_MAX_STATIC = 16, /* CFG_MAX_ENDPOINTS */
};

struct dp_endpoint {
	struct ipport addr;
	enum endpoint_type type;
};

/* What the set is made of; each source is replaced whole when it changes. */
struct dp_ep_inputs {
	uint16_t port;			      /* our bound UDP port: local addresses carry it */
	struct ipport local[DP_EP_MAX_LOCAL]; /* interface addresses (port ignored) */
	size_t n_local;
	struct ipport stun_v4, stun_v6;		/* netcheck's global addresses; family 0 = none */
	struct ipport mapped[DP_EP_MAX_MAPPED]; /* portmapper's; family 0 = none */
	struct ipport statics[DP_EP_MAX_STATIC];
	size_t n_statics;
};

struct dp_ep_set {
	struct dp_endpoint ep[DP_EP_MAX];
	size_t n;
	size_t dropped; /* over DP_EP_MAX */
};

/* Builds the set in Tailscale's order (port-mapped, STUN, static, local),
 * each address once (the first kind wins). Local addresses that are
 * unspecified, loopback, multicast or IPv6 link-local are left out. */
void dp_ep_build(const struct dp_ep_inputs *in, struct dp_ep_set *out);
/* True when A and B hold the same endpoints with the same kinds, in order. */
bool dp_ep_equal(const struct dp_ep_set *a, const struct dp_ep_set *b);

#endif

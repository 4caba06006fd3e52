/* endpoints: our endpoint set, in the order of Tailscale's
 * wgengine/magicsock determineEndpoints: port-mapped address first, then
 * the STUN-discovered ones, then the static ones from the config, then
 * every local interface address with our port. */
#include "endpoints.h"

#include "disco/disco.h"

#include <string.h>
#include <sys/socket.h>

static void add(struct dp_ep_set *s, const struct ipport *a, enum endpoint_type t)
{
	if (a->family != AF_INET && a->family != AF_INET6)
		return;
	if (a->port == 0)
		return;
	for (size_t i = 0; i < s->n; i++)
		if (ipport_equal(&s->ep[i].addr, a))
			return;
	if (s->n == DP_EP_MAX) {
		s->dropped++;
		return;
	}
	s->ep[s->n].addr = *a;
	s->ep[s->n].type = t;
	s->n++;
}

void dp_ep_build(const struct dp_ep_inputs *in, struct dp_ep_set *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < DP_EP_MAX_MAPPED; i++)
		add(out, &in->mapped[i], ENDPOINT_TYPE_PORTMAPPED);
	add(out, &in->stun_v4, ENDPOINT_TYPE_STUN);
	add(out, &in->stun_v6, ENDPOINT_TYPE_STUN);
	for (size_t i = 0; i < in->n_statics && i < DP_EP_MAX_STATIC; i++)
		add(out, &in->statics[i], ENDPOINT_TYPE_EXPLICIT_CONF);
	for (size_t i = 0; i < in->n_local && i < DP_EP_MAX_LOCAL; i++) {
		struct ipport a = in->local[i];
		a.port = in->port;
		/* The rule a peer's disco applies to what we send it. */
		if (disco_endpoint_usable(&a))
			add(out, &a, ENDPOINT_TYPE_LOCAL);
	}
}

bool dp_ep_equal(const struct dp_ep_set *a, const struct dp_ep_set *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->ep[i].type != b->ep[i].type || !ipport_equal(&a->ep[i].addr, &b->ep[i].addr))
			return false;
	return true;
}

/* disco_equal: whether two parsed disco messages are the same value, field
 * by field as Go's reflect.DeepEqual compares them (struct padding is not
 * part of the value). Header-only, so the fuzzers, which do not link
 * test_support (cmocka), share it with the unit tests. */
#ifndef MSOCK_DISCO_EQUAL_H
#define MSOCK_DISCO_EQUAL_H

#include <stdbool.h>
#include <string.h>

#include "disco/disco.h"

static inline bool th_disco_eps_equal(const struct disco_endpoints *a,
				      const struct disco_endpoints *b)
{
	return a->n == b->n && (a->n == 0 || memcmp(a->wire, b->wire, a->n * DISCO_EP_LEN) == 0);
}

static inline bool th_disco_relay_equal(const struct disco_relay_endpoint *a,
					const struct disco_relay_endpoint *b)
{
	return key_equal(&a->server_disco, &b->server_disco) &&
	       key_equal(&a->client_disco[0], &b->client_disco[0]) &&
	       key_equal(&a->client_disco[1], &b->client_disco[1]) &&
	       a->lamport_id == b->lamport_id && a->vni == b->vni &&
	       a->bind_lifetime_ns == b->bind_lifetime_ns &&
	       a->steady_state_lifetime_ns == b->steady_state_lifetime_ns &&
	       th_disco_eps_equal(&a->addrs, &b->addrs);
}

static inline bool th_disco_msg_equal(const struct disco_msg *a, const struct disco_msg *b)
{
	if (a->type != b->type || a->version != b->version)
		return false;
	switch (a->type) {
	case DISCO_TYPE_PING:
		return memcmp(a->u.ping.txid, b->u.ping.txid, DISCO_TXID_LEN) == 0 &&
		       a->u.ping.has_node_key == b->u.ping.has_node_key &&
		       key_equal(&a->u.ping.node_key, &b->u.ping.node_key) &&
		       a->u.ping.padding == b->u.ping.padding;
	case DISCO_TYPE_PONG:
		return memcmp(a->u.pong.txid, b->u.pong.txid, DISCO_TXID_LEN) == 0 &&
		       ipport_equal(&a->u.pong.src, &b->u.pong.src);
	case DISCO_TYPE_CALL_ME_MAYBE:
		return th_disco_eps_equal(&a->u.call_me_maybe.my_number,
					  &b->u.call_me_maybe.my_number);
	case DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT:
	case DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT_CHALLENGE:
	case DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT_ANSWER:
		return a->u.bind.vni == b->u.bind.vni &&
		       a->u.bind.generation == b->u.bind.generation &&
		       key_equal(&a->u.bind.remote_key, &b->u.bind.remote_key) &&
		       memcmp(a->u.bind.challenge, b->u.bind.challenge, DISCO_CHALLENGE_LEN) == 0;
	case DISCO_TYPE_CALL_ME_MAYBE_VIA:
		return th_disco_relay_equal(&a->u.call_me_maybe_via, &b->u.call_me_maybe_via);
	case DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_REQUEST:
		return key_equal(&a->u.alloc_req.client_disco[0],
				 &b->u.alloc_req.client_disco[0]) &&
		       key_equal(&a->u.alloc_req.client_disco[1],
				 &b->u.alloc_req.client_disco[1]) &&
		       a->u.alloc_req.generation == b->u.alloc_req.generation;
	case DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE:
		return a->u.alloc_resp.generation == b->u.alloc_resp.generation &&
		       th_disco_relay_equal(&a->u.alloc_resp.ep, &b->u.alloc_resp.ep);
	case DISCO_TYPE_MSOCK_PROBE_ME:
		return a->u.probe_me.ports == b->u.probe_me.ports &&
		       ipport_equal(&a->u.probe_me.addr, &b->u.probe_me.addr);
	}
	return true; /* unknown types carry only type and version */
}

#endif

/* dsc_peer: the peer table (struct dsc: peers found by node key and by
 * disco key through lib/keymap) and each peer's candidate endpoints, after
 * magicsock's peerMap and endpoint's endpointState. No timers. */
#include "dsc_internal.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct dsc_peer *at(struct dsc *d, uint32_t i)
{
	return i == KEYMAP_ABSENT ? 0 : &d->peers[i];
}

struct dsc_peer *dsc_peer_find(struct dsc *d, const struct key32 *node_key)
{
	return at(d, keymap_get(&d->by_node, node_key->b));
}

/* The peer with that disco key; of several, the one with node key `node`
 * when given (over DERP the sender's node key is known), else any. */
struct dsc_peer *dsc_peer_by_disco(struct dsc *d, const struct key32 *disco,
				   const struct key32 *node)
{
	uint32_t head = keymap_get(&d->by_disco, disco->b);

	for (uint32_t j = head; node && j != KEYMAP_ABSENT; j = d->peers[j].disco_next)
		if (memcmp(d->peers[j].node_key.b, node->b, KEY_LEN) == 0)
			return &d->peers[j];
	return at(d, head);
}

/* A new value for a key the map holds. Cannot fail: the put after a
 * successful del does not allocate (keymap.h). */
static void remap(struct keymap *m, const void *key, uint32_t val)
{
	if (!keymap_del(m, key) || keymap_put(m, key, val) < 0)
		abort();
}

/* Peer i (has_disco) joins its disco key's chain, whose map entry exists:
 * dsc_set_peer makes a new key's entry (naming i) before anything else
 * changes, so that running out of memory changes nothing. */
static void disco_link(struct dsc *d, uint32_t i)
{
	struct dsc_peer *p = &d->peers[i];
	uint32_t head = keymap_get(&d->by_disco, p->disco_key.b);

	if (head == KEYMAP_ABSENT)
		abort();
	if (head == i) {
		p->disco_next = KEYMAP_ABSENT;
		return;
	}
	p->disco_next = d->peers[head].disco_next;
	d->peers[head].disco_next = i;
}

/* Whatever names peer `from` in its disco key's chain (peer `to` holds
 * that key) names `to` instead: peer i leaves the chain (to =
 * p->disco_next), or the last peer moved into a hole (dsc_remove_peer). */
static void disco_renumber(struct dsc *d, const struct key32 *disco, uint32_t from, uint32_t to)
{
	uint32_t j = keymap_get(&d->by_disco, disco->b);

	if (j == from) {
		if (to == KEYMAP_ABSENT)
			keymap_del(&d->by_disco, disco->b);
		else
			remap(&d->by_disco, disco->b, to);
		return;
	}
	for (; j != KEYMAP_ABSENT; j = d->peers[j].disco_next) {
		if (d->peers[j].disco_next == from) {
			d->peers[j].disco_next = to;
			return;
		}
	}
	abort(); /* `from` was not in the chain */
}

static void disco_unlink(struct dsc *d, uint32_t i)
{
	struct dsc_peer *p = &d->peers[i];

	disco_renumber(d, &p->disco_key, i, p->disco_next);
	p->disco_next = KEYMAP_ABSENT;
}

struct dsc_ep *dsc_ep_find(struct dsc_peer *p, const struct ipport *a)
{
	for (size_t i = 0; i < p->n_eps; i++)
		if (ipport_equal(&p->eps[i].addr, a))
			return &p->eps[i];
	return 0;
}

/* Adds a if it is new and there is room (statics and CallMeMaybe ones). */
struct dsc_ep *dsc_ep_add(struct dsc_peer *p, const struct ipport *a, bool from_cmm)
{
	struct dsc_ep *e = dsc_ep_find(p, a);

	if (e || p->n_eps == DSC_MAX_EPS)
		return e;
	e = &p->eps[p->n_eps++];
	memset(e, 0, sizeof(*e));
	e->addr = *a;
	e->from_cmm = from_cmm;
	return e;
}

/* Adds an address the peer's packets came from (a ping, or a pong to a
 * birthday probe). When the table is full it takes the place of the one
 * heard from longest ago, never the best path's and never one not heard
 * from (the peer's advertised and static endpoints stay). After a birthday
 * spray's burst of 256 addresses the one the peer goes on sending from is
 * heard again (its heartbeats) and comes back. */
struct dsc_ep *dsc_ep_add_heard(struct dsc_peer *p, const struct ipport *a, bool from_cmm)
{
	struct dsc_ep *e = dsc_ep_add(p, a, from_cmm);

	if (e)
		return e;
	for (size_t i = 0; i < p->n_eps; i++) {
		struct dsc_ep *c = &p->eps[i];
		if (c->heard_ns && !ipport_equal(&c->addr, &p->best) &&
		    (!e || c->heard_ns < e->heard_ns))
			e = c;
	}
	if (!e)
		return 0;
	memset(e, 0, sizeof(*e));
	e->addr = *a;
	e->from_cmm = from_cmm;
	return e;
}

int dsc_set_peer(struct dsc *d, const struct key32 *node_key, const struct key32 *disco_key,
		 uint16_t home_derp, const struct ipport *statics, size_t n_statics,
		 const char *name)
{
	uint32_t i = keymap_get(&d->by_node, node_key->b);
	bool added = i == KEYMAP_ABSENT, new_disco = false;
	struct dsc_peer *p;

	if (added) {
		if (d->n_peers >= KEYMAP_ABSENT)
			return -ENOMEM; /* no index left */
		if (d->n_peers == d->cap_peers) {
			size_t cap = d->cap_peers ? d->cap_peers * 2 : 16;
			struct dsc_peer *np = realloc(d->peers, cap * sizeof(*np));
			if (!np)
				return -ENOMEM;
			d->peers = np;
			d->cap_peers = cap;
		}
		i = (uint32_t)d->n_peers;
		if (keymap_put(&d->by_node, node_key->b, i) < 0)
			return -ENOMEM;
		p = &d->peers[d->n_peers++];
		memset(p, 0, sizeof(*p));
		p->node_key = *node_key;
		p->disco_next = KEYMAP_ABSENT;
	} else {
		p = &d->peers[i];
	}
	if (!disco_key || !p->has_disco || memcmp(p->disco_key.b, disco_key->b, KEY_LEN) != 0) {
		/* A disco key no peer has needs a map entry: made first, so that
		 * without memory nothing changes (a peer just added goes again). */
		if (disco_key && keymap_get(&d->by_disco, disco_key->b) == KEYMAP_ABSENT) {
			if (keymap_put(&d->by_disco, disco_key->b, i) < 0) {
				if (added) {
					keymap_del(&d->by_node, node_key->b);
					d->n_peers--;
				}
				return -ENOMEM;
			}
			new_disco = true;
		}
		if (p->has_disco)
			disco_unlink(d, i);
		/* A new disco key: its shared key, and nothing learned before. */
		disco_shared_wipe(&p->shared);
		p->has_disco =
			disco_key && disco_shared_init(&d->priv, disco_key, &p->shared) == DISCO_OK;
		if (p->has_disco) {
			p->disco_key = *disco_key;
			disco_link(d, i);
		} else if (new_disco) {
			keymap_del(&d->by_disco, disco_key->b);
		}
		memset(p->pings, 0, sizeof(p->pings));
		memset(&p->bday, 0, sizeof(p->bday));
	}
	p->home_derp = home_derp;
	snprintf(p->name, sizeof(p->name), "%s", name ? name : "");
	for (size_t k = 0; k < n_statics; k++)
		dsc_ep_add(p, &statics[k], false);
	return 0;
}

void dsc_remove_peer(struct dsc *d, const struct key32 *node_key)
{
	uint32_t i = keymap_get(&d->by_node, node_key->b), last;
	struct dsc_peer *p;

	if (i == KEYMAP_ABSENT)
		return;
	p = &d->peers[i];
	if (p->has_disco)
		disco_unlink(d, i);
	keymap_del(&d->by_node, node_key->b);
	disco_shared_wipe(&p->shared);
	last = (uint32_t)--d->n_peers;
	if (i == last)
		return;
	/* The last peer fills the hole: what named it names i now. */
	*p = d->peers[last];
	sodium_memzero(&d->peers[last], sizeof(d->peers[last])); /* its shared key */
	remap(&d->by_node, p->node_key.b, i);
	if (p->has_disco)
		disco_renumber(d, &p->disco_key, last, i);
}

/* derper_clients: the registry of logged-in clients by node key, and the
 * per-client packet queues. Like Tailscale's sendPkt: DERPER_QUEUE_DEPTH
 * packets per client, disco packets on a queue of their own so that path
 * discovery gets through a busy relay, and a full queue drops its oldest
 * packet (fresher packets matter more) and counts it. A second connection
 * with the same key replaces the first, which is closed (Tailscale keeps
 * both and sends to the last one that wrote: docs/interop.md); the key
 * never left, so nobody is told it did. */
#include "derper.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "derper_heard.h"
#include "derper_mesh.h"
#include "disco/disco.h"

bool clients_looks_disco(const uint8_t *p, size_t len)
{
	return len >= DISCO_SEALED_HEADER_LEN && memcmp(p, disco_magic, DISCO_MAGIC_LEN) == 0;
}

static size_t bucket(const struct key32 *k)
{
	uint32_t h = (uint32_t)k->b[0] | (uint32_t)k->b[1] << 8 | (uint32_t)k->b[2] << 16;

	return h & (DERPER_CLIENT_HASH_BUCKETS - 1);
}

struct dconn *clients_find(struct derper *s, const struct key32 *k)
{
	for (struct dconn *c = s->clients[bucket(k)]; c; c = c->hnext)
		/* Public keys: no need for a constant-time compare. */
		if (memcmp(c->key.b, k->b, KEY_LEN) == 0)
			return c;
	return 0;
}

void clients_register(struct derper *s, struct dconn *c)
{
	struct dconn *old = clients_find(s, &c->key);

	if (old) {
		/* The same key again: the client reconnected (or someone holds
		 * its key twice). The newest wins; the old one is told why. */
		s->ctr.dup_replaced++;
		old->replaced = true;
		derper_send_health(old,
				   "another connection with the same node key replaced this one");
		dconn_flush(old);
		dconn_close(old, "replaced by a newer connection with the same key");
	}
	c->hnext = s->clients[bucket(&c->key)];
	s->clients[bucket(&c->key)] = c;
	s->ctr.clients++;
	mesh_on_client_change(s, c, true);
}

void clients_unregister(struct derper *s, struct dconn *c)
{
	struct dconn **pp = &s->clients[bucket(&c->key)];

	heard_forget(s, c);
	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == c) {
			*pp = c->hnext;
			s->ctr.clients--;
			s->ctr.home_clients -= c->preferred;
			/* Replaced: the key is still here (Tailscale tells
			 * watchers nothing when one of two connections goes). */
			if (c->replaced)
				break;
			mesh_on_client_change(s, c, false);
			if (!mesh_has(s, c->key.b))
				heard_gone(s, c->key.b); /* gone from the region */
			break;
		}
	}
	/* What was queued for it is gone with it. */
	s->ctr.drop_gone += c->q.n + c->dq.n;
	dqueue_clear(&c->q);
	dqueue_clear(&c->dq);
}

struct dpkt *dqueue_pop(struct dqueue *q)
{
	struct dpkt *p;

	if (!q->n)
		return 0;
	p = q->p[q->head];
	q->head = (q->head + 1) % DERPER_QUEUE_DEPTH;
	q->n--;
	return p;
}

void dqueue_clear(struct dqueue *q)
{
	struct dpkt *p;

	while ((p = dqueue_pop(q)))
		free(p);
}

void clients_enqueue(struct derper *s, struct dconn *dst, const uint8_t src[KEY_LEN],
		     const uint8_t *pkt, size_t len)
{
	struct dqueue *q = clients_looks_disco(pkt, len) ? &dst->dq : &dst->q;
	struct dpkt *p = malloc(sizeof(*p) + len);

	if (!p) {
		s->ctr.drop_queue_tail++;
		dst->dropped++;
		return;
	}
	memcpy(p->src, src, KEY_LEN);
	p->len = (uint32_t)len;
	memcpy(p->data, pkt, len);
	if (q->n == DERPER_QUEUE_DEPTH) {
		free(dqueue_pop(q));
		s->ctr.drop_queue_head++;
		dst->dropped++;
	}
	q->p[(q->head + q->n) % DERPER_QUEUE_DEPTH] = p;
	q->n++;
}

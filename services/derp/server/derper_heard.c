/* derper_heard: see derper_heard.h. Each note is one struct heard, on two
 * chains: the receiver's (its own small table, looked up on every packet it
 * is sent) and the server's index by sender (walked when a sender leaves).
 * Both are hashed on the sender key's first bytes, as the registry is. */
#include "derper_heard.h"

#include <stdlib.h>
#include <string.h>

#include "derp/derp_frame.h"

enum {
	HEARD_MIN_BUCKETS = 16, /* a receiver's table when it first hears */
	HEARD_LOAD = 2,		/* notes per bucket before the table doubles */
};

struct heard {
	uint8_t src[KEY_LEN];
	struct dconn *rcv;
	struct heard *snext, **sprev; /* the server's chain for src */
	struct heard *cnext;	      /* the receiver's chain for src */
};

static uint32_t hash(const uint8_t k[KEY_LEN])
{
	return (uint32_t)k[0] | (uint32_t)k[1] << 8 | (uint32_t)k[2] << 16 | (uint32_t)k[3] << 24;
}

static struct heard **server_chain(struct derper *s, const uint8_t k[KEY_LEN])
{
	return &s->heard[hash(k) & (DERPER_HEARD_BUCKETS - 1)];
}

static struct heard **conn_chain(const struct heard_set *h, const uint8_t k[KEY_LEN])
{
	return &h->b[hash(k) & (h->nb - 1)];
}

static void server_unlink(struct heard *e)
{
	*e->sprev = e->snext;
	if (e->snext)
		e->snext->sprev = e->sprev;
}

/* Doubles rcv's table (or makes its first); false when out of memory. */
static bool grow(struct heard_set *h)
{
	uint32_t nb = h->nb ? h->nb * 2 : HEARD_MIN_BUCKETS;
	struct heard **b = calloc(nb, sizeof(*b));
	struct heard_set t = {.b = b, .nb = nb, .n = h->n};

	if (!b)
		return false;
	for (uint32_t i = 0; i < h->nb; i++) {
		struct heard *e = h->b[i], *next;
		for (; e; e = next) {
			struct heard **pp = conn_chain(&t, e->src);
			next = e->cnext;
			e->cnext = *pp;
			*pp = e;
		}
	}
	free(h->b);
	*h = t;
	return true;
}

void heard_note(struct derper *s, struct dconn *rcv, const uint8_t src[KEY_LEN])
{
	struct heard_set *h = &rcv->heard;
	struct heard *e, **sc;

	if (h->nb)
		for (e = *conn_chain(h, src); e; e = e->cnext)
			if (memcmp(e->src, src, KEY_LEN) == 0)
				return;
	if (h->n >= DERPER_HEARD_MAX_PER_CLIENT)
		return;
	if ((h->n >= h->nb * HEARD_LOAD || !h->nb) && !grow(h))
		return;
	e = malloc(sizeof(*e));
	if (!e)
		return;
	memcpy(e->src, src, KEY_LEN);
	e->rcv = rcv;
	e->cnext = *conn_chain(h, src);
	*conn_chain(h, src) = e;
	h->n++;
	sc = server_chain(s, src);
	e->snext = *sc;
	e->sprev = sc;
	if (*sc)
		(*sc)->sprev = &e->snext;
	*sc = e;
}

void heard_forget(struct derper *s, struct dconn *rcv)
{
	struct heard_set *h = &rcv->heard;

	(void)s;
	for (uint32_t i = 0; i < h->nb; i++) {
		struct heard *e = h->b[i], *next;
		for (; e; e = next) {
			next = e->cnext;
			server_unlink(e);
			free(e);
		}
	}
	free(h->b);
	memset(h, 0, sizeof(*h));
}

void heard_gone(struct derper *s, const uint8_t src[KEY_LEN])
{
	struct heard *e = *server_chain(s, src), *next, *gone = 0;

	/* Take every note of src out of both chains first: sending may close
	 * a receiver (a failed write), which forgets what it heard. */
	for (; e; e = next) {
		struct heard **pp;
		next = e->snext;
		if (memcmp(e->src, src, KEY_LEN) != 0)
			continue;
		for (pp = conn_chain(&e->rcv->heard, src); *pp != e; pp = &(*pp)->cnext)
			;
		*pp = e->cnext;
		e->rcv->heard.n--;
		server_unlink(e);
		e->cnext = gone;
		gone = e;
	}
	/* A closed receiver is not freed before the loop turn ends. */
	for (e = gone; e; e = next) {
		next = e->cnext;
		if (e->rcv->st == DC_DERP)
			derper_send_peer_gone(e->rcv, src, DERP_PEER_GONE_DISCONNECTED);
		free(e);
	}
}

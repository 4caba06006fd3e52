/* stun_client: STUN Binding transactions over someone else's socket, with
 * the bounded retransmission schedule and the answer checks described in
 * stun_client.h (RFC 8489 sections 6.2.1 and 6.3; Tailscale's
 * net/netcheck ReceiveSTUNPacket matches answers by transaction ID only, we
 * also want the server we asked).
 *
 * Timers: per transaction in flight, next_send_ns (the next retransmission,
 * UINT64_MAX when none is left) and timeout_ns; finished transactions are
 * forgotten STUN_CLIENT_LINGER_MS after they end (no event). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stun/stun_client.h"

enum tx_state {
	TX_FREE = 0,
	TX_PENDING,  /* in flight */
	TX_ANSWERED, /* lingering: a second answer is a duplicate */
	TX_ENDED,    /* timed out or cancelled, lingering: an answer is late */
};

struct tx {
	enum tx_state state;
	uint8_t txid[STUN_TXID_BYTES];
	uint32_t id;
	uint64_t tag;
	struct ipport server;
	unsigned sends;	       /* requests sent so far */
	unsigned slot;	       /* schedule index of the next send */
	uint64_t start_ns;     /* first send */
	uint64_t last_send_ns; /* most recent send */
	uint64_t next_send_ns; /* UINT64_MAX: no retransmission left */
	uint64_t timeout_ns;
	uint64_t ended_ns; /* answered, timed out or cancelled */
};

struct stun_client {
	unsigned max_sends;
	uint64_t rto_ns, timeout_ns;
	void (*new_txid)(void *arg, uint8_t txid[STUN_TXID_BYTES]);
	void *new_txid_arg;
	uint32_t next_id;
	struct stun_client_stats stats;
	size_t max_tx;
	struct tx tx[]; /* max_tx of them */
};

static uint64_t ms_to_ns(unsigned ms)
{
	return (uint64_t)ms * 1000000u;
}

/* When send number `slot` leaves: start + RTO * (2^slot - 1). */
static uint64_t send_time(const struct stun_client *c, const struct tx *t, unsigned slot)
{
	return t->start_ns + c->rto_ns * ((UINT64_C(1) << slot) - 1);
}

/* Schedules the first send after `after`, if one is left before the
 * timeout. */
static void schedule_next(const struct stun_client *c, struct tx *t, uint64_t after)
{
	t->next_send_ns = UINT64_MAX;
	while (++t->slot < c->max_sends) {
		uint64_t at = send_time(c, t, t->slot);

		if (at >= t->timeout_ns)
			return;
		if (at > after) {
			t->next_send_ns = at;
			return;
		}
	}
}

/* Finished transactions past their linger time hold nothing any more. */
static bool expired(const struct tx *t, uint64_t now)
{
	return (t->state == TX_ANSWERED || t->state == TX_ENDED) && now >= t->ended_ns &&
	       now - t->ended_ns >= ms_to_ns(STUN_CLIENT_LINGER_MS);
}

static struct tx *find_txid(struct stun_client *c, const uint8_t txid[STUN_TXID_BYTES],
			    uint64_t now)
{
	for (size_t i = 0; i < c->max_tx; i++) {
		struct tx *t = &c->tx[i];

		if (t->state == TX_FREE)
			continue;
		if (expired(t, now)) {
			t->state = TX_FREE;
			continue;
		}
		if (memcmp(t->txid, txid, STUN_TXID_BYTES) == 0)
			return t;
	}
	return NULL;
}

static struct tx *find_pending(struct stun_client *c, uint32_t id)
{
	for (size_t i = 0; i < c->max_tx; i++) {
		if (c->tx[i].state == TX_PENDING && c->tx[i].id == id)
			return &c->tx[i];
	}
	return NULL;
}

/* A free slot, else the one finished longest ago; NULL if all are in
 * flight. */
static struct tx *take_slot(struct stun_client *c, uint64_t now)
{
	struct tx *oldest = NULL;

	for (size_t i = 0; i < c->max_tx; i++) {
		struct tx *t = &c->tx[i];

		if (t->state == TX_FREE || expired(t, now))
			return t;
		if (t->state != TX_PENDING && (!oldest || t->ended_ns < oldest->ended_ns))
			oldest = t;
	}
	return oldest;
}

struct stun_client *stun_client_new(const struct stun_client_cfg *cfg)
{
	struct stun_client_cfg d = {0};
	struct stun_client *c;

	if (cfg)
		d = *cfg;
	if (d.max_tx == 0)
		d.max_tx = STUN_CLIENT_MAX_TX;
	if (d.max_sends == 0)
		d.max_sends = STUN_CLIENT_DEFAULT_SENDS;
	if (d.rto_ms == 0)
		d.rto_ms = STUN_CLIENT_DEFAULT_RTO_MS;
	if (d.timeout_ms == 0)
		d.timeout_ms = STUN_CLIENT_DEFAULT_TIMEOUT_MS;
	if (d.max_tx > STUN_CLIENT_MAX_TX || d.max_sends > STUN_CLIENT_MAX_SENDS ||
	    d.timeout_ms > STUN_CLIENT_MAX_TIMEOUT_MS || d.rto_ms > d.timeout_ms) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c) + d.max_tx * sizeof(c->tx[0]));
	if (!c)
		return NULL;
	c->max_tx = d.max_tx;
	c->max_sends = d.max_sends;
	c->rto_ns = ms_to_ns(d.rto_ms);
	c->timeout_ns = ms_to_ns(d.timeout_ms);
	c->new_txid = d.new_txid;
	c->new_txid_arg = d.new_txid_arg;
	c->next_id = 1;
	return c;
}

void stun_client_free(struct stun_client *c)
{
	free(c);
}

int stun_client_start(struct stun_client *c, const struct ipport *server, uint64_t tag,
		      uint64_t now, uint8_t *buf, size_t cap, uint32_t *id)
{
	uint8_t txid[STUN_TXID_BYTES];
	struct tx *t;

	if (!server || (server->family != AF_INET && server->family != AF_INET6) ||
	    server->port == 0)
		return -EINVAL;
	if (!buf || cap < STUN_REQUEST_BYTES)
		return -ENOSPC;
	if (c->new_txid)
		c->new_txid(c->new_txid_arg, txid);
	else
		stun_new_txid(txid);
	if (find_txid(c, txid, now))
		return -EEXIST;
	t = take_slot(c, now);
	if (!t)
		return -ENOBUFS;

	memset(t, 0, sizeof(*t));
	t->state = TX_PENDING;
	memcpy(t->txid, txid, STUN_TXID_BYTES);
	t->id = c->next_id++;
	if (c->next_id == 0)
		c->next_id = 1;
	t->tag = tag;
	t->server = *server;
	t->sends = 1;
	t->start_ns = now;
	t->last_send_ns = now;
	t->timeout_ns = now + c->timeout_ns;
	t->slot = 0;
	schedule_next(c, t, now);

	stun_binding_request(t->txid, buf, cap);
	c->stats.started++;
	*id = t->id;
	return 0;
}

static void fill_result(const struct tx *t, struct stun_client_result *res)
{
	res->id = t->id;
	res->tag = t->tag;
	res->server = t->server;
	res->sends = t->sends;
}

int stun_client_on_packet(struct stun_client *c, const struct ipport *from, const uint8_t *p,
			  size_t len, uint64_t now, struct stun_client_result *res)
{
	uint8_t txid[STUN_TXID_BYTES];
	struct ipport mapped;
	struct stun_msg m;
	struct tx *t;
	int rc;

	memset(res, 0, sizeof(*res));
	rc = stun_msg_parse(p, len, &m);
	if (rc != 0) {
		res->stun_err = rc;
		c->stats.malformed++;
		return STUN_CLIENT_ERR_MALFORMED;
	}
	t = find_txid(c, m.txid, now);
	if (!t) {
		c->stats.unknown_tx++;
		return STUN_CLIENT_ERR_UNKNOWN_TX;
	}
	fill_result(t, res);
	/* The sender first: only the server we asked may answer, whatever
	 * state the transaction is in. */
	if (!ipport_equal(from, &t->server)) {
		c->stats.wrong_server++;
		return STUN_CLIENT_ERR_WRONG_SERVER;
	}
	if (t->state == TX_ANSWERED) {
		c->stats.duplicate++;
		return STUN_CLIENT_ERR_DUPLICATE;
	}
	/* Past the timeout is late even if no poll has reported it yet; the
	 * timeout event still comes from stun_client_poll. */
	if (t->state == TX_ENDED || now >= t->timeout_ns) {
		c->stats.late++;
		return STUN_CLIENT_ERR_LATE;
	}
	rc = stun_parse_response(p, len, txid, &mapped);
	if (rc != 0) {
		res->stun_err = rc;
		c->stats.bad_response++;
		return STUN_CLIENT_ERR_BAD_RESPONSE;
	}
	t->state = TX_ANSWERED;
	t->ended_ns = now;
	res->mapped = mapped;
	res->rtt_ns = now > t->last_send_ns ? now - t->last_send_ns : 0;
	c->stats.answered++;
	return STUN_CLIENT_OK;
}

uint64_t stun_client_deadline(const struct stun_client *c)
{
	uint64_t d = UINT64_MAX;

	for (size_t i = 0; i < c->max_tx; i++) {
		const struct tx *t = &c->tx[i];

		if (t->state != TX_PENDING)
			continue;
		if (t->next_send_ns < d)
			d = t->next_send_ns;
		if (t->timeout_ns < d)
			d = t->timeout_ns;
	}
	return d;
}

int stun_client_poll(struct stun_client *c, uint64_t now, uint8_t *buf, size_t cap,
		     struct stun_client_event *ev)
{
	struct tx *due = NULL;
	uint64_t due_at = UINT64_MAX;

	memset(ev, 0, sizeof(*ev));
	/* The earliest thing due, so events come in time order. */
	for (size_t i = 0; i < c->max_tx; i++) {
		struct tx *t = &c->tx[i];
		uint64_t at;

		if (t->state != TX_PENDING)
			continue;
		at = t->next_send_ns < t->timeout_ns ? t->next_send_ns : t->timeout_ns;
		if (at <= now && at < due_at) {
			due = t;
			due_at = at;
		}
	}
	if (!due)
		return 0;

	ev->id = due->id;
	ev->tag = due->tag;
	ev->server = due->server;
	/* A retransmission due at or after the timeout is pointless. */
	if (due->timeout_ns <= now) {
		ev->kind = STUN_CLIENT_EV_TIMEOUT;
		due->state = TX_ENDED;
		due->ended_ns = due->timeout_ns;
		c->stats.timeouts++;
		return 1;
	}
	if (!buf || cap < STUN_REQUEST_BYTES) {
		memset(ev, 0, sizeof(*ev));
		return -ENOSPC;
	}
	ev->kind = STUN_CLIENT_EV_SEND;
	ev->len = stun_binding_request(due->txid, buf, cap);
	due->sends++;
	due->last_send_ns = now;
	schedule_next(c, due, now);
	c->stats.retransmits++;
	return 1;
}

int stun_client_cancel(struct stun_client *c, uint32_t id, uint64_t now)
{
	struct tx *t = find_pending(c, id);

	if (!t)
		return -ENOENT;
	t->state = TX_ENDED;
	t->ended_ns = now;
	c->stats.cancelled++;
	return 0;
}

size_t stun_client_inflight(const struct stun_client *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->max_tx; i++)
		n += c->tx[i].state == TX_PENDING;
	return n;
}

void stun_client_get_stats(const struct stun_client *c, struct stun_client_stats *out)
{
	*out = c->stats;
}

const char *stun_client_strerror(int err)
{
	switch (err) {
	case STUN_CLIENT_OK:
		return "ok";
	case STUN_CLIENT_ERR_MALFORMED:
		return "malformed STUN message";
	case STUN_CLIENT_ERR_UNKNOWN_TX:
		return "transaction ID we did not send";
	case STUN_CLIENT_ERR_WRONG_SERVER:
		return "answer from an address we did not ask";
	case STUN_CLIENT_ERR_DUPLICATE:
		return "duplicate answer";
	case STUN_CLIENT_ERR_LATE:
		return "answer after the transaction ended";
	case STUN_CLIENT_ERR_BAD_RESPONSE:
		return "not a Binding success response with a mapped address";
	}
	return "unknown stun_client error";
}

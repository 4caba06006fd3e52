/* stun_client: STUN Binding transactions (RFC 8489 section 6.2.1, over UDP)
 * for a client that sends through someone else's socket (netcheck sends
 * through the dataplane's). Pure logic: no I/O, no logging; time is
 * injected (monotonic ns); transaction IDs come from libsodium's
 * randombytes_buf (stun_new_txid) unless the config injects a source.
 *
 * Timers (stun_client_deadline gives the nearest, stun_client_poll acts on
 * everything due): each transaction in flight has a retransmission time
 * (while it has sends left) and a timeout.
 *
 * Retransmission schedule. Tailscale's netcheck never retransmits a
 * request: each probe of its plan is a new transaction (new ID) sent to a
 * region's nodes at planned delays (services/netcheck/nc_plan.h), which keeps
 * every RTT sample unambiguous. netcheck therefore uses max_sends = 1. For
 * other users the default follows RFC 8489 section 6.2.1 (the RTO doubles
 * after each send) with smaller numbers: the k-th send (k = 0, 1, ...)
 * leaves at start + RTO * (2^k - 1), i.e. at 0, 100, 300 and 700 ms with the
 * default 100 ms RTO and 4 sends, and the transaction ends 3 s after its
 * start. Why not the RFC's 500 ms RTO, 7 sends and 39.5 s: the answers are
 * only useful within netcheck's STUN phase, which Tailscale bounds to 3 s
 * (stunProbeTimeout), and 100 ms is Tailscale's own first-probe spacing
 * (defaultInitialRetransmitTime); four sends in 700 ms still cover a lost
 * packet or two at any path RTT netcheck cares about. A send missed by a
 * late poll is not made up (the next is scheduled after now). */
#ifndef MSOCK_STUN_CLIENT_H
#define MSOCK_STUN_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "stun/stun.h"

enum {
	/* Transactions held at once, in flight or finished (see LINGER), by
	 * default (cfg.max_tx may ask for fewer).
	 * netcheck's full plan sends 3 probes per region and family within
	 * 200 ms, and unanswered ones stay in flight until the 3 s STUN phase
	 * ends: 180 for Tailscale's ~30-region map, 768 for the 128 regions
	 * netcheck takes (NC_MAX_REGIONS). Lookups scan the table: at STUN's
	 * packet rates that costs nothing worth a hash. */
	STUN_CLIENT_MAX_TX = 1024,
	/* Ceiling of max_sends: RFC 8489 section 6.2.1's Rc. */
	STUN_CLIENT_MAX_SENDS = 7,
	STUN_CLIENT_DEFAULT_SENDS = 4,
	STUN_CLIENT_DEFAULT_RTO_MS = 100,      /* Tailscale's defaultInitialRetransmitTime */
	STUN_CLIENT_DEFAULT_TIMEOUT_MS = 3000, /* Tailscale's stunProbeTimeout */
	/* Ceiling of timeout_ms: the RFC's own total (RTO 500 ms, Rc 7, Rm 16). */
	STUN_CLIENT_MAX_TIMEOUT_MS = 39500,
	/* A finished transaction's ID is remembered this long, so that a second
	 * answer is told as a duplicate and an answer after the timeout as late,
	 * rather than as unknown. Twice Tailscale's 5 s ReportTimeout: past a
	 * whole report nobody waits for the answer. When every slot is taken a
	 * new transaction takes the slot of the longest-finished one; slots in
	 * flight are never taken. */
	STUN_CLIENT_LINGER_MS = 10000,
};

/* What stun_client_on_packet returns besides 0. Not errno values; each
 * names a distinct reason to drop the packet (the caller counts and logs). */
enum stun_client_err {
	STUN_CLIENT_OK = 0,
	STUN_CLIENT_ERR_MALFORMED = -101,    /* not a valid STUN message (result.stun_err) */
	STUN_CLIENT_ERR_UNKNOWN_TX = -102,   /* a transaction ID we did not send (or forgot) */
	STUN_CLIENT_ERR_WRONG_SERVER = -103, /* our transaction ID from another address */
	STUN_CLIENT_ERR_DUPLICATE = -104,    /* a second answer to an answered transaction */
	STUN_CLIENT_ERR_LATE = -105,	     /* an answer after the timeout or cancel */
	/* Ours, from the right server, but not a Binding success response with
	 * a usable mapped address (result.stun_err says why). The transaction
	 * stays in flight: an unauthenticated error response proves nothing,
	 * and Tailscale ignores such messages too. */
	STUN_CLIENT_ERR_BAD_RESPONSE = -106,
};

struct stun_client_cfg {
	unsigned max_tx;     /* table size, 1 .. STUN_CLIENT_MAX_TX; 0 = STUN_CLIENT_MAX_TX */
	unsigned max_sends;  /* 1 .. STUN_CLIENT_MAX_SENDS; 0 = STUN_CLIENT_DEFAULT_SENDS */
	unsigned rto_ms;     /* first retransmission after this, then doubling; 0 = default */
	unsigned timeout_ms; /* from the first send, <= STUN_CLIENT_MAX_TIMEOUT_MS; 0 = default */
	/* Transaction ID source (tests, fuzzing); NULL = stun_new_txid. */
	void (*new_txid)(void *arg, uint8_t txid[STUN_TXID_BYTES]);
	void *new_txid_arg;
};

/* What an answer (or a rejected packet) was about. Fields past id are set
 * when a transaction of ours matched (id != 0). */
struct stun_client_result {
	uint32_t id;	      /* ours, from stun_client_start; 0 = none matched */
	uint64_t tag;	      /* the caller's, from stun_client_start */
	struct ipport server; /* where the transaction was sent */
	struct ipport mapped; /* STUN_CLIENT_OK: our address as the server saw it */
	uint64_t rtt_ns;      /* STUN_CLIENT_OK: from the most recent send */
	unsigned sends;	      /* requests sent; 1 = the RTT is unambiguous */
	int stun_err;	      /* MALFORMED, BAD_RESPONSE: the codec's enum stun_err */
};

enum stun_client_event_kind {
	STUN_CLIENT_EV_NONE = 0,
	STUN_CLIENT_EV_SEND,	/* send the request now in buf to server */
	STUN_CLIENT_EV_TIMEOUT, /* the transaction ended without an answer */
};

struct stun_client_event {
	enum stun_client_event_kind kind;
	uint32_t id;
	uint64_t tag;
	struct ipport server;
	size_t len; /* SEND: bytes written to buf (STUN_REQUEST_BYTES) */
};

struct stun_client_stats {
	uint64_t started, retransmits, answered, timeouts, cancelled;
	uint64_t malformed, unknown_tx, wrong_server, duplicate, late, bad_response;
};

struct stun_client;

/* A client with no transactions; cfg may be NULL (all defaults). NULL with
 * errno EINVAL (cfg out of range) or ENOMEM. Caller frees. */
struct stun_client *stun_client_new(const struct stun_client_cfg *cfg);
void stun_client_free(struct stun_client *c);

/* Starts a transaction to server (AF_INET or AF_INET6, port != 0): writes
 * its first request (STUN_REQUEST_BYTES, stun_binding_request) to buf for
 * the caller to send now, and sets *id (> 0, unique for the client's life
 * until it wraps at 2^32). tag is the caller's, handed back with every
 * result and event of this transaction. Returns 0, or -EINVAL (bad server),
 * -ENOSPC (cap < STUN_REQUEST_BYTES), -ENOBUFS (max_tx in flight), -EEXIST
 * (the ID source repeated an ID still held). */
int stun_client_start(struct stun_client *c, const struct ipport *server, uint64_t tag,
		      uint64_t now, uint8_t *buf, size_t cap, uint32_t *id);

/* A packet that arrived from `from`. On STUN_CLIENT_OK the transaction is
 * answered: res holds the mapped address and the RTT. Otherwise returns a
 * negative enum stun_client_err and res says what is known. The packet is
 * only read during the call. */
int stun_client_on_packet(struct stun_client *c, const struct ipport *from, const uint8_t *p,
			  size_t len, uint64_t now, struct stun_client_result *res);

/* The next time stun_client_poll has something to do, or UINT64_MAX. */
uint64_t stun_client_deadline(const struct stun_client *c);
/* One thing due at now: a retransmission (STUN_CLIENT_EV_SEND, the request
 * written to buf) or a timeout. Returns 1 with *ev filled, 0 when nothing
 * is due (ev->kind = STUN_CLIENT_EV_NONE), -ENOSPC if cap is too small for
 * a request that is due. Call until it returns 0. */
int stun_client_poll(struct stun_client *c, uint64_t now, uint8_t *buf, size_t cap,
		     struct stun_client_event *ev);

/* Ends transaction id without a timeout event; a later answer is LATE.
 * Returns 0, or -ENOENT if it is not in flight. */
int stun_client_cancel(struct stun_client *c, uint32_t id, uint64_t now);
/* Transactions in flight. */
size_t stun_client_inflight(const struct stun_client *c);
void stun_client_get_stats(const struct stun_client *c, struct stun_client_stats *out);

/* A static description of an enum stun_client_err. */
const char *stun_client_strerror(int err);

#endif

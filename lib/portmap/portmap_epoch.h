/* portmap_epoch: whether a NAT-PMP or PCP gateway has lost its mapping
 * state, from the epoch every answer carries: RFC 6886 section 3.6 (NAT-PMP
 * Seconds Since Start of Epoch) and RFC 6887 section 8.5 (PCP Epoch Time).
 * Time is injected: the caller passes its monotonic clock in ms. */
#ifndef MSOCK_PORTMAP_EPOCH_H
#define MSOCK_PORTMAP_EPOCH_H

#include <stdbool.h>
#include <stdint.h>

/* Which RFC's rule to apply. Zero is not a rule. */
enum portmap_epoch_rule {
	PORTMAP_EPOCH_NATPMP = 1, /* RFC 6886 section 3.6 */
	PORTMAP_EPOCH_PCP = 2,	  /* RFC 6887 section 8.5 */
};

enum {
	/* NAT-PMP: the server's epoch must have advanced at least 7/8 of
	 * what our clock did ("a conservative estimate"), less 2 s
	 * ("by more than 2 seconds"). */
	PORTMAP_EPOCH_NATPMP_SLACK_MS = 2000,
	PORTMAP_EPOCH_NATPMP_RATE_NUM = 7, /* "7/8 (87.5%) of the time elapsed" */
	PORTMAP_EPOCH_NATPMP_RATE_DEN = 8,
	/* PCP: the epoch may step back by "up to one second" (reordered
	 * answers), and the two deltas may differ by 2 s plus 1/16 of
	 * either (clock resolution and drift). */
	PORTMAP_EPOCH_PCP_BACKWARDS_S = 1,
	PORTMAP_EPOCH_PCP_SLACK_S = 2,
	PORTMAP_EPOCH_PCP_DRIFT_DIV = 16,
	PORTMAP_EPOCH_MS_PER_S = 1000,
};

/* The last answer seen from one gateway. Zero it with portmap_epoch_init,
 * and again when the gateway changes. */
struct portmap_epoch {
	uint8_t rule;	    /* enum portmap_epoch_rule */
	bool seen;	    /* an answer has been checked */
	uint32_t server_s;  /* its epoch */
	uint64_t client_ms; /* our clock when it came */
};

void portmap_epoch_init(struct portmap_epoch *e, enum portmap_epoch_rule rule);

/* Feeds the epoch of an answer that just came (now_ms: the caller's
 * monotonic clock). Returns true if the gateway lost its state since the
 * last answer, so every mapping must be re-created; the first answer
 * never says so. The answer becomes the reference for the next, as both
 * RFCs ask, lost or not. A clock that went backwards counts as no time
 * elapsed. Aborts if e was not initialised (our bug, not the network's). */
bool portmap_epoch_check(struct portmap_epoch *e, uint32_t server_epoch_s, uint64_t now_ms);

#endif

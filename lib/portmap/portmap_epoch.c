/* portmap_epoch: the gateway-state-loss rules of RFC 6886 section 3.6 and
 * RFC 6887 section 8.5, on an injected clock. All arithmetic is signed 64
 * bit on values that cannot overflow it: epochs are 32 bit, and elapsed
 * time is divided before it is compared. */
#include <stdlib.h>

#include "portmap/portmap_epoch.h"

void portmap_epoch_init(struct portmap_epoch *e, enum portmap_epoch_rule rule)
{
	*e = (struct portmap_epoch){.rule = (uint8_t)rule};
}

/* RFC 6886 section 3.6: expect at least the last epoch plus 7/8 of our
 * elapsed time; lost if the new one is below that by more than 2 s. In ms:
 * lost if server_ms + slack < last_ms + elapsed * 7/8. */
static bool natpmp_lost(uint32_t last_s, uint32_t server_s, uint64_t elapsed_ms)
{
	int64_t margin_ms = ((int64_t)server_s - (int64_t)last_s) * PORTMAP_EPOCH_MS_PER_S +
			    PORTMAP_EPOCH_NATPMP_SLACK_MS;
	/* floor(7/8 elapsed), without the overflow of elapsed * 7 */
	uint64_t expected_ms =
		elapsed_ms / PORTMAP_EPOCH_NATPMP_RATE_DEN * PORTMAP_EPOCH_NATPMP_RATE_NUM +
		elapsed_ms % PORTMAP_EPOCH_NATPMP_RATE_DEN * PORTMAP_EPOCH_NATPMP_RATE_NUM /
			PORTMAP_EPOCH_NATPMP_RATE_DEN;

	if (margin_ms < 0)
		return true;
	return expected_ms > (uint64_t)margin_ms;
}

/* RFC 6887 section 8.5 steps 2-5, in whole seconds as the RFC writes
 * them (our elapsed time rounded down; the 2 s slack covers it). */
static bool pcp_lost(uint32_t last_s, uint32_t server_s, uint64_t elapsed_ms)
{
	int64_t server_delta = (int64_t)server_s - (int64_t)last_s;
	int64_t client_delta = (int64_t)(elapsed_ms / PORTMAP_EPOCH_MS_PER_S);

	if (server_delta < -PORTMAP_EPOCH_PCP_BACKWARDS_S)
		return true; /* step 2: "time should not go backwards" */
	if (client_delta + PORTMAP_EPOCH_PCP_SLACK_S <
	    server_delta - server_delta / PORTMAP_EPOCH_PCP_DRIFT_DIV)
		return true; /* step 5: the server's clock ran far ahead of ours */
	if (server_delta + PORTMAP_EPOCH_PCP_SLACK_S <
	    client_delta - client_delta / PORTMAP_EPOCH_PCP_DRIFT_DIV)
		return true; /* step 5: ... or far behind: it restarted */
	return false;
}

bool portmap_epoch_check(struct portmap_epoch *e, uint32_t server_epoch_s, uint64_t now_ms)
{
	uint64_t elapsed_ms;
	bool lost;

	if (e->rule != PORTMAP_EPOCH_NATPMP && e->rule != PORTMAP_EPOCH_PCP)
		abort();
	if (!e->seen) {
		lost = false;
	} else {
		elapsed_ms = now_ms > e->client_ms ? now_ms - e->client_ms : 0;
		lost = e->rule == PORTMAP_EPOCH_NATPMP
			       ? natpmp_lost(e->server_s, server_epoch_s, elapsed_ms)
			       : pcp_lost(e->server_s, server_epoch_s, elapsed_ms);
	}
	e->seen = true;
	e->server_s = server_epoch_s;
	e->client_ms = now_ms;
	return lost;
}

/* dsc_internal: what the disco service's files (dsc.h lists them) share
 * with one another and with nothing else. */
#ifndef MSOCK_DSC_INTERNAL_H
#define MSOCK_DSC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "dsc.h"

static inline uint64_t ms(uint64_t n)
{
	return n * NS_PER_MS;
}

/* p has a direct path, trusted still. */
static inline bool dsc_trusted(const struct dsc_peer *p, uint64_t now)
{
	return p->best.family && now < p->trusted_until_ns;
}

/* dsc.c: a line for io.event (if set) about p. */
void dsc_event(struct dsc *d, const struct dsc_peer *p, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* dsc_peer.c: the peer table and each peer's endpoints. */
struct dsc_peer *dsc_peer_by_disco(struct dsc *d, const struct key32 *disco,
				   const struct key32 *node);
struct dsc_ep *dsc_ep_find(struct dsc_peer *p, const struct ipport *a);
struct dsc_ep *dsc_ep_add(struct dsc_peer *p, const struct ipport *a, bool from_cmm);
struct dsc_ep *dsc_ep_add_heard(struct dsc_peer *p, const struct ipport *a, bool from_cmm);

/* dsc_path.c: the direct path, and what the dataplane is told of it. */
bool dsc_public_v4(const struct ipport *a);
bool dsc_in_rx(const struct dsc_peer *p, const struct ipport *a);
void dsc_publish(struct dsc *d, struct dsc_peer *p, uint64_t now);
void dsc_withdraw_path(struct dsc *d, struct dsc_peer *p, uint64_t now);
void dsc_confirm(struct dsc *d, struct dsc_peer *p, const struct ipport *to, uint16_t sock,
		 uint64_t lat, uint64_t now);

/* dsc_ping.c: sending pings and CallMeMaybes, discovery. */
void dsc_send_msg(struct dsc *d, struct dsc_peer *p, uint16_t sock, const struct ipport *to,
		  const struct disco_msg *m);
void dsc_send_ping(struct dsc *d, struct dsc_peer *p, struct dsc_ep *e, uint64_t now);
void dsc_send_cmm(struct dsc *d, struct dsc_peer *p, uint64_t now);
void dsc_ping_all(struct dsc *d, struct dsc_peer *p, uint64_t now);
void dsc_start_discovery(struct dsc *d, struct dsc_peer *p, uint64_t now);
void dsc_discover(struct dsc *d, struct dsc_peer *p, uint64_t now);

/* dsc_punch.c: birthday punching. */
enum dsc_bday_match {
	DSC_BDAY_NO,   /* not a pong of this round */
	DSC_BDAY_HIT,  /* the round's first: *to, *to_sock, *lat say which path it proves */
	DSC_BDAY_LATE, /* of a round a pong already decided (more hits, or a replay) */
};
enum dsc_bday_match dsc_bday_pong(struct dsc_peer *p, const uint8_t *txid,
				  const struct ipport *from, uint16_t sock, uint64_t now,
				  struct ipport *to, uint16_t *to_sock, uint64_t *lat);
void dsc_bday_spray(struct dsc *d, struct dsc_peer *p, uint64_t now);
void dsc_bday_probe(struct dsc *d, struct dsc_peer *p, uint64_t now);
void dsc_on_probe_me(struct dsc *d, struct dsc_peer *p, const struct disco_msg *m, uint64_t now,
		     int *rc);

#endif

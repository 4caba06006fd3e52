/* derper_heard: which senders each client has been sent packets from
 * (Tailscale's sclient.sawSrc and Server.peerGoneWatchers), so that when a
 * sender leaves the region (here and at every mesh peer) each client that
 * heard from it gets PeerGone(disconnected) and can drop its route. */
#ifndef MSOCK_DERPER_HEARD_H
#define MSOCK_DERPER_HEARD_H

#include <stdint.h>

#include "derper.h"

/* rcv is being sent a packet from src (noted once per sender; at most
 * DERPER_HEARD_MAX_PER_CLIENT senders). */
void heard_note(struct derper *s, struct dconn *rcv, const uint8_t src[KEY_LEN]);
/* rcv is closing: forget what it heard. */
void heard_forget(struct derper *s, struct dconn *rcv);
/* src has left the region: PeerGone(disconnected) to every client that
 * heard from it, which forgets it. */
void heard_gone(struct derper *s, const uint8_t src[KEY_LEN]);

#endif

/* status_text: the broker's status JSON as text for people (msockctl's
 * `status` and `netcheck`; status_text.c). */
#ifndef MSOCK_STATUS_TEXT_H
#define MSOCK_STATUS_TEXT_H

#include <jansson.h>
#include <stdio.h>

/* o's string member k, or "" when it has none (or not a string). The
 * string lives as long as o. */
const char *status_text_jstr(json_t *o, const char *k);
/* A peer's traffic times (its LastRecvUnixMs and IdleSec), as status
 * prints them under the peer, at time now (unix ms): "last rx 3s ago, idle
 * 1s", "last rx never, idle 5s" (sent, nothing came back), "last rx never,
 * no traffic". Into out, cut to cap. */
void status_text_activity(json_t *peer, long long now_unix_ms, char *out, size_t cap);
/* The status's Health warnings as `tailscale status` prints its health
 * checks, to f: nothing when there are none, else a blank line,
 * "# Health check:" and one "#     - TEXT" per warning. Entries that are
 * not an object with a non-empty one-line Text are skipped and counted in
 * *ignored (with HealthIgnored, the broker's own count, added), and said
 * on one more line. Returns the warnings printed. */
size_t status_text_health(json_t *st, FILE *f, size_t *ignored);
/* Prints status st (msockctl status) to stdout. */
void status_text_print(json_t *st);
/* Prints the status's Netcheck object r as `tailscale netcheck` prints a
 * report, to stdout. */
void status_text_netcheck(json_t *r);

#endif

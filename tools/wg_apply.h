/* wg_apply: msockctl wg-config --apply: points a WireGuard interface's
 * peers at msock's loopback endpoints with wg(8), in a way every WireGuard
 * accepts. The kernel and wireguard-go change a peer's endpoint in place;
 * boringtun (0.7) panics on a `wg set` that touches a peer it has
 * ("Modifying existing peers is not yet supported") and forgets to reset
 * `remove` between the peers of one call. So a peer whose endpoint must
 * change is re-created: one call removes it (and nothing else), a later
 * call adds it back with its allowed-ips, persistent keepalive and
 * preshared key (the key through a pipe, never on wg's command line). */
#ifndef MSOCK_WG_APPLY_H
#define MSOCK_WG_APPLY_H

#include <stddef.h>

#include "addr.h"
#include "key.h"
#include "wg_dump.h"

enum {
	WG_PEERS_PER_CALL = 200, /* keeps each wg(8) command line short */
	WG_PSKS_PER_CALL = 64,	 /* each preshared key is a pipe the wg child holds open:
				  * far below the usual RLIMIT_NOFILE of 1024 */
	WG_ARGS_PER_PEER = 10,	 /* peer K endpoint E allowed-ips A persistent-keepalive N
				  * preshared-key F */
	WG_CALL_MAX_ARGS = 3 + WG_ARGS_PER_PEER * WG_PEERS_PER_CALL + 1, /* wg set IFACE ... NULL */
	WG_CALL_TIMEOUT_MS = 15000, /* ours: wg answers in milliseconds; a WireGuard that
				     * hangs (boringtun after its panic) must not hang us */
	WG_FD_PATH_MAX = 24,	    /* "/dev/fd/<int>" */
	WG_KEEPALIVE_TEXT_MAX = 6,  /* "65535" */
	WG_APPLY_ERR_MAX = 16384,   /* room to list what a failed call left removed */
};

/* A peer as msock wants it: "<base64 key> <endpoint>", a line of the
 * broker's wg-config answer. */
struct wg_want {
	struct key32 key;
	struct ipport endpoint;
	char key_b64[KEY_B64_LEN + 1];
	char endpoint_text[ADDR_TEXT_MAX];
};

enum wg_action {
	WG_ACTION_INVALID = 0,
	WG_ACTION_UNCHANGED, /* on the interface with this endpoint already */
	WG_ACTION_CREATE,    /* not on the interface: `peer K endpoint E` adds it */
	WG_ACTION_RECREATE,  /* on it with another endpoint: removed, then added back */
};

struct wg_step {
	const struct wg_want *want;
	enum wg_action action;
	const struct wg_dump_peer *have; /* the interface's peer (RECREATE, UNCHANGED) */
};

/* One wg(8) command line. argv points into want/have (keys, endpoints,
 * allowed-ips) and into keepalive[] and psk_path[]; psk[i] is the key
 * whose pipe psk_path[i] will name (wg_apply fills the paths in). */
struct wg_call {
	char *argv[WG_CALL_MAX_ARGS];
	size_t argc;
	char keepalive[WG_PEERS_PER_CALL][WG_KEEPALIVE_TEXT_MAX];
	char psk_path[WG_PSKS_PER_CALL][WG_FD_PATH_MAX];
	const struct key32 *psk[WG_PSKS_PER_CALL];
	size_t n_psk;
};

/* Parses the broker's answer: one "<base64 key> <endpoint>" per line.
 * *out (caller frees) gets the peers in the broker's order. Returns 0, or
 * -EINVAL with err naming the line (a malformed line, a peer twice), or
 * -ENOMEM. */
int wg_wants_parse(const char *text, struct wg_want **out, size_t *n, char *err, size_t errcap);

/* What to do for each of wants[0..n) given the interface's peers. */
void wg_plan(const struct wg_want *wants, size_t n, const struct wg_dump *d, struct wg_step *steps);

/* The next call's share of steps[from..n): at most WG_PEERS_PER_CALL
 * peers that are not UNCHANGED and at most WG_PSKS_PER_CALL preshared
 * keys. Returns the end of that share (n when nothing is left). */
size_t wg_batch_end(const struct wg_step *steps, size_t from, size_t n);
/* `wg set IFACE peer K remove ...` for the RECREATE steps of [from, to);
 * returns the number of peers in it (0: no call needed). */
size_t wg_call_remove(struct wg_call *c, const char *iface, const struct wg_step *steps,
		      size_t from, size_t to);
/* `wg set IFACE peer K endpoint E [allowed-ips A] [persistent-keepalive N]
 * [preshared-key <psk_path>] ...` for the CREATE and RECREATE steps of
 * [from, to); returns the number of peers in it. */
size_t wg_call_add(struct wg_call *c, const char *iface, const struct wg_step *steps, size_t from,
		   size_t to);

struct wg_apply_result {
	size_t peers;	  /* that msock lists */
	size_t created;	  /* not on the interface before */
	size_t recreated; /* removed and added back with msock's endpoint */
	size_t unchanged; /* had msock's endpoint already */
};

/* Reads IFACE's peers (`wg show IFACE dump`), then runs the calls that
 * give each of wants its endpoint: per batch, the removals, then the
 * additions. Returns 0, or -1 with err saying what failed and, when a
 * call failed after its peers were removed, which peers may be missing and
 * what their settings were. */
int wg_apply(const char *iface, const struct wg_want *wants, size_t n, struct wg_apply_result *r,
	     char *err, size_t errcap);

#endif

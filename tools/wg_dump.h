/* wg_dump: the output of `wg show IFACE dump` (wireguard-tools show.c,
 * dump_print) parsed strictly: msockctl wg-config --apply reads a
 * WireGuard interface's peers with it, whichever WireGuard serves the
 * interface (the kernel, wireguard-go, boringtun: wg(8) prints them alike).
 *
 * The text is tab-separated lines, each ending in a newline. The first is
 * the interface: private-key, public-key, listen-port, fwmark ("off" or
 * 0x<hex>). Then one line per peer: public-key, preshared-key, endpoint,
 * allowed-ips (comma-separated), latest-handshake (s since the epoch, 0:
 * never), rx bytes, tx bytes, persistent-keepalive ("off" or seconds). A
 * missing key, endpoint or allowed-ips is "(none)". */
#ifndef MSOCK_WG_DUMP_H
#define MSOCK_WG_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "key.h"

enum {
	WG_DUMP_MAX_BYTES = 64 * 1024 * 1024, /* ours: 100,000 peers (CFG_MAX_PEERS) at ~250
					       * bytes a line, with room for long allowed-ips */
	WG_DUMP_IFACE_FIELDS = 4,	      /* show.c dump_print: the interface line */
	WG_DUMP_PEER_FIELDS = 8,	      /* show.c dump_print: a peer line */
	WG_DUMP_ERR_MAX = 256,		      /* a message naming the line and field */
};

struct wg_dump_peer {
	struct key32 public_key;
	bool has_preshared_key;
	struct key32 preshared_key; /* secret: wiped by wg_dump_free */
	bool has_endpoint;
	struct ipport endpoint;
	bool endpoint_scoped; /* "[fe80::1%eth0]:port": the scope is not kept */
	char *allowed_ips;    /* as wg printed it ("10.0.0.2/32,fd00::2/128"); NULL: none */
	uint64_t latest_handshake_s;
	uint64_t rx_bytes, tx_bytes;
	uint16_t persistent_keepalive_s; /* 0: off */
	size_t line;			 /* its line in the dump, from 1 */
};

struct wg_dump {
	uint16_t listen_port;
	uint32_t fwmark;	    /* 0: off */
	struct wg_dump_peer *peers; /* sorted by public key (wg_dump_find) */
	size_t n_peers;
};

/* Parses len bytes of `wg show IFACE dump` into *out (caller frees with
 * wg_dump_free, also after an error). Returns 0, or -EINVAL with err
 * naming the line ("line 3: endpoint \"x\": not ip:port ..."; a key is
 * never quoted, so no secret reaches the message), or -ENOMEM. The
 * interface's private key is checked and forgotten. */
int wg_dump_parse(const char *text, size_t len, struct wg_dump *out, char *err, size_t errcap);
/* The peer with public key k, or NULL. */
const struct wg_dump_peer *wg_dump_find(const struct wg_dump *d, const struct key32 *k);
/* Frees the peers, wiping their preshared keys; *d is left empty. */
void wg_dump_free(struct wg_dump *d);

#endif

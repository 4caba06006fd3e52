/* dataplane: the process that owns every UDP socket and moves every packet
 * (DESIGN.md; docs/dataplane.md). Files:
 *   classify.c  what a UDP payload is, in magicsock's order (packetLooksLike)
 *   peers.c     the forwarding table: peers, their loopback endpoints, paths
 *               (found through lib/keymap.c: key bytes -> peer index)
 *   io.c        batched socket I/O: recvmmsg/sendmmsg, UDP GSO/GRO
 *   fwd.c       the packet paths: WireGuard <-> UDP/DERP, disco, STUN
 *   probe.c     probe sockets for birthday-paradox hole punching
 *   capture.c   packet capture records to the broker (docs/capture.md)
 *   netmon*.c   the link monitor (netmon.h lists its files)
 *   main.c      start-up, the bus handlers, the poll loop
 *   publish.c   what it publishes: DataplaneState, DataplanePeer, Endpoints,
 *               NetworkState (dp_main.h: the context main.c shares with it)
 * The packet path never waits on the bus: everything it needs is in the
 * forwarding table, which the bus only updates between batches. */
#ifndef MSOCK_DP_H
#define MSOCK_DP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"
#include "capture.h"
#include "config.h"
#include "keymap.h"
#include "log.h"
#include "pktchan.h"

enum {
	DP_BATCH = 128,		  /* recvmmsg/sendmmsg batch, as Tailscale's */
	DP_GSO_MAX_SEGS = 64,	  /* UDP_SEGMENT: at most 64 segments per send */
	DP_GSO_MAX_BYTES = 65000, /* and their sum under the 64 KiB IP limit */
	DP_RX_SLOT_BYTES = 65536, /* a GRO-coalesced read can be 64 KiB */
	/* Loopback endpoints: one address per peer in 127.64.0.0/10 (4 Mi
	 * addresses), on one socket (docs/dataplane.md). */
	DP_LO_BASE = 0x7f400000u, /* 127.64.0.0 */
	DP_LO_BITS = 22,
	DP_PUBLISH_MS = 2000, /* counters are republished at most this often */
	/* A direct path that WireGuard keeps sending on while nothing has come
	 * back from it for this long is suspect: its packets also go over DERP
	 * until the peer is heard again. Ours, not Tailscale's (which waits
	 * for the 6.5 s trust to run out): the dataplane sees both directions,
	 * so "we send, nothing comes back" is visible at once. */
	DP_SILENCE_MS = 1000,
	/* A peer silent this long is idle: its next packet is published at
	 * once (disco's session-active timeout, magicsock's 45 s). */
	DP_IDLE_MS = 45000,
	DP_MAX_RX_ADDRS = 32, /* addresses disco vouched for as the peer's (receive only) */
	DP_PROBE_SOCKS = PKTCHAN_MAX_SOCK, /* probe sockets (probe.c) */
	DP_PROBE_IDLE_MS = 60000,	   /* a probe socket unused this long is closed */
	DP_GENEVE_HEADER_LEN = 8,	   /* RFC 8926 fixed header */
	DP_GENEVE_PROTO_DISCO = 0x7A11,	   /* Tailscale's net/packet/geneve.go */
	DP_GENEVE_PROTO_WIREGUARD = 0x7A12,
	/* The capture channel's queue (ZMQ_SNDHWM), in records: a broker that
	 * falls behind costs at most this many (~1.5 MiB of 1400-byte
	 * packets); past it records are dropped and counted, never waited
	 * for. */
	DP_CAPTURE_QUEUE_RECORDS = 1024,
};

/* What a UDP payload looks like (magicsock's packetLooksLike, plus the
 * junk check of handleDiscoMessage). The disco lengths are lib/disco's:
 * DISCO_HEADER_LEN (magic + sender key) looks like disco, shorter than
 * DISCO_SEALED_HEADER_LEN (+ nonce, 62) is junk. */
enum dp_class {
	DP_CLASS_WIREGUARD = 1,
	DP_CLASS_STUN,	     /* STUN binding (method 0x001), any class */
	DP_CLASS_DISCO,	     /* disco magic, at least 62 bytes */
	DP_CLASS_DISCO_JUNK, /* disco magic and key, but shorter than 62 bytes */
};

struct dp_classified {
	enum dp_class cls;
	bool geneve; /* behind a Geneve header (peer relay): p/len skip it */
	const uint8_t *p;
	size_t len;
};

void dp_classify(const uint8_t *p, size_t len, struct dp_classified *out);
const char *dp_class_name(enum dp_class c);

/* The key of an address in the address map: family, ip, port. */
struct dp_addrkey {
	uint8_t family;
	uint8_t ip[16];
	uint8_t port[2];
};
void dp_addrkey(const struct ipport *a, struct dp_addrkey *k);

enum dp_path {
	DP_PATH_NONE = 0,
	DP_PATH_DIRECT,	     /* trusted direct address: UDP only */
	DP_PATH_DIRECT_DERP, /* direct address not (or no longer) trusted: both */
	DP_PATH_DERP,	     /* DERP only */
};
const char *dp_path_name(enum dp_path p);

struct dp_peer {
	uint8_t key[32];
	bool used;
	bool known;  /* in the netmap (not only remembered from the cache) */
	uint32_t lo; /* loopback endpoint address, host order */
	struct ipport statics[CFG_MAX_ENDPOINTS];
	uint8_t n_statics;
	/* From disco's PathChanged (has_disco); else, for a peer without a
	 * disco key, the first usable static endpoint, trusted for good. */
	bool has_disco;
	/* The netmap gives the peer a disco key: its endpoints are disco's
	 * candidates, never a path before a pong (magicsock sends to a disco
	 * peer's netmap endpoints only once one answered). */
	bool disco_key;
	struct ipport disco_direct; /* family 0: none */
	uint16_t disco_sock;	    /* sent from: 0 the main socket, else a probe socket */
	uint64_t trusted_until_ns;
	uint16_t home_derp;
	/* counters */
	uint64_t tx_packets, tx_bytes, rx_packets, rx_bytes, tx_derp, rx_derp;
	uint64_t tx_derp_bytes, rx_derp_bytes; /* of tx_bytes, rx_bytes: over DERP */
	/* The last WireGuard packet delivered from the peer, any path
	 * (magicsock's lastRecvUnixAtomic; the last sent is last_tx_ns). */
	uint64_t last_rx_ns;
	/* Addresses disco authenticated as the peer's (its pings came from
	 * them): WireGuard packets from them are the peer's, as magicsock maps
	 * an address to a node when a disco ping arrives from it. */
	struct ipport rx_addrs[DP_MAX_RX_ADDRS];
	uint8_t n_rx_addrs;
	/* the silence detector (DP_SILENCE_MS): the last packet sent, the
	 * last heard on the direct path and over DERP, and the first sent
	 * after the last heard directly (the oldest packet still unanswered
	 * when it is later than that) */
	uint64_t last_tx_ns, last_direct_rx_ns, last_derp_rx_ns, first_unanswered_tx_ns;
	/* publishing */
	enum dp_path published_path;
	struct ipport published_direct;
	uint64_t published_tx, published_rx;
	bool publish_now;
};

struct dp_counters {
	uint64_t rx_unknown_source, rx_disco_junk, rx_geneve, rx_stun, rx_disco;
	uint64_t wg_bad_source, wg_no_peer, wg_no_port, tx_errors, chan_drops;
	uint64_t derp_unknown_peer, rx_batches, rx_packets, tx_packets, gso_sends;
	uint64_t probe_opened, probe_errors;
	uint64_t capture_records, capture_drops;
};

/* A running capture (capture.c): what the broker's Capture state asks for. */
struct dp_capture {
	void *sock;	     /* PUSH to the broker's capture channel */
	uint32_t all;	     /* sessions that want every packet */
	uint32_t n_sessions; /* those with a peer filter, in s[] */
	struct {
		uint32_t bit;
		uint32_t n_peers;
		uint8_t peers[CAPTURE_MAX_PEERS][32];
	} s[CAPTURE_MAX_SESSIONS];
};

struct dp_probe {
	int fd; /* -1: closed */
	uint16_t port;
	uint64_t last_ns; /* last packet either way */
};

/* One queued datagram for a sendmmsg: iovs point into receive buffers. */
struct dp_txmsg {
	struct ipport to;
	uint32_t src_lo; /* wg socket: the endpoint address to send from */
	uint16_t seg;	 /* segment size (GSO); 0 = single datagram */
	uint16_t n_iov;
	uint32_t bytes;
	uint32_t first_iov;
	bool closed; /* a short segment ended it */
};

struct dp_txq {
	int fd;
	bool wg; /* sends from a loopback endpoint (IP_PKTINFO) */
	bool gso;
	struct dp_txmsg msgs[DP_BATCH];
	uint32_t n_msgs;
	struct iovec iov[DP_BATCH];
	uint32_t n_iov;
};

struct dp {
	int udp4, udp6, wg; /* sockets handed over by the broker */
	uint16_t port, wg_port, wg_listen_port;
	bool gso, gro;
	int rcvbuf, sndbuf;
	struct dp_peer *peers;
	uint32_t n_peers, cap_peers, n_used;
	struct keymap by_key, by_lo, by_addr; /* -> index in peers */
	struct pktchan *chan_derp, *chan_disco, *chan_netcheck;
	struct dp_counters c;
	struct dp_txq tx4, tx6, txwg;
	/* probe.c: probe sockets 1..DP_PROBE_SOCKS at probe[0..], one epoll
	 * set for reading them, one send queue */
	struct dp_probe probe[DP_PROBE_SOCKS];
	int probe_ep;
	uint16_t n_probe_open;
	uint64_t probe_next_gc_ns;
	struct dp_txq txprobe;
	/* The socket the datagram being handled came in on (0: the main one;
	 * set while probe sockets are read, so dp_on_udp can tell disco). */
	uint16_t rx_sock;
	uint8_t *rxbuf; /* DP_BATCH slots of DP_RX_SLOT_BYTES */
	/* Packet capture: NULL while none runs, which is all the packet path
	 * checks (one predictable branch per packet); else &capst. */
	struct dp_capture *cap;
	struct dp_capture capst;
	uint64_t now_ns;
	struct log_ratelimit rl;
	bool stats_dirty;
};

/* peers.c */
int dp_init(struct dp *d);
void dp_free(struct dp *d);
struct dp_peer *dp_peer_by_key(struct dp *d, const uint8_t key[32]);
/* Adds (or finds) a peer; `lo` is its remembered endpoint address or 0 for
 * a new one. NULL on allocation failure. */
struct dp_peer *dp_peer_add(struct dp *d, const uint8_t key[32], uint32_t lo);
void dp_peer_remove(struct dp *d, struct dp_peer *p);
/* Replaces the static endpoints (from the netmap). */
void dp_peer_set_statics(struct dp *d, struct dp_peer *p, const struct ipport *eps, size_t n);
/* Disco's decision: direct address (family 0 = none) trusted until, sent
 * to from socket `sock` (0: the main one; else a probe socket). */
void dp_peer_set_path(struct dp *d, struct dp_peer *p, const struct ipport *direct, uint16_t sock,
		      uint64_t trusted_until_ns);
void dp_peer_clear_path(struct dp *d, struct dp_peer *p);
/* Replaces the addresses disco vouched for (at most DP_MAX_RX_ADDRS). */
void dp_peer_set_rx_addrs(struct dp *d, struct dp_peer *p, const struct ipport *a, size_t n);
/* WireGuard sent the peer a packet at now_ns (the silence detector's
 * bookkeeping). */
void dp_peer_note_tx(struct dp_peer *p, uint64_t now_ns);
/* Where packets to this peer go now; *direct gets the address if any, and
 * *sock (may be NULL) the socket to send from. */
enum dp_path dp_peer_path(const struct dp *d, const struct dp_peer *p, const struct ipport **direct,
			  uint16_t *sock);
struct dp_peer *dp_peer_by_addr(struct dp *d, const struct ipport *a);
struct dp_peer *dp_peer_by_lo(struct dp *d, uint32_t lo);
static inline uint32_t dp_peer_index(const struct dp *d, const struct dp_peer *p)
{
	return (uint32_t)(p - d->peers);
}

/* io.c */
void dp_io_setup(struct dp *d);
void dp_txq_init(struct dp_txq *q, int fd, bool wg, bool gso);
/* Queues one datagram (data must stay valid until the flush). */
void dp_txq_add(struct dp *d, struct dp_txq *q, const struct ipport *to, uint32_t src_lo,
		const uint8_t *data, size_t len);
void dp_txq_flush(struct dp *d, struct dp_txq *q);
void dp_flush_all(struct dp *d);
/* Reads one batch from fd; calls fn for each datagram (GRO-split). Returns
 * the number of datagrams, 0 when nothing was waiting. */
typedef void (*dp_rx_fn)(struct dp *d, const struct ipport *from, uint32_t to_lo, const uint8_t *p,
			 size_t len);
int dp_rx_batch(struct dp *d, int fd, bool pktinfo, dp_rx_fn fn);

/* fwd.c */
void dp_on_udp(struct dp *d, const struct ipport *from, uint32_t to_lo, const uint8_t *p,
	       size_t len);
void dp_on_wg(struct dp *d, const struct ipport *from, uint32_t to_lo, const uint8_t *p,
	      size_t len);
/* A packet from a service's channel. */
void dp_on_chan(struct dp *d, struct pktchan *from, const struct pktchan_hdr *h, const uint8_t *p,
		size_t len);
/* Sends on the UDP socket of the address's family (queued). */
void dp_send_udp(struct dp *d, const struct ipport *to, const uint8_t *p, size_t len);

/* capture.c */
/* The sessions of the broker's Capture state (NULL or n == 0: none): opens
 * the channel to the broker on ctx (relative to bus_dir) when the first
 * comes, closes it when the last goes. -errno when it cannot be opened
 * (capture stays off). */
struct Msock__Capture;
int dp_capture_set(struct dp *d, void *zctx, const char *bus_dir, const struct Msock__Capture *c);
/* Only while d->cap: a UDP payload sent or received on our socket `sock`
 * (0 the main one) to or from `remote`. */
void dp_capture_udp(struct dp *d, enum capture_dir dir, const struct ipport *remote, uint16_t sock,
		    const uint8_t *p, size_t len);
/* Only while d->cap: a payload to or from peer `key` over DERP region
 * `region` (0: the peer's home, as derp chooses). */
void dp_capture_derp(struct dp *d, enum capture_dir dir, const uint8_t key[32], uint16_t region,
		     const uint8_t *p, size_t len);

/* probe.c */
int dp_probe_init(struct dp *d);
void dp_probe_free(struct dp *d);
/* Sends from socket sock: 0 the main one (dp_send_udp), else probe socket
 * sock (IPv4 only; opened on first use). Queued. */
void dp_send_udp_sock(struct dp *d, uint16_t sock, const struct ipport *to, const uint8_t *p,
		      size_t len);
/* Reads the probe sockets that have something (the epoll set is readable). */
int dp_probe_rx(struct dp *d);
/* Closes probe sockets idle for DP_PROBE_IDLE_MS. */
void dp_probe_gc(struct dp *d);

#endif

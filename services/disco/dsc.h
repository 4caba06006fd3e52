/* dsc: the disco service's per-peer path discovery, after Tailscale's
 * wgengine/magicsock endpoint.go (startDiscoveryLocked, sendPingsLocked,
 * handlePongConnLocked, handleCallMeMaybe, heartbeat) with its timing
 * constants. Disco packets go out through the caller's functions (UDP via
 * the dataplane's socket, DERP via the derp component) and come in through
 * dsc_on_udp / dsc_on_derp; the chosen path goes out through io.path
 * (PathChanged on the bus, applied by the dataplane).
 *
 * Timers (dsc_deadline gives the nearest), per active peer:
 *   - discovery while no direct path is trusted: CallMeMaybe over DERP at
 *     most every DSC_CMM_INTERVAL_MS, each endpoint pinged at most every
 *     DSC_PING_INTERVAL_MS;
 *   - heartbeat: the trusted address pinged every DSC_HEARTBEAT_MS;
 *   - upgrade: every endpoint re-pinged every DSC_UPGRADE_MS unless the
 *     best latency is DSC_GOOD_ENOUGH_MS or less;
 *   - a ping unanswered for DSC_PING_TIMEOUT_MS is forgotten;
 *   - a best address without a pong for DSC_BEST_STALE_MS is dropped: DERP
 *     only until discovery finds a path again.
 * A peer is active for DSC_SESSION_ACTIVE_MS after its last outbound
 * traffic (dsc_on_traffic); an idle peer sends nothing. */
#ifndef MSOCK_DSC_H
#define MSOCK_DSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "disco/disco.h"
#include "key.h"

enum {
	DSC_HEARTBEAT_MS = 3000,       /* heartbeatInterval */
	DSC_TRUST_UDP_MS = 6500,       /* trustUDPAddrDuration */
	DSC_SESSION_ACTIVE_MS = 45000, /* sessionActiveTimeout */
	DSC_UPGRADE_MS = 60000,	       /* upgradeInterval */
	DSC_GOOD_ENOUGH_MS = 5,	       /* goodEnoughLatency */
	DSC_PING_TIMEOUT_MS = 5000,    /* pingTimeoutDuration */
	DSC_PING_INTERVAL_MS = 5000,   /* discoPingInterval */
	DSC_CMM_INTERVAL_MS = 5000,    /* ours: one CallMeMaybe per ping interval at most */
	DSC_BEST_STALE_MS = 15000,     /* ours: ~2 trust periods without a pong */
	DSC_RECHECK_MS = 1000,	       /* ours: re-pings on the dataplane\'s word */
	DSC_MAX_EPS = 32,	       /* candidate endpoints kept per peer */
	DSC_MAX_PINGS = 32,	       /* pings in flight per peer */
	DSC_MAX_MY_EPS = 64,	       /* our endpoints sent in CallMeMaybe */
	DSC_HISTORY = 16,	       /* path changes kept per peer (GetEndpointChanges) */
	DSC_PACKET_MAX = 1500,	       /* what we seal (a CallMeMaybe of 64 endpoints: 1,250) */
	/* Tailscale's derpMagicIPAddr: the "address" a Pong names for a ping
	 * that came over DERP (127.3.3.40, port = region). */
	DSC_DERP_MAGIC_IP = 0x7f030328,
};

struct dsc_ep {
	struct ipport addr;
	uint64_t last_ping_ns, last_pong_ns, latency_ns;
	uint64_t heard_ns; /* a disco ping or pong came from it: it is the peer's */
	bool from_cmm;	   /* told by the peer (else static or learned from a ping) */
};

struct dsc_ping {
	bool used;
	uint8_t txid[DISCO_TXID_LEN];
	struct ipport to; /* family 0: sent over DERP */
	uint64_t sent_ns;
	bool user; /* msockctl ping's: its pong is reported (io.pong) */
};

struct dsc_peer {
	struct key32 node_key, disco_key;
	bool has_disco;
	struct disco_shared shared;
	uint16_t home_derp;
	char name[64];
	struct dsc_ep eps[DSC_MAX_EPS];
	size_t n_eps;
	struct dsc_ping pings[DSC_MAX_PINGS];
	/* the path */
	struct ipport best; /* family 0: none */
	uint64_t best_latency_ns, best_pong_ns, trusted_until_ns;
	/* timers */
	uint64_t last_traffic_ns, last_cmm_ns, last_upgrade_ns, last_heartbeat_ns;
	/* path changes, a ring (oldest at history_next when full) */
	struct dsc_change {
		uint64_t at_ns; /* CLOCK_MONOTONIC */
		struct ipport direct;
		uint64_t latency_ns;
	} history[DSC_HISTORY];
	size_t n_history, history_next;
	/* what was published */
	struct ipport pub_best;
	uint64_t pub_trusted_until_ns;
	/* the dataplane's counters last seen (dsc_on_counters) */
	bool counted;
	uint64_t seen_tx, seen_rx_direct;
	/* counters */
	uint64_t pings_sent, pongs_rx, pings_rx, cmm_sent, cmm_rx;
};

struct dsc_io {
	void (*send_udp)(void *arg, const struct ipport *to, const uint8_t *p, size_t len);
	void (*send_derp)(void *arg, const struct key32 *node_key, uint16_t region,
			  const uint8_t *p, size_t len);
	/* A pong to an msockctl ping came: from `via` (NULL: over DERP,
	 * through region). */
	void (*pong)(void *arg, const struct dsc_peer *p, const struct ipport *via, uint16_t region,
		     uint64_t latency_ns);
	/* The peer's path changed or its trust was extended: best (NULL = DERP
	 * only), trusted until (CLOCK_MONOTONIC ns), latency; changed: a new
	 * address (a new entry in p->history). */
	void (*path)(void *arg, const struct dsc_peer *p, const struct ipport *best,
		     uint64_t trusted_until_ns, uint64_t latency_ns, bool changed);
	void *arg;
};

struct dsc_stats {
	uint64_t rx_unknown_sender, rx_bad_packet, rx_bad_box, rx_bad_msg, rx_unknown_type;
	uint64_t rx_zero_key, rx_wrong_node_key, rx_unsolicited_pong, rx_pong_wrong_addr;
	uint64_t cmm_unusable_eps, cmm_capped;
};

struct dsc {
	struct key32 priv, pub;
	/* The silent_disco pref: no heartbeats or upgrade pings; a trusted
	 * path is kept by the peer's WireGuard traffic on it (dsc_on_rx). */
	bool silent;
	/* Our node key, named in our pings (from the derp component's
	 * SelfKeys); until known, pings go without it as old clients' do. */
	struct key32 self_node_key;
	bool has_self_node_key;
	struct dsc_io io;
	struct dsc_peer *peers;
	size_t n_peers, cap_peers;
	struct ipport my_eps[DSC_MAX_MY_EPS];
	size_t n_my_eps;
	struct dsc_stats stats;
};

void dsc_init(struct dsc *d, const struct key32 *priv, const struct key32 *pub,
	      const struct dsc_io *io);
void dsc_free(struct dsc *d);

/* A peer from the netmap: its disco key (NULL: none known, so no disco),
 * home region and static endpoints; added or updated. Returns 0 or
 * -ENOMEM. */
int dsc_set_peer(struct dsc *d, const struct key32 *node_key, const struct key32 *disco_key,
		 uint16_t home_derp, const struct ipport *statics, size_t n_statics,
		 const char *name);
void dsc_remove_peer(struct dsc *d, const struct key32 *node_key);
struct dsc_peer *dsc_peer_find(struct dsc *d, const struct key32 *node_key);

/* Our endpoint set (what CallMeMaybe tells peers). */
void dsc_set_my_endpoints(struct dsc *d, const struct ipport *eps, size_t n);

/* WireGuard sent to the peer (the dataplane's counters moved): the peer is
 * active; without a trusted direct path, discovery starts. */
void dsc_on_traffic(struct dsc *d, const struct key32 *node_key, uint64_t now_ns);
/* `msockctl ping` (tailscale ping): one ping along the current path: to
 * the trusted direct address, else over DERP while discovery runs (the
 * peer becomes active). Only this ping's pong is reported (io.pong). */
void dsc_ping_now(struct dsc *d, const struct key32 *node_key, uint64_t now_ns);
/* The dataplane's counters for the peer: WireGuard packets sent (any path)
 * and received on the direct path. Growth since the last call is traffic
 * (dsc_on_traffic) and direct receipt (dsc_on_rx); the first call for a
 * peer only records them. */
void dsc_on_counters(struct dsc *d, const struct key32 *node_key, uint64_t tx, uint64_t rx_direct,
		     uint64_t now_ns);
/* The peer's WireGuard traffic came in on the direct path (the dataplane's
 * counters). With silent_disco it keeps the path trusted, as pongs do. */
void dsc_on_rx(struct dsc *d, const struct key32 *node_key, uint64_t now_ns);
/* The dataplane reports the peer's direct path went silent (WireGuard
 * sends, nothing comes back): ping the best address now (at most once per
 * DSC_RECHECK_MS), rather than at the next heartbeat. */
void dsc_recheck(struct dsc *d, const struct key32 *node_key, uint64_t now_ns);
/* A restarted disco adopts the path it had published (the broker's cache)
 * as it is, and re-confirms it with the next heartbeat. */
void dsc_adopt_path(struct dsc *d, const struct key32 *node_key, const struct ipport *best,
		    uint64_t trusted_until_ns, uint64_t latency_ns, uint64_t now_ns);

/* A disco packet from UDP `from`, or over DERP from node key `src` via
 * region. Returns 0 when it was acted on, DISCO_UNKNOWN_TYPE when ignored,
 * or a negative disco_err / DSC_DROP_* reason (counted in stats). */
enum dsc_drop {
	DSC_DROP_UNKNOWN_SENDER = -100, /* no peer has that disco key */
	DSC_DROP_WRONG_NODE_KEY = -101, /* a ping naming another node key */
	DSC_DROP_UNSOLICITED = -102,	/* a pong to no ping of ours */
	DSC_DROP_PONG_ADDR = -103,	/* a pong from another address than we pinged */
	DSC_DROP_DERP_MISMATCH = -104,	/* over DERP, but the disco key is another peer's */
};
const char *dsc_strerror(int err);
int dsc_on_udp(struct dsc *d, const struct ipport *from, const uint8_t *p, size_t len,
	       uint64_t now_ns);
int dsc_on_derp(struct dsc *d, const struct key32 *src, uint16_t region, const uint8_t *p,
		size_t len, uint64_t now_ns);

void dsc_tick(struct dsc *d, uint64_t now_ns);
uint64_t dsc_deadline(const struct dsc *d, uint64_t now_ns);

/* Tailscale's betterAddr: whether a (latency a_ns) is a better path than b
 * (b_ns): lower latency with points for the kind of address (loopback 50,
 * link-local 30, private 20, IPv6 10; each point 1 % of latency), and 1 %
 * hysteresis. An address of family 0 is none. (Tailscale also prefers a
 * larger path MTU for the same address and plain UDP over a peer relay:
 * neither exists here yet.) */
bool dsc_better_addr(const struct ipport *a, uint64_t a_ns, const struct ipport *b, uint64_t b_ns);

#endif

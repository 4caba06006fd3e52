/* dsc: the disco service's per-peer path discovery, after Tailscale's
 * wgengine/magicsock endpoint.go (startDiscoveryLocked, sendPingsLocked,
 * handlePongConnLocked, handleCallMeMaybe, heartbeat) with its timing
 * constants. Disco packets go out through the caller's functions (UDP via
 * the dataplane's socket, DERP via the derp component) and come in through
 * dsc_on_udp / dsc_on_derp; the chosen path goes out through io.path
 * (PathChanged on the bus, applied by the dataplane). Files:
 *   dsc.c        state, what the dataplane tells us, the timers (dsc_tick)
 *   dsc_peer.c   the peer table (by node and by disco key), endpoints
 *   dsc_ping.c   pings and CallMeMaybes out, discovery, packets in
 *   dsc_path.c   betterAddr, a pong's confirmation, publishing the path
 *   dsc_punch.c  birthday punching behind hard NATs
 *   dsc_internal.h  what they share; main.c is the process around them.
 *
 * Timers (dsc_deadline gives the nearest), per active peer:
 *   - discovery while no direct path is trusted: CallMeMaybe over DERP at
 *     most every DSC_CMM_INTERVAL_MS (sooner while the peer has sent none
 *     back: after 1, 2, 4 s), each endpoint pinged at most every
 *     DSC_PING_INTERVAL_MS, and out of turn when our last ping to it went
 *     unanswered and the peer shows the way is open now: at most once per
 *     interval each when it pings us from there and when its CallMeMaybe
 *     lists it;
 *   - a CallMeMaybe of ours (an answer, say) that listed an endpoint set
 *     since changed: a new one at once while within DSC_CMM_INTERVAL_MS of
 *     it, even for an idle peer (the peer is discovering us);
 *   - heartbeat: the trusted address pinged every DSC_HEARTBEAT_MS;
 *   - upgrade: every endpoint re-pinged every DSC_UPGRADE_MS unless the
 *     best latency is DSC_GOOD_ENOUGH_MS or less;
 *   - a ping unanswered for DSC_PING_TIMEOUT_MS is forgotten;
 *   - a best address without a pong for DSC_BEST_STALE_MS is dropped: DERP
 *     only until discovery finds a path again.
 * A peer is active for DSC_SESSION_ACTIVE_MS after its last outbound
 * traffic (dsc_on_traffic); an idle peer sends nothing.
 *
 * Hard NATs (docs/disco.md): when our NAT's mapping depends on the
 * destination (netcheck, dsc_set_nat) and discovery has found nothing for
 * DSC_BDAY_AFTER_MS, we ping the peer's public endpoints from
 * DSC_BDAY_PORTS probe sockets (the "spray": each makes a mapping of its
 * own) and ask the peer over DERP to probe random ports of our public
 * address (msock's ProbeMe). A peer that is not behind a hard NAT itself
 * sends DSC_BDAY_PROBES pings to random ports of that address; one that
 * hits a mapping punches both NATs (the birthday paradox: ~98 % at 1,024
 * probes against 256 mappings). Again every DSC_BDAY_RESPRAY_MS, doubling
 * up to 8 times that, while nothing is found. */
#ifndef MSOCK_DSC_H
#define MSOCK_DSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "disco/disco.h"
#include "key.h"
#include "keymap.h"

enum {
	DSC_HEARTBEAT_MS = 3000,       /* heartbeatInterval */
	DSC_TRUST_UDP_MS = 6500,       /* trustUDPAddrDuration */
	DSC_SESSION_ACTIVE_MS = 45000, /* sessionActiveTimeout */
	DSC_UPGRADE_MS = 60000,	       /* upgradeInterval */
	DSC_GOOD_ENOUGH_MS = 5,	       /* goodEnoughLatency */
	DSC_PING_TIMEOUT_MS = 5000,    /* pingTimeoutDuration */
	DSC_PING_INTERVAL_MS = 5000,   /* discoPingInterval */
	DSC_CMM_INTERVAL_MS = 5000,    /* ours: one CallMeMaybe per ping interval at most */
	DSC_CMM_RETRY_MS = 1000,       /* ours: the first retry of an unanswered one (doubling) */
	DSC_BEST_STALE_MS = 15000,     /* ours: ~2 trust periods without a pong */
	DSC_RECHECK_MS = 1000,	       /* ours: re-pings on the dataplane's word */
	DSC_MAX_EPS = 32,	       /* candidate endpoints kept per peer */
	DSC_MAX_PINGS = 32,	       /* pings in flight per peer */
	DSC_MAX_MY_EPS = 64,	       /* our endpoints sent in CallMeMaybe */
	DSC_HISTORY = 16,	       /* path changes kept per peer (GetEndpointChanges) */
	DSC_RX_ADDRS = DSC_MAX_EPS,    /* heard-from addresses handed to the dataplane: all */
	DSC_PACKET_MAX = 1500,	       /* what we seal (a CallMeMaybe of 64 endpoints: 1,250) */
	DSC_BDAY_AFTER_MS = 3000,      /* discovery without a path this long: spray */
	DSC_BDAY_PORTS = 256,	       /* probe sockets sprayed from (pktchan sock 1..256) */
	DSC_BDAY_TARGETS = 2,	       /* public IPv4 endpoints of the peer sprayed to */
	/* The next spray (doubling, at most 8x): as soon as the peer acts on
	 * another ProbeMe (DSC_BDAY_PROBE_INTERVAL_MS), with room for DERP's
	 * jitter between our two ProbeMes. */
	DSC_BDAY_RESPRAY_MS = 5500,
	DSC_BDAY_PROBES = 1024, /* probes per ProbeMe */
	DSC_BDAY_PROBES_PER_TICK = 256,
	DSC_BDAY_PROBE_INTERVAL_MS = 5000, /* a peer's next ProbeMe is acted on after this */
	DSC_BDAY_PROBE_WINDOW_MS = 6000,   /* a probe's pong counts this long after the start */
	DSC_DP_RESTART_GRACE_MS = 500,	   /* a restarted dataplane's channel reconnects */
	DSC_BDAY_HEARTBEAT_MS = 250,	   /* a sprayed path's first heartbeat: after the burst */
	/* Tailscale's derpMagicIPAddr: the "address" a Pong names for a ping
	 * that came over DERP (127.3.3.40, port = region). */
	DSC_DERP_MAGIC_IP = 0x7f030328,
};

struct dsc_ep {
	struct ipport addr;
	uint16_t sock; /* sent to from: 0 our main socket, else a probe socket */
	uint64_t last_ping_ns, last_pong_ns, latency_ns;
	/* Our last pings to it out of turn (dsc_ping.c, ping_out_of_turn): on a
	 * ping from it, on a CallMeMaybe listing it. */
	uint64_t reping_on_ping_ns, reping_on_cmm_ns;
	uint64_t heard_ns;    /* a disco ping or pong came from it: it is the peer's */
	uint16_t heard_count; /* how often (saturating) */
	bool from_cmm;	      /* told by the peer (else static or learned from a ping) */
};

struct dsc_ping {
	bool used;
	uint8_t txid[DISCO_TXID_LEN];
	struct ipport to; /* family 0: sent over DERP */
	uint16_t sock;	  /* sent from */
	uint64_t sent_ns;
	bool user; /* msockctl ping's: its pong is reported (io.pong) */
};

/* A peer's birthday punching (dsc.h, "Hard NATs"). Pings carry their
 * meaning in the tx id: 8 random bytes of the round, then two 16-bit
 * numbers: a spray's socket and endpoint index, or a probe's port and its
 * send time in ms from the start. One pong per round counts. */
struct dsc_bday {
	/* spraying: our NAT is hard */
	uint8_t spray_id[8];
	uint64_t spray_ns, next_spray_ns, last_ask_ns;
	uint8_t rounds;
	/* probing: the peer's NAT is, and it asked */
	uint8_t probe_id[8];
	struct ipport probe_ip; /* port 0 */
	uint64_t probe_start_ns, last_probe_me_ns;
	uint16_t probes_sent;
	uint8_t probe_rounds; /* ProbeMes acted on since the peer last had a path */
	bool probing;
	bool spray_decided, probe_decided; /* a pong of the round came */
};

struct dsc_peer {
	struct key32 node_key, disco_key;
	bool has_disco;
	/* The next peer (index) with the same disco key, or KEYMAP_ABSENT:
	 * see dsc.by_disco. */
	uint32_t disco_next;
	struct disco_shared shared;
	uint16_t home_derp;
	char name[64];
	struct dsc_ep eps[DSC_MAX_EPS];
	size_t n_eps;
	struct dsc_ping pings[DSC_MAX_PINGS];
	/* the path */
	struct ipport best; /* family 0: none */
	uint16_t best_sock; /* our socket the path leaves from */
	uint64_t best_latency_ns, best_pong_ns, trusted_until_ns;
	uint64_t disc_start_ns; /* discovery without a trusted path since (0: not) */
	struct dsc_bday bday;
	/* timers */
	uint64_t last_traffic_ns, last_cmm_ns, last_upgrade_ns, last_heartbeat_ns;
	uint8_t cmm_unanswered; /* CallMeMaybes sent since the peer's last one */
	uint32_t cmm_eps_gen;	/* dsc.my_eps_gen when we sent our last CallMeMaybe */
	/* path changes, a ring (oldest at history_next when full) */
	struct dsc_change {
		uint64_t at_ns; /* CLOCK_MONOTONIC */
		struct ipport direct;
		uint16_t sock;
		uint64_t latency_ns;
	} history[DSC_HISTORY];
	size_t n_history, history_next;
	/* what was published */
	struct ipport pub_best;
	uint16_t pub_best_sock;
	/* Every address heard from, as last published (the dataplane takes
	 * WireGuard from them: PathChanged.rx_addrs); a ping from one not
	 * among them publishes again. */
	struct ipport rx[DSC_RX_ADDRS];
	uint8_t n_rx;
	uint64_t pub_trusted_until_ns;
	/* the dataplane's counters last seen (dsc_on_counters) */
	bool counted;
	uint64_t seen_tx, seen_rx_direct;
	/* counters */
	uint64_t pings_sent, pongs_rx, pings_rx, cmm_sent, cmm_rx;
	uint64_t bday_sprays, bday_probes, bday_hits;
};

struct dsc_io {
	/* sock: our socket to send from (0 the main one, 1..DSC_BDAY_PORTS a
	 * probe socket, IPv4 only). */
	void (*send_udp)(void *arg, uint16_t sock, const struct ipport *to, const uint8_t *p,
			 size_t len);
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
	/* Something worth a log line happened to the peer (may be NULL). */
	void (*event)(void *arg, const struct dsc_peer *p, const char *what);
	void *arg;
};

/* Where dsc's random numbers come from (ping tx ids, a birthday round's
 * id, the ports it probes), injected as the time is: libsodium's in the
 * service (dsc_rng_sodium), a seeded generator in tests, so that a test
 * sees the same ids and ports in every run. */
struct dsc_rng {
	void (*buf)(void *arg, void *p, size_t n);	/* n random bytes into p */
	uint32_t (*uniform)(void *arg, uint32_t upper); /* uniform in [0, upper) */
	void *arg;
};
/* libsodium's randombytes_buf and randombytes_uniform. */
extern const struct dsc_rng dsc_rng_sodium;

/* What disco's counters (dsc.stats) sort messages by: their type, as
 * Tailscale's magicsock counts metricSentDiscoPing and the like. */
enum dsc_mt {
	DSC_MT_INVALID = 0, /* not opened, or not parsed: no type */
	DSC_MT_PING,
	DSC_MT_PONG,
	DSC_MT_CALL_ME_MAYBE,
	DSC_MT_PROBE_ME, /* msock's own (0xf0) */
	DSC_MT_OTHER,	 /* parsed, not acted on: the peer-relay messages (0x04-0x09) */
	DSC_MT_COUNT,
};

/* The path a message went or came by: the counters' second index. */
enum {
	DSC_PATH_UDP = 0, /* the dataplane's socket (the main one or a probe socket) */
	DSC_PATH_DERP = 1,
	DSC_PATHS = 2,
};

/* Why a message was dropped: the counters' reasons. Each received packet
 * that is not acted on has one (a packet acted on has none), counted in
 * one place (dsc_ping.c, receive); DSC_DR_SEAL_FAILED is the one of ours
 * not sent (dsc_send_msg). */
enum dsc_drop_reason {
	DSC_DR_NONE = 0,
	DSC_DR_BAD_PACKET,	 /* too short or long, no magic (disco_packet_parse) */
	DSC_DR_ZERO_KEY,	 /* an all-zero sender key */
	DSC_DR_UNKNOWN_SENDER,	 /* no peer has that disco key (DSC_DROP_UNKNOWN_SENDER) */
	DSC_DR_DERP_MISMATCH,	 /* DSC_DROP_DERP_MISMATCH */
	DSC_DR_BAD_BOX,		 /* does not open: a wrong key, or tampered */
	DSC_DR_UNKNOWN_TYPE,	 /* opened, a type the codec does not know */
	DSC_DR_BAD_MESSAGE,	 /* opened, a known type that does not parse */
	DSC_DR_UNHANDLED,	 /* parsed, a type not acted on (DSC_MT_OTHER) */
	DSC_DR_WRONG_NODE_KEY,	 /* DSC_DROP_WRONG_NODE_KEY */
	DSC_DR_UNSOLICITED_PONG, /* DSC_DROP_UNSOLICITED */
	DSC_DR_PONG_WRONG_ADDR,	 /* DSC_DROP_PONG_ADDR */
	DSC_DR_PROBE_ME_REFUSED, /* DSC_DROP_PROBE_ME */
	DSC_DR_PROBE_ME_HARD,	 /* DSC_DROP_PROBE_ME_HARD */
	DSC_DR_BDAY_LATE,	 /* DSC_DROP_BDAY_LATE */
	DSC_DR_SEAL_FAILED,	 /* ours: the peer's key gives no shared key */
	DSC_DR_COUNT,
};

/* Counted since dsc_init; main.c publishes them (DiscoStats). */
struct dsc_stats {
	/* Sealed and handed to io.send_udp / io.send_derp. */
	uint64_t sent[DSC_PATHS][DSC_MT_COUNT];
	/* Opened and parsed, whether then acted on or dropped. */
	uint64_t received[DSC_PATHS][DSC_MT_COUNT];
	uint64_t dropped[DSC_DR_COUNT];
	/* Endpoints of CallMeMaybes received that were not taken: unusable
	 * (loopback, multicast, ...), or past DSC_MAX_EPS. */
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
	struct dsc_rng rng;
	struct dsc_peer *peers;
	size_t n_peers, cap_peers;
	/* Indexes into peers (they survive its realloc; pointers would not):
	 * by node key, and by disco key for peers with has_disco. Peers that
	 * share a disco key (Tailscale's peerMap.nodesOfDisco allows it;
	 * usually there is one) are chained through disco_next from the one
	 * by_disco names. */
	struct keymap by_node, by_disco;
	struct ipport my_eps[DSC_MAX_MY_EPS];
	size_t n_my_eps;
	/* Counts changes of my_eps; a peer in discovery whose last
	 * CallMeMaybe carried an older set gets a new one at once. */
	uint32_t my_eps_gen;
	/* netcheck: our NAT maps by destination (hard), our public IPv4 */
	bool hard_nat;
	struct ipport global_v4;
	struct dsc_stats stats;
};

void dsc_init(struct dsc *d, const struct key32 *priv, const struct key32 *pub,
	      const struct dsc_io *io, const struct dsc_rng *rng);
void dsc_free(struct dsc *d);

/* A peer from the netmap: its disco key (NULL: none known, so no disco:
 * the peer is WireGuard only, and a path it had is withdrawn at the next
 * dsc_tick), home region and static endpoints; added or updated. Returns 0
 * or -ENOMEM. */
int dsc_set_peer(struct dsc *d, const struct key32 *node_key, const struct key32 *disco_key,
		 uint16_t home_derp, const struct ipport *statics, size_t n_statics,
		 const char *name);
void dsc_remove_peer(struct dsc *d, const struct key32 *node_key);
struct dsc_peer *dsc_peer_find(struct dsc *d, const struct key32 *node_key);

/* Our endpoint set (what CallMeMaybe tells peers). */
void dsc_set_my_endpoints(struct dsc *d, const struct ipport *eps, size_t n);
/* netcheck's word on our NAT: its mapping varies by destination (hard),
 * and our public IPv4 address (NULL or family 0: unknown). */
void dsc_set_nat(struct dsc *d, bool hard, const struct ipport *global_v4);

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
/* The dataplane restarted: its probe sockets are new ones on other ports,
 * so a path that left from one is gone. Such paths drop to DERP at once
 * and, behind a hard NAT, the next tick sprays again (no wait). */
void dsc_dataplane_restarted(struct dsc *d, uint64_t now_ns);
/* A restarted disco adopts the path it had published (the broker's cache)
 * as it is, and re-confirms it with the next heartbeat; for a peer without
 * a disco key it withdraws it. */
void dsc_adopt_path(struct dsc *d, const struct key32 *node_key, const struct ipport *best,
		    uint32_t sock, uint64_t trusted_until_ns, uint64_t latency_ns, uint64_t now_ns);

/* A disco packet from UDP `from` (on our socket `sock`), or over DERP from node key `src` via
 * region. Returns 0 when it was acted on, DISCO_UNKNOWN_TYPE when ignored,
 * or a negative disco_err / DSC_DROP_* reason (counted in stats). */
enum dsc_drop {
	DSC_DROP_UNKNOWN_SENDER = -100, /* no peer has that disco key */
	DSC_DROP_WRONG_NODE_KEY = -101, /* a ping naming another node key */
	DSC_DROP_UNSOLICITED = -102,	/* a pong to no ping of ours */
	DSC_DROP_PONG_ADDR = -103,	/* a pong from another address than we pinged */
	DSC_DROP_DERP_MISMATCH = -104,	/* over DERP, but the disco key is another peer's */
	DSC_DROP_PROBE_ME = -105,	/* ProbeMe: not the peer's address, or too soon */
	DSC_DROP_BDAY_LATE = -106,	/* a pong of a birthday round already decided */
	DSC_DROP_PROBE_ME_HARD = -107,	/* ProbeMe while behind a hard NAT ourselves */
};
const char *dsc_strerror(int err);
int dsc_on_udp(struct dsc *d, uint16_t sock, const struct ipport *from, const uint8_t *p,
	       size_t len, uint64_t now_ns);
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

/* derp_svc: the derp service's context (services/derp). The only process
 * with the node private key: it connects to DERP regions (home, and others
 * on demand), moves packets between the dataplane's packet channel and the
 * DERP servers, and publishes HomeDERP, SelfKeys (node key) and a
 * DERPRegionState per region. Files: main.c (start-up, bus, loop),
 * derp_regions.c (connections, home choice, routing). Its functions are
 * dsvc_*: derp_ is lib/derp's, the protocol library's.
 *
 * Timers: each connection's reconnect time (backoff) and its DERP client's
 * deadlines; idle non-home connections close after DERP_SVC_IDLE_MS; the
 * region states are republished every DERP_SVC_STATS_MS. */
#ifndef MSOCK_DERP_SVC_H
#define MSOCK_DERP_SVC_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "derp/derp_client.h"
#include "health.h"
#include "key.h"
#include "log.h"
#include "pktchan.h"

enum {
	DERP_SVC_MAX_REGIONS = 1024,
	DERP_SVC_MAX_NODES = 16, /* nodes of a region we consider */
	DERP_SVC_MAX_CONNS = 64, /* regions connected at once */
	DERP_SVC_PEER_BUCKETS = 1 << 14,
	DERP_SVC_IDLE_MS = 60000, /* Tailscale's derpInactiveCleanupTime */
	DERP_SVC_BACKOFF_MIN_MS = 1000,
	DERP_SVC_BACKOFF_MAX_MS = 30000,
	DERP_SVC_STATS_MS = 5000,
	DERP_SVC_NAME_MAX = 256,
	/* The home region not up for this long: the no-derp-connection
	 * warning (Tailscale's noDERPConnectionWarnable.TimeToVisible). */
	DERP_SVC_HEALTH_DOWN_MS = 10000,
};

struct derp_node {
	char name[64];
	char host[DERP_SVC_NAME_MAX]; /* HostName: Host header, SNI */
	struct tls_certname cert;     /* CertName: a pin or the name to verify */
	struct ipport addr;	      /* dialled (names are not resolved) */
	bool insecure;
};

struct derp_region {
	uint32_t id;
	char code[32];
	bool avoid, no_home;
	struct derp_node nodes[DERP_SVC_MAX_NODES];
	size_t n_nodes;
};

enum rconn_state {
	RC_INVALID = 0,
	RC_CONNECTING,
	RC_UP,
	RC_BACKOFF,
};

struct rconn {
	uint32_t region;
	enum rconn_state st;
	struct derp_client *dc;
	size_t node; /* index into the region's nodes, rotated on failure */
	uint64_t backoff_ms, next_try_ns, last_used_ns;
	uint64_t sent, received;
	char last_error[DERP_CLIENT_WHY_MAX];
	bool dirty; /* state changed: republish */
	struct derp_svc *svc;
};

struct peer_region {
	uint8_t key[KEY_LEN];
	uint32_t home;	  /* from the netmap (NodeViewsUpdate) */
	uint32_t learned; /* where its packets last came from */
	struct peer_region *next;
};

struct derp_svc {
	struct bus *bus;
	struct pktchan *pc;
	SSL_CTX *tls;
	struct key32 priv, pub;
	struct derp_region regions[DERP_SVC_MAX_REGIONS];
	size_t n_regions;
	uint32_t cfg_home, netcheck_home, home;
	/* msockctl debug: force-prefer-derp N (kept until 0 clears it) and
	 * pick-new-derp's region (until netcheck's next report chooses). */
	uint32_t force_home, picked_home;
	bool only_tcp_443;
	bool network_down; /* NetworkState down: no connections (SetNetworkUp(false)) */
	struct rconn *conns[DERP_SVC_MAX_CONNS]; /* each allocated: clients keep a pointer */
	size_t n_conns;
	struct peer_region *peers[DERP_SVC_PEER_BUCKETS];
	uint64_t now_ns, next_stats_ns;
	uint64_t tx_no_route, tx_not_connected, rx_to_dataplane_dropped;
	struct log_ratelimit rl;
	struct health health;
	uint64_t home_down_since_ns; /* the home region not up since; 0 = up */
};

/* derp_regions.c */
void dsvc_regions_changed(struct derp_svc *s);
void dsvc_choose_home(struct derp_svc *s);
void dsvc_prefs_changed(struct derp_svc *s);
/* The dataplane's NetworkState: down closes every connection and dials
 * none (magicsock idles DERP); up dials home again. */
void dsvc_set_network_up(struct derp_svc *s, bool up);
void dsvc_on_dataplane_packet(struct derp_svc *s, const struct pktchan_hdr *h, const uint8_t *p,
			      size_t n);
void dsvc_tick(struct derp_svc *s);
uint64_t dsvc_next_deadline(const struct derp_svc *s);
void dsvc_peer_set_home(struct derp_svc *s, const uint8_t key[KEY_LEN], uint32_t home);
void dsvc_peer_forget(struct derp_svc *s, const uint8_t key[KEY_LEN]);
/* msockctl debug (DebugDERP): "break" closes every connection (they
 * redial at once; DebugBreakDERPConns), "pick-new" moves home to another
 * region that may be home (DebugPickNewDERP), "force-prefer" makes region
 * `region` home, 0 clears it (DebugForcePreferDERP). A request that cannot
 * be done is logged and ignored; returns 0 or -EINVAL. */
int dsvc_debug(struct derp_svc *s, const char *action, uint32_t region);
/* The health warnings no-derp-home and no-derp-connection, from the
 * current state (dsvc_tick calls it). */
void dsvc_health(struct derp_svc *s);
void dsvc_free(struct derp_svc *s);

#endif

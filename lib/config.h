/* config: the one JSON config file (docs/config.md). Parsing collects every
 * error, each naming the file, line:column where known, and the field path
 * ("msock.json:12:9: peers[3].node_key: expected nodekey:<64 hex> or a base64
 * WireGuard key"); a config with any error is not returned. */
#ifndef MSOCK_CONFIG_H
#define MSOCK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "key.h"

enum {
	CFG_MAX_FILE_BYTES = 16 << 20, /* a 10,000-peer netmap fits easily */
	CFG_MAX_PEERS = 100000,
	CFG_MAX_ENDPOINTS = 16, /* static endpoints per peer, and our own */
	CFG_MAX_COMPONENTS = 32,
	CFG_MAX_COMPONENT_ARGS = 16,
	CFG_MAX_REGIONS = 1024,
	CFG_MAX_NODES_PER_REGION = 64,
	CFG_MAX_ERRORS = 100, /* past this, "... and N more" */
	CFG_NAME_MAX = 64,
	CFG_PATH_MAX = 512,
	CFG_HOST_MAX = 256,
	CFG_DEFAULT_LISTEN_PORT = 41641, /* tailscaled's default */
};

/* A node of a DERP region, as Tailscale's tailcfg.DERPNode. */
struct cfg_derp_node {
	char name[CFG_NAME_MAX];
	int region_id;
	char host_name[CFG_HOST_MAX];
	char cert_name[CFG_HOST_MAX];
	char ipv4[CFG_NAME_MAX]; /* "" = resolve host_name, "none" = no IPv4 */
	char ipv6[CFG_NAME_MAX]; /* "" = resolve host_name, "none" = no IPv6 */
	int stun_port;		 /* 0 = 3478, -1 = no STUN */
	bool stun_only;
	int derp_port; /* 0 = 443 */
	bool insecure_for_tests;
	char stun_test_ip[CFG_NAME_MAX];
	bool can_port80;
};

/* A region, as tailcfg.DERPRegion. */
struct cfg_derp_region {
	int region_id;
	char region_code[CFG_NAME_MAX];
	char region_name[CFG_NAME_MAX];
	bool avoid;
	bool no_measure_no_home;
	/* The map's HomeParams.RegionScore for this region: its latency is
	 * multiplied by it when choosing the home region; 0 = none (Tailscale
	 * ignores scores <= 0 and treats a missing one as 1). */
	double home_score;
	struct cfg_derp_node *nodes;
	size_t n_nodes;
};

/* As tailcfg.DERPMap; regions sorted by region_id. */
struct cfg_derp_map {
	struct cfg_derp_region *regions;
	size_t n_regions;
	bool omit_default_regions;
};

struct cfg_peer {
	char name[CFG_NAME_MAX];
	struct key32 node_key;
	struct key32 disco_key;
	bool has_disco_key;
	struct ipport endpoints[CFG_MAX_ENDPOINTS];
	size_t n_endpoints;
	int home_derp; /* 0 = unknown */
};

struct cfg_prefs {
	bool only_tcp_443;
	bool silent_disco;
	bool probe_udp_lifetime;
	bool disable_portmapper;
	bool homeless;
};

struct cfg_component {
	char name[32];	  /* unique; [a-z0-9_-]{1,31} */
	char program[32]; /* runs bin/msock-<program>; defaults to name */
	char *args[CFG_MAX_COMPONENT_ARGS];
	size_t n_args;
};

/* Who starts the components (docs/deploy.md). */
enum cfg_supervise {
	CFG_SUPERVISE_BROKER = 0, /* the broker starts and restarts them (default) */
	CFG_SUPERVISE_EXTERNAL,	  /* systemd or a container runtime does; the broker runs the bus */
};

struct msock_config {
	char path[CFG_PATH_MAX];	     /* as given to config_load */
	char private_key_file[CFG_PATH_MAX]; /* relative paths are resolved against the config
						file's directory */
	char disco_key_file[CFG_PATH_MAX];
	int listen_port;    /* 0 = pick one; default CFG_DEFAULT_LISTEN_PORT */
	int wg_listen_port; /* 0 = not set */
	/* The loopback port of the per-peer endpoints WireGuard sends to
	 * (127.x.y.z:<port>); 0 = pick one when the broker starts. */
	int wg_endpoint_port;
	struct cfg_derp_map derp_map;
	char derp_ca_file[CFG_PATH_MAX];
	int home_derp; /* 0 = choose by latency */
	/* Our own addresses to advertise as they are (magicsock's
	 * SetStaticEndpoints): a 1:1 NAT or a forwarded port. */
	struct ipport static_endpoints[CFG_MAX_ENDPOINTS];
	size_t n_static_endpoints;
	struct cfg_peer *peers;
	size_t n_peers;
	struct cfg_prefs prefs;
	struct cfg_component components[CFG_MAX_COMPONENTS];
	size_t n_components;
	char state_dir[CFG_PATH_MAX];	   /* default /var/lib/msock */
	char run_dir[CFG_PATH_MAX];	   /* default /run/msock */
	char control_socket[CFG_PATH_MAX]; /* default <run_dir>/control.sock */
	char user[CFG_NAME_MAX];	   /* one user for all; default "": a user per component */
	enum cfg_supervise supervise;
	/* The debug endpoint, msock-debug (config "debug", docs/debug.md):
	 * a unix socket path (default <run_dir>/debug.sock) or a TCP ip:port,
	 * loopback unless allow_public; the socket's group ("" = root only). */
	char debug_listen[CFG_PATH_MAX];
	bool debug_allow_public;
	char debug_socket_group[CFG_NAME_MAX];
};

/* Messages from parsing, in file order. Caller owns; free with cfg_diag_free. */
struct cfg_diag {
	char **errors;
	size_t n_errors;
	char **warnings;
	size_t n_warnings;
};

/* Reads and parses a file. Returns NULL when there is any error (all of them
 * in diag); caller frees the result with config_free. */
struct msock_config *config_load(const char *path, struct cfg_diag *diag);
/* Parses text; `name` is used in messages and to resolve relative paths. */
struct msock_config *config_parse(const char *text, size_t len, const char *name,
				  struct cfg_diag *diag);
void config_free(struct msock_config *cfg);
void cfg_diag_free(struct cfg_diag *diag);
/* Is s a component name (or program) as the config allows: [a-z0-9_-]{1,31}? */
bool config_component_name_ok(const char *s);
/* The peer with that node key, or NULL. */
const struct cfg_peer *config_find_peer(const struct msock_config *cfg,
					const struct key32 *node_key);

#endif

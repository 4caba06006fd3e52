/* config_state: the config file as state topics (Prefs, SelfConfig,
 * DERPMap per region, NodeViewsUpdate per peer), and reload: re-read the
 * file, republish everything (the cache publishes only what changed),
 * delete the keys that left, and start/stop components to match. A config
 * with errors is rejected and the running one kept. */
#include "broker.h"

#include "endpoint_pb.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "endpoint_pb.h"
#include "netmap.pb-c.h"
#include "state.pb-c.h"

enum {
	KEYS_MAX_TEXT = 72,
};

int broker_state_set_msg(struct broker *b, const char *topic, const char *key,
			 const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);
	int rc;

	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(m, buf);
	rc = broker_state_set(b, topic, key, buf, len);
	free(buf);
	return rc < 0 ? rc : 0;
}

static int publish_peer(struct broker *b, const struct cfg_peer *p)
{
	Msock__NodeViewsUpdate up = MSOCK__NODE_VIEWS_UPDATE__INIT;
	Msock__NodeView nv = MSOCK__NODE_VIEW__INIT;
	Msock__Endpoint eps[CFG_MAX_ENDPOINTS], *epp[CFG_MAX_ENDPOINTS];
	char key[KEYS_MAX_TEXT];

	nv.node_key.data = (uint8_t *)p->node_key.b;
	nv.node_key.len = KEY_LEN;
	if (p->has_disco_key) {
		nv.disco_key.data = (uint8_t *)p->disco_key.b;
		nv.disco_key.len = KEY_LEN;
	}
	nv.name = (char *)p->name;
	nv.home_derp = (uint32_t)p->home_derp;
	for (size_t i = 0; i < p->n_endpoints; i++) {
		msock__endpoint__init(&eps[i]);
		endpoint_pb_set(&eps[i], &p->endpoints[i], ENDPOINT_TYPE_EXPLICIT_CONF);
		epp[i] = &eps[i];
	}
	nv.n_endpoints = p->n_endpoints;
	nv.endpoints = epp;
	up.node = &nv;
	key_hex_format(p->node_key.b, key);
	return broker_state_set_msg(b, BUS_T_NodeViewsUpdate, key, &up.base);
}

static int publish_region(struct broker *b, const struct cfg_derp_region *r)
{
	Msock__DERPMap m = MSOCK__DERPMAP__INIT;
	Msock__DERPNode *nodes = calloc(r->n_nodes ? r->n_nodes : 1, sizeof(*nodes));
	Msock__DERPNode **np = calloc(r->n_nodes ? r->n_nodes : 1, sizeof(*np));
	char key[16];
	int rc = -ENOMEM;

	if (!nodes || !np)
		goto out;
	m.region_id = (uint32_t)r->region_id;
	m.region_code = (char *)r->region_code;
	m.region_name = (char *)r->region_name;
	m.avoid = r->avoid;
	m.no_measure_no_home = r->no_measure_no_home;
	m.home_score = r->home_score;
	for (size_t i = 0; i < r->n_nodes; i++) {
		const struct cfg_derp_node *n = &r->nodes[i];
		Msock__DERPNode *d = &nodes[i];
		msock__derpnode__init(d);
		d->name = (char *)n->name;
		d->region_id = (uint32_t)n->region_id;
		d->host_name = (char *)n->host_name;
		d->cert_name = (char *)n->cert_name;
		d->ipv4 = (char *)n->ipv4;
		d->ipv6 = (char *)n->ipv6;
		d->stun_port = n->stun_port;
		d->stun_only = n->stun_only;
		d->derp_port = (uint32_t)n->derp_port;
		d->insecure_for_tests = n->insecure_for_tests;
		d->stun_test_ip = (char *)n->stun_test_ip;
		d->can_port80 = n->can_port80;
		np[i] = d;
	}
	m.n_nodes = r->n_nodes;
	m.nodes = np;
	snprintf(key, sizeof(key), "%d", r->region_id);
	rc = broker_state_set_msg(b, BUS_T_DERPMap, key, &m.base);
out:
	free(nodes);
	free(np);
	return rc;
}

struct stale {
	const struct msock_config *cfg;
	const char *topic;
	char (*keys)[KEYS_MAX_TEXT];
	size_t n, cap;
	char (*peers)[KEYS_MAX_TEXT]; /* the config's peers as hex keys, sorted */
};

static int cmp_hex(const void *a, const void *b)
{
	return strcmp(a, b);
}

static bool still_configured(const struct stale *s, const char *topic, const char *key)
{
	const struct msock_config *cfg = s->cfg;

	if (strcmp(topic, BUS_T_DERPMap) == 0) {
		for (size_t i = 0; i < cfg->derp_map.n_regions; i++) {
			char k[16];
			snprintf(k, sizeof(k), "%d", cfg->derp_map.regions[i].region_id);
			if (strcmp(k, key) == 0)
				return true;
		}
		return false;
	}
	/* 10,000 peers: a binary search, not 10,000 x 10,000 comparisons. */
	return s->peers && bsearch(key, s->peers, cfg->n_peers, KEYS_MAX_TEXT, cmp_hex);
}

static void collect_stale(void *arg, const struct state_entry *e)
{
	struct stale *s = arg;

	if (strcmp(e->topic, s->topic) != 0 || still_configured(s, e->topic, e->key))
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		void *k = realloc(s->keys, cap * sizeof(*s->keys));
		if (!k)
			return;
		s->keys = k;
		s->cap = cap;
	}
	snprintf(s->keys[s->n++], KEYS_MAX_TEXT, "%s", e->key);
}

/* Deletes the keys of `topic` that the config no longer has. */
static void delete_stale(struct broker *b, const struct msock_config *cfg, const char *topic)
{
	struct stale s = {cfg, topic, 0, 0, 0, 0};

	if (cfg->n_peers && strcmp(topic, BUS_T_NodeViewsUpdate) == 0) {
		s.peers = malloc(cfg->n_peers * sizeof(*s.peers));
		if (!s.peers)
			return; /* deleting nothing is safe; the next reload retries */
		for (size_t i = 0; i < cfg->n_peers; i++)
			key_hex_format(cfg->peers[i].node_key.b, s.peers[i]);
		qsort(s.peers, cfg->n_peers, sizeof(*s.peers), cmp_hex);
	}
	state_cache_foreach(b->cache, topic, collect_stale, &s);
	for (size_t i = 0; i < s.n; i++)
		broker_state_del(b, topic, s.keys[i]);
	free(s.keys);
	free(s.peers);
}

int broker_publish_config(struct broker *b, const struct msock_config *cfg)
{
	Msock__Prefs prefs = MSOCK__PREFS__INIT;
	Msock__SelfConfig self = MSOCK__SELF_CONFIG__INIT;
	int rc = 0;

	prefs.only_tcp_443 = cfg->prefs.only_tcp_443;
	prefs.silent_disco = cfg->prefs.silent_disco;
	prefs.probe_udp_lifetime = cfg->prefs.probe_udp_lifetime;
	prefs.disable_portmapper = cfg->prefs.disable_portmapper;
	prefs.homeless = cfg->prefs.homeless;
	rc |= broker_state_set_msg(b, BUS_T_Prefs, "self", &prefs.base);
	self.listen_port = (uint32_t)cfg->listen_port;
	self.wg_listen_port = (uint32_t)cfg->wg_listen_port;
	self.home_derp = (uint32_t)cfg->home_derp;
	self.derp_ca_file = (char *)cfg->derp_ca_file;
	Msock__Endpoint seps[CFG_MAX_ENDPOINTS], *sepp[CFG_MAX_ENDPOINTS];
	for (size_t i = 0; i < cfg->n_static_endpoints; i++) {
		msock__endpoint__init(&seps[i]);
		endpoint_pb_set(&seps[i], &cfg->static_endpoints[i], ENDPOINT_TYPE_EXPLICIT_CONF);
		sepp[i] = &seps[i];
	}
	self.n_static_endpoints = cfg->n_static_endpoints;
	self.static_endpoints = sepp;
	rc |= broker_state_set_msg(b, BUS_T_SelfConfig, "self", &self.base);
	for (size_t i = 0; i < cfg->derp_map.n_regions; i++)
		rc |= publish_region(b, &cfg->derp_map.regions[i]);
	for (size_t i = 0; i < cfg->n_peers; i++)
		rc |= publish_peer(b, &cfg->peers[i]);
	delete_stale(b, cfg, BUS_T_DERPMap);
	delete_stale(b, cfg, BUS_T_NodeViewsUpdate);
	return rc ? -EIO : 0;
}

/* Fields that only take effect when the broker starts: warn and keep the
 * running values (the bus directory and its owner exist already). */
static void keep_restart_fields(const struct msock_config *old, struct msock_config *cfg)
{
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
		{"run_dir", offsetof(struct msock_config, run_dir)},
		{"control_socket", offsetof(struct msock_config, control_socket)},
		{"state_dir", offsetof(struct msock_config, state_dir)},
		{"user", offsetof(struct msock_config, user)},
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp((const char *)old + fields[i].off, (char *)cfg + fields[i].off)) {
			log_warn("reload: %s changed; it takes effect when the broker restarts",
				 fields[i].name);
			strcpy((char *)cfg + fields[i].off, (const char *)old + fields[i].off);
		}
	if (old->supervise != cfg->supervise) {
		log_warn("reload: supervise changed; it takes effect when the broker restarts");
		cfg->supervise = old->supervise;
	}
}

static struct key_stamp stamp_of(const char *path)
{
	struct key_stamp k = {0};
	struct stat st;

	if (stat(path, &st) == 0) {
		k.exists = true;
		k.dev = st.st_dev;
		k.ino = st.st_ino;
		k.size = st.st_size;
		k.mtime = st.st_mtim;
	}
	return k;
}

static bool same_stamp(const struct key_stamp *a, const struct key_stamp *b)
{
	return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

void broker_stamp_keys(struct broker *b)
{
	b->node_key = stamp_of(b->cfg->private_key_file);
	b->disco_key = stamp_of(b->cfg->disco_key_file);
}

void broker_key_loaded(struct broker *b, const char *owner)
{
	const struct proc *p = proctab_find(owner);

	if (p && p->key == PROC_KEY_NODE)
		b->node_key = stamp_of(b->cfg->private_key_file);
	else if (p && p->key == PROC_KEY_DISCO)
		b->disco_key = stamp_of(b->cfg->disco_key_file);
}

/* A key file that was replaced, rewritten or renamed in the config: the
 * component owning that key restarts and so reconnects everything with the
 * new key (magicsock's SetPrivateKey). A file that merely appeared was made
 * by the component itself on its first start. */
static void restart_on_key_change(struct broker *b, const char *old_path, const char *path,
				  struct key_stamp *stamp, enum proc_key key)
{
	struct key_stamp now = stamp_of(path);
	bool changed = strcmp(old_path, path) != 0 || (stamp->exists && !same_stamp(stamp, &now));
	char err[256];

	*stamp = now;
	if (!changed)
		return;
	for (size_t i = 0; i < b->n_children; i++) {
		struct child *ch = &b->children[i];
		if (!ch->wanted || !ch->proc || ch->proc->key != key)
			continue;
		log_info("reload: %s changed: restarting %s with the new key", path, ch->comp.name);
		broker_child_restart(b, ch->comp.name, err, sizeof(err));
	}
}

int broker_reload(struct broker *b, char *err, size_t errcap)
{
	struct cfg_diag diag = {0};
	struct msock_config *cfg = config_load(b->cfg->path, &diag);
	size_t used = 0;
	int rc;

	for (size_t i = 0; i < diag.n_warnings; i++)
		log_warn("%s", diag.warnings[i]);
	if (!cfg) {
		used += (size_t)snprintf(err, errcap, "config rejected, keeping the running one:");
		for (size_t i = 0; i < diag.n_errors && used < errcap; i++)
			used += (size_t)snprintf(err + used, errcap - used, "\n%s", diag.errors[i]);
		for (size_t i = 0; i < diag.n_errors; i++)
			log_error("reload: %s", diag.errors[i]);
		cfg_diag_free(&diag);
		return -EINVAL;
	}
	cfg_diag_free(&diag);
	if ((rc = broker_check_programs(b, cfg, err, errcap)) < 0) {
		log_error("reload: %s; keeping the running config", err);
		config_free(cfg);
		return rc;
	}
	keep_restart_fields(b->cfg, cfg);
	char old_node[CFG_PATH_MAX], old_disco[CFG_PATH_MAX];
	snprintf(old_node, sizeof(old_node), "%s", b->cfg->private_key_file);
	snprintf(old_disco, sizeof(old_disco), "%s", b->cfg->disco_key_file);
	config_free(b->cfg);
	b->cfg = cfg;
	broker_publish_config(b, cfg);
	broker_children_sync(b);
	/* New ports mean new sockets: a rebind, as msockctl rebind. */
	if (b->dp.udp4 >= 0 &&
	    (cfg->listen_port != b->dp.cfg_port || cfg->wg_endpoint_port != b->dp.cfg_wg_port)) {
		char rerr[256];
		log_info("reload: listen_port or wg_endpoint_port changed: rebinding");
		if (broker_rebind(b, rerr, sizeof(rerr)) < 0)
			log_error("reload: rebind: %s", rerr);
	}
	restart_on_key_change(b, old_node, cfg->private_key_file, &b->node_key, PROC_KEY_NODE);
	restart_on_key_change(b, old_disco, cfg->disco_key_file, &b->disco_key, PROC_KEY_DISCO);
	/* A new generation, announced in a heartbeat at the end of this
	 * loop pass: after everything above is on the bus (reload_wait.c). */
	b->config_gen++;
	b->next_heartbeat_ns = b->now_ns;
	snprintf(err, errcap, "reloaded %s", cfg->path);
	log_info("reloaded %s (config generation %llu)", cfg->path,
		 (unsigned long long)b->config_gen);
	return 0;
}

/* config_peers: the peers array: names and node keys unique, keys in
 * Tailscale's or WireGuard's text forms (key.h), static endpoints (addr.h),
 * home DERP regions that the DERP map holds. */
#include "config_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char *const peer_fields[] = {"name", "node_key", "disco_key", "endpoints",
					  "home_derp"};

void cfg_home_derp(struct cfg_ctx *c, const json_t *v, const struct cfg_derp_map *m, int *out)
{
	if (cfg_int(c, v, 0, INT_MAX, out) < 0)
		return;
	/* An error in the map already explains a missing region. */
	if (*out != 0 && c->derp_ok && !cfg_derp_find(m, *out))
		cfg_error(c, CFG_AT_VALUE, "region %d is not in derp_map", *out);
}

static void peer_name(struct cfg_ctx *c, const json_t *v, struct cfg_peer *p)
{
	if (cfg_str(c, v, p->name, sizeof(p->name)) < 0)
		return;
	for (const char *s = p->name; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			cfg_error(c, CFG_AT_VALUE, "control characters are not allowed in a name");
			p->name[0] = 0;
			return;
		}
	}
	if (!p->name[0])
		cfg_error(c, CFG_AT_VALUE, "expected a name, got an empty string");
}

static void peer_key(struct cfg_ctx *c, const json_t *v, enum key_kind kind, struct key32 *out,
		     bool *ok)
{
	const char *why = NULL;
	const char *expected = kind == KEY_KIND_NODE_PUBLIC
				       ? "expected nodekey:<64 hex> or a base64 WireGuard key"
				       : "expected discokey:<64 hex> or a base64 key";

	if (!json_is_string(v)) {
		cfg_error(c, CFG_AT_VALUE, "%s, got %s", expected, cfg_type_name(v));
		return;
	}
	if (key_parse(json_string_value(v), kind, out, &why) < 0) {
		cfg_error(c, CFG_AT_VALUE, "%s (%s)", expected, why);
		return;
	}
	/* The zero key is Tailscale's "no key" (IsZero), never a peer's. */
	if (key_is_zero(out)) {
		cfg_error(c, CFG_AT_VALUE, "the all-zero key is not a key");
		return;
	}
	*ok = true;
}

void cfg_endpoints(struct cfg_ctx *c, const json_t *v, struct ipport *out, size_t *n_out)
{
	size_t n = json_array_size(v);

	if (!json_is_array(v)) {
		cfg_error(c, CFG_AT_VALUE, "expected an array of \"ip:port\" strings, got %s",
			  cfg_type_name(v));
		return;
	}
	if (n > CFG_MAX_ENDPOINTS) {
		cfg_error(c, CFG_AT_VALUE, "%zu endpoints; at most %d", n, CFG_MAX_ENDPOINTS);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(v, i);
		cfg_push_index(c, i);
		if (!json_is_string(e) || ipport_parse(json_string_value(e), &out[i]) < 0)
			cfg_error(
				c, CFG_AT_VALUE,
				"expected ip:port such as 198.18.0.5:41641 or [2001:db8::1]:41641");
		cfg_pop(c);
	}
	*n_out = n;
}

static void missing(struct cfg_ctx *c, const char *field)
{
	cfg_push_key(c, field);
	cfg_error(c, CFG_AT_VALUE, "required field is missing");
	cfg_pop(c);
}

static void peer_read(struct cfg_ctx *c, const json_t *v, const struct cfg_derp_map *m,
		      struct cfg_peer *p)
{
	bool has_name = false, has_key = false, key_ok = false;
	const char *key;
	json_t *val;

	if (!json_is_object(v)) {
		cfg_error(c, CFG_AT_VALUE, "expected a peer object, got %s", cfg_type_name(v));
		return;
	}
	json_object_foreach ((json_t *)v, key, val) {
		cfg_push_key(c, key);
		if (strcmp(key, "name") == 0) {
			has_name = true;
			peer_name(c, val, p);
		} else if (strcmp(key, "node_key") == 0) {
			has_key = true;
			peer_key(c, val, KEY_KIND_NODE_PUBLIC, &p->node_key, &key_ok);
		} else if (strcmp(key, "disco_key") == 0) {
			peer_key(c, val, KEY_KIND_DISCO_PUBLIC, &p->disco_key, &p->has_disco_key);
		} else if (strcmp(key, "endpoints") == 0) {
			cfg_endpoints(c, val, p->endpoints, &p->n_endpoints);
		} else if (strcmp(key, "home_derp") == 0) {
			cfg_home_derp(c, val, m, &p->home_derp);
		} else {
			cfg_unknown(c, key, peer_fields,
				    sizeof(peer_fields) / sizeof(peer_fields[0]));
		}
		cfg_pop(c);
	}
	if (!key_ok)
		memset(&p->node_key, 0, sizeof(p->node_key)); /* skipped by the unique check */
	if (!has_name)
		missing(c, "name");
	if (!has_key)
		missing(c, "node_key");
}

/* Duplicates are found by sorting indexes, not by comparing every pair: a
 * config may hold CFG_MAX_PEERS peers. */
struct dup_sort {
	const struct cfg_peer *peers;
	size_t i;
};

static int by_name(const void *a, const void *b)
{
	const struct dup_sort *x = a, *y = b;
	int r = strcmp(x->peers[x->i].name, y->peers[y->i].name);

	return r ? r : (x->i > y->i) - (x->i < y->i);
}

static int by_key(const void *a, const void *b)
{
	const struct dup_sort *x = a, *y = b;
	int r = memcmp(x->peers[x->i].node_key.b, y->peers[y->i].node_key.b, KEY_LEN);

	return r ? r : (x->i > y->i) - (x->i < y->i);
}

static void dup_report(struct cfg_ctx *c, size_t later, const char *field, size_t first,
		       const char *what)
{
	/* The caller's path is at "peers". */
	cfg_push_index(c, later);
	cfg_push_key(c, field);
	cfg_error(c, CFG_AT_VALUE, "duplicate %s (also peers[%zu])", what, first);
	cfg_pop(c);
	cfg_pop(c);
}

static void peers_unique(struct cfg_ctx *c, const struct cfg_peer *peers, size_t n)
{
	struct dup_sort *s = calloc(n, sizeof(*s));
	size_t first = 0;

	if (!s) {
		c->oom = true;
		return;
	}
	for (size_t i = 0; i < n; i++)
		s[i] = (struct dup_sort){.peers = peers, .i = i};
	qsort(s, n, sizeof(*s), by_name);
	for (size_t k = 1; k < n; k++) {
		const struct cfg_peer *a = &peers[s[k - 1].i], *b = &peers[s[k].i];
		if (strcmp(a->name, b->name) != 0)
			first = k;
		else if (b->name[0])
			dup_report(c, s[k].i, "name", s[first].i, "peer name");
	}
	qsort(s, n, sizeof(*s), by_key);
	first = 0;
	for (size_t k = 1; k < n; k++) {
		const struct cfg_peer *a = &peers[s[k - 1].i], *b = &peers[s[k].i];
		if (!key_equal(&a->node_key, &b->node_key))
			first = k;
		else if (!key_is_zero(&b->node_key))
			dup_report(c, s[k].i, "node_key", s[first].i, "node key");
	}
	free(s);
}

void cfg_peers(struct cfg_ctx *c, const json_t *v, struct msock_config *cfg)
{
	size_t n = json_array_size(v);

	if (!json_is_array(v)) {
		cfg_error(c, CFG_AT_VALUE, "expected an array of peers, got %s", cfg_type_name(v));
		return;
	}
	if (n > CFG_MAX_PEERS) {
		cfg_error(c, CFG_AT_VALUE, "%zu peers; at most %d", n, CFG_MAX_PEERS);
		return;
	}
	if (n == 0)
		return;
	cfg->peers = calloc(n, sizeof(cfg->peers[0]));
	if (!cfg->peers) {
		c->oom = true;
		return;
	}
	cfg->n_peers = n;
	for (size_t i = 0; i < n; i++) {
		cfg_push_index(c, i);
		peer_read(c, json_array_get(v, i), &cfg->derp_map, &cfg->peers[i]);
		cfg_pop(c);
	}
	peers_unique(c, cfg->peers, n);
}

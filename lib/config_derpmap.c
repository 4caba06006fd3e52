/* config_derpmap: the derp_map field, in Tailscale's tailcfg.DERPMap JSON
 * (tailcfg/derpmap.go), inline or in a file the config names. Keys match as
 * Go's encoding/json matches them: exactly, else ignoring case; unknown keys
 * are ignored, as Go ignores them. */
#include "config_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum dfield_kind {
	DF_INVALID = 0,
	DF_INT,
	DF_BOOL,
	DF_STR,
	DF_IPV4, /* "", "none" or an IPv4 literal */
	DF_IPV6, /* "", "none" or an IPv6 literal */
	DF_IP,	 /* "" or either */
};

/* A field of a region or node: where it goes and what it may hold. */
struct dfield {
	const char *name;
	enum dfield_kind kind;
	size_t off;
	size_t cap; /* strings */
	long long min, max;
};

#define NODE_F(f)   offsetof(struct cfg_derp_node, f)
#define REGION_F(f) offsetof(struct cfg_derp_region, f)

static const struct dfield node_fields[] = {
	{"Name", DF_STR, NODE_F(name), CFG_NAME_MAX, 0, 0},
	{"RegionID", DF_INT, NODE_F(region_id), 0, 1, INT_MAX},
	{"HostName", DF_STR, NODE_F(host_name), CFG_HOST_MAX, 0, 0},
	{"CertName", DF_STR, NODE_F(cert_name), CFG_HOST_MAX, 0, 0},
	{"IPv4", DF_IPV4, NODE_F(ipv4), CFG_NAME_MAX, 0, 0},
	{"IPv6", DF_IPV6, NODE_F(ipv6), CFG_NAME_MAX, 0, 0},
	{"STUNPort", DF_INT, NODE_F(stun_port), 0, -1, 65535}, /* -1: no STUN */
	{"STUNOnly", DF_BOOL, NODE_F(stun_only), 0, 0, 0},
	{"DERPPort", DF_INT, NODE_F(derp_port), 0, 0, 65535},
	{"InsecureForTests", DF_BOOL, NODE_F(insecure_for_tests), 0, 0, 0},
	{"STUNTestIP", DF_IP, NODE_F(stun_test_ip), CFG_NAME_MAX, 0, 0},
	{"CanPort80", DF_BOOL, NODE_F(can_port80), 0, 0, 0},
};

static const struct dfield region_fields[] = {
	{"RegionID", DF_INT, REGION_F(region_id), 0, 1, INT_MAX},
	{"RegionCode", DF_STR, REGION_F(region_code), CFG_NAME_MAX, 0, 0},
	{"RegionName", DF_STR, REGION_F(region_name), CFG_NAME_MAX, 0, 0},
	{"Avoid", DF_BOOL, REGION_F(avoid), 0, 0, 0},
	{"NoMeasureNoHome", DF_BOOL, REGION_F(no_measure_no_home), 0, 0, 0},
};

/* Go's encoding/json: an exact match first, else one ignoring case. */
static const struct dfield *dfield_find(const struct dfield *f, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(f[i].name, key) == 0)
			return &f[i];
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(f[i].name, key) == 0)
			return &f[i];
	return NULL;
}

static bool ip_ok(enum dfield_kind kind, const char *s)
{
	uint8_t buf[16];

	if (!s[0])
		return true;
	if (kind != DF_IP && strcmp(s, "none") == 0)
		return true;
	if (kind != DF_IPV6 && inet_pton(AF_INET, s, buf) == 1)
		return true;
	return kind != DF_IPV4 && inet_pton(AF_INET6, s, buf) == 1;
}

static const char *ip_expected(enum dfield_kind kind)
{
	switch (kind) {
	case DF_IPV4:
		return "expected an IPv4 address such as 192.0.2.1, \"none\" or \"\"";
	case DF_IPV6:
		return "expected an IPv6 address such as 2001:db8::1, \"none\" or \"\"";
	default:
		return "expected an IP address such as 192.0.2.1 or \"\"";
	}
}

static void dfield_set(struct cfg_ctx *c, const struct dfield *f, const json_t *v, void *obj)
{
	char *p = (char *)obj + f->off;

	switch (f->kind) {
	case DF_INT:
		cfg_int(c, v, f->min, f->max, (int *)(void *)p);
		break;
	case DF_BOOL:
		cfg_bool(c, v, (bool *)(void *)p);
		break;
	case DF_STR:
		cfg_str(c, v, p, f->cap);
		break;
	case DF_IPV4:
	case DF_IPV6:
	case DF_IP:
		if (cfg_str(c, v, p, f->cap) == 0 && !ip_ok(f->kind, p))
			cfg_error(c, CFG_AT_VALUE, "%s", ip_expected(f->kind));
		break;
	default:
		abort();
	}
}

/* Sets every known field of obj from the JSON object v; null leaves a field
 * at zero, as in Go. */
static void dfields_read(struct cfg_ctx *c, const json_t *v, const struct dfield *f, size_t n,
			 void *obj)
{
	const char *key;
	json_t *val;

	json_object_foreach ((json_t *)v, key, val) {
		const struct dfield *df = dfield_find(f, n, key);
		if (!df || json_is_null(val))
			continue;
		cfg_push_key(c, key);
		dfield_set(c, df, val, obj);
		cfg_pop(c);
	}
}

/* The key of the member that sets field `name` (the last one, ignoring
 * case, as Go decodes), or NULL when none does. */
static const char *member_key(const json_t *obj, const char *name)
{
	const char *key, *found = NULL;
	json_t *val;

	json_object_foreach ((json_t *)obj, key, val) {
		if (strcasecmp(key, name) == 0 && !json_is_null(val))
			found = key;
	}
	return found;
}

/* A field that must be set; one that is set but wrong is already reported. */
static void required(struct cfg_ctx *c, const json_t *obj, const char *name, const char *what)
{
	const char *key = member_key(obj, name);

	if (key && !json_is_string(json_object_get(obj, key)))
		return;
	if (key && json_string_length(json_object_get(obj, key)) > 0)
		return;
	cfg_push_key(c, key ? key : name);
	cfg_error(c, CFG_AT_VALUE, "%s", what);
	cfg_pop(c);
}

static void node_check(struct cfg_ctx *c, const json_t *v, const struct cfg_derp_node *n,
		       int region_id)
{
	const char *id_key = member_key(v, "RegionID");

	if (!id_key) {
		cfg_push_key(c, "RegionID");
		cfg_error(c, CFG_AT_VALUE, "missing; it must be its region's RegionID (%d)",
			  region_id);
		cfg_pop(c);
	} else if (n->region_id != 0 && n->region_id != region_id) {
		cfg_push_key(c, id_key);
		cfg_error(c, CFG_AT_VALUE, "%d does not match its region's RegionID %d",
			  n->region_id, region_id);
		cfg_pop(c);
	}
	required(c, v, "HostName", "required: the DERP node's host name");
}

static void nodes_read(struct cfg_ctx *c, const json_t *v, struct cfg_derp_region *r)
{
	size_t n = json_array_size(v);

	if (!json_is_array(v)) {
		cfg_error(c, CFG_AT_VALUE, "expected an array of nodes, got %s", cfg_type_name(v));
		return;
	}
	if (n > CFG_MAX_NODES_PER_REGION) {
		cfg_error(c, CFG_AT_VALUE, "%zu nodes; at most %d", n, CFG_MAX_NODES_PER_REGION);
		return;
	}
	if (n == 0)
		return;
	r->nodes = calloc(n, sizeof(r->nodes[0]));
	if (!r->nodes) {
		c->oom = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *nv = json_array_get(v, i);
		cfg_push_index(c, i);
		if (!json_is_object(nv)) {
			cfg_error(c, CFG_AT_VALUE, "expected a node object, got %s",
				  cfg_type_name(nv));
		} else {
			dfields_read(c, nv, node_fields,
				     sizeof(node_fields) / sizeof(node_fields[0]), &r->nodes[i]);
			if (r->region_id > 0)
				node_check(c, nv, &r->nodes[i], r->region_id);
		}
		cfg_pop(c);
	}
	r->n_nodes = n;
}

/* Tailscale keys Regions by RegionID; the key must be that number, written
 * as Go writes it. */
static bool key_is(const char *key, int id)
{
	char want[16];

	snprintf(want, sizeof(want), "%d", id);
	return strcmp(key, want) == 0;
}

static void region_read(struct cfg_ctx *c, const char *key, const json_t *v,
			struct cfg_derp_region *r)
{
	const char *id_key, *nodes_key;

	if (!json_is_object(v)) {
		cfg_error(c, CFG_AT_VALUE, "expected a region object, got %s", cfg_type_name(v));
		return;
	}
	dfields_read(c, v, region_fields, sizeof(region_fields) / sizeof(region_fields[0]), r);
	id_key = member_key(v, "RegionID");
	cfg_push_key(c, id_key ? id_key : "RegionID");
	if (!id_key)
		cfg_error(c, CFG_AT_VALUE, "missing; it must equal the region's key \"%s\"", key);
	else if (r->region_id > 0 && !key_is(key, r->region_id))
		cfg_error(c, CFG_AT_VALUE, "RegionID %d does not match its key \"%s\" in Regions",
			  r->region_id, key);
	cfg_pop(c);
	nodes_key = member_key(v, "Nodes");
	if (nodes_key) {
		cfg_push_key(c, nodes_key);
		nodes_read(c, json_object_get(v, nodes_key), r);
		cfg_pop(c);
	}
}

static int region_cmp(const void *a, const void *b)
{
	const struct cfg_derp_region *x = a, *y = b;

	return (x->region_id > y->region_id) - (x->region_id < y->region_id);
}

static void regions_read(struct cfg_ctx *c, const json_t *v, struct cfg_derp_map *m)
{
	size_t n = json_object_size(v), i = 0;
	const char *key;
	json_t *rv;

	if (!json_is_object(v)) {
		cfg_error(c, CFG_AT_VALUE, "expected an object of regions by RegionID, got %s",
			  cfg_type_name(v));
		return;
	}
	if (n > CFG_MAX_REGIONS) {
		cfg_error(c, CFG_AT_VALUE, "%zu regions; at most %d", n, CFG_MAX_REGIONS);
		return;
	}
	if (n == 0)
		return;
	m->regions = calloc(n, sizeof(m->regions[0]));
	if (!m->regions) {
		c->oom = true;
		return;
	}
	json_object_foreach ((json_t *)v, key, rv) {
		cfg_push_key(c, key);
		region_read(c, key, rv, &m->regions[i++]);
		cfg_pop(c);
	}
	m->n_regions = n;
	qsort(m->regions, n, sizeof(m->regions[0]), region_cmp);
}

/* HomeParams.RegionScore: {"<RegionID>": score}. Go decodes the keys as
 * ints and the values as float64 (null: 0, which Tailscale ignores). A
 * score for a region the map lacks scores nothing: Tailscale looks scores
 * up by the regions it measured. Read after Regions, wherever it stands. */
static void scores_read(struct cfg_ctx *c, const json_t *v, struct cfg_derp_map *m)
{
	const char *key;
	json_t *val;

	if (!json_is_object(v)) {
		cfg_error(c, CFG_AT_VALUE, "expected an object of scores by RegionID, got %s",
			  cfg_type_name(v));
		return;
	}
	json_object_foreach ((json_t *)v, key, val) {
		char *end;
		long long id;

		cfg_push_key(c, key);
		errno = 0;
		id = strtoll(key, &end, 10);
		if (!(key[0] == '-' || key[0] == '+' || (key[0] >= '0' && key[0] <= '9')) || *end ||
		    errno || id < INT_MIN || id > INT_MAX) {
			cfg_error(c, CFG_AT_KEY, "expected a RegionID (an integer) as the key");
		} else if (!json_is_null(val) && !json_is_number(val)) {
			cfg_error(c, CFG_AT_VALUE, "expected a number, got %s", cfg_type_name(val));
		} else {
			for (size_t i = 0; i < m->n_regions; i++)
				if (m->regions[i].region_id == id)
					m->regions[i].home_score =
						json_is_null(val) ? 0 : json_number_value(val);
		}
		cfg_pop(c);
	}
}

static void home_params_read(struct cfg_ctx *c, const json_t *v, struct cfg_derp_map *m)
{
	const char *key;

	if (!json_is_object(v)) {
		cfg_error(c, CFG_AT_VALUE, "expected an object (DERPHomeParams), got %s",
			  cfg_type_name(v));
		return;
	}
	key = member_key(v, "RegionScore");
	if (key) {
		cfg_push_key(c, key);
		scores_read(c, json_object_get(v, key), m);
		cfg_pop(c);
	}
}

static void map_read(struct cfg_ctx *c, const json_t *v, struct cfg_derp_map *m)
{
	const char *key;
	json_t *val;

	if (!json_is_object(v)) {
		cfg_error(c, CFG_AT_VALUE, "expected a DERP map object, got %s", cfg_type_name(v));
		return;
	}
	json_object_foreach ((json_t *)v, key, val) {
		if (json_is_null(val))
			continue;
		cfg_push_key(c, key);
		/* The Go field's JSON name is "omitDefaultRegions". */
		if (strcasecmp(key, "Regions") == 0)
			regions_read(c, val, m);
		else if (strcasecmp(key, "omitDefaultRegions") == 0)
			cfg_bool(c, val, &m->omit_default_regions);
		cfg_pop(c);
	}
	key = member_key(v, "HomeParams");
	if (key) {
		cfg_push_key(c, key);
		home_params_read(c, json_object_get(v, key), m);
		cfg_pop(c);
	}
}

/* A syntax error in the named file: "<file>:<line>:<col>: <jansson's text>",
 * sorted where the config names the file. */
static void sub_syntax_error(struct cfg_ctx *c, const char *name, const json_error_t *je)
{
	char text[CFG_MSG_MAX_BYTES];
	struct json_pos at = cfg_where(c, CFG_AT_VALUE);
	struct json_pos sub = {(size_t)je->line, (size_t)je->column, (size_t)je->position};

	snprintf(text, sizeof(text), "%s:%d:%d: %s", name, je->line, je->column, je->text);
	cfg_msg_add(c, &c->errors, at, sub, text);
}

static void map_read_file(struct cfg_ctx *c, const json_t *v, struct cfg_derp_map *m)
{
	char path[CFG_PATH_MAX], err[CFG_MSG_MAX_BYTES];
	struct cfg_doc saved = c->doc;
	size_t saved_base = c->base;
	json_error_t je;
	json_t *root = NULL;
	char *text = NULL;
	size_t len = 0;

	if (cfg_path(c, v, path, sizeof(path)) < 0)
		return;
	if (cfg_read_file(path, &text, &len, err, sizeof(err)) < 0) {
		cfg_error(c, CFG_AT_VALUE, "%s", err);
		goto out;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		sub_syntax_error(c, path, &je);
		goto out;
	}
	/* Messages now name the DERP map file and place in it; they sort
	 * where the config names the file. */
	c->sub_at = cfg_where(c, CFG_AT_VALUE);
	c->in_sub = true;
	c->doc = (struct cfg_doc){.text = text, .len = len, .name = path};
	c->base = c->depth;
	map_read(c, root, m);
	c->base = saved_base;
	c->doc = saved;
	c->in_sub = false;
out:
	json_decref(root);
	free(text);
}

int cfg_derp_map(struct cfg_ctx *c, const json_t *v, struct cfg_derp_map *out)
{
	size_t errs = cfg_error_count(c);

	if (json_is_string(v))
		map_read_file(c, v, out);
	else if (json_is_object(v))
		map_read(c, v, out);
	else if (!json_is_null(v))
		cfg_error(c, CFG_AT_VALUE,
			  "expected a DERP map object or the path of a file holding one, got %s",
			  cfg_type_name(v));
	return cfg_error_count(c) == errs ? 0 : -1;
}

void cfg_derp_map_free(struct cfg_derp_map *m)
{
	for (size_t i = 0; i < m->n_regions; i++)
		free(m->regions[i].nodes);
	free(m->regions);
	memset(m, 0, sizeof(*m));
}

const struct cfg_derp_region *cfg_derp_find(const struct cfg_derp_map *m, int region_id)
{
	struct cfg_derp_region key = {.region_id = region_id};

	if (m->n_regions == 0)
		return NULL;
	return bsearch(&key, m->regions, m->n_regions, sizeof(key), region_cmp);
}

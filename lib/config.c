/* config: the one JSON config file (docs/config.md): top-level fields,
 * defaults, paths, prefs and components. Peers are in config_peers.c, the
 * DERP map in config_derpmap.c, messages in config_diag.c. */
#include "config_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proctab.h"

enum {
	CFG_SUN_PATH_MAX = 108,	 /* sizeof(((struct sockaddr_un *)0)->sun_path), NUL included */
	CFG_USER_MAX_CHARS = 32, /* useradd's limit */
	CFG_COMPONENT_NAME_MAX_CHARS = 31,
	CFG_ARG_MAX_BYTES = 4096,
};

/* The longest socket made under run_dir: netcheck's packet channel
 * (lib/pktchan.c names them <run_dir>/bus/ch-<service>/pkt-<service>-
 * <up|down>.ipc, and netcheck is the longest name among derp, disco and
 * netcheck). Components reach it by a path relative to the bus directory,
 * but tools and tests from outside use this one. It was a
 * 10-letter placeholder, which let an 88-byte run_dir through: the
 * dataplane then failed on "File name too long" and restarted forever. */
#define CFG_BUS_SOCKET_SUFFIX "/bus/ch-netcheck/pkt-netcheck-down.ipc"

/* Each pref, whether what it switches on is built, and what that is. When
 * a feature lands, its flag flips here and the warning goes away. */
static const struct pref {
	const char *name;
	bool built;
	const char *what;
	size_t off;
} prefs_table[] = {
	{"only_tcp_443", false, "reaching peers only through DERP over TCP port 443",
	 offsetof(struct cfg_prefs, only_tcp_443)},
	{"silent_disco", true, "silent disco (no heartbeat pings to idle peers)",
	 offsetof(struct cfg_prefs, silent_disco)},
	{"probe_udp_lifetime", false, "probing how long NAT mappings for UDP live",
	 offsetof(struct cfg_prefs, probe_udp_lifetime)},
	{"disable_portmapper", true, "turning off the port mapper (UPnP, NAT-PMP, PCP)",
	 offsetof(struct cfg_prefs, disable_portmapper)},
	{"homeless", false, "running without a home DERP region",
	 offsetof(struct cfg_prefs, homeless)},
};

enum { N_PREFS = sizeof(prefs_table) / sizeof(prefs_table[0]) };

static void f_path(struct cfg_ctx *c, const json_t *v, struct msock_config *cfg, size_t off)
{
	cfg_path(c, v, (char *)cfg + off, CFG_PATH_MAX);
}

static void f_listen_port(struct cfg_ctx *c, const json_t *v, struct msock_config *cfg, size_t off)
{
	(void)off;
	cfg_int(c, v, 0, 65535, &cfg->listen_port);
}

static void f_wg_listen_port(struct cfg_ctx *c, const json_t *v, struct msock_config *cfg,
			     size_t off)
{
	(void)off;
	cfg_int(c, v, 1, 65535, &cfg->wg_listen_port);
}

static void f_wg_endpoint_port(struct cfg_ctx *c, const json_t *v, struct msock_config *cfg,
			       size_t off)
{
	(void)off;
	cfg_int(c, v, 0, 65535, &cfg->wg_endpoint_port);
}

static void f_home_derp(struct cfg_ctx *c, const json_t *v, struct msock_config *cfg, size_t off)
{
	(void)off;
	cfg_home_derp(c, v, &cfg->derp_map, &cfg->home_derp);
}

static void f_static_endpoints(struct cfg_ctx *c, const json_t *v, struct msock_config *cfg,
			       size_t off)
{
	(void)off;
	cfg_endpoints(c, v, cfg->static_endpoints, &cfg->n_static_endpoints);
}

static bool user_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CFG_USER_MAX_CHARS || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '-'))
			return false;
	return true;
}

static void f_user(struct cfg_ctx *c, const json_t *v, struct msock_config *cfg, size_t off)
{
	(void)off;
	if (!json_is_string(v) || !user_ok(json_string_value(v))) {
		cfg_error(
			c, CFG_AT_VALUE,
			"expected a user name matching [a-z_][a-z0-9_-]* of at most %d characters",
			CFG_USER_MAX_CHARS);
		return;
	}
	snprintf(cfg->user, sizeof(cfg->user), "%s", json_string_value(v));
}

static void f_supervise(struct cfg_ctx *c, const json_t *v, struct msock_config *cfg, size_t off)
{
	const char *s = json_string_value(v);

	(void)off;
	if (s && strcmp(s, "broker") == 0)
		cfg->supervise = CFG_SUPERVISE_BROKER;
	else if (s && strcmp(s, "external") == 0)
		cfg->supervise = CFG_SUPERVISE_EXTERNAL;
	else
		cfg_error(c, CFG_AT_VALUE,
			  "expected \"broker\" (the broker starts the components) or "
			  "\"external\" (systemd or a container runtime does), got %s",
			  s ? "another string" : cfg_type_name(v));
}

static void f_peers(struct cfg_ctx *c, const json_t *v, struct msock_config *cfg, size_t off)
{
	(void)off;
	cfg_peers(c, v, cfg);
}

static void f_prefs(struct cfg_ctx *c, const json_t *v, struct msock_config *cfg, size_t off)
{
	const char *names[N_PREFS];
	const char *key;
	json_t *val;

	(void)off;
	for (size_t i = 0; i < N_PREFS; i++)
		names[i] = prefs_table[i].name;
	if (!json_is_object(v)) {
		cfg_error(c, CFG_AT_VALUE, "expected an object of booleans, got %s",
			  cfg_type_name(v));
		return;
	}
	json_object_foreach ((json_t *)v, key, val) {
		const struct pref *p = NULL;
		for (size_t i = 0; i < N_PREFS && !p; i++)
			if (strcmp(key, prefs_table[i].name) == 0)
				p = &prefs_table[i];
		cfg_push_key(c, key);
		if (!p) {
			cfg_unknown(c, key, names, N_PREFS);
		} else if (cfg_bool(c, val, (bool *)((char *)&cfg->prefs + p->off)) == 0 &&
			   json_is_true(val) && !p->built) {
			cfg_warn(c, "accepted, but %s is not built yet; it has no effect", p->what);
		}
		cfg_pop(c);
	}
}

bool config_component_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > CFG_COMPONENT_NAME_MAX_CHARS)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '-'))
			return false;
	return true;
}

static int component_name(struct cfg_ctx *c, const json_t *v, char *out)
{
	if (!json_is_string(v) || !config_component_name_ok(json_string_value(v))) {
		cfg_error(c, CFG_AT_VALUE, "expected a name matching [a-z0-9_-]{1,%d}",
			  CFG_COMPONENT_NAME_MAX_CHARS);
		return -1;
	}
	/* config_component_name_ok bounds the length below the field's size. */
	snprintf(out, CFG_COMPONENT_NAME_MAX_CHARS + 1, "%s", json_string_value(v));
	return 0;
}

static void component_args(struct cfg_ctx *c, const json_t *v, struct cfg_component *comp)
{
	size_t n = json_array_size(v);

	if (!json_is_array(v)) {
		cfg_error(c, CFG_AT_VALUE, "expected an array of strings, got %s",
			  cfg_type_name(v));
		return;
	}
	if (n > CFG_MAX_COMPONENT_ARGS) {
		cfg_error(c, CFG_AT_VALUE, "%zu arguments; at most %d", n, CFG_MAX_COMPONENT_ARGS);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *a = json_array_get(v, i);
		cfg_push_index(c, i);
		if (!json_is_string(a))
			cfg_error(c, CFG_AT_VALUE, "expected a string, got %s", cfg_type_name(a));
		else if (json_string_length(a) > CFG_ARG_MAX_BYTES)
			cfg_error(c, CFG_AT_VALUE, "%zu bytes long; at most %d",
				  json_string_length(a), CFG_ARG_MAX_BYTES);
		else if (!(comp->args[comp->n_args++] = strdup(json_string_value(a))))
			c->oom = true;
		cfg_pop(c);
	}
}

static void component_object(struct cfg_ctx *c, const json_t *v, struct cfg_component *comp)
{
	static const char *const known[] = {"name", "program", "args"};
	bool has_name = false, has_program = false;
	const char *key;
	json_t *val;

	json_object_foreach ((json_t *)v, key, val) {
		cfg_push_key(c, key);
		if (strcmp(key, "name") == 0)
			has_name = component_name(c, val, comp->name) == 0;
		else if (strcmp(key, "program") == 0)
			has_program = component_name(c, val, comp->program) == 0;
		else if (strcmp(key, "args") == 0)
			component_args(c, val, comp);
		else
			cfg_unknown(c, key, known, sizeof(known) / sizeof(known[0]));
		cfg_pop(c);
	}
	if (!json_object_get(v, "name")) {
		cfg_push_key(c, "name");
		cfg_error(c, CFG_AT_VALUE, "required field is missing");
		cfg_pop(c);
	}
	if (has_name && !has_program)
		memcpy(comp->program, comp->name, sizeof(comp->program));
}

static void component_read(struct cfg_ctx *c, const json_t *v, struct cfg_component *comp)
{
	if (json_is_string(v)) {
		if (component_name(c, v, comp->name) == 0)
			memcpy(comp->program, comp->name, sizeof(comp->program));
	} else if (json_is_object(v)) {
		component_object(c, v, comp);
	} else {
		cfg_error(c, CFG_AT_VALUE, "expected a component name or object, got %s",
			  cfg_type_name(v));
	}
}

static void components_unique(struct cfg_ctx *c, const json_t *v, const struct msock_config *cfg)
{
	for (size_t i = 1; i < cfg->n_components; i++) {
		for (size_t j = 0; j < i; j++) {
			if (!cfg->components[i].name[0] ||
			    strcmp(cfg->components[i].name, cfg->components[j].name) != 0)
				continue;
			cfg_push_index(c, i);
			if (json_is_object(json_array_get(v, i)))
				cfg_push_key(c, "name");
			cfg_error(c, CFG_AT_VALUE,
				  "duplicate component \"%s\" (also components[%zu])",
				  cfg->components[i].name, j);
			if (json_is_object(json_array_get(v, i)))
				cfg_pop(c);
			cfg_pop(c);
			break;
		}
	}
}

static void f_components(struct cfg_ctx *c, const json_t *v, struct msock_config *cfg, size_t off)
{
	size_t n = json_array_size(v);

	(void)off;
	if (!json_is_array(v)) {
		cfg_error(c, CFG_AT_VALUE, "expected an array of components, got %s",
			  cfg_type_name(v));
		return;
	}
	if (n > CFG_MAX_COMPONENTS) {
		cfg_error(c, CFG_AT_VALUE, "%zu components; at most %d", n, CFG_MAX_COMPONENTS);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		cfg_push_index(c, i);
		component_read(c, json_array_get(v, i), &cfg->components[i]);
		cfg_pop(c);
	}
	cfg->n_components = n;
	components_unique(c, v, cfg);
}

static void f_debug(struct cfg_ctx *c, const json_t *v, struct msock_config *cfg, size_t off)
{
	(void)off;
	cfg_debug(c, v, cfg);
}

static void f_derp_map(struct cfg_ctx *c, const json_t *v, struct msock_config *cfg, size_t off)
{
	(void)off;
	c->derp_ok = cfg_derp_map(c, v, &cfg->derp_map) == 0;
}

#define PATH_FIELD(f)                                        \
	{                                                    \
#f, f_path, offsetof(struct msock_config, f) \
	}

/* derp_map comes first: home_derp fields are checked against it. */
static const struct field {
	const char *name;
	void (*fn)(struct cfg_ctx *c, const json_t *v, struct msock_config *cfg, size_t off);
	size_t off;
} fields[] = {
	{"derp_map", f_derp_map, 0},
	PATH_FIELD(private_key_file),
	PATH_FIELD(disco_key_file),
	PATH_FIELD(derp_ca_file),
	PATH_FIELD(state_dir),
	PATH_FIELD(run_dir),
	PATH_FIELD(control_socket),
	{"listen_port", f_listen_port, 0},
	{"wg_listen_port", f_wg_listen_port, 0},
	{"wg_endpoint_port", f_wg_endpoint_port, 0},
	{"home_derp", f_home_derp, 0},
	{"static_endpoints", f_static_endpoints, 0},
	{"user", f_user, 0},
	{"supervise", f_supervise, 0},
	{"peers", f_peers, 0},
	{"prefs", f_prefs, 0},
	{"components", f_components, 0},
	{"debug", f_debug, 0},
};

enum { N_FIELDS = sizeof(fields) / sizeof(fields[0]) };

static void read_fields(struct cfg_ctx *c, const json_t *root, struct msock_config *cfg)
{
	const char *names[N_FIELDS];
	const json_t *derp = json_object_get(root, "derp_map");
	const char *key;
	json_t *val;

	for (size_t i = 0; i < N_FIELDS; i++)
		names[i] = fields[i].name;
	c->derp_ok = true;
	if (derp) {
		cfg_push_key(c, "derp_map");
		f_derp_map(c, derp, cfg, 0);
		cfg_pop(c);
	}
	json_object_foreach ((json_t *)root, key, val) {
		const struct field *f = NULL;
		for (size_t i = 0; i < N_FIELDS && !f; i++)
			if (strcmp(key, fields[i].name) == 0)
				f = &fields[i];
		if (f && f->fn == f_derp_map)
			continue;
		cfg_push_key(c, key);
		if (f)
			f->fn(c, val, cfg, f->off);
		else
			cfg_unknown(c, key, names, N_FIELDS);
		cfg_pop(c);
	}
}

/* A default under a directory the user chose; too long is reported at
 * that directory's field. */
static void derive(struct cfg_ctx *c, char *out, const char *dir, const char *dir_field,
		   const char *name)
{
	if (out[0])
		return;
	if (cfg_join(out, CFG_PATH_MAX, dir, name) < 0) {
		out[0] = 0;
		cfg_push_key(c, dir_field);
		cfg_error(c, CFG_AT_VALUE, "<%s>/%s would be %zu bytes long; at most %d", dir_field,
			  name, strlen(dir) + 1 + strlen(name), CFG_PATH_MAX - 1);
		cfg_pop(c);
	}
}

static void check_sockets(struct cfg_ctx *c, const json_t *root, const struct msock_config *cfg)
{
	size_t run_len = strlen(cfg->run_dir),
	       bus_max = CFG_SUN_PATH_MAX - 1 - strlen(CFG_BUS_SOCKET_SUFFIX);

	if (run_len > bus_max) {
		cfg_push_key(c, "run_dir");
		cfg_error(
			c, CFG_AT_VALUE,
			"%zu bytes long; the bus sockets under it (<run_dir>" CFG_BUS_SOCKET_SUFFIX
			") need it to be at most %zu to fit in a %d-byte sun_path",
			run_len, bus_max, CFG_SUN_PATH_MAX);
		cfg_pop(c);
	}
	/* A derived socket path is short enough when run_dir is. */
	if (strlen(cfg->control_socket) >= CFG_SUN_PATH_MAX &&
	    json_object_get(root, "control_socket")) {
		cfg_push_key(c, "control_socket");
		cfg_error(c, CFG_AT_VALUE, "%zu bytes long; a unix socket path is at most %d",
			  strlen(cfg->control_socket), CFG_SUN_PATH_MAX - 1);
		cfg_pop(c);
	}
}

/* Supervised from outside, the broker knows each component only by its
 * row's own uid (docs/design.md, "Who is who on the bus"): one user for
 * all cannot work there. */
static void check_supervise(struct cfg_ctx *c, const json_t *root, const struct msock_config *cfg)
{
	if (cfg->supervise != CFG_SUPERVISE_EXTERNAL || !cfg->user[0] ||
	    !json_object_get(root, "supervise"))
		return;
	cfg_push_key(c, "supervise");
	cfg_error(c, CFG_AT_VALUE,
		  "\"external\" needs a user per component (the broker knows a component it "
		  "did not start by its uid): remove \"user\" and run `msockctl setup-users`");
	cfg_pop(c);
}

/* The rows of the process table started by default, in their start order. */
static void default_components(struct msock_config *cfg)
{
	size_t n;
	const struct proc *procs = proctab_all(&n);

	cfg->n_components = 0;
	for (unsigned order = 1; order <= n; order++)
		for (size_t i = 0; i < n && cfg->n_components < CFG_MAX_COMPONENTS; i++) {
			struct cfg_component *comp = &cfg->components[cfg->n_components];
			if (!procs[i].by_default || procs[i].order != order)
				continue;
			snprintf(comp->name, sizeof(comp->name), "%s", procs[i].program);
			snprintf(comp->program, sizeof(comp->program), "%s", procs[i].program);
			cfg->n_components++;
		}
}

static void finish(struct cfg_ctx *c, const json_t *root, struct msock_config *cfg)
{
	derive(c, cfg->control_socket, cfg->run_dir, "run_dir", "control.sock");
	derive(c, cfg->debug_listen, cfg->run_dir, "run_dir", "debug.sock");
	derive(c, cfg->private_key_file, cfg->state_dir, "state_dir", "node.key");
	derive(c, cfg->disco_key_file, cfg->state_dir, "state_dir", "disco.key");
	check_sockets(c, root, cfg);
	check_supervise(c, root, cfg);
	if (!json_object_get(root, "components"))
		default_components(cfg);
}

static void set_defaults(struct msock_config *cfg)
{
	cfg->listen_port = CFG_DEFAULT_LISTEN_PORT;
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", "/var/lib/msock");
	snprintf(cfg->run_dir, sizeof(cfg->run_dir), "%s", "/run/msock");
	cfg->user[0] = 0; /* a user per component (lib/proctab.c) */
}

static void plain_error(struct cfg_ctx *c, const char *text)
{
	struct json_pos zero = {0, 0, 0};

	cfg_msg_add(c, &c->errors, zero, zero, text);
}

static void parse_root(struct cfg_ctx *c, const char *text, size_t len, struct msock_config *cfg)
{
	char msg[CFG_MSG_MAX_BYTES];
	json_error_t je;
	json_t *root;

	if (len > CFG_MAX_FILE_BYTES) {
		snprintf(msg, sizeof(msg), "%s: file is %zu bytes, more than the %d-byte limit",
			 c->doc.name, len, CFG_MAX_FILE_BYTES);
		plain_error(c, msg);
		return;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		struct json_pos at = {(size_t)je.line, (size_t)je.column, (size_t)je.position};
		struct json_pos zero = {0, 0, 0};
		snprintf(msg, sizeof(msg), "%s:%d:%d: %s", c->doc.name, je.line, je.column,
			 je.text);
		cfg_msg_add(c, &c->errors, at, zero, msg);
		return;
	}
	if (!json_is_object(root)) {
		cfg_error(c, CFG_AT_VALUE, "expected an object at the top level, got %s",
			  cfg_type_name(root));
	} else {
		read_fields(c, root, cfg);
		finish(c, root, cfg);
	}
	json_decref(root);
}

static struct msock_config *parse_at(const char *text, size_t len, const char *name,
				     const char *base_dir, struct cfg_diag *diag)
{
	struct cfg_ctx c;
	struct msock_config *cfg;

	memset(&c, 0, sizeof(c));
	if (diag)
		memset(diag, 0, sizeof(*diag));
	c.doc = (struct cfg_doc){.text = text ? text : "", .len = text ? len : 0, .name = name};
	snprintf(c.base_dir, sizeof(c.base_dir), "%s", base_dir);
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		c.oom = true;
		goto out;
	}
	set_defaults(cfg);
	if (snprintf(cfg->path, sizeof(cfg->path), "%s", name) >= (int)sizeof(cfg->path)) {
		char msg[CFG_MSG_MAX_BYTES];
		snprintf(msg, sizeof(msg),
			 "%.64s...: the config file's name is longer than %d bytes", name,
			 CFG_PATH_MAX - 1);
		plain_error(&c, msg);
		goto out;
	}
	parse_root(&c, c.doc.text, c.doc.len, cfg);
out:
	if (c.oom)
		plain_error(&c, "out of memory while reading the config");
	if (c.oom || cfg_error_count(&c) > 0) {
		config_free(cfg);
		cfg = NULL;
	}
	cfg_finish(&c, diag);
	cfg_ctx_free(&c);
	return cfg;
}

/* The directory part of a path as given: "." when it has none. */
static void dir_of(const char *name, char *out, size_t cap)
{
	const char *slash = strrchr(name, '/');

	if (!slash)
		snprintf(out, cap, ".");
	else if (slash == name)
		snprintf(out, cap, "/");
	else
		snprintf(out, cap, "%.*s", (int)(slash - name), name);
}

struct msock_config *config_parse(const char *text, size_t len, const char *name,
				  struct cfg_diag *diag)
{
	char dir[CFG_PATH_MAX];

	if (!name)
		name = "(config)";
	dir_of(name, dir, sizeof(dir));
	return parse_at(text, len, name, dir, diag);
}

struct msock_config *config_load(const char *path, struct cfg_diag *diag)
{
	char dir[CFG_PATH_MAX], real[PATH_MAX], err[CFG_MSG_MAX_BYTES];
	struct msock_config *cfg;
	char *text = NULL;
	size_t len = 0;

	if (cfg_read_file(path, &text, &len, err, sizeof(err)) < 0) {
		struct cfg_ctx c;
		struct json_pos zero = {0, 0, 0};
		memset(&c, 0, sizeof(c));
		if (diag)
			memset(diag, 0, sizeof(*diag));
		cfg_msg_add(&c, &c.errors, zero, zero, err);
		cfg_finish(&c, diag);
		cfg_ctx_free(&c);
		return NULL;
	}
	/* Relative paths in the file become absolute, so that they still
	 * hold for a process that changes directory. */
	dir_of(path, dir, sizeof(dir));
	if (realpath(dir, real) && strlen(real) < sizeof(dir))
		memcpy(dir, real, strlen(real) + 1);
	cfg = parse_at(text, len, path, dir, diag);
	free(text);
	return cfg;
}

void config_free(struct msock_config *cfg)
{
	if (!cfg)
		return;
	cfg_derp_map_free(&cfg->derp_map);
	free(cfg->peers);
	for (size_t i = 0; i < CFG_MAX_COMPONENTS; i++)
		for (size_t j = 0; j < CFG_MAX_COMPONENT_ARGS; j++)
			free(cfg->components[i].args[j]);
	free(cfg);
}

const struct cfg_peer *config_find_peer(const struct msock_config *cfg,
					const struct key32 *node_key)
{
	for (size_t i = 0; i < cfg->n_peers; i++)
		if (key_equal(&cfg->peers[i].node_key, node_key))
			return &cfg->peers[i];
	return NULL;
}

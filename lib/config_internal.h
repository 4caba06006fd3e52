/* config_internal: what lib/config*.c share and nothing else includes: the
 * parse context that collects messages with their positions, and helpers
 * that check a JSON value's type and range and report what was wrong. */
#ifndef MSOCK_CONFIG_INTERNAL_H
#define MSOCK_CONFIG_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "json_locate.h"

enum {
	CFG_PATH_DEPTH_MAX = 8, /* derp_map.Regions.<id>.Nodes[i].<field> is 6 */
	CFG_MSG_MAX_BYTES = 1024,
	CFG_FIELD_PATH_MAX_BYTES = 256,
	CFG_SUGGEST_MAX_BYTES = 64, /* longer unknown names get no "did you mean" */
};

/* One message and where it sorts: `at` is in the config file; for a message
 * about a file the config names (derp_map), `at` is where it is named and
 * `sub` the place in that file. */
struct cfg_msg {
	struct json_pos at;
	struct json_pos sub;
	size_t seq;
	char *text;
};

struct cfg_msgs {
	struct cfg_msg *v;
	size_t n;
	size_t cap;
	size_t dropped; /* past CFG_MAX_ERRORS: counted, not kept */
};

/* The document being read: the config file, or a file it names. */
struct cfg_doc {
	const char *text;
	size_t len;
	const char *name;
};

struct cfg_ctx {
	struct cfg_doc doc;
	bool in_sub;		/* doc is a file the config named */
	struct json_pos sub_at; /* where the config named it */
	/* The path of the value being read; steps before `base` belong to the
	 * config file when doc is a file it names. */
	struct json_step path[CFG_PATH_DEPTH_MAX];
	size_t depth;
	size_t base;
	char base_dir[CFG_PATH_MAX]; /* relative paths are resolved against it */
	struct cfg_msgs errors;
	struct cfg_msgs warnings;
	size_t seq;
	bool oom;
	bool derp_ok; /* the DERP map had no error, so region ids can be checked */
};

enum cfg_at {
	CFG_AT_INVALID = 0,
	CFG_AT_VALUE, /* the value at the current path (its parent if missing) */
	CFG_AT_KEY,   /* its key, for unknown fields */
};

/* config_diag.c: the path stack, messages, type checks. */
void cfg_push_key(struct cfg_ctx *c, const char *key);
void cfg_push_index(struct cfg_ctx *c, size_t i);
void cfg_pop(struct cfg_ctx *c);
void cfg_error(struct cfg_ctx *c, enum cfg_at at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void cfg_warn(struct cfg_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A message already formatted, with its sort positions. */
void cfg_msg_add(struct cfg_ctx *c, struct cfg_msgs *m, struct json_pos at, struct json_pos sub,
		 const char *text);
/* Where the current path is (its parent if it does not exist). */
struct json_pos cfg_where(struct cfg_ctx *c, enum cfg_at at);
size_t cfg_error_count(const struct cfg_ctx *c);
/* Sorts the messages into file order and moves them into diag. */
void cfg_finish(struct cfg_ctx *c, struct cfg_diag *diag);
void cfg_ctx_free(struct cfg_ctx *c);

/* "a string", "an integer", ... for "expected X, got Y". */
const char *cfg_type_name(const json_t *v);
/* Each checks the value at the current path, reports what is wrong there
 * and returns -1, or stores it and returns 0. */
int cfg_int(struct cfg_ctx *c, const json_t *v, long long min, long long max, int *out);
int cfg_bool(struct cfg_ctx *c, const json_t *v, bool *out);
int cfg_str(struct cfg_ctx *c, const json_t *v, char *out, size_t cap);
/* Reports the field at the current path as unknown, suggesting the nearest
 * of `known` if it is close. */
void cfg_unknown(struct cfg_ctx *c, const char *name, const char *const *known, size_t n_known);

/* config_file.c: reading files and resolving paths. */
int cfg_read_file(const char *path, char **text, size_t *len, char *err, size_t errcap);
/* `in` resolved against c->base_dir into out; reports and returns -1 when
 * empty or too long. */
int cfg_path(struct cfg_ctx *c, const json_t *v, char *out, size_t cap);
int cfg_join(char *out, size_t cap, const char *dir, const char *name);

/* config_derpmap.c */
int cfg_derp_map(struct cfg_ctx *c, const json_t *v, struct cfg_derp_map *out);
void cfg_derp_map_free(struct cfg_derp_map *m);
const struct cfg_derp_region *cfg_derp_find(const struct cfg_derp_map *m, int region_id);

/* config_debug.c: the "debug" object. */
void cfg_debug(struct cfg_ctx *c, const json_t *v, struct msock_config *cfg);

/* config_peers.c */
void cfg_peers(struct cfg_ctx *c, const json_t *v, struct msock_config *cfg);
/* An array of at most CFG_MAX_ENDPOINTS "ip:port" strings into OUT. */
void cfg_endpoints(struct cfg_ctx *c, const json_t *v, struct ipport *out, size_t *n_out);
/* A home_derp value: an integer >= 0 that, unless 0, names a region. */
void cfg_home_derp(struct cfg_ctx *c, const json_t *v, const struct cfg_derp_map *m, int *out);

#endif

/* config_debug: the config's "debug" object, where msock-debug serves
 * (docs/config.md, "debug"; the address rule is lib/debug_listen.c). */
#include <string.h>

#include "config_internal.h"
#include "debug_listen.h"

static bool group_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= CFG_NAME_MAX || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

void cfg_debug(struct cfg_ctx *c, const json_t *v, struct msock_config *cfg)
{
	static const char *const known[] = {"listen", "allow_public", "socket_group"};
	const json_t *listen = json_object_get(v, "listen"),
		     *pub = json_object_get(v, "allow_public"),
		     *group = json_object_get(v, "socket_group");
	const char *key;
	json_t *val;

	if (!json_is_object(v)) {
		cfg_error(c, CFG_AT_VALUE,
			  "expected an object (listen, allow_public, socket_group), got %s",
			  cfg_type_name(v));
		return;
	}
	json_object_foreach ((json_t *)v, key, val)
		if (val != listen && val != pub && val != group) {
			cfg_push_key(c, key);
			cfg_unknown(c, key, known, sizeof(known) / sizeof(known[0]));
			cfg_pop(c);
		}
	if (pub) {
		cfg_push_key(c, "allow_public");
		cfg_bool(c, pub, &cfg->debug_allow_public);
		cfg_pop(c);
	}
	if (group) {
		cfg_push_key(c, "socket_group");
		if (!json_is_string(group) || !group_name_ok(json_string_value(group)))
			cfg_error(c, CFG_AT_VALUE,
				  "expected a group name matching [a-z_][a-z0-9_-]* of at most %d "
				  "characters",
				  CFG_NAME_MAX - 1);
		else
			snprintf(cfg->debug_socket_group, sizeof(cfg->debug_socket_group), "%s",
				 json_string_value(group));
		cfg_pop(c);
	}
	if (listen) {
		struct debug_listen dl;
		char err[256];
		cfg_push_key(c, "listen");
		if (!json_is_string(listen))
			cfg_error(c, CFG_AT_VALUE,
				  "expected a unix socket path or a loopback ip:port, got %s",
				  cfg_type_name(listen));
		else if (debug_listen_parse(json_string_value(listen), cfg->debug_allow_public, &dl,
					    err, sizeof(err)) < 0)
			cfg_error(c, CFG_AT_VALUE, "%s", err);
		else
			snprintf(cfg->debug_listen, sizeof(cfg->debug_listen), "%s",
				 json_string_value(listen));
		cfg_pop(c);
	}
}

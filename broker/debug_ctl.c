/* debug_ctl: `msockctl debug SWITCH`, the runtime debug switches of
 * magicsock and tailscaled (DebugBreakDERPConns, DebugPickNewDERP,
 * DebugForcePreferDERP, SetDebugLoggingEnabled). The broker checks what it
 * can from its cache and its children (a region in the DERP map, a
 * component that runs, a level lib/log knows) and publishes one event
 * (DebugDERP, DebugLogLevel) that it alone may publish; the component
 * checks again and logs what it did or why it ignored it. */
#include "broker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.pb-c.h"

#define DEBUG_USAGE                                                                           \
	"debug break-derp | pick-new-derp | force-prefer-derp REGION (0 clears) | log-level " \
	"COMPONENT error|warn|info|debug"

/* The running child of program `program` (the first), or NULL. */
static const struct child *running_program(const struct broker *b, const char *program)
{
	for (size_t i = 0; i < b->n_children; i++)
		if (b->children[i].wanted && strcmp(b->children[i].comp.program, program) == 0 &&
		    b->children[i].sup.state == SUP_RUNNING)
			return &b->children[i];
	return 0;
}

static void count_region(void *arg, const struct state_entry *e)
{
	if (strcmp(e->topic, BUS_T_DERPMap) == 0)
		(*(size_t *)arg)++;
}

/* A DERP region id: decimal, 0..2^31-1, nothing else. */
static int parse_region(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-' || *s == '+' || strlen(s) > 10)
		return -EINVAL;
	v = strtoul(s, &end, 10);
	if (*end || v > 0x7fffffffUL)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int derp_switch(struct broker *b, const char *action, uint32_t region, const char *what,
		       char *out, size_t cap)
{
	Msock__DebugDERP ev = MSOCK__DEBUG_DERP__INIT;
	int rc;

	if (!running_program(b, "derp")) {
		snprintf(out, cap, "%s: no derp component is running (msockctl status)", what);
		return -1;
	}
	ev.action = (char *)action;
	ev.region_id = region;
	rc = broker_event_publish(b, BUS_T_DebugDERP, &ev.base);
	if (rc < 0) {
		snprintf(out, cap, "%s: %s", what, strerror(-rc));
		return -1;
	}
	return 0;
}

static int log_level(struct broker *b, const char *name, const char *level, char *out, size_t cap)
{
	Msock__DebugLogLevel ev = MSOCK__DEBUG_LOG_LEVEL__INIT;
	enum log_level l = log_level_parse(level);
	struct child *ch;
	int rc;

	if (l == LOG_LEVEL_INVALID) {
		snprintf(out, cap, "log-level: \"%.32s\" is not error, warn, info or debug", level);
		return -1;
	}
	if (strcmp(name, "broker") == 0) {
		log_info("log level %s: msockctl debug log-level", level);
		log_set_level(l);
		snprintf(out, cap, "log-level: broker logs at %s", level);
		return 0;
	}
	ch = broker_child_find(b, name);
	if (!ch || !ch->wanted) {
		snprintf(out, cap, "log-level: no component named \"%.64s\" (msockctl status)",
			 name);
		return -1;
	}
	if (ch->sup.state != SUP_RUNNING) {
		snprintf(out, cap,
			 "log-level: %s is %s, not running: it starts at the broker's "
			 "MSOCK_LOG_LEVEL",
			 name, broker_child_state_name(b, ch));
		return -1;
	}
	ev.component = (char *)name;
	ev.level = (char *)level;
	rc = broker_event_publish(b, BUS_T_DebugLogLevel, &ev.base);
	if (rc < 0) {
		snprintf(out, cap, "log-level: %s", strerror(-rc));
		return -1;
	}
	snprintf(out, cap, "log-level: %s (pid %d) logs at %s until it restarts", name,
		 (int)ch->sup.pid, level);
	return 0;
}

int broker_debug(struct broker *b, char *const *args, size_t n, char *out, size_t cap)
{
	const char *sw = n ? args[0] : "";
	uint32_t region = 0;
	char key[16];

	if (strcmp(sw, "break-derp") == 0 && n == 1) {
		if (derp_switch(b, "break", 0, sw, out, cap) < 0)
			return -1;
		snprintf(out, cap,
			 "break-derp: the derp component closes its DERP connections; "
			 "they reconnect");
		return 0;
	}
	if (strcmp(sw, "pick-new-derp") == 0 && n == 1) {
		size_t regions = 0;
		state_cache_foreach(b->cache, BUS_T_DERPMap, count_region, &regions);
		if (regions < 2) {
			snprintf(out, cap,
				 "pick-new-derp: the DERP map has %zu region%s: none other "
				 "to pick",
				 regions, regions == 1 ? "" : "s");
			return -1;
		}
		if (derp_switch(b, "pick-new", 0, sw, out, cap) < 0)
			return -1;
		snprintf(out, cap,
			 "pick-new-derp: the derp component moves home to another "
			 "region (msockctl status shows which)");
		return 0;
	}
	if (strcmp(sw, "force-prefer-derp") == 0 && n == 2) {
		if (parse_region(args[1], &region) < 0) {
			snprintf(out, cap,
				 "force-prefer-derp: \"%.32s\" is not a region id "
				 "(0..2147483647; 0 clears)",
				 args[1]);
			return -1;
		}
		snprintf(key, sizeof(key), "%u", region);
		if (region && !state_cache_get(b->cache, BUS_T_DERPMap, key)) {
			snprintf(out, cap, "force-prefer-derp: no region %u in the DERP map",
				 region);
			return -1;
		}
		if (derp_switch(b, "force-prefer", region, sw, out, cap) < 0)
			return -1;
		if (region)
			snprintf(out, cap,
				 "force-prefer-derp: region %u is home until "
				 "force-prefer-derp 0",
				 region);
		else
			snprintf(out, cap, "force-prefer-derp: cleared; home is chosen as before");
		return 0;
	}
	if (strcmp(sw, "log-level") == 0 && n == 3)
		return log_level(b, args[1], args[2], out, cap);
	snprintf(out, cap, "unknown debug switch or wrong arguments: %.32s%s; usage: " DEBUG_USAGE,
		 n ? sw : "(none)", n > 1 ? " ..." : "");
	return -1;
}

/* msock-debug: the node's debug HTTP endpoint (docs/debug.md). It reads
 * the bus's state, sets none, holds no key and no privilege; what it
 * parses is HTTP from whoever reaches its socket, which is why it is a
 * process of its own and not the broker. Start-up in the privsep order:
 * log tag -> the listening socket (unix in the run directory, or TCP on
 * loopback; debug_listen.h) and the socket's group -> sandbox -> signals ->
 * bus -> loop. Where it listens: the broker hands MSOCK_DEBUG_LISTEN (the
 * config's debug.listen), --config FILE reads it, or by hand --listen ADDR
 * [--allow-public] [--socket-group G]. */
#include <grp.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "component.h"
#include "dbg.h"
#include "dbg_server.h"
#include "debug_listen.h"
#include "log.h"

struct ctx {
	struct component comp;
	struct dbg_model model;
	struct dbg_server server;
};

static struct dbg_now now_pair(void)
{
	return (struct dbg_now){.unix_ms = (int64_t)clock_unix_ms(), .mono_ns = clock_mono_ns()};
}

static void on_state(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	struct dbg_now n = now_pair();

	if (m->kind == BUS_MSG_SNAPSHOT_BEGIN && m->topic) {
		dbg_model_forget_topic(&x->model, m->topic->name);
		return;
	}
	dbg_model_state(&x->model, m, n.unix_ms, n.mono_ns);
}

static void on_ping(void *arg, const struct bus_msg *m)
{
	struct ctx *x = arg;
	const Msock__PingRequest *p = (const Msock__PingRequest *)m->msg;

	if (p->node_key.len == 32)
		dbg_model_ping(&x->model, p->node_key.data, now_pair().unix_ms);
}

#define ROW(t, key)                                                            \
	{                                                                      \
		t, BUS_H_STATE | BUS_H_DELETED | BUS_H_SNAPSHOT, key, on_state \
	}
static const struct bus_handler handlers[] = {
	ROW(BUS_T_NodeViewsUpdate, BUS_KEY_NODE),
	ROW(BUS_T_PathChanged, BUS_KEY_NODE),
	ROW(BUS_T_DiscoPong, BUS_KEY_NODE),
	ROW(BUS_T_PathHistory, BUS_KEY_NODE),
	ROW(BUS_T_DataplanePeer, BUS_KEY_NODE),
	ROW(BUS_T_DERPMap, BUS_KEY_TEXT),
	ROW(BUS_T_SelfKeys, BUS_KEY_TEXT),
	ROW(BUS_T_NetcheckReport, BUS_KEY_TEXT),
	ROW(BUS_T_Endpoints, BUS_KEY_TEXT),
	ROW(BUS_T_HomeDERP, BUS_KEY_TEXT),
	ROW(BUS_T_DERPRegionState, BUS_KEY_TEXT),
	ROW(BUS_T_PortMapping, BUS_KEY_TEXT),
	ROW(BUS_T_PortmapProbe, BUS_KEY_TEXT),
	ROW(BUS_T_Health, BUS_KEY_TEXT),
	ROW(BUS_T_BusStats, BUS_KEY_TEXT),
	ROW(BUS_T_ConfigApplied, BUS_KEY_TEXT),
	ROW(BUS_T_ServiceState, BUS_KEY_TEXT),
	ROW(BUS_T_DataplaneState, BUS_KEY_TEXT),
	ROW(BUS_T_NetworkState, BUS_KEY_TEXT),
	ROW(BUS_T_DiscoStats, BUS_KEY_TEXT),
	{BUS_T_PingRequest, BUS_H_EVENT, BUS_KEY_TEXT, on_ping},
};
#undef ROW

static int pollitems(void *arg, zmq_pollitem_t *it, int cap)
{
	return dbg_server_pollitems(&((struct ctx *)arg)->server, it, cap);
}

static void ready(void *arg, const zmq_pollitem_t *it, int n, uint64_t now_ns)
{
	struct ctx *x = arg;
	struct dbg_now now = now_pair();

	(void)now_ns;
	dbg_server_ready(&x->server, it, n, &x->model, &now);
}

static uint64_t deadline(void *arg, uint64_t now)
{
	(void)now;
	return dbg_server_deadline(&((struct ctx *)arg)->server);
}

static void tick(void *arg, uint64_t now_ns)
{
	struct ctx *x = arg;
	struct dbg_now now = now_pair();

	(void)now_ns;
	dbg_server_tick(&x->server, &now);
}

/* Where to listen: arguments first, then what the broker handed, then
 * the config. */
struct where {
	const char *listen, *group;
	bool allow_public;
};

static int parse_args(int argc, char **argv, struct where *w)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			w->listen = argv[++i];
		else if (strcmp(argv[i], "--socket-group") == 0 && i + 1 < argc)
			w->group = argv[++i];
		else if (strcmp(argv[i], "--allow-public") == 0)
			w->allow_public = true;
		else {
			log_error("bad argument \"%s\" (known: --listen PATH|IP:PORT, "
				  "--allow-public, --socket-group GROUP)",
				  argv[i]);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct ctx x;
	struct where w = {0};
	struct debug_listen dl;
	char err[256];
	long gid = -1;
	int rc = 1;

	if (component_init(&x.comp, "debug", &argc, argv) < 0)
		return 2;
	if (x.comp.cfg) {
		w.listen = x.comp.cfg->debug_listen;
		w.group = x.comp.cfg->debug_socket_group;
		w.allow_public = x.comp.cfg->debug_allow_public;
	}
	if (getenv("MSOCK_DEBUG_LISTEN")) {
		w.listen = getenv("MSOCK_DEBUG_LISTEN");
		w.group = getenv("MSOCK_DEBUG_GROUP");
		w.allow_public = getenv("MSOCK_DEBUG_PUBLIC") &&
				 strcmp(getenv("MSOCK_DEBUG_PUBLIC"), "1") == 0;
	}
	if (parse_args(argc, argv, &w) < 0)
		return 2;
	if (!w.listen) {
		log_error("nowhere to listen: the broker hands MSOCK_DEBUG_LISTEN; by hand, pass "
			  "--listen PATH|IP:PORT or --config FILE");
		return 2;
	}
	if (debug_listen_parse(w.listen, w.allow_public, &dl, err, sizeof(err)) < 0) {
		log_error("debug.listen: %s", err);
		return 2;
	}
	if (w.group && w.group[0]) {
		struct group *g = getgrnam(w.group);
		if (!g) {
			log_error("debug.socket_group: no group \"%s\"", w.group);
			return 2;
		}
		gid = (long)g->gr_gid;
	}
	dbg_model_init(&x.model, (int64_t)clock_unix_ms());
	if (dbg_server_listen(&x.server, &dl, gid) < 0)
		return 1;
	if (component_keep_fd(&x.comp, x.server.lfd) < 0 || component_sandbox(&x.comp, 0, 0) < 0)
		goto out;
	if (x.comp.selftest) {
		rc = sandbox_selftest(x.comp.selftest);
		goto out;
	}
	if (component_signals(&x.comp) < 0 ||
	    component_connect(&x.comp, handlers, sizeof(handlers) / sizeof(handlers[0]), &x) < 0)
		goto out;
	{
		const char *subs[sizeof(handlers) / sizeof(handlers[0]) + 1];
		size_t n = 0;
		for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
			subs[n++] = handlers[i].topic;
		subs[n] = 0;
		if (component_subscribe(&x.comp, subs) < 0)
			goto out;
	}
	rc = component_run(&x.comp,
			   &(const struct component_ops){.pollitems = pollitems,
							 .ready = ready,
							 .deadline = deadline,
							 .tick = tick},
			   &x) < 0
		     ? 1
		     : 0;
out:
	component_close(&x.comp);
	dbg_server_close(&x.server);
	dbg_model_free(&x.model);
	return rc;
}

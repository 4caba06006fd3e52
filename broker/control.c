/* control: the control socket msockctl talks to (a ZeroMQ ROUTER on a unix
 * socket file, mode 0600): one ControlRequest in, one ControlReply out.
 * Commands: status (JSON: status.c), reload (with a wait: reload_wait.c), restart NAME,
 * rebind (new dataplane sockets), wg-config (per-peer WireGuard endpoints),
 * capture (a stream, not one reply: capture.c), debug SWITCH (debug_ctl.c). */
#include "broker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "control.pb-c.h"
#include "netmap.pb-c.h"
#include "state.pb-c.h"

enum {
	CONTROL_ERR_MAX = 8192,
};

int broker_control_open(struct broker *b)
{
	char addr[CFG_PATH_MAX + 8];
	/* A send to a client that has gone fails (EHOSTUNREACH) instead of
	 * vanishing: how a capture client that went away is noticed. A
	 * reply to a gone REQ fails the same way, unread either way. */
	const int mandatory = 1, hwm = BROKER_CAPTURE_QUEUE_RECORDS;
	mode_t old;
	int rc;

	b->control = bus_socket(b->zctx, ZMQ_ROUTER, BROKER_CONTROL_MAX_MSG_BYTES);
	if (!b->control || broker_zap_require(b->control, BROKER_ZAP_CONTROL) < 0 ||
	    zmq_setsockopt(b->control, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof(mandatory)) < 0 ||
	    zmq_setsockopt(b->control, ZMQ_SNDHWM, &hwm, sizeof(hwm)) < 0)
		return -1;
	snprintf(addr, sizeof(addr), "ipc://%s", b->cfg->control_socket);
	unlink(b->cfg->control_socket);
	/* Only root (the owner) may connect: 0600 from the start, no window. */
	old = umask(0077);
	rc = zmq_bind(b->control, addr);
	umask(old);
	if (rc < 0) {
		log_error("control: cannot bind %s: %s", addr, zmq_strerror(errno));
		return -1;
	}
	chmod(b->cfg->control_socket, 0600);
	return 0;
}

static void reply(struct broker *b, zmq_msg_t *id, bool ok, const char *error, const char *text)
{
	broker_control_reply(b, zmq_msg_data(id), zmq_msg_size(id), ok, error, text);
}

void broker_control_reply(struct broker *b, const void *id, size_t id_len, bool ok,
			  const char *error, const char *text)
{
	Msock__ControlReply r = MSOCK__CONTROL_REPLY__INIT;
	size_t len;
	uint8_t *buf;

	r.ok = ok;
	r.error = (char *)(error ? error : "");
	r.text = (char *)(text ? text : "");
	len = protobuf_c_message_get_packed_size(&r.base);
	buf = malloc(len ? len : 1);
	if (!buf)
		return;
	protobuf_c_message_pack(&r.base, buf);
	zmq_send(b->control, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
	zmq_send(b->control, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
	zmq_send(b->control, buf, len, ZMQ_DONTWAIT);
	free(buf);
}

struct wg_ctx {
	struct broker *b;
	char *text;
	size_t len, cap;
	size_t missing;
};

/* One line per peer: "<base64 node key> <endpoint>", peers whose endpoint
 * the dataplane has not published yet are counted in `missing`. */
static void wg_line(void *arg, const struct state_entry *e)
{
	struct wg_ctx *w = arg;
	Msock__DataplanePeer *dp;
	struct key32 k;
	char b64[KEY_TEXT_MAX], ep[ADDR_TEXT_MAX];
	struct ipport a = {0};

	if (strcmp(e->topic, BUS_T_NodeViewsUpdate) != 0)
		return;
	dp = (Msock__DataplanePeer *)broker_cached(w->b, BUS_T_DataplanePeer, e->key,
						   &msock__dataplane_peer__descriptor);
	if (!dp || !dp->local || dp->local->ip.len != 4 || dp->node_key.len != KEY_LEN) {
		w->missing++;
		if (dp)
			protobuf_c_message_free_unpacked(&dp->base, 0);
		return;
	}
	memcpy(k.b, dp->node_key.data, KEY_LEN);
	key_to_base64(&k, b64, sizeof(b64));
	a.family = AF_INET;
	memcpy(a.ip, dp->local->ip.data, 4);
	a.port = (uint16_t)dp->local->port;
	ipport_format(&a, ep, sizeof(ep));
	protobuf_c_message_free_unpacked(&dp->base, 0);
	if (w->len + 128 > w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 4096;
		char *n = realloc(w->text, cap);
		if (!n)
			return;
		w->text = n;
		w->cap = cap;
	}
	w->len += (size_t)snprintf(w->text + w->len, w->cap - w->len, "%s %s\n", b64, ep);
}

/* msockctl ping: disco pings the peer (its node key in hex) now. 0, or -1
 * with why not in err. */
static int ping(struct broker *b, const char *arg, char *err, size_t cap)
{
	Msock__PingRequest ev = MSOCK__PING_REQUEST__INIT;
	Msock__NodeViewsUpdate *up;
	uint8_t k[KEY_LEN];
	char hex[KEY_HEX_LEN + 1];
	int rc;

	if (key_hex_parse(arg, k) < 0) {
		snprintf(err, cap, "not a node key in hex");
		return -1;
	}
	key_hex_format(k, hex);
	up = (Msock__NodeViewsUpdate *)broker_cached(b, BUS_T_NodeViewsUpdate, hex,
						     &msock__node_views_update__descriptor);
	rc = !up || !up->node ? -ENOENT : up->node->disco_key.len != KEY_LEN ? -ENOKEY : 0;
	if (up)
		protobuf_c_message_free_unpacked(&up->base, 0);
	if (rc == 0) {
		ev.node_key.data = k;
		ev.node_key.len = KEY_LEN;
		rc = broker_event_publish(b, BUS_T_PingRequest, &ev.base);
	}
	/* Without a disco key the peer is WireGuard only: disco knows no
	 * key to seal a ping with, and the peer would not answer one. */
	snprintf(err, cap, "%s",
		 rc == -ENOENT	 ? "no peer with that node key"
		 : rc == -ENOKEY ? "no disco key: cannot ping"
				 : strerror(-rc));
	return rc ? -1 : 0;
}

static void handle(struct broker *b, zmq_msg_t *id, const Msock__ControlRequest *req)
{
	char err[CONTROL_ERR_MAX];

	if (strcmp(req->command, "status") == 0) {
		char *text = broker_status_json(b);
		reply(b, id, text != 0, text ? 0 : "out of memory", text);
		free(text);
	} else if (strcmp(req->command, "reload") == 0) {
		int rc;
		/* Refused before reloading: the caller asked for an answer
		 * the broker cannot give. */
		if (req->wait_ms > BROKER_RELOAD_WAIT_MAX_MS) {
			snprintf(err, sizeof(err), "wait of %u ms refused: at most %d ms",
				 req->wait_ms, BROKER_RELOAD_WAIT_MAX_MS);
			reply(b, id, false, err, 0);
			return;
		}
		if (req->wait_ms && !broker_reload_wait_free(b)) {
			snprintf(err, sizeof(err),
				 "%d reloads already wait for the components: try again later",
				 BROKER_RELOAD_WAITS);
			reply(b, id, false, err, 0);
			return;
		}
		rc = broker_reload(b, err, sizeof(err));
		if (rc == 0 && req->wait_ms)
			broker_reload_wait_start(b, zmq_msg_data(id), zmq_msg_size(id),
						 req->wait_ms, err);
		else
			reply(b, id, rc == 0, rc ? err : 0, rc ? 0 : err);
	} else if (strcmp(req->command, "restart") == 0 && req->n_args == 1) {
		int rc = broker_child_restart(b, req->args[0], err, sizeof(err));
		if (rc == 0)
			snprintf(err, sizeof(err), "restarting %s", req->args[0]);
		reply(b, id, rc == 0, rc ? err : 0, rc ? 0 : err);
	} else if (strcmp(req->command, "rebind") == 0 && req->n_args == 0) {
		int rc = broker_rebind(b, err, sizeof(err));
		if (rc == 0)
			snprintf(err, sizeof(err), "rebinding the dataplane's sockets");
		reply(b, id, rc == 0, rc ? err : 0, rc ? 0 : err);
	} else if (strcmp(req->command, "stop") == 0 && req->n_args == 0) {
		/* Answered first: the broker then stops as on SIGTERM. */
		reply(b, id, true, 0,
		      b->cfg->supervise == CFG_SUPERVISE_EXTERNAL
			      ? "stopping the broker (the components are their supervisor's)"
			      : "stopping every component, then the broker");
		broker_stop(b, "msockctl stop");
	} else if (strcmp(req->command, "ping") == 0 && req->n_args == 1) {
		int rc = ping(b, req->args[0], err, sizeof(err));
		reply(b, id, rc == 0, rc ? err : 0, rc ? 0 : "ping: sent");
	} else if (strcmp(req->command, "restun") == 0 && req->n_args == 0) {
		/* magicsock's ReSTUN: netcheck runs a new report now. */
		Msock__ReSTUN ev = MSOCK__RE_STUN__INIT;
		ev.why = "msockctl";
		int rc = broker_event_publish(b, BUS_T_ReSTUN, &ev.base);
		snprintf(err, sizeof(err), "ReSTUN: %s", rc ? strerror(-rc) : "sent");
		reply(b, id, rc == 0, rc ? err : 0, rc ? 0 : err);
	} else if (strcmp(req->command, "debug") == 0) {
		int rc = broker_debug(b, req->args, req->n_args, err, sizeof(err));
		reply(b, id, rc == 0, rc ? err : 0, rc ? 0 : err);
	} else if (strcmp(req->command, "wg-config") == 0 && req->n_args == 0) {
		struct wg_ctx w = {b, 0, 0, 0, 0};
		state_cache_foreach(b->cache, BUS_T_NodeViewsUpdate, wg_line, &w);
		if (w.missing) {
			snprintf(err, sizeof(err),
				 "%zu peer%s no endpoint yet: is the dataplane running? "
				 "(msockctl status)",
				 w.missing, w.missing == 1 ? " has" : "s have");
			reply(b, id, false, err, 0);
		} else {
			reply(b, id, true, 0, w.text ? w.text : "");
		}
		free(w.text);
	} else if (strcmp(req->command, "capture") == 0) {
		/* Answered once, then the records stream on the same id. */
		int rc = broker_capture_start(b, zmq_msg_data(id), zmq_msg_size(id), req, err,
					      sizeof(err));
		reply(b, id, rc == 0, rc ? err : 0, rc ? 0 : err);
		if (rc == 0)
			broker_capture_started(b);
	} else {
		snprintf(err, sizeof(err), "unknown command \"%.64s\" with %zu arguments",
			 req->command, req->n_args);
		reply(b, id, false, err, 0);
	}
}

void broker_on_control(struct broker *b)
{
	for (;;) {
		zmq_msg_t f[3];
		int n = 0, more = 1;
		size_t sz = sizeof(more);

		while (more) {
			if (n == 3) {
				zmq_msg_t junk;
				zmq_msg_init(&junk);
				zmq_msg_recv(&junk, b->control, 0);
				zmq_msg_close(&junk);
				n = 4;
			} else {
				zmq_msg_init(&f[n]);
				if (zmq_msg_recv(&f[n], b->control, n ? 0 : ZMQ_DONTWAIT) < 0) {
					zmq_msg_close(&f[n]);
					return;
				}
				n++;
			}
			zmq_getsockopt(b->control, ZMQ_RCVMORE, &more, &sz);
		}
		if (n == 3 && zmq_msg_size(&f[1]) == 0) {
			Msock__ControlRequest *req = msock__control_request__unpack(
				0, zmq_msg_size(&f[2]), zmq_msg_data(&f[2]));
			if (req) {
				handle(b, &f[0], req);
				msock__control_request__free_unpacked(req, 0);
			} else {
				log_rl(&b->rl_bad, b->now_ns, LOG_LEVEL_WARN,
				       "control: request does not decode as ControlRequest");
				reply(b, &f[0], false, "request does not decode as ControlRequest",
				      0);
			}
		} else {
			log_rl(&b->rl_bad, b->now_ns, LOG_LEVEL_WARN,
			       "control: dropped a malformed request (%d frames)", n);
		}
		for (int i = 0; i < (n > 3 ? 3 : n); i++)
			zmq_msg_close(&f[i]);
	}
}

/* msockctl: the command line for a running msock-broker (over its control
 * socket), for key files and for the components' users and groups. Exit
 * status: 0 ok, 1 the command failed, 2 usage or config error, 3 the
 * broker could not be reached. */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "capture_cli.h"
#include "config.h"
#include "control.pb-c.h"
#include "key.h"
#include "log.h"
#include "setup_users.h"
#include "debug_page.h"
#include "status_text.h"
#include "wg_apply.h"

enum {
	CTL_TIMEOUT_MS = 10000,			/* a reload re-reads the config: allow time */
	CTL_MAX_REPLY_BYTES = 64 * 1024 * 1024, /* status of 10,000 peers */
	NETCHECK_WAIT_MS = 15000, /* a report takes at most ~5 s (netcheck's own limit) */
	STATUS_REAL_DIGITS = 15,  /* the broker's (broker/status.c): 38.677, not 38.676999... */
	/* reload --wait: how long the broker waits for the components unless
	 * --timeout says, and the most it accepts (BROKER_RELOAD_WAIT_MAX_MS). */
	RELOAD_WAIT_DEFAULT_SEC = 10,
	RELOAD_WAIT_MAX_SEC = 60,
};

#define CTL_DEFAULT_SOCKET "/run/msock/control.sock"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: msockctl [--socket PATH | --config FILE] COMMAND [ARGS]\n"
		"\n"
		"Commands for a running broker:\n"
		"  status [--json]        components, self and peers (--json: "
		"docs/status-json.md)\n"
		"  reload [--wait [--timeout SEC]]\n"
		"                         re-read the config; publish only what changed; a bad\n"
		"                         config is rejected and the running one kept; --wait:\n"
		"                         return once every running component has applied it\n"
		"                         (at most SEC, default 10, up to 60; exit 1 naming the\n"
		"                         ones that did not)\n"
		"  restart NAME           restart a component (also clears a failed state)\n"
		"  rebind                 new UDP sockets for the dataplane (magicsock's Rebind)\n"
		"  stop                   stop every component the broker started, then the\n"
		"                         broker (as SIGTERM does)\n"
		"  wg-config [--iface I]  print the `wg set` lines that point WireGuard's peers\n"
		"                         at their local msock endpoints (I defaults to wg0)\n"
		"  wg-config --apply I    give interface I's peers those endpoints with wg(8)\n"
		"                         (as root); a peer whose endpoint changes is removed\n"
		"                         and added back with its settings (boringtun can\n"
		"                         modify no peer), so it makes a new handshake\n"
		"  ping [-c N] PEER       disco pings to PEER (its name or nodekey:) until a\n"
		"                         direct path answers, at most N (10) times (as\n"
		"                         `tailscale ping`)\n"
		"  rotate-disco-key       a new disco key (magicsock's RotateDiscoKey): written\n"
		"                         to disco_key_file, disco restarted; prints the new\n"
		"                         discokey: - peers' configs must be given it\n"
		"  netcheck [--json]      run a new network report now and print it\n"
		"                         (as `tailscale netcheck`)\n"
		"  capture [--peer PEER]... [-o FILE|-] [--pcap] [-c N]\n"
		"                         stream what the dataplane sends and receives\n"
		"                         (WireGuard, disco, STUN; UDP and DERP) as pcapng with\n"
		"                         each packet's path as a comment (--pcap: pcap) until\n"
		"                         ^C or N packets (as `tailscale debug capture`;\n"
		"                         docs/capture.md)\n"
		"  debug page [--serve [PORT]]  the debug page's URL (from --config's "
		"debug.listen);\n"
		"                         --serve: forward 127.0.0.1:PORT to its unix socket\n"
		"  debug break-derp       close every DERP connection; they reconnect\n"
		"  debug pick-new-derp    move home to another DERP region, as if the home\n"
		"                         one were lost (until netcheck's next report)\n"
		"  debug force-prefer-derp REGION\n"
		"                         make REGION home until `force-prefer-derp 0`\n"
		"  debug log-level COMPONENT LEVEL\n"
		"                         COMPONENT (a name from status, or broker) logs at\n"
		"                         LEVEL (error, warn, info, debug) from now on, no\n"
		"                         restart\n"
		"\n"
		"Key files (no broker needed):\n"
		"  keygen [--disco] FILE  write a new private key to FILE (0600, WireGuard "
		"base64)\n"
		"                         and print its nodekey: (--disco: its discokey:)\n"
		"  pubkey [--disco] FILE  print the public key of a private key file\n"
		"\n"
		"Users and groups (as root; no broker needed):\n"
		"  setup-users [--root DIR] [--dry-run] [--print-sysusers]\n"
		"                         make the components' users and groups with their\n"
		"                         fixed ids (lib/proctab.c), those missing only; --root:\n"
		"                         in DIR/etc instead of this host's; --print-sysusers:\n"
		"                         print them as a sysusers.d(5) file\n"
		"\n"
		"The control socket is --socket, else $MSOCK_SOCKET, else the control_socket of\n"
		"--config, else " CTL_DEFAULT_SOCKET ".\n");
}

static int socket_path(const char *opt_socket, const char *opt_config, char *out, size_t cap)
{
	struct cfg_diag diag = {0};
	struct msock_config *cfg;

	if (opt_socket) {
		snprintf(out, cap, "%s", opt_socket);
		return 0;
	}
	if (getenv("MSOCK_SOCKET") && *getenv("MSOCK_SOCKET")) {
		snprintf(out, cap, "%s", getenv("MSOCK_SOCKET"));
		return 0;
	}
	if (!opt_config) {
		snprintf(out, cap, "%s", CTL_DEFAULT_SOCKET);
		return 0;
	}
	cfg = config_load(opt_config, &diag);
	for (size_t i = 0; i < diag.n_errors; i++)
		fprintf(stderr, "%s\n", diag.errors[i]);
	cfg_diag_free(&diag);
	if (!cfg)
		return -EINVAL;
	snprintf(out, cap, "%s", cfg->control_socket);
	config_free(cfg);
	return 0;
}

/* Sends one request, with the reload's wait_ms (0 for any other), and
 * returns the decoded reply (caller frees) or NULL. */
static Msock__ControlReply *call_wait(const char *sock, const char *command, char **args, size_t n,
				      uint32_t wait_ms)
{
	Msock__ControlRequest req = MSOCK__CONTROL_REQUEST__INIT;
	Msock__ControlReply *rep = 0;
	void *ctx = zmq_ctx_new(), *s;
	char addr[CFG_PATH_MAX + 8];
	/* The broker answers a wait at its end: give it that long more. */
	int timeout = CTL_TIMEOUT_MS + (int)wait_ms;
	zmq_msg_t msg;
	uint8_t *buf;
	size_t len;

	s = bus_socket(ctx, ZMQ_REQ, CTL_MAX_REPLY_BYTES);
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout, sizeof(timeout));
	snprintf(addr, sizeof(addr), "ipc://%s", sock);
	req.command = (char *)command;
	req.args = args;
	req.n_args = n;
	req.wait_ms = wait_ms;
	len = msock__control_request__get_packed_size(&req);
	buf = malloc(len ? len : 1);
	zmq_msg_init(&msg);
	if (!buf || access(sock, F_OK) < 0 || zmq_connect(s, addr) < 0) {
		fprintf(stderr, "msockctl: cannot reach the broker at %s: %s\n", sock,
			strerror(errno));
		goto out;
	}
	msock__control_request__pack(&req, buf);
	if (zmq_send(s, buf, len, 0) < 0 || zmq_msg_recv(&msg, s, 0) < 0) {
		fprintf(stderr, "msockctl: no answer from the broker at %s within %d s\n", sock,
			timeout / 1000);
		goto out;
	}
	rep = msock__control_reply__unpack(0, zmq_msg_size(&msg), zmq_msg_data(&msg));
	if (!rep)
		fprintf(stderr, "msockctl: the broker's reply does not decode as ControlReply\n");
out:
	zmq_msg_close(&msg);
	free(buf);
	zmq_close(s);
	zmq_ctx_term(ctx);
	return rep;
}

static Msock__ControlReply *call(const char *sock, const char *command, char **args, size_t n)
{
	return call_wait(sock, command, args, n, 0);
}

static int cmd_broker_wait(const char *sock, const char *command, char **args, size_t n, bool json,
			   uint32_t wait_ms)
{
	Msock__ControlReply *rep = call_wait(sock, command, args, n, wait_ms);
	int rc;

	if (!rep)
		return 3;
	if (!rep->ok) {
		fprintf(stderr, "msockctl %s: %s\n", command, rep->error);
		rc = 1;
	} else if (strcmp(command, "status") == 0 && !json) {
		json_error_t e;
		json_t *st = json_loads(rep->text, 0, &e);
		if (st)
			status_text_print(st);
		else
			fprintf(stderr, "msockctl: status is not JSON: %s\n", e.text);
		json_decref(st);
		rc = st ? 0 : 1;
	} else {
		printf("%s\n", rep->text);
		rc = 0;
	}
	msock__control_reply__free_unpacked(rep, 0);
	return rc;
}

static int cmd_broker(const char *sock, const char *command, char **args, size_t n, bool json)
{
	return cmd_broker_wait(sock, command, args, n, json, 0);
}

#define RELOAD_USAGE "usage: msockctl reload [--wait [--timeout SEC (1-60)]]\n"

/* reload [--wait [--timeout SEC]]: *wait_ms 0 without --wait. 0, or 2
 * (usage) with the reason said. */
static int reload_args(int argc, char **argv, uint32_t *wait_ms)
{
	bool wait = false;
	long sec = RELOAD_WAIT_DEFAULT_SEC;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--wait") == 0 && !wait) {
			wait = true;
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			char *end;
			errno = 0;
			sec = strtol(argv[++i], &end, 10);
			if (errno || end == argv[i] || *end || argv[i][0] == '+' || sec < 1 ||
			    sec > RELOAD_WAIT_MAX_SEC) {
				fprintf(stderr,
					"msockctl reload: --timeout \"%s\": whole seconds, 1 to "
					"%d\n" RELOAD_USAGE,
					argv[i], RELOAD_WAIT_MAX_SEC);
				return 2;
			}
		} else {
			fprintf(stderr, "msockctl reload: unexpected \"%s\"\n" RELOAD_USAGE,
				argv[i]);
			return 2;
		}
	}
	/* --timeout means nothing without --wait: say so rather than reload
	 * without waiting. */
	for (int i = 0; !wait && i < argc; i++)
		if (strcmp(argv[i], "--timeout") == 0) {
			fprintf(stderr, "msockctl reload: --timeout needs --wait\n" RELOAD_USAGE);
			return 2;
		}
	*wait_ms = wait ? (uint32_t)sec * 1000 : 0;
	return 0;
}

/* The status JSON, or NULL with a message. Caller owns the result. */
static json_t *get_status(const char *sock)
{
	Msock__ControlReply *rep = call(sock, "status", 0, 0);
	json_error_t e;
	json_t *st = 0;

	if (!rep)
		return 0;
	if (!rep->ok)
		fprintf(stderr, "msockctl: status: %s\n", rep->error);
	else if (!(st = json_loads(rep->text, 0, &e)))
		fprintf(stderr, "msockctl: status is not JSON: %s\n", e.text);
	msock__control_reply__free_unpacked(rep, 0);
	return st;
}

static json_int_t report_time(const json_t *st)
{
	return json_integer_value(json_object_get(json_object_get(st, "Netcheck"), "AtUnixMs"));
}

/* Asks for a new report (ReSTUN) and waits for it, as `tailscale netcheck`
 * runs one. */
static int cmd_netcheck(const char *sock, bool json)
{
	json_t *st = get_status(sock), *comp;
	json_int_t before;
	Msock__ControlReply *rep;
	int rc = 1;

	if (!st)
		return 3;
	comp = json_object_get(json_object_get(st, "Components"), "netcheck");
	if (!comp || strcmp(status_text_jstr(comp, "State"), "running") != 0) {
		fprintf(stderr, "msockctl netcheck: the netcheck component is %s\n",
			comp ? status_text_jstr(comp, "State") : "not configured");
		json_decref(st);
		return 1;
	}
	before = report_time(st);
	json_decref(st);
	rep = call(sock, "restun", 0, 0);
	if (!rep)
		return 3;
	if (!rep->ok) {
		fprintf(stderr, "msockctl netcheck: %s\n", rep->error);
		msock__control_reply__free_unpacked(rep, 0);
		return 1;
	}
	msock__control_reply__free_unpacked(rep, 0);
	for (int i = 0; i < NETCHECK_WAIT_MS / 100; i++) {
		st = get_status(sock);
		if (!st)
			return 3;
		if (report_time(st) > before) {
			json_t *r = json_object_get(st, "Netcheck");
			if (json) {
				/* Digits as the broker prints them (broker/status.c). */
				char *text = json_dumps(
					r, JSON_INDENT(2) | JSON_SORT_KEYS |
						   JSON_REAL_PRECISION(STATUS_REAL_DIGITS));
				printf("%s\n", text ? text : "null");
				free(text);
			} else
				status_text_netcheck(r);
			json_decref(st);
			return 0;
		}
		json_decref(st);
		usleep(100 * 1000);
	}
	fprintf(stderr, "msockctl netcheck: no new report within %d s\n", NETCHECK_WAIT_MS / 1000);
	return rc;
}

/* The peer of status st named NAME or "nodekey:<hex>": its hex key (64
 * digits) in hex, its name in name; false if none. */
static bool find_peer(json_t *st, const char *want, char *hex, char *name, size_t cap)
{
	const char *k;
	json_t *p;

	json_object_foreach (json_object_get(st, "Peer"), k, p) {
		if (strcmp(status_text_jstr(p, "Name"), want) == 0 || strcmp(k, want) == 0) {
			snprintf(hex, 65, "%s", strncmp(k, "nodekey:", 8) == 0 ? k + 8 : k);
			snprintf(name, cap, "%s", status_text_jstr(p, "Name"));
			return true;
		}
	}
	return false;
}

static json_int_t pong_time(json_t *st, const char *key)
{
	return json_integer_value(json_object_get(
		json_object_get(json_object_get(json_object_get(st, "Peer"), key), "LastPong"),
		"AtUnixMs"));
}

/* tailscale ping: a disco ping each second (over DERP and to the peer's
 * endpoints) until a pong comes from a direct address. */
static int cmd_ping(const char *sock, const char *peer, int count)
{
	json_t *st = get_status(sock);
	char hex[65], name[128], key[80];
	char *args[1] = {hex};

	if (!st)
		return 3;
	if (!find_peer(st, peer, hex, name, sizeof(name))) {
		fprintf(stderr,
			"msockctl ping: no peer named \"%s\" (msockctl status lists them)\n", peer);
		json_decref(st);
		return 1;
	}
	snprintf(key, sizeof(key), "nodekey:%s", hex);
	json_int_t last = pong_time(st, key);
	json_decref(st);
	for (int i = 0; i < count; i++) {
		Msock__ControlReply *rep = call(sock, "ping", args, 1);
		bool got = false, direct = false;
		if (!rep)
			return 3;
		if (!rep->ok) {
			fprintf(stderr, "msockctl ping: %s: %s\n", name, rep->error);
			msock__control_reply__free_unpacked(rep, 0);
			return 1;
		}
		msock__control_reply__free_unpacked(rep, 0);
		for (int w = 0; w < 10 && !direct; w++) {
			usleep(100 * 1000);
			if (!(st = get_status(sock)))
				return 3;
			if (pong_time(st, key) > last) {
				json_t *pong = json_object_get(
					json_object_get(json_object_get(st, "Peer"), key),
					"LastPong");
				const char *via = status_text_jstr(pong, "Via");
				last = pong_time(st, key);
				direct = strncmp(via, "DERP(", 5) != 0;
				printf("pong from %s (%.16s...) via %s in %.0fms\n", name, key, via,
				       json_real_value(json_object_get(pong, "LatencyMs")));
				got = true;
			}
			json_decref(st);
		}
		if (direct)
			return 0;
		if (!got)
			printf("ping to %s: no pong within 1 s\n", name);
	}
	printf("no direct path to %s after %d pings\n", name, count);
	return 1;
}

/* The broker answers "<base64 key> <endpoint>" lines; --apply gives
 * IFACE's peers those endpoints (wg_apply.h: re-creating the peers whose
 * endpoint changes, as boringtun needs). */
static int cmd_wg_config(const char *sock, const char *iface, bool apply)
{
	Msock__ControlReply *rep = call(sock, "wg-config", 0, 0);
	struct wg_apply_result r;
	struct wg_want *wants = NULL;
	char *err = NULL;
	size_t n = 0;
	int rc = 1;

	if (!rep)
		return 3;
	if (!rep->ok) {
		fprintf(stderr, "msockctl wg-config: %s\n", rep->error);
		goto out;
	}
	err = malloc(WG_APPLY_ERR_MAX);
	if (!err) {
		fprintf(stderr, "msockctl: out of memory\n");
		goto out;
	}
	if (wg_wants_parse(rep->text, &wants, &n, err, WG_APPLY_ERR_MAX) < 0) {
		fprintf(stderr, "msockctl wg-config: the broker's answer, %s\n", err);
		goto out;
	}
	for (size_t i = 0; i < n && !apply; i++)
		printf("wg set %s peer %s endpoint %s\n", iface, wants[i].key_b64,
		       wants[i].endpoint_text);
	if (apply && wg_apply(iface, wants, n, &r, err, WG_APPLY_ERR_MAX) < 0) {
		fprintf(stderr, "msockctl wg-config: %s\n", err);
		goto out;
	}
	if (apply)
		printf("set the endpoints of %zu peer%s on %s (%zu re-created, %zu unchanged)\n",
		       r.peers, r.peers == 1 ? "" : "s", iface, r.recreated, r.unchanged);
	rc = 0;
out:
	free(err);
	free(wants);
	msock__control_reply__free_unpacked(rep, 0);
	return rc;
}

static int cmd_key(bool gen, bool disco, const char *file)
{
	struct key32 priv, pub;
	char err[512], text[KEY_TEXT_MAX];
	int rc;

	rc = gen ? key_generate(&priv) : key_file_read(file, &priv, err, sizeof(err));
	if (rc == 0 && gen)
		rc = key_file_write(file, &priv, err, sizeof(err));
	else if (rc < 0 && gen)
		snprintf(err, sizeof(err), "cannot generate a key: %s", strerror(-rc));
	if (rc < 0) {
		fprintf(stderr, "msockctl: %s\n", err);
		return 1;
	}
	key_public(&priv, &pub);
	key_format(disco ? KEY_KIND_DISCO_PUBLIC : KEY_KIND_NODE_PUBLIC, &pub, text, sizeof(text));
	printf("%s\n", text);
	return 0;
}

#define SETUP_USERS_USAGE \
	"usage: msockctl setup-users [--root DIR] [--dry-run] [--print-sysusers]\n"

/* Exit 1 if any entry could not be made as the table says (each said). */
static int cmd_setup_users(int argc, char **argv)
{
	struct su_opts o = {0};
	bool sysusers = false;
	int rc;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--root") == 0) {
			if (i + 1 >= argc || !*argv[i + 1]) {
				fprintf(stderr, "msockctl setup-users: --root needs a "
						"directory\n" SETUP_USERS_USAGE);
				return 2;
			}
			o.root = argv[++i];
		} else if (strcmp(argv[i], "--dry-run") == 0) {
			o.dry_run = true;
		} else if (strcmp(argv[i], "--print-sysusers") == 0) {
			sysusers = true;
		} else {
			fprintf(stderr,
				"msockctl setup-users: unknown argument \"%s\"\n" SETUP_USERS_USAGE,
				argv[i]);
			return 2;
		}
	}
	if (sysusers)
		return su_write_sysusers(stdout) < 0 ? 1 : 0;
	rc = su_apply(&o, stdout, stderr);
	if (rc > 0)
		fprintf(stderr, "msockctl setup-users: %d entr%s not as the table says (above)\n",
			rc, rc == 1 ? "y" : "ies");
	return rc == 0 ? 0 : 1;
}

/* magicsock's RotateDiscoKey: msockctl (root, outside any sandbox) writes
 * the new key beside disco_key_file and renames it over (the broker never
 * opens a private key); disco, restarted, loads it and publishes it. */
static int cmd_rotate_disco_key(const char *sock)
{
	json_t *st = get_status(sock);
	struct cfg_diag diag = {0};
	struct msock_config *cfg;
	struct key32 priv, pub;
	char err[512], tmp[CFG_PATH_MAX + 8], text[KEY_TEXT_MAX];
	char *args[1] = {"disco"};
	Msock__ControlReply *rep;
	int rc = 1;

	if (!st)
		return 3;
	cfg = config_load(status_text_jstr(st, "ConfigFile"), &diag);
	json_decref(st);
	for (size_t i = 0; i < diag.n_errors; i++)
		fprintf(stderr, "%s\n", diag.errors[i]);
	cfg_diag_free(&diag);
	if (!cfg)
		return 1;
	snprintf(tmp, sizeof(tmp), "%s.new", cfg->disco_key_file);
	unlink(tmp);
	if (key_generate(&priv) < 0 || key_file_write(tmp, &priv, err, sizeof(err)) < 0) {
		fprintf(stderr, "msockctl rotate-disco-key: %s\n", err);
		goto out;
	}
	if (rename(tmp, cfg->disco_key_file) < 0) {
		fprintf(stderr, "msockctl rotate-disco-key: rename %s: %s\n", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rep = call(sock, "restart", args, 1);
	if (!rep || !rep->ok) {
		fprintf(stderr,
			"msockctl rotate-disco-key: the key is written, but disco did not "
			"restart: %s\n",
			rep ? rep->error : "no answer");
		if (rep)
			msock__control_reply__free_unpacked(rep, 0);
		goto out;
	}
	msock__control_reply__free_unpacked(rep, 0);
	key_public(&priv, &pub);
	key_format(KEY_KIND_DISCO_PUBLIC, &pub, text, sizeof(text));
	printf("%s\n", text);
	rc = 0;
out:
	sodium_memzero(&priv, sizeof(priv));
	config_free(cfg);
	return rc;
}

int main(int argc, char **argv)
{
	const char *opt_socket = 0, *opt_config = 0;
	char sock[CFG_PATH_MAX];
	int i = 1;

	log_init("msockctl");
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
			opt_socket = argv[++i];
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			opt_config = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "msockctl: unknown option \"%s\"\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[i++];
	int rest = argc - i;
	char **args = argv + i;

	if (strcmp(cmd, "keygen") == 0 || strcmp(cmd, "pubkey") == 0) {
		bool disco = rest >= 1 && strcmp(args[0], "--disco") == 0;
		if (rest != 1 + disco) {
			fprintf(stderr, "usage: msockctl %s [--disco] FILE\n", cmd);
			return 2;
		}
		return cmd_key(strcmp(cmd, "keygen") == 0, disco, args[disco]);
	}
	if (strcmp(cmd, "setup-users") == 0)
		return cmd_setup_users(rest, args);
	if (socket_path(opt_socket, opt_config, sock, sizeof(sock)) < 0)
		return 2;
	if (strcmp(cmd, "status") == 0) {
		bool json = rest == 1 && strcmp(args[0], "--json") == 0;
		if (rest != (int)json) {
			fprintf(stderr, "usage: msockctl status [--json]\n");
			return 2;
		}
		return cmd_broker(sock, "status", 0, 0, json);
	}
	if (strcmp(cmd, "reload") == 0) {
		uint32_t wait_ms;
		int rc = reload_args(rest, args, &wait_ms);
		return rc ? rc : cmd_broker_wait(sock, "reload", 0, 0, false, wait_ms);
	}
	if (strcmp(cmd, "restart") == 0 && rest == 1)
		return cmd_broker(sock, "restart", args, 1, false);
	if (strcmp(cmd, "rebind") == 0 && rest == 0)
		return cmd_broker(sock, "rebind", 0, 0, false);
	if (strcmp(cmd, "stop") == 0 && rest == 0)
		return cmd_broker(sock, "stop", 0, 0, false);
	if (strcmp(cmd, "ping") == 0 && (rest == 1 || (rest == 3 && strcmp(args[0], "-c") == 0))) {
		int count = rest == 3 ? atoi(args[1]) : 10;
		if (count < 1 || count > 1000) {
			fprintf(stderr, "usage: msockctl ping [-c N (1-1000)] PEER\n");
			return 2;
		}
		return cmd_ping(sock, args[rest - 1], count);
	}
	if (strcmp(cmd, "rotate-disco-key") == 0 && rest == 0)
		return cmd_rotate_disco_key(sock);
	if (strcmp(cmd, "netcheck") == 0 && rest <= 1) {
		if (rest == 1 && strcmp(args[0], "--json") != 0) {
			fprintf(stderr, "usage: msockctl netcheck [--json]\n");
			return 2;
		}
		return cmd_netcheck(sock, rest == 1);
	}
	if (strcmp(cmd, "capture") == 0)
		return capture_cli(sock, rest, args, get_status);
	if (strcmp(cmd, "debug") == 0 && rest >= 1 && strcmp(args[0], "page") == 0)
		return debug_page_main(opt_config, args + 1, (size_t)rest - 1);
	if (strcmp(cmd, "debug") == 0) {
		/* The switches and how many arguments each takes; the broker
		 * checks the values. */
		static const struct {
			const char *name;
			int args;
		} sw[] = {{"break-derp", 0},
			  {"pick-new-derp", 0},
			  {"force-prefer-derp", 1},
			  {"log-level", 2}};
		for (size_t k = 0; rest >= 1 && k < sizeof(sw) / sizeof(sw[0]); k++)
			if (strcmp(args[0], sw[k].name) == 0 && rest == 1 + sw[k].args)
				return cmd_broker(sock, "debug", args, (size_t)rest, false);
		fprintf(stderr, "usage: msockctl debug page [--serve [PORT]] | break-derp | "
				"pick-new-derp | "
				"force-prefer-derp REGION | log-level COMPONENT LEVEL\n");
		return 2;
	}
	if (strcmp(cmd, "wg-config") == 0) {
		if (rest == 0)
			return cmd_wg_config(sock, "wg0", false);
		if (rest == 2 &&
		    (strcmp(args[0], "--iface") == 0 || strcmp(args[0], "--apply") == 0))
			return cmd_wg_config(sock, args[1], strcmp(args[0], "--apply") == 0);
		fprintf(stderr, "usage: msockctl wg-config [--iface IFACE | --apply IFACE]\n");
		return 2;
	}
	fprintf(stderr, "msockctl: unknown command or wrong arguments: %s\n", cmd);
	usage(stderr);
	return 2;
}

/* broker: the one context struct of the msock-broker process, and the
 * functions its files share. Files: main.c (arguments, loop), bus_proxy.c
 * (XSUB/XPUB proxy, state requests, heartbeats), children.c (spawn, reap,
 * stop), config_state.c (config -> state topics, reload), control.c
 * (msockctl requests), status.c (the status JSON), capture.c (msockctl
 * capture: the capture channel and its clients). */
#ifndef MSOCK_BROKER_H
#define MSOCK_BROKER_H

#include <jansson.h>
#include <limits.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <zmq.h>

#include "bus_topics.h"
#include "capture.h"
#include "config.h"
#include "health.h"
#include "log.h"
#include "proctab.h"
#include "state_cache.h"
#include "supervise.h"

enum {
	BROKER_MAX_CHILDREN = CFG_MAX_COMPONENTS * 2, /* room for removed ones still stopping */
	/* BrokerHeartbeat, and one per state topic: lets subscribers notice a
	 * restarted broker and a lost last update. */
	BROKER_HEARTBEAT_MS = 1000,
	BROKER_CONTROL_MAX_MSG_BYTES = 64 * 1024,
	/* Rebinds asked for by link changes: at most one per 5 s, so a
	 * flapping link cannot keep the dataplane restarting. */
	BROKER_LINK_REBIND_MIN_MS = 5000,
	BROKER_MAX_ROWS = 16, /* rows of the process table with a user of their own */
	/* msockctl reload --wait (reload_wait.c): requests waiting at once,
	 * and the longest a request may ask to wait. */
	BROKER_RELOAD_WAITS = 8,
	BROKER_RELOAD_WAIT_MAX_MS = 60000,
	BROKER_ROUTING_ID_MAX = 255, /* a ZeroMQ routing id's limit */
	/* msockctl capture (capture.c): the capture channel's receive queue
	 * and each client's send queue, in records (bounded: past them
	 * records are dropped and counted); records relayed per loop pass, so
	 * a flood of them never starves the bus; a STATS frame per client this
	 * often (also how a client that went away is noticed). */
	BROKER_CAPTURE_QUEUE_RECORDS = 1024,
	BROKER_CAPTURE_DRAIN_RECORDS = 1024,
	BROKER_CAPTURE_STATS_MS = 1000,
	/* clock-jump (health.c): CLOCK_REALTIME moved against
	 * CLOCK_MONOTONIC by at least this between two loop passes (NTP
	 * slews far less), and the warning stays this long after. */
	BROKER_CLOCK_JUMP_MIN_MS = 2000,
	BROKER_CLOCK_JUMP_SHOW_MS = 10 * 60 * 1000,
	BROKER_HEALTH_MAX_SHOWN = 1024, /* Health warnings in one status */
};

/* One `msockctl capture` on the control socket: its routing id, its
 * --peer filters, what was relayed to it and dropped because its queue was
 * full. Its index is its session slot (its bit in a record's mask). */
struct capture_client {
	bool used;
	uint8_t id[BROKER_ROUTING_ID_MAX];
	size_t id_len;
	uint8_t peers[CAPTURE_MAX_PEERS][32];
	size_t n_peers;
	uint64_t relayed, dropped;
	uint64_t started_ns;
};

struct broker_capture {
	void *pull; /* the capture channel: the dataplane's records */
	struct capture_client clients[CAPTURE_MAX_SESSIONS];
	uint64_t relayed;   /* records sent to clients */
	uint64_t refused;   /* messages from anyone but the dataplane */
	uint64_t malformed; /* records whose header does not check */
	uint64_t unrouted;  /* records for a session that has ended */
	uint64_t next_stats_ns;
	struct log_ratelimit rl;
};

/* The clock-jump detector (health.c): realtime minus monotonic, as last
 * seen, and the last jump. */
struct clock_watch {
	bool primed;
	int64_t offset_ms;
	uint64_t jumped_mono_ns; /* 0: none */
	int64_t jump_ms;	 /* > 0 forward */
	int64_t jump_at_real_ms;
};

struct child {
	struct cfg_component comp; /* args are strdup'd: the child owns them */
	const struct proc *proc;   /* comp.program's row of the process table, or NULL */
	struct sup_child sup;
	bool wanted;		 /* false: stop it and forget it (removed by reload) */
	bool restart_after_stop; /* msockctl restart of a running component */
	/* Adopted from an earlier broker (adopt.h): not our child, so no
	 * SIGCHLD; its pidfd polls readable when it exits. -1 otherwise. */
	int pidfd;
	uint64_t start_ticks; /* its /proc/<pid>/stat start time: the record's check */
	int fds[3];	      /* the broker's udp4, udp6, wg fds it was given; -1 */
	/* Who starts it: "broker", "broker (adopted)", or, supervised from
	 * outside, what its cgroup says ("systemd (msock-disco.service)",
	 * "podman", "external"). */
	char supervisor[80];
	/* The config generation it last said it applied (ConfigApplied of
	 * this broker's epoch), and when the broker heard it: it counts for
	 * the run that started before that (reload_wait.c). */
	uint64_t applied_gen;
	uint64_t applied_ns;
};

/* A `reload --wait` whose answer waits for the components
 * (reload_wait.c): the control request's routing id, the generation they
 * must reach, until when, and the reload's own answer. */
struct reload_wait {
	bool used;
	uint8_t id[BROKER_ROUTING_ID_MAX];
	size_t id_len;
	uint64_t gen;
	uint64_t deadline_ns;
	uint32_t wait_ms;
	char reloaded[CFG_PATH_MAX + 16];
};

struct bus_counters {
	uint64_t events_forwarded;
	uint64_t bad_frames; /* wrong frame count, empty or overlong fields */
	uint64_t unknown_topic;
	uint64_t bad_body;	/* does not decode as the topic's type */
	uint64_t wrong_channel; /* a state topic published as an event, or the reverse */
	uint64_t state_set, state_unchanged, state_deleted, state_refused;
	uint64_t snapshots;
	uint64_t disconnects;  /* peers libzmq dropped (also those over ZMQ_MAXMSGSIZE) */
	uint64_t unknown_peer; /* connections refused by the ZAP handler (identity.c) */
	uint64_t wrong_owner;  /* events and state requests from a sender that does not own them */
};

/* Who the components run as (identity.c, main.c's setup_user). */
enum broker_users {
	BROKER_USERS_UNPRIVILEGED = 0, /* the broker is not root: all as its user */
	BROKER_USERS_SHARED,	       /* the config's `user`, one for all */
	BROKER_USERS_PER_COMPONENT,    /* each row its own (proctab.h's .user) */
};

/* With a user per component, a program with no user of its own (a
 * config may name any bin/msock-<program>; the tests' testcomp) runs as
 * this one, in group msock too (MSOCK_BUS_GID) to reach the bus; the bus
 * knows it by the pid the broker started. */
#define BROKER_USER_NO_ROW "nobody"

/* The ZAP domains of the bus sockets and of the control socket. */
#define BROKER_ZAP_BUS	   "msock-bus"
#define BROKER_ZAP_CONTROL "msock-control"

/* A key file's identity, from stat(2) only: the broker never opens a
 * private key, but it can tell that the file was replaced or rewritten. */
struct key_stamp {
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/* The dataplane's sockets, kept by the broker (sockets.c). */
struct dp_sockets {
	int udp4, udp6, wg;	   /* -1 = not open */
	uint16_t port;		   /* udp4's port (udp6 has it too when it could) */
	uint16_t wg_port;	   /* the loopback endpoints' port */
	int cfg_port, cfg_wg_port; /* the config values they were opened for */
	bool rebind;		   /* make new ones before the next dataplane starts */
	uint64_t link_rebind_ns;   /* the last rebind a link change asked for */
};

struct broker {
	struct msock_config *cfg;
	char bin_dir[PATH_MAX];
	char bus_dir[PATH_MAX];
	enum broker_users users;
	uid_t uid; /* BROKER_USERS_SHARED: the components' user */
	gid_t gid; /* the group of the bus directory and its sockets (msock, or uid's) */
	bool drop; /* the broker is root and components drop to their users */
	struct {
		const struct proc *proc;
		uid_t uid;
		gid_t gid;
	} row_uids[BROKER_MAX_ROWS]; /* the rows' users as this system has them */
	size_t n_row_uids;
	void *zctx;
	void *xsub, *xpub, *router, *control;
	void *zap;    /* REP on inproc://zeromq.zap.01: identity.c */
	void *mon[3]; /* monitors of xsub, xpub, router: disconnects */
	int n_mon;
	struct state_cache *cache;
	struct child children[BROKER_MAX_CHILDREN];
	size_t n_children;
	int sigfd;
	bool stopping;
	uint64_t stop_deadline_ns;
	uint64_t next_heartbeat_ns;
	/* Random per broker process, never 0: in every BrokerHeartbeat and
	 * TSEQ, so that a component tells a restarted broker (an empty cache
	 * to fill again) from a resync. */
	uint64_t epoch;
	uint64_t now_ns;
	uint64_t started_ns;
	struct bus_counters ctr;
	struct log_ratelimit rl_bad;
	struct log_ratelimit rl_refused;
	struct log_ratelimit rl_health; /* malformed Health values status skips */
	struct health health;		/* the broker's own warnings (health.c) */
	struct clock_watch clock_watch;
	struct key_stamp node_key, disco_key; /* as the components last loaded them */
	struct dp_sockets dp;
	/* The config barrier (reload_wait.c): 1 after the start, one more
	 * per reload; in every BrokerHeartbeat. */
	uint64_t config_gen;
	struct reload_wait waits[BROKER_RELOAD_WAITS];
	struct broker_capture cap;
};

/* bus_proxy.c */
int broker_bus_open(struct broker *b);
void broker_bus_close(struct broker *b);
void broker_on_xsub(struct broker *b);
void broker_on_xpub(struct broker *b);
void broker_on_router(struct broker *b);
void broker_on_monitor(struct broker *b, void *mon);
/* Sets a state key as its owner (the broker) would; publishes if it changed. */
/* Publishes event TOPIC with body M to every subscriber (as a component's
 * event would be forwarded). */
int broker_event_publish(struct broker *b, const char *topic, const ProtobufCMessage *m);
int broker_state_set(struct broker *b, const char *topic, const char *key, const uint8_t *body,
		     size_t len);
/* The same with message M, packed here (config_state.c). */
int broker_state_set_msg(struct broker *b, const char *topic, const char *key,
			 const ProtobufCMessage *m);
int broker_state_del(struct broker *b, const char *topic, const char *key);
void broker_heartbeat(struct broker *b);

/* identity.c */
int broker_zap_open(struct broker *b);
/* Makes every connection to socket s pass the ZAP handler, in `domain`. */
int broker_zap_require(void *s, const char *domain);
void broker_on_zap(struct broker *b);
/* The sender of message m (a frame of a message that came in on a socket
 * with ZAP required), from the User-Id the handler gave its connection. */
void broker_sender(zmq_msg_t *m, struct bus_sender *s);
/* Looks up the users of the process table's rows on this system. */
int broker_users_setup(struct broker *b);

/* children.c */
int broker_children_sync(struct broker *b); /* start wanted, stop unwanted (after config changes) */
void broker_children_tick(struct broker *b); /* due restarts, SIGKILL deadlines */
void broker_children_reap(struct broker *b);
void broker_children_stop_all(struct broker *b);
/* SIGTERM or `msockctl stop` (`why`): stops every component it started,
 * then the broker exits; asked again, SIGKILLs them. */
void broker_stop(struct broker *b, const char *why);
bool broker_children_all_stopped(const struct broker *b);
uint64_t broker_children_next_deadline(const struct broker *b);
struct child *broker_child_find(struct broker *b, const char *name);
/* A new slot for configured component c, wanted, stopped; NULL when full. */
struct child *broker_child_add(struct broker *b, const struct cfg_component *c);
/* Its state for status and ServiceState: the supervisor's states, or,
 * supervised from outside, "waiting" (not on the bus yet), "running",
 * "exited" (its supervisor starts it again). */
const char *broker_child_state_name(const struct broker *b, const struct child *ch);
/* Publishes ch's ServiceState. */
void broker_child_publish(struct broker *b, struct child *ch);
/* Sends sig to a running child (through its pidfd when adopted). */
void broker_child_signal(struct child *ch, int sig);
/* The adopted children's pidfds to poll, into it[0..cap); returns how many. */
int broker_children_pollitems(struct broker *b, zmq_pollitem_t *it, int cap);
/* After the poll: an adopted child whose pidfd is readable has exited. */
void broker_children_on_pollitems(struct broker *b, const zmq_pollitem_t *it, int n);
const char *broker_child_user(const struct broker *b, const struct proc *p);
/* Does row p (NULL: no row) take the dataplane's UDP sockets the broker keeps? */
bool broker_takes_sockets(const struct proc *p);
int broker_child_restart(struct broker *b, const char *name, char *err, size_t errcap);
int broker_check_programs(const struct broker *b, const struct msock_config *cfg, char *err,
			  size_t errcap);
void broker_children_free(struct broker *b);

/* adopt.c (adopt.h) */
/* Writes <run_dir>/children: the running components, for the next broker. */
void broker_record_children(struct broker *b);
void broker_remove_record(struct broker *b);
/* At start-up, before the first broker_children_sync: takes over the
 * components the record names that still run; returns how many the record
 * had. */
int broker_adopt_children(struct broker *b);
int broker_proc_start_ticks(pid_t pid, uint64_t *ticks);
/* A whole small file (a record, a /proc file) into buf: its length in *len,
 * 0; -EFBIG when it fills cap; -errno. */
int broker_read_small(const char *path, char *buf, size_t cap, size_t *len);

/* external.c */
/* A connection from row p's user with pid `pid` (supervise: external): a
 * new pid is the component (re)started by its supervisor. */
void broker_external_seen(struct broker *b, const struct proc *p, pid_t pid);
/* The text of /proc/<pid>/cgroup with, on each line, the directories it
 * shares with the same hierarchy's line of `self` (the broker's own) taken
 * off the front: "0::/a/b/x.service" beside "0::/a/b/broker.service" is
 * "0::/x.service". Into out (NUL-terminated, cut to cap); returns its
 * length. */
size_t broker_cgroup_relative(const char *text, size_t len, const char *self, size_t self_len,
			      char *out, size_t cap);
/* Who runs pid: its cgroup, seen from the broker's own (above), named by
 * broker_supervisor_from_cgroup. */
void broker_supervisor_of(pid_t pid, char *out, size_t cap);
/* The supervisor named by the text of /proc/<pid>/cgroup (len bytes, NULs
 * and all): "systemd (<unit>)", "systemd" when the unit's name does not fit,
 * "podman", "docker" or "external"; cut to fit cap (> 0), NUL-terminated. */
void broker_supervisor_from_cgroup(const char *text, size_t len, char *out, size_t cap);

/* config_state.c */
int broker_publish_config(struct broker *b, const struct msock_config *cfg);
int broker_reload(struct broker *b, char *err, size_t errcap);
/* Notes the key files as they are now (at start-up). */
void broker_stamp_keys(struct broker *b);
/* A component published SelfKeys under key `owner`, its program ("derp",
 * "disco"): if that row holds a key, it has loaded (or made) the key file
 * as it is now. */
void broker_key_loaded(struct broker *b, const char *owner);

/* sockets.c */
int broker_sockets_open(struct broker *b, char *err, size_t errcap);
void broker_sockets_close(struct broker *b);
void broker_sockets_inherit(const struct broker *b); /* in the child, before exec */
/* b->dp's sockets were taken back from an adopted dataplane: notes their
 * ports, as broker_sockets_open would. */
void broker_sockets_adopted(struct broker *b);
/* msockctl rebind: new sockets, handed to a restarted dataplane. */
int broker_rebind(struct broker *b, char *err, size_t errcap);
/* A LinkChange event (its protobuf body) went through the proxy: a major
 * change rebinds, at most once per BROKER_LINK_REBIND_MIN_MS. */
void broker_on_link_change(struct broker *b, const uint8_t *body, size_t len);

/* control.c */
int broker_control_open(struct broker *b);
void broker_on_control(struct broker *b);
/* Answers the control request whose routing id is id[0..len). */
void broker_control_reply(struct broker *b, const void *id, size_t len, bool ok, const char *error,
			  const char *text);

/* reload_wait.c: msockctl reload --wait (docs/bus.md, "The config
 * barrier"). */
enum broker_wait_verdict {
	BROKER_WAIT_INVALID = 0,
	BROKER_WAIT_DONE,    /* running, and has applied the generation */
	BROKER_WAIT_PENDING, /* running without it yet, or about to start */
	BROKER_WAIT_SKIPPED, /* not running: failed, stopped, an outside one not there */
	BROKER_WAIT_GONE,    /* no longer configured (a reload removed it) */
};
/* Component ch for generation gen. */
enum broker_wait_verdict broker_wait_verdict(const struct broker *b, const struct child *ch,
					     uint64_t gen);
/* A ConfigApplied a component set under `key` (its "<program>/<name>"),
 * body[0..len) as it came (the proxy checked that it decodes): notes the
 * generation on that component when the epoch is this broker's. */
void broker_config_applied(struct broker *b, const char *key, const uint8_t *body, size_t len);
/* The answer for generation gen: into out, "applied by every running
 * component ..." (returns 0), or, when `timed_out`, which ones have not
 * (returns how many have not); either way the ones not waited for. */
size_t broker_wait_report(const struct broker *b, uint64_t gen, const char *reloaded,
			  uint32_t wait_ms, bool timed_out, char *out, size_t cap);
/* Is there room for one more waiting request? */
bool broker_reload_wait_free(const struct broker *b);
/* Holds the answer to request id until every running component has
 * applied b->config_gen or wait_ms pass (answered at once when none
 * needs to). */
void broker_reload_wait_start(struct broker *b, const void *id, size_t id_len, uint32_t wait_ms,
			      const char *reloaded);
/* Answers the waits that are complete, past their deadline, or cut short
 * by the broker stopping. */
void broker_reload_waits_tick(struct broker *b);
/* The earliest deadline of a wait, UINT64_MAX with none. */
uint64_t broker_reload_waits_deadline(const struct broker *b);

/* capture.c: msockctl capture (docs/capture.md). */
int broker_capture_open(struct broker *b);
void broker_capture_close(struct broker *b);
/* A capture request on the control socket from routing id id: takes a
 * slot for it (its args: node keys in hex to filter on). 0 with what to
 * answer in err, or -1 with why not. */
struct Msock__ControlRequest;
int broker_capture_start(struct broker *b, const void *id, size_t id_len,
			 const struct Msock__ControlRequest *req, char *err, size_t cap);
/* After the answer went out: publishes the Capture state. */
void broker_capture_started(struct broker *b);
/* The capture channel is readable: relays what waits, a bounded amount. */
void broker_on_capture(struct broker *b);
/* STATS frames when due; a client gone is dropped. */
void broker_capture_tick(struct broker *b);
uint64_t broker_capture_deadline(const struct broker *b);
/* Tells every client why the capture ends (an END frame), and forgets them. */
void broker_capture_end_all(struct broker *b, const char *why);
/* Status: "Capture". Caller owns the result. */
json_t *broker_capture_json(const struct broker *b);
/* health.c */
/* The broker's own warnings: deletes those an earlier broker left. */
void broker_health_init(struct broker *b);
/* crash-loop and clock-jump, from the children and the clocks now. */
void broker_health_tick(struct broker *b);
/* The clock-jump detector: realtime (unix ms) against monotonic (ns);
 * returns the jump in ms (> 0 forward), 0 when none (and at the first
 * call, which only notes the offset). */
int64_t broker_clock_check(struct clock_watch *w, uint64_t mono_ns, int64_t real_ms);
/* Every valid Health warning in the cache, most severe first (status's
 * Health); *ignored gets how many values were malformed (skipped, logged
 * rate-limited). Caller owns the array. */
json_t *broker_health_json(struct broker *b, uint64_t *ignored);

/* debug_ctl.c: msockctl debug SWITCH ARGS (docs/bus.md, "Debug
 * switches"): checks what the broker can and publishes the request.
 * Returns 0 with the answer in out, or -1 with why not. */
int broker_debug(struct broker *b, char *const *args, size_t n, char *out, size_t cap);

/* status.c */
/* Caller frees the returned JSON text. */
char *broker_status_json(struct broker *b);
/* The cached value of (topic, key) decoded as d, or NULL (none, or it
 * does not decode). Caller frees it with protobuf_c_message_free_unpacked. */
ProtobufCMessage *broker_cached(struct broker *b, const char *topic, const char *key,
				const ProtobufCMessageDescriptor *d);

#endif

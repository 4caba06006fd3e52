/* component: the start-up every component shares, in the order of
 * OpenBSD's privsep daemons: log tag -> (privileged opens, by the caller)
 * -> drop uid/gid + sandbox -> signals -> bus -> loop.
 *
 * The broker starts a component with this environment (docs/bus.md):
 *   MSOCK_NAME        the component's name (bus identity, log tag)
 *   MSOCK_BUS_DIR     the bus directory (ipc:// files)
 *   MSOCK_USER        the user to drop to when started as root
 *   MSOCK_BUS_GID     a group to keep beside the user's own (a program with
 *                     no user of its own needs the bus's group), or unset
 *   MSOCK_LOG_LEVEL   error|warn|info|debug
 *   MSOCK_KEEP_FDS    comma-separated fds handed over on purpose
 *   MSOCK_KEY_FILE    the private key file of the row that holds one
 *   MSOCK_CA_FILE     the CA bundle of a row that makes TLS connections
 * A component run by hand takes the same values from --name, --bus, --user.
 * Supervised from outside (systemd, a container runtime; docs/deploy.md) it
 * reads them from the config: `--config FILE` gives the bus directory
 * (<run_dir>/bus), its user (its row's own, or the config's `user`), its
 * key file and CA bundle; --name, --bus and --user still override. */
#ifndef MSOCK_COMPONENT_H
#define MSOCK_COMPONENT_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include <stdint.h>
#include <zmq.h>

#include "bus.h"
#include "config.h"
#include "pktchan.h"
#include "proctab.h"
#include "sandbox.h"

enum {
	/* The loop wakes at least this often, deadline or not. */
	COMPONENT_MAX_WAIT_MS = 1000,
	COMPONENT_MAX_POLLITEMS = 128, /* derp polls up to 64 DERP connections */
	/* Its bus counters (BusStats) are published at most this often, and
	 * only when a drop counter moved. */
	COMPONENT_STATS_MS = 5000,
	/* component_subscribe says it is still waiting for the broker after this. */
	COMPONENT_WAIT_SAY_MS = 1000,
};

struct component {
	const struct proc *proc; /* the program's row of the process table */
	char name[32];
	/* The bus directory: as given until component_sandbox, which makes it
	 * the working directory (and, as root, the root) and this ".", so that
	 * libzmq's reconnects by path work inside the chroot. */
	char bus_dir[256];
	char bus_path[256]; /* the bus directory as given, for messages */
	char user[64];
	gid_t bus_gid;		     /* MSOCK_BUS_GID, or 0 */
	char key_file[CFG_PATH_MAX]; /* MSOCK_KEY_FILE or the config's; "" */
	char ca_file[CFG_PATH_MAX];  /* MSOCK_CA_FILE or the config's; "" */
	/* --config: the config file, as loaded (NULL: started by the broker
	 * or by hand); freed by component_close. */
	struct msock_config *cfg;
	int keep_fds[SANDBOX_MAX_KEEP_FDS];
	size_t n_keep_fds;
	int sigfd;	      /* signalfd for SIGTERM, SIGINT, SIGHUP */
	const char *selftest; /* --sandbox-selftest CALL (tests) */
	struct bus *bus;      /* component_connect */
	/* Its own packet channel, for a row that connects to one (the
	 * dataplane binds all of them itself, on bus_zmq_ctx(bus)). */
	struct pktchan *chan;
	struct bus_stats stats_published; /* BusStats as last published */
	uint64_t next_stats_ns;
};

/* What makes a component itself, for component_run's loop; every member
 * may be NULL. `arg` is the component's own context. */
struct component_ops {
	/* Descriptors or sockets to poll beyond the bus, the signalfd and the
	 * packet channel: fills at most cap items, returns how many. */
	int (*pollitems)(void *arg, zmq_pollitem_t *it, int cap);
	/* Those items after the poll, in the order pollitems gave them. */
	void (*ready)(void *arg, const zmq_pollitem_t *it, int n, uint64_t now_ns);
	/* Packets may be waiting on c->chan: read them all. */
	void (*packets)(void *arg, uint64_t now_ns);
	/* When tick wants to run next (UINT64_MAX: no deadline). */
	uint64_t (*deadline)(void *arg, uint64_t now_ns);
	/* Timers, after every wake-up. */
	void (*tick)(void *arg, uint64_t now_ns);
	/* A signal arrived: true to exit (without it, every signal exits). */
	bool (*signal)(void *arg, int sig);
};

/* Finds the row of `program` (which is also the default name), reads the
 * environment and the common options (--config, --name, --bus, --user,
 * --sandbox-selftest), removing them from argv (argc updated). Sets the log
 * tag. Returns 0, or -EINVAL with a message. */
int component_init(struct component *c, const char *program, int *argc, char **argv);
/* The key file of the row p holds (its `key`) in cfg, or NULL. */
const char *component_key_file(const struct msock_config *cfg, const struct proc *p);
/* Keeps fd open through component_sandbox (as MSOCK_KEEP_FDS does);
 * -ENOSPC when too many. */
int component_keep_fd(struct component *c, int fd);
/* Changes to the bus directory, drops privileges (as root: chroot into
 * the bus directory, which holds only sockets and the channel directories)
 * and applies the sandbox of the row's profile; on failure the caller
 * exits. */
int component_sandbox(struct component *c, const int *extra, size_t n_extra);
#ifdef MSOCK_TEST_BUILD
/* lib/compromised.c: after the sandbox, tries everything the row forbids,
 * reports each on stderr, and dies of the forbidden internet socket
 * (`--sandbox-selftest compromised`, test builds only). */
void component_compromised(const struct component *c) __attribute__((noreturn));
#endif
/* Blocks SIGTERM/SIGINT/SIGHUP (before libzmq starts its threads, which
 * inherit the mask) and opens a signalfd for the poll loop. */
int component_signals(struct component *c);
/* Reads one pending signal from the signalfd; returns its number or 0. */
int component_read_signal(struct component *c);
/* After the sandbox and the signals: opens the bus, whose messages go to
 * the component's dispatch table rows[0..n) (struct bus_handler: topic,
 * what it takes, its key, the handler, called with arg; kept by the
 * caller) and, for a row of the process table that connects to a packet
 * channel, that channel, on the bus's ZeroMQ context (one per process).
 * Logs and returns -1 on failure. */
int component_connect(struct component *c, const struct bus_handler *rows, size_t n, void *arg);
/* Subscribes to each prefix of the NULL-terminated list and waits for
 * their snapshots (saying so after COMPONENT_WAIT_SAY_MS). Logs and returns
 * -1 when the broker does not answer within BUS_SNAPSHOT_TIMEOUT_MS; a
 * SIGTERM or SIGINT meanwhile exits the process (status 0). */
int component_subscribe(struct component *c, const char *const *prefixes);
/* The loop: poll (bus, signalfd, packet channel, ops->pollitems) until the
 * nearest deadline (at most COMPONENT_MAX_WAIT_MS), then signals, the
 * extra items, packets, bus messages and the tick, in that order. Returns
 * 0 on an exit signal, -errno if polling fails. */
int component_run(struct component *c, const struct component_ops *ops, void *arg);
/* Closes the channel and the bus; frees the config. */
void component_close(struct component *c);

#endif

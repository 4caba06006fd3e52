/* proctab: the process table, one row per component program (OpenBSD
 * iked's procs[]): what makes each component special, in one place. The
 * broker's spawning (broker/children.c, broker/main.c), its key handling
 * (broker/config_state.c), the bus proxy's ownership check
 * (broker/bus_proxy.c, through lib/bus_topics.c) and each component's
 * sandbox (lib/component.c) read it; docs/design.md shows it.
 *
 * A program with no row (a config may name any bin/msock-<program>) is
 * started with nothing special: no key, no fds, owner of no topic. */
#ifndef MSOCK_PROCTAB_H
#define MSOCK_PROCTAB_H

#include <stdbool.h>
#include <stddef.h>

/* The private key a component may hold; its file is opened by the
 * component itself, before its sandbox (the broker never opens a key). */
enum proc_key {
	PROC_KEY_INVALID = 0,
	PROC_KEY_NONE,
	PROC_KEY_NODE,	/* the config's private_key_file */
	PROC_KEY_DISCO, /* the config's disco_key_file */
};

/* What the broker hands a component at start, beyond the common
 * environment (lib/component.h). */
enum proc_hands {
	/* The dataplane's UDP sockets (IPv4, IPv6, the WireGuard-facing one),
	 * which the broker creates and keeps (broker/sockets.c), inherited at
	 * exec: MSOCK_UDP4_FD, MSOCK_UDP6_FD, MSOCK_WG_FD, MSOCK_KEEP_FDS. */
	PROC_HANDS_UDP_SOCKETS = 1 << 0,
	/* The path of the CA bundle that verifies DERP servers: MSOCK_CA_FILE. */
	PROC_HANDS_CA_FILE = 1 << 1,
	/* Where to serve the debug endpoint (the config's "debug"):
	 * MSOCK_DEBUG_LISTEN, MSOCK_DEBUG_PUBLIC, MSOCK_DEBUG_GROUP. */
	PROC_HANDS_DEBUG_LISTEN = 1 << 2,
};

/* Its packet channels (docs/packet-channels.md): ipc:// files in the bus
 * directory, not fds, but what item 3 of issue 15 will restrict. */
enum proc_pktchan {
	PROC_PKTCHAN_INVALID = 0,
	PROC_PKTCHAN_NONE,
	PROC_PKTCHAN_BINDS_ALL, /* binds every service's pkt-<program>-{up,down}.ipc */
	PROC_PKTCHAN_CONNECTS,	/* connects to its own pkt-<program>-{up,down}.ipc */
};

/* Every component user is also in this group, which may reach the bus's
 * sockets (the bus directory is root's, mode 0750, of this group). */
#define PROCTAB_GROUP	  "msock"
#define PROCTAB_GROUP_GID 61000u
/* The channel group of a row: PROCTAB_CH_GROUP_PREFIX + program. */
#define PROCTAB_CH_GROUP_PREFIX "msock-ch-"
/* msock-derper's user (docs/derper.md): not a component of a node, but made
 * by the same step with a fixed uid of the same range. */
#define PROCTAB_DERPER_USER "msock-derper"
#define PROCTAB_DERPER_UID  61006u

enum {
	PROCTAB_MAX_TOPICS = 8, /* per row and kind; NULL ends a shorter list */
	PROCTAB_MAX_ALLOWS = 4, /* per row's profile; a zero flag ends a shorter list */
};

/* One line of a component's seccomp profile: what it may do beyond the
 * base set of lib/sandbox.c, and why (as iked writes its pledges). */
struct proc_allow {
	unsigned flag; /* one enum sandbox_flags */
	const char *why;
};

struct proc {
	const char *program; /* runs bin/msock-<program>; the config's "program" */
	/* The user it drops to and its fixed uid (the same number in every
	 * container image and on every host; `msockctl setup-users` and
	 * deploy/sysusers.d/msock.conf make it, its primary group has the same
	 * name and number). The bus knows the component by this uid
	 * (docs/design.md, "Who is who on the bus"). NULL: none of its own; it
	 * runs as the config's `user` (or nobody) and the broker knows it only
	 * by the pid it started. A config with `user` runs every row as that
	 * one user. */
	const char *user;
	unsigned uid;
	/* Its packet channel's group, msock-ch-<program>, and fixed gid, when
	 * pktchan is PROC_PKTCHAN_CONNECTS: the channel's directory in the bus
	 * directory is the dataplane's, mode 2750, of this group; the
	 * component is its only other member. */
	unsigned ch_gid;
	/* Its seccomp profile: the base set plus these; an empty list is
	 * the base set alone (AF_UNIX sockets, no unlink). */
	struct proc_allow profile[PROCTAB_MAX_ALLOWS];
	enum proc_key key;
	unsigned hands; /* enum proc_hands */
	enum proc_pktchan pktchan;
	/* State topics it may set; the bus proxy checks them. */
	const char *states[PROCTAB_MAX_TOPICS];
	/* Event topics it publishes; not checked yet (issue 15 item 2). */
	const char *events[PROCTAB_MAX_TOPICS];
	/* Start order: 1 first. The rows with `by_default` make the default
	 * `components` (lib/config.c) in this order; a config that names its
	 * components starts them in the order it names them. */
	unsigned order;
	bool by_default;
};

/* The row of `program`, or NULL. */
const struct proc *proctab_find(const char *program);
/* All rows, for iteration; *n gets the count. */
const struct proc *proctab_all(size_t *n);
/* The enum sandbox_flags of row p's profile, for component_sandbox. */
unsigned proctab_sandbox_flags(const struct proc *p);
/* The one row that holds key k (PROC_KEY_NODE or PROC_KEY_DISCO), or NULL. */
const struct proc *proctab_key_holder(enum proc_key k);
/* Does row p list `topic` among its states (or, with event, its events)? */
bool proctab_publishes(const struct proc *p, const char *topic, bool event);
/* The one row listing state topic `topic`, or NULL (none, or several). */
const struct proc *proctab_state_owner(const char *topic);
/* Writes the name of row p's channel group ("msock-ch-<program>") into
 * buf; returns -1 if p has no channel or buf is too small. */
int proctab_ch_group(const struct proc *p, char *buf, size_t cap);

#endif

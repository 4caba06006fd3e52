/* sandbox: what every component does before it reads any input: drop to
 * the unprivileged user (umask 0007: what it binds is its group's too),
 * chroot, die with the broker, close inherited fds (except
 * those handed over on purpose), no_new_privs, no capabilities, and a
 * libseccomp allowlist that kills the process on anything else
 * (SCMP_ACT_KILL_PROCESS; in test builds SCMP_ACT_TRAP with a SIGSYS
 * handler that names the refused syscall and then dies of SIGSYS). */
#ifndef MSOCK_SANDBOX_H
#define MSOCK_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

enum {
	SANDBOX_MAX_KEEP_FDS = 32,
	SANDBOX_MAX_EXTRA_SYSCALLS = 64,
};

/* What a component needs beyond the base set (which covers glibc, libzmq
 * and protobuf-c: memory, threads, poll/epoll, AF_UNIX sockets). Which
 * component gets which, and why: the profiles in lib/proctab.c. */
enum sandbox_flags {
	SANDBOX_INET_STREAM = 1 << 0, /* socket(AF_INET or AF_INET6, SOCK_STREAM): TCP */
	SANDBOX_INET_DGRAM = 1 << 1,  /* socket(AF_INET or AF_INET6, SOCK_DGRAM): UDP */
	SANDBOX_NETLINK = 1 << 2,     /* socket(AF_NETLINK): route sockets (no row today) */
	SANDBOX_UNLINK = 1 << 3,      /* unlink: libzmq removes the ipc file it binds */
	SANDBOX_ALL_FLAGS = (1 << 4) - 1,
	/* Both: the standalone msock-derper's filter (services/derp/server/
	 * derper_sandbox.c); the components' rows list one or the other. */
	SANDBOX_INET = SANDBOX_INET_STREAM | SANDBOX_INET_DGRAM,
};

struct sandbox_spec {
	const char *name; /* for messages */
	/* Drop to this user when running as root, with the supplementary
	 * groups /etc/group gives it (initgroups: the channel groups of
	 * `msockctl setup-users`); NULL/"" = no drop. */
	const char *user;
	/* One more supplementary group (0: none): the bus's, for a program
	 * with no user of its own (docs/design.md, "Who is who on the bus"). */
	gid_t extra_gid;
	/* When running as root: chroot here (after the user and its groups are
	 * looked up, before the drop). NULL = none. Components pass "." after
	 * changing to the bus directory (docs/design.md, "Filesystem"). */
	const char *chroot_dir;
	const int *keep_fds; /* fds handed over on purpose, kept open */
	size_t n_keep_fds;
	unsigned flags;		   /* enum sandbox_flags */
	const int *extra_syscalls; /* allowed as they are, each with a reason at the caller */
	size_t n_extra_syscalls;
};

/* Applies everything above. Returns 0, or -errno with a message logged;
 * the caller must exit on error. */
int sandbox_enter(const struct sandbox_spec *spec);

/* Test hook, after sandbox_enter: make one call that may be forbidden
 * ("execve", "ptrace", "open-shadow", "af-packet", "fork", and for the
 * per-component profiles "tcp-socket", "udp-socket", "unlink" (of a file
 * that does not exist)); the filter kills the process, or the call fails
 * and this returns 0 (having printed the error), or it was allowed and
 * this returns 1. "id" prints the uid, gid and
 * capability sets and returns 0. 2: unknown call. */
int sandbox_selftest(const char *what);

#endif

/* bus_ident: who is on the other end of a bus connection, from the kernel
 * (docs/design.md, "Who is who on the bus"). libzmq reads SO_PEERCRED of
 * every ipc:// connection and appends ":<uid>:<gid>:<pid>" to the peer's
 * address, which the broker's ZAP handler (broker/identity.c) gets in the
 * Address frame of the ZAP request; it answers with a User-Id that libzmq
 * then attaches to every message of that connection. This file holds the
 * two parsers: the address, and the User-Id back into a sender. */
#ifndef MSOCK_BUS_IDENT_H
#define MSOCK_BUS_IDENT_H

#include <stddef.h>
#include <sys/types.h>

#include "bus_topics.h"

/* The User-Id of a tool running as the broker's user (or root): no
 * program name can look like it (they are [a-z0-9_]). */
#define BUS_USER_ID_ADMIN "@admin"

struct bus_peer_creds {
	uid_t uid;
	gid_t gid;
	pid_t pid;
};

/* Parses "<host>:<uid>:<gid>:<pid>" (len bytes, no NUL needed) from the
 * end, strictly: a host of at least one byte, decimal fields of 1 to 10
 * digits, no sign, each at most 2^32-1, the pid 0 to 2^31-1 (0: the peer
 * is in a pid namespace we cannot see into). Returns 0, or -1 with a reason
 * in *why. */
int bus_peer_creds_parse(const char *addr, size_t len, struct bus_peer_creds *out,
			 const char **why);

/* The sender a User-Id names: BUS_USER_ID_ADMIN, or a program (with its
 * row, if it has one). NULL or "" (no ZAP answer on that connection):
 * returns -1 and *s names no one. */
int bus_sender_from_user_id(const char *user_id, struct bus_sender *s);

#endif

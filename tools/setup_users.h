/* setup_users: `msockctl setup-users`: the users and groups of the process
 * table (lib/proctab.h) made on this host, or under a root directory, with
 * Debian's groupadd, useradd and usermod; or written out as the
 * sysusers.d(5) file deploy/sysusers.d/msock.conf. Every name and number
 * comes from the table: each row's user with its own group of the same
 * name and number, group msock, each channel group, msock-derper. */
#ifndef MSOCK_SETUP_USERS_H
#define MSOCK_SETUP_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum {
	SU_NAME_MAX = 33,   /* useradd's 32 characters and the NUL */
	SU_GECOS_MAX = 64,  /* "msock <program>" */
	SU_MAX_ENTRIES = 64 /* 3 groups + 1 user + 2 memberships per row, and room */
};

enum su_kind {
	SU_KIND_INVALID = 0,
	SU_GROUP,  /* name, id (its gid) */
	SU_USER,   /* name, id (its uid), gid (its primary group's, of the same name), gecos */
	SU_MEMBER, /* user name in supplementary group group */
};

struct su_entry {
	enum su_kind kind;
	char name[SU_NAME_MAX];
	char group[SU_NAME_MAX]; /* SU_MEMBER: the group; SU_USER: its primary group */
	unsigned id;
	unsigned gid;
	char gecos[SU_GECOS_MAX];
};

/* The entries the table asks for, in the order they must be made: groups,
 * users, memberships. Returns their count, or -ENOSPC, or -EINVAL for a
 * row that breaks proctab.h's rules (a channel without its gid). */
int su_plan(struct su_entry *out, size_t cap);

/* Writes the sysusers.d(5) file of su_plan's entries to f; 0 or -errno. */
int su_write_sysusers(FILE *f);

struct su_opts {
	const char *root; /* NULL: this host (NSS); else DIR/etc/{passwd,group} */
	bool dry_run;	  /* say what would be done, change nothing */
};

/* Looks up every entry and makes the missing ones, one line each on out
 * ("group msock (61000): created"). An entry found with another number, or
 * whose number another name holds, is left alone and reported on err, and
 * so is a command that fails; everything else is still done. Returns the
 * number of such errors (0: all there), or -errno when nothing could be
 * done (not root, a database that cannot be read), said on err. */
int su_apply(const struct su_opts *o, FILE *out, FILE *err);

#endif

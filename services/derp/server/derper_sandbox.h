/* derper_sandbox: what msock-derper does once it has bound its ports and
 * read its key, certificates and access files (docs/derper.md, "Sandbox"):
 * lib/sandbox.c's sandbox_enter, which, when started as root, chroots to
 * an empty directory and drops to an unprivileged user, and then, always,
 * takes every capability away and loads a seccomp allowlist (no new
 * internet socket but TCP to mesh peers, pread for -rate-config). After it
 * the process can open no file: what it still reads (-rate-config on
 * SIGHUP) it reads through an fd opened before. */
#ifndef MSOCK_DERPER_SANDBOX_H
#define MSOCK_DERPER_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "proctab.h"

/* -user's default (msockctl setup-users makes it), and the user taken,
 * with a warning, when that one does not exist. */
#define DERPER_SANDBOX_USER_DEFAULT   PROCTAB_DERPER_USER
#define DERPER_SANDBOX_USER_FALLBACK  "nobody"
#define DERPER_SANDBOX_CHROOT_DEFAULT "/run/msock-derper"
#define DERPER_SANDBOX_SELFTEST_ENV   "MSOCK_DERPER_SELFTEST" /* test builds only */

enum {
	DERPER_SANDBOX_MAX_FDS = 16, /* listeners, STUN, epoll, signalfd, -rate-config */
};

/* Enters the sandbox keeping fds[0..n-1] (every other fd but stdio is
 * closed). user: as -user ("" = no drop; refused when running as root);
 * chroot_dir: as -chroot ("" = none; else made 0755 if missing, and
 * refused unless root's, writable by no one else, and empty). Not root: no
 * user change and no chroot, only the rest of sandbox_enter. dials: the
 * server has mesh peers to connect to (TCP sockets allowed). Returns 0, or
 * -1 with err set (the caller exits). */
int derper_sandbox_enter(const char *user, const char *chroot_dir, const int *fds, size_t n,
			 bool dials, char *err, size_t errcap);

/* Test builds, after derper_sandbox_enter, with $MSOCK_DERPER_SELFTEST set:
 * "open" tries to open each of paths[0..n-1] and a few system files and
 * returns 0 when every open failed, 1 when one succeeded; anything else is
 * passed to sandbox_selftest ("id", "execve", ...). */
int derper_sandbox_selftest(const char *what, const char *const *paths, size_t n);

#endif

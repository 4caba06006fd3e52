/* derper_sandbox: see derper_sandbox.h.
 *
 * lib/sandbox.c's sandbox_enter does the work (close inherited fds while
 * /proc is in sight, look the user and its groups up, chroot, drop the
 * user, no capabilities, no_new_privs, seccomp); this file decides, before
 * it, what the derper's flags ask of it: which user (msock-derper, else
 * nobody with a warning; never uid 0) and whether the chroot directory is
 * safe to enter (root's, writable by no one else, empty). */
#include "derper_sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "errbuf.h"
#include "log.h"
#include "sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

/* Beyond sandbox.c's base set (accept4 on the listeners, sendto/recvfrom
 * on the STUN socket, epoll, the signalfd; socket() only for AF_UNIX). */
static const int extra_syscalls[] = {
	SYS_pread64, /* -rate-config reread from offset 0 through the fd kept open */
};

/* dir exists (made 0755 if not), is a directory of root's that no one else
 * may write to, and is empty: what the server can see of the filesystem
 * once chrooted there is nothing, and no one but root can change that. */
static int check_chroot(const char *dir, char *err, size_t errcap)
{
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		errbuf_set(err, errcap, "-chroot: cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) < 0) {
		errbuf_set(err, errcap, "-chroot: %s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) {
		errbuf_set(err, errcap,
			   "-chroot: %s must be a directory owned by root that no one else may "
			   "write to",
			   dir);
		return -1;
	}
	d = opendir(dir);
	if (!d) {
		errbuf_set(err, errcap, "-chroot: %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			errbuf_set(err, errcap, "-chroot: %s is not empty (it holds %s)", dir,
				   de->d_name);
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

/* The user to drop to: -user, or the fallback when the default does not
 * exist. NULL with err set when there is none or it is uid 0 (sandbox.c
 * refuses uid 0 too; this says which flag is wrong). */
static const char *find_user(const char *user, char *err, size_t errcap)
{
	const struct passwd *pw;

	if (!user[0]) {
		errbuf_set(err, errcap,
			   "running as root: -user \"\" is only for an unprivileged "
			   "start");
		return 0;
	}
	pw = getpwnam(user);
	if (!pw && strcmp(user, DERPER_SANDBOX_USER_DEFAULT) == 0) {
		log_warn("derper: user %s does not exist (msockctl setup-users makes it; see "
			 "docs/derper.md); running as %s",
			 user, DERPER_SANDBOX_USER_FALLBACK);
		user = DERPER_SANDBOX_USER_FALLBACK;
		pw = getpwnam(user);
	}
	if (!pw) {
		errbuf_set(err, errcap, "-user: user %s does not exist", user);
		return 0;
	}
	if (pw->pw_uid == 0) {
		errbuf_set(err, errcap, "-user: refusing to run as %s: it is uid 0", user);
		return 0;
	}
	return user;
}

/* Sanitized builds: LeakSanitizer cannot check at exit in the sandbox: it
 * stops the world with prctl(PR_GET/SET_DUMPABLE), a non-thread clone and
 * ptrace, and lists /proc/self/task, which the chroot hides. Whenever
 * ASAN_OPTIONS turns it on (ctest's detect_leaks=1, which the quickstart
 * page's derper inherits) the filter would kill the server of SIGSYS on its
 * way out. So it checks here, what setup allocated, while it still can;
 * that also cancels the check at exit (lsan_interface.h). A no-op with
 * detect_leaks=0, the derper's default (main.c). */
static void leak_check_now(void)
{
#if defined(__SANITIZE_ADDRESS__)
	__lsan_do_leak_check();
#endif
}

int derper_sandbox_enter(const char *user, const char *chroot_dir, const int *fds, size_t n,
			 bool dials, char *err, size_t errcap)
{
	struct sandbox_spec spec = {
		.name = "derper",
		.keep_fds = fds,
		.n_keep_fds = n,
		.extra_syscalls = extra_syscalls,
		.n_extra_syscalls = sizeof(extra_syscalls) / sizeof(extra_syscalls[0]),
	};
	bool root = getuid() == 0 || geteuid() == 0;
	int rc;

	leak_check_now();
	/* Every listener and the STUN socket exist already: a new internet
	 * socket is only ever a TCP one, to a mesh peer. */
	if (dials)
		spec.flags |= SANDBOX_INET_STREAM;
	if (root) {
		spec.user = find_user(user, err, errcap);
		if (!spec.user)
			return -1;
		if (chroot_dir[0]) {
			if (check_chroot(chroot_dir, err, errcap) < 0)
				return -1;
			spec.chroot_dir = chroot_dir;
		}
	} else {
		log_info("derper: started unprivileged (uid %d): no user change, no chroot",
			 (int)getuid());
	}
	rc = sandbox_enter(&spec);
	if (rc < 0) {
		errbuf_set(err, errcap, "sandbox: %s", strerror(-rc));
		return -1;
	}
	if (root)
		log_info("derper: running as uid %d gid %d%s%s", (int)getuid(), (int)getgid(),
			 chroot_dir[0] ? ", chrooted to " : "", chroot_dir);
	return 0;
}

int derper_sandbox_selftest(const char *what, const char *const *paths, size_t n)
{
	static const char *const sys[] = {"/etc/passwd", "/proc/self/status", "/", "."};
	int opened = 0;

	if (strcmp(what, "open") != 0)
		return sandbox_selftest(what);
	for (size_t i = 0; i < n + sizeof(sys) / sizeof(sys[0]); i++) {
		const char *p = i < n ? paths[i] : sys[i - n];
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		fprintf(stderr, "derper selftest: open %s: %s\n", p,
			fd < 0 ? strerror(errno) : "opened!");
		if (fd >= 0) {
			opened++;
			close(fd);
		}
	}
	fprintf(stderr, "derper selftest: %s\n",
		opened ? "a file could be opened" : "no file could be opened");
	return opened ? 1 : 0;
}

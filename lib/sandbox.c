/* sandbox: privilege drop + seccomp allowlist (sandbox.h). The base
 * allowlist below is what glibc, libzmq (its I/O thread, eventfds, epoll,
 * reconnecting ipc sockets) and protobuf-c need at run time; each group
 * says why. */
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

enum {
	/* The type bits of socket()'s second argument; the rest are
	 * SOCK_NONBLOCK and SOCK_CLOEXEC (the kernel's SOCK_TYPE_MASK). */
	SANDBOX_SOCK_TYPE_MASK = 0xf,
};

static bool kept(const struct sandbox_spec *s, int fd)
{
	for (size_t i = 0; i < s->n_keep_fds; i++)
		if (s->keep_fds[i] == fd)
			return true;
	return false;
}

/* Closes every fd but stdio and the kept ones; an fd inherited by accident
 * (a socket of the broker, a file) must not survive into the sandbox. */
static int close_inherited(const struct sandbox_spec *s)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int dfd, fds[1024], n = 0;

	if (!d)
		return -errno;
	dfd = dirfd(d);
	while ((de = readdir(d)) && n < (int)(sizeof(fds) / sizeof(fds[0]))) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] == '.' || fd <= 2 || fd == dfd || kept(s, fd))
			continue;
		fds[n++] = fd;
	}
	closedir(d);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	return 0;
}

struct target {
	bool drop;
	uid_t uid;
	gid_t gid;
	gid_t groups[64]; /* getgrouplist's answer, looked up before any chroot */
	int n_groups;
};

/* Looks up the user and its groups while /etc is still in sight. */
static int find_user(const char *user, gid_t extra_gid, struct target *t)
{
	struct passwd *pw;

	memset(t, 0, sizeof(*t));
	if (getuid() != 0 && geteuid() != 0)
		return 0; /* nothing to drop; already unprivileged */
	if (!user || !*user) {
		log_error("sandbox: running as root but no user to drop to (config \"user\")");
		return -EPERM;
	}
	pw = getpwnam(user);
	if (!pw) {
		log_error("sandbox: user \"%s\" does not exist (msockctl setup-users makes the "
			  "components' users)",
			  user);
		return -ENOENT;
	}
	if (pw->pw_uid == 0) {
		log_error("sandbox: refusing to run as user \"%s\": it is uid 0", user);
		return -EPERM;
	}
	t->drop = true;
	t->uid = pw->pw_uid;
	t->gid = pw->pw_gid;
	t->n_groups = (int)(sizeof(t->groups) / sizeof(t->groups[0])) - 1; /* extra_gid's */
	if (getgrouplist(user, pw->pw_gid, t->groups, &t->n_groups) < 0) {
		log_error("sandbox: user \"%s\" is in more than %zu groups", user,
			  sizeof(t->groups) / sizeof(t->groups[0]) - 1);
		return -E2BIG;
	}
	if (extra_gid && t->n_groups < (int)(sizeof(t->groups) / sizeof(t->groups[0])))
		t->groups[t->n_groups++] = extra_gid;
	return 0;
}

static int drop_user(const char *user, const struct target *t)
{
	if (!t->drop)
		return 0;
	if (setgroups((size_t)t->n_groups, t->groups) < 0 ||
	    setresgid(t->gid, t->gid, t->gid) < 0 || setresuid(t->uid, t->uid, t->uid) < 0) {
		int e = errno;
		log_error("sandbox: cannot drop to user %s: %s", user, strerror(e));
		return -e;
	}
	/* Make sure there is no way back. */
	if (setuid(0) == 0) {
		log_error("sandbox: could regain root after dropping to %s", user);
		return -EPERM;
	}
	return 0;
}

/* As root only: an unprivileged start cannot chroot and needs no
 * reminder that it did not. */
static int enter_chroot(const struct sandbox_spec *s, const struct target *t)
{
	if (!s->chroot_dir || !t->drop)
		return 0;
	if (chroot(s->chroot_dir) < 0 || chdir("/") < 0) {
		int e = errno;
		log_error("sandbox: %s: cannot chroot to %s: %s", s->name, s->chroot_dir,
			  strerror(e));
		return -e;
	}
	return 0;
}

/* No capabilities at all, in every set (a non-root uid has none after the
 * drop; this also covers a component started unprivileged with file caps). */
static int drop_caps(void)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	return 0;
}

#ifdef MSOCK_TEST_BUILD
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char line[160];
	char *name;
	int n;

	(void)uc;
	/* Not async-signal-safe, but we are about to die: naming the call is
	 * worth it in a test build. */
	name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, si->si_syscall);
	n = snprintf(line, sizeof(line), "sandbox: refused syscall %d (%s); dying of SIGSYS\n",
		     si->si_syscall, name ? name : "?");
	if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0)
		n = 0;
	signal(sig, SIG_DFL);
	raise(sig);
}
#endif

#define ALLOW(sc)                                                               \
	do {                                                                    \
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sc), 0) < 0) \
			goto fail;                                              \
	} while (0)

static int add_base_rules(scmp_filter_ctx ctx, const struct sandbox_spec *s)
{
	static const int inet[] = {AF_INET, AF_INET6};

	/* Memory: malloc, libzmq's allocations, ASan's shadow in test builds. */
	ALLOW(brk);
	ALLOW(mmap);
	ALLOW(munmap);
	ALLOW(mremap);
	ALLOW(mprotect);
	ALLOW(madvise);
	/* Threads: libzmq runs an I/O thread and a reaper. glibc 2.36 creates
	 * threads with clone3, whose flags seccomp cannot inspect: answer
	 * ENOSYS so glibc falls back to clone, and allow clone only with
	 * CLONE_THREAD (no fork). */
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) < 0)
		goto fail;
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
			     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)) < 0)
		goto fail;
	ALLOW(set_robust_list);
	ALLOW(rseq);
	ALLOW(futex);
	ALLOW(sched_yield);
	ALLOW(sched_getaffinity);
	/* libzmq reads its threads' scheduling parameters. */
	ALLOW(sched_getparam);
	ALLOW(sched_getscheduler);
	/* ...and sets them back; without CAP_SYS_NICE nothing can be raised. */
	ALLOW(sched_setscheduler);
	ALLOW(exit);
	ALLOW(exit_group);
	/* The kernel's own restart of a sleep or poll a stop/continue or a
	 * handled signal interrupted (-ERESTART_RESTARTBLOCK): refusing it
	 * kills a process for having been stopped. */
	ALLOW(restart_syscall);
	ALLOW(gettid);
	ALLOW(getpid);
	ALLOW(getppid);
	/* Read-only: lets a component (and its sandbox test) see it has no caps. */
	ALLOW(capget);
	ALLOW(getuid);
	ALLOW(geteuid);
	ALLOW(getgid);
	ALLOW(getegid);
	/* libzmq names its threads with pthread_setname_np. */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
			     SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)) < 0)
		goto fail;
	/* Signals: our handlers, abort(), and raise() for the SIGSYS report;
	 * kill/tgkill only towards ourselves. */
	ALLOW(rt_sigaction);
	ALLOW(rt_sigprocmask);
	ALLOW(rt_sigreturn);
	ALLOW(sigaltstack);
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
			     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid())) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
			     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid())) < 0)
		goto fail;
	/* Time and randomness (libzmq, libsodium, our clocks). */
	ALLOW(clock_gettime);
	ALLOW(clock_nanosleep);
	ALLOW(nanosleep);
	ALLOW(gettimeofday);
	ALLOW(getrandom);
	/* Event loops: zmq_poll, libzmq's epoll and its eventfd mailboxes. */
	ALLOW(poll);
	ALLOW(ppoll);
	ALLOW(epoll_create1);
	ALLOW(epoll_ctl);
	ALLOW(epoll_wait);
	ALLOW(epoll_pwait);
	ALLOW(eventfd2);
	ALLOW(signalfd4);
	ALLOW(pipe2);
	/* I/O on fds we hold. */
	ALLOW(read);
	ALLOW(write);
	ALLOW(readv);
	ALLOW(writev);
	ALLOW(close);
	ALLOW(fstat);
	ALLOW(newfstatat);
	ALLOW(lseek);
	ALLOW(fcntl);
	/* Sockets: libzmq reconnects ipc:// (AF_UNIX) on its own; other
	 * families and types only for the profiles that ask (lib/proctab.c),
	 * matched on socket(domain, type) with the type's SOCK_NONBLOCK and
	 * SOCK_CLOEXEC bits masked off. AF_PACKET never. */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
			     SCMP_A0(SCMP_CMP_EQ, AF_UNIX)) < 0)
		goto fail;
	for (int i = 0; i < 2; i++) {
		if ((s->flags & SANDBOX_INET_STREAM) &&
		    seccomp_rule_add(
			    ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
			    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)inet[i]),
			    SCMP_A1(SCMP_CMP_MASKED_EQ, SANDBOX_SOCK_TYPE_MASK, SOCK_STREAM)) < 0)
			goto fail;
		if ((s->flags & SANDBOX_INET_DGRAM) &&
		    seccomp_rule_add(
			    ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
			    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)inet[i]),
			    SCMP_A1(SCMP_CMP_MASKED_EQ, SANDBOX_SOCK_TYPE_MASK, SOCK_DGRAM)) < 0)
			goto fail;
	}
	if ((s->flags & SANDBOX_NETLINK) &&
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
			     SCMP_A0(SCMP_CMP_EQ, AF_NETLINK)) < 0)
		goto fail;
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1,
			     SCMP_A0(SCMP_CMP_EQ, AF_UNIX)) < 0)
		goto fail;
	ALLOW(connect);
	ALLOW(bind);
	ALLOW(listen);
	ALLOW(accept4);
	ALLOW(getsockopt);
	ALLOW(setsockopt);
	ALLOW(getsockname);
	ALLOW(getpeername);
	ALLOW(sendto);
	ALLOW(recvfrom);
	ALLOW(sendmsg);
	ALLOW(recvmsg);
	ALLOW(sendmmsg);
	ALLOW(recvmmsg);
	ALLOW(shutdown);
	/* libzmq unlinks a stale ipc file before it binds one and the file
	 * when it closes it: only the profile that binds (the dataplane's
	 * packet channels) gets unlink. */
	if (s->flags & SANDBOX_UNLINK)
		ALLOW(unlink);
	/* Files: a component opens what it needs before the sandbox. glibc
	 * and ASan still probe files now and then (/proc/self/maps on a
	 * report); refusing with EPERM lets them carry on. A deliberate
	 * choice, kept for every profile: killing on open would turn a
	 * harmless probe into a crash, and an EPERM opens nothing. */
	if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(openat), 0) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(open), 0) < 0)
		goto fail;
	return 0;
fail:
	return -EINVAL;
}

static int load_filter(const struct sandbox_spec *s)
{
	uint32_t deflt = SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx;
	int rc = -EINVAL;

#ifdef MSOCK_TEST_BUILD
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSYS, &sa, 0);
	deflt = SCMP_ACT_TRAP;
#endif
	ctx = seccomp_init(deflt);
	if (!ctx)
		return -ENOMEM;
	/* Cover every thread, also any that exist already. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) < 0)
		goto out;
	if (add_base_rules(ctx, s) < 0)
		goto out;
	for (size_t i = 0; i < s->n_extra_syscalls; i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, s->extra_syscalls[i], 0) < 0)
			goto out;
	rc = seccomp_load(ctx);
out:
	seccomp_release(ctx);
	return rc;
}

int sandbox_enter(const struct sandbox_spec *s)
{
	struct target t;
	int rc;

	if ((rc = close_inherited(s)) < 0) {
		log_error("sandbox: %s: cannot list open fds: %s", s->name, strerror(-rc));
		return rc;
	}
	if ((rc = find_user(s->user, s->extra_gid, &t)) < 0 || (rc = enter_chroot(s, &t)) < 0 ||
	    (rc = drop_user(s->user, &t)) < 0)
		return rc;
	umask(0007);
	/* No parent-death signal: a component outlives the broker that
	 * started it and reconnects to the next one (docs/deploy.md). */
	if ((rc = drop_caps()) < 0) {
		log_error("sandbox: %s: cannot drop capabilities: %s", s->name, strerror(-rc));
		return rc;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if ((rc = load_filter(s)) < 0) {
		log_error("sandbox: %s: cannot load the seccomp filter: %s", s->name,
			  strerror(-rc));
		return rc;
	}
	return 0;
}

int sandbox_selftest(const char *what)
{
	int rc = -1;

	if (strcmp(what, "id") == 0) {
		struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct data[2];
		memset(data, 0, sizeof(data));
		if (syscall(SYS_capget, &hdr, data) < 0)
			return 1;
		fprintf(stderr,
			"sandbox selftest: uid=%d euid=%d gid=%d capeff=%08x%08x capprm=%08x%08x\n",
			(int)getuid(), (int)geteuid(), (int)getgid(), data[1].effective,
			data[0].effective, data[1].permitted, data[0].permitted);
		return 0;
	}
	if (strcmp(what, "execve") == 0) {
		char *argv[] = {"/bin/true", 0};
		rc = execve("/bin/true", argv, 0);
	} else if (strcmp(what, "ptrace") == 0) {
		rc = (int)ptrace(PTRACE_TRACEME, 0, 0, 0);
	} else if (strcmp(what, "open-shadow") == 0) {
		rc = open("/etc/shadow", O_RDONLY);
	} else if (strcmp(what, "af-packet") == 0) {
		rc = socket(AF_PACKET, SOCK_RAW, 0);
	} else if (strcmp(what, "tcp-socket") == 0) {
		rc = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	} else if (strcmp(what, "udp-socket") == 0) {
		rc = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	} else if (strcmp(what, "unlink") == 0) {
		rc = unlink("/nonexistent/msock-sandbox-selftest");
	} else if (strcmp(what, "fork") == 0) {
		rc = fork();
		if (rc == 0)
			_exit(0);
	} else {
		fprintf(stderr, "sandbox selftest: unknown call %s\n", what);
		return 2;
	}
	fprintf(stderr, "sandbox selftest: %s returned %d (%s)\n", what, rc,
		rc < 0 ? strerror(errno) : "allowed!");
	return rc < 0 ? 0 : 1;
}

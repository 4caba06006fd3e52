/* bd_proc: the servers under test as child processes (each logs to a file in
 * the scratch directory), and what /proc says about them. Tailscale's derper
 * gets the flags of cmd/derper/derper.go at v1.102.5 that make its load the
 * same as msock-derper's; see bd_start. */
#include "bd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"

enum {
	FD_SPARE = 64, /* descriptors besides the clients: listeners, logs, /proc */
	ARGV_MAX = 24,
};

/* What the exit paths clean up: children to kill, a directory to remove. */
static struct {
	pid_t kids[BD_MAX_KIDS];
	char dir[64];
	bool child; /* a generator's forked helper: cleans nothing up */
} g;
static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

void bd_check_stop(void)
{
	if (g_stop && g.child)
		_exit(130); /* the parent cleans up */
	if (g_stop) {
		fprintf(stderr, "bench-derp: interrupted\n");
		exit(130); /* atexit: cleanup */
	}
}

static void cleanup(void)
{
	char cmd[128];

	for (int i = 0; i < BD_MAX_KIDS; i++) {
		if (g.kids[i] > 0) {
			kill(g.kids[i], SIGKILL);
			waitpid(g.kids[i], 0, 0);
			g.kids[i] = 0;
		}
	}
	if (g.dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", g.dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench-derp: cannot remove %s\n", g.dir);
		g.dir[0] = 0;
	}
}

int bd_proc_init(void)
{
	struct sigaction sa = {.sa_handler = on_signal};

	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, 0);
	sigaction(SIGTERM, &sa, 0);
	snprintf(g.dir, sizeof(g.dir), "/tmp/msock-bench-XXXXXX");
	if (!mkdtemp(g.dir)) {
		g.dir[0] = 0;
		return -1;
	}
	atexit(cleanup);
	return 0;
}

const char *bd_dir(void)
{
	return g.dir;
}

int bd_make_cert(void)
{
	char cmd[512];

	/* Go's crypto/x509 checks subjectAltName only (not CN), and Tailscale's
	 * manual cert mode refuses a certificate that does not name -hostname. */
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
		 "-subj /CN=%s -addext subjectAltName=DNS:%s -keyout %s/%s.key -out %s/%s.crt "
		 "2>/dev/null",
		 BD_HOSTNAME, BD_HOSTNAME, g.dir, BD_HOSTNAME, g.dir, BD_HOSTNAME);
	return system(cmd) == 0 ? 0 : -1;
}

static void kid_add(pid_t pid)
{
	for (int i = 0; i < BD_MAX_KIDS; i++) {
		if (g.kids[i] <= 0) {
			g.kids[i] = pid;
			return;
		}
	}
	kill(pid, SIGKILL);
	abort(); /* more children than BD_MAX_KIDS: our bug */
}

static void kid_forget(pid_t pid)
{
	for (int i = 0; i < BD_MAX_KIDS; i++)
		if (g.kids[i] == pid)
			g.kids[i] = 0;
}

void bd_stop(pid_t pid)
{
	uint64_t end = clock_mono_ns() + BD_STOP_TIMEOUT_MS * NS_PER_MS;

	kill(pid, SIGTERM);
	while (waitpid(pid, 0, WNOHANG) == 0) {
		if (clock_mono_ns() >= end) {
			kill(pid, SIGKILL);
			waitpid(pid, 0, 0);
			break;
		}
		usleep(10000);
	}
	kid_forget(pid);
}

pid_t bd_fork_helper(void)
{
	pid_t parent = getpid(), pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		g.child = true;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
	} else if (pid > 0) {
		kid_add(pid);
	}
	return pid;
}

void bd_helper_exit(void)
{
	_exit(0); /* no atexit: the servers and the directory are the parent's */
}

void bd_reap(pid_t pid)
{
	waitpid(pid, 0, 0);
	kid_forget(pid);
}

double bd_secs_since(uint64_t t0)
{
	return (double)(clock_mono_ns() - t0) / 1e9;
}

long bd_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

double bd_cpu_secs(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')'); /* the command name may hold spaces */
	/* After ")": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime (fields 3..15 of proc(5)); the process's
	 * line sums all its threads (Go's derper runs several). */
	if (!p ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double bd_self_cpu_secs(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

int bd_raise_nofile(int want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)want + FD_SPARE) {
		int fit = (int)rl.rlim_cur - FD_SPARE;
		fprintf(stderr, "bench-derp: RLIMIT_NOFILE is %llu: %d idle clients, not %d\n",
			(unsigned long long)rl.rlim_cur, fit, want);
		return fit & ~1;
	}
	return want;
}

/* A listening socket on 127.0.0.1 and a free port; *port gets the port. */
static int listen_loopback(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &l) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static bool port_open(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static int self_exe(char *buf, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", buf, cap - 1);

	if (n <= 0)
		return -1;
	buf[n] = 0;
	return 0;
}

/* The minimal relay: this program again (exec'd, so its RSS is its own and
 * not pages inherited from the bench), handed the listening socket. */
static pid_t start_relay(bool tls, int *port)
{
	int lfd = listen_loopback(port);
	pid_t parent = getpid(), pid;
	char exe[BD_PATH_MAX], fd[16];

	if (lfd < 0 || self_exe(exe, sizeof(exe)) < 0)
		return -1;
	snprintf(fd, sizeof(fd), "%d", lfd);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* kept across exec */
		if (getppid() != parent)
			_exit(1);
		fcntl(lfd, F_SETFD, 0); /* the listening socket goes across exec */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		execl(exe, exe, "--relay", fd, tls ? "1" : "0", g.dir, (char *)0);
		_exit(127);
	}
	close(lfd);
	if (pid > 0)
		kid_add(pid);
	return pid;
}

/* The argv of msock-derper or Tailscale's derper: the same flags, as
 * msock-derper follows cmd/derper's. Both servers keep their defaults
 * beyond these, which match: 32 packets queued per client (Tailscale's
 * defaultPerClientSendQueueDepth, unless TS_DEBUG_DERP_PER_CLIENT_SEND_
 * QUEUE_DEPTH says otherwise: unset in the child), a 2 s write timeout, no
 * per-client rate limit (no -rate-config), and for Tailscale's no accept
 * rate limit (-accept-connection-limit +Inf, -accept-connection-burst
 * MaxInt are its defaults). -stun=false and -http-port -1: neither
 * listener is measured. */
static int server_argv(const char **argv, const char *exe, bool tls, const char *addr,
		       const char *key)
{
	int i = 0;

	argv[i++] = exe;
	argv[i++] = "-a";
	argv[i++] = addr;
	argv[i++] = "-c";
	argv[i++] = key;
	argv[i++] = "-http-port";
	argv[i++] = "-1";
	argv[i++] = "-stun=false";
	if (tls) {
		argv[i++] = "-certmode";
		argv[i++] = "manual";
		argv[i++] = "-certdir";
		argv[i++] = g.dir;
		argv[i++] = "-hostname";
		argv[i++] = BD_HOSTNAME;
	}
	argv[i] = 0;
	return i;
}

/* msock-derper is measured as it runs in production: sandboxed
 * (services/derp/server/derper_sandbox.h). It listens before it enters the
 * sandbox; true once /proc shows its seccomp filter, with its uid. */
static bool sandboxed(pid_t pid, uint64_t end)
{
	char path[64], line[256];
	int seccomp = -1, uid = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	for (;;) {
		FILE *f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f)) {
			if (sscanf(line, "Seccomp: %d", &seccomp) == 1)
				break;
			sscanf(line, "Uid: %d", &uid);
		}
		if (f)
			fclose(f);
		if (seccomp == 2 && (uid != 0 || geteuid() != 0)) {
			printf("bench-derp: msock-derper (pid %d) runs sandboxed as uid %d\n",
			       (int)pid, uid);
			return true;
		}
		if (clock_mono_ns() >= end)
			return false;
		usleep(10000);
	}
}

static pid_t start_derper(enum bd_server kind, bool tls, const char *ts_path, int *port)
{
	char exe[BD_PATH_MAX], addr[64], key[128], log[128];
	const char *argv[ARGV_MAX];
	const char *name = kind == BD_TAILSCALE ? "tailscale" : "msock";
	uint64_t end;
	int lfd;
	pid_t pid;

	lfd = listen_loopback(port); /* a free port: taken back just below */
	if (lfd < 0)
		return -1;
	close(lfd);
	if (kind == BD_TAILSCALE) {
		snprintf(exe, sizeof(exe), "%s", ts_path);
	} else {
		if (self_exe(exe, sizeof(exe) - 16) < 0)
			return -1;
		strcpy(strrchr(exe, '/') + 1, "msock-derper");
	}
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", *port);
	/* Each its own key file: the format is the same, the writer is not. */
	snprintf(key, sizeof(key), "%s/%s-derper.key", g.dir, name);
	snprintf(log, sizeof(log), "%s/%s-derper-%d.log", g.dir, name, *port);
	server_argv(argv, exe, tls, addr, key);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		unsetenv("TS_DEBUG_DERP_PER_CLIENT_SEND_QUEUE_DEPTH");
		unsetenv("TS_DEBUG_VERBOSE_DROPS");
		unsetenv("DERP_DEBUG_LOGS");
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	kid_add(pid);
	end = clock_mono_ns() + BD_START_TIMEOUT_MS * NS_PER_MS;
	while (!port_open(*port)) {
		bool exited = waitpid(pid, 0, WNOHANG) == pid;
		if (exited || clock_mono_ns() >= end) {
			char cmd[192];
			if (exited)
				kid_forget(pid);
			else
				bd_stop(pid);
			fprintf(stderr, "bench-derp: %s did not start; its log ends:\n", exe);
			snprintf(cmd, sizeof(cmd), "tail -n 5 %s >&2", log);
			if (system(cmd) != 0)
				fprintf(stderr, "bench-derp: (no log %s)\n", log);
			return -1;
		}
		usleep(10000);
	}
	if (kind == BD_MSOCK && !sandboxed(pid, end)) {
		fprintf(stderr, "bench-derp: %s did not enter its sandbox\n", exe);
		bd_stop(pid);
		return -1;
	}
	return pid;
}

pid_t bd_start(enum bd_server kind, bool tls, const char *ts_path, int *port)
{
	switch (kind) {
	case BD_RELAY:
		return start_relay(tls, port);
	case BD_MSOCK:
		return start_derper(kind, tls, ts_path, port);
	case BD_TAILSCALE:
		return ts_path ? start_derper(kind, tls, ts_path, port) : -1;
	default:
		abort(); /* not a server: our bug */
	}
}

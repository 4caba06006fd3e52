/* derper_proc: see derper_proc.h. Every wait is bounded (TH_WAIT_MS, or a
 * socket timeout of DERPER_PROC_IO_TIMEOUT_MS for one HTTP exchange). */
#include "derper_proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "harness.h"

enum {
	POLL_STEP_US = 20000,
	ASAN_OPTS_MAX_BYTES = 1024,
};

static int free_port(int type)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, type, 0), port = -1;

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &l) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int tcp_connect(int port, int timeout_ms)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int derper_proc_init(struct derper_proc *p, bool tls)
{
	char cmd[512];

	memset(p, 0, sizeof(*p));
	p->tls = tls;
	snprintf(p->dir, sizeof(p->dir), "/tmp/msock-test-XXXXXX");
	if (!mkdtemp(p->dir)) {
		p->dir[0] = 0;
		return -1;
	}
	if (!tls)
		return 0;
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
		 "-subj /CN=derp.test -keyout %s/derp.test.key -out %s/derp.test.crt 2>/dev/null",
		 p->dir, p->dir);
	return system(cmd) == 0 ? 0 : -1;
}

int derper_proc_pick_ports(struct derper_proc *p)
{
	/* A restarted server keeps its ports: clients and configs name them. */
	if (p->port <= 0)
		p->port = free_port(SOCK_STREAM);
	if (p->stun_port <= 0)
		p->stun_port = free_port(SOCK_DGRAM);
	return p->port < 0 || p->stun_port < 0 ? -1 : 0;
}

/* fork + exec of msock-derper through sh (for the log redirection). */
static pid_t spawn(struct derper_proc *p, const char *extra)
{
	char cmd[4096], bin[512];
	const char *bd = getenv("MSOCK_BIN_DIR");
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/msock-derper", bd ? bd : "./bin");
	if (derper_proc_pick_ports(p) < 0)
		return -1;
	if (p->tls)
		snprintf(cmd, sizeof(cmd),
			 "exec %s -a 127.0.0.1:%d -certmode manual -certdir %s "
			 "-hostname derp.test -c %s/derper.key -http-port -1 -stun-port %d "
			 "%s 2>>%s/derper.log",
			 bin, p->port, p->dir, p->dir, p->stun_port, extra ? extra : "", p->dir);
	else
		snprintf(cmd, sizeof(cmd),
			 "exec %s -a 127.0.0.1:%d -c %s/derper.key -http-port -1 "
			 "-stun-port %d %s 2>>%s/derper.log",
			 bin, p->port, p->dir, p->stun_port, extra ? extra : "", p->dir);
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* LeakSanitizer cannot check a sandboxed server at exit
		 * (derper_sandbox.h); with it on, the server checks before
		 * its sandbox, which costs each start a scan of its memory:
		 * off unless asked for, as the broker turns it off for its
		 * sandboxed components. */
		char asan[ASAN_OPTS_MAX_BYTES];
		const char *cur = getenv("ASAN_OPTIONS");
		snprintf(asan, sizeof(asan), "%s%sdetect_leaks=%d%s", cur ? cur : "",
			 cur && cur[0] ? ":" : "", p->leak_check ? 1 : 0,
			 p->small_quarantine ? ":quarantine_size_mb=1" : "");
		setenv("ASAN_OPTIONS", asan, 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)0);
		_exit(127);
	}
	return pid;
}

/* Waits up to TH_WAIT_MS for pid to exit; true with *status if it did. */
static bool reaped(pid_t pid, int *status)
{
	uint64_t t0 = clock_mono_ns();

	do {
		if (waitpid(pid, status, WNOHANG) == pid)
			return true;
		usleep(POLL_STEP_US);
	} while (th_ms_since(t0) < TH_WAIT_MS);
	return false;
}

int derper_proc_start(struct derper_proc *p, const char *extra)
{
	uint64_t t0 = clock_mono_ns();
	int st;

	p->pid = spawn(p, extra);
	if (p->pid < 0) {
		p->pid = 0;
		return -1;
	}
	do {
		int fd = tcp_connect(p->port, DERPER_PROC_IO_TIMEOUT_MS);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
			p->pid = 0;
			return -1;
		}
		usleep(POLL_STEP_US);
	} while (th_ms_since(t0) < TH_WAIT_MS);
	derper_proc_stop(p);
	return -1;
}

int derper_proc_run_to_exit(struct derper_proc *p, const char *extra, int *status)
{
	pid_t pid = spawn(p, extra);

	if (pid < 0)
		return -1;
	if (reaped(pid, status))
		return 0;
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return -1;
}

int derper_proc_stop(struct derper_proc *p)
{
	int st = -1;

	if (p->pid <= 0)
		return -1;
	kill(p->pid, SIGTERM);
	if (!reaped(p->pid, &st)) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &st, 0);
	}
	p->pid = 0;
	return st;
}

static unsigned sanitizer_reports;

unsigned derper_proc_sanitizer_reports(void)
{
	return sanitizer_reports;
}

/* Prints what ASan, LSan or UBSan wrote to the server's log, and counts
 * it: the server is another process, so its reports fail no assertion. */
static void check_sanitizers(const struct derper_proc *p)
{
	char path[DERPER_PROC_DIR_BYTES + 16], line[1024];
	bool found = false;
	int shown = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/derper.log", p->dir);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		found |= strstr(line, "Sanitizer") != 0 || strstr(line, "runtime error:") != 0;
		if (found && shown++ < DERPER_PROC_REPORT_LINES)
			fprintf(stderr, "derper_proc: %s: %s", path, line);
	}
	if (f)
		fclose(f);
	sanitizer_reports += found;
}

void derper_proc_cleanup(struct derper_proc *p)
{
	char cmd[128];

	derper_proc_stop(p);
	if (!p->dir[0])
		return;
	check_sanitizers(p);
	if (getenv("MSOCK_TEST_KEEP")) {
		fprintf(stderr, "kept %s\n", p->dir);
		return;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", p->dir);
	p->dir[0] = 0;
}

static int setup(void **state, bool tls)
{
	struct derper_proc *p = calloc(1, sizeof(*p));

	if (!p)
		return -1;
	if (derper_proc_init(p, tls) < 0) {
		/* cmocka skips the teardown when the setup fails. */
		derper_proc_cleanup(p);
		free(p);
		return -1;
	}
	*state = p;
	return 0;
}

int derper_proc_setup_tls(void **state)
{
	return setup(state, true);
}

int derper_proc_setup_plain(void **state)
{
	return setup(state, false);
}

int derper_proc_teardown(void **state)
{
	struct derper_proc *p = *state;

	if (p) {
		derper_proc_cleanup(p);
		free(p);
	}
	*state = 0;
	return 0;
}

struct dtc *derper_proc_client(const struct derper_proc *p, const struct key32 *priv,
			       bool fast_start, char *err, size_t errcap)
{
	struct dtc_opts o = {.ip = "127.0.0.1",
			     .port = p->port,
			     .tls = p->tls,
			     .fast_start = fast_start,
			     .priv = priv};

	return dtc_connect(&o, err, errcap);
}

long derper_proc_http_get(const struct derper_proc *p, const char *req, char *resp, size_t cap)
{
	SSL_CTX *ctx = 0;
	SSL *ssl = 0;
	size_t got = 0;
	long rc = -1;
	int fd = tcp_connect(p->port, DERPER_PROC_IO_TIMEOUT_MS);

	if (fd < 0 || cap == 0)
		goto out;
	if (p->tls) {
		ctx = SSL_CTX_new(TLS_client_method());
		ssl = ctx ? SSL_new(ctx) : 0;
		if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_connect(ssl) != 1 ||
		    SSL_write(ssl, req, (int)strlen(req)) != (int)strlen(req))
			goto out;
	} else if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		goto out;
	}
	/* The server closes after every answer but the DERP upgrade. */
	while (got + 1 < cap) {
		long n = ssl ? SSL_read(ssl, resp + got, (int)(cap - 1 - got))
			     : recv(fd, resp + got, cap - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	resp[got] = 0;
	rc = got ? (long)got : -1;
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	if (fd >= 0)
		close(fd);
	return rc;
}

int derper_proc_metrics(const struct derper_proc *p, const char *const *names, size_t n,
			long long *vals)
{
	char *resp = malloc(DERPER_PROC_RESP_MAX_BYTES);
	char needle[256];
	int rc = -1;

	if (!resp)
		return -1;
	if (derper_proc_http_get(p, "GET /debug/metrics HTTP/1.1\r\nHost: x\r\n\r\n", resp,
				 DERPER_PROC_RESP_MAX_BYTES) < 0 ||
	    strncmp(resp, "HTTP/1.1 200", 12) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const char *s;
		snprintf(needle, sizeof(needle), "\n%s ", names[i]);
		s = strstr(resp, needle);
		vals[i] = s ? strtoll(s + strlen(needle), 0, 10) : -1;
	}
	rc = 0;
out:
	free(resp);
	return rc;
}

long long derper_proc_metric(const struct derper_proc *p, const char *name)
{
	long long v;

	return derper_proc_metrics(p, &name, 1, &v) < 0 ? -1 : v;
}

long derper_proc_mem_kib(const struct derper_proc *p, const char *field)
{
	char path[64], line[256];
	size_t fl = strlen(field);
	long kib = -1;
	FILE *f;

	if (p->pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)p->pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, fl) == 0 && line[fl] == ':')
			kib = strtol(line + fl + 1, 0, 10);
	fclose(f);
	return kib;
}

bool derper_proc_log_has(const struct derper_proc *p, const char *needle)
{
	char path[128], line[2048];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/derper.log", p->dir);
	f = fopen(path, "r");
	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != 0;
	if (f)
		fclose(f);
	return found;
}

int derper_proc_write_file(const struct derper_proc *p, const char *name, const char *text,
			   char *path, size_t pathcap)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s/%s", p->dir, name);
	if (path)
		snprintf(path, pathcap, "%s", buf);
	return th_write_file(buf, text);
}

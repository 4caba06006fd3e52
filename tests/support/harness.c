/* harness: see harness.h. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "clock.h"
#include "control.pb-c.h"

const char *th_bin_dir(void)
{
	const char *d = getenv("MSOCK_BIN_DIR");
	return d ? d : "./bin";
}

int th_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -1;
}

int th_write_config(struct th_broker *b, const char *components_json, const char *extra_json)
{
	char text[16384];

	snprintf(text, sizeof(text),
		 "{\n"
		 "  \"run_dir\": \"%s/run\",\n"
		 "  \"state_dir\": \"%s/state\",\n"
		 "  \"control_socket\": \"%s\",\n"
		 "  \"components\": %s%s\n"
		 "}\n",
		 b->dir, b->dir, b->control, components_json, extra_json);
	return th_write_file(b->config, text);
}

static bool answers(void *arg)
{
	json_t *st = th_status(arg);
	bool ok = st != 0;

	json_decref(st);
	return ok;
}

int th_broker_start(struct th_broker *b, const char *components_json, const char *extra_json)
{
	memset(b, 0, sizeof(*b));
	snprintf(b->dir, sizeof(b->dir), "/tmp/msock-test-XXXXXX");
	if (!mkdtemp(b->dir))
		return -1;
	/* The components run as their own users (or the "user" extra_json
	 * names) and must reach run/bus below here. */
	chmod(b->dir, 0755);
	snprintf(b->config, sizeof(b->config), "%s/msock.json", b->dir);
	snprintf(b->control, sizeof(b->control), "%s/control.sock", b->dir);
	snprintf(b->bus_dir, sizeof(b->bus_dir), "%s/run/bus", b->dir);
	snprintf(b->log, sizeof(b->log), "%s/broker.log", b->dir);
	if (th_write_config(b, components_json, extra_json) < 0)
		return -1;
	return th_broker_launch(b);
}

int th_broker_launch(struct th_broker *b)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/msock-broker", th_bin_dir());
	b->pid = fork();
	if (b->pid < 0)
		return -1;
	if (b->pid == 0) {
		/* Dies with the test, whatever happens to it; its components
		 * outlive it, as they outlive any broker: teardown kills them
		 * (th_kill_strays). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* Both streams to the log, appended (a second broker of the
		 * same test adds to it): an orphan must not hold ctest's pipe. */
		fd = open(b->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		execl(path, path, "--config", b->config, (char *)0);
		_exit(127);
	}
	if (!th_wait(answers, b)) {
		fprintf(stderr, "harness: broker did not answer; its log:\n");
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "cat %s >&2", b->log);
		if (system(cmd) < 0)
			return -1;
		return -1;
	}
	return 0;
}

int th_broker_stop(struct th_broker *b, int sig, int *status)
{
	struct timespec ts = {0, 20 * 1000000};

	if (b->pid <= 0)
		return -1;
	kill(b->pid, sig);
	for (int i = 0; i < TH_WAIT_MS / 20; i++) {
		pid_t r = waitpid(b->pid, status, WNOHANG);
		if (r == b->pid) {
			b->pid = 0;
			return 0;
		}
		nanosleep(&ts, 0);
	}
	return -1;
}

void th_broker_cleanup(struct th_broker *b)
{
	char cmd[400];
	int st;

	if (b->pid > 0 && th_broker_stop(b, SIGTERM, &st) < 0) {
		kill(b->pid, SIGKILL);
		waitpid(b->pid, &st, 0);
	}
	/* Components of a broker that was killed keep running. */
	if (b->dir[0])
		th_kill_strays(b->dir);
	if (getenv("MSOCK_TEST_KEEP")) {
		fprintf(stderr, "harness: kept %s\n", b->dir);
		return;
	}
	if (b->dir[0] && strncmp(b->dir, "/tmp/msock-test-", 16) == 0) {
		/* Components run as nobody: give them a moment to exit first. */
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->dir);
		if (system(cmd) < 0)
			fprintf(stderr, "harness: cannot remove %s\n", b->dir);
	}
}

int th_setup(void **state)
{
	*state = calloc(1, sizeof(struct th_broker));
	return *state ? 0 : -1;
}

int th_teardown(void **state)
{
	struct th_broker *b = *state;

	if (b)
		th_broker_cleanup(b);
	free(b);
	*state = 0;
	return 0;
}

int th_control(const struct th_broker *b, const char *cmd, const char *arg, bool *ok, char **text)
{
	return th_control_wait(b, cmd, arg, 0, ok, text);
}

int th_control_wait(const struct th_broker *b, const char *cmd, const char *arg, uint32_t wait_ms,
		    bool *ok, char **text)
{
	Msock__ControlRequest req = MSOCK__CONTROL_REQUEST__INIT;
	Msock__ControlReply *rep;
	void *ctx = zmq_ctx_new(), *s = bus_socket(ctx, ZMQ_REQ, 64 << 20);
	char addr[400], *args[1] = {(char *)arg};
	int timeout = 5000 + (int)wait_ms, rc = -1;
	uint8_t buf[1024];
	zmq_msg_t m;

	zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
	zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout, sizeof(timeout));
	snprintf(addr, sizeof(addr), "ipc://%s", b->control);
	req.command = (char *)cmd;
	req.args = args;
	req.n_args = arg ? 1 : 0;
	req.wait_ms = wait_ms;
	zmq_msg_init(&m);
	if (access(b->control, F_OK) == 0 && zmq_connect(s, addr) == 0 &&
	    zmq_send(s, buf, msock__control_request__pack(&req, buf), 0) >= 0 &&
	    zmq_msg_recv(&m, s, 0) >= 0) {
		rep = msock__control_reply__unpack(0, zmq_msg_size(&m), zmq_msg_data(&m));
		if (rep) {
			*ok = rep->ok;
			*text = strdup(rep->ok ? rep->text : rep->error);
			msock__control_reply__free_unpacked(rep, 0);
			rc = 0;
		}
	}
	zmq_msg_close(&m);
	zmq_close(s);
	zmq_ctx_term(ctx);
	return rc;
}

json_t *th_status(const struct th_broker *b)
{
	bool ok;
	char *text = 0;
	json_t *st = 0;

	if (th_control(b, "status", 0, &ok, &text) == 0 && ok)
		st = json_loads(text, 0, 0);
	free(text);
	return st;
}

static json_t *comp(json_t *st, const char *name)
{
	return json_object_get(json_object_get(st, "Components"), name);
}

pid_t th_comp_pid(const struct th_broker *b, const char *name)
{
	json_t *st = th_status(b);
	pid_t pid = (pid_t)json_integer_value(json_object_get(comp(st, name), "PID"));

	json_decref(st);
	return pid;
}

int th_comp_restarts(const struct th_broker *b, const char *name)
{
	json_t *st = th_status(b);
	int n = (int)json_integer_value(json_object_get(comp(st, name), "Restarts"));

	json_decref(st);
	return n;
}

bool th_comp_state_is(const struct th_broker *b, const char *name, const char *state)
{
	json_t *st = th_status(b);
	const char *s = json_string_value(json_object_get(comp(st, name), "State"));
	bool is = s && strcmp(s, state) == 0;

	json_decref(st);
	return is;
}

long long th_bus_counter(const struct th_broker *b, const char *name)
{
	json_t *st = th_status(b);
	long long v = json_integer_value(json_object_get(json_object_get(st, "Bus"), name));

	json_decref(st);
	return v;
}

bool th_wait(bool (*pred)(void *arg), void *arg)
{
	struct timespec ts = {0, 20 * 1000000};

	for (int i = 0; i < TH_WAIT_MS / 20; i++) {
		if (pred(arg))
			return true;
		nanosleep(&ts, 0);
	}
	return pred(arg);
}

bool th_log_contains(const struct th_broker *b, const char *needle)
{
	FILE *f = fopen(b->log, "r");
	char line[2048];
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != 0;
	if (f)
		fclose(f);
	return found;
}

bool th_pid_alive(pid_t pid)
{
	char path[64], state = 0;
	FILE *f;

	if (pid <= 0 || kill(pid, 0) < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fscanf(f, "%*d %*s %c", &state) != 1)
		state = 0;
	fclose(f);
	return state != 'Z' && state != 0;
}

bool th_proc_status(pid_t pid, const char *field, char *out, size_t cap)
{
	char path[64], line[512];
	size_t len = strlen(field);
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		if (strncmp(line, field, len) == 0 && line[len] == ':') {
			snprintf(out, cap, "%s", line + len + 1);
			out[strcspn(out, "\n")] = 0;
			found = true;
		}
	fclose(f);
	return found;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Does /proc/<pid>/<link> point into dir? */
static bool link_under(const char *pid, const char *link, const char *dir)
{
	char path[64], target[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%s/%s", pid, link);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return false;
	target[n] = 0;
	return strncmp(target, dir, strlen(dir)) == 0 &&
	       (target[strlen(dir)] == '/' || target[strlen(dir)] == 0);
}

int th_kill_strays(const char *dir)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	/* A component chroots into (or, unprivileged, changes to) the bus
	 * directory below dir: its root or working directory says whose it is. */
	while (d && (e = readdir(d))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9' || atoi(e->d_name) == getpid())
			continue;
		if (link_under(e->d_name, "root", dir) || link_under(e->d_name, "cwd", dir)) {
			kill(atoi(e->d_name), SIGKILL);
			n++;
		}
	}
	if (d)
		closedir(d);
	return n;
}

void th_remove_tree(const char *dir)
{
	/* Depth first, not following links: the files before their directory. */
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}
uint64_t th_ms_since(uint64_t t0_ns)
{
	return (clock_mono_ns() - t0_ns) / NS_PER_MS;
}

int th_udp_loopback(uint16_t port, uint16_t *bound)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	getsockname(fd, (struct sockaddr *)&sa, &len);
	if (bound)
		*bound = ntohs(sa.sin_port);
	return fd;
}

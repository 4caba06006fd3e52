/* external_supervise: "supervise": "external" (docs/deploy.md). The test
 * is the supervisor, as systemd would be: the broker starts nothing; the
 * test starts msock-dataplane and msock-disco with --config, the dataplane
 * with its sockets handed over as systemd's socket activation does
 * (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES, fds from 3). The broker knows
 * them from the bus (their uids), shows pid, uptime, restarts and the
 * supervisor; a broker killed and started again finds them again (and
 * they set their state again); a component killed and restarted by the
 * test shows as a restart, the dataplane on the same ports (the sockets
 * the test keeps, as systemd does). Needs root and the users of
 * `msockctl setup-users` (scripts/test.sh makes them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static const char *comps = "[\"dataplane\", \"disco\"]";

/* The sockets the test holds for the dataplane, as systemd's socket units
 * would: udp4 and udp6 on one port, the WireGuard one on lo. */
struct socks {
	int fd[3];
	uint16_t port, wg_port;
};

static int udp_socket(int family, uint16_t port, bool lo)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0), on = 1;
	struct sockaddr_storage ss = {0};
	socklen_t len;

	assert_true(fd >= 0);
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		len = sizeof(*a);
	}
	if (lo)
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3), 0);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

static uint16_t port_of(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

static void socks_open(struct socks *s)
{
	s->fd[0] = udp_socket(AF_INET, 0, false);
	assert_true(s->fd[0] >= 0);
	s->port = port_of(s->fd[0]);
	s->fd[1] = udp_socket(AF_INET6, s->port, false);
	if (s->fd[1] < 0)
		s->fd[1] = -1; /* no IPv6 here: two sockets then */
	s->fd[2] = udp_socket(AF_INET, 0, true);
	assert_true(s->fd[2] >= 0);
	s->wg_port = port_of(s->fd[2]);
}

/* Starts bin/msock-<program> --config, as root (it drops itself), output
 * appended to the broker's log; with sockets, as socket activation does. */
static pid_t start(const struct th_broker *b, const char *program, const struct socks *s)
{
	char path[512];
	pid_t pid;

	snprintf(path, sizeof(path), "%s/msock-%s", th_bin_dir(), program);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(b->log, O_WRONLY | O_APPEND), n = 0;
		char v[32];
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		if (s) {
			/* fds 3, 4, 5 (dup2 clears close-on-exec on the copy). */
			int at = 3;
			for (int i = 0; i < 3; i++)
				if (s->fd[i] >= 0)
					dup2(s->fd[i], 10 + i);
			for (int i = 0; i < 3; i++)
				if (s->fd[i] >= 0)
					dup2(10 + i, at++), n++;
			snprintf(v, sizeof(v), "%d", (int)getpid());
			setenv("LISTEN_PID", v, 1);
			snprintf(v, sizeof(v), "%d", n);
			setenv("LISTEN_FDS", v, 1);
			setenv("LISTEN_FDNAMES", n == 3 ? "peer:peer:wg" : "peer:wg", 1);
		}
		execl(path, path, "--config", b->config, (char *)0);
		_exit(127);
	}
	return pid;
}

struct want {
	const struct th_broker *b;
	const char *name, *state;
	pid_t pid;
};

static bool comp_is(void *arg)
{
	struct want *w = arg;
	json_t *st = th_status(w->b);
	json_t *c = json_object_get(json_object_get(st, "Components"), w->name);
	const char *s = json_string_value(json_object_get(c, "State"));
	bool yes = s && strcmp(s, w->state) == 0 &&
		   (!w->pid || json_integer_value(json_object_get(c, "PID")) == w->pid);

	json_decref(st);
	return yes;
}

static bool waiting_for_broker(void *arg)
{
	return th_log_contains(arg, "disco INFO: waiting for the broker on the bus");
}

static bool disco_key_published(void *arg)
{
	json_t *st = th_status(arg);
	const char *k = json_string_value(json_object_get(json_object_get(st, "Self"), "DiscoKey"));
	bool yes = k && strncmp(k, "discokey:", 9) == 0;

	json_decref(st);
	return yes;
}

static long long self_dp(const struct th_broker *b, const char *field)
{
	json_t *st = th_status(b);
	long long v = json_integer_value(
		json_object_get(json_object_get(json_object_get(st, "Self"), "Dataplane"), field));

	json_decref(st);
	return v;
}

struct ports {
	const struct th_broker *b;
	uint16_t port, wg_port;
};

static bool dataplane_on(void *arg)
{
	struct ports *p = arg;

	return self_dp(p->b, "Port") == p->port && self_dp(p->b, "WGEndpointPort") == p->wg_port;
}

/* Does `msockctl status` (text) print needle? */
static bool status_text_has(const struct th_broker *b, const char *needle)
{
	char cmd[1024], line[512];
	bool found = false;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s/msockctl --socket %s status", th_bin_dir(), b->control);
	p = popen(cmd, "r");
	while (p && fgets(line, sizeof(line), p))
		if (strstr(line, needle))
			found = true;
	if (p)
		pclose(p);
	return found;
}

static void test_external_supervision(void **state)
{
	struct th_broker *b = *state;
	struct socks s;
	pid_t dp, disco, disco2, dp2;
	int st;
	bool ok;
	char *text = 0;

	if (geteuid() != 0 || !getpwnam("msock-disco"))
		skip();
	assert_int_equal(th_broker_start(b, comps, ",\n  \"supervise\": \"external\""), 0);
	assert_true(th_wait(comp_is, &(struct want){b, "dataplane", "waiting", 0}));
	assert_true(th_log_contains(b, "2 components"));

	socks_open(&s);
	dp = start(b, "dataplane", &s);
	disco = start(b, "disco", 0);
	assert_true(th_wait(comp_is, &(struct want){b, "dataplane", "running", dp}));
	assert_true(th_wait(comp_is, &(struct want){b, "disco", "running", disco}));
	assert_true(th_wait(dataplane_on, &(struct ports){b, s.port, s.wg_port}));
	assert_true(th_wait(disco_key_published, b));
	assert_true(th_log_contains(b, "sockets from systemd"));
	json_t *j = th_status(b);
	assert_string_equal(json_string_value(json_object_get(j, "Supervise")), "external");
	/* Who runs it depends on this test's own cgroup ("external" here,
	 * "systemd (<unit>)" under a CI unit, "docker" in a container: the
	 * cases are supervisor_cgroup_test's); not the broker, in any case. */
	const char *sup = json_string_value(json_object_get(
		json_object_get(json_object_get(j, "Components"), "disco"), "Supervisor"));
	char want[128];
	assert_non_null(sup);
	assert_true(sup[0] && strncmp(sup, "broker", 6) != 0);
	snprintf(want, sizeof(want), "run by %s", sup);
	json_decref(j);
	/* msockctl status (text) says who runs each. */
	assert_true(status_text_has(b, want));

	/* The broker does not restart what it does not run. */
	assert_int_equal(th_control(b, "restart", "disco", &ok, &text), 0);
	assert_false(ok);
	assert_non_null(strstr(text, "not by the broker"));
	free(text);

	/* The broker dies and comes back: it finds them on the bus again,
	 * same pids, and they set their state again. */
	assert_int_equal(th_broker_stop(b, SIGKILL, &st), 0);
	usleep(300 * 1000);
	assert_true(th_pid_alive(dp) && th_pid_alive(disco));
	assert_int_equal(th_broker_launch(b), 0);
	assert_true(th_wait(comp_is, &(struct want){b, "dataplane", "running", dp}));
	assert_true(th_wait(comp_is, &(struct want){b, "disco", "running", disco}));
	assert_true(th_wait(disco_key_published, b));
	assert_true(th_wait(dataplane_on, &(struct ports){b, s.port, s.wg_port}));
	assert_int_equal(th_comp_restarts(b, "disco"), 0);

	/* The supervisor (the test) restarts disco: a restart, seen from the bus. */
	kill(disco, SIGKILL);
	waitpid(disco, &st, 0);
	assert_true(th_wait(comp_is, &(struct want){b, "disco", "exited", 0}));
	disco2 = start(b, "disco", 0);
	assert_true(th_wait(comp_is, &(struct want){b, "disco", "running", disco2}));
	assert_int_equal(th_comp_restarts(b, "disco"), 1);

	/* And the dataplane, on the sockets it keeps: the same ports. */
	kill(dp, SIGKILL);
	waitpid(dp, &st, 0);
	assert_true(th_wait(comp_is, &(struct want){b, "dataplane", "exited", 0}));
	dp2 = start(b, "dataplane", &s);
	assert_true(th_wait(comp_is, &(struct want){b, "dataplane", "running", dp2}));
	assert_true(th_wait(dataplane_on, &(struct ports){b, s.port, s.wg_port}));

	/* Another broker death: the next one reads from the record what the
	 * earlier one counted (restarts, start times), not only what it sees. */
	assert_int_equal(th_broker_stop(b, SIGKILL, &st), 0);
	assert_int_equal(th_broker_launch(b), 0);
	assert_true(th_wait(comp_is, &(struct want){b, "disco", "running", disco2}));
	assert_true(th_wait(comp_is, &(struct want){b, "dataplane", "running", dp2}));
	assert_int_equal(th_comp_restarts(b, "disco"), 1);
	assert_int_equal(th_comp_restarts(b, "dataplane"), 1);

	/* SIGTERM stops the broker only: the components are their
	 * supervisor's (teardown kills them). */
	assert_int_equal(th_broker_stop(b, SIGTERM, &st), 0);
	assert_true(WIFEXITED(st));
	assert_true(th_pid_alive(dp2) && th_pid_alive(disco2));
	for (int i = 0; i < 3; i++)
		if (s.fd[i] >= 0)
			close(s.fd[i]);
}

/* Bad socket activation: the dataplane says what is wrong and exits. */
static void test_bad_socket_activation(void **state)
{
	struct th_broker *b = *state;
	struct socks s;
	pid_t dp;
	int st;

	if (geteuid() != 0 || !getpwnam("msock-dataplane"))
		skip();
	assert_int_equal(th_broker_start(b, "[\"dataplane\"]", ",\n  \"supervise\": \"external\""),
			 0);
	socks_open(&s);
	/* Only the wg socket: no IPv4 peer socket. */
	close(s.fd[0]);
	s.fd[0] = -1;
	if (s.fd[1] >= 0)
		close(s.fd[1]);
	s.fd[1] = -1;
	dp = start(b, "dataplane", &s);
	assert_int_equal(waitpid(dp, &st, 0), dp);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 0);
	assert_true(th_log_contains(b, "socket activation"));
	close(s.fd[2]);
}

/* A component that waits for a broker (none runs) stops at once on
 * SIGTERM, as a supervisor expects, and says why. */
static void test_sigterm_while_waiting(void **state)
{
	struct th_broker *b = *state;
	char dir[512];
	pid_t disco;
	int st;

	if (geteuid() != 0 || !getpwnam("msock-disco"))
		skip();
	/* The broker's directories and config, then no broker. */
	assert_int_equal(th_broker_start(b, "[\"disco\"]", ",\n  \"supervise\": \"external\""), 0);
	assert_int_equal(th_broker_stop(b, SIGKILL, &st), 0);
	snprintf(dir, sizeof(dir), "%s/run/bus", b->dir);
	assert_int_equal(access(dir, F_OK), 0);
	disco = start(b, "disco", 0);
	assert_true(th_wait(waiting_for_broker, b));
	kill(disco, SIGTERM);
	assert_int_equal(waitpid(disco, &st, 0), disco);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_true(th_log_contains(b, "signal 15 before the broker answered: exiting"));
}

/* The broker in a pid namespace of its own (as in a container of its
 * own): a component's connection comes with pid 0. It is still known by
 * its uid, shown running, from "another pid namespace". */
static void test_component_in_another_pid_namespace(void **state)
{
	struct th_broker *b = *state;
	char broker[512];
	pid_t wrapper, disco;
	int st;
	json_t *j;

	if (geteuid() != 0 || !getpwnam("msock-disco") || access("/usr/bin/unshare", X_OK) < 0)
		skip();
	assert_int_equal(th_broker_start(b, "[\"disco\"]", ",\n  \"supervise\": \"external\""), 0);
	assert_int_equal(th_broker_stop(b, SIGKILL, &st), 0);
	snprintf(broker, sizeof(broker), "%s/msock-broker", th_bin_dir());
	wrapper = fork();
	assert_true(wrapper >= 0);
	if (wrapper == 0) {
		int fd = open(b->log, O_WRONLY | O_APPEND);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		execl("/usr/bin/unshare", "unshare", "--pid", "--kill-child", broker, "--config",
		      b->config, (char *)0);
		_exit(127);
	}
	b->pid = wrapper; /* teardown's stop ends unshare, which kills the broker */
	assert_true(th_wait(comp_is, &(struct want){b, "disco", "waiting", 0}));
	disco = start(b, "disco", 0);
	assert_true(th_wait(comp_is, &(struct want){b, "disco", "running", 0}));
	assert_true(th_wait(disco_key_published, b));
	j = th_status(b);
	json_t *c = json_object_get(json_object_get(j, "Components"), "disco");
	assert_int_equal(json_integer_value(json_object_get(c, "PID")), 0);
	assert_string_equal(json_string_value(json_object_get(c, "Supervisor")),
			    "another pid namespace");
	json_decref(j);
	assert_true(th_log_contains(b, "disco is on the bus from another pid namespace"));
	assert_true(th_pid_alive(disco));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_external_supervision, th_setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_bad_socket_activation, th_setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_while_waiting, th_setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_component_in_another_pid_namespace, th_setup,
						th_teardown),
	};

	return cmocka_run_group_tests(tests, 0, 0);
}

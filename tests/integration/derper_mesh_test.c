/* derper_mesh: two msock-derpers sharing a mesh key, each -mesh-with the
 * other, as one region: a client on one reaches a client on the other
 * (ForwardPacket); a watcher with the mesh key sees PeerPresent for the
 * clients already there and PeerGone when one leaves; the mesh heals when a
 * derper is restarted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "derp/derp_frame.h"
#include "derp_tc.h"
#include "harness.h"

static const char mesh_hex[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct node {
	pid_t pid;
	int port;
};

struct mesh {
	char dir[64];
	struct node n[2];
	uint8_t key[32];
};

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &l);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static bool port_open(void *arg)
{
	struct node *n = arg;
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)n->port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;

	close(fd);
	return ok;
}

/* Plain HTTP derpers (the mesh link code is the same over TLS). */
static void start(struct mesh *m, int i)
{
	char cmd[2048];
	int other = m->n[1 - i].port;

	snprintf(cmd, sizeof(cmd),
		 "exec %s/msock-derper -a 127.0.0.1:%d -c %s/derper%d.key -http-port -1 "
		 "-stun=false -hostname derp%d -mesh-psk-file %s/mesh.key "
		 "-mesh-with derp%d,derp%d/127.0.0.1:%d 2>>%s/derper%d.log",
		 getenv("MSOCK_BIN_DIR"), m->n[i].port, m->dir, i, i, m->dir, i, 1 - i, other,
		 m->dir, i);
	m->n[i].pid = fork();
	assert_true(m->n[i].pid >= 0);
	if (m->n[i].pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)0);
		_exit(127);
	}
	assert_true(th_wait(port_open, &m->n[i]));
}

static void stop(struct node *n)
{
	int st;

	if (n->pid > 0) {
		kill(n->pid, SIGTERM);
		waitpid(n->pid, &st, 0);
		n->pid = 0;
	}
}

static int setup(void **state)
{
	struct mesh *m = calloc(1, sizeof(*m));
	char path[128];

	snprintf(m->dir, sizeof(m->dir), "/tmp/msock-test-XXXXXX");
	if (!mkdtemp(m->dir))
		return -1;
	snprintf(path, sizeof(path), "%s/mesh.key", m->dir);
	if (th_write_file(path, mesh_hex) < 0)
		return -1;
	for (int i = 0; i < 32; i++)
		sscanf(mesh_hex + 2 * i, "%2hhx", &m->key[i]);
	m->n[0].port = free_port();
	m->n[1].port = free_port();
	*state = m;
	return 0;
}

static int teardown(void **state)
{
	struct mesh *m = *state;
	char cmd[128];

	stop(&m->n[0]);
	stop(&m->n[1]);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", m->dir);
	if (system(cmd) != 0)
		return -1;
	free(m);
	return 0;
}

static struct dtc *client(struct mesh *m, int i, const uint8_t *mesh_key)
{
	struct dtc_opts o = {.ip = "127.0.0.1", .port = m->n[i].port, .mesh_key = mesh_key};
	char err[256];
	struct dtc *c = dtc_connect(&o, err, sizeof(err));

	if (!c)
		fail_msg("connect to derper %d: %s", i, err);
	return c;
}

/* Sends until one arrives: the mesh needs a moment to learn where b is. */
static bool reaches(struct dtc *a, struct dtc *b, const char *msg)
{
	uint8_t buf[64];
	struct key32 src;
	size_t n;

	for (int i = 0; i < 100; i++) {
		dtc_send_packet(a, dtc_pub(b), (const uint8_t *)msg, strlen(msg));
		if (dtc_recv_packet(b, 100, &src, buf, sizeof(buf), &n) == 1 && n == strlen(msg) &&
		    memcmp(buf, msg, n) == 0 && key_equal(&src, dtc_pub(a)))
			return true;
	}
	return false;
}

static void test_clients_on_two_servers_reach_each_other(void **state)
{
	struct mesh *m = *state;
	struct dtc *a, *b;

	start(m, 0);
	start(m, 1);
	a = client(m, 0, 0);
	b = client(m, 1, 0);
	assert_true(reaches(a, b, "a to b via the mesh"));
	assert_true(reaches(b, a, "b to a via the mesh"));
	dtc_close(a);
	dtc_close(b);
}

static void test_watcher_sees_present_and_gone(void **state)
{
	struct mesh *m = *state;
	struct dtc *a, *w;
	uint8_t buf[128], type;
	size_t n;
	bool present = false, gone = false;
	struct key32 ka;

	start(m, 0);
	a = client(m, 0, 0);
	ka = *dtc_pub(a);
	w = client(m, 0, m->key);
	assert_int_equal(dtc_write_raw(w, "\x10\x00\x00\x00\x00", 5), 0); /* WatchConns */
	while (!present && dtc_recv_frame(w, 5000, &type, buf, sizeof(buf), &n) == 1)
		present = type == DERP_FRAME_PEER_PRESENT && n >= 32 && memcmp(buf, ka.b, 32) == 0;
	assert_true(present);
	dtc_close(a);
	while (!gone && dtc_recv_frame(w, 5000, &type, buf, sizeof(buf), &n) == 1)
		gone = type == DERP_FRAME_PEER_GONE && n >= 32 && memcmp(buf, ka.b, 32) == 0;
	assert_true(gone);
	dtc_close(w);
}

static void test_mesh_heals_after_restart(void **state)
{
	struct mesh *m = *state;
	struct dtc *a, *b;

	start(m, 0);
	start(m, 1);
	a = client(m, 0, 0);
	b = client(m, 1, 0);
	assert_true(reaches(a, b, "before"));
	dtc_close(b);
	stop(&m->n[1]);
	start(m, 1);
	b = client(m, 1, 0);
	assert_true(reaches(a, b, "after the restart"));
	dtc_close(a);
	dtc_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clients_on_two_servers_reach_each_other, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_watcher_sees_present_and_gone, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mesh_heals_after_restart, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, 0, 0);
}

/* derper_mesh: two msock-derpers sharing a mesh key, each -mesh-with the
 * other, as one region: a client on one reaches a client on the other
 * (ForwardPacket); a watcher with the mesh key sees PeerPresent for the
 * clients already there and PeerGone when one leaves; the mesh heals when a
 * derper is restarted; a TLS derper's link to a plain HTTP one says why it
 * cannot come up. */
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
#include "derper_proc.h"
#include "harness.h"

static const char mesh_hex[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct mesh {
	struct derper_proc n[2]; /* plain HTTP: the mesh link code is the same over TLS */
	char key_path[256];	 /* the mesh key, in n[0]'s directory */
	uint8_t key[32];
	struct derper_proc tls; /* a TLS server, for the test that needs one */
};

static void start(struct mesh *m, int i)
{
	char extra[1024];

	snprintf(extra, sizeof(extra),
		 "-stun=false -hostname derp%d -mesh-psk-file %s -mesh-with "
		 "derp%d,derp%d/127.0.0.1:%d",
		 i, m->key_path, i, 1 - i, m->n[1 - i].port);
	assert_int_equal(derper_proc_start(&m->n[i], extra), 0);
}

static void stop(struct derper_proc *n)
{
	derper_proc_stop(n);
}

static int setup(void **state)
{
	struct mesh *m = calloc(1, sizeof(*m));

	/* Each names the other's port: choose both before either starts. */
	if (!m || derper_proc_init(&m->n[0], false) < 0 || derper_proc_init(&m->n[1], false) < 0 ||
	    derper_proc_pick_ports(&m->n[0]) < 0 || derper_proc_pick_ports(&m->n[1]) < 0 ||
	    derper_proc_write_file(&m->n[0], "mesh.key", mesh_hex, m->key_path,
				   sizeof(m->key_path)) < 0)
		return -1;
	for (int i = 0; i < 32; i++)
		sscanf(mesh_hex + 2 * i, "%2hhx", &m->key[i]);
	*state = m;
	return 0;
}

static int teardown(void **state)
{
	struct mesh *m = *state;

	derper_proc_cleanup(&m->n[0]);
	derper_proc_cleanup(&m->n[1]);
	derper_proc_cleanup(&m->tls);
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

/* Lines of the server's log that contain needle. */
static int log_count(const struct derper_proc *p, const char *needle)
{
	char path[128], line[2048];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/derper.log", p->dir);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		n += strstr(line, needle) != 0;
	if (f)
		fclose(f);
	return n;
}

/* A derper serving TLS dials its mesh peers over TLS; one that serves plain
 * HTTP is named as such in the log, once, although the link is redialled
 * every DERPER_MESH_REDIAL_MS. */
static void test_tls_link_to_plain_http_peer(void **state)
{
	struct mesh *m = *state;
	char extra[1024], want[256];
	uint64_t t0 = clock_mono_ns();

	assert_int_equal(derper_proc_init(&m->tls, true), 0);
	start(m, 1);
	snprintf(extra, sizeof(extra),
		 "-stun=false -mesh-psk-file %s -mesh-with derp1/127.0.0.1:%d", m->key_path,
		 m->n[1].port);
	assert_int_equal(derper_proc_start(&m->tls, extra), 0);
	snprintf(want, sizeof(want),
		 "mesh: cannot link to derp1: derp1:%d: the server speaks plain HTTP, not TLS: run "
		 "msock-derper with -certmode manual",
		 m->n[1].port);
	while (!log_count(&m->tls, want) && th_ms_since(t0) < TH_WAIT_MS)
		usleep(50 * 1000);
	assert_int_equal(log_count(&m->tls, want), 1);
	usleep(2500 * 1000); /* two more dials */
	assert_int_equal(log_count(&m->tls, want), 1);
	assert_int_equal(log_count(&m->tls, "mesh: cannot link"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clients_on_two_servers_reach_each_other, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_watcher_sees_present_and_gone, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mesh_heals_after_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_link_to_plain_http_peer, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, 0, 0);
}

/* derper_mesh: two msock-derpers sharing a mesh key, each -mesh-with the
 * other, as one region: a client on one reaches a client on the other
 * (ForwardPacket), mesh-key clients too (derpprobe's); a watcher with the
 * mesh key sees PeerPresent for the clients already there (itself
 * included) with Tailscale's flags, and PeerGone when one leaves; a sender
 * leaving the region is told to those it sent to, across the mesh; a key at
 * two mesh peers stays reachable when it leaves one; ForwardPacket to a key
 * nobody has answers PeerGone(not here); ClosePeer may close its asker; a
 * mesh peer is not closed at a plain client's write timeout; the mesh heals
 * when a derper is restarted; a TLS derper's link to a plain HTTP one says
 * why it cannot come up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
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
	struct derper_proc n[3]; /* plain HTTP: the mesh link code is the same over TLS */
	char key_path[256];	 /* the mesh key, in n[0]'s directory */
	uint8_t key[32];
	struct derper_proc tls, tls2; /* TLS servers, for the tests that need them */
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
	    derper_proc_init(&m->n[2], false) < 0 || derper_proc_pick_ports(&m->n[0]) < 0 ||
	    derper_proc_pick_ports(&m->n[1]) < 0 || derper_proc_pick_ports(&m->n[2]) < 0 ||
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
	derper_proc_cleanup(&m->n[2]);
	derper_proc_cleanup(&m->tls);
	derper_proc_cleanup(&m->tls2);
	free(m);
	return 0;
}

/* Server i of three, each -mesh-with the other two. */
static void start3(struct mesh *m, int i)
{
	char extra[1024];
	int j = (i + 1) % 3, k = (i + 2) % 3;

	snprintf(extra, sizeof(extra),
		 "-stun=false -hostname derp%d -mesh-psk-file %s -mesh-with "
		 "derp%d/127.0.0.1:%d,derp%d/127.0.0.1:%d",
		 i, m->key_path, j, m->n[j].port, k, m->n[k].port);
	assert_int_equal(derper_proc_start(&m->n[i], extra), 0);
}

static struct dtc *client_opts(struct mesh *m, int i, struct dtc_opts o)
{
	char err[256];
	struct dtc *c;

	o.ip = "127.0.0.1";
	o.port = m->n[i].port;
	c = dtc_connect(&o, err, sizeof(err));
	if (!c)
		fail_msg("connect to derper %d: %s", i, err);
	return c;
}

static struct dtc *client(struct mesh *m, int i, const uint8_t *mesh_key)
{
	return client_opts(m, i, (struct dtc_opts){.mesh_key = mesh_key});
}

static struct dtc *watcher(struct mesh *m, int i)
{
	struct dtc *w = client(m, i, m->key);

	assert_int_equal(dtc_write_raw(w, "\x10\x00\x00\x00\x00", 5), 0); /* WatchConns */
	return w;
}

/* The next frame that is neither a KeepAlive nor a RecvPacket (a late copy
 * of a packet `reaches` sent). Returns its type, or -1 on timeout/EOF. */
static int next_control(struct dtc *c, int timeout_ms, uint8_t *buf, size_t cap, size_t *n)
{
	uint8_t type;

	for (;;) {
		if (dtc_recv_frame(c, timeout_ms, &type, buf, cap, n) != 1)
			return -1;
		if (type != DERP_FRAME_KEEP_ALIVE && type != DERP_FRAME_RECV_PACKET)
			return type;
	}
}

/* The client's port, as the server sees it (loopback, no NAT). */
static uint16_t local_port(struct dtc *c)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);

	assert_int_equal(getsockname(dtc_fd(c), (struct sockaddr *)&a, &l), 0);
	return ntohs(a.sin_port);
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

/* The watcher's first dump holds every client, the watcher itself too,
 * each with Tailscale's flags (presentFlags); a client that comes later is
 * announced with its address. */
static void test_watcher_dump_and_flags(void **state)
{
	struct mesh *m = *state;
	struct dtc *c[5], *w, *late;
	static const uint8_t want[5] = {
		DERP_PEER_PRESENT_IS_REGULAR,
		DERP_PEER_PRESENT_IS_PROBER,
		DERP_PEER_PRESENT_NOT_IDEAL,
		DERP_PEER_PRESENT_IS_PROBER | DERP_PEER_PRESENT_IS_MESH_PEER,
		DERP_PEER_PRESENT_IS_MESH_PEER, /* the watcher itself */
	};
	bool seen[5] = {false};
	uint8_t buf[128];
	size_t n;
	int left = 5;

	start(m, 0);
	c[0] = client(m, 0, 0);
	c[1] = client_opts(m, 0, (struct dtc_opts){.is_prober = true});
	c[2] = client_opts(m, 0, (struct dtc_opts){.ideal_node = "900a"});
	c[3] = client_opts(m, 0, (struct dtc_opts){.is_prober = true, .mesh_key = m->key});
	c[4] = w = watcher(m, 0);
	while (left > 0) {
		assert_int_equal(next_control(w, 5000, buf, sizeof(buf), &n),
				 DERP_FRAME_PEER_PRESENT);
		assert_int_equal(n, DERP_PEER_PRESENT_LEN);
		for (int i = 0; i < 5; i++) {
			if (memcmp(buf, dtc_pub(c[i])->b, KEY_LEN) != 0)
				continue;
			assert_false(seen[i]);
			assert_int_equal(buf[KEY_LEN + 18], want[i]);
			seen[i] = true;
			left--;
		}
	}
	late = client(m, 0, 0);
	assert_int_equal(next_control(w, 5000, buf, sizeof(buf), &n), DERP_FRAME_PEER_PRESENT);
	assert_memory_equal(buf, dtc_pub(late)->b, KEY_LEN);
	assert_memory_equal(buf + KEY_LEN, "\0\0\0\0\0\0\0\0\0\0\xff\xff\x7f\0\0\x01", 16);
	assert_int_equal(buf[KEY_LEN + 16] << 8 | buf[KEY_LEN + 17], local_port(late));
	assert_int_equal(buf[KEY_LEN + 18], DERP_PEER_PRESENT_IS_REGULAR);
	for (int i = 0; i < 5; i++)
		dtc_close(c[i]);
	dtc_close(late);
}

/* A client with the mesh key is a destination like any other: derpprobe's
 * mesh probe logs in with it and sends across the mesh. */
static void test_mesh_key_client_reachable(void **state)
{
	struct mesh *m = *state;
	struct dtc *a, *p;

	start(m, 0);
	start(m, 1);
	a = client(m, 0, 0);
	p = client_opts(m, 1, (struct dtc_opts){.is_prober = true, .mesh_key = m->key});
	assert_true(reaches(a, p, "to a prober with the mesh key"));
	assert_true(reaches(p, a, "from a prober with the mesh key"));
	dtc_close(a);
	dtc_close(p);
}

/* b on server 1 got packets from a on server 0: when a leaves, server 0
 * tells its watchers (server 1's link), and server 1 tells b. */
static void test_peer_gone_across_mesh(void **state)
{
	struct mesh *m = *state;
	struct dtc *a, *b;
	struct key32 ka;
	uint8_t buf[128];
	size_t n;

	start(m, 0);
	start(m, 1);
	a = client(m, 0, 0);
	b = client(m, 1, 0);
	ka = *dtc_pub(a);
	assert_true(reaches(a, b, "a to b, then a leaves"));
	dtc_close(a);
	assert_int_equal(next_control(b, 5000, buf, sizeof(buf), &n), DERP_FRAME_PEER_GONE);
	assert_memory_equal(buf, ka.b, KEY_LEN);
	assert_int_equal(buf[KEY_LEN], DERP_PEER_GONE_DISCONNECTED);
	dtc_close(b);
}

/* A key connected to servers 1 and 2 (a client moving between nodes of
 * the region) stays reachable from server 0 when it leaves server 2:
 * Tailscale keeps every peer that announced a key (multiForwarder). */
static void test_key_at_two_peers(void **state)
{
	struct mesh *m = *state;
	struct dtc *a, *k1, *k2, *w2, *c2;
	struct key32 k, kp;
	uint8_t buf[128];
	size_t n;

	for (int i = 0; i < 3; i++)
		start3(m, i);
	key_generate(&k);
	key_public(&k, &kp);
	a = client(m, 0, 0);
	k1 = client_opts(m, 1, (struct dtc_opts){.priv = &k});
	assert_true(reaches(a, k1, "to k on server 1"));
	w2 = watcher(m, 2);
	k2 = client_opts(m, 2, (struct dtc_opts){.priv = &k});
	dtc_close(k2);
	/* Server 2 has told its watchers (server 0's link among them) that k
	 * left, before it announces c2 on the same links. */
	for (;;) {
		int t = next_control(w2, 5000, buf, sizeof(buf), &n);
		assert_true(t >= 0);
		if (t == DERP_FRAME_PEER_GONE && memcmp(buf, kp.b, KEY_LEN) == 0)
			break;
	}
	c2 = client(m, 2, 0);
	assert_true(reaches(a, c2, "to c2 on server 2: server 0 has heard k leave server 2"));
	assert_true(reaches(a, k1, "to k on server 1, still"));
	dtc_close(a);
	dtc_close(k1);
	dtc_close(w2);
	dtc_close(c2);
}

/* A mesh peer's ForwardPacket for a key not here: dropped, and for a disco
 * packet PeerGone(not here) goes back to the mesh peer (Tailscale's
 * handleFrameForwardPacket). */
static void test_forward_to_unknown_is_not_here(void **state)
{
	struct mesh *m = *state;
	static const uint8_t magic[] = {0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac};
	uint8_t frame[5 + 64 + 80], buf[128];
	struct key32 nobody, nobody_pub;
	struct dtc *mc;
	size_t n;

	start(m, 0);
	mc = client(m, 0, m->key);
	key_generate(&nobody);
	key_public(&nobody, &nobody_pub);
	memset(frame, 0x44, sizeof(frame));
	frame[0] = DERP_FRAME_FORWARD_PACKET;
	frame[1] = frame[2] = 0;
	frame[3] = 0;
	frame[4] = (uint8_t)(sizeof(frame) - 5);
	memcpy(frame + 5, dtc_pub(mc)->b, KEY_LEN);
	memcpy(frame + 5 + KEY_LEN, nobody_pub.b, KEY_LEN);
	memcpy(frame + 5 + 64, magic, sizeof(magic));
	assert_int_equal(dtc_write_raw(mc, frame, sizeof(frame)), 0);
	assert_int_equal(next_control(mc, 5000, buf, sizeof(buf), &n), DERP_FRAME_PEER_GONE);
	assert_memory_equal(buf, nobody_pub.b, KEY_LEN);
	assert_int_equal(buf[KEY_LEN], DERP_PEER_GONE_NOT_HERE);
	dtc_close(mc);
}

/* A server that reaches itself through -mesh-with (its own name listed as
 * "name/dialhost") sees its own key and drops that link, as Tailscale's
 * "detected self-connect": it is not dialled again, so each server keeps
 * exactly one client, the other's link, not two (the self-link stayed
 * logged in before: a region of two derpers counted 5 clients for 3
 * nodes). */
static long long clients_of(const struct derper_proc *n)
{
	return derper_proc_metric(n, "derp_current_clients");
}

static bool one_client_each(const struct mesh *m)
{
	return clients_of(&m->n[0]) == 1 && clients_of(&m->n[1]) == 1;
}

static void test_self_link_dropped(void **state)
{
	struct mesh *m = *state;
	char extra[1024];
	uint64_t end;

	for (int i = 0; i < 2; i++) {
		snprintf(extra, sizeof(extra),
			 "-stun=false -hostname derp%d -mesh-psk-file %s -mesh-with "
			 "derp%d/127.0.0.1:%d,derp%d/127.0.0.1:%d",
			 i, m->key_path, i, m->n[i].port, 1 - i, m->n[1 - i].port);
		assert_int_equal(derper_proc_start(&m->n[i], extra), 0);
	}
	end = clock_mono_ns() + 10 * NS_PER_SEC;
	while (!one_client_each(m) && clock_mono_ns() < end)
		usleep(50 * 1000);
	assert_int_equal(clients_of(&m->n[0]), 1);
	assert_int_equal(clients_of(&m->n[1]), 1);
	assert_true(derper_proc_log_has(&m->n[0], "is this server"));
	assert_true(derper_proc_log_has(&m->n[1], "is this server"));
	/* Past two redial intervals (1 s): not dialled again. */
	usleep(2500 * 1000);
	assert_int_equal(clients_of(&m->n[0]), 1);
	assert_int_equal(clients_of(&m->n[1]), 1);
}

/* ClosePeer naming the asker closes the asker, as Tailscale. */
static void test_close_peer_self(void **state)
{
	struct mesh *m = *state;
	uint8_t frame[5 + KEY_LEN] = {DERP_FRAME_CLOSE_PEER, 0, 0, 0, KEY_LEN}, buf[128], type;
	struct dtc *mc;
	size_t n;
	int r;

	start(m, 0);
	mc = client(m, 0, m->key);
	memcpy(frame + 5, dtc_pub(mc)->b, KEY_LEN);
	assert_int_equal(dtc_write_raw(mc, frame, sizeof(frame)), 0);
	while ((r = dtc_recv_frame(mc, 5000, &type, buf, sizeof(buf), &n)) == 1)
		;
	assert_int_equal(r, -1);
	dtc_close(mc);
}

/* A mesh peer that stops reading keeps its connection past a plain
 * client's 2 s write timeout (Tailscale: privilegedWriteTimeout, 30 s). */
static void test_mesh_peer_write_timeout(void **state)
{
	struct mesh *m = *state;
	static uint8_t pkt[65536];
	struct dtc *mc, *a;
	uint64_t t0;

	start(m, 0);
	mc = client(m, 0, m->key);
	a = client(m, 0, 0);
	t0 = clock_mono_ns();
	while (th_ms_since(t0) < 3000) /* mc never reads */
		assert_int_equal(dtc_send_packet(a, dtc_pub(mc), pkt, sizeof(pkt)), 0);
	assert_int_equal(derper_proc_metric(&m->n[0], "derp_write_timeouts_total"), 0);
	assert_int_equal(derper_proc_metric(&m->n[0], "derp_current_clients"), 2);
	dtc_close(a);
	dtc_close(mc);
}

/* b reads and discards until told to stop (a thread). */
struct drain {
	struct dtc *b;
	volatile int stop;
	long got;
};

static void *drain_run(void *arg)
{
	struct drain *d = arg;
	static uint8_t buf[65536];
	struct key32 src;
	size_t n;

	while (!d->stop)
		d->got += dtc_recv_packet(d->b, 100, &src, buf, sizeof(buf), &n) == 1;
	return 0;
}

struct flood {
	struct dtc *a, *b;
	int n;
};

static void *flood_run(void *arg)
{
	struct flood *f = arg;
	static uint8_t pkt[65536];

	for (int i = 0; i < f->n; i++)
		if (dtc_send_packet(f->a, dtc_pub(f->b), pkt, sizeof(pkt)) != 0)
			break;
	return 0;
}

static long long fwd_out(struct derper_proc *p)
{
	return derper_proc_metric(p, "derp_packets_forwarded_out_total");
}

/* A TLS mesh link under a flood while its peer stops reading for a moment:
 * the link's socket fills (WANT_WRITE) with more packets queued behind.
 * The link stays up (OpenSSL must be told that a retried write may come
 * from a buffer that has grown and moved), and nothing is dropped: the
 * sender is not read while the link is full (Tailscale's ForwardPacket
 * blocks its sender), so derpprobe's bandwidth probe across the mesh gets
 * every packet. */
static void test_tls_link_under_flood(void **state)
{
	struct mesh *m = *state;
	struct derper_proc *t[2] = {&m->tls, &m->tls2};
	char extra[1024], text[4096];
	struct drain d = {0};
	struct flood f = {.n = 64};
	pthread_t dt, ft;
	long long f0;
	uint64_t t0;

	for (int i = 0; i < 2; i++)
		assert_int_equal(derper_proc_init(t[i], true), 0);
	/* One certificate for both: each trusts its own for its peer. */
	for (int i = 0; i < 2; i++) {
		const char *ext = i ? "key" : "crt";
		char path[256];
		FILE *fp;
		size_t n;
		snprintf(path, sizeof(path), "%s/derp.test.%s", t[0]->dir, ext);
		fp = fopen(path, "r");
		assert_non_null(fp);
		n = fread(text, 1, sizeof(text) - 1, fp);
		fclose(fp);
		text[n] = 0;
		snprintf(path, sizeof(path), "derp.test.%s", ext);
		assert_int_equal(derper_proc_write_file(t[1], path, text, 0, 0), 0);
	}
	assert_int_equal(derper_proc_pick_ports(t[0]), 0);
	assert_int_equal(derper_proc_pick_ports(t[1]), 0);
	for (int i = 0; i < 2; i++) {
		snprintf(extra, sizeof(extra),
			 "-stun=false -mesh-psk-file %s -mesh-with derp.test/127.0.0.1:%d",
			 m->key_path, t[1 - i]->port);
		assert_int_equal(derper_proc_start(t[i], extra), 0);
	}
	f.a = derper_proc_client(t[0], 0, false, extra, sizeof(extra));
	f.b = d.b = derper_proc_client(t[1], 0, false, extra, sizeof(extra));
	assert_non_null(f.a);
	assert_non_null(f.b);
	assert_true(reaches(f.a, f.b, "over the TLS mesh"));
	f0 = fwd_out(t[0]);
	t0 = clock_mono_ns();
	assert_int_equal(pthread_create(&dt, 0, drain_run, &d), 0);
	assert_int_equal(kill(t[1]->pid, SIGSTOP), 0);
	assert_int_equal(pthread_create(&ft, 0, flood_run, &f), 0);
	usleep(300 * 1000);
	assert_int_equal(kill(t[1]->pid, SIGCONT), 0);
	pthread_join(ft, 0);
	while (fwd_out(t[0]) - f0 < f.n && th_ms_since(t0) < TH_WAIT_MS)
		usleep(20 * 1000);
	d.stop = 1;
	pthread_join(dt, 0);
	print_message("%lld of %d packets of 64 KiB forwarded over the TLS mesh link in %llu ms "
		      "(%ld reached the receiver)\n",
		      fwd_out(t[0]) - f0, f.n, (unsigned long long)th_ms_since(t0), d.got);
	assert_false(derper_proc_log_has(t[0], "mesh: link to derp.test down"));
	assert_int_equal(fwd_out(t[0]) - f0, f.n);
	assert_int_equal(
		derper_proc_metric(t[0], "derp_packets_dropped_total{reason=\"queue_tail\"}"), 0);
	dtc_close(f.a);
	dtc_close(f.b);
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
		cmocka_unit_test_setup_teardown(test_watcher_dump_and_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mesh_key_client_reachable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_gone_across_mesh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_at_two_peers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forward_to_unknown_is_not_here, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_self_link_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_peer_self, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mesh_peer_write_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_link_under_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mesh_heals_after_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_link_to_plain_http_peer, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	/* msock-derper's own sanitizer reports count as failures too. */
	return cmocka_run_group_tests(tests, 0, 0) + (int)derper_proc_sanitizer_reports();
}

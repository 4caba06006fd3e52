/* pktchan_ipc_test: the packet channels over real ZeroMQ ipc:// sockets in
 * a temporary bus directory, both roles in one process. Every wait is a
 * bounded poll; nothing sleeps. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>
#include <zmq.h>

#include "clock.h"
#include "pktchan.h"
#include "harness.h"

enum {
	WAIT_MS = 5000,	     /* fail a test that waits longer than this */
	SHORT_POLL_MS = 10,  /* one step of a bounded wait */
	FLOOD_MAX = 1000000, /* sends before we give up waiting for a full queue */
	FLOOD_PAYLOAD_BYTES = 1024,
};

struct fix {
	char dir[64];
	void *ctx;
	struct pktchan *dp;
	struct pktchan *svc;
	void *raw; /* a hand-made peer */
	void *mon; /* a socket monitor's reader */
};

static uint8_t rxbuf[PKTCHAN_MAX_PAYLOAD_BYTES];
static uint8_t big[PKTCHAN_MAX_MSG_BYTES + 1];

static const char *const services[] = {"derp", "disco", "netcheck"};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/pktchan-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	chmod(f->dir, 0700);
	/* The broker makes a directory per channel (broker/main.c); here the
	 * test does, for the services it uses. */
	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
		char ch[128];
		snprintf(ch, sizeof(ch), "%s/ch-%s", f->dir, services[i]);
		assert_int_equal(mkdir(ch, 0700), 0);
	}
	f->ctx = zmq_ctx_new();
	assert_non_null(f->ctx);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	/* Stop the monitor before anything closes: an event sent while the
	 * sockets go down would be left in the monitor's pipe (and leak). */
	if (f->mon && f->dp)
		zmq_socket_monitor(pktchan_socket_rx(f->dp), NULL, 0);
	if (f->mon)
		zmq_close(f->mon);
	pktchan_free(f->svc);
	pktchan_free(f->dp);
	if (f->raw)
		zmq_close(f->raw);
	zmq_ctx_term(f->ctx);
	th_remove_tree(f->dir);
	free(f);
	return 0;
}

static struct pktchan_hdr udp(enum pktchan_kind kind, const char *ip, uint16_t port)
{
	struct pktchan_hdr h;

	memset(&h, 0, sizeof(h));
	h.kind = kind;
	assert_int_equal(ip_parse(ip, &h.addr), 0);
	h.addr.port = port;
	return h;
}

static struct pktchan_hdr derp(enum pktchan_kind kind, uint16_t region, uint8_t key_byte)
{
	struct pktchan_hdr h;

	memset(&h, 0, sizeof(h));
	h.kind = kind;
	h.region = region;
	memset(h.key, key_byte, sizeof(h.key));
	return h;
}

static void assert_hdr_equal(const struct pktchan_hdr *a, const struct pktchan_hdr *b)
{
	assert_int_equal(a->kind, b->kind);
	assert_true(ipport_equal(&a->addr, &b->addr));
	assert_int_equal(a->addr.port, b->addr.port);
	assert_int_equal(a->region, b->region);
	assert_memory_equal(a->key, b->key, sizeof(a->key));
}

/* Polls c's receive socket for at most ms. */
static void poll_rx(struct pktchan *c, long ms)
{
	zmq_pollitem_t it = {.socket = pktchan_socket_rx(c), .events = ZMQ_POLLIN};

	assert_true(zmq_poll(&it, 1, ms) >= 0);
}

/* Waits for the next pktchan_recv result other than -EAGAIN. */
static int recv_wait(struct pktchan *c, struct pktchan_hdr *h, size_t *len)
{
	uint64_t t0 = clock_mono_ns();
	int rc;

	for (;;) {
		rc = pktchan_recv(c, h, rxbuf, sizeof(rxbuf), len);
		if (rc != -EAGAIN)
			return rc;
		if (th_ms_since(t0) > WAIT_MS)
			fail_msg("nothing received in %d ms", WAIT_MS);
		poll_rx(c, SHORT_POLL_MS);
	}
}

/* Sends until a peer takes it (ZeroMQ connects in the background); returns
 * how many tries were dropped first. Waits by polling `waiter`. */
static int send_wait(struct pktchan *c, struct pktchan *waiter, const struct pktchan_hdr *h,
		     const uint8_t *p, size_t len)
{
	uint64_t t0 = clock_mono_ns();
	int drops = 0, rc;

	while ((rc = pktchan_send(c, h, p, len)) == -EAGAIN) {
		drops++;
		if (th_ms_since(t0) > WAIT_MS)
			fail_msg("no peer took a packet in %d ms", WAIT_MS);
		poll_rx(waiter, SHORT_POLL_MS);
	}
	assert_int_equal(rc, 0);
	return drops;
}

static void open_both(struct fix *f, const char *service)
{
	f->dp = pktchan_open(f->ctx, f->dir, service, PKTCHAN_ROLE_DATAPLANE);
	assert_non_null(f->dp);
	f->svc = pktchan_open(f->ctx, f->dir, service, PKTCHAN_ROLE_SERVICE);
	assert_non_null(f->svc);
}

static void expect_packet(struct pktchan *rx, const struct pktchan_hdr *want, const uint8_t *p,
			  size_t len)
{
	struct pktchan_hdr got;
	size_t got_len = 0;

	assert_int_equal(recv_wait(rx, &got, &got_len), 0);
	assert_hdr_equal(want, &got);
	assert_int_equal(got_len, len);
	assert_memory_equal(rxbuf, p, len);
}

static void test_open_bad_args(void **state)
{
	struct fix *f = *state;
	char longdir[200];

	errno = 0;
	assert_null(pktchan_open(f->ctx, f->dir, "disco", PKTCHAN_ROLE_INVALID));
	assert_int_equal(errno, EINVAL);
	assert_null(pktchan_open(f->ctx, f->dir, "", PKTCHAN_ROLE_SERVICE));
	assert_int_equal(errno, EINVAL);
	assert_null(pktchan_open(f->ctx, f->dir, "../x", PKTCHAN_ROLE_SERVICE));
	assert_int_equal(errno, EINVAL);
	memset(longdir, 'a', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = 0;
	assert_null(pktchan_open(f->ctx, longdir, "disco", PKTCHAN_ROLE_SERVICE));
	assert_int_equal(errno, ENAMETOOLONG);
	pktchan_free(NULL);
}

static void test_both_ways(void **state)
{
	struct fix *f = *state;
	struct pktchan_hdr up = udp(PKTCHAN_UDP_SEND, "198.18.0.3", 3478);
	struct pktchan_hdr down = udp(PKTCHAN_UDP_RECV, "2001:db8::7", 41641);
	struct pktchan_hdr dsend = derp(PKTCHAN_DERP_SEND, 0, 0xab);
	struct pktchan_hdr drecv = derp(PKTCHAN_DERP_RECV, 900, 0xcd);
	static uint8_t maxp[PKTCHAN_MAX_PAYLOAD_BYTES];
	struct pktchan_stats st;

	open_both(f, "disco");
	for (size_t i = 0; i < sizeof(maxp); i++)
		maxp[i] = (uint8_t)(i * 7);

	send_wait(f->svc, f->dp, &up, (const uint8_t *)"ping", 4);
	expect_packet(f->dp, &up, (const uint8_t *)"ping", 4);
	send_wait(f->dp, f->svc, &down, (const uint8_t *)"pong", 4);
	expect_packet(f->svc, &down, (const uint8_t *)"pong", 4);
	/* The largest payload fits under ZMQ_MAXMSGSIZE, both ways. */
	assert_int_equal(pktchan_send(f->svc, &up, maxp, sizeof(maxp)), 0);
	expect_packet(f->dp, &up, maxp, sizeof(maxp));
	assert_int_equal(pktchan_send(f->dp, &down, maxp, sizeof(maxp)), 0);
	expect_packet(f->svc, &down, maxp, sizeof(maxp));
	/* DERP kinds, and an empty payload. */
	assert_int_equal(pktchan_send(f->dp, &dsend, NULL, 0), 0);
	expect_packet(f->svc, &dsend, NULL, 0);
	assert_int_equal(pktchan_send(f->svc, &drecv, (const uint8_t *)"x", 1), 0);
	expect_packet(f->dp, &drecv, (const uint8_t *)"x", 1);
	/* What does not encode is refused before it reaches ZeroMQ. */
	dsend.kind = PKTCHAN_KIND_INVALID;
	assert_int_equal(pktchan_send(f->dp, &dsend, NULL, 0), -EINVAL);
	assert_int_equal(pktchan_send(f->dp, &down, maxp, sizeof(maxp) + 1), -EMSGSIZE);

	pktchan_stats(f->dp, &st);
	assert_int_equal(st.received, 3);
	assert_int_equal(st.sent, 3);
	assert_int_equal(st.malformed, 0);
	pktchan_stats(f->svc, &st);
	assert_int_equal(st.received, 3);
	assert_int_equal(st.sent, 3);
	assert_int_equal(st.malformed, 0);
}

static void test_no_peer_drops(void **state)
{
	struct fix *f = *state;
	struct pktchan_hdr h = udp(PKTCHAN_UDP_SEND, "192.0.2.1", 1);
	struct pktchan_stats st;
	uint64_t t0;
	size_t len;

	/* A service with no dataplane: ZMQ_IMMEDIATE, so nothing queues. */
	f->svc = pktchan_open(f->ctx, f->dir, "netcheck", PKTCHAN_ROLE_SERVICE);
	assert_non_null(f->svc);
	t0 = clock_mono_ns();
	assert_int_equal(pktchan_send(f->svc, &h, (const uint8_t *)"a", 1), -EAGAIN);
	assert_int_equal(pktchan_send(f->svc, &h, (const uint8_t *)"b", 1), -EAGAIN);
	assert_true(th_ms_since(t0) < 1000);
	pktchan_stats(f->svc, &st);
	assert_int_equal(st.dropped_full, 2);
	assert_int_equal(st.sent, 0);
	assert_int_equal(pktchan_recv(f->svc, &h, rxbuf, sizeof(rxbuf), &len), -EAGAIN);
	pktchan_free(f->svc);
	f->svc = NULL;

	/* A dataplane with no service. */
	f->dp = pktchan_open(f->ctx, f->dir, "derp", PKTCHAN_ROLE_DATAPLANE);
	assert_non_null(f->dp);
	h = derp(PKTCHAN_DERP_SEND, 0, 1);
	assert_int_equal(pktchan_send(f->dp, &h, (const uint8_t *)"a", 1), -EAGAIN);
	pktchan_stats(f->dp, &st);
	assert_int_equal(st.dropped_full, 1);
}

static void test_full_queue_drops(void **state)
{
	struct fix *f = *state;
	struct pktchan_hdr h = udp(PKTCHAN_UDP_SEND, "192.0.2.1", 9), got;
	static uint8_t p[FLOOD_PAYLOAD_BYTES];
	struct pktchan_stats tx, rx;
	uint64_t t0;
	size_t len;
	int rc = 0, i, drops;

	open_both(f, "disco");
	drops = send_wait(f->svc, f->dp, &h, p, sizeof(p));
	expect_packet(f->dp, &h, p, sizeof(p));
	/* Nobody drains the dataplane: the queues fill and sends drop. */
	for (i = 0; i < FLOOD_MAX; i++) {
		p[0] = (uint8_t)i;
		rc = pktchan_send(f->svc, &h, p, sizeof(p));
		if (rc == -EAGAIN)
			break;
		assert_int_equal(rc, 0);
	}
	assert_int_equal(rc, -EAGAIN);
	pktchan_stats(f->svc, &tx);
	assert_int_equal(tx.dropped_full, drops + 1);
	/* Bounded: no more than the two high-water marks and the kernel's
	 * socket buffers hold. */
	assert_true(tx.sent < 4 * PKTCHAN_QUEUE_PACKETS + 1000);
	/* Everything accepted arrives. */
	t0 = clock_mono_ns();
	for (;;) {
		pktchan_stats(f->dp, &rx);
		if (rx.received == tx.sent)
			break;
		if (th_ms_since(t0) > WAIT_MS)
			fail_msg("received %llu of %llu", (unsigned long long)rx.received,
				 (unsigned long long)tx.sent);
		rc = pktchan_recv(f->dp, &got, rxbuf, sizeof(rxbuf), &len);
		if (rc == -EAGAIN)
			poll_rx(f->dp, SHORT_POLL_MS);
		else
			assert_int_equal(rc, 0);
	}
}

/* A raw PUSH connected to the dataplane's "up" link, like a broken service. */
static void *raw_peer(struct fix *f, const char *service)
{
	char ep[256];
	const int linger = 0;
	void *s = zmq_socket(f->ctx, ZMQ_PUSH);

	assert_non_null(s);
	assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger)), 0);
	snprintf(ep, sizeof(ep), "ipc://%s/ch-%s/pkt-%s-up.ipc", f->dir, service, service);
	assert_int_equal(zmq_connect(s, ep), 0);
	return s;
}

static void raw_send(void *s, const void *p, size_t len, int flags)
{
	assert_int_equal(zmq_send(s, p, len, flags), (int)len);
}

static size_t good_msg(uint8_t *buf, size_t cap, const struct pktchan_hdr *h, const char *pl)
{
	size_t n = pktchan_hdr_encode(h, buf, cap);

	assert_int_equal(n, PKTCHAN_HDR_BYTES);
	memcpy(buf + n, pl, strlen(pl));
	return n + strlen(pl);
}

static void test_malformed_dropped(void **state)
{
	struct fix *f = *state;
	struct pktchan_hdr h = udp(PKTCHAN_UDP_SEND, "192.0.2.1", 53), got;
	uint8_t msg[PKTCHAN_HDR_BYTES + 16];
	struct pktchan_stats st;
	size_t n, len;

	f->dp = pktchan_open(f->ctx, f->dir, "disco", PKTCHAN_ROLE_DATAPLANE);
	assert_non_null(f->dp);
	f->raw = raw_peer(f, "disco");
	n = good_msg(msg, sizeof(msg), &h, "good");

	raw_send(f->raw, "twelve bytes", 12, 0);	       /* too short */
	raw_send(f->raw, msg, PKTCHAN_HDR_BYTES, ZMQ_SNDMORE); /* multipart */
	raw_send(f->raw, "more", 4, 0);
	msg[4] = 1; /* flags */
	raw_send(f->raw, msg, n, 0);
	msg[4] = 0;
	raw_send(f->raw, msg, n, 0); /* too big for the buffer below */
	raw_send(f->raw, msg, n, 0);

	assert_int_equal(recv_wait(f->dp, &got, &len), -EBADMSG);
	assert_int_equal(recv_wait(f->dp, &got, &len), -EBADMSG);
	assert_int_equal(recv_wait(f->dp, &got, &len), -EBADMSG);
	poll_rx(f->dp, WAIT_MS);
	assert_int_equal(pktchan_recv(f->dp, &got, rxbuf, 3, &len), -EMSGSIZE);
	expect_packet(f->dp, &h, (const uint8_t *)"good", 4);
	pktchan_stats(f->dp, &st);
	assert_int_equal(st.malformed, 3);
	assert_int_equal(st.dropped_cap, 1);
	assert_int_equal(st.received, 1);
}

/* Reads monitor events until `want` arrives. */
static void wait_event(void *mon, uint16_t want)
{
	uint64_t t0 = clock_mono_ns();

	for (;;) {
		zmq_pollitem_t it = {.socket = mon, .events = ZMQ_POLLIN};
		uint8_t ev[6];
		char addr[256];
		uint16_t id;

		if (th_ms_since(t0) > WAIT_MS)
			fail_msg("no monitor event 0x%x in %d ms", want, WAIT_MS);
		assert_true(zmq_poll(&it, 1, SHORT_POLL_MS) >= 0);
		if (!(it.revents & ZMQ_POLLIN))
			continue;
		assert_int_equal(zmq_recv(mon, ev, sizeof(ev), 0), (int)sizeof(ev));
		assert_true(zmq_recv(mon, addr, sizeof(addr), 0) >= 0);
		memcpy(&id, ev, sizeof(id)); /* host order, by libzmq's definition */
		if (id == want)
			return;
	}
}

static void test_oversize_disconnects(void **state)
{
	struct fix *f = *state;
	struct pktchan_hdr h = udp(PKTCHAN_UDP_SEND, "192.0.2.1", 53), got;
	uint8_t msg[PKTCHAN_HDR_BYTES + 16];
	struct pktchan_stats st;
	uint64_t t0;
	size_t n, len;
	int rc;

	f->dp = pktchan_open(f->ctx, f->dir, "derp", PKTCHAN_ROLE_DATAPLANE);
	assert_non_null(f->dp);
	assert_int_equal(zmq_socket_monitor(pktchan_socket_rx(f->dp), "inproc://pktchan-mon",
					    ZMQ_EVENT_DISCONNECTED),
			 0);
	f->mon = zmq_socket(f->ctx, ZMQ_PAIR);
	assert_non_null(f->mon);
	assert_int_equal(zmq_connect(f->mon, "inproc://pktchan-mon"), 0);

	f->raw = raw_peer(f, "derp");
	n = good_msg(msg, sizeof(msg), &h, "after");
	memcpy(big, msg, PKTCHAN_HDR_BYTES);
	raw_send(f->raw, big, sizeof(big), 0); /* one byte over ZMQ_MAXMSGSIZE */
	wait_event(f->mon, ZMQ_EVENT_DISCONNECTED);
	pktchan_stats(f->dp, &st);
	assert_int_equal(st.received + st.malformed, 0);

	/* The peer reconnects on its own and is heard again. */
	t0 = clock_mono_ns();
	for (;;) {
		if (th_ms_since(t0) > WAIT_MS)
			fail_msg("reconnected peer not heard in %d ms", WAIT_MS);
		raw_send(f->raw, msg, n, ZMQ_DONTWAIT);
		poll_rx(f->dp, 50);
		rc = pktchan_recv(f->dp, &got, rxbuf, sizeof(rxbuf), &len);
		if (rc == 0)
			break;
		assert_int_equal(rc, -EAGAIN);
	}
	assert_hdr_equal(&h, &got);
	assert_int_equal(len, 5);
	assert_memory_equal(rxbuf, "after", 5);

	/* And a real service works next to it. */
	f->svc = pktchan_open(f->ctx, f->dir, "derp", PKTCHAN_ROLE_SERVICE);
	assert_non_null(f->svc);
	h = derp(PKTCHAN_DERP_RECV, 2, 0x11);
	send_wait(f->svc, f->dp, &h, (const uint8_t *)"derp", 4);
	for (;;) { /* skip the raw peer's extra copies */
		assert_int_equal(recv_wait(f->dp, &got, &len), 0);
		if (got.kind == PKTCHAN_DERP_RECV)
			break;
	}
	assert_hdr_equal(&h, &got);
	assert_memory_equal(rxbuf, "derp", 4);
}

/* Waits until the dataplane notices the service is gone: sends drop. */
static void wait_peer_gone(struct pktchan *c, const struct pktchan_hdr *h)
{
	uint64_t t0 = clock_mono_ns();

	while (pktchan_send(c, h, (const uint8_t *)"?", 1) == 0) {
		if (th_ms_since(t0) > WAIT_MS)
			fail_msg("peer still connected after %d ms", WAIT_MS);
		poll_rx(c, SHORT_POLL_MS);
	}
}

/* After a restart the side that stayed up may still write into the old
 * connection for a moment, so send until the packet is heard. */
static void send_until_heard(struct pktchan *tx, struct pktchan *rx, const struct pktchan_hdr *h,
			     const char *p)
{
	uint64_t t0 = clock_mono_ns();
	struct pktchan_hdr got;
	size_t len;
	int rc;

	for (;;) {
		if (th_ms_since(t0) > WAIT_MS)
			fail_msg("\"%s\" not heard in %d ms", p, WAIT_MS);
		rc = pktchan_send(tx, h, (const uint8_t *)p, strlen(p));
		assert_true(rc == 0 || rc == -EAGAIN);
		poll_rx(rx, 50);
		while ((rc = pktchan_recv(rx, &got, rxbuf, sizeof(rxbuf), &len)) == 0)
			if (len == strlen(p) && memcmp(rxbuf, p, len) == 0) {
				assert_hdr_equal(h, &got);
				return;
			}
		assert_int_equal(rc, -EAGAIN);
	}
}

static void test_service_restart(void **state)
{
	struct fix *f = *state;
	struct pktchan_hdr up = udp(PKTCHAN_UDP_SEND, "198.18.0.3", 3478);
	struct pktchan_hdr down = udp(PKTCHAN_UDP_RECV, "198.18.0.3", 3478);

	open_both(f, "disco");
	send_wait(f->svc, f->dp, &up, (const uint8_t *)"one", 3);
	expect_packet(f->dp, &up, (const uint8_t *)"one", 3);
	send_wait(f->dp, f->svc, &down, (const uint8_t *)"one", 3);
	expect_packet(f->svc, &down, (const uint8_t *)"one", 3);

	/* The service crashes and comes back. */
	pktchan_free(f->svc);
	f->svc = NULL;
	wait_peer_gone(f->dp, &down);
	f->svc = pktchan_open(f->ctx, f->dir, "disco", PKTCHAN_ROLE_SERVICE);
	assert_non_null(f->svc);
	send_until_heard(f->dp, f->svc, &down, "two");
	send_until_heard(f->svc, f->dp, &up, "two");

	/* The dataplane restarts: it binds again and the service reconnects. */
	pktchan_free(f->dp);
	f->dp = pktchan_open(f->ctx, f->dir, "disco", PKTCHAN_ROLE_DATAPLANE);
	assert_non_null(f->dp);
	send_until_heard(f->svc, f->dp, &up, "three");
	send_until_heard(f->dp, f->svc, &down, "three");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_bad_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_both_ways, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_peer_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_queue_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_disconnects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_restart, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

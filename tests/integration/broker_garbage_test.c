/* broker_garbage: garbage on the bus (bad protobuf, unknown topic, wrong
 * frame count, a state topic sent as an event, an oversized frame, refused
 * state requests, a malformed control request) is counted and dropped, and
 * the broker keeps serving: a TestPing still gets testcomp's TestPong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "harness.h"
#include "testcomp.pb-c.h"

struct raw {
	void *ctx, *pub, *sub, *dealer;
	struct th_broker *b;
};

static void *connect_to(struct raw *r, int type, const char *ep)
{
	char addr[512];
	void *s = bus_socket(r->ctx, type, 1 << 20);

	snprintf(addr, sizeof(addr), "ipc://%s/%s", r->b->bus_dir, ep);
	assert_int_equal(zmq_connect(s, addr), 0);
	return s;
}

static void send_frames(void *s, const void *const *p, const size_t *len, int n)
{
	for (int i = 0; i < n; i++)
		assert_true(zmq_send(s, p[i], len[i], i < n - 1 ? ZMQ_SNDMORE : 0) >= 0);
}

/* Sends TestPing seq until a TestPong with that seq comes back. */
static bool ping_pong(struct raw *r, uint64_t seq)
{
	Msock__TestPing ping = MSOCK__TEST_PING__INIT;
	uint8_t buf[64];
	size_t len;

	ping.seq = seq;
	len = msock__test_ping__pack(&ping, buf);
	for (int i = 0; i < TH_WAIT_MS / 50; i++) {
		zmq_pollitem_t it = {.socket = r->sub, .events = ZMQ_POLLIN};
		send_frames(r->pub, (const void *[]){"TestPing", buf}, (size_t[]){8, len}, 2);
		while (zmq_poll(&it, 1, 50) > 0) {
			char topic[32];
			uint8_t body[256];
			int tn = zmq_recv(r->sub, topic, sizeof(topic), 0);
			int bn = zmq_recv(r->sub, body, sizeof(body), 0);
			Msock__TestPong *pong;
			if (tn != 8 || memcmp(topic, "TestPong", 8) || bn < 0)
				continue;
			pong = msock__test_pong__unpack(0, (size_t)bn, body);
			bool match = pong && pong->seq == seq;
			if (pong)
				msock__test_pong__free_unpacked(pong, 0);
			if (match)
				return true;
		}
	}
	return false;
}

struct counter_wait {
	struct th_broker *b;
	const char *name;
	long long want;
};

static bool counter_reached(void *arg)
{
	struct counter_wait *w = arg;
	return th_bus_counter(w->b, w->name) >= w->want;
}

static void expect_counter(struct th_broker *b, const char *name, long long want)
{
	struct counter_wait w = {b, name, want};

	if (!th_wait(counter_reached, &w))
		fail_msg("Bus.%s is %lld, want %lld", name, th_bus_counter(b, name), want);
}

/* Waits for the broker's [ERR][text] answer on the dealer. */
static void expect_refusal(struct raw *r, const char *needle)
{
	zmq_pollitem_t it = {.socket = r->dealer, .events = ZMQ_POLLIN};
	char verb[8] = "", text[512] = "";
	int n;

	assert_int_equal(zmq_poll(&it, 1, TH_WAIT_MS), 1);
	n = zmq_recv(r->dealer, verb, sizeof(verb) - 1, 0);
	assert_int_equal(n, 3);
	assert_memory_equal(verb, "ERR", 3);
	n = zmq_recv(r->dealer, text, sizeof(text) - 1, 0);
	assert_true(n > 0);
	text[n] = 0;
	if (!strstr(text, needle))
		fail_msg("refusal \"%s\" does not mention \"%s\"", text, needle);
}

/* Components.testcomp.Bus.BadKey in status is 1 (its BusStats). */
static bool testcomp_bad_key(void *arg)
{
	json_t *st = th_status(arg);
	json_t *bus = json_object_get(
		json_object_get(json_object_get(st, "Components"), "testcomp"), "Bus");
	bool yes = json_integer_value(json_object_get(bus, "BadKey")) == 1;

	json_decref(st);
	return yes;
}

static void test_garbage_is_counted_and_dropped(void **state)
{
	struct th_broker *b = *state;
	struct raw r = {0};
	static uint8_t big[300 * 1024];
	const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff};
	void *pub2;

	assert_int_equal(th_broker_start(b, "[\"testcomp\"]", ""), 0);
	r.b = b;
	r.ctx = zmq_ctx_new();
	r.pub = connect_to(&r, ZMQ_PUB, "pub.ipc");
	r.sub = connect_to(&r, ZMQ_SUB, "sub.ipc");
	zmq_setsockopt(r.sub, ZMQ_SUBSCRIBE, "TestPong", 8);
	zmq_setsockopt(r.dealer = bus_socket(r.ctx, ZMQ_DEALER, 1 << 20), ZMQ_ROUTING_ID, "garbler",
		       7);
	{
		char addr[512];
		snprintf(addr, sizeof(addr), "ipc://%s/req.ipc", b->bus_dir);
		assert_int_equal(zmq_connect(r.dealer, addr), 0);
	}
	assert_true(ping_pong(&r, 1));

	/* Events. */
	send_frames(r.pub, (const void *[]){"TestPing", junk}, (size_t[]){8, sizeof(junk)}, 2);
	expect_counter(b, "BadBody", 1);
	send_frames(r.pub, (const void *[]){"NoSuchTopic", "x"}, (size_t[]){11, 1}, 2);
	expect_counter(b, "UnknownTopic", 1);
	send_frames(r.pub, (const void *[]){"TestPing", "", ""}, (size_t[]){8, 0, 0}, 3);
	expect_counter(b, "BadFrames", 1);
	send_frames(r.pub, (const void *[]){"TestCounter", ""}, (size_t[]){11, 0}, 2);
	expect_counter(b, "WrongChannel", 1);

	/* State requests that must be refused, each with a reason. */
	send_frames(r.dealer, (const void *[]){"SET", "TestPing", "k", ""}, (size_t[]){3, 8, 1, 0},
		    4);
	expect_refusal(&r, "TestPing is not a state topic");
	send_frames(r.dealer, (const void *[]){"SET", "ServiceState", "k", ""},
		    (size_t[]){3, 12, 1, 0}, 4);
	expect_refusal(&r, "ServiceState is owned by broker");
	send_frames(r.dealer, (const void *[]){"SET", "Health", "k", junk},
		    (size_t[]){3, 6, 1, sizeof(junk)}, 4);
	expect_refusal(&r, "body does not decode");
	send_frames(r.dealer, (const void *[]){"SET", "Health", "bad\nkey", ""},
		    (size_t[]){3, 6, 7, 0}, 4);
	expect_refusal(&r, "malformed SET");
	send_frames(r.dealer, (const void *[]){"BOGUS"}, (size_t[]){5}, 1);
	expect_refusal(&r, "unknown request verb");
	expect_counter(b, "StateRefused", 5);

	/* An oversized frame: libzmq drops that peer; the broker counts it. */
	pub2 = connect_to(&r, ZMQ_PUB, "pub.ipc");
	long long before = th_bus_counter(b, "Disconnects");
	for (int i = 0; i < 20 && th_bus_counter(b, "Disconnects") == before; i++) {
		send_frames(pub2, (const void *[]){"TestPing", big}, (size_t[]){8, sizeof(big)}, 2);
		usleep(50000);
	}
	expect_counter(b, "Disconnects", before + 1);

	/* A control request that is not a ControlRequest. */
	{
		void *req = bus_socket(r.ctx, ZMQ_REQ, 1 << 20);
		char addr[512], reply[512];
		int timeout = 5000, n;
		snprintf(addr, sizeof(addr), "ipc://%s", b->control);
		zmq_setsockopt(req, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
		assert_int_equal(zmq_connect(req, addr), 0);
		assert_int_equal(zmq_send(req, junk, sizeof(junk), 0), (int)sizeof(junk));
		n = zmq_recv(req, reply, sizeof(reply) - 1, 0);
		assert_true(n > 0);
		reply[n] = 0;
		/* ControlReply{ok=false, error="..."}: the text is in the bytes. */
		assert_non_null(memmem(reply, (size_t)n, "does not decode", 15));
		zmq_close(req);
	}

	/* A state key the component cannot parse (testcomp reads Health by
	 * node key): the broker takes it (a tool may set any Health key), the
	 * component counts it in lib/bus, and `msockctl status` shows it. */
	send_frames(r.dealer, (const void *[]){"SET", "Health", "not-a-node-key", ""},
		    (size_t[]){3, 6, 14, 0}, 4);
	assert_true(th_wait(testcomp_bad_key, b));
	assert_true(th_log_contains(b, "bus: Health key \"not-a-node-key\": not a node key in "
				       "hex; dropped"));

	/* Still serving: events flow, status answers, testcomp untouched. */
	assert_true(ping_pong(&r, 2));
	assert_int_equal(th_comp_restarts(b, "testcomp"), 0);
	assert_true(th_log_contains(b, "bus: dropped event message"));

	zmq_close(pub2);
	zmq_close(r.pub);
	zmq_close(r.sub);
	zmq_close(r.dealer);
	zmq_ctx_term(r.ctx);
}

/* A flood of the same bad message logs one line per interval, not one per
 * message, and every message is still counted. */
static void test_flood_is_rate_limited(void **state)
{
	struct th_broker *b = *state;
	struct raw r = {0};
	FILE *f;
	char line[1024];
	int lines = 0;

	assert_int_equal(th_broker_start(b, "[]", ""), 0);
	r.b = b;
	r.ctx = zmq_ctx_new();
	r.pub = connect_to(&r, ZMQ_PUB, "pub.ipc");
	int hwm = 100000; /* the default 1000 would drop part of the flood here */
	zmq_setsockopt(r.pub, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	/* XSUB subscribes to everything: wait until our PUB sees it. */
	for (int i = 0; i < 100 && th_bus_counter(b, "UnknownTopic") == 0; i++) {
		send_frames(r.pub, (const void *[]){"Junk", "x"}, (size_t[]){4, 1}, 2);
		usleep(20000);
	}
	long long before = th_bus_counter(b, "UnknownTopic");
	for (int i = 0; i < 1000; i++)
		send_frames(r.pub, (const void *[]){"Junk", "x"}, (size_t[]){4, 1}, 2);
	expect_counter(b, "UnknownTopic", before + 1000);
	f = fopen(b->log, "r");
	while (f && fgets(line, sizeof(line), f))
		lines += strstr(line, "dropped event message") != 0;
	if (f)
		fclose(f);
	print_message("1000+ bad messages -> %d log line(s)\n", lines);
	assert_in_range(lines, 1, 2);
	zmq_close(r.pub);
	zmq_ctx_term(r.ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_garbage_is_counted_and_dropped, th_setup,
						th_teardown),
		cmocka_unit_test_setup_teardown(test_flood_is_rate_limited, th_setup, th_teardown),
	};

	return cmocka_run_group_tests(tests, 0, 0);
}

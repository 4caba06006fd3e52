/* bus_client_test: the bus client (lib/bus.h) against a fake broker that
 * the test runs in-process on the real ipc:// layout of lib/bus_wire.h:
 * XPUB on sub.ipc, XSUB on pub.ipc, ROUTER on req.ipc. The test plays the
 * broker frame by frame (snapshots, updates, gaps, heartbeats, garbage) and
 * drives the client with bus_pollitems/bus_dispatch in bounded loops. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "bus.h"
#include "bus_frames.h"
#include "bus_wire.h"
#include "clock.h"
#include "state.pb-c.h"
#include "testcomp.pb-c.h"
#include "harness.h"

enum {
	WAIT_MS = 5000, /* fail a test that waits longer than this */
	STEP_MS = 10,	/* one poll of a bounded wait */
	QUIET_MS = 100, /* how long "nothing happens" is watched for */
	RECS_MAX = 64,	/* messages a test records */
	BODY_MAX_BYTES = 256,
};

#define CLIENT_NAME "tester"
#define PREFIX	    "Test"
/* The fake broker's epochs: the one it starts with, and after a "restart". */
#define EPOCH_1 0x1111222233334444ull
#define EPOCH_2 0x5555666677778888ull

/* One message the client handed to on_msg, copied out of the callback. */
struct rec {
	enum bus_msg_kind kind;
	char topic[BUS_TOPIC_NAME_MAX + 1]; /* "" when NULL */
	char prefix[BUS_TOPIC_NAME_MAX + 1];
	char key[BUS_KEY_MAX + 1];
	uint64_t seq;
	bool deleted, from_snapshot, has_msg;
	uint64_t value;	   /* TestCounter.generation or TestPing.seq */
	uint8_t node_key0; /* m->node_key[0] */
	uint32_t region;   /* m->region */
};

struct fix {
	char dir[64];
	void *ctx;
	void *xpub, *xsub, *router;
	struct bus *b;
	struct rec recs[RECS_MAX];
	int n_recs;
	/* The client's routing id as the ROUTER saw it: libzmq's, since the
	 * client sets none (the broker knows it from the kernel). */
	uint8_t rid[256];
	size_t rid_len;
};

static void on_msg(void *arg, const struct bus_msg *m)
{
	struct fix *f = arg;
	struct rec *r;

	if (f->n_recs >= RECS_MAX)
		fail_msg("more than %d messages", RECS_MAX);
	r = &f->recs[f->n_recs++];
	memset(r, 0, sizeof(*r));
	r->kind = m->kind;
	snprintf(r->topic, sizeof(r->topic), "%s", m->topic ? m->topic->name : "");
	snprintf(r->prefix, sizeof(r->prefix), "%s", m->prefix ? m->prefix : "");
	snprintf(r->key, sizeof(r->key), "%s", m->key ? m->key : "");
	r->seq = m->seq;
	r->deleted = m->deleted;
	r->from_snapshot = m->from_snapshot;
	r->has_msg = m->msg != NULL;
	r->node_key0 = m->node_key[0];
	r->region = m->region;
	if (m->msg && m->msg->descriptor == &msock__test_counter__descriptor)
		r->value = ((const Msock__TestCounter *)m->msg)->generation;
	else if (m->msg && m->msg->descriptor == &msock__test_ping__descriptor)
		r->value = ((const Msock__TestPing *)m->msg)->seq;
	else if (m->msg)
		fail_msg("message of an unexpected type %s", m->msg->descriptor->name);
}

static void *bind_sock(struct fix *f, int type, const char *ep)
{
	char addr[128];
	void *s = bus_socket(f->ctx, type, BUS_MAX_MSG_BYTES);

	assert_non_null(s);
	snprintf(addr, sizeof(addr), "ipc://%s/%s", f->dir, ep);
	assert_int_equal(zmq_bind(s, addr), 0);
	return s;
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	int one = 1;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/bus-client-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	chmod(f->dir, 0700);
	f->ctx = zmq_ctx_new();
	assert_non_null(f->ctx);
	f->xpub = bind_sock(f, ZMQ_XPUB, BUS_EP_SUB);
	f->xsub = bind_sock(f, ZMQ_XSUB, BUS_EP_PUB);
	f->router = bind_sock(f, ZMQ_ROUTER, BUS_EP_REQ);
	/* A reply to an unknown id fails loudly instead of vanishing. */
	assert_int_equal(zmq_setsockopt(f->router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one)), 0);
	f->b = bus_open(f->dir, CLIENT_NAME, on_msg, f);
	assert_non_null(f->b);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	bus_free(f->b);
	zmq_close(f->xpub);
	zmq_close(f->xsub);
	zmq_close(f->router);
	zmq_ctx_term(f->ctx);
	th_remove_tree(f->dir);
	free(f);
	return 0;
}

/* One round of the client's loop: poll what it asks for, then dispatch. */
static void client_step(struct fix *f, long ms)
{
	zmq_pollitem_t items[2];
	int n = bus_pollitems(f->b, items, 2);

	assert_true(n >= 1 && n <= 2);
	assert_true(zmq_poll(items, n, ms) >= 0);
	bus_dispatch(f->b, clock_mono_ns());
}

/* Runs the client until it has recorded `n` messages. */
static void wait_recs(struct fix *f, int n)
{
	uint64_t t0 = clock_mono_ns();

	while (f->n_recs < n) {
		if (th_ms_since(t0) > WAIT_MS)
			fail_msg("%d messages after %d ms, want %d", f->n_recs, WAIT_MS, n);
		client_step(f, STEP_MS);
	}
}

/* Runs the client until a counter of bus_stats reaches `want`. */
static void wait_stat(struct fix *f, size_t offset, uint64_t want)
{
	uint64_t t0 = clock_mono_ns();

	for (;;) {
		const uint64_t *v = (const uint64_t *)((const char *)bus_stats(f->b) + offset);
		if (*v >= want)
			return;
		if (th_ms_since(t0) > WAIT_MS)
			fail_msg("counter at %llu after %d ms, want %llu", (unsigned long long)*v,
				 WAIT_MS, (unsigned long long)want);
		client_step(f, STEP_MS);
	}
}

#define WAIT_STAT(f, field, want) wait_stat(f, offsetof(struct bus_stats, field), want)

/* Runs the client for QUIET_MS (to see that nothing happens). */
static void run_quiet(struct fix *f)
{
	uint64_t t0 = clock_mono_ns();

	while (th_ms_since(t0) < QUIET_MS)
		client_step(f, STEP_MS);
}

/* Receives one message on a fake-broker socket, waiting at most WAIT_MS. */
static void recv_on(void *sock, struct bus_frames *fr)
{
	zmq_pollitem_t it = {.socket = sock, .events = ZMQ_POLLIN};

	assert_int_equal(zmq_poll(&it, 1, WAIT_MS), 1);
	assert_int_equal(bus_frames_recv(sock, fr), 0);
}

/* Notes the routing id of a request; the client sets none, so it is
 * libzmq's: 5 bytes, the first 0. */
static void note_rid(struct fix *f, struct bus_span id)
{
	assert_int_equal(id.len, 5);
	assert_int_equal(id.p[0], 0);
	memcpy(f->rid, id.p, id.len);
	f->rid_len = id.len;
}

/* Expects [routing id][want...] on the ROUTER. */
static void expect_request(struct fix *f, const char *const *want, int n)
{
	struct bus_frames fr;
	struct bus_span s[BUS_MAX_FRAMES];

	recv_on(f->router, &fr);
	assert_int_equal(bus_frames_spans(&fr, s, BUS_MAX_FRAMES), n + 1);
	note_rid(f, s[0]);
	for (int i = 0; i < n; i++) {
		char got[256];
		snprintf(got, sizeof(got), "%.*s", (int)s[i + 1].len, (const char *)s[i + 1].p);
		assert_string_equal(got, want[i]);
		assert_true(bus_span_is(s[i + 1], want[i]));
	}
	bus_frames_close(&fr);
}

static void expect_snap(struct fix *f, const char *prefix)
{
	const char *const want[] = {BUS_VERB_SNAP, prefix};

	expect_request(f, want, 2);
}

/* True when the ROUTER gets nothing within QUIET_MS. */
static bool router_quiet(struct fix *f)
{
	zmq_pollitem_t it = {.socket = f->router, .events = ZMQ_POLLIN};

	return zmq_poll(&it, 1, QUIET_MS) == 0;
}

static void send_frames(void *sock, const void *const *p, const size_t *len, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(zmq_send(sock, p[i], len[i], i < n - 1 ? ZMQ_SNDMORE : 0),
				 (int)len[i]);
}

/* [routing id][parts...] on the ROUTER, to the client's last request. */
static void reply(struct fix *f, const void *const *p, const size_t *len, int n)
{
	assert_int_not_equal(f->rid_len, 0);
	assert_int_equal(zmq_send(f->router, f->rid, f->rid_len, ZMQ_SNDMORE), (int)f->rid_len);
	send_frames(f->router, p, len, n);
}

static size_t pack_counter(uint8_t *buf, uint64_t gen)
{
	Msock__TestCounter c = MSOCK__TEST_COUNTER__INIT;

	c.name = "testcomp";
	c.generation = gen;
	assert_true(msock__test_counter__get_packed_size(&c) <= BODY_MAX_BYTES);
	return msock__test_counter__pack(&c, buf);
}

static size_t pack_ping(uint8_t *buf, uint64_t seq)
{
	Msock__TestPing p = MSOCK__TEST_PING__INIT;

	p.seq = seq;
	assert_true(msock__test_ping__get_packed_size(&p) <= BODY_MAX_BYTES);
	return msock__test_ping__pack(&p, buf);
}

static void reply_tseq_epoch(struct fix *f, const char *topic, uint64_t seq, uint64_t epoch)
{
	uint8_t s[8], e[8];

	bus_put_be64(s, seq);
	bus_put_be64(e, epoch);
	reply(f, (const void *[]){BUS_VERB_TSEQ, topic, s, e},
	      (size_t[]){strlen(BUS_VERB_TSEQ), strlen(topic), sizeof(s), sizeof(e)}, 4);
}

static void reply_tseq(struct fix *f, const char *topic, uint64_t seq)
{
	reply_tseq_epoch(f, topic, seq, EPOCH_1);
}

/* A KV of TestCounter with generation gen. */
static void reply_kv(struct fix *f, const char *key, uint64_t seq, uint64_t gen, uint8_t flags)
{
	uint8_t body[BODY_MAX_BYTES], m[BUS_META_BYTES];
	size_t len = flags & BUS_META_DELETED ? 0 : pack_counter(body, gen);

	bus_meta_encode(&(struct bus_meta){seq, flags}, m);
	reply(f, (const void *[]){BUS_VERB_KV, "TestCounter", body, key, m},
	      (size_t[]){strlen(BUS_VERB_KV), strlen("TestCounter"), len, strlen(key), sizeof(m)},
	      5);
}

static void reply_end(struct fix *f, const char *prefix)
{
	reply(f, (const void *[]){BUS_VERB_END, prefix},
	      (size_t[]){strlen(BUS_VERB_END), strlen(prefix)}, 2);
}

/* Waits until the XPUB has the client's subscription to prefix, so that
 * what it publishes from now on reaches the client (ipc slow joiner). */
static void wait_subscribed(struct fix *f, const char *prefix)
{
	uint64_t t0 = clock_mono_ns();
	size_t pl = strlen(prefix);

	for (;;) {
		zmq_pollitem_t it = {.socket = f->xpub, .events = ZMQ_POLLIN};
		uint8_t buf[128];
		int n;

		if (th_ms_since(t0) > WAIT_MS)
			fail_msg("no subscription to \"%s\" in %d ms", prefix, WAIT_MS);
		if (zmq_poll(&it, 1, STEP_MS) <= 0)
			continue;
		n = zmq_recv(f->xpub, buf, sizeof(buf), 0);
		if (n == (int)pl + 1 && buf[0] == 1 && memcmp(buf + 1, prefix, pl) == 0)
			return;
	}
}

/* [topic][body][key][meta] on the XPUB. */
static void pub_state(struct fix *f, const char *topic, const uint8_t *body, size_t len,
		      const char *key, uint64_t seq, uint8_t flags)
{
	uint8_t m[BUS_META_BYTES];

	bus_meta_encode(&(struct bus_meta){seq, flags}, m);
	send_frames(f->xpub, (const void *[]){topic, body, key, m},
		    (size_t[]){strlen(topic), len, strlen(key), sizeof(m)}, 4);
}

static void pub_counter(struct fix *f, const char *key, uint64_t seq, uint64_t gen)
{
	uint8_t body[BODY_MAX_BYTES];
	size_t len = pack_counter(body, gen);

	pub_state(f, "TestCounter", body, len, key, seq, 0);
}

static void pub_heartbeat(struct fix *f, uint64_t seq)
{
	pub_state(f, "TestCounter", (const uint8_t *)"", 0, "", seq, 0);
}

/* [BrokerHeartbeat][body] on the XPUB. */
static void pub_broker_heartbeat(struct fix *f, uint64_t epoch)
{
	Msock__BrokerHeartbeat hb = MSOCK__BROKER_HEARTBEAT__INIT;
	uint8_t body[BODY_MAX_BYTES];
	size_t len;

	hb.epoch = epoch;
	len = msock__broker_heartbeat__pack(&hb, body);
	send_frames(f->xpub, (const void *[]){BUS_T_BrokerHeartbeat, body},
		    (size_t[]){strlen(BUS_T_BrokerHeartbeat), len}, 2);
}

/* Expects [SET][TestCounter][key][generation gen] on the ROUTER. */
static void expect_set_counter(struct fix *f, const char *key, uint64_t gen)
{
	struct bus_frames fr;
	struct bus_span s[BUS_MAX_FRAMES];
	Msock__TestCounter *got;

	recv_on(f->router, &fr);
	assert_int_equal(bus_frames_spans(&fr, s, BUS_MAX_FRAMES), 5);
	assert_true(bus_span_is(s[1], BUS_VERB_SET));
	assert_true(bus_span_is(s[2], "TestCounter"));
	assert_true(bus_span_is(s[3], key));
	got = msock__test_counter__unpack(NULL, s[4].len, s[4].p);
	assert_non_null(got);
	assert_int_equal(got->generation, gen);
	msock__test_counter__free_unpacked(got, NULL);
	bus_frames_close(&fr);
}

/* Subscribes to PREFIX and answers the snapshot: TestCounter at tseq with
 * key "a" (generation 1) at tseq. Returns when SNAPSHOT_END is in. */
static void sync_at(struct fix *f, uint64_t tseq)
{
	int base = f->n_recs;

	assert_int_equal(bus_subscribe(f->b, PREFIX), 0);
	expect_snap(f, PREFIX);
	wait_subscribed(f, PREFIX);
	reply_tseq(f, "TestCounter", tseq);
	reply_kv(f, "a", tseq, 1, 0);
	reply_end(f, PREFIX);
	wait_recs(f, base + 3);
	assert_int_equal(f->recs[base + 2].kind, BUS_MSG_SNAPSHOT_END);
	assert_false(bus_syncing(f->b));
}

static const struct rec *last(const struct fix *f)
{
	assert_true(f->n_recs > 0);
	return &f->recs[f->n_recs - 1];
}

static void assert_state_rec(const struct rec *r, const char *key, uint64_t seq, uint64_t gen,
			     bool from_snapshot)
{
	assert_int_equal(r->kind, BUS_MSG_STATE);
	assert_string_equal(r->topic, "TestCounter");
	assert_string_equal(r->key, key);
	assert_int_equal(r->seq, seq);
	assert_false(r->deleted);
	assert_true(r->has_msg);
	assert_int_equal(r->value, gen);
	assert_int_equal(r->from_snapshot, from_snapshot);
}

/* ---- tests ---- */

static void test_subscribe_snapshot(void **state)
{
	struct fix *f = *state;
	zmq_pollitem_t items[2];

	assert_false(bus_syncing(f->b));
	assert_int_equal(bus_pollitems(f->b, items, 2), 2);
	assert_int_equal(bus_pollitems(f->b, items, 1), -EINVAL);

	assert_int_equal(bus_subscribe(f->b, PREFIX), 0);
	expect_snap(f, PREFIX);
	/* While the snapshot is outstanding, SUB is left out. */
	assert_true(bus_syncing(f->b));
	assert_int_equal(bus_pollitems(f->b, items, 2), 1);
	wait_subscribed(f, PREFIX);

	/* An update that follows the snapshot, sent before it: held back. */
	pub_counter(f, "c", 6, 3);
	run_quiet(f);
	assert_int_equal(f->n_recs, 0);

	reply_tseq(f, "TestCounter", 5);
	reply_kv(f, "a", 3, 41, 0);
	reply_kv(f, "b", 5, 42, 0);
	reply_end(f, PREFIX);
	wait_recs(f, 5);

	assert_int_equal(f->recs[0].kind, BUS_MSG_SNAPSHOT_BEGIN);
	assert_string_equal(f->recs[0].topic, "TestCounter");
	assert_false(f->recs[0].has_msg);
	assert_state_rec(&f->recs[1], "a", 3, 41, true);
	assert_state_rec(&f->recs[2], "b", 5, 42, true);
	assert_int_equal(f->recs[3].kind, BUS_MSG_SNAPSHOT_END);
	assert_string_equal(f->recs[3].prefix, PREFIX);
	assert_string_equal(f->recs[3].topic, "");
	/* Then the held update, live. */
	assert_state_rec(&f->recs[4], "c", 6, 3, false);

	assert_false(bus_syncing(f->b));
	assert_int_equal(bus_pollitems(f->b, items, 2), 2);
	assert_int_equal(bus_stats(f->b)->state_in, 3);
	assert_int_equal(bus_stats(f->b)->gaps, 0);
	assert_int_equal(bus_stats(f->b)->stale, 0);
}

static void test_next_update_delivered(void **state)
{
	struct fix *f = *state;

	sync_at(f, 5);
	pub_counter(f, "a", 6, 2);
	wait_recs(f, 4);
	assert_state_rec(last(f), "a", 6, 2, false);
	pub_counter(f, "z", 7, 9);
	wait_recs(f, 5);
	assert_state_rec(last(f), "z", 7, 9, false);
	assert_int_equal(bus_stats(f->b)->gaps, 0);
}

static void test_stale_ignored(void **state)
{
	struct fix *f = *state;

	sync_at(f, 5);
	pub_counter(f, "a", 4, 100); /* older than the snapshot */
	pub_counter(f, "a", 5, 100); /* the snapshot's own */
	pub_counter(f, "a", 6, 2);
	wait_recs(f, 4);
	assert_state_rec(last(f), "a", 6, 2, false);
	assert_int_equal(bus_stats(f->b)->stale, 2);
	assert_int_equal(bus_stats(f->b)->gaps, 0);
	assert_int_equal(bus_stats(f->b)->resyncs, 0);
	assert_false(bus_syncing(f->b));
}

static void test_gap_resyncs(void **state)
{
	struct fix *f = *state;

	sync_at(f, 5);
	pub_counter(f, "a", 8, 100); /* 6 and 7 were lost */
	WAIT_STAT(f, gaps, 1);
	expect_snap(f, "TestCounter");
	assert_int_equal(bus_stats(f->b)->resyncs, 1);
	assert_true(bus_syncing(f->b));
	assert_int_equal(f->n_recs, 3); /* seq 8 was not delivered */

	/* The next update waits for the resync; the snapshot brings 8. */
	pub_counter(f, "a", 9, 200);
	run_quiet(f);
	assert_int_equal(f->n_recs, 3);
	reply_tseq(f, "TestCounter", 8);
	reply_kv(f, "a", 8, 100, 0);
	reply_end(f, "TestCounter");
	wait_recs(f, 7);
	assert_int_equal(f->recs[3].kind, BUS_MSG_SNAPSHOT_BEGIN);
	assert_state_rec(&f->recs[4], "a", 8, 100, true);
	assert_int_equal(f->recs[5].kind, BUS_MSG_SNAPSHOT_END);
	assert_string_equal(f->recs[5].prefix, "TestCounter");
	assert_state_rec(&f->recs[6], "a", 9, 200, false);
	assert_false(bus_syncing(f->b));
	assert_int_equal(bus_stats(f->b)->gaps, 1);
}

static void test_heartbeat_up_to_date(void **state)
{
	struct fix *f = *state;

	sync_at(f, 5);
	pub_heartbeat(f, 5);
	pub_counter(f, "a", 6, 2);
	wait_recs(f, 4);
	assert_state_rec(last(f), "a", 6, 2, false);
	pub_heartbeat(f, 6);
	pub_heartbeat(f, 3);
	pub_counter(f, "a", 7, 3);
	wait_recs(f, 5);
	assert_state_rec(last(f), "a", 7, 3, false);
	assert_int_equal(bus_stats(f->b)->resyncs, 0);
	assert_int_equal(bus_stats(f->b)->gaps, 0);
	assert_int_equal(bus_stats(f->b)->stale, 0);
	assert_false(bus_syncing(f->b));
	assert_true(router_quiet(f));
}

static void test_heartbeat_ahead_resyncs(void **state)
{
	struct fix *f = *state;

	sync_at(f, 5);
	pub_heartbeat(f, 6); /* the update with 6 was lost */
	WAIT_STAT(f, resyncs, 1);
	expect_snap(f, "TestCounter");
	assert_int_equal(bus_stats(f->b)->gaps, 1);
	assert_true(bus_syncing(f->b));
	assert_int_equal(f->n_recs, 3);
}

static void test_deletion(void **state)
{
	struct fix *f = *state;
	const struct rec *r;

	sync_at(f, 5);
	pub_state(f, "TestCounter", (const uint8_t *)"", 0, "a", 6, BUS_META_DELETED);
	wait_recs(f, 4);
	r = last(f);
	assert_int_equal(r->kind, BUS_MSG_STATE);
	assert_string_equal(r->key, "a");
	assert_int_equal(r->seq, 6);
	assert_true(r->deleted);
	assert_false(r->has_msg);
	assert_false(r->from_snapshot);
}

/* With a dispatch table, a message goes to its topic's row; a key that
 * does not parse as the row says, and a topic no row takes, are counted and
 * dropped in lib/bus; what a row does not take (here deletions) is left
 * alone, uncounted. */
static void test_dispatch_table(void **state)
{
	struct fix *f = *state;
	const char *node = "ab00000000000000000000000000000000000000000000000000000000000001";
	static const struct bus_handler by_node[] = {
		{BUS_T_TestCounter, BUS_H_STATE, BUS_KEY_NODE, on_msg},
	};
	static const struct bus_handler by_region[] = {
		{BUS_T_TestCounter, BUS_H_STATE | BUS_H_DELETED, BUS_KEY_REGION, on_msg},
	};
	static const char *const bad_regions[] = {"0", "01", "-1", "9x", " 9", "2147483648"};
	uint8_t body[BODY_MAX_BYTES];
	size_t len = pack_counter(body, 9);
	uint8_t ping[BODY_MAX_BYTES];
	size_t plen = pack_ping(ping, 1);
	uint64_t seq = 5;
	int n;

	sync_at(f, seq);
	bus_handle_with(f->b, by_node, 1);
	n = f->n_recs;
	pub_state(f, "TestCounter", body, len, node, ++seq, 0);
	wait_recs(f, n + 1);
	assert_string_equal(last(f)->key, node);
	assert_int_equal(last(f)->node_key0, 0xab);
	pub_state(f, "TestCounter", body, len, "not-hex", ++seq, 0);
	WAIT_STAT(f, bad_key, 1);
	pub_state(f, "TestCounter", (const uint8_t *)"", 0, node, ++seq, BUS_META_DELETED);
	send_frames(f->xpub, (const void *[]){"TestPing", ping}, (size_t[]){8, plen}, 2);
	WAIT_STAT(f, no_handler, 1);
	assert_int_equal(f->n_recs, n + 1); /* the deletion was not handed over */
	assert_int_equal(bus_stats(f->b)->bad_key, 1);

	bus_handle_with(f->b, by_region, 1);
	pub_state(f, "TestCounter", body, len, "900", ++seq, 0);
	wait_recs(f, n + 2);
	assert_int_equal(last(f)->region, 900);
	for (size_t i = 0; i < sizeof(bad_regions) / sizeof(bad_regions[0]); i++) {
		pub_state(f, "TestCounter", body, len, bad_regions[i], ++seq, 0);
		WAIT_STAT(f, bad_key, 2 + i);
	}
	pub_state(f, "TestCounter", (const uint8_t *)"", 0, "901", ++seq, BUS_META_DELETED);
	wait_recs(f, n + 3);
	assert_true(last(f)->deleted);
	assert_int_equal(last(f)->region, 901);
	assert_int_equal(f->n_recs, n + 3);
}

static void test_garbage_dropped(void **state)
{
	struct fix *f = *state;
	static const uint8_t junk[] = {0xff, 0xff, 0xff};
	uint8_t body[BODY_MAX_BYTES], short_meta[BUS_META_BYTES - 1] = {0};
	size_t len = pack_counter(body, 5);
	const struct bus_stats *st = bus_stats(f->b);

	sync_at(f, 5);
	/* bad_body: a state body and an event body that do not decode. */
	pub_state(f, "TestCounter", junk, sizeof(junk), "a", 6, 0);
	send_frames(f->xpub, (const void *[]){"TestPing", junk}, (size_t[]){8, sizeof(junk)}, 2);
	/* unknown_topic (it starts with the prefix, so SUB lets it in). */
	pub_state(f, "TestNoSuchTopic", body, len, "a", 6, 0);
	/* bad_frames: 3 frames, 5 frames, 9 frames, a state topic as an
	 * event, a short meta frame, a key with a control character. */
	send_frames(f->xpub, (const void *[]){"TestCounter", body, "a"}, (size_t[]){11, len, 1}, 3);
	send_frames(f->xpub, (const void *[]){"TestCounter", body, "a", "x", "y"},
		    (size_t[]){11, len, 1, 1, 1}, 5);
	{
		const void *p[BUS_MAX_FRAMES + 1];
		size_t l[BUS_MAX_FRAMES + 1];
		for (int i = 0; i <= BUS_MAX_FRAMES; i++) {
			p[i] = "TestCounter";
			l[i] = 11;
		}
		send_frames(f->xpub, p, l, BUS_MAX_FRAMES + 1);
	}
	send_frames(f->xpub, (const void *[]){"TestCounter", body}, (size_t[]){11, len}, 2);
	send_frames(f->xpub, (const void *[]){"TestCounter", body, "a", short_meta},
		    (size_t[]){11, len, 1, sizeof(short_meta)}, 4);
	pub_state(f, "TestCounter", body, len, "a\x01", 6, 0);
	/* Then good ones: state with the next number, and an event. */
	pub_counter(f, "a", 6, 66);
	{
		uint8_t ping[BODY_MAX_BYTES];
		size_t pl = pack_ping(ping, 77);
		send_frames(f->xpub, (const void *[]){"TestPing", ping}, (size_t[]){8, pl}, 2);
	}
	wait_recs(f, 5);
	assert_state_rec(&f->recs[3], "a", 6, 66, false);
	assert_int_equal(f->recs[4].kind, BUS_MSG_EVENT);
	assert_string_equal(f->recs[4].topic, "TestPing");
	assert_true(f->recs[4].has_msg);
	assert_int_equal(f->recs[4].value, 77);
	assert_int_equal(st->bad_body, 2);
	assert_int_equal(st->unknown_topic, 1);
	assert_int_equal(st->bad_frames, 6);
	assert_int_equal(st->events_in, 1);
	assert_int_equal(st->gaps, 0);
	assert_int_equal(st->resyncs, 0);
}

static void test_err_counted(void **state)
{
	struct fix *f = *state;

	sync_at(f, 5);
	reply(f, (const void *[]){BUS_VERB_ERR, "TestCounter is owned by testcomp"},
	      (size_t[]){3, strlen("TestCounter is owned by testcomp")}, 2);
	WAIT_STAT(f, refused, 1);
	/* An ERR without text counts too. */
	reply(f, (const void *[]){BUS_VERB_ERR}, (size_t[]){3}, 1);
	WAIT_STAT(f, refused, 2);
	assert_false(bus_syncing(f->b));
	assert_int_equal(f->n_recs, 3);
}

/* A broker refuses a SNAP whose prefix is longer than a topic name
 * (bus_proxy.c on_snap) with [ERR] and nothing else. The client must not
 * wait for that snapshot forever with its SUB socket switched off. */
static void test_refused_snapshot_does_not_block(void **state)
{
	struct fix *f = *state;
	char prefix[BUS_TOPIC_NAME_MAX + 8];
	static const char text[] = "malformed SNAP: want [prefix] of at most 48 printable bytes";
	zmq_pollitem_t items[2];
	int rc;

	memset(prefix, 'T', sizeof(prefix) - 1);
	prefix[sizeof(prefix) - 1] = 0;
	rc = bus_subscribe(f->b, prefix);
	if (rc == -EINVAL)
		return; /* refused up front: fine too */
	assert_int_equal(rc, 0);
	expect_snap(f, prefix);
	reply(f, (const void *[]){BUS_VERB_ERR, text}, (size_t[]){3, strlen(text)}, 2);
	WAIT_STAT(f, refused, 1);
	assert_false(bus_syncing(f->b));
	assert_int_equal(bus_pollitems(f->b, items, 2), 2);
}

/* bus_wait_synced: -ETIMEDOUT with no answer, -EINTR as soon as the wake
 * fd is readable (the snapshot still outstanding), 0 once it is in. */
static void test_wait_synced_wake_fd(void **state)
{
	struct fix *f = *state;
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(bus_subscribe(f->b, PREFIX), 0);
	expect_snap(f, PREFIX);
	assert_int_equal(bus_wait_synced(f->b, 20, p[0]), -ETIMEDOUT);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(bus_wait_synced(f->b, WAIT_MS, p[0]), -EINTR);
	assert_true(bus_syncing(f->b));
	reply_tseq(f, "TestCounter", 1);
	reply_end(f, PREFIX);
	assert_int_equal(bus_wait_synced(f->b, WAIT_MS, -1), 0);
	assert_false(bus_syncing(f->b));
	close(p[0]);
	close(p[1]);
}

/* "msg: decoded body; NULL when deleted": a KV with the deleted flag must
 * not reach the component as a live value without a body. */
static void test_snapshot_kv_deleted_flag(void **state)
{
	struct fix *f = *state;

	assert_int_equal(bus_subscribe(f->b, PREFIX), 0);
	expect_snap(f, PREFIX);
	reply_tseq(f, "TestCounter", 5);
	reply_kv(f, "gone", 4, 0, BUS_META_DELETED);
	reply_kv(f, "a", 5, 1, 0);
	reply_end(f, PREFIX);
	wait_recs(f, 3);
	while (last(f)->kind != BUS_MSG_SNAPSHOT_END)
		wait_recs(f, f->n_recs + 1);
	for (int i = 0; i < f->n_recs; i++)
		if (f->recs[i].kind == BUS_MSG_STATE)
			assert_true(f->recs[i].has_msg || f->recs[i].deleted);
}

static void test_snapshot_garbage_counted(void **state)
{
	struct fix *f = *state;
	uint8_t s[8] = {0};

	assert_int_equal(bus_subscribe(f->b, PREFIX), 0);
	expect_snap(f, PREFIX);
	/* TSEQ of an event topic, of an unknown one, a short sequence
	 * number, a short epoch, no epoch (the old layout), an unknown verb:
	 * all dropped and counted. */
	reply(f, (const void *[]){BUS_VERB_TSEQ, "TestPing", s, s}, (size_t[]){4, 8, 8, 8}, 4);
	reply(f, (const void *[]){BUS_VERB_TSEQ, "Nope", s, s}, (size_t[]){4, 4, 8, 8}, 4);
	reply(f, (const void *[]){BUS_VERB_TSEQ, "TestCounter", s, s}, (size_t[]){4, 11, 7, 8}, 4);
	reply(f, (const void *[]){BUS_VERB_TSEQ, "TestCounter", s, s}, (size_t[]){4, 11, 8, 7}, 4);
	reply(f, (const void *[]){BUS_VERB_TSEQ, "TestCounter", s}, (size_t[]){4, 11, 8}, 3);
	reply(f, (const void *[]){"HUH"}, (size_t[]){3}, 1);
	reply_tseq(f, "TestCounter", 5);
	reply_kv(f, "a", 5, 1, 0);
	reply_end(f, PREFIX);
	wait_recs(f, 3);
	assert_int_equal(f->recs[0].kind, BUS_MSG_SNAPSHOT_BEGIN);
	assert_state_rec(&f->recs[1], "a", 5, 1, true);
	assert_int_equal(f->recs[2].kind, BUS_MSG_SNAPSHOT_END);
	assert_int_equal(bus_stats(f->b)->unknown_topic, 2);
	assert_int_equal(bus_stats(f->b)->bad_frames, 4);
	assert_int_equal(bus_stats(f->b)->broker_restarts, 0);
}

/* The broker's heartbeat with the epoch the client knows changes nothing;
 * a new epoch (a restarted broker, an empty cache) makes the client ask
 * for every snapshot again and set every key it set (and did not delete)
 * again, oldest first, without the component doing anything. */
static void test_broker_restart_sets_again(void **state)
{
	struct fix *f = *state;
	Msock__TestCounter c = MSOCK__TEST_COUNTER__INIT;
	const char *const del[] = {BUS_VERB_DEL, "TestCounter", "k2"};

	wait_subscribed(f, BUS_T_BrokerHeartbeat);
	sync_at(f, 5);
	c.name = "testcomp";
	c.generation = 7;
	assert_int_equal(bus_state_set(f->b, "TestCounter", "k1", &c.base), 0);
	c.generation = 8;
	assert_int_equal(bus_state_set(f->b, "TestCounter", "k2", &c.base), 0);
	c.generation = 9;
	assert_int_equal(bus_state_set(f->b, "TestCounter", "k3", &c.base), 0);
	assert_int_equal(bus_state_del(f->b, "TestCounter", "k2"), 0);
	expect_set_counter(f, "k1", 7);
	expect_set_counter(f, "k2", 8);
	expect_set_counter(f, "k3", 9);
	expect_request(f, del, 3);

	/* The same broker: nothing. */
	pub_broker_heartbeat(f, EPOCH_1);
	run_quiet(f);
	assert_true(router_quiet(f));
	assert_int_equal(bus_stats(f->b)->broker_restarts, 0);
	assert_int_equal(bus_stats(f->b)->events_in, 0);

	/* A restarted one: the snapshot again, then k1 and k3 again. */
	pub_broker_heartbeat(f, EPOCH_2);
	WAIT_STAT(f, broker_restarts, 1);
	expect_snap(f, PREFIX);
	expect_set_counter(f, "k1", 7);
	expect_set_counter(f, "k3", 9);
	assert_true(router_quiet(f));
	assert_true(bus_syncing(f->b));
	/* Its cache starts over: sequence numbers from 1 are not stale. */
	reply_tseq_epoch(f, "TestCounter", 2, EPOCH_2);
	reply_kv(f, "k1", 1, 7, 0);
	reply_kv(f, "k3", 2, 9, 0);
	reply_end(f, PREFIX);
	/* sync_at's three, then BEGIN, k1, k3, END: wait for the END. */
	wait_recs(f, 7);
	assert_int_equal(last(f)->kind, BUS_MSG_SNAPSHOT_END);
	assert_int_equal(bus_stats(f->b)->state_in, 3);
	assert_false(bus_syncing(f->b));
	pub_counter(f, "k1", 3, 10);
	WAIT_STAT(f, state_in, 4);
	assert_state_rec(last(f), "k1", 3, 10, false);
	assert_int_equal(bus_stats(f->b)->stale, 0);
	assert_int_equal(bus_stats(f->b)->broker_restarts, 1);
}

/* A snapshot answered by a new broker (the request was queued while the
 * old one died) counts as a restart too. */
static void test_restart_seen_in_snapshot(void **state)
{
	struct fix *f = *state;
	Msock__TestCounter c = MSOCK__TEST_COUNTER__INIT;

	sync_at(f, 5);
	c.name = "testcomp";
	c.generation = 3;
	assert_int_equal(bus_state_set(f->b, "TestCounter", "mine", &c.base), 0);
	expect_set_counter(f, "mine", 3);
	assert_int_equal(bus_subscribe(f->b, "TestC"), 0);
	expect_snap(f, "TestC");
	reply_tseq_epoch(f, "TestCounter", 0, EPOCH_2);
	WAIT_STAT(f, broker_restarts, 1);
	expect_snap(f, PREFIX);
	expect_snap(f, "TestC");
	expect_set_counter(f, "mine", 3);
}

static void test_publish_event(void **state)
{
	struct fix *f = *state;
	Msock__TestPing ping = MSOCK__TEST_PING__INIT;
	uint64_t t0 = clock_mono_ns();
	struct bus_frames fr;
	struct bus_span s[BUS_MAX_FRAMES];
	Msock__TestPing *got;
	int sent = 0;

	/* XSUB: subscribe to everything, so the client's PUB sends. */
	assert_int_equal(zmq_send(f->xsub, "\x01", 1, 0), 1);
	ping.seq = 12345;
	ping.payload.data = (uint8_t *)"payload";
	ping.payload.len = 7;
	for (;;) {
		zmq_pollitem_t it = {.socket = f->xsub, .events = ZMQ_POLLIN};
		if (th_ms_since(t0) > WAIT_MS)
			fail_msg("no event at the XSUB after %d sends", sent);
		/* PUB drops until the subscription is in: send until one lands. */
		assert_int_equal(bus_publish(f->b, "TestPing", &ping.base), 0);
		sent++;
		if (zmq_poll(&it, 1, STEP_MS) == 1)
			break;
	}
	assert_int_equal(bus_frames_recv(f->xsub, &fr), 0);
	assert_int_equal(bus_frames_spans(&fr, s, BUS_MAX_FRAMES), 2);
	assert_true(bus_span_is(s[0], "TestPing"));
	got = msock__test_ping__unpack(NULL, s[1].len, s[1].p);
	assert_non_null(got);
	assert_int_equal(got->seq, 12345);
	assert_int_equal(got->payload.len, 7);
	assert_memory_equal(got->payload.data, "payload", 7);
	msock__test_ping__free_unpacked(got, NULL);
	bus_frames_close(&fr);
	assert_int_equal(bus_stats(f->b)->events_out, (uint64_t)sent);
}

static void test_state_set_and_del(void **state)
{
	struct fix *f = *state;
	Msock__TestCounter c = MSOCK__TEST_COUNTER__INIT;
	Msock__TestCounter *got;
	struct bus_frames fr;
	struct bus_span s[BUS_MAX_FRAMES];
	const char *const del[] = {BUS_VERB_DEL, "TestCounter", "k1"};

	c.name = "testcomp";
	c.generation = 7;
	assert_int_equal(bus_state_set(f->b, "TestCounter", "k1", &c.base), 0);
	recv_on(f->router, &fr);
	assert_int_equal(bus_frames_spans(&fr, s, BUS_MAX_FRAMES), 5);
	note_rid(f, s[0]);
	assert_true(bus_span_is(s[1], BUS_VERB_SET));
	assert_true(bus_span_is(s[2], "TestCounter"));
	assert_true(bus_span_is(s[3], "k1"));
	got = msock__test_counter__unpack(NULL, s[4].len, s[4].p);
	assert_non_null(got);
	assert_int_equal(got->generation, 7);
	assert_string_equal(got->name, "testcomp");
	msock__test_counter__free_unpacked(got, NULL);
	bus_frames_close(&fr);
	assert_int_equal(bus_stats(f->b)->state_out, 1);

	assert_int_equal(bus_state_del(f->b, "TestCounter", "k1"), 0);
	expect_request(f, del, 3);
}

static void test_wrong_topic_or_type(void **state)
{
	struct fix *f = *state;
	Msock__TestPing ping = MSOCK__TEST_PING__INIT;
	Msock__TestCounter c = MSOCK__TEST_COUNTER__INIT;
	char long_key[BUS_KEY_MAX + 2];

	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = 0;
	/* Events: a state topic, an unknown topic, the wrong message type. */
	assert_int_equal(bus_publish(f->b, "TestCounter", &c.base), -EINVAL);
	assert_int_equal(bus_publish(f->b, "NoSuchTopic", &ping.base), -EINVAL);
	assert_int_equal(bus_publish(f->b, "TestPing", &c.base), -EINVAL);
	assert_int_equal(bus_publish(f->b, "TestPong", &ping.base), -EINVAL);
	/* State: an event topic, the wrong type, an unknown topic, a long key. */
	assert_int_equal(bus_state_set(f->b, "TestPing", "k", &ping.base), -EINVAL);
	assert_int_equal(bus_state_set(f->b, "TestCounter", "k", &ping.base), -EINVAL);
	assert_int_equal(bus_state_set(f->b, "NoSuchTopic", "k", &c.base), -EINVAL);
	assert_int_equal(bus_state_set(f->b, "TestCounter", long_key, &c.base), -EINVAL);
	assert_int_equal(bus_state_del(f->b, "TestPing", "k"), -EINVAL);
	assert_int_equal(bus_state_del(f->b, "TestCounter", long_key), -EINVAL);
	assert_int_equal(bus_stats(f->b)->events_out, 0);
	assert_int_equal(bus_stats(f->b)->state_out, 0);
	/* Nothing reached the broker. */
	assert_true(router_quiet(f));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_subscribe_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_next_update_delivered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gap_resyncs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broker_restart_sets_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_seen_in_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heartbeat_up_to_date, setup, teardown),
		cmocka_unit_test_setup_teardown(test_heartbeat_ahead_resyncs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deletion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dispatch_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_err_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_snapshot_does_not_block, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_wait_synced_wake_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_kv_deleted_flag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_garbage_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_publish_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_set_and_del, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_topic_or_type, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

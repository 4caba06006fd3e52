/* bus_frames_test: the pure checks of lib/bus_frames.h on hand-built frame
 * spans with real protobuf bodies: well-formed events and state updates,
 * one test per malformed case, the span helpers and the meta frame; and
 * bus_frames_recv/bus_frames_spans on an inproc socket pair. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bus_frames.h"
#include "state.pb-c.h"
#include "testcomp.pb-c.h"

enum {
	BODY_MAX_BYTES = 256,
};

struct msgbuf {
	uint8_t body[BODY_MAX_BYTES];
	size_t body_len;
	uint8_t meta[BUS_META_BYTES];
	struct bus_span f[BUS_MAX_FRAMES];
};

static struct bus_span lit(const char *s)
{
	return (struct bus_span){(const uint8_t *)s, strlen(s)};
}

static struct bus_span span(const uint8_t *p, size_t len)
{
	return (struct bus_span){p, len};
}

static size_t pack_ping(uint8_t *buf, uint64_t seq)
{
	Msock__TestPing ping = MSOCK__TEST_PING__INIT;

	ping.seq = seq;
	ping.payload.data = (uint8_t *)"hi";
	ping.payload.len = 2;
	assert_true(msock__test_ping__get_packed_size(&ping) <= BODY_MAX_BYTES);
	return msock__test_ping__pack(&ping, buf);
}

static size_t pack_counter(uint8_t *buf, const char *name, uint64_t gen)
{
	Msock__TestCounter c = MSOCK__TEST_COUNTER__INIT;

	c.name = (char *)name;
	c.generation = gen;
	assert_true(msock__test_counter__get_packed_size(&c) <= BODY_MAX_BYTES);
	return msock__test_counter__pack(&c, buf);
}

/* [TestPing][body] */
static void build_event(struct msgbuf *m, uint64_t seq)
{
	m->body_len = pack_ping(m->body, seq);
	m->f[0] = lit("TestPing");
	m->f[1] = span(m->body, m->body_len);
}

/* [TestCounter][body][key][meta] */
static void build_state(struct msgbuf *m, const char *key, uint64_t seq, uint8_t flags)
{
	struct bus_meta meta = {seq, flags};

	m->body_len = pack_counter(m->body, "testcomp", 41);
	bus_meta_encode(&meta, m->meta);
	m->f[0] = lit("TestCounter");
	m->f[1] = span(m->body, m->body_len);
	m->f[2] = lit(key);
	m->f[3] = span(m->meta, sizeof(m->meta));
}

static int check_state(struct msgbuf *m, int n, char *key, struct bus_meta *meta)
{
	const struct bus_topic *t = NULL;

	return bus_check_state(m->f, n, &t, key, meta, NULL);
}

/* ---- events ---- */

static void test_event_ok(void **state)
{
	struct msgbuf m;
	const struct bus_topic *t = NULL;
	ProtobufCMessage *out = NULL;
	Msock__TestPing *ping;

	(void)state;
	build_event(&m, 7);
	assert_int_equal(bus_check_event(m.f, 2, &t, &out), BUS_OK);
	assert_non_null(t);
	assert_string_equal(t->name, "TestPing");
	assert_int_equal(t->kind, BUS_TOPIC_EVENT);
	assert_non_null(out);
	assert_ptr_equal(out->descriptor, &msock__test_ping__descriptor);
	ping = (Msock__TestPing *)out;
	assert_int_equal(ping->seq, 7);
	assert_int_equal(ping->payload.len, 2);
	assert_memory_equal(ping->payload.data, "hi", 2);
	protobuf_c_message_free_unpacked(out, NULL);
	/* Without an out pointer it only checks. */
	t = NULL;
	assert_int_equal(bus_check_event(m.f, 2, &t, NULL), BUS_OK);
	assert_string_equal(t->name, "TestPing");
}

static void test_event_empty_body(void **state)
{
	struct msgbuf m;
	const struct bus_topic *t = NULL;
	ProtobufCMessage *out = NULL;

	(void)state;
	build_event(&m, 0);
	m.f[1] = span(m.body, 0);
	/* proto3: an empty body is a message with every field at its default. */
	assert_int_equal(bus_check_event(m.f, 2, &t, &out), BUS_OK);
	assert_non_null(out);
	assert_int_equal(((Msock__TestPing *)out)->seq, 0);
	protobuf_c_message_free_unpacked(out, NULL);
}

static void test_event_wrong_frame_count(void **state)
{
	struct msgbuf m;
	const struct bus_topic *t = NULL;

	(void)state;
	build_event(&m, 1);
	m.f[2] = lit("extra");
	assert_int_equal(bus_check_event(m.f, 1, &t, NULL), BUS_ERR_FRAMES);
	assert_int_equal(bus_check_event(m.f, 3, &t, NULL), BUS_ERR_FRAMES);
	assert_int_equal(bus_check_event(m.f, 0, &t, NULL), BUS_ERR_FRAMES);
	assert_int_equal(bus_check_event(m.f, BUS_MAX_FRAMES + 1, &t, NULL), BUS_ERR_FRAMES);
	assert_null(t);
}

static void test_event_unknown_topic(void **state)
{
	struct msgbuf m;
	const struct bus_topic *t = NULL;
	static const uint8_t with_nul[] = {'T', 'e', 's', 't', 'P', 'i', 'n', 'g', 0};

	(void)state;
	build_event(&m, 1);
	m.f[0] = lit("NoSuchTopic");
	assert_int_equal(bus_check_event(m.f, 2, &t, NULL), BUS_ERR_TOPIC);
	m.f[0] = lit("TestPin"); /* a prefix is not the topic */
	assert_int_equal(bus_check_event(m.f, 2, &t, NULL), BUS_ERR_TOPIC);
	m.f[0] = lit("TestPingX");
	assert_int_equal(bus_check_event(m.f, 2, &t, NULL), BUS_ERR_TOPIC);
	m.f[0] = lit("testping");
	assert_int_equal(bus_check_event(m.f, 2, &t, NULL), BUS_ERR_TOPIC);
	m.f[0] = span(with_nul, sizeof(with_nul));
	assert_int_equal(bus_check_event(m.f, 2, &t, NULL), BUS_ERR_TOPIC);
	m.f[0] = lit("");
	assert_int_equal(bus_check_event(m.f, 2, &t, NULL), BUS_ERR_TOPIC);
}

static void test_event_state_topic(void **state)
{
	struct msgbuf m;
	const struct bus_topic *t = NULL;
	ProtobufCMessage *out = NULL;

	(void)state;
	build_state(&m, "k", 1, 0);
	assert_int_equal(bus_check_event(m.f, 2, &t, &out), BUS_ERR_CHANNEL);
	assert_null(out);
	m.f[0] = lit("ServiceState");
	assert_int_equal(bus_check_event(m.f, 2, &t, &out), BUS_ERR_CHANNEL);
	assert_null(out);
}

static void test_event_bad_body(void **state)
{
	static const uint8_t junk[] = {0xff, 0xff, 0xff};
	struct msgbuf m;
	const struct bus_topic *t = NULL;
	ProtobufCMessage *out = NULL;

	(void)state;
	build_event(&m, 1);
	m.f[1] = span(junk, sizeof(junk));
	assert_int_equal(bus_check_event(m.f, 2, &t, &out), BUS_ERR_BODY);
	assert_null(out);
	/* A valid body cut short. */
	build_event(&m, 1);
	m.f[1].len--;
	assert_int_equal(bus_check_event(m.f, 2, &t, &out), BUS_ERR_BODY);
	assert_null(out);
}

/* ---- state ---- */

static void test_state_ok(void **state)
{
	struct msgbuf m;
	const struct bus_topic *t = NULL;
	ProtobufCMessage *out = NULL;
	struct bus_meta meta;
	char key[BUS_KEY_MAX + 1];
	Msock__TestCounter *c;

	(void)state;
	build_state(&m, "testcomp-1", 0x0102030405060708ull, 0);
	assert_int_equal(bus_check_state(m.f, 4, &t, key, &meta, &out), BUS_OK);
	assert_string_equal(t->name, "TestCounter");
	assert_int_equal(t->kind, BUS_TOPIC_STATE);
	assert_string_equal(key, "testcomp-1");
	assert_int_equal(meta.seq, 0x0102030405060708ull);
	assert_int_equal(meta.flags, 0);
	assert_non_null(out);
	c = (Msock__TestCounter *)out;
	assert_string_equal(c->name, "testcomp");
	assert_int_equal(c->generation, 41);
	protobuf_c_message_free_unpacked(out, NULL);
}

static void test_state_service_state(void **state)
{
	Msock__ServiceState ss = MSOCK__SERVICE_STATE__INIT;
	uint8_t body[BODY_MAX_BYTES], mb[BUS_META_BYTES];
	struct bus_meta meta = {3, 0};
	struct bus_span f[4];
	const struct bus_topic *t = NULL;
	ProtobufCMessage *out = NULL;
	char key[BUS_KEY_MAX + 1];
	size_t n;

	(void)state;
	ss.name = "disco";
	ss.state = "running";
	ss.pid = 1234;
	assert_true(msock__service_state__get_packed_size(&ss) <= sizeof(body));
	n = msock__service_state__pack(&ss, body);
	bus_meta_encode(&meta, mb);
	f[0] = lit("ServiceState");
	f[1] = span(body, n);
	f[2] = lit("disco");
	f[3] = span(mb, sizeof(mb));
	assert_int_equal(bus_check_state(f, 4, &t, key, &meta, &out), BUS_OK);
	assert_non_null(out);
	assert_int_equal(((Msock__ServiceState *)out)->pid, 1234);
	assert_string_equal(((Msock__ServiceState *)out)->state, "running");
	protobuf_c_message_free_unpacked(out, NULL);
}

static void test_state_heartbeat(void **state)
{
	struct msgbuf m;
	const struct bus_topic *t = NULL;
	ProtobufCMessage *out = NULL;
	struct bus_meta meta;
	char key[BUS_KEY_MAX + 1];

	(void)state;
	build_state(&m, "", 99, 0);
	m.f[1] = span(m.body, 0);
	assert_int_equal(bus_check_state(m.f, 4, &t, key, &meta, &out), BUS_OK);
	assert_string_equal(t->name, "TestCounter");
	assert_string_equal(key, "");
	assert_int_equal(meta.seq, 99);
	assert_null(out);
}

static void test_state_heartbeat_with_body(void **state)
{
	struct msgbuf m;
	char key[BUS_KEY_MAX + 1];
	struct bus_meta meta;

	(void)state;
	build_state(&m, "", 99, 0);
	assert_int_equal(check_state(&m, 4, key, &meta), BUS_ERR_BODY);
}

static void test_state_deleted_empty_body(void **state)
{
	struct msgbuf m;
	const struct bus_topic *t = NULL;
	ProtobufCMessage *out = NULL;
	struct bus_meta meta;
	char key[BUS_KEY_MAX + 1];

	(void)state;
	build_state(&m, "gone", 12, BUS_META_DELETED);
	m.f[1] = span(m.body, 0);
	assert_int_equal(bus_check_state(m.f, 4, &t, key, &meta, &out), BUS_OK);
	assert_string_equal(key, "gone");
	assert_int_equal(meta.seq, 12);
	assert_int_equal(meta.flags, BUS_META_DELETED);
	assert_null(out);
}

static void test_state_deleted_with_body(void **state)
{
	struct msgbuf m;
	char key[BUS_KEY_MAX + 1];
	struct bus_meta meta;

	(void)state;
	build_state(&m, "gone", 12, BUS_META_DELETED);
	assert_int_equal(check_state(&m, 4, key, &meta), BUS_ERR_BODY);
}

static void test_state_bad_meta_length(void **state)
{
	static const uint8_t ten[10] = {0};
	struct msgbuf m;
	char key[BUS_KEY_MAX + 1];
	struct bus_meta meta;

	(void)state;
	build_state(&m, "k", 1, 0);
	m.f[3].len = BUS_META_BYTES - 1;
	assert_int_equal(check_state(&m, 4, key, &meta), BUS_ERR_META);
	m.f[3].len = 0;
	assert_int_equal(check_state(&m, 4, key, &meta), BUS_ERR_META);
	m.f[3] = span(ten, sizeof(ten));
	assert_int_equal(check_state(&m, 4, key, &meta), BUS_ERR_META);
}

static void test_state_unknown_flags(void **state)
{
	struct msgbuf m;
	char key[BUS_KEY_MAX + 1];
	struct bus_meta meta;

	(void)state;
	build_state(&m, "k", 1, 0x02);
	assert_int_equal(check_state(&m, 4, key, &meta), BUS_ERR_META);
	build_state(&m, "k", 1, 0x80);
	assert_int_equal(check_state(&m, 4, key, &meta), BUS_ERR_META);
	build_state(&m, "k", 1, 0x03);
	assert_int_equal(check_state(&m, 4, key, &meta), BUS_ERR_META);
}

static void test_state_key_control_char(void **state)
{
	static const char *const keys[] = {"a\x01z",  "tab\there", "nl\n",
					   "del\x7f", "hi\x80",	   "\xff"};
	struct msgbuf m;
	char key[BUS_KEY_MAX + 1];
	struct bus_meta meta;

	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		build_state(&m, keys[i], 1, 0);
		assert_int_equal(check_state(&m, 4, key, &meta), BUS_ERR_KEY);
	}
	/* A NUL inside the key frame. */
	build_state(&m, "ab", 1, 0);
	m.f[2] = span((const uint8_t *)"a\0b", 3);
	assert_int_equal(check_state(&m, 4, key, &meta), BUS_ERR_KEY);
}

static void test_state_key_length(void **state)
{
	char long_key[BUS_KEY_MAX + 2];
	struct msgbuf m;
	char key[BUS_KEY_MAX + 1];
	struct bus_meta meta;

	(void)state;
	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[BUS_KEY_MAX] = 0;
	build_state(&m, long_key, 1, 0);
	assert_int_equal(check_state(&m, 4, key, &meta), BUS_OK);
	assert_int_equal(strlen(key), BUS_KEY_MAX);
	long_key[BUS_KEY_MAX] = 'k';
	long_key[BUS_KEY_MAX + 1] = 0;
	build_state(&m, long_key, 1, 0);
	assert_int_equal(check_state(&m, 4, key, &meta), BUS_ERR_KEY);
}

static void test_state_event_topic(void **state)
{
	struct msgbuf m;
	const struct bus_topic *t = NULL;
	ProtobufCMessage *out = NULL;
	char key[BUS_KEY_MAX + 1];
	struct bus_meta meta;

	(void)state;
	build_state(&m, "k", 1, 0);
	m.f[0] = lit("TestPing");
	assert_int_equal(bus_check_state(m.f, 4, &t, key, &meta, &out), BUS_ERR_CHANNEL);
	assert_null(out);
}

static void test_state_unknown_topic(void **state)
{
	struct msgbuf m;
	char key[BUS_KEY_MAX + 1];
	struct bus_meta meta;

	(void)state;
	build_state(&m, "k", 1, 0);
	m.f[0] = lit("TestCounte");
	assert_int_equal(check_state(&m, 4, key, &meta), BUS_ERR_TOPIC);
}

static void test_state_wrong_frame_count(void **state)
{
	struct msgbuf m;
	char key[BUS_KEY_MAX + 1];
	struct bus_meta meta;

	(void)state;
	build_state(&m, "k", 1, 0);
	m.f[4] = lit("extra");
	assert_int_equal(check_state(&m, 2, key, &meta), BUS_ERR_FRAMES);
	assert_int_equal(check_state(&m, 3, key, &meta), BUS_ERR_FRAMES);
	assert_int_equal(check_state(&m, 5, key, &meta), BUS_ERR_FRAMES);
	assert_int_equal(check_state(&m, BUS_MAX_FRAMES + 1, key, &meta), BUS_ERR_FRAMES);
}

static void test_state_bad_body(void **state)
{
	static const uint8_t junk[] = {0xff, 0xff, 0xff};
	struct msgbuf m;
	const struct bus_topic *t = NULL;
	ProtobufCMessage *out = NULL;
	char key[BUS_KEY_MAX + 1];
	struct bus_meta meta;

	(void)state;
	build_state(&m, "k", 1, 0);
	m.f[1] = span(junk, sizeof(junk));
	assert_int_equal(bus_check_state(m.f, 4, &t, key, &meta, &out), BUS_ERR_BODY);
	assert_null(out);
}

/* ---- helpers ---- */

static void test_span_printable(void **state)
{
	static const uint8_t edges[] = {0x20, 0x7e};
	static const uint8_t below[] = {'a', 0x1f};
	static const uint8_t above[] = {'a', 0x7f};
	static const uint8_t high[] = {0xc3, 0xa9};

	(void)state;
	assert_true(bus_span_printable(lit("abc"), 3, false));
	assert_false(bus_span_printable(lit("abcd"), 3, false));
	assert_false(bus_span_printable(lit(""), 3, false));
	assert_true(bus_span_printable(lit(""), 3, true));
	assert_true(bus_span_printable(lit(""), 0, true));
	assert_true(bus_span_printable(span(edges, 2), 2, false));
	assert_false(bus_span_printable(span(below, 2), 2, false));
	assert_false(bus_span_printable(span(above, 2), 2, false));
	assert_false(bus_span_printable(span(high, 2), 8, false));
	assert_false(bus_span_printable(span((const uint8_t *)"a\0", 2), 8, false));
}

static void test_span_str(void **state)
{
	char out[8];

	(void)state;
	memset(out, 'x', sizeof(out));
	assert_int_equal(bus_span_str(lit("hello"), out, 7, false), 0);
	assert_string_equal(out, "hello");
	/* Exactly max bytes: max + 1 with the NUL. */
	assert_int_equal(bus_span_str(lit("1234567"), out, 7, false), 0);
	assert_string_equal(out, "1234567");
	assert_int_equal(bus_span_str(lit("12345678"), out, 7, false), -1);
	assert_int_equal(bus_span_str(lit(""), out, 7, false), -1);
	assert_int_equal(bus_span_str(lit(""), out, 7, true), 0);
	assert_string_equal(out, "");
	assert_int_equal(bus_span_str(lit("a\tb"), out, 7, false), -1);
}

static void test_span_is(void **state)
{
	(void)state;
	assert_true(bus_span_is(lit("SET"), "SET"));
	assert_false(bus_span_is(lit("SETX"), "SET"));
	assert_false(bus_span_is(lit("SE"), "SET"));
	assert_false(bus_span_is(lit("set"), "SET"));
	assert_false(bus_span_is(lit(""), "SET"));
	assert_true(bus_span_is(lit(""), ""));
	assert_false(bus_span_is(span((const uint8_t *)"SET\0", 4), "SET"));
}

static void test_meta_round_trip(void **state)
{
	static const uint8_t want[BUS_META_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, BUS_META_DELETED};
	struct bus_meta m = {0x0102030405060708ull, BUS_META_DELETED}, back;
	uint8_t buf[BUS_META_BYTES];

	(void)state;
	bus_meta_encode(&m, buf);
	assert_memory_equal(buf, want, sizeof(want));
	memset(&back, 0, sizeof(back));
	assert_int_equal(bus_meta_parse(buf, sizeof(buf), &back), 0);
	assert_int_equal(back.seq, m.seq);
	assert_int_equal(back.flags, m.flags);

	m = (struct bus_meta){UINT64_MAX, 0};
	bus_meta_encode(&m, buf);
	for (int i = 0; i < 8; i++)
		assert_int_equal(buf[i], 0xff);
	assert_int_equal(buf[8], 0);
	assert_int_equal(bus_meta_parse(buf, sizeof(buf), &back), 0);
	assert_int_equal(back.seq, UINT64_MAX);
	assert_int_equal(back.flags, 0);

	m = (struct bus_meta){1, 0};
	bus_meta_encode(&m, buf);
	assert_int_equal(buf[7], 1);
	assert_int_equal(buf[0], 0);
	assert_int_equal(bus_get_be64(buf), 1);
}

static void test_meta_parse_bad(void **state)
{
	uint8_t buf[BUS_META_BYTES + 1] = {0};
	struct bus_meta back = {77, 7};

	(void)state;
	assert_int_equal(bus_meta_parse(buf, BUS_META_BYTES - 1, &back), -1);
	assert_int_equal(bus_meta_parse(buf, BUS_META_BYTES + 1, &back), -1);
	assert_int_equal(bus_meta_parse(buf, 0, &back), -1);
	buf[8] = 2;
	assert_int_equal(bus_meta_parse(buf, BUS_META_BYTES, &back), -1);
	buf[8] = 0xfe;
	assert_int_equal(bus_meta_parse(buf, BUS_META_BYTES, &back), -1);
	/* Refused frames leave the output alone. */
	assert_int_equal(back.seq, 77);
	assert_int_equal(back.flags, 7);
}

static void test_check_str(void **state)
{
	static const int codes[] = {BUS_OK,	 BUS_ERR_FRAMES, BUS_ERR_TOPIC, BUS_ERR_CHANNEL,
				    BUS_ERR_KEY, BUS_ERR_META,	 BUS_ERR_BODY};
	const size_t n = sizeof(codes) / sizeof(codes[0]);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		const char *a = bus_check_str(codes[i]);
		assert_non_null(a);
		assert_true(strlen(a) > 0);
		for (size_t j = i + 1; j < n; j++)
			assert_string_not_equal(a, bus_check_str(codes[j]));
		/* An unknown code has its own text too. */
		assert_string_not_equal(a, bus_check_str(-100));
	}
	assert_non_null(bus_check_str(-100));
	assert_true(strlen(bus_check_str(-100)) > 0);
	assert_non_null(bus_check_str(1));
}

/* ---- receiving ---- */

static void test_frames_recv_and_spans(void **state)
{
	void *ctx = zmq_ctx_new(), *a, *b;
	struct bus_frames fr;
	struct bus_span f[BUS_MAX_FRAMES];
	int zero = 0;

	(void)state;
	assert_non_null(ctx);
	a = zmq_socket(ctx, ZMQ_PAIR);
	b = zmq_socket(ctx, ZMQ_PAIR);
	zmq_setsockopt(a, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(b, ZMQ_LINGER, &zero, sizeof(zero));
	assert_int_equal(zmq_bind(a, "inproc://bus-frames-test"), 0);
	assert_int_equal(zmq_connect(b, "inproc://bus-frames-test"), 0);

	assert_int_equal(bus_frames_recv(b, &fr), -EAGAIN);

	assert_int_equal(zmq_send(a, "TestPing", 8, ZMQ_SNDMORE), 8);
	assert_int_equal(zmq_send(a, "", 0, ZMQ_SNDMORE), 0);
	assert_int_equal(zmq_send(a, "x", 1, 0), 1);
	assert_int_equal(bus_frames_recv(b, &fr), 0);
	assert_int_equal(fr.n, 3);
	assert_false(fr.overflow);
	assert_int_equal(bus_frames_spans(&fr, f, BUS_MAX_FRAMES), 3);
	assert_true(bus_span_is(f[0], "TestPing"));
	assert_int_equal(f[1].len, 0);
	assert_true(bus_span_is(f[2], "x"));
	bus_frames_close(&fr);
	assert_int_equal(fr.n, 0);

	/* More than BUS_MAX_FRAMES: the rest is discarded and the count says so. */
	for (int i = 0; i < BUS_MAX_FRAMES + 3; i++)
		assert_int_equal(zmq_send(a, "f", 1, i < BUS_MAX_FRAMES + 2 ? ZMQ_SNDMORE : 0), 1);
	assert_int_equal(zmq_send(a, "next", 4, 0), 4);
	assert_int_equal(bus_frames_recv(b, &fr), 0);
	assert_true(fr.overflow);
	assert_int_equal(fr.n, BUS_MAX_FRAMES);
	assert_int_equal(bus_frames_spans(&fr, f, BUS_MAX_FRAMES), BUS_MAX_FRAMES + 1);
	bus_frames_close(&fr);
	/* The message after it is whole. */
	assert_int_equal(bus_frames_recv(b, &fr), 0);
	assert_false(fr.overflow);
	assert_int_equal(fr.n, 1);
	assert_int_equal(bus_frames_spans(&fr, f, BUS_MAX_FRAMES), 1);
	assert_true(bus_span_is(f[0], "next"));
	bus_frames_close(&fr);
	assert_int_equal(bus_frames_recv(b, &fr), -EAGAIN);

	zmq_close(a);
	zmq_close(b);
	zmq_ctx_term(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_ok),
		cmocka_unit_test(test_event_empty_body),
		cmocka_unit_test(test_event_wrong_frame_count),
		cmocka_unit_test(test_event_unknown_topic),
		cmocka_unit_test(test_event_state_topic),
		cmocka_unit_test(test_event_bad_body),
		cmocka_unit_test(test_state_ok),
		cmocka_unit_test(test_state_service_state),
		cmocka_unit_test(test_state_heartbeat),
		cmocka_unit_test(test_state_heartbeat_with_body),
		cmocka_unit_test(test_state_deleted_empty_body),
		cmocka_unit_test(test_state_deleted_with_body),
		cmocka_unit_test(test_state_bad_meta_length),
		cmocka_unit_test(test_state_unknown_flags),
		cmocka_unit_test(test_state_key_control_char),
		cmocka_unit_test(test_state_key_length),
		cmocka_unit_test(test_state_event_topic),
		cmocka_unit_test(test_state_unknown_topic),
		cmocka_unit_test(test_state_wrong_frame_count),
		cmocka_unit_test(test_state_bad_body),
		cmocka_unit_test(test_span_printable),
		cmocka_unit_test(test_span_str),
		cmocka_unit_test(test_span_is),
		cmocka_unit_test(test_meta_round_trip),
		cmocka_unit_test(test_meta_parse_bad),
		cmocka_unit_test(test_check_str),
		cmocka_unit_test(test_frames_recv_and_spans),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

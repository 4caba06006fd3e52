/* stun_client_test: STUN transactions (lib/stun/stun_client.h) on a fake
 * clock: the request bytes, answers matched by transaction ID and server,
 * the retransmission schedule and timeouts, the bounded table, and one test
 * per rejected packet (malformed, unknown ID, wrong server, duplicate,
 * late, not a success response). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "stun/stun_client.h"

#define MS(x) ((uint64_t)(x)*1000000u)

/* Time zero of the tests: any monotonic value will do. */
static const uint64_t T0 = 1000 * MS(1000);

static const struct ipport server_a = {.family = AF_INET, .ip = {192, 0, 2, 1}, .port = 3478};
static const struct ipport server_b = {.family = AF_INET, .ip = {192, 0, 2, 2}, .port = 3478};
static const struct ipport server_a_other_port = {
	.family = AF_INET, .ip = {192, 0, 2, 1}, .port = 3479};
static const struct ipport server_v6 = {
	.family = AF_INET6,
	.ip = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
	.port = 3478,
};
static const struct ipport mapped_v4 = {.family = AF_INET, .ip = {198, 51, 100, 7}, .port = 41641};
static const struct ipport mapped_v6 = {
	.family = AF_INET6,
	.ip = {0x20, 0x01, 0x0d, 0xb8, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7},
	.port = 41641,
};

/* Predictable transaction IDs: 0xa5 then a 16-bit counter. */
struct txids {
	uint16_t n;
	bool repeat; /* hand out the same ID again */
};

static void next_txid(void *arg, uint8_t txid[STUN_TXID_BYTES])
{
	struct txids *t = arg;

	memset(txid, 0xa5, STUN_TXID_BYTES);
	if (!t->repeat)
		t->n++;
	txid[STUN_TXID_BYTES - 2] = t->n >> 8;
	txid[STUN_TXID_BYTES - 1] = t->n & 0xff;
}

struct fx {
	struct stun_client *c;
	struct txids ids;
};

static struct stun_client *new_client(struct fx *f, unsigned max_sends)
{
	struct stun_client_cfg cfg = {
		.max_sends = max_sends,
		.new_txid = next_txid,
		.new_txid_arg = &f->ids,
	};

	return stun_client_new(&cfg);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->c = new_client(f, 0);
	*state = f;
	return f->c ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	stun_client_free(f->c);
	free(f);
	return 0;
}

/* Starts a transaction to server at now; returns its ID and its
 * transaction ID as the request carries it. */
static uint32_t start(struct stun_client *c, const struct ipport *server, uint64_t tag,
		      uint64_t now, uint8_t txid[STUN_TXID_BYTES])
{
	uint8_t buf[STUN_REQUEST_BYTES];
	uint32_t id = 0;

	assert_int_equal(stun_client_start(c, server, tag, now, buf, sizeof(buf), &id), 0);
	assert_true(id > 0);
	assert_int_equal(stun_parse_binding_request(buf, sizeof(buf), txid), 0);
	return id;
}

static size_t response(const uint8_t txid[STUN_TXID_BYTES], const struct ipport *mapped,
		       uint8_t *buf)
{
	size_t n = stun_binding_response(txid, mapped, buf, STUN_RESPONSE_MAX_BYTES);

	assert_true(n > 0);
	return n;
}

/* A bare header of the given type and transaction ID, no attributes. */
static void header(uint16_t type, const uint8_t txid[STUN_TXID_BYTES], uint8_t out[20])
{
	out[0] = type >> 8;
	out[1] = type & 0xff;
	out[2] = 0;
	out[3] = 0;
	out[4] = 0x21;
	out[5] = 0x12;
	out[6] = 0xa4;
	out[7] = 0x42;
	memcpy(out + 8, txid, STUN_TXID_BYTES);
}

static int answer(struct stun_client *c, const struct ipport *from,
		  const uint8_t txid[STUN_TXID_BYTES], uint64_t now, struct stun_client_result *res)
{
	uint8_t buf[STUN_RESPONSE_MAX_BYTES];
	size_t n = response(txid, &mapped_v4, buf);

	return stun_client_on_packet(c, from, buf, n, now, res);
}

/* ---- the good path ---- */

static void test_start_writes_request(void **state)
{
	struct fx *f = *state;
	uint8_t buf[64], txid[STUN_TXID_BYTES], want[STUN_TXID_BYTES];
	uint32_t id1 = 0, id2 = 0;

	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(stun_client_start(f->c, &server_a, 7, T0, buf, sizeof(buf), &id1), 0);
	/* Tailscale's 40-byte request with our transaction ID, nothing past it. */
	assert_int_equal(stun_parse_binding_request(buf, STUN_REQUEST_BYTES, txid), 0);
	memset(want, 0xa5, sizeof(want));
	want[STUN_TXID_BYTES - 2] = 0;
	want[STUN_TXID_BYTES - 1] = 1;
	assert_memory_equal(txid, want, STUN_TXID_BYTES);
	assert_int_equal(buf[STUN_REQUEST_BYTES], 0xee);
	assert_int_equal(stun_client_start(f->c, &server_b, 8, T0, buf, sizeof(buf), &id2), 0);
	assert_true(id1 > 0 && id2 > 0 && id1 != id2);
	assert_int_equal(stun_client_inflight(f->c), 2);
}

static void test_answer_v4(void **state)
{
	struct fx *f = *state;
	struct stun_client_result res;
	uint8_t txid[STUN_TXID_BYTES];
	uint32_t id = start(f->c, &server_a, 42, T0, txid);

	assert_int_equal(answer(f->c, &server_a, txid, T0 + MS(23), &res), STUN_CLIENT_OK);
	assert_int_equal(res.id, id);
	assert_int_equal(res.tag, 42);
	assert_true(ipport_equal(&res.server, &server_a));
	assert_true(ipport_equal(&res.mapped, &mapped_v4));
	assert_int_equal(res.rtt_ns, MS(23));
	assert_int_equal(res.sends, 1);
	assert_int_equal(stun_client_inflight(f->c), 0);
	/* Nothing left to do for it. */
	assert_int_equal(stun_client_deadline(f->c), UINT64_MAX);
}

static void test_answer_v6(void **state)
{
	struct fx *f = *state;
	struct stun_client_result res;
	uint8_t txid[STUN_TXID_BYTES], buf[STUN_RESPONSE_MAX_BYTES];
	size_t n;

	start(f->c, &server_v6, 0, T0, txid);
	n = response(txid, &mapped_v6, buf);
	assert_int_equal(stun_client_on_packet(f->c, &server_v6, buf, n, T0 + MS(5), &res),
			 STUN_CLIENT_OK);
	assert_true(ipport_equal(&res.mapped, &mapped_v6));
	assert_int_equal(res.rtt_ns, MS(5));
}

/* Tailscale's captured answers (net/stun/stun_test.go) come from real
 * servers; one of them, matched to a transaction given its ID. */
static const uint8_t google_1[] = {
	0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42, 0x23, 0x60, 0xb1,
	0x1e, 0x3e, 0xc6, 0x8f, 0xfa, 0x93, 0xe0, 0x80, 0x07, 0x00, 0x20,
	0x00, 0x08, 0x00, 0x01, 0xc7, 0x86, 0x69, 0x57, 0x85, 0x6f,
};

static void google_txid(void *arg, uint8_t txid[STUN_TXID_BYTES])
{
	(void)arg;
	memcpy(txid, google_1 + 8, STUN_TXID_BYTES);
}

static void test_answer_real_server_bytes(void **state)
{
	struct stun_client_cfg cfg = {.new_txid = google_txid};
	struct stun_client *c = stun_client_new(&cfg);
	struct stun_client_result res;
	struct ipport want;
	uint8_t buf[STUN_REQUEST_BYTES];
	uint32_t id;

	(void)state;
	assert_non_null(c);
	assert_int_equal(ipport_parse("72.69.33.45:59028", &want), 0);
	assert_int_equal(stun_client_start(c, &server_a, 0, T0, buf, sizeof(buf), &id), 0);
	assert_int_equal(
		stun_client_on_packet(c, &server_a, google_1, sizeof(google_1), T0 + MS(40), &res),
		STUN_CLIENT_OK);
	assert_true(ipport_equal(&res.mapped, &want));
	assert_int_equal(res.rtt_ns, MS(40));
	stun_client_free(c);

	/* With a random ID of ours, the same bytes answer someone else. */
	c = stun_client_new(NULL);
	assert_non_null(c);
	assert_int_equal(stun_client_start(c, &server_a, 0, T0, buf, sizeof(buf), &id), 0);
	assert_int_equal(stun_client_on_packet(c, &server_a, google_1, sizeof(google_1), T0, &res),
			 STUN_CLIENT_ERR_UNKNOWN_TX);
	stun_client_free(c);
}

static void test_several_servers(void **state)
{
	struct fx *f = *state;
	struct stun_client_result res;
	uint8_t ta[STUN_TXID_BYTES], tb[STUN_TXID_BYTES], t6[STUN_TXID_BYTES];
	uint32_t ia = start(f->c, &server_a, 1, T0, ta);
	uint32_t ib = start(f->c, &server_b, 2, T0 + MS(1), tb);
	uint32_t i6 = start(f->c, &server_v6, 3, T0 + MS(2), t6);

	assert_int_equal(answer(f->c, &server_b, tb, T0 + MS(11), &res), STUN_CLIENT_OK);
	assert_int_equal(res.id, ib);
	assert_int_equal(res.tag, 2);
	assert_int_equal(res.rtt_ns, MS(10));
	assert_int_equal(answer(f->c, &server_v6, t6, T0 + MS(12), &res), STUN_CLIENT_OK);
	assert_int_equal(res.id, i6);
	assert_int_equal(answer(f->c, &server_a, ta, T0 + MS(13), &res), STUN_CLIENT_OK);
	assert_int_equal(res.id, ia);
	assert_int_equal(res.rtt_ns, MS(13));
	assert_int_equal(stun_client_inflight(f->c), 0);
}

/* ---- every rejected packet ---- */

static void test_err_unknown_txid(void **state)
{
	struct fx *f = *state;
	struct stun_client_result res;
	uint8_t txid[STUN_TXID_BYTES], other[STUN_TXID_BYTES];

	start(f->c, &server_a, 0, T0, txid);
	memcpy(other, txid, sizeof(other));
	other[0] ^= 1;
	assert_int_equal(answer(f->c, &server_a, other, T0 + MS(1), &res),
			 STUN_CLIENT_ERR_UNKNOWN_TX);
	assert_int_equal(res.id, 0);
	/* Ours is still waiting. */
	assert_int_equal(stun_client_inflight(f->c), 1);
	assert_int_equal(answer(f->c, &server_a, txid, T0 + MS(2), &res), STUN_CLIENT_OK);
}

static void test_err_wrong_server(void **state)
{
	struct fx *f = *state;
	struct stun_client_result res;
	uint8_t txid[STUN_TXID_BYTES];
	uint32_t id = start(f->c, &server_a, 9, T0, txid);

	/* Another address, another port of the same address, another family. */
	assert_int_equal(answer(f->c, &server_b, txid, T0 + MS(1), &res),
			 STUN_CLIENT_ERR_WRONG_SERVER);
	assert_int_equal(res.id, id);
	assert_int_equal(res.tag, 9);
	assert_true(ipport_equal(&res.server, &server_a));
	assert_int_equal(answer(f->c, &server_a_other_port, txid, T0 + MS(1), &res),
			 STUN_CLIENT_ERR_WRONG_SERVER);
	assert_int_equal(answer(f->c, &server_v6, txid, T0 + MS(1), &res),
			 STUN_CLIENT_ERR_WRONG_SERVER);
	/* None of them answered it: the real server still can. */
	assert_int_equal(stun_client_inflight(f->c), 1);
	assert_int_equal(answer(f->c, &server_a, txid, T0 + MS(2), &res), STUN_CLIENT_OK);
	/* After the answer, a stranger with the ID is still the wrong server,
	 * not a duplicate: the sender is checked first. */
	assert_int_equal(answer(f->c, &server_b, txid, T0 + MS(3), &res),
			 STUN_CLIENT_ERR_WRONG_SERVER);
}

static void test_err_duplicate(void **state)
{
	struct fx *f = *state;
	struct stun_client_result res;
	uint8_t txid[STUN_TXID_BYTES];
	uint32_t id = start(f->c, &server_a, 0, T0, txid);

	assert_int_equal(answer(f->c, &server_a, txid, T0 + MS(10), &res), STUN_CLIENT_OK);
	assert_int_equal(answer(f->c, &server_a, txid, T0 + MS(11), &res),
			 STUN_CLIENT_ERR_DUPLICATE);
	assert_int_equal(res.id, id);
	/* Still a duplicate just before the linger time ends... */
	assert_int_equal(
		answer(f->c, &server_a, txid, T0 + MS(10 + STUN_CLIENT_LINGER_MS - 1), &res),
		STUN_CLIENT_ERR_DUPLICATE);
	/* ...and forgotten after it. */
	assert_int_equal(answer(f->c, &server_a, txid, T0 + MS(10 + STUN_CLIENT_LINGER_MS), &res),
			 STUN_CLIENT_ERR_UNKNOWN_TX);
}

static void test_err_late_after_timeout(void **state)
{
	struct fx *f = *state;
	struct stun_client *c = new_client(f, 1);
	struct stun_client_event ev;
	struct stun_client_result res;
	uint8_t txid[STUN_TXID_BYTES], buf[STUN_REQUEST_BYTES];
	uint32_t id = start(c, &server_a, 5, T0, txid);
	const uint64_t timeout = T0 + MS(STUN_CLIENT_DEFAULT_TIMEOUT_MS);

	assert_int_equal(stun_client_deadline(c), timeout);
	assert_int_equal(stun_client_poll(c, timeout - 1, buf, sizeof(buf), &ev), 0);
	assert_int_equal(ev.kind, STUN_CLIENT_EV_NONE);
	assert_int_equal(stun_client_poll(c, timeout, buf, sizeof(buf), &ev), 1);
	assert_int_equal(ev.kind, STUN_CLIENT_EV_TIMEOUT);
	assert_int_equal(ev.id, id);
	assert_int_equal(ev.tag, 5);
	assert_int_equal(stun_client_inflight(c), 0);
	assert_int_equal(answer(c, &server_a, txid, timeout + MS(1), &res), STUN_CLIENT_ERR_LATE);
	assert_int_equal(res.id, id);
	/* Late until the linger time has passed since the timeout. */
	assert_int_equal(answer(c, &server_a, txid, timeout + MS(STUN_CLIENT_LINGER_MS), &res),
			 STUN_CLIENT_ERR_UNKNOWN_TX);
	stun_client_free(c);
}

/* An answer at or past the timeout is late even before a poll said so; the
 * timeout is still reported. */
static void test_err_late_before_poll(void **state)
{
	struct fx *f = *state;
	struct stun_client_event ev;
	struct stun_client_result res;
	uint8_t txid[STUN_TXID_BYTES], buf[STUN_REQUEST_BYTES];
	const uint64_t timeout = T0 + MS(STUN_CLIENT_DEFAULT_TIMEOUT_MS);

	start(f->c, &server_a, 0, T0, txid);
	assert_int_equal(answer(f->c, &server_a, txid, timeout, &res), STUN_CLIENT_ERR_LATE);
	assert_int_equal(stun_client_poll(f->c, timeout, buf, sizeof(buf), &ev), 1);
	assert_int_equal(ev.kind, STUN_CLIENT_EV_TIMEOUT);
	assert_int_equal(stun_client_poll(f->c, timeout, buf, sizeof(buf), &ev), 0);
}

static void test_err_late_after_cancel(void **state)
{
	struct fx *f = *state;
	struct stun_client_event ev;
	struct stun_client_result res;
	uint8_t txid[STUN_TXID_BYTES], buf[STUN_REQUEST_BYTES];
	uint32_t id = start(f->c, &server_a, 0, T0, txid);

	assert_int_equal(stun_client_cancel(f->c, id, T0 + MS(50)), 0);
	assert_int_equal(stun_client_cancel(f->c, id, T0 + MS(50)), -ENOENT);
	assert_int_equal(stun_client_cancel(f->c, 12345, T0 + MS(50)), -ENOENT);
	assert_int_equal(stun_client_inflight(f->c), 0);
	/* No retransmission, no timeout event for it. */
	assert_int_equal(stun_client_deadline(f->c), UINT64_MAX);
	assert_int_equal(stun_client_poll(f->c, T0 + MS(10000), buf, sizeof(buf), &ev), 0);
	assert_int_equal(answer(f->c, &server_a, txid, T0 + MS(60), &res), STUN_CLIENT_ERR_LATE);
}

static void test_err_malformed(void **state)
{
	struct fx *f = *state;
	struct stun_client_result res;
	uint8_t txid[STUN_TXID_BYTES], buf[STUN_RESPONSE_MAX_BYTES + 8];
	size_t n;

	start(f->c, &server_a, 0, T0, txid);
	n = response(txid, &mapped_v4, buf);

	/* Shorter than a header. */
	assert_int_equal(stun_client_on_packet(f->c, &server_a, buf, 19, T0, &res),
			 STUN_CLIENT_ERR_MALFORMED);
	assert_int_equal(res.stun_err, STUN_ERR_SHORT);
	assert_int_equal(stun_client_on_packet(f->c, &server_a, buf, 0, T0, &res),
			 STUN_CLIENT_ERR_MALFORMED);
	/* Length runs past the packet. */
	assert_int_equal(stun_client_on_packet(f->c, &server_a, buf, n - 4, T0, &res),
			 STUN_CLIENT_ERR_MALFORMED);
	assert_int_equal(res.stun_err, STUN_ERR_TRUNCATED);
	/* Not STUN: no magic cookie. */
	buf[4] ^= 0xff;
	assert_int_equal(stun_client_on_packet(f->c, &server_a, buf, n, T0, &res),
			 STUN_CLIENT_ERR_MALFORMED);
	assert_int_equal(res.stun_err, STUN_ERR_NOT_STUN);
	buf[4] ^= 0xff;
	/* Length not a multiple of 4. */
	buf[3] ^= 1;
	assert_int_equal(stun_client_on_packet(f->c, &server_a, buf, n, T0, &res),
			 STUN_CLIENT_ERR_MALFORMED);
	assert_int_equal(res.stun_err, STUN_ERR_BAD_LENGTH);
	buf[3] ^= 1;
	/* An attribute that runs past the message. */
	buf[STUN_HEADER_BYTES + 3] = 0x40;
	assert_int_equal(stun_client_on_packet(f->c, &server_a, buf, n, T0, &res),
			 STUN_CLIENT_ERR_MALFORMED);
	assert_int_equal(res.stun_err, STUN_ERR_BAD_ATTR);
	assert_int_equal(res.id, 0);

	/* None of it touched the transaction. */
	n = response(txid, &mapped_v4, buf);
	assert_int_equal(stun_client_on_packet(f->c, &server_a, buf, n, T0 + MS(1), &res),
			 STUN_CLIENT_OK);
}

static void test_err_bad_fingerprint(void **state)
{
	struct fx *f = *state;
	struct stun_client_result res;
	uint8_t txid[STUN_TXID_BYTES], buf[64];

	start(f->c, &server_a, 0, T0, txid);
	/* Our own request bytes, with a FINGERPRINT, then one bit flipped. */
	assert_int_equal(stun_binding_request(txid, buf, sizeof(buf)), STUN_REQUEST_BYTES);
	buf[STUN_REQUEST_BYTES - 1] ^= 1;
	assert_int_equal(stun_client_on_packet(f->c, &server_a, buf, STUN_REQUEST_BYTES, T0, &res),
			 STUN_CLIENT_ERR_MALFORMED);
	assert_int_equal(res.stun_err, STUN_ERR_BAD_FINGERPRINT);
}

/* Ours, from the right server, but no answer we can use: it stays in
 * flight and a good answer still counts. */
static void test_err_bad_response(void **state)
{
	struct fx *f = *state;
	struct stun_client_result res;
	uint8_t txid[STUN_TXID_BYTES], buf[64];
	struct stun_client_stats st;
	uint32_t id = start(f->c, &server_a, 3, T0, txid);

	/* A Binding error response. */
	header(STUN_BINDING_ERROR_RESPONSE, txid, buf);
	assert_int_equal(stun_client_on_packet(f->c, &server_a, buf, 20, T0 + MS(1), &res),
			 STUN_CLIENT_ERR_BAD_RESPONSE);
	assert_int_equal(res.stun_err, STUN_ERR_NOT_SUCCESS);
	assert_int_equal(res.id, id);
	/* A success response without a mapped address. */
	header(STUN_BINDING_SUCCESS_RESPONSE, txid, buf);
	assert_int_equal(stun_client_on_packet(f->c, &server_a, buf, 20, T0 + MS(2), &res),
			 STUN_CLIENT_ERR_BAD_RESPONSE);
	assert_int_equal(res.stun_err, STUN_ERR_NO_ADDR);
	/* Our own request reflected back. */
	assert_int_equal(stun_binding_request(txid, buf, sizeof(buf)), STUN_REQUEST_BYTES);
	assert_int_equal(
		stun_client_on_packet(f->c, &server_a, buf, STUN_REQUEST_BYTES, T0 + MS(3), &res),
		STUN_CLIENT_ERR_BAD_RESPONSE);
	assert_int_equal(res.stun_err, STUN_ERR_NOT_SUCCESS);
	/* An indication is not a response either. */
	header(STUN_BINDING_INDICATION, txid, buf);
	assert_int_equal(stun_client_on_packet(f->c, &server_a, buf, 20, T0 + MS(4), &res),
			 STUN_CLIENT_ERR_BAD_RESPONSE);

	assert_int_equal(stun_client_inflight(f->c), 1);
	assert_int_equal(answer(f->c, &server_a, txid, T0 + MS(9), &res), STUN_CLIENT_OK);
	assert_int_equal(res.rtt_ns, MS(9));
	stun_client_get_stats(f->c, &st);
	assert_int_equal(st.bad_response, 4);
	assert_int_equal(st.answered, 1);
}

/* ---- retransmission and timeouts ---- */

/* The default schedule: sends at 0, 100, 300, 700 ms, timeout at 3 s. */
static void test_retransmit_schedule(void **state)
{
	struct fx *f = *state;
	static const uint64_t want_ms[] = {100, 300, 700};
	struct stun_client_event ev;
	struct stun_client_result res;
	uint8_t txid[STUN_TXID_BYTES], buf[STUN_REQUEST_BYTES], got[STUN_TXID_BYTES];
	uint32_t id = start(f->c, &server_a, 77, T0, txid);

	for (size_t i = 0; i < 3; i++) {
		uint64_t due = T0 + MS(want_ms[i]);

		assert_int_equal(stun_client_deadline(f->c), due);
		assert_int_equal(stun_client_poll(f->c, due - 1, buf, sizeof(buf), &ev), 0);
		assert_int_equal(stun_client_poll(f->c, due, buf, sizeof(buf), &ev), 1);
		assert_int_equal(ev.kind, STUN_CLIENT_EV_SEND);
		assert_int_equal(ev.id, id);
		assert_int_equal(ev.tag, 77);
		assert_int_equal(ev.len, STUN_REQUEST_BYTES);
		assert_true(ipport_equal(&ev.server, &server_a));
		/* The same transaction ID each time (RFC 8489 section 6.2.1). */
		assert_int_equal(stun_parse_binding_request(buf, ev.len, got), 0);
		assert_memory_equal(got, txid, STUN_TXID_BYTES);
		assert_int_equal(stun_client_poll(f->c, due, buf, sizeof(buf), &ev), 0);
	}
	/* No send left: the next thing is the timeout. */
	assert_int_equal(stun_client_deadline(f->c), T0 + MS(STUN_CLIENT_DEFAULT_TIMEOUT_MS));
	/* An answer now: RTT from the last send, four sends. */
	assert_int_equal(answer(f->c, &server_a, txid, T0 + MS(730), &res), STUN_CLIENT_OK);
	assert_int_equal(res.rtt_ns, MS(30));
	assert_int_equal(res.sends, 4);
	assert_int_equal(stun_client_deadline(f->c), UINT64_MAX);
}

/* netcheck's use: one send, then only the timeout. */
static void test_no_retransmit(void **state)
{
	struct fx *f = *state;
	struct stun_client *c = new_client(f, 1);
	struct stun_client_event ev;
	uint8_t txid[STUN_TXID_BYTES], buf[STUN_REQUEST_BYTES];
	struct stun_client_stats st;

	start(c, &server_a, 0, T0, txid);
	assert_int_equal(stun_client_deadline(c), T0 + MS(STUN_CLIENT_DEFAULT_TIMEOUT_MS));
	assert_int_equal(stun_client_poll(c, T0 + MS(2999), buf, sizeof(buf), &ev), 0);
	assert_int_equal(stun_client_poll(c, T0 + MS(3000), buf, sizeof(buf), &ev), 1);
	assert_int_equal(ev.kind, STUN_CLIENT_EV_TIMEOUT);
	stun_client_get_stats(c, &st);
	assert_int_equal(st.retransmits, 0);
	assert_int_equal(st.timeouts, 1);
	stun_client_free(c);
}

/* A poll that comes late sends once and does not make up missed sends. */
static void test_late_poll_skips_missed_sends(void **state)
{
	struct fx *f = *state;
	struct stun_client_event ev;
	uint8_t txid[STUN_TXID_BYTES], buf[STUN_REQUEST_BYTES];

	start(f->c, &server_a, 0, T0, txid);
	assert_int_equal(stun_client_poll(f->c, T0 + MS(350), buf, sizeof(buf), &ev), 1);
	assert_int_equal(ev.kind, STUN_CLIENT_EV_SEND);
	assert_int_equal(stun_client_poll(f->c, T0 + MS(350), buf, sizeof(buf), &ev), 0);
	assert_int_equal(stun_client_deadline(f->c), T0 + MS(700));
	/* Past the timeout: the timeout wins over a send due at the same time. */
	assert_int_equal(stun_client_poll(f->c, T0 + MS(5000), buf, sizeof(buf), &ev), 1);
	assert_int_equal(ev.kind, STUN_CLIENT_EV_TIMEOUT);
	assert_int_equal(stun_client_poll(f->c, T0 + MS(5000), buf, sizeof(buf), &ev), 0);
}

/* Events of several transactions come earliest first. */
static void test_poll_in_time_order(void **state)
{
	struct fx *f = *state;
	struct stun_client *c = new_client(f, 1);
	struct stun_client_event ev;
	uint8_t txid[STUN_TXID_BYTES], buf[STUN_REQUEST_BYTES];
	uint32_t late = start(c, &server_a, 0, T0 + MS(20), txid);
	uint32_t early = start(c, &server_b, 0, T0 + MS(10), txid);

	assert_int_equal(stun_client_poll(c, T0 + MS(9000), buf, sizeof(buf), &ev), 1);
	assert_int_equal(ev.id, early);
	assert_int_equal(stun_client_poll(c, T0 + MS(9000), buf, sizeof(buf), &ev), 1);
	assert_int_equal(ev.id, late);
	stun_client_free(c);
}

static void test_custom_schedule(void **state)
{
	struct stun_client_cfg cfg = {.max_sends = 3, .rto_ms = 500, .timeout_ms = 1200};
	struct stun_client *c = stun_client_new(&cfg);
	struct stun_client_event ev;
	uint8_t buf[STUN_REQUEST_BYTES];
	uint32_t id;

	(void)state;
	assert_non_null(c);
	assert_int_equal(stun_client_start(c, &server_a, 0, T0, buf, sizeof(buf), &id), 0);
	assert_int_equal(stun_client_deadline(c), T0 + MS(500));
	assert_int_equal(stun_client_poll(c, T0 + MS(500), buf, sizeof(buf), &ev), 1);
	/* The third send would leave at 1500 ms, after the 1200 ms timeout. */
	assert_int_equal(stun_client_deadline(c), T0 + MS(1200));
	stun_client_free(c);
}

/* ---- limits and arguments ---- */

static void test_table_full(void **state)
{
	struct fx *f = *state;
	struct stun_client_result res;
	uint8_t txid[STUN_TXID_BYTES], first[STUN_TXID_BYTES], buf[STUN_REQUEST_BYTES];
	uint32_t id;

	start(f->c, &server_a, 0, T0, first);
	for (size_t i = 1; i < STUN_CLIENT_MAX_TX; i++)
		start(f->c, &server_b, i, T0, txid);
	assert_int_equal(stun_client_inflight(f->c), STUN_CLIENT_MAX_TX);
	assert_int_equal(stun_client_start(f->c, &server_a, 0, T0, buf, sizeof(buf), &id),
			 -ENOBUFS);
	/* One answered: its slot lingers, but a new transaction may take it. */
	assert_int_equal(answer(f->c, &server_a, first, T0 + MS(1), &res), STUN_CLIENT_OK);
	assert_int_equal(stun_client_start(f->c, &server_a, 0, T0 + MS(2), buf, sizeof(buf), &id),
			 0);
	assert_int_equal(stun_client_inflight(f->c), STUN_CLIENT_MAX_TX);
	/* The evicted transaction is forgotten: its answer is unknown now. */
	assert_int_equal(answer(f->c, &server_a, first, T0 + MS(3), &res),
			 STUN_CLIENT_ERR_UNKNOWN_TX);
}

/* A smaller table: the same rules at its own size. */
static void test_small_table(void **state)
{
	struct fx *f = *state;
	struct stun_client_cfg cfg = {.max_tx = 2, .new_txid = next_txid, .new_txid_arg = &f->ids};
	struct stun_client *c = stun_client_new(&cfg);
	struct stun_client_result res;
	uint8_t t1[STUN_TXID_BYTES], t2[STUN_TXID_BYTES], t3[STUN_TXID_BYTES];
	uint8_t buf[STUN_REQUEST_BYTES];
	uint32_t id;

	assert_non_null(c);
	start(c, &server_a, 0, T0, t1);
	start(c, &server_a, 0, T0, t2);
	assert_int_equal(stun_client_start(c, &server_a, 0, T0, buf, sizeof(buf), &id), -ENOBUFS);
	/* Both answered; the new one takes the slot finished longest ago. */
	assert_int_equal(answer(c, &server_a, t2, T0 + MS(1), &res), STUN_CLIENT_OK);
	assert_int_equal(answer(c, &server_a, t1, T0 + MS(2), &res), STUN_CLIENT_OK);
	start(c, &server_a, 0, T0 + MS(3), t3);
	assert_int_equal(answer(c, &server_a, t2, T0 + MS(4), &res), STUN_CLIENT_ERR_UNKNOWN_TX);
	assert_int_equal(answer(c, &server_a, t1, T0 + MS(4), &res), STUN_CLIENT_ERR_DUPLICATE);
	stun_client_free(c);
}

/* A transaction ID still held is never handed out twice. */
static void test_repeated_txid(void **state)
{
	struct fx *f = *state;
	uint8_t txid[STUN_TXID_BYTES], buf[STUN_REQUEST_BYTES];
	uint32_t id;

	start(f->c, &server_a, 0, T0, txid);
	f->ids.repeat = true;
	assert_int_equal(stun_client_start(f->c, &server_a, 0, T0, buf, sizeof(buf), &id), -EEXIST);
	assert_int_equal(stun_client_inflight(f->c), 1);
}

static void test_bad_args(void **state)
{
	struct fx *f = *state;
	struct ipport bad = server_a;
	uint8_t buf[STUN_REQUEST_BYTES];
	struct stun_client_event ev;
	uint32_t id;

	bad.port = 0;
	assert_int_equal(stun_client_start(f->c, &bad, 0, T0, buf, sizeof(buf), &id), -EINVAL);
	bad = server_a;
	bad.family = 0;
	assert_int_equal(stun_client_start(f->c, &bad, 0, T0, buf, sizeof(buf), &id), -EINVAL);
	assert_int_equal(stun_client_start(f->c, NULL, 0, T0, buf, sizeof(buf), &id), -EINVAL);
	assert_int_equal(stun_client_start(f->c, &server_a, 0, T0, buf, sizeof(buf) - 1, &id),
			 -ENOSPC);
	assert_int_equal(stun_client_inflight(f->c), 0);

	/* A retransmission due and no room to write it. */
	assert_int_equal(stun_client_start(f->c, &server_a, 0, T0, buf, sizeof(buf), &id), 0);
	assert_int_equal(stun_client_poll(f->c, T0 + MS(100), buf, 10, &ev), -ENOSPC);
	assert_int_equal(stun_client_poll(f->c, T0 + MS(100), buf, sizeof(buf), &ev), 1);
}

static void test_bad_config(void **state)
{
	struct stun_client_cfg cfg;

	(void)state;
	cfg = (struct stun_client_cfg){.max_sends = STUN_CLIENT_MAX_SENDS + 1};
	errno = 0;
	assert_null(stun_client_new(&cfg));
	assert_int_equal(errno, EINVAL);
	cfg = (struct stun_client_cfg){.max_tx = STUN_CLIENT_MAX_TX + 1};
	assert_null(stun_client_new(&cfg));
	cfg = (struct stun_client_cfg){.timeout_ms = STUN_CLIENT_MAX_TIMEOUT_MS + 1};
	assert_null(stun_client_new(&cfg));
	cfg = (struct stun_client_cfg){.rto_ms = 5000, .timeout_ms = 1000};
	assert_null(stun_client_new(&cfg));
	cfg = (struct stun_client_cfg){.max_sends = STUN_CLIENT_MAX_SENDS,
				       .timeout_ms = STUN_CLIENT_MAX_TIMEOUT_MS};
	struct stun_client *c = stun_client_new(&cfg);
	assert_non_null(c);
	stun_client_free(c);
	stun_client_free(NULL);
}

static void test_stats(void **state)
{
	struct fx *f = *state;
	struct stun_client_result res;
	struct stun_client_stats st;
	uint8_t txid[STUN_TXID_BYTES], other[STUN_TXID_BYTES] = {0};

	start(f->c, &server_a, 0, T0, txid);
	answer(f->c, &server_a, other, T0, &res);
	answer(f->c, &server_b, txid, T0, &res);
	answer(f->c, &server_a, txid, T0, &res);
	answer(f->c, &server_a, txid, T0, &res);
	stun_client_on_packet(f->c, &server_a, txid, 3, T0, &res);
	stun_client_get_stats(f->c, &st);
	assert_int_equal(st.started, 1);
	assert_int_equal(st.unknown_tx, 1);
	assert_int_equal(st.wrong_server, 1);
	assert_int_equal(st.answered, 1);
	assert_int_equal(st.duplicate, 1);
	assert_int_equal(st.malformed, 1);
	assert_int_equal(st.late, 0);
}

static void test_strerror(void **state)
{
	static const int errs[] = {
		STUN_CLIENT_ERR_MALFORMED, STUN_CLIENT_ERR_UNKNOWN_TX, STUN_CLIENT_ERR_WRONG_SERVER,
		STUN_CLIENT_ERR_DUPLICATE, STUN_CLIENT_ERR_LATE,       STUN_CLIENT_ERR_BAD_RESPONSE,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(stun_client_strerror(errs[i]),
						stun_client_strerror(errs[j]));
		assert_string_not_equal(stun_client_strerror(errs[i]), stun_client_strerror(1));
	}
	assert_string_equal(stun_client_strerror(STUN_CLIENT_OK), "ok");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_start_writes_request),
		T(test_answer_v4),
		T(test_answer_v6),
		T(test_answer_real_server_bytes),
		T(test_several_servers),
		T(test_err_unknown_txid),
		T(test_err_wrong_server),
		T(test_err_duplicate),
		T(test_err_late_after_timeout),
		T(test_err_late_before_poll),
		T(test_err_late_after_cancel),
		T(test_err_malformed),
		T(test_err_bad_fingerprint),
		T(test_err_bad_response),
		T(test_retransmit_schedule),
		T(test_no_retransmit),
		T(test_late_poll_skips_missed_sends),
		T(test_poll_in_time_order),
		T(test_custom_schedule),
		T(test_table_full),
		T(test_small_table),
		T(test_repeated_txid),
		T(test_bad_args),
		T(test_bad_config),
		T(test_stats),
		T(test_strerror),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}

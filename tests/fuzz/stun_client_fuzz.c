/* stun_client_fuzz: arbitrary packets and events against a STUN client
 * with transactions in flight (lib/stun/stun_client.h). The input is a
 * program: byte 0 picks max_sends, byte 1 the table size (small, so that a
 * full table is cheap to reach); three transactions start at once; then
 * each op is one of
 *   0 START srv              start a transaction to server srv
 *   1 TIME hi lo             advance the clock (ms), poll everything due
 *   2 RAW from hi lo bytes   a packet of arbitrary bytes from `from`
 *   3 REPLY from n kind k (pos val)*k
 *                            an answer for the n-th transaction ID, from
 *                            `from`, then k byte edits
 *   4 CANCEL n               cancel transaction id n
 * Transaction IDs are predictable ("FUZZTXID" + a 32-bit counter) so that
 * raw packets can name them too. Every result is checked against what the
 * header promises. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stun/stun_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	MAX_INPUT_BYTES = 8192,
	MAX_PACKET_BYTES = 600,
	NSERVERS = 4,	/* from == NSERVERS: an address we never asked */
	MAX_TABLE = 32, /* max_tx; the unit test covers the default size */
};

static const struct ipport servers[NSERVERS + 1] = {
	{.family = AF_INET, .ip = {192, 0, 2, 1}, .port = 3478},
	{.family = AF_INET, .ip = {192, 0, 2, 2}, .port = 3478},
	{.family = AF_INET, .ip = {192, 0, 2, 1}, .port = 3479},
	{.family = AF_INET6, .ip = {0x20, 0x01, 0x0d, 0xb8, [15] = 1}, .port = 3478},
	{.family = AF_INET, .ip = {203, 0, 113, 66}, .port = 3478},
};

static const struct ipport mapped[2] = {
	{.family = AF_INET, .ip = {198, 51, 100, 7}, .port = 41641},
	{.family = AF_INET6, .ip = {0x20, 0x01, 0x0d, 0xb8, 0xbe, 0xef, [15] = 7}, .port = 41641},
};

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t take(struct input *in)
{
	uint8_t b = 0;

	if (in->n > 0) {
		b = *in->p++;
		in->n--;
	}
	return b;
}

static void txid_of(uint32_t n, uint8_t txid[STUN_TXID_BYTES])
{
	memcpy(txid, "FUZZTXID", 8);
	txid[8] = n >> 24;
	txid[9] = n >> 16;
	txid[10] = n >> 8;
	txid[11] = n;
}

static void next_txid(void *arg, uint8_t txid[STUN_TXID_BYTES])
{
	uint32_t *n = arg;

	txid_of(++*n, txid);
}

static void start(struct stun_client *c, const struct ipport *srv, uint64_t now)
{
	uint8_t buf[STUN_REQUEST_BYTES], txid[STUN_TXID_BYTES];
	uint32_t id = 0;
	int rc = stun_client_start(c, srv, 0, now, buf, sizeof(buf), &id);

	if (rc == 0) {
		if (id == 0 || stun_parse_binding_request(buf, sizeof(buf), txid) != 0)
			abort();
	} else if (rc != -ENOBUFS && rc != -EEXIST) {
		abort();
	}
}

static void poll_all(struct stun_client *c, uint64_t now)
{
	uint8_t buf[STUN_REQUEST_BYTES], txid[STUN_TXID_BYTES];
	struct stun_client_event ev;
	/* Each transaction has at most max_sends - 1 retransmissions and one
	 * timeout; more events than that is a loop. */
	size_t left = STUN_CLIENT_MAX_TX * (STUN_CLIENT_MAX_SENDS + 1);
	int rc;

	while ((rc = stun_client_poll(c, now, buf, sizeof(buf), &ev)) == 1) {
		if (left-- == 0 || ev.id == 0)
			abort();
		if (ev.kind == STUN_CLIENT_EV_SEND &&
		    (ev.len != STUN_REQUEST_BYTES ||
		     stun_parse_binding_request(buf, ev.len, txid) != 0))
			abort();
		if (ev.kind != STUN_CLIENT_EV_SEND && ev.kind != STUN_CLIENT_EV_TIMEOUT)
			abort();
	}
	if (rc != 0 || ev.kind != STUN_CLIENT_EV_NONE || stun_client_deadline(c) <= now)
		abort();
}

static void deliver(struct stun_client *c, const struct ipport *from, const uint8_t *p, size_t len,
		    uint64_t now)
{
	struct stun_client_result res;
	int rc = stun_client_on_packet(c, from, p, len, now, &res);

	switch (rc) {
	case STUN_CLIENT_OK:
		if (res.id == 0 || !ipport_equal(from, &res.server) || res.sends == 0 ||
		    (res.mapped.family != AF_INET && res.mapped.family != AF_INET6))
			abort();
		break;
	case STUN_CLIENT_ERR_MALFORMED:
		if (res.id != 0 || res.stun_err >= 0)
			abort();
		break;
	case STUN_CLIENT_ERR_UNKNOWN_TX:
		if (res.id != 0)
			abort();
		break;
	case STUN_CLIENT_ERR_WRONG_SERVER:
		if (res.id == 0 || ipport_equal(from, &res.server))
			abort();
		break;
	case STUN_CLIENT_ERR_DUPLICATE:
	case STUN_CLIENT_ERR_LATE:
		if (res.id == 0 || !ipport_equal(from, &res.server))
			abort();
		break;
	case STUN_CLIENT_ERR_BAD_RESPONSE:
		if (res.id == 0 || res.stun_err >= 0)
			abort();
		break;
	default:
		abort();
	}
}

static void reply(struct stun_client *c, struct input *in, uint64_t now)
{
	uint8_t pkt[STUN_RESPONSE_MAX_BYTES], txid[STUN_TXID_BYTES];
	const struct ipport *from = &servers[take(in) % (NSERVERS + 1)];
	uint8_t which = take(in), kind = take(in), edits = take(in) % 8;
	size_t len;

	txid_of(which, txid);
	len = stun_binding_response(txid, &mapped[kind & 1], pkt, sizeof(pkt));
	if (len == 0)
		abort();
	for (uint8_t i = 0; i < edits; i++) {
		uint8_t pos = take(in);

		pkt[pos % len] ^= take(in);
	}
	/* Sometimes cut short. */
	if (kind & 2)
		len -= (kind >> 2) % len;
	deliver(c, from, pkt, len, now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	uint32_t counter = 0;
	struct stun_client_cfg cfg = {.new_txid = next_txid, .new_txid_arg = &counter};
	struct stun_client *c;
	uint64_t now = 1000000000000ull;

	if (size > MAX_INPUT_BYTES)
		return 0;
	cfg.max_sends = take(&in) % (STUN_CLIENT_MAX_SENDS + 1);
	cfg.max_tx = take(&in) % MAX_TABLE + 1;
	c = stun_client_new(&cfg);
	if (!c)
		abort();
	for (size_t i = 0; i < 3; i++)
		start(c, &servers[i], now);

	while (in.n > 0) {
		uint8_t op = take(&in) % 5;

		switch (op) {
		case 0:
			start(c, &servers[take(&in) % NSERVERS], now);
			break;
		case 1: {
			uint64_t ms = (uint64_t)take(&in) << 8;

			ms |= take(&in);
			now += ms * 1000000u;
			poll_all(c, now);
			break;
		}
		case 2: {
			const struct ipport *from = &servers[take(&in) % (NSERVERS + 1)];
			size_t len = ((size_t)take(&in) << 8 | take(&in)) % MAX_PACKET_BYTES;
			uint8_t *pkt;

			if (len > in.n)
				len = in.n;
			/* A copy of exactly len bytes, so ASan sees any read past it. */
			pkt = malloc(len ? len : 1);
			if (!pkt)
				abort();
			memcpy(pkt, in.p, len);
			in.p += len;
			in.n -= len;
			deliver(c, from, pkt, len, now);
			free(pkt);
			break;
		}
		case 3:
			reply(c, &in, now);
			break;
		case 4:
			stun_client_cancel(c, take(&in), now);
			break;
		}
		if (stun_client_inflight(c) > STUN_CLIENT_MAX_TX)
			abort();
	}
	stun_client_free(c);
	return 0;
}

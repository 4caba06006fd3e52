/* disco_fuzz: the input as a disco plaintext and as a sealed disco packet.
 * A plaintext that parses must encode back to its own bytes, except where
 * Tailscale's format takes non-canonical input (docs/disco.md): padding
 * content, bytes past a fixed-size message (msock's ProbeMe too),
 * versions of unknown format.
 * A packet is opened with the fixed receiver key the seeds were sealed to
 * (tests/fuzz/corpus/disco/pkt-*); what opens is parsed, and resealing it
 * with the same nonce must give back the packet. The input is also sealed
 * as a plaintext and must open to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "disco/disco.h"
#include "disco_equal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The seeds' keys: sender private key 1, 2, ..., 32; receiver 101, ..., 132
 * (the fixed keys of tests/unit/disco_test.c). */
struct fuzz_keys {
	struct key32 a_priv, a_pub, b_priv, b_pub;
	struct disco_shared ab, ba;
};

static const struct fuzz_keys *keys(void)
{
	static struct fuzz_keys k;
	static bool ready;

	if (ready)
		return &k;
	for (int i = 0; i < KEY_LEN; i++) {
		k.a_priv.b[i] = (uint8_t)(1 + i);
		k.b_priv.b[i] = (uint8_t)(101 + i);
	}
	if (key_public(&k.a_priv, &k.a_pub) != 0 || key_public(&k.b_priv, &k.b_pub) != 0 ||
	    disco_shared_init(&k.a_priv, &k.b_pub, &k.ab) != 0 ||
	    disco_shared_init(&k.b_priv, &k.a_pub, &k.ba) != 0)
		abort();
	ready = true;
	return &k;
}

/* X25519 ignores bit 255 of a public key (RFC 7748 section 5): a key with
 * it flipped is the same point, and its boxes open. The disco service
 * looks senders up by their exact bytes, so it never gets that far. */
static bool same_point(const struct key32 *a, const struct key32 *b)
{
	return memcmp(a->b, b->b, KEY_LEN - 1) == 0 &&
	       ((a->b[KEY_LEN - 1] ^ b->b[KEY_LEN - 1]) & 0x7f) == 0;
}

/* The bytes a canonical encoding of m gives back exactly: all of them,
 * except a Ping's padding (written as zeros) and, for fixed-size messages,
 * what follows the fixed part (ignored). 0: no encoding (an unknown
 * version's message). */
static size_t exact_prefix(const struct disco_msg *m, size_t size)
{
	switch (m->type) {
	case DISCO_TYPE_PING:
		return size - m->u.ping.padding;
	case DISCO_TYPE_PONG:
		return DISCO_MSG_HEADER_LEN + DISCO_PONG_LEN;
	case DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT:
	case DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT_CHALLENGE:
	case DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT_ANSWER:
		return DISCO_MSG_HEADER_LEN + DISCO_BIND_LEN;
	case DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_REQUEST:
		return m->version == 0 ? DISCO_MSG_HEADER_LEN + DISCO_ALLOC_REQ_LEN : 0;
	case DISCO_TYPE_CALL_ME_MAYBE:
	case DISCO_TYPE_CALL_ME_MAYBE_VIA:
	case DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE:
		return m->version == 0 ? size : 0;
	case DISCO_TYPE_MSOCK_PROBE_ME:
		return DISCO_MSG_HEADER_LEN + DISCO_PROBE_ME_LEN;
	}
	abort();
}

static void check_endpoints(const struct disco_endpoints *e)
{
	struct ipport a;
	size_t i;

	if (e->n > DISCO_MAX_ENDPOINTS)
		abort();
	for (i = 0; disco_endpoints_get(e, i, &a); i++) {
		if (a.family != AF_INET && a.family != AF_INET6)
			abort();
		(void)disco_endpoint_usable(&a);
	}
	if (i != e->n)
		abort();
}

static void check_plaintext(const uint8_t *data, size_t size)
{
	static uint8_t enc[DISCO_MAX_PLAINTEXT_LEN];
	struct disco_msg m, back;
	size_t n, exact;
	int rc = disco_msg_parse(data, size, &m);

	if (rc == DISCO_UNKNOWN_TYPE) {
		if (size < DISCO_MSG_HEADER_LEN || m.type != data[0] || m.version != data[1] ||
		    disco_msg_encode(&m, enc, sizeof(enc)) != 0)
			abort();
		return;
	}
	if (rc < 0) {
		if (!disco_strerror(rc))
			abort();
		return;
	}
	if (rc != 0 || m.type != data[0] || m.version != data[1])
		abort();
	if (m.type == DISCO_TYPE_CALL_ME_MAYBE)
		check_endpoints(&m.u.call_me_maybe.my_number);
	if (m.type == DISCO_TYPE_CALL_ME_MAYBE_VIA)
		check_endpoints(&m.u.call_me_maybe_via.addrs);
	if (m.type == DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE)
		check_endpoints(&m.u.alloc_resp.ep.addrs);
	(void)disco_msg_check_keys(&m);

	n = disco_msg_encode(&m, enc, sizeof(enc));
	exact = exact_prefix(&m, size);
	if (n != disco_msg_encoded_len(&m))
		abort();
	if (exact == 0) {
		if (n != 0) /* an unknown version's empty message is not sent */
			abort();
		return;
	}
	/* Canonical up to `exact`; the rest is the padding (zeros) or gone. */
	if (n == 0 || n < exact || n > size || memcmp(enc, data, exact) != 0)
		abort();
	for (size_t i = exact; i < n; i++)
		if (enc[i] != 0)
			abort();
	if (disco_msg_parse(enc, n, &back) != 0 || !th_disco_msg_equal(&back, &m))
		abort();
}

static void check_packet(const uint8_t *data, size_t size)
{
	static uint8_t plain[DISCO_MAX_PLAINTEXT_LEN], again[DISCO_MAX_PACKET_LEN];
	const struct fuzz_keys *k = keys();
	struct disco_packet p;
	bool looks = disco_looks_like(data, size);
	int rc = disco_packet_parse(data, size, &p), n, n2;

	if (rc != 0) {
		if (rc == DISCO_ERR_BAD_MAGIC && looks)
			abort();
		return;
	}
	if (!looks || key_is_zero(&p.sender) || p.box_len + DISCO_SEALED_HEADER_LEN != size)
		abort();
	n = disco_open(&k->b_priv, &p, plain, sizeof(plain));
	/* The precomputed key stands for one sender: the caller picks it by
	 * p.sender, so only the seeds' sender is compared. */
	if (same_point(&p.sender, &k->a_pub) &&
	    disco_open_shared(&k->ba, &p, plain, sizeof(plain)) != n)
		abort();
	if (n < 0)
		return;
	/* Only a box from the seeds' sender opens. */
	if (!same_point(&p.sender, &k->a_pub) || (size_t)n != size - DISCO_MIN_PACKET_LEN)
		abort();
	check_plaintext(plain, (size_t)n);
	n2 = disco_seal_shared(&k->ab, &p.sender, p.nonce, plain, (size_t)n, again, sizeof(again));
	if (n2 < 0 || (size_t)n2 != size || memcmp(again, data, size) != 0)
		abort();
}

/* Sealing the input as a plaintext opens back to it. */
static void check_seal(const uint8_t *data, size_t size)
{
	static uint8_t pkt[DISCO_MAX_PACKET_LEN], plain[DISCO_MAX_PLAINTEXT_LEN];
	static const uint8_t nonce[DISCO_NONCE_LEN] = {1};
	const struct fuzz_keys *k = keys();
	struct disco_packet p;
	int n = disco_seal_shared(&k->ab, &k->a_pub, nonce, data, size, pkt, sizeof(pkt));

	if (size > DISCO_MAX_PLAINTEXT_LEN) {
		if (n != DISCO_ERR_TOO_LONG)
			abort();
		return;
	}
	if (n < 0 || disco_packet_parse(pkt, (size_t)n, &p) != 0 ||
	    disco_open_shared(&k->ba, &p, plain, sizeof(plain)) != (int)size ||
	    (size && memcmp(plain, data, size) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_plaintext(data, size);
	check_packet(data, size);
	check_seal(data, size);
	return 0;
}

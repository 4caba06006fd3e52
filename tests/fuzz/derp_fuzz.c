/* derp_fuzz: the input as a stream of DERP frames, read as each side reads
 * them (derp_frame_max_len from the header, unknown types skipped); every
 * parsed frame whose encoding is canonical must re-encode to its own bytes.
 * The input is also opened as a ClientInfo payload with a fixed server key,
 * and parsed as ClientInfo / ServerInfo JSON. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "derp/derp_frame.h"
#include "derp/derp_handshake.h"
#include "key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	/* Big enough for any frame a fuzz input holds (libFuzzer's default
	 * -max_len is 4096; the replay reads files up to 1 MiB). */
	DERP_FUZZ_ENC_BYTES = DERP_FRAME_HEADER_LEN + DERP_CLIENT_MAX_FRAME_BYTES + 64,
};

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Field by field: struct padding is not part of the value. */
static bool ci_equal(const struct derp_client_info *a, const struct derp_client_info *b)
{
	return a->version == b->version && a->has_mesh_key == b->has_mesh_key &&
	       memcmp(a->mesh_key, b->mesh_key, sizeof(a->mesh_key)) == 0 &&
	       a->can_ack_pings == b->can_ack_pings && a->is_prober == b->is_prober &&
	       strcmp(a->app_name, b->app_name) == 0;
}

static bool si_equal(const struct derp_server_info *a, const struct derp_server_info *b)
{
	return a->version == b->version &&
	       a->token_bucket_bytes_per_second == b->token_bucket_bytes_per_second &&
	       a->token_bucket_bytes_burst == b->token_bucket_bytes_burst;
}

/* Whether derp_frame_encode must give back exactly the frame's bytes: it
 * writes Tailscale's canonical form, which drops what parsers ignore. */
static bool canonical(const struct derp_frame *f, const uint8_t *payload, uint32_t len)
{
	switch (f->type) {
	case DERP_FRAME_SERVER_KEY:
		return len == DERP_SERVER_KEY_LEN;
	case DERP_FRAME_RECV_PACKET:
		return f->u.recv_packet.len <= DERP_MAX_PACKET_SIZE;
	case DERP_FRAME_KEEP_ALIVE:
		return len == 0;
	case DERP_FRAME_NOTE_PREFERRED:
		return payload[0] <= 1;
	case DERP_FRAME_PEER_GONE:
		return len == DERP_PEER_GONE_LEN &&
		       (f->u.peer_gone.reason == DERP_PEER_GONE_NOT_HERE ||
			f->u.peer_gone.reason == DERP_PEER_GONE_DISCONNECTED);
	case DERP_FRAME_PEER_PRESENT:
		return len == DERP_PEER_PRESENT_LEN;
	case DERP_FRAME_PING:
	case DERP_FRAME_PONG:
	case DERP_FRAME_RESTARTING:
		return len == DERP_PING_LEN;
	}
	return true;
}

static void check_frame(uint8_t type, const uint8_t *payload, uint32_t len)
{
	static uint8_t enc[DERP_FUZZ_ENC_BYTES];
	struct derp_frame f;
	size_t n;
	int rc = derp_frame_parse(type, payload, len, &f);

	if (rc == DERP_ERR_UNKNOWN_TYPE || rc < 0) {
		if (!derp_strerror(rc))
			abort();
		return;
	}
	if (rc != 0 || f.type != type)
		abort();
	n = derp_frame_encode(&f, enc, sizeof(enc));
	if (!canonical(&f, payload, len)) {
		/* Not canonical, but what it encodes must parse the same. */
		struct derp_frame g;
		if (n == 0)
			return;
		if (derp_frame_parse(enc[0], enc + DERP_FRAME_HEADER_LEN, n - DERP_FRAME_HEADER_LEN,
				     &g) != 0 ||
		    g.type != type)
			abort();
		return;
	}
	if (n != (size_t)DERP_FRAME_HEADER_LEN + len || enc[0] != type ||
	    memcmp(enc + DERP_FRAME_HEADER_LEN, payload, len) != 0)
		abort();
}

/* Reads frames until the input runs out, as `side` would. */
static void read_stream(const uint8_t *data, size_t size, enum derp_side side)
{
	size_t off = 0;

	while (size - off >= DERP_FRAME_HEADER_LEN) {
		struct derp_frame_header h;
		uint32_t max;

		if (derp_frame_header_parse(data + off, size - off, &h) != 0)
			abort();
		off += DERP_FRAME_HEADER_LEN;
		max = derp_frame_max_len(h.type, side);
		if (derp_frame_header_check(&h, side) != 0) {
			if (h.len <= max)
				abort();
			return; /* the reader hangs up */
		}
		if (h.len > size - off)
			return; /* truncated: would wait for more */
		if (max != DERP_FRAME_LEN_UNLIMITED)
			check_frame(h.type, data + off, h.len);
		off += h.len;
	}
	if (derp_frame_header_parse(data + off, size - off, &(struct derp_frame_header){0}) !=
	    DERP_ERR_SHORT_HEADER)
		abort();
}

static void check_client_info(const uint8_t *data, size_t size)
{
	static struct key32 server_priv;
	static bool ready;
	struct derp_client_info ci;
	struct derp_server_info si;
	struct key32 who;
	uint8_t json[DERP_CLIENT_INFO_JSON_MAX_BYTES];
	int rc;

	if (!ready) {
		/* A fixed server key: the fuzzer cannot forge boxes, but it
		 * walks every check before the box. */
		memset(server_priv.b, 0x42, sizeof(server_priv.b));
		ready = true;
	}
	rc = derp_client_info_open(&server_priv, data, size, &who, &ci);
	if (rc > 0 || (rc == 0 && key_is_zero(&who)))
		abort();
	/* The JSON parsers on raw input: what parses encodes and parses back. */
	if (derp_client_info_parse(data, size, &ci) == 0) {
		struct derp_client_info back;
		size_t n = derp_client_info_encode(&ci, json, sizeof(json));
		if (n == 0 || derp_client_info_parse(json, n, &back) != 0 || !ci_equal(&back, &ci))
			abort();
		if (ci.has_mesh_key == all_zero(ci.mesh_key, sizeof(ci.mesh_key)))
			abort();
	}
	if (derp_server_info_parse(data, size, &si) == 0) {
		struct derp_server_info back;
		size_t n = derp_server_info_encode(&si, json, sizeof(json));
		if (n == 0 || derp_server_info_parse(json, n, &back) != 0 || !si_equal(&back, &si))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	read_stream(data, size, DERP_SIDE_SERVER);
	read_stream(data, size, DERP_SIDE_CLIENT);
	/* Every known type over the whole input, unlimited by any side. */
	if (size >= 1)
		check_frame(data[0], data + 1, (uint32_t)(size - 1));
	check_client_info(data, size);
	return 0;
}

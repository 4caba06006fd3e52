/* derp_handshake: the DERP login after ServerKey. The client sends
 * ClientInfo = its public key + 24-byte nonce + NaCl box (libsodium
 * crypto_box_easy = Go's nacl/box.Seal) of JSON; the server answers
 * ServerInfo = nonce + box of JSON. JSON as Go's encoding/json writes and
 * reads Tailscale's derp.ClientInfo / derp.ServerInfo (derp/derp_client.go,
 * derp/derp.go, derp/derpserver/derpserver.go); mesh keys as
 * types/key/derp.go. Everything here returns 0 or a negative derp_err. */
#ifndef MSOCK_DERP_HANDSHAKE_H
#define MSOCK_DERP_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "derp/derp_frame.h"
#include "key.h"

enum {
	DERP_MESH_KEY_LEN = 32,	    /* key.DERPMesh: [32]byte */
	DERP_MESH_KEY_HEX_LEN = 64, /* key.ParseDERPMesh: 64 hex digits */
	DERP_BOX_OVERHEAD = 16,	    /* box.Overhead = crypto_box_MACBYTES */
	/* Ours: AppName is an opaque stats label that Tailscale's server never
	 * reads; a longer one is cut to this (at a UTF-8 boundary). */
	DERP_APP_NAME_MAX_BYTES = 128,
	/* Ours: the deepest JSON nesting accepted in ClientInfo/ServerInfo. The
	 * messages are flat objects (depth 1); Go allows 10000 and jansson
	 * 2048 (JSON_PARSER_MAX_DEPTH, a build option), so we cap it
	 * ourselves before jansson's recursive parser sees the text. */
	DERP_INFO_JSON_MAX_DEPTH = 32,
	/* Ours: the longest JSON derp_client_info_encode writes (every field,
	 * an app name of 128 bytes each escaped to 6): fits the seal's stack
	 * buffer. */
	DERP_CLIENT_INFO_JSON_MAX_BYTES = 1024,
	DERP_SERVER_INFO_JSON_MAX_BYTES = 128, /* three int64 fields */
};

/* derp.ClientInfo. JSON: {"meshKey":"<hex>","version":N,"CanAckPings":b,
 * "IsProber":b,"AppName":"s"} with meshKey omitted when zero (omitzero),
 * version/IsProber/AppName when zero (omitempty); CanAckPings always. */
struct derp_client_info {
	int64_t version; /* DERP_PROTOCOL_VERSION; 0 = not sent */
	/* A non-zero mesh key was sent (a zero one means none, as in Go). */
	bool has_mesh_key;
	uint8_t mesh_key[DERP_MESH_KEY_LEN];
	bool can_ack_pings;
	bool is_prober;
	/* NUL-terminated; parsing cuts it at an embedded NUL or at
	 * DERP_APP_NAME_MAX_BYTES. */
	char app_name[DERP_APP_NAME_MAX_BYTES + 1];
};

/* derp.ServerInfo: {"version":N,"TokenBucketBytesPerSecond":N,
 * "TokenBucketBytesBurst":N}, each omitted when 0. Zero rates mean the
 * server states no limit. */
struct derp_server_info {
	int64_t version;
	int64_t token_bucket_bytes_per_second;
	int64_t token_bucket_bytes_burst;
};

/* JSON codecs. encode writes Go's json.Marshal bytes (no NUL) and returns
 * their length, or 0 if cap is too small. parse reads what Go's
 * json.Unmarshal would: field names match case-insensitively (ASCII), unknown
 * fields and null values are ignored, a top-level null gives all zeros; a
 * field of the wrong JSON type, a non-integer number, a bad mesh key, or
 * nesting past DERP_INFO_JSON_MAX_DEPTH is an error. parse allocates only
 * inside jansson, freed before it returns. */
size_t derp_client_info_encode(const struct derp_client_info *ci, uint8_t *buf, size_t cap);
int derp_client_info_parse(const uint8_t *json, size_t len, struct derp_client_info *out);
size_t derp_server_info_encode(const struct derp_server_info *si, uint8_t *buf, size_t cap);
int derp_server_info_parse(const uint8_t *json, size_t len, struct derp_server_info *out);

/* Client: writes the ClientInfo payload (client_pub + nonce + box of the
 * JSON, sealed from client_priv to server_pub; no frame header: put one in
 * front with derp_frame_header_encode) into buf and its length into *len.
 * client_pub must be client_priv's public key. The nonce comes from
 * randombytes_buf, or is given (for test vectors). */
int derp_client_info_seal(const struct key32 *client_priv, const struct key32 *client_pub,
			  const struct key32 *server_pub, const struct derp_client_info *ci,
			  uint8_t *buf, size_t cap, size_t *len);
int derp_client_info_seal_with_nonce(const struct key32 *client_priv,
				     const struct key32 *client_pub, const struct key32 *server_pub,
				     const struct derp_client_info *ci,
				     const uint8_t nonce[DERP_NONCE_LEN], uint8_t *buf, size_t cap,
				     size_t *len);
/* Server: opens a ClientInfo payload (derpserver.go recvClientKey): 56 ..
 * DERP_CLIENT_INFO_MAX_BYTES bytes, a non-zero client key, a box that opens
 * from that key to server_priv, JSON that parses. Sets *client_pub and *out
 * only on success. Allocates the plaintext (payload length - 72 bytes) and
 * frees it before returning. */
int derp_client_info_open(const struct key32 *server_priv, const uint8_t *payload, size_t len,
			  struct key32 *client_pub, struct derp_client_info *out);

/* Server: writes the ServerInfo payload (nonce + box of the JSON, sealed
 * from server_priv to client_pub) into buf, its length into *len. */
int derp_server_info_seal(const struct key32 *server_priv, const struct key32 *client_pub,
			  const struct derp_server_info *si, uint8_t *buf, size_t cap, size_t *len);
int derp_server_info_seal_with_nonce(const struct key32 *server_priv,
				     const struct key32 *client_pub,
				     const struct derp_server_info *si,
				     const uint8_t nonce[DERP_NONCE_LEN], uint8_t *buf, size_t cap,
				     size_t *len);
/* Client: opens a ServerInfo payload (derp_client.go parseServerInfo): 24 ..
 * 24 + DERP_MAX_INFO_LEN bytes, boxed from server_pub to client_priv.
 * Allocates the plaintext and frees it before returning. */
int derp_server_info_open(const struct key32 *client_priv, const struct key32 *server_pub,
			  const uint8_t *payload, size_t len, struct derp_server_info *out);

/* Mesh keys (types/key/derp.go). equal runs in constant time
 * (sodium_memcmp), as DERPMesh.Equal does with subtle.ConstantTimeCompare. */
bool derp_mesh_key_equal(const uint8_t a[DERP_MESH_KEY_LEN], const uint8_t b[DERP_MESH_KEY_LEN]);
bool derp_mesh_key_is_zero(const uint8_t k[DERP_MESH_KEY_LEN]);
/* key.ParseDERPMesh: surrounding whitespace trimmed, then exactly 64 hex
 * digits (either case). Returns 0 or DERP_ERR_MESH_KEY; out is written
 * only on success. */
int derp_mesh_key_parse(const char *s, uint8_t out[DERP_MESH_KEY_LEN]);
/* DERPMesh.String: 64 lowercase hex digits and a NUL; returns 64, or 0 if
 * cap <= 64. */
size_t derp_mesh_key_format(const uint8_t k[DERP_MESH_KEY_LEN], char *buf, size_t cap);

#endif

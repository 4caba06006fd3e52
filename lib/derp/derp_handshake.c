/* derp_handshake: sealing and opening ClientInfo and ServerInfo (Tailscale's
 * key.NodePrivate SealTo/OpenFrom: nonce || box.Seal, NaCl crypto_box) and
 * mesh keys (types/key/derp.go). */
#include "derp/derp_handshake.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(DERP_BOX_OVERHEAD == crypto_box_MACBYTES, "box overhead");
_Static_assert(DERP_NONCE_LEN == crypto_box_NONCEBYTES, "box nonce");
_Static_assert(DERP_KEY_LEN == crypto_box_PUBLICKEYBYTES, "key size");
_Static_assert((int)KEY_LEN == (int)DERP_KEY_LEN, "struct key32 holds a DERP key");

static bool zero_key(const struct key32 *k)
{
	return sodium_is_zero(k->b, sizeof(k->b));
}

/* Writes nonce || box(msg) at buf (Go's SealTo). */
static int seal(const struct key32 *priv, const struct key32 *peer_pub, const uint8_t *msg,
		size_t msg_len, const uint8_t nonce[DERP_NONCE_LEN], uint8_t *buf, size_t cap,
		size_t *len)
{
	size_t n = DERP_NONCE_LEN + DERP_BOX_OVERHEAD + msg_len;

	/* Go panics: "can't seal with zero keys". */
	if (zero_key(priv) || zero_key(peer_pub))
		return DERP_ERR_ZERO_KEY;
	if (cap < n)
		return DERP_ERR_BUF_TOO_SMALL;
	memmove(buf, nonce, DERP_NONCE_LEN);
	if (crypto_box_easy(buf + DERP_NONCE_LEN, msg, msg_len, buf, peer_pub->b, priv->b) != 0)
		return DERP_ERR_CRYPTO;
	*len = n;
	return 0;
}

/* Opens nonce || box from peer_pub to priv into a new buffer (Go's
 * OpenFrom); the caller frees *msg. */
static int open_box(const struct key32 *priv, const struct key32 *peer_pub, const uint8_t *p,
		    size_t len, uint8_t **msg, size_t *msg_len)
{
	size_t box_len;
	uint8_t *m;

	if (len < DERP_NONCE_LEN)
		return DERP_ERR_SHORT;
	box_len = len - DERP_NONCE_LEN;
	/* box.Open fails on a box shorter than its tag. */
	if (box_len < DERP_BOX_OVERHEAD)
		return DERP_ERR_BOX;
	m = malloc(box_len - DERP_BOX_OVERHEAD + 1);
	if (!m)
		return DERP_ERR_NOMEM;
	if (crypto_box_open_easy(m, p + DERP_NONCE_LEN, box_len, p, peer_pub->b, priv->b) != 0) {
		free(m);
		return DERP_ERR_BOX;
	}
	*msg = m;
	*msg_len = box_len - DERP_BOX_OVERHEAD;
	return 0;
}

int derp_client_info_seal_with_nonce(const struct key32 *client_priv,
				     const struct key32 *client_pub, const struct key32 *server_pub,
				     const struct derp_client_info *ci,
				     const uint8_t nonce[DERP_NONCE_LEN], uint8_t *buf, size_t cap,
				     size_t *len)
{
	uint8_t json[DERP_CLIENT_INFO_JSON_MAX_BYTES];
	size_t json_len, boxed;
	int rc;

	if (!client_priv || !client_pub || !server_pub || !ci || !nonce || !buf || !len)
		return DERP_ERR_INVALID_ARG;
	if (zero_key(client_pub))
		return DERP_ERR_ZERO_KEY;
	json_len = derp_client_info_encode(ci, json, sizeof(json));
	if (json_len == 0)
		return DERP_ERR_INVALID_ARG;
	if (cap < DERP_KEY_LEN)
		return DERP_ERR_BUF_TOO_SMALL;
	rc = seal(client_priv, server_pub, json, json_len, nonce, buf + DERP_KEY_LEN,
		  cap - DERP_KEY_LEN, &boxed);
	if (rc < 0)
		return rc;
	memcpy(buf, client_pub->b, DERP_KEY_LEN);
	*len = DERP_KEY_LEN + boxed;
	return 0;
}

int derp_client_info_seal(const struct key32 *client_priv, const struct key32 *client_pub,
			  const struct key32 *server_pub, const struct derp_client_info *ci,
			  uint8_t *buf, size_t cap, size_t *len)
{
	uint8_t nonce[DERP_NONCE_LEN];

	/* sodium_init only fails with no random source to draw the nonce from. */
	if (sodium_init() < 0)
		return DERP_ERR_CRYPTO;
	randombytes_buf(nonce, sizeof(nonce));
	return derp_client_info_seal_with_nonce(client_priv, client_pub, server_pub, ci, nonce, buf,
						cap, len);
}

int derp_client_info_open(const struct key32 *server_priv, const uint8_t *payload, size_t len,
			  struct key32 *client_pub, struct derp_client_info *out)
{
	struct derp_client_info ci;
	struct key32 pub;
	uint8_t *msg;
	size_t msg_len;
	int rc;

	if (!server_priv || !client_pub || !out || (!payload && len > 0))
		return DERP_ERR_INVALID_ARG;
	/* derpserver.go recvClientKey: "short client info", "long client
	 * info" (256 KiB: the client is not trusted yet). */
	if (len < DERP_KEY_LEN + DERP_NONCE_LEN)
		return DERP_ERR_SHORT;
	if (len > DERP_CLIENT_INFO_MAX_BYTES)
		return DERP_ERR_TOO_LONG;
	memcpy(pub.b, payload, DERP_KEY_LEN);
	/* Go's OpenFrom panics on a zero key; we refuse it. */
	if (zero_key(&pub))
		return DERP_ERR_ZERO_KEY;
	rc = open_box(server_priv, &pub, payload + DERP_KEY_LEN, len - DERP_KEY_LEN, &msg,
		      &msg_len);
	if (rc < 0)
		return rc;
	rc = derp_client_info_parse(msg, msg_len, &ci);
	free(msg);
	if (rc < 0)
		return rc;
	*client_pub = pub;
	*out = ci;
	return 0;
}

int derp_server_info_seal_with_nonce(const struct key32 *server_priv,
				     const struct key32 *client_pub,
				     const struct derp_server_info *si,
				     const uint8_t nonce[DERP_NONCE_LEN], uint8_t *buf, size_t cap,
				     size_t *len)
{
	uint8_t json[DERP_SERVER_INFO_JSON_MAX_BYTES];
	size_t json_len;

	if (!server_priv || !client_pub || !si || !nonce || !buf || !len)
		return DERP_ERR_INVALID_ARG;
	json_len = derp_server_info_encode(si, json, sizeof(json));
	if (json_len == 0)
		return DERP_ERR_INVALID_ARG;
	return seal(server_priv, client_pub, json, json_len, nonce, buf, cap, len);
}

int derp_server_info_seal(const struct key32 *server_priv, const struct key32 *client_pub,
			  const struct derp_server_info *si, uint8_t *buf, size_t cap, size_t *len)
{
	uint8_t nonce[DERP_NONCE_LEN];

	if (sodium_init() < 0)
		return DERP_ERR_CRYPTO;
	randombytes_buf(nonce, sizeof(nonce));
	return derp_server_info_seal_with_nonce(server_priv, client_pub, si, nonce, buf, cap, len);
}

int derp_server_info_open(const struct key32 *client_priv, const struct key32 *server_pub,
			  const uint8_t *payload, size_t len, struct derp_server_info *out)
{
	struct derp_server_info si;
	uint8_t *msg;
	size_t msg_len;
	int rc;

	if (!client_priv || !server_pub || !out || (!payload && len > 0))
		return DERP_ERR_INVALID_ARG;
	/* derp_client.go parseServerInfo: "short/long serverInfo frame". */
	if (len < DERP_NONCE_LEN)
		return DERP_ERR_SHORT;
	if (len > DERP_NONCE_LEN + DERP_MAX_INFO_LEN)
		return DERP_ERR_TOO_LONG;
	if (zero_key(server_pub))
		return DERP_ERR_ZERO_KEY;
	rc = open_box(client_priv, server_pub, payload, len, &msg, &msg_len);
	if (rc < 0)
		return rc;
	rc = derp_server_info_parse(msg, msg_len, &si);
	free(msg);
	if (rc < 0)
		return rc;
	*out = si;
	return 0;
}

bool derp_mesh_key_equal(const uint8_t a[DERP_MESH_KEY_LEN], const uint8_t b[DERP_MESH_KEY_LEN])
{
	return sodium_memcmp(a, b, DERP_MESH_KEY_LEN) == 0;
}

bool derp_mesh_key_is_zero(const uint8_t k[DERP_MESH_KEY_LEN])
{
	return sodium_is_zero(k, DERP_MESH_KEY_LEN) == 1;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

int derp_mesh_key_parse(const char *s, uint8_t out[DERP_MESH_KEY_LEN])
{
	uint8_t k[DERP_MESH_KEY_LEN];
	size_t n, bin_len = 0;

	if (!s || !out)
		return DERP_ERR_MESH_KEY;
	/* strings.TrimSpace, then exactly 64 hex digits. */
	while (is_space(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_space(s[n - 1]))
		n--;
	if (n != DERP_MESH_KEY_HEX_LEN)
		return DERP_ERR_MESH_KEY;
	if (sodium_hex2bin(k, sizeof(k), s, n, NULL, &bin_len, NULL) != 0 || bin_len != sizeof(k)) {
		sodium_memzero(k, sizeof(k));
		return DERP_ERR_MESH_KEY;
	}
	memcpy(out, k, sizeof(k));
	sodium_memzero(k, sizeof(k));
	return 0;
}

size_t derp_mesh_key_format(const uint8_t k[DERP_MESH_KEY_LEN], char *buf, size_t cap)
{
	if (!k || !buf || cap < DERP_MESH_KEY_HEX_LEN + 1)
		return 0;
	sodium_bin2hex(buf, cap, k, DERP_MESH_KEY_LEN);
	return DERP_MESH_KEY_HEX_LEN;
}

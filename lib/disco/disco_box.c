/* disco_box: the sealed disco packet, "TS💬" + sender disco key + nonce +
 * NaCl box (crypto_box: Curve25519, XSalsa20, Poly1305), as disco/disco.go
 * describes it and magicsock's sendDiscoMessage / handleDiscoMessage write
 * and read it (types/key DiscoShared Seal and Open). */
#include <sodium.h>
#include <string.h>

#include "disco/disco.h"

_Static_assert(DISCO_KEY_LEN == crypto_box_PUBLICKEYBYTES, "disco key size");
_Static_assert(DISCO_KEY_LEN == crypto_box_SECRETKEYBYTES, "disco private key size");
_Static_assert(DISCO_NONCE_LEN == crypto_box_NONCEBYTES, "disco nonce size");
_Static_assert(DISCO_BOX_OVERHEAD == crypto_box_MACBYTES, "disco box overhead");
_Static_assert(sizeof(((struct disco_shared *)0)->k) == crypto_box_BEFORENMBYTES,
	       "disco shared key size");
_Static_assert(DISCO_MIN_PACKET_LEN == 78 && DISCO_MAX_PLAINTEXT_LEN == 65458,
	       "disco packet limits");

const uint8_t disco_magic[DISCO_MAGIC_LEN] = {0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac};

bool disco_looks_like(const uint8_t *p, size_t len)
{
	return p && len >= DISCO_HEADER_LEN && memcmp(p, disco_magic, DISCO_MAGIC_LEN) == 0;
}

int disco_packet_parse(const uint8_t *p, size_t len, struct disco_packet *out)
{
	struct disco_packet pkt;

	if (!p || len < DISCO_MIN_PACKET_LEN)
		return DISCO_ERR_SHORT;
	if (len > DISCO_MAX_PACKET_LEN)
		return DISCO_ERR_TOO_LONG;
	if (memcmp(p, disco_magic, DISCO_MAGIC_LEN) != 0)
		return DISCO_ERR_BAD_MAGIC;
	memcpy(pkt.sender.b, p + DISCO_MAGIC_LEN, DISCO_KEY_LEN);
	if (key_is_zero(&pkt.sender))
		return DISCO_ERR_ZERO_KEY;
	pkt.nonce = p + DISCO_HEADER_LEN;
	pkt.box = p + DISCO_SEALED_HEADER_LEN;
	pkt.box_len = len - DISCO_SEALED_HEADER_LEN;
	*out = pkt;
	return 0;
}

int disco_shared_init(const struct key32 *my_priv, const struct key32 *peer_pub,
		      struct disco_shared *out)
{
	if (key_is_zero(my_priv) || key_is_zero(peer_pub)) {
		sodium_memzero(out->k, sizeof(out->k));
		return DISCO_ERR_ZERO_KEY;
	}
	if (crypto_box_beforenm(out->k, peer_pub->b, my_priv->b) != 0) {
		sodium_memzero(out->k, sizeof(out->k));
		return DISCO_ERR_CRYPTO;
	}
	return 0;
}

void disco_shared_wipe(struct disco_shared *k)
{
	if (k)
		sodium_memzero(k->k, sizeof(k->k));
}

/* Checks what both seals share and writes magic, sender key and nonce.
 * plain may lie in buf at DISCO_MIN_PACKET_LEN (disco_msg_seal): nothing
 * here writes past the nonce. */
static int seal_header(const struct key32 *my_pub, const uint8_t *nonce, size_t plain_len,
		       uint8_t *buf, size_t cap)
{
	if (plain_len > DISCO_MAX_PLAINTEXT_LEN)
		return DISCO_ERR_TOO_LONG;
	if (!buf || cap < DISCO_MIN_PACKET_LEN || cap - DISCO_MIN_PACKET_LEN < plain_len)
		return DISCO_ERR_BUF_TOO_SMALL;
	if (key_is_zero(my_pub))
		return DISCO_ERR_ZERO_KEY;
	memcpy(buf, disco_magic, DISCO_MAGIC_LEN);
	memcpy(buf + DISCO_MAGIC_LEN, my_pub->b, DISCO_KEY_LEN);
	if (nonce) {
		memcpy(buf + DISCO_HEADER_LEN, nonce, DISCO_NONCE_LEN);
	} else {
		/* sodium_init fails only without a random source. */
		if (sodium_init() < 0)
			return DISCO_ERR_CRYPTO;
		randombytes_buf(buf + DISCO_HEADER_LEN, DISCO_NONCE_LEN);
	}
	return 0;
}

int disco_seal(const struct key32 *my_priv, const struct key32 *my_pub,
	       const struct key32 *peer_pub, const uint8_t *nonce, const uint8_t *plain,
	       size_t plain_len, uint8_t *buf, size_t cap)
{
	int rc;

	if (!plain && plain_len)
		return DISCO_ERR_INVALID_ARG;
	if (key_is_zero(peer_pub))
		return DISCO_ERR_ZERO_KEY;
	rc = seal_header(my_pub, nonce, plain_len, buf, cap);
	if (rc < 0)
		return rc;
	/* libsodium refuses a low-order peer key (an all-zero shared point). */
	if (crypto_box_easy(buf + DISCO_SEALED_HEADER_LEN, plain ? plain : buf, plain_len,
			    buf + DISCO_HEADER_LEN, peer_pub->b, my_priv->b) != 0)
		return DISCO_ERR_CRYPTO;
	return (int)(DISCO_MIN_PACKET_LEN + plain_len);
}

int disco_seal_shared(const struct disco_shared *k, const struct key32 *my_pub,
		      const uint8_t *nonce, const uint8_t *plain, size_t plain_len, uint8_t *buf,
		      size_t cap)
{
	int rc;

	if (!k || (!plain && plain_len))
		return DISCO_ERR_INVALID_ARG;
	rc = seal_header(my_pub, nonce, plain_len, buf, cap);
	if (rc < 0)
		return rc;
	/* In place when plain == buf + DISCO_MIN_PACKET_LEN: libsodium
	 * allows the ciphertext to overlap the message it encrypts. */
	if (crypto_box_easy_afternm(buf + DISCO_SEALED_HEADER_LEN, plain ? plain : buf, plain_len,
				    buf + DISCO_HEADER_LEN, k->k) != 0)
		return DISCO_ERR_CRYPTO;
	return (int)(DISCO_MIN_PACKET_LEN + plain_len);
}

/* What both opens check; the plaintext length on success. */
static int open_check(const struct disco_packet *pkt, uint8_t *plain, size_t cap)
{
	if (!pkt || !pkt->nonce || !pkt->box || !plain)
		return DISCO_ERR_INVALID_ARG;
	if (pkt->box_len < DISCO_BOX_OVERHEAD)
		return DISCO_ERR_SHORT;
	if (pkt->box_len - DISCO_BOX_OVERHEAD > DISCO_MAX_PLAINTEXT_LEN)
		return DISCO_ERR_TOO_LONG;
	if (cap < pkt->box_len - DISCO_BOX_OVERHEAD)
		return DISCO_ERR_BUF_TOO_SMALL;
	if (key_is_zero(&pkt->sender))
		return DISCO_ERR_ZERO_KEY;
	return (int)(pkt->box_len - DISCO_BOX_OVERHEAD);
}

int disco_open(const struct key32 *my_priv, const struct disco_packet *pkt, uint8_t *plain,
	       size_t cap)
{
	int n = open_check(pkt, plain, cap);

	if (n < 0)
		return n;
	if (crypto_box_open_easy(plain, pkt->box, pkt->box_len, pkt->nonce, pkt->sender.b,
				 my_priv->b) != 0)
		return DISCO_ERR_BOX;
	return n;
}

int disco_open_shared(const struct disco_shared *k, const struct disco_packet *pkt, uint8_t *plain,
		      size_t cap)
{
	int n = open_check(pkt, plain, cap);

	if (n < 0)
		return n;
	if (!k)
		return DISCO_ERR_INVALID_ARG;
	if (crypto_box_open_easy_afternm(plain, pkt->box, pkt->box_len, pkt->nonce, k->k) != 0)
		return DISCO_ERR_BOX;
	return n;
}

int disco_msg_seal(const struct disco_shared *k, const struct key32 *my_pub, const uint8_t *nonce,
		   const struct disco_msg *m, uint8_t *buf, size_t cap)
{
	size_t n = disco_msg_encoded_len(m);

	if (n == 0)
		return DISCO_ERR_INVALID_ARG;
	if (n > DISCO_MAX_PLAINTEXT_LEN)
		return DISCO_ERR_TOO_LONG;
	if (!buf || cap < DISCO_MIN_PACKET_LEN || cap - DISCO_MIN_PACKET_LEN < n)
		return DISCO_ERR_BUF_TOO_SMALL;
	/* The plaintext goes where the box will be, and is sealed in place. */
	if (disco_msg_encode(m, buf + DISCO_MIN_PACKET_LEN, cap - DISCO_MIN_PACKET_LEN) != n)
		return DISCO_ERR_INVALID_ARG;
	return disco_seal_shared(k, my_pub, nonce, buf + DISCO_MIN_PACKET_LEN, n, buf, cap);
}

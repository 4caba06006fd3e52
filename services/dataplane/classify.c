/* classify: what a UDP payload is, in the order of magicsock's
 * packetLooksLike (tailscale wgengine/magicsock/magicsock.go):
 *   1. STUN binding: top two bits 0, magic cookie at 4..8, method 0x001
 *   2. a Geneve header (RFC 8926) as Tailscale's peer relays send it:
 *      version 0, reserved bits of byte 1 and byte 7 zero; protocol disco
 *      (0x7A11) with a disco packet behind it, or WireGuard (0x7A12); a
 *      well-formed header with an unknown protocol falls through, and one
 *      that says disco without being disco is WireGuard
 *   3. disco: the magic "TS💬" and room for the sender's key (38 bytes);
 *      shorter than magic + key + nonce (62) is junk (handleDiscoMessage)
 *   4. everything else is WireGuard. */
#include "dp.h"

#include <string.h>

#include "be.h"
#include "disco/disco.h"
#include "stun/stun.h"

static bool looks_like_stun_binding(const uint8_t *p, size_t len)
{
	return len >= STUN_HEADER_BYTES && (p[0] & 0xc0) == 0 && p[1] == 0x01 &&
	       be_get32(p + 4) == STUN_MAGIC_COOKIE;
}

static bool looks_like_disco(const uint8_t *p, size_t len)
{
	return len >= DISCO_HEADER_LEN && memcmp(p, disco_magic, DISCO_MAGIC_LEN) == 0;
}

static void disco_or_junk(const uint8_t *p, size_t len, bool geneve, struct dp_classified *out)
{
	out->cls = len < DISCO_SEALED_HEADER_LEN ? DP_CLASS_DISCO_JUNK : DP_CLASS_DISCO;
	out->geneve = geneve;
	out->p = p;
	out->len = len;
}

void dp_classify(const uint8_t *p, size_t len, struct dp_classified *out)
{
	out->cls = DP_CLASS_WIREGUARD;
	out->geneve = false;
	out->p = p;
	out->len = len;
	if (looks_like_stun_binding(p, len)) {
		out->cls = DP_CLASS_STUN;
		return;
	}
	if (len >= DP_GENEVE_HEADER_LEN && (p[0] & 0xc0) == 0 && (p[1] & 0x3f) == 0 && p[7] == 0) {
		uint16_t proto = (uint16_t)(p[2] << 8 | p[3]);
		const uint8_t *in = p + DP_GENEVE_HEADER_LEN;
		size_t in_len = len - DP_GENEVE_HEADER_LEN;
		if (proto == DP_GENEVE_PROTO_DISCO) {
			if (looks_like_disco(in, in_len))
				disco_or_junk(in, in_len, true, out);
			return; /* not disco after all: naked WireGuard, as Tailscale */
		}
		if (proto == DP_GENEVE_PROTO_WIREGUARD) {
			out->geneve = true;
			out->p = in;
			out->len = in_len;
			return;
		}
	}
	if (looks_like_disco(p, len))
		disco_or_junk(p, len, false, out);
}

const char *dp_class_name(enum dp_class c)
{
	switch (c) {
	case DP_CLASS_WIREGUARD:
		return "wireguard";
	case DP_CLASS_STUN:
		return "stun";
	case DP_CLASS_DISCO:
		return "disco";
	case DP_CLASS_DISCO_JUNK:
		return "disco-junk";
	}
	return "?";
}

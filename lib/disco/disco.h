/* disco: Tailscale's discovery protocol on the wire (disco/disco.go; the
 * framing and its sizes from wgengine/magicsock/magicsock.go): the sealed
 * packet "TS💬" + sender disco key + nonce + NaCl box, and the nine message
 * types inside the box. See docs/disco.md for the tables and for where we
 * refuse more than Tailscale does.
 *
 * Pure codec: no I/O, no logging, no allocation. Parsed results that point
 * into the input (struct disco_packet, struct disco_endpoints) borrow it; the
 * caller keeps the input alive while using them. */
#ifndef MSOCK_DISCO_H
#define MSOCK_DISCO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "key.h"

/* Sizes of disco.go (Tailscale's names in the comments). Lengths are bytes. */
enum {
	DISCO_MAGIC_LEN = 6,	 /* len(Magic): "TS💬" */
	DISCO_KEY_LEN = 32,	 /* keyLen, key.DiscoPublicRawLen, key.NodePublicRawLen */
	DISCO_NONCE_LEN = 24,	 /* NonceLen */
	DISCO_BOX_OVERHEAD = 16, /* magicsock poly1305AuthenticatorSize (crypto_box_MACBYTES) */
	/* magicsock discoHeaderLen: magic + sender key, all its classifier
	 * (packetLooksLike) asks for before calling a packet disco. */
	DISCO_HEADER_LEN = DISCO_MAGIC_LEN + DISCO_KEY_LEN,
	/* What comes before the box: magic + sender key + nonce (disco.go's
	 * LooksLikeDiscoWrapper minimum). */
	DISCO_SEALED_HEADER_LEN = DISCO_HEADER_LEN + DISCO_NONCE_LEN,
	/* A packet shorter than this cannot hold a box, even of nothing. */
	DISCO_MIN_PACKET_LEN = DISCO_SEALED_HEADER_LEN + DISCO_BOX_OVERHEAD,
	/* The largest disco packet that can reach us: DERP's MaxPacketSize
	 * (derp/derp.go, 64 KiB); no UDP datagram is larger (65,527 bytes of
	 * payload at most). Tailscale's disco has no limit of its own. */
	DISCO_MAX_PACKET_LEN = 64 << 10,
	/* The largest plaintext such a packet carries (65,458). */
	DISCO_MAX_PLAINTEXT_LEN = DISCO_MAX_PACKET_LEN - DISCO_MIN_PACKET_LEN,

	DISCO_MSG_HEADER_LEN = 2,			 /* MessageHeaderLen: type + version */
	DISCO_TXID_LEN = 12,				 /* Ping.TxID, Pong.TxID */
	DISCO_PING_LEN = DISCO_TXID_LEN + DISCO_KEY_LEN, /* PingLen: TxID + node key */
	DISCO_EP_LEN = 16 + 2,				 /* epLength: 16-byte IP + BE port */
	DISCO_PONG_LEN = DISCO_TXID_LEN + DISCO_EP_LEN,	 /* pongLen */
	DISCO_CHALLENGE_LEN = 32,			 /* BindUDPRelayChallengeLen */
	/* bindUDPRelayEndpointCommonLen: VNI 4, generation 4, key, challenge */
	DISCO_BIND_LEN = 4 + 4 + DISCO_KEY_LEN + DISCO_CHALLENGE_LEN,
	/* allocateUDPRelayEndpointRequestLen: two client keys + generation 4 */
	DISCO_ALLOC_REQ_LEN = 2 * DISCO_KEY_LEN + 4,
	/* udpRelayEndpointLenMinusAddrPorts: server key, two client keys,
	 * LamportID 8, VNI 4, BindLifetime 8, SteadyStateLifetime 8 */
	DISCO_RELAY_EP_FIXED_LEN = 3 * DISCO_KEY_LEN + 8 + 4 + 8 + 8,
	/* msock ProbeMe, version 0: ports 2 (BE), then an endpoint */
	DISCO_PROBE_ME_LEN = 2 + DISCO_EP_LEN,

	/* The most endpoints a list may hold (3,636): what a CallMeMaybe of
	 * the largest plaintext carries. Tailscale caps neither what it sends
	 * (all its endpoints) nor what it parses, so this is the transport's
	 * cap, never below what a real peer can send. A CallMeMaybeVia or an
	 * AllocateUDPRelayEndpointResponse fits 7 fewer in a packet; the same
	 * cap applies to them. */
	DISCO_MAX_ENDPOINTS = (DISCO_MAX_PLAINTEXT_LEN - DISCO_MSG_HEADER_LEN) / DISCO_EP_LEN,
};

/* The 6 bytes of Magic: 54 53 f0 9f 92 ac. */
extern const uint8_t disco_magic[DISCO_MAGIC_LEN];

/* Message types: wire values and names of disco.go's MessageType constants. */
enum disco_type {
	DISCO_TYPE_PING = 0x01,
	DISCO_TYPE_PONG = 0x02,
	DISCO_TYPE_CALL_ME_MAYBE = 0x03,
	DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT = 0x04,
	DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT_CHALLENGE = 0x05,
	DISCO_TYPE_BIND_UDP_RELAY_ENDPOINT_ANSWER = 0x06,
	DISCO_TYPE_CALL_ME_MAYBE_VIA = 0x07,
	DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_REQUEST = 0x08,
	DISCO_TYPE_ALLOCATE_UDP_RELAY_ENDPOINT_RESPONSE = 0x09,
	/* msock's own (docs/disco.md, "Hard NATs"): "I sent from many ports
	 * behind a NAT whose mapping depends on the destination; probe random
	 * ports of this address". Far from Tailscale's numbers; a Tailscale
	 * peer drops it as an unknown type. */
	DISCO_TYPE_MSOCK_PROBE_ME = 0xf0,
};

/* What the functions return: 0, DISCO_UNKNOWN_TYPE, or a negative error.
 * Not errno values. */
enum disco_err {
	DISCO_OK = 0,
	/* Not an error: a message type we do not know, from a newer peer.
	 * Ignore the message (Tailscale drops it without logging). */
	DISCO_UNKNOWN_TYPE = 1,
	DISCO_ERR_SHORT = -1,		   /* shorter than its type or the framing needs */
	DISCO_ERR_BAD_MAGIC = -2,	   /* does not start with "TS💬" */
	DISCO_ERR_TOO_LONG = -3,	   /* longer than DISCO_MAX_PACKET/PLAINTEXT_LEN */
	DISCO_ERR_ZERO_KEY = -4,	   /* an all-zero disco key */
	DISCO_ERR_BOX = -5,		   /* the box does not open: wrong key or tampered */
	DISCO_ERR_BAD_LENGTH = -6,	   /* CallMeMaybe not whole endpoints; ProbeMe of 0 ports */
	DISCO_ERR_TOO_MANY_ENDPOINTS = -7, /* more than DISCO_MAX_ENDPOINTS */
	DISCO_ERR_BUF_TOO_SMALL = -8,	   /* the output does not fit in cap */
	DISCO_ERR_CRYPTO = -9,		   /* a low-order public key: no shared key */
	DISCO_ERR_INVALID_ARG = -10,	   /* an argument the encoder cannot send */
};

/* A static description of an enum disco_err ("disco: ..."). */
const char *disco_strerror(int err);
/* A static name of a message type for logs, as Tailscale's MessageSummary
 * ("ping", "call-me-maybe-via", ...; "unknown" otherwise). */
const char *disco_type_name(uint8_t type);

/* ---- The sealed packet ---- */

/* Whether p looks like a disco packet, exactly as magicsock's classifier
 * (packetLooksLike): the magic and room for the sender key (38 bytes).
 * Such a packet is disco's, never WireGuard's, even if it later fails to
 * parse or open. */
bool disco_looks_like(const uint8_t *p, size_t len);

/* The parts of a sealed packet; nonce and box are borrowed from the input. */
struct disco_packet {
	struct key32 sender;  /* the sender's disco public key */
	const uint8_t *nonce; /* DISCO_NONCE_LEN bytes */
	const uint8_t *box;   /* DISCO_BOX_OVERHEAD bytes of MAC, then ciphertext */
	size_t box_len;	      /* >= DISCO_BOX_OVERHEAD */
};

/* Splits a packet: DISCO_MIN_PACKET_LEN .. DISCO_MAX_PACKET_LEN bytes, the
 * magic, a sender key that is not all zero (Tailscale's DiscoPrivate.Shared
 * panics on a zero key, which once let a peer crash tailscaled remotely),
 * the nonce, the box. Returns 0, DISCO_ERR_SHORT, DISCO_ERR_TOO_LONG,
 * DISCO_ERR_BAD_MAGIC or DISCO_ERR_ZERO_KEY (then *out is untouched). */
int disco_packet_parse(const uint8_t *p, size_t len, struct disco_packet *out);

/* A precomputed NaCl box key for one (our private, peer public) pair,
 * crypto_box_beforenm: disco caches one per peer, as magicsock's
 * discoInfo.sharedKey. Secret: wipe it with disco_shared_wipe. */
struct disco_shared {
	uint8_t k[32]; /* crypto_box_BEFORENMBYTES */
};

/* Returns 0, DISCO_ERR_ZERO_KEY (either key all zero, where Tailscale's
 * Shared panics) or DISCO_ERR_CRYPTO (a low-order peer key); on error *out
 * is zeroed. */
int disco_shared_init(const struct key32 *my_priv, const struct key32 *peer_pub,
		      struct disco_shared *out);
void disco_shared_wipe(struct disco_shared *k);

/* Seals plain (at most DISCO_MAX_PLAINTEXT_LEN bytes) into buf as a packet
 * from my_pub: magic, my_pub, nonce, box. nonce: DISCO_NONCE_LEN bytes, or
 * NULL for a random one (randombytes_buf); only tests pass one, since a
 * nonce must never repeat under one key. Returns the packet length
 * (plain_len + DISCO_MIN_PACKET_LEN), or DISCO_ERR_TOO_LONG,
 * DISCO_ERR_BUF_TOO_SMALL, DISCO_ERR_ZERO_KEY (my_pub or peer_pub) or
 * DISCO_ERR_CRYPTO. */
int disco_seal(const struct key32 *my_priv, const struct key32 *my_pub,
	       const struct key32 *peer_pub, const uint8_t *nonce, const uint8_t *plain,
	       size_t plain_len, uint8_t *buf, size_t cap);
/* The same with a precomputed key (crypto_box_easy_afternm). */
int disco_seal_shared(const struct disco_shared *k, const struct key32 *my_pub,
		      const uint8_t *nonce, const uint8_t *plain, size_t plain_len, uint8_t *buf,
		      size_t cap);

/* Opens a parsed packet addressed to my_priv from pkt->sender into plain
 * (cap >= pkt->box_len - DISCO_BOX_OVERHEAD). Returns the plaintext length,
 * or DISCO_ERR_BOX (wrong key, tampered, or a low-order sender key),
 * DISCO_ERR_ZERO_KEY or DISCO_ERR_BUF_TOO_SMALL (DISCO_ERR_SHORT,
 * DISCO_ERR_TOO_LONG or DISCO_ERR_INVALID_ARG for a hand-made pkt).
 * X25519 ignores bit 255 of a public key, so a sender key differing from a
 * peer's only there opens that peer's boxes: look senders up by their
 * exact bytes (as magicsock does) before opening. */
int disco_open(const struct key32 *my_priv, const struct disco_packet *pkt, uint8_t *plain,
	       size_t cap);
/* The same with a precomputed key. pkt->sender is not looked at: the
 * caller picked k by it. */
int disco_open_shared(const struct disco_shared *k, const struct disco_packet *pkt, uint8_t *plain,
		      size_t cap);

/* ---- The messages inside the box: [type:1][version:1][payload] ---- */

/* A list of endpoints in wire form, borrowed: n * DISCO_EP_LEN bytes, each
 * a 16-byte IP (IPv4 v4-mapped, as Go's As16) and a big-endian port. Read
 * one with disco_endpoints_get; build one with disco_endpoints_put. */
struct disco_endpoints {
	const uint8_t *wire; /* NULL when n == 0 */
	size_t n;
};

/* Endpoint i of e; a v4-mapped address comes back as IPv4 (Go's Unmap).
 * Returns false if i >= e->n. */
bool disco_endpoints_get(const struct disco_endpoints *e, size_t i, struct ipport *out);
/* Writes the wire form of addrs[0..n) (each AF_INET or AF_INET6) into wire
 * and points *out at it. Returns the bytes written (n * DISCO_EP_LEN), or 0
 * with *out empty if n > DISCO_MAX_ENDPOINTS, cap is too small or an
 * address has another family (n == 0 writes nothing and returns 0, with
 * *out empty: an empty list). */
size_t disco_endpoints_put(const struct ipport *addrs, size_t n, uint8_t *wire, size_t cap,
			   struct disco_endpoints *out);

/* BindUDPRelayEndpointCommon: the body of the three bind messages. */
struct disco_bind {
	uint32_t vni;		 /* the Geneve VNI, which must match the sealed one */
	uint32_t generation;	 /* a new non-zero value per handshake */
	struct key32 remote_key; /* disco key of the peer at the other end */
	uint8_t challenge[DISCO_CHALLENGE_LEN]; /* set by the server; padding in 0x04 */
};

/* UDPRelayEndpoint (net/udprelay/endpoint.ServerEndpoint on the wire). */
struct disco_relay_endpoint {
	struct key32 server_disco;
	struct key32 client_disco[2];
	uint64_t lamport_id;
	uint32_t vni;
	/* Go time.Duration values in nanoseconds, as their 64 bits go on the
	 * wire; above INT64_MAX they are negative durations in Go. */
	uint64_t bind_lifetime_ns;
	uint64_t steady_state_lifetime_ns;
	struct disco_endpoints addrs; /* at least one when parsed at version 0 */
};

/* A parsed message, or one to encode. Zero-initialise it, set type (and
 * the fields of its member); version 0 is what Tailscale sends. */
struct disco_msg {
	uint8_t type;	 /* enum disco_type */
	uint8_t version; /* the header's version byte, kept as read */
	union {
		struct {
			uint8_t txid[DISCO_TXID_LEN];
			/* 32 bytes followed the TxID: the key. Old
			 * clients (Tailscale <= 1.16) send none; Go's
			 * marshal omits a zero key, so a zero key here
			 * means "no key" too. */
			bool has_node_key;
			struct key32 node_key; /* the sender's alleged node key */
			size_t padding;	       /* bytes after the key (zeros when we send) */
		} ping;
		struct {
			uint8_t txid[DISCO_TXID_LEN];
			struct ipport src; /* the ping's source as the ponger saw it */
		} pong;
		struct {
			struct disco_endpoints my_number;
		} call_me_maybe;
		struct disco_bind bind; /* the three DISCO_TYPE_BIND_* types */
		struct disco_relay_endpoint call_me_maybe_via;
		struct {
			struct key32 client_disco[2];
			uint32_t generation;
		} alloc_req;
		struct {
			uint32_t generation;
			struct disco_relay_endpoint ep;
		} alloc_resp;
		struct {
			/* How many ports the sender sent from (>= 1). */
			uint16_t ports;
			/* The sender's public address (a STUN answer): its IP
			 * is the one to probe; the port says nothing. */
			struct ipport addr;
		} probe_me;
	} u;
};

/* Parses a plaintext (what disco_open gives) as disco.go's Parse does:
 *   Ping            >= 12: TxID; the node key if 32 more bytes follow; the
 *                   rest is padding (its bytes are not looked at)
 *   Pong            >= 30: TxID, 16-byte IP, port; extra ignored
 *   CallMeMaybe     a whole number of endpoints (0 is fine); otherwise
 *                   DISCO_ERR_BAD_LENGTH where Tailscale parses it as a
 *                   CallMeMaybe without endpoints (see docs/disco.md)
 *   Bind*           >= 72; extra ignored
 *   CallMeMaybeVia  124 + 18n bytes, n >= 1, nothing extra
 *   AllocateReq     >= 68; extra ignored
 *   AllocateResp    4 + 124 + 18n bytes, n >= 1, nothing extra
 * Versions: Ping, Pong and Bind* ignore the version. CallMeMaybe,
 * CallMeMaybeVia, AllocateReq and AllocateResp at a version other than 0
 * parse, as in Tailscale, as an empty message: no endpoints, every field
 * zero (the payload is not looked at). A Ping over DISCO_MAX_PLAINTEXT_LEN
 * is DISCO_ERR_TOO_LONG (no packet carries it back); a list over
 * DISCO_MAX_ENDPOINTS is DISCO_ERR_TOO_MANY_ENDPOINTS. Endpoint lists point
 * into p. Returns 0; DISCO_UNKNOWN_TYPE with only out->type and
 * out->version set; or a negative error (then *out is untouched). */
int disco_msg_parse(const uint8_t *p, size_t len, struct disco_msg *out);

/* Writes m as a plaintext: byte for byte Tailscale's AppendMarshal for the
 * same message, except that the version byte is m->version (0 unless set)
 * and a Ping's key goes out when has_node_key is set (Go: when non-zero).
 * Returns its length, or 0 if cap is too small, m->type is unknown, a
 * list is over DISCO_MAX_ENDPOINTS or has n but no bytes, a Ping is over
 * DISCO_MAX_PLAINTEXT_LEN, the Pong address has no family, a relay
 * endpoint has no address (Go's parser refuses it), or a CallMeMaybe,
 * CallMeMaybeVia or Allocate* message has a version other than 0 (we
 * cannot know that version's format). */
size_t disco_msg_encode(const struct disco_msg *m, uint8_t *buf, size_t cap);
/* The length disco_msg_encode would write for m, or 0 if m cannot be sent. */
size_t disco_msg_encoded_len(const struct disco_msg *m);

/* Encodes m and seals it with k into buf in one step (no second buffer).
 * nonce as for disco_seal. Returns the packet length or a negative error:
 * DISCO_ERR_INVALID_ARG if m cannot be sent, DISCO_ERR_TOO_LONG if its
 * plaintext is over DISCO_MAX_PLAINTEXT_LEN, DISCO_ERR_BUF_TOO_SMALL, or
 * those of disco_seal_shared. */
int disco_msg_seal(const struct disco_shared *k, const struct key32 *my_pub, const uint8_t *nonce,
		   const struct disco_msg *m, uint8_t *buf, size_t cap);

/* ---- Checks before acting on a message ---- */

/* 0 if every disco key m carries is non-zero, else DISCO_ERR_ZERO_KEY:
 * Bind* remote_key; CallMeMaybeVia and AllocateResp server_disco and
 * client_disco; AllocateReq client_disco. Tailscale derives shared keys
 * from these (and panicked on zero ones: tailscale/tailscale#21273); the
 * empty messages of unknown versions fail here too. A Ping's zero node key
 * is "no key", not an error. */
int disco_msg_check_keys(const struct disco_msg *m);

/* Whether an endpoint a peer sent (CallMeMaybe, a relay's address list) is
 * one we may send pings to: false for loopback (127/8, ::1), multicast
 * (224/4, ff00::/8), unspecified (0/8, ::), link-local (169.254/16,
 * fe80::/10), 255.255.255.255, port 0, or no family. Every other range is
 * usable, private and reserved ones included (198.18.0.0/15 is our lab's
 * internet). */
bool disco_endpoint_usable(const struct ipport *a);

#endif

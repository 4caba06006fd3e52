/* derp_frame: the DERP protocol's frames (version 2), as Tailscale's
 * derp/derp.go defines them and derp/derp_client.go and
 * derp/derpserver/derpserver.go read them: a 5-byte header (type, big-endian
 * uint32 payload length) and a payload per type. Pure codec: no I/O, no
 * allocation. The login's boxed JSON is in derp_handshake.h. */
#ifndef MSOCK_DERP_FRAME_H
#define MSOCK_DERP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Constants of derp/derp.go (Tailscale's names). Lengths are bytes. */
enum {
	DERP_MAGIC_LEN = 8,		       /* len(Magic): "DERP🔑" */
	DERP_KEY_LEN = 32,		       /* KeyLen */
	DERP_NONCE_LEN = 24,		       /* NonceLen */
	DERP_FRAME_HEADER_LEN = 5,	       /* FrameHeaderLen: type byte + BE uint32 length */
	DERP_MAX_PACKET_SIZE = 64 << 10,       /* MaxPacketSize: packet bytes, framing excluded */
	DERP_MAX_INFO_LEN = 1 << 20,	       /* MaxInfoLen: a ServerInfo box */
	DERP_PROTOCOL_VERSION = 2,	       /* ProtocolVersion: v2 puts src keys in RecvPacket */
	DERP_KEEPALIVE_MS = 60 * 1000,	       /* KeepAlive: the server's minimum keep-alive rate */
	DERP_PING_LEN = 8,		       /* PingMessage / PongMessage: [8]byte */
	DERP_PEER_PRESENT_IP_LEN = 16,	       /* FramePeerPresent: 16-byte IP (v4 is v4-mapped) */
	DERP_RESTARTING_LEN = 8,	       /* FrameRestarting: two BE uint32 milliseconds */
	DERP_PEER_GONE_LEN = DERP_KEY_LEN + 1, /* derpserver.go peerGoneFrameLen: key + reason */
	/* derpserver.go peerPresentFrameLen: key + IP + port + flags */
	DERP_PEER_PRESENT_LEN = DERP_KEY_LEN + DERP_PEER_PRESENT_IP_LEN + 2 + 1,
	DERP_SERVER_KEY_LEN = DERP_MAGIC_LEN + DERP_KEY_LEN, /* FrameServerKey: magic + key */
};

/* The 8 bytes of Magic: 44 45 52 50 f0 9f 94 91. */
extern const uint8_t derp_magic[DERP_MAGIC_LEN];

/* Limits Tailscale enforces with literals rather than named constants.
 * Each is a payload length in bytes (the 5-byte header excluded). */
enum {
	/* derpserver.go handleFramePing: "ping body too large" past 1000. */
	DERP_PING_MAX_BYTES = 1000,
	/* derpserver.go recvClientKey: "long client info" past 256<<10. */
	DERP_CLIENT_INFO_MAX_BYTES = 256 << 10,
	/* derp_client.go recvServerKey: readFrame(c.br, 1<<10, ...). */
	DERP_SERVER_KEY_MAX_BYTES = 1 << 10,
	/* derp_client.go recvTimeout: "unexpectedly large frame" past 1<<20,
	 * for every frame type, known or not. */
	DERP_CLIENT_MAX_FRAME_BYTES = 1 << 20,
};

/* derp_frame_max_len's "no limit": the server skips frames of this type
 * (Tailscale's handleUnknownFrame), so a reader discards the payload as it
 * streams by and never buffers it. */
#define DERP_FRAME_LEN_UNLIMITED UINT32_MAX

/* Frame types: wire values and names of derp.go's FrameType constants. */
enum derp_frame_type {
	DERP_FRAME_SERVER_KEY = 0x01, /* 8B magic + 32B server public key + (0+ bytes future use) */
	DERP_FRAME_CLIENT_INFO = 0x02,	  /* 32B client public key + 24B nonce + box(JSON) */
	DERP_FRAME_SERVER_INFO = 0x03,	  /* 24B nonce + box(JSON) */
	DERP_FRAME_SEND_PACKET = 0x04,	  /* 32B dst public key + packet */
	DERP_FRAME_RECV_PACKET = 0x05,	  /* v2: 32B src public key + packet */
	DERP_FRAME_KEEP_ALIVE = 0x06,	  /* no payload */
	DERP_FRAME_NOTE_PREFERRED = 0x07, /* 1 byte: 0x01 if this is the client's home node */
	DERP_FRAME_PEER_GONE = 0x08,	  /* 32B peer public key + 1 byte reason */
	DERP_FRAME_PEER_PRESENT = 0x09,	  /* 32B key [+ 16B IP + 2B BE port [+ 1B flags]] */
	DERP_FRAME_FORWARD_PACKET = 0x0a, /* 32B src key + 32B dst key + packet */
	DERP_FRAME_WATCH_CONNS = 0x10,	  /* no payload; mesh peers only */
	DERP_FRAME_CLOSE_PEER = 0x11,	  /* 32B public key of the peer to close; mesh only */
	DERP_FRAME_PING = 0x12,		  /* 8 bytes, echoed back in a Pong */
	DERP_FRAME_PONG = 0x13,		  /* 8 bytes of the Ping being answered */
	DERP_FRAME_HEALTH = 0x14,	  /* text of a problem; empty clears it */
	DERP_FRAME_RESTARTING = 0x15,	  /* BE uint32 reconnect-in ms + BE uint32 try-for ms */
};

/* PeerGoneReasonType (wire values). */
enum derp_peer_gone_reason {
	DERP_PEER_GONE_DISCONNECTED = 0x00, /* the peer disconnected from this server */
	DERP_PEER_GONE_NOT_HERE = 0x01,	    /* the server does not know this peer */
	/* Invented by Tailscale's RunWatchConnectionLoop; never on the wire. */
	DERP_PEER_GONE_MESH_CONN_BROKE = 0xf0,
};

/* PeerPresentFlags bits. A modern server sends a non-zero byte. */
enum {
	DERP_PEER_PRESENT_IS_REGULAR = 1 << 0,
	DERP_PEER_PRESENT_IS_MESH_PEER = 1 << 1,
	DERP_PEER_PRESENT_IS_PROBER = 1 << 2,
	DERP_PEER_PRESENT_NOT_IDEAL = 1 << 3, /* the client's ideal node is another one */
};

/* Which end reads the frames: the limits differ (derp_frame_max_len). */
enum derp_side {
	DERP_SIDE_INVALID = 0,
	DERP_SIDE_CLIENT, /* a client reading what a server sends */
	DERP_SIDE_SERVER, /* a server reading what a client sends */
};

/* Errors of lib/derp (frames and login): distinct negative values. */
enum derp_err {
	DERP_OK = 0,
	DERP_ERR_SHORT_HEADER = -1, /* fewer than 5 bytes of header */
	DERP_ERR_SHORT = -2,	    /* payload shorter than its type needs */
	DERP_ERR_TOO_LONG = -3,	    /* payload longer than its type allows */
	DERP_ERR_UNKNOWN_TYPE = -4, /* not a frame type we know: skip it */
	DERP_ERR_BAD_MAGIC = -5,    /* ServerKey without "DERP🔑" */
	DERP_ERR_ZERO_KEY = -6,	    /* an all-zero public key where a peer is named */
	DERP_ERR_BOX = -7,	    /* the NaCl box does not open */
	DERP_ERR_JSON = -8,	    /* the boxed message is not JSON */
	DERP_ERR_JSON_DEPTH = -9,   /* JSON nested deeper than DERP_INFO_JSON_MAX_DEPTH */
	DERP_ERR_JSON_TYPE = -10,   /* JSON of the wrong type (not an object, bad field) */
	DERP_ERR_MESH_KEY = -11,    /* a mesh key that is not 64 hex digits */
	DERP_ERR_INVALID_ARG = -12, /* an argument the encoder cannot send */
	DERP_ERR_BUF_TOO_SMALL = -13,
	DERP_ERR_NOMEM = -14,
	DERP_ERR_CRYPTO = -15, /* sealing failed (a low-order public key) */
};

/* A static description of a derp_err (or "unknown error"). */
const char *derp_strerror(int err);

struct derp_frame_header {
	uint8_t type;
	uint32_t len; /* payload bytes that follow the header */
};

/* Reads a header from the first 5 bytes of p. Returns 0 or
 * DERP_ERR_SHORT_HEADER. The type is not checked: see derp_frame_parse. */
int derp_frame_header_parse(const uint8_t *p, size_t len, struct derp_frame_header *out);
/* Writes a 5-byte header; returns 5, or 0 if cap < 5. */
size_t derp_frame_header_encode(uint8_t type, uint32_t len, uint8_t *buf, size_t cap);

/* The largest payload `side` accepts for a frame of `type`, so a reader can
 * refuse an oversized frame from its header before buffering the payload.
 * Client side: DERP_SERVER_KEY_MAX_BYTES for ServerKey, else
 * DERP_CLIENT_MAX_FRAME_BYTES for every type, unknown ones included (the
 * client reads every frame before switching on its type). Server side: the
 * limits of derpserver.go for the types it reads (ClientInfo at login,
 * NotePreferred, SendPacket, ForwardPacket, WatchConns, ClosePeer, Ping),
 * and DERP_FRAME_LEN_UNLIMITED for every other type: skip those. 0 for an
 * invalid side. */
uint32_t derp_frame_max_len(uint8_t type, enum derp_side side);
/* 0 if h->len <= derp_frame_max_len(h->type, side), else DERP_ERR_TOO_LONG. */
int derp_frame_header_check(const struct derp_frame_header *h, enum derp_side side);

/* A parsed frame. Pointers point into the payload given to
 * derp_frame_parse and live as long as it does; keys are copied. */
struct derp_frame {
	uint8_t type; /* enum derp_frame_type */
	union {
		struct {
			uint8_t key[DERP_KEY_LEN];
		} server_key; /* bytes after the key (future use) are ignored */
		struct {
			uint8_t client_pub[DERP_KEY_LEN];
			const uint8_t *nonce; /* DERP_NONCE_LEN bytes */
			const uint8_t *box;
			size_t box_len;
		} client_info; /* open with derp_client_info_open */
		struct {
			const uint8_t *nonce; /* DERP_NONCE_LEN bytes */
			const uint8_t *box;
			size_t box_len;
		} server_info; /* open with derp_server_info_open */
		struct {
			uint8_t dst[DERP_KEY_LEN];
			const uint8_t *pkt;
			size_t len;
		} send_packet;
		struct {
			uint8_t src[DERP_KEY_LEN];
			const uint8_t *pkt;
			size_t len;
		} recv_packet;
		struct {
			uint8_t src[DERP_KEY_LEN];
			uint8_t dst[DERP_KEY_LEN];
			const uint8_t *pkt;
			size_t len;
		} forward_packet;
		bool note_preferred; /* the byte was non-zero */
		struct {
			uint8_t peer[DERP_KEY_LEN];
			uint8_t reason; /* DERP_PEER_GONE_DISCONNECTED if absent */
		} peer_gone;
		struct {
			uint8_t peer[DERP_KEY_LEN];
			bool has_ip_port; /* older servers send the key only */
			uint8_t ip[DERP_PEER_PRESENT_IP_LEN];
			uint16_t port;
			bool has_flags; /* older servers send no flags byte */
			uint8_t flags;	/* DERP_PEER_PRESENT_* bits */
		} peer_present;
		struct {
			uint8_t peer[DERP_KEY_LEN];
		} close_peer;
		uint8_t ping[DERP_PING_LEN];
		uint8_t pong[DERP_PING_LEN];
		struct {
			const char *text; /* not NUL-terminated; may be empty */
			size_t len;
		} health;
		struct {
			uint32_t reconnect_in_ms;
			uint32_t try_for_ms;
		} restarting;
	} u; /* KeepAlive and WatchConns have no fields */
};

/* Parses the payload of a frame of `type` with the length rules of the
 * side that reads that type in Tailscale (derp_client.go Recv for
 * server-to-client frames, derpserver.go for client-to-server ones):
 *   ServerKey      >= 40, magic checked, extra ignored
 *   ClientInfo     56 .. DERP_CLIENT_INFO_MAX_BYTES (box not opened here)
 *   ServerInfo     24 .. 24 + DERP_MAX_INFO_LEN (box not opened here)
 *   SendPacket     32 .. 32 + DERP_MAX_PACKET_SIZE
 *   ForwardPacket  64 .. 64 + DERP_MAX_PACKET_SIZE
 *   RecvPacket     >= 32 (the client sets no upper bound of its own)
 *   KeepAlive      any; the payload is ignored
 *   NotePreferred  exactly 1;  WatchConns exactly 0;  ClosePeer exactly 32
 *   PeerGone       >= 32; the reason byte if present, extra ignored
 *   PeerPresent    >= 32; IP and port if >= 50; flags if >= 51; extra ignored
 *   Ping, Pong     >= 8; extra ignored (a server also caps Ping at 1000
 *                  through derp_frame_max_len)
 *   Health         any
 *   Restarting     >= 8; extra ignored
 * Returns 0, DERP_ERR_UNKNOWN_TYPE (skip the frame: not an error of the
 * peer), DERP_ERR_SHORT, DERP_ERR_TOO_LONG or DERP_ERR_BAD_MAGIC. Tailscale's
 * client drops a short PeerGone, PeerPresent, RecvPacket, Ping, Pong or
 * Restarting and reads on; every other failure ends the connection. */
int derp_frame_parse(uint8_t type, const uint8_t *payload, size_t len, struct derp_frame *out);

/* Writes the canonical frame (header + payload) for f: what Tailscale's
 * writer sends (ServerKey without extra bytes, PeerGone with its reason,
 * PeerPresent with IP, port and flags, 8-byte Ping/Pong/Restarting, empty
 * KeepAlive). Returns its length, or 0 if cap is too small or f cannot be
 * sent (see the encoders below). */
size_t derp_frame_encode(const struct derp_frame *f, uint8_t *buf, size_t cap);

/* Encoders: each writes header + payload into buf and returns the length,
 * or 0 if cap is too small or an argument is invalid. */
size_t derp_encode_server_key(const uint8_t server_pub[DERP_KEY_LEN], uint8_t *buf, size_t cap);
/* pkt_len <= DERP_MAX_PACKET_SIZE (send, recv and forward alike). */
size_t derp_encode_send_packet(const uint8_t dst[DERP_KEY_LEN], const uint8_t *pkt, size_t pkt_len,
			       uint8_t *buf, size_t cap);
size_t derp_encode_recv_packet(const uint8_t src[DERP_KEY_LEN], const uint8_t *pkt, size_t pkt_len,
			       uint8_t *buf, size_t cap);
size_t derp_encode_forward_packet(const uint8_t src[DERP_KEY_LEN], const uint8_t dst[DERP_KEY_LEN],
				  const uint8_t *pkt, size_t pkt_len, uint8_t *buf, size_t cap);
size_t derp_encode_keepalive(uint8_t *buf, size_t cap);
size_t derp_encode_note_preferred(bool preferred, uint8_t *buf, size_t cap);
/* reason: DERP_PEER_GONE_DISCONNECTED or DERP_PEER_GONE_NOT_HERE. */
size_t derp_encode_peer_gone(const uint8_t peer[DERP_KEY_LEN], uint8_t reason, uint8_t *buf,
			     size_t cap);
/* ip: 16 bytes, an IPv4 address v4-mapped (::ffff:a.b.c.d), as Go's As16. */
size_t derp_encode_peer_present(const uint8_t peer[DERP_KEY_LEN],
				const uint8_t ip[DERP_PEER_PRESENT_IP_LEN], uint16_t port,
				uint8_t flags, uint8_t *buf, size_t cap);
size_t derp_encode_watch_conns(uint8_t *buf, size_t cap);
size_t derp_encode_close_peer(const uint8_t peer[DERP_KEY_LEN], uint8_t *buf, size_t cap);
size_t derp_encode_ping(const uint8_t data[DERP_PING_LEN], uint8_t *buf, size_t cap);
size_t derp_encode_pong(const uint8_t data[DERP_PING_LEN], uint8_t *buf, size_t cap);
/* text: NUL-terminated, at most DERP_CLIENT_MAX_FRAME_BYTES (a client
 * refuses a longer frame); "" clears the client's health problem. */
size_t derp_encode_health(const char *text, uint8_t *buf, size_t cap);
size_t derp_encode_restarting(uint32_t reconnect_in_ms, uint32_t try_for_ms, uint8_t *buf,
			      size_t cap);

#endif
